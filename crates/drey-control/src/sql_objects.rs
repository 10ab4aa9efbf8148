//! An environment's SQL catalog, kept by drey: every table, view, function
//! and database a statement created is stored as the DDL that recreates it,
//! and replayed into each new SQL session of the environment. So objects
//! outlive the SQL engine and drey itself, and `DROP` removes them for good.

use crate::access::{Need, Scope};
use crate::{store_error, Core};
use drey_model::sql::{CatalogChange, ChangeAction, SqlObjectId};
use drey_model::{Error, Kind, ObjectKey, PageRequest, SortDirection, SortKey, SortOrder};
use drey_store::{Delete, ListQuery, Write, WriteMode};
use serde_json::{json, Value};

fn object_key(org: &str, env: &str, id: &SqlObjectId) -> ObjectKey {
    ObjectKey::in_env(org, Kind::SqlObject, env, &id.storage_name())
}

impl Core {
    /// The DDL that rebuilds the environment's catalog, in the order it was
    /// first run.
    pub async fn sql_catalog(&self, org: &str, env: &str) -> Result<Vec<String>, Error> {
        let objects = self.sql_catalog_objects(org, env).await?;
        Ok(objects.into_iter().map(|(_, ddl)| ddl).collect())
    }

    /// Each object of the environment's catalog (its stored name, e.g.
    /// `function:default_catalog.default_database.f`) with its DDL.
    pub(crate) async fn sql_catalog_objects(
        &self,
        org: &str,
        env: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        Ok(self
            .sql_objects(org, env)
            .await?
            .iter()
            .flat_map(|object| {
                ddl_of(object)
                    .map(|ddl| (object.key.name.clone(), ddl.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// The environment's SQL objects, oldest first.
    async fn sql_objects(&self, org: &str, env: &str) -> Result<Vec<drey_model::Object>, Error> {
        let mut all = Vec::new();
        let mut page = 0;
        loop {
            let items = self
                .store
                .list(&ListQuery {
                    org: org.to_owned(),
                    kind: Kind::SqlObject,
                    scope: Some(env.to_owned()),
                    filters: vec![],
                    page: PageRequest {
                        page,
                        size: 500,
                        sort: vec![SortOrder {
                            key: SortKey::CreationTime,
                            direction: SortDirection::Asc,
                        }],
                    },
                })
                .await
                .map_err(store_error)?;
            let last = items.items.len() < 500;
            all.extend(items.items);
            if last {
                return Ok(all);
            }
            page += 1;
        }
    }

    /// The paths (`[catalog, database, table]`) of the tables of the
    /// environment's catalog whose options give `value` under one of `keys`
    /// (`connector`; `format`, `key.format`, `value.format`), read from the
    /// DDL drey keeps: a `CREATE TABLE`'s `WITH` and later `ALTER ... SET`s.
    pub async fn sql_tables_using(
        &self,
        org: &str,
        env: &str,
        keys: &[&str],
        value: &str,
    ) -> Result<Vec<Vec<String>>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let mut found = Vec::new();
        for object in self.sql_objects(org, env).await? {
            let Some(id) = object_id(&object.spec).filter(|id| id.kind == "table") else {
                continue;
            };
            let mut options = std::collections::BTreeMap::new();
            for ddl in ddl_of(&object) {
                options.extend(drey_model::sql_options::table_options(ddl));
            }
            if keys
                .iter()
                .any(|k| options.get(*k).is_some_and(|v| v == value))
            {
                found.push(id.path);
            }
        }
        Ok(found)
    }

    /// Records a DDL statement the engine accepted.
    pub async fn record_catalog_change(
        &self,
        org: &str,
        env: &str,
        change: &CatalogChange,
        sql: &str,
    ) -> Result<(), Error> {
        let key = object_key(org, env, &change.object);
        let existing = self.store.get(&key).await.map_err(store_error)?;
        let sql = sql.trim().trim_end_matches(';').to_owned();
        match &change.action {
            ChangeAction::Create { if_not_exists, .. } => {
                if *if_not_exists && existing.is_some() {
                    return Ok(());
                }
                // CREATE OR REPLACE starts the object's history afresh.
                self.put_object(key, &change.object, vec![sql]).await
            }
            ChangeAction::Drop { cascade } => {
                self.store
                    .delete(Delete::new(key))
                    .await
                    .map_err(store_error)?;
                if *cascade && change.object.kind == "database" {
                    for key in self
                        .store
                        .keys(Kind::SqlObject)
                        .await
                        .map_err(store_error)?
                    {
                        if key.org != org || key.scope != env {
                            continue;
                        }
                        let Some(object) = self.store.get(&key).await.map_err(store_error)? else {
                            continue;
                        };
                        if object_id(&object.spec).is_some_and(|id| id.is_inside(&change.object)) {
                            self.store
                                .delete(Delete::new(key))
                                .await
                                .map_err(store_error)?;
                        }
                    }
                }
                Ok(())
            }
            ChangeAction::Alter { rename_to } => {
                let Some(existing) = existing else {
                    // Not created through drey (a built-in catalog object): nothing to keep.
                    return Ok(());
                };
                let mut ddl: Vec<String> = existing
                    .spec
                    .get("ddl")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                ddl.push(sql);
                match rename_to {
                    Some(to) => {
                        self.store
                            .delete(Delete::new(key))
                            .await
                            .map_err(store_error)?;
                        self.put_object(object_key(org, env, to), to, ddl).await
                    }
                    None => self.put_object(key, &change.object, ddl).await,
                }
            }
        }
    }

    async fn put_object(
        &self,
        key: ObjectKey,
        id: &SqlObjectId,
        ddl: Vec<String>,
    ) -> Result<(), Error> {
        let spec = json!({"kind": id.kind, "path": id.path, "ddl": ddl});
        self.store
            .write(Write::new(key, WriteMode::Upsert, spec))
            .await
            .map_err(store_error)
            .map(drop)
    }
}

/// The DDL statements kept for an object, in order.
fn ddl_of(object: &drey_model::Object) -> impl Iterator<Item = &str> {
    object
        .spec
        .get("ddl")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn object_id(spec: &Value) -> Option<SqlObjectId> {
    let kind = match spec.get("kind")?.as_str()? {
        "table" => "table",
        "view" => "view",
        "function" => "function",
        "database" => "database",
        _ => return None,
    };
    let path = spec
        .get("path")?
        .as_array()?
        .iter()
        .map(|p| p.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?;
    Some(SqlObjectId { kind, path })
}
