//! The accept loop and connection discipline: [`super::handle`] served by hyper on connections
//! we accept ourselves, plain or TLS, so that every limit is ours to set.
//!
//! * At most [`Limits::max_connections`] at once. When all are taken, a new connection
//!   takes the slot of the kept-alive connection idle the longest (closed, counted as
//!   `evicted`), or of one that has sent nothing for [`SILENT_GRACE`]; when none is idle it
//!   is answered `503` at once and closed (counted as `refused`). So idle keep-alives can
//!   never hold every slot against honest scrapers.
//! * Each connection has a watchdog ([`Watch`]): the request head must arrive within
//!   `read_header_timeout` (from connect, or, on HTTP/1.1, from the first byte of a following
//!   request; an HTTP/2 connection's frames after its first request arm no header clock), a
//!   kept-alive connection with no traffic is closed after `idle_timeout`, and a client
//!   that does not take its response for `send_timeout` is dropped: a TCP write waiting
//!   that long, or a response body not polled for that long (an HTTP/2 stream stalled by a
//!   zero flow-control window writes nothing and blocks no TCP write, but its body is not
//!   polled). A response sends a shared, already rendered body in [`CHUNK`] slices, never
//!   a copy of it; the bytes bodies hold are budgeted by [`super::cache`].
//! * HTTP/1.1 on plain TCP; over TLS, HTTP/2 too (ALPN, unless `http_server_config.http2`
//!   is false) with at most [`MAX_H2_STREAMS`] concurrent streams per connection.
//! * On shutdown, connections are asked to finish and given `shutdown_timeout`; then the
//!   server returns whatever clients do.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::client_errors::{ClientError, HttpStats};
use super::HttpState;

/// What a listener serves: one function from a request to its response, and the counters
/// its client errors go to. [`HttpState`] (`/metrics` and the rest) is one; the OTLP
/// receiver is another.
pub trait Handler: Send + Sync + 'static {
    /// The response body.
    type Body: Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Unpin
        + 'static;

    /// The response to `req` from `peer`.
    fn call(
        self: Arc<Self>,
        req: hyper::Request<Incoming>,
        peer: Option<std::net::IpAddr>,
    ) -> impl Future<Output = hyper::Response<Self::Body>> + Send;

    /// Where refused, dropped and denied clients are counted.
    fn stats(&self) -> &HttpStats;

    /// True to serve HTTP/2 with prior knowledge (h2c, gRPC's cleartext) beside HTTP/1.1
    /// on plain TCP, told apart by the connection preface.
    fn h2c(&self) -> bool {
        false
    }
}

impl Handler for HttpState {
    type Body = Chunked;

    async fn call(
        self: Arc<Self>,
        req: hyper::Request<Incoming>,
        peer: Option<std::net::IpAddr>,
    ) -> hyper::Response<Chunked> {
        super::handle(req, self, peer).await.map(Chunked)
    }

    fn stats(&self) -> &HttpStats {
        &self.stats
    }
}

/// Concurrent HTTP/2 streams per connection.
pub const MAX_H2_STREAMS: u32 = 8;
/// Largest request head accepted (HTTP/1.1 read buffer).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// After a failed `accept()` (e.g. out of file descriptors), wait this long before the next.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How often a connection's watchdog looks at its deadlines.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// A connection that has sent nothing for this long may lose its slot to a new one.
pub const SILENT_GRACE: Duration = Duration::from_secs(1);
/// Bytes of a response body handed to the connection at a time.
pub const CHUNK: usize = 16 << 10;
/// Time allowed to write the `503` to a refused connection.
const REFUSE_WRITE: Duration = Duration::from_secs(1);

/// Connection limits and timeouts (`--web.*` flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `--web.max-connections`.
    pub max_connections: usize,
    /// `--web.read-header-timeout`.
    pub read_header_timeout: Duration,
    /// `--web.idle-timeout`.
    pub idle_timeout: Duration,
    /// `--web.send-timeout`.
    pub send_timeout: Duration,
    /// `--web.shutdown-timeout`.
    pub shutdown_timeout: Duration,
    /// `--web.max-response-bytes`.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(3),
            max_response_bytes: super::cache::DEFAULT_BUDGET,
        }
    }
}

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
    multiplexed: AtomicBool,
    /// Asked to give its slot to a new connection.
    evicted: AtomicBool,
    evict: Notify,
}

const NONE: u64 = u64::MAX;

impl Watch {
    fn new() -> Self {
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
    fn start_request(self: &Arc<Self>) -> InFlight {
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
    fn expired(&self, limits: &Limits) -> Option<ClientError> {
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
    io: T,
    watch: Arc<Watch>,
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
    fn progress(&self) {
        self.0.send_progress.store(self.0.now(), Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A shared rendered body handed over in [`CHUNK`] slices, never copied.
pub struct Chunked(pub Bytes);

impl Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.0.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.0.len().min(CHUNK);
        Poll::Ready(Some(Ok(Frame::data(this.0.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.len() as u64)
    }
}

/// A response body on its way: each frame polled tells the watchdog the client is taking it.
pub struct Sending<B> {
    rest: B,
    request: InFlight,
}

impl<B: Body + Unpin> Body for Sending<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.rest).poll_frame(cx);
        if let Poll::Ready(Some(_)) = &polled {
            this.request.progress();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.rest.size_hint()
    }
}

/// The open connections of one listener, for the slot discipline.
#[derive(Default)]
struct Conns {
    open: Mutex<HashMap<u64, Arc<Watch>>>,
    next: AtomicU64,
}

/// A connection's slot, given back when dropped.
struct Slot {
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

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// A slot for `watch`'s connection, evicting an idle or silent one when all `max` are
    /// taken; `None` when none can go (the new one is refused). The second value says
    /// whether one was evicted.
    fn admit(self: &Arc<Self>, watch: &Arc<Watch>, max: usize) -> Option<(Slot, bool)> {
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

/// Serves `state` on `listener` until `shutdown` completes, over TLS when `tls` is given.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    state: Arc<H>,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let conns = Arc::new(Conns::default());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::debug!(error = %e, "Accepting a connection failed.");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let watch = Arc::new(Watch::new());
        let Some((slot, evicted)) = conns.admit(&watch, limits.max_connections) else {
            state.stats().count(ClientError::Refused);
            tokio::spawn(refuse(tcp));
            continue;
        };
        if evicted {
            state.stats().count(ClientError::Evicted);
        }
        let (handler, on_conn) = (state.clone(), watch.clone());
        let peer = Some(peer.ip());
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let request = on_conn.start_request();
            let state = handler.clone();
            async move {
                let response = state.call(req, peer).await;
                Ok::<_, Infallible>(response.map(|body| Sending {
                    rest: body,
                    request,
                }))
            }
        });
        let (tls, state) = (tls.clone(), state.clone());
        let guard = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tcp.set_nodelay(true);
            let io = Watched {
                io: tcp,
                watch: watch.clone(),
            };
            let outcome = match tls {
                None => {
                    let h2 = state.h2c() && h2_preface(&io.io, limits.read_header_timeout).await;
                    watch.multiplexed.store(h2, Ordering::Relaxed);
                    let b = builder(h2);
                    let conn = b.serve_connection(TokioIo::new(io), service);
                    supervise(guard.watch(conn.into_owned()), &watch, &limits).await
                }
                Some(acceptor) => {
                    // A TLS client starts with a handshake record (0x16); anything else is
                    // plain HTTP to the TLS port, answered as Go's server answers it.
                    let mut first = [0u8; 1];
                    let peeked =
                        tokio::time::timeout(limits.read_header_timeout, io.io.peek(&mut first))
                            .await;
                    let plain = matches!(peeked, Ok(Ok(1))) && first[0] != 0x16;
                    if plain {
                        plain_http_to_tls(io.io).await;
                        return_early(&*state, ClientError::Protocol);
                        return;
                    }
                    let handshake =
                        tokio::time::timeout(limits.read_header_timeout, acceptor.accept(io));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                            watch.multiplexed.store(h2, Ordering::Relaxed);
                            let b = builder(h2);
                            let conn = b.serve_connection(TokioIo::new(stream), service);
                            supervise(guard.watch(conn.into_owned()), &watch, &limits).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed.");
                            Err(ClientError::TlsHandshake)
                        }
                        Err(_) => Err(ClientError::TlsHandshake),
                    }
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(reason = e.as_str(), "Dropped an HTTP client.");
                state.stats().count(e);
            }
        });
    }
    drop(listener);
    let open = conns.len();
    if open > 0 {
        tracing::debug!(open, "Waiting for connections to finish.");
    }
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        let left = conns.len();
        for _ in 0..left {
            state.stats().count(ClientError::Shutdown);
        }
        tracing::info!(
            connections = left,
            "Clients still connected after --web.shutdown-timeout; closing them."
        );
    }
}

/// A connection builder: HTTP/1.1, or HTTP/2 when TLS negotiated it.
fn builder(h2: bool) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .keep_alive(true);
    b.http2().max_concurrent_streams(MAX_H2_STREAMS);
    if h2 {
        b.http2_only()
    } else {
        b.http1_only()
    }
}

/// Runs `conn` until it ends or its watchdog expires.
async fn supervise<E: std::fmt::Display>(
    conn: impl Future<Output = Result<(), E>>,
    watch: &Watch,
    limits: &Limits,
) -> Result<(), ClientError> {
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            () = watch.evict.notified() => return Ok(()),
            result = &mut conn => {
                return result.map_err(|e| {
                    tracing::debug!(error = %e, "HTTP connection error.");
                    ClientError::Protocol
                });
            }
            _ = tick.tick() => {
                if let Some(why) = watch.expired(limits) {
                    return Err(why);
                }
            }
        }
    }
}

/// Counts a client dropped before it was served.
fn return_early<H: Handler>(state: &H, e: ClientError) {
    tracing::debug!(reason = e.as_str(), "Dropped an HTTP client.");
    state.stats().count(e);
}

/// True when the connection starts with HTTP/2's preface (`PRI * HTTP/2.0`), read without
/// consuming it: a client with prior knowledge (gRPC without TLS). Waits at most `timeout`
/// for the first bytes; anything else is HTTP/1.1.
async fn h2_preface(tcp: &TcpStream, timeout: Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; PREFACE.len()];
    // Bounded: each round waits for more bytes than the last, and the deadline ends it.
    for _ in 0..PREFACE.len() {
        let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.peek(&mut buf)).await else {
            return false;
        };
        if n == 0 || buf[..n] != PREFACE[..n] {
            return false;
        }
        if n == PREFACE.len() {
            return true;
        }
        // Part of the preface is in: wait for the rest to arrive.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// Plain HTTP sent to the TLS port: `400`, as the exporter toolkit (Go's server) answers.
/// The request already sent is read first (a little, briefly): closing with unread bytes
/// would reset the connection before the client reads the answer.
async fn plain_http_to_tls(mut tcp: TcpStream) {
    const PLAIN: &[u8] =
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut sink)).await;
    let _ = tokio::time::timeout(REFUSE_WRITE, async {
        tcp.write_all(PLAIN).await?;
        tcp.shutdown().await
    })
    .await;
}

async fn refuse(mut tcp: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 34\r\nRetry-After: 1\r\nConnection: close\r\n\r\nToo many connections; try again.\n";
    let _ = tokio::time::timeout(REFUSE_WRITE, async {
        tcp.write_all(BUSY).await?;
        tcp.shutdown().await
    })
    .await;
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
