//! Validated, typed settings from [`crate::config::cli::Args`]. Every error names its flag.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

mod checks;
pub mod cli;
pub mod env;
mod inputs;
mod outputs;
mod values;

pub use values::{bytes, count, duration, invalid, ConfigError, MAX_DURATION};

pub use checks::{BaselineSource, CheckArgs, Checks, MAX_RUN_ID_BYTES};
pub use inputs::{
    source_spec, web_ui_spec, Inputs, SourceSpec, WebUiSpec, GO_DEFAULT_URI, STDIN_SOURCE,
};
pub use outputs::{Outputs, Push};

use crate::config::cli::Args;
use crate::expose::{Format, Sets};
use crate::model::endpoint::DEFAULT_BUCKETS;
use crate::serve::server::Limits;
pub use cli::{DEFAULT_METRICS, GO_STYLE_METRICS};

/// `--web.formats`: names from [`Format::name`], comma-separated, at least one.
fn formats(text: &str) -> Result<Vec<Format>, ConfigError> {
    let mut wanted = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match Format::from_name(name) {
            Some(f) => wanted.push(f),
            None => {
                return Err(invalid(
                    "--web.formats",
                    format!(
                        "`{name}` is not a format: use {}",
                        Format::ALL.map(Format::name).join(", ")
                    ),
                ))
            }
        }
    }
    if wanted.is_empty() {
        return Err(invalid("--web.formats", "name at least one format"));
    }
    Ok(Format::ALL
        .into_iter()
        .filter(|f| wanted.contains(f))
        .collect())
}

/// The log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The inputs: `--csv`, `--events`, `--locust.*`, `--service`.
    pub inputs: Inputs,
    /// `--web.listen-address`, resolved.
    pub listen: Vec<SocketAddr>,
    /// `--web.listen-address` as typed (for messages).
    pub listen_text: Vec<String>,
    /// `--web.telemetry-path`.
    pub telemetry_path: String,
    /// `--web.config.file`.
    pub web_config_file: Option<PathBuf>,
    /// `--web.formats`, in [`Format::ALL`] order.
    pub formats: Vec<Format>,
    /// `--metrics`.
    pub sets: Sets,
    /// `--max-endpoints`.
    pub max_endpoints: usize,
    /// `--max-errors-per-endpoint`.
    pub max_errors_per_endpoint: usize,
    /// `--max-exceptions`.
    pub max_exceptions: usize,
    /// `--web.max-connections` and the `--web.*-timeout`s.
    pub limits: Limits,
    /// `--poll-interval`.
    pub poll_interval: Duration,
    /// `--buckets`, ascending, in seconds.
    pub buckets: Vec<f64>,
    /// `--once`.
    pub once: bool,
    /// `--exit-after-stop`.
    pub exit_after_stop: Option<Duration>,
    /// `--exit-after-stop.wait`.
    pub exit_after_stop_wait: Duration,
    /// `--exit-when-locust-quits`.
    pub exit_when_locust_quits: Option<Duration>,
    /// `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// The outputs: `--push.*`, `--remote-write.*`.
    pub outputs: Outputs,
    /// Checks, summary and run identity: `--check*`, `--summary.file`, `--junit.file`,
    /// `--run.id`.
    pub checks: Checks,
    /// `--log.level`.
    pub log_level: tracing::Level,
    /// `--log.format`.
    pub log_format: LogFormat,
}

impl Config {
    /// Validates `args`.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        Self::from_args_and_env(args, |k| std::env::var(k).ok())
    }

    /// Validates `args`; `env` gives the Go exporter's variables (`LOCUST_EXPORTER_URI`,
    /// `LOCUST_EXPORTER_TIMEOUT`), used when neither the flag nor its own variable is set.
    pub fn from_args_and_env(
        mut args: Args,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let inputs = Inputs::from_args(&mut args.inputs, &env)?;
        let go_style = inputs.go_style;
        if args.locust_namespace.trim() != "locust" {
            return Err(invalid(
                "--locust.namespace",
                format!(
                    "`{}`: only the Go exporter's default, locust, is served (the dashboards query locust_*)",
                    args.locust_namespace
                ),
            ));
        }
        if !args.telemetry_path.starts_with('/') || args.telemetry_path.len() < 2 {
            return Err(invalid(
                "--web.telemetry-path",
                format!(
                    "`{}` must start with / and not be / itself",
                    args.telemetry_path
                ),
            ));
        }
        if ["/-/healthy", "/-/ready", "/-/quit"].contains(&args.telemetry_path.as_str()) {
            return Err(invalid(
                "--web.telemetry-path",
                format!(
                    "`{}` is taken by a health or lifecycle endpoint",
                    args.telemetry_path
                ),
            ));
        }
        if args.once && inputs.otlp.is_some() {
            return Err(invalid(
                "--otlp.listen-address",
                "receives while the exporter serves; --once reads files and exits",
            ));
        }
        let outputs = Outputs::from_args(&args.outputs)?;
        let checks = Checks::from_args(&args.checks, !inputs.web_uis.is_empty())?;
        let limits = Limits {
            max_connections: count("--web.max-connections", &args.max_connections)?,
            read_header_timeout: duration("--web.read-header-timeout", &args.read_header_timeout)?,
            idle_timeout: duration("--web.idle-timeout", &args.idle_timeout)?,
            send_timeout: duration("--web.send-timeout", &args.send_timeout)?,
            shutdown_timeout: duration("--web.shutdown-timeout", &args.shutdown_timeout)?,
            max_response_bytes: usize::try_from(bytes(
                "--web.max-response-bytes",
                &args.max_response_bytes,
            )?)
            .unwrap_or(usize::MAX),
        };
        Ok(Config {
            inputs,
            listen: args
                .listen_address
                .iter()
                .map(|a| listen_address(a))
                .collect::<Result<_, _>>()?,
            listen_text: args.listen_address,
            telemetry_path: args.telemetry_path,
            web_config_file: args.web_config_file,
            formats: match &args.formats {
                Some(text) => formats(text)?,
                None => Format::ALL.to_vec(),
            },
            sets: metric_sets(args.metrics.as_deref().unwrap_or(if go_style {
                GO_STYLE_METRICS
            } else {
                DEFAULT_METRICS
            }))?,
            max_endpoints: count("--max-endpoints", &args.max_endpoints)?,
            max_errors_per_endpoint: count(
                "--max-errors-per-endpoint",
                &args.max_errors_per_endpoint,
            )?,
            max_exceptions: count("--max-exceptions", &args.max_exceptions)?,
            limits,
            poll_interval: duration("--poll-interval", &args.poll_interval)?,
            buckets: match &args.buckets {
                Some(text) => buckets(text)?,
                None => DEFAULT_BUCKETS.to_vec(),
            },
            once: args.once,
            exit_after_stop: args
                .exit_after_stop
                .as_deref()
                .map(|d| duration("--exit-after-stop", d))
                .transpose()?,
            exit_after_stop_wait: duration("--exit-after-stop.wait", &args.exit_after_stop_wait)?,
            exit_when_locust_quits: match args.exit_when_locust_quits.as_deref() {
                Some(d) => Some(duration("--exit-when-locust-quits", d)?),
                None if go_style => Some(GO_STYLE_QUIT_GRACE),
                None => None,
            },
            enable_lifecycle: args.enable_lifecycle,
            outputs,
            checks,
            log_level: args.log_level.parse().map_err(|_| {
                invalid(
                    "--log.level",
                    format!(
                        "`{}` is not one of error, warn, info, debug, trace",
                        args.log_level
                    ),
                )
            })?,
            log_format: if args.log_format == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
        })
    }
}

/// `:9646`, `0.0.0.0:9646`, `[::1]:9646`, `localhost:9646`.
pub fn listen_address(text: &str) -> Result<SocketAddr, ConfigError> {
    values::listen_address_of("--web.listen-address", text)
}

/// `--exit-when-locust-quits` when configured as the Go exporter.
pub const GO_STYLE_QUIT_GRACE: Duration = Duration::from_secs(15);

/// `--metrics`: set names ([`crate::expose::sets::ALL`]), comma-separated.
pub fn metric_sets(text: &str) -> Result<Sets, ConfigError> {
    Sets::parse(text).map_err(|e| invalid("--metrics", e.to_string()))
}

/// Ascending, positive, finite bucket bounds in seconds.
pub fn buckets(text: &str) -> Result<Vec<f64>, ConfigError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim) {
        let v: f64 = part
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                invalid(
                    "--buckets",
                    format!("`{part}` is not a positive number of seconds"),
                )
            })?;
        if out.last().is_some_and(|&last| v <= last) {
            return Err(invalid(
                "--buckets",
                format!("`{part}` is not larger than the bound before it"),
            ));
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--metrics` and `--web.formats` say what their registries hold: every set and
    /// format, by name and what it is.
    #[test]
    fn set_and_format_help_come_from_their_registries() {
        let cmd = cli::command();
        let help = |id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_else(|| panic!("no help for {id}"))
        };
        let metrics = help("metrics");
        for set in crate::expose::sets::ALL {
            assert!(
                metrics.contains(&format!("{} ({})", set.name, set.about)),
                "{metrics}"
            );
        }
        assert!(metrics.contains(&format!("[default: {DEFAULT_METRICS};")));
        let formats = help("formats");
        for f in Format::ALL {
            assert!(
                formats.contains(&format!("{} ({})", f.name(), f.about())),
                "{formats}"
            );
        }
    }

    #[test]
    fn addresses_durations_sets_buckets() {
        assert_eq!(
            listen_address(":9646").unwrap(),
            "0.0.0.0:9646".parse().unwrap()
        );
        assert_eq!(
            listen_address("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert!(listen_address("nope")
            .unwrap_err()
            .to_string()
            .starts_with("--web.listen-address: `nope`"));
        assert_eq!(
            duration("--poll-interval", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            duration("--poll-interval", "2s").unwrap(),
            Duration::from_secs(2)
        );
        assert_eq!(
            duration("--poll-interval", "5").unwrap_err().to_string(),
            "--poll-interval: `5` has no unit: write e.g. 5s or 5ms"
        );
        assert!(duration("--poll-interval", "0s").is_err());
        assert_eq!(metric_sets("native").unwrap(), Sets::NONE.with("native"));
        assert!(metric_sets("seed,containersolutions").is_err());
        assert!(metric_sets("seed,foo").is_err());
        assert_eq!(buckets("0.1, 1,10").unwrap(), vec![0.1, 1.0, 10.0]);
        assert!(buckets("1,0.5").is_err());
        let args = super::cli::command();
        let help = args
            .get_arguments()
            .find(|a| a.get_id() == "buckets")
            .and_then(|a| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let help = help
            .split("[default: ")
            .nth(1)
            .and_then(|h| h.split(']').next())
            .unwrap_or_default();
        assert_eq!(
            formats("protobuf, text").unwrap(),
            vec![Format::Text, Format::Protobuf]
        );
        assert!(formats("text,json").is_err());
        assert!(formats(" , ").is_err());
        assert_eq!(
            buckets(help).unwrap(),
            DEFAULT_BUCKETS,
            "the help text states the default"
        );
    }
}
