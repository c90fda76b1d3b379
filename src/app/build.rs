//! What the configuration asks for, built once: the model's settings and the pusher (the
//! inputs are built by [`crate::config::Inputs::sources`]).

use std::sync::Arc;

use crate::config::Config;
use crate::model::ModelConfig;
use crate::output::push::{Pusher, REQUEST_TIMEOUT};
use crate::support::http_client::HttpClient;

use super::error::AppError;
/// The model settings a configuration asks for.
pub fn model_config(config: &Config) -> ModelConfig {
    ModelConfig {
        stale_after_secs: 3.0 * config.poll_interval.as_secs_f64(),
        max_endpoints: config.max_endpoints,
        max_errors_per_endpoint: config.max_errors_per_endpoint,
        max_exceptions: config.max_exceptions,
        buckets: Arc::from(config.buckets.as_slice()),
    }
}

/// The pusher `--push.*` asks for, if any.
pub fn pusher(config: &Config) -> Result<Option<Pusher>, AppError> {
    let Some(push) = &config.push else {
        return Ok(None);
    };
    let client = HttpClient::new("--push.config.file", &push.client, REQUEST_TIMEOUT)?;
    if push.client.insecure_skip_verify {
        tracing::warn!(url = %push.config.url, "TLS certificates of the Pushgateway are not verified (insecure_skip_verify).");
    }
    Ok(Some(Pusher::new(push.config.clone(), client, config.sets)))
}
