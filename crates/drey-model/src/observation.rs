//! What one look at a Flink cluster or job found. Every reconciler observes
//! through this type, so all of them draw the same line: only [`Gone`] is
//! certain enough to act on. A REST call that timed out, a 503 while Flink
//! elects a leader, a JobManager in a long GC pause are [`Unknown`]: reported
//! and retried, never a reason to tear down or redeploy, until the JobManager
//! has been silent for longer than a bound ([`Silence::is_hung`]).
//!
//! [`Gone`]: Observation::Gone
//! [`Unknown`]: Observation::Unknown

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One observation: seen with a value, certainly gone, or unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation<T> {
    /// It answered; this is what it said.
    Seen(T),
    /// It is certainly not there: its processes are dead, or Flink answered
    /// that it does not exist. The text says how drey knows.
    Gone(String),
    /// No trustworthy answer (a timeout, an error, a refused connection while
    /// the processes live). The text says what went wrong.
    Unknown(String),
}

impl<T> Observation<T> {
    /// The value, when seen.
    pub fn seen(&self) -> Option<&T> {
        match self {
            Observation::Seen(v) => Some(v),
            _ => None,
        }
    }

    /// Whether it is certainly gone.
    pub fn is_gone(&self) -> bool {
        matches!(self, Observation::Gone(_))
    }

    /// Whether no trustworthy answer came.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Observation::Unknown(_))
    }

    /// The same observation with the seen value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Observation<U> {
        match self {
            Observation::Seen(v) => Observation::Seen(f(v)),
            Observation::Gone(why) => Observation::Gone(why),
            Observation::Unknown(why) => Observation::Unknown(why),
        }
    }
}

/// Since when a JobManager has not answered, kept in the reconciler's record
/// so the bound survives a restart of drey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// The first unanswered observation.
    pub since: Timestamp,
    /// What the latest unanswered observation failed with.
    pub reason: String,
}

impl Silence {
    /// A silence that starts now.
    pub fn starting(now: Timestamp, reason: impl Into<String>) -> Self {
        Silence {
            since: now,
            reason: reason.into(),
        }
    }

    /// How long it has lasted at `now`.
    pub fn lasted(&self, now: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(now.millis() - self.since.millis()).unwrap_or(0))
    }

    /// Whether it lasted longer than `bound`: the JobManager is hung, and the
    /// observation counts as gone.
    pub fn is_hung(&self, now: Timestamp, bound: Duration) -> bool {
        self.lasted(now) > bound
    }
}

/// Folds an observation into the silence recorded so far: a seen or gone
/// observation ends it, an unknown one starts or extends it. Returns the new
/// silence and the observation to act on, which is [`Observation::Gone`] once
/// the silence has lasted longer than `bound`.
pub fn fold_silence<T>(
    observation: Observation<T>,
    recorded: Option<&Silence>,
    now: Timestamp,
    bound: Duration,
) -> (Option<Silence>, Observation<T>) {
    match observation {
        Observation::Unknown(reason) => {
            let silence = match recorded {
                Some(s) => Silence {
                    since: s.since,
                    reason: reason.clone(),
                },
                None => Silence::starting(now, reason.clone()),
            };
            if silence.is_hung(now, bound) {
                let why = format!(
                    "the JobManager has not answered since {} (longer than {} s): {reason}",
                    silence.since,
                    bound.as_secs()
                );
                (Some(silence), Observation::Gone(why))
            } else {
                (Some(silence), Observation::Unknown(reason))
            }
        }
        other => (None, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap_or_else(Timestamp::now)
    }

    #[test]
    fn unknown_starts_a_silence_and_seen_ends_it() {
        let bound = Duration::from_secs(300);
        let (s, o) = fold_silence::<()>(Observation::Unknown("timeout".into()), None, at(0), bound);
        assert_eq!(o, Observation::Unknown("timeout".into()));
        let s = s.unwrap_or_else(|| Silence::starting(at(-1), ""));
        assert_eq!(s.since, at(0));
        let (s2, o) = fold_silence(Observation::Seen(1), Some(&s), at(1000), bound);
        assert_eq!((s2, o), (None, Observation::Seen(1)));
    }

    #[test]
    fn a_silence_past_the_bound_is_gone_and_keeps_its_start() {
        let bound = Duration::from_secs(300);
        let first = Silence::starting(at(0), "timeout");
        let (s, o) = fold_silence::<()>(
            Observation::Unknown("503".into()),
            Some(&first),
            at(299_000),
            bound,
        );
        assert!(o.is_unknown());
        assert_eq!(s.as_ref().map(|s| s.since), Some(at(0)));
        let (_, o) = fold_silence::<()>(
            Observation::Unknown("503".into()),
            Some(&first),
            at(301_000),
            bound,
        );
        assert!(o.is_gone());
    }

    #[test]
    fn gone_is_gone_at_once() {
        let (s, o) = fold_silence::<()>(
            Observation::Gone("exited".into()),
            Some(&Silence::starting(at(0), "x")),
            at(1),
            Duration::from_secs(300),
        );
        assert_eq!(s, None);
        assert!(o.is_gone());
    }
}
