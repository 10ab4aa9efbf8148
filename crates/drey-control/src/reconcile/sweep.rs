//! Orphan sweeps: stop the local clusters no object owns any more. A sweep
//! acts only on certainty: when the store cannot be read it does nothing, and
//! a cluster is stopped only after it was found without an owner on every
//! sweep for a grace period (an owner being created right now records its
//! cluster before starting it, but a grace costs little and forgives a race).

use super::{plan::Recorded, recorded_of, Backend};
use crate::Core;
use drey_model::{Kind, Object};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sweeps the clusters whose ids start with one prefix.
pub(crate) struct OrphanSweep {
    prefix: &'static str,
    grace: Duration,
    /// Clusters found without an owner, and since when.
    suspects: Mutex<HashMap<String, Instant>>,
}

impl OrphanSweep {
    /// A sweep of the clusters named `<prefix>...`.
    pub(crate) fn new(prefix: &'static str, grace: Duration) -> Self {
        OrphanSweep {
            prefix,
            grace,
            suspects: Mutex::new(HashMap::new()),
        }
    }

    /// Stops the clusters of this prefix that no id in `owned` claims and
    /// that have been without one for the grace period. `owned` is `None`
    /// when the owners could not be read: then nothing is stopped.
    pub(crate) async fn run(&self, backend: &Backend, owned: Option<HashSet<String>>) {
        let Ok(backend) = backend else { return };
        let Some(owned) = owned else {
            tracing::warn!(
                prefix = self.prefix,
                "cannot read cluster owners; sweep skipped"
            );
            return;
        };
        let Ok(clusters) = backend.list().await else {
            return;
        };
        let listed: Vec<String> = clusters
            .into_iter()
            .map(|c| c.record.id)
            .filter(|id| id.starts_with(self.prefix))
            .collect();
        let to_stop = {
            let Ok(mut suspects) = self.suspects.lock() else {
                return;
            };
            orphans_due(&listed, &owned, &mut suspects, Instant::now(), self.grace)
        };
        for id in to_stop {
            tracing::info!(cluster = %id, "stopping a Flink cluster whose owner is gone");
            if let Err(e) = backend.stop(&id, Duration::from_secs(15)).await {
                tracing::warn!(cluster = %id, error = %e, "cannot stop an orphan cluster");
            }
        }
    }
}

/// Pure: which listed clusters to stop now. A cluster without an owner
/// becomes a suspect; a suspect for longer than `grace` is stopped; one that
/// has an owner again (or is gone) stops being a suspect.
fn orphans_due(
    listed: &[String],
    owned: &HashSet<String>,
    suspects: &mut HashMap<String, Instant>,
    now: Instant,
    grace: Duration,
) -> Vec<String> {
    suspects.retain(|id, _| listed.contains(id) && !owned.contains(id));
    let mut due = Vec::new();
    for id in listed.iter().filter(|id| !owned.contains(*id)) {
        let since = *suspects.entry(id.clone()).or_insert(now);
        if now.duration_since(since) >= grace {
            due.push(id.clone());
        }
    }
    for id in &due {
        suspects.remove(id);
    }
    due
}

/// The cluster ids `<prefix><uid>` of every object of `kind`; `None` when
/// any of them cannot be read.
pub(crate) async fn owners_by_uid(
    core: &Core,
    kind: Kind,
    prefix: &str,
) -> Option<HashSet<String>> {
    let mut owned = HashSet::new();
    for object in all(core, kind).await? {
        owned.insert(format!("{prefix}{}", object.meta.uid.simple()));
    }
    Some(owned)
}

/// The clusters applications record as their own (not a pool's they join).
pub(crate) async fn application_clusters(core: &Core) -> Option<HashSet<String>> {
    let mut owned = HashSet::new();
    for app in all(core, Kind::Application).await? {
        let Recorded { deployment, .. } = recorded_of(&app);
        if let Some(d) = deployment.filter(|d| !d.session) {
            owned.insert(d.cluster_id);
        }
    }
    Some(owned)
}

async fn all(core: &Core, kind: Kind) -> Option<Vec<Object>> {
    let keys = core.store().keys(kind).await.ok()?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        // A key listed a moment ago may be deleted now: that is no error.
        if let Some(object) = core.store().get(&key).await.ok()? {
            out.push(object);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orphan_is_stopped_only_after_the_grace() {
        let grace = Duration::from_secs(60);
        let t0 = Instant::now();
        let listed = vec!["app-a".to_owned(), "app-b".to_owned()];
        let owned: HashSet<String> = ["app-a".to_owned()].into();
        let mut suspects = HashMap::new();
        assert!(orphans_due(&listed, &owned, &mut suspects, t0, grace).is_empty());
        assert!(orphans_due(&listed, &owned, &mut suspects, t0 + grace / 2, grace).is_empty());
        assert_eq!(
            orphans_due(&listed, &owned, &mut suspects, t0 + grace, grace),
            vec!["app-b".to_owned()]
        );
    }

    #[test]
    fn an_owner_that_comes_back_clears_the_suspicion() {
        let grace = Duration::from_secs(60);
        let t0 = Instant::now();
        let listed = vec!["app-b".to_owned()];
        let mut suspects = HashMap::new();
        orphans_due(&listed, &HashSet::new(), &mut suspects, t0, grace);
        let owned: HashSet<String> = ["app-b".to_owned()].into();
        assert!(orphans_due(&listed, &owned, &mut suspects, t0 + grace, grace).is_empty());
        assert!(suspects.is_empty());
        // Without an owner again: the grace starts over.
        assert!(orphans_due(
            &listed,
            &HashSet::new(),
            &mut suspects,
            t0 + grace * 2,
            grace
        )
        .is_empty());
    }
}
