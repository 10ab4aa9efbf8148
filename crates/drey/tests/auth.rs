//! `--auth token`: bearer tokens on every endpoint but /healthz and /readyz,
//! the root key written once to <data-dir>/root.key (0600), tokens stored
//! only as hashes. `--auth none` (the default) is covered by every other test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{error_message, Server};
use serde_json::{json, Value};
use std::process::Command;

fn token_server(dir: &tempfile::TempDir) -> Server {
    Server::start_in(dir.path(), &["--auth", "token"])
}

async fn call(
    s: &Server,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut req = s.client.request(method, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, challenge, body)
}

#[tokio::test]
async fn tokens_guard_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = token_server(&dir);
    let key_file = dir.path().join("root.key");
    let root = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(root.starts_with("drey_") && root.len() > 50, "{root}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        s.log().contains("root.key"),
        "the log says where the key is"
    );
    assert!(!s.log().contains(&root), "the log never holds the key");

    // Open endpoints.
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            call(&s, None, reqwest::Method::GET, path, None).await.0,
            200
        );
    }
    // Everything else needs a valid token: missing, malformed, wrong.
    let forged = format!("{}x", &root[..root.len() - 1]);
    for token in [
        None,
        Some("nonsense"),
        Some("drey_abc_def"),
        Some(forged.as_str()),
    ] {
        for (method, path) in [
            (reqwest::Method::GET, "/cmf/api/v1/environments"),
            (reqwest::Method::POST, "/cmf/api/v1/environments"),
            (reqwest::Method::GET, "/cmf/api/v1/secrets"),
            (reqwest::Method::GET, "/metrics"),
            (reqwest::Method::GET, "/no/such/route"),
        ] {
            let (status, challenge, body) = call(
                &s,
                token,
                method.clone(),
                path,
                Some(json!({"name": "envx"})),
            )
            .await;
            assert_eq!(status, 401, "{method} {path} with {token:?}");
            assert_eq!(challenge.as_deref(), Some("Bearer"));
            error_message(&body);
        }
    }
    // With the root key, the API works as without authentication.
    let (status, _, body) = call(
        &s,
        Some(&root),
        reqwest::Method::POST,
        "/cmf/api/v1/environments",
        Some(json!({"name": "secured"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, list) = call(
        &s,
        Some(&root),
        reqwest::Method::GET,
        "/cmf/api/v1/environments",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["name"], "secured");

    // Another root key from the admin command works too; the first stays valid.
    let mut create = Command::new(env!("CARGO_BIN_EXE_drey"));
    create
        .args(["admin", "create-root-key", "--data-dir"])
        .arg(dir.path());
    // The server's store, wherever it is.
    if let Some(url) = &s.database_url {
        create.arg("--database-url").arg(url);
    }
    let output = create.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let second = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_ne!(second, root);
    assert_eq!(
        call(
            &s,
            Some(&second),
            reqwest::Method::GET,
            "/cmf/api/v1/environments",
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &s,
            Some(&root),
            reqwest::Method::GET,
            "/cmf/api/v1/environments",
            None
        )
        .await
        .0,
        200
    );

    // Tokens are never stored in clear.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && !path.ends_with("root.key") {
            let bytes = std::fs::read(&path).unwrap();
            for token in [&root, &second] {
                // drey_<id>_<secret>: the secret may itself contain '_'.
                let secret = token.splitn(3, '_').nth(2).unwrap();
                assert!(secret.len() >= 43);
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds a token in clear",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn the_root_key_is_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = token_server(&dir);
    let first = std::fs::read_to_string(dir.path().join("root.key")).unwrap();
    s.kill9();
    let s = token_server(&dir);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("root.key")).unwrap(),
        first
    );
    assert_eq!(
        call(
            &s,
            Some(first.trim()),
            reqwest::Method::GET,
            "/cmf/api/v1/environments",
            None
        )
        .await
        .0,
        200
    );
}
