//! Jars from http(s) URIs, fetched in the background into a bounded cache
//! under the data dir: a pass that needs one starts the download and asks
//! to be looked at again, instead of waiting for it (a download of a large
//! jar can take minutes).
//!
//! Every download is made under the outbound policy ([`crate::outbound`]):
//! only permitted addresses are connected to, redirect hops included, the
//! body is capped in size and streamed to disk, and whatever went wrong the
//! caller reads one text ([`refusal`]); the real reason is logged at debug
//! level only, so the error tells nothing about what answered where.

use crate::outbound::{checked_client, OutboundPolicy, OutboundSettings};
use drey_model::Error;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long one download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// How long connecting to the server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the caller is told of any failed download, whatever the target did.
fn refusal(uri: &str) -> String {
    format!("cannot download the jar from {uri}: refused by the outbound policy or unreachable")
}

/// Where a jar is.
pub(crate) enum Fetch {
    /// On disk at this path.
    Ready(PathBuf),
    /// Being downloaded: look again later.
    Pending,
}

/// Downloads in flight, and the last failure of each, by target path.
pub(crate) struct Downloads {
    /// None when the client could not be built: every download fails then.
    http: Option<reqwest::Client>,
    policy: Arc<OutboundPolicy>,
    max_bytes: u64,
    state: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl Downloads {
    /// Downloads under the policy `settings` describe.
    pub(crate) fn new(settings: &OutboundSettings) -> Self {
        let policy = Arc::new(OutboundPolicy::new(settings.allow.clone()));
        // Building fails only when TLS cannot initialise; then every
        // download fails, with the one refusal text (never a client without
        // the policy).
        let http = checked_client(policy.clone(), CONNECT_TIMEOUT)
            .inspect_err(|e| tracing::error!(error = %e, "cannot build the download client"))
            .ok();
        Downloads {
            http,
            policy,
            max_bytes: settings.download_max_bytes,
            state: Mutex::default(),
        }
    }

    /// The jar of `uri` at `path` in `dir`: there already, or being fetched
    /// (a download starts if none runs). A failed download is reported once,
    /// as the spec's fault; the next call tries again.
    pub(crate) fn fetch(
        self: &Arc<Self>,
        uri: &str,
        path: PathBuf,
        dir: &Path,
        cache_max_bytes: u64,
    ) -> Result<Fetch, Error> {
        if path.exists() {
            crate::retention::mark_used(&path);
            return Ok(Fetch::Ready(path));
        }
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::Internal("download state poisoned".into()))?;
        match state.get(&path) {
            Some(None) => return Ok(Fetch::Pending),
            Some(Some(why)) => {
                let why = why.clone();
                state.remove(&path);
                return Err(Error::invalid("spec.job.jarURI", why));
            }
            None => {}
        }
        state.insert(path.clone(), None);
        drop(state);
        let this = self.clone();
        let (uri, dir) = (uri.to_owned(), dir.to_owned());
        tokio::spawn(async move {
            let result = this.download(&uri, &path, &dir, cache_max_bytes).await;
            if let Ok(mut state) = this.state.lock() {
                match result {
                    Ok(()) => {
                        state.remove(&path);
                    }
                    Err(why) => {
                        tracing::debug!(%uri, error = %why, "jar download failed");
                        tracing::warn!(%uri, "jar download failed (the reason is logged at debug level)");
                        state.insert(path, Some(refusal(&uri)));
                    }
                }
            }
        });
        Ok(Fetch::Pending)
    }

    /// Streams the body to a temporary file, then renames it into place;
    /// the temporary file goes when anything fails.
    async fn download(
        &self,
        uri: &str,
        path: &Path,
        dir: &Path,
        cache_max_bytes: u64,
    ) -> Result<(), String> {
        let tmp = path.with_extension("part");
        let result = self.stream_to(uri, &tmp, dir, cache_max_bytes).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
            return result;
        }
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| e.to_string())
    }

    async fn stream_to(
        &self,
        uri: &str,
        tmp: &Path,
        dir: &Path,
        cache_max_bytes: u64,
    ) -> Result<(), String> {
        let url = reqwest::Url::parse(uri).map_err(|e| format!("bad URL: {e}"))?;
        if let Some(why) = self.policy.refuses_url(&url) {
            return Err(why);
        }
        // One jar may not take more than the whole cache either.
        let max = self.max_bytes.min(cache_max_bytes);
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| e.to_string())?;
        let http = self.http.as_ref().ok_or("no download client")?;
        let response = http
            .get(url)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("{e:?}"))?;
        let incoming = response.content_length().unwrap_or(0);
        if incoming > max {
            return Err(format!(
                "Content-Length {incoming} is over the cap of {max} bytes"
            ));
        }
        crate::retention::make_room(dir, cache_max_bytes, incoming);
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(|e| e.to_string())?;
        let mut body = response.bytes_stream();
        let mut written: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("{e:?}"))?;
            written = written.saturating_add(chunk.len() as u64);
            if written > max {
                return Err(format!("the body is over the cap of {max} bytes"));
            }
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.sync_all().await.map_err(|e| e.to_string())
    }
}
