//! Bytes → model updates. Pure: no I/O, no clock, no logging.
//!
//! Parsers take `&[u8]` and return `Result<_, ParseError>`; the caller adds the file path to
//! the error and decides how to report it. "Not complete yet" is a value
//! ([`ParseError::Incomplete`]) distinct from "invalid", because a torn `_stats.csv` read is
//! normal and is simply read again, while a bad value is counted and logged.
//!
//! Two entry points cover every input: [`snapshot`] for a whole file Locust rewrites in
//! place, and [`stream::LineParser`] for the lines of an appended file or a stream, which
//! decides from the first line what the stream is (JSON events, a `_stats_history.csv`, a
//! `_stats.csv`).

pub mod event;
pub mod failures;
pub mod header;
pub mod history;
mod json;
pub mod stats;
pub mod stream;
pub mod webui;

use thiserror::Error;

use crate::model::update::Update;

/// Longest response time accepted, in ms (24 hours): beyond it a value is `out_of_range`.
pub const MAX_RESPONSE_TIME_MS: f64 = 86_400_000.0;
/// Largest response size accepted, in bytes (1 TiB).
pub const MAX_RESPONSE_BYTES: f64 = (1u64 << 40) as f64;
/// Largest user count accepted.
pub const MAX_USERS: u64 = 10_000_000;
/// Largest worker count accepted.
pub const MAX_WORKERS: u64 = 1_000_000;
/// An event time further than this in the future (seconds past its arrival) is taken as its
/// arrival time: a worker clock that far ahead would otherwise freeze current rates.
pub const MAX_FUTURE_SECS: f64 = 10.0;

/// What one line of an appended file or stream gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// Something for the model.
    Update(Update<'a>),
    /// An event whose `time` was more than [`MAX_FUTURE_SECS`] ahead of its arrival, taken as
    /// arriving now (counted).
    Clamped(Update<'a>),
    /// Nothing for the model: a header, a blank line, a row that completes nothing yet.
    Nothing,
    /// An event of a kind this version does not know: counted and skipped.
    Unknown,
}

/// Why some input was rejected. Every variant carries the 1-based line it is about.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParseError {
    /// A snapshot that is torn or not fully written (no final newline, a short row, stale
    /// bytes after `Aggregated`, an open quote). It is read again on the next change.
    #[error("line {line}: incomplete snapshot: {detail}")]
    Incomplete {
        /// Where it was noticed.
        line: u64,
        /// What was wrong.
        detail: &'static str,
    },
    /// The header lacks a column this file needs (or is not a Locust header at all).
    #[error("line {line}: unknown header: no `{column}` column")]
    UnknownHeader {
        /// The header's line.
        line: u64,
        /// The first missing column.
        column: &'static str,
    },
    /// A numeric column holds something that is not a number of the right kind.
    #[error("line {line}, column `{column}`: `{value}` is not a valid number")]
    BadNumber {
        /// The row's line.
        line: u64,
        /// The column's name.
        column: &'static str,
        /// The text found (cut to 64 characters).
        value: String,
    },
    /// A row that is not CSV of the expected shape.
    #[error("line {line}: {detail}")]
    Malformed {
        /// The row's line.
        line: u64,
        /// What was wrong.
        detail: String,
    },
    /// Bytes that are not UTF-8.
    #[error("line {line}: not valid UTF-8")]
    InvalidUtf8 {
        /// The line.
        line: u64,
    },
    /// A JSON-lines event that is not valid JSON or lacks a required field.
    #[error("line {line}: invalid event: {detail}")]
    BadEvent {
        /// The line.
        line: u64,
        /// The JSON error or the missing field.
        detail: String,
    },
    /// A number outside its documented physical range (e.g. a response time over 24 h).
    #[error("line {line}: `{field}` = {value} is out of range (at most {max})")]
    OutOfRange {
        /// The line.
        line: u64,
        /// The field or column.
        field: &'static str,
        /// The value found.
        value: f64,
        /// The largest value accepted.
        max: f64,
    },
    /// A line over the 1 MiB limit, dropped unread.
    #[error("line {line}: longer than {max} bytes, skipped")]
    TooLong {
        /// The line.
        line: u64,
        /// The limit.
        max: usize,
    },
}

impl ParseError {
    /// The `reason` label of `locust_exporter_parse_errors_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Incomplete { .. } => "incomplete",
            ParseError::UnknownHeader { .. } => "unknown_header",
            ParseError::BadNumber { .. } => "bad_number",
            ParseError::Malformed { .. } => "malformed",
            ParseError::InvalidUtf8 { .. } => "invalid_utf8",
            ParseError::BadEvent { .. } => "bad_event",
            ParseError::TooLong { .. } => "line_too_long",
            ParseError::OutOfRange { .. } => "out_of_range",
        }
    }
}

/// Parses a finite float as Python's `str(float)` writes it (`3.5`, `20000.0`, `1e-05`).
pub(crate) fn float(field: &str, column: &'static str, line: u64) -> Result<f64, ParseError> {
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad_number(field, column, line)),
    }
}

/// Checks `v` ≤ `max`.
pub(crate) fn at_most(v: f64, max: f64, field: &'static str, line: u64) -> Result<f64, ParseError> {
    if v <= max {
        Ok(v)
    } else {
        Err(ParseError::OutOfRange {
            line,
            field,
            value: v,
            max,
        })
    }
}

/// A response time in ms: a finite float, at most [`MAX_RESPONSE_TIME_MS`].
pub(crate) fn ms(field: &str, column: &'static str, line: u64) -> Result<f64, ParseError> {
    at_most(
        float(field, column, line)?,
        MAX_RESPONSE_TIME_MS,
        column,
        line,
    )
}

/// A size in bytes: a finite float, at most [`MAX_RESPONSE_BYTES`].
pub(crate) fn bytes(field: &str, column: &'static str, line: u64) -> Result<f64, ParseError> {
    at_most(
        float(field, column, line)?,
        MAX_RESPONSE_BYTES,
        column,
        line,
    )
}

/// Parses a count: an unsigned integer, or an integral float such as `12.0`.
pub(crate) fn count(field: &str, column: &'static str, line: u64) -> Result<u64, ParseError> {
    if let Ok(v) = field.parse::<u64>() {
        return Ok(v);
    }
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9.007_199_254_740_992e15 => {
            Ok(v as u64)
        }
        _ => Err(bad_number(field, column, line)),
    }
}

fn bad_number(field: &str, column: &'static str, line: u64) -> ParseError {
    ParseError::BadNumber {
        line,
        column,
        value: field.chars().take(64).collect(),
    }
}

/// Checks the framing every Locust snapshot file must have before its records are trusted:
/// it ends with a newline and its quotes are balanced (a read that stops inside a quoted,
/// multi-line field has an odd number of `"`).
fn check_snapshot_framing(input: &[u8]) -> Result<(), ParseError> {
    let lines = input.iter().filter(|&&b| b == b'\n').count() as u64;
    if !input.ends_with(b"\n") {
        return Err(ParseError::Incomplete {
            line: lines + 1,
            detail: "no newline at the end",
        });
    }
    if input.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
        return Err(ParseError::Incomplete {
            line: lines,
            detail: "a quoted field is not closed",
        });
    }
    Ok(())
}

/// Turns a CSV record into `&str` fields, or names the line that is not UTF-8.
pub(crate) fn utf8_fields(record: &csv::ByteRecord, line: u64) -> Result<Vec<&str>, ParseError> {
    record
        .iter()
        .map(|f| std::str::from_utf8(f).map_err(|_| ParseError::InvalidUtf8 { line }))
        .collect()
}

/// The 1-based line on which the CSV record after `pos` starts. The csv reader stops a
/// record at its `\r`, so `pos` may still point at line terminators of the previous line.
pub(crate) fn next_record_line(input: &[u8], pos: &csv::Position) -> u64 {
    let rest = input.get(pos.byte() as usize..).unwrap_or_default();
    let newlines = rest
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    pos.line() + newlines as u64
}

/// Reads one CSV record into `record`; `Ok(false)` at the end of the input.
fn read_record(
    reader: &mut csv::Reader<&[u8]>,
    record: &mut csv::ByteRecord,
    line: u64,
) -> Result<bool, ParseError> {
    reader
        .read_byte_record(record)
        .map_err(|e| ParseError::Malformed {
            line: e.position().map_or(line, csv::Position::line),
            detail: e.to_string(),
        })
}

/// Reads the records of a snapshot file (`_stats.csv`, `_failures.csv`, `_exceptions.csv`):
/// checks the framing, hands the header's fields to `header`, then each row to `row` with
/// its line and the byte offset just after it, once it is known to be as wide as the header
/// (a narrower or wider row is a torn read). `Ok(None)`: no header yet (an empty file).
pub(crate) fn snapshot_records<H>(
    input: &[u8],
    header: impl FnOnce(&[&str], u64) -> Result<H, ParseError>,
    mut row: impl FnMut(&H, &[&str], u64, u64) -> Result<(), ParseError>,
) -> Result<Option<H>, ParseError> {
    if input.is_empty() {
        return Ok(None);
    }
    check_snapshot_framing(input)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let line = next_record_line(input, reader.position());
    if !read_record(&mut reader, &mut record, line)? {
        return Ok(None);
    }
    let fields = utf8_fields(&record, line)?;
    let width = fields.len();
    let columns = header(&fields, line)?;
    loop {
        let line = next_record_line(input, reader.position());
        if !read_record(&mut reader, &mut record, line)? {
            return Ok(Some(columns));
        }
        let fields = utf8_fields(&record, line)?;
        if fields.len() != width {
            return Err(ParseError::Incomplete {
                line,
                detail: "a row is not as wide as the header",
            });
        }
        row(&columns, &fields, line, reader.position().byte())?;
    }
}

/// Which file a snapshot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// `_stats.csv`.
    Stats,
    /// `_failures.csv`.
    Failures,
    /// `_exceptions.csv`.
    Exceptions,
    /// A Locust web UI's `/stats/requests` JSON.
    Status,
}

/// A whole snapshot file → one update and the number of records it held. `Ok(None)` for a
/// file with nothing in it yet.
pub fn snapshot(
    kind: SnapshotKind,
    input: &[u8],
) -> Result<Option<(Update<'static>, usize)>, ParseError> {
    Ok(match kind {
        SnapshotKind::Stats => {
            stats::parse_stats(input)?.map(|t| (t.rows.len() + 1, Update::Stats(t)))
        }
        SnapshotKind::Failures => {
            failures::parse_failures(input)?.map(|r| (r.len(), Update::Failures(r)))
        }
        SnapshotKind::Exceptions => {
            failures::parse_exceptions(input)?.map(|r| (r.len(), Update::Exceptions(r)))
        }
        SnapshotKind::Status => Some((1, Update::Runner(webui::parse_status(input)?))),
    }
    .map(|(rows, update)| (update, rows)))
}
