//! drey's OpenAPI documents and the Swagger UI, against a real server: both
//! documents are served without a token, every documented GET and POST
//! reaches a handler (never the unknown-route answer), the UI's files come
//! from drey itself, and the UI renders the documents (and CMF's) in headless Chromium
//! (`ui-tests/swagger.mjs`) without a request leaving drey.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::browser::{browser_ready, run_with_limit, text};
use common::flink::KillClusters;
use common::Server;
use reqwest::Method;
use serde_json::{json, Value};

/// The router's answer to a path it does not serve.
fn unrouted(code: u16, body: &Value) -> bool {
    code == 405
        || (code == 404
            && body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Resource not found")))
}

/// A documented path with its parameters filled from the objects made below.
fn concrete(path: &str) -> String {
    let name = if path.contains("/deployment-targets/") {
        "local"
    } else if path.contains("/secret-values/") {
        "secret"
    } else if path.contains("/sessionclusters/") {
        "pool"
    } else if path.contains("/sqlscripts/") {
        "script"
    } else {
        "docs-thing"
    };
    path.replace("{namespace}", "docs")
        .replace("{ns}", "docs")
        .replace("{deploymentId}", "docs-app")
        .replace("{jobId}", "00000000-0000-0000-0000-000000000000")
        .replace("{savepointId}", "00000000-0000-0000-0000-000000000000")
        .replace("{apiTokenName}", "reader")
        .replace("{cat}", "default_catalog")
        .replace("{deploymentName}", "docs-app")
        .replace("{sqlScriptName}", "script")
        .replace("{udfArtifactName}", "docs-thing")
        .replace("{catalogConnectorResourceId}", "docs-thing")
        .replace("{connectorResourceId}", "docs-thing")
        .replace("{formatResourceId}", "docs-thing")
        .replace("{name}", name)
}

#[tokio::test]
async fn documents_and_swagger_ui() {
    let dir = tempfile::tempdir().unwrap();
    // The reconciler and the SQL engine run: catalog browsing needs them.
    let _cleanup = KillClusters(dir.path().to_owned());
    let mut s = Server::start_with(dir.path(), &["--auth", "token"], &[]);
    let root = std::fs::read_to_string(dir.path().join("root.key"))
        .unwrap()
        .trim()
        .to_owned();

    // The documents need no token.
    let mut documented = Vec::new();
    for (url, title) in [
        ("/api/swagger.json", "Application Manager"),
        ("/swagger.json", "platform"),
    ] {
        let response = s.client.get(s.url(url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let doc: Value = response.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{url}");
        assert!(doc["info"]["title"].as_str().unwrap().contains(title));
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    assert!(documented.len() > 60, "{documented:?}");
    for want in [
        ("GET", "/api/v1/namespaces/{namespace}/deployments"),
        (
            "PATCH",
            "/api/v1/namespaces/{namespace}/deployments/{deploymentId}",
        ),
        ("POST", "/apitokens/v1/namespaces/{ns}/apitokens"),
        ("POST", "/sql/v1beta1/namespaces/{ns}/sqlscripts:execute"),
        ("GET", "/catalog/v1beta2/namespaces/{ns}/catalogs"),
    ] {
        assert!(
            documented.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} is documented"
        );
    }

    // Objects for the documented paths to find.
    s.token = Some(root);
    let (code, _) = s
        .post("/namespaces/v1/namespaces", json!({"name": "docs"}))
        .await;
    assert_eq!(code, 201);
    for (path, body) in [
        (
            "/api/v1/namespaces/docs/deployments",
            json!({"metadata": {"name": "docs-app"}, "spec": {"state": "SUSPENDED",
                   "template": {"spec": {"artifact": {"kind": "JAR", "jarUri": "file:///opt/x.jar"}}}}}),
        ),
        (
            "/api/v1/namespaces/docs/deployment-targets",
            json!({"metadata": {"name": "local"}, "spec": {}}),
        ),
        (
            "/api/v1/namespaces/docs/secret-values",
            json!({"metadata": {"name": "secret"}, "spec": {"value": "x"}}),
        ),
        (
            "/api/v1/namespaces/docs/sessionclusters",
            json!({"metadata": {"name": "pool"}, "spec": {"state": "STOPPED"}}),
        ),
        (
            "/apitokens/v1/namespaces/docs/apitokens",
            json!({"name": "reader", "role": "viewer"}),
        ),
        (
            "/sql/v1beta1/namespaces/docs/sqlscripts",
            json!({"name": "script", "script": "SHOW TABLES"}),
        ),
        (
            "/sql/v1beta1/namespaces/docs/connectors",
            json!({"name": "docs-thing", "type": "kafka"}),
        ),
        (
            "/sql/v1beta1/namespaces/docs/formats",
            json!({"name": "docs-thing", "type": "avro"}),
        ),
        (
            "/sql/v1beta1/namespaces/docs/catalog-connectors",
            json!({"name": "docs-thing", "type": "jdbc"}),
        ),
    ] {
        let (code, body) = s.post(path, body).await;
        assert_eq!(code, 201, "{path}: {body}");
    }

    // Every documented GET and POST reaches a handler of its own.
    for (method, path) in &documented {
        let path = concrete(path);
        let (code, body) = match method.as_str() {
            "GET" => s.get(&path).await,
            "POST" => s.json(Method::POST, &path, Some(json!({}))).await,
            _ => continue,
        };
        assert!(!unrouted(code, &body), "{method} {path}: {code} {body}");
        assert_ne!(code, 500, "{method} {path}: {body}");
    }

    // Every operation of VVP 2.6.1's two documents (tests/data/vvp) is one
    // drey documents, but those it does not serve yet; every GET of them
    // answers a status its document lists.
    let vvp: Value = serde_json::from_str(include_str!("data/vvp/operations-2.6.1.json")).unwrap();
    let shape = |path: &str| {
        path.split('{')
            .map(|part| part.split_once('}').map_or(part, |(_, rest)| rest))
            .collect::<Vec<_>>()
            .join("{}")
    };
    let ours: Vec<(String, String)> = documented
        .iter()
        .map(|(m, p)| (m.clone(), shape(p)))
        .collect();
    let mut wrong = Vec::new();
    for op in vvp
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_array().unwrap())
    {
        let method = op[0].as_str().unwrap();
        let path = op[1].as_str().unwrap();
        let listed: Vec<u16> = op[3]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap() as u16)
            .collect();
        if !ours.contains(&(method.to_owned(), shape(path))) {
            wrong.push(format!("{method} {path}: not in drey's documents"));
        }
        if method == "GET" {
            // The getters' required query parameter names what to get.
            let query = ["Database", "Table", "View", "Function"]
                .iter()
                .find(|what| path.ends_with(&format!(":get{what}")))
                .map_or(String::new(), |what| match *what {
                    "Database" => "?database=default_database".to_owned(),
                    what => format!(
                        "?database=default_database&{}=nope",
                        what.to_ascii_lowercase()
                    ),
                });
            let (code, body) = s.get(&format!("{}{query}", concrete(path))).await;
            if !listed.contains(&code) {
                wrong.push(format!(
                    "GET {path}: {code} is not one of {listed:?}: {body}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The Swagger UI, its files served by drey.
    let plain = reqwest::Client::new();
    let page = plain.get(s.url("/swagger/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            let link = part.split('"').next().unwrap();
            if !link.starts_with("http") {
                assets.push(link.trim_start_matches("./").to_owned());
            }
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with("swagger-ui-bundle.js")),
        "{assets:?}"
    );
    let mut initializer = String::new();
    for asset in &assets {
        let response = plain
            .get(s.url(&format!("/swagger/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let text = response.text().await.unwrap();
        assert!(text.len() > 100, "{asset} is {} bytes", text.len());
        if asset.contains("initializer") {
            initializer = text;
        }
    }
    let (code, config) = {
        let response = plain
            .get(s.url("/swagger/swagger-initializer.js"))
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        (code, response.text().await.unwrap())
    };
    assert_eq!(code, 200);
    let config = if initializer.is_empty() {
        config
    } else {
        initializer
    };
    assert!(
        config.contains("/api/swagger.json") && config.contains("/swagger.json"),
        "both documents are offered: {config}"
    );
    assert!(
        !config.contains("unpkg") && !config.contains("cdn"),
        "{config}"
    );
}

#[tokio::test]
async fn swagger_ui_renders_in_chromium() {
    let (ui_tests, chromium) = browser_ready();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--auth", "token"]);
    let mut node = std::process::Command::new("node");
    node.arg(ui_tests.join("swagger.mjs"))
        .arg(&s.base)
        .env("CHROMIUM", &chromium)
        .current_dir(&ui_tests);
    let result = run_with_limit(node, std::time::Duration::from_secs(120));
    assert!(
        result.status.success(),
        "{}{}",
        text(&result.stdout),
        text(&result.stderr)
    );
}
