//! Local clusters against a real Flink 2.3: start, observe, stop, survive the drey-side
//! process, re-adopt, and fail clearly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{backend, port_free, process_gone, start, ClusterGuard};
use drey_flink::{ClientConfig, FlinkClient};
use drey_runtime::{ClusterRecord, ClusterSpec, RuntimeError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_taskmanagers_start_register_and_stop_cleanly() {
    let (backend, _dir) = backend();
    let mut spec = ClusterSpec::new("lifecycle");
    spec.task_managers = 2;
    spec.slots_per_task_manager = 1;
    spec.flink_configuration
        .insert("test.extra".to_string(), "applied".to_string());
    let guard = start(&backend, &spec).await;
    let cluster = guard.get();
    assert!(cluster.is_alive());
    assert_eq!(cluster.processes().len(), 3);

    // Both TaskManagers registered, under the resource ids drey gave them.
    let client = cluster.client();
    let mut ids: Vec<String> = client
        .taskmanagers()
        .await
        .unwrap()
        .taskmanagers
        .into_iter()
        .map(|t| t.id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["lifecycle-tm-0", "lifecycle-tm-1"]);
    let overview = client.overview().await.unwrap();
    assert_eq!(overview.taskmanagers, 2);
    assert_eq!(overview.slots_total, 2);
    assert_eq!(overview.flink_version, "2.3.0");

    // The cluster's own configuration is in effect, including the extra key.
    let config = client.jobmanager_config().await.unwrap();
    let get = |k: &str| config.iter().find(|e| e.key == k).map(|e| e.value.clone());
    assert_eq!(get("test.extra").as_deref(), Some("applied"));
    assert_eq!(
        get("rest.port"),
        Some(cluster.record().rest_port.to_string())
    );
    let savepoint_dir = get("execution.checkpointing.savepoint-dir").unwrap();
    assert!(
        savepoint_dir.contains("clusters/lifecycle/savepoints"),
        "{savepoint_dir}"
    );

    // Its own network namespace: every process in the keeper's, none in drey's; the REST
    // API and each process's metrics reporter forwarded from the host's loopback.
    let network = cluster
        .record()
        .network
        .clone()
        .expect("a network namespace");
    let net_of = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    for p in cluster.processes() {
        assert_eq!(net_of(p.pid), net_of(network.keeper_pid), "{p:?}");
    }
    assert_ne!(net_of(network.keeper_pid), net_of(std::process::id()));
    let mut forwarded = vec![cluster.record().rest_port];
    forwarded.extend(cluster.processes().iter().filter_map(|p| p.metrics_port));
    assert_eq!(network.forwarded, forwarded);
    assert_eq!(forwarded.len(), 4);
    for port in &forwarded[1..] {
        let text = http_get(*port, "/metrics");
        assert!(text.contains("flink_"), "{port}: {text:.200}");
    }

    // cluster.json is on disk and a second backend (a new drey process) adopts it.
    let on_disk: ClusterRecord =
        serde_json::from_slice(&std::fs::read(cluster.dirs().record_file()).unwrap()).unwrap();
    assert_eq!(&on_disk, cluster.record());
    let listed = backend.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].alive);
    let adopted = backend
        .adopt("lifecycle")
        .await
        .unwrap()
        .expect("adoptable");
    assert_eq!(adopted.processes(), cluster.processes());
    assert!(adopted.is_alive());

    // ensure() returns the running cluster instead of starting another.
    let ensured = backend.ensure(&spec, Duration::from_secs(5)).await.unwrap();
    assert_eq!(ensured.processes(), cluster.processes());

    // Starting the same id again is refused while it runs.
    let again = backend.start(&spec, Duration::from_secs(5)).await;
    assert!(
        matches!(again, Err(RuntimeError::AlreadyRunning { .. })),
        "{again:?}"
    );

    // Stop: every process gone, every port free, no record left.
    let pids: Vec<u32> = cluster.processes().iter().map(|p| p.pid).collect();
    let record = cluster.record().clone();
    let started = Instant::now();
    guard.stop().await;
    println!("stop took {:?}", started.elapsed());
    for pid in pids.iter().chain([&network.keeper_pid, &network.pasta_pid]) {
        assert!(process_gone(*pid), "pid {pid} still alive");
    }
    for port in [record.rest_port, record.rpc_port, record.blob_port] {
        assert!(port_free(port), "port {port} still in use");
    }
    for p in &record.processes {
        if let Some(port) = p.rpc_port {
            assert!(port_free(port), "TaskManager port {port} still in use");
        }
    }
    assert!(backend.adopt("lifecycle").await.unwrap().is_none());
    assert!(backend.list().await.unwrap().is_empty());
    let err = client.overview().await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
}

/// Kill -9 the process that started a cluster: the cluster keeps running and the current
/// process adopts it from cluster.json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_outlives_its_starter_and_is_adopted() {
    let (backend, dir) = backend();
    common::flink_home();
    let mut starter = Command::new(env!("CARGO_BIN_EXE_drey-local-flink"))
        .args([
            "start",
            "--id",
            "orphan",
            "--task-managers",
            "1",
            "--hold",
            "--timeout",
            "180",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The starter prints the record once the cluster is ready, then holds.
    let stdout = starter.stdout.take().unwrap();
    let printed = tokio::task::spawn_blocking(move || {
        let mut json = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            json.push_str(&line);
            json.push('\n');
            if line == "}" {
                break;
            }
        }
        json
    })
    .await
    .unwrap();
    let record: ClusterRecord = serde_json::from_str(&printed)
        .unwrap_or_else(|e| panic!("starter printed no record ({e}): {printed}"));

    // From here on, make sure the cluster dies with the test whatever happens.
    struct KillOnDrop(ClusterRecord);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let network = self
                .0
                .network
                .iter()
                .flat_map(|n| [n.keeper_pid, n.pasta_pid]);
            for group in self.0.processes.iter().map(|p| p.group()).chain(network) {
                if !common::process_gone(group) {
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{group}")])
                        .status();
                }
            }
        }
    }
    let _safety = KillOnDrop(record.clone());

    // kill -9 the drey-side process.
    starter.kill().unwrap();
    let status = starter.wait().unwrap();
    assert!(!status.success());

    // The cluster still answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = backend
        .client_for_url(&record.rest_url(), ClientConfig::default())
        .await
        .unwrap();
    let overview = client.overview().await.unwrap();
    assert_eq!(overview.taskmanagers, 1);
    for p in &record.processes {
        assert!(!process_gone(p.pid), "pid {} died with its starter", p.pid);
    }
    let network = record.network.clone().expect("a network namespace");
    for pid in [network.keeper_pid, network.pasta_pid] {
        assert!(
            !process_gone(pid),
            "network pid {pid} died with its starter"
        );
    }

    // This process adopts it and stops it.
    let adopted = backend.adopt("orphan").await.unwrap().expect("adoptable");
    assert!(adopted.is_alive());
    assert_eq!(adopted.processes(), record.processes.as_slice());
    assert_eq!(adopted.client().overview().await.unwrap().taskmanagers, 1);
    drop(adopted);

    // A TaskManager dies: the cluster is still adopted (so it can be stopped), but degraded.
    let tm = record.processes[1].pid;
    Command::new("kill")
        .args(["-KILL", &tm.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process_gone(tm) {
        assert!(
            Instant::now() < deadline,
            "TaskManager {tm} survived SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let adopted = backend
        .adopt("orphan")
        .await
        .unwrap()
        .expect("still adoptable");
    assert!(!adopted.is_alive());
    let listed = backend.list().await.unwrap();
    assert_eq!((listed[0].alive, listed[0].live_processes), (false, 1));
    let guard = ClusterGuard(Some(adopted));
    guard.stop().await;
    for p in &record.processes {
        assert!(process_gone(p.pid));
    }
    assert!(process_gone(network.keeper_pid) && process_gone(network.pasta_pid));
    assert!(port_free(record.rest_port));

    // A record whose pids are gone (or recycled) is never adopted.
    std::fs::write(
        dir.path().join("clusters/orphan/cluster.json"),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
    assert!(backend.adopt("orphan").await.unwrap().is_none());
    let mut recycled = record.clone();
    recycled.processes[0].pid = std::process::id(); // alive, but not the recorded process
    std::fs::write(
        dir.path().join("clusters/orphan/cluster.json"),
        serde_json::to_vec(&recycled).unwrap(),
    )
    .unwrap();
    assert!(backend.adopt("orphan").await.unwrap().is_none());
}

/// A cluster that cannot start fails with the reason and the tail of its log, and leaves
/// no process behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_start_reports_the_log_tail_and_cleans_up() {
    let (backend, dir) = backend();
    let mut spec = ClusterSpec::new("too-small");
    spec.taskmanager_memory = "300m".to_string();
    let err = backend
        .start(&spec, Duration::from_secs(120))
        .await
        .expect_err("a 300m TaskManager cannot start");
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, RuntimeError::StartFailed { .. }), "{err:?}");
    assert!(msg.contains("taskmanager-0 exited"), "{msg}");
    assert!(msg.contains("memory"), "{msg}");
    assert!(!dir.path().join("clusters/too-small/cluster.json").exists());
    let leftover = Command::new("pgrep")
        .args(["-f", &format!("drey.cluster-dir={}", dir.path().display())])
        .output()
        .unwrap();
    assert!(leftover.stdout.is_empty(), "processes left: {:?}", leftover);
}

/// drey's ports, addresses and JVM options win over a cluster spec's
/// (defence in depth: the API refuses them already): a spec asking for a
/// taken REST port, a public bind address and JVM options gets none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_spec_cannot_override_drey_owned_options() {
    let (backend, _dir) = backend();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut spec = ClusterSpec::new("owned-options");
    for (k, v) in [
        ("rest.port", port.to_string()),
        ("rest.bind-address", "0.0.0.0".to_string()),
        ("env.java.opts.all", "-Ddrey.test.injected=1".to_string()),
        (
            "security.ssl.rest.authentication-enabled",
            "false".to_string(),
        ),
        ("test.extra", "applied".to_string()),
    ] {
        spec.flink_configuration.insert(k.to_string(), v);
    }
    let guard = start(&backend, &spec).await;
    let cluster = guard.get();
    assert!(cluster.is_alive());
    assert_ne!(cluster.record().rest_port, port);
    let conf =
        std::fs::read_to_string(cluster.record().cluster_dir.join("conf/config.yaml")).unwrap();
    assert!(conf.contains("rest.bind-address: 127.0.0.1"), "{conf}");
    assert!(!conf.contains("0.0.0.0"), "{conf}");
    assert!(!conf.contains("drey.test.injected"), "{conf}");
    assert!(
        conf.contains("security.ssl.rest.authentication-enabled: 'true'"),
        "{conf}"
    );
    assert!(!conf.contains("authentication-enabled: 'false'"), "{conf}");
    assert!(conf.contains("test.extra: applied"), "{conf}");
    drop(taken);
}

/// The network namespace loses its pasta, then its keeper (kill -9): the JVMs and their
/// jobs are never touched; the next adoption (every look of the reconcilers) replaces
/// what died, in the same namespace, and the REST API answers again. A stop leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_network_process_is_replaced_without_touching_the_jvms() {
    let (backend, _dir) = backend();
    let spec = ClusterSpec::new("network-fault");
    let guard = start(&backend, &spec).await;
    let cluster = guard.get();
    let jvms: Vec<u32> = cluster.processes().iter().map(|p| p.pid).collect();
    let net_of = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let namespace = net_of(jvms[0]);
    let mut network = cluster
        .record()
        .network
        .clone()
        .expect("a network namespace");
    for victim in ["pasta", "keeper"] {
        let pid = match victim {
            "pasta" => network.pasta_pid,
            _ => network.keeper_pid,
        };
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !process_gone(pid) {
            assert!(Instant::now() < deadline, "{victim} survived SIGKILL");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if victim == "pasta" {
            let err = cluster.client().overview().await.unwrap_err();
            assert!(err.is_unreachable(), "{err:?}");
        }
        let adopted = backend
            .adopt("network-fault")
            .await
            .unwrap()
            .expect("adoptable");
        assert!(adopted.is_alive(), "{victim} replaced");
        let now: Vec<u32> = adopted.processes().iter().map(|p| p.pid).collect();
        assert_eq!(now, jvms, "the JVMs are the same");
        let repaired = adopted.record().network.clone().unwrap();
        assert_eq!(net_of(repaired.keeper_pid), namespace, "the same namespace");
        assert_eq!(repaired.forwarded, network.forwarded);
        assert_eq!(adopted.client().overview().await.unwrap().taskmanagers, 1);
        network = repaired;
    }
    // The record on disk names the replacements; a stop takes them down too.
    let on_disk: ClusterRecord =
        serde_json::from_slice(&std::fs::read(cluster.dirs().record_file()).unwrap()).unwrap();
    assert_eq!(on_disk.network.as_ref(), Some(&network));
    drop(guard);
    backend
        .stop("network-fault", Duration::from_secs(10))
        .await
        .unwrap();
    // SIGKILLed: gone within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in jvms.iter().chain([&network.keeper_pid, &network.pasta_pid]) {
        while !process_gone(*pid) {
            assert!(Instant::now() < deadline, "pid {pid} still alive");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// pasta is killed and another process takes the REST port it forwarded, so no new pasta
/// can be made: the cluster is *unknown* (never gone), `launch` and `ensure` refuse to
/// touch it (its JVMs live on), and once the port is free again the next look repairs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_cannot_be_repaired_leaves_the_jvms_alone() {
    use drey_runtime::JobBackend;
    let (backend, _dir) = backend();
    let spec = ClusterSpec::new("network-stuck");
    let guard = start(&backend, &spec).await;
    let cluster = guard.get();
    let jvms: Vec<u32> = cluster.processes().iter().map(|p| p.pid).collect();
    let network = cluster
        .record()
        .network
        .clone()
        .expect("a network namespace");
    Command::new("kill")
        .args(["-KILL", &network.pasta_pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let squatter = loop {
        // pasta's listening socket goes with it; then the port is ours.
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", cluster.record().rest_port)) {
            break l;
        }
        assert!(Instant::now() < deadline, "the REST port stayed taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let look = backend.look("network-stuck").await;
    assert!(
        matches!(look, drey_model::Observation::Unknown(_)),
        "{look:?}"
    );
    let refused = backend.launch(&spec).await;
    assert!(
        matches!(refused, Err(RuntimeError::NetworkDown { .. })),
        "{refused:?}"
    );
    let refused = backend.ensure(&spec, Duration::from_secs(5)).await;
    assert!(
        matches!(refused, Err(RuntimeError::NetworkDown { .. })),
        "{refused:?}"
    );
    for pid in &jvms {
        assert!(!process_gone(*pid), "JVM {pid} was touched");
    }

    drop(squatter);
    let repaired = backend.adopt("network-stuck").await.unwrap().unwrap();
    assert!(repaired.is_alive());
    let now: Vec<u32> = repaired.processes().iter().map(|p| p.pid).collect();
    assert_eq!(now, jvms);
    assert_eq!(repaired.client().overview().await.unwrap().taskmanagers, 1);
    drop(repaired);
    drop(guard);
    backend
        .stop("network-stuck", Duration::from_secs(10))
        .await
        .unwrap();
}

/// An unreachable cluster is a typed error within a bounded time.
#[tokio::test]
async fn unreachable_cluster_is_a_typed_error_in_bounded_time() {
    let config = ClientConfig {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(1),
        get_retries: 2,
        retry_backoff: Duration::from_millis(50),
        ..ClientConfig::default()
    };
    let bound = config.worst_case_get() + Duration::from_millis(500);
    // Nothing listens on this port: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Something accepts connections (kernel backlog) but never answers: request timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{silent_port}"),
    ] {
        let client = FlinkClient::with_config(url.clone(), config.clone()).unwrap();
        let started = Instant::now();
        let err = client.jobs_overview().await.unwrap_err();
        let took = started.elapsed();
        assert!(err.is_unreachable(), "{url}: {err:?}");
        assert!(took < bound, "{url}: took {took:?}, bound {bound:?}");
        // Non-idempotent calls are not retried and fail the same way.
        let err = client.cancel_job(&"0".repeat(32)).await.unwrap_err();
        assert!(err.is_unreachable(), "{url}: {err:?}");
    }
    drop(silent);
}

/// A plain HTTP/1.0 GET of `path` on 127.0.0.1:`port`: the whole answer.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}
