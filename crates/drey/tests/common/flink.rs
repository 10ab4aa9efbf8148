//! Helpers for tests that drive real Flink through a real drey server.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::Server;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const APPS: &str = "/cmf/api/v1/environments/flink/applications";

pub fn testjobs() -> PathBuf {
    let dir = std::env::var_os("DREY_TESTJOBS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/testjobs"));
    assert!(
        dir.join("stateful-counter.jar").is_file(),
        "test jobs missing in {}: run scripts/build-testjobs.sh (scripts/test.sh does)",
        dir.display()
    );
    dir.canonicalize().unwrap()
}

/// A server with the reconciler on and tokens required; the root key is
/// sent with every request of the helper.
pub fn start(data: &Path) -> Server {
    start_with_args(data, &[])
}

/// [`start`] with extra server arguments.
pub fn start_with_args(data: &Path, extra: &[&str]) -> Server {
    let jobs = testjobs();
    // The tests' jobs write their output next to the data dir, which stays
    // hidden from the sandboxed clusters.
    let shared = data.parent().unwrap().to_str().unwrap().to_owned();
    let mut args = vec![
        "--jar-dir",
        jobs.to_str().unwrap(),
        "--reconcile-interval-seconds",
        "1",
        "--auth",
        "token",
        "--cluster-shared-dir",
        &shared,
    ];
    args.extend_from_slice(extra);
    let mut server = Server::start_with(data, &args, &[]);
    let root = std::fs::read_to_string(data.join("root.key")).unwrap();
    server.token = Some(root.trim().to_owned());
    server
}

/// The VVP deployment `counter` of testjobs' stateful counter (STATEFUL
/// upgrades from the latest savepoint), writing to `out`.
pub fn vvp_counter_deployment(out: &Path) -> Value {
    let jar = testjobs().join("stateful-counter.jar");
    json!({
        "metadata": {"name": "counter"},
        "spec": {
            "state": "RUNNING",
            "upgradeStrategy": {"kind": "STATEFUL"},
            "restoreStrategy": {"kind": "LATEST_SAVEPOINT"},
            "template": {"spec": {
                "artifact": {"kind": "JAR", "jarUri": format!("file://{}", jar.display()),
                             "entryClass": "io.drey.testjobs.StatefulCounter",
                             "mainArgs": format!("--out {} --rate 20", out.display())},
                "parallelism": 1
            }}
        }
    })
}

pub fn counter_app(name: &str, out: &Path, parallelism: u32, mode: &str) -> Value {
    counter_app_with(name, out, parallelism, mode, &[])
}

/// [`counter_app`] checkpointing every second (the fault tests restore
/// from its checkpoints).
pub fn checkpointing_counter_app(name: &str, out: &Path, parallelism: u32, mode: &str) -> Value {
    counter_app_with(
        name,
        out,
        parallelism,
        mode,
        &["--checkpoint-interval", "1000"],
    )
}

/// The counter application with `extra` job arguments.
fn counter_app_with(name: &str, out: &Path, parallelism: u32, mode: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--out", out.to_str().unwrap(), "--rate", "20"];
    args.extend_from_slice(extra);
    json!({
        "apiVersion": "cmf.confluent.io/v1",
        "kind": "FlinkApplication",
        "metadata": {"name": name},
        "spec": {
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
            "jobManager": {"resource": {"memory": "768m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "job": {
                "jarURI": format!("local://{}", testjobs().join("stateful-counter.jar").display()),
                "entryClass": "io.drey.testjobs.StatefulCounter",
                "args": args,
                "state": "running",
                "parallelism": parallelism,
                "upgradeMode": mode
            }
        }
    })
}

pub async fn status(s: &Server, app: &str) -> Value {
    let (code, body) = s.get(&format!("{APPS}/{app}")).await;
    assert_eq!(code, 200, "{body}");
    body["status"].clone()
}

/// Polls until `check` holds on the application's status; panics with the
/// last status and the server log after `limit`.
pub async fn wait_for(
    s: &Server,
    app: &str,
    what: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let st = status(s, app).await;
        if check(&st) {
            return st;
        }
        if Instant::now() > deadline {
            panic!(
                "{app}: not {what} after {limit:?}: {st:#}\nlog:\n{}",
                s.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn running(st: &Value) -> bool {
    st["lifecycleState"] == "STABLE" && st["jobStatus"]["state"] == "RUNNING"
}

/// The last count written for each key.
pub fn counts(out: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut last = BTreeMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [key, count, ..] = parts[..] {
            if let Ok(n) = count.parse() {
                last.insert(key.to_owned(), n);
            }
        }
    }
    last
}

/// Waits until the output file has grown past `lines` lines.
pub async fn wait_for_output(out: &Path, lines: usize) {
    // Generous: a job on a loaded machine may take long to write again.
    let deadline = Instant::now() + Duration::from_secs(180);
    while std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .count()
        <= lines
    {
        assert!(
            Instant::now() < deadline,
            "no new output in {}",
            out.display()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub fn line_count(out: &Path) -> usize {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .count()
}

/// The first count written for each key after line `from`.
pub fn first_counts_after(out: &Path, from: usize) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut first = BTreeMap::new();
    for line in text.lines().skip(from) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [key, count, ..] = parts[..] {
            if let Ok(n) = count.parse::<u64>() {
                first.entry(key.to_owned()).or_insert(n);
            }
        }
    }
    first
}

/// Pids of live Flink JVMs whose command line names `needle` and `main`
/// (a main class): the JVMs themselves, never the bubblewrap processes of
/// the sandbox around them (whose command lines name the same things).
pub fn flink_jvms(needle: &str, main: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            // Not Flink: the sandbox, and the cluster's network namespace (its keeper and
            // pasta, whose binary is passt's).
            let comm = comm.trim();
            if comm == "bwrap" || comm.starts_with("passt") || comm == "pasta" {
                return None;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains("drey-cluster-network") {
                return None;
            }
            (cmdline.contains(needle) && cmdline.contains(main)).then_some(pid)
        })
        .collect();
    pids.sort();
    pids
}

/// Every process whose command line names `needle`: pid, parent, name and
/// the command line's start, for a failure message.
pub fn describe_processes(needle: &str) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(needle) {
            continue;
        }
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .unwrap_or("?");
        let dir = cmdline
            .split("drey.cluster-dir=")
            .nth(1)
            .and_then(|d| d.split(' ').next())
            .unwrap_or("?");
        out.push_str(&format!(
            "pid {} ppid {ppid} {} dir {dir}: {}\n",
            e.file_name().to_string_lossy(),
            comm.trim(),
            cmdline.chars().take(160).collect::<String>()
        ));
    }
    out
}

/// The main class of a JobManager.
pub const JOBMANAGER: &str = "StandaloneSessionClusterEntrypoint";
/// The main class of a TaskManager.
pub const TASKMANAGER: &str = "TaskManagerRunner";

/// Live JobManager processes of application clusters under `data`.
pub fn app_jobmanagers(data: &Path) -> usize {
    let needle = data.join("clusters").join("app-");
    flink_jvms(&needle.to_string_lossy(), JOBMANAGER).len()
}

/// Waits up to `limit` for `check` on application `app`'s status,
/// asserting on every look that no second application cluster runs.
pub async fn converge_single(
    s: &Server,
    data: &Path,
    app: &str,
    limit: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let jms = app_jobmanagers(data);
        assert!(
            jms <= 1,
            "{jms} application clusters at once:\n{}\nlog:\n{}",
            describe_processes(&data.join("clusters").join("app-").to_string_lossy()),
            s.log()
        );
        let st = status(s, app).await;
        if check(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "{app}: not {what} after {limit:?}: {st:#}\nlog:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Flink processes (JVMs; not the sandbox's bwrap processes around them)
/// started under a data dir (their command lines name it).
pub fn flink_processes(data: &Path) -> usize {
    flink_jvms(&data.join("clusters").to_string_lossy(), "").len()
}

/// A client for a Flink REST URL drey recorded. A local cluster's REST API
/// takes drey's client certificate only: the cluster is found through the
/// command lines of the running Flink processes (`drey.cluster-dir=`), and
/// its data dir gives drey's certificate. Any other URL gets a plain client.
pub fn flink_client(rest_url: &str) -> drey_flink::FlinkClient {
    let config = drey_flink::ClientConfig {
        request_timeout: Duration::from_secs(5),
        get_retries: 0,
        ..Default::default()
    };
    let mut data_dirs: Vec<PathBuf> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter_map(|c| {
            let text = String::from_utf8_lossy(&c).replace('\0', " ");
            let dir = text.split("drey.cluster-dir=").nth(1)?;
            let dir = PathBuf::from(dir.split(' ').next()?);
            // <data>/clusters/<id>
            Some(dir.parent()?.parent()?.to_path_buf())
        })
        .collect();
    data_dirs.sort();
    data_dirs.dedup();
    for data in data_dirs {
        if let Ok(Some(_)) = drey_runtime::client_tls_for_url(&data, rest_url) {
            return drey_runtime::client_for_url(&data, rest_url, config).unwrap();
        }
    }
    drey_flink::FlinkClient::with_config(rest_url, config).unwrap()
}

/// GET `path` (e.g. `/jobs/overview`) of a Flink REST API, as JSON.
pub async fn flink_get(rest_url: &str, path: &str) -> Value {
    let answer = flink_client(rest_url)
        .raw(drey_flink::Method::GET, path, None, None)
        .await
        .unwrap_or_else(|e| panic!("GET {rest_url}{path}: {e}"));
    serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
        panic!(
            "GET {rest_url}{path} answered {}: {e}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
    })
}

pub async fn flink_jobs(rest_url: &str) -> Vec<(String, String)> {
    let body = flink_get(rest_url, "/jobs/overview").await;
    body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["jid"].as_str().unwrap().to_owned(),
                j["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub async fn answers(url: &str) -> bool {
    flink_client(url)
        .raw(drey_flink::Method::GET, "/overview", None, None)
        .await
        .is_ok()
}

/// Kills every Flink process under a data dir (clusters and the SQL
/// service) when dropped, so a failed test leaves nothing behind.
pub struct KillClusters(pub PathBuf);

impl Drop for KillClusters {
    fn drop(&mut self) {
        let needle = self.0.to_string_lossy().to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// Deletes an application through CMF and waits until it is gone and no
/// Flink process is left under the data dir.
pub async fn delete_and_wait(s: &Server, data: &Path, app: &str, limit: Duration) {
    let (code, body) = s.delete(&format!("{APPS}/{app}")).await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + limit;
    while s.get(&format!("{APPS}/{app}")).await.0 != 404 {
        assert!(
            Instant::now() < deadline,
            "{app} not deleted\nlog:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        flink_processes(data),
        0,
        "Flink processes left after delete"
    );
}

/// A test's own place on real Flink: a temporary dir holding the data dir
/// (whose clusters are killed when this is dropped, after the server), a
/// server started with [`start`], and the environment `flink`.
pub struct FlinkEnv {
    /// The server (dropped first).
    pub server: Server,
    /// Kills what the server started, once the server is gone.
    pub cleanup: KillClusters,
    /// The data dir.
    pub data: PathBuf,
    /// The temporary dir around it (job output goes here).
    pub dir: tempfile::TempDir,
}

impl FlinkEnv {
    /// Starts the server and creates the environment `flink`.
    pub async fn start() -> FlinkEnv {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let cleanup = KillClusters(data.clone());
        let server = start(&data);
        let (code, body) = server
            .post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await;
        assert_eq!(code, 201, "{body}");
        FlinkEnv {
            server,
            cleanup,
            data,
            dir,
        }
    }
}
