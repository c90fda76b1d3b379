//! Wiring: binds every listener (`/metrics` and the inputs' own), spawns the sources, the
//! ingest task, the servers, the outputs and the watchers (`watchers`, `abort`), and stops
//! them on SIGINT/SIGTERM, `--exit-after-stop`, `--exit-when-locust-quits` or
//! `POST /-/quit`; then the run is finished (`finish`: the summary and the verdict's exit
//! code). The inputs are built once ([`crate::config::Inputs::sources`]) and either run
//! here or read to their end by `--once` ([`once()`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::ingest::{self, wall_clock, Ingest};
use crate::model::snapshot::Snapshot;
use crate::model::Model;
use crate::output::deliver_all;
use crate::output::http::HttpState;
use crate::serve::tls;
use crate::serve::web_config::WebConfig;
use crate::serve::Listener;
use crate::source::ListenContext;

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
mod finish;
mod once;
mod watchers;

pub use error::AppError;
pub use once::once;
use watchers::{exit_after_stop, exit_when_locust_quits};

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
/// last snapshot to every output once more. In phases: what is configured is built and
/// checked, every listener is bound (nothing has started yet, so a taken port fails
/// cleanly), everything is spawned, and the run is finished (final delivery, verdict).
pub async fn serve(config: Config) -> Result<(), AppError> {
    let web = match &config.web_config_file {
        Some(path) => WebConfig::load(path)?,
        None => WebConfig::default(),
    };
    let outputs = config.outputs.build(config.sets)?;
    let mut inputs = config.inputs.sources()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    // Signal handlers before anything is announced, so an early SIGTERM is a clean stop.
    let signals = shutdown_signal()?;
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        signals.await;
        let _ = on_signal.send(true);
    });
    let (chunk_tx, chunk_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));

    // Every listener: `/metrics` on each --web.listen-address, then the inputs' own.
    let mut state = HttpState::new(
        snap_rx.clone(),
        config.telemetry_path.clone(),
        config.sets,
        &web,
        config.limits.max_response_bytes,
    );
    let ctx = ListenContext {
        tx: chunk_tx.clone(),
        users: web.users.clone(),
        stats: state.stats.clone(),
        clock: wall_clock,
    };
    let mut inputs_listeners = Vec::new();
    for source in &mut inputs {
        inputs_listeners.extend(source.listener(&ctx));
        if let Some(parts) = source.self_metrics() {
            state.report(parts);
        }
    }
    drop(ctx);
    for output in &outputs {
        state.report(output.self_metrics());
    }
    state.quit = config.enable_lifecycle.then(|| stop_tx.clone());
    state.formats = config.formats.clone();
    let state = Arc::new(state);
    let metrics = config
        .listen
        .iter()
        .zip(&config.listen_text)
        .map(|(address, text)| Listener {
            address: *address,
            text: text.clone(),
            what: "Listening.",
            telemetry_path: Some(config.telemetry_path.clone()),
            handler: state.clone(),
        });
    let listeners: Vec<Listener> = metrics.chain(inputs_listeners).collect();
    size_descriptors(config.limits.max_connections, listeners.len());
    let bound = bind(listeners, &web).await?;

    // Everything runs.
    for source in inputs {
        tokio::spawn(source.run(config.poll_interval, chunk_tx.clone()));
    }
    drop(chunk_tx);
    let baseline = finish::load_baseline(&config, wall_clock()).await?;
    let ingest = Ingest::new(Model::new(build::model_config(&config, baseline)));
    let ingest_task = tokio::spawn(ingest::run(ingest, chunk_rx, snap_tx, stop_rx.clone()));
    announce_go_style(&config);
    let no_input = spawn_watchers(&config, &snap_rx, &stop_tx)?;
    for output in &outputs {
        tokio::spawn(
            output
                .clone()
                .run(snap_rx.clone(), stop_rx.clone(), wall_clock),
        );
    }
    let mut servers = tokio::task::JoinSet::new();
    for (tcp, listener, tls) in bound {
        let address = tcp
            .local_addr()
            .map_or_else(|_| listener.text.clone(), |a| a.to_string());
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%address, %scheme, telemetry_path = listener.telemetry_path.as_deref(), "{}", listener.what);
        let mut stopped = stop_rx.clone();
        let shutdown: crate::support::Task = Box::pin(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        servers.spawn(listener.handler.serve_on(tcp, tls, config.limits, shutdown));
    }

    // The run ends: the servers stop, the last snapshot is delivered and judged.
    let server = async move { while servers.join_next().await.is_some() {} };
    let mut stopping = stop_rx.clone();
    let final_delivery = async {
        let _ = stopping.wait_for(|s| *s).await;
        // The ingest task closes every service and publishes that snapshot at once.
        let mut closed = snap_rx.clone();
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closed.wait_for(|s| s.closed)).await;
        let mut judged = (*snap_rx.borrow().clone()).clone();
        finish::judge_queries(&config, &mut judged).await;
        let snap = Arc::new(judged);
        let delivered =
            deliver_all(&outputs, snap.clone(), wall_clock(), FINAL_DELIVERY_TIMEOUT).await;
        (delivered, snap)
    };
    let ((), (delivered, last)) = tokio::join!(server, final_delivery);
    ingest_task.abort();
    tracing::info!("Shut down.");
    let judged = finish::finish(&config, &last, finish::run_ended(&last), wall_clock());
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

/// A listener bound, with its TLS acceptor when the web config has TLS.
type Bound = (TcpListener, Listener, Option<TlsAcceptor>);

/// Binds every listener, in order, each with the web config's TLS (HTTP/2 offered unless
/// the web config turns it off, always where the handler needs it): the first address
/// that cannot be bound fails the start, before anything runs.
async fn bind(listeners: Vec<Listener>, web: &WebConfig) -> Result<Vec<Bound>, AppError> {
    let mut bound = Vec::with_capacity(listeners.len());
    for listener in listeners {
        let tls = web
            .tls
            .as_ref()
            .map(|files| tls::acceptor(files, web.http2 || listener.handler.needs_h2()))
            .transpose()?;
        let tcp = TcpListener::bind(listener.address)
            .await
            .map_err(|source| AppError::Bind {
                address: listener.text.clone(),
                source,
            })?;
        bound.push((tcp, listener, tls));
    }
    Ok(bound)
}

/// Says at start when the exporter is configured as the Go exporter is.
fn announce_go_style(config: &Config) {
    if !config.inputs.go_style {
        return;
    }
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

/// The watchers that end the run or abort Locust (`--exit-when-locust-quits`,
/// `--exit-after-stop`, `--check.abort`); the `--exit-after-stop` one, whose answer says
/// whether no input ever gave data.
fn spawn_watchers(
    config: &Config,
    snap_rx: &watch::Receiver<Arc<Snapshot>>,
    stop_tx: &watch::Sender<bool>,
) -> Result<Option<tokio::task::JoinHandle<bool>>, AppError> {
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
    if config.checks.abort && config.checks.abort_stdout {
        tokio::spawn(abort::print(
            snap_rx.clone(),
            config.checks.grace,
            wall_clock,
        ));
    } else if config.checks.abort {
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
                config.checks.grace,
                wall_clock,
            ));
        }
    }
    Ok(no_input)
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
