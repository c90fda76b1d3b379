//! The follower of one `--csv` or `--events` argument: discovers its files, reads each with
//! the right reader ([`RewrittenFile`] or [`FileTail`]) and turns what it saw into [`Chunk`]s.
//!
//! [`Follower::poll`] is synchronous (it is what `--once` calls); [`run`] is the small
//! async loop around it: wait for a file event (debounced) or the poll tick, poll, send.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
}

impl Follower {
    /// Follows a `--csv` PATH.
    pub fn csv(path: CsvPath) -> Self {
        Follower {
            given: path.given(),
            paths: Paths::Csv(path),
            files: BTreeMap::new(),
        }
    }

    /// Follows an `--events` file like `tail -F` (appends, truncation, replacement), or
    /// every file of a directory or glob, now and later.
    pub fn events(service: String, path: PathBuf) -> Self {
        Follower {
            given: path.display().to_string(),
            paths: Paths::Events(EventsPath::new(path, service)),
            files: BTreeMap::new(),
        }
    }

    /// The directory to watch for wake-ups.
    pub fn watch_dir(&self) -> PathBuf {
        match &self.paths {
            Paths::Csv(p) => p.watch_dir(),
            Paths::Events(p) => p.watch_dir(),
        }
    }

    /// Discovers files and reads what changed. Returns true if a tail has more to read now.
    pub fn poll(&mut self, out: &mut Vec<Chunk>) -> bool {
        let targets = match &mut self.paths {
            Paths::Csv(p) => p.targets(),
            Paths::Events(p) => p.targets(),
        };
        let listed: std::collections::BTreeSet<PathBuf> =
            targets.iter().map(|(p, _)| p.clone()).collect();
        for (path, origin) in targets {
            self.files.entry(path.clone()).or_insert_with(|| {
                let reader = if origin.role == FileRole::Final {
                    Reader::Snapshot(RewrittenFile::optional(path))
                } else if origin.role.is_rewritten() {
                    Reader::Snapshot(RewrittenFile::new(path))
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
        let mut more = false;
        let mut bodies = Vec::new();
        for tracked in self.files.values_mut() {
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
            out.extend(bodies.drain(..).map(|body| Chunk {
                origin: tracked.origin.clone(),
                body,
            }));
        }
        // A file of an events directory or glob that is gone, and was read to its end, is
        // let go (its counts stay; a new file at its path is a new source).
        if matches!(&self.paths, Paths::Events(p) if !p.is_single_file()) {
            self.files.retain(|path, t| {
                listed.contains(path) || !matches!(&t.reader, Reader::Tail(tail) if tail.gone())
            });
        }
        more
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
    loop {
        watcher.ensure(&follower.watch_dir());
        let mut chunks = Vec::new();
        let more = follower.poll(&mut chunks);
        for chunk in chunks {
            if tx.send(chunk).await.is_err() {
                return;
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
