//! The checks' flags (`docs/checks.md`): `--check`, `--check.abort`, `--check.grace`,
//! `--summary.file`, `--junit.file`, `--run.id`, checked (every error names its flag and,
//! for a check, the position of the mistake).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::values::{duration, invalid, ConfigError};
use crate::model::check::Check;
use crate::model::RunId;

/// The checks' flags, as typed (flattened into [`super::cli::Args`]).
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// A check the run must pass (repeatable): a statistic (pNN, median, avg, min, max,
    /// fail_ratio, rps, requests, failures), an optional selector on name, method or service,
    /// a comparison and a threshold: `p95<500ms`, `fail_ratio<1%`, `p99{name="/cart"}<1s`,
    /// `p95{name=~"/api/.*"}<300ms` (each matching endpoint on its own). At the end of the run
    /// a failed check makes the exit code 99. From the variable: checks separated by commas
    /// outside braces.
    #[arg(long = "check", env = "LOCUST_EXPORTER_CHECK", value_name = "EXPR")]
    pub checks: Vec<String>,

    /// Stop the Locust run (through the first --locust.uri) when a check fails after
    /// --check.grace.
    #[arg(
        long = "check.abort",
        env = "LOCUST_EXPORTER_CHECK_ABORT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub abort: bool,

    /// With --check.abort: how long after the run's start a failing check does not stop it.
    #[arg(
        long = "check.grace",
        env = "LOCUST_EXPORTER_CHECK_GRACE",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub grace: String,

    /// At the end of the run, write its summary (endpoints, checks) here as Markdown (for a
    /// CI job summary); the summary always goes to stderr.
    #[arg(
        long = "summary.file",
        env = "LOCUST_EXPORTER_SUMMARY_FILE",
        value_name = "PATH"
    )]
    pub summary_file: Option<PathBuf>,

    /// At the end of the run, write the checks here as JUnit XML (one test case per check).
    #[arg(
        long = "junit.file",
        env = "LOCUST_EXPORTER_JUNIT_FILE",
        value_name = "PATH"
    )]
    pub junit_file: Option<PathBuf>,

    /// A `run` label on every series, so runs stay apart in long-term storage: an id, or
    /// `auto` (the run's start, UTC: 20261202T183647Z).
    #[arg(long = "run.id", env = "LOCUST_EXPORTER_RUN_ID", value_name = "ID")]
    pub run_id: Option<String>,
}

/// The checks' settings, checked.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// `--check`, parsed.
    pub list: Arc<[Check]>,
    /// `--check.abort`.
    pub abort: bool,
    /// `--check.grace`.
    pub grace: Duration,
    /// `--summary.file`.
    pub summary_file: Option<PathBuf>,
    /// `--junit.file`.
    pub junit_file: Option<PathBuf>,
    /// `--run.id`.
    pub run: RunId,
}

/// Longest `--run.id` (a label value).
pub const MAX_RUN_ID_BYTES: usize = 128;

impl Checks {
    /// Checks `args`; `has_web_ui` says whether a `--locust.uri` is given (`--check.abort`
    /// needs one).
    pub fn from_args(args: &CheckArgs, has_web_ui: bool) -> Result<Checks, ConfigError> {
        let mut checks = Vec::new();
        for text in &args.checks {
            let check = Check::parse(text).map_err(|e| invalid("--check", e.to_string()))?;
            if checks.iter().any(|c: &Check| c.text == check.text) {
                return Err(invalid("--check", format!("`{text}` is given twice")));
            }
            checks.push(check);
        }
        if args.abort && checks.is_empty() {
            return Err(invalid(
                "--check.abort",
                "give at least one --check to abort on",
            ));
        }
        if args.abort && !has_web_ui {
            return Err(invalid(
                "--check.abort",
                "stops the run through Locust's web UI: give --locust.uri",
            ));
        }
        let run = match args.run_id.as_deref().map(str::trim) {
            None => RunId::None,
            Some("auto") => RunId::Auto,
            Some("") => return Err(invalid("--run.id", "give an id, or auto")),
            Some(id) if id.len() > MAX_RUN_ID_BYTES => {
                return Err(invalid(
                    "--run.id",
                    format!("`{id}` is longer than {MAX_RUN_ID_BYTES} bytes"),
                ))
            }
            Some(id) if id.chars().any(char::is_control) => {
                return Err(invalid(
                    "--run.id",
                    format!("{id:?} has a control character"),
                ))
            }
            Some(id) => RunId::Fixed(Arc::from(id)),
        };
        Ok(Checks {
            list: Arc::from(checks),
            abort: args.abort,
            grace: match args.grace.trim() {
                "0" | "0s" | "0ms" => Duration::ZERO,
                text => duration("--check.grace", text)?,
            },
            summary_file: args.summary_file.clone(),
            junit_file: args.junit_file.clone(),
            run,
        })
    }
}
