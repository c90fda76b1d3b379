//! The model's settings, from the configuration (the inputs and outputs are built by
//! [`crate::config::Inputs::sources`] and [`crate::config::Outputs::build`]).

use std::sync::Arc;

use crate::config::Config;
use crate::model::baseline::Baseline;
use crate::model::ModelConfig;
/// The model settings a configuration asks for.
pub fn model_config(config: &Config, baseline: Option<Arc<Baseline>>) -> ModelConfig {
    ModelConfig {
        stale_after_secs: 3.0 * config.poll_interval.as_secs_f64(),
        max_endpoints: config.max_endpoints,
        max_errors_per_endpoint: config.max_errors_per_endpoint,
        max_exceptions: config.max_exceptions,
        buckets: Arc::from(config.buckets.as_slice()),
        checks: config.checks.list.clone(),
        run: config.checks.run.clone(),
        baseline,
        timeline: config.checks.timeline,
    }
}
