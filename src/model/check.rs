//! Checks (`--check`, `--check.warn`, `docs/checks.md`): one or more leaves — a statistic,
//! an optional label selector, a comparison and a threshold — joined by `and` / `or`,
//! parsed once at startup ([`Check::parse`]) and judged on every snapshot
//! ([`super::judge::evaluate`]) against the best numbers the input has and, for relative
//! thresholds and `regression`, against the baseline run ([`super::baseline`]).
//!
//! ```text
//! check     := "promql:" query op number | expr
//! expr      := term { "or" term }
//! term      := factor { "and" factor }
//! factor    := "(" expr ")" | leaf
//! leaf      := stat [ "{" selector { "," selector } [","] "}" ] op threshold
//! stat      := "p" number | "p(" number ")" | "median" | "avg" | "min" | "max"
//!            | "fail_ratio" | "rps" | "requests" | "failures" | "regression"
//! selector  := ("name" | "method" | "service") ("=" | "!=" | "=~" | "!~") quoted
//! op        := "<" | "<=" | ">" | ">="
//! threshold := number [unit]
//!            | [number "*"] "baseline" ["*" number] [("+" | "-") number [unit]]
//! unit      := "us" | "ms" | "s" | "m"   (times; a bare number is milliseconds, as Locust)
//!            | "%"                       (ratios; a bare number is a ratio)
//! ```
//!
//! Without a `name` or `method` selector a leaf reads each service's total row (Locust's
//! `Aggregated`); with one, each matching endpoint is checked on its own (`regression`
//! always reads endpoints). Regular expressions are anchored at both ends, as in PromQL.
//! Times are kept in seconds, ratios as ratios: the base units the metrics serve. A PromQL
//! check is the whole check: PromQL has its own `and` and `or`.

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use super::percentile::Precision;
use super::update::LocustTable;

/// What a leaf measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// A response-time quantile (0 < q ≤ 1): `p95` is 0.95, `median` 0.5.
    Quantile(f64),
    /// Mean response time.
    Avg,
    /// Fastest response.
    Min,
    /// Slowest response.
    Max,
    /// Failures over requests.
    FailRatio,
    /// Requests per second over the run (requests over the time from the run's start to
    /// its last data, or to now while it runs).
    Rps,
    /// Requests, failed ones included.
    Requests,
    /// Failed requests.
    Failures,
    /// How much slower an endpoint's latency distribution is than the baseline's, where
    /// the difference is unlikely to be noise (`super::regression`).
    Regression,
    /// A PromQL query's worst value over the run's window, from `--check.prometheus.url`.
    PromQl,
}

/// The unit a statistic is kept and served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Seconds (response times).
    Seconds,
    /// A ratio (0 … 1).
    Ratio,
    /// Per second.
    PerSecond,
    /// A count.
    Count,
    /// Whatever a PromQL query returns.
    Plain,
}

impl Stat {
    /// The unit of its values.
    pub fn unit(self) -> Unit {
        match self {
            Stat::Quantile(_) | Stat::Avg | Stat::Min | Stat::Max => Unit::Seconds,
            Stat::FailRatio | Stat::Regression => Unit::Ratio,
            Stat::Rps => Unit::PerSecond,
            Stat::Requests | Stat::Failures => Unit::Count,
            Stat::PromQl => Unit::Plain,
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// True when `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
        }
    }

    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// True for `<` and `<=`: a larger value is worse.
    pub fn upper_bound(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

/// The label a selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The endpoint's name.
    Name,
    /// The endpoint's method (request type).
    Method,
    /// The service.
    Service,
}

/// How a selector matches.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `=`
    Eq(String),
    /// `!=`
    Ne(String),
    /// `=~` (anchored)
    Re(Regex),
    /// `!~` (anchored)
    NotRe(Regex),
}

impl Matcher {
    fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Eq(s) => s == value,
            Matcher::Ne(s) => s != value,
            Matcher::Re(r) => r.is_match(value),
            Matcher::NotRe(r) => !r.is_match(value),
        }
    }
}

/// One `label op "value"` of a leaf's selector.
#[derive(Debug, Clone)]
pub struct Selector {
    /// The label.
    pub field: Field,
    /// The match.
    pub matcher: Matcher,
}

/// What a leaf's value is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// A number in the statistic's unit.
    Fixed(f64),
    /// `factor × the baseline's value + offset` (offset in the statistic's unit), per row.
    Baseline {
        /// `1.1` of `1.1*baseline`.
        factor: f64,
        /// `0.02` of `baseline+20ms`.
        offset: f64,
    },
}

impl Threshold {
    /// The threshold for a row whose baseline value is `baseline`; `None` for a relative
    /// threshold without one.
    pub fn resolve(self, baseline: Option<f64>) -> Option<f64> {
        match self {
            Threshold::Fixed(v) => Some(v),
            Threshold::Baseline { factor, offset } => baseline.map(|b| factor * b + offset),
        }
    }

    /// True for a threshold relative to the baseline.
    pub fn relative(self) -> bool {
        matches!(self, Threshold::Baseline { .. })
    }
}

/// One comparison of a check: `p95{name="/cart"}<1.1*baseline`.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The leaf as given (whitespace removed; a PromQL query as given).
    pub text: Arc<str>,
    /// The statistic.
    pub stat: Stat,
    /// The selector (empty: each service's total row).
    pub selectors: Vec<Selector>,
    /// The comparison.
    pub op: Op,
    /// The threshold in the statistic's unit.
    pub threshold: Threshold,
    /// The PromQL query of a [`Stat::PromQl`] leaf.
    pub query: Option<Arc<str>>,
}

/// How leaves combine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Leaf `i` of the check.
    Leaf(usize),
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// The expression's truth when leaf `i` holds exactly when `leaf(i)`.
    pub fn holds(&self, leaf: &impl Fn(usize) -> bool) -> bool {
        match self {
            Expr::Leaf(i) => leaf(*i),
            Expr::And(a, b) => a.holds(leaf) && b.holds(leaf),
            Expr::Or(a, b) => a.holds(leaf) || b.holds(leaf),
        }
    }

    pub(super) fn write(&self, leaves: &[Leaf], out: &mut String, inside_and: bool) {
        match self {
            Expr::Leaf(i) => out.push_str(leaves.get(*i).map_or("", |l| &*l.text)),
            Expr::And(a, b) => {
                a.write(leaves, out, true);
                out.push_str(" and ");
                b.write(leaves, out, true);
            }
            Expr::Or(a, b) => {
                if inside_and {
                    out.push('(');
                }
                a.write(leaves, out, false);
                out.push_str(" or ");
                b.write(leaves, out, false);
                if inside_and {
                    out.push(')');
                }
            }
        }
    }
}

/// What a failing check does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `--check`: fails the run (exit 99).
    Fail,
    /// `--check.warn`: reported everywhere, never fails the run.
    Warn,
}

/// A parsed `--check` or `--check.warn`.
#[derive(Debug, Clone)]
pub struct Check {
    /// The check as a person reads it (each leaf without whitespace, `and` / `or` between):
    /// the `check` label.
    pub text: Arc<str>,
    /// Its comparisons, in the order written.
    pub leaves: Vec<Leaf>,
    /// How they combine.
    pub expr: Expr,
    /// Whether failing fails the run.
    pub severity: Severity,
}

/// Most leaves in one check.
pub const MAX_LEAVES: usize = 32;

/// A check that does not parse: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position} of `{text}`\n  {text}\n  {caret}^")]
pub struct CheckError {
    /// The expression as given.
    pub text: String,
    /// 1-based character position of the mistake.
    pub position: usize,
    /// What was expected.
    pub message: String,
    caret: String,
}

impl CheckError {
    /// An error at 0-based character `at` of `text`.
    pub fn at(text: &str, at: usize, message: impl Into<String>) -> CheckError {
        CheckError {
            text: text.to_owned(),
            position: at + 1,
            message: message.into(),
            caret: " ".repeat(at),
        }
    }
}

/// A check's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The value meets the threshold.
    Pass,
    /// It does not.
    Fail,
    /// Nothing to judge: no endpoint matches, no request yet, or the input has no such
    /// percentile. At the end of a run this fails the check.
    NoData,
}

impl Status {
    /// `pass`, `fail`, `no data`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NoData => "no data",
        }
    }
}

/// Where a check's value came from (the summary says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Counted exactly (requests, failures, ratios, means, min, max).
    Counted,
    /// Requests over the run's length from the input's own times (events, OTLP).
    Span,
    /// Locust's own rate over its run (`Requests/s`, `total_rps`) from this table.
    LocustRate(LocustTable),
    /// Locust's own percentile from this table.
    Locust(LocustTable),
    /// Request events, at Locust's rank, found as the basis says.
    Events(Precision),
    /// Both runs' latency distributions (`regression`).
    Distributions,
    /// A PromQL query over the run's window.
    PromQl,
}

impl Basis {
    /// As the summary says it.
    pub fn describe(self) -> String {
        match self {
            Basis::Counted => "counted".to_owned(),
            Basis::Span => "requests over the run's own span".to_owned(),
            Basis::LocustRate(t) => format!("{}'s Requests/s", t.describe()),
            Basis::Locust(t) => format!("{} percentile", t.describe()),
            Basis::Events(Precision::Exact) => "events, exact at Locust's rank".to_owned(),
            Basis::Events(Precision::Histogram(schema)) => format!(
                "events, native histogram at Locust's rank (within {:.2} %)",
                (super::native_histogram::upper_bound(1, schema).sqrt() - 1.0) * 100.0
            ),
            Basis::Events(Precision::Spread) => {
                "events, a producer's classic buckets (as coarse as they are)".to_owned()
            }
            Basis::Events(Precision::Locust) => "events".to_owned(),
            Basis::Distributions => "both runs' latency distributions".to_owned(),
            Basis::PromQl => "PromQL over the run's window".to_owned(),
        }
    }
}

/// What a row was compared with, beside its value: the baseline's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Compared {
    /// The baseline's value of the statistic (for `regression`: its median, seconds).
    pub baseline: Option<f64>,
    /// This run's median, seconds (`regression`).
    pub now: Option<f64>,
    /// The threshold this row was held to (a relative one resolved).
    pub threshold: Option<f64>,
    /// How sure the difference is not noise: 1 − the Holm-adjusted p-value (`regression`).
    pub confidence: Option<f64>,
    /// Requests compared, baseline and now (`regression`).
    pub requests: Option<(u64, u64)>,
    /// How finely the distributions were known (`regression`): `native histogram`, ….
    pub resolution: Option<&'static str>,
}

/// One leaf judged on one row (a service's total, or one endpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Index into the checks.
    pub check: usize,
    /// Index into the check's leaves.
    pub leaf: usize,
    /// The service (empty when nothing matched).
    pub service: Arc<str>,
    /// The endpoint's method (empty for a total row).
    pub method: Arc<str>,
    /// The endpoint's name (`Aggregated` for a total row; empty when nothing matched).
    pub name: Arc<str>,
    /// The value in the statistic's unit, when known.
    pub value: Option<f64>,
    /// Pass, fail or no data.
    pub status: Status,
    /// Where the value came from.
    pub basis: Basis,
    /// Why there is no value, or what a passing row without a comparison means (an
    /// endpoint new in this run or gone from it).
    pub missing: Option<Arc<str>>,
    /// The baseline's side, when the leaf compares with it.
    pub compared: Option<Compared>,
}

impl Check {
    /// True when a leaf compares with the baseline (a relative threshold or `regression`).
    pub fn needs_baseline(&self) -> bool {
        self.leaves
            .iter()
            .any(|l| l.threshold.relative() || l.stat == Stat::Regression)
    }

    /// True when a leaf is a PromQL query.
    pub fn needs_prometheus(&self) -> bool {
        self.leaves.iter().any(|l| l.stat == Stat::PromQl)
    }
}

impl Leaf {
    /// True when the leaf reads endpoints (a `name` or `method` selector, or
    /// `regression`), not totals.
    pub fn per_endpoint(&self) -> bool {
        self.stat == Stat::Regression
            || self
                .selectors
                .iter()
                .any(|s| matches!(s.field, Field::Name | Field::Method))
    }

    /// True when every selector on `field` matches `value`.
    pub fn selects(&self, field: Field, value: &str) -> bool {
        self.selectors
            .iter()
            .filter(|s| s.field == field)
            .all(|s| s.matcher.matches(value))
    }

    /// The threshold as a person reads it (`500ms`, `1%`, `100`, `1.1×baseline+20ms`).
    pub fn threshold_text(&self) -> String {
        let unit = self.stat.unit();
        match self.threshold {
            Threshold::Fixed(v) => format_value(unit, v),
            Threshold::Baseline { factor, offset } => {
                let mut s = if factor == 1.0 {
                    "baseline".to_owned()
                } else {
                    format!("{}×baseline", trim(factor))
                };
                if offset > 0.0 {
                    s.push('+');
                    s.push_str(&format_value(unit, offset));
                } else if offset < 0.0 {
                    s.push('-');
                    s.push_str(&format_value(unit, -offset));
                }
                s
            }
        }
    }
}

/// A value in a unit as a person reads it: `512.3ms`, `1.25s`, `0.4%`, `98.2`, `1000`.
pub fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Seconds if v < 1.0 => format!("{}ms", trim(v * 1000.0)),
        Unit::Seconds => format!("{}s", trim(v)),
        Unit::Ratio => format!("{}%", trim(v * 100.0)),
        Unit::PerSecond => trim(v),
        Unit::Count => format!("{v:.0}"),
        Unit::Plain => trim(v),
    }
}

/// At most 2 decimals, trailing zeros dropped (4 significant figures for small numbers).
fn trim(v: f64) -> String {
    let s = if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.2}")
    };
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Two checks are the same check when they read the same (a regex has no equality).
impl PartialEq for Check {
    fn eq(&self, other: &Check) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `s` parsed, for tests (a mistake panics, naming it).
#[cfg(test)]
pub(crate) fn parsed(s: &str) -> Check {
    match Check::parse(s) {
        Ok(c) => c,
        Err(e) => panic!("{s}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::parsed as parse;

    #[test]
    fn the_issue_s_examples_parse_to_base_units() {
        let cases: [(&str, Stat, Op, f64); 8] = [
            ("p95<500ms", Stat::Quantile(0.95), Op::Lt, 0.5),
            ("p99{name=\"/cart\"}<1s", Stat::Quantile(0.99), Op::Lt, 1.0),
            ("fail_ratio<1%", Stat::FailRatio, Op::Lt, 0.01),
            ("rps>=100", Stat::Rps, Op::Ge, 100.0),
            ("avg<200ms", Stat::Avg, Op::Lt, 0.2),
            ("max<5s", Stat::Max, Op::Lt, 5.0),
            ("requests>=1000", Stat::Requests, Op::Ge, 1000.0),
            (
                "p95{name=~\"/api/.*\"}<300ms",
                Stat::Quantile(0.95),
                Op::Lt,
                0.3,
            ),
        ];
        for (text, stat, op, threshold) in cases {
            let c = parse(text);
            let l = &c.leaves[0];
            assert_eq!((l.stat, l.op), (stat, op), "{text}");
            assert!(
                fixed(l).is_some_and(|t| (t - threshold).abs() < 1e-12),
                "{text}: {:?}",
                l.threshold
            );
            assert_eq!(&*c.text, text);
        }
        let c = parse(" p99.9 { name != \"/x\" , method=~'GET|POST', } <= 250 ");
        let l = &c.leaves[0];
        assert_eq!(l.stat, Stat::Quantile(0.999));
        assert_eq!(l.selectors.len(), 2);
        assert!(
            fixed(l).is_some_and(|t| (t - 0.25).abs() < 1e-12),
            "a bare time is ms"
        );
        assert_eq!(&*c.text, "p99.9{name!=\"/x\",method=~'GET|POST',}<=250");
        assert_eq!(fixed(&parse("fail_ratio<0.02").leaves[0]), Some(0.02));
        assert_eq!(fixed(&parse("median<2m").leaves[0]), Some(120.0));
    }

    fn fixed(l: &Leaf) -> Option<f64> {
        match l.threshold {
            Threshold::Fixed(v) => Some(v),
            Threshold::Baseline { .. } => None,
        }
    }

    #[test]
    fn composite_relative_k6_and_promql_checks_parse() {
        let c = parse("p(95) < 500ms and (fail_ratio<1% or rps >= 10)");
        assert_eq!(&*c.text, "p(95)<500ms and (fail_ratio<1% or rps>=10)");
        assert_eq!(c.leaves.len(), 3);
        assert_eq!(c.leaves[0].stat, Stat::Quantile(0.95));
        assert_eq!(
            c.expr,
            Expr::And(
                Box::new(Expr::Leaf(0)),
                Box::new(Expr::Or(Box::new(Expr::Leaf(1)), Box::new(Expr::Leaf(2))))
            )
        );
        assert!(c.expr.holds(&|i| i != 1));
        assert!(!c.expr.holds(&|i| i != 0));
        assert!(!c.expr.holds(&|i| i == 0));
        let rel = |t: &str| parse(t).leaves[0].threshold;
        assert_eq!(
            rel("p95<1.1*baseline"),
            Threshold::Baseline {
                factor: 1.1,
                offset: 0.0
            }
        );
        assert_eq!(
            rel("p95 < baseline + 20ms"),
            Threshold::Baseline {
                factor: 1.0,
                offset: 0.02
            }
        );
        assert_eq!(
            rel("rps>0.95*baseline"),
            Threshold::Baseline {
                factor: 0.95,
                offset: 0.0
            }
        );
        assert_eq!(
            rel("rps>baseline*0.95"),
            Threshold::Baseline {
                factor: 0.95,
                offset: 0.0
            }
        );
        assert_eq!(
            rel("fail_ratio<baseline+0.5%"),
            Threshold::Baseline {
                factor: 1.0,
                offset: 0.005
            }
        );
        assert_eq!(
            rel("p95<baseline-1s"),
            Threshold::Baseline {
                factor: 1.0,
                offset: -1.0
            }
        );
        assert_eq!(
            parse("p95<1.1*baseline").leaves[0].threshold_text(),
            "1.1×baseline"
        );
        assert_eq!(
            parse("p95<baseline+20ms").leaves[0].threshold_text(),
            "baseline+20ms"
        );
        let r = parse("regression{name=~\"/api/.*\"}<5%");
        assert_eq!(r.leaves[0].stat, Stat::Regression);
        assert!(r.leaves[0].per_endpoint());
        assert!(r.needs_baseline() && !r.needs_prometheus());
        let q = parse("promql: max(rate(http_errors_total{code=~\"5..\"}[1m])) or vector(0) < 0.1");
        let l = &q.leaves[0];
        assert_eq!((l.stat, l.op, fixed(l)), (Stat::PromQl, Op::Lt, Some(0.1)));
        assert_eq!(
            l.query.as_deref(),
            Some("max(rate(http_errors_total{code=~\"5..\"}[1m])) or vector(0)")
        );
        assert!(q.needs_prometheus());
        assert_eq!(
            Check::parse_warn("p95<1s").map(|c| c.severity),
            Ok(Severity::Warn)
        );
    }

    #[test]
    fn mistakes_name_their_position() {
        let cases = [
            ("p95<", 5, "expected a number"),
            ("p95 500ms", 5, "expected a comparison"),
            ("q95<1s", 1, "`q95` is not a statistic"),
            ("p0<1s", 2, "above 0"),
            ("p95{nme=\"/x\"}<1s", 5, "`nme` is not a label"),
            ("p95{name=/x}<1s", 10, "expected a quoted value"),
            ("p95{name=\"/x}<1s", 10, "never closed"),
            ("p95{name=~\"(\"}<1s", 11, "not a regular expression"),
            (
                "p95{name=\"/x\" method=\"GET\"}<1s",
                15,
                "expected `,` or `}`",
            ),
            ("p95<1h", 6, "a time's unit"),
            ("fail_ratio<1ms", 13, "a ratio is"),
            ("requests>10s", 12, "plain number"),
            ("p95<1s and more", 12, "`more` is not a statistic"),
            ("p95<1s p99<2s", 8, "join comparisons with `and`"),
            ("(p95<1s", 8, "expected `)`"),
            ("p95<1s)", 7, "closes nothing"),
            ("p(95<1s", 5, "expected `)` after the percentile"),
            ("p95<2*base", 7, "expected `baseline`"),
            ("regression<1.1*baseline", 12, "fixed threshold"),
            ("regression>5%", 11, "compare it with <"),
            ("promql:up", 10, "expected a comparison"),
            ("promql:<1", 8, "expected a PromQL query"),
            ("promql:up<x", 11, "expected a number"),
            ("", 1, "expected a statistic"),
        ];
        for (text, position, message) in cases {
            match Check::parse(text) {
                Ok(c) => panic!("{text} parsed: {c:?}"),
                Err(e) => {
                    assert_eq!(e.position, position, "{text}: {e}");
                    assert!(e.message.contains(message), "{text}: {e}");
                    let shown = e.to_string();
                    let caret = shown.lines().last().unwrap_or_default();
                    assert_eq!(caret.find('^'), Some(position + 1), "{text}:\n{shown}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Any text parses or is refused with a position inside it (plus one past the end).
        #[test]
        fn arbitrary_text_never_panics(s in "[pP0-9.{}=~!<>\"',a-z_%/ ]{0,40}") {
            if let Err(e) = Check::parse(&s) {
                proptest::prop_assert!(e.position <= s.chars().count() + 1, "{}", e);
            }
        }
    }

    #[test]
    fn run_stamps_are_utc() {
        assert_eq!(super::super::utc_stamp(0.0), "19700101T000000Z");
        assert_eq!(super::super::utc_stamp(1_796_236_007.9), "20261202T182647Z");
        assert_eq!(super::super::utc_stamp(951_782_400.0), "20000229T000000Z");
    }

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(format_value(Unit::Seconds, 0.5), "500ms");
        assert_eq!(format_value(Unit::Seconds, 0.0123456), "12.35ms");
        assert_eq!(format_value(Unit::Seconds, 1.5), "1.5s");
        assert_eq!(format_value(Unit::Ratio, 0.01), "1%");
        assert_eq!(format_value(Unit::Ratio, 0.0), "0%");
        assert_eq!(format_value(Unit::PerSecond, 98.456), "98.46");
        assert_eq!(format_value(Unit::Count, 1000.0), "1000");
    }
}
