//! What one export request said: each service's updates, and an account of what was
//! accepted, ignored, stale or rejected (OTLP's partial success); or why it was refused whole.

use thiserror::Error;

use crate::model::update::Update;

/// A request that is not an OTLP export request at all: refused whole.
#[derive(Debug, Error, PartialEq)]
#[error("not a valid OTLP {signal} export request ({encoding}): {message}")]
pub struct Invalid {
    /// `metrics`, `traces` or `logs`.
    pub signal: &'static str,
    /// `protobuf` or `JSON`.
    pub encoding: &'static str,
    /// The decoder's message.
    pub message: String,
}

/// What one export request said of one service.
#[derive(Debug, Default)]
pub struct ServiceExport {
    /// The service.
    pub name: String,
    /// Its updates, in order.
    pub updates: Vec<Update<'static>>,
    /// Points or spans whose time was more than [`super::MAX_FUTURE_SECS`] ahead, taken as now.
    pub clamped: u64,
}

/// What one export request said.
#[derive(Debug, Default)]
pub struct Export {
    /// Updates by service, in the order the services came.
    pub services: Vec<ServiceExport>,
    /// Data points, spans or log records read and used.
    pub accepted: u64,
    /// Those read and ignored (other metrics; spans while requests come from metrics).
    pub ignored: u64,
    /// Points of a cumulative stream not newer than its last one, or lower (a retry, a
    /// duplicate, a collector's reordering): dropped, counted, not an error.
    pub stale: u64,
    /// Those rejected.
    pub rejected: u64,
    /// Why the first rejected one was.
    pub reason: Option<String>,
}

impl Export {
    pub(super) fn reject(&mut self, why: String) {
        self.rejected += 1;
        self.reason.get_or_insert(why);
    }

    pub(super) fn of(&mut self, service: &str) -> &mut ServiceExport {
        let i = match self.services.iter().position(|s| s.name == service) {
            Some(i) => i,
            None => {
                self.services.push(ServiceExport {
                    name: service.to_owned(),
                    ..ServiceExport::default()
                });
                self.services.len() - 1
            }
        };
        &mut self.services[i]
    }

    pub(super) fn push(&mut self, service: &str, update: Update<'static>) {
        self.of(service).updates.push(update);
    }
}
