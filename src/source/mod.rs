//! I/O shells that speak bytes. They know paths, offsets, inodes and file roles, and nothing
//! of Locust's semantics beyond which file is which: they never parse and never learn why a
//! parse failed. A rejected (torn) snapshot is simply read again on the next change or tick.
//!
//! Every input is a [`Source`]: built once from the configuration (`app::sources`), read
//! to its end by `--once` ([`Source::read_now`]) or run as a task by the server
//! ([`Source::run`]). Each running source sends [`Chunk`]s on a bounded channel to the
//! ingest task (backpressure, never drops). The kinds: followed files ([`follow`]),
//! standard input ([`stdin`]), a polled web UI ([`webui`]) and the OTLP receiver
//! ([`otlp`]: a source that listens, [`Source::listener`]; the app binds it with the
//! other listeners, and its handler, which must answer its client, maps each request
//! itself and sends the updates as [`Body::Updates`]).

pub mod discover;
pub mod follow;
pub mod lines;
pub mod otlp;
pub mod prometheus;
pub mod rewritten;
pub mod stdin;
pub mod tail;
pub mod watch;
pub mod webui;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;

use lines::LineBatch;

use crate::model::update::Update;
use crate::parse::FileRole;
use crate::serve::client_errors::HttpStats;
use crate::serve::Listener;
use crate::support::report::SelfMetrics;
pub use crate::support::Task;

/// One input.
pub trait Source: Send {
    /// `--once`: reads everything there is now, handing each chunk to `sink` in order.
    fn read_now(&mut self, sink: &mut dyn FnMut(Chunk)) -> Result<(), ReadError>;

    /// The live source: reads (or polls every `poll_every`) until its input ends or the
    /// receiver of `tx` is gone.
    fn run(self: Box<Self>, poll_every: Duration, tx: mpsc::Sender<Chunk>) -> Task;

    /// A source its clients send to (the OTLP receiver): the listener the app binds and
    /// serves with the others, made once before [`Source::run`]. `None` for the sources
    /// that read or poll.
    fn listener(&mut self, _ctx: &ListenContext) -> Option<Listener> {
        None
    }

    /// The source's own counters, served with the self-metrics (after
    /// [`Source::listener`]).
    fn self_metrics(&self) -> Option<Arc<dyn SelfMetrics>> {
        None
    }
}

/// What a listening source's handler gets from the app: the ingest task's channel, and the
/// web config's users and the client-error counters every listener shares.
#[derive(Clone)]
pub struct ListenContext {
    /// Where its chunks go.
    pub tx: mpsc::Sender<Chunk>,
    /// `basic_auth_users` of `--web.config.file` (user → bcrypt hash); each listener
    /// checks them with its own [`crate::serve::auth::Auth`].
    pub users: BTreeMap<String, String>,
    /// Clients refused, dropped or denied.
    pub stats: Arc<HttpStats>,
    /// The wall clock, Unix seconds (the app hands over the crate's one reading of it).
    pub clock: fn() -> f64,
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
    /// The source is let go (a `--csv` prefix gone from its directory for
    /// [`follow::VANISHED_AFTER`], an OTLP service idle for 15 minutes); its service too once
    /// no other source feeds it.
    Vanished,
    /// Updates a listening source mapped from one request for the origin's service (an
    /// OTLP export), with how many of their times were clamped to now.
    Updates(Vec<Update<'static>>, u64),
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
