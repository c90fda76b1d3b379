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

use crate::model::update::{RequestEvent, Update};

use super::ParseError;

/// What one line was.
#[derive(Debug, Clone, PartialEq)]
pub enum EventItem {
    /// Something the model takes.
    Update(Update),
    /// An `event` this version does not know (its name, cut to 64 characters).
    Unknown(String),
}

/// Exception messages are cut to this many characters (SPEC §5).
pub const MAX_MESSAGE_CHARS: usize = 200;

#[derive(Deserialize)]
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

/// Cuts `s` to at most `max` characters.
pub fn cut_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Parses one line (without its terminator). `arrival` is used when the event has no `time`.
pub fn parse_event(line: &[u8], line_no: u64, arrival: f64) -> Result<EventItem, ParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8 { line: line_no })?;
    let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| bad(line_no, e.to_string()))?;
    let kind = raw.event.as_deref().unwrap_or("request");
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
            Update::Request(RequestEvent {
                time,
                method: Arc::from(method),
                name: Arc::from(name),
                response_time_ms,
                response_length,
                error: raw.exception.map(|e| Arc::from(e.as_ref())),
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> RequestEvent {
        match parse_event(line.as_bytes(), 1, 99.0).unwrap() {
            EventItem::Update(Update::Request(r)) => r,
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
        let p = |s: &str| parse_event(s.as_bytes(), 1, 0.0).unwrap();
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

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_event(&bytes, 1, 0.0);
        }
    }
}
