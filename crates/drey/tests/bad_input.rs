//! Bad input of every kind gets a clear 4xx in CMF's RestError body; never a
//! 500, a panic, or a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, error_message, Server};
use reqwest::Method;
use serde_json::{json, Value};

const APPS: &str = "/cmf/api/v1/environments/test/applications";

async fn setup(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), extra);
    let (status, _) = s
        .post("/cmf/api/v1/environments", json!({"name": "test"}))
        .await;
    assert_eq!(status, 201);
    (dir, s)
}

/// Posts raw bytes and checks the status and that the body is a RestError
/// whose message contains `needle`.
async fn expect(
    s: &Server,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    status: u16,
    needle: &str,
) {
    let (got, text) = s.raw(Method::POST, path, content_type, body).await;
    let parsed: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: not a JSON body ({e}): {text}"));
    let message = error_message(&parsed);
    assert_eq!(got, status, "{path} {content_type}: {message}");
    assert!(
        message.to_lowercase().contains(&needle.to_lowercase()),
        "expected '{needle}' in '{message}'"
    );
}

#[tokio::test]
async fn malformed_documents() {
    let (_dir, s) = setup(&[]).await;
    expect(
        &s,
        APPS,
        "application/json",
        b"{\"metadata\": ".to_vec(),
        400,
        "malformed JSON",
    )
    .await;
    expect(
        &s,
        APPS,
        "application/json",
        b"[1, 2".to_vec(),
        400,
        "malformed JSON",
    )
    .await;
    expect(
        &s,
        APPS,
        "application/yaml",
        b"metadata: [unclosed".to_vec(),
        400,
        "malformed YAML",
    )
    .await;
    expect(
        &s,
        APPS,
        "application/yaml",
        b"a: 1\n---\nb: 2\n".to_vec(),
        400,
        "more than one",
    )
    .await;
    expect(&s, APPS, "application/json", b"".to_vec(), 400, "empty").await;
    expect(
        &s,
        APPS,
        "application/json",
        b"42".to_vec(),
        400,
        "FlinkApplication object",
    )
    .await;
    expect(
        &s,
        APPS,
        "application/json",
        b"{\"a\":\"\xff\xfe\"}".to_vec(),
        400,
        "UTF-8",
    )
    .await;
    expect(
        &s,
        APPS,
        "application/yaml",
        b"name: \xc3\x28".to_vec(),
        400,
        "UTF-8",
    )
    .await;
    expect(
        &s,
        "/cmf/api/v1/environments",
        "application/json",
        b"{\"name\": 5}".to_vec(),
        400,
        "name",
    )
    .await;
    expect(
        &s,
        "/cmf/api/v1/environments",
        "application/json",
        b"{}".to_vec(),
        400,
        "name is required",
    )
    .await;
}

#[tokio::test]
async fn missing_fields_and_wrong_types() {
    let (_dir, s) = setup(&[]).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"spec": {}}), 400, "metadata is required"),
        (
            json!({"metadata": {}, "spec": {}}),
            400,
            "metadata.name is required",
        ),
        (
            json!({"metadata": {"name": 7}, "spec": {}}),
            400,
            "metadata.name must be a string",
        ),
        (
            json!({"metadata": {"name": "abcd"}}),
            400,
            "spec is required",
        ),
        (
            json!({"metadata": {"name": "abcd"}, "spec": []}),
            400,
            "spec must be an object",
        ),
        (
            json!({"metadata": {"name": "abcd", "labels": {"a": 1}}, "spec": {}}),
            422,
            "metadata.labels.a",
        ),
        (
            json!({"kind": "Statement", "metadata": {"name": "abcd"}, "spec": {}}),
            422,
            "kind",
        ),
        (
            json!({"apiVersion": "v1", "metadata": {"name": "abcd"}, "spec": {}}),
            422,
            "apiVersion",
        ),
        (
            json!({"metadata": {"name": "abcd"}, "spec": {}}),
            422,
            "spec.job",
        ),
    ];
    for (body, status, needle) in cases {
        expect(
            &s,
            APPS,
            "application/json",
            serde_json::to_vec(&body).unwrap(),
            status,
            needle,
        )
        .await;
    }
    let field_cases: Vec<(&str, Value, &str)> = vec![
        (
            "/spec/job/upgradeMode",
            json!("rolling"),
            "spec.job.upgradeMode",
        ),
        ("/spec/job/state", json!("paused"), "spec.job.state"),
        (
            "/spec/job/parallelism",
            json!("three"),
            "spec.job.parallelism",
        ),
        ("/spec/job/parallelism", json!(-1), "spec.job.parallelism"),
        (
            "/spec/job/jarURI",
            json!("ftp://x/y.jar"),
            "spec.job.jarURI",
        ),
        ("/spec/job/jarURI", json!(null), "spec.job.jarURI"),
        (
            "/spec/jobManager/resource/memory",
            json!("a lot"),
            "spec.jobManager.resource.memory",
        ),
        (
            "/spec/taskManager/resource/cpu",
            json!(0),
            "spec.taskManager.resource.cpu",
        ),
        (
            "/spec/flinkConfiguration",
            json!([1]),
            "spec.flinkConfiguration",
        ),
    ];
    for (pointer, value, field) in field_cases {
        let mut app = application("field-test");
        *app.pointer_mut(pointer).unwrap() = value;
        expect(
            &s,
            APPS,
            "application/json",
            serde_json::to_vec(&app).unwrap(),
            422,
            field,
        )
        .await;
    }
    // None of them created anything.
    let (_, list) = s.get(APPS).await;
    assert_eq!(list["metadata"]["size"], 0);
}

#[tokio::test]
async fn bad_names() {
    let (_dir, s) = setup(&[]).await;
    for name in [
        "abc",
        "Upper-Case",
        "-leading",
        "trailing-",
        "under_score",
        "a..b",
        &"x".repeat(254),
    ] {
        let app = application(name);
        expect(
            &s,
            APPS,
            "application/json",
            serde_json::to_vec(&app).unwrap(),
            422,
            "name",
        )
        .await;
        expect(
            &s,
            "/cmf/api/v1/environments",
            "application/json",
            serde_json::to_vec(&json!({"name": name})).unwrap(),
            400,
            "name",
        )
        .await;
    }
    let (status, body) = s
        .post(
            "/cmf/api/v1/secrets",
            json!({"metadata": {"name": "BAD"}, "spec": {"data": {}}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error_message(&body).contains("4 and 253") || error_message(&body).contains("must match")
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let (_dir, s) = setup(&["--max-body-bytes", "2000"]).await;
    let mut app = application("big-app");
    app["spec"]["flinkConfiguration"]["padding"] = json!("x".repeat(5000));
    expect(
        &s,
        APPS,
        "application/json",
        serde_json::to_vec(&app).unwrap(),
        413,
        "limit of 2000 bytes",
    )
    .await;
    // Also without a Content-Length (chunked): the limit holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let body = reqwest::Body::wrap_stream(futures_util_stream(chunks));
    let (status, text) = s.raw(Method::POST, APPS, "application/json", body).await;
    assert_eq!(status, 413, "{text}");
    // A normal one still works.
    assert_eq!(s.post(APPS, application("small-app")).await.0, 201);
}

fn futures_util_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_core_stream::iter(chunks)
}

mod futures_core_stream {
    pub use futures::stream::{iter, Stream};
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() {
    let (_dir, s) = setup(&[]).await;
    let mut app = application("big-app");
    app["spec"]["flinkConfiguration"]["padding"] = json!("x".repeat(1024 * 1024 + 10));
    expect(
        &s,
        APPS,
        "application/json",
        serde_json::to_vec(&app).unwrap(),
        413,
        "limit",
    )
    .await;
}

/// A refused body is still read (and thrown away) before the connection
/// closes — refused by its Content-Length before a byte of it came, or by the
/// size read so far when it comes in chunks — so a client still sending it
/// reads the 413 instead of a reset connection.
#[tokio::test]
async fn a_client_still_sending_a_refused_body_reads_the_413() {
    let (_dir, s) = setup(&["--max-body-bytes", "2000"]).await;
    for chunked in [false, true] {
        let address = s.base.trim_start_matches("http://").to_owned();
        let answer = tokio::task::spawn_blocking(move || send_slowly(&address, chunked))
            .await
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "chunked {chunked}: {answer}"
        );
    }
}

/// POSTs 2 MiB of blanks to [`APPS`] on `address`, the body a moment after the
/// headers, and returns the start of the answer.
fn send_slowly(address: &str, chunked: bool) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let size = 2 * 1024 * 1024;
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {size}")
    };
    write!(
        stream,
        "POST {APPS} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         {framing}\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 64 * 1024];
    for i in 0..size / chunk.len() {
        if chunked {
            write!(stream, "{:x}\r\n", chunk.len()).unwrap();
        }
        stream
            .write_all(&chunk)
            .expect("the server reads the whole body");
        if chunked {
            stream.write_all(b"\r\n").unwrap();
        }
        if i == 0 {
            // The server has what it needs to refuse before the rest comes.
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").unwrap();
    }
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).expect("the answer, not a reset");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn deep_nesting_and_yaml_bombs() {
    let (_dir, s) = setup(&[]).await;
    let deep_json = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    expect(
        &s,
        APPS,
        "application/json",
        deep_json.into_bytes(),
        400,
        "",
    )
    .await;
    let very_deep = format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000));
    expect(
        &s,
        APPS,
        "application/json",
        very_deep.clone().into_bytes(),
        400,
        "",
    )
    .await;
    expect(
        &s,
        APPS,
        "application/yaml",
        very_deep.into_bytes(),
        400,
        "",
    )
    .await;
    let mut nested = json!(1);
    for _ in 0..70 {
        nested = json!({"a": nested});
    }
    let mut app = application("deep-app");
    app["spec"]["podTemplate"] = nested;
    expect(
        &s,
        APPS,
        "application/json",
        serde_json::to_vec(&app).unwrap(),
        400,
        "nested",
    )
    .await;

    let bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
                b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
                e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n\
                f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n\
                g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
                h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n\
                i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    let started = std::time::Instant::now();
    expect(
        &s,
        APPS,
        "application/yaml",
        bomb.as_bytes().to_vec(),
        400,
        "malformed YAML",
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // The server is still healthy afterwards.
    assert_eq!(s.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn bad_paging_parameters() {
    let (_dir, s) = setup(&[]).await;
    for query in [
        "page=-1",
        "page=abc",
        "size=0",
        "size=-5",
        "size=1000000",
        "sort=",
        "sort=,asc",
        "sort=nonsense",
        "sort=name,upwards",
        "sort=spec",
        "sort=spec.a'b",
    ] {
        let (status, body) = s.get(&format!("{APPS}?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        error_message(&body);
    }
    assert_eq!(
        s.get(&format!("{APPS}?page=0&size=1000&sort=name,DESC"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn no_input_yields_a_server_error_and_errors_are_rest_errors() {
    let (_dir, s) = setup(&[]).await;
    let bodies: Vec<&[u8]> = vec![
        b"null", b"[]", b"\"text\"", b"{\"metadata\": null, \"spec\": null}",
        b"{\"metadata\": {\"name\": \"abcd\"}, \"spec\": {\"job\": null}}",
        b"{\"metadata\": {\"name\": \"abcd\"}, \"spec\": {\"job\": {\"jarURI\": []}}}",
        b"{\"metadata\": {\"name\": \"abcd\"}, \"spec\": {\"job\": {\"jarURI\": \"file:///x.jar\", \"args\": [1]}}}",
        b"{\"metadata\": {\"name\": \"abcd\"}, \"spec\": {\"job\": {\"jarURI\": \"file:///x.jar\"}, \"jobManager\": 3}}",
        b"!!binary aGVsbG8=", b"? [a, b]\n: c\n", b"&x a", b"*unknown",
    ];
    let paths = [
        APPS.to_string(),
        "/cmf/api/v1/environments".to_string(),
        "/cmf/api/v1/secrets".to_string(),
        "/cmf/api/v1/catalogs/kafka".to_string(),
        "/cmf/api/v1/environments/test/statements".to_string(),
        "/cmf/api/v1/environments/test/compute-pools".to_string(),
        "/cmf/api/v1/environments/test/secret-mappings".to_string(),
    ];
    for path in &paths {
        for body in &bodies {
            for ct in ["application/json", "application/yaml", "text/plain"] {
                let (status, text) = s.raw(Method::POST, path, ct, body.to_vec()).await;
                // A secret's spec may legitimately hold other keys: some of
                // these are valid somewhere. None may ever be a 5xx.
                assert!(
                    status < 500,
                    "{path} {ct} {:?} -> {status} {text}",
                    String::from_utf8_lossy(body)
                );
                if status >= 400 {
                    let parsed: Value = serde_json::from_str(&text).unwrap();
                    error_message(&parsed);
                }
            }
        }
    }
}

/// A query string that does not parse is a 400 in the dialect's own error
/// body, naming the parameter — never axum's plain text.
#[tokio::test]
async fn malformed_query_strings_answer_in_the_dialects_body() {
    let (_dir, s) = setup(&[]).await;
    for (path, needle) in [
        ("/api/drey/v1/alerts?limit=abc", "limit"),
        ("/api/drey/v1/alert-deliveries?limit=-1", "limit"),
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = error_message(&body);
        assert!(message.contains(needle), "{path}: {message}");
    }
    let path = "/api/v1/namespaces/default/deployments?labelSelector=a&labelSelector=b";
    let (status, body) = s.get(path).await;
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["kind"], "ApiException", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("labelSelector"),
        "{body}"
    );
    let path = "/api/org/v1/users?limit=1&limit=2";
    let (status, body) = s.get(path).await;
    assert_eq!(status, 400, "{path}: {body}");
    assert!(
        body["message"].as_str().unwrap().contains("limit"),
        "{body}"
    );
}

/// This session's new inputs: a compute pool placed on a cluster that is not
/// registered, the application health endpoint and the VVP reference
/// lookups for what does not exist, a SessionCluster image field of the
/// wrong type — each a 4xx in its dialect's body.
#[tokio::test]
async fn new_endpoints_refuse_what_does_not_exist() {
    let (_dir, s) = setup(&[]).await;
    let pool = |annotations: Value| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
               "metadata": {"name": "placed", "annotations": annotations},
               "spec": {"type": "SHARED", "clusterSpec": {}}})
    };
    let (code, body) = s
        .post(
            "/cmf/api/v1/environments/test/compute-pools",
            pool(json!({"drey.io/cluster": "nowhere"})),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        error_message(&body).contains("metadata.annotations.drey.io/cluster"),
        "{body}"
    );

    for path in [
        "/api/drey/v1/environments/test/applications/nope/health",
        "/api/drey/v1/environments/nope/applications/nope/health",
    ] {
        let (code, body) = s.get(path).await;
        assert_eq!(code, 404, "{path}: {body}");
        assert!(!error_message(&body).is_empty(), "{body}");
    }

    let (code, body) = s
        .post("/namespaces/v1/namespaces", json!({"name": "refs"}))
        .await;
    assert_eq!(code, 201, "{body}");
    let sql = "/sql/v1beta1/namespaces/refs";
    for path in [
        format!("{sql}/connectors/nope:list-tables"),
        format!("{sql}/formats/nope:list-tables"),
        format!("{sql}/catalog-connectors/nope:list-catalogs"),
        "/sql/v1beta1/namespaces/nope/connectors/datagen:list-tables".to_owned(),
    ] {
        let (code, body) = s.get(&path).await;
        assert_eq!(code, 404, "{path}: {body}");
        assert!(body["message"].is_string(), "VVP's body: {body}");
    }
    let (code, body) = s.get(&format!("{sql}/connectors/datagen:bogus-verb")).await;
    assert!((400..500).contains(&code) || code == 501, "{code} {body}");

    let (code, body) = s
        .post(
            "/api/v1/namespaces/refs/sessionclusters",
            json!({"metadata": {"name": "typed"},
                   "spec": {"state": "STOPPED", "flinkImageTag": ["x"]}}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.flinkImageTag"),
        "{body}"
    );
}
