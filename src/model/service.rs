//! Per-service state: the CSV feed, the event feed, the cardinality guard they share, users
//! and workers, and the run-state machine.

use std::sync::Arc;

use super::cardinality::Guard;
use super::config::{ModelConfig, View};
use super::csv_feed::CsvFeed;
use super::event_feed::EventFeed;
use super::snapshot::{RunState, ServiceSnapshot};
use super::timeline::{total_key, Timeline};
use super::update::{HistoryRow, LocustTable, Role, RunInfo, RunnerStatus, Update, WorkerState};

/// The input's own times of `update` (Unix seconds): a request's or a batch's, a history
/// row's with requests, a report's run window. File write times and poll times are not data
/// times: they say whether a file is still written, not when its run was.
fn data_times(update: &Update<'_>) -> Option<(f64, f64)> {
    match update {
        Update::Request(r) => Some((r.time, r.time)),
        Update::Requests(b) => Some((b.start.unwrap_or(b.time).min(b.time), b.time)),
        Update::Final(t) => t.window,
        Update::TestStart(Some(t)) | Update::TestStop(Some(t)) => Some((*t, *t)),
        _ => None,
    }
}

/// How near (seconds) a report's first request must be to the CSV history's start to be the
/// same run.
const SAME_RUN_SLACK_SECS: f64 = 5.0;

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
    /// The first write time of the service's files: the run's start when the input has no
    /// time of its own (a `_stats.csv` alone), for the start timestamp only.
    first_write: Option<f64>,
    /// The run's first and last data on the input's own clock (see [`data_times`]).
    span: Option<(f64, f64)>,
    /// The CSV history's run: the timestamp its requests began at (the last row before the
    /// first with requests, when it is the tick before), and its newest request count.
    history_start: Option<f64>,
    history_empty_at: Option<f64>,
    history_requests: Option<u64>,
    /// The total requests of the newest `_stats.csv` read.
    stats_requests: Option<u64>,
    /// An end-of-run report of this run is what the CSV feed serves: its total requests.
    report: Option<u64>,
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
    /// What the run says of itself.
    info: RunInfo,
    /// The run over time.
    timeline: Timeline,
    /// Input time at which the timeline's next interval ends (infinite: none kept).
    due: f64,
}

impl Service {
    /// A service that has seen no data yet.
    pub fn new(name: Arc<str>, config: &ModelConfig) -> Self {
        let timeline = Timeline::new(config.timeline);
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
            first_write: None,
            span: None,
            history_start: None,
            history_empty_at: None,
            history_requests: None,
            stats_requests: None,
            report: None,
            ended: false,
            closed: false,
            interrupted: false,
            runner: None,
            up: None,
            history_percentiles: Vec::new(),
            full_history: false,
            info: RunInfo::default(),
            // Due at the first data, or never when no history is kept.
            due: timeline.next_due(f64::NEG_INFINITY),
            timeline,
        }
    }

    /// True when the newest data time passed the end of the timeline's next interval.
    pub fn time_due(&self) -> bool {
        self.span.is_some_and(|(_, last)| last >= self.due)
    }

    /// The requests' newest time closing an interval of input time is recorded in the
    /// timeline (events and OTLP; Locust's history feeds it row by row).
    pub fn keep_time(&mut self) {
        if let Some((first, last)) = self.span {
            if self.timeline.due(first, last) && self.events.has_requests() {
                self.record_time(first, last);
            }
            self.due = self.timeline.next_due(first);
        }
    }

    /// Records the events' interval ending at `end`.
    fn record_time(&mut self, first: f64, end: f64) {
        self.timeline
            .record(first, end, self.users, self.events.cumulative());
    }

    /// A web UI's poll while its run goes, as Locust's history rows would say it: users,
    /// current rates and percentiles (the total's, and each admitted endpoint's rates), on
    /// the exporter's clock. The total's request count is the newest stats table's.
    fn runner_time(&mut self, status: &RunnerStatus, now: f64) {
        let row = |method: Arc<str>, name: Arc<str>, rates: (f64, f64)| HistoryRow {
            timestamp: now,
            user_count: status.user_count,
            method,
            name,
            current_rps: rates.0,
            current_fail_per_sec: rates.1,
            percentiles: Vec::new(),
            total_requests: None,
            total_failures: None,
            whole_run: false,
        };
        for ((method, name), rates) in &status.rates {
            if let Some(key) = self.guard.admitted(method, name) {
                let r = row(key.0.clone(), key.1.clone(), *rates);
                self.timeline.history_row(key, &r);
            }
        }
        if let Some(rates) = status.total_rates {
            let (method, name) = total_key();
            let mut total = row(method, name, rates);
            total.percentiles = status.current_percentiles.clone();
            total.total_requests = self.stats_requests;
            self.timeline.history_row(total_key(), &total);
        }
    }

    /// The run ended or the exporter stops: its last partial interval is recorded.
    fn close_time(&mut self) {
        self.timeline.flush();
        if let Some((first, last)) = self.span {
            if self.events.has_requests() {
                self.record_time(first, last);
            }
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Widens the run's own window by `[first, last]`.
    fn saw(&mut self, (first, last): (f64, f64)) {
        self.span = Some(match self.span {
            Some((a, b)) => (a.min(first), b.max(last)),
            None => (first, last),
        });
    }

    /// True when a report whose run window is `window` and whose total is `requests` is
    /// this run's: its requests are at least those the CSV files counted so far, and its
    /// first request is within [`SAME_RUN_SLACK_SECS`] of the history's start (when the
    /// history says one). Chosen by content, never by which file is newer: a copied
    /// artefact has new modification times.
    fn is_this_runs_report(&self, window: Option<(f64, f64)>, requests: u64) -> bool {
        let counts_fit = self.stats_requests.is_none_or(|n| requests >= n)
            && self.history_requests.is_none_or(|n| requests >= n);
        let starts_fit = match (self.history_start, window) {
            (Some(h), Some((first, _))) => (first - h).abs() <= SAME_RUN_SLACK_SECS,
            _ => true,
        };
        counts_fit && starts_fit
    }

    /// Applies one update observed at `now`.
    pub fn apply(&mut self, update: Update<'_>, config: &ModelConfig, now: f64) {
        if let Some(times) = data_times(&update) {
            self.saw(times);
        }
        match update {
            Update::Request(ev) => self.events.record(&ev, &mut self.guard, config),
            Update::Requests(batch) => self.events.record_batch(&batch, &mut self.guard, config),
            Update::Stats(table) => {
                if let Some(at) = self.pending_write.take() {
                    self.first_write.get_or_insert(at);
                }
                let requests = table.total.requests;
                let went_down = self.stats_requests.is_some_and(|n| requests < n);
                self.stats_requests = Some(requests);
                match self.report {
                    // The run's last `_stats.csv`, read after its end-of-run report (it lags
                    // the end by up to a second): the report's exact numbers stay.
                    Some(report) if requests <= report && !went_down => {}
                    _ => {
                        if self.report.take().is_some() {
                            self.ended = false; // a newer run
                        }
                        self.csv.apply_stats(table, &mut self.guard, config, now);
                    }
                }
            }
            Update::Final(table) => {
                if let Some(at) = self.pending_write.take() {
                    self.first_write.get_or_insert(at);
                }
                let requests = table.total.requests;
                if self.is_this_runs_report(table.window, requests) {
                    self.csv.apply_stats(table, &mut self.guard, config, now);
                    self.report = Some(requests);
                    self.ended = true;
                    self.rising = false;
                } else if let Some(window) = table.window {
                    // Another run's report: its times are not this run's.
                    self.span = self.span.filter(|s| *s != window);
                }
            }
            Update::History(row) => self.apply_history(row, now),
            Update::HistoryReset => self.reset_history(),
            Update::Failures(rows) => self.csv.apply_failures(rows, &mut self.guard, config),
            Update::Exceptions(rows) => self.csv.apply_exceptions(rows, &mut self.guard, config),
            Update::Exception(message) => {
                self.events
                    .record_exception(message, &mut self.guard, config)
            }
            Update::TestStart(_) => {
                // Event-fed counters are not reset: a service may be fed by several streams
                // (a master's and each worker's), and one stream's start must not wipe what
                // the others counted. Counters are cumulative for the life of the exporter.
                self.ended = false;
                self.rising = false;
            }
            Update::TestStop(_) | Update::EndOfInput => {
                self.close_time();
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
                // Locust's own state changes, seen at the poll: the run's window.
                if matches!(
                    status.state,
                    RunState::Spawning | RunState::Running | RunState::Stopping
                ) {
                    self.saw((now, now));
                    self.runner_time(&status, now);
                }
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
        let key = if row.is_total() {
            Some(total_key())
        } else {
            self.guard.admitted(&row.method, &row.name)
        };
        if let Some(key) = key {
            self.timeline.history_row(key, &row);
        }
        if row.is_total() {
            if !row.whole_run {
                self.history_percentiles = row.percentiles.clone();
            }
            self.history_window(row.timestamp, row.total_requests);
        } else {
            self.full_history = true;
        }
        self.csv.apply_history(row, &self.guard);
    }

    /// The run's window from the history's total rows: from the tick its requests began at
    /// to the tick its count last grew (Locust writes a row a second, and goes on writing
    /// rows with the final count until it quits).
    fn history_window(&mut self, at: f64, requests: Option<u64>) {
        let Some(requests) = requests else { return };
        if requests == 0 {
            if self.history_start.is_none() {
                self.history_empty_at = Some(at);
            }
            return;
        }
        let start = *self.history_start.get_or_insert(
            // The tick before the first with requests, when the rows are a tick apart.
            match self.history_empty_at {
                Some(empty) if at - empty <= 2.0 && empty <= at => empty,
                _ => at,
            },
        );
        if self.history_requests.is_none_or(|n| requests > n) {
            self.saw((start, at.max(start)));
        }
        self.history_requests = Some(requests);
    }

    /// The history file started over: forget what came from it.
    fn reset_history(&mut self) {
        self.users = None;
        self.users_tick = None;
        self.rising = false;
        self.csv.reset_history();
        self.ended = false;
        // A new run: its window, and any report, are its own.
        self.history_start = None;
        self.history_empty_at = None;
        self.history_requests = None;
        self.span = None;
        self.report = None;
        self.timeline.reset();
    }

    /// The exporter is stopping at `now`: the service reads `stopped` from now on, and is
    /// marked interrupted when its run was still live (spawning or running, its input not
    /// ended).
    pub fn close(&mut self, now: f64, stale_after: f64) {
        let state = self.state(now, stale_after);
        self.interrupted = !self.ended && matches!(state, RunState::Spawning | RunState::Running);
        self.closed = true;
        self.close_time();
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
        if let (Some(t), Some(status)) = (total.as_mut(), &self.runner) {
            // A web UI whose CSV has no `Requests/s` (none known) but whose JSON says it.
            t.total_rps = t.total_rps.or(status.total_rps);
        }
        let table = if self.csv.view_is_some() {
            Some(if self.runner.is_some() {
                LocustTable::WebUi
            } else if self.report.is_some() {
                LocustTable::Report
            } else {
                LocustTable::StatsCsv
            })
        } else {
            None
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
            started: self.span.map(|s| s.0).or(self.first_write),
            span: self.span,
            table,
            info: self.info.clone(),
            timeline: self.timeline.intervals(),
            timeline_shape: self.timeline.shape(),
        }
    }
}
