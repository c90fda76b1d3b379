//! I/O shells that speak bytes. They know paths, offsets, inodes and file roles, and nothing
//! of Locust's semantics beyond which file is which: they never parse and never learn why a
//! parse failed. A rejected (torn) snapshot is simply read again on the next change or tick.
//!
//! Every input is a [`Source`]: built once from the configuration (`app::sources`), read
//! to its end by `--once` ([`Source::read_now`]) or run as a task by the server
//! ([`Source::run`]). Each running source sends [`Chunk`]s on a bounded channel to the
//! ingest task (backpressure, never drops). The kinds: followed files ([`follow`]),
//! standard input ([`stdin`]) and a polled web UI ([`webui`]).

pub mod discover;
pub mod follow;
pub mod lines;
pub mod rewritten;
pub mod stdin;
pub mod tail;
pub mod watch;
pub mod webui;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;

use lines::LineBatch;

use crate::parse::FileRole;

/// A running source: a future the server spawns.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One input.
pub trait Source: Send {
    /// `--once`: reads everything there is now, handing each chunk to `sink` in order.
    fn read_now(&mut self, sink: &mut dyn FnMut(Chunk)) -> Result<(), ReadError>;

    /// The live source: reads (or polls every `poll_every`) until its input ends or the
    /// receiver of `tx` is gone.
    fn run(self: Box<Self>, poll_every: Duration, tx: mpsc::Sender<Chunk>) -> Task;
}

/// Why `--once` could not read a source.
#[derive(Debug, Error)]
pub enum ReadError {
    /// Nothing was there: no file, an empty standard input, a web UI that did not answer.
    #[error("--once: nothing to read at {0}")]
    NothingToRead(String),
    /// Reading failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Where bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The `service` label the data feeds.
    pub service: String,
    /// What the bytes are (and so how they are parsed).
    pub role: FileRole,
    /// The `source` label: the file path as given, or `stdin`.
    pub source: String,
}

/// What a source saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The whole content of a file rewritten in place (possibly torn, possibly empty).
    Whole(Vec<u8>),
    /// Complete new lines of an appended file or a stream.
    Lines(LineBatch),
    /// The appended file was truncated or replaced: what follows starts from its beginning.
    Reset,
    /// The file is not there (yet, or any more), or cannot be read.
    Missing,
    /// The stream ended (stdin closed).
    Eof,
    /// When the file was last written (its mtime, Unix seconds), with what is read of it
    /// (before a whole read, after appended lines): a run whose files were last written long
    /// ago is not live.
    Written(f64),
    /// Every file of the origin's service has been gone from its `--csv` directory for
    /// [`follow::VANISHED_AFTER`]: the service and its sources are let go.
    Vanished,
}

impl Body {
    /// Bytes it carries (what read budgets count).
    pub fn weight(&self) -> usize {
        match self {
            Body::Whole(bytes) => bytes.len(),
            Body::Lines(batch) => batch.text.len(),
            _ => 0,
        }
    }
}

/// One unit of work for the ingest task.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Where it came from.
    pub origin: Arc<Origin>,
    /// What was seen.
    pub body: Body,
}
