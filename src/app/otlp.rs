//! The OTLP receiver's listener: [`Receiver`] behind the web config's basic auth, served by
//! the same accept loop, limits and TLS as `/metrics` (with HTTP/2 always offered, since
//! gRPC needs it, and h2c on plain TCP).

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response};
use tonic::body::Body;

use crate::output::http::auth::Auth;
use crate::output::http::client_errors::HttpStats;
use crate::output::http::gate;
use crate::output::http::server::Handler;
use crate::source::otlp::Receiver;

/// The receiver as a listener's handler.
pub struct OtlpListener {
    /// Where requests go once let through.
    pub receiver: Arc<Receiver>,
    /// `basic_auth_users` of `--web.config.file`.
    pub auth: Auth,
    /// Clients refused, dropped or denied on this listener.
    pub stats: Arc<HttpStats>,
}

impl Handler for OtlpListener {
    type Body = Body;

    async fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: Option<std::net::IpAddr>,
    ) -> Response<Body> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(denied) = gate(&self.auth, &self.stats, authorization, peer).await {
            return denied.map(|b| Body::new(Full::new(b)));
        }
        self.receiver.clone().handle(req).await
    }

    fn stats(&self) -> &HttpStats {
        &self.stats
    }

    fn h2c(&self) -> bool {
        true
    }
}
