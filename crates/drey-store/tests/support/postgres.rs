//! A real PostgreSQL server for tests: Debian's `postgresql` binaries
//! (scripts/install-postgres.sh), a fresh cluster in a temporary directory,
//! run as an unprivileged user (`drey-pg`, created when the tests run as root)
//! on a free loopback port. One server per test process, one fresh database
//! per [`database_url`] call. A keeper shell owns the server: when the test
//! process ends, however it ends, the keeper's stdin closes and it stops the
//! server and removes the directory.
//!
//! Shared by drey-store's conformance tests and drey's HTTP tests (included
//! there with `#[path]`), so it uses only std.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set to `1` to skip the PostgreSQL tests explicitly; without it a missing
/// PostgreSQL fails them.
pub const SKIP_VAR: &str = "DREY_SKIP_POSTGRES";
/// Overrides where `initdb`, `postgres` and `createdb` are.
pub const BIN_VAR: &str = "DREY_POSTGRES_BIN";
/// The user the server runs as when the tests run as root.
const SERVICE_USER: &str = "drey-pg";
/// The superuser the tests connect as.
const SUPERUSER: &str = "drey";

/// A running server.
pub struct TestPostgres {
    bin: PathBuf,
    port: u16,
    password: String,
    dir: PathBuf,
    databases: AtomicU32,
    /// Its stdin is the server's lifeline; kept open while the process runs.
    _keeper: Mutex<Child>,
}

/// Whether the PostgreSQL tests are skipped on purpose (prints why).
pub fn skipped() -> bool {
    let skip = std::env::var(SKIP_VAR).is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{SKIP_VAR}=1: skipping a PostgreSQL test");
    }
    skip
}

/// The URL of a new, empty database on the shared server, or `None` when
/// [`skipped`]. Panics with the reason when PostgreSQL cannot be started.
pub fn database_url() -> Option<String> {
    if skipped() {
        return None;
    }
    Some(server().create_database())
}

/// The shared server of this test process, started on first use.
pub fn server() -> &'static TestPostgres {
    static SERVER: OnceLock<Result<TestPostgres, String>> = OnceLock::new();
    match SERVER.get_or_init(TestPostgres::start) {
        Ok(server) => server,
        Err(e) => panic!(
            "cannot start PostgreSQL for the tests: {e}\n\
             Install it with scripts/install-postgres.sh (Debian's `postgresql`), point \
             {BIN_VAR} at its bin directory, or set {SKIP_VAR}=1 to skip these tests."
        ),
    }
}

impl TestPostgres {
    fn start() -> Result<TestPostgres, String> {
        let bin = find_bin()?;
        let as_root = is_root();
        if as_root {
            ensure_service_user()?;
        }
        // A port found free may be taken before the server binds it: retry.
        let mut last_error = String::new();
        for _ in 0..5 {
            match TestPostgres::start_once(&bin, as_root) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn start_once(bin: &Path, as_root: bool) -> Result<TestPostgres, String> {
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("drey-pg-{}-{nonce}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let password = format!("pw{nonce:x}");
        std::fs::write(dir.join("password"), &password).map_err(|e| e.to_string())?;
        if as_root {
            run(Command::new("chown").args([
                "-R",
                &format!("{SERVICE_USER}:{SERVICE_USER}"),
                &dir.to_string_lossy(),
            ]))?;
        }
        // From here on the keeper removes the directory, also on failure.
        let port = free_port()?;
        let mut keeper = spawn_keeper(as_root, bin, &dir, port)?;
        let initdb = |locale: &[&str]| {
            run(as_service_user(as_root, &bin.join("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-U", SUPERUSER, "--auth=scram-sha-256", "--encoding=UTF8"])
                .args(locale)
                .arg("--no-sync")
                .arg(format!("--pwfile={}", dir.join("password").display())))
        };
        // A natural-language default collation, as production databases
        // have, so the tests see that drey's schema sorts byte-wise anyway;
        // PostgreSQL before 15 (no ICU provider option) gets plain C.
        let started = initdb(&[
            "--locale=C.UTF-8",
            "--locale-provider=icu",
            "--icu-locale=en-US",
        ])
        .or_else(|_| {
            let _ = std::fs::remove_dir_all(dir.join("data"));
            initdb(&["--locale=C"])
        })
        .and_then(|()| {
            keeper_go(&mut keeper)?;
            wait_ready(bin, &dir, port, &password)
        });
        match started {
            Ok(()) => Ok(TestPostgres {
                bin: bin.to_owned(),
                port,
                password,
                dir,
                databases: AtomicU32::new(0),
                _keeper: Mutex::new(keeper),
            }),
            Err(e) => {
                drop(keeper.stdin.take());
                let _ = keeper.wait();
                Err(e)
            }
        }
    }

    /// Creates a fresh database and returns its URL.
    pub fn create_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        let name = format!("drey_test_{n}");
        let output = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .arg(&name)
            .env("PGPASSWORD", &self.password)
            .output()
            .expect("run createdb");
        assert!(
            output.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(&name)
    }

    /// `postgres://drey:PASS@127.0.0.1:PORT/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Runs `sql` with `psql` on the database of `url`; its rows, unaligned.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg(url)
            .arg("-c")
            .arg(sql)
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `pg_dump` of database `url` as plain SQL (bytea columns in hex).
    #[allow(dead_code)]
    pub fn pg_dump(&self, url: &str) -> String {
        let output = Command::new(self.bin.join("pg_dump"))
            .args(["--no-owner", "--data-only"])
            .arg(url)
            .output()
            .expect("run pg_dump");
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The server's directory (data, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `DREY_POSTGRES_BIN`, else the newest /usr/lib/postgresql/<version>/bin.
fn find_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(BIN_VAR) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!("{BIN_VAR}={} has no initdb", dir.display()))
        };
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| format!("PostgreSQL is not installed ({}: {e})", root.display()))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no PostgreSQL server binaries under {}", root.display()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// PostgreSQL refuses to run as root: make a system user for it.
fn ensure_service_user() -> Result<(), String> {
    let exists = |name: &str| {
        Command::new("id")
            .arg("-u")
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if exists(SERVICE_USER) {
        return Ok(());
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
        .arg(SERVICE_USER)
        .status()
        .map_err(|e| format!("cannot run useradd: {e}"))?;
    // Another test process may have created it meanwhile.
    if status.success() || exists(SERVICE_USER) {
        Ok(())
    } else {
        Err(format!("useradd {SERVICE_USER} failed: {status}"))
    }
}

/// `program`, run as the service user when we are root.
fn as_service_user(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={SERVICE_USER}"),
            &format!("--regid={SERVICE_USER}"),
            "--clear-groups",
            "--",
        ])
        .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// A shell that waits for a first line on stdin, then starts the server;
/// when its stdin closes it stops the server (fast shutdown) and removes
/// `dir`. Until the line comes the directory is only being prepared.
fn spawn_keeper(as_root: bool, bin: &Path, dir: &Path, port: u16) -> Result<Child, String> {
    let setpriv = if as_root {
        format!("setpriv --reuid={SERVICE_USER} --regid={SERVICE_USER} --clear-groups -- ")
    } else {
        String::new()
    };
    let script = format!(
        "pid=\n\
         if read -r go; then\n\
         {setpriv}\"$1/postgres\" -D \"$2/data\" -p \"$3\" -c listen_addresses=127.0.0.1 \
         -c unix_socket_directories=\"$2\" -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200 \
         </dev/null >>\"$2/postgres.log\" 2>&1 &\n\
         pid=$!\n\
         cat >/dev/null\n\
         fi\n\
         if [ -n \"$pid\" ]; then kill -INT \"$pid\" 2>/dev/null; wait \"$pid\"; fi\n\
         rm -rf \"$2\"\n"
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("drey-pg-keeper")
        .arg(bin)
        .arg(dir)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the PostgreSQL keeper shell: {e}"))
}

/// Tells the keeper to start the server.
fn keeper_go(keeper: &mut Child) -> Result<(), String> {
    use std::io::Write;
    let stdin = keeper.stdin.as_mut().ok_or("the keeper has no stdin")?;
    stdin
        .write_all(b"go\n")
        .and_then(|()| stdin.flush())
        .map_err(|e| format!("cannot signal the PostgreSQL keeper: {e}"))
}

fn wait_ready(bin: &Path, dir: &Path, port: u16, password: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .env("PGPASSWORD", password)
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(());
        }
        let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
        // Connections tried while it starts are logged as FATAL too.
        let failed = log
            .lines()
            .any(|l| (l.contains("FATAL") || l.contains("PANIC")) && !l.contains("starting up"));
        if failed || Instant::now() > deadline {
            return Err(format!(
                "PostgreSQL did not accept connections on 127.0.0.1:{port}; its log:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server's log so far, for failure messages.
pub fn log() -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(server().dir.join("postgres.log")) {
        let _ = file.read_to_string(&mut text);
    }
    text
}
