//! The receiver's memory across requests ([`Receiving`]): the last point of every cumulative
//! stream, the services it feeds and when each was last heard from, and the budgets that
//! bound them; and how it maps ([`Options`]).

use std::collections::HashMap;

use super::attributes::{attribute, MAX_ATTRIBUTE_CHARS};
use super::proto;
use super::shape::Last;
use crate::model::update::cut_chars;

/// The service of a resource without `service.name`.
pub const DEFAULT_SERVICE: &str = "locust";

/// Default `--otlp.max-services`: most services the receiver feeds at once. Each is a
/// service of the model (its endpoints, series and memory); a service idle for
/// [`STREAM_IDLE_SECONDS`] is forgotten (and no longer served), so run after run of one
/// exporter keeps a flat footprint, and a sender making up service names is refused past it.
pub const DEFAULT_MAX_SERVICES: usize = 200;

/// A point or span time this far (seconds) past the receiver's clock is taken as received
/// now, and counted (`locust_exporter_events_time_clamped_total`), as events are.
pub const MAX_FUTURE_SECS: f64 = crate::parse::MAX_FUTURE_SECS;

/// Most cumulative streams remembered at once (each a few hundred bytes): past it, points of
/// new streams are rejected.
pub const MAX_STREAMS: usize = 10_000;

/// Most bytes the remembered streams may hold, keys and last buckets together: past it, a
/// point that would grow them is rejected (its stream's next point still counts from the
/// last one kept, so nothing is lost).
pub const MAX_STREAM_BYTES: usize = 64 << 20;

/// A stream with no point for this long (seconds; SDKs send every stream each export
/// interval, a minute by default) is forgotten: a finished run's streams make room.
pub const STREAM_IDLE_SECONDS: f64 = 900.0;

/// How often idle streams are looked for, in seconds.
const SWEEP_SECONDS: f64 = 60.0;

/// Where request counts and times come from (`--otlp.requests-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestsFrom {
    /// The `locust.client.duration` histogram (every request Locust counts).
    #[default]
    Metrics,
    /// HTTP client spans: exact times, but only what the HTTP instrumentation sees.
    Spans,
}

/// How the receiver maps what it reads.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--otlp.service`: every resource feeds this service.
    pub service: Option<String>,
    /// `--otlp.requests-from`.
    pub requests_from: RequestsFrom,
    /// `--otlp.max-services`.
    pub max_services: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            service: None,
            requests_from: RequestsFrom::default(),
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

/// The receiver's memory across requests: the last point of every cumulative stream, and
/// the services it feeds.
#[derive(Debug, Default)]
pub struct Receiving {
    pub(super) options: Options,
    pub(super) streams: HashMap<String, Last, crate::model::FastHash>,
    /// Each service fed, and when it last got a point or span (the receiver's clock).
    services: HashMap<String, f64, crate::model::FastHash>,
    /// Services forgotten since the last [`Receiving::forgotten`].
    gone: Vec<String>,
    /// What `streams` hold ([`Last::footprint`]).
    pub(super) stream_bytes: usize,
    /// When idle streams were last looked for.
    swept: f64,
    /// The current request's time.
    pub(super) now: f64,
}

impl Receiving {
    /// A receiver mapping with `options`.
    pub fn new(options: Options) -> Self {
        Receiving {
            options,
            ..Receiving::default()
        }
    }

    /// Services fed now.
    pub fn services(&self) -> usize {
        self.services.len()
    }

    /// Forgets what has been idle for [`STREAM_IDLE_SECONDS`] at `now` (looked at once
    /// every minute): cumulative streams, and services (which the caller stops serving:
    /// [`Receiving::forgotten`]).
    pub fn sweep(&mut self, now: f64) {
        if now - self.swept < SWEEP_SECONDS {
            return;
        }
        self.swept = now;
        self.streams
            .retain(|_, last| now - last.seen < STREAM_IDLE_SECONDS);
        self.stream_bytes = self.streams.iter().map(|(k, l)| l.footprint(k)).sum();
        let gone = &mut self.gone;
        self.services.retain(|name, seen| {
            let keep = now - *seen < STREAM_IDLE_SECONDS;
            if !keep {
                gone.push(name.clone());
            }
            keep
        });
    }

    /// The services forgotten since the last call, to be let go.
    pub fn forgotten(&mut self) -> Vec<String> {
        std::mem::take(&mut self.gone)
    }

    /// Whether `service` may be fed at `now`: known, or new and under `--otlp.max-services`.
    pub(super) fn admit(&mut self, service: &str) -> bool {
        if let Some(seen) = self.services.get_mut(service) {
            *seen = self.now;
            return true;
        }
        if self.services.len() >= self.options.max_services {
            return false;
        }
        self.services.insert(service.to_owned(), self.now);
        true
    }

    /// `why` a resource's items are refused: its service is past `--otlp.max-services`.
    pub(super) fn too_many_services(&self, service: &str) -> String {
        format!(
            "service {:?}: more than {} services at once (--otlp.max-services; an idle one is forgotten after {} minutes)",
            cut_chars(service, 64),
            self.options.max_services,
            STREAM_IDLE_SECONDS / 60.0
        )
    }

    /// A point's or span's time (Unix seconds) as taken: a time more than [`MAX_FUTURE_SECS`]
    /// past the receiver's clock is taken as now (`true`: it was).
    pub(super) fn clamp_time(&self, t: f64) -> (f64, bool) {
        if t > self.now + MAX_FUTURE_SECS {
            (self.now, true)
        } else {
            (t, false)
        }
    }

    /// Cumulative streams remembered.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes the remembered streams hold ([`MAX_STREAM_BYTES`] at most).
    pub fn stream_bytes(&self) -> usize {
        self.stream_bytes
    }

    pub(super) fn service(&self, resource: Option<&proto::Resource>) -> String {
        if let Some(s) = &self.options.service {
            return s.clone();
        }
        resource
            .and_then(|r| attribute(&r.attributes, "service.name"))
            .map(|s| cut_chars(&s, MAX_ATTRIBUTE_CHARS).to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE.to_owned())
    }
}
