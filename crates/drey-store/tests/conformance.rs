//! One set of store tests run against both backends: what the `Store` trait
//! promises must hold on SQLite and on a real PostgreSQL alike. Each test
//! function below runs as `sqlite::<name>` and `postgres::<name>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use drey_model::page::{SortDirection, SortKey, SortOrder};
use drey_model::{Kind, ObjectKey, PageRequest};
use drey_store::{
    audit, Change, Delete, Fence, FieldFilter, ListQuery, PostgresStore, Sealer, SecretData,
    SqliteStore, Store, StoreError, Write, WriteMode,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const ORG: &str = "acme";
const SEALER_KEY: [u8; 32] = [9; 32];

/// A fresh, empty store of one backend.
struct Backend {
    store: Arc<dyn Store>,
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("drey.db"), Sealer::from_key(&SEALER_KEY))
            .await
            .unwrap();
        Backend {
            store: Arc::new(store),
            place: Place::Sqlite(dir),
        }
    }

    /// `None` only when DREY_SKIP_POSTGRES=1; panics when PostgreSQL is missing.
    async fn postgres() -> Option<Backend> {
        let url = support::postgres::database_url()?;
        let store = PostgresStore::connect(&url, Sealer::from_key(&SEALER_KEY))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        Some(Backend {
            store: Arc::new(store),
            place: Place::Postgres(url),
        })
    }

    fn s(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Everything the database holds, as bytes: SQLite's files, or every
    /// column of every row of PostgreSQL's tables (binary columns as their
    /// raw bytes, so text hidden in them would show).
    async fn dump(&self) -> Vec<u8> {
        match &self.place {
            Place::Sqlite(dir) => {
                let mut bytes = Vec::new();
                for name in ["drey.db", "drey.db-wal"] {
                    let path: PathBuf = dir.path().join(name);
                    if let Ok(content) = std::fs::read(&path) {
                        bytes.extend_from_slice(&content);
                    }
                }
                assert!(!bytes.is_empty(), "no SQLite files to dump");
                bytes
            }
            Place::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let rows: Vec<(String, Option<Vec<u8>>)> =
                    sqlx::query_as("SELECT row_to_json(o)::text, o.sealed FROM objects o")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                let refs: Vec<String> =
                    sqlx::query_scalar("SELECT row_to_json(r)::text FROM refs r")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                pool.close().await;
                assert!(!rows.is_empty(), "no rows to dump");
                let mut bytes = Vec::new();
                for (row, sealed) in rows {
                    bytes.extend_from_slice(row.as_bytes());
                    bytes.extend_from_slice(&sealed.unwrap_or_default());
                }
                for row in refs {
                    bytes.extend_from_slice(row.as_bytes());
                }
                bytes
            }
        }
    }
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(&super::Backend::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(backend) = super::Backend::postgres().await else {
                        return;
                    };
                    super::$test(&backend).await;
                }
            )*
        }
    };
}

conformance!(
    create_read_update,
    spec_is_kept_as_given,
    preconditions,
    delete_guards_and_cascade,
    version_rule,
    replace_status_checks_every_write,
    generation,
    paging_and_sorting,
    sorting_by_fields,
    filters,
    organizations_and_keys,
    sealed_secrets,
    audit_annotation,
    concurrent_updates_lose_nothing,
    concurrent_creates,
    no_orphan_under_races,
    leases_and_fences,
);

fn env(name: &str) -> ObjectKey {
    ObjectKey::global(ORG, Kind::Environment, name)
}

fn app(env: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(ORG, Kind::Application, env, name)
}

fn create(key: &ObjectKey, spec: Value) -> Write {
    Write::new(key.clone(), WriteMode::Create, spec)
}

fn update(key: &ObjectKey, expected: Option<i64>, spec: Value) -> Write {
    Write::new(
        key.clone(),
        WriteMode::Update {
            expected_version: expected,
        },
        spec,
    )
}

fn list_query(kind: Kind, scope: Option<&str>) -> ListQuery {
    ListQuery {
        org: ORG.into(),
        kind,
        scope: scope.map(str::to_owned),
        filters: Vec::new(),
        page: PageRequest::all(),
    }
}

fn names(page: &drey_model::Page<drey_model::Object>) -> Vec<&str> {
    page.items.iter().map(|o| o.key.name.as_str()).collect()
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::VersionConflict { .. }))
}

async fn create_read_update(b: &Backend) {
    let s = b.s();
    let key = env("dev");
    assert!(s.get(&key).await.unwrap().is_none());
    let mut w = create(&key, json!({"a": 1}));
    w.labels = BTreeMap::from([("team".into(), "data".into())]);
    w.annotations = BTreeMap::from([("note".into(), "first".into())]);
    let created = s.write(w).await.unwrap();
    assert_eq!(created.meta.resource_version, 1);
    assert_eq!(
        created.status,
        Value::Null,
        "a create without status stores null"
    );
    assert_eq!(created.meta.labels["team"], "data");
    assert_eq!(
        created.meta.creation_timestamp,
        created.meta.update_timestamp
    );
    assert_eq!(s.get(&key).await.unwrap().unwrap(), created);
    assert!(matches!(
        s.write(create(&key, json!({}))).await,
        Err(StoreError::AlreadyExists(k)) if k == key
    ));
    assert!(matches!(
        s.write(update(&env("nope"), None, json!({}))).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.write_status(&env("nope"), None, json!({})).await,
        Err(StoreError::NotFound(_))
    ));

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let status = s
        .write_status(&key, None, json!({"phase": "ok"}))
        .await
        .unwrap();
    assert_eq!(
        status.spec,
        json!({"a": 1}),
        "a status write keeps the spec"
    );
    let mut w = update(&key, Some(2), json!({"a": 2}));
    w.status = None;
    let updated = s.write(w).await.unwrap();
    assert_eq!(
        updated.status,
        json!({"phase": "ok"}),
        "status None keeps the status"
    );
    assert!(updated.meta.labels.is_empty(), "labels are replaced");
    assert_eq!(updated.meta.uid, created.meta.uid);
    assert_eq!(
        updated.meta.creation_timestamp,
        created.meta.creation_timestamp
    );
    assert!(updated.meta.update_timestamp > created.meta.update_timestamp);
    let mut w = Write::new(key.clone(), WriteMode::Upsert, json!({"a": 3}));
    w.status = Some(json!({"phase": "reset"}));
    let upserted = s.write(w).await.unwrap();
    assert_eq!(upserted.status, json!({"phase": "reset"}));
    assert_eq!(upserted.meta.resource_version, 4);
    let fresh = s
        .write(Write::new(env("new"), WriteMode::Upsert, json!({})))
        .await
        .unwrap();
    assert_eq!(
        fresh.meta.resource_version, 1,
        "an upsert of a free key creates"
    );

    let deleted = s.delete(Delete::new(key.clone())).await.unwrap().unwrap();
    assert_eq!(deleted.spec, json!({"a": 3}));
    assert!(s.get(&key).await.unwrap().is_none());
    assert!(s.delete(Delete::new(key.clone())).await.unwrap().is_none());
    let again = s.write(create(&key, json!({}))).await.unwrap();
    assert_ne!(again.meta.uid, created.meta.uid, "uids are never reused");
}

async fn spec_is_kept_as_given(b: &Backend) {
    let s = b.s();
    let spec: Value = serde_json::from_str(
        r#"{"zeta":1,"alpha":{"y":[3,1,2],"x":null},"mid":"ü \"q\"","n":1.5}"#,
    )
    .unwrap();
    s.write(create(&env("order"), spec.clone())).await.unwrap();
    let got = s.get(&env("order")).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_string(&got.spec).unwrap(),
        serde_json::to_string(&spec).unwrap(),
        "key order, nulls, unicode and numbers survive"
    );
    let listed = s.list(&list_query(Kind::Environment, None)).await.unwrap();
    assert_eq!(
        serde_json::to_string(&listed.items[0].spec).unwrap(),
        serde_json::to_string(&spec).unwrap()
    );
}

async fn preconditions(b: &Backend) {
    let s = b.s();
    let mut w = create(&app("missing", "a"), json!({}));
    w.requires = vec![env("missing")];
    assert!(matches!(
        s.write(w).await,
        Err(StoreError::MissingParent(k)) if k == env("missing")
    ));
    assert!(
        s.get(&app("missing", "a")).await.unwrap().is_none(),
        "a failed precondition writes nothing"
    );
    s.write(create(&env("prod"), json!({}))).await.unwrap();
    let mut w = create(&app("prod", "a"), json!({}));
    w.requires = vec![env("prod")];
    s.write(w).await.unwrap();
    let mut w = update(&app("prod", "a"), None, json!({"v": 2}));
    w.requires = vec![env("prod"), env("other")];
    assert!(matches!(
        s.write(w).await,
        Err(StoreError::MissingParent(k)) if k == env("other")
    ));
    assert_eq!(
        s.get(&app("prod", "a")).await.unwrap().unwrap().spec,
        json!({}),
        "a failed update changes nothing"
    );
}

async fn delete_guards_and_cascade(b: &Backend) {
    let s = b.s();
    s.write(create(&env("e"), json!({}))).await.unwrap();
    let pool = ObjectKey::in_env(ORG, Kind::ComputePool, "e", "pool");
    s.write(create(&pool, json!({}))).await.unwrap();
    for name in ["s1", "s2"] {
        let mut w = create(
            &ObjectKey::in_env(ORG, Kind::Statement, "e", name),
            json!({}),
        );
        w.refs = vec![pool.clone(), pool.clone()];
        s.write(w).await.unwrap();
    }
    let referrers = s.referrers(&pool, Kind::Statement).await.unwrap();
    assert_eq!(
        referrers
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["s1", "s2"]
    );
    assert!(s
        .referrers(&pool, Kind::Application)
        .await
        .unwrap()
        .is_empty());

    let mut guarded = Delete::new(pool.clone());
    guarded.refuse_if_referenced = true;
    match s.delete(guarded.clone()).await {
        Err(StoreError::Blocked(msg)) => {
            assert!(msg.contains("Statement 's1' in 'e'"), "{msg}");
            assert!(msg.contains("Statement 's2' in 'e'"), "{msg}");
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    // Dropping a reference (refs are replaced on write) and deleting a referrer
    // both release the target.
    s.write(update(
        &ObjectKey::in_env(ORG, Kind::Statement, "e", "s1"),
        None,
        json!({}),
    ))
    .await
    .unwrap();
    s.delete(Delete::new(ObjectKey::in_env(
        ORG,
        Kind::Statement,
        "e",
        "s2",
    )))
    .await
    .unwrap();
    assert!(s
        .referrers(&pool, Kind::Statement)
        .await
        .unwrap()
        .is_empty());
    assert!(s.delete(guarded).await.unwrap().is_some());

    // An environment with applications is refused; an application's
    // children go with it.
    for name in ["a1", "a2"] {
        s.write(create(&app("e", name), json!({}))).await.unwrap();
    }
    let mut env_delete = Delete::new(env("e"));
    env_delete.must_be_empty = vec![(Kind::Application, "e".into())];
    match s.delete(env_delete.clone()).await {
        Err(StoreError::Blocked(msg)) => {
            assert!(msg.contains("2 FlinkApplication(s) (a1, a2)"), "{msg}")
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    let events: Vec<ObjectKey> = (0..3)
        .map(|i| ObjectKey::in_app(ORG, Kind::Event, "e", "a1", &format!("ev{i}")))
        .collect();
    for event in &events {
        let mut w = create(event, json!({}));
        w.refs = vec![app("e", "a2")];
        s.write(w).await.unwrap();
    }
    let other_app_event = ObjectKey::in_app(ORG, Kind::Event, "e", "a2", "keep");
    s.write(create(&other_app_event, json!({}))).await.unwrap();
    assert_eq!(
        s.referrers(&app("e", "a2"), Kind::Event)
            .await
            .unwrap()
            .len(),
        3
    );
    let mut app_delete = Delete::new(app("e", "a1"));
    app_delete.cascade = vec![(Kind::Event, "e/a1".into())];
    s.delete(app_delete).await.unwrap();
    for event in &events {
        assert!(s.get(event).await.unwrap().is_none(), "cascaded");
    }
    assert!(
        s.get(&other_app_event).await.unwrap().is_some(),
        "other scopes stay"
    );
    assert!(
        s.referrers(&app("e", "a2"), Kind::Event)
            .await
            .unwrap()
            .is_empty(),
        "cascaded objects' references go with them"
    );
    s.delete(Delete::new(app("e", "a2"))).await.unwrap();
    assert!(s.delete(env_delete).await.unwrap().is_some());
}

async fn version_rule(b: &Backend) {
    let s = b.s();
    let key = env("rule");
    let read = s
        .write(create(&key, json!({"a": 1})))
        .await
        .unwrap()
        .meta
        .resource_version;
    // Two reconcilers' status writes, both from version 1: no conflict.
    assert_eq!(
        s.write_status(&key, Some(read), json!({"s": 1}))
            .await
            .unwrap()
            .meta
            .resource_version,
        2
    );
    s.write_status(&key, Some(read), json!({"s": 2}))
        .await
        .unwrap();
    // The user read version 1 too: the status writes since are no conflict.
    let user = s
        .write(update(&key, Some(read), json!({"a": 2})))
        .await
        .unwrap();
    assert_eq!(
        user.meta.resource_version, 4,
        "resourceVersion moves on every write"
    );
    assert_eq!(user.status, json!({"s": 2}));
    // Everyone who read before the user's write must re-read.
    assert!(is_conflict(
        s.write_status(&key, Some(read), json!({"s": 3})).await
    ));
    assert!(is_conflict(
        s.write_status(&key, Some(3), json!({"s": 3})).await
    ));
    assert!(is_conflict(
        s.write(update(&key, Some(3), json!({"a": 3}))).await
    ));
    let mut stale = Delete::new(key.clone());
    stale.expected_version = Some(3);
    assert!(is_conflict(s.delete(stale).await));
    match s.write(update(&key, Some(5), json!({}))).await {
        Err(StoreError::VersionConflict {
            expected, actual, ..
        }) => {
            assert_eq!((expected, actual), (5, 4), "a future version is a conflict")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        s.get(&key).await.unwrap().unwrap(),
        user,
        "refused writes change nothing"
    );
    // Re-read at 4: status writes go through, a user write from 4 too.
    s.write_status(&key, Some(4), json!({"s": 3}))
        .await
        .unwrap();
    s.write(update(&key, Some(4), json!({"a": 3})))
        .await
        .unwrap();
    assert!(is_conflict(s.write_status(&key, Some(5), json!({})).await));
    // An upsert never checks; a delete from the latest user write succeeds.
    s.write(Write::new(key.clone(), WriteMode::Upsert, json!({"a": 4})))
        .await
        .unwrap();
    s.write_status(&key, None, json!({"s": 4})).await.unwrap();
    let mut delete = Delete::new(key.clone());
    delete.expected_version = Some(7);
    assert!(s.delete(delete).await.unwrap().is_some());
}

/// A status with two writers: `replace_status` goes through only over the
/// very version it read, so neither writer drops what the other recorded.
async fn replace_status_checks_every_write(b: &Backend) {
    let s = b.s();
    let key = env("two-writers");
    let read = s.write(create(&key, json!({"a": 1}))).await.unwrap();
    let v = read.meta.resource_version;
    let first = s.replace_status(&key, v, json!({"s": 1})).await.unwrap();
    assert_eq!(first.meta.resource_version, v + 1);
    // The second writer read `v` too: its write would drop `s: 1`.
    assert!(is_conflict(
        s.replace_status(&key, v, json!({"t": 1})).await
    ));
    assert!(is_conflict(
        s.replace_status(&key, v + 2, json!({"t": 1})).await
    ));
    assert_eq!(s.get(&key).await.unwrap().unwrap().status, json!({"s": 1}));
    // Re-read, it goes through; a user's write in between is refused too.
    s.replace_status(&key, v + 1, json!({"s": 1, "t": 1}))
        .await
        .unwrap();
    s.write(update(&key, Some(v + 2), json!({"a": 2})))
        .await
        .unwrap();
    assert!(is_conflict(s.replace_status(&key, v + 2, json!({})).await));
    assert!(matches!(
        s.replace_status(&env("none"), 1, json!({})).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn generation(b: &Backend) {
    let s = b.s();
    let key = env("gen");
    let g = |o: drey_model::Object| (o.meta.resource_version, o.meta.generation);
    assert_eq!(
        g(s.write(create(&key, json!({"a": 1}))).await.unwrap()),
        (1, 1)
    );
    assert_eq!(
        g(s.write(update(&key, Some(1), json!({"a": 1})))
            .await
            .unwrap()),
        (2, 1),
        "the same spec is no new generation"
    );
    let mut labels_only = update(&key, None, json!({"a": 1}));
    labels_only.labels = BTreeMap::from([("x".into(), "y".into())]);
    assert_eq!(g(s.write(labels_only).await.unwrap()), (3, 1));
    assert_eq!(
        g(s.write_status(&key, None, json!({"s": 1})).await.unwrap()),
        (4, 1)
    );
    assert_eq!(
        g(
            s.write(Write::new(key.clone(), WriteMode::Upsert, json!({"a": 2})))
                .await
                .unwrap()
        ),
        (5, 2)
    );
    assert_eq!(
        g(s.write(update(&key, None, json!({"a": 3}))).await.unwrap()),
        (6, 3)
    );
    assert_eq!(g(s.get(&key).await.unwrap().unwrap()), (6, 3));
    let listed = s.list(&list_query(Kind::Environment, None)).await.unwrap();
    assert_eq!(
        g(listed.items[0].clone()),
        (6, 3),
        "lists carry the generation"
    );
    s.delete(Delete::new(key.clone())).await.unwrap();
    assert_eq!(
        g(s.write(create(&key, json!({"a": 3}))).await.unwrap()),
        (1, 1),
        "a new object starts over"
    );
}

async fn paging_and_sorting(b: &Backend) {
    let s = b.s();
    s.write(create(&env("e"), json!({}))).await.unwrap();
    s.write(create(&env("f"), json!({}))).await.unwrap();
    // Created in this order; names sort byte-wise (upper case first).
    let order = ["m", "B", "z", "a-1", "a", "a_1", "Z"];
    for name in order {
        s.write(create(&app("e", name), json!({}))).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    s.write(create(&app("f", "other"), json!({})))
        .await
        .unwrap();
    let mut q = list_query(Kind::Application, Some("e"));
    let all = s.list(&q).await.unwrap();
    assert_eq!(
        names(&all),
        ["B", "Z", "a", "a-1", "a_1", "m", "z"],
        "natural order"
    );
    assert_eq!(all.total, 7);
    q.page = PageRequest {
        page: 0,
        size: 3,
        sort: vec![SortOrder {
            key: SortKey::Name,
            direction: SortDirection::Desc,
        }],
    };
    let mut pages = Vec::new();
    for page in 0..4 {
        q.page.page = page;
        let got = s.list(&q).await.unwrap();
        assert_eq!(got.total, 7, "the total counts every match");
        pages.push(names(&got).join(","));
    }
    assert_eq!(pages, ["z,m,a_1", "a-1,a,Z", "B", ""]);
    q.page = PageRequest {
        page: 1,
        size: 2,
        sort: vec![SortOrder {
            key: SortKey::CreationTime,
            direction: SortDirection::Asc,
        }],
    };
    assert_eq!(names(&s.list(&q).await.unwrap()), ["z", "a-1"]);
    q.page.sort[0].direction = SortDirection::Desc;
    q.page.page = 0;
    assert_eq!(names(&s.list(&q).await.unwrap()), ["Z", "a_1"]);
    // Updating moves an object to the end of the update-time order.
    s.write(update(&app("e", "B"), None, json!({"touched": true})))
        .await
        .unwrap();
    q.page = PageRequest {
        page: 0,
        size: 2,
        sort: vec![SortOrder {
            key: SortKey::UpdateTime,
            direction: SortDirection::Desc,
        }],
    };
    assert_eq!(names(&s.list(&q).await.unwrap()), ["B", "Z"]);
    let everywhere = s.list(&list_query(Kind::Application, None)).await.unwrap();
    assert_eq!(everywhere.total, 8, "no scope lists across scopes");
    assert_eq!(
        everywhere.items.last().unwrap().key.name,
        "other",
        "ordered by scope, then name"
    );
}

async fn sorting_by_fields(b: &Backend) {
    let s = b.s();
    s.write(create(&env("e"), json!({}))).await.unwrap();
    let specs = [
        ("ten", json!({"job": {"parallelism": 10}, "type": "b"})),
        ("two", json!({"job": {"parallelism": 2}, "type": "B"})),
        ("half", json!({"job": {"parallelism": 0.5}, "type": "a"})),
        ("none", json!({"type": "c"})),
        ("nul", json!({"job": {"parallelism": null}, "type": "a"})),
        ("text", json!({"job": {"parallelism": "3"}, "type": "b"})),
    ];
    for (name, spec) in specs {
        s.write(create(&app("e", name), spec)).await.unwrap();
    }
    s.write_status(&app("e", "two"), None, json!({"phase": "RUNNING"}))
        .await
        .unwrap();
    s.write_status(&app("e", "ten"), None, json!({"phase": "FAILED"}))
        .await
        .unwrap();
    let sorted = |path: &[&str], direction: SortDirection, then_name: bool| {
        let mut sort = vec![SortOrder {
            key: SortKey::Field(path.iter().map(|p| p.to_string()).collect()),
            direction,
        }];
        if then_name {
            sort.push(SortOrder {
                key: SortKey::Name,
                direction: SortDirection::Desc,
            });
        }
        ListQuery {
            page: PageRequest {
                page: 0,
                size: 100,
                sort,
            },
            ..list_query(Kind::Application, Some("e"))
        }
    };
    let q = sorted(&["spec", "job", "parallelism"], SortDirection::Asc, false);
    // Missing and null first, numbers numerically, then text.
    assert_eq!(
        names(&s.list(&q).await.unwrap()),
        ["none", "nul", "half", "two", "ten", "text"]
    );
    let q = sorted(&["spec", "job", "parallelism"], SortDirection::Desc, false);
    assert_eq!(
        names(&s.list(&q).await.unwrap()),
        ["text", "ten", "two", "half", "none", "nul"],
        "ties keep scope and name ascending"
    );
    let q = sorted(&["spec", "type"], SortDirection::Asc, true);
    assert_eq!(
        names(&s.list(&q).await.unwrap()),
        ["two", "nul", "half", "text", "ten", "none"],
        "strings byte-wise, then the next key"
    );
    let q = sorted(&["status", "phase"], SortDirection::Asc, false);
    assert_eq!(
        names(&s.list(&q).await.unwrap()),
        ["half", "none", "nul", "text", "ten", "two"]
    );
}

async fn filters(b: &Backend) {
    let s = b.s();
    s.write(create(&env("e"), json!({}))).await.unwrap();
    let specs = [
        (
            "a",
            json!({"computePoolName": "p1", "n": 3, "deep": {"x-y": "v"}}),
        ),
        ("b", json!({"computePoolName": "p2", "n": 30})),
        ("c", json!({"computePoolName": "p1", "n": "3"})),
        ("d", json!({"computePoolName": null})),
    ];
    for (name, spec) in specs {
        let key = ObjectKey::in_env(ORG, Kind::Statement, "e", name);
        s.write(create(&key, spec)).await.unwrap();
    }
    s.write_status(
        &ObjectKey::in_env(ORG, Kind::Statement, "e", "b"),
        None,
        json!({"phase": "RUNNING"}),
    )
    .await
    .unwrap();
    let filtered = |filters: &[(&[&str], &str)]| ListQuery {
        filters: filters
            .iter()
            .map(|(path, equals)| FieldFilter {
                path: path.iter().map(|p| p.to_string()).collect(),
                equals: equals.to_string(),
            })
            .collect(),
        ..list_query(Kind::Statement, Some("e"))
    };
    let pool = ["spec", "computePoolName"].as_slice();
    let got = s.list(&filtered(&[(pool, "p1")])).await.unwrap();
    assert_eq!((names(&got), got.total), (vec!["a", "c"], 2));
    let n = ["spec", "n"].as_slice();
    assert_eq!(
        names(&s.list(&filtered(&[(n, "3")])).await.unwrap()),
        ["a", "c"],
        "numbers compare as their text"
    );
    assert_eq!(
        names(&s.list(&filtered(&[(pool, "p1"), (n, "3")])).await.unwrap()),
        ["a", "c"]
    );
    assert_eq!(
        names(&s.list(&filtered(&[(pool, "p2"), (n, "3")])).await.unwrap()).len(),
        0
    );
    let deep = ["spec", "deep", "x-y"].as_slice();
    assert_eq!(
        names(&s.list(&filtered(&[(deep, "v")])).await.unwrap()),
        ["a"]
    );
    let phase = ["status", "phase"].as_slice();
    assert_eq!(
        names(&s.list(&filtered(&[(phase, "RUNNING")])).await.unwrap()),
        ["b"]
    );
    assert!(
        s.list(&filtered(&[(pool, "null")]))
            .await
            .unwrap()
            .items
            .is_empty(),
        "null matches nothing"
    );
    let mut paged = filtered(&[(pool, "p1")]);
    paged.page = PageRequest {
        page: 1,
        size: 1,
        sort: Vec::new(),
    };
    let got = s.list(&paged).await.unwrap();
    assert_eq!((names(&got), got.total), (vec!["c"], 2));
}

async fn organizations_and_keys(b: &Backend) {
    let s = b.s();
    for org in ["acme", "beta"] {
        s.write(create(
            &ObjectKey::global(org, Kind::Environment, "shared"),
            json!({"org": org}),
        ))
        .await
        .unwrap();
    }
    s.write(create(
        &ObjectKey::global("beta", Kind::Environment, "b2"),
        json!({}),
    ))
    .await
    .unwrap();
    s.write(create(
        &ObjectKey::global("acme", Kind::Catalog, "c"),
        json!({}),
    ))
    .await
    .unwrap();
    let acme = s.list(&list_query(Kind::Environment, None)).await.unwrap();
    assert_eq!(
        (acme.total, acme.items[0].spec.clone()),
        (1, json!({"org": "acme"}))
    );
    let keys = s.keys(Kind::Environment).await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| format!("{}/{}", k.org, k.name))
            .collect::<Vec<_>>(),
        ["acme/shared", "beta/b2", "beta/shared"]
    );
    assert_eq!(s.keys(Kind::Catalog).await.unwrap().len(), 1);
    assert!(s.keys(Kind::Cluster).await.unwrap().is_empty());
    // Same name, other organization: a different object.
    s.delete(Delete::new(ObjectKey::global(
        "beta",
        Kind::Environment,
        "shared",
    )))
    .await
    .unwrap();
    assert!(s.get(&env("shared")).await.unwrap().is_some());
}

async fn sealed_secrets(b: &Backend) {
    let s = b.s();
    let key = ObjectKey::global(ORG, Kind::Secret, "db");
    let first = SecretData(BTreeMap::from([
        ("password".into(), "correct-horse-battery".into()),
        ("user".into(), "flink-admin-user".into()),
    ]));
    let mut w = create(&key, json!({"type": "basic"}));
    w.secret = Some(first.clone());
    s.write(w).await.unwrap();
    assert_eq!(s.secret_data(&key).await.unwrap(), Some(first.clone()));
    let dump = b.dump().await;
    assert!(
        contains(&dump, b"basic"),
        "the dump must show the stored rows, or looking in it proves nothing"
    );
    for clear in ["correct-horse-battery", "flink-admin-user"] {
        assert!(
            !contains(&dump, clear.as_bytes()),
            "'{clear}' is stored in clear"
        );
    }
    // A write without secret data keeps it; new data replaces it.
    s.write(update(&key, None, json!({"type": "basic", "v": 2})))
        .await
        .unwrap();
    assert_eq!(s.secret_data(&key).await.unwrap(), Some(first));
    let second = SecretData(BTreeMap::from([(
        "token".into(),
        "rotated-token-value".into(),
    )]));
    let mut w = update(&key, None, json!({"type": "token"}));
    w.secret = Some(second.clone());
    s.write(w).await.unwrap();
    assert_eq!(s.secret_data(&key).await.unwrap(), Some(second));
    assert!(!contains(&b.dump().await, b"rotated-token-value"));
    let plain = ObjectKey::global(ORG, Kind::Secret, "plain");
    s.write(create(&plain, json!({}))).await.unwrap();
    assert_eq!(
        s.secret_data(&plain).await.unwrap(),
        Some(SecretData::default())
    );
    assert_eq!(
        s.secret_data(&ObjectKey::global(ORG, Kind::Secret, "nope"))
            .await
            .unwrap(),
        None
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn audit_annotation(b: &Backend) {
    let s = b.store.clone();
    let key = env("audited");
    let written = audit::ACTOR
        .scope("acme/key-1".to_owned(), async move {
            s.write(create(&key, json!({}))).await
        })
        .await
        .unwrap();
    assert_eq!(written.meta.annotations[audit::MODIFIED_BY], "acme/key-1");
    let status = b
        .s()
        .write_status(&env("audited"), None, json!({}))
        .await
        .unwrap();
    assert_eq!(
        status.meta.annotations[audit::MODIFIED_BY],
        "acme/key-1",
        "a status write keeps the last user writer"
    );
}

async fn concurrent_updates_lose_nothing(b: &Backend) {
    let key = env("counter");
    b.s().write(create(&key, json!({"n": 0}))).await.unwrap();
    let writers = 8;
    let each = 5;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let s = b.store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < each {
                let current = s.get(&key).await.unwrap().unwrap();
                let n = current.spec["n"].as_i64().unwrap();
                let write = update(
                    &key,
                    Some(current.meta.resource_version),
                    json!({"n": n + 1}),
                );
                match s.write(write).await {
                    Ok(_) => done += 1,
                    Err(StoreError::VersionConflict { .. }) => continue,
                    Err(e) => panic!("writer {w}: {e}"),
                }
                // A reconciler's status write in between never costs a retry.
                s.write_status(
                    &key,
                    Some(current.meta.resource_version + 1),
                    json!({"w": w}),
                )
                .await
                .ok();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let end = b.s().get(&key).await.unwrap().unwrap();
    assert_eq!(end.spec["n"], writers * each, "no update was lost");
    assert_eq!(end.meta.generation, 1 + writers * each);
}

async fn concurrent_creates(b: &Backend) {
    let key = env("race");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = b.store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            s.write(create(&key, json!({"by": i}))).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(created, 1, "exactly one create wins");
    let key = env("upserted");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = b.store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            s.write(Write::new(key, WriteMode::Upsert, json!({"by": i})))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let end = b.s().get(&key).await.unwrap().unwrap();
    assert_eq!(end.meta.resource_version, 8, "every upsert applied once");
}

async fn no_orphan_under_races(b: &Backend) {
    for round in 0..10 {
        let parent = env(&format!("p{round}"));
        b.s().write(create(&parent, json!({}))).await.unwrap();
        let child = app(&parent.name, "child");
        let s1 = b.store.clone();
        let (p1, c1) = (parent.clone(), child.clone());
        let add = tokio::spawn(async move {
            let mut w = create(&c1, json!({}));
            w.requires = vec![p1];
            s1.write(w).await
        });
        let s2 = b.store.clone();
        let p2 = parent.clone();
        let remove = tokio::spawn(async move {
            let mut d = Delete::new(p2.clone());
            d.must_be_empty = vec![(Kind::Application, p2.name.clone())];
            s2.delete(d).await
        });
        let added = add.await.unwrap();
        let removed = remove.await.unwrap();
        match (&added, &removed) {
            (Ok(_), Err(StoreError::Blocked(_))) => {
                assert!(b.s().get(&parent).await.unwrap().is_some());
            }
            (Err(StoreError::MissingParent(_)), Ok(Some(_))) => {
                assert!(b.s().get(&child).await.unwrap().is_none());
            }
            other => panic!("round {round}: the child and its parent's delete both won: {other:?}"),
        }
    }
}

/// One replica holds the lease at a time; a write fenced with a lease that
/// expired, or that another replica took, is refused and changes nothing.
async fn leases_and_fences(b: &Backend) {
    use std::time::Duration;
    const LEASE: &str = "reconcilers";
    let long = Duration::from_secs(60);
    // Long enough that a loaded machine finishes the checks below while the
    // lease holds; waiting twice as long lets it run out.
    let short = Duration::from_secs(3);
    let fence = |holder: &str, epoch| Fence {
        lease: LEASE.into(),
        holder: holder.into(),
        epoch,
    };
    let s = b.s();
    assert_eq!(s.acquire_lease(LEASE, "a", long).await.unwrap(), Some(1));
    assert_eq!(s.acquire_lease(LEASE, "b", long).await.unwrap(), None);
    assert_eq!(
        s.acquire_lease(LEASE, "a", short).await.unwrap(),
        Some(1),
        "a renewal in time keeps the epoch"
    );
    let key = env("fenced");
    let mut first = create(&key, json!({"n": 1}));
    first.fence = Some(fence("a", 1));
    let stored = s.write(first).await.unwrap();
    s.write_status_fenced(&key, None, json!({"by": "a"}), &fence("a", 1))
        .await
        .unwrap();
    for wrong in [fence("b", 1), fence("a", 2)] {
        assert!(matches!(
            s.write_status_fenced(&key, None, json!({"by": "wrong"}), &wrong)
                .await,
            Err(StoreError::Fenced(_))
        ));
    }

    // a's lease runs out (a paused replica); b takes it in a new epoch.
    tokio::time::sleep(short * 2).await;
    assert_eq!(s.acquire_lease(LEASE, "b", long).await.unwrap(), Some(2));
    let stale = fence("a", 1);
    let mut update = update(&key, Some(stored.meta.resource_version), json!({"n": 2}));
    update.fence = Some(stale.clone());
    assert!(matches!(s.write(update).await, Err(StoreError::Fenced(_))));
    assert!(matches!(
        s.write_status_fenced(&key, None, json!({"by": "a"}), &stale)
            .await,
        Err(StoreError::Fenced(_))
    ));
    let mut delete = Delete::new(key.clone());
    delete.fence = Some(stale);
    assert!(matches!(s.delete(delete).await, Err(StoreError::Fenced(_))));
    let kept = s
        .get(&key)
        .await
        .unwrap()
        .expect("a fenced delete deletes nothing");
    assert_eq!(kept.spec, json!({"n": 1}));
    assert_eq!(kept.status, json!({"by": "a"}));
    assert_eq!(
        s.acquire_lease(LEASE, "a", short).await.unwrap(),
        None,
        "the ex-holder cannot renew"
    );
    s.write_status_fenced(&key, None, json!({"by": "b"}), &fence("b", 2))
        .await
        .unwrap();

    // A release hands the lease over at once, in a new epoch.
    s.release_lease(LEASE, "a").await.unwrap();
    assert_eq!(s.acquire_lease(LEASE, "a", long).await.unwrap(), None);
    s.release_lease(LEASE, "b").await.unwrap();
    assert_eq!(s.acquire_lease(LEASE, "a", long).await.unwrap(), Some(3));
    assert!(matches!(
        s.write_status_fenced(&key, None, json!({}), &fence("b", 2))
            .await,
        Err(StoreError::Fenced(_))
    ));
    assert_eq!(
        s.acquire_lease("another", "b", long).await.unwrap(),
        Some(1),
        "leases are independent"
    );
}

/// A write through one PostgreSQL store is heard by another on the same
/// database (the replicas' wake-ups); SQLite has no other writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_heard_by_other_replicas() {
    assert!(Backend::sqlite().await.s().changes().is_none());
    let Some(url) = support::postgres::database_url() else {
        return;
    };
    let sealer = || Sealer::from_key(&SEALER_KEY);
    let a = PostgresStore::connect(&url, sealer()).await.unwrap();
    let b = PostgresStore::connect(&url, sealer()).await.unwrap();
    let mut heard = a.changes().expect("PostgreSQL announces writes");
    let key = app("prod", "heard");
    b.write(create(&env("prod"), json!({}))).await.unwrap();
    b.write(create(&key, json!({}))).await.unwrap();
    b.delete(Delete::new(key.clone())).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(std::time::Duration::from_secs(30), heard.recv()).await {
            Ok(Ok(Change::Object(k))) => seen.push(k),
            other => panic!("expected three announced writes, got {seen:?} then {other:?}"),
        }
    }
    assert_eq!(seen, vec![env("prod"), key.clone(), key]);
}

#[tokio::test]
async fn postgres_reconnects_and_refuses_a_wrong_password_at_once() {
    let Some(url) = support::postgres::database_url() else {
        return;
    };
    let sealer = || Sealer::from_key(&SEALER_KEY);
    let first = PostgresStore::connect(&url, sealer()).await.unwrap();
    first.write(create(&env("kept"), json!({}))).await.unwrap();
    first.close().await;
    let again = PostgresStore::connect(&url, sealer()).await.unwrap();
    assert!(
        again.get(&env("kept")).await.unwrap().is_some(),
        "migrations run again harmlessly and the data stays"
    );
    assert_eq!(
        again.location().split('/').next_back(),
        url.split('/').next_back()
    );

    let password = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let wrong = url.replacen(&format!(":{password}@"), ":not-the-password@", 1);
    assert_ne!(wrong, url);
    let started = std::time::Instant::now();
    match PostgresStore::connect(&wrong, sealer()).await {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("password authentication failed"), "{msg}");
            assert!(
                !msg.contains("not-the-password"),
                "the message shows the password: {msg}"
            );
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "no waiting on a wrong password"
    );
    assert!(matches!(
        PostgresStore::connect("postgres://[bad", sealer()).await,
        Err(StoreError::Database(_))
    ));
}
