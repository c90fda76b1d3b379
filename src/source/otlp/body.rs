//! Reading a request body within its budgets: a size limit (before and after gzip), a
//! deadline and a minimum rate, and the bytes all bodies may hold at once; and the one
//! message of a unary gRPC body.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;

/// A request body must be read whole within this long (the SDKs' own export timeout is
/// 10 s): past it the request is answered `408` / `DEADLINE_EXCEEDED`.
pub const MAX_READ: Duration = Duration::from_secs(10);
/// After [`READ_GRACE`], a body must keep arriving at this many bytes a second on average
/// (a sender trickling a byte every few seconds is cut off in a few seconds, not ten).
pub const MIN_READ_RATE: f64 = 4096.0;
/// How long a body may take before [`MIN_READ_RATE`] applies.
pub const READ_GRACE: Duration = Duration::from_secs(1);
/// Bytes of request bodies held at once, being read or waiting for a permit: past it a
/// request is answered `503` / `UNAVAILABLE` (exporters retry those), so many senders of
/// large bodies cannot add up memory.
pub const MAX_BODY_BYTES_IN_FLIGHT: usize = 64 << 20;

/// Why a body could not be read.
pub(super) enum Unreadable {
    TooLarge,
    Broken(String),
    TooSlow,
    Busy,
}

/// Bytes of one body counted against [`MAX_BODY_BYTES_IN_FLIGHT`] while it is held.
pub(super) struct Held {
    in_flight: Arc<AtomicUsize>,
    bytes: usize,
}

impl Held {
    /// Counts `n` more bytes; false (nothing counted) past the budget.
    fn add(&mut self, n: usize) -> bool {
        let before = self.in_flight.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > MAX_BODY_BYTES_IN_FLIGHT {
            self.in_flight.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        self.bytes += n;
        true
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Reads a body of at most `limit` bytes within [`MAX_READ`] and [`MIN_READ_RATE`],
/// its bytes counted against [`MAX_BODY_BYTES_IN_FLIGHT`] until the returned guard drops.
pub(super) async fn read<B>(
    body: B,
    limit: usize,
    in_flight: &Arc<AtomicUsize>,
) -> Result<(Bytes, Held), Unreadable>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut held = Held {
        in_flight: in_flight.clone(),
        bytes: 0,
    };
    let start = tokio::time::Instant::now();
    let mut body = body;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    loop {
        // The next frame is due while the body keeps the minimum rate, and within the
        // whole deadline.
        let due = READ_GRACE.as_secs_f64() + (total as f64 + 1.0) / MIN_READ_RATE;
        let due = start + Duration::from_secs_f64(due).min(MAX_READ);
        let frame = match tokio::time::timeout_at(due, body.frame()).await {
            Err(_) => return Err(Unreadable::TooSlow),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(Unreadable::Broken(format!(
                    "the request body could not be read: {e}"
                )))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(Unreadable::TooLarge);
        }
        if !held.add(data.len()) {
            return Err(Unreadable::Busy);
        }
        chunks.push(data);
    }
    let bytes = if chunks.len() == 1 {
        chunks.pop().unwrap_or_default()
    } else {
        let mut all = Vec::with_capacity(total);
        for c in &chunks {
            all.extend_from_slice(c);
        }
        Bytes::from(all)
    };
    Ok((bytes, held))
}

/// Inflates gzip within `max` bytes: a bomb stops at the limit.
pub(super) fn gunzip(data: &[u8], max: usize) -> Result<Vec<u8>, Unreadable> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    match flate2::read::GzDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
    {
        Ok(_) if out.len() > max => Err(Unreadable::TooLarge),
        Ok(_) => Ok(out),
        Err(e) => Err(Unreadable::Broken(format!("gzip: {e}"))),
    }
}

/// The one message (of at most `max` bytes) of a unary gRPC request body:
/// `(compressed, message)`.
pub(super) fn grpc_message(frame: &Bytes, max: usize) -> Result<(bool, Bytes), Unreadable> {
    let broken = |why: &str| Unreadable::Broken(format!("not one gRPC message: {why}"));
    if frame.len() < 5 {
        return Err(broken("shorter than a frame header"));
    }
    let compressed = match frame[0] {
        0 => false,
        1 => true,
        _ => return Err(broken("an unknown compression flag")),
    };
    let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
    if len > max {
        return Err(Unreadable::TooLarge);
    }
    if frame.len() != len + 5 {
        return Err(broken("its length does not match the body"));
    }
    Ok((compressed, frame.slice(5..)))
}
