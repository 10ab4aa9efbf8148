//! Turning the domain error into each dialect's status code and body. This is
//! the only place in drey that knows which error is which HTTP status.

use axum::extract::rejection::QueryRejection;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use drey_model::Error;
use serde_json::json;

/// The HTTP status of a domain error; `invalid` is the status the endpoint
/// documents for invalid content (CMF uses 422 on most, 400 on some).
pub fn status_of(error: &Error, invalid: StatusCode) -> StatusCode {
    match error {
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Invalid { .. } | Error::QuotaExceeded { .. } => invalid,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::AlreadyExists { .. } | Error::Conflict(_) => StatusCode::CONFLICT,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Gone(_) => StatusCode::GONE,
        Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// CMF's `RestError` body: `{"errors":[{"message":"..."}]}`.
pub fn rest_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"errors": [{"message": message.into()}]});
    (status, axum::Json(body)).into_response()
}

/// A query string that does not parse (a `limit` that is no number, a
/// parameter given twice): the caller's fault, named, in every dialect.
pub fn malformed_query(rejection: QueryRejection) -> Error {
    Error::BadRequest(format!("malformed query string: {}", rejection.body_text()))
}

/// Query parameters whose malformed values are answered in the dialect's
/// error body `E` instead of axum's plain text.
pub type QueryOf<T, E> = axum_extra::extract::WithRejection<axum::extract::Query<T>, E>;

impl From<QueryRejection> for CmfError {
    fn from(rejection: QueryRejection) -> Self {
        malformed_query(rejection).into()
    }
}

/// A domain error answered in CMF's dialect.
#[derive(Debug)]
pub struct CmfError {
    error: Error,
    invalid: StatusCode,
}

impl CmfError {
    /// For endpoints that document 400 (not 422) for invalid content.
    pub fn invalid_is_400(error: Error) -> Self {
        CmfError {
            error,
            invalid: StatusCode::BAD_REQUEST,
        }
    }
}

impl CmfError {
    /// The domain error inside, for another dialect to render.
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl From<Error> for CmfError {
    fn from(error: Error) -> Self {
        CmfError {
            error,
            invalid: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl IntoResponse for CmfError {
    fn into_response(self) -> Response {
        let status = status_of(&self.error, self.invalid);
        if status.is_server_error() {
            tracing::warn!(error = %self.error, "request failed");
        }
        let mut response = rest_error(status, self.error.to_string());
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read: the connection cannot carry
            // another request, so tell the client not to reuse it.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// Unknown paths: 404 `Resource not found: [<path>]`, as CMF answers.
pub async fn unknown_route(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    rest_error(
        StatusCode::NOT_FOUND,
        format!("Resource not found: [{path}]"),
    )
}

/// Known paths with a method they do not serve: 405 with a RestError body.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    rest_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "Request method '{method}' is not supported for [{}]",
            uri.path()
        ),
    )
}
