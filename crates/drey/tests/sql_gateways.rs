//! drey's SQL gateways on real Flink: every environment's statements run on a
//! gateway of its own (`<data-dir>/sql-gateway/environments/<org>/<env>/`),
//! a gateway nobody used for `--sql-gateway-idle-seconds` is stopped, and the
//! environment's next statement starts it again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `SHOW TABLES` through VVP's `sqlscripts:execute` in namespace `ns`: it runs in the
/// namespace's gateway.
async fn show_tables(s: &Server, ns: &str) {
    let (code, body) = s
        .post(
            &format!("/sql/v1beta1/namespaces/{ns}/sqlscripts:execute"),
            json!({"statement": "SHOW TABLES"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["result"], "RESULT_SUCCESS", "{body}");
    assert_eq!(body["resultTable"]["headers"][0]["name"], "table name");
}

/// The record of namespace `ns`'s gateway, if it has one.
fn record_file(data: &Path, ns: &str) -> PathBuf {
    data.join("sql-gateway/environments/default")
        .join(ns)
        .join("service.json")
}

fn gateway_pid(data: &Path, ns: &str) -> Option<i32> {
    let bytes = std::fs::read(record_file(data, ns)).ok()?;
    let record: Value = serde_json::from_slice(&bytes).unwrap();
    record["pid"].as_i64().and_then(|p| i32::try_from(p).ok())
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_has_a_gateway_and_idle_ones_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let _cleanup = KillClusters(data.to_owned());
    let s = start_with_args(data, &["--sql-gateway-idle-seconds", "5"]);
    for ns in ["left", "right"] {
        let (code, body) = s
            .post("/namespaces/v1/namespaces", json!({"name": ns}))
            .await;
        assert_eq!(code, 201, "{body}");
        show_tables(&s, ns).await;
    }
    let (left, right) = (
        gateway_pid(data, "left").expect("left's gateway"),
        gateway_pid(data, "right").expect("right's gateway"),
    );
    assert_ne!(left, right, "one gateway per environment");
    assert!(alive(left) && alive(right));
    assert!(
        !data.join("sql-gateway/service.json").exists(),
        "no gateway shared by the environments"
    );

    // Kept while used (a statement every second), stopped once idle.
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive(right) {
        assert!(Instant::now() < deadline, "right's idle gateway still runs");
        show_tables(&s, "left").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    show_tables(&s, "left").await;
    assert_eq!(gateway_pid(data, "left"), Some(left));
    assert!(alive(left), "a gateway in use was stopped");
    assert!(!record_file(data, "right").exists());

    // Both idle: both stop; the next statement starts its environment's again.
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive(left) {
        assert!(Instant::now() < deadline, "left's idle gateway still runs");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    show_tables(&s, "right").await;
    let again = gateway_pid(data, "right").expect("right's gateway again");
    assert!(alive(again) && again != right);
    assert!(gateway_pid(data, "left").is_none());
}
