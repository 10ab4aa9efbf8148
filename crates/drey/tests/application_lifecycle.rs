//! The application lifecycle end to end: a real drey server (reconciler on)
//! driving real Flink 2.3 clusters with the stateful test job. Needs Flink
//! (scripts/install-flink.sh) and the test jobs (scripts/build-testjobs.sh);
//! scripts/test.sh provides both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const APPS: &str = "/cmf/api/v1/environments/flink/applications";

fn testjobs() -> PathBuf {
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

fn start(data: &Path) -> Server {
    let jobs = testjobs();
    Server::start_with(
        data,
        &[
            "--jar-dir",
            jobs.to_str().unwrap(),
            "--reconcile-interval-seconds",
            "1",
        ],
        &[],
    )
}

fn counter_app(name: &str, out: &Path, parallelism: u32, mode: &str) -> Value {
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
                "args": ["--out", out.to_str().unwrap(), "--rate", "20"],
                "state": "running",
                "parallelism": parallelism,
                "upgradeMode": mode
            }
        }
    })
}

async fn status(s: &Server, app: &str) -> Value {
    let (code, body) = s.get(&format!("{APPS}/{app}")).await;
    assert_eq!(code, 200, "{body}");
    body["status"].clone()
}

/// Polls until `check` holds on the application's status; panics with the
/// last status and the server log after `limit`.
async fn wait_for(
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

fn running(st: &Value) -> bool {
    st["lifecycleState"] == "STABLE" && st["jobStatus"]["state"] == "RUNNING"
}

/// The last count written for each key.
fn counts(out: &Path) -> BTreeMap<String, u64> {
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
async fn wait_for_output(out: &Path, lines: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
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

fn line_count(out: &Path) -> usize {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .count()
}

/// The first count written for each key after line `from`.
fn first_counts_after(out: &Path, from: usize) -> BTreeMap<String, u64> {
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

/// Flink processes started under a data dir (their command lines name it).
fn flink_processes(data: &Path) -> usize {
    let needle = data.join("clusters").to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .count()
}

async fn flink_jobs(rest_url: &str) -> Vec<(String, String)> {
    let body: Value = reqwest::get(format!("{rest_url}/jobs/overview"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

async fn answers(url: &str) -> bool {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
        .get(format!("{url}/overview"))
        .send()
        .await
        .is_ok()
}

/// Kills every Flink process under a data dir when dropped, so a failed test
/// leaves no cluster behind.
struct KillClusters(PathBuf);

impl Drop for KillClusters {
    fn drop(&mut self) {
        let needle = self.0.join("clusters").to_string_lossy().to_string();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_lifecycle_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let limit = Duration::from_secs(240);
    let mut s = start(&data);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );

    // Deploy: the job runs on a cluster of its own, checked on Flink's own API.
    let (code, body) = s
        .post(APPS, counter_app("counter", &out, 1, "savepoint"))
        .await;
    assert_eq!(code, 201, "{body}");
    let st = wait_for(&s, "counter", "RUNNING", limit, running).await;
    let job_id = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    assert_eq!(job_id.len(), 32);
    assert!(st["jobStatus"]["jobName"].is_string());
    let first_instance = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        first_instance.replace('-', ""),
        job_id,
        "job id derives from the instance"
    );
    let rest_url = st["clusterInfo"]["restUrl"].as_str().unwrap().to_owned();
    assert_eq!(
        flink_jobs(&rest_url).await,
        vec![(job_id.clone(), "RUNNING".to_owned())]
    );
    wait_for_output(&out, 10).await;

    // Suspend: a savepoint on disk, no Flink process left.
    let (code, _) = s.post(&format!("{APPS}/counter/suspend"), json!({})).await;
    assert_eq!(code, 200);
    let st = wait_for(&s, "counter", "SUSPENDED", limit, |st| {
        st["lifecycleState"] == "SUSPENDED" && st["reconciler"].get("deployment").is_none()
    })
    .await;
    let savepoint = st["lastSavepoint"]["location"].as_str().unwrap().to_owned();
    let savepoint_dir = PathBuf::from(
        savepoint
            .trim_start_matches("file:")
            .trim_start_matches("//"),
    );
    assert!(
        savepoint_dir.join("_metadata").is_file(),
        "{savepoint} on disk"
    );
    assert_eq!(flink_processes(&data), 0, "no Flink process after suspend");
    assert!(
        !answers(&rest_url).await,
        "the old cluster's port is closed"
    );
    let before = counts(&out);
    let lines = line_count(&out);

    // Start: restored from the savepoint, the counts continue.
    assert_eq!(
        s.post(&format!("{APPS}/counter/start"), json!({})).await.0,
        200
    );
    let st = wait_for(&s, "counter", "RUNNING again", limit, running).await;
    assert_eq!(st["jobStatus"]["upgradeSavepointPath"], savepoint.as_str());
    wait_for_output(&out, lines + 6).await;
    let resumed = first_counts_after(&out, lines);
    for (key, n) in &resumed {
        let saved = before.get(key).copied().unwrap_or(0);
        assert!(
            *n > saved.saturating_sub(5) && *n > 1,
            "{key}: resumed at {n}, saved {saved}"
        );
    }

    // Savepoints on demand: a savepoint resource, then savepointTriggerNonce.
    let savepoints = format!("{APPS}/counter/savepoints");
    let (code, body) = s
        .post(
            &savepoints,
            json!({"metadata": {"name": "on-demand"}, "spec": {}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + limit;
    let taken = loop {
        let (_, sp) = s.get(&format!("{savepoints}/on-demand")).await;
        if sp["status"]["state"] == "COMPLETED" {
            break sp;
        }
        assert!(sp["status"]["state"] != "FAILED", "{sp:#}");
        assert!(
            Instant::now() < deadline,
            "savepoint not taken: {sp:#}
{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let path = taken["status"]["path"].as_str().unwrap();
    assert!(
        Path::new(path.trim_start_matches("file:").trim_start_matches("//"))
            .join("_metadata")
            .is_file()
    );
    let mut nonce = counter_app("counter", &out, 1, "savepoint");
    nonce["spec"]["job"]["savepointTriggerNonce"] = json!(1);
    assert_eq!(s.post(APPS, nonce).await.0, 201);
    let deadline = Instant::now() + limit;
    loop {
        let (_, list) = s.get(&savepoints).await;
        // The suspend's, the resource's and the nonce's savepoints, all COMPLETED.
        let done = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|sp| sp["status"]["state"] == "COMPLETED")
            .count();
        if done >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nonce savepoint not taken: {list:#}
{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The nonce is no spec change: the same deployment keeps running.
    let st = status(&s, "counter").await;
    assert!(running(&st), "{st:#}");

    // Upgrade parallelism 1 -> 2 with a savepoint, and kill -9 drey mid-way.
    let lines = line_count(&out);
    let before = counts(&out);
    let (code, _) = s
        .post(APPS, counter_app("counter", &out, 2, "savepoint"))
        .await;
    assert_eq!(code, 201);
    wait_for(&s, "counter", "upgrading", limit, |st| {
        st["lifecycleState"] == "UPGRADING"
    })
    .await;
    s.kill9();
    s = start(&data);
    let st = wait_for(&s, "counter", "RUNNING after the upgrade", limit, |st| {
        running(st)
            && st["reconciler"]["deployment"]["fingerprint"].is_string()
            && st["currentDeployedInstanceName"] != first_instance.as_str()
    })
    .await;
    let rest_url = st["clusterInfo"]["restUrl"].as_str().unwrap().to_owned();
    let jobs = flink_jobs(&rest_url).await;
    assert_eq!(jobs.len(), 1, "exactly one job: {jobs:?}");
    assert_eq!(jobs[0].1, "RUNNING");
    let (_, instances) = s.get(&format!("{APPS}/counter/instances")).await;
    assert_eq!(instances["metadata"]["size"], 3, "{instances:#}");
    assert_eq!(
        instances["items"][0]["status"]["spec"]["job"]["parallelism"],
        2
    );
    wait_for_output(&out, lines + 6).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > saved.saturating_sub(5) && n > 1,
            "{key}: after upgrade {n}, before {saved}"
        );
    }
    // Exactly one cluster's processes (1 JobManager + 2 TaskManagers).
    assert_eq!(flink_processes(&data), 3);

    // A failing job: FAILED with its exception in status and events.
    let mut failing = counter_app("failing", &out, 1, "stateless");
    failing["spec"]["job"]["jarURI"] = json!(format!(
        "local://{}",
        testjobs().join("failing-job.jar").display()
    ));
    failing["spec"]["job"]["entryClass"] = json!("io.drey.testjobs.FailingJob");
    failing["spec"]["job"]["args"] = json!(["--fail-after", "5"]);
    assert_eq!(s.post(APPS, failing).await.0, 201);
    let st = wait_for(&s, "failing", "FAILED", limit, |st| {
        st["lifecycleState"] == "FAILED"
    })
    .await;
    assert_eq!(st["jobStatus"]["state"], "FAILED");
    assert!(
        st["error"].as_str().unwrap().contains("drey-test-failure"),
        "{st:#}"
    );
    let (_, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/failing/events?size=50")
        .await;
    let items = events["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|e| e["status"]["data"]["newStatus"] == "FAILED"));
    assert!(items.iter().any(|e| e["status"]["data"]["exceptionString"]
        .as_str()
        .map(|t| t.contains("drey-test-failure"))
        .unwrap_or(false)));

    // Jars that cannot be used fail the application with a message naming the field.
    let mut missing = counter_app("missing-jar", &out, 1, "stateless");
    missing["spec"]["job"]["jarURI"] =
        json!(format!("local://{}", testjobs().join("nope.jar").display()));
    assert_eq!(s.post(APPS, missing).await.0, 201);
    let st = wait_for(&s, "missing-jar", "FAILED", limit, |st| {
        st["lifecycleState"] == "FAILED"
    })
    .await;
    assert!(
        st["error"].as_str().unwrap().contains("spec.job.jarURI"),
        "{st:#}"
    );
    let mut outside = counter_app("outside-jar", &out, 1, "stateless");
    outside["spec"]["job"]["jarURI"] = json!("local:///etc/passwd");
    assert_eq!(s.post(APPS, outside).await.0, 201);
    let st = wait_for(&s, "outside-jar", "FAILED", limit, |st| {
        st["lifecycleState"] == "FAILED"
    })
    .await;
    assert!(
        st["error"]
            .as_str()
            .unwrap()
            .contains("outside the allowed"),
        "{st:#}"
    );

    // Delete: DELETING while it runs, then gone with its processes.
    for app in ["counter", "failing", "missing-jar", "outside-jar"] {
        let (code, _) = s.delete(&format!("{APPS}/{app}")).await;
        assert_eq!(code, 200);
    }
    let deadline = Instant::now() + limit;
    for app in ["counter", "failing", "missing-jar", "outside-jar"] {
        while s.get(&format!("{APPS}/{app}")).await.0 != 404 {
            assert!(Instant::now() < deadline, "{app} not deleted:\n{}", s.log());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert_eq!(flink_processes(&data), 0, "no Flink process after delete");
    assert!(!answers(&rest_url).await, "the cluster's port is closed");
}
