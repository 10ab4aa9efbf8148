//! Faults injected under real Flink, and what the control loop does about
//! them: a JobManager frozen with SIGSTOP is *unknown* and left alone, until
//! it has been silent past the hung bound (then it is recovered with its
//! state); one killed with SIGKILL is *gone*, noticed and redeployed with its
//! state; a killed pasta (the cluster's network namespace's way in and out)
//! is replaced without touching the job; a reconcile pass that panics is
//! retried until the object converges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(240);

fn env_seconds(name: &str, default: u64) -> Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(secs)
}

/// How long the JobManager stays frozen (the 120 s by default;
/// `DREY_FAULT_STALL_SECONDS` for a longer soak by hand).
fn stall() -> Duration {
    env_seconds("DREY_FAULT_STALL_SECONDS", 120)
}

/// The hung bound of the test that freezes a JobManager past it: 20 s by
/// default, `DREY_FAULT_HUNG_SECONDS` for the long form (the server's
/// default is 300 s).
fn hung_bound() -> Duration {
    env_seconds("DREY_FAULT_HUNG_SECONDS", 20)
}

/// The pid of the JobManager of the one application cluster under `data`.
fn jobmanager_pid(data: &Path) -> (String, i32) {
    let clusters: Vec<String> = std::fs::read_dir(data.join("clusters"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("app-"))
        .collect();
    for id in clusters {
        let needle = data
            .join("clusters")
            .join(&id)
            .to_string_lossy()
            .to_string();
        if let Some(pid) = flink_jvms(&needle, JOBMANAGER).first() {
            return (id, *pid);
        }
    }
    panic!("no JobManager process under {}", data.display());
}

async fn events(s: &Server, app: &str) -> Vec<Value> {
    let (code, body) = s
        .get(&format!(
            "/cmf/api/v1alpha1/environments/flink/applications/{app}/events?size=100"
        ))
        .await;
    assert_eq!(code, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

fn has_event(events: &[Value], kind: &str) -> bool {
    events.iter().any(|e| e["status"]["type"] == kind)
}

fn instance_of(st: &Value) -> String {
    st["currentDeployedInstanceName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn environment(s: &Server) {
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_jobmanager_is_left_alone_and_its_job_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let s = start(&data);
    environment(&s).await;

    let mut app = counter_app("frozen", &out, 1, "savepoint");
    // The stall tests drey, not Flink's own failure detection: heartbeats
    // outlast it, so the job itself has no reason to fail over.
    app["spec"]["flinkConfiguration"]["heartbeat.timeout"] = json!("600000");
    app["spec"]["flinkConfiguration"]["restart-strategy.type"] = json!("fixed-delay");
    app["spec"]["flinkConfiguration"]["restart-strategy.fixed-delay.attempts"] = json!("100");
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(&s, "frozen", "RUNNING", LIMIT, running).await;
    let instance = instance_of(&st);
    let job_id = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    let rest_url = st["clusterInfo"]["restUrl"].as_str().unwrap().to_owned();
    wait_for_output(&out, 5).await;
    let (_, jm) = jobmanager_pid(&data);

    kill(Pid::from_raw(jm), Signal::SIGSTOP).unwrap();
    let frozen_at = Instant::now();
    let mut reported = None;
    while frozen_at.elapsed() < stall() {
        let st = status(&s, "frozen").await;
        // Nothing is torn down or redeployed, and the job's state is the one
        // last seen.
        assert_eq!(
            instance_of(&st),
            instance,
            "a new instance while frozen: {st:#}"
        );
        assert_eq!(st["jobStatus"]["state"], "RUNNING", "{st:#}");
        assert!(
            st["lifecycleState"] != "FAILED" && st["lifecycleState"] != "UPGRADING",
            "{st:#}"
        );
        if reported.is_none() && st["conditions"][0]["status"] == "False" {
            assert_eq!(st["jobManagerDeploymentStatus"], "DEPLOYED_NOT_READY");
            assert!(st["conditions"][0]["message"]
                .as_str()
                .unwrap()
                .contains("JobManager not answering since"));
            reported = Some(frozen_at.elapsed());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let reported =
        reported.unwrap_or_else(|| panic!("the silence was never reported\nlog:\n{}", s.log()));
    let evs = events(&s, "frozen").await;
    assert!(has_event(&evs, "JOBMANAGER_NOT_ANSWERING"), "{evs:#?}");
    assert!(!has_event(&evs, "CLUSTER_LOST"), "{evs:#?}");

    let lines = line_count(&out);
    kill(Pid::from_raw(jm), Signal::SIGCONT).unwrap();
    let st = wait_for(&s, "frozen", "answering again", LIMIT, |st| {
        st["conditions"][0]["status"] == "True" && running(st)
    })
    .await;
    assert_eq!(instance_of(&st), instance);
    assert_eq!(st["jobStatus"]["jobId"], job_id.as_str());
    // The same JobManager process, the same job, still running and counting.
    assert!(
        kill(Pid::from_raw(jm), None).is_ok(),
        "the JobManager was killed"
    );
    // Flink itself may restart the job's tasks after a long freeze (its
    // TaskManager heartbeats timed out); it is the same job, recovered by
    // Flink, never redeployed by drey.
    let deadline = Instant::now() + LIMIT;
    while !flink_jobs(&rest_url)
        .await
        .contains(&(job_id.clone(), "RUNNING".to_owned()))
    {
        assert!(Instant::now() < deadline, "the job is not RUNNING in Flink");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wait_for_output(&out, lines + 10).await;
    let evs = events(&s, "frozen").await;
    assert!(has_event(&evs, "JOBMANAGER_ANSWERING"), "{evs:#?}");
    assert!(!has_event(&evs, "CLUSTER_LOST"), "{evs:#?}");
    let (_, instances) = s.get(&format!("{APPS}/frozen/instances")).await;
    assert_eq!(instances["metadata"]["size"], 1, "{instances:#}");
    println!(
        "froze the JobManager for {:?}; drey reported it after {reported:?} and left the job running",
        stall()
    );

    delete_and_wait(&s, &data, "frozen", LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_jobmanager_is_noticed_and_redeployed_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let s = start(&data);
    environment(&s).await;

    let app = checkpointing_counter_app("killed", &out, 1, "last-state");
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(&s, "killed", "RUNNING", LIMIT, running).await;
    let instance = instance_of(&st);
    wait_for_output(&out, 20).await;
    // Let a few checkpoints complete.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, jm) = jobmanager_pid(&data);
    let before = counts(&out);

    kill(Pid::from_raw(jm), Signal::SIGKILL).unwrap();
    let killed_at = Instant::now();
    wait_for(&s, "killed", "noticed", LIMIT, |st| {
        instance_of(st) != instance || st["lifecycleState"] == "UPGRADING"
    })
    .await;
    let noticed = killed_at.elapsed();
    let lines = line_count(&out);
    let st = wait_for(&s, "killed", "RUNNING again", LIMIT, |st| {
        running(st) && instance_of(st) != instance
    })
    .await;
    assert!(
        st["jobStatus"]["upgradeSavepointPath"]
            .as_str()
            .unwrap_or_default()
            .contains("chk-"),
        "restored from a checkpoint: {st:#}"
    );
    let evs = events(&s, "killed").await;
    assert!(has_event(&evs, "CLUSTER_LOST"), "{evs:#?}");
    wait_for_output(&out, lines + 10).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > 1 && n + 40 > saved,
            "{key}: resumed at {n}, had {saved}"
        );
    }
    println!("a killed JobManager was noticed after {noticed:?}");

    delete_and_wait(&s, &data, "killed", LIMIT).await;
}

/// The pasta of the application cluster's network namespace is killed: the
/// REST API is cut off for a moment, the next look replaces pasta in the same
/// namespace, and the job runs on untouched (same job, same instance, no
/// CLUSTER_LOST, output growing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_network_helper_is_replaced_and_the_job_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let s = start(&data);
    environment(&s).await;
    assert_eq!(
        s.post(APPS, counter_app("netfault", &out, 1, "savepoint"))
            .await
            .0,
        201
    );
    let st = wait_for(&s, "netfault", "RUNNING", LIMIT, running).await;
    let instance = instance_of(&st);
    let job_id = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    wait_for_output(&out, 5).await;
    let (id, jm) = jobmanager_pid(&data);
    let record_file = data.join("clusters").join(&id).join("cluster.json");
    let pasta_of = || -> i64 {
        let record: Value = serde_json::from_slice(&std::fs::read(&record_file).unwrap()).unwrap();
        record["network"]["pasta_pid"]
            .as_i64()
            .expect("a network namespace")
    };
    let pasta = pasta_of();

    kill(
        Pid::from_raw(i32::try_from(pasta).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + LIMIT;
    while pasta_of() == pasta {
        assert!(
            Instant::now() < deadline,
            "pasta was not replaced:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let lines = line_count(&out);
    wait_for_output(&out, lines + 5).await;
    let st = wait_for(&s, "netfault", "RUNNING, answering", LIMIT, running).await;
    assert_eq!(st["jobStatus"]["jobId"], job_id.as_str(), "{st:#}");
    assert_eq!(instance_of(&st), instance, "{st:#}");
    assert_eq!(
        jobmanager_pid(&data).1,
        jm,
        "the JobManager is the same process"
    );
    let evs = events(&s, "netfault").await;
    assert!(!has_event(&evs, "CLUSTER_LOST"), "{evs:#?}");
    delete_and_wait(&s, &data, "netfault", LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobmanager_silent_past_the_hung_bound_is_recovered_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let bound = hung_bound();
    let s = start_with_args(
        &data,
        &[
            "--jobmanager-hung-after-seconds",
            &bound.as_secs().to_string(),
        ],
    );
    environment(&s).await;

    let app = checkpointing_counter_app("hung", &out, 1, "last-state");
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(&s, "hung", "RUNNING", LIMIT, running).await;
    let instance = instance_of(&st);
    wait_for_output(&out, 20).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, jm) = jobmanager_pid(&data);
    let before = counts(&out);

    kill(Pid::from_raw(jm), Signal::SIGSTOP).unwrap();
    let frozen_at = Instant::now();
    // First reported as silent and left alone...
    wait_for(&s, "hung", "reported silent", LIMIT, |st| {
        st["conditions"][0]["status"] == "False"
    })
    .await;
    // ...then, past the bound, recovered per upgradeMode.
    let lines = line_count(&out);
    let st = wait_for(&s, "hung", "redeployed", bound + LIMIT, |st| {
        running(st) && instance_of(st) != instance
    })
    .await;
    let recovered = frozen_at.elapsed();
    assert!(
        recovered >= bound,
        "recovered after {recovered:?}, before the {bound:?} bound"
    );
    assert!(
        st["jobStatus"]["upgradeSavepointPath"]
            .as_str()
            .unwrap_or_default()
            .contains("chk-"),
        "restored from a checkpoint: {st:#}"
    );
    let evs = events(&s, "hung").await;
    assert!(
        evs.iter().any(|e| e["status"]["type"] == "CLUSTER_LOST"
            && e["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("has not answered since")),
        "{evs:#?}"
    );
    // The hung JobManager is gone, not left frozen.
    assert!(
        kill(Pid::from_raw(jm), None).is_err(),
        "the hung JobManager still exists"
    );
    wait_for_output(&out, lines + 10).await;
    for (key, n) in first_counts_after(&out, lines) {
        let saved = before.get(&key).copied().unwrap_or(0);
        assert!(
            n > 1 && n + 40 > saved,
            "{key}: resumed at {n}, had {saved}"
        );
    }
    println!("a JobManager silent past a {bound:?} bound was recovered after {recovered:?}");
    delete_and_wait(&s, &data, "hung", LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_that_panics_is_retried_until_the_object_converges() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let jobs = testjobs();
    let s = Server::start_with(
        &data,
        &[
            "--jar-dir",
            jobs.to_str().unwrap(),
            "--reconcile-interval-seconds",
            "1",
        ],
        &[("DREY_FAULT_PANIC_PASS", "panicky:2")],
    );
    environment(&s).await;
    // A jar outside the allowed directories: the pass that gets through
    // marks the application FAILED without starting Flink.
    let mut app = counter_app("panicky", &dir.path().join("out"), 1, "stateless");
    app["spec"]["job"]["jarURI"] = json!("local:///etc/passwd.jar");
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(&s, "panicky", "FAILED", Duration::from_secs(60), |st| {
        st["lifecycleState"] == "FAILED"
    })
    .await;
    assert!(
        st["error"].as_str().unwrap_or_default().contains("jarURI"),
        "{st:#}"
    );
    let evs = events(&s, "panicky").await;
    let panics = evs
        .iter()
        .filter(|e| {
            e["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("the reconcile pass panicked (injected fault")
        })
        .count();
    assert_eq!(panics, 2, "{evs:#?}");
    assert!(s.log().contains("reconcile pass panicked"));
    // The server itself is fine.
    assert_eq!(s.get("/readyz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_savepoint_flink_refuses_while_the_job_starts_is_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let s = start(&data);
    environment(&s).await;

    let mut app = counter_app("refused", &out, 1, "savepoint");
    assert_eq!(s.post(APPS, app.clone()).await.0, 201);
    wait_for(&s, "refused", "RUNNING", LIMIT, running).await;
    wait_for_output(&out, 5).await;
    app["spec"]["job"]["state"] = json!("suspended");
    let (code, body) = s.post(APPS, app.clone()).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    let st = wait_for(&s, "refused", "SUSPENDED", LIMIT, |st| {
        st["lifecycleState"] == "SUSPENDED"
    })
    .await;
    let suspended_at = st["lastSavepoint"]["location"].clone();
    assert!(suspended_at.is_string(), "{st:#}");

    // One write starts the job and asks for a savepoint: drey asks Flink as
    // soon as it calls the job RUNNING, while its tasks are still being
    // deployed, and Flink refuses ("Not all required tasks are currently
    // running"). That refusal is no reason to drop the request.
    app["spec"]["job"]["state"] = json!("running");
    app["spec"]["job"]["savepointTriggerNonce"] = json!(1);
    let (code, body) = s.post(APPS, app).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    let st = wait_for(&s, "refused", "savepoint taken", LIMIT, |st| {
        st["lastSavepoint"]["location"].is_string()
            && st["lastSavepoint"]["location"] != suspended_at
    })
    .await;
    assert!(st["error"].is_null(), "a refusal left behind: {st:#}");
    // Running on (on a loaded machine Flink may be restarting its tasks at
    // the moment the savepoint is recorded).
    wait_for(&s, "refused", "RUNNING after the savepoint", LIMIT, running).await;
    let refusals = events(&s, "refused")
        .await
        .iter()
        .filter(|e| {
            e["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("trying again")
        })
        .count();
    println!("a savepoint asked for as the job started was taken after {refusals} refusal(s)");
    delete_and_wait(&s, &data, "refused", LIMIT).await;
}
