//! Wiring: spawns the sources, the ingest task and the HTTP server, and stops them on
//! SIGINT/SIGTERM. The only place that spawns tasks. Also the `--once` path, which reuses the
//! synchronous pieces (follower polls, `Ingest::apply`, `expose::render`) with no runtime.

use std::io::{self, Write};
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, SourceSpec};
use crate::expose;
use crate::http::web_config::{WebConfig, WebConfigError};
use crate::http::{self, HttpState};
use crate::ingest::{self, wall_clock, Ingest};
use crate::model::snapshot::Snapshot;
use crate::model::{Model, ModelConfig};
use crate::source::discover::CsvPath;
use crate::source::follow::{self, Follower};
use crate::source::{stream, Chunk, FileRole, Origin};

/// Chunks in flight from sources to the ingest task (backpressure beyond that, never drops).
/// A chunk is at most 256 KiB of lines (a stdin or file read), so this bounds the
/// memory held in flight.
pub const CHANNEL_CAPACITY: usize = 64;

/// A failure that stops the program.
#[derive(Debug, Error)]
pub enum AppError {
    /// The listen address cannot be bound. Exit code 1.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address as given.
        address: String,
        /// The OS error.
        source: io::Error,
    },
    /// `--web.config.file` is unusable. Exit code 2.
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// Reading input or writing output failed in `--once`. Exit code 1.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
}

impl AppError {
    /// The process exit code for this error (SPEC §2).
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::WebConfig(_) => 2,
            AppError::Bind { .. } | AppError::Io { .. } => 1,
        }
    }
}

/// The model settings a configuration asks for.
pub fn model_config(config: &Config) -> ModelConfig {
    ModelConfig {
        stale_after_secs: 3.0 * config.poll_interval.as_secs_f64(),
        max_endpoints: config.max_endpoints,
        max_errors_per_endpoint: config.max_errors_per_endpoint,
        max_exceptions: config.max_exceptions,
        buckets: Arc::from(config.buckets.as_slice()),
    }
}

fn service_of(spec: &SourceSpec, config: &Config) -> String {
    spec.service
        .clone()
        .unwrap_or_else(|| config.service.clone())
}

fn is_stdin(spec: &SourceSpec) -> bool {
    spec.path.as_os_str() == "-"
}

fn stdin_origin(spec: &SourceSpec, config: &Config) -> Arc<Origin> {
    Arc::new(Origin {
        service: service_of(spec, config),
        role: FileRole::Events,
        source: "stdin".into(),
    })
}

fn followers(config: &Config) -> Vec<Follower> {
    let csv = config.csv.iter().map(|spec| {
        Follower::csv(CsvPath::new(
            spec.path.clone(),
            spec.service.clone(),
            config.service.clone(),
        ))
    });
    let events = config
        .events
        .iter()
        .filter(|spec| !is_stdin(spec))
        .map(|spec| Follower::events_file(service_of(spec, config), spec.path.clone()));
    csv.chain(events).collect()
}

/// `--once`: reads everything present, writes the exposition to `out`.
pub fn once(config: &Config, out: &mut impl Write) -> Result<(), AppError> {
    let mut ingest = Ingest::new(Model::new(model_config(config)));
    let now = wall_clock();
    for mut follower in followers(config) {
        let mut chunks: Vec<Chunk> = Vec::new();
        loop {
            let more = follower.poll(&mut chunks);
            for chunk in chunks.drain(..) {
                ingest.apply(chunk, now);
            }
            if !more {
                break;
            }
        }
        follower.finish(&mut chunks);
        for chunk in chunks {
            ingest.apply(chunk, now);
        }
    }
    for spec in config.events.iter().filter(|s| is_stdin(s)) {
        let origin = stdin_origin(spec, config);
        stream::read_all(origin, io::stdin().lock(), |chunk| ingest.apply(chunk, now)).map_err(
            |source| AppError::Io {
                what: "reading standard input".into(),
                source,
            },
        )?;
    }
    ingest.end_of_input(now);
    let text = expose::render(&ingest.snapshot(now), config.sets, &[]);
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| AppError::Io {
            what: "writing the exposition".into(),
            source,
        })
}

/// Serves until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<(), AppError> {
    let web = match &config.web_config_file {
        Some(path) => WebConfig::load(path)?,
        None => WebConfig::default(),
    };
    let tls = web
        .tls
        .as_ref()
        .map(|files| http::tls::acceptor(files, web.http2))
        .transpose()?;
    // Signal handlers before anything is announced, so an early SIGTERM is a clean stop.
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| AppError::Bind {
            address: config.listen_text.clone(),
            source,
        })?;
    let address = listener
        .local_addr()
        .map_or_else(|_| config.listen_text.clone(), |a| a.to_string());
    let (chunk_tx, chunk_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    for follower in followers(&config) {
        tokio::spawn(follow::run(
            follower,
            config.poll_interval,
            chunk_tx.clone(),
        ));
    }
    for spec in config.events.iter().filter(|s| is_stdin(s)) {
        tokio::spawn(stream::run_stdin(
            stdin_origin(spec, &config),
            chunk_tx.clone(),
        ));
    }
    drop(chunk_tx);
    let ingest_task = tokio::spawn(ingest::run(
        Ingest::new(Model::new(model_config(&config))),
        chunk_rx,
        snap_tx,
    ));
    let state = Arc::new(HttpState::new(
        snap_rx,
        config.telemetry_path.clone(),
        config.sets,
        &web,
    ));
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, %scheme, telemetry_path = %config.telemetry_path, "Listening.");
    http::server::serve(listener, state, tls, config.limits, shutdown).await;
    ingest_task.abort();
    tracing::info!("Shut down.");
    Ok(())
}

/// A future that completes on SIGINT or SIGTERM; the handlers are installed now.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static, AppError> {
    use tokio::signal::unix::{signal, SignalKind};
    let installed =
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)));
    let (mut term, mut int) = installed.map_err(|source| AppError::Io {
        what: "installing signal handlers".into(),
        source,
    })?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
