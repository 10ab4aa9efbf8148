//! The application lifecycle end to end: a real drey server (reconciler on)
//! driving real Flink 2.3 clusters with the stateful test job. Needs Flink
//! (scripts/install-flink.sh) and the test jobs (scripts/build-testjobs.sh);
//! scripts/test.sh provides both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Flink's REST API and Web UI through drey's proxy, with drey's token.
async fn flink_through_drey(s: &Server, job_id: &str) {
    let ui = format!("{APPS}/counter/flink-web-ui");
    let (code, overview) = s.get(&format!("{ui}/overview")).await;
    assert_eq!(code, 200, "{overview}");
    assert_eq!(overview["taskmanagers"], 1);
    let (_, jobs) = s.get(&format!("{ui}/jobs/overview")).await;
    assert_eq!(jobs["jobs"][0]["jid"], job_id);
    // The Web UI's page renders through it.
    let page = s
        .client
        .get(s.url(&format!("{ui}/")))
        .bearer_auth(s.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("<html"),
        "the UI's index page"
    );
    // Without drey's token: refused, Flink never reached.
    let refused = s
        .client
        .get(s.url(&format!("{ui}/overview")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // A jar upload and run through the proxy (multipart passes through).
    let jar = std::fs::read(testjobs().join("bounded-job.jar")).unwrap();
    let form = reqwest::multipart::Form::new().part(
        "jarfile",
        reqwest::multipart::Part::bytes(jar)
            .file_name("bounded-job.jar")
            .mime_str("application/x-java-archive")
            .unwrap(),
    );
    let uploaded: Value = s
        .client
        .post(s.url(&format!("{ui}/jars/upload")))
        .bearer_auth(s.token.as_deref().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(uploaded["status"], "success", "{uploaded}");
    let jar_id = uploaded["filename"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (code, run) = s
        .post(
            &format!("{ui}/jars/{jar_id}/run"),
            json!({"entryClass": "io.drey.testjobs.BoundedJob", "parallelism": 1}),
        )
        .await;
    assert_eq!(code, 200, "{run}");
    let bounded = run["jobid"].as_str().unwrap().to_owned();
    // It has no free slot in this cluster: cancel it, through the proxy too.
    let (code, _) = s
        .json(
            reqwest::Method::PATCH,
            &format!("{ui}/jobs/{bounded}?mode=cancel"),
            None,
        )
        .await;
    assert_eq!(code, 202);
    // An application that does not exist: 404 in CMF's error body.
    let (code, body) = s
        .get(&format!("{APPS}/nothing-here/flink-web-ui/overview"))
        .await;
    assert_eq!(code, 404, "{body}");
}

/// The jar server below is on loopback, which the outbound policy refuses
/// unless allowed.
const ALLOW_LOOPBACK: &[&str] = &["--outbound-allow", "127.0.0.1/32"];

/// Serves one file over HTTP on a free loopback port; returns its URL.
async fn serve_jar(path: PathBuf) -> String {
    let bytes = std::fs::read(&path).unwrap();
    let app = axum::Router::new().route(
        "/stateful-counter.jar",
        axum::routing::get(move || {
            let bytes = bytes.clone();
            async move { bytes }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/stateful-counter.jar")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_lifecycle_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let limit = Duration::from_secs(240);
    let mut s = start_with_args(&data, ALLOW_LOOPBACK);
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
    assert!(
        st.get("reconciler").is_none(),
        "the reconciler's record is no part of the view: {st:#}"
    );
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
    flink_through_drey(&s, &job_id).await;
    // `drey app logs`: the JobManager log through the CLI and the proxy.
    let logs = std::process::Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["app", "logs", "counter", "-e", "flink", "--url", &s.base])
        .env("DREY_TOKEN", s.token.as_deref().unwrap())
        .output()
        .unwrap();
    assert!(
        logs.status.success(),
        "{}",
        String::from_utf8_lossy(&logs.stderr)
    );
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(
        text.contains("StandaloneSessionClusterEntrypoint"),
        "{}",
        &text[..text.len().min(2000)]
    );

    // Suspend: a savepoint on disk, no Flink process left.
    let (code, _) = s.post(&format!("{APPS}/counter/suspend"), json!({})).await;
    assert_eq!(code, 200);
    let st = wait_for(&s, "counter", "SUSPENDED", limit, |st| {
        st["lifecycleState"] == "SUSPENDED"
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
    let deadline = Instant::now() + limit;
    while flink_processes(&data) != 0 {
        assert!(
            Instant::now() < deadline,
            "a Flink process is left after suspend"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
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

    // A second application starts from that savepoint (initialSavepointPath)
    // with its jar fetched over http: its counts start where the savepoint was.
    let jar_url = serve_jar(testjobs().join("stateful-counter.jar")).await;
    let clone_out = dir.path().join("clone.txt");
    let mut clone = counter_app("clone", &clone_out, 1, "savepoint");
    clone["spec"]["job"]["jarURI"] = json!(jar_url);
    clone["spec"]["job"]["initialSavepointPath"] = json!(path);
    assert_eq!(s.post(APPS, clone).await.0, 201);
    let st = wait_for(&s, "clone", "RUNNING", limit, running).await;
    assert_eq!(st["jobStatus"]["upgradeSavepointPath"], path);
    wait_for_output(&clone_out, 6).await;
    let restored = first_counts_after(&clone_out, 0);
    assert!(
        restored.values().all(|n| *n > 1),
        "clone started from the savepoint: {restored:?}"
    );
    assert_eq!(s.delete(&format!("{APPS}/clone")).await.0, 200);
    let deadline = Instant::now() + limit;
    while s.get(&format!("{APPS}/clone")).await.0 != 404 {
        assert!(Instant::now() < deadline, "clone not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

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
    s = start_with_args(&data, ALLOW_LOOPBACK);
    let st = wait_for(&s, "counter", "RUNNING after the upgrade", limit, |st| {
        running(st) && st["currentDeployedInstanceName"] != first_instance.as_str()
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
    // FAILED, and (once Flink's exception history has it) why.
    let st = wait_for(&s, "failing", "FAILED with its cause", limit, |st| {
        st["lifecycleState"] == "FAILED"
            && st["error"]
                .as_str()
                .is_some_and(|e| e.contains("drey-test-failure"))
    })
    .await;
    assert_eq!(st["jobStatus"]["state"], "FAILED");
    assert!(
        st["error"].as_str().unwrap().contains("drey-test-failure"),
        "{st:#}"
    );
    // Events are written right after the status they report: wait for them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let items = loop {
        let (_, events) = s
            .get("/cmf/api/v1alpha1/environments/flink/applications/failing/events?size=50")
            .await;
        let items = events["items"].as_array().unwrap().clone();
        let complete = items
            .iter()
            .any(|e| e["status"]["data"]["newStatus"] == "FAILED")
            && items
                .iter()
                .any(|e| e["status"]["data"]["exceptionString"].is_string());
        if complete || Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(items
        .iter()
        .any(|e| e["status"]["data"]["newStatus"] == "FAILED"));
    common::assert_cmf_event_data(&items);
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
