//! The only place where `parse` meets `model` at runtime.
//!
//! [`Ingest::apply`] is synchronous: it takes one [`Chunk`] from a source, parses it with the
//! parser its role asks for, applies the result to the [`Model`] and keeps the self-stats
//! (lines read, parse errors by reason, source up). [`run`] is the async loop that owns the
//! `Ingest` and publishes immutable snapshots for scrapes: at most every [`COALESCE`] while
//! data flows, and on a [`TICK`] so time-based state (stopped) moves on its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::model::snapshot::{Snapshot, SourceStatus};
use crate::model::update::{RequestRef, Update};
use crate::model::Model;
use crate::parse::event::{parse_event, EventItem};
use crate::parse::failures::{parse_exceptions, parse_failures};
use crate::parse::history::{is_header, HistoryItem, HistoryParser};
use crate::parse::stats::parse_stats;
use crate::parse::ParseError;
use crate::source::lines::{LineBatch, MAX_LINE_BYTES};
use crate::source::{Body, Chunk, FileRole, Origin};

/// Shortest time between two published snapshots while data flows.
pub const COALESCE: Duration = Duration::from_millis(25);
/// A snapshot is published at least this often, so time-based state moves on.
pub const TICK: Duration = Duration::from_secs(1);
/// A given (source, reason) is logged at most once in this many seconds.
pub const LOG_EVERY_SECS: f64 = 60.0;
/// Chunks applied before a snapshot is considered, so a flood cannot starve publishing.
const MAX_CHUNKS_PER_ROUND: usize = 256;

/// Wall-clock time in Unix seconds: the single place the crate reads it.
#[expect(
    clippy::disallowed_methods,
    reason = "the one wall-clock read; the model gets `now` as a value"
)]
pub fn wall_clock() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How the lines of an appended file or stream are read: a history file always as a history,
/// an events stream as its first line decides.
#[derive(Debug, Default)]
enum LineMode {
    /// No line seen yet (or since a reset).
    #[default]
    Undecided,
    /// JSON lines.
    Json,
    /// A `_stats_history.csv` (the history file, or one piped into `--events`).
    History(HistoryParser),
    /// A `_stats.csv` piped in: rows are gathered until the `Aggregated` row closes a snapshot.
    Stats { text: Vec<u8> },
}

impl LineMode {
    /// The mode a source of `role` starts in (again after a reset).
    fn start(role: FileRole) -> Self {
        if role == FileRole::History {
            LineMode::History(HistoryParser::default())
        } else {
            LineMode::Undecided
        }
    }
}

/// Self-stats of one source.
#[derive(Debug, Default)]
struct SourceEntry {
    status: SourceStatus,
    errors: BTreeMap<&'static str, u64>,
    last_logged: HashMap<&'static str, f64>,
    mode: LineMode,
}

/// The model plus everything needed to feed it.
#[derive(Debug)]
pub struct Ingest {
    model: Model,
    sources: BTreeMap<String, SourceEntry>,
}

impl Ingest {
    /// Wraps `model`.
    pub fn new(model: Model) -> Self {
        Ingest {
            model,
            sources: BTreeMap::new(),
        }
    }

    /// Registers `origin` (and its service) on first sight.
    fn ensure(&mut self, origin: &Origin) {
        if self.sources.contains_key(&origin.source) {
            return;
        }
        self.model.declare(&origin.service);
        let entry = SourceEntry {
            status: SourceStatus {
                source: origin.source.clone(),
                service: origin.service.clone(),
                ..SourceStatus::default()
            },
            mode: LineMode::start(origin.role),
            ..SourceEntry::default()
        };
        self.sources.insert(origin.source.clone(), entry);
    }

    /// Applies one chunk observed at `now` (Unix seconds).
    pub fn apply(&mut self, chunk: Chunk, now: f64) {
        let origin = &*chunk.origin;
        self.ensure(origin);
        let Ingest { model, sources } = self;
        let Some(entry) = sources.get_mut(&origin.source) else {
            return;
        };
        match chunk.body {
            Body::Snapshot(bytes) => apply_snapshot(model, entry, origin, &bytes, now),
            Body::Lines(batch) => apply_lines(model, entry, origin, &batch, now),
            Body::Reset => {
                // A truncated history (or a history piped as events) starts over; an events
                // file starts a fresh stream whose first line decides its format again.
                let was_history = matches!(entry.mode, LineMode::History(_));
                entry.mode = LineMode::start(origin.role);
                if was_history {
                    model.apply(&origin.service, Update::HistoryReset, now);
                }
            }
            Body::Missing => entry.status.up = false,
            Body::Eof => model.apply(&origin.service, Update::EndOfInput, now),
        }
    }

    /// Marks every service's input as ended (`--once`).
    pub fn end_of_input(&mut self, now: f64) {
        let Ingest { model, sources } = self;
        for e in sources.values() {
            model.apply(&e.status.service, Update::EndOfInput, now);
        }
    }

    /// Everything as served at `now`.
    pub fn snapshot(&self, now: f64) -> Snapshot {
        let mut snap = self.model.snapshot(now);
        snap.sources = self
            .sources
            .values()
            .map(|e| {
                let mut status = e.status.clone();
                status.parse_errors = e.errors.iter().map(|(r, n)| (*r, *n)).collect();
                status
            })
            .collect();
        snap
    }
}

fn apply_snapshot(
    model: &mut Model,
    entry: &mut SourceEntry,
    origin: &Origin,
    bytes: &[u8],
    now: f64,
) {
    let parsed = match origin.role {
        FileRole::Stats => {
            parse_stats(bytes).map(|t| t.map(|t| (t.rows.len() + 1, Update::Stats(t))))
        }
        FileRole::Failures => {
            parse_failures(bytes).map(|r| r.map(|r| (r.len(), Update::Failures(r))))
        }
        FileRole::Exceptions => {
            parse_exceptions(bytes).map(|r| r.map(|r| (r.len(), Update::Exceptions(r))))
        }
        FileRole::History | FileRole::Events => Ok(None),
    };
    match parsed {
        Ok(Some((rows, update))) => {
            entry.status.up = true;
            entry.status.lines += rows as u64;
            model.apply(&origin.service, update, now);
        }
        Ok(None) => entry.status.up = true,
        Err(e) => reject(entry, origin, &e, now),
    }
}

fn apply_lines(
    model: &mut Model,
    entry: &mut SourceEntry,
    origin: &Origin,
    batch: &LineBatch,
    now: f64,
) {
    for &line in &batch.too_long {
        reject(
            entry,
            origin,
            &ParseError::TooLong {
                line,
                max: MAX_LINE_BYTES,
            },
            now,
        );
    }
    // One service lookup for the whole batch.
    let Some((config, service)) = model.service(&origin.service) else {
        return;
    };
    for (n, line) in batch.lines() {
        match parse_line(entry, line, n, now) {
            Ok(parsed) => {
                entry.status.lines += 1;
                entry.status.up = true;
                match parsed {
                    Parsed::Request(r) => service.record_request(&r, config, now),
                    Parsed::Update(u) => service.apply(u, config, now),
                    Parsed::Nothing => {}
                }
            }
            Err(e) => reject(entry, origin, &e, now),
        }
    }
}

/// What one line gave.
enum Parsed<'a> {
    /// A request, borrowed from the line.
    Request(RequestRef<'a>),
    /// Any other update.
    Update(Update),
    /// A header, a blank line, an unknown event, a row that completes nothing yet.
    Nothing,
}

/// One complete line of an appended file or stream → at most one update.
fn parse_line<'a>(
    entry: &mut SourceEntry,
    line: &'a [u8],
    n: u64,
    now: f64,
) -> Result<Parsed<'a>, ParseError> {
    if matches!(entry.mode, LineMode::Undecided) {
        entry.mode = if is_header(line) {
            LineMode::History(HistoryParser::default())
        } else if line.starts_with(b"Type,Name,") {
            LineMode::Stats { text: Vec::new() }
        } else {
            LineMode::Json
        };
    }
    match &mut entry.mode {
        LineMode::Undecided | LineMode::Json => {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Parsed::Nothing);
            }
            match parse_event(line, n, now)? {
                EventItem::Request(r) => Ok(Parsed::Request(r)),
                EventItem::Update(u) => Ok(Parsed::Update(u)),
                EventItem::Unknown(_) => {
                    entry.status.unknown_events += 1;
                    Ok(Parsed::Nothing)
                }
            }
        }
        LineMode::History(parser) => match parser.line(line, n)? {
            HistoryItem::Header => Ok(Parsed::Nothing),
            HistoryItem::HeaderAgain => Ok(Parsed::Update(Update::HistoryReset)),
            HistoryItem::Row(row) => Ok(Parsed::Update(Update::History(row))),
        },
        LineMode::Stats { text } => {
            if line.starts_with(b"Type,Name,") {
                text.clear();
            }
            text.extend_from_slice(line);
            text.extend_from_slice(b"\r\n");
            if !line.starts_with(b",Aggregated,") {
                return Ok(Parsed::Nothing);
            }
            let result = parse_stats(text);
            // Keep the header for the next snapshot piped after this one.
            let header_end = text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            text.truncate(header_end);
            Ok(result?.map_or(Parsed::Nothing, |t| Parsed::Update(Update::Stats(t))))
        }
    }
}

/// Counts a rejected read or line, and logs it at most once a minute per (source, reason).
/// Torn snapshots (`incomplete`) are normal: they are read again, leave the source up and
/// are only logged at debug level. Any other rejection marks the source down until a read
/// or line parses again.
fn reject(entry: &mut SourceEntry, origin: &Origin, err: &ParseError, now: f64) {
    let reason = err.reason();
    *entry.errors.entry(reason).or_default() += 1;
    if reason != "incomplete" {
        entry.status.up = false;
    }
    if reason == "incomplete" {
        tracing::debug!(source = %origin.source, error = %err, "Snapshot not complete yet; keeping the previous one.");
        return;
    }
    let last = entry.last_logged.get(reason).copied();
    if last.is_none_or(|t| now - t >= LOG_EVERY_SECS) {
        entry.last_logged.insert(reason, now);
        tracing::warn!(
            source = %origin.source,
            reason,
            "Skipped input in {}: {err}. Further such errors from this source are counted in locust_exporter_parse_errors_total and logged at most once a minute.",
            origin.source
        );
    }
}

/// Owns `ingest`: applies chunks as they come and publishes snapshots on `tx`. Returns when
/// every source has ended and every scrape receiver is gone.
pub async fn run(
    mut ingest: Ingest,
    mut rx: mpsc::Receiver<Chunk>,
    tx: watch::Sender<Arc<Snapshot>>,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_publish = Instant::now();
    // The pause between snapshots while data flows: at least COALESCE, and at least four
    // times what the last snapshot took to build, so a flood of events over many endpoints
    // spends most of its time ingesting, not publishing.
    let mut pause = COALESCE;
    let mut dirty = false;
    let mut open = true;
    let mut dropped_warned = false;
    let mut seq = 0u64;
    loop {
        let publish_at = dirty.then(|| (last_publish + pause).max(Instant::now()));
        tokio::select! {
            chunk = rx.recv(), if open => match chunk {
                Some(chunk) => {
                    ingest.apply(chunk, wall_clock());
                    for _ in 1..MAX_CHUNKS_PER_ROUND {
                        match rx.try_recv() {
                            Ok(chunk) => ingest.apply(chunk, wall_clock()),
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                    continue;
                }
                None => open = false,
            },
            () = sleep_until_opt(publish_at) => {}
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        let mut snap = ingest.snapshot(wall_clock());
        pause = COALESCE.max(started.elapsed() * 4).min(TICK);
        seq += 1;
        snap.seq = seq;
        if !dropped_warned {
            if let Some(s) = snap.services.iter().find(|s| s.endpoints_dropped > 0) {
                dropped_warned = true;
                tracing::warn!(service = %s.name, "More distinct endpoints than --max-endpoints: further ones are folded into name __other__ (see locust_exporter_endpoints_dropped_total).");
            }
        }
        if tx.send(Arc::new(snap)).is_err() && !open {
            return;
        }
        last_publish = Instant::now();
        dirty = false;
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
