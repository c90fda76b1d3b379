//! [`LogEvery`]: a gate that lets a warning through at most once per period, for the
//! "logged at most once a minute" promise of every limit and fault.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The period of the warnings of limits and faults.
pub const A_MINUTE: Duration = Duration::from_secs(60);

/// Lets one caller through per period.
#[derive(Debug)]
pub struct LogEvery {
    period: Duration,
    last: Mutex<Option<Instant>>,
}

impl LogEvery {
    /// A gate open now and then once per `period`.
    pub const fn new(period: Duration) -> Self {
        LogEvery {
            period,
            last: Mutex::new(None),
        }
    }

    /// True at most once per period: the caller logs.
    pub fn ready(&self) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= self.period) {
            *last = Some(now);
            true
        } else {
            false
        }
    }
}

impl Default for LogEvery {
    fn default() -> Self {
        LogEvery::new(A_MINUTE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_period() {
        let gate = LogEvery::new(Duration::from_millis(50));
        assert!(gate.ready());
        assert!(!gate.ready());
        std::thread::sleep(Duration::from_millis(60));
        assert!(gate.ready());
    }
}
