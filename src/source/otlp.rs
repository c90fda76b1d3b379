//! The OTLP receiver (`--otlp.listen-address`): one port for OTLP/gRPC (HTTP/2, `application/grpc`,
//! Locust's default protocol) and OTLP/HTTP (`POST /v1/metrics`, `/v1/traces`, `/v1/logs`,
//! protobuf or JSON, gzip or not), so one `OTEL_EXPORTER_OTLP_ENDPOINT` works whatever
//! protocol the exporter picks (`docs/otlp.md`).
//!
//! A source like the others: it speaks bytes only. It reads a request's body within
//! `--otlp.max-message-bytes` ([`DEFAULT_MAX_MESSAGE_BYTES`]; before and after
//! decompression), hands the message to the ingest task as a [`Body::Otlp`] chunk
//! (backpressure: the client waits while the ingest queue is full) and answers once the
//! ingest task has applied it, with what it says: the counts of accepted and rejected
//! points (OTLP's partial success), or why the message was refused whole (`400` /
//! `INVALID_ARGUMENT`, never retried by exporters). At most [`MAX_CONCURRENT`] messages are
//! read at once, so memory stays bounded however many clients send. Rejections are counted
//! in `locust_exporter_otlp_*` and logged at most once a minute.
//!
//! gRPC framing, status codes and trailers are tonic's ([`tonic::server::Grpc`]); the
//! message is read and decompressed here first, because tonic's gzip has no limit on what
//! it inflates to.

use std::io::Read;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{mpsc, Semaphore};
use tonic::body::Body as GrpcBody;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use super::{Body, Chunk, Counted, Origin, OtlpRequest, Outcome, Reply};
use crate::expose::format::encoder::Kind;
use crate::expose::sets::self_metrics::{Report, SelfMetrics};
use crate::parse::otlp::proto::{ExportResponse, PartialSuccess, RpcStatus};
use crate::parse::otlp::{Encoding, Signal};
use crate::support::log_every::LogEvery;

/// Largest message accepted by default (`--otlp.max-message-bytes`), after decompression
/// (and on the wire).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Messages inflated and applied at once (each may hold twice the largest message while it
/// is inflated); the others wait, their bodies read. A permit is taken only once a body is
/// read, so a slow sender holds its connection and nothing else.
pub const MAX_CONCURRENT: usize = 4;
/// A request body must be read whole within this long (the SDKs' own export timeout is
/// 10 s): past it the request is answered `408` / `DEADLINE_EXCEEDED`.
pub const MAX_READ: Duration = Duration::from_secs(10);
/// After [`READ_GRACE`], a body must keep arriving at this many bytes a second on average
/// (a sender trickling a byte every few seconds is cut off in a few seconds, not ten).
pub const MIN_READ_RATE: f64 = 4096.0;
/// How long a body may take before [`MIN_READ_RATE`] applies.
pub const READ_GRACE: Duration = Duration::from_secs(1);
/// Bytes of request bodies held at once, being read or waiting for a permit: past it a
/// request is answered `503` / `UNAVAILABLE` (exporters retry those), so many senders of
/// large bodies cannot add up memory.
pub const MAX_BODY_BYTES_IN_FLIGHT: usize = 64 << 20;

/// `locust_exporter_otlp_requests_total{signal,outcome}`.
pub const REQUESTS: &str = "locust_exporter_otlp_requests_total";
/// `locust_exporter_otlp_items_total{signal,outcome}`.
pub const ITEMS: &str = "locust_exporter_otlp_items_total";

const SIGNALS: [Signal; 3] = [Signal::Metrics, Signal::Traces, Signal::Logs];

/// How a request ended (the `outcome` label of [`REQUESTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestOutcome {
    /// Everything in it was used or ignored.
    Ok,
    /// Some items were rejected.
    Partial,
    /// Not a valid export request.
    Invalid,
    /// Over `--otlp.max-message-bytes`.
    TooLarge,
    /// A content type, encoding or method the receiver does not take.
    Unsupported,
    /// The exporter is shutting down.
    Unavailable,
    /// Its body did not arrive within [`MAX_READ`], or slower than [`MIN_READ_RATE`].
    TooSlow,
    /// [`MAX_BODY_BYTES_IN_FLIGHT`] were held by other requests.
    Busy,
}

impl RequestOutcome {
    const ALL: [RequestOutcome; 8] = [
        RequestOutcome::Ok,
        RequestOutcome::Partial,
        RequestOutcome::Invalid,
        RequestOutcome::TooLarge,
        RequestOutcome::Unsupported,
        RequestOutcome::Unavailable,
        RequestOutcome::TooSlow,
        RequestOutcome::Busy,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Partial => "partial",
            RequestOutcome::Invalid => "invalid",
            RequestOutcome::TooLarge => "too_large",
            RequestOutcome::Unsupported => "unsupported",
            RequestOutcome::Unavailable => "unavailable",
            RequestOutcome::TooSlow => "too_slow",
            RequestOutcome::Busy => "busy",
        }
    }
}

/// The receiver's own counters.
#[derive(Debug, Default)]
pub struct OtlpStats {
    requests: [[AtomicU64; RequestOutcome::ALL.len()]; SIGNALS.len()],
    /// Accepted, ignored, stale, rejected items per signal.
    items: [[AtomicU64; 4]; SIGNALS.len()],
    log: LogEvery,
}

impl OtlpStats {
    fn request(&self, signal: Signal, outcome: RequestOutcome, why: Option<&str>) {
        self.requests[signal as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(why) = why {
            if self.log.ready() {
                tracing::warn!(
                    signal = signal.as_str(),
                    outcome = outcome.as_str(),
                    "OTLP {} export {}: {why}. Further such errors are counted in {REQUESTS} and {ITEMS} and logged at most once a minute.",
                    signal.as_str(),
                    match outcome {
                        RequestOutcome::Partial => "partly rejected",
                        _ => "refused",
                    }
                );
            }
        }
    }

    fn items(&self, signal: Signal, c: &Counted) {
        let row = &self.items[signal as usize];
        row[0].fetch_add(c.accepted, Ordering::Relaxed);
        row[1].fetch_add(c.ignored, Ordering::Relaxed);
        row[2].fetch_add(c.stale, Ordering::Relaxed);
        row[3].fetch_add(c.rejected, Ordering::Relaxed);
    }
}

impl SelfMetrics for OtlpStats {
    fn report(&self, out: &mut dyn Report) {
        out.family(
            REQUESTS,
            "OTLP export requests received, by signal and outcome.",
            Kind::Counter,
        );
        for s in SIGNALS {
            for o in RequestOutcome::ALL {
                let n = self.requests[s as usize][o as usize].load(Ordering::Relaxed);
                out.sample(&[("signal", s.as_str()), ("outcome", o.as_str())], n as f64);
            }
        }
        out.family(
            ITEMS,
            "OTLP data points, spans and log records received, by signal and outcome (accepted; ignored: read and not mapped; stale: a point not newer than its stream's last, dropped; rejected).",
            Kind::Counter,
        );
        for s in SIGNALS {
            for (i, o) in ["accepted", "ignored", "stale", "rejected"]
                .iter()
                .enumerate()
            {
                let n = self.items[s as usize][i].load(Ordering::Relaxed);
                out.sample(&[("signal", s.as_str()), ("outcome", o)], n as f64);
            }
        }
    }
}

/// The receiver: turns requests into chunks for the ingest task and its answers into
/// responses.
#[derive(Debug)]
pub struct Receiver {
    tx: mpsc::Sender<Chunk>,
    origin: Arc<Origin>,
    stats: Arc<OtlpStats>,
    permits: Semaphore,
    /// Largest message, before and after decompression.
    max_bytes: usize,
    /// Bytes of bodies held now ([`MAX_BODY_BYTES_IN_FLIGHT`] at most).
    in_flight: Arc<AtomicUsize>,
}

/// Why a body could not be read.
enum Unreadable {
    TooLarge,
    Broken(String),
    TooSlow,
    Busy,
}

/// Bytes of one body counted against [`MAX_BODY_BYTES_IN_FLIGHT`] while it is held.
struct Held {
    in_flight: Arc<AtomicUsize>,
    bytes: usize,
}

impl Held {
    /// Counts `n` more bytes; false (nothing counted) past the budget.
    fn add(&mut self, n: usize) -> bool {
        let before = self.in_flight.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > MAX_BODY_BYTES_IN_FLIGHT {
            self.in_flight.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        self.bytes += n;
        true
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl Receiver {
    /// A receiver sending to `tx`, taking messages of at most `max_bytes`; `source` names it
    /// in the self-metrics (`otlp`).
    pub fn new(tx: mpsc::Sender<Chunk>, source: &str, max_bytes: usize) -> Self {
        Receiver {
            tx,
            origin: Arc::new(Origin {
                service: String::new(),
                role: crate::parse::FileRole::Otlp,
                source: source.to_owned(),
            }),
            stats: Arc::new(OtlpStats::default()),
            permits: Semaphore::new(MAX_CONCURRENT),
            max_bytes,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Reads a body of at most `limit` bytes within [`MAX_READ`] and [`MIN_READ_RATE`],
    /// its bytes counted against [`MAX_BODY_BYTES_IN_FLIGHT`] until the returned guard drops.
    async fn read<B>(&self, body: B, limit: usize) -> Result<(Bytes, Held), Unreadable>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut held = Held {
            in_flight: self.in_flight.clone(),
            bytes: 0,
        };
        let start = tokio::time::Instant::now();
        let mut body = body;
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut total = 0usize;
        loop {
            // The next frame is due while the body keeps the minimum rate, and within the
            // whole deadline.
            let due = READ_GRACE.as_secs_f64() + (total as f64 + 1.0) / MIN_READ_RATE;
            let due = start + Duration::from_secs_f64(due).min(MAX_READ);
            let frame = match tokio::time::timeout_at(due, body.frame()).await {
                Err(_) => return Err(Unreadable::TooSlow),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(Unreadable::Broken(format!(
                        "the request body could not be read: {e}"
                    )))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            total = total.saturating_add(data.len());
            if total > limit {
                return Err(Unreadable::TooLarge);
            }
            if !held.add(data.len()) {
                return Err(Unreadable::Busy);
            }
            chunks.push(data);
        }
        let bytes = if chunks.len() == 1 {
            chunks.pop().unwrap_or_default()
        } else {
            let mut all = Vec::with_capacity(total);
            for c in &chunks {
                all.extend_from_slice(c);
            }
            Bytes::from(all)
        };
        Ok((bytes, held))
    }

    /// The receiver's counters (served with the self-metrics).
    pub fn stats(&self) -> Arc<OtlpStats> {
        self.stats.clone()
    }

    /// The response to one request: gRPC when its content type says so, else OTLP/HTTP.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<GrpcBody> {
        let grpc = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
        if grpc {
            self.grpc(req).await
        } else {
            self.http(req).await
        }
    }

    async fn http(self: Arc<Self>, req: Request<Incoming>) -> Response<GrpcBody> {
        let signal = match req.uri().path() {
            "/v1/metrics" => Signal::Metrics,
            "/v1/traces" => Signal::Traces,
            "/v1/logs" => Signal::Logs,
            _ => {
                return text(
                    StatusCode::NOT_FOUND,
                    "Not found: OTLP/HTTP is POST /v1/metrics, /v1/traces or /v1/logs; OTLP/gRPC is served on this port too\n",
                )
            }
        };
        if req.method() != Method::POST {
            self.stats
                .request(signal, RequestOutcome::Unsupported, None);
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed: POST\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        let header = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
        };
        let encoding = match header(header::CONTENT_TYPE).as_deref() {
            Some("application/x-protobuf" | "application/protobuf") => Encoding::Protobuf,
            Some("application/json") => Encoding::Json,
            other => {
                let why = format!(
                    "content type {:?}: OTLP/HTTP takes application/x-protobuf or application/json",
                    other.unwrap_or("")
                );
                self.stats
                    .request(signal, RequestOutcome::Unsupported, Some(&why));
                return text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &format!("Unsupported {why}\n"),
                );
            }
        };
        let gzip = match header(header::CONTENT_ENCODING).as_deref() {
            None | Some("identity" | "") => false,
            Some("gzip") => true,
            Some(other) => {
                let why = format!("content encoding {other:?}: gzip or none");
                self.stats
                    .request(signal, RequestOutcome::Unsupported, Some(&why));
                return text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &format!("Unsupported {why}\n"),
                );
            }
        };
        let unreadable = |this: &Self, e: Unreadable| {
            let outcome = this.unreadable(signal, e);
            let (status, code) = match outcome.0 {
                RequestOutcome::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, 8),
                RequestOutcome::TooSlow => (StatusCode::REQUEST_TIMEOUT, 4),
                RequestOutcome::Busy => (StatusCode::SERVICE_UNAVAILABLE, 14),
                _ => (StatusCode::BAD_REQUEST, 3),
            };
            let mut r = error(status, encoding, code, &outcome.1);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            r
        };
        let (body, _held) = match self.read(req.into_body(), self.max_bytes).await {
            Ok(b) => b,
            Err(e) => return unreadable(&self, e),
        };
        let Ok(_permit) = self.permits.acquire().await else {
            return text(StatusCode::SERVICE_UNAVAILABLE, "Shutting down\n");
        };
        let message = match if gzip {
            gunzip(&body, self.max_bytes).map(Bytes::from)
        } else {
            Ok(body)
        } {
            Ok(m) => m,
            Err(e) => return unreadable(&self, e),
        };
        match self.submit(signal, encoding, message).await {
            None => text(StatusCode::SERVICE_UNAVAILABLE, "Shutting down\n"),
            Some(Err(invalid)) => error(StatusCode::BAD_REQUEST, encoding, 3, &invalid.to_string()),
            Some(Ok(counted)) => {
                let body = match encoding {
                    Encoding::Protobuf => prost::Message::encode_to_vec(&export_response(&counted)),
                    Encoding::Json => json_response(signal, &counted).into_bytes(),
                };
                let mut r = Response::new(GrpcBody::new(Full::new(Bytes::from(body))));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, content_type(encoding));
                r
            }
        }
    }

    async fn grpc(self: Arc<Self>, req: Request<Incoming>) -> Response<GrpcBody> {
        let signal = match req.uri().path() {
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" => Signal::Metrics,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export" => Signal::Traces,
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export" => Signal::Logs,
            other => {
                return Status::unimplemented(format!("no such method: {other}")).into_http();
            }
        };
        let compression = req
            .headers()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (parts, body) = req.into_parts();
        let status = |this: &Self, e: Unreadable| {
            let (outcome, why) = this.unreadable(signal, e);
            match outcome {
                RequestOutcome::TooSlow => Status::deadline_exceeded(why),
                RequestOutcome::Busy => Status::unavailable(why),
                RequestOutcome::TooLarge => Status::resource_exhausted(why),
                _ => Status::invalid_argument(why),
            }
            .into_http()
        };
        // The message and its 5-byte frame header.
        let (frame, _held) = match self.read(body, self.max_bytes.saturating_add(5)).await {
            Ok(b) => b,
            Err(e) => return status(&self, e),
        };
        let Ok(_permit) = self.permits.acquire().await else {
            return Status::unavailable("shutting down").into_http();
        };
        let message =
            match grpc_message(&frame, self.max_bytes).and_then(|(compressed, message)| {
                match (compressed, compression.as_deref()) {
                    (false, _) => Ok(message),
                    (true, Some("gzip")) => gunzip(&message, self.max_bytes).map(Bytes::from),
                    (true, other) => Err(Unreadable::Broken(format!(
                        "grpc-encoding {:?} is not supported (gzip or none)",
                        other.unwrap_or("")
                    ))),
                }
            }) {
                Ok(m) => m,
                Err(e) => return status(&self, e),
            };
        // The message again as one uncompressed frame, for tonic to decode and answer.
        let mut framed = Vec::with_capacity(message.len() + 5);
        framed.push(0);
        framed.extend_from_slice(
            &u32::try_from(message.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        framed.extend_from_slice(&message);
        let mut parts = parts;
        parts.headers.remove("grpc-encoding");
        let req = Request::from_parts(parts, Full::new(Bytes::from(framed)));
        let service = Export {
            receiver: self.clone(),
            signal,
        };
        let mut grpc = tonic::server::Grpc::new(RawCodec)
            .max_decoding_message_size(self.max_bytes.saturating_add(1));
        let mut r = grpc.unary(service, req).await;
        r.headers_mut()
            .insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
        r
    }

    /// Counts and logs a body that could not be read: (how it ended, why).
    fn unreadable(&self, signal: Signal, e: Unreadable) -> (RequestOutcome, String) {
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

    /// Hands the message to the ingest task and waits for its answer (`None`: it is gone).
    async fn submit(&self, signal: Signal, encoding: Encoding, body: Bytes) -> Option<Outcome> {
        let (reply, answer) = Reply::new();
        let chunk = Chunk {
            origin: self.origin.clone(),
            body: Body::Otlp(OtlpRequest {
                signal,
                encoding,
                body,
                reply,
            }),
        };
        if self.tx.send(chunk).await.is_err() {
            self.stats
                .request(signal, RequestOutcome::Unavailable, None);
            return None;
        }
        let Ok(outcome) = answer.await else {
            self.stats
                .request(signal, RequestOutcome::Unavailable, None);
            return None;
        };
        match &outcome {
            Ok(c) => {
                self.stats.items(signal, c);
                if c.rejected > 0 {
                    let why = format!(
                        "{} of {} rejected, the first: {}",
                        c.rejected,
                        c.rejected + c.accepted + c.ignored,
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

/// Inflates gzip within `max` bytes: a bomb stops at the limit.
fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>, Unreadable> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    match flate2::read::GzDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
    {
        Ok(_) if out.len() > max => Err(Unreadable::TooLarge),
        Ok(_) => Ok(out),
        Err(e) => Err(Unreadable::Broken(format!("gzip: {e}"))),
    }
}

/// The one message (of at most `max` bytes) of a unary gRPC request body:
/// `(compressed, message)`.
fn grpc_message(frame: &Bytes, max: usize) -> Result<(bool, Bytes), Unreadable> {
    let broken = |why: &str| Unreadable::Broken(format!("not one gRPC message: {why}"));
    if frame.len() < 5 {
        return Err(broken("shorter than a frame header"));
    }
    let compressed = match frame[0] {
        0 => false,
        1 => true,
        _ => return Err(broken("an unknown compression flag")),
    };
    let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
    if len > max {
        return Err(Unreadable::TooLarge);
    }
    if frame.len() != len + 5 {
        return Err(broken("its length does not match the body"));
    }
    Ok((compressed, frame.slice(5..)))
}

fn content_type(encoding: Encoding) -> HeaderValue {
    HeaderValue::from_static(match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    })
}

fn text(status: StatusCode, body: &str) -> Response<GrpcBody> {
    let mut r = Response::new(GrpcBody::new(Full::new(Bytes::from(body.to_owned()))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An OTLP/HTTP error: a `google.rpc.Status` in the request's encoding.
fn error(status: StatusCode, encoding: Encoding, code: i32, message: &str) -> Response<GrpcBody> {
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

fn export_response(c: &Counted) -> ExportResponse {
    ExportResponse {
        partial_success: (c.rejected > 0).then(|| PartialSuccess {
            rejected: i64::try_from(c.rejected).unwrap_or(i64::MAX),
            error_message: c.reason.clone().unwrap_or_default(),
        }),
    }
}

fn json_response(signal: Signal, c: &Counted) -> String {
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

/// The unary `Export` method of one signal's service.
#[derive(Clone)]
struct Export {
    receiver: Arc<Receiver>,
    signal: Signal,
}

impl tower_service::Service<tonic::Request<Bytes>> for Export {
    type Response = tonic::Response<ExportResponse>;
    type Error = Status;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Status>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let (receiver, signal) = (self.receiver.clone(), self.signal);
        Box::pin(async move {
            match receiver
                .submit(signal, Encoding::Protobuf, req.into_inner())
                .await
            {
                None => Err(Status::unavailable("the exporter is shutting down")),
                Some(Err(invalid)) => Err(Status::invalid_argument(invalid.to_string())),
                Some(Ok(counted)) => Ok(tonic::Response::new(export_response(&counted))),
            }
        })
    }
}

/// A codec that hands the message over as bytes (decoded by the ingest task, like every
/// input) and encodes the prost response.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ExportResponse;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = ExportResponse;
    type Error = Status;

    fn encode(&mut self, item: ExportResponse, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst).map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
