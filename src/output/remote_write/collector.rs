//! What `/metrics` serves, collected as remote-write series: an [`Encoder`] that the metric
//! sets write through like any exposition format, keeping each family's series as a scrape
//! of the protobuf format would store them (counters and gauges as one series; summaries as
//! `{quantile}`, `_sum`, `_count`; histograms as `_bucket{le}` up to `+Inf`, `_sum`,
//! `_count`, and the native histogram as its own series). `super::series` writes them.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use foldhash::fast::FixedState;

use super::proto::{self, BucketSpan, MetricType};
use crate::expose::format::encoder::{Encoder, Histogram, Kind, Meta, Summary};
use crate::expose::format::text::push_float_label;
use crate::model::exemplar::{self, Exemplar};
use crate::model::native_histogram;

/// A family's metadata, and the names of its series.
#[derive(Debug, Clone)]
pub struct FamilyMeta {
    pub(super) name: Bytes,
    pub(super) help: Bytes,
    pub(super) kind: MetricType,
    pub(super) unit: Bytes,
    /// `_bucket`, `_sum`, `_count` names (for summaries and histograms).
    pub(super) bucket: Bytes,
    pub(super) sum: Bytes,
    pub(super) count: Bytes,
}

/// One series' value.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Float(f64),
    Native(Box<proto::Histogram>),
}

/// A series' `quantile` or `le` label, if it has one.
pub(super) type Extra = Option<(&'static [u8], Bytes)>;

/// One series of an interval.
#[derive(Debug, Clone)]
pub(super) struct Point {
    /// `__name__`.
    pub(super) name: Bytes,
    /// The row's labels, sorted by name.
    pub(super) row: Arc<[(Bytes, Bytes)]>,
    /// `quantile` or `le`, and its value.
    pub(super) extra: Extra,
    pub(super) value: Value,
    /// Index into [`Collector::families`].
    pub(super) family: usize,
    /// Milliseconds; 0: unknown.
    pub(super) created: i64,
}

pub(super) const LE: &[u8] = b"le";
pub(super) const QUANTILE: &[u8] = b"quantile";

/// Collects what the metric sets write.
#[derive(Debug, Default)]
pub struct Collector {
    pub(super) families: Vec<FamilyMeta>,
    pub(super) points: Vec<Point>,
    /// Leave native histograms out (a receiver without them refuses whole requests).
    pub(super) classic_only: bool,
    /// `le` and `quantile` values as written, by the float's bits: every row shares them.
    pub(super) floats: HashMap<u64, Bytes, FixedState>,
    /// Exemplars by the index of the point they belong to, ascending (a side table: a
    /// series without costs nothing).
    pub(super) exemplars: Vec<(u32, Exemplar)>,
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

pub(super) fn text(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
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

    fn float_label(&mut self, v: f64) -> Bytes {
        self.floats
            .entry(v.to_bits())
            .or_insert_with(|| {
                let mut s = String::new();
                push_float_label(&mut s, v);
                Bytes::from(s)
            })
            .clone()
    }

    /// Files `e` under the next point.
    fn exemplar(&mut self, e: Option<&Exemplar>) {
        if let Some(e) = e {
            self.exemplars.push((self.points.len() as u32, *e));
        }
    }

    fn point(
        &mut self,
        name: Bytes,
        row: &Arc<[(Bytes, Bytes)]>,
        extra: Extra,
        value: Value,
        created: i64,
    ) {
        self.points.push(Point {
            name,
            row: row.clone(),
            extra,
            value,
            family: self.open_family(),
            created,
        });
    }

    /// The open family's metadata (a family always has its header first).
    fn meta(&self) -> Option<&FamilyMeta> {
        self.families.last()
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
    type Labels = Arc<[(Bytes, Bytes)]>;

    fn labels(pairs: &[(&str, &str)]) -> Self::Labels {
        let mut v: Vec<(Bytes, Bytes)> = pairs.iter().map(|(k, v)| (text(k), text(v))).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v.into()
    }

    /// Remote write gives every series the run as one of its external labels (sorted in
    /// with the series' own), so the collected label sets stay shared per row.
    fn label_every_series(&mut self, _name: &str, _value: &str) {}

    fn header(&mut self, meta: &Meta<'_>) {
        self.families.push(FamilyMeta {
            name: text(meta.name),
            help: text(meta.help),
            kind: metric_type(meta.kind),
            unit: text(meta.unit.unwrap_or_default()),
            bucket: text(&format!("{}_bucket", meta.name)),
            sum: text(&format!("{}_sum", meta.name)),
            count: text(&format!("{}_count", meta.name)),
        });
    }

    fn value(&mut self, meta: &Meta<'_>, labels: &Self::Labels, value: f64, created: Option<f64>) {
        let created = if meta.kind == Kind::Counter {
            millis(created)
        } else {
            0
        };
        let Some(name) = self.meta().map(|m| m.name.clone()) else {
            return;
        };
        self.point(name, labels, None, Value::Float(value), created);
    }

    fn traced(
        &mut self,
        meta: &Meta<'_>,
        labels: &Self::Labels,
        value: f64,
        created: Option<f64>,
        exemplar: &Exemplar,
    ) {
        if meta.kind == Kind::Counter {
            self.exemplar(Some(exemplar));
        }
        self.value(meta, labels, value, created);
    }

    fn summary(&mut self, _meta: &Meta<'_>, labels: &Self::Labels, s: &Summary<'_>) {
        let Some(m) = self.meta().cloned() else {
            return;
        };
        let created = millis(s.created);
        for &(q, v) in s.quantiles {
            let extra = Some((QUANTILE, self.float_label(q)));
            let value = Value::Float(v / s.divisor);
            self.point(m.name.clone(), labels, extra, value, created);
        }
        self.point(m.sum, labels, None, Value::Float(s.sum), created);
        let count = Value::Float(s.count as f64);
        self.point(m.count, labels, None, count, created);
    }

    fn histogram(&mut self, _meta: &Meta<'_>, labels: &Self::Labels, h: &Histogram<'_>) {
        let Some(m) = self.meta().cloned() else {
            return;
        };
        let created = millis(h.created);
        let mut below = f64::NEG_INFINITY;
        for &(le, count) in h.buckets {
            let extra = Some((LE, self.float_label(le)));
            let value = Value::Float(count as f64);
            self.exemplar(exemplar::in_bucket(h.exemplars, below, le));
            below = le;
            self.point(m.bucket.clone(), labels, extra, value, created);
        }
        let inf = Some((LE, Bytes::from_static(b"+Inf")));
        let count = Value::Float(h.count as f64);
        self.exemplar(exemplar::in_bucket(h.exemplars, below, f64::INFINITY));
        self.point(m.bucket, labels, inf, count.clone(), created);
        self.point(m.sum, labels, None, Value::Float(h.sum), created);
        self.point(m.count, labels, None, count, created);
        if let (Some(n), false) = (h.native, self.classic_only) {
            let (spans, deltas) = n.spans_and_deltas();
            let native = proto::Histogram {
                count_int: h.count,
                sum: h.sum,
                schema: n.schema,
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
            for e in &exemplar::for_native(h.exemplars) {
                self.exemplar(Some(e));
            }
            self.point(
                m.name,
                labels,
                None,
                Value::Native(Box::new(native)),
                created,
            );
        }
    }

    fn finish(self) -> Vec<u8> {
        Vec::new()
    }
}
