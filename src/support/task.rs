//! What every async layer shares: the boxed future a task runs, and a sleep that may have
//! no end.

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

/// A future the wiring spawns (a running source, an output's delivery).
pub type Task<T = ()> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Sleeps until `at`, or forever when there is no `at` (a `select!` branch that is off).
pub async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
