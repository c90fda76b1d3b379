//! CSV framing of the files Locust rewrites in place: a whole read is trusted only when it
//! ends with a newline, its quotes balance and every row is as wide as the header; line
//! numbers for errors.

use super::types::ParseError;

/// Checks the framing every Locust snapshot file must have before its records are trusted:
/// it ends with a newline and its quotes are balanced (a read that stops inside a quoted,
/// multi-line field has an odd number of `"`).
fn check_whole_framing(input: &[u8]) -> Result<(), ParseError> {
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
pub(crate) fn whole_records<H>(
    input: &[u8],
    header: impl FnOnce(&[&str], u64) -> Result<H, ParseError>,
    mut row: impl FnMut(&H, &[&str], u64, u64) -> Result<(), ParseError>,
) -> Result<Option<H>, ParseError> {
    if input.is_empty() {
        return Ok(None);
    }
    check_whole_framing(input)?;
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
        // A row that is not UTF-8 is read with U+FFFD for its bad bytes: one corrupt name
        // must not freeze the whole file's snapshot.
        let owned: Vec<std::borrow::Cow<'_, str>> =
            record.iter().map(String::from_utf8_lossy).collect();
        let fields: Vec<&str> = owned.iter().map(AsRef::as_ref).collect();
        if fields.len() != width {
            return Err(ParseError::Incomplete {
                line,
                detail: "a row is not as wide as the header",
            });
        }
        row(&columns, &fields, line, reader.position().byte())?;
    }
}
