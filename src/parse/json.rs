//! Fast paths for the flat JSON objects event producers write: string values without
//! escapes, numbers and `null`. Anything else (escapes, nesting, booleans, duplicate keys,
//! odd spacing they do not expect) returns `None` and the line goes to `serde_json`, so the
//! fast paths and serde_json accept exactly the same lines with the same result (property
//! tests in `super::event`). The ingest benchmark justifies each path (see the README).

use std::borrow::Cow;

use serde::Deserialize;

/// The fields of an event line that mean something; others are ignored.
#[derive(Deserialize, Default, Debug)]
pub(super) struct Raw<'a> {
    #[serde(borrow, default)]
    pub event: Option<Cow<'a, str>>,
    #[serde(default)]
    pub time: Option<f64>,
    #[serde(borrow, default)]
    pub request_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub response_time: Option<f64>,
    #[serde(default)]
    pub response_length: Option<f64>,
    #[serde(borrow, default)]
    pub exception: Option<Cow<'a, str>>,
    #[serde(default)]
    pub user_count: Option<f64>,
    #[serde(default)]
    pub count: Option<f64>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub locust_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub locustfile: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub host: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub trace_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub span_id: Option<Cow<'a, str>>,
}

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

/// The fields of an event line this version reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Event,
    Time,
    RequestType,
    Method,
    Name,
    ResponseTime,
    ResponseLength,
    Exception,
    UserCount,
    Count,
    Message,
    LocustVersion,
    Locustfile,
    Host,
    TraceId,
    SpanId,
}

impl Field {
    /// The field `key` names, `None` for one this version ignores. The known keys differ in
    /// (length, first byte), so one candidate is compared, at a constant length.
    fn of(key: &str) -> Option<Field> {
        let b = key.as_bytes();
        let (field, want): (Field, &[u8]) = match (b.len(), b.first()) {
            (5, Some(b'e')) => (Field::Event, b"event"),
            (4, Some(b't')) => (Field::Time, b"time"),
            (12, Some(b'r')) => (Field::RequestType, b"request_type"),
            (6, Some(b'm')) => (Field::Method, b"method"),
            (4, Some(b'n')) => (Field::Name, b"name"),
            (13, Some(b'r')) => (Field::ResponseTime, b"response_time"),
            (15, Some(b'r')) => (Field::ResponseLength, b"response_length"),
            (9, Some(b'e')) => (Field::Exception, b"exception"),
            (10, Some(b'u')) => (Field::UserCount, b"user_count"),
            (5, Some(b'c')) => (Field::Count, b"count"),
            (7, Some(b'm')) => (Field::Message, b"message"),
            (14, Some(b'l')) => (Field::LocustVersion, b"locust_version"),
            (10, Some(b'l')) => (Field::Locustfile, b"locustfile"),
            (4, Some(b'h')) => (Field::Host, b"host"),
            (8, Some(b't')) => (Field::TraceId, b"trace_id"),
            (7, Some(b's')) => (Field::SpanId, b"span_id"),
            _ => return None,
        };
        (b == want).then_some(field)
    }

    /// Its bit in a set of fields seen.
    fn bit(self) -> u16 {
        1 << self as u16
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
    if !first.is_ascii_digit() || (first == b'0' && body.get(1).is_some_and(u8::is_ascii_digit)) {
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
pub(crate) fn simple_decimal(s: &str) -> Option<f64> {
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
pub(crate) fn plugin_request(text: &str) -> Option<Raw<'_>> {
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
    let (mut trace_id, mut span_id) = (None, None);
    if lit(&mut i, r#","trace_id":"#).is_some() {
        trace_id = str_or_null(&mut i)?;
        lit(&mut i, r#","span_id":"#)?;
        span_id = str_or_null(&mut i)?;
    }
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
        trace_id: trace_id.map(Cow::Borrowed),
        span_id: span_id.map(Cow::Borrowed),
        ..Raw::default()
    })
}

pub(crate) fn scan(text: &str) -> Option<Raw<'_>> {
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
        let field = Field::of(key);
        if let Some(f) = field {
            if seen & f.bit() != 0 {
                return None; // a duplicate key: let serde_json decide
            }
            seen |= f.bit();
        }
        match (field, value) {
            (_, Value::Null) | (None, _) => {}
            (Some(Field::Event), Value::Str(s)) => set(&mut raw.event, Cow::Borrowed(s))?,
            (Some(Field::RequestType), Value::Str(s)) => {
                set(&mut raw.request_type, Cow::Borrowed(s))?
            }
            (Some(Field::Method), Value::Str(s)) => set(&mut raw.method, Cow::Borrowed(s))?,
            (Some(Field::Name), Value::Str(s)) => set(&mut raw.name, Cow::Borrowed(s))?,
            (Some(Field::Exception), Value::Str(s)) => set(&mut raw.exception, Cow::Borrowed(s))?,
            (Some(Field::Message), Value::Str(s)) => set(&mut raw.message, Cow::Borrowed(s))?,
            (Some(Field::LocustVersion), Value::Str(s)) => {
                set(&mut raw.locust_version, Cow::Borrowed(s))?
            }
            (Some(Field::Locustfile), Value::Str(s)) => set(&mut raw.locustfile, Cow::Borrowed(s))?,
            (Some(Field::Host), Value::Str(s)) => set(&mut raw.host, Cow::Borrowed(s))?,
            (Some(Field::TraceId), Value::Str(s)) => set(&mut raw.trace_id, Cow::Borrowed(s))?,
            (Some(Field::SpanId), Value::Str(s)) => set(&mut raw.span_id, Cow::Borrowed(s))?,
            (Some(Field::Time), Value::Num(n)) => set(&mut raw.time, n)?,
            (Some(Field::ResponseTime), Value::Num(n)) => set(&mut raw.response_time, n)?,
            (Some(Field::ResponseLength), Value::Num(n)) => set(&mut raw.response_length, n)?,
            (Some(Field::UserCount), Value::Num(n)) => set(&mut raw.user_count, n)?,
            (Some(Field::Count), Value::Num(n)) => set(&mut raw.count, n)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_name() {
        assert_eq!(Field::of("response_time"), Some(Field::ResponseTime));
        assert_eq!(Field::of("response_tim"), None);
        assert_eq!(Field::of("rexponse_time"), None);
        assert_eq!(Field::of(""), None);
    }

    proptest::proptest! {
        /// The decimal fast path gives exactly what `str::parse` gives.
        #[test]
        fn simple_decimals_are_exact(int in 0u64..10_000_000_000, frac in 0u64..1_000_000, width in 0usize..7, neg in proptest::bool::ANY) {
            let text = if width == 0 { format!("{int}") } else { format!("{}{int}.{frac:0width$}", if neg { "-" } else { "" }) };
            if let Some(v) = simple_decimal(&text) {
                proptest::prop_assert_eq!(v.to_bits(), text.parse::<f64>().unwrap().to_bits(), "{}", text);
            }
        }
    }
}
