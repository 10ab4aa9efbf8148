//! Jobs on clusters drey runs as processes on this machine: an
//! application's own cluster is launched and polled until ready, looked at
//! through its processes first (dead processes are *gone*), and stopped with
//! its deployment. State lives under drey's data dir.
//!
//! A cluster recorded with another host (started by a replica there) is
//! driven over its REST API only, with the TLS identity from the record: a
//! look is *seen* when it answers and *unknown* otherwise, never *gone* (its
//! processes cannot be seen from here); it is never launched, signalled or
//! stopped from this host.

use super::{ClusterHandle, JobBackend, LocalStateDirs, StartStep, StateLocations, StateOwner};
use crate::local::client_with;
use crate::{ClusterSpec, LocalBackend, LocalCluster, Readiness, RecordedCluster, RuntimeError};
use async_trait::async_trait;
use drey_model::Observation;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl LocalBackend {
    /// The handle of a running local cluster.
    pub fn handle(&self, cluster: &LocalCluster) -> ClusterHandle {
        ClusterHandle::new(cluster.id(), cluster.client())
    }

    /// A handle on a cluster recorded on another host: its advertised REST URL with the
    /// recorded identity.
    fn remote_handle(&self, found: &RecordedCluster) -> Result<ClusterHandle, RuntimeError> {
        let client = client_with(
            &found.record,
            found.tls.as_ref(),
            drey_flink::ClientConfig::default(),
        )?;
        Ok(ClusterHandle::new(found.record.id.clone(), client))
    }

    /// One look at a cluster on another host, over REST only: *seen* when it answers,
    /// *unknown* otherwise.
    async fn look_remote(&self, found: &RecordedCluster) -> Observation<ClusterHandle> {
        let host = found.record.host.clone().unwrap_or_default();
        let handle = match self.remote_handle(found) {
            Ok(h) => h,
            Err(e) => return Observation::Unknown(e.to_string()),
        };
        match handle.observer().overview().await {
            Ok(_) => Observation::Seen(handle),
            Err(e) => Observation::Unknown(format!(
                "Flink cluster {} on host '{host}' does not answer at {}: {e}",
                found.record.id,
                handle.rest_url()
            )),
        }
    }

    /// The record of cluster `id` when it runs on another host.
    async fn elsewhere_record(&self, id: &str) -> Result<Option<RecordedCluster>, RuntimeError> {
        Ok(self
            .recorded(id)
            .await?
            .filter(|found| !found.record.runs_on(self.host())))
    }

    fn savepoints_root(&self) -> PathBuf {
        self.state_dir().join("savepoints")
    }

    async fn launch_if_it_fits(&self, spec: &ClusterSpec) -> StartStep {
        if let Err(why) = self.admit(spec).await {
            return StartStep::Held(why);
        }
        match self.launch(spec).await {
            Ok(_) => StartStep::Launched,
            Err(e) => start_failed(spec, &e),
        }
    }
}

fn start_failed(spec: &ClusterSpec, e: &dyn std::fmt::Display) -> StartStep {
    StartStep::Failed(format!("Flink cluster {} did not start: {e}", spec.id))
}

#[async_trait]
impl JobBackend for LocalBackend {
    fn describe(&self) -> String {
        "this machine".into()
    }

    async fn start_step(
        &self,
        spec: &ClusterSpec,
        launched: bool,
        timeout: Duration,
    ) -> Result<StartStep, RuntimeError> {
        // Launched by a replica on another host: wait for it over REST; never
        // launch a second one here.
        if let Some(found) = self.elsewhere_record(&spec.id).await? {
            return Ok(match self.look_remote(&found).await {
                Observation::Seen(handle) => StartStep::Ready(Box::new(handle)),
                _ => StartStep::Waiting,
            });
        }
        if !launched {
            return Ok(self.launch_if_it_fits(spec).await);
        }
        let Some(cluster) = self.adopt(&spec.id).await? else {
            // Its processes are gone: launch it again, if it fits.
            return Ok(self.launch_if_it_fits(spec).await);
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let waited = Duration::from_millis(now_ms.saturating_sub(cluster.started_at_ms()));
        let why = match cluster.readiness().await {
            Readiness::Ready => return Ok(StartStep::Ready(Box::new(self.handle(&cluster)))),
            Readiness::Starting(_) if waited < timeout => return Ok(StartStep::Waiting),
            Readiness::Starting(last_seen) => {
                format!("not ready after {} s: {last_seen}", waited.as_secs())
            }
            Readiness::Failed(why) => why,
        };
        // Taken down; the next launch picks new ports.
        if let Err(e) = cluster.stop(Duration::from_secs(5)).await {
            tracing::warn!(cluster = %spec.id, error = %e, "cannot stop a cluster that failed to start");
        }
        Ok(start_failed(spec, &why))
    }

    async fn look(&self, id: &str) -> Observation<ClusterHandle> {
        match self.elsewhere_record(id).await {
            Ok(Some(found)) => return self.look_remote(&found).await,
            Ok(None) => {}
            Err(e) => return Observation::Unknown(e.to_string()),
        }
        match self.adopt(id).await {
            Ok(Some(c)) if c.is_alive() => Observation::Seen(self.handle(&c)),
            // Its jobs run on; only their REST API is cut off (a network namespace that
            // could not be repaired): that says nothing about the jobs.
            Ok(Some(c)) if c.jvms_alive() => Observation::Unknown(format!(
                "the network namespace of Flink cluster {id} is down: its processes live, \
                 its REST API cannot be reached"
            )),
            Ok(Some(_)) => Observation::Gone(format!("a process of Flink cluster {id} exited")),
            Ok(None) => Observation::Gone(format!("no process of Flink cluster {id} runs")),
            // The cluster's record could not be read: that says nothing
            // about its processes.
            Err(e) => Observation::Unknown(e.to_string()),
        }
    }

    async fn tear_down(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        self.stop(id, grace).await.map(drop)
    }

    fn owns_clusters(&self) -> bool {
        true
    }

    fn state_locations(&self, owner: &StateOwner<'_>) -> StateLocations {
        let dirs = local_dirs(self.state_dir(), owner);
        StateLocations {
            savepoints: Some(file_uri(&dirs.savepoints)),
            checkpoints: Some(file_uri(&dirs.checkpoints)),
        }
    }

    fn local_state_dirs(&self, owner: &StateOwner<'_>) -> Option<LocalStateDirs> {
        Some(local_dirs(self.state_dir(), owner))
    }

    async fn dispose_savepoint(&self, _owner: &StateOwner<'_>, location: &str) {
        dispose_local_savepoint(location, &self.savepoints_root());
    }
}

/// Where `owner`'s state lives under a state dir: outside any cluster's dir, so
/// checkpoints and savepoints outlive the cluster (last-state, suspend), and under its
/// environment's (`savepoints/<org>/<env>/<uid>`, `checkpoints/<org>/<env>/<uid>`), so a
/// compute pool's cluster, whose jobs come and go, is shown its environment's state and
/// no other. An object whose state an older drey already keeps at `savepoints/<uid>` or
/// `checkpoints/<uid>` keeps it there: retained checkpoints name their files by absolute
/// path and cannot move.
pub fn local_dirs(state_dir: &Path, owner: &StateOwner<'_>) -> LocalStateDirs {
    let legacy = LocalStateDirs {
        savepoints: state_dir.join("savepoints").join(owner.uid),
        checkpoints: state_dir.join("checkpoints").join(owner.uid),
    };
    if legacy.savepoints.exists() || legacy.checkpoints.exists() {
        return legacy;
    }
    let [savepoints, checkpoints] =
        environment_state_dirs(state_dir, owner.organization, owner.environment);
    LocalStateDirs {
        savepoints: savepoints.join(owner.uid),
        checkpoints: checkpoints.join(owner.uid),
    }
}

/// An environment's savepoint and checkpoint directories under a state dir.
pub fn environment_state_dirs(
    state_dir: &Path,
    organization: &str,
    environment: &str,
) -> [PathBuf; 2] {
    ["savepoints", "checkpoints"].map(|kind| {
        state_dir
            .join(kind)
            .join(path_component(organization))
            .join(path_component(environment))
    })
}

/// The state directories a session cluster of an environment (a compute pool's) reads and
/// writes: the environment's; and the whole `savepoints/` and `checkpoints/` of the state
/// dir while objects of an older drey keep their state there (per uid, in no environment's
/// dir), so their session jobs still find it.
pub fn session_state_dirs(state_dir: &Path, organization: &str, environment: &str) -> Vec<PathBuf> {
    let legacy_roots = [state_dir.join("savepoints"), state_dir.join("checkpoints")];
    if legacy_roots.iter().any(|root| holds_legacy_owner(root)) {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(state_dir = %state_dir.display(),
                "state of an older drey (per-uid directories) is in the state dir: compute \
                 pools' clusters see all of it until those directories are gone");
        });
        return legacy_roots.to_vec();
    }
    environment_state_dirs(state_dir, organization, environment).to_vec()
}

/// Whether `root` has an entry named like an object's uid (an older drey's layout).
fn holds_legacy_owner(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| uuid::Uuid::try_parse(n).is_ok())
    })
}

/// A name as one path component: object names never hold `/` nor are `.` or `..`, but a
/// path is no place to trust that.
fn path_component(name: &str) -> String {
    match name {
        "" | "." | ".." => format!("_{name}"),
        _ => name.replace('/', "_"),
    }
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A location in one spelling, so `file:/a/b`, `file:///a/b/` and `/a/b`
/// compare equal; other schemes are kept as written.
pub fn location_key(location: &str) -> String {
    let location = location.trim();
    let path = match location.strip_prefix("file:") {
        Some(rest) => format!("/{}", rest.trim_start_matches('/')),
        None => location.to_owned(),
    };
    match path.trim_end_matches('/') {
        "" => path,
        trimmed => trimmed.to_owned(),
    }
}

/// The local path of a `file:` location or an absolute path.
pub fn local_path(location: &str) -> Option<PathBuf> {
    let key = location_key(location);
    key.starts_with('/').then(|| PathBuf::from(key))
}

/// The local files of a savepoint drey may dispose of: a `savepoint-*`
/// directory right under an owner's dir in the savepoints root. Files
/// elsewhere (a user's own path) are never removed by drey.
fn own_savepoint_dir(location: &str, savepoints_root: &Path) -> Option<PathBuf> {
    let path = local_path(location)?.canonicalize().ok()?;
    let root = savepoints_root.canonicalize().ok()?;
    let rest = path.strip_prefix(&root).ok()?;
    let parts: Vec<_> = rest.components().collect();
    let named = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("savepoint-"));
    // `<uid>/savepoint-*`, or `<org>/<env>/<uid>/savepoint-*`.
    ((parts.len() == 2 || parts.len() == 4) && named).then_some(path)
}

/// Removes the files of the savepoint at `location`, if drey wrote them
/// under `savepoints_root`.
pub fn dispose_local_savepoint(location: &str, savepoints_root: &Path) {
    let Some(dir) = own_savepoint_dir(location, savepoints_root) else {
        tracing::debug!(%location, "not disposing of a savepoint drey did not write or that is gone");
        return;
    };
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => tracing::info!(%location, "disposed of savepoint files"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(%location, error = %e, "cannot dispose of savepoint files"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_savepoint_dirs_drey_wrote_are_disposed_of() {
        let data = tempfile::tempdir().unwrap();
        let root = data.path().join("savepoints");
        let own = root.join("app-uid").join("savepoint-abc-123");
        let own_in_env = root.join("o/e/app-uid").join("savepoint-abc-124");
        std::fs::create_dir_all(&own_in_env).unwrap();
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("_metadata"), b"x").unwrap();
        let owner = root.join("other-uid");
        std::fs::create_dir_all(&owner).unwrap();
        let elsewhere = data.path().join("mine").join("savepoint-1");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let not_a_savepoint = root.join("app-uid").join("other");
        std::fs::create_dir_all(&not_a_savepoint).unwrap();

        // An owner's whole dir, a user's own dir, a dir not named like a
        // savepoint, remote storage: kept.
        dispose_local_savepoint(&format!("file:{}", owner.display()), &root);
        dispose_local_savepoint(&format!("file://{}", elsewhere.display()), &root);
        dispose_local_savepoint(&format!("file:{}", not_a_savepoint.display()), &root);
        dispose_local_savepoint("s3://bucket/savepoint-1", &root);
        assert!(owner.is_dir() && elsewhere.is_dir() && not_a_savepoint.is_dir());
        dispose_local_savepoint(&format!("file:{}", own.display()), &root);
        assert!(!own.exists());
        dispose_local_savepoint(&format!("file:{}", own_in_env.display()), &root);
        assert!(!own_in_env.exists() && root.join("o/e/app-uid").is_dir());
        // Gone already: nothing to do.
        dispose_local_savepoint(&format!("file:{}", own.display()), &root);
    }

    #[test]
    fn state_lives_outside_the_clusters_by_environment() {
        let data = tempfile::tempdir().unwrap();
        let state = data.path();
        let uid = "9b2f6a57-27c8-4d1e-9a3c-4f1c1d1e2a3b";
        let owner = StateOwner {
            organization: "acme",
            environment: "dev",
            uid,
        };
        let dirs = local_dirs(state, &owner);
        assert_eq!(dirs.savepoints, state.join("savepoints/acme/dev").join(uid));
        assert_eq!(
            dirs.checkpoints,
            state.join("checkpoints/acme/dev").join(uid)
        );
        assert_eq!(
            session_state_dirs(state, "acme", "dev"),
            vec![
                state.join("savepoints/acme/dev"),
                state.join("checkpoints/acme/dev")
            ]
        );
        // An older drey's layout: kept for that object, and pools see the roots.
        std::fs::create_dir_all(state.join("checkpoints").join(uid)).unwrap();
        let dirs = local_dirs(state, &owner);
        assert_eq!(dirs.savepoints, state.join("savepoints").join(uid));
        assert_eq!(dirs.checkpoints, state.join("checkpoints").join(uid));
        assert_eq!(
            session_state_dirs(state, "acme", "dev"),
            vec![state.join("savepoints"), state.join("checkpoints")]
        );
        assert_eq!(path_component(".."), "_..");
        assert_eq!(local_path("file:///a/b"), Some(PathBuf::from("/a/b")));
        assert_eq!(local_path("file:/a/b"), Some(PathBuf::from("/a/b")));
        assert_eq!(local_path("s3://b/k"), None);
    }
}
