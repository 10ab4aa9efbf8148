//! A client for the Flink SQL Gateway REST API: sessions, statements, operations and
//! result pages. It speaks the protocol of Flink's own gateway and of drey's small gateway
//! service (`sql-gateway/`), which implements the same endpoints.
//!
//! The API version is negotiated once per client: the first call that needs it asks
//! `GET /v1/api_versions` and uses the newest version both sides know (`v1` to `v4`; drey's
//! service and Flink 2.x answer `v4`). Only idempotent `GET`s are retried; fetching a result
//! page twice is safe because the gateway answers the same token with the same page.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::client::ClientConfig;
use crate::error::FlinkError;

/// The API versions this client can speak, oldest first.
const KNOWN_VERSIONS: [&str; 4] = ["V1", "V2", "V3", "V4"];

/// How long [`SqlGatewayClient::execute_and_collect`] waits between fetches of a page that
/// is not ready yet.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Identifies a session on the gateway (a UUID string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionHandle(pub String);

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies an operation (one submitted statement) within a session (a UUID string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OperationHandle(pub String);

impl fmt::Display for OperationHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The state of an operation (Flink's `OperationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    /// Created, not yet submitted to a worker.
    Initialized,
    /// Waiting for a worker.
    Pending,
    /// Being executed (for drey's service: also while a query's rows are produced).
    Running,
    /// Done; its results can be fetched.
    Finished,
    /// Cancelled on request.
    Canceled,
    /// Closed; its resources are freed.
    Closed,
    /// Failed; fetching its result returns the error.
    Error,
    /// Ran longer than its execution timeout.
    Timeout,
}

impl OperationStatus {
    /// True when the operation will not change any more by itself (finished, cancelled,
    /// closed, failed or timed out).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            OperationStatus::Initialized | OperationStatus::Pending | OperationStatus::Running
        )
    }

    /// The gateway's name of the status, e.g. `RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Initialized => "INITIALIZED",
            OperationStatus::Pending => "PENDING",
            OperationStatus::Running => "RUNNING",
            OperationStatus::Finished => "FINISHED",
            OperationStatus::Canceled => "CANCELED",
            OperationStatus::Closed => "CLOSED",
            OperationStatus::Error => "ERROR",
            OperationStatus::Timeout => "TIMEOUT",
        }
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /info`: what the gateway runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// `Apache Flink`.
    #[serde(rename = "productName")]
    pub product_name: String,
    /// The Flink version, e.g. `2.3.0`.
    pub version: String,
}

/// What a result page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResultType {
    /// No rows yet: fetch the same token again later.
    NotReady,
    /// Rows (possibly none); fetch the next token for more.
    Payload,
    /// End of the result: no more rows will come.
    Eos,
}

/// One column of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// The column's type as the gateway serializes Flink's `LogicalType`: `type` (e.g.
    /// `INTEGER`, `VARCHAR`), `nullable`, and `length`, `precision`, `scale`,
    /// `elementType`, `keyType`, `valueType` or `fields` where they apply.
    #[serde(rename = "logicalType")]
    pub logical_type: Value,
    /// Column comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// The change a row carries (Flink's `RowKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RowKind {
    /// A new row (`+I`).
    Insert,
    /// The old content of an updated row (`-U`).
    UpdateBefore,
    /// The new content of an updated row (`+U`).
    UpdateAfter,
    /// A deleted row (`-D`).
    Delete,
}

impl RowKind {
    /// The row kind as a number in Flink's order (INSERT 0, UPDATE_BEFORE 1, UPDATE_AFTER 2,
    /// DELETE 3): CMF's `op` codes of statement results.
    pub fn op(self) -> u8 {
        match self {
            RowKind::Insert => 0,
            RowKind::UpdateBefore => 1,
            RowKind::UpdateAfter => 2,
            RowKind::Delete => 3,
        }
    }
}

/// One row of a result page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Insert, update or delete.
    pub kind: RowKind,
    /// The values, one per column, as JSON (numbers, strings, booleans, null; DECIMAL as a
    /// number; DATE/TIME/TIMESTAMP as ISO-8601 strings; ARRAY as an array; MAP and ROW as
    /// objects).
    pub fields: Vec<Value>,
}

/// `GET .../result/{token}`: one page of an operation's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultPage {
    /// Whether rows are not ready yet, here, or at their end.
    pub result_type: ResultType,
    /// True for a query (`SELECT`), false for DDL, `SHOW`, `SET`, `INSERT`, ...
    pub is_query_result: bool,
    /// The Flink job the statement submitted (queries and `INSERT`s).
    pub job_id: Option<String>,
    /// `SUCCESS` or `SUCCESS_WITH_CONTENT`.
    pub result_kind: Option<String>,
    /// The result's columns (empty on a page that is not ready).
    pub columns: Vec<ColumnInfo>,
    /// The rows of this page.
    pub rows: Vec<ResultRow>,
    /// The token of the next page, taken from `nextResultUri`; `None` at the end.
    pub next_token: Option<u64>,
}

/// What [`SqlGatewayClient::execute_and_collect`] gathered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Collected {
    /// The result's columns.
    pub columns: Vec<ColumnInfo>,
    /// The rows of every page fetched.
    pub rows: Vec<ResultRow>,
    /// The Flink job the statement submitted.
    pub job_id: Option<String>,
    /// True for a query.
    pub is_query_result: bool,
    /// `SUCCESS` or `SUCCESS_WITH_CONTENT`.
    pub result_kind: Option<String>,
    /// The token to continue fetching with; `None` when the result ended.
    pub next_token: Option<u64>,
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(rename = "resultType")]
    result_type: ResultType,
    #[serde(rename = "isQueryResult", alias = "queryResult", default)]
    is_query_result: Option<bool>,
    #[serde(rename = "jobID", default)]
    job_id: Option<String>,
    #[serde(rename = "resultKind", default)]
    result_kind: Option<String>,
    #[serde(default)]
    results: Option<RawResults>,
    #[serde(rename = "nextResultUri", default)]
    next_result_uri: Option<String>,
}

#[derive(Deserialize)]
struct RawResults {
    #[serde(default)]
    columns: Vec<ColumnInfo>,
    #[serde(default)]
    data: Vec<ResultRow>,
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<String>,
}

/// An async client for one SQL gateway. Cheap to clone (the connection pool and the
/// negotiated API version are shared).
#[derive(Debug, Clone)]
pub struct SqlGatewayClient {
    base: String,
    http: reqwest::Client,
    config: ClientConfig,
    version: Arc<OnceCell<String>>,
}

/// A catalog factory found in jars: its `type` (factory identifier) and options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogFactoryInfo {
    /// The `type` a `CREATE CATALOG ... WITH ('type' = ...)` names.
    #[serde(rename = "type")]
    pub kind: String,
    /// The factory's class.
    pub class_name: String,
    /// Options that must be set.
    pub required: Vec<FactoryOption>,
    /// Options that may be set.
    pub optional: Vec<FactoryOption>,
}

/// One option of a factory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FactoryOption {
    /// Its key.
    pub key: String,
    /// Its default, if it has one.
    #[serde(default)]
    pub default_value: Option<String>,
    /// What it means (HTML, as Flink formats option descriptions).
    #[serde(default)]
    pub description: String,
}

impl SqlGatewayClient {
    /// A client for the gateway at `base_url` (e.g. `http://127.0.0.1:8083`, with or
    /// without a trailing `/v1`..`/v4`) with the default [`ClientConfig`].
    pub fn new(base_url: &str) -> Result<Self, FlinkError> {
        Self::with_config(base_url, ClientConfig::default())
    }

    /// A client for the gateway at `base_url` with the given timeouts and retries.
    pub fn with_config(base_url: &str, config: ClientConfig) -> Result<Self, FlinkError> {
        let mut base = base_url.trim().to_string();
        while base.ends_with('/') {
            base.pop();
        }
        for v in ["/v1", "/v2", "/v3", "/v4"] {
            if base.ends_with(v) {
                base.truncate(base.len() - v.len());
            }
        }
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FlinkError::Config(format!(
                "base URL must start with http:// or https://, got {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("drey-flink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FlinkError::Config(e.to_string()))?;
        Ok(SqlGatewayClient {
            base,
            http,
            config,
            version: Arc::new(OnceCell::new()),
        })
    }

    /// The base URL (without a version).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    // ------------------------------------------------------------------------------------
    // transport

    /// The version prefix to use (`v4` against Flink 2.x and drey's service), negotiated on
    /// first use.
    async fn version(&self) -> Result<&str, FlinkError> {
        self.version
            .get_or_try_init(|| async {
                let versions = self.api_versions().await?;
                let best = KNOWN_VERSIONS
                    .iter()
                    .rev()
                    .find(|k| versions.iter().any(|v| v.eq_ignore_ascii_case(k)))
                    .copied()
                    .unwrap_or("V1");
                Ok::<String, FlinkError>(best.to_ascii_lowercase())
            })
            .await
            .map(String::as_str)
    }

    /// Sends one request to `path` (already versioned); retries idempotent GETs on
    /// connection failures, timeouts and 502/503/504. Returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, FlinkError> {
        let idempotent = method == Method::GET;
        self.config
            .retrying(idempotent, path, || {
                self.send_once(method.clone(), path, body)
            })
            .await
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, FlinkError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .timeout(self.config.request_timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| FlinkError::transport(url.clone(), e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| FlinkError::transport(url, e))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(status_error(&method, path, status, &bytes))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, FlinkError> {
        let bytes = self.send(method.clone(), path, body.as_ref()).await?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".to_vec()
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|source| FlinkError::Decode {
            method: method.to_string(),
            path: path.to_string(),
            body: snippet(&bytes),
            source,
        })
    }

    /// `/<version>/sessions/<session>` + `rest`.
    async fn session_path(
        &self,
        session: &SessionHandle,
        rest: &str,
    ) -> Result<String, FlinkError> {
        Ok(format!(
            "/{}/sessions/{}{}",
            self.version().await?,
            session.0,
            rest
        ))
    }

    async fn operation_path(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
        rest: &str,
    ) -> Result<String, FlinkError> {
        self.session_path(session, &format!("/operations/{}{}", op.0, rest))
            .await
    }

    // ------------------------------------------------------------------------------------
    // endpoints

    /// `GET /v1/api_versions`: the protocol versions the gateway speaks, e.g. `["V1", ...,
    /// "V4"]`.
    pub async fn api_versions(&self) -> Result<Vec<String>, FlinkError> {
        #[derive(Deserialize)]
        struct Versions {
            versions: Vec<String>,
        }
        let v: Versions = self.call(Method::GET, "/v1/api_versions", None).await?;
        Ok(v.versions)
    }

    /// `GET /v1/info`: product name and Flink version.
    pub async fn info(&self) -> Result<GatewayInfo, FlinkError> {
        self.call(Method::GET, "/v1/info", None).await
    }

    /// `POST /catalog-factories` (drey's gateway only): the catalog factories the jars at
    /// `jars` (paths the gateway can read) bring, with their types and options.
    pub async fn catalog_factories(
        &self,
        jars: &[String],
    ) -> Result<Vec<CatalogFactoryInfo>, FlinkError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            catalog_factories: Vec<CatalogFactoryInfo>,
        }
        let body = json!({ "jars": jars });
        let answer: Answer = (self.call(Method::POST, "/v1/catalog-factories", Some(body))).await?;
        Ok(answer.catalog_factories)
    }

    /// `POST /sessions`: opens a session whose properties (Flink configuration: e.g.
    /// `execution.target`, `rest.address`, `rest.port`) apply to all its statements.
    pub async fn open_session(
        &self,
        name: Option<&str>,
        properties: &BTreeMap<String, String>,
    ) -> Result<SessionHandle, FlinkError> {
        #[derive(Deserialize)]
        struct Opened {
            #[serde(rename = "sessionHandle")]
            session_handle: String,
        }
        let mut body = json!({ "properties": properties });
        if let Some(n) = name {
            body["sessionName"] = json!(n);
        }
        let path = format!("/{}/sessions", self.version().await?);
        let o: Opened = self.call(Method::POST, &path, Some(body)).await?;
        Ok(SessionHandle(o.session_handle))
    }

    /// `GET /sessions/{h}`: the session's current configuration.
    pub async fn session_config(
        &self,
        session: &SessionHandle,
    ) -> Result<BTreeMap<String, String>, FlinkError> {
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            properties: BTreeMap<String, String>,
        }
        let path = self.session_path(session, "").await?;
        let c: Config = self.call(Method::GET, &path, None).await?;
        Ok(c.properties)
    }

    /// `POST /sessions/{h}/configure-session`: runs a DDL, `USE` or `SET` statement in the
    /// session and waits for it.
    pub async fn configure_session(
        &self,
        session: &SessionHandle,
        statement: &str,
    ) -> Result<(), FlinkError> {
        let path = self.session_path(session, "/configure-session").await?;
        self.call::<Value>(Method::POST, &path, Some(json!({ "statement": statement })))
            .await
            .map(drop)
    }

    /// `POST /sessions/{h}/heartbeat`: keeps an otherwise idle session open.
    pub async fn heartbeat(&self, session: &SessionHandle) -> Result<(), FlinkError> {
        let path = self.session_path(session, "/heartbeat").await?;
        self.call::<Value>(Method::POST, &path, None)
            .await
            .map(drop)
    }

    /// `DELETE /sessions/{h}`: closes the session and its operations. Jobs its `INSERT`s
    /// submitted keep running.
    pub async fn close_session(&self, session: &SessionHandle) -> Result<(), FlinkError> {
        let path = self.session_path(session, "").await?;
        self.call::<Value>(Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    /// `POST /sessions/{h}/statements`: submits a statement; it runs asynchronously.
    /// `execution_config` applies to this statement only (e.g. `pipeline.name`,
    /// `execution.state-recovery.path`).
    pub async fn execute_statement(
        &self,
        session: &SessionHandle,
        statement: &str,
        execution_config: &BTreeMap<String, String>,
    ) -> Result<OperationHandle, FlinkError> {
        #[derive(Deserialize)]
        struct Submitted {
            #[serde(rename = "operationHandle")]
            operation_handle: String,
        }
        let mut body = json!({ "statement": statement });
        if !execution_config.is_empty() {
            body["executionConfig"] = json!(execution_config);
        }
        let path = self.session_path(session, "/statements").await?;
        let s: Submitted = self.call(Method::POST, &path, Some(body)).await?;
        Ok(OperationHandle(s.operation_handle))
    }

    /// `GET .../operations/{op}/status`.
    pub async fn operation_status(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
    ) -> Result<OperationStatus, FlinkError> {
        let path = self.operation_path(session, op, "/status").await?;
        self.status_call(Method::GET, &path).await
    }

    /// `POST .../operations/{op}/cancel`: cancels a running operation (and a query's job).
    pub async fn cancel_operation(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
    ) -> Result<OperationStatus, FlinkError> {
        let path = self.operation_path(session, op, "/cancel").await?;
        self.status_call(Method::POST, &path).await
    }

    /// `DELETE .../operations/{op}/close`: closes the operation and frees its results.
    pub async fn close_operation(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
    ) -> Result<OperationStatus, FlinkError> {
        let path = self.operation_path(session, op, "/close").await?;
        self.status_call(Method::DELETE, &path).await
    }

    async fn status_call(&self, method: Method, path: &str) -> Result<OperationStatus, FlinkError> {
        #[derive(Deserialize)]
        struct Status {
            status: OperationStatus,
        }
        let s: Status = self.call(method, path, None).await?;
        Ok(s.status)
    }

    /// `GET .../operations/{op}/result/{token}?rowFormat=JSON`: one page. Fetching token
    /// N+1 releases page N; fetching N again returns the same page. A failed statement
    /// answers an error here ([`FlinkError::root_cause_message`] extracts its message).
    pub async fn fetch_results(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
        token: u64,
    ) -> Result<ResultPage, FlinkError> {
        self.fetch_page(session, op, token, None).await
    }

    async fn fetch_page(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
        token: u64,
        max_rows: Option<usize>,
    ) -> Result<ResultPage, FlinkError> {
        let mut path = self
            .operation_path(session, op, &format!("/result/{token}?rowFormat=JSON"))
            .await?;
        if let Some(max) = max_rows {
            // drey's gateway honours it; Flink's ignores unknown query parameters.
            path.push_str(&format!("&maxFetchSize={}", max.max(1)));
        }
        let raw: RawPage = self.call(Method::GET, &path, None).await?;
        let next_token = match raw.next_result_uri.as_deref() {
            None => None,
            Some(uri) => Some(parse_token(uri).ok_or_else(|| FlinkError::Decode {
                method: "GET".to_string(),
                path: path.clone(),
                body: uri.to_string(),
                source: <serde_json::Error as serde::de::Error>::custom(
                    "nextResultUri does not end in /result/<token>",
                ),
            })?),
        };
        let (columns, rows) = match raw.results {
            Some(r) => (r.columns, r.data),
            None => (Vec::new(), Vec::new()),
        };
        Ok(ResultPage {
            result_type: raw.result_type,
            is_query_result: raw.is_query_result.unwrap_or(false),
            job_id: raw.job_id,
            result_kind: raw.result_kind,
            columns,
            rows,
            next_token,
        })
    }

    /// Submits `statement`, then fetches pages until the end of the result, until
    /// `max_rows` rows were collected, or until `wait` has passed, whichever comes first.
    /// Returns the operation and what was collected; `next_token` continues with
    /// [`SqlGatewayClient::fetch_results`] (`None` at the end). The last page may take the
    /// total a little past `max_rows` against Flink's gateway (it ignores the page size
    /// drey's gateway is asked for). When the statement fails, the operation is closed and
    /// the error returned.
    pub async fn execute_and_collect(
        &self,
        session: &SessionHandle,
        statement: &str,
        execution_config: &BTreeMap<String, String>,
        max_rows: usize,
        wait: Duration,
    ) -> Result<(OperationHandle, Collected), FlinkError> {
        let op = self
            .execute_statement(session, statement, execution_config)
            .await?;
        match self.collect(session, &op, max_rows, wait).await {
            Ok(c) => Ok((op, c)),
            Err(e) => {
                if let Err(close) = self.close_operation(session, &op).await {
                    tracing::debug!(error = %close, "cannot close a failed operation");
                }
                Err(e)
            }
        }
    }

    async fn collect(
        &self,
        session: &SessionHandle,
        op: &OperationHandle,
        max_rows: usize,
        wait: Duration,
    ) -> Result<Collected, FlinkError> {
        let deadline = Instant::now() + wait;
        let mut out = Collected::default();
        let mut token = 0;
        loop {
            let remaining = max_rows.saturating_sub(out.rows.len());
            let page = self.fetch_page(session, op, token, Some(remaining)).await?;
            if !page.columns.is_empty() {
                out.columns = page.columns;
            }
            if page.job_id.is_some() {
                out.job_id = page.job_id;
            }
            if page.result_type != ResultType::NotReady {
                out.is_query_result = page.is_query_result;
                if page.result_kind.is_some() {
                    out.result_kind = page.result_kind;
                }
            }
            let got_rows = !page.rows.is_empty();
            out.rows.extend(page.rows);
            match (page.result_type, page.next_token) {
                (ResultType::Eos, _) | (_, None) => {
                    out.next_token = None;
                    return Ok(out);
                }
                (_, Some(next)) => token = next,
            }
            out.next_token = Some(token);
            if out.rows.len() >= max_rows || Instant::now() >= deadline {
                return Ok(out);
            }
            if !got_rows {
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(POLL_INTERVAL.min(left)).await;
            }
        }
    }
}

/// The token at the end of a `nextResultUri` (`.../result/<token>?rowFormat=JSON`).
fn parse_token(uri: &str) -> Option<u64> {
    let path = uri.split('?').next()?;
    let (_, token) = path.rsplit_once("/result/")?;
    token.trim_end_matches('/').parse().ok()
}

fn status_error(method: &Method, path: &str, status: StatusCode, body: &[u8]) -> FlinkError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { errors }) => FlinkError::Api {
            method: method.to_string(),
            path: path.to_string(),
            status: status.as_u16(),
            errors,
        },
        Err(_) => FlinkError::UnexpectedStatus {
            method: method.to_string(),
            path: path.to_string(),
            status: status.as_u16(),
            body: snippet(body),
        },
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let mut out: String = s.chars().take(500).collect();
    if s.chars().count() > 500 {
        out.push('…');
    }
    out
}

impl FlinkError {
    /// The most specific human message in a gateway's (or JobManager's) error: Calcite's
    /// `SQL parse failed. ...` or `SQL validation failed. ...` line when there is one, else
    /// the message of the last `Caused by:` (without the exception class), else the first
    /// line of the error. So a control plane can show `SQL parse failed. Encountered
    /// "SELEC" at line 1, column 1.` rather than a stack trace. `None` for errors that are
    /// not an answer from Flink (transport, decoding, ...).
    pub fn root_cause_message(&self) -> Option<String> {
        match self {
            FlinkError::Api { errors, .. } => Some(root_cause(errors)),
            FlinkError::OperationFailed { cause, .. } => {
                Some(root_cause(std::slice::from_ref(cause)))
            }
            _ => None,
        }
    }
}

fn root_cause(errors: &[String]) -> String {
    let lines: Vec<&str> = errors
        .iter()
        .filter(|e| e.trim() != "Internal server error.")
        .flat_map(|e| e.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("at ") && !l.starts_with("..."))
        .map(|l| l.trim_start_matches("<Exception on server side:").trim())
        .filter(|l| !l.is_empty() && !l.starts_with("End of exception on server side"))
        .collect();
    let last_cause = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("Caused by:"))
        .map(|cause| strip_exception_class(cause.trim_start_matches("Caused by:").trim()));
    for marker in ["SQL parse failed.", "SQL validation failed."] {
        if let Some(l) = lines.iter().find(|l| l.contains(marker)) {
            if let Some(i) = l.find(marker) {
                let found = l[i..].trim();
                // What Calcite says repeats the cause; anything else (a function
                // that cannot be made, say) is only explained by it.
                return match &last_cause {
                    Some(cause) if !found.contains(cause.as_str()) => {
                        format!("{found} Caused by: {cause}")
                    }
                    _ => found.to_string(),
                };
            }
        }
    }
    if let Some(cause) = last_cause {
        return cause;
    }
    match lines.first() {
        Some(l) => strip_exception_class(l),
        None => errors
            .first()
            .cloned()
            .unwrap_or_else(|| "no error message".to_string()),
    }
}

/// `org.x.FooException: message` -> `message`; a line that is not an exception line, or an
/// exception without a message, is kept as it is.
fn strip_exception_class(line: &str) -> String {
    let (head, rest) = match line.split_once(": ") {
        Some((h, r)) => (h, Some(r)),
        None => (line, None),
    };
    let is_class = head.contains('.')
        && !head.contains(' ')
        && head.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        });
    match rest {
        Some(r) if is_class && !r.trim().is_empty() => r.trim().to_string(),
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(errors: &[&str]) -> FlinkError {
        FlinkError::Api {
            method: "GET".into(),
            path: "/x".into(),
            status: 500,
            errors: errors.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn tokens_come_from_next_result_uri() {
        assert_eq!(
            parse_token("/v3/sessions/a/operations/b/result/7?rowFormat=JSON"),
            Some(7)
        );
        assert_eq!(parse_token("/v1/sessions/a/operations/b/result/0"), Some(0));
        assert_eq!(parse_token("/v1/sessions/a/operations/b"), None);
    }

    #[test]
    fn root_cause_prefers_calcite_then_last_cause() {
        let parse = api(&[
            "Internal server error.",
            "<Exception on server side:\norg.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n\tat a.b(C.java:1)\nCaused by: org.apache.flink.table.api.SqlParserException: SQL parse failed. Encountered \"SELEC\" at line 1, column 1.\nWas expecting one of:\n    <EOF>\n\tat x.y(Z.java:2)\nCaused by: org.apache.flink.sql.parser.impl.ParseException: Encountered \"SELEC\" at line 1, column 1.\n\nEnd of exception on server side>",
        ]);
        assert_eq!(
            parse.root_cause_message().as_deref(),
            Some("SQL parse failed. Encountered \"SELEC\" at line 1, column 1.")
        );
        let cause = api(&[
            "Internal server error.",
            "<Exception on server side:\njava.lang.RuntimeException: outer\n\tat a\nCaused by: org.apache.flink.table.api.ValidationException: Could not find any factory for identifier 'kafkax'\n\tat b\nEnd of exception on server side>",
        ]);
        assert_eq!(
            cause.root_cause_message().as_deref(),
            Some("Could not find any factory for identifier 'kafkax'")
        );
        let function = api(&[
            "<Exception on server side:\norg.apache.flink.table.api.ValidationException: SQL validation failed. Cannot instantiate user-defined function 'f'.\n\tat a\nCaused by: java.lang.reflect.InvocationTargetException\n\tat b\nCaused by: java.lang.IllegalStateException: no licence\n\tat c\nEnd of exception on server side>",
        ]);
        assert_eq!(
            function.root_cause_message().as_deref(),
            Some("SQL validation failed. Cannot instantiate user-defined function 'f'. Caused by: no licence")
        );
        let plain = api(&["Session 'abc' does not exist."]);
        assert_eq!(
            plain.root_cause_message().as_deref(),
            Some("Session 'abc' does not exist.")
        );
        assert_eq!(
            strip_exception_class("java.lang.IllegalStateException"),
            "java.lang.IllegalStateException"
        );
        assert!(FlinkError::Config("x".into())
            .root_cause_message()
            .is_none());
    }

    #[test]
    fn pages_parse_like_the_gateway_writes_them() {
        let raw: RawPage = serde_json::from_str(
            r#"{"resultType":"PAYLOAD","isQueryResult":true,"jobID":"ab","resultKind":"SUCCESS_WITH_CONTENT",
               "results":{"columns":[{"name":"id","logicalType":{"type":"INTEGER","nullable":false},"comment":null}],
               "rowFormat":"JSON","data":[{"kind":"UPDATE_AFTER","fields":[1]}]},
               "nextResultUri":"/v4/sessions/s/operations/o/result/1?rowFormat=JSON"}"#,
        )
        .unwrap();
        assert_eq!(raw.result_type, ResultType::Payload);
        let results = raw.results.unwrap();
        assert_eq!(results.columns[0].logical_type["type"], "INTEGER");
        assert_eq!(results.data[0].kind.op(), 2);
        let not_ready: RawPage = serde_json::from_str(
            r#"{"resultType":"NOT_READY","nextResultUri":"/v1/sessions/s/operations/o/result/0"}"#,
        )
        .unwrap();
        assert_eq!(not_ready.result_type, ResultType::NotReady);
        assert!(not_ready.results.is_none());
        assert!(OperationStatus::Canceled.is_terminal());
        assert!(!OperationStatus::Running.is_terminal());
    }
}
