//! OTLP/HTTP: `POST /v1/metrics`, `/v1/traces`, `/v1/logs`, protobuf or JSON, gzip or not;
//! answered with an export response (partial success) or a `google.rpc.Status`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tonic::body::Body as GrpcBody;

use super::body::{gunzip, read, Unreadable};
use super::receiver::{content_type, error, export_response, json_response, text, Receiver};
use super::stats::RequestOutcome;
use crate::parse::otlp::{Encoding, Signal};

/// An OTLP/HTTP request: `POST /v1/{metrics,traces,logs}`, protobuf or JSON, gzip or not.
pub(super) async fn handle(r: Arc<Receiver>, req: Request<Incoming>) -> Response<GrpcBody> {
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
        r.stats.request(signal, RequestOutcome::Unsupported, None);
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
            r.stats
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
            r.stats
                .request(signal, RequestOutcome::Unsupported, Some(&why));
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported {why}\n"),
            );
        }
    };
    let unreadable = |this: &Receiver, e: Unreadable| {
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
    let (body, _held) = match read(req.into_body(), r.max_bytes, &r.in_flight).await {
        Ok(b) => b,
        Err(e) => return unreadable(&r, e),
    };
    let Ok(_permit) = r.permits.acquire().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Shutting down\n");
    };
    let message = match if gzip {
        gunzip(&body, r.max_bytes).map(Bytes::from)
    } else {
        Ok(body)
    } {
        Ok(m) => m,
        Err(e) => return unreadable(&r, e),
    };
    match r.submit(signal, encoding, message).await {
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
