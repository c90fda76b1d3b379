//! What a service's CSV files said: the newest accepted `_stats.csv` (folded by the guard),
//! current rates from the history's rows or from counter deltas, failures and exceptions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::cardinality::{cut_label_arc, Guard, Key};
use super::config::{ModelConfig, View};
use super::update::{
    cut_chars, CurrentRates, EndpointStats, ExceptionCount, Failure, HistoryRow, StatsTable,
    MAX_MESSAGE_CHARS,
};
use super::window::CounterWindow;

/// The CSV feed of one service.
#[derive(Debug, Default, Clone)]
pub struct CsvFeed {
    stats: Option<StatsTable>,
    windows: HashMap<Key, CounterWindow>,
    total_window: CounterWindow,
    /// Current rates per endpoint as Locust reported them (full-history rows, or a web UI).
    reported_rates: HashMap<Key, (f64, f64)>,
    /// Current rates of all requests as Locust reported them.
    reported_total: Option<(f64, f64)>,
    failures: Vec<Failure>,
    exceptions: Vec<ExceptionCount>,
}

/// What a CSV row gives the summary: the sum and count it implies (Locust's percentile
/// columns cover every request of the row).
fn complete(row: &mut EndpointStats) {
    row.timed = row.requests;
    row.duration_sum_ms = row.avg_ms * row.requests as f64;
    row.content_bytes_total = row.avg_content_bytes * row.requests as f64;
}

impl CsvFeed {
    /// A complete `_stats.csv` snapshot. Counters that went down mean a new run (or a stats
    /// reset): the rate windows start over, and the snapshot replaces the old one whole.
    pub fn apply_stats(
        &mut self,
        mut table: StatsTable,
        guard: &mut Guard,
        config: &ModelConfig,
        now: f64,
    ) {
        let new_run = self
            .stats
            .as_ref()
            .is_some_and(|old| table.total.requests < old.total.requests);
        if new_run {
            self.windows.clear();
            self.total_window = CounterWindow::default();
        }
        table.rows = fold_rows(std::mem::take(&mut table.rows), guard, config.max_endpoints);
        for row in table
            .rows
            .iter_mut()
            .chain(std::iter::once(&mut table.total))
        {
            complete(row);
        }
        let mut live: HashSet<Key> = HashSet::with_capacity(table.rows.len());
        for row in &table.rows {
            let key = (row.method.clone(), row.name.clone());
            self.windows
                .entry(key.clone())
                .or_default()
                .record(now, row.requests, row.failures);
            live.insert(key);
        }
        self.windows.retain(|k, _| live.contains(k));
        self.total_window
            .record(now, table.total.requests, table.total.failures);
        self.stats = Some(table);
    }

    /// The current rates of one history row. Per-endpoint rates are kept only for endpoints
    /// the guard admitted (from `_stats.csv`), so a history full of unknown names holds no
    /// memory for them.
    pub fn apply_history(&mut self, row: HistoryRow, guard: &Guard) {
        let rates = (row.current_rps, row.current_fail_per_sec);
        if row.is_total() {
            self.reported_total = Some(rates);
            return;
        }
        if let Some(key) = guard.admitted(&row.method, &row.name) {
            self.reported_rates.insert(key, rates);
        }
    }

    /// A web UI's current rates: they replace whatever was reported before.
    pub fn apply_reported(
        &mut self,
        rates: Vec<CurrentRates>,
        total: Option<(f64, f64)>,
        guard: &Guard,
    ) {
        self.reported_rates.clear();
        for ((method, name), r) in rates {
            if let Some(key) = guard.admitted(&method, &name) {
                self.reported_rates.insert(key, r);
            }
        }
        self.reported_total = total;
    }

    /// The history started over: forget its rates.
    pub fn reset_history(&mut self) {
        self.reported_rates.clear();
        self.reported_total = None;
    }

    /// A complete `_failures.csv` snapshot, folded by the guard.
    pub fn apply_failures(&mut self, rows: Vec<Failure>, guard: &mut Guard, config: &ModelConfig) {
        let mut merged: BTreeMap<(Key, Arc<str>), u64> = BTreeMap::new();
        for row in rows {
            let key = (cut_label_arc(&row.method), cut_label_arc(&row.name));
            let key = guard.route(&key, config.max_endpoints);
            let error = guard.route_error(
                &key,
                &cut_label_arc(&row.error),
                config.max_errors_per_endpoint,
            );
            let n = merged.entry((key, error)).or_default();
            *n = n.saturating_add(row.occurrences);
        }
        self.failures = merged
            .into_iter()
            .map(|(((method, name), error), occurrences)| Failure {
                method,
                name,
                error,
                occurrences,
            })
            .collect();
    }

    /// A complete `_exceptions.csv` snapshot. Messages are cut before grouping, so two long
    /// messages with one prefix are one series.
    pub fn apply_exceptions(
        &mut self,
        rows: Vec<ExceptionCount>,
        guard: &mut Guard,
        config: &ModelConfig,
    ) {
        let mut by_message: BTreeMap<Arc<str>, u64> = BTreeMap::new();
        for e in rows {
            let message = match cut_chars(&e.message, MAX_MESSAGE_CHARS) {
                cut if cut.len() == e.message.len() => e.message,
                cut => Arc::from(cut),
            };
            let message = guard.route_exception(&message, config.max_exceptions);
            let n = by_message.entry(message).or_default();
            *n = n.saturating_add(e.count);
        }
        self.exceptions = by_message
            .into_iter()
            .map(|(message, count)| ExceptionCount { message, count })
            .collect();
    }

    /// True once a `_stats.csv` (or a report) was accepted.
    pub fn view_is_some(&self) -> bool {
        self.stats.is_some()
    }

    /// What the files say, with current rates; `None` before any `_stats.csv` was accepted.
    pub fn view(&self) -> Option<View> {
        let table = self.stats.as_ref()?;
        let endpoints = table
            .rows
            .iter()
            .map(|row| {
                let key = (row.method.clone(), row.name.clone());
                let rates = match self.reported_rates.get(&key) {
                    Some(r) => *r,
                    None => self
                        .windows
                        .get(&key)
                        .map_or((0.0, 0.0), CounterWindow::rates),
                };
                with_rates(row, rates)
            })
            .collect();
        let total_rates = self
            .reported_total
            .unwrap_or_else(|| self.total_window.rates());
        Some(View {
            endpoints,
            total: Some(with_rates(&table.total, total_rates)),
            errors: self.failures.clone(),
            exceptions: self.exceptions.clone(),
        })
    }
}

fn with_rates(row: &EndpointStats, (rps, fps): (f64, f64)) -> EndpointStats {
    EndpointStats {
        current_rps: rps,
        current_fail_per_sec: fps,
        ..row.clone()
    }
}

/// Applies the guard to a snapshot's rows: labels cut to their bound (rows that become the
/// same endpoint are merged), and rows past `--max-endpoints` merged into one `__other__`
/// row per method (sums; weighted means; min of mins; max of maxes and of percentiles, an
/// upper bound).
fn fold_rows(rows: Vec<EndpointStats>, guard: &mut Guard, max: usize) -> Vec<EndpointStats> {
    let mut kept: Vec<EndpointStats> = Vec::with_capacity(rows.len());
    let mut index: HashMap<Key, usize> = HashMap::with_capacity(rows.len());
    for mut row in rows {
        row.method = cut_label_arc(&row.method);
        row.name = cut_label_arc(&row.name);
        let key = guard.route(&(row.method.clone(), row.name.clone()), max);
        row.name = key.1.clone();
        match index.get(&key) {
            Some(&i) => kept[i].merge_folded(&row),
            None => {
                index.insert(key, kept.len());
                kept.push(row);
            }
        }
    }
    kept
}
