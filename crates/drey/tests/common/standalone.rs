//! A Flink cluster drey did not start, on another host: a network namespace
//! the test makes (`ip netns`, a veth pair with addresses of its own), and a
//! standalone session cluster started there with Flink's own scripts
//! (`bin/jobmanager.sh`, `bin/taskmanager.sh`) and a conf dir of the test's.
//! Everything is removed when dropped.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Another host: a network namespace reachable from this one at `address`.
pub struct Host {
    pub namespace: String,
    /// The namespace's address.
    pub address: String,
    /// This host's address on the link to the namespace (what the other
    /// host reaches this one at).
    pub host_address: String,
    host_link: String,
}

impl Host {
    /// Makes a namespace `drey-<pid>-<n>` with a /30 of 10.251.0.0/16.
    pub fn new(n: u8) -> Host {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let root = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0");
        assert!(
            root,
            "the other-host tests make a network namespace: run them as root"
        );
        let pid = std::process::id();
        let namespace = format!("drey-{pid}-{n}");
        let host_link = format!("dh{}", (pid % 100_000) * 10 + u32::from(n));
        let peer = format!("dn{}", (pid % 100_000) * 10 + u32::from(n));
        let subnet = ((pid % 60) * 4 + u32::from(n)) % 250 + 1;
        let address = format!("10.251.{subnet}.2");
        let host_address = format!("10.251.{subnet}.1/30");
        run(&["ip", "netns", "add", &namespace]);
        let host = Host {
            namespace,
            address,
            host_address: format!("10.251.{subnet}.1"),
            host_link,
        };
        run(&[
            "ip",
            "link",
            "add",
            &host.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        run(&["ip", "link", "set", &peer, "netns", &host.namespace]);
        run(&["ip", "addr", "add", &host_address, "dev", &host.host_link]);
        run(&["ip", "link", "set", &host.host_link, "up"]);
        host.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", host.address),
            "dev",
            &peer,
        ]);
        host.exec(&["ip", "link", "set", &peer, "up"]);
        host.exec(&["ip", "link", "set", "lo", "up"]);
        host
    }

    /// Runs a command inside the namespace and waits for it.
    pub fn exec(&self, args: &[&str]) {
        let mut all = vec!["ip", "netns", "exec", &self.namespace];
        all.extend_from_slice(args);
        run(&all);
    }

    /// Pids of the processes in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.namespace])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .status();
    }
}

/// A standalone Flink session cluster on `host`, started with Flink's scripts.
pub struct Standalone {
    pub dir: PathBuf,
    pub rest_url: String,
    flink_home: PathBuf,
}

pub const REST_PORT: u16 = 8081;

impl Standalone {
    /// Writes a conf dir under `dir` (savepoints and checkpoints under it
    /// too), starts one JobManager and one TaskManager with two slots on
    /// `host`, and waits until its REST API answers from this host.
    pub async fn start(host: &Host, dir: &Path) -> Standalone {
        let flink_home = std::env::var_os("FLINK_HOME")
            .map(PathBuf::from)
            .expect("FLINK_HOME (scripts/test.sh sets it)");
        let conf = dir.join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        for file in [
            "log4j.properties",
            "log4j-console.properties",
            "logback.xml",
        ] {
            let _ = std::fs::copy(flink_home.join("conf").join(file), conf.join(file));
        }
        let a = &host.address;
        let state = dir.join("state");
        for sub in ["log", "pid", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // The distribution's JVM options (Java 17 module opens), as its own
        // config.yaml gives them.
        let shipped: serde_json::Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(flink_home.join("conf/config.yaml")).unwrap(),
        )
        .unwrap();
        let java_opts = shipped["env"]["java"]["opts"]["all"]
            .as_str()
            .expect("env.java.opts.all in the distribution's config.yaml")
            .to_owned();
        std::fs::write(
            conf.join("config.yaml"),
            format!(
                "jobmanager.rpc.address: {a}\n\
                 jobmanager.bind-host: {a}\n\
                 rest.address: {a}\n\
                 rest.bind-address: {a}\n\
                 rest.port: {REST_PORT}\n\
                 taskmanager.host: {a}\n\
                 taskmanager.bind-host: {a}\n\
                 taskmanager.numberOfTaskSlots: 2\n\
                 heartbeat.interval: 2000\n\
                 heartbeat.timeout: 30000\n\
                 execution.checkpointing.num-retained: 5\n\
                 jobmanager.memory.process.size: 768m\n\
                 taskmanager.memory.process.size: 1024m\n\
                 execution.checkpointing.dir: file://{state}/checkpoints\n\
                 execution.checkpointing.savepoint-dir: file://{state}/savepoints\n\
                 io.tmp.dirs: {tmp}\n\
                 env.java.opts.all: \"{java_opts}\"\n",
                state = state.display(),
                tmp = dir.join("tmp").display(),
            ),
        )
        .unwrap();
        let cluster = Standalone {
            dir: dir.to_owned(),
            rest_url: format!("http://{a}:{REST_PORT}"),
            flink_home,
        };
        cluster.script(host, "jobmanager.sh", &["start"]);
        cluster.script(host, "taskmanager.sh", &["start"]);
        cluster.wait_ready(Duration::from_secs(120)).await;
        cluster
    }

    fn script(&self, host: &Host, script: &str, args: &[&str]) {
        let bin = self.flink_home.join("bin").join(script);
        let mut all = vec![
            "env".to_owned(),
            format!("FLINK_CONF_DIR={}", self.dir.join("conf").display()),
            format!("FLINK_LOG_DIR={}", self.dir.join("log").display()),
            format!("FLINK_PID_DIR={}", self.dir.join("pid").display()),
            bin.display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        host.exec(&refs);
    }

    /// Waits until the REST API answers with a TaskManager registered.
    pub async fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        loop {
            if let Ok(r) = client
                .get(format!("{}/overview", self.rest_url))
                .send()
                .await
            {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    if v["taskmanagers"].as_u64().unwrap_or(0) >= 1 {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "the standalone cluster at {} did not come up; logs in {}",
                self.rest_url,
                self.dir.join("log").display()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Kills the JobManager (`kill -9`) and starts a new one with Flink's
    /// script: a cluster without HA, so it forgets its jobs; the running
    /// TaskManager registers with the new one.
    pub async fn restart_jobmanager(&self, host: &Host) {
        let pid = self.jobmanager_pid();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "the JobManager did not die");
            std::thread::sleep(Duration::from_millis(100));
        }
        self.script(host, "jobmanager.sh", &["start"]);
        self.wait_ready(Duration::from_secs(120)).await;
    }

    /// The JobManager's pid (its command line names this conf dir).
    pub fn jobmanager_pid(&self) -> i32 {
        let needle = self.dir.join("conf").display().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .find_map(|e| {
                let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline);
                (cmdline.contains(&needle)
                    && cmdline.contains("StandaloneSessionClusterEntrypoint"))
                .then_some(pid)
            })
            .expect("the standalone JobManager runs")
    }

    /// Runs a job on it with Flink's own client (`bin/flink run -d`), as a
    /// team that does not use drey would; returns the job id.
    pub fn submit_with_flink_cli(&self, jar: &Path, class: &str, args: &[&str]) -> String {
        // The conf dir names the cluster's REST address and port.
        let out = Command::new(self.flink_home.join("bin").join("flink"))
            .env("FLINK_CONF_DIR", self.dir.join("conf"))
            .env("FLINK_LOG_DIR", self.dir.join("log"))
            .args(["run", "-d", "-t", "remote", "-c", class])
            .arg(jar)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "flink run failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .split_whitespace()
            .find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
            .unwrap_or_else(|| panic!("no job id in: {stdout}"))
            .to_owned()
    }
}
