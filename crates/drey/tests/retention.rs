//! Retention on real Flink: an application keeps the savepoints its
//! `kubernetes.operator.savepoint.history.max.count` allows and the files of
//! the others go, its restore point is never disposed of, a torn-down
//! cluster's directory goes, a deleted application leaves no state behind,
//! and the jar download cache stays under `--download-cache-max-bytes`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Room for two downloads of the test job, not three.
fn cache_limit() -> u64 {
    let jar = std::fs::metadata(testjobs().join("stateful-counter.jar")).unwrap();
    jar.len() * 5 / 2
}

fn start_server(data: &Path) -> Server {
    let cache = cache_limit().to_string();
    start_with_args(
        data,
        &[
            "--download-cache-max-bytes",
            &cache,
            // The jar server is on loopback, refused unless allowed.
            "--outbound-allow",
            "127.0.0.1/32",
        ],
    )
}

/// Serves the counter jar under any path on loopback; counts downloads.
async fn serve_jars() -> (String, Arc<AtomicUsize>) {
    let bytes = std::fs::read(testjobs().join("stateful-counter.jar")).unwrap();
    let downloads = Arc::new(AtomicUsize::new(0));
    let counter = downloads.clone();
    let app = axum::Router::new().fallback(move || {
        let bytes = bytes.clone();
        counter.fetch_add(1, Ordering::SeqCst);
        async move { bytes }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), downloads)
}

fn local(location: &str) -> PathBuf {
    PathBuf::from(format!(
        "/{}",
        location.trim_start_matches("file:").trim_start_matches('/')
    ))
}

/// Entries of a directory (none when it does not exist).
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

fn cache_bytes(data: &Path) -> u64 {
    entries(&data.join("jars").join("downloads"))
        .iter()
        .map(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// The application's completed savepoint records: (name, location).
async fn completed_savepoints(s: &Server) -> Vec<(String, String)> {
    completed_savepoints_of(s, "keeper").await
}

async fn completed_savepoints_of(s: &Server, app: &str) -> Vec<(String, String)> {
    let (code, list) = s.get(&format!("{APPS}/{app}/savepoints")).await;
    assert_eq!(code, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|sp| sp["status"]["state"] == "COMPLETED")
        .map(|sp| {
            (
                sp["metadata"]["name"].as_str().unwrap().to_owned(),
                sp["status"]["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn keeper(out: &Path, jar: &str) -> Value {
    let mut app = counter_app("keeper", out, 1, "savepoint");
    app["spec"]["flinkConfiguration"]["kubernetes.operator.savepoint.history.max.count"] =
        json!("2");
    app["spec"]["job"]["jarURI"] = json!(jar);
    app
}

/// Waits until `status.lastSavepoint.location` is not `previous`.
async fn next_savepoint(s: &Server, previous: Option<&str>, limit: Duration) -> String {
    let st = wait_for(s, "keeper", "savepoint taken", limit, |st| {
        st["lastSavepoint"]["location"]
            .as_str()
            .is_some_and(|l| Some(l) != previous)
    })
    .await;
    st["lastSavepoint"]["location"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoint_history_disposal_and_clean_up_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let limit = Duration::from_secs(240);
    let (jars, downloads) = serve_jars().await;
    let s = start_server(&data);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );

    // A bad limit is the spec's fault, named.
    let mut bad = keeper(&out, &format!("{jars}/v1/job.jar"));
    bad["spec"]["flinkConfiguration"]["kubernetes.operator.savepoint.history.max.age"] =
        json!("a while");
    let (code, body) = s.post(APPS, bad).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string()
            .contains("kubernetes.operator.savepoint.history.max.age"),
        "{body}"
    );

    // Four savepoints on demand with a limit of two.
    let app = keeper(&out, &format!("{jars}/v1/job.jar"));
    assert_eq!(s.post(APPS, app.clone()).await.0, 201);
    wait_for(&s, "keeper", "RUNNING", limit, running).await;
    let mut taken: Vec<String> = Vec::new();
    for nonce in 1..=4 {
        wait_for_output(&out, line_count(&out) + 2).await;
        let mut app = app.clone();
        app["spec"]["job"]["savepointTriggerNonce"] = json!(nonce);
        assert_eq!(s.post(APPS, app).await.0, 201);
        let location = next_savepoint(&s, taken.last().map(String::as_str), limit).await;
        assert!(local(&location).join("_metadata").is_file(), "{location}");
        taken.push(location);
    }
    let records = completed_savepoints(&s).await;
    let mut kept: Vec<&str> = records.iter().map(|(_, l)| l.as_str()).collect();
    kept.sort();
    let mut newest = vec![taken[2].as_str(), taken[3].as_str()];
    newest.sort();
    assert_eq!(kept, newest, "the two newest records stay");
    for gone in &taken[..2] {
        assert!(
            !local(gone).exists(),
            "trimmed savepoint files remain: {gone}"
        );
    }
    for stays in &taken[2..] {
        assert!(local(stays).join("_metadata").is_file(), "{stays}");
    }
    let clusters = entries(&data.join("clusters"));
    assert_eq!(
        clusters.len(),
        1,
        "one deployment, one cluster dir: {clusters:?}"
    );

    // Suspend: the suspend's savepoint is the restore point; the oldest goes.
    let mut suspended = app.clone();
    suspended["spec"]["job"]["state"] = json!("suspended");
    suspended["spec"]["job"]["savepointTriggerNonce"] = json!(4);
    assert_eq!(s.post(APPS, suspended).await.0, 201);
    let st = wait_for(&s, "keeper", "SUSPENDED", limit, |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    let restore = st["jobStatus"]["upgradeSavepointPath"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!taken.contains(&restore), "{st:#}");
    assert!(!local(&taken[2]).exists(), "{}", taken[2]);
    assert!(local(&restore).join("_metadata").is_file());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !entries(&data.join("clusters")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the torn-down cluster's directory remains: {:?}",
            entries(&data.join("clusters"))
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Resume with another jar: it restores from the suspend's savepoint.
    let mut resumed = keeper(&out, &format!("{jars}/v2/job.jar"));
    resumed["spec"]["job"]["savepointTriggerNonce"] = json!(4);
    assert_eq!(s.post(APPS, resumed.clone()).await.0, 201);
    let st = wait_for(&s, "keeper", "RUNNING again", limit, running).await;
    assert_eq!(st["jobStatus"]["upgradeSavepointPath"], restore.as_str());
    assert!(local(&restore).join("_metadata").is_file());
    assert!(cache_bytes(&data) <= cache_limit());

    // An upgrade to a third jar: its savepoint, a third download that
    // evicts the least recently used one.
    tokio::time::sleep(Duration::from_secs(11)).await;
    wait_for_output(&out, line_count(&out) + 2).await;
    let mut upgraded = keeper(&out, &format!("{jars}/v3/job.jar"));
    upgraded["spec"]["job"]["savepointTriggerNonce"] = json!(4);
    assert_eq!(s.post(APPS, upgraded).await.0, 201);
    let upgrade_point = next_savepoint(&s, Some(&restore), limit).await;
    let st = wait_for(&s, "keeper", "RUNNING upgraded", limit, |st| {
        running(st) && st["jobStatus"]["upgradeSavepointPath"] == upgrade_point.as_str()
    })
    .await;
    assert!(running(&st));
    assert_eq!(downloads.load(Ordering::SeqCst), 3);
    let cached = entries(&data.join("jars").join("downloads"));
    assert_eq!(cached.len(), 2, "{cached:?}");
    assert!(cache_bytes(&data) <= cache_limit(), "{cached:?}");
    let records = completed_savepoints(&s).await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(!local(&taken[3]).exists(), "{}", taken[3]);
    assert_eq!(entries(&data.join("clusters")).len(), 1);

    // Deleting records through the API: the running deployment's restore
    // point keeps its files, the other one's go.
    for (name, location) in &records {
        let (code, body) = s.delete(&format!("{APPS}/keeper/savepoints/{name}")).await;
        assert!(code == 200 || code == 204, "{code} {body}");
        if *location == upgrade_point {
            assert!(local(location).join("_metadata").is_file(), "{location}");
        } else {
            assert_eq!(*location, restore);
            assert!(!local(location).exists(), "{location}");
        }
    }

    // Deleting the running application: no savepoints, checkpoints or
    // clusters left once the reconciler has taken it down.
    delete_app(&s, "keeper", limit).await;
    assert_nothing_left(&data);

    // A suspended application is deleted at once, its state all the same.
    let brief_out = dir.path().join("brief.txt");
    let mut brief = counter_app("brief", &brief_out, 1, "savepoint");
    assert_eq!(s.post(APPS, brief.clone()).await.0, 201);
    wait_for(&s, "brief", "RUNNING", limit, running).await;
    wait_for_output(&brief_out, 2).await;
    brief["spec"]["job"]["state"] = json!("suspended");
    assert_eq!(s.post(APPS, brief).await.0, 201);
    let st = wait_for(&s, "brief", "SUSPENDED", limit, |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    let savepoint = st["lastSavepoint"]["location"].as_str().unwrap();
    assert!(local(savepoint).join("_metadata").is_file(), "{st:#}");
    delete_app(&s, "brief", limit).await;
    assert_nothing_left(&data);
}

async fn delete_app(s: &Server, name: &str, limit: Duration) {
    let (code, body) = s.delete(&format!("{APPS}/{name}")).await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + limit;
    while s.get(&format!("{APPS}/{name}")).await.0 != 404 {
        assert!(Instant::now() < deadline, "not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn assert_nothing_left(data: &Path) {
    // State lives in `<org>/<env>/<uid>` under savepoints/ and checkpoints/:
    // the environment's directories stay, nothing of the application.
    for what in ["savepoints", "checkpoints"] {
        let left: Vec<PathBuf> = entries(&data.join(what))
            .iter()
            .flat_map(|org| entries(org))
            .flat_map(|env| entries(&env))
            .collect();
        assert!(left.is_empty(), "{what} left after delete: {left:?}");
    }
    let left = entries(&data.join("clusters"));
    assert!(left.is_empty(), "clusters left after delete: {left:?}");
    assert_eq!(flink_processes(data), 0);
}

/// `kubernetes.operator.periodic.savepoint.interval`: savepoints are taken
/// on schedule from the running job, and the history limit disposes of the
/// old ones as it does for savepoints asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_savepoints_on_schedule_within_the_history_limit() {
    let env = FlinkEnv::start().await;
    let (dir, data, s) = (&env.dir, &env.data, &env.server);
    let out = dir.path().join("ticks.txt");
    let limit = Duration::from_secs(240);
    let mut app = counter_app("ticker", &out, 1, "savepoint");
    let conf = &mut app["spec"]["flinkConfiguration"];
    conf["kubernetes.operator.savepoint.history.max.count"] = json!("2");
    conf["kubernetes.operator.periodic.savepoint.interval"] = json!("the hour");
    let (code, body) = s.post(APPS, app.clone()).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string()
            .contains("kubernetes.operator.periodic.savepoint.interval"),
        "{body}"
    );
    app["spec"]["flinkConfiguration"]["kubernetes.operator.periodic.savepoint.interval"] =
        json!("8s");
    assert_eq!(s.post(APPS, app).await.0, 201);
    wait_for(s, "ticker", "RUNNING", limit, running).await;

    // Four savepoints nobody asked for, one after another.
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(400);
    while seen.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "periodic savepoints seen: {seen:?}\n{}",
            s.log()
        );
        let st = status(s, "ticker").await;
        if let Some(location) = st["lastSavepoint"]["location"].as_str() {
            if seen.last().map(String::as_str) != Some(location) {
                seen.push(location.to_owned());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/ticker/events?size=100")
        .await;
    let mut triggered: Vec<i64> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"]["message"] == "Periodic savepoint triggered")
        .map(|e| {
            let at = e["metadata"]["creationTimestamp"].as_str().unwrap();
            chrono::DateTime::parse_from_rfc3339(at)
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    triggered.sort();
    assert!(triggered.len() >= 4, "{events:#}");
    for pair in triggered.windows(2) {
        // Not on every pass (1 s here): an interval apart, less the time
        // an event takes to be written after its trigger.
        assert!(pair[1] - pair[0] >= 6_000, "triggered at {triggered:?}");
    }

    // The history limit keeps the two newest; the files of the others go.
    for gone in &seen[..2] {
        assert!(!local(gone).exists(), "trimmed savepoint remains: {gone}");
    }
    assert!(local(&seen[3]).join("_metadata").is_file(), "{}", seen[3]);
    let records = completed_savepoints_of(s, "ticker").await;
    let kept: Vec<&str> = records.iter().map(|(_, l)| l.as_str()).collect();
    assert!(kept.len() <= 3, "{kept:?}");
    assert!(kept.contains(&seen[3].as_str()), "{kept:?}");
    assert!(!kept.contains(&seen[0].as_str()), "{kept:?}");
    delete_app(s, "ticker", limit).await;
    assert_nothing_left(data);
}
