//! How much an export request decodes into, counted from its bytes before it is decoded.
//!
//! `--otlp.max-message-bytes` bounds the bytes of a message, not what they decode into: an
//! empty data point is two bytes on the wire and a couple of hundred in memory, a bucket
//! count one byte and eight (a 16 MiB message of empty points once decoded into 1.7 GB). So
//! the message is first walked as the schema `super::proto` declares it, counting every
//! message it would make (points, spans, log records, attributes, their values) and every
//! number of its repeated fields (bucket counts, bounds); past [`MAX_DECODED_ITEMS`] it is
//! refused whole, before anything is allocated. Fields the decoder skips are skipped here
//! too. A walk that meets bytes that are not protobuf stops and leaves the verdict to the
//! decoder. OTLP/JSON is counted by its values (objects, arrays and their elements).

use super::signal::Signal;

/// Most items (messages and repeated numbers) one export request may decode into: a Locust
/// export holds hundreds; this is a quarter of a million, about 40 MB decoded at most.
pub const MAX_DECODED_ITEMS: usize = 250_000;

/// A message of the schema the decoder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    MetricsRequest,
    ResourceMetrics,
    Resource,
    ScopeMetrics,
    Metric,
    /// Gauge, Sum, Histogram, ExponentialHistogram, Summary: data points at field 1.
    Points(PointKind),
    NumberPoint,
    HistogramPoint,
    ExponentialPoint,
    Buckets,
    /// A message the decoder reads none of (`Ignored`): counted, not walked.
    Opaque,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    TraceRequest,
    ResourceSpans,
    ScopeSpans,
    Span,
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PointKind {
    Number,
    Histogram,
    Exponential,
    Summary,
}

/// What a field of a message is, for the count.
enum Field {
    Message(Kind),
    /// Repeated numbers, packed or not: `width` bytes each (0: varints).
    Numbers(usize),
    /// Anything else: one scalar, a string or bytes (allocated within the message's bytes).
    Other,
}

fn field(kind: Kind, number: u64) -> Field {
    use Field::{Message as M, Numbers, Other};
    match (kind, number) {
        (Kind::MetricsRequest, 1) => M(Kind::ResourceMetrics),
        (Kind::ResourceMetrics, 1) | (Kind::ResourceSpans, 1) => M(Kind::Resource),
        (Kind::ResourceMetrics, 2) => M(Kind::ScopeMetrics),
        (Kind::Resource, 1) => M(Kind::KeyValue),
        (Kind::ScopeMetrics, 2) => M(Kind::Metric),
        (Kind::Metric, 5 | 7) => M(Kind::Points(PointKind::Number)),
        (Kind::Metric, 9) => M(Kind::Points(PointKind::Histogram)),
        (Kind::Metric, 10) => M(Kind::Points(PointKind::Exponential)),
        (Kind::Metric, 11) => M(Kind::Points(PointKind::Summary)),
        (Kind::Points(PointKind::Number), 1) => M(Kind::NumberPoint),
        (Kind::Points(PointKind::Histogram), 1) => M(Kind::HistogramPoint),
        (Kind::Points(PointKind::Exponential), 1) => M(Kind::ExponentialPoint),
        (Kind::Points(PointKind::Summary), 1) => M(Kind::Opaque),
        (Kind::NumberPoint, 7) | (Kind::HistogramPoint, 9) | (Kind::ExponentialPoint, 1) => {
            M(Kind::KeyValue)
        }
        (Kind::HistogramPoint, 6 | 7) => Numbers(8),
        // Exemplars: the decoder reads their scalars and ids, not their attributes.
        (Kind::HistogramPoint, 8) | (Kind::ExponentialPoint, 11) => M(Kind::Opaque),
        (Kind::ExponentialPoint, 8 | 9) => M(Kind::Buckets),
        (Kind::Buckets, 2) => Numbers(0),
        (Kind::KeyValue, 2) => M(Kind::AnyValue),
        (Kind::AnyValue, 5) => M(Kind::ArrayValue),
        (Kind::AnyValue, 6) => M(Kind::KeyValueList),
        (Kind::ArrayValue, 1) => M(Kind::AnyValue),
        (Kind::KeyValueList, 1) => M(Kind::KeyValue),
        (Kind::TraceRequest, 1) => M(Kind::ResourceSpans),
        (Kind::ResourceSpans, 2) => M(Kind::ScopeSpans),
        (Kind::ScopeSpans, 2) => M(Kind::Span),
        (Kind::Span, 9) => M(Kind::KeyValue),
        (Kind::Span, 15) => M(Kind::Opaque),
        (Kind::LogsRequest, 1) => M(Kind::ResourceLogs),
        (Kind::ResourceLogs, 2) => M(Kind::ScopeLogs),
        (Kind::ScopeLogs, 2) => M(Kind::Opaque),
        _ => Other,
    }
}

/// Deepest nesting walked (attribute values nest through arrays and lists; prost stops at
/// 100 too).
const MAX_DEPTH: usize = 100;

fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Items a protobuf message of `kind` in `b` decodes into, itself included, added to
/// `count`; stops (leaving the decoder to refuse what is not protobuf) at a malformed field,
/// and as soon as `count` passes `limit`.
fn walk(kind: Kind, b: &[u8], depth: usize, count: &mut usize, limit: usize) {
    *count += 1;
    if depth > MAX_DEPTH || kind == Kind::Opaque {
        return;
    }
    let mut at = 0;
    while at < b.len() && *count <= limit {
        let Some(key) = varint(b, &mut at) else {
            return;
        };
        let (number, wire) = (key >> 3, key & 7);
        let f = field(kind, number);
        match wire {
            0 => {
                if varint(b, &mut at).is_none() {
                    return;
                }
                if let Field::Numbers(_) = f {
                    *count += 1;
                }
            }
            1 | 5 => {
                at += if wire == 1 { 8 } else { 4 };
                if let Field::Numbers(_) = f {
                    *count += 1;
                }
            }
            2 => {
                let Some(len) = varint(b, &mut at).and_then(|l| usize::try_from(l).ok()) else {
                    return;
                };
                let Some(body) = at.checked_add(len).and_then(|end| b.get(at..end)) else {
                    return;
                };
                at += len;
                match f {
                    Field::Message(child) => walk(child, body, depth + 1, count, limit),
                    Field::Numbers(0) => *count += body.iter().filter(|&&x| x < 0x80).count(),
                    Field::Numbers(width) => *count += body.len() / width,
                    Field::Other => {}
                }
            }
            _ => return,
        }
    }
}

/// Items the protobuf export request of `signal` in `body` decodes into (counting stops a
/// little past `limit`).
pub fn protobuf_items(signal: Signal, body: &[u8], limit: usize) -> usize {
    let root = match signal {
        Signal::Metrics => Kind::MetricsRequest,
        Signal::Traces => Kind::TraceRequest,
        Signal::Logs => Kind::LogsRequest,
    };
    let mut count = 0;
    walk(root, body, 0, &mut count, limit);
    count
}

/// Values of an OTLP/JSON body: objects, arrays and their elements (each `{`, `[` and `,`
/// outside strings), counting stops a little past `limit`.
pub fn json_items(body: &[u8], limit: usize) -> usize {
    let (mut count, mut in_string, mut escaped) = (0usize, false, false);
    for &c in body {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' | b',' => {
                count += 1;
                if count > limit {
                    break;
                }
            }
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::otlp::proto;

    /// A metrics request of `points` empty exponential points, each with `buckets` counts.
    fn request(points: usize, buckets: usize) -> Vec<u8> {
        let point = proto::ExponentialHistogramDataPoint {
            positive: Some(proto::Buckets {
                offset: 0,
                bucket_counts: vec![1; buckets],
            }),
            ..Default::default()
        };
        let req = proto::ExportMetricsServiceRequest {
            resource_metrics: vec![proto::ResourceMetrics {
                resource: None,
                scope_metrics: vec![proto::ScopeMetrics {
                    metrics: vec![proto::Metric {
                        name: "locust.client.duration".into(),
                        unit: "s".into(),
                        data: Some(proto::MetricData::ExponentialHistogram(
                            proto::ExponentialHistogram {
                                data_points: vec![point; points],
                                aggregation_temporality: 2,
                            },
                        )),
                    }],
                }],
            }],
        };
        prost::Message::encode_to_vec(&req)
    }

    #[test]
    fn points_and_buckets_are_counted_as_decoded() {
        let b = request(3, 10);
        // The request, the resource metrics, the scope, the metric, its histogram, then per
        // point itself, its buckets message and 10 counts.
        assert_eq!(protobuf_items(Signal::Metrics, &b, usize::MAX), 5 + 3 * 12);
    }

    /// A 16 MiB message of empty points is refused by count, in far less time than it
    /// would take to decode (and without its 1.7 GB).
    #[test]
    fn a_message_of_empty_points_passes_the_budget_in_its_first_bytes() {
        let point = [0x0a, 0x00]; // field 1 (data_points), an empty message
        let mut exp = Vec::new();
        for _ in 0..(8 << 20) {
            exp.extend_from_slice(&point);
        }
        // Wrap: ExponentialHistogram in Metric(10) in ScopeMetrics(2) in ResourceMetrics(2)
        // in the request(1).
        let wrap = |field: u8, body: Vec<u8>| {
            let mut out = vec![(field << 3) | 2];
            let mut len = body.len();
            while len >= 0x80 {
                out.push((len as u8 & 0x7f) | 0x80);
                len >>= 7;
            }
            out.push(len as u8);
            out.extend(body);
            out
        };
        let body = wrap(1, wrap(2, wrap(2, wrap(10, exp))));
        assert!(body.len() > 16 << 20);
        let n = protobuf_items(Signal::Metrics, &body, MAX_DECODED_ITEMS);
        assert!(n > MAX_DECODED_ITEMS && n < MAX_DECODED_ITEMS + 10, "{n}");
    }

    #[test]
    fn json_values_are_counted_outside_strings() {
        assert_eq!(json_items(br#"{"a":[1,2,{}],"s":"{[,\"}"}"#, usize::MAX), 6);
    }

    proptest::proptest! {
        /// Any bytes: the walk ends, never panics.
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            for s in [Signal::Metrics, Signal::Traces, Signal::Logs] {
                let _ = protobuf_items(s, &b, 1000);
            }
            let _ = json_items(&b, 1000);
        }
    }
}
