//! The YAML subset of the configuration files the exporter reads (the exporter-toolkit web
//! config, the Prometheus HTTP client config of `--push.config.file` and
//! `--locust.config.file`): maps nested by indentation, one `key: value` per line, plain or
//! quoted scalars, `#` comments. Anything else (lists, flow style, multi-line scalars) is an
//! error naming its line. Pure: text in, entries out.

/// One `key: value` line, with the keys of the maps it is nested in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The enclosing keys, outermost first (empty at the top level).
    pub path: Vec<String>,
    /// The key.
    pub key: String,
    /// The scalar (quotes removed); empty for a key that opens a nested map.
    pub value: String,
    /// 1-based line.
    pub line: usize,
}

impl Entry {
    /// The full dotted name (`http_server_config.headers.X-Frame-Options`).
    pub fn name(&self) -> String {
        let mut parts = self.path.clone();
        parts.push(self.key.clone());
        parts.join(".")
    }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// Removes a `#` comment: one at the start of the line or after a space, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev == ' ' || prev == '\t' => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// Every `key: value` of `text`, in order; errors are (line, message).
pub fn entries(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut out = Vec::new();
    // (indent, key) of the open maps.
    let mut open: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        if line.trim() == "---" && i == 0 {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if line[..indent].contains('\t') {
            return Err((line_no, "indented with a tab (YAML needs spaces)".into()));
        }
        let body = line.trim();
        if body.starts_with('-') || body.starts_with('[') || body.starts_with('{') {
            return Err((
                line_no,
                format!("`{body}`: lists and flow style are not supported"),
            ));
        }
        let Some((key, value)) = body.split_once(':') else {
            return Err((line_no, format!("expected `key: value`, found `{body}`")));
        };
        while open.last().is_some_and(|(at, _)| *at >= indent) {
            open.pop();
        }
        let value = unquote(value);
        let key = unquote(key).to_owned();
        if key.is_empty() {
            return Err((line_no, "a key is empty".into()));
        }
        if value == "|" || value == ">" {
            return Err((line_no, "multi-line scalars are not supported".into()));
        }
        out.push(Entry {
            path: open.iter().map(|(_, k)| k.clone()).collect(),
            key: key.clone(),
            value: value.to_owned(),
            line: line_no,
        });
        if value.is_empty() {
            open.push((indent, key));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_comments_and_quotes() {
        let text = "# top\nbasic_auth:\n  username: alice # the user\n  password_file: '/run/pw #1'\ntls_config:\n  insecure_skip_verify: true\nhttp_server_config:\n  headers:\n    X-Frame-Options: \"deny\"\n  http2: false\n";
        let e = entries(text).unwrap();
        let names: Vec<(String, String)> = e.iter().map(|e| (e.name(), e.value.clone())).collect();
        assert_eq!(
            names,
            vec![
                ("basic_auth".into(), "".into()),
                ("basic_auth.username".into(), "alice".into()),
                ("basic_auth.password_file".into(), "/run/pw #1".into()),
                ("tls_config".into(), "".into()),
                ("tls_config.insecure_skip_verify".into(), "true".into()),
                ("http_server_config".into(), "".into()),
                ("http_server_config.headers".into(), "".into()),
                (
                    "http_server_config.headers.X-Frame-Options".into(),
                    "deny".into()
                ),
                ("http_server_config.http2".into(), "false".into()),
            ]
        );
        assert_eq!(e[8].line, 10);
    }

    #[test]
    fn unsupported_yaml_names_the_line() {
        assert_eq!(entries("a:\n  - x\n").unwrap_err().0, 2);
        assert_eq!(entries("a: |\n  text\n").unwrap_err().0, 1);
        assert_eq!(entries("just text\n").unwrap_err().0, 1);
        assert_eq!(entries("a:\n\tb: c\n").unwrap_err().0, 2);
    }
}
