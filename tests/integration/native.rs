//! Native histograms across load generators: three exporters, each fed a third of the
//! requests, scraped by a real Prometheus 2.42 with `--enable-feature=native-histograms`.
//! `histogram_quantile` over the sum of their native histograms is within 2 % of the exact
//! quantile of all the samples together, for (a) a real recorded Locust stream and (b) a
//! generated heavy-tailed one; the classic buckets' answer to the same query (three more
//! exporters offering only text) is printed beside it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::support::*;

const QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];
const GENERATORS: usize = 3;

/// splitmix64: a small, seeded, reproducible generator (no `rand` dependency).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// A known heavy-tailed distribution of response times in ms: 90 % log-normal (median
/// 40 ms, σ = 0.6), 10 % Pareto (x_m = 200 ms, α = 1.3: its p99.9 is minutes).
fn heavy_tailed(n: usize) -> Vec<f64> {
    let mut rng = Rng(0x5EED_1A7E_C0DE);
    (0..n)
        .map(|_| {
            if rng.uniform() < 0.9 {
                40.0 * (0.6 * rng.normal()).exp()
            } else {
                200.0 / rng.uniform().powf(1.0 / 1.3)
            }
        })
        .collect()
}

fn request_line(name: &str, ms: f64) -> String {
    format!(
        r#"{{"event":"request","request_type":"GET","name":"{name}","response_time":{ms},"response_length":0,"exception":null}}"#
    )
}

/// Splits request lines round-robin into one file per generator (other lines go to all);
/// returns the timed samples in seconds.
fn split(lines: &[String], dir: &Path, stem: &str) -> Vec<f64> {
    let mut files = vec![String::new(); GENERATORS];
    let mut samples = Vec::new();
    let mut k = 0;
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "request" || v.get("event").is_none() {
            if let Some(ms) = v["response_time"].as_f64() {
                samples.push(ms / 1000.0);
            }
            files[k % GENERATORS].push_str(line);
            files[k % GENERATORS].push('\n');
            k += 1;
        } else {
            for f in &mut files {
                f.push_str(line);
                f.push('\n');
            }
        }
    }
    for (i, f) in files.iter().enumerate() {
        std::fs::write(dir.join(format!("{stem}-{i}.jsonl")), f).unwrap();
    }
    samples
}

/// The exact q-quantile of `samples` (nearest rank: the value `histogram_quantile`'s
/// estimate shares a bucket with).
fn exact(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

#[test]
fn native_histogram_quantiles_within_two_percent_across_three_exporters() {
    let dir = tempfile::tempdir().unwrap();
    let recorded: Vec<String> =
        std::fs::read_to_string(fixture("events/locust-2.47.0-heavy-20s.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
    let names = ["/a", "/b", "/c", "/d"];
    let generated: Vec<String> = heavy_tailed(60_000)
        .into_iter()
        .enumerate()
        .map(|(i, ms)| request_line(names[i % names.len()], ms))
        .collect();
    let streams = [
        ("recorded", split(&recorded, dir.path(), "recorded")),
        ("generated", split(&generated, dir.path(), "generated")),
    ];
    let mut exporters = Vec::new();
    let mut jobs: BTreeMap<&str, Vec<std::net::SocketAddr>> = BTreeMap::new();
    for (job, formats) in [("native", "protobuf"), ("classic", "text")] {
        for i in 0..GENERATORS {
            let args: Vec<String> = streams
                .iter()
                .flat_map(|(stem, _)| {
                    [
                        "--events".to_owned(),
                        format!(
                            "{stem}={}",
                            dir.path().join(format!("{stem}-{i}.jsonl")).display()
                        ),
                    ]
                })
                .chain(["--web.formats".to_owned(), formats.to_owned()])
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let ex = Exporter::spawn(&args);
            jobs.entry(job).or_default().push(ex.addr);
            exporters.push(ex);
        }
    }
    let jobs: Vec<(&str, Vec<std::net::SocketAddr>, bool)> =
        jobs.into_iter().map(|(j, t)| (j, t, false)).collect();
    let Some(prometheus) = Prometheus::start_jobs(
        "native_histogram_quantiles_within_two_percent_across_three_exporters",
        &jobs,
        &["--enable-feature=native-histograms"],
    ) else {
        return;
    };
    let mut report =
        String::from("\nstream     q       exact (s)    native (s)  error    classic (s)  error\n");
    for (service, samples) in &streams {
        let n = samples.len() as f64;
        prometheus.wait_query(
            60,
            &format!(r#"histogram_count(sum(locust_request_duration_seconds{{job="native",service="{service}"}}))"#),
            |v| v == Some(n),
        );
        prometheus.wait_query(
            60,
            &format!(
                r#"sum(locust_request_duration_seconds_count{{job="classic",service="{service}"}})"#
            ),
            |v| v == Some(n),
        );
        for q in QUANTILES {
            let want = exact(samples, q);
            let native = prometheus
                .query(&format!(
                    r#"histogram_quantile({q}, sum(locust_request_duration_seconds{{job="native",service="{service}"}}))"#
                ))
                .unwrap();
            let classic = prometheus
                .query(&format!(
                    r#"histogram_quantile({q}, sum by (le) (locust_request_duration_seconds_bucket{{job="classic",service="{service}"}}))"#
                ))
                .unwrap();
            let (e_native, e_classic) = ((native - want) / want, (classic - want) / want);
            writeln!(
                report,
                "{service:<10} {q:<7} {want:<12.6} {native:<11.6} {:>+6.2}%  {classic:<12.6} {:>+7.1}%",
                e_native * 100.0,
                e_classic * 100.0
            )
            .unwrap();
            assert!(
                e_native.abs() <= 0.02,
                "{service} q={q}: native {native} vs exact {want} ({:+.2}%){report}",
                e_native * 100.0
            );
        }
    }
    eprintln!("{report}");
}
