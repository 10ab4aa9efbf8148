//! Acknowledged writes survive `kill -9`; settings layering; graceful
//! shutdown; one server per data dir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, Server};
use serde_json::json;
use std::process::{Command, Stdio};

#[tokio::test]
async fn writes_survive_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "durable"}))
            .await
            .0,
        201
    );
    let apps = "/cmf/api/v1/environments/durable/applications";
    let mut uids = Vec::new();
    for i in 0..20 {
        let (status, body) = s.post(apps, application(&format!("app-{i:02}"))).await;
        assert_eq!(status, 201);
        uids.push(body["metadata"]["uid"].as_str().unwrap().to_owned());
    }
    let (status, _) = s
        .post(
            "/cmf/api/v1/secrets",
            json!({"metadata": {"name": "creds"}, "spec": {"data": {"k": "v"}}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post(
            "/cmf/api/v1/environments/durable/secret-mappings",
            json!({"metadata": {"name": "conn"}, "spec": {"secretName": "creds"}}),
        )
        .await;
    assert_eq!(status, 200);
    // The very last acknowledged write, right before the kill.
    let (status, last) = s
        .post(
            "/cmf/api/v1/environments/durable/applications/app-19/suspend",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    s.kill9();

    let s = Server::start(&dir);
    let (status, list) = s.get(&format!("{apps}?size=100")).await;
    assert_eq!(status, 200);
    assert_eq!(list["metadata"]["size"], 20);
    let got: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(got, uids);
    let (_, app) = s.get(&format!("{apps}/app-19")).await;
    assert_eq!(app, last);
    let (_, env) = s.get("/cmf/api/v1/environments/durable").await;
    assert_eq!(env["secrets"], json!({"conn": "creds"}));
    // The secret's data is still readable with the key file: an update works
    // and the secret keeps its mapping.
    let (status, secret) = s
        .put(
            "/cmf/api/v1/secrets/creds",
            json!({"metadata": {"name": "creds"}, "spec": {"data": {"k": "v2"}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(secret["status"]["environments"], json!(["durable"]));
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_data_stays() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "graceful"}))
            .await
            .0,
        201
    );
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
    let s = Server::start(&dir);
    assert_eq!(s.get("/cmf/api/v1/environments/graceful").await.0, 200);
}

#[tokio::test]
async fn one_server_per_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(&dir);
    let output = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DREY_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another drey server"), "{stderr}");
}

#[tokio::test]
async fn settings_from_file_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("drey.yaml");
    std::fs::write(&config, "max-body-bytes: 300\nlog: warn\n").unwrap();
    let config_arg = config.to_str().unwrap();
    let mut app = application("sized-app");
    app["spec"]["flinkConfiguration"]["pad"] = json!("x".repeat(400));
    let apps = "/cmf/api/v1/environments/cfg-env/applications";

    // From the file: 300 bytes.
    let s = Server::start_in(dir.path(), &["--config", config_arg]);
    let created = s
        .post("/cmf/api/v1/environments", json!({"name": "cfg-env"}))
        .await
        .0;
    assert_eq!(created, 201);
    assert_eq!(s.post(apps, app.clone()).await.0, 413);
    drop(s);

    // The environment beats the file.
    let s = Server::start_with(
        dir.path(),
        &["--reconciler", "off", "--config", config_arg],
        &[("DREY_MAX_BODY_BYTES", "100000")],
    );
    assert_eq!(s.post(apps, app.clone()).await.0, 201);
    drop(s);

    // A flag beats the environment.
    let s = Server::start_with(
        dir.path(),
        &[
            "--reconciler",
            "off",
            "--config",
            config_arg,
            "--max-body-bytes",
            "200",
        ],
        &[("DREY_MAX_BODY_BYTES", "100000")],
    );
    assert_eq!(s.post(apps, app.clone()).await.0, 413);
    drop(s);

    // Unknown keys are refused with a usage error naming them.
    std::fs::write(&config, "max-body-byte: 300\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["server", "--config", config_arg, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("max-body-byte"));
}

#[test]
fn the_shipped_example_settings_file_parses() {
    // docs/drey.example.yaml is what the README points users at.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/drey.example.yaml");
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args([
            "server",
            "--config",
            path,
            "--listen",
            "127.0.0.1:0",
            "--help",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
