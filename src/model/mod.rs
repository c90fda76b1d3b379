//! The stats model: pure and deterministic (the rules it keeps: `docs/metrics.md`, "How
//! values are derived").
//!
//! It imports nothing else from the crate, reads no clock (every call takes `now`, Unix
//! seconds) and does no I/O, so it is tested with plain unit and property tests. Callers
//! feed it [`update::Update`] values through one door, [`Model::apply_all`] (or
//! [`Model::apply`] for one), and read immutable [`snapshot::Snapshot`]s back.
//!
//! Layout: `service` holds a service's run state and routes updates to its two feeds,
//! `csv_feed` (the files' whole reads and rates) and `event_feed` (per-request counting,
//! with [`endpoint`] and [`window`]); `cardinality` bounds the endpoints both feeds admit;
//! `config` holds the settings and the view a feed serves, which every room imports;
//! `timeline` keeps a service's run over time (the run report's charts).

pub mod baseline;
mod cardinality;
pub mod check;
mod config;
mod csv_feed;
pub mod endpoint;
mod event_feed;
pub mod exemplar;
mod expression;
pub mod judge;
pub mod native_histogram;
pub mod percentile;
pub mod regression;
mod service;
pub mod snapshot;
pub mod timeline;
pub mod update;
pub mod window;

use std::sync::Arc;

pub use cardinality::{cut_label, MAX_FOLDED_REMEMBERED, MAX_LABEL_BYTES, OTHER};
pub use config::{FastHash, ModelConfig, RunId};
use service::Service;
use snapshot::Snapshot;
use update::Update;

/// All services, sorted by name.
#[derive(Debug, Clone)]
pub struct Model {
    config: ModelConfig,
    services: Vec<Service>,
}

impl Model {
    /// An empty model.
    pub fn new(config: ModelConfig) -> Self {
        Model {
            config,
            services: Vec::new(),
        }
    }

    /// Makes `service` known (state `missing`) before any data arrives for it.
    pub fn declare(&mut self, service: &str) {
        self.index(service);
    }

    /// Forgets `service` and everything it counted (its input is gone for good).
    pub fn remove(&mut self, service: &str) {
        if let Ok(i) = self.services.binary_search_by(|s| s.name().cmp(service)) {
            self.services.remove(i);
        }
    }

    /// The index of `service`, added (state `missing`) if new.
    fn index(&mut self, service: &str) -> usize {
        match self.services.binary_search_by(|s| s.name().cmp(service)) {
            Ok(i) => i,
            Err(i) => {
                self.services
                    .insert(i, Service::new(Arc::from(service), &self.config));
                i
            }
        }
    }

    /// Applies `updates` for `service`, all observed at `now`: the one door into the model
    /// (one service lookup for a whole batch of lines).
    pub fn apply_all<'a>(
        &mut self,
        service: &str,
        updates: impl IntoIterator<Item = Update<'a>>,
        now: f64,
    ) {
        let i = self.index(service);
        let Model { config, services } = self;
        let s = &mut services[i];
        for update in updates {
            s.apply(update, config, now);
            // One comparison per update: the requests' time passed the next interval's end.
            if s.time_due() {
                s.keep_time();
            }
        }
    }

    /// Applies one update for `service`, observed at `now`.
    pub fn apply(&mut self, service: &str, update: Update<'_>, now: f64) {
        self.apply_all(service, std::iter::once(update), now);
    }

    /// The exporter is stopping at `now`: every service reads `stopped` from now on, and one
    /// whose run was still live (spawning or running, its input not ended) is marked
    /// interrupted, so a final push or write cannot read as a live run forever.
    pub fn close(&mut self, now: f64) {
        let stale_after = self.config.stale_after_secs;
        for s in &mut self.services {
            s.close(now, stale_after);
        }
    }

    /// Each service's run state at `now`, in service order.
    pub fn states(&self, now: f64) -> Vec<snapshot::RunState> {
        self.services
            .iter()
            .map(|s| s.state(now, self.config.stale_after_secs))
            .collect()
    }

    /// Everything as served at `now` (the `sources` list is left empty for the caller).
    pub fn snapshot(&self, now: f64) -> Snapshot {
        let services: Vec<_> = self
            .services
            .iter()
            .map(|s| s.snapshot(&self.config, now))
            .collect();
        let run = match &self.config.run {
            RunId::None => None,
            RunId::Fixed(id) => Some(id.clone()),
            RunId::Auto => services
                .iter()
                .filter_map(|s| s.started)
                .reduce(f64::min)
                .map(|t| Arc::from(utc_stamp(t))),
        };
        Snapshot {
            outcomes: judge::evaluate(
                &self.config.checks,
                &services,
                self.config.baseline.as_deref(),
            ),
            checks: self.config.checks.clone(),
            run,
            services,
            sources: Vec::new(),
            seq: 0,
            closed: false,
            baseline: self.config.baseline.clone(),
            taken_at: now,
        }
    }
}

/// Unix seconds as UTC (year, month, day, hour, minute, second).
fn civil(unix: f64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = unix.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Unix seconds as a compact UTC stamp, `20261202T183647Z` (`--run.id auto`).
pub fn utc_stamp(unix: f64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Unix seconds as ISO 8601 UTC, `2026-12-02T18:36:47Z` (JUnit's timestamp).
pub fn utc_iso(unix: f64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests;
