//! HTTP (SPEC §6), warp only. Reads snapshots through a `watch::Receiver` and never writes to
//! the model, so a scrape never blocks ingestion and always serves one consistent snapshot.
//!
//! Routes: the telemetry path (default `/metrics`), `/` (landing page), `/-/healthy`,
//! `/-/ready`. [`respond`] holds every decision and is a plain function; [`serve`] runs the
//! server on a listener bound by the caller, until `shutdown` completes.

pub mod landing;
pub mod tls;
pub mod web_config;

use std::future::Future;
use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::process_collector::ProcessCollector;
use tokio::net::TcpListener;
use tokio::sync::watch;
use warp::http::{header, Response, StatusCode};
use warp::Filter;

use crate::expose::{self, Sets, CONTENT_TYPE};
use crate::model::snapshot::Snapshot;
use web_config::WebConfig;

/// What the handlers need.
pub struct HttpState {
    /// The latest published snapshot.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--metrics`.
    pub sets: Sets,
    /// Process metrics of this process (None where /proc is unavailable).
    pub process: Option<ProcessCollector>,
    /// Basic auth users from `--web.config.file`.
    pub web: WebConfig,
}

impl HttpState {
    /// State for `snapshots`, with process metrics.
    pub fn new(
        snapshots: watch::Receiver<Arc<Snapshot>>,
        telemetry_path: String,
        sets: Sets,
        web: WebConfig,
    ) -> Self {
        HttpState {
            snapshots,
            telemetry_path,
            sets,
            process: Some(ProcessCollector::for_self()),
            web,
        }
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// The response for a GET of `path` with the given `Authorization` header.
pub fn respond(path: &str, authorization: Option<&str>, state: &HttpState) -> Response<String> {
    if !state.web.authorized(authorization) {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "text/plain; charset=utf-8",
            "Unauthorized\n".into(),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"locust-exporter\""),
        );
        return r;
    }
    let snap = state.snapshots.borrow().clone();
    match path {
        p if p == state.telemetry_path => {
            let extra = state
                .process
                .as_ref()
                .map(Collector::collect)
                .unwrap_or_default();
            text(
                StatusCode::OK,
                CONTENT_TYPE,
                expose::render(&snap, state.sets, &extra),
            )
        }
        "/" => text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            landing::page(&snap, &state.telemetry_path),
        ),
        "/-/healthy" => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "Healthy\n".into(),
        ),
        "/-/ready" if snap.seq > 0 => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "Ready\n".into(),
        ),
        "/-/ready" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "Not ready\n".into(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Not found\n".into(),
        ),
    }
}

/// The warp filter: every GET goes to [`respond`].
pub fn routes(
    state: Arc<HttpState>,
) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone {
    warp::get()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("authorization"))
        .map(move |path: warp::path::FullPath, auth: Option<String>| {
            respond(path.as_str(), auth.as_deref(), &state)
        })
}

/// Serves `state` on `listener` until `shutdown` completes, over TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    match tls {
        None => {
            warp::serve(routes(state))
                .incoming(listener)
                .graceful(shutdown)
                .run()
                .await
        }
        Some(acceptor) => tls::serve(listener, acceptor, state, shutdown).await,
    }
}
