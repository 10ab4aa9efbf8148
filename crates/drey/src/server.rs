//! `drey server`: opens the store, serves the API, shuts down gracefully.

use crate::settings::ServerSettings;
use anyhow::{bail, Context};
use drey_api::ApiConfig;
use drey_control::Core;
use drey_store::{Sealer, SqliteStore};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Runs the server until SIGTERM or SIGINT.
pub fn run(settings: ServerSettings) -> anyhow::Result<()> {
    init_logging(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))
}

fn init_logging(settings: &ServerSettings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .with_context(|| format!("invalid --log filter '{}'", settings.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if settings.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Holds an exclusive lock on the data dir so two servers never share one
/// SQLite store (the kernel drops it when the process dies, even by kill -9).
fn lock_data_dir(dir: &Path) -> anyhow::Result<nix::fcntl::Flock<File>> {
    let path = dir.join("drey.lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, errno)) => bail!(
            "data dir {} is in use by another drey server ({errno}); \
             give each server its own --data-dir",
            dir.display()
        ),
    }
}

async fn serve(settings: ServerSettings) -> anyhow::Result<()> {
    let data_dir = settings.data_dir()?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;
    let sealer = match &settings.secret_key {
        Some(key) => Sealer::from_base64(key).context("invalid --secret-key")?,
        None => Sealer::load_or_create(&data_dir.join("secret.key"))
            .context("cannot load the secret key file")?,
    };
    let db = data_dir.join("drey.db");
    let store = SqliteStore::open(&db, sealer)
        .await
        .with_context(|| format!("cannot open the store at {}", db.display()))?;
    let core = Core::new(Arc::new(store.clone()));
    let app = drey_api::app(
        core,
        ApiConfig {
            max_body_bytes: settings.max_body_bytes,
        },
    );
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr().context("no local address")?;
    tracing::info!(%address, data_dir = %data_dir.display(), "drey is serving");
    // The one line on stdout: scripts and tests read the bound port from it.
    println!("drey listening on http://{address}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.changed().await;
            })
            .await
    });
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(settings.shutdown_grace_seconds);
    match tokio::time::timeout(grace, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("in-flight requests did not finish within the grace period"),
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
