//! Percentiles as Locust computes them (`locust/stats.py`, `calculate_response_time_percentile`):
//! with `n` timed requests and a fraction `q`, the `⌊n·q⌋ + 1`-th smallest response time
//! (the largest for `q = 1`). Requests without a time (`response_time=None`) are not among
//! the `n`, as Locust ≥ 2.46.2 leaves them out.
//!
//! An event-fed endpoint answers at that rank from the best it holds:
//! * **its exact response times** while it has seen at most [`MAX_EXACT_TIMES`] distinct ones
//!   ([`ExactTimes`]): the answer is the request's own time, as Locust's would be before its
//!   rounding (ten requests of 10, 20, … 100 ms: median 60, p90 100);
//! * else **its native histogram** (schema 6, or a producer's coarser one): the geometric
//!   middle of the bucket that holds the request at that rank, within half a bucket's width
//!   (0.55 % at schema 6) of its time; the smallest and largest requests are exact (`min`,
//!   `max`), and so is any answer at rank 1 or `n`.

use super::native_histogram::{upper_bound, NativeHistogram};

/// Most distinct response times an endpoint keeps exactly; past it the exact times are
/// let go (their memory freed) and percentiles come from the native histogram.
pub const MAX_EXACT_TIMES: usize = 64;

/// The 1-based rank Locust's percentile reads among `n` timed requests for `q` (0 … 1):
/// `int(n * q) + 1` with Python's float arithmetic, at most `n`.
pub fn locust_rank(n: u64, q: f64) -> u64 {
    let below = (n as f64 * q).max(0.0) as u64; // truncation, as Python's int()
    below.saturating_add(1).min(n)
}

/// How an endpoint's percentiles were found (the summary says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// From a Locust table (CSV, `--json-file`, web UI): the caller knows which.
    #[default]
    Locust,
    /// Every response time kept exactly.
    Exact,
    /// A native histogram at this schema: the bucket's middle, within half its width.
    Histogram(i32),
    /// Part of the times came as a producer's classic buckets (OTLP explicit bounds, or a
    /// count and sum alone) and were spread over them: only as good as those buckets.
    Spread,
}

/// Distinct response times (ms) and how often each came, ascending, while there are at
/// most [`MAX_EXACT_TIMES`] of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactTimes {
    /// `None` once there were more (or a batch brought times it does not know exactly).
    times: Option<Vec<(f64, u64)>>,
}

impl ExactTimes {
    /// An empty store (no allocation until the first time).
    pub fn new() -> Self {
        ExactTimes {
            times: Some(Vec::new()),
        }
    }

    /// Counts `n` requests of exactly `ms`.
    pub fn add(&mut self, ms: f64, n: u64) {
        let Some(times) = &mut self.times else { return };
        match times.binary_search_by(|(t, _)| t.total_cmp(&ms)) {
            Ok(i) => times[i].1 = times[i].1.saturating_add(n),
            Err(_) if times.len() >= MAX_EXACT_TIMES => self.times = None,
            Err(i) => times.insert(i, (ms, n)),
        }
    }

    /// Some times came that are not known exactly: the store is let go.
    pub fn forget(&mut self) {
        self.times = None;
    }

    /// True while every time is known exactly.
    pub fn is_exact(&self) -> bool {
        self.times.is_some()
    }

    /// The time at 1-based `rank`, when every time is known.
    fn at(&self, rank: u64) -> Option<f64> {
        let mut seen = 0u64;
        for &(ms, n) in self.times.as_ref()? {
            seen = seen.saturating_add(n);
            if seen >= rank {
                return Some(ms);
            }
        }
        None
    }

    /// Heap bytes held.
    pub fn footprint_bytes(&self) -> usize {
        self.times.as_ref().map_or(0, |t| t.capacity() * 16)
    }
}

/// What an endpoint's distribution holds, for [`quantiles_ms`].
pub struct Distribution<'a> {
    /// Timed requests.
    pub n: u64,
    /// Smallest and largest time, ms.
    pub min_ms: f64,
    /// See `min_ms`.
    pub max_ms: f64,
    /// The exact times, while known.
    pub exact: &'a ExactTimes,
    /// Every timed request, in buckets.
    pub native: &'a NativeHistogram,
    /// Part of the native histogram was spread over a producer's classic buckets.
    pub spread: bool,
}

impl Distribution<'_> {
    /// How the percentiles are found.
    pub fn precision(&self) -> Precision {
        if self.exact.is_exact() {
            Precision::Exact
        } else if self.spread {
            Precision::Spread
        } else {
            Precision::Histogram(self.native.schema())
        }
    }
}

/// The time in ms at each of `qs` (ascending fractions) by Locust's rank; `NaN` with no timed
/// request.
pub fn quantiles_ms(d: &Distribution<'_>, qs: &[f64]) -> Vec<(f64, f64)> {
    if d.n == 0 {
        return qs.iter().map(|&q| (q, f64::NAN)).collect();
    }
    let ranks: Vec<u64> = qs.iter().map(|&q| locust_rank(d.n, q)).collect();
    let slots = if d.exact.is_exact() {
        Vec::new()
    } else {
        d.native.slots_at_ranks(&ranks)
    };
    qs.iter()
        .zip(&ranks)
        .enumerate()
        .map(|(i, (&q, &rank))| {
            let v = if rank <= 1 {
                d.min_ms
            } else if rank >= d.n {
                d.max_ms
            } else if let Some(ms) = d.exact.at(rank) {
                ms
            } else {
                match slots.get(i).copied().flatten() {
                    // The zero bucket: at most a microsecond.
                    None => d.min_ms,
                    Some((index, schema)) => {
                        let middle = (upper_bound(index - 1, schema) * upper_bound(index, schema))
                            .sqrt()
                            * 1000.0;
                        middle.clamp(d.min_ms, d.max_ms)
                    }
                }
            };
            (q, v)
        })
        .collect()
}

/// Locust's own function, as it is written (`calculate_response_time_percentile`): over a
/// map of rounded response time → count, walked from the largest down. The tests' reference.
#[cfg(test)]
pub fn locust_reference(times: &std::collections::BTreeMap<u64, u64>, n: u64, q: f64) -> u64 {
    let wanted = (n as f64 * q) as u64;
    let mut processed = 0u64;
    for (&t, &count) in times.iter().rev() {
        processed += count;
        if n.saturating_sub(processed) <= wanted {
            return t;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn distribution_of(times: &[f64]) -> (ExactTimes, NativeHistogram) {
        let mut exact = ExactTimes::new();
        let mut native = NativeHistogram::default();
        for &ms in times {
            exact.add(ms, 1);
            native.observe(ms / 1000.0);
        }
        (exact, native)
    }

    fn quantiles_of(times: &[f64], qs: &[f64]) -> Vec<(f64, f64)> {
        let (exact, native) = distribution_of(times);
        let d = Distribution {
            n: times.len() as u64,
            min_ms: times.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: times.iter().copied().fold(0.0, f64::max),
            exact: &exact,
            native: &native,
            spread: false,
        };
        quantiles_ms(&d, qs)
    }

    #[test]
    fn ten_requests_give_locusts_median_and_p90() {
        let times: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
        let got = quantiles_of(&times, &[0.5, 0.9, 1.0]);
        assert_eq!(got, vec![(0.5, 60.0), (0.9, 100.0), (1.0, 100.0)]);
        // Locust's own function says the same.
        let map: BTreeMap<u64, u64> = times.iter().map(|&t| (t as u64, 1)).collect();
        assert_eq!(locust_reference(&map, 10, 0.5), 60);
        assert_eq!(locust_reference(&map, 10, 0.9), 100);
    }

    #[test]
    fn ranks_follow_pythons_float_truncation() {
        assert_eq!(locust_rank(10, 0.5), 6);
        assert_eq!(locust_rank(10, 0.9), 10);
        assert_eq!(locust_rank(10, 0.95), 10);
        assert_eq!(
            locust_rank(100, 0.29),
            29,
            "100 * 0.29 is 28.999… in floats"
        );
        assert_eq!(locust_rank(1, 0.5), 1);
        assert_eq!(locust_rank(7, 0.0), 1);
        assert_eq!(locust_rank(7, 1.0), 7);
    }

    #[test]
    fn past_the_exact_limit_the_histogram_answers_and_memory_is_freed() {
        let times: Vec<f64> = (0..1000).map(|i| 10.0 + f64::from(i) * 0.37).collect();
        let (exact, _) = distribution_of(&times);
        assert!(!exact.is_exact());
        assert_eq!(exact.footprint_bytes(), 0);
        let got = quantiles_of(&times, &[0.5, 0.95]);
        for (q, v) in got {
            let want = times[(locust_rank(1000, q) - 1) as usize];
            assert!((v - want).abs() <= want * 0.0055, "q={q} {v} vs {want}");
        }
    }

    /// A sample of response times with ties and sparse tails: mostly a few fast values
    /// (many ties), some spread out, a few far out.
    fn samples() -> impl Strategy<Value = Vec<f64>> {
        let one = prop_oneof![
            6 => (1u32..20).prop_map(f64::from),
            3 => 1.0f64..500.0,
            1 => 1_000.0f64..60_000.0,
        ];
        proptest::collection::vec(one, 1..5_000)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Against a reference implementation of Locust's function on the same samples: the
        /// exporter's percentile is the sample at Locust's rank, exactly while the times are
        /// few, else within half a schema-6 bucket of it; and Locust's own answer (over its
        /// rounded buckets) is that same sample rounded as Locust rounds it.
        #[test]
        fn the_rank_is_locusts(times in samples(), qi in 0usize..11) {
            let qs = [0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0];
            let q = qs[qi];
            let n = times.len() as u64;
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            let at_rank = sorted[(locust_rank(n, q) - 1) as usize];
            let got = quantiles_of(&times, &[q])[0].1;
            let distinct = {
                let mut d = sorted.clone();
                d.dedup();
                d.len()
            };
            if distinct <= MAX_EXACT_TIMES {
                prop_assert_eq!(got, at_rank);
            } else {
                prop_assert!((got - at_rank).abs() <= at_rank * 0.0055, "q={} got {} want {}", q, got, at_rank);
            }
            // Locust's rounding of a time into its buckets (2 significant digits).
            let round = |t: f64| -> u64 {
                let r = if t < 100.0 { t.round_ties_even() } else if t < 1000.0 { (t / 10.0).round_ties_even() * 10.0 } else if t < 10_000.0 { (t / 100.0).round_ties_even() * 100.0 } else { (t / 1000.0).round_ties_even() * 1000.0 };
                r as u64
            };
            let mut map = BTreeMap::new();
            for &t in &times {
                *map.entry(round(t)).or_insert(0u64) += 1;
            }
            prop_assert_eq!(locust_reference(&map, n, q), round(at_rank));
        }
    }
}
