//! `drey`: a control plane for Apache Flink. One binary: `drey server` runs
//! the control plane; the other subcommands are its command-line clients.

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
    Server(settings::ServerSettings),
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
        Command::Server(settings) => match server::run(settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("drey: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
