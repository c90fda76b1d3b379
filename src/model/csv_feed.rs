//! What a service's CSV files said: the newest accepted `_stats.csv` (folded by the guard),
//! current rates from the history's rows or from counter deltas, failures and exceptions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::guard::{Guard, Key};
use super::update::{
    cut_chars, EndpointStats, ExceptionCount, Failure, HistoryRow, StatsTable, MAX_MESSAGE_CHARS,
};
use super::window::CounterWindow;
use super::View;

/// The CSV feed of one service.
#[derive(Debug, Default, Clone)]
pub struct CsvFeed {
    stats: Option<StatsTable>,
    windows: HashMap<Key, CounterWindow>,
    total_window: CounterWindow,
    /// Current rates per endpoint from full-history rows.
    history_rates: HashMap<Key, (f64, f64)>,
    /// Current rates of the history's Aggregated row.
    history_total: Option<(f64, f64)>,
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
    pub fn apply_stats(&mut self, mut table: StatsTable, guard: &mut Guard, max: usize, now: f64) {
        let new_run = self
            .stats
            .as_ref()
            .is_some_and(|old| table.total.requests < old.total.requests);
        if new_run {
            self.windows.clear();
            self.total_window = CounterWindow::default();
        }
        table.rows = fold_rows(std::mem::take(&mut table.rows), guard, max);
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

    /// The current rates of one history row.
    pub fn apply_history(&mut self, row: HistoryRow) {
        let rates = (row.current_rps, row.current_fail_per_sec);
        if row.is_total() {
            self.history_total = Some(rates);
        } else {
            self.history_rates.insert((row.method, row.name), rates);
        }
    }

    /// The history started over: forget its rates.
    pub fn reset_history(&mut self) {
        self.history_rates.clear();
        self.history_total = None;
    }

    /// A complete `_failures.csv` snapshot, folded by the guard.
    pub fn apply_failures(&mut self, rows: Vec<Failure>, guard: &mut Guard, max: usize) {
        let mut merged: BTreeMap<(Key, Arc<str>), u64> = BTreeMap::new();
        for row in rows {
            let key = guard.route(&(row.method, row.name), max);
            *merged.entry((key, row.error)).or_default() += row.occurrences;
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
    pub fn apply_exceptions(&mut self, rows: Vec<ExceptionCount>) {
        let mut by_message: BTreeMap<Arc<str>, u64> = BTreeMap::new();
        for e in rows {
            let message = match cut_chars(&e.message, MAX_MESSAGE_CHARS) {
                cut if cut.len() == e.message.len() => e.message,
                cut => Arc::from(cut),
            };
            *by_message.entry(message).or_default() += e.count;
        }
        self.exceptions = by_message
            .into_iter()
            .map(|(message, count)| ExceptionCount { message, count })
            .collect();
    }

    /// What the files say, with current rates; `None` before any `_stats.csv` was accepted.
    pub fn view(&self) -> Option<View> {
        let table = self.stats.as_ref()?;
        let endpoints = table
            .rows
            .iter()
            .map(|row| {
                let key = (row.method.clone(), row.name.clone());
                let rates = match self.history_rates.get(&key) {
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
            .history_total
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

/// Applies the cardinality guard to a snapshot's rows: rows past the limit are merged into
/// one `__other__` row per method (sums; weighted means; min of mins; max of maxes and of
/// percentiles, an upper bound).
fn fold_rows(rows: Vec<EndpointStats>, guard: &mut Guard, max: usize) -> Vec<EndpointStats> {
    let mut kept = Vec::with_capacity(rows.len());
    let mut other: BTreeMap<Arc<str>, EndpointStats> = BTreeMap::new();
    for row in rows {
        let key = (row.method.clone(), row.name.clone());
        let routed = guard.route(&key, max);
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
    kept
}

fn merge_row(acc: &mut EndpointStats, row: &EndpointStats) {
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
    for (a, b) in acc.quantiles.iter_mut().zip(&row.quantiles) {
        a.1 = match (a.1.is_nan(), b.1.is_nan()) {
            (false, false) => a.1.max(b.1),
            (true, _) => b.1,
            (false, true) => a.1,
        };
    }
    acc.requests += row.requests;
    acc.failures += row.failures;
}
