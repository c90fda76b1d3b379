//! What bytes are — which Locust file or stream — and so how they are read: whole
//! ([`whole_file`]) or line by line ([`FileRole::line_parser`]). A new kind of input
//! is a variant here, its parser beside it, and its arm in [`whole_file`] or [`FileRole::line_parser`].

use super::sniff::LineParser;
use super::types::ParseError;
use super::{failures, final_json, stats, webui};
use crate::model::update::Update;

/// Which Locust file (or stream) bytes are: what a source says of its bytes, and so how they
/// are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileRole {
    /// `PREFIX_stats.csv`, rewritten in place.
    Stats,
    /// `PREFIX_stats_history.csv`, appended.
    History,
    /// `PREFIX_failures.csv`, rewritten in place.
    Failures,
    /// `PREFIX_exceptions.csv`, rewritten in place.
    Exceptions,
    /// A JSON-lines event stream (or a CSV history piped in).
    Events,
    /// A Locust web UI's `/stats/requests` JSON, fetched whole.
    Status,
    /// `PREFIX.json`, Locust's end-of-run report (`--json-file PREFIX`), written at quit.
    Final,
}

impl FileRole {
    /// The four files of a `--csv` prefix.
    pub const CSV: [FileRole; 4] = [
        FileRole::Stats,
        FileRole::History,
        FileRole::Failures,
        FileRole::Exceptions,
    ];

    /// The files followed for a `--csv` prefix: its four CSV files and the end-of-run report
    /// (only the CSV files make a prefix one).
    pub const PREFIX: [FileRole; 5] = [
        FileRole::Stats,
        FileRole::History,
        FileRole::Failures,
        FileRole::Exceptions,
        FileRole::Final,
    ];

    /// The file name suffix after the prefix (empty for events).
    pub fn suffix(self) -> &'static str {
        match self {
            FileRole::Stats => "_stats.csv",
            FileRole::History => "_stats_history.csv",
            FileRole::Failures => "_failures.csv",
            FileRole::Exceptions => "_exceptions.csv",
            FileRole::Final => ".json",
            FileRole::Events | FileRole::Status => "",
        }
    }

    /// True for files rewritten in place (read whole on every change).
    pub fn is_rewritten(self) -> bool {
        matches!(
            self,
            FileRole::Stats
                | FileRole::Failures
                | FileRole::Exceptions
                | FileRole::Status
                | FileRole::Final
        )
    }

    /// The line parser an appended file or stream of this role starts with.
    pub fn line_parser(self) -> LineParser {
        if self == FileRole::History {
            LineParser::history()
        } else {
            LineParser::sniffing()
        }
    }
}

/// A whole file of `role` → one update and the number of records it held. `Ok(None)` for
/// a file with nothing in it yet (or a role read as lines).
pub fn whole_file(
    role: FileRole,
    input: &[u8],
) -> Result<Option<(Update<'static>, usize)>, ParseError> {
    Ok(match role {
        FileRole::Stats => stats::parse_stats(input)?.map(|t| (t.rows.len() + 1, Update::Stats(t))),
        FileRole::Failures => {
            failures::parse_failures(input)?.map(|r| (r.len(), Update::Failures(r)))
        }
        FileRole::Exceptions => {
            failures::parse_exceptions(input)?.map(|r| (r.len(), Update::Exceptions(r)))
        }
        FileRole::Status => Some((1, Update::Runner(webui::parse_status(input)?))),
        FileRole::Final => {
            final_json::parse_final(input)?.map(|t| (t.rows.len() + 1, Update::Final(t)))
        }
        // Read as lines, never whole.
        FileRole::History | FileRole::Events => None,
    }
    .map(|(rows, update)| (update, rows)))
}
