//! `drey-local-flink`: start, list and stop local Flink session clusters the way drey does.
//!
//! ```text
//! drey-local-flink start --id ID [--task-managers N] [--slots N] [--jm-memory 768m]
//!                        [--tm-memory 1024m] [-D key=value]... [--timeout SECS] [--hold]
//! drey-local-flink stop  --id ID [--grace SECS]
//! drey-local-flink list
//! common: [--data-dir DIR] (default ${XDG_DATA_HOME:-$HOME/.local/share}/drey)
//!         [--flink-home DIR] (default: FLINK_HOME, then the scripts/install-flink.sh install)
//! ```
//!
//! `start` prints the cluster record (`cluster.json`) on stdout. With `--hold` the command
//! then keeps running until killed: the cluster does not depend on it (the tests kill it
//! with SIGKILL and re-adopt the cluster).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use drey_runtime::{drey_data_home, ClusterSpec, FlinkHome, LocalBackend};

struct Args {
    command: String,
    flags: BTreeMap<String, String>,
    dynamic: BTreeMap<String, String>,
    hold: bool,
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut it = argv.into_iter();
    let command = it.next().ok_or("missing command: start, stop or list")?;
    let mut flags = BTreeMap::new();
    let mut dynamic = BTreeMap::new();
    let mut hold = false;
    while let Some(a) = it.next() {
        if a == "--hold" {
            hold = true;
        } else if a == "-D" {
            let kv = it.next().ok_or("-D needs key=value")?;
            let (k, v) = kv.split_once('=').ok_or("-D needs key=value")?;
            dynamic.insert(k.to_string(), v.to_string());
        } else if let Some(name) = a.strip_prefix("--") {
            let v = it.next().ok_or(format!("--{name} needs a value"))?;
            flags.insert(name.to_string(), v);
        } else {
            return Err(format!("unexpected argument {a:?}"));
        }
    }
    Ok(Args {
        command,
        flags,
        dynamic,
        hold,
    })
}

fn num<T: std::str::FromStr>(args: &Args, name: &str, default: T) -> Result<T, String> {
    match args.flags.get(name) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("--{name}: not a number: {v}")),
        None => Ok(default),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let home = FlinkHome::discover(args.flags.get("flink-home").map(PathBuf::from))
        .map_err(|e| e.to_string())?;
    let data_dir = match args.flags.get("data-dir") {
        Some(d) => PathBuf::from(d),
        None => drey_data_home().ok_or("set --data-dir (neither XDG_DATA_HOME nor HOME is set)")?,
    };
    let backend = LocalBackend::new(home, data_dir);
    let id = || args.flags.get("id").cloned().ok_or("--id is required");
    match args.command.as_str() {
        "start" => {
            let mut spec = ClusterSpec::new(id()?);
            spec.task_managers = num(&args, "task-managers", 1)?;
            spec.slots_per_task_manager = num(&args, "slots", 2)?;
            if let Some(m) = args.flags.get("jm-memory") {
                spec.jobmanager_memory = m.clone();
            }
            if let Some(m) = args.flags.get("tm-memory") {
                spec.taskmanager_memory = m.clone();
            }
            spec.flink_configuration = args.dynamic.clone();
            let timeout = Duration::from_secs(num(&args, "timeout", 120)?);
            let cluster = backend
                .start(&spec, timeout)
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::to_string_pretty(cluster.record()).map_err(|e| e.to_string())?;
            println!("{json}");
            if args.hold {
                loop {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
            Ok(())
        }
        "stop" => {
            let grace = Duration::from_secs(num(&args, "grace", 30)?);
            let id = id()?;
            let was_running = backend.stop(&id, grace).await.map_err(|e| e.to_string())?;
            println!(
                "{}",
                if was_running {
                    format!("stopped {id}")
                } else {
                    format!("{id} was not running")
                }
            );
            Ok(())
        }
        "list" => {
            for c in backend.list().await.map_err(|e| e.to_string())? {
                println!(
                    "{}\t{}\t{}\t{} TaskManager(s)",
                    c.record.id,
                    if c.alive { "running" } else { "dead" },
                    c.record.rest_url(),
                    c.record.spec.task_managers
                );
            }
            Ok(())
        }
        other => Err(format!(
            "unknown command {other:?}: use start, stop or list"
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("drey-local-flink: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drey-local-flink: {e}");
            ExitCode::FAILURE
        }
    }
}
