//! Shared helpers for the real-Flink integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use drey_runtime::{ClusterSpec, FlinkHome, LocalBackend, LocalCluster};

/// The Flink distribution, or a panic that says how to install it. Tests never skip.
pub fn flink_home() -> FlinkHome {
    FlinkHome::discover(None).unwrap_or_else(|e| {
        panic!(
            "these tests need a real Flink 2.3: run scripts/install-flink.sh and \
             scripts/build-testjobs.sh first (or set FLINK_HOME). {e}"
        )
    })
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// A test job jar built by scripts/build-testjobs.sh, or a panic that says how to build it.
pub fn testjob(name: &str) -> PathBuf {
    let jar = repo_root()
        .join("target/testjobs")
        .join(format!("{name}.jar"));
    assert!(
        jar.exists(),
        "{} is missing: run scripts/build-testjobs.sh (it installs Flink and a JDK first)",
        jar.display()
    );
    jar
}

/// A backend over a fresh temporary data directory (kept alive by the returned TempDir).
pub fn backend() -> (LocalBackend, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("drey-runtime-test-")
        .tempdir()
        .unwrap();
    (LocalBackend::new(flink_home(), dir.path()), dir)
}

/// Kills the cluster's process groups when dropped (a failed assertion must not leave
/// JVMs behind). `stop` shuts it down gracefully instead.
pub struct ClusterGuard(pub Option<LocalCluster>);

impl ClusterGuard {
    pub fn get(&self) -> &LocalCluster {
        self.0.as_ref().unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(c) = self.0.take() {
            c.stop(Duration::from_secs(20)).await.unwrap();
        }
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.kill();
        }
    }
}

/// Starts a cluster and wraps it in a guard.
pub async fn start(backend: &LocalBackend, spec: &ClusterSpec) -> ClusterGuard {
    let cluster = backend
        .start(spec, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("cannot start cluster {}: {e}", spec.id));
    ClusterGuard(Some(cluster))
}

/// True when no process with this pid exists (or it is a zombie).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

/// True when nothing listens on the port.
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A process's command line, arguments joined by spaces ("" when it is gone).
pub fn proc_cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// True when no live (not zombie) process is in process group `pgid`.
pub fn group_gone(pgid: u32) -> bool {
    let entries = std::fs::read_dir("/proc").unwrap();
    !entries.flatten().any(|e| {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.first().is_some_and(|s| *s != "Z" && *s != "X")
            && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
    })
}
