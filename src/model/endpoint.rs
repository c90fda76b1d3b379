//! Per-endpoint statistics fed by request events: counters, sums, min/max, the exact
//! response times while they are few, a native histogram for percentiles, classic
//! Prometheus buckets and the current-rate window.
//!
//! ## Percentiles (`super::percentile`)
//! At Locust's rank (`⌊n·q⌋ + 1` of the `n` timed requests): the exact time while the
//! endpoint has seen at most 64 distinct ones, else the middle of the native histogram's
//! bucket at that rank (schema 6: within 0.55 %); `min` and `max` are always exact. Every
//! timed request is in the native histogram: exactly (one by one, or a producer's native
//! buckets), or spread over a producer's classic buckets (OTLP explicit bounds, a count and
//! sum alone), which is then said ([`super::percentile::Precision::Spread`]).
//!
//! ## What is served, and why it always adds up
//! A histogram's buckets must account for its count, or Prometheus refuses the whole scrape.
//! The native histogram holds every timed request (its basis says whether some were spread);
//! a producer's classic buckets are served only while every timed request came in them
//! (else the `--buckets` bounds are, which take every request: one by one exactly, a native
//! bucket at its middle, a spread bucket at its spread points). Whether a native histogram
//! is written at all is the exposition's choice, per family (`crate::expose::sets::native`).
//!
//! ## Memory
//! The native histogram takes 4 bytes a bucket between the fastest and the slowest answer
//! (3.4 KiB for 1 ms … 10 s; the widest span, 1 µs to 24 h, 9 KiB), the exact times at most
//! 1 KiB (freed once there are more than 64), the classic buckets 8 bytes a bound, the
//! rate window 240 bytes; exemplars nothing until the first traced request, then 48 bytes a
//! `--buckets` slot (`super::exemplar`).
//!
//! ## Batches
//! A producer that aggregates (the plugin's `requests` lines) sends counts, sums, exact
//! min/max and a native histogram of a finer or equal schema. Counts, sums, min, max and the
//! native buckets merge exactly; the classic buckets take each native bucket's count at its
//! midpoint (clamped to the batch's min and max), so a classic bucket can only disagree for
//! answers within half a bucket of the producer's schema (0.27 % at schema 7) of its bound.

use super::exemplar::{Exemplar, Exemplars};
use super::native_histogram::{NativeBuckets, NativeHistogram};
use super::percentile::{self, Distribution, ExactTimes, Precision};
use super::update::RequestBatch;
use super::window::SecondBuckets;

/// The default classic Prometheus buckets, in seconds (`--buckets`): from 1 ms, so an
/// endpoint answering in 1–2 ms is resolved, up to a minute, about 2–2.5× apart. Fourteen
/// bounds, as before: each bound is one series per endpoint. Where finer answers matter,
/// the native histogram gives them (1 % everywhere) at no bucket choice at all.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The quantiles served for event-fed endpoints (the seed's median and 90th among them).
pub const EVENT_QUANTILES: [f64; 6] = [0.5, 0.66, 0.9, 0.95, 0.99, 1.0];

/// Points a spread bucket's count is put at.
const SPREAD_POINTS: u64 = 16;

/// Statistics of one (method, name) fed by request events.
#[derive(Debug, Clone)]
pub struct EventEndpoint {
    /// Requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Requests that had a response time (Locust leaves "async" ones out of times).
    pub timed: u64,
    /// Sum of response times, ms.
    pub sum_ms: f64,
    /// Smallest response time, ms.
    pub min_ms: Option<f64>,
    /// Largest response time, ms.
    pub max_ms: f64,
    /// Sum of response sizes, bytes (u128: at most 2^40 per request, it never saturates).
    pub content_bytes: u128,
    /// Per-bucket (not cumulative) counts of every timed request at the `--buckets` bounds;
    /// the last slot is `+Inf`.
    pub bucket_counts: Vec<u64>,
    /// Unix seconds of the first request counted (the counters' `_created`).
    pub created: Option<f64>,
    /// A producer's own classic buckets (OTLP explicit bounds), `(le seconds, count)` per
    /// bucket, served instead of `bucket_counts` while they hold every timed request.
    explicit: Option<Vec<(f64, u64)>>,
    /// Timed requests counted in `explicit`.
    explicit_count: u64,
    /// The exact times while they are few.
    exact: ExactTimes,
    /// Every timed request.
    native: NativeHistogram,
    /// Timed requests in `native` whose bucket is a guess (spread over classic buckets).
    spread: u64,
    window: SecondBuckets,
    /// A service's total: served as summaries only, so it keeps no classic buckets.
    is_total: bool,
    /// Traced requests by bucket, from the first one on (`super::exemplar`).
    exemplars: Option<Box<Exemplars>>,
}

impl EventEndpoint {
    /// A new, empty endpoint with `bounds.len() + 1` bucket slots.
    pub fn new(bounds: &[f64]) -> Self {
        EventEndpoint {
            requests: 0,
            failures: 0,
            timed: 0,
            sum_ms: 0.0,
            min_ms: None,
            max_ms: 0.0,
            content_bytes: 0,
            bucket_counts: vec![0; bounds.len() + 1],
            created: None,
            explicit: None,
            explicit_count: 0,
            exact: ExactTimes::new(),
            native: NativeHistogram::default(),
            spread: 0,
            window: SecondBuckets::default(),
            is_total: false,
            exemplars: None,
        }
    }

    /// A service's total: like [`EventEndpoint::new`] without classic buckets.
    pub fn total() -> Self {
        EventEndpoint {
            is_total: true,
            ..EventEndpoint::new(&[])
        }
    }

    /// True for a service's total (no buckets).
    pub fn is_total(&self) -> bool {
        self.is_total
    }

    /// Counts one request. `bounds` are the bucket upper bounds in seconds, ascending.
    pub fn record(
        &mut self,
        bounds: &[f64],
        time: f64,
        response_time_ms: Option<f64>,
        length: u64,
        failed: bool,
    ) {
        self.requests += 1;
        self.failures += u64::from(failed);
        self.content_bytes += u128::from(length);
        self.created.get_or_insert(time);
        self.window.record_n(time, 1, u32::from(failed));
        let Some(ms) = response_time_ms.filter(|t| t.is_finite() && *t >= 0.0) else {
            return;
        };
        self.timed += 1;
        self.sum_ms += ms;
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = self.max_ms.max(ms);
        self.exact.add(ms, 1);
        self.native.observe(ms / 1000.0);
        self.classic(bounds, ms, 1);
    }

    /// Keeps a traced request as an exemplar where it is one of the slowest of its bucket
    /// (`super::exemplar`); a total keeps none.
    pub fn offer_exemplar(&mut self, bounds: &[f64], e: Exemplar) {
        if !self.is_total {
            self.exemplars.get_or_insert_default().offer(bounds, e);
        }
    }

    /// The exemplars kept, by value ascending (empty when no request was traced).
    pub fn exemplars(&self) -> Vec<Exemplar> {
        self.exemplars
            .as_ref()
            .map_or_else(Vec::new, |e| e.sorted())
    }

    /// Counts `n` timed requests of about `ms` in the `--buckets` bounds.
    fn classic(&mut self, bounds: &[f64], ms: f64, n: u64) {
        if self.is_total {
            return;
        }
        let slot = bounds.partition_point(|&le| le < ms / 1000.0);
        if let Some(c) = self.bucket_counts.get_mut(slot) {
            *c = c.saturating_add(n);
        }
    }

    /// Counts a producer's batch of requests (see the module docs). `failures` is the sum of
    /// the batch's failures by error; the batch is validated by the parser (counts agree,
    /// min ≤ max, a schema at least as fine as the one served).
    pub fn record_batch(&mut self, bounds: &[f64], batch: &RequestBatch<'_>, failures: u64) {
        self.requests = self.requests.saturating_add(batch.requests);
        self.failures = self.failures.saturating_add(failures);
        self.content_bytes += u128::from(batch.response_bytes);
        self.created.get_or_insert(batch.time);
        let per_second = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        self.window
            .record_n(batch.time, per_second(batch.requests), per_second(failures));
        if batch.timed == 0 {
            return;
        }
        let (lo, hi) = (batch.min_ms, batch.max_ms);
        self.timed = self.timed.saturating_add(batch.timed);
        self.sum_ms += batch.sum_ms;
        self.min_ms = Some(self.min_ms.map_or(lo, |m| m.min(lo)));
        self.max_ms = self.max_ms.max(hi);
        if lo == hi {
            // Every time of the batch is its minimum: known exactly.
            self.exact.add(lo, batch.timed);
        } else {
            self.exact.forget();
        }
        let mean = batch.sum_ms / batch.timed as f64;
        if !batch.explicit.is_empty() {
            self.record_explicit(bounds, &batch.explicit, lo, hi, mean);
            return;
        }
        let in_native = batch
            .buckets
            .iter()
            .fold(batch.zero_count, |acc, &(_, n)| acc.saturating_add(n));
        if in_native > batch.timed {
            // Never from a validated batch: its buckets would not add up. Spread it whole.
            self.spread_one(bounds, batch.timed, lo, hi, mean);
            return;
        }
        if batch.zero_count > 0 {
            self.native.add_zero(batch.zero_count);
            self.classic(bounds, lo, batch.zero_count);
        }
        for &(index, n) in &batch.buckets {
            self.native.add_at(index, batch.schema, n);
            let mid_seconds = (f64::from(index) - 0.5) * (-f64::from(batch.schema)).exp2();
            let ms = (mid_seconds.exp2() * 1000.0).clamp(lo, hi);
            self.classic(bounds, ms, n);
        }
        // A count and a sum with no buckets (or fewer in buckets than timed): the rest spread
        // around the mean.
        if in_native < batch.timed {
            self.spread_one(bounds, batch.timed - in_native, lo, hi, mean);
        }
    }

    /// `n` timed requests known only to lie within [`lo`, `hi`] ms with `mean`: one bucket.
    fn spread_one(&mut self, bounds: &[f64], n: u64, lo: f64, hi: f64, mean: f64) {
        self.spread_buckets(bounds, &[(f64::INFINITY, n)], lo, hi, mean);
    }

    /// A producer's classic buckets: their counts are kept with their own bounds (a bound
    /// the first batch did not have counts in the next one above it: still a true upper
    /// bound), and spread into the native histogram and the `--buckets` bounds.
    fn record_explicit(
        &mut self,
        bounds: &[f64],
        buckets: &[(f64, u64)],
        lo: f64,
        hi: f64,
        mean: f64,
    ) {
        if !self.is_total {
            let kept = self
                .explicit
                .get_or_insert_with(|| buckets.iter().map(|&(le, _)| (le, 0)).collect());
            for &(le, n) in buckets {
                let slot = kept
                    .partition_point(|&(k, _)| k < le)
                    .min(kept.len().saturating_sub(1));
                if let Some((_, c)) = kept.get_mut(slot) {
                    *c = c.saturating_add(n);
                }
                self.explicit_count = self.explicit_count.saturating_add(n);
            }
        }
        self.spread_buckets(bounds, buckets, lo, hi, mean);
    }

    /// Spreads each bucket's count evenly over the part of the bucket within [`lo`, `hi`]
    /// ms, into the native histogram and the `--buckets` bounds (so percentiles fall within
    /// their bucket, as `histogram_quantile` interpolates them). When the whole batch lies
    /// in one bucket (a producer's default bounds are often far too coarse), its `mean` is
    /// that bucket's too: the spread is centred on it, as wide as the bucket's part allows.
    fn spread_buckets(
        &mut self,
        bounds: &[f64],
        buckets: &[(f64, u64)],
        lo: f64,
        hi: f64,
        mean: f64,
    ) {
        let one_bucket = buckets.iter().filter(|(_, n)| *n > 0).count() == 1;
        let mut below = 0.0;
        for &(le, n) in buckets {
            let (a, b) = ((below * 1000.0f64).max(lo), (le * 1000.0).min(hi));
            below = le;
            if n == 0 {
                continue;
            }
            self.spread = self.spread.saturating_add(n);
            let (a, b) = if a <= b { (a, b) } else { (b, b) };
            let (a, b) = if one_bucket && mean.is_finite() {
                let centre = mean.clamp(a, b);
                let half = (centre - a).min(b - centre);
                (centre - half, centre + half)
            } else {
                (a, b)
            };
            // From the low end to the high end, both included; a single value takes the
            // high end (the maximum is served exactly whatever the spread).
            let k = n.min(SPREAD_POINTS);
            for j in 0..k {
                let share = n / k + u64::from(j < n % k);
                let ms = if k == 1 {
                    b
                } else {
                    a + (b - a) * j as f64 / (k - 1) as f64
                };
                self.native.add_seconds(ms / 1000.0, share);
                self.classic(bounds, ms, share);
            }
        }
    }

    /// What the percentiles are read from.
    fn distribution(&self) -> Distribution<'_> {
        Distribution {
            n: self.timed,
            min_ms: self.min_ms.unwrap_or(0.0),
            max_ms: self.max_ms,
            exact: &self.exact,
            native: &self.native,
            spread: self.spread > 0,
        }
    }

    /// Response times at each of `qs` (ascending) in ms, at Locust's rank
    /// (`super::percentile`); `NaN` with no timed requests.
    pub fn quantiles_ms(&self, qs: &[f64]) -> Vec<(f64, f64)> {
        percentile::quantiles_ms(&self.distribution(), qs)
    }

    /// How the percentiles are found.
    pub fn precision(&self) -> Precision {
        self.distribution().precision()
    }

    /// Mean response time in ms (0 with no timed requests, as Locust).
    pub fn avg_ms(&self) -> f64 {
        if self.timed == 0 {
            0.0
        } else {
            self.sum_ms / self.timed as f64
        }
    }

    /// Mean response size in bytes (0 with no requests).
    pub fn avg_content(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.content_bytes as f64 / self.requests as f64
        }
    }

    /// Current `(requests/s, failures/s)`.
    pub fn rates(&self) -> (f64, f64) {
        self.window.rates()
    }

    /// Cumulative bucket counts paired with their bounds, as served; `+Inf` (every timed
    /// request) is left to the encoder. A producer's own bounds while they hold every timed
    /// request, else the `--buckets` bounds.
    pub fn cumulative_buckets(&self, bounds: &[f64]) -> Vec<(f64, u64)> {
        let mut acc = 0u64;
        if let Some(explicit) = self
            .explicit
            .as_ref()
            .filter(|_| self.explicit_count == self.timed)
        {
            return explicit
                .iter()
                .filter(|(le, _)| le.is_finite())
                .map(|&(le, c)| {
                    acc = acc.saturating_add(c);
                    (le, acc)
                })
                .collect();
        }
        bounds
            .iter()
            .zip(&self.bucket_counts)
            .map(|(&le, &c)| {
                acc = acc.saturating_add(c);
                (le, acc)
            })
            .collect()
    }

    /// The native histogram's buckets.
    pub fn native_buckets(&self) -> NativeBuckets {
        self.native.buckets()
    }

    /// The endpoint's native histogram (empty for the total, which keeps none).
    pub fn native(&self) -> &NativeHistogram {
        &self.native
    }

    /// Bytes this endpoint holds on the heap and inline (for the memory figure).
    pub fn footprint_bytes(&self) -> usize {
        // The per-second window holds at most 15 entries of 16 bytes.
        let window = 15 * 16;
        std::mem::size_of::<Self>()
            + self.bucket_counts.capacity() * 8
            + self.explicit.as_ref().map_or(0, |e| e.capacity() * 16)
            + self.exact.footprint_bytes()
            + window
            + self.native.footprint_bytes()
            + self.exemplars.as_ref().map_or(0, |e| {
                std::mem::size_of::<Exemplars>() + e.footprint_bytes()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sums_and_buckets() {
        let bounds = [0.01, 0.1, 1.0];
        let mut e = EventEndpoint::new(&bounds);
        e.record(&bounds, 1.0, Some(5.0), 10, false);
        e.record(&bounds, 1.0, Some(10.0), 10, true);
        e.record(&bounds, 1.0, Some(50.0), 0, false);
        e.record(&bounds, 1.0, Some(5000.0), 0, false);
        e.record(&bounds, 1.0, None, 7, false);
        assert_eq!((e.requests, e.failures, e.timed), (5, 1, 4));
        assert_eq!(e.sum_ms, 5065.0);
        assert_eq!(e.content_bytes, 27);
        assert_eq!(e.min_ms, Some(5.0));
        assert_eq!(e.max_ms, 5000.0);
        // le is inclusive: 10 ms falls in the 0.01 s bucket.
        assert_eq!(e.bucket_counts, vec![2, 1, 0, 1]);
        assert_eq!(
            e.cumulative_buckets(&bounds),
            vec![(0.01, 2), (0.1, 3), (1.0, 3)]
        );
        assert_eq!(e.avg_ms(), 5065.0 / 4.0);
    }

    #[test]
    fn quantiles_at_locusts_rank_within_half_a_bucket() {
        let bounds = DEFAULT_BUCKETS;
        let mut e = EventEndpoint::new(&bounds);
        let mut exact = Vec::new();
        for i in 0..1000 {
            let ms = 50.0 + f64::from(i) * 0.25;
            exact.push(ms);
            e.record(&bounds, 0.0, Some(ms), 0, false);
        }
        assert!(matches!(e.precision(), Precision::Histogram(6)));
        for (q, got) in e.quantiles_ms(&EVENT_QUANTILES) {
            let want = exact[(percentile::locust_rank(1000, q) - 1) as usize];
            assert!(
                (got - want).abs() <= want * 0.0055,
                "q={q} got={got} want={want}"
            );
        }
        assert_eq!(
            e.quantiles_ms(&[1.0]),
            vec![(1.0, 299.75)],
            "the maximum, exactly"
        );
        assert!(EventEndpoint::new(&bounds).quantiles_ms(&[0.5])[0]
            .1
            .is_nan());
    }

    fn batch(
        timed: u64,
        explicit: Vec<(f64, u64)>,
        schema: i32,
        buckets: Vec<(i32, u64)>,
    ) -> RequestBatch<'static> {
        RequestBatch {
            time: 1.0,
            start: None,
            method: "".into(),
            name: "/fast".into(),
            requests: timed,
            errors: Vec::new(),
            timed,
            sum_ms: 2.0 * timed as f64,
            min_ms: 1.5,
            max_ms: 2.5,
            response_bytes: 0,
            schema,
            zero_count: 0,
            buckets,
            explicit,
            exemplars: Vec::new(),
        }
    }

    /// One endpoint fed both a producer's explicit buckets and native ones (two `locust
    /// --otel` runs of one service, the SDK's default aggregation and the exponential one, in
    /// either order): its buckets always account for its count, or Prometheus refuses the
    /// whole scrape ("395 observations found in buckets, but the Count field is 770").
    #[test]
    fn explicit_and_native_batches_on_one_endpoint_serve_only_what_adds_up() {
        let bounds = DEFAULT_BUCKETS;
        let explicit = || {
            batch(
                375,
                vec![(0.0, 0), (5.0, 375), (f64::INFINITY, 0)],
                6,
                vec![],
            )
        };
        let native = || batch(395, vec![], 8, vec![(-1791, 200), (-1790, 195)]);
        for order in [[explicit(), native()], [native(), explicit()]] {
            let mut e = EventEndpoint::new(&bounds);
            e.record_batch(&bounds, &order[0], 0);
            e.record_batch(&bounds, &order[1], 0);
            assert_eq!(e.timed, 770);
            assert_eq!(
                e.native_buckets().count(),
                770,
                "every request, 375 of them spread"
            );
            let classic = e.cumulative_buckets(&bounds);
            assert!(classic.last().unwrap().1 <= e.timed);
            assert_eq!(
                classic.last().unwrap().1,
                770,
                "the --buckets bounds hold every request"
            );
            assert_eq!(
                e.native_buckets().count(),
                770,
                "percentiles read every request"
            );
            assert_eq!(e.precision(), Precision::Spread);
        }
        // Each kind alone serves what it has.
        let mut e = EventEndpoint::new(&bounds);
        e.record_batch(&bounds, &native(), 0);
        assert_eq!(e.native_buckets().count(), 395);
        assert!(matches!(e.precision(), Precision::Histogram(6)));
        let mut e = EventEndpoint::new(&bounds);
        e.record_batch(&bounds, &explicit(), 0);
        assert_eq!(e.precision(), Precision::Spread);
        assert_eq!(e.cumulative_buckets(&bounds), vec![(0.0, 0), (5.0, 375)]);
    }

    #[test]
    fn footprint_under_twelve_kib() {
        let e = EventEndpoint::new(&DEFAULT_BUCKETS);
        eprintln!("event endpoint footprint: {} bytes", e.footprint_bytes());
        assert!(e.footprint_bytes() < 1024, "{}", e.footprint_bytes());
        // Every native bucket from 1 ms to 10 s populated, then 1 ms … 15 min (the edge).
        let mut e = EventEndpoint::new(&DEFAULT_BUCKETS);
        let mut ms = 1.0;
        while ms <= 10_000.0 {
            e.record(&DEFAULT_BUCKETS, 0.0, Some(ms), 0, false);
            ms *= 1.005;
        }
        eprintln!(
            "event endpoint footprint, times 1 ms … 10 s: {} bytes",
            e.footprint_bytes()
        );
        assert!(e.footprint_bytes() < 5 * 1024, "{}", e.footprint_bytes());
        e.record(&DEFAULT_BUCKETS, 0.0, Some(15.0 * 60_000.0), 0, false);
        eprintln!(
            "… and one answer after 15 min: {} bytes",
            e.footprint_bytes()
        );
        assert!(e.footprint_bytes() < 12 * 1024, "{}", e.footprint_bytes());
    }

    #[test]
    fn exemplars_take_a_slot_per_bucket_however_many_traced_requests() {
        use crate::model::exemplar::{Exemplar, TraceRef};
        let mut e = EventEndpoint::new(&DEFAULT_BUCKETS);
        let before = e.footprint_bytes();
        for i in 0..100_000u64 {
            let ms = 0.5 + (i % 1000) as f64 * 70.0;
            e.record(&DEFAULT_BUCKETS, i as f64 / 100.0, Some(ms), 0, false);
            let trace = TraceRef {
                trace_id: [1; 16],
                span_id: (i + 1).to_be_bytes(),
            };
            let time = i as f64 / 100.0;
            e.offer_exemplar(
                &DEFAULT_BUCKETS,
                Exemplar {
                    trace,
                    seconds: ms / 1000.0,
                    time,
                },
            );
        }
        let added = e.footprint_bytes() - before - e.native.footprint_bytes();
        eprintln!("exemplars of 100,000 traced requests: {added} bytes");
        assert!(added <= (DEFAULT_BUCKETS.len() + 1) * 48 + 16, "{added}");
        // One a bucket the times reach (0.5 ms, then 70.5 ms apart: ten of the fifteen),
        // each bucket's slowest.
        let kept = e.exemplars();
        assert_eq!(kept.len(), 10);
        assert!(kept.windows(2).all(|w| w[0].seconds <= w[1].seconds));
        assert_eq!(kept[9].seconds, 69.9305);
        assert_eq!(kept[1].seconds, 0.0705);
        // The total keeps none.
        let mut t = EventEndpoint::total();
        t.offer_exemplar(&[], kept[0]);
        assert!(t.exemplars().is_empty());
    }
}
