//! Per-endpoint statistics fed by request events: counters, sums, min/max, an HDR histogram
//! for percentiles, classic Prometheus buckets, a native histogram and the current-rate
//! window.
//!
//! ## HDR precision and range (chosen on purpose)
//! Response times are recorded in units of [`HDR_UNIT_MS`] (10 µs) from 1 unit up to
//! [`HDR_MAX_MS`] (10 minutes), with 2 significant digits: the same relative precision as
//! Locust's own 2-significant-digit buckets, so percentiles agree with Locust's within its
//! bucketing. Slower responses are clamped to the top of the range for percentiles (their
//! exact value still reaches `max`, the sum and the buckets). With `u32` counts the histogram
//! takes about 10 KiB.
//!
//! ## Memory
//! The HDR histogram (10.7 KiB) and the native histogram (4 bytes a bucket between the
//! fastest and the slowest answer: 3.4 KiB for 1 ms … 10 s) keep an endpoint under the performance budget's (`docs/performance.md`)
//! 16 KiB while its response times span less than 2^19.8 (1 ms … 15 min); an endpoint that
//! answers both in a microsecond and in a day takes up to 20 KiB.
//!
//! ## Batches
//! A producer that aggregates (the plugin's `requests` lines) sends counts, sums, exact
//! min/max and a native histogram of a finer or equal schema. Counts, sums, min, max and the
//! native buckets merge exactly; the HDR histogram and the classic buckets take each native
//! bucket's count at its midpoint (clamped to the batch's min and max), so percentiles keep
//! the HDR precision plus half a bucket of the producer's schema (0.27 % at schema 7), and a
//! classic bucket can only disagree for answers within that much of its bound.

use hdrhistogram::Histogram;

use super::native_histogram::{NativeBuckets, NativeHistogram};
use super::update::RequestBatch;
use super::window::SecondBuckets;

/// One HDR unit in milliseconds (10 µs).
pub const HDR_UNIT_MS: f64 = 0.01;
/// Highest response time tracked exactly by the HDR histogram, in milliseconds.
pub const HDR_MAX_MS: f64 = 600_000.0;
/// Significant digits kept by the HDR histogram.
pub const HDR_SIGFIG: u8 = 2;

/// The default classic Prometheus buckets, in seconds (`--buckets`): from 1 ms, so an
/// endpoint answering in 1–2 ms is resolved, up to a minute, about 2–2.5× apart. Fourteen
/// bounds, as before: each bound is one series per endpoint. Where finer answers matter,
/// the native histogram gives them (1 % everywhere) at no bucket choice at all.
pub const DEFAULT_BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The quantiles served for event-fed endpoints (the seed's median and 90th among them).
pub const EVENT_QUANTILES: [f64; 6] = [0.5, 0.66, 0.9, 0.95, 0.99, 1.0];

fn new_histogram() -> Option<Histogram<u32>> {
    let high = (HDR_MAX_MS / HDR_UNIT_MS) as u64;
    Histogram::new_with_bounds(1, high, HDR_SIGFIG).ok()
}

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
    /// Per-bucket (not cumulative) counts; the last slot is `+Inf`.
    pub bucket_counts: Vec<u64>,
    /// Unix seconds of the first request counted (the counters' `_created`).
    pub created: Option<f64>,
    /// A producer's own classic buckets (OTLP explicit bounds), `(le seconds, count)` per
    /// bucket, served instead of `bucket_counts` once a batch brought them.
    explicit: Option<Vec<(f64, u64)>>,
    hist: Option<Histogram<u32>>,
    native: NativeHistogram,
    window: SecondBuckets,
    /// A service's total: served as summaries only, so it keeps no buckets (classic or
    /// native) and skips their cost on every request.
    is_total: bool,
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
            hist: new_histogram(),
            native: NativeHistogram::default(),
            window: SecondBuckets::default(),
            is_total: false,
        }
    }

    /// A service's total: like [`EventEndpoint::new`] without buckets.
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
        if !self.is_total {
            self.native.observe(ms / 1000.0);
        }
        self.distribute(bounds, ms, 1);
    }

    /// Counts `n` timed requests of about `ms` in the classic buckets and the HDR histogram.
    fn distribute(&mut self, bounds: &[f64], ms: f64, n: u64) {
        if !self.is_total {
            let slot = bounds.partition_point(|&le| le < ms / 1000.0);
            if let Some(c) = self.bucket_counts.get_mut(slot) {
                *c += n;
            }
        }
        self.record_hdr(ms, n);
    }

    /// Counts `n` timed requests of about `ms` in the HDR histogram.
    fn record_hdr(&mut self, ms: f64, n: u64) {
        if let Some(h) = self.hist.as_mut() {
            let units = ((ms / HDR_UNIT_MS).round() as u64).clamp(1, h.high());
            // A bin holds at most u32::MAX: what does not fit is not recorded at all, so the
            // histogram's total stays the sum of its bins (a saturated bin with a larger
            // total would make its quantile walk fail). Percentiles past 4 billion requests
            // in one bin are then those of the first 4 billion; counts stay exact elsewhere.
            let room = u32::MAX - h.count_at(units);
            let n = u32::try_from(n).unwrap_or(u32::MAX).min(room);
            if n > 0 {
                h.saturating_record_n(units, n);
            }
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
        if batch.zero_count > 0 {
            if !self.is_total {
                self.native.add_zero(batch.zero_count);
            }
            self.distribute(bounds, lo, batch.zero_count);
        }
        if !batch.explicit.is_empty() {
            let mean = batch.sum_ms / batch.timed as f64;
            self.record_explicit(&batch.explicit, lo, hi, mean);
        }
        for &(index, n) in &batch.buckets {
            if !self.is_total {
                self.native.add_at(index, batch.schema, n);
            }
            let mid_seconds = (f64::from(index) - 0.5) * (-f64::from(batch.schema)).exp2();
            let ms = (mid_seconds.exp2() * 1000.0).clamp(lo, hi);
            self.distribute(bounds, ms, n);
        }
    }

    /// A producer's classic buckets: their counts are kept with their own bounds (a bound
    /// the first batch did not have counts in the next one above it: still a true upper
    /// bound), and the HDR histogram takes each bucket's count spread evenly over the part
    /// of the bucket within [`lo`, `hi`] ms (so percentiles fall within their bucket, as
    /// `histogram_quantile` interpolates them). When the whole batch lies in one bucket (a
    /// producer's default bounds are often far too coarse), its `mean` is that bucket's
    /// too: the spread is centred on it, as wide as the bucket's part allows.
    fn record_explicit(&mut self, buckets: &[(f64, u64)], lo: f64, hi: f64, mean: f64) {
        /// Points a bucket's count is spread over.
        const SPREAD: u64 = 16;
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
            }
        }
        let one_bucket = buckets.iter().filter(|(_, n)| *n > 0).count() == 1;
        let mut below = 0.0;
        for &(le, n) in buckets {
            let (a, b) = ((below * 1000.0f64).max(lo), (le * 1000.0).min(hi));
            below = le;
            if n == 0 {
                continue;
            }
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
            let k = n.min(SPREAD);
            for j in 0..k {
                let share = n / k + u64::from(j < n % k);
                let ms = if k == 1 {
                    b
                } else {
                    a + (b - a) * j as f64 / (k - 1) as f64
                };
                self.record_hdr(ms, share);
            }
        }
    }

    /// Response time at quantile `q` in ms, one query (the reference `quantiles_ms` is
    /// tested against); `NaN` with no timed requests.
    #[cfg(test)]
    pub fn quantile_ms(&self, q: f64) -> f64 {
        match &self.hist {
            Some(h) if !h.is_empty() => {
                let v = h.value_at_quantile(q) as f64 * HDR_UNIT_MS;
                // HDR reports the bucket's highest equivalent value: keep it within [min, max].
                if q >= 1.0 {
                    self.max_ms
                } else {
                    v.clamp(self.min_ms.unwrap_or(0.0), self.max_ms)
                }
            }
            _ => f64::NAN,
        }
    }

    /// Response times at each of `qs` (ascending) in ms, in one pass over the histogram;
    /// `NaN` with no timed requests.
    pub fn quantiles_ms(&self, qs: &[f64]) -> Vec<(f64, f64)> {
        match &self.hist {
            Some(h) if !h.is_empty() => {
                let (lo, hi) = (self.min_ms.unwrap_or(0.0), self.max_ms);
                let mut values = h.value_at_quantiles(qs.iter().copied());
                qs.iter()
                    .map(|&q| {
                        let v = match values.next() {
                            Some(units) => units as f64 * HDR_UNIT_MS,
                            None => h.value_at_quantile(q) as f64 * HDR_UNIT_MS,
                        };
                        // The top quantile is the maximum itself, not its HDR bin (which
                        // rounds to 10 µs and may sit below it).
                        (q, if q >= 1.0 { hi } else { v.clamp(lo, hi) })
                    })
                    .collect()
            }
            _ => qs.iter().map(|&q| (q, f64::NAN)).collect(),
        }
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

    /// Cumulative bucket counts paired with their bounds; `+Inf` is left to the encoder.
    pub fn cumulative_buckets(&self, bounds: &[f64]) -> Vec<(f64, u64)> {
        let mut acc = 0;
        if let Some(explicit) = &self.explicit {
            return explicit
                .iter()
                .filter(|(le, _)| le.is_finite())
                .map(|&(le, c)| {
                    acc += c;
                    (le, acc)
                })
                .collect();
        }
        bounds
            .iter()
            .zip(&self.bucket_counts)
            .map(|(&le, &c)| {
                acc += c;
                (le, acc)
            })
            .collect()
    }

    /// The native histogram's buckets.
    pub fn native_buckets(&self) -> NativeBuckets {
        self.native.buckets()
    }

    /// The native histogram as served: none for an endpoint fed only classic buckets by
    /// its producer (an empty native histogram would claim there were no requests).
    pub fn served_native(&self) -> Option<NativeBuckets> {
        let b = self.native.buckets();
        let empty = b.zero_count == 0 && b.counts.is_empty();
        (!(empty && self.explicit.is_some())).then_some(b)
    }

    /// Bytes this endpoint holds on the heap and inline (for the memory figure).
    pub fn footprint_bytes(&self) -> usize {
        let hist = self
            .hist
            .as_ref()
            .map_or(0, |h| h.distinct_values() * 4 + 128);
        // The per-second window holds at most 15 entries of 16 bytes.
        let window = 15 * 16;
        std::mem::size_of::<Self>()
            + self.bucket_counts.len() * 8
            + hist
            + window
            + self.native.footprint_bytes()
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
    fn quantiles_within_hdr_precision() {
        let bounds = DEFAULT_BUCKETS;
        let mut e = EventEndpoint::new(&bounds);
        let mut exact = Vec::new();
        for i in 0..1000 {
            let ms = 50.0 + f64::from(i) * 0.25;
            exact.push(ms);
            e.record(&bounds, 0.0, Some(ms), 0, false);
        }
        let all = e.quantiles_ms(&EVENT_QUANTILES);
        for (i, q) in EVENT_QUANTILES.into_iter().enumerate() {
            assert_eq!(
                all[i],
                (q, e.quantile_ms(q)),
                "one pass gives what one query gives"
            );
            let rank = ((q * 1000.0).ceil() as usize).clamp(1, 1000) - 1;
            let want = exact[rank];
            let got = e.quantile_ms(q);
            assert!(
                (got - want).abs() <= want * 0.01 + HDR_UNIT_MS,
                "q={q} got={got} want={want}"
            );
        }
        assert!(EventEndpoint::new(&bounds).quantile_ms(0.5).is_nan());
    }

    #[test]
    fn footprint_under_sixteen_kib() {
        let e = EventEndpoint::new(&DEFAULT_BUCKETS);
        eprintln!(
            "event endpoint footprint: {} bytes (HDR counts: {})",
            e.footprint_bytes(),
            e.hist.as_ref().map_or(0, |h| h.distinct_values())
        );
        assert!(e.footprint_bytes() < 16 * 1024, "{}", e.footprint_bytes());
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
        assert!(e.footprint_bytes() < 16 * 1024, "{}", e.footprint_bytes());
        e.record(&DEFAULT_BUCKETS, 0.0, Some(15.0 * 60_000.0), 0, false);
        eprintln!(
            "… and one answer after 15 min: {} bytes",
            e.footprint_bytes()
        );
        assert!(e.footprint_bytes() < 16 * 1024, "{}", e.footprint_bytes());
    }
}
