//! `_failures.csv` and `_exceptions.csv` → snapshot updates.
//!
//! Both are rewritten in place like `_stats.csv` but have no closing total row, so a
//! snapshot is accepted when its framing is whole (final newline, balanced quotes: the
//! exceptions' tracebacks are multi-line quoted fields) and every row has the header's width.
//! A header-only file is a valid, empty snapshot (no failures yet).

use std::sync::Arc;

use crate::model::update::{ExceptionCount, Failure};

use super::csv::whole_records;
use super::header::column;
use super::number::count;
use super::types::ParseError;

/// Reads a snapshot file's rows: `header` finds the columns, `row` reads one row with them.
fn rows<C, T>(
    input: &[u8],
    header: impl FnOnce(&[&str], u64) -> Result<C, ParseError>,
    row: impl Fn(&C, &[&str], u64) -> Result<T, ParseError>,
) -> Result<Option<Vec<T>>, ParseError> {
    let mut out = Vec::new();
    let found = whole_records(input, header, |columns, fields, line, _| {
        out.push(row(columns, fields, line)?);
        Ok(())
    })?;
    Ok(found.map(|_| out))
}

/// Parses a whole `_failures.csv` (4 columns before Locust 2.45, 6 after).
pub fn parse_failures(input: &[u8]) -> Result<Option<Vec<Failure>>, ParseError> {
    rows(
        input,
        |h, line| {
            Ok([
                column(h, "Method", line)?,
                column(h, "Name", line)?,
                column(h, "Error", line)?,
                column(h, "Occurrences", line)?,
            ])
        },
        |&[method, name, error, occurrences], f, line| {
            Ok(Failure {
                method: Arc::from(f[method]),
                name: Arc::from(f[name]),
                error: Arc::from(f[error]),
                occurrences: count(f[occurrences], "Occurrences", line)?,
            })
        },
    )
}

/// Parses a whole `_exceptions.csv` (multi-line quoted tracebacks; the count and message
/// are kept, the traceback and nodes are not served).
pub fn parse_exceptions(input: &[u8]) -> Result<Option<Vec<ExceptionCount>>, ParseError> {
    rows(
        input,
        |h, line| Ok([column(h, "Count", line)?, column(h, "Message", line)?]),
        |&[count_col, message], f, line| {
            Ok(ExceptionCount {
                count: count(f[count_col], "Count", line)?,
                message: Arc::from(f[message]),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_new_and_old_headers() {
        let new = "Method,Name,Error,Occurrences,First Seen,Last Seen\r\nGET,\"/weird,name \"\"quoted\"\"\",\"CatchResponseError('custom check failed: expected \"\"ok\"\", got, something else')\",101,2026-11-24T17:41:46Z,2026-11-24T17:42:22Z\r\n";
        let rows = parse_failures(new.as_bytes()).unwrap().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(&*rows[0].name, "/weird,name \"quoted\"");
        assert_eq!(
            &*rows[0].error,
            "CatchResponseError('custom check failed: expected \"ok\", got, something else')"
        );
        assert_eq!(rows[0].occurrences, 101);
        let old = "Method,Name,Error,Occurrences\r\nGET,/missing,404 Client Error: Not Found for url: http://127.0.0.1:18080/missing,106\r\n";
        let rows = parse_failures(old.as_bytes()).unwrap().unwrap();
        assert_eq!(rows[0].occurrences, 106);
    }

    #[test]
    fn header_only_is_an_empty_snapshot() {
        assert_eq!(
            parse_failures(b"Method,Name,Error,Occurrences\r\n").unwrap(),
            Some(vec![])
        );
        assert_eq!(parse_failures(b"").unwrap(), None);
    }

    #[test]
    fn exceptions_multi_line_tracebacks() {
        let input = "Count,Message,Traceback,Nodes\r\n60,\"intentional task crash, with comma\",\"  File \"\"x.py\"\", line 363, in run\n    self.execute_next_task()\n\",local\r\n";
        let rows = parse_exceptions(input.as_bytes()).unwrap().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].count, 60);
        assert_eq!(&*rows[0].message, "intentional task crash, with comma");
        // Cut inside the traceback: an open quote, not a short record.
        let cut = &input[..input.find("self.").unwrap()];
        assert_eq!(
            parse_exceptions(cut.as_bytes()).unwrap_err().reason(),
            "incomplete"
        );
    }

    #[test]
    fn unknown_header_is_an_error() {
        let err = parse_failures(b"Count,Message,Traceback,Nodes\r\n").unwrap_err();
        assert_eq!(err.reason(), "unknown_header");
        let err = parse_exceptions(b"Method,Name,Error,Occurrences\r\n").unwrap_err();
        assert_eq!(err.reason(), "unknown_header");
    }
}
