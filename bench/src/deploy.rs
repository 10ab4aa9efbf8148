//! Deploy latency: drey (POST -> RUNNING) against the direct path (start the
//! same local cluster with drey's runtime code, upload and run the same jar
//! through Flink's REST API), printed side by side with drey's breakdown.

use crate::spawn;
use anyhow::{bail, Context};
use drey_flink::{JarRunRequest, JobState};
use drey_runtime::{ClusterSpec, FlinkHome, LocalBackend};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ENTRY: &str = "io.drey.testjobs.StatefulCounter";

struct Direct {
    cluster: Duration,
    upload: Duration,
    submit: Duration,
    running: Duration,
}

async fn direct(jar: &Path, work: &Path, run: usize) -> anyhow::Result<Direct> {
    let backend = LocalBackend::new(FlinkHome::discover(None)?, work);
    let mut spec = ClusterSpec::new(format!("direct-{run}"));
    spec.task_managers = 1;
    spec.slots_per_task_manager = 1;
    let t0 = Instant::now();
    let cluster = backend.start(&spec, Duration::from_secs(300)).await?;
    let cluster_time = t0.elapsed();
    let client = cluster.client();
    let t1 = Instant::now();
    let uploaded = client.upload_jar(jar).await?;
    let upload = t1.elapsed();
    let jar_id = uploaded
        .filename
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let t2 = Instant::now();
    let out = work.join(format!("direct-{run}.txt"));
    let response = client
        .run_jar(
            &jar_id,
            &JarRunRequest {
                entry_class: Some(ENTRY.into()),
                program_args_list: vec!["--out".into(), out.display().to_string()],
                parallelism: Some(1),
                ..JarRunRequest::default()
            },
        )
        .await?;
    let submit = t2.elapsed();
    client
        .wait_for_job_state(&response.jobid, Duration::from_secs(120), |s| {
            s == JobState::Running
        })
        .await?;
    let running = t0.elapsed();
    cluster.stop(Duration::from_secs(10)).await?;
    Ok(Direct {
        cluster: cluster_time,
        upload,
        submit,
        running,
    })
}

struct ViaDrey {
    total: Duration,
    breakdown: Vec<(String, i64)>,
}

async fn via_drey(base: &str, jar: &Path, work: &Path, run: usize) -> anyhow::Result<ViaDrey> {
    let client = reqwest::Client::new();
    let apps = format!("{base}/cmf/api/v1/environments/bench/applications");
    let name = format!("deploy-{run}");
    let out = work.join(format!("drey-{run}.txt"));
    let body = json!({
        "metadata": {"name": name},
        "spec": {"flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
                 "job": {"jarURI": format!("local://{}", jar.display()), "entryClass": ENTRY,
                         "args": ["--out", out.display().to_string()], "parallelism": 1,
                         "state": "running", "upgradeMode": "stateless"}}
    });
    let t0 = Instant::now();
    client
        .post(&apps)
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    loop {
        let app: Value = client
            .get(format!("{apps}/{name}"))
            .send()
            .await?
            .json()
            .await?;
        if app["status"]["jobStatus"]["state"] == "RUNNING" {
            break;
        }
        if app["status"]["lifecycleState"] == "FAILED" || t0.elapsed() > Duration::from_secs(300) {
            bail!("drey did not deploy: {}", app["status"]);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = t0.elapsed();
    let events: Value = client
        .get(format!(
            "{base}/cmf/api/v1alpha1/environments/bench/applications/{name}/events?size=50&sort=created_time,asc"
        ))
        .send()
        .await?
        .json()
        .await?;
    let mut breakdown = Vec::new();
    let mut previous: Option<i64> = None;
    for event in events["items"].as_array().cloned().unwrap_or_default() {
        let at = event["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default();
        let ms = chrono_ms(at);
        if let Some(p) = previous {
            breakdown.push((
                event["status"]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                ms - p,
            ));
        }
        previous = Some(ms);
    }
    client.delete(format!("{apps}/{name}")).send().await?;
    while client.get(format!("{apps}/{name}")).send().await?.status() != 404 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(ViaDrey { total, breakdown })
}

/// Milliseconds of day from `...THH:MM:SS.mmmZ` (enough for differences).
fn chrono_ms(at: &str) -> i64 {
    let time = at
        .split('T')
        .nth(1)
        .unwrap_or("0:0:0.0Z")
        .trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let m: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let s: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
    (h * 3600 + m * 60) * 1000 + (s * 1000.0) as i64
}

/// Runs both paths `runs` times and prints the figures.
pub async fn run(drey: &Path, jar: &Path, runs: usize) -> anyhow::Result<()> {
    let jar: PathBuf = jar
        .canonicalize()
        .with_context(|| format!("{} missing: run scripts/build-testjobs.sh", jar.display()))?;
    let work = tempfile::tempdir()?;
    let data = work.path().join("drey");
    std::fs::create_dir_all(&data)?;
    let mut cmd = Command::new(drey);
    cmd.args([
        "server",
        "--listen",
        "127.0.0.1:0",
        "--log",
        "warn",
        "--reconcile-interval-seconds",
        "1",
    ])
    .arg("--data-dir")
    .arg(&data)
    .arg("--jar-dir")
    .arg(jar.parent().unwrap_or(Path::new("/")));
    let (_server, base) = spawn(cmd, "drey listening on ")?;
    reqwest::Client::new()
        .post(format!("{base}/cmf/api/v1/environments"))
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?;
    println!(
        "deploy latency: POST -> job RUNNING, 1 JobManager + 1 TaskManager, {runs} run(s) each"
    );
    for run in 0..runs {
        let d = direct(&jar, work.path(), run).await?;
        println!(
            "direct run {run}: cluster {:>6.2} s  upload {:>5.2} s  submit {:>5.2} s  RUNNING after {:>6.2} s",
            d.cluster.as_secs_f64(),
            d.upload.as_secs_f64(),
            d.submit.as_secs_f64(),
            d.running.as_secs_f64()
        );
        let v = via_drey(&base, &jar, work.path(), run).await?;
        let steps: Vec<String> = v
            .breakdown
            .iter()
            .map(|(step, ms)| format!("{step} +{:.2}s", *ms as f64 / 1000.0))
            .collect();
        println!(
            "drey   run {run}: RUNNING after {:>6.2} s ({})",
            v.total.as_secs_f64(),
            steps.join(", ")
        );
        println!(
            "overhead run {run}: {:+.2} s ({:+.1}% of the direct path; target < 10%)",
            v.total.as_secs_f64() - d.running.as_secs_f64(),
            (v.total.as_secs_f64() / d.running.as_secs_f64() - 1.0) * 100.0
        );
    }
    Ok(())
}
