//! drey's command-line client: kubectl-like verbs over drey's own HTTP API
//! (never the database). Exit codes scripts can rely on: 0 ok, 1 failed,
//! 2 usage, 3 not found, 4 timed out.

mod client;
mod output;

use clap::{Args, Subcommand, ValueEnum};
use client::{Api, CliError};
use output::{print_list, print_one, Column};
use serde_json::{json, Value};
use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Where and how to reach the server, and how to print.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The drey server.
    #[arg(
        long,
        env = "DREY_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Bearer token (with `drey server --auth token`).
    #[arg(long, env = "DREY_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Output format: a table for people, json or yaml for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Columns for people.
    Table,
    /// The server's JSON, exactly.
    Json,
    /// The same as YAML.
    Yaml,
}

/// `drey env ...`.
#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// List environments.  Example: drey env list -o json
    List,
    /// Show one environment.  Example: drey env get prod
    Get {
        /// Environment name.
        name: String,
    },
    /// Delete an environment (refused while it holds applications).  Example: drey env delete dev
    Delete {
        /// Environment name.
        name: String,
    },
}

/// `drey app ...`.
#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// List the applications of an environment.  Example: drey app list --env prod
    List {
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Show one application.  Example: drey app get orders --env prod -o yaml
    Get {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// The application with its recent events and instances.  Example: drey app describe orders -e prod
    Describe {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Start (spec.job.state = running).  Example: drey app start orders -e prod
    Start {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Suspend with a savepoint (stateless: cancel).  Example: drey app suspend orders -e prod
    Suspend {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Delete.  Example: drey app delete orders -e prod
    Delete {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// The JobManager log of the application's Flink cluster.  Example: drey app logs orders -e prod
    Logs {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
    },
    /// Wait until status.jobStatus.state or status.lifecycleState equals a value.
    ///
    /// Example: drey app wait orders -e prod --for RUNNING --timeout 300
    Wait {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
        /// The state to wait for (RUNNING, STABLE, SUSPENDED, FAILED, ...).
        #[arg(long = "for")]
        state: String,
        /// Seconds before giving up (exit code 4).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

/// `drey statement|pool|secret|savepoint ...`: reading and deleting.
#[derive(Subcommand, Debug)]
pub enum ObjectCommand {
    /// List them.  Example: drey pool list -e prod -o json
    List {
        /// Environment (statements, pools) or application (savepoints: --app).
        #[arg(long, short = 'e')]
        env: Option<String>,
        /// Application (savepoints).
        #[arg(long)]
        app: Option<String>,
    },
    /// Show one.  Example: drey statement get orders-insert -e prod
    Get {
        /// Name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: Option<String>,
        /// Application (savepoints).
        #[arg(long)]
        app: Option<String>,
    },
    /// Delete one.  Example: drey secret delete kafka-creds
    Delete {
        /// Name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: Option<String>,
        /// Application (savepoints).
        #[arg(long)]
        app: Option<String>,
    },
}

/// The kinds `ObjectCommand` serves.
#[derive(Clone, Copy, Debug)]
pub enum ObjectKind {
    /// SQL statements (per environment).
    Statement,
    /// Compute pools (per environment).
    Pool,
    /// Secrets (global; data never shown).
    Secret,
    /// Savepoints of an application (with --app) or detached ones.
    Savepoint,
}

impl ObjectKind {
    fn collection(self, env: Option<&str>, app: Option<&str>) -> Result<String, CliError> {
        let need_env = || env.ok_or_else(|| CliError::Usage("this command needs --env".into()));
        Ok(match self {
            ObjectKind::Statement => format!("/cmf/api/v1/environments/{}/statements", need_env()?),
            ObjectKind::Pool => format!("/cmf/api/v1/environments/{}/compute-pools", need_env()?),
            ObjectKind::Secret => "/cmf/api/v1/secrets".to_owned(),
            ObjectKind::Savepoint => match app {
                Some(app) => format!("{}/savepoints", app_path(need_env()?, app)),
                None => "/cmf/api/v1/detached-savepoints".to_owned(),
            },
        })
    }

    fn columns(self) -> &'static [Column] {
        match self {
            ObjectKind::Statement => &[
                ("NAME", "/metadata/name"),
                ("POOL", "/spec/computePoolName"),
                ("PHASE", "/status/phase"),
                ("DETAIL", "/status/detail"),
            ],
            ObjectKind::Pool => &[
                ("NAME", "/metadata/name"),
                ("TYPE", "/spec/type"),
                ("PHASE", "/status/phase"),
            ],
            ObjectKind::Secret => &[
                ("NAME", "/metadata/name"),
                ("VERSION", "/status/version"),
                ("CREATED", "/metadata/creationTimestamp"),
            ],
            ObjectKind::Savepoint => &[
                ("NAME", "/metadata/name"),
                ("STATE", "/status/state"),
                ("PATH", "/status/path"),
            ],
        }
    }
}

/// Runs `drey statement|pool|secret|savepoint ...`.
pub fn objects(global: &Global, kind: ObjectKind, command: ObjectCommand) -> ExitCode {
    run(global, |api| match command {
        ObjectCommand::List { env, app } => {
            let path = kind.collection(env.as_deref(), app.as_deref())?;
            let page = api.get(&format!("{path}?size=1000"))?;
            print_list(global.output, &page, kind.columns())
        }
        ObjectCommand::Get { name, env, app } => {
            let path = kind.collection(env.as_deref(), app.as_deref())?;
            print_one(
                global.output,
                &api.get(&format!("{path}/{name}"))?,
                kind.columns(),
            )
        }
        ObjectCommand::Delete { name, env, app } => {
            let path = kind.collection(env.as_deref(), app.as_deref())?;
            api.delete(&format!("{path}/{name}"))?;
            eprintln!("{name} deleted");
            Ok(())
        }
    })
}

/// `drey apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A JSON or YAML file with one or several documents; `-` reads stdin.
    #[arg(short = 'f', long = "filename")]
    pub file: String,
    /// Environment for FlinkApplication documents.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
}

fn app_path(env: &str, name: &str) -> String {
    format!("/cmf/api/v1/environments/{env}/applications/{name}")
}

const APP_COLUMNS: &[Column] = &[
    ("NAME", "/metadata/name"),
    ("STATE", "/spec/job/state"),
    ("LIFECYCLE", "/status/lifecycleState"),
    ("JOB", "/status/jobStatus/state"),
    ("INSTANCE", "/status/currentDeployedInstanceName"),
    ("ERROR", "/status/error"),
];

const ENV_COLUMNS: &[Column] = &[
    ("NAME", "/name"),
    ("NAMESPACE", "/kubernetesNamespace"),
    ("CREATED", "/created_time"),
];

/// Runs `drey env ...`.
pub fn env(global: &Global, command: EnvCommand) -> ExitCode {
    run(global, |api| match command {
        EnvCommand::List => {
            let page = api.get("/cmf/api/v1/environments?size=1000")?;
            print_list(global.output, &page, ENV_COLUMNS)
        }
        EnvCommand::Get { name } => {
            let env = api.get(&format!("/cmf/api/v1/environments/{name}"))?;
            print_one(global.output, &env, ENV_COLUMNS)
        }
        EnvCommand::Delete { name } => {
            api.delete(&format!("/cmf/api/v1/environments/{name}"))?;
            eprintln!("environment {name} deleted");
            Ok(())
        }
    })
}

/// Runs `drey app ...`.
pub fn app(global: &Global, command: AppCommand) -> ExitCode {
    run(global, |api| match command {
        AppCommand::List { env } => {
            let page = api.get(&format!(
                "/cmf/api/v1/environments/{env}/applications?size=1000"
            ))?;
            print_list(global.output, &page, APP_COLUMNS)
        }
        AppCommand::Get { name, env } => print_one(
            global.output,
            &api.get(&app_path(&env, &name))?,
            APP_COLUMNS,
        ),
        AppCommand::Describe { name, env } => {
            let app = api.get(&app_path(&env, &name))?;
            let events = api.get(&format!(
                "/cmf/api/v1alpha1/environments/{env}/applications/{name}/events?size=10"
            ))?;
            let instances = api.get(&format!("{}/instances?size=5", app_path(&env, &name)))?;
            let described = json!({"application": app, "events": events["items"],
                                   "instances": instances["items"]});
            if global.output == Format::Table {
                output::print_yaml(&described)
            } else {
                output::print_value(global.output, &described)
            }
        }
        AppCommand::Start { name, env } => {
            let app = api.post(&format!("{}/start", app_path(&env, &name)), &json!({}))?;
            print_one(global.output, &app, APP_COLUMNS)
        }
        AppCommand::Suspend { name, env } => {
            let app = api.post(&format!("{}/suspend", app_path(&env, &name)), &json!({}))?;
            print_one(global.output, &app, APP_COLUMNS)
        }
        AppCommand::Delete { name, env } => {
            api.delete(&app_path(&env, &name))?;
            eprintln!("application {name} deleted");
            Ok(())
        }
        AppCommand::Logs { name, env } => {
            let log = api.get_text(&format!(
                "{}/flink-web-ui/jobmanager/log",
                app_path(&env, &name)
            ))?;
            print!("{log}");
            Ok(())
        }
        AppCommand::Wait {
            name,
            env,
            state,
            timeout,
        } => wait(
            global,
            api,
            &env,
            &name,
            &state,
            Duration::from_secs(timeout),
        ),
    })
}

fn wait(
    global: &Global,
    api: &Api,
    env: &str,
    name: &str,
    state: &str,
    timeout: Duration,
) -> Result<(), CliError> {
    let deadline = Instant::now() + timeout;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    loop {
        let app = api.get(&app_path(env, name))?;
        let job = app
            .pointer("/status/jobStatus/state")
            .and_then(Value::as_str)
            .unwrap_or("");
        let lifecycle = app
            .pointer("/status/lifecycleState")
            .and_then(Value::as_str)
            .unwrap_or("");
        if job.eq_ignore_ascii_case(state) || lifecycle.eq_ignore_ascii_case(state) {
            if interactive {
                eprintln!();
            }
            return print_one(global.output, &app, APP_COLUMNS);
        }
        if Instant::now() >= deadline {
            return Err(CliError::TimedOut(format!(
                "{name} is not {state} after {}s (lifecycle {lifecycle}, job {job})",
                timeout.as_secs()
            )));
        }
        if interactive {
            eprint!("\rwaiting for {name} to be {state}: lifecycle {lifecycle}, job {job}    ");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs `drey apply -f`.
pub fn apply(global: &Global, args: ApplyArgs) -> ExitCode {
    run(global, |api| {
        let mut text = String::new();
        if args.file == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Usage(format!("cannot read stdin: {e}")))?;
        } else {
            text = std::fs::read_to_string(&args.file)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.file)))?;
        }
        for (i, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let doc: Value = serde::Deserialize::deserialize(document)
                .map_err(|e| CliError::Usage(format!("{}: document {}: {e}", args.file, i + 1)))?;
            if doc.is_null() {
                continue;
            }
            let applied = match doc.get("kind").and_then(Value::as_str) {
                Some("FlinkApplication") => {
                    let env = args.env.as_deref().ok_or_else(|| {
                        CliError::Usage("FlinkApplication documents need --env".into())
                    })?;
                    api.post(
                        &format!("/cmf/api/v1/environments/{env}/applications"),
                        &doc,
                    )?
                }
                Some("Environment") | None if doc.get("name").is_some() => {
                    let mut body = doc.clone();
                    if let Some(map) = body.as_object_mut() {
                        map.remove("kind");
                        map.remove("apiVersion");
                    }
                    api.post("/cmf/api/v1/environments", &body)?
                }
                other => {
                    return Err(CliError::Usage(format!(
                    "{}: document {}: cannot apply kind {other:?} (Environment, FlinkApplication)",
                    args.file,
                    i + 1
                )))
                }
            };
            let name = applied
                .pointer("/metadata/name")
                .or_else(|| applied.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            if global.output == Format::Table {
                println!("{name} applied");
            } else {
                output::print_value(global.output, &applied)?;
            }
        }
        Ok(())
    })
}

fn run(global: &Global, f: impl FnOnce(&Api) -> Result<(), CliError>) -> ExitCode {
    let api = match Api::new(&global.url, global.token.clone()) {
        Ok(api) => api,
        Err(e) => return e.report(),
    };
    match f(&api) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
