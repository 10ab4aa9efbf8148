//! The embedded SQLite backend: WAL journal, `synchronous=FULL` so a commit
//! that returned is on disk, one writer connection (SQLite has one writer
//! anyway; this keeps `SQLITE_BUSY` out of the request path) and a small pool
//! of readers that never wait for the writer.

use crate::lease::{self, Dialect, Fence};
use crate::row::{ObjectRow, COLUMNS};
use crate::{
    Delete, ListQuery, Sealer, SecretData, Store, StoreError, Stored, VersionCheck, Write,
    WriteMode,
};
use async_trait::async_trait;
use drey_model::page::{SortDirection, SortKey};
use drey_model::{Kind, Object, ObjectKey, ObjectMeta, Page, Timestamp};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    sealer: Sealer,
    cache: Arc<ReadCache>,
}

/// Objects read by key, kept in memory. SQLite has one writer — this
/// process, which holds the data dir's lock — so every change passes through
/// `write`, `write_status` and `delete`, which update the cache after they
/// commit. A read that raced with a write never inserts what it read (the
/// epoch moved), so the cache never serves an older version than the
/// database. perf showed most of a GET's time in the hop to sqlx's SQLite
/// thread and in file-lock syscalls; a hit skips both.
#[derive(Debug, Default)]
struct ReadCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    epoch: u64,
    objects: HashMap<ObjectKey, Object>,
}

/// Objects kept at most (a few MB; lists are not cached).
const CACHE_CAPACITY: usize = 2048;

impl ReadCache {
    fn get(&self, key: &ObjectKey) -> Result<Option<Object>, u64> {
        let Ok(inner) = self.inner.lock() else {
            return Err(u64::MAX);
        };
        match inner.objects.get(key) {
            Some(object) => Ok(Some(object.clone())),
            None => Err(inner.epoch),
        }
    }

    /// Remembers what a read found, unless a write happened since `epoch`.
    fn fill(&self, epoch: u64, object: &Object) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.epoch != epoch {
            return;
        }
        if inner.objects.len() >= CACHE_CAPACITY {
            if let Some(victim) = inner.objects.keys().next().cloned() {
                inner.objects.remove(&victim);
            }
        }
        inner.objects.insert(object.key.clone(), object.clone());
    }

    /// Applies a committed change: `f` edits the map, the epoch moves.
    fn change(&self, f: impl FnOnce(&mut HashMap<ObjectKey, Object>)) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.epoch += 1;
            f(&mut inner.objects);
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path, sealer: Sealer) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer,
            readers,
            sealer,
            cache: Arc::new(ReadCache::default()),
        })
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// Fails with [`StoreError::Fenced`] unless `fence` (if any) still holds.
async fn check_fence(conn: &mut SqliteConnection, fence: Option<&Fence>) -> Result<(), StoreError> {
    let Some(fence) = fence else {
        return Ok(());
    };
    let sql = Dialect::Sqlite.fence_sql();
    let held: Option<i64> = sqlx::query_scalar(&sql)
        .bind(&fence.lease)
        .bind(&fence.holder)
        .bind(fence.epoch)
        .fetch_optional(&mut *conn)
        .await?;
    held.map(|_| ()).ok_or_else(|| lease::fenced(fence))
}

/// One row of the JSON array a page query returns.
type PageRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    std::collections::BTreeMap<String, String>,
    std::collections::BTreeMap<String, String>,
    Value,
    Value,
);

fn decode_array(text: &str) -> Result<Vec<Object>, StoreError> {
    let rows: Vec<PageRow> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("page: {e}")))?;
    rows.into_iter()
        .map(
            |(
                org,
                kind,
                scope,
                name,
                uid,
                version,
                generation,
                created,
                updated,
                labels,
                annotations,
                spec,
                status,
            )| {
                let kind = Kind::from_storage_id(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown kind '{kind}'")))?;
                let time = |t: &str| {
                    Timestamp::parse(t)
                        .ok_or_else(|| StoreError::Corrupt(format!("bad timestamp '{t}'")))
                };
                Ok(Object {
                    meta: ObjectMeta {
                        name: name.clone(),
                        uid: Uuid::parse_str(&uid)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        resource_version: version,
                        generation,
                        creation_timestamp: time(&created)?,
                        update_timestamp: time(&updated)?,
                        labels,
                        annotations,
                    },
                    key: ObjectKey {
                        org,
                        kind,
                        scope,
                        name,
                    },
                    spec,
                    status,
                })
            },
        )
        .collect()
}

async fn fetch(conn: &mut SqliteConnection, key: &ObjectKey) -> Result<Option<Stored>, StoreError> {
    let row: Option<ObjectRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM objects WHERE org = ? AND kind = ? AND scope = ? AND name = ?"
    ))
    .bind(&key.org)
    .bind(key.kind.storage_id())
    .bind(&key.scope)
    .bind(&key.name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(ObjectRow::decode).transpose()
}

async fn exists(conn: &mut SqliteConnection, key: &ObjectKey) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM objects WHERE org = ? AND kind = ? AND scope = ? AND name = ?",
    )
    .bind(&key.org)
    .bind(key.kind.storage_id())
    .bind(&key.scope)
    .bind(&key.name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

fn json_path(path: &[String]) -> String {
    // Segments are validated by the model (alphanumerics, '_' and '-'); quoting
    // them keeps '-' from being read as an operator by SQLite's JSON path.
    let mut out = String::from("$");
    for p in path {
        out.push_str(".\"");
        out.push_str(p);
        out.push('"');
    }
    out
}

fn push_field<'a>(q: &mut QueryBuilder<'a, Sqlite>, path: &'a [String]) {
    let (column, rest) = match path.split_first() {
        Some((root, rest)) if root == "status" => ("status", rest),
        Some((_, rest)) => ("spec", rest),
        None => ("spec", path),
    };
    q.push(format!("json_extract({column}, "));
    q.push_bind(json_path(rest));
    q.push(")");
}

fn push_filters<'a>(q: &mut QueryBuilder<'a, Sqlite>, query: &'a ListQuery) {
    q.push(" WHERE org = ");
    q.push_bind(&query.org);
    q.push(" AND kind = ");
    q.push_bind(query.kind.storage_id());
    if let Some(scope) = &query.scope {
        q.push(" AND scope = ");
        q.push_bind(scope);
    }
    for filter in &query.filters {
        q.push(" AND CAST(");
        push_field(q, &filter.path);
        q.push(" AS TEXT) = ");
        q.push_bind(&filter.equals);
    }
}

fn push_order<'a>(q: &mut QueryBuilder<'a, Sqlite>, query: &'a ListQuery) {
    q.push(" ORDER BY ");
    for order in &query.page.sort {
        match &order.key {
            SortKey::Name => {
                q.push("name");
            }
            SortKey::CreationTime => {
                q.push("created_at");
            }
            SortKey::UpdateTime => {
                q.push("updated_at");
            }
            SortKey::Field(path) => push_field(q, path),
        }
        q.push(match order.direction {
            SortDirection::Asc => " ASC, ",
            SortDirection::Desc => " DESC, ",
        });
    }
    q.push("scope ASC, name ASC");
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let epoch = match self.cache.get(key) {
            Ok(hit) => return Ok(hit),
            Err(epoch) => epoch,
        };
        let mut conn = self.readers.acquire().await?;
        let found = fetch(&mut conn, key).await?.map(|stored| stored.object);
        if let Some(object) = &found {
            self.cache.fill(epoch, object);
        }
        Ok(found)
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<Object>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM objects");
        push_filters(&mut count, query);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;

        // Page through the index first (only keys and rowids: OFFSET skips
        // index entries without reading rows), then read the page's rows as
        // one JSON array: one row crosses from SQLite's thread instead of a
        // hundred, and each document is parsed once.
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT json_group_array(json_array(org, kind, scope, name, uid, resource_version, \
             generation, created_at, updated_at, json(labels), json(annotations), json(spec), json(status))",
        );
        push_order(&mut q, query);
        q.push(") FROM objects WHERE rowid IN (SELECT rowid FROM objects");
        push_filters(&mut q, query);
        push_order(&mut q, query);
        q.push(" LIMIT ");
        q.push_bind(i64::from(query.page.size));
        q.push(" OFFSET ");
        q.push_bind(i64::try_from(query.page.offset()).unwrap_or(i64::MAX));
        q.push(")");
        let page: String = q.build_query_scalar().fetch_one(&mut *conn).await?;
        let items = decode_array(&page)?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn write(&self, mut write: Write) -> Result<Object, StoreError> {
        if let Some(actor) = crate::audit::current() {
            write
                .annotations
                .insert(crate::audit::MODIFIED_BY.to_owned(), actor);
        }
        let mut tx = self.writer.begin().await?;
        check_fence(&mut tx, write.fence.as_ref()).await?;
        for parent in &write.requires {
            if !exists(&mut tx, parent).await? {
                return Err(StoreError::MissingParent(parent.clone()));
            }
        }
        let existing = fetch(&mut tx, &write.key).await?;
        let now = Timestamp::now().to_string();
        let labels = serde_json::to_string(&write.labels).map_err(corrupt)?;
        let annotations = serde_json::to_string(&write.annotations).map_err(corrupt)?;
        let spec = serde_json::to_string(&write.spec).map_err(corrupt)?;
        let uid = match (&existing, write.mode) {
            (Some(_), WriteMode::Create) => return Err(StoreError::AlreadyExists(write.key)),
            (None, WriteMode::Update { .. }) => return Err(StoreError::NotFound(write.key)),
            (Some(current), mode) => {
                if let WriteMode::Update { expected_version } = mode {
                    current.check_version(expected_version)?;
                }
                let status = match &write.status {
                    Some(s) => serde_json::to_string(s).map_err(corrupt)?,
                    None => serde_json::to_string(&current.object.status).map_err(corrupt)?,
                };
                let uid = current.object.meta.uid.to_string();
                sqlx::query(
                    "UPDATE objects SET resource_version = resource_version + 1, \
                     spec_version = resource_version + 1, generation = ?, updated_at = ?, \
                     labels = ?, annotations = ?, spec = ?, status = ? WHERE uid = ?",
                )
                .bind(current.next_generation(&write.spec))
                .bind(&now)
                .bind(&labels)
                .bind(&annotations)
                .bind(&spec)
                .bind(&status)
                .bind(&uid)
                .execute(&mut *tx)
                .await?;
                uid
            }
            (None, _) => {
                let uid = Uuid::new_v4().to_string();
                let status = serde_json::to_string(write.status.as_ref().unwrap_or(&Value::Null))
                    .map_err(corrupt)?;
                sqlx::query(
                    "INSERT INTO objects (org, kind, scope, name, uid, resource_version, \
                     generation, spec_version, created_at, updated_at, labels, annotations, \
                     spec, status) VALUES (?, ?, ?, ?, ?, 1, 1, 1, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&write.key.org)
                .bind(write.key.kind.storage_id())
                .bind(&write.key.scope)
                .bind(&write.key.name)
                .bind(&uid)
                .bind(&now)
                .bind(&now)
                .bind(&labels)
                .bind(&annotations)
                .bind(&spec)
                .bind(&status)
                .execute(&mut *tx)
                .await?;
                uid
            }
        };
        if let Some(secret) = &write.secret {
            let sealed = self.sealer.seal(&uid, secret)?;
            sqlx::query("UPDATE objects SET sealed = ? WHERE uid = ?")
                .bind(sealed)
                .bind(&uid)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM refs WHERE from_uid = ?")
            .bind(&uid)
            .execute(&mut *tx)
            .await?;
        for target in &write.refs {
            sqlx::query(
                "INSERT OR IGNORE INTO refs (from_uid, org, kind, scope, name) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&uid)
            .bind(&target.org)
            .bind(target.kind.storage_id())
            .bind(&target.scope)
            .bind(&target.name)
            .execute(&mut *tx)
            .await?;
        }
        let stored = fetch(&mut tx, &write.key)
            .await?
            .ok_or_else(|| StoreError::Corrupt("written row vanished".into()))?
            .object;
        tx.commit().await?;
        self.cache.change(|objects| {
            // Only what is read is cached; a write refreshes a cached copy.
            if let Some(cached) = objects.get_mut(&stored.key) {
                *cached = stored.clone();
            }
        });
        Ok(stored)
    }

    async fn put_status(
        &self,
        key: &ObjectKey,
        check: Option<VersionCheck>,
        status: Value,
        fence: Option<&Fence>,
    ) -> Result<Object, StoreError> {
        let mut tx = self.writer.begin().await?;
        check_fence(&mut tx, fence).await?;
        let current = fetch(&mut tx, key)
            .await?
            .ok_or_else(|| StoreError::NotFound(key.clone()))?;
        if let Some(check) = check {
            current.check(check)?;
        }
        sqlx::query(
            "UPDATE objects SET resource_version = resource_version + 1, updated_at = ?, \
             status = ? WHERE uid = ?",
        )
        .bind(Timestamp::now().to_string())
        .bind(serde_json::to_string(&status).map_err(corrupt)?)
        .bind(current.object.meta.uid.to_string())
        .execute(&mut *tx)
        .await?;
        let stored = fetch(&mut tx, key)
            .await?
            .ok_or_else(|| StoreError::Corrupt("written row vanished".into()))?
            .object;
        tx.commit().await?;
        self.cache.change(|objects| {
            // Only what is read is cached; a write refreshes a cached copy.
            if let Some(cached) = objects.get_mut(&stored.key) {
                *cached = stored.clone();
            }
        });
        Ok(stored)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let sql = Dialect::Sqlite.acquire_sql();
        Ok(sqlx::query_scalar(&sql)
            .bind(name)
            .bind(holder)
            .bind(crate::ttl_ms(ttl))
            .fetch_optional(&self.writer)
            .await?)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let sql = Dialect::Sqlite.release_sql();
        sqlx::query(&sql)
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete(&self, delete: Delete) -> Result<Option<Object>, StoreError> {
        let mut tx = self.writer.begin().await?;
        check_fence(&mut tx, delete.fence.as_ref()).await?;
        let Some(current) = fetch(&mut tx, &delete.key).await? else {
            return Ok(None);
        };
        current.check_version(delete.expected_version)?;
        let current = current.object;
        let mut blockers = Vec::new();
        for (kind, scope) in &delete.must_be_empty {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM objects WHERE org = ? AND kind = ? AND scope = ?",
            )
            .bind(&delete.key.org)
            .bind(kind.storage_id())
            .bind(scope)
            .fetch_one(&mut *tx)
            .await?;
            if n > 0 {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM objects WHERE org = ? AND kind = ? AND scope = ? \
                     ORDER BY name LIMIT 5",
                )
                .bind(&delete.key.org)
                .bind(kind.storage_id())
                .bind(scope)
                .fetch_all(&mut *tx)
                .await?;
                blockers.push(format!("{n} {kind}(s) ({})", names.join(", ")));
            }
        }
        if delete.refuse_if_referenced {
            let users: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT o.kind, o.scope, o.name FROM refs r JOIN objects o ON o.uid = r.from_uid \
                 WHERE r.org = ? AND r.kind = ? AND r.scope = ? AND r.name = ? \
                 ORDER BY o.kind, o.scope, o.name LIMIT 5",
            )
            .bind(&delete.key.org)
            .bind(delete.key.kind.storage_id())
            .bind(&delete.key.scope)
            .bind(&delete.key.name)
            .fetch_all(&mut *tx)
            .await?;
            for (kind, scope, name) in users {
                let kind = Kind::from_storage_id(&kind)
                    .map(|k| k.to_string())
                    .unwrap_or(kind);
                let place = if scope.is_empty() {
                    String::new()
                } else {
                    format!(" in '{scope}'")
                };
                blockers.push(format!("{kind} '{name}'{place}"));
            }
        }
        if !blockers.is_empty() {
            return Err(StoreError::Blocked(format!(
                "{} '{}' cannot be deleted while it is in use: {}",
                delete.key.kind,
                delete.key.name,
                blockers.join("; ")
            )));
        }
        for (kind, scope) in &delete.cascade {
            sqlx::query("DELETE FROM objects WHERE org = ? AND kind = ? AND scope = ?")
                .bind(&delete.key.org)
                .bind(kind.storage_id())
                .bind(scope)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM objects WHERE uid = ?")
            .bind(current.meta.uid.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.cache.change(|objects| {
            objects.remove(&delete.key);
            if !delete.cascade.is_empty() {
                objects.retain(|k, _| {
                    !(k.org == delete.key.org
                        && delete
                            .cascade
                            .iter()
                            .any(|(kind, scope)| k.kind == *kind && k.scope == *scope))
                });
            }
        });
        Ok(Some(current))
    }

    async fn referrers(
        &self,
        target: &ObjectKey,
        from: Kind,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT o.org, o.scope, o.name FROM refs r JOIN objects o ON o.uid = r.from_uid \
             WHERE r.org = ? AND r.kind = ? AND r.scope = ? AND r.name = ? AND o.kind = ? \
             ORDER BY o.scope, o.name",
        )
        .bind(&target.org)
        .bind(target.kind.storage_id())
        .bind(&target.scope)
        .bind(&target.name)
        .bind(from.storage_id())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(org, scope, name)| ObjectKey {
                org,
                kind: from,
                scope,
                name,
            })
            .collect())
    }

    async fn keys(&self, kind: Kind) -> Result<Vec<ObjectKey>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT org, scope, name FROM objects WHERE kind = ? ORDER BY org, scope, name",
        )
        .bind(kind.storage_id())
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(org, scope, name)| ObjectKey {
                org,
                kind,
                scope,
                name,
            })
            .collect())
    }

    async fn secret_data(&self, key: &ObjectKey) -> Result<Option<SecretData>, StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT uid, sealed FROM objects WHERE org = ? AND kind = ? AND scope = ? AND name = ?",
        )
        .bind(&key.org)
        .bind(key.kind.storage_id())
        .bind(&key.scope)
        .bind(&key.name)
        .fetch_optional(&self.readers)
        .await?;
        match row {
            Some((uid, Some(sealed))) => self.sealer.unseal(&uid, &sealed).map(Some),
            Some((_, None)) => Ok(Some(SecretData::default())),
            None => Ok(None),
        }
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use drey_model::object::DEFAULT_ORG;
    use serde_json::json;

    async fn store(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&dir.path().join("t.db"), Sealer::from_key(&[1; 32]))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reads_see_every_committed_write() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let env = ObjectKey::global(DEFAULT_ORG, Kind::Environment, "envx");
        let app = ObjectKey::in_env(DEFAULT_ORG, Kind::Application, "envx", "appx");
        let event = ObjectKey::in_app(DEFAULT_ORG, Kind::Event, "envx", "appx", "ev1");
        s.write(Write::new(env.clone(), WriteMode::Create, json!({})))
            .await
            .unwrap();
        s.write(Write::new(app.clone(), WriteMode::Create, json!({"v": 1})))
            .await
            .unwrap();
        s.write(Write::new(event.clone(), WriteMode::Create, json!({})))
            .await
            .unwrap();
        // Fill the cache, then change the object in every way.
        assert_eq!(s.get(&app).await.unwrap().unwrap().spec, json!({"v": 1}));
        assert!(s.get(&event).await.unwrap().is_some());
        let mut w = Write::new(app.clone(), WriteMode::Upsert, json!({"v": 2}));
        w.status = Some(json!({"s": 1}));
        s.write(w).await.unwrap();
        let got = s.get(&app).await.unwrap().unwrap();
        assert_eq!(
            (got.spec.clone(), got.meta.resource_version),
            (json!({"v": 2}), 2)
        );
        s.write_status(&app, Some(2), json!({"s": 2}))
            .await
            .unwrap();
        assert_eq!(s.get(&app).await.unwrap().unwrap().status, json!({"s": 2}));
        let mut delete = Delete::new(app.clone());
        delete.cascade = vec![(Kind::Event, "envx/appx".into())];
        s.delete(delete).await.unwrap();
        assert!(s.get(&app).await.unwrap().is_none());
        assert!(
            s.get(&event).await.unwrap().is_none(),
            "cascaded children leave the cache"
        );
        // A stale version is refused.
        s.write(Write::new(app.clone(), WriteMode::Create, json!({})))
            .await
            .unwrap();
        let stale = s.write_status(&app, Some(7), json!({})).await;
        assert!(matches!(stale, Err(StoreError::VersionConflict { .. })));
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

    fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
        matches!(result, Err(StoreError::VersionConflict { .. }))
    }

    #[tokio::test]
    async fn generation_counts_spec_changes_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let env = ObjectKey::global(DEFAULT_ORG, Kind::Environment, "gen");
        let created = s
            .write(Write::new(env.clone(), WriteMode::Create, json!({"a": 1})))
            .await
            .unwrap();
        assert_eq!(
            (created.meta.resource_version, created.meta.generation),
            (1, 1)
        );
        let same = s.write(update(&env, None, json!({"a": 1}))).await.unwrap();
        assert_eq!((same.meta.resource_version, same.meta.generation), (2, 1));
        let status = s.write_status(&env, None, json!({"s": 1})).await.unwrap();
        assert_eq!(
            (status.meta.resource_version, status.meta.generation),
            (3, 1)
        );
        let changed = s
            .write(Write::new(env.clone(), WriteMode::Upsert, json!({"a": 2})))
            .await
            .unwrap();
        assert_eq!(
            (changed.meta.resource_version, changed.meta.generation),
            (4, 2)
        );
        let listed = s
            .list(&ListQuery {
                org: DEFAULT_ORG.into(),
                kind: Kind::Environment,
                scope: None,
                filters: Vec::new(),
                page: drey_model::PageRequest::default(),
            })
            .await
            .unwrap();
        assert_eq!(
            listed.items[0].meta.generation, 2,
            "lists carry the generation"
        );
        assert_eq!(s.get(&env).await.unwrap().unwrap(), changed);
    }

    #[tokio::test]
    async fn status_writes_never_conflict_with_user_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir).await;
        let env = ObjectKey::global(DEFAULT_ORG, Kind::Environment, "rule");
        let read = s
            .write(Write::new(env.clone(), WriteMode::Create, json!({"a": 1})))
            .await
            .unwrap()
            .meta
            .resource_version;
        // Two status writes by reconcilers that both read version 1.
        s.write_status(&env, Some(read), json!({"s": 1}))
            .await
            .unwrap();
        s.write_status(&env, Some(read), json!({"s": 2}))
            .await
            .unwrap();
        // The user read version 1 too; the status writes since are no conflict.
        let user = s
            .write(update(&env, Some(read), json!({"a": 2})))
            .await
            .unwrap();
        assert_eq!(user.meta.resource_version, 4);
        assert_eq!(
            user.status,
            json!({"s": 2}),
            "a user write keeps the status"
        );
        // Now every writer that read before the user's write must re-read.
        assert!(is_conflict(
            s.write_status(&env, Some(read), json!({"s": 3})).await
        ));
        assert!(is_conflict(
            s.write(update(&env, Some(3), json!({"a": 3}))).await
        ));
        assert!(
            is_conflict(s.write(update(&env, Some(5), json!({"a": 3}))).await),
            "a version from the future is a conflict"
        );
        // After a re-read, status writes go through, and so does a user
        // write that read before them.
        s.write_status(&env, Some(4), json!({"s": 3}))
            .await
            .unwrap();
        s.write(update(&env, Some(4), json!({"a": 3})))
            .await
            .unwrap();
        let mut stale = Delete::new(env.clone());
        stale.expected_version = Some(4);
        assert!(is_conflict(s.delete(stale).await), "a user wrote at 6");
        s.write_status(&env, Some(6), json!({"s": 4}))
            .await
            .unwrap();
        let mut delete = Delete::new(env.clone());
        delete.expected_version = Some(6);
        assert!(s.delete(delete).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn rows_from_before_the_rule_keep_exact_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let first = dir.path().join("first");
        std::fs::create_dir(&first).unwrap();
        std::fs::write(
            first.join("0001_objects.sql"),
            include_str!("../migrations/sqlite/0001_objects.sql"),
        )
        .unwrap();
        {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            sqlx::migrate::Migrator::new(first.as_path())
                .await
                .unwrap()
                .run(&pool)
                .await
                .unwrap();
            let now = Timestamp::now().to_string();
            sqlx::query(
                "INSERT INTO objects VALUES ('default', 'environment', '', 'old', ?, 5, ?, ?, \
                 '{}', '{}', '{\"a\":1}', 'null', NULL)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(&now)
            .bind(&now)
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let s = SqliteStore::open(&path, Sealer::from_key(&[1; 32]))
            .await
            .unwrap();
        let old = ObjectKey::global(DEFAULT_ORG, Kind::Environment, "old");
        let got = s.get(&old).await.unwrap().unwrap();
        assert_eq!((got.meta.resource_version, got.meta.generation), (5, 1));
        assert!(is_conflict(
            s.write(update(&old, Some(4), json!({"a": 2}))).await
        ));
        let written = s
            .write(update(&old, Some(5), json!({"a": 2})))
            .await
            .unwrap();
        assert_eq!(
            (written.meta.resource_version, written.meta.generation),
            (6, 2)
        );
    }
}
