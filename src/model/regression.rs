//! Is an endpoint slower than in the baseline run, beyond noise? (`regression<5%`,
//! `docs/baseline.md`).
//!
//! Each run's response times of an endpoint are known as a distribution
//! ([`Latencies`]): a native histogram's buckets (event and OTLP input, 1.09 % wide at
//! schema 6), a classic histogram refined by the served quantiles (a baseline read from a
//! store without native histograms), or Locust's percentile columns (CSV and web UI). Each is
//! a list of bins, uniform within a bin.
//!
//! [`compare`] answers two questions:
//! * **how much slower** — the *effect*: this run's median over the baseline's, minus one
//!   (each median interpolated within its bin);
//! * **how sure** — a one-sided Mann–Whitney rank test of "this run's times are
//!   stochastically larger": both distributions are laid on the union of their bin edges,
//!   `U` counts pairs (baseline, now) with now slower (pairs in one cell count half), and its
//!   normal approximation has the tie-corrected variance, each cell a tie group. The test
//!   sees the whole distribution, the samples' sizes and the bins' coarseness: a cell is a
//!   tie, so coarse bins cost power, never false alarms.
//!
//! An endpoint regresses when the effect is at least the threshold **and** the
//! Holm-adjusted p-value (over the endpoints one check compares, [`holm`]) is below
//! [`ALPHA`]. False-alarm rates and power measured on recorded runs are in docs/baseline.md.

/// The significance level: a regression is flagged when the Holm-adjusted one-sided
/// p-value is below it.
pub const ALPHA: f64 = 0.01;

/// Fewest requests on either side for a comparison; below, the endpoint passes with a note.
pub const MIN_REQUESTS: u64 = 20;

/// How finely a run's distribution is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A native histogram at this schema.
    Native(i32),
    /// Classic histogram buckets (with the served quantiles, when known).
    Classic,
    /// Locust's percentile columns.
    Percentiles,
}

impl Resolution {
    /// As the summary says it.
    pub fn describe(self) -> &'static str {
        match self {
            Resolution::Native(_) => "native histogram",
            Resolution::Classic => "classic buckets",
            Resolution::Percentiles => "Locust's percentiles",
        }
    }
}

/// Response times (seconds) as bins `(low, high, count)`, ascending and not overlapping,
/// counts uniform within a bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    bins: Vec<(f64, f64, f64)>,
    total: f64,
    /// How finely they are known.
    pub resolution: Resolution,
}

/// The width given to a bin that is one value (a run of equal percentiles): relative.
const POINT_WIDTH: f64 = 1e-9;

impl Latencies {
    /// From bins `(low, high, count)` (a zero-width bin is one value), in any order.
    pub fn from_bins(bins: Vec<(f64, f64, f64)>, resolution: Resolution) -> Option<Latencies> {
        Latencies::new(bins, resolution)
    }

    fn new(mut bins: Vec<(f64, f64, f64)>, resolution: Resolution) -> Option<Latencies> {
        bins.retain(|b| b.2 > 0.0 && b.0.is_finite() && b.1.is_finite() && b.1 >= b.0);
        for b in &mut bins {
            if b.1 <= b.0 {
                b.1 = b.0 + b.0.abs().max(1e-12) * POINT_WIDTH;
            }
        }
        bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = bins.iter().map(|b| b.2).sum();
        (total > 0.0).then_some(Latencies {
            bins,
            total,
            resolution,
        })
    }

    /// From a native histogram: `schema`, the zero bucket's count (times at or below
    /// `zero_threshold`) and `(index, count)` buckets.
    pub fn from_native(
        schema: i32,
        zero_threshold: f64,
        zero_count: f64,
        buckets: impl IntoIterator<Item = (i32, f64)>,
    ) -> Option<Latencies> {
        let mut bins: Vec<(f64, f64, f64)> = buckets
            .into_iter()
            .map(|(i, n)| {
                (
                    super::native_histogram::upper_bound(i - 1, schema),
                    super::native_histogram::upper_bound(i, schema),
                    n,
                )
            })
            .collect();
        if zero_count > 0.0 {
            bins.push((0.0, zero_threshold.max(1e-12), zero_count));
        }
        Latencies::new(bins, Resolution::Native(schema))
    }

    /// From points of the cumulative distribution `(seconds, fraction at or below)` of
    /// `count` times: a classic histogram's buckets, served quantiles, Locust's percentile
    /// columns with the minimum as fraction 0. Points out of order (rounded percentiles)
    /// are made monotone.
    pub fn from_cdf(
        points: &[(f64, f64)],
        count: f64,
        resolution: Resolution,
    ) -> Option<Latencies> {
        let mut pts: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(v, f)| v.is_finite() && f.is_finite() && *v >= 0.0)
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut bins = Vec::new();
        let mut prev: Option<(f64, f64)> = None;
        for (v, f) in pts {
            let f = f.clamp(0.0, 1.0);
            match prev {
                None => {
                    if f > 0.0 {
                        bins.push((v, v, f * count));
                    }
                    prev = Some((v, f));
                }
                Some((pv, pf)) => {
                    if f > pf {
                        bins.push((pv, v, (f - pf) * count));
                        prev = Some((v, f));
                    } else {
                        prev = Some((v, pf));
                    }
                }
            }
        }
        Latencies::new(bins, resolution)
    }

    /// From what a run's summary holds when it has no native histogram: `count` times,
    /// classic cumulative buckets `(le seconds, count at or below)` where there are some,
    /// the served quantiles `(q, seconds)` and the fastest time, all as points of one
    /// cumulative distribution (`Classic` with buckets, else `Percentiles`).
    pub fn from_summary(
        classic: Option<&[(f64, f64)]>,
        quantiles: &[(f64, f64)],
        min: Option<f64>,
        count: f64,
    ) -> Option<Latencies> {
        let mut points: Vec<(f64, f64)> = quantiles.iter().map(|&(q, v)| (v, q)).collect();
        points.extend(min.map(|m| (m, 0.0)));
        let resolution = match classic {
            Some(buckets) => {
                points.extend(
                    buckets
                        .iter()
                        .filter(|(le, _)| le.is_finite())
                        .map(|&(le, c)| (le, c / count.max(1.0))),
                );
                Resolution::Classic
            }
            None => Resolution::Percentiles,
        };
        Latencies::from_cdf(&points, count, resolution)
    }

    /// How many times.
    pub fn count(&self) -> f64 {
        self.total
    }

    /// The time at fraction `q` of them, interpolated within its bin.
    pub fn quantile(&self, q: f64) -> f64 {
        let target = q.clamp(0.0, 1.0) * self.total;
        let mut below = 0.0;
        for &(lo, hi, n) in &self.bins {
            if below + n >= target {
                let within = if n > 0.0 { (target - below) / n } else { 0.0 };
                return lo + (hi - lo) * within.clamp(0.0, 1.0);
            }
            below += n;
        }
        self.bins.last().map_or(f64::NAN, |b| b.1)
    }

    /// The counts of each cell between consecutive `edges`, spread uniformly within bins.
    fn on_grid(&self, edges: &[f64]) -> Vec<f64> {
        let mut cells = vec![0.0; edges.len().saturating_sub(1)];
        let mut k = 0;
        for &(lo, hi, n) in &self.bins {
            while k + 1 < edges.len() && edges[k + 1] <= lo {
                k += 1;
            }
            let mut j = k;
            let width = hi - lo;
            while j + 1 < edges.len() && edges[j] < hi {
                let a = edges[j].max(lo);
                let b = edges[j + 1].min(hi);
                if b > a {
                    cells[j] += n * (b - a) / width;
                }
                j += 1;
            }
        }
        cells
    }
}

/// One endpoint compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// This run's median over the baseline's, minus one (0.1: 10 % slower).
    pub effect: f64,
    /// One-sided p-value of "this run is slower" (before the correction for many
    /// endpoints).
    pub p_value: f64,
    /// The baseline's median, seconds.
    pub baseline_median: f64,
    /// This run's median, seconds.
    pub median: f64,
}

/// Compares this run's times `now` with the `baseline`'s.
pub fn compare(baseline: &Latencies, now: &Latencies) -> Comparison {
    let mut edges: Vec<f64> = baseline
        .bins
        .iter()
        .chain(&now.bins)
        .flat_map(|b| [b.0, b.1])
        .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let x = baseline.on_grid(&edges);
    let y = now.on_grid(&edges);
    let (n1, n2) = (baseline.total, now.total);
    let n = n1 + n2;
    let mut below_x = 0.0;
    let mut u = 0.0;
    let mut ties = 0.0;
    for (xk, yk) in x.iter().zip(&y) {
        u += yk * (below_x + 0.5 * xk);
        below_x += xk;
        let t = xk + yk;
        ties += t * t * t - t;
    }
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    let p_value = if variance > 0.0 {
        upper_tail((u - mean) / variance.sqrt())
    } else {
        1.0
    };
    let baseline_median = baseline.quantile(0.5);
    let median = now.quantile(0.5);
    let effect = if baseline_median > 0.0 {
        median / baseline_median - 1.0
    } else {
        0.0
    };
    Comparison {
        // Rounded so the same runs read from a file or a store give the same figures.
        effect: (effect * 1e6).round() / 1e6,
        p_value,
        baseline_median,
        median,
    }
}

/// Holm's step-down adjustment of `p` (one per endpoint): each adjusted value, in `p`'s
/// order. Controls the chance of any false alarm among the endpoints at the level used.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let v = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(v);
        adjusted[i] = running;
    }
    adjusted
}

/// P(Z > z) for a standard normal Z.
pub fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::native_histogram::NativeHistogram;

    fn native(times_ms: impl Iterator<Item = f64>) -> Latencies {
        let mut h = NativeHistogram::default();
        for t in times_ms {
            h.observe(t / 1000.0);
        }
        let b = h.buckets();
        let buckets = b.buckets.iter().map(|&(i, n)| (i, n as f64));
        match Latencies::from_native(b.schema, 1e-6, b.zero_count as f64, buckets) {
            Some(l) => l,
            None => panic!("no times"),
        }
    }

    /// Deterministic log-normal-ish times: median `m` ms, spread over quantiles.
    fn times(m: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| {
            let u = (i as f64 + 0.5) / n as f64;
            // Logistic quantile function as a stand-in for the normal's.
            m * (0.25 * (u / (1.0 - u)).ln() / 1.7).exp()
        })
    }

    #[test]
    fn the_same_distribution_is_no_regression_and_a_slower_one_is() {
        let base = native(times(40.0, 1000));
        let same = compare(&base, &native(times(40.0, 1000)));
        assert!(same.effect.abs() < 0.01, "{same:?}");
        assert!((0.3..=0.7).contains(&same.p_value), "{same:?}");
        let slower = compare(&base, &native(times(44.0, 1000)));
        assert!((slower.effect - 0.10).abs() < 0.01, "{slower:?}");
        assert!(slower.p_value < 1e-6, "{slower:?}");
        let faster = compare(&base, &native(times(36.0, 1000)));
        assert!(faster.effect < -0.05 && faster.p_value > 0.99, "{faster:?}");
    }

    #[test]
    fn percentiles_and_native_histograms_agree_on_the_effect() {
        let p = |m: f64| {
            let pts: Vec<(f64, f64)> = [0.0, 0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0]
                .iter()
                .map(|&q| {
                    let v: Vec<f64> = times(m, 1000).collect();
                    let i = ((q * 1000.0) as usize).min(999);
                    (v[i] / 1000.0, q)
                })
                .collect();
            match Latencies::from_cdf(&pts, 1000.0, Resolution::Percentiles) {
                Some(l) => l,
                None => panic!("empty"),
            }
        };
        let c = compare(&p(40.0), &p(44.0));
        assert!((c.effect - 0.10).abs() < 0.01, "{c:?}");
        assert!(c.p_value < 1e-3, "{c:?}");
        let n = compare(&native(times(40.0, 1000)), &p(44.0));
        assert!((n.effect - 0.10).abs() < 0.01, "{n:?}");
    }

    #[test]
    fn holm_adjusts_step_down() {
        let a = holm(&[0.01, 0.04, 0.03, 0.2]);
        let want = [0.04, 0.09, 0.09, 0.2];
        for (x, y) in a.iter().zip(want) {
            assert!((x - y).abs() < 1e-12, "{a:?}");
        }
        assert!((upper_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((upper_tail(2.326_347_874) - 0.01).abs() < 1e-7);
        assert!((upper_tail(-1.644_853_627) - 0.95).abs() < 1e-7);
    }
}
