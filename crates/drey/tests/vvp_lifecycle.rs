//! A VVP Deployment on real Flink, seen through both dialects: created and
//! started through VVP, read as a CMF application with its instances,
//! suspended through CMF (a savepoint appears in VVP's list), started again
//! through VVP (restored from it), then CANCELLED.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{
    first_counts_after, line_count, start, testjobs, wait_for_output, KillClusters,
};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const NS: &str = "/api/v1/namespaces/vvp-flink";
const CMF_APP: &str = "/cmf/api/v1/environments/vvp-flink/applications/counter";

async fn wait_state(s: &Server, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, d) = s.get(&format!("{NS}/deployments/counter")).await;
        if d["status"]["state"] == state {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "not {state}: {d:#}\nlog:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vvp_deployment_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let s = start(dir.path());
    let out = dir.path().join("counts.txt");
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let jar = testjobs().join("stateful-counter.jar");
    let (code, body) = s
        .post(
            &format!("{NS}/deployments"),
            json!({
                "metadata": {"name": "counter"},
                "spec": {
                    "state": "RUNNING",
                    "upgradeStrategy": {"kind": "STATEFUL"},
                    "restoreStrategy": {"kind": "LATEST_SAVEPOINT"},
                    "template": {"spec": {
                        "artifact": {"kind": "JAR", "jarUri": format!("file://{}", jar.display()),
                                     "entryClass": "io.drey.testjobs.StatefulCounter",
                                     "mainArgs": format!("--out {} --rate 20", out.display())},
                        "parallelism": 1,
                        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"}
                    }}
                }
            }),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let running = wait_state(&s, "RUNNING").await;
    let job_id = running["status"]["running"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_output(&out, 20).await;

    // The same object through CMF, with its instance; VVP's job is that instance.
    let (_, app) = s.get(CMF_APP).await;
    assert_eq!(app["status"]["jobStatus"]["jobId"], job_id.as_str());
    let (_, instances) = s.get(&format!("{CMF_APP}/instances")).await;
    assert_eq!(instances["items"].as_array().unwrap().len(), 1);
    let (_, jobs) = s.get(&format!("{NS}/jobs")).await;
    assert_eq!(jobs["items"][0]["status"]["state"], "STARTED", "{jobs}");
    assert_eq!(
        jobs["items"][0]["status"]["started"]["flinkJobId"],
        job_id.as_str()
    );

    // Suspended through CMF, seen through VVP, with its savepoint.
    let (code, _) = s.post(&format!("{CMF_APP}/suspend"), json!({})).await;
    assert_eq!(code, 200);
    let suspended = wait_state(&s, "SUSPENDED").await;
    assert_eq!(suspended["spec"]["state"], "SUSPENDED");
    let id = suspended["metadata"]["id"].as_str().unwrap().to_owned();
    let (_, savepoints) = s.get(&format!("{NS}/savepoints?deploymentId={id}")).await;
    let savepoint = &savepoints["items"][0];
    assert_eq!(savepoint["status"]["state"], "COMPLETED", "{savepoints}");
    assert_eq!(savepoint["metadata"]["origin"], "SUSPEND");
    let location = savepoint["spec"]["savepointLocation"].as_str().unwrap();
    assert!(std::path::Path::new(location.trim_start_matches("file:"))
        .join("_metadata")
        .is_file());

    // Started through VVP: restored, the counts go on.
    let before = line_count(&out);
    let (code, body) = s
        .json(
            Method::PATCH,
            &format!("{NS}/deployments/counter"),
            Some(json!({"spec": {"state": "RUNNING"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let again = wait_state(&s, "RUNNING").await;
    assert_ne!(again["status"]["running"]["jobId"], job_id.as_str());
    wait_for_output(&out, before + 20).await;
    let resumed = first_counts_after(&out, before);
    assert!(
        resumed.values().all(|c| *c > 1),
        "counts continue from the savepoint: {resumed:?}"
    );

    // CANCELLED: stopped without a savepoint.
    let (_, listed) = s.get(&format!("{NS}/savepoints?deploymentId={id}")).await;
    let savepoints_before = listed["items"].as_array().unwrap().len();
    let (code, _) = s
        .json(
            Method::PATCH,
            &format!("{NS}/deployments/counter"),
            Some(json!({"spec": {"state": "CANCELLED"}})),
        )
        .await;
    assert_eq!(code, 200);
    let cancelled = wait_state(&s, "CANCELLED").await;
    assert_eq!(cancelled["spec"]["state"], "CANCELLED");
    let (_, listed) = s.get(&format!("{NS}/savepoints?deploymentId={id}")).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), savepoints_before);
    let (code, _) = s.delete(&format!("{NS}/deployments/counter")).await;
    assert_eq!(code, 200);
}
