//! Admission by memory on real Flink: with a budget for one cluster, a
//! second application waits (its status and an event say why, no cluster
//! is started), and starts once the first one is deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_does_not_fit_waits_and_starts_when_memory_frees() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let limit = Duration::from_secs(240);
    // One cluster of the test apps takes 768 + 1024 MiB.
    let s = start_with_args(&data, &["--cluster-memory-budget-mb", "2500"]);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );
    let first = dir.path().join("first.txt");
    let second = dir.path().join("second.txt");
    assert_eq!(
        s.post(APPS, counter_app("first", &first, 1, "stateless"))
            .await
            .0,
        201
    );
    wait_for(&s, "first", "RUNNING", limit, running).await;
    assert_eq!(
        s.post(APPS, counter_app("second", &second, 1, "stateless"))
            .await
            .0,
        201
    );

    // The second waits, saying why, and no second cluster starts.
    let deadline = Instant::now() + Duration::from_secs(60);
    let st = loop {
        let st = status(&s, "second").await;
        if st["error"]
            .as_str()
            .is_some_and(|e| e.contains("waiting for memory"))
        {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "second not held: {st:#}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let why = st["error"].as_str().unwrap();
    assert!(
        why.contains("needs 1792 MiB") && why.contains("2500 MiB"),
        "{why}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(app_jobmanagers(&data), 1, "nothing started for the second");
    let (_, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/second/events?size=100")
        .await;
    let waits = events
        .to_string()
        .matches("CLUSTER_WAITING_FOR_MEMORY")
        .count();
    assert_eq!(waits, 1, "one event while the reason holds: {events:#}");

    // Memory frees: the second starts.
    delete_and_wait_app(&s, "first", limit).await;
    let st = wait_for(&s, "second", "RUNNING", limit, running).await;
    assert!(st["error"].is_null(), "{st:#}");
    wait_for_output(&second, 3).await;
    delete_and_wait(&s, &data, "second", limit).await;
}

/// Deletes an application and waits until it is gone (other clusters may run).
async fn delete_and_wait_app(s: &common::Server, app: &str, limit: Duration) {
    let (code, body) = s.delete(&format!("{APPS}/{app}")).await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + limit;
    while s.get(&format!("{APPS}/{app}")).await.0 != 404 {
        assert!(Instant::now() < deadline, "{app} not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
