//! The text formats: Prometheus 0.0.4 and OpenMetrics 1.0. Label sets are escaped once and
//! reused; values are formatted like the `prometheus` crate (shortest round-trip decimal,
//! `NaN`, `+Inf`); `le` and `quantile` values as Prometheus formats them itself.

use super::encoder::{Encoder, Histogram, Kind, Meta, Summary};
use crate::model::exemplar::{self, Exemplar};

/// Escapes a label value (`\` → `\\`, `"` → `\"`, newline → `\n`) onto `out`.
pub fn escape_label_value(out: &mut String, v: &str) {
    if memchr::memchr3(b'\\', b'"', b'\n', v.as_bytes()).is_none() {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Renders `name="value"` pairs, comma-separated, without braces.
pub fn label_set(pairs: &[(&str, &str)]) -> String {
    let mut s = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        escape_label_value(&mut s, v);
        s.push('"');
    }
    s
}

/// Appends a sample value: integers as integers (`2213`), other finite values as the
/// shortest decimal that reads back as the same `f64` (ryu; exponent form such as `1e-7`
/// only for very small or large magnitudes, which Prometheus reads), `NaN`, `±Inf`.
pub fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

/// Appends a `le` or `quantile` label value as Prometheus' OpenMetrics float format writes
/// it (`formatOpenMetricsFloat`): `1.0` rather than `1`, `0.25`, `1e-05`, `+Inf`. Prometheus
/// itself renders these labels so when it reads the protobuf format (and normalizes text to
/// it from 3.0), so every format stores the same series.
pub fn push_float_label(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push_str("0.0");
    } else if (1e-4..1e21).contains(&v.abs()) {
        // Go's 'g' format (shortest) is decimal for exponents -4 ..= 20 with at most 21
        // digits; ryu agrees on the digits and is decimal for this range up to 1e16.
        if v.fract() == 0.0 && v.abs() < 1e15 {
            out.push_str(itoa::Buffer::new().format(v as i64));
            out.push_str(".0");
        } else if v.abs() < 1e16 {
            out.push_str(ryu::Buffer::new().format_finite(v));
        } else {
            push_go_exponent(out, v);
        }
    } else {
        push_go_exponent(out, v);
    }
}

/// `1e-05`, `1.5e+21`: Go's exponent form (sign, at least two digits).
fn push_go_exponent(out: &mut String, v: f64) {
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    out.push_str(mantissa);
    out.push('e');
    out.push(sign);
    if digits.len() < 2 {
        out.push('0');
    }
    out.push_str(digits);
}

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text: `# UNIT`, counters' `_created`, counters named without `_total` in their
    /// headers (a counter whose name has no `_total`, such as the seed's, is `unknown`, so
    /// its samples keep their name), `# EOF`.
    OpenMetrics,
}

/// Writes text format 0.0.4 or OpenMetrics 1.0.
#[derive(Debug)]
pub struct TextEncoder {
    buf: String,
    dialect: Dialect,
    /// Formatted `le`/`quantile` values: every row shares the same few numbers.
    floats: Vec<(u64, String)>,
    /// `name="value"` every series carries (`--run.id`), or empty.
    every: String,
}

impl TextEncoder {
    /// An empty exposition with room for `bytes`.
    pub fn new(dialect: Dialect, bytes: usize) -> Self {
        TextEncoder {
            buf: String::with_capacity(bytes),
            dialect,
            floats: Vec::new(),
            every: String::new(),
        }
    }

    fn om(&self) -> bool {
        self.dialect == Dialect::OpenMetrics
    }

    /// The name in `# HELP`/`# TYPE`/`# UNIT` lines and the type written.
    fn header_name<'m>(&self, meta: &Meta<'m>) -> (&'m str, &'static str) {
        match (self.dialect, meta.kind) {
            (Dialect::Prometheus, kind) => (
                meta.name,
                match kind {
                    Kind::Counter => "counter",
                    Kind::Gauge | Kind::StateSet => "gauge",
                    Kind::Summary => "summary",
                    Kind::Histogram => "histogram",
                    Kind::Untyped => "untyped",
                },
            ),
            (Dialect::OpenMetrics, Kind::Counter) => match meta.name.strip_suffix("_total") {
                Some(family) => (family, "counter"),
                None => (meta.name, "unknown"),
            },
            (Dialect::OpenMetrics, kind) => (
                meta.name,
                match kind {
                    Kind::Gauge => "gauge",
                    Kind::StateSet => "stateset",
                    Kind::Summary => "summary",
                    Kind::Histogram => "histogram",
                    Kind::Counter | Kind::Untyped => "unknown",
                },
            ),
        }
    }

    /// `name` + `suffix` `{labels[,extra]}` `value` newline.
    fn line(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &str,
        extra: Option<(&str, f64)>,
        value: f64,
    ) {
        let b = &mut self.buf;
        b.push_str(name);
        b.push_str(suffix);
        if !labels.is_empty() || extra.is_some() || !self.every.is_empty() {
            b.push('{');
            b.push_str(labels);
            if !self.every.is_empty() {
                if !labels.is_empty() {
                    b.push(',');
                }
                b.push_str(&self.every);
            }
            if let Some((k, v)) = extra {
                if !labels.is_empty() || !self.every.is_empty() {
                    b.push(',');
                }
                b.push_str(k);
                b.push_str("=\"");
                let bits = v.to_bits();
                match self.floats.iter().find(|(k, _)| *k == bits) {
                    Some((_, s)) => b.push_str(s),
                    None => {
                        let mut s = String::new();
                        push_float_label(&mut s, v);
                        b.push_str(&s);
                        self.floats.push((bits, s));
                    }
                }
                b.push('"');
            }
            b.push('}');
        }
        b.push(' ');
        push_value(b, value);
        b.push('\n');
    }

    /// An OpenMetrics exemplar on the line just written (` # {trace_id="…",span_id="…"}
    /// value timestamp`); nothing in text 0.0.4, which has none.
    fn exemplar(&mut self, e: Option<&Exemplar>) {
        let Some(e) = e else {
            return;
        };
        if self.buf.ends_with('\n') {
            self.buf.pop();
        }
        let b = &mut self.buf;
        b.push_str(" # {trace_id=\"");
        b.extend(e.trace.trace_digits().map(char::from));
        b.push_str("\",span_id=\"");
        b.extend(e.trace.span_digits().map(char::from));
        b.push_str("\"} ");
        push_value(b, e.seconds);
        b.push(' ');
        push_value(b, (e.time * 1000.0).round() / 1000.0);
        b.push('\n');
    }

    /// A sample; a counter's `_total` also has its exemplar (OpenMetrics only, where one is
    /// given) and its `_created` line.
    fn sample(
        &mut self,
        meta: &Meta<'_>,
        labels: &str,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        self.line(meta.name, "", labels, None, value);
        if meta.kind == Kind::Counter && meta.name.ends_with("_total") {
            if self.om() {
                self.exemplar(exemplar);
            }
            self.created(meta, labels, created);
        }
    }

    /// A counter's `_created` sample (OpenMetrics only), where known. Prometheus 2.42
    /// (Debian 12's) stores every `_created` line as a series of its own, so OpenMetrics
    /// scrapes add these few `*_created` series beside the counters; summaries and
    /// histograms get none, to keep that addition small (their endpoints' counters already
    /// say when they started). The protobuf format carries every creation time in the
    /// fields Prometheus reads as such, adding no series.
    fn created(&mut self, meta: &Meta<'_>, labels: &str, created: Option<f64>) {
        if let (true, Some(t)) = (self.om(), created) {
            let base = meta.name.strip_suffix("_total").unwrap_or(meta.name);
            self.line(base, "_created", labels, None, t);
        }
    }
}

impl Encoder for TextEncoder {
    type Labels = String;

    fn labels(pairs: &[(&str, &str)]) -> String {
        label_set(pairs)
    }

    fn label_every_series(&mut self, name: &str, value: &str) {
        self.every = label_set(&[(name, value)]);
    }

    fn header(&mut self, meta: &Meta<'_>) {
        let (name, kind) = self.header_name(meta);
        let om = self.om();
        let b = &mut self.buf;
        b.push_str("# HELP ");
        b.push_str(name);
        b.push(' ');
        for c in meta.help.chars() {
            match c {
                '\\' => b.push_str("\\\\"),
                '\n' => b.push_str("\\n"),
                '"' if om => b.push_str("\\\""),
                c => b.push(c),
            }
        }
        b.push_str("\n# TYPE ");
        b.push_str(name);
        b.push(' ');
        b.push_str(kind);
        b.push('\n');
        if let (true, Some(unit)) = (om, meta.unit) {
            b.push_str("# UNIT ");
            b.push_str(name);
            b.push(' ');
            b.push_str(unit);
            b.push('\n');
        }
    }

    fn value(&mut self, meta: &Meta<'_>, labels: &String, value: f64, created: Option<f64>) {
        self.sample(meta, labels, value, created, None);
    }

    fn traced(
        &mut self,
        meta: &Meta<'_>,
        labels: &String,
        value: f64,
        created: Option<f64>,
        exemplar: &Exemplar,
    ) {
        self.sample(meta, labels, value, created, Some(exemplar));
    }

    fn summary(&mut self, meta: &Meta<'_>, labels: &String, s: &Summary<'_>) {
        for &(q, v) in s.quantiles {
            self.line(meta.name, "", labels, Some(("quantile", q)), v / s.divisor);
        }
        self.line(meta.name, "_sum", labels, None, s.sum);
        self.line(meta.name, "_count", labels, None, s.count as f64);
    }

    fn histogram(&mut self, meta: &Meta<'_>, labels: &String, h: &Histogram<'_>) {
        // Exemplars only where the format has them and requests were traced: the plain
        // loop is what every other histogram takes.
        let traced = self.om() && !h.exemplars.is_empty();
        let mut below = f64::NEG_INFINITY;
        for &(le, count) in h.buckets {
            self.line(meta.name, "_bucket", labels, Some(("le", le)), count as f64);
            if traced {
                self.exemplar(exemplar::in_bucket(h.exemplars, below, le));
                below = le;
            }
        }
        let count = h.count as f64;
        self.line(
            meta.name,
            "_bucket",
            labels,
            Some(("le", f64::INFINITY)),
            count,
        );
        if traced {
            self.exemplar(exemplar::in_bucket(h.exemplars, below, f64::INFINITY));
        }
        if self.om() {
            // OpenMetrics orders `_count` before `_sum` in its examples; either parses.
            self.line(meta.name, "_count", labels, None, count);
            self.line(meta.name, "_sum", labels, None, h.sum);
        } else {
            self.line(meta.name, "_sum", labels, None, h.sum);
            self.line(meta.name, "_count", labels, None, count);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.om() {
            self.buf.push_str("# EOF\n");
        }
        self.buf.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_like_the_prometheus_crate() {
        for v in [
            0.0,
            3.0,
            2213.0,
            29.278512866672134,
            0.13465883416177135,
            0.999,
            -4.0,
            20000.0,
            0.005,
        ] {
            let mut s = String::new();
            push_value(&mut s, v);
            assert_eq!(s, v.to_string(), "{v}");
        }
        for v in [1e-7, 1.2e16, 3.5e-300, f64::MAX, f64::MIN_POSITIVE] {
            let mut s = String::new();
            push_value(&mut s, v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "round trip of {s}");
        }
        let mut s = String::new();
        push_value(&mut s, f64::NAN);
        push_value(&mut s, f64::INFINITY);
        assert_eq!(s, "NaN+Inf");
    }

    fn render(dialect: Dialect, write: impl FnOnce(&mut TextEncoder)) -> String {
        let mut t = TextEncoder::new(dialect, 0);
        write(&mut t);
        String::from_utf8(t.finish()).unwrap()
    }

    #[test]
    fn families_escape_and_skip_when_empty() {
        let text = render(Dialect::Prometheus, |t| {
            let _ = t.family("unused", "never written", Kind::Gauge);
            let mut f = t.family("m_total", "help with \\ and\nnewline", Kind::Counter);
            f.sample(&label_set(&[("path", "/a,\"b\"\\\n")]), 2.0);
            f.sample_since(&label_set(&[]), 1.0, Some(5.0));
        });
        assert_eq!(
            text,
            "# HELP m_total help with \\\\ and\\nnewline\n# TYPE m_total counter\nm_total{path=\"/a,\\\"b\\\"\\\\\\n\"} 2\nm_total 1\n"
        );
    }

    #[test]
    fn float_labels_as_prometheus_writes_them() {
        for (v, want) in [
            (1.0, "1.0"),
            (60.0, "60.0"),
            (0.0, "0.0"),
            (0.5, "0.5"),
            (0.999, "0.999"),
            (0.001, "0.001"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.5e-7, "2.5e-07"),
            (123456.0, "123456.0"),
            (1e21, "1e+21"),
            (f64::INFINITY, "+Inf"),
        ] {
            let mut s = String::new();
            push_float_label(&mut s, v);
            assert_eq!(s, want, "{v}");
        }
    }

    fn histogram_and_summary(t: &mut TextEncoder) {
        let l = label_set(&[("service", "s")]);
        let exemplars = [Exemplar {
            trace: crate::model::exemplar::TraceRef {
                trace_id: [0xab; 16],
                span_id: [0xcd; 8],
            },
            seconds: 0.75,
            time: 100.5,
        }];
        let mut f = t.family("d_seconds", "D.", Kind::Histogram).unit("seconds");
        f.histogram(
            &l,
            &Histogram {
                buckets: &[(0.5, 1), (1.0, 2)],
                count: 3,
                sum: 4.5,
                native: None,
                created: Some(100.0),
                exemplars: &exemplars,
            },
        );
        let mut f = t.family("r_seconds", "R.", Kind::Summary).unit("seconds");
        f.summary(
            &l,
            &Summary {
                quantiles: &[(0.5, 250.0), (1.0, 2000.0)],
                divisor: 1000.0,
                sum: 4.5,
                count: 3,
                created: None,
            },
        );
        let mut f = t.family("seed_count", "Seed's counter.", Kind::Counter);
        f.sample(&l, 7.0);
        let mut f = t.family("req_total", "Requests \"quoted\".", Kind::Counter);
        f.sample_traced(&l, 7.0, Some(100.25), exemplars.first());
    }

    #[test]
    fn text_format_0_0_4() {
        assert_eq!(
            render(Dialect::Prometheus, histogram_and_summary),
            "# HELP d_seconds D.\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{service=\"s\",le=\"0.5\"} 1\n\
             d_seconds_bucket{service=\"s\",le=\"1.0\"} 2\n\
             d_seconds_bucket{service=\"s\",le=\"+Inf\"} 3\n\
             d_seconds_sum{service=\"s\"} 4.5\n\
             d_seconds_count{service=\"s\"} 3\n\
             # HELP r_seconds R.\n# TYPE r_seconds summary\n\
             r_seconds{service=\"s\",quantile=\"0.5\"} 0.25\n\
             r_seconds{service=\"s\",quantile=\"1.0\"} 2\n\
             r_seconds_sum{service=\"s\"} 4.5\n\
             r_seconds_count{service=\"s\"} 3\n\
             # HELP seed_count Seed's counter.\n# TYPE seed_count counter\n\
             seed_count{service=\"s\"} 7\n\
             # HELP req_total Requests \"quoted\".\n# TYPE req_total counter\n\
             req_total{service=\"s\"} 7\n"
        );
    }

    #[test]
    fn openmetrics_1_0() {
        assert_eq!(
            render(Dialect::OpenMetrics, histogram_and_summary),
            "# HELP d_seconds D.\n# TYPE d_seconds histogram\n# UNIT d_seconds seconds\n\
             d_seconds_bucket{service=\"s\",le=\"0.5\"} 1\n\
             d_seconds_bucket{service=\"s\",le=\"1.0\"} 2 # {trace_id=\"abababababababababababababababab\",span_id=\"cdcdcdcdcdcdcdcd\"} 0.75 100.5\n\
             d_seconds_bucket{service=\"s\",le=\"+Inf\"} 3\n\
             d_seconds_count{service=\"s\"} 3\n\
             d_seconds_sum{service=\"s\"} 4.5\n\
             # HELP r_seconds R.\n# TYPE r_seconds summary\n# UNIT r_seconds seconds\n\
             r_seconds{service=\"s\",quantile=\"0.5\"} 0.25\n\
             r_seconds{service=\"s\",quantile=\"1.0\"} 2\n\
             r_seconds_sum{service=\"s\"} 4.5\n\
             r_seconds_count{service=\"s\"} 3\n\
             # HELP seed_count Seed's counter.\n# TYPE seed_count unknown\n\
             seed_count{service=\"s\"} 7\n\
             # HELP req Requests \\\"quoted\\\".\n# TYPE req counter\n\
             req_total{service=\"s\"} 7 # {trace_id=\"abababababababababababababababab\",span_id=\"cdcdcdcdcdcdcdcd\"} 0.75 100.5\n\
             req_created{service=\"s\"} 100.25\n\
             # EOF\n"
        );
    }
}
