//! A small blocking HTTP client for the CLI; errors carry the server's message.

use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

/// What went wrong, mapped to the CLI's exit codes.
#[derive(Debug)]
pub enum CliError {
    /// The server refused or failed the request (exit 1).
    Failed(String),
    /// Bad arguments or input (exit 2).
    Usage(String),
    /// The object does not exist (exit 3).
    NotFound(String),
    /// A wait ran out of time (exit 4).
    TimedOut(String),
}

impl CliError {
    /// Prints the message and returns the exit code.
    pub fn report(&self) -> ExitCode {
        let (code, message) = match self {
            CliError::Failed(m) => (1, m),
            CliError::Usage(m) => (2, m),
            CliError::NotFound(m) => (3, m),
            CliError::TimedOut(m) => (4, m),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }
}

/// The drey API as the CLI uses it.
pub struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Api {
    /// A client for `base`.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::Failed(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CliError::Failed(e.to_string()))?;
        Ok(Api {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
            runtime,
        })
    }

    /// Runs a future on the client's runtime (the web UI forwarder).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// GET of a text resource (logs).
    pub fn get_text(&self, path: &str) -> Result<String, CliError> {
        match self.send(reqwest::Method::GET, path, None)? {
            Value::String(text) => Ok(text),
            other => Ok(other.to_string()),
        }
    }

    /// Sends a request; any answer of the server is `Ok` with its status and
    /// body (JSON, or the text as a string), only transport failures are `Err`.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CliError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|e| {
                CliError::Failed(format!("cannot reach drey at {}: {e}", self.base))
            })?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let body = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            Ok(Answer { status, body })
        })
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        self.request(method, path, body)?.into_result()
    }

    /// GET.
    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(reqwest::Method::GET, path, None)
    }

    /// POST with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    /// PUT with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.send(reqwest::Method::PUT, path, Some(body))
    }

    /// DELETE.
    pub fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.send(reqwest::Method::DELETE, path, None)
    }
}

/// The server's answer: status code and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body as JSON (a string when it is not JSON, null when empty).
    pub body: Value,
}

impl Answer {
    /// The body of a 2xx answer; otherwise the error the status maps to, with
    /// the server's message.
    pub fn into_result(self) -> Result<Value, CliError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        Err(self.error())
    }

    /// The server's message as the CLI error for this status.
    pub fn error(&self) -> CliError {
        let message = self
            .body
            .pointer("/errors/0/message")
            .or_else(|| self.body.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}: {}", self.status, self.body));
        match self.status {
            404 => CliError::NotFound(message),
            400 | 422 => CliError::Usage(message),
            _ => CliError::Failed(message),
        }
    }
}
