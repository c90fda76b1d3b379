//! `--check.abort`: once a check fails after `--check.grace` from the run's start, the
//! Locust run is stopped through its web UI (`POST /stop`; `GET` for Locust versions that
//! answer 405), as k6's `abortOnFail` does. Tried once per failing run, at most three
//! requests.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use tokio::sync::watch;

use crate::model::check::{Severity, Status};
use crate::model::judge::check_failing;
use crate::model::snapshot::{RunState, Snapshot};
use crate::support::http_client::HttpClient;

/// The first failing outcome of `snap` at `now` on a live run older than `grace`: `(check,
/// row, value)` to log.
fn failing(snap: &Snapshot, grace: Duration, now: f64) -> Option<String> {
    let live = snap
        .services
        .iter()
        .any(|s| matches!(s.state, RunState::Running | RunState::Spawning));
    let started = snap
        .services
        .iter()
        .filter_map(|s| s.started)
        .reduce(f64::min)?;
    if !live || now - started < grace.as_secs_f64() {
        return None;
    }
    // A --check (not a --check.warn) failing as a whole (an `or` whose other side holds
    // does not stop the run).
    let failing_check = (0..snap.checks.len())
        .find(|&i| snap.checks[i].severity == Severity::Fail && check_failing(snap, i))?;
    snap.outcomes
        .iter()
        .find(|o| o.check == failing_check && o.status == Status::Fail)
        .map(|o| {
            let check = snap.checks.get(o.check).map_or("", |c| &*c.text);
            format!(
                "{check} on {} {} {} (value {:?})",
                o.service, o.method, o.name, o.value
            )
        })
}

/// Stops the run at `base` (`/stop`): `Ok` once Locust answered 2xx.
async fn stop(client: &HttpClient, base: &str) -> Result<(), String> {
    let url = format!("{}/stop", base.trim_end_matches('/'));
    let mut last = String::new();
    for method in [Method::POST, Method::GET] {
        match client
            .request(method.clone(), &url, &[], Bytes::new())
            .await
        {
            Ok(r) if r.status.is_success() => return Ok(()),
            Ok(r) if r.status.as_u16() == 405 => last = format!("{method} {url}: 405"),
            Ok(r) => return Err(format!("{method} {url}: {}", r.status)),
            Err(e) => return Err(format!("{method} {url}: {e}")),
        }
    }
    Err(last)
}

/// The line `--check.abort.stdout` prints for the process that started the exporter (the
/// plugin's `--exporter-check-abort`): `abort: ` and the failing check.
pub const ABORT_LINE_PREFIX: &str = "abort: ";

/// Waits for the first failing check after `grace` (snapshots as they come, and every
/// 250 ms as the grace runs out): what it is, or `None` once no snapshot will come.
async fn next_failure(
    snapshots: &mut watch::Receiver<Arc<Snapshot>>,
    grace: Duration,
    now: fn() -> f64,
) -> Option<String> {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            changed = snapshots.changed() => changed.ok()?,
            _ = tick.tick() => {}
        }
        if let Some(why) = failing(&snapshots.borrow_and_update(), grace, now()) {
            return Some(why);
        }
    }
}

/// Watches the snapshots; the first failing check after `grace` is printed on standard
/// output as one line (`--check.abort.stdout`), for the process that reads it to stop its run.
pub async fn print(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    grace: Duration,
    now: fn() -> f64,
) {
    let Some(why) = next_failure(&mut snapshots, grace, now).await else {
        return;
    };
    let line = format!("{ABORT_LINE_PREFIX}{}\n", why.replace('\n', " "));
    let mut out = tokio::io::stdout();
    let written = tokio::io::AsyncWriteExt::write_all(&mut out, line.as_bytes()).await;
    let _ = tokio::io::AsyncWriteExt::flush(&mut out).await;
    match written {
        Ok(()) => {
            tracing::warn!(check = %why, "A check failed: asked the run to stop (--check.abort.stdout).")
        }
        Err(e) => {
            tracing::error!(check = %why, error = %e, "A check failed but standard output is closed (--check.abort.stdout).")
        }
    }
}

/// Watches the snapshots; the first failing check after `grace` stops the run at `base`
/// (tried three times, a second apart, while the check still fails).
pub async fn run(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    client: HttpClient,
    base: String,
    grace: Duration,
    now: fn() -> f64,
) {
    for tries in 1..=3 {
        let Some(why) = next_failure(&mut snapshots, grace, now).await else {
            return;
        };
        match stop(&client, &base).await {
            Ok(()) => {
                tracing::warn!(check = %why, uri = %base, "A check failed: stopped the Locust run (--check.abort).");
                return;
            }
            Err(e) if tries < 3 => {
                tracing::warn!(check = %why, error = %e, "A check failed but stopping the Locust run did not work; trying again.");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::error!(check = %why, error = %e, "A check failed but the Locust run could not be stopped (--check.abort); giving up.");
            }
        }
    }
}
