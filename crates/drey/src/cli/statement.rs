//! `drey statement ...` and `drey pool ...`: reading and deleting as for the
//! other kinds, plus what only they have: stopping, resuming and rescaling a
//! statement (a PUT of its spec, as CMF updates statements) and forwarding
//! their Flink Web UI.

use super::client::{Api, CliError};
use super::output::print_one;
use super::progress::Spinner;
use super::web_ui_forward::{forward, ForwardArgs, Target};
use super::{objects, run, Global, ObjectCommand, ObjectKind};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `drey statement ...`.
#[derive(Subcommand, Debug)]
pub enum StatementCommand {
    #[command(flatten)]
    Object(ObjectCommand),
    /// Stop a statement's job with a savepoint (spec.stopped = true); a query is cancelled.
    ///
    /// Example: drey statement stop orders-insert -e prod --wait
    Stop {
        /// Statement name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
        #[command(flatten)]
        wait: WaitArgs,
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
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Run a statement's job at another parallelism (through a savepoint).
    ///
    /// Example: drey statement rescale orders-insert -e prod --parallelism 4 --wait
    Rescale {
        /// Statement name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
        /// The new spec.parallelism.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        parallelism: u32,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Open the Flink Web UI of the cluster the statement's job runs on, from a
    /// local port, with your token.
    ///
    /// Example: drey statement web-ui-forward orders-insert -e prod --port 8090
    WebUiForward(ForwardArgs),
}

/// Waiting for a statement change to take effect.
#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Wait until it took effect: STOPPED for stop; for resume and rescale,
    /// RUNNING as a new Flink job (exit 1 if the statement FAILED).
    #[arg(long)]
    wait: bool,
    /// Seconds --wait waits before giving up (exit code 4).
    #[arg(long, default_value_t = 300)]
    timeout: u64,
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

/// What `--wait` waits for after an update.
#[derive(Clone, Copy)]
enum Effect {
    /// Phase STOPPED.
    Stopped,
    /// Phase RUNNING with a Flink job other than the one before the update.
    RunningAnew,
}

fn text_at<'a>(statement: &'a Value, pointer: &str) -> &'a str {
    statement
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Reads the statement, changes one field of its spec and writes it back
/// (CMF updates a statement by a PUT of the whole document); with `--wait`,
/// then polls until the change took effect.
#[allow(clippy::too_many_arguments)]
fn update_spec(
    global: &Global,
    api: &Api,
    env: &str,
    name: &str,
    field: &str,
    value: Value,
    wait: &WaitArgs,
    effect: Effect,
) -> Result<(), CliError> {
    let path = format!("/cmf/api/v1/environments/{env}/statements/{name}");
    let current = api.get(&path)?;
    let job_before = text_at(&current, "/status/jobId").to_owned();
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
    if !wait.wait {
        return print_one(global.output, &updated, STATEMENT_COLUMNS);
    }
    let limit = Duration::from_secs(wait.timeout);
    let deadline = Instant::now() + limit;
    let spinner = Spinner::start(format!("statement {name}: waiting"));
    loop {
        let statement = api.get(&path)?;
        let phase = text_at(&statement, "/status/phase");
        let job = text_at(&statement, "/status/jobId");
        let done = match effect {
            Effect::Stopped => phase == "STOPPED",
            Effect::RunningAnew => phase == "RUNNING" && !job.is_empty() && job != job_before,
        };
        if done {
            drop(spinner);
            return print_one(global.output, &statement, STATEMENT_COLUMNS);
        }
        if phase == "FAILED" {
            drop(spinner);
            return Err(CliError::Failed(format!(
                "statement {name} FAILED: {}",
                text_at(&statement, "/status/detail")
            )));
        }
        if Instant::now() >= deadline {
            drop(spinner);
            return Err(CliError::TimedOut(format!(
                "statement {name} did not take the change within {}s (phase {phase})",
                limit.as_secs()
            )));
        }
        spinner.set(format!("statement {name}: {phase}"));
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs `drey statement ...`.
pub fn statement(global: &Global, command: StatementCommand) -> ExitCode {
    match command {
        StatementCommand::Object(c) => objects(global, ObjectKind::Statement, c),
        StatementCommand::Stop { name, env, wait } => run(global, |api| {
            let effect = Effect::Stopped;
            update_spec(
                global,
                api,
                &env,
                &name,
                "stopped",
                json!(true),
                &wait,
                effect,
            )
        }),
        StatementCommand::Resume { name, env, wait } => run(global, |api| {
            let effect = Effect::RunningAnew;
            update_spec(
                global,
                api,
                &env,
                &name,
                "stopped",
                json!(false),
                &wait,
                effect,
            )
        }),
        StatementCommand::Rescale {
            name,
            env,
            parallelism,
            wait,
        } => run(global, |api| {
            let value = json!(parallelism);
            let effect = Effect::RunningAnew;
            update_spec(
                global,
                api,
                &env,
                &name,
                "parallelism",
                value,
                &wait,
                effect,
            )
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
