//! `kill -9` of drey at seeded random moments across deploy, suspend,
//! start, rescale and savepoint runs of a stateful job on real Flink. After
//! every kill: the acknowledged write is there, the application converges,
//! there is never more than one cluster (so one job) for it, and the counter
//! continues from its state. At the end a delete leaves no Flink process.
//!
//! Quick form by default (4 rounds, seed 13); `DREY_CHAOS_ROUNDS` and
//! `DREY_CHAOS_SEED` give the long form (`scripts/bench.sh faults` runs it).
//! Each round is printed as it starts, so a failure names its round.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(240);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small seeded generator (SplitMix64): the same seed, the same run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Waits for `check`, asserting on every look that no second cluster runs.
async fn converge(s: &Server, data: &Path, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    converge_single(s, data, "chaos", LIMIT, what, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_drey_at_random_points_loses_nothing_and_never_runs_a_job_twice() {
    let rounds = env_u64("DREY_CHAOS_ROUNDS", 4);
    let seed = env_u64("DREY_CHAOS_SEED", 13);
    let mut rng = Seeded(seed);
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let mut s = start(&data);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );

    let mut app = checkpointing_counter_app("chaos", &out, 1, "savepoint");
    app["spec"]["flinkConfiguration"]["taskmanager.numberOfTaskSlots"] = json!("2");
    assert_eq!(s.post(APPS, app.clone()).await.0, 201);
    converge(&s, &data, "RUNNING", running).await;
    wait_for_output(&out, 10).await;

    let mut nonce = 0;
    for round in 0..rounds {
        let running_now = app["spec"]["job"]["state"] == "running";
        let op = if !running_now {
            "start"
        } else {
            ["suspend", "rescale", "savepoint"][rng.below(3) as usize]
        };
        match op {
            "suspend" => app["spec"]["job"]["state"] = json!("suspended"),
            "start" => app["spec"]["job"]["state"] = json!("running"),
            "rescale" => {
                let p = app["spec"]["job"]["parallelism"].as_u64().unwrap();
                app["spec"]["job"]["parallelism"] = json!(3 - p);
            }
            _ => {
                nonce += 1;
                app["spec"]["job"]["savepointTriggerNonce"] = json!(nonce);
            }
        }
        let lines = line_count(&out);
        let savepoint_before = status(&s, "chaos").await["lastSavepoint"]["location"].clone();
        let (code, body) = s.post(APPS, app.clone()).await;
        assert!(code == 200 || code == 201, "{op}: {code} {body}");
        // The kill lands somewhere in the step sequence the write started.
        let delay = Duration::from_millis(rng.below(6000));
        tokio::time::sleep(delay).await;
        s.kill9();
        // Said as it happens, so a failing round is named.
        println!("  round {round}: {op}, kill -9 after {delay:?}");
        s = start(&data);

        // The acknowledged write survived the kill.
        let (code, stored) = s.get(&format!("{APPS}/chaos")).await;
        assert_eq!(code, 200, "{stored}");
        assert_eq!(stored["spec"]["job"], app["spec"]["job"], "{op} lost");

        if app["spec"]["job"]["state"] == "running" {
            let p = app["spec"]["job"]["parallelism"].clone();
            converge(&s, &data, "RUNNING as asked", |st| {
                running(st)
                    && st["reconciliationStatus"]["lastReconciledSpec"]
                        .as_str()
                        .and_then(|t| serde_json::from_str::<Value>(t).ok())
                        .is_some_and(|spec| spec["job"]["parallelism"] == p)
            })
            .await;
            // State continues: no key starts over from zero.
            wait_for_output(&out, lines + 5).await;
            for (key, n) in first_counts_after(&out, lines) {
                assert!(n > 1, "round {round} ({op}): {key} restarted at {n}");
            }
        } else {
            converge(&s, &data, "SUSPENDED", |st| {
                st["lifecycleState"] == "SUSPENDED"
            })
            .await;
            assert_eq!(
                app_jobmanagers(&data),
                0,
                "a suspended application keeps a cluster"
            );
        }
        if op == "savepoint" {
            converge(&s, &data, "savepoint taken", |st| {
                st["lastSavepoint"]["location"].is_string()
                    && st["lastSavepoint"]["location"] != savepoint_before
            })
            .await;
        }
    }

    delete_and_wait(&s, &data, "chaos", LIMIT).await;
    println!(
        "chaos (seed {seed}, {rounds} rounds) survived in {:?}",
        started.elapsed()
    );
}
