//! The command line exactly as typed (`docs/configuration.md`): clap derive, help text, no validation
//! beyond syntax. [`crate::config::Config::from_args`] validates.

use std::path::PathBuf;

use clap::Parser;

pub use super::inputs::InputArgs;

/// `--version`: the crate's version, the git revision and the commit's date it was built
/// from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("LOCUST_EXPORTER_REVISION"),
    ", ",
    env!("LOCUST_EXPORTER_COMMIT_DATE"),
    ")"
);
pub use super::checks::CheckArgs;
pub use super::outputs::OutputArgs;

/// Follows a Locust load test (its --csv files, request events, web UI or OpenTelemetry) and
/// serves its statistics as Prometheus metrics.
///
/// Every flag can also be set from the environment: LOCUST_EXPORTER_ and the flag's name in
/// upper case, dots and dashes as underscores (--web.listen-address →
/// LOCUST_EXPORTER_WEB_LISTEN_ADDRESS). A flag on the command line wins over its variable;
/// a repeatable flag takes a comma-separated list from its variable (`\,` for a comma
/// inside a value).
#[derive(Debug, Clone, Parser)]
#[command(name = "locust-exporter", version = VERSION, about)]
pub struct Args {
    /// The inputs' flags (`--csv`, `--events`, `--locust.*`, `--service`).
    #[command(flatten)]
    pub inputs: InputArgs,

    /// Address to listen on for scrapes (repeatable: each is served alike).
    #[arg(
        long = "web.listen-address",
        env = "LOCUST_EXPORTER_WEB_LISTEN_ADDRESS",
        value_name = "ADDR",
        default_value = ":9646"
    )]
    pub listen_address: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        env = "LOCUST_EXPORTER_WEB_TELEMETRY_PATH",
        value_name = "PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// Exposition formats offered to scrapers (the help is [`crate::expose::formats_help`],
    /// through [`command`]).
    #[arg(
        long = "web.formats",
        env = "LOCUST_EXPORTER_WEB_FORMATS",
        value_name = "LIST"
    )]
    pub formats: Option<String>,

    /// TLS (`tls_server_config`: cert_file, key_file) and basic auth (`basic_auth_users`,
    /// bcrypt), in the Prometheus exporter-toolkit format.
    #[arg(
        long = "web.config.file",
        env = "LOCUST_EXPORTER_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub web_config_file: Option<PathBuf>,

    /// Most connections served at once; one more is answered 503 and closed.
    #[arg(
        long = "web.max-connections",
        env = "LOCUST_EXPORTER_WEB_MAX_CONNECTIONS",
        value_name = "N",
        default_value = "512"
    )]
    pub max_connections: String,

    /// Time a client has to send a request's headers (from connecting, or from the first
    /// byte of a following request).
    #[arg(
        long = "web.read-header-timeout",
        env = "LOCUST_EXPORTER_WEB_READ_HEADER_TIMEOUT",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub read_header_timeout: String,

    /// A kept-alive connection with no traffic for this long is closed.
    #[arg(
        long = "web.idle-timeout",
        env = "LOCUST_EXPORTER_WEB_IDLE_TIMEOUT",
        value_name = "DURATION",
        default_value = "60s"
    )]
    pub idle_timeout: String,

    /// A client that reads nothing of its response for this long is dropped.
    #[arg(
        long = "web.send-timeout",
        env = "LOCUST_EXPORTER_WEB_SEND_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s"
    )]
    pub send_timeout: String,

    /// Bytes of rendered bodies that unsent responses may hold in all; past it, requests get
    /// the snapshot rendered last until slow clients read or time out.
    #[arg(
        long = "web.max-response-bytes",
        env = "LOCUST_EXPORTER_WEB_MAX_RESPONSE_BYTES",
        value_name = "SIZE",
        default_value = "16MiB"
    )]
    pub max_response_bytes: String,

    /// On SIGINT/SIGTERM, time given to open connections to finish before they are closed.
    #[arg(
        long = "web.shutdown-timeout",
        env = "LOCUST_EXPORTER_WEB_SHUTDOWN_TIMEOUT",
        value_name = "DURATION",
        default_value = "3s"
    )]
    pub shutdown_timeout: String,

    /// Metric sets to serve (the help is the registry's: [`crate::expose::sets::help`],
    /// through [`command`]).
    #[arg(
        long = "metrics",
        env = "LOCUST_EXPORTER_METRICS",
        value_name = "SET[,SET]"
    )]
    pub metrics: Option<String>,

    /// The Go exporter's metric name prefix (LOCUST_METRIC_NAMESPACE there too): only its
    /// default, locust, is served.
    #[arg(
        long = "locust.namespace",
        env = "LOCUST_METRIC_NAMESPACE",
        value_name = "NAME",
        default_value = "locust"
    )]
    pub locust_namespace: String,

    /// Exit 0 once every polled Locust web UI has stopped its run and then stopped answering
    /// for DURATION (Locust's --autoquit ended it): the sidecar ends with the Job [default:
    /// off; 15s when configured as the Go exporter].
    #[arg(
        long = "exit-when-locust-quits",
        env = "LOCUST_EXPORTER_EXIT_WHEN_LOCUST_QUITS",
        value_name = "DURATION",
        num_args = 0..=1,
        default_missing_value = "15s"
    )]
    pub exit_when_locust_quits: Option<String>,

    /// Distinct (method, name) per service before further ones are folded into `__other__`.
    #[arg(
        long = "max-endpoints",
        env = "LOCUST_EXPORTER_MAX_ENDPOINTS",
        value_name = "N",
        default_value = "2000"
    )]
    pub max_endpoints: String,

    /// Distinct error texts per endpoint before further ones are folded into error
    /// `__other__`.
    #[arg(
        long = "max-errors-per-endpoint",
        env = "LOCUST_EXPORTER_MAX_ERRORS_PER_ENDPOINT",
        value_name = "N",
        default_value = "20"
    )]
    pub max_errors_per_endpoint: String,

    /// Distinct exception messages per service before further ones are folded into message
    /// `__other__`.
    #[arg(
        long = "max-exceptions",
        env = "LOCUST_EXPORTER_MAX_EXCEPTIONS",
        value_name = "N",
        default_value = "200"
    )]
    pub max_exceptions: String,

    /// How often files are polled besides inotify wake-ups (e.g. 1s, 500ms).
    #[arg(
        long = "poll-interval",
        env = "LOCUST_EXPORTER_POLL_INTERVAL",
        value_name = "DURATION",
        default_value = "1s"
    )]
    pub poll_interval: String,

    /// Histogram bucket upper bounds in seconds for event input, comma-separated
    /// [default: 0.001,0.002,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,60].
    #[arg(
        long = "buckets",
        env = "LOCUST_EXPORTER_BUCKETS",
        value_name = "SECONDS[,SECONDS]"
    )]
    pub buckets: Option<String>,

    /// Exit 0 once every service has been `stopped` (and every stdin stream has ended) for
    /// DURATION, after a final push when pushing: the Kubernetes Job sidecar's end. Without
    /// a value: 1m, time for a last scrape.
    #[arg(
        long = "exit-after-stop",
        env = "LOCUST_EXPORTER_EXIT_AFTER_STOP",
        value_name = "DURATION",
        num_args = 0..=1,
        default_missing_value = "1m"
    )]
    pub exit_after_stop: Option<String>,

    /// With --exit-after-stop: exit (code 3) when no input has given any data this long after
    /// the start (a wrong path, a Locust that never started), after a final push.
    #[arg(
        long = "exit-after-stop.wait",
        env = "LOCUST_EXPORTER_EXIT_AFTER_STOP_WAIT",
        value_name = "DURATION",
        default_value = "5m"
    )]
    pub exit_after_stop_wait: String,

    /// Serve POST /-/quit (behind the web config's auth): exits 0, after a final push.
    #[arg(
        long = "web.enable-lifecycle",
        env = "LOCUST_EXPORTER_WEB_ENABLE_LIFECYCLE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub enable_lifecycle: bool,

    /// The outputs' flags (`--push.*`, `--remote-write.*`).
    #[command(flatten)]
    pub outputs: OutputArgs,

    /// The checks' flags (`--check*`, `--summary.file`, `--junit.file`, `--run.id`).
    #[command(flatten)]
    pub checks: CheckArgs,

    /// Read everything present, print the exposition to stdout (and deliver it to the
    /// outputs, e.g. --push.url), then exit: 0, or 1 when an input had nothing to read or a
    /// delivery failed.
    #[arg(
        long = "once",
        env = "LOCUST_EXPORTER_ONCE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub once: bool,

    /// Log level: error, warn, info, debug or trace.
    #[arg(
        long = "log.level",
        env = "LOCUST_EXPORTER_LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "info"
    )]
    pub log_level: String,

    /// Log format.
    #[arg(long = "log.format", env = "LOCUST_EXPORTER_LOG_FORMAT", value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// `--metrics` when not given.
pub const DEFAULT_METRICS: &str = "seed,native";
/// `--metrics` when configured as the Go exporter.
pub const GO_STYLE_METRICS: &str = "native,containersolutions";

/// The command line: [`Args`], with the help of `--metrics` and `--web.formats` from their
/// registries (a new set or format is in the help without an edit here).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Args::command()
        .mut_arg("metrics", |a| {
            a.help(crate::expose::sets::help(DEFAULT_METRICS, GO_STYLE_METRICS))
        })
        .mut_arg("formats", |a| a.help(crate::expose::formats_help()))
}
