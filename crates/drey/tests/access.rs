//! Who may do what, over HTTP against a real drey server in token mode:
//! users and their tokens, service accounts updated, roles granted on single
//! workspaces (viewer, editor, owner) and enforced across the CMF, VVP and
//! LakeSail dialects, VVP API tokens and namespace roleBindings, clusters,
//! and another organization kept out of all of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

/// Calls drey as one token.
#[derive(Clone)]
struct As<'a> {
    s: &'a Server,
    token: String,
}

impl<'a> As<'a> {
    fn new(s: &'a Server, token: &str) -> Self {
        As {
            s,
            token: token.to_owned(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .s
            .client
            .request(method, self.s.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

/// An organization and its administrator's key.
async fn organization<'a>(s: &'a Server, root: &As<'_>, name: &str) -> As<'a> {
    let (_, org) = root
        .post("/api/admin/v1/organizations", json!({"name": name}))
        .await;
    let (code, key) = root
        .post(
            &format!(
                "/api/admin/v1/organizations/{}/keys",
                org["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(code, 201, "{key}");
    As::new(s, key["key"].as_str().unwrap())
}

fn user(name: &str) -> Value {
    json!({"username": name, "email": format!("{name}@example.com"), "firstName": "Ada",
           "lastName": "Lovelace", "displayName": format!("{name} (human)")})
}

fn cmf_app(name: &str) -> Value {
    json!({"apiVersion": "cmf.confluent.io/v1", "kind": "FlinkApplication",
           "metadata": {"name": name},
           "spec": {"job": {"jarURI": "local:///opt/jobs/job.jar", "state": "suspended"}}})
}

fn vvp_deployment(name: &str) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"state": "SUSPENDED",
                    "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": "file:///opt/jobs/job.jar"}}}}})
}

fn lakesail_app() -> Value {
    json!({"name": "A", "runtime": "FLINK_1_17", "jars": [], "plugins": [],
           "flinkConfiguration": {}, "logConfiguration": {},
           "jobManagerResource": {"cpu": 1, "memory": "1024m"},
           "taskManagerResource": {"cpu": 1, "memory": "1024m"},
           "job": {"jarUri": "local:///opt/jobs/job.jar"}})
}

/// The key a principal gets: `POST .../{id}/keys`.
async fn key_of(admin: &As<'_>, path: &str) -> String {
    let (code, key) = admin.post(&format!("{path}/keys"), json!({})).await;
    assert_eq!(code, 201, "{key}");
    key["key"].as_str().unwrap().to_owned()
}

/// Every byte under the data dir, for looking for secrets in the clear.
fn data_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        out.extend(std::fs::read(entry).unwrap_or_default());
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_none_or(|e| e != "log") {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn roles_grants_tokens_and_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let root = As::new(
        &s,
        std::fs::read_to_string(dir.path().join("root.key"))
            .unwrap()
            .trim(),
    );
    let acme = organization(&s, &root, "acme").await;
    let globex = organization(&s, &root, "globex").await;

    // Three workspaces: A, B, C (environments ws-<id>).
    let mut ws = Vec::new();
    for name in ["A", "B", "C"] {
        let (code, w) = acme
            .post("/api/org/v1/workspaces", json!({"name": name}))
            .await;
        assert_eq!(code, 201, "{w}");
        ws.push(w["id"].as_str().unwrap().to_owned());
    }
    let env = |i: usize| format!("ws-{}", ws[i].to_ascii_lowercase());

    // Users: every field required; describe, list with paging, merge patch.
    let mut missing = user("nope");
    missing.as_object_mut().unwrap().remove("email");
    let (code, body) = acme.post("/api/org/v1/users", missing).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("email"));
    let mut users = Vec::new();
    for name in ["ada", "grace", "linus"] {
        let mut body = user(name);
        body["role"] = json!("none");
        let (code, u) = acme.post("/api/org/v1/users", body).await;
        assert_eq!(code, 201, "{u}");
        for field in [
            "id",
            "username",
            "email",
            "firstName",
            "lastName",
            "displayName",
            "createdAt",
            "updatedAt",
        ] {
            assert!(u[field].is_string(), "{field}: {u}");
        }
        assert_eq!(u["role"], "none");
        users.push(u["id"].as_str().unwrap().to_owned());
    }
    let ada = format!("/api/org/v1/users/{}", users[0]);
    let (code, got) = acme.get(&ada).await;
    assert_eq!(code, 200);
    assert_eq!(got["email"], "ada@example.com");
    let (_, first) = acme.get("/api/org/v1/users?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let (_, rest) = acme
        .get(&format!(
            "/api/org/v1/users?limit=2&marker={}",
            first["marker"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("marker").is_none());
    let (code, patched) = acme.patch(&ada, json!({"displayName": "Countess"})).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["displayName"], "Countess");
    assert_eq!(patched["email"], "ada@example.com");
    let (code, _) = acme.patch(&ada, json!({"email": null})).await;
    assert_eq!(code, 400, "a required field cannot be removed");
    let (code, _) = acme.patch(&ada, json!({"role": "superuser"})).await;
    assert_eq!(code, 400);

    // A user token: /me answers with the user.
    let ada_token = key_of(&acme, &ada).await;
    let ada_as = As::new(&s, &ada_token);
    let (code, me) = ada_as.get("/api/org/v1/me").await;
    assert_eq!(code, 200);
    assert_eq!(me["user"]["id"], users[0].as_str(), "{me}");
    let (_, keys) = acme.get(&format!("{ada}/keys")).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    assert!(keys["items"][0].get("key").is_none());

    // A service account with no organization-wide role; PATCH.
    let (code, robot) = acme
        .post(
            "/api/org/v1/service-accounts",
            json!({"username": "robot", "description": "CI", "role": "none"}),
        )
        .await;
    assert_eq!(code, 201, "{robot}");
    let robot_id = robot["id"].as_str().unwrap().to_owned();
    let robot_path = format!("/api/org/v1/service-accounts/{robot_id}");
    let (code, patched) = acme
        .patch(&robot_path, json!({"description": "deploys"}))
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["description"], "deploys");
    assert_eq!(patched["username"], "robot");
    let robot_as = As::new(&s, &key_of(&acme, &robot_path).await);

    // Grants: robot views A and edits B.
    for (i, role) in [(0, "viewer"), (1, "editor")] {
        let (code, grant) = acme
            .post(
                &format!("/api/org/v1/workspaces/{}/grants", ws[i]),
                json!({"serviceAccountId": robot_id, "role": role}),
            )
            .await;
        assert_eq!(code, 201, "{grant}");
        assert_eq!(grant["id"], robot_id.as_str());
        assert_eq!(grant["serviceAccountId"], robot_id.as_str());
        assert_eq!(grant["role"], role);
        assert!(grant["createdAt"].is_string() && grant["updatedAt"].is_string());
    }
    for bad in [
        json!({"serviceAccountId": robot_id, "role": "admin"}),
        json!({"serviceAccountId": robot_id}),
        json!({"role": "viewer"}),
        json!({"userId": "NOSUCHUSER", "role": "viewer"}),
    ] {
        let (code, body) = acme
            .post(
                &format!("/api/org/v1/workspaces/{}/grants", ws[0]),
                bad.clone(),
            )
            .await;
        assert_eq!(code, 400, "{bad}: {body}");
    }
    let (_, grants) = acme
        .get(&format!("/api/org/v1/workspaces/{}/grants", ws[0]))
        .await;
    assert_eq!(grants["items"].as_array().unwrap().len(), 1, "{grants}");

    // The role matrix, every dialect.
    let cmf = |i: usize| format!("/cmf/api/v1/environments/{}/applications", env(i));
    let vvp = |i: usize| format!("/api/v1/namespaces/{}/deployments", env(i));
    let lakesail = |i: usize| format!("/api/flink/v1/workspaces/{}/applications", ws[i]);
    for (i, can_read, can_write) in [(0, true, false), (1, true, true), (2, false, false)] {
        for path in [cmf(i), vvp(i), lakesail(i)] {
            let (code, body) = robot_as.get(&path).await;
            assert_eq!(code == 200, can_read, "GET {path}: {code} {body}");
            if !can_read {
                assert_eq!(code, 403, "{path}: {body}");
            }
        }
        let writes = [
            (cmf(i), cmf_app(&format!("cmf-app-{i}"))),
            (vvp(i), vvp_deployment(&format!("vvp-app-{i}"))),
            (lakesail(i), lakesail_app()),
        ];
        for (path, body) in writes {
            let (code, answer) = robot_as.post(&path, body).await;
            if can_write {
                assert_eq!(code, 201, "POST {path}: {answer}");
            } else {
                assert_eq!(code, 403, "POST {path}: {answer}");
                // In the dialect's own error body.
                let said = answer["message"]
                    .as_str()
                    .or_else(|| answer["errors"][0]["message"].as_str())
                    .unwrap_or_default();
                assert!(!said.is_empty(), "{path}: {answer}");
                if path.starts_with("/api/v1/") {
                    assert_eq!(answer["kind"], "ApiException", "{answer}");
                }
                if path.starts_with("/cmf/") {
                    assert!(answer["errors"].is_array(), "{answer}");
                }
            }
        }
    }
    // Lists show the workspaces robot has a role on, nothing else.
    let (_, envs) = robot_as.get("/cmf/api/v1/environments").await;
    let mut names: Vec<&str> = envs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want = vec![env(0), env(1)];
    want.sort();
    assert_eq!(names, want, "{envs}");
    let (_, namespaces) = robot_as.get("/namespaces/v1/namespaces").await;
    assert_eq!(namespaces["namespaces"].as_array().unwrap().len(), 2);
    let (_, workspaces) = robot_as.get("/api/org/v1/workspaces").await;
    assert_eq!(workspaces["items"].as_array().unwrap().len(), 2);
    // Nothing outside its workspaces; an editor may not grant.
    let (code, _) = robot_as.get("/cmf/api/v1/secrets").await;
    assert_eq!(code, 403);
    let (code, _) = robot_as
        .post("/cmf/api/v1/environments", json!({"name": "mine"}))
        .await;
    assert_eq!(code, 403);
    let (code, body) = robot_as
        .post(
            &format!("/api/org/v1/workspaces/{}/grants", ws[1]),
            json!({"userId": users[1], "role": "viewer"}),
        )
        .await;
    assert_eq!(code, 403, "{body}");

    // An owner grants on its workspace only.
    let (code, _) = acme
        .post(
            &format!("/api/org/v1/workspaces/{}/grants", ws[2]),
            json!({"userId": users[0], "role": "owner"}),
        )
        .await;
    assert_eq!(code, 201);
    let c_grants = format!("/api/org/v1/workspaces/{}/grants", ws[2]);
    let (code, body) = ada_as
        .post(
            &c_grants,
            json!({"serviceAccountId": robot_id, "role": "viewer"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(robot_as.get(&cmf(2)).await.0, 200);
    let (code, body) = ada_as
        .patch(&format!("{c_grants}/{robot_id}"), json!({"role": "editor"}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["role"], "editor");
    let (code, _) = ada_as
        .post(
            &format!("/api/org/v1/workspaces/{}/grants", ws[0]),
            json!({"serviceAccountId": robot_id, "role": "owner"}),
        )
        .await;
    assert_eq!(code, 403, "owner of C only");
    let (code, _) = ada_as.delete(&format!("{c_grants}/{robot_id}")).await;
    assert_eq!(code, 204);
    assert_eq!(
        robot_as.get(&cmf(2)).await.0,
        403,
        "the grant is gone at once"
    );
    assert_eq!(ada_as.get(&format!("{c_grants}/{robot_id}")).await.0, 404);

    // An organization-wide viewer reads everything and writes nothing.
    let (_, viewer) = acme
        .post(
            "/api/org/v1/service-accounts",
            json!({"username": "auditor", "description": "reads", "role": "viewer"}),
        )
        .await;
    let viewer_as = As::new(
        &s,
        &key_of(
            &acme,
            &format!(
                "/api/org/v1/service-accounts/{}",
                viewer["id"].as_str().unwrap()
            ),
        )
        .await,
    );
    for i in 0..3 {
        assert_eq!(viewer_as.get(&vvp(i)).await.0, 200);
    }
    assert_eq!(viewer_as.get("/cmf/api/v1/secrets").await.0, 200);
    assert_eq!(viewer_as.post(&vvp(1), vvp_deployment("nope")).await.0, 403);
    // The organization's figures are its readers', not a caller's with
    // roles on single environments.
    for path in ["/metrics", "/api/prometheus/v1/targets"] {
        assert_eq!(robot_as.get(path).await.0, 403, "{path}");
        assert_eq!(viewer_as.get(path).await.0, 200, "{path}");
    }

    // VVP API tokens: one role on one namespace.
    let tokens = format!("/apitokens/v1/namespaces/{}/apitokens", env(0));
    let (code, created) = acme
        .post(&tokens, json!({"name": "ci", "role": "viewer"}))
        .await;
    assert_eq!(code, 201, "{created}");
    let token = created["apiToken"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        created["apiToken"]["name"],
        format!("namespaces/{}/apitokens/ci", env(0))
    );
    let (code, body) = acme
        .post(&tokens, json!({"name": "ci", "role": "viewer"}))
        .await;
    assert_eq!(code, 409, "{body}");
    let (code, body) = acme
        .post(&tokens, json!({"name": "bad", "role": "root"}))
        .await;
    assert_eq!(code, 400);
    assert_eq!(body["errors"][0]["attribute"], "role", "{body}");
    let (code, body) = acme
        .post(&tokens, json!({"name": "Not_Valid", "role": "viewer"}))
        .await;
    assert_eq!(code, 400);
    assert_eq!(body["errors"][0]["attribute"], "name", "{body}");
    let (_, listed) = acme.get(&tokens).await;
    assert_eq!(listed["apiTokens"].as_array().unwrap().len(), 1);
    assert!(listed["apiTokens"][0].get("secret").is_none());
    let (code, one) = acme.get(&format!("{tokens}/ci")).await;
    assert_eq!(code, 200);
    assert!(one["apiToken"].get("secret").is_none());
    assert_eq!(one["apiToken"]["role"], "viewer");
    let ci = As::new(&s, &token);
    assert_eq!(ci.get(&vvp(0)).await.0, 200);
    assert_eq!(ci.post(&vvp(0), vvp_deployment("from-ci")).await.0, 403);
    assert_eq!(ci.get(&vvp(1)).await.0, 403);
    assert_eq!(
        ci.get(&cmf(0)).await.0,
        200,
        "the same namespace through CMF"
    );
    let (_, editor) = acme
        .post(&tokens, json!({"name": "deployer", "role": "editor"}))
        .await;
    let deployer = As::new(&s, editor["apiToken"]["secret"].as_str().unwrap());
    assert_eq!(
        deployer.post(&vvp(0), vvp_deployment("from-ci")).await.0,
        201
    );
    // Only owners make tokens.
    let (code, _) = robot_as
        .post(
            &format!("/apitokens/v1/namespaces/{}/apitokens", env(1)),
            json!({"name": "mine", "role": "editor"}),
        )
        .await;
    assert_eq!(code, 403);
    let (code, _) = acme.delete(&format!("{tokens}/ci")).await;
    assert_eq!(code, 200);
    assert_eq!(
        ci.get(&vvp(0)).await.0,
        401,
        "a deleted token stops at once"
    );

    // Namespace roleBindings are the same grants.
    let ns_b = format!("/namespaces/v1/namespaces/{}", env(1));
    let (_, ns) = acme.get(&ns_b).await;
    assert_eq!(
        ns["namespace"]["roleBindings"],
        json!([{"role": "editor", "members": [format!("serviceaccount:{robot_id}")]}]),
        "{ns}"
    );
    let (code, body) = acme
        .patch(
            &ns_b,
            json!({"roleBindings": [{"role": "viewer", "members": [format!("user:{}", users[1])]}]}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["namespace"]["roleBindings"],
        json!([{"role": "viewer", "members": [format!("user:{}", users[1])]}])
    );
    assert_eq!(
        robot_as.get(&vvp(1)).await.0,
        403,
        "robot's binding was replaced"
    );
    for (bad, attribute) in [
        (
            json!([{"role": "viewer", "members": ["group:devs"]}]),
            "roleBindings[0].members[0]",
        ),
        (
            json!([{"role": "god", "members": []}]),
            "roleBindings[0].role",
        ),
        (
            json!([{"role": "viewer", "members": ["user:NOSUCHUSER"]}]),
            "roleBindings",
        ),
    ] {
        let (code, body) = acme.patch(&ns_b, json!({"roleBindings": bad})).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(body["errors"][0]["attribute"], attribute, "{body}");
    }
    let (code, _) = robot_as
        .patch(
            &format!("/namespaces/v1/namespaces/{}", env(0)),
            json!({"roleBindings": []}),
        )
        .await;
    assert_eq!(code, 403, "a viewer may not change bindings");

    // Clusters: credentials sealed and never shown; workspaces use local ones.
    let (code, local) = acme
        .post(
            "/api/org/v1/clusters",
            json!({"name": "this machine", "kind": "local"}),
        )
        .await;
    assert_eq!(code, 201, "{local}");
    let (code, k8s) = acme
        .post(
            "/api/org/v1/clusters",
            json!({"name": "prod", "kind": "kubernetes", "endpoint": "https://k8s.example:6443",
                   "credentials": {"token": "sekret-k8s-credential"}}),
        )
        .await;
    assert_eq!(code, 201, "{k8s}");
    assert_eq!(k8s["hasCredentials"], true);
    assert!(k8s.get("credentials").is_none(), "{k8s}");
    for bad in [
        json!({"name": "x"}),
        json!({"name": "x", "kind": "mesos"}),
        json!({"name": "x", "kind": "kubernetes"}),
        json!({"kind": "local"}),
        json!({"name": "x", "kind": "local", "credentials": {"a": 1}}),
    ] {
        let (code, body) = acme.post("/api/org/v1/clusters", bad.clone()).await;
        assert_eq!(code, 400, "{bad}: {body}");
    }
    let local_id = local["id"].as_str().unwrap();
    let k8s_id = k8s["id"].as_str().unwrap();
    let (code, renamed) = acme
        .patch(
            &format!("/api/org/v1/clusters/{k8s_id}"),
            json!({"name": "production"}),
        )
        .await;
    assert_eq!(code, 200, "{renamed}");
    assert_eq!(renamed["name"], "production");
    assert_eq!(renamed["hasCredentials"], true, "credentials kept");
    let (_, clusters) = acme.get("/api/org/v1/clusters").await;
    assert_eq!(clusters["items"].as_array().unwrap().len(), 2);
    let (code, on_local) = acme
        .post(
            "/api/org/v1/workspaces",
            json!({"name": "local", "clusterId": local_id}),
        )
        .await;
    assert_eq!(code, 201, "{on_local}");
    assert_eq!(on_local["clusterId"], local_id);
    let (code, body) = acme
        .post(
            "/api/org/v1/workspaces",
            json!({"name": "remote", "clusterId": k8s_id}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let (code, _) = acme
        .delete(&format!("/api/org/v1/clusters/{local_id}"))
        .await;
    assert_eq!(code, 409, "a cluster in use stays");
    let (code, _) = acme.delete(&format!("/api/org/v1/clusters/{k8s_id}")).await;
    assert_eq!(code, 204);

    // Another organization learns nothing of any of it.
    for path in [
        ada.clone(),
        format!("{ada}/keys"),
        robot_path.clone(),
        format!("/api/org/v1/workspaces/{}/grants", ws[0]),
        format!("/api/org/v1/workspaces/{}/grants/{robot_id}", ws[1]),
        tokens.clone(),
        format!("{tokens}/deployer"),
        ns_b.clone(),
        format!("/api/org/v1/clusters/{local_id}"),
        format!("/sql/v1beta1/namespaces/{}/connectors", env(0)),
        format!("/sql/v1beta1/namespaces/{}/sqlscripts", env(0)),
        format!("/catalog/v1beta2/namespaces/{}/catalogs", env(0)),
        format!("/artifacts/v1/namespaces/{}/artifacts", env(0)),
    ] {
        let (code, body) = globex.get(&path).await;
        assert_eq!(code, 404, "GET {path} from another organization: {body}");
    }
    for path in [ada.clone(), format!("/api/org/v1/clusters/{local_id}")] {
        let (code, _) = globex.delete(&path).await;
        assert_eq!(code, 404, "DELETE {path}");
    }
    let (code, _) = globex
        .patch(&robot_path, json!({"description": "mine now"}))
        .await;
    assert_eq!(code, 404);
    let (_, theirs) = globex.get("/api/org/v1/users").await;
    assert_eq!(theirs["items"], json!([]));
    let (_, theirs) = globex.get("/api/org/v1/clusters").await;
    assert_eq!(theirs["items"], json!([]));

    // A key's expiry can be changed: in the past it stops at once; cleared, it works again.
    let (_, keys) = acme.get(&format!("{ada}/keys")).await;
    let ada_key = format!("{ada}/keys/{}", keys["items"][0]["id"].as_str().unwrap());
    let (code, body) = acme
        .patch(&ada_key, json!({"expiresAt": "2001-01-01T00:00:00Z"}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(body["expiresAt"]
        .as_str()
        .unwrap()
        .starts_with("2001-01-01"));
    assert_eq!(ada_as.get("/api/org/v1/me").await.0, 401);
    let (code, body) = acme.patch(&ada_key, json!({"expiresAt": null})).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.get("expiresAt").is_none(), "{body}");
    assert_eq!(ada_as.get("/api/org/v1/me").await.0, 200);
    let (code, _) = acme
        .patch(&ada_key, json!({"expiresAt": "next tuesday"}))
        .await;
    assert_eq!(code, 400);
    // Organizations are renamed by server administrators only.
    let (_, org) = root
        .post("/api/admin/v1/organizations", json!({"name": "initech"}))
        .await;
    let org_path = format!(
        "/api/admin/v1/organizations/{}",
        org["id"].as_str().unwrap()
    );
    let (code, renamed) = root.patch(&org_path, json!({"name": "Initrode"})).await;
    assert_eq!(code, 200, "{renamed}");
    assert_eq!(renamed["name"], "Initrode");
    assert_eq!(acme.patch(&org_path, json!({"name": "x"})).await.0, 403);

    // Deleting a user, or one of its keys, stops its tokens at once.
    let grace = format!("/api/org/v1/users/{}", users[1]);
    let grace_as = As::new(&s, &key_of(&acme, &grace).await);
    assert_eq!(grace_as.get("/api/org/v1/me").await.0, 200);
    let linus = format!("/api/org/v1/users/{}", users[2]);
    let linus_as = As::new(&s, &key_of(&acme, &linus).await);
    let (_, keys) = acme.get(&format!("{linus}/keys")).await;
    let key_id = keys["items"][0]["id"].as_str().unwrap();
    assert_eq!(acme.delete(&format!("{linus}/keys/{key_id}")).await.0, 204);
    assert_eq!(linus_as.get("/api/org/v1/me").await.0, 401);
    assert_eq!(acme.delete(&grace).await.0, 204);
    assert_eq!(grace_as.get("/api/org/v1/me").await.0, 401);
    assert_eq!(acme.get(&grace).await.0, 404);

    // A denied write changes nothing: an organization editor may create a
    // namespace but not grant on it, so asking for both writes neither.
    let (code, editor) = acme
        .post(
            "/api/org/v1/service-accounts",
            json!({"username": "builder", "description": "CI", "role": "editor"}),
        )
        .await;
    assert_eq!(code, 201, "{editor}");
    let editor_as = As::new(
        &s,
        &key_of(
            &acme,
            &format!(
                "/api/org/v1/service-accounts/{}",
                editor["id"].as_str().unwrap()
            ),
        )
        .await,
    );
    let (code, body) = editor_as
        .post(
            "/namespaces/v1/namespaces",
            json!({"name": "namespaces/granted",
                   "roleBindings": [{"role": "viewer", "members": [format!("serviceaccount:{robot_id}")]}]}),
        )
        .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        acme.get("/namespaces/v1/namespaces/granted").await.0,
        404,
        "the refused create wrote nothing"
    );
    let (code, body) = editor_as
        .post("/namespaces/v1/namespaces", json!({"name": "plain"}))
        .await;
    assert_eq!(code, 201, "{body}");

    // Open routes carry no identity: probes, the console and the API
    // documents answer without a token, everything else (metrics, unknown
    // grants) does not act for anyone.
    let anonymous = As::new(&s, "");
    for open in ["/healthz", "/readyz", "/ui/", "/swagger.json"] {
        assert_eq!(anonymous.get(open).await.0, 200, "{open}");
    }
    assert_eq!(anonymous.get("/metrics").await.0, 401);
    assert_eq!(anonymous.get("/cmf/api/v1/environments").await.0, 401);
    let (code, _) = anonymous.get("/api/flink/v1/ui/not-a-grant/").await;
    assert_eq!(code, 403, "a pre-signed URL's grant is its only credential");

    // No token and no credential is in the data dir in the clear.
    let bytes = data_bytes(dir.path());
    for secret in [
        ada_token.as_str(),
        token.as_str(),
        robot_as.token.as_str(),
        "sekret-k8s-credential",
    ] {
        let tail = &secret[secret.len() - 20..];
        assert!(!contains(&bytes, tail), "a secret is stored in the clear");
    }
}
