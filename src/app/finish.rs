//! The end of a run: the summary on stderr and in `--summary.file`, the checks in
//! `--junit.file`, and the verdict's exit code ([`AppError::ChecksFailed`]).

use std::path::Path;

use crate::config::Config;
use crate::model::judge::{verdict, Verdict};
use crate::model::snapshot::Snapshot;
use crate::model::utc_iso;
use crate::output::summary;

use super::error::AppError;

/// True when `snap`'s run ended before the exporter stopped: no service was still live.
pub fn run_ended(snap: &Snapshot) -> bool {
    !snap.services.iter().any(|s| s.interrupted)
}

fn write_file(path: &Path, what: &str, body: &str) -> Result<(), AppError> {
    std::fs::write(path, body).map_err(|source| AppError::Io {
        what: format!("writing {what} {}", path.display()),
        source,
    })
}

/// Prints the summary of `snap` (the final snapshot, at `now`) to stderr, writes the
/// summary and JUnit files, and returns the verdict: [`AppError::ChecksFailed`] when the run
/// `finished` and a check failed.
pub fn finish(config: &Config, snap: &Snapshot, finished: bool, now: f64) -> Result<(), AppError> {
    eprint!("{}", summary::text(snap, finished));
    let v = &config.checks;
    if let Some(path) = &v.summary_file {
        write_file(path, "the summary", &summary::markdown(snap, finished))?;
    }
    if let Some(path) = &v.junit_file {
        write_file(
            path,
            "the JUnit file",
            &summary::junit(snap, finished, &utc_iso(now)),
        )?;
    }
    match verdict(snap, finished) {
        Verdict::Failed(n) => Err(AppError::ChecksFailed(n)),
        Verdict::Passed | Verdict::NoChecks | Verdict::Interrupted => Ok(()),
    }
}
