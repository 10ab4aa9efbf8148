//! The outbound policy through a real drey server: http(s) jarURIs that
//! point at loopback are refused unless `--outbound-allow` names the
//! address, redirects are checked hop by hop, bodies over
//! `--download-max-bytes` are refused and their partial file removed, and
//! whatever the target did (refused address, closed port, open port
//! answering 404, a redirect to a refused address, a body too large) the
//! caller reads the same text. Every address the test uses is one the test
//! itself serves: loopback (127.0.0.1 and 127.0.0.2), and a private address
//! inside a network namespace it makes; the classification of link-local
//! and other ranges is a unit test in drey-control that connects to
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use common::flink::*;
use common::Server;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The size cap the servers run with: the test jar (about 13 kB) fits.
const CAP: u64 = 64 * 1024;

/// A loopback HTTP server on `ip` that counts the requests it gets:
/// `/job.jar` the test jar, `/missing` 404, `/redirect` a 302 to `target`,
/// `/big` a streamed body (no Content-Length) over [`CAP`], `/big-sized`
/// one with a Content-Length over it.
async fn serve(ip: &str, target: Option<String>) -> (String, Arc<AtomicUsize>) {
    let jar = Bytes::from(std::fs::read(testjobs().join("stateful-counter.jar")).unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new()
        .route(
            "/job.jar",
            axum::routing::get(move || {
                let jar = jar.clone();
                async move { jar }
            }),
        )
        .route(
            "/missing",
            axum::routing::get(|| async { StatusCode::NOT_FOUND }),
        )
        .route(
            "/redirect",
            axum::routing::get(move || {
                let target = target.clone().unwrap_or_default();
                async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
            }),
        )
        .route(
            "/big",
            axum::routing::get(|| async {
                let chunk = Bytes::from(vec![7u8; 16 * 1024]);
                let chunks =
                    (0..(CAP / 16 / 1024 + 8)).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/big-sized",
            axum::routing::get(|| async { vec![7u8; CAP as usize + 1] }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

/// A loopback port nothing listens on.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn start_server(data: &Path, allow: &[&str]) -> Server {
    let cap = CAP.to_string();
    let mut args = vec!["--download-max-bytes", cap.as_str()];
    for net in allow {
        args.extend_from_slice(&["--outbound-allow", net]);
    }
    start_with_args(data, &args)
}

fn app_with_jar(name: &str, out: &Path, jar: &str) -> Value {
    let mut app = counter_app(name, out, 1, "stateless");
    app["spec"]["job"]["jarURI"] = json!(jar);
    app
}

/// Deploys an application with `jar` and returns its status error once it
/// FAILED, with the URL replaced by `<URL>`: what the caller learns.
async fn refused(s: &Server, name: &str, out: &Path, jar: &str) -> String {
    let (code, body) = s.post(APPS, app_with_jar(name, out, jar)).await;
    assert_eq!(code, 201, "{body}");
    let st = wait_for(s, name, "FAILED", Duration::from_secs(60), |st| {
        st["lifecycleState"] == "FAILED"
    })
    .await;
    let error = st["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains(&format!(
            "cannot download the jar from {jar}: refused by the outbound policy or unreachable"
        )),
        "{name}: {st:#}"
    );
    error.replace(jar, "<URL>")
}

fn leftovers(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("jars").join("downloads"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

async fn environment(s: &Server) {
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_jar_urls_are_refused_alike_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("counts.txt");
    let (second, second_hits) = serve("127.0.0.2", None).await;
    let (first, first_hits) = serve("127.0.0.1", Some(format!("{second}/job.jar"))).await;
    let closed = format!("http://{}/job.jar", closed_port());

    // No allow-list: an open loopback port and a closed one look alike, and
    // the open one never gets a request.
    let data = dir.path().join("default");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let s = start_server(&data, &[]);
    environment(&s).await;
    let open_error = refused(&s, "open-port", &out, &format!("{first}/job.jar")).await;
    let closed_error = refused(&s, "closed", &out, &closed).await;
    assert_eq!(open_error, closed_error);
    let localhost = first.replace("127.0.0.1", "localhost");
    let name_error = refused(&s, "by-name", &out, &format!("{localhost}/job.jar")).await;
    assert_eq!(name_error, open_error, "a name resolving to loopback");
    let mapped = first.replace("127.0.0.1", "[::ffff:127.0.0.1]");
    let mapped_error = refused(&s, "mapped", &out, &format!("{mapped}/job.jar")).await;
    assert_eq!(mapped_error, open_error, "the IPv4-mapped form");
    assert_eq!(
        first_hits.load(Ordering::SeqCst),
        0,
        "no request reached it"
    );
    assert!(leftovers(&data).is_empty(), "{:?}", leftovers(&data));
    drop(s);

    // 127.0.0.1 allowed: a 404, a closed port, a redirect to 127.0.0.2 (not
    // allowed), 127.0.0.2 itself and bodies over the cap all read the same.
    let data = dir.path().join("allowed");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup_allowed = KillClusters(data.clone());
    let s = start_server(&data, &["127.0.0.1/32"]);
    environment(&s).await;
    let errors = [
        refused(&s, "not-found", &out, &format!("{first}/missing")).await,
        refused(&s, "closed", &out, &closed).await,
        refused(&s, "redirected", &out, &format!("{first}/redirect")).await,
        refused(&s, "second", &out, &format!("{second}/job.jar")).await,
        refused(&s, "big-streamed", &out, &format!("{first}/big")).await,
        refused(&s, "big-sized", &out, &format!("{first}/big-sized")).await,
    ];
    for e in &errors {
        assert_eq!(e, &open_error);
    }
    assert_eq!(
        second_hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed to the address not allowed"
    );
    assert_eq!(
        first_hits.load(Ordering::SeqCst),
        4,
        "404, redirect and the two big bodies were asked for"
    );
    assert!(
        leftovers(&data).is_empty(),
        "partial files removed: {:?}",
        leftovers(&data)
    );
    let log = s.log();
    assert!(
        !log.contains("ConnectionRefused") && !log.contains("over the cap"),
        "the reason is logged at debug level only:\n{log}"
    );

    // The allowed address downloads: the jar lands in the cache, whole.
    let (code, body) = s
        .post(
            APPS,
            app_with_jar("fetched", &out, &format!("{first}/job.jar")),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let want = std::fs::read(testjobs().join("stateful-counter.jar")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let downloads = data.join("jars").join("downloads");
    loop {
        let jars: Vec<Vec<u8>> = leftovers(&data)
            .iter()
            .filter(|n| n.ends_with(".jar"))
            .map(|n| std::fs::read(downloads.join(n)).unwrap())
            .collect();
        if jars.contains(&want) {
            break;
        }
        assert!(Instant::now() < deadline, "no download:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let st = status(&s, "fetched").await;
    assert_ne!(st["lifecycleState"], "FAILED", "{st:#}");
    delete_and_wait(&s, &data, "fetched", Duration::from_secs(180)).await;
}

/// A private address: another host, a network namespace the test makes (a
/// veth link with addresses in 10.251.0.0/16), serving the test jar with
/// Python's http.server. drey refuses the URL with the same text as any
/// other, and the server gets no request; named in `--outbound-allow`, the
/// jar downloads whole from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_address_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("counts.txt");
    let host = common::standalone::Host::new(7);
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::copy(
        testjobs().join("stateful-counter.jar"),
        site.join("job.jar"),
    )
    .unwrap();
    let mut server = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &host.namespace,
            "python3",
            "-m",
            "http.server",
        ])
        .args(["8000", "--bind", &host.address, "--directory"])
        .arg(&site)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
        .spawn()
        .unwrap();
    let at = SocketAddr::new(host.address.parse().unwrap(), 8000);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect_timeout(&at, Duration::from_secs(1)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server in the namespace does not answer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Python logs each request on stderr; the readiness probe above made none.
    let served = || std::fs::read_to_string(dir.path().join("server.err")).unwrap_or_default();
    let jar = format!("http://{at}/job.jar");

    let data = dir.path().join("default");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    let s = start_server(&data, &[]);
    environment(&s).await;
    let error = refused(&s, "private", &out, &jar).await;
    let closed = refused(
        &s,
        "closed",
        &out,
        &format!("http://{}/job.jar", closed_port()),
    )
    .await;
    assert_eq!(error, closed, "a private address reads like a closed port");
    assert!(
        !served().contains("GET"),
        "no request reached it: {}",
        served()
    );
    drop(s);

    let data = dir.path().join("allowed");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup_allowed = KillClusters(data.clone());
    let allow = format!("{}/32", host.address);
    let s = start_server(&data, &[allow.as_str()]);
    environment(&s).await;
    let (code, body) = s.post(APPS, app_with_jar("fetched", &out, &jar)).await;
    assert_eq!(code, 201, "{body}");
    let want = std::fs::read(site.join("job.jar")).unwrap();
    let downloads = data.join("jars").join("downloads");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = leftovers(&data)
            .iter()
            .filter(|n| n.ends_with(".jar"))
            .any(|n| std::fs::read(downloads.join(n)).unwrap() == want);
        if got {
            break;
        }
        assert!(Instant::now() < deadline, "no download:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(served().contains("GET /job.jar"), "{}", served());
    delete_and_wait(&s, &data, "fetched", Duration::from_secs(180)).await;
    let _ = server.kill();
    let _ = server.wait();
}

/// drey's resident memory, bytes (VmRSS of /proc/PID/status).
fn rss(pid: nix::unistd::Pid) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_gib_body_is_streamed_not_held_in_memory() {
    const GIB2: u64 = 2 * 1024 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let _cleanup = KillClusters(data.clone());
    // 2 GiB and one byte more, streamed without a Content-Length, against a
    // cap of 2 GiB: drey writes 2 GiB to disk, then refuses the rest.
    let app = axum::Router::new().route(
        "/huge.jar",
        axum::routing::get(|| async {
            let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
            let chunks = (0..GIB2 / chunk.len() as u64)
                .map(move |_| Ok::<_, std::io::Error>(chunk.clone()))
                .chain(std::iter::once(Ok(Bytes::from_static(b"!"))));
            Body::from_stream(futures::stream::iter(chunks))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cap = GIB2.to_string();
    let cache = (GIB2 + 1024 * 1024 * 1024).to_string();
    let s = start_with_args(
        &data,
        &[
            "--outbound-allow",
            "127.0.0.1/32",
            "--download-max-bytes",
            &cap,
            "--download-cache-max-bytes",
            &cache,
        ],
    );
    environment(&s).await;
    let before = rss(s.pid());
    let jar = format!("http://{addr}/huge.jar");
    let (code, body) = s
        .post(APPS, app_with_jar("huge", &dir.path().join("out"), &jar))
        .await;
    assert_eq!(code, 201, "{body}");
    let started = Instant::now();
    let mut peak = before;
    let mut seen_part = 0u64;
    loop {
        peak = peak.max(rss(s.pid()));
        for name in leftovers(&data) {
            let len = std::fs::metadata(data.join("jars/downloads").join(&name))
                .map(|m| m.len())
                .unwrap_or(0);
            seen_part = seen_part.max(len);
        }
        let st = status(&s, "huge").await;
        if st["lifecycleState"] == "FAILED" {
            assert!(
                st["error"]
                    .as_str()
                    .unwrap()
                    .contains("refused by the outbound policy or unreachable"),
                "{st:#}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not done: {st:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "2 GiB body: {:?}, RSS before {} MiB, peak {} MiB, largest partial file seen {} MiB",
        started.elapsed(),
        before >> 20,
        peak >> 20,
        seen_part >> 20
    );
    assert!(
        seen_part > 256 * 1024 * 1024,
        "the body was being written to disk"
    );
    assert!(
        peak < before + 128 * 1024 * 1024,
        "drey's memory grew from {} to {} MiB",
        before >> 20,
        peak >> 20
    );
    assert!(leftovers(&data).is_empty(), "{:?}", leftovers(&data));
}
