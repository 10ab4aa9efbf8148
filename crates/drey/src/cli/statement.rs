//! `drey statement ...` and `drey pool ...`: reading and deleting as for the
//! other kinds, plus what only they have: stopping, resuming and rescaling a
//! statement (a PUT of its spec, as CMF updates statements) and forwarding
//! their Flink Web UI.

use super::client::{Api, CliError};
use super::output::print_one;
use super::web_ui_forward::{forward, ForwardArgs, Target};
use super::{objects, run, Global, ObjectCommand, ObjectKind};
use clap::Subcommand;
use serde_json::{json, Value};
use std::process::ExitCode;

/// `drey statement ...`.
#[derive(Subcommand, Debug)]
pub enum StatementCommand {
    #[command(flatten)]
    Object(ObjectCommand),
    /// Stop a statement's job with a savepoint (spec.stopped = true); a query is cancelled.
    ///
    /// Example: drey statement stop orders-insert -e prod
    Stop {
        /// Statement name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Resume a stopped statement from its savepoint (spec.stopped = false).
    ///
    /// Example: drey statement resume orders-insert -e prod
    Resume {
        /// Statement name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Run a statement's job at another parallelism (through a savepoint).
    ///
    /// Example: drey statement rescale orders-insert -e prod --parallelism 4
    Rescale {
        /// Statement name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
        /// The new spec.parallelism.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        parallelism: u32,
    },
    /// Open the Flink Web UI of the cluster the statement's job runs on, from a
    /// local port, with your token.
    ///
    /// Example: drey statement web-ui-forward orders-insert -e prod --port 8090
    WebUiForward(ForwardArgs),
}

/// `drey pool ...`.
#[derive(Subcommand, Debug)]
pub enum PoolCommand {
    #[command(flatten)]
    Object(ObjectCommand),
    /// Open the Flink Web UI of a SHARED pool's session cluster, from a local
    /// port, with your token.
    ///
    /// Example: drey pool web-ui-forward shared-pool -e prod
    WebUiForward(ForwardArgs),
}

const STATEMENT_COLUMNS: &[super::output::Column] = &[
    ("NAME", "/metadata/name"),
    ("PHASE", "/status/phase"),
    ("STOPPED", "/spec/stopped"),
    ("PARALLELISM", "/spec/parallelism"),
    ("DETAIL", "/status/detail"),
];

/// Reads the statement, changes one field of its spec and writes it back:
/// CMF updates a statement by a PUT of the whole document.
fn update_spec(
    global: &Global,
    api: &Api,
    env: &str,
    name: &str,
    field: &str,
    value: Value,
) -> Result<(), CliError> {
    let path = format!("/cmf/api/v1/environments/{env}/statements/{name}");
    let current = api.get(&path)?;
    let mut spec = current
        .get("spec")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| CliError::Failed(format!("statement {name} has no spec")))?;
    spec.insert(field.to_owned(), value);
    let mut body = json!({
        "apiVersion": current.get("apiVersion").cloned().unwrap_or_else(|| json!("cmf.confluent.io/v1")),
        "kind": "Statement",
        "spec": spec,
    });
    if let (Some(out), Some(metadata)) = (body.as_object_mut(), current.get("metadata")) {
        out.insert("metadata".to_owned(), metadata.clone());
    }
    let updated = api.put(&path, &body)?;
    print_one(global.output, &updated, STATEMENT_COLUMNS)
}

/// Runs `drey statement ...`.
pub fn statement(global: &Global, command: StatementCommand) -> ExitCode {
    match command {
        StatementCommand::Object(c) => objects(global, ObjectKind::Statement, c),
        StatementCommand::Stop { name, env } => run(global, |api| {
            update_spec(global, api, &env, &name, "stopped", json!(true))
        }),
        StatementCommand::Resume { name, env } => run(global, |api| {
            update_spec(global, api, &env, &name, "stopped", json!(false))
        }),
        StatementCommand::Rescale {
            name,
            env,
            parallelism,
        } => run(global, |api| {
            update_spec(global, api, &env, &name, "parallelism", json!(parallelism))
        }),
        StatementCommand::WebUiForward(args) => {
            run(global, |api| forward(global, api, Target::Statement, args))
        }
    }
}

/// Runs `drey pool ...`.
pub fn pool(global: &Global, command: PoolCommand) -> ExitCode {
    match command {
        PoolCommand::Object(c) => objects(global, ObjectKind::Pool, c),
        PoolCommand::WebUiForward(args) => run(global, |api| {
            forward(global, api, Target::ComputePool, args)
        }),
    }
}
