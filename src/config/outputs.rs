//! The outputs the command line asks for besides scrapes — `--push.*` — checked (every
//! error names its flag) and built into [`Output`]s, once. A new output is its flags and
//! its block here, and its file in `output/`.

use std::path::PathBuf;
use std::sync::Arc;

use super::values::{duration, invalid, ConfigError};
use crate::expose::Sets;
use crate::output::push::{PushConfig, Pusher, REQUEST_TIMEOUT};
use crate::output::Output;
use crate::support::http_client::{ClientSettings, HttpClient};

/// The outputs' flags, as typed (flattened into [`super::cli::Args`]).
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Push every service's metrics to this Pushgateway (http:// or https://).
    #[arg(
        long = "push.url",
        env = "LOCUST_EXPORTER_PUSH_URL",
        value_name = "URL"
    )]
    pub push_url: Option<String>,

    /// How often to push; 0 pushes only once, at the end.
    #[arg(
        long = "push.interval",
        env = "LOCUST_EXPORTER_PUSH_INTERVAL",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub push_interval: String,

    /// The `job` of the pushed groups.
    #[arg(
        long = "push.job",
        env = "LOCUST_EXPORTER_PUSH_JOB",
        value_name = "NAME",
        default_value = "locust"
    )]
    pub push_job: String,

    /// An extra grouping label of the pushed groups (repeatable); `service` is always one.
    #[arg(
        long = "push.label",
        env = "LOCUST_EXPORTER_PUSH_LABEL",
        value_name = "NAME=VALUE"
    )]
    pub push_labels: Vec<String>,

    /// Credentials and TLS for the Pushgateway: `basic_auth` (`username`, `password_file`)
    /// and `tls_config` (`ca_file`, `cert_file`, `key_file`, `insecure_skip_verify`), in the
    /// Prometheus HTTP client format.
    #[arg(
        long = "push.config.file",
        env = "LOCUST_EXPORTER_PUSH_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub push_config_file: Option<PathBuf>,
}

/// `--push.*`: where and how to push, and the client's settings.
#[derive(Debug, Clone)]
pub struct Push {
    /// URL, interval, job, labels.
    pub config: PushConfig,
    /// `--push.config.file`.
    pub client: ClientSettings,
}

/// Every output, checked.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// `--push.*`, when `--push.url` is given.
    pub push: Option<Push>,
}

impl Outputs {
    /// Checks the output flags of `args`.
    pub fn from_args(args: &OutputArgs) -> Result<Outputs, ConfigError> {
        Ok(Outputs { push: push(args)? })
    }

    /// Every output, rendering `sets`.
    pub fn build(&self, sets: Sets) -> Result<Vec<Arc<dyn Output>>, ConfigError> {
        let mut outputs: Vec<Arc<dyn Output>> = Vec::new();
        if let Some(push) = &self.push {
            let client = HttpClient::new("--push.config.file", &push.client, REQUEST_TIMEOUT)?;
            if push.client.insecure_skip_verify {
                tracing::warn!(url = %push.config.url, "TLS certificates of the Pushgateway are not verified (insecure_skip_verify).");
            }
            outputs.push(Arc::new(Pusher::new(push.config.clone(), client, sets)));
        }
        Ok(outputs)
    }
}

/// `--push.*`.
fn push(args: &OutputArgs) -> Result<Option<Push>, ConfigError> {
    let Some(url) = &args.push_url else {
        return Ok(None);
    };
    let url = url.trim_end_matches('/').to_owned();
    let valid = url
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && !rest.is_empty());
    if !valid {
        return Err(invalid(
            "--push.url",
            format!("`{url}` is not an http:// or https:// URL"),
        ));
    }
    let interval = match args.push_interval.trim() {
        "0" | "0s" => None,
        d => Some(duration("--push.interval", d)?),
    };
    if args.push_job.trim().is_empty() {
        return Err(invalid("--push.job", "the job name is empty"));
    }
    let mut labels = Vec::new();
    for l in &args.push_labels {
        let (name, value) = l
            .split_once('=')
            .ok_or_else(|| invalid("--push.label", format!("`{l}` is not NAME=VALUE")))?;
        let ok_name = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !ok_name || name.starts_with("__") {
            return Err(invalid(
                "--push.label",
                format!("`{name}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __…)"),
            ));
        }
        if name == "job" || name == "service" {
            return Err(invalid(
                "--push.label",
                format!("`{name}` is set already (--push.job, and each group's service)"),
            ));
        }
        labels.push((name.to_owned(), value.to_owned()));
    }
    let client = match &args.push_config_file {
        Some(path) => ClientSettings::load("--push.config.file", path)?,
        None => ClientSettings::default(),
    };
    Ok(Some(Push {
        config: PushConfig {
            url,
            interval,
            job: args.push_job.trim().to_owned(),
            labels,
        },
        client,
    }))
}
