//! Recovery on real Flink: a TaskManager that dies is noticed and the
//! application is redeployed from its latest checkpoint (`last-state`); a
//! `last-state` upgrade and a `restartNonce` bump redeploy with state kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Pids of a cluster's TaskManagers (their command lines name the cluster dir).
fn task_managers(data: &Path, cluster_id: &str) -> Vec<i32> {
    let needle = data.join("clusters").join(cluster_id);
    flink_jvms(&needle.to_string_lossy(), TASKMANAGER)
}

/// Whether a retained checkpoint exists under the data dir.
fn has_checkpoint(data: &Path) -> bool {
    let root = data.join("checkpoints");
    walk(&root).iter().any(|p| p.ends_with("_metadata"))
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_task_manager_last_state_upgrade_and_restart_nonce() {
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

    let app = checkpointing_counter_app("recovering", &out, 1, "last-state");
    assert_eq!(s.post(APPS, app.clone()).await.0, 201);
    let st = wait_for(&s, "recovering", "RUNNING", limit, running).await;
    let first_instance = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(st.get("reconciler").is_none(), "{st:#}");
    // The one cluster there is: the reconciler's record is no part of the view.
    let clusters: Vec<String> = std::fs::read_dir(data.join("clusters"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(clusters.len(), 1, "{clusters:?}");
    let cluster_id = clusters[0].clone();
    wait_for_output(&out, 20).await;
    let deadline = Instant::now() + limit;
    while !has_checkpoint(&data) {
        assert!(Instant::now() < deadline, "no checkpoint written");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Kill the TaskManager: drey notices, reports it, and redeploys from the
    // latest checkpoint; the counts continue.
    let tms = task_managers(&data, &cluster_id);
    assert_eq!(tms.len(), 1, "one TaskManager");
    let lines = line_count(&out);
    let before = counts(&out);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tms[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let noticed = Instant::now();
    wait_for(&s, "recovering", "noticed", limit, |st| {
        st["currentDeployedInstanceName"] != first_instance.as_str()
            || st["lifecycleState"] == "UPGRADING"
    })
    .await;
    let noticed_after = noticed.elapsed();
    let st = wait_for(&s, "recovering", "RUNNING again", limit, |st| {
        running(st) && st["currentDeployedInstanceName"] != first_instance.as_str()
    })
    .await;
    assert!(
        st["jobStatus"]["upgradeSavepointPath"]
            .as_str()
            .unwrap_or_default()
            .contains("chk-"),
        "restored from a checkpoint: {st:#}"
    );
    let (_, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/recovering/events?size=100")
        .await;
    assert!(events["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["status"]["type"] == "CLUSTER_LOST"));
    wait_for_output(&out, lines + 10).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > 1 && n + 40 > saved,
            "{key}: resumed at {n}, had {saved}"
        );
    }
    println!("lost TaskManager noticed after {noticed_after:?}");

    // last-state upgrade: parallelism 1 -> 2 from the latest checkpoint.
    let second = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines = line_count(&out);
    let mut upgraded = app.clone();
    upgraded["spec"]["job"]["parallelism"] = json!(2);
    assert_eq!(s.post(APPS, upgraded.clone()).await.0, 201);
    let st = wait_for(&s, "recovering", "upgraded", limit, |st| {
        running(st) && st["currentDeployedInstanceName"] != second.as_str()
    })
    .await;
    assert!(
        st["jobStatus"]["upgradeSavepointPath"]
            .as_str()
            .unwrap_or_default()
            .contains("chk-"),
        "{st:#}"
    );
    wait_for_output(&out, lines + 10).await;
    assert!(first_counts_after(&out, lines).values().all(|n| *n > 1));

    // restartNonce: a new deployment of the same spec.
    let third = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut restarted = upgraded.clone();
    restarted["spec"]["restartNonce"] = json!(1);
    assert_eq!(s.post(APPS, restarted).await.0, 201);
    wait_for(&s, "recovering", "restarted", limit, |st| {
        running(st) && st["currentDeployedInstanceName"] != third.as_str()
    })
    .await;
    let (_, instances) = s.get(&format!("{APPS}/recovering/instances")).await;
    assert_eq!(instances["metadata"]["size"], 4);

    assert_eq!(s.delete(&format!("{APPS}/recovering")).await.0, 200);
    let deadline = Instant::now() + limit;
    while s.get(&format!("{APPS}/recovering")).await.0 != 404 {
        assert!(Instant::now() < deadline, "not deleted:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(flink_processes(&data), 0);
}

/// The operator's health check (`kubernetes.operator.cluster.health-check.*`):
/// a job that restarts in a loop past the threshold is redeployed, with an
/// event saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_restarting_in_a_loop_is_redeployed_by_the_health_check() {
    let env = FlinkEnv::start().await;
    let (dir, data, s) = (&env.dir, &env.data, &env.server);
    let limit = Duration::from_secs(300);
    let mut app = counter_app("looping", &dir.path().join("unused.txt"), 1, "last-state");
    app["spec"]["job"]["jarURI"] = json!(format!(
        "local://{}",
        testjobs().join("failing-job.jar").display()
    ));
    app["spec"]["job"]["entryClass"] = json!("io.drey.testjobs.FailingJob");
    app["spec"]["job"]["args"] = json!(["--fail-after", "3", "--restart-attempts", "100000"]);
    let conf = &mut app["spec"]["flinkConfiguration"];
    conf["kubernetes.operator.cluster.health-check.enabled"] = json!("maybe");
    let (code, body) = s.post(APPS, app.clone()).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string()
            .contains("kubernetes.operator.cluster.health-check.enabled"),
        "{body}"
    );
    let conf = &mut app["spec"]["flinkConfiguration"];
    conf["kubernetes.operator.cluster.health-check.enabled"] = json!("true");
    conf["kubernetes.operator.cluster.health-check.restarts.threshold"] = json!("2");
    conf["kubernetes.operator.cluster.health-check.restarts.window"] = json!("10 min");
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(s, "looping", "a deployment", limit, |st| {
        st["currentDeployedInstanceName"].is_string()
    })
    .await;
    let first = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();

    // Restarts past the threshold: the job is cancelled and deployed anew.
    let st = wait_for(s, "looping", "a new deployment", limit, |st| {
        st["currentDeployedInstanceName"]
            .as_str()
            .is_some_and(|i| i != first)
    })
    .await;
    assert_ne!(st["lifecycleState"], "FAILED", "{st:#}");
    let (_, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/looping/events?size=100")
        .await;
    let unhealthy: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"]["type"] == "JOB_UNHEALTHY")
        .filter_map(|e| e["status"]["message"].as_str())
        .collect();
    assert!(!unhealthy.is_empty(), "{events:#}");
    assert!(
        unhealthy[0].contains("restarts.threshold (2)"),
        "{unhealthy:?}"
    );
    // The first deployment's cluster went with it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while flink_jvms(&data.to_string_lossy(), JOBMANAGER).len() > 1 {
        assert!(
            Instant::now() < deadline,
            "{}",
            describe_processes(&data.to_string_lossy())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(s.delete(&format!("{APPS}/looping")).await.0, 200);
}

/// The health check's checkpoint progress: a TaskManager frozen with
/// SIGSTOP stops the job's checkpoints while Flink still calls it RUNNING;
/// past `checkpoint-progress.window` drey redeploys it from its latest
/// checkpoint, and the counts go on from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_that_stop_completing_get_the_job_redeployed() {
    let env = FlinkEnv::start().await;
    let (dir, data, s) = (&env.dir, &env.data, &env.server);
    let out = dir.path().join("counts.txt");
    let limit = Duration::from_secs(300);
    let mut app = checkpointing_counter_app("stalling", &out, 1, "last-state");
    let conf = &mut app["spec"]["flinkConfiguration"];
    conf["kubernetes.operator.cluster.health-check.enabled"] = json!("true");
    conf["kubernetes.operator.cluster.health-check.checkpoint-progress.enabled"] = json!("true");
    conf["kubernetes.operator.cluster.health-check.checkpoint-progress.window"] = json!("15s");
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(s, "stalling", "RUNNING", limit, running).await;
    let first = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_output(&out, 20).await;
    let deadline = Instant::now() + limit;
    while !has_checkpoint(data) {
        assert!(Instant::now() < deadline, "no checkpoint written");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Healthy while checkpoints complete: no redeployment.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let st = status(s, "stalling").await;
    assert_eq!(st["currentDeployedInstanceName"], first.as_str(), "{st:#}");

    let cluster = std::fs::read_dir(data.join("clusters"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .unwrap();
    let tms = task_managers(data, &cluster);
    assert_eq!(tms.len(), 1, "one TaskManager");
    let lines = line_count(&out);
    let before = counts(&out);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tms[0]),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let st = wait_for(s, "stalling", "redeployed", limit, |st| {
        running(st)
            && st["currentDeployedInstanceName"]
                .as_str()
                .is_some_and(|i| i != first)
    })
    .await;
    assert!(
        st["jobStatus"]["upgradeSavepointPath"]
            .as_str()
            .unwrap_or_default()
            .contains("chk-"),
        "restored from a checkpoint: {st:#}"
    );
    let (_, events) = s
        .get("/cmf/api/v1alpha1/environments/flink/applications/stalling/events?size=100")
        .await;
    assert!(
        events["items"].as_array().unwrap().iter().any(|e| {
            e["status"]["type"] == "JOB_UNHEALTHY"
                && e["status"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("checkpoint-progress.window (15 s)"))
        }),
        "{events:#}"
    );
    // The frozen TaskManager went with its cluster; the counts go on from
    // the checkpoint, not from zero.
    assert!(task_managers(data, &cluster).is_empty());
    wait_for_output(&out, lines + 10).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > 1 && n + 60 > saved,
            "{key}: resumed at {n}, had {saved}"
        );
    }
    assert_eq!(s.delete(&format!("{APPS}/stalling")).await.0, 200);
}
