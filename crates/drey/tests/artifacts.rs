//! CMF 2.4 artifacts over a real drey server: upload, versions, checksums,
//! download, the size limit, bad input, delete refused while an application
//! references the version, the same store seen through VVP, and an
//! application running on real Flink from an uploaded artifact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::*;
use common::{error_message, Server};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// An upload's `artifact` part, `file` part, and what the error must name.
type BadUpload = (Option<Value>, Option<Vec<u8>>, &'static str);

const ARTIFACTS: &str = "/cmf/api/v1/environments/devel/artifacts";

fn jar(name: &str) -> Vec<u8> {
    std::fs::read(testjobs().join(name)).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn document(name: &str) -> Value {
    json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Artifact",
           "metadata": {"name": name}, "spec": {}})
}

/// Sends a multipart upload: the `artifact` document (if any) and the
/// `file` content (if any).
async fn send(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    artifact: Option<Value>,
    file: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    if let Some(doc) = artifact {
        form = form.part(
            "artifact",
            reqwest::multipart::Part::text(doc.to_string())
                .mime_str("application/json")
                .unwrap(),
        );
    }
    if let Some(bytes) = file {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("upload.jar"),
        );
    }
    let mut req = s.client.request(method, s.url(path)).multipart(form);
    if let Some(token) = &s.token {
        req = req.bearer_auth(token);
    }
    let response = req.send().await.unwrap();
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create(s: &Server, env: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    send(
        s,
        reqwest::Method::POST,
        &format!("/cmf/api/v1/environments/{env}/artifacts"),
        Some(document(name)),
        Some(bytes),
    )
    .await
}

fn versions(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"]["version"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_api_versions_checksums_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "devel"}))
        .await;
    assert!(code == 200 || code == 201, "{body}");
    let (one, two) = (jar("stateful-counter.jar"), jar("bounded-job.jar"));

    // Version 1, with its checksum and size.
    let (code, a) = create(&s, "devel", "counter.jar", one.clone()).await;
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["kind"], "Artifact");
    assert_eq!(a["apiVersion"], "cmf.confluent.io/v1");
    assert_eq!(a["metadata"]["name"], "counter.jar");
    assert_eq!(a["status"]["version"], 1);
    assert_eq!(a["status"]["phase"], "READY");
    assert_eq!(a["status"]["checksum"], sha256(&one));
    assert_eq!(a["status"]["size"], one.len() as u64);
    // Content-addressed: the stored file is named by its SHA-256.
    let path = a["status"]["path"].as_str().unwrap().to_owned();
    let hex = &sha256(&one)["sha256:".len()..];
    assert!(path.ends_with(&format!("/{hex}.jar")), "{path}");

    // A second POST of the name is a conflict; PUT makes versions.
    let (code, body) = create(&s, "devel", "counter.jar", two.clone()).await;
    assert_eq!(code, 409, "{body}");
    assert!(error_message(&body).contains("counter.jar"), "{body}");
    let one_path = format!("{ARTIFACTS}/counter.jar");
    let put = |bytes: Option<Vec<u8>>, doc: Value| {
        send(&s, reqwest::Method::PUT, &one_path, Some(doc), bytes)
    };
    // The same content as the latest makes no new version.
    let (code, a) = put(Some(one.clone()), document("counter.jar")).await;
    assert_eq!(
        (code, a["status"]["version"].as_u64()),
        (200, Some(1)),
        "{a}"
    );
    let (code, a) = put(Some(two.clone()), document("counter.jar")).await;
    assert_eq!(
        (code, a["status"]["version"].as_u64()),
        (200, Some(2)),
        "{a}"
    );
    assert_eq!(a["status"]["checksum"], sha256(&two));
    // Labels alone: no new version.
    let mut labelled = document("counter.jar");
    labelled["metadata"]["labels"] = json!({"team": "a"});
    let (code, a) = put(None, labelled).await;
    assert_eq!(
        (code, a["status"]["version"].as_u64()),
        (200, Some(2)),
        "{a}"
    );
    assert_eq!(a["metadata"]["labels"]["team"], "a");

    // Get by version, list (latest of each), versions newest first.
    let (_, v1) = s.get(&format!("{ARTIFACTS}/counter.jar?version=1")).await;
    assert_eq!(v1["status"]["checksum"], sha256(&one), "{v1}");
    let (_, latest) = s.get(&format!("{ARTIFACTS}/counter.jar")).await;
    assert_eq!(latest["status"]["version"], 2);
    let (_, page) = s.get(ARTIFACTS).await;
    assert_eq!(versions(&page), vec![2], "{page}");
    let (_, page) = s.get(&format!("{ARTIFACTS}/counter.jar/versions")).await;
    assert_eq!(versions(&page), vec![2, 1], "{page}");

    // Download: the bytes of the version asked for.
    let response = s
        .client
        .get(s.url(&format!("{ARTIFACTS}/counter.jar/content?version=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"counter-v1.jar\""
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), one);

    // The same store through VVP: the namespace's artifact list holds it.
    let (code, vvp) = s.get("/artifacts/v1/namespaces/devel/artifacts").await;
    assert_eq!(code, 200, "{vvp}");
    assert_eq!(vvp["artifacts"][0]["filename"], "counter.jar", "{vvp}");
    assert_eq!(vvp["artifacts"][0]["size"], two.len() as u64);

    // Bad input: 4xx naming what is wrong.
    let cases: Vec<BadUpload> = vec![
        (None, Some(one.clone()), "artifact"),
        (Some(document("other.jar")), None, "file"),
        (
            Some(document("Bad_Name")),
            Some(one.clone()),
            "metadata.name",
        ),
        (
            Some(document("text.jar")),
            Some(b"not a jar".to_vec()),
            "JAR or ZIP",
        ),
        (
            Some(json!({"kind": "FlinkApplication", "metadata": {"name": "x.jar"}})),
            Some(one.clone()),
            "kind",
        ),
    ];
    for (doc, file, named) in cases {
        let (code, body) = send(&s, reqwest::Method::POST, ARTIFACTS, doc, file).await;
        assert_eq!(code, 400, "{named}: {body}");
        assert!(error_message(&body).contains(named), "{named}: {body}");
    }
    let (code, body) = s.get(&format!("{ARTIFACTS}/counter.jar?version=abc")).await;
    assert_eq!(code, 400, "{body}");
    assert!(error_message(&body).contains("version"), "{body}");
    let (code, body) = s.get(&format!("{ARTIFACTS}/counter.jar?version=9")).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = s.get(&format!("{ARTIFACTS}/missing.jar")).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = create(&s, "nowhere", "x.jar", one.clone()).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = send(
        &s,
        reqwest::Method::PUT,
        &format!("{ARTIFACTS}/counter.jar"),
        Some(document("other.jar")),
        None,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(error_message(&body).contains("metadata.name"), "{body}");
    // No artifact appeared from any of them.
    let (_, page) = s.get(ARTIFACTS).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");

    // An application pinned to version 1 holds it; one without a version
    // holds the latest.
    let app = |name: &str, uri: &str| {
        json!({"apiVersion": "cmf.confluent.io/v1", "kind": "FlinkApplication",
               "metadata": {"name": name},
               "spec": {"job": {"jarURI": uri, "state": "suspended", "parallelism": 1,
                                "upgradeMode": "stateless"}}})
    };
    let apps = "/cmf/api/v1/environments/devel/applications";
    // A cmf:// jar must name an existing version of the application's own
    // environment: 422 naming the field otherwise.
    for uri in [
        "cmf://devel/missing.jar",
        "cmf://devel/counter.jar?version=9",
        "cmf://other/counter.jar",
        "cmf://devel",
    ] {
        let (code, body) = s.post(apps, app("broken", uri)).await;
        assert_eq!(code, 422, "{uri}: {body}");
        assert!(
            error_message(&body).contains("spec.job.jarURI"),
            "{uri}: {body}"
        );
    }
    let (code, body) = s
        .post(apps, app("pinned", "cmf://devel/counter.jar?version=1"))
        .await;
    assert!(code == 200 || code == 201, "{body}");
    for query in ["?version=1", "", "?version=all"] {
        let (code, body) = s.delete(&format!("{ARTIFACTS}/counter.jar{query}")).await;
        assert_eq!(code, 409, "{query}: {body}");
        let message = error_message(&body);
        assert!(
            message.contains("pinned") && message.contains("version 1"),
            "{message}"
        );
    }
    let (code, body) = s
        .post(apps, app("floating", "cmf://devel/counter.jar"))
        .await;
    assert!(code == 200 || code == 201, "{body}");
    let (code, body) = s
        .delete(&format!("{ARTIFACTS}/counter.jar?version=2"))
        .await;
    assert_eq!(code, 409, "{body}");
    assert!(error_message(&body).contains("floating"), "{body}");
    // Once the applications are gone, the versions go.
    for name in ["pinned", "floating"] {
        let (code, body) = s.delete(&format!("{apps}/{name}")).await;
        assert!(code < 300, "{body}");
    }
    let (code, body) = s
        .delete(&format!("{ARTIFACTS}/counter.jar?version=1"))
        .await;
    assert_eq!(code, 204, "{body}");
    let (_, page) = s.get(&format!("{ARTIFACTS}/counter.jar/versions")).await;
    assert_eq!(versions(&page), vec![2], "{page}");
    let (code, body) = s.delete(&format!("{ARTIFACTS}/counter.jar")).await;
    assert_eq!(code, 204, "{body}");
    let (code, _) = s.get(&format!("{ARTIFACTS}/counter.jar")).await;
    assert_eq!(code, 404);
    // The content went with the last version that named it.
    assert!(!std::path::Path::new(path.trim_start_matches("file://")).exists());

    // A version whose stored file vanished says so instead of READY.
    let (code, gone) = create(&s, "devel", "gone.jar", one.clone()).await;
    assert_eq!(code, 200, "{gone}");
    assert!(gone["status"].get("message").is_none(), "{gone}");
    let blob = gone["status"]["path"].as_str().unwrap();
    std::fs::remove_file(blob.trim_start_matches("file://")).unwrap();
    let (code, gone) = s.get(&format!("{ARTIFACTS}/gone.jar")).await;
    assert_eq!(code, 200, "{gone}");
    assert_eq!(gone["status"]["phase"], "FILE_MISSING", "{gone}");
    assert!(
        gone["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing")),
        "{gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_limit_get_413_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--max-artifact-bytes", "4096"]);
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "devel"}))
        .await;
    assert!(code == 200 || code == 201, "{body}");
    let big = jar("stateful-counter.jar");
    assert!(big.len() > 4096);
    let (code, body) = create(&s, "devel", "big.jar", big.clone()).await;
    assert_eq!(code, 413, "{body}");
    assert!(error_message(&body).contains("4096"), "{body}");
    // The VVP upload keeps the same limit, in its own error body.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(big).file_name("big.jar"),
    );
    let response = s
        .client
        .post(s.url("/artifacts/v1/namespaces/devel/artifacts:upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("4096"));
    // Nothing was kept.
    let (_, page) = s.get(ARTIFACTS).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
    let blobs = dir.path().join("artifacts");
    let leftovers: Vec<_> = walk(&blobs).into_iter().filter(|p| p.is_file()).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn application_runs_from_an_uploaded_artifact_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = dir.path().join("counts.txt");
    let s = start(&data);
    let _clusters = KillClusters(data.clone());
    let (code, body) = s
        .post("/cmf/api/v1/environments", json!({"name": "flink"}))
        .await;
    assert!(code == 200 || code == 201, "{body}");
    let (code, a) = create(&s, "flink", "counter.jar", jar("stateful-counter.jar")).await;
    assert_eq!(code, 200, "{a}");

    let mut spec = counter_app("counter", &out, 1, "stateless");
    spec["spec"]["job"]["jarURI"] = json!("cmf://flink/counter.jar?version=1");
    let (code, body) = s.post(APPS, spec).await;
    assert!(code == 200 || code == 201, "{body}");
    wait_for(&s, "counter", "running", Duration::from_secs(240), running).await;
    wait_for_output(&out, 5).await;

    // While it runs from version 1, that version cannot be deleted.
    let artifact = "/cmf/api/v1/environments/flink/artifacts/counter.jar";
    let (code, body) = s.delete(artifact).await;
    assert_eq!(code, 409, "{body}");
    assert!(error_message(&body).contains("counter"), "{body}");
    let (code, _) = s.get(artifact).await;
    assert_eq!(code, 200);

    delete_and_wait(&s, &data, "counter", Duration::from_secs(120)).await;
    let (code, body) = s.delete(artifact).await;
    assert_eq!(code, 204, "{body}");
}
