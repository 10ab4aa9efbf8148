//! The autoscaler on real Flink: a CPU-bound job (the repo's `cpu-bound`
//! test job, whose per-record cost a file sets) is rescaled in place by the
//! adaptive scheduler when its busy vertex is past the target, and back
//! down when the load goes, with its keyed counts going on; every decision
//! is a `JOB_RESCALED` event naming the figures it was made from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const APP: &str = "scaled";

fn cpu_bound_app(out: &Path, cost: &Path) -> Value {
    json!({
        "apiVersion": "cmf.confluent.io/v1",
        "kind": "FlinkApplication",
        "metadata": {"name": APP},
        "spec": {
            "flinkConfiguration": {
                "taskmanager.numberOfTaskSlots": "2",
                "jobmanager.scheduler": "adaptive",
                // The adaptive scheduler rescales when asked, not 30 s later.
                "jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling": "0 s",
                "job.autoscaler.enabled": "true",
                "job.autoscaler.target.utilization": "0.7",
                "job.autoscaler.target.utilization.boundary": "0.1",
                "job.autoscaler.stabilization.interval": "5 s",
                "job.autoscaler.metrics.window": "10 s",
                "job.autoscaler.vertex.max-parallelism": "2"
            },
            "jobManager": {"resource": {"memory": "768m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1280m", "cpu": 1}},
            "job": {
                "jarURI": format!("local://{}", testjobs().join("cpu-bound.jar").display()),
                "entryClass": "io.drey.testjobs.CpuBoundJob",
                "args": ["--out", out.to_str().unwrap(), "--rate", "200",
                         "--cost-file", cost.to_str().unwrap(),
                         "--checkpoint-interval", "1000"],
                "state": "running",
                "parallelism": 1,
                "upgradeMode": "savepoint"
            }
        }
    })
}

/// The parallelism of each vertex of the application's job, by name, as
/// Flink reports it through drey's proxy.
async fn parallelism(s: &Server, job: &str) -> Vec<(String, u64)> {
    let (code, body) = s
        .get(&format!("{APPS}/{APP}/flink-web-ui/jobs/{job}"))
        .await;
    assert_eq!(code, 200, "{body}");
    body["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["parallelism"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn burn_parallelism(s: &Server, job: &str) -> u64 {
    parallelism(s, job)
        .await
        .into_iter()
        .find(|(name, _)| name.contains("burn"))
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no burn vertex in job {job}"))
}

async fn rescale_events(s: &Server) -> Vec<String> {
    let (_, events) = s
        .get(&format!(
            "/cmf/api/v1alpha1/environments/flink/applications/{APP}/events?size=100"
        ))
        .await;
    events["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["status"]["type"] == "JOB_RESCALED")
                .filter_map(|e| e["status"]["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The `JOB_RESCALED` message that took the burn vertex `step` (`1→2`).
async fn burn_decision(s: &Server, step: &str) -> String {
    let events = rescale_events(s).await;
    events
        .iter()
        .find(|m| m.contains("burn") && m.contains(step))
        .cloned()
        .unwrap_or_else(|| panic!("no rescale {step} in {events:#?}"))
}

/// Waits until the burn vertex runs at `want`, saying what drey decided.
async fn wait_for_parallelism(s: &Server, job: &str, want: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if burn_parallelism(s, job).await == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "burn not at parallelism {want} after {limit:?}; events: {:#?}\nlog:\n{}",
            rescale_events(s).await,
            s.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The keyed counts go on past where they were: no key counts from 1
/// again (the sink is not transactional, so lines after a restore may
/// repeat a few counts, never restart them).
async fn state_kept(out: &Path) {
    let before = highest_counts(out);
    wait_for_output(out, line_count(out) + 100).await;
    let after = highest_counts(out);
    let text = std::fs::read_to_string(out).unwrap();
    for (key, was) in &before {
        assert!(after[key] > *was, "{key} stopped at {was}");
        let ones = text
            .lines()
            .filter(|l| l.split_whitespace().take(2).eq([key.as_str(), "1"]))
            .count();
        assert_eq!(ones, 1, "{key} counted from 1 again: its state was lost");
    }
}

/// The highest count written for each key.
fn highest_counts(out: &Path) -> BTreeMap<String, u64> {
    let mut highest = BTreeMap::new();
    for line in std::fs::read_to_string(out).unwrap_or_default().lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [key, count, ..] = parts[..] {
            if let Ok(n) = count.parse::<u64>() {
                let h = highest.entry(key.to_owned()).or_insert(0);
                *h = (*h).max(n);
            }
        }
    }
    highest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_job_is_scaled_up_in_place_and_down_when_the_load_goes() {
    let env = FlinkEnv::start().await;
    let (dir, s) = (&env.dir, &env.server);
    let limit = Duration::from_secs(240);
    let out = dir.path().join("counts.txt");
    let cost = dir.path().join("cost-us");
    // 200 records/s at 4.5 ms each: the burn vertex is ~90% busy alone.
    std::fs::write(&cost, "4500").unwrap();

    // A value the operator would not take is refused, naming the option.
    let mut bad = cpu_bound_app(&out, &cost);
    bad["spec"]["flinkConfiguration"]["job.autoscaler.target.utilization"] = json!("1.5");
    let (code, body) = s.post(APPS, bad).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.to_string()
            .contains("job.autoscaler.target.utilization"),
        "{body}"
    );

    assert_eq!(s.post(APPS, cpu_bound_app(&out, &cost)).await.0, 201);
    let st = wait_for(s, APP, "RUNNING", limit, running).await;
    let job = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    let instance = st["currentDeployedInstanceName"].clone();
    assert_eq!(burn_parallelism(s, &job).await, 1);

    // Past the target: scaled up in place (same job, same deployment).
    wait_for_parallelism(s, &job, 2, limit).await;
    let up = burn_decision(s, "1→2").await;
    assert!(up.starts_with(&format!("Rescaled job {job}")), "{up}");
    assert!(up.contains("busy") && up.contains("must take"), "{up}");
    let st = status(s, APP).await;
    assert_eq!(st["jobStatus"]["jobId"], job.as_str(), "{st:#}");
    assert_eq!(st["currentDeployedInstanceName"], instance);
    // The same decision through VVP's Autopilot.
    let pilot = format!("/autopilot/v1alpha1/namespaces/flink/deployments/{APP}/autopilotpolicy");
    let (code, policy) = s.get(&pilot).await;
    assert_eq!(code, 200, "{policy}");
    assert_eq!(policy["policy"]["mode"], "AUTOPILOT_MODE_ACTIVE");
    let (_, pilot_status) = s.get(&format!("{pilot}:status")).await;
    let autoscaler = &pilot_status["status"]["autoscalerStatus"];
    assert!(autoscaler["lastActionTime"].is_string(), "{pilot_status}");
    assert!(
        autoscaler["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Rescaled job")),
        "{pilot_status}"
    );
    assert_eq!(
        autoscaler["sourceStatus"][0]["taskName"],
        "Source: sequence"
    );
    let (_, rec) = s.get(&format!("{pilot}:recommendation")).await;
    let patch: Value =
        serde_json::from_str(rec["recommendation"]["deploymentPatch"].as_str().unwrap()).unwrap();
    assert_eq!(patch["spec"]["template"]["spec"]["parallelism"], 2, "{rec}");
    state_kept(&out).await;

    // The load goes: scaled back down, the counts still going on.
    std::fs::write(&cost, "0").unwrap();
    wait_for_parallelism(s, &job, 1, limit).await;
    burn_decision(s, "2→1").await;
    state_kept(&out).await;
    assert_eq!(status(s, APP).await["jobStatus"]["jobId"], job.as_str());
    delete_and_wait(s, &env.data, APP, limit).await;
}

/// Without the adaptive scheduler the decision is carried out by a new
/// deployment per the upgrade mode (here a savepoint), whose submission
/// gives each vertex its parallelism; the spec stays as the user wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_adaptive_scheduler_a_savepoint_upgrade_rescales() {
    let env = FlinkEnv::start().await;
    let (dir, s) = (&env.dir, &env.server);
    let limit = Duration::from_secs(240);
    let out = dir.path().join("counts.txt");
    let cost = dir.path().join("cost-us");
    std::fs::write(&cost, "4500").unwrap();
    let mut app = cpu_bound_app(&out, &cost);
    let conf = app["spec"]["flinkConfiguration"].as_object_mut().unwrap();
    conf.remove("jobmanager.scheduler");
    conf.remove("jobmanager.adaptive-scheduler.executing.cooldown-after-rescaling");
    // One slot each: the new deployment needs a second TaskManager.
    conf.insert("taskmanager.numberOfTaskSlots".into(), json!("1"));
    assert_eq!(s.post(APPS, app).await.0, 201);
    let st = wait_for(s, APP, "RUNNING", limit, running).await;
    let first_job = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    let first_instance = st["currentDeployedInstanceName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(burn_parallelism(s, &first_job).await, 1);

    let st = wait_for(s, APP, "redeployed by the autoscaler", limit, |st| {
        running(st)
            && st["currentDeployedInstanceName"]
                .as_str()
                .is_some_and(|i| i != first_instance)
    })
    .await;
    let job = st["jobStatus"]["jobId"].as_str().unwrap().to_owned();
    assert_ne!(job, first_job);
    assert_eq!(burn_parallelism(s, &job).await, 2, "{st:#}");
    let cluster = st["clusterInfo"]["clusterId"].as_str().unwrap();
    let data = env.data.join("clusters").join(cluster);
    assert_eq!(
        flink_jvms(&data.to_string_lossy(), TASKMANAGER).len(),
        2,
        "a TaskManager per slot the new parallelism needs"
    );
    let why = burn_decision(s, "1→2").await;
    assert!(
        why.starts_with(&format!(
            "Rescaling job {first_job} through a new deployment (savepoint"
        )),
        "{why}"
    );
    // Restored from the savepoint the rescale took.
    assert!(
        st["jobStatus"]["upgradeSavepointPath"].is_string(),
        "{st:#}"
    );
    state_kept(&out).await;
    let (_, body) = s.get(&format!("{APPS}/{APP}")).await;
    assert_eq!(
        body["spec"]["job"]["parallelism"], 1,
        "the spec is the user's"
    );
    delete_and_wait(s, &env.data, APP, limit).await;
}
