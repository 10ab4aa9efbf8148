//! The CLI, run as the real binary against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, Server};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn drey(s: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(args)
        .env("DREY_URL", &s.base)
        .env_remove("DREY_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn apply_list_get_start_suspend_delete_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let app = serde_yaml_ng::to_string(&application("cli-app")).unwrap();
    let docs = format!("kind: Environment\nname: cli-env\n---\n{app}");
    let file = dir.path().join("docs.yaml");
    std::fs::write(&file, &docs).unwrap();

    // apply: several documents, idempotent, from a file and from stdin.
    for _ in 0..2 {
        let o = drey(
            &s,
            &["apply", "-f", file.to_str().unwrap(), "--env", "cli-env"],
            None,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("cli-env applied") && stdout(&o).contains("cli-app applied"));
    }
    let o = drey(&s, &["apply", "-f", "-", "--env", "cli-env"], Some(&app));
    assert!(o.status.success(), "{}", stderr(&o));

    // list in every format
    let o = drey(&s, &["app", "list", "--env", "cli-env"], None);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("NAME") && stdout(&o).contains("cli-app"),
        "{}",
        stdout(&o)
    );
    let o = drey(&s, &["app", "list", "--env", "cli-env", "-o", "json"], None);
    let items: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(items[0]["metadata"]["name"], "cli-app");
    let o = drey(&s, &["app", "list", "--env", "cli-env", "-o", "yaml"], None);
    let items: Value = serde_yaml_ng::from_str(&stdout(&o)).unwrap();
    assert_eq!(items[0]["spec"]["job"]["parallelism"], 3);
    let o = drey(&s, &["env", "list", "-o", "json"], None);
    let envs: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(envs[0]["name"], "cli-env");

    // get, describe, suspend, start
    let o = drey(
        &s,
        &["app", "get", "cli-app", "-e", "cli-env", "-o", "json"],
        None,
    );
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(got["kind"], "FlinkApplication");
    let o = drey(&s, &["app", "describe", "cli-app", "-e", "cli-env"], None);
    assert!(
        stdout(&o).contains("events:") && stdout(&o).contains("APPLICATION_CREATED"),
        "{}",
        stdout(&o)
    );
    let o = drey(
        &s,
        &["app", "suspend", "cli-app", "-e", "cli-env", "-o", "json"],
        None,
    );
    let suspended: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(suspended["spec"]["job"]["state"], "suspended");
    let o = drey(&s, &["app", "start", "cli-app", "-e", "cli-env"], None);
    assert!(o.status.success());
    assert!(stdout(&o).contains("running"));

    // Exit codes: 3 not found (with the server's message), 2 usage, 4 timeout, 1 failure.
    let o = drey(&s, &["app", "get", "missing", "-e", "cli-env"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("FlinkApplication 'missing' not found"),
        "{}",
        stderr(&o)
    );
    let o = drey(&s, &["app", "get"], None);
    assert_eq!(o.status.code(), Some(2));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: FlinkApplication\nmetadata: [unclosed\n").unwrap();
    let o = drey(
        &s,
        &["apply", "-f", bad.to_str().unwrap(), "--env", "cli-env"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line"),
        "the YAML error names the line: {}",
        stderr(&o)
    );
    let mut invalid = application("cli-app");
    invalid["spec"]["job"]["upgradeMode"] = "sideways".into();
    let o = drey(
        &s,
        &["apply", "-f", "-", "--env", "cli-env"],
        Some(&invalid.to_string()),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("spec.job.upgradeMode"),
        "{}",
        stderr(&o)
    );
    // The API-only server never deploys it: waiting runs out of time.
    let o = drey(
        &s,
        &[
            "app",
            "wait",
            "cli-app",
            "-e",
            "cli-env",
            "--for",
            "RUNNING",
            "--timeout",
            "1",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = drey(&s, &["env", "delete", "cli-env"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cli-app"),
        "the server's message: {}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["env", "list", "--url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));

    // Shell completions; logs of an application without a cluster: 503 -> exit 1.
    let o = drey(&s, &["completion", "bash"], None);
    assert!(o.status.success() && stdout(&o).contains("_drey"));
    let o = drey(&s, &["app", "logs", "cli-app", "-e", "cli-env"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no running Flink cluster"),
        "{}",
        stderr(&o)
    );

    // Pools, statements, secrets, savepoints.
    let (code, _) = s
        .post(
            "/cmf/api/v1/environments/cli-env/compute-pools",
            serde_json::json!({"metadata": {"name": "cli-pool"}, "spec": {"type": "DEDICATED", "clusterSpec": {}}}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = s
        .post(
            "/cmf/api/v1/secrets",
            serde_json::json!({"metadata": {"name": "cli-secret"}, "spec": {"data": {"pw": "cli-hunter2"}}}),
        )
        .await;
    assert_eq!(code, 200);
    let o = drey(&s, &["pool", "list", "-e", "cli-env"], None);
    assert!(
        stdout(&o).contains("cli-pool") && stdout(&o).contains("DEDICATED"),
        "{}",
        stdout(&o)
    );
    let o = drey(&s, &["secret", "get", "cli-secret", "-o", "json"], None);
    assert!(o.status.success() && !stdout(&o).contains("cli-hunter2"));
    let o = drey(&s, &["statement", "list"], None);
    assert_eq!(o.status.code(), Some(2), "statements need --env");
    let o = drey(
        &s,
        &[
            "savepoint",
            "list",
            "-e",
            "cli-env",
            "--app",
            "cli-app",
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
        serde_json::json!([])
    );
    let o = drey(&s, &["pool", "delete", "cli-pool", "-e", "cli-env"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = drey(&s, &["secret", "delete", "cli-secret"], None);
    assert!(o.status.success());
    let o = drey(&s, &["secret", "get", "cli-secret"], None);
    assert_eq!(o.status.code(), Some(3));

    // delete
    let o = drey(&s, &["app", "delete", "cli-app", "-e", "cli-env"], None);
    assert!(o.status.success());
    let o = drey(&s, &["app", "get", "cli-app", "-e", "cli-env"], None);
    assert_eq!(o.status.code(), Some(3));
    let o = drey(&s, &["env", "delete", "cli-env"], None);
    assert!(o.status.success(), "{}", stderr(&o));
}
