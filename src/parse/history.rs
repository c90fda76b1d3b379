//! `_stats_history.csv` lines → [`HistoryRow`]s, one line at a time.
//!
//! The file is appended in ~8 KiB bursts; the source hands over complete lines only. The
//! parser keeps the header's column map between lines; a header seen again means the file
//! started over (a new run with the same prefix), reported as [`HistoryItem::HeaderAgain`].

use std::sync::Arc;

use crate::model::update::HistoryRow;

use super::header::column;
use super::{count, float, utf8_fields, ParseError};

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

/// Stateful line parser for one history file.
#[derive(Debug, Default, Clone)]
pub struct HistoryParser {
    columns: Option<Columns>,
}

/// True if `line` looks like a history header (the first column is `Timestamp`).
pub fn is_header(line: &[u8]) -> bool {
    line.starts_with(b"Timestamp,")
}

impl HistoryParser {
    /// Forgets the header (after a truncation).
    pub fn reset(&mut self) {
        self.columns = None;
    }

    /// True once a header has been read.
    pub fn has_header(&self) -> bool {
        self.columns.is_some()
    }

    /// Parses one complete line (without its line terminator). `line_no` is 1-based.
    pub fn line(&mut self, line: &[u8], line_no: u64) -> Result<HistoryItem, ParseError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(line.len() + 2)
            .from_reader(line);
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => {
                return Err(ParseError::Malformed {
                    line: line_no,
                    detail: "empty line".into(),
                })
            }
            Err(e) => {
                return Err(ParseError::Malformed {
                    line: line_no,
                    detail: e.to_string(),
                })
            }
        }
        let f = utf8_fields(&record, line_no)?;
        if is_header(line) {
            let again = self.columns.is_some();
            let h = &f;
            self.columns = Some(Columns {
                width: f.len(),
                timestamp: column(h, "Timestamp", line_no)?,
                users: column(h, "User Count", line_no)?,
                typ: column(h, "Type", line_no)?,
                name: column(h, "Name", line_no)?,
                rps: column(h, "Requests/s", line_no)?,
                fps: column(h, "Failures/s", line_no)?,
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
        Ok(HistoryItem::Row(HistoryRow {
            timestamp: float(f[c.timestamp], "Timestamp", line_no)?,
            user_count: count(f[c.users], "User Count", line_no)?,
            aggregated: f[c.typ].is_empty() && f[c.name] == "Aggregated",
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
        assert!(r.aggregated);
        assert_eq!(
            (r.timestamp, r.user_count, r.current_rps),
            (1795542213.0, 20, 32.333333)
        );
        let row = b"1795542105,5,GET,/flaky,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,1,0,1.5875589997449424,1.5875589997449424,1.5875589997449424,1.5875589997449424,5.0";
        let HistoryItem::Row(r) = p.line(row, 3).unwrap() else {
            panic!()
        };
        assert!(!r.aggregated);
        assert_eq!(&*r.name, "/flaky");
        assert_eq!(p.line(HEADER, 4).unwrap(), HistoryItem::HeaderAgain);
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
