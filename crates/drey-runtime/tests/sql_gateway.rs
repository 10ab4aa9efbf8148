#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! drey's SQL gateway service (sql-gateway/, run by SqlGatewayService) and the SQL gateway
//! client against a real Flink 2.3 cluster started by the local backend. One cluster and one
//! service are shared by all scenarios, which run in sequence in one test.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drey_flink::{
    FlinkClient, FlinkError, JobState, OperationHandle, OperationStatus, ResultPage, ResultType,
    RowKind, SessionHandle, SqlGatewayClient,
};
use drey_runtime::{ClusterSpec, GatewaySandbox, Isolation, SqlGatewayJar, SqlGatewayService};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(90);

/// Kills the service when dropped, so a failed assertion leaves no JVM behind.
struct ServiceGuard(SqlGatewayService);

impl Drop for ServiceGuard {
    fn drop(&mut self) {
        self.0.kill();
    }
}

fn jar() -> SqlGatewayJar {
    SqlGatewayJar::discover(None).unwrap_or_else(|e| {
        panic!("these tests need drey's SQL gateway: run scripts/build-sql-gateway.sh. {e}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_gateway_against_a_real_cluster() {
    let jar = jar();
    let (backend, dir) = common::backend();
    let mut spec = ClusterSpec::new("sqlgw");
    spec.slots_per_task_manager = 4;
    let service = SqlGatewayService::new(backend.home().clone(), jar.clone(), dir.path());
    let _service_guard = ServiceGuard(service.clone());

    let started = Instant::now();
    let (guard, url) = tokio::join!(common::start(&backend, &spec), service.ensure());
    let url = url.unwrap_or_else(|e| panic!("cannot start the SQL gateway: {e}"));
    println!("cluster and gateway ready in {:?}", started.elapsed());
    let cluster = guard.get();
    let flink = cluster.client();
    let record = service.record().unwrap().expect("service.json");
    assert_eq!(record.url(), url);
    assert_eq!(service.url().as_deref(), Some(url.as_str()));
    let gw = SqlGatewayClient::new(&url).unwrap();

    let t = Instant::now();
    let info = gw.info().await.unwrap();
    assert_eq!(info.product_name, "Apache Flink");
    assert_eq!(info.version, "2.3.0");
    let versions = gw.api_versions().await.unwrap();
    assert!(versions.contains(&"V1".to_string()), "{versions:?}");
    assert!(versions.contains(&"V4".to_string()), "{versions:?}");

    let mut props = BTreeMap::new();
    props.insert("execution.target".to_string(), "remote".to_string());
    props.insert("rest.address".to_string(), "127.0.0.1".to_string());
    props.insert(
        "rest.port".to_string(),
        cluster.record().rest_port.to_string(),
    );
    props.insert("parallelism.default".to_string(), "1".to_string());
    // The cluster's REST API takes drey's client certificate only.
    props.extend(cluster.client_tls().unwrap().flink_client_options());
    let session = gw.open_session(Some("test"), &props).await.unwrap();
    let config = gw.session_config(&session).await.unwrap();
    assert_eq!(
        config.get("execution.target").map(String::as_str),
        Some("remote")
    );
    gw.heartbeat(&session).await.unwrap();
    println!("session: {:?}", t.elapsed());

    let t = Instant::now();
    values_query(&gw, &session).await;
    println!("values query: {:?}", t.elapsed());
    let t = Instant::now();
    tokens(&gw, &session).await;
    println!("tokens: {:?}", t.elapsed());
    let t = Instant::now();
    streaming_query(&gw, &session, &flink).await;
    println!("streaming query: {:?}", t.elapsed());
    let t = Instant::now();
    insert(&gw, &session, &flink).await;
    println!("insert: {:?}", t.elapsed());
    let t = Instant::now();
    errors(&gw, &session).await;
    println!("errors: {:?}", t.elapsed());

    // Closing the session ends it; its handles are unknown afterwards.
    gw.close_session(&session).await.unwrap();
    let err = gw.heartbeat(&session).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.root_cause_message().unwrap().contains(&session.0),
        "{err:?}"
    );
    let err = gw
        .session_config(&SessionHandle("no-such-session".into()))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // A second service object (a restarted drey) adopts the running process.
    let t = Instant::now();
    let again = SqlGatewayService::new(backend.home().clone(), jar, dir.path());
    assert_eq!(again.ensure().await.unwrap(), url);
    let adopted = again.record().unwrap().unwrap();
    assert_eq!(adopted.pid, record.pid);
    assert_eq!(adopted.port, record.port);
    assert_eq!(adopted.start_time, record.start_time);
    assert!(again.stop(Duration::from_secs(20)).await.unwrap());
    assert!(common::process_gone(record.pid));
    assert!(common::port_free(record.port));
    assert!(again.record().unwrap().is_none());
    assert!(service.url().is_none());
    assert!(!again.stop(Duration::from_secs(1)).await.unwrap());
    assert!(gw.info().await.unwrap_err().is_unreachable());
    println!("adopt and stop: {:?}", t.elapsed());

    guard.stop().await;
}

/// A sandboxed service killed in part: its bwrap alone leaves the JVM serving, and drey
/// adopts it; its JVM alone is a dead service, replaced after what is left of its group
/// is gone. Either way one gateway runs for the data dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_killed_sandboxed_gateway_is_replaced_whole() {
    let (backend, dir) = common::backend();
    let sandboxed = || {
        SqlGatewayService::new(backend.home().clone(), jar(), dir.path())
            .with_isolation(Isolation::Sandbox, GatewaySandbox::default())
    };
    let service = sandboxed();
    let _guard = ServiceGuard(service.clone());
    let url = service.ensure().await.unwrap();
    let first = service.record().unwrap().unwrap();
    let bwrap = first
        .pgid
        .expect("a sandboxed gateway records bwrap's group");
    assert_ne!(bwrap, first.pid, "the recorded pid is the JVM's");
    assert!(common::proc_cmdline(first.pid).contains("io.drey.sqlgateway"));

    // bwrap killed alone: the JVM serves on and is adopted.
    kill9(bwrap);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sandboxed().ensure().await.unwrap(), url);
    let second = service.record().unwrap().unwrap();
    assert_eq!(
        (second.pid, second.start_time),
        (first.pid, first.start_time)
    );

    // The JVM killed alone: a new service starts and nothing of the old group is left.
    kill9(second.pid);
    let url = sandboxed().ensure().await.unwrap();
    let third = service.record().unwrap().unwrap();
    assert_ne!(third.pid, second.pid);
    assert!(common::group_gone(second.pgid.unwrap()));
    SqlGatewayClient::new(&url).unwrap().info().await.unwrap();
    assert!(service.stop(Duration::from_secs(20)).await.unwrap());
    assert!(common::group_gone(third.pgid.unwrap()));
}

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A bounded query: both rows, the column types Flink reports, then the end.
async fn values_query(gw: &SqlGatewayClient, session: &SessionHandle) {
    let (op, got) = gw
        .execute_and_collect(
            session,
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)",
            &BTreeMap::new(),
            100,
            WAIT,
        )
        .await
        .unwrap();
    assert!(got.is_query_result);
    assert!(got.job_id.is_some());
    assert_eq!(got.next_token, None, "the result ended");
    assert_eq!(got.result_kind.as_deref(), Some("SUCCESS_WITH_CONTENT"));
    let names: Vec<&str> = got.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "name"]);
    assert_eq!(
        got.columns[0].logical_type,
        json!({"type": "INTEGER", "nullable": false})
    );
    assert_eq!(
        got.columns[1].logical_type,
        json!({"type": "CHAR", "nullable": false, "length": 1})
    );
    let rows: Vec<(RowKind, Vec<serde_json::Value>)> =
        got.rows.into_iter().map(|r| (r.kind, r.fields)).collect();
    assert_eq!(
        rows,
        [
            (RowKind::Insert, vec![json!(1), json!("a")]),
            (RowKind::Insert, vec![json!(2), json!("b")]),
        ]
    );
    assert_eq!(
        gw.operation_status(session, &op).await.unwrap(),
        OperationStatus::Finished
    );
    assert_eq!(
        gw.close_operation(session, &op).await.unwrap(),
        OperationStatus::Closed
    );
    let err = gw.operation_status(session, &op).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

/// Polls token `token` until it is not NOT_READY.
async fn fetch_ready(
    gw: &SqlGatewayClient,
    session: &SessionHandle,
    op: &OperationHandle,
    token: u64,
) -> ResultPage {
    let deadline = Instant::now() + WAIT;
    loop {
        let page = gw.fetch_results(session, op, token).await.unwrap();
        if page.result_type != ResultType::NotReady {
            return page;
        }
        assert_eq!(
            page.next_token,
            Some(token),
            "NOT_READY points at the same token"
        );
        assert!(
            Instant::now() < deadline,
            "token {token} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Token rules: the same token answers the same page; the next one moves on; others fail.
/// Also typed values (decimals as numbers, timestamps as ISO strings, arrays, maps, rows).
async fn tokens(gw: &SqlGatewayClient, session: &SessionHandle) {
    let op = gw
        .execute_statement(
            session,
            "SELECT CAST(1.50 AS DECIMAL(5, 2)) AS d, TIMESTAMP '2024-01-02 03:04:05.123' AS ts, \
             DATE '2024-01-02' AS dt, ARRAY[1, 2] AS arr, MAP['k', 1] AS m, \
             ROW(1, 'x') AS r, CAST(NULL AS STRING) AS n, TRUE AS b, 2.5e0 AS dbl",
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let first = fetch_ready(gw, session, &op, 0).await;
    assert_eq!(first.result_type, ResultType::Payload);
    assert_eq!(first.next_token, Some(1));
    let again = gw.fetch_results(session, &op, 0).await.unwrap();
    assert_eq!(again, first, "fetching a token twice answers the same page");
    let row = &first.rows[0].fields;
    assert_eq!(row[0], json!(1.5));
    assert_eq!(row[1], json!("2024-01-02T03:04:05.123"));
    assert_eq!(row[2], json!("2024-01-02"));
    assert_eq!(row[3], json!([1, 2]));
    assert_eq!(row[4], json!({"k": 1}));
    assert_eq!(row[5].as_object().map(|o| o.len()), Some(2));
    assert_eq!(row[6], serde_json::Value::Null);
    assert_eq!(row[7], json!(true));
    assert_eq!(row[8], json!(2.5));
    let types: Vec<&str> = first
        .columns
        .iter()
        .map(|c| c.logical_type["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "DECIMAL",
            "TIMESTAMP_WITHOUT_TIME_ZONE",
            "DATE",
            "ARRAY",
            "MAP",
            "ROW",
            "VARCHAR",
            "BOOLEAN",
            "DOUBLE"
        ]
    );
    assert_eq!(first.columns[0].logical_type["precision"], json!(5));
    assert_eq!(first.columns[0].logical_type["scale"], json!(2));
    assert_eq!(first.columns[1].logical_type["precision"], json!(3));
    assert_eq!(
        first.columns[3].logical_type["elementType"]["type"],
        json!("INTEGER")
    );
    let eos = fetch_ready(gw, session, &op, 1).await;
    assert_eq!(eos.result_type, ResultType::Eos);
    assert_eq!(eos.next_token, None);
    assert!(eos.rows.is_empty());
    let err = gw.fetch_results(session, &op, 5).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    gw.close_operation(session, &op).await.unwrap();
}

/// An unbounded query over datagen: rows arrive over several tokens until it is cancelled,
/// which cancels its job on the cluster.
async fn streaming_query(gw: &SqlGatewayClient, session: &SessionHandle, flink: &FlinkClient) {
    gw.configure_session(
        session,
        "CREATE TABLE gen (id BIGINT, name STRING) WITH ('connector' = 'datagen', \
         'rows-per-second' = '5', 'fields.name.length' = '4')",
    )
    .await
    .unwrap();
    let (op, first) = gw
        .execute_and_collect(session, "SELECT * FROM gen", &BTreeMap::new(), 3, WAIT)
        .await
        .unwrap();
    assert!(first.is_query_result);
    assert!(first.rows.len() >= 3, "{first:?}");
    let job = first.job_id.clone().expect("the query's job id");
    let mut token = first.next_token.expect("a streaming result does not end");
    let mut total = first.rows.len();
    let mut pages_with_rows = 1;
    let deadline = Instant::now() + WAIT;
    while total < 12 || pages_with_rows < 3 {
        assert!(Instant::now() < deadline, "only {total} rows arrived");
        let page = gw.fetch_results(session, &op, token).await.unwrap();
        assert_ne!(page.result_type, ResultType::Eos);
        for r in &page.rows {
            assert_eq!(r.kind, RowKind::Insert);
            assert!(r.fields[0].is_i64(), "{r:?}");
            assert_eq!(r.fields[1].as_str().map(str::len), Some(4), "{r:?}");
        }
        if !page.rows.is_empty() {
            pages_with_rows += 1;
        }
        total += page.rows.len();
        token = page.next_token.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        gw.operation_status(session, &op).await.unwrap(),
        OperationStatus::Running
    );
    assert_eq!(flink.job(&job).await.unwrap().state, JobState::Running);
    assert_eq!(
        gw.cancel_operation(session, &op).await.unwrap(),
        OperationStatus::Canceled
    );
    assert_eq!(
        gw.operation_status(session, &op).await.unwrap(),
        OperationStatus::Canceled
    );
    let state = flink
        .wait_for_job_state(&job, WAIT, |s| s == JobState::Canceled)
        .await
        .unwrap();
    assert_eq!(state, JobState::Canceled);
    gw.close_operation(session, &op).await.unwrap();
}

/// INSERT: the operation finishes once the job is submitted; the job runs on the cluster
/// (under the pipeline.name given for this statement only) until cancelled there.
async fn insert(gw: &SqlGatewayClient, session: &SessionHandle, flink: &FlinkClient) {
    gw.configure_session(
        session,
        "CREATE TABLE sink (id BIGINT, name STRING) WITH ('connector' = 'blackhole')",
    )
    .await
    .unwrap();
    let mut exec = BTreeMap::new();
    exec.insert("pipeline.name".to_string(), "drey-sqlgw-insert".to_string());
    // A job id chosen by the caller (so a retried submission finds its job).
    let fixed = "00000000000000000000000000d7e701";
    exec.insert("$internal.pipeline.job-id".to_string(), fixed.to_string());
    let (op, got) = gw
        .execute_and_collect(
            session,
            "INSERT INTO sink SELECT * FROM gen",
            &exec,
            10,
            WAIT,
        )
        .await
        .unwrap();
    assert!(!got.is_query_result);
    let job = got.job_id.clone().expect("the INSERT's job id");
    assert_eq!(job, fixed);
    assert_eq!(got.next_token, None);
    assert_eq!(got.rows.len(), 1);
    assert_eq!(got.rows[0].fields, vec![json!(job)]);
    assert_eq!(
        gw.operation_status(session, &op).await.unwrap(),
        OperationStatus::Finished
    );
    let state = flink
        .wait_for_job_state(&job, WAIT, |s| s == JobState::Running)
        .await
        .unwrap();
    assert_eq!(state, JobState::Running);
    assert_eq!(flink.job(&job).await.unwrap().name, "drey-sqlgw-insert");
    // The execution config was for that statement only.
    assert!(!gw
        .session_config(session)
        .await
        .unwrap()
        .contains_key("pipeline.name"));
    // Closing the operation does not touch the submitted job.
    gw.close_operation(session, &op).await.unwrap();
    assert_eq!(flink.job(&job).await.unwrap().state, JobState::Running);
    flink.cancel_job(&job).await.unwrap();
    let state = flink
        .wait_for_job_state(&job, WAIT, |s| s == JobState::Canceled)
        .await
        .unwrap();
    assert_eq!(state, JobState::Canceled);

    // SET changes the session's configuration.
    gw.configure_session(session, "SET 'drey.test.key' = 'v1'")
        .await
        .unwrap();
    let config = gw.session_config(session).await.unwrap();
    assert_eq!(config.get("drey.test.key").map(String::as_str), Some("v1"));
}

/// Waits until the operation reaches a terminal status.
async fn terminal_status(
    gw: &SqlGatewayClient,
    session: &SessionHandle,
    op: &OperationHandle,
) -> OperationStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = gw.operation_status(session, op).await.unwrap();
        if s.is_terminal() {
            return s;
        }
        assert!(Instant::now() < deadline, "operation still {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn errors(gw: &SqlGatewayClient, session: &SessionHandle) {
    // A parse error: ERROR status, and the fetch answers 500 with Calcite's message.
    let op = gw
        .execute_statement(session, "SELEC 1", &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(
        terminal_status(gw, session, &op).await,
        OperationStatus::Error
    );
    let err = gw.fetch_results(session, &op, 0).await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err:?}");
    let message = err.root_cause_message().unwrap();
    println!("parse error: {message}");
    assert!(message.starts_with("SQL parse failed."), "{message}");
    assert!(
        err.flink_errors()
            .iter()
            .any(|e| e.contains("SqlParserException")),
        "the whole exception is kept: {err:?}"
    );
    gw.close_operation(session, &op).await.unwrap();

    // An unknown table: the message names it; execute_and_collect returns the error.
    let err = gw
        .execute_and_collect(
            session,
            "SELECT * FROM no_such_table",
            &BTreeMap::new(),
            10,
            WAIT,
        )
        .await
        .unwrap_err();
    let message = err.root_cause_message().unwrap();
    println!("validation error: {message}");
    assert!(message.contains("no_such_table"), "{message}");
    assert!(
        matches!(err, FlinkError::Api { status: 500, .. }),
        "{err:?}"
    );

    // configure-session answers a failing statement directly.
    let err = gw
        .configure_session(session, "CREATE TABLE broken (")
        .await
        .unwrap_err();
    let message = err.root_cause_message().unwrap();
    println!("configure error: {message}");
    assert!(
        message.starts_with("Encountered \"<EOF>\" at line 1, column 21"),
        "{err:?}"
    );

    // Unknown operations are 404s that name the handle.
    let unknown = OperationHandle("no-such-operation".into());
    let err = gw.operation_status(session, &unknown).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.root_cause_message()
            .unwrap()
            .contains("no-such-operation"),
        "{err:?}"
    );
}
