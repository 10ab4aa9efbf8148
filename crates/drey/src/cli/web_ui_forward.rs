//! `drey app|statement|pool web-ui-forward`: a local HTTP listener that
//! forwards every request to drey's Flink Web UI proxy
//! (`.../{applications|statements|compute-pools}/{name}/flink-web-ui/...`)
//! with the CLI's token, so a browser, which cannot send a bearer token,
//! opens the Flink Web UI of a server that runs with `--auth token` (the
//! Confluent CLI's `web-ui-forward` against CMF).
//!
//! The server's proxy does the work (organization, authorization, sandboxing
//! of Flink's pages); this only adds the `Authorization` header. It listens
//! on 127.0.0.1 alone: whoever reaches the port acts with the token.

use super::client::{Api, CliError};
use super::Global;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, HOST, TRANSFER_ENCODING,
};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use clap::Args;
use std::io::Write;
use std::sync::Arc;

/// Largest request body forwarded (a jar uploaded through Flink's UI), as the
/// server's proxy takes.
const MAX_BODY: usize = 512 * 1024 * 1024;

/// The arguments of every `web-ui-forward`.
#[derive(Args, Debug)]
pub struct ForwardArgs {
    /// Name of the application, statement or compute pool.
    pub name: String,
    /// Environment.
    #[arg(long, short = 'e')]
    pub env: String,
    /// Local port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Whose Flink Web UI is forwarded.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// An application's own cluster.
    Application,
    /// The cluster a statement's job runs on.
    Statement,
    /// A SHARED compute pool's session cluster.
    ComputePool,
}

impl Target {
    fn collection(self) -> &'static str {
        match self {
            Target::Application => "applications",
            Target::Statement => "statements",
            Target::ComputePool => "compute-pools",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Target::Application => "application",
            Target::Statement => "statement",
            Target::ComputePool => "compute pool",
        }
    }
}

/// What the listener needs for every request.
struct Forwarder {
    /// `<drey>/cmf/api/v1/environments/<env>/<collection>/<name>/flink-web-ui`.
    upstream: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Checks the object exists, then listens until interrupted; prints the URL
/// to open on stdout (alone on its line, for scripts) and what it does on
/// stderr.
pub fn forward(
    global: &Global,
    api: &Api,
    target: Target,
    args: ForwardArgs,
) -> Result<(), CliError> {
    let object = format!(
        "/cmf/api/v1/environments/{}/{}/{}",
        args.env,
        target.collection(),
        args.name
    );
    // A missing object or a refused token shows now, not in the browser.
    api.get(&object)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let forwarder = Arc::new(Forwarder {
        upstream: format!("{}{object}/flink-web-ui", global.url.trim_end_matches('/')),
        token: global.token.clone(),
        http,
    });
    api.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| {
                CliError::Failed(format!("cannot listen on 127.0.0.1:{}: {e}", args.port))
            })?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::Failed(e.to_string()))?;
        println!("http://{local}/");
        let _ = std::io::stdout().flush();
        eprintln!(
            "Forwarding http://{local}/ to the Flink Web UI of {} {} in environment {} \
             (through {}); open it in a browser. Ctrl-C stops.",
            target.noun(),
            args.name,
            args.env,
            global.url
        );
        let router = axum::Router::new()
            .fallback(forward_one)
            .with_state(forwarder);
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| CliError::Failed(format!("the listener failed: {e}")))
    })
}

/// Headers that belong to one connection, or that the forwarder sets itself.
fn passes(name: &HeaderName) -> bool {
    ![
        HOST,
        AUTHORIZATION,
        COOKIE,
        CONNECTION,
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
    ]
    .contains(name)
        && name.as_str() != "keep-alive"
        && name.as_str() != "upgrade"
}

/// One request: the same method, path under the proxy, query, headers and
/// body, with the token; the server's answer as it is.
async fn forward_one(State(forwarder): State<Arc<Forwarder>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let mut upstream = forwarder
        .http
        .request(parts.method, format!("{}{path}", forwarder.upstream));
    for (name, value) in &parts.headers {
        if passes(name) {
            upstream = upstream.header(name, value);
        }
    }
    if let Some(token) = &forwarder.token {
        upstream = upstream.bearer_auth(token);
    }
    let answer = match upstream.body(body).send().await {
        Ok(answer) => answer,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("drey did not answer: {e}")).into_response()
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if passes(name) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}
