//! JSON lines (or a piped CSV history) from standard input. EOF ends the source with
//! [`Body::Eof`]; the server keeps serving the final state.

use std::io::Read;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::lines::{LineBatch, LineFramer};
use super::{Body, Chunk, Origin};

/// Bytes read from standard input at a time.
pub const READ_BUFFER_BYTES: usize = 256 << 10;

/// Reads standard input until EOF, sending complete lines, then [`Body::Eof`].
pub async fn run_stdin(origin: Arc<Origin>, tx: mpsc::Sender<Chunk>) {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let mut framer = LineFramer::default();
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(source = %origin.source, error = %e, "Reading standard input failed; ending this source.");
                break;
            }
        };
        let mut batch = LineBatch::default();
        framer.push(&buf[..n], &mut batch);
        if !batch.is_empty() {
            let chunk = Chunk {
                origin: origin.clone(),
                body: Body::Lines(batch),
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    }
    let mut batch = LineBatch::default();
    framer.finish(&mut batch);
    if !batch.is_empty() {
        let _ = tx
            .send(Chunk {
                origin: origin.clone(),
                body: Body::Lines(batch),
            })
            .await;
    }
    let _ = tx
        .send(Chunk {
            origin,
            body: Body::Eof,
        })
        .await;
}

/// Reads all of `reader` (for `--once`), handing each chunk to `sink`: lines, then [`Body::Eof`].
pub fn read_all(
    origin: &Arc<Origin>,
    mut reader: impl Read,
    mut sink: impl FnMut(Chunk),
) -> std::io::Result<()> {
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let mut framer = LineFramer::default();
    loop {
        let n = reader.read(&mut buf)?;
        let mut batch = LineBatch::default();
        if n == 0 {
            framer.finish(&mut batch);
        } else {
            framer.push(&buf[..n], &mut batch);
        }
        if !batch.is_empty() {
            sink(Chunk {
                origin: origin.clone(),
                body: Body::Lines(batch),
            });
        }
        if n == 0 {
            break;
        }
    }
    sink(Chunk {
        origin: origin.clone(),
        body: Body::Eof,
    });
    Ok(())
}
