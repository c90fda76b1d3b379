//! The accept loop and connection discipline: a [`Handler`] (the `/metrics` listener, the
//! OTLP receiver) served by hyper on connections we accept ourselves, plain or TLS, so that
//! every limit is ours to set.
//!
//! * At most [`Limits::max_connections`] at once. When all are taken, a new connection
//!   takes the slot of the kept-alive connection idle the longest (closed, counted as
//!   `evicted`), or of one that has sent nothing for [`super::watch::SILENT_GRACE`]; when none is idle it
//!   is answered `503` at once and closed (counted as `refused`). So idle keep-alives can
//!   never hold every slot against honest scrapers.
//! * Each connection has a watchdog ([`Watch`]): the request head must arrive within
//!   `read_header_timeout` (from connect, or, on HTTP/1.1, from the first byte of a following
//!   request; an HTTP/2 connection's frames after its first request arm no header clock), a
//!   kept-alive connection with no traffic is closed after `idle_timeout`, and a client
//!   that does not take its response for `send_timeout` is dropped: a TCP write waiting
//!   that long, or a response body not polled for that long (an HTTP/2 stream stalled by a
//!   zero flow-control window writes nothing and blocks no TCP write, but its body is not
//!   polled). A response sends a shared, already rendered body in [`super::body::CHUNK`] slices, never
//!   a copy of it; the bytes bodies hold are budgeted by the `/metrics` listener's render cache.
//! * HTTP/1.1 on plain TCP; over TLS, HTTP/2 too (ALPN, unless `http_server_config.http2`
//!   is false) with at most [`MAX_H2_STREAMS`] concurrent streams per connection.
//! * On shutdown, connections are asked to finish and given `shutdown_timeout`; then the
//!   server returns whatever clients do.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use bytes::Bytes;
use hyper::body::Body;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::body::Sending;
use super::client_errors::{ClientError, HttpStats};
pub use super::limits::{Limits, DEFAULT_MAX_RESPONSE_BYTES};
use super::watch::{Conns, Watch, Watched};

/// What a listener serves: one function from a request to its response, and the counters
/// its client errors go to. The `/metrics` listener (`crate::output::http::HttpState`) is
/// one; the OTLP receiver is another.
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
                Ok::<_, Infallible>(response.map(|body| Sending::new(body, request)))
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
