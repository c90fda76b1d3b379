//! The series an interval collected (`super::collector`) as remote-write requests:
//! [`Batch::encode`] writes them as 1.0 or 2.0 requests, each under a size limit,
//! Snappy-compressed.
//!
//! A [`Tracker`] keeps a hash of each label set of the last interval (8 bytes a series, not
//! the label set), and how to collect that interval again: when a series vanishes, the last
//! interval is collected once more for the labels of its stale marker (and all of them once
//! more at exit).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use foldhash::fast::FixedState;

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, message, WireType};

use super::collector::{text, Collector, Extra, FamilyMeta, Point, Value};
use super::proto::{MetadataV2, MetricMetadata, Sample};
use crate::model::exemplar::Exemplar;

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
}

/// A series' labels as written: (name, value) slices borrowed from the points, sorted by
/// name, `__name__` among them, empty values left out (as a scrape leaves them out).
type Labels<'a> = Vec<(&'a [u8], &'a [u8])>;

/// Fills `out` with the labels of the series `name`, `row`, `extra`.
fn labels_of<'a>(
    (name, row, extra): (&'a Bytes, &'a [(Bytes, Bytes)], &'a Extra),
    external: &'a [(Bytes, Bytes)],
    out: &mut Labels<'a>,
) {
    out.clear();
    out.push((b"__name__", &name[..]));
    out.extend(row.iter().map(|(k, v)| (&k[..], &v[..])));
    if let Some((k, v)) = extra {
        out.push((k, &v[..]));
    }
    for (k, v) in external {
        // The series' own labels win over external ones (as Prometheus' external_labels).
        if !out.iter().any(|(name, _)| *name == &k[..]) {
            out.push((&k[..], &v[..]));
        }
    }
    out.retain(|(_, v)| !v.is_empty());
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
}

/// An exemplar as remote write sends it: its ids as hex label values, its value and
/// its time in ms.
struct ExemplarText {
    point: u32,
    trace: [u8; 32],
    span: [u8; 16],
    value: f64,
    timestamp: i64,
}

impl ExemplarText {
    fn of(point: u32, e: &Exemplar) -> Self {
        ExemplarText {
            point,
            trace: e.trace.trace_digits(),
            span: e.trace.span_digits(),
            value: e.seconds,
            timestamp: (e.time * 1000.0).round() as i64,
        }
    }
}

const TRACE_ID: &[u8] = b"trace_id";
const SPAN_ID: &[u8] = b"span_id";

/// The hasher of label sets: fixed, so a set hashes alike in every interval.
fn hasher() -> FixedState {
    FixedState::with_seed(0x5eed_1abe_15e7)
}

fn key(labels: &Labels<'_>) -> u64 {
    let mut h = hasher().build_hasher();
    for (k, v) in labels {
        h.write(k);
        h.write_u8(0xff);
        h.write(v);
        h.write_u8(0xfe);
    }
    h.finish()
}

/// Collects an interval again (the snapshot it was made from, shared, and the sets).
pub type Source = Box<dyn Fn() -> Collector + Send + Sync>;

/// The series of the last interval, to mark the ones that vanish as stale.
#[derive(Default)]
pub struct Tracker {
    /// The hash of each series' label set ([`key`]).
    keys: HashSet<u64, FixedState>,
    /// The external labels they were written with.
    external: Vec<(Bytes, Bytes)>,
    /// How to collect the last interval again, for the labels of stale markers.
    source: Option<Source>,
    /// The newest exemplar (ms) written of each series that has exemplars: an exemplar is
    /// written once, and never one older than its series' newest (which a receiver refuses).
    exemplars_through: HashMap<u64, i64, FixedState>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("series", &self.keys.len())
            .field("source", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// Series known from the last interval.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no series is known.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How to collect the interval just encoded again (set after each [`Batch::encode`]):
    /// without it, a series that vanishes next gets no stale marker.
    pub fn set_source(&mut self, source: Source) {
        self.source = Some(source);
    }

    /// Bytes it holds (the hashes; the source shares its snapshot).
    pub fn footprint_bytes(&self) -> usize {
        self.keys.capacity() * 9 + self.exemplars_through.capacity() * 17
    }
}

/// Writes a stale marker through `w` for each series of `source`'s interval whose key is
/// in `wanted` (labels with `external`); the keys written are taken out of `wanted`.
fn stale_markers<'a>(
    w: &mut Writer<'a>,
    points: &'a [Point],
    external: &'a [(Bytes, Bytes)],
    wanted: &mut HashSet<u64, FixedState>,
) {
    let mut labels = Vec::with_capacity(16);
    for p in points {
        if wanted.is_empty() {
            return;
        }
        labels_of((&p.name, &p.row, &p.extra), external, &mut labels);
        if wanted.remove(&key(&labels)) {
            w.add(&labels, &STALE, None, 0);
        }
    }
}

/// A length-delimited field of `tag` holding `b`.
fn put_bytes(tag: u32, b: &[u8], buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(b.len() as u64, buf);
    buf.extend_from_slice(b);
}

fn bytes_len(tag: u32, b: &[u8]) -> usize {
    key_len(tag) + encoded_len_varint(b.len() as u64) + b.len()
}

/// Writes requests of at most `max_bytes` (uncompressed) each: each series framed with
/// prost's encoding functions straight from the points' label slices (no copy, no
/// reference count per label), its sample, histogram and metadata as the derived messages.
struct Writer<'a> {
    protocol: Protocol,
    max_bytes: usize,
    timestamp: i64,
    families: &'a [FamilyMeta],
    batch: Batch,
    /// 1.0: the request's fields; 2.0: its `timeseries` fields (symbols go first at the cut).
    buf: Vec<u8>,
    symbols: Vec<&'a [u8]>,
    symbol_ix: HashMap<&'a [u8], u32, FixedState>,
    refs: Vec<u32>,
    /// Bytes the symbols will take (2.0).
    symbols_bytes: usize,
    /// Families whose 1.0 metadata is in the open request.
    meta_sent: Vec<bool>,
    /// One series' exemplar fields, encoded before the series (its length needs them).
    exemplar_fields: Vec<u8>,
    exemplar_body: Vec<u8>,
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
            batch: Batch::default(),
            buf: Vec::with_capacity(max_bytes.min(1 << 22) + 4096),
            symbols: Vec::new(),
            symbol_ix: HashMap::with_hasher(hasher()),
            refs: Vec::new(),
            symbols_bytes: 0,
            meta_sent: vec![false; families.len()],
            exemplar_fields: Vec::new(),
            exemplar_body: Vec::new(),
            samples: 0,
            histograms: 0,
            metadata: 0,
        };
        w.reset();
        w
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.symbols.clear();
        self.symbol_ix.clear();
        self.symbols.push(b"");
        self.symbol_ix.insert(b"", 0);
        self.symbols_bytes = bytes_len(4, b"");
        self.meta_sent.iter_mut().for_each(|m| *m = false);
        self.samples = 0;
        self.histograms = 0;
        self.metadata = 0;
    }

    fn symbol(&mut self, s: &'a [u8]) -> u32 {
        if let Some(&i) = self.symbol_ix.get(s) {
            return i;
        }
        let i = self.symbols.len() as u32;
        self.symbols.push(s);
        self.symbol_ix.insert(s, i);
        self.symbols_bytes += bytes_len(4, s);
        i
    }

    /// Bytes the open request will have.
    fn size(&self) -> usize {
        match self.protocol {
            Protocol::V1 => self.buf.len(),
            Protocol::V2 => self.buf.len() + self.symbols_bytes,
        }
    }

    fn cut(&mut self) {
        if self.samples + self.histograms == 0 {
            return;
        }
        let raw = match self.protocol {
            Protocol::V1 => std::mem::take(&mut self.buf),
            Protocol::V2 => {
                let mut raw = Vec::with_capacity(self.size());
                for s in &self.symbols {
                    put_bytes(4, s, &mut raw);
                }
                raw.extend_from_slice(&self.buf);
                raw
            }
        };
        // Compressing a buffer this encoder wrote cannot fail but for a size past snap's
        // limit (~4 GB), which max_bytes keeps far off.
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

    /// Encodes `exemplars` as the open series' exemplar fields (1.0: field 3, labels as
    /// `Label`s; 2.0: field 4, labels as symbol references).
    fn encode_exemplars(&mut self, exemplars: &'a [ExemplarText]) {
        self.exemplar_fields.clear();
        for e in exemplars {
            let mut body = std::mem::take(&mut self.exemplar_body);
            body.clear();
            match self.protocol {
                Protocol::V1 => {
                    for (k, v) in [(TRACE_ID, &e.trace[..]), (SPAN_ID, &e.span[..])] {
                        let n = bytes_len(1, k) + bytes_len(2, v);
                        encode_key(1, WireType::LengthDelimited, &mut body);
                        encode_varint(n as u64, &mut body);
                        put_bytes(1, k, &mut body);
                        put_bytes(2, v, &mut body);
                    }
                }
                Protocol::V2 => {
                    let refs = [
                        self.symbol(TRACE_ID),
                        self.symbol(&e.trace[..]),
                        self.symbol(SPAN_ID),
                        self.symbol(&e.span[..]),
                    ];
                    let n: usize = refs.iter().map(|&r| encoded_len_varint(u64::from(r))).sum();
                    encode_key(1, WireType::LengthDelimited, &mut body);
                    encode_varint(n as u64, &mut body);
                    for r in refs {
                        encode_varint(u64::from(r), &mut body);
                    }
                }
            }
            prost::encoding::double::encode(2, &e.value, &mut body);
            prost::encoding::int64::encode(3, &e.timestamp, &mut body);
            let field = if self.protocol == Protocol::V1 { 3 } else { 4 };
            put_bytes(field, &body, &mut self.exemplar_fields);
            self.exemplar_body = body;
        }
    }

    /// Adds one series with `labels` and its family (`None`: a stale marker, no metadata).
    fn add(&mut self, labels: &Labels<'a>, value: &'a Value, family: Option<usize>, created: i64) {
        self.add_with(labels, value, family, created, &[]);
    }

    /// [`Writer::add`], with the series' exemplars.
    fn add_with(
        &mut self,
        labels: &Labels<'a>,
        value: &'a Value,
        family: Option<usize>,
        created: i64,
        exemplars: &'a [ExemplarText],
    ) {
        // At most this many bytes more (2.0 shares its symbols, so it often takes fewer).
        let most = 64
            + labels
                .iter()
                .map(|(k, v)| k.len() + v.len() + 12)
                .sum::<usize>()
            + match value {
                Value::Float(_) => 0,
                Value::Native(h) => 64 + h.positive_deltas.len() * 10 + h.positive_spans.len() * 12,
            }
            + family.map_or(0, |f| {
                let m = &self.families[f];
                m.name.len() + m.help.len() + m.unit.len() + 24
            })
            + exemplars.len() * 120;
        if self.size() + most > self.max_bytes {
            self.cut();
        }
        // After the cut: 2.0's exemplars refer to the symbols of the request they are in.
        self.encode_exemplars(exemplars);
        let sample = match value {
            Value::Float(v) => Some(Sample {
                value: *v,
                timestamp: self.timestamp,
            }),
            Value::Native(_) => None,
        };
        let values_len = match (value, &sample) {
            (_, Some(s)) => message::encoded_len(2, s),
            (Value::Native(h), None) => {
                message::encoded_len(if self.protocol == Protocol::V1 { 4 } else { 3 }, h)
            }
            _ => 0,
        };
        match sample {
            Some(_) => self.samples += 1,
            None => self.histograms += 1,
        }
        match self.protocol {
            Protocol::V1 => {
                if let Some(f) = family {
                    if !self.meta_sent[f] {
                        self.meta_sent[f] = true;
                        let m = &self.families[f];
                        let meta = MetricMetadata {
                            r#type: m.kind as i32,
                            metric_family_name: m.name.clone(),
                            help: m.help.clone(),
                            unit: m.unit.clone(),
                        };
                        message::encode(3, &meta, &mut self.buf);
                        self.metadata += 1;
                    }
                }
                let label_len = |(k, v): &(&[u8], &[u8])| bytes_len(1, k) + bytes_len(2, v);
                let len: usize = labels
                    .iter()
                    .map(|l| {
                        let n = label_len(l);
                        key_len(1) + encoded_len_varint(n as u64) + n
                    })
                    .sum::<usize>()
                    + values_len
                    + self.exemplar_fields.len();
                encode_key(1, WireType::LengthDelimited, &mut self.buf);
                encode_varint(len as u64, &mut self.buf);
                for l in labels {
                    encode_key(1, WireType::LengthDelimited, &mut self.buf);
                    encode_varint(label_len(l) as u64, &mut self.buf);
                    put_bytes(1, l.0, &mut self.buf);
                    put_bytes(2, l.1, &mut self.buf);
                }
                match (value, &sample) {
                    (_, Some(s)) => message::encode(2, s, &mut self.buf),
                    (Value::Native(h), None) => message::encode(4, h, &mut self.buf),
                    _ => {}
                }
                self.buf.extend_from_slice(&self.exemplar_fields);
            }
            Protocol::V2 => {
                let mut refs = std::mem::take(&mut self.refs);
                refs.clear();
                for (k, v) in labels {
                    refs.push(self.symbol(k));
                    refs.push(self.symbol(v));
                }
                let metadata = family.map(|f| {
                    let m = &self.families[f];
                    let (kind, help, unit) = (m.kind, &m.help[..], &m.unit[..]);
                    self.metadata += 1;
                    MetadataV2 {
                        r#type: kind as i32,
                        help_ref: self.symbol(help),
                        unit_ref: self.symbol(unit),
                    }
                });
                let refs_len: usize = refs.iter().map(|&r| encoded_len_varint(u64::from(r))).sum();
                let mut len = key_len(1)
                    + encoded_len_varint(refs_len as u64)
                    + refs_len
                    + values_len
                    + self.exemplar_fields.len();
                if let Some(m) = &metadata {
                    len += message::encoded_len(5, m);
                }
                if created != 0 {
                    len += key_len(6) + encoded_len_varint(created as u64);
                }
                encode_key(5, WireType::LengthDelimited, &mut self.buf);
                encode_varint(len as u64, &mut self.buf);
                encode_key(1, WireType::LengthDelimited, &mut self.buf);
                encode_varint(refs_len as u64, &mut self.buf);
                for &r in &refs {
                    encode_varint(u64::from(r), &mut self.buf);
                }
                match (value, &sample) {
                    (_, Some(s)) => message::encode(2, s, &mut self.buf),
                    (Value::Native(h), None) => message::encode(3, h, &mut self.buf),
                    _ => {}
                }
                self.buf.extend_from_slice(&self.exemplar_fields);
                if let Some(m) = &metadata {
                    message::encode(5, m, &mut self.buf);
                }
                if created != 0 {
                    encode_key(6, WireType::Varint, &mut self.buf);
                    encode_varint(created as u64, &mut self.buf);
                }
                self.refs = refs;
            }
        }
    }

    fn finish(mut self) -> Batch {
        self.cut();
        self.batch
    }
}

const STALE: Value = Value::Float(f64::from_bits(STALE_NAN));

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
            families,
            mut points,
            exemplars,
            ..
        } = collected;
        let exemplars: Vec<ExemplarText> = exemplars
            .iter()
            .map(|(i, e)| ExemplarText::of(*i, e))
            .collect();
        let mut next_exemplar = 0;
        for p in &mut points {
            if let Value::Native(h) = &mut p.value {
                h.timestamp = timestamp;
            }
        }
        let external: Vec<(Bytes, Bytes)> =
            external.iter().map(|(k, v)| (text(k), text(v))).collect();
        let old_keys = std::mem::take(&mut tracker.keys);
        let old_external = std::mem::take(&mut tracker.external);
        let source = tracker.source.take();
        let sent = std::mem::take(&mut tracker.exemplars_through);
        let mut keys: HashSet<u64, FixedState> =
            HashSet::with_capacity_and_hasher(points.len(), hasher());
        let mut through = HashMap::with_hasher(hasher());
        // Declared before the writer, which borrows its points' labels: the last interval
        // again, collected only when a series vanished (its labels are not kept).
        let previous: Option<Collector>;
        let batch = {
            let mut w = Writer::new(protocol, max_bytes, timestamp, &families);
            let mut labels = Vec::with_capacity(16);
            for (i, p) in points.iter().enumerate() {
                labels_of((&p.name, &p.row, &p.extra), &external, &mut labels);
                let k = key(&labels);
                keys.insert(k);
                let from = next_exemplar;
                while exemplars
                    .get(next_exemplar)
                    .is_some_and(|e| e.point == i as u32)
                {
                    next_exemplar += 1;
                }
                // A series' exemplars come oldest first: the new ones are a suffix.
                let mut ex = &exemplars[from..next_exemplar];
                if let Some(newest) = ex.iter().map(|e| e.timestamp).max() {
                    let before = sent.get(&k).copied().unwrap_or(i64::MIN);
                    ex = &ex[ex.partition_point(|e| e.timestamp <= before)..];
                    through.insert(k, newest.max(before));
                }
                w.add_with(&labels, &p.value, Some(p.family), p.created, ex);
            }
            let mut vanished: HashSet<u64, FixedState> =
                old_keys.into_iter().filter(|k| !keys.contains(k)).collect();
            previous = match (&source, vanished.is_empty()) {
                (Some(again), false) => Some(again()),
                _ => None,
            };
            if let Some(previous) = &previous {
                stale_markers(&mut w, &previous.points, &old_external, &mut vanished);
            }
            w.finish()
        };
        tracker.keys = keys;
        tracker.external = external;
        tracker.exemplars_through = through;
        batch
    }

    /// Stale markers at `timestamp` for every series `tracker` knows (the exporter is
    /// leaving; the last interval is collected again for their labels); the tracker then
    /// knows none.
    pub fn stale_all(
        protocol: Protocol,
        timestamp: i64,
        max_bytes: usize,
        tracker: &mut Tracker,
    ) -> Batch {
        let mut wanted = std::mem::take(&mut tracker.keys);
        let external = std::mem::take(&mut tracker.external);
        let Some(again) = tracker.source.take() else {
            return Batch::default();
        };
        let previous = again();
        let mut w = Writer::new(protocol, max_bytes, timestamp, &[]);
        stale_markers(&mut w, &previous.points, &external, &mut wanted);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::{RequestV2, WriteRequest};
    use super::*;
    use crate::expose::format::encoder::{Encoder, Histogram, Kind};
    use crate::model::native_histogram;
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
                exemplars: &[],
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
    fn each_exemplar_is_written_once_and_on_its_series() {
        use crate::model::exemplar::{Exemplar, TraceRef};
        let collect_at = |times: &[f64]| {
            let exemplars: Vec<Exemplar> = times
                .iter()
                .enumerate()
                .map(|(k, &time)| Exemplar {
                    trace: TraceRef {
                        trace_id: [k as u8 + 1; 16],
                        span_id: [9; 8],
                    },
                    seconds: 0.2 + k as f64 * 0.1,
                    time,
                })
                .collect();
            let mut c = Collector::default();
            let row = Collector::labels(&[("name", "/a")]);
            let mut f = c.family("d_seconds", "help d", Kind::Histogram);
            f.histogram(
                &row,
                &Histogram {
                    buckets: &[(0.25, 1), (1.0, 3)],
                    count: 3,
                    sum: 0.9,
                    native: None,
                    created: None,
                    exemplars: &exemplars,
                },
            );
            c
        };
        let exemplars_of = |b: &Batch| -> Vec<(String, i64)> {
            decode_v1(b)
                .timeseries
                .iter()
                .flat_map(|ts| {
                    let le = ts
                        .labels
                        .iter()
                        .find(|l| &l.name[..] == b"le")
                        .map(|l| String::from_utf8_lossy(&l.value).into_owned());
                    ts.exemplars
                        .iter()
                        .map(move |e| (le.clone().unwrap_or_default(), e.timestamp))
                })
                .collect()
        };
        let mut t = Tracker::default();
        let mut interval = |times: &[f64], at: i64| {
            let b = Batch::encode(collect_at(times), Protocol::V1, at, 1 << 20, &[], &mut t);
            exemplars_of(&b)
        };
        // 0.2 s in le=0.25; 0.3 and 0.4 s in le=1.0 (the slowest shown).
        assert_eq!(
            interval(&[10.0, 11.0, 12.0], 1),
            vec![("0.25".to_owned(), 10_000), ("1.0".to_owned(), 12_000)]
        );
        // The same exemplars again: not written again.
        assert_eq!(interval(&[10.0, 11.0, 12.0], 2), vec![]);
        // A newer one in le=0.25 is; an older one than le=1.0's newest is not.
        assert_eq!(
            interval(&[13.0, 11.0, 11.5], 3),
            vec![("0.25".to_owned(), 13_000)]
        );
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
                    .map(|l| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(&l.name),
                            String::from_utf8_lossy(&l.value)
                        )
                    })
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
        assert_eq!(&w.metadata[1].unit[..], b"seconds");
        assert_eq!(b.requests[0].samples, 5);
        assert_eq!(b.requests[0].histograms, 1);
    }

    #[test]
    fn vanished_series_get_a_stale_marker_once() {
        let mut t = Tracker::default();
        let ext = [("run".to_owned(), "r1".to_owned())];
        Batch::encode(collect(), Protocol::V1, 1000, 1 << 20, &ext, &mut t);
        t.set_source(Box::new(collect));
        assert_eq!(t.len(), 6);
        let counter_only = || {
            let mut c = Collector::default();
            let row = Collector::labels(&[("service", "s"), ("name", "/a")]);
            c.family("x_total", "help x", Kind::Counter)
                .sample(&row, 4.0);
            c
        };
        let w = decode_v1(&Batch::encode(
            counter_only(),
            Protocol::V1,
            2000,
            1 << 20,
            &ext,
            &mut t,
        ));
        t.set_source(Box::new(counter_only));
        let stale: Vec<_> = w
            .timeseries
            .iter()
            .filter(|ts| ts.samples[0].value.to_bits() == STALE_NAN)
            .collect();
        assert_eq!(stale.len(), 5, "the histogram's five series");
        // Their labels are the last interval's, made again from its source: the run label
        // (external) included.
        for ts in &stale {
            assert!(
                ts.labels
                    .iter()
                    .any(|l| l.name[..] == b"run"[..] && l.value[..] == b"r1"[..]),
                "{:?}",
                ts.labels
            );
            assert!(ts
                .labels
                .iter()
                .any(|l| l.name[..] == b"__name__"[..] && l.value.starts_with(b"d_seconds")));
        }
        assert_eq!(t.len(), 1);
        // Nothing vanished: no stale marker, and the source is not asked.
        t.set_source(Box::new(|| panic!("collected again with nothing gone")));
        let w = decode_v1(&Batch::encode(
            counter_only(),
            Protocol::V1,
            2500,
            1 << 20,
            &ext,
            &mut t,
        ));
        assert_eq!(w.timeseries.len(), 1);
        t.set_source(Box::new(counter_only));
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
            assert!(req.symbols[0].is_empty());
            for ts in &req.timeseries {
                let l: Vec<&[u8]> = ts
                    .labels_refs
                    .iter()
                    .map(|&i| &req.symbols[i as usize][..])
                    .collect();
                assert_eq!(l[0], &b"__name__"[..]);
                assert_eq!(l[1], &b"g"[..]);
                assert_eq!(l[2], &b"name"[..]);
                assert_eq!(ts.samples[0].value, seen as f64);
                assert_eq!(
                    &req.symbols[ts.metadata.unwrap().help_ref as usize][..],
                    b"help g"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 1000);
    }
}
