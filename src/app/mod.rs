//! Wiring: spawns the sources, the ingest task, the HTTP server, the outputs and the
//! lifecycle watcher, and stops them on SIGINT/SIGTERM, `--exit-after-stop` or
//! `POST /-/quit`. The inputs are built once ([`crate::config::Inputs::sources`]) and either run here or read to
//! their end by `--once` ([`once()`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::ingest::{self, wall_clock, Ingest};
use crate::model::snapshot::{RunState, Snapshot};
use crate::model::Model;
use crate::output::deliver_all;
use crate::output::http::web_config::WebConfig;
use crate::output::http::{self, HttpState};
use crate::source::otlp::Receiver;

/// Chunks in flight from sources to the ingest task (backpressure beyond that, never drops).
/// A chunk is at most 256 KiB of lines (a stdin or file read), so this bounds the
/// memory held in flight.
pub const CHANNEL_CAPACITY: usize = 64;

/// How long the final deliveries wait for the ingest task's closed snapshot.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The final delivery of every output on exit is given this long (within the 5 s a stop may
/// take).
pub const FINAL_DELIVERY_TIMEOUT: Duration = Duration::from_secs(4);

mod abort;
pub mod build;
mod error;
mod once;
mod otlp;
mod verdict;

pub use error::AppError;
pub use once::once;

/// True when every service has been stopped and every stdin stream has ended (and there is
/// at least one service): what `--exit-after-stop` waits for.
pub fn all_done(snap: &Snapshot) -> bool {
    !snap.services.is_empty()
        && snap.services.iter().all(|s| s.state == RunState::Stopped)
        && snap
            .sources
            .iter()
            .filter(|s| s.source == crate::config::STDIN_SOURCE)
            .all(|s| s.ended)
}

/// True when some input has given data (a service is past `missing`).
fn any_data(snap: &Snapshot) -> bool {
    snap.services.iter().any(|s| s.state != RunState::Missing)
}

/// `--exit-after-stop`: sets `stop` once [`all_done`] has held for `after`; or, when no
/// input has given any data `wait` after the start, sets `stop` and returns true (the
/// run never showed up: a wrong path, a Locust that crashed at start).
async fn exit_after_stop(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    after: Duration,
    wait: Duration,
    stop: watch::Sender<bool>,
) -> bool {
    let mut since: Option<tokio::time::Instant> = None;
    let give_up = tokio::time::Instant::now() + wait;
    let mut waiting = true;
    loop {
        waiting &= !any_data(&snapshots.borrow());
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
                    return false;
                }
            }
            () = sleep_until_opt(deadline) => {
                tracing::info!(after = ?after, "Every service stopped; exiting (--exit-after-stop).");
                let _ = stop.send(true);
                return false;
            }
            () = tokio::time::sleep_until(give_up), if waiting => {
                tracing::error!(wait = ?wait, "No input gave any data within --exit-after-stop.wait; exiting (check the paths, and that Locust started).");
                let _ = stop.send(true);
                return true;
            }
        }
    }
}

/// True when every service is a web UI that stopped its run and then stopped answering:
/// Locust quit (its `--autoquit` ended it).
fn locust_quit(snap: &Snapshot) -> bool {
    !snap.services.is_empty()
        && snap.services.iter().all(|s| {
            s.up == Some(false)
                && matches!(
                    s.state,
                    RunState::Stopped | RunState::Stopping | RunState::Cleanup
                )
                && s.total.as_ref().is_some_and(|t| t.requests > 0)
        })
}

/// `--exit-when-locust-quits`: sets `stop` once [`locust_quit`] has held for `grace`.
async fn exit_when_locust_quits(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    grace: Duration,
    stop: watch::Sender<bool>,
) {
    let mut since: Option<tokio::time::Instant> = None;
    loop {
        let quit = locust_quit(&snapshots.borrow_and_update());
        since = match (quit, since) {
            (true, None) => Some(tokio::time::Instant::now()),
            (true, s) => s,
            (false, _) => None,
        };
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = sleep_until_opt(since.map(|s| s + grace)) => {
                tracing::info!(grace = ?grace, "Locust stopped its run and quit; exiting (--exit-when-locust-quits).");
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

/// Descriptors kept for everything but tails and clients: listeners, directory watchers,
/// outbound clients, the standard streams.
pub const DESCRIPTOR_RESERVE: usize = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (Rust does not; systemd's default soft
/// limit is 1,024) and gives tails what the clients and a reserve leave: the listener can
/// always accept.
fn size_descriptors(max_connections: usize, listeners: usize) {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Err(e) => {
            tracing::warn!(error = %e, "Could not read or raise the open-files limit (RLIMIT_NOFILE); assuming 1024.");
            1024
        }
    };
    let clients = max_connections.saturating_mul(listeners.max(1));
    let tails = soft
        .saturating_sub(clients)
        .saturating_sub(DESCRIPTOR_RESERVE)
        .max(16);
    crate::source::tail::set_open_tail_cap(tails);
    tracing::debug!(
        open_files_limit = soft,
        open_tails = tails,
        "Descriptors: tails keep at most this many files open."
    );
}

/// Serves until SIGINT, SIGTERM, `--exit-after-stop` or `POST /-/quit`; then delivers the
/// last snapshot to every output once more.
pub async fn serve(config: Config) -> Result<(), AppError> {
    size_descriptors(config.limits.max_connections, config.listen.len());
    let web = match &config.web_config_file {
        Some(path) => WebConfig::load(path)?,
        None => WebConfig::default(),
    };
    let tls = web
        .tls
        .as_ref()
        .map(|files| http::tls::acceptor(files, web.http2))
        .transpose()?;
    let outputs = config.outputs.build(config.sets)?;
    let inputs = config.inputs.sources()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    // Signal handlers before anything is announced, so an early SIGTERM is a clean stop.
    let signals = shutdown_signal()?;
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        signals.await;
        let _ = on_signal.send(true);
    });
    let mut listeners = Vec::with_capacity(config.listen.len());
    for (addr, text) in config.listen.iter().zip(&config.listen_text) {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind {
                address: text.clone(),
                source,
            })?;
        let address = listener
            .local_addr()
            .map_or_else(|_| text.clone(), |a| a.to_string());
        listeners.push((listener, address));
    }
    let otlp_listener = match &config.inputs.otlp {
        Some(o) => Some(
            TcpListener::bind(o.listen)
                .await
                .map_err(|source| AppError::Bind {
                    address: o.listen_text.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let (chunk_tx, chunk_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    for source in inputs {
        tokio::spawn(source.run(config.poll_interval, chunk_tx.clone()));
    }
    let receiver = config.inputs.otlp.as_ref().map(|o| {
        Arc::new(Receiver::new(
            chunk_tx.clone(),
            crate::ingest::OTLP_SOURCE,
            o.max_message_bytes,
        ))
    });
    drop(chunk_tx);
    let mut ingest = Ingest::new(Model::new(build::model_config(&config)));
    if let Some(o) = &config.inputs.otlp {
        ingest = ingest.with_otlp(o.options.clone());
    }
    let ingest_task = tokio::spawn(ingest::run(ingest, chunk_rx, snap_tx, stop_rx.clone()));
    if config.inputs.go_style {
        let uri = config.inputs.web_uis.first().map_or("", |w| w.url.as_str());
        if uri.trim_end_matches('/') == crate::config::GO_DEFAULT_URI {
            tracing::warn!(
                %uri,
                "No input flag (--csv, --events, --locust.uri, --otlp.listen-address): polling Locust's web UI at {uri}, as the Go exporter did, with its metric sets, exiting once Locust quits. To read something else, give an input flag (docs/kubernetes-operator.md)."
            );
        } else {
            tracing::info!(
                %uri,
                "Configured as the Go exporter (LOCUST_EXPORTER_URI, no input flag): polling Locust's web UI, serving the native and containersolutions sets, exiting once Locust quits. Give an input flag to opt out (docs/kubernetes-operator.md)."
            );
        }
    }
    if let Some(grace) = config.exit_when_locust_quits {
        tokio::spawn(exit_when_locust_quits(
            snap_rx.clone(),
            grace,
            stop_tx.clone(),
        ));
    }
    let no_input = config.exit_after_stop.map(|after| {
        tokio::spawn(exit_after_stop(
            snap_rx.clone(),
            after,
            config.exit_after_stop_wait,
            stop_tx.clone(),
        ))
    });
    if config.verdict.abort {
        if let Some(ui) = config.inputs.web_uis.first() {
            let client = crate::support::http_client::HttpClient::new(
                "--locust.config.file",
                &config.inputs.locust_client,
                config.inputs.locust_timeout,
            )
            .map_err(crate::config::ConfigError::from)?;
            tokio::spawn(abort::run(
                snap_rx.clone(),
                client,
                ui.url.clone(),
                config.verdict.grace,
                wall_clock,
            ));
        }
    }
    for output in &outputs {
        tokio::spawn(
            output
                .clone()
                .run(snap_rx.clone(), stop_rx.clone(), wall_clock),
        );
    }
    let mut state = HttpState::new(
        snap_rx.clone(),
        config.telemetry_path.clone(),
        config.sets,
        &web,
        config.limits.max_response_bytes,
    );
    for output in &outputs {
        state.report(output.self_metrics());
    }
    if let Some(r) = &receiver {
        state.report(r.stats());
    }
    state.quit = config.enable_lifecycle.then(|| stop_tx.clone());
    state.formats = config.formats.clone();
    let state = Arc::new(state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut servers = tokio::task::JoinSet::new();
    for (listener, address) in listeners {
        tracing::info!(%address, %scheme, telemetry_path = %config.telemetry_path, "Listening.");
        let mut stopped = stop_rx.clone();
        servers.spawn(http::server::serve(
            listener,
            state.clone(),
            tls.clone(),
            config.limits,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }
    if let (Some(listener), Some(receiver)) = (otlp_listener, receiver) {
        let address = listener
            .local_addr()
            .map_or_else(|_| String::new(), |a| a.to_string());
        tracing::info!(%address, %scheme, "Receiving OTLP (gRPC and HTTP).");
        let otlp_tls = web
            .tls
            .as_ref()
            .map(|files| http::tls::acceptor(files, true))
            .transpose()?;
        let handler = Arc::new(otlp::OtlpListener {
            receiver,
            auth: http::auth::Auth::new(web.users.clone()),
            stats: state.stats.clone(),
        });
        let mut stopped = stop_rx.clone();
        servers.spawn(http::server::serve(
            listener,
            handler,
            otlp_tls,
            config.limits,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }
    let server = async move { while servers.join_next().await.is_some() {} };
    let mut stopping = stop_rx.clone();
    let final_delivery = async {
        let _ = stopping.wait_for(|s| *s).await;
        // The ingest task closes every service and publishes that snapshot at once.
        let mut closed = snap_rx.clone();
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closed.wait_for(|s| s.closed)).await;
        let snap = snap_rx.borrow().clone();
        let delivered =
            deliver_all(&outputs, snap.clone(), wall_clock(), FINAL_DELIVERY_TIMEOUT).await;
        (delivered, snap)
    };
    let ((), (delivered, last)) = tokio::join!(server, final_delivery);
    ingest_task.abort();
    tracing::info!("Shut down.");
    let judged = verdict::finish(&config, &last, verdict::run_ended(&last), wall_clock());
    delivered?;
    let gave_up = match no_input {
        Some(task) if task.is_finished() => task.await.unwrap_or(false),
        _ => false,
    };
    if gave_up {
        return Err(AppError::NoInput(config.exit_after_stop_wait));
    }
    judged
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
