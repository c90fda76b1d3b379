//! Pushgateway output (`--push.url`): each service's metrics `PUT` to its own group,
//! `/metrics/job/<job>/service/<service>[/<label>/<value>…]`, so concurrent runs never
//! overwrite each other and each push replaces its group whole.
//!
//! A push runs every `--push.interval` (0: only at the end) and once more on exit. A failing
//! Pushgateway is retried with backoff within the interval, counted and logged at most once
//! a minute; it never blocks ingestion or serving (pushes run in their own task, on the last
//! published snapshot, each request bounded in time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::report::{Kind, Report, SelfMetrics};
use base64::Engine as _;
use bytes::Bytes;
use hyper::Method;
use thiserror::Error;
use tokio::sync::watch;

use crate::expose::{self, Sets};
use crate::model::snapshot::Snapshot;
use crate::support::http_client::{HttpClient, RequestError};

use super::delivery::{DeliveryError, Output, Task};

/// Waits between the attempts of one push (then the push is given up until the next).
pub const BACKOFF: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];
/// Each push request is bounded by this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A failing Pushgateway is logged at most once in this many seconds.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// Why a push failed.
#[derive(Debug, Error)]
pub enum PushError {
    /// No answer, or a connection problem.
    #[error("{0}")]
    Request(#[from] RequestError),
    /// The Pushgateway refused the push.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The start of its body.
        body: String,
    },
}

/// Pushes done and failed, and when one last worked.
#[derive(Debug, Default)]
pub struct PushStats {
    successes: AtomicU64,
    failures: AtomicU64,
    last_success_ms: AtomicU64,
}

impl PushStats {
    fn note(&self, ok: bool, now: f64) {
        if ok {
            self.successes.fetch_add(1, Ordering::Relaxed);
            self.last_success_ms
                .store((now * 1000.0) as u64, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl SelfMetrics for PushStats {
    /// `locust_exporter_pushes_total{result}` and
    /// `locust_exporter_push_last_success_timestamp_seconds`.
    fn report(&self, out: &mut dyn Report) {
        out.family(
            "locust_exporter_pushes_total",
            "Pushes to the Pushgateway (one per service and interval), by result.",
            Kind::Counter,
        );
        for (result, n) in [
            ("success", self.successes.load(Ordering::Relaxed)),
            ("failure", self.failures.load(Ordering::Relaxed)),
        ] {
            out.sample(&[("result", result)], n as f64);
        }
        out.family(
            "locust_exporter_push_last_success_timestamp_seconds",
            "Unix time of the last successful push (0: none yet).",
            Kind::Gauge,
        );
        out.sample(
            &[],
            self.last_success_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
    }
}

/// `--push.*`.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// `--push.url`, without a trailing `/`.
    pub url: String,
    /// `--push.interval`; `None`: only at the end.
    pub interval: Option<Duration>,
    /// `--push.job`.
    pub job: String,
    /// `--push.label`s.
    pub labels: Vec<(String, String)>,
}

/// One path element pair of a grouping key: `name/value`, or `name@base64/…` when the value
/// is empty or has characters a path element cannot carry as they are.
fn key_part(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
    if plain {
        format!("/{name}/{value}")
    } else {
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(value);
        format!(
            "/{name}@base64/{}",
            if encoded.is_empty() { "=" } else { &encoded }
        )
    }
}

/// Pushes snapshots to a Pushgateway.
#[derive(Debug, Clone)]
pub struct Pusher {
    config: PushConfig,
    client: HttpClient,
    sets: Sets,
    /// Shared with the exposition.
    pub stats: Arc<PushStats>,
}

impl Pusher {
    /// A pusher with `client` (its credentials and TLS).
    pub fn new(config: PushConfig, client: HttpClient, sets: Sets) -> Self {
        Pusher {
            config,
            client,
            sets,
            stats: Arc::new(PushStats::default()),
        }
    }

    /// The group URL of `service`.
    pub fn group_url(&self, service: &str) -> String {
        let mut url = format!("{}/metrics", self.config.url);
        url.push_str(&key_part("job", &self.config.job));
        url.push_str(&key_part("service", service));
        for (k, v) in &self.config.labels {
            url.push_str(&key_part(k, v));
        }
        url
    }

    async fn put(&self, url: &str, body: Bytes) -> Result<(), PushError> {
        let resp = self
            .client
            .request(
                Method::PUT,
                url,
                &[("content-type", expose::CONTENT_TYPE)],
                body,
            )
            .await?;
        if resp.status.is_success() {
            Ok(())
        } else {
            Err(PushError::Status {
                status: resp.status.as_u16(),
                body: String::from_utf8_lossy(&resp.body)
                    .chars()
                    .take(200)
                    .collect(),
            })
        }
    }

    /// Pushes every service of `snap` (retrying each with backoff). Returns the last error
    /// if any service could not be pushed. `now` is for the success timestamp.
    pub async fn push(&self, snap: &Snapshot, now: f64) -> Result<(), PushError> {
        let mut last_err = None;
        for service in &snap.services {
            let body = Bytes::from(expose::render(
                &snap.for_service(&service.name),
                self.sets,
                &[],
            ));
            let url = self.group_url(&service.name);
            let mut result = self.put(&url, body.clone()).await;
            for wait in BACKOFF {
                // A Pushgateway that does not answer within the timeout is not asked again
                // this round: retrying a hanging one kept a failure unseen for 43 s.
                if matches!(
                    result,
                    Ok(()) | Err(PushError::Request(RequestError::Timeout(_)))
                ) {
                    break;
                }
                tokio::time::sleep(wait).await;
                result = self.put(&url, body.clone()).await;
            }
            self.stats.note(result.is_ok(), now);
            if let Err(e) = result {
                last_err = Some(e);
            }
        }
        last_err.map_or(Ok(()), Err)
    }

    /// Pushes every `--push.interval` until `stop` turns true (the final push is the
    /// caller's, after the last snapshot).
    async fn run_loop(
        self: Arc<Self>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        mut stop: watch::Receiver<bool>,
        now: fn() -> f64,
    ) {
        let Some(every) = self.config.interval else {
            return;
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_log: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let snap = snapshots.borrow().clone();
            if snap.seq == 0 {
                continue;
            }
            if let Err(e) = self.push(&snap, now()).await {
                if last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                    last_log = Some(tokio::time::Instant::now());
                    tracing::warn!(url = %self.config.url, error = %e, "Push to the Pushgateway failed; will retry next interval. Further failures are counted in locust_exporter_pushes_total and logged at most once a minute.");
                }
            }
        }
    }
}

impl Output for Pusher {
    fn name(&self) -> String {
        format!("push to {}", self.config.url)
    }

    fn self_metrics(&self) -> Arc<dyn SelfMetrics> {
        self.stats.clone()
    }

    fn run(
        self: Arc<Self>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        stop: watch::Receiver<bool>,
        now: fn() -> f64,
    ) -> Task<()> {
        Box::pin(self.run_loop(snapshots, stop, now))
    }

    fn deliver(self: Arc<Self>, snap: Arc<Snapshot>, now: f64) -> Task<Result<(), DeliveryError>> {
        Box::pin(async move {
            self.push(&snap, now).await.map_err(|e| DeliveryError {
                target: self.name(),
                message: e.to_string(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_keys_are_path_safe() {
        assert_eq!(key_part("service", "checkout"), "/service/checkout");
        assert_eq!(
            key_part("service", "api/run"),
            format!(
                "/service@base64/{}",
                base64::engine::general_purpose::URL_SAFE.encode("api/run")
            )
        );
        assert_eq!(key_part("env", ""), "/env@base64/=");
    }
}
