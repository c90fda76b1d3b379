//! A metrics export request → updates: `locust.client.duration` points (explicit or
//! exponential, delta or cumulative) as request batches, `locust.users.count` as the user
//! count; every other metric read and ignored.

use super::attributes::{attribute, attributes_key};
use super::export::Export;
use super::proto::{self, KeyValue};
use super::receiving::{Receiving, RequestsFrom, MAX_STREAMS, MAX_STREAM_BYTES};
use super::shape::{delta, explicit_shape, exponential_shape, Last, Shape, MAX_SECONDS};
use crate::model::exemplar::{Exemplar, TraceRef};
use crate::model::native_histogram;
use crate::model::update::{RequestBatch, Update};

/// The duration histogram of `locust --otel`.
pub const DURATION_METRIC: &str = "locust.client.duration";

/// The user gauge of `locust --otel` (master or standalone only).
pub const USERS_METRIC: &str = "locust.users.count";

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
            exemplars: p.exemplars(),
            per_second: self.per_second,
        }
    }
}

/// The fields explicit and exponential histogram points share.
trait HistogramPoint {
    fn attributes(&self) -> &[KeyValue];
    fn times_and_count(&self) -> (u64, u64, u64);
    fn sum_min_max(&self) -> (Option<f64>, Option<f64>, Option<f64>);
    fn exemplars(&self) -> &[proto::Exemplar];
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
    fn exemplars(&self) -> &[proto::Exemplar] {
        &self.exemplars
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
    fn exemplars(&self) -> &[proto::Exemplar] {
        &self.exemplars
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
    /// Measurements made while a span was active (the SDK's trace-based exemplars).
    exemplars: &'a [proto::Exemplar],
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

    /// The point's exemplars with valid ids and a time in range, in seconds; the others
    /// (which say nothing a trace view could open) are left out, the point still counted.
    fn traced(&self) -> Vec<Exemplar> {
        self.exemplars
            .iter()
            .filter_map(|e| {
                let trace = TraceRef::from_bytes(&e.trace_id, &e.span_id)?;
                let v = e.as_double.or(e.as_int.map(|i| i as f64))?;
                let seconds = v * self.per_second;
                let valid = seconds.is_finite()
                    && seconds >= 0.0
                    && seconds * 1000.0 <= crate::parse::MAX_RESPONSE_TIME_MS;
                valid.then(|| Exemplar {
                    trace,
                    seconds,
                    time: e.time_unix_nano as f64 / 1e9,
                })
            })
            .collect()
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
            exemplars: self.traced(),
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

/// Maps a metrics export request: each service's duration points and user counts.
pub(super) fn map(r: &mut Receiving, req: proto::ExportMetricsServiceRequest) -> Export {
    use proto::MetricData;
    let mut out = Export::default();
    for rm in req.resource_metrics {
        let service = r.service(rm.resource.as_ref());
        let resource_key = rm
            .resource
            .as_ref()
            .map(|r| attributes_key(&r.attributes))
            .unwrap_or_default();
        let mut users: Option<(u64, f64)> = None;
        let durations_read = r.options.requests_from == RequestsFrom::Metrics;
        // The points this service would be fed: refused whole past --otlp.max-services.
        let mapped: u64 = rm
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .filter_map(|m| match &m.data {
                Some(MetricData::Histogram(h)) if m.name == DURATION_METRIC && durations_read => {
                    Some(h.data_points.len())
                }
                Some(MetricData::ExponentialHistogram(h))
                    if m.name == DURATION_METRIC && durations_read =>
                {
                    Some(h.data_points.len())
                }
                Some(MetricData::Gauge(g)) if m.name == USERS_METRIC => Some(g.data_points.len()),
                Some(MetricData::Sum(g)) if m.name == USERS_METRIC => Some(g.data_points.len()),
                _ => None,
            })
            .sum::<usize>() as u64;
        if mapped > 0 && !r.admit(&service) {
            let why = r.too_many_services(&service);
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
                        histogram(r, &mut out, stream.point(&p), shape);
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
                        histogram(r, &mut out, stream.point(&p), shape);
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
fn histogram(r: &mut Receiving, out: &mut Export, p: Point<'_>, shape: Result<Shape, String>) {
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
        let last = r.streams.get(&key);
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
        if last.is_none() && r.streams.len() >= MAX_STREAMS {
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
            seen: r.now,
        };
        let (was, will) = (last.map_or(0, |l| l.footprint(&key)), next.footprint(&key));
        let bytes = r.stream_bytes.saturating_sub(was) + will;
        if will > was && bytes > MAX_STREAM_BYTES {
            // Kept as it was, but alive: its next point counts from the last one kept.
            if let Some(l) = r.streams.get_mut(&key) {
                l.seen = r.now;
            }
            return out.reject(format!(
                "{}: the cumulative streams would hold more than {MAX_STREAM_BYTES} bytes",
                p.describe()
            ));
        }
        r.stream_bytes = bytes;
        r.streams.insert(key, next);
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
    let (time, clamped) = r.clamp_time(batch.time);
    if clamped {
        batch.time = time;
        batch.start = None;
        out.of(p.service).clamped += 1;
    }
    // An exemplar is of a request of the point's period (or an earlier one): never later.
    for e in &mut batch.exemplars {
        e.time = e.time.min(batch.time);
    }
    out.push(p.service, Update::Requests(Box::new(batch)));
}
