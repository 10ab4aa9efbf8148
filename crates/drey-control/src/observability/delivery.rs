//! Alert receivers and the deliveries to them. A delivery is stored
//! (Kind::AlertDelivery, state `pending`) before anything is sent; the
//! sender, on the leader, sends every pending one, retrying with
//! exponential backoff (backon) until the receiver takes it, and records
//! the outcome. After a restart of drey the pending ones are sent again, so
//! a receiver may see an alert twice (each carries its delivery id in
//! `X-Drey-Delivery` to tell), never not at all.
//!
//! Receiver URLs are operator settings (loopback is fine); they can hold
//! credentials (a Slack webhook's path is one), so they are never stored,
//! logged or shown: a delivery names its receiver by an id derived from the
//! URL's hash.

use super::alerts::{Alert, AlertStatus};
use crate::{store_error, Core};
use backon::{ExponentialBuilder, Retryable};
use drey_model::{Error, Kind, ObjectKey, Timestamp};
use drey_store::{StoreError, Write, WriteMode};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` when a
/// webhook secret is set.
pub const SIGNATURE_HEADER: &str = "X-Drey-Signature";

/// The header carrying the delivery's id (the same on every retry).
pub const DELIVERY_HEADER: &str = "X-Drey-Delivery";

/// What a receiver speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    /// drey's JSON object per alert (`--alert-webhook`).
    Webhook,
    /// A Slack-compatible incoming webhook (`{"text": ...}`).
    Slack,
    /// Prometheus Alertmanager's `POST /api/v2/alerts`.
    Alertmanager,
}

impl ReceiverKind {
    fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Webhook => "webhook",
            ReceiverKind::Slack => "slack",
            ReceiverKind::Alertmanager => "alertmanager",
        }
    }
}

/// One configured receiver.
#[derive(Clone)]
pub struct Receiver {
    kind: ReceiverKind,
    url: String,
    /// An environment's own receiver: reached under the outbound policy,
    /// signed with its own secret (never the operator's).
    environment: Option<EnvironmentReceiver>,
}

/// What an environment's receiver adds.
#[derive(Clone)]
struct EnvironmentReceiver {
    secret: Option<String>,
}

impl std::fmt::Debug for Receiver {
    /// Never the URL: it may hold a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id())
    }
}

impl Receiver {
    /// A receiver of `kind` at `url`; a URL that is not `http(s)://` is refused.
    pub fn new(kind: ReceiverKind, url: &str) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| format!("{} receiver URL is not a URL: {e}", kind.as_str()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "{} receiver URL must be http:// or https://",
                kind.as_str()
            ));
        }
        let mut url = parsed.to_string();
        if kind == ReceiverKind::Alertmanager && !url.ends_with("/api/v2/alerts") {
            url = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
        }
        Ok(Receiver {
            kind,
            url,
            environment: None,
        })
    }

    /// An environment's receiver of `kind` at `url`, its webhook bodies
    /// signed with `secret` when given.
    pub fn for_environment(
        kind: ReceiverKind,
        url: &str,
        secret: Option<String>,
    ) -> Result<Self, String> {
        Ok(Receiver {
            environment: Some(EnvironmentReceiver {
                secret: secret.filter(|s| !s.is_empty()),
            }),
            ..Receiver::new(kind, url)?
        })
    }

    /// What it speaks.
    pub fn kind(&self) -> ReceiverKind {
        self.kind
    }

    /// Its URL (never to be shown or logged: it may hold a credential).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Whether its webhook bodies are signed with a secret of its own.
    pub fn signed(&self) -> bool {
        self.environment
            .as_ref()
            .is_some_and(|e| e.secret.is_some())
    }

    /// `<kind>-<first 12 hex digits of the URL's SHA-256>`: names the
    /// receiver in deliveries without its URL.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.url.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{}-{hex}", self.kind.as_str())
    }
}

/// The receivers and the webhook signing key.
#[derive(Clone, Default)]
pub struct Receivers {
    receivers: Vec<Receiver>,
    secret: Option<String>,
}

impl std::fmt::Debug for Receivers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receivers")
            .field("receivers", &self.receivers)
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Receivers {
    /// `receivers`, signing webhook bodies with `secret` when set.
    pub fn new(receivers: Vec<Receiver>, secret: Option<String>) -> Self {
        Receivers {
            receivers,
            secret: secret.filter(|s| !s.is_empty()),
        }
    }

    /// The receivers' ids.
    pub fn ids(&self) -> Vec<String> {
        self.receivers.iter().map(Receiver::id).collect()
    }

    fn by_id(&self, id: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.id() == id)
    }
}

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Stored, not yet taken by the receiver.
    Pending,
    /// The receiver took it (a 2xx answer).
    Delivered,
    /// It will not be sent: its receiver is no longer configured.
    Abandoned,
}

/// A stored delivery: the spec (what is sent, to which receiver).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliverySpec {
    /// The receiver's id ([`Receiver::id`]).
    pub receiver: String,
    /// Set when the receiver is this environment's own (of the delivery's
    /// organization), not one of the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The alert as it was when the delivery was made.
    pub alert: Alert,
}

/// A stored delivery's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStatus {
    /// Pending, delivered or abandoned.
    pub state: DeliveryState,
    /// Attempts made (by the current leader, since it started sending).
    #[serde(default)]
    pub attempts: u32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the receiver took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
}

/// Stores the delivery of `alert` (in its current status) to `receiver`,
/// unless it is stored already.
pub(super) async fn store(
    core: &Core,
    alert: &Alert,
    receiver: &str,
    environment: Option<&str>,
) -> Result<(), Error> {
    let name = format!(
        "{}-{}-{}-{receiver}",
        alert.fingerprint,
        alert.starts_at.millis(),
        alert.status.as_str()
    );
    let key = ObjectKey::global(&alert.organization, Kind::AlertDelivery, &name);
    let mut sent = alert.clone();
    sent.notified = false;
    let spec = DeliverySpec {
        receiver: receiver.to_owned(),
        environment: environment.map(str::to_owned),
        alert: sent,
    };
    let mut write = Write::new(key, WriteMode::Create, to_value(&spec)?);
    write.status = Some(to_value(&DeliveryStatus {
        state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        delivered_at: None,
    })?);
    match core.store().write(write).await {
        Ok(_) | Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Internal(e.to_string()))
}

/// Sends the stored deliveries.
pub struct DeliverySender {
    core: Core,
    receivers: Receivers,
    client: reqwest::Client,
    /// For environments' receivers: only where the outbound policy permits.
    checked_client: reqwest::Client,
    wake: Arc<tokio::sync::Notify>,
    in_flight: Arc<Mutex<HashSet<ObjectKey>>>,
    backoff: ExponentialBuilder,
}

/// How long one send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How often pending deliveries are looked for without a wake-up.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

impl DeliverySender {
    /// A sender over the reconcilers' core, woken through `wake` when an
    /// alert stored deliveries.
    pub fn new(core: Core, receivers: Receivers, wake: Arc<tokio::sync::Notify>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let checked_client =
            crate::outbound::checked_client(core.outbound_policy().clone(), Duration::from_secs(5))
                .unwrap_or_default();
        DeliverySender {
            core,
            receivers,
            client,
            checked_client,
            wake,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(30))
                .with_jitter()
                .without_max_times(),
        }
    }

    /// Sends until `stop` turns true; only while this replica leads.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if self.leads() {
                self.send_pending().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    fn leads(&self) -> bool {
        self.core.leadership().is_none_or(|l| l.is_leader())
    }

    /// Starts a sending task for every pending delivery not being sent.
    async fn send_pending(&self) {
        let keys = match self.core.store().keys(Kind::AlertDelivery).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list alert deliveries");
                return;
            }
        };
        for key in keys {
            if self.in_flight.lock().is_ok_and(|f| f.contains(&key)) {
                continue;
            }
            let Ok(Some(object)) = self.core.store().get(&key).await else {
                continue;
            };
            let Ok(status) = serde_json::from_value::<DeliveryStatus>(object.status) else {
                continue;
            };
            if status.state != DeliveryState::Pending {
                continue;
            }
            let Ok(spec) = serde_json::from_value::<DeliverySpec>(object.spec) else {
                continue;
            };
            let receiver = match &spec.environment {
                Some(env) => (self.core.environment_receivers_unsealed(&key.org, env))
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .find(|r| r.id() == spec.receiver),
                None => self.receivers.by_id(&spec.receiver).cloned(),
            };
            let Some(receiver) = receiver else {
                let status = DeliveryStatus {
                    state: DeliveryState::Abandoned,
                    last_error: Some("its receiver is no longer configured".into()),
                    ..status
                };
                let _ = self.record(&key, &status).await;
                continue;
            };
            if let Ok(mut f) = self.in_flight.lock() {
                f.insert(key.clone());
            }
            let sender = self.clone_parts();
            tokio::spawn(async move {
                sender.deliver(&key, &receiver, &spec.alert).await;
                if let Ok(mut f) = sender.in_flight.lock() {
                    f.remove(&key);
                }
            });
        }
    }

    fn clone_parts(&self) -> DeliverySender {
        DeliverySender {
            core: self.core.clone(),
            receivers: self.receivers.clone(),
            client: self.client.clone(),
            checked_client: self.checked_client.clone(),
            wake: self.wake.clone(),
            in_flight: self.in_flight.clone(),
            backoff: self.backoff,
        }
    }

    /// Sends one delivery until the receiver takes it or this replica
    /// stops leading.
    async fn deliver(&self, key: &ObjectKey, receiver: &Receiver, alert: &Alert) {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let last_error = Mutex::new(None::<String>);
        let attempt = || async {
            if !self.leads() {
                return Err(SendError::NotLeading);
            }
            let before = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if before > 0 {
                // What the API shows of a delivery that keeps failing.
                let status = DeliveryStatus {
                    state: DeliveryState::Pending,
                    attempts: before,
                    last_error: last_error.lock().ok().and_then(|l| l.clone()),
                    delivered_at: None,
                };
                let _ = self.record(key, &status).await;
            }
            self.send(key, receiver, alert).await
        };
        let result = attempt
            .retry(self.backoff)
            .when(|e| !matches!(e, SendError::NotLeading))
            .notify(|e, after| {
                tracing::warn!(receiver = %receiver.id(), alert = %alert.alert, delivery = %key.name,
                               error = %e, retry_in = ?after, "alert delivery failed; retrying");
                if let Ok(mut l) = last_error.lock() {
                    *l = Some(e.to_string());
                }
            })
            .await;
        let attempts = attempts.load(std::sync::atomic::Ordering::Relaxed);
        if result.is_ok() {
            tracing::info!(receiver = %receiver.id(), alert = %alert.alert, status = alert.status.as_str(),
                           delivery = %key.name, attempts, "alert delivered");
            let status = DeliveryStatus {
                state: DeliveryState::Delivered,
                attempts,
                last_error: last_error.lock().ok().and_then(|l| l.clone()),
                delivered_at: Some(Timestamp::now()),
            };
            if let Err(e) = self.record(key, &status).await {
                // Sent but not recorded: it will be sent again (a receiver
                // dedupes by X-Drey-Delivery).
                tracing::warn!(delivery = %key.name, error = %e, "cannot record an alert delivery");
            }
        }
    }

    async fn record(&self, key: &ObjectKey, status: &DeliveryStatus) -> Result<(), Error> {
        self.core
            .store()
            .write_status(key, None, to_value(status)?)
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn send(
        &self,
        key: &ObjectKey,
        receiver: &Receiver,
        alert: &Alert,
    ) -> Result<(), SendError> {
        let body = match receiver.kind {
            ReceiverKind::Webhook => webhook_body(alert, &key.name),
            ReceiverKind::Slack => slack_body(alert),
            ReceiverKind::Alertmanager => alertmanager_body(alert),
        };
        let bytes = serde_json::to_vec(&body).map_err(|e| SendError::Failed(e.to_string()))?;
        let (client, secret) = match &receiver.environment {
            Some(own) => (&self.checked_client, own.secret.as_ref()),
            None => (&self.client, self.receivers.secret.as_ref()),
        };
        let mut request = client
            .post(&receiver.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &key.name);
        if receiver.kind == ReceiverKind::Webhook {
            if let Some(secret) = secret {
                request = request.header(SIGNATURE_HEADER, signature(secret, &bytes));
            }
        }
        let sent = tokio::time::timeout(SEND_TIMEOUT, request.body(bytes).send()).await;
        let response = sent
            .map_err(|_| SendError::Failed(format!("no answer within {SEND_TIMEOUT:?}")))?
            .map_err(|e| {
                // reqwest's message names the URL: keep only what went wrong.
                SendError::Failed(e.without_url().to_string())
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::Failed(format!("the receiver answered {status}")))
        }
    }
}

/// Why a send did not go through.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// This replica no longer leads: the new leader sends it.
    #[error("this replica no longer leads")]
    NotLeading,
    /// The receiver did not take it.
    #[error("{0}")]
    Failed(String),
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any size: the error cannot happen.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// drey's webhook body: the alert, and the delivery's id.
fn webhook_body(alert: &Alert, delivery: &str) -> Value {
    let mut body = serde_json::to_value(alert).unwrap_or_else(|_| json!({}));
    if let Some(map) = body.as_object_mut() {
        map.remove("notified");
        map.insert("id".into(), delivery.into());
    }
    body
}

fn slack_body(alert: &Alert) -> Value {
    let icon = match alert.status {
        AlertStatus::Firing => ":rotating_light:",
        AlertStatus::Resolved => ":white_check_mark:",
    };
    json!({
        "text": format!(
            "{icon} [{}] {} — {}",
            alert.status.as_str().to_uppercase(),
            alert.alert,
            alert.message
        )
    })
}

/// Alertmanager's `postableAlerts`: one alert; a resolved one carries
/// `endsAt`.
fn alertmanager_body(alert: &Alert) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), alert.alert.clone().into());
    labels.insert("severity".into(), alert.severity.clone().into());
    labels.insert("organization".into(), alert.organization.clone().into());
    labels.insert("kind".into(), alert.kind.clone().into());
    if !alert.environment.is_empty() {
        labels.insert("environment".into(), alert.environment.clone().into());
    }
    if !alert.application.is_empty() {
        labels.insert("application".into(), alert.application.clone().into());
    }
    if let Some(cluster) = &alert.cluster {
        labels.insert("cluster".into(), cluster.clone().into());
    }
    let mut am = json!({
        "labels": labels,
        "annotations": {"message": alert.message, "summary": alert.message},
        "startsAt": alert.starts_at,
        "generatorURL": "",
    });
    if let (AlertStatus::Resolved, Some(ends), Some(map)) =
        (alert.status, alert.ends_at, am.as_object_mut())
    {
        map.insert(
            "endsAt".into(),
            serde_json::to_value(ends).unwrap_or_default(),
        );
    }
    json!([am])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_ids_hide_the_url_and_alertmanager_gets_its_path() {
        let slack = Receiver::new(ReceiverKind::Slack, "https://hooks.example/T0/B0/secret")
            .map(|r| (r.id(), format!("{r:?}")));
        let (id, debug) = slack.unwrap_or_default();
        assert!(id.starts_with("slack-") && !id.contains("secret"));
        assert!(!debug.contains("secret"));
        let am = Receiver::new(ReceiverKind::Alertmanager, "http://127.0.0.1:9093/");
        assert_eq!(
            am.map(|r| r.url).ok().as_deref(),
            Some("http://127.0.0.1:9093/api/v2/alerts")
        );
        assert!(Receiver::new(ReceiverKind::Webhook, "ftp://x").is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
