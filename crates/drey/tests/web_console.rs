//! The web console end to end in real headless Chromium, against a real drey
//! server with tokens on and real Flink clusters: `ui-tests/console.mjs`
//! (playwright-core driving Debian's /usr/bin/chromium) signs in, creates an
//! environment and an application through the YAML editor, sees it RUNNING,
//! takes a savepoint, suspends and starts it, shows validation errors and
//! deletes with confirmation. Screenshots land in `target/ui-artifacts/`.
//! Then the CLI's waiting commands run against a real application:
//! `drey app wait --for RUNNING` and `drey app savepoint --wait`.
//!
//! Needs Flink and the test jobs (as the other real-Flink tests), Chromium
//! and `npm ci` in ui-tests/: scripts/test.sh provides all of them.
//! `DREY_UPDATE_SCREENSHOT=1` also rewrites docs/console.png.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::browser::{browser_ready, repo, run_with_limit, text};
use common::flink::*;
use common::Server;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn cli(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(args)
        .env("DREY_URL", &s.base)
        .env("DREY_TOKEN", s.token.as_deref().unwrap())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_console_in_headless_chromium_on_real_flink() {
    let (ui_tests, chromium) = browser_ready();
    let artifacts = repo().join("target/ui-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let s = start(&data);
    let token = s.token.clone().unwrap();

    // The console's files need no token; the API does.
    let page = s.client.get(s.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        s.client
            .get(s.url("/cmf/api/v1/environments"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // The browser test: everything through the console.
    let out = dir.path().join("console-counts.txt");
    let app_yaml = serde_yaml_ng::to_string(&counter_app("counter", &out, 1, "savepoint")).unwrap();
    let mut node = Command::new("node");
    node.arg(ui_tests.join("console.mjs"))
        .arg(&s.base)
        .arg(&token)
        .arg(&artifacts)
        .env("DREY_CONSOLE_APP_YAML", &app_yaml)
        .env("CHROMIUM", &chromium)
        .current_dir(&ui_tests);
    let started = Instant::now();
    let result = run_with_limit(node, Duration::from_secs(900));
    println!(
        "console.mjs ({:.0?}):\n{}{}",
        started.elapsed(),
        text(&result.stdout),
        text(&result.stderr)
    );
    assert!(
        result.status.success(),
        "the console test failed ({}); screenshots in {}\n{}{}\nserver log:\n{}",
        result.status,
        artifacts.display(),
        text(&result.stdout),
        text(&result.stderr),
        s.log()
    );
    assert!(artifacts.join("07-application-detail.png").is_file());
    assert_eq!(flink_processes(&data), 0, "the console's delete stopped it");

    // The CLI against a real application: apply, wait for RUNNING, savepoint.
    let cli_out = dir.path().join("cli-counts.txt");
    let app =
        serde_yaml_ng::to_string(&counter_app("cli-counter", &cli_out, 1, "savepoint")).unwrap();
    let file = dir.path().join("cli.yaml");
    std::fs::write(&file, format!("kind: Environment\nname: flink\n---\n{app}")).unwrap();
    let o = cli(&s, &["apply", "-f", file.to_str().unwrap(), "-e", "flink"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = cli(
        &s,
        &[
            "app",
            "wait",
            "cli-counter",
            "-e",
            "flink",
            "--for",
            "RUNNING",
            "--timeout",
            "240",
            "-o",
            "json",
        ],
    );
    assert!(o.status.success(), "{}\n{}", text(&o.stderr), s.log());
    assert!(
        o.stderr.is_empty(),
        "no spinner when stderr is not a terminal: {:?}",
        text(&o.stderr)
    );
    let waited: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(waited["status"]["jobStatus"]["state"], "RUNNING");
    // Flink says RUNNING before the tasks run; a savepoint needs them: wait
    // for the job's output.
    wait_for_output(&cli_out, 3).await;
    let o = cli(
        &s,
        &[
            "app",
            "savepoint",
            "cli-counter",
            "-e",
            "flink",
            "--name",
            "cli-sp",
            "--wait",
            "--timeout",
            "240",
            "-o",
            "json",
        ],
    );
    assert!(o.status.success(), "{}\n{}", text(&o.stderr), s.log());
    let savepoint: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(savepoint["status"]["state"], "COMPLETED");
    let path = savepoint["status"]["path"].as_str().unwrap();
    assert!(
        Path::new(path.trim_start_matches("file:").trim_start_matches("//"))
            .join("_metadata")
            .is_file(),
        "{path} on disk"
    );
    let o = cli(&s, &["app", "delete", "cli-counter", "-e", "flink"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let deadline = Instant::now() + Duration::from_secs(240);
    while s.get(&format!("{APPS}/cli-counter")).await.0 != 404 {
        assert!(Instant::now() < deadline, "not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(flink_processes(&data), 0);
}

/// The console's files over HTTP (no browser, no Flink): public with tokens
/// on, right content types, ETags and cache headers, unknown files 404, and
/// the API still closed.
#[tokio::test]
async fn console_files_are_public_and_cached_the_api_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| client.get(s.url(path)).send();

    let r = get("/ui").await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/ui/");

    let r = get("/ui/").await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<script type=\"module\" src=\"app.js?v="),
        "{html}"
    );
    let version = html
        .split("app.js?v=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // Revalidation costs a 304.
    let r = client
        .get(s.url("/ui/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = get(&format!("/ui/{file}?v={version}")).await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert_eq!(r.headers()["content-type"], content_type, "{file}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "a versioned file is cached for good"
        );
        assert!(r.headers().contains_key("etag"));
        let r = get(&format!("/ui/{file}")).await.unwrap();
        assert_eq!(
            r.headers()["cache-control"],
            "no-cache",
            "{file} unversioned"
        );
    }
    let r = get("/ui/config.json").await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"auth": "token"})
    );

    // Unknown files: 404 in CMF's error body, with or without a token.
    let r = get("/ui/nope.js").await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        common::error_message(&r.json().await.unwrap()),
        "Resource not found: [ui/nope.js]"
    );
    assert_eq!(
        get("/ui/..%2Fcmf%2Fapi%2Fv1%2Fenvironments")
            .await
            .unwrap()
            .status(),
        404
    );
    // The API stays closed.
    assert_eq!(get("/cmf/api/v1/environments").await.unwrap().status(), 401);
    assert_eq!(get("/uinope").await.unwrap().status(), 401);
}
