//! A Locust web UI's `/stats/requests` JSON → [`RunnerStatus`]: the runner's state, users,
//! workers (on a master), the current window's percentiles and each endpoint's current
//! rates. (The counts, times and errors come from the same web UI's CSV endpoints, read with
//! the `_stats.csv`, `_failures.csv` and `_exceptions.csv` parsers, so they are exact; the
//! JSON rounds some of them.)
//!
//! The JSON changed across versions, seen in recordings of 1.6.0, 2.8.6, 2.20.1 and 2.47.0:
//! * current percentiles: a dict `current_response_time_percentiles` of
//!   `response_time_percentile_<q>` (2.4x), `current_response_time_percentile_1`/`_2` (the 50th
//!   and 95th, ~2.20), `current_response_time_percentile_50`/`_95` (≤ 2.8);
//! * the total row's `method`: `""` or `null`; workers: `workers` (or `slaves` before 1.0);
//! * texts HTML-escaped in some versions (`&quot;`, `&#x27;`): unescaped, so keys equal the
//!   CSV's.

use std::sync::Arc;

use serde_json::Value;

use crate::model::update::{
    is_total, RunState, RunnerStatus, WorkerState, WorkerStatus, AGGREGATED,
};

use super::types::{ParseError, MAX_USERS};

/// Most workers read from one status (more are ignored).
pub const MAX_WORKERS_LISTED: usize = 10_000;

fn bad(detail: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        line: 1,
        detail: detail.into(),
    }
}

/// Undoes the HTML escaping some Locust versions apply to names and error texts: `&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&#x27;`, `&#39;` and any `&#NN;` / `&#xHH;`.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn text(v: &Value) -> Arc<str> {
    Arc::from(html_unescape(v.as_str().unwrap_or("")).as_str())
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite() && *x >= 0.0)
}

fn state_named<S>(
    v: &Value,
    what: &str,
    from_name: fn(&str) -> Option<S>,
) -> Result<S, ParseError> {
    let name = v.as_str().ok_or_else(|| bad(format!("no `{what}`")))?;
    from_name(name).ok_or_else(|| {
        bad(format!(
            "unknown runner state `{}`",
            name.chars().take(32).collect::<String>()
        ))
    })
}

/// The current percentiles in whichever shape this version writes them.
fn current_percentiles(d: &Value) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    if let Some(map) = d["current_response_time_percentiles"].as_object() {
        for (k, v) in map {
            let q = k
                .strip_prefix("response_time_percentile_")
                .and_then(|q| q.parse::<f64>().ok());
            if let (Some(q), Some(ms)) = (q, number(v)) {
                out.push((q, ms));
            }
        }
    }
    // ~2.20: `_1` and `_2` are the two charted percentiles, 50th and 95th by default.
    for (key, q) in [
        ("current_response_time_percentile_1", 0.5),
        ("current_response_time_percentile_2", 0.95),
        ("current_response_time_percentile_50", 0.5),
        ("current_response_time_percentile_95", 0.95),
    ] {
        if let Some(ms) = number(&d[key]) {
            out.push((q, ms));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Parses the body of `GET /stats/requests`.
pub fn parse_status(input: &[u8]) -> Result<RunnerStatus, ParseError> {
    let d: Value = serde_json::from_slice(input).map_err(|e| {
        bad(format!(
            "not the JSON of Locust's /stats/requests ({e}); is this a Locust web UI?"
        ))
    })?;
    if !d.is_object() {
        return Err(bad("not a JSON object"));
    }
    let state = state_named(&d["state"], "state", RunState::from_name)?;
    let user_count = number(&d["user_count"])
        .map(|u| u as u64)
        .ok_or_else(|| bad("no `user_count`"))?;
    if user_count > MAX_USERS {
        return Err(ParseError::OutOfRange {
            line: 1,
            field: "user_count",
            value: user_count as f64,
            max: MAX_USERS as f64,
        });
    }
    let listed = d
        .get("workers")
        .or_else(|| d.get("slaves"))
        .and_then(Value::as_array);
    let workers = match listed {
        None => None,
        Some(list) => {
            // Ids are label values: cut to the label limit, and a repeated id (after the
            // cut) is listed once, its first entry kept, so no two series collide.
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for w in list.iter().take(MAX_WORKERS_LISTED) {
                let id = text(&w["id"]);
                let id: Arc<str> = Arc::from(crate::model::cut_label(&id));
                let state = state_named(&w["state"], "worker state", WorkerState::from_name)?;
                if seen.insert(id.clone()) {
                    out.push(WorkerStatus {
                        id,
                        state,
                        user_count: number(&w["user_count"]).map_or(0, |u| u as u64),
                    });
                }
            }
            Some(out)
        }
    };
    // Locust ≥ 2.45 says both at the top: `current_rps`/`current_fail_per_sec` (the last
    // ≈10 s) and `total_rps`/`total_fail_per_sec` (over the run). Before, the top-level
    // `total_rps` was the current rate, so it is read only beside the explicit current one.
    let explicit_current = number(&d["current_rps"])
        .map(|rps| (rps, number(&d["current_fail_per_sec"]).unwrap_or(0.0)));
    let total_rps = explicit_current.and(number(&d["total_rps"]));
    let mut rates = Vec::new();
    let mut total_rates = None;
    for s in d["stats"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let method = text(&s["method"]);
        let name = text(&s["name"]);
        let r = (
            number(&s["current_rps"]).unwrap_or(0.0),
            number(&s["current_fail_per_sec"]).unwrap_or(0.0),
        );
        if is_total(&method, &name) || (s["method"].is_null() && &*name == AGGREGATED) {
            total_rates = Some(r);
        } else {
            rates.push(((method, name), r));
        }
    }
    Ok(RunnerStatus {
        state,
        user_count,
        workers,
        current_percentiles: current_percentiles(&d),
        rates,
        total_rates: explicit_current.or(total_rates),
        total_rps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(version_mode: &str, phase: &str) -> RunnerStatus {
        let path = format!(
            "{}/fixtures/webui/locust-{version_mode}/{phase}/requests.json",
            env!("CARGO_MANIFEST_DIR")
        );
        parse_status(&std::fs::read(&path).unwrap()).unwrap()
    }

    #[test]
    fn every_recorded_version_parses() {
        for v in ["1.6.0", "2.8.6", "2.20.1", "2.47.0"] {
            for mode in ["standalone", "master"] {
                let vm = format!("{v}-{mode}");
                let running = recorded(&vm, "running");
                assert_eq!(running.state, RunState::Running, "{vm}");
                assert_eq!(running.user_count, 10, "{vm}");
                assert_eq!(
                    running
                        .current_percentiles
                        .iter()
                        .map(|p| p.0)
                        .collect::<Vec<_>>(),
                    [0.5, 0.95],
                    "{vm}"
                );
                assert!(running.total_rates.is_some(), "{vm}");
                assert!(running.rates.len() >= 5, "{vm}");
                assert!(
                    running
                        .rates
                        .iter()
                        .any(|((_, n), _)| &**n == "/weird,name \"quoted\""),
                    "{vm}: names unescaped"
                );
                match mode {
                    "master" => {
                        let w = running.workers.as_ref().unwrap();
                        assert_eq!(w.len(), 2, "{vm}");
                        assert!(w
                            .iter()
                            .all(|w| w.state == WorkerState::Run(RunState::Running)
                                && w.user_count == 5));
                    }
                    _ => assert!(running.workers.is_none(), "{vm}"),
                }
                let stopped = recorded(&vm, "stopped");
                assert!(
                    matches!(stopped.state, RunState::Stopped | RunState::Stopping),
                    "{vm}: {:?}",
                    stopped.state
                );
                assert_eq!(stopped.user_count, 0);
            }
        }
    }

    /// Locust ≥ 2.45 says its current and its whole-run rates apart (`current_rps`,
    /// `total_rps`); before, the top-level `total_rps` was the current rate and is not read
    /// as the run's.
    #[test]
    fn locust_2_45_explicit_current_and_total_rates() {
        for mode in ["standalone", "master"] {
            let new = recorded(&format!("2.47.0-{mode}"), "stopped");
            let json: Value = serde_json::from_slice(
                &std::fs::read(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
                        "fixtures/webui/locust-2.47.0-{mode}/stopped/requests.json"
                    )),
                )
                .unwrap(),
            )
            .unwrap();
            assert_eq!(new.total_rps, json["total_rps"].as_f64());
            assert!(new.total_rps.is_some_and(|r| r > 10.0), "{mode}");
            assert_eq!(
                new.total_rates.map(|r| r.0),
                json["current_rps"].as_f64(),
                "{mode}: the explicit current rate"
            );
            for v in ["1.6.0", "2.8.6", "2.20.1"] {
                let old = recorded(&format!("{v}-{mode}"), "stopped");
                assert_eq!(old.total_rps, None, "{v}: its total_rps is a current rate");
            }
        }
    }

    #[test]
    fn html_escapes_are_undone() {
        assert_eq!(
            html_unescape("CatchResponseError(&#x27;x &quot;ok&quot;&#39; &amp; &lt;b&gt;)"),
            "CatchResponseError('x \"ok\"' & <b>)"
        );
        assert_eq!(
            html_unescape("a & b &unknown; &#xZZ;"),
            "a & b &unknown; &#xZZ;"
        );
        assert_eq!(html_unescape("plain"), "plain");
    }

    #[test]
    fn worker_ids_are_cut_and_listed_once() {
        let huge = "w".repeat(5_000_000);
        let json = format!(
            r#"{{"state":"running","user_count":3,"stats":[],"workers":[
                {{"id":"{huge}","state":"running","user_count":1}},
                {{"id":"{huge}x","state":"running","user_count":1}},
                {{"id":"a","state":"running","user_count":1}},
                {{"id":"a","state":"stopped","user_count":0}}]}}"#
        );
        let status = parse_status(json.as_bytes()).unwrap();
        let workers = status.workers.unwrap();
        let ids: Vec<usize> = workers.iter().map(|w| w.id.len()).collect();
        assert_eq!(
            ids,
            vec![crate::model::MAX_LABEL_BYTES, 1],
            "cut, then once each"
        );
        assert_eq!(workers[1].state, WorkerState::Run(RunState::Running));
    }

    #[test]
    fn not_a_status_is_an_error() {
        for body in [
            &b"<!doctype html><title>500</title>"[..],
            b"[]",
            b"{\"state\":\"dancing\",\"user_count\":1}",
            b"{\"state\":\"running\"}",
        ] {
            assert!(
                parse_status(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_status(&bytes);
        }

        #[test]
        fn unescape_never_panics(s in "[a-z&#;x0-9]{0,40}") {
            let _ = html_unescape(&s);
        }
    }
}
