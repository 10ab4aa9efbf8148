//! Starts the real `drey` binary on port 0 with a temporary data dir and talks
//! HTTP to it. Shared by the integration tests. With
//! `DREY_TEST_DATABASE=postgres` every server keeps its state in a fresh
//! database of a real PostgreSQL (drey-store's test harness) instead of SQLite.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod flink;
#[path = "../../../drey-store/tests/support/postgres.rs"]
pub mod postgres;
pub mod standalone;

use reqwest::{Client, Method, Response};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running drey server.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub client: Client,
    stderr_log: PathBuf,
    /// Sent as `Authorization: Bearer` on every request when set.
    pub token: Option<String>,
    /// The PostgreSQL database the server keeps its state in, if not SQLite.
    pub database_url: Option<String>,
}

impl Server {
    /// Starts an API-only server (reconciler off) on a fresh temporary data dir.
    pub fn start(dir: &tempfile::TempDir) -> Server {
        Server::start_in(dir.path(), &[])
    }

    /// Starts an API-only server (reconciler off) on `data_dir` with extra arguments.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["--reconciler", "off"];
        args.extend_from_slice(extra);
        Server::start_with(data_dir, &args, &[])
    }

    /// Starts a server with extra arguments and environment variables.
    pub fn start_with(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn(&[], "127.0.0.1:0", data_dir, extra, env)
    }

    /// Starts a server on another host (the network namespace `namespace`,
    /// `ip netns exec`), listening on `address` port 0 there.
    pub fn start_in_namespace(
        namespace: &str,
        address: &str,
        data_dir: &Path,
        extra: &[&str],
    ) -> Server {
        let listen = format!("{address}:0");
        Server::spawn(
            &["ip", "netns", "exec", namespace],
            &listen,
            data_dir,
            extra,
            &[],
        )
    }

    /// Starts `drey server` behind `prefix` (a command that runs it
    /// elsewhere, or nothing), listening on `listen`.
    fn spawn(
        prefix: &[&str],
        listen: &str,
        data_dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        // One log per server: replicas may share a data dir.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr_log = data_dir.join(format!("server-{}-{n}.log", std::process::id()));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_log)
            .unwrap();
        let database = database_args(data_dir, extra);
        let database_url = database.get(1).cloned().or_else(|| {
            let at = extra.iter().position(|a| *a == "--database-url")?;
            extra.get(at + 1).map(|u| u.to_string())
        });
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut cmd = Command::new(first);
                cmd.args(rest).arg(env!("CARGO_BIN_EXE_drey"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_drey")),
        };
        cmd.arg("server")
            .arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(data_dir)
            .args(database)
            .args(extra)
            .env_remove("DREY_CONFIG")
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start drey");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let Some(addr) = line.trim().strip_prefix("drey listening on ") else {
            let _ = child.kill();
            let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
            panic!("drey did not start: stdout {line:?}, stderr:\n{log}");
        };
        Server {
            child,
            base: addr.to_owned(),
            data_dir: data_dir.to_owned(),
            // Generous: a statement's first request starts the SQL gateway,
            // which takes long on a loaded machine.
            client: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            stderr_log,
            token: None,
            database_url,
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// The server's process id (to freeze it with SIGSTOP).
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill9(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        self.child.wait().unwrap()
    }

    /// Everything the server's database holds, as bytes, to look for what
    /// must never be stored in clear: SQLite's files, or every row of
    /// PostgreSQL's tables with sealed data as its raw bytes.
    pub fn stored_bytes(&self) -> Vec<u8> {
        match &self.database_url {
            Some(url) => postgres::server()
                .psql(
                    url,
                    "SELECT row_to_json(o)::text || encode(coalesce(o.sealed, ''), 'escape') \
                     FROM objects o",
                )
                .into_bytes(),
            None => ["drey.db", "drey.db-wal"]
                .iter()
                .flat_map(|f| std::fs::read(self.data_dir.join(f)).unwrap_or_default())
                .collect(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// Sends a request and returns status and parsed JSON body (Null if empty).
    pub async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let response = self.call(method, path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.json(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.json(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.json(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.json(Method::DELETE, path, None).await
    }

    /// GETs a page as text (with the token, if any): the status and the text.
    pub async fn text(&self, path: &str) -> (u16, String) {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, String) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let response = req
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--database-url` of a PostgreSQL database when `DREY_TEST_DATABASE=postgres`
/// (one per data dir, so a restarted server finds its state), else nothing.
fn database_args(data_dir: &Path, extra: &[&str]) -> Vec<String> {
    let wanted = std::env::var("DREY_TEST_DATABASE").is_ok_and(|v| v == "postgres");
    if !wanted || extra.contains(&"--database-url") {
        return Vec::new();
    }
    let remembered = data_dir.join("test-database-url");
    let url = match std::fs::read_to_string(&remembered) {
        Ok(url) => url,
        Err(_) => {
            let url = postgres::server().create_database();
            std::fs::write(&remembered, &url).unwrap();
            url
        }
    };
    vec!["--database-url".to_owned(), url]
}

/// The message of a CMF RestError body, asserting its shape.
pub fn error_message(body: &Value) -> String {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("not a RestError: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    errors[0]["message"].as_str().unwrap().to_owned()
}

/// The seed's flink-application.yaml as JSON, with another name.
pub fn application(name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "cmf.confluent.io/v1",
        "kind": "FlinkApplication",
        "metadata": {"name": name},
        "spec": {
            "image": "confluentinc/cp-flink:1.19.1-cp2",
            "flinkVersion": "v1_19",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
            "serviceAccount": "flink",
            "jobManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "job": {
                "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
                "state": "running",
                "parallelism": 3,
                "upgradeMode": "stateless"
            }
        }
    })
}

/// The seed's flink-application.yaml, verbatim.
pub const SEED_APPLICATION_YAML: &str = "apiVersion: cmf.confluent.io/v1
kind: FlinkApplication
metadata:
  name: curl-example
spec:
  image: confluentinc/cp-flink:1.19.1-cp2
  flinkVersion: v1_19
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: \"1\"
  serviceAccount: flink
  jobManager:
    resource:
      memory: 1024m
      cpu: 1
  taskManager:
    resource:
      memory: 1024m
      cpu: 1
  job:
    jarURI: local:///opt/flink/examples/streaming/StateMachineExample.jar
    state: running
    parallelism: 3
    upgradeMode: stateless
";

/// Every event's `status.data` decodes as exactly one of CMF's `EventData`
/// shapes, `EventDataNewStatus` (`newStatus`) or `EventDataJobException`
/// (`exceptionString`), as its SDKs' strict `oneOf` decodes it.
pub fn assert_cmf_event_data(events: &[Value]) {
    assert!(!events.is_empty());
    for event in events {
        let data = event["status"]["data"]
            .as_object()
            .unwrap_or_else(|| panic!("an event without data: {event}"));
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert!(
            keys == ["newStatus"] || keys == ["exceptionString"],
            "not one of CMF's EventData shapes: {event}"
        );
        assert!(data.values().all(Value::is_string), "{event}");
    }
}
