//! The one error type of the Flink REST client.

use std::time::Duration;

/// Everything that can go wrong when talking to a Flink JobManager.
#[derive(Debug, thiserror::Error)]
pub enum FlinkError {
    /// Flink answered with an error status and its `{"errors": [...]}` body.
    #[error("Flink {method} {path} returned {status}: {}", summarize(.errors))]
    Api {
        /// HTTP method of the request.
        method: String,
        /// Request path (without the base URL).
        path: String,
        /// HTTP status code Flink answered with.
        status: u16,
        /// Flink's messages, verbatim (often with a Java stack trace).
        errors: Vec<String>,
    },
    /// Flink answered with an error status and a body that is not Flink's error shape.
    #[error("Flink {method} {path} returned {status}: {body}")]
    UnexpectedStatus {
        /// HTTP method of the request.
        method: String,
        /// Request path.
        path: String,
        /// HTTP status code.
        status: u16,
        /// The first part of the body.
        body: String,
    },
    /// The cluster did not answer: connection refused, connect or request timeout.
    #[error("Flink at {url} is unreachable")]
    Unreachable {
        /// The URL that was requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Any other transport error (bad response framing, TLS, ...).
    #[error("HTTP request to {url} failed")]
    Transport {
        /// The URL that was requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Flink answered 2xx with a body this client cannot read.
    #[error("cannot decode Flink's answer to {method} {path}: {body}")]
    Decode {
        /// HTTP method of the request.
        method: String,
        /// Request path.
        path: String,
        /// The first part of the body.
        body: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// An asynchronous operation (savepoint, stop-with-savepoint, ...) completed with a failure.
    #[error("Flink operation {operation} failed: {cause}")]
    OperationFailed {
        /// What was being waited for, e.g. `savepoint of job <id>`.
        operation: String,
        /// Flink's failure cause (its class and first stack-trace line when present).
        cause: String,
    },
    /// An asynchronous operation did not complete before the deadline.
    #[error("Flink operation {operation} did not complete within {waited:?}")]
    OperationTimeout {
        /// What was being waited for.
        operation: String,
        /// How long it was waited for.
        waited: Duration,
    },
    /// A local file (e.g. a jar to upload) could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client could not be built (bad TLS setup or base URL).
    #[error("cannot build the Flink client: {0}")]
    Config(String),
}

impl FlinkError {
    /// The HTTP status Flink answered with, if it answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            FlinkError::Api { status, .. } | FlinkError::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// True for a failure worth retrying an idempotent request after: nothing
    /// answered in time, or a proxy's 502/503/504.
    pub fn is_retryable(&self) -> bool {
        matches!(self, FlinkError::Unreachable { .. }) || matches!(self.status(), Some(502..=504))
    }

    /// A transport failure: [`FlinkError::Unreachable`] when nothing answered in time.
    pub(crate) fn transport(url: String, e: reqwest::Error) -> FlinkError {
        if e.is_connect() || e.is_timeout() {
            FlinkError::Unreachable { url, source: e }
        } else {
            FlinkError::Transport { url, source: e }
        }
    }

    /// True when Flink answered that the thing does not exist: a 404
    /// (unknown job, jar, trigger id, ...), or the 500 some endpoints (e.g.
    /// `/jobs/{id}/status`) answer with a `FlinkJobNotFoundException`.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
            || (self.status() == Some(500)
                && self
                    .flink_errors()
                    .iter()
                    .any(|e| e.contains("FlinkJobNotFoundException")))
    }

    /// True when the cluster could not be reached (connection refused or timed out).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, FlinkError::Unreachable { .. })
    }

    /// Flink's messages when Flink answered with its error body; empty otherwise.
    pub fn flink_errors(&self) -> &[String] {
        match self {
            FlinkError::Api { errors, .. } => errors,
            _ => &[],
        }
    }

    /// A one-line summary of Flink's message (the most specific line of its error body),
    /// suitable for a user-facing error.
    pub fn flink_message(&self) -> Option<String> {
        match self {
            FlinkError::Api { errors, .. } => Some(summarize(errors)),
            _ => None,
        }
    }
}

/// Picks the most telling line of Flink's `errors`: Flink often sends
/// `["Internal server error.", "<Exception on server side: ...>"]` or one string holding a
/// whole stack trace. The summary is the exception line (and its last `Caused by:`).
pub(crate) fn summarize(errors: &[String]) -> String {
    let meaningful: Vec<&String> = errors
        .iter()
        .filter(|e| e.trim() != "Internal server error.")
        .collect();
    let Some(first) = meaningful.first().copied().or(errors.first()) else {
        return "no error message".to_string();
    };
    let lines: Vec<&str> = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("at ") && !l.starts_with("..."))
        .filter(|l| !l.starts_with("<Exception on server side"))
        .filter(|l| !l.starts_with("End of exception on server side"))
        .collect();
    let head = lines.first().copied().unwrap_or(first.as_str());
    let cause = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("Caused by:"))
        .map(|c| c.trim_start_matches("Caused by:").trim());
    match cause {
        Some(c) if !head.contains(c) => format!("{head} (caused by {c})"),
        _ => head.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_picks_the_exception_line_and_cause() {
        let errors = vec![
            "Internal server error.".to_string(),
            "<Exception on server side:\njava.lang.UnsupportedOperationException: nope\n\tat a.b(C.java:1)\nCaused by: java.lang.IllegalStateException: deeper\n\tat x\nEnd of exception on server side>".to_string(),
        ];
        assert_eq!(
            summarize(&errors),
            "java.lang.UnsupportedOperationException: nope (caused by java.lang.IllegalStateException: deeper)"
        );
        assert_eq!(summarize(&["Not found: /x".to_string()]), "Not found: /x");
        assert_eq!(summarize(&[]), "no error message");
    }
}
