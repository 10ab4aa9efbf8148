//! The CLI, run as the real binary against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, Server};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn drey(s: &Server, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(args)
        .env("DREY_URL", &s.base)
        .env_remove("DREY_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn apply_list_get_start_suspend_delete_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let app = serde_yaml_ng::to_string(&application("cli-app")).unwrap();
    let docs = format!("kind: Environment\nname: cli-env\n---\n{app}");
    let file = dir.path().join("docs.yaml");
    std::fs::write(&file, &docs).unwrap();

    // apply: several documents, idempotent, from a file and from stdin.
    for _ in 0..2 {
        let o = drey(
            &s,
            &["apply", "-f", file.to_str().unwrap(), "--env", "cli-env"],
            None,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("cli-env applied") && stdout(&o).contains("cli-app applied"));
    }
    let o = drey(&s, &["apply", "-f", "-", "--env", "cli-env"], Some(&app));
    assert!(o.status.success(), "{}", stderr(&o));

    // list in every format
    let o = drey(&s, &["app", "list", "--env", "cli-env"], None);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("NAME") && stdout(&o).contains("cli-app"),
        "{}",
        stdout(&o)
    );
    let o = drey(&s, &["app", "list", "--env", "cli-env", "-o", "json"], None);
    let items: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(items[0]["metadata"]["name"], "cli-app");
    let o = drey(&s, &["app", "list", "--env", "cli-env", "-o", "yaml"], None);
    let items: Value = serde_yaml_ng::from_str(&stdout(&o)).unwrap();
    assert_eq!(items[0]["spec"]["job"]["parallelism"], 3);
    let o = drey(&s, &["env", "list", "-o", "json"], None);
    let envs: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(envs[0]["name"], "cli-env");

    // get, describe, suspend, start
    let o = drey(
        &s,
        &["app", "get", "cli-app", "-e", "cli-env", "-o", "json"],
        None,
    );
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(got["kind"], "FlinkApplication");
    let o = drey(&s, &["app", "describe", "cli-app", "-e", "cli-env"], None);
    assert!(
        stdout(&o).contains("events:") && stdout(&o).contains("APPLICATION_CREATED"),
        "{}",
        stdout(&o)
    );
    let o = drey(
        &s,
        &["app", "suspend", "cli-app", "-e", "cli-env", "-o", "json"],
        None,
    );
    let suspended: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(suspended["spec"]["job"]["state"], "suspended");
    let o = drey(&s, &["app", "start", "cli-app", "-e", "cli-env"], None);
    assert!(o.status.success());
    assert!(stdout(&o).contains("running"));

    // Exit codes: 3 not found (with the server's message), 2 usage, 4 timeout, 1 failure.
    let o = drey(&s, &["app", "get", "missing", "-e", "cli-env"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("FlinkApplication 'missing' not found"),
        "{}",
        stderr(&o)
    );
    let o = drey(&s, &["app", "get"], None);
    assert_eq!(o.status.code(), Some(2));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: FlinkApplication\nmetadata: [unclosed\n").unwrap();
    let o = drey(
        &s,
        &["apply", "-f", bad.to_str().unwrap(), "--env", "cli-env"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line"),
        "the YAML error names the line: {}",
        stderr(&o)
    );
    let mut invalid = application("cli-app");
    invalid["spec"]["job"]["upgradeMode"] = "sideways".into();
    let o = drey(
        &s,
        &["apply", "-f", "-", "--env", "cli-env"],
        Some(&invalid.to_string()),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("spec.job.upgradeMode"),
        "{}",
        stderr(&o)
    );
    // The API-only server never deploys it: waiting runs out of time.
    let o = drey(
        &s,
        &[
            "app",
            "wait",
            "cli-app",
            "-e",
            "cli-env",
            "--for",
            "RUNNING",
            "--timeout",
            "1",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = drey(&s, &["env", "delete", "cli-env"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cli-app"),
        "the server's message: {}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["env", "list", "--url", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));

    // Shell completions; logs of an application without a cluster: 503 -> exit 1.
    let o = drey(&s, &["completion", "bash"], None);
    assert!(o.status.success() && stdout(&o).contains("_drey"));
    let o = drey(&s, &["app", "logs", "cli-app", "-e", "cli-env"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no running Flink cluster"),
        "{}",
        stderr(&o)
    );

    // Pools, statements, secrets, savepoints.
    let (code, _) = s
        .post(
            "/cmf/api/v1/environments/cli-env/compute-pools",
            serde_json::json!({"metadata": {"name": "cli-pool"}, "spec": {"type": "DEDICATED", "clusterSpec": {}}}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = s
        .post(
            "/cmf/api/v1/secrets",
            serde_json::json!({"metadata": {"name": "cli-secret"}, "spec": {"data": {"pw": "cli-hunter2"}}}),
        )
        .await;
    assert_eq!(code, 200);
    let o = drey(&s, &["pool", "list", "-e", "cli-env"], None);
    assert!(
        stdout(&o).contains("cli-pool") && stdout(&o).contains("DEDICATED"),
        "{}",
        stdout(&o)
    );
    let o = drey(&s, &["secret", "get", "cli-secret", "-o", "json"], None);
    assert!(o.status.success() && !stdout(&o).contains("cli-hunter2"));
    let o = drey(&s, &["statement", "list"], None);
    assert_eq!(o.status.code(), Some(2), "statements need --env");
    let o = drey(
        &s,
        &[
            "savepoint",
            "list",
            "-e",
            "cli-env",
            "--app",
            "cli-app",
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
        serde_json::json!([])
    );
    let o = drey(&s, &["pool", "delete", "cli-pool", "-e", "cli-env"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = drey(&s, &["secret", "delete", "cli-secret"], None);
    assert!(o.status.success());
    let o = drey(&s, &["secret", "get", "cli-secret"], None);
    assert_eq!(o.status.code(), Some(3));

    // delete
    let o = drey(&s, &["app", "delete", "cli-app", "-e", "cli-env"], None);
    assert!(o.status.success());
    let o = drey(&s, &["app", "get", "cli-app", "-e", "cli-env"], None);
    assert_eq!(o.status.code(), Some(3));
    let o = drey(&s, &["env", "delete", "cli-env"], None);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[tokio::test]
async fn apply_pools_statements_secrets_and_mappings_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let docs = "\
kind: Environment
name: kinds-env
---
apiVersion: cmf.confluent.io/v1
kind: ComputePool
metadata:
  name: kinds-pool
spec:
  type: DEDICATED
  clusterSpec:
    taskManager:
      resource:
        memory: 1024m
---
apiVersion: cmf.confluent.io/v1
kind: Statement
metadata:
  name: kinds-stmt
spec:
  statement: SELECT 1
  computePoolName: kinds-pool
  parallelism: 1
---
apiVersion: cmf.confluent.io/v1
kind: Secret
metadata:
  name: kinds-secret
spec:
  data:
    password: kinds-hunter2
---
apiVersion: cmf.confluent.io/v1
kind: EnvironmentSecretMapping
metadata:
  name: kinds-mapping
spec:
  secretName: kinds-secret
";
    let file = dir.path().join("kinds.yaml");
    std::fs::write(&file, docs).unwrap();
    let apply = |extra: &[&str]| {
        let mut args = vec!["apply", "-f", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        drey(&s, &args, None)
    };

    // Env-scoped kinds need --env.
    let o = apply(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ComputePool documents need --env"),
        "{}",
        stderr(&o)
    );

    // Created, then applied again: pools cannot change, so unchanged; the rest updated.
    let o = apply(&["--env", "kinds-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for line in [
        "kinds-env applied",
        "kinds-pool applied",
        "kinds-stmt applied",
        "kinds-secret applied",
        "kinds-mapping applied",
    ] {
        assert!(stdout(&o).contains(line), "{line}: {}", stdout(&o));
    }
    let (_, secret) = s.get("/cmf/api/v1/secrets/kinds-secret").await;
    let version = secret["status"]["version"].clone();
    let o = apply(&["--env", "kinds-env", "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("kinds-hunter2"),
        "secret data is never printed"
    );
    let o = apply(&["--env", "kinds-env"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("kinds-pool unchanged"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("kinds-stmt applied"), "{}", stdout(&o));

    let env = "/cmf/api/v1/environments/kinds-env";
    let (code, pool) = s.get(&format!("{env}/compute-pools/kinds-pool")).await;
    assert_eq!(code, 200);
    assert_eq!(pool["spec"]["type"], "DEDICATED");
    let (code, stmt) = s.get(&format!("{env}/statements/kinds-stmt")).await;
    assert_eq!(code, 200);
    assert_eq!(stmt["spec"]["computePoolName"], "kinds-pool");
    let (code, mapping) = s.get(&format!("{env}/secret-mappings/kinds-mapping")).await;
    assert_eq!(code, 200);
    assert_eq!(mapping["spec"]["secretName"], "kinds-secret");
    let (_, secret) = s.get("/cmf/api/v1/secrets/kinds-secret").await;
    assert_ne!(
        secret["status"]["version"], version,
        "the secret was updated"
    );
    assert_eq!(
        secret["status"]["environments"],
        serde_json::json!(["kinds-env"])
    );
    let (_, statements) = s.get(&format!("{env}/statements")).await;
    assert_eq!(statements["metadata"]["size"], 1, "no duplicate");

    // An update of what may change: the statement's parallelism.
    let changed = docs.replace("parallelism: 1", "parallelism: 2");
    let o = drey(&s, &["apply", "-f", "-", "-e", "kinds-env"], Some(&changed));
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, stmt) = s.get(&format!("{env}/statements/kinds-stmt")).await;
    assert_eq!(stmt["spec"]["parallelism"], 2);

    // What may not: the SQL text (422, exit 2) and the spec of a pool a
    // statement uses (exit 1, with the server's reason).
    let o = drey(
        &s,
        &["apply", "-f", "-", "-e", "kinds-env"],
        Some(&docs.replace("SELECT 1", "SELECT 2")),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("spec.statement"), "{}", stderr(&o));
    assert!(stderr(&o).contains("document 3"), "{}", stderr(&o));
    let o = drey(
        &s,
        &["apply", "-f", "-", "-e", "kinds-env"],
        Some(&docs.replace("memory: 1024m", "memory: 2048m")),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("kinds-pool"), "{}", stderr(&o));
    let (_, pool) = s.get(&format!("{env}/compute-pools/kinds-pool")).await;
    assert_eq!(
        pool["spec"]["clusterSpec"]["taskManager"]["resource"]["memory"],
        "1024m"
    );

    // Kinds apply cannot handle are a usage error.
    let o = drey(
        &s,
        &["apply", "-f", "-"],
        Some("kind: Gadget\nmetadata:\n  name: nope\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot apply kind"), "{}", stderr(&o));
}

#[tokio::test]
async fn app_savepoint_creates_a_savepoint_resource() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let app = serde_yaml_ng::to_string(&application("sp-app")).unwrap();
    let docs = format!("kind: Environment\nname: sp-env\n---\n{app}");
    let o = drey(&s, &["apply", "-f", "-", "-e", "sp-env"], Some(&docs));
    assert!(o.status.success(), "{}", stderr(&o));

    let o = drey(
        &s,
        &[
            "app",
            "savepoint",
            "sp-app",
            "-e",
            "sp-env",
            "--name",
            "sp-one",
            "-o",
            "json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sp: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(sp["kind"], "Savepoint");
    assert_eq!(sp["status"]["state"], "PENDING");
    let (code, _) = s
        .get("/cmf/api/v1/environments/sp-env/applications/sp-app/savepoints/sp-one")
        .await;
    assert_eq!(code, 200);
    // The same name again: the server's 409, exit 1.
    let o = drey(
        &s,
        &[
            "app",
            "savepoint",
            "sp-app",
            "-e",
            "sp-env",
            "--name",
            "sp-one",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    // A generated name; the API-only server never takes it: --wait times out (exit 4).
    let o = drey(
        &s,
        &[
            "app",
            "savepoint",
            "sp-app",
            "-e",
            "sp-env",
            "--wait",
            "--timeout",
            "1",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("sp-app-"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains('\r'),
        "no spinner when stderr is not a terminal: {:?}",
        stderr(&o)
    );
    let (_, list) = s
        .get("/cmf/api/v1/environments/sp-env/applications/sp-app/savepoints")
        .await;
    assert_eq!(list["metadata"]["size"], 2);
    // An application that does not exist: exit 3.
    let o = drey(&s, &["app", "savepoint", "nope-app", "-e", "sp-env"], None);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[tokio::test]
async fn catalog_and_database_commands() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let catalog = "apiVersion: cmf.confluent.io/v1
kind: KafkaCatalog
metadata:
  name: kafka-cat
spec:
  srInstance:
    connectionConfig:
      schema.registry.url: http://sr:8081
    connectionSecretId: sr-conn
  kafkaClusters:
    - databaseName: cluster-1
      connectionConfig:
        bootstrap.servers: kafka:9092
      connectionSecretId: kafka-conn
";
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog).unwrap();
    let path = file.to_str().unwrap();

    // create from a file, list, get in every format
    let o = drey(&s, &["catalog", "create", "-f", path], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("kafka-cat") && stdout(&o).contains("http://sr:8081"),
        "{}",
        stdout(&o)
    );
    let o = drey(&s, &["catalog", "create", "-f", path], None);
    assert_eq!(o.status.code(), Some(1), "exists: {}", stderr(&o));
    let o = drey(&s, &["catalog", "list", "-o", "json"], None);
    let listed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(listed[0]["metadata"]["name"], "kafka-cat");
    assert_eq!(listed[0]["kind"], "KafkaCatalog");
    let o = drey(&s, &["catalog", "get", "kafka-cat", "-o", "yaml"], None);
    let got: Value = serde_yaml_ng::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        got["spec"]["kafkaClusters"][0]["connectionConfig"]["bootstrap.servers"],
        "kafka:9092"
    );
    // update from the changed file (stdin)
    let changed = catalog.replace("http://sr:8081", "http://sr-2:8081");
    let o = drey(&s, &["catalog", "update", "-f", "-"], Some(&changed));
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, stored) = s.get("/cmf/api/v1/catalogs/kafka/kafka-cat").await;
    assert_eq!(
        stored["spec"]["srInstance"]["connectionConfig"]["schema.registry.url"],
        "http://sr-2:8081"
    );

    // databases of the catalog
    let database = "apiVersion: cmf.confluent.io/v1
kind: KafkaDatabase
metadata:
  name: dev-db
spec:
  kafkaCluster:
    connectionConfig:
      bootstrap.servers: kafka-dev.example.com:9092
    connectionSecretId: dev-secret-id
  ddlEnvironments:
    - production
";
    let o = drey(
        &s,
        &[
            "catalog",
            "database",
            "create",
            "-f",
            "-",
            "--catalog",
            "kafka-cat",
        ],
        Some(database),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("dev-db") && stdout(&o).contains("kafka-dev.example.com:9092"),
        "{}",
        stdout(&o)
    );
    let o = drey(
        &s,
        &[
            "catalog",
            "database",
            "list",
            "-c",
            "kafka-cat",
            "-o",
            "json",
        ],
        None,
    );
    let listed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(listed[0]["metadata"]["name"], "dev-db");
    assert_eq!(listed[0]["kind"], "KafkaDatabase");
    let changed = database.replace("- production", "- staging");
    let o = drey(
        &s,
        &[
            "catalog",
            "database",
            "update",
            "-f",
            "-",
            "-c",
            "kafka-cat",
        ],
        Some(&changed),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = drey(
        &s,
        &[
            "catalog",
            "database",
            "get",
            "dev-db",
            "-c",
            "kafka-cat",
            "-o",
            "json",
        ],
        None,
    );
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        got["spec"]["ddlEnvironments"],
        serde_json::json!(["staging"])
    );

    // Bad input and missing objects: the server's message, exit 2 and 3.
    let o = drey(
        &s,
        &[
            "catalog",
            "database",
            "create",
            "-f",
            "-",
            "-c",
            "kafka-cat",
        ],
        Some("metadata:\n  name: bad-db\nspec:\n  kafkaCluster: {}\n"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("spec.kafkaCluster.connectionConfig"),
        "{}",
        stderr(&o)
    );
    let o = drey(
        &s,
        &[
            "catalog",
            "database",
            "create",
            "-f",
            "-",
            "-c",
            "kafka-cat",
        ],
        Some("spec: {}\n"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("metadata.name"), "{}", stderr(&o));
    let o = drey(
        &s,
        &["catalog", "database", "list", "-c", "no-such-cat"],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = drey(&s, &["catalog", "get", "no-such-cat"], None);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    // delete: the database, then the catalog
    let o = drey(
        &s,
        &["catalog", "database", "delete", "dev-db", "-c", "kafka-cat"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        s.get("/cmf/api/v1/catalogs/kafka/kafka-cat/databases/dev-db")
            .await
            .0,
        404
    );
    let o = drey(&s, &["catalog", "delete", "kafka-cat"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = drey(&s, &["catalog", "list", "-o", "json"], None);
    assert_eq!(stdout(&o).trim(), "[]");
}
