//! Statement latency: through drey's CMF API against the same SQL Gateway
//! spoken to directly (session, statement, result pages) on the same pool
//! cluster — the direct path is what a statement costs without drey.

use crate::spawn;
use anyhow::{bail, Context};
use drey_flink::SqlGatewayClient;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const VALUES: &str = "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)";

struct Figures(Vec<Duration>);

impl Figures {
    fn line(&self, what: &str) -> String {
        let mut sorted = self.0.clone();
        sorted.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{what:<44} n={:<3} p50 {:>8.1} ms   max {:>8.1} ms",
            sorted.len(),
            sorted.get(sorted.len() / 2).copied().map(ms).unwrap_or(0.0),
            sorted.last().copied().map(ms).unwrap_or(0.0),
        )
    }
}

async fn post_statement(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    sql: &str,
) -> anyhow::Result<Value> {
    let body = json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Statement",
        "metadata": {"name": name}, "spec": {"statement": sql, "computePoolName": "pool"}});
    Ok(client
        .post(format!("{base}/statements"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// POST of a bounded query until its last row is read through `/results`.
async fn query_via_drey(
    client: &reqwest::Client,
    base: &str,
    name: &str,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    post_statement(client, base, name, VALUES).await?;
    let mut token = String::new();
    let mut rows = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{base}/statements/{name}/results?page-token={token}"
            ))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        rows += page["results"]["data"].as_array().map_or(0, Vec::len);
        let next = page["metadata"]["annotations"]["nextPageToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if next.is_empty() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            bail!("{name}: no end of results");
        }
        if next == token {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        token = next;
    }
    if rows != 2 {
        bail!("{name}: {rows} rows");
    }
    Ok(t0.elapsed())
}

/// The same query straight through the gateway to the same cluster.
async fn query_direct(gateway: &SqlGatewayClient, rest_url: &str) -> anyhow::Result<Duration> {
    let url = reqwest::Url::parse(rest_url)?;
    let props: BTreeMap<String, String> = [
        ("execution.target", "remote".to_owned()),
        (
            "rest.address",
            url.host_str().unwrap_or("127.0.0.1").to_owned(),
        ),
        ("rest.port", url.port().unwrap_or(8081).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let t0 = Instant::now();
    let session = gateway.open_session(Some("bench"), &props).await?;
    let (op, collected) = gateway
        .execute_and_collect(
            &session,
            VALUES,
            &BTreeMap::new(),
            100,
            Duration::from_secs(120),
        )
        .await?;
    let elapsed = t0.elapsed();
    if collected.rows.len() != 2 {
        bail!("direct: {} rows", collected.rows.len());
    }
    let _ = gateway.close_operation(&session, &op).await;
    let _ = gateway.close_session(&session).await;
    Ok(elapsed)
}

/// Runs `runs` statements of each kind and prints the figures.
pub async fn run(drey: &Path, runs: usize) -> anyhow::Result<()> {
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
    .arg(&data);
    let (_server, root) = spawn(cmd, "drey listening on ")?;
    let client = reqwest::Client::new();
    client
        .post(format!("{root}/cmf/api/v1/environments"))
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?;
    let base = format!("{root}/cmf/api/v1/environments/bench");
    client
        .post(format!("{base}/compute-pools"))
        .json(
            &json!({"metadata": {"name": "pool"}, "spec": {"type": "SHARED", "clusterSpec": {
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "4"}}}}),
        )
        .send()
        .await?
        .error_for_status()?;
    let t0 = Instant::now();
    let rest_url = loop {
        let pool: Value = client
            .get(format!("{base}/compute-pools/pool"))
            .send()
            .await?
            .json()
            .await?;
        if let Some(url) = pool["status"]["clusterInfo"]["restUrl"].as_str() {
            break url.to_owned();
        }
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("the pool did not start: {}", pool["status"]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "pool cluster RUNNING after {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    let t0 = Instant::now();
    let first = post_statement(&client, &base, "warm-up", "SHOW TABLES").await?;
    println!(
        "first statement (starts the SQL service) {:.2} s, {}",
        t0.elapsed().as_secs_f64(),
        first["status"]["phase"]
    );
    let mut ddl = Figures(Vec::new());
    for i in 0..runs {
        let t = Instant::now();
        let sql = format!("CREATE TABLE t{i} (id BIGINT) WITH ('connector' = 'datagen')");
        let answer = post_statement(&client, &base, &format!("ddl-{i}"), &sql).await?;
        if answer["status"]["phase"] != "COMPLETED" {
            bail!("ddl-{i}: {}", answer["status"]);
        }
        ddl.0.push(t.elapsed());
    }
    let gateway_url = std::fs::read_to_string(data.join("sql-gateway").join("service.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["port"].as_u64())
        .map(|p| format!("http://127.0.0.1:{p}"))
        .context("drey's SQL service record")?;
    let gateway = SqlGatewayClient::new(&gateway_url)?;
    let (mut via_drey, mut direct) = (Figures(Vec::new()), Figures(Vec::new()));
    for i in 0..runs {
        direct.0.push(query_direct(&gateway, &rest_url).await?);
        via_drey
            .0
            .push(query_via_drey(&client, &base, &format!("query-{i}")).await?);
    }
    println!(
        "statement latency, {runs} run(s) each ({} tables in the catalog at the end):",
        runs
    );
    println!("{}", ddl.line("CREATE TABLE: POST -> COMPLETED (drey)"));
    println!(
        "{}",
        direct.line("bounded query, gateway directly: last row")
    );
    println!("{}", via_drey.line("bounded query, drey: POST -> last row"));
    let p50 = |f: &Figures| {
        let mut s = f.0.clone();
        s.sort();
        s.get(s.len() / 2)
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
    };
    if p50(&direct) > 0.0 {
        println!(
            "drey's overhead on a bounded query (p50): {:+.0}%",
            (p50(&via_drey) / p50(&direct) - 1.0) * 100.0
        );
    }
    // Leave nothing running: the pool's cluster and the SQL service outlive drey.
    kill_processes_under(&data);
    Ok(())
}

/// Kills every process whose command line names `dir` (clusters, the SQL service).
fn kill_processes_under(dir: &Path) {
    let needle = dir.to_string_lossy().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }
}
