//! The typed Flink REST client against a real Flink 2.3 cluster started by the local
//! backend. One cluster is shared by all scenarios, which run in sequence in one test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use drey_flink::{
    CheckpointRequest, ClaimMode, FlinkClient, FlinkError, JarRunRequest, JobState, QueueStatusId,
    SavepointRequest, StopRequest,
};
use drey_runtime::{ClusterSpec, LocalCluster};

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_a_real_cluster() {
    let stateful_jar = common::testjob("stateful-counter");
    let failing_jar = common::testjob("failing-job");
    let bounded_jar = common::testjob("bounded-job");
    let (backend, _dir) = common::backend();
    // The jobs write their output outside the data dir, which the sandboxed
    // cluster does not see.
    let outs = tempfile::tempdir().unwrap();
    let backend = backend.with_shared_dirs(vec![outs.path().to_owned()]);
    let mut spec = ClusterSpec::new("client");
    spec.task_managers = 1;
    spec.slots_per_task_manager = 4;
    // Metrics are fetched from the processes every 10s by default; make them show up fast.
    spec.flink_configuration
        .insert("metrics.fetcher.update-interval".into(), "500".into());
    let started = Instant::now();
    let guard = common::start(&backend, &spec).await;
    println!("cluster ready in {:?}", started.elapsed());
    let cluster = guard.get();
    let client = cluster.client();
    let out = outs.path().join("out");
    std::fs::create_dir_all(&out).unwrap();

    let t = Instant::now();
    cluster_endpoints(&client).await;
    println!("cluster endpoints: {:?}", t.elapsed());
    let t = Instant::now();
    stateful_job_with_savepoints(cluster, &client, &stateful_jar, &out).await;
    println!("stateful job + savepoints: {:?}", t.elapsed());
    let t = Instant::now();
    failing_job(&client, &failing_jar).await;
    println!("failing job: {:?}", t.elapsed());
    let t = Instant::now();
    bounded_job(&client, &bounded_jar, &out).await;
    println!("bounded job: {:?}", t.elapsed());
    errors(&client).await;

    // Last: DELETE /cluster shuts the JobManager down (standalone TaskManagers keep waiting
    // for a new JobManager; stop() ends them).
    client.shutdown_cluster().await.unwrap();
    let jm = cluster.processes()[0].pid;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !common::process_gone(jm) {
        assert!(
            Instant::now() < deadline,
            "JobManager still running after DELETE /cluster"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!cluster.is_alive());
    let pids: Vec<u32> = cluster.processes().iter().map(|p| p.pid).collect();
    guard.stop().await;
    assert!(pids.iter().all(|p| common::process_gone(*p)));
}

async fn cluster_endpoints(client: &FlinkClient) {
    let ov = client.overview().await.unwrap();
    assert_eq!(ov.flink_version, "2.3.0");
    assert_eq!((ov.taskmanagers, ov.slots_total), (1, 4));
    let cfg = client.config().await.unwrap();
    assert_eq!(cfg.flink_version, "2.3.0");
    assert!(cfg.features.contains_key("web-submit"));

    let jm_config = client.jobmanager_config().await.unwrap();
    assert!(jm_config.iter().any(|e| e.key == "rest.port"));
    let env = client.jobmanager_environment().await.unwrap();
    assert!(env.get("jvm").is_some(), "{env}");
    let logs = client.jobmanager_logs().await.unwrap();
    assert!(
        logs.logs.iter().all(|l| l.name.contains("jobmanager")),
        "{logs:?}"
    );
    let log = logs
        .logs
        .iter()
        .find(|l| l.name.ends_with(".log"))
        .unwrap_or_else(|| panic!("no .log in {logs:?}"));
    let text = client.jobmanager_log_file(&log.name).await.unwrap();
    assert!(text.contains("StandaloneSessionClusterEntrypoint"));
    let available = client.jobmanager_metrics(&[]).await.unwrap();
    assert!(available.is_array(), "{available}");
    let heap = eventually(|| client.jobmanager_metrics(&["Status.JVM.Memory.Heap.Used"])).await;
    assert_eq!(heap[0]["id"], "Status.JVM.Memory.Heap.Used");
    let dump = client.jobmanager_thread_dump().await.unwrap();
    assert!(dump["threadInfos"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));

    let tms = client.taskmanagers().await.unwrap();
    assert_eq!(tms.taskmanagers.len(), 1);
    let tm = &tms.taskmanagers[0];
    assert_eq!(tm.id, "client-tm-0");
    assert_eq!(tm.slots_number, 4);
    assert!(client.taskmanagers_metrics(&[]).await.unwrap().is_array());
    let details = client.taskmanager(&tm.id).await.unwrap();
    assert_eq!(details["id"], "client-tm-0");
    let tm_logs = client.taskmanager_logs(&tm.id).await.unwrap();
    let tm_log = tm_logs
        .logs
        .iter()
        .find(|l| l.name.ends_with(".log"))
        .unwrap_or_else(|| panic!("no .log in {tm_logs:?}"));
    // Each process has its own log dir: the TaskManager lists only its own files.
    assert!(
        tm_logs.logs.iter().all(|l| l.name.contains("taskmanager")),
        "{tm_logs:?}"
    );
    let text = client
        .taskmanager_log_file(&tm.id, &tm_log.name)
        .await
        .unwrap();
    assert!(
        text.contains("TaskManagerRunner") || text.contains("TaskExecutor"),
        "{}",
        &text[..text.len().min(300)]
    );
    let tm_heap =
        eventually(|| client.taskmanager_metrics(&tm.id, &["Status.JVM.Memory.Heap.Used"])).await;
    assert_eq!(tm_heap[0]["id"], "Status.JVM.Memory.Heap.Used");
    let tm_dump = client.taskmanager_thread_dump(&tm.id).await.unwrap();
    assert!(tm_dump["threadInfos"].is_array());
    let datasets = client.datasets().await.unwrap();
    assert!(datasets["dataSets"].is_array(), "{datasets}");
    // Deleting a data set that does not exist: an async operation that completes.
    let trigger = client.delete_dataset(&"ab".repeat(16)).await.unwrap();
    let status = client
        .dataset_delete_status(&trigger.request_id)
        .await
        .unwrap();
    if let Some(op) = status.operation {
        assert!(op.failure_cause.is_none(), "{op:?}");
    }
    assert!(client.jobs().await.unwrap().jobs.is_empty());

    // The pass-through: REST and web UI paths, any status.
    let raw = client
        .raw(drey_flink::Method::GET, "/v1/overview", None, None)
        .await
        .unwrap();
    assert_eq!(raw.status, 200);
    assert!(raw.content_type.unwrap_or_default().contains("json"));
    let raw = client
        .raw(drey_flink::Method::GET, "/", None, None)
        .await
        .unwrap();
    assert_eq!(raw.status, 200);
    assert!(String::from_utf8_lossy(&raw.body).contains("<html"));
    let raw = client
        .raw(
            drey_flink::Method::GET,
            "/v1/jobs/ffffffffffffffffffffffffffffffff",
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(raw.status, 404);
}

/// Polls a metrics call until it returns a non-empty array (the JobManager fetches metrics
/// from the processes periodically).
async fn eventually<F, Fut>(call: F) -> serde_json::Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, FlinkError>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = call().await.unwrap();
        if v.as_array().is_some_and(|a| !a.is_empty()) {
            return v;
        }
        assert!(Instant::now() < deadline, "metrics stayed empty: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Lines `<key> <count> <seq>` written by the stateful job.
fn counts(path: &Path) -> Vec<(String, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn last_per_key(lines: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (k, c) in lines {
        let e = m.entry(k.clone()).or_insert(0);
        *e = (*e).max(*c);
    }
    m
}

fn first_per_key(lines: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (k, c) in lines {
        m.entry(k.clone()).or_insert(*c);
    }
    m
}

async fn wait_for_lines(path: &Path, keys: usize, min_count: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = last_per_key(&counts(path));
        if last.len() >= keys && last.values().all(|c| *c >= min_count) {
            return;
        }
        assert!(Instant::now() < deadline, "{} has {last:?}", path.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stateful_job_with_savepoints(
    cluster: &LocalCluster,
    client: &FlinkClient,
    jar: &Path,
    out: &Path,
) {
    let upload = client.upload_jar(jar).await.unwrap();
    assert_eq!(upload.status, "success");
    let jar_id = upload.jar_id().to_string();
    let jars = client.jars().await.unwrap();
    let listed = jars.files.iter().find(|f| f.id == jar_id).unwrap();
    assert_eq!(listed.name, "stateful-counter.jar");
    assert_eq!(listed.entry[0].name, "io.drey.testjobs.StatefulCounter");

    let first_out = out.join("counter-1.txt");
    let job_id = "d4e70000000000000000000000000001";
    let run = JarRunRequest {
        job_id: Some(job_id.to_string()),
        entry_class: Some("io.drey.testjobs.StatefulCounter".to_string()),
        program_args_list: vec!["--out".into(), first_out.display().to_string()],
        parallelism: Some(2),
        ..JarRunRequest::default()
    };
    let plan = client.jar_plan(&jar_id, &run).await.unwrap();
    assert!(plan["plan"]["nodes"].is_array(), "{plan}");
    let submitted = client.run_jar(&jar_id, &run).await.unwrap();
    assert_eq!(submitted.jobid, job_id);
    let state = client
        .wait_for_job_state(job_id, WAIT, |s| s == JobState::Running)
        .await
        .unwrap();
    assert_eq!(state, JobState::Running);
    wait_for_lines(&first_out, 3, 5).await;

    // Job-level reads.
    let ids = client.jobs().await.unwrap();
    assert!(ids
        .jobs
        .iter()
        .any(|j| j.id == job_id && j.status == JobState::Running));
    let overview = client.jobs_overview().await.unwrap();
    let mine = overview.jobs.iter().find(|j| j.jid == job_id).unwrap();
    assert_eq!(mine.name, "drey-test-stateful-counter");
    assert_eq!(mine.state, JobState::Running);
    assert!(client.jobs_metrics(&[]).await.unwrap().is_array());
    let details = client.job(job_id).await.unwrap();
    assert_eq!(details.state, JobState::Running);
    assert!(details.is_stoppable || !details.vertices.is_empty());
    assert_eq!(details.vertices.len(), 2, "{:?}", details.vertices);
    assert_eq!(
        client.job_status(job_id).await.unwrap().status,
        JobState::Running
    );
    let config = client.job_config(job_id).await.unwrap();
    assert_eq!(config["jid"], job_id);
    let jm_config = client.job_jobmanager_config(job_id).await.unwrap();
    assert!(jm_config.is_array());
    let exceptions = client.job_exceptions(job_id).await.unwrap();
    assert!(exceptions.exception_history.entries.is_empty());
    let result = client.job_execution_result(job_id).await.unwrap();
    assert_eq!(result.status.id, QueueStatusId::InProgress);
    assert!(client.job_metrics(job_id, &[]).await.unwrap().is_array());
    let plan = client.job_plan(job_id).await.unwrap();
    assert_eq!(plan["plan"]["jid"], job_id);
    let acc = client.job_accumulators(job_id).await.unwrap();
    assert_eq!(acc["job-accumulators"], serde_json::json!([]));

    // Checkpoints: configuration, statistics, details, a manual checkpoint.
    let cp_config = client.checkpoint_config(job_id).await.unwrap();
    assert_eq!(cp_config.interval, 2000);
    assert_eq!(cp_config.mode, "exactly_once");
    assert!(cp_config.externalization.enabled, "{cp_config:?}");
    let trigger = client
        .trigger_checkpoint(job_id, &CheckpointRequest::default())
        .await
        .unwrap();
    let checkpoint_id = client
        .wait_for_checkpoint(job_id, &trigger.request_id, WAIT)
        .await
        .unwrap();
    let stats = client.checkpoints(job_id).await.unwrap();
    assert!(stats.counts.completed >= 1, "{:?}", stats.counts);
    let latest = stats.latest.completed.clone().unwrap();
    assert!(latest.id >= checkpoint_id);
    assert!(latest
        .external_path
        .as_deref()
        .is_some_and(|p| p.contains("clusters/client/checkpoints")));
    let cp_details = client
        .checkpoint_details(job_id, checkpoint_id)
        .await
        .unwrap();
    assert_eq!(cp_details["id"], checkpoint_id);
    let vertex = details.vertices[0].id.clone();
    let cp_sub = client
        .checkpoint_subtask_details(job_id, checkpoint_id, &vertex)
        .await
        .unwrap();
    assert_eq!(cp_sub["id"], checkpoint_id);

    // Vertices and subtasks.
    let v = client.vertex(job_id, &vertex).await.unwrap();
    assert_eq!(v["id"], vertex.as_str());
    assert!(client.vertex_backpressure(job_id, &vertex).await.unwrap()["status"].is_string());
    assert!(client
        .vertex_metrics(job_id, &vertex, &[])
        .await
        .unwrap()
        .is_array());
    assert!(client.vertex_subtask_times(job_id, &vertex).await.unwrap()["subtasks"].is_array());
    assert!(client.vertex_taskmanagers(job_id, &vertex).await.unwrap()["taskmanagers"].is_array());
    assert!(client
        .vertex_watermarks(job_id, &vertex)
        .await
        .unwrap()
        .is_array());
    assert!(client.vertex_accumulators(job_id, &vertex).await.unwrap()["id"].is_string());
    assert!(client
        .vertex_subtasks_accumulators(job_id, &vertex)
        .await
        .unwrap()["subtasks"]
        .is_array());
    assert!(client
        .vertex_subtasks_metrics(job_id, &vertex, &[])
        .await
        .unwrap()
        .is_array());
    let sub = client.subtask(job_id, &vertex, 0).await.unwrap();
    assert_eq!(sub["subtask"], 0);
    assert!(client
        .subtask_metrics(job_id, &vertex, 0, &[])
        .await
        .unwrap()
        .is_array());
    let attempt = client.subtask_attempt(job_id, &vertex, 0, 0).await.unwrap();
    assert_eq!(attempt["attempt"], 0);
    let attempt_acc = client
        .subtask_attempt_accumulators(job_id, &vertex, 0, 0)
        .await
        .unwrap();
    assert_eq!(attempt_acc["attempt"], 0);

    // Rescaling and resource requirements: Flink's own errors, typed.
    let err = client.rescale(job_id, 1).await.unwrap_err();
    assert!(
        err.flink_message()
            .unwrap()
            .contains("Rescaling is temporarily disabled"),
        "{err}"
    );
    let err = client.resource_requirements(job_id).await.unwrap_err();
    assert!(err.to_string().contains("AdaptiveScheduler"), "{err}");
    let err = client
        .set_resource_requirements(job_id, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(err.status().is_some(), "{err:?}");

    // A savepoint while running, into the cluster's savepoint dir.
    let trigger = client
        .trigger_savepoint(job_id, &SavepointRequest::default())
        .await
        .unwrap();
    let savepoint = client
        .wait_for_savepoint(job_id, &trigger.request_id, WAIT)
        .await
        .unwrap();
    assert!(
        savepoint.contains(&cluster.dirs().savepoints.display().to_string()),
        "{savepoint}"
    );
    let status = client
        .savepoint_status(job_id, &trigger.request_id)
        .await
        .unwrap();
    assert!(status.is_completed());

    // Stop with savepoint; the job ends FINISHED.
    wait_for_lines(&first_out, 3, 10).await;
    let trigger = client
        .stop_with_savepoint(job_id, &StopRequest::default())
        .await
        .unwrap();
    let stop_savepoint = client
        .wait_for_savepoint(job_id, &trigger.request_id, WAIT)
        .await
        .unwrap();
    let state = client
        .wait_for_job_state(job_id, WAIT, JobState::is_globally_terminal)
        .await
        .unwrap();
    assert_eq!(state, JobState::Finished);
    let before = last_per_key(&counts(&first_out));
    println!("counts at stop: {before:?}");

    // Run again from the stop savepoint: the counts continue.
    let second_out = out.join("counter-2.txt");
    let job2 = "d4e70000000000000000000000000002";
    let run2 = JarRunRequest {
        job_id: Some(job2.to_string()),
        program_args_list: vec!["--out".into(), second_out.display().to_string()],
        parallelism: Some(2),
        savepoint_path: Some(stop_savepoint.clone()),
        allow_non_restored_state: Some(false),
        claim_mode: Some(ClaimMode::NoClaim),
        ..JarRunRequest::default()
    };
    assert_eq!(client.run_jar(&jar_id, &run2).await.unwrap().jobid, job2);
    client
        .wait_for_job_state(job2, WAIT, |s| s == JobState::Running)
        .await
        .unwrap();
    wait_for_lines(&second_out, 3, 1).await;
    let after = first_per_key(&counts(&second_out));
    println!("first counts after restore: {after:?}");
    assert_eq!(after.len(), before.len());
    for (key, last) in &before {
        assert_eq!(
            after[key],
            last + 1,
            "key {key}: state did not continue (last {last} before the stop)"
        );
    }
    let restored = client
        .checkpoints(job2)
        .await
        .unwrap()
        .latest
        .restored
        .unwrap();
    assert!(restored.is_savepoint);
    assert_eq!(
        restored.external_path.as_deref(),
        Some(stop_savepoint.as_str())
    );

    // Cancel the second run.
    client.cancel_job(job2).await.unwrap();
    let state = client
        .wait_for_job_state(job2, WAIT, JobState::is_globally_terminal)
        .await
        .unwrap();
    assert_eq!(state, JobState::Canceled);

    // Dispose the first savepoint; its directory goes away.
    let local = savepoint.trim_start_matches("file:").to_string();
    assert!(Path::new(&local).exists(), "{local}");
    let trigger = client.dispose_savepoint(&savepoint).await.unwrap();
    client
        .wait_for_savepoint_disposal(&trigger.request_id, WAIT)
        .await
        .unwrap();
    assert!(!Path::new(&local).exists(), "{local} still exists");

    client.delete_jar(&jar_id).await.unwrap();
    assert!(client
        .jars()
        .await
        .unwrap()
        .files
        .iter()
        .all(|f| f.id != jar_id));
}

async fn failing_job(client: &FlinkClient, jar: &Path) {
    let jar_id = client.upload_jar(jar).await.unwrap().jar_id().to_string();
    let job_id = "d4e70000000000000000000000000003";
    let run = JarRunRequest {
        job_id: Some(job_id.into()),
        program_args_list: vec!["--fail-after".into(), "20".into()],
        ..JarRunRequest::default()
    };
    client.run_jar(&jar_id, &run).await.unwrap();
    let state = client
        .wait_for_job_state(job_id, WAIT, JobState::is_globally_terminal)
        .await
        .unwrap();
    assert_eq!(state, JobState::Failed);
    let exceptions = client.job_exceptions(job_id).await.unwrap();
    let latest = exceptions.latest().expect("an exception entry");
    // With restart strategy `none`, Flink wraps the cause in a JobException
    // ("Recovery is suppressed by NoRestartBackoffTimeStrategy").
    println!("exception: {}", latest.exception_name);
    assert!(
        latest
            .stacktrace
            .contains("java.lang.IllegalStateException: drey-test-failure after 20 records"),
        "{}",
        latest.stacktrace
    );
    let result = client.job_execution_result(job_id).await.unwrap();
    assert_eq!(result.status.id, QueueStatusId::Completed);
    let result = result.job_execution_result.unwrap();
    assert_eq!(result.application_status, "FAILED");
    let cause = result.failure_cause.unwrap();
    assert!(
        cause
            .stack_trace
            .as_deref()
            .unwrap_or_default()
            .contains("drey-test-failure after 20 records"),
        "{cause:?}"
    );
    client.delete_jar(&jar_id).await.unwrap();
}

async fn bounded_job(client: &FlinkClient, jar: &Path, out: &Path) {
    let jar_id = client.upload_jar(jar).await.unwrap().jar_id().to_string();
    let file = out.join("sum.txt");
    let job_id = "d4e70000000000000000000000000004";
    let run = JarRunRequest {
        job_id: Some(job_id.into()),
        program_args_list: vec![
            "--count".into(),
            "1000".into(),
            "--out".into(),
            file.display().to_string(),
        ],
        ..JarRunRequest::default()
    };
    client.run_jar(&jar_id, &run).await.unwrap();
    let state = client
        .wait_for_job_state(job_id, WAIT, JobState::is_globally_terminal)
        .await
        .unwrap();
    assert_eq!(state, JobState::Finished);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), "sum 500500");
    let result = client.job_execution_result(job_id).await.unwrap();
    assert_eq!(
        result.job_execution_result.unwrap().application_status,
        "SUCCEEDED"
    );
    // Submitting the same job id again is refused by Flink (what makes retries safe).
    let again = client.run_jar(&jar_id, &run).await.unwrap_err();
    println!("duplicate job id: {again}");
    assert!(again.status().is_some(), "{again:?}");
    client.delete_jar(&jar_id).await.unwrap();
}

async fn errors(client: &FlinkClient) {
    // Unknown job: 404 with Flink's message.
    let unknown = "ffffffffffffffffffffffffffffffff";
    let err = client.job(unknown).await.unwrap_err();
    match &err {
        FlinkError::Api { status, errors, .. } => {
            assert_eq!(*status, 404);
            assert!(errors.iter().any(|e| e.contains("not found")), "{errors:?}");
        }
        other => panic!("expected a Flink API error, got {other:?}"),
    }
    assert!(err.is_not_found());
    assert!(err.flink_message().unwrap().contains(unknown), "{err}");
    let err = client.cancel_job(unknown).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    // `/jobs/{id}/status` answers 500 with FlinkJobNotFoundException: still
    // "does not exist", the one answer that lets drey submit the job.
    let err = client.job_status(unknown).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    // A malformed job id: 400.
    let err = client.job("not-a-job-id").await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");

    // A jar that is not a jar: the upload is accepted by name, running it fails.
    let bogus = client
        .upload_jar_bytes("not-a-jar.jar", b"this is not a zip file".to_vec())
        .await;
    match bogus {
        Ok(up) => {
            let err = client
                .run_jar(up.jar_id(), &JarRunRequest::default())
                .await
                .unwrap_err();
            println!("running a non-jar: {err}");
            assert!(matches!(err, FlinkError::Api { .. }), "{err:?}");
            assert!(err.status().is_some_and(|s| s >= 400));
            client.delete_jar(up.jar_id()).await.unwrap();
        }
        Err(err) => {
            println!("uploading a non-jar: {err}");
            assert!(matches!(err, FlinkError::Api { .. }), "{err:?}");
        }
    }
    // A file that does not end in .jar is refused at upload.
    let err = client
        .upload_jar_bytes("notes.txt", b"hello".to_vec())
        .await
        .unwrap_err();
    println!("uploading a .txt: {err}");
    assert!(err.status().is_some_and(|s| s >= 400), "{err:?}");
    // Unknown jar id.
    let err = client
        .run_jar(
            "00000000-0000-0000-0000-000000000000_x.jar",
            &JarRunRequest::default(),
        )
        .await
        .unwrap_err();
    assert!(err.status().is_some_and(|s| s >= 400), "{err:?}");
    // Unknown savepoint trigger.
    let err = client
        .savepoint_status(unknown, "00000000000000000000000000000000")
        .await
        .unwrap_err();
    assert!(err.status().is_some_and(|s| s >= 400), "{err:?}");
}
