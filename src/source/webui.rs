//! A running Locust's web UI (`--locust.uri`), polled once per `--poll-interval` (never per
//! scrape): the CSV formats Locust also writes to disk (`/stats/requests/csv`,
//! `/stats/failures/csv`, `/exceptions/csv`, read by the same parsers, so every value is
//! exact) and `/stats/requests` (JSON: the runner's state, users, workers, current rates).
//!
//! Each endpoint is a source of its own; an answer is a [`Body::Whole`], anything else
//! (no answer, a timeout, an error status, a redirect to Locust's login form) a
//! [`Body::Missing`] — the last values stay served — and a warning at most once a minute.

use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use tokio::sync::mpsc;

use crate::support::http_client::HttpClient;

use super::{Body, Chunk, Origin, ReadError, Source, Task};
use crate::parse::FileRole;

/// A failing web UI is logged at most once in this long.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// The endpoints polled, in the order their answers are applied (the stats first, so the
/// status's current rates find their endpoints admitted).
pub const ENDPOINTS: [(FileRole, &str); 4] = [
    (FileRole::Stats, "/stats/requests/csv"),
    (FileRole::Failures, "/stats/failures/csv"),
    (FileRole::Exceptions, "/exceptions/csv"),
    (FileRole::Status, "/stats/requests"),
];

/// One `--locust.uri`.
#[derive(Debug, Clone)]
pub struct WebUi {
    base: String,
    origins: Vec<(Arc<Origin>, String)>,
}

impl WebUi {
    /// The web UI at `base` (`http://host:8089`, a path prefix allowed) feeding `service`.
    pub fn new(base: &str, service: String) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        let origins = ENDPOINTS
            .iter()
            .map(|&(role, path)| {
                let url = format!("{base}{path}");
                let origin = Origin {
                    service: service.clone(),
                    role,
                    source: url.clone(),
                };
                (Arc::new(origin), url)
            })
            .collect();
        WebUi { base, origins }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One poll: every endpoint's answer (fetched at the same time), as chunks in
    /// application order, and the first problem met, if any (for the caller to log).
    pub async fn poll(&self, client: &HttpClient) -> (Vec<Chunk>, Option<String>) {
        let requests: Vec<_> = self
            .origins
            .iter()
            .map(|(origin, url)| {
                let (client, url) = (client.clone(), url.clone());
                (
                    origin.clone(),
                    tokio::spawn(async move { fetch(&client, &url).await }),
                )
            })
            .collect();
        let mut problem = None;
        let mut chunks = Vec::with_capacity(requests.len());
        for (origin, request) in requests {
            let answer = request
                .await
                .unwrap_or_else(|e| Err(format!("the request task failed: {e}")));
            let body = match answer {
                Ok(bytes) => Body::Whole(bytes),
                Err(p) => {
                    problem.get_or_insert(p);
                    Body::Missing
                }
            };
            chunks.push(Chunk { origin, body });
        }
        (chunks, problem)
    }
}

/// GET `url`: its body on a 200, else what went wrong.
async fn fetch(client: &HttpClient, url: &str) -> Result<Vec<u8>, String> {
    let resp = client
        .request(Method::GET, url, &[], bytes::Bytes::new())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let location = resp
        .headers
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match resp.status {
        StatusCode::OK => Ok(resp.body.to_vec()),
        s if s.is_redirection() && location.contains("login") => Err(format!(
            "{url}: Locust answered with a redirect to its login form (--web-login), which locust-exporter cannot fill in; run Locust with --web-auth USER:PASSWORD (basic auth) instead, and give the credentials in --locust.config.file"
        )),
        StatusCode::UNAUTHORIZED => Err(format!(
            "{url}: Locust asks for credentials (--web-auth): give them in --locust.config.file (basic_auth)"
        )),
        s => Err(format!("{url}: HTTP {s}")),
    }
}

/// A web UI and the client that polls it, as a source.
pub struct WebUiSource {
    ui: WebUi,
    client: HttpClient,
}

impl WebUiSource {
    /// Polls `ui` with `client`.
    pub fn new(ui: WebUi, client: HttpClient) -> Self {
        WebUiSource { ui, client }
    }
}

impl Source for WebUiSource {
    /// One poll, on a runtime of its own (`--once` has none); no answer at all is an error.
    fn read_now(&mut self, sink: &mut dyn FnMut(Chunk)) -> Result<(), ReadError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| ReadError::Io {
                what: "starting the runtime to poll --locust.uri".into(),
                source,
            })?;
        let (chunks, problem) = runtime.block_on(self.ui.poll(&self.client));
        if chunks.iter().all(|c| c.body == Body::Missing) {
            return Err(ReadError::NothingToRead(format!(
                "{} ({})",
                self.ui.base(),
                problem.unwrap_or_default()
            )));
        }
        chunks.into_iter().for_each(sink);
        Ok(())
    }

    fn run(self: Box<Self>, poll_every: Duration, tx: mpsc::Sender<Chunk>) -> Task {
        Box::pin(run(self.ui, self.client, poll_every, tx))
    }
}

/// Polls `web` every `every` until the receiver of `tx` is gone.
pub async fn run(web: WebUi, client: HttpClient, every: Duration, tx: mpsc::Sender<Chunk>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_log: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        let (chunks, problem) = web.poll(&client).await;
        if let Some(p) = problem {
            if last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                last_log = Some(tokio::time::Instant::now());
                tracing::warn!(uri = %web.base(), problem = %p, "Locust's web UI did not answer as expected; the last values stay served (locust_up 0). Logged at most once a minute.");
            }
        }
        for chunk in chunks {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    }
}
