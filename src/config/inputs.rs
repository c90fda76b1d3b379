//! The inputs the command line asks for: `--csv`, `--events`, `--locust.uri` (with
//! `--locust.timeout`, `--locust.config.file`) and `--service`, checked (every error names
//! its flag) and then built into [`Source`]s, once, for the server and `--once` alike. A new
//! kind of input is its flag in `cli.rs` and its block here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::values::{bytes, count, duration, invalid, ConfigError};
use crate::parse::{otlp, FileRole};
use crate::source::discover::{has_wildcard, CsvPath};
use crate::source::follow::Follower;
use crate::source::otlp::OtlpSource;
use crate::source::stdin::Stdin;
use crate::source::webui::{WebUi, WebUiSource};
use crate::source::{Origin, Source};
use crate::support::http_client::{ClientSettings, HttpClient};

/// The `source` label of standard input.
pub const STDIN_SOURCE: &str = "stdin";

/// One `--csv` or `--events` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The `SERVICE=` part.
    pub service: Option<String>,
    /// The path (`-` for stdin with `--events`).
    pub path: PathBuf,
}

/// One `--locust.uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUiSpec {
    /// The `SERVICE=` part.
    pub service: Option<String>,
    /// The web UI's base URL.
    pub url: String,
}

/// The inputs' flags, as typed (flattened into [`super::cli::Args`]).
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Follow Locust --csv output: the prefix given to `locust --csv` (out/run →
    /// out/run_stats.csv, …) or a directory (every prefix in it, now and later). Repeatable.
    /// Missing files and directories are waited for.
    #[arg(
        long = "csv",
        env = "LOCUST_EXPORTER_CSV",
        value_name = "[SERVICE=]PATH"
    )]
    pub csv: Vec<String>,

    /// Follow a JSON-lines request event stream (or a piped Locust CSV); `-` is stdin.
    /// A file is followed like `tail -F`. Repeatable.
    #[arg(
        long = "events",
        env = "LOCUST_EXPORTER_EVENTS",
        value_name = "[SERVICE=]PATH"
    )]
    pub events: Vec<String>,

    /// Poll a running Locust's web UI (its /stats/requests and CSV endpoints) once per
    /// --poll-interval: Locust's own runner state, users and workers, exact values.
    /// Repeatable. (Also from LOCUST_EXPORTER_URI, the Go exporter's variable.)
    #[arg(
        long = "locust.uri",
        env = "LOCUST_EXPORTER_LOCUST_URI",
        value_name = "[SERVICE=]URL"
    )]
    pub locust_uri: Vec<String>,

    /// How long a poll of a web UI may take [default: 5s]. (Also from
    /// LOCUST_EXPORTER_TIMEOUT, the Go exporter's variable.)
    #[arg(
        long = "locust.timeout",
        env = "LOCUST_EXPORTER_LOCUST_TIMEOUT",
        value_name = "DURATION"
    )]
    pub locust_timeout: Option<String>,

    /// Credentials (Locust's --web-auth, as basic_auth) and TLS for the web UI, in the
    /// Prometheus HTTP client format; never on the command line.
    #[arg(
        long = "locust.config.file",
        env = "LOCUST_EXPORTER_LOCUST_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub locust_config_file: Option<PathBuf>,

    /// Largest rewritten file read (`_stats.csv`, `_failures.csv`, `_exceptions.csv`, the
    /// --json-file report); a bigger one is refused, the error naming it.
    #[arg(
        long = "max-file-size",
        env = "LOCUST_EXPORTER_MAX_FILE_SIZE",
        value_name = "SIZE",
        default_value = "64MiB"
    )]
    pub max_file_size: String,

    /// A prefix gone from a --csv directory this long is let go: its files are closed and
    /// its service is no longer served (its final values were served that long).
    #[arg(
        long = "csv.vanished-after",
        env = "LOCUST_EXPORTER_CSV_VANISHED_AFTER",
        value_name = "DURATION",
        default_value = "5m"
    )]
    pub csv_vanished_after: String,

    /// Receive OpenTelemetry from `locust --otel` (or any OTLP exporter) on this address:
    /// OTLP/gRPC and OTLP/HTTP (protobuf or JSON) on the one port (conventionally 4317 for
    /// gRPC, 4318 for HTTP: either works). Off unless given.
    #[arg(
        long = "otlp.listen-address",
        env = "LOCUST_EXPORTER_OTLP_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub otlp_listen_address: Option<String>,

    /// The service OTLP data feeds [default: each resource's service.name, which Locust
    /// sets from OTEL_SERVICE_NAME, `locust` by default].
    #[arg(
        long = "otlp.service",
        env = "LOCUST_EXPORTER_OTLP_SERVICE",
        value_name = "NAME"
    )]
    pub otlp_service: Option<String>,

    /// Where OTLP request counts and times come from: `metrics` (Locust's
    /// locust.client.duration histogram: every request) or `spans` (HTTP client spans:
    /// exact times of what the HTTP instrumentation sees). The other is ignored, so no
    /// request counts twice.
    #[arg(
        long = "otlp.requests-from",
        env = "LOCUST_EXPORTER_OTLP_REQUESTS_FROM",
        value_name = "metrics|spans",
        default_value = "metrics"
    )]
    pub otlp_requests_from: String,

    /// Largest OTLP message taken, on the wire and once inflated (gzip): larger ones get
    /// 413 / INVALID_ARGUMENT [default: 16MiB].
    #[arg(
        long = "otlp.max-message-bytes",
        env = "LOCUST_EXPORTER_OTLP_MAX_MESSAGE_BYTES",
        value_name = "SIZE"
    )]
    pub otlp_max_message_bytes: Option<String>,

    /// Most services the OTLP receiver feeds at once (each OTLP resource's service.name is
    /// one); points of further ones are refused with OTLP's partial success and counted. A
    /// service with no point for 15 minutes is forgotten [default: 200].
    #[arg(
        long = "otlp.max-services",
        env = "LOCUST_EXPORTER_OTLP_MAX_SERVICES",
        value_name = "N"
    )]
    pub otlp_max_services: Option<String>,

    /// The `service` label where none is given.
    #[arg(
        long = "service",
        env = "LOCUST_EXPORTER_SERVICE",
        value_name = "NAME",
        default_value = "locust"
    )]
    pub service: String,
}

/// Every input, checked.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `--csv` paths.
    pub csv: Vec<SourceSpec>,
    /// `--events` paths.
    pub events: Vec<SourceSpec>,
    /// `--locust.uri`s.
    pub web_uis: Vec<WebUiSpec>,
    /// `--locust.timeout`.
    pub locust_timeout: Duration,
    /// `--locust.config.file`.
    pub locust_client: ClientSettings,
    /// `--service`.
    pub service: String,
    /// `--max-file-size`.
    pub max_file_size: u64,
    /// `--csv.vanished-after`.
    pub csv_vanished_after: Duration,
    /// `--otlp.*`: the OTLP receiver, when asked for.
    pub otlp: Option<OtlpInput>,
    /// Configured only as the Go exporter is (no `--csv`, `--events` or `--locust.uri`; at
    /// most `LOCUST_EXPORTER_URI`): the drop-in defaults apply (docs/kubernetes-operator.md).
    pub go_style: bool,
}

/// The OTLP receiver's settings.
#[derive(Debug, Clone)]
pub struct OtlpInput {
    /// `--otlp.listen-address`, resolved.
    pub listen: std::net::SocketAddr,
    /// As typed (for messages).
    pub listen_text: String,
    /// `--otlp.service` and `--otlp.requests-from`.
    pub options: otlp::Options,
    /// `--otlp.max-message-bytes`.
    pub max_message_bytes: usize,
}

/// Most `--otlp.max-message-bytes` may say: four messages are read at once, each held
/// twice while it is inflated.
pub const MAX_OTLP_MESSAGE_BYTES: u64 = 1 << 30;

/// What the Go exporter polls when given no URI.
pub const GO_DEFAULT_URI: &str = "http://localhost:8089";

impl Inputs {
    /// Checks the input flags of `args`; `env` gives the Go exporter's variables
    /// (`LOCUST_EXPORTER_URI`, `LOCUST_EXPORTER_TIMEOUT`), used when neither the flag nor its
    /// own variable is set.
    pub fn from_args(
        args: &mut InputArgs,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Inputs, ConfigError> {
        // Configured as the Go exporter is: no input of our own, at most its variable.
        let go_style = args.csv.is_empty()
            && args.events.is_empty()
            && args.locust_uri.is_empty()
            && args.otlp_listen_address.is_none();
        if args.locust_uri.is_empty() {
            args.locust_uri.extend(env("LOCUST_EXPORTER_URI"));
        }
        if args.locust_timeout.is_none() {
            args.locust_timeout = env("LOCUST_EXPORTER_TIMEOUT");
        }
        if go_style && args.locust_uri.is_empty() {
            // As the Go exporter: with no input at all, Locust's own web UI in the same pod.
            args.locust_uri.push(GO_DEFAULT_URI.to_owned());
        }
        let service = args.service.trim().to_owned();
        if service.is_empty() {
            return Err(invalid("--service", "the name is empty"));
        }
        let csv = args
            .csv
            .iter()
            .map(|a| source_spec("--csv", a))
            .collect::<Result<Vec<_>, _>>()?;
        if csv.iter().any(|s| s.path.as_os_str() == "-") {
            return Err(invalid(
                "--csv",
                "`-` (stdin) is for --events; --csv follows files",
            ));
        }
        let events = args
            .events
            .iter()
            .map(|a| source_spec("--events", a))
            .collect::<Result<Vec<_>, _>>()?;
        if events.iter().filter(|s| s.path.as_os_str() == "-").count() > 1 {
            return Err(invalid("--events", "stdin (`-`) can be given only once"));
        }
        for spec in &events {
            let dir = spec.path.parent().map(|p| p.to_string_lossy().into_owned());
            if dir.is_some_and(|d| has_wildcard(&d)) {
                return Err(invalid(
                    "--events",
                    format!(
                        "`{}`: only the file name may have wildcards (e.g. /shared/events-*.jsonl)",
                        spec.path.display()
                    ),
                ));
            }
        }
        let web_uis = args
            .locust_uri
            .iter()
            .map(|a| web_ui_spec(a))
            .collect::<Result<Vec<_>, _>>()?;
        let locust_client = match &args.locust_config_file {
            Some(path) => ClientSettings::load("--locust.config.file", path)?,
            None => ClientSettings::default(),
        };
        let otlp = match &args.otlp_listen_address {
            None => None,
            Some(text) => Some(OtlpInput {
                listen: super::values::listen_address_of("--otlp.listen-address", text)?,
                listen_text: text.clone(),
                max_message_bytes: match &args.otlp_max_message_bytes {
                    None => crate::source::otlp::DEFAULT_MAX_MESSAGE_BYTES,
                    Some(size) => match bytes("--otlp.max-message-bytes", size)? {
                        0 => return Err(invalid("--otlp.max-message-bytes", "0: at least 1 byte")),
                        n if n > MAX_OTLP_MESSAGE_BYTES => {
                            return Err(invalid(
                                "--otlp.max-message-bytes",
                                format!("{size}: at most 1GiB"),
                            ))
                        }
                        n => usize::try_from(n).unwrap_or(usize::MAX),
                    },
                },
                options: otlp::Options {
                    service: match args.otlp_service.as_deref().map(str::trim) {
                        Some("") => return Err(invalid("--otlp.service", "the name is empty")),
                        other => other.map(str::to_owned),
                    },
                    requests_from: match args.otlp_requests_from.trim() {
                        "metrics" => otlp::RequestsFrom::Metrics,
                        "spans" => otlp::RequestsFrom::Spans,
                        other => {
                            return Err(invalid(
                                "--otlp.requests-from",
                                format!("`{other}`: metrics or spans"),
                            ))
                        }
                    },
                    max_services: match &args.otlp_max_services {
                        None => otlp::DEFAULT_MAX_SERVICES,
                        Some(n) => count("--otlp.max-services", n)?,
                    },
                },
            }),
        };
        if otlp.is_none() {
            for (flag, given) in [
                ("--otlp.service", args.otlp_service.is_some()),
                (
                    "--otlp.max-message-bytes",
                    args.otlp_max_message_bytes.is_some(),
                ),
                ("--otlp.max-services", args.otlp_max_services.is_some()),
            ] {
                if given {
                    return Err(invalid(flag, "needs --otlp.listen-address"));
                }
            }
        }
        Ok(Inputs {
            otlp,
            csv,
            events,
            web_uis,
            locust_timeout: duration(
                "--locust.timeout",
                args.locust_timeout.as_deref().unwrap_or("5s"),
            )?,
            locust_client,
            service,
            max_file_size: bytes("--max-file-size", &args.max_file_size)?,
            csv_vanished_after: duration("--csv.vanished-after", &args.csv_vanished_after)?,
            go_style,
        })
    }

    fn service_of(&self, spec: &SourceSpec) -> String {
        spec.service.clone().unwrap_or_else(|| self.service.clone())
    }

    /// Every input as a [`Source`], in the order `--once` reads them: `--csv` paths,
    /// `--events` files, `--locust.uri` web UIs, the OTLP receiver (which `--once` refuses),
    /// then standard input.
    pub fn sources(&self) -> Result<Vec<Box<dyn Source>>, ConfigError> {
        let is_stdin = |spec: &&SourceSpec| spec.path.as_os_str() == "-";
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        for spec in &self.csv {
            let path = CsvPath::new(
                spec.path.clone(),
                spec.service.clone(),
                self.service.clone(),
            );
            sources.push(Box::new(
                Follower::csv(path)
                    .max_file_size(self.max_file_size)
                    .vanish_after(self.csv_vanished_after),
            ));
        }
        for spec in self.events.iter().filter(|s| !is_stdin(s)) {
            sources.push(Box::new(
                Follower::events(self.service_of(spec), spec.path.clone())
                    .max_file_size(self.max_file_size),
            ));
        }
        if !self.web_uis.is_empty() {
            let client = HttpClient::new(
                "--locust.config.file",
                &self.locust_client,
                self.locust_timeout,
            )?;
            if self.locust_client.insecure_skip_verify {
                tracing::warn!("TLS certificates of Locust's web UI are not verified (insecure_skip_verify in --locust.config.file).");
            }
            for w in &self.web_uis {
                let service = w.service.clone().unwrap_or_else(|| self.service.clone());
                let ui = WebUi::new(&w.url, service);
                sources.push(Box::new(WebUiSource::new(ui, client.clone())));
            }
        }
        if let Some(o) = &self.otlp {
            sources.push(Box::new(OtlpSource::new(
                o.listen,
                o.listen_text.clone(),
                o.max_message_bytes,
                o.options.clone(),
            )));
        }
        for spec in self.events.iter().filter(is_stdin) {
            sources.push(Box::new(Stdin::new(Arc::new(Origin {
                service: self.service_of(spec),
                role: FileRole::Events,
                source: STDIN_SOURCE.into(),
            }))));
        }
        Ok(sources)
    }
}

/// `[SERVICE=]PATH`. A `=` belongs to the service only if what precedes it is a plain name
/// (letters, digits, `_`, `-`, `.`), so paths with `=` in them still work.
pub fn source_spec(flag: &'static str, arg: &str) -> Result<SourceSpec, ConfigError> {
    let (service, path) = match arg.split_once('=') {
        Some((s, p))
            if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)) =>
        {
            (Some(s.to_owned()), p)
        }
        Some(("", _)) => {
            return Err(invalid(
                flag,
                format!("`{arg}`: the SERVICE before `=` is empty"),
            ))
        }
        _ => (None, arg),
    };
    if path.is_empty() {
        return Err(invalid(flag, format!("`{arg}`: the PATH is empty")));
    }
    Ok(SourceSpec {
        service,
        path: PathBuf::from(path),
    })
}

/// `[SERVICE=]URL` of `--locust.uri`.
pub fn web_ui_spec(arg: &str) -> Result<WebUiSpec, ConfigError> {
    let spec = source_spec("--locust.uri", arg)?;
    let url = spec.path.to_string_lossy().into_owned();
    let valid = url
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && !rest.is_empty());
    if !valid {
        return Err(invalid(
            "--locust.uri",
            format!("`{url}` is not an http:// or https:// URL (e.g. http://locust-master:8089)"),
        ));
    }
    Ok(WebUiSpec {
        service: spec.service,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs() {
        assert_eq!(
            source_spec("--csv", "api=out/run").unwrap(),
            SourceSpec {
                service: Some("api".into()),
                path: "out/run".into()
            }
        );
        assert_eq!(source_spec("--csv", "out/a=b").unwrap().service, None);
        assert_eq!(
            source_spec("--events", "-").unwrap().path,
            PathBuf::from("-")
        );
        assert!(source_spec("--csv", "=x").is_err());
        assert!(source_spec("--csv", "api=").is_err());
    }
}
