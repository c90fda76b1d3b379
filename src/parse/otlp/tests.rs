use prost::Message;

use super::proto::*;
use super::*;
use crate::model::update::{RequestBatch, Update};

/// The receiver's clock in these tests.
const NOW: f64 = 1.8e9;

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
    }
}

/// One exponential `locust.client.duration` point of `name` as a protobuf export.
fn exp_export(name: &str, temporality: i32, p: ExponentialHistogramDataPoint) -> Vec<u8> {
    let mut p = p;
    p.attributes = vec![kv("name", name)];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "shop")],
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: DURATION_METRIC.into(),
                    unit: "s".into(),
                    data: Some(MetricData::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![p],
                        aggregation_temporality: temporality,
                    })),
                }],
            }],
        }],
    }
    .encode_to_vec()
}

fn point(scale: i32, offset: i32, counts: Vec<u64>, sum: f64) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        start_time_unix_nano: 7,
        time_unix_nano: 1_800_000_000_000_000_000,
        count: counts.iter().sum(),
        sum: Some(sum),
        scale,
        positive: Some(Buckets {
            offset,
            bucket_counts: counts,
        }),
        min: Some(0.01),
        max: Some(0.2),
        ..ExponentialHistogramDataPoint::default()
    }
}

fn batches(e: &Export) -> Vec<&RequestBatch<'static>> {
    e.services
        .iter()
        .flat_map(|s| &s.updates)
        .filter_map(|u| match u {
            Update::Requests(b) => Some(&**b),
            _ => None,
        })
        .collect()
}

#[test]
fn exponential_buckets_map_exactly_with_the_index_shifted_by_one() {
    let mut r = Receiving::default();
    let body = exp_export("/a", TEMPORALITY_DELTA, point(3, -50, vec![2, 0, 5], 0.4));
    let e = r
        .export(Signal::Metrics, Encoding::Protobuf, &body, NOW)
        .unwrap();
    assert_eq!((e.accepted, e.rejected), (1, 0));
    assert_eq!(e.services[0].name, "shop");
    let b = batches(&e)[0];
    assert_eq!((b.requests, b.schema), (7, 3));
    // OTLP bucket i is (base^i, base^(i+1)]: Prometheus' bucket i + 1.
    assert_eq!(b.buckets, vec![(-49, 2), (-47, 5)]);
    assert!((b.sum_ms - 400.0).abs() < 1e-9);
}

#[test]
fn scales_above_8_merge_down_to_8_as_prometheus_does() {
    let mut r = Receiving::default();
    // Scale 10: four neighbours per schema-8 bucket. OTLP indices 0..4 → Prometheus 1..5
    // at scale 10 → ((i-1)>>2)+1: 1, 1, 1, 1, 2 at schema 8.
    let body = exp_export(
        "/a",
        TEMPORALITY_DELTA,
        point(10, 0, vec![1, 1, 1, 1, 1], 5.0),
    );
    let e = r
        .export(Signal::Metrics, Encoding::Protobuf, &body, NOW)
        .unwrap();
    let b = batches(&e)[0];
    assert_eq!(b.schema, 8);
    assert_eq!(b.buckets, vec![(1, 4), (2, 1)]);
}

/// A cumulative point at `time_ns` of `counts`, its stream started at `start`.
fn cumulative(start: u64, time_ns: u64, counts: Vec<u64>, sum: f64) -> Vec<u8> {
    let mut p = point(3, -50, counts, sum);
    p.start_time_unix_nano = start;
    p.time_unix_nano = time_ns;
    exp_export("/a", TEMPORALITY_CUMULATIVE, p)
}

#[test]
fn cumulative_points_become_deltas_in_their_streams_order() {
    let mut r = Receiving::default();
    let t = |s: u64| 1_800_000_000_000_000_000 + s * 1_000_000_000;
    let mut send = |body: Vec<u8>| {
        r.export(Signal::Metrics, Encoding::Protobuf, &body, NOW)
            .unwrap()
    };
    let e1 = send(cumulative(t(0), t(1), vec![2, 0, 5], 0.4));
    assert_eq!(batches(&e1)[0].requests, 7);
    assert_eq!(
        batches(&e1)[0].start,
        Some(t(0) as f64 / 1e9),
        "the stream's start"
    );
    let e2 = send(cumulative(t(0), t(2), vec![3, 1, 5], 0.6));
    let d = batches(&e2)[0];
    assert_eq!(d.requests, 2);
    assert_eq!(d.buckets, vec![(-49, 1), (-48, 1)]);
    assert!((d.sum_ms - 200.0).abs() < 1e-6);
    assert_eq!(
        d.start,
        Some(t(1) as f64 / 1e9),
        "the period since the last point"
    );
    // The same point again (an SDK retry), an older one (a collector's reordering), and one
    // with less in it at the same start time: dropped and counted, never counted whole.
    for (body, what) in [
        (cumulative(t(0), t(2), vec![3, 1, 5], 0.6), "a duplicate"),
        (cumulative(t(0), t(1), vec![2, 0, 5], 0.4), "an older point"),
        (cumulative(t(0), t(3), vec![2, 0, 5], 0.4), "a decrease"),
    ] {
        let e = send(body);
        assert!(batches(&e).is_empty(), "{what}");
        assert_eq!((e.stale, e.rejected), (1, 0), "{what}");
    }
    // The stream goes on from the last point kept.
    let e = send(cumulative(t(0), t(4), vec![4, 1, 5], 0.7));
    assert_eq!(batches(&e)[0].requests, 1);
    // A process that started over has another start time: another stream, counted whole.
    let e = send(cumulative(t(3), t(5), vec![1, 0, 0], 0.1));
    assert_eq!(batches(&e)[0].requests, 1);
    assert_eq!(r.streams(), 2);
}

/// Past `--otlp.max-services` a new service's points are refused (partial success, with
/// the reason); a service idle for 15 minutes is forgotten, and its room is free again.
#[test]
fn services_past_the_limit_are_refused_and_idle_ones_forgotten() {
    let mut r = Receiving::new(Options {
        max_services: 2,
        ..Options::default()
    });
    let of = |service: &str| {
        let mut body = ExportMetricsServiceRequest::decode(
            &exp_export("/a", TEMPORALITY_DELTA, point(3, -50, vec![1], 0.1))[..],
        )
        .unwrap();
        body.resource_metrics[0].resource = Some(Resource {
            attributes: vec![kv("service.name", service)],
        });
        body.encode_to_vec()
    };
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let e = r
            .export(
                Signal::Metrics,
                Encoding::Protobuf,
                &of(name),
                NOW + i as f64,
            )
            .unwrap();
        if i < 2 {
            assert_eq!((e.accepted, e.rejected), (1, 0), "{name}");
        } else {
            assert_eq!((e.accepted, e.rejected), (0, 1));
            assert!(e.services.is_empty());
            let why = e.reason.unwrap_or_default();
            assert!(
                why.contains("more than 2 services") && why.contains("--otlp.max-services"),
                "{why}"
            );
        }
    }
    assert_eq!(r.services(), 2);
    // `a` keeps sending, `b` goes quiet.
    let e = r
        .export(Signal::Metrics, Encoding::Protobuf, &of("a"), NOW + 600.0)
        .unwrap();
    assert_eq!(e.accepted, 1);
    r.sweep(NOW + STREAM_IDLE_SECONDS + 100.0);
    assert_eq!(r.forgotten(), vec!["b".to_owned()]);
    assert_eq!(r.services(), 1);
    let e = r
        .export(
            Signal::Metrics,
            Encoding::Protobuf,
            &of("c"),
            NOW + STREAM_IDLE_SECONDS + 101.0,
        )
        .unwrap();
    assert_eq!((e.accepted, e.rejected), (1, 0), "room again");
}

/// A point stamped ahead of the receiver's clock by more than 10 s is taken as received
/// now (it would otherwise hold the service's current rate at 0 until then), and counted.
#[test]
fn a_point_from_the_future_is_taken_as_now_and_counted() {
    let mut r = Receiving::default();
    let mut p = point(3, -50, vec![1], 0.1);
    p.time_unix_nano = ((NOW + 30.0) * 1e9) as u64;
    let e = r
        .export(
            Signal::Metrics,
            Encoding::Protobuf,
            &exp_export("/a", TEMPORALITY_DELTA, p),
            NOW,
        )
        .unwrap();
    assert_eq!(e.services[0].clamped, 1, "{e:?}");
    assert_eq!(batches(&e)[0].time, NOW);
    let mut p = point(3, -50, vec![1], 0.1);
    p.time_unix_nano = ((NOW + 5.0) * 1e9) as u64;
    let e = r
        .export(
            Signal::Metrics,
            Encoding::Protobuf,
            &exp_export("/a", TEMPORALITY_DELTA, p),
            NOW,
        )
        .unwrap();
    assert_eq!(
        e.services[0].clamped, 0,
        "within 10 s: a clock a little ahead"
    );
}

#[test]
fn bad_points_are_rejected_alone_with_a_reason() {
    let mut r = Receiving::default();
    let cases = [
        (point(3, 0, vec![1], f64::NAN), "sum is NaN"),
        (
            ExponentialHistogramDataPoint {
                count: 9,
                ..point(3, 0, vec![1], 1.0)
            },
            "its buckets hold 1 values, its count says 9",
        ),
        (point(21, 0, vec![1], 1.0), "scale 21 is out of range"),
        (
            ExponentialHistogramDataPoint {
                negative: Some(Buckets {
                    offset: 0,
                    bucket_counts: vec![1],
                }),
                count: 2,
                ..point(3, 0, vec![1], 1.0)
            },
            "negative durations",
        ),
        (point(0, 20, vec![1], 1.0), "beyond"),
    ];
    for (p, why) in cases {
        let e = r
            .export(
                Signal::Metrics,
                Encoding::Protobuf,
                &exp_export("/a", 1, p),
                NOW,
            )
            .unwrap();
        assert_eq!((e.accepted, e.rejected), (0, 1), "{why}");
        assert!(e.reason.as_deref().unwrap().contains(why), "{:?}", e.reason);
    }
}

#[test]
fn explicit_buckets_keep_their_bounds() {
    let mut r = Receiving::default();
    let body = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: DURATION_METRIC.into(),
                    unit: "s".into(),
                    data: Some(MetricData::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            attributes: vec![kv("name", "/a"), kv("error.type", "HTTPError")],
                            count: 4,
                            sum: Some(0.1),
                            bucket_counts: vec![3, 1, 0],
                            explicit_bounds: vec![0.0, 5.0],
                            ..HistogramDataPoint::default()
                        }],
                        aggregation_temporality: TEMPORALITY_DELTA,
                    })),
                }],
            }],
        }],
    }
    .encode_to_vec();
    let e = r
        .export(Signal::Metrics, Encoding::Protobuf, &body, NOW)
        .unwrap();
    assert_eq!(e.services[0].name, DEFAULT_SERVICE);
    let b = batches(&e)[0];
    assert_eq!(b.explicit, vec![(0.0, 3), (5.0, 1), (f64::INFINITY, 0)]);
    assert_eq!(b.errors, vec![("HTTPError".into(), 4)]);
}

#[test]
fn json_takes_integers_as_strings_or_numbers_and_names_nonfinite_floats() {
    let mut r = Receiving::default();
    let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"locust.client.duration","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[
        {"attributes":[{"key":"name","value":{"stringValue":"/a"}}],"count":"3","sum":0.3,"scale":2,"positive":{"offset":-10,"bucketCounts":[1,"2"]}},
        {"attributes":[{"key":"name","value":{"stringValue":"/b"}}],"count":1,"sum":"Infinity","scale":2,"positive":{"offset":-10,"bucketCounts":["1"]}}]}}]}]}]}"#;
    let e = r
        .export(Signal::Metrics, Encoding::Json, json, NOW)
        .unwrap();
    assert_eq!((e.accepted, e.rejected), (1, 1));
    assert_eq!(batches(&e)[0].buckets, vec![(-9, 1), (-8, 2)]);
    let bad = r.export(
        Signal::Metrics,
        Encoding::Json,
        br#"{"resourceMetrics":7}"#,
        NOW,
    );
    assert!(bad
        .unwrap_err()
        .to_string()
        .starts_with("not a valid OTLP metrics export request (JSON)"));
}

#[test]
fn spans_become_requests_only_when_asked() {
    let span = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0xcd; 8],
        name: "GET /item/[id]".into(),
        kind: SPAN_KIND_CLIENT,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_012_500_000,
        attributes: vec![kv("http.request.method", "GET")],
        status: Some(Status {
            message: String::new(),
            code: STATUS_CODE_ERROR,
        }),
    };
    let body = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans { spans: vec![span] }],
        }],
    }
    .encode_to_vec();
    let e = Receiving::default()
        .export(Signal::Traces, Encoding::Protobuf, &body, NOW)
        .unwrap();
    assert_eq!((e.accepted, e.ignored), (0, 1));
    let mut spans = Receiving::new(Options {
        service: Some("api".into()),
        requests_from: RequestsFrom::Spans,
        ..Options::default()
    });
    let e = spans
        .export(Signal::Traces, Encoding::Protobuf, &body, NOW)
        .unwrap();
    assert_eq!(e.services[0].name, "api");
    let Update::Request(r) = &e.services[0].updates[0] else {
        panic!("{:?}", e.services)
    };
    assert_eq!((&*r.method, &*r.name), ("GET", "/item/[id]"));
    assert_eq!(r.response_time_ms, Some(12.5));
    assert_eq!(r.error.as_deref(), Some("error"));
    let trace = r.trace.expect("the span's own ids");
    assert_eq!((trace.trace_id, trace.span_id), ([0xab; 16], [0xcd; 8]));
}

#[test]
fn a_span_cut_off_with_no_answer_and_no_error_is_not_a_request() {
    // As Locust's stop leaves them: `GET /` with no status code and an unset status.
    let span = |status_code: Option<i64>| Span {
        trace_id: Vec::new(),
        span_id: Vec::new(),
        name: "GET /".into(),
        kind: SPAN_KIND_CLIENT,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_010_000_000,
        attributes: [kv("http.method", "GET")]
            .into_iter()
            .chain(status_code.map(|c| KeyValue {
                key: "http.status_code".into(),
                value: Some(AnyValue {
                    value: Some(Value::IntValue(c)),
                }),
            }))
            .collect(),
        status: None,
    };
    let body = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans {
                spans: vec![span(None), span(Some(200))],
            }],
        }],
    }
    .encode_to_vec();
    let e = Receiving::new(Options {
        service: None,
        requests_from: RequestsFrom::Spans,
        ..Options::default()
    })
    .export(Signal::Traces, Encoding::Protobuf, &body, NOW)
    .unwrap();
    assert_eq!((e.accepted, e.ignored, e.rejected), (1, 1, 0));
    assert_eq!(e.services[0].updates.len(), 1);
}

#[test]
fn idle_streams_are_forgotten_and_new_ones_past_the_limits_rejected_alone() {
    let mut r = Receiving::default();
    // Each point a second later than the one before (a point not newer is stale).
    let tick = std::cell::Cell::new(0u64);
    let cumulative = |name: &str, counts: Vec<u64>| {
        tick.set(tick.get() + 1);
        let mut p = point(3, -50, counts, 0.4);
        p.time_unix_nano += tick.get() * 1_000_000_000;
        exp_export(name, TEMPORALITY_CUMULATIVE, p)
    };
    let export = |r: &mut Receiving, body: &[u8], now: f64| {
        r.export(Signal::Metrics, Encoding::Protobuf, body, now)
            .unwrap()
    };
    // MAX_STREAMS streams: the next new one is rejected, a known one still counts.
    for i in 0..MAX_STREAMS {
        export(&mut r, &cumulative(&format!("/{i}"), vec![1]), NOW);
    }
    assert_eq!(r.streams(), MAX_STREAMS);
    let e = export(&mut r, &cumulative("/new", vec![1]), NOW + 1.0);
    assert_eq!((e.accepted, e.rejected), (0, 1));
    assert!(e
        .reason
        .unwrap()
        .contains("more than 10000 cumulative streams"));
    let e = export(&mut r, &cumulative("/0", vec![3]), NOW + 1.0);
    assert_eq!(
        batches(&e)[0].requests,
        2,
        "a delta against the stream kept"
    );
    // A quarter of an hour on, the streams not seen since are forgotten: room again.
    let later = NOW + STREAM_IDLE_SECONDS + 0.5;
    let e = export(&mut r, &cumulative("/new", vec![1]), later);
    assert_eq!((e.accepted, e.rejected), (1, 0));
    assert_eq!(r.streams(), 2, "/0 (seen at +1 s) and /new");
    assert!(
        r.stream_bytes() > 0 && r.stream_bytes() < 4096,
        "{}",
        r.stream_bytes()
    );
    // The byte budget: streams of 4096 buckets fill 64 MiB before 10,000 of them do; the
    // point past it is rejected, a known stream's point still counts.
    let mut r = Receiving::default();
    // (At scale 8 from 1 ms: 4096 buckets reach 64 s.)
    let wide = |name: &str, n: u64| {
        tick.set(tick.get() + 1);
        let mut p = point(8, -2552, vec![n; MAX_POINT_BUCKETS], 0.4);
        p.time_unix_nano += tick.get() * 1_000_000_000;
        exp_export(name, TEMPORALITY_CUMULATIVE, p)
    };
    let mut rejected = 0;
    for i in 0..MAX_STREAMS {
        let e = export(&mut r, &wide(&format!("/{i}"), 1), NOW);
        rejected += e.rejected;
        if e.rejected > 0 {
            assert!(e.reason.unwrap().contains("more than 67108864 bytes"));
            break;
        }
    }
    assert!(rejected > 0, "the budget was reached");
    assert!(r.stream_bytes() <= MAX_STREAM_BYTES, "{}", r.stream_bytes());
    assert!(r.streams() < MAX_STREAMS);
    let e = export(&mut r, &wide("/0", 2), NOW);
    assert_eq!(batches(&e)[0].requests, MAX_POINT_BUCKETS as u64);
}

/// A sum that no durations could add up to (1e308 for one request) is refused with the
/// point, not taken into averages that would become infinite.
#[test]
fn a_sum_past_a_day_a_request_is_refused() {
    let mut r = Receiving::default();
    let e = r
        .export(
            Signal::Metrics,
            Encoding::Protobuf,
            &exp_export("/a", TEMPORALITY_DELTA, point(3, -50, vec![1], 1e308)),
            NOW,
        )
        .unwrap();
    assert_eq!((e.accepted, e.rejected), (0, 1));
    assert!(e
        .reason
        .unwrap_or_default()
        .contains("more than 1 requests of 86400 s"));
}

#[test]
fn point_exemplars_keep_their_ids_value_and_time_in_protobuf_and_json() {
    use super::proto::Exemplar;
    let mut p = point(3, -50, vec![2, 0, 5], 0.4);
    p.exemplars = vec![
        Exemplar {
            time_unix_nano: 1_799_999_999_500_000_000,
            as_double: Some(0.15),
            as_int: None,
            span_id: vec![0xcd; 8],
            trace_id: vec![0xab; 16],
        },
        // Ids of the wrong length: left out, the point still counted.
        Exemplar {
            time_unix_nano: 1_799_999_999_600_000_000,
            as_double: Some(0.1),
            as_int: None,
            span_id: vec![1; 7],
            trace_id: vec![1; 16],
        },
    ];
    let body = exp_export("/a", TEMPORALITY_DELTA, p);
    let e = Receiving::default()
        .export(Signal::Metrics, Encoding::Protobuf, &body, NOW)
        .unwrap();
    assert_eq!((e.accepted, e.rejected), (1, 0));
    let b = batches(&e)[0];
    assert_eq!(b.requests, 7);
    assert_eq!(b.exemplars.len(), 1);
    let x = b.exemplars[0];
    assert_eq!((x.trace.trace_id, x.trace.span_id), ([0xab; 16], [0xcd; 8]));
    assert_eq!((x.seconds, x.time), (0.15, 1_799_999_999.5));
    // OTLP/JSON writes ids in hex.
    let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"locust.client.duration","unit":"s","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[
        {"attributes":[{"key":"name","value":{"stringValue":"/a"}}],"timeUnixNano":"1800000000000000000","count":"3","sum":0.3,"scale":2,"positive":{"offset":-10,"bucketCounts":[1,"2"]},
         "exemplars":[{"timeUnixNano":"1799999999000000000","asDouble":0.15,"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"}]}]}}]}]}]}"#;
    let e = Receiving::default()
        .export(Signal::Metrics, Encoding::Json, json, NOW)
        .unwrap();
    assert_eq!((e.accepted, e.rejected), (1, 0), "{:?}", e.reason);
    let b = batches(&e)[0];
    let x = b.exemplars[0];
    assert_eq!(x.trace.trace_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(x.trace.span_hex(), "b7ad6b7169203331");
    assert_eq!((x.seconds, x.time), (0.15, 1_799_999_999.0));
}
