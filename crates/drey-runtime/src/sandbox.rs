//! Isolation of a local cluster's processes: what a tenant's job can see of this machine.
//!
//! With [`Isolation::Sandbox`] (the default) every Flink process runs under bubblewrap
//! (`bwrap`, Debian's `bubblewrap`): a mount namespace whose root is an empty, read-only
//! tmpfs with only these bound in, each at its own path so paths mean the same inside and
//! out:
//!
//! - read-only: the system (`/usr` and the `/bin`, `/lib*`, `/sbin` links), the parts of
//!   `/etc` a JVM and Flink's scripts read (`java-*`, `ssl`, `ca-certificates`,
//!   `alternatives`, `hosts`, `nsswitch.conf`, `resolv.conf`, `passwd`, `group`, time zone,
//!   loader cache), the Flink distribution and the Java installation;
//! - read-only: the cluster's `conf/` and `tls/`;
//! - read-write: the cluster's `log/`, `checkpoints/`, `savepoints/`, `uploads/`, `tmp/`,
//!   `pid/`, and the state directories the cluster spec names (an application's
//!   checkpoints and savepoints);
//! - a private `/tmp`, `/dev` (null, zero, random, ...), and `/proc` of a pid namespace of
//!   its own, so other processes of the machine are not visible.
//!
//! Nothing else exists inside: not drey's data dir (`drey.db`, `secret.key`, `root.key`,
//! jars, artifacts), not the other clusters' directories, not `drey/` of its own cluster
//! (drey's client key), not `/root` or `/home`. The environment is cleared except for
//! `PATH`, `JAVA_HOME`, `LANG`, `LC_ALL`, `TZ` and Flink's own variables, so drey's (a
//! database URL, a token) do not reach jobs. The network is a namespace of the cluster's
//! own ([`crate::network`]) unless `--cluster-network host` says otherwise.
//!
//! `bwrap` keeps a monitor process outside and an init process inside the pid namespace;
//! the JVM is the init's child. drey records the JVM's pid (what `kill -STOP`, `kill -9` and
//! `/proc` observation mean) and signals the whole process group, which bwrap does not
//! leave (no `--new-session`: the processes have no terminal to take over).
//!
//! [`Isolation::None`] runs the processes as drey's user seeing everything drey sees; drey
//! uses it only when its settings say so (`--cluster-isolation none`), never as a silent
//! fallback.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// How the processes of a local cluster are kept apart from drey and the other clusters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Each process in a bubblewrap sandbox that sees only its own cluster's directories.
    #[default]
    Sandbox,
    /// No isolation: the processes see everything drey's user can see.
    None,
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Isolation::Sandbox => "sandbox",
            Isolation::None => "none",
        })
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Isolation::Sandbox),
            "none" => Ok(Isolation::None),
            other => Err(format!(
                "unknown cluster isolation {other:?}: use sandbox or none"
            )),
        }
    }
}

/// Where `bwrap` is.
pub(crate) fn bwrap_binary() -> Option<PathBuf> {
    ["/usr/bin/bwrap", "/bin/bwrap"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Checks that a sandbox can be made here: `bwrap` exists and can create the namespaces
/// (unprivileged user namespaces, or root).
pub fn check_sandbox() -> Result<(), RuntimeError> {
    let Some(bwrap) = bwrap_binary() else {
        return Err(RuntimeError::Isolation(
            "cluster isolation is 'sandbox' but bwrap is not installed: install Debian's \
             bubblewrap (scripts/install-flink.sh does), or start drey with \
             --cluster-isolation none to run Flink jobs unisolated"
                .into(),
        ));
    };
    let output = std::process::Command::new(&bwrap)
        .args(["--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc"])
        .args(["--dev", "/dev", "--", "/bin/true"])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| RuntimeError::Isolation(format!("cannot run {}: {e}", bwrap.display())))?;
    if !output.status.success() {
        return Err(RuntimeError::Isolation(format!(
            "cluster isolation is 'sandbox' but {} cannot make a sandbox here ({}): {}; \
             allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), \
             or start drey with --cluster-isolation none to run Flink jobs unisolated",
            bwrap.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// The environment variables a Flink process keeps from drey's.
const KEPT_ENV: &[&str] = &["PATH", "JAVA_HOME", "LANG", "LC_ALL", "TZ"];

/// drey's environment reduced to what Flink's scripts need.
pub(crate) fn kept_env() -> Vec<(OsString, OsString)> {
    KEPT_ENV
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
        .collect()
}

/// What one sandboxed process may see.
#[derive(Debug, Default)]
pub(crate) struct Mounts {
    /// Read-write paths every cluster shares (`--cluster-shared-dir`), bound first.
    pub shared: Vec<PathBuf>,
    /// Paths seen as empty, read-only directories even inside a shared path (drey's data
    /// dir); what is bound below them afterwards stays visible.
    pub hidden: Vec<PathBuf>,
    /// Read-only paths.
    pub read_only: Vec<PathBuf>,
    /// Read-write paths.
    pub read_write: Vec<PathBuf>,
    /// The working directory.
    pub chdir: Option<PathBuf>,
}

/// The parts of `/etc` a JVM and Flink's scripts read.
const ETC: &[&str] = &[
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "ssl",
    "hosts",
    "host.conf",
    "gai.conf",
    "nsswitch.conf",
    "resolv.conf",
    "passwd",
    "group",
    "localtime",
    "timezone",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
];

/// What goes before a command run under `isolation`: `bwrap`, its arguments
/// for a process seeing `mounts` (asked for only when sandboxed) and `--`;
/// nothing without isolation.
pub(crate) fn command_prefix(
    isolation: Isolation,
    mounts: impl FnOnce() -> Mounts,
) -> Result<Vec<OsString>, RuntimeError> {
    if isolation == Isolation::None {
        return Ok(Vec::new());
    }
    let bwrap = bwrap_binary().ok_or_else(|| {
        RuntimeError::Isolation("cluster isolation is 'sandbox' but bwrap is not installed".into())
    })?;
    let mut argv = vec![bwrap.into_os_string()];
    argv.extend(bwrap_args(&mounts()));
    argv.push("--".into());
    Ok(argv)
}

/// The `bwrap` arguments (before `--` and the command) for a process seeing `mounts`.
pub(crate) fn bwrap_args(mounts: &Mounts) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |parts: &[&std::ffi::OsStr]| args.extend(parts.iter().map(|p| p.to_os_string()));
    push(&[
        // bwrap started by root keeps every capability unless told:
        // a job must not override file modes, mount, or trace drey.
        "--cap-drop".as_ref(),
        "ALL".as_ref(),
        "--unshare-pid".as_ref(),
        "--unshare-ipc".as_ref(),
        "--unshare-cgroup-try".as_ref(),
        "--tmpfs".as_ref(),
        "/".as_ref(),
    ]);
    // The system, read-only; merged-/usr links stay links.
    push(&["--ro-bind".as_ref(), "/usr".as_ref(), "/usr".as_ref()]);
    for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        let path = Path::new(top);
        match std::fs::read_link(path) {
            Ok(target) => push(&["--symlink".as_ref(), target.as_os_str(), top.as_ref()]),
            Err(_) if path.is_dir() => push(&["--ro-bind".as_ref(), top.as_ref(), top.as_ref()]),
            Err(_) => {}
        }
    }
    let mut etc: Vec<PathBuf> = ETC.iter().map(|n| Path::new("/etc").join(n)).collect();
    if let Ok(entries) = std::fs::read_dir("/etc") {
        etc.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("java"))
                .map(|e| e.path()),
        );
    }
    for path in etc {
        push(&["--ro-bind-try".as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    push(&[
        "--proc".as_ref(),
        "/proc".as_ref(),
        "--dev".as_ref(),
        "/dev".as_ref(),
        "--tmpfs".as_ref(),
        "/tmp".as_ref(),
    ]);
    for path in &mounts.shared {
        push(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    for path in &mounts.hidden {
        push(&["--tmpfs".as_ref(), path.as_os_str()]);
    }
    for path in &mounts.read_only {
        push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    for path in &mounts.read_write {
        push(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()]);
    }
    // Nothing outside the bound directories can be written (a path Flink was told that is
    // not bound fails loudly instead of landing in the sandbox's memory).
    for path in &mounts.hidden {
        push(&["--remount-ro".as_ref(), path.as_os_str()]);
    }
    push(&["--remount-ro".as_ref(), "/".as_ref()]);
    if let Some(dir) = &mounts.chdir {
        push(&["--chdir".as_ref(), dir.as_os_str()]);
    }
    args
}

/// A path and, when it is a symbolic link, what it resolves to: both must exist inside
/// for the path to work there.
pub(crate) fn with_resolved(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if let Ok(real) = path.canonicalize() {
        if real != path {
            out.insert(0, real);
        }
    }
    out
}

/// The Java installation the `java` on `PATH` (or `JAVA_HOME`) belongs to, when it is
/// outside `/usr` (which is bound anyway).
pub(crate) fn java_home() -> Option<PathBuf> {
    let java = match std::env::var_os("JAVA_HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join("bin/java"),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("java"))
                .find(|p| p.exists())
        })?,
    };
    let real = java.canonicalize().ok()?;
    // <home>/bin/java
    let home = real.parent()?.parent()?.to_path_buf();
    (!home.starts_with("/usr")).then_some(home)
}

/// The JVM of a process spawned as `setsid bwrap ... -- <command>`: bwrap's monitor forks
/// the sandbox's init, which forks the command (a script that execs the JVM, or `java`).
/// Its pid is what drey records and checks: bwrap's own processes outlive a JVM killed
/// alone, and the JVM outlives a bwrap killed alone. Waits (bounded) for
/// it to appear; `None` when bwrap exited first.
pub(crate) async fn sandboxed_jvm(bwrap: u32, child: &mut tokio::process::Child) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let init = children_of(bwrap).into_iter().next();
        if let Some(jvm) = init.and_then(|i| children_of(i).into_iter().next()) {
            return Some(jvm);
        }
        if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The direct children of `pid` (from `/proc/*/stat`).
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|child| crate::process::proc_stat(*child).is_some_and(|st| st.ppid == pid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_parses_and_prints() {
        assert_eq!("sandbox".parse::<Isolation>(), Ok(Isolation::Sandbox));
        assert_eq!("none".parse::<Isolation>(), Ok(Isolation::None));
        assert!("off".parse::<Isolation>().is_err());
        assert_eq!(Isolation::default().to_string(), "sandbox");
    }

    #[test]
    fn args_bind_what_is_given_and_end_read_only() {
        let mounts = Mounts {
            shared: vec![PathBuf::from("/out")],
            hidden: vec![PathBuf::from("/data")],
            read_only: vec![PathBuf::from("/flink")],
            read_write: vec![PathBuf::from("/data/clusters/c/log")],
            chdir: Some(PathBuf::from("/data/clusters/c")),
        };
        let args: Vec<String> = bwrap_args(&mounts)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with("--cap-drop ALL "), "{joined}");
        assert!(joined.contains("--ro-bind /flink /flink"));
        assert!(joined.contains("--bind /data/clusters/c/log /data/clusters/c/log"));
        assert!(joined.contains("--bind /out /out --tmpfs /data --ro-bind /flink"));
        assert!(joined.contains("--remount-ro /data --remount-ro / --chdir /data/clusters/c"));
        assert!(!joined.contains("/root"));
    }
}
