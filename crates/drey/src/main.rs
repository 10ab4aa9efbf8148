//! `drey`: a control plane for Apache Flink. One binary: `drey server` runs
//! the control plane; the other subcommands are its command-line clients.

mod admin;
mod cli;
mod database;
mod server;
mod settings;

use clap::{Args, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

// glibc's malloc spent a third of a page request in allocation and free
// (measured with perf); mimalloc is made for many small short-lived objects.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// drey: keeps Flink applications, statements and clusters at their desired state.
#[derive(Parser, Debug)]
#[command(name = "drey", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the drey server.
    ///
    /// Every setting comes from a flag, a DREY_* environment variable or the
    /// settings file (--config), in that order of precedence.
    ///
    /// Example: drey server --listen 127.0.0.1:8080 --data-dir /var/lib/drey
    Server(Box<settings::ServerSettings>),
    /// Environments.
    #[command(subcommand)]
    Env(cli::EnvCommand),
    /// Flink applications.
    #[command(subcommand)]
    App(cli::AppCommand),
    /// Flink SQL statements (list, get, delete, stop, resume, rescale, web-ui-forward).
    #[command(subcommand)]
    Statement(cli::StatementCommand),
    /// Compute pools (list, get, delete, web-ui-forward).
    #[command(subcommand)]
    Pool(cli::PoolCommand),
    /// Kafka catalogs and their databases (list, get, create, update, delete).
    #[command(subcommand)]
    Catalog(cli::CatalogCommand),
    /// Registered clusters: existing Flink clusters drey watches (add, list, get, remove).
    #[command(subcommand)]
    Cluster(cli::ClusterCommand),
    /// Secrets, never their data (list, get, delete).
    #[command(subcommand)]
    Secret(cli::ObjectCommand),
    /// Savepoints of an application (--app) or detached ones (list, get, delete).
    #[command(subcommand)]
    Savepoint(cli::ObjectCommand),
    /// Create or update what a JSON/YAML file describes (several documents allowed).
    ///
    /// Example: drey apply -f app.yaml --env prod
    Apply(cli::ApplyArgs),
    /// Print a shell completion script.
    ///
    /// Example: drey completion bash > /etc/bash_completion.d/drey
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Administration of a drey data dir (run on the server's machine).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Make another root key and print it once on stdout.
    ///
    /// Example: drey admin create-root-key --data-dir /var/lib/drey > admin.key
    CreateRootKey(#[command(flatten)] ServerStore),
    /// Write a consistent copy of the embedded store to FILE, while the server runs.
    ///
    /// The copy holds secret data sealed, never the key: keep the data dir's
    /// secret.key (or the server's --secret-key) to restore it. PostgreSQL:
    /// use pg_dump (docs/backup.md).
    ///
    /// Example: drey admin backup /backups/drey-$(date +%F).db --data-dir /var/lib/drey
    Backup {
        /// Where the copy goes (replaced atomically if it exists).
        file: std::path::PathBuf,
        #[command(flatten)]
        store: ServerStore,
    },
    /// Replace the embedded store of a stopped server with a backup.
    ///
    /// Checks the file and that the data dir's key opens its secrets first;
    /// keeps the replaced store beside it as drey.db.before-restore-<time>.
    /// The restarted server adopts the Flink clusters it finds running.
    ///
    /// Example: drey admin restore /backups/drey-2026-12-01.db --data-dir /var/lib/drey
    Restore {
        /// A file `drey admin backup` wrote.
        file: std::path::PathBuf,
        #[command(flatten)]
        store: ServerStore,
    },
}

/// Which server's store an admin command works on.
#[derive(Args, Debug)]
struct ServerStore {
    /// The server's data dir [default: as for `drey server`].
    #[arg(long, env = "DREY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// The server's PostgreSQL database, if it uses one instead of SQLite.
    #[arg(
        long,
        env = "DREY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<settings::DatabaseUrl>,
    /// The server's secret key, if it uses one instead of the key file.
    #[arg(long, env = "DREY_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
}

impl ServerStore {
    fn data_dir(&self) -> anyhow::Result<std::path::PathBuf> {
        self.data_dir
            .clone()
            .map(Ok)
            .unwrap_or_else(settings::default_data_dir)
    }
}

/// Runs an admin command, printing its error.
fn admin(command: AdminCommand) -> ExitCode {
    let result = match command {
        AdminCommand::CreateRootKey(store) => store.data_dir().and_then(|dir| {
            server::create_root_key(
                &dir,
                store.database_url.as_ref(),
                store.secret_key.as_deref(),
            )
        }),
        AdminCommand::Backup { file, store } => store
            .data_dir()
            .and_then(|dir| admin::backup(&dir, store.database_url.as_ref(), &file)),
        AdminCommand::Restore { file, store } => store.data_dir().and_then(|dir| {
            admin::restore(
                &dir,
                store.database_url.as_ref(),
                store.secret_key.as_deref(),
                &file,
            )
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drey: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let command = match settings::command_with_config_defaults::<Cli>("server") {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("drey: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Env(command) => cli::env(&cli.global, command),
        Command::App(command) => cli::app(&cli.global, command),
        Command::Apply(args) => cli::apply(&cli.global, args),
        Command::Cluster(c) => cli::cluster(&cli.global, c),
        Command::Statement(c) => cli::statement(&cli.global, c),
        Command::Pool(c) => cli::pool(&cli.global, c),
        Command::Catalog(c) => cli::catalog(&cli.global, c),
        Command::Secret(c) => cli::objects(&cli.global, cli::ObjectKind::Secret, c),
        Command::Savepoint(c) => cli::objects(&cli.global, cli::ObjectKind::Savepoint, c),
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "drey", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Admin(command) => admin(command),
        Command::Server(settings) => match server::run(*settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("drey: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
