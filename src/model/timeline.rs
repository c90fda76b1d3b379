//! A service's run over time, kept in the exporter: per-interval figures in a bounded ring
//! that merges its oldest intervals when full (the data of the run report's charts).
//!
//! Two inputs fill it, each on the input's own clock (a recording replayed with `--once`
//! keeps its own times):
//! - **Requests** (events, OTLP): [`Timeline::record`] takes each endpoint's cumulative
//!   figures whenever the newest data is an interval past the last record, and keeps what
//!   happened since: requests, failures, time sums and the interval's own native buckets
//!   (the exact difference of two cumulative histograms), so an interval's percentiles are
//!   its own requests' at Locust's rank. The total's buckets are the sum of its endpoints'.
//! - **Locust's history rows** (`_stats_history.csv`): [`Timeline::history_row`] gathers a
//!   tick's rows into the interval they fall in; an interval keeps Locust's own current rates
//!   and percentiles as of its last tick (the CSV files carry no distribution), and the
//!   requests and failures its total counts grew by.
//!
//! ## Memory
//! At most `max_intervals` intervals ([`TimelineConfig`]); when the ring is full, its older
//! half is merged pair by pair (counts and buckets add up exactly, rates by time; the merged
//! interval spans both), so it covers any run length at a resolution that halves with age.
//! It also holds at most `max_bytes`: past it the older half is merged too, and when four
//! intervals are still too large the oldest keep only their totals. Both are counted
//! ([`Timeline::shape`]). An interval holds, per endpoint with requests in it, 96 bytes and
//! about 2 per occupied bucket (packed varints); the previous cumulative buckets of each event
//! endpoint (as packed, and 96 bytes) are kept to take the next difference.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::config::FastHash;
pub use super::config::TimelineConfig;
use super::native_histogram::{downscale, upper_bound, NativeHistogram};
use super::percentile::locust_rank;
use super::update::{HistoryRow, AGGREGATED};
use prost::encoding::{decode_varint, encode_varint};

/// An endpoint's key: (method, name); the total is (`""`, `Aggregated`).
pub type Key = (Arc<str>, Arc<str>);

/// The quantiles an interval is drawn at: p50, p95, p99.
pub const QUANTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// What a timeline is like, for the report and the self-metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimelineShape {
    /// Seconds of input time per interval (0: none kept).
    pub interval_secs: f64,
    /// Times the older half was merged (ring full, or over its bytes).
    pub merges: u64,
    /// Times an old interval was cut to its totals (still over its bytes).
    pub trimmed: u64,
    /// Bytes held ([`Timeline::footprint_bytes`]).
    pub bytes: usize,
}

/// Sparse native buckets at `schema` and the zero bucket, held packed: each occupied bucket
/// as two protobuf varints (its index's zigzagged step from the previous one, its count),
/// about 2 bytes a bucket instead of 16.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sparse {
    /// Schema of the buckets.
    pub schema: i32,
    /// Observations at or below the zero threshold.
    pub zero_count: u64,
    packed: Box<[u8]>,
}

impl Sparse {
    /// `buckets` (`(index, count)`, ascending) at `schema`, with `zero_count`.
    pub fn new(schema: i32, zero_count: u64, buckets: &[(i32, u64)]) -> Sparse {
        let mut packed = Vec::with_capacity(buckets.len() * 3);
        let mut prev = 0i64;
        for &(index, n) in buckets {
            let step = i64::from(index) - prev;
            prev = i64::from(index);
            encode_varint(((step << 1) ^ (step >> 63)) as u64, &mut packed);
            encode_varint(n, &mut packed);
        }
        Sparse {
            schema,
            zero_count,
            packed: packed.into_boxed_slice(),
        }
    }

    fn of(h: &NativeHistogram) -> Sparse {
        let buckets: Vec<(i32, u64)> = h.occupied().collect();
        Sparse::new(h.schema(), h.zero_count(), &buckets)
    }

    /// The occupied buckets `(index, count)`, ascending.
    pub fn buckets(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        let (mut rest, mut prev): (&[u8], i64) = (&self.packed, 0);
        std::iter::from_fn(move || {
            let z = decode_varint(&mut rest).ok()?;
            let n = decode_varint(&mut rest).ok()?;
            prev += ((z >> 1) as i64) ^ -((z & 1) as i64);
            Some((i32::try_from(prev).ok()?, n))
        })
    }

    /// Bytes the packed buckets take.
    pub fn packed_bytes(&self) -> usize {
        self.packed.len()
    }

    /// Observations held, the zero bucket's included.
    pub fn count(&self) -> u64 {
        self.buckets()
            .fold(self.zero_count, |n, (_, c)| n.saturating_add(c))
    }

    /// These buckets at `schema` (≤ their own), merged exactly.
    fn reduced(&self, schema: i32) -> Vec<(i32, u64)> {
        if schema >= self.schema {
            return self.buckets().collect();
        }
        let mut out: Vec<(i32, u64)> = Vec::with_capacity(self.packed.len() / 2);
        for (index, n) in self.buckets() {
            let i = downscale(index, self.schema, schema);
            match out.last_mut() {
                Some(last) if last.0 == i => last.1 = last.1.saturating_add(n),
                _ => out.push((i, n)),
            }
        }
        out
    }

    /// Adds `other` to these buckets, exactly (the coarser schema of the two wins).
    fn add(&mut self, other: &Sparse) {
        let schema = if self.packed.is_empty() && self.zero_count == 0 {
            other.schema
        } else {
            self.schema.min(other.schema)
        };
        let (a, b) = (self.reduced(schema), other.reduced(schema));
        *self = Sparse::new(
            schema,
            self.zero_count.saturating_add(other.zero_count),
            &combine(&a, &b, |x, y| x.saturating_add(y)),
        );
    }

    /// The response time at quantile `q`, ms: Locust's rank (`⌊n·q⌋ + 1`) in these buckets,
    /// the middle of the bucket holding it; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = locust_rank(n, q);
        if rank <= self.zero_count {
            return Some(0.0);
        }
        let mut seen = self.zero_count;
        let mut index = None;
        for (i, c) in self.buckets() {
            index = Some(i);
            seen = seen.saturating_add(c);
            if seen >= rank {
                break;
            }
        }
        let index = index?;
        let (lo, hi) = (
            upper_bound(index - 1, self.schema),
            upper_bound(index, self.schema),
        );
        Some((lo + hi) / 2.0 * 1000.0)
    }
}

/// The union of two ascending sparse lists, `f` joining a bucket both have.
fn combine(a: &[(i32, u64)], b: &[(i32, u64)], f: impl Fn(u64, u64) -> u64) -> Vec<(i32, u64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(x, n)), Some(&(y, m))) if x == y => {
                out.push((x, f(n, m)));
                i += 1;
                j += 1;
            }
            (Some(&(x, n)), Some(&(y, _))) if x < y => {
                out.push((x, f(n, 0)));
                i += 1;
            }
            (Some(&(x, n)), None) => {
                out.push((x, f(n, 0)));
                i += 1;
            }
            (_, Some(&(y, m))) => {
                out.push((y, f(0, m)));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out.retain(|&(_, n)| n > 0);
    out
}

/// What Locust itself reported of an interval (CSV history): its current rates and
/// percentiles at the interval's end.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reported {
    /// Requests/s and failures/s.
    pub rates: (f64, f64),
    /// p50, p95, p99 (ms), when the row had them.
    pub percentiles: Option<[f64; 3]>,
}

/// One endpoint's figures over one interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Slice {
    /// Requests made in the interval, failed ones included.
    pub requests: u64,
    /// Failed requests in the interval.
    pub failures: u64,
    /// Locust's own figures (CSV history), boxed: request slices have none.
    pub reported: Option<Box<Reported>>,
    /// The interval's timed requests by native bucket (requests).
    pub histogram: Option<Sparse>,
}

impl Slice {
    /// The interval's response time at [`QUANTILES`]`[i]`, ms: from its own buckets, or
    /// Locust's own figure for CSV input; `None` with neither.
    pub fn quantile_ms(&self, i: usize) -> Option<f64> {
        match &self.histogram {
            Some(h) => h.quantile_ms(*QUANTILES.get(i)?),
            None => self
                .reported
                .as_ref()
                .and_then(|r| r.percentiles)
                .and_then(|l| l.get(i).copied()),
        }
    }

    /// Requests and failures per second over `seconds`: Locust's own rates where the input
    /// gave them, else the interval's counts over its length.
    pub fn rates(&self, seconds: f64) -> Option<(f64, f64)> {
        self.reported.as_ref().map(|r| r.rates).or_else(|| {
            (seconds > 0.0).then(|| {
                (
                    self.requests as f64 / seconds,
                    self.failures as f64 / seconds,
                )
            })
        })
    }

    /// Adds `later` (the next interval of the same endpoint; `a` and `b` the two lengths in
    /// seconds) to this one: counts exactly, Locust's rates weighted by time, its
    /// percentiles the later ones.
    fn merge(&mut self, later: &Slice, a: f64, b: f64) {
        self.requests = self.requests.saturating_add(later.requests);
        self.failures = self.failures.saturating_add(later.failures);
        self.reported = match (self.reported.take(), &later.reported) {
            (Some(mine), Some(theirs)) if a + b > 0.0 => {
                let ((r1, f1), (r2, f2)) = (mine.rates, theirs.rates);
                Some(Box::new(Reported {
                    rates: ((r1 * a + r2 * b) / (a + b), (f1 * a + f2 * b) / (a + b)),
                    percentiles: theirs.percentiles.or(mine.percentiles),
                }))
            }
            (mine, theirs) => theirs.clone().or(mine),
        };
        match (&mut self.histogram, &later.histogram) {
            (Some(h), Some(l)) => h.add(l),
            (None, Some(l)) => self.histogram = Some(l.clone()),
            _ => {}
        }
    }

    fn footprint_bytes(&self) -> usize {
        std::mem::size_of::<(Key, Slice)>()
            + self
                .reported
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<Reported>())
            + self.histogram.as_ref().map_or(0, Sparse::packed_bytes)
    }
}

/// One interval of a service's run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interval {
    /// Unix seconds on the input's clock: the previous interval's end (or the run's start).
    pub start: f64,
    /// Unix seconds on the input's clock.
    pub end: f64,
    /// Running users at the end, where known.
    pub users: Option<u64>,
    /// Endpoints with requests in the interval, sorted by key; the total among them.
    pub slices: Vec<(Key, Slice)>,
}

impl Interval {
    /// The slice of `key`, if it had requests in the interval.
    pub fn slice(&self, key: &Key) -> Option<&Slice> {
        self.slices
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .and_then(|i| self.slices.get(i))
            .map(|(_, s)| s)
    }

    fn slice_mut(&mut self, key: &Key) -> &mut Slice {
        let i = match self.slices.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => i,
            Err(i) => {
                self.slices.insert(i, (key.clone(), Slice::default()));
                i
            }
        };
        &mut self.slices[i].1
    }

    /// Adds the next interval into this one.
    fn merge(&mut self, next: &Interval) {
        let (a, b) = (self.end - self.start, next.end - next.start);
        self.end = next.end;
        self.users = next.users.or(self.users);
        for (key, slice) in &next.slices {
            self.slice_mut(key).merge(slice, a, b);
        }
    }

    /// Bytes the interval holds.
    pub fn footprint_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .slices
                .iter()
                .map(|(_, s)| s.footprint_bytes())
                .sum::<usize>()
    }
}

/// One endpoint's cumulative figures, as [`Timeline::record`] reads them.
#[derive(Debug, Clone, Copy)]
pub struct Cumulative<'a> {
    /// Requests so far.
    pub requests: u64,
    /// Failures so far.
    pub failures: u64,
    /// The endpoint's histogram.
    pub native: &'a NativeHistogram,
}

/// What the previous record saw of an endpoint.
#[derive(Debug, Clone, Default)]
struct Seen {
    requests: u64,
    failures: u64,
    histogram: Sparse,
}

/// A service's run over time (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    config: TimelineConfig,
    intervals: VecDeque<Arc<Interval>>,
    bytes: usize,
    seen: HashMap<Key, Seen, FastHash>,
    /// Bytes `seen`'s packed buckets take (kept as they change, not walked per snapshot).
    seen_bytes: usize,
    /// The end of the last interval, input clock.
    last: Option<f64>,
    /// Locust's history ticks gathering into the next interval.
    pending: Option<Interval>,
    merges: u64,
    trimmed: u64,
}

/// The total's key.
pub fn total_key() -> Key {
    (Arc::from(""), Arc::from(AGGREGATED))
}

impl Timeline {
    /// An empty timeline sized by `config`.
    pub fn new(config: TimelineConfig) -> Self {
        Timeline {
            config: TimelineConfig {
                max_intervals: config.max_intervals.max(4),
                ..config
            },
            ..Timeline::default()
        }
    }

    /// Whether it keeps anything (`--report.interval` is not 0).
    pub fn enabled(&self) -> bool {
        self.config.interval_secs > 0.0
    }

    /// The intervals, oldest first; the one Locust's history is still gathering last.
    pub fn intervals(&self) -> Vec<Arc<Interval>> {
        let mut out: Vec<Arc<Interval>> = self.intervals.iter().cloned().collect();
        if let Some(p) = &self.pending {
            out.push(Arc::new(p.clone()));
        }
        out
    }

    /// Its interval, budgets bitten and bytes held.
    pub fn shape(&self) -> TimelineShape {
        TimelineShape {
            interval_secs: self.config.interval_secs,
            merges: self.merges,
            trimmed: self.trimmed,
            bytes: self.footprint_bytes(),
        }
    }

    /// True when data up to `at` (input clock) closes an interval: `at` is an interval past
    /// the last record (or the run's start `start`).
    pub fn due(&self, start: f64, at: f64) -> bool {
        self.pending.is_none() && at >= self.next_due(start)
    }

    /// The input time the next interval ends at (infinite when nothing is kept; the run's
    /// start is `start`).
    pub fn next_due(&self, start: f64) -> f64 {
        if self.enabled() {
            self.last.unwrap_or(start) + self.config.interval_secs
        } else {
            f64::INFINITY
        }
    }

    /// Records what the endpoints `rows` did since the previous record, as the interval
    /// ending at `end` (input clock; the first starts at `start`). An endpoint whose counts
    /// went down started over: its interval counts from zero.
    pub fn record<'a>(
        &mut self,
        start: f64,
        end: f64,
        users: Option<u64>,
        rows: impl Iterator<Item = (Key, Cumulative<'a>)>,
    ) {
        if !self.enabled() {
            return;
        }
        let start = self.last.unwrap_or(start).min(end);
        let mut slices = Vec::new();
        let mut total = Slice::default();
        for (key, now) in rows {
            let seen = self.seen.entry(key.clone()).or_default();
            if now.requests == seen.requests && now.failures == seen.failures {
                continue;
            }
            let old_bytes = seen.histogram.packed_bytes();
            if now.requests < seen.requests || now.failures < seen.failures {
                *seen = Seen::default();
            }
            let histogram = Sparse::of(now.native);
            let schema = if seen.requests == 0 {
                histogram.schema
            } else {
                histogram.schema.min(seen.histogram.schema)
            };
            let (a, b) = (histogram.reduced(schema), seen.histogram.reduced(schema));
            let grown = Sparse::new(
                schema,
                histogram
                    .zero_count
                    .saturating_sub(seen.histogram.zero_count),
                &combine(&a, &b, u64::saturating_sub),
            );
            let slice = Slice {
                requests: now.requests - seen.requests,
                failures: now.failures.saturating_sub(seen.failures),
                histogram: Some(grown),
                ..Slice::default()
            };
            self.seen_bytes = self.seen_bytes - old_bytes + histogram.packed_bytes();
            *seen = Seen {
                requests: now.requests,
                failures: now.failures,
                histogram,
            };
            total.merge(&slice, 0.0, 0.0);
            slices.push((key, slice));
        }
        if total.requests > 0 {
            slices.push((total_key(), total));
        }
        if slices.is_empty() && end <= start {
            return; // nothing new since an interval that ended here
        }
        slices.sort_by(|a, b| a.0.cmp(&b.0));
        self.push(Interval {
            start,
            end,
            users,
            slices,
        });
    }

    /// One row of Locust's `_stats_history.csv` (`key` its endpoint, the total's
    /// [`total_key`]): gathered into the interval its tick falls in.
    pub fn history_row(&mut self, key: Key, row: &HistoryRow) {
        if !self.enabled() {
            return;
        }
        let at = row.timestamp;
        if let Some(p) = &self.pending {
            if at > p.end && p.end >= p.start + self.config.interval_secs {
                self.flush();
            }
        }
        let start = self.last.unwrap_or(at).min(at);
        let pending = self.pending.get_or_insert_with(|| Interval {
            start,
            end: at,
            ..Interval::default()
        });
        pending.end = pending.end.max(at);
        pending.users = Some(row.user_count);
        let seen = self.seen.entry(key.clone()).or_default();
        let (requests, failures) = match (row.total_requests, row.total_failures) {
            (Some(r), f) => {
                if r < seen.requests {
                    *seen = Seen::default();
                }
                let grown = (
                    r - seen.requests,
                    f.map_or(0, |f| f.saturating_sub(seen.failures)),
                );
                seen.requests = r;
                seen.failures = f.unwrap_or(seen.failures);
                grown
            }
            (None, _) => (0, 0),
        };
        let slice = pending.slice_mut(&key);
        slice.requests = slice.requests.saturating_add(requests);
        slice.failures = slice.failures.saturating_add(failures);
        let at_q = |q: f64| {
            row.percentiles
                .iter()
                .find(|(k, _)| (k - q).abs() < 1e-9)
                .map(|&(_, ms)| ms)
        };
        let percentiles = match QUANTILES.map(at_q) {
            [Some(a), Some(b), Some(c)] => Some([a, b, c]),
            _ => slice.reported.as_ref().and_then(|r| r.percentiles),
        };
        slice.reported = Some(Box::new(Reported {
            rates: (row.current_rps, row.current_fail_per_sec),
            percentiles,
        }));
    }

    /// Closes the interval Locust's history is gathering, if any.
    pub fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.push(p);
        }
    }

    /// Locust's history started over (a new run with the same files): forget the old run.
    pub fn reset(&mut self) {
        *self = Timeline::new(self.config);
    }

    fn push(&mut self, interval: Interval) {
        self.last = Some(interval.end);
        self.bytes += interval.footprint_bytes();
        self.intervals.push_back(Arc::new(interval));
        while self.intervals.len() > self.config.max_intervals
            || (self.bytes > self.config.max_bytes && self.intervals.len() > 4)
        {
            self.merge_older_half();
        }
        let total = total_key();
        let mut i = 0;
        while self.bytes > self.config.max_bytes && i < self.intervals.len() {
            if let Some(iv) = self.intervals.get_mut(i) {
                let iv = Arc::make_mut(iv);
                let before = iv.footprint_bytes();
                iv.slices.retain(|(k, _)| *k == total);
                self.bytes = self.bytes - before + iv.footprint_bytes();
                self.trimmed += 1;
            }
            i += 1;
        }
    }

    /// Merges the older half of the ring pair by pair.
    fn merge_older_half(&mut self) {
        self.merges += 1;
        let half = self.intervals.len() / 2;
        let mut merged: VecDeque<Arc<Interval>> = VecDeque::with_capacity(self.intervals.len());
        let mut older = self.intervals.drain(..half).collect::<Vec<_>>().into_iter();
        while let Some(mut a) = older.next() {
            if let Some(b) = older.next() {
                Arc::make_mut(&mut a).merge(&b);
            }
            merged.push_back(a);
        }
        merged.extend(self.intervals.drain(..));
        self.intervals = merged;
        self.bytes = self.intervals.iter().map(|i| i.footprint_bytes()).sum();
    }

    /// Bytes the timeline holds: the intervals and the previous cumulative figures.
    pub fn footprint_bytes(&self) -> usize {
        self.bytes + self.seen.len() * std::mem::size_of::<(Key, Seen)>() + self.seen_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(times_ms: &[f64]) -> NativeHistogram {
        let mut h = NativeHistogram::default();
        for t in times_ms {
            h.observe(t / 1000.0);
        }
        h
    }

    fn key(name: &str) -> Key {
        (Arc::from("GET"), Arc::from(name))
    }

    fn record(t: &mut Timeline, end: f64, users: u64, rows: &[(&str, &[f64], u64)]) {
        let hs: Vec<NativeHistogram> = rows.iter().map(|r| hist(r.1)).collect();
        t.record(
            100.0,
            end,
            Some(users),
            rows.iter().zip(&hs).map(|(r, h)| {
                (
                    key(r.0),
                    Cumulative {
                        requests: r.1.len() as u64,
                        failures: r.2,
                        native: h,
                    },
                )
            }),
        );
    }

    fn config(max_intervals: usize) -> TimelineConfig {
        TimelineConfig {
            interval_secs: 5.0,
            max_intervals,
            max_bytes: TimelineConfig::default().max_bytes,
        }
    }

    #[test]
    fn intervals_hold_their_own_requests_and_percentiles() {
        let mut t = Timeline::new(config(16));
        assert!(!t.due(100.0, 104.0) && t.due(100.0, 105.0));
        let first: Vec<f64> = (0..100).map(|i| 10.0 + i as f64 * 0.1).collect();
        record(&mut t, 105.0, 5, &[("/a", &first, 1)]);
        assert!(!t.due(100.0, 109.0) && t.due(100.0, 110.0));
        // The next interval: 100 slow requests more (cumulative, as the endpoint holds).
        let mut both = first.clone();
        both.extend((0..100).map(|i| 500.0 + i as f64));
        record(&mut t, 110.0, 7, &[("/a", &both, 3)]);
        let iv = t.intervals();
        let (one, two) = (&iv[0], &iv[1]);
        assert_eq!(
            (one.start, one.end, two.start, two.end),
            (100.0, 105.0, 105.0, 110.0)
        );
        let (a, b) = (
            one.slice(&key("/a")).unwrap(),
            two.slice(&key("/a")).unwrap(),
        );
        assert_eq!(
            (a.requests, a.failures, b.requests, b.failures),
            (100, 1, 100, 2)
        );
        assert_eq!(two.users, Some(7));
        assert_eq!(b.rates(5.0), Some((20.0, 0.4)));
        // Each interval's median is its own requests' (within half a schema-6 bucket).
        let near = |got: Option<f64>, want: f64| ((got.unwrap() - want) / want).abs() < 0.006;
        assert!(near(a.quantile_ms(0), 15.0), "{:?}", a.quantile_ms(0));
        assert!(near(b.quantile_ms(0), 550.0), "{:?}", b.quantile_ms(0));
        // The total is the sum of its endpoints.
        let total = two.slice(&total_key()).unwrap();
        assert_eq!((total.requests, total.failures), (100, 2));
        // No request, no slice.
        record(&mut t, 115.0, 7, &[("/a", &both, 3)]);
        assert!(t.intervals()[2].slices.is_empty());
    }

    #[test]
    fn a_full_ring_merges_its_older_half_exactly() {
        let mut t = Timeline::new(config(8));
        let mut times = Vec::new();
        for k in 0..40 {
            times.extend((0..10).map(|i| 1.0 + (k * 10 + i) as f64));
            record(&mut t, 101.0 + k as f64, 1, &[("/a", &times, 0)]);
        }
        let iv = t.intervals();
        assert!(iv.len() <= 8, "{}", iv.len());
        assert!(t.shape().merges > 0);
        let requests: u64 = iv
            .iter()
            .filter_map(|i| i.slice(&key("/a")))
            .map(|s| s.requests)
            .sum();
        assert_eq!(requests, 400, "nothing lost in merges");
        let counted: u64 = iv
            .iter()
            .filter_map(|i| i.slice(&key("/a")))
            .map(|s| s.histogram.as_ref().map_or(0, Sparse::count))
            .sum();
        assert_eq!(counted, 400, "every request in some interval's buckets");
        // Contiguous, oldest first, covering the whole run.
        assert_eq!(iv[0].start, 100.0);
        assert_eq!(iv[iv.len() - 1].end, 140.0);
        assert!(iv
            .iter()
            .zip(iv.iter().skip(1))
            .all(|(a, b)| a.end == b.start));
    }

    #[test]
    fn a_byte_budget_merges_then_keeps_totals_only() {
        let mut t = Timeline::new(TimelineConfig {
            max_bytes: 4096,
            ..config(1000)
        });
        let names: Vec<String> = (0..20).map(|i| format!("/e{i}")).collect();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        for k in 0..30 {
            for (i, ts) in times.iter_mut().enumerate() {
                ts.push(1.0 + (k * 20 + i) as f64);
            }
            let rows: Vec<(&str, &[f64], u64)> = names
                .iter()
                .zip(&times)
                .map(|(n, ts)| (n.as_str(), ts.as_slice(), 0))
                .collect();
            record(&mut t, 101.0 + k as f64, 1, &rows);
        }
        let TimelineShape {
            merges, trimmed, ..
        } = t.shape();
        assert!(merges > 0 && trimmed > 0, "{merges} {trimmed}");
        // Within the budget, or down to the totals everywhere (never cut).
        let iv = t.intervals();
        assert!(
            t.bytes <= 4096 || iv.iter().all(|i| i.slices.len() <= 1),
            "{}",
            t.bytes
        );
        assert!(
            iv.iter().any(|i| i.slices.len() == 1),
            "the oldest were cut"
        );
        let total: u64 = t
            .intervals()
            .iter()
            .filter_map(|i| i.slice(&total_key()))
            .map(|s| s.requests)
            .sum();
        assert_eq!(total, 600, "the totals are never cut");
    }

    #[test]
    fn history_rows_gather_into_intervals_with_locusts_own_figures() {
        let mut t = Timeline::new(config(16));
        let row = |ts: f64, name: &str, rps: f64, requests: u64, p50: f64| HistoryRow {
            timestamp: ts,
            user_count: 3,
            method: Arc::from(if name == AGGREGATED { "" } else { "GET" }),
            name: Arc::from(name),
            current_rps: rps,
            current_fail_per_sec: 0.5,
            percentiles: vec![(0.5, p50), (0.95, p50 * 2.0), (0.99, p50 * 3.0)],
            total_requests: Some(requests),
            total_failures: Some(requests / 10),
            whole_run: false,
        };
        for (k, ts) in (0..12).map(|k| (k, 1000.0 + k as f64)) {
            t.history_row(key("/a"), &row(ts, "/a", 2.0, k * 2, 10.0));
            t.history_row(
                total_key(),
                &row(ts, AGGREGATED, 4.0, k * 4, 20.0 + k as f64),
            );
        }
        let iv = t.intervals();
        // Ticks 1000…1005, 1005…1010 (ticks 1006 to 1010), and 1010…1011 still gathering.
        assert_eq!(iv.len(), 3, "{iv:?}");
        assert_eq!(
            (iv[1].start, iv[1].end, iv[2].end),
            (1005.0, 1010.0, 1011.0)
        );
        let total = iv[1].slice(&total_key()).unwrap();
        assert_eq!(total.requests, 40 - 20);
        assert_eq!(total.failures, 4 - 2);
        assert_eq!(total.rates(5.0), Some((4.0, 0.5)));
        assert_eq!(total.quantile_ms(0), Some(30.0), "the last tick's");
        let all: u64 = iv
            .iter()
            .filter_map(|i| i.slice(&total_key()))
            .map(|s| s.requests)
            .sum();
        assert_eq!(all, 44);
    }

    #[test]
    fn a_reset_counts_from_zero_and_merging_schemas_reduces_exactly() {
        let mut t = Timeline::new(config(8));
        record(&mut t, 105.0, 1, &[("/a", &[5.0; 10], 0)]);
        record(&mut t, 110.0, 1, &[("/a", &[5.0; 3], 0)]);
        assert_eq!(t.intervals()[1].slice(&key("/a")).unwrap().requests, 3);
        let mut a = Sparse::new(6, 1, &[(-401, 1), (-400, 1)]);
        a.add(&Sparse::new(5, 0, &[(-200, 2)]));
        // -401 and -400 at schema 6 are -200 at schema 5.
        let buckets: Vec<(i32, u64)> = a.buckets().collect();
        assert_eq!((a.schema, buckets, a.count()), (5, vec![(-200, 4)], 5));
    }

    #[test]
    fn packed_buckets_read_back_exactly() {
        let buckets = vec![
            (i32::MIN + 1, 1),
            (-900, u64::MAX),
            (-899, 0x80),
            (0, 1),
            (7, 300),
            (i32::MAX, 2),
        ];
        let s = Sparse::new(6, 3, &buckets);
        assert_eq!(s.buckets().collect::<Vec<_>>(), buckets);
        assert_eq!(Sparse::new(6, 0, &[]).buckets().count(), 0);
        // A typical interval: 12 neighbouring buckets of small counts, 2 bytes each (the
        // first index 3).
        let typical: Vec<(i32, u64)> = (0..12).map(|k| (-850 + 3 * k, 1 + k as u64)).collect();
        assert_eq!(Sparse::new(6, 0, &typical).packed_bytes(), 25);
    }
}
