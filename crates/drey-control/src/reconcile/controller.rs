//! Runs a reconciler (applications, compute pools, statements): on a timer
//! and whenever an API write wakes it; never two passes on one object at
//! once; per-object exponential backoff with jitter after a failed pass.

use super::PassOutcome;
use crate::Core;
use drey_model::{Error, Kind, ObjectKey};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify, Semaphore};

/// A reconciler of one kind of object: one pass brings one object closer to
/// what is desired.
pub trait Reconcile: Send + Sync + 'static {
    /// The kind it reconciles.
    const KIND: Kind;

    /// The core it reads and records through.
    fn core(&self) -> &Core;

    /// One pass over one object.
    fn reconcile(&self, key: &ObjectKey)
        -> impl Future<Output = Result<PassOutcome, Error>> + Send;

    /// Once per tick: clean up what no object owns any more (clusters of
    /// deleted objects).
    fn sweep(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Timing of the controller.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// How often every application is looked at without a wake-up.
    pub interval: Duration,
    /// Passes running at once (each may wait on a Flink cluster).
    pub concurrency: usize,
    /// First backoff after a failure; doubles up to `max_backoff`.
    pub base_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            interval: Duration::from_secs(2),
            concurrency: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

#[derive(Default)]
struct Schedule {
    running: HashSet<ObjectKey>,
    /// Not before this instant (backoff or an in-flight operation's poll).
    not_before: HashMap<ObjectKey, Instant>,
    failures: HashMap<ObjectKey, u32>,
}

/// Drives one reconciler.
pub struct Controller<R> {
    reconciler: Arc<R>,
    writes: watch::Receiver<u64>,
    wake: Arc<Notify>,
    config: ControllerConfig,
    schedule: Arc<Mutex<Schedule>>,
    permits: Arc<Semaphore>,
}

impl<R: Reconcile> Controller<R> {
    /// A controller woken by every write through the reconciler's core.
    pub fn new(reconciler: R, config: ControllerConfig) -> Self {
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Controller {
            writes: reconciler.core().subscribe(),
            reconciler: Arc::new(reconciler),
            wake: Arc::new(Notify::new()),
            config,
            schedule: Arc::new(Mutex::new(Schedule::default())),
            permits,
        }
    }

    /// Runs until `shutdown` turns true. Passes in flight finish their
    /// current step; clusters keep running (drey re-adopts them on start).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.tick().await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = self.writes.changed() => {}
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Starts a pass for every object that is due and not in a pass.
    pub async fn tick(&self) {
        self.reconciler.sweep().await;
        let keys = match self.reconciler.core().store().keys(R::KIND).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, kind = %R::KIND, "cannot list objects to reconcile");
                return;
            }
        };
        let now = Instant::now();
        for key in keys {
            {
                let Ok(mut schedule) = self.schedule.lock() else {
                    return;
                };
                if schedule.running.contains(&key)
                    || schedule.not_before.get(&key).is_some_and(|t| *t > now)
                {
                    continue;
                }
                schedule.running.insert(key.clone());
            }
            let reconciler = self.reconciler.clone();
            let schedule = self.schedule.clone();
            let permits = self.permits.clone();
            let wake = self.wake.clone();
            let config = self.config.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let result = reconciler.reconcile(&key).await;
                let Ok(mut schedule) = schedule.lock() else {
                    return;
                };
                schedule.running.remove(&key);
                match result {
                    Ok(PassOutcome::Wait(delay)) => {
                        schedule.failures.remove(&key);
                        schedule
                            .not_before
                            .insert(key.clone(), Instant::now() + delay);
                        let wake = wake.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            wake.notify_one();
                        });
                    }
                    Ok(PassOutcome::Settled) | Ok(PassOutcome::Gone) => {
                        schedule.failures.remove(&key);
                        schedule.not_before.remove(&key);
                    }
                    Err(e) => {
                        let failures = schedule.failures.entry(key.clone()).or_insert(0);
                        *failures += 1;
                        let delay = backoff(&config, *failures);
                        tracing::warn!(kind = %R::KIND, name = %key.name, scope = %key.scope,
                                       error = %e, retry_in = ?delay, "reconcile pass failed");
                        schedule
                            .not_before
                            .insert(key.clone(), Instant::now() + delay);
                    }
                }
            });
        }
    }
}

/// Exponential backoff with ±20% jitter.
fn backoff(config: &ControllerConfig, failures: u32) -> Duration {
    let exp = config
        .base_backoff
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(config.max_backoff);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    exp.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = ControllerConfig::default();
        let first = backoff(&c, 1);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let fourth = backoff(&c, 4);
        assert!(fourth >= Duration::from_millis(6400) && fourth <= Duration::from_millis(9600));
        assert!(backoff(&c, 30) <= Duration::from_secs(72));
    }
}
