//! The inputs the configuration asks for, built once: the same list is read by `--once` and
//! run by the server. A new kind of input is one more block here.

use std::sync::Arc;

use crate::config::{Config, SourceSpec};
use crate::source::discover::CsvPath;
use crate::source::follow::Follower;
use crate::source::stdin::Stdin;
use crate::source::webui::{WebUi, WebUiSource};
use crate::source::{FileRole, Origin, Source};
use crate::support::http_client::HttpClient;

use super::AppError;

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
