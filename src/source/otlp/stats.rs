//! The receiver's own counters: requests by signal and outcome, items by signal and outcome
//! (`locust_exporter_otlp_*`), and refusals logged at most once a minute.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::parse::otlp::{Invalid, Signal};
use crate::support::log_every::LogEvery;
use crate::support::report::{Kind, Report, SelfMetrics};

/// `locust_exporter_otlp_requests_total{signal,outcome}`.
pub const REQUESTS: &str = "locust_exporter_otlp_requests_total";
/// `locust_exporter_otlp_items_total{signal,outcome}`.
pub const ITEMS: &str = "locust_exporter_otlp_items_total";

const SIGNALS: [Signal; 3] = [Signal::Metrics, Signal::Traces, Signal::Logs];

/// What a mapped export request held.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Counted {
    /// Data points, spans or log records used.
    pub(super) accepted: u64,
    /// Those read and ignored.
    pub(super) ignored: u64,
    /// Points not newer than their stream's last (retries, duplicates, reordering): dropped.
    pub(super) stale: u64,
    /// Those rejected.
    pub(super) rejected: u64,
    /// Why the first rejected one was.
    pub(super) reason: Option<String>,
}

/// How an export request went: counts of what it held, or why it was refused whole.
pub(super) type Outcome = Result<Counted, Invalid>;

/// How a request ended (the `outcome` label of [`REQUESTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RequestOutcome {
    /// Everything in it was used or ignored.
    Ok,
    /// Some items were rejected.
    Partial,
    /// Not a valid export request.
    Invalid,
    /// Over `--otlp.max-message-bytes`.
    TooLarge,
    /// A content type, encoding or method the receiver does not take.
    Unsupported,
    /// The exporter is shutting down.
    Unavailable,
    /// Its body did not arrive within [`MAX_READ`], or slower than [`MIN_READ_RATE`].
    TooSlow,
    /// [`MAX_BODY_BYTES_IN_FLIGHT`] were held by other requests.
    Busy,
}

impl RequestOutcome {
    pub(super) const ALL: [RequestOutcome; 8] = [
        RequestOutcome::Ok,
        RequestOutcome::Partial,
        RequestOutcome::Invalid,
        RequestOutcome::TooLarge,
        RequestOutcome::Unsupported,
        RequestOutcome::Unavailable,
        RequestOutcome::TooSlow,
        RequestOutcome::Busy,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Partial => "partial",
            RequestOutcome::Invalid => "invalid",
            RequestOutcome::TooLarge => "too_large",
            RequestOutcome::Unsupported => "unsupported",
            RequestOutcome::Unavailable => "unavailable",
            RequestOutcome::TooSlow => "too_slow",
            RequestOutcome::Busy => "busy",
        }
    }
}

/// The receiver's own counters.
#[derive(Debug, Default)]
pub struct OtlpStats {
    requests: [[AtomicU64; RequestOutcome::ALL.len()]; SIGNALS.len()],
    /// Accepted, ignored, stale, rejected items per signal.
    items: [[AtomicU64; 4]; SIGNALS.len()],
    log: LogEvery,
}

impl OtlpStats {
    pub(super) fn request(&self, signal: Signal, outcome: RequestOutcome, why: Option<&str>) {
        self.requests[signal as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(why) = why {
            if self.log.ready() {
                tracing::warn!(
                    signal = signal.as_str(),
                    outcome = outcome.as_str(),
                    "OTLP {} export {}: {why}. Further such errors are counted in {REQUESTS} and {ITEMS} and logged at most once a minute.",
                    signal.as_str(),
                    match outcome {
                        RequestOutcome::Partial => "partly rejected",
                        _ => "refused",
                    }
                );
            }
        }
    }

    pub(super) fn items(&self, signal: Signal, c: &Counted) {
        let row = &self.items[signal as usize];
        row[0].fetch_add(c.accepted, Ordering::Relaxed);
        row[1].fetch_add(c.ignored, Ordering::Relaxed);
        row[2].fetch_add(c.stale, Ordering::Relaxed);
        row[3].fetch_add(c.rejected, Ordering::Relaxed);
    }
}

impl SelfMetrics for OtlpStats {
    fn report(&self, out: &mut dyn Report) {
        out.family(
            REQUESTS,
            "OTLP export requests received, by signal and outcome.",
            Kind::Counter,
        );
        for s in SIGNALS {
            for o in RequestOutcome::ALL {
                let n = self.requests[s as usize][o as usize].load(Ordering::Relaxed);
                out.sample(&[("signal", s.as_str()), ("outcome", o.as_str())], n as f64);
            }
        }
        out.family(
            ITEMS,
            "OTLP data points, spans and log records received, by signal and outcome (accepted; ignored: read and not mapped; stale: a point not newer than its stream's last, dropped; rejected).",
            Kind::Counter,
        );
        for s in SIGNALS {
            for (i, o) in ["accepted", "ignored", "stale", "rejected"]
                .iter()
                .enumerate()
            {
                let n = self.items[s as usize][i].load(Ordering::Relaxed);
                out.sample(&[("signal", s.as_str()), ("outcome", o)], n as f64);
            }
        }
    }
}
