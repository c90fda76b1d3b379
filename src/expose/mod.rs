//! Snapshot → Prometheus text exposition (format 0.0.4). Pure: no locks, no I/O, so golden
//! tests and benches call it directly.
//!
//! ## Motivation: a direct text writer
//! The values are re-read from a snapshot on every scrape ("const metrics"), so there is no
//! registry to keep. Building `prometheus` metric-family structs for 10,000 endpoints
//! (about 300,000 samples, each with its own label strings) took ~250 ms; writing the text
//! directly, with each endpoint's escaped label set rendered once and reused by every
//! family, meets SPEC §7 (see `benches/render.rs`). The `prometheus` crate still encodes
//! the process metrics (`extra`), and the output is checked by `promtool` in the tests.

pub mod compat;
pub mod meta;
pub mod native;
pub mod seed;
mod text;

use prometheus::proto::MetricFamily;
use prometheus::{Encoder, TextEncoder};

use crate::model::snapshot::Snapshot;
use text::Text;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which metric sets to serve (`--metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sets {
    /// The seed Python collector's names (`locust_stats_*`, …).
    pub seed: bool,
    /// The native, convention-following set.
    pub native: bool,
    /// The ContainerSolutions (Go) exporter's names, for its dashboards.
    pub containersolutions: bool,
}

impl Default for Sets {
    fn default() -> Self {
        Sets {
            seed: true,
            native: true,
            containersolutions: false,
        }
    }
}

/// About how long the exposition will be, so the buffer is allocated once.
fn estimate_bytes(snap: &Snapshot) -> usize {
    let mut bytes = 4096 + snap.sources.len() * 400;
    for s in &snap.services {
        for e in s.endpoints.iter().chain(&s.total) {
            let labels = s.name.len() + e.name.len() + e.method.len() + 40;
            let samples = 24 + e.quantiles.len() + e.buckets.as_ref().map_or(0, Vec::len);
            bytes += (labels + 48) * samples;
        }
        bytes += s
            .errors
            .iter()
            .map(|e| 2 * (e.name.len() + e.error.len() + 120))
            .sum::<usize>();
    }
    bytes
}

/// The text exposition of `snap` (self-metrics always included), followed by `extra`
/// families (the process collector's), encoded by the `prometheus` text encoder.
pub fn render(snap: &Snapshot, sets: Sets, extra: &[MetricFamily]) -> String {
    let mut out = Text::with_capacity(estimate_bytes(snap));
    if sets.seed {
        seed::write(snap, &mut out);
    }
    if sets.native {
        native::write(snap, &mut out, sets.containersolutions);
    }
    if sets.containersolutions {
        compat::write(snap, &mut out, sets.native);
    }
    meta::write(snap, &mut out);
    let mut text = out.into_string();
    let extra: Vec<MetricFamily> = extra
        .iter()
        .filter(|f| !f.get_metric().is_empty())
        .cloned()
        .collect();
    let mut buf = Vec::new();
    if TextEncoder::new().encode(&extra, &mut buf).is_ok() {
        text.push_str(&String::from_utf8_lossy(&buf));
    }
    text
}
