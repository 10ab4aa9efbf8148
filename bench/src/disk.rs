//! Disk use over deploy/suspend cycles: one `savepoint`-mode application
//! started and suspended N times (a cluster, a savepoint and checkpoints
//! each time), then the bytes drey's data dir holds, by top-level entry.
//! With retention that figure stays flat as N grows.

use crate::spawn;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ENTRY: &str = "io.drey.testjobs.StatefulCounter";

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| bytes_under(&e.path()))
        .sum()
}

/// Bytes per top-level entry of the data dir.
fn breakdown(data: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(data)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes_under(&e.path()),
            )
        })
        .collect()
}

async fn wait_until(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let app: Value = client.get(url).send().await?.json().await?;
        if check(&app["status"]) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("not {what} after 300 s: {}", app["status"]);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn print(label: &str, data: &Path) {
    let parts = breakdown(data);
    let total: u64 = parts.values().sum();
    let detail: Vec<String> = parts
        .iter()
        .filter(|(_, b)| **b > 0)
        .map(|(name, b)| format!("{name} {b}"))
        .collect();
    println!("{label}: {total} bytes ({})", detail.join(", "));
}

/// Runs `cycles` deploy/suspend cycles and prints the data dir's size.
pub async fn run(drey: &Path, jar: &Path, cycles: usize) -> anyhow::Result<()> {
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
    let client = reqwest::Client::new();
    client
        .post(format!("{base}/cmf/api/v1/environments"))
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?;
    let apps = format!("{base}/cmf/api/v1/environments/bench/applications");
    let url = format!("{apps}/cycles");
    let out = work.path().join("counts.txt");
    let app = |state: &str| {
        json!({
            "metadata": {"name": "cycles"},
            "spec": {"flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
                     "job": {"jarURI": format!("local://{}", jar.display()), "entryClass": ENTRY,
                             "args": ["--out", out.display().to_string(), "--rate", "20"],
                             "parallelism": 1, "state": state, "upgradeMode": "savepoint"}}
        })
    };
    println!("disk use: {cycles} deploy/suspend cycle(s) of one savepoint-mode application");
    let started = Instant::now();
    for cycle in 1..=cycles {
        client
            .post(&apps)
            .json(&app("running"))
            .send()
            .await?
            .error_for_status()?;
        wait_until(&client, &url, "RUNNING", |st| {
            st["jobStatus"]["state"] == "RUNNING"
        })
        .await?;
        client
            .post(&apps)
            .json(&app("suspended"))
            .send()
            .await?
            .error_for_status()?;
        wait_until(&client, &url, "SUSPENDED", |st| {
            st["lifecycleState"] == "SUSPENDED"
        })
        .await?;
        if cycle == 1 || cycle == cycles || cycle % 10 == 0 {
            print(&format!("after {cycle:>3} cycle(s)"), &data);
        }
    }
    println!(
        "{cycles} cycle(s) in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    print(
        &format!("disk used after {cycles} deploy/suspend cycles"),
        &data,
    );
    client.delete(&url).send().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.get(&url).send().await?.status() != 404 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    print("after deleting the application", &data);
    Ok(())
}
