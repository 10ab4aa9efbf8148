//! `drey cluster add|list|get|remove`: the clusters of the caller's
//! organization, for people who use CMF or VVP only (the same registry as
//! LakeSail's `/api/org/v1/clusters`, which this talks to).

use super::client::{Api, CliError};
use super::output::{print_list, print_one, Column};
use super::{run, Global};
use clap::Subcommand;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// `drey cluster ...`.
#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Register an existing Flink session cluster by its REST endpoint.
    ///
    /// Example: drey cluster add prod-flink --endpoint https://flink.example:8081 --savepoint-dir s3://bucket/savepoints --ca-file /etc/ssl/flink-ca.pem
    Add {
        /// A name, unique in the organization.
        name: String,
        /// The JobManager's REST endpoint (http or https).
        #[arg(long)]
        endpoint: String,
        /// Where suspends put savepoints, when not the cluster's own state.savepoints.dir.
        #[arg(long, value_name = "URI")]
        savepoint_dir: Option<String>,
        /// A PEM file with the CA of the endpoint's certificate.
        #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
        ca_file: Option<PathBuf>,
        /// Accept any TLS certificate.
        #[arg(long)]
        insecure: bool,
        /// A reverse proxy's basic-auth user (with --password-file).
        #[arg(long, requires = "password_file", conflicts_with = "token_file")]
        username: Option<String>,
        /// A file holding the basic-auth password.
        #[arg(long, value_name = "FILE", requires = "username")]
        password_file: Option<PathBuf>,
        /// A file holding a bearer token for a reverse proxy.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the registered clusters with their state.  Example: drey cluster list
    List,
    /// Show one cluster: state, last heartbeat, jobs.  Example: drey cluster get prod-flink -o yaml
    Get {
        /// Cluster name (or id).
        name: String,
    },
    /// Forget a cluster; the cluster and its jobs are left alone.  Example: drey cluster remove prod-flink
    Remove {
        /// Cluster name (or id).
        name: String,
    },
}

const COLUMNS: &[Column] = &[
    ("NAME", "/name"),
    ("KIND", "/kind"),
    ("ENDPOINT", "/endpoint"),
    ("STATE", "/status/state"),
    ("HEARTBEAT", "/status/lastHeartbeatTimestamp"),
    ("FLINK", "/status/flinkVersion"),
    ("ID", "/id"),
];

const CLUSTERS: &str = "/api/org/v1/clusters";

/// Every registered cluster (following LakeSail's markers).
fn all(api: &Api) -> Result<Vec<Value>, CliError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("{CLUSTERS}?marker={m}"),
            None => CLUSTERS.to_owned(),
        };
        let page = api.get(&path)?;
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["marker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => return Ok(out),
        }
    }
}

fn find(api: &Api, name: &str) -> Result<Value, CliError> {
    all(api)?
        .into_iter()
        .find(|c| c["name"] == name || c["id"] == name)
        .ok_or_else(|| CliError::NotFound(format!("no cluster named '{name}'")))
}

fn read_secret(path: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

/// Runs `drey cluster ...`.
pub fn cluster(global: &Global, command: ClusterCommand) -> ExitCode {
    run(global, |api| match command {
        ClusterCommand::Add {
            name,
            endpoint,
            savepoint_dir,
            ca_file,
            insecure,
            username,
            password_file,
            token_file,
            description,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            body.insert("kind".into(), json!("flink"));
            body.insert("endpoint".into(), json!(endpoint));
            if let Some(d) = savepoint_dir {
                body.insert("savepointDir".into(), json!(d));
            }
            if let Some(ca) = ca_file {
                let ca = std::path::absolute(&ca)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", ca.display())))?;
                body.insert("caFile".into(), json!(ca.display().to_string()));
            }
            if insecure {
                body.insert("insecure".into(), json!(true));
            }
            if let Some(d) = description {
                body.insert("description".into(), json!(d));
            }
            let credentials = match (username, password_file, token_file) {
                (Some(user), Some(password), None) => {
                    Some(json!({"username": user, "password": read_secret(&password)?}))
                }
                (None, None, Some(token)) => Some(json!({"token": read_secret(&token)?})),
                _ => None,
            };
            if let Some(c) = credentials {
                body.insert("credentials".into(), c);
            }
            let created = api.post(CLUSTERS, &Value::Object(body))?;
            eprintln!(
                "cluster {} registered; drey looks at it every few seconds (drey cluster get {})",
                created["name"].as_str().unwrap_or_default(),
                created["name"].as_str().unwrap_or_default()
            );
            print_one(global.output, &created, COLUMNS)
        }
        ClusterCommand::List => {
            let items = all(api)?;
            print_list(global.output, &json!({"items": items}), COLUMNS)
        }
        ClusterCommand::Get { name } => {
            let id = find(api, &name)?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let cluster = api.get(&format!("{CLUSTERS}/{id}"))?;
            print_one(global.output, &cluster, COLUMNS)
        }
        ClusterCommand::Remove { name } => {
            let id = find(api, &name)?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            api.delete(&format!("{CLUSTERS}/{id}"))?;
            eprintln!("cluster {name} removed (the cluster itself and its jobs are untouched)");
            Ok(())
        }
    })
}
