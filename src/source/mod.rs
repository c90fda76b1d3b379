//! I/O shells that speak bytes. They know paths, offsets, inodes and file roles, and nothing
//! of Locust's semantics beyond which file is which: they never parse and never learn why a
//! parse failed. A rejected (torn) snapshot is simply read again on the next change or tick.
//!
//! Every input is a [`Source`]: built once from the configuration (`app::sources`), read
//! to its end by `--once` ([`Source::read_now`]) or run as a task by the server
//! ([`Source::run`]). Each running source sends [`Chunk`]s on a bounded channel to the
//! ingest task (backpressure, never drops). The kinds: followed files ([`follow`]),
//! standard input ([`stdin`]), a polled web UI ([`webui`]) and the OTLP receiver
//! ([`otlp`], a server the app wires to its own listener; it waits for the ingest task's
//! answer to each request).

pub mod discover;
pub mod follow;
pub mod lines;
pub mod otlp;
pub mod rewritten;
pub mod stdin;
pub mod tail;
pub mod watch;
pub mod webui;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use lines::LineBatch;

use crate::parse::otlp::{Encoding, Invalid, Signal};
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
    /// An OTLP export request, received whole (decompressed, within the size limit).
    Otlp(OtlpRequest),
}

/// An OTLP export request for the ingest task, and where it says how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpRequest {
    /// What it carries.
    pub signal: Signal,
    /// How it is encoded.
    pub encoding: Encoding,
    /// The message (one protobuf message or JSON document).
    pub body: bytes::Bytes,
    /// Answered once it is applied.
    pub reply: Reply,
}

/// How an OTLP export request went: counts of what it held, or why it was refused whole.
pub type Outcome = Result<Counted, Invalid>;

/// What an applied OTLP export request held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counted {
    /// Data points, spans or log records used.
    pub accepted: u64,
    /// Those read and ignored.
    pub ignored: u64,
    /// Points not newer than their stream's last (retries, duplicates, reordering): dropped.
    pub stale: u64,
    /// Those rejected.
    pub rejected: u64,
    /// Why the first rejected one was.
    pub reason: Option<String>,
}

/// The one-shot answer channel of an [`OtlpRequest`] (shared so the chunk stays `Clone`;
/// the first answer wins).
#[derive(Debug, Clone)]
pub struct Reply(Arc<Mutex<Option<oneshot::Sender<Outcome>>>>);

impl Reply {
    /// A reply and the receiver its answer arrives on.
    pub fn new() -> (Reply, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        (Reply(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    /// Answers (once; later answers and a gone receiver are ignored).
    pub fn send(&self, outcome: Outcome) {
        let tx = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(tx) = tx {
            let _ = tx.send(outcome);
        }
    }
}

impl PartialEq for Reply {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Body {
    /// Bytes it carries (what read budgets count).
    pub fn weight(&self) -> usize {
        match self {
            Body::Whole(bytes) => bytes.len(),
            Body::Lines(batch) => batch.text.len(),
            Body::Otlp(req) => req.body.len(),
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
