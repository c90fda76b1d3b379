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
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pending: Vec<u8>,
    first_line: u64,
}

impl RequestLog {
    /// One line of the file (the header included: it is nothing).
    pub fn line<'a>(&mut self, line: &[u8], line_no: u64) -> Result<Item<'a>, ParseError> {
        if self.pending.is_empty() {
            if is_header(line) || line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Item::Nothing);
            }
            self.first_line = line_no;
        } else {
            self.pending.push(b'\n');
        }
        if self.pending.len() + line.len() > MAX_ROW_BYTES {
            self.pending.clear();
            return Err(ParseError::Malformed {
                line: self.first_line,
                detail: format!("a row over {MAX_ROW_BYTES} bytes (an exception quoted and never closed?); dropped"),
            });
        }
        self.pending.extend_from_slice(line);
        if self.pending.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
            return Ok(Item::Nothing);
        }
        let row = std::mem::take(&mut self.pending);
        parse_row(&row, self.first_line).map(|r| Item::Update(Update::Request(r)))
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
