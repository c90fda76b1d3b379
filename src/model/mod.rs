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

    /// Makes `service` known (state `missing`) before any data arrives for it.
    pub fn declare(&mut self, service: &str) {
        if !self.services.contains_key(service) {
            let name: Arc<str> = Arc::from(service);
            self.services.insert(name.clone(), Service::new(name));
        }
    }

    /// The settings and the state of `service` (declared if new), to apply many updates
    /// with one lookup. (Always `Some`; an `Option` only because the map is searched twice.)
    pub fn service(&mut self, service: &str) -> Option<(&ModelConfig, &mut Service)> {
        self.declare(service);
        let Model { config, services } = self;
        services.get_mut(service).map(|s| (&*config, s))
    }

    /// Applies one update for `service`, observed at `now`.
    pub fn apply(&mut self, service: &str, update: Update, now: f64) {
        if let Some((config, s)) = self.service(service) {
            s.apply(update, config, now);
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
