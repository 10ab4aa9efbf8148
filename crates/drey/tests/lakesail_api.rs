//! Organizations, service accounts, keys and roles through the LakeSail-style
//! API, and tenant isolation across the CMF and VVP dialects, against a real
//! drey server in token mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn id_ok(id: &Value) -> bool {
    id.as_str().is_some_and(|s| {
        !s.is_empty()
            && s.len() <= 20
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

async fn call(
    s: &Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut req = s.client.request(method, s.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body, ct)
}

#[tokio::test]
async fn organizations_keys_roles_and_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let root = std::fs::read_to_string(dir.path().join("root.key"))
        .unwrap()
        .trim()
        .to_owned();

    // Without a token: 401.
    let anonymous = s.client.get(s.url("/api/org/v1/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // Root keys: the admin group.
    let (code, me, ct) = call(&s, &root, Method::GET, "/api/org/v1/me", None).await;
    assert_eq!(code, 200);
    assert_eq!(ct, "application/json; charset=utf-8");
    assert_eq!(me, json!({"root": {}}));
    let (code, key, _) = call(
        &s,
        &root,
        Method::POST,
        "/api/admin/v1/keys",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{key}");
    assert!(id_ok(&key["id"]), "{key}");
    let second_root = key["key"].as_str().unwrap().to_owned();
    let (code, summary, _) = call(
        &s,
        &second_root,
        Method::GET,
        &format!("/api/admin/v1/keys/{}", key["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        summary.get("key").is_none(),
        "the secret is shown once: {summary}"
    );
    assert!(summary["createdAt"].is_string() && summary["updatedAt"].is_string());

    // Organizations, paged by limit and marker.
    let mut orgs = Vec::new();
    for name in ["acme", "globex", "initech"] {
        let (code, org, _) = call(
            &s,
            &root,
            Method::POST,
            "/api/admin/v1/organizations",
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(code, 201, "{org}");
        assert!(id_ok(&org["id"]));
        orgs.push(org["id"].as_str().unwrap().to_owned());
    }
    let (_, first, _) = call(
        &s,
        &root,
        Method::GET,
        "/api/admin/v1/organizations?limit=2",
        None,
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let marker = first["marker"].as_str().unwrap().to_owned();
    let (_, rest, _) = call(
        &s,
        &root,
        Method::GET,
        &format!("/api/admin/v1/organizations?limit=2&marker={marker}"),
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(
        rest.get("marker").is_none(),
        "no marker on the last page: {rest}"
    );
    let (code, body, ct) = call(
        &s,
        &root,
        Method::GET,
        "/api/admin/v1/organizations?limit=500",
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(ct, "application/json; charset=utf-8");

    // An organization administrator for acme, then a viewer.
    let acme = &orgs[0];
    let (code, admin_key, _) = call(
        &s,
        &root,
        Method::POST,
        &format!("/api/admin/v1/organizations/{acme}/keys"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{admin_key}");
    let acme_admin = admin_key["key"].as_str().unwrap().to_owned();
    let (_, me, _) = call(&s, &acme_admin, Method::GET, "/api/org/v1/me", None).await;
    assert_eq!(me["serviceAccount"]["role"], "admin", "{me}");
    let (code, viewer_sa, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        "/api/org/v1/service-accounts",
        Some(json!({"username": "dashboards", "description": "read only", "role": "viewer"})),
    )
    .await;
    assert_eq!(code, 201, "{viewer_sa}");
    let viewer_id = viewer_sa["id"].as_str().unwrap().to_owned();
    let (code, vk, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        &format!("/api/org/v1/service-accounts/{viewer_id}/keys"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{vk}");
    let viewer = vk["key"].as_str().unwrap().to_owned();
    let (_, keys, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        &format!("/api/org/v1/service-accounts/{viewer_id}/keys"),
        None,
    )
    .await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    assert!(keys["items"][0].get("key").is_none());

    // Roles: 403 where the role does not reach.
    let (code, body, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        "/api/admin/v1/organizations",
        None,
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert!(body["message"].is_string());
    let (code, _, _) = call(&s, &viewer, Method::GET, "/cmf/api/v1/environments", None).await;
    assert_eq!(code, 200, "a viewer reads");
    let (code, body, _) = call(
        &s,
        &viewer,
        Method::POST,
        "/cmf/api/v1/environments",
        Some(json!({"name": "nope-env"})),
    )
    .await;
    assert_eq!(code, 403, "a viewer cannot write: {body}");
    assert!(
        body["errors"][0]["message"].is_string(),
        "CMF's body: {body}"
    );
    let (code, body, _) = call(
        &s,
        &viewer,
        Method::POST,
        "/namespaces/v1/namespaces",
        Some(json!({"name": "nope-ns"})),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(body["kind"], "ApiException", "VVP's body: {body}");
    let (code, _, _) = call(
        &s,
        &viewer,
        Method::POST,
        "/api/org/v1/service-accounts",
        Some(json!({"username": "x", "description": "y"})),
    )
    .await;
    assert_eq!(code, 403);

    // Tenant isolation: the default organization's objects do not exist for acme.
    for (path, body) in [
        ("/cmf/api/v1/environments", json!({"name": "root-env"})),
        (
            "/cmf/api/v1/secrets",
            json!({"metadata": {"name": "root-secret"}, "spec": {"data": {"k": "v"}}}),
        ),
        (
            "/cmf/api/v1/environments/root-env/compute-pools",
            json!({"metadata": {"name": "root-pool"}, "spec": {"type": "SHARED", "clusterSpec": {}}}),
        ),
        (
            "/cmf/api/v1/environments/root-env/statements",
            json!({"metadata": {"name": "root-stmt"}, "spec": {"statement": "SELECT 1", "computePoolName": "root-pool"}}),
        ),
        (
            "/cmf/api/v1/catalogs/kafka",
            json!({"metadata": {"name": "root-cat"}, "spec": {"srInstance": {"connectionConfig": {}}, "kafkaClusters": []}}),
        ),
        (
            "/api/v1/namespaces/root-env/deployments",
            json!({"metadata": {"name": "root-app"}, "spec": {"state": "SUSPENDED", "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": "file:///x.jar"}}}}}),
        ),
    ] {
        let (code, answer, _) = call(&s, &root, Method::POST, path, Some(body)).await;
        assert!(code == 200 || code == 201, "{path}: {code} {answer}");
    }
    let foreign = [
        "/cmf/api/v1/environments/root-env",
        "/cmf/api/v1/environments/root-env/applications",
        "/cmf/api/v1/environments/root-env/applications/root-app",
        "/cmf/api/v1/environments/root-env/compute-pools/root-pool",
        "/cmf/api/v1/environments/root-env/statements/root-stmt",
        "/cmf/api/v1/environments/root-env/statements/root-stmt/flink-web-ui/overview",
        "/cmf/api/v1/secrets/root-secret",
        "/cmf/api/v1/catalogs/kafka/root-cat",
        "/api/v1/namespaces/root-env/deployments/root-app",
        "/api/v1/namespaces/root-env/deployments",
        "/namespaces/v1/namespaces/root-env",
    ];
    for path in foreign {
        let is_list = path.ends_with("/applications") || path.ends_with("/deployments");
        let methods: &[Method] = if is_list {
            &[Method::GET]
        } else {
            &[Method::GET, Method::DELETE]
        };
        for method in methods {
            let (code, body, _) = call(&s, &acme_admin, method.clone(), path, None).await;
            assert_eq!(
                code, 404,
                "{method} {path} from another organization: {body}"
            );
        }
    }
    let (code, body, _) = call(
        &s,
        &acme_admin,
        Method::PUT,
        "/cmf/api/v1/secrets/root-secret",
        Some(json!({"metadata": {"name": "root-secret"}, "spec": {"data": {"k": "stolen"}}})),
    )
    .await;
    assert_eq!(code, 404, "{body}");
    for path in [
        "/cmf/api/v1/environments",
        "/cmf/api/v1/secrets",
        "/cmf/api/v1/catalogs/kafka",
    ] {
        let (_, listed, _) = call(&s, &acme_admin, Method::GET, path, None).await;
        assert_eq!(
            listed["items"],
            json!([]),
            "{path} lists nothing of another organization: {listed}"
        );
    }
    let (_, namespaces, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        "/namespaces/v1/namespaces",
        None,
    )
    .await;
    assert_eq!(namespaces["namespaces"], json!([]));
    // acme's own environment of the same name is its own object.
    let (code, _, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        "/cmf/api/v1/environments",
        Some(json!({"name": "root-env"})),
    )
    .await;
    assert_eq!(code, 201);
    let (_, apps, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        "/cmf/api/v1/environments/root-env/applications",
        None,
    )
    .await;
    assert_eq!(apps["items"], json!([]));
    let (code, _, _) = call(
        &s,
        &root,
        Method::GET,
        "/cmf/api/v1/environments/root-env/applications/root-app",
        None,
    )
    .await;
    assert_eq!(code, 200, "the owner still sees its own");
    // Audit: every write records who made it.
    let (code, secret, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        "/cmf/api/v1/secrets",
        Some(json!({"metadata": {"name": "acme-secret"}, "spec": {"data": {"k": "v"}}})),
    )
    .await;
    assert_eq!(code, 200, "{secret}");
    let writer = format!("{acme}/{}", admin_key["id"].as_str().unwrap());
    assert_eq!(
        secret["metadata"]["annotations"]["drey.io/modified-by"],
        writer.as_str(),
        "{secret}"
    );
    assert!(s.log().contains("drey::audit"), "a structured audit line");

    // Service accounts of one organization are not another's.
    let (code, _, _) = call(
        &s,
        &root,
        Method::GET,
        &format!("/api/org/v1/service-accounts/{viewer_id}"),
        None,
    )
    .await;
    assert_eq!(code, 404);

    // Workspaces (environments) and Flink applications, from acme's admin.
    let (code, ws, ct) = call(
        &s,
        &acme_admin,
        Method::POST,
        "/api/org/v1/workspaces",
        Some(json!({"name": "Analytics"})),
    )
    .await;
    assert_eq!(code, 201, "{ws}");
    assert_eq!(ct, "application/json; charset=utf-8");
    assert!(id_ok(&ws["id"]), "{ws}");
    assert_eq!(ws["name"], "Analytics");
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    for name in ["Two", "Three"] {
        call(
            &s,
            &acme_admin,
            Method::POST,
            "/api/org/v1/workspaces",
            Some(json!({"name": name})),
        )
        .await;
    }
    let (_, page1, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        "/api/org/v1/workspaces?limit=2",
        None,
    )
    .await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2, "{page1}");
    let marker = page1["marker"].as_str().unwrap();
    let (_, page2, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        &format!("/api/org/v1/workspaces?limit=2&marker={marker}"),
        None,
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2.get("marker").is_none());
    let (code, renamed, _) = call(
        &s,
        &acme_admin,
        Method::PATCH,
        &format!("/api/org/v1/workspaces/{ws_id}"),
        Some(json!({"name": "Renamed"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(renamed["name"], "Renamed");
    let (code, _, _) = call(
        &s,
        &root,
        Method::GET,
        &format!("/api/org/v1/workspaces/{ws_id}"),
        None,
    )
    .await;
    assert_eq!(code, 404, "another organization's workspace");
    let (code, body, _) = call(
        &s,
        &acme_admin,
        Method::GET,
        "/api/org/v1/workspaces/lower-case",
        None,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let app_spec = json!({
        "name": "Word count", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
        "logConfiguration": {},
        "jobManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
        "taskManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
        "job": {"jarUri": "local:///opt/flink/examples/streaming/WordCount.jar", "entryClass": "com.example.Job", "args": []}
    });
    let apps_path = format!("/api/flink/v1/workspaces/{ws_id}/applications");
    let (code, app, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        &apps_path,
        Some(app_spec.clone()),
    )
    .await;
    assert_eq!(code, 201, "{app}");
    assert!(id_ok(&app["id"]));
    assert_eq!(app["name"], "Word count");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let mut missing = app_spec.clone();
    missing.as_object_mut().unwrap().remove("runtime");
    let (code, body, _) = call(&s, &acme_admin, Method::POST, &apps_path, Some(missing)).await;
    assert_eq!(code, 400);
    assert!(
        body["message"].as_str().unwrap().contains("runtime"),
        "{body}"
    );
    let (_, listed, _) = call(&s, &acme_admin, Method::GET, &apps_path, None).await;
    assert_eq!(listed["items"][0]["id"], app_id.as_str());
    let (code, _, _) = call(
        &s,
        &root,
        Method::GET,
        &format!("{apps_path}/{app_id}"),
        None,
    )
    .await;
    assert_eq!(code, 404, "not root's");
    let (code, body, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        &format!("{apps_path}/{app_id}/urls"),
        Some(json!({"expiresInSeconds": 1000, "webSessionDurationInSeconds": 600})),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, url, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        &format!("{apps_path}/{app_id}/urls"),
        Some(json!({"expiresInSeconds": 60, "webSessionDurationInSeconds": 600})),
    )
    .await;
    assert_eq!(code, 201, "{url}");
    let url = url["url"].as_str().unwrap().to_owned();
    let path = url
        .split_once("/api/")
        .map(|(_, p)| format!("/api/{p}"))
        .unwrap();
    // No cluster runs (API-only server): the URL is accepted, Flink is not there.
    let anonymous = s
        .client
        .get(s.url(&format!("{path}overview")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 503);
    let tampered = path.replacen("/ui/", "/ui/x", 1);
    let forged = s
        .client
        .get(s.url(&format!("{tampered}overview")))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (code, _, _) = call(
        &s,
        &acme_admin,
        Method::DELETE,
        &format!("{apps_path}/{app_id}"),
        None,
    )
    .await;
    assert_eq!(code, 204);

    // Expired and revoked keys stop working at once.
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (code, short, _) = call(
        &s,
        &acme_admin,
        Method::POST,
        &format!("/api/org/v1/service-accounts/{viewer_id}/keys"),
        Some(json!({"expiresAt": expires})),
    )
    .await;
    assert_eq!(code, 201, "{short}");
    let short_key = short["key"].as_str().unwrap().to_owned();
    let (code, _, _) = call(&s, &short_key, Method::GET, "/api/org/v1/me", None).await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, _, _) = call(&s, &short_key, Method::GET, "/api/org/v1/me", None).await;
    assert_eq!(code, 401, "expired");
    let vk_id = vk["id"].as_str().unwrap();
    let (code, _, _) = call(
        &s,
        &acme_admin,
        Method::DELETE,
        &format!("/api/org/v1/service-accounts/{viewer_id}/keys/{vk_id}"),
        None,
    )
    .await;
    assert_eq!(code, 204);
    let (code, _, _) = call(&s, &viewer, Method::GET, "/api/org/v1/me", None).await;
    assert_eq!(code, 401, "revoked");
    let (code, _, _) = call(
        &s,
        &root,
        Method::DELETE,
        &format!("/api/admin/v1/keys/{}", key["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(code, 204);
    let (code, _, _) = call(&s, &second_root, Method::GET, "/api/org/v1/me", None).await;
    assert_eq!(code, 401, "revoked root key");

    // No token is ever stored in clear.
    let bytes = s.stored_bytes();
    assert!(!bytes.is_empty());
    for token in [&root, &acme_admin, &viewer, &second_root] {
        // drey_<id>_<secret>: the secret may itself contain '_'.
        let secret = token.splitn(3, '_').nth(2).unwrap().as_bytes();
        assert!(secret.len() >= 43);
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "the database holds a token"
        );
    }
}

/// A pre-signed URL means what it says: every path works only until its
/// "open by" time; opening its page begins a web session at a URL of its
/// own (a redirect) that lasts the session; both die with the key that
/// issued them; the grant never appears in a log line. (An API-only
/// server: an accepted URL answers 503, no cluster runs; a refused one 403.)
#[tokio::test]
async fn presigned_urls_expire_whole_and_die_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token", "--log", "debug"]);
    let root = std::fs::read_to_string(dir.path().join("root.key"))
        .unwrap()
        .trim()
        .to_owned();
    let (code, issuer, _) = call(
        &s,
        &root,
        Method::POST,
        "/api/admin/v1/keys",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{issuer}");
    let issuer_key = issuer["key"].as_str().unwrap().to_owned();
    let (code, ws, _) = call(
        &s,
        &root,
        Method::POST,
        "/api/org/v1/workspaces",
        Some(json!({"name": "urls"})),
    )
    .await;
    assert_eq!(code, 201, "{ws}");
    let apps = format!(
        "/api/flink/v1/workspaces/{}/applications",
        ws["id"].as_str().unwrap()
    );
    let (code, app, _) = call(
        &s,
        &root,
        Method::POST,
        &apps,
        Some(json!({
            "name": "ui", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
            "flinkConfiguration": {}, "logConfiguration": {},
            "jobManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
            "taskManagerResource": {"cpu": 0.5, "memory": "1024m", "ephemeralStorage": "256m"},
            "job": {"jarUri": "local:///opt/job.jar", "entryClass": "com.example.Job", "args": []}
        })),
    )
    .await;
    assert_eq!(code, 201, "{app}");
    let urls = format!("{apps}/{}/urls", app["id"].as_str().unwrap());
    let path_of = |url: &Value| {
        let url = url["url"].as_str().unwrap();
        url.split_once("/api/")
            .map(|(_, p)| format!("/api/{p}"))
            .unwrap()
    };
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = |path: String| {
        let (client, url) = (no_redirects.clone(), s.url(&path));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };

    let (code, url, _) = call(
        &s,
        &issuer_key,
        Method::POST,
        &urls,
        Some(json!({"expiresInSeconds": 5, "webSessionDurationInSeconds": 600})),
    )
    .await;
    assert_eq!(code, 201, "{url}");
    let open = path_of(&url);
    assert_eq!(
        status(format!("{open}overview")).await,
        503,
        "accepted before open-by"
    );
    // Opening the page: a redirect to a session URL of its own.
    let page = no_redirects.get(s.url(&open)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 303);
    let location = page.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("../") && location.ends_with('/'),
        "{location}"
    );
    let session = format!(
        "/api/flink/v1/ui/{}/",
        location.trim_start_matches("../").trim_end_matches('/')
    );
    assert_ne!(session, open);
    assert_eq!(status(format!("{session}overview")).await, 503);
    assert_eq!(status(format!("{session}jobs/overview")).await, 503);

    // A URL opens what its signer may do: a viewer's reads, never writes.
    let (code, viewer, _) = call(
        &s,
        &root,
        Method::POST,
        "/api/org/v1/service-accounts",
        Some(json!({"username": "watcher", "description": "reads", "role": "none"})),
    )
    .await;
    assert_eq!(code, 201, "{viewer}");
    let viewer_id = viewer["id"].as_str().unwrap();
    let (code, grant, _) = call(
        &s,
        &root,
        Method::POST,
        &format!(
            "/api/org/v1/workspaces/{}/grants",
            ws["id"].as_str().unwrap()
        ),
        Some(json!({"serviceAccountId": viewer_id, "role": "viewer"})),
    )
    .await;
    assert_eq!(code, 201, "{grant}");
    let (code, key, _) = call(
        &s,
        &root,
        Method::POST,
        &format!("/api/org/v1/service-accounts/{viewer_id}/keys"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{key}");
    let (code, url, _) = call(
        &s,
        key["key"].as_str().unwrap(),
        Method::POST,
        &urls,
        Some(json!({"expiresInSeconds": 60, "webSessionDurationInSeconds": 600})),
    )
    .await;
    assert_eq!(code, 201, "a viewer may sign: {url}");
    let read_only = path_of(&url);
    let post = |path: String| {
        let (client, url) = (no_redirects.clone(), s.url(&path));
        async move { client.post(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("{read_only}overview")).await, 503);
    assert_eq!(
        post(format!("{read_only}jars/upload")).await,
        403,
        "a viewer's URL writes nothing"
    );
    assert_eq!(
        post(format!("{session}jars/upload")).await,
        503,
        "an editor's URL may write (no cluster runs here)"
    );

    // Past open-by: the handed-out URL is dead on every path; the session lives.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(status(open.clone()).await, 403, "the page after open-by");
    assert_eq!(
        status(format!("{open}overview")).await,
        403,
        "a sub-path after open-by"
    );
    assert_eq!(status(format!("{open}v1/jobs")).await, 403);
    assert_eq!(
        status(format!("{session}overview")).await,
        503,
        "the session lasts"
    );

    // The key that issued them goes: so do they.
    let (code, _, _) = call(
        &s,
        &root,
        Method::DELETE,
        &format!("/api/admin/v1/keys/{}", issuer["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(code, 204);
    assert_eq!(
        status(format!("{session}overview")).await,
        403,
        "revoked with its key"
    );

    // Writes through a URL are audited without the grant; no log line holds one.
    let _ = no_redirects
        .post(s.url(&format!("{session}jars/upload")))
        .send()
        .await;
    let log = s.log();
    let grant = session
        .trim_start_matches("/api/flink/v1/ui/")
        .trim_end_matches('/');
    let open_grant = open
        .trim_start_matches("/api/flink/v1/ui/")
        .trim_end_matches('/');
    assert!(
        log.contains("/api/flink/v1/ui/<grant>"),
        "paths are logged redacted:\n{log}"
    );
    for g in [grant, open_grant] {
        assert!(!log.contains(g), "a grant in the log:\n{log}");
    }
}
