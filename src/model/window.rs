//! Sliding windows for "current" rates, as Locust shows them.
//!
//! * [`CounterWindow`] turns cumulative counters read from successive `_stats.csv` snapshots
//!   into a rate over the last [`WINDOW_SECS`] seconds, anchored at the newest sample (so the
//!   value after a run ends is the rate at its end, as in Locust's own UI).
//! * [`SecondBuckets`] counts events per whole second of their own timestamps, like Locust's
//!   `num_reqs_per_sec`, and averages over the last [`WINDOW_SECS`] seconds.

use std::collections::VecDeque;

/// Length of the "current" window, in seconds (Locust: `CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW`).
pub const WINDOW_SECS: f64 = 10.0;

/// Shortest span over which a counter delta is turned into a rate; shorter spans give 0.
pub const MIN_SPAN_SECS: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at: f64,
    requests: u64,
    failures: u64,
}

/// Rate of two cumulative counters over a sliding window of samples.
#[derive(Debug, Clone, Default)]
pub struct CounterWindow {
    samples: VecDeque<Sample>,
}

impl CounterWindow {
    /// Records the counters as seen at `at` (seconds). A counter that went down is a reset:
    /// the window starts over from this sample, so a rate is never negative.
    pub fn record(&mut self, at: f64, requests: u64, failures: u64) {
        if let Some(last) = self.samples.back() {
            if requests < last.requests || failures < last.failures || at < last.at {
                self.samples.clear();
            } else if at == last.at {
                self.samples.pop_back();
            }
        }
        self.samples.push_back(Sample {
            at,
            requests,
            failures,
        });
        // Keep one sample at or before the window start, so the full window is measurable.
        while self.samples.len() > 2 && self.samples[1].at <= at - WINDOW_SECS {
            self.samples.pop_front();
        }
    }

    /// `(requests/s, failures/s)` over the window ending at the newest sample.
    pub fn rates(&self) -> (f64, f64) {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return (0.0, 0.0);
        };
        let span = last.at - first.at;
        if span < MIN_SPAN_SECS {
            return (0.0, 0.0);
        }
        // With a sample before the window start, measure over exactly the window: the
        // counters are taken as constant between samples, as Locust's own ticks are.
        let span = if first.at < last.at - WINDOW_SECS {
            WINDOW_SECS
        } else {
            span
        };
        let requests = (last.requests - first.requests) as f64 / span;
        let failures = (last.failures - first.failures) as f64 / span;
        (requests, failures)
    }
}

/// Counts per whole second of event time, for the current rate of event-fed endpoints.
#[derive(Debug, Clone, Default)]
pub struct SecondBuckets {
    /// `(second, requests, failures)`, oldest first, seconds strictly increasing.
    seconds: VecDeque<(i64, u32, u32)>,
}

/// How many seconds of buckets are kept (the window plus Locust's 2 s lag margin).
const KEEP_SECONDS: i64 = 14;

impl SecondBuckets {
    /// Counts one request (and a failure if `failed`) at event time `time` (Unix seconds).
    pub fn record(&mut self, time: f64, failed: bool) {
        self.record_n(time, 1, u32::from(failed));
    }

    /// Counts `requests` requests, `failures` of them failed, at event time `time`.
    pub fn record_n(&mut self, time: f64, requests: u32, failures: u32) {
        let second = time.floor() as i64;
        match self.seconds.back_mut() {
            Some(last) if last.0 == second => {
                last.1 = last.1.saturating_add(requests);
                last.2 = last.2.saturating_add(failures);
            }
            Some(last) if last.0 > second => {
                // Late event: find its second (rare; events are nearly ordered).
                if let Some(slot) = self.seconds.iter_mut().rev().find(|s| s.0 == second) {
                    slot.1 = slot.1.saturating_add(requests);
                    slot.2 = slot.2.saturating_add(failures);
                }
            }
            _ => {
                self.seconds.push_back((second, requests, failures));
                while self.seconds.len() > 1
                    && self
                        .seconds
                        .front()
                        .is_some_and(|s| s.0 <= second - KEEP_SECONDS)
                {
                    self.seconds.pop_front();
                }
            }
        }
    }

    /// `(requests/s, failures/s)` over the [`WINDOW_SECS`] seconds before the newest
    /// complete second, like Locust's `current_rps` (it leaves out the second in progress).
    pub fn rates(&self) -> (f64, f64) {
        let Some(&(newest, _, _)) = self.seconds.back() else {
            return (0.0, 0.0);
        };
        let oldest = self.seconds.front().map_or(newest, |s| s.0);
        let end = newest; // exclusive: the newest second may still be filling
        let start = (end - WINDOW_SECS as i64).max(oldest);
        let span = end - start;
        if span <= 0 {
            return (0.0, 0.0);
        }
        let (mut requests, mut failures) = (0u64, 0u64);
        for &(second, r, f) in &self.seconds {
            if second >= start && second < end {
                requests += u64::from(r);
                failures += u64::from(f);
            }
        }
        (requests as f64 / span as f64, failures as f64 / span as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_window_rate_over_ten_seconds() {
        let mut w = CounterWindow::default();
        for s in 0..=20u64 {
            w.record(s as f64, s * 5, s);
        }
        assert_eq!(w.rates(), (5.0, 1.0));
    }

    #[test]
    fn counter_window_partial_span_and_reset() {
        let mut w = CounterWindow::default();
        assert_eq!(w.rates(), (0.0, 0.0));
        w.record(100.0, 10, 0);
        assert_eq!(w.rates(), (0.0, 0.0), "one sample has no rate");
        w.record(102.0, 30, 4);
        assert_eq!(w.rates(), (10.0, 2.0));
        w.record(103.0, 3, 0); // counters went down: a new run
        assert_eq!(w.rates(), (0.0, 0.0));
        w.record(104.0, 7, 1);
        assert_eq!(w.rates(), (4.0, 1.0));
    }

    #[test]
    fn counter_window_stays_at_last_rate_without_new_samples() {
        let mut w = CounterWindow::default();
        w.record(0.0, 0, 0);
        w.record(4.0, 40, 0);
        assert_eq!(w.rates(), (10.0, 0.0));
        assert_eq!(w.rates(), (10.0, 0.0));
    }

    #[test]
    fn second_buckets_average_complete_seconds() {
        let mut b = SecondBuckets::default();
        for s in 0..30 {
            for _ in 0..4 {
                b.record(1000.0 + f64::from(s) + 0.5, s % 2 == 0);
            }
        }
        // Window: the 10 complete seconds before the newest: 4 req/s, failures every other second.
        assert_eq!(b.rates(), (4.0, 2.0));
    }

    #[test]
    fn second_buckets_late_event_lands_in_its_second() {
        let mut b = SecondBuckets::default();
        b.record(10.1, false);
        b.record(11.2, false);
        b.record(10.9, true);
        b.record(12.0, false);
        assert_eq!(b.rates(), (1.5, 0.5));
    }
}
