//! A traces export request → request events: an HTTP client span as one request.

use super::attributes::{attribute, attribute_int, MAX_ATTRIBUTE_CHARS};
use super::export::Export;
use super::proto;
use super::receiving::{Receiving, RequestsFrom};
use crate::model::exemplar::TraceRef;
use crate::model::update::{cut_chars, Request, Update};

/// Maps a traces export request: with `--otlp.requests-from spans`, each HTTP client span
/// is one request event; otherwise spans are read and ignored.
pub(super) fn map(r: &mut Receiving, req: proto::ExportTraceServiceRequest) -> Export {
    let mut out = Export::default();
    for rs in req.resource_spans {
        let service = r.service(rs.resource.as_ref());
        let spans = rs
            .scope_spans
            .iter()
            .map(|s| s.spans.len() as u64)
            .sum::<u64>();
        if r.options.requests_from != RequestsFrom::Spans {
            out.ignored += spans;
            continue;
        }
        if spans > 0 && !r.admit(&service) {
            let why = r.too_many_services(&service);
            out.rejected += spans;
            out.reason.get_or_insert(why);
            continue;
        }
        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
            match span_request(&span) {
                Ok(Some(mut request)) => {
                    out.accepted += 1;
                    let (time, clamped) = r.clamp_time(request.time);
                    request.time = time;
                    if clamped {
                        out.of(&service).clamped += 1;
                    }
                    out.push(&service, Update::Request(request));
                }
                Ok(None) => out.ignored += 1,
                Err(why) => out.reject(format!("span {:?}: {why}", span.name)),
            }
        }
    }
    out
}

/// An HTTP client span as one request event; `None` for a span that is not one.
fn span_request(span: &proto::Span) -> Result<Option<Request<'static>>, String> {
    let attrs = &span.attributes;
    let Some(method) =
        attribute(attrs, "http.request.method").or_else(|| attribute(attrs, "http.method"))
    else {
        return Ok(None);
    };
    if span.kind != proto::SPAN_KIND_CLIENT {
        return Ok(None);
    }
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err("it ends before it starts".to_owned());
    }
    let ms = (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e6;
    if ms > crate::parse::MAX_RESPONSE_TIME_MS {
        return Err(format!("{ms} ms is longer than 24 h"));
    }
    // Locust names the span "METHOD name" (its request hook).
    let name = span
        .name
        .strip_prefix(method.as_str())
        .map(str::trim_start)
        .unwrap_or(&span.name);
    let status = attribute_int(attrs, "http.response.status_code")
        .or_else(|| attribute_int(attrs, "http.status_code"));
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == proto::STATUS_CODE_ERROR);
    if status.is_none() && !failed {
        // Neither an answer nor an error: the request was cut off (a user stopped while it
        // was in flight), and Locust, which never saw it end, did not count it.
        return Ok(None);
    }
    let error = failed.then(|| {
        attribute(attrs, "error.type")
            .filter(|e| !e.is_empty())
            .or_else(|| {
                span.status
                    .as_ref()
                    .map(|s| s.message.clone())
                    .filter(|m| !m.is_empty())
            })
            .or_else(|| status.map(|c| format!("HTTP {c}")))
            .unwrap_or_else(|| "error".to_owned())
    });
    Ok(Some(Request {
        time: span.end_time_unix_nano as f64 / 1e9,
        method: method.into(),
        name: cut_chars(name, MAX_ATTRIBUTE_CHARS).to_owned().into(),
        response_time_ms: Some(ms),
        response_length: 0,
        error: error.map(|e| {
            cut_chars(&e, crate::model::update::MAX_MESSAGE_CHARS)
                .to_owned()
                .into()
        }),
        trace: TraceRef::from_bytes(&span.trace_id, &span.span_id),
    }))
}
