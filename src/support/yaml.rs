//! The settings files the exporter reads (the exporter-toolkit web config, the Prometheus
//! HTTP client config of `--push.config.file` and `--locust.config.file`) as YAML, parsed by
//! `yaml-rust2`: block and flow style, every quoting and escape, block scalars, anchors and
//! aliases, comments, a byte-order mark. The files are nested maps of scalars, so a document
//! becomes a flat list of [`Entry`]s (each with its line, for errors) that the readers check
//! key by key. A duplicate key, a list, or more than one document is an error naming its
//! line. Pure: text in, entries out.
//!
//! Booleans are read as Go's YAML 1.1 reads them ([`boolean`]), since the files are shared
//! with Prometheus and the exporter toolkit: `yes`, `True` and `on` are true.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One key of a map, with the keys of the maps it is nested in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The enclosing keys, outermost first (empty at the top level).
    pub path: Vec<String>,
    /// The key.
    pub key: String,
    /// The scalar; empty for a key that opens a nested map or has no value.
    pub value: String,
    /// The key has no value at all (`key:` alone, `~`, `null`): Go reads such a key as
    /// absent, so most readers skip it; one that must not be empty refuses it.
    pub is_null: bool,
    /// The key opens a nested map (its keys follow as entries of their own).
    pub is_map: bool,
    /// 1-based line of the key.
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

/// A YAML 1.1 boolean as Go's `yaml.v2` reads one (`true`, `True`, `yes`, `on`, …).
pub fn boolean(value: &str) -> Option<bool> {
    match value {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Most values an aliased document may expand to (every scalar and map, counted each time an
/// alias repeats it): the settings files hold tens. A file of nested aliases ("a billion
/// laughs") is refused at the alias that passes it, naming its line, before it is copied.
pub const MAX_EXPANDED_VALUES: usize = 10_000;

/// A value of the document.
#[derive(Debug, Clone)]
enum Node {
    /// `(key, its line, value)` in order.
    Map(Vec<(String, usize, Node)>),
    Scalar(String),
    Null,
    /// A list, at its line (not supported by any of the files).
    Seq(usize),
}

impl Node {
    /// The values it holds, itself included, counted up to `limit`.
    fn size(&self, limit: usize) -> usize {
        match self {
            Node::Map(entries) => {
                let mut n = 1usize;
                for (_, _, v) in entries {
                    if n >= limit {
                        break;
                    }
                    n = n.saturating_add(1).saturating_add(v.size(limit - n));
                }
                n
            }
            _ => 1,
        }
    }
}

enum Frame {
    Map {
        anchor: usize,
        entries: Vec<(String, usize, Node)>,
        key: Option<(String, usize)>,
    },
    Seq {
        anchor: usize,
        line: usize,
    },
}

/// Builds the document's tree from the parser's events, checking keys as they come.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Each anchored value and how many values it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values made so far, aliases' copies included.
    values: usize,
    root: Option<Node>,
    documents: usize,
    /// Where the current document starts.
    document_line: usize,
    error: Option<(usize, String)>,
}

fn is_null(value: &str, style: TScalarStyle) -> bool {
    style == TScalarStyle::Plain && matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

impl Builder {
    fn fail(&mut self, line: usize, message: String) {
        self.error.get_or_insert((line, message));
    }

    /// A complete value at `line`: a key, a map's value, or the document.
    fn value(&mut self, node: Node, anchor: usize, line: usize) {
        if anchor != 0 {
            let size = node.size(MAX_EXPANDED_VALUES);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let mut failed = None;
        match self.stack.last_mut() {
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => match node {
                    Node::Scalar(k) => *key = Some((k, line)),
                    Node::Null => *key = Some(("null".into(), line)),
                    _ => failed = Some((line, "a key must be a plain value".to_owned())),
                },
                Some((k, key_line)) => {
                    if let Some((_, first, _)) = entries.iter().find(|(e, _, _)| *e == k) {
                        failed = Some((
                            key_line,
                            format!("duplicate key `{k}` (first at line {first})"),
                        ));
                    } else {
                        entries.push((k, key_line, node));
                    }
                }
            },
            Some(Frame::Seq { .. }) => {}
            None => {
                self.documents += 1;
                if self.documents > 1 {
                    failed = Some((self.document_line, "more than one YAML document".to_owned()));
                } else {
                    self.root = Some(node);
                }
            }
        }
        if let Some((line, message)) = failed {
            self.fail(line, message);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line();
        match event {
            Event::Scalar(value, style, anchor, _) => {
                self.values += 1;
                let node = if is_null(&value, style) {
                    Node::Null
                } else {
                    Node::Scalar(value)
                };
                self.value(node, anchor, line);
            }
            Event::Alias(id) => {
                let Some(size) = self.anchors.get(&id).map(|a| a.1) else {
                    return self.fail(line, "an alias of an unknown anchor".into());
                };
                self.values = self.values.saturating_add(size);
                if self.values > MAX_EXPANDED_VALUES {
                    return self.fail(
                        line,
                        format!("aliases expand the file past {MAX_EXPANDED_VALUES} values (nested aliases?); a settings file needs none of that"),
                    );
                }
                if let Some((node, _)) = self.anchors.get(&id).cloned() {
                    self.value(node, 0, line);
                }
            }
            Event::MappingStart(anchor, _) => {
                self.values += 1;
                self.stack.push(Frame::Map {
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    anchor, entries, ..
                }) = self.stack.pop()
                {
                    self.value(Node::Map(entries), anchor, line);
                }
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq { anchor, line }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq { anchor, line }) = self.stack.pop() {
                    self.value(Node::Seq(line), anchor, line);
                }
            }
            Event::DocumentStart => self.document_line = line,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

fn flatten(
    entries: Vec<(String, usize, Node)>,
    path: &[String],
    out: &mut Vec<Entry>,
) -> Result<(), (usize, String)> {
    for (key, line, node) in entries {
        let entry = |value: String, is_map: bool, is_null: bool| Entry {
            path: path.to_vec(),
            key: key.clone(),
            value,
            is_map,
            is_null,
            line,
        };
        match node {
            Node::Scalar(value) => out.push(entry(value, false, false)),
            // A key with no value (Go reads it as the zero value): readers skip it, or refuse
            // it where a value is required.
            Node::Null => out.push(entry(String::new(), false, true)),
            Node::Map(inner) => {
                out.push(entry(String::new(), true, false));
                let mut inner_path = path.to_vec();
                inner_path.push(key.clone());
                flatten(inner, &inner_path, out)?;
            }
            Node::Seq(at) => {
                return Err((
                    at.max(line),
                    format!("`{key}`: lists are not supported here"),
                ))
            }
        }
    }
    Ok(())
}

/// Every key of `text`'s top-level map and of the maps nested in it, in document order;
/// errors are (line, message).
pub fn entries(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    // A line the file has: the parser says "the line after the last" for an error at the end.
    let lines = line_count(text);
    let mut entries = read(text).map_err(|(line, message)| (line.clamp(1, lines), message))?;
    for e in &mut entries {
        e.line = e.line.clamp(1, lines);
    }
    Ok(entries)
}

/// The lines of `text` as YAML counts them (`\r\n`, `\n` and a lone `\r` each end one), at
/// least 1: every line an entry or an error names is one of these.
pub fn line_count(text: &str) -> usize {
    let b = text.as_bytes();
    let breaks = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count();
    let unterminated = !text.is_empty() && !text.ends_with(['\n', '\r']);
    (breaks + usize::from(unterminated)).max(1)
}

fn read(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|e| (e.marker().line(), e.info().to_owned()))?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    let mut out = Vec::new();
    match builder.root {
        None | Some(Node::Null) => {}
        Some(Node::Map(entries)) => flatten(entries, &[], &mut out)?,
        Some(Node::Scalar(s)) => {
            return Err((1, format!("expected `key: value` lines, found `{s}`")))
        }
        Some(Node::Seq(line)) => return Err((line, "expected a map, found a list".into())),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, String)> {
        entries(text)
            .unwrap()
            .iter()
            .map(|e| (e.name(), e.value.clone()))
            .collect()
    }

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
        assert!(e[0].is_map && !e[1].is_map);
    }

    #[test]
    fn yaml_means_what_yaml_says() {
        // Escapes and quoting: the value, not the characters that wrote it.
        assert_eq!(names("a: \"x\\\"y\"\n")[0].1, "x\"y");
        assert_eq!(names("a: 'it''s'\n")[0].1, "it's");
        assert_eq!(names("a: \"it\\u0027s\"\n")[0].1, "it's");
        assert_eq!(names("a: it's # c\n")[0].1, "it's");
        // `a:b` is a plain scalar, not a map.
        assert_eq!(names("k: a:b\n")[0].1, "a:b");
        // Flow style, block scalars, anchors and aliases, a byte-order mark.
        assert_eq!(
            names("m: {x: 1, y: \"two\"}\n"),
            vec![
                ("m".into(), "".into()),
                ("m.x".into(), "1".into()),
                ("m.y".into(), "two".into())
            ]
        );
        assert_eq!(
            names("a: |\n  line one\n  line two\n")[0].1,
            "line one\nline two\n"
        );
        assert_eq!(names("a: >-\n  folded\n  text\n")[0].1, "folded text");
        assert_eq!(names("a: &v secret\nb: *v\n")[1].1, "secret");
        assert_eq!(names("\u{feff}a: b\n")[0].1, "b");
        // A null value is marked so readers can treat the key as absent (Go's reading).
        let nulls = entries("a: ~\nb:\nc: null\nd: ''\n").unwrap();
        let marked: Vec<(String, bool)> = nulls.iter().map(|e| (e.name(), e.is_null)).collect();
        assert_eq!(
            marked,
            vec![
                ("a".into(), true),
                ("b".into(), true),
                ("c".into(), true),
                ("d".into(), false)
            ]
        );
    }

    #[test]
    fn go_booleans() {
        for t in ["true", "True", "yes", "on", "Y"] {
            assert_eq!(boolean(t), Some(true), "{t}");
        }
        for f in ["false", "FALSE", "no", "off", "n"] {
            assert_eq!(boolean(f), Some(false), "{f}");
        }
        assert_eq!(boolean("1"), None);
    }

    #[test]
    fn lines_are_counted_as_yaml_counts_them() {
        assert_eq!(line_count(""), 1);
        assert_eq!(line_count("a\nb"), 2);
        assert_eq!(line_count("a\r\nb\r\n"), 2);
        assert_eq!(line_count("a\rb\rc"), 3);
        let (line, _) = entries("&h\r: \u{2}\rfile: )ey,_fi\re[ [rs").unwrap_err();
        assert!(line <= 4, "line {line}");
    }

    #[test]
    fn an_error_at_the_end_names_a_line_the_file_has() {
        // Found by the web_config fuzz target.
        let text = "basic_basic_auth alice: $2b$&4$K3jgqzDuoRcWwJ81BxF0tFQ2\nWSQQYTl9IqX.bZrRhKGdJ81BxF6tFQ2\n";
        let (line, _) = entries(text).unwrap_err();
        assert!((1..=2).contains(&line), "line {line}");
    }

    #[test]
    fn refusals_name_the_line() {
        let (line, message) = entries("a: 1\nb:\n  c: 2\n  c: 3\n").unwrap_err();
        assert_eq!(line, 4);
        assert_eq!(message, "duplicate key `c` (first at line 3)");
        assert_eq!(entries("a:\n  - x\n").unwrap_err().0, 2);
        assert_eq!(entries("just text\n").unwrap_err().0, 1);
        assert_eq!(
            entries("a: b\n---\nc: d\n").unwrap_err(),
            (2, "more than one YAML document".into())
        );
        // Uneven indentation that YAML cannot read.
        assert_eq!(entries("a:\n    b: 1\n  c: 2\n").unwrap_err().0, 3);
        assert_eq!(entries("a:\n\tb: c\n").unwrap_err().0, 2);
    }
}
