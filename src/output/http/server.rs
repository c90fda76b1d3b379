//! The accept loop and connection discipline: [`super::handle`] served by hyper on connections
//! we accept ourselves, plain or TLS, so that every limit is ours to set.
//!
//! * At most [`Limits::max_connections`] at once; one more is answered `503` at once and
//!   closed (counted as `refused`).
//! * Each connection has a watchdog ([`Watch`]): the request head must arrive within
//!   `read_header_timeout` (from connect, or from the first byte of a following request),
//!   a kept-alive connection with no traffic is closed after `idle_timeout`, and a client
//!   that does not read its response for `send_timeout` is dropped. A slow client holds a
//!   reference to a shared, already rendered body, never a copy of it.
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
use hyper::service::{service_fn, Service};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::client_errors::ClientError;
use super::HttpState;

/// Concurrent HTTP/2 streams per connection.
pub const MAX_H2_STREAMS: u32 = 8;
/// Largest request head accepted (HTTP/1.1 read buffer).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// After a failed `accept()` (e.g. out of file descriptors), wait this long before the next.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How often a connection's watchdog looks at its deadlines.
const WATCH_EVERY: Duration = Duration::from_millis(250);
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(3),
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
}

const NONE: u64 = u64::MAX;

impl Watch {
    fn new() -> Self {
        Watch {
            start: Instant::now(),
            head_since: AtomicU64::new(0),
            last_io: AtomicU64::new(0),
            blocked_since: AtomicU64::new(NONE),
        }
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
            // The first bytes of a new request start its head's clock.
            let _ =
                self.head_since
                    .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
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
        ) {
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

/// The hyper service: tells the watchdog a request's head is in, then runs [`super::handle`].
#[derive(Clone)]
struct Hooked<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S: Service<hyper::Request<Incoming>>> Service<hyper::Request<Incoming>> for Hooked<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.watch.request_started();
        self.inner.call(req)
    }
}

/// Serves `state` on `listener` until `shutdown` completes, over TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let handler = state.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let state = handler.clone();
        async move { Ok::<_, std::convert::Infallible>(super::handle(req, state).await) }
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::debug!(error = %e, "Accepting a connection failed.");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            state.stats.count(ClientError::Refused);
            tokio::spawn(refuse(tcp));
            continue;
        };
        let watch = Arc::new(Watch::new());
        let service = Hooked {
            inner: service.clone(),
            watch: watch.clone(),
        };
        let (tls, state) = (tls.clone(), state.clone());
        let guard = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            let io = Watched {
                io: tcp,
                watch: watch.clone(),
            };
            let outcome = match tls {
                None => {
                    let b = builder(false);
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
                        return_early(&state, ClientError::Protocol);
                        return;
                    }
                    let handshake =
                        tokio::time::timeout(limits.read_header_timeout, acceptor.accept(io));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
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
                state.stats.count(e);
            }
        });
    }
    drop(listener);
    let open = limits.max_connections - slots.available_permits();
    if open > 0 {
        tracing::debug!(open, "Waiting for connections to finish.");
    }
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        let left = limits.max_connections - slots.available_permits();
        for _ in 0..left {
            state.stats.count(ClientError::Shutdown);
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

/// Answers a connection over the limit with a `503` and closes it.
/// Counts a client dropped before it was served.
fn return_early(state: &HttpState, e: ClientError) {
    tracing::debug!(reason = e.as_str(), "Dropped an HTTP client.");
    state.stats.count(e);
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
