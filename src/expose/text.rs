//! A writer for the text exposition format: families with lazily written `# HELP`/`# TYPE`
//! headers, label sets escaped once and reused, values formatted like the `prometheus`
//! crate (shortest round-trip decimal, `NaN`, `+Inf`).

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

/// The exposition being written.
#[derive(Debug, Default)]
pub struct Text {
    buf: String,
}

/// One metric family being written; its header goes out with its first sample.
pub struct Family<'a> {
    out: &'a mut Text,
    name: &'a str,
    help: &'a str,
    kind: &'a str,
    started: bool,
}

impl Text {
    /// An empty exposition with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        Text {
            buf: String::with_capacity(bytes),
        }
    }

    /// Starts family `name` of type `kind` (`counter`, `gauge`, `summary`, `histogram`).
    pub fn family<'a>(&'a mut self, name: &'a str, help: &'a str, kind: &'a str) -> Family<'a> {
        Family {
            out: self,
            name,
            help,
            kind,
            started: false,
        }
    }

    /// The text.
    pub fn into_string(self) -> String {
        self.buf
    }
}

impl Family<'_> {
    fn header(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let b = &mut self.out.buf;
        b.push_str("# HELP ");
        b.push_str(self.name);
        b.push(' ');
        for c in self.help.chars() {
            match c {
                '\\' => b.push_str("\\\\"),
                '\n' => b.push_str("\\n"),
                c => b.push(c),
            }
        }
        b.push_str("\n# TYPE ");
        b.push_str(self.name);
        b.push(' ');
        b.push_str(self.kind);
        b.push('\n');
    }

    /// One sample: `name{labels} value`, with `labels` already rendered by [`label_set`].
    pub fn sample(&mut self, labels: &str, value: f64) {
        self.sample_with("", labels, None, value);
    }

    /// One sample of `name` + `suffix` (`_sum`, `_bucket`, …), with an optional extra label
    /// (`quantile`, `le`) after `labels`. The extra label's value is written as is: it is a
    /// formatted number, which never needs escaping.
    pub fn sample_with(
        &mut self,
        suffix: &str,
        labels: &str,
        extra: Option<(&str, &str)>,
        value: f64,
    ) {
        self.header();
        let b = &mut self.out.buf;
        b.push_str(self.name);
        b.push_str(suffix);
        if !labels.is_empty() || extra.is_some() {
            b.push('{');
            b.push_str(labels);
            if let Some((k, v)) = extra {
                if !labels.is_empty() {
                    b.push(',');
                }
                b.push_str(k);
                b.push_str("=\"");
                b.push_str(v);
                b.push('"');
            }
            b.push('}');
        }
        b.push(' ');
        push_value(b, value);
        b.push('\n');
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

    #[test]
    fn families_escape_and_skip_when_empty() {
        let mut t = Text::default();
        t.family("unused", "never written", "gauge");
        let mut f = t.family("m_total", "help with \\ and\nnewline", "counter");
        f.sample(&label_set(&[("path", "/a,\"b\"\\\n")]), 2.0);
        f.sample_with("", "", Some(("le", "+Inf")), 1.0);
        assert_eq!(
            t.into_string(),
            "# HELP m_total help with \\\\ and\\nnewline\n# TYPE m_total counter\nm_total{path=\"/a,\\\"b\\\"\\\\\\n\"} 2\nm_total{le=\"+Inf\"} 1\n"
        );
    }
}
