//! The CLI's commands that need real Flink, run as the real binary against a
//! real drey server with `--auth token`:
//!
//! - `drey app web-ui-forward`: a local listener, no token asked of the
//!   browser, serving Flink's Web UI of a running application to headless
//!   Chromium (`ui-tests/flink-ui.mjs`: the overview with the job, the job's
//!   page) and Flink's REST answers to a client without a token;
//! - `drey pool web-ui-forward` and `drey statement web-ui-forward` on a
//!   SHARED pool's session cluster running a statement's job;
//! - `drey statement stop|resume|rescale` on that job, through drey's SQL
//!   Gateway service: a savepoint, a resume from it, a new parallelism.
//!
//! Two Flink clusters, one after the other (the application's, then the
//! pool's). Needs Flink, the test jobs, the SQL Gateway jar, Chromium and
//! `npm ci` in ui-tests/: scripts/test.sh provides all of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::browser::{browser_ready, repo, run_with_limit, text};
use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ENV: &str = "/cmf/api/v1/environments/flink";

fn cli(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(args)
        .env("DREY_URL", &s.base)
        .env("DREY_TOKEN", s.token.as_deref().unwrap())
        .output()
        .unwrap()
}

/// A running `drey ... web-ui-forward`, killed when dropped.
struct Forward {
    child: Child,
    /// The URL it printed.
    url: String,
}

impl Forward {
    fn start(s: &Server, args: &[&str]) -> Forward {
        let mut child = Command::new(env!("CARGO_BIN_EXE_drey"))
            .args(args)
            .env("DREY_URL", &s.base)
            .env("DREY_TOKEN", s.token.as_deref().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
            "{args:?} printed {line:?}"
        );
        Forward { child, url }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET through a forwarder, without any token: status and JSON.
async fn get_plain(url: &str) -> (u16, Value) {
    let answer = reqwest::get(url).await.unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn wait_until(s: &Server, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (code, body) = s.get(path).await;
        if code == 200 && check(&body) {
            return body;
        }
        if Instant::now() > deadline {
            panic!("{path}: not {what}: {code} {body:#}\nlog:\n{}", s.log());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn job_of(statement: &Value) -> String {
    statement["status"]["jobId"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn json_out(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_forward_and_statement_commands_on_real_flink() {
    let (ui_tests, chromium) = browser_ready();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let s = start(&data);
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");

    // An application's Flink Web UI, from a local port, with tokens on.
    let out = dir.path().join("counts.txt");
    let (code, body) = s
        .post(APPS, counter_app("counter", &out, 1, "savepoint"))
        .await;
    assert_eq!(code, 201, "{body}");
    wait_for(&s, "counter", "RUNNING", Duration::from_secs(240), running).await;
    let app_ui = format!("{APPS}/counter/flink-web-ui/jobs/overview");
    assert_eq!(
        reqwest::get(s.url(&app_ui)).await.unwrap().status(),
        401,
        "drey's proxy wants a token"
    );
    let forward = Forward::start(
        &s,
        &[
            "app",
            "web-ui-forward",
            "counter",
            "-e",
            "flink",
            "--port",
            "0",
        ],
    );
    let (code, page) = get_plain(&forward.url).await;
    assert_eq!(code, 200);
    assert!(
        page.as_str().unwrap_or_default().contains("<flink-root>"),
        "Flink's page: {page}"
    );
    let (code, jobs) = get_plain(&format!("{}jobs/overview", forward.url)).await;
    assert_eq!(code, 200, "{jobs}");
    assert_eq!(jobs["jobs"][0]["name"], "drey-test-stateful-counter");
    assert_eq!(jobs["jobs"][0]["state"], "RUNNING");
    // Flink's UI in headless Chromium through the forwarder: the overview
    // lists the running job, its page opens, every request of the UI works.
    let artifacts = repo().join("target/ui-artifacts/web-ui-forward");
    let mut node = Command::new("node");
    node.arg(ui_tests.join("flink-ui.mjs"))
        .arg(&forward.url)
        .arg(&s.base)
        .arg("drey-test-stateful-counter")
        .arg(&artifacts)
        .env("CHROMIUM", &chromium)
        .current_dir(&ui_tests);
    let result = run_with_limit(node, Duration::from_secs(300));
    println!(
        "flink-ui.mjs:\n{}{}",
        text(&result.stdout),
        text(&result.stderr)
    );
    assert!(
        result.status.success(),
        "Flink's UI through web-ui-forward failed ({}); screenshots in {}",
        result.status,
        artifacts.display()
    );
    drop(forward);
    // What cannot be forwarded says so before listening.
    let o = cli(&s, &["app", "web-ui-forward", "nope", "-e", "flink"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["app", "web-ui-forward", "counter", "-e", "flink"])
        .env("DREY_URL", &s.base)
        .env_remove("DREY_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "no token: {}", text(&o.stderr));
    delete_and_wait(&s, &data, "counter", Duration::from_secs(240)).await;

    // A SHARED pool running a statement's job: both forwarders, then stop,
    // resume and rescale through the CLI.
    let (code, body) = s
        .post(
            &format!("{ENV}/compute-pools"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
                   "metadata": {"name": "shared"},
                   "spec": {"type": "SHARED", "clusterSpec": {
                       "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "4"},
                       "taskManager": {"resource": {"memory": "1024m"}, "replicas": 1},
                       "jobManager": {"resource": {"memory": "768m"}}}}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    wait_until(&s, &format!("{ENV}/compute-pools/shared"), "RUNNING", |b| {
        b["status"]["phase"] == "RUNNING"
    })
    .await;
    for (name, sql) in [
        (
            "create-gen",
            "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
        ),
        (
            "create-sink",
            "CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
        ),
        ("copy", "INSERT INTO sink SELECT * FROM gen"),
    ] {
        let (code, body) = s
            .post(
                &format!("{ENV}/statements"),
                json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
                       "metadata": {"name": name},
                       "spec": {"statement": sql, "computePoolName": "shared", "parallelism": 1}}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        assert_ne!(body["status"]["phase"], "FAILED", "{body}");
    }
    let statement = format!("{ENV}/statements/copy");
    let running = wait_until(&s, &statement, "RUNNING", |b| {
        b["status"]["phase"] == "RUNNING" && !job_of(b).is_empty()
    })
    .await;
    let job = job_of(&running);

    let pool_forward = Forward::start(&s, &["pool", "web-ui-forward", "shared", "-e", "flink"]);
    let (code, jobs) = get_plain(&format!("{}jobs/overview", pool_forward.url)).await;
    assert_eq!(code, 200, "{jobs}");
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["jid"] == job.as_str() && j["state"] == "RUNNING"),
        "{jobs}"
    );
    drop(pool_forward);
    let statement_forward =
        Forward::start(&s, &["statement", "web-ui-forward", "copy", "-e", "flink"]);
    let (code, detail) = get_plain(&format!("{}jobs/{job}", statement_forward.url)).await;
    assert_eq!(code, 200, "{detail}");
    assert_eq!(detail["state"], "RUNNING", "{detail}");
    drop(statement_forward);

    // stop --wait: returns once STOPPED, with a savepoint.
    let stopped = json_out(&cli(
        &s,
        &[
            "statement",
            "stop",
            "copy",
            "-e",
            "flink",
            "--wait",
            "--timeout",
            "240",
            "-o",
            "json",
        ],
    ));
    assert_eq!(stopped["spec"]["stopped"], true, "{stopped}");
    assert_eq!(stopped["status"]["phase"], "STOPPED", "{stopped}");
    let (_, stopped) = s.get(&statement).await;
    assert_eq!(stopped["status"]["phase"], "STOPPED", "{stopped}");
    assert!(
        stopped["status"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("file:"),
        "stopped with a savepoint: {stopped}"
    );
    // resume: RUNNING again, a new job.
    let o = cli(&s, &["statement", "resume", "copy", "-e", "flink"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("copy"), "{}", text(&o.stdout));
    let resumed = wait_until(&s, &statement, "RUNNING again", |b| {
        b["status"]["phase"] == "RUNNING" && !job_of(b).is_empty() && job_of(b) != job
    })
    .await;
    let job2 = job_of(&resumed);
    // rescale --wait: returns once RUNNING as a new job at parallelism 2.
    let rescaled = json_out(&cli(
        &s,
        &[
            "statement",
            "rescale",
            "copy",
            "-e",
            "flink",
            "--parallelism",
            "2",
            "--wait",
            "--timeout",
            "240",
            "-o",
            "json",
        ],
    ));
    assert_eq!(rescaled["spec"]["parallelism"], 2, "{rescaled}");
    assert_eq!(rescaled["status"]["phase"], "RUNNING", "{rescaled}");
    let job3 = job_of(&rescaled);
    assert!(!job3.is_empty() && job3 != job2, "a new job: {rescaled}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, plan) = s
            .get(&format!("{statement}/flink-web-ui/jobs/{job3}"))
            .await;
        if code == 200
            && plan["vertices"]
                .as_array()
                .is_some_and(|v| v.iter().any(|v| v["parallelism"] == 2))
        {
            break;
        }
        assert!(Instant::now() < deadline, "not rescaled: {code} {plan}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Bad input: usage (2) and not found (3).
    let o = cli(
        &s,
        &[
            "statement",
            "rescale",
            "copy",
            "-e",
            "flink",
            "--parallelism",
            "0",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = cli(&s, &["statement", "stop", "nope", "-e", "flink"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    // The common verbs still work on statements and pools.
    let listed = json_out(&cli(
        &s,
        &["statement", "list", "-e", "flink", "-o", "json"],
    ));
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|st| st["metadata"]["name"] == "copy"));
    let o = cli(&s, &["statement", "delete", "copy", "-e", "flink"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.get(&statement).await.0 != 404 {
        assert!(Instant::now() < deadline, "copy not deleted\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pool = json_out(&cli(
        &s,
        &["pool", "get", "shared", "-e", "flink", "-o", "json"],
    ));
    assert_eq!(pool["status"]["phase"], "RUNNING", "{pool}");
}
