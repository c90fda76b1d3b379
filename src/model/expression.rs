//! Parsing a check (`--check`, `--check.warn`): the grammar in [`super::check`]'s docs, one
//! character cursor, errors that name the position of the mistake.

use std::sync::Arc;

use regex::Regex;

use super::check::{
    Check, CheckError, Expr, Field, Leaf, Matcher, Op, Selector, Severity, Stat, Threshold, Unit,
    MAX_LEAVES,
};

struct Cursor<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> CheckError {
        CheckError::at(self.text, at, message)
    }

    /// True when the next word is `w` (not consumed).
    fn peek_word(&mut self, w: &str) -> bool {
        let at = self.at;
        let found = self.word() == w;
        self.at = at;
        found
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

const STATS: &str = "pNN, median, avg, min, max, fail_ratio, rps, requests, failures or regression";

/// `value` with `unit` in `stat`'s base unit, or what is wrong with the unit.
fn in_base_unit(unit_of: Unit, value: f64, unit: &str) -> Result<f64, &'static str> {
    Ok(match (unit_of, unit) {
        (Unit::Seconds, "" | "ms") => value / 1000.0,
        (Unit::Seconds, "us" | "µs") => value / 1e6,
        (Unit::Seconds, "s") => value,
        (Unit::Seconds, "m") => value * 60.0,
        (Unit::Ratio, "") => value,
        (Unit::Ratio, "%") => value / 100.0,
        (Unit::PerSecond | Unit::Count | Unit::Plain, "") => value,
        (Unit::Seconds, _) => return Err("a time's unit is us, ms, s or m (a bare number is ms)"),
        (Unit::Ratio, _) => return Err("a ratio is a number (0.01) or a percentage (1%)"),
        (_, _) => return Err("this statistic takes a plain number"),
    })
}

impl<'a> Cursor<'a> {
    fn unit_value(&mut self, unit_of: Unit) -> Result<f64, CheckError> {
        let value = self.number()?;
        self.skip_space();
        let unit_at = self.at;
        let unit = if self.eat("%") {
            "%"
        } else if self.peek().is_some_and(|c| c.is_alphabetic()) {
            self.word()
        } else {
            ""
        };
        in_base_unit(unit_of, value, unit).map_err(|m| self.error(unit_at, m))
    }

    /// `number [unit]` or `[number "*"] "baseline" ["*" number] [("+"|"-") number [unit]]`.
    fn threshold(&mut self, stat: Stat) -> Result<Threshold, CheckError> {
        self.skip_space();
        let at = self.at;
        let mut factor = None;
        if !self.peek_word("baseline") {
            let save = self.at;
            let n = self.number()?;
            if !self.eat("*") {
                self.at = save;
                return Ok(Threshold::Fixed(self.unit_value(stat.unit())?));
            }
            factor = Some(n);
            if !self.peek_word("baseline") {
                self.skip_space();
                return Err(self.error(self.at, "expected `baseline` after `*`"));
            }
        }
        self.word();
        if matches!(stat, Stat::Regression) {
            return Err(self.error(
                at,
                "regression compares with the baseline itself: give a fixed threshold (regression<5%)",
            ));
        }
        if self.eat("*") {
            if factor.is_some() {
                return Err(self.error(self.at, "one factor for the baseline"));
            }
            factor = Some(self.number()?);
        }
        let offset = if self.eat("+") {
            self.unit_value(stat.unit())?
        } else if self.eat("-") {
            -self.unit_value(stat.unit())?
        } else {
            0.0
        };
        Ok(Threshold::Baseline {
            factor: factor.unwrap_or(1.0),
            offset,
        })
    }

    fn leaf(&mut self) -> Result<Leaf, CheckError> {
        self.skip_space();
        let stat_at = self.at;
        let word = self.word();
        let quantile = |q: f64, c: &Cursor<'_>, at: usize| {
            if !(q > 0.0 && q <= 100.0) {
                return Err(c.error(at, "a percentile is above 0 and at most 100"));
            }
            // Rounded so p99.9 is the same 0.999 the percentile columns are read as.
            Ok(Stat::Quantile((q / 100.0 * 1e12).round() / 1e12))
        };
        let stat = match word {
            "median" => Stat::Quantile(0.5),
            "avg" | "mean" => Stat::Avg,
            "min" => Stat::Min,
            "max" => Stat::Max,
            "fail_ratio" | "failure_ratio" | "error_ratio" => Stat::FailRatio,
            "rps" => Stat::Rps,
            "requests" => Stat::Requests,
            "failures" => Stat::Failures,
            "regression" => Stat::Regression,
            // k6's spelling: p(95).
            "p" if self.peek() == Some('(') => {
                self.at += 1;
                let at = self.at;
                let q = self.number()?;
                if !self.eat(")") {
                    self.skip_space();
                    return Err(self.error(self.at, "expected `)` after the percentile"));
                }
                quantile(q, self, at)?
            }
            w if w.starts_with('p') && w.len() > 1 => {
                let q: f64 = w[1..].parse().map_err(|_| {
                    self.error(
                        stat_at + 1,
                        "expected a percentile after `p` (p50, p95, p99.9, p(95))",
                    )
                })?;
                quantile(q, self, stat_at + 1)?
            }
            "" => return Err(self.error(stat_at, format!("expected a statistic: {STATS}"))),
            _ => return Err(self.error(stat_at, format!("`{word}` is not a statistic: {STATS}"))),
        };
        let mut selectors = Vec::new();
        if self.eat("{") {
            loop {
                if self.eat("}") {
                    break;
                }
                self.skip_space();
                let label_at = self.at;
                let field = match self.word() {
                    "name" => Field::Name,
                    "method" | "type" => Field::Method,
                    "service" => Field::Service,
                    "" => {
                        return Err(
                            self.error(label_at, "expected a label: name, method or service")
                        )
                    }
                    other => {
                        return Err(self.error(
                            label_at,
                            format!(
                            "`{other}` is not a label a check selects on: name, method or service"
                        ),
                        ))
                    }
                };
                self.skip_space();
                let op_at = self.at;
                let kind = if self.eat("=~") {
                    2
                } else if self.eat("!~") {
                    3
                } else if self.eat("!=") {
                    1
                } else if self.eat("=") {
                    0
                } else {
                    return Err(self.error(op_at, "expected =, !=, =~ or !~"));
                };
                self.skip_space();
                let value_at = self.at;
                let value = self.quoted()?;
                let regex = |v: &str| {
                    Regex::new(&format!("^(?:{v})$"))
                        .map_err(|e| self.error(value_at, format!("not a regular expression: {e}")))
                };
                let matcher = match kind {
                    0 => Matcher::Eq(value),
                    1 => Matcher::Ne(value),
                    2 => Matcher::Re(regex(&value)?),
                    _ => Matcher::NotRe(regex(&value)?),
                };
                selectors.push(Selector { field, matcher });
                if self.eat(",") {
                    continue;
                }
                if self.eat("}") {
                    break;
                }
                self.skip_space();
                return Err(self.error(self.at, "expected `,` or `}`"));
            }
        }
        self.skip_space();
        let op_at = self.at;
        let op = if self.eat("<=") {
            Op::Le
        } else if self.eat(">=") {
            Op::Ge
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(">") {
            Op::Gt
        } else {
            return Err(self.error(op_at, "expected a comparison: <, <=, > or >="));
        };
        if stat == Stat::Regression && !op.upper_bound() {
            return Err(self.error(
                op_at,
                "regression is how much slower: compare it with < or <= (regression<5%)",
            ));
        }
        let threshold = self.threshold(stat)?;
        let compact: String = self
            .slice(stat_at, self.at)
            .chars()
            .filter(|ch| !ch.is_whitespace())
            .collect();
        Ok(Leaf {
            text: Arc::from(compact),
            stat,
            selectors,
            op,
            threshold,
            query: None,
        })
    }

    fn factor(&mut self, leaves: &mut Vec<Leaf>, depth: usize) -> Result<Expr, CheckError> {
        self.skip_space();
        let at = self.at;
        if self.eat("(") {
            if depth >= MAX_LEAVES {
                return Err(self.error(at, "parentheses nested too deep"));
            }
            let e = self.or_expr(leaves, depth + 1)?;
            if !self.eat(")") {
                self.skip_space();
                return Err(self.error(self.at, "expected `)`"));
            }
            return Ok(e);
        }
        if leaves.len() >= MAX_LEAVES {
            return Err(self.error(at, format!("a check has at most {MAX_LEAVES} comparisons")));
        }
        let leaf = self.leaf()?;
        leaves.push(leaf);
        Ok(Expr::Leaf(leaves.len() - 1))
    }

    fn and_expr(&mut self, leaves: &mut Vec<Leaf>, depth: usize) -> Result<Expr, CheckError> {
        let mut e = self.factor(leaves, depth)?;
        while self.peek_word("and") {
            self.word();
            e = Expr::And(Box::new(e), Box::new(self.factor(leaves, depth)?));
        }
        Ok(e)
    }

    fn or_expr(&mut self, leaves: &mut Vec<Leaf>, depth: usize) -> Result<Expr, CheckError> {
        let mut e = self.and_expr(leaves, depth)?;
        while self.peek_word("or") {
            self.word();
            e = Expr::Or(Box::new(e), Box::new(self.and_expr(leaves, depth)?));
        }
        Ok(e)
    }
}

/// `promql:QUERY op number`: the query is everything up to the last comparison.
fn promql_leaf(text: &str, prefix_chars: usize) -> Result<Leaf, CheckError> {
    let body = &text[text.find(':').map_or(0, |i| i + 1)..];
    let at_char = |byte: usize| text[..byte].chars().count();
    let bytes = body.as_bytes();
    let mut cut = None;
    for i in (0..bytes.len()).rev() {
        if bytes[i] == b'<' || bytes[i] == b'>' {
            cut = Some(i);
            break;
        }
    }
    let Some(op_at) = cut else {
        return Err(CheckError::at(
            text,
            text.chars().count(),
            "expected a comparison after the query: promql:QUERY < NUMBER",
        ));
    };
    let (op, number_at) = match (bytes[op_at], bytes.get(op_at + 1)) {
        (b'<', Some(b'=')) => (Op::Le, op_at + 2),
        (b'>', Some(b'=')) => (Op::Ge, op_at + 2),
        (b'<', _) => (Op::Lt, op_at + 1),
        _ => (Op::Gt, op_at + 1),
    };
    let query = body[..op_at].trim();
    let offset = text.len() - body.len();
    if query.is_empty() {
        return Err(CheckError::at(
            text,
            prefix_chars,
            "expected a PromQL query",
        ));
    }
    let raw = body[number_at..].trim();
    let threshold = raw
        .replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite());
    let Some(threshold) = threshold else {
        return Err(CheckError::at(
            text,
            at_char(offset + number_at),
            "expected a number after the comparison (a PromQL check compares the query's value)",
        ));
    };
    Ok(Leaf {
        text: Arc::from(format!("promql:{query}{}{raw}", op.as_str())),
        stat: Stat::PromQl,
        selectors: Vec::new(),
        op,
        threshold: Threshold::Fixed(threshold),
        query: Some(Arc::from(query)),
    })
}

impl Check {
    /// Parses one `--check` expression; the error names the position of the mistake.
    pub fn parse(text: &str) -> Result<Check, CheckError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with("promql:") {
            let prefix = text.len() - trimmed.len();
            let leaf = promql_leaf(text, text[..prefix].chars().count() + 7)?;
            return Ok(Check {
                text: leaf.text.clone(),
                leaves: vec![leaf],
                expr: Expr::Leaf(0),
                severity: Severity::Fail,
            });
        }
        let mut c = Cursor {
            text,
            chars: text.char_indices().collect(),
            at: 0,
        };
        let mut leaves = Vec::new();
        let expr = c.or_expr(&mut leaves, 0)?;
        c.skip_space();
        if c.at < c.chars.len() {
            let message = if c.peek() == Some(')') {
                "this `)` closes nothing"
            } else {
                "unexpected text after the threshold (join comparisons with `and` or `or`)"
            };
            return Err(c.error(c.at, message));
        }
        let mut shown = String::new();
        expr.write(&leaves, &mut shown, false);
        Ok(Check {
            text: Arc::from(shown),
            leaves,
            expr,
            severity: Severity::Fail,
        })
    }

    /// Parses a `--check.warn` expression: reported, never failing the run.
    pub fn parse_warn(text: &str) -> Result<Check, CheckError> {
        Ok(Check {
            severity: Severity::Warn,
            ..Check::parse(text)?
        })
    }
}
