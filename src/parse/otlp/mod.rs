//! OTLP export requests (`locust --otel`, or any OpenTelemetry SDK or collector) → model
//! updates, per service. Pure: bytes in, updates and an account of what was rejected out
//! (`docs/otlp.md`).
//!
//! * Metrics: `locust.client.duration` (attribute `name`, `error.type` on failures) becomes
//!   one [`RequestBatch`] per data point: an exponential histogram's buckets exactly, as
//!   native buckets at the point's scale (scales above 8 merged down to 8, as Prometheus
//!   does); an explicit-bucket histogram's buckets with their own bounds. Cumulative points
//!   are turned into deltas against the stream's previous point ([`Receiving`] keeps it); a
//!   stream is its resource, metric, attributes and start time, so the workers of one host
//!   (same resource) stay apart. `locust.users.count` (summed over `user_class`) becomes
//!   the user count. Every other metric is read and ignored.
//! * Traces: with [`RequestsFrom::Spans`], each HTTP client span is one request event
//!   (method, the name Locust gave it, duration, error); otherwise spans are ignored.
//! * Logs: counted, nothing else.
//!
//! A point that cannot be right (NaN, buckets that do not add up to the count, a scale
//! out of range, a negative duration, a bucket beyond 24 h, a stream past the limit) is
//! rejected alone and counted in the response's partial success; a request that does not
//! decode is refused whole.

mod budget;
pub mod proto;
mod signal;

pub use budget::MAX_DECODED_ITEMS;
pub use signal::{Encoding, Signal};

use std::collections::HashMap;
use thiserror::Error;

use crate::model::native_histogram::{self, NativeBuckets, MAX_SCHEMA, MIN_SCHEMA, ZERO_THRESHOLD};
use crate::model::update::{cut_chars, Request, RequestBatch, Update};
use proto::{KeyValue, Value};

/// The duration histogram of `locust --otel`.
pub const DURATION_METRIC: &str = "locust.client.duration";
/// The user gauge of `locust --otel` (master or standalone only).
pub const USERS_METRIC: &str = "locust.users.count";
/// The service of a resource without `service.name`.
pub const DEFAULT_SERVICE: &str = "locust";
/// Default `--otlp.max-services`: most services the receiver feeds at once. Each is a
/// service of the model (its endpoints, series and memory); a service idle for
/// [`STREAM_IDLE_SECONDS`] is forgotten (and no longer served), so run after run of one
/// exporter keeps a flat footprint, and a sender making up service names is refused past it.
pub const DEFAULT_MAX_SERVICES: usize = 200;
/// A point or span time this far (seconds) past the receiver's clock is taken as received
/// now, and counted (`locust_exporter_events_time_clamped_total`), as events are.
pub const MAX_FUTURE_SECS: f64 = crate::parse::MAX_FUTURE_SECS;
/// Most cumulative streams remembered at once (each a few hundred bytes): past it, points of
/// new streams are rejected.
pub const MAX_STREAMS: usize = 10_000;
/// Most bytes the remembered streams may hold, keys and last buckets together: past it, a
/// point that would grow them is rejected (its stream's next point still counts from the
/// last one kept, so nothing is lost).
pub const MAX_STREAM_BYTES: usize = 64 << 20;
/// A stream with no point for this long (seconds; SDKs send every stream each export
/// interval, a minute by default) is forgotten: a finished run's streams make room.
pub const STREAM_IDLE_SECONDS: f64 = 900.0;
/// How often idle streams are looked for, in seconds.
const SWEEP_SECONDS: f64 = 60.0;
/// Most buckets one exponential or explicit data point may carry (the Python SDK's
/// default is 160).
pub const MAX_POINT_BUCKETS: usize = 4096;
/// Longest attribute value kept, in characters (names are cut further by the model).
pub const MAX_ATTRIBUTE_CHARS: usize = 1024;
/// A bucket whose lower bound lies past this many seconds is out of range (Locust's own cap
/// on response times is 24 h).
const MAX_SECONDS: f64 = 86_400.0;

/// Where request counts and times come from (`--otlp.requests-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestsFrom {
    /// The `locust.client.duration` histogram (every request Locust counts).
    #[default]
    Metrics,
    /// HTTP client spans: exact times, but only what the HTTP instrumentation sees.
    Spans,
}

/// How the receiver maps what it reads.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--otlp.service`: every resource feeds this service.
    pub service: Option<String>,
    /// `--otlp.requests-from`.
    pub requests_from: RequestsFrom,
    /// `--otlp.max-services`.
    pub max_services: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            service: None,
            requests_from: RequestsFrom::default(),
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

/// A request that is not an OTLP export request at all: refused whole.
#[derive(Debug, Error, PartialEq)]
#[error("not a valid OTLP {signal} export request ({encoding}): {message}")]
pub struct Invalid {
    /// `metrics`, `traces` or `logs`.
    pub signal: &'static str,
    /// `protobuf` or `JSON`.
    pub encoding: &'static str,
    /// The decoder's message.
    pub message: String,
}

/// What one export request said of one service.
#[derive(Debug, Default)]
pub struct ServiceExport {
    /// The service.
    pub name: String,
    /// Its updates, in order.
    pub updates: Vec<Update<'static>>,
    /// Points or spans whose time was more than [`MAX_FUTURE_SECS`] ahead, taken as now.
    pub clamped: u64,
}

/// What one export request said.
#[derive(Debug, Default)]
pub struct Export {
    /// Updates by service, in the order the services came.
    pub services: Vec<ServiceExport>,
    /// Data points, spans or log records read and used.
    pub accepted: u64,
    /// Those read and ignored (other metrics; spans while requests come from metrics).
    pub ignored: u64,
    /// Points of a cumulative stream not newer than its last one, or lower (a retry, a
    /// duplicate, a collector's reordering): dropped, counted, not an error.
    pub stale: u64,
    /// Those rejected.
    pub rejected: u64,
    /// Why the first rejected one was.
    pub reason: Option<String>,
}

impl Export {
    fn reject(&mut self, why: String) {
        self.rejected += 1;
        self.reason.get_or_insert(why);
    }

    fn of(&mut self, service: &str) -> &mut ServiceExport {
        let i = match self.services.iter().position(|s| s.name == service) {
            Some(i) => i,
            None => {
                self.services.push(ServiceExport {
                    name: service.to_owned(),
                    ..ServiceExport::default()
                });
                self.services.len() - 1
            }
        };
        &mut self.services[i]
    }

    fn push(&mut self, service: &str, update: Update<'static>) {
        self.of(service).updates.push(update);
    }
}

/// The previous point of a cumulative stream.
#[derive(Debug, Clone)]
struct Last {
    count: u64,
    sum: f64,
    shape: Shape,
    /// The point's own time (`time_unix_nano`).
    time_ns: u64,
    /// When it came (the receiver's clock).
    seen: f64,
}

impl Last {
    /// Bytes it and its `key` hold, about.
    fn footprint(&self, key: &str) -> usize {
        let buckets = match &self.shape {
            Shape::Native(b) => b.counts.len() * 8,
            Shape::Explicit(bounds, counts) => (bounds.len() + counts.len()) * 8,
            Shape::Bare => 0,
        };
        key.len() + buckets + std::mem::size_of::<(String, Last)>()
    }
}

/// A histogram point's buckets, in model terms.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// Native buckets (Prometheus indices) at a schema of -4..=8.
    Native(NativeBuckets),
    /// Explicit upper bounds in seconds (ascending, finite) and one count more (`+Inf`).
    Explicit(Vec<f64>, Vec<u64>),
    /// A histogram with a count and a sum only.
    Bare,
}

/// The receiver's memory across requests: the last point of every cumulative stream, and
/// the services it feeds.
#[derive(Debug, Default)]
pub struct Receiving {
    options: Options,
    streams: HashMap<String, Last, crate::model::FastHash>,
    /// Each service fed, and when it last got a point or span (the receiver's clock).
    services: HashMap<String, f64, crate::model::FastHash>,
    /// Services forgotten since the last [`Receiving::forgotten`].
    gone: Vec<String>,
    /// What `streams` hold ([`Last::footprint`]).
    stream_bytes: usize,
    /// When idle streams were last looked for.
    swept: f64,
    /// The current request's time.
    now: f64,
}

impl Receiving {
    /// A receiver mapping with `options`.
    pub fn new(options: Options) -> Self {
        Receiving {
            options,
            ..Receiving::default()
        }
    }

    /// Services fed now.
    pub fn services(&self) -> usize {
        self.services.len()
    }

    /// Forgets what has been idle for [`STREAM_IDLE_SECONDS`] at `now` (looked at once
    /// every minute): cumulative streams, and services (which the caller stops serving:
    /// [`Receiving::forgotten`]).
    pub fn sweep(&mut self, now: f64) {
        if now - self.swept < SWEEP_SECONDS {
            return;
        }
        self.swept = now;
        self.streams
            .retain(|_, last| now - last.seen < STREAM_IDLE_SECONDS);
        self.stream_bytes = self.streams.iter().map(|(k, l)| l.footprint(k)).sum();
        let gone = &mut self.gone;
        self.services.retain(|name, seen| {
            let keep = now - *seen < STREAM_IDLE_SECONDS;
            if !keep {
                gone.push(name.clone());
            }
            keep
        });
    }

    /// The services forgotten since the last call, to be let go.
    pub fn forgotten(&mut self) -> Vec<String> {
        std::mem::take(&mut self.gone)
    }

    /// Whether `service` may be fed at `now`: known, or new and under `--otlp.max-services`.
    fn admit(&mut self, service: &str) -> bool {
        if let Some(seen) = self.services.get_mut(service) {
            *seen = self.now;
            return true;
        }
        if self.services.len() >= self.options.max_services {
            return false;
        }
        self.services.insert(service.to_owned(), self.now);
        true
    }

    /// `why` a resource's items are refused: its service is past `--otlp.max-services`.
    fn too_many_services(&self, service: &str) -> String {
        format!(
            "service {:?}: more than {} services at once (--otlp.max-services; an idle one is forgotten after {} minutes)",
            cut_chars(service, 64),
            self.options.max_services,
            STREAM_IDLE_SECONDS / 60.0
        )
    }

    /// A point's or span's time (Unix seconds) as taken: a time more than [`MAX_FUTURE_SECS`]
    /// past the receiver's clock is taken as now (`true`: it was).
    fn clamp_time(&self, t: f64) -> (f64, bool) {
        if t > self.now + MAX_FUTURE_SECS {
            (self.now, true)
        } else {
            (t, false)
        }
    }

    /// Cumulative streams remembered.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes the remembered streams hold ([`MAX_STREAM_BYTES`] at most).
    pub fn stream_bytes(&self) -> usize {
        self.stream_bytes
    }

    /// Decodes and maps one export request that came at `now` (seconds, the receiver's
    /// clock: streams idle for [`STREAM_IDLE_SECONDS`] are forgotten).
    pub fn export(
        &mut self,
        signal: Signal,
        encoding: Encoding,
        body: &[u8],
        now: f64,
    ) -> Result<Export, Invalid> {
        self.now = now;
        self.sweep(now);
        let invalid = |message: String| Invalid {
            signal: signal.as_str(),
            encoding: match encoding {
                Encoding::Protobuf => "protobuf",
                Encoding::Json => "JSON",
            },
            message,
        };
        let items = match encoding {
            Encoding::Protobuf => budget::protobuf_items(signal, body, MAX_DECODED_ITEMS),
            Encoding::Json => budget::json_items(body, MAX_DECODED_ITEMS),
        };
        if items > MAX_DECODED_ITEMS {
            return Err(invalid(format!(
                "it decodes into more than {MAX_DECODED_ITEMS} items (points, spans, log records, attributes, buckets): send it in smaller batches"
            )));
        }
        match signal {
            Signal::Metrics => {
                let req: proto::ExportMetricsServiceRequest =
                    decode(encoding, body).map_err(invalid)?;
                Ok(self.metrics(req))
            }
            Signal::Traces => {
                let req: proto::ExportTraceServiceRequest =
                    decode(encoding, body).map_err(invalid)?;
                Ok(self.traces(req))
            }
            Signal::Logs => {
                let req: proto::ExportLogsServiceRequest =
                    decode(encoding, body).map_err(invalid)?;
                let records = req
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .map(|s| s.log_records.len() as u64)
                    .sum();
                Ok(Export {
                    accepted: records,
                    ..Export::default()
                })
            }
        }
    }

    fn service(&self, resource: Option<&proto::Resource>) -> String {
        if let Some(s) = &self.options.service {
            return s.clone();
        }
        resource
            .and_then(|r| attribute(&r.attributes, "service.name"))
            .map(|s| cut_chars(&s, MAX_ATTRIBUTE_CHARS).to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE.to_owned())
    }

    fn metrics(&mut self, req: proto::ExportMetricsServiceRequest) -> Export {
        use proto::MetricData;
        let mut out = Export::default();
        for rm in req.resource_metrics {
            let service = self.service(rm.resource.as_ref());
            let resource_key = rm
                .resource
                .as_ref()
                .map(|r| attributes_key(&r.attributes))
                .unwrap_or_default();
            let mut users: Option<(u64, f64)> = None;
            let durations_read = self.options.requests_from == RequestsFrom::Metrics;
            // The points this service would be fed: refused whole past --otlp.max-services.
            let mapped: u64 = rm
                .scope_metrics
                .iter()
                .flat_map(|s| &s.metrics)
                .filter_map(|m| match &m.data {
                    Some(MetricData::Histogram(h))
                        if m.name == DURATION_METRIC && durations_read =>
                    {
                        Some(h.data_points.len())
                    }
                    Some(MetricData::ExponentialHistogram(h))
                        if m.name == DURATION_METRIC && durations_read =>
                    {
                        Some(h.data_points.len())
                    }
                    Some(MetricData::Gauge(g)) if m.name == USERS_METRIC => {
                        Some(g.data_points.len())
                    }
                    Some(MetricData::Sum(g)) if m.name == USERS_METRIC => Some(g.data_points.len()),
                    _ => None,
                })
                .sum::<usize>() as u64;
            if mapped > 0 && !self.admit(&service) {
                let why = self.too_many_services(&service);
                out.rejected += mapped;
                out.reason.get_or_insert(why);
                continue;
            }
            for metric in rm.scope_metrics.into_iter().flat_map(|s| s.metrics) {
                let per_second = unit_seconds(&metric.unit);
                let durations = metric.name == DURATION_METRIC && durations_read;
                match metric.data {
                    Some(MetricData::Histogram(h)) if durations => {
                        let stream = Stream::new(
                            &service,
                            &resource_key,
                            &metric.name,
                            h.aggregation_temporality,
                            per_second,
                        );
                        for p in h.data_points {
                            let shape = explicit_shape(&p, per_second);
                            self.histogram(&mut out, stream.point(&p), shape);
                        }
                    }
                    Some(MetricData::ExponentialHistogram(h)) if durations => {
                        let stream = Stream::new(
                            &service,
                            &resource_key,
                            &metric.name,
                            h.aggregation_temporality,
                            per_second,
                        );
                        for p in h.data_points {
                            let shape = exponential_shape(&p, per_second);
                            self.histogram(&mut out, stream.point(&p), shape);
                        }
                    }
                    Some(MetricData::Gauge(g)) if metric.name == USERS_METRIC => {
                        for p in g.data_points {
                            match user_count(&p) {
                                Ok(n) => {
                                    out.accepted += 1;
                                    let t = p.time_unix_nano as f64 / 1e9;
                                    let acc = users.get_or_insert((0, t));
                                    *acc = (acc.0.saturating_add(n), acc.1.max(t));
                                }
                                Err(why) => out.reject(why),
                            }
                        }
                    }
                    Some(MetricData::Sum(s)) if metric.name == USERS_METRIC => {
                        for p in s.data_points {
                            match user_count(&p) {
                                Ok(n) => {
                                    out.accepted += 1;
                                    let acc = users.get_or_insert((0, 0.0));
                                    acc.0 = acc.0.saturating_add(n);
                                }
                                Err(why) => out.reject(why),
                            }
                        }
                    }
                    Some(data) => out.ignored += points(&data),
                    None => {}
                }
            }
            if let Some((n, _)) = users {
                out.push(&service, Update::Users(n));
            }
        }
        out
    }

    /// One `locust.client.duration` point: validated, made a delta, made a batch.
    fn histogram(&mut self, out: &mut Export, p: Point<'_>, shape: Result<Shape, String>) {
        let shape = match shape.and_then(|s| p.check(&s).map(|()| s)) {
            Ok(s) => s,
            Err(why) => return out.reject(format!("{}: {why}", p.describe())),
        };
        let sum = p.sum.unwrap_or(0.0);
        // The period the point's requests were made in starts at its start time (delta), or
        // at the stream's previous point (cumulative; its start time on the first).
        let mut start_ns = p.start_ns;
        let (count, sum, shape) = if p.cumulative {
            let key = p.stream_key();
            let last = self.streams.get(&key);
            if let Some(l) = last {
                // The stream's start time is in its key: one that started over is another
                // stream. So a point not newer than the last, or with less in it, is a retry,
                // a duplicate or a collector's reordering, never a restart: counting it as one
                // would count the whole stream again.
                if p.time_ns <= l.time_ns {
                    out.stale += 1;
                    return;
                }
                start_ns = l.time_ns;
            }
            if last.is_none() && self.streams.len() >= MAX_STREAMS {
                return out.reject(format!(
                    "{}: more than {MAX_STREAMS} cumulative streams at once",
                    p.describe()
                ));
            }
            let d = match last {
                None => (p.count, sum, shape.clone()),
                Some(l) => match delta(l, p.count, sum, &shape) {
                    Some(d) => d,
                    None if l.shape.same_kind(&shape) => {
                        out.stale += 1;
                        return;
                    }
                    None => {
                        return out.reject(format!(
                            "{}: its buckets changed kind or bounds within one stream",
                            p.describe()
                        ))
                    }
                },
            };
            let next = Last {
                count: p.count,
                sum,
                shape,
                time_ns: p.time_ns,
                seen: self.now,
            };
            let (was, will) = (last.map_or(0, |l| l.footprint(&key)), next.footprint(&key));
            let bytes = self.stream_bytes.saturating_sub(was) + will;
            if will > was && bytes > MAX_STREAM_BYTES {
                // Kept as it was, but alive: its next point counts from the last one kept.
                if let Some(l) = self.streams.get_mut(&key) {
                    l.seen = self.now;
                }
                return out.reject(format!(
                    "{}: the cumulative streams would hold more than {MAX_STREAM_BYTES} bytes",
                    p.describe()
                ));
            }
            self.stream_bytes = bytes;
            self.streams.insert(key, next);
            d
        } else {
            (p.count, sum, shape)
        };
        out.accepted += 1;
        if count == 0 {
            return;
        }
        let mut batch = p.batch(count, sum, shape);
        // A start that is no time, after the point, or more than a day before it says nothing.
        batch.start =
            (start_ns > 0 && start_ns <= p.time_ns && p.time_ns - start_ns <= 86_400_000_000_000)
                .then(|| start_ns as f64 / 1e9);
        let (time, clamped) = self.clamp_time(batch.time);
        if clamped {
            batch.time = time;
            batch.start = None;
            out.of(p.service).clamped += 1;
        }
        out.push(p.service, Update::Requests(Box::new(batch)));
    }

    fn traces(&mut self, req: proto::ExportTraceServiceRequest) -> Export {
        let mut out = Export::default();
        for rs in req.resource_spans {
            let service = self.service(rs.resource.as_ref());
            let spans = rs
                .scope_spans
                .iter()
                .map(|s| s.spans.len() as u64)
                .sum::<u64>();
            if self.options.requests_from != RequestsFrom::Spans {
                out.ignored += spans;
                continue;
            }
            if spans > 0 && !self.admit(&service) {
                let why = self.too_many_services(&service);
                out.rejected += spans;
                out.reason.get_or_insert(why);
                continue;
            }
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                match span_request(&span) {
                    Ok(Some(mut request)) => {
                        out.accepted += 1;
                        let (time, clamped) = self.clamp_time(request.time);
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
}

fn decode<T>(encoding: Encoding, body: &[u8]) -> Result<T, String>
where
    T: prost::Message + Default + for<'de> serde::Deserialize<'de>,
{
    match encoding {
        Encoding::Protobuf => T::decode(body).map_err(|e| e.to_string()),
        Encoding::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
    }
}

/// Data points of a metric that maps to nothing.
fn points(data: &proto::MetricData) -> u64 {
    use proto::MetricData;
    (match data {
        MetricData::Gauge(g) => g.data_points.len(),
        MetricData::Sum(s) => s.data_points.len(),
        MetricData::Histogram(h) => h.data_points.len(),
        MetricData::ExponentialHistogram(h) => h.data_points.len(),
        MetricData::Summary(s) => s.data_points.len(),
    }) as u64
}

/// Seconds per unit of a duration metric's values (`s` when it does not say).
fn unit_seconds(unit: &str) -> f64 {
    match unit {
        "ms" => 1e-3,
        "us" => 1e-6,
        "ns" => 1e-9,
        "min" => 60.0,
        _ => 1.0,
    }
}

/// The string form of an attribute's value.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::StringValue(s) => Some(cut_chars(s, MAX_ATTRIBUTE_CHARS).to_owned()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// The attribute `key` as text.
fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .and_then(value_text)
}

/// The attribute `key` as an integer.
fn attribute_int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())?
    {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.parse().ok(),
        Value::DoubleValue(d) if d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

/// Attributes as one key, sorted (their order in the request does not matter).
fn attributes_key(attributes: &[KeyValue]) -> String {
    let mut pairs: Vec<(&str, String)> = attributes
        .iter()
        .map(|kv| {
            let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
            let text = v.and_then(value_text).unwrap_or_default();
            (cut_chars(&kv.key, MAX_ATTRIBUTE_CHARS), text)
        })
        .collect();
    pairs.sort();
    let mut key = String::new();
    for (k, v) in pairs {
        key.push_str(k);
        key.push('\u{1f}');
        key.push_str(&v);
        key.push('\u{1e}');
    }
    key
}

fn user_count(p: &proto::NumberDataPoint) -> Result<u64, String> {
    let v = match p.value {
        Some(proto::NumberValue::AsInt(i)) => i as f64,
        Some(proto::NumberValue::AsDouble(d)) => d,
        None => return Err(format!("{USERS_METRIC}: a point without a value")),
    };
    if !v.is_finite() || v < 0.0 || v > crate::parse::MAX_USERS as f64 {
        return Err(format!("{USERS_METRIC}: {v} is not a user count"));
    }
    Ok(v.round() as u64)
}

/// What the points of one duration metric share.
struct Stream<'a> {
    service: &'a str,
    resource: &'a str,
    metric: &'a str,
    cumulative: bool,
    per_second: f64,
}

impl<'a> Stream<'a> {
    fn new(
        service: &'a str,
        resource: &'a str,
        metric: &'a str,
        temporality: i32,
        per_second: f64,
    ) -> Self {
        Stream {
            service,
            resource,
            metric,
            cumulative: temporality == proto::TEMPORALITY_CUMULATIVE,
            per_second,
        }
    }

    fn point<P: HistogramPoint>(&self, p: &'a P) -> Point<'a> {
        let (start_ns, time_ns, count) = p.times_and_count();
        let (sum, min, max) = p.sum_min_max();
        Point {
            service: self.service,
            resource: self.resource,
            metric: self.metric,
            cumulative: self.cumulative,
            attributes: p.attributes(),
            start_ns,
            time_ns,
            count,
            sum,
            min,
            max,
            per_second: self.per_second,
        }
    }
}

/// The fields explicit and exponential histogram points share.
trait HistogramPoint {
    fn attributes(&self) -> &[KeyValue];
    fn times_and_count(&self) -> (u64, u64, u64);
    fn sum_min_max(&self) -> (Option<f64>, Option<f64>, Option<f64>);
}

impl HistogramPoint for proto::HistogramDataPoint {
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn times_and_count(&self) -> (u64, u64, u64) {
        (self.start_time_unix_nano, self.time_unix_nano, self.count)
    }
    fn sum_min_max(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        (self.sum, self.min, self.max)
    }
}

impl HistogramPoint for proto::ExponentialHistogramDataPoint {
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn times_and_count(&self) -> (u64, u64, u64) {
        (self.start_time_unix_nano, self.time_unix_nano, self.count)
    }
    fn sum_min_max(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        (self.sum, self.min, self.max)
    }
}

/// One duration data point, read but not yet a batch.
struct Point<'a> {
    service: &'a str,
    resource: &'a str,
    metric: &'a str,
    cumulative: bool,
    attributes: &'a [KeyValue],
    start_ns: u64,
    time_ns: u64,
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    /// Seconds per unit of the values.
    per_second: f64,
}

impl Point<'_> {
    fn describe(&self) -> String {
        let name = attribute(self.attributes, "name").unwrap_or_default();
        format!("{} point of {name:?}", self.metric)
    }

    fn stream_key(&self) -> String {
        format!(
            "{}\u{1d}{}\u{1d}{}\u{1d}{}\u{1d}{}",
            self.service,
            self.resource,
            self.metric,
            self.start_ns,
            attributes_key(self.attributes)
        )
    }

    /// The point's own numbers agree with each other and with its buckets.
    fn check(&self, shape: &Shape) -> Result<(), String> {
        for (what, v) in [("sum", self.sum), ("min", self.min), ("max", self.max)] {
            match v {
                Some(v) if !v.is_finite() => return Err(format!("{what} is {v}")),
                Some(v) if v < 0.0 => return Err(format!("{what} is negative ({v})")),
                _ => {}
            }
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo > hi && self.count > 0 {
                return Err(format!("min {lo} is above max {hi}"));
            }
        }
        // Each request took at most a day: a larger sum is no sum of durations (and would
        // make averages infinite).
        if let Some(sum) = self.sum {
            if sum * self.per_second > self.count as f64 * MAX_SECONDS {
                return Err(format!(
                    "sum {sum} is more than {} requests of {MAX_SECONDS} s each",
                    self.count
                ));
            }
        }
        let in_buckets = match shape {
            Shape::Native(b) => b
                .counts
                .iter()
                .try_fold(b.zero_count, |a, &n| a.checked_add(n)),
            Shape::Explicit(_, counts) => counts.iter().try_fold(0u64, |a, &n| a.checked_add(n)),
            Shape::Bare => Some(self.count),
        };
        match in_buckets {
            Some(n) if n == self.count => Ok(()),
            Some(n) => Err(format!(
                "its buckets hold {n} values, its count says {}",
                self.count
            )),
            None => Err("its bucket counts overflow".to_owned()),
        }
    }

    /// The batch of `count` requests summing to `sum` (the point's unit) in `shape`.
    fn batch(&self, count: u64, sum: f64, shape: Shape) -> RequestBatch<'static> {
        let ms = self.per_second * 1000.0;
        let (lo, hi) = shape.range();
        let min_ms = self.min.map_or(lo * 1000.0, |v| v * ms);
        let max_ms = self.max.map_or(hi * 1000.0, |v| v * ms).max(min_ms);
        let name = attribute(self.attributes, "name").unwrap_or_default();
        let errors = attribute(self.attributes, "error.type")
            .map(|e| vec![(e.into(), count)])
            .unwrap_or_default();
        let mut batch = RequestBatch {
            time: self.time_ns as f64 / 1e9,
            start: None,
            method: "".into(),
            name: name.into(),
            requests: count,
            errors,
            timed: count,
            sum_ms: sum * ms,
            min_ms,
            max_ms,
            response_bytes: 0,
            schema: native_histogram::SCHEMA,
            zero_count: 0,
            buckets: Vec::new(),
            explicit: Vec::new(),
        };
        match shape {
            Shape::Native(b) => {
                batch.schema = b.schema;
                batch.zero_count = b.zero_count;
                batch.buckets = b
                    .counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(i, &n)| (b.offset.saturating_add(i as i32), n))
                    .collect();
            }
            Shape::Explicit(bounds, counts) => {
                batch.explicit = bounds
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(counts)
                    .collect();
            }
            Shape::Bare => {}
        }
        batch
    }
}

impl Shape {
    /// True when `other` has the same kind of buckets (and, explicit, the same bounds): a
    /// point of one stream after another can be told apart from it.
    fn same_kind(&self, other: &Shape) -> bool {
        match (self, other) {
            (Shape::Native(_), Shape::Native(_)) | (Shape::Bare, Shape::Bare) => true,
            (Shape::Explicit(a, _), Shape::Explicit(b, _)) => a == b,
            _ => false,
        }
    }

    /// The lowest and highest seconds its non-empty buckets allow.
    fn range(&self) -> (f64, f64) {
        match self {
            Shape::Native(b) => {
                let first = b.counts.iter().position(|&n| n > 0);
                let last = b.counts.iter().rposition(|&n| n > 0);
                let lo = match (b.zero_count, first) {
                    (0, Some(i)) => {
                        native_histogram::upper_bound(b.offset + i as i32 - 1, b.schema)
                    }
                    _ => 0.0,
                };
                let hi = last.map_or(ZERO_THRESHOLD, |i| {
                    native_histogram::upper_bound(b.offset + i as i32, b.schema)
                });
                (lo, hi)
            }
            Shape::Explicit(bounds, counts) => {
                let first = counts.iter().position(|&n| n > 0).unwrap_or(0);
                let last = counts.iter().rposition(|&n| n > 0).unwrap_or(0);
                let lo = if first == 0 {
                    0.0
                } else {
                    bounds.get(first - 1).copied().unwrap_or(0.0)
                };
                let hi = bounds.get(last).or(bounds.last()).copied().unwrap_or(0.0);
                (lo, hi)
            }
            Shape::Bare => (0.0, 0.0),
        }
    }
}

/// An explicit-bucket point's buckets, bounds in seconds.
fn explicit_shape(p: &proto::HistogramDataPoint, per_second: f64) -> Result<Shape, String> {
    if p.bucket_counts.is_empty() {
        return Ok(Shape::Bare);
    }
    if p.bucket_counts.len() > MAX_POINT_BUCKETS {
        return Err(format!(
            "{} buckets (at most {MAX_POINT_BUCKETS})",
            p.bucket_counts.len()
        ));
    }
    if p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} bounds (one more count than bounds)",
            p.bucket_counts.len(),
            p.explicit_bounds.len()
        ));
    }
    let bounds: Vec<f64> = p.explicit_bounds.iter().map(|b| b * per_second).collect();
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return Err(format!("a bound is {b}"));
    }
    if bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("its bounds do not increase".to_owned());
    }
    Ok(Shape::Explicit(bounds, p.bucket_counts.clone()))
}

/// An exponential point's buckets as native buckets (Prometheus index = OTLP index + 1),
/// at its scale or, above [`MAX_SCHEMA`], merged down to it; buckets within the native
/// zero threshold join the zero bucket.
fn exponential_shape(
    p: &proto::ExponentialHistogramDataPoint,
    per_second: f64,
) -> Result<Shape, String> {
    if per_second != 1.0 {
        return Err("an exponential histogram must be in seconds".to_owned());
    }
    if !(MIN_SCHEMA..=20).contains(&p.scale) {
        return Err(format!(
            "scale {} is out of range ({MIN_SCHEMA}..=20)",
            p.scale
        ));
    }
    if !p.zero_threshold.is_finite() || p.zero_threshold < 0.0 {
        return Err(format!("zero threshold {}", p.zero_threshold));
    }
    if p.negative
        .as_ref()
        .is_some_and(|n| n.bucket_counts.iter().any(|&c| c > 0))
    {
        return Err("negative durations (its negative buckets are not empty)".to_owned());
    }
    let positive = p.positive.clone().unwrap_or_default();
    if positive.bucket_counts.len() > MAX_POINT_BUCKETS {
        return Err(format!(
            "{} buckets (at most {MAX_POINT_BUCKETS})",
            positive.bucket_counts.len()
        ));
    }
    let raw = NativeBuckets {
        schema: p.scale,
        zero_count: p.zero_count,
        offset: positive.offset.saturating_add(1),
        counts: positive.bucket_counts,
    };
    let mut b = raw.reduced_to(MAX_SCHEMA);
    // Fold buckets at or below the zero threshold; refuse those past 24 h.
    let mut first = 0;
    for (i, &n) in b.counts.iter().enumerate() {
        let index = b.offset.saturating_add(i as i32);
        if native_histogram::upper_bound(index, b.schema) <= ZERO_THRESHOLD {
            b.zero_count = b.zero_count.saturating_add(n);
            first = i + 1;
        } else if n > 0 && native_histogram::upper_bound(index - 1, b.schema) > MAX_SECONDS {
            return Err(format!("a bucket beyond {MAX_SECONDS} s"));
        }
    }
    if first > 0 {
        b.counts.drain(..first.min(b.counts.len()));
        b.offset = b.offset.saturating_add(first as i32);
    }
    Ok(Shape::Native(b))
}

/// The change since `last` of a cumulative stream, `None` when it started over (a count,
/// sum or bucket went down, or its bounds changed).
fn delta(last: &Last, count: u64, sum: f64, shape: &Shape) -> Option<(u64, f64, Shape)> {
    let d_count = count.checked_sub(last.count)?;
    let d_sum = sum - last.sum;
    if d_sum < -1e-9 * sum.abs().max(1.0) {
        return None;
    }
    let d_shape = match (&last.shape, shape) {
        (Shape::Native(a), Shape::Native(b)) => {
            let schema = a.schema.min(b.schema);
            let (a, b) = (a.reduced_to(schema), b.reduced_to(schema));
            let zero = b.zero_count.checked_sub(a.zero_count)?;
            let offset = if a.counts.is_empty() {
                b.offset
            } else {
                a.offset.min(b.offset)
            };
            let end = (a.offset + a.counts.len() as i32).max(b.offset + b.counts.len() as i32);
            let at = |h: &NativeBuckets, i: i32| -> u64 {
                usize::try_from(i - h.offset)
                    .ok()
                    .and_then(|k| h.counts.get(k))
                    .copied()
                    .unwrap_or(0)
            };
            let mut counts = Vec::with_capacity(usize::try_from(end - offset).unwrap_or(0));
            for i in offset..end {
                counts.push(at(&b, i).checked_sub(at(&a, i))?);
            }
            Shape::Native(NativeBuckets {
                schema,
                zero_count: zero,
                offset,
                counts,
            })
        }
        (Shape::Explicit(ba, ca), Shape::Explicit(bb, cb)) if ba == bb => {
            let counts = ca
                .iter()
                .zip(cb)
                .map(|(a, b)| b.checked_sub(*a))
                .collect::<Option<Vec<u64>>>()?;
            Shape::Explicit(bb.clone(), counts)
        }
        (Shape::Bare, Shape::Bare) => Shape::Bare,
        _ => return None,
    };
    Some((d_count, d_sum.max(0.0), d_shape))
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
    }))
}

#[cfg(test)]
mod tests;
