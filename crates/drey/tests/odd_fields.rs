//! Odd extension fields and odd shapes written through one dialect never make
//! another dialect answer 500: CMF writes with odd `spec.vvp`, `spec.lakesail`
//! and friends are read through every VVP, LakeSail and CMF read of the
//! environment, and odd VVP writes are read through CMF and LakeSail. Every
//! write answers 2xx or a clear 4xx; every read a 2xx (or a 404 for a single
//! object some view does not show).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

/// The workspace LakeSail shows for the environment `ws-odd1`.
const WS: &str = "ODD1";
const ENV: &str = "ws-odd1";

struct Caller<'a> {
    s: &'a Server,
    token: String,
    /// Every answer that broke the rule, reported together at the end.
    failures: std::sync::Mutex<Vec<String>>,
}

impl Caller<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .s
            .client
            .request(method, self.s.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// A write that must answer 2xx or a 4xx, never a 5xx.
    async fn write(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let (code, answer) = self.call(method.clone(), path, Some(body.clone())).await;
        if !(200..500).contains(&code) {
            self.fail(format!(
                "{method} {path} with {body} answered {code}: {answer}"
            ));
        }
        (code, answer)
    }

    /// A read that must answer 2xx.
    async fn read(&self, path: &str) -> Value {
        let (code, answer) = self.call(Method::GET, path, None).await;
        if !(200..300).contains(&code) {
            self.fail(format!("GET {path} answered {code}: {answer}"));
        }
        answer
    }

    /// A read of one object: 2xx, or 404 when the view does not show it.
    async fn read_one(&self, path: &str) {
        let (code, answer) = self.call(Method::GET, path, None).await;
        if !((200..300).contains(&code) || code == 404) {
            self.fail(format!("GET {path} answered {code}: {answer}"));
        }
    }

    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }

    /// Panics with every failure seen.
    fn check(&self) {
        let failures = self.failures.lock().unwrap();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

/// The items of a list answer (empty when the answer was not a list).
fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// An organization administrator's key, made with the root key.
async fn org_admin<'a>(s: &'a Server, root: &str) -> Caller<'a> {
    let root = Caller {
        s,
        token: root.to_owned(),
        failures: Default::default(),
    };
    let (_, org) = root
        .call(
            Method::POST,
            "/api/admin/v1/organizations",
            Some(json!({"name": "odd"})),
        )
        .await;
    let (code, key) = root
        .call(
            Method::POST,
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            Some(json!({})),
        )
        .await;
    assert_eq!(code, 201, "{key}");
    Caller {
        s,
        token: key["key"].as_str().unwrap().to_owned(),
        failures: Default::default(),
    }
}

fn cmf_app(name: &str, extra: Value) -> Value {
    let mut app = common::application(name);
    app["spec"]["job"]["state"] = json!("suspended");
    json_patch::merge(&mut app["spec"], &extra);
    app
}

/// Odd shapes in every place another dialect reads from an application.
fn odd_app_fields() -> Vec<Value> {
    vec![
        json!({"vvp": []}),
        json!({"vvp": "x"}),
        json!({"vvp": 5}),
        json!({"vvp": {"template": []}}),
        json!({"vvp": {"template": "x"}}),
        json!({"vvp": {"template": {"spec": []}}}),
        json!({"vvp": {"template": {"spec": 5}}}),
        json!({"vvp": {"template": {"spec": {"artifact": 5, "resources": [], "flinkConfiguration": [1]}}}}),
        json!({"vvp": {"template": {"spec": {"artifact": [], "parallelism": "abc"}}}}),
        json!({"vvp": {"upgradeStrategy": 5, "restoreStrategy": [], "state": 5}}),
        json!({"vvp": {"state": {"a": null}, "upgradeStrategy": {"kind": []}, "sessionClusterName": 5}}),
        json!({"vvp": {"template": {"metadata": [], "spec": {"artifact": {"kind": 5, "jarUri": []}}}}}),
        json!({"lakesail": []}),
        json!({"lakesail": "x"}),
        json!({"lakesail": {"name": {"a": [1]}, "job": 5}}),
        json!({"lakesail": {"name": null}}),
        json!({"job": {"savepointTriggerNonce": "x", "extra": [null]}, "extra": {"a": null}}),
        // Refused by the core (4xx), checked to be refused cleanly.
        json!({"job": []}),
        json!({"job": {"parallelism": "abc"}}),
        json!({"job": {"state": 5}}),
        json!({"flinkConfiguration": [1]}),
        json!({"flinkConfiguration": {"a": {"b": 1}}}),
        json!({"taskManager": {"replicas": "x"}}),
        json!({"jobManager": 5}),
        json!({"deploymentName": 5}),
    ]
}

fn odd_pool_specs() -> Vec<Value> {
    vec![
        json!({"type": "SHARED", "clusterSpec": {}, "vvp": []}),
        json!({"type": "SHARED", "clusterSpec": {}, "vvp": "x"}),
        json!({"type": "SHARED", "clusterSpec": {}, "vvp": 5, "lakesail": []}),
        json!({"type": "SHARED", "clusterSpec": {}, "vvp": {"state": 5, "resources": [], "flinkConfiguration": [1], "numberOfTaskManagers": "x"}}),
        json!({"type": "SHARED", "clusterSpec": {"flinkConfiguration": [1], "taskManager": 5}, "vvp": {"state": null}}),
        json!({"type": "SHARED", "state": "SUSPENDED", "clusterSpec": {"jobManager": []}, "lakesail": {"name": 5, "jars": "x"}}),
        json!({"type": "DEDICATED", "clusterSpec": {}, "vvp": []}),
        // Refused by the core.
        json!({"type": "SHARED", "clusterSpec": 5}),
        json!({"type": [], "clusterSpec": {}}),
        json!({"type": "SHARED", "clusterSpec": {}, "state": []}),
    ]
}

/// Every read of the three dialects over the environment.
async fn read_everything(c: &Caller<'_>) {
    // CMF.
    let envs = c.read("/cmf/api/v1/environments").await;
    assert!(!items(&envs).is_empty(), "{envs}");
    c.read(&format!("/cmf/api/v1/environments/{ENV}")).await;
    let cmf = format!("/cmf/api/v1/environments/{ENV}");
    let apps = c.read(&format!("{cmf}/applications?size=100")).await;
    for app in &items(&apps) {
        let name = app["metadata"]["name"].as_str().unwrap();
        c.read(&format!("{cmf}/applications/{name}")).await;
        c.read(&format!("{cmf}/applications/{name}/instances"))
            .await;
        c.read(&format!("{cmf}/applications/{name}/savepoints"))
            .await;
        c.read(&format!(
            "/cmf/api/v1alpha1/environments/{ENV}/applications/{name}/events"
        ))
        .await;
    }
    let pools = c.read(&format!("{cmf}/compute-pools?size=100")).await;
    for pool in &items(&pools) {
        let name = pool["metadata"]["name"].as_str().unwrap();
        c.read(&format!("{cmf}/compute-pools/{name}")).await;
    }
    let statements = c.read(&format!("{cmf}/statements?size=100")).await;
    for statement in &items(&statements) {
        let name = statement["metadata"]["name"].as_str().unwrap();
        c.read(&format!("{cmf}/statements/{name}")).await;
    }
    c.read(&format!("{cmf}/secret-mappings")).await;
    c.read("/cmf/api/v1/secrets").await;
    c.read("/cmf/api/v1/catalogs/kafka").await;
    c.read("/cmf/api/v1/detached-savepoints").await;

    // VVP.
    let vvp = format!("/api/v1/namespaces/{ENV}");
    c.read("/namespaces/v1/namespaces").await;
    c.read(&format!("/namespaces/v1/namespaces/{ENV}")).await;
    let deployments = c.read(&format!("{vvp}/deployments")).await;
    let deployments = items(&deployments);
    c.read(&format!(
        "{vvp}/deployments?labelSelector=a%3Db,odd%20in%20(x)"
    ))
    .await;
    if deployments.is_empty() {
        c.fail("no deployment is listed".into());
    }
    for d in &deployments {
        let id = d["metadata"]["id"].as_str().unwrap();
        let name = d["metadata"]["name"].as_str().unwrap();
        c.read(&format!("{vvp}/deployments/{name}")).await;
        c.read(&format!("{vvp}/deployments/{id}")).await;
        c.read(&format!("{vvp}/jobs?deploymentId={id}")).await;
        c.read(&format!("{vvp}/events?deploymentId={id}")).await;
        c.read(&format!("{vvp}/savepoints?deploymentId={id}")).await;
    }
    let clusters = c.read(&format!("{vvp}/sessionclusters")).await;
    for cluster in &items(&clusters) {
        let name = cluster["metadata"]["name"].as_str().unwrap();
        c.read(&format!("{vvp}/sessionclusters/{name}")).await;
    }
    for pool in &items(&pools) {
        let name = pool["metadata"]["name"].as_str().unwrap();
        c.read_one(&format!("{vvp}/sessionclusters/{name}")).await;
    }
    for path in [
        "jobs",
        "events",
        "savepoints",
        "deployment-targets",
        "secret-values",
        "deployment-defaults",
    ] {
        c.read(&format!("{vvp}/{path}")).await;
    }
    for collection in [
        "sqlscripts",
        "connectors",
        "formats",
        "catalog-connectors",
        "udfartifacts",
    ] {
        c.read_one(&format!("/sql/v1beta1/namespaces/{ENV}/{collection}"))
            .await;
    }
    c.read(&format!("/catalog/v1beta2/namespaces/{ENV}/catalogs"))
        .await;

    // LakeSail.
    c.read("/api/org/v1/workspaces").await;
    c.read(&format!("/api/org/v1/workspaces/{WS}")).await;
    let flink = format!("/api/flink/v1/workspaces/{WS}");
    let apps = c.read(&format!("{flink}/applications")).await;
    for app in &items(&apps) {
        let id = app["id"].as_str().unwrap();
        c.read(&format!("{flink}/applications/{id}")).await;
        c.read(&format!("{flink}/applications/{id}/savepoints"))
            .await;
    }
    let sessions = c.read(&format!("{flink}/sessions")).await;
    for session in &items(&sessions) {
        let id = session["id"].as_str().unwrap();
        c.read(&format!("{flink}/sessions/{id}")).await;
        let jobs = c.read(&format!("{flink}/sessions/{id}/jobs")).await;
        for job in &items(&jobs) {
            let job = job["id"].as_str().unwrap();
            c.read(&format!("{flink}/sessions/{id}/jobs/{job}")).await;
            c.read(&format!("{flink}/sessions/{id}/jobs/{job}/savepoints"))
                .await;
        }
    }
    c.read(&format!("/api/org/v1/workspaces/{WS}/grants")).await;
}

#[tokio::test]
async fn odd_cmf_writes_never_break_vvp_or_lakesail_reads() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let root = std::fs::read_to_string(dir.path().join("root.key")).unwrap();
    let c = org_admin(&s, root.trim()).await;
    let cmf = format!("/cmf/api/v1/environments/{ENV}");

    let (code, env) = c
        .write(
            Method::POST,
            "/cmf/api/v1/environments",
            json!({
                "name": ENV,
                "flinkApplicationDefaults": {"metadata": {"labels": []}, "spec": {"vvp": [], "extra": null}},
                "computePoolDefaults": {"vvp": "x", "clusterSpec": 5},
            }),
        )
        .await;
    assert_eq!(code, 201, "{env}");

    for (i, spec) in odd_pool_specs().into_iter().enumerate() {
        let name = if i == 5 {
            "session-odd1".to_owned()
        } else {
            format!("pool-{i}")
        };
        c.write(
            Method::POST,
            &format!("{cmf}/compute-pools"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
                   "metadata": {"name": name, "annotations": {"vvp": "[]", "deploymentId": "{"}},
                   "spec": spec}),
        )
        .await;
    }

    let mut stored = 0;
    for (i, extra) in odd_app_fields().into_iter().enumerate() {
        // The names LakeSail shows as applications and as session jobs too.
        let name = match i % 3 {
            0 => format!("app-odd{i}"),
            1 => format!("job-odd{i}"),
            _ => format!("odd-{i}"),
        };
        let mut extra = extra;
        if i % 3 == 1 && extra.get("deploymentName").is_none() {
            extra["deploymentName"] = json!("session-odd1");
        }
        let (code, _) = c
            .write(
                Method::POST,
                &format!("{cmf}/applications"),
                cmf_app(&name, extra),
            )
            .await;
        if code < 300 {
            stored += 1;
        }
    }
    assert!(stored >= 15, "only {stored} odd applications were stored");

    for (i, extra) in [
        json!({"vvp": [], "flinkConfiguration": null}),
        json!({"properties": {"a": "b"}, "extra": {"a": null}, "lakesail": 5}),
        json!({"properties": [1]}),
        json!({"stopped": "x"}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut spec = json!({"statement": "SELECT 1", "computePoolName": "pool-0"});
        json_patch::merge(&mut spec, &extra);
        c.write(
            Method::POST,
            &format!("{cmf}/statements"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
                   "metadata": {"name": format!("stmt-{i}")}, "spec": spec}),
        )
        .await;
    }
    c.write(
        Method::POST,
        "/cmf/api/v1/secrets",
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Secret",
               "metadata": {"name": "odd-secret"},
               "spec": {"data": {"a": "b"}, "vvp": [], "extra": null}}),
    )
    .await;
    c.write(
        Method::POST,
        "/cmf/api/v1/secrets",
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Secret",
               "metadata": {"name": "odd-secret-2"}, "spec": {"data": []}}),
    )
    .await;
    c.write(
        Method::POST,
        &format!("{cmf}/secret-mappings"),
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "EnvironmentSecretMapping",
               "metadata": {"name": "odd-mapping"},
               "spec": {"secretName": "odd-secret", "extra": []}}),
    )
    .await;
    c.write(
        Method::POST,
        "/cmf/api/v1/catalogs/kafka",
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "KafkaCatalog",
               "metadata": {"name": "odd-catalog"},
               "spec": {"srInstance": {"connectionConfig": {"schema.registry.url": "http://127.0.0.1:1"},
                                       "connectionSecretId": "odd-mapping"},
                        "kafkaClusters": [{"databaseName": "db", "connectionConfig": {"bootstrap.servers": "127.0.0.1:1"},
                                           "connectionSecretId": "odd-mapping"}],
                        "vvp": [], "extra": {"a": null}}}),
    )
    .await;
    for id in ["app-odd0", "odd-2"] {
        c.write(
            Method::POST,
            &format!("{cmf}/applications/{id}/savepoints"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Savepoint",
                   "metadata": {"name": format!("sp-{id}")},
                   "spec": {"path": [], "formatType": 5, "extra": null}}),
        )
        .await;
    }

    read_everything(&c).await;

    // A PATCH through VVP or LakeSail over an odd object answers 2xx or 4xx.
    let vvp = format!("/api/v1/namespaces/{ENV}");
    let deployments = c.read(&format!("{vvp}/deployments")).await;
    for d in &items(&deployments) {
        let name = d["metadata"]["name"].as_str().unwrap();
        c.write(
            Method::PATCH,
            &format!("{vvp}/deployments/{name}"),
            json!({"spec": {"template": {"spec": {"parallelism": 2}}}}),
        )
        .await;
    }
    for i in 0..7 {
        c.write(
            Method::PATCH,
            &format!("{vvp}/sessionclusters/pool-{i}"),
            json!({"spec": {"numberOfTaskManagers": 2}}),
        )
        .await;
    }
    let flink = format!("/api/flink/v1/workspaces/{WS}");
    let apps = c.read(&format!("{flink}/applications")).await;
    for app in &items(&apps) {
        let id = app["id"].as_str().unwrap();
        c.write(
            Method::PATCH,
            &format!("{flink}/applications/{id}"),
            json!({"name": "renamed"}),
        )
        .await;
    }
    c.write(
        Method::PATCH,
        &format!("{flink}/sessions/ODD1"),
        json!({"name": "renamed"}),
    )
    .await;

    read_everything(&c).await;
    c.check();
}

#[tokio::test]
async fn odd_vvp_writes_never_break_cmf_or_lakesail_reads() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let root = std::fs::read_to_string(dir.path().join("root.key")).unwrap();
    let c = org_admin(&s, root.trim()).await;
    let (code, answer) = c
        .write(
            Method::POST,
            "/cmf/api/v1/environments",
            json!({"name": ENV}),
        )
        .await;
    assert_eq!(code, 201, "{answer}");
    let vvp = format!("/api/v1/namespaces/{ENV}");

    let clusters = [
        json!({"state": "STOPPED", "extra": {"a": null}, "kubernetes": [],
               "resources": {"jobmanager": {"memory": "1g", "x": []}}}),
        json!({"state": "STOPPED", "flinkConfiguration": [1]}),
        json!({"state": "STOPPED", "resources": {"jobmanager": 5, "taskmanager": []}}),
        json!({"state": "STOPPED", "resources": [], "extra": {"a": null}}),
        json!({"state": "STOPPED", "flinkConfiguration": {"a": {"b": [1]}}, "numberOfTaskManagers": 1}),
        json!({"state": "STOPPED", "resources": {"jobmanager": {"memory": 5, "cpu": "x"}}}),
    ];
    let mut made = 0;
    for (i, spec) in clusters.into_iter().enumerate() {
        let name = if i == 0 {
            "session-vvp1".to_owned()
        } else {
            format!("vvp-cluster-{i}")
        };
        let (code, _) = c
            .write(
                Method::POST,
                &format!("{vvp}/sessionclusters"),
                json!({"kind": "SessionCluster", "metadata": {"name": name}, "spec": spec}),
            )
            .await;
        if code < 300 {
            made += 1;
        }
    }
    assert!(made >= 1, "no odd session cluster was stored");

    let jar = "file:///opt/jobs/job.jar";
    let deployments = [
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar, "x": [null]},
               "resources": {"jobmanager": {"memory": "1g", "odd": []}, "taskmanager": {}}}}}),
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar},
               "flinkConfiguration": {"a": [1], "b": null}}}}),
        json!({"state": "SUSPENDED", "template": {"metadata": 5, "spec": {"artifact": {"kind": "JAR", "jarUri": jar},
               "logging": [], "kubernetes": "x"}}, "extra": {"a": [null]}}),
        json!({"state": "SUSPENDED", "upgradeStrategy": {"kind": "STATEFUL", "x": []}, "restoreStrategy": {"kind": "LATEST_STATE", "allowNonRestoredState": "x"},
               "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar}, "parallelism": 2, "numberOfTaskManagers": 1}}}),
        json!({"state": "SUSPENDED", "sessionClusterName": "session-vvp1",
               "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar}}}}),
        // Refused.
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar, "mainArgs": 5, "entryClass": []}}}}),
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar},
               "resources": {"jobmanager": 5, "taskmanager": []}}}}),
        json!({"state": [], "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar}}}}),
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": 5}}}}),
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar}, "parallelism": "abc"}}}),
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": jar}, "flinkConfiguration": [1]}}}),
        json!({"state": "SUSPENDED", "template": []}),
        json!({"state": "SUSPENDED", "template": {"spec": {"artifact": []}}}),
    ];
    let mut made = 0;
    for (i, spec) in deployments.into_iter().enumerate() {
        let name = if i % 2 == 0 {
            format!("app-vvp{i}")
        } else {
            format!("job-vvp{i}")
        };
        let (code, _) = c
            .write(
                Method::POST,
                &format!("{vvp}/deployments"),
                json!({"kind": "Deployment", "metadata": {"name": name, "labels": {"a": "b"}}, "spec": spec}),
            )
            .await;
        if code < 300 {
            made += 1;
        }
    }
    assert!(made >= 4, "only {made} odd deployments were stored");
    let sessions = c.read(&format!("{vvp}/sessionclusters")).await;
    assert_eq!(
        sessions["items"][0]["spec"]["kubernetes"],
        json!([]),
        "unknown fields read back: {sessions}"
    );
    for (i, body) in [
        json!({"kind": "DeploymentTarget", "metadata": {"name": "t1"}, "spec": {"kubernetes": [], "extra": null}}),
        json!({"kind": "SecretValue", "metadata": {"name": "v1"}, "spec": {"kind": "GENERIC", "value": "x", "extra": []}}),
    ]
    .into_iter()
    .enumerate()
    {
        let plural = if i == 0 {
            "deployment-targets"
        } else {
            "secret-values"
        };
        c.write(Method::POST, &format!("{vvp}/{plural}"), body).await;
    }
    c.write(
        Method::PATCH,
        &format!("{vvp}/deployment-defaults"),
        json!({"spec": {"template": {"spec": {"flinkConfiguration": {"x": "1"}}}, "extra": []}}),
    )
    .await;

    read_everything(&c).await;

    // CMF writes back over the VVP objects answer 2xx or 4xx.
    let cmf = format!("/cmf/api/v1/environments/{ENV}");
    let apps = c.read(&format!("{cmf}/applications")).await;
    for app in &items(&apps) {
        let name = app["metadata"]["name"].as_str().unwrap();
        c.write(
            Method::POST,
            &format!("{cmf}/applications/{name}/start"),
            json!({}),
        )
        .await;
        c.write(
            Method::POST,
            &format!("{cmf}/applications/{name}/suspend"),
            json!({}),
        )
        .await;
        let mut body = app.clone();
        body.as_object_mut().unwrap().remove("status");
        c.write(Method::POST, &format!("{cmf}/applications"), body)
            .await;
    }
    let pools = c.read(&format!("{cmf}/compute-pools")).await;
    for pool in &items(&pools) {
        let name = pool["metadata"]["name"].as_str().unwrap();
        let mut body = pool.clone();
        body.as_object_mut().unwrap().remove("status");
        c.write(Method::PUT, &format!("{cmf}/compute-pools/{name}"), body)
            .await;
    }

    read_everything(&c).await;
    c.check();
}
