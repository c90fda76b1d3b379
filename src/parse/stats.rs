//! Locust's stats table, wherever it comes from: `_stats.csv` → [`StatsTable`], only when
//! the snapshot is complete; and the same row computed from an entry's counts as Locust
//! computes it (`Counts`, for the `--json-file` report, `super::final_json`). A column is
//! defined once here for both: a new one is its line in the column table and its field in
//! `Counts::row`, which names every field and so does not compile until it says what the
//! report gives.
//!
//! Locust rewrites this file in place every second (seek, write, truncate), so a read can
//! see it torn. A snapshot is accepted only when: it ends with a newline; its quotes are
//! balanced; its header is known; every row has the header's width; its last row, and only
//! its last row, is the total (`Type` empty, `Name` `Aggregated`); and no byte follows that
//! row. Anything else is [`ParseError::Incomplete`] and the previous snapshot stays.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::percentile::Precision;
use crate::model::update::{is_total, EndpointStats, StatsTable};

use super::csv::whole_records;
use super::header::{column, percentile_columns};
use super::number::{bytes, count, ms, rate};
use super::types::ParseError;

/// Reads one column's text into its field.
type Setter = fn(&mut EndpointStats, &str, u64) -> Result<(), ParseError>;

/// `"Column Name" => field: reader`: the numeric columns of `_stats.csv` and the
/// [`EndpointStats`] field each fills (`count` for integers, `ms` for response times, `bytes`
/// for sizes; each reader checks its range). A new Locust column is one line here, what
/// the report gives for it ([`Counts::row`]), its field, and its place in the exposition.
macro_rules! numeric_columns {
    ($($column:literal => $field:ident: $read:ident),* $(,)?) => {
        [$(($column, (|s: &mut EndpointStats, v: &str, line: u64| {
            s.$field = $read(v, $column, line)?;
            Ok(())
        }) as Setter)),*]
    };
}

const NUMERIC: [(&str, Setter); 7] = numeric_columns![
    "Request Count" => requests: count,
    "Failure Count" => failures: count,
    "Median Response Time" => median_ms: ms,
    "Average Response Time" => avg_ms: ms,
    "Min Response Time" => min_ms: ms,
    "Max Response Time" => max_ms: ms,
    "Average Content Size" => avg_content_bytes: bytes,
];

/// The percentiles Locust reports by default (`PERCENTILES_TO_REPORT`), the columns of its
/// `_stats.csv`.
pub const PERCENTILES: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// The totals and buckets of an entry, or of several merged (Locust's `extend`).
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) requests: u64,
    pub(super) none: u64,
    pub(super) failures: u64,
    pub(super) time_sum: f64,
    pub(super) max: f64,
    pub(super) min: Option<f64>,
    pub(super) content: f64,
    pub(super) buckets: BTreeMap<u64, u64>,
}

impl Counts {
    pub(super) fn extend(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.none += o.none;
        self.failures += o.failures;
        self.time_sum += o.time_sum;
        self.max = self.max.max(o.max);
        self.min = match (self.min, o.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.content += o.content;
        for (k, v) in &o.buckets {
            *self.buckets.entry(*k).or_default() += v;
        }
    }

    /// Locust's `calculate_response_time_percentile` over the timed requests.
    fn percentile(&self, percent: f64) -> f64 {
        let timed = self.requests.saturating_sub(self.none);
        let wanted = (timed as f64 * percent) as u64;
        let mut processed = 0u64;
        for (ms, n) in self.buckets.iter().rev() {
            processed += n;
            if timed.saturating_sub(processed) <= wanted {
                return *ms as f64;
            }
        }
        0.0
    }

    /// The row Locust computes for these counts; `seconds` is the run's length (its
    /// requests per second are over it, as Locust's `total_rps`).
    pub(super) fn row(&self, method: &str, name: &str, seconds: Option<f64>) -> EndpointStats {
        let timed = self.requests.saturating_sub(self.none);
        let min = self.min.unwrap_or(0.0);
        let median = if self.buckets.is_empty() {
            0.0
        } else {
            let m = self.percentile(0.5);
            if m > self.max {
                self.max
            } else if self.min.is_some_and(|min| m < min) {
                min
            } else {
                m
            }
        };
        let ratio = |a: f64, n: u64| if n == 0 { 0.0 } else { a / n as f64 };
        // Every field named: a new one does not compile until it says what the report gives.
        EndpointStats {
            method: Arc::from(method),
            name: Arc::from(name),
            requests: self.requests,
            failures: self.failures,
            median_ms: median,
            avg_ms: ratio(self.time_sum, timed),
            min_ms: min,
            max_ms: self.max,
            avg_content_bytes: ratio(self.content, self.requests),
            total_rps: seconds.map(|t| self.requests as f64 / t),
            // Locust's own table: the basis is the report (the service says which).
            precision: Precision::Locust,
            more_quantiles: Vec::new(),
            // A finished run: nothing is current any more.
            current_rps: 0.0,
            current_fail_per_sec: 0.0,
            // Completed from the counts by the CSV feed, as for every Locust table.
            timed: 0,
            duration_sum_ms: 0.0,
            content_bytes_total: 0.0,
            // Event input only.
            buckets: None,
            native: None,
            created: None,
            exemplars: Vec::new(),
            quantiles: PERCENTILES
                .iter()
                .map(|&q| {
                    let v = if self.requests == 0 {
                        f64::NAN
                    } else {
                        self.percentile(q)
                    };
                    (q, v)
                })
                .collect(),
        }
    }
}

/// Column positions of a `_stats.csv` header.
#[derive(Debug, Clone)]
struct Columns {
    typ: usize,
    name: usize,
    numeric: Vec<(usize, Setter)>,
    /// `Requests/s`: Locust's `total_rps` (every version writes it; read when present).
    rps: Option<usize>,
    percentiles: Vec<(usize, f64)>,
}

impl Columns {
    fn new(header: &[&str], line: u64) -> Result<Self, ParseError> {
        Ok(Columns {
            typ: column(header, "Type", line)?,
            name: column(header, "Name", line)?,
            numeric: NUMERIC
                .iter()
                .map(|&(name, set)| Ok((column(header, name, line)?, set)))
                .collect::<Result<_, ParseError>>()?,
            rps: header.iter().position(|h| *h == "Requests/s"),
            percentiles: percentile_columns(header),
        })
    }

    fn row(&self, f: &[&str], line: u64) -> Result<EndpointStats, ParseError> {
        let mut row = EndpointStats {
            method: Arc::from(f[self.typ]),
            name: Arc::from(f[self.name]),
            ..EndpointStats::default()
        };
        for &(i, set) in &self.numeric {
            set(&mut row, f[i], line)?;
        }
        if let Some(i) = self.rps {
            row.total_rps = Some(rate(f[i], "Requests/s", line)?);
        }
        row.quantiles = self
            .percentiles
            .iter()
            .map(|&(i, q)| match f[i] {
                "N/A" | "" => Ok((q, f64::NAN)),
                v => ms(v, "percentile", line).map(|v| (q, v)),
            })
            .collect::<Result<_, _>>()?;
        Ok(row)
    }

    fn is_total(&self, f: &[&str]) -> bool {
        is_total(f[self.typ], f[self.name])
    }
}

/// True if `rest` is at most one line terminator (`\r\n`, `\n`): nothing after the total.
fn only_line_end(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == b'\r' || b == b'\n')
        && rest.iter().filter(|&&b| b == b'\n').count() <= 1
}

/// Parses a whole `_stats.csv`. `Ok(None)` for an empty file (nothing written yet).
pub fn parse_stats(input: &[u8]) -> Result<Option<StatsTable>, ParseError> {
    let mut rows = Vec::new();
    let mut total: Option<(EndpointStats, u64)> = None;
    let columns = whole_records(input, Columns::new, |cols, fields, line, end| {
        if total.is_some() {
            return Err(ParseError::Incomplete {
                line,
                detail: "rows after the Aggregated row",
            });
        }
        let row = cols.row(fields, line)?;
        if cols.is_total(fields) {
            total = Some((row, end));
        } else {
            rows.push(row);
        }
        Ok(())
    })?;
    if columns.is_none() {
        return Ok(None);
    }
    let last_line = input.iter().filter(|&&b| b == b'\n').count() as u64;
    match total {
        Some((total, end)) if only_line_end(input.get(end as usize..).unwrap_or_default()) => {
            Ok(Some(StatsTable {
                rows,
                total,
                window: None,
            }))
        }
        Some(_) => Err(ParseError::Incomplete {
            line: last_line,
            detail: "bytes after the Aggregated row",
        }),
        None => Err(ParseError::Incomplete {
            line: last_line,
            detail: "no Aggregated row at the end",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n";
    const WEIRD: &str = "GET,\"/weird,name \"\"quoted\"\"\",203,101,3,3.193209142768036,1.25651099915558,15.992900998753612,3.0,5.316617457385493,2.6452136118026344,3,3,4,4,5,6,9,10,16,16,16\r\n";
    const TOTAL: &str = ",Aggregated,2213,298,3,21.194124805710015,1.1312860006000847,302.03665499902854,1109.164934478084,57.95898735563594,7.804689666506783,3,4,5,6,20,180,260,280,300,300,300\r\n";

    #[test]
    fn complete_snapshot_round_trips_values() {
        let input = format!("{HEADER}{WEIRD}{TOTAL}");
        let t = parse_stats(input.as_bytes()).unwrap().unwrap();
        assert_eq!(t.rows.len(), 1);
        let r = &t.rows[0];
        assert_eq!(&*r.name, "/weird,name \"quoted\"");
        assert_eq!((r.requests, r.failures), (203, 101));
        assert_eq!(r.avg_ms.to_string(), "3.193209142768036");
        assert_eq!(t.total.requests, 2213);
        assert_eq!(t.total.quantiles.len(), 11);
        assert_eq!(t.total.quantile_ms(0.9), Some(20.0));
    }

    #[test]
    fn a_row_that_is_not_utf8_is_read_lossily_not_refused() {
        let mut input = format!("{HEADER}{WEIRD}{TOTAL}").into_bytes();
        let at = input.windows(6).position(|w| w == b"/weird").unwrap();
        input[at + 1] = 0xff;
        let t = parse_stats(&input).unwrap().unwrap();
        assert_eq!(&*t.rows[0].name, "/\u{fffd}eird,name \"quoted\"");
    }

    #[test]
    fn first_tick_has_na_percentiles() {
        let input = format!("{HEADER},Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\r\n");
        let t = parse_stats(input.as_bytes()).unwrap().unwrap();
        assert!(t.rows.is_empty());
        assert!(t.total.quantiles.iter().all(|(_, ms)| ms.is_nan()));
    }

    #[test]
    fn empty_and_header_only_are_not_data() {
        assert_eq!(parse_stats(b"").unwrap(), None);
        let err = parse_stats(HEADER.as_bytes()).unwrap_err();
        assert_eq!(err.reason(), "incomplete");
    }

    #[test]
    fn torn_reads_are_incomplete() {
        let stale_tail = format!("{HEADER}{TOTAL}260,260,260,260\r\n");
        let stray_newline = format!("{HEADER}{TOTAL}\n");
        let no_newline = format!("{HEADER}{}", TOTAL.trim_end());
        let no_total = format!("{HEADER}{WEIRD}");
        let two_totals = format!("{HEADER}{TOTAL}{WEIRD}{TOTAL}");
        for bad in [stale_tail, stray_newline, no_newline, no_total, two_totals] {
            let err = parse_stats(bad.as_bytes()).unwrap_err();
            assert_eq!(err.reason(), "incomplete", "{bad:?} gave {err}");
        }
    }

    #[test]
    fn unknown_header_and_bad_numbers_are_named() {
        let err = parse_stats(b"Foo,Bar\r\n,Aggregated\r\n").unwrap_err();
        assert_eq!(
            err,
            ParseError::UnknownHeader {
                line: 1,
                column: "Type"
            }
        );
        let bad = format!("{HEADER}{}", TOTAL.replace("2213", "22x3"));
        let err = parse_stats(bad.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, column `Request Count`: `22x3` is not a valid number"
        );
    }

    #[test]
    fn a_user_endpoint_named_aggregated_is_not_the_total() {
        let user = TOTAL.replacen(",Aggregated", "GET,Aggregated", 1);
        let input = format!("{HEADER}{user}{TOTAL}");
        let t = parse_stats(input.as_bytes()).unwrap().unwrap();
        assert_eq!(t.rows.len(), 1);
        assert_eq!(&*t.rows[0].method, "GET");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_stats(&bytes);
        }

        #[test]
        fn any_prefix_of_a_snapshot_is_rejected_or_complete(cut in 0usize..700) {
            let input = format!("{HEADER}{WEIRD}{TOTAL}");
            let cut = cut.min(input.len());
            match parse_stats(&input.as_bytes()[..cut]) {
                Ok(Some(t)) => proptest::prop_assert_eq!(cut, input.len(), "{:?}", t),
                Ok(None) => proptest::prop_assert_eq!(cut, 0),
                Err(_) => {}
            }
        }
    }
}
