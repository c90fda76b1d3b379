//! What the configuration asks for, built once: the inputs (the same list is read by
//! `--once` and run by the server; a new kind of input is one more block in [`sources`]),
//! the model's settings and the pusher.

use std::sync::Arc;

use crate::config::{Config, SourceSpec};
use crate::source::discover::CsvPath;
use crate::source::follow::Follower;
use crate::source::stdin::Stdin;
use crate::source::webui::{WebUi, WebUiSource};
use crate::source::{FileRole, Origin, Source};
use crate::support::http_client::HttpClient;

use crate::model::ModelConfig;
use crate::output::push::{Pusher, REQUEST_TIMEOUT};

use super::error::AppError;

/// The `source` label of standard input.
pub const STDIN_SOURCE: &str = "stdin";

fn service_of(spec: &SourceSpec, config: &Config) -> String {
    spec.service
        .clone()
        .unwrap_or_else(|| config.service.clone())
}

fn is_stdin(spec: &SourceSpec) -> bool {
    spec.path.as_os_str() == "-"
}

/// Every input, in the order `--once` reads them: `--csv` paths, `--events` files,
/// `--locust.uri` web UIs, then standard input.
pub fn sources(config: &Config) -> Result<Vec<Box<dyn Source>>, AppError> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    for spec in &config.csv {
        sources.push(Box::new(Follower::csv(CsvPath::new(
            spec.path.clone(),
            spec.service.clone(),
            config.service.clone(),
        ))));
    }
    for spec in config.events.iter().filter(|s| !is_stdin(s)) {
        sources.push(Box::new(Follower::events(
            service_of(spec, config),
            spec.path.clone(),
        )));
    }
    if !config.web_uis.is_empty() {
        let client = HttpClient::new(
            "--locust.config.file",
            &config.locust_client,
            config.locust_timeout,
        )?;
        if config.locust_client.insecure_skip_verify {
            tracing::warn!("TLS certificates of Locust's web UI are not verified (insecure_skip_verify in --locust.config.file).");
        }
        for w in &config.web_uis {
            let service = w.service.clone().unwrap_or_else(|| config.service.clone());
            let ui = WebUi::new(&w.url, service);
            sources.push(Box::new(WebUiSource::new(ui, client.clone())));
        }
    }
    for spec in config.events.iter().filter(|s| is_stdin(s)) {
        sources.push(Box::new(Stdin::new(Arc::new(Origin {
            service: service_of(spec, config),
            role: FileRole::Events,
            source: STDIN_SOURCE.into(),
        }))));
    }
    Ok(sources)
}

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
