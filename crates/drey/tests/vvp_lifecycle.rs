//! A VVP Deployment on real Flink, seen through both dialects: created and
//! started through VVP, read as a CMF application with its instances,
//! suspended through CMF (a savepoint appears in VVP's list), started again
//! through VVP (restored from it), then CANCELLED. A deployment with
//! `sessionClusterName` runs its job in a SessionCluster instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{
    first_counts_after, line_count, start, testjobs, vvp_counter_deployment, wait_for_output,
    KillClusters,
};
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const NS: &str = "/api/v1/namespaces/vvp-flink";
const CMF_APP: &str = "/cmf/api/v1/environments/vvp-flink/applications/counter";

async fn wait_state(s: &Server, state: &str) -> Value {
    wait_state_of(s, &format!("{NS}/deployments/counter"), state).await
}

/// Waits until the VVP object at `path` has `status.state == state`.
async fn wait_state_of(s: &Server, path: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, d) = s.get(path).await;
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
    // Job output outside the data dir, which the sandboxed clusters do not see.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("counts.txt");
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let mut deployment = vvp_counter_deployment(&out);
    if let Some(template) =
        (deployment.pointer_mut("/spec/template/spec")).and_then(Value::as_object_mut)
    {
        let slots = json!({"taskmanager.numberOfTaskSlots": "1"});
        template.insert("flinkConfiguration".into(), slots);
    }
    let (code, body) = s.post(&format!("{NS}/deployments"), deployment).await;
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

    // A savepoint deleted through VVP: gone from the list and from GET.
    let sp_id = listed["items"][0]["metadata"]["id"].as_str().unwrap();
    let one = format!("{NS}/savepoints/{sp_id}");
    let (code, body) = s.delete(&format!("{one}?force=perhaps")).await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = s.delete(&one).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["metadata"]["id"], sp_id);
    assert_eq!(s.get(&one).await.0, 404);
    let (code, body) = s.delete(&one).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["kind"], "ApiException", "{body}");
    let (_, listed) = s.get(&format!("{NS}/savepoints?deploymentId={id}")).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        savepoints_before - 1
    );
    let (code, _) = s.delete(&format!("{NS}/deployments/counter")).await;
    assert_eq!(code, 200);
}

/// A deployment with `sessionClusterName` runs its job in the session
/// cluster (no cluster of its own), survives suspend/resume there with its
/// state, keeps the session cluster from being deleted, and leaves the
/// cluster running when it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vvp_deployment_in_a_session_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let s = start(dir.path());
    let ns = "/api/v1/namespaces/vvp-session";
    let deployment = format!("{ns}/deployments/in-session");
    // Job output outside the data dir, which the sandboxed clusters do not see.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("session-counts.txt");
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-session"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s
        .post(
            &format!("{ns}/sessionclusters"),
            json!({"metadata": {"name": "shared"},
                   "spec": {"state": "RUNNING", "numberOfTaskManagers": 1,
                            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"}}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");

    // An unknown session cluster is the attribute's fault.
    let spec = |session: &str| {
        let mut spec = vvp_counter_deployment(&out)["spec"].clone();
        if let Some(fields) = spec.as_object_mut() {
            fields.insert("sessionClusterName".into(), json!(session));
        }
        spec
    };
    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            json!({"metadata": {"name": "in-session"}, "spec": spec("nope")}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["errors"][0]["attribute"], "spec.sessionClusterName");

    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            json!({"metadata": {"name": "in-session"}, "spec": spec("shared")}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let running = wait_state_of(&s, &deployment, "RUNNING").await;
    let job_id = running["status"]["running"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_output(&out, 20).await;

    // The job is on the session cluster: one JobManager and one TaskManager
    // under the data dir, and the cluster's REST API lists the job.
    let (_, app) = s
        .get("/cmf/api/v1/environments/vvp-session/applications/in-session")
        .await;
    let rest_url = app["status"]["clusterInfo"]["restUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, pool) = s
        .get("/cmf/api/v1/environments/vvp-session/compute-pools/shared")
        .await;
    assert_eq!(
        pool["status"]["clusterInfo"]["restUrl"].as_str(),
        Some(rest_url.as_str()),
        "{pool}"
    );
    assert!(common::flink::flink_jobs(&rest_url)
        .await
        .contains(&(job_id.clone(), "RUNNING".to_owned())));
    assert_eq!(common::flink::flink_processes(dir.path()), 2);

    // The session cluster cannot go while a deployment runs in it.
    let (code, body) = s.delete(&format!("{ns}/sessionclusters/shared")).await;
    assert_eq!(code, 409, "{body}");

    // Suspend: a savepoint, the job leaves, the session cluster stays.
    let (code, body) = s
        .json(
            Method::PATCH,
            &deployment,
            Some(json!({"spec": {"state": "SUSPENDED"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let suspended = wait_state_of(&s, &deployment, "SUSPENDED").await;
    let id = suspended["metadata"]["id"].as_str().unwrap().to_owned();
    let (_, savepoints) = s.get(&format!("{ns}/savepoints?deploymentId={id}")).await;
    assert_eq!(savepoints["items"][0]["status"]["state"], "COMPLETED");
    assert!(common::flink::answers(&rest_url).await);
    let jobs = common::flink::flink_jobs(&rest_url).await;
    assert!(jobs.iter().all(|(_, state)| state != "RUNNING"), "{jobs:?}");

    // Resumed in the same cluster from the savepoint: the counts go on.
    let before = line_count(&out);
    let (code, body) = s
        .json(
            Method::PATCH,
            &deployment,
            Some(json!({"spec": {"state": "RUNNING"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let again = wait_state_of(&s, &deployment, "RUNNING").await;
    let second = again["status"]["running"]["jobId"].as_str().unwrap();
    assert_ne!(second, job_id.as_str());
    assert!(common::flink::flink_jobs(&rest_url)
        .await
        .contains(&(second.to_owned(), "RUNNING".to_owned())));
    wait_for_output(&out, before + 20).await;
    let resumed = first_counts_after(&out, before);
    assert!(resumed.values().all(|c| *c > 1), "{resumed:?}");

    // Cancelled and deleted: the job is gone, the cluster keeps running,
    // and then the session cluster may go.
    let (code, _) = s.delete(&deployment).await;
    assert_eq!(
        code, 409,
        "VVP deletes only a deployment that is not running"
    );
    let (code, _) = s
        .json(
            Method::PATCH,
            &deployment,
            Some(json!({"spec": {"state": "CANCELLED"}})),
        )
        .await;
    assert_eq!(code, 200);
    wait_state_of(&s, &deployment, "CANCELLED").await;
    let jobs = common::flink::flink_jobs(&rest_url).await;
    assert!(
        jobs.contains(&(second.to_owned(), "CANCELED".to_owned())),
        "{jobs:?}"
    );
    let (code, _) = s.delete(&deployment).await;
    assert_eq!(code, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, _) = s.get(&deployment).await;
        if code == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "deployment not gone");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(common::flink::answers(&rest_url).await);
    let (code, body) = s.delete(&format!("{ns}/sessionclusters/shared")).await;
    assert!(code == 200 || code == 204, "{code} {body}");
}

/// `maxJobCreationAttempts`: a job that cannot be created fails the
/// deployment after that many tries (its cluster goes). `maxSavepointCreationAttempts`:
/// a suspend whose savepoint keeps failing gives up after that many tries,
/// the deployment FAILED and its job still running; CANCELLED then stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vvp_attempt_limits() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let s = start(dir.path());
    let ns = "/api/v1/namespaces/vvp-attempts";
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-attempts"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let jar = testjobs().join("stateful-counter.jar");
    // Job output outside the data dir, which the sandboxed clusters do not see.
    let outs = tempfile::tempdir().unwrap();
    let out = outs.path().join("attempts.txt");
    let deployment = |name: &str, entry: &str, limits: Value| {
        let mut spec = json!({
            "state": "RUNNING",
            "upgradeStrategy": {"kind": "STATEFUL"},
            "restoreStrategy": {"kind": "LATEST_SAVEPOINT"},
            "template": {"spec": {
                "artifact": {"kind": "JAR", "jarUri": format!("file://{}", jar.display()),
                             "entryClass": entry,
                             "mainArgs": format!("--out {} --rate 20", out.display())},
                "parallelism": 1
            }}
        });
        set_keys(&mut spec, &limits);
        json!({"metadata": {"name": name}, "spec": spec})
    };

    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            deployment(
                "no-such-class",
                "io.drey.testjobs.NoSuchClass",
                json!({"maxJobCreationAttempts": 2}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let failed = wait_state_of(&s, &format!("{ns}/deployments/no-such-class"), "FAILED").await;
    let (_, events) = s
        .get(&format!(
            "{ns}/events?deploymentId={}",
            failed["metadata"]["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        events
            .to_string()
            .contains("could not be created in 2 attempt(s)"),
        "{events}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::flink::flink_processes(dir.path()) > 0 {
        assert!(
            Instant::now() < deadline,
            "the failed deployment's cluster stays"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let path = format!("{ns}/deployments/counter");
    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            deployment(
                "counter",
                "io.drey.testjobs.StatefulCounter",
                json!({"maxSavepointCreationAttempts": 2}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let running = wait_state_of(&s, &path, "RUNNING").await;
    let job_id = running["status"]["running"]["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The deployment's savepoint directory cannot be written (the sandboxed
    // processes have no capability to override its mode, even as root).
    let id = running["metadata"]["id"].as_str().unwrap();
    let savepoints = std::fs::read_dir(dir.path().join("savepoints"))
        .unwrap()
        .flatten()
        .map(|org| org.path().join("vvp-attempts").join(id))
        .find(|p| p.is_dir())
        .expect("the deployment's savepoint dir (<org>/<namespace>/<id>)");
    std::fs::set_permissions(
        &savepoints,
        std::os::unix::fs::PermissionsExt::from_mode(0o500),
    )
    .unwrap();
    let (code, _) = s
        .json(
            Method::PATCH,
            &path,
            Some(json!({"spec": {"state": "SUSPENDED"}})),
        )
        .await;
    assert_eq!(code, 200);
    let failed = wait_state_of(&s, &path, "FAILED").await;
    let (_, app) = s
        .get("/cmf/api/v1/environments/vvp-attempts/applications/counter")
        .await;
    assert!(
        app["status"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be taken in 2 attempt(s)"),
        "{app} {failed}"
    );
    let rest_url = app["status"]["clusterInfo"]["restUrl"].as_str().unwrap();
    assert!(common::flink::flink_jobs(rest_url)
        .await
        .contains(&(job_id, "RUNNING".to_owned())));

    let (code, _) = s
        .json(
            Method::PATCH,
            &path,
            Some(json!({"spec": {"state": "CANCELLED"}})),
        )
        .await;
    assert_eq!(code, 200);
    wait_state_of(&s, &path, "CANCELLED").await;
}

/// `target` with `patch`'s keys set over it.
fn set_keys(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
}
