//! Compute pools and SQL statements end to end: a real drey server running
//! statements through drey's SQL Gateway service (built from sql-gateway/)
//! on real Flink 2.3 clusters. scripts/test.sh builds and installs all of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{flink_jobs, flink_processes, start, KillClusters};
use common::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ENV: &str = "/cmf/api/v1/environments/sql-env";

fn statement(name: &str, pool: &str, sql: &str) -> Value {
    json!({
        "apiVersion": "cmf.confluent.io/v1",
        "kind": "Statement",
        "metadata": {"name": name},
        "spec": {"statement": sql, "computePoolName": pool, "parallelism": 1}
    })
}

fn pool_doc(name: &str, kind: &str) -> Value {
    json!({
        "apiVersion": "cmf.confluent.io/v1",
        "kind": "ComputePool",
        "metadata": {"name": name},
        "spec": {
            "type": kind,
            "clusterSpec": {
                "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "4"},
                "taskManager": {"resource": {"memory": "1024m"}, "replicas": 1},
                "jobManager": {"resource": {"memory": "768m"}}
            }
        }
    })
}

async fn wait_until(
    s: &Server,
    path: &str,
    what: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (code, body) = s.get(path).await;
        if code == 200 && check(&body) {
            return body;
        }
        if Instant::now() > deadline {
            panic!(
                "{path}: not {what} after {limit:?}: {code} {body:#}\nlog:\n{}",
                s.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn wait_phase(s: &Server, name: &str, phase: &str) -> Value {
    wait_until(
        s,
        &format!("{ENV}/statements/{name}"),
        phase,
        Duration::from_secs(120),
        |b| b["status"]["phase"] == phase,
    )
    .await
}

/// Creates a statement and returns the create response.
async fn create(s: &Server, name: &str, pool: &str, sql: &str) -> Value {
    let (code, body) = s
        .post(&format!("{ENV}/statements"), statement(name, pool, sql))
        .await;
    assert_eq!(code, 200, "{body}");
    body
}

/// Reads result pages until `enough` holds for the rows so far or the token
/// runs out; returns the rows and how many pages had rows.
async fn read_results(
    s: &Server,
    name: &str,
    limit: Duration,
    enough: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, usize, bool) {
    let deadline = Instant::now() + limit;
    let mut token = String::new();
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let path = if token.is_empty() {
            format!("{ENV}/statements/{name}/results")
        } else {
            format!("{ENV}/statements/{name}/results?page-token={token}")
        };
        let (code, page) = s.get(&path).await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(page["kind"], "StatementResult");
        let data = page["results"]["data"].as_array().unwrap();
        if !data.is_empty() {
            pages += 1;
        }
        rows.extend(data.iter().cloned());
        let next = page["metadata"]["annotations"]["nextPageToken"]
            .as_str()
            .unwrap()
            .to_owned();
        if next.is_empty() {
            return (rows, pages, true);
        }
        if enough(&rows) {
            return (rows, pages, false);
        }
        assert!(Instant::now() < deadline, "results of {name}: {rows:?}");
        if next == token {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        token = next;
    }
}

fn table_names(statement: &Value) -> Vec<String> {
    statement["result"]["results"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"][0].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statements_run_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let s = start(&data);
    let (code, body) = s
        .post(
            "/cmf/api/v1/environments",
            json!({"name": "sql-env", "statementDefaults": {
                "detached": {"flinkConfiguration": {"execution.checkpointing.interval": "2s"}}}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s
        .post(
            &format!("{ENV}/compute-pools"),
            pool_doc("shared", "SHARED"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let pool = wait_until(
        &s,
        &format!("{ENV}/compute-pools/shared"),
        "RUNNING",
        Duration::from_secs(120),
        |b| b["status"]["phase"] == "RUNNING",
    )
    .await;
    let rest_url = pool["status"]["clusterInfo"]["restUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    // The pool's Flink Web UI and REST API through drey, behind its token.
    let (code, overview) = s
        .get(&format!("{ENV}/compute-pools/shared/flink-web-ui/overview"))
        .await;
    assert_eq!(code, 200, "{overview}");
    assert_eq!(overview["taskmanagers"], 1);
    let anonymous = s
        .client
        .get(s.url(&format!("{ENV}/compute-pools/shared/flink-web-ui/overview")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A SQL error is known at once: FAILED in the create response.
    let bad = create(&s, "bad-sql", "shared", "SELEC 1").await;
    assert_eq!(bad["status"]["phase"], "FAILED", "{bad}");
    let detail = bad["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("SQL parse failed") || detail.contains("Encountered"),
        "{detail}"
    );
    let (_, exceptions) = s.get(&format!("{ENV}/statements/bad-sql/exceptions")).await;
    assert_eq!(exceptions["kind"], "StatementExceptionList");
    assert_eq!(exceptions["data"][0]["message"], detail);
    let unknown = create(&s, "unknown-table", "shared", "SELECT * FROM nope").await;
    assert_eq!(unknown["status"]["phase"], "FAILED", "{unknown}");
    assert!(unknown["status"]["detail"]
        .as_str()
        .unwrap()
        .contains("nope"));

    // Paths a statement names are confined to its environment's artifacts
    // and the shared dirs: a jar from anywhere else would run in drey's SQL
    // gateway, a filesystem table could read or write anywhere.
    let shared = dir.path().join("tables");
    for (name, sql) in [
        (
            "foreign-jar",
            "CREATE FUNCTION f AS 'x.Y' USING JAR 'file:///etc/ssl/nothing.jar'".to_owned(),
        ),
        (
            "sneaky-jar",
            format!(
                "CREATE TEMPORARY FUNCTION g AS 'x.Y' USING JAR '{}/../../etc/x.jar'",
                shared.display()
            ),
        ),
        ("add-jar", "ADD JAR '/root/secret.jar'".to_owned()),
        (
            "foreign-table",
            "CREATE TABLE leak (line STRING) WITH ('connector' = 'filesystem', \
             'path' = 'file:///etc', 'format' = 'raw')"
                .to_owned(),
        ),
        (
            "foreign-ctas",
            format!(
                "CREATE TABLE copy WITH ('connector' = 'filesystem', 'path' = '{}', \
                 'format' = 'csv') AS SELECT 1 AS n",
                data.join("keys").display()
            ),
        ),
    ] {
        let mut refused = create(&s, name, "shared", &sql).await;
        if refused["status"]["phase"] != "FAILED" {
            // A statement that runs a job (CREATE TABLE AS) is checked when it runs.
            refused = wait_phase(&s, name, "FAILED").await;
        }
        assert!(
            refused["status"]["detail"]
                .as_str()
                .unwrap()
                .contains("is outside what this environment may use"),
            "{name}: {refused}"
        );
    }
    // Per-query options would bypass it, so they stay off.
    let mut hinted = statement("hinted", "shared", "SELECT 1");
    hinted["spec"]["properties"] = json!({"table.dynamic-table-options.enabled": "true"});
    let (code, body) = s.post(&format!("{ENV}/statements"), hinted).await;
    assert_eq!(code, 422, "{body}");
    assert!(body
        .to_string()
        .contains("table.dynamic-table-options.enabled"));
    // Inside the shared dirs a filesystem table is fine.
    std::fs::create_dir_all(&shared).unwrap();
    let allowed = create(
        &s,
        "shared-table",
        "shared",
        &format!(
            "CREATE TABLE lines (line STRING) WITH ('connector' = 'filesystem', \
             'path' = 'file://{}', 'format' = 'raw')",
            shared.display()
        ),
    )
    .await;
    assert_ne!(allowed["status"]["phase"], "FAILED", "{allowed}");

    let (code, _) = s.get(&format!("{ENV}/statements/bad-sql/results")).await;
    assert_eq!(code, 400, "a failed statement has no results");
    let (code, body) = s
        .get(&format!("{ENV}/statements/bad-sql/flink-web-ui/overview"))
        .await;
    assert_eq!(code, 503, "no cluster runs it: {body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no running Flink cluster"));
    let (code, _) = s
        .get(&format!(
            "{ENV}/statements/no-such-statement/flink-web-ui/overview"
        ))
        .await;
    assert_eq!(code, 404);

    // Kafka catalogs resolve through the environment's secret mappings.
    kafka_catalog_resolution(&s, &data).await;

    // A bounded query: both rows, the right schema, then the end.
    let values = create(
        &s,
        "values",
        "shared",
        "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)",
    )
    .await;
    assert_eq!(values["status"]["traits"]["sqlKind"], "SELECT", "{values}");
    assert_eq!(values["status"]["traits"]["isBounded"], true);
    assert_eq!(values["status"]["traits"]["isAppendOnly"], true);
    let (rows, _, ended) = read_results(&s, "values", Duration::from_secs(90), |_| false).await;
    assert!(ended);
    assert_eq!(
        rows,
        vec![
            json!({"op": 0, "row": [1, "a"]}),
            json!({"op": 0, "row": [2, "b"]})
        ]
    );
    let done = wait_phase(&s, "values", "COMPLETED").await;
    let columns = &done["status"]["traits"]["schema"]["columns"];
    assert_eq!(columns[0]["name"], "id", "{done}");
    assert_eq!(columns[0]["type"]["type"], "INTEGER");
    assert_eq!(columns[1]["name"], "name");
    assert_eq!(columns[1]["type"]["nullable"], false);

    // DDL and metadata complete at once, their result inline.
    let ddl = create(
        &s,
        "create-gen",
        "shared",
        "CREATE TABLE gen (id BIGINT, name STRING) WITH ('connector' = 'datagen', \
         'rows-per-second' = '5', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', \
         'fields.id.end' = '1000000')",
    )
    .await;
    assert_eq!(ddl["status"]["phase"], "COMPLETED", "{ddl}");
    assert_eq!(ddl["status"]["traits"]["sqlKind"], "CREATE_TABLE");
    create(
        &s,
        "create-sink",
        "shared",
        "CREATE TABLE sink (id BIGINT, name STRING) WITH ('connector' = 'blackhole')",
    )
    .await;
    let shown = create(&s, "show", "shared", "SHOW TABLES").await;
    assert_eq!(shown["status"]["phase"], "COMPLETED", "{shown}");
    // `lines` is the filesystem table under a shared dir made above.
    assert_eq!(table_names(&shown), vec!["gen", "lines", "sink"]);
    let (code, inline) = s.get(&format!("{ENV}/statements/show/results")).await;
    assert_eq!(code, 200);
    assert_eq!(inline["results"]["data"][0]["row"][0], "gen");

    // A streaming query: pages through tokens while it runs.
    let stream = create(&s, "stream", "shared", "SELECT id, name FROM gen").await;
    assert_eq!(stream["status"]["traits"]["isBounded"], false, "{stream}");
    wait_phase(&s, "stream", "RUNNING").await;
    let (rows, pages, ended) =
        read_results(&s, "stream", Duration::from_secs(60), |r| r.len() >= 8).await;
    assert!(!ended && pages >= 2, "{pages} pages: {rows:?}");
    assert_eq!(rows[0]["op"], 0);
    let (code, _) = s.delete(&format!("{ENV}/statements/stream")).await;
    assert_eq!(code, 202, "a running statement is cancelled first");
    wait_gone(&s, "stream").await;

    // A detached INSERT: a RUNNING Flink job on the pool's cluster.
    let insert = create(&s, "insert", "shared", "INSERT INTO sink SELECT * FROM gen").await;
    assert_eq!(
        insert["status"]["traits"]["sqlKind"], "INSERT_INTO",
        "{insert}"
    );
    let running = wait_phase(&s, "insert", "RUNNING").await;
    let job = job_of(&running);
    wait_job(&rest_url, &job, "RUNNING").await;
    // The statement's job through its own proxy path.
    let (code, jobs) = s
        .get(&format!(
            "{ENV}/statements/insert/flink-web-ui/jobs/overview"
        ))
        .await;
    assert_eq!(code, 200, "{jobs}");
    assert!(jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["jid"] == job.as_str()));
    // The environment's statementDefaults.detached reached the job.
    let checkpoints: Value =
        common::flink::flink_get(&rest_url, &format!("/jobs/{job}/checkpoints/config")).await;
    assert_eq!(checkpoints["interval"], 2000, "{checkpoints}");

    // Stop: a savepoint on disk, the job gone from the cluster.
    let mut spec = running["spec"].clone();
    spec["stopped"] = json!(true);
    let (code, body) = s
        .put(
            &format!("{ENV}/statements/insert"),
            json!({"metadata": {"name": "insert"}, "spec": spec}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let stopped = wait_phase(&s, "insert", "STOPPED").await;
    let detail = stopped["status"]["detail"].as_str().unwrap();
    let savepoint = detail
        .split_whitespace()
        .find(|w| w.starts_with("file:"))
        .unwrap()
        .trim_end_matches('.')
        .trim_start_matches("file:");
    assert!(
        std::path::Path::new(savepoint).join("_metadata").is_file(),
        "{detail}"
    );
    wait_job(&rest_url, &job, "FINISHED").await;
    let (_, savepoints) = s.get(&format!("{ENV}/statements/insert/savepoints")).await;
    assert_eq!(
        savepoints["items"][0]["status"]["state"], "COMPLETED",
        "{savepoints}"
    );
    assert!(savepoints["items"][0]["status"]["path"]
        .as_str()
        .unwrap()
        .ends_with(savepoint.rsplit('/').next().unwrap()));

    // A job that fails at run time (division by zero, no restarts): the
    // statement ends FAILED and JobFailed fires for it until it is deleted.
    let mut failing = statement(
        "divide",
        "shared",
        "INSERT INTO sink SELECT 1 / (id - id), name FROM gen",
    );
    failing["spec"]["properties"] = json!({"restart-strategy.type": "none"});
    let (code, body) = s.post(&format!("{ENV}/statements"), failing).await;
    assert_eq!(code, 200, "{body}");
    let failed = wait_phase(&s, "divide", "FAILED").await;
    let (_, exceptions) = s.get(&format!("{ENV}/statements/divide/exceptions")).await;
    assert!(
        failed["status"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("by zero"),
        "{failed}\n{exceptions}"
    );
    let alert_of = |alerts: &Value| {
        alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["alert"] == "JobFailed" && a["application"] == "divide")
            .cloned()
    };
    let fired = wait_until(
        &s,
        "/api/drey/v1/alerts?status=firing",
        "JobFailed of the statement",
        Duration::from_secs(60),
        |alerts| alert_of(alerts).is_some(),
    )
    .await;
    let fired = alert_of(&fired).unwrap();
    assert_eq!(fired["kind"], "statement", "{fired}");
    assert!(
        fired["message"].as_str().unwrap().contains("FAILED"),
        "{fired}"
    );
    let (code, _) = s.delete(&format!("{ENV}/statements/divide")).await;
    assert!(code == 200 || code == 204, "{code}");
    wait_until(
        &s,
        "/api/drey/v1/alerts?status=resolved",
        "JobFailed of the statement resolved",
        Duration::from_secs(60),
        |alerts| alert_of(alerts).is_some(),
    )
    .await;

    // Resume from the savepoint, then rescale 1 -> 2 through another one.
    spec["stopped"] = json!(false);
    s.put(
        &format!("{ENV}/statements/insert"),
        json!({"metadata": {"name": "insert"}, "spec": spec}),
    )
    .await;
    let resumed = wait_until(
        &s,
        &format!("{ENV}/statements/insert"),
        "RUNNING again",
        Duration::from_secs(90),
        |b| b["status"]["phase"] == "RUNNING" && job_of(b) != job,
    )
    .await;
    let job2 = job_of(&resumed);
    wait_job(&rest_url, &job2, "RUNNING").await;
    assert_eq!(restored_from(&rest_url, &job2).await, savepoint);
    spec["parallelism"] = json!(2);
    s.put(
        &format!("{ENV}/statements/insert"),
        json!({"metadata": {"name": "insert"}, "spec": spec}),
    )
    .await;
    let rescaled = wait_until(
        &s,
        &format!("{ENV}/statements/insert"),
        "rescaled",
        Duration::from_secs(90),
        |b| b["status"]["phase"] == "RUNNING" && job_of(b) != job2,
    )
    .await;
    let job3 = job_of(&rescaled);
    wait_job(&rest_url, &job3, "RUNNING").await;
    let plan: Value = common::flink::flink_get(&rest_url, &format!("/jobs/{job3}")).await;
    assert!(plan["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["parallelism"] == 2));

    // A savepoint on demand, through the statement's savepoint resources.
    let (code, body) = s
        .post(
            &format!("{ENV}/statements/insert/savepoints"),
            json!({"metadata": {"name": "on-demand"}, "spec": {}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let taken = wait_until(
        &s,
        &format!("{ENV}/statements/insert/savepoints/on-demand"),
        "COMPLETED",
        Duration::from_secs(60),
        |b| b["status"]["state"] == "COMPLETED",
    )
    .await;
    let path = taken["status"]["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("file:");
    assert!(
        std::path::Path::new(path).join("_metadata").is_file(),
        "{taken}"
    );

    // kill -9 of drey stops no job; the restarted drey adopts it, never
    // submitting it a second time.
    s.kill9();
    let s = start(&data);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, adopted) = s.get(&format!("{ENV}/statements/insert")).await;
    assert_eq!(adopted["status"]["phase"], "RUNNING", "{adopted}");
    assert_eq!(job_of(&adopted), job3);
    let running: Vec<_> = flink_jobs(&rest_url)
        .await
        .into_iter()
        .filter(|(_, state)| state == "RUNNING")
        .collect();
    assert_eq!(running.len(), 1, "{running:?}");

    // The pool cannot change while a statement runs on it.
    let mut changed = pool_spec(&s).await;
    changed["clusterSpec"]["taskManager"]["replicas"] = json!(2);
    let (code, body) = s
        .put(
            &format!("{ENV}/compute-pools/shared"),
            json!({"metadata": {"name": "shared"}, "spec": changed}),
        )
        .await;
    assert_eq!(code, 409, "{body}");
    let (code, _) = s.delete(&format!("{ENV}/compute-pools/shared")).await;
    assert_eq!(code, 409);

    // Nor through the environment's computePoolDefaults: the restart they
    // ask for waits until nothing runs on the pool, and the pool says so.
    let env_with = |defaults: Value| {
        json!({"name": "sql-env", "computePoolDefaults": defaults, "statementDefaults": {
            "detached": {"flinkConfiguration": {"execution.checkpointing.interval": "2s"}}}})
    };
    let defaults =
        json!({"spec": {"clusterSpec": {"flinkConfiguration": {"custom.test.defaults": "1"}}}});
    let (code, body) = s.post("/cmf/api/v1/environments", env_with(defaults)).await;
    assert_eq!(code, 201, "{body}");
    let deferred = wait_until(
        &s,
        &format!("{ENV}/compute-pools/shared"),
        "deferring its restart",
        Duration::from_secs(60),
        |b| {
            b["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("restarts with it once nothing runs on it")
        },
    )
    .await;
    assert_eq!(deferred["status"]["phase"], "RUNNING", "{deferred}");
    assert_eq!(
        deferred["status"]["clusterInfo"]["restUrl"],
        rest_url.as_str()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, still) = s.get(&format!("{ENV}/statements/insert")).await;
    assert_eq!(still["status"]["phase"], "RUNNING", "{still}");
    wait_job(&rest_url, &job3, "RUNNING").await;
    // Back to the defaults the cluster runs with: nothing to restart.
    let (code, body) = s
        .post("/cmf/api/v1/environments", env_with(json!({})))
        .await;
    assert_eq!(code, 201, "{body}");
    wait_until(
        &s,
        &format!("{ENV}/compute-pools/shared"),
        "settled again",
        Duration::from_secs(60),
        |b| {
            !b["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("restarts with it")
        },
    )
    .await;

    // Delete cancels the job.
    let (code, _) = s.delete(&format!("{ENV}/statements/insert")).await;
    assert_eq!(code, 202);
    wait_gone(&s, "insert").await;
    wait_job(&rest_url, &job3, "CANCELED").await;
    let (code, _) = s.delete(&format!("{ENV}/statements/values")).await;
    assert_eq!(code, 204, "nothing runs for a completed statement");

    // Tables persist: across a restart of drey and of the SQL service. A
    // running query's results die with the service: 410.
    create(&s, "stream-two", "shared", "SELECT id FROM gen").await;
    wait_phase(&s, "stream-two", "RUNNING").await;
    drop(s);
    kill_sql_service(&data);
    let s = start(&data);
    let (code, body) = s.get(&format!("{ENV}/statements/stream-two/results")).await;
    assert_eq!(code, 410, "{body}");
    let (code, _) = s.delete(&format!("{ENV}/statements/stream-two")).await;
    assert_eq!(code, 202);
    let shown = create(&s, "show-again", "shared", "SHOW TABLES").await;
    assert_eq!(table_names(&shown), vec!["gen", "lines", "sink"], "{shown}");
    let dropped = create(&s, "drop-sink", "shared", "DROP TABLE sink").await;
    assert_eq!(dropped["status"]["phase"], "COMPLETED", "{dropped}");
    let shown = create(&s, "show-after-drop", "shared", "SHOW TABLES").await;
    assert_eq!(table_names(&shown), vec!["gen", "lines"]);

    // A DEDICATED pool: a cluster of the statement's own, gone with it.
    let before = flink_processes(&data);
    s.post(
        &format!("{ENV}/compute-pools"),
        pool_doc("dedicated", "DEDICATED"),
    )
    .await;
    wait_until(
        &s,
        &format!("{ENV}/compute-pools/dedicated"),
        "DEDICATED",
        Duration::from_secs(30),
        |b| b["status"]["phase"] == "DEDICATED",
    )
    .await;
    create(
        &s,
        "own-ddl",
        "dedicated",
        "CREATE TABLE sink2 (id BIGINT, name STRING) WITH ('connector' = 'blackhole')",
    )
    .await;
    create(
        &s,
        "own-insert",
        "dedicated",
        "INSERT INTO sink2 SELECT * FROM gen",
    )
    .await;
    let own = wait_phase(&s, "own-insert", "RUNNING").await;
    assert!(flink_processes(&data) > before, "a cluster of its own");
    assert!(!flink_jobs(&rest_url)
        .await
        .iter()
        .any(|(id, _)| *id == job_of(&own)));
    let (code, _) = s.delete(&format!("{ENV}/statements/own-insert")).await;
    assert_eq!(code, 202);
    wait_gone(&s, "own-insert").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while flink_processes(&data) > before {
        assert!(Instant::now() < deadline, "the statement's cluster stops");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn job_of(statement: &Value) -> String {
    statement["status"]["jobId"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn wait_job(rest_url: &str, job: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = flink_jobs(rest_url).await;
        if jobs.iter().any(|(id, st)| id == job && st == state) {
            return;
        }
        assert!(Instant::now() < deadline, "job {job} not {state}: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn restored_from(rest_url: &str, job: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value =
            common::flink::flink_get(rest_url, &format!("/jobs/{job}/checkpoints")).await;
        if let Some(path) = body["latest"]["restored"]["external_path"].as_str() {
            return path.trim_start_matches("file:").to_owned();
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn wait_gone(s: &Server, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = s.get(&format!("{ENV}/statements/{name}")).await;
        if code == 404 {
            return;
        }
        assert!(Instant::now() < deadline, "{name} not deleted: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn pool_spec(s: &Server) -> Value {
    s.get(&format!("{ENV}/compute-pools/shared")).await.1["spec"].clone()
}

/// Kills drey's SQL service of the statements' environment (recorded under
/// the data dir, `sql-gateway/environments/<org>/<env>/`) like a crash would.
fn kill_sql_service(data: &std::path::Path) {
    let env = ENV.rsplit('/').next().unwrap();
    let orgs = data.join("sql-gateway").join("environments");
    let record_file = std::fs::read_dir(&orgs)
        .unwrap()
        .flatten()
        .map(|org| org.path().join(env).join("service.json"))
        .find(|f| f.is_file())
        .expect("the environment's SQL service record");
    let record: Value = serde_json::from_slice(&std::fs::read(record_file).unwrap()).unwrap();
    let pid = record["pid"].as_i64().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

/// A KafkaCatalog is usable where a secret mapping covers its connection
/// secret: there drey hands the engine its config with the secret merged in
/// (and the engine, having no Kafka connector here, says so — with the
/// secret scrubbed from its message); elsewhere it does not exist.
async fn kafka_catalog_resolution(s: &Server, data: &std::path::Path) {
    let (code, body) = s
        .post(
            "/cmf/api/v1/secrets",
            json!({"metadata": {"name": "sr-credentials"},
                   "spec": {"data": {"basic.auth.user.info": "user:s3cr3t-value"}}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = s
        .post(
            "/cmf/api/v1/catalogs/kafka",
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "KafkaCatalog",
                   "metadata": {"name": "kcat"},
                   "spec": {"srInstance": {
                       "connectionConfig": {"schema.registry.url": "http://127.0.0.1:1"},
                       "connectionSecretId": "sr-secret-id"},
                     "kafkaClusters": [{"databaseName": "orders",
                       "connectionConfig": {"bootstrap.servers": "127.0.0.1:1"}}]}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"]["environmentsWithAccess"], json!([]));
    let mut show = statement("in-kcat", "shared", "SHOW DATABASES");
    show["spec"]["properties"] = json!({"sql.current-catalog": "kcat"});
    let (_, unmapped) = s.post(&format!("{ENV}/statements"), show.clone()).await;
    assert_eq!(unmapped["status"]["phase"], "FAILED", "{unmapped}");
    let detail = unmapped["status"]["detail"].as_str().unwrap();
    assert!(detail.contains("Catalog 'kcat' does not exist"), "{detail}");

    let (code, body) = s
        .post(
            &format!("{ENV}/secret-mappings"),
            json!({"metadata": {"name": "sr-secret-id"}, "spec": {"secretName": "sr-credentials"}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (_, catalog) = s.get("/cmf/api/v1/catalogs/kafka/kcat").await;
    assert_eq!(
        catalog["status"]["environmentsWithAccess"],
        json!(["sql-env"])
    );
    show["metadata"]["name"] = json!("in-kcat-mapped");
    let (_, mapped) = s.post(&format!("{ENV}/statements"), show).await;
    assert_eq!(mapped["status"]["phase"], "FAILED", "{mapped}");
    let detail = mapped["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("kafka"),
        "the engine was asked for the kafka catalog: {detail}"
    );
    assert!(!mapped.to_string().contains("s3cr3t-value"), "{mapped}");
    assert!(!s.log().contains("s3cr3t-value"));
    // Nowhere on disk either: not in the store (sealed), not in the SQL
    // service's or the clusters' logs.
    let leaks = files_containing(data, b"s3cr3t-value");
    assert!(leaks.is_empty(), "the secret is in {leaks:?}");
}

fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .map(|b| b.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
        {
            found.push(path);
        }
    }
    found
}
