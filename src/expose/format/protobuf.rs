//! The Prometheus protobuf exposition format (`application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`): length-delimited
//! `MetricFamily` messages of `io/prometheus/client/metrics.proto` (client_model), the only
//! format that carries native histograms.
//!
//! ## Motivation: framed, not built
//! The messages are a handful of fields, only ever written. The encoder writes straight from
//! the snapshot into one buffer (each endpoint's label pairs encoded once and copied), with
//! prost's encoding functions (keys, varints, zigzag `sint` fields, packed deltas) — the
//! crate's one protobuf engine, which remote write uses the same way — rather than building a
//! derived message per metric: remote write measured that at 4–5× the cost per series
//! (`benches/remote_write.rs`). The `prometheus` crate's protobuf feature pulls in
//! rust-protobuf 3 and has no native histogram fields. The encoding is checked field by field
//! against client_model's numbering in the tests, and end to end by a real Prometheus
//! reading it.
//!
//! Field numbers (client_model `metrics.proto`): `MetricFamily` name 1, help 2, type 3,
//! metric 4 · `Metric` label 1, gauge 2, counter 3, summary 4, untyped 5, histogram 7 ·
//! `LabelPair` name 1, value 2 · `Gauge`/`Counter`/`Untyped` value 1, `Counter` exemplar 2,
//! created_timestamp 3 · `Summary` sample_count 1, sample_sum 2, quantile 3,
//! created_timestamp 4 · `Quantile` quantile 1, value 2 · `Histogram` sample_count 1,
//! sample_sum 2, bucket 3, schema 5, zero_threshold 6, zero_count 7, positive_span 12,
//! positive_delta 13, created_timestamp 15, exemplars 16 · `Bucket` cumulative_count 1,
//! upper_bound 2, exemplar 3 · `Exemplar` label 1, value 2, timestamp 3 ·
//! `BucketSpan` offset 1, length 2 · `Timestamp` seconds 1, nanos 2.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use super::encoder::{Encoder, Histogram, Kind, Meta, Summary};
use crate::model::exemplar::{self, Exemplar};
use crate::model::native_histogram;

fn key(out: &mut Vec<u8>, field: u32, wire: WireType) {
    encode_key(field, wire, out);
}

fn varint(out: &mut Vec<u8>, v: u64) {
    encode_varint(v, out);
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    prost::encoding::double::encode(field, &v, out);
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    prost::encoding::uint64::encode(field, &v, out);
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, WireType::LengthDelimited);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes field `field` as an embedded message that `body` fills (through `scratch`, which
/// is left empty).
fn message(out: &mut Vec<u8>, field: u32, scratch: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    scratch.clear();
    body(scratch);
    bytes(out, field, scratch);
    scratch.clear();
}

/// Bytes of `v` as a varint.
fn varint_len(v: u64) -> u64 {
    encoded_len_varint(v) as u64
}

/// A `google.protobuf.Timestamp` field from Unix seconds (its length computed, so no
/// buffer: one is written per counter).
fn timestamp(out: &mut Vec<u8>, field: u32, unix: f64) {
    let seconds = unix.floor();
    let nanos = ((unix - seconds) * 1e9).round().min(999_999_999.0) as u64;
    let seconds = seconds as i64 as u64;
    let mut len = 1 + varint_len(seconds);
    if nanos > 0 {
        len += 1 + varint_len(nanos);
    }
    key(out, field, WireType::LengthDelimited);
    varint(out, len);
    uint(out, 1, seconds);
    if nanos > 0 {
        uint(out, 2, nanos);
    }
}

/// Writes the protobuf format.
#[derive(Debug, Default)]
pub struct ProtobufEncoder {
    out: Vec<u8>,
    /// The open family's message: name, help, type, then its `Metric` fields.
    family: Vec<u8>,
    /// One metric's body.
    metric: Vec<u8>,
    /// A nested message's body.
    inner: Vec<u8>,
    /// The innermost message's body (a bucket, a quantile).
    leaf: Vec<u8>,
    /// The encoded label pair every metric carries (`--run.id`), or empty.
    every: Vec<u8>,
    /// An exemplar's body.
    exemplar: Vec<u8>,
}

impl ProtobufEncoder {
    /// An empty exposition with room for `bytes`.
    pub fn new(bytes: usize) -> Self {
        ProtobufEncoder {
            out: Vec::with_capacity(bytes),
            ..ProtobufEncoder::default()
        }
    }

    /// Appends one `Metric` (field 4 of the family): `labels`, then the value message
    /// `field` that `body` writes.
    fn metric(&mut self, labels: &[u8], field: u32, body: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>)) {
        self.metric.clear();
        self.metric.extend_from_slice(labels);
        self.metric.extend_from_slice(&self.every);
        self.inner.clear();
        body(&mut self.inner, &mut self.leaf);
        bytes(&mut self.metric, field, &self.inner);
        bytes(&mut self.family, 4, &self.metric);
    }
}

impl ProtobufEncoder {
    /// A counter (with its exemplar and creation time, where given), gauge or untyped
    /// sample.
    fn sample(
        &mut self,
        meta: &Meta<'_>,
        labels: &[u8],
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        let field = match meta.kind {
            Kind::Counter => 3,
            Kind::Untyped => 5,
            _ => 2,
        };
        let counter = meta.kind == Kind::Counter;
        let mut ex = std::mem::take(&mut self.exemplar);
        self.metric(labels, field, |m, _| {
            double(m, 1, value);
            if let (true, Some(e)) = (counter, exemplar) {
                exemplar_field(m, 2, &mut ex, e);
            }
            if let (true, Some(t)) = (counter, created) {
                timestamp(m, 3, t);
            }
        });
        self.exemplar = ex;
    }

    /// Writes the open family, if any, as one delimited message.
    fn close(&mut self) {
        if !self.family.is_empty() {
            varint(&mut self.out, self.family.len() as u64);
            self.out.extend_from_slice(&self.family);
            self.family.clear();
        }
    }
}

impl Encoder for ProtobufEncoder {
    /// The encoded `LabelPair` fields of a `Metric`.
    type Labels = Vec<u8>;

    fn labels(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 8).sum());
        let mut pair = Vec::new();
        for (k, v) in pairs {
            message(&mut out, 1, &mut pair, |p| {
                bytes(p, 1, k.as_bytes());
                bytes(p, 2, v.as_bytes());
            });
        }
        out
    }

    fn label_every_series(&mut self, name: &str, value: &str) {
        self.every = Self::labels(&[(name, value)]);
    }

    fn header(&mut self, meta: &Meta<'_>) {
        self.close();
        let kind = match meta.kind {
            Kind::Counter => 0,
            Kind::Gauge | Kind::StateSet => 1,
            Kind::Summary => 2,
            Kind::Untyped => 3,
            Kind::Histogram => 4,
        };
        bytes(&mut self.family, 1, meta.name.as_bytes());
        bytes(&mut self.family, 2, meta.help.as_bytes());
        uint(&mut self.family, 3, kind);
    }

    fn value(&mut self, meta: &Meta<'_>, labels: &Vec<u8>, value: f64, created: Option<f64>) {
        self.sample(meta, labels, value, created, None);
    }

    fn traced(
        &mut self,
        meta: &Meta<'_>,
        labels: &Vec<u8>,
        value: f64,
        created: Option<f64>,
        exemplar: &Exemplar,
    ) {
        self.sample(meta, labels, value, created, Some(exemplar));
    }

    fn summary(&mut self, _meta: &Meta<'_>, labels: &Vec<u8>, s: &Summary<'_>) {
        self.metric(labels, 4, |m, leaf| {
            uint(m, 1, s.count);
            double(m, 2, s.sum);
            for &(q, v) in s.quantiles {
                message(m, 3, leaf, |b| {
                    double(b, 1, q);
                    double(b, 2, v / s.divisor);
                });
            }
            if let Some(t) = s.created {
                timestamp(m, 4, t);
            }
        });
    }

    fn histogram(&mut self, _meta: &Meta<'_>, labels: &Vec<u8>, h: &Histogram<'_>) {
        let mut ex = std::mem::take(&mut self.exemplar);
        self.metric(labels, 7, |m, leaf| {
            uint(m, 1, h.count);
            double(m, 2, h.sum);
            // The +Inf bucket is implied by sample_count (client_golang leaves it out too),
            // unless an exemplar is beyond the last bound.
            let traced = !h.exemplars.is_empty();
            let mut below = f64::NEG_INFINITY;
            for &(le, count) in h.buckets {
                if !traced {
                    message(m, 3, leaf, |b| {
                        uint(b, 1, count);
                        double(b, 2, le);
                    });
                    continue;
                }
                let e = exemplar::in_bucket(h.exemplars, below, le);
                below = le;
                message(m, 3, leaf, |b| {
                    uint(b, 1, count);
                    double(b, 2, le);
                    if let Some(e) = e {
                        exemplar_field(b, 3, &mut ex, e);
                    }
                });
            }
            let last = traced
                .then(|| exemplar::in_bucket(h.exemplars, below, f64::INFINITY))
                .flatten();
            if let Some(e) = last {
                message(m, 3, leaf, |b| {
                    uint(b, 1, h.count);
                    double(b, 2, f64::INFINITY);
                    exemplar_field(b, 3, &mut ex, e);
                });
            }
            if let Some(t) = h.created {
                timestamp(m, 15, t);
            }
            let Some(n) = h.native else { return };
            if traced {
                for e in &exemplar::for_native(h.exemplars) {
                    exemplar_field(m, 16, &mut ex, e);
                }
            }
            prost::encoding::sint32::encode(5, &n.schema, m);
            double(m, 6, native_histogram::ZERO_THRESHOLD);
            uint(m, 7, n.zero_count);
            let (spans, deltas) = n.spans_and_deltas();
            if spans.is_empty() {
                // A no-op span marks a native histogram with no observation yet.
                spans_field(m, leaf, &[(0, 0)]);
            } else {
                spans_field(m, leaf, &spans);
                prost::encoding::sint64::encode_packed(13, &deltas, m);
            }
        });
        self.exemplar = ex;
    }

    fn finish(mut self) -> Vec<u8> {
        self.close();
        self.out
    }
}

/// An `Exemplar` message as field `field`: its trace and span id labels, value and
/// timestamp (through `scratch`).
fn exemplar_field(out: &mut Vec<u8>, field: u32, scratch: &mut Vec<u8>, e: &Exemplar) {
    scratch.clear();
    let (trace, span) = (e.trace.trace_digits(), e.trace.span_digits());
    for (k, v) in [(&b"trace_id"[..], &trace[..]), (b"span_id", &span)] {
        // A `LabelPair`: name and value, each under 128 bytes (one-byte lengths).
        key(scratch, 1, WireType::LengthDelimited);
        varint(scratch, (4 + k.len() + v.len()) as u64);
        bytes(scratch, 1, k);
        bytes(scratch, 2, v);
    }
    double(scratch, 2, e.seconds);
    timestamp(scratch, 3, e.time);
    bytes(out, field, scratch);
    scratch.clear();
}

/// `positive_span` fields (12).
fn spans_field(m: &mut Vec<u8>, leaf: &mut Vec<u8>, spans: &[(i32, u32)]) {
    for &(offset, length) in spans {
        message(m, 12, leaf, |b| {
            prost::encoding::sint32::encode(1, &offset, b);
            uint(b, 2, u64::from(length));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::native_histogram::NativeBuckets;

    /// A minimal reader of the wire format: `(field, wire, payload)` of each field, where
    /// the payload is the varint value, the 8 bytes, or the embedded bytes.
    fn fields(mut b: &[u8]) -> Vec<(u32, u32, Vec<u8>, u64)> {
        fn read_varint(b: &mut &[u8]) -> u64 {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    return v;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let k = read_varint(&mut b);
            let (field, wire) = ((k >> 3) as u32, (k & 7) as u32);
            match wire {
                0 => {
                    let v = read_varint(&mut b);
                    out.push((field, wire, vec![], v));
                }
                1 => {
                    out.push((field, wire, b[..8].to_vec(), 0));
                    b = &b[8..];
                }
                2 => {
                    let n = read_varint(&mut b) as usize;
                    out.push((field, wire, b[..n].to_vec(), n as u64));
                    b = &b[n..];
                }
                _ => panic!("wire type {wire}"),
            }
        }
        out
    }

    fn f64_of(b: &[u8]) -> f64 {
        f64::from_le_bytes(b.try_into().unwrap())
    }

    #[test]
    fn varints_and_zigzag() {
        let mut b = Vec::new();
        varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut b = Vec::new();
            varint(&mut b, v);
            assert_eq!(varint_len(v), b.len() as u64, "{v}");
        }
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(-2), 3);
        assert_eq!(zigzag(i64::from(i32::MIN)), u64::from(u32::MAX));
        // prost's sint fields are these zigzag varints.
        for v in [0i64, -1, 1, -2, i64::from(i32::MIN), i64::MAX] {
            let mut b = Vec::new();
            prost::encoding::sint64::encode(1, &v, &mut b);
            let mut want = vec![0x08];
            varint(&mut want, zigzag(v));
            assert_eq!(b, want, "{v}");
        }
    }

    /// Protobuf's zigzag mapping of signed integers, the reference the tests decode with.
    fn zigzag(v: i64) -> u64 {
        ((v << 1) ^ (v >> 63)) as u64
    }

    #[test]
    fn a_counter_family_in_client_model_fields() {
        let mut e = ProtobufEncoder::new(0);
        {
            let mut f = e.family("x_total", "Help.", Kind::Counter);
            let l = ProtobufEncoder::labels(&[("service", "s"), ("name", "/é")]);
            f.sample_since(&l, 3.0, Some(1.5));
        }
        let bytes = e.finish();
        // One delimited message: length prefix, then the family.
        let len = bytes[0] as usize;
        assert_eq!(len, bytes.len() - 1);
        let family = fields(&bytes[1..]);
        assert_eq!(family[0].0, 1);
        assert_eq!(family[0].2, b"x_total");
        assert_eq!(family[1].2, b"Help.");
        assert_eq!((family[2].0, family[2].3), (3, 0), "type COUNTER");
        assert_eq!(family[3].0, 4);
        let metric = fields(&family[3].2);
        let labels: Vec<_> = metric.iter().filter(|f| f.0 == 1).collect();
        assert_eq!(labels.len(), 2);
        let pair = fields(&labels[1].2);
        assert_eq!(
            (pair[0].2.as_slice(), pair[1].2.as_slice()),
            (&b"name"[..], "/é".as_bytes())
        );
        let counter = metric.iter().find(|f| f.0 == 3).unwrap();
        let counter = fields(&counter.2);
        assert_eq!(f64_of(&counter[0].2), 3.0);
        let ts = fields(&counter[1].2);
        assert_eq!((counter[1].0, ts[0].3, ts[1].3), (3, 1, 500_000_000));
    }

    #[test]
    fn a_histogram_with_classic_and_native_buckets() {
        let native = NativeBuckets {
            schema: native_histogram::SCHEMA,
            zero_count: 1,
            buckets: vec![(-5, 2), (-3, 3)],
        };
        let mut e = ProtobufEncoder::new(0);
        {
            let mut f = e.family("h_seconds", "H.", Kind::Histogram);
            let l = ProtobufEncoder::labels(&[]);
            f.histogram(
                &l,
                &Histogram {
                    buckets: &[(0.1, 4), (1.0, 6)],
                    count: 6,
                    sum: 2.5,
                    native: Some(&native),
                    created: None,
                    exemplars: &[],
                },
            );
        }
        let bytes = e.finish();
        let family = fields(&bytes[1..]);
        assert_eq!(family[2].3, 4, "type HISTOGRAM");
        let metric = fields(&family[3].2);
        let h = fields(&metric.iter().find(|f| f.0 == 7).unwrap().2);
        let get = |n: u32| h.iter().filter(move |f| f.0 == n);
        assert_eq!(get(1).next().unwrap().3, 6);
        assert_eq!(f64_of(&get(2).next().unwrap().2), 2.5);
        let buckets: Vec<_> = get(3).map(|b| fields(&b.2)).collect();
        assert_eq!(buckets.len(), 2);
        assert_eq!((buckets[1][0].3, f64_of(&buckets[1][1].2)), (6, 1.0));
        assert_eq!(get(5).next().unwrap().3, zigzag(6), "schema 6");
        assert_eq!(
            f64_of(&get(6).next().unwrap().2),
            native_histogram::ZERO_THRESHOLD
        );
        assert_eq!(get(7).next().unwrap().3, 1);
        let span = fields(&get(12).next().unwrap().2);
        assert_eq!((span[0].3, span[1].3), (zigzag(-5), 3));
        // Packed deltas 2, -2, 3.
        assert_eq!(get(13).next().unwrap().2, vec![4, 3, 6]);
    }

    #[test]
    fn exemplars_on_classic_buckets_and_the_native_histogram() {
        use crate::model::exemplar::{Exemplar, TraceRef};
        let ex = |n: u8, seconds: f64| Exemplar {
            trace: TraceRef {
                trace_id: [n; 16],
                span_id: [n; 8],
            },
            seconds,
            time: 1000.5,
        };
        let native = NativeBuckets {
            schema: 6,
            zero_count: 0,
            buckets: vec![],
        };
        let exemplars = [ex(1, 0.05), ex(2, 0.08), ex(3, 5.0)];
        let mut e = ProtobufEncoder::new(0);
        {
            let mut f = e.family("h_seconds", "H.", Kind::Histogram);
            let l = ProtobufEncoder::labels(&[]);
            let h = Histogram {
                buckets: &[(0.1, 4), (1.0, 6)],
                count: 7,
                sum: 2.5,
                native: Some(&native),
                created: None,
                exemplars: &exemplars,
            };
            f.histogram(&l, &h);
        }
        let bytes = e.finish();
        let len_bytes = bytes.iter().position(|&b| b < 0x80).unwrap() + 1;
        let family = fields(&bytes[len_bytes..]);
        let metric = fields(&family[3].2);
        let h = fields(&metric.iter().find(|f| f.0 == 7).unwrap().2);
        let buckets: Vec<_> = h
            .iter()
            .filter(|f| f.0 == 3)
            .map(|b| fields(&b.2))
            .collect();
        // 0.1 shows the slowest within it; 1.0 has none; +Inf is written for 5 s.
        assert_eq!(buckets.len(), 3);
        let exemplar =
            |b: &[(u32, u32, Vec<u8>, u64)]| b.iter().find(|f| f.0 == 3).map(|f| fields(&f.2));
        let first = exemplar(&buckets[0]).expect("an exemplar on le=0.1");
        let label = fields(&first[0].2);
        assert_eq!(label[0].2, b"trace_id");
        assert_eq!(
            label[1].2,
            [2u8; 16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .as_bytes()
        );
        assert_eq!(f64_of(&first[2].2), 0.08);
        let ts = fields(&first[3].2);
        assert_eq!((ts[0].3, ts[1].3), (1000, 500_000_000));
        assert!(exemplar(&buckets[1]).is_none());
        assert_eq!(f64_of(&buckets[2][1].2), f64::INFINITY);
        assert_eq!(f64_of(&exemplar(&buckets[2]).unwrap()[2].2), 5.0);
        assert_eq!(
            h.iter().filter(|f| f.0 == 16).count(),
            3,
            "the native histogram's"
        );
    }

    #[test]
    fn an_empty_family_is_not_written() {
        let mut e = ProtobufEncoder::new(0);
        let _ = e.family("nothing", "N.", Kind::Gauge);
        assert!(e.finish().is_empty());
    }
}
