//! What a service's event streams said: one [`EventEndpoint`] per (method, name), the total,
//! failures by error and exceptions by message.

use std::collections::HashMap;
use std::sync::Arc;

use super::cardinality::{cut_label, Guard, Key};
use super::config::{FastHash, ModelConfig, View};
use super::endpoint::{EventEndpoint, EVENT_QUANTILES};
use super::exemplar::Exemplar;
use super::timeline::Cumulative;
use super::update::{EndpointStats, ExceptionCount, Failure, Request, RequestBatch, AGGREGATED};

/// The endpoints of one name, by method (a name rarely has more than a few).
type ByMethod = Vec<(Arc<str>, EventEndpoint)>;

/// The event feed of one service.
#[derive(Debug, Default, Clone)]
pub struct EventFeed {
    /// name → [(method, endpoint)]: looked up by `&str` with no allocation per event.
    endpoints: HashMap<Arc<str>, ByMethod, FastHash>,
    total: Option<EventEndpoint>,
    failures: HashMap<(Key, Arc<str>), u64, FastHash>,
    exceptions: HashMap<Arc<str>, u64, FastHash>,
}

/// Offers a traced, timed request to its endpoint's exemplars: out of line, so a request
/// without trace ids pays one test of `ev.trace` on the hot path.
#[cold]
#[inline(never)]
fn offer(endpoint: &mut EventEndpoint, bounds: &[f64], ev: &Request<'_>) {
    if let (Some(trace), Some(ms)) = (ev.trace, ev.response_time_ms) {
        let seconds = ms / 1000.0;
        let time = ev.time;
        endpoint.offer_exemplar(
            bounds,
            Exemplar {
                trace,
                seconds,
                time,
            },
        );
    }
}

/// `n + 1`, never wrapping.
fn bump(n: &mut u64) {
    *n = n.saturating_add(1);
}

impl EventFeed {
    /// Counts one request (the hot path: one hash lookup, no allocation for a known endpoint).
    pub fn record(&mut self, ev: &Request<'_>, guard: &mut Guard, config: &ModelConfig) {
        let bounds = &config.buckets;
        let failed = ev.error.is_some();
        let (rt, len) = (ev.response_time_ms, ev.response_length);
        let (method, name) = (cut_label(&ev.method), cut_label(&ev.name));
        self.total
            .get_or_insert_with(EventEndpoint::total)
            .record(bounds, ev.time, rt, len, failed);
        let known = self
            .endpoints
            .get_mut(name)
            .and_then(|methods| methods.iter_mut().find(|(m, _)| **m == *method));
        let key = match known {
            Some((m, endpoint)) => {
                endpoint.record(bounds, ev.time, rt, len, failed);
                if ev.trace.is_some() {
                    offer(endpoint, bounds, ev);
                }
                if !failed {
                    return;
                }
                let m = m.clone();
                // The map's own key, cloned (a reference count) for the failure entry.
                let n = self.endpoints.get_key_value(name).map(|(k, _)| k.clone());
                (m, n.unwrap_or_else(|| Arc::from(name)))
            }
            None => {
                let (key, endpoint) = self.admit(method, name, guard, config);
                endpoint.record(bounds, ev.time, rt, len, failed);
                if ev.trace.is_some() {
                    offer(endpoint, bounds, ev);
                }
                key
            }
        };
        if let Some(error) = &ev.error {
            let error = Arc::from(cut_label(error));
            let error = guard.route_error(&key, &error, config.max_errors_per_endpoint);
            bump(self.failures.entry((key, error)).or_default());
        }
    }

    /// The endpoint of (method, name) through the guard (`__other__` past the limit),
    /// created if new, with the key it is filed under.
    fn admit(
        &mut self,
        method: &str,
        name: &str,
        guard: &mut Guard,
        config: &ModelConfig,
    ) -> (Key, &mut EventEndpoint) {
        let key = guard.route(&(Arc::from(method), Arc::from(name)), config.max_endpoints);
        let methods = self.endpoints.entry(key.1.clone()).or_default();
        let index = match methods.iter().position(|(m, _)| *m == key.0) {
            Some(i) => i,
            None => {
                methods.push((key.0.clone(), EventEndpoint::new(&config.buckets)));
                methods.len() - 1
            }
        };
        (key, &mut methods[index].1)
    }

    /// Counts a producer's batch of one endpoint's requests.
    pub fn record_batch(
        &mut self,
        batch: &RequestBatch<'_>,
        guard: &mut Guard,
        config: &ModelConfig,
    ) {
        let bounds = &config.buckets;
        let failures = batch
            .errors
            .iter()
            .fold(0u64, |acc, (_, n)| acc.saturating_add(*n));
        self.total
            .get_or_insert_with(EventEndpoint::total)
            .record_batch(bounds, batch, failures);
        let (method, name) = (cut_label(&batch.method), cut_label(&batch.name));
        let (key, endpoint) = self.admit(method, name, guard, config);
        endpoint.record_batch(bounds, batch, failures);
        for e in &batch.exemplars {
            endpoint.offer_exemplar(bounds, *e);
        }
        for (error, n) in &batch.errors {
            let error = Arc::from(cut_label(error));
            let error = guard.route_error(&key, &error, config.max_errors_per_endpoint);
            let count = self.failures.entry((key.clone(), error)).or_default();
            *count = count.saturating_add(*n);
        }
    }

    /// Counts one exception (its message already cut to 200 characters).
    pub fn record_exception(&mut self, message: Arc<str>, guard: &mut Guard, config: &ModelConfig) {
        let message = guard.route_exception(&message, config.max_exceptions);
        bump(self.exceptions.entry(message).or_default());
    }

    /// Each endpoint's cumulative figures (the total not among them), for the timeline.
    pub fn cumulative(&self) -> impl Iterator<Item = (Key, Cumulative<'_>)> {
        self.endpoints.iter().flat_map(|(name, methods)| {
            methods.iter().map(move |(method, e)| {
                (
                    (method.clone(), name.clone()),
                    Cumulative {
                        requests: e.requests,
                        failures: e.failures,
                        native: e.native(),
                    },
                )
            })
        })
    }

    /// True once a request was counted.
    pub fn has_requests(&self) -> bool {
        self.total.as_ref().is_some_and(|t| t.requests > 0)
    }

    /// What the events say.
    pub fn view(&self, config: &ModelConfig) -> View {
        let bounds = &config.buckets;
        let more = config.check_quantiles();
        let serve = |method, name, e: &EventEndpoint| stats(method, name, e, bounds, &more);
        let endpoints = self
            .endpoints
            .iter()
            .flat_map(|(name, methods)| methods.iter().map(move |(method, e)| (name, method, e)))
            .map(|(name, method, e)| serve(method.clone(), name.clone(), e))
            .collect();
        let total = self
            .total
            .as_ref()
            .map(|e| serve(Arc::from(""), Arc::from(AGGREGATED), e));
        let mut errors: Vec<Failure> = self
            .failures
            .iter()
            .map(|(((method, name), error), &occurrences)| Failure {
                method: method.clone(),
                name: name.clone(),
                error: error.clone(),
                occurrences,
            })
            .collect();
        errors.sort_by(|a, b| (&a.name, &a.method, &a.error).cmp(&(&b.name, &b.method, &b.error)));
        let mut exceptions: Vec<ExceptionCount> = self
            .exceptions
            .iter()
            .map(|(message, &count)| ExceptionCount {
                message: message.clone(),
                count,
            })
            .collect();
        exceptions.sort_by(|a, b| a.message.cmp(&b.message));
        View {
            endpoints,
            total,
            errors,
            exceptions,
        }
    }
}

/// What one event endpoint serves; `more` are the quantiles the checks ask for beyond the
/// served ones.
fn stats(
    method: Arc<str>,
    name: Arc<str>,
    e: &EventEndpoint,
    bounds: &[f64],
    more: &[f64],
) -> EndpointStats {
    let (current_rps, current_fail_per_sec) = e.rates();
    let quantiles = e.quantiles_ms(&EVENT_QUANTILES);
    let median = quantiles
        .iter()
        .find(|(q, _)| *q == 0.5)
        .map_or(f64::NAN, |(_, ms)| *ms);
    // Field by field onto the defaults: a column only the CSV files have needs no edit here.
    let mut s = EndpointStats {
        method,
        name,
        ..EndpointStats::default()
    };
    s.requests = e.requests;
    s.failures = e.failures;
    s.avg_ms = e.avg_ms();
    s.min_ms = e.min_ms.unwrap_or(0.0);
    s.max_ms = e.max_ms;
    s.median_ms = if median.is_nan() { 0.0 } else { median };
    s.avg_content_bytes = e.avg_content();
    s.current_rps = current_rps;
    s.current_fail_per_sec = current_fail_per_sec;
    s.quantiles = quantiles;
    if !more.is_empty() {
        s.more_quantiles = e.quantiles_ms(more);
    }
    s.precision = e.precision();
    s.timed = e.timed;
    s.duration_sum_ms = e.sum_ms;
    s.content_bytes_total = e.content_bytes as f64;
    if !e.is_total() {
        s.buckets = Some(e.cumulative_buckets(bounds));
        s.native = Some(e.native_buckets());
        s.exemplars = e.exemplars();
    }
    s.created = e.created;
    s
}
