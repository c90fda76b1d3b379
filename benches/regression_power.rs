//! Power and false-alarm rate of `regression<5%` (docs/baseline.md): pairs of simulated
//! runs, each endpoint's times log-normal (median 100 ms, log-spread 0.25, as the recorded
//! target's), the second run slower by 0, 5, 10 or 20 %, with 200, 1,000 or 5,000 requests
//! on each side; each run counted into a native histogram at the exporter's schema and
//! judged as the exporter judges (one endpoint: Holm's correction is the identity). Prints
//! the share of pairs flagged.
//!
//!     cargo bench --bench regression_power

use locust_exporter::model::native_histogram::{NativeHistogram, ZERO_THRESHOLD};
use locust_exporter::model::regression::{compare, Latencies, ALPHA};

/// xorshift64*: a fixed, reproducible stream (no dependency for a bench).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn run(rng: &mut Rng, n: usize, factor: f64) -> Latencies {
    let mut h = NativeHistogram::default();
    for _ in 0..n {
        h.observe(0.1 * factor * (0.25 * rng.normal()).exp());
    }
    let b = h.buckets();
    let buckets = b.buckets.iter().map(|&(i, c)| (i, c as f64));
    Latencies::from_native(b.schema, ZERO_THRESHOLD, b.zero_count as f64, buckets)
        .unwrap_or_else(|| panic!("no times"))
}

fn main() {
    const TRIALS: usize = 200;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    println!("flagged by regression<5% in {TRIALS} simulated pairs (log-normal, spread 0.25):");
    println!("| slower by | 200 requests | 1,000 requests | 5,000 requests |");
    println!("|--:|--:|--:|--:|");
    let mut compare_time = std::time::Duration::ZERO;
    let mut compared = 0u32;
    for effect in [0.0, 0.05, 0.10, 0.20] {
        let mut cells = Vec::new();
        for n in [200, 1000, 5000] {
            let flagged = (0..TRIALS)
                .filter(|_| {
                    let a = run(&mut rng, n, 1.0);
                    let b = run(&mut rng, n, 1.0 + effect);
                    let started = std::time::Instant::now();
                    let c = compare(&a, &b);
                    compare_time += started.elapsed();
                    compared += 1;
                    c.effect >= 0.05 && c.p_value < ALPHA
                })
                .count();
            cells.push(format!("{:.1} %", 100.0 * flagged as f64 / TRIALS as f64));
        }
        println!("| {:.0} % | {} |", effect * 100.0, cells.join(" | "));
    }
    println!(
        "one comparison (two native histograms, Mann-Whitney on their buckets): {:.1?} on average",
        compare_time / compared.max(1)
    );
}
