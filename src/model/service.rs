//! Per-service state: the CSV feed, the event feed, the cardinality guard they share, users
//! and workers, and the run-state machine.

use std::sync::Arc;

use super::cardinality::Guard;
use super::config::{ModelConfig, View};
use super::csv_feed::CsvFeed;
use super::event_feed::EventFeed;
use super::snapshot::{RunState, ServiceSnapshot};
use super::update::{HistoryRow, Role, RunInfo, RunnerStatus, Update, WorkerState};

/// When the data of `update` was made, for the run's start: its own time where it has one,
/// else the file's write time (`pending`), else `now`; `None` for updates that are no data
/// of the run (a role, a poll that failed, a file's write time on its own).
fn data_time(update: &Update<'_>, pending: Option<f64>, now: f64) -> Option<f64> {
    match update {
        Update::Request(r) => Some(r.time.min(now)),
        Update::Requests(b) => Some(b.time.min(now)),
        Update::History(row) => Some(row.timestamp.min(now)),
        Update::Stats(t) | Update::Final(t) if t.total.requests > 0 => {
            Some(pending.unwrap_or(now).min(now))
        }
        Update::Runner(status) if status.total_rates.is_some_and(|r| r.0 > 0.0) => Some(now),
        _ => None,
    }
}

/// One service's state.
#[derive(Debug, Clone)]
pub struct Service {
    name: Arc<str>,
    csv: CsvFeed,
    events: EventFeed,
    guard: Guard,
    users: Option<u64>,
    /// The last history tick: (timestamp, user count).
    users_tick: Option<(f64, u64)>,
    /// Users rose at the last report; `rising_at` is when users were last reported (spawning
    /// lasts while that is recent).
    rising: bool,
    rising_at: f64,
    workers: Option<u64>,
    /// The kind of runner, when the input says.
    role: Option<Role>,
    last_activity: Option<f64>,
    /// The newest write time of the service's files, where the input says: then the run's
    /// activity, whenever the files were read.
    written: Option<f64>,
    /// The write time of the file whose whole read comes next.
    pending_write: Option<f64>,
    /// The write time of the `_stats.csv` applied last.
    stats_written: Option<f64>,
    /// An end-of-run report was applied (at its write time, or when read): the run ended.
    final_written: Option<f64>,
    ended: bool,
    /// The exporter is stopping: nothing more is watched, the run reads `stopped`.
    closed: bool,
    /// It was closed while its run was still live: the last values are partial.
    interrupted: bool,
    /// What a Locust web UI last said.
    runner: Option<RunnerStatus>,
    /// Whether the last poll of a web UI worked (`None`: not fed by one).
    up: Option<bool>,
    /// The current percentiles of all requests from a full-history `_stats_history.csv`.
    history_percentiles: Vec<(f64, f64)>,
    /// The history has per-endpoint rows (`--csv-full-history`).
    full_history: bool,
    /// Unix seconds of the run's earliest data: a request's time, a history row's
    /// timestamp, a file's write time, or when a web UI first answered with a run.
    started: Option<f64>,
    /// What the run says of itself.
    info: RunInfo,
}

impl Service {
    /// A service that has seen no data yet.
    pub fn new(name: Arc<str>) -> Self {
        Service {
            name,
            csv: CsvFeed::default(),
            events: EventFeed::default(),
            guard: Guard::default(),
            users: None,
            users_tick: None,
            rising: false,
            rising_at: 0.0,
            workers: None,
            role: None,
            last_activity: None,
            written: None,
            pending_write: None,
            stats_written: None,
            final_written: None,
            ended: false,
            closed: false,
            interrupted: false,
            runner: None,
            up: None,
            history_percentiles: Vec::new(),
            full_history: false,
            started: None,
            info: RunInfo::default(),
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies one update observed at `now`.
    pub fn apply(&mut self, update: Update<'_>, config: &ModelConfig, now: f64) {
        if let Some(at) = data_time(&update, self.pending_write, now) {
            self.started = Some(self.started.map_or(at, |s| s.min(at)));
        }
        let guard = &mut self.guard;
        match update {
            Update::Request(ev) => self.events.record(&ev, guard, config),
            Update::Requests(batch) => self.events.record_batch(&batch, guard, config),
            Update::Stats(table) => {
                let at = self.pending_write.take();
                match (self.final_written, at) {
                    // The run's last `_stats.csv`, older than its end-of-run report (read after
                    // it): the report's numbers stay.
                    (Some(report), Some(csv)) if csv <= report => {}
                    _ => {
                        if self.final_written.take().is_some() {
                            self.ended = false; // a newer run
                        }
                        self.stats_written = at;
                        self.csv.apply_stats(table, guard, config, now);
                    }
                }
            }
            Update::Final(table) => {
                let at = self.pending_write.take();
                // A report older than the `_stats.csv` is an earlier run's.
                let current = match (at, self.stats_written) {
                    (Some(report), Some(csv)) => report >= csv,
                    _ => true,
                };
                if current {
                    self.csv.apply_stats(table, guard, config, now);
                    self.final_written = Some(at.unwrap_or(now));
                    self.ended = true;
                    self.rising = false;
                }
            }
            Update::History(row) => self.apply_history(row, now),
            Update::HistoryReset => self.reset_history(),
            Update::Failures(rows) => self.csv.apply_failures(rows, guard, config),
            Update::Exceptions(rows) => self.csv.apply_exceptions(rows, guard, config),
            Update::Exception(message) => self.events.record_exception(message, guard, config),
            Update::TestStart => {
                // Event-fed counters are not reset: a service may be fed by several streams
                // (a master's and each worker's), and one stream's start must not wipe what
                // the others counted. Counters are cumulative for the life of the exporter.
                self.ended = false;
                self.rising = false;
            }
            Update::TestStop | Update::EndOfInput => {
                self.ended = true;
                self.rising = false;
                if self.last_activity.is_none() {
                    return; // an input that ended with no data leaves the service `missing`
                }
            }
            Update::Users(n) => {
                self.rising_at = now;
                self.rising = n > self.users.unwrap_or(0);
                self.users = Some(n);
            }
            Update::Workers(n) => self.workers = Some(n),
            Update::Role(role, info) => {
                self.role = Some(role);
                self.info.merge(info);
            }
            Update::Runner(status) => {
                self.role = Some(if status.workers.is_some() {
                    Role::Master
                } else {
                    Role::Standalone
                });
                self.users = Some(status.user_count);
                self.workers = status
                    .workers
                    .as_ref()
                    .map(|w| w.iter().filter(|w| w.state != WorkerState::Missing).count() as u64);
                let rates = status.rates.clone();
                self.csv
                    .apply_reported(rates, status.total_rates, &self.guard);
                self.runner = Some(status);
                self.up = Some(true);
            }
            Update::Written(at) => {
                // Files last written long ago are a run that ended, even when read only now.
                let at = at.min(now);
                self.written = Some(self.written.map_or(at, |w| w.max(at)));
                self.pending_write = Some(at);
                return;
            }
            Update::RunnerDown => {
                self.up = Some(false);
                if self.runner.is_none() {
                    return; // never reached: stays `missing`
                }
            }
        }
        self.last_activity = Some(now);
    }

    /// One history row: users (and whether they are rising) and current rates.
    fn apply_history(&mut self, row: HistoryRow, now: f64) {
        self.rising_at = now;
        let rising = match self.users_tick {
            // Another row of the same tick.
            Some((ts, _)) if row.timestamp == ts => None,
            Some((ts, users)) if row.timestamp > ts => Some(row.user_count > users),
            // A row from before the newest tick (out of order, or a clock stepped back): it
            // says nothing of now; a new run starts with a truncation (`HistoryReset`).
            Some(_) => None,
            // The first tick.
            None => Some(row.user_count > 0),
        };
        if let Some(rising) = rising {
            self.rising = rising;
            self.users_tick = Some((row.timestamp, row.user_count));
        }
        self.users = Some(row.user_count);
        if row.is_total() {
            self.history_percentiles = row.percentiles.clone();
        } else {
            self.full_history = true;
        }
        self.csv.apply_history(row, &self.guard);
    }

    /// The history file started over: forget what came from it.
    fn reset_history(&mut self) {
        self.users = None;
        self.users_tick = None;
        self.rising = false;
        self.csv.reset_history();
        self.ended = false;
    }

    /// The exporter is stopping at `now`: the service reads `stopped` from now on, and is
    /// marked interrupted when its run was still live (spawning or running, its input not
    /// ended).
    pub fn close(&mut self, now: f64, stale_after: f64) {
        let state = self.state(now, stale_after);
        self.interrupted = !self.ended && matches!(state, RunState::Spawning | RunState::Running);
        self.closed = true;
    }

    /// The run state at `now`: Locust's own through a web UI, else inferred.
    pub fn state(&self, now: f64, stale_after: f64) -> RunState {
        if self.closed && self.last_activity.is_some() {
            return RunState::Stopped;
        }
        if let Some(status) = &self.runner {
            return status.state;
        }
        // A service fed by files is as live as their newest write.
        let activity = self.last_activity.map(|a| self.written.unwrap_or(a));
        match activity {
            None => RunState::Missing,
            Some(_) if self.ended => RunState::Stopped,
            Some(at) if now - at > stale_after => RunState::Stopped,
            Some(_) if self.rising && now - self.rising_at <= stale_after => RunState::Spawning,
            Some(_) => RunState::Running,
        }
    }

    /// The service as served at `now`: from the CSV files once a `_stats.csv` was accepted,
    /// else from the events.
    pub fn snapshot(&self, config: &ModelConfig, now: f64) -> ServiceSnapshot {
        let View {
            mut endpoints,
            mut total,
            errors,
            exceptions,
        } = self.csv.view().unwrap_or_else(|| self.events.view(config));
        endpoints.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        let state = self.state(now, config.stale_after_secs);
        let (mut users, mut workers) = (self.users, self.workers);
        if state == RunState::Stopped {
            // As Locust's runner reports after a stop: nothing is running any more. Counters,
            // totals, percentiles and errors stay.
            for e in endpoints.iter_mut().chain(total.iter_mut()) {
                e.current_rps = 0.0;
                e.current_fail_per_sec = 0.0;
            }
            users = users.map(|_| 0);
            // A web UI reports the workers still connected after a stop; otherwise none are
            // known to be working any more.
            if self.runner.is_none() || self.closed {
                workers = workers.map(|_| 0);
            }
        }
        let current_percentiles = match &self.runner {
            Some(status) => status.current_percentiles.clone(),
            None if self.full_history => self.history_percentiles.clone(),
            None => Vec::new(),
        };
        ServiceSnapshot {
            name: self.name.clone(),
            state,
            users,
            workers,
            role: self.role,
            worker_list: self
                .runner
                .as_ref()
                .and_then(|s| s.workers.clone())
                .unwrap_or_default(),
            up: self.up,
            current_percentiles,
            endpoints,
            total,
            errors,
            exceptions,
            last_update: self.last_activity.map(|a| self.written.unwrap_or(a)),
            folded: self.guard.folded(),
            interrupted: self.interrupted,
            started: self.started,
            info: self.info.clone(),
        }
    }
}
