//! Safe defaults of `drey server`: anonymous callers are served on loopback
//! only unless a loudly named flag says otherwise; the data dir is 0700 and
//! the database and key files 0600 (a looser existing dir is tightened);
//! `--public-url` is the base of the URLs drey hands out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A `drey server` started with exactly `args` (plus an API-only reconciler
/// and the data dir), not through `Server`, which always listens on loopback.
struct Started {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server; `Err` holds the exit status and stderr when it exits
/// instead of serving.
fn launch(
    dir: &Path,
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Started, (ExitStatus, String)> {
    let log = dir.join(format!(
        "server-{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drey"));
    cmd.arg("server")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--reconciler", "off"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    for var in [
        "DREY_CONFIG",
        "DREY_LISTEN",
        "DREY_AUTH",
        "DREY_INSECURE_ALLOW_ANONYMOUS_REMOTE",
        "DREY_PUBLIC_URL",
        "DREY_DATABASE_URL",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start drey");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    match line.trim().rsplit_once(':') {
        Some((_, port)) if line.starts_with("drey listening on ") => Ok(Started {
            child,
            port: port.parse().unwrap(),
            log,
        }),
        _ => {
            let deadline = Instant::now() + Duration::from_secs(30);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                assert!(Instant::now() < deadline, "drey neither served nor exited");
                std::thread::sleep(Duration::from_millis(50));
            };
            Err((status, std::fs::read_to_string(&log).unwrap()))
        }
    }
}

async fn healthy(port: u16) -> bool {
    reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_default_listen_address_is_loopback() {
    let help = Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["server", "--help"])
        .env_remove("DREY_LISTEN")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
    assert!(!help.contains("0.0.0.0:8080"), "{help}");
    assert!(help.contains("--insecure-allow-anonymous-remote"), "{help}");
    assert!(help.contains("--public-url"), "{help}");
}

#[tokio::test]
async fn anonymous_remote_serving_needs_the_insecure_flag() {
    let dir = tempfile::tempdir().unwrap();
    // Refused, before anything is written: the message names the flag and
    // the safe alternative.
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        let data = dir.path().join("refused");
        let Err((status, log)) = launch(dir.path(), &data, &["--listen", listen], &[]) else {
            panic!("{listen}: served anonymous callers beyond loopback");
        };
        assert!(!status.success(), "{listen}");
        assert!(log.contains("--insecure-allow-anonymous-remote"), "{log}");
        assert!(log.contains("--auth token"), "{log}");
        assert!(log.contains("--auth none"), "{log}");
        assert!(!data.exists(), "{listen}: created the data dir");
    }
    // `--auth none` spelled out is refused alike.
    let refused = launch(
        dir.path(),
        &dir.path().join("data"),
        &["--listen", "0.0.0.0:0", "--auth", "none"],
        &[],
    );
    assert!(refused.is_err());

    // Loopback serves anonymous callers.
    let local = launch(
        dir.path(),
        &dir.path().join("data"),
        &["--listen", "127.0.0.1:0"],
        &[],
    )
    .unwrap();
    assert!(healthy(local.port).await);
    drop(local);

    // With the flag (or its environment variable) it starts, and warns.
    let data = dir.path().join("data");
    let flagged = launch(
        dir.path(),
        &data,
        &["--listen", "0.0.0.0:0", "--insecure-allow-anonymous-remote"],
        &[],
    )
    .unwrap();
    assert!(healthy(flagged.port).await);
    let log = std::fs::read_to_string(&flagged.log).unwrap();
    assert!(log.contains("INSECURE"), "{log}");
    drop(flagged);
    let from_env = launch(
        dir.path(),
        &data,
        &["--listen", "0.0.0.0:0"],
        &[("DREY_INSECURE_ALLOW_ANONYMOUS_REMOTE", "true")],
    )
    .unwrap();
    assert!(healthy(from_env.port).await);
    drop(from_env);

    // The settings file says the same.
    let config = dir.path().join("drey.yaml");
    std::fs::write(&config, "listen: 0.0.0.0:0\n").unwrap();
    let config = config.to_str().unwrap();
    assert!(launch(dir.path(), &data, &["--config", config], &[]).is_err());
    std::fs::write(
        config,
        "listen: 0.0.0.0:0\ninsecure-allow-anonymous-remote: true\n",
    )
    .unwrap();
    let from_file = launch(dir.path(), &data, &["--config", config], &[]).unwrap();
    assert!(healthy(from_file.port).await);
    drop(from_file);

    // With tokens required, any address is fine, without a warning.
    let tokens = launch(
        dir.path(),
        &data,
        &["--listen", "0.0.0.0:0", "--auth", "token"],
        &[],
    )
    .unwrap();
    assert!(healthy(tokens.port).await);
    let anonymous = reqwest::get(format!(
        "http://127.0.0.1:{}/cmf/api/v1/environments",
        tokens.port
    ))
    .await
    .unwrap();
    assert_eq!(anonymous.status(), 401);
    let log = std::fs::read_to_string(&tokens.log).unwrap();
    assert!(!log.contains("INSECURE"), "{log}");
}

#[tokio::test]
async fn a_new_data_dir_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh/data");
    let started = launch(
        dir.path(),
        &data,
        &["--listen", "127.0.0.1:0", "--auth", "token"],
        &[],
    )
    .unwrap();
    assert!(healthy(started.port).await);
    assert_eq!(mode(&data), 0o700);
    for file in ["drey.db", "secret.key", "root.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    // SQLite's journal files, and whatever else drey made, are its own too.
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let m = mode(&entry.path());
        assert_eq!(m & 0o077, 0, "{:?} is mode {m:o}", entry.file_name());
    }
    assert!(data.join("drey.db-wal").exists());
}

#[tokio::test]
async fn a_looser_data_dir_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A key file from an older drey, readable by everyone (32 zero bytes).
    let key = data.join("secret.key");
    std::fs::write(&key, format!("{}=", "A".repeat(43))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Server::start_in(&data, &["--auth", "token"]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&data.join("root.key")), 0o600);
    if s.database_url.is_none() {
        assert_eq!(mode(&data.join("drey.db")), 0o600);
    }
    let log = s.log();
    assert!(log.contains("tightened the data dir to mode 0700"), "{log}");
    assert!(
        log.contains("tightened a private file to mode 0600"),
        "{log}"
    );
    drop(s);

    // An existing database readable by others is tightened on the next start.
    if std::env::var("DREY_TEST_DATABASE").is_ok_and(|v| v == "postgres") {
        return;
    }
    let db = data.join("drey.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _s = Server::start_in(&data, &["--auth", "token"]);
    assert_eq!(mode(&db), 0o600);
}

/// An organization administrator's workspace and an application in it, and
/// the pre-signed Web UI URL the server hands out for it.
async fn presigned_url(s: &mut Server) -> String {
    s.token = Some(
        std::fs::read_to_string(s.data_dir.join("root.key"))
            .unwrap()
            .trim()
            .to_owned(),
    );
    let (_, org) = s
        .post("/api/admin/v1/organizations", json!({"name": "acme"}))
        .await;
    let (status, key) = s
        .post(
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    s.token = Some(key["key"].as_str().unwrap().to_owned());
    let (_, ws) = s
        .post("/api/org/v1/workspaces", json!({"name": "Streaming"}))
        .await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let resources = json!({"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"});
    let apps = format!("/api/flink/v1/workspaces/{ws}/applications");
    let (status, app) = s
        .post(
            &apps,
            json!({
                "name": "Word count", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
                "flinkConfiguration": {}, "logConfiguration": {},
                "jobManagerResource": resources, "taskManagerResource": resources,
                "job": {"jarUri": "local:///opt/flink/examples/streaming/WordCount.jar",
                        "entryClass": "com.example.Job", "args": []}
            }),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    let (status, url): (u16, Value) = s
        .post(
            &format!("{apps}/{}/urls", app["id"].as_str().unwrap()),
            json!({"expiresInSeconds": 60, "webSessionDurationInSeconds": 600}),
        )
        .await;
    assert_eq!(status, 201, "{url}");
    url["url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn public_url_is_the_base_of_presigned_urls() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(
        dir.path(),
        &[
            "--auth",
            "token",
            "--public-url",
            "https://drey.example.com/",
        ],
    );
    let url = presigned_url(&mut s).await;
    assert!(
        url.starts_with("https://drey.example.com/api/flink/v1/ui/"),
        "{url}"
    );
    assert!(url.ends_with('/'), "{url}");
    // The grant in it opens the proxy on this server (no cluster runs: 503).
    let path = url.strip_prefix("https://drey.example.com").unwrap();
    let anonymous = reqwest::get(s.url(&format!("{path}overview")))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 503);

    // A path prefix (behind a reverse proxy) is kept.
    let other = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(
        other.path(),
        &["--auth", "token", "--public-url", "http://proxy:9000/drey"],
    );
    let url = presigned_url(&mut s).await;
    assert!(
        url.starts_with("http://proxy:9000/drey/api/flink/v1/ui/"),
        "{url}"
    );

    // Without it: http:// and the Host the client used, as before.
    let plain = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(plain.path(), &["--auth", "token"]);
    let url = presigned_url(&mut s).await;
    assert!(
        url.starts_with(&format!("{}/api/flink/v1/ui/", s.base)),
        "{url} vs {}",
        s.base
    );
}

#[test]
fn a_bad_public_url_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "drey.example.com",
        "ftp://drey.example.com",
        "https://x/?a=1",
    ] {
        let Err((status, log)) = launch(
            dir.path(),
            &dir.path().join("data"),
            &["--listen", "127.0.0.1:0", "--public-url", bad],
            &[],
        ) else {
            panic!("{bad}: started");
        };
        assert!(!status.success());
        assert!(log.contains("--public-url"), "{log}");
        assert!(log.contains("https://drey.example.com"), "{log}");
    }
}
