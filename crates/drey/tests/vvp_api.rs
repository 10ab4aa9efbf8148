//! The Ververica Platform dialect over HTTP against a real drey server (API
//! only): namespaces, deployments with every verb, JSON and YAML, the seed's
//! merge-patch example, stale resourceVersion, validation and not-found
//! bodies, jobs/events/savepoints listings, and one object seen through both
//! VVP and CMF.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

const NS: &str = "/api/v1/namespaces/vvp-team";

fn deployment(name: &str) -> Value {
    json!({
        "kind": "Deployment",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"team": "a"}},
        "spec": {
            "state": "SUSPENDED",
            "upgradeStrategy": {"kind": "STATEFUL"},
            "restoreStrategy": {"kind": "LATEST_SAVEPOINT"},
            "deploymentTargetName": "local",
            "maxSavepointCreationAttempts": 4,
            "template": {"spec": {
                "artifact": {"kind": "JAR", "jarUri": "file:///opt/jobs/job.jar",
                             "entryClass": "com.example.Job", "mainArgs": "--a 1 --b 2",
                             "flinkVersion": "2.3"},
                "parallelism": 2,
                "numberOfTaskManagers": 1,
                "resources": {"jobmanager": {"cpu": 1, "memory": "1g"},
                              "taskmanager": {"cpu": 1, "memory": "2g"}},
                "flinkConfiguration": {"foo": "1", "taskmanager.numberOfTaskSlots": "2"},
                "logging": {"log4jLoggers": {"": "INFO"}}
            }}
        }
    })
}

fn api_exception(body: &Value, status: u16) {
    assert_eq!(body["kind"], "ApiException", "{body}");
    assert_eq!(body["statusCode"], status, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["reason"].is_string());
}

fn validation(body: &Value, attribute: &str) {
    assert_eq!(body["kind"], "ApiValidationException", "{body}");
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["errors"][0]["attribute"], attribute, "{body}");
    assert!(body["errors"][0]["message"].is_string());
}

#[tokio::test]
async fn vvp_namespaces_and_deployments() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);

    // Namespaces are environments.
    let (code, body) = s
        .post(
            "/namespaces/v1/namespaces",
            json!({"name": "namespaces/vvp-team"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["namespace"]["name"], "namespaces/vvp-team");
    assert_eq!(
        body["namespace"]["lifecyclePhase"],
        "LIFECYCLE_PHASE_ACTIVE"
    );
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-team"}))
        .await;
    assert_eq!(code, 409);
    api_exception(&body, 409);
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "Bad_Name"}))
        .await;
    assert_eq!(code, 400);
    validation(&body, "name");
    let (_, listed) = s.get("/namespaces/v1/namespaces").await;
    assert_eq!(listed["namespaces"][0]["name"], "namespaces/vvp-team");
    let (code, cmf_env) = s.get("/cmf/api/v1/environments/vvp-team").await;
    assert_eq!(code, 200, "the same object through CMF: {cmf_env}");

    // Create, 409 on the same name, get by name and by id.
    let (code, created) = s
        .post(&format!("{NS}/deployments"), deployment("counter"))
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["kind"], "Deployment");
    assert_eq!(created["apiVersion"], "v1");
    assert_eq!(created["metadata"]["namespace"], "vvp-team");
    assert_eq!(created["metadata"]["labels"]["team"], "a");
    assert!(created["metadata"]["resourceVersion"].is_i64());
    assert_eq!(created["spec"]["state"], "SUSPENDED");
    assert_eq!(created["spec"]["deploymentTargetName"], "local");
    assert_eq!(
        created["spec"]["template"]["spec"]["logging"]["log4jLoggers"][""],
        "INFO"
    );
    assert_eq!(created["status"]["state"], "SUSPENDED");
    let id = created["metadata"]["id"].as_str().unwrap().to_owned();
    let (code, body) = s
        .post(&format!("{NS}/deployments"), deployment("counter"))
        .await;
    assert_eq!(code, 409);
    api_exception(&body, 409);
    let (code, by_id) = s.get(&format!("{NS}/deployments/{id}")).await;
    assert_eq!(code, 200);
    assert_eq!(by_id["metadata"]["name"], "counter");

    // labelSelector picks deployments by their labels.
    let mut other = deployment("other");
    other["metadata"]["labels"] = json!({"team": "b", "tier": "batch"});
    let (code, body) = s.post(&format!("{NS}/deployments"), other).await;
    assert_eq!(code, 201, "{body}");
    for (selector, want) in [
        ("team%3Da", vec!["counter"]),
        ("team%21%3Da", vec!["other"]),
        ("tier", vec!["other"]),
        ("%21tier", vec!["counter"]),
        ("team%20in%20(a%2Cb)", vec!["counter", "other"]),
        ("team%3Da%2Ctier", vec![]),
    ] {
        let (code, list) = s
            .get(&format!("{NS}/deployments?labelSelector={selector}"))
            .await;
        assert_eq!(code, 200, "{list}");
        let mut names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["metadata"]["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, want, "{selector}");
    }
    let (code, body) = s
        .get(&format!("{NS}/deployments?labelSelector=team%20in%20(a"))
        .await;
    assert_eq!(code, 400);
    validation(&body, "labelSelector");
    let (code, _) = s.delete(&format!("{NS}/deployments/other")).await;
    assert_eq!(code, 200);

    // The application CMF sees: the spec the reconciler reads.
    let (code, app) = s
        .get("/cmf/api/v1/environments/vvp-team/applications/counter")
        .await;
    assert_eq!(code, 200, "{app}");
    assert_eq!(app["spec"]["job"]["jarURI"], "file:///opt/jobs/job.jar");
    assert_eq!(app["spec"]["job"]["args"], json!(["--a", "1", "--b", "2"]));
    assert_eq!(app["spec"]["job"]["upgradeMode"], "savepoint");
    assert_eq!(app["spec"]["job"]["state"], "suspended");
    assert_eq!(app["spec"]["taskManager"]["resource"]["memory"], "2g");

    // The seed's PATCH: foo: null removes, bar: baz adds.
    let (code, patched) = s
        .json(
            Method::PATCH,
            &format!("{NS}/deployments/counter"),
            Some(json!({"spec": {"template": {"spec": {"flinkConfiguration": {"foo": null, "bar": "baz"}}}}})),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    let conf = &patched["spec"]["template"]["spec"]["flinkConfiguration"];
    assert!(conf.get("foo").is_none(), "{conf}");
    assert_eq!(conf["bar"], "baz");
    assert_eq!(conf["taskmanager.numberOfTaskSlots"], "2");
    let (_, app) = s
        .get("/cmf/api/v1/environments/vvp-team/applications/counter")
        .await;
    assert_eq!(app["spec"]["flinkConfiguration"]["bar"], "baz");
    assert!(app["spec"]["flinkConfiguration"].get("foo").is_none());

    // PATCH in YAML, answered in YAML.
    let response = s
        .client
        .request(Method::PATCH, s.url(&format!("{NS}/deployments/counter")))
        .header("content-type", "application/yaml")
        .header("accept", "application/yaml")
        .body("spec:\n  template:\n    spec:\n      parallelism: 3\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("parallelism: 3"), "{text}");
    assert!(text.contains("kind: Deployment"), "{text}");

    // A stale resourceVersion is refused; the current one is accepted.
    let (_, current) = s.get(&format!("{NS}/deployments/counter")).await;
    let version = current["metadata"]["resourceVersion"].as_i64().unwrap();
    let mut stale = current.clone();
    stale["metadata"]["resourceVersion"] = json!(version - 1);
    stale["spec"]["template"]["spec"]["parallelism"] = json!(4);
    let (code, body) = s.put(&format!("{NS}/deployments/counter"), stale).await;
    assert_eq!(code, 409, "{body}");
    api_exception(&body, 409);
    let mut fresh = current.clone();
    fresh["spec"]["template"]["spec"]["parallelism"] = json!(4);
    let (code, body) = s.put(&format!("{NS}/deployments/counter"), fresh).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["template"]["spec"]["parallelism"], 4);

    // PUT creates too.
    let (code, body) = s
        .put(&format!("{NS}/deployments/second"), deployment("second"))
        .await;
    assert_eq!(code, 201, "{body}");

    // Validation: one attribute named per rule.
    for (mutate, attribute) in [
        (json!({"spec": {"state": "PAUSED"}}), "spec.state"),
        (
            json!({"spec": {"upgradeStrategy": {"kind": "MAGIC"}}}),
            "spec.upgradeStrategy.kind",
        ),
        (
            json!({"spec": {"restoreStrategy": {"kind": "MAGIC"}}}),
            "spec.restoreStrategy.kind",
        ),
        (
            json!({"spec": {"template": {"spec": {"artifact": {"jarUri": null}}}}}),
            "spec.template.spec.artifact.jarUri",
        ),
        (
            json!({"spec": {"template": {"spec": {"artifact": {"kind": "SQLSCRIPT"}}}}}),
            "spec.template.spec.artifact.kind",
        ),
        (
            json!({"spec": {"template": {"spec": {"parallelism": 0}}}}),
            "spec.template.spec.parallelism",
        ),
        (json!({"metadata": {"name": "-bad-"}}), "metadata.name"),
    ] {
        let mut body = deployment("third");
        json_patch::merge(&mut body, &mutate);
        let (code, answer) = s.post(&format!("{NS}/deployments"), body).await;
        assert_eq!(code, 400, "{mutate}: {answer}");
        validation(&answer, attribute);
    }
    let (code, body) = s
        .post(
            &format!("{NS}/deployments"),
            json!({"metadata": {"name": "x".repeat(64)}, "spec": {}}),
        )
        .await;
    assert_eq!(code, 400);
    validation(&body, "metadata.name");

    // Unknown things: ApiException 404.
    let (code, body) = s.get(&format!("{NS}/deployments/nope")).await;
    assert_eq!(code, 404);
    api_exception(&body, 404);
    let (code, body) = s.get("/api/v1/namespaces/nowhere/deployments").await;
    assert_eq!(code, 404);
    api_exception(&body, 404);
    let (code, body) = s.get(&format!("{NS}/jobs/{id}")).await;
    assert_eq!(code, 404);
    api_exception(&body, 404);

    // Lists.
    let (_, deployments) = s.get(&format!("{NS}/deployments")).await;
    assert_eq!(deployments["kind"], "DeploymentList");
    assert_eq!(deployments["items"].as_array().unwrap().len(), 2);
    let (_, jobs) = s.get(&format!("{NS}/jobs?deploymentId={id}")).await;
    assert_eq!(jobs["kind"], "JobList");
    let (_, events) = s.get(&format!("{NS}/events?deploymentId={id}")).await;
    assert_eq!(events["kind"], "EventList");
    assert!(
        !events["items"].as_array().unwrap().is_empty(),
        "created/updated events"
    );
    let (_, savepoints) = s.get(&format!("{NS}/savepoints?deploymentId={id}")).await;
    assert_eq!(savepoints["kind"], "SavepointList");
    let (code, body) = s
        .post(&format!("{NS}/savepoints"), json!({"metadata": {}}))
        .await;
    assert_eq!(code, 400);
    validation(&body, "metadata.deploymentId");

    // DeploymentTargets and SecretValues: stored documents, one set of rules.
    let (code, target) = s
        .post(
            &format!("{NS}/deployment-targets"),
            json!({"kind": "DeploymentTarget", "metadata": {"name": "Local_Target-1"},
                   "spec": {"kubernetes": {"namespace": "flink"}}}),
        )
        .await;
    assert_eq!(code, 201, "{target}");
    assert_eq!(target["metadata"]["name"], "Local_Target-1");
    let (code, body) = s
        .post(
            &format!("{NS}/deployment-targets"),
            json!({"metadata": {"name": "Local_Target-1"}}),
        )
        .await;
    assert_eq!(code, 409);
    api_exception(&body, 409);
    let (code, body) = s
        .post(
            &format!("{NS}/deployment-targets"),
            json!({"metadata": {"name": "no spaces"}}),
        )
        .await;
    assert_eq!(code, 400);
    validation(&body, "metadata.name");
    let (_, targets) = s.get(&format!("{NS}/deployment-targets")).await;
    assert_eq!(targets["kind"], "DeploymentTargetList");
    assert_eq!(targets["items"].as_array().unwrap().len(), 1);
    let mut changed = target.clone();
    changed["spec"]["kubernetes"]["namespace"] = json!("other");
    let (code, body) = s
        .put(&format!("{NS}/deployment-targets/Local_Target-1"), changed)
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["kubernetes"]["namespace"], "other");
    let (code, body) = s
        .put(&format!("{NS}/deployment-targets/Local_Target-1"), target)
        .await;
    assert_eq!(code, 409, "stale resourceVersion: {body}");
    let (code, _) = s
        .delete(&format!("{NS}/deployment-targets/Local_Target-1"))
        .await;
    assert_eq!(code, 200);
    let (code, body) = s
        .get(&format!("{NS}/deployment-targets/Local_Target-1"))
        .await;
    assert_eq!(code, 404);
    api_exception(&body, 404);

    let (code, secret) = s
        .post(
            &format!("{NS}/secret-values"),
            json!({"metadata": {"name": "db_password"}, "spec": {"kind": "GENERIC", "value": "hunter2-vvp"}}),
        )
        .await;
    assert_eq!(code, 201, "{secret}");
    assert!(secret["spec"].get("value").is_none(), "{secret}");
    let (_, read) = s.get(&format!("{NS}/secret-values/db_password")).await;
    assert!(!read.to_string().contains("hunter2-vvp"));
    let (code, body) = s
        .json(
            Method::PATCH,
            &format!("{NS}/secret-values/db_password"),
            Some(json!({"spec": {"value": "rotated-vvp"}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(!body.to_string().contains("rotated-vvp"));
    let (code, body) = s
        .post(
            &format!("{NS}/secret-values"),
            json!({"metadata": {"name": "empty"}, "spec": {}}),
        )
        .await;
    assert_eq!(code, 400);
    validation(&body, "spec.value");
    let bytes = s.stored_bytes();
    assert!(!bytes.is_empty());
    assert!(
        !bytes
            .windows(11)
            .any(|w| w == b"hunter2-vvp" || w == b"rotated-vvp"),
        "sealed at rest"
    );
    let (code, body) = s.get(&format!("{NS}/no-such-things")).await;
    assert_eq!(code, 404);
    api_exception(&body, 404);

    // SessionClusters are SHARED compute pools (API only here: nothing starts).
    let (code, sc) = s
        .post(
            &format!("{NS}/sessionclusters"),
            json!({"metadata": {"name": "shared-sc"},
                   "spec": {"state": "STOPPED", "numberOfTaskManagers": 2,
                            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"}}}),
        )
        .await;
    assert_eq!(code, 201, "{sc}");
    assert_eq!(sc["kind"], "SessionCluster");
    assert_eq!(sc["spec"]["state"], "STOPPED");
    let (_, pool) = s
        .get("/cmf/api/v1/environments/vvp-team/compute-pools/shared-sc")
        .await;
    assert_eq!(pool["spec"]["type"], "SHARED", "{pool}");
    assert_eq!(pool["spec"]["state"], "SUSPENDED");
    assert_eq!(pool["spec"]["clusterSpec"]["taskManager"]["replicas"], 2);
    let (code, body) = s
        .json(
            Method::PATCH,
            &format!("{NS}/sessionclusters/shared-sc"),
            Some(json!({"spec": {"numberOfTaskManagers": 3}})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["numberOfTaskManagers"], 3);
    let (code, body) = s
        .post(
            &format!("{NS}/sessionclusters"),
            json!({"metadata": {"name": "bad-sc"}, "spec": {"state": "PAUSED"}}),
        )
        .await;
    assert_eq!(code, 400);
    validation(&body, "spec.state");
    let (_, scs) = s.get(&format!("{NS}/sessionclusters")).await;
    assert_eq!(scs["kind"], "SessionClusterList");
    assert_eq!(scs["items"].as_array().unwrap().len(), 1);
    let (code, _) = s.delete(&format!("{NS}/sessionclusters/shared-sc")).await;
    assert_eq!(code, 200);

    // DeploymentDefaults lie under every deployment made afterwards.
    let (code, defaults) = s
        .json(
            Method::PATCH,
            &format!("{NS}/deployment-defaults"),
            Some(json!({"spec": {"template": {"spec": {"flinkConfiguration": {"from-defaults": "yes"}}}}})),
        )
        .await;
    assert_eq!(code, 200, "{defaults}");
    assert_eq!(defaults["kind"], "DeploymentDefaults");
    let (_, read) = s.get(&format!("{NS}/deployment-defaults")).await;
    assert_eq!(
        read["spec"]["template"]["spec"]["flinkConfiguration"]["from-defaults"],
        "yes"
    );
    let (code, with_defaults) = s
        .post(&format!("{NS}/deployments"), deployment("fourth"))
        .await;
    assert_eq!(code, 201, "{with_defaults}");
    let conf = &with_defaults["spec"]["template"]["spec"]["flinkConfiguration"];
    assert_eq!(conf["from-defaults"], "yes", "{conf}");
    assert_eq!(conf["foo"], "1", "the deployment's own settings win");

    // Status.
    let (code, status) = s.get("/api/v1/status").await;
    assert_eq!(code, 200, "{status}");
    let (_, info) = s.get("/api/v1/status/system-info").await;
    assert_eq!(info["kind"], "SystemInformation");
    assert!(info["status"]["revisionInformation"]["buildVersion"].is_string());

    // A SQL editor asks which options of a change drey would refuse.
    let ask = "/sql/v1beta1/namespaces/vvp-team/deployments/second:validate-config-change";
    let (code, body) = s
        .post(
            ask,
            json!({"flinkVersion": "2.3", "newConfig": {"rest.port": "8081",
                   "parallelism.default": "2", "security.ssl.enabled": "true",
                   "env.java.opts.all": "-Dx=y"}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"unsupportedConfigOptions": ["env.java.opts.all", "rest.port", "security.ssl.enabled"]})
    );
    let (code, body) = s
        .post(ask, json!({"newConfig": {"parallelism.default": "2"}}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, json!({"unsupportedConfigOptions": []}));
    let (code, body) = s.post(ask, json!({"newConfig": "rest.port=1"})).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("configSpec"), "{body}");
    let (code, body) = s
        .post(
            "/sql/v1beta1/namespaces/vvp-team/deployments/nope:validate-config-change",
            json!({"newConfig": {}}),
        )
        .await;
    assert_eq!(code, 404, "{body}");

    // The preview session cluster: bad requests say what is wrong.
    let preview = "/namespaces/v1/namespaces/vvp-team:setPreviewSessionCluster";
    for (body, attribute) in [
        (
            json!({"previewSessionClusterName": 7}),
            Some("previewSessionClusterName"),
        ),
        (
            json!({"name": "namespaces/other", "previewSessionClusterName": ""}),
            Some("name"),
        ),
        (json!(["previewer"]), None),
    ] {
        let (code, answer) = s.post(preview, body.clone()).await;
        assert_eq!(code, 400, "{body}: {answer}");
        match attribute {
            Some(attribute) => validation(&answer, attribute),
            None => api_exception(&answer, 400),
        }
    }
    let (code, answer) = s
        .post(preview, json!({"previewSessionClusterName": "nope"}))
        .await;
    assert_eq!(code, 404, "{answer}");
    api_exception(&answer, 404);
    let (code, answer) = s
        .post(
            "/namespaces/v1/namespaces/nowhere:setPreviewSessionCluster",
            json!({"previewSessionClusterName": ""}),
        )
        .await;
    assert_eq!(code, 404, "{answer}");
    let (code, _) = s
        .post(
            "/namespaces/v1/namespaces/vvp-team:somethingElse",
            json!({}),
        )
        .await;
    assert_eq!(code, 405);
    let (code, answer) = s.post(ask, json!(["rest.port"])).await;
    assert_eq!(code, 400, "{answer}");

    // A running deployment cannot be deleted; a suspended one can.
    let (code, _) = s
        .json(
            Method::PATCH,
            &format!("{NS}/deployments/second"),
            Some(json!({"spec": {"state": "RUNNING"}})),
        )
        .await;
    assert_eq!(code, 200);
    let (code, body) = s.delete(&format!("{NS}/deployments/second")).await;
    assert_eq!(code, 409, "{body}");
    api_exception(&body, 409);
    let (code, _) = s.delete(&format!("{NS}/deployments/{id}")).await;
    assert_eq!(code, 200);
    let (code, _) = s.get(&format!("{NS}/deployments/counter")).await;
    assert_eq!(code, 404);
}

/// Concurrent POSTs of one name: exactly one creates, every other gets 409
/// (the store's create is the check, not a read before the write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_deployment_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(Server::start(&dir));
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-team"}))
        .await;
    assert_eq!(code, 201, "{body}");
    for round in 0..5 {
        let name = format!("racer-{round}");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (s, name) = (s.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                s.post(&format!("{NS}/deployments"), deployment(&name))
                    .await
            }));
        }
        let mut codes = Vec::new();
        for t in tasks {
            let (code, body) = t.await.unwrap();
            if code == 409 {
                api_exception(&body, 409);
            }
            codes.push(code);
        }
        codes.sort();
        assert_eq!(
            codes,
            [201, 409, 409, 409, 409, 409, 409, 409],
            "round {round}"
        );
    }
}

/// Autopilot: a deployment's policy is its `job.autoscaler.*` options, seen
/// the same through VVP and CMF; bad policies are refused naming the field;
/// before any decision the status says so and there is no recommendation.
/// (What the autoscaler decides on real Flink: `autoscaling.rs`.)
#[tokio::test]
async fn autopilot_policies_are_the_autoscaler_options() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (code, _) = s
        .post(
            "/namespaces/v1/namespaces",
            json!({"name": "namespaces/pilot"}),
        )
        .await;
    assert_eq!(code, 201);
    let ns = "/api/v1/namespaces/pilot";
    assert_eq!(
        s.post(&format!("{ns}/deployments"), deployment("tuned"))
            .await
            .0,
        201
    );
    let policy = "/autopilot/v1alpha1/namespaces/pilot/deployments/tuned/autopilotpolicy";

    // Off until asked, with the operator's defaults as its settings.
    let (code, body) = s.get(policy).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["policy"]["mode"], "AUTOPILOT_MODE_DISABLED");
    assert_eq!(body["policy"]["autoscalerConfig"]["targetUtilization"], 70);
    assert_eq!(body["policy"]["autoscalerConfig"]["maxParallelism"], 200);
    assert_eq!(body["policy"]["autoscalerConfig"]["cooldownMinutes"], 5);

    let (code, body) = s
        .json(
            Method::PUT,
            policy,
            Some(
                json!({"mode": "AUTOPILOT_MODE_MONITORING", "autoscalerConfig": {
                "targetUtilization": 60, "minParallelism": 1, "maxParallelism": 4,
                "cooldownMinutes": 2,
                "extraConfig": {"job.autoscaler.metrics.window": "1 min"}}}),
            ),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["policy"]["mode"], "AUTOPILOT_MODE_MONITORING");
    let config = &body["policy"]["autoscalerConfig"];
    assert_eq!(config["targetUtilization"], 60, "{body}");
    assert_eq!(config["maxParallelism"], 4);
    assert_eq!(config["cooldownMinutes"], 2);
    assert_eq!(
        config["extraConfig"]["job.autoscaler.metrics.window"],
        "1 min"
    );
    // The same options through the deployment and through CMF.
    let (_, d) = s.get(&format!("{ns}/deployments/tuned")).await;
    let conf = &d["spec"]["template"]["spec"]["flinkConfiguration"];
    assert_eq!(conf["job.autoscaler.enabled"], "true", "{conf}");
    assert_eq!(conf["job.autoscaler.scaling.enabled"], "false");
    assert_eq!(conf["job.autoscaler.target.utilization"], "0.6");
    assert_eq!(conf["foo"], "1", "the rest of the configuration stays");
    let (_, app) = s
        .get("/cmf/api/v1/environments/pilot/applications/tuned")
        .await;
    assert_eq!(
        app["spec"]["flinkConfiguration"]["job.autoscaler.vertex.max-parallelism"],
        "4"
    );
    // Listed per namespace; by id as by name.
    let (code, list) = s.get("/autopilot/v1alpha1/namespaces/pilot").await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["policies"].as_array().unwrap().len(), 1);
    let id = d["metadata"]["id"].as_str().unwrap();
    let (code, by_id) = s
        .get(&format!(
            "/autopilot/v1alpha1/namespaces/pilot/deployments/{id}/autopilotpolicy"
        ))
        .await;
    assert_eq!(code, 200);
    assert_eq!(by_id["policy"]["mode"], "AUTOPILOT_MODE_MONITORING");

    // No decision yet.
    let (code, status) = s.get(&format!("{policy}:status")).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["status"]["status"], "POLICY_STATUS_OK");
    assert!(status["status"]["autoscalerStatus"]["message"]
        .as_str()
        .unwrap()
        .contains("No decision yet"));
    let (code, rec) = s.get(&format!("{policy}:recommendation")).await;
    assert_eq!(code, 200, "{rec}");
    assert_eq!(rec, json!({"recommendation": {}}));

    // Bad policies: 400 naming the field, nothing changed.
    for (bad, attribute) in [
        (json!({"mode": "AUTOPILOT_MODE_INVALID"}), "policy.mode"),
        (
            json!({"autoscalerConfig": {"targetUtilization": 150}}),
            "policy.autoscalerConfig.targetUtilization",
        ),
        (
            json!({"autoscalerConfig": {"minParallelism": 5, "maxParallelism": 2}}),
            "policy.autoscalerConfig.minParallelism",
        ),
        (
            json!({"autoscalerConfig": {"extraConfig": {"rest.port": "1"}}}),
            "policy.autoscalerConfig.extraConfig.rest.port",
        ),
    ] {
        let (code, answer) = s.json(Method::PUT, policy, Some(bad.clone())).await;
        assert_eq!(code, 400, "{bad}: {answer}");
        validation(&answer, attribute);
    }
    let (code, answer) = s
        .json(
            Method::PUT,
            policy,
            Some(json!({"autoscalerConfig": "fast"})),
        )
        .await;
    assert_eq!(code, 400, "{answer}");
    validation(&answer, "policy.autoscalerConfig");
    let (code, answer) = s.json(Method::PUT, policy, Some(json!([1]))).await;
    assert_eq!(code, 400, "{answer}");
    // Over the body limit (1 MiB): 413 in VVP's body.
    let huge = json!({"autoscalerConfig": {"extraConfig": {
        "job.autoscaler.padding": "x".repeat(1024 * 1024 + 10)}}});
    let (code, answer) = s.json(Method::PUT, policy, Some(huge)).await;
    assert_eq!(code, 413, "{answer}");
    api_exception(&answer, 413);
    let (_, still) = s.get(policy).await;
    assert_eq!(still["policy"]["autoscalerConfig"]["targetUtilization"], 60);
    // Off again.
    let (code, body) = s
        .json(
            Method::PUT,
            policy,
            Some(json!({"mode": "AUTOPILOT_MODE_DISABLED"})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (_, status) = s.get(&format!("{policy}:status")).await;
    assert!(status["status"]["autoscalerStatus"]["message"]
        .as_str()
        .unwrap()
        .contains("disabled"));
    // Unknown deployment or namespace: 404 in VVP's body.
    for path in [
        "/autopilot/v1alpha1/namespaces/pilot/deployments/nope/autopilotpolicy",
        "/autopilot/v1alpha1/namespaces/pilot/deployments/nope/autopilotpolicy:status",
        "/autopilot/v1alpha1/namespaces/nowhere",
    ] {
        let (code, body) = s.get(path).await;
        assert_eq!(code, 404, "{path}: {body}");
        api_exception(&body, 404);
    }
}
