//! OTLP/gRPC: the unary `Export` methods of the metrics, trace and logs services, framed,
//! answered and given status codes by tonic.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use tonic::body::Body as GrpcBody;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use super::body::{grpc_message, gunzip, read, Unreadable};
use super::receiver::{export_response, Receiver};
use super::stats::RequestOutcome;
use crate::parse::otlp::proto::ExportResponse;
use crate::parse::otlp::{Encoding, Signal};

/// An OTLP/gRPC request: one unary `Export` of a signal's service, its message read and
/// inflated here (within the limit) before tonic decodes and answers it.
pub(super) async fn handle(r: Arc<Receiver>, req: Request<Incoming>) -> Response<GrpcBody> {
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
    let status = |this: &Receiver, e: Unreadable| {
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
    let (frame, _held) = match read(body, r.max_bytes.saturating_add(5), &r.in_flight).await {
        Ok(b) => b,
        Err(e) => return status(&r, e),
    };
    let Ok(_permit) = r.permits.acquire().await else {
        return Status::unavailable("shutting down").into_http();
    };
    let message = match grpc_message(&frame, r.max_bytes).and_then(|(compressed, message)| {
        match (compressed, compression.as_deref()) {
            (false, _) => Ok(message),
            (true, Some("gzip")) => gunzip(&message, r.max_bytes).map(Bytes::from),
            (true, other) => Err(Unreadable::Broken(format!(
                "grpc-encoding {:?} is not supported (gzip or none)",
                other.unwrap_or("")
            ))),
        }
    }) {
        Ok(m) => m,
        Err(e) => return status(&r, e),
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
        receiver: r.clone(),
        signal,
    };
    let mut grpc =
        tonic::server::Grpc::new(RawCodec).max_decoding_message_size(r.max_bytes.saturating_add(1));
    let mut r = grpc.unary(service, req).await;
    r.headers_mut()
        .insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
    r
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
