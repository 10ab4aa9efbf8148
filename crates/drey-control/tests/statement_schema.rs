//! A query's result schema is recorded once, by whoever sees the columns
//! first, even when the statement's status changed since it was read: the
//! engine shows a page's columns only while that page is current, so a
//! schema write lost to a conflict would be lost for good.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use drey_control::Core;
use drey_flink::ColumnInfo;
use drey_model::object::{Kind, ObjectKey, DEFAULT_ORG};
use drey_store::{Sealer, SqliteStore, Store, Write, WriteMode};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn a_schema_seen_with_a_stale_statement_is_still_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("drey.db"), Sealer::from_key(&[7; 32]))
            .await
            .unwrap(),
    );
    let key = ObjectKey::in_env(DEFAULT_ORG, Kind::Statement, "dev", "values");
    let spec = json!({"statement": "SELECT 1 AS id", "computePoolName": "shared"});
    store
        .write(Write::new(key.clone(), WriteMode::Create, spec))
        .await
        .unwrap();
    let stale = store.get(&key).await.unwrap().unwrap();
    // The reconciler finishes the statement after the reader's read.
    let finished = store
        .replace_status(
            &key,
            stale.meta.resource_version,
            json!({"phase": "COMPLETED", "traits": {"sqlKind": "SELECT"}}),
        )
        .await
        .unwrap();

    let core = Core::new(store.clone());
    let columns = vec![ColumnInfo {
        name: "id".into(),
        logical_type: json!({"type": "INTEGER", "nullable": false}),
        comment: None,
    }];
    core.record_statement_schema(&stale, &columns)
        .await
        .unwrap();

    let stored = store.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.status["phase"], "COMPLETED", "{}", stored.status);
    assert_eq!(stored.status["traits"]["sqlKind"], "SELECT");
    let schema = &stored.status["traits"]["schema"]["columns"];
    assert_eq!(schema[0]["name"], "id", "{}", stored.status);
    assert_eq!(schema[0]["type"]["type"], "INTEGER");

    // Nor can the reconciler's next write over what it read before drop it.
    let overwrite = store
        .replace_status(
            &key,
            finished.meta.resource_version,
            json!({"phase": "COMPLETED"}),
        )
        .await;
    assert!(
        matches!(
            overwrite,
            Err(drey_store::StoreError::VersionConflict { .. })
        ),
        "{overwrite:?}"
    );

    // Recorded once: other columns seen later change nothing.
    let later = vec![ColumnInfo {
        name: "other".into(),
        ..columns[0].clone()
    }];
    core.record_statement_schema(&stale, &later).await.unwrap();
    let again = store.get(&key).await.unwrap().unwrap();
    assert_eq!(again.status["traits"]["schema"]["columns"][0]["name"], "id");
}
