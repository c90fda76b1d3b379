//! The seam every delivering output implements ([`Output`]), and how one fails.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;

use crate::model::snapshot::Snapshot;
use crate::support::report::SelfMetrics;
pub use crate::support::Task;

/// A delivery that failed; at exit it makes the exit code 1.
#[derive(Debug, Error)]
#[error("{target} failed: {message}")]
pub struct DeliveryError {
    /// What was delivered to (`push to URL`).
    pub target: String,
    /// Why it failed.
    pub message: String,
}

/// An output that delivers snapshots (push-style).
pub trait Output: Send + Sync + 'static {
    /// What it delivers to, for messages (`push to URL`).
    fn name(&self) -> String;

    /// Its own counters, served with the self-metrics.
    fn self_metrics(&self) -> Arc<dyn SelfMetrics>;

    /// Delivers on its own schedule until `stop` turns true; `now` reads the wall clock.
    /// The final delivery is the wiring's ([`Output::deliver`]), after the last snapshot.
    fn run(
        self: Arc<Self>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        stop: watch::Receiver<bool>,
        now: fn() -> f64,
    ) -> Task<()>;

    /// Delivers `snap` once, now (at exit, and for `--once`); `now` is its wall-clock time.
    fn deliver(self: Arc<Self>, snap: Arc<Snapshot>, now: f64) -> Task<Result<(), DeliveryError>>;
}

/// Delivers `snap` to every output at once, each given `within`: the final delivery on exit
/// and `--once`'s. Returns the first failure (every output is tried).
pub async fn deliver_all(
    outputs: &[Arc<dyn Output>],
    snap: Arc<Snapshot>,
    now: f64,
    within: Duration,
) -> Result<(), DeliveryError> {
    let mut deliveries = tokio::task::JoinSet::new();
    for output in outputs {
        let (output, snap, target) = (output.clone(), snap.clone(), output.name());
        deliveries.spawn(async move {
            match tokio::time::timeout(within, output.deliver(snap, now)).await {
                Ok(result) => result,
                Err(_) => Err(DeliveryError {
                    target,
                    message: format!("no answer within {within:?}"),
                }),
            }
        });
    }
    let mut first = Ok(());
    while let Some(joined) = deliveries.join_next().await {
        let result = joined.unwrap_or_else(|e| {
            Err(DeliveryError {
                target: "an output".into(),
                message: format!("its task failed: {e}"),
            })
        });
        if first.is_ok() {
            first = result;
        }
    }
    first
}
