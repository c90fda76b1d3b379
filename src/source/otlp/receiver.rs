//! The receiver: maps each export request (on a blocking thread, one of
//! [`MAX_CONCURRENT`] at a time) and queues each service's updates for the ingest task; and
//! the answers both protocols share.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::{mpsc, Semaphore};
use tonic::body::Body as GrpcBody;

use super::body::{Unreadable, MAX_BODY_BYTES_IN_FLIGHT, MAX_READ, MIN_READ_RATE};
use super::stats::{Counted, OtlpStats, Outcome, RequestOutcome};
use crate::parse::otlp::proto::{ExportResponse, PartialSuccess, RpcStatus};
use crate::parse::otlp::{self, Encoding, Receiving, Signal};
use crate::parse::FileRole;
use crate::serve::auth::Auth;
use crate::serve::client_errors::HttpStats;
use crate::source::{Body, Chunk, ListenContext, Origin};

/// (and on the wire).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Messages inflated and applied at once (each may hold twice the largest message while it
/// is inflated); the others wait, their bodies read. A permit is taken only once a body is
/// read, so a slow sender holds its connection and nothing else.
pub const MAX_CONCURRENT: usize = 4;

/// The `source` label of the receiver's services' entries (`otlp SERVICE`).
pub const SOURCE: &str = "otlp";

/// The receiver: turns requests into chunks for the ingest task and its answers into
/// responses.
pub struct Receiver {
    pub(super) tx: mpsc::Sender<Chunk>,
    /// The `source` label of its services' entries (`otlp SERVICE`).
    pub(super) source: String,
    /// The mapping's memory (cumulative streams, services): one request maps at a time.
    pub(super) receiving: Arc<std::sync::Mutex<Receiving>>,
    /// `basic_auth_users` of `--web.config.file`.
    pub(super) auth: Auth,
    /// Clients refused, dropped or denied on this listener.
    pub(super) http: Arc<HttpStats>,
    pub(super) stats: Arc<OtlpStats>,
    pub(super) permits: Semaphore,
    /// Largest message, before and after decompression.
    pub(super) max_bytes: usize,
    /// Bytes of bodies held now ([`MAX_BODY_BYTES_IN_FLIGHT`] at most).
    pub(super) in_flight: Arc<AtomicUsize>,
    /// The wall clock ([`ListenContext::clock`]).
    pub(super) clock: fn() -> f64,
}

impl Receiver {
    /// A receiver sending to `ctx`'s channel what it maps with `options`, taking messages of
    /// at most `max_bytes`; `source` names it in the self-metrics (`otlp`).
    pub(super) fn new(
        ctx: &ListenContext,
        source: &str,
        max_bytes: usize,
        options: otlp::Options,
    ) -> Self {
        Receiver {
            tx: ctx.tx.clone(),
            source: source.to_owned(),
            receiving: Arc::new(std::sync::Mutex::new(Receiving::new(options))),
            auth: Auth::new(ctx.users.clone()),
            http: ctx.stats.clone(),
            stats: Arc::new(OtlpStats::default()),
            permits: Semaphore::new(MAX_CONCURRENT),
            max_bytes,
            in_flight: Arc::new(AtomicUsize::new(0)),
            clock: ctx.clock,
        }
    }

    /// The receiver's counters (served with the self-metrics).
    pub fn stats(&self) -> Arc<OtlpStats> {
        self.stats.clone()
    }

    /// Hands the services the mapping forgot (idle for 15 minutes) to the ingest task to let
    /// go; false when it is gone.
    pub(super) async fn let_go(&self, forgotten: Vec<String>) -> bool {
        for service in forgotten {
            tracing::info!(%service, "No OTLP data for this service in 15 minutes: it is no longer received (and no longer served unless another input feeds it).");
            let chunk = Chunk {
                origin: origin(&self.source, &service),
                body: Body::Vanished,
            };
            if self.tx.send(chunk).await.is_err() {
                return false;
            }
        }
        true
    }

    pub(super) fn unreadable(&self, signal: Signal, e: Unreadable) -> (RequestOutcome, String) {
        let (outcome, why) = match e {
            Unreadable::TooLarge => (
                RequestOutcome::TooLarge,
                format!(
                    "a message over {} bytes (--otlp.max-message-bytes)",
                    self.max_bytes
                ),
            ),
            Unreadable::Broken(why) => (RequestOutcome::Invalid, why),
            Unreadable::TooSlow => (
                RequestOutcome::TooSlow,
                format!(
                    "its body did not arrive within {} s, or slower than {} bytes a second",
                    MAX_READ.as_secs(),
                    MIN_READ_RATE
                ),
            ),
            Unreadable::Busy => (
                RequestOutcome::Busy,
                format!(
                    "{} bytes of request bodies are held already; retry",
                    MAX_BODY_BYTES_IN_FLIGHT
                ),
            ),
        };
        self.stats.request(signal, outcome, Some(&why));
        (outcome, why)
    }

    /// Maps the message (on a blocking thread: the mapping's memory is one request's at a
    /// time) and queues each service's updates for the ingest task; `None` when it is gone.
    pub(super) async fn submit(
        &self,
        signal: Signal,
        encoding: Encoding,
        body: Bytes,
    ) -> Option<Outcome> {
        let receiving = self.receiving.clone();
        let now = (self.clock)();
        let mapped = tokio::task::spawn_blocking(move || {
            let mut r = receiving
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let export = r.export(signal, encoding, &body, now);
            (export, r.forgotten())
        })
        .await;
        let Ok((export, forgotten)) = mapped else {
            self.stats
                .request(signal, RequestOutcome::Unavailable, None);
            return None;
        };
        let outcome = match export {
            Ok(export) => {
                let counted = Counted {
                    accepted: export.accepted,
                    ignored: export.ignored,
                    stale: export.stale,
                    rejected: export.rejected,
                    reason: export.reason.clone(),
                };
                for chunk in chunks(&self.source, export) {
                    if self.tx.send(chunk).await.is_err() {
                        self.stats
                            .request(signal, RequestOutcome::Unavailable, None);
                        return None;
                    }
                }
                Ok(counted)
            }
            Err(invalid) => Err(invalid),
        };
        if !self.let_go(forgotten).await {
            return None;
        }
        match &outcome {
            Ok(c) => {
                self.stats.items(signal, c);
                if c.rejected > 0 {
                    let why = format!(
                        "{} of {} rejected, the first: {}",
                        c.rejected,
                        c.rejected + c.accepted + c.ignored + c.stale,
                        c.reason.as_deref().unwrap_or("")
                    );
                    self.stats
                        .request(signal, RequestOutcome::Partial, Some(&why));
                } else {
                    self.stats.request(signal, RequestOutcome::Ok, None);
                }
            }
            Err(e) => self
                .stats
                .request(signal, RequestOutcome::Invalid, Some(&e.to_string())),
        }
        Some(outcome)
    }
}

/// The origin of `service`'s updates: a source of its own, `SOURCE SERVICE`, whose lines
/// and state are counted as any input's.
pub fn origin(source: &str, service: &str) -> Arc<Origin> {
    Arc::new(Origin {
        service: service.to_owned(),
        role: FileRole::Events,
        source: format!("{source} {service}"),
    })
}

/// What one mapped export request gives the ingest task: each service's updates, from its
/// own origin.
pub fn chunks(source: &str, export: otlp::Export) -> impl Iterator<Item = Chunk> + '_ {
    export.services.into_iter().map(move |s| Chunk {
        origin: origin(source, &s.name),
        body: Body::Updates(s.updates, s.clamped),
    })
}

pub(super) fn content_type(encoding: Encoding) -> HeaderValue {
    HeaderValue::from_static(match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    })
}

pub(super) fn text(status: StatusCode, body: &str) -> Response<GrpcBody> {
    let mut r = Response::new(GrpcBody::new(Full::new(Bytes::from(body.to_owned()))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An OTLP/HTTP error: a `google.rpc.Status` in the request's encoding.
pub(super) fn error(
    status: StatusCode,
    encoding: Encoding,
    code: i32,
    message: &str,
) -> Response<GrpcBody> {
    let body = match encoding {
        Encoding::Protobuf => prost::Message::encode_to_vec(&RpcStatus {
            code,
            message: message.to_owned(),
        }),
        Encoding::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    };
    let mut r = Response::new(GrpcBody::new(Full::new(Bytes::from(body))));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, content_type(encoding));
    r
}

pub(super) fn export_response(c: &Counted) -> ExportResponse {
    ExportResponse {
        partial_success: (c.rejected > 0).then(|| PartialSuccess {
            rejected: i64::try_from(c.rejected).unwrap_or(i64::MAX),
            error_message: c.reason.clone().unwrap_or_default(),
        }),
    }
}

pub(super) fn json_response(signal: Signal, c: &Counted) -> String {
    if c.rejected == 0 {
        return "{}".to_owned();
    }
    let field = match signal {
        Signal::Metrics => "rejectedDataPoints",
        Signal::Traces => "rejectedSpans",
        Signal::Logs => "rejectedLogRecords",
    };
    serde_json::json!({ "partialSuccess": {
        field: c.rejected.to_string(),
        "errorMessage": c.reason.clone().unwrap_or_default(),
    }})
    .to_string()
}
