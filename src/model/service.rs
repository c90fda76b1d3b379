//! Per-service state: the CSV-fed tables, the event-fed endpoints, users and workers, the
//! run-state machine, the reset-once logic and the cardinality guard.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use std::sync::Arc;

use super::endpoint::{EventEndpoint, EVENT_QUANTILES};
use super::snapshot::{
    EndpointSnapshot, ErrorSnapshot, ExceptionSnapshot, RunState, ServiceSnapshot,
};
use super::update::{
    cut_chars, ExceptionRow, FailureRow, HistoryRow, RequestRef, StatsRow, StatsTable, Update,
    MAX_MESSAGE_CHARS,
};
use super::window::CounterWindow;
use super::ModelConfig;

/// An endpoint's identity: (method, name).
pub type Key = (Arc<str>, Arc<str>);

/// The name endpoints past `--max-endpoints` are folded into.
pub const OTHER_NAME: &str = "__other__";

/// At most this many folded endpoints are remembered (as hashes) to count them once each.
const MAX_FOLDED_REMEMBERED: usize = 1 << 20;

/// The cardinality guard: the first `max` distinct endpoints are admitted, the rest folded.
#[derive(Debug, Default, Clone)]
struct Guard {
    admitted: HashSet<Key>,
    folded: HashSet<u64>,
    other: Option<Arc<str>>,
}

impl Guard {
    /// The key to record `key` under: itself if admitted (admitting it if there is room),
    /// else `(method, __other__)`.
    fn route(&mut self, key: &Key, max: usize) -> Key {
        if self.admitted.contains(key) {
            return key.clone();
        }
        if self.admitted.len() < max {
            self.admitted.insert(key.clone());
            return key.clone();
        }
        if self.folded.len() < MAX_FOLDED_REMEMBERED {
            let mut h = DefaultHasher::new();
            key.hash(&mut h);
            self.folded.insert(h.finish());
        }
        let other = self
            .other
            .get_or_insert_with(|| Arc::from(OTHER_NAME))
            .clone();
        (key.0.clone(), other)
    }
}

/// What the CSV files said, newest accepted version of each.
#[derive(Debug, Default, Clone)]
struct CsvPart {
    stats: Option<StatsTable>,
    windows: HashMap<Key, CounterWindow>,
    total_window: CounterWindow,
    /// Current rates per endpoint from full-history rows.
    history_rates: HashMap<Key, (f64, f64)>,
    /// Current rates of the history's Aggregated row.
    history_total: Option<(f64, f64)>,
    failures: Vec<FailureRow>,
    exceptions: Vec<ExceptionRow>,
}

/// The endpoints of one name, by method (a name rarely has more than a few).
type ByMethod = Vec<(Arc<str>, EventEndpoint)>;

/// What the event stream said.
#[derive(Debug, Default, Clone)]
struct EventPart {
    /// name → [(method, endpoint)]: looked up by `&str` with no allocation per event.
    endpoints: HashMap<Arc<str>, ByMethod, FnvBuild>,
    total: Option<EventEndpoint>,
    failures: HashMap<(Key, Arc<str>), u64, FnvBuild>,
    exceptions: HashMap<Arc<str>, u64>,
}

/// FNV-1a: fast for the short endpoint names hashed once per event. (Names come from the
/// operator's own load test, so hash flooding is not a concern here.)
#[derive(Debug, Clone, Copy, Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Builds [`Fnv`] hashers.
pub type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// What a service serves, from the CSV files or from the events.
struct View {
    endpoints: Vec<EndpointSnapshot>,
    total: Option<EndpointSnapshot>,
    errors: Vec<ErrorSnapshot>,
    exceptions: Vec<ExceptionSnapshot>,
}

/// One service's state.
#[derive(Debug, Clone)]
pub struct Service {
    name: Arc<str>,
    csv: CsvPart,
    events: EventPart,
    users: Option<u64>,
    /// The last history tick: (timestamp, user count).
    users_tick: Option<(f64, u64)>,
    /// Users rose at the last report; `rising_at` is when users were last reported (spawning
    /// lasts while that is recent).
    rising: bool,
    rising_at: f64,
    workers: Option<u64>,
    last_activity: Option<f64>,
    ended: bool,
    guard: Guard,
}

impl Service {
    /// A service that has seen no data yet.
    pub fn new(name: Arc<str>) -> Self {
        Service {
            name,
            csv: CsvPart::default(),
            events: EventPart::default(),
            users: None,
            users_tick: None,
            rising: false,
            rising_at: 0.0,
            workers: None,
            last_activity: None,
            ended: false,
            guard: Guard::default(),
        }
    }

    /// Applies one update observed at `now`.
    pub fn apply(&mut self, update: Update, config: &ModelConfig, now: f64) {
        match update {
            Update::Stats(table) => self.apply_stats(table, config, now),
            Update::History(row) => self.apply_history(row, now),
            Update::HistoryReset => self.reset_history(now),
            Update::Failures(rows) => self.apply_failures(rows, config, now),
            Update::Exceptions(rows) => self.apply_exceptions(rows, now),
            Update::Request(ev) => self.record_request(&ev.borrowed(), config, now),
            Update::Exception { message } => self.apply_exception(message, now),
            Update::TestStart => self.start_test(now),
            Update::TestStop | Update::EndOfInput => self.stop(now),
            Update::Users(n) => self.set_users(n, now),
            Update::Workers(n) => self.set_workers(n, now),
        }
    }

    fn touch(&mut self, now: f64) {
        self.last_activity = Some(now);
    }

    /// A complete `_stats.csv` snapshot. Counters that went down mean a new run (or a stats
    /// reset): the rate windows start over, and the snapshot replaces the old one whole.
    pub fn apply_stats(&mut self, table: StatsTable, config: &ModelConfig, now: f64) {
        self.touch(now);
        let new_run = self
            .csv
            .stats
            .as_ref()
            .is_some_and(|old| table.total.requests < old.total.requests);
        if new_run {
            self.csv.windows.clear();
            self.csv.total_window = CounterWindow::default();
            self.csv.history_rates.clear();
            self.csv.history_total = None;
            self.ended = false;
        }
        let table = self.fold_rows(table, config.max_endpoints);
        for row in &table.rows {
            let key = (row.method.clone(), row.name.clone());
            self.csv
                .windows
                .entry(key)
                .or_default()
                .record(now, row.requests, row.failures);
        }
        let live: HashSet<Key> = table
            .rows
            .iter()
            .map(|r| (r.method.clone(), r.name.clone()))
            .collect();
        self.csv.windows.retain(|k, _| live.contains(k));
        self.csv
            .total_window
            .record(now, table.total.requests, table.total.failures);
        self.csv.stats = Some(table);
    }

    /// Applies the cardinality guard to a CSV snapshot: rows past the limit are merged into
    /// one `__other__` row per method (sums; weighted means; min of mins; max of maxes and
    /// of percentiles, an upper bound).
    fn fold_rows(&mut self, mut table: StatsTable, max: usize) -> StatsTable {
        let mut kept = Vec::with_capacity(table.rows.len());
        let mut other: BTreeMap<Arc<str>, StatsRow> = BTreeMap::new();
        for row in table.rows.drain(..) {
            let key = (row.method.clone(), row.name.clone());
            let routed = self.guard.route(&key, max);
            if Arc::ptr_eq(&routed.1, &key.1) {
                kept.push(row);
                continue;
            }
            match other.get_mut(&row.method) {
                None => {
                    let mut first = row;
                    first.name = routed.1;
                    other.insert(first.method.clone(), first);
                }
                Some(acc) => merge_row(acc, &row),
            }
        }
        kept.extend(other.into_values());
        table.rows = kept;
        table
    }

    /// One history row: users (and whether they are rising) and current rates.
    pub fn apply_history(&mut self, row: HistoryRow, now: f64) {
        self.touch(now);
        self.rising_at = now;
        let rising = match self.users_tick {
            // Another row of the same tick.
            Some((ts, _)) if row.timestamp == ts => None,
            Some((ts, users)) if row.timestamp > ts => Some(row.user_count > users),
            // The first tick, or time went backwards without a truncation we saw: a new run.
            _ => Some(row.user_count > 0),
        };
        if let Some(rising) = rising {
            self.rising = rising;
            self.users_tick = Some((row.timestamp, row.user_count));
        }
        self.users = Some(row.user_count);
        let rates = (row.current_rps, row.current_fail_per_sec);
        if row.aggregated {
            self.csv.history_total = Some(rates);
        } else {
            self.csv.history_rates.insert((row.method, row.name), rates);
        }
    }

    /// The history file started over: forget what came from it.
    pub fn reset_history(&mut self, now: f64) {
        self.touch(now);
        self.users = None;
        self.users_tick = None;
        self.rising = false;
        self.csv.history_rates.clear();
        self.csv.history_total = None;
        self.ended = false;
    }

    /// A complete `_failures.csv` snapshot.
    pub fn apply_failures(&mut self, rows: Vec<FailureRow>, config: &ModelConfig, now: f64) {
        self.touch(now);
        let mut merged: BTreeMap<(Key, Arc<str>), u64> = BTreeMap::new();
        for row in rows {
            let key = self
                .guard
                .route(&(row.method, row.name), config.max_endpoints);
            *merged.entry((key, row.error)).or_default() += row.occurrences;
        }
        self.csv.failures = merged
            .into_iter()
            .map(|(((method, name), error), occurrences)| FailureRow {
                method,
                name,
                error,
                occurrences,
            })
            .collect();
    }

    /// A complete `_exceptions.csv` snapshot.
    pub fn apply_exceptions(&mut self, rows: Vec<ExceptionRow>, now: f64) {
        self.touch(now);
        self.csv.exceptions = rows;
    }

    /// One request event (the hot path: one hash lookup, no allocation for a known endpoint).
    pub fn record_request(&mut self, ev: &RequestRef<'_>, config: &ModelConfig, now: f64) {
        self.touch(now);
        let bounds = &config.buckets;
        let failed = ev.error.is_some();
        let (rt, len) = (ev.response_time_ms, ev.response_length);
        self.events
            .total
            .get_or_insert_with(|| EventEndpoint::new(bounds))
            .record(bounds, ev.time, rt, len, failed);
        let known = self
            .events
            .endpoints
            .get_mut(&*ev.name)
            .and_then(|methods| methods.iter_mut().find(|(m, _)| **m == *ev.method));
        let key = match known {
            Some((method, endpoint)) => {
                endpoint.record(bounds, ev.time, rt, len, failed);
                if !failed {
                    return;
                }
                let method = method.clone();
                // The map's own key, cloned (a reference count) for the failure entry.
                let name = self
                    .events
                    .endpoints
                    .get_key_value(&*ev.name)
                    .map(|(k, _)| k.clone());
                (method, name.unwrap_or_else(|| Arc::from(&*ev.name)))
            }
            None => {
                let key = self.guard.route(
                    &(Arc::from(&*ev.method), Arc::from(&*ev.name)),
                    config.max_endpoints,
                );
                let methods = self.events.endpoints.entry(key.1.clone()).or_default();
                let index = match methods.iter().position(|(m, _)| *m == key.0) {
                    Some(i) => i,
                    None => {
                        methods.push((key.0.clone(), EventEndpoint::new(bounds)));
                        methods.len() - 1
                    }
                };
                methods[index].1.record(bounds, ev.time, rt, len, failed);
                key
            }
        };
        if let Some(error) = &ev.error {
            *self
                .events
                .failures
                .entry((key, Arc::from(&**error)))
                .or_default() += 1;
        }
    }

    /// An exception event.
    pub fn apply_exception(&mut self, message: Arc<str>, now: f64) {
        self.touch(now);
        *self.events.exceptions.entry(message).or_default() += 1;
    }

    /// A test started. Event-fed counters are not reset: a service may be fed by several
    /// streams (a master's and each worker's), and one stream's start must not wipe what
    /// the others counted. Counters are cumulative for the life of the exporter, which is
    /// what Prometheus counters and `rate()` expect.
    pub fn start_test(&mut self, now: f64) {
        self.touch(now);
        self.ended = false;
        self.rising = false;
    }

    /// The test stopped, or the input ended.
    pub fn stop(&mut self, now: f64) {
        if self.last_activity.is_some() {
            self.touch(now);
        }
        self.ended = true;
        self.rising = false;
    }

    /// The user count (events).
    pub fn set_users(&mut self, users: u64, now: f64) {
        self.touch(now);
        self.rising_at = now;
        self.rising = users > self.users.unwrap_or(0);
        self.users = Some(users);
    }

    /// The worker count (events).
    pub fn set_workers(&mut self, workers: u64, now: f64) {
        self.touch(now);
        self.workers = Some(workers);
    }

    fn state(&self, now: f64, stale_after: f64) -> RunState {
        match self.last_activity {
            None => RunState::Missing,
            Some(_) if self.ended => RunState::Stopped,
            Some(at) if now - at > stale_after => RunState::Stopped,
            Some(_) if self.rising && now - self.rising_at <= stale_after => RunState::Spawning,
            Some(_) => RunState::Running,
        }
    }

    /// The service as served at `now`.
    pub fn snapshot(&self, config: &ModelConfig, now: f64) -> ServiceSnapshot {
        let View {
            mut endpoints,
            total,
            errors,
            exceptions,
        } = match &self.csv.stats {
            Some(table) => self.csv_view(table),
            None => self.event_view(config),
        };
        endpoints.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        ServiceSnapshot {
            name: self.name.clone(),
            state: self.state(now, config.stale_after_secs),
            users: self.users,
            workers: self.workers,
            endpoints,
            total,
            errors,
            exceptions,
            last_update: self.last_activity,
            endpoints_dropped: self.guard.folded.len() as u64,
        }
    }

    fn csv_view(&self, table: &StatsTable) -> View {
        let endpoints = table
            .rows
            .iter()
            .map(|row| {
                let key = (row.method.clone(), row.name.clone());
                let rates = match self.csv.history_rates.get(&key) {
                    Some(r) => *r,
                    None => self
                        .csv
                        .windows
                        .get(&key)
                        .map_or((0.0, 0.0), CounterWindow::rates),
                };
                csv_endpoint(row, &table.quantiles, rates)
            })
            .collect();
        let total_rates = self
            .csv
            .history_total
            .unwrap_or_else(|| self.csv.total_window.rates());
        let total = csv_endpoint(&table.total, &table.quantiles, total_rates);
        let errors = self
            .csv
            .failures
            .iter()
            .map(|f| ErrorSnapshot {
                method: f.method.clone(),
                name: f.name.clone(),
                error: f.error.clone(),
                occurrences: f.occurrences,
            })
            .collect();
        let mut by_message: BTreeMap<Arc<str>, u64> = BTreeMap::new();
        for e in &self.csv.exceptions {
            // Cut before grouping, so two long messages with one prefix are one series.
            let message = match cut_chars(&e.message, MAX_MESSAGE_CHARS) {
                cut if cut.len() == e.message.len() => e.message.clone(),
                cut => Arc::from(cut),
            };
            *by_message.entry(message).or_default() += e.count;
        }
        let exceptions = by_message
            .into_iter()
            .map(|(message, count)| ExceptionSnapshot { message, count });
        View {
            endpoints,
            total: Some(total),
            errors,
            exceptions: exceptions.collect(),
        }
    }

    fn event_view(&self, config: &ModelConfig) -> View {
        let bounds = &config.buckets;
        let endpoints = self
            .events
            .endpoints
            .iter()
            .flat_map(|(name, methods)| methods.iter().map(move |(method, e)| (name, method, e)))
            .map(|(name, method, e)| event_endpoint(method, name, e, bounds))
            .collect();
        let total = self.events.total.as_ref().map(|e| {
            let aggregated: Arc<str> = Arc::from("Aggregated");
            event_endpoint(&Arc::from(""), &aggregated, e, bounds)
        });
        let mut errors: Vec<ErrorSnapshot> = self
            .events
            .failures
            .iter()
            .map(|(((method, name), error), &occurrences)| ErrorSnapshot {
                method: method.clone(),
                name: name.clone(),
                error: error.clone(),
                occurrences,
            })
            .collect();
        errors.sort_by(|a, b| (&a.name, &a.method, &a.error).cmp(&(&b.name, &b.method, &b.error)));
        let mut exceptions: Vec<ExceptionSnapshot> = self
            .events
            .exceptions
            .iter()
            .map(|(message, &count)| ExceptionSnapshot {
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

fn merge_row(acc: &mut StatsRow, row: &StatsRow) {
    let n_acc = acc.requests as f64;
    let n_row = row.requests as f64;
    let n = n_acc + n_row;
    if n > 0.0 {
        acc.avg_ms = (acc.avg_ms * n_acc + row.avg_ms * n_row) / n;
        acc.avg_content_bytes = (acc.avg_content_bytes * n_acc + row.avg_content_bytes * n_row) / n;
    }
    acc.min_ms = match (acc.requests, row.requests) {
        (0, _) => row.min_ms,
        (_, 0) => acc.min_ms,
        _ => acc.min_ms.min(row.min_ms),
    };
    acc.max_ms = acc.max_ms.max(row.max_ms);
    acc.median_ms = acc.median_ms.max(row.median_ms);
    for (a, b) in acc.percentiles.iter_mut().zip(&row.percentiles) {
        *a = match (*a, *b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
    }
    acc.requests += row.requests;
    acc.failures += row.failures;
}

fn csv_endpoint(row: &StatsRow, quantiles: &[f64], rates: (f64, f64)) -> EndpointSnapshot {
    EndpointSnapshot {
        method: row.method.clone(),
        name: row.name.clone(),
        requests: row.requests,
        failures: row.failures,
        avg_ms: row.avg_ms,
        min_ms: row.min_ms,
        max_ms: row.max_ms,
        median_ms: row.median_ms,
        avg_content_bytes: row.avg_content_bytes,
        current_rps: rates.0,
        current_fail_per_sec: rates.1,
        quantiles: quantiles
            .iter()
            .zip(&row.percentiles)
            .map(|(&q, v)| (q, v.unwrap_or(f64::NAN)))
            .collect(),
        duration_sum_ms: row.avg_ms * row.requests as f64,
        content_bytes_total: row.avg_content_bytes * row.requests as f64,
        timed: row.requests,
        buckets: None,
    }
}

fn event_endpoint(
    method: &Arc<str>,
    name: &Arc<str>,
    e: &EventEndpoint,
    bounds: &[f64],
) -> EndpointSnapshot {
    let (current_rps, current_fail_per_sec) = e.rates();
    let quantiles = e.quantiles_ms(&EVENT_QUANTILES);
    let median = quantiles
        .iter()
        .find(|(q, _)| *q == 0.5)
        .map_or(f64::NAN, |(_, ms)| *ms);
    EndpointSnapshot {
        method: method.clone(),
        name: name.clone(),
        requests: e.requests,
        failures: e.failures,
        avg_ms: e.avg_ms(),
        min_ms: e.min_ms.unwrap_or(0.0),
        max_ms: e.max_ms,
        median_ms: if median.is_nan() { 0.0 } else { median },
        avg_content_bytes: e.avg_content(),
        current_rps,
        current_fail_per_sec,
        quantiles,
        duration_sum_ms: e.sum_ms,
        content_bytes_total: e.content_bytes as f64,
        timed: e.timed,
        buckets: Some(e.cumulative_buckets(bounds)),
    }
}
