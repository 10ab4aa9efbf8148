//! The store's version rule as the dialects show it, against a real drey
//! server: a write against the resourceVersion a client read succeeds when
//! only the reconciler wrote the status since, and is a 409 when another
//! user wrote; a create is one atomic write, so concurrent creates of one
//! application make it once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const APP: &str = "/cmf/api/v1/environments/rule/applications/dep1";
const DEPLOYMENT: &str = "/api/v1/namespaces/rule/deployments/dep1";

fn version(object: &Value) -> i64 {
    let v = &object["metadata"]["resourceVersion"];
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no resourceVersion: {object}"))
}

#[tokio::test]
async fn a_status_write_is_no_conflict_but_another_users_write_is() {
    let dir = tempfile::tempdir().unwrap();
    // The reconciler on: it writes the status of an application whose jar
    // is missing (FAILED) without starting any Flink process.
    let s = Server::start_with(dir.path(), &[], &[]);
    let (code, _) = s
        .post("/cmf/api/v1/environments", json!({"name": "rule"}))
        .await;
    assert_eq!(code, 201);
    let (code, created) = s
        .post(
            "/api/v1/namespaces/rule/deployments",
            json!({"metadata": {"name": "dep1"}, "spec": {"state": "RUNNING",
                   "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": "file:///nonexistent/job.jar"}}}}}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let read = version(&created);

    // The reconciler writes the status: the version moves, the generation not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let app = loop {
        let (_, app) = s.get(APP).await;
        if app["status"]["lifecycleState"] == "FAILED" && version(&app) > read {
            break app;
        }
        assert!(
            Instant::now() < deadline,
            "no status written: {app}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(app["metadata"]["generation"], 1, "{app}");
    assert_eq!(app["status"]["observedGeneration"], 1, "{app}");
    assert!(app["status"].get("reconciler").is_none(), "{app}");

    // A PATCH against the version read before that status write succeeds.
    let (code, patched) = s
        .json(
            Method::PATCH,
            DEPLOYMENT,
            Some(json!({"metadata": {"resourceVersion": read}, "spec": {"state": "SUSPENDED"}})),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["spec"]["state"], "SUSPENDED");
    let (_, app) = s.get(APP).await;
    assert_eq!(app["metadata"]["generation"], 2, "{app}");
    assert_eq!(app["spec"]["job"]["state"], "suspended");
    // The reconciler acts on the new spec and says so.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, app) = s.get(APP).await;
        if app["status"]["observedGeneration"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "generation 2 never observed: {app}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // One against a version older than that user write is VVP's 409.
    for method in [Method::PATCH, Method::PUT] {
        let mut body = patched.clone();
        body["metadata"]["resourceVersion"] = json!(read);
        body["spec"]["template"]["spec"]["parallelism"] = json!(2);
        let body = if method == Method::PATCH {
            json!({"metadata": {"resourceVersion": read},
                   "spec": {"template": {"spec": {"parallelism": 2}}}})
        } else {
            body
        };
        let (code, answer) = s.json(method.clone(), DEPLOYMENT, Some(body)).await;
        assert_eq!(code, 409, "{method}: {answer}");
        assert_eq!(answer["kind"], "ApiException", "{answer}");
        assert_eq!(answer["reason"], "Conflict", "{answer}");
    }
    let (_, app) = s.get(APP).await;
    assert_eq!(
        app["metadata"]["generation"], 2,
        "the refused writes changed nothing"
    );
    assert_eq!(app["spec"]["job"]["parallelism"], 1, "{app}");

    // CMF start and suspend write once, whatever the reconciler writes.
    for verb in ["start", "suspend", "start"] {
        let (code, answer) = s.post(&format!("{APP}/{verb}"), json!({})).await;
        assert_eq!(code, 200, "{verb}: {answer}");
        assert!(answer["status"].get("reconciler").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn concurrent_creates_make_one_application() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (code, _) = s
        .post("/cmf/api/v1/environments", json!({"name": "rule"}))
        .await;
    assert_eq!(code, 201);
    for round in 0..5 {
        let name = format!("twin-{round}");
        let mut app = common::application(&name);
        app["spec"]["job"]["state"] = json!("suspended");
        let writes =
            (0..12).map(|_| s.post("/cmf/api/v1/environments/rule/applications", app.clone()));
        for (code, answer) in futures::future::join_all(writes).await {
            assert_eq!(code, 201, "{answer}");
        }
        let (code, events) = s
            .get(&format!(
                "/cmf/api/v1alpha1/environments/rule/applications/{name}/events?size=100"
            ))
            .await;
        assert_eq!(code, 200, "{events}");
        let types: Vec<&Value> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["status"]["type"])
            .collect();
        let created = types
            .iter()
            .filter(|t| **t == "APPLICATION_CREATED")
            .count();
        assert_eq!(created, 1, "one create, the rest updates: {types:?}");
        assert_eq!(types.len(), 12, "{types:?}");
    }
}
