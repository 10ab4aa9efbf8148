//! drey's command-line client: kubectl-like verbs over drey's own HTTP API
//! (never the database). Exit codes scripts can rely on: 0 ok, 1 failed,
//! 2 usage, 3 not found, 4 timed out.

mod catalog;
mod client;
mod cluster;
mod output;
mod progress;
mod statement;
mod web_ui_forward;

pub use catalog::{catalog, CatalogCommand};
use clap::{Args, Subcommand, ValueEnum};
use client::{Api, CliError};
pub use cluster::{cluster, ClusterCommand};
use output::{print_list, print_one, Column};
use progress::Spinner;
use serde_json::{json, Value};
pub use statement::{pool, statement, PoolCommand, StatementCommand};
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
    /// The FlinkDeployment / FlinkSessionJob the Flink Kubernetes Operator would get (YAML).
    ///
    /// Example: drey app manifest orders -e prod > orders.yaml
    Manifest {
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
    /// Take a savepoint of the running job (a Savepoint resource of the application).
    ///
    /// Example: drey app savepoint orders -e prod --name before-upgrade --wait
    Savepoint {
        /// Application name.
        name: String,
        /// Environment.
        #[arg(long, short = 'e')]
        env: String,
        /// The savepoint's name [default: <application>-<UTC time>].
        #[arg(long = "name", value_name = "SAVEPOINT")]
        savepoint: Option<String>,
        /// Wait until the savepoint is COMPLETED (exit 1 if it FAILED).
        #[arg(long)]
        wait: bool,
        /// Seconds --wait waits before giving up (exit code 4).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Open the application's Flink Web UI from a local port, with your token.
    ///
    /// Listens on 127.0.0.1 (--port 0 picks a port), prints the URL to open and
    /// forwards every request to drey's Flink Web UI proxy of the application
    /// with the CLI's token, so a browser opens it while drey runs with
    /// `--auth token`. Runs until Ctrl-C.
    ///
    /// Example: drey app web-ui-forward orders -e prod --port 8090
    WebUiForward(web_ui_forward::ForwardArgs),
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
    ///
    /// Kinds: Environment, FlinkApplication, Statement, ComputePool, Secret,
    /// EnvironmentSecretMapping, KafkaCatalog. Each is created, or updated
    /// when it exists; a compute pool or catalog whose spec is already the
    /// document's is left alone ("unchanged").
    #[arg(short = 'f', long = "filename")]
    pub file: String,
    /// Environment for FlinkApplication, Statement, ComputePool and
    /// EnvironmentSecretMapping documents.
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
        AppCommand::Manifest { name, env } => {
            let manifest = api.get(&format!("{}/manifest", app_path(&env, &name)))?;
            if global.output == Format::Table {
                output::print_yaml(&manifest)
            } else {
                output::print_value(global.output, &manifest)
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
        AppCommand::Savepoint {
            name,
            env,
            savepoint,
            wait,
            timeout,
        } => take_savepoint(
            global,
            api,
            &env,
            &name,
            savepoint,
            wait.then(|| Duration::from_secs(timeout)),
        ),
        AppCommand::WebUiForward(args) => {
            web_ui_forward::forward(global, api, web_ui_forward::Target::Application, args)
        }
    })
}

const SAVEPOINT_COLUMNS: &[Column] = &[
    ("NAME", "/metadata/name"),
    ("STATE", "/status/state"),
    ("PATH", "/status/path"),
    ("ERROR", "/status/error"),
];

/// A savepoint name from the application's and the time: `orders-20250101-120000`.
fn savepoint_name(app: &str) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, secs) = (stamp / 86_400, stamp % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let prefix: String = app.chars().take(200).collect();
    format!(
        "{prefix}-{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn take_savepoint(
    global: &Global,
    api: &Api,
    env: &str,
    app: &str,
    name: Option<String>,
    wait: Option<Duration>,
) -> Result<(), CliError> {
    let name = name.unwrap_or_else(|| savepoint_name(app));
    let collection = format!("{}/savepoints", app_path(env, app));
    let created = api.post(
        &collection,
        &json!({"metadata": {"name": name}, "spec": {}}),
    )?;
    let Some(limit) = wait else {
        return print_one(global.output, &created, SAVEPOINT_COLUMNS);
    };
    let deadline = Instant::now() + limit;
    let spinner = Spinner::start(format!("savepoint {name} of {app}: PENDING"));
    loop {
        let savepoint = api.get(&format!("{collection}/{name}"))?;
        let state = savepoint
            .pointer("/status/state")
            .and_then(Value::as_str)
            .unwrap_or("PENDING")
            .to_owned();
        match state.as_str() {
            "COMPLETED" => {
                drop(spinner);
                return print_one(global.output, &savepoint, SAVEPOINT_COLUMNS);
            }
            "FAILED" => {
                drop(spinner);
                let why = savepoint
                    .pointer("/status/error")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                return Err(CliError::Failed(format!("savepoint {name} failed: {why}")));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            drop(spinner);
            return Err(CliError::TimedOut(format!(
                "savepoint {name} is not COMPLETED after {}s (state {state})",
                limit.as_secs()
            )));
        }
        spinner.set(format!("savepoint {name} of {app}: {state}"));
        std::thread::sleep(Duration::from_millis(500));
    }
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
    let spinner = Spinner::start(format!("waiting for {name} to be {state}"));
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
            drop(spinner);
            return print_one(global.output, &app, APP_COLUMNS);
        }
        if Instant::now() >= deadline {
            drop(spinner);
            return Err(CliError::TimedOut(format!(
                "{name} is not {state} after {}s (lifecycle {lifecycle}, job {job})",
                timeout.as_secs()
            )));
        }
        spinner.set(format!(
            "waiting for {name} to be {state}: lifecycle {lifecycle}, job {job}"
        ));
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What applying one document did.
enum Applied {
    /// Created, or updated in place.
    Applied(Value),
    /// It exists with the same spec and cannot be updated anyway.
    Unchanged(Value),
}

/// The CMF collection a kind lives in, given the environment when it needs one.
fn collection_of(kind: &str, env: Option<&str>) -> Result<String, CliError> {
    let in_env = |rest: &str| {
        env.map(|env| format!("/cmf/api/v1/environments/{env}/{rest}"))
            .ok_or_else(|| CliError::Usage(format!("{kind} documents need --env")))
    };
    match kind {
        "FlinkApplication" => in_env("applications"),
        "Statement" => in_env("statements"),
        "ComputePool" => in_env("compute-pools"),
        "EnvironmentSecretMapping" => in_env("secret-mappings"),
        "Secret" => Ok("/cmf/api/v1/secrets".to_owned()),
        "KafkaCatalog" => Ok("/cmf/api/v1/catalogs/kafka".to_owned()),
        other => Err(CliError::Usage(format!(
            "cannot apply kind {other:?} (Environment, FlinkApplication, Statement, \
             ComputePool, Secret, EnvironmentSecretMapping, KafkaCatalog)"
        ))),
    }
}

/// Creates a document, or updates it when it exists: create-or-update
/// endpoints take a POST; the others a PUT after a 409. Compute pools and
/// catalogs count as unchanged when the stored spec is the document's, and
/// are refused when the server has no PUT for them.
fn apply_one(api: &Api, doc: &Value, env: Option<&str>) -> Result<Applied, CliError> {
    let kind = doc.get("kind").and_then(Value::as_str);
    if matches!(kind, Some("Environment") | None) && doc.get("name").is_some() {
        let mut body = doc.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove("kind");
            map.remove("apiVersion");
        }
        return api
            .post("/cmf/api/v1/environments", &body)
            .map(Applied::Applied);
    }
    let Some(kind) = kind else {
        return Err(CliError::Usage(
            "a document without `kind` must be an Environment (with `name`)".into(),
        ));
    };
    let collection = collection_of(kind, env)?;
    if kind == "FlinkApplication" {
        // POST creates or updates.
        return api.post(&collection, doc).map(Applied::Applied);
    }
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Usage(format!("{kind} documents need metadata.name")))?;
    let created = api.request(reqwest::Method::POST, &collection, Some(doc))?;
    if created.status != 409 {
        return created.into_result().map(Applied::Applied);
    }
    let path = format!("{collection}/{name}");
    match kind {
        "Statement" | "Secret" | "EnvironmentSecretMapping" => {
            api.put(&path, doc).map(Applied::Applied)
        }
        _ => {
            // Compute pools and catalogs: nothing to write when the spec is
            // the same; otherwise a PUT where the server has one.
            let current = api.get(&path)?;
            let wanted = doc.get("spec").cloned().unwrap_or_else(|| json!({}));
            if current.get("spec") == Some(&wanted) {
                return Ok(Applied::Unchanged(current));
            }
            let updated = api.request(reqwest::Method::PUT, &path, Some(doc))?;
            if updated.status == 405 {
                return Err(CliError::Failed(format!(
                    "{kind} {name} exists with another spec and this server cannot change it: \
                     delete it first (drey {} delete {name})",
                    if kind == "ComputePool" {
                        "pool"
                    } else {
                        "catalog"
                    }
                )));
            }
            updated.into_result().map(Applied::Applied)
        }
    }
}

/// Runs `drey apply -f`.
pub fn apply(global: &Global, args: ApplyArgs) -> ExitCode {
    run(global, |api| {
        let text = read_input(&args.file)?;
        for (i, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let doc: Value = serde::Deserialize::deserialize(document)
                .map_err(|e| CliError::Usage(format!("{}: document {}: {e}", args.file, i + 1)))?;
            if doc.is_null() {
                continue;
            }
            let where_ = |e: CliError| match e {
                CliError::Usage(m) => {
                    CliError::Usage(format!("{}: document {}: {m}", args.file, i + 1))
                }
                other => other,
            };
            let (verb, applied) = match apply_one(api, &doc, args.env.as_deref()).map_err(where_)? {
                Applied::Applied(v) => ("applied", v),
                Applied::Unchanged(v) => ("unchanged", v),
            };
            let name = applied
                .pointer("/metadata/name")
                .or_else(|| applied.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            if global.output == Format::Table {
                println!("{name} {verb}");
            } else {
                output::print_value(global.output, &applied)?;
            }
        }
        Ok(())
    })
}

/// A file's text, or stdin's for `-`.
fn read_input(file: &str) -> Result<String, CliError> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("cannot read stdin: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(|e| CliError::Usage(format!("cannot read {file}: {e}")))
}

pub(crate) fn run(global: &Global, f: impl FnOnce(&Api) -> Result<(), CliError>) -> ExitCode {
    let api = match Api::new(&global.url, global.token.clone()) {
        Ok(api) => api,
        Err(e) => return e.report(),
    };
    match f(&api) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
