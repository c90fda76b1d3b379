//! Numbers as Locust writes them (Python's `str(float)`, integral floats for counts), each
//! checked against its limit; a bad one names its column and line.

use super::types::{ParseError, MAX_RESPONSE_BYTES, MAX_RESPONSE_TIME_MS};

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

/// Most requests per second a rate column may say.
pub(crate) const MAX_RATE: f64 = 1e9;

/// A rate per second: a finite float from 0 to [`MAX_RATE`].
pub(crate) fn rate(field: &str, column: &'static str, line: u64) -> Result<f64, ParseError> {
    let v = float(field, column, line)?;
    if v < 0.0 {
        return Err(bad_number(field, column, line));
    }
    at_most(v, MAX_RATE, column, line)
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
