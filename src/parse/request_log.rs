//! Locust's per-request CSV (`locust.contrib.csv_request_logger.CsvRequestLogger`, Locust ≥
//! 2.44): one row per request, `timestamp,request_type,name,response_time_ms,
//! response_length,status_code,exception`. Read by `--events` when a stream's first line is
//! that header ([`super::sniff`]); each row is a request event, exactly as from the plugin's
//! per-request lines (`docs/events.md`). An exception may span lines (quoted newlines): the
//! row is gathered until its quotes close.

use std::borrow::Cow;

use super::csv::utf8_fields;
use super::number::{bytes, float, ms};
use super::types::{Item, ParseError};
use crate::model::update::{cut_chars, Request, Update, MAX_MESSAGE_CHARS};

/// The header `CsvRequestLogger` writes.
pub const HEADER: &[u8] =
    b"timestamp,request_type,name,response_time_ms,response_length,status_code,exception";

/// Largest row held while its quotes are open (a traceback in `exception`).
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// True for the header line (a trailing `\r` allowed).
pub fn is_header(line: &[u8]) -> bool {
    line.strip_suffix(b"\r").unwrap_or(line) == HEADER
}

/// The row being gathered, and the line it started on.
///
/// A row is gathered line by line while its quotes are open (a traceback in `exception`),
/// the quotes' parity kept line by line (never recounted over the row). A row that goes
/// wrong costs only itself: one over [`MAX_ROW_BYTES`] is dropped and reported, and its
/// lines skipped until its quotes close; a quote that never closes is seen as soon as a
/// line that is a whole row of its own comes (that line is then a row, and the open one is
/// reported); a row still open at the end of the input is reported too ([`RequestLog::finish`]).
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pending: Vec<u8>,
    first_line: u64,
    /// The pending row's quotes are open.
    open: bool,
    /// Discarding the rest of an over-long row until its quotes close.
    skipping: bool,
    /// A row found broken while reading another line, to be reported.
    rejected: Option<ParseError>,
}

/// Odd when `line` opens or closes a quoted field.
fn quotes(line: &[u8]) -> usize {
    line.iter().filter(|&&b| b == b'"').count()
}

/// True when `line` is a whole row of its own (its quotes balanced, its seven fields valid):
/// how a row whose quote never closed is told from the lines of an open one.
fn is_whole_row(line: &[u8]) -> bool {
    quotes(line) % 2 == 0 && parse_row(line, 0).is_ok()
}

impl RequestLog {
    /// One line of the file (the header included: it is nothing).
    pub fn line<'a>(&mut self, line: &[u8], line_no: u64) -> Result<Item<'a>, ParseError> {
        if self.skipping {
            if is_whole_row(line) {
                self.skipping = false;
            } else {
                self.open ^= quotes(line) % 2 == 1;
                self.skipping = self.open;
                return Ok(Item::Nothing);
            }
        }
        if self.pending.is_empty() {
            if is_header(line) || line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Item::Nothing);
            }
            self.first_line = line_no;
            self.open = false;
        } else if is_whole_row(line) {
            // The open row's quote never closed: it is reported, and this line is a row.
            self.rejected = Some(self.never_closed());
            self.pending.clear();
            self.first_line = line_no;
            self.open = false;
        } else {
            self.pending.push(b'\n');
        }
        if self.pending.len() + line.len() > MAX_ROW_BYTES {
            self.pending.clear();
            self.open ^= quotes(line) % 2 == 1;
            self.skipping = self.open;
            return Err(ParseError::Malformed {
                line: self.first_line,
                detail: format!(
                    "a row over {MAX_ROW_BYTES} bytes; dropped, up to where its quotes close"
                ),
            });
        }
        self.pending.extend_from_slice(line);
        self.open ^= quotes(line) % 2 == 1;
        if self.open {
            return Ok(Item::Nothing);
        }
        let row = std::mem::take(&mut self.pending);
        parse_row(&row, self.first_line).map(|r| Item::Update(Update::Request(r)))
    }

    /// A row found broken while the last line was read (a quote that never closed), if any.
    pub fn take_rejected(&mut self) -> Option<ParseError> {
        self.rejected.take()
    }

    /// The input ended: a row still open is reported, not dropped in silence.
    pub fn finish(&mut self) -> Option<ParseError> {
        self.skipping = false;
        if self.pending.is_empty() {
            return None;
        }
        let err = self.never_closed();
        self.pending.clear();
        self.open = false;
        Some(err)
    }

    fn never_closed(&self) -> ParseError {
        ParseError::Malformed {
            line: self.first_line,
            detail: "a quote opened in this row never closes; the row is dropped".to_owned(),
        }
    }
}

fn parse_row(row: &[u8], line: u64) -> Result<Request<'static>, ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(row);
    let mut record = csv::ByteRecord::new();
    let malformed = |detail: String| ParseError::Malformed { line, detail };
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Err(malformed("an empty row".into())),
        Err(e) => return Err(malformed(e.to_string())),
    }
    let fields = utf8_fields(&record, line)?;
    let [time, method, name, rt, length, _status, exception] = fields[..] else {
        return Err(malformed(format!("{} fields, not 7", fields.len())));
    };
    let time = float(time, "timestamp", line)?;
    let response_time_ms = match rt.trim() {
        "" | "None" => None,
        t => Some(ms(t, "response_time_ms", line)?),
    };
    let response_length = match length.trim() {
        "" => 0,
        l => bytes(l, "response_length", line)? as u64,
    };
    let exception = exception.trim_end_matches('\r');
    Ok(Request {
        time,
        method: Cow::Owned(method.to_owned()),
        name: Cow::Owned(name.to_owned()),
        response_time_ms,
        response_length,
        error: (!exception.is_empty())
            .then(|| Cow::Owned(cut_chars(exception, MAX_MESSAGE_CHARS).to_owned())),
        // Locust's per-request CSV has no trace context.
        trace: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(log: &mut RequestLog, text: &str) -> Vec<Result<Option<Request<'static>>, String>> {
        text.split('\n')
            .enumerate()
            .map(|(i, l)| match log.line(l.as_bytes(), i as u64 + 1) {
                Ok(Item::Update(Update::Request(r))) => Ok(Some(r)),
                Ok(_) => Ok(None),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn rows_become_requests_and_quoted_tracebacks_span_lines() {
        let mut log = RequestLog::default();
        let text = "timestamp,request_type,name,response_time_ms,response_length,status_code,exception\r\n1764000000.5,GET,/a,12.25,300,200,\r\n1764000001.0,POST,\"/b,c\",3.5,0,500,\"HTTPError('500 Server Error\nline two')\"\r";
        let got = request(&mut log, text);
        assert!(matches!(got[0], Ok(None)));
        let a = got[1].clone().unwrap().unwrap();
        assert_eq!(
            (&*a.method, &*a.name, a.response_time_ms, a.response_length),
            ("GET", "/a", Some(12.25), 300)
        );
        assert_eq!(a.error, None);
        assert!(
            matches!(got[2], Ok(None)),
            "the open quote waits for the next line"
        );
        let b = got[3].clone().unwrap().unwrap();
        assert_eq!((&*b.name, b.time), ("/b,c", 1764000001.0));
        assert_eq!(
            b.error.as_deref(),
            Some("HTTPError('500 Server Error\nline two')")
        );
    }

    /// A 1.5 MB row (its exception never closing, or closing only past the limit) costs
    /// itself alone: the thousand valid rows after it are read; quote parity is kept line by
    /// line, so a long traceback is read in linear time.
    #[test]
    fn an_over_long_or_unbalanced_row_costs_only_itself() {
        let valid: String = (0..1000)
            .map(|i| format!("17640000{i:02}.5,GET,/a,1.5,3,200,\n"))
            .collect();
        let tail = "x".repeat(100);
        for (bad, closes) in [
            (
                format!(
                    "1764000000.0,GET,/b,1,0,500,\"{}\n",
                    format!("{tail}\n").repeat(15_000)
                ),
                false,
            ),
            (
                format!(
                    "1764000000.0,GET,/b,1,0,500,\"{}\"\n",
                    format!("{tail}\n").repeat(15_000)
                ),
                true,
            ),
        ] {
            let mut log = RequestLog::default();
            let started = std::time::Instant::now();
            let got = request(&mut log, &format!("{bad}{valid}"));
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
            let rows = got.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
            assert_eq!(rows, 1000, "closes: {closes}");
            let errors = got.iter().filter(|r| r.is_err()).count()
                + usize::from(log.take_rejected().is_some());
            assert_eq!(
                errors,
                1,
                "closes: {closes}: {:?}",
                got.iter().filter(|r| r.is_err()).collect::<Vec<_>>()
            );
        }
        // A short row whose quote never closes: the next whole row reports it.
        let mut log = RequestLog::default();
        let got = request(&mut log, "1,GET,/b,1,0,500,\"oops\n2,GET,/a,1,0,200,");
        assert!(matches!(got[1], Ok(Some(_))), "{got:?}");
        assert!(log
            .take_rejected()
            .unwrap()
            .to_string()
            .contains("never closes"));
        // Open at the end of the input: reported by finish.
        let mut log = RequestLog::default();
        request(&mut log, "1,GET,/b,1,0,500,\"still open");
        assert!(log.finish().is_some());
        assert!(log.finish().is_none());
    }

    #[test]
    fn a_bad_row_names_its_line_and_column() {
        let mut log = RequestLog::default();
        let got = request(
            &mut log,
            "1,GET,/a,fast,0,200,\n1,GET,/a\n2,GET,/a,1,0,200,",
        );
        assert!(
            got[0].as_ref().unwrap_err().contains("response_time_ms"),
            "{got:?}"
        );
        assert!(got[1].as_ref().unwrap_err().contains("3 fields"), "{got:?}");
        assert!(got[2].as_ref().unwrap().is_some());
    }
}
