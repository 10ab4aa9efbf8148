//! An existing Flink cluster drey did not start, on another host (a network
//! namespace of the test's, Flink's own scripts): registered with `drey
//! cluster add`, watched (CONNECTED with heartbeats; DISCONNECTED within
//! seconds while its JobManager is frozen, and back), shown through CMF's
//! kubernetes-clusters and LakeSail's clusters, its foreign job listed
//! read-only and never touched, decommissioned and removed while the
//! cluster keeps running. Another organization cannot see or bind it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{start, testjobs, KillClusters};
use common::standalone::{Host, Standalone};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Runs the `drey` CLI against `s`; returns (exit code, stdout, stderr).
fn cli(s: &Server, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(args)
        .env("DREY_URL", &s.base)
        .env("DREY_TOKEN", s.token.as_deref().unwrap_or_default())
        .env_remove("DREY_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn cluster_status(s: &Server, id: &str) -> Value {
    let (code, body) = s.get(&format!("/api/org/v1/clusters/{id}")).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// Waits until the cluster's status passes `check`; returns it and how long it took.
async fn wait_cluster(
    s: &Server,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let c = cluster_status(s, id).await;
        if check(&c["status"]) {
            return (c, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "cluster not {what}: {c:#}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn flink_job_state(rest_url: &str, job: &str) -> String {
    let body: Value = reqwest::get(format!("{rest_url}/jobs/{job}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["state"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_flink_cluster_is_watched_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let host = Host::new(1);
    let flink = Standalone::start(&host, &dir.path().join("standalone")).await;

    // Another team's job, submitted with Flink's own client.
    let out = dir.path().join("foreign.txt");
    let foreign = flink.submit_with_flink_cli(
        &testjobs().join("stateful-counter.jar"),
        "io.drey.testjobs.StatefulCounter",
        &["--out", out.to_str().unwrap(), "--rate", "5"],
    );

    let s = start(&data);
    let savepoints = format!("file://{}/savepoints", dir.path().display());
    let (code, stdout, stderr) = cli(
        &s,
        &[
            "cluster",
            "add",
            "ext-flink",
            "--endpoint",
            &flink.rest_url,
            "--savepoint-dir",
            &savepoints,
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let registered: Value = serde_json::from_str(&stdout).unwrap();
    let id = registered["id"].as_str().unwrap().to_owned();
    assert_eq!(registered["kind"], "flink");
    assert_eq!(registered["savepointDir"], json!(savepoints));
    // A second registration of the name, and bad fields, are refused by name.
    let (code, _, stderr) = cli(
        &s,
        &["cluster", "add", "ext-flink", "--endpoint", &flink.rest_url],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, bad) = s
        .post(
            "/api/org/v1/clusters",
            json!({"name": "bad", "kind": "flink", "endpoint": "ftp://x"}),
        )
        .await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad.to_string().contains("endpoint"), "{bad}");
    let (code, bad) = s
        .post(
            "/api/org/v1/clusters",
            json!({"name": "bad", "kind": "flink", "endpoint": "http://x:1",
                   "credentials": {"user": "a"}}),
        )
        .await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad.to_string().contains("credentials"), "{bad}");

    // CONNECTED, with what the cluster says of itself and its jobs.
    let (c, took) = wait_cluster(&s, &id, "CONNECTED", |st| st["state"] == "CONNECTED").await;
    println!(
        "registered cluster CONNECTED after {:.1} s",
        took.as_secs_f64()
    );
    let st = &c["status"];
    assert_eq!(st["flinkVersion"], "2.3.0", "{c:#}");
    assert_eq!(st["taskManagers"], 1);
    assert_eq!(st["slotsTotal"], 2);
    let jobs = st["jobs"].as_array().unwrap();
    assert!(
        jobs.iter()
            .any(|j| j["jobId"] == foreign.as_str() && j["managed"] == false),
        "the foreign job is listed, read-only: {c:#}"
    );
    let heartbeat = st["lastHeartbeatTimestamp"].as_str().unwrap().to_owned();

    // CMF sees the same registry, beside the local machine.
    let (code, page) = s.get("/cmf/api/v1/kubernetes-clusters").await;
    assert_eq!(code, 200, "{page}");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "ext-flink"], "{page:#}");
    assert_eq!(page["metadata"]["size"], 2);
    let (code, k) = s.get("/cmf/api/v1/kubernetes-clusters/ext-flink").await;
    assert_eq!(code, 200, "{k}");
    assert_eq!(k["kind"], "KubernetesCluster");
    assert_eq!(k["spec"]["lifecycleState"], "ACTIVE");
    assert_eq!(k["status"]["state"], "CONNECTED");
    assert!(k["status"]["lastHeartbeatTimestamp"].is_string(), "{k}");
    let (code, missing) = s.get("/cmf/api/v1/kubernetes-clusters/nope").await;
    assert_eq!(code, 404, "{missing}");
    assert!(missing["errors"][0]["message"].is_string(), "{missing}");

    // Environments: local by default; only registered clusters can be named
    // (applications on one: `applications_run_on_an_existing_cluster`).
    let (code, env) = s
        .post("/cmf/api/v1/environments", json!({"name": "prod"}))
        .await;
    assert_eq!(code, 201, "{env}");
    assert_eq!(env["kubernetesClusterName"], "local");
    assert_eq!(env["status"]["kubernetesCluster"]["state"], "CONNECTED");
    for (name, why) in [("nope", "no cluster named 'nope'")] {
        let (code, body) = s
            .post(
                "/cmf/api/v1/environments",
                json!({"name": "remote", "kubernetesClusterName": name}),
            )
            .await;
        assert_eq!(code, 400, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("kubernetesClusterName") && message.contains(why),
            "{message}"
        );
    }

    // The JobManager frozen: DISCONNECTED within seconds, the job untouched.
    let jobmanager = nix::unistd::Pid::from_raw(flink.jobmanager_pid());
    nix::sys::signal::kill(jobmanager, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let (c, took) = wait_cluster(&s, &id, "DISCONNECTED", |st| st["state"] == "DISCONNECTED").await;
    println!(
        "a frozen JobManager reported DISCONNECTED after {:.1} s",
        took.as_secs_f64()
    );
    assert!(
        c["status"]["message"]
            .as_str()
            .unwrap()
            .contains("does not answer"),
        "{c:#}"
    );
    assert!(c["status"]["lastHeartbeatTimestamp"].as_str().unwrap() >= heartbeat.as_str());
    let (_, k) = s.get("/cmf/api/v1/kubernetes-clusters/ext-flink").await;
    assert_eq!(k["status"]["state"], "DISCONNECTED", "{k}");
    assert!(k["status"]["message"].is_string(), "{k}");
    nix::sys::signal::kill(jobmanager, nix::sys::signal::Signal::SIGCONT).unwrap();
    wait_cluster(&s, &id, "CONNECTED again", |st| st["state"] == "CONNECTED").await;
    assert_eq!(flink_job_state(&flink.rest_url, &foreign).await, "RUNNING");
    let log = s.log();
    assert!(
        log.contains("CLUSTER_DISCONNECTED") && log.contains("CLUSTER_CONNECTED"),
        "state changes are logged:\n{log}"
    );

    // Another organization neither sees it nor binds a workspace to it.
    let (code, org) = s
        .post("/api/admin/v1/organizations", json!({"name": "globex"}))
        .await;
    assert_eq!(code, 201, "{org}");
    let (code, key) = s
        .post(
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(code, 201, "{key}");
    let other_token = key["key"].as_str().unwrap().to_owned();
    let as_other = |method: Method, path: &str, body: Option<Value>| {
        let url = s.url(path);
        let token = other_token.clone();
        let client = s.client.clone();
        async move {
            let mut req = client.request(method, url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.unwrap();
            let code = r.status().as_u16();
            (code, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (code, _) = as_other(Method::GET, &format!("/api/org/v1/clusters/{id}"), None).await;
    assert_eq!(code, 404);
    let (code, body) = as_other(
        Method::POST,
        "/api/org/v1/workspaces",
        Some(json!({"name": "stolen", "clusterId": id})),
    )
    .await;
    assert!((400..500).contains(&code), "{code} {body}");
    let (_, page) = as_other(Method::GET, "/cmf/api/v1/kubernetes-clusters", None).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "only local: {page}"
    );

    // Decommissioned: no longer watched; recommissioned: watched again.
    let (code, body) = s
        .put(
            "/cmf/api/v1/kubernetes-clusters/local",
            json!({"spec": {"lifecycleState": "DECOMMISSIONED"}}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let (code, k) = s
        .put(
            "/cmf/api/v1/kubernetes-clusters/ext-flink",
            json!({"metadata": {"name": "ext-flink", "labels": {"team": "data"}},
                   "spec": {"lifecycleState": "DECOMMISSIONED"}}),
        )
        .await;
    assert_eq!(code, 200, "{k}");
    assert_eq!(k["spec"]["lifecycleState"], "DECOMMISSIONED");
    assert_eq!(k["metadata"]["labels"]["team"], "data");
    assert_eq!(k["status"]["state"], "DECOMMISSIONED");
    wait_cluster(&s, &id, "DECOMMISSIONED", |st| {
        st["state"] == "DECOMMISSIONED"
    })
    .await;
    let (code, body) = s
        .put(
            "/cmf/api/v1/kubernetes-clusters/ext-flink",
            json!({"spec": {"lifecycleState": "GONE"}}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let (code, _) = s
        .put(
            "/cmf/api/v1/kubernetes-clusters/ext-flink",
            json!({"spec": {"lifecycleState": "ACTIVE"}}),
        )
        .await;
    assert_eq!(code, 200);
    wait_cluster(&s, &id, "CONNECTED after recommissioning", |st| {
        st["state"] == "CONNECTED"
    })
    .await;

    // The CLI lists and shows it; removing it leaves the cluster and its job alone.
    let (code, stdout, stderr) = cli(&s, &["cluster", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("ext-flink") && stdout.contains("CONNECTED"),
        "{stdout}"
    );
    let (code, stdout, _) = cli(&s, &["cluster", "get", "ext-flink", "-o", "json"]);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["status"]["state"], "CONNECTED");
    assert!(!stdout.contains("password") && !stdout.contains("token"));
    let (code, _, stderr) = cli(&s, &["cluster", "remove", "ext-flink"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, _) = cli(&s, &["cluster", "get", "ext-flink"]);
    assert_eq!(code, 3, "not found after remove");
    assert_eq!(flink_job_state(&flink.rest_url, &foreign).await, "RUNNING");
    let overview: Value = reqwest::get(format!("{}/overview", flink.rest_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["jobs-running"], 1, "drey submitted nothing there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_behind_a_proxy_gets_its_credentials_and_never_shows_them() {
    // The credentials are sealed at rest and sent as the Authorization
    // header; here nothing listens, so the cluster is DISCONNECTED with a
    // reason, and nowhere does the secret appear.
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(dir.path(), &["--reconcile-interval-seconds", "1"], &[]);
    const SECRET: &str = "s3cr3t-proxy-password";
    let (code, c) = s
        .post(
            "/api/org/v1/clusters",
            json!({"name": "proxied", "kind": "flink", "endpoint": "http://127.0.0.1:9",
                   "insecure": true,
                   "credentials": {"username": "drey", "password": SECRET}}),
        )
        .await;
    assert_eq!(code, 201, "{c}");
    assert_eq!(c["hasCredentials"], true);
    let id = c["id"].as_str().unwrap().to_owned();
    let (c, _) = wait_cluster(&s, &id, "DISCONNECTED", |st| st["state"] == "DISCONNECTED").await;
    assert!(c["status"]["message"].is_string(), "{c:#}");
    let (_, k) = s.get("/cmf/api/v1/kubernetes-clusters/proxied").await;
    for shown in [c.to_string(), k.to_string(), s.log()] {
        assert!(!shown.contains(SECRET), "the secret leaked: {shown}");
    }
    let stored = s.stored_bytes();
    assert!(
        !String::from_utf8_lossy(&stored).contains(SECRET),
        "the secret is in clear in the store"
    );
    // Bad input on CMF's PUT: a 4xx in CMF's error body, never a 500.
    for (body, code) in [
        (json!([1]), 400),
        (json!({"metadata": {"labels": {"team": 1}}}), 400),
        (json!({"metadata": {"name": "other"}}), 400),
        (json!({"spec": {"lifecycleState": 7}}), 400),
    ] {
        let (got, reply) = s
            .put("/cmf/api/v1/kubernetes-clusters/proxied", body.clone())
            .await;
        assert_eq!(got, code, "{body} -> {reply}");
        assert!(reply["errors"][0]["message"].is_string(), "{reply}");
    }
    let (got, reply) = s
        .put(
            "/cmf/api/v1/kubernetes-clusters/absent",
            json!({"spec": {}}),
        )
        .await;
    assert_eq!(got, 404, "{reply}");
    let (got, reply) = s
        .post("/api/org/v1/clusters", json!({"name": 5, "kind": "flink"}))
        .await;
    assert_eq!(got, 400, "{reply}");
    assert!(reply.to_string().contains("name"), "{reply}");
    // A CA file that is not there is refused by name.
    let (code, body) = s
        .post(
            "/api/org/v1/clusters",
            json!({"name": "tls", "kind": "flink", "endpoint": "https://127.0.0.1:9",
                   "caFile": "/nonexistent/ca.pem"}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("caFile"), "{body}");
}

const REMOTE_APPS: &str = "/cmf/api/v1/environments/remote/applications";

/// The types of the application's events, newest first.
async fn event_types(s: &Server, app: &str) -> Vec<String> {
    let (code, events) = s
        .get(&format!(
            "/cmf/api/v1alpha1/environments/remote/applications/{app}/events"
        ))
        .await;
    assert_eq!(code, 200, "{events}");
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["status"]["type"].as_str().map(str::to_owned))
        .collect()
}

/// The `chk-N` dirs under a dir, for the test's output.
fn walk_checkpoints(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name().to_string_lossy().starts_with("chk-") {
                found.push(path.display().to_string());
            } else {
                found.extend(walk_checkpoints(&path));
            }
        }
    }
    found
}

async fn remote_status(s: &Server, app: &str) -> Value {
    let (code, body) = s.get(&format!("{REMOTE_APPS}/{app}")).await;
    assert_eq!(code, 200, "{body}");
    body["status"].clone()
}

async fn wait_remote(s: &Server, app: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let st = remote_status(s, app).await;
        if check(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "{app}: not {what}: {st:#}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// drey's jobs on the cluster, by state.
async fn jobs_on(rest_url: &str) -> Vec<(String, String)> {
    common::flink::flink_jobs(rest_url).await
}

/// A drey server, and a standalone Flink cluster on another host registered
/// as `ext` (drey's savepoints under the test's dir) with a CMF environment
/// bound to it.
struct OnCluster {
    s: Server,
    flink: Standalone,
    host: Host,
    data: std::path::PathBuf,
    savepoints: std::path::PathBuf,
    /// The registration, as LakeSail shows it.
    cluster: Value,
    /// drey's SQL gateway outlives drey: it goes with the data dir.
    cleanup: KillClusters,
    dir: tempfile::TempDir,
}

async fn on_cluster(host: u8, env: &str) -> OnCluster {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let host = Host::new(host);
    let flink = Standalone::start(&host, &dir.path().join("standalone")).await;
    let s = start(&data);
    let savepoints = dir.path().join("drey-savepoints");
    let (code, cluster) = s
        .post(
            "/api/org/v1/clusters",
            json!({"name": "ext", "kind": "flink", "endpoint": flink.rest_url,
                   "savepointDir": format!("file://{}", savepoints.display())}),
        )
        .await;
    assert_eq!(code, 201, "{cluster}");
    let (code, body) = s
        .post(
            "/cmf/api/v1/environments",
            json!({"name": env, "kubernetesClusterName": "ext"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["kubernetesClusterName"], "ext");
    OnCluster {
        s,
        flink,
        host,
        cleanup: KillClusters(data.clone()),
        data,
        savepoints,
        cluster,
        dir,
    }
}

/// A VVP Deployment `counter` of the counter job, writing to `out`, placed
/// with `placement` (`deploymentTargetName` or `sessionClusterName`) = `on`.
fn vvp_counter(placement: &str, on: &str, out: &std::path::Path) -> Value {
    let mut deployment = common::flink::vvp_counter_deployment(out);
    if let Some(spec) = deployment.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert(placement.to_owned(), json!(on));
    }
    deployment
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_run_on_an_existing_cluster() {
    use common::flink::{counts, first_counts_after, line_count, running, wait_for_output};
    // An environment bound to the cluster: its applications run there.
    let OnCluster {
        s,
        flink,
        host,
        data,
        savepoints,
        cluster: c,
        cleanup: _cleanup,
        dir,
    } = on_cluster(2, "remote").await;
    let out = dir.path().join("counts.txt");
    let mut app = common::flink::counter_app("counter", &out, 1, "savepoint");
    app["spec"]["job"]["args"] = json!(["--out", out.to_str().unwrap(), "--rate", "20"]);
    let (code, body) = s.post(REMOTE_APPS, app.clone()).await;
    assert_eq!(code, 201, "{body}");
    let st = wait_remote(&s, "counter", "RUNNING", running).await;
    let job = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    assert_eq!(
        st["clusterInfo"]["restUrl"],
        flink.rest_url.as_str(),
        "{st:#}"
    );
    assert!(
        jobs_on(&flink.rest_url)
            .await
            .contains(&(job.clone(), "RUNNING".into())),
        "the job runs on the registered cluster with drey's job id"
    );
    assert_eq!(
        common::flink::flink_processes(&data),
        0,
        "drey started no Flink cluster of its own"
    );
    wait_for_output(&out, 10).await;

    // Its Web UI is the shared cluster's: not forwarded.
    let (code, body) = s
        .get(&format!("{REMOTE_APPS}/counter/flink-web-ui/overview"))
        .await;
    assert_eq!(code, 409, "{body}");

    // The JobManager frozen: reported, never acted on; the same job after.
    let jobmanager = nix::unistd::Pid::from_raw(flink.jobmanager_pid());
    nix::sys::signal::kill(jobmanager, nix::sys::signal::Signal::SIGSTOP).unwrap();
    wait_remote(&s, "counter", "reported as not answering", |st| {
        st["conditions"][0]["status"] == "False"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    nix::sys::signal::kill(jobmanager, nix::sys::signal::Signal::SIGCONT).unwrap();
    let st = wait_remote(&s, "counter", "answering again", |st| {
        st["conditions"][0]["status"] == "True" && running(st)
    })
    .await;
    assert_eq!(st["jobStatus"]["jobId"], job.as_str(), "{st:#}");
    let types = event_types(&s, "counter").await;
    assert!(
        types.iter().any(|t| t == "JOBMANAGER_NOT_ANSWERING")
            && !types.iter().any(|t| t == "CLUSTER_LOST"),
        "{types:?}"
    );

    // After a freeze Flink may restart the job's tasks on its own (heartbeats
    // timed out); a savepoint needs it running again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    wait_remote(&s, "counter", "RUNNING after the freeze", running).await;

    // Suspend: stop-with-savepoint into the registered savepoint dir; the
    // cluster stays.
    let (code, _) = s
        .post(&format!("{REMOTE_APPS}/counter/suspend"), json!({}))
        .await;
    assert_eq!(code, 200);
    let st = wait_remote(&s, "counter", "SUSPENDED", |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    let Some(savepoint) = st["lastSavepoint"]["location"].as_str().map(str::to_owned) else {
        let (_, events) = s
            .get("/cmf/api/v1alpha1/environments/remote/applications/counter/events")
            .await;
        panic!(
            "suspended without a savepoint: {st:#}\n{events:#}\n{}",
            s.log()
        );
    };
    let on_disk = std::path::PathBuf::from(
        savepoint
            .trim_start_matches("file:")
            .trim_start_matches("//"),
    );
    assert!(
        on_disk.starts_with(&savepoints) && on_disk.join("_metadata").is_file(),
        "{savepoint} under {}",
        savepoints.display()
    );
    assert!(
        jobs_on(&flink.rest_url)
            .await
            .iter()
            .all(|(_, state)| state != "RUNNING"),
        "no job of drey's runs after suspend"
    );
    let before = counts(&out);
    let lines = line_count(&out);

    // Start: from the savepoint, the counts continue.
    let (code, _) = s
        .post(&format!("{REMOTE_APPS}/counter/start"), json!({}))
        .await;
    assert_eq!(code, 200);
    let st = wait_remote(&s, "counter", "RUNNING again", running).await;
    assert_eq!(st["jobStatus"]["upgradeSavepointPath"], savepoint.as_str());
    wait_for_output(&out, lines + 6).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > saved.saturating_sub(5) && n > 1,
            "{key}: resumed at {n}, saved {saved}"
        );
    }

    // Parallelism 1 -> 2: a savepoint upgrade on the same cluster.
    let lines = line_count(&out);
    let before = counts(&out);
    app["spec"]["job"]["parallelism"] = json!(2);
    let (code, body) = s.post(REMOTE_APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    let st = wait_remote(&s, "counter", "RUNNING with parallelism 2", |st| {
        running(st) && st["jobStatus"]["upgradeSavepointPath"] != savepoint.as_str()
    })
    .await;
    let upgraded = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    let detail: Value = reqwest::get(format!("{}/jobs/{upgraded}", flink.rest_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        detail["vertices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["parallelism"] == 2),
        "{detail:#}"
    );
    wait_for_output(&out, lines + 6).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > saved.saturating_sub(5) && n > 1,
            "{key}: resumed at {n}, saved {saved}"
        );
    }
    let running_jobs: Vec<_> = jobs_on(&flink.rest_url)
        .await
        .into_iter()
        .filter(|(_, state)| state == "RUNNING")
        .collect();
    assert_eq!(running_jobs, [(upgraded.clone(), "RUNNING".to_owned())]);

    // The JobManager killed and started again without HA: the cluster
    // forgot the job, which is redeployed there from the newest checkpoint
    // drey saw (recorded at most every 5 s; the cluster retains 5, so it is
    // still there), the counts continuing.
    wait_for_output(&out, line_count(&out) + 60).await;
    let lines = line_count(&out);
    let retained: Vec<String> = walk_checkpoints(&savepoints);
    println!("checkpoints on disk before the JobManager is killed: {retained:?}");
    flink.restart_jobmanager(&host).await;
    let st = wait_remote(
        &s,
        "counter",
        "redeployed after the cluster forgot it",
        |st| running(st) && st["jobStatus"]["jobId"] != upgraded.as_str(),
    )
    .await;
    let restored = st["jobStatus"]["upgradeSavepointPath"]
        .as_str()
        .unwrap_or_default();
    assert!(
        restored.contains("/checkpoints/") && restored.contains("chk-"),
        "restored from a checkpoint: {st:#}"
    );
    let types = event_types(&s, "counter").await;
    assert!(types.iter().any(|t| t == "CLUSTER_LOST"), "{types:?}");
    wait_for_output(&out, lines + 6).await;
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 10, "{key}: restarted at {n}, not from its state");
    }

    // Delete: the job goes, the cluster stays.
    let (code, body) = s.delete(&format!("{REMOTE_APPS}/counter")).await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.get(&format!("{REMOTE_APPS}/counter")).await.0 != 404 {
        assert!(Instant::now() < deadline, "not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        jobs_on(&flink.rest_url)
            .await
            .iter()
            .all(|(_, state)| state != "RUNNING"),
        "no job of drey's runs after delete"
    );
    assert!(
        common::flink::answers(&flink.rest_url).await,
        "the cluster is still up"
    );

    // LakeSail: a workspace on the cluster runs its applications there.
    let cluster_id = c["id"].as_str().unwrap();
    let (code, ws) = s
        .post(
            "/api/org/v1/workspaces",
            json!({"name": "Remote", "clusterId": cluster_id}),
        )
        .await;
    assert_eq!(code, 201, "{ws}");
    assert_eq!(ws["clusterId"], cluster_id);
    let apps = format!(
        "/api/flink/v1/workspaces/{}/applications",
        ws["id"].as_str().unwrap()
    );
    let jar = testjobs().join("stateful-counter.jar");
    let lakesail_out = dir.path().join("lakesail.txt");
    let (code, app) = s
        .post(
            &apps,
            json!({
                "name": "Counter", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
                "flinkConfiguration": {}, "logConfiguration": {},
                "jobManagerResource": {"cpu": 1, "memory": "768m"},
                "taskManagerResource": {"cpu": 1, "memory": "1024m"},
                "job": {"jarUri": format!("local://{}", jar.display()),
                        "entryClass": "io.drey.testjobs.StatefulCounter",
                        "args": ["--out", lakesail_out.to_str().unwrap(), "--rate", "20"]}
            }),
        )
        .await;
    assert_eq!(code, 201, "{app}");
    let app_path = format!("{apps}/{}", app["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (_, now) = s.get(&app_path).await;
        if now["state"] == "RUNNING" {
            break;
        }
        assert!(Instant::now() < deadline, "not RUNNING: {now}\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wait_for_output(&lakesail_out, 5).await;
    assert_eq!(
        jobs_on(&flink.rest_url)
            .await
            .iter()
            .filter(|(_, state)| state == "RUNNING")
            .count(),
        1,
        "the workspace's application runs on the cluster"
    );
    assert_eq!(common::flink::flink_processes(&data), 0);
    let (code, _) = s.delete(&app_path).await;
    assert!((200..300).contains(&code), "{code}");
    wait_no_running_job(&s, &flink.rest_url).await;

    // VVP: a DeploymentTarget naming the cluster places its deployments there.
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-remote"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let ns = "/api/v1/namespaces/vvp-remote";
    let (code, body) = s
        .post(
            &format!("{ns}/deployment-targets"),
            json!({"metadata": {"name": "nowhere"},
                   "spec": {"kubernetes": {"namespace": "x"}, "clusterName": "missing"}}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("spec.clusterName"), "{body}");
    let (code, body) = s
        .post(
            &format!("{ns}/deployment-targets"),
            json!({"metadata": {"name": "ext-target"},
                   "spec": {"kubernetes": {"namespace": "x"}, "clusterName": "ext"}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let vvp_out = dir.path().join("vvp.txt");
    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            vvp_counter("deploymentTargetName", "ext-target", &vvp_out),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let deployment = format!("{ns}/deployments/counter");
    let deadline = Instant::now() + Duration::from_secs(240);
    let job = loop {
        let (_, d) = s.get(&deployment).await;
        if d["status"]["state"] == "RUNNING" {
            break d["status"]["running"]["jobId"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "not RUNNING: {d:#}\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        jobs_on(&flink.rest_url)
            .await
            .contains(&(job.clone(), "RUNNING".into())),
        "the deployment runs on the target's cluster"
    );
    assert_eq!(common::flink::flink_processes(&data), 0);
    wait_for_output(&vvp_out, 5).await;
    let (code, body) = s
        .json(
            Method::PATCH,
            &deployment,
            Some(json!({"spec": {"state": "CANCELLED"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    wait_no_running_job(&s, &flink.rest_url).await;
    assert!(common::flink::answers(&flink.rest_url).await);
}

const POOLED: &str = "/cmf/api/v1/environments/pooled";

/// Polls `path` until `check` holds on its body.
async fn wait_body(s: &Server, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (code, body) = s.get(path).await;
        if code == 200 && check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: not {what}: {code} {body:#}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn statement(s: &Server, env: &str, name: &str, sql: &str) -> Value {
    let (code, body) = s
        .post(
            &format!("{env}/statements"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
                   "metadata": {"name": name},
                   "spec": {"statement": sql, "computePoolName": "shared", "parallelism": 1}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn wait_statement(s: &Server, env: &str, name: &str, phase: &str) -> Value {
    wait_body(s, &format!("{env}/statements/{name}"), phase, |b| {
        b["status"]["phase"] == phase
    })
    .await
}

/// Waits until no job of drey's runs on the cluster.
async fn wait_no_running_job(s: &Server, rest_url: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while jobs_on(rest_url)
        .await
        .iter()
        .any(|(_, state)| state == "RUNNING")
    {
        assert!(Instant::now() < deadline, "still running:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A SHARED compute pool of an environment bound to a registered cluster is
/// that cluster: statements (stop with a savepoint into the registered dir,
/// resume from it, delete) and session jobs run there through CMF, VVP
/// (SessionCluster on a DeploymentTarget naming the cluster) and LakeSail
/// (a session in a workspace on the cluster); drey starts no Flink of its own
/// and never stops the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_and_session_jobs_run_on_an_existing_cluster() {
    use common::flink::wait_for_output;
    let OnCluster {
        s,
        flink,
        host: _host,
        data,
        savepoints,
        cluster: c,
        cleanup: _cleanup,
        dir,
    } = on_cluster(3, "pooled").await;

    // DEDICATED would need clusters drey starts: refused, naming the field.
    let pool = |kind: &str| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
               "metadata": {"name": if kind == "SHARED" { "shared" } else { "dedicated" }},
               "spec": {"type": kind, "clusterSpec": {}}})
    };
    let (code, body) = s
        .post(&format!("{POOLED}/compute-pools"), pool("DEDICATED"))
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string().contains("spec.type") && body.to_string().contains("'ext'"),
        "{body}"
    );
    let (code, body) = s
        .post(&format!("{POOLED}/compute-pools"), pool("SHARED"))
        .await;
    assert_eq!(code, 200, "{body}");
    let running = wait_body(
        &s,
        &format!("{POOLED}/compute-pools/shared"),
        "RUNNING",
        |b| b["status"]["phase"] == "RUNNING",
    )
    .await;
    println!("pool on the registered cluster: {:#}", running["status"]);
    assert_eq!(common::flink::flink_processes(&data), 0);

    // A detached INSERT: a job on the registered cluster with drey's id.
    statement(
        &s,
        POOLED,
        "create-gen",
        "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
    )
    .await;
    statement(
        &s,
        POOLED,
        "create-sink",
        "CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
    )
    .await;
    statement(&s, POOLED, "insert", "INSERT INTO sink SELECT id FROM gen").await;
    let insert = wait_statement(&s, POOLED, "insert", "RUNNING").await;
    let job = insert["status"]["jobId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !jobs_on(&flink.rest_url)
        .await
        .contains(&(job.clone(), "RUNNING".into()))
    {
        assert!(Instant::now() < deadline, "{job} not on the cluster");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(common::flink::flink_processes(&data), 0);
    // The cluster is shared with jobs that are not drey's: its Web UI is
    // opened at its own endpoint, not forwarded.
    for path in [
        "compute-pools/shared/flink-web-ui/overview",
        "statements/insert/flink-web-ui/overview",
    ] {
        let (code, body) = s.get(&format!("{POOLED}/{path}")).await;
        assert_eq!(code, 409, "{path}: {body}");
    }

    // Stop: a savepoint under the registered savepoint dir.
    let mut spec = insert["spec"].clone();
    spec["stopped"] = json!(true);
    let (code, body) = s
        .put(
            &format!("{POOLED}/statements/insert"),
            json!({"metadata": {"name": "insert"}, "spec": spec}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let stopped = wait_statement(&s, POOLED, "insert", "STOPPED").await;
    let detail = stopped["status"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&savepoints.display().to_string()),
        "savepoint under the registered dir: {detail}"
    );
    wait_no_running_job(&s, &flink.rest_url).await;

    // Resume from it: a new job there, restored from that savepoint.
    spec["stopped"] = json!(false);
    let (code, body) = s
        .put(
            &format!("{POOLED}/statements/insert"),
            json!({"metadata": {"name": "insert"}, "spec": spec}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let resumed = wait_body(&s, &format!("{POOLED}/statements/insert"), "resumed", |b| {
        b["status"]["phase"] == "RUNNING" && b["status"]["jobId"] != job.as_str()
    })
    .await;
    let resumed_job = resumed["status"]["jobId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let restored = loop {
        let body =
            common::flink::flink_get(&flink.rest_url, &format!("/jobs/{resumed_job}/checkpoints"))
                .await;
        if let Some(path) = body["latest"]["restored"]["external_path"].as_str() {
            break path.to_owned();
        }
        assert!(Instant::now() < deadline, "not restored: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        restored.contains(&savepoints.display().to_string()),
        "{restored}"
    );

    // Delete: the job is cancelled, the cluster stays.
    let (code, _) = s.delete(&format!("{POOLED}/statements/insert")).await;
    assert!((200..300).contains(&code), "{code}");
    wait_no_running_job(&s, &flink.rest_url).await;
    assert!(common::flink::answers(&flink.rest_url).await);

    // A session job: an application in the pool runs its job there.
    let out = dir.path().join("pooled.txt");
    let mut app = common::flink::counter_app("in-pool", &out, 1, "stateless");
    // A session job of the pool.
    app.pointer_mut("/spec")
        .and_then(Value::as_object_mut)
        .expect("the application's spec")
        .insert("deploymentName".into(), json!("shared"));
    let (code, body) = s.post(&format!("{POOLED}/applications"), app).await;
    assert_eq!(code, 201, "{body}");
    let st = wait_body(
        &s,
        &format!("{POOLED}/applications/in-pool"),
        "RUNNING",
        |b| common::flink::running(&b["status"]),
    )
    .await;
    let app_job = st["status"]["jobStatus"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(jobs_on(&flink.rest_url)
        .await
        .contains(&(app_job, "RUNNING".into())));
    wait_for_output(&out, 5).await;
    let (code, _) = s.delete(&format!("{POOLED}/applications/in-pool")).await;
    assert_eq!(code, 200);
    wait_no_running_job(&s, &flink.rest_url).await;

    // Behind a proxy's credentials Flink's SQL client cannot go: the
    // statement fails and says why (session jobs still run there).
    let (code, body) = s
        .post(
            "/api/org/v1/clusters",
            json!({"name": "ext-proxied", "kind": "flink", "endpoint": flink.rest_url,
                   "credentials": {"token": "t0ken"}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let proxied = "/cmf/api/v1/environments/proxied";
    let (code, body) = s
        .post(
            "/cmf/api/v1/environments",
            json!({"name": "proxied", "kubernetesClusterName": "ext-proxied"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s
        .post(&format!("{proxied}/compute-pools"), pool("SHARED"))
        .await;
    assert_eq!(code, 200, "{body}");
    wait_body(
        &s,
        &format!("{proxied}/compute-pools/shared"),
        "RUNNING",
        |b| b["status"]["phase"] == "RUNNING",
    )
    .await;
    statement(
        &s,
        proxied,
        "create-gen",
        "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen')",
    )
    .await;
    statement(
        &s,
        proxied,
        "create-sink",
        "CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
    )
    .await;
    statement(&s, proxied, "insert", "INSERT INTO sink SELECT id FROM gen").await;
    let failed = wait_statement(&s, proxied, "insert", "FAILED").await;
    assert!(
        failed["status"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("credentials"),
        "{failed:#}"
    );

    // VVP: a SessionCluster on a DeploymentTarget naming the cluster, and a
    // deployment in it.
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-pooled"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let ns = "/api/v1/namespaces/vvp-pooled";
    let (code, body) = s
        .post(
            &format!("{ns}/deployment-targets"),
            json!({"metadata": {"name": "ext-target"},
                   "spec": {"kubernetes": {"namespace": "x"}, "clusterName": "ext"}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s
        .post(
            &format!("{ns}/sessionclusters"),
            json!({"metadata": {"name": "session"},
                   "spec": {"state": "RUNNING", "deploymentTargetName": "ext-target",
                            "flinkVersion": "2.3"}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    wait_body(
        &s,
        &format!("{ns}/sessionclusters/session"),
        "RUNNING",
        |b| b["status"]["state"] == "RUNNING",
    )
    .await;
    let jar = testjobs().join("stateful-counter.jar");
    let vvp_out = dir.path().join("vvp-session.txt");
    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            vvp_counter("sessionClusterName", "session", &vvp_out),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let d = wait_body(&s, &format!("{ns}/deployments/counter"), "RUNNING", |d| {
        d["status"]["state"] == "RUNNING"
    })
    .await;
    let vvp_job = d["status"]["running"]["jobId"].as_str().unwrap().to_owned();
    assert!(jobs_on(&flink.rest_url)
        .await
        .contains(&(vvp_job, "RUNNING".into())));
    wait_for_output(&vvp_out, 5).await;
    let (code, body) = s
        .json(
            Method::PATCH,
            &format!("{ns}/deployments/counter"),
            Some(json!({"spec": {"state": "CANCELLED"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    wait_no_running_job(&s, &flink.rest_url).await;

    // LakeSail: a session in a workspace on the cluster, and a job in it.
    let (code, ws) = s
        .post(
            "/api/org/v1/workspaces",
            json!({"name": "Pooled", "clusterId": c["id"]}),
        )
        .await;
    assert_eq!(code, 201, "{ws}");
    let sessions = format!(
        "/api/flink/v1/workspaces/{}/sessions",
        ws["id"].as_str().unwrap()
    );
    let (code, session) = s
        .post(
            &sessions,
            json!({
                "name": "Shared", "runtime": "FLINK_1_17",
                "jars": [format!("local://{}", jar.display())], "plugins": [],
                "flinkConfiguration": {}, "logConfiguration": {},
                "jobManagerResource": {"cpu": 1, "memory": "768m"},
                "taskManagerResource": {"cpu": 1, "memory": "1024m"}
            }),
        )
        .await;
    assert_eq!(code, 201, "{session}");
    let session_path = format!("{sessions}/{}", session["id"].as_str().unwrap());
    wait_body(&s, &session_path, "RUNNING", |b| b["state"] == "RUNNING").await;
    let lakesail_out = dir.path().join("lakesail-session.txt");
    let (code, job) = s
        .post(
            &format!("{session_path}/jobs"),
            json!({"name": "Counter", "flinkConfiguration": {},
                   "job": {"entryClass": "io.drey.testjobs.StatefulCounter",
                           "args": ["--out", lakesail_out.to_str().unwrap(), "--rate", "20"]}}),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    let job_path = format!("{session_path}/jobs/{}", job["id"].as_str().unwrap());
    let running = wait_body(&s, &job_path, "RUNNING", |b| b["state"] == "RUNNING").await;
    let flink_job = running["flinkJobId"].as_str().unwrap().to_owned();
    assert!(jobs_on(&flink.rest_url)
        .await
        .contains(&(flink_job, "RUNNING".into())));
    wait_for_output(&lakesail_out, 5).await;
    let (code, _) = s.delete(&job_path).await;
    assert!((200..300).contains(&code), "{code}");
    wait_no_running_job(&s, &flink.rest_url).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, _) = s.delete(&session_path).await;
        if (200..300).contains(&code) {
            break;
        }
        assert!(Instant::now() < deadline, "session not deleted: {code}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Through all of it drey started no Flink and left the cluster up.
    assert_eq!(common::flink::flink_processes(&data), 0);
    assert!(common::flink::answers(&flink.rest_url).await);
}
