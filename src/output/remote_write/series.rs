//! What `/metrics` serves, as remote-write series: an [`Encoder`] that the metric sets write
//! through like any exposition format, collecting each family's series as a scrape of the
//! protobuf format would store them (counters and gauges as one series; summaries as
//! `{quantile}`, `_sum`, `_count`; histograms as `_bucket{le}` up to `+Inf`, `_sum`, `_count`,
//! and the native histogram as its own series), then [`Batch::encode`] writes them as 1.0 or
//! 2.0 requests, each under a size limit, Snappy-compressed.
//!
//! A [`Tracker`] keeps the label sets of the last interval, so the series that vanish get a
//! stale marker (and all of them once more at exit).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;

use super::proto::{
    self, BucketSpan, Label, MetadataV2, MetricMetadata, MetricType, RequestV2, Sample, TimeSeries,
    TimeSeriesV2, WriteRequest,
};
use crate::expose::format::encoder::{Encoder, Histogram, Kind, Meta, Summary};
use crate::expose::format::text::push_float_label;
use crate::model::native_histogram;

/// Prometheus' stale marker: a NaN with this bit pattern (`value.StaleNaN`).
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// The remote-write protocol of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `prometheus.WriteRequest`.
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

impl Protocol {
    /// `Content-Type` of a request.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::V1 => "application/x-protobuf",
            Protocol::V2 => "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        }
    }

    /// `X-Prometheus-Remote-Write-Version`.
    pub fn version(self) -> &'static str {
        match self {
            Protocol::V1 => "0.1.0",
            Protocol::V2 => "2.0.0",
        }
    }

    /// As `--remote-write.protocol` names it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V1 => "1.0",
            Protocol::V2 => "2.0",
        }
    }
}

/// A family's metadata.
#[derive(Debug, Clone)]
pub struct FamilyMeta {
    name: String,
    help: String,
    kind: MetricType,
    unit: String,
}

/// One series' value.
#[derive(Debug, Clone)]
enum Value {
    Float(f64),
    Native(proto::Histogram),
}

/// One series of an interval.
#[derive(Debug, Clone)]
struct Point {
    /// `__name__`.
    name: String,
    /// The row's labels, sorted by name.
    row: Arc<[(String, String)]>,
    /// `quantile` or `le`.
    extra: Option<(&'static str, String)>,
    value: Value,
    /// Index into [`Collector::families`].
    family: usize,
    /// Milliseconds; 0: unknown.
    created: i64,
}

/// Collects what the metric sets write.
#[derive(Debug, Default)]
pub struct Collector {
    families: Vec<FamilyMeta>,
    points: Vec<Point>,
    /// Leave native histograms out (a receiver without them refuses whole requests).
    classic_only: bool,
}

fn metric_type(kind: Kind) -> MetricType {
    match kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
        Kind::Summary => MetricType::Summary,
        Kind::Histogram => MetricType::Histogram,
        Kind::Untyped => MetricType::Unknown,
        Kind::StateSet => MetricType::StateSet,
    }
}

fn millis(unix: Option<f64>) -> i64 {
    unix.map_or(0, |t| (t * 1000.0).round() as i64)
}

fn float_label(v: f64) -> String {
    let mut s = String::new();
    push_float_label(&mut s, v);
    s
}

impl Collector {
    /// A collector; `classic_only` leaves the native histograms out.
    pub fn new(classic_only: bool) -> Self {
        Collector {
            classic_only,
            ..Collector::default()
        }
    }

    fn open_family(&self) -> usize {
        self.families.len().saturating_sub(1)
    }

    fn point(&mut self, name: String, row: &Arc<[(String, String)]>, value: Value, created: i64) {
        self.points.push(Point {
            name,
            row: row.clone(),
            extra: None,
            value,
            family: self.open_family(),
            created,
        });
    }

    fn with_extra(&mut self, extra: (&'static str, String)) {
        if let Some(p) = self.points.last_mut() {
            p.extra = Some(extra);
        }
    }

    /// The series collected (for tests and the benchmark).
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

impl Encoder for Collector {
    type Labels = Arc<[(String, String)]>;

    fn labels(pairs: &[(&str, &str)]) -> Self::Labels {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v.into()
    }

    fn header(&mut self, meta: &Meta<'_>) {
        self.families.push(FamilyMeta {
            name: meta.name.to_owned(),
            help: meta.help.to_owned(),
            kind: metric_type(meta.kind),
            unit: meta.unit.unwrap_or_default().to_owned(),
        });
    }

    fn value(&mut self, meta: &Meta<'_>, labels: &Self::Labels, value: f64, created: Option<f64>) {
        let created = if meta.kind == Kind::Counter {
            millis(created)
        } else {
            0
        };
        self.point(meta.name.to_owned(), labels, Value::Float(value), created);
    }

    fn summary(&mut self, meta: &Meta<'_>, labels: &Self::Labels, s: &Summary<'_>) {
        let created = millis(s.created);
        for &(q, v) in s.quantiles {
            self.point(
                meta.name.to_owned(),
                labels,
                Value::Float(v / s.divisor),
                created,
            );
            self.with_extra(("quantile", float_label(q)));
        }
        let sum = format!("{}_sum", meta.name);
        self.point(sum, labels, Value::Float(s.sum), created);
        let count = format!("{}_count", meta.name);
        self.point(count, labels, Value::Float(s.count as f64), created);
    }

    fn histogram(&mut self, meta: &Meta<'_>, labels: &Self::Labels, h: &Histogram<'_>) {
        let created = millis(h.created);
        let bucket = format!("{}_bucket", meta.name);
        for &(le, count) in h.buckets {
            self.point(bucket.clone(), labels, Value::Float(count as f64), created);
            self.with_extra(("le", float_label(le)));
        }
        self.point(bucket, labels, Value::Float(h.count as f64), created);
        self.with_extra(("le", "+Inf".to_owned()));
        let sum = format!("{}_sum", meta.name);
        self.point(sum, labels, Value::Float(h.sum), created);
        let count = format!("{}_count", meta.name);
        self.point(count, labels, Value::Float(h.count as f64), created);
        if let (Some(n), false) = (h.native, self.classic_only) {
            let (spans, deltas) = n.spans_and_deltas();
            let native = proto::Histogram {
                count_int: h.count,
                sum: h.sum,
                schema: native_histogram::SCHEMA,
                zero_threshold: native_histogram::ZERO_THRESHOLD,
                zero_count_int: n.zero_count,
                positive_spans: spans
                    .into_iter()
                    .map(|(offset, length)| BucketSpan { offset, length })
                    .collect(),
                positive_deltas: deltas,
                reset_hint: 0,
                timestamp: 0,
            };
            self.point(meta.name.to_owned(), labels, Value::Native(native), created);
        }
    }

    fn finish(self) -> Vec<u8> {
        Vec::new()
    }
}

/// One request's worth, ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Snappy-compressed protobuf.
    pub body: Bytes,
    /// Float samples in it (stale markers included).
    pub samples: u64,
    /// Native histograms in it.
    pub histograms: u64,
    /// Metadata entries in it (1.0's metadata, 2.0's per-series metadata).
    pub metadata: u64,
}

/// An interval's requests, in order.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The requests.
    pub requests: Vec<Request>,
    /// The snapshot time they carry (milliseconds).
    pub timestamp: i64,
}

/// A series' labels as written: sorted by name, `__name__` among them.
type Labels = Vec<(String, String)>;

fn full_labels(p: &Point, external: &[(String, String)]) -> Labels {
    let mut l: Labels = Vec::with_capacity(p.row.len() + 2 + external.len());
    l.push(("__name__".to_owned(), p.name.clone()));
    l.extend(p.row.iter().cloned());
    if let Some((k, v)) = &p.extra {
        l.push(((*k).to_owned(), v.clone()));
    }
    for (k, v) in external {
        // The series' own labels win over external ones (as Prometheus' external_labels).
        if !l.iter().any(|(name, _)| name == k) {
            l.push((k.clone(), v.clone()));
        }
    }
    l.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    l
}

fn key(labels: &Labels) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut h);
    h.finish()
}

/// The label sets written in the last interval, to mark the ones that vanish as stale.
#[derive(Debug, Default)]
pub struct Tracker {
    last: HashMap<u64, Labels>,
}

impl Tracker {
    /// Series known from the last interval.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True when no series is known.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

/// Writes requests of at most `max_bytes` (uncompressed) each.
struct Writer<'a> {
    protocol: Protocol,
    max_bytes: usize,
    timestamp: i64,
    families: &'a [FamilyMeta],
    batch: Batch,
    v1: WriteRequest,
    v2: RequestV2,
    symbols: HashMap<String, u32>,
    /// Families whose 1.0 metadata is in the open request.
    meta_sent: Vec<bool>,
    bytes: usize,
    samples: u64,
    histograms: u64,
    metadata: u64,
}

impl<'a> Writer<'a> {
    fn new(
        protocol: Protocol,
        max_bytes: usize,
        timestamp: i64,
        families: &'a [FamilyMeta],
    ) -> Self {
        let mut w = Writer {
            protocol,
            max_bytes,
            timestamp,
            families,
            batch: Batch {
                requests: Vec::new(),
                timestamp,
            },
            v1: WriteRequest::default(),
            v2: RequestV2::default(),
            symbols: HashMap::new(),
            meta_sent: vec![false; families.len()],
            bytes: 0,
            samples: 0,
            histograms: 0,
            metadata: 0,
        };
        w.reset();
        w
    }

    fn reset(&mut self) {
        self.v1 = WriteRequest::default();
        self.v2 = RequestV2 {
            symbols: vec![String::new()],
            timeseries: Vec::new(),
        };
        self.symbols.clear();
        self.symbols.insert(String::new(), 0);
        self.meta_sent.iter_mut().for_each(|m| *m = false);
        self.bytes = 0;
        self.samples = 0;
        self.histograms = 0;
        self.metadata = 0;
    }

    fn symbol(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.symbols.get(s) {
            return i;
        }
        let i = self.v2.symbols.len() as u32;
        self.v2.symbols.push(s.to_owned());
        self.symbols.insert(s.to_owned(), i);
        i
    }

    fn cut(&mut self) {
        if self.samples + self.histograms == 0 {
            return;
        }
        let raw = match self.protocol {
            Protocol::V1 => proto::encode(&self.v1),
            Protocol::V2 => proto::encode(&self.v2),
        };
        // Compressing a buffer this encoder wrote cannot fail but for a size past snap's
        // limit (~4 GB), which max_bytes keeps far off; such a request is dropped, counted
        // by the caller as samples never sent.
        if let Ok(body) = snap::raw::Encoder::new().compress_vec(&raw) {
            self.batch.requests.push(Request {
                body: Bytes::from(body),
                samples: self.samples,
                histograms: self.histograms,
                metadata: self.metadata,
            });
        }
        self.reset();
    }

    /// Adds one series with `labels` and its family (`None`: a stale marker, no metadata).
    fn add(&mut self, labels: &Labels, value: &Value, family: Option<usize>, created: i64) {
        let size = 24
            + labels
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>()
            + match value {
                Value::Float(_) => 12,
                Value::Native(h) => 48 + h.positive_deltas.len() * 3 + h.positive_spans.len() * 6,
            };
        if self.bytes + size > self.max_bytes {
            self.cut();
        }
        self.bytes += size;
        let (samples, histograms) = match value {
            Value::Float(v) => (
                vec![Sample {
                    value: *v,
                    timestamp: self.timestamp,
                }],
                Vec::new(),
            ),
            Value::Native(h) => {
                let mut h = h.clone();
                h.timestamp = self.timestamp;
                (Vec::new(), vec![h])
            }
        };
        self.samples += samples.len() as u64;
        self.histograms += histograms.len() as u64;
        match self.protocol {
            Protocol::V1 => {
                if let Some(f) = family {
                    if !self.meta_sent[f] {
                        self.meta_sent[f] = true;
                        let m = &self.families[f];
                        self.v1.metadata.push(MetricMetadata {
                            r#type: m.kind as i32,
                            metric_family_name: m.name.clone(),
                            help: m.help.clone(),
                            unit: m.unit.clone(),
                        });
                        self.metadata += 1;
                        self.bytes += m.name.len() + m.help.len() + 16;
                    }
                }
                self.v1.timeseries.push(TimeSeries {
                    labels: labels
                        .iter()
                        .map(|(name, value)| Label {
                            name: name.clone(),
                            value: value.clone(),
                        })
                        .collect(),
                    samples,
                    histograms,
                });
            }
            Protocol::V2 => {
                let mut refs = Vec::with_capacity(labels.len() * 2);
                for (k, v) in labels {
                    refs.push(self.symbol(k));
                    refs.push(self.symbol(v));
                }
                let metadata = match family {
                    Some(f) => {
                        let (help, unit) =
                            (self.families[f].help.clone(), self.families[f].unit.clone());
                        self.metadata += 1;
                        Some(MetadataV2 {
                            r#type: self.families[f].kind as i32,
                            help_ref: self.symbol(&help),
                            unit_ref: self.symbol(&unit),
                        })
                    }
                    None => None,
                };
                self.v2.timeseries.push(TimeSeriesV2 {
                    labels_refs: refs,
                    samples,
                    histograms,
                    metadata,
                    created_timestamp: created,
                });
            }
        }
    }

    fn finish(mut self) -> Batch {
        self.cut();
        self.batch
    }
}

impl Batch {
    /// The requests of `collected` at `timestamp` (ms) in `protocol`, each at most
    /// `max_bytes` before compression; with stale markers for what `tracker` knew and is
    /// gone now (the tracker then knows this interval's series). `external`: labels added to
    /// every series that does not have them.
    pub fn encode(
        collected: Collector,
        protocol: Protocol,
        timestamp: i64,
        max_bytes: usize,
        external: &[(String, String)],
        tracker: &mut Tracker,
    ) -> Batch {
        let Collector {
            families, points, ..
        } = collected;
        let mut w = Writer::new(protocol, max_bytes, timestamp, &families);
        let mut now = HashMap::with_capacity(points.len());
        for p in &points {
            let labels = full_labels(p, external);
            w.add(&labels, &p.value, Some(p.family), p.created);
            now.insert(key(&labels), labels);
        }
        let stale = Value::Float(f64::from_bits(STALE_NAN));
        for (k, labels) in &tracker.last {
            if !now.contains_key(k) {
                w.add(labels, &stale, None, 0);
            }
        }
        tracker.last = now;
        w.finish()
    }

    /// Stale markers at `timestamp` for every series `tracker` knows (the exporter is
    /// leaving); the tracker then knows none.
    pub fn stale_all(
        protocol: Protocol,
        timestamp: i64,
        max_bytes: usize,
        tracker: &mut Tracker,
    ) -> Batch {
        let mut w = Writer::new(protocol, max_bytes, timestamp, &[]);
        let stale = Value::Float(f64::from_bits(STALE_NAN));
        for labels in tracker.last.values() {
            w.add(labels, &stale, None, 0);
        }
        tracker.last.clear();
        w.finish()
    }

    /// Float samples and histograms in the batch.
    pub fn points(&self) -> u64 {
        self.requests.iter().map(|r| r.samples + r.histograms).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn collect() -> Collector {
        let mut c = Collector::default();
        let row = Collector::labels(&[("service", "s"), ("name", "/a")]);
        let mut f = c.family("x_total", "help x", Kind::Counter);
        f.sample_since(&row, 3.0, Some(1.5));
        let mut f = c
            .family("d_seconds", "help d", Kind::Histogram)
            .unit("seconds");
        let mut native = native_histogram::NativeHistogram::default();
        native.observe(0.25);
        native.observe(0.5);
        let buckets = native.buckets();
        f.histogram(
            &row,
            &Histogram {
                buckets: &[(0.5, 2)],
                count: 2,
                sum: 0.75,
                native: Some(&buckets),
                created: None,
            },
        );
        c
    }

    fn decode_v1(b: &Batch) -> WriteRequest {
        assert_eq!(b.requests.len(), 1);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&b.requests[0].body)
            .unwrap();
        WriteRequest::decode(raw.as_slice()).unwrap()
    }

    #[test]
    fn series_sorted_named_and_stamped_with_metadata() {
        let mut t = Tracker::default();
        let ext = [("instance".to_owned(), "w1".to_owned())];
        let b = Batch::encode(collect(), Protocol::V1, 1000, 1 << 20, &ext, &mut t);
        let w = decode_v1(&b);
        let names: Vec<String> = w
            .timeseries
            .iter()
            .map(|ts| {
                let l: Vec<String> = ts
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                l.join(",")
            })
            .collect();
        assert_eq!(
            names,
            [
                "__name__=x_total,instance=w1,name=/a,service=s",
                "__name__=d_seconds_bucket,instance=w1,le=0.5,name=/a,service=s",
                "__name__=d_seconds_bucket,instance=w1,le=+Inf,name=/a,service=s",
                "__name__=d_seconds_sum,instance=w1,name=/a,service=s",
                "__name__=d_seconds_count,instance=w1,name=/a,service=s",
                "__name__=d_seconds,instance=w1,name=/a,service=s",
            ]
        );
        assert!(w
            .timeseries
            .iter()
            .all(|ts| ts.samples.iter().all(|s| s.timestamp == 1000)));
        let h = &w.timeseries[5].histograms[0];
        assert_eq!(
            (h.count_int, h.sum, h.schema, h.timestamp),
            (2, 0.75, 6, 1000)
        );
        // Deltas to counts: the two observations, one per bucket.
        let counts: Vec<i64> = h
            .positive_deltas
            .iter()
            .scan(0, |c, d| {
                *c += d;
                Some(*c)
            })
            .collect();
        assert_eq!(counts, [1, 1]);
        assert_eq!(h.positive_spans.iter().map(|s| s.length).sum::<u32>(), 2);
        assert_eq!(w.metadata.len(), 2);
        assert_eq!(w.metadata[1].unit, "seconds");
        assert_eq!(b.requests[0].samples, 5);
        assert_eq!(b.requests[0].histograms, 1);
    }

    #[test]
    fn vanished_series_get_a_stale_marker_once() {
        let mut t = Tracker::default();
        Batch::encode(collect(), Protocol::V1, 1000, 1 << 20, &[], &mut t);
        assert_eq!(t.len(), 6);
        let mut c = Collector::default();
        let row = Collector::labels(&[("service", "s"), ("name", "/a")]);
        c.family("x_total", "help x", Kind::Counter)
            .sample(&row, 4.0);
        let w = decode_v1(&Batch::encode(c, Protocol::V1, 2000, 1 << 20, &[], &mut t));
        let stale: Vec<_> = w
            .timeseries
            .iter()
            .filter(|ts| ts.samples[0].value.to_bits() == STALE_NAN)
            .collect();
        assert_eq!(stale.len(), 5, "the histogram's five series");
        assert_eq!(t.len(), 1);
        let b = Batch::stale_all(Protocol::V1, 3000, 1 << 20, &mut t);
        let w = decode_v1(&b);
        assert_eq!(w.timeseries.len(), 1);
        assert_eq!(w.timeseries[0].samples[0].value.to_bits(), STALE_NAN);
        assert!(t.is_empty());
    }

    #[test]
    fn requests_split_under_the_size_limit_and_v2_interns_symbols() {
        let mut c = Collector::default();
        let mut f = c.family("g", "help g", Kind::Gauge);
        for i in 0..1000 {
            let n = format!("/endpoint/{i}");
            f.sample(&Collector::labels(&[("name", &n)]), i as f64);
        }
        let mut t = Tracker::default();
        let b = Batch::encode(c, Protocol::V2, 5, 8 << 10, &[], &mut t);
        assert!(b.requests.len() > 3, "{} requests", b.requests.len());
        let mut seen = 0;
        for r in &b.requests {
            let raw = snap::raw::Decoder::new().decompress_vec(&r.body).unwrap();
            assert!(raw.len() <= 8 << 10, "{} bytes", raw.len());
            let req = RequestV2::decode(raw.as_slice()).unwrap();
            assert_eq!(req.symbols[0], "");
            for ts in &req.timeseries {
                let l: Vec<&str> = ts
                    .labels_refs
                    .iter()
                    .map(|&i| req.symbols[i as usize].as_str())
                    .collect();
                assert_eq!(l[0], "__name__");
                assert_eq!(l[1], "g");
                assert_eq!(l[2], "name");
                assert_eq!(ts.samples[0].value, seen as f64);
                assert_eq!(
                    req.symbols[ts.metadata.unwrap().help_ref as usize],
                    "help g"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 1000);
    }
}
