//! Checks (`--check`, `docs/checks.md`): a statistic, an optional label selector, a
//! comparison and a threshold, parsed once at startup ([`Check::parse`]) and evaluated on
//! every snapshot ([`super::judge::evaluate`]) against the best numbers the input has.
//!
//! ```text
//! check    := stat [ "{" selector { "," selector } [","] "}" ] op number [unit]
//! stat     := "p" number | "median" | "avg" | "min" | "max"
//!           | "fail_ratio" | "rps" | "requests" | "failures"
//! selector := ("name" | "method" | "service") ("=" | "!=" | "=~" | "!~") quoted
//! op       := "<" | "<=" | ">" | ">="
//! unit     := "us" | "ms" | "s" | "m"   (times; a bare number is milliseconds, as Locust)
//!           | "%"                       (fail_ratio; a bare number is a ratio)
//! ```
//!
//! Without a `name` or `method` selector a check reads each service's total row (Locust's
//! `Aggregated`); with one, each matching endpoint is checked on its own. Regular
//! expressions are anchored at both ends, as in PromQL. Times are kept in seconds, ratios
//! as ratios: the base units the metrics serve. Judging a snapshot is `super::judge`'s.

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use super::percentile::Precision;
use super::update::LocustTable;

/// What a check measures.
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
}

impl Stat {
    /// The unit of its values.
    pub fn unit(self) -> Unit {
        match self {
            Stat::Quantile(_) | Stat::Avg | Stat::Min | Stat::Max => Unit::Seconds,
            Stat::FailRatio => Unit::Ratio,
            Stat::Rps => Unit::PerSecond,
            Stat::Requests | Stat::Failures => Unit::Count,
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

/// One `label op "value"` of a check's selector.
#[derive(Debug, Clone)]
pub struct Selector {
    /// The label.
    pub field: Field,
    /// The match.
    pub matcher: Matcher,
}

/// A parsed `--check`.
#[derive(Debug, Clone)]
pub struct Check {
    /// The expression as given (whitespace removed): the `check` label.
    pub text: Arc<str>,
    /// The statistic.
    pub stat: Stat,
    /// The selector (empty: each service's total row).
    pub selectors: Vec<Selector>,
    /// The comparison.
    pub op: Op,
    /// The threshold in the statistic's unit (seconds, ratio, per second, count).
    pub threshold: f64,
}

/// A `--check` that does not parse: where and why.
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
        }
    }
}

/// One check judged on one row (a service's total, or one endpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Index into the checks.
    pub check: usize,
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
    /// Why there is no value, when there is none.
    pub missing: Option<&'static str>,
}

struct Cursor<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> CheckError {
        CheckError {
            text: self.text.to_owned(),
            position: at + 1,
            message: message.into(),
            caret: " ".repeat(at),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|&(_, c)| c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_space();
        let n = s.chars().count();
        let matches = self
            .chars
            .get(self.at..self.at + n)
            .is_some_and(|w| w.iter().map(|&(_, c)| c).eq(s.chars()));
        if matches {
            self.at += n;
        }
        matches
    }

    /// The byte slice of characters `from..to`.
    fn slice(&self, from: usize, to: usize) -> &'a str {
        let start = self.chars.get(from).map_or(self.text.len(), |&(b, _)| b);
        let end = self.chars.get(to).map_or(self.text.len(), |&(b, _)| b);
        &self.text[start..end]
    }

    fn word(&mut self) -> &'a str {
        self.skip_space();
        let from = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.at += 1;
        }
        self.slice(from, self.at)
    }

    fn number(&mut self) -> Result<f64, CheckError> {
        self.skip_space();
        let from = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '_')
        {
            self.at += 1;
        }
        let digits: String = self.slice(from, self.at).replace('_', "");
        match digits.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error(from, "expected a number")),
        }
    }

    fn quoted(&mut self) -> Result<String, CheckError> {
        self.skip_space();
        let from = self.at;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error(from, "expected a quoted value")),
        };
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(from, "this quote is never closed")),
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c) => out.push(c),
                        None => return Err(self.error(from, "this quote is never closed")),
                    }
                    self.at += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

impl Check {
    /// Parses one `--check` expression; the error names the position of the mistake.
    pub fn parse(text: &str) -> Result<Check, CheckError> {
        let mut c = Cursor {
            text,
            chars: text.char_indices().collect(),
            at: 0,
        };
        c.skip_space();
        let stat_at = c.at;
        let word = c.word();
        let stat = match word {
            "median" => Stat::Quantile(0.5),
            "avg" | "mean" => Stat::Avg,
            "min" => Stat::Min,
            "max" => Stat::Max,
            "fail_ratio" | "failure_ratio" | "error_ratio" => Stat::FailRatio,
            "rps" => Stat::Rps,
            "requests" => Stat::Requests,
            "failures" => Stat::Failures,
            w if w.starts_with('p') && w.len() > 1 => {
                let q: f64 = w[1..].parse().map_err(|_| {
                    c.error(
                        stat_at + 1,
                        "expected a percentile after `p` (p50, p95, p99.9)",
                    )
                })?;
                if !(q > 0.0 && q <= 100.0) {
                    return Err(c.error(stat_at + 1, "a percentile is above 0 and at most 100"));
                }
                // Rounded so p99.9 is the same 0.999 the percentile columns are read as.
                Stat::Quantile((q / 100.0 * 1e12).round() / 1e12)
            }
            "" => {
                return Err(c.error(
                    stat_at,
                    "expected a statistic: pNN, median, avg, min, max, fail_ratio, rps, requests or failures",
                ))
            }
            _ => {
                return Err(c.error(
                    stat_at,
                    format!("`{word}` is not a statistic: pNN, median, avg, min, max, fail_ratio, rps, requests or failures"),
                ))
            }
        };
        let mut selectors = Vec::new();
        if c.eat("{") {
            loop {
                if c.eat("}") {
                    break;
                }
                c.skip_space();
                let label_at = c.at;
                let field = match c.word() {
                    "name" => Field::Name,
                    "method" | "type" => Field::Method,
                    "service" => Field::Service,
                    "" => {
                        return Err(c.error(label_at, "expected a label: name, method or service"))
                    }
                    other => {
                        return Err(c.error(
                            label_at,
                            format!(
                            "`{other}` is not a label a check selects on: name, method or service"
                        ),
                        ))
                    }
                };
                c.skip_space();
                let op_at = c.at;
                let kind = if c.eat("=~") {
                    2
                } else if c.eat("!~") {
                    3
                } else if c.eat("!=") {
                    1
                } else if c.eat("=") {
                    0
                } else {
                    return Err(c.error(op_at, "expected =, !=, =~ or !~"));
                };
                c.skip_space();
                let value_at = c.at;
                let value = c.quoted()?;
                let regex = |v: &str| {
                    Regex::new(&format!("^(?:{v})$"))
                        .map_err(|e| c.error(value_at, format!("not a regular expression: {e}")))
                };
                let matcher = match kind {
                    0 => Matcher::Eq(value),
                    1 => Matcher::Ne(value),
                    2 => Matcher::Re(regex(&value)?),
                    _ => Matcher::NotRe(regex(&value)?),
                };
                selectors.push(Selector { field, matcher });
                if c.eat(",") {
                    continue;
                }
                if c.eat("}") {
                    break;
                }
                c.skip_space();
                return Err(c.error(c.at, "expected `,` or `}`"));
            }
        }
        c.skip_space();
        let op_at = c.at;
        let op = if c.eat("<=") {
            Op::Le
        } else if c.eat(">=") {
            Op::Ge
        } else if c.eat("<") {
            Op::Lt
        } else if c.eat(">") {
            Op::Gt
        } else {
            return Err(c.error(op_at, "expected a comparison: <, <=, > or >="));
        };
        let value = c.number()?;
        c.skip_space();
        let unit_at = c.at;
        let unit = if c.eat("%") { "%" } else { c.word() };
        let threshold = match (stat.unit(), unit) {
            (Unit::Seconds, "" | "ms") => value / 1000.0,
            (Unit::Seconds, "us" | "µs") => value / 1e6,
            (Unit::Seconds, "s") => value,
            (Unit::Seconds, "m") => value * 60.0,
            (Unit::Ratio, "") => value,
            (Unit::Ratio, "%") => value / 100.0,
            (Unit::PerSecond | Unit::Count, "") => value,
            (Unit::Seconds, _) => {
                return Err(c.error(
                    unit_at,
                    "a time's unit is us, ms, s or m (a bare number is ms)",
                ))
            }
            (Unit::Ratio, _) => {
                return Err(c.error(unit_at, "a ratio is a number (0.01) or a percentage (1%)"))
            }
            (_, _) => return Err(c.error(unit_at, "this statistic takes a plain number")),
        };
        c.skip_space();
        if c.at < c.chars.len() {
            return Err(c.error(c.at, "unexpected text after the threshold"));
        }
        let compact: String = text.chars().filter(|ch| !ch.is_whitespace()).collect();
        Ok(Check {
            text: Arc::from(compact),
            stat,
            selectors,
            op,
            threshold,
        })
    }

    /// True when the check reads endpoints (a `name` or `method` selector), not totals.
    pub fn per_endpoint(&self) -> bool {
        self.selectors
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

    /// The threshold as a person reads it (`500ms`, `1%`, `100`).
    pub fn threshold_text(&self) -> String {
        format_value(self.stat.unit(), self.threshold)
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
            assert_eq!((c.stat, c.op), (stat, op), "{text}");
            assert!(
                (c.threshold - threshold).abs() < 1e-12,
                "{text}: {}",
                c.threshold
            );
            assert_eq!(&*c.text, text);
        }
        let c = parse(" p99.9 { name != \"/x\" , method=~'GET|POST', } <= 250 ");
        assert_eq!(c.stat, Stat::Quantile(0.999));
        assert_eq!(c.selectors.len(), 2);
        assert!((c.threshold - 0.25).abs() < 1e-12, "a bare time is ms");
        assert_eq!(&*c.text, "p99.9{name!=\"/x\",method=~'GET|POST',}<=250");
        assert_eq!(parse("fail_ratio<0.02").threshold, 0.02);
        assert_eq!(parse("median<2m").threshold, 120.0);
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
            ("p95<1s and more", 8, "unexpected text"),
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
