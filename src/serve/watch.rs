//! Each connection's watchdog ([`Watch`]: when its head, its idleness and its sending are
//! due, fed by the bytes that pass [`Watched`]) and the slot discipline of one listener's
//! connections (`Conns`: who gives up a slot when all are taken).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::client_errors::ClientError;
use super::limits::Limits;

/// A connection that has sent nothing for this long may lose its slot to a new one.
pub const SILENT_GRACE: Duration = Duration::from_secs(1);

/// What a connection's watchdog looks at: milliseconds since the connection started.
#[derive(Debug)]
pub struct Watch {
    start: Instant,
    /// When the request head being read started (`u64::MAX`: not reading a head).
    head_since: AtomicU64,
    /// Last read or write that moved bytes.
    last_io: AtomicU64,
    /// When a write started waiting for the client (`u64::MAX`: not waiting).
    blocked_since: AtomicU64,
    /// Requests being answered: from their head to their body's end.
    in_flight: AtomicU64,
    /// Last time a request started or a response body was polled.
    send_progress: AtomicU64,
    /// Some bytes were read.
    heard: AtomicBool,
    /// HTTP/2: only the first request's head is timed.
    pub(super) multiplexed: AtomicBool,
    /// Asked to give its slot to a new connection.
    evicted: AtomicBool,
    pub(super) evict: Notify,
}

const NONE: u64 = u64::MAX;

impl Watch {
    pub(super) fn new() -> Self {
        Watch {
            start: Instant::now(),
            head_since: AtomicU64::new(0),
            last_io: AtomicU64::new(0),
            blocked_since: AtomicU64::new(NONE),
            in_flight: AtomicU64::new(0),
            send_progress: AtomicU64::new(0),
            heard: AtomicBool::new(false),
            multiplexed: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    /// A request's head is in: it is in flight until its [`InFlight`] is dropped.
    pub(super) fn start_request(self: &Arc<Self>) -> InFlight {
        self.request_started();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.send_progress.store(self.now(), Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Neither reading a request nor answering one.
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_since.load(Ordering::Relaxed) == NONE
    }

    /// Connected for [`SILENT_GRACE`] without a byte.
    fn silent(&self) -> bool {
        !self.heard.load(Ordering::Relaxed) && self.start.elapsed() > SILENT_GRACE
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Relaxed);
        self.evict.notify_one();
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// A request's head has been read: the handler runs.
    fn request_started(&self) {
        self.head_since.store(NONE, Ordering::Relaxed);
    }

    fn read(&self, n: usize) {
        if n > 0 {
            let now = self.now();
            self.last_io.store(now, Ordering::Relaxed);
            self.heard.store(true, Ordering::Relaxed);
            // On HTTP/1.1 the first bytes after a response are a new request: they start
            // its head's clock. On HTTP/2 they may be any frame (WINDOW_UPDATE, PING, …).
            if !self.multiplexed.load(Ordering::Relaxed) {
                let _ = self.head_since.compare_exchange(
                    NONE,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.last_io.store(self.now(), Ordering::Relaxed);
        }
        self.blocked_since.store(NONE, Ordering::Relaxed);
    }

    fn write_blocked(&self) {
        let now = self.now();
        let _ =
            self.blocked_since
                .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Why the connection should be dropped now, if it should.
    pub(super) fn expired(&self, limits: &Limits) -> Option<ClientError> {
        let now = self.now();
        let past = |since: u64, limit: Duration| {
            since != NONE && now.saturating_sub(since) > limit.as_millis() as u64
        };
        if past(
            self.head_since.load(Ordering::Relaxed),
            limits.read_header_timeout,
        ) {
            Some(ClientError::HeaderTimeout)
        } else if past(
            self.blocked_since.load(Ordering::Relaxed),
            limits.send_timeout,
        ) || (self.in_flight.load(Ordering::Relaxed) > 0
            && past(
                self.send_progress.load(Ordering::Relaxed),
                limits.send_timeout,
            ))
        {
            Some(ClientError::SendTimeout)
        } else if past(self.last_io.load(Ordering::Relaxed), limits.idle_timeout) {
            Some(ClientError::IdleTimeout)
        } else {
            None
        }
    }
}

/// An I/O object whose reads and writes report to a [`Watch`].
pub struct Watched<T> {
    pub(super) io: T,
    pub(super) watch: Arc<Watch>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.watch.read(buf.filled().len() - before);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        match &result {
            Poll::Ready(Ok(n)) => self.watch.wrote(*n),
            Poll::Pending => self.watch.write_blocked(),
            Poll::Ready(Err(_)) => {}
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        match &result {
            Poll::Ready(Ok(n)) => self.watch.wrote(*n),
            Poll::Pending => self.watch.write_blocked(),
            Poll::Ready(Err(_)) => {}
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.io).poll_flush(cx);
        if result.is_pending() {
            self.watch.write_blocked();
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request in flight on a connection (its head read, its body not finished).
pub struct InFlight(Arc<Watch>);

impl InFlight {
    pub(super) fn progress(&self) {
        self.0.send_progress.store(self.0.now(), Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The open connections of one listener, for the slot discipline.
#[derive(Default)]
pub(super) struct Conns {
    open: Mutex<HashMap<u64, Arc<Watch>>>,
    next: AtomicU64,
}

/// A connection's slot, given back when dropped.
pub(super) struct Slot {
    conns: Arc<Conns>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.lock().remove(&self.id);
    }
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Watch>>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// A slot for `watch`'s connection, evicting an idle or silent one when all `max` are
    /// taken; `None` when none can go (the new one is refused). The second value says
    /// whether one was evicted.
    pub(super) fn admit(self: &Arc<Self>, watch: &Arc<Watch>, max: usize) -> Option<(Slot, bool)> {
        let mut open = self.lock();
        let staying = open
            .values()
            .filter(|w| !w.evicted.load(Ordering::Relaxed))
            .count();
        let mut evicted = false;
        if staying >= max {
            let candidates = || open.values().filter(|w| !w.evicted.load(Ordering::Relaxed));
            // A kept-alive connection idle the longest; else the oldest one that has sent
            // nothing yet (the grace is waived: connections that stay silent and reconnect
            // at once would otherwise keep every slot young, and honest clients out); a
            // connection that has sent a request keeps its slot.
            let victim = candidates()
                .filter(|w| w.idle())
                .min_by_key(|w| w.last_io.load(Ordering::Relaxed))
                .or_else(|| candidates().find(|w| w.silent()))
                .or_else(|| {
                    candidates()
                        .filter(|w| !w.heard.load(Ordering::Relaxed))
                        .min_by_key(|w| w.start)
                });
            victim?.evict();
            evicted = true;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        open.insert(id, watch.clone());
        Some((
            Slot {
                conns: self.clone(),
                id,
            },
            evicted,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn watchdog_deadlines() {
        let limits = Limits::default();
        let w = Watch::new();
        assert_eq!(w.expired(&limits), None);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(
            w.expired(&limits),
            Some(ClientError::HeaderTimeout),
            "no request head within 10 s of connecting"
        );
        let w = Watch::new();
        w.read(100);
        w.request_started();
        w.wrote(1000);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(w.expired(&limits), None, "idle, but not for long");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(w.expired(&limits), Some(ClientError::IdleTimeout));
        let w = Watch::new();
        w.read(100);
        w.request_started();
        w.write_blocked();
        tokio::time::advance(Duration::from_secs(20)).await;
        w.write_blocked();
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(
            w.expired(&limits),
            Some(ClientError::SendTimeout),
            "blocked since the first Pending"
        );
    }
}
