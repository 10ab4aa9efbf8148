//! Three drey replicas on one real PostgreSQL database and one data dir (one
//! host): every replica serves reads and writes, one at a time runs the
//! reconcilers under a lease. An application created through a follower
//! runs exactly once; `kill -9` of the leader in the middle of its deploy
//! and of its suspend hands the work to another replica, which finishes it
//! with the state continued; a leader frozen past its lease (SIGSTOP) and
//! then resumed does not act.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::{postgres, Server};
use nix::sys::signal::{kill, Signal};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Replicas must share the key that seals secrets.
const SECRET_KEY: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";
/// A short lease keeps the test quick; the benchmark measures the default.
const LEASE_SECONDS: u64 = 4;
const LIMIT: Duration = Duration::from_secs(240);

fn replica(data: &Path, url: &str) -> Server {
    let lease = LEASE_SECONDS.to_string();
    start_with_args(
        data,
        &[
            "--database-url",
            url,
            "--secret-key",
            SECRET_KEY,
            "--leader-lease-seconds",
            &lease,
        ],
    )
}

async fn readyz(s: &Server) -> Value {
    let (code, body) = s.get("/readyz").await;
    assert_eq!(code, 200, "{body}");
    body
}

/// The index of the one replica that leads, once exactly one does.
async fn leader(replicas: &[&Server]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut leaders = Vec::new();
        for (i, s) in replicas.iter().enumerate() {
            if readyz(s).await["leader"] == true {
                leaders.push(i);
            }
        }
        if let [one] = leaders[..] {
            return one;
        }
        assert!(leaders.len() <= 1, "two replicas lead at once: {leaders:?}");
        assert!(Instant::now() < deadline, "no replica leads");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for `check`, asserting on every look that no second cluster runs.
async fn converge(s: &Server, data: &Path, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    converge_single(s, data, "once", LIMIT, what, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_each_job_once_and_hand_over_on_failure() {
    let Some(url) = postgres::database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let mut replicas: Vec<Server> = (0..3).map(|_| replica(&data, &url)).collect();

    let l = leader(&replicas.iter().collect::<Vec<_>>()).await;
    let ids: Vec<Value> = {
        let mut ids = Vec::new();
        for s in &replicas {
            ids.push(readyz(s).await["replica"].clone());
        }
        ids
    };
    assert!(ids.iter().all(Value::is_string), "{ids:?}");
    let metrics = replicas[l]
        .client
        .get(replicas[l].url("/metrics"))
        .bearer_auth(replicas[l].token.clone().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = format!("drey_leader{{replica=\"{}\"}} 1", ids[l].as_str().unwrap());
    assert!(metrics.contains(&gauge), "{gauge} missing:\n{metrics}");

    // Writes through a follower are read through the other at once.
    let (f1, f2) = ((l + 1) % 3, (l + 2) % 3);
    let (code, body) = replicas[f1]
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        replicas[f2].get("/cmf/api/v1/environments/flink").await.0,
        200
    );

    // An application created through a follower; the leader is killed while
    // its cluster starts.
    let mut app = counter_app("once", &out, 1, "savepoint");
    app["spec"]["job"]["args"] = json!([
        "--out",
        out.to_str().unwrap(),
        "--rate",
        "20",
        "--checkpoint-interval",
        "1000"
    ]);
    let (code, body) = replicas[f1].post(APPS, app.clone()).await;
    assert_eq!(code, 201, "{body}");
    let deadline = Instant::now() + LIMIT;
    while app_jobmanagers(&data) == 0 {
        assert!(Instant::now() < deadline, "no cluster started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deploying = !running(&status(&replicas[f1], "once").await);
    let killed = Instant::now();
    replicas.remove(l).kill9();
    let l = leader(&replicas.iter().collect::<Vec<_>>()).await;
    let failover = killed.elapsed();
    let st = converge(&replicas[l], &data, "RUNNING", running).await;
    let job_id = st["jobStatus"]["jobId"].clone();
    wait_for_output(&out, 10).await;
    assert_eq!(app_jobmanagers(&data), 1);
    replicas.push(replica(&data, &url));

    // Suspend through a follower; the leader is killed while it suspends.
    let f = (l + 1) % replicas.len();
    app["spec"]["job"]["state"] = json!("suspended");
    let (code, body) = replicas[f].post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    replicas.remove(l).kill9();
    let l = leader(&replicas.iter().collect::<Vec<_>>()).await;
    let st = converge(&replicas[l], &data, "SUSPENDED", |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    assert!(st["lastSavepoint"]["location"].is_string(), "{st:#}");
    assert_eq!(
        app_jobmanagers(&data),
        0,
        "a suspended application keeps a cluster"
    );
    replicas.push(replica(&data, &url));

    // Started again through a follower: the counter continues.
    let lines = line_count(&out);
    app["spec"]["job"]["state"] = json!("running");
    let f = (l + 1) % replicas.len();
    let (code, body) = replicas[f].post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    let st = converge(&replicas[l], &data, "RUNNING again", running).await;
    wait_for_output(&out, lines + 5).await;
    for (key, n) in first_counts_after(&out, lines) {
        assert!(n > 1, "{key} restarted at {n}: state lost");
    }
    let job_id_after_resume = st["jobStatus"]["jobId"].clone();

    // The leader freezes past its lease: another replica takes over and
    // leaves the job alone; the old leader, resumed, does not act.
    let frozen = replicas[l].pid();
    kill(frozen, Signal::SIGSTOP).unwrap();
    let others: Vec<&Server> = replicas
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != l)
        .map(|(_, s)| s)
        .collect();
    let new_leader = leader(&others).await;
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS)).await;
    kill(frozen, Signal::SIGCONT).unwrap();
    let resumed = &replicas[l];
    let deadline = Instant::now() + Duration::from_secs(30);
    while readyz(resumed).await["leader"] != false {
        assert!(Instant::now() < deadline, "the resumed replica still leads");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(leader(&replicas.iter().collect::<Vec<_>>()).await, l);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let st = converge(others[new_leader], &data, "RUNNING", running).await;
    assert_eq!(
        st["jobStatus"]["jobId"], job_id_after_resume,
        "the job was replaced"
    );
    assert_eq!(app_jobmanagers(&data), 1);
    assert!(
        resumed.log().contains("lost the reconciler lease"),
        "the resumed replica did not notice: {}",
        resumed.log()
    );

    // Deleted through any replica: nothing is left.
    let s = &replicas[(l + 1) % replicas.len()];
    delete_and_wait(s, &data, "once", LIMIT).await;
    println!(
        "failover after kill -9 of the leader: {:.1} s (lease {LEASE_SECONDS} s); \
         killed while deploying: {deploying}; first job {job_id}",
        failover.as_secs_f64()
    );
}
