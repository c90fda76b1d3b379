//! Bytes → model updates. Pure: no I/O, no clock, no logging.
//!
//! Parsers take `&[u8]` and return `Result<_, ParseError>`; the caller adds the file path to
//! the error and decides how to report it. "Not complete yet" is a value
//! ([`ParseError::Incomplete`]) distinct from "invalid", because a torn `_stats.csv` read is
//! normal and is simply read again, while a bad value is counted and logged.
//!
//! Two entry points cover every input: [`whole_file`] for a whole file Locust rewrites in
//! place, and [`sniff::LineParser`] for the lines of an appended file or a stream, which
//! decides from the first line what the stream is (JSON events, a `_stats_history.csv`, a
//! `_stats.csv`).

pub mod event;
pub mod failures;
pub mod final_json;
pub mod header;
pub mod history;
mod json;
pub mod otlp;
pub mod prom_api;
pub mod request_log;
pub mod sniff;
pub mod stats;
pub mod summary_json;
pub mod webui;

mod csv;
mod number;
mod role;
mod types;

pub use role::{whole_file, FileRole};

pub use types::{
    Item, ParseError, MAX_FUTURE_SECS, MAX_RESPONSE_BYTES, MAX_RESPONSE_TIME_MS, MAX_USERS,
    MAX_WORKERS,
};
