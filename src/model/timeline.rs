//! A service's run over time, kept in the exporter: per-interval figures in a bounded ring
//! that merges its oldest intervals when full: the data of a report of the run over time.
//!
//! Each [`Timeline::record`] takes a service's snapshot and keeps what happened since the
//! previous one: per endpoint and for the total, the requests, failures and time sum of the
//! interval and, for event-fed endpoints, the native-histogram buckets of the interval's
//! requests (the difference of two cumulative histograms, exact), so an interval's
//! percentiles are its own requests'. CSV-fed endpoints have no distribution: their interval
//! keeps Locust's current percentiles of the total as the snapshot serves them.
//!
//! ## Memory
//! At most `capacity` intervals. When the ring is full, its older half is merged pair by
//! pair (counts and buckets add up exactly; the merged interval spans both), so the ring
//! covers any run length at a resolution that halves with age. An interval holds, per
//! endpoint with requests in it, 64 bytes and 12 bytes per occupied bucket; the previous
//! cumulative histogram of each endpoint is kept to take the next difference.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::config::FastHash;
use super::native_histogram::{downscale, NativeBuckets};
use super::snapshot::ServiceSnapshot;
use super::update::{EndpointStats, AGGREGATED};

/// An endpoint's key: (method, name); the total is (`""`, `Aggregated`).
pub type Key = (Arc<str>, Arc<str>);

/// One endpoint's figures over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Requests made in the interval, failed ones included.
    pub requests: u64,
    /// Failed requests in the interval.
    pub failures: u64,
    /// Sum of the interval's response times, ms.
    pub sum_ms: f64,
    /// The interval's timed requests by native bucket `(index, count)` at `schema`,
    /// ascending; empty for CSV-fed endpoints.
    pub buckets: Vec<(i32, u64)>,
    /// Requests at or below the native zero threshold.
    pub zero_count: u64,
    /// Schema of `buckets`.
    pub schema: i32,
    /// Locust's own percentiles as served at the interval's end (CSV input), `(q, ms)`.
    pub locust: Vec<(f64, f64)>,
}

impl Slice {
    /// The response time at quantile `q` of the interval's requests, ms, at Locust's rank
    /// (`⌊n·q⌋ + 1`), the middle of its native bucket; Locust's own figure for CSV input;
    /// `None` when the interval has no distribution.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.buckets.is_empty() && self.zero_count == 0 {
            return self
                .locust
                .iter()
                .find(|(k, _)| (k - q).abs() < 1e-9)
                .map(|&(_, ms)| ms);
        }
        let n: u64 = self.zero_count + self.buckets.iter().map(|(_, c)| c).sum::<u64>();
        let rank = ((n as f64 * q) as u64 + 1).min(n);
        if rank <= self.zero_count {
            return Some(0.0);
        }
        let mut seen = self.zero_count;
        for &(index, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                let width = (-f64::from(self.schema)).exp2();
                let (lo, hi) = ((f64::from(index) - 1.0) * width, f64::from(index) * width);
                return Some((lo.exp2() + hi.exp2()) / 2.0 * 1000.0);
            }
        }
        None
    }

    /// Adds `other` (an adjacent interval of the same endpoint) to this one, exactly.
    fn merge(&mut self, other: &Slice) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.sum_ms += other.sum_ms;
        self.zero_count += other.zero_count;
        if self.schema != other.schema || self.buckets.is_empty() {
            let schema = self.schema.min(other.schema);
            if self.buckets.is_empty() {
                self.schema = other.schema;
            } else if schema != self.schema {
                self.buckets = reduce(&self.buckets, self.schema, schema);
                self.schema = schema;
            }
        }
        let theirs = reduce(&other.buckets, other.schema, self.schema);
        let mut merged = Vec::with_capacity(self.buckets.len() + theirs.len());
        let (mut a, mut b) = (self.buckets.iter().peekable(), theirs.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(i, n)), Some(&&(j, m))) if i == j => {
                    merged.push((i, n + m));
                    a.next();
                    b.next();
                }
                (Some(&&(i, n)), Some(&&(j, _))) if i < j => {
                    merged.push((i, n));
                    a.next();
                }
                (_, Some(&&(j, m))) => {
                    merged.push((j, m));
                    b.next();
                }
                (Some(&&(i, n)), None) => {
                    merged.push((i, n));
                    a.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = merged;
        // The later interval's view of Locust's figures.
        if !other.locust.is_empty() {
            self.locust = other.locust.clone();
        }
    }
}

/// Sparse buckets at `from` reduced to the coarser `to`, exactly.
fn reduce(buckets: &[(i32, u64)], from: i32, to: i32) -> Vec<(i32, u64)> {
    if to >= from {
        return buckets.to_vec();
    }
    let mut out: Vec<(i32, u64)> = Vec::with_capacity(buckets.len());
    for &(index, n) in buckets {
        let i = downscale(index, from, to);
        match out.last_mut() {
            Some(last) if last.0 == i => last.1 += n,
            _ => out.push((i, n)),
        }
    }
    out
}

/// One interval of a service's run.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Unix seconds: the previous record's time (or the run's start) and this one's.
    pub start: f64,
    /// Unix seconds.
    pub end: f64,
    /// Running users at the end, where known.
    pub users: Option<u64>,
    /// Endpoints with requests in the interval, by key; the total among them.
    pub slices: Vec<(Key, Slice)>,
}

impl Interval {
    /// The slice of `key`, if it had requests in the interval.
    pub fn slice(&self, key: &Key) -> Option<&Slice> {
        self.slices
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| &self.slices[i].1)
    }

    /// Adds the next interval into this one.
    fn merge(&mut self, next: &Interval) {
        self.end = next.end;
        self.users = next.users.or(self.users);
        for (key, slice) in &next.slices {
            match self.slices.binary_search_by(|(k, _)| k.cmp(key)) {
                Ok(i) => self.slices[i].1.merge(slice),
                Err(i) => self.slices.insert(i, (key.clone(), slice.clone())),
            }
        }
    }

    fn footprint_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .slices
                .iter()
                .map(|(_, s)| 64 + s.buckets.capacity() * 12 + s.locust.capacity() * 16)
                .sum::<usize>()
    }
}

/// What the previous record saw of an endpoint: its cumulative figures.
#[derive(Debug, Clone, Default)]
struct Seen {
    requests: u64,
    failures: u64,
    sum_ms: f64,
    native: Option<NativeBuckets>,
}

/// A service's run over time (see the module docs).
#[derive(Debug, Clone)]
pub struct Timeline {
    capacity: usize,
    intervals: VecDeque<Interval>,
    seen: HashMap<Key, Seen, FastHash>,
    last: Option<f64>,
}

/// The default number of intervals kept: an hour at 5 s, and any longer run at a
/// resolution that halves with age.
pub const DEFAULT_INTERVALS: usize = 720;

impl Timeline {
    /// An empty timeline of at most `capacity` intervals (at least 4).
    pub fn new(capacity: usize) -> Self {
        Timeline {
            capacity: capacity.max(4),
            intervals: VecDeque::new(),
            seen: HashMap::default(),
            last: None,
        }
    }

    /// The intervals, oldest first.
    pub fn intervals(&self) -> &VecDeque<Interval> {
        &self.intervals
    }

    /// Records what `service` did since the previous record, at `now` (Unix seconds). An
    /// endpoint whose counts went down started over (its input was reset): its interval
    /// counts from zero.
    pub fn record(&mut self, service: &ServiceSnapshot, now: f64) {
        let start = self.last.or(service.started).unwrap_or(now).min(now);
        self.last = Some(now);
        let total = service.total.iter().map(|t| {
            let key: Key = (Arc::from(""), Arc::from(AGGREGATED));
            (key, t)
        });
        let rows = service
            .endpoints
            .iter()
            .map(|e| ((e.method.clone(), e.name.clone()), e))
            .chain(total);
        let mut slices = Vec::new();
        for (key, e) in rows {
            let seen = self.seen.entry(key.clone()).or_default();
            if let Some(slice) = difference(seen, e, service) {
                slices.push((key, slice));
            }
        }
        slices.sort_by(|a, b| a.0.cmp(&b.0));
        self.intervals.push_back(Interval {
            start,
            end: now,
            users: service.users,
            slices,
        });
        if self.intervals.len() > self.capacity {
            self.merge_older_half();
        }
    }

    /// Merges the older half of the ring pair by pair.
    fn merge_older_half(&mut self) {
        let half = self.intervals.len() / 2;
        let mut merged = VecDeque::with_capacity(self.capacity);
        let mut older = self.intervals.drain(..half).collect::<Vec<_>>().into_iter();
        while let Some(mut a) = older.next() {
            if let Some(b) = older.next() {
                a.merge(&b);
            }
            merged.push_back(a);
        }
        merged.extend(self.intervals.drain(..));
        self.intervals = merged;
    }

    /// Bytes the timeline holds (the intervals and the previous cumulative figures).
    pub fn footprint_bytes(&self) -> usize {
        self.intervals
            .iter()
            .map(Interval::footprint_bytes)
            .sum::<usize>()
            + self
                .seen
                .values()
                .map(|s| 96 + s.native.as_ref().map_or(0, |n| n.counts.capacity() * 8))
                .sum::<usize>()
    }
}

/// The interval's slice of `e` since `seen` (which becomes `e`); `None` with no request in
/// the interval.
fn difference(seen: &mut Seen, e: &EndpointStats, service: &ServiceSnapshot) -> Option<Slice> {
    let reset = e.requests < seen.requests || e.failures < seen.failures;
    if reset {
        *seen = Seen::default();
    }
    let requests = e.requests - seen.requests;
    let failures = e.failures - seen.failures;
    let sum_ms = (e.duration_sum_ms - seen.sum_ms).max(0.0);
    let (schema, zero_count, buckets) = match &e.native {
        Some(now) => native_difference(seen.native.as_ref(), now),
        None => (super::native_histogram::SCHEMA, 0, Vec::new()),
    };
    seen.requests = e.requests;
    seen.failures = e.failures;
    seen.sum_ms = e.duration_sum_ms;
    seen.native = e.native.clone();
    if requests == 0 && failures == 0 {
        return None;
    }
    let locust = if e.native.is_none() {
        if crate::model::update::is_total(&e.method, &e.name)
            && !service.current_percentiles.is_empty()
        {
            service.current_percentiles.clone()
        } else {
            e.quantiles.clone()
        }
    } else {
        Vec::new()
    };
    Some(Slice {
        requests,
        failures,
        sum_ms,
        buckets,
        zero_count,
        schema,
        locust,
    })
}

/// The buckets of `now` less those of `before` (cumulative histograms of one endpoint; a
/// coarser schema in either reduces both), as sparse `(index, count)`.
fn native_difference(
    before: Option<&NativeBuckets>,
    now: &NativeBuckets,
) -> (i32, u64, Vec<(i32, u64)>) {
    let Some(before) = before else {
        let sparse = sparse(now);
        return (now.schema, now.zero_count, sparse);
    };
    let schema = now.schema.min(before.schema);
    let (a, b) = (now.reduced_to(schema), before.reduced_to(schema));
    let old: HashMap<i32, u64, FastHash> = sparse(&b).into_iter().collect();
    let buckets = sparse(&a)
        .into_iter()
        .filter_map(|(i, n)| {
            let d = n.saturating_sub(old.get(&i).copied().unwrap_or(0));
            (d > 0).then_some((i, d))
        })
        .collect();
    (schema, a.zero_count.saturating_sub(b.zero_count), buckets)
}

fn sparse(b: &NativeBuckets) -> Vec<(i32, u64)> {
    b.counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(i, &n)| (b.offset + i as i32, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::native_histogram::NativeHistogram;

    fn endpoint(name: &str, times_ms: &[f64], failures: u64) -> EndpointStats {
        let mut h = NativeHistogram::default();
        for t in times_ms {
            h.observe(t / 1000.0);
        }
        EndpointStats {
            method: Arc::from("GET"),
            name: Arc::from(name),
            requests: times_ms.len() as u64,
            failures,
            duration_sum_ms: times_ms.iter().sum(),
            native: Some(h.buckets()),
            ..EndpointStats::default()
        }
    }

    fn service(endpoints: Vec<EndpointStats>, users: u64) -> ServiceSnapshot {
        ServiceSnapshot {
            name: Arc::from("s"),
            endpoints,
            users: Some(users),
            started: Some(100.0),
            ..ServiceSnapshot::default()
        }
    }

    #[test]
    fn intervals_hold_their_own_requests_and_percentiles() {
        let mut t = Timeline::new(16);
        let first: Vec<f64> = (0..100).map(|i| 10.0 + i as f64 * 0.1).collect();
        t.record(&service(vec![endpoint("/a", &first, 1)], 5), 105.0);
        // The next interval: 100 slow requests more (cumulative, as a snapshot serves).
        let mut both = first.clone();
        both.extend((0..100).map(|i| 500.0 + i as f64));
        t.record(&service(vec![endpoint("/a", &both, 3)], 7), 110.0);
        let key: Key = (Arc::from("GET"), Arc::from("/a"));
        let (one, two) = (&t.intervals()[0], &t.intervals()[1]);
        assert_eq!(
            (one.start, one.end, two.start, two.end),
            (100.0, 105.0, 105.0, 110.0)
        );
        let (a, b) = (one.slice(&key).unwrap(), two.slice(&key).unwrap());
        assert_eq!(
            (a.requests, a.failures, b.requests, b.failures),
            (100, 1, 100, 2)
        );
        assert_eq!(two.users, Some(7));
        // Each interval's median is its own requests' (within half a schema-6 bucket).
        let near = |got: f64, want: f64| ((got - want) / want).abs() < 0.006;
        assert!(
            near(a.quantile_ms(0.5).unwrap(), 15.0),
            "{:?}",
            a.quantile_ms(0.5)
        );
        assert!(
            near(b.quantile_ms(0.5).unwrap(), 550.0),
            "{:?}",
            b.quantile_ms(0.5)
        );
        // No request, no slice.
        t.record(&service(vec![endpoint("/a", &both, 3)], 7), 115.0);
        assert!(t.intervals()[2].slices.is_empty());
    }

    #[test]
    fn a_full_ring_merges_its_older_half_exactly() {
        let mut t = Timeline::new(8);
        let mut times = Vec::new();
        for k in 0..40 {
            times.extend((0..10).map(|i| 1.0 + (k * 10 + i) as f64));
            t.record(
                &service(vec![endpoint("/a", &times, 0)], 1),
                100.0 + k as f64,
            );
        }
        assert!(t.intervals().len() <= 8, "{}", t.intervals().len());
        let key: Key = (Arc::from("GET"), Arc::from("/a"));
        let total: u64 = t
            .intervals()
            .iter()
            .filter_map(|i| i.slice(&key))
            .map(|s| s.requests)
            .sum();
        assert_eq!(total, 400, "nothing lost in merges");
        let buckets: u64 = t
            .intervals()
            .iter()
            .filter_map(|i| i.slice(&key))
            .map(|s| s.zero_count + s.buckets.iter().map(|b| b.1).sum::<u64>())
            .sum();
        assert_eq!(buckets, 400, "every request in some interval's buckets");
        // Contiguous, oldest first, covering the whole run.
        let iv = t.intervals();
        assert_eq!(iv[0].start, 100.0);
        assert_eq!(iv[iv.len() - 1].end, 139.0);
        assert!(iv
            .iter()
            .zip(iv.iter().skip(1))
            .all(|(a, b)| a.end == b.start));
        eprintln!("timeline of 40 records in 8: {} bytes", t.footprint_bytes());
    }

    #[test]
    fn a_reset_counts_from_zero_and_merging_schemas_reduces_exactly() {
        let mut t = Timeline::new(8);
        t.record(&service(vec![endpoint("/a", &[5.0; 10], 0)], 1), 101.0);
        t.record(&service(vec![endpoint("/a", &[5.0; 3], 0)], 1), 102.0);
        let key: Key = (Arc::from("GET"), Arc::from("/a"));
        assert_eq!(t.intervals()[1].slice(&key).unwrap().requests, 3);
        let mut a = Slice {
            requests: 2,
            failures: 0,
            sum_ms: 0.0,
            buckets: vec![(-401, 1), (-400, 1)],
            zero_count: 0,
            schema: 6,
            locust: Vec::new(),
        };
        let b = Slice {
            buckets: vec![(-200, 2)],
            schema: 5,
            ..a.clone()
        };
        a.merge(&b);
        // -401 and -400 at schema 6 are -200 at schema 5.
        assert_eq!(
            (a.schema, a.buckets.clone(), a.requests),
            (5, vec![(-200, 4)], 4)
        );
    }
}
