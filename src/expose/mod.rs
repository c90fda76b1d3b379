//! Snapshot → an exposition: Prometheus text 0.0.4, OpenMetrics 1.0 or the Prometheus
//! protobuf format ([`Format`]). Pure: no locks, no I/O, so golden tests and benches call
//! it directly. The metric sets write through the [`format::encoder::Encoder`] seam, so each family
//! is written once for every format.
//!
//! ## Motivation: a direct text writer
//! The values are re-read from a snapshot on every scrape ("const metrics"), so there is no
//! registry to keep. Building `prometheus` metric-family structs for 10,000 endpoints
//! (about 300,000 samples, each with its own label strings) took ~250 ms; writing the text
//! directly, with each endpoint's escaped label set rendered once and reused by every
//! family, renders 10,000 endpoints within the budget of `docs/performance.md` (see
//! `benches/render.rs`). The `prometheus` crate still collects the process metrics, which
//! are written through the same encoders; the output is checked by `promtool` and a real
//! Prometheus in the tests.

pub mod always;
pub mod format;
pub mod sets;

use std::sync::Arc;

use crate::model::snapshot::Snapshot;
use crate::support::report::SelfMetrics;
use always::self_metrics;
use format::encoder::{Encoder, Only};
use format::protobuf::ProtobufEncoder;
use format::text::{Dialect, TextEncoder};

/// The `Content-Type` of text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4: the fallback.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// Prometheus protobuf, delimited `MetricFamily` messages (native histograms).
    Protobuf,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Text, Format::OpenMetrics, Format::Protobuf];

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            }
        }
    }

    /// What it is, for `--web.formats`' help ([`formats_help`]).
    pub fn about(self) -> &'static str {
        match self {
            Format::Text => "Prometheus 0.0.4",
            Format::OpenMetrics => "OpenMetrics 1.0",
            Format::Protobuf => "the Prometheus protobuf format, the one with native histograms",
        }
    }

    /// The name `--web.formats` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::OpenMetrics => "openmetrics",
            Format::Protobuf => "protobuf",
        }
    }

    /// True when an `Accept` media range of `media` (lower case) with the parameters
    /// `param` gives names this format.
    pub fn is_named_by<'a>(self, media: &str, param: &dyn Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            Format::Protobuf => {
                media == "application/vnd.google.protobuf"
                    && param("proto") == Some("io.prometheus.client.MetricFamily")
                    && param("encoding") == Some("delimited")
            }
            Format::OpenMetrics => {
                media == "application/openmetrics-text"
                    && matches!(param("version"), None | Some("1.0.0") | Some("0.0.1"))
            }
            Format::Text => {
                media == "text/plain" && matches!(param("version"), None | Some("0.0.4"))
            }
        }
    }

    /// The format named `name` (as [`Format::name`]).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}
pub use sets::Sets;

/// `--web.formats`' help, from [`Format::ALL`].
pub fn formats_help() -> String {
    let formats: Vec<String> = Format::ALL
        .iter()
        .map(|f| format!("{} ({})", f.name(), f.about()))
        .collect();
    format!(
        "Exposition formats offered to scrapers that ask for them (Accept header, q-values): {}. A scraper that asks for none of them gets text, or the first one listed without text. [default: every format]",
        formats.join(", ")
    )
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

/// The parts whose own metrics follow the snapshot's (the process, the HTTP server, the
/// outputs).
pub type Parts = [Arc<dyn SelfMetrics>];

/// Writes everything `snap` says through `out`: the chosen sets, then what is always
/// served (the run and its checks, the snapshot's self-metrics). The one composition of
/// the exposition: `/metrics`, `--once`, the Pushgateway ([`write()`]) and remote write all
/// write through it, so an always-served block added here reaches every output.
pub fn write_snapshot<E: Encoder>(snap: &Snapshot, sets: Sets, out: &mut E) {
    sets::write(snap, sets, out);
    always::run::write(snap, out);
    self_metrics::write(snap, out);
}

/// Writes the exposition through `out`: the `run` label on every series, the snapshot
/// ([`write_snapshot`]), then each part's self-metrics.
pub fn write<E: Encoder>(snap: &Snapshot, sets: Sets, parts: &Parts, out: &mut E) {
    if let Some(run) = &snap.run {
        out.label_every_series("run", run);
    }
    write_snapshot(snap, sets, out);
    self_metrics::write_parts(parts, out);
}

/// The exposition of `snap` in `format` (self-metrics always included), followed by the
/// self-metrics of `parts`.
pub fn render_as(format: Format, snap: &Snapshot, sets: Sets, parts: &Parts) -> Vec<u8> {
    render_only(format, snap, sets, parts, &[])
}

/// Like [`render_as`], with only the families `names` ask for (all when `names` is empty).
pub fn render_only(
    format: Format,
    snap: &Snapshot,
    sets: Sets,
    parts: &Parts,
    names: &[String],
) -> Vec<u8> {
    fn go<E: Encoder>(
        mut out: E,
        snap: &Snapshot,
        sets: Sets,
        parts: &Parts,
        names: &[String],
    ) -> Vec<u8> {
        if names.is_empty() {
            write(snap, sets, parts, &mut out);
            out.finish()
        } else {
            let mut only = Only::new(out, names.to_vec());
            write(snap, sets, parts, &mut only);
            only.finish()
        }
    }
    let bytes = if names.is_empty() {
        estimate_bytes(snap)
    } else {
        4096
    };
    match format {
        Format::Text | Format::OpenMetrics => {
            let dialect = if format == Format::Text {
                Dialect::Prometheus
            } else {
                Dialect::OpenMetrics
            };
            go(TextEncoder::new(dialect, bytes), snap, sets, parts, names)
        }
        Format::Protobuf => go(ProtobufEncoder::new(bytes / 2), snap, sets, parts, names),
    }
}

/// The text exposition (format 0.0.4) of `snap`, followed by the self-metrics of `parts`.
pub fn render(snap: &Snapshot, sets: Sets, parts: &Parts) -> String {
    let bytes = render_as(Format::Text, snap, sets, parts);
    // The text encoder writes a String's bytes.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests;
