//! Loads a real drey server over loopback and prints, side by side in one run,
//! requests per second and p50/p99 latency for GET of one application and for
//! a page of 100 out of 10,000 applications, against a minimal axum server
//! answering a fixed JSON body on the same machine (the ceiling). Also prints
//! drey's resident memory with everything stored. It never fails on timing.
//!
//! Run it with `scripts/bench.sh` (builds drey and this tool in release mode).

mod deploy;
mod disk;
mod failover;
#[path = "../../crates/drey-store/tests/support/postgres.rs"]
mod postgres;
mod sql;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "drey load benchmark")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// The drey binary to measure.
    #[arg(long, default_value = "target/release/drey")]
    drey: PathBuf,
    /// Applications to store before measuring.
    #[arg(long, default_value_t = 10_000)]
    apps: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Also measure drey on a real PostgreSQL (Debian's, started in a
    /// temporary directory), printed beside SQLite.
    #[arg(long)]
    postgres: bool,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Time from POST of an application to its job RUNNING, broken down,
    /// against the direct path (the same cluster, jar and REST calls
    /// without drey). Needs Flink and the test jobs (scripts/test.sh).
    Deploy {
        /// The job jar (the stateful test job by default).
        #[arg(long, default_value = "target/testjobs/stateful-counter.jar")]
        jar: PathBuf,
        /// Runs of each path.
        #[arg(long, default_value_t = 2)]
        runs: usize,
    },
    /// Statement latency on a SHARED pool: DDL (POST -> COMPLETED) and a
    /// bounded query (POST -> last row) through drey, against the same
    /// query through the SQL Gateway directly. Needs Flink and the SQL
    /// service jar (scripts/build-sql-gateway.sh).
    Sql {
        /// Statements of each kind.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Bytes drey's data dir holds after N deploy/suspend cycles of one
    /// application (a cluster, a savepoint and checkpoints each): retention
    /// keeps it flat. Needs Flink and the test jobs (scripts/test.sh).
    Disk {
        /// The job jar (the stateful test job by default).
        #[arg(long, default_value = "target/testjobs/stateful-counter.jar")]
        jar: PathBuf,
        /// Deploy/suspend cycles (100 is the long form; 3 a quick look).
        #[arg(long, default_value_t = 100)]
        cycles: usize,
    },
    /// Failover time of replicas on one PostgreSQL: kill -9 of the leader
    /// until another replica leads (and runs the reconcilers), per run.
    Failover {
        /// Replicas on the database.
        #[arg(long, default_value_t = 2)]
        replicas: usize,
        /// `--leader-lease-seconds` of the replicas (drey's default: 10).
        #[arg(long, default_value_t = 10)]
        lease: u64,
        /// Leaders killed, one after another.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Internal: serve a fixed JSON body (the ceiling) on port 0.
    Ceiling {
        /// File holding the body.
        body: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match &args.mode {
        Some(Mode::Ceiling { body }) => runtime.block_on(ceiling(body.clone())),
        Some(Mode::Deploy { jar, runs }) => runtime.block_on(deploy::run(&args.drey, jar, *runs)),
        Some(Mode::Sql { runs }) => runtime.block_on(sql::run(&args.drey, *runs)),
        Some(Mode::Disk { jar, cycles }) => runtime.block_on(disk::run(&args.drey, jar, *cycles)),
        Some(Mode::Failover {
            replicas,
            lease,
            runs,
        }) => runtime.block_on(failover::run(&args.drey, *replicas, *lease, *runs)),
        None => runtime.block_on(run(args)),
    }
}

async fn ceiling(body: PathBuf) -> anyhow::Result<()> {
    let body = Arc::new(std::fs::read(body)?);
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [("content-type", "application/json")],
                body.as_ref().clone(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("ceiling listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// A child process that is killed when dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn(mut cmd: Command, prefix: &str) -> anyhow::Result<(Proc, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let proc = Proc(child);
    match line.trim().strip_prefix(prefix) {
        Some(url) => Ok((proc, url.to_owned())),
        None => bail!("unexpected first line from {cmd:?}: {line:?}"),
    }
}

fn application(i: usize) -> Value {
    json!({
        "apiVersion": "cmf.confluent.io/v1",
        "kind": "FlinkApplication",
        "metadata": {"name": format!("app-{i:05}")},
        "spec": {
            "image": "confluentinc/cp-flink:1.19.1-cp2",
            "flinkVersion": "v1_19",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
            "serviceAccount": "flink",
            "jobManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "job": {"jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
                    "state": "running", "parallelism": 3, "upgradeMode": "stateless"}
        }
    })
}

struct Figures {
    requests: u64,
    errors: u64,
    seconds: f64,
    latency: Histogram<u64>,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Closed-loop load: `connections` tasks each sending GETs back to back.
async fn load(url: &str, connections: usize, seconds: u64) -> anyhow::Result<Figures> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    // Warm up connections and caches.
    for _ in 0..connections * 4 {
        client.get(url).send().await?.bytes().await?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let (mut ok, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await?;
                        ok += 1;
                        hist.record(t.elapsed().as_micros().max(1) as u64)?;
                    }
                    _ => errors += 1,
                }
            }
            anyhow::Ok((hist, ok, errors))
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut requests, mut errors) = (0, 0);
    for task in tasks {
        let (hist, ok, err) = task.await??;
        latency.add(hist)?;
        requests += ok;
        errors += err;
    }
    Ok(Figures {
        requests,
        errors,
        seconds: started.elapsed().as_secs_f64(),
        latency,
    })
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// What one store's API run measured.
struct ApiRun {
    store: &'static str,
    seed_secs: f64,
    get_one: Figures,
    page: Figures,
    page_alone: Figures,
    rss: Option<f64>,
}

async fn run(args: Args) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let (sqlite, body) = api_run(&args, &data.path().join("sqlite"), None).await?;
    let body_file = data.path().join("ceiling-body.json");
    std::fs::write(&body_file, &body)?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("ceiling").arg(&body_file);
    let (_ceiling, ceiling_url) = spawn(cmd, "ceiling listening on ")?;
    let ceiling = load(&format!("{ceiling_url}/"), args.connections, args.seconds).await?;
    let mut runs = vec![sqlite];
    if args.postgres {
        let url = postgres::server().create_database();
        runs.push(
            api_run(&args, &data.path().join("postgres"), Some(&url))
                .await?
                .0,
        );
    }
    print_api(&args, &ceiling, &runs);
    Ok(())
}

/// Seeds `args.apps` applications into a fresh server (on SQLite in
/// `data`, or on PostgreSQL at `database_url`) and loads it; returns the
/// figures and the body of one application (the ceiling's body).
async fn api_run(
    args: &Args,
    data: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<(ApiRun, Vec<u8>)> {
    std::fs::create_dir_all(data)?;
    let mut cmd = Command::new(&args.drey);
    cmd.args([
        "server",
        "--listen",
        "127.0.0.1:0",
        "--log",
        "warn",
        // The API alone: the stored applications point at jars that do
        // not exist here, and deploying them is not what this measures.
        "--reconciler",
        "off",
        "--data-dir",
    ])
    .arg(data);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let (drey, base) = spawn(cmd, "drey listening on ")
        .with_context(|| format!("is {} built? run scripts/bench.sh", args.drey.display()))?;
    let client = reqwest::Client::new();
    let apps = format!("{base}/cmf/api/v1/environments/bench/applications");
    client
        .post(format!("{base}/cmf/api/v1/environments"))
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?;

    let seeded = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (client, apps, next, total) = (client.clone(), apps.clone(), next.clone(), args.apps);
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                client
                    .post(&apps)
                    .json(&application(i))
                    .send()
                    .await?
                    .error_for_status()?;
            }
            anyhow::Ok(())
        }));
    }
    for w in writers {
        w.await??;
    }
    let seed_secs = seeded.elapsed().as_secs_f64();

    let one_url = format!("{apps}/app-{:05}", args.apps / 2);
    let body = client.get(&one_url).send().await?.bytes().await?.to_vec();
    let page_url = format!("{apps}?page={}&size=100", args.apps / 200);
    let (n, s) = (args.connections, args.seconds);
    let get_one = load(&one_url, n, s).await?;
    let page = load(&page_url, n, s).await?;
    let page_alone = load(&page_url, 1, s).await?;
    let rss = rss_mb(drey.0.id());
    let store = if database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    Ok((
        ApiRun {
            store,
            seed_secs,
            get_one,
            page,
            page_alone,
            rss,
        },
        body,
    ))
}

fn print_api(args: &Args, ceiling: &Figures, runs: &[ApiRun]) {
    let (n, s) = (args.connections, args.seconds);
    println!();
    println!(
        "drey benchmark: {} applications stored, {n} connections, {s} s per row, {} cores",
        args.apps,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    for run in runs {
        println!(
            "seeding ({}): {} POSTs in {:.1} s = {:.0} writes/s (each durable: committed before the answer)",
            run.store,
            args.apps,
            run.seed_secs,
            args.apps as f64 / run.seed_secs
        );
    }
    println!();
    println!(
        "{:<54} {:>10} {:>9} {:>9} {:>7}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let row = |name: &str, f: &Figures| {
        println!(
            "{:<54} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            name,
            f.rps(),
            f.ms(0.5),
            f.ms(0.99),
            f.errors
        );
    };
    row("ceiling: axum, fixed JSON body", ceiling);
    for run in runs {
        row(
            &format!("drey ({}): GET one application", run.store),
            &run.get_one,
        );
        row(
            &format!("drey ({}): GET page of 100 of all applications", run.store),
            &run.page,
        );
        row(
            &format!("drey ({}): same page, 1 connection", run.store),
            &run.page_alone,
        );
    }
    println!();
    for run in runs {
        let ratio = run.get_one.rps() / ceiling.rps();
        println!(
            "{}: GET one / ceiling throughput: {:.2} (target >= 0.50: {})",
            run.store,
            ratio,
            if ratio >= 0.5 { "met" } else { "not met" }
        );
        println!(
            "{}: page of 100 p99, 1 connection: {:.2} ms (target < 10 ms: {}); with {n} connections: {:.2} ms",
            run.store,
            run.page_alone.ms(0.99),
            if run.page_alone.ms(0.99) < 10.0 { "met" } else { "not met" },
            run.page.ms(0.99)
        );
        match run.rss {
            Some(mb) => println!(
                "{}: drey RSS with {} applications: {mb:.1} MB (target < 50 MB: {})",
                run.store,
                args.apps,
                if mb < 50.0 { "met" } else { "not met" }
            ),
            None => println!("drey RSS: unavailable (no /proc)"),
        }
    }
}
