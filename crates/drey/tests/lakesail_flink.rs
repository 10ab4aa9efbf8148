//! A LakeSail Flink application on real Flink, made by an organization's
//! own key: it runs, its Web UI and REST API open through a pre-signed URL
//! with no token (refused once forged), a manual savepoint completes, and
//! it suspends and goes. The `flink-rest-client` package from PyPI drives the
//! cluster through that URL (a jar upload and run included).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{start, testjobs, KillClusters};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lakesail_application_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let mut s = start(dir.path());
    // Job output outside the data dir, which the sandboxed clusters do not see.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("counts.txt");

    // An organization and its administrator's key; act with it from here on.
    let (code, org) = s
        .post("/api/admin/v1/organizations", json!({"name": "acme"}))
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
    s.token = Some(key["key"].as_str().unwrap().to_owned());
    let (code, ws) = s
        .post("/api/org/v1/workspaces", json!({"name": "Streaming"}))
        .await;
    assert_eq!(code, 201, "{ws}");
    let apps = format!(
        "/api/flink/v1/workspaces/{}/applications",
        ws["id"].as_str().unwrap()
    );
    let jar = testjobs().join("stateful-counter.jar");
    let (code, app) = s
        .post(
            &apps,
            json!({
                "name": "Counter", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
                "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
                "logConfiguration": {},
                "jobManagerResource": {"cpu": 1, "memory": "768m"},
                "taskManagerResource": {"cpu": 1, "memory": "1024m"},
                "job": {"jarUri": format!("local://{}", jar.display()),
                        "entryClass": "io.drey.testjobs.StatefulCounter",
                        "args": ["--out", out.to_str().unwrap(), "--rate", "20"]}
            }),
        )
        .await;
    assert_eq!(code, 201, "{app}");
    let app_path = format!("{apps}/{}", app["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, now) = s.get(&app_path).await;
        if now["state"] == "RUNNING" {
            break;
        }
        assert!(Instant::now() < deadline, "not RUNNING: {now}\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The Web UI through a pre-signed URL: no token needed.
    let (code, url) = s
        .post(
            &format!("{app_path}/urls"),
            json!({"expiresInSeconds": 300, "webSessionDurationInSeconds": 600}),
        )
        .await;
    assert_eq!(code, 201, "{url}");
    let url = url["url"].as_str().unwrap().to_owned();
    assert!(url.ends_with('/'), "{url}");
    let plain = reqwest::Client::new();
    let page = plain.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    for api in ["overview", "v1/overview"] {
        let overview: Value = plain
            .get(format!("{url}{api}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(overview["taskmanagers"], 1, "{api}: {overview}");
    }
    let forged = url.replacen("/ui/", "/ui/A", 1);
    assert_eq!(plain.get(&forged).send().await.unwrap().status(), 403);

    // Flink's pages are sandboxed: an opaque origin, readable without
    // credentials; preflights are answered by drey, not Flink.
    let page = plain.get(&url).send().await.unwrap();
    let page_url = page.url().to_string();
    let headers = page.headers().clone();
    assert_eq!(
        headers["content-security-policy"],
        "sandbox allow-scripts allow-forms allow-popups"
    );
    assert_eq!(headers["access-control-allow-origin"], "*");
    let preflight = plain
        .request(Method::OPTIONS, format!("{page_url}jobs/overview"))
        .header("origin", "null")
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "null");
    assert!(preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PATCH"));
    // And Flink's UI works so in headless Chromium, out of reach of the
    // console's token.
    let (ui_tests, chromium) = common::browser::browser_ready();
    let artifacts = common::browser::repo().join("target/ui-artifacts");
    let mut node = std::process::Command::new("node");
    node.arg(ui_tests.join("flink-ui.mjs"))
        .arg(&page_url)
        .arg(&s.base)
        .arg("drey-test-stateful-counter")
        .arg(&artifacts)
        .env("CHROMIUM", &chromium)
        .current_dir(&ui_tests);
    let result = common::browser::run_with_limit(node, Duration::from_secs(300));
    println!(
        "flink-ui.mjs:\n{}{}",
        common::browser::text(&result.stdout),
        common::browser::text(&result.stderr)
    );
    assert!(
        result.status.success(),
        "Flink's UI through the proxy failed ({}); screenshots in {}",
        result.status,
        artifacts.display()
    );

    // The `flink-rest-client` package from PyPI, pointed at the URL instead
    // of the cluster: overview, jobs, a jar upload and a run of it.
    // (The package sends program arguments as `programArgs`, which Flink 2
    // no longer reads, so the bounded job runs with its defaults.)
    let seen = flink_rest_client(&url, &testjobs().join("bounded-job.jar"));
    assert_eq!(seen["taskmanagers"], 1, "{seen}");
    assert_eq!(seen["uploaded"], "success", "{seen}");
    assert_eq!(seen["jar_listed"], true, "{seen}");
    assert_eq!(seen["jobs_before"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["state"], "FINISHED", "{seen}");
    let (_, jobs) = s.get(&app_path).await;
    assert_eq!(
        jobs["state"], "RUNNING",
        "the application's own job runs on: {jobs}"
    );

    // A manual savepoint.
    let (code, sp) = s.post(&format!("{app_path}/savepoints"), json!({})).await;
    assert_eq!(code, 201, "{sp}");
    assert_eq!(sp["triggerType"], "MANUAL");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, list) = s.get(&format!("{app_path}/savepoints")).await;
        let done = list["completed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["triggerNonce"] == sp["triggerNonce"] && c["location"].is_string());
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Suspend, then delete.
    let (code, body) = s
        .json(
            Method::PATCH,
            &app_path,
            Some(json!({"state": "SUSPENDED"})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["desiredState"], "SUSPENDED");
    let (code, _) = s.delete(&app_path).await;
    assert_eq!(code, 204);
}

/// Runs tests/python/flink_rest_client_through_drey.py with the Python that
/// scripts/install-python-tools.sh set up (`DREY_PYTHON_TOOLS`), against
/// `base`, and returns what it printed.
fn flink_rest_client(base: &str, jar: &std::path::Path) -> Value {
    let python = std::env::var("DREY_PYTHON_TOOLS").expect(
        "DREY_PYTHON_TOOLS names the Python with flink-rest-client: run scripts/test.sh \
         (it runs scripts/install-python-tools.sh)",
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/flink_rest_client_through_drey.py");
    let run = std::process::Command::new(python)
        .arg(script)
        .arg(base)
        .arg(jar)
        .arg("io.drey.testjobs.BoundedJob")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "flink-rest-client failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// Waits until `path` answers with `field == want`.
async fn wait_field(s: &common::Server, path: &str, field: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, now) = s.get(path).await;
        if now[field] == want {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {field} is not {want}: {now}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A LakeSail session is a session cluster; a session job runs in it (with
/// the session's jar when it names none), takes savepoints, suspends and
/// goes, while the cluster stays until the session is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lakesail_session_jobs_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let mut s = start(dir.path());
    // Job output outside the data dir, which the sandboxed clusters do not see.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("session-counts.txt");
    let (_, org) = s
        .post("/api/admin/v1/organizations", json!({"name": "sessions"}))
        .await;
    let (_, key) = s
        .post(
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    s.token = Some(key["key"].as_str().unwrap().to_owned());
    let (_, ws) = s
        .post("/api/org/v1/workspaces", json!({"name": "Sessions"}))
        .await;
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let sessions = format!("/api/flink/v1/workspaces/{ws_id}/sessions");
    let jar = testjobs().join("stateful-counter.jar");
    let session_body = json!({
        "name": "Shared", "runtime": "FLINK_1_17",
        "jars": [format!("local://{}", jar.display())], "plugins": [],
        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
        "logConfiguration": {},
        "jobManagerResource": {"cpu": 1, "memory": "768m"},
        "taskManagerResource": {"cpu": 1, "memory": "1024m"}
    });

    // Every FlinkSessionSpec field is required; a session runs no job.
    let mut missing = session_body.clone();
    missing.as_object_mut().unwrap().remove("runtime");
    let (code, body) = s.post(&sessions, missing).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("runtime"));
    let mut with_job = session_body.clone();
    with_job["job"] = json!({"entryClass": "x"});
    let (code, _) = s.post(&sessions, with_job).await;
    assert_eq!(code, 400);

    let (code, session) = s.post(&sessions, session_body).await;
    assert_eq!(code, 201, "{session}");
    assert_eq!(session["name"], "Shared");
    let session_path = format!("{sessions}/{}", session["id"].as_str().unwrap());
    let described = wait_field(&s, &session_path, "state", "RUNNING").await;
    assert_eq!(described["spec"]["runtime"], "FLINK_1_17");

    // A job with no jarUri runs the session's jar.
    let jobs = format!("{session_path}/jobs");
    let (code, body) = s
        .post(
            &jobs,
            json!({"name": "Counter", "job": {"entryClass": "x"}}),
        )
        .await;
    assert_eq!(code, 400, "flinkConfiguration is required: {body}");
    let (code, job) = s
        .post(
            &jobs,
            json!({"name": "Counter", "flinkConfiguration": {},
                   "job": {"entryClass": "io.drey.testjobs.StatefulCounter",
                           "args": ["--out", out.to_str().unwrap(), "--rate", "20"]}}),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    for field in ["id", "name", "state", "createdAt", "updatedAt"] {
        assert!(job.get(field).is_some(), "{field} in {job}");
    }
    let job_path = format!("{jobs}/{}", job["id"].as_str().unwrap());
    let running = wait_field(&s, &job_path, "state", "RUNNING").await;
    let flink_job = running["flinkJobId"].as_str().unwrap().to_owned();
    let (_, listed) = s.get(&jobs).await;
    assert_eq!(listed["items"][0]["id"], job["id"]);
    let (code, _) = s
        .get(&format!(
            "{sessions}/NOSUCHSESSION/jobs/{}",
            job["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(code, 404);

    // The session's Web UI and REST API through a pre-signed URL list the job.
    let (code, url) = s
        .post(
            &format!("{session_path}/urls"),
            json!({"expiresInSeconds": 300, "webSessionDurationInSeconds": 600}),
        )
        .await;
    assert_eq!(code, 201, "{url}");
    let url = url["url"].as_str().unwrap().to_owned();
    let overview: Value = reqwest::get(format!("{url}jobs/overview"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        overview["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["jid"] == flink_job.as_str() && j["state"] == "RUNNING"),
        "{overview}"
    );

    // The same job through CMF: an application in the session's pool.
    let (code, app) = s
        .get(&format!(
            "/cmf/api/v1/environments/ws-{}/applications/job-{}",
            ws_id.to_ascii_lowercase(),
            job["id"].as_str().unwrap().to_ascii_lowercase()
        ))
        .await;
    assert_eq!(code, 200, "{app}");
    assert!(app["spec"]["deploymentName"]
        .as_str()
        .unwrap()
        .starts_with("session-"));

    // A manual savepoint, listed as {pending, completed}.
    let (code, sp) = s.post(&format!("{job_path}/savepoints"), json!({})).await;
    assert_eq!(code, 201, "{sp}");
    assert_eq!(sp["triggerType"], "MANUAL");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, list) = s.get(&format!("{job_path}/savepoints")).await;
        assert_eq!(code, 200);
        assert!(list["pending"].is_array(), "{list}");
        let done = list["completed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["triggerNonce"] == sp["triggerNonce"] && c["location"].is_string());
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The session cannot go while it holds a job.
    let (code, body) = s.delete(&session_path).await;
    assert_eq!(code, 409, "{body}");

    // Suspend the job: it leaves the cluster, the cluster stays.
    let (code, body) = s
        .json(
            Method::PATCH,
            &job_path,
            Some(json!({"state": "SUSPENDED"})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    wait_field(&s, &job_path, "state", "SUSPENDED").await;
    let overview: Value = reqwest::get(format!("{url}overview"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["taskmanagers"], 1);
    assert_eq!(overview["jobs-running"], 0, "{overview}");

    // Then the job, then the session, go.
    let (code, _) = s.delete(&job_path).await;
    assert_eq!(code, 204);
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.get(&job_path).await.0 != 404 {
        assert!(Instant::now() < deadline, "job not gone");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (code, body) = s.delete(&session_path).await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(s.get(&session_path).await.0, 404);
}
