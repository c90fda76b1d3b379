//! The command line exactly as typed (SPEC §2): clap derive, help text, no validation
//! beyond syntax. [`crate::config::Config::from_args`] validates.

use std::path::PathBuf;

use clap::Parser;

/// Follows a Locust load test (its --csv files or JSON-lines request events) and serves its
/// statistics as Prometheus metrics.
#[derive(Debug, Clone, Parser)]
#[command(name = "locust-exporter", version, about, long_about = None)]
pub struct Args {
    /// Follow Locust --csv output: the prefix given to `locust --csv` (out/run →
    /// out/run_stats.csv, …) or a directory (every prefix in it, now and later). Repeatable.
    /// Missing files and directories are waited for.
    #[arg(long = "csv", value_name = "[SERVICE=]PATH")]
    pub csv: Vec<String>,

    /// Follow a JSON-lines request event stream (or a piped Locust CSV); `-` is stdin.
    /// A file is followed like `tail -F`. Repeatable.
    #[arg(long = "events", value_name = "[SERVICE=]PATH")]
    pub events: Vec<String>,

    /// The `service` label where none is given.
    #[arg(long = "service", value_name = "NAME", default_value = "locust")]
    pub service: String,

    /// Address to listen on for scrapes.
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = ":9646"
    )]
    pub listen_address: String,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// TLS (`tls_server_config`: cert_file, key_file) and basic auth (`basic_auth_users`,
    /// bcrypt), in the Prometheus exporter-toolkit format.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Most connections served at once; one more is answered 503 and closed.
    #[arg(long = "web.max-connections", value_name = "N", default_value = "512")]
    pub max_connections: String,

    /// Time a client has to send a request's headers (from connecting, or from the first
    /// byte of a following request).
    #[arg(
        long = "web.read-header-timeout",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub read_header_timeout: String,

    /// A kept-alive connection with no traffic for this long is closed.
    #[arg(
        long = "web.idle-timeout",
        value_name = "DURATION",
        default_value = "60s"
    )]
    pub idle_timeout: String,

    /// A client that reads nothing of its response for this long is dropped.
    #[arg(
        long = "web.send-timeout",
        value_name = "DURATION",
        default_value = "30s"
    )]
    pub send_timeout: String,

    /// On SIGINT/SIGTERM, time given to open connections to finish before they are closed.
    #[arg(
        long = "web.shutdown-timeout",
        value_name = "DURATION",
        default_value = "3s"
    )]
    pub shutdown_timeout: String,

    /// Metric sets to serve: seed (the Python collector's names), native, or both.
    #[arg(
        long = "metrics",
        value_name = "SET[,SET]",
        default_value = "seed,native"
    )]
    pub metrics: String,

    /// Distinct (method, name) per service before further ones are folded into `__other__`.
    #[arg(long = "max-endpoints", value_name = "N", default_value = "2000")]
    pub max_endpoints: String,

    /// Distinct error texts per endpoint before further ones are folded into error
    /// `__other__`.
    #[arg(
        long = "max-errors-per-endpoint",
        value_name = "N",
        default_value = "20"
    )]
    pub max_errors_per_endpoint: String,

    /// Distinct exception messages per service before further ones are folded into message
    /// `__other__`.
    #[arg(long = "max-exceptions", value_name = "N", default_value = "200")]
    pub max_exceptions: String,

    /// How often files are polled besides inotify wake-ups (e.g. 1s, 500ms).
    #[arg(long = "poll-interval", value_name = "DURATION", default_value = "1s")]
    pub poll_interval: String,

    /// Histogram bucket upper bounds in seconds for event input, comma-separated
    /// [default: 0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120].
    #[arg(long = "buckets", value_name = "SECONDS[,SECONDS]")]
    pub buckets: Option<String>,

    /// Read everything present, print the exposition to stdout and exit 0.
    #[arg(long = "once")]
    pub once: bool,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}
