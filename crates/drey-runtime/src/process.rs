//! Operating-system helpers: process identity from `/proc`, signals to process groups,
//! free ports, atomic file writes and log tails.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::Path;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::error::RuntimeError;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent process id (field 4).
    pub ppid: u32,
    /// Process group id (field 5).
    pub pgrp: u32,
    /// Start time in clock ticks after boot (field 22).
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist.
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // "pid (comm) S ppid ..." — comm may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // fields[0] is field 3 (state); ppid is field 4, pgrp field 5, starttime field 22.
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        pgrp,
        start_time,
    })
}

/// The command line of a process, arguments joined by spaces.
pub(crate) fn proc_cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The kernel's boot id; start times are only comparable within one boot.
pub(crate) fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// True when `pid` is the live (not zombie) process that started at `start_time` and whose
/// command line contains `marker`. This is what keeps drey from signalling a recycled pid.
pub(crate) fn is_same_live_process(pid: u32, start_time: u64, marker: &str) -> bool {
    match proc_stat(pid) {
        Some(st) if st.state != 'Z' && st.state != 'X' && st.start_time == start_time => {
            proc_cmdline(pid).is_some_and(|c| c.contains(marker))
        }
        _ => false,
    }
}

/// True when some live (not zombie) process is in process group `pgid`. Used after a
/// signal to the group: `kill` returns before the processes are gone, and a group can hold
/// more than the recorded leader (e.g. the helper JVM Flink's scripts run before the
/// entrypoint).
pub(crate) fn group_has_live_members(pgid: u32) -> bool {
    live_group_members(pgid).next().is_some()
}

/// The live (not zombie) processes of group `pgid`.
fn live_group_members(pgid: u32) -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(move |pid| {
            proc_stat(*pid).is_some_and(|st| st.pgrp == pgid && st.state != 'Z' && st.state != 'X')
        })
}

/// True when a live process of group `pgid` has `marker` on its command line: what is
/// left of a service whose recorded process died, and not a stranger's group that reuses
/// the id.
pub(crate) fn group_has_live_member_with(pgid: u32, marker: &str) -> bool {
    live_group_members(pgid).any(|pid| proc_cmdline(pid).is_some_and(|c| c.contains(marker)))
}

/// Waits (at most 5 s) until group `pgid` has no live process left.
pub(crate) async fn wait_for_group(pgid: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while group_has_live_members(pgid) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Sends `signal` to the process group `pgid`. A group that no longer exists is not an error.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> Result<(), RuntimeError> {
    let raw = i32::try_from(pgid).map_err(|_| RuntimeError::Signal {
        pgid,
        source: nix::Error::EINVAL,
    })?;
    let group = match killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(source) => Err(RuntimeError::Signal { pgid, source }),
    };
    // A process spawned a moment ago may not have called setsid(2) yet (it is then still in
    // drey's group, so the group signal missed it): signal the leader itself as well.
    match kill(Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::Error::ESRCH) => group,
        Err(source) => group.and(Err(RuntimeError::Signal { pgid, source })),
    }
}

/// Picks `n` distinct free TCP ports on 127.0.0.1 (bound together, then released).
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, RuntimeError> {
    let mut listeners = Vec::with_capacity(n);
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| RuntimeError::io("cannot bind a free port on", "127.0.0.1", e))?;
        listeners.push(l);
    }
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|e| RuntimeError::io("cannot read the address of", "127.0.0.1", e))
        })
        .collect()
}

/// True when nothing listens on `port` (it can be bound on 127.0.0.1).
pub(crate) fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
/// rename over `path`, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| RuntimeError::io("cannot create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| RuntimeError::io("cannot write", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| RuntimeError::io("cannot rename into", path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Best effort: some filesystems refuse fsync on directories.
        let _ = d.sync_all();
    }
    Ok(())
}

/// The last `lines` lines of a file (reads at most the last 64 KiB).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return format!("({} does not exist)", path.display());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let line =
            "1234 (java (x) y) S 1 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 30 0 987654 0 0";
        let st = parse_stat(line).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.pgrp, 1234);
        assert_eq!(st.start_time, 987654);
    }

    #[test]
    fn own_process_is_recognised() {
        let me = std::process::id();
        let st = proc_stat(me).unwrap();
        let cmd = proc_cmdline(me).unwrap();
        let marker = cmd.split(' ').next().unwrap().to_string();
        assert!(is_same_live_process(me, st.start_time, &marker));
        assert!(!is_same_live_process(me, st.start_time + 1, &marker));
        assert!(!is_same_live_process(
            me,
            st.start_time,
            "no-such-marker-in-cmdline"
        ));
    }

    #[test]
    fn free_ports_are_distinct_and_free() {
        let ports = free_ports(4).unwrap();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert!(ports.iter().all(|p| port_is_free(*p)));
    }

    #[test]
    fn atomic_write_and_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f.txt");
        write_atomic(&p, b"a\nb\nc\n").unwrap();
        write_atomic(&p, b"1\n2\n3\n4\n").unwrap();
        assert_eq!(tail(&p, 2), "3\n4");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
