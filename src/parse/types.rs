//! What the parsers give and why they refuse: [`Item`], [`ParseError`] and the physical
//! limits values are checked against.

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
    /// A line before a stream's first event that is no event (a locustfile printing before
    /// the plugin took standard output): counted and skipped, not an error.
    Preamble,
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
