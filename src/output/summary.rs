//! The run summary at the end of a run (`docs/checks.md`): each service's endpoints
//! (requests, failures, p50/p95/p99, rps) and each check with its value and status, as
//! plain text (stderr), Markdown (`--summary.file`, for a CI job summary) and JUnit XML
//! (`--junit.file`, one test case per check). Pure: the wiring writes the files.

use std::fmt::Write as _;

use crate::model::check::{format_value, Check, Leaf, Outcome, Severity, Stat, Status, Unit};
use crate::model::judge::{
    check_passed, outcomes_of, run_seconds, statistic, verdict, warned_checks, Verdict,
    CHECKS_FAILED_EXIT_CODE,
};
use crate::model::snapshot::{EndpointStats, ServiceSnapshot, Snapshot};
use crate::support::markup::escape;

/// One endpoint row's columns: requests, failures, p50, p95, p99, rps.
fn columns(s: &ServiceSnapshot, e: &EndpointStats) -> [String; 6] {
    let stat = |stat: Stat| match statistic(stat, s, e).0 {
        Ok(v) => format_value(stat.unit(), v),
        Err(_) => "–".to_owned(),
    };
    [
        e.requests.to_string(),
        if e.failures > 0 {
            format!(
                "{} ({})",
                e.failures,
                format_value(Unit::Ratio, e.fail_ratio())
            )
        } else {
            "0".to_owned()
        },
        stat(Stat::Quantile(0.5)),
        stat(Stat::Quantile(0.95)),
        stat(Stat::Quantile(0.99)),
        stat(Stat::Rps),
    ]
}

/// `service GET /cart` of an outcome (`shop total` for a total row).
pub(crate) fn row_name(o: &Outcome) -> String {
    if o.service.is_empty() {
        return "nothing matched".to_owned();
    }
    if o.method.is_empty() {
        format!("{} total", o.service)
    } else {
        format!("{} {} {}", o.service, o.method, o.name)
    }
}

/// The leaf an outcome judges.
pub(crate) fn leaf_of<'a>(snap: &'a Snapshot, o: &Outcome) -> Option<&'a Leaf> {
    snap.checks.get(o.check)?.leaves.get(o.leaf)
}

/// `+10.2 % (p50 40.1ms → 44.2ms, confidence 99.99 %, 1153 → 1160 requests, native
/// histogram)`: a regression row's figures.
fn regression_text(o: &Outcome) -> String {
    let mut parts = Vec::new();
    let c = o.compared.clone().unwrap_or_default();
    if let (Some(b), Some(n)) = (c.baseline, c.now) {
        parts.push(format!(
            "p50 {} → {}",
            format_value(Unit::Seconds, b),
            format_value(Unit::Seconds, n)
        ));
    }
    if let Some(conf) = c.confidence {
        parts.push(format!("confidence {}", confidence_text(conf)));
    }
    if let Some((b, n)) = c.requests {
        parts.push(format!("{b} → {n} requests"));
    }
    if let Some(r) = c.resolution {
        parts.push(r.to_owned());
    }
    let effect = o.value.map_or_else(|| "–".to_owned(), signed_percent);
    format!("{effect} ({})", parts.join(", "))
}

/// `+10.2 %`, `-3.1 %`.
fn signed_percent(v: f64) -> String {
    format!("{:+.1} %", v * 100.0)
}

/// `99.99 %`; `> 99.9999 %` when the p-value underflows.
fn confidence_text(c: f64) -> String {
    if c >= 0.999_999 {
        "> 99.9999 %".to_owned()
    } else {
        format!("{:.2} %", (c * 100.0 * 100.0).floor() / 100.0)
    }
}

/// What one outcome says: `612ms (events, native histogram …)`, `612ms (baseline 550ms;
/// …)`, a regression's figures, or `no data: …`.
pub(crate) fn outcome_text(snap: &Snapshot, o: &Outcome) -> String {
    let Some(leaf) = leaf_of(snap, o) else {
        return String::new();
    };
    let unit = leaf.stat.unit();
    if leaf.stat == Stat::Regression && o.value.is_some() {
        return regression_text(o);
    }
    let baseline = o
        .compared
        .as_ref()
        .and_then(|c| c.baseline)
        .map(|b| format!("baseline {}; ", format_value(unit, b)))
        .unwrap_or_default();
    match (o.value, &o.missing) {
        (Some(v), None) => format!(
            "{} ({baseline}{})",
            format_value(unit, v),
            o.basis.describe()
        ),
        (Some(v), Some(why)) => format!("{} ({why})", format_value(unit, v)),
        (None, Some(why)) if o.status == Status::Pass => why.to_string(),
        (None, why) => format!("no data: {}", why.as_deref().unwrap_or("no value")),
    }
}

/// The threshold a row was held to: `< 605ms (1.1×baseline)` or `< 500ms`.
pub(crate) fn threshold_text(leaf: &Leaf, o: &Outcome) -> String {
    let resolved = o.compared.as_ref().and_then(|c| c.threshold);
    match (leaf.threshold.relative(), resolved) {
        (true, Some(t)) => format!(
            "{} {} ({})",
            leaf.op.as_str(),
            format_value(leaf.stat.unit(), t),
            leaf.threshold_text()
        ),
        _ => format!("{} {}", leaf.op.as_str(), leaf.threshold_text()),
    }
}

/// Why one row failed a leaf, as a sentence's clause: `shop total is 650ms, not < 500ms
/// (Locust's _stats.csv percentile)`, or `shop GET /a has no data (no request yet)`.
fn failure_text(snap: &Snapshot, o: &Outcome) -> String {
    let Some(leaf) = leaf_of(snap, o) else {
        return String::new();
    };
    if leaf.stat == Stat::Regression && o.value.is_some() {
        return format!(
            "{} regressed: {}, not {}",
            row_name(o),
            regression_text(o),
            threshold_text(leaf, o)
        );
    }
    match (o.value, &o.missing) {
        (Some(v), _) => format!(
            "{} is {}, not {} ({})",
            row_name(o),
            format_value(leaf.stat.unit(), v),
            threshold_text(leaf, o),
            o.basis.describe()
        ),
        (None, why) => format!(
            "{} has no data ({})",
            row_name(o),
            why.as_deref().unwrap_or("no value")
        ),
    }
}

/// The check's text and, for a composite check, the leaf's: `p95<1s and rps>5 [p95<1s]`.
pub(crate) fn check_label(c: &Check, o: &Outcome) -> String {
    match c.leaves.get(o.leaf) {
        Some(l) if c.leaves.len() > 1 => format!("{} [{}]", c.text, l.text),
        _ => c.text.to_string(),
    }
}

pub(crate) fn mark(c: &Check, status: Status) -> &'static str {
    match (status, c.severity) {
        (Status::Pass, _) => "PASS",
        (Status::Fail, Severity::Fail) => "FAIL",
        (Status::Fail, Severity::Warn) => "WARN",
        (Status::NoData, _) => "NO DATA",
    }
}

pub(crate) fn headline(snap: &Snapshot, finished: bool) -> String {
    let hard = snap
        .checks
        .iter()
        .filter(|c| c.severity == Severity::Fail)
        .count();
    let warned = warned_checks(snap);
    let warnings = match warned {
        0 => String::new(),
        1 => ", 1 warning".to_owned(),
        n => format!(", {n} warnings"),
    };
    match verdict(snap, finished) {
        Verdict::NoChecks => "no checks given".to_owned(),
        Verdict::Passed if hard == 0 => format!("PASSED: no failing checks given{warnings}"),
        Verdict::Passed => format!("PASSED: all {hard} checks passed{warnings}"),
        Verdict::Failed(n) => format!(
            "FAILED: {n} of {hard} checks failed (exit code {}){warnings}",
            CHECKS_FAILED_EXIT_CODE
        ),
        Verdict::Interrupted => {
            "NOT JUDGED: the exporter stopped while the run was still live".to_owned()
        }
    }
}

/// The summary as plain text (for stderr).
pub fn text(snap: &Snapshot, finished: bool) -> String {
    let mut out = String::new();
    let run = snap
        .run
        .as_deref()
        .map(|r| format!(", run {r}"))
        .unwrap_or_default();
    let _ = writeln!(out, "== Locust run summary{run}");
    for s in &snap.services {
        let length = run_seconds(s).map_or_else(String::new, |t| format!(", {t:.1} s"));
        let _ = writeln!(out, "service {} ({}{length})", s.name, s.state.as_str());
        let header = [
            "Type", "Name", "Requests", "Failures", "p50", "p95", "p99", "rps",
        ];
        let mut table: Vec<[String; 8]> = vec![header.map(str::to_owned)];
        for e in &s.endpoints {
            let [a, b, c, d, f, g] = columns(s, e);
            table.push([e.method.to_string(), e.name.to_string(), a, b, c, d, f, g]);
        }
        if let Some(t) = &s.total {
            let [a, b, c, d, f, g] = columns(s, t);
            table.push([String::new(), t.name.to_string(), a, b, c, d, f, g]);
        }
        let mut widths = [0usize; 8];
        for row in &table {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count()).min(60);
            }
        }
        for row in &table {
            out.push_str("  ");
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(cell.chars().count());
                if i < 2 {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad + 2));
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                    out.push_str("  ");
                }
            }
            let trimmed = out.trim_end_matches(' ').len();
            out.truncate(trimmed);
            out.push('\n');
        }
    }
    if !snap.checks.is_empty() {
        let _ = writeln!(out, "checks:");
        for (i, c) in snap.checks.iter().enumerate() {
            for o in outcomes_of(snap, i) {
                let _ = writeln!(
                    out,
                    "  {:<7} {}  {}: {}",
                    mark(c, o.status),
                    check_label(c, o),
                    row_name(o),
                    outcome_text(snap, o)
                );
            }
            if c.leaves.len() > 1 {
                let whole = if check_passed(snap, i) {
                    Status::Pass
                } else {
                    Status::Fail
                };
                let _ = writeln!(out, "  {:<7} {}  (as a whole)", mark(c, whole), c.text);
            }
        }
    }
    let _ = writeln!(out, "verdict: {}", headline(snap, finished));
    out
}

/// Escapes `|` and newlines for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('`', "'")
}

/// The summary as Markdown (a CI job summary: GitHub's `$GITHUB_STEP_SUMMARY`, GitLab's
/// report artefacts).
pub fn markdown(snap: &Snapshot, finished: bool) -> String {
    let mut out = String::new();
    let run = snap
        .run
        .as_deref()
        .map(|r| format!(" · run `{}`", cell(r)))
        .unwrap_or_default();
    let _ = writeln!(out, "## Locust run summary{run}\n");
    let icon = match verdict(snap, finished) {
        Verdict::Passed => "✅ ",
        Verdict::Failed(_) => "❌ ",
        Verdict::Interrupted => "⚠️ ",
        Verdict::NoChecks => "",
    };
    let _ = writeln!(out, "**{icon}{}**\n", headline(snap, finished));
    let compared = snap.outcomes.iter().any(|o| o.compared.is_some());
    if compared {
        regressions_markdown(snap, &mut out);
    }
    if !snap.checks.is_empty() {
        if compared {
            let _ = writeln!(
                out,
                "<details><summary>Every check, row by row ({} rows)</summary>\n",
                snap.outcomes.len()
            );
        }
        let _ = writeln!(
            out,
            "| | Check | Row | Value | Threshold |\n|---|---|---|---|---|"
        );
        for (i, c) in snap.checks.iter().enumerate() {
            for o in outcomes_of(snap, i) {
                let icon = match (o.status, c.severity) {
                    (Status::Pass, _) => "✅",
                    (Status::Fail, Severity::Fail) => "❌",
                    (Status::Fail, Severity::Warn) => "⚠️",
                    (Status::NoData, _) => "❔",
                };
                let threshold = leaf_of(snap, o)
                    .map(|l| threshold_text(l, o))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "| {icon} | `{}` | {} | {} | {} |",
                    cell(&check_label(c, o)),
                    cell(&row_name(o)),
                    cell(&outcome_text(snap, o)),
                    cell(&threshold).replace('<', "&lt;").replace('>', "&gt;"),
                );
            }
        }
        out.push('\n');
        if compared {
            let _ = writeln!(out, "</details>\n");
        }
    }
    for s in &snap.services {
        let length = run_seconds(s).map_or_else(String::new, |t| format!(", {t:.1} s"));
        let _ = writeln!(
            out,
            "### {} ({}{length})\n",
            cell(&s.name),
            s.state.as_str()
        );
        let _ = writeln!(
            out,
            "| Type | Name | Requests | Failures | p50 | p95 | p99 | rps |\n|---|---|--:|--:|--:|--:|--:|--:|"
        );
        let rows = s
            .endpoints
            .iter()
            .map(|e| (e, false))
            .chain(s.total.iter().map(|t| (t, true)));
        for (e, is_total) in rows {
            let [a, b, c, d, f, g] = columns(s, e);
            let name = if is_total {
                format!("**{}**", cell(&e.name))
            } else {
                cell(&e.name)
            };
            let _ = writeln!(
                out,
                "| {} | {name} | {a} | {b} | {c} | {d} | {f} | {g} |",
                cell(&e.method)
            );
        }
        out.push('\n');
    }
    out
}

/// The comparison with the baseline, first: the rows that regressed or broke a relative
/// threshold (baseline → now, Δ, confidence), or a line saying none did.
fn regressions_markdown(snap: &Snapshot, out: &mut String) {
    let worse: Vec<&Outcome> = snap
        .outcomes
        .iter()
        .filter(|o| o.compared.is_some() && o.status == Status::Fail)
        .collect();
    let compared = snap
        .outcomes
        .iter()
        .filter(|o| o.compared.is_some())
        .count();
    if worse.is_empty() {
        let _ = writeln!(
            out,
            "No regression against the baseline ({compared} rows compared).\n"
        );
        return;
    }
    let _ = writeln!(
        out,
        "### Worse than the baseline ({} of {compared} rows)\n\n| Row | Check | Baseline | Now | Δ | Confidence |\n|---|---|--:|--:|--:|--:|",
        worse.len()
    );
    for o in worse {
        let Some(leaf) = leaf_of(snap, o) else {
            continue;
        };
        let c = o.compared.clone().unwrap_or_default();
        let (unit, base, now, delta) = if leaf.stat == Stat::Regression {
            (Unit::Seconds, c.baseline, c.now, o.value)
        } else {
            let delta = match (c.baseline, o.value) {
                (Some(b), Some(v)) if b != 0.0 => Some(v / b - 1.0),
                _ => None,
            };
            (leaf.stat.unit(), c.baseline, o.value, delta)
        };
        let v = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), |x| format_value(unit, x));
        let prefix = if leaf.stat == Stat::Regression {
            "p50 "
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {prefix}{} | {prefix}{} | {} | {} |",
            cell(&row_name(o)),
            cell(&leaf.text),
            v(base),
            v(now),
            delta.map_or_else(|| "–".to_owned(), signed_percent),
            c.confidence.map_or_else(|| "–".to_owned(), confidence_text),
        );
    }
    out.push('\n');
}

/// One JUnit test case: its name, the outcomes it reports, whether it failed.
struct Case<'a> {
    name: String,
    check: &'a Check,
    outcomes: Vec<&'a Outcome>,
    failed: bool,
}

/// The test cases of `snap`: one per check, and one per endpoint for a `regression` check
/// (each endpoint's regression its own case, as a PR's test report lists them).
fn cases(snap: &Snapshot) -> Vec<Case<'_>> {
    let mut out = Vec::new();
    for (i, c) in snap.checks.iter().enumerate() {
        let per_row = c.leaves.len() == 1 && c.leaves[0].stat == Stat::Regression;
        if per_row {
            for o in outcomes_of(snap, i) {
                out.push(Case {
                    name: format!("{} · {}", c.text, row_name(o)),
                    check: c,
                    outcomes: vec![o],
                    failed: o.status != Status::Pass,
                });
            }
        } else {
            out.push(Case {
                name: c.text.to_string(),
                check: c,
                outcomes: outcomes_of(snap, i).collect(),
                failed: !check_passed(snap, i),
            });
        }
    }
    out
}

/// The checks as JUnit XML: one test suite, one test case per check (per endpoint for a
/// `regression` check); a failed check's `<failure>` names every row that failed and its
/// value. A failing `--check.warn` is no failure: its rows go to `<system-err>`. A run that
/// was interrupted marks every case skipped.
pub fn junit(snap: &Snapshot, finished: bool, timestamp: &str) -> String {
    let cases = cases(snap);
    let tests = cases.len();
    let failures = if finished {
        cases
            .iter()
            .filter(|c| c.failed && c.check.severity == Severity::Fail)
            .count()
    } else {
        0
    };
    let skipped = if finished { 0 } else { tests };
    let time = snap
        .services
        .iter()
        .filter_map(run_seconds)
        .fold(0.0, f64::max);
    let suite = match snap.run.as_deref() {
        Some(r) => format!("locust checks (run {r})"),
        None => "locust checks".to_owned(),
    };
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="locust-exporter" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{time:.3}">"#
    );
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{time:.3}" timestamp="{}">"#,
        escape(&suite),
        escape(timestamp)
    );
    for case in &cases {
        let classname = match case.check.severity {
            Severity::Fail => "locust.checks",
            Severity::Warn => "locust.checks.warn",
        };
        let _ = writeln!(
            out,
            r#"    <testcase classname="{classname}" name="{}" time="0">"#,
            escape(&case.name)
        );
        let details: Vec<String> = case
            .outcomes
            .iter()
            .map(|o| {
                format!(
                    "{} {}{}: {}",
                    mark(case.check, o.status),
                    row_name(o),
                    match case.check.leaves.get(o.leaf) {
                        Some(l) if case.check.leaves.len() > 1 => format!(" [{}]", l.text),
                        _ => String::new(),
                    },
                    outcome_text(snap, o)
                )
            })
            .collect();
        let failing: Vec<String> = case
            .outcomes
            .iter()
            .filter(|o| o.status != Status::Pass)
            .map(|o| failure_text(snap, o))
            .collect();
        let message = format!("{} failed: {}", case.name, failing.join("; "));
        if !finished {
            let _ = writeln!(
                out,
                r#"      <skipped message="the exporter stopped while the run was still live: not judged"/>"#
            );
        } else if case.failed && case.check.severity == Severity::Fail {
            let _ = writeln!(
                out,
                r#"      <failure message="{}" type="check">{}</failure>"#,
                escape(&message),
                escape(&details.join("\n"))
            );
        }
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            escape(&details.join("\n"))
        );
        if finished && case.failed && case.check.severity == Severity::Warn {
            let _ = writeln!(
                out,
                "      <system-err>warning (--check.warn, not failing the run): {}</system-err>",
                escape(&message)
            );
        }
        let _ = writeln!(out, "    </testcase>");
    }
    let _ = writeln!(out, "  </testsuite>\n</testsuites>");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::check::{parsed, Check};
    use crate::model::judge::evaluate;
    use crate::model::snapshot::RunState;

    fn snapshot() -> Snapshot {
        let row =
            |method: &str, name: &str, requests: u64, failures: u64, p95: f64| EndpointStats {
                method: Arc::from(method),
                name: Arc::from(name),
                requests,
                failures,
                avg_ms: 50.0,
                min_ms: 1.0,
                max_ms: 900.0,
                quantiles: vec![(0.5, 40.0), (0.95, p95), (0.99, p95 * 1.5)],
                ..EndpointStats::default()
            };
        let service = ServiceSnapshot {
            name: Arc::from("shop"),
            state: RunState::Stopped,
            endpoints: vec![
                row("GET", "/a|b <&>", 900, 0, 120.0),
                row("POST", "/cart", 100, 10, 700.0),
            ],
            total: Some(row("", "Aggregated", 1000, 10, 650.0)),
            last_update: Some(1100.0),
            started: Some(1000.0),
            span: Some((1000.0, 1100.0)),
            table: Some(crate::model::snapshot::LocustTable::StatsCsv),
            ..ServiceSnapshot::default()
        };
        let checks: Vec<Check> = [
            "p95<500ms",
            "fail_ratio<1%",
            "rps>=5",
            "p95{name=~\"/.*\"}<1s",
        ]
        .iter()
        .map(|t| parsed(t))
        .collect();
        let outcomes = evaluate(&checks, std::slice::from_ref(&service), None);
        Snapshot {
            services: vec![service],
            checks: Arc::from(checks),
            outcomes,
            run: Some(Arc::from("r1")),
            ..Snapshot::default()
        }
    }

    #[test]
    fn failed_checks_are_named_in_every_form() {
        let snap = snapshot();
        assert_eq!(verdict(&snap, true), Verdict::Failed(2));
        assert_eq!(verdict(&snap, false), Verdict::Interrupted);
        let text = text(&snap, true);
        assert!(
            text.contains("FAIL    p95<500ms  shop total: 650ms"),
            "{text}"
        );
        assert!(
            text.contains("FAIL    fail_ratio<1%  shop total: 1%"),
            "{text}"
        );
        assert!(text.contains("PASS    rps>=5  shop total: 10"), "{text}");
        assert!(
            text.contains("FAILED: 2 of 4 checks failed (exit code 99)"),
            "{text}"
        );
        let md = markdown(&snap, true);
        assert!(md.contains("| ❌ | `p95<500ms` | shop total | 650ms (Locust's _stats.csv percentile) | &lt; 500ms |"), "{md}");
        assert!(
            md.contains("| GET | /a\\|b <&> | 900 | 0 | 40ms | 120ms | 180ms | 9 |"),
            "{md}"
        );
        assert!(md.contains("| POST | /cart | 100 | 10 (10%) |"), "{md}");
        let xml = junit(&snap, true, "2026-12-02T18:00:00Z");
        assert!(
            xml.contains(r#"tests="4" failures="2" errors="0" skipped="0" time="100.000""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase classname="locust.checks" name="p95&lt;500ms" time="0">"#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<failure message="p95&lt;500ms failed: shop total is 650ms, not &lt; 500ms (Locust&#39;s _stats.csv percentile)"#
            ),
            "{xml}"
        );
        assert!(xml.contains("/a|b &lt;&amp;&gt;"), "names escaped: {xml}");
        assert_eq!(xml.matches("<failure").count(), 2);
        let interrupted = junit(&snap, false, "t");
        assert_eq!(interrupted.matches("<skipped").count(), 4);
        assert_eq!(interrupted.matches("<failure").count(), 0);
    }
}
