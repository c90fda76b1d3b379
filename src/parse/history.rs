//! `_stats_history.csv` lines → [`HistoryRow`]s, one line at a time.
//!
//! The file is appended in ~8 KiB bursts; the source hands over complete lines only. The
//! parser keeps the header's column map between lines; a header seen again means the file
//! started over (a new run with the same prefix), reported as [`HistoryItem::HeaderAgain`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::update::HistoryRow;

use super::header::column;
use super::{count, float, ParseError};

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

/// Splits one CSV record (no line terminator) into fields as Python's `csv` writes them:
/// fields quoted when they hold `,` or `"`, with `""` for a quote. Lenient like the `csv`
/// crate: a quote inside an unquoted field is kept as is, and an unclosed quoted field runs
/// to the end of the line. (Reading a history line is the per-row hot path; building a
/// `csv::Reader` for each line cost ~20 µs.)
pub fn split_record(line: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::with_capacity(24);
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut field = String::new();
            let mut j = i + 1;
            loop {
                match memchr::memchr(b'"', &b[j..]) {
                    None => {
                        field.push_str(&line[j..]);
                        j = b.len();
                        break;
                    }
                    Some(k) => {
                        field.push_str(&line[j..j + k]);
                        j += k + 1;
                        if b.get(j) == Some(&b'"') {
                            field.push('"');
                            j += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            // Anything between the closing quote and the comma belongs to the field too.
            let end = memchr::memchr(b',', &b[j.min(b.len())..]).map_or(b.len(), |k| j + k);
            field.push_str(&line[j.min(end)..end]);
            out.push(Cow::Owned(field));
            i = end;
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |k| i + k);
            out.push(Cow::Borrowed(&line[i..end]));
            i = end;
        }
        if i >= b.len() {
            return out;
        }
        i += 1; // the comma
    }
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
        let owned = split_record(text);
        let f: Vec<&str> = owned.iter().map(|c| c.as_ref()).collect();
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

    proptest::proptest! {
        /// The splitter reads what the `csv` crate reads, for records Python's csv writes.
        #[test]
        fn split_record_matches_the_csv_crate(fields in proptest::collection::vec("[a-z ,\"é]{0,6}", 1..6)) {
            let line: Vec<String> = fields
                .iter()
                .map(|f| if f.contains([',', '"']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
                .collect();
            let line = line.join(",");
            let ours: Vec<String> = split_record(&line).into_iter().map(|c| c.into_owned()).collect();
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line.as_bytes());
            let theirs: Vec<String> = match reader.records().next() {
                Some(r) => r.unwrap().iter().map(str::to_owned).collect(),
                None => vec![String::new()],
            };
            proptest::prop_assert_eq!(ours, theirs);
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
