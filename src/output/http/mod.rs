//! The `/metrics` listener: one hyper service function ([`handle`]) behind
//! [`HttpState`]'s [`Handler`], served by the accept loop of [`crate::serve::server`]. Reads snapshots through a `watch::Receiver` and never writes to the model,
//! so a scrape never blocks ingestion and always serves one consistent snapshot.
//!
//! ## Motivation: hyper without a framework
//! Six fixed routes, each answering `GET`/`HEAD` (or `POST` for quit) behind the same
//! auth, need a method check, a path match and three headers; the accept loop, TLS,
//! timeouts and connection limits are ours ([`crate::serve`]). A framework's router would only
//! wrap that `match`, so the request is read straight from hyper's `Request` and warp is
//! not a dependency.
//!
//! Routes (`GET`, and `HEAD` wherever `GET` is): the telemetry path (default `/metrics`),
//! `/` (landing page), `/report` (the live run report, [`crate::output::report`]),
//! `/-/healthy`, `/-/ready`; and `POST /-/quit` with
//! `--web.enable-lifecycle` (behind the same auth). Every scrape of one published snapshot
//! shares one rendered body per encoding ([`cache`]); basic auth is checked off the async
//! workers with successes cached ([`crate::serve::auth`]); the server's own limits and
//! timeouts are in [`crate::serve::server`].

pub mod cache;
pub mod landing;
pub mod negotiate;

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};
use tokio::sync::watch;

use crate::expose::always::self_metrics::ProcessMetrics;
use crate::expose::{self, Format, Sets};
use crate::model::snapshot::Snapshot;
use crate::output::report;
use crate::serve::auth::{gate, plain, Auth};
use crate::serve::body::Chunked;
use crate::serve::client_errors::HttpStats;
use crate::serve::server::Handler;
use crate::serve::web_config::WebConfig;
use crate::support::report::SelfMetrics;
use cache::{Compression, Page, RenderCache};

/// What the handlers need.
pub struct HttpState {
    /// The latest published snapshot.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--metrics`.
    pub sets: Sets,
    /// `--web.formats`: the formats offered (all by default).
    pub formats: Vec<Format>,
    /// Whose own metrics follow the snapshot's: the process, this server, and whatever
    /// else the wiring adds ([`HttpState::report`]).
    parts: Vec<Arc<dyn SelfMetrics>>,
    /// Basic auth users from `--web.config.file`.
    pub auth: Auth,
    /// `http_server_config.headers`, added to every response.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// One rendering per snapshot and page, within `--web.max-response-bytes`.
    cache: Arc<RenderCache>,
    /// Clients refused, dropped or denied.
    pub stats: Arc<HttpStats>,
    /// `--web.enable-lifecycle`: `POST /-/quit` sets this to true.
    pub quit: Option<watch::Sender<bool>>,
    /// When the state was made: renders are keyed by the snapshot and the second since.
    started: std::time::Instant,
}

/// Sweeps `cache` every half [`cache::KEEP_UNASKED`] for as long as it lives (when a tokio
/// runtime runs: the server's).
fn sweep_while_alive(cache: &Arc<RenderCache>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(cache);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(cache::KEEP_UNASKED / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match weak.upgrade() {
                Some(cache) => cache.sweep(),
                None => return,
            }
        }
    });
}

impl HttpState {
    /// State for `snapshots`, with process metrics and the web config's users and headers;
    /// bodies held by unsent responses may total `response_budget` bytes
    /// (`--web.max-response-bytes`).
    pub fn new(
        snapshots: watch::Receiver<Arc<Snapshot>>,
        telemetry_path: String,
        sets: Sets,
        web: &WebConfig,
        response_budget: usize,
    ) -> Self {
        let headers = web
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        let stats = Arc::new(HttpStats::default());
        let cache = Arc::new(RenderCache::new(response_budget));
        sweep_while_alive(&cache);
        HttpState {
            snapshots,
            telemetry_path,
            sets,
            formats: Format::ALL.to_vec(),
            parts: vec![
                Arc::new(ProcessMetrics::for_self()),
                stats.clone(),
                cache.clone(),
            ],
            auth: Auth::new(web.users.clone()),
            headers,
            cache,
            stats,
            quit: None,
            started: std::time::Instant::now(),
        }
    }

    /// Serves `part`'s own metrics after the others'.
    pub fn report(&mut self, part: Arc<dyn SelfMetrics>) {
        self.parts.push(part);
    }

    /// The exposition of `snap` in `format`, with every part's self-metrics.
    fn render(&self, snap: &Snapshot, format: Format) -> Vec<u8> {
        expose::render_as(format, snap, self.sets, &self.parts)
    }
}

/// One request as the router sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `HEAD`, ….
    pub method: Method,
    /// The path.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `Accept-Encoding` header.
    pub accept_encoding: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The client's address.
    pub peer: Option<std::net::IpAddr>,
    /// `name[]` query parameters: only these families (all when empty).
    pub names: Vec<String>,
}

/// Most `name[]` parameters read from one request.
pub const MAX_NAMES: usize = 64;

/// Percent-decodes a query component (`+` is a space, as HTML forms and Go's `url.Values`
/// encode one); `None` if the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The `name[]` values of a query string (at most [`MAX_NAMES`]), sorted, each once.
pub fn names_asked(query: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| percent_decode(k).is_some_and(|k| k == "name[]"))
        .filter_map(|(_, v)| percent_decode(v))
        .filter(|v| !v.is_empty())
        .take(MAX_NAMES)
        .collect();
    names.sort();
    names.dedup();
    names
}

use negotiate::accepts_gzip;

/// The response to `req`.
pub async fn respond(req: Request, state: Arc<HttpState>) -> Response<Bytes> {
    let mut r = route(&req, &state).await;
    for (k, v) in &state.headers {
        r.headers_mut().insert(k.clone(), v.clone());
    }
    r
}

async fn route(req: &Request, state: &Arc<HttpState>) -> Response<Bytes> {
    let authorization = req.authorization.as_deref();
    if let Some(denied) = gate(&state.auth, &state.stats, authorization, req.peer).await {
        return denied;
    }
    let quit = req.path == "/-/quit";
    let allowed = if quit {
        req.method == Method::POST || req.method == Method::PUT
    } else {
        req.method == Method::GET || req.method == Method::HEAD
    };
    if !allowed {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n");
        let allow = if quit { "POST, PUT" } else { "GET, HEAD" };
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return r;
    }
    if quit {
        return match &state.quit {
            Some(stop) => {
                tracing::info!("Asked to quit (POST /-/quit).");
                let _ = stop.send(true);
                plain(StatusCode::OK, "Requesting termination... Goodbye!\n")
            }
            None => plain(
                StatusCode::FORBIDDEN,
                "Lifecycle API is not enabled (--web.enable-lifecycle).\n",
            ),
        };
    }
    let snap = state.snapshots.borrow().clone();
    match req.path.as_str() {
        p if p == state.telemetry_path => metrics(req, state, snap).await,
        "/" => {
            let path = state.telemetry_path.clone();
            let seq = snap.seq;
            let body = state
                .cache
                .get(seq, Page::Landing, move || {
                    landing::page(&snap, &path).into_bytes()
                })
                .await;
            let mut r = Response::new(body);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        "/report" => {
            let seq = snap.seq;
            let body = state
                .cache
                .get(seq, Page::Report, move || {
                    report::html(&report::Report {
                        snap: &snap,
                        finished: snap.closed,
                        live: true,
                        now: snap.taken_at,
                    })
                    .into_bytes()
                })
                .await;
            let mut r = Response::new(body);
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        "/-/healthy" => plain(StatusCode::OK, "Healthy\n"),
        "/-/ready" if snap.seq > 0 => plain(StatusCode::OK, "Ready\n"),
        "/-/ready" => plain(StatusCode::SERVICE_UNAVAILABLE, "Not ready\n"),
        _ => plain(StatusCode::NOT_FOUND, "Not found\n"),
    }
}

async fn metrics(req: &Request, state: &Arc<HttpState>, snap: Arc<Snapshot>) -> Response<Bytes> {
    let format = negotiate::format(req.accept.as_deref(), &state.formats);
    let compression = if accepts_gzip(req.accept_encoding.as_deref()) {
        Compression::Gzip
    } else {
        Compression::Identity
    };
    let render_state = state.clone();
    // The parts' own metrics (the process, this server, the outputs) move without a new
    // snapshot: a render is reused within the second it was made, never longer.
    let second = state.started.elapsed().as_secs() & 0xff_ffff;
    let seq = (snap.seq << 24 | second).min(u64::MAX - 1);
    let page = Page::Metrics(format, compression);
    let body = if req.names.is_empty() {
        state
            .cache
            .get(seq, page, move || render_state.render(&snap, format))
            .await
    } else {
        let names = req.names.clone();
        let asked = names.clone();
        state
            .cache
            .get_filtered(seq, page, names, move || {
                expose::render_only(
                    format,
                    &snap,
                    render_state.sets,
                    &render_state.parts,
                    &asked,
                )
            })
            .await
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if compression == Compression::Gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

impl Handler for HttpState {
    type Body = Chunked;

    async fn call(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
        peer: Option<std::net::IpAddr>,
    ) -> hyper::Response<Chunked> {
        handle(req, self, peer).await.map(Chunked)
    }

    fn stats(&self) -> &HttpStats {
        &self.stats
    }
}

/// The service function: reads what [`respond`] needs from `req` (a header that is not
/// visible ASCII counts as absent); `HEAD` gets `GET`'s headers and no body (hyper leaves
/// the body out and keeps its length).
pub async fn handle<B>(
    req: hyper::Request<B>,
    state: Arc<HttpState>,
    peer: Option<std::net::IpAddr>,
) -> Response<Bytes> {
    let text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = Request {
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        authorization: text(header::AUTHORIZATION),
        accept_encoding: text(header::ACCEPT_ENCODING),
        accept: text(header::ACCEPT),
        peer,
        names: names_asked(req.uri().query()),
    };
    respond(request, state).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_parameters_as_prometheus_sends_them() {
        assert_eq!(
            names_asked(Some(
                "name%5B%5D=locust_users&name[]=locust_up&x=1&name%5B%5D=locust_users"
            )),
            vec!["locust_up".to_owned(), "locust_users".to_owned()]
        );
        assert_eq!(
            names_asked(Some("name[]=a+b%2Fc")),
            vec!["a b/c".to_owned()]
        );
        assert!(names_asked(None).is_empty());
        assert!(
            names_asked(Some("name[]=&name[]=%ff")).is_empty(),
            "empty and not UTF-8"
        );
        let many: Vec<String> = (0..100).map(|i| format!("name[]=m{i:03}")).collect();
        assert_eq!(names_asked(Some(&many.join("&"))).len(), MAX_NAMES);
        assert_eq!(names_asked(Some("name[]=100%")), vec!["100%".to_owned()]);
    }

    #[test]
    fn a_family_is_kept_by_its_name_or_a_sample_name() {
        use crate::expose::format::encoder::Only;
        use crate::expose::format::text::TextEncoder;
        let names = vec![
            "locust_requests_total".to_owned(),
            "h_seconds_bucket".to_owned(),
        ];
        type O = Only<TextEncoder>;
        assert!(O::keeps(&names, "locust_requests_total"));
        assert!(O::keeps(&names, "h_seconds"));
        assert!(!O::keeps(&names, "locust_users"));
        assert!(O::keeps(
            &["locust_requests".to_owned()],
            "locust_requests_total"
        ));
    }
}
