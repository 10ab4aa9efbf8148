//! Jars from http(s) URIs, fetched in the background into a bounded cache
//! under the data dir: a pass that needs one starts the download and asks
//! to be looked at again, instead of waiting for it (a download of a large
//! jar can take minutes).

use drey_model::Error;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long one download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a jar is.
pub(crate) enum Fetch {
    /// On disk at this path.
    Ready(PathBuf),
    /// Being downloaded: look again later.
    Pending,
}

/// Downloads in flight, and the last failure of each, by target path.
#[derive(Default)]
pub(crate) struct Downloads {
    http: reqwest::Client,
    state: Mutex<HashMap<PathBuf, Option<String>>>,
}

impl Downloads {
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
                return Err(Error::invalid(
                    "spec.job.jarURI",
                    format!("cannot download {uri}: {why}"),
                ));
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
                        tracing::warn!(%uri, error = %why, "jar download failed");
                        state.insert(path, Some(why));
                    }
                }
            }
        });
        Ok(Fetch::Pending)
    }

    /// Streams the body to a temporary file, then renames it into place.
    async fn download(
        &self,
        uri: &str,
        path: &Path,
        dir: &Path,
        cache_max_bytes: u64,
    ) -> Result<(), String> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| e.to_string())?;
        let response = self
            .http
            .get(uri)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?;
        let incoming = response.content_length().unwrap_or(0);
        crate::retention::make_room(dir, cache_max_bytes, incoming);
        let tmp = path.with_extension("part");
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| e.to_string())?;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.sync_all().await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| e.to_string())
    }
}
