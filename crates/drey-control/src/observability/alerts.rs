//! Alert rules and the alerts they raise. Each round of the job watch
//! evaluates the rules over what it saw; an alert fires when its condition
//! holds and resolves when the subject is seen again without it (an
//! *unknown* look resolves nothing). Every change is written to the store
//! (Kind::Alert, one object per alert's fingerprint) and, before anything is
//! sent, one delivery per receiver (Kind::AlertDelivery): the sender
//! ([`super::delivery`]) delivers what is stored, so a restart of drey
//! between the two loses nothing.

use super::{JobLook, Observations, Subject, SubjectKind};
use crate::access::{Need, Scope};
use crate::{store_error, Core};
use drey_model::cluster::{ClusterHealth, ConnectionState};
use drey_model::loose::view;
use drey_model::object::app_scope;
use drey_model::savepoint::{SavepointState, SavepointStatus};
use drey_model::{Error, Kind, ObjectKey, Timestamp};
use drey_store::{StoreError, Write, WriteMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The rules' thresholds (`drey server --alert-*`).
#[derive(Clone, Debug)]
pub struct AlertRules {
    /// `JobRestarting` fires when a job restarted more than this many times
    /// within [`AlertRules::restarts_window`].
    pub restarts_max: u64,
    /// See [`AlertRules::restarts_max`].
    pub restarts_window: Duration,
    /// `CheckpointTooOld` fires when a running job's newest completed
    /// checkpoint is older than this.
    pub checkpoint_age_max: Duration,
    /// `JobManagerNotAnswering` fires when a JobManager whose processes
    /// live has not answered for this long.
    pub jobmanager_silent_after: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            restarts_max: 3,
            restarts_window: Duration::from_secs(600),
            checkpoint_age_max: Duration::from_secs(600),
            jobmanager_silent_after: Duration::from_secs(30),
        }
    }
}

/// The rules, by the name an alert carries.
pub mod rule {
    /// The job is FAILED.
    pub const JOB_FAILED: &str = "JobFailed";
    /// The job restarted more than N times in the window.
    pub const JOB_RESTARTING: &str = "JobRestarting";
    /// The newest completed checkpoint is older than the threshold.
    pub const CHECKPOINT_TOO_OLD: &str = "CheckpointTooOld";
    /// The newest checkpoint attempt failed.
    pub const CHECKPOINTS_FAILING: &str = "CheckpointsFailing";
    /// The application's newest savepoint failed.
    pub const SAVEPOINT_FAILED: &str = "SavepointFailed";
    /// The cluster the job ran on is gone (its processes died).
    pub const CLUSTER_LOST: &str = "ClusterLost";
    /// A registered Flink cluster is DISCONNECTED.
    pub const CLUSTER_DISCONNECTED: &str = "ClusterDisconnected";
    /// The JobManager's processes live but it does not answer.
    pub const JOBMANAGER_NOT_ANSWERING: &str = "JobManagerNotAnswering";

    /// Rules about a subject's job, judged whenever its job is seen.
    pub(super) const JOB: [&str; 4] = [
        JOB_FAILED,
        JOB_RESTARTING,
        CHECKPOINT_TOO_OLD,
        CHECKPOINTS_FAILING,
    ];
    /// Rules about a subject's cluster, judged whenever its cluster is
    /// seen or found gone.
    pub(super) const CLUSTER: [&str; 2] = [CLUSTER_LOST, JOBMANAGER_NOT_ANSWERING];
}

/// `firing` or `resolved`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// It held and no longer does.
    Resolved,
}

impl AlertStatus {
    /// As the JSON says it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// An alert: the stored object's spec, and (without `notified`) what every
/// receiver is sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The alert's identity: rule and subject, hashed.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: AlertStatus,
    /// The rule (`JobFailed`, ...).
    pub alert: String,
    /// `critical` or `warning`.
    pub severity: String,
    /// The subject's organization.
    pub organization: String,
    /// The subject's environment (empty for a registered cluster).
    pub environment: String,
    /// The application's or statement's name (empty for a cluster).
    pub application: String,
    /// `application`, `statement` or `cluster`.
    pub kind: String,
    /// The cluster concerned, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// What happened, for people.
    pub message: String,
    /// When the condition began to hold.
    pub starts_at: Timestamp,
    /// When it stopped holding (resolved alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// Whether the deliveries of the current status were stored.
    #[serde(default)]
    pub notified: bool,
}

/// A condition that holds now.
#[derive(Clone, Debug)]
struct Condition {
    rule: &'static str,
    severity: &'static str,
    organization: String,
    environment: String,
    application: String,
    kind: &'static str,
    cluster: Option<String>,
    message: String,
}

impl Condition {
    fn fingerprint(&self) -> String {
        fingerprint(
            self.rule,
            &self.organization,
            &self.environment,
            self.kind,
            &self.application,
        )
    }
}

fn fingerprint(rule: &str, org: &str, env: &str, kind: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{rule}\n{org}\n{env}\n{kind}\n{name}").as_bytes());
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", rule.to_ascii_lowercase())
}

/// Evaluates the rules, round after round; keeps what the rules need to
/// remember (restart counts over the window, since when a JobManager is
/// silent) in memory: a new leader starts counting afresh.
pub struct AlertEvaluator {
    rules: AlertRules,
    receivers: Vec<String>,
    wake_sender: std::sync::Arc<tokio::sync::Notify>,
    restarts: HashMap<Subject, VecDeque<(Instant, u64)>>,
    silent_since: HashMap<Subject, Instant>,
}

impl AlertEvaluator {
    /// An evaluator with `rules`, storing a delivery for each of the
    /// receivers' ids and waking the sender through `wake_sender`.
    pub fn new(
        rules: AlertRules,
        receivers: Vec<String>,
        wake_sender: std::sync::Arc<tokio::sync::Notify>,
    ) -> Self {
        AlertEvaluator {
            rules,
            receivers,
            wake_sender,
            restarts: HashMap::new(),
            silent_since: HashMap::new(),
        }
    }

    /// One round: what holds now against what is stored; a store error
    /// skips the rest of the round (the next one catches up).
    pub async fn evaluate(&mut self, core: &Core, observations: &Observations) {
        let (holding, judged) = self.conditions(core, observations).await;
        if let Err(e) = self.record(core, observations, holding, judged).await {
            tracing::warn!(error = %e, "cannot record alerts; trying again next round");
        }
    }

    /// The conditions that hold, and the fingerprints whose condition was
    /// judged this round (what holds among them fires, the rest resolves).
    async fn conditions(
        &mut self,
        core: &Core,
        observations: &Observations,
    ) -> (Vec<Condition>, BTreeSet<String>) {
        let now = Instant::now();
        let mut holding = Vec::new();
        let mut judged = BTreeSet::new();
        let mut seen_subjects = BTreeSet::new();
        for (subject, look) in &observations.jobs {
            seen_subjects.insert(subject.clone());
            let cond = |rule: &'static str, severity: &'static str, message: String| Condition {
                rule,
                severity,
                organization: subject.organization.clone(),
                environment: subject.environment.clone(),
                application: subject.name.clone(),
                kind: subject.kind.as_str(),
                cluster: match look {
                    JobLook::Seen(f) => Some(f.cluster.clone()),
                    _ => None,
                },
                message,
            };
            let judge = |rules: &[&str], judged: &mut BTreeSet<String>| {
                for rule in rules {
                    judged.insert(fingerprint(
                        rule,
                        &subject.organization,
                        &subject.environment,
                        subject.kind.as_str(),
                        &subject.name,
                    ));
                }
            };
            let what = match subject.kind {
                SubjectKind::Application => "Application",
                SubjectKind::Statement => "Statement",
            };
            let label = format!(
                "{what} '{}' in environment '{}'",
                subject.name, subject.environment
            );
            if !matches!(look, JobLook::NotAnswering(_)) {
                self.silent_since.remove(subject);
            }
            match look {
                JobLook::Seen(f) => {
                    judge(&rule::JOB, &mut judged);
                    judge(&rule::CLUSTER, &mut judged);
                    if f.state == "FAILED" {
                        holding.push(cond(
                            rule::JOB_FAILED,
                            "critical",
                            format!("{label}: job {} FAILED", f.job_id),
                        ));
                    }
                    let history = self.restarts.entry(subject.clone()).or_default();
                    history.push_back((now, f.restarts));
                    while history
                        .front()
                        .is_some_and(|(t, _)| now.duration_since(*t) > self.rules.restarts_window)
                    {
                        history.pop_front();
                    }
                    let oldest = history.front().map_or(f.restarts, |(_, n)| *n);
                    let recent = f.restarts.saturating_sub(oldest);
                    if recent > self.rules.restarts_max {
                        holding.push(cond(
                            rule::JOB_RESTARTING,
                            "warning",
                            format!(
                                "{label}: job {} restarted {recent} times in the last {} s",
                                f.job_id,
                                self.rules.restarts_window.as_secs()
                            ),
                        ));
                    }
                    let running = f.state == "RUNNING";
                    if let Some(c) = f.last_checkpoint.as_ref().filter(|_| running) {
                        if c.age_seconds > self.rules.checkpoint_age_max.as_secs_f64() {
                            holding.push(cond(
                                rule::CHECKPOINT_TOO_OLD,
                                "warning",
                                format!(
                                    "{label}: the newest checkpoint of job {} is {:.0} s old",
                                    f.job_id, c.age_seconds
                                ),
                            ));
                        }
                    }
                    if running && f.checkpoint_failing {
                        holding.push(cond(
                            rule::CHECKPOINTS_FAILING,
                            "warning",
                            format!(
                                "{label}: checkpoints of job {} are failing ({} failed so far)",
                                f.job_id, f.checkpoints_failed
                            ),
                        ));
                    }
                }
                JobLook::NotDeployed => {
                    judge(&rule::JOB, &mut judged);
                    judge(&rule::CLUSTER, &mut judged);
                    self.restarts.remove(subject);
                }
                JobLook::Failed { job_id, detail } => {
                    judge(&rule::JOB, &mut judged);
                    judge(&rule::CLUSTER, &mut judged);
                    self.restarts.remove(subject);
                    holding.push(cond(
                        rule::JOB_FAILED,
                        "critical",
                        format!("{label}: job {job_id} FAILED: {detail}"),
                    ));
                }
                JobLook::ClusterLost(why) => {
                    judge(&rule::CLUSTER, &mut judged);
                    holding.push(cond(
                        rule::CLUSTER_LOST,
                        "critical",
                        format!("{label}: its Flink cluster is lost: {why}"),
                    ));
                }
                JobLook::NotAnswering(why) => {
                    judge(&rule::CLUSTER, &mut judged);
                    let since = *self.silent_since.entry(subject.clone()).or_insert(now);
                    let silent = now.duration_since(since);
                    if silent >= self.rules.jobmanager_silent_after {
                        holding.push(cond(
                            rule::JOBMANAGER_NOT_ANSWERING,
                            "critical",
                            format!(
                                "{label}: its JobManager has not answered for {} s: {why}",
                                silent.as_secs()
                            ),
                        ));
                    }
                }
                JobLook::Unknown(_) => {}
            }
            if subject.kind == SubjectKind::Application {
                match newest_savepoint(core, subject).await {
                    Ok(state) => {
                        judged.insert(fingerprint(
                            rule::SAVEPOINT_FAILED,
                            &subject.organization,
                            &subject.environment,
                            subject.kind.as_str(),
                            &subject.name,
                        ));
                        if let Some((name, SavepointState::Failed, error)) = state {
                            holding.push(cond(
                                rule::SAVEPOINT_FAILED,
                                "warning",
                                format!(
                                    "{label}: savepoint '{name}' failed: {}",
                                    error.unwrap_or_else(|| "no reason given".into())
                                ),
                            ));
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot read savepoints for alerts"),
                }
            }
        }
        self.restarts.retain(|s, _| seen_subjects.contains(s));
        self.silent_since.retain(|s, _| seen_subjects.contains(s));
        for (org, name, health) in registered_clusters(core).await {
            let cond = Condition {
                rule: rule::CLUSTER_DISCONNECTED,
                severity: "critical",
                organization: org,
                environment: String::new(),
                application: String::new(),
                kind: "cluster",
                cluster: Some(name.clone()),
                message: format!(
                    "Flink cluster '{name}' is DISCONNECTED: {}",
                    health.message.clone().unwrap_or_default()
                ),
            };
            let fp = fingerprint(
                rule::CLUSTER_DISCONNECTED,
                &cond.organization,
                "",
                "cluster",
                &name,
            );
            judged.insert(fp);
            if health.state == ConnectionState::Disconnected {
                holding.push(cond);
            }
        }
        (holding, judged)
    }

    /// Writes what changed: new alerts fire, judged ones no longer holding
    /// resolve, and alerts of subjects that no longer exist resolve.
    async fn record(
        &self,
        core: &Core,
        observations: &Observations,
        holding: Vec<Condition>,
        judged: BTreeSet<String>,
    ) -> Result<(), Error> {
        let stored = stored_alerts(core).await?;
        let holding: BTreeMap<String, Condition> =
            holding.into_iter().map(|c| (c.fingerprint(), c)).collect();
        let subjects: BTreeSet<(String, String, String, String)> = observations
            .jobs
            .iter()
            .map(|(s, _)| {
                (
                    s.organization.clone(),
                    s.environment.clone(),
                    s.kind.as_str().to_owned(),
                    s.name.clone(),
                )
            })
            .collect();
        let now = Timestamp::now();
        for (fp, condition) in &holding {
            match stored.get(fp) {
                Some(a) if a.status == AlertStatus::Firing => {
                    if !a.notified {
                        self.notify(core, a).await?;
                    }
                }
                _ => {
                    let alert = Alert {
                        fingerprint: fp.clone(),
                        status: AlertStatus::Firing,
                        alert: condition.rule.to_owned(),
                        severity: condition.severity.to_owned(),
                        organization: condition.organization.clone(),
                        environment: condition.environment.clone(),
                        application: condition.application.clone(),
                        kind: condition.kind.to_owned(),
                        cluster: condition.cluster.clone(),
                        message: condition.message.clone(),
                        starts_at: now,
                        ends_at: None,
                        notified: false,
                    };
                    tracing::info!(alert = %alert.alert, organization = %alert.organization,
                                   environment = %alert.environment, application = %alert.application,
                                   "alert firing");
                    write_alert(core, &alert).await?;
                    self.notify(core, &alert).await?;
                }
            }
        }
        for (fp, alert) in &stored {
            if holding.contains_key(fp) {
                continue;
            }
            if alert.status == AlertStatus::Resolved {
                if !alert.notified {
                    self.notify(core, alert).await?;
                }
                continue;
            }
            let subject_gone = alert.kind != "cluster"
                && observations.at.is_some()
                && !subjects.contains(&(
                    alert.organization.clone(),
                    alert.environment.clone(),
                    alert.kind.clone(),
                    alert.application.clone(),
                ));
            if !judged.contains(fp) && !subject_gone {
                continue;
            }
            let mut resolved = alert.clone();
            resolved.status = AlertStatus::Resolved;
            resolved.ends_at = Some(now);
            resolved.notified = false;
            if subject_gone {
                resolved.message = format!("{} (it no longer exists)", alert.message);
            }
            tracing::info!(alert = %resolved.alert, organization = %resolved.organization,
                           environment = %resolved.environment, application = %resolved.application,
                           "alert resolved");
            write_alert(core, &resolved).await?;
            self.notify(core, &resolved).await?;
        }
        Ok(())
    }

    /// Stores one delivery per receiver (idempotent: a delivery's name is
    /// fixed by the alert, its status and the receiver), then marks the
    /// alert notified, then wakes the sender.
    async fn notify(&self, core: &Core, alert: &Alert) -> Result<(), Error> {
        for receiver in &self.receivers {
            super::delivery::store(core, alert, receiver, None).await?;
        }
        let env = alert.environment.as_str();
        if !env.is_empty() {
            for receiver in (core.environment_receivers_unsealed(&alert.organization, env)).await? {
                super::delivery::store(core, alert, &receiver.id(), Some(env)).await?;
            }
        }
        let mut notified = alert.clone();
        notified.notified = true;
        write_alert(core, &notified).await?;
        self.wake_sender.notify_one();
        Ok(())
    }
}

/// The name, state and error of the application's newest savepoint.
async fn newest_savepoint(
    core: &Core,
    subject: &Subject,
) -> Result<Option<(String, SavepointState, Option<String>)>, Error> {
    let page = core
        .store()
        .list(&drey_store::ListQuery {
            org: subject.organization.clone(),
            kind: Kind::Savepoint,
            scope: Some(app_scope(&subject.environment, &subject.name)),
            filters: Vec::new(),
            page: drey_model::PageRequest {
                page: 0,
                size: 1,
                sort: vec![drey_model::SortOrder {
                    key: drey_model::SortKey::CreationTime,
                    direction: drey_model::SortDirection::Desc,
                }],
            },
        })
        .await
        .map_err(store_error)?;
    Ok(page.items.into_iter().next().and_then(|o| {
        let status: SavepointStatus = view(&o.status);
        status.state.map(|s| (o.meta.name, s, status.error))
    }))
}

/// Registered `flink` clusters with the health the cluster watch recorded.
async fn registered_clusters(core: &Core) -> Vec<(String, String, ClusterHealth)> {
    let Ok(keys) = core.store().keys(Kind::Cluster).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in keys {
        if let Ok(Some(c)) = core.store().get(&key).await {
            if let Some(health) = ClusterHealth::of(&c.status) {
                out.push((key.org.clone(), key.name.clone(), health));
            }
        }
    }
    out
}

/// Every stored alert, by fingerprint.
pub async fn stored_alerts(core: &Core) -> Result<BTreeMap<String, Alert>, Error> {
    let keys = core.store().keys(Kind::Alert).await.map_err(store_error)?;
    let mut out = BTreeMap::new();
    for key in keys {
        if let Some(object) = core.store().get(&key).await.map_err(store_error)? {
            if let Ok(alert) = serde_json::from_value::<Alert>(object.spec) {
                out.insert(key.name.clone(), alert);
            }
        }
    }
    Ok(out)
}

async fn write_alert(core: &Core, alert: &Alert) -> Result<(), Error> {
    let key = ObjectKey::global(&alert.organization, Kind::Alert, &alert.fingerprint);
    let spec = serde_json::to_value(alert).map_err(|e| Error::Internal(e.to_string()))?;
    match core
        .store()
        .write(Write::new(key, WriteMode::Upsert, spec))
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

impl Core {
    /// The stored alerts (`Kind::Alert`) or their deliveries
    /// (`Kind::AlertDelivery`) the caller may read: an application's or
    /// statement's to the readers of its environment, a cluster's to the
    /// readers of its organization.
    pub async fn alert_records(&self, kind: Kind) -> Result<Vec<drey_model::Object>, Error> {
        if !matches!(kind, Kind::Alert | Kind::AlertDelivery) {
            return Err(Error::Internal(format!("{kind:?} is no alert record")));
        }
        let mut out = Vec::new();
        for key in self.store().keys(kind).await.map_err(store_error)? {
            let Some(object) = self.store().get(&key).await.map_err(store_error)? else {
                continue;
            };
            let subject = match kind {
                Kind::Alert => object.spec.clone(),
                _ => object.spec.get("alert").cloned().unwrap_or_default(),
            };
            let env = subject.get("environment").and_then(Value::as_str);
            let scope = match env.filter(|e| !e.is_empty()) {
                Some(env) => Scope::env(&key.org, env),
                None => Scope::Organization(&key.org),
            };
            if self.allow(Need::Read, scope).is_ok() {
                out.push(object);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_by_rule_and_subject_and_are_stable() {
        let a = fingerprint("JobFailed", "o", "e", "application", "x");
        assert_eq!(a, fingerprint("JobFailed", "o", "e", "application", "x"));
        assert_ne!(a, fingerprint("JobFailed", "o", "e", "statement", "x"));
        assert_ne!(
            a,
            fingerprint("JobRestarting", "o", "e", "application", "x")
        );
        assert!(a.starts_with("jobfailed-"));
    }
}
