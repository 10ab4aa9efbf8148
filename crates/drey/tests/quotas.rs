//! Quotas per organization and environment over real HTTP: limits set by a
//! server administrator (LakeSail admin API), a write past one refused with
//! a 4xx naming it in each dialect's own error body (CMF RestError, VVP
//! ApiException, LakeSail `{"message"}`), and a burst of 50 compute pool
//! creations admitting only what fits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{error_message, Server};
use reqwest::Method;
use serde_json::{json, Value};

async fn call(
    s: &Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.client.request(method, s.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// `n` compute pool creations at once, spread over `servers` in turn.
async fn burst(servers: &[&Server], token: &str, pools: &str, n: usize) -> Vec<(u16, Value)> {
    futures::future::join_all((0..n).map(|i| {
        let s = servers[i % servers.len()];
        async move {
            call(
                s,
                token,
                Method::POST,
                pools,
                Some(pool(&format!("pool-{i}"))),
            )
            .await
        }
    }))
    .await
}

fn pool(name: &str) -> Value {
    json!({
        "apiVersion": "cmf.confluent.io/v1", "kind": "ComputePool",
        "metadata": {"name": name},
        "spec": {"type": "SHARED", "clusterSpec": {
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
            "jobManager": {"resource": {"memory": "768m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 1}, "replicas": 1}
        }}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_what_goes_past_them_in_every_dialect() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let root = std::fs::read_to_string(dir.path().join("root.key"))
        .unwrap()
        .trim()
        .to_owned();

    // A server administrator makes an organization with limits.
    let (code, body) = call(
        &s,
        &root,
        Method::POST,
        "/api/admin/v1/organizations",
        Some(json!({"name": "Acme", "limits": {"clusters": -1}})),
    )
    .await;
    assert!(code == 400 || code == 422, "{code} {body}");
    assert!(
        body["message"].as_str().unwrap().contains("limits"),
        "{body}"
    );
    let (code, org) = call(
        &s,
        &root,
        Method::POST,
        "/api/admin/v1/organizations",
        Some(json!({"name": "Acme", "limits": {"clusters": 3}})),
    )
    .await;
    assert_eq!(code, 201, "{org}");
    assert_eq!(org["limits"], json!({"clusters": 3}));
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (code, key) = call(
        &s,
        &root,
        Method::POST,
        &format!("/api/admin/v1/organizations/{org_id}/keys"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{key}");
    let acme = key["key"].as_str().unwrap().to_owned();

    // An environment with a limit of two clusters.
    let (code, body) = call(
        &s,
        &acme,
        Method::POST,
        "/cmf/api/v1/environments",
        Some(json!({"name": "burst"})),
    )
    .await;
    assert!(code == 200 || code == 201, "{body}");
    let quota = format!("/api/admin/v1/organizations/{org_id}/workspaces/burst/quota");
    let (code, body) = call(
        &s,
        &acme,
        Method::PUT,
        &quota,
        Some(json!({"limits": {"clusters": 2}})),
    )
    .await;
    assert_eq!(code, 403, "only a server administrator sets limits: {body}");
    let (code, body) = call(
        &s,
        &root,
        Method::PUT,
        &quota,
        Some(json!({"limits": {"clusters": 2}})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["limits"], json!({"clusters": 2}));

    // A burst of 50 pool creations: two are admitted, 48 refused naming the limit.
    let pools = "/cmf/api/v1/environments/burst/compute-pools";
    let answers = burst(&[&s], &acme, pools, 50).await;
    let admitted = answers.iter().filter(|(code, _)| *code == 200).count();
    assert_eq!(admitted, 2, "{answers:?}");
    for (code, body) in answers.iter().filter(|(code, _)| *code != 200) {
        assert_eq!(*code, 422, "{body}");
        let message = error_message(body);
        assert!(
            message.contains("environment 'burst' may use at most 2 clusters"),
            "{message}"
        );
    }
    let (_, listed) = call(&s, &acme, Method::GET, pools, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    let (code, report) = call(&s, &root, Method::GET, &quota, None).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["usage"]["clusters"], 2, "{report}");
    assert_eq!(report["usage"]["taskSlots"], 4, "{report}");
    assert_eq!(report["usage"]["memoryMb"], 2 * 1792, "{report}");

    // VVP: a running deployment is refused in VVP's body; a suspended one
    // takes no cluster and is admitted.
    let deployment = |name: &str, state: &str| {
        json!({
            "kind": "Deployment", "apiVersion": "v1", "metadata": {"name": name},
            "spec": {"state": state, "template": {"spec": {
                "artifact": {"kind": "JAR", "jarUri": "file:///opt/jobs/job.jar"}}}}
        })
    };
    let deployments = "/api/v1/namespaces/burst/deployments";
    let (code, body) = call(
        &s,
        &acme,
        Method::POST,
        deployments,
        Some(deployment("dep-one", "RUNNING")),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["kind"], "ApiException", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 clusters"),
        "{body}"
    );
    let (code, body) = call(
        &s,
        &acme,
        Method::POST,
        deployments,
        Some(deployment("dep-two", "SUSPENDED")),
    )
    .await;
    assert_eq!(code, 201, "{body}");

    // The organization's limit (3) counts every environment: a LakeSail
    // workspace gets one cluster, the next is refused in LakeSail's body.
    let (code, ws) = call(
        &s,
        &acme,
        Method::POST,
        "/api/org/v1/workspaces",
        Some(json!({"name": "other"})),
    )
    .await;
    assert_eq!(code, 201, "{ws}");
    let apps = format!(
        "/api/flink/v1/workspaces/{}/applications",
        ws["id"].as_str().unwrap()
    );
    let app = |name: &str| {
        json!({
            "name": name, "runtime": "FLINK_1_17", "jars": [], "plugins": [],
            "flinkConfiguration": {}, "logConfiguration": {},
            "jobManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
            "taskManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
            "job": {"jarUri": "local:///opt/flink/examples/streaming/WordCount.jar", "entryClass": "com.example.Job", "args": []}
        })
    };
    let (code, body) = call(&s, &acme, Method::POST, &apps, Some(app("first"))).await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = call(&s, &acme, Method::POST, &apps, Some(app("second"))).await;
    assert!(code == 400 || code == 422, "{code} {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "organization '{org_id}' may use at most 3 clusters"
        )),
        "{message}"
    );
    let (code, report) = call(
        &s,
        &root,
        Method::GET,
        &format!("/api/admin/v1/organizations/{org_id}/quota"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["usage"]["clusters"], 3, "{report}");

    // Suspending a pool frees its cluster: the next creation fits.
    let mut suspended = pool("pool-any");
    suspended["spec"]["state"] = json!("SUSPENDED");
    let first = answers.iter().position(|(code, _)| *code == 200).unwrap();
    let mut update = pool(&format!("pool-{first}"));
    update["spec"]["state"] = json!("SUSPENDED");
    let (code, body) = call(
        &s,
        &acme,
        Method::PUT,
        &format!("{pools}/pool-{first}"),
        Some(update),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = call(&s, &acme, Method::POST, &apps, Some(app("second"))).await;
    assert_eq!(code, 201, "{body}");
    // Raising the workspace's limit is no way past the organization's.
    let (code, body) = call(
        &s,
        &root,
        Method::PUT,
        &quota,
        Some(json!({"limits": {"clusters": 10}})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = call(&s, &acme, Method::POST, pools, Some(pool("late"))).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        error_message(&body).contains("at most 3 clusters"),
        "{body}"
    );
    // A suspended pool is no cluster and is admitted.
    let (code, body) = call(&s, &acme, Method::POST, pools, Some(suspended)).await;
    assert_eq!(code, 200, "{body}");
}

/// Replicas share one admission: a burst of pool creations spread over two
/// replicas of one PostgreSQL database admits only what fits the
/// organization's limit, counted one after another across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_across_replicas_admits_only_what_fits() {
    let Some(url) = common::postgres::database_url() else {
        return;
    };
    const SECRET_KEY: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&data_a).unwrap();
    std::fs::create_dir_all(&data_b).unwrap();
    let args = [
        "--auth",
        "token",
        "--database-url",
        url.as_str(),
        "--secret-key",
        SECRET_KEY,
    ];
    let a = Server::start_in(&data_a, &args);
    std::fs::copy(data_a.join("root.key"), data_b.join("root.key")).unwrap();
    let b = Server::start_in(&data_b, &args);
    let root = std::fs::read_to_string(data_a.join("root.key"))
        .unwrap()
        .trim()
        .to_owned();
    // Rounds of bursts, each in an organization of its own limited to two
    // clusters: a race between the replicas' checks shows as a third.
    for round in 0..15 {
        let (code, org) = call(
            &a,
            &root,
            Method::POST,
            "/api/admin/v1/organizations",
            Some(json!({"name": format!("Spread {round}"), "limits": {"clusters": 2}})),
        )
        .await;
        assert_eq!(code, 201, "{org}");
        let (code, key) = call(
            &b,
            &root,
            Method::POST,
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            Some(json!({})),
        )
        .await;
        assert_eq!(code, 201, "{key}");
        let token = key["key"].as_str().unwrap().to_owned();
        let (code, body) = call(
            &a,
            &token,
            Method::POST,
            "/cmf/api/v1/environments",
            Some(json!({"name": "spread"})),
        )
        .await;
        assert!(code == 200 || code == 201, "{body}");

        let pools = "/cmf/api/v1/environments/spread/compute-pools";
        let answers = burst(&[&a, &b], &token, pools, 60).await;
        let admitted = answers.iter().filter(|(code, _)| *code == 200).count();
        assert_eq!(admitted, 2, "round {round}: {answers:?}");
        for (code, body) in answers.iter().filter(|(code, _)| *code != 200) {
            assert_eq!(*code, 422, "{body}");
            assert!(
                error_message(body).contains("may use at most 2 clusters"),
                "{body}"
            );
        }
        for s in [&a, &b] {
            let (_, listed) = call(s, &token, Method::GET, pools, None).await;
            assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
        }
    }
}
