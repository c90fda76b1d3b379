//! `_stats_history.csv` lines → [`HistoryRow`]s, one line at a time.
//!
//! The file is appended in ~8 KiB bursts; the source hands over complete lines only. The
//! parser keeps the header's column map between lines; a header seen again means the file
//! started over (a new run with the same prefix), reported as [`HistoryItem::HeaderAgain`].

use std::sync::Arc;

use crate::model::update::HistoryRow;

use super::header::{column, percentile_columns};
use super::number::{at_most, count, float, ms};
use super::types::{ParseError, MAX_USERS};

/// Column positions of a history header.
#[derive(Debug, Clone, PartialEq)]
struct Columns {
    width: usize,
    timestamp: usize,
    users: usize,
    typ: usize,
    name: usize,
    rps: usize,
    fps: usize,
    percentiles: Vec<(usize, f64)>,
    /// `Total Request Count`, `Total Median Response Time`, `Total Max Response Time`
    /// (every version writes them; read when present).
    total_requests: Option<usize>,
    total_failures: Option<usize>,
    total_median: Option<usize>,
    total_max: Option<usize>,
}

/// What one line was.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryItem {
    /// The header (first line).
    Header,
    /// The header again after data: the history started over.
    HeaderAgain,
    /// A data row.
    Row(HistoryRow),
}

/// Splits single CSV records (no line terminator) into fields with `csv-core`, the engine
/// under the `csv` crate that reads the snapshot files: one CSV reader in the crate, reused
/// from line to line with its buffers.
#[derive(Debug, Clone)]
pub struct RecordSplitter {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Default for RecordSplitter {
    fn default() -> Self {
        RecordSplitter {
            // `new`, not `default`: the builder is what compiles the reader's DFA.
            reader: csv_core::Reader::new(),
            out: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl RecordSplitter {
    /// The fields of `line` (which is already known to be UTF-8), unquoted.
    pub fn split<'s>(&'s mut self, line: &str) -> Vec<&'s str> {
        if line.is_empty() {
            return vec![""];
        }
        self.reader.reset();
        // Unquoting never makes a record longer; the field ends grow when full.
        if self.out.len() < line.len() {
            self.out.resize(line.len(), 0);
        }
        if self.ends.len() < 32 {
            self.ends.resize(32, 0);
        }
        let (mut input, mut nout, mut nend) = (line.as_bytes(), 0, 0);
        // One call reads the line, a second (with no input) ends the record; a few more if
        // a record has more fields than there is room for ends (each call doubles it).
        for _ in 0..16 {
            let (result, nin, o, e) =
                self.reader
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            input = &input[nin..];
            nout += o;
            nend += e;
            match result {
                // The whole line is in: the next call, with no input, ends the record.
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                // OutputFull cannot happen with the size above; stop rather than loop.
                csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::Record
                | csv_core::ReadRecordResult::End => break,
            }
        }
        let text = std::str::from_utf8(&self.out[..nout]).unwrap_or_default();
        let mut start = 0;
        self.ends[..nend]
            .iter()
            .map(|&end| {
                let field = text.get(start..end).unwrap_or_default();
                start = end;
                field
            })
            .collect()
    }
}

/// Locust's rounding of a response time into its buckets (`_log_response_time`): whole ms
/// below 100, then two significant digits (147 → 150, 3432 → 3400, 58760 → 59000).
pub fn locust_bucket(ms: f64) -> f64 {
    let scale = if ms < 100.0 {
        1.0
    } else if ms < 1000.0 {
        10.0
    } else if ms < 10_000.0 {
        100.0
    } else {
        1000.0
    };
    (ms / scale).round_ties_even() * scale
}

/// Stateful line parser for one history file.
#[derive(Debug, Default, Clone)]
pub struct HistoryParser {
    columns: Option<Columns>,
    splitter: RecordSplitter,
}

/// True if `line` looks like a history header (the first column is `Timestamp`).
pub fn is_header(line: &[u8]) -> bool {
    line.starts_with(b"Timestamp,")
}

impl HistoryParser {
    /// Parses one complete line (without its line terminator). `line_no` is 1-based.
    pub fn line(&mut self, line: &[u8], line_no: u64) -> Result<HistoryItem, ParseError> {
        let text =
            std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8 { line: line_no })?;
        if text.is_empty() {
            return Err(ParseError::Malformed {
                line: line_no,
                detail: "empty line".into(),
            });
        }
        let f = self.splitter.split(text);
        if is_header(line) {
            let again = self.columns.is_some();
            self.columns = Some(Columns {
                width: f.len(),
                timestamp: column(&f, "Timestamp", line_no)?,
                users: column(&f, "User Count", line_no)?,
                typ: column(&f, "Type", line_no)?,
                name: column(&f, "Name", line_no)?,
                rps: column(&f, "Requests/s", line_no)?,
                fps: column(&f, "Failures/s", line_no)?,
                percentiles: percentile_columns(&f),
                total_requests: f.iter().position(|h| *h == "Total Request Count"),
                total_failures: f.iter().position(|h| *h == "Total Failure Count"),
                total_median: f.iter().position(|h| *h == "Total Median Response Time"),
                total_max: f.iter().position(|h| *h == "Total Max Response Time"),
            });
            return Ok(if again {
                HistoryItem::HeaderAgain
            } else {
                HistoryItem::Header
            });
        }
        let Some(c) = &self.columns else {
            return Err(ParseError::UnknownHeader {
                line: line_no,
                column: "Timestamp",
            });
        };
        if f.len() != c.width {
            return Err(ParseError::Malformed {
                line: line_no,
                detail: format!("{} fields, the header has {}", f.len(), c.width),
            });
        }
        let percentiles: Vec<(f64, f64)> = c
            .percentiles
            .iter()
            .filter(|&&(i, _)| f[i] != "N/A" && !f[i].is_empty())
            .map(|&(i, q)| ms(f[i], "percentile", line_no).map(|v| (q, v)))
            .collect::<Result<_, _>>()?;
        let total_requests = match c.total_requests {
            Some(i) => Some(count(f[i], "Total Request Count", line_no)?),
            None => None,
        };
        let total_failures = match c.total_failures {
            Some(i) => Some(count(f[i], "Total Failure Count", line_no)?),
            None => None,
        };
        // Locust 2.47 writes whole-run percentiles in a full history's rows when its
        // response-times cache is off: the row's median and 100 % are then the run's own.
        let whole_run = match (c.total_median, c.total_max) {
            (Some(m), Some(x)) if !percentiles.is_empty() => {
                let at = |q: f64| percentiles.iter().find(|(k, _)| *k == q).map(|&(_, v)| v);
                let median = ms(f[m], "Total Median Response Time", line_no)?;
                let max = ms(f[x], "Total Max Response Time", line_no)?;
                at(0.5) == Some(median.trunc()) && at(1.0) == Some(locust_bucket(max))
            }
            _ => false,
        };
        Ok(HistoryItem::Row(HistoryRow {
            percentiles,
            total_requests,
            total_failures,
            whole_run,
            timestamp: float(f[c.timestamp], "Timestamp", line_no)?,
            user_count: {
                let users = count(f[c.users], "User Count", line_no)?;
                at_most(users as f64, MAX_USERS as f64, "User Count", line_no)?;
                users
            },
            method: Arc::from(f[c.typ]),
            name: Arc::from(f[c.name]),
            current_rps: float(f[c.rps], "Requests/s", line_no)?,
            current_fail_per_sec: float(f[c.fps], "Failures/s", line_no)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";

    #[test]
    fn rows_after_header() {
        let mut p = HistoryParser::default();
        assert_eq!(p.line(HEADER, 1).unwrap(), HistoryItem::Header);
        let row = b"1795542213,20,,Aggregated,32.333333,6.000000,3,3,6,9,130,220,260,270,290,290,290,229,33,3,25.6636266725422,1.1929840002267156,291.95064200030174,669.2838427947598";
        let HistoryItem::Row(r) = p.line(row, 2).unwrap() else {
            panic!()
        };
        assert!(r.is_total());
        assert_eq!(
            (r.timestamp, r.user_count, r.current_rps),
            (1795542213.0, 20, 32.333333)
        );
        let row = b"1795542105,5,GET,/flaky,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,1,0,1.5875589997449424,1.5875589997449424,1.5875589997449424,1.5875589997449424,5.0";
        let HistoryItem::Row(r) = p.line(row, 3).unwrap() else {
            panic!()
        };
        assert!(!r.is_total());
        assert_eq!(&*r.name, "/flaky");
        assert_eq!(p.line(HEADER, 4).unwrap(), HistoryItem::HeaderAgain);
    }

    /// Locust 2.47 writes a full history's rows with whole-run percentiles when its
    /// response-times cache is off: such a row says so (its median and 100 % are the run's
    /// own), and is not read as a ≈10 s window; a current window's row is.
    #[test]
    fn whole_run_percentiles_are_told_from_a_current_window() {
        let mut p = HistoryParser::default();
        p.line(HEADER, 1).unwrap();
        let current = b"1795542213,20,,Aggregated,32.333333,6.000000,3,3,6,9,130,220,260,270,290,290,290,229,33,2,25.6636266725422,1.1929840002267156,291.95064200030174,669.2838427947598";
        let whole = b"1795542213,20,,Aggregated,32.333333,6.000000,2,3,6,9,130,220,260,270,290,290,290,229,33,2,25.6636266725422,1.1929840002267156,291.95064200030174,669.2838427947598";
        for (row, want) in [(&current[..], false), (&whole[..], true)] {
            let HistoryItem::Row(r) = p.line(row, 2).unwrap() else {
                panic!()
            };
            assert_eq!((r.whole_run, r.total_requests), (want, Some(229)));
        }
        assert_eq!(locust_bucket(291.95), 290.0);
        assert_eq!(locust_bucket(3432.0), 3400.0);
        assert_eq!(locust_bucket(58_760.0), 59_000.0);
    }

    proptest::proptest! {
        /// The splitter reads what the `csv` crate reads, for records Python's csv writes
        /// and for any line at all.
        #[test]
        fn split_record_matches_the_csv_crate(fields in proptest::collection::vec("[a-z ,\"é]{0,6}", 1..6)) {
            let line: Vec<String> = fields
                .iter()
                .map(|f| if f.contains([',', '"']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
                .collect();
            let line = line.join(",");
            let mut splitter = RecordSplitter::default();
            let ours: Vec<String> = splitter.split(&line).into_iter().map(str::to_owned).collect();
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line.as_bytes());
            let theirs: Vec<String> = match reader.records().next() {
                Some(r) => r.unwrap().iter().map(str::to_owned).collect(),
                None => vec![String::new()],
            };
            proptest::prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80), 0..6)) {
            let mut p = HistoryParser::default();
            let _ = p.line(HEADER, 1);
            for (i, l) in lines.iter().enumerate() {
                let _ = p.line(l, i as u64 + 2);
            }
        }
    }

    #[test]
    fn data_before_header_and_short_rows_are_errors() {
        let mut p = HistoryParser::default();
        assert_eq!(p.line(b"1,2,3", 1).unwrap_err().reason(), "unknown_header");
        p.line(HEADER, 2).unwrap();
        assert_eq!(
            p.line(b"1,2,3", 3).unwrap_err().to_string(),
            "line 3: 3 fields, the header has 24"
        );
        assert_eq!(
            p.line(&[0xff, b','], 4).unwrap_err().reason(),
            "invalid_utf8"
        );
    }
}
