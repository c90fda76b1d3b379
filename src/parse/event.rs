//! One JSON line → an [`Update`] (`docs/events.md`).
//!
//! Fields are those of Locust's `request` event hook. `event` defaults to `request`;
//! `request_type` may be given as `method`; `response_time` is in ms; `response_length`
//! defaults to 0; `time` (Unix seconds) defaults to the arrival time; `exception` null or
//! absent means success. Unknown `event` values are a value ([`Item::Unknown`]), counted
//! and skipped by the caller, not an error: newer plugins stay readable.
//!
//! Lines are decoded into a `Raw` by `parse::json` (its fast paths when they can, else
//! `serde_json`), and one function, `interpret`, makes the event.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;

use crate::model::cut_label;
use crate::model::exemplar::{Exemplar, TraceRef};
use crate::model::update::{
    cut_chars, Request, RequestBatch, Role, RunInfo, Update, MAX_MESSAGE_CHARS,
};

use super::json::{self, Raw};
use super::number::at_most;
use super::types::{
    Item, ParseError, MAX_FUTURE_SECS, MAX_RESPONSE_BYTES, MAX_RESPONSE_TIME_MS, MAX_USERS,
    MAX_WORKERS,
};

fn bad(line: u64, detail: impl Into<String>) -> ParseError {
    ParseError::BadEvent {
        line,
        detail: detail.into(),
    }
}

/// A whole number ≥ 0 and at most `max`.
fn whole(v: Option<f64>, field: &'static str, max: f64, line: u64) -> Result<u64, ParseError> {
    match v {
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => {
            Ok(at_most(x, max, field, line)? as u64)
        }
        Some(_) => Err(bad(line, format!("`{field}` is not a whole number ≥ 0"))),
        None => Err(bad(line, format!("no `{field}`"))),
    }
}

/// Parses one line (without its terminator). `arrival` is used when the event has no `time`.
pub fn parse_event(line: &[u8], line_no: u64, arrival: f64) -> Result<Item<'_>, ParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8 { line: line_no })?;
    if text.starts_with(BATCH_PREFIX) {
        return batch(text, line_no, arrival);
    }
    let raw = match json::plugin_request(text).or_else(|| json::scan(text)) {
        Some(raw) => raw,
        None => serde_json::from_str::<Raw<'_>>(text).map_err(|e| bad(line_no, e.to_string()))?,
    };
    if raw.event.as_deref() == Some("requests") {
        // A batch in another key order: read again with its own fields.
        return batch(text, line_no, arrival);
    }
    interpret(raw, line_no, arrival)
}

/// How the plugin starts a `requests` line (others may order keys differently).
const BATCH_PREFIX: &str = r#"{"event":"requests","#;

/// The fields of a `requests` line: one endpoint's requests aggregated over a flush period
/// (README "Event lines" documents it).
#[derive(Deserialize)]
struct BatchRaw<'a> {
    #[serde(default)]
    time: Option<f64>,
    #[serde(borrow, default)]
    request_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    requests: u64,
    #[serde(default)]
    errors: Vec<(Cow<'a, str>, u64)>,
    #[serde(default)]
    timed: u64,
    #[serde(default)]
    response_time_sum: f64,
    #[serde(default)]
    response_time_min: Option<f64>,
    #[serde(default)]
    response_time_max: Option<f64>,
    #[serde(default)]
    response_length_sum: u64,
    #[serde(default)]
    schema: Option<i32>,
    #[serde(default)]
    zero_count: u64,
    #[serde(default)]
    buckets: Vec<(i32, u64)>,
    /// `[response_time ms, trace_id, span_id, time]` of traced requests of the batch.
    #[serde(borrow, default)]
    exemplars: Vec<(f64, Cow<'a, str>, Cow<'a, str>, f64)>,
}

/// Reads and checks a `requests` line: every count agrees with the others, min ≤ max,
/// each bucket lies within [min, max] (which also bounds the memory a line can make the
/// exporter take), and the schema is at least as fine as the one served.
fn batch(text: &str, line_no: u64, arrival: f64) -> Result<Item<'_>, ParseError> {
    use crate::model::native_histogram;
    let raw: BatchRaw<'_> =
        serde_json::from_str(text).map_err(|e| bad(line_no, format!("`requests` line: {e}")))?;
    let method = raw
        .request_type
        .or(raw.method)
        .ok_or_else(|| bad(line_no, "no `request_type`"))?;
    let name = raw.name.ok_or_else(|| bad(line_no, "no `name`"))?;
    let failures = raw
        .errors
        .iter()
        .try_fold(0u64, |acc, (_, n)| acc.checked_add(*n));
    if failures.is_none_or(|f| f > raw.requests) {
        return Err(bad(line_no, "`errors` add up to more than `requests`"));
    }
    if raw.timed > raw.requests {
        return Err(bad(line_no, "`timed` is more than `requests`"));
    }
    at_most(raw.requests as f64, MAX_BATCH_REQUESTS, "requests", line_no)?;
    at_most(
        raw.response_length_sum as f64,
        MAX_RESPONSE_BYTES * raw.requests as f64,
        "response_length_sum",
        line_no,
    )?;
    let schema = raw.schema.unwrap_or(native_histogram::SCHEMA);
    if !(native_histogram::SCHEMA..=native_histogram::MAX_SCHEMA).contains(&schema) {
        return Err(bad(
            line_no,
            format!(
                "`schema` {schema}: the exporter reads schemas {} to {}",
                native_histogram::SCHEMA,
                native_histogram::MAX_SCHEMA
            ),
        ));
    }
    let (min_ms, max_ms) = match (raw.timed, raw.response_time_min, raw.response_time_max) {
        (0, _, _) => (0.0, 0.0),
        (_, Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi => (
            lo,
            at_most(hi, MAX_RESPONSE_TIME_MS, "response_time_max", line_no)?,
        ),
        _ => {
            return Err(bad(
                line_no,
                "`response_time_min`/`response_time_max` missing or not 0 ≤ min ≤ max",
            ))
        }
    };
    let sum = raw.response_time_sum;
    // The sum lies between timed × min and timed × max (with room for rounding).
    let (timed, slack) = (raw.timed as f64, 1.0 + 1e-9);
    if !(sum.is_finite() && sum >= timed * min_ms / slack && sum <= timed * max_ms * slack) {
        return Err(bad(
            line_no,
            "`response_time_sum` is not between timed × min and timed × max",
        ));
    }
    let mut in_buckets = raw.zero_count;
    let (lo_s, hi_s) = (min_ms / 1000.0 / slack, max_ms / 1000.0 * slack);
    for &(index, n) in &raw.buckets {
        let (lower, upper) = (
            native_histogram::upper_bound(index - 1, schema),
            native_histogram::upper_bound(index, schema),
        );
        if upper < lo_s || lower > hi_s || upper <= native_histogram::ZERO_THRESHOLD {
            return Err(bad(
                line_no,
                format!("bucket {index} ({lower} s, {upper} s] lies outside min … max"),
            ));
        }
        in_buckets = in_buckets
            .checked_add(n)
            .ok_or_else(|| bad(line_no, "bucket counts overflow"))?;
    }
    if in_buckets != raw.timed {
        return Err(bad(
            line_no,
            format!(
                "`zero_count` and `buckets` count {in_buckets} requests, `timed` says {}",
                raw.timed
            ),
        ));
    }
    let (time, clamped) = event_time(raw.time, arrival, line_no)?;
    if raw.exemplars.len() > MAX_BATCH_EXEMPLARS {
        return Err(bad(
            line_no,
            format!("more than {MAX_BATCH_EXEMPLARS} `exemplars`"),
        ));
    }
    let mut exemplars = Vec::with_capacity(raw.exemplars.len());
    for (ms, trace_id, span_id, at) in &raw.exemplars {
        let trace = TraceRef::from_hex(trace_id, span_id)
            .map_err(|why| bad(line_no, format!("`exemplars`: {why}")))?;
        if !(ms.is_finite() && *ms >= min_ms / slack && *ms <= max_ms * slack) {
            return Err(bad(
                line_no,
                format!("`exemplars`: {ms} ms lies outside min … max"),
            ));
        }
        exemplars.push(Exemplar {
            trace,
            seconds: ms / 1000.0,
            time: event_time(Some(*at), arrival, line_no)?.0,
        });
    }
    let update = Update::Requests(Box::new(RequestBatch {
        time,
        start: None,
        method,
        name,
        requests: raw.requests,
        errors: raw.errors,
        timed: raw.timed,
        sum_ms: sum,
        min_ms,
        max_ms,
        response_bytes: raw.response_length_sum,
        schema,
        zero_count: raw.zero_count,
        buckets: raw.buckets,
        explicit: Vec::new(),
        exemplars,
    }));
    Ok(if clamped {
        Item::Clamped(update)
    } else {
        Item::Update(update)
    })
}

/// An event's time: its `time` if given, else its arrival. A time ahead of the arrival (a
/// producer's clock ahead of ours) is taken as the arrival, so one skewed worker cannot end
/// the current-rate window in the future and empty it for the others; more than
/// [`MAX_FUTURE_SECS`] ahead, or before the Unix epoch, it is also counted (true: clamped).
fn event_time(time: Option<f64>, arrival: f64, line_no: u64) -> Result<(f64, bool), ParseError> {
    match time {
        Some(t) if t.is_finite() && (t > arrival + MAX_FUTURE_SECS || t < 0.0) => {
            Ok((arrival, true))
        }
        Some(t) if t.is_finite() && t > arrival => Ok((arrival, false)),
        Some(t) if t.is_finite() => Ok((t, false)),
        Some(_) => Err(bad(line_no, "`time` is not a number")),
        None => Ok((arrival, false)),
    }
}

/// A request's trace context from its `trace_id` and `span_id`: out of line, so a request
/// without them pays one test on the hot path.
#[cold]
#[inline(never)]
fn trace_ref(
    trace_id: Option<&str>,
    span_id: Option<&str>,
    line_no: u64,
) -> Result<TraceRef, ParseError> {
    match (trace_id, span_id) {
        (Some(t), Some(s)) => TraceRef::from_hex(t, s).map_err(|why| bad(line_no, why)),
        _ => Err(bad(line_no, "`trace_id` and `span_id` come together")),
    }
}

/// At most this many exemplars in one `requests` line (the plugin sends at most 8).
const MAX_BATCH_EXEMPLARS: usize = 64;

/// At most this many requests in one batch (a million per second for a day): more is a
/// corrupt line, not a load test.
const MAX_BATCH_REQUESTS: f64 = 86_400_000_000.0;

/// Checks the fields of a decoded line and makes the event.
pub(super) fn interpret(raw: Raw<'_>, line_no: u64, arrival: f64) -> Result<Item<'_>, ParseError> {
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
                Some(t) => Some(at_most(t, MAX_RESPONSE_TIME_MS, "response_time", line_no)?),
                None => None,
            };
            let response_length = match raw.response_length {
                None => 0,
                v => whole(v, "response_length", MAX_RESPONSE_BYTES, line_no)?,
            };
            let (time, clamped) = event_time(raw.time, arrival, line_no)?;
            let trace = match (&raw.trace_id, &raw.span_id) {
                (None, None) => None,
                (t, s) => Some(trace_ref(t.as_deref(), s.as_deref(), line_no)?),
            };
            let update = Update::Request(Request {
                time,
                method,
                name,
                response_time_ms,
                response_length,
                error: raw.exception,
                trace,
            });
            return Ok(if clamped {
                Item::Clamped(update)
            } else {
                Item::Update(update)
            });
        }
        "test_start" | "test_stop" => {
            // The event's own time where it says one (the plugin's since 0.2).
            let at = match raw.time {
                Some(_) => Some(event_time(raw.time, arrival, line_no)?.0),
                None => None,
            };
            if kind == "test_start" {
                Update::TestStart(at)
            } else {
                Update::TestStop(at)
            }
        }
        "users" => Update::Users(whole(
            raw.user_count,
            "user_count",
            MAX_USERS as f64,
            line_no,
        )?),
        "workers" => Update::Workers(whole(raw.count, "count", MAX_WORKERS as f64, line_no)?),
        "runner" => {
            let name = raw.name.ok_or_else(|| bad(line_no, "no `name`"))?;
            let role = Role::from_name(&name)
                .ok_or_else(|| bad(line_no, "`name` is not master, standalone or worker"))?;
            let known = |v: Option<Cow<'_, str>>| {
                v.filter(|v| !v.is_empty())
                    .map(|v| Arc::from(cut_label(&v)))
            };
            Update::Role(
                role,
                RunInfo {
                    locust_version: known(raw.locust_version),
                    locustfile: known(raw.locustfile),
                    host: known(raw.host),
                },
            )
        }
        "exception" => {
            let message = raw.message.ok_or_else(|| bad(line_no, "no `message`"))?;
            Update::Exception(Arc::from(cut_chars(&message, MAX_MESSAGE_CHARS)))
        }
        _ => return Ok(Item::Unknown),
    };
    Ok(Item::Update(update))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> Request<'_> {
        match parse_event(line.as_bytes(), 1, 1732460099.0).unwrap() {
            Item::Update(Update::Request(r)) => r,
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
        assert_eq!(
            (r.time, &*r.method, &*r.name),
            (1732460099.0, "POST", "a\"b")
        );
        assert_eq!((r.response_length, r.error.as_deref()), (0, Some("boom")));
        let r = req(r#"{"request_type":"GET","name":"/","response_time":null}"#);
        assert_eq!(r.response_time_ms, None);
    }

    #[test]
    fn lifecycle_and_unknown() {
        fn p(s: &str) -> Item<'_> {
            parse_event(s.as_bytes(), 1, 0.0).unwrap()
        }
        assert_eq!(
            p(r#"{"event":"test_start"}"#),
            Item::Update(Update::TestStart(None))
        );
        assert_eq!(
            p(r#"{"event":"test_stop"}"#),
            Item::Update(Update::TestStop(None))
        );
        assert_eq!(
            parse_event(
                br#"{"event":"test_start","time":1700000000.5}"#,
                1,
                1700000001.0
            )
            .unwrap(),
            Item::Update(Update::TestStart(Some(1700000000.5))),
            "the plugin's own time"
        );
        assert_eq!(
            p(r#"{"event":"users","user_count":20}"#),
            Item::Update(Update::Users(20))
        );
        assert_eq!(
            p(r#"{"event":"workers","count":4}"#),
            Item::Update(Update::Workers(4))
        );
        assert_eq!(p(r#"{"event":"spawn_rate","x":1}"#), Item::Unknown);
        let long = "é".repeat(300);
        let Item::Update(Update::Exception(message)) = p(&format!(
            r#"{{"event":"exception","message":"{long}","traceback":"t"}}"#
        )) else {
            panic!()
        };
        assert_eq!(message.chars().count(), 200);
    }

    #[test]
    fn absurd_values_are_out_of_range_and_future_times_clamped() {
        for line in [
            r#"{"request_type":"GET","name":"/","response_time":1e300}"#,
            r#"{"request_type":"GET","name":"/","response_time":1,"response_length":1e30}"#,
            r#"{"event":"users","user_count":1e19}"#,
            r#"{"event":"workers","count":10000000000}"#,
        ] {
            assert_eq!(
                parse_event(line.as_bytes(), 1, 0.0).unwrap_err().reason(),
                "out_of_range",
                "{line}"
            );
        }
        let line = r#"{"request_type":"GET","name":"/","response_time":1,"time":1000}"#;
        match parse_event(line.as_bytes(), 1, 500.0).unwrap() {
            Item::Clamped(Update::Request(r)) => assert_eq!(r.time, 500.0),
            other => panic!("{other:?}"),
        }
        match parse_event(line.as_bytes(), 1, 995.0).unwrap() {
            Item::Update(Update::Request(r)) => {
                assert_eq!(
                    r.time, 995.0,
                    "within the skew: not counted, taken as the arrival"
                )
            }
            other => panic!("{other:?}"),
        }
        // Before the epoch (−1e300 was once served as a `_created` timestamp): the arrival.
        let line = r#"{"request_type":"GET","name":"/","response_time":1,"time":-1e300}"#;
        match parse_event(line.as_bytes(), 1, 500.0).unwrap() {
            Item::Clamped(Update::Request(r)) => assert_eq!(r.time, 500.0),
            other => panic!("{other:?}"),
        }
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

    #[test]
    fn trace_ids_on_requests_and_batches() {
        let t = "0af7651916cd43dd8448eb211c80319c";
        let sp = "b7ad6b7169203331";
        // The plugin's layout (fast path) and another order (general path) agree.
        let fast = format!(
            r#"{{"event":"request","time":1.5,"request_type":"GET","name":"/","response_time":12.0,"response_length":3,"exception":null,"trace_id":"{t}","span_id":"{sp}"}}"#
        );
        let other = format!(
            r#"{{"span_id":"{sp}","trace_id":"{t}","request_type":"GET","name":"/","response_time":12.0}}"#
        );
        for line in [fast, other] {
            let trace = req(&line).trace.expect("ids read");
            assert_eq!(
                (trace.trace_hex(), trace.span_hex()),
                (t.to_owned(), sp.to_owned())
            );
        }
        assert_eq!(
            req(r#"{"request_type":"GET","name":"/","response_time":1}"#).trace,
            None
        );
        for (line, why) in [
            (
                format!(r#"{{"request_type":"GET","name":"/","trace_id":"{t}"}}"#),
                "come together",
            ),
            (
                format!(
                    r#"{{"request_type":"GET","name":"/","trace_id":"{t}x","span_id":"{sp}"}}"#
                ),
                "32 hex digits",
            ),
            (
                format!(
                    r#"{{"request_type":"GET","name":"/","trace_id":"{t}","span_id":"0000000000000000"}}"#
                ),
                "all zeros",
            ),
        ] {
            let e = parse_event(line.as_bytes(), 9, 2.0)
                .unwrap_err()
                .to_string();
            assert!(e.contains("line 9") && e.contains(why), "{e}");
        }
        let batch = BATCH.replace(
            r#""buckets":"#,
            &format!(r#""exemplars":[[2000.0,"{t}","{sp}",1732460000.25]],"buckets":"#),
        );
        let Item::Update(Update::Requests(b)) =
            parse_event(batch.as_bytes(), 3, 1732460001.0).unwrap()
        else {
            panic!()
        };
        assert_eq!(b.exemplars.len(), 1);
        assert_eq!(
            (b.exemplars[0].seconds, b.exemplars[0].time),
            (2.0, 1732460000.25)
        );
        let outside = batch.replace("[[2000.0,", "[[2500.0,");
        let e = parse_event(outside.as_bytes(), 4, 1732460001.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("outside min"), "{e}");
    }

    const BATCH: &str = r#"{"event":"requests","time":1732460000.5,"request_type":"GET","name":"/a","requests":5,"errors":[["HTTPError('500')",2]],"timed":4,"response_time_sum":2012.5,"response_time_min":0.0,"response_time_max":2000.0,"response_length_sum":60,"schema":7,"zero_count":1,"buckets":[[-768,1],[-767,1],[128,1]]}"#;

    #[test]
    fn a_requests_line() {
        let Item::Update(Update::Requests(b)) =
            parse_event(BATCH.as_bytes(), 3, 1732460001.0).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (&*b.method, &*b.name, b.requests, b.timed),
            ("GET", "/a", 5, 4)
        );
        assert_eq!(b.errors, vec![(Cow::from("HTTPError('500')"), 2)]);
        assert_eq!((b.sum_ms, b.min_ms, b.max_ms), (2012.5, 0.0, 2000.0));
        assert_eq!((b.response_bytes, b.schema, b.zero_count), (60, 7, 1));
        assert_eq!(b.buckets, vec![(-768, 1), (-767, 1), (128, 1)]);
        let b = *b;
        // Another producer's key order takes the general path to the same result.
        let reordered = BATCH
            .replace(r#""event":"requests","#, "")
            .replace('}', r#","event":"requests"}"#);
        assert_eq!(
            parse_event(reordered.as_bytes(), 3, 1732460001.0).unwrap(),
            Item::Update(Update::Requests(Box::new(b)))
        );
    }

    #[test]
    fn requests_lines_whose_numbers_disagree_are_rejected_by_name() {
        for (from, to, says) in [
            (
                r#""requests":5"#,
                r#""requests":1"#,
                "`errors` add up to more than `requests`",
            ),
            (
                r#""timed":4"#,
                r#""timed":6"#,
                "`timed` is more than `requests`",
            ),
            (
                r#""timed":4"#,
                r#""timed":3"#,
                "count 4 requests, `timed` says 3",
            ),
            (r#""schema":7"#, r#""schema":5"#, "schemas 6 to 8"),
            (
                r#""response_time_min":0.0"#,
                r#""response_time_min":3000.0"#,
                "min ≤ max",
            ),
            (
                r#""response_time_sum":2012.5"#,
                r#""response_time_sum":9000.5"#,
                "between timed × min and timed × max",
            ),
            (r#"[128,1]"#, r#"[1280,1]"#, "lies outside min … max"),
            (
                r#""response_time_max":2000.0"#,
                r#""response_time_max":1e300"#,
                "response_time_max",
            ),
            (r#""requests":5"#, r#""requests":-5"#, "invalid value"),
            (r#""name":"/a","#, "", "no `name`"),
        ] {
            let line = BATCH.replace(from, to);
            let err = parse_event(line.as_bytes(), 9, 1732460001.0)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{to}: {err}");
            assert!(err.contains('9'), "names the line: {err}");
        }
    }

    proptest::proptest! {
        /// The plugin's exact layout, with any values: the template path agrees with serde_json.
        #[test]
        fn plugin_layout_agrees_with_serde(values in proptest::collection::vec(value(), 6)) {
            let line = format!(
                "{{\"event\":\"request\",\"time\":{},\"request_type\":{},\"name\":{},\"response_time\":{},\"response_length\":{},\"exception\":{}}}",
                values[0], values[1], values[2], values[3], values[4], values[5]
            );
            if let Some(fast) = json::plugin_request(&line) {
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
            for fast in [json::scan(&line), json::plugin_request(&line)].into_iter().flatten() {
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
