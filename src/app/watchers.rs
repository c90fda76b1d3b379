//! The watchers that end a run from what the snapshots say: `--exit-after-stop` (every
//! service stopped, or no data at all within `--exit-after-stop.wait`) and
//! `--exit-when-locust-quits` (a web UI that stopped its run and stopped answering). Each
//! waits for its condition to hold for a while ([`held_for`]) and then sets `stop`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::model::snapshot::{RunState, Snapshot};
use crate::support::sleep_until_opt;

/// True when every service has been stopped and every stdin stream has ended (and there is
/// at least one service): what `--exit-after-stop` waits for.
pub fn all_done(snap: &Snapshot) -> bool {
    !snap.services.is_empty()
        && snap.services.iter().all(|s| s.state == RunState::Stopped)
        && snap
            .sources
            .iter()
            .filter(|s| s.source == crate::config::STDIN_SOURCE)
            .all(|s| s.ended)
}

/// True when some input has given data (a service is past `missing`).
fn any_data(snap: &Snapshot) -> bool {
    snap.services.iter().any(|s| s.state != RunState::Missing)
}

/// True when every service is a web UI that stopped its run and then stopped answering:
/// Locust quit (its `--autoquit` ended it).
fn locust_quit(snap: &Snapshot) -> bool {
    !snap.services.is_empty()
        && snap.services.iter().all(|s| {
            s.up == Some(false)
                && matches!(
                    s.state,
                    RunState::Stopped | RunState::Stopping | RunState::Cleanup
                )
                && s.total.as_ref().is_some_and(|t| t.requests > 0)
        })
}

/// How a wait of [`held_for`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waited {
    /// The condition held, snapshot after snapshot, for the whole time asked.
    Held,
    /// `give_up` came first while `waiting` still held of every snapshot.
    GaveUp,
    /// The snapshots ended (the exporter is stopping).
    Ended,
}

/// Waits until `holds` has been true of every snapshot for `after`; or, while `waiting` is
/// true of every snapshot since the start, until `give_up`.
async fn held_for(
    snapshots: &mut watch::Receiver<Arc<Snapshot>>,
    holds: impl Fn(&Snapshot) -> bool,
    after: Duration,
    waiting: impl Fn(&Snapshot) -> bool,
    give_up: Option<Instant>,
) -> Waited {
    let mut since: Option<Instant> = None;
    let mut still_waiting = give_up.is_some();
    loop {
        let (now_holds, now_waiting) = {
            let snap = snapshots.borrow_and_update();
            (holds(&snap), waiting(&snap))
        };
        still_waiting &= now_waiting;
        since = match (now_holds, since) {
            (true, None) => Some(Instant::now()),
            (true, s) => s,
            (false, _) => None,
        };
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Waited::Ended;
                }
            }
            () = sleep_until_opt(since.map(|s| s + after)) => return Waited::Held,
            () = sleep_until_opt(give_up), if still_waiting => return Waited::GaveUp,
        }
    }
}

/// `--exit-after-stop`: sets `stop` once [`all_done`] has held for `after`; or, when no
/// input has given any data `wait` after the start, sets `stop` and returns true (the
/// run never showed up: a wrong path, a Locust that crashed at start).
pub async fn exit_after_stop(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    after: Duration,
    wait: Duration,
    stop: watch::Sender<bool>,
) -> bool {
    let give_up = Instant::now() + wait;
    let nothing_yet = |s: &Snapshot| !any_data(s);
    match held_for(&mut snapshots, all_done, after, nothing_yet, Some(give_up)).await {
        Waited::Held => {
            tracing::info!(after = ?after, "Every service stopped; exiting (--exit-after-stop).");
            let _ = stop.send(true);
            false
        }
        Waited::GaveUp => {
            tracing::error!(wait = ?wait, "No input gave any data within --exit-after-stop.wait; exiting (check the paths, and that Locust started).");
            let _ = stop.send(true);
            true
        }
        Waited::Ended => false,
    }
}

/// `--exit-when-locust-quits`: sets `stop` once [`locust_quit`] has held for `grace`.
pub async fn exit_when_locust_quits(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    grace: Duration,
    stop: watch::Sender<bool>,
) {
    if held_for(&mut snapshots, locust_quit, grace, |_| false, None).await == Waited::Held {
        tracing::info!(grace = ?grace, "Locust stopped its run and quit; exiting (--exit-when-locust-quits).");
        let _ = stop.send(true);
    }
}
