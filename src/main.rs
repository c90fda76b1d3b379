//! `locust-exporter`: parse arguments, set up logging, run, map errors to exit codes (0
//! clean, 1 runtime failure, 2 bad arguments or settings files, 3 no input gave data within
//! `--exit-after-stop.wait`, 99 a `--check` failed, 101 a bug: a panic; the table is
//! `AppError::exit_code`'s and `docs/configuration.md`'s). The only place that exits.

use std::process::ExitCode;

use locust_exporter::app;
use locust_exporter::config::env;
use locust_exporter::config::{Config, LogFormat};

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,locust_exporter={}",
        config.log_level.as_str().to_lowercase()
    ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}

/// A panic anywhere — the ingest task, a connection, a source — ends the process with its
/// message and exit code 101: a live process must never serve a frozen snapshot.
fn panics_are_fatal() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("locust-exporter: a bug stopped the exporter (the panic above); exiting.");
        std::process::exit(101);
    }));
}

fn main() -> ExitCode {
    panics_are_fatal();
    let variable = |k: &str| std::env::var(k).ok();
    let parsed = match env::parse(std::env::args_os().collect(), &variable) {
        Ok(p) => p,
        Err(e) => e.exit(),
    };
    let config = match Config::from_args(parsed.args.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("locust-exporter: {}", parsed.explain(e, &variable));
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    if config.once {
        let stdout = std::io::stdout();
        return match app::once(&config, &mut stdout.lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("locust-exporter: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("locust-exporter: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(app::serve(config));
    // Everything owed was delivered inside `serve`. Standard input is read on a blocking
    // thread that may never return (and a render may be running on another): do not wait
    // for them.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("locust-exporter: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
