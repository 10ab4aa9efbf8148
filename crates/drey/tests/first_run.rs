//! The README's first run, as a newcomer follows it: a server started the way
//! scripts/run.sh starts it (tokens off, target/examples/ as a jar dir beside
//! the default one), examples/first-job.yaml with `/path/to/drey` replaced by
//! the checkout's path (the README's `sed`), sent as YAML to the `test`
//! environment. Its job, built from examples/jobs/ by
//! `scripts/build-testjobs.sh --examples` (which run.sh and test.sh run),
//! reaches RUNNING on a real Flink cluster, and the Flink Web UI link the
//! console shows for it serves Flink's overview with the job: over HTTP, and
//! clicked in headless Chromium (`ui-tests/first-run.mjs`; needs Chromium and
//! `npm ci` in ui-tests/, which scripts/test.sh provides).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::browser::{browser_ready, repo, run_with_limit, text};
use common::flink::{flink_processes, KillClusters};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const TEST_ENV: &str = "/cmf/api/v1/environments/test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_job_reaches_running_with_its_flink_web_ui() {
    let checkout = repo();
    let examples = checkout.join("target/examples");
    assert!(
        examples.join("first-job.jar").is_file(),
        "{} missing: run scripts/build-testjobs.sh --examples (scripts/run.sh and scripts/test.sh do)",
        examples.join("first-job.jar").display()
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("jars")).unwrap();
    let _cleanup = KillClusters(data.clone());
    // As scripts/run.sh starts it; a short reconcile interval only makes the
    // test quicker.
    let s = Server::start_with(
        &data,
        &[
            "--jar-dir",
            data.join("jars").to_str().unwrap(),
            "--jar-dir",
            examples.to_str().unwrap(),
            "--reconcile-interval-seconds",
            "1",
        ],
        &[],
    );

    // The README's steps: an environment, then the example with the path replaced.
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "test"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let example = std::fs::read_to_string(checkout.join("examples/first-job.yaml")).unwrap();
    assert!(example.contains("local:///path/to/drey/target/examples/first-job.jar"));
    let yaml = example.replace("/path/to/drey", checkout.to_str().unwrap());
    let (code, body) = s
        .raw(
            Method::POST,
            &format!("{TEST_ENV}/applications"),
            "application/yaml",
            yaml,
        )
        .await;
    assert_eq!(code, 201, "{body}");

    let app = format!("{TEST_ENV}/applications/first-job");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (code, got) = s.get(&app).await;
        assert_eq!(code, 200, "{got}");
        let status = &got["status"];
        // What the console's "Flink Web UI" link waits for.
        if status["jobStatus"]["state"] == "RUNNING"
            && status["lifecycleState"] == "STABLE"
            && status["clusterInfo"].is_object()
        {
            break;
        }
        assert!(
            status["jobStatus"]["state"] != "FAILED",
            "the example failed: {status:#}\n{}",
            s.log()
        );
        assert!(
            Instant::now() < deadline,
            "the example is not RUNNING after 300 s: {status:#}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The console's "Flink UI" link of the application (shown with tokens
    // off, as run.sh runs): Flink's own page, and its REST answers through
    // the same path show the job running with records flowing.
    let ui = format!("{app}/flink-web-ui/");
    let page = s.call(Method::GET, &ui, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<flink-root>") || html.contains("Apache Flink"),
        "Flink's Web UI page: {html}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, jobs) = s.get(&format!("{ui}jobs/overview")).await;
        assert_eq!(code, 200, "{jobs}");
        let job = jobs["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|j| j["name"] == "drey-first-job"))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(job["state"], "RUNNING", "{jobs}");
        let (_, detail) = s
            .get(&format!("{ui}jobs/{}", job["jid"].as_str().unwrap()))
            .await;
        let written: u64 = detail["vertices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["metrics"]["write-records"].as_u64())
            .sum();
        if written > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the example job wrote no record: {detail:#}"
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }

    // And in a browser: the console's link, one click, opens Flink's Web UI
    // with the job running.
    let (ui_tests, chromium) = browser_ready();
    let artifacts = repo().join("target/ui-artifacts/first-run");
    let mut node = Command::new("node");
    node.arg(ui_tests.join("first-run.mjs"))
        .arg(&s.base)
        .arg("test")
        .arg("first-job")
        .arg("drey-first-job")
        .arg(&artifacts)
        .env("CHROMIUM", &chromium)
        .current_dir(&ui_tests);
    let result = run_with_limit(node, Duration::from_secs(300));
    println!(
        "first-run.mjs:\n{}{}",
        text(&result.stdout),
        text(&result.stderr)
    );
    assert!(
        result.status.success(),
        "the console's Flink Web UI link failed ({}); screenshots in {}",
        result.status,
        artifacts.display()
    );

    // Cleaned up as the README's readers would.
    let (code, body) = s.delete(&app).await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(180);
    while s.get(&app).await.0 != 404 {
        assert!(Instant::now() < deadline, "not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(flink_processes(&data), 0);
}
