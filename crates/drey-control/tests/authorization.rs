//! Authorization is the core's: the same operations, called with different
//! callers on a real (SQLite) store, are allowed or refused by who calls,
//! never by the path a request came in on; a refused write changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drey_control::access::Caller;
use drey_control::auth::{Identity, Role};
use drey_control::environments::EnvironmentInput;
use drey_control::{Core, ResourceInput};
use drey_model::{Error, PageRequest};
use drey_store::{Sealer, SqliteStore};
use serde_json::json;
use std::sync::Arc;

const ORG: &str = drey_model::object::DEFAULT_ORG;

fn environment(name: &str, defaults: Option<serde_json::Value>) -> EnvironmentInput {
    EnvironmentInput {
        name: name.to_owned(),
        kubernetes_namespace: None,
        kubernetes_cluster_name: None,
        flink_application_defaults: defaults,
        compute_pool_defaults: None,
        statement_defaults: None,
    }
}

fn member(org: &str, role: Option<Role>, grants: &[(&str, Role)]) -> Caller {
    Caller::of(Identity::member(org, role, grants))
}

fn page() -> PageRequest {
    PageRequest {
        page: 0,
        size: 100,
        sort: vec![],
    }
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(
        matches!(result, Err(Error::Forbidden(_))),
        "want 403, got {result:?}"
    );
}

async fn names(core: &Core) -> Vec<String> {
    let mut names: Vec<String> = core
        .list_environments(ORG, page())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.meta.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_core_decides_by_caller_and_a_refused_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("drey.db"), Sealer::from_key(&[7; 32]))
        .await
        .unwrap();
    let drey = Core::new(Arc::new(store));
    for name in ["alpha", "bravo"] {
        drey.upsert_environment(ORG, environment(name, None))
            .await
            .unwrap();
    }
    let version = |core: Core| async move {
        core.get_environment(ORG, "alpha")
            .await
            .unwrap()
            .meta
            .resource_version
    };
    let before = version(drey.clone()).await;

    // No identity: nothing at all, reads included.
    let nobody = drey.acting_as(Caller::Nobody);
    forbidden(nobody.list_environments(ORG, page()).await);
    forbidden(nobody.get_environment(ORG, "alpha").await);
    forbidden(
        nobody
            .upsert_environment(ORG, environment("charlie", None))
            .await,
    );
    forbidden(
        nobody
            .create_secret(
                ORG,
                ResourceInput {
                    name: "s".into(),
                    spec: json!({"data": {"k": "v"}}),
                    ..ResourceInput::default()
                },
            )
            .await,
    );

    // A viewer of `alpha`: reads `alpha`, sees only `alpha`, writes nothing.
    let viewer = drey.acting_as(member(ORG, None, &[("alpha", Role::Viewer)]));
    assert!(viewer.get_environment(ORG, "alpha").await.is_ok());
    forbidden(viewer.get_environment(ORG, "bravo").await);
    assert_eq!(names(&viewer).await, ["alpha"]);
    forbidden(
        viewer
            .upsert_environment(ORG, environment("alpha", Some(json!({"spec": {}}))))
            .await,
    );
    forbidden(viewer.delete_environment(ORG, "alpha").await);
    forbidden(viewer.list_secrets(ORG, page()).await);

    // An editor of `alpha` changes `alpha` but makes no environment of its own.
    let editor = drey.acting_as(member(ORG, None, &[("alpha", Role::Editor)]));
    forbidden(
        editor
            .upsert_environment(ORG, environment("charlie", None))
            .await,
    );
    forbidden(editor.delete_environment(ORG, "alpha").await);
    assert_eq!(
        version(drey.clone()).await,
        before,
        "nothing refused wrote anything"
    );
    editor
        .upsert_environment(ORG, environment("alpha", Some(json!({"spec": {}}))))
        .await
        .unwrap();
    assert!(version(drey.clone()).await > before);

    // An administrator of another organization reaches nothing here.
    let stranger = drey.acting_as(member("globex", Some(Role::Admin), &[]));
    forbidden(stranger.get_environment(ORG, "alpha").await);
    forbidden(stranger.list_environments(ORG, page()).await);

    // A pre-signed URL's holder reads nothing through the core but its UI.
    let url = drey.acting_as(Caller::SignedUrl {
        org: ORG.to_owned(),
        env: "alpha".to_owned(),
        writes: true,
    });
    forbidden(url.get_environment(ORG, "alpha").await);
    forbidden(url.list_applications(ORG, "alpha", page()).await);

    // drey itself (the reconcilers) and an organization editor do.
    let org_editor = drey.acting_as(member(ORG, Some(Role::Editor), &[]));
    org_editor
        .upsert_environment(ORG, environment("charlie", None))
        .await
        .unwrap();
    assert_eq!(names(&drey).await, ["alpha", "bravo", "charlie"]);
    org_editor.delete_environment(ORG, "charlie").await.unwrap();
    assert_eq!(names(&drey).await, ["alpha", "bravo"]);
}
