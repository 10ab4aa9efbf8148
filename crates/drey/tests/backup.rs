//! `drey admin backup|restore` of the embedded store: an online copy taken
//! while the server writes holds every write acknowledged before it began;
//! a restored data dir comes up with its objects and adopts the Flink
//! cluster it finds running (same JobManager, same job, no second start).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs `drey admin ARGS --data-dir DATA` without blocking the runtime.
async fn admin(args: &[&str], data: &Path) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_drey"))
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("DREY_CONFIG")
        .env_remove("DREY_DATABASE_URL")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Pids of the application JobManagers under `data`.
fn jobmanager_pids(data: &Path) -> Vec<i32> {
    let needle = data.join("clusters");
    flink_jvms(&needle.to_string_lossy(), JOBMANAGER)
}

fn sqlite_only() -> bool {
    if std::env::var("DREY_TEST_DATABASE").as_deref() == Ok("postgres") {
        eprintln!("backup/restore is for the SQLite store; PostgreSQL uses pg_dump");
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_keeps_every_acknowledged_write() {
    if !sqlite_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let s = Arc::new(Server::start_in(&data, &[]));
    assert_eq!(
        s.post(
            "/cmf/api/v1/secrets",
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Secret",
                   "metadata": {"name": "db-password"},
                   "spec": {"data": {"password": "hunter2-in-the-backup"}}})
        )
        .await
        .0,
        200
    );

    // A writer that never stops while the backup runs.
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (s, acked, stop) = (s.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let (code, body) = s
                    .post(
                        "/cmf/api/v1/environments",
                        json!({"name": format!("env-{n}")}),
                    )
                    .await;
                assert_eq!(code, 201, "{body}");
                n += 1;
                acked.store(n, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 50 {
        assert!(!writer.is_finished(), "the writer stopped:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = acked.load(Ordering::SeqCst);
    let file = dir.path().join("drey-backup.db");
    let (ok, stderr) = admin(&["backup", file.to_str().unwrap()], &data).await;
    assert!(ok, "backup failed: {stderr}");
    assert!(stderr.contains("backed up"), "{stderr}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let total = acked.load(Ordering::SeqCst);
    assert!(total > before, "the writer kept writing during the backup");
    let stored = std::fs::read(&file).unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains("hunter2-in-the-backup"),
        "secret data in clear in the backup"
    );

    // Restore into a fresh data dir with the server's key.
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let (ok, stderr) = admin(&["restore", file.to_str().unwrap()], &fresh).await;
    assert!(!ok && stderr.contains("has no secret.key"), "{stderr}");
    std::fs::copy(data.join("secret.key"), fresh.join("secret.key")).unwrap();
    let (ok, stderr) = admin(&["restore", file.to_str().unwrap()], &fresh).await;
    assert!(ok, "restore failed: {stderr}");

    let restored = Server::start_in(&fresh, &[]);
    for n in 0..before {
        let (code, body) = restored
            .get(&format!("/cmf/api/v1/environments/env-{n}"))
            .await;
        assert_eq!(code, 200, "env-{n}, acknowledged before the backup: {body}");
    }
    let mut in_backup = 0;
    for page in 0.. {
        let (code, body) = restored
            .get(&format!("/cmf/api/v1/environments?page={page}&size=1000"))
            .await;
        assert_eq!(code, 200, "{body}");
        let items = body["items"].as_array().unwrap().len();
        if items == 0 {
            break;
        }
        in_backup += items;
    }
    assert!(
        (before..=total).contains(&in_backup),
        "{in_backup} environments restored, {before} acknowledged before and {total} after"
    );
    let (code, secret) = restored.get("/cmf/api/v1/secrets/db-password").await;
    assert_eq!(code, 200, "{secret}");
    restored.terminate();

    // A running server's data dir is never restored over.
    let (ok, stderr) = admin(&["restore", file.to_str().unwrap()], &data).await;
    assert!(!ok, "restored under a running server");
    assert!(stderr.contains("stop the server"), "{stderr}");
    // A file that is no backup is refused before anything is replaced.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database").unwrap();
    drop(s);
    let (ok, stderr) = admin(&["restore", junk.to_str().unwrap()], &fresh).await;
    assert!(!ok && stderr.contains("not a drey store"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_store_adopts_the_running_flink_application() {
    if !sqlite_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let limit = Duration::from_secs(240);

    let s = start(&data);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );
    assert_eq!(
        s.post(APPS, counter_app("kept", &out, 1, "savepoint"))
            .await
            .0,
        201
    );
    let st = converge_single(&s, &data, "kept", limit, "RUNNING", running).await;
    let job_id = st["jobStatus"]["jobId"].clone();
    wait_for_output(&out, 5).await;
    let jobmanager = jobmanager_pids(&data);
    assert_eq!(jobmanager.len(), 1);

    let file = dir.path().join("backup.db");
    let (ok, stderr) = admin(&["backup", file.to_str().unwrap()], &data).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "after-backup"}))
            .await
            .0,
        201
    );
    s.kill9();

    let (ok, stderr) = admin(&["restore", file.to_str().unwrap()], &data).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("kept as"), "{stderr}");
    assert_eq!(
        jobmanager_pids(&data),
        jobmanager,
        "killing drey stopped no Flink"
    );

    let s = start(&data);
    assert_eq!(
        s.get("/cmf/api/v1/environments/after-backup").await.0,
        404,
        "written after the backup"
    );
    let lines = line_count(&out);
    let st = converge_single(&s, &data, "kept", limit, "RUNNING again", |st| {
        running(st) && st["jobStatus"]["jobId"] == job_id
    })
    .await;
    assert_eq!(st["jobStatus"]["jobId"], job_id, "the same job, adopted");
    wait_for_output(&out, lines + 5).await;
    // Adopted, not restarted: still one cluster with one job.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        jobmanager_pids(&data),
        jobmanager,
        "the restored server started another cluster:\n{}",
        s.log()
    );
    let (code, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/kept/events?size=100")
        .await;
    assert_eq!(code, 200, "{events}");
    let lost = events.to_string().matches("CLUSTER_LOST").count();
    assert_eq!(lost, 0, "the restored server lost the cluster: {events:#}");
    delete_and_wait(&s, &data, "kept", limit).await;
}
