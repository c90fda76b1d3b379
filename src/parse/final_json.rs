//! Locust's end-of-run report, `--json-file PREFIX` → `PREFIX.json`: every endpoint's
//! final counters and its response-time buckets, written once when Locust quits — after the
//! last `--csv` write, which lags the run's end by up to a second. It becomes a
//! [`StatsTable`] computed exactly as Locust computes its own report and `_stats.csv` rows
//! (`locust/stats.py`; the computation is `super::stats::Counts`', beside the CSV's columns in
//! `super::stats`): averages over the timed requests, the median clamped to min … max,
//! percentiles from the buckets, the `Aggregated` total as every entry merged.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::stats::Counts;
use super::types::{ParseError, MAX_RESPONSE_TIME_MS};
use crate::model::update::{StatsTable, AGGREGATED};

/// One entry of the report (`StatsEntry.serialize()`); other fields are ignored.
#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
    method: String,
    num_requests: u64,
    #[serde(default)]
    num_none_requests: u64,
    num_failures: u64,
    total_response_time: f64,
    max_response_time: f64,
    min_response_time: Option<f64>,
    total_content_length: f64,
    /// Rounded response time (ms, as text) → requests.
    response_times: BTreeMap<String, u64>,
    /// When the entry was made (its first request), Unix seconds.
    #[serde(default)]
    start_time: Option<f64>,
    /// Its last request's time, Unix seconds.
    #[serde(default)]
    last_request_timestamp: Option<f64>,
}

fn bad(detail: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        line: 1,
        detail: detail.into(),
    }
}

/// Parses Locust's `--json-file` report. `Ok(None)` for an empty file (being written).
pub fn parse_final(input: &[u8]) -> Result<Option<StatsTable>, ParseError> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let entries: Vec<Entry> = serde_json::from_slice(input).map_err(|e| {
        if e.is_eof() {
            ParseError::Incomplete {
                line: e.line() as u64,
                detail: "the report is not fully written",
            }
        } else {
            bad(format!("not Locust's --json-file report: {e}"))
        }
    })?;
    let mut total = Counts::default();
    let mut counted = Vec::with_capacity(entries.len());
    let mut window: Option<(f64, f64)> = None;
    for e in entries {
        let finite = [
            e.total_response_time,
            e.max_response_time,
            e.total_content_length,
        ]
        .iter()
        .chain(&e.min_response_time)
        .all(|v| v.is_finite() && *v >= 0.0);
        if !finite || e.max_response_time > MAX_RESPONSE_TIME_MS {
            return Err(bad(format!("`{}`: a time or size out of range", e.name)));
        }
        let mut buckets = BTreeMap::new();
        for (ms, n) in &e.response_times {
            let ms: u64 = ms
                .parse()
                .map_err(|_| bad(format!("`{}`: response time `{ms}` is not whole", e.name)))?;
            *buckets.entry(ms).or_default() += n;
        }
        let counts = Counts {
            requests: e.num_requests,
            none: e.num_none_requests.min(e.num_requests),
            failures: e.num_failures,
            time_sum: e.total_response_time,
            max: e.max_response_time,
            min: e.min_response_time,
            content: e.total_content_length,
            buckets,
        };
        if let (Some(a), Some(b), true) =
            (e.start_time, e.last_request_timestamp, e.num_requests > 0)
        {
            if a.is_finite() && b.is_finite() && a > 0.0 && b >= a {
                window = Some(window.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
        total.extend(&counts);
        counted.push((e.method, e.name, counts));
    }
    let seconds = window.map(|(a, b)| b - a).filter(|t| *t > 0.0);
    Ok(Some(StatsTable {
        rows: counted
            .iter()
            .map(|(method, name, c)| c.row(method, name, seconds))
            .collect(),
        total: total.row("", AGGREGATED, seconds),
        window,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A recorded report, computed as Locust computes: `/submit` had 12 requests timed
    /// 1, 2 (×8), 18, 44 and 1000 ms (rounded; min 0.978, max 1028.15).
    #[test]
    fn a_recorded_report_reads_as_locust_computes_it() {
        let json = fixture("fixtures/events/locust-2.47.0-standalone_final.json");
        let t = parse_final(&json).unwrap().unwrap();
        let submit = t.rows.iter().find(|r| &*r.name == "/submit").unwrap();
        assert_eq!((submit.requests, submit.failures), (12, 0));
        assert_eq!(submit.avg_ms, 1105.6227370008855 / 12.0);
        assert_eq!(
            (submit.min_ms, submit.max_ms),
            (0.9784590001800098, 1028.1548060011119)
        );
        assert_eq!(submit.median_ms, 2.0);
        assert_eq!(submit.avg_content_bytes, 205.0 / 12.0);
        let q = |q: f64| submit.quantiles.iter().find(|(k, _)| *k == q).unwrap().1;
        // Locust counts down from the slowest until at most int(12 × p) requests are left:
        // p90 leaves 10 (44 ms is the 11th fastest), p95 leaves 11 (only 1000 ms above).
        assert_eq!(
            (q(0.5), q(0.9), q(0.95), q(1.0)),
            (2.0, 44.0, 1000.0, 1000.0)
        );
        // The total is every entry merged, as Locust's own `Aggregated` row.
        let sum: u64 = t.rows.iter().map(|r| r.requests).sum();
        let failures: u64 = t.rows.iter().map(|r| r.failures).sum();
        assert_eq!((t.total.requests, t.total.failures), (sum, failures));
        assert_eq!(&*t.total.name, AGGREGATED);
        let max = t.rows.iter().map(|r| r.max_ms).fold(0.0, f64::max);
        assert_eq!(t.total.max_ms, max);
    }

    #[test]
    fn torn_empty_and_foreign_files() {
        assert_eq!(parse_final(b"").unwrap(), None);
        assert!(matches!(
            parse_final(b"[{\"name\":\"/a\"").unwrap_err(),
            ParseError::Incomplete { .. }
        ));
        assert!(matches!(
            parse_final(b"{\"not\":\"a list\"}").unwrap_err(),
            ParseError::Malformed { .. }
        ));
        let negative = br#"[{"name":"/a","method":"GET","num_requests":1,"num_failures":0,"total_response_time":-1.0,"max_response_time":1.0,"min_response_time":1.0,"total_content_length":0,"response_times":{"1":1}}]"#;
        assert!(parse_final(negative).is_err());
    }
}
