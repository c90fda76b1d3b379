//! The outputs the command line asks for besides scrapes — `--push.*`, `--remote-write.*` — checked (every
//! error names its flag) and built into [`Output`]s, once. A new output is its flags and
//! its block here, and its file in `output/`.

use std::path::PathBuf;
use std::sync::Arc;

use super::values::{bytes, duration, invalid, ConfigError};
use crate::expose::Sets;
use crate::output::push::{PushConfig, Pusher, REQUEST_TIMEOUT};
use crate::output::remote_write::{Protocol, RemoteWriteConfig, RemoteWriter};
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

    /// Remote-write what /metrics serves to this URL (repeatable: each its own queue), e.g.
    /// Prometheus' /api/v1/write, Mimir's /api/v1/push, VictoriaMetrics' /api/v1/write.
    #[arg(
        long = "remote-write.url",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_URL",
        value_name = "URL"
    )]
    pub remote_write_urls: Vec<String>,

    /// How often to write.
    #[arg(
        long = "remote-write.interval",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_INTERVAL",
        value_name = "DURATION",
        default_value = "5s"
    )]
    pub remote_write_interval: String,

    /// Remote-write protocol: 1.0 (prometheus.WriteRequest) or 2.0
    /// (io.prometheus.write.v2.Request; a receiver answering 415 gets 1.0).
    #[arg(
        long = "remote-write.protocol",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_PROTOCOL",
        value_name = "VERSION",
        default_value = "1.0"
    )]
    pub remote_write_protocol: String,

    /// A label added to every written series that does not have it (repeatable), as
    /// Prometheus' external_labels: give each exporter writing the same services its own.
    #[arg(
        long = "remote-write.label",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_LABEL",
        value_name = "NAME=VALUE"
    )]
    pub remote_write_labels: Vec<String>,

    /// Credentials, TLS and extra headers for the receivers: `basic_auth`, `authorization`
    /// (`type`, `credentials` or `credentials_file`), `tls_config`, `headers`, in the
    /// Prometheus HTTP client format.
    #[arg(
        long = "remote-write.config.file",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub remote_write_config_file: Option<PathBuf>,

    /// Intervals kept per URL while a receiver is down or slow; past it the oldest is
    /// dropped (counted).
    #[arg(
        long = "remote-write.queue-intervals",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_QUEUE_INTERVALS",
        value_name = "N",
        default_value = "12"
    )]
    pub remote_write_queue_intervals: String,

    /// Largest request body before compression; an interval is split into requests under it.
    #[arg(
        long = "remote-write.max-request-bytes",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_MAX_REQUEST_BYTES",
        value_name = "BYTES",
        default_value = "1MiB"
    )]
    pub remote_write_max_request_bytes: String,

    /// Each request is given this long.
    #[arg(
        long = "remote-write.timeout",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_TIMEOUT",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub remote_write_timeout: String,

    /// Do not mark every series stale after the final write at exit.
    #[arg(
        long = "remote-write.no-stale-on-exit",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_NO_STALE_ON_EXIT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub remote_write_no_stale_on_exit: bool,

    /// Write histograms as their classic series only, for a receiver that takes no native
    /// histograms (Prometheus before 3.8 without --enable-feature=native-histograms answers
    /// them 500, and would never take the request).
    #[arg(
        long = "remote-write.no-native-histograms",
        env = "LOCUST_EXPORTER_REMOTE_WRITE_NO_NATIVE_HISTOGRAMS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub remote_write_no_native_histograms: bool,
}

/// `--push.*`: where and how to push, and the client's settings.
#[derive(Debug, Clone)]
pub struct Push {
    /// URL, interval, job, labels.
    pub config: PushConfig,
    /// `--push.config.file`.
    pub client: ClientSettings,
}

/// `--remote-write.*`: one config per URL, and the client's settings.
#[derive(Debug, Clone)]
pub struct RemoteWrite {
    /// One per `--remote-write.url`.
    pub configs: Vec<RemoteWriteConfig>,
    /// `--remote-write.config.file`.
    pub client: ClientSettings,
}

/// Every output, checked.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// `--push.*`, when `--push.url` is given.
    pub push: Option<Push>,
    /// `--remote-write.*`, when `--remote-write.url` is given.
    pub remote_write: Option<RemoteWrite>,
}

impl Outputs {
    /// Checks the output flags of `args`.
    pub fn from_args(args: &OutputArgs) -> Result<Outputs, ConfigError> {
        Ok(Outputs {
            push: push(args)?,
            remote_write: remote_write(args)?,
        })
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
        if let Some(rw) = &self.remote_write {
            for config in &rw.configs {
                let client =
                    HttpClient::new("--remote-write.config.file", &rw.client, config.timeout)?;
                if rw.client.insecure_skip_verify {
                    tracing::warn!(url = %config.url, "TLS certificates of the remote-write receiver are not verified (insecure_skip_verify).");
                }
                outputs.push(Arc::new(RemoteWriter::new(config.clone(), client, sets)));
            }
        }
        Ok(outputs)
    }
}

/// An http:// or https:// URL, or an error naming `flag`.
fn http_url(flag: &'static str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/').to_owned();
    let valid = url
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && !rest.is_empty());
    if valid {
        Ok(url)
    } else {
        Err(invalid(
            flag,
            format!("`{url}` is not an http:// or https:// URL"),
        ))
    }
}

/// `NAME=VALUE` labels of `flag`, each a valid label name not in `taken`.
fn labels(
    flag: &'static str,
    given: &[String],
    taken: &[&str],
    why: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for l in given {
        let (name, value) = l
            .split_once('=')
            .ok_or_else(|| invalid(flag, format!("`{l}` is not NAME=VALUE")))?;
        let ok_name = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !ok_name || name.starts_with("__") {
            return Err(invalid(
                flag,
                format!("`{name}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __…)"),
            ));
        }
        if taken.contains(&name) {
            return Err(invalid(flag, format!("`{name}` is set already ({why})")));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(invalid(flag, format!("`{name}` is given twice")));
        }
        labels.push((name.to_owned(), value.to_owned()));
    }
    Ok(labels)
}

/// `--remote-write.*`.
fn remote_write(args: &OutputArgs) -> Result<Option<RemoteWrite>, ConfigError> {
    if args.remote_write_urls.is_empty() {
        return Ok(None);
    }
    let interval = duration("--remote-write.interval", &args.remote_write_interval)?;
    let protocol = match args.remote_write_protocol.trim() {
        "1.0" | "1" => Protocol::V1,
        "2.0" | "2" => Protocol::V2,
        other => {
            return Err(invalid(
                "--remote-write.protocol",
                format!("`{other}` is not 1.0 or 2.0"),
            ))
        }
    };
    let external = labels("--remote-write.label", &args.remote_write_labels, &[], "")?;
    let queue_intervals: usize = args
        .remote_write_queue_intervals
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| {
            invalid(
                "--remote-write.queue-intervals",
                format!(
                    "`{}` is not a number of intervals from 1 to 1000",
                    args.remote_write_queue_intervals
                ),
            )
        })?;
    let max_request_bytes = bytes(
        "--remote-write.max-request-bytes",
        &args.remote_write_max_request_bytes,
    )?;
    if !(4096..=(256 << 20)).contains(&max_request_bytes) {
        return Err(invalid(
            "--remote-write.max-request-bytes",
            "must be from 4KiB to 256MiB",
        ));
    }
    let timeout = duration("--remote-write.timeout", &args.remote_write_timeout)?;
    let client = match &args.remote_write_config_file {
        Some(path) => ClientSettings::load("--remote-write.config.file", path)?,
        None => ClientSettings::default(),
    };
    let mut configs = Vec::new();
    for url in &args.remote_write_urls {
        let url = http_url("--remote-write.url", url)?;
        if configs.iter().any(|c: &RemoteWriteConfig| c.url == url) {
            return Err(invalid(
                "--remote-write.url",
                format!("`{url}` is given twice"),
            ));
        }
        configs.push(RemoteWriteConfig {
            url,
            interval,
            protocol,
            labels: external.clone(),
            queue_intervals,
            max_request_bytes: max_request_bytes as usize,
            timeout,
            stale_on_exit: !args.remote_write_no_stale_on_exit,
            classic_only: args.remote_write_no_native_histograms,
        });
    }
    Ok(Some(RemoteWrite { configs, client }))
}

/// `--push.*`.
fn push(args: &OutputArgs) -> Result<Option<Push>, ConfigError> {
    let Some(url) = &args.push_url else {
        return Ok(None);
    };
    let url = http_url("--push.url", url)?;
    let interval = match args.push_interval.trim() {
        "0" | "0s" => None,
        d => Some(duration("--push.interval", d)?),
    };
    if args.push_job.trim().is_empty() {
        return Err(invalid("--push.job", "the job name is empty"));
    }
    let labels = labels(
        "--push.label",
        &args.push_labels,
        &["job", "service"],
        "--push.job, and each group's service",
    )?;
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
