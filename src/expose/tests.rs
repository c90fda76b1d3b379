//! Random model states, fed every mix of inputs, rendered in every format and read back:
//! what any scraper reads must be valid. The protobuf exposition is decoded with the
//! `io.prometheus.client` messages and checked as Prometheus checks native histograms
//! (`histogram.Validate`: the buckets account for the count); classic buckets rise to the
//! count in every format.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{render_as, Format, Sets};
use crate::model::native_histogram::{bucket_index, upper_bound};
use crate::model::update::{EndpointStats, Request, RequestBatch, StatsTable, Update, AGGREGATED};
use crate::model::{Model, ModelConfig};

/// The client_model messages a scraper decodes (only the fields checked).
mod client_model {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(int32, tag = "3")]
        pub r#type: i32,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, tag = "1")]
        pub sample_count: u64,
        #[prost(double, tag = "2")]
        pub sample_sum: f64,
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        #[prost(sint32, tag = "5")]
        pub schema: i32,
        #[prost(double, tag = "6")]
        pub zero_threshold: f64,
        #[prost(uint64, tag = "7")]
        pub zero_count: u64,
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "13")]
        pub positive_delta: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Bucket {
        #[prost(uint64, tag = "1")]
        pub cumulative_count: u64,
        #[prost(double, tag = "2")]
        pub upper_bound: f64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        #[prost(uint32, tag = "2")]
        pub length: u32,
    }
}

/// One thing an input can tell the model.
#[derive(Debug, Clone)]
enum Op {
    /// A request event (`None`: no response time).
    Request {
        service: u8,
        endpoint: u8,
        ms: Option<f64>,
    },
    /// A producer's native buckets at `schema` (the plugin's batches, OTLP exponential
    /// points): `(offset from 1 ms, count)`.
    Native {
        service: u8,
        endpoint: u8,
        schema: i32,
        zero: u64,
        buckets: Vec<(i32, u64)>,
    },
    /// A producer's classic buckets (OTLP explicit bounds): counts per bound and `+Inf`.
    Explicit {
        service: u8,
        endpoint: u8,
        counts: [u64; 4],
    },
    /// A count and a sum with no buckets.
    Bare { service: u8, endpoint: u8, n: u64 },
    /// A `_stats.csv` snapshot for the service.
    Stats { service: u8, requests: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let at = (0u8..3, 0u8..3);
    prop_oneof![
        (at.clone(), proptest::option::of(0.0f64..5_000.0)).prop_map(
            |((service, endpoint), ms)| Op::Request {
                service,
                endpoint,
                ms
            }
        ),
        (
            at.clone(),
            -4i32..=8,
            0u64..3,
            proptest::collection::vec((-40i32..40, 0u64..50), 0..6)
        )
            .prop_map(|((service, endpoint), schema, zero, buckets)| Op::Native {
                service,
                endpoint,
                schema,
                zero,
                buckets
            }),
        (at.clone(), proptest::array::uniform4(0u64..40)).prop_map(
            |((service, endpoint), counts)| Op::Explicit {
                service,
                endpoint,
                counts
            }
        ),
        (at.clone(), 0u64..30).prop_map(|((service, endpoint), n)| Op::Bare {
            service,
            endpoint,
            n
        }),
        (0u8..3, 0u64..1000).prop_map(|(service, requests)| Op::Stats { service, requests }),
    ]
}

const BOUNDS: [f64; 3] = [0.001, 0.01, 0.1];

fn apply(model: &mut Model, op: &Op, t: f64) {
    let svc = |s: u8| format!("s{s}");
    let name = |e: u8| format!("/e{e}");
    let batch = |endpoint: u8, timed: u64, sum_ms: f64, min_ms: f64, max_ms: f64| RequestBatch {
        time: t,
        start: None,
        method: "GET".into(),
        name: name(endpoint).into(),
        requests: timed,
        errors: Vec::new(),
        timed,
        sum_ms,
        min_ms,
        max_ms,
        response_bytes: 0,
        schema: 6,
        zero_count: 0,
        buckets: Vec::new(),
        explicit: Vec::new(),
        exemplars: Vec::new(),
    };
    match op {
        Op::Request {
            service,
            endpoint,
            ms,
        } => {
            let r = Request {
                time: t,
                method: "GET".into(),
                name: name(*endpoint).into(),
                response_time_ms: *ms,
                response_length: 0,
                error: None,
                trace: None,
            };
            model.apply(&svc(*service), Update::Request(r), t);
        }
        Op::Native {
            service,
            endpoint,
            schema,
            zero,
            buckets,
        } => {
            // Indices around 1 ms at the schema, merged: distinct and ascending.
            let base = bucket_index(0.001, *schema);
            let mut merged: BTreeMap<i32, u64> = BTreeMap::new();
            for &(off, n) in buckets {
                *merged.entry(base + off).or_default() += n;
            }
            let merged: Vec<(i32, u64)> = merged.into_iter().filter(|&(_, n)| n > 0).collect();
            let timed = merged.iter().map(|(_, n)| n).sum::<u64>() + zero;
            if timed == 0 {
                return;
            }
            let lo = if *zero > 0 {
                0.0
            } else {
                upper_bound(merged[0].0 - 1, *schema) * 1000.0
            };
            let hi = merged
                .last()
                .map_or(0.0, |&(i, _)| upper_bound(i, *schema) * 1000.0);
            let mut b = batch(*endpoint, timed, (lo + hi) / 2.0 * timed as f64, lo, hi);
            b.schema = *schema;
            b.zero_count = *zero;
            b.buckets = merged;
            model.apply(&svc(*service), Update::Requests(Box::new(b)), t);
        }
        Op::Explicit {
            service,
            endpoint,
            counts,
        } => {
            let timed: u64 = counts.iter().sum();
            if timed == 0 {
                return;
            }
            let mut b = batch(*endpoint, timed, 5.0 * timed as f64, 0.5, 500.0);
            b.explicit = BOUNDS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(counts.iter().copied())
                .collect();
            model.apply(&svc(*service), Update::Requests(Box::new(b)), t);
        }
        Op::Bare {
            service,
            endpoint,
            n,
        } => {
            if *n == 0 {
                return;
            }
            let b = batch(*endpoint, *n, 3.0 * *n as f64, 1.0, 9.0);
            model.apply(&svc(*service), Update::Requests(Box::new(b)), t);
        }
        Op::Stats { service, requests } => {
            let row = |method: &str, name: &str| EndpointStats {
                method: method.into(),
                name: name.into(),
                requests: *requests,
                avg_ms: 2.0,
                min_ms: 1.0,
                max_ms: 3.0,
                median_ms: 2.0,
                quantiles: vec![(0.5, 2.0), (0.95, 3.0)],
                total_rps: Some(1.0),
                ..EndpointStats::default()
            };
            let table = StatsTable {
                rows: vec![row("GET", "/csv")],
                total: row("", AGGREGATED),
                window: None,
            };
            model.apply(&svc(*service), Update::Stats(table), t);
        }
    }
}

/// Every histogram of a protobuf exposition is one Prometheus takes, read as Prometheus reads
/// it: a family's histograms all of the kind of its first (`textparse.ProtobufParser` stays
/// in its native state for the family's next metrics).
fn check_protobuf(bytes: &[u8]) -> Result<(), String> {
    let mut b = bytes;
    while !b.is_empty() {
        let family: client_model::MetricFamily = prost::Message::decode_length_delimited(&mut b)
            .map_err(|e| format!("not delimited MetricFamily messages: {e}"))?;
        let mut family_native: Option<bool> = None;
        for m in &family.metric {
            let Some(h) = &m.histogram else { continue };
            let mut last = (f64::NEG_INFINITY, 0u64);
            for bucket in &h.bucket {
                if bucket.upper_bound <= last.0 || bucket.cumulative_count < last.1 {
                    return Err(format!(
                        "{}: classic buckets do not rise: {:?}",
                        family.name, h.bucket
                    ));
                }
                last = (bucket.upper_bound, bucket.cumulative_count);
            }
            if last.1 > h.sample_count {
                return Err(format!(
                    "{}: a bucket holds {} of {} observations",
                    family.name, last.1, h.sample_count
                ));
            }
            let native = !h.positive_span.is_empty() || h.zero_threshold > 0.0 || h.zero_count > 0;
            if !*family_native.get_or_insert(native) {
                continue;
            }
            let spanned: u32 = h.positive_span.iter().map(|s| s.length).sum();
            if spanned as usize != h.positive_delta.len() {
                return Err(format!(
                    "{}: spans cover {spanned} buckets, {} deltas",
                    family.name,
                    h.positive_delta.len()
                ));
            }
            let (mut count, mut in_buckets) = (0i64, h.zero_count);
            for d in &h.positive_delta {
                count += d;
                if count < 0 {
                    return Err(format!("{}: a negative bucket count", family.name));
                }
                in_buckets += count as u64;
            }
            if in_buckets != h.sample_count {
                return Err(format!(
                    "{}: {in_buckets} observations found in buckets, but the Count field is {}",
                    family.name, h.sample_count
                ));
            }
        }
    }
    Ok(())
}

/// Every sample of a text exposition parses, and each classic histogram's buckets rise to
/// its `+Inf` bucket, which is its `_count`.
fn check_text(text: &str, openmetrics: bool) -> Result<(), String> {
    if openmetrics && !text.ends_with("# EOF\n") {
        return Err("OpenMetrics without # EOF".to_owned());
    }
    /// A classic histogram read back: its buckets (`le`, value) in order, and its `_count`.
    type Read = (Vec<(String, f64)>, Option<f64>);
    // series labels without `le` → what was read
    let mut histograms: BTreeMap<String, Read> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("no value: {line}"))?;
        // OpenMetrics may carry a timestamp after the value; no sample here has one.
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| format!("not a number: {line}"))?,
        };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        // Label pairs (values here have no `",` inside), `le` apart.
        let labels = labels.trim_end_matches('}');
        let mut pairs: Vec<&str> = labels
            .split("\",")
            .map(|p| p.trim_end_matches('"'))
            .filter(|p| !p.is_empty())
            .collect();
        let le = pairs
            .iter()
            .position(|p| p.starts_with("le=\""))
            .map(|i| pairs.remove(i).trim_start_matches("le=\"").to_owned());
        pairs.sort_unstable();
        let key = |base: &str| format!("{base}{{{}}}", pairs.join(","));
        if let (Some(base), Some(le)) = (name.strip_suffix("_bucket"), le) {
            histograms.entry(key(base)).or_default().0.push((le, v));
        } else if let Some(base) = name.strip_suffix("_count") {
            histograms.entry(key(base)).or_default().1 = Some(v);
        }
    }
    for (series, (buckets, count)) in histograms {
        if buckets.is_empty() {
            continue;
        }
        if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("{series}: buckets do not rise: {buckets:?}"));
        }
        let inf = buckets.iter().find(|(le, _)| le == "+Inf").map(|b| b.1);
        if inf != count || inf.is_none() {
            return Err(format!("{series}: +Inf bucket {inf:?}, count {count:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any mix of inputs into one exporter — request events, native and explicit batches,
    /// counts with no buckets, CSV tables — for the same and for other services and
    /// endpoints, renders in every format into what every scraper accepts.
    #[test]
    fn every_mix_of_inputs_renders_what_scrapers_accept(ops in proptest::collection::vec(op(), 1..60)) {
        let mut model = Model::new(ModelConfig { buckets: BOUNDS.into(), ..ModelConfig::default() });
        for (i, op) in ops.iter().enumerate() {
            apply(&mut model, op, 1_000.0 + i as f64);
        }
        let snap = model.snapshot(2_000.0);
        let all = Sets::NONE.with("seed").with("native").with("containersolutions");
        for sets in [Sets::default(), all] {
            let pb = render_as(Format::Protobuf, &snap, sets, &[]);
            if let Err(e) = check_protobuf(&pb) {
                prop_assert!(false, "protobuf: {}", e);
            }
            for (format, om) in [(Format::Text, false), (Format::OpenMetrics, true)] {
                let text = String::from_utf8(render_as(format, &snap, sets, &[])).unwrap_or_default();
                if let Err(e) = check_text(&text, om) {
                    prop_assert!(false, "{:?}: {}", format, e);
                }
            }
        }
    }
}

/// The conditions found in two real `locust --otel` runs into one exporter (explicit
/// histograms, then exponential ones, one service): one endpoint fed both kinds, and a
/// classic-only histogram after a native one in the family; checked against the decoder
/// above, so a state that once broke every scrape stays impossible.
#[test]
fn explicit_then_native_batches_on_one_endpoint_render_valid_protobuf() {
    for order in [[0, 1, 2, 3], [1, 0, 3, 2], [3, 2, 1, 0]] {
        let mut model = Model::new(ModelConfig::default());
        let ops = [
            Op::Explicit {
                service: 0,
                endpoint: 0,
                counts: [0, 375, 0, 0],
            },
            Op::Native {
                service: 0,
                endpoint: 0,
                schema: 8,
                zero: 0,
                buckets: vec![(3, 200), (4, 195)],
            },
            // Another endpoint after it, of the explicit kind only.
            Op::Explicit {
                service: 0,
                endpoint: 1,
                counts: [0, 22, 0, 0],
            },
            // And one before it, of the native kind only.
            Op::Request {
                service: 0,
                endpoint: 2,
                ms: Some(3.0),
            },
        ];
        for (t, i) in order.into_iter().enumerate() {
            apply(&mut model, &ops[i], 1_000.0 + t as f64);
        }
        let snap = model.snapshot(1_010.0);
        let pb = render_as(Format::Protobuf, &snap, Sets::default(), &[]);
        assert_eq!(check_protobuf(&pb), Ok(()), "order {order:?}");
    }
}

/// The recorded `locust --otel` runs (`fixtures/otlp/`), explicit then exponential, mapped
/// body by body into one model: after every body, the protobuf exposition is valid.
#[test]
fn recorded_otel_runs_render_valid_protobuf_after_every_body() {
    use crate::parse::otlp::{Encoding, Options, Receiving, Signal};
    let mut receiving = Receiving::new(Options::default());
    let mut model = Model::new(ModelConfig::default());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/otlp");
    let mut t = 1.8e9;
    for rec in ["locust-2.47.0-explicit", "locust-2.47.0-exponential"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(rec))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".metrics.pb"))
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for f in files {
            t += 1.0;
            let body = std::fs::read(&f).unwrap();
            let export = receiving
                .export(Signal::Metrics, Encoding::Protobuf, &body, t)
                .unwrap();
            for s in export.services {
                model.apply_all(&s.name, s.updates, t);
            }
            let pb = render_as(Format::Protobuf, &model.snapshot(t), Sets::default(), &[]);
            assert_eq!(check_protobuf(&pb), Ok(()), "after {}", f.display());
        }
    }
}
