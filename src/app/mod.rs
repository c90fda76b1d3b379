//! Wiring: spawns the sources, the ingest task, the HTTP server, the pusher and the
//! lifecycle watcher, and stops them on SIGINT/SIGTERM, `--exit-after-stop` or
//! `POST /-/quit`. The only place that spawns tasks. Also the `--once` path, which reuses the
//! synchronous pieces (follower polls, `Ingest::apply`, `expose::render`) with no runtime
//! (one is made only to push).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, SourceSpec};
use crate::expose;
use crate::ingest::{self, wall_clock, Ingest};
use crate::model::snapshot::{RunState, Snapshot};
use crate::model::{Model, ModelConfig};
use crate::output::http::web_config::{WebConfig, WebConfigError};
use crate::output::http::{self, HttpState};
use crate::output::push::{PushError, Pusher, REQUEST_TIMEOUT};
use crate::source::discover::CsvPath;
use crate::source::follow::{self, Follower};
use crate::source::webui::{self, WebUi};
use crate::source::{stdin, Body, Chunk, FileRole, Origin};
use crate::support::http_client::{ClientConfigError, HttpClient};

/// Chunks in flight from sources to the ingest task (backpressure beyond that, never drops).
/// A chunk is at most 256 KiB of lines (a stdin or file read), so this bounds the
/// memory held in flight.
pub const CHANNEL_CAPACITY: usize = 64;

/// The final push on exit is given this long (within the 5 s a stop may take).
pub const FINAL_PUSH_TIMEOUT: Duration = Duration::from_secs(4);

/// The `source` label of standard input.
pub const STDIN_SOURCE: &str = "stdin";

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
    /// A client settings file is unusable. Exit code 2.
    #[error(transparent)]
    ClientConfig(#[from] ClientConfigError),
    /// Reading input or writing output failed in `--once`. Exit code 1.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// `--once` found nothing to read at a path. Exit code 1.
    #[error("--once: nothing to read at {0}")]
    NothingToRead(String),
    /// The push (`--once --push.url`, or the final push on exit) failed. Exit code 1.
    #[error("push to {url} failed: {source}")]
    Push {
        /// `--push.url`.
        url: String,
        /// Why.
        source: PushError,
    },
}

impl AppError {
    /// The process exit code for this error (SPEC §2).
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::WebConfig(_) | AppError::ClientConfig(_) => 2,
            AppError::Bind { .. }
            | AppError::Io { .. }
            | AppError::NothingToRead(_)
            | AppError::Push { .. } => 1,
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
        source: STDIN_SOURCE.into(),
    })
}

/// The followers of the `--csv` and `--events` files, each with the path it was given.
fn followers(config: &Config) -> Vec<(String, Follower)> {
    let csv = config.csv.iter().map(|spec| {
        let follower = Follower::csv(CsvPath::new(
            spec.path.clone(),
            spec.service.clone(),
            config.service.clone(),
        ));
        (spec.path.display().to_string(), follower)
    });
    let events = config
        .events
        .iter()
        .filter(|spec| !is_stdin(spec))
        .map(|spec| {
            let follower = Follower::events(service_of(spec, config), spec.path.clone());
            (spec.path.display().to_string(), follower)
        });
    csv.chain(events).collect()
}

/// The web UIs of `--locust.uri`, and the client that polls them.
fn web_uis(config: &Config) -> Result<(Vec<WebUi>, Option<HttpClient>), AppError> {
    if config.web_uis.is_empty() {
        return Ok((Vec::new(), None));
    }
    let client = HttpClient::new(
        "--locust.config.file",
        &config.locust_client,
        config.locust_timeout,
    )?;
    if config.locust_client.insecure_skip_verify {
        tracing::warn!("TLS certificates of Locust's web UI are not verified (insecure_skip_verify in --locust.config.file).");
    }
    let uis = config
        .web_uis
        .iter()
        .map(|w| {
            let service = w.service.clone().unwrap_or_else(|| config.service.clone());
            WebUi::new(&w.url, service)
        })
        .collect();
    Ok((uis, Some(client)))
}

/// The pusher `--push.*` asks for, if any.
fn pusher(config: &Config) -> Result<Option<Pusher>, AppError> {
    let Some(push) = &config.push else {
        return Ok(None);
    };
    let client = HttpClient::new("--push.config.file", &push.client, REQUEST_TIMEOUT)?;
    if push.client.insecure_skip_verify {
        tracing::warn!(url = %push.config.url, "TLS certificates of the Pushgateway are not verified (insecure_skip_verify).");
    }
    Ok(Some(Pusher::new(push.config.clone(), client, config.sets)))
}

/// `--once`: reads everything present, writes the exposition to `out`, and pushes it when
/// `--push.url` is given. A path with nothing to read (no file, empty standard input) is an
/// error naming it.
pub fn once(config: &Config, out: &mut impl Write) -> Result<(), AppError> {
    let pusher = pusher(config)?;
    let mut ingest = Ingest::new(Model::new(model_config(config)));
    let now = wall_clock();
    for (path, mut follower) in followers(config) {
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut found = false;
        loop {
            let more = follower.poll(&mut chunks);
            for chunk in chunks.drain(..) {
                found |= chunk.body != Body::Missing;
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
        if !found {
            return Err(AppError::NothingToRead(path));
        }
    }
    let (uis, client) = web_uis(config)?;
    if let Some(client) = client {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| AppError::Io {
                what: "starting the runtime to poll --locust.uri".into(),
                source,
            })?;
        for ui in &uis {
            let (chunks, problem) = runtime.block_on(ui.poll(&client));
            if chunks.iter().all(|c| c.body == Body::Missing) {
                return Err(AppError::NothingToRead(format!(
                    "{} ({})",
                    ui.base(),
                    problem.unwrap_or_default()
                )));
            }
            for chunk in chunks {
                ingest.apply(chunk, now);
            }
        }
    }
    for spec in config.events.iter().filter(|s| is_stdin(s)) {
        let origin = stdin_origin(spec, config);
        let read = stdin::read_all(origin, io::stdin().lock(), |chunk| ingest.apply(chunk, now))
            .map_err(|source| AppError::Io {
                what: "reading standard input".into(),
                source,
            })?;
        if read == 0 {
            return Err(AppError::NothingToRead(
                "standard input (it was empty)".into(),
            ));
        }
    }
    ingest.end_of_input(now);
    let mut snap = ingest.snapshot(now);
    snap.seq = 1;
    let text = expose::render(&snap, config.sets, &[]);
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| AppError::Io {
            what: "writing the exposition".into(),
            source,
        })?;
    if let Some(pusher) = pusher {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| AppError::Io {
                what: "starting the runtime to push".into(),
                source,
            })?;
        runtime
            .block_on(pusher.push(&snap, now))
            .map_err(|source| AppError::Push {
                url: config
                    .push
                    .as_ref()
                    .map_or_else(String::new, |p| p.config.url.clone()),
                source,
            })?;
    }
    Ok(())
}

/// True when every service has been stopped and every stdin stream has ended (and there is
/// at least one service): what `--exit-after-stop` waits for.
pub fn all_done(snap: &Snapshot) -> bool {
    !snap.services.is_empty()
        && snap.services.iter().all(|s| s.state == RunState::Stopped)
        && snap
            .sources
            .iter()
            .filter(|s| s.source == STDIN_SOURCE)
            .all(|s| s.ended)
}

/// `--exit-after-stop`: sets `stop` once [`all_done`] has held for `after`.
async fn exit_after_stop(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    after: Duration,
    stop: watch::Sender<bool>,
) {
    let mut since: Option<tokio::time::Instant> = None;
    loop {
        let done = all_done(&snapshots.borrow_and_update());
        since = match (done, since) {
            (true, None) => Some(tokio::time::Instant::now()),
            (true, s) => s,
            (false, _) => None,
        };
        let deadline = since.map(|s| s + after);
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = sleep_until_opt(deadline) => {
                tracing::info!(after = ?after, "Every service stopped; exiting (--exit-after-stop).");
                let _ = stop.send(true);
                return;
            }
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Serves until SIGINT, SIGTERM, `--exit-after-stop` or `POST /-/quit`; then pushes once
/// more when pushing.
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
    let pusher = pusher(&config)?;
    let (uis, ui_client) = web_uis(&config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    // Signal handlers before anything is announced, so an early SIGTERM is a clean stop.
    let signals = shutdown_signal()?;
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        signals.await;
        let _ = on_signal.send(true);
    });
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
    for (_, follower) in followers(&config) {
        tokio::spawn(follow::run(
            follower,
            config.poll_interval,
            chunk_tx.clone(),
        ));
    }
    for spec in config.events.iter().filter(|s| is_stdin(s)) {
        tokio::spawn(stdin::run_stdin(
            stdin_origin(spec, &config),
            chunk_tx.clone(),
        ));
    }
    if let Some(client) = &ui_client {
        for ui in uis {
            tokio::spawn(webui::run(
                ui,
                client.clone(),
                config.poll_interval,
                chunk_tx.clone(),
            ));
        }
    }
    drop(chunk_tx);
    let ingest_task = tokio::spawn(ingest::run(
        Ingest::new(Model::new(model_config(&config))),
        chunk_rx,
        snap_tx,
    ));
    if let Some(after) = config.exit_after_stop {
        tokio::spawn(exit_after_stop(snap_rx.clone(), after, stop_tx.clone()));
    }
    if let Some(p) = &pusher {
        tokio::spawn(p.clone().run(snap_rx.clone(), stop_rx.clone(), wall_clock));
    }
    let mut state = HttpState::new(
        snap_rx.clone(),
        config.telemetry_path.clone(),
        config.sets,
        &web,
    );
    state.push = pusher.as_ref().map(|p| p.stats.clone());
    state.quit = config.enable_lifecycle.then(|| stop_tx.clone());
    state.formats = config.formats.clone();
    let state = Arc::new(state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, %scheme, telemetry_path = %config.telemetry_path, "Listening.");
    let mut stopped = stop_rx.clone();
    let server = http::server::serve(listener, state, tls, config.limits, async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    let mut stopping = stop_rx.clone();
    let final_push = async {
        let _ = stopping.wait_for(|s| *s).await;
        let p = pusher.as_ref()?;
        let snap = snap_rx.borrow().clone();
        let pushed = tokio::time::timeout(FINAL_PUSH_TIMEOUT, p.push(&snap, wall_clock())).await;
        Some(match pushed {
            Ok(result) => result,
            Err(_) => Err(PushError::Request(
                crate::support::http_client::RequestError::Timeout(FINAL_PUSH_TIMEOUT),
            )),
        })
    };
    let ((), pushed) = tokio::join!(server, final_push);
    ingest_task.abort();
    tracing::info!("Shut down.");
    match pushed {
        Some(Err(source)) => Err(AppError::Push {
            url: config
                .push
                .as_ref()
                .map_or_else(String::new, |p| p.config.url.clone()),
            source,
        }),
        _ => Ok(()),
    }
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
