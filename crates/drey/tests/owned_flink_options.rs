//! Flink options drey owns (ports, addresses, directories, `security.*`,
//! `env.*`, …) cannot be set by users, in any dialect, on any object whose
//! configuration reaches a cluster: the write is refused naming the key, in
//! the dialect's own error body, and changes nothing. Options that are the
//! user's stay accepted. API-only servers: nothing starts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, error_message, Server};
use reqwest::Method;
use serde_json::{json, Value};

const V1: &str = "/cmf/api/v1";
const VVP: &str = "/api/v1/namespaces/vvp-team";

/// Keys drey owns, one of each family.
const OWNED: &[&str] = &[
    "rest.port",
    "rest.bind-address",
    "jobmanager.rpc.port",
    "taskmanager.host",
    "io.tmp.dirs",
    "execution.checkpointing.dir",
    "security.ssl.rest.enabled",
    "env.java.opts.all",
    "env.java.home",
    "high-availability.storageDir",
    "metrics.reporter.prom.port",
];

/// Options users set (the README's and the tests' own among them).
fn allowed_configuration() -> Value {
    json!({
        "taskmanager.numberOfTaskSlots": "2",
        "kubernetes.operator.savepoint.history.max.count": "3",
        "execution.checkpointing.interval": "10s",
        "restart-strategy.type": "fixed-delay",
        "rest.flamegraph.enabled": "true",
    })
}

fn app_with(name: &str, conf: Value) -> Value {
    let mut app = application(name);
    app["spec"]["flinkConfiguration"] = conf;
    app
}

fn pool_with(name: &str, conf: Value) -> Value {
    json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
           "metadata": {"name": name},
           "spec": {"type": "DEDICATED", "clusterSpec": {"flinkConfiguration": conf}}})
}

/// A CMF RestError naming `key`.
fn names_key(body: &Value, key: &str) {
    let message = error_message(body);
    assert!(message.contains(&format!("'{key}'")), "{key}: {message}");
    assert!(message.contains("drey"), "{message}");
}

#[tokio::test]
async fn cmf_refuses_drey_owned_options() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, body) = s
        .post(&format!("{V1}/environments"), json!({"name": "test"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let apps = format!("{V1}/environments/test/applications");
    let pools = format!("{V1}/environments/test/compute-pools");

    // Applications and compute pools: 422 naming the key, nothing written.
    for key in OWNED {
        let mut conf = allowed_configuration();
        conf[*key] = json!("1");
        let (status, body) = s.post(&apps, app_with("my-app", conf.clone())).await;
        assert_eq!(status, 422, "{key}: {body}");
        names_key(&body, key);
        let (status, body) = s.post(&pools, pool_with("my-pool", conf)).await;
        assert_eq!(status, 422, "{key}: {body}");
        names_key(&body, key);
    }
    // Numbers and booleans are refused as well as strings; keys as written.
    let (status, body) = s
        .post(&apps, app_with("my-app", json!({"rest.port": 8081})))
        .await;
    assert_eq!(status, 422, "{body}");
    names_key(&body, "rest.port");
    let (status, body) = s
        .post(
            &apps,
            app_with("my-app", json!({"security.ssl.rest.enabled": true})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    names_key(&body, "security.ssl.rest.enabled");
    assert_eq!(s.get(&format!("{apps}/my-app")).await.0, 404);
    assert_eq!(s.get(&format!("{pools}/my-pool")).await.0, 404);

    // The user's own options are accepted.
    let (status, body) = s
        .post(&apps, app_with("my-app", allowed_configuration()))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .post(&pools, pool_with("my-pool", allowed_configuration()))
        .await;
    assert_eq!(status, 200, "{body}");

    // An update cannot add one either; the stored spec stays as it was.
    let mut conf = allowed_configuration();
    conf["env.java.opts.all"] = json!("-javaagent:/tmp/agent.jar");
    // (CMF updates an application by POSTing it again.)
    let (status, body) = s.post(&apps, app_with("my-app", conf.clone())).await;
    assert_eq!(status, 422, "{body}");
    names_key(&body, "env.java.opts.all");
    let (_, stored) = s.get(&format!("{apps}/my-app")).await;
    assert_eq!(
        stored["spec"]["flinkConfiguration"],
        allowed_configuration()
    );

    // Statements: their flinkConfiguration and properties.
    let statements = format!("{V1}/environments/test/statements");
    for field in ["properties", "flinkConfiguration"] {
        let (status, body) = s
            .post(
                &statements,
                json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
                       "metadata": {"name": "my-stmt"},
                       "spec": {"statement": "SELECT 1", "computePoolName": "my-pool",
                                field: {"sql.current-catalog": "default",
                                        "security.ssl.rest.enabled": "false"}}}),
            )
            .await;
        assert_eq!(status, 422, "{field}: {body}");
        names_key(&body, "security.ssl.rest.enabled");
    }
    let statement = |properties: Value| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
               "metadata": {"name": "my-stmt"},
               "spec": {"statement": "SELECT 1", "computePoolName": "my-pool",
                        "properties": properties}})
    };
    let (status, body) = s
        .post(
            &statements,
            statement(json!({"sql.current-catalog": "default", "pipeline.name": "mine"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .put(
            &format!("{statements}/my-stmt"),
            statement(json!({"taskmanager.bind-host": "0.0.0.0"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    names_key(&body, "taskmanager.bind-host");

    // Environment defaults merged into what runs: 400 (the code CMF
    // documents for environments), naming the key.
    for defaults in [
        json!({"flinkApplicationDefaults": {"spec": {"flinkConfiguration": {"rest.bind-address": "0.0.0.0"}}}}),
        json!({"computePoolDefaults": {"spec": {"clusterSpec": {"flinkConfiguration": {"rest.bind-address": "0.0.0.0"}}}}}),
        json!({"statementDefaults": {"detached": {"flinkConfiguration": {"rest.bind-address": "0.0.0.0"}}}}),
    ] {
        let mut env = defaults.clone();
        env["name"] = json!("defaults");
        let (status, body) = s.post(&format!("{V1}/environments"), env).await;
        assert_eq!(status, 400, "{defaults}: {body}");
        names_key(&body, "rest.bind-address");
    }
    assert_eq!(s.get(&format!("{V1}/environments/defaults")).await.0, 404);
    let (status, body) = s
        .post(
            &format!("{V1}/environments"),
            json!({"name": "defaults",
                   "flinkApplicationDefaults": {"spec": {"flinkConfiguration": allowed_configuration()}},
                   "computePoolDefaults": {"spec": {"clusterSpec": {"flinkConfiguration": allowed_configuration()}}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn vvp_refuses_drey_owned_options() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-team"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let deployment = |conf: Value| {
        json!({
            "kind": "Deployment", "apiVersion": "v1",
            "metadata": {"name": "counter"},
            "spec": {
                "state": "SUSPENDED",
                "deploymentTargetName": "local",
                "template": {"spec": {
                    "artifact": {"kind": "JAR", "jarUri": "file:///opt/jobs/job.jar"},
                    "flinkConfiguration": conf
                }}
            }
        })
    };
    for key in [
        "rest.port",
        "security.ssl.rest.enabled",
        "env.java.opts.all",
    ] {
        let mut conf = allowed_configuration();
        conf[key] = json!("1");
        let (status, body) = s
            .post(&format!("{VVP}/deployments"), deployment(conf.clone()))
            .await;
        // VVP's own validation error: 400 ApiValidationException.
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(body["kind"], "ApiValidationException", "{body}");
        let attribute = body["errors"][0]["attribute"].as_str().unwrap();
        assert!(attribute.ends_with(&format!(".{key}")), "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&format!("'{key}'")),
            "{body}"
        );
        let (status, body) = s
            .post(
                &format!("{VVP}/sessionclusters"),
                json!({"metadata": {"name": "sc"},
                       "spec": {"state": "STOPPED", "flinkConfiguration": conf}}),
            )
            .await;
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(body["kind"], "ApiValidationException", "{body}");
    }
    let (status, body) = s
        .post(
            &format!("{VVP}/deployments"),
            deployment(allowed_configuration()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // A merge patch cannot add one.
    let (status, body) = s
        .json(
            Method::PATCH,
            &format!("{VVP}/deployments/counter"),
            Some(json!({"spec": {"template": {"spec": {"flinkConfiguration": {"rest.address": "10.0.0.1"}}}}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["kind"], "ApiValidationException", "{body}");
    assert!(body["message"].as_str().unwrap().contains("'rest.address'"));
}

#[tokio::test]
async fn lakesail_refuses_drey_owned_options() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(dir.path(), &["--auth", "token"]);
    s.token = Some(
        std::fs::read_to_string(dir.path().join("root.key"))
            .unwrap()
            .trim()
            .to_owned(),
    );
    let (_, org) = s
        .post("/api/admin/v1/organizations", json!({"name": "acme"}))
        .await;
    let (status, key) = s
        .post(
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    s.token = Some(key["key"].as_str().unwrap().to_owned());
    let (status, ws) = s
        .post("/api/org/v1/workspaces", json!({"name": "Streaming"}))
        .await;
    assert_eq!(status, 201, "{ws}");
    let ws = ws["id"].as_str().unwrap().to_owned();
    let resources = json!({"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"});
    let app = |conf: Value| {
        json!({
            "name": "Word count", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
            "flinkConfiguration": conf, "logConfiguration": {},
            "jobManagerResource": resources, "taskManagerResource": resources,
            "job": {"jarUri": "local:///opt/flink/examples/streaming/WordCount.jar",
                    "entryClass": "com.example.Job", "args": []}
        })
    };
    let session = |conf: Value| {
        json!({
            "name": "one", "runtime": "FLINK_1_17",
            "jars": ["local:///opt/jobs/job.jar"], "plugins": [],
            "flinkConfiguration": conf, "logConfiguration": {},
            "jobManagerResource": resources, "taskManagerResource": resources
        })
    };
    let apps = format!("/api/flink/v1/workspaces/{ws}/applications");
    let sessions = format!("/api/flink/v1/workspaces/{ws}/sessions");
    for key in [
        "rest.port",
        "security.ssl.rest.enabled",
        "env.java.opts.all",
    ] {
        let mut conf = allowed_configuration();
        conf[key] = json!("1");
        for (path, body) in [(&apps, app(conf.clone())), (&sessions, session(conf))] {
            let (status, answer) = s.post(path, body).await;
            // LakeSail's own error body: 400 with a message.
            assert_eq!(status, 400, "{path} {key}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(&format!("'{key}'")), "{answer}");
        }
    }
    let (status, body) = s.post(&apps, app(allowed_configuration())).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s.post(&sessions, session(allowed_configuration())).await;
    assert_eq!(status, 201, "{body}");
    let session_id = body["id"].as_str().unwrap().to_owned();
    // A session job's configuration too.
    let (status, body) = s
        .post(
            &format!("{sessions}/{session_id}/jobs"),
            json!({"name": "Counter", "flinkConfiguration": {"io.tmp.dirs": "/"},
                   "job": {"entryClass": "com.example.Job", "args": []}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("'io.tmp.dirs'"));
}
