//! The attack matrix of issue 16 on real Flink: a tenant's job
//! (testjobs' `AttackJob`, run by drey like any application) tries, in its
//! JobManager and in a TaskManager, to read drey's database and key files
//! and another tenant's cluster files (its configuration, its certificates,
//! drey's client key for it), to call that tenant's JobManager REST API
//! (without a client certificate, and with drey's if it could read it), and
//! to bind a port on every address. It prints what it could do; the test
//! reads that from the processes' logs.
//!
//! With the default isolation (bubblewrap sandbox, REST SSL with mutual
//! authentication) every read and call fails. The same job under
//! `--cluster-isolation none` shows each would have worked without the
//! sandbox: it reads the keys and the database, and with drey's stolen
//! client key it calls the other tenant's JobManager.
//!
//! The job also binds a port on every address and serves from it, and calls
//! drey's API on the host's loopback. In its cluster's network namespace
//! (the default) the bind works there but nothing on the host reaches it, and
//! 127.0.0.1 is the namespace's own: drey's API, like the other cluster's
//! REST port, is not there. Without the sandbox the host reaches the job's
//! port and the job reaches drey.
//!
//! A second attack job runs as a session job on a compute pool of the
//! attacker's environment: the pool's cluster sees that environment's
//! checkpoints and savepoints (its jobs come and go) and no other's, so the
//! victim's state directories do not exist there; without the sandbox it
//! lists them.
//!
//! Code a statement loads runs in drey's SQL gateway, sandboxed the same
//! way: a function that looks for drey's files there finds none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ATTACKER: &str = "/cmf/api/v1/environments/attacker/applications";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_job_reaches_neither_drey_nor_another_tenant() {
    let sandboxed = attack(&[]).await;
    for side in ["jm", "tm"] {
        let lines = &sandboxed.lines[side];
        for path in &sandboxed.targets {
            let line = find(lines, &format!("read {} ", path.display()));
            assert!(line.contains(" denied "), "{side}: {line}");
        }
        // The other cluster's REST port is not even there: 127.0.0.1 is the
        // namespace's own loopback (without the namespace, the TLS handshake
        // refuses a client without drey's certificate: below).
        let rest = find(lines, "rest https://");
        assert!(rest.contains(" denied "), "{side}: {rest}");
        assert!(rest.contains("ConnectException"), "{side}: {rest}");
        let stolen = find(lines, "rest-as-drey ");
        assert!(stolen.contains(" denied "), "{side}: {stolen}");
        assert!(stolen.contains("NoSuchFile"), "{side}: {stolen}");
        // Nor is drey's API.
        let drey = find(lines, "drey http://");
        assert!(drey.contains(" denied "), "{side}: {drey}");
        assert!(drey.contains("ConnectException"), "{side}: {drey}");
        // No capability: even as root it cannot override file modes.
        let caps = find(lines, "caps ");
        assert_eq!(caps, "caps 0000000000000000", "{side}");
        // It may bind every address of its namespace; the host does not
        // reach what it serves there.
        let reached = &sandboxed.reached[side];
        assert!(
            reached.is_err(),
            "{side}: the job's port served {reached:?}"
        );
    }
    // On a pool: its own environment's state, nobody else's.
    for side in ["pool-jm", "pool-tm"] {
        let lines = &sandboxed.lines[side];
        for dir in &sandboxed.victim_state {
            let line = find(lines, &format!("list {} ", dir.display()));
            assert!(line.contains(" denied NoSuchFile"), "{side}: {line}");
        }
        let own = find(lines, &format!("list {} ", sandboxed.own_state.display()));
        assert!(own.contains(" ok "), "{side}: {own}");
        let drey = find(lines, "drey http://");
        assert!(drey.contains("ConnectException"), "{side}: {drey}");
        assert!(sandboxed.reached[side].is_err(), "{side}");
    }

    // The same job without the sandbox: everything it tried above works,
    // but a call without drey's client certificate (TLS alone holds).
    let open = attack(&["--cluster-isolation", "none"]).await;
    assert!(
        open.server_log
            .contains("INSECURE: --cluster-isolation none"),
        "drey warns: {}",
        open.server_log
    );
    for side in ["jm", "tm"] {
        let lines = &open.lines[side];
        for path in &open.targets {
            let line = find(lines, &format!("read {} ", path.display()));
            assert!(line.contains(" ok "), "{side}: {line}");
        }
        let rest = find(lines, "rest https://");
        assert!(rest.contains(" denied "), "{side}: {rest}");
        // The port answered; the TLS handshake refused a client without
        // drey's certificate (not a closed port).
        assert!(!rest.contains("ConnectException"), "{side}: {rest}");
        let stolen = find(lines, "rest-as-drey ");
        assert!(stolen.ends_with(" ok 200"), "{side}: {stolen}");
        let drey = find(lines, "drey http://");
        assert!(drey.ends_with(" ok 200"), "{side}: {drey}");
        let reached = &open.reached[side];
        assert_eq!(reached.as_deref(), Ok("attack-served\n"), "{side}");
    }
    for side in ["pool-jm", "pool-tm"] {
        for dir in &open.victim_state {
            let line = find(&open.lines[side], &format!("list {} ", dir.display()));
            assert!(line.contains(" ok "), "{side}: {line}");
        }
    }
}

/// The port of a `bind 0.0.0.0 ok <port>` line.
fn bound_port(line: &str) -> u16 {
    line.strip_prefix("bind 0.0.0.0 ok ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the job could not bind: {line}"))
}

/// What the host gets from 127.0.0.1:`port`: the job's greeting, or why not.
fn reach(port: u16) -> Result<String, String> {
    reach_io(port).map_err(|e| e.to_string())
}

fn reach_io(port: u16) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(5),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// What one run of the attack job reported, per process (`jm`, `tm`).
struct Attack {
    lines: std::collections::BTreeMap<&'static str, Vec<String>>,
    /// What the host got from the port each process bound, while the job ran.
    reached: std::collections::BTreeMap<&'static str, Result<String, String>>,
    /// The files it tried to read.
    targets: Vec<PathBuf>,
    /// The victim's checkpoint and savepoint directories, which the pooled job tried to list.
    victim_state: Vec<PathBuf>,
    /// The attacker's environment's checkpoints directory, which it listed too.
    own_state: PathBuf,
    server_log: String,
}

/// Code a statement loads runs in drey's SQL gateway while the statement is
/// planned: a `USING JAR` function is instantiated there. testjobs'
/// `PeekFunction` finds drey's data dir on the gateway's command line and
/// tries to read the database and keys. Sandboxed (the default), it reads
/// nothing; under `--cluster-isolation none` the same function reads them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_a_statement_loads_reads_nothing_of_drey() {
    let jar = testjobs().join("attack-job.jar");
    for (extra, sandboxed) in [
        (&[][..], true),
        (&["--cluster-isolation", "none"][..], false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // drey's SQL gateway outlives drey: it goes with the data dir.
        let _cleanup = KillClusters(dir.path().to_owned());
        let s = start_with_args(dir.path(), extra);
        let (code, body) = s
            .post("/namespaces/v1/namespaces", json!({"name": "peek"}))
            .await;
        assert_eq!(code, 201, "{body}");
        // Another environment's artifact, which statements of `peek` must not see.
        let foreign = dir.path().join("artifacts/default/other");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("foreign.jar"), b"not yours").unwrap();
        let scripts = "/sql/v1beta1/namespaces/peek/sqlscripts";
        let create = format!(
            "CREATE FUNCTION peek AS 'io.drey.testjobs.PeekFunction' USING JAR '{}'",
            jar.display()
        );
        let (_, created) = s
            .post(&format!("{scripts}:execute"), json!({"statement": create}))
            .await;
        let (_, checked) = s
            .post(
                &format!("{scripts}:validate"),
                json!({"statement": "SELECT peek('x')"}),
            )
            .await;
        let said = format!("{created} {checked}");
        let at = said
            .find("PEEK in ")
            .unwrap_or_else(|| panic!("the function never ran: {said}\n{}", s.log()));
        let report: String = said[at..]
            .chars()
            .take_while(|c| *c != '"' && *c != '\\')
            .collect();
        assert!(report.contains("io.drey.sqlgateway"), "{report}");
        for name in ["drey.db", "secret.key", "root.key"] {
            let want = if sandboxed {
                format!("{name} denied NoSuchFileException")
            } else {
                format!("{name} ok ")
            };
            assert!(report.contains(&want), "sandboxed {sandboxed}: {report}");
        }
        // The environment's gateway sees its own artifacts only.
        let artifacts = if sandboxed {
            "artifacts [default/peek]"
        } else {
            "artifacts [default/other, default/peek]"
        };
        assert!(
            report.contains(artifacts),
            "sandboxed {sandboxed}: {report}"
        );
    }
}

fn find<'a>(lines: &'a [String], what: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in {lines:#?}"))
}

/// Starts drey with `extra` arguments, a victim application in environment
/// `flink` and the attack job in environment `attacker`; returns what the
/// job reported.
async fn attack(extra: &[&str]) -> Attack {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let s = start_with_args(&data, extra);
    for env in ["flink", "attacker"] {
        let (code, body) = s
            .post("/cmf/api/v1/environments", json!({ "name": env }))
            .await;
        assert_eq!(code, 201, "{body}");
    }

    // The victim: a running job on a cluster of its own.
    let out = dir.path().join("victim.txt");
    let (code, body) = s
        .post(APPS, counter_app("victim", &out, 1, "stateless"))
        .await;
    assert_eq!(code, 201, "{body}");
    let limit = Duration::from_secs(240);
    let st = wait_for(&s, "victim", "RUNNING", limit, running).await;
    let rest_url = st["clusterInfo"]["restUrl"].as_str().unwrap().to_owned();
    let victim = data
        .join("clusters")
        .join(st["clusterInfo"]["clusterId"].as_str().unwrap());
    assert!(rest_url.starts_with("https://127.0.0.1:"), "{rest_url}");

    let targets = vec![
        data.join("drey.db"),
        data.join("secret.key"),
        data.join("root.key"),
        victim.join("conf/config.yaml"),
        victim.join("tls/rest.p12"),
        victim.join("drey/client.json"),
    ];
    for t in &targets {
        assert!(t.is_file(), "{} exists", t.display());
    }
    // The victim's state, in its environment's directories (`<kind>/<org>/flink/<uid>`).
    let victim_state: Vec<PathBuf> = ["checkpoints", "savepoints"]
        .iter()
        .map(|kind| {
            let envs = std::fs::read_dir(data.join(kind)).unwrap();
            let org = envs
                .flatten()
                .next()
                .expect("an organization's state")
                .path();
            let app = std::fs::read_dir(org.join("flink")).unwrap();
            app.flatten().next().expect("the victim's state").path()
        })
        .collect();
    let org_dir = victim_state[0]
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let own_state = org_dir.join("attacker");
    let read: Vec<String> = targets.iter().map(|p| p.display().to_string()).collect();
    let jar = testjobs().join("attack-job.jar");
    let (code, body) = s
        .post(
            ATTACKER,
            json!({
                "apiVersion": "cmf.confluent.io/v1",
                "kind": "FlinkApplication",
                "metadata": {"name": "attack"},
                "spec": {
                    "jobManager": {"resource": {"memory": "768m", "cpu": 1}},
                    "taskManager": {"resource": {"memory": "1024m", "cpu": 1}},
                    "job": {
                        "jarURI": format!("local://{}", jar.display()),
                        "entryClass": "io.drey.testjobs.AttackJob",
                        "args": ["--read", read.join(","), "--rest", rest_url,
                                 "--drey-dir", victim.join("drey").display().to_string(),
                                 "--drey", s.base.clone()],
                        "state": "running",
                        "parallelism": 1,
                        "upgradeMode": "stateless"
                    }
                }
            }),
        )
        .await;
    assert_eq!(code, 201, "{body}");

    // The same job as a session job on a compute pool of the attacker's environment.
    let (code, body) = s
        .post(
            "/cmf/api/v1/environments/attacker/compute-pools",
            json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
                   "metadata": {"name": "pool"},
                   "spec": {"type": "SHARED", "clusterSpec": {
                       "taskManager": {"resource": {"memory": "1024m"}, "replicas": 1},
                       "jobManager": {"resource": {"memory": "768m"}}}}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let list: Vec<String> = victim_state
        .iter()
        .chain([&own_state])
        .map(|p| p.display().to_string())
        .collect();
    let (code, body) = s
        .post(
            ATTACKER,
            json!({
                "apiVersion": "cmf.confluent.io/v1",
                "kind": "FlinkApplication",
                "metadata": {"name": "attack-pooled"},
                "spec": {
                    "deploymentName": "pool",
                    "job": {
                        "jarURI": format!("local://{}", jar.display()),
                        "entryClass": "io.drey.testjobs.AttackJob",
                        "args": ["--label", "pool", "--list", list.join(","),
                                 "--drey", s.base.clone()],
                        "state": "running",
                        "parallelism": 1,
                        "upgradeMode": "stateless"
                    }
                }
            }),
        )
        .await;
    assert_eq!(code, 201, "{body}");

    // One line per attempt, from the JobManagers and from the TaskManagers.
    let wanted = [
        ("jm", targets.len() + 4),
        ("tm", targets.len() + 4),
        ("pool-jm", list.len() + 3),
        ("pool-tm", list.len() + 3),
    ];
    let deadline = Instant::now() + limit;
    let lines = loop {
        let lines = attack_lines(&data.join("clusters"));
        if wanted
            .iter()
            .all(|(side, n)| lines.get(side).is_some_and(|l| l.len() >= *n))
        {
            break lines;
        }
        if Instant::now() > deadline {
            let (_, app) = s.get(&format!("{ATTACKER}/attack")).await;
            panic!(
                "the attack job did not report: {lines:#?}\n{app:#}\nlog:\n{}",
                s.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    println!("{lines:#?}");
    let reached = lines
        .iter()
        .map(|(side, l)| (*side, reach(bound_port(find(l, "bind 0.0.0.0 ")))))
        .collect();
    println!("{reached:#?}");
    let server_log = s.log();
    drop(s);
    Attack {
        lines,
        reached,
        targets,
        victim_state,
        own_state,
        server_log,
    }
}

/// The `ATTACK` lines in the `.out` logs of every cluster under `clusters`.
fn attack_lines(clusters: &Path) -> std::collections::BTreeMap<&'static str, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(clusters) else {
        return out;
    };
    for cluster in entries.flatten() {
        let Ok(logs) = std::fs::read_dir(cluster.path().join("log")) else {
            continue;
        };
        for process in logs.flatten() {
            let Ok(files) = std::fs::read_dir(process.path()) else {
                continue;
            };
            for file in files.flatten() {
                if file.path().extension().is_some_and(|e| e == "out") {
                    let text = std::fs::read_to_string(file.path()).unwrap_or_default();
                    for line in text.lines() {
                        for side in ["jm", "tm", "pool-jm", "pool-tm"] {
                            if let Some(rest) = line.strip_prefix(&format!("ATTACK {side} ")) {
                                out.entry(side)
                                    .or_insert_with(Vec::new)
                                    .push(rest.to_owned());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}
