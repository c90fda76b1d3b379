//! Listeners: the accept loop ([`server`]), each connection's watchdog and the slot
//! discipline ([`watch`]), response bodies as sent ([`body`]), TLS ([`tls`]), basic auth
//! ([`auth`]), the exporter-toolkit web config that sets them ([`web_config`]), the limits
//! ([`limits`]), and the clients refused, dropped or denied ([`client_errors`]). Infrastructure below both
//! the inputs and the outputs: the `/metrics` listener (`crate::output::http`) and the OTLP
//! receiver (`crate::source::otlp`) are each a [`server::Handler`] it serves.

pub mod auth;
pub mod body;
pub mod client_errors;
pub mod limits;
pub mod server;
pub mod tls;
pub mod watch;
pub mod web_config;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::support::Task;
use limits::Limits;
use server::Handler;

/// A listener the app binds: where, what serves it, and what the log says once it listens.
/// The app binds every listener (`--web.listen-address`, an input's) in one loop and
/// serves them alike.
pub struct Listener {
    /// The address to bind.
    pub address: SocketAddr,
    /// As typed (for messages).
    pub text: String,
    /// Logged once it listens (`Listening.`, `Receiving OTLP (gRPC and HTTP).`).
    pub what: &'static str,
    /// The metrics path it serves, logged with it (`--web.telemetry-path`), if it serves
    /// metrics.
    pub telemetry_path: Option<String>,
    /// What serves its requests.
    pub handler: Arc<dyn Listening>,
}

/// A [`Handler`] as one type a list of listeners can hold (every handler is one).
pub trait Listening: Send + Sync + 'static {
    /// Serves on `listener` until `shutdown` completes ([`server::serve`]).
    fn serve_on(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        limits: Limits,
        shutdown: Task,
    ) -> Task;

    /// True when HTTP/2 is offered over TLS whatever the web config says (gRPC needs it).
    fn needs_h2(&self) -> bool;
}

impl<H: Handler> Listening for H {
    fn serve_on(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        limits: Limits,
        shutdown: Task,
    ) -> Task {
        Box::pin(server::serve(listener, self, tls, limits, shutdown))
    }

    fn needs_h2(&self) -> bool {
        Handler::h2c(self)
    }
}
