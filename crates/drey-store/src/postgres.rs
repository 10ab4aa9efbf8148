//! The PostgreSQL backend, for several drey replicas sharing one database.
//! It keeps the SQLite store's schema shape and behaviour. What SQLite gets
//! from its single writer this gets from row locks inside each transaction: a
//! write locks the objects it requires or refers to (`FOR KEY SHARE`: they
//! may change, not vanish) and its own row; a delete locks its row
//! (`FOR UPDATE`) before it counts children or referrers. So a race between replicas can neither orphan a child nor lose
//! an update. There is no read cache: another replica may have written.

use crate::lease::{self, Dialect, Fence};
use crate::row::{ObjectRow, COLUMNS};
use crate::{
    Change, Delete, ListQuery, Sealer, SecretData, Store, StoreError, Stored, VersionCheck, Write,
    WriteMode,
};
use async_trait::async_trait;
use drey_model::page::{SortDirection, SortKey};
use drey_model::{Kind, Object, ObjectKey, Page, Timestamp};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Connections per replica. PostgreSQL's default limit is 100 in all.
const MAX_CONNECTIONS: u32 = 10;

/// How long a start waits for an unreachable database server.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// How often a write retries when a concurrent create or delete of the same
/// key keeps racing with it.
const WRITE_ATTEMPTS: usize = 3;

/// The PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    sealer: Sealer,
    location: String,
    /// What other replicas write, heard through `LISTEN`.
    changes: tokio::sync::broadcast::Sender<Change>,
}

/// The channel writes are announced on (`NOTIFY`), with the key as payload.
const CHANGES_CHANNEL: &str = "drey_changes";

/// How many announced changes may wait for a slow listener.
const CHANGES_BACKLOG: usize = 1024;

impl PostgresStore {
    /// Connects to `url` (`postgres://USER:PASS@HOST:PORT/DB`) and migrates
    /// the database. Replicas starting together migrate once: sqlx holds an
    /// advisory lock while it migrates.
    pub async fn connect(url: &str, sealer: Sealer) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?;
        let location = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        wait_for_server(&options, &location).await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to {location}: {e}")))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let changes = tokio::sync::broadcast::channel(CHANGES_BACKLOG).0;
        let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot LISTEN on {location}: {e}")))?;
        listener.listen(CHANGES_CHANNEL).await?;
        tokio::spawn(hear_changes(pool.clone(), listener, changes.clone()));
        Ok(PostgresStore {
            pool,
            sealer,
            location,
            changes,
        })
    }

    /// `host:port/database`, for logs (never the password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Passes on what other replicas announce. When the connection drops,
/// sqlx reconnects at the next receive; what was announced meanwhile is
/// lost, so listeners hear [`Change::Unknown`] and look at everything.
async fn hear_changes(
    pool: PgPool,
    mut listener: sqlx::postgres::PgListener,
    changes: tokio::sync::broadcast::Sender<Change>,
) {
    loop {
        let change = match listener.try_recv().await {
            Ok(Some(notification)) => match decode_key(notification.payload()) {
                Some(key) => Change::Object(key),
                None => Change::Unknown,
            },
            Ok(None) => Change::Unknown,
            Err(e) => {
                tracing::warn!(error = %e, "lost the PostgreSQL change listener; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Change::Unknown
            }
        };
        if pool.is_closed() {
            return;
        }
        // Nobody listening yet is fine.
        let _ = changes.send(change);
    }
}

/// The `NOTIFY` payload of a key: its four parts, tab-separated (no part
/// may hold a tab: names are DNS-like).
fn encode_key(key: &ObjectKey) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        key.org,
        key.kind.storage_id(),
        key.scope,
        key.name
    )
}

/// Inverse of [`encode_key`].
fn decode_key(payload: &str) -> Option<ObjectKey> {
    let mut parts = payload.split('\t');
    let (org, kind, scope, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some(ObjectKey {
        org: org.to_owned(),
        kind: Kind::from_storage_id(kind)?,
        scope: scope.to_owned(),
        name: name.to_owned(),
    })
}

/// Announces a write to the other replicas when the transaction commits.
async fn announce(conn: &mut PgConnection, key: &ObjectKey) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(encode_key(key))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Fails with [`StoreError::Fenced`] unless `fence` (if any) still holds,
/// share-locking the lease row until the transaction ends.
async fn check_fence(conn: &mut PgConnection, fence: Option<&Fence>) -> Result<(), StoreError> {
    let Some(fence) = fence else {
        return Ok(());
    };
    let sql = Dialect::Postgres.fence_sql();
    let held: Option<i64> = sqlx::query_scalar(&sql)
        .bind(&fence.lease)
        .bind(&fence.holder)
        .bind(fence.epoch)
        .fetch_optional(&mut *conn)
        .await?;
    held.map(|_| ()).ok_or_else(|| lease::fenced(fence))
}

/// How [`fetch`] locks the row it reads, until the transaction ends.
#[derive(Clone, Copy)]
enum Lock {
    /// A plain read.
    None,
    /// For a write of the row: other writers wait; writers of its children don't.
    Write,
    /// For a delete: everyone that locks the row waits, writers of children too.
    Delete,
}

/// Connects once, retrying for [`CONNECT_WAIT`] while the server cannot be
/// reached (it may still be starting), so a start fails with the real cause:
/// a refused connection, or at once a wrong password or database name.
async fn wait_for_server(options: &PgConnectOptions, location: &str) -> Result<(), StoreError> {
    let deadline = Instant::now() + CONNECT_WAIT;
    loop {
        match PgConnection::connect_with(options).await {
            Ok(conn) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
                if Instant::now() < deadline =>
            {
                tracing::info!(%location, error = %e, "waiting for PostgreSQL");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot connect to {location}: {e}"
                )))
            }
        }
    }
}

/// Reads one object, locking its row as `lock` says.
async fn fetch(
    conn: &mut PgConnection,
    key: &ObjectKey,
    lock: Lock,
) -> Result<Option<Stored>, StoreError> {
    let clause = match lock {
        Lock::None => "",
        Lock::Write => " FOR NO KEY UPDATE",
        Lock::Delete => " FOR UPDATE",
    };
    let row: Option<ObjectRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM objects \
         WHERE org = $1 AND kind = $2 AND scope = $3 AND name = $4{clause}"
    ))
    .bind(&key.org)
    .bind(key.kind.storage_id())
    .bind(&key.scope)
    .bind(&key.name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(ObjectRow::decode).transpose()
}

/// Whether the object exists, keeping it from being deleted until the
/// transaction ends.
async fn lock_shared(conn: &mut PgConnection, key: &ObjectKey) -> Result<bool, StoreError> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM objects WHERE org = $1 AND kind = $2 AND scope = $3 AND name = $4 \
         FOR KEY SHARE",
    )
    .bind(&key.org)
    .bind(key.kind.storage_id())
    .bind(&key.scope)
    .bind(&key.name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// `(column, path)` of a field path: `["status", ..]` reads the status, anything
/// else the spec (as on SQLite).
fn field(path: &[String]) -> (&'static str, Vec<String>) {
    match path.split_first() {
        Some((root, rest)) if root == "status" => ("status", rest.to_vec()),
        Some((_, rest)) => ("spec", rest.to_vec()),
        None => ("spec", Vec::new()),
    }
}

fn push_filters<'a>(q: &mut QueryBuilder<'a, Postgres>, query: &'a ListQuery) {
    q.push(" WHERE org = ");
    q.push_bind(&query.org);
    q.push(" AND kind = ");
    q.push_bind(query.kind.storage_id());
    if let Some(scope) = &query.scope {
        q.push(" AND scope = ");
        q.push_bind(scope);
    }
    for filter in &query.filters {
        let (column, path) = field(&filter.path);
        q.push(format!(" AND drey_field_text({column}, "));
        q.push_bind(path);
        q.push(") = ");
        q.push_bind(&filter.equals);
    }
}

fn push_order<'a>(q: &mut QueryBuilder<'a, Postgres>, query: &'a ListQuery) {
    q.push(" ORDER BY ");
    for order in &query.page.sort {
        let direction = match order.direction {
            SortDirection::Asc => " ASC, ",
            SortDirection::Desc => " DESC, ",
        };
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
            SortKey::Field(path) => {
                // SQLite's order of json_extract values: NULL, then numbers,
                // then text (byte-wise).
                let (column, path) = field(path);
                for function in ["drey_field_rank", "drey_field_number"] {
                    q.push(format!("{function}({column}, "));
                    q.push_bind(path.clone());
                    q.push(")");
                    q.push(direction);
                }
                q.push(format!("drey_field_text({column}, "));
                q.push_bind(path);
                q.push(") COLLATE \"C\"");
            }
        }
        q.push(direction);
    }
    q.push("scope ASC, name ASC");
}

#[async_trait]
impl Store for PostgresStore {
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(fetch(&mut conn, key, Lock::None).await?.map(|s| s.object))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<Object>, StoreError> {
        // One transaction, so the count and the page see the same snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM objects");
        push_filters(&mut count, query);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let mut q = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM objects"));
        push_filters(&mut q, query);
        push_order(&mut q, query);
        q.push(" LIMIT ");
        q.push_bind(i64::from(query.page.size));
        q.push(" OFFSET ");
        q.push_bind(i64::try_from(query.page.offset()).unwrap_or(i64::MAX));
        let rows: Vec<ObjectRow> = q.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(|row| row.decode().map(|s| s.object))
            .collect::<Result<Vec<_>, _>>()?;
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
        let mut tx = self.pool.begin().await?;
        check_fence(&mut tx, write.fence.as_ref()).await?;
        for parent in &write.requires {
            if !lock_shared(&mut tx, parent).await? {
                return Err(StoreError::MissingParent(parent.clone()));
            }
        }
        // A delete of a target waits for this write, then sees its refs.
        for target in &write.refs {
            lock_shared(&mut tx, target).await?;
        }
        let now = Timestamp::now().to_string();
        let labels = serde_json::to_string(&write.labels).map_err(corrupt)?;
        let annotations = serde_json::to_string(&write.annotations).map_err(corrupt)?;
        let spec = serde_json::to_string(&write.spec).map_err(corrupt)?;
        let mut uid = None;
        for _ in 0..WRITE_ATTEMPTS {
            let existing = fetch(&mut tx, &write.key, Lock::Write).await?;
            match (&existing, write.mode) {
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
                    let id = current.object.meta.uid.to_string();
                    sqlx::query(
                        "UPDATE objects SET resource_version = resource_version + 1, \
                         spec_version = resource_version + 1, generation = $1, updated_at = $2, \
                         labels = $3, annotations = $4, spec = $5, status = $6 WHERE uid = $7",
                    )
                    .bind(current.next_generation(&write.spec))
                    .bind(&now)
                    .bind(&labels)
                    .bind(&annotations)
                    .bind(&spec)
                    .bind(&status)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    uid = Some(id);
                    break;
                }
                (None, mode) => {
                    let id = Uuid::new_v4().to_string();
                    let status =
                        serde_json::to_string(write.status.as_ref().unwrap_or(&Value::Null))
                            .map_err(corrupt)?;
                    // A concurrent create of the same key makes this insert
                    // wait for it, then do nothing.
                    let inserted = sqlx::query(
                        "INSERT INTO objects (org, kind, scope, name, uid, resource_version, \
                         generation, spec_version, created_at, updated_at, labels, annotations, \
                         spec, status) VALUES ($1, $2, $3, $4, $5, 1, 1, 1, $6, $6, $7, $8, $9, $10) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&write.key.org)
                    .bind(write.key.kind.storage_id())
                    .bind(&write.key.scope)
                    .bind(&write.key.name)
                    .bind(&id)
                    .bind(&now)
                    .bind(&labels)
                    .bind(&annotations)
                    .bind(&spec)
                    .bind(&status)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        uid = Some(id);
                        break;
                    }
                    if mode == WriteMode::Create {
                        return Err(StoreError::AlreadyExists(write.key));
                    }
                    // An upsert lost the race: the next statement sees the
                    // committed row and updates it.
                }
            }
        }
        let uid = uid.ok_or_else(|| {
            StoreError::Unavailable(format!(
                "{} '{}' kept being created and deleted concurrently",
                write.key.kind, write.key.name
            ))
        })?;
        if let Some(secret) = &write.secret {
            let sealed = self.sealer.seal(&uid, secret)?;
            sqlx::query("UPDATE objects SET sealed = $1 WHERE uid = $2")
                .bind(sealed)
                .bind(&uid)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM refs WHERE from_uid = $1")
            .bind(&uid)
            .execute(&mut *tx)
            .await?;
        for target in &write.refs {
            sqlx::query(
                "INSERT INTO refs (from_uid, org, kind, scope, name) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&uid)
            .bind(&target.org)
            .bind(target.kind.storage_id())
            .bind(&target.scope)
            .bind(&target.name)
            .execute(&mut *tx)
            .await?;
        }
        let stored = fetch(&mut tx, &write.key, Lock::None)
            .await?
            .ok_or_else(|| StoreError::Corrupt("written row vanished".into()))?
            .object;
        announce(&mut tx, &write.key).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn put_status(
        &self,
        key: &ObjectKey,
        check: Option<VersionCheck>,
        status: Value,
        fence: Option<&Fence>,
    ) -> Result<Object, StoreError> {
        let mut tx = self.pool.begin().await?;
        check_fence(&mut tx, fence).await?;
        let current = fetch(&mut tx, key, Lock::Write)
            .await?
            .ok_or_else(|| StoreError::NotFound(key.clone()))?;
        if let Some(check) = check {
            current.check(check)?;
        }
        sqlx::query(
            "UPDATE objects SET resource_version = resource_version + 1, updated_at = $1, \
             status = $2 WHERE uid = $3",
        )
        .bind(Timestamp::now().to_string())
        .bind(serde_json::to_string(&status).map_err(corrupt)?)
        .bind(current.object.meta.uid.to_string())
        .execute(&mut *tx)
        .await?;
        let stored = fetch(&mut tx, key, Lock::None)
            .await?
            .ok_or_else(|| StoreError::Corrupt("written row vanished".into()))?
            .object;
        tx.commit().await?;
        Ok(stored)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let sql = Dialect::Postgres.acquire_sql();
        Ok(sqlx::query_scalar(&sql)
            .bind(name)
            .bind(holder)
            .bind(crate::ttl_ms(ttl))
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let sql = Dialect::Postgres.release_sql();
        sqlx::query(&sql)
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        Some(self.changes.subscribe())
    }

    fn shared(&self) -> bool {
        true
    }

    async fn delete(&self, delete: Delete) -> Result<Option<Object>, StoreError> {
        let mut tx = self.pool.begin().await?;
        check_fence(&mut tx, delete.fence.as_ref()).await?;
        let Some(current) = fetch(&mut tx, &delete.key, Lock::Delete).await? else {
            return Ok(None);
        };
        current.check_version(delete.expected_version)?;
        let current = current.object;
        let mut blockers = Vec::new();
        for (kind, scope) in &delete.must_be_empty {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM objects WHERE org = $1 AND kind = $2 AND scope = $3",
            )
            .bind(&delete.key.org)
            .bind(kind.storage_id())
            .bind(scope)
            .fetch_one(&mut *tx)
            .await?;
            if n > 0 {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM objects WHERE org = $1 AND kind = $2 AND scope = $3 \
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
                 WHERE r.org = $1 AND r.kind = $2 AND r.scope = $3 AND r.name = $4 \
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
            sqlx::query("DELETE FROM objects WHERE org = $1 AND kind = $2 AND scope = $3")
                .bind(&delete.key.org)
                .bind(kind.storage_id())
                .bind(scope)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM objects WHERE uid = $1")
            .bind(current.meta.uid.to_string())
            .execute(&mut *tx)
            .await?;
        announce(&mut tx, &delete.key).await?;
        tx.commit().await?;
        Ok(Some(current))
    }

    async fn referrers(
        &self,
        target: &ObjectKey,
        from: Kind,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT o.org, o.scope, o.name FROM refs r JOIN objects o ON o.uid = r.from_uid \
             WHERE r.org = $1 AND r.kind = $2 AND r.scope = $3 AND r.name = $4 AND o.kind = $5 \
             ORDER BY o.scope, o.name",
        )
        .bind(&target.org)
        .bind(target.kind.storage_id())
        .bind(&target.scope)
        .bind(&target.name)
        .bind(from.storage_id())
        .fetch_all(&self.pool)
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
            "SELECT org, scope, name FROM objects WHERE kind = $1 ORDER BY org, scope, name",
        )
        .bind(kind.storage_id())
        .fetch_all(&self.pool)
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
            "SELECT uid, sealed FROM objects \
             WHERE org = $1 AND kind = $2 AND scope = $3 AND name = $4",
        )
        .bind(&key.org)
        .bind(key.kind.storage_id())
        .bind(&key.scope)
        .bind(&key.name)
        .fetch_optional(&self.pool)
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
