//! Failover of replicas on one real PostgreSQL: `kill -9` of the leader,
//! then the time until another replica says on `/readyz` that it leads (it
//! resyncs and runs every controller from that moment). The killed replica
//! comes back as a standby for the next run.

use crate::{postgres, spawn, Proc};
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One replica: its process and base URL.
struct Replica {
    proc: Proc,
    base: String,
}

fn start(drey: &Path, data: &Path, url: &str, lease: u64, id: usize) -> anyhow::Result<Replica> {
    let mut cmd = Command::new(drey);
    cmd.args(["server", "--listen", "127.0.0.1:0", "--log", "warn"])
        .arg("--data-dir")
        .arg(data.join(format!("replica-{id}")))
        .args(["--database-url", url])
        // Every replica must open the same sealed data.
        .args([
            "--secret-key",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ])
        .args(["--leader-lease-seconds", &lease.to_string()])
        .args(["--replica-id", &format!("bench-{id}")]);
    let (proc, base) = spawn(cmd, "drey listening on ")?;
    Ok(Replica { proc, base })
}

async fn leads(client: &reqwest::Client, replica: &Replica) -> bool {
    let Ok(response) = client.get(format!("{}/readyz", replica.base)).send().await else {
        return false;
    };
    let Ok(body) = response.json::<Value>().await else {
        return false;
    };
    body["leader"] == true
}

/// The one replica that leads, waiting up to `limit` for there to be one.
async fn leader(
    client: &reqwest::Client,
    replicas: &[Replica],
    limit: Duration,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + limit;
    loop {
        let mut leading = Vec::new();
        for (i, r) in replicas.iter().enumerate() {
            if leads(client, r).await {
                leading.push(i);
            }
        }
        match leading[..] {
            [one] => return Ok(one),
            [] if Instant::now() < deadline => {}
            [] => bail!("no replica leads after {limit:?}"),
            _ => bail!("replicas {leading:?} lead at once"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run(drey: &Path, replicas: usize, lease: u64, runs: usize) -> anyhow::Result<()> {
    if replicas < 2 {
        bail!("failover needs at least 2 replicas");
    }
    let data = tempfile::tempdir()?;
    let url = postgres::server().create_database();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let mut all = Vec::new();
    for id in 0..replicas {
        all.push(start(drey, data.path(), &url, lease, id).context("start a replica")?);
    }
    let limit = Duration::from_secs(lease * 5 + 30);
    let mut times = Vec::new();
    for run in 0..runs {
        let old = leader(&client, &all, limit).await?;
        let killed = Instant::now();
        nix_kill9(&mut all[old].proc)?;
        let rest: Vec<usize> = (0..all.len()).filter(|i| *i != old).collect();
        let new = loop {
            let mut found = None;
            for &i in &rest {
                if leads(&client, &all[i]).await {
                    found = Some(i);
                }
            }
            if let Some(i) = found {
                break i;
            }
            if killed.elapsed() > limit {
                bail!("no replica took over within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = killed.elapsed();
        println!(
            "run {}: killed bench-{old}, bench-{new} leads after {:.2} s",
            run + 1,
            took.as_secs_f64()
        );
        times.push(took.as_secs_f64());
        all[old] = start(drey, data.path(), &url, lease, old)?;
    }
    let max = times.iter().cloned().fold(0.0, f64::max);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!();
    println!(
        "failover, {replicas} replicas on PostgreSQL, --leader-lease-seconds {lease}: \
         mean {mean:.2} s, max {max:.2} s over {} kills (target within 15 s: {})",
        times.len(),
        if max <= 15.0 { "met" } else { "not met" }
    );
    Ok(())
}

fn nix_kill9(proc: &mut Proc) -> anyhow::Result<()> {
    proc.0.kill().context("kill -9 the leader")?;
    proc.0.wait()?;
    Ok(())
}
