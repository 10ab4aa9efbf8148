//! The JobManager REST client.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FlinkError;
use crate::types::*;

/// Timeouts and retry policy of a [`FlinkClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long a whole request (connect, send, answer) may take, except jar uploads.
    pub request_timeout: Duration,
    /// How long a jar upload may take.
    pub upload_timeout: Duration,
    /// How many times an idempotent `GET` is retried after a connection failure, a timeout
    /// or a 502/503/504 answer. Other methods are never retried.
    pub get_retries: u32,
    /// Delay before the first retry; doubled for each further retry.
    pub retry_backoff: Duration,
    /// How the client proves itself to a reverse proxy in front of the
    /// JobManager, and which TLS certificates it trusts.
    pub access: Access,
}

/// How the client proves itself and whom it trusts: `Authorization` and TLS
/// trust for a cluster drey did not start (behind a reverse proxy, on
/// HTTPS); a client certificate and the cluster's own CA for the clusters
/// drey starts (REST SSL with mutual authentication). Secrets are never
/// printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The `Authorization` header value (`Basic ...`, `Bearer ...`).
    pub authorization: Option<String>,
    /// PEM certificates to trust besides the system's (a private CA).
    pub ca_pem: Option<Vec<u8>>,
    /// Trust `ca_pem` only, not the system's roots: a cluster whose CA drey
    /// made for it alone.
    pub ca_pem_only: bool,
    /// The client certificate and its private key (PEM, one file) presented
    /// to a server that asks for one.
    pub identity_pem: Option<Vec<u8>>,
    /// Accept any certificate: spelled out by whoever registered the cluster.
    pub insecure_tls: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("ca_pem_only", &self.ca_pem_only)
            .field(
                "identity_pem",
                &self.identity_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure_tls", &self.insecure_tls)
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(15),
            upload_timeout: Duration::from_secs(120),
            get_retries: 2,
            retry_backoff: Duration::from_millis(200),
            access: Access::default(),
        }
    }
}

impl ClientConfig {
    /// Runs `attempt`, and when `idempotent` runs it again after a failure worth
    /// retrying (unreachable, 502/503/504) up to `get_retries` times, the delay
    /// starting at `retry_backoff` and doubling. Both clients send through it.
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        idempotent: bool,
        what: &str,
        attempt: F,
    ) -> Result<T, FlinkError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, FlinkError>>,
    {
        use backon::{ExponentialBuilder, Retryable};
        let retries = if idempotent { self.get_retries } else { 0 };
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.retry_backoff)
            .with_factor(2.0)
            .without_max_delay()
            .with_max_times(retries as usize);
        attempt
            .retry(policy)
            .when(FlinkError::is_retryable)
            .notify(|e, delay| tracing::debug!(what, ?delay, error = %e, "retrying"))
            .await
    }

    /// The longest a single call can take before it returns [`FlinkError::Unreachable`]
    /// for a cluster that does not answer (all attempts and backoffs included).
    pub fn worst_case_get(&self) -> Duration {
        let mut total = Duration::ZERO;
        let mut backoff = self.retry_backoff;
        for attempt in 0..=self.get_retries {
            total += self.request_timeout;
            if attempt < self.get_retries {
                total += backoff;
                backoff *= 2;
            }
        }
        total
    }
}

/// A typed async client for one Flink cluster's JobManager REST API (`/v1`).
///
/// Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct FlinkClient {
    base: String,
    http: reqwest::Client,
    config: ClientConfig,
}

/// Flink's answer to [`FlinkClient::raw`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The body of a request.
enum Body<'a> {
    None,
    Json(&'a Value),
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<String>,
}

impl FlinkClient {
    /// A client for the REST endpoint at `base_url` (e.g. `http://localhost:8081`) with the
    /// default [`ClientConfig`].
    pub fn new(base_url: impl Into<String>) -> Result<Self, FlinkError> {
        Self::with_config(base_url, ClientConfig::default())
    }

    /// A client for the REST endpoint at `base_url` with the given timeouts and retries.
    pub fn with_config(
        base_url: impl Into<String>,
        config: ClientConfig,
    ) -> Result<Self, FlinkError> {
        let mut base: String = base_url.into();
        while base.ends_with('/') {
            base.pop();
        }
        if base.ends_with("/v1") {
            base.truncate(base.len() - 3);
        }
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FlinkError::Config(format!(
                "base URL must start with http:// or https://, got {base:?}"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("drey-flink/", env!("CARGO_PKG_VERSION")));
        if let Some(value) = &config.access.authorization {
            let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                FlinkError::Config("the Authorization header value is not valid".into())
            })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        if let Some(pem) = &config.access.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| FlinkError::Config(format!("the CA file is not PEM: {e}")))?;
            if certificates.is_empty() {
                return Err(FlinkError::Config(
                    "the CA file holds no certificate".into(),
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
            if config.access.ca_pem_only {
                builder = builder.tls_built_in_root_certs(false);
            }
        }
        if let Some(pem) = &config.access.identity_pem {
            let identity = reqwest::Identity::from_pem(pem).map_err(|_| {
                FlinkError::Config("the client certificate or its key is not valid PEM".into())
            })?;
            builder = builder.identity(identity);
        }
        if config.access.insecure_tls {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| FlinkError::Config(e.to_string()))?;
        Ok(FlinkClient { base, http, config })
    }

    /// The base URL (without `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The timeouts and retry policy.
    pub fn client_config(&self) -> &ClientConfig {
        &self.config
    }

    // ------------------------------------------------------------------------------------
    // transport

    fn url(&self, path: &str) -> String {
        format!("{}/v1{}", self.base, path)
    }

    /// Sends one request; retries idempotent GETs. Returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Vec<u8>, FlinkError> {
        let idempotent = method == Method::GET;
        self.config
            .retrying(idempotent, path, || {
                self.send_once(method.clone(), path, query, &body)
            })
            .await
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<Vec<u8>, FlinkError> {
        let url = self.url(path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .timeout(self.config.request_timeout);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Body::Json(v) = body {
            req = req.json(v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| FlinkError::transport(url.clone(), e))?;
        Self::read(method, path, url, resp).await
    }

    async fn read(
        method: Method,
        path: &str,
        url: String,
        resp: reqwest::Response,
    ) -> Result<Vec<u8>, FlinkError> {
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| FlinkError::transport(url, e))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(Self::status_error(&method, path, status, &bytes))
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

    fn decode<T: DeserializeOwned>(
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Result<T, FlinkError> {
        serde_json::from_slice(body).map_err(|source| FlinkError::Decode {
            method: method.to_string(),
            path: path.to_string(),
            body: snippet(body),
            source,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, FlinkError> {
        self.get_query(path, &[]).await
    }

    async fn get_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, FlinkError> {
        let body = self.send(Method::GET, path, query, Body::None).await?;
        Self::decode(&Method::GET, path, &body)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, FlinkError> {
        let b = match &body {
            Some(v) => Body::Json(v),
            None => Body::None,
        };
        let bytes = self.send(method.clone(), path, query, b).await?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".to_vec()
        } else {
            bytes
        };
        Self::decode(&method, path, &bytes)
    }

    fn to_value<B: Serialize>(body: &B) -> Result<Value, FlinkError> {
        serde_json::to_value(body).map_err(|e| FlinkError::Config(format!("request body: {e}")))
    }

    fn metrics_query(get: &[&str]) -> Vec<(&'static str, String)> {
        if get.is_empty() {
            Vec::new()
        } else {
            vec![("get", get.join(","))]
        }
    }

    // ------------------------------------------------------------------------------------
    // pass-through

    /// Sends a request as is to `path_and_query` under the base URL (no `/v1` added, so the
    /// web UI's paths work too) and returns Flink's answer whatever its status: the one
    /// pass-through, for a REST/UI proxy. Only `GET`s are retried, and only on transport
    /// failures and 502/503/504.
    pub async fn raw(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, FlinkError> {
        let url = format!("{}{}", self.base, path_and_query);
        let retries = if method == Method::GET {
            self.config.get_retries
        } else {
            0
        };
        let mut backoff = self.config.retry_backoff;
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .timeout(self.config.upload_timeout);
            if let Some(ct) = content_type {
                req = req.header(reqwest::header::CONTENT_TYPE, ct);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let content_type = resp
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    resp.bytes()
                        .await
                        .map(|b| RawResponse {
                            status,
                            content_type,
                            body: b.to_vec(),
                        })
                        .map_err(|e| FlinkError::transport(url.clone(), e))
                }
                Err(e) => Err(FlinkError::transport(url.clone(), e)),
            };
            let retryable = match &result {
                Err(FlinkError::Unreachable { .. }) => true,
                Ok(r) => matches!(r.status, 502..=504),
                Err(_) => false,
            };
            if !retryable || attempt >= retries {
                return result;
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }

    // ------------------------------------------------------------------------------------
    // cluster

    /// `GET /overview`: TaskManagers, slots and job counts.
    pub async fn overview(&self) -> Result<ClusterOverview, FlinkError> {
        self.get("/overview").await
    }

    /// `GET /config`: the web dashboard configuration (version, features).
    pub async fn config(&self) -> Result<DashboardConfig, FlinkError> {
        self.get("/config").await
    }

    /// `DELETE /cluster`: shuts the whole cluster down (JobManager and TaskManagers exit).
    pub async fn shutdown_cluster(&self) -> Result<(), FlinkError> {
        self.call::<Value>(Method::DELETE, "/cluster", &[], None)
            .await
            .map(drop)
    }

    /// `GET /datasets`: cluster data sets (intermediate results kept across jobs).
    pub async fn datasets(&self) -> Result<Value, FlinkError> {
        self.get("/datasets").await
    }

    /// `DELETE /datasets/:datasetid`: starts deleting a data set; poll with
    /// [`FlinkClient::dataset_delete_status`].
    pub async fn delete_dataset(&self, dataset_id: &str) -> Result<TriggerResponse, FlinkError> {
        self.call(
            Method::DELETE,
            &format!("/datasets/{dataset_id}"),
            &[],
            None,
        )
        .await
    }

    /// `GET /datasets/delete/:triggerid`.
    pub async fn dataset_delete_status(
        &self,
        trigger_id: &str,
    ) -> Result<AsyncOperation<OperationInfo>, FlinkError> {
        self.get(&format!("/datasets/delete/{trigger_id}")).await
    }

    // ------------------------------------------------------------------------------------
    // jobmanager

    /// `GET /jobmanager/config`: the JobManager's effective configuration.
    pub async fn jobmanager_config(&self) -> Result<Vec<ConfigEntry>, FlinkError> {
        self.get("/jobmanager/config").await
    }

    /// `GET /jobmanager/environment`: JVM and classpath of the JobManager.
    pub async fn jobmanager_environment(&self) -> Result<Value, FlinkError> {
        self.get("/jobmanager/environment").await
    }

    /// `GET /jobmanager/logs`: the JobManager's log files.
    pub async fn jobmanager_logs(&self) -> Result<LogList, FlinkError> {
        self.get("/jobmanager/logs").await
    }

    /// `GET /jobmanager/logs/:logfile`: one JobManager log file as text. Not part of Flink's
    /// published REST spec, but served by the web frontend.
    pub async fn jobmanager_log_file(&self, name: &str) -> Result<String, FlinkError> {
        let path = format!("/jobmanager/logs/{name}");
        let body = self.send(Method::GET, &path, &[], Body::None).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET /jobmanager/metrics?get=...`: JobManager metrics; with an empty `get`, the list
    /// of available metric ids.
    pub async fn jobmanager_metrics(&self, get: &[&str]) -> Result<Value, FlinkError> {
        self.get_query("/jobmanager/metrics", &Self::metrics_query(get))
            .await
    }

    /// `GET /jobmanager/thread-dump`.
    pub async fn jobmanager_thread_dump(&self) -> Result<Value, FlinkError> {
        self.get("/jobmanager/thread-dump").await
    }

    // ------------------------------------------------------------------------------------
    // taskmanagers

    /// `GET /taskmanagers`: the registered TaskManagers.
    pub async fn taskmanagers(&self) -> Result<TaskManagerList, FlinkError> {
        self.get("/taskmanagers").await
    }

    /// `GET /taskmanagers/metrics?get=...`: metrics aggregated over all TaskManagers.
    pub async fn taskmanagers_metrics(&self, get: &[&str]) -> Result<Value, FlinkError> {
        self.get_query("/taskmanagers/metrics", &Self::metrics_query(get))
            .await
    }

    /// `GET /taskmanagers/:taskmanagerid`: details of one TaskManager.
    pub async fn taskmanager(&self, id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/taskmanagers/{id}")).await
    }

    /// `GET /taskmanagers/:taskmanagerid/logs`: the TaskManager's log files.
    pub async fn taskmanager_logs(&self, id: &str) -> Result<LogList, FlinkError> {
        self.get(&format!("/taskmanagers/{id}/logs")).await
    }

    /// `GET /taskmanagers/:taskmanagerid/logs/:logfile`: one TaskManager log file as text.
    pub async fn taskmanager_log_file(&self, id: &str, name: &str) -> Result<String, FlinkError> {
        let path = format!("/taskmanagers/{id}/logs/{name}");
        let body = self.send(Method::GET, &path, &[], Body::None).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET /taskmanagers/:taskmanagerid/metrics?get=...`.
    pub async fn taskmanager_metrics(&self, id: &str, get: &[&str]) -> Result<Value, FlinkError> {
        self.get_query(
            &format!("/taskmanagers/{id}/metrics"),
            &Self::metrics_query(get),
        )
        .await
    }

    /// `GET /taskmanagers/:taskmanagerid/thread-dump`.
    pub async fn taskmanager_thread_dump(&self, id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/taskmanagers/{id}/thread-dump")).await
    }

    // ------------------------------------------------------------------------------------
    // jars

    /// `GET /jars`: the uploaded jars.
    pub async fn jars(&self) -> Result<JarList, FlinkError> {
        self.get("/jars").await
    }

    /// `POST /jars/upload` (multipart, field `jarfile`): uploads a jar from a local file.
    pub async fn upload_jar(&self, path: &Path) -> Result<JarUploadResponse, FlinkError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| FlinkError::Io {
                path: path.display().to_string(),
                source,
            })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "job.jar".to_string());
        self.upload_jar_bytes(&name, bytes).await
    }

    /// `POST /jars/upload` (multipart, field `jarfile`): uploads jar bytes under a file name.
    /// Flink requires the name to end in `.jar`.
    pub async fn upload_jar_bytes(
        &self,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<JarUploadResponse, FlinkError> {
        let path = "/jars/upload";
        let url = self.url(path);
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_string())
            .mime_str("application/x-java-archive")
            .map_err(|e| FlinkError::Config(e.to_string()))?;
        let form = reqwest::multipart::Form::new().part("jarfile", part);
        let resp = self
            .http
            .post(&url)
            .timeout(self.config.upload_timeout)
            .multipart(form)
            .send()
            .await
            .map_err(|e| FlinkError::transport(url.clone(), e))?;
        let body = Self::read(Method::POST, path, url, resp).await?;
        Self::decode(&Method::POST, path, &body)
    }

    /// `POST /jars/:jarid/plan`: the job graph the jar would produce.
    pub async fn jar_plan(&self, jar_id: &str, req: &JarRunRequest) -> Result<Value, FlinkError> {
        let body = Self::to_value(req)?;
        self.call(
            Method::POST,
            &format!("/jars/{jar_id}/plan"),
            &[],
            Some(body),
        )
        .await
    }

    /// `POST /jars/:jarid/run`: submits the jar's job. Pass `job_id` so a retry finds the job
    /// it already started (Flink answers 409-like errors for a duplicate id).
    pub async fn run_jar(
        &self,
        jar_id: &str,
        req: &JarRunRequest,
    ) -> Result<JarRunResponse, FlinkError> {
        let body = Self::to_value(req)?;
        self.call(
            Method::POST,
            &format!("/jars/{jar_id}/run"),
            &[],
            Some(body),
        )
        .await
    }

    /// `DELETE /jars/:jarid`.
    pub async fn delete_jar(&self, jar_id: &str) -> Result<(), FlinkError> {
        self.call::<Value>(Method::DELETE, &format!("/jars/{jar_id}"), &[], None)
            .await
            .map(drop)
    }

    // ------------------------------------------------------------------------------------
    // jobs

    /// `GET /jobs`: every job id with its state.
    pub async fn jobs(&self) -> Result<JobIdList, FlinkError> {
        self.get("/jobs").await
    }

    /// `GET /jobs/overview`: every job with name, state, times and task counts.
    pub async fn jobs_overview(&self) -> Result<JobsOverview, FlinkError> {
        self.get("/jobs/overview").await
    }

    /// `GET /jobs/metrics?get=...`: metrics aggregated over all jobs.
    pub async fn jobs_metrics(&self, get: &[&str]) -> Result<Value, FlinkError> {
        self.get_query("/jobs/metrics", &Self::metrics_query(get))
            .await
    }

    /// `GET /jobs/:jobid`: job details.
    pub async fn job(&self, job_id: &str) -> Result<JobDetails, FlinkError> {
        self.get(&format!("/jobs/{job_id}")).await
    }

    /// `GET /jobs/:jobid/status`: just the job's state.
    pub async fn job_status(&self, job_id: &str) -> Result<JobStatusInfo, FlinkError> {
        self.get(&format!("/jobs/{job_id}/status")).await
    }

    /// `GET /jobs/:jobid/config`: the job's execution configuration.
    pub async fn job_config(&self, job_id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/config")).await
    }

    /// `GET /jobs/:jobid/jobmanager/config`: the JobManager configuration of the job.
    pub async fn job_jobmanager_config(&self, job_id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/jobmanager/config")).await
    }

    /// `GET /jobs/:jobid/exceptions`: the job's exception history.
    pub async fn job_exceptions(&self, job_id: &str) -> Result<JobExceptions, FlinkError> {
        self.get(&format!("/jobs/{job_id}/exceptions")).await
    }

    /// `GET /jobs/:jobid/execution-result`: the final result once the job is globally
    /// terminal (`IN_PROGRESS` before).
    pub async fn job_execution_result(
        &self,
        job_id: &str,
    ) -> Result<JobExecutionResult, FlinkError> {
        self.get(&format!("/jobs/{job_id}/execution-result")).await
    }

    /// `GET /jobs/:jobid/metrics?get=...`.
    pub async fn job_metrics(&self, job_id: &str, get: &[&str]) -> Result<Value, FlinkError> {
        self.get_query(
            &format!("/jobs/{job_id}/metrics"),
            &Self::metrics_query(get),
        )
        .await
    }

    /// `GET /jobs/:jobid/plan`: the job's dataflow plan.
    pub async fn job_plan(&self, job_id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/plan")).await
    }

    /// `GET /jobs/:jobid/accumulators`.
    pub async fn job_accumulators(&self, job_id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/accumulators")).await
    }

    /// `GET /jobs/:jobid/checkpoints/config`: the job's checkpointing configuration.
    pub async fn checkpoint_config(&self, job_id: &str) -> Result<CheckpointConfig, FlinkError> {
        self.get(&format!("/jobs/{job_id}/checkpoints/config"))
            .await
    }

    /// `GET /jobs/:jobid/checkpoints`: checkpoint statistics.
    pub async fn checkpoints(&self, job_id: &str) -> Result<CheckpointStatistics, FlinkError> {
        self.get(&format!("/jobs/{job_id}/checkpoints")).await
    }

    /// `GET /jobs/:jobid/checkpoints/details/:checkpointid`.
    pub async fn checkpoint_details(
        &self,
        job_id: &str,
        checkpoint_id: i64,
    ) -> Result<Value, FlinkError> {
        self.get(&format!(
            "/jobs/{job_id}/checkpoints/details/{checkpoint_id}"
        ))
        .await
    }

    /// `GET /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid`.
    pub async fn checkpoint_subtask_details(
        &self,
        job_id: &str,
        checkpoint_id: i64,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!(
            "/jobs/{job_id}/checkpoints/details/{checkpoint_id}/subtasks/{vertex_id}"
        ))
        .await
    }

    /// `POST /jobs/:jobid/checkpoints`: triggers a checkpoint; poll with
    /// [`FlinkClient::checkpoint_status`].
    pub async fn trigger_checkpoint(
        &self,
        job_id: &str,
        req: &CheckpointRequest,
    ) -> Result<TriggerResponse, FlinkError> {
        let body = Self::to_value(req)?;
        self.call(
            Method::POST,
            &format!("/jobs/{job_id}/checkpoints"),
            &[],
            Some(body),
        )
        .await
    }

    /// `GET /jobs/:jobid/checkpoints/:triggerid`.
    pub async fn checkpoint_status(
        &self,
        job_id: &str,
        trigger_id: &str,
    ) -> Result<AsyncOperation<CheckpointInfo>, FlinkError> {
        self.get(&format!("/jobs/{job_id}/checkpoints/{trigger_id}"))
            .await
    }

    /// `PATCH /jobs/:jobid/rescaling?parallelism=n`. Flink 2.3 answers with an error
    /// ("Rescaling is temporarily disabled"); use
    /// [`FlinkClient::set_resource_requirements`] with the adaptive scheduler instead.
    pub async fn rescale(
        &self,
        job_id: &str,
        parallelism: u32,
    ) -> Result<TriggerResponse, FlinkError> {
        self.call(
            Method::PATCH,
            &format!("/jobs/{job_id}/rescaling"),
            &[("parallelism", parallelism.to_string())],
            None,
        )
        .await
    }

    /// `GET /jobs/:jobid/resource-requirements` (adaptive scheduler only; the default
    /// scheduler answers with an error).
    pub async fn resource_requirements(
        &self,
        job_id: &str,
    ) -> Result<ResourceRequirements, FlinkError> {
        self.get(&format!("/jobs/{job_id}/resource-requirements"))
            .await
    }

    /// `PUT /jobs/:jobid/resource-requirements` (adaptive scheduler only).
    pub async fn set_resource_requirements(
        &self,
        job_id: &str,
        req: &ResourceRequirements,
    ) -> Result<(), FlinkError> {
        let body = Self::to_value(req)?;
        self.call::<Value>(
            Method::PUT,
            &format!("/jobs/{job_id}/resource-requirements"),
            &[],
            Some(body),
        )
        .await
        .map(drop)
    }

    /// `POST /jobs/:jobid/savepoints`: triggers a savepoint; poll with
    /// [`FlinkClient::savepoint_status`] or [`FlinkClient::wait_for_savepoint`].
    pub async fn trigger_savepoint(
        &self,
        job_id: &str,
        req: &SavepointRequest,
    ) -> Result<TriggerResponse, FlinkError> {
        let body = Self::to_value(req)?;
        self.call(
            Method::POST,
            &format!("/jobs/{job_id}/savepoints"),
            &[],
            Some(body),
        )
        .await
    }

    /// `GET /jobs/:jobid/savepoints/:triggerid`: status of a savepoint or of a
    /// stop-with-savepoint (both are polled here).
    pub async fn savepoint_status(
        &self,
        job_id: &str,
        trigger_id: &str,
    ) -> Result<AsyncOperation<SavepointInfo>, FlinkError> {
        self.get(&format!("/jobs/{job_id}/savepoints/{trigger_id}"))
            .await
    }

    /// `POST /jobs/:jobid/stop`: stops the job with a savepoint; poll with
    /// [`FlinkClient::savepoint_status`] or [`FlinkClient::wait_for_savepoint`].
    pub async fn stop_with_savepoint(
        &self,
        job_id: &str,
        req: &StopRequest,
    ) -> Result<TriggerResponse, FlinkError> {
        let body = Self::to_value(req)?;
        self.call(
            Method::POST,
            &format!("/jobs/{job_id}/stop"),
            &[],
            Some(body),
        )
        .await
    }

    /// `PATCH /jobs/:jobid?mode=cancel`: cancels the job (no savepoint).
    pub async fn cancel_job(&self, job_id: &str) -> Result<(), FlinkError> {
        self.call::<Value>(
            Method::PATCH,
            &format!("/jobs/{job_id}"),
            &[("mode", "cancel".to_string())],
            None,
        )
        .await
        .map(drop)
    }

    /// `POST /savepoint-disposal`: deletes a savepoint's files; poll with
    /// [`FlinkClient::savepoint_disposal_status`].
    pub async fn dispose_savepoint(
        &self,
        savepoint_path: &str,
    ) -> Result<TriggerResponse, FlinkError> {
        self.call(
            Method::POST,
            "/savepoint-disposal",
            &[],
            Some(serde_json::json!({ "savepoint-path": savepoint_path })),
        )
        .await
    }

    /// `GET /savepoint-disposal/:triggerid`.
    pub async fn savepoint_disposal_status(
        &self,
        trigger_id: &str,
    ) -> Result<AsyncOperation<OperationInfo>, FlinkError> {
        self.get(&format!("/savepoint-disposal/{trigger_id}")).await
    }

    // ------------------------------------------------------------------------------------
    // vertices

    /// `GET /jobs/:jobid/vertices/:vertexid`: vertex details with its subtasks.
    pub async fn vertex(&self, job_id: &str, vertex_id: &str) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/vertices/{vertex_id}"))
            .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/backpressure`.
    pub async fn vertex_backpressure(
        &self,
        job_id: &str,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/vertices/{vertex_id}/backpressure"))
            .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/metrics?get=...`.
    pub async fn vertex_metrics(
        &self,
        job_id: &str,
        vertex_id: &str,
        get: &[&str],
    ) -> Result<Value, FlinkError> {
        self.get_query(
            &format!("/jobs/{job_id}/vertices/{vertex_id}/metrics"),
            &Self::metrics_query(get),
        )
        .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasktimes`.
    pub async fn vertex_subtask_times(
        &self,
        job_id: &str,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/vertices/{vertex_id}/subtasktimes"))
            .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/taskmanagers`.
    pub async fn vertex_taskmanagers(
        &self,
        job_id: &str,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/vertices/{vertex_id}/taskmanagers"))
            .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/watermarks`.
    pub async fn vertex_watermarks(
        &self,
        job_id: &str,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/vertices/{vertex_id}/watermarks"))
            .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/accumulators`.
    pub async fn vertex_accumulators(
        &self,
        job_id: &str,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!("/jobs/{job_id}/vertices/{vertex_id}/accumulators"))
            .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasks/accumulators`.
    pub async fn vertex_subtasks_accumulators(
        &self,
        job_id: &str,
        vertex_id: &str,
    ) -> Result<Value, FlinkError> {
        self.get(&format!(
            "/jobs/{job_id}/vertices/{vertex_id}/subtasks/accumulators"
        ))
        .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasks/metrics?get=...`: metrics aggregated
    /// over the vertex's subtasks.
    pub async fn vertex_subtasks_metrics(
        &self,
        job_id: &str,
        vertex_id: &str,
        get: &[&str],
    ) -> Result<Value, FlinkError> {
        self.get_query(
            &format!("/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics"),
            &Self::metrics_query(get),
        )
        .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex`: the current attempt.
    pub async fn subtask(
        &self,
        job_id: &str,
        vertex_id: &str,
        subtask: u32,
    ) -> Result<Value, FlinkError> {
        self.get(&format!(
            "/jobs/{job_id}/vertices/{vertex_id}/subtasks/{subtask}"
        ))
        .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics?get=...`.
    pub async fn subtask_metrics(
        &self,
        job_id: &str,
        vertex_id: &str,
        subtask: u32,
        get: &[&str],
    ) -> Result<Value, FlinkError> {
        self.get_query(
            &format!("/jobs/{job_id}/vertices/{vertex_id}/subtasks/{subtask}/metrics"),
            &Self::metrics_query(get),
        )
        .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt`.
    pub async fn subtask_attempt(
        &self,
        job_id: &str,
        vertex_id: &str,
        subtask: u32,
        attempt: u32,
    ) -> Result<Value, FlinkError> {
        self.get(&format!(
            "/jobs/{job_id}/vertices/{vertex_id}/subtasks/{subtask}/attempts/{attempt}"
        ))
        .await
    }

    /// `GET /jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt/accumulators`.
    pub async fn subtask_attempt_accumulators(
        &self,
        job_id: &str,
        vertex_id: &str,
        subtask: u32,
        attempt: u32,
    ) -> Result<Value, FlinkError> {
        self.get(&format!(
            "/jobs/{job_id}/vertices/{vertex_id}/subtasks/{subtask}/attempts/{attempt}/accumulators"
        ))
        .await
    }

    // ------------------------------------------------------------------------------------
    // helpers

    /// Polls an asynchronous operation at `poll` until it completes or `timeout` passes.
    /// A completed operation with a failure cause becomes [`FlinkError::OperationFailed`].
    async fn wait_for<T, F, Fut>(
        &self,
        what: String,
        timeout: Duration,
        mut poll: F,
    ) -> Result<T, FlinkError>
    where
        T: OperationOutcome,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<AsyncOperation<T>, FlinkError>>,
    {
        let start = Instant::now();
        let mut interval = Duration::from_millis(100);
        loop {
            let op = poll().await?;
            if op.is_completed() {
                return match op.operation {
                    Some(outcome) => match outcome.failure() {
                        Some(cause) => Err(FlinkError::OperationFailed {
                            operation: what,
                            cause: cause.summary(),
                        }),
                        None => Ok(outcome),
                    },
                    None => Err(FlinkError::OperationFailed {
                        operation: what,
                        cause: "completed without a result".to_string(),
                    }),
                };
            }
            if start.elapsed() >= timeout {
                return Err(FlinkError::OperationTimeout {
                    operation: what,
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(interval.min(timeout.saturating_sub(start.elapsed()))).await;
            interval = (interval * 2).min(Duration::from_secs(1));
        }
    }

    /// Waits for a savepoint or stop-with-savepoint to complete and returns its location.
    pub async fn wait_for_savepoint(
        &self,
        job_id: &str,
        trigger_id: &str,
        timeout: Duration,
    ) -> Result<String, FlinkError> {
        let what = format!("savepoint {trigger_id} of job {job_id}");
        let info = self
            .wait_for(what.clone(), timeout, || {
                self.savepoint_status(job_id, trigger_id)
            })
            .await?;
        info.location.ok_or(FlinkError::OperationFailed {
            operation: what,
            cause: "completed without a location".to_string(),
        })
    }

    /// Waits for a manually triggered checkpoint and returns its id.
    pub async fn wait_for_checkpoint(
        &self,
        job_id: &str,
        trigger_id: &str,
        timeout: Duration,
    ) -> Result<i64, FlinkError> {
        let what = format!("checkpoint {trigger_id} of job {job_id}");
        let info = self
            .wait_for(what.clone(), timeout, || {
                self.checkpoint_status(job_id, trigger_id)
            })
            .await?;
        info.checkpoint_id.ok_or(FlinkError::OperationFailed {
            operation: what,
            cause: "completed without a checkpoint id".to_string(),
        })
    }

    /// Waits for a savepoint disposal to complete.
    pub async fn wait_for_savepoint_disposal(
        &self,
        trigger_id: &str,
        timeout: Duration,
    ) -> Result<(), FlinkError> {
        self.wait_for(format!("savepoint disposal {trigger_id}"), timeout, || {
            self.savepoint_disposal_status(trigger_id)
        })
        .await
        .map(drop)
    }

    /// Polls the job's state until `done(state)` holds or `timeout` passes; returns the
    /// last state seen. A job the cluster does not know (yet) is polled again until the
    /// deadline, then the 404 is returned.
    pub async fn wait_for_job_state(
        &self,
        job_id: &str,
        timeout: Duration,
        done: impl Fn(JobState) -> bool,
    ) -> Result<JobState, FlinkError> {
        let start = Instant::now();
        loop {
            match self.job_status(job_id).await {
                Ok(s) if done(s.status) => return Ok(s.status),
                Ok(s) if start.elapsed() >= timeout => {
                    return Err(FlinkError::OperationTimeout {
                        operation: format!(
                            "job {job_id} reaching the wanted state (last {})",
                            s.status
                        ),
                        waited: start.elapsed(),
                    })
                }
                Err(e) if !e.is_not_found() || start.elapsed() >= timeout => return Err(e),
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised() {
        let c = FlinkClient::new("http://localhost:8081/v1/").unwrap();
        assert_eq!(c.base_url(), "http://localhost:8081");
        assert_eq!(c.url("/overview"), "http://localhost:8081/v1/overview");
        assert!(FlinkClient::new("localhost:8081").is_err());
    }

    #[test]
    fn worst_case_is_bounded() {
        let cfg = ClientConfig {
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(1),
            upload_timeout: Duration::from_secs(1),
            get_retries: 2,
            retry_backoff: Duration::from_millis(100),
            access: Access::default(),
        };
        assert_eq!(cfg.worst_case_get(), Duration::from_millis(3300));
    }

    /// A one-connection-per-request HTTP server answering with the given statuses in turn;
    /// returns its URL and a counter of requests served.
    fn scripted_server(
        statuses: Vec<u16>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let served = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let n = served.fetch_add(1, Ordering::SeqCst);
                let status = statuses.get(n).copied().unwrap_or(200);
                let body = if status == 200 {
                    r#"{"taskmanagers":1,"flink-version":"2.3.0"}"#.to_string()
                } else {
                    r#"{"errors":["Service temporarily unavailable due to an ongoing leader election. Please refresh."]}"#.to_string()
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, count)
    }

    #[tokio::test]
    async fn only_gets_are_retried() {
        use std::sync::atomic::Ordering;
        let config = ClientConfig {
            retry_backoff: Duration::from_millis(10),
            ..ClientConfig::default()
        };
        // GET: two 503s, then 200.
        let (url, count) = scripted_server(vec![503, 503]);
        let c = FlinkClient::with_config(url, config.clone()).unwrap();
        let ov = c.overview().await.unwrap();
        assert_eq!(ov.taskmanagers, 1);
        assert_eq!(count.load(Ordering::SeqCst), 3);
        // GET: more 503s than retries: Flink's error, typed, after 1 + 2 attempts.
        let (url, count) = scripted_server(vec![503, 503, 503, 503]);
        let c = FlinkClient::with_config(url, config.clone()).unwrap();
        let err = c.overview().await.unwrap_err();
        assert_eq!(err.status(), Some(503));
        assert!(err.flink_message().unwrap().contains("leader election"));
        assert_eq!(count.load(Ordering::SeqCst), 3);
        // PATCH: never retried.
        let (url, count) = scripted_server(vec![503, 503]);
        let c = FlinkClient::with_config(url, config).unwrap();
        let err = c.cancel_job(&"0".repeat(32)).await.unwrap_err();
        assert_eq!(err.status(), Some(503));
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn closed_port_is_unreachable_quickly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let c = FlinkClient::new(format!("http://127.0.0.1:{port}")).unwrap();
        let start = Instant::now();
        let err = c.overview().await.unwrap_err();
        assert!(err.is_unreachable(), "{err:?}");
        assert!(start.elapsed() < c.client_config().worst_case_get());
    }
}
