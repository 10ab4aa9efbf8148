//! A LakeSail Flink application on real Flink, made by an organization's
//! own key: it runs, its Web UI and REST API open through a pre-signed URL
//! with no token (refused once forged), a manual savepoint completes, and
//! it suspends and goes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::flink::{start, testjobs, KillClusters};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lakesail_application_on_real_flink() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = KillClusters(dir.path().to_owned());
    let mut s = start(dir.path());
    let out = dir.path().join("counts.txt");

    // An organization and its administrator's key; act with it from here on.
    let (code, org) = s
        .post("/api/admin/v1/organizations", json!({"name": "acme"}))
        .await;
    assert_eq!(code, 201, "{org}");
    let (code, key) = s
        .post(
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(code, 201, "{key}");
    s.token = Some(key["key"].as_str().unwrap().to_owned());
    let (code, ws) = s
        .post("/api/org/v1/workspaces", json!({"name": "Streaming"}))
        .await;
    assert_eq!(code, 201, "{ws}");
    let apps = format!(
        "/api/flink/v1/workspaces/{}/applications",
        ws["id"].as_str().unwrap()
    );
    let jar = testjobs().join("stateful-counter.jar");
    let (code, app) = s
        .post(
            &apps,
            json!({
                "name": "Counter", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
                "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
                "logConfiguration": {},
                "jobManagerResource": {"cpu": 1, "memory": "768m"},
                "taskManagerResource": {"cpu": 1, "memory": "1024m"},
                "job": {"jarUri": format!("local://{}", jar.display()),
                        "entryClass": "io.drey.testjobs.StatefulCounter",
                        "args": ["--out", out.to_str().unwrap(), "--rate", "20"]}
            }),
        )
        .await;
    assert_eq!(code, 201, "{app}");
    let app_path = format!("{apps}/{}", app["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, now) = s.get(&app_path).await;
        if now["state"] == "RUNNING" {
            break;
        }
        assert!(Instant::now() < deadline, "not RUNNING: {now}\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The Web UI through a pre-signed URL: no token needed.
    let (code, url) = s
        .post(
            &format!("{app_path}/urls"),
            json!({"expiresInSeconds": 60, "webSessionDurationInSeconds": 600}),
        )
        .await;
    assert_eq!(code, 201, "{url}");
    let url = url["url"].as_str().unwrap().to_owned();
    assert!(url.ends_with('/'), "{url}");
    let plain = reqwest::Client::new();
    let page = plain.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    for api in ["overview", "v1/overview"] {
        let overview: Value = plain
            .get(format!("{url}{api}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(overview["taskmanagers"], 1, "{api}: {overview}");
    }
    let forged = url.replacen("/ui/", "/ui/A", 1);
    assert_eq!(plain.get(&forged).send().await.unwrap().status(), 403);

    // A manual savepoint.
    let (code, sp) = s.post(&format!("{app_path}/savepoints"), json!({})).await;
    assert_eq!(code, 201, "{sp}");
    assert_eq!(sp["triggerType"], "MANUAL");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, list) = s.get(&format!("{app_path}/savepoints")).await;
        let done = list["completed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["triggerNonce"] == sp["triggerNonce"] && c["location"].is_string());
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Suspend, then delete.
    let (code, body) = s
        .json(
            Method::PATCH,
            &app_path,
            Some(json!({"state": "SUSPENDED"})),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["desiredState"], "SUSPENDED");
    let (code, _) = s.delete(&app_path).await;
    assert_eq!(code, 204);
}
