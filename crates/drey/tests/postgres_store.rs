//! `drey server --database-url`: the state lives in a real PostgreSQL, not in
//! the data dir. Two replicas with their own data dirs serve one database,
//! see each other's writes, and a server started later on a fresh data dir
//! finds everything; secret data is sealed in the database too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{application, postgres, Server};
use serde_json::json;

const V1: &str = "/cmf/api/v1";
/// Replicas must share the key that seals secrets.
const SECRET_KEY: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";
const PASSWORD: &str = "pg-replica-secret-value";

#[tokio::test]
async fn replicas_share_one_postgres_database() {
    let Some(url) = postgres::database_url() else {
        return;
    };
    let args = ["--database-url", url.as_str(), "--secret-key", SECRET_KEY];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start_in(dir_a.path(), &args);
    let b = Server::start_in(dir_b.path(), &args);

    let (status, body) = a
        .post(&format!("{V1}/environments"), json!({"name": "shared"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(b.get(&format!("{V1}/environments/shared")).await.0, 200);

    // Both replicas write at once; each sees all of it.
    let apps = format!("{V1}/environments/shared/applications");
    let writes = (0..6).map(|i| {
        let (server, apps) = (if i % 2 == 0 { &a } else { &b }, apps.clone());
        async move { server.post(&apps, application(&format!("app-{i}"))).await }
    });
    for (status, body) in futures::future::join_all(writes).await {
        assert_eq!(status, 201, "{body}");
    }
    for server in [&a, &b] {
        let (status, list) = server.get(&apps).await;
        assert_eq!(status, 200);
        assert_eq!(list["metadata"]["size"], 6, "{list}");
    }

    let secret = json!({"apiVersion": "cmf.confluent.io/v1", "kind": "Secret",
        "metadata": {"name": "creds"},
        "spec": {"data": {"username": "svc", "password": PASSWORD}}});
    let (status, body) = b.post(&format!("{V1}/secrets"), secret).await;
    assert_eq!(status, 200, "{body}");
    let (status, got) = a.get(&format!("{V1}/secrets/creds")).await;
    assert_eq!(status, 200, "{got}");
    assert!(
        !got.to_string().contains(PASSWORD),
        "secrets are write-only"
    );

    // Nothing of the state is in the data dirs; in the database the secret
    // is sealed.
    for dir in [&dir_a, &dir_b] {
        assert!(!dir.path().join("drey.db").exists());
    }
    let rows = postgres::server().psql(
        &url,
        "SELECT row_to_json(o)::text || encode(coalesce(o.sealed, ''), 'escape') FROM objects o",
    );
    assert!(
        rows.contains("\"creds\""),
        "the dump shows the rows: {rows}"
    );
    assert!(rows.contains("app-5"), "{rows}");
    assert!(!rows.contains(PASSWORD), "the secret is stored in clear");

    a.terminate();
    b.terminate();
    let dir_c = tempfile::tempdir().unwrap();
    let c = Server::start_in(dir_c.path(), &args);
    let (status, list) = c.get(&apps).await;
    assert_eq!(status, 200);
    assert_eq!(list["metadata"]["size"], 6, "a new replica finds the state");
    assert_eq!(c.get(&format!("{V1}/secrets/creds")).await.0, 200);
}

#[tokio::test]
async fn admin_root_keys_go_into_the_postgres_database() {
    let Some(url) = postgres::database_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(
        dir.path(),
        &["--auth", "token", "--database-url", url.as_str()],
    );
    assert_eq!(s.get(&format!("{V1}/environments")).await.0, 401);
    // Run on another machine's data dir: only the database is shared.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["admin", "create-root-key", "--data-dir"])
        .arg(elsewhere.path())
        .args(["--database-url", url.as_str()])
        .env_remove("DREY_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    s.token = Some(String::from_utf8(output.stdout).unwrap().trim().to_owned());
    assert_eq!(s.get(&format!("{V1}/environments")).await.0, 200);
    assert!(!elsewhere.path().join("drey.db").exists());

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_drey"))
        .args(["server", "--data-dir"])
        .arg(elsewhere.path())
        .args(["--database-url", "mysql://localhost/drey"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "a URL of another database is a usage error"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected a PostgreSQL URL"));
}
