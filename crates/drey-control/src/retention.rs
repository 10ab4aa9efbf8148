//! Retention, so disk use stays bounded however many deployments there are:
//! how many savepoints an application keeps and for how long (the Flink
//! Kubernetes Operator's `kubernetes.operator.savepoint.history.*` options),
//! disposal of the files of savepoints that go, what a deleted application
//! or a torn-down deployment leaves on disk, and the jar download cache.
//!
//! The decisions are pure functions; the store and file work sits on top and
//! logs its failures instead of failing a reconcile pass (a file that could
//! not be removed now is removed by the next sweep).

use crate::{store_error, Core};
use drey_model::application::{
    configuration_text, effective_spec, SAVEPOINT_HISTORY_MAX_AGE, SAVEPOINT_HISTORY_MAX_COUNT,
};
use drey_model::application_spec::ApplicationStatus;
use drey_model::duration::parse_flink_duration;
use drey_model::loose::{typed, view};
use drey_model::object::app_scope;
use drey_model::page::{SortDirection, SortKey, SortOrder};
use drey_model::savepoint::{SavepointSpec, SavepointState, SavepointStatus};
use drey_model::{Error, Kind, Object, ObjectKey, PageRequest, Timestamp};
use drey_store::{Delete, ListQuery};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Server-wide retention settings (`drey server` flags); an application's
/// `flinkConfiguration` (with its environment's defaults) overrides the
/// savepoint limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Completed savepoints kept per application (the operator's default: 10).
    pub savepoint_history_max_count: u32,
    /// Age beyond which completed savepoints go (the operator's default: 24 h).
    pub savepoint_history_max_age: Duration,
    /// Total size of `<data-dir>/jars/downloads/`.
    pub download_cache_max_bytes: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            savepoint_history_max_count: 10,
            savepoint_history_max_age: Duration::from_secs(24 * 3600),
            download_cache_max_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// The savepoint limits of one application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Completed savepoints kept, at least 1.
    pub max_count: usize,
    /// Completed savepoints older than this go.
    pub max_age: Duration,
}

/// drey keeps at most this many savepoint records per application (see
/// `reconcile::events::KEEP`), so a larger count would drop records without
/// their files.
const MAX_COUNT_CAP: usize = 100;

impl RetentionSettings {
    /// The limits an effective application spec asks for; a value that does
    /// not parse (only possible through environment defaults, applications
    /// are validated) falls back to the server's.
    pub fn limits(&self, effective: &Value) -> Limits {
        let conf = effective
            .get("flinkConfiguration")
            .cloned()
            .unwrap_or(Value::Null);
        let max_count = configuration_text(&conf, SAVEPOINT_HISTORY_MAX_COUNT)
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(self.savepoint_history_max_count as usize)
            .clamp(1, MAX_COUNT_CAP);
        let max_age = configuration_text(&conf, SAVEPOINT_HISTORY_MAX_AGE)
            .and_then(|t| parse_flink_duration(&t))
            .unwrap_or(self.savepoint_history_max_age);
        Limits { max_count, max_age }
    }
}

/// A completed savepoint record as retention sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavepointEntry {
    /// The record's name.
    pub name: String,
    /// Where its files are (`status.path`).
    pub location: String,
    /// When it completed.
    pub completed: Timestamp,
}

/// The records to trim: beyond the `max_count` newest or older than
/// `max_age`, but never the newest one and never one whose location is in
/// `keep` (as [`location_key`]s).
pub fn to_dispose(
    entries: &[SavepointEntry],
    limits: Limits,
    now: Timestamp,
    keep: &HashSet<String>,
) -> Vec<String> {
    let mut newest_first: Vec<&SavepointEntry> = entries.iter().collect();
    newest_first.sort_by(|a, b| {
        b.completed
            .cmp(&a.completed)
            .then_with(|| b.name.cmp(&a.name))
    });
    let max_age_ms = i64::try_from(limits.max_age.as_millis()).unwrap_or(i64::MAX);
    newest_first
        .into_iter()
        .enumerate()
        .skip(1)
        .filter(|(i, e)| {
            *i >= limits.max_count || now.millis().saturating_sub(e.completed.millis()) > max_age_ms
        })
        .filter(|(_, e)| !keep.contains(&location_key(&e.location)))
        .map(|(_, e)| e.name.clone())
        .collect()
}

pub use drey_runtime::backend::local::{local_path, location_key};

/// Of `children` (the entries of one owner's savepoint or checkpoint dir),
/// those no path in `keep` lies in.
pub fn unkept_children(children: &[PathBuf], keep: &[PathBuf]) -> Vec<PathBuf> {
    children
        .iter()
        .filter(|child| !keep.iter().any(|k| k.starts_with(child)))
        .cloned()
        .collect()
}

/// Of the cached downloads (path, bytes, last use), the least recently used
/// ones to remove so that `incoming` more bytes fit in `max_bytes`; one used
/// within [`IN_USE`] of `now` is never chosen (it may be about to be uploaded).
pub fn cache_evictions(
    files: &[(PathBuf, u64, SystemTime)],
    max_bytes: u64,
    incoming: u64,
    now: SystemTime,
) -> Vec<PathBuf> {
    let mut total: u64 = files.iter().map(|(_, bytes, _)| bytes).sum();
    let mut oldest_first: Vec<&(PathBuf, u64, SystemTime)> = files.iter().collect();
    oldest_first.sort_by_key(|(path, _, used)| (*used, path.clone()));
    let mut out = Vec::new();
    for (path, bytes, used) in oldest_first {
        if total.saturating_add(incoming) <= max_bytes {
            break;
        }
        let recent = now.duration_since(*used).map_or(true, |age| age < IN_USE);
        if !recent {
            out.push(path.clone());
            total = total.saturating_sub(*bytes);
        }
    }
    out
}

/// How long after its last use a downloaded jar is never evicted.
pub const IN_USE: Duration = Duration::from_secs(10);

/// Removes every entry of `dir` no path in `keep` lies in, and `dir` itself
/// when it ends up empty.
pub fn remove_unkept(dir: &Path, keep: &[PathBuf]) {
    let Ok(dir) = dir.canonicalize() else { return };
    let children: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => return,
    };
    for child in unkept_children(&children, keep) {
        let removed = if child.is_dir() {
            std::fs::remove_dir_all(&child)
        } else {
            std::fs::remove_file(&child)
        };
        match removed {
            Ok(()) => tracing::info!(path = %child.display(), "removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %child.display(), error = %e, "cannot remove"),
        }
    }
    // Fails (and is meant to) while something is kept.
    let _ = std::fs::remove_dir(&dir);
}

/// Whether [`remove_unkept`] would remove anything from `dir`.
fn has_unkept(dir: &Path, keep: &HashSet<String>) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let children: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => return false,
    };
    !unkept_children(&children, &kept_paths(keep)).is_empty()
}

/// Local, existing, canonical paths of locations, for [`remove_unkept`].
fn kept_paths<'a>(locations: impl IntoIterator<Item = &'a String>) -> Vec<PathBuf> {
    locations
        .into_iter()
        .filter_map(|l| local_path(l)?.canonicalize().ok())
        .collect()
}

/// Marks a cached download as used now (its modification time is its last use).
pub fn mark_used(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Evicts least recently used downloads from `dir` until `incoming` more
/// bytes fit in `max_bytes` (a jar larger than the bound is still kept while
/// it is in use: the bound cannot make a deployment impossible).
pub fn make_room(dir: &Path, max_bytes: u64, incoming: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.push((entry.path(), meta.len(), used));
        }
    }
    for path in cache_evictions(&files, max_bytes, incoming, SystemTime::now()) {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "evicted a downloaded jar"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot evict"),
        }
    }
}

/// Where a savepoint record's files are.
fn location_of(savepoint: &Object) -> Option<String> {
    let spec: SavepointSpec = view(&savepoint.spec);
    view::<SavepointStatus>(&savepoint.status)
        .path
        .or_else(|| typed(&spec.path).cloned())
        .filter(|p| !p.trim().is_empty())
}

/// What an application may still restore from (as [`location_key`]s): the
/// next deployment's restore point, the current deployment's, and
/// `job.initialSavepointPath`.
pub fn restore_points(app: &Object, effective: &Value) -> HashSet<String> {
    let recorded = crate::reconcile::recorded_of(app);
    [
        recorded.restore_from,
        recorded.deployment.and_then(|d| d.restore_from),
        effective
            .pointer("/job/initialSavepointPath")
            .and_then(Value::as_str)
            .map(str::to_owned),
        view::<ApplicationStatus>(&app.status)
            .job_status
            .and_then(|j| j.upgrade_savepoint_path),
    ]
    .into_iter()
    .flatten()
    .map(|l| location_key(&l))
    .collect()
}

impl Core {
    /// The same core on data dir `dir`; savepoint files under
    /// `<dir>/savepoints/` are disposed of when their records are deleted,
    /// unless [`Core::with_state_dir`] names another place for them.
    pub fn with_data_dir(mut self, dir: PathBuf) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// The same core keeping savepoints and checkpoints under `dir`
    /// (`--state-dir`) rather than the data dir.
    pub fn with_state_dir(mut self, dir: PathBuf) -> Self {
        self.state_dir = Some(dir);
        self
    }

    /// Where savepoints and retained checkpoints are on this machine.
    pub(crate) fn state_root(&self) -> Option<&PathBuf> {
        self.state_dir.as_ref().or(self.data_dir.as_ref())
    }

    /// Locations other objects still need: every detached savepoint's, and
    /// the restore points of every application but `except`.
    async fn savepoint_references(
        &self,
        except: Option<&ObjectKey>,
    ) -> Result<HashSet<String>, Error> {
        let mut out = HashSet::new();
        for key in self
            .store
            .keys(Kind::Application)
            .await
            .map_err(store_error)?
        {
            if Some(&key) == except {
                continue;
            }
            if let Some(app) = self.store.get(&key).await.map_err(store_error)? {
                out.extend(restore_points(&app, &app.spec));
            }
        }
        let keys = self
            .store
            .keys(Kind::Savepoint)
            .await
            .map_err(store_error)?;
        for key in keys.into_iter().filter(|k| k.scope.is_empty()) {
            if let Some(savepoint) = self.store.get(&key).await.map_err(store_error)? {
                out.extend(location_of(&savepoint).map(|l| location_key(&l)));
            }
        }
        Ok(out)
    }

    /// The effective spec of an application (its environment's defaults merged in).
    async fn effective_of(&self, app: &Object) -> Result<Value, Error> {
        let env = self.environment_of(&app.key).await?;
        Ok(effective_spec(
            &app.spec,
            env.as_ref()
                .and_then(|e| e.spec.get("flinkApplicationDefaults")),
        ))
    }

    /// After a savepoint record was deleted through the API: disposes of its
    /// files unless something may still restore from them (the application's
    /// restore points, an initial savepoint path, a detached savepoint);
    /// those stay on disk until the application is deleted.
    pub(crate) async fn dispose_deleted_savepoint(&self, savepoint: &Object) {
        let (Some(root), Some(location)) = (self.state_root(), location_of(savepoint)) else {
            return;
        };
        let mut keep = match self.savepoint_references(None).await {
            Ok(keep) => keep,
            Err(e) => {
                tracing::warn!(error = %e, %location, "keeping savepoint files: cannot check their use");
                return;
            }
        };
        if let Some((env, app)) = savepoint.key.scope.split_once('/') {
            let key = ObjectKey::in_env(&savepoint.key.org, Kind::Application, env, app);
            if let Ok(Some(app)) = self.store.get(&key).await {
                if let Ok(effective) = self.effective_of(&app).await {
                    keep.extend(restore_points(&app, &effective));
                }
            }
        }
        if keep.contains(&location_key(&location)) {
            tracing::info!(%location, "keeping the files of a deleted savepoint record: an application may restore from them");
            return;
        }
        drey_runtime::backend::local::dispose_local_savepoint(&location, &root.join("savepoints"));
    }

    /// Trims an application's completed savepoints to its limits (records
    /// first, then every savepoint dir of it no record or restore point names).
    pub(crate) async fn trim_savepoints(
        &self,
        app: &ObjectKey,
        settings: &RetentionSettings,
        backend: &dyn drey_runtime::JobBackend,
    ) {
        let step = self.try_trim_savepoints(app, settings, backend);
        logged("trim savepoints", app, step).await;
    }

    async fn try_trim_savepoints(
        &self,
        app: &ObjectKey,
        settings: &RetentionSettings,
        backend: &dyn drey_runtime::JobBackend,
    ) -> Result<(), Error> {
        let Some(app) = self.store.get(app).await.map_err(store_error)? else {
            return Ok(());
        };
        let uid = app.meta.uid.to_string();
        let owner = crate::reconcile::state_owner(&app.key, &uid);
        // Where the files are on this machine, savepoint dirs no record
        // names are found and removed too.
        let savepoint_dir = backend.local_state_dirs(&owner).map(|d| d.savepoints);
        let effective = self.effective_of(&app).await?;
        let records = self
            .store
            .list(&ListQuery {
                org: app.key.org.clone(),
                kind: Kind::Savepoint,
                scope: Some(app_scope(&app.key.scope, &app.key.name)),
                filters: vec![],
                page: PageRequest {
                    page: 0,
                    size: drey_model::page::MAX_PAGE_SIZE,
                    sort: vec![SortOrder {
                        key: SortKey::CreationTime,
                        direction: SortDirection::Desc,
                    }],
                },
            })
            .await
            .map_err(store_error)?
            .items;
        let entries: Vec<SavepointEntry> = records
            .iter()
            .filter_map(|sp| {
                let status: SavepointStatus = view(&sp.status);
                if status.state != Some(SavepointState::Completed) {
                    return None;
                }
                let completed = status
                    .result_timestamp
                    .unwrap_or(sp.meta.creation_timestamp);
                Some(SavepointEntry {
                    name: sp.meta.name.clone(),
                    location: location_of(sp)?,
                    completed,
                })
            })
            .collect();
        let mut keep = restore_points(&app, &effective);
        let limits = settings.limits(&effective);
        let mut named: HashSet<String> = records
            .iter()
            .filter_map(location_of)
            .map(|l| location_key(&l))
            .chain(keep.iter().cloned())
            .collect();
        // What others name costs a look at every application: only when
        // there is something to remove.
        if to_dispose(&entries, limits, Timestamp::now(), &keep).is_empty()
            && !savepoint_dir
                .as_deref()
                .is_some_and(|dir| has_unkept(dir, &named))
        {
            return Ok(());
        }
        keep.extend(self.savepoint_references(Some(&app.key)).await?);
        let candidates = to_dispose(&entries, limits, Timestamp::now(), &keep);
        for name in &candidates {
            let Some(record) = records.iter().find(|r| &r.meta.name == name) else {
                continue;
            };
            self.store
                .delete(Delete::new(record.key.clone()))
                .await
                .map_err(store_error)?;
            if let Some(location) = location_of(record) {
                tracing::info!(app = %app.key.name, savepoint = %name, %location, "trimming savepoint history");
                backend.dispose_savepoint(&owner, &location).await;
            }
        }
        // What is left of savepoints whose records went some other way
        // (a delete while in use, a crash between record and files).
        named = records
            .iter()
            .filter(|r| !candidates.contains(&r.meta.name))
            .filter_map(location_of)
            .map(|l| location_key(&l))
            .chain(keep)
            .collect();
        if let Some(dir) = &savepoint_dir {
            remove_unkept(dir, &kept_paths(&named));
        }
        Ok(())
    }

    /// After a deployment was torn down: removes the checkpoints of earlier
    /// jobs nothing restores from.
    pub(crate) async fn remove_stale_checkpoints(&self, app: &ObjectKey, checkpoint_dir: &Path) {
        let step = self.try_remove_stale_checkpoints(app, checkpoint_dir);
        logged("remove old checkpoints", app, step).await;
    }

    async fn try_remove_stale_checkpoints(
        &self,
        app: &ObjectKey,
        checkpoint_dir: &Path,
    ) -> Result<(), Error> {
        let Some(app) = self.store.get(app).await.map_err(store_error)? else {
            return Ok(());
        };
        let effective = self.effective_of(&app).await?;
        let mut keep = restore_points(&app, &effective);
        if !has_unkept(checkpoint_dir, &keep) {
            return Ok(());
        }
        keep.extend(self.savepoint_references(Some(&app.key)).await?);
        remove_unkept(checkpoint_dir, &kept_paths(&keep));
        Ok(())
    }

    /// After an application with no deployment was deleted (no finalize
    /// runs for it): its savepoint and checkpoint dirs go, named as the
    /// reconciler names them.
    pub(crate) async fn remove_deleted_app_state(&self, app: &Object) {
        let Some(data) = self.state_root() else {
            return;
        };
        let uid = app.meta.uid.to_string();
        let dirs = drey_runtime::backend::local::local_dirs(
            data,
            &crate::reconcile::state_owner(&app.key, &uid),
        );
        self.remove_app_state(&app.key, &[&dirs.savepoints, &dirs.checkpoints])
            .await;
    }

    /// Before a deleted application's records go: removes its savepoint and
    /// checkpoint dirs, but for what a detached savepoint or another
    /// application still names.
    pub(crate) async fn remove_app_state(&self, app: &ObjectKey, dirs: &[&Path]) {
        let keep = match self.savepoint_references(Some(app)).await {
            Ok(keep) => keep,
            Err(e) => {
                // Unsure what others need: keep everything.
                tracing::warn!(app = %app.name, error = %e, "retention: keeping the state of a deleted application");
                return;
            }
        };
        let keep = kept_paths(&keep);
        for dir in dirs {
            remove_unkept(dir, &keep);
        }
    }
}

/// Runs a retention step, logging instead of failing: retention never stops
/// an application from being reconciled.
async fn logged(
    what: &str,
    app: &ObjectKey,
    step: impl std::future::Future<Output = Result<(), Error>>,
) {
    if let Err(e) = step.await {
        tracing::warn!(app = %app.name, error = %e, "retention: cannot {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(minutes_ago: i64, now: Timestamp) -> Timestamp {
        Timestamp::from_millis(now.millis() - minutes_ago * 60_000).unwrap()
    }

    fn entries(now: Timestamp, ages_min: &[i64]) -> Vec<SavepointEntry> {
        ages_min
            .iter()
            .enumerate()
            .map(|(i, age)| SavepointEntry {
                name: format!("sp{i}"),
                location: format!("file:/data/savepoints/app/savepoint-{i}"),
                completed: at(*age, now),
            })
            .collect()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_oldest_beyond_the_count_go() {
        let now = Timestamp::now();
        let all = entries(now, &[5, 4, 3, 2, 1]);
        let limits = Limits {
            max_count: 2,
            max_age: 24 * HOUR,
        };
        let mut gone = to_dispose(&all, limits, now, &HashSet::new());
        gone.sort();
        assert_eq!(gone, ["sp0", "sp1", "sp2"]);
    }

    #[test]
    fn old_ones_go_but_never_the_newest() {
        let now = Timestamp::now();
        let all = entries(now, &[300, 200, 100]);
        let limits = Limits {
            max_count: 10,
            max_age: HOUR,
        };
        let mut gone = to_dispose(&all, limits, now, &HashSet::new());
        gone.sort();
        // All are too old; the newest stays all the same.
        assert_eq!(gone, ["sp0", "sp1"]);
    }

    #[test]
    fn a_restore_point_is_kept_whatever_its_age() {
        let now = Timestamp::now();
        let all = entries(now, &[50, 40, 30, 20]);
        let limits = Limits {
            max_count: 1,
            max_age: 24 * HOUR,
        };
        // Spelled differently from the record: still the same savepoint.
        let keep = HashSet::from([location_key("file:///data/savepoints/app/savepoint-0/")]);
        let mut gone = to_dispose(&all, limits, now, &keep);
        gone.sort();
        assert_eq!(gone, ["sp1", "sp2"]);
    }

    #[test]
    fn locations_compare_in_one_spelling() {
        assert_eq!(location_key("file:/a/b"), "/a/b");
        assert_eq!(location_key("file:///a/b/"), "/a/b");
        assert_eq!(location_key("/a/b"), "/a/b");
        assert_eq!(location_key("s3://bucket/sp-1"), "s3://bucket/sp-1");
        assert_eq!(local_path("s3://bucket/sp-1"), None);
        assert_eq!(local_path("file:/a"), Some(PathBuf::from("/a")));
    }

    #[test]
    fn limits_come_from_the_configuration_else_the_server() {
        let server = RetentionSettings::default();
        assert_eq!(
            server.limits(&json!({})),
            Limits {
                max_count: 10,
                max_age: 24 * HOUR
            }
        );
        let spec = json!({"flinkConfiguration": {
            SAVEPOINT_HISTORY_MAX_COUNT: "2", SAVEPOINT_HISTORY_MAX_AGE: "30 min"}});
        assert_eq!(
            server.limits(&spec),
            Limits {
                max_count: 2,
                max_age: Duration::from_secs(1800)
            }
        );
        let numeric = json!({"flinkConfiguration": {SAVEPOINT_HISTORY_MAX_COUNT: 3}});
        assert_eq!(server.limits(&numeric).max_count, 3);
        let bad = json!({"flinkConfiguration": {SAVEPOINT_HISTORY_MAX_AGE: "soon"}});
        assert_eq!(server.limits(&bad).max_age, 24 * HOUR);
    }

    #[test]
    fn the_least_recently_used_downloads_go_first_but_not_one_in_use() {
        let now = SystemTime::now();
        let ago = |s: u64| now - Duration::from_secs(s);
        let files = vec![
            (PathBuf::from("a.jar"), 40, ago(300)),
            (PathBuf::from("b.jar"), 40, ago(200)),
            (PathBuf::from("c.jar"), 40, ago(1)),
        ];
        // 120 cached + 30 incoming > 120: the oldest goes, that is enough.
        assert_eq!(
            cache_evictions(&files, 120, 30, now),
            [PathBuf::from("a.jar")]
        );
        // Nothing fits: all but the one in use go.
        assert_eq!(
            cache_evictions(&files, 10, 30, now),
            [PathBuf::from("a.jar"), PathBuf::from("b.jar")]
        );
        assert!(cache_evictions(&files, 1000, 30, now).is_empty());
    }

    #[test]
    fn only_children_nothing_kept_lies_in_go() {
        let children = [PathBuf::from("/c/app/job1"), PathBuf::from("/c/app/job2")];
        let keep = [PathBuf::from("/c/app/job2/chk-7")];
        assert_eq!(
            unkept_children(&children, &keep),
            [PathBuf::from("/c/app/job1")]
        );
    }

    #[test]
    fn remove_unkept_keeps_what_is_named_and_drops_an_empty_dir() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("checkpoints").join("app");
        for job in ["job1/chk-1", "job2/chk-2"] {
            std::fs::create_dir_all(dir.join(job)).unwrap();
        }
        let keep = kept_paths(&[format!("file:{}", dir.join("job2/chk-2").display())]);
        remove_unkept(&dir, &keep);
        assert!(!dir.join("job1").exists());
        assert!(dir.join("job2/chk-2").is_dir());
        remove_unkept(&dir, &[]);
        assert!(!dir.exists());
    }

    #[test]
    fn a_full_cache_makes_room_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.jar");
        std::fs::write(&old, vec![0u8; 100]).unwrap();
        let file = std::fs::File::options().append(true).open(&old).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(60))
            .unwrap();
        let new = dir.path().join("new.jar");
        std::fs::write(&new, vec![0u8; 100]).unwrap();
        make_room(dir.path(), 250, 100);
        assert!(!old.exists() && new.exists());
        mark_used(&new);
    }
}
