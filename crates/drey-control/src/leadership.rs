//! Which replica runs the reconcilers. Every replica serves the whole API;
//! one at a time — the holder of the `reconcilers` lease in the store —
//! drives Flink. The lease has an epoch, and the reconcilers see the store
//! only through [`FencedStore`], which puts this replica's fence on every
//! write and refuses to read or write while the replica does not lead. So a
//! replica that was paused, partitioned or slow past its lease can do no
//! harm when it wakes: its own clock tells it the lease ran out before the
//! database lets anyone else take it, and the database refuses its writes
//! anyway.

use async_trait::async_trait;
use drey_model::{Kind, Object, ObjectKey, Page};
use drey_store::{
    Change, Delete, Fence, ListQuery, SecretData, Store, StoreError, VersionCheck, Write,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The lease the reconcilers run under.
pub const RECONCILER_LEASE: &str = "reconcilers";

/// This replica's part in the election.
#[derive(Clone)]
pub struct Leadership {
    inner: Arc<Inner>,
}

struct Inner {
    replica: String,
    ttl: Duration,
    state: watch::Sender<Option<Held>>,
}

/// The lease as this replica holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    epoch: i64,
    /// When this replica stops trusting its lease, by its own monotonic
    /// clock: before the database's expiry, since it counts from before
    /// the renewal was sent and leaves a margin.
    until: Instant,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("replica", &self.inner.replica)
            .field("leader", &self.is_leader())
            .finish()
    }
}

impl Leadership {
    /// Replica `replica` taking part with leases of `ttl`.
    pub fn new(replica: impl Into<String>, ttl: Duration) -> Self {
        Leadership {
            inner: Arc::new(Inner {
                replica: replica.into(),
                ttl,
                state: watch::channel(None).0,
            }),
        }
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// The fence to act under, while this replica leads.
    pub fn fence(&self) -> Option<Fence> {
        let held = (*self.inner.state.borrow())?;
        (Instant::now() < held.until).then(|| Fence {
            lease: RECONCILER_LEASE.to_owned(),
            holder: self.inner.replica.clone(),
            epoch: held.epoch,
        })
    }

    /// Whether this replica leads now.
    pub fn is_leader(&self) -> bool {
        self.fence().is_some()
    }

    /// Resolves when this replica leads.
    pub async fn leading(&self) {
        let mut rx = self.inner.state.subscribe();
        while !self.is_leader() {
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Resolves when this replica stops leading (it is checked at least
    /// every second, since the lease also runs out by the clock alone).
    pub async fn lost(&self) {
        let mut rx = self.inner.state.subscribe();
        while self.is_leader() {
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.changed()).await;
        }
    }

    /// Takes part until `stop`: renews the lease every third of its length
    /// while leading, tries to take it every fifth while not.
    pub async fn run(self, store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
        let ttl = self.inner.ttl;
        let margin = ttl / 5;
        loop {
            let asked = Instant::now();
            let before = *self.inner.state.borrow();
            let now_held = match store
                .acquire_lease(RECONCILER_LEASE, &self.inner.replica, ttl)
                .await
            {
                Ok(Some(epoch)) => Some(Held {
                    epoch,
                    until: asked + ttl - margin,
                }),
                Ok(None) => None,
                // The lease runs out by the clock unless a renewal succeeds.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew the reconciler lease");
                    before.filter(|h| Instant::now() < h.until)
                }
            };
            match (before.map(|h| h.epoch), now_held.map(|h| h.epoch)) {
                (b, Some(epoch)) if b != Some(epoch) => {
                    tracing::info!(replica = %self.inner.replica, epoch,
                                   "leading: this replica runs the reconcilers");
                }
                (Some(epoch), None) => {
                    tracing::warn!(replica = %self.inner.replica, epoch,
                                   "lost the reconciler lease: no longer acting");
                }
                _ => {}
            }
            self.inner.state.send_replace(now_held);
            let pause = if now_held.is_some() {
                ttl / 3
            } else {
                (ttl / 5).max(Duration::from_millis(200))
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Gives the lease up, so another replica takes over at once (a clean
    /// shutdown, after the reconcilers stopped).
    pub async fn release(&self, store: &dyn Store) {
        self.inner.state.send_replace(None);
        if let Err(e) = store
            .release_lease(RECONCILER_LEASE, &self.inner.replica)
            .await
        {
            tracing::warn!(error = %e, "cannot release the reconciler lease");
        }
    }
}

/// The store as the reconcilers see it: reads and writes only while this
/// replica leads, every write fenced with its lease.
pub struct FencedStore {
    inner: Arc<dyn Store>,
    leadership: Leadership,
}

impl FencedStore {
    /// `inner`, fenced by `leadership`.
    pub fn new(inner: Arc<dyn Store>, leadership: Leadership) -> Self {
        FencedStore { inner, leadership }
    }

    fn fence(&self) -> Result<Fence, StoreError> {
        self.leadership.fence().ok_or_else(|| {
            StoreError::Fenced(format!(
                "replica '{}' does not hold the reconciler lease",
                self.leadership.replica()
            ))
        })
    }
}

#[async_trait]
impl Store for FencedStore {
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        self.fence()?;
        self.inner.get(key).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<Object>, StoreError> {
        self.fence()?;
        self.inner.list(query).await
    }

    async fn write(&self, mut write: Write) -> Result<Object, StoreError> {
        write.fence = Some(self.fence()?);
        self.inner.write(write).await
    }

    async fn put_status(
        &self,
        key: &ObjectKey,
        check: Option<VersionCheck>,
        status: Value,
        fence: Option<&Fence>,
    ) -> Result<Object, StoreError> {
        // A leader's own fence, or the one given, which must still be ours.
        let held = self.fence()?;
        let fence = fence.unwrap_or(&held);
        self.inner.put_status(key, check, status, Some(fence)).await
    }

    async fn delete(&self, mut delete: Delete) -> Result<Option<Object>, StoreError> {
        delete.fence = Some(self.fence()?);
        self.inner.delete(delete).await
    }

    async fn referrers(
        &self,
        target: &ObjectKey,
        from: Kind,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        self.fence()?;
        self.inner.referrers(target, from).await
    }

    async fn keys(&self, kind: Kind) -> Result<Vec<ObjectKey>, StoreError> {
        self.fence()?;
        self.inner.keys(kind).await
    }

    async fn secret_data(&self, key: &ObjectKey) -> Result<Option<SecretData>, StoreError> {
        self.fence()?;
        self.inner.secret_data(key).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, StoreError> {
        self.inner.acquire_lease(name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.inner.release_lease(name, holder).await
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        self.inner.changes()
    }
}

/// Wakes the controllers of this replica when another replica writes, for
/// as long as the store announces changes.
pub fn follow_changes(core: crate::Core) {
    let Some(mut changes) = core.store().changes() else {
        return;
    };
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match changes.recv().await {
                Ok(Change::Object(key)) => core.wake_object(&key),
                Ok(Change::Unknown) | Err(RecvError::Lagged(_)) => core.wake_all(),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lease_past_its_time_is_not_trusted() {
        let leadership = Leadership::new("r1", Duration::from_millis(50));
        assert!(!leadership.is_leader());
        leadership.inner.state.send_replace(Some(Held {
            epoch: 4,
            until: Instant::now() + Duration::from_secs(60),
        }));
        assert_eq!(leadership.fence().map(|f| f.epoch), Some(4));
        leadership.inner.state.send_replace(Some(Held {
            epoch: 4,
            until: Instant::now(),
        }));
        assert!(leadership.fence().is_none(), "an expired lease is no fence");
        // `lost` notices by the clock alone, without a state change.
        tokio::time::timeout(Duration::from_secs(5), leadership.lost())
            .await
            .expect("lost resolves");
    }
}
