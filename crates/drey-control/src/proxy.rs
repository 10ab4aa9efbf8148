//! The one pass-through to Flink: requests to the Flink Web UI and REST API
//! of an application's, a statement's or a compute pool's cluster, forwarded
//! to the cluster drey runs for it. Only the method, path, content type and
//! body are forwarded — never drey's credentials.

use crate::access::{Need, Scope};
use crate::Core;
use drey_flink::Method;
use drey_model::{Error, Kind};
use serde_json::Value;

/// A request to forward.
#[derive(Debug)]
pub struct ProxyRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query under the cluster's root, starting with `/`.
    pub path_and_query: String,
    /// The request's content type.
    pub content_type: Option<String>,
    /// The request body.
    pub body: Vec<u8>,
}

/// What the cluster answered.
#[derive(Debug)]
pub struct ProxyResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

/// Whose cluster a request goes to.
#[derive(Clone, Copy, Debug)]
pub enum ProxyTarget<'a> {
    /// An application's own cluster.
    Application(&'a str),
    /// The cluster a statement's job runs on (its pool's, or its own).
    Statement(&'a str),
    /// A SHARED compute pool's session cluster.
    ComputePool(&'a str),
}

/// 409 for what runs on a compute pool that is a registered cluster: that
/// cluster is shared with jobs that are not drey's, so its Web UI is opened
/// where it is served, not through drey.
fn not_forwarded(kind: Kind, name: &str, pool: &drey_model::Object) -> Result<(), Error> {
    match crate::reconcile::pools::existing_cluster_of(pool) {
        Some(cluster) => Err(Error::Conflict(format!(
            "{kind} '{name}' runs on the existing Flink cluster '{cluster}', whose Web UI \
             and REST API drey does not forward; open it at the cluster's own endpoint"
        ))),
        None => Ok(()),
    }
}

impl Core {
    /// The REST URL of the cluster behind `target`; 404 for an unknown
    /// object (in the caller's organization), 503 when no cluster runs.
    async fn proxy_url(
        &self,
        org: &str,
        env: &str,
        target: ProxyTarget<'_>,
    ) -> Result<(Kind, String), Error> {
        let (kind, name, url) = match target {
            ProxyTarget::Application(name) => {
                let app = self.get_application(org, env, name).await?;
                // A cluster drey did not start is shared with jobs that are
                // not this application's (and other owners): its Web UI is
                // opened where it is served, not through drey.
                if let Some(cluster) = crate::reconcile::recorded_of(&app)
                    .deployment
                    .and_then(|d| d.existing_cluster)
                {
                    return Err(Error::Conflict(format!(
                        "application '{name}' runs on the existing Flink cluster '{cluster}', \
                         whose Web UI and REST API drey does not forward; open it at the \
                         cluster's own endpoint"
                    )));
                }
                let url = app
                    .status
                    .pointer("/clusterInfo/restUrl")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (Kind::Application, name, url)
            }
            ProxyTarget::ComputePool(name) => {
                let pool = self.get_compute_pool(org, env, name).await?;
                not_forwarded(Kind::ComputePool, name, &pool)?;
                let url = pool
                    .status
                    .pointer("/clusterInfo/restUrl")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (Kind::ComputePool, name, url)
            }
            ProxyTarget::Statement(name) => {
                let statement = self.get_statement(org, env, name).await?;
                if let Some(pool) = statement
                    .spec
                    .get("computePoolName")
                    .and_then(Value::as_str)
                {
                    if let Ok(pool) = self.get_compute_pool(org, env, pool).await {
                        not_forwarded(Kind::Statement, name, &pool)?;
                    }
                }
                let url = crate::reconcile::statements::record_of(&statement)
                    .run
                    .map(|r| r.rest_url);
                (Kind::Statement, name, url)
            }
        };
        let url = url.ok_or_else(|| {
            Error::Unavailable(format!("{kind} '{name}' has no running Flink cluster"))
        })?;
        Ok((kind, url))
    }

    /// Forwards a request to the Flink cluster of an application.
    pub async fn proxy_application(
        &self,
        org: &str,
        env: &str,
        app: &str,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, Error> {
        self.proxy(org, env, ProxyTarget::Application(app), request)
            .await
    }

    /// Forwards a request to the Flink cluster behind `target`.
    pub async fn proxy(
        &self,
        org: &str,
        env: &str,
        target: ProxyTarget<'_>,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, Error> {
        let reads = matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS");
        let need = if reads { Need::Read } else { Need::Write };
        self.allow(need, Scope::FlinkUi { org, env })?;
        // Where the cluster is, whoever may reach its UI (a pre-signed URL's
        // holder reads nothing else of the environment).
        let (kind, url) = self.as_drey().proxy_url(org, env, target).await?;
        let url = url.as_str();
        let client = self
            .flink_client(url, drey_flink::ClientConfig::default())
            .await?;
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Error::BadRequest(format!("unsupported method {}", request.method)))?;
        let body = (!request.body.is_empty()).then_some(request.body);
        let answer = client
            .raw(
                method,
                &request.path_and_query,
                request.content_type.as_deref(),
                body,
            )
            .await
            .map_err(|e| {
                Error::Unavailable(format!(
                    "the Flink cluster of this {kind} does not answer: {e}"
                ))
            })?;
        Ok(ProxyResponse {
            status: answer.status,
            content_type: answer.content_type,
            body: answer.body,
        })
    }
}
