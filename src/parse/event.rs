//! One JSON line → an [`Update`] (SPEC §3.2).
//!
//! Fields are those of Locust's `request` event hook. `event` defaults to `request`;
//! `request_type` may be given as `method`; `response_time` is in ms; `response_length`
//! defaults to 0; `time` (Unix seconds) defaults to the arrival time; `exception` null or
//! absent means success. Unknown `event` values are a value ([`EventItem::Unknown`]), counted
//! and skipped by the caller, not an error: newer plugins stay readable.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;

use crate::model::update::{cut_chars, RequestRef, Update, MAX_MESSAGE_CHARS};

use super::ParseError;

/// What one line was.
#[derive(Debug, Clone, PartialEq)]
pub enum EventItem<'a> {
    /// A request (borrowed from the line).
    Request(RequestRef<'a>),
    /// Any other event the model takes.
    Update(Update),
    /// An `event` this version does not know (its name, cut to 64 characters).
    Unknown(String),
}

/// The fields of an event line that mean something; others are ignored.
#[derive(Deserialize, Default)]
struct Raw<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    time: Option<f64>,
    #[serde(borrow, default)]
    request_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    response_time: Option<f64>,
    #[serde(default)]
    response_length: Option<f64>,
    #[serde(borrow, default)]
    exception: Option<Cow<'a, str>>,
    #[serde(default)]
    user_count: Option<f64>,
    #[serde(default)]
    count: Option<f64>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

fn bad(line: u64, detail: impl Into<String>) -> ParseError {
    ParseError::BadEvent {
        line,
        detail: detail.into(),
    }
}

fn whole(v: Option<f64>, field: &str, line: u64) -> Result<u64, ParseError> {
    match v {
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => Ok(x as u64),
        Some(_) => Err(bad(line, format!("`{field}` is not a whole number ≥ 0"))),
        None => Err(bad(line, format!("no `{field}`"))),
    }
}

/// Parses one line (without its terminator). `arrival` is used when the event has no `time`.
pub fn parse_event(line: &[u8], line_no: u64, arrival: f64) -> Result<EventItem<'_>, ParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8 { line: line_no })?;
    let raw = match flat::plugin_request(text).or_else(|| flat::scan(text)) {
        Some(raw) => raw,
        None => serde_json::from_str::<Raw<'_>>(text).map_err(|e| bad(line_no, e.to_string()))?,
    };
    interpret(raw, line_no, arrival)
}

/// Checks the fields of a decoded line and makes the event.
fn interpret(raw: Raw<'_>, line_no: u64, arrival: f64) -> Result<EventItem<'_>, ParseError> {
    let kind = raw.event.as_deref().unwrap_or("request");
    // Requests first, with no string compare when `event` is absent.
    let kind = if raw.event.is_none() { "request" } else { kind };
    let update = match kind {
        "request" => {
            let method = raw
                .request_type
                .or(raw.method)
                .ok_or_else(|| bad(line_no, "no `request_type`"))?;
            let name = raw.name.ok_or_else(|| bad(line_no, "no `name`"))?;
            let response_time_ms = match raw.response_time {
                Some(t) if !(t.is_finite() && t >= 0.0) => {
                    return Err(bad(line_no, "`response_time` is not a number ≥ 0"))
                }
                t => t,
            };
            let response_length = match raw.response_length {
                None => 0,
                v => whole(v, "response_length", line_no)?,
            };
            let time = match raw.time {
                Some(t) if t.is_finite() => t,
                Some(_) => return Err(bad(line_no, "`time` is not a number")),
                None => arrival,
            };
            return Ok(EventItem::Request(RequestRef {
                time,
                method,
                name,
                response_time_ms,
                response_length,
                error: raw.exception,
            }));
        }
        "test_start" => Update::TestStart,
        "test_stop" => Update::TestStop,
        "users" => Update::Users(whole(raw.user_count, "user_count", line_no)?),
        "workers" => Update::Workers(whole(raw.count, "count", line_no)?),
        "exception" => {
            let message = raw.message.ok_or_else(|| bad(line_no, "no `message`"))?;
            Update::Exception {
                message: Arc::from(cut_chars(&message, MAX_MESSAGE_CHARS)),
            }
        }
        other => return Ok(EventItem::Unknown(cut_chars(other, 64).to_owned())),
    };
    Ok(EventItem::Update(update))
}

/// A fast path for the flat objects the plugin writes: string values without escapes,
/// numbers and `null`. Anything else (escapes, nesting, booleans, duplicate keys, odd
/// spacing it does not expect) returns `None` and the line goes to `serde_json`, so both
/// paths accept exactly the same lines.
mod flat {
    use std::borrow::Cow;

    use super::Raw;

    enum Value<'a> {
        Str(&'a str),
        Num(f64),
        Null,
    }

    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        i
    }

    /// A string starting after its opening quote; `None` if it has an escape or no end.
    fn string(text: &str, start: usize) -> Option<(&str, usize)> {
        let b = text.as_bytes();
        let end = start + memchr::memchr2(b'"', b'\\', &b[start..])?;
        (b[end] == b'"').then(|| (&text[start..end], end + 1))
    }

    /// The field a key names (99: one this version ignores). The known keys differ in
    /// (length, first byte), so one candidate is compared, at a constant length.
    fn field(key: &str) -> u32 {
        let b = key.as_bytes();
        let (id, want): (u32, &[u8]) = match (b.len(), b.first()) {
            (5, Some(b'e')) => (0, b"event"),
            (4, Some(b't')) => (1, b"time"),
            (12, Some(b'r')) => (2, b"request_type"),
            (6, Some(b'm')) => (3, b"method"),
            (4, Some(b'n')) => (4, b"name"),
            (13, Some(b'r')) => (5, b"response_time"),
            (15, Some(b'r')) => (6, b"response_length"),
            (9, Some(b'e')) => (7, b"exception"),
            (10, Some(b'u')) => (8, b"user_count"),
            (5, Some(b'c')) => (9, b"count"),
            (7, Some(b'm')) => (10, b"message"),
            _ => return 99,
        };
        if b.iter().zip(want).all(|(x, y)| x == y) {
            id
        } else {
            99
        }
    }

    fn number(text: &str, start: usize) -> Option<(f64, usize)> {
        let b = text.as_bytes();
        let mut end = start;
        while end < b.len() && matches!(b[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            end += 1;
        }
        let s = &text[start..end];
        // JSON numbers only: no leading '+', no leading zeros, a digit after the dot.
        let body = s.strip_prefix('-').unwrap_or(s).as_bytes();
        let first = *body.first()?;
        if !first.is_ascii_digit() || (first == b'0' && body.get(1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
        if let Some(dot) = body.iter().position(|&c| c == b'.') {
            if !body.get(dot + 1).is_some_and(u8::is_ascii_digit) {
                return None;
            }
        }
        Some((simple_decimal(s).or_else(|| s.parse().ok())?, end))
    }

    /// Clinger's fast path for plain decimals (`-12.345`): digits into an integer below 2^53
    /// and one division by an exact power of ten, which IEEE rounds correctly. `None` for
    /// anything else (exponents, too many digits), which `str::parse` then handles.
    pub(super) fn simple_decimal(s: &str) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let mut mantissa: u64 = 0;
        let mut fraction_digits: Option<usize> = None;
        for &c in digits.as_bytes() {
            match c {
                b'0'..=b'9' => {
                    mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                    if let Some(f) = fraction_digits.as_mut() {
                        *f += 1;
                    }
                }
                b'.' if fraction_digits.is_none() => fraction_digits = Some(0),
                _ => return None,
            }
        }
        if mantissa > 1 << 53 {
            return None;
        }
        let v = mantissa as f64 / *POW10.get(fraction_digits.unwrap_or(0))?;
        Some(if negative { -v } else { v })
    }

    fn set<T>(slot: &mut Option<T>, v: T) -> Option<()> {
        *slot = Some(v);
        Some(())
    }

    /// The exact layout `contrib/locust_exporter_plugin.py` writes for a request (keys in
    /// this order, no spaces): fixed key prefixes are compared, nothing is searched for.
    pub(super) fn plugin_request(text: &str) -> Option<Raw<'_>> {
        let b = text.as_bytes();
        let mut i = 0;
        let lit = |i: &mut usize, l: &str| -> Option<()> {
            b.get(*i..*i + l.len()).filter(|s| *s == l.as_bytes())?;
            *i += l.len();
            Some(())
        };
        let num_or_null = |i: &mut usize| -> Option<Option<f64>> {
            if b.get(*i..*i + 4) == Some(b"null") {
                *i += 4;
                return Some(None);
            }
            let (n, next) = number(text, *i)?;
            *i = next;
            Some(Some(n))
        };
        let str_or_null = |i: &mut usize| -> Option<Option<&str>> {
            match b.get(*i)? {
                b'"' => {
                    let (s, next) = string(text, *i + 1)?;
                    *i = next;
                    Some(Some(s))
                }
                b'n' if b.get(*i..*i + 4) == Some(b"null") => {
                    *i += 4;
                    Some(None)
                }
                _ => None,
            }
        };
        lit(&mut i, r#"{"event":"request","time":"#)?;
        let time = num_or_null(&mut i)?;
        lit(&mut i, r#","request_type":"#)?;
        let method = str_or_null(&mut i)?;
        lit(&mut i, r#","name":"#)?;
        let name = str_or_null(&mut i)?;
        lit(&mut i, r#","response_time":"#)?;
        let response_time = num_or_null(&mut i)?;
        lit(&mut i, r#","response_length":"#)?;
        let response_length = num_or_null(&mut i)?;
        lit(&mut i, r#","exception":"#)?;
        let exception = str_or_null(&mut i)?;
        lit(&mut i, "}")?;
        if i != b.len() {
            return None;
        }
        Some(Raw {
            event: Some(Cow::Borrowed("request")),
            time,
            request_type: method.map(Cow::Borrowed),
            name: name.map(Cow::Borrowed),
            response_time,
            response_length,
            exception: exception.map(Cow::Borrowed),
            ..Raw::default()
        })
    }

    pub(super) fn scan(text: &str) -> Option<Raw<'_>> {
        let b = text.as_bytes();
        let mut raw = Raw::default();
        let mut seen: u16 = 0;
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return (skip_ws(b, i + 1) == b.len()).then_some(raw);
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (key, next) = string(text, i + 1)?;
            i = skip_ws(b, next);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            let value = match b.get(i)? {
                b'"' => {
                    let (s, next) = string(text, i + 1)?;
                    i = next;
                    Value::Str(s)
                }
                b'n' if text[i..].starts_with("null") => {
                    i += 4;
                    Value::Null
                }
                b'-' | b'0'..=b'9' => {
                    let (n, next) = number(text, i)?;
                    i = next;
                    Value::Num(n)
                }
                _ => return None,
            };
            let field = field(key);
            if field != 99 {
                if seen & (1 << field) != 0 {
                    return None; // a duplicate key: let serde_json decide
                }
                seen |= 1 << field;
            }
            match (field, value) {
                (_, Value::Null) | (99, _) => {}
                (0, Value::Str(s)) => set(&mut raw.event, Cow::Borrowed(s))?,
                (2, Value::Str(s)) => set(&mut raw.request_type, Cow::Borrowed(s))?,
                (3, Value::Str(s)) => set(&mut raw.method, Cow::Borrowed(s))?,
                (4, Value::Str(s)) => set(&mut raw.name, Cow::Borrowed(s))?,
                (7, Value::Str(s)) => set(&mut raw.exception, Cow::Borrowed(s))?,
                (10, Value::Str(s)) => set(&mut raw.message, Cow::Borrowed(s))?,
                (1, Value::Num(n)) => set(&mut raw.time, n)?,
                (5, Value::Num(n)) => set(&mut raw.response_time, n)?,
                (6, Value::Num(n)) => set(&mut raw.response_length, n)?,
                (8, Value::Num(n)) => set(&mut raw.user_count, n)?,
                (9, Value::Num(n)) => set(&mut raw.count, n)?,
                _ => return None, // a type serde_json would reject: let it say why
            }
            i = skip_ws(b, i);
            match b.get(i)? {
                b',' => i = skip_ws(b, i + 1),
                b'}' => return (skip_ws(b, i + 1) == b.len()).then_some(raw),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> RequestRef<'_> {
        match parse_event(line.as_bytes(), 1, 99.0).unwrap() {
            EventItem::Request(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_fields_and_defaults() {
        let r = req(
            r#"{"event":"request","time":1732460000.123,"request_type":"GET","name":"/item/[id]","response_time":12.5,"response_length":512,"exception":null}"#,
        );
        assert_eq!(
            (r.time, &*r.method, &*r.name),
            (1732460000.123, "GET", "/item/[id]")
        );
        assert_eq!(
            (r.response_time_ms, r.response_length, r.error),
            (Some(12.5), 512, None)
        );
        let r = req(r#"{"method":"POST","name":"a\"b","response_time":1,"exception":"boom"}"#);
        assert_eq!((r.time, &*r.method, &*r.name), (99.0, "POST", "a\"b"));
        assert_eq!((r.response_length, r.error.as_deref()), (0, Some("boom")));
        let r = req(r#"{"request_type":"GET","name":"/","response_time":null}"#);
        assert_eq!(r.response_time_ms, None);
    }

    #[test]
    fn lifecycle_and_unknown() {
        fn p(s: &str) -> EventItem<'_> {
            parse_event(s.as_bytes(), 1, 0.0).unwrap()
        }
        assert_eq!(
            p(r#"{"event":"test_start"}"#),
            EventItem::Update(Update::TestStart)
        );
        assert_eq!(
            p(r#"{"event":"test_stop"}"#),
            EventItem::Update(Update::TestStop)
        );
        assert_eq!(
            p(r#"{"event":"users","user_count":20}"#),
            EventItem::Update(Update::Users(20))
        );
        assert_eq!(
            p(r#"{"event":"workers","count":4}"#),
            EventItem::Update(Update::Workers(4))
        );
        assert_eq!(
            p(r#"{"event":"spawn_rate","x":1}"#),
            EventItem::Unknown("spawn_rate".into())
        );
        let long = "é".repeat(300);
        let EventItem::Update(Update::Exception { message }) = p(&format!(
            r#"{{"event":"exception","message":"{long}","traceback":"t"}}"#
        )) else {
            panic!()
        };
        assert_eq!(message.chars().count(), 200);
    }

    #[test]
    fn malformed_lines_are_named_errors() {
        for (line, reason) in [
            ("{not json", "bad_event"),
            (r#"{"request_type":"GET"}"#, "bad_event"),
            (
                r#"{"request_type":"GET","name":"/","response_time":-1}"#,
                "bad_event",
            ),
            (r#"{"event":"users","user_count":1.5}"#, "bad_event"),
            (
                r#"{"request_type":"GET","name":"/","exception":{"a":1}}"#,
                "bad_event",
            ),
        ] {
            assert_eq!(
                parse_event(line.as_bytes(), 7, 0.0).unwrap_err().reason(),
                reason,
                "{line}"
            );
        }
        assert_eq!(
            parse_event(&[b'{', 0xff, b'}'], 3, 0.0).unwrap_err(),
            ParseError::InvalidUtf8 { line: 3 }
        );
    }

    fn value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("{\"x\":1}".to_owned()),
            any::<f64>().prop_map(|f| format!("{f}")),
            (-5i64..5000).prop_map(|i| i.to_string()),
            "[a-zA-Z/ ,\\\\\"é]{0,8}".prop_map(|s| format!("{:?}", s)),
            "[0-9.eE+-]{1,6}",
        ]
    }

    proptest::proptest! {
        /// The decimal fast path gives exactly what `str::parse` gives.
        #[test]
        fn simple_decimals_are_exact(int in 0u64..10_000_000_000, frac in 0u64..1_000_000, width in 0usize..7, neg in proptest::bool::ANY) {
            let text = if width == 0 { format!("{int}") } else { format!("{}{int}.{frac:0width$}", if neg { "-" } else { "" }) };
            if let Some(v) = flat::simple_decimal(&text) {
                proptest::prop_assert_eq!(v.to_bits(), text.parse::<f64>().unwrap().to_bits(), "{}", text);
            }
        }

        /// The plugin's exact layout, with any values: the template path agrees with serde_json.
        #[test]
        fn plugin_layout_agrees_with_serde(values in proptest::collection::vec(value(), 6)) {
            let line = format!(
                "{{\"event\":\"request\",\"time\":{},\"request_type\":{},\"name\":{},\"response_time\":{},\"response_length\":{},\"exception\":{}}}",
                values[0], values[1], values[2], values[3], values[4], values[5]
            );
            if let Some(fast) = flat::plugin_request(&line) {
                let slow = serde_json::from_str::<Raw<'_>>(&line);
                proptest::prop_assert!(slow.is_ok(), "{line}: accepted what serde_json rejects");
                proptest::prop_assert_eq!(interpret(fast, 1, 0.0), interpret(slow.unwrap(), 1, 0.0), "{}", line);
            }
        }

        /// Whatever the fast paths accept, serde_json accepts too, with the same result.
        #[test]
        fn fast_path_agrees_with_serde(
            fields in proptest::collection::vec((proptest::sample::select(vec!["event", "time", "request_type", "method", "name", "response_time", "response_length", "exception", "user_count", "count", "message", "other"]), value()), 0..8),
            space in proptest::bool::ANY,
        ) {
            let sep = if space { ", " } else { "," };
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let line = format!("{{{}}}", body.join(sep));
            for fast in [flat::scan(&line), flat::plugin_request(&line)].into_iter().flatten() {
                let slow = serde_json::from_str::<Raw<'_>>(&line);
                proptest::prop_assert!(slow.is_ok(), "{line}: fast path accepted what serde_json rejects: {:?}", slow.err());
                let (a, b) = (interpret(fast, 1, 0.0), interpret(slow.unwrap(), 1, 0.0));
                proptest::prop_assert_eq!(a, b, "{}", line);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_event(&bytes, 1, 0.0);
        }
    }
}
