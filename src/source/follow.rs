//! The follower of one `--csv` or `--events` argument: discovers its files, reads each with
//! the right reader ([`RewrittenFile`] or [`FileTail`]) and turns what it saw into [`Chunk`]s.
//!
//! [`Follower::poll`] is synchronous (it is what `--once` calls); [`run`] is the small
//! async loop around it: wait for a file event (debounced) or the poll tick, poll, send.
//!
//! Bounds: one poll reads at most [`POLL_BUDGET`] bytes across its files (plus one file's
//! read), then hands them on and goes on where it stopped, so a directory of big files is
//! read a budget at a time, never gathered whole; a follower whose poll read much waits for
//! the ingest task to take it before reading more. A rewritten file over `--max-file-size`
//! is refused with an error naming it. A prefix gone from a `--csv` directory for
//! [`VANISHED_AFTER`] is let go: its files closed, its service removed from what is served
//! (its final values were served that long).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::discover::{CsvPath, EventsPath};
use super::rewritten::RewrittenFile;
use super::tail::FileTail;
use super::watch::DirWatcher;
use super::{Body, Chunk, Origin, ReadError, Source, Task};
use crate::parse::FileRole;

/// After a file event, wait this long for the writer to finish (Locust's write→truncate
/// window is ~0.1–2 ms) and for more events to coalesce.
pub const DEBOUNCE: Duration = Duration::from_millis(5);

/// Bytes one poll reads across its files before handing them on.
pub const POLL_BUDGET: usize = 8 << 20;

/// Default `--csv.vanished-after`: a prefix gone from a `--csv` directory this long is let
/// go (its service too).
pub const VANISHED_AFTER: Duration = Duration::from_secs(300);

/// Longest wait for the ingest task to take a big poll's chunks.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

enum Reader {
    Snapshot(RewrittenFile),
    Tail(FileTail),
}

struct Tracked {
    origin: Arc<Origin>,
    reader: Reader,
    /// The last read failed (logged and reported missing once, until a read works).
    failing: bool,
}

/// What a follower follows.
enum Paths {
    /// The files of a `--csv` prefix or directory, discovered on every poll.
    Csv(CsvPath),
    /// An `--events` file, directory or glob.
    Events(EventsPath),
}

/// Follows the files of one `--csv` PATH, or one `--events` file.
pub struct Follower {
    /// The path as given (for messages).
    given: String,
    paths: Paths,
    files: BTreeMap<PathBuf, Tracked>,
    /// `--max-file-size`.
    max_file_size: u64,
    /// Where the last poll stopped when its budget ran out.
    resume: Option<PathBuf>,
    /// Services of a `--csv` directory whose prefix is gone, since when.
    gone_since: HashMap<String, Instant>,
    /// How long a gone prefix is kept.
    vanish_after: Duration,
}

impl Follower {
    /// Follows a `--csv` PATH.
    pub fn csv(path: CsvPath) -> Self {
        Follower::new(path.given(), Paths::Csv(path))
    }

    fn new(given: String, paths: Paths) -> Self {
        Follower {
            given,
            paths,
            files: BTreeMap::new(),
            max_file_size: super::rewritten::DEFAULT_MAX_FILE_SIZE,
            resume: None,
            gone_since: HashMap::new(),
            vanish_after: VANISHED_AFTER,
        }
    }

    /// Refuses rewritten files over `bytes` (`--max-file-size`).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Lets a gone `--csv` directory prefix go after `after` (`--csv.vanished-after`).
    pub fn vanish_after(mut self, after: Duration) -> Self {
        self.vanish_after = after;
        self
    }

    /// Follows an `--events` file like `tail -F` (appends, truncation, replacement), or
    /// every file of a directory or glob, now and later.
    pub fn events(service: String, path: PathBuf) -> Self {
        Follower::new(
            path.display().to_string(),
            Paths::Events(EventsPath::new(path, service)),
        )
    }

    /// The directory to watch for wake-ups.
    pub fn watch_dir(&self) -> PathBuf {
        match &self.paths {
            Paths::Csv(p) => p.watch_dir(),
            Paths::Events(p) => p.watch_dir(),
        }
    }

    /// Discovers files and reads what changed, at most [`POLL_BUDGET`] bytes (and one
    /// file's read) of it. Returns true if there is more to read now.
    pub fn poll(&mut self, out: &mut Vec<Chunk>) -> bool {
        let targets = match &mut self.paths {
            Paths::Csv(p) => p.targets(),
            Paths::Events(p) => p.targets(),
        };
        let listed: BTreeSet<PathBuf> = targets.iter().map(|(p, _)| p.clone()).collect();
        let max_file_size = self.max_file_size;
        for (path, origin) in targets {
            self.files.entry(path.clone()).or_insert_with(|| {
                let reader = if origin.role == FileRole::Final {
                    Reader::Snapshot(RewrittenFile::optional(path).with_limit(max_file_size))
                } else if origin.role.is_rewritten() {
                    Reader::Snapshot(RewrittenFile::new(path).with_limit(max_file_size))
                } else {
                    Reader::Tail(FileTail::new(path))
                };
                Tracked {
                    origin: Arc::new(origin),
                    reader,
                    failing: false,
                }
            });
        }
        // From where the last poll stopped, round to it.
        let mut order: Vec<PathBuf> = self.files.keys().cloned().collect();
        if let Some(at) = self.resume.take() {
            let split = order.partition_point(|p| *p <= at);
            order.rotate_left(split);
        }
        let mut more = false;
        let mut read = 0usize;
        let mut bodies = Vec::new();
        for path in order {
            if read >= POLL_BUDGET {
                self.resume = Some(path);
                more = true;
                break;
            }
            let Some(tracked) = self.files.get_mut(&path) else {
                continue;
            };
            let result = match &mut tracked.reader {
                Reader::Snapshot(f) => f.poll(&mut bodies).map(|()| false),
                Reader::Tail(t) => t.poll(&mut bodies),
            };
            match result {
                Ok(m) => {
                    more |= m;
                    tracked.failing = false;
                }
                Err(e) if !tracked.failing => {
                    tracked.failing = true;
                    tracing::warn!(path = %tracked.origin.source, error = %e, "Cannot read file; will retry.");
                    bodies.push(Body::Missing);
                }
                Err(_) => {}
            }
            read += bodies.iter().map(Body::weight).sum::<usize>();
            out.extend(bodies.drain(..).map(|body| Chunk {
                origin: tracked.origin.clone(),
                body,
            }));
        }
        match &self.paths {
            // A file of an events directory or glob that is gone, and was read to its end,
            // is let go (its counts stay; a new file at its path is a new source).
            Paths::Events(p) if !p.is_single_file() => {
                self.files.retain(|path, t| {
                    listed.contains(path) || !matches!(&t.reader, Reader::Tail(tail) if tail.gone())
                });
            }
            Paths::Csv(p) if p.is_dir() => self.let_go_of_vanished(&listed, out),
            _ => {}
        }
        more
    }

    /// A `--csv` directory's prefix not listed for [`VANISHED_AFTER`]: its files are closed
    /// and each let go ([`Body::Vanished`]; with the last, its service).
    fn let_go_of_vanished(&mut self, listed: &BTreeSet<PathBuf>, out: &mut Vec<Chunk>) {
        let mut present: BTreeSet<&str> = BTreeSet::new();
        let mut known: BTreeMap<&str, Arc<Origin>> = BTreeMap::new();
        for (path, t) in &self.files {
            known
                .entry(&t.origin.service)
                .or_insert_with(|| t.origin.clone());
            if listed.contains(path) {
                present.insert(&t.origin.service);
            }
        }
        let now = Instant::now();
        let mut vanished = Vec::new();
        for (service, origin) in known {
            if present.contains(service) {
                self.gone_since.remove(service);
                continue;
            }
            let since = *self.gone_since.entry(service.to_owned()).or_insert(now);
            if now.duration_since(since) >= self.vanish_after {
                vanished.push(origin);
            }
        }
        for origin in vanished {
            tracing::info!(service = %origin.service, after = ?self.vanish_after, "Every file of this prefix is gone from the --csv directory: its service is no longer served.");
            self.gone_since.remove(&origin.service);
            // Each of its files is let go (and with the last, the service).
            self.files.retain(|_, t| {
                let keep = t.origin.service != origin.service;
                if !keep {
                    out.push(Chunk {
                        origin: t.origin.clone(),
                        body: Body::Vanished,
                    });
                }
                keep
            });
        }
    }

    /// At the end of input (`--once`): unterminated last lines of tails.
    pub fn finish(&mut self, out: &mut Vec<Chunk>) {
        let mut bodies = Vec::new();
        for tracked in self.files.values_mut() {
            if let Reader::Tail(t) = &mut tracked.reader {
                t.finish(&mut bodies);
            }
            out.extend(bodies.drain(..).map(|body| Chunk {
                origin: tracked.origin.clone(),
                body,
            }));
        }
    }
}

impl Source for Follower {
    /// Polls until every file is read to its end, then takes the tails' unterminated last
    /// lines. Nothing found at the path is an error naming it.
    fn read_now(&mut self, sink: &mut dyn FnMut(Chunk)) -> Result<(), ReadError> {
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut found = false;
        loop {
            let more = self.poll(&mut chunks);
            for chunk in chunks.drain(..) {
                found |= chunk.body != Body::Missing;
                sink(chunk);
            }
            if !more {
                break;
            }
        }
        self.finish(&mut chunks);
        chunks.into_iter().for_each(&mut *sink);
        if found {
            Ok(())
        } else {
            Err(ReadError::NothingToRead(self.given.clone()))
        }
    }

    fn run(self: Box<Self>, poll_every: Duration, tx: mpsc::Sender<Chunk>) -> Task {
        Box::pin(run(*self, poll_every, tx))
    }
}

/// Follows `follower` until the receiver of `tx` is dropped: poll on every debounced file
/// event and every `poll_every`.
pub async fn run(mut follower: Follower, poll_every: Duration, tx: mpsc::Sender<Chunk>) {
    let (wake_tx, mut wake_rx) = mpsc::channel(1);
    let mut watcher = DirWatcher::new(wake_tx);
    let mut tick = tokio::time::interval(poll_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `None` until the first poll; then whether something was found at the path.
    let mut found: Option<bool> = None;
    loop {
        watcher.ensure(&follower.watch_dir());
        let mut chunks = Vec::new();
        let more = follower.poll(&mut chunks);
        let something = chunks.iter().any(|c| c.body != Body::Missing);
        match found {
            None if !something => {
                tracing::warn!(path = %follower.given, "Nothing at {} yet: waiting for it (a wrong path reads as a run that never starts; --exit-after-stop.wait bounds the wait).", follower.given);
                found = Some(false);
            }
            Some(false) if something => {
                tracing::info!(path = %follower.given, "Found {}: following it.", follower.given);
                found = Some(true);
            }
            None => found = Some(true),
            _ => {}
        }
        let read: usize = chunks.iter().map(|c| c.body.weight()).sum();
        for chunk in chunks {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        if read >= POLL_BUDGET / 2 {
            // Much was read: let the ingest task take it before reading more, so what is in
            // flight stays about one budget per follower.
            let deadline = tokio::time::Instant::now() + DRAIN_WAIT;
            while tx.capacity() < tx.max_capacity() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = wake_rx.recv() => {
                tokio::time::sleep(DEBOUNCE).await;
                while wake_rx.try_recv().is_ok() {}
            }
        }
    }
}
