//! The one pass-through to Flink: requests to an application's Flink Web UI
//! and REST API, forwarded to the cluster drey runs for it. Only the method,
//! path, content type and body are forwarded — never drey's credentials.

use crate::Core;
use drey_flink::{FlinkClient, Method};
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

impl Core {
    /// Forwards a request to the Flink cluster of an application.
    pub async fn proxy_application(
        &self,
        org: &str,
        env: &str,
        app: &str,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, Error> {
        let application = self.get_application(org, env, app).await?;
        let url = application
            .status
            .pointer("/clusterInfo/restUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::Unavailable(format!(
                    "{} '{app}' has no running Flink cluster",
                    Kind::Application
                ))
            })?;
        let client =
            FlinkClient::new(url).map_err(|e| Error::Unavailable(format!("Flink cluster: {e}")))?;
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
                    "the Flink cluster of {} '{app}' does not answer: {e}",
                    Kind::Application
                ))
            })?;
        Ok(ProxyResponse {
            status: answer.status,
            content_type: answer.content_type,
            body: answer.body,
        })
    }
}
