//! JSON lines (or a piped CSV) from standard input. [`LineStream`] frames the bytes into
//! chunks; [`run_stdin`] (live) and [`read_all`] (`--once`) feed it, so both read a stream
//! the same way. EOF ends the source with [`Body::Eof`]; the server keeps serving the final
//! state.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::lines::{LineBatch, LineFramer};
use super::{Body, Chunk, Origin, ReadError, Source, Task};

/// Bytes read from standard input at a time.
pub const READ_BUFFER_BYTES: usize = 256 << 10;

/// Bytes of a stream → chunks of complete lines.
#[derive(Debug)]
pub struct LineStream {
    origin: Arc<Origin>,
    framer: LineFramer,
}

impl LineStream {
    /// A stream from `origin`, nothing read yet.
    pub fn new(origin: Arc<Origin>) -> Self {
        LineStream {
            origin,
            framer: LineFramer::default(),
        }
    }

    fn chunk(&self, body: Body) -> Chunk {
        Chunk {
            origin: self.origin.clone(),
            body,
        }
    }

    /// The complete lines `bytes` finish, if any.
    pub fn push(&mut self, bytes: &[u8]) -> Option<Chunk> {
        let mut batch = LineBatch::default();
        self.framer.push(bytes, &mut batch);
        (!batch.is_empty()).then(|| self.chunk(Body::Lines(batch)))
    }

    /// At EOF: the unterminated last line, if any, then [`Body::Eof`].
    pub fn finish(mut self) -> Vec<Chunk> {
        let mut batch = LineBatch::default();
        self.framer.finish(&mut batch);
        let last = (!batch.is_empty()).then(|| self.chunk(Body::Lines(batch)));
        last.into_iter().chain([self.chunk(Body::Eof)]).collect()
    }
}

/// Standard input (`--events -`) as a source.
pub struct Stdin {
    origin: Arc<Origin>,
}

impl Stdin {
    /// Standard input feeding `origin`'s service.
    pub fn new(origin: Arc<Origin>) -> Self {
        Stdin { origin }
    }
}

impl Source for Stdin {
    /// Reads to EOF; an empty standard input is an error.
    fn read_now(&mut self, sink: &mut dyn FnMut(Chunk)) -> Result<(), ReadError> {
        let read =
            read_all(self.origin.clone(), std::io::stdin().lock(), sink).map_err(|source| {
                ReadError::Io {
                    what: "reading standard input".into(),
                    source,
                }
            })?;
        if read == 0 {
            return Err(ReadError::NothingToRead(
                "standard input (it was empty)".into(),
            ));
        }
        Ok(())
    }

    fn run(self: Box<Self>, _poll_every: Duration, tx: mpsc::Sender<Chunk>) -> Task {
        Box::pin(run_stdin(self.origin, tx))
    }
}

/// Reads standard input until EOF, sending complete lines, then [`Body::Eof`].
pub async fn run_stdin(origin: Arc<Origin>, tx: mpsc::Sender<Chunk>) {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let mut stream = LineStream::new(origin);
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(source = %stream.origin.source, error = %e, "Reading standard input failed; ending this source.");
                break;
            }
        };
        if let Some(chunk) = stream.push(&buf[..n]) {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    }
    tracing::info!(source = %stream.origin.source, "Standard input ended; its final values stay served.");
    for chunk in stream.finish() {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
}

/// Reads all of `reader` (for `--once`), handing each chunk to `sink`: lines, then
/// [`Body::Eof`]. Returns the number of bytes read.
pub fn read_all(
    origin: Arc<Origin>,
    mut reader: impl Read,
    mut sink: impl FnMut(Chunk),
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let mut stream = LineStream::new(origin);
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if let Some(chunk) = stream.push(&buf[..n]) {
            sink(chunk);
        }
    }
    stream.finish().into_iter().for_each(sink);
    Ok(total)
}
