//! The stats model (SPEC §4): pure and deterministic.
//!
//! It imports nothing else from the crate, reads no clock (every call takes `now`, Unix
//! seconds) and does no I/O, so it is tested with plain unit and property tests. Callers feed
//! it [`update::Update`] values per service and read immutable [`snapshot::Snapshot`]s back.

pub mod endpoint;
pub mod service;
pub mod snapshot;
pub mod update;
pub mod window;

use std::collections::BTreeMap;
use std::sync::Arc;

use service::Service;
use snapshot::Snapshot;
use update::Update;

/// Model settings, fixed at start.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// A service with no update for this long is `stopped` (3 poll intervals).
    pub stale_after_secs: f64,
    /// Cardinality guard: distinct (method, name) per service before folding (`--max-endpoints`).
    pub max_endpoints: usize,
    /// Prometheus bucket upper bounds in seconds, ascending (`--buckets`).
    pub buckets: Arc<[f64]>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            stale_after_secs: 3.0,
            max_endpoints: 2000,
            buckets: Arc::from(&endpoint::DEFAULT_BUCKETS[..]),
        }
    }
}

/// All services, by name.
#[derive(Debug, Clone)]
pub struct Model {
    config: ModelConfig,
    services: BTreeMap<Arc<str>, Service>,
}

impl Model {
    /// An empty model.
    pub fn new(config: ModelConfig) -> Self {
        Model {
            config,
            services: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Makes `service` known (state `missing`) before any data arrives for it.
    pub fn declare(&mut self, service: &str) {
        if !self.services.contains_key(service) {
            let name: Arc<str> = Arc::from(service);
            self.services.insert(name.clone(), Service::new(name));
        }
    }

    /// Applies one update for `service`, observed at `now`.
    pub fn apply(&mut self, service: &str, update: Update, now: f64) {
        self.declare(service);
        let Model { config, services } = self;
        let Some(s) = services.get_mut(service) else {
            return;
        };
        match update {
            Update::Stats(table) => s.apply_stats(table, config, now),
            Update::History(row) => s.apply_history(row, now),
            Update::HistoryReset => s.reset_history(now),
            Update::Failures(rows) => s.apply_failures(rows, config, now),
            Update::Exceptions(rows) => s.apply_exceptions(rows, now),
            Update::Request(ev) => s.apply_request(ev, config, now),
            Update::Exception { message } => s.apply_exception(message, now),
            Update::TestStart => s.start_test(now),
            Update::TestStop | Update::EndOfInput => s.stop(now),
            Update::Users(n) => s.set_users(n, now),
            Update::Workers(n) => s.set_workers(n, now),
        }
    }

    /// Everything as served at `now` (the `sources` list is left empty for the caller).
    pub fn snapshot(&self, now: f64) -> Snapshot {
        Snapshot {
            services: self
                .services
                .values()
                .map(|s| s.snapshot(&self.config, now))
                .collect(),
            sources: Vec::new(),
            seq: 0,
        }
    }
}

#[cfg(test)]
mod tests;
