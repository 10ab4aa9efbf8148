//! A network namespace per cluster: what a tenant's job can reach, and who can reach it.
//!
//! Without one, a cluster's processes share the host's network: a job can bind a port on
//! every address of the machine and serve from it, and connect to everything listening on
//! the host's loopback (drey's API, its SQL gateway, other tenants' ports).
//! [`ClusterNetwork::Namespace`] (the default with the sandbox) puts every process of one
//! cluster into one network namespace of its own:
//!
//! - **A keeper** holds the namespace: `unshare --user --map-root-user --net` running a
//!   shell that only sleeps, in a session of its own. Its user namespace maps drey's user
//!   to root and nothing else, which is what lets the next two join without privileges
//!   (and lets pasta attach when drey runs as root, where pasta drops to `nobody`
//!   otherwise). The processes join with `nsenter --user --net` before bwrap; bwrap then
//!   drops every capability as before.
//! - **pasta** (Debian's `passt`) attaches to it (`--config-net`): the namespace gets the
//!   host's address and routes, and its outbound TCP/UDP leaves through pasta's sockets on
//!   the host, so jobs reach Kafka, databases and object stores as before. Nothing comes in
//!   but the ports drey forwards (`-t <rest address>/<port>` for the REST API and each
//!   process's metrics reporter; `-u none`), and nothing reaches the host's loopback from
//!   inside (`-T none -U none`, `--no-map-gw`): 127.0.0.1 there is the namespace's own.
//!
//! Both are recorded in `cluster.json` with their start times, like the JVMs. One that
//! died while the JVMs live is replaced on the next adoption ([`repair`]) without touching
//! them; until then the cluster is not alive, and a look says *unknown*, never *gone*. A
//! stop kills them after the JVMs. Killing drey stops neither.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use tokio::process::Command;

use crate::error::RuntimeError;
use crate::process::{is_same_live_process, proc_stat, signal_group, tail};

/// Which network a sandboxed cluster's processes use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterNetwork {
    /// A network namespace per cluster, connected outwards by pasta; only drey's ports
    /// are forwarded in.
    #[default]
    Namespace,
    /// The host's network (a job can bind public ports and reach the host's loopback).
    Host,
}

impl std::fmt::Display for ClusterNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClusterNetwork::Namespace => "namespace",
            ClusterNetwork::Host => "host",
        })
    }
}

impl std::str::FromStr for ClusterNetwork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "namespace" => Ok(ClusterNetwork::Namespace),
            "host" => Ok(ClusterNetwork::Host),
            other => Err(format!(
                "unknown cluster network {other:?}: use namespace or host"
            )),
        }
    }
}

/// A cluster's network namespace, as `cluster.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// The process holding the namespace; the cluster's processes join its namespaces.
    pub keeper_pid: u32,
    /// Its start time (`/proc/<pid>/stat`).
    pub keeper_start_time: u64,
    /// pasta, attached to the namespace.
    pub pasta_pid: u32,
    /// Its start time.
    pub pasta_start_time: u64,
    /// The host address the ports are forwarded from.
    pub address: String,
    /// The host ports forwarded into the namespace (the same port numbers inside).
    pub forwarded: Vec<u16>,
}

impl NetworkRecord {
    /// What goes before bwrap to run a process inside the namespace.
    pub(crate) fn enter_prefix(&self) -> Result<Vec<OsString>, RuntimeError> {
        let nsenter = tool("nsenter")?;
        Ok(vec![
            nsenter.into(),
            "--target".into(),
            self.keeper_pid.to_string().into(),
            "--user".into(),
            "--net".into(),
            "--preserve-credentials".into(),
            "--".into(),
        ])
    }

    /// Whether the keeper and pasta are both the live processes drey started.
    pub fn is_alive(&self, marker: &str) -> bool {
        is_same_live_process(self.keeper_pid, self.keeper_start_time, marker)
            && is_same_live_process(self.pasta_pid, self.pasta_start_time, marker)
    }

    /// Kills pasta and the keeper (each is its own process group), when they are still
    /// the recorded processes. The cluster's JVMs go first: the namespace is theirs.
    pub(crate) fn kill(&self, marker: &str) {
        for (pid, start) in [
            (self.pasta_pid, self.pasta_start_time),
            (self.keeper_pid, self.keeper_start_time),
        ] {
            if is_same_live_process(pid, start, marker) {
                if let Err(e) = signal_group(pid, Signal::SIGKILL) {
                    tracing::warn!(pid, error = %e, "cannot kill a cluster's network process");
                }
            }
        }
    }

    /// Kills the processes of this record that `before` did not have (a repair that could
    /// not be recorded).
    pub(crate) fn kill_replacements(&self, before: &NetworkRecord, marker: &str) {
        for (pid, start, old) in [
            (self.pasta_pid, self.pasta_start_time, before.pasta_pid),
            (self.keeper_pid, self.keeper_start_time, before.keeper_pid),
        ] {
            if pid != old && is_same_live_process(pid, start, marker) {
                let _ = signal_group(pid, Signal::SIGKILL);
            }
        }
    }

    /// Kills them and waits (bounded) until they are gone and the forwarded ports free.
    pub(crate) async fn stop(&self, marker: &str) {
        self.kill(marker);
        let deadline = Instant::now() + Duration::from_secs(5);
        while (is_same_live_process(self.pasta_pid, self.pasta_start_time, marker)
            || is_same_live_process(self.keeper_pid, self.keeper_start_time, marker))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Where a tool drey runs is.
fn tool(name: &str) -> Result<PathBuf, RuntimeError> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .ok_or_else(|| {
            RuntimeError::Isolation(format!(
                "cluster network is 'namespace' but {name} is not installed: install Debian's \
                 passt and util-linux (scripts/install-flink.sh does), or start drey with \
                 --cluster-network host"
            ))
        })
}

/// Checks that a namespace can be made here: the tools exist and an unprivileged user and
/// network namespace can be created.
pub fn check_network() -> Result<(), RuntimeError> {
    for name in ["pasta", "nsenter"] {
        tool(name)?;
    }
    let unshare = tool("unshare")?;
    let output = std::process::Command::new(&unshare)
        .args(["--user", "--map-root-user", "--net", "--", "/bin/true"])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RuntimeError::Isolation(format!("cannot run {}: {e}", unshare.display())))?;
    if !output.status.success() {
        return Err(RuntimeError::Isolation(format!(
            "cluster network is 'namespace' but a user and network namespace cannot be made \
             here ({}): {}; allow unprivileged user namespaces, or start drey with \
             --cluster-network host",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    if !Path::new("/dev/net/tun").exists() {
        return Err(RuntimeError::Isolation(
            "cluster network is 'namespace' but /dev/net/tun (which pasta needs) is missing; \
             start drey with --cluster-network host"
                .into(),
        ));
    }
    Ok(())
}

/// Makes the namespace of the cluster in `cluster_dir` (its `log/network/` gets the two
/// processes' output) with `ports` forwarded from `address` on the host.
pub(crate) async fn start(
    id: &str,
    cluster_dir: &Path,
    address: &str,
    ports: &[u16],
) -> Result<NetworkRecord, RuntimeError> {
    let at = Site::new(id, cluster_dir)?;
    let unshare = tool("unshare")?;
    let (keeper_pid, keeper_start_time) = at
        .keeper(vec![
            unshare.into(),
            "--user".into(),
            "--map-root-user".into(),
            "--net".into(),
        ])
        .await?;
    let (pasta_pid, pasta_start_time) = match at.pasta(keeper_pid, address, ports).await {
        Ok(p) => p,
        Err(e) => {
            let _ = signal_group(keeper_pid, Signal::SIGKILL);
            return Err(e);
        }
    };
    Ok(NetworkRecord {
        keeper_pid,
        keeper_start_time,
        pasta_pid,
        pasta_start_time,
        address: address.to_owned(),
        forwarded: ports.to_vec(),
    })
}

/// Makes the namespace of a cluster whose JVMs all live usable again, without touching
/// them: a keeper that died is replaced by one that joins the namespaces of `member` (a
/// live JVM of the cluster), a pasta that died by a new one with the same forwards. The
/// jobs never notice more than a pause of their REST API.
pub(crate) async fn repair(
    id: &str,
    cluster_dir: &Path,
    record: &NetworkRecord,
    member: u32,
) -> Result<NetworkRecord, RuntimeError> {
    let at = Site::new(id, cluster_dir)?;
    let mut repaired = record.clone();
    if !is_same_live_process(record.keeper_pid, record.keeper_start_time, &at.marker) {
        let nsenter = tool("nsenter")?;
        let (pid, start) = at
            .keeper(vec![
                nsenter.into(),
                "--target".into(),
                member.to_string().into(),
                "--user".into(),
                "--net".into(),
                "--preserve-credentials".into(),
            ])
            .await?;
        tracing::warn!(
            cluster = id,
            keeper = pid,
            "replaced the dead keeper of a cluster's network namespace"
        );
        repaired.keeper_pid = pid;
        repaired.keeper_start_time = start;
    }
    if !is_same_live_process(record.pasta_pid, record.pasta_start_time, &at.marker) {
        // What is left of it (a pasta that hung rather than died) goes first: it holds
        // the forwarded ports.
        if proc_stat(record.pasta_pid).is_some_and(|st| st.start_time == record.pasta_start_time) {
            let _ = signal_group(record.pasta_pid, Signal::SIGKILL);
        }
        let (pid, start) = at
            .pasta(repaired.keeper_pid, &record.address, &record.forwarded)
            .await?;
        tracing::warn!(
            cluster = id,
            pasta = pid,
            "replaced the dead pasta of a cluster's network namespace"
        );
        repaired.pasta_pid = pid;
        repaired.pasta_start_time = start;
    }
    Ok(repaired)
}

/// Where a cluster's network processes are started from: its dir, log and marker.
struct Site<'a> {
    id: &'a str,
    cluster_dir: &'a Path,
    marker: String,
    log: PathBuf,
}

impl<'a> Site<'a> {
    fn new(id: &'a str, cluster_dir: &'a Path) -> Result<Self, RuntimeError> {
        let log_dir = cluster_dir.join("log").join("network");
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| RuntimeError::io("cannot create", &log_dir, e))?;
        Ok(Site {
            id,
            cluster_dir,
            marker: cluster_dir.display().to_string(),
            log: log_dir.join("network.out"),
        })
    }

    fn failed(&self, reason: String) -> RuntimeError {
        RuntimeError::StartFailed {
            id: self.id.to_owned(),
            reason,
            log_tail: tail(&self.log, 20),
            log_file: self.log.clone(),
        }
    }

    /// Starts a keeper: `enter` (the command that makes or joins the namespaces) running
    /// a shell that only sleeps, whose command line names the cluster dir (what identifies
    /// it later). Returns its pid and start time once it runs in a namespace other than
    /// drey's.
    async fn keeper(&self, enter: Vec<OsString>) -> Result<(u32, u64), RuntimeError> {
        let mut argv = enter;
        argv.extend([
            "--".into(),
            "/bin/sh".into(),
            "-c".into(),
            "while :; do sleep 3600; done".into(),
            "drey-cluster-network".into(),
            self.marker.clone().into(),
        ]);
        let (pid, _child) = spawn_in_session(&argv, &self.log, self.id, "network keeper")?;
        let own_net = std::fs::read_link("/proc/self/ns/net").ok();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
            let execed =
                crate::process::proc_cmdline(pid).is_some_and(|c| c.contains(&self.marker));
            if execed && net.is_some() && net != own_net {
                break;
            }
            if Instant::now() >= deadline {
                let _ = signal_group(pid, Signal::SIGKILL);
                return Err(self.failed("the network namespace of the cluster was not made".into()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match proc_stat(pid) {
            Some(st) => Ok((pid, st.start_time)),
            None => Err(self.failed("the network namespace's keeper exited at once".into())),
        }
    }

    /// Attaches a pasta to the namespace of `keeper`, forwarding `ports` from `address`;
    /// returns its pid and start time once it configured the namespace's interface (it
    /// binds the forwarded ports before that; an exit means it could not: a port taken,
    /// no tap device).
    async fn pasta(
        &self,
        keeper: u32,
        address: &str,
        ports: &[u16],
    ) -> Result<(u32, u64), RuntimeError> {
        let pasta = tool("pasta")?;
        let mut argv: Vec<OsString> = vec![
            pasta.into(),
            "--config-net".into(),
            "--no-map-gw".into(),
            "--foreground".into(),
            "--quiet".into(),
            "--runas".into(),
            nix::unistd::getuid().as_raw().to_string().into(),
            "--pid".into(),
            self.cluster_dir.join("pid").join("pasta.pid").into(),
            "-u".into(),
            "none".into(),
            "-T".into(),
            "none".into(),
            "-U".into(),
            "none".into(),
        ];
        if ports.is_empty() {
            argv.extend(["-t".into(), "none".into()]);
        }
        for port in ports {
            argv.push("-t".into());
            argv.push(format!("{address}/{port}").into());
        }
        argv.push(keeper.to_string().into());
        let (pid, mut child) = spawn_in_session(&argv, &self.log, self.id, "pasta")?;
        let start_time = proc_stat(pid).map(|s| s.start_time).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(self.failed(format!("pasta exited with {status}")));
            }
            if has_interface(keeper) {
                return Ok((pid, start_time));
            }
            if Instant::now() >= deadline {
                let _ = signal_group(pid, Signal::SIGKILL);
                return Err(
                    self.failed("pasta did not configure the cluster's network namespace".into())
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whether the network namespace of `pid` has an interface other than loopback that is up.
fn has_interface(pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/route")) else {
        return false;
    };
    // Header, then one line per route: pasta's configuration adds them.
    text.lines().skip(1).any(|l| !l.trim().is_empty())
}

/// Spawns `argv` in a session (and process group) of its own, output appended to `log`,
/// with an empty environment; returns its pid and handle (dropping it stops nothing).
fn spawn_in_session(
    argv: &[OsString],
    log: &Path,
    id: &str,
    what: &str,
) -> Result<(u32, tokio::process::Child), RuntimeError> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| RuntimeError::io("cannot open", log, e))
    };
    let (out, err) = (open()?, open()?);
    let (program, args) = argv.split_first().ok_or_else(|| RuntimeError::Spawn {
        what: what.to_owned(),
        source: std::io::Error::other("empty command"),
    })?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(false);
    let child = cmd.spawn().map_err(|source| RuntimeError::Spawn {
        what: format!("{what} of cluster {id}"),
        source,
    })?;
    let pid = child.id().ok_or_else(|| RuntimeError::Spawn {
        what: format!("{what} of cluster {id}"),
        source: std::io::Error::other("the process exited at once"),
    })?;
    Ok((pid, child))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_parses_and_prints() {
        assert_eq!(
            "namespace".parse::<ClusterNetwork>(),
            Ok(ClusterNetwork::Namespace)
        );
        assert_eq!("host".parse::<ClusterNetwork>(), Ok(ClusterNetwork::Host));
        assert!("none".parse::<ClusterNetwork>().is_err());
        assert_eq!(ClusterNetwork::default().to_string(), "namespace");
    }
}
