//! `drey catalog ...` and `drey catalog database ...`: CMF's Kafka catalogs
//! (`/cmf/api/v1/catalogs/kafka`) and their databases
//! (`.../catalogs/kafka/{catalog}/databases`).

use super::client::{Api, CliError};
use super::output::{print_list, print_one, Column};
use super::{read_input, run, Global};
use clap::Subcommand;
use serde_json::Value;
use std::process::ExitCode;

const CATALOGS: &str = "/cmf/api/v1/catalogs/kafka";

/// `drey catalog ...`.
#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// List Kafka catalogs.  Example: drey catalog list
    List,
    /// Show one catalog.  Example: drey catalog get kafka-cat -o yaml
    Get {
        /// Catalog name.
        name: String,
    },
    /// Create a catalog from a KafkaCatalog document (JSON or YAML; `-` reads stdin).
    ///
    /// Example: drey catalog create -f kafka-cat.yaml
    Create {
        /// The file.
        #[arg(short = 'f', long = "filename")]
        file: String,
    },
    /// Replace a catalog's spec with a KafkaCatalog document's.
    ///
    /// Example: drey catalog update -f kafka-cat.yaml
    Update {
        /// The file.
        #[arg(short = 'f', long = "filename")]
        file: String,
    },
    /// Delete a catalog.  Example: drey catalog delete kafka-cat
    Delete {
        /// Catalog name.
        name: String,
    },
    /// The databases of a Kafka catalog.
    #[command(subcommand)]
    Database(DatabaseCommand),
}

/// `drey catalog database ...`.
#[derive(Subcommand, Debug)]
pub enum DatabaseCommand {
    /// List a catalog's databases.  Example: drey catalog database list --catalog kafka-cat
    List {
        /// Catalog name.
        #[arg(long, short = 'c')]
        catalog: String,
    },
    /// Show one database.  Example: drey catalog database get dev-db --catalog kafka-cat
    Get {
        /// Database name.
        name: String,
        /// Catalog name.
        #[arg(long, short = 'c')]
        catalog: String,
    },
    /// Create a database from a KafkaDatabase document (JSON or YAML; `-` reads stdin).
    ///
    /// Example: drey catalog database create -f dev-db.yaml --catalog kafka-cat
    Create {
        /// The file.
        #[arg(short = 'f', long = "filename")]
        file: String,
        /// Catalog name.
        #[arg(long, short = 'c')]
        catalog: String,
    },
    /// Replace a database's spec with a KafkaDatabase document's.
    ///
    /// Example: drey catalog database update -f dev-db.yaml --catalog kafka-cat
    Update {
        /// The file.
        #[arg(short = 'f', long = "filename")]
        file: String,
        /// Catalog name.
        #[arg(long, short = 'c')]
        catalog: String,
    },
    /// Delete a database.  Example: drey catalog database delete dev-db --catalog kafka-cat
    Delete {
        /// Database name.
        name: String,
        /// Catalog name.
        #[arg(long, short = 'c')]
        catalog: String,
    },
}

const CATALOG_COLUMNS: &[Column] = &[
    ("NAME", "/metadata/name"),
    (
        "SCHEMA REGISTRY",
        "/spec/srInstance/connectionConfig/schema.registry.url",
    ),
    ("ENVIRONMENTS", "/status/environmentsWithAccess"),
    ("CREATED", "/metadata/creationTimestamp"),
];

const DATABASE_COLUMNS: &[Column] = &[
    ("NAME", "/metadata/name"),
    (
        "BOOTSTRAP SERVERS",
        "/spec/kafkaCluster/connectionConfig/bootstrap.servers",
    ),
    ("DDL ENVIRONMENTS", "/spec/ddlEnvironments"),
    ("CREATED", "/metadata/creationTimestamp"),
];

/// The one document of a file, and its `metadata.name`.
fn document(file: &str) -> Result<(Value, String), CliError> {
    let text = read_input(file)?;
    let doc: Value =
        serde_yaml_ng::from_str(&text).map_err(|e| CliError::Usage(format!("{file}: {e}")))?;
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Usage(format!("{file}: the document needs metadata.name")))?
        .to_owned();
    Ok((doc, name))
}

fn create_or_update(
    global: &Global,
    api: &Api,
    collection: &str,
    file: &str,
    update: bool,
    columns: &[Column],
) -> Result<(), CliError> {
    let (doc, name) = document(file)?;
    let written = if update {
        api.put(&format!("{collection}/{name}"), &doc)?
    } else {
        api.post(collection, &doc)?
    };
    print_one(global.output, &written, columns)
}

/// Runs `drey catalog ...`.
pub fn catalog(global: &Global, command: CatalogCommand) -> ExitCode {
    run(global, |api| match command {
        CatalogCommand::List => print_list(
            global.output,
            &api.get(&format!("{CATALOGS}?size=1000"))?,
            CATALOG_COLUMNS,
        ),
        CatalogCommand::Get { name } => print_one(
            global.output,
            &api.get(&format!("{CATALOGS}/{name}"))?,
            CATALOG_COLUMNS,
        ),
        CatalogCommand::Create { file } => {
            create_or_update(global, api, CATALOGS, &file, false, CATALOG_COLUMNS)
        }
        CatalogCommand::Update { file } => {
            create_or_update(global, api, CATALOGS, &file, true, CATALOG_COLUMNS)
        }
        CatalogCommand::Delete { name } => {
            api.delete(&format!("{CATALOGS}/{name}"))?;
            eprintln!("catalog {name} deleted");
            Ok(())
        }
        CatalogCommand::Database(command) => database(global, api, command),
    })
}

fn database(global: &Global, api: &Api, command: DatabaseCommand) -> Result<(), CliError> {
    let databases = |catalog: &str| format!("{CATALOGS}/{catalog}/databases");
    match command {
        DatabaseCommand::List { catalog } => print_list(
            global.output,
            &api.get(&format!("{}?size=1000", databases(&catalog)))?,
            DATABASE_COLUMNS,
        ),
        DatabaseCommand::Get { name, catalog } => print_one(
            global.output,
            &api.get(&format!("{}/{name}", databases(&catalog)))?,
            DATABASE_COLUMNS,
        ),
        DatabaseCommand::Create { file, catalog } => create_or_update(
            global,
            api,
            &databases(&catalog),
            &file,
            false,
            DATABASE_COLUMNS,
        ),
        DatabaseCommand::Update { file, catalog } => create_or_update(
            global,
            api,
            &databases(&catalog),
            &file,
            true,
            DATABASE_COLUMNS,
        ),
        DatabaseCommand::Delete { name, catalog } => {
            api.delete(&format!("{}/{name}", databases(&catalog)))?;
            eprintln!("database {name} of catalog {catalog} deleted");
            Ok(())
        }
    }
}
