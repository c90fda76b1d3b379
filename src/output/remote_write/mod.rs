//! Remote write (`--remote-write.url`, repeatable): every `--remote-write.interval` the last
//! published snapshot, as `/metrics` serves it (the chosen metric sets and the self-metrics),
//! is written to each URL as remote write 1.0 (`prometheus.WriteRequest`) or 2.0
//! (`io.prometheus.write.v2.Request`), stamped with the time it was taken. Native histograms
//! go as remote-write histograms, classic ones as their series; metadata with them; series
//! that vanish get a stale marker, and every series does after the final write at exit.
//!
//! ## The sender (the remote-write spec's rules)
//! Each URL has its own queue of whole intervals, bounded (`--remote-write.queue-intervals`):
//! when full the oldest interval is dropped and counted. One request is in flight per queue,
//! so each series' samples arrive in time order. A 5xx, a 429 or no answer is retried with
//! exponential backoff and jitter (a `Retry-After` in seconds is honoured); another 4xx is not
//! retried (counted, logged at most once a minute) and the next request goes. A 2.0 answer's
//! `X-Prometheus-Remote-Write-*-Written` headers are checked: what the receiver did not write
//! is counted as failed. A 415 to a 2.0 request switches the queue to 1.0, logged once (the
//! 2.0 intervals still queued are dropped, counted: each interval carries the whole state, so
//! the next one fills the gap). Encoding runs on the blocking pool and sending in its own
//! task: neither ingestion nor scrapes ever wait for a receiver.

pub mod collector;
mod proto;
pub mod series;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use tokio::sync::{watch, Notify};

use crate::expose::{self, Sets};
use crate::model::snapshot::Snapshot;
use crate::support::http_client::HttpClient;
use crate::support::log_every::LogEvery;
use crate::support::report::{Kind, Report, SelfMetrics};

use super::delivery::{DeliveryError, Output, Task};
use collector::Collector;
pub use series::Protocol;
use series::{Batch, Request, Tracker};

/// Each request is bounded by this unless `--remote-write.timeout` says otherwise.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry waits this long (then twice as long each time, up to [`MAX_BACKOFF`]).
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two tries of one request.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Problems with a receiver are logged at most once in this long.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// `--remote-write.*` of one URL.
#[derive(Debug, Clone)]
pub struct RemoteWriteConfig {
    /// `--remote-write.url`.
    pub url: String,
    /// `--remote-write.interval`.
    pub interval: Duration,
    /// `--remote-write.protocol`.
    pub protocol: Protocol,
    /// `--remote-write.label`s: added to every series that does not have the label.
    pub labels: Vec<(String, String)>,
    /// `--remote-write.queue-intervals`.
    pub queue_intervals: usize,
    /// `--remote-write.max-request-bytes` (before compression).
    pub max_request_bytes: usize,
    /// `--remote-write.timeout`.
    pub timeout: Duration,
    /// Not `--remote-write.no-stale-on-exit`.
    pub stale_on_exit: bool,
    /// `--remote-write.no-native-histograms`.
    pub classic_only: bool,
}

/// What one URL's sender did.
#[derive(Debug, Default)]
pub struct RemoteWriteStats {
    url: String,
    samples: AtomicU64,
    histograms: AtomicU64,
    metadata: AtomicU64,
    bytes: AtomicU64,
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    retries: AtomicU64,
    failed_points: AtomicU64,
    dropped_points: AtomicU64,
    dropped_intervals: AtomicU64,
    partial: AtomicU64,
    last_success_ms: AtomicU64,
    send_micros: AtomicU64,
    intervals: AtomicU64,
    queued: AtomicUsize,
}

impl SelfMetrics for RemoteWriteStats {
    fn report(&self, out: &mut dyn Report) {
        let url = [("url", self.url.as_str())];
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let counters: [(&str, &str, f64); 10] = [
            ("locust_exporter_remote_write_intervals_total", "Intervals encoded and queued (each the whole state at one time).", n(&self.intervals)),
            ("locust_exporter_remote_write_samples_total", "Float samples the receiver took (stale markers included).", n(&self.samples)),
            ("locust_exporter_remote_write_histograms_total", "Native histograms the receiver took.", n(&self.histograms)),
            ("locust_exporter_remote_write_metadata_total", "Metadata entries sent in requests the receiver took.", n(&self.metadata)),
            ("locust_exporter_remote_write_bytes_total", "Compressed request bytes the receiver took.", n(&self.bytes)),
            ("locust_exporter_remote_write_retries_total", "Requests tried again (5xx, 429, no answer).", n(&self.retries)),
            ("locust_exporter_remote_write_failed_samples_total", "Samples and histograms refused and not retried (a 4xx other than 429), or left unwritten by a 2.0 receiver.", n(&self.failed_points)),
            ("locust_exporter_remote_write_dropped_samples_total", "Samples and histograms dropped unsent: the queue was full (the oldest interval goes), or a 2.0 interval queued when the receiver asked for 1.0.", n(&self.dropped_points)),
            ("locust_exporter_remote_write_dropped_intervals_total", "Intervals dropped from a full queue.", n(&self.dropped_intervals)),
            ("locust_exporter_remote_write_send_seconds_total", "Time spent in requests (their count: locust_exporter_remote_write_requests_total).", n(&self.send_micros) / 1e6),
        ];
        for (name, help, v) in counters {
            out.family(name, help, Kind::Counter);
            out.sample(&url, v);
        }
        out.family(
            "locust_exporter_remote_write_requests_total",
            "Requests answered, by result (success; failure: refused, not retried).",
            Kind::Counter,
        );
        for (result, a) in [
            ("success", &self.requests_ok),
            ("failure", &self.requests_failed),
        ] {
            out.sample(&[("url", self.url.as_str()), ("result", result)], n(a));
        }
        out.family(
            "locust_exporter_remote_write_partial_writes_total",
            "2.0 requests the receiver wrote only in part (its X-Prometheus-Remote-Write-*-Written headers).",
            Kind::Counter,
        );
        out.sample(&url, n(&self.partial));
        out.family(
            "locust_exporter_remote_write_queue_intervals",
            "Intervals waiting to be sent.",
            Kind::Gauge,
        );
        out.sample(&url, self.queued.load(Ordering::Relaxed) as f64);
        out.family(
            "locust_exporter_remote_write_last_success_timestamp_seconds",
            "Unix time of the last request the receiver took (0: none yet).",
            Kind::Gauge,
        );
        out.sample(&url, n(&self.last_success_ms) / 1000.0);
    }
}

/// One interval waiting, and how many of its requests went.
#[derive(Debug)]
struct Queued {
    id: u64,
    batch: Arc<Batch>,
    sent: usize,
}

/// How a request ended.
enum Sent {
    /// Taken (or refused for good: counted, the next one goes).
    Done,
    /// Its interval was dropped from the queue meanwhile.
    Dropped,
}

/// Writes snapshots to one remote-write URL.
pub struct RemoteWriter {
    config: RemoteWriteConfig,
    client: HttpClient,
    sets: Sets,
    /// Shared with the exposition.
    pub stats: Arc<RemoteWriteStats>,
    queue: Mutex<VecDeque<Queued>>,
    next_id: AtomicU64,
    wake: Notify,
    tracker: Mutex<Tracker>,
    /// The queue fell back from 2.0 to 1.0 (a 415).
    fell_back: AtomicBool,
    /// The last timestamp written (ms): each is later than the one before.
    last_ts: AtomicI64,
    /// Held by whoever sends, so one request is in flight (the loop, then the final write).
    sending: tokio::sync::Mutex<()>,
    log: LogEvery,
    /// The wall clock (`run` sets it; the final write of `--once` uses its own time).
    clock: Mutex<Option<fn() -> f64>>,
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriter")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

/// A small random factor in [0.8, 1.2) for backoff jitter (splitmix64 of a counter and the
/// time; no crate needed for this).
fn jitter(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    0.8 + 0.4 * ((z >> 11) as f64 / (1u64 << 53) as f64)
}

/// The wait before try `attempt` (0-based) of a request.
pub fn backoff(attempt: u32, seed: u64) -> Duration {
    let base = MIN_BACKOFF
        .saturating_mul(1u32 << attempt.min(10))
        .min(MAX_BACKOFF);
    base.mul_f64(jitter(seed))
}

/// `Retry-After` in seconds (an HTTP date is not honoured: the backoff applies).
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let v = headers.get(hyper::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// A written-count header of a 2.0 answer.
fn written(headers: &hyper::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl RemoteWriter {
    /// A writer with `client` (its credentials and TLS).
    pub fn new(config: RemoteWriteConfig, client: HttpClient, sets: Sets) -> Self {
        let stats = Arc::new(RemoteWriteStats {
            url: config.url.clone(),
            ..RemoteWriteStats::default()
        });
        RemoteWriter {
            config,
            client,
            sets,
            stats,
            queue: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            wake: Notify::new(),
            tracker: Mutex::new(Tracker::default()),
            fell_back: AtomicBool::new(false),
            last_ts: AtomicI64::new(0),
            sending: tokio::sync::Mutex::new(()),
            log: LogEvery::new(LOG_EVERY),
            clock: Mutex::new(None),
        }
    }

    /// The protocol in use now.
    pub fn protocol(&self) -> Protocol {
        if self.fell_back.load(Ordering::Relaxed) {
            Protocol::V1
        } else {
            self.config.protocol
        }
    }

    fn warn(&self, message: &str, detail: &str) {
        if self.log.ready() {
            tracing::warn!(url = %self.config.url, detail, "{message} Further problems are counted in locust_exporter_remote_write_* and logged at most once a minute.");
        }
    }

    /// A timestamp (ms) later than every one written before, near `now` (Unix seconds).
    fn stamp(&self, now: f64) -> i64 {
        let want = (now * 1000.0).round() as i64;
        let prev = self.last_ts.fetch_max(want, Ordering::Relaxed);
        if prev >= want {
            self.last_ts.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            want
        }
    }

    /// Encodes `snap` at `ts` (with stale markers for the series gone since the last).
    fn encode(&self, snap: &Arc<Snapshot>, ts: i64) -> Batch {
        let (sets, classic_only) = (self.sets, self.config.classic_only);
        // The run label is an external label here (see `external`).
        let collect = move |snap: &Snapshot| {
            let mut collected = Collector::new(classic_only);
            expose::write_snapshot(snap, sets, &mut collected);
            collected
        };
        let collected = collect(snap);
        let mut tracker = match self.tracker.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let batch = Batch::encode(
            collected,
            self.protocol(),
            ts,
            self.config.max_request_bytes,
            &self.external(snap),
            &mut tracker,
        );
        // The interval's labels are not kept: its snapshot (shared) makes them again when
        // a series vanishes.
        let again = snap.clone();
        tracker.set_source(Box::new(move || collect(&again)));
        batch
    }

    /// The labels every series gets: `--remote-write.label`s, and the snapshot's `run`
    /// (`--run.id`) unless a label of that name is given.
    fn external(&self, snap: &Snapshot) -> Vec<(String, String)> {
        let mut labels = self.config.labels.clone();
        if let Some(run) = &snap.run {
            if !labels.iter().any(|(k, _)| k == "run") {
                labels.push(("run".to_owned(), run.to_string()));
                labels.sort();
            }
        }
        labels
    }

    /// Stale markers at `ts` for every series written in the last interval encoded.
    fn stale_all(&self, ts: i64) -> Batch {
        let mut tracker = match self.tracker.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        Batch::stale_all(
            self.protocol(),
            ts,
            self.config.max_request_bytes,
            &mut tracker,
        )
    }

    /// Queues `batch`; drops the oldest intervals past the bound.
    fn enqueue(&self, batch: Batch) {
        if batch.requests.is_empty() {
            return;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.stats.intervals.fetch_add(1, Ordering::Relaxed);
        let mut dropped = 0;
        if let Ok(mut q) = self.queue.lock() {
            q.push_back(Queued {
                id,
                batch: Arc::new(batch),
                sent: 0,
            });
            while q.len() > self.config.queue_intervals.max(1) {
                if let Some(old) = q.pop_front() {
                    dropped += old.batch.requests[old.sent..]
                        .iter()
                        .map(|r| r.samples + r.histograms)
                        .sum::<u64>();
                    self.stats.dropped_intervals.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.stats.queued.store(q.len(), Ordering::Relaxed);
        }
        if dropped > 0 {
            self.stats
                .dropped_points
                .fetch_add(dropped, Ordering::Relaxed);
            self.warn(
                "The remote-write queue is full: the oldest interval was dropped.",
                "the receiver is down or slower than the interval",
            );
        }
        self.wake.notify_one();
    }

    /// The next request to send: (interval id, request index, the request).
    fn front(&self) -> Option<(u64, usize, Request)> {
        let q = self.queue.lock().ok()?;
        let f = q.front()?;
        Some((f.id, f.sent, f.batch.requests.get(f.sent)?.clone()))
    }

    /// Marks request `index` of interval `id` sent, if that is still the front.
    fn advance(&self, id: u64, index: usize) {
        if let Ok(mut q) = self.queue.lock() {
            if let Some(f) = q.front_mut() {
                if f.id == id && f.sent == index {
                    f.sent += 1;
                    if f.sent >= f.batch.requests.len() {
                        q.pop_front();
                    }
                }
            }
            self.stats.queued.store(q.len(), Ordering::Relaxed);
        }
    }

    fn still_front(&self, id: u64, index: usize) -> bool {
        self.queue
            .lock()
            .ok()
            .and_then(|q| q.front().map(|f| f.id == id && f.sent == index))
            .unwrap_or(false)
    }

    /// After a 415 to 2.0 (or an answer that wrote nothing of it): 1.0 from now on; the 2.0
    /// intervals queued are dropped.
    fn fall_back(&self, why: &str) {
        self.fell_back.store(true, Ordering::Relaxed);
        let mut dropped = 0;
        if let Ok(mut q) = self.queue.lock() {
            for old in q.drain(..) {
                dropped += old.batch.requests[old.sent..]
                    .iter()
                    .map(|r| r.samples + r.histograms)
                    .sum::<u64>();
            }
            self.stats.queued.store(0, Ordering::Relaxed);
        }
        self.stats
            .dropped_points
            .fetch_add(dropped, Ordering::Relaxed);
        // The series written so far are unknown to a receiver that took none: no stale
        // markers are owed for them in 1.0 either, so the tracker stays.
        tracing::warn!(url = %self.config.url, why, "The receiver does not take remote write 2.0: writing 1.0 from now on.");
    }

    /// Sends the front request until it is taken, refused for good or dropped.
    async fn send_front(&self, id: u64, index: usize, req: Request, fallback_now: f64) -> Sent {
        // The queue holds requests of the protocol in use: a fall back empties it.
        let protocol = self.protocol();
        let headers = [
            ("content-type", protocol.content_type()),
            ("content-encoding", "snappy"),
            ("x-prometheus-remote-write-version", protocol.version()),
            (
                "user-agent",
                concat!("locust-exporter/", env!("CARGO_PKG_VERSION")),
            ),
        ];
        let mut attempt = 0u32;
        loop {
            if !self.still_front(id, index) {
                return Sent::Dropped;
            }
            let started = Instant::now();
            let result = self
                .client
                .request(Method::POST, &self.config.url, &headers, req.body.clone())
                .await;
            self.stats
                .send_micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            let wait = match result {
                Ok(resp) if resp.status.is_success() => {
                    let points = req.samples + req.histograms;
                    if protocol == Protocol::V2 {
                        let s = written(&resp.headers, "x-prometheus-remote-write-samples-written");
                        let h = written(
                            &resp.headers,
                            "x-prometheus-remote-write-histograms-written",
                        );
                        if s.is_none() && h.is_none() && points > 0 {
                            // A 1.0 receiver reads a 2.0 body as an empty 1.0 request and
                            // answers 2xx, writing nothing: the spec's written-count headers
                            // are how a sender tells.
                            self.stats
                                .failed_points
                                .fetch_add(points, Ordering::Relaxed);
                            self.fall_back(
                                "answered 2xx without X-Prometheus-Remote-Write-*-Written headers",
                            );
                            return Sent::Dropped;
                        }
                        // With one header or both, a missing one says none of that kind was
                        // written (the spec's rule): fewer written than sent is a partial write.
                        let (s, h) = (s.unwrap_or(0), h.unwrap_or(0));
                        let took = s.min(req.samples) + h.min(req.histograms);
                        if took < points {
                            self.stats.partial.fetch_add(1, Ordering::Relaxed);
                            self.stats
                                .failed_points
                                .fetch_add(points - took, Ordering::Relaxed);
                            self.warn(
                                "The receiver wrote only part of a remote-write request.",
                                &format!(
                                    "{s} of {} samples and {h} of {} histograms written",
                                    req.samples, req.histograms
                                ),
                            );
                        }
                    }
                    self.stats.samples.fetch_add(req.samples, Ordering::Relaxed);
                    self.stats
                        .histograms
                        .fetch_add(req.histograms, Ordering::Relaxed);
                    self.stats
                        .metadata
                        .fetch_add(req.metadata, Ordering::Relaxed);
                    self.stats
                        .bytes
                        .fetch_add(req.body.len() as u64, Ordering::Relaxed);
                    self.stats.requests_ok.fetch_add(1, Ordering::Relaxed);
                    let at = self
                        .clock
                        .lock()
                        .ok()
                        .and_then(|c| *c)
                        .map_or(fallback_now, |c| c());
                    self.stats
                        .last_success_ms
                        .store((at * 1000.0) as u64, Ordering::Relaxed);
                    self.advance(id, index);
                    return Sent::Done;
                }
                Ok(resp) if resp.status.as_u16() == 415 && protocol == Protocol::V2 => {
                    self.fall_back("answered HTTP 415");
                    return Sent::Dropped;
                }
                Ok(resp) if resp.status.as_u16() == 429 || resp.status.is_server_error() => {
                    self.warn(
                        "The remote-write receiver failed a request; retrying with backoff.",
                        &format!("HTTP {}", resp.status.as_u16()),
                    );
                    // The receiver's Retry-After, but never less than the backoff (a
                    // `Retry-After: 0` does not turn it off).
                    let floor = backoff(attempt, id ^ u64::from(attempt) << 32 ^ index as u64);
                    retry_after(&resp.headers).map_or(floor, |r| r.max(floor))
                }
                Ok(resp) => {
                    let body: String = String::from_utf8_lossy(&resp.body)
                        .chars()
                        .take(200)
                        .collect();
                    self.stats.requests_failed.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .failed_points
                        .fetch_add(req.samples + req.histograms, Ordering::Relaxed);
                    self.warn(
                        "The remote-write receiver refused a request; it is not sent again.",
                        &format!("HTTP {}: {}", resp.status.as_u16(), body.trim()),
                    );
                    self.advance(id, index);
                    return Sent::Done;
                }
                Err(e) => {
                    self.warn(
                        "A remote-write request got no answer; retrying with backoff.",
                        &e.to_string(),
                    );
                    backoff(attempt, id ^ u64::from(attempt) << 32 ^ index as u64)
                }
            };
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends until the queue is empty; `now` stamps successes when no clock is set.
    async fn drain(&self, now: f64) {
        while let Some((id, index, req)) = self.front() {
            self.send_front(id, index, req, now).await;
        }
    }

    /// Writes every interval until `stop` turns true (the final write is the caller's).
    async fn run_loop(
        self: Arc<Self>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        mut stop: watch::Receiver<bool>,
        now: fn() -> f64,
    ) {
        if let Ok(mut c) = self.clock.lock() {
            *c = Some(now);
        }
        let sender = {
            let me = self.clone();
            let mut stop = stop.clone();
            async move {
                loop {
                    let guard = me.sending.lock().await;
                    tokio::select! {
                        () = me.drain(now()) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                    drop(guard);
                    tokio::select! {
                        () = me.wake.notified() => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            }
        };
        let sender = tokio::spawn(sender);
        let mut tick = tokio::time::interval(self.config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first write one interval after the start, when the inputs were read.
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let snap = snapshots.borrow().clone();
            if snap.seq == 0 {
                continue;
            }
            let me = self.clone();
            let ts = self.stamp(now());
            match tokio::task::spawn_blocking(move || me.encode(&snap, ts)).await {
                Ok(batch) => self.enqueue(batch),
                Err(e) => {
                    tracing::error!(url = %self.config.url, error = %e, "Encoding a remote-write interval failed.")
                }
            }
        }
        let _ = sender.await;
    }

    /// The final write: `snap` at `now`, then stale markers for every series (unless
    /// turned off), and everything still queued, in order.
    async fn final_write(
        self: Arc<Self>,
        snap: Arc<Snapshot>,
        now: f64,
    ) -> Result<(), DeliveryError> {
        let _guard = self.sending.lock().await;
        let lost = || {
            self.stats.failed_points.load(Ordering::Relaxed)
                + self.stats.dropped_points.load(Ordering::Relaxed)
        };
        let mut lost_before = lost();
        let was_v2 = self.protocol() == Protocol::V2;
        self.write_now(snap.clone(), now).await?;
        if was_v2 && self.protocol() == Protocol::V1 {
            // The receiver turned out to take 1.0 only: the final state again, in 1.0.
            lost_before = lost();
            self.write_now(snap, now).await?;
        }
        let lost = lost() - lost_before;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        tracing::info!(
            url = %self.config.url,
            protocol = self.protocol().name(),
            intervals = n(&self.stats.intervals),
            dropped_intervals = n(&self.stats.dropped_intervals),
            refused_requests = n(&self.stats.requests_failed),
            retries = n(&self.stats.retries),
            "Remote write finished."
        );
        if lost > 0 {
            return Err(DeliveryError {
                target: self.name(),
                message: format!(
                    "{lost} samples and histograms of the final write were refused or dropped"
                ),
            });
        }
        Ok(())
    }

    /// Encodes `snap` (and the stale markers at exit) and sends everything queued.
    async fn write_now(
        self: &Arc<Self>,
        snap: Arc<Snapshot>,
        now: f64,
    ) -> Result<(), DeliveryError> {
        let ts = self.stamp(now);
        let me = self.clone();
        let batch = tokio::task::spawn_blocking(move || {
            let mut batch = me.encode(&snap, ts);
            if me.config.stale_on_exit {
                let stale = me.stale_all(ts + 1);
                batch.requests.extend(stale.requests);
            }
            batch
        })
        .await
        .map_err(|e| DeliveryError {
            target: self.name(),
            message: format!("encoding failed: {e}"),
        })?;
        self.stamp((ts + 1) as f64 / 1000.0);
        self.enqueue(batch);
        self.drain(now).await;
        Ok(())
    }
}

impl Output for RemoteWriter {
    fn name(&self) -> String {
        format!("remote write to {}", self.config.url)
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
        Box::pin(self.final_write(snap, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        for seed in 0..50 {
            let d = backoff(0, seed);
            assert!(
                d >= MIN_BACKOFF.mul_f64(0.8) && d < MIN_BACKOFF.mul_f64(1.2),
                "{d:?}"
            );
            let d = backoff(3, seed);
            assert!(
                d >= Duration::from_millis(1600) && d < Duration::from_millis(2400),
                "{d:?}"
            );
            assert!(backoff(30, seed) < MAX_BACKOFF.mul_f64(1.2));
        }
        assert_ne!(backoff(2, 1), backoff(2, 2), "jittered");
    }

    #[test]
    fn retry_after_in_seconds_is_honoured_and_capped() {
        let mut h = hyper::HeaderMap::new();
        h.insert(hyper::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(hyper::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            hyper::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
