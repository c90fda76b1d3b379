//! [`LineParser`]: the lines of one appended file or stream → [`Item`]s.
//!
//! A `_stats_history.csv` is read as a history from its first line. Any other stream
//! (`--events`) is what its first line says: a history header (`Timestamp,…`) makes it a
//! piped history, a `_stats.csv` header (`Type,Name,…`) a piped `_stats.csv` (each
//! `Aggregated` row closes a snapshot), `CsvRequestLogger`'s header a per-request CSV
//! ([`super::request_log`]), anything else JSON lines.

use crate::model::update::Update;

use super::event::parse_event;
use super::history::{is_header, HistoryItem, HistoryParser};
use super::request_log::{self, RequestLog};
use super::stats::parse_stats;
use super::types::{Item, ParseError};

/// The first line of a `_stats.csv`.
const STATS_HEADER_START: &[u8] = b"Type,Name,";
/// The first bytes of a `_stats.csv` total row.
const STATS_TOTAL_START: &[u8] = b",Aggregated,";

/// Largest piped `_stats.csv` held while waiting for its `Aggregated` row; past it the
/// rows gathered so far are dropped (a `malformed` error) and gathering starts over.
pub const MAX_PIPED_SNAPSHOT_BYTES: usize = 64 << 20;

/// Lines before a stream's first event that may be text printed before the plugin took
/// standard output; past these, a line that is no event is an error again.
pub const MAX_PREAMBLE_LINES: u64 = 100;

/// What the stream has turned out to be.
#[derive(Debug, Clone)]
enum Format {
    /// No line seen yet (or since a reset): the next one decides.
    Undecided,
    /// JSON lines.
    Json,
    /// A `_stats_history.csv` (boxed: the CSV reader's tables are large).
    History(Box<HistoryParser>),
    /// A `_stats.csv`: rows gathered (header first) until the `Aggregated` row.
    Stats(Vec<u8>),
    /// Locust's per-request CSV (`CsvRequestLogger`).
    RequestLog(RequestLog),
}

/// Parses the lines of one appended file or stream.
#[derive(Debug, Clone)]
pub struct LineParser {
    format: Format,
    /// Reads a history from the first line, whatever it is (a `_stats_history.csv`).
    history_only: bool,
    /// Lines skipped before the first event.
    preamble: u64,
}

impl LineParser {
    /// For a `_stats_history.csv`.
    pub fn history() -> Self {
        LineParser {
            format: Format::History(Box::default()),
            history_only: true,
            preamble: 0,
        }
    }

    /// For a stream whose first line decides what it is (`--events`).
    pub fn sniffing() -> Self {
        LineParser {
            format: Format::Undecided,
            history_only: false,
            preamble: 0,
        }
    }

    /// The input started over (truncated, replaced, rewritten). Returns the update the
    /// model needs for it, if any: a history forgets what it said.
    pub fn reset(&mut self) -> Option<Update<'static>> {
        let was_history = matches!(self.format, Format::History(_));
        *self = if self.history_only {
            LineParser::history()
        } else {
            LineParser::sniffing()
        };
        was_history.then_some(Update::HistoryReset)
    }

    /// A row found broken while the last line was read (Locust's per-request CSV: a quote
    /// that never closed, seen when a whole row came), to be reported beside that line's item.
    pub fn take_rejected(&mut self) -> Option<ParseError> {
        match &mut self.format {
            Format::RequestLog(log) => log.take_rejected(),
            _ => None,
        }
    }

    /// The input ended: what was still being gathered is reported, not dropped in silence.
    pub fn finish(&mut self) -> Option<ParseError> {
        match &mut self.format {
            Format::RequestLog(log) => log.finish(),
            _ => None,
        }
    }

    /// One complete line (without its terminator), 1-based `line_no`, arriving at `arrival`
    /// (Unix seconds, for events without a `time`).
    pub fn line<'a>(
        &mut self,
        line: &'a [u8],
        line_no: u64,
        arrival: f64,
    ) -> Result<Item<'a>, ParseError> {
        if let Format::Undecided = self.format {
            let text = line.trim_ascii_start();
            let no_event = !text.is_empty() && !text.starts_with(b"{");
            let csv_header = is_header(line)
                || line.starts_with(STATS_HEADER_START)
                || request_log::is_header(line);
            if no_event && !csv_header {
                // Not JSON, not a CSV: text before the stream's first event, at most a few.
                if self.preamble < MAX_PREAMBLE_LINES {
                    self.preamble += 1;
                    return Ok(Item::Preamble);
                }
            }
            self.format = if is_header(line) {
                Format::History(Box::default())
            } else if line.starts_with(STATS_HEADER_START) {
                Format::Stats(Vec::new())
            } else if request_log::is_header(line) {
                Format::RequestLog(RequestLog::default())
            } else {
                Format::Json
            };
        }
        match &mut self.format {
            Format::Undecided | Format::Json => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Item::Nothing);
                }
                parse_event(line, line_no, arrival)
            }
            Format::History(parser) => Ok(match parser.line(line, line_no)? {
                HistoryItem::Header => Item::Nothing,
                HistoryItem::HeaderAgain => Item::Update(Update::HistoryReset),
                HistoryItem::Row(row) => Item::Update(Update::History(row)),
            }),
            Format::Stats(text) => piped_stats(text, line, line_no),
            Format::RequestLog(log) => log.line(line, line_no),
        }
    }
}

/// One line of a piped `_stats.csv`: gathered until the `Aggregated` row closes a snapshot.
fn piped_stats<'a>(text: &mut Vec<u8>, line: &[u8], line_no: u64) -> Result<Item<'a>, ParseError> {
    if line.starts_with(STATS_HEADER_START) {
        text.clear();
    }
    if text.len() + line.len() > MAX_PIPED_SNAPSHOT_BYTES {
        text.truncate(text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1));
        return Err(ParseError::Malformed {
            line: line_no,
            detail: format!(
                "a piped _stats.csv over {MAX_PIPED_SNAPSHOT_BYTES} bytes without an Aggregated row; its rows were dropped"
            ),
        });
    }
    text.extend_from_slice(line);
    text.extend_from_slice(b"\r\n");
    if !line.starts_with(STATS_TOTAL_START) {
        return Ok(Item::Nothing);
    }
    let result = parse_stats(text);
    // Keep the header for the next snapshot piped after this one.
    text.truncate(text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1));
    Ok(result?.map_or(Item::Nothing, |t| Item::Update(Update::Stats(t))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(parser: &mut LineParser, text: &str) -> Vec<String> {
        text.lines()
            .enumerate()
            .map(
                |(i, l)| match parser.line(l.as_bytes(), i as u64 + 1, 5.0) {
                    Ok(Item::Update(Update::Request(r))) => format!("request {}", r.name),
                    Ok(Item::Update(Update::History(r))) => format!("history {}", r.user_count),
                    Ok(Item::Update(Update::Stats(t))) => format!("stats {}", t.total.requests),
                    Ok(Item::Update(u)) => format!("{u:?}"),
                    Ok(Item::Nothing) => "nothing".into(),
                    Ok(Item::Clamped(_)) => "clamped".into(),
                    Ok(Item::Unknown) => "unknown".into(),
                    Ok(Item::Preamble) => "preamble".into(),
                    Err(e) => format!("error {}", e.reason()),
                },
            )
            .collect()
    }

    #[test]
    fn the_first_line_decides() {
        let mut p = LineParser::sniffing();
        assert_eq!(
            items(
                &mut p,
                "{\"request_type\":\"GET\",\"name\":\"/a\"}\n\nTimestamp,x\n{\"event\":\"new\"}"
            ),
            ["request /a", "nothing", "error bad_event", "unknown"]
        );
        let mut p = LineParser::sniffing();
        assert_eq!(
            items(
                &mut p,
                "Timestamp,User Count,Type,Name,Requests/s,Failures/s\n1,3,,Aggregated,1.5,0"
            ),
            ["nothing", "history 3"]
        );
        let mut p = LineParser::sniffing();
        let stats = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size\nGET,/,3,0,1,1,1,1,1\n,Aggregated,3,0,1,1,1,1,1\nGET,/,4,0,1,1,1,1,1\n,Aggregated,4,0,1,1,1,1,1";
        assert_eq!(
            items(&mut p, stats),
            ["nothing", "nothing", "stats 3", "nothing", "stats 4"]
        );
    }

    #[test]
    fn reset_decides_again_and_resets_a_history() {
        let mut p = LineParser::sniffing();
        items(
            &mut p,
            "Timestamp,User Count,Type,Name,Requests/s,Failures/s",
        );
        assert_eq!(p.reset(), Some(Update::HistoryReset));
        assert_eq!(
            items(&mut p, "{\"event\":\"test_stop\"}"),
            ["TestStop(None)"]
        );
        assert_eq!(p.reset(), None);
        let mut h = LineParser::history();
        assert_eq!(items(&mut h, "{}"), ["error unknown_header"]);
        assert_eq!(h.reset(), Some(Update::HistoryReset));
    }

    #[test]
    fn text_before_the_first_event_is_a_preamble_not_an_error() {
        let mut p = LineParser::sniffing();
        let text = "loading my locustfile\nhost = example\n{\"event\":\"request\",\"request_type\":\"GET\",\"name\":\"/a\",\"response_time\":1}\nstray\n";
        assert_eq!(
            items(&mut p, text),
            ["preamble", "preamble", "request /a", "error bad_event"]
        );
        // A stream that is no events at all still says so, after a few lines.
        let mut p = LineParser::sniffing();
        let garbage: String = (0..MAX_PREAMBLE_LINES + 2)
            .map(|i| format!("x{i}\n"))
            .collect();
        let got = items(&mut p, &garbage);
        assert_eq!(
            got[..MAX_PREAMBLE_LINES as usize]
                .iter()
                .filter(|i| *i == "preamble")
                .count(),
            100
        );
        assert_eq!(got[MAX_PREAMBLE_LINES as usize], "error bad_event");
    }
}
