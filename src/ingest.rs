//! The only place where `parse` meets `model` at runtime.
//!
//! [`Ingest::apply`] is synchronous: it takes one [`Chunk`] from a source, hands it to the
//! parser its role asks for ([`parse::whole_file`] for a rewritten file, the source's
//! [`LineParser`] for lines), passes the updates to [`Model::apply_all`] and keeps the
//! self-stats (lines read, parse errors by reason, resets, source up). [`run`] is the async loop that owns the
//! `Ingest` and publishes immutable snapshots for scrapes: at most every [`COALESCE`] while
//! data flows, and on a [`TICK`] so time-based state (stopped) moves on its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};

use crate::support::sleep_until_opt;
use tokio::time::Instant;

use crate::model::snapshot::{Folded, RunState, Snapshot, SourceStatus};
use crate::model::update::Update;
use crate::model::Model;
use crate::parse::sniff::LineParser;
use crate::parse::{self, FileRole, Item, ParseError};
use crate::source::lines::{LineBatch, MAX_LINE_BYTES};
use crate::source::{Body, Chunk, Origin};

/// Shortest time between two published snapshots while data flows.
pub const COALESCE: Duration = Duration::from_millis(25);
/// How often time-based state (a service going `stopped`) is looked at: a snapshot is
/// published when it changed, or when data arrived.
pub const TICK: Duration = Duration::from_secs(1);
/// A snapshot is published at least this often even when nothing changed, so the process
/// metrics rendered with it are at most this old. Between changes the exposition is
/// rendered at most once per REFRESH, however many scrapers ask.
pub const REFRESH: Duration = Duration::from_secs(5);
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

/// Self-stats and parser state of one source.
#[derive(Debug)]
struct SourceEntry {
    status: SourceStatus,
    errors: BTreeMap<&'static str, u64>,
    last_logged: HashMap<&'static str, f64>,
    /// The parser of its lines: made at its first lines (a source that sends updates, as
    /// the OTLP receiver's services do, has none).
    lines: Option<LineParser>,
}

impl SourceEntry {
    /// Counts a rejected read or line, and logs it at most once a minute per reason. Torn
    /// snapshots (`incomplete`) are normal: they are read again, leave the source up and
    /// are only logged at debug level. Any other rejection marks the source down until a
    /// read or line parses again.
    fn reject(&mut self, err: &ParseError, now: f64) {
        let reason = err.reason();
        *self.errors.entry(reason).or_default() += 1;
        if let ParseError::Incomplete { .. } = err {
            tracing::debug!(source = %self.status.source, error = %err, "Snapshot not complete yet; keeping the previous one.");
            return;
        }
        self.status.up = false;
        let last = self.last_logged.get(reason).copied();
        if last.is_none_or(|t| now - t >= LOG_EVERY_SECS) {
            self.last_logged.insert(reason, now);
            tracing::warn!(
                source = %self.status.source,
                reason,
                "Skipped input in {}: {err}. Further such errors from this source are counted in locust_exporter_parse_errors_total and logged at most once a minute.",
                self.status.source
            );
        }
    }

    /// Counts a line or record read and parsed.
    fn accept(&mut self, records: u64) {
        self.status.up = true;
        self.status.lines += records;
    }
}

/// The model plus everything needed to feed it: routes each chunk to its parser and the
/// result to [`Model::apply_all`], and keeps the self-statistics.
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

    /// Applies one chunk observed at `now` (Unix seconds).
    pub fn apply(&mut self, chunk: Chunk, now: f64) {
        let origin = &*chunk.origin;
        let Ingest { model, sources } = self;
        if chunk.body == Body::Vanished {
            // The source is let go; its service too once no other source feeds it.
            sources.remove(&origin.source);
            if !sources.values().any(|e| e.status.service == origin.service) {
                model.remove(&origin.service);
            }
            return;
        }
        let entry = sources.entry(origin.source.clone()).or_insert_with(|| {
            model.declare(&origin.service);
            SourceEntry {
                status: SourceStatus {
                    source: origin.source.clone(),
                    service: origin.service.clone(),
                    ..SourceStatus::default()
                },
                errors: BTreeMap::new(),
                last_logged: HashMap::new(),
                lines: None,
            }
        });
        match chunk.body {
            Body::Whole(bytes) => apply_whole(model, entry, origin, &bytes, now),
            Body::Lines(batch) => apply_lines(model, entry, origin, &batch, now),
            Body::Reset => {
                entry.status.resets += 1;
                if let Some(update) = entry.lines.as_mut().and_then(LineParser::reset) {
                    model.apply(&origin.service, update, now);
                }
            }
            Body::Missing => {
                entry.status.up = false;
                if origin.role == FileRole::Status {
                    model.apply(&origin.service, Update::RunnerDown, now);
                }
            }
            Body::Written(at) => model.apply(&origin.service, Update::Written(at), now),
            Body::Eof => {
                if let Some(err) = entry.lines.as_mut().and_then(LineParser::finish) {
                    entry.reject(&err, now);
                }
                entry.status.ended = true;
                model.apply(&origin.service, Update::EndOfInput, now);
            }
            Body::Updates(updates, clamped) => {
                entry.accept(updates.len() as u64);
                entry.status.clamped += clamped;
                model.apply_all(&origin.service, updates, now);
            }
            Body::Vanished => {}
        }
    }

    /// The exporter is stopping: every service is closed (`stopped` from now on); one whose
    /// run was still live is marked interrupted (see [`Model::close`]).
    pub fn close(&mut self, now: f64) {
        self.model.close(now);
    }

    /// Marks every service's input as ended (`--once`): what a stream was still gathering
    /// is reported.
    pub fn end_of_input(&mut self, now: f64) {
        let Ingest { model, sources, .. } = self;
        for e in sources.values_mut() {
            if let Some(err) = e.lines.as_mut().and_then(LineParser::finish) {
                e.reject(&err, now);
            }
            model.apply(&e.status.service, Update::EndOfInput, now);
        }
    }

    /// Each service's run state at `now` (cheap: no snapshot is built).
    pub fn states(&self, now: f64) -> Vec<RunState> {
        self.model.states(now)
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

fn apply_whole(
    model: &mut Model,
    entry: &mut SourceEntry,
    origin: &Origin,
    bytes: &[u8],
    now: f64,
) {
    match parse::whole_file(origin.role, bytes) {
        Ok(Some((update, records))) => {
            entry.accept(records as u64);
            model.apply(&origin.service, update, now);
        }
        Ok(None) => entry.accept(0),
        Err(e) => {
            entry.reject(&e, now);
            // A web UI that answers with something else than its status is as good as down.
            if origin.role == FileRole::Status {
                model.apply(&origin.service, Update::RunnerDown, now);
            }
        }
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
        let err = ParseError::TooLong {
            line,
            max: MAX_LINE_BYTES,
        };
        entry.reject(&err, now);
    }
    // Taken out while the lines are read (the closure counts in the entry), put back after.
    let mut parser = entry
        .lines
        .take()
        .unwrap_or_else(|| origin.role.line_parser());
    let updates = batch.lines().filter_map(|(n, line)| {
        let parsed = parser.line(line, n, now);
        // A row the line showed broken (a quote that never closed) costs only itself.
        if let Some(err) = parser.take_rejected() {
            entry.reject(&err, now);
        }
        match parsed {
            Ok(item) => {
                entry.accept(1);
                match item {
                    Item::Update(update) => Some(update),
                    Item::Clamped(update) => {
                        entry.status.clamped += 1;
                        Some(update)
                    }
                    Item::Nothing => None,
                    Item::Unknown => {
                        entry.status.unknown_events += 1;
                        None
                    }
                    Item::Preamble => {
                        entry.status.preamble += 1;
                        None
                    }
                }
            }
            Err(e) => {
                entry.reject(&e, now);
                None
            }
        }
    });
    model.apply_all(&origin.service, updates, now);
    entry.lines = Some(parser);
}

/// Owns `ingest`: applies chunks as they come and publishes snapshots on `tx`. When `stop`
/// turns true it applies what is already queued, closes every service ([`Ingest::close`])
/// and publishes that at once as the closed snapshot (the final deliveries wait for it).
/// Returns when every source has ended and every scrape receiver is gone.
pub async fn run(
    mut ingest: Ingest,
    mut rx: mpsc::Receiver<Chunk>,
    tx: watch::Sender<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut closing = false;
    let mut closed = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_publish = Instant::now();
    // The pause between snapshots while data flows: at least COALESCE, and at least four
    // times what the last snapshot took to build, so a flood of events over many endpoints
    // spends most of its time ingesting, not publishing.
    let mut pause = COALESCE;
    let mut dirty = false;
    let mut open = true;
    let mut warned = Folded::default();
    let mut seq = 0u64;
    let mut states = Vec::new();
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
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                // What the sources sent before the stop is part of the run's end.
                for _ in 0..MAX_CHUNKS_PER_ROUND {
                    match rx.try_recv() {
                        Ok(chunk) => ingest.apply(chunk, wall_clock()),
                        Err(_) => break,
                    }
                }
                ingest.close(wall_clock());
                dirty = true;
            }
        }
        let now_states = ingest.states(wall_clock());
        let must = closing && !closed;
        if !must && !dirty && open && now_states == states && last_publish.elapsed() < REFRESH {
            continue;
        }
        states = now_states;
        let started = Instant::now();
        let mut snap = ingest.snapshot(wall_clock());
        pause = COALESCE.max(started.elapsed() * 4).min(TICK);
        seq += 1;
        snap.seq = seq;
        snap.closed = closing;
        closed = closing;
        warn_folded_once(&snap, &mut warned);
        if tx.send(Arc::new(snap)).is_err() && !open {
            return;
        }
        last_publish = Instant::now();
        dirty = false;
    }
}

/// Warns once per kind the first time a service folds endpoints, error texts or exception
/// messages into `__other__` (`warned` holds a 1 for each kind warned about).
fn warn_folded_once(snap: &Snapshot, warned: &mut Folded) {
    for s in &snap.services {
        let f = s.folded;
        if f.endpoints > 0 && warned.endpoints == 0 {
            warned.endpoints = 1;
            tracing::warn!(service = %s.name, "More distinct endpoints than --max-endpoints: further ones are folded into name __other__ (see locust_exporter_endpoints_dropped_total).");
        }
        if f.errors > 0 && warned.errors == 0 {
            warned.errors = 1;
            tracing::warn!(service = %s.name, "More distinct error texts for an endpoint than --max-errors-per-endpoint: further ones are folded into error __other__ (see locust_exporter_errors_dropped_total).");
        }
        if f.exceptions > 0 && warned.exceptions == 0 {
            warned.exceptions = 1;
            tracing::warn!(service = %s.name, "More distinct exception messages than --max-exceptions: further ones are folded into message __other__ (see locust_exporter_exceptions_dropped_total).");
        }
    }
}
