//! `drey`: a control plane for Apache Flink. One binary: `drey server` runs
//! the control plane; the other subcommands are its command-line clients.

mod cli;
mod database;
mod server;
mod settings;

use clap::{FromArgMatches, Parser, Subcommand};
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
    /// Flink SQL statements (list, get, delete).
    #[command(subcommand)]
    Statement(cli::ObjectCommand),
    /// Compute pools (list, get, delete).
    #[command(subcommand)]
    Pool(cli::ObjectCommand),
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
    CreateRootKey {
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
    },
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
        Command::Statement(c) => cli::objects(&cli.global, cli::ObjectKind::Statement, c),
        Command::Pool(c) => cli::objects(&cli.global, cli::ObjectKind::Pool, c),
        Command::Secret(c) => cli::objects(&cli.global, cli::ObjectKind::Secret, c),
        Command::Savepoint(c) => cli::objects(&cli.global, cli::ObjectKind::Savepoint, c),
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "drey", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Admin(AdminCommand::CreateRootKey {
            data_dir,
            database_url,
            secret_key,
        }) => {
            let data_dir = match data_dir.map(Ok).unwrap_or_else(settings::default_data_dir) {
                Ok(dir) => dir,
                Err(e) => {
                    eprintln!("drey: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            match server::create_root_key(&data_dir, database_url.as_ref(), secret_key.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("drey: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Server(settings) => match server::run(*settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("drey: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
