//! The Flink Kubernetes Operator resources drey renders for applications and
//! compute pools, fetched from a real drey server through the CMF API and
//! the CLI binary, validated against the operator's published CRD schemas
//! (`tests/data/k8s-operator/`). No Flink is needed: the server runs with
//! its reconciler off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, error_message, Server, SEED_APPLICATION_YAML};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::process::Command;

const V1: &str = "/cmf/api/v1";
const E: &str = "/cmf/api/v1/environments/test";

/// The `openAPIV3Schema` of a CRD's `v1beta1` version, made as strict as
/// the API server is with `fieldValidation=Strict` (kubectl's default):
/// below `spec`, a field the schema does not name is an error unless the
/// schema preserves unknown fields.
fn crd_schema(file: &str) -> Value {
    let path = format!(
        "{}/tests/data/k8s-operator/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let crd: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1beta1")
        .unwrap_or_else(|| panic!("{file} has no v1beta1"));
    let schema = &version["schema"]["openAPIV3Schema"];
    let Value::Object(top) = schema else {
        panic!("{file}: no openAPIV3Schema")
    };
    let mut out = Map::new();
    for (k, v) in top {
        let v = if k == "properties" {
            let Value::Object(props) = v else { panic!() };
            Value::Object(
                props
                    .iter()
                    .map(|(name, s)| {
                        let s = if name == "spec" { strict(s) } else { s.clone() };
                        (name.clone(), s)
                    })
                    .collect(),
            )
        } else {
            v.clone()
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// `schema` with `additionalProperties: false` on every object schema that
/// names its properties and does not preserve unknown fields.
fn strict(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), strict(v))).collect();
            let preserves = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserves
            {
                out.insert("additionalProperties".into(), json!(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(strict).collect()),
        other => other.clone(),
    }
}

struct Crds {
    deployment: jsonschema::Validator,
    session_job: jsonschema::Validator,
}

impl Crds {
    fn load() -> Crds {
        let validator = |file| jsonschema::draft4::new(&crd_schema(file)).unwrap();
        Crds {
            deployment: validator("flinkdeployments.flink.apache.org-v1.yml"),
            session_job: validator("flinksessionjobs.flink.apache.org-v1.yml"),
        }
    }

    /// Why `manifest` is not a valid resource of its kind (empty: it is).
    fn errors(&self, manifest: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        if manifest["apiVersion"] != "flink.apache.org/v1beta1" {
            errors.push(format!("apiVersion {}", manifest["apiVersion"]));
        }
        for field in ["name", "namespace"] {
            if !manifest["metadata"][field].is_string() {
                errors.push(format!("metadata.{field} missing"));
            }
        }
        let validator = match manifest["kind"].as_str() {
            Some("FlinkDeployment") => &self.deployment,
            Some("FlinkSessionJob") => &self.session_job,
            other => {
                errors.push(format!("kind {other:?}"));
                return errors;
            }
        };
        errors.extend(
            validator
                .iter_errors(manifest)
                .map(|e| format!("{}: {e}", e.instance_path())),
        );
        errors
    }

    fn assert_valid(&self, manifest: &Value) {
        let errors = self.errors(manifest);
        assert!(errors.is_empty(), "{errors:?}\n{manifest:#}");
    }
}

/// A server with environment `test` (Kubernetes namespace `flink-apps`) and
/// the seed's example application, posted as the README posts it.
async fn with_seed_example(dir: &tempfile::TempDir) -> Server {
    let s = Server::start(dir);
    let (status, body) = s
        .post(
            &format!("{V1}/environments"),
            json!({"name": "test", "kubernetesNamespace": "flink-apps"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .raw(
            Method::POST,
            &format!("{E}/applications"),
            "application/yaml",
            SEED_APPLICATION_YAML,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    s
}

/// The manifest through the API as JSON, the same as YAML, and through the
/// CLI (YAML by default, `-o json`): all four must agree.
async fn fetch(s: &Server, app: &str) -> Value {
    let path = format!("{E}/applications/{app}/manifest");
    let (status, json) = s.get(&path).await;
    assert_eq!(status, 200, "{json}");
    let response = s
        .client
        .get(s.url(&path))
        .header("accept", "application/yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/yaml"
    );
    let yaml: Value = serde_yaml_ng::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(yaml, json, "YAML and JSON differ");
    for (args, parse) in [
        (vec![], "yaml"),
        (vec!["-o", "json"], "json"),
        (vec!["-o", "yaml"], "yaml"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_drey"))
            .args(["app", "manifest", app, "--env", "test"])
            .args(&args)
            .env("DREY_URL", &s.base)
            .env_remove("DREY_TOKEN")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Value = if parse == "json" {
            serde_json::from_str(&text).unwrap()
        } else {
            assert!(!text.trim_start().starts_with('{'), "not YAML: {text}");
            serde_yaml_ng::from_str(&text).unwrap()
        };
        assert_eq!(printed, json, "drey app manifest {args:?}");
    }
    json
}

fn app_with_mode(name: &str, mode: &str) -> Value {
    patched(
        &application(name),
        json!([
            {"op": "replace", "path": "/spec/job/upgradeMode", "value": mode},
            {"op": "replace", "path": "/spec/job/state", "value": "suspended"},
            {"op": "add", "path": "/spec/job/entryClass", "value": "org.example.Main"},
            {"op": "add", "path": "/spec/job/args", "value": ["--mode", mode]},
            {"op": "add", "path": "/spec/job/initialSavepointPath", "value": "file:///savepoints/sp-1"},
            {"op": "add", "path": "/spec/podTemplate",
             "value": {"spec": {"containers": [{"name": "flink-main-container",
                                               "env": [{"name": "MODE", "value": mode}]}]}}},
            {"op": "add", "path": "/spec/vvp", "value": {"internal": true}},
            {"op": "add", "path": "/metadata/labels", "value": {"team": "data"}},
        ]),
    )
}

/// A copy of `value` with a JSON patch applied.
fn patched(value: &Value, ops: Value) -> Value {
    let patch: json_patch::Patch = serde_json::from_value(ops).unwrap();
    let mut copy = value.clone();
    json_patch::patch(&mut copy, &patch).unwrap();
    copy
}

#[tokio::test]
async fn manifests_validate_against_the_operator_crds() {
    let crds = Crds::load();
    let dir = tempfile::tempdir().unwrap();
    // The seed's example, as the README posts it.
    let s = with_seed_example(&dir).await;
    let seed = fetch(&s, "curl-example").await;
    crds.assert_valid(&seed);
    assert_eq!(seed["kind"], "FlinkDeployment");
    assert_eq!(
        seed["metadata"],
        json!({"name": "curl-example", "namespace": "flink-apps",
               "labels": {"app.kubernetes.io/managed-by": "drey"}})
    );
    assert_eq!(
        seed["spec"],
        json!({
            "image": "confluentinc/cp-flink:1.19.1-cp2",
            "flinkVersion": "v1_19",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
            "serviceAccount": "flink",
            "jobManager": {"resource": {"cpu": 1.0, "memory": "1024m"}},
            "taskManager": {"resource": {"cpu": 1.0, "memory": "1024m"}},
            "job": {
                "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
                "parallelism": 3,
                "state": "running",
                "upgradeMode": "stateless"
            }
        })
    );

    // One per upgradeMode, with what the operator's job spec carries.
    for mode in ["stateless", "savepoint", "last-state"] {
        let name = format!("app-{mode}");
        let (status, body) = s
            .post(&format!("{E}/applications"), app_with_mode(&name, mode))
            .await;
        assert_eq!(status, 201, "{body}");
        let manifest = fetch(&s, &name).await;
        crds.assert_valid(&manifest);
        assert_eq!(manifest["kind"], "FlinkDeployment");
        assert_eq!(manifest["metadata"]["labels"]["team"], "data");
        let job = &manifest["spec"]["job"];
        assert_eq!(job["upgradeMode"], mode);
        assert_eq!(job["state"], "suspended");
        assert_eq!(job["entryClass"], "org.example.Main");
        assert_eq!(job["args"], json!(["--mode", mode]));
        assert_eq!(job["initialSavepointPath"], "file:///savepoints/sp-1");
        assert_eq!(
            manifest["spec"]["podTemplate"]["spec"]["containers"][0]["env"][0]["value"],
            mode
        );
        assert!(manifest["spec"].get("vvp").is_none(), "{manifest}");
        assert!(manifest.get("status").is_none(), "{manifest}");
    }

    // A SHARED pool: a session-mode FlinkDeployment without a job.
    let (status, body) = s
        .post(
            &format!("{E}/compute-pools"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
                   "metadata": {"name": "shared"},
                   "spec": {"type": "SHARED", "clusterSpec": {
                       "image": "confluentinc/cp-flink:1.19.1-cp2", "flinkVersion": "v1_19",
                       "serviceAccount": "flink",
                       "flinkConfiguration": {"taskmanager.numberOfTaskSlots": 2},
                       "jobManager": {"resource": {"memory": "1024m", "cpu": 1}},
                       "taskManager": {"replicas": 2, "resource": {"memory": "2048m", "cpu": "2"}}}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, pool) = s.get(&format!("{E}/compute-pools/shared/manifest")).await;
    assert_eq!(status, 200, "{pool}");
    crds.assert_valid(&pool);
    assert_eq!(pool["kind"], "FlinkDeployment");
    assert_eq!(pool["metadata"]["name"], "shared");
    assert!(pool["spec"].get("job").is_none(), "{pool}");
    assert_eq!(
        pool["spec"]["flinkConfiguration"]["taskmanager.numberOfTaskSlots"],
        "2"
    );
    assert_eq!(pool["spec"]["taskManager"]["replicas"], 2);
    assert_eq!(pool["spec"]["taskManager"]["resource"]["cpu"], 2.0);

    // An application in it: a FlinkSessionJob naming the pool's deployment.
    let session = patched(
        &application("in-session"),
        json!([
            {"op": "add", "path": "/spec/deploymentName", "value": "shared"},
            {"op": "replace", "path": "/spec/job/state", "value": "suspended"},
            {"op": "replace", "path": "/spec/job/upgradeMode", "value": "savepoint"},
        ]),
    );
    let (status, body) = s.post(&format!("{E}/applications"), session).await;
    assert_eq!(status, 201, "{body}");
    let job = fetch(&s, "in-session").await;
    crds.assert_valid(&job);
    assert_eq!(job["kind"], "FlinkSessionJob");
    assert_eq!(job["spec"]["deploymentName"], "shared");
    assert_eq!(job["spec"]["job"]["upgradeMode"], "savepoint");
    assert_eq!(job["metadata"]["namespace"], "flink-apps");

    // The validation can fail: corrupted manifests are refused.
    for (manifest, op) in [
        (
            &seed,
            json!({"op": "replace", "path": "/spec/job/upgradeMode", "value": "last_state"}),
        ),
        (
            &seed,
            json!({"op": "replace", "path": "/spec/job/state", "value": "RUNNING"}),
        ),
        (
            &seed,
            json!({"op": "replace", "path": "/spec/flinkVersion", "value": "1.19"}),
        ),
        (
            &seed,
            json!({"op": "replace", "path": "/spec/job/parallelism", "value": "3"}),
        ),
        (
            &seed,
            json!({"op": "add", "path": "/spec/vvp", "value": {}}),
        ),
        (
            &seed,
            json!({"op": "add", "path": "/spec/job/jarUri", "value": "x"}),
        ),
        (
            &seed,
            json!({"op": "replace", "path": "/kind", "value": "FlinkApplication"}),
        ),
        (
            &pool,
            json!({"op": "replace", "path": "/spec/taskManager/replicas", "value": "2"}),
        ),
        (
            &job,
            json!({"op": "replace", "path": "/spec/deploymentName", "value": 5}),
        ),
        (
            &job,
            json!({"op": "add", "path": "/spec/image", "value": "flink"}),
        ),
    ] {
        let bad = patched(manifest, json!([op]));
        assert!(
            !crds.errors(&bad).is_empty(),
            "{op} should make the manifest invalid"
        );
    }

    // Missing things are CMF's 404; a DEDICATED pool has no cluster to render.
    for path in [
        format!("{E}/applications/missing/manifest"),
        format!("{E}/compute-pools/missing/manifest"),
        format!("{V1}/environments/nope/applications/curl-example/manifest"),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(error_message(&body).contains("not found"), "{body}");
    }
    let (status, body) = s
        .post(
            &format!("{E}/compute-pools"),
            json!({"metadata": {"name": "dedicated"},
                   "spec": {"type": "DEDICATED", "clusterSpec": {}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .get(&format!("{E}/compute-pools/dedicated/manifest"))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(error_message(&body).contains("not SHARED"), "{body}");
    let out = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["app", "manifest", "missing", "--env", "test"])
        .env("DREY_URL", &s.base)
        .env_remove("DREY_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "not found exits 3");
}

/// What the kubernetes backend would read back: drey's rendered
/// FlinkDeployment with the status the operator writes as it reconciles —
/// every one valid against the CRD — read as the three-outcome observation,
/// and a savepoint asked for through the trigger nonce and seen to complete.
#[tokio::test]
async fn operator_statuses_read_back_as_observations() {
    use drey_model::Observation;
    use drey_runtime::backend::kubernetes::{
        job_state_patch, observe, savepoint_patch, savepoint_progress, OperatorKind,
        SavepointProgress,
    };
    const KIND: OperatorKind = OperatorKind::FlinkDeployment;
    let crds = Crds::load();
    let dir = tempfile::tempdir().unwrap();
    let s = with_seed_example(&dir).await;
    let rendered = fetch(&s, "curl-example").await;

    // The resource as the API server returns it at a generation, with a status.
    let at = |generation: i64, nonce: i64, status: Option<Value>| {
        let mut doc = rendered.as_object().unwrap().clone();
        let mut metadata = doc["metadata"].as_object().unwrap().clone();
        metadata.insert("generation".into(), json!(generation));
        doc.insert("metadata".into(), Value::Object(metadata));
        let mut spec = doc["spec"].clone();
        json_patch::merge(&mut spec, &json!({"job": {"savepointTriggerNonce": nonce}}));
        doc.insert("spec".into(), spec);
        if let Some(status) = status {
            doc.insert("status".into(), status);
        }
        let doc = Value::Object(doc);
        crds.assert_valid(&doc);
        doc
    };

    // Just applied: no status, then an older generation's: unknown.
    assert!(observe(KIND, Some(&at(1, 0, None))).is_unknown());
    let deploying = json!({"observedGeneration": 1, "lifecycleState": "DEPLOYED",
                           "jobStatus": {"jobId": "3f1e", "state": "RECONCILING"}});
    assert!(observe(KIND, Some(&at(2, 0, Some(deploying.clone())))).is_unknown());
    // Reconciled: seen, in the operator's words.
    let Observation::Seen(seen) = observe(KIND, Some(&at(1, 0, Some(deploying)))) else {
        panic!("a reconciled resource is not seen");
    };
    assert_eq!(seen.lifecycle_state, "DEPLOYED");
    assert_eq!(seen.job_state.as_deref(), Some("RECONCILING"));
    // Deleted by someone: gone.
    assert!(observe(KIND, None).is_gone());

    // A savepoint: the nonce goes up by one in a merge patch of the spec.
    let stable = json!({"observedGeneration": 1, "lifecycleState": "STABLE",
                        "jobStatus": {"jobId": "3f1e", "state": "RUNNING"}});
    let (patch, nonce) = savepoint_patch(KIND, &at(1, 0, Some(stable))).unwrap();
    assert_eq!(nonce, 1);
    let mut patched = at(2, 0, None);
    json_patch::merge(&mut patched, &patch);
    crds.assert_valid(&patched);
    let taking = json!({"observedGeneration": 2, "lifecycleState": "STABLE",
                        "jobStatus": {"jobId": "3f1e", "state": "RUNNING",
                                      "savepointInfo": {"triggerId": "a1b2",
                                                        "triggerType": "MANUAL"}}});
    assert_eq!(
        savepoint_progress(KIND, Some(&at(2, 1, Some(taking))), nonce),
        Observation::Seen(SavepointProgress::InProgress)
    );
    let taken = json!({"observedGeneration": 2, "lifecycleState": "STABLE",
                       "jobStatus": {"jobId": "3f1e", "state": "RUNNING",
                                     "savepointInfo": {"triggerId": "",
                                        "lastSavepoint": {"location": "s3://sp/savepoint-3f1e-1",
                                                          "triggerNonce": 1,
                                                          "triggerType": "MANUAL",
                                                          "formatType": "CANONICAL",
                                                          "timeStamp": 1765000000000_i64}}}});
    assert_eq!(
        savepoint_progress(KIND, Some(&at(2, 1, Some(taken))), nonce),
        Observation::Seen(SavepointProgress::Completed(
            "s3://sp/savepoint-3f1e-1".into()
        ))
    );

    // Suspend: the operator stops with a savepoint and says where it is.
    let mut suspended = at(3, 1, None);
    json_patch::merge(&mut suspended, &job_state_patch(false));
    crds.assert_valid(&suspended);
    assert_eq!(suspended["spec"]["job"]["state"], "suspended");
    let status = json!({"observedGeneration": 3, "lifecycleState": "SUSPENDED",
                        "jobStatus": {"jobId": "3f1e", "state": "FINISHED",
                                      "upgradeSavepointPath": "s3://sp/savepoint-3f1e-2"}});
    let Observation::Seen(seen) = observe(KIND, Some(&at(3, 1, Some(status)))) else {
        panic!("a suspended resource is not seen");
    };
    assert_eq!(seen.lifecycle_state, "SUSPENDED");
    assert_eq!(
        seen.upgrade_savepoint_path.as_deref(),
        Some("s3://sp/savepoint-3f1e-2")
    );
}

/// Applications and session clusters written through VVP and LakeSail carry
/// the image and Flink version those dialects name into their manifests.
#[tokio::test]
async fn dialect_applications_render_with_their_image_and_version() {
    let crds = Crds::load();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);

    // VVP: the artifact's registry, repository, tag and version.
    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "vvp-k8s"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let ns = "/api/v1/namespaces/vvp-k8s";
    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            json!({"metadata": {"name": "orders"},
                   "spec": {"state": "SUSPENDED", "template": {"spec": {
                       "artifact": {"kind": "JAR", "jarUri": "file:///opt/jobs/job.jar",
                                    "entryClass": "com.example.Job",
                                    "flinkVersion": "1.19",
                                    "flinkImageRegistry": "registry.ververica.com/v2.6",
                                    "flinkImageRepository": "flink",
                                    "flinkImageTag": "1.19.1-stream1-scala_2.12-java11"},
                       "parallelism": 1}}}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, manifest) = s
        .get(&format!(
            "{V1}/environments/vvp-k8s/applications/orders/manifest"
        ))
        .await;
    assert_eq!(code, 200, "{manifest}");
    crds.assert_valid(&manifest);
    assert_eq!(
        manifest["spec"]["image"],
        "registry.ververica.com/v2.6/flink:1.19.1-stream1-scala_2.12-java11"
    );
    assert_eq!(manifest["spec"]["flinkVersion"], "v1_19");
    let (code, body) = s
        .post(
            &format!("{ns}/deployments"),
            json!({"metadata": {"name": "bad"},
                   "spec": {"state": "SUSPENDED", "template": {"spec": {
                       "artifact": {"kind": "JAR", "jarUri": "file:///opt/jobs/job.jar",
                                    "flinkImageTag": 5}}}}}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.to_string()
            .contains("spec.template.spec.artifact.flinkImageTag"),
        "{body}"
    );

    // A VVP SessionCluster naming only a version: Apache Flink's image.
    let (code, body) = s
        .post(
            &format!("{ns}/sessionclusters"),
            json!({"metadata": {"name": "session"},
                   "spec": {"state": "STOPPED", "flinkVersion": "1.20"}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, manifest) = s
        .get(&format!(
            "{V1}/environments/vvp-k8s/compute-pools/session/manifest"
        ))
        .await;
    assert_eq!(code, 200, "{manifest}");
    crds.assert_valid(&manifest);
    assert_eq!(manifest["spec"]["image"], "flink:1.20");
    assert_eq!(manifest["spec"]["flinkVersion"], "v1_20");

    // LakeSail: the runtime names the version.
    let (code, ws) = s
        .post("/api/org/v1/workspaces", json!({"name": "K8s"}))
        .await;
    assert_eq!(code, 201, "{ws}");
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let (code, app) = s
        .post(
            &format!("/api/flink/v1/workspaces/{ws_id}/applications"),
            json!({
                "name": "Counter", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
                "flinkConfiguration": {}, "logConfiguration": {},
                "jobManagerResource": {"cpu": 1, "memory": "768m"},
                "taskManagerResource": {"cpu": 1, "memory": "1024m"},
                "state": "SUSPENDED",
                "job": {"jarUri": "local:///opt/flink/usrlib/job.jar",
                        "entryClass": "com.example.Job", "args": []}
            }),
        )
        .await;
    assert_eq!(code, 201, "{app}");
    let (code, manifest) = s
        .get(&format!(
            "{V1}/environments/ws-{}/applications/app-{}/manifest",
            ws_id.to_ascii_lowercase(),
            app["id"].as_str().unwrap().to_ascii_lowercase()
        ))
        .await;
    assert_eq!(code, 200, "{manifest}");
    crds.assert_valid(&manifest);
    assert_eq!(manifest["spec"]["image"], "flink:1.17");
    assert_eq!(manifest["spec"]["flinkVersion"], "v1_17");
}
