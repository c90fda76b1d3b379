//! The run summary at the end of a run (`docs/checks.md`): each service's endpoints
//! (requests, failures, p50/p95/p99, rps) and each check with its value and status, as
//! plain text (stderr), Markdown (`--summary.file`, for a CI job summary) and JUnit XML
//! (`--junit.file`, one test case per check). Pure: the wiring writes the files.

use std::fmt::Write as _;

use crate::model::check::{format_value, Check, Outcome, Stat, Status, Unit};
use crate::model::judge::{
    check_passed, failed_checks, outcomes_of, run_seconds, statistic, verdict, Verdict,
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
fn row_name(o: &Outcome) -> String {
    if o.service.is_empty() {
        return "nothing matched".to_owned();
    }
    if o.method.is_empty() {
        format!("{} total", o.service)
    } else {
        format!("{} {} {}", o.service, o.method, o.name)
    }
}

/// What one outcome says: `612ms (events, native histogram …)` or `no data: …`.
fn outcome_text(snap: &Snapshot, o: &Outcome) -> String {
    let unit = snap
        .checks
        .get(o.check)
        .map_or(Unit::Count, |c| c.stat.unit());
    match (o.value, o.missing) {
        (Some(v), _) => format!("{} ({})", format_value(unit, v), o.basis.describe()),
        (None, why) => format!("no data: {}", why.unwrap_or("no value")),
    }
}

/// Why one row failed a check, as a sentence's clause: `shop total is 650ms, not < 500ms
/// (Locust's _stats.csv percentile)`, or `shop GET /a has no data (no request yet)`.
fn failure_text(c: &Check, o: &Outcome) -> String {
    let unit = c.stat.unit();
    match (o.value, o.missing) {
        (Some(v), _) => format!(
            "{} is {}, not {} {} ({})",
            row_name(o),
            format_value(unit, v),
            c.op.as_str(),
            c.threshold_text(),
            o.basis.describe()
        ),
        (None, why) => format!(
            "{} has no data ({})",
            row_name(o),
            why.unwrap_or("no value")
        ),
    }
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::NoData => "NO DATA",
    }
}

fn headline(snap: &Snapshot, finished: bool) -> String {
    match verdict(snap, finished) {
        Verdict::NoChecks => "no checks given".to_owned(),
        Verdict::Passed => format!("PASSED: all {} checks passed", snap.checks.len()),
        Verdict::Failed(n) => format!(
            "FAILED: {n} of {} checks failed (exit code {})",
            snap.checks.len(),
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
                    mark(o.status),
                    c.text,
                    row_name(o),
                    outcome_text(snap, o)
                );
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
    if !snap.checks.is_empty() {
        let _ = writeln!(
            out,
            "| | Check | Row | Value | Threshold |\n|---|---|---|---|---|"
        );
        for (i, c) in snap.checks.iter().enumerate() {
            for o in outcomes_of(snap, i) {
                let icon = match o.status {
                    Status::Pass => "✅",
                    Status::Fail => "❌",
                    Status::NoData => "❔",
                };
                let _ = writeln!(
                    out,
                    "| {icon} | `{}` | {} | {} | {} {} |",
                    cell(&c.text),
                    cell(&row_name(o)),
                    cell(&outcome_text(snap, o)),
                    c.op.as_str().replace('<', "&lt;").replace('>', "&gt;"),
                    c.threshold_text()
                );
            }
        }
        out.push('\n');
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

/// The checks as JUnit XML: one test suite, one test case per check; a failed check's
/// `<failure>` names every row that failed and its value. A run that was interrupted marks
/// every case skipped.
pub fn junit(snap: &Snapshot, finished: bool, timestamp: &str) -> String {
    let tests = snap.checks.len();
    let failures = if finished { failed_checks(snap) } else { 0 };
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
    for (i, c) in snap.checks.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"    <testcase classname="locust.checks" name="{}" time="0">"#,
            escape(&c.text)
        );
        let details: Vec<String> = outcomes_of(snap, i)
            .map(|o| {
                format!(
                    "{} {}: {}",
                    mark(o.status),
                    row_name(o),
                    outcome_text(snap, o)
                )
            })
            .collect();
        if !finished {
            let _ = writeln!(
                out,
                r#"      <skipped message="the exporter stopped while the run was still live: not judged"/>"#
            );
        } else if !check_passed(snap, i) {
            let failing: Vec<String> = outcomes_of(snap, i)
                .filter(|o| o.status != Status::Pass)
                .map(|o| failure_text(c, o))
                .collect();
            let message = format!("{} failed: {}", c.text, failing.join("; "));
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
        let outcomes = evaluate(&checks, std::slice::from_ref(&service));
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
