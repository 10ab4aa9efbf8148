//! Runs a reconciler (applications, compute pools, statements) the way a
//! kube-rs `Controller` does: a per-object work queue ordered by when each
//! object is due, never two passes of one object at once and no cap shared
//! by all objects, so one slow object never delays another. A write wakes
//! only the objects it concerns; the store is listed in full only on a slow
//! resync. A pass that fails or panics is retried with backoff, and a panic is
//! recorded where a user sees it.

use super::PassOutcome;
use crate::{Core, Wake};
use drey_model::{Error, Kind, ObjectKey};
use futures::FutureExt;
use rand::Rng;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch, Notify};

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

    /// Once per resync: clean up what no object owns any more (clusters of
    /// deleted objects).
    fn sweep(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// A pass panicked: say so where the object's users look (events).
    fn panicked(&self, _key: &ObjectKey, _message: &str) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Timing of the controller.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// How soon a settled object is looked at again (how fast a failed job
    /// or a dead cluster is noticed).
    pub interval: Duration,
    /// How often the store is listed in full, to find objects no wake-up
    /// named, and clusters are swept.
    pub resync: Duration,
    /// First backoff after a failure; doubles up to `max_backoff`.
    pub base_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Fault injection for tests: panic in this many passes of the objects
    /// with this name.
    pub panic_fault: Option<PanicFault>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            interval: Duration::from_secs(2),
            resync: Duration::from_secs(30),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            panic_fault: None,
        }
    }
}

/// A test-only fault: passes over objects named `name` panic, `times` times.
#[derive(Clone, Debug)]
pub struct PanicFault {
    /// The object name.
    pub name: String,
    /// How many passes panic.
    pub times: u32,
}

impl PanicFault {
    /// Parses `NAME:TIMES` (the `DREY_FAULT_PANIC_PASS` variable).
    pub fn parse(text: &str) -> Option<PanicFault> {
        let (name, times) = text.rsplit_once(':')?;
        Some(PanicFault {
            name: name.to_owned(),
            times: times.parse().ok()?,
        })
    }
}

/// The work queue: which object is due when, which are in a pass.
#[derive(Default)]
struct Queue {
    /// Due objects, soonest first.
    order: BTreeSet<(Instant, ObjectKey)>,
    /// When each known object is due.
    due: HashMap<ObjectKey, Instant>,
    /// Objects in a pass now.
    running: HashSet<ObjectKey>,
    /// Objects written while in a pass: due again right after it.
    dirty: HashSet<ObjectKey>,
    /// Consecutive failures per object.
    failures: HashMap<ObjectKey, u32>,
    /// Injected panics left.
    panics_left: u32,
}

impl Queue {
    /// Makes `key` due at `at`, or sooner if it already is.
    fn schedule(&mut self, key: &ObjectKey, at: Instant, earlier_only: bool) {
        if let Some(old) = self.due.get(key).copied() {
            if earlier_only && old <= at {
                return;
            }
            self.order.remove(&(old, key.clone()));
        }
        self.due.insert(key.clone(), at);
        self.order.insert((at, key.clone()));
    }

    fn forget(&mut self, key: &ObjectKey) {
        if let Some(old) = self.due.remove(key) {
            self.order.remove(&(old, key.clone()));
        }
        self.failures.remove(key);
        self.dirty.remove(key);
    }

    /// Takes the objects due by `now`; one still in a pass is marked to run
    /// again as soon as that pass ends.
    fn take_due(&mut self, now: Instant) -> Vec<ObjectKey> {
        let mut out = Vec::new();
        while let Some((at, key)) = self.order.first().cloned() {
            if at > now {
                break;
            }
            self.order.pop_first();
            self.due.remove(&key);
            if self.running.contains(&key) {
                self.dirty.insert(key);
                continue;
            }
            self.running.insert(key.clone());
            out.push(key);
        }
        out
    }

    fn next_due(&self) -> Option<Instant> {
        self.order.iter().next().map(|(t, _)| *t)
    }
}

/// Drives one reconciler.
pub struct Controller<R> {
    reconciler: Arc<R>,
    wakes: broadcast::Receiver<Wake>,
    wake: Arc<Notify>,
    config: ControllerConfig,
    queue: Arc<Mutex<Queue>>,
}

impl<R: Reconcile> Controller<R> {
    /// A controller woken by every write through the reconciler's core.
    pub fn new(reconciler: R, config: ControllerConfig) -> Self {
        let queue = Queue {
            panics_left: config.panic_fault.as_ref().map_or(0, |f| f.times),
            ..Queue::default()
        };
        Controller {
            wakes: reconciler.core().subscribe(),
            reconciler: Arc::new(reconciler),
            wake: Arc::new(Notify::new()),
            config,
            queue: Arc::new(Mutex::new(queue)),
        }
    }

    /// Runs until `shutdown` turns true. Passes in flight finish their
    /// current step; clusters keep running (drey re-adopts them on start).
    /// On a replica that takes part in the election, passes run only
    /// while it leads; when it comes to lead, it looks at everything, since
    /// another replica may have acted meanwhile.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut next_resync = Instant::now();
        let leadership = self.reconciler.core().leadership().cloned();
        loop {
            if let Some(leadership) = leadership.as_ref().filter(|l| !l.is_leader()) {
                tokio::select! {
                    _ = leadership.leading() => next_resync = Instant::now(),
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            let now = Instant::now();
            if now >= next_resync {
                self.resync().await;
                next_resync = Instant::now() + self.config.resync;
            }
            self.start_due();
            let next = self
                .lock()
                .and_then(|q| q.next_due())
                .map_or(next_resync, |t| t.min(next_resync));
            let sleep = next.saturating_duration_since(Instant::now());
            tokio::select! {
                _ = self.wake.notified() => {}
                wake = self.wakes.recv() => match wake {
                    Ok(wake) => self.woken(wake),
                    // Missed wake-ups: look at everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => next_resync = Instant::now(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tokio::time::sleep(sleep) => {}
                _ = lost(leadership.as_ref()) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Queue>> {
        self.queue.lock().ok()
    }

    /// Lists every object of the kind (objects no wake-up named, e.g. after
    /// a restart) and sweeps what no object owns.
    pub async fn resync(&self) {
        self.reconciler.sweep().await;
        let keys = match self.reconciler.core().store().keys(R::KIND).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, kind = %R::KIND, "cannot list objects to reconcile");
                return;
            }
        };
        let now = Instant::now();
        let Some(mut queue) = self.lock() else { return };
        for key in keys {
            if !queue.running.contains(&key) && !queue.due.contains_key(&key) {
                queue.schedule(&key, now, true);
            }
        }
    }

    /// A write happened: the objects it concerns are due now.
    fn woken(&self, wake: Wake) {
        let now = Instant::now();
        let Some(mut queue) = self.lock() else { return };
        let concerned: Vec<ObjectKey> = match wake {
            Wake::Object(key) if key.kind == R::KIND => vec![key],
            // Another kind (an environment's defaults, a pool, a savepoint
            // request): every known object of that environment.
            Wake::Object(key) => {
                let env = environment_of(&key);
                queue
                    .due
                    .keys()
                    .chain(queue.running.iter())
                    .filter(|k| k.org == key.org && environment_of(k) == env)
                    .cloned()
                    .collect()
            }
            Wake::All => queue
                .due
                .keys()
                .chain(queue.running.iter())
                .cloned()
                .collect(),
        };
        for key in concerned {
            if queue.running.contains(&key) {
                queue.dirty.insert(key);
            } else {
                queue.schedule(&key, now, true);
            }
        }
    }

    /// Starts a pass for every object that is due and not in a pass.
    fn start_due(&self) {
        let now = Instant::now();
        let Some(keys) = self.lock().map(|mut q| q.take_due(now)) else {
            return;
        };
        for key in keys {
            let inject = self.lock().is_some_and(|mut q| {
                let hit = q.panics_left > 0
                    && self
                        .config
                        .panic_fault
                        .as_ref()
                        .is_some_and(|f| f.name == key.name);
                if hit {
                    q.panics_left -= 1;
                }
                hit
            });
            let reconciler = self.reconciler.clone();
            let queue = self.queue.clone();
            let wake = self.wake.clone();
            let config = self.config.clone();
            tokio::spawn(async move {
                let pass = AssertUnwindSafe(async {
                    if inject {
                        injected_panic(&key);
                    }
                    reconciler.reconcile(&key).await
                })
                .catch_unwind()
                .await;
                let panic_message = match &pass {
                    Err(payload) => Some(panic_text(payload.as_ref())),
                    Ok(_) => None,
                };
                let retry = finish_pass(&queue, &config, &key, pass.ok());
                if let Some(message) = panic_message {
                    let retry = retry.unwrap_or_default();
                    tracing::error!(kind = %R::KIND, name = %key.name, scope = %key.scope,
                                    panic = %message, retry_in = ?retry, "reconcile pass panicked");
                    reconciler
                        .panicked(
                            &key,
                            &format!(
                                "the reconcile pass panicked ({message}); retrying in {} s",
                                retry.as_secs().max(1)
                            ),
                        )
                        .await;
                }
                wake.notify_one();
            });
        }
    }
}

/// Resolves when this replica stops leading; never without an election.
async fn lost(leadership: Option<&crate::leadership::Leadership>) {
    match leadership {
        Some(leadership) => leadership.lost().await,
        None => std::future::pending().await,
    }
}

/// Records how a pass ended and when the object is due again; returns the
/// backoff after a failure or panic.
fn finish_pass(
    queue: &Mutex<Queue>,
    config: &ControllerConfig,
    key: &ObjectKey,
    result: Option<Result<PassOutcome, Error>>,
) -> Option<Duration> {
    let Ok(mut queue) = queue.lock() else {
        return None;
    };
    queue.running.remove(key);
    let dirty = queue.dirty.remove(key);
    let now = Instant::now();
    let (after, backoff) = match result {
        Some(Ok(PassOutcome::Gone)) => {
            queue.forget(key);
            return None;
        }
        Some(Ok(PassOutcome::Settled)) => {
            queue.failures.remove(key);
            (config.interval, None)
        }
        Some(Ok(PassOutcome::Wait(delay))) => {
            queue.failures.remove(key);
            (delay, None)
        }
        Some(Err(e)) => {
            let delay = queue.note_failure(key, config);
            tracing::warn!(kind = %key.kind, name = %key.name, scope = %key.scope,
                           error = %e, retry_in = ?delay, "reconcile pass failed");
            (delay, Some(delay))
        }
        None => {
            let delay = queue.note_failure(key, config);
            (delay, Some(delay))
        }
    };
    // A write during the pass is looked at right away, unless backing off.
    let at = if dirty && backoff.is_none() {
        now
    } else {
        now + after
    };
    queue.schedule(key, at, false);
    backoff
}

impl Queue {
    fn note_failure(&mut self, key: &ObjectKey, config: &ControllerConfig) -> Duration {
        let failures = self.failures.entry(key.clone()).or_insert(0);
        *failures += 1;
        backoff(config, *failures)
    }
}

/// The environment an object lives in (its scope's first part), if any.
fn environment_of(key: &ObjectKey) -> &str {
    if key.kind == Kind::Environment {
        return &key.name;
    }
    key.scope.split('/').next().unwrap_or_default()
}

#[allow(clippy::panic)] // the point of a fault hook
fn injected_panic(key: &ObjectKey) {
    panic!("injected fault: a pass over {} '{}'", key.kind, key.name);
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
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

    fn key(name: &str) -> ObjectKey {
        ObjectKey::in_env("o", Kind::Application, "e", name)
    }

    #[test]
    fn the_queue_hands_out_due_objects_once_and_soonest_first() {
        let mut q = Queue::default();
        let t0 = Instant::now();
        q.schedule(&key("late"), t0 + Duration::from_secs(5), false);
        q.schedule(&key("soon"), t0, false);
        assert_eq!(q.take_due(t0), vec![key("soon")]);
        // In a pass: not handed out again, but due again when it ends.
        q.schedule(&key("soon"), t0, false);
        assert!(q.take_due(t0 + Duration::from_secs(1)).is_empty());
        assert!(q.dirty.contains(&key("soon")));
        assert_eq!(q.next_due(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(q.take_due(t0 + Duration::from_secs(6)), vec![key("late")]);
    }

    #[test]
    fn an_earlier_wake_moves_an_object_up_but_a_later_one_does_not() {
        let mut q = Queue::default();
        let t0 = Instant::now();
        q.schedule(&key("a"), t0 + Duration::from_secs(10), false);
        q.schedule(&key("a"), t0 + Duration::from_secs(20), true);
        assert_eq!(q.next_due(), Some(t0 + Duration::from_secs(10)));
        q.schedule(&key("a"), t0, true);
        assert_eq!(q.next_due(), Some(t0));
        assert_eq!(q.order.len(), 1);
    }

    #[test]
    fn a_failed_or_panicked_pass_backs_off_and_a_gone_object_is_forgotten() {
        let queue = Mutex::new(Queue::default());
        let config = ControllerConfig::default();
        let k = key("a");
        if let Ok(mut q) = queue.lock() {
            q.running.insert(k.clone());
        }
        let backoff = finish_pass(&queue, &config, &k, None);
        assert!(backoff.is_some_and(|d| d >= Duration::from_millis(800)));
        let q = queue
            .lock()
            .map(|q| (q.due.contains_key(&k), q.running.contains(&k)));
        assert_eq!(q.ok(), Some((true, false)));
        finish_pass(&queue, &config, &k, Some(Ok(PassOutcome::Gone)));
        assert_eq!(queue.lock().map(|q| q.due.is_empty()).ok(), Some(true));
    }

    #[test]
    fn panic_faults_parse() {
        let f = PanicFault::parse("my-app:2");
        assert_eq!(f.map(|f| (f.name, f.times)), Some(("my-app".into(), 2)));
        assert!(PanicFault::parse("nope").is_none());
    }
}
