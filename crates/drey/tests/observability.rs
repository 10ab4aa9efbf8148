//! Issue 17 on real parts: a real Prometheus (Debian's `prometheus`)
//! scrapes drey's `/metrics` and, found through drey's service discovery,
//! a running cluster's own Flink reporter; a webhook receiver started here
//! and a real Alertmanager (Debian's `prometheus-alertmanager`) get the
//! alert of a job made to fail and its resolution, also across a receiver
//! that is down for a while and a drey killed with SIGKILL between an alert
//! and its delivery.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::Server;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(300);

/// A child process killed when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary(name: &str) -> Option<String> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    (!path.is_empty()).then_some(path)
}

/// The Debian binary, or why the test cannot run (scripts/install-prometheus.sh).
fn required(name: &str) -> String {
    binary(name).unwrap_or_else(|| {
        panic!("{name} is not installed: run scripts/install-prometheus.sh (scripts/test.sh does)")
    })
}

fn start_prometheus(dir: &Path, drey: &Server, token: &str) -> (Killed, String) {
    let port = free_port();
    let host = drey.base.trim_start_matches("http://");
    std::fs::write(dir.join("token"), token).unwrap();
    let config = format!(
        r#"
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: drey
    metrics_path: /metrics
    authorization:
      credentials_file: {token}
    static_configs:
      - targets: ["{host}"]
  - job_name: flink
    http_sd_configs:
      - url: {base}/api/prometheus/v1/targets
        refresh_interval: 2s
        # Prometheus 2.42's HTTP SD sends the bare credentials unless the
        # type is given.
        authorization:
          type: Bearer
          credentials_file: {token}
"#,
        token = dir.join("token").display(),
        base = drey.base,
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(required("prometheus"))
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

/// Polls Prometheus's query API until `query` has a result.
async fn wait_for_series(prometheus: &str, query: &str, dir: &Path) -> Vec<Value> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + LIMIT;
    loop {
        let answer = client
            .get(format!("{prometheus}/api/v1/query"))
            .query(&[("query", query)])
            .send()
            .await;
        if let Ok(answer) = answer {
            if let Ok(body) = answer.json::<Value>().await {
                let result = body["data"]["result"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if !result.is_empty() {
                    return result;
                }
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("Prometheus has no {query} after {LIMIT:?}; its log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_job_metrics_and_flink_through_service_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let out = dir.path().join("counts.txt");
    let s = start(&data);
    let token = s.token.clone().unwrap();
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );
    let (code, body) = s
        .post(APPS, counter_app("counter", &out, 1, "stateless"))
        .await;
    assert_eq!(code, 201, "{body}");
    wait_for(&s, "counter", "RUNNING", LIMIT, running).await;

    // drey's own view, before any Prometheus: the contract's names.
    let deadline = Instant::now() + LIMIT;
    let text = loop {
        let text = s
            .call(reqwest::Method::GET, "/metrics", None)
            .await
            .text()
            .await
            .unwrap();
        if text.contains(
            r#"drey_job_up{organization="default",environment="flink",name="counter",kind="application"} 1"#,
        ) {
            break text;
        }
        assert!(Instant::now() < deadline, "no job metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for name in [
        "drey_job_up",
        "drey_job_state",
        "drey_job_restarts_total",
        "drey_job_uptime_seconds",
        "drey_job_checkpoints_failed_total",
        "drey_cluster_taskmanagers",
        "drey_cluster_slots_free",
    ] {
        assert!(
            text.contains(&format!("\n{name}{{")),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains(
            r#"drey_job_up{organization="default",environment="flink",name="counter",kind="application"} 1"#
        ),
        "{text}"
    );
    // Service discovery lists the cluster's JobManager and TaskManager.
    let (code, targets) = s.get("/api/prometheus/v1/targets").await;
    assert_eq!(code, 200, "{targets}");
    let groups = targets.as_array().unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g["labels"]["drey_role"] == "jobmanager")
            && groups
                .iter()
                .any(|g| g["labels"]["drey_role"] == "taskmanager"),
        "{targets:#}"
    );
    // Without the token: refused like the rest of the API.
    let anonymous = reqwest::get(s.url("/api/prometheus/v1/targets"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let (_prometheus, prometheus) = start_prometheus(dir.path(), &s, &token);
    let up = wait_for_series(
        &prometheus,
        r#"drey_job_up{name="counter",environment="flink",kind="application"} == 1"#,
        dir.path(),
    )
    .await;
    assert_eq!(up[0]["metric"]["organization"], "default");
    // Flink's own metrics, scraped from the reporter drey enabled.
    let flink = wait_for_series(
        &prometheus,
        "flink_jobmanager_Status_JVM_CPU_Load",
        dir.path(),
    )
    .await;
    assert_eq!(flink[0]["metric"]["job"], "flink");
    assert!(flink[0]["metric"]["drey_cluster"]
        .as_str()
        .is_some_and(|c| c.starts_with("app-")));
    wait_for_series(
        &prometheus,
        "flink_taskmanager_Status_JVM_CPU_Load",
        dir.path(),
    )
    .await;
    wait_for_series(
        &prometheus,
        "drey_job_records_in_per_second > 0",
        dir.path(),
    )
    .await;

    delete_and_wait(&s, &data, "counter", LIMIT).await;
}

/// What the test's webhook receiver got: (delivery id, signature, body).
type Received = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A webhook receiver on `port` that can be stopped and started again.
struct Receiver {
    port: u16,
    received: Received,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    fn new() -> Self {
        Receiver {
            port: free_port(),
            received: Arc::default(),
            server: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    async fn up(&mut self) {
        let received = self.received.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let received = received.clone();
                    async move {
                        let header = |n: &str| {
                            headers
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let signature = header("x-drey-signature");
                        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
                        mac.update(&body);
                        let hex: String = mac
                            .finalize()
                            .into_bytes()
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        assert_eq!(signature, format!("sha256={hex}"), "a valid signature");
                        let value: Value = serde_json::from_slice(&body).unwrap();
                        received.lock().unwrap().push((
                            header("x-drey-delivery"),
                            signature,
                            value,
                        ));
                        "ok"
                    }
                },
            ),
        );
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    async fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Waits for an alert `name` with `status` started after `after`
    /// (its `startsAt`, RFC 3339 text compares in time order).
    async fn wait(&self, name: &str, status: &str, s: &Server) -> Value {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some((_, _, body)) = self
                .received
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|(_, _, b)| b["alert"] == name && b["status"] == status)
            {
                return body.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {status} {name} alert; got {:#?}\nlog:\n{}",
                self.received.lock().unwrap(),
                s.log()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn count(&self, name: &str, status: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, b)| b["alert"] == name && b["status"] == status)
            .count()
    }
}

fn start_alertmanager(dir: &Path) -> (Killed, String) {
    let port = free_port();
    let cluster_port = free_port();
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
    let child = Command::new(required("prometheus-alertmanager"))
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--cluster.listen-address=127.0.0.1:{cluster_port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

/// The JobFailed alerts Alertmanager holds for application `app` that are
/// active (`true`) or not.
async fn alertmanager_has(am: &str, app: &str, active: bool) -> bool {
    let url = format!(
        "{am}/api/v2/alerts?active={active}&silenced=false&inhibited=false&unprocessed=true&filter=alertname%3D%22JobFailed%22&filter=application%3D%22{app}%22"
    );
    let Ok(answer) = reqwest::get(&url).await else {
        return false;
    };
    let alerts: Value = answer.json().await.unwrap_or(Value::Null);
    alerts.as_array().is_some_and(|a| {
        a.iter().any(|x| {
            (x["status"]["state"] == "active") == active && x["labels"]["application"] == app
        })
    })
}

async fn wait_until<F, Fut>(what: &str, s: &Server, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + LIMIT;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "not {what} after {LIMIT:?}\nlog:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The stored deliveries of `status` alerts named `name`, in `state`.
async fn deliveries(s: &Server, name: &str, status: &str, state: &str) -> Vec<Value> {
    let (code, body) = s
        .get(&format!("/api/drey/v1/alert-deliveries?state={state}"))
        .await;
    assert_eq!(code, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["alert"]["alert"] == name && d["alert"]["status"] == status)
        .cloned()
        .collect()
}

fn failing_app() -> Value {
    let mut app = counter_app("failing", Path::new("/dev/null"), 1, "stateless");
    app["spec"]["job"]["jarURI"] = json!(format!(
        "local://{}",
        testjobs().join("failing-job.jar").display()
    ));
    app["spec"]["job"]["entryClass"] = json!("io.drey.testjobs.FailingJob");
    app["spec"]["job"]["args"] = json!(["--fail-after", "5"]);
    app
}

fn with_state(mut app: Value, state: &str) -> Value {
    app["spec"]["job"]["state"] = json!(state);
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_webhook_and_alertmanager_across_outages_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let mut receiver = Receiver::new();
    receiver.up().await;
    let (_am, am) = start_alertmanager(dir.path());
    let hook = receiver.url();
    let args = [
        "--alert-webhook",
        hook.as_str(),
        "--alert-webhook-secret",
        "s3cret",
        "--alert-alertmanager",
        am.as_str(),
    ];
    let mut s = start_with_args(&data, &args);
    assert_eq!(
        s.post("/cmf/api/v1/environments", json!({"name": "flink"}))
            .await
            .0,
        201
    );

    // A job that fails: JobFailed fires, signed, with the contract's fields.
    let (code, body) = s.post(APPS, failing_app()).await;
    assert_eq!(code, 201, "{body}");
    let fired = receiver.wait("JobFailed", "firing", &s).await;
    assert_eq!(fired["organization"], "default");
    assert_eq!(fired["environment"], "flink");
    assert_eq!(fired["application"], "failing");
    assert!(
        fired["message"].as_str().unwrap().contains("FAILED"),
        "{fired}"
    );
    assert!(fired["startsAt"].is_string(), "{fired}");
    let am_ref = am.clone();
    wait_until("in Alertmanager", &s, || {
        alertmanager_has(&am_ref, "failing", true)
    })
    .await;
    // The API lists it, firing.
    let (code, alerts) = s.get("/api/drey/v1/alerts?status=firing").await;
    assert_eq!(code, 200);
    assert!(alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["alert"] == "JobFailed" && a["application"] == "failing"));
    assert_eq!(s.get("/api/drey/v1/alerts?status=nope").await.0, 400);
    // The application's health (what the console shows) names it, with the
    // figures of the failed job.
    let health = "/api/drey/v1/environments/flink/applications/failing/health";
    let (code, body) = s.get(health).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["alert"] == "JobFailed" && a["message"].is_string()),
        "{body}"
    );
    assert!(
        body["look"] == "SEEN" || body["look"] == "NOT_DEPLOYED",
        "{body}"
    );
    let (code, _) = s
        .get("/api/drey/v1/environments/flink/applications/nope/health")
        .await;
    assert_eq!(code, 404);
    // No receiver URL or secret in the log.
    assert!(!s.log().contains("s3cret") && !s.log().contains(&hook));

    // The receiver goes down; suspending the application resolves the
    // alert, whose delivery waits, retried, until the receiver is back.
    receiver.down().await;
    let (code, body) = s.post(APPS, with_state(failing_app(), "suspended")).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    wait_until("a retried resolution", &s, || async {
        deliveries(&s, "JobFailed", "resolved", "pending")
            .await
            .iter()
            .any(|d| d["attempts"].as_u64().unwrap_or(0) >= 2 && d["lastError"].is_string())
    })
    .await;
    assert_eq!(receiver.count("JobFailed", "resolved"), 0);
    receiver.up().await;
    let resolved = receiver.wait("JobFailed", "resolved", &s).await;
    assert_eq!(resolved["startsAt"], fired["startsAt"]);
    assert!(resolved["endsAt"].is_string(), "{resolved}");
    let am_ref = am.clone();
    wait_until("resolved in Alertmanager", &s, || async {
        !alertmanager_has(&am_ref, "failing", true).await
    })
    .await;

    // Down again; the job runs (and fails) again; drey is killed once the
    // new alert's delivery is stored, before it could be sent.
    receiver.down().await;
    let (code, body) = s.post(APPS, with_state(failing_app(), "running")).await;
    assert!(code == 200 || code == 201, "{code} {body}");
    wait_until("a stored second firing", &s, || async {
        deliveries(&s, "JobFailed", "firing", "pending")
            .await
            .iter()
            .any(|d| {
                d["receiver"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("webhook-"))
            })
    })
    .await;
    s.kill9();
    receiver.up().await;
    s = start_with_args(&data, &args);
    let deadline = Instant::now() + LIMIT;
    while receiver.count("JobFailed", "firing") < 2 {
        assert!(
            Instant::now() < deadline,
            "the second firing was not delivered after the restart\nlog:\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Every delivery is recorded as delivered, none abandoned or left.
    let deadline = Instant::now() + LIMIT;
    loop {
        let (_, body) = s.get("/api/drey/v1/alert-deliveries?state=pending").await;
        if body["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries left pending: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, body) = s.get("/api/drey/v1/alert-deliveries").await;
    let items = body["items"].as_array().unwrap();
    // drey's own teardown (suspend) is no lost cluster.
    assert!(
        !items.iter().any(|d| d["alert"]["alert"] == "ClusterLost"),
        "{body:#}"
    );
    let job_failed = |prefix: &str| {
        items
            .iter()
            .filter(|d| d["alert"]["alert"] == "JobFailed")
            .filter(|d| d["receiver"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    let (webhook, alertmanager) = (job_failed("webhook-"), job_failed("alertmanager-"));
    assert_eq!((webhook, alertmanager), (3, 3), "{body:#}");
    // Each alert reached the receiver (at least once; a repeat carries the
    // same delivery id).
    let ids: std::collections::BTreeSet<String> = receiver
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, b)| b["alert"] == "JobFailed")
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");

    delete_and_wait(&s, &data, "failing", LIMIT).await;
}

/// A JobManager frozen with SIGSTOP (its processes alive, its REST API
/// silent) raises `JobManagerNotAnswering` once it has been silent for the
/// configured time — and nothing is torn down, the hung bound being far — and
/// the alert resolves when it answers again (SIGCONT), the same job running.
/// An environment names its own receivers (drey's API): they get the
/// alerts of its applications and no other environment's; their URLs and
/// secrets are never shown; a URL the outbound policy refuses is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_gets_its_own_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let (mut mine, mut theirs) = (Receiver::new(), Receiver::new());
    mine.up().await;
    theirs.up().await;
    // No operator receiver; tenants may reach loopback here, nothing else private.
    let s = start_with_args(&data, &["--outbound-allow", "127.0.0.1/32"]);
    for env in ["team-a", "team-b"] {
        let (code, body) = s
            .post("/cmf/api/v1/environments", json!({"name": env}))
            .await;
        assert_eq!(code, 201, "{body}");
    }
    let receivers = |env: &str| format!("/api/drey/v1/environments/{env}/alert-receivers");
    let webhook = |url: String| json!({"kind": "webhook", "url": url, "secret": "s3cret"});

    // Refused without connecting: a private address, a scheme, a kind.
    for (bad, field) in [
        (
            json!({"receivers": [webhook("http://10.1.2.3/hook".into())]}),
            "receivers[0].url",
        ),
        (
            json!({"receivers": [webhook("ftp://127.0.0.1/x".into())]}),
            "receivers[0].url",
        ),
        (
            json!({"receivers": [{"kind": "pager", "url": mine.url()}]}),
            "receivers",
        ),
        (json!({"hooks": []}), "receivers"),
    ] {
        let (code, body) = s.put(&receivers("team-a"), bad.clone()).await;
        assert_eq!(code, 422, "{bad}: {body}");
        assert!(body.to_string().contains(field), "{bad}: {body}");
    }
    assert_eq!(
        s.put(&receivers("nope"), json!({"receivers": []})).await.0,
        404
    );
    let (code, set) = s
        .put(
            &receivers("team-a"),
            json!({"receivers": [webhook(mine.url())]}),
        )
        .await;
    assert_eq!(code, 200, "{set}");
    let id = set["receivers"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(set["receivers"][0]["kind"], "webhook");
    assert_eq!(set["receivers"][0]["signed"], true);
    let (code, _) = s
        .put(
            &receivers("team-b"),
            json!({"receivers": [webhook(theirs.url())]}),
        )
        .await;
    assert_eq!(code, 200);
    let (_, shown) = s.get(&receivers("team-a")).await;
    assert_eq!(shown, set);
    let port = mine.url().split(':').nth(2).unwrap().to_owned();
    assert!(!shown.to_string().contains(&port) && !shown.to_string().contains("s3cret"));

    // team-a's job fails: its receiver hears of it, team-b's does not.
    let (code, body) = s
        .post(
            "/cmf/api/v1/environments/team-a/applications",
            failing_app(),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let fired = mine.wait("JobFailed", "firing", &s).await;
    assert_eq!(fired["environment"], "team-a");
    assert_eq!(fired["application"], "failing");
    let sent = deliveries(&s, "JobFailed", "firing", "delivered").await;
    assert!(sent.iter().any(|d| d["receiver"] == id), "{sent:?}");
    assert_eq!(theirs.count("JobFailed", "firing"), 0);
    assert!(!s.log().contains("s3cret") && !s.log().contains(&mine.url()));
}

/// A server (with `extra` arguments) sending its alerts to `receiver`,
/// signed with its secret, and a counter application `name` of environment
/// `flink` RUNNING and writing to `out`: the server and the job's id.
async fn alerting_counter(
    data: &Path,
    out: &Path,
    receiver: &Receiver,
    name: &str,
    extra: &[&str],
) -> (Server, Value) {
    let hook = receiver.url();
    let mut args = vec![
        "--alert-webhook",
        hook.as_str(),
        "--alert-webhook-secret",
        "s3cret",
    ];
    args.extend_from_slice(extra);
    let s = start_with_args(data, &args);
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = s.post(APPS, counter_app(name, out, 1, "savepoint")).await;
    assert_eq!(code, 201, "{body}");
    let st = wait_for(&s, name, "RUNNING", LIMIT, running).await;
    wait_for_output(out, 5).await;
    (s, st["jobStatus"]["jobId"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_jobmanager_raises_and_resolves_its_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let mut receiver = Receiver::new();
    receiver.up().await;
    let extra = [
        "--alert-jobmanager-silent-seconds",
        "5",
        "--jobmanager-hung-after-seconds",
        "600",
    ];
    let out = dir.path().join("counts.txt");
    let (s, job) = alerting_counter(&data, &out, &receiver, "frozen", &extra).await;

    let needle = data.join("clusters").to_string_lossy().to_string();
    let jm = *flink_jvms(&needle, JOBMANAGER)
        .first()
        .expect("the JobManager");
    let jm = nix::unistd::Pid::from_raw(jm);
    nix::sys::signal::kill(jm, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let fired = receiver.wait("JobManagerNotAnswering", "firing", &s).await;
    assert_eq!(fired["application"], "frozen", "{fired}");
    assert!(
        fired["message"]
            .as_str()
            .unwrap()
            .contains("has not answered"),
        "{fired}"
    );
    assert_eq!(receiver.count("JobManagerNotAnswering", "resolved"), 0);
    assert!(
        flink_jvms(&needle, JOBMANAGER).contains(&jm.as_raw()),
        "a frozen JobManager was torn down before the hung bound"
    );
    nix::sys::signal::kill(jm, nix::sys::signal::Signal::SIGCONT).unwrap();
    let resolved = receiver
        .wait("JobManagerNotAnswering", "resolved", &s)
        .await;
    assert_eq!(resolved["startsAt"], fired["startsAt"], "{resolved}");
    let st = wait_for(&s, "frozen", "RUNNING", LIMIT, running).await;
    assert_eq!(st["jobStatus"]["jobId"], job, "the job was replaced");
    assert_eq!(receiver.count("ClusterLost", "firing"), 0);
    delete_and_wait(&s, &data, "frozen", LIMIT).await;
}

/// An application's cluster killed outright (kill -9 of every process):
/// ClusterLost fires, drey brings the application back, and it resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cluster_raises_and_resolves_cluster_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let mut receiver = Receiver::new();
    receiver.up().await;
    let out = dir.path().join("counts.txt");
    let (s, job) = alerting_counter(&data, &out, &receiver, "lost", &[]).await;

    let needle = data.join("clusters").to_string_lossy().to_string();
    let jvms: Vec<i32> = [JOBMANAGER, TASKMANAGER]
        .iter()
        .flat_map(|main| flink_jvms(&needle, main))
        .collect();
    assert!(jvms.len() >= 2, "{jvms:?}");
    for pid in &jvms {
        let pid = nix::unistd::Pid::from_raw(*pid);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let fired = receiver.wait("ClusterLost", "firing", &s).await;
    assert_eq!(fired["application"], "lost", "{fired}");
    assert_eq!(fired["environment"], "flink", "{fired}");
    assert!(
        fired["message"]
            .as_str()
            .unwrap()
            .contains("cluster is lost"),
        "{fired}"
    );
    let resolved = receiver.wait("ClusterLost", "resolved", &s).await;
    assert_eq!(resolved["startsAt"], fired["startsAt"], "{resolved}");
    let st = wait_for(&s, "lost", "RUNNING", LIMIT, running).await;
    assert_ne!(st["jobStatus"]["jobId"], job, "a new cluster runs the job");
    assert!(
        flink_jvms(&needle, JOBMANAGER)
            .iter()
            .all(|pid| !jvms.contains(pid)),
        "the killed JobManager is not the one running"
    );
    delete_and_wait(&s, &data, "lost", LIMIT).await;
}
