//! The CMF API over HTTP against a real drey server: every endpoint and the
//! status codes seed 002 gives it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, error_message, Server, SEED_APPLICATION_YAML};
use reqwest::Method;
use serde_json::{json, Value};

const V1: &str = "/cmf/api/v1";

async fn env(server: &Server, name: &str) {
    let (status, body) = server
        .post(&format!("{V1}/environments"), json!({"name": name}))
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn environments_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);

    let (status, created) = s
        .post(
            &format!("{V1}/environments"),
            json!({"name": "test", "flinkApplicationDefaults": {"spec": {"flinkConfiguration": {"a": "1"}}}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["name"], "test");
    assert_eq!(created["kubernetesNamespace"], "test");
    assert_eq!(created["computePoolDefaults"], json!({}));
    assert_eq!(
        created["statementDefaults"],
        json!({"detached": {"flinkConfiguration": {}}, "interactive": {"flinkConfiguration": {}}})
    );
    let created_time = created["created_time"].as_str().unwrap().to_owned();
    assert_eq!(
        created_time.len(),
        24,
        "RFC 3339 with milliseconds: {created_time}"
    );
    assert!(created_time.ends_with('Z'));

    // Create-or-update: same name again updates, still 201.
    let (status, updated) = s
        .post(
            &format!("{V1}/environments"),
            json!({"name": "test", "computePoolDefaults": {"clusterSpec": {"x": 1}},
                   "statementDefaults": {"detached": {"flinkConfiguration": {"parallelism.default": "2"}}}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(updated["created_time"], created_time.as_str());
    assert_eq!(
        updated["computePoolDefaults"],
        json!({"clusterSpec": {"x": 1}})
    );
    assert_eq!(
        updated["statementDefaults"]["detached"]["flinkConfiguration"]["parallelism.default"],
        "2"
    );

    // kubernetesNamespace is fixed once set.
    let (status, body) = s
        .post(
            &format!("{V1}/environments"),
            json!({"name": "test", "kubernetesNamespace": "other"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error_message(&body).contains("kubernetesNamespace"),
        "{body}"
    );

    let (status, body) = s
        .post(
            &format!("{V1}/environments"),
            json!({"name": "prod", "kubernetesNamespace": "flink-prod"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["kubernetesNamespace"], "flink-prod");

    let (status, got) = s.get(&format!("{V1}/environments/test")).await;
    assert_eq!(status, 200);
    assert_eq!(got["name"], "test");
    assert_eq!(got["secrets"], json!({}));

    let (status, list) = s.get(&format!("{V1}/environments")).await;
    assert_eq!(status, 200);
    assert_eq!(list["metadata"]["size"], 2);
    assert_eq!(list["pageable"]["page"], 0);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod", "test"]);
    assert!(
        list["items"][0].get("secrets").is_none(),
        "list omits secrets"
    );

    let (status, body) = s.get(&format!("{V1}/environments/nope")).await;
    assert_eq!(status, 404);
    assert!(error_message(&body).contains("nope"));

    let (status, body) = s.delete(&format!("{V1}/environments/prod")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = s.get(&format!("{V1}/environments/prod")).await;
    assert_eq!(status, 404);
    let (status, body) = s.delete(&format!("{V1}/environments/prod")).await;
    assert_eq!(status, 404);
    error_message(&body);
}

#[tokio::test]
async fn environment_delete_is_refused_while_it_holds_things() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "busy").await;
    let (status, _) = s
        .post(
            &format!("{V1}/environments/busy/applications"),
            application("app-one"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .post(
            &format!("{V1}/environments/busy/compute-pools"),
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
                   "metadata": {"name": "pool"}, "spec": {"type": "DEDICATED", "clusterSpec": {}}}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, body) = s.delete(&format!("{V1}/environments/busy")).await;
    assert_eq!(status, 409);
    let message = error_message(&body);
    assert!(message.contains("app-one"), "{message}");
    assert!(message.contains("ComputePool"), "{message}");
    // Nothing was deleted.
    assert_eq!(
        s.get(&format!("{V1}/environments/busy/applications/app-one"))
            .await
            .0,
        200
    );

    assert_eq!(
        s.delete(&format!("{V1}/environments/busy/applications/app-one"))
            .await
            .0,
        200
    );
    assert_eq!(
        s.delete(&format!("{V1}/environments/busy/compute-pools/pool"))
            .await
            .0,
        204
    );
    assert_eq!(s.delete(&format!("{V1}/environments/busy")).await.0, 200);
}

#[tokio::test]
async fn applications_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "test").await;
    let apps = format!("{V1}/environments/test/applications");

    // The seed's curl example, verbatim.
    let (status, text) = s
        .raw(
            Method::POST,
            &apps,
            "application/yaml",
            SEED_APPLICATION_YAML,
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["apiVersion"], "cmf.confluent.io/v1");
    assert_eq!(created["kind"], "FlinkApplication");
    assert_eq!(created["metadata"]["name"], "curl-example");
    assert_eq!(
        created["spec"]["serviceAccount"], "flink",
        "unknown fields are kept"
    );
    assert!(created["status"]["jobStatus"]["jobName"].is_string());
    assert!(created["status"]["jobStatus"]["state"].is_string());
    let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();
    assert_eq!(uid.len(), 36);

    // Update: same uid, new resourceVersion, status kept.
    let mut changed = application("curl-example");
    changed["spec"]["job"]["parallelism"] = json!(2);
    changed["spec"]["podTemplate"] = json!({"spec": {"containers": []}});
    let (status, updated) = s.post(&apps, changed).await;
    assert_eq!(status, 201);
    assert_eq!(updated["metadata"]["uid"], uid.as_str());
    assert_eq!(updated["metadata"]["resourceVersion"], "2");
    assert_eq!(updated["spec"]["job"]["parallelism"], 2);
    assert_eq!(
        updated["spec"]["podTemplate"],
        json!({"spec": {"containers": []}})
    );
    assert_eq!(
        updated["metadata"]["creationTimestamp"],
        created["metadata"]["creationTimestamp"]
    );

    let one = format!("{apps}/curl-example");
    let (status, got) = s.get(&one).await;
    assert_eq!(status, 200);
    assert_eq!(got, updated);

    let (status, suspended) = s.post(&format!("{one}/suspend"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(suspended["spec"]["job"]["state"], "suspended");
    let (status, started) = s
        .call(Method::POST, &format!("{one}/start"), None)
        .await
        .json::<Value>()
        .await
        .map(|v| (200, v))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(started["spec"]["job"]["state"], "running");

    let (status, list) = s.get(&apps).await;
    assert_eq!(status, 200);
    assert_eq!(list["metadata"]["size"], 1);
    assert_eq!(list["items"][0]["metadata"]["name"], "curl-example");

    let (status, instances) = s.get(&format!("{one}/instances")).await;
    assert_eq!(status, 200);
    assert_eq!(instances["items"], json!([]));
    assert_eq!(instances["metadata"]["size"], 0);
    let (status, body) = s
        .get(&format!(
            "{one}/instances/0b9f8a5e-0000-0000-0000-000000000000"
        ))
        .await;
    assert_eq!(status, 404);
    error_message(&body);
    let (status, events) = s
        .get("/cmf/api/v1alpha1/environments/test/applications/curl-example/events")
        .await;
    assert_eq!(status, 200);
    // Newest first: the update, then the creation.
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["APPLICATION_UPDATED", "APPLICATION_CREATED"]);
    common::assert_cmf_event_data(events["items"].as_array().unwrap());
    let event = &events["items"][0];
    assert_eq!(event["apiVersion"], "cmf.confluent.io/v1alpha1");
    assert_eq!(event["kind"], "FlinkApplicationEvent");
    assert_eq!(event["metadata"]["uid"], event["metadata"]["name"]);

    // 404s: unknown environment, unknown application.
    for path in [
        format!("{V1}/environments/nope/applications"),
        format!("{V1}/environments/nope/applications/curl-example"),
        format!("{apps}/missing"),
        format!("{apps}/missing/instances"),
        "/cmf/api/v1alpha1/environments/test/applications/missing/events".to_string(),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, 404, "{path}");
        error_message(&body);
    }
    let (status, body) = s
        .post(
            &format!("{V1}/environments/nope/applications"),
            application("abcd"),
        )
        .await;
    assert_eq!(status, 404);
    assert!(error_message(&body).contains("nope"));
    let (status, _) = s.post(&format!("{apps}/missing/start"), json!({})).await;
    assert_eq!(status, 404);

    let (status, _) = s.delete(&one).await;
    assert_eq!(status, 200);
    assert_eq!(s.get(&one).await.0, 404);
    assert_eq!(s.delete(&one).await.0, 404);
}

#[tokio::test]
async fn json_and_yaml_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, text) = s
        .raw(
            Method::POST,
            &format!("{V1}/environments"),
            "application/yaml",
            "name: yaml-env\nflinkApplicationDefaults:\n  spec:\n    flinkConfiguration:\n      a: b\n",
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let response = s
        .client
        .get(s.url(&format!("{V1}/environments/yaml-env")))
        .header("accept", "application/yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let yaml: Value = serde_yaml_ng::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(yaml["name"], "yaml-env");
    assert_eq!(
        yaml["flinkApplicationDefaults"]["spec"]["flinkConfiguration"]["a"],
        "b"
    );

    let response = s
        .client
        .get(s.url(&format!("{V1}/environments")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");

    // Errors follow the negotiated format too.
    let response = s
        .client
        .get(s.url(&format!("{V1}/environments/nope")))
        .header("accept", "application/yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let yaml: Value = serde_yaml_ng::from_str(&response.text().await.unwrap()).unwrap();
    assert!(yaml["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
}

#[tokio::test]
async fn secrets_are_write_only_and_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "test").await;
    const PASSWORD: &str = "hunter2-very-secret-value";
    let secret = json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Secret",
        "metadata": {"name": "kafka-creds", "labels": {"team": "a"}},
        "spec": {"data": {"username": "svc", "password": PASSWORD}}});
    let (status, created) = s.post(&format!("{V1}/secrets"), secret.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(created["metadata"]["name"], "kafka-creds");
    assert_eq!(created["metadata"]["labels"]["team"], "a");
    assert_eq!(created["status"]["environments"], json!([]));
    let v1 = created["status"]["version"].as_str().unwrap().to_owned();
    let (status, body) = s.post(&format!("{V1}/secrets"), secret.clone()).await;
    assert_eq!(status, 409);
    error_message(&body);

    // Mappings.
    let mappings = format!("{V1}/environments/test/secret-mappings");
    let mapping = json!({"apiVersion": "cmf.confluent.io/v1", "kind": "EnvironmentSecretMapping",
        "metadata": {"name": "kafka-conn"}, "spec": {"secretName": "kafka-creds"}});
    let (status, m) = s.post(&mappings, mapping.clone()).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["spec"]["secretName"], "kafka-creds");
    assert_eq!(s.post(&mappings, mapping.clone()).await.0, 409);
    let (status, body) = s
        .post(
            &format!("{V1}/environments/nope/secret-mappings"),
            mapping.clone(),
        )
        .await;
    assert_eq!(status, 404);
    error_message(&body);
    let (status, list) = s.get(&mappings).await;
    assert_eq!(status, 200);
    assert_eq!(list["metadata"]["size"], 1);
    assert_eq!(s.get(&format!("{mappings}/kafka-conn")).await.0, 200);
    assert_eq!(s.get(&format!("{mappings}/missing")).await.0, 404);

    let (_, env_body) = s.get(&format!("{V1}/environments/test")).await;
    assert_eq!(env_body["secrets"], json!({"kafka-conn": "kafka-creds"}));
    let (_, got) = s.get(&format!("{V1}/secrets/kafka-creds")).await;
    assert_eq!(got["status"]["environments"], json!(["test"]));

    // A mapped secret cannot be deleted out from under its environments.
    let (status, body) = s.delete(&format!("{V1}/secrets/kafka-creds")).await;
    assert_eq!(status, 409);
    assert!(error_message(&body).contains("kafka-conn"));

    // Update: new version.
    let mut changed = secret.clone();
    changed["spec"]["data"]["password"] = json!(format!("{PASSWORD}-2"));
    let (status, updated) = s.put(&format!("{V1}/secrets/kafka-creds"), changed).await;
    assert_eq!(status, 200);
    assert_ne!(updated["status"]["version"], v1.as_str());
    let mut missing = secret.clone();
    missing["metadata"]["name"] = json!("missing");
    assert_eq!(
        s.put(&format!("{V1}/secrets/missing"), missing).await.0,
        404
    );
    // The name in the body must match the path.
    assert_eq!(
        s.put(&format!("{V1}/secrets/missing"), secret.clone())
            .await
            .0,
        422
    );

    // Point the mapping at another secret with PUT.
    let other = json!({"metadata": {"name": "other-creds"}, "spec": {"data": {"k": "v"}}});
    assert_eq!(s.post(&format!("{V1}/secrets"), other).await.0, 200);
    let (status, m) = s
        .put(
            &format!("{mappings}/kafka-conn"),
            json!({"metadata": {"name": "kafka-conn"}, "spec": {"secretName": "other-creds"}}),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["spec"]["secretName"], "other-creds");
    let (_, got) = s.get(&format!("{V1}/secrets/kafka-creds")).await;
    assert_eq!(got["status"]["environments"], json!([]));

    // No response ever carried the data.
    for path in [
        format!("{V1}/secrets"),
        format!("{V1}/secrets/kafka-creds"),
        format!("{V1}/environments/test"),
        mappings.clone(),
    ] {
        let text = s
            .client
            .get(s.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(PASSWORD), "{path} leaked the secret: {text}");
        assert!(
            !text.contains("\"data\""),
            "{path} shows secret data: {text}"
        );
    }
    for body in [&created, &updated] {
        assert!(!body.to_string().contains(PASSWORD));
    }
    // Nor the database files, nor the log.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "{} holds the secret in clear",
                path.display()
            );
        }
    }
    assert!(!s.log().contains(PASSWORD));

    assert_eq!(s.delete(&format!("{mappings}/kafka-conn")).await.0, 204);
    assert_eq!(s.delete(&format!("{mappings}/kafka-conn")).await.0, 404);
    assert_eq!(s.delete(&format!("{V1}/secrets/kafka-creds")).await.0, 204);
    assert_eq!(s.delete(&format!("{V1}/secrets/kafka-creds")).await.0, 404);
    assert_eq!(s.get(&format!("{V1}/secrets/kafka-creds")).await.0, 404);
}

#[tokio::test]
async fn compute_pools_and_statements() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "test").await;
    let pools = format!("{V1}/environments/test/compute-pools");
    let pool = |name: &str| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
               "metadata": {"name": name},
               "spec": {"type": "DEDICATED", "clusterSpec": {"taskManager": {"resource": {"memory": "1g"}}}}})
    };
    let (status, created) = s.post(&pools, pool("pool-a")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["spec"]["type"], "DEDICATED");
    assert!(created["status"]["phase"].is_string());
    assert_eq!(s.post(&pools, pool("pool-a")).await.0, 409);
    assert_eq!(s.post(&pools, pool("pool-b")).await.0, 200);
    let (status, body) = s
        .post(
            &pools,
            json!({"metadata": {"name": "pool-c"}, "spec": {"type": "HUGE", "clusterSpec": {}}}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("spec.type"));
    let (status, list) = s.get(&pools).await;
    assert_eq!(status, 200);
    assert_eq!(list["metadata"]["size"], 2);
    assert_eq!(s.get(&format!("{pools}/pool-a")).await.0, 200);
    assert_eq!(s.get(&format!("{pools}/missing")).await.0, 404);
    assert_eq!(
        s.get(&format!("{V1}/environments/nope/compute-pools"))
            .await
            .0,
        404
    );

    let statements = format!("{V1}/environments/test/statements");
    let statement = |name: &str, pool: &str| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
               "metadata": {"name": name},
               "spec": {"statement": "SELECT 1", "computePoolName": pool,
                        "properties": {"sql.current-catalog": "default"}}})
    };
    let (status, created) = s.post(&statements, statement("stmt-one", "pool-a")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"]["phase"], "PENDING");
    assert_eq!(
        s.post(&statements, statement("stmt-one", "pool-a")).await.0,
        409
    );
    assert_eq!(
        s.post(&statements, statement("stmt-two", "pool-b")).await.0,
        200
    );
    let (status, body) = s
        .post(&statements, statement("stmt-three", "no-pool"))
        .await;
    assert_eq!(status, 404);
    assert!(error_message(&body).contains("no-pool"));
    let (status, body) = s
        .post(
            &statements,
            json!({"metadata": {"name": "stmt-four"}, "spec": {"computePoolName": "pool-a"}}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("spec.statement"));

    let (_, all) = s.get(&statements).await;
    assert_eq!(all["metadata"]["size"], 2);
    let (_, filtered) = s.get(&format!("{statements}?compute-pool=pool-b")).await;
    assert_eq!(filtered["metadata"]["size"], 1);
    assert_eq!(filtered["items"][0]["metadata"]["name"], "stmt-two");
    let (_, pending) = s.get(&format!("{statements}?phase=pending")).await;
    assert_eq!(pending["metadata"]["size"], 2);
    let (_, running) = s.get(&format!("{statements}?phase=running")).await;
    assert_eq!(running["metadata"]["size"], 0);
    let (status, body) = s.get(&format!("{statements}?phase=sleeping")).await;
    assert_eq!(status, 400);
    assert!(error_message(&body).contains("sleeping"));

    let one = format!("{statements}/stmt-one");
    let (status, body) = s.get(&format!("{one}/results")).await;
    assert_eq!(status, 400);
    error_message(&body);
    let (status, exceptions) = s.get(&format!("{one}/exceptions")).await;
    assert_eq!(status, 200);
    assert_eq!(exceptions["kind"], "StatementExceptionList");
    assert_eq!(exceptions["data"], json!([]));
    assert_eq!(s.get(&format!("{statements}/missing/results")).await.0, 404);

    let mut stopped = statement("stmt-one", "pool-a");
    stopped["spec"]["stopped"] = json!(true);
    let (status, updated) = s.put(&one, stopped).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["spec"]["stopped"], true);
    let mut rewritten = statement("stmt-one", "pool-a");
    rewritten["spec"]["statement"] = json!("SELECT 2");
    let (status, body) = s.put(&one, rewritten).await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("spec.statement"));
    assert_eq!(
        s.put(
            &format!("{statements}/missing"),
            statement("missing", "pool-a")
        )
        .await
        .0,
        404
    );

    // A pool in use cannot be deleted.
    let (status, body) = s.delete(&format!("{pools}/pool-a")).await;
    assert_eq!(status, 409);
    assert!(error_message(&body).contains("stmt-one"));

    assert_eq!(s.delete(&one).await.0, 204);
    assert_eq!(s.delete(&one).await.0, 404);
    assert_eq!(s.delete(&format!("{pools}/pool-a")).await.0, 204);
    assert_eq!(s.delete(&format!("{pools}/pool-a")).await.0, 404);
}

#[tokio::test]
async fn kafka_catalogs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let catalogs = format!("{V1}/catalogs/kafka");
    let catalog = json!({"apiVersion": "cmf.confluent.io/v1", "kind": "KafkaCatalog",
        "metadata": {"name": "kafka-cat"},
        "spec": {"srInstance": {"connectionConfig": {"schema.registry.url": "http://sr:8081"},
                                "connectionSecretId": "sr-conn"},
                 "kafkaClusters": [{"databaseName": "cluster-1",
                                    "connectionConfig": {"bootstrap.servers": "kafka:9092"},
                                    "connectionSecretId": "kafka-conn"}]}});
    let (status, created) = s.post(&catalogs, catalog.clone()).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["spec"], catalog["spec"]);
    assert_eq!(s.post(&catalogs, catalog.clone()).await.0, 409);
    let (status, body) = s
        .post(
            &catalogs,
            json!({"metadata": {"name": "bad-cat"}, "spec": {"kafkaClusters": []}}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("spec.srInstance"));
    let (_, list) = s.get(&catalogs).await;
    assert_eq!(list["metadata"]["size"], 1);
    assert_eq!(s.get(&format!("{catalogs}/kafka-cat")).await.0, 200);

    // PUT replaces the spec; a body naming another catalog, or a bad spec, is refused.
    let mut changed = catalog.clone();
    changed["spec"]["kafkaClusters"][0]["databaseName"] = json!("cluster-2");
    let (status, updated) = s
        .put(&format!("{catalogs}/kafka-cat"), changed.clone())
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["spec"], changed["spec"]);
    assert_eq!(
        s.get(&format!("{catalogs}/kafka-cat")).await.1["spec"],
        changed["spec"]
    );
    let mut renamed = changed.clone();
    renamed["metadata"]["name"] = json!("other-cat");
    let (status, body) = s.put(&format!("{catalogs}/kafka-cat"), renamed).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("metadata.name"), "{body}");
    let (status, body) = s
        .put(
            &format!("{catalogs}/kafka-cat"),
            json!({"metadata": {"name": "kafka-cat"}, "spec": {}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        s.put(
            &format!("{catalogs}/no-such-cat"),
            json!({"metadata": {"name": "no-such-cat"}, "spec": changed["spec"]})
        )
        .await
        .0,
        404
    );
    let (status, body) = s.put(&format!("{catalogs}/kafka-cat"), json!([1])).await;
    assert_eq!(status, 400, "{body}");

    // Databases of the catalog: the spec's example, paged lists, get, put, delete.
    let databases = format!("{catalogs}/kafka-cat/databases");
    let database = |name: &str| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "KafkaDatabase",
        "metadata": {"name": name, "labels": {"environment": "production"},
                     "annotations": {"description": "Development Kafka database"}},
        "spec": {"kafkaCluster": {"connectionConfig": {"bootstrap.servers": "kafka-dev.example.com:9092",
                                                       "security.protocol": "SASL_PLAINTEXT"},
                                  "connectionSecretId": "dev-secret-id"},
                 "ddlEnvironments": ["production"]}})
    };
    let (status, created) = s.post(&databases, database("dev-db")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["kind"], "KafkaDatabase");
    assert_eq!(created["metadata"]["name"], "dev-db");
    assert_eq!(created["metadata"]["labels"]["environment"], "production");
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"]["creationTimestamp"].is_string());
    assert_eq!(created["spec"], database("dev-db")["spec"]);
    assert_eq!(created["status"]["environmentsWithAccess"], json!([]));
    assert_eq!(s.post(&databases, database("dev-db")).await.0, 409);
    let (status, body) = s
        .post(
            &databases,
            json!({"metadata": {"name": "bad-db"}, "spec": {"kafkaCluster": {}}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_message(&body).contains("spec.kafkaCluster.connectionConfig"),
        "{body}"
    );
    let (status, body) = s
        .post(&databases, json!({"metadata": {"name": "bad-db"}, "spec": {"kafkaCluster": {"connectionConfig": {}}, "ddlEnvironments": "x"}}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_message(&body).contains("spec.ddlEnvironments"),
        "{body}"
    );
    assert_eq!(s.post(&databases, json!({"spec": {}})).await.0, 400);
    assert_eq!(
        s.post(
            &format!("{catalogs}/no-such-cat/databases"),
            database("dev-db")
        )
        .await
        .0,
        404
    );
    for name in ["db-b", "db-c"] {
        assert_eq!(s.post(&databases, database(name)).await.0, 200);
    }
    let (status, page) = s
        .get(&format!("{databases}?page=0&size=2&sort=name,desc"))
        .await;
    assert_eq!(status, 200, "{page}");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev-db", "db-c"], "{page}");
    assert_eq!(page["metadata"]["size"], 3, "{page}");
    let (_, page) = s
        .get(&format!("{databases}?page=1&size=2&sort=name,desc"))
        .await;
    assert_eq!(page["items"][0]["metadata"]["name"], "db-b", "{page}");
    // The environment that maps its secret has access.
    env(&s, "production").await;
    let (status, body) = s
        .post(&format!("{V1}/secrets"), json!({"metadata": {"name": "dev-secret"}, "spec": {"data": {"sasl.jaas.config": "x"}}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .post(
            &format!("{V1}/environments/production/secret-mappings"),
            json!({"metadata": {"name": "dev-secret-id"}, "spec": {"secretName": "dev-secret"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, got) = s.get(&format!("{databases}/dev-db")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["status"]["environmentsWithAccess"],
        json!(["production"])
    );
    assert_eq!(s.get(&format!("{databases}/no-such-db")).await.0, 404);
    let mut changed_db = database("dev-db");
    changed_db["spec"]["ddlEnvironments"] = json!([]);
    let (status, updated) = s
        .put(&format!("{databases}/dev-db"), changed_db.clone())
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        s.get(&format!("{databases}/dev-db")).await.1["spec"],
        changed_db["spec"]
    );
    assert_eq!(
        s.put(&format!("{databases}/no-such-db"), database("no-such-db"))
            .await
            .0,
        404
    );
    let (status, body) = s
        .put(&format!("{databases}/dev-db"), database("db-b"))
        .await;
    assert_eq!(status, 422, "{body}");
    // A catalog that holds databases is not deleted (409, as CMF documents).
    let (status, body) = s.delete(&format!("{catalogs}/kafka-cat")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        error_message(&body).contains("contains databases"),
        "{body}"
    );
    for name in ["dev-db", "db-b", "db-c"] {
        assert_eq!(s.delete(&format!("{databases}/{name}")).await.0, 204);
    }
    assert_eq!(s.delete(&format!("{databases}/dev-db")).await.0, 404);
    assert_eq!(s.get(&databases).await.1["metadata"]["size"], 0);
    assert_eq!(s.delete(&format!("{catalogs}/kafka-cat")).await.0, 204);
    assert_eq!(s.get(&databases).await.0, 404);
    assert_eq!(s.get(&format!("{catalogs}/kafka-cat")).await.0, 404);
    assert_eq!(s.delete(&format!("{catalogs}/kafka-cat")).await.0, 404);
}

#[tokio::test]
async fn paging_and_sorting_over_several_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "test").await;
    let apps = format!("{V1}/environments/test/applications");
    for i in 0..25 {
        let mut app = application(&format!("app-{i:02}"));
        app["spec"]["job"]["parallelism"] = json!(25 - i);
        assert_eq!(s.post(&apps, app).await.0, 201);
    }
    let mut seen = Vec::new();
    for page in 0..3 {
        let (status, body) = s
            .get(&format!("{apps}?page={page}&size=10&sort=name,asc"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["metadata"]["size"], 25);
        assert_eq!(body["pageable"]["page"], page);
        assert_eq!(body["pageable"]["size"], 10);
        assert_eq!(body["pageable"]["sort"]["sorted"], true);
        for item in body["items"].as_array().unwrap() {
            seen.push(item["metadata"]["name"].as_str().unwrap().to_owned());
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("app-{i:02}")).collect();
    assert_eq!(seen, expected);
    let (_, past) = s.get(&format!("{apps}?page=3&size=10")).await;
    assert_eq!(past["items"], json!([]));
    assert_eq!(past["metadata"]["size"], 25);

    let (_, desc) = s.get(&format!("{apps}?size=3&sort=name,desc")).await;
    let names: Vec<&str> = desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app-24", "app-23", "app-22"]);

    // Sort by a spec field, then by name; several sort parameters.
    let (_, by_parallelism) = s
        .get(&format!(
            "{apps}?size=2&sort=spec.job.parallelism,asc&sort=name"
        ))
        .await;
    let names: Vec<&str> = by_parallelism["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app-24", "app-23"]);

    let (_, by_time) = s
        .get(&format!(
            "{apps}?size=1&sort=metadata.creationTimestamp,desc"
        ))
        .await;
    assert_eq!(by_time["items"][0]["metadata"]["name"], "app-24");
}

#[tokio::test]
async fn etags_and_not_modified() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "test").await;
    for path in [
        format!("{V1}/environments"),
        format!("{V1}/environments/test"),
    ] {
        let first = s.client.get(s.url(&path)).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        let again = s
            .client
            .get(s.url(&path))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
        assert!(again.text().await.unwrap().is_empty());
        let other = s
            .client
            .get(s.url(&path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
    }
    // A change gives a new tag, so the old one no longer matches.
    let path = format!("{V1}/environments/test");
    let tag = s.client.get(s.url(&path)).send().await.unwrap().headers()["etag"].clone();
    s.post(
        &format!("{V1}/environments"),
        json!({"name": "test", "computePoolDefaults": {"a": 1}}),
    )
    .await;
    let after = s
        .client
        .get(s.url(&path))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn system_resource_and_license_information() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, info) = s.get(&format!("{V1}/system-information")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["status"]["version"], env!("CARGO_PKG_VERSION"));
    let revision = info["status"]["revision"].as_str().unwrap();
    assert!(
        revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "{info}"
    );
    assert!(
        info["status"]["buildTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{info}"
    );

    let (status, license) = s.get(&format!("{V1}/c3/license")).await;
    assert_eq!(status, 200, "{license}");
    assert_eq!(license["kind"], "C3LicenseInformation");
    assert_eq!(license["status"]["status"], "INVALID");
    assert!(license["status"].get("expiration").is_none(), "{license}");

    let (status, empty) = s.get(&format!("{V1}/resource-information")).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["status"]["resources"]["environments"], 0);
    assert_eq!(
        empty["status"]["resources"]["kubernetesClusters"],
        json!({"CONNECTED": 1})
    );
    assert_eq!(empty["status"]["resourceSummary"]["memory"], 0);
    env(&s, "devel").await;
    let apps = format!("{V1}/environments/devel/applications");
    assert_eq!(s.post(&apps, application("app-one")).await.0, 201);
    let mut suspended = application("app-two");
    suspended["spec"]["job"]["state"] = json!("suspended");
    assert_eq!(s.post(&apps, suspended).await.0, 201);
    let (status, body) = s
        .post(
            &format!("{V1}/environments/devel/compute-pools"),
            json!({"metadata": {"name": "pool-one"},
            "spec": {"type": "SHARED", "clusterSpec": {
                "jobManager": {"resource": {"memory": "768m", "cpu": 0.5}},
                "taskManager": {"resource": {"memory": "1024m", "cpu": 1}}}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, info) = s.get(&format!("{V1}/resource-information")).await;
    let resources = &info["status"]["resources"];
    assert_eq!(resources["environments"], 1, "{info}");
    assert_eq!(resources["applications"], json!({"CREATED": 2}), "{info}");
    assert_eq!(resources["computePools"], 1, "{info}");
    assert_eq!(resources["statements"], json!({}), "{info}");
    assert_eq!(resources["secrets"], 0, "{info}");
    assert_eq!(resources["catalogs"], 0, "{info}");
    assert_eq!(resources["savepoints"], 0, "{info}");
    assert_eq!(resources["detachedSavepoints"], 0, "{info}");
    // The running application (1024m + 3 TaskManagers of 1024m, one CPU
    // each) and the pool (768m + 1024m, 1.5 CPU); the suspended one takes none.
    let summary = &info["status"]["resourceSummary"];
    assert_eq!(
        summary["memory"],
        (4 * 1024 + 1792) * 1024 * 1024_u64,
        "{info}"
    );
    assert_eq!(summary["cpu"], 5.5, "{info}");
}

#[tokio::test]
async fn unknown_routes_methods_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, body) = s.get("/hello").await;
    assert_eq!(status, 404);
    assert_eq!(error_message(&body), "Resource not found: [hello]");
    let (status, body) = s.get("/").await;
    assert_eq!(status, 404);
    assert_eq!(error_message(&body), "Resource not found: []");
    let (status, body) = s.get(&format!("{V1}/nothing/here")).await;
    assert_eq!(status, 404);
    assert_eq!(
        error_message(&body),
        "Resource not found: [cmf/api/v1/nothing/here]"
    );
    let (status, body) = s
        .json(Method::PATCH, &format!("{V1}/environments"), None)
        .await;
    assert_eq!(status, 405);
    error_message(&body);
    let (status, body) = s.delete(&format!("{V1}/secrets")).await;
    assert_eq!(status, 405);
    error_message(&body);

    assert_eq!(s.get("/healthz").await.0, 200);
    assert_eq!(s.get("/readyz").await.0, 200);
    let (_, metrics) = s.text("/metrics").await;
    assert!(
        metrics
            .contains(r#"drey_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/cmf/api/v1/environments",status="405""#),
        "{metrics}"
    );
    assert!(
        metrics.contains("drey_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn savepoint_resources() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    env(&s, "test").await;
    let apps = format!("{V1}/environments/test/applications");
    assert_eq!(s.post(&apps, application("with-savepoints")).await.0, 201);
    let savepoints = format!("{apps}/with-savepoints/savepoints");
    let body = json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Savepoint",
                      "metadata": {"name": "before-upgrade"}, "spec": {"formatType": "CANONICAL"}});
    let (status, created) = s.post(&savepoints, body.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "Savepoint");
    assert_eq!(created["status"]["state"], "PENDING");
    assert!(created["status"]["triggerTimestamp"].is_string());
    assert_eq!(s.post(&savepoints, body.clone()).await.0, 409);
    let (status, bad) = s
        .post(
            &savepoints,
            json!({"metadata": {"name": "bad-format"}, "spec": {"formatType": "ZIP"}}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&bad).contains("spec.formatType"));
    assert_eq!(
        s.post(&format!("{apps}/missing/savepoints"), body.clone())
            .await
            .0,
        404
    );
    let (status, bad) = s
        .post(
            &savepoints,
            json!({"metadata": {"name": "Bad_Name"}, "spec": {}}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&bad).contains("metadata.name"));
    let (status, bad) = s.post(&savepoints, json!({"spec": {}})).await;
    assert_eq!(status, 400);
    assert!(error_message(&bad).contains("metadata is required"));

    let (_, list) = s.get(&savepoints).await;
    assert_eq!(list["metadata"]["size"], 1);
    assert_eq!(s.get(&format!("{savepoints}/before-upgrade")).await.0, 200);
    assert_eq!(s.get(&format!("{savepoints}/missing")).await.0, 404);

    // Detach: it leaves the application and becomes a detached savepoint.
    let (status, detached) = s
        .post(&format!("{savepoints}/before-upgrade/detach"), json!({}))
        .await;
    assert_eq!(status, 200, "{detached}");
    assert_eq!(detached["metadata"]["name"], "before-upgrade");
    assert_eq!(s.get(&format!("{savepoints}/before-upgrade")).await.0, 404);
    let (_, list) = s.get(&format!("{V1}/detached-savepoints")).await;
    assert_eq!(list["metadata"]["size"], 1);
    assert_eq!(
        s.post(&format!("{savepoints}/missing/detach"), json!({}))
            .await
            .0,
        404
    );

    // A detached savepoint registered by path.
    let (status, external) = s
        .post(
            &format!("{V1}/detached-savepoints"),
            json!({"metadata": {"name": "external-sp"}, "spec": {"path": "file:///savepoints/sp-1"}}),
        )
        .await;
    assert_eq!(status, 201, "{external}");
    assert_eq!(external["status"]["state"], "COMPLETED");
    assert_eq!(external["status"]["path"], "file:///savepoints/sp-1");
    let (status, body) = s
        .post(
            &format!("{V1}/detached-savepoints"),
            json!({"metadata": {"name": "no-path"}, "spec": {}}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(error_message(&body).contains("spec.path"));
    assert_eq!(
        s.get(&format!("{V1}/detached-savepoints/external-sp"))
            .await
            .0,
        200
    );
    assert_eq!(
        s.delete(&format!("{V1}/detached-savepoints/external-sp"))
            .await
            .0,
        204
    );
    assert_eq!(
        s.delete(&format!("{V1}/detached-savepoints/external-sp"))
            .await
            .0,
        404
    );

    // An application's savepoints go with it; detached ones stay.
    assert_eq!(
        s.post(&savepoints, json!({"metadata": {"name": "second"}}))
            .await
            .0,
        201
    );
    assert_eq!(s.delete(&format!("{apps}/with-savepoints")).await.0, 200);
    assert_eq!(s.post(&apps, application("with-savepoints")).await.0, 201);
    let (_, list) = s.get(&savepoints).await;
    assert_eq!(list["metadata"]["size"], 0);
    assert_eq!(
        s.get(&format!("{V1}/detached-savepoints/before-upgrade"))
            .await
            .0,
        200
    );
}
