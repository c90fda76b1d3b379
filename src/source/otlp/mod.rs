//! The OTLP receiver (`--otlp.listen-address`): one port for OTLP/gRPC (HTTP/2, `application/grpc`,
//! Locust's default protocol) and OTLP/HTTP (`POST /v1/metrics`, `/v1/traces`, `/v1/logs`,
//! protobuf or JSON, gzip or not), so one `OTEL_EXPORTER_OTLP_ENDPOINT` works whatever
//! protocol the exporter picks (`docs/otlp.md`).
//!
//! An input like the others ([`OtlpSource`] is a [`Source`]), which listens: its handler
//! ([`Receiver`], a [`crate::serve::server::Handler`]) lives here, served by the same accept
//! loop, limits, TLS and basic auth as `/metrics`. A request stays in this room: its body is
//! read within `--otlp.max-message-bytes` ([`DEFAULT_MAX_MESSAGE_BYTES`]; before and after
//! decompression), a deadline and a minimum rate; then, holding one of [`MAX_CONCURRENT`]
//! permits, it is mapped (`crate::parse::otlp`, on a blocking thread) and each service's
//! updates are handed to the ingest task as [`super::Body::Updates`] chunks (backpressure: the
//! client waits while the ingest queue is full). The client is answered once its updates
//! are queued — not applied: what is queued is applied in order, and an exporter that is
//! answered late retries, which counts nothing twice but would hold its data meanwhile —
//! with the counts of accepted and rejected points (OTLP's partial success), or why the
//! message was refused whole (`400` / `INVALID_ARGUMENT`, never retried by exporters).
//! A source that answers its client maps its request before it answers: the one exception
//! to "a source never parses". Rejections are counted in `locust_exporter_otlp_*` and
//! logged at most once a minute; services idle for 15 minutes are let go
//! ([`super::Body::Vanished`]).
//!
//! gRPC framing, status codes and trailers are tonic's ([`tonic::server::Grpc`]); the
//! message is read and decompressed here first, because tonic's gzip has no limit on what
//! it inflates to.
//!
//! The files: this door is the [`Source`] and the listener's handler, which sends a request
//! to `http` or `grpc`; both read its body through `body`'s budgets and hand the message
//! to the `receiver`, which maps it and queues the updates; `stats` counts it all.

mod body;
mod grpc;
mod http;
mod receiver;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response};
use tokio::sync::mpsc;
use tonic::body::Body as GrpcBody;

pub use body::{MAX_BODY_BYTES_IN_FLIGHT, MAX_READ, MIN_READ_RATE, READ_GRACE};
pub use receiver::{chunks, origin, Receiver, DEFAULT_MAX_MESSAGE_BYTES, MAX_CONCURRENT, SOURCE};
pub use stats::{OtlpStats, ITEMS, REQUESTS};

use super::{Chunk, ListenContext, ReadError, Source, Task};
use crate::parse::otlp;
use crate::serve::auth::gate;
use crate::serve::client_errors::HttpStats;
use crate::serve::server::Handler;
use crate::serve::Listener;
use crate::support::report::SelfMetrics;

/// The receiver as a listener's handler: the web config's basic auth first, then OTLP/gRPC
/// when the content type says so, else OTLP/HTTP (with HTTP/2 always offered, since gRPC
/// needs it, and h2c on plain TCP).
impl Handler for Receiver {
    type Body = GrpcBody;

    async fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: Option<std::net::IpAddr>,
    ) -> Response<GrpcBody> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(denied) = gate(&self.auth, &self.http, authorization, peer).await {
            return denied.map(|b| GrpcBody::new(Full::new(b)));
        }
        let grpc = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
        if grpc {
            grpc::handle(self, req).await
        } else {
            http::handle(self, req).await
        }
    }

    fn stats(&self) -> &HttpStats {
        &self.http
    }

    fn h2c(&self) -> bool {
        true
    }
}

/// How often idle services are looked for when no request comes.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The OTLP input: its listener's address and the mapping's settings until it listens, then
/// its receiver (whose idle services it lets go even when no request comes).
pub struct OtlpSource {
    address: std::net::SocketAddr,
    text: String,
    max_bytes: usize,
    options: otlp::Options,
    receiver: Option<Arc<Receiver>>,
}

impl OtlpSource {
    /// Listens on `address` (`text` as given), taking messages of at most `max_bytes`,
    /// mapped with `options`.
    pub fn new(
        address: std::net::SocketAddr,
        text: String,
        max_bytes: usize,
        options: otlp::Options,
    ) -> Self {
        OtlpSource {
            address,
            text,
            max_bytes,
            options,
            receiver: None,
        }
    }
}

impl Source for OtlpSource {
    /// `--once` takes no OTLP input (the configuration refuses it): nothing to read.
    fn read_now(&mut self, _sink: &mut dyn FnMut(Chunk)) -> Result<(), ReadError> {
        Ok(())
    }

    fn listener(&mut self, ctx: &ListenContext) -> Option<Listener> {
        let receiver = Arc::new(Receiver::new(
            ctx,
            SOURCE,
            self.max_bytes,
            self.options.clone(),
        ));
        self.receiver = Some(receiver.clone());
        Some(Listener {
            address: self.address,
            text: self.text.clone(),
            what: "Receiving OTLP (gRPC and HTTP).",
            telemetry_path: None,
            handler: receiver,
        })
    }

    fn self_metrics(&self) -> Option<Arc<dyn SelfMetrics>> {
        let stats: Arc<dyn SelfMetrics> = self.receiver.as_ref()?.stats();
        Some(stats)
    }

    fn run(self: Box<Self>, _poll_every: Duration, _tx: mpsc::Sender<Chunk>) -> Task {
        Box::pin(async move {
            let Some(receiver) = self.receiver else {
                return;
            };
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let forgotten = {
                    let mut r = receiver
                        .receiving
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    r.sweep((receiver.clock)());
                    r.forgotten()
                };
                if !receiver.let_go(forgotten).await {
                    return;
                }
            }
        })
    }
}
