//! The run report (`--report.file`, and live at `/report`): one self-contained HTML page of
//! a snapshot (`docs/report.md`).
//!
//! Everything a reader needs without JavaScript is HTML written here: the run's identity,
//! the verdict and every check (with the same words as the summary), each endpoint's
//! figures in a sortable table (with the source of its percentiles, and the baseline's
//! beside them), errors and exceptions. The charts are drawn in the browser by uPlot
//! (1.6.32, MIT, vendored by `contrib/vendor-uplot.sh` and inlined at build time) from a
//! JSON block of the same page: per interval of the run ([`crate::model::timeline`]) users,
//! requests/s and failures/s, p50/p95/p99 per endpoint and for the total, and each
//! endpoint's distribution over the whole run. A Content-Security-Policy lets the page load
//! nothing from anywhere (the live page may fetch itself again).
//!
//! ## Motivation: uPlot over SVG drawn in Rust
//! The charts need a chooser (a hundred endpoints × three percentiles cannot be drawn at
//! once), hover read-outs and zoom: uPlot gives them in 51 KB with no dependency, and the
//! crate gains none; charts drawn in Rust (plotters) would add a dependency tree to the
//! binary and a static SVG per endpoint and chart, larger than the data they draw.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::baseline::Baseline;
use crate::model::check::{format_value, Basis, Severity, Stat, Status, Unit};
use crate::model::judge::{
    failed_checks, outcomes_of, run_seconds, run_window, statistic, verdict, Verdict,
};
use crate::model::native_histogram::{upper_bound, NativeBuckets, NativeHistogram};
use crate::model::percentile::Precision;
use crate::model::snapshot::{EndpointStats, ServiceSnapshot, Snapshot};
use crate::model::timeline::{total_key, Key, QUANTILES};
use crate::model::utc_iso;
use crate::output::summary;
use crate::support::markup::escape;

const UPLOT_JS: &str = include_str!("vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("vendor/LICENSE-uPlot");
const PAGE_JS: &str = include_str!("page.js");
const PAGE_CSS: &str = include_str!("page.css");

/// The schema distributions are drawn at: 4 buckets per power of two (each ±9 %).
const DIST_SCHEMA: i32 = 2;

/// What a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The snapshot drawn (the final one for `--report.file`).
    pub snap: &'a Snapshot,
    /// The run ended (the verdict is judged), as for the summary.
    pub finished: bool,
    /// Served at `/report` while the exporter runs: the page refreshes itself.
    pub live: bool,
    /// When the report is made, Unix seconds.
    pub now: f64,
}

/// One row's values per interval.
#[derive(Debug, Default, Serialize)]
struct Series {
    requests: Vec<u64>,
    rps: Vec<Option<f64>>,
    fps: Vec<Option<f64>>,
    p50: Vec<Option<f64>>,
    p95: Vec<Option<f64>>,
    p99: Vec<Option<f64>>,
}

/// A row's distribution over the whole run.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Dist {
    /// Native buckets at [`DIST_SCHEMA`]: upper bounds (ms) and counts.
    Buckets {
        le: Vec<f64>,
        n: Vec<u64>,
        source: String,
    },
    /// Locust's own percentiles (CSV input carries no distribution): percent and ms.
    Percentiles {
        q: Vec<f64>,
        ms: Vec<f64>,
        source: String,
    },
}

/// One service's chart data.
#[derive(Debug, Serialize)]
struct ServiceData {
    name: String,
    interval: f64,
    merges: u64,
    rate_source: &'static str,
    percentile_source: &'static str,
    t: Vec<f64>,
    users: Vec<Option<u64>>,
    keys: Vec<String>,
    series: BTreeMap<String, Series>,
    baseline: BTreeMap<String, [Option<f64>; 3]>,
    dist: BTreeMap<String, Dist>,
}

#[derive(Debug, Serialize)]
struct Data {
    generated: f64,
    live: bool,
    services: Vec<ServiceData>,
}

/// `v` rounded to 3 decimals (the JSON's size; nothing shown needs more).
fn r3(v: f64) -> Option<f64> {
    v.is_finite().then(|| (v * 1000.0).round() / 1000.0)
}

/// The row's label in the chooser and the data: `Aggregated`, or `GET /cart`.
fn label(key: &Key) -> String {
    if key.0.is_empty() {
        key.1.to_string()
    } else {
        format!("{} {}", key.0, key.1)
    }
}

fn service_data(s: &ServiceSnapshot, baseline: Option<&Baseline>, services: usize) -> ServiceData {
    let csv = s.table.is_some();
    let mut keys: Vec<Key> = Vec::new();
    if s.total.is_some() {
        keys.push(total_key());
    }
    keys.extend(
        s.endpoints
            .iter()
            .map(|e| (e.method.clone(), e.name.clone())),
    );
    let t: Vec<f64> = s.timeline.iter().map(|i| i.end).collect();
    let users = s.timeline.iter().map(|i| i.users).collect();
    let mut series = BTreeMap::new();
    for key in &keys {
        let mut out = Series::default();
        for iv in &s.timeline {
            let slice = iv.slice(key);
            let seconds = iv.end - iv.start;
            let rates = match slice {
                Some(sl) => sl.rates(seconds),
                // Events: no slice is no request; CSV: the row was not written.
                None if !csv && seconds > 0.0 => Some((0.0, 0.0)),
                None => None,
            };
            out.requests.push(slice.map_or(0, |sl| sl.requests));
            out.rps.push(rates.and_then(|r| r3(r.0)));
            out.fps.push(rates.and_then(|r| r3(r.1)));
            let q = |i| slice.and_then(|sl| sl.quantile_ms(i)).and_then(r3);
            out.p50.push(q(0));
            out.p95.push(q(1));
            out.p99.push(q(2));
        }
        series.insert(label(key), out);
    }
    let mut base = BTreeMap::new();
    if let Some(b) = baseline.and_then(|b| b.service(&s.name, services)) {
        for key in &keys {
            if let Some(row) = b.row(&key.0, &key.1) {
                let at = |q: f64| {
                    row.statistic(Stat::Quantile(q))
                        .and_then(|v| r3(v * 1000.0))
                };
                base.insert(label(key), QUANTILES.map(at));
            }
        }
    }
    let mut dist = BTreeMap::new();
    for e in &s.endpoints {
        if let Some(d) = distribution(e) {
            dist.insert(label(&(e.method.clone(), e.name.clone())), d);
        }
    }
    // The total of event input keeps no histogram of its own: its endpoints' add up exactly.
    let natives: Vec<&NativeBuckets> = s
        .endpoints
        .iter()
        .filter_map(|e| e.native.as_ref())
        .collect();
    let total = if natives.is_empty() {
        s.total.as_ref().and_then(distribution)
    } else {
        Some(buckets_of(
            &drawn(natives),
            "the sum of the endpoints' histograms",
        ))
    };
    if let Some(d) = total {
        dist.insert(label(&total_key()), d);
    }
    ServiceData {
        name: s.name.to_string(),
        interval: s.timeline_shape.interval_secs,
        merges: s.timeline_shape.merges,
        rate_source: if csv {
            "Locust's current rates, _stats_history.csv"
        } else {
            "requests in the interval"
        },
        percentile_source: if csv {
            "Locust's current percentiles, _stats_history.csv"
        } else {
            "the interval's own requests, native histogram at Locust's rank"
        },
        t,
        users,
        keys: keys.iter().map(label).collect(),
        series,
        baseline: base,
        dist,
    }
}

/// `h` at [`DIST_SCHEMA`] as upper bounds (ms) and counts, the zero bucket first.
fn buckets_of(h: &NativeHistogram, source: &str) -> Dist {
    let (mut le, mut n) = (Vec::new(), Vec::new());
    if h.zero_count() > 0 {
        le.push(0.001);
        n.push(h.zero_count());
    }
    for (index, count) in h.occupied() {
        le.push(r3(upper_bound(index, h.schema()) * 1000.0).unwrap_or(0.0));
        n.push(count);
    }
    Dist::Buckets {
        le,
        n,
        source: source.to_owned(),
    }
}

/// `natives` added up at [`DIST_SCHEMA`], exactly.
fn drawn<'a>(natives: impl IntoIterator<Item = &'a NativeBuckets>) -> NativeHistogram {
    let mut h = NativeHistogram::at_schema(DIST_SCHEMA);
    for native in natives {
        h.add_zero(native.zero_count);
        for &(index, c) in &native.buckets {
            h.add_at(index, native.schema, c);
        }
    }
    h
}

/// A row's distribution: its native buckets, else Locust's own percentiles.
fn distribution(e: &EndpointStats) -> Option<Dist> {
    if let Some(native) = &e.native {
        return Some(buckets_of(&drawn([native]), "native histogram"));
    }
    let pairs: Vec<(f64, f64)> = e
        .quantiles
        .iter()
        .filter(|(_, ms)| ms.is_finite())
        .copied()
        .collect();
    (!pairs.is_empty()).then(|| Dist::Percentiles {
        q: pairs.iter().map(|p| p.0 * 100.0).collect(),
        ms: pairs.iter().map(|p| p.1).collect(),
        source: "Locust's CSV files carry no distribution".to_owned(),
    })
}

/// A table cell with its raw value for sorting and reading back (`data-v`).
fn num(out: &mut String, raw: Option<f64>, shown: &str) {
    let v = raw.filter(|v| v.is_finite());
    let _ = write!(
        out,
        "<td data-v=\"{}\">{}</td>",
        v.map_or_else(String::new, |v| v.to_string()),
        escape(shown)
    );
}

fn ms_cell(out: &mut String, seconds: Option<f64>) {
    let shown = seconds.map_or_else(|| "–".to_owned(), |v| format_value(Unit::Seconds, v));
    num(out, seconds.map(|v| v * 1000.0), &shown);
}

fn endpoint_row(
    out: &mut String,
    s: &ServiceSnapshot,
    e: &EndpointStats,
    base: Option<&crate::model::baseline::BaselineRow>,
    with_baseline: bool,
    total: bool,
) {
    let stat = |st: Stat| statistic(st, s, e).0.ok().filter(|v| v.is_finite());
    let _ = write!(
        out,
        "<tr{} data-service=\"{}\" data-method=\"{}\" data-name=\"{}\"><td class=\"text m\">{}</td><td class=\"text\">{}</td>",
        if total { " class=\"total\"" } else { "" },
        escape(&s.name),
        escape(&e.method),
        escape(&e.name),
        escape(&e.method),
        escape(&e.name)
    );
    num(out, Some(e.requests as f64), &e.requests.to_string());
    num(out, Some(e.failures as f64), &e.failures.to_string());
    let ratio = (e.requests > 0).then(|| e.fail_ratio());
    num(
        out,
        ratio.map(|r| r * 100.0),
        &ratio.map_or_else(|| "–".to_owned(), |r| format_value(Unit::Ratio, r)),
    );
    let rps = stat(Stat::Rps);
    num(
        out,
        rps,
        &rps.map_or_else(|| "–".to_owned(), |v| format_value(Unit::PerSecond, v)),
    );
    for st in [Stat::Min, Stat::Avg, Stat::Max] {
        ms_cell(out, stat(st));
    }
    for q in QUANTILES {
        ms_cell(out, stat(Stat::Quantile(q)));
    }
    if with_baseline {
        let b = base.and_then(|b| b.statistic(Stat::Quantile(0.95)));
        ms_cell(out, b);
        let now = stat(Stat::Quantile(0.95));
        match (b, now) {
            (Some(b), Some(n)) if b > 0.0 => {
                let change = n / b - 1.0;
                let class = if change > 0.0 { "worse" } else { "better" };
                let _ = write!(
                    out,
                    "<td class=\"{class}\" data-v=\"{}\">{:+.1} %</td>",
                    change * 100.0,
                    change * 100.0
                );
            }
            _ => out.push_str("<td data-v=\"\">–</td>"),
        }
    }
    let basis = statistic(Stat::Quantile(0.5), s, e).1;
    let _ = write!(
        out,
        "<td class=\"text src\" title=\"{}\">{}</td></tr>",
        escape(&basis.describe()),
        escape(&short_source(basis))
    );
}

/// Where a row's percentiles come from, in a table cell's few words (the whole sentence,
/// as the summary says it, is the cell's title).
fn short_source(basis: Basis) -> String {
    match basis {
        Basis::Locust(t) => t.describe().to_owned(),
        Basis::Events(Precision::Exact) => "exact".to_owned(),
        Basis::Events(Precision::Histogram(schema)) => format!(
            "histogram ±{:.2} %",
            (upper_bound(1, schema).sqrt() - 1.0) * 100.0
        ),
        Basis::Events(Precision::Spread) => "classic buckets".to_owned(),
        other => other.describe(),
    }
}

fn endpoints_section(out: &mut String, r: &Report<'_>) {
    out.push_str("<section id=\"endpoints\"><h2>Endpoints</h2>\n");
    let n = r.snap.services.len();
    for s in &r.snap.services {
        let base = r
            .snap
            .baseline
            .as_deref()
            .and_then(|b| b.service(&s.name, n));
        let with_baseline = base.is_some();
        let source = s.table.map_or("request events", |t| t.describe());
        let length = run_seconds(s).map_or_else(String::new, |t| format!(", {t:.1} s"));
        let _ = writeln!(
            out,
            "<h3>{} <small>({}{length}; figures from {source})</small></h3>",
            escape(&s.name),
            s.state.as_str()
        );
        out.push_str("<div class=\"scroll\"><table class=\"sortable endpoints\"><thead><tr><th class=\"text\">Type</th><th class=\"text\">Name</th><th>Requests</th><th>Failures</th><th>Fail %</th><th>RPS</th><th>Min</th><th>Avg</th><th>Max</th><th>p50</th><th>p95</th><th>p99</th>");
        if with_baseline {
            out.push_str("<th>Baseline p95</th><th>p95 change</th>");
        }
        out.push_str("<th class=\"text\">Percentiles</th></tr></thead><tbody>\n");
        for e in &s.endpoints {
            let b = base.and_then(|b| b.row(&e.method, &e.name));
            endpoint_row(out, s, e, b, with_baseline, false);
            out.push('\n');
        }
        if let Some(t) = &s.total {
            let b = base.and_then(|b| b.row(&t.method, &t.name));
            endpoint_row(out, s, t, b, with_baseline, true);
            out.push('\n');
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");
}

fn checks_section(out: &mut String, r: &Report<'_>) {
    let snap = r.snap;
    out.push_str("<section id=\"checks\"><h2>Checks</h2>\n");
    if snap.checks.is_empty() {
        out.push_str("<p class=\"empty\">No checks given (--check).</p></section>\n");
        return;
    }
    out.push_str("<div class=\"scroll\"><table class=\"checks\"><thead><tr><th class=\"text\">Result</th><th class=\"text\">Check</th><th class=\"text\">Row</th><th class=\"text\">Value</th><th class=\"text\">Threshold</th></tr></thead><tbody>\n");
    for (i, c) in snap.checks.iter().enumerate() {
        for o in outcomes_of(snap, i) {
            let mark = summary::mark(c, o.status);
            let class = match (o.status, c.severity) {
                (Status::Pass, _) => "pass",
                (Status::Fail, Severity::Fail) => "fail",
                (Status::Fail, Severity::Warn) => "warn",
                (Status::NoData, _) => "nodata",
            };
            let threshold = summary::leaf_of(snap, o)
                .map(|l| summary::threshold_text(l, o))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td class=\"text {class}\">{mark}{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
                if c.severity == Severity::Warn { " (warn)" } else { "" },
                escape(&summary::check_label(c, o)),
                escape(&summary::row_name(o)),
                escape(&summary::outcome_text(snap, o)),
                escape(&threshold)
            );
        }
    }
    out.push_str("</tbody></table></div></section>\n");
}

fn problems_section(out: &mut String, snap: &Snapshot) {
    out.push_str("<section id=\"errors\"><h2>Errors</h2>\n");
    let errors: usize = snap.services.iter().map(|s| s.errors.len()).sum();
    if errors == 0 {
        out.push_str("<p class=\"empty\">No failed request.</p>\n");
    } else {
        out.push_str("<div class=\"scroll\"><table class=\"sortable errors\"><thead><tr><th class=\"text\">Service</th><th class=\"text\">Type</th><th class=\"text\">Name</th><th class=\"text\">Error</th><th>Occurrences</th></tr></thead><tbody>\n");
        for s in &snap.services {
            for f in &s.errors {
                let _ = write!(
                    out,
                    "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>",
                    escape(&s.name),
                    escape(&f.method),
                    escape(&f.name),
                    escape(&f.error)
                );
                num(out, Some(f.occurrences as f64), &f.occurrences.to_string());
                out.push_str("</tr>\n");
            }
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n<section id=\"exceptions\"><h2>Exceptions</h2>\n");
    let exceptions: usize = snap.services.iter().map(|s| s.exceptions.len()).sum();
    if exceptions == 0 {
        out.push_str("<p class=\"empty\">No exception.</p>\n");
    } else {
        out.push_str("<div class=\"scroll\"><table class=\"sortable exceptions\"><thead><tr><th class=\"text\">Service</th><th>Count</th><th class=\"text\">Message</th></tr></thead><tbody>\n");
        for s in &snap.services {
            for x in &s.exceptions {
                let _ = write!(out, "<tr><td class=\"text\">{}</td>", escape(&s.name));
                num(out, Some(x.count as f64), &x.count.to_string());
                let _ = writeln!(out, "<td class=\"text\">{}</td></tr>", escape(&x.message));
            }
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");
}

fn identity(out: &mut String, r: &Report<'_>) {
    let snap = r.snap;
    let first = |f: fn(&ServiceSnapshot) -> Option<&str>| snap.services.iter().find_map(f);
    let (start, end) = run_window(snap);
    let seconds = snap
        .services
        .iter()
        .filter_map(run_seconds)
        .reduce(f64::max);
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push(("Run", snap.run.as_deref().unwrap_or("–").to_owned()));
    rows.push((
        "Services",
        snap.services
            .iter()
            .map(|s| format!("{} ({})", s.name, s.state.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    if let Some(f) = first(|s| s.info.locustfile.as_deref()) {
        rows.push(("Locustfile", f.to_owned()));
    }
    if let Some(h) = first(|s| s.info.host.as_deref()) {
        rows.push(("Host", h.to_owned()));
    }
    if let Some(v) = first(|s| s.info.locust_version.as_deref()) {
        rows.push(("Locust", v.to_owned()));
    }
    rows.push(("Start", start.map_or_else(|| "–".to_owned(), utc_iso)));
    rows.push(("End", end.map_or_else(|| "–".to_owned(), utc_iso)));
    rows.push((
        "Duration",
        seconds.map_or_else(|| "–".to_owned(), |s| format!("{s:.1} s")),
    ));
    if let Some(b) = r.snap.baseline.as_deref() {
        rows.push(("Baseline", b.origin.clone()));
    }
    rows.push((
        "Report",
        format!(
            "{} by locust-exporter {}",
            utc_iso(r.now),
            env!("CARGO_PKG_VERSION")
        ),
    ));
    out.push_str("<dl class=\"identity\">");
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    out.push_str("</dl>\n");
}

fn verdict_line(out: &mut String, r: &Report<'_>) {
    let snap = r.snap;
    let (class, text) = if r.live && !snap.closed {
        let failing = failed_checks(snap);
        let text = if snap.checks.is_empty() {
            "LIVE: no checks given".to_owned()
        } else if failing == 0 {
            format!("LIVE: all {} checks passing so far", snap.checks.len())
        } else {
            format!(
                "LIVE: {failing} of {} checks failing so far",
                snap.checks.len()
            )
        };
        ("live", text)
    } else {
        let class = match verdict(snap, r.finished) {
            Verdict::Passed => "passed",
            Verdict::Failed(_) => "failed",
            Verdict::NoChecks | Verdict::Interrupted => "none",
        };
        (class, summary::headline(snap, r.finished))
    };
    let _ = writeln!(
        out,
        "<p id=\"verdict\" class=\"verdict {class}\">{}</p>",
        escape(&text)
    );
}

/// The JSON `data` as the content of a `<script>` element: `<` written as `\u003c`, so
/// no text in it can close the element.
fn script_json(data: &Data) -> String {
    serde_json::to_string(data)
        .unwrap_or_else(|_| "{\"services\":[]}".to_owned())
        .replace('<', "\\u003c")
}

/// The report page of `r`.
pub fn html(r: &Report<'_>) -> String {
    let snap = r.snap;
    let data = Data {
        generated: r.now,
        live: r.live && !snap.closed,
        services: snap
            .services
            .iter()
            .map(|s| service_data(s, r.snap.baseline.as_deref(), snap.services.len()))
            .collect(),
    };
    let title = match snap.run.as_deref() {
        Some(run) => format!("Locust run report · {run}"),
        None => "Locust run report".to_owned(),
    };
    let mut out = String::with_capacity(UPLOT_JS.len() + 64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'\">\n\
         <title>{}</title>\n<style>\n{UPLOT_CSS}\n{PAGE_CSS}</style></head>\n<body data-live=\"{}\">\n<main id=\"report\">\n<header id=\"run\"><h1>{}</h1>\n",
        escape(&title),
        u8::from(data.live),
        escape(&title)
    );
    verdict_line(&mut out, r);
    if data.live {
        out.push_str("<p id=\"live-note\" class=\"live-note\">Live: this page follows the run (it refreshes every 5 s).</p>\n");
    }
    identity(&mut out, r);
    out.push_str("</header>\n");
    checks_section(&mut out, r);
    endpoints_section(&mut out, r);
    let interval = data.services.first().map_or(0.0, |s| s.interval);
    let merged: u64 = data.services.iter().map(|s| s.merges).sum();
    let _ = writeln!(
        out,
        "<section id=\"charts\"><h2>Over time</h2>\n<noscript><p class=\"empty\">The charts need JavaScript; the tables above do not.</p></noscript>\n\
         <p id=\"charts-empty\" class=\"empty\" hidden>No interval recorded yet{}.</p>\n\
         <div id=\"charts-body\">\n<div class=\"controls\"><label>Row: <select id=\"chooser\"></select></label> <small>one interval per {interval} s of the run{}</small></div>\n\
         <figure><div id=\"chart-users\" class=\"chart\"></div><figcaption id=\"cap-users\"></figcaption></figure>\n\
         <figure><div id=\"chart-rates\" class=\"chart\"></div><figcaption id=\"cap-rates\"></figcaption></figure>\n\
         <figure><div id=\"chart-latency\" class=\"chart\"></div><figcaption id=\"cap-latency\"></figcaption></figure>\n\
         </div></section>\n\
         <section id=\"distribution\"><h2>Latency distribution</h2>\n<figure><div id=\"chart-dist\" class=\"chart\"></div><figcaption id=\"cap-dist\"></figcaption></figure></section>",
        if interval > 0.0 { "" } else { " (--report.interval 0 keeps no history)" },
        if merged > 0 { "; older intervals merged pairwise to stay within --report.max-intervals and --report.max-bytes" } else { "" },
    );
    problems_section(&mut out, snap);
    out.push_str("<footer>Charts drawn by uPlot 1.6.32 (MIT licence, © Leon Sorokin; its text is in this page's source).</footer>\n</main>\n");
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"report-data\">{}</script>\n<!-- uPlot's licence:\n{}-->\n<script>\n{UPLOT_JS}\n</script>\n<script>\n{PAGE_JS}</script>\n</body></html>\n",
        script_json(&data),
        UPLOT_LICENSE.replace("--", "- -"),
    );
    out
}

#[cfg(test)]
mod tests;
