//! `--once`: the inputs read to their end with no server, the exposition written once (and
//! delivered to every output, e.g. pushed when `--push.url` is given). The synchronous pieces the server runs as tasks
//! ([`crate::source::Source::read_now`], [`Ingest::apply`], [`crate::expose::render`]) are
//! called directly; a runtime is made only where a part is async (a web UI poll, the push).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::expose;
use crate::ingest::{wall_clock, Ingest};
use crate::model::Model;
use crate::output::deliver_all;
use crate::serve::web_config::WebConfig;

use super::build::model_config;
use super::error::AppError;

/// `--once`'s delivery to each output is given this long (the push and remote write retry
/// within it, a few times with backoff); a receiver that is down fails `--once` then.
pub const ONCE_DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Reads everything present, writes the exposition to `out`, and delivers it to every
/// output (`--push.url`). An input with nothing to read (no file, empty standard input, a
/// web UI that does not answer) is an error naming it.
pub fn once(config: &Config, out: &mut impl Write) -> Result<(), AppError> {
    // Every file the server would read is read and checked here too: a broken one fails
    // `--once` as it fails the server (exit code 2), not only later.
    if let Some(path) = &config.web_config_file {
        let web = WebConfig::load(path)?;
        if let Some(files) = &web.tls {
            crate::serve::tls::acceptor(files, web.http2)?;
        }
    }
    let now = wall_clock();
    // One runtime for every async part: the baseline from a store, the promql: checks,
    // the outputs' delivery.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| AppError::Io {
            what: "starting the runtime".into(),
            source,
        })?;
    let baseline = runtime.block_on(super::finish::load_baseline(config, now))?;
    let mut ingest = Ingest::new(Model::new(model_config(config, baseline)));
    for mut source in config.inputs.sources()? {
        source.read_now(&mut |chunk| ingest.apply(chunk, now))?;
    }
    ingest.end_of_input(now);
    let mut snap = ingest.snapshot(now);
    snap.seq = 1;
    runtime.block_on(super::finish::judge_queries(config, &mut snap));
    let text = expose::render(&snap, config.sets, &[]);
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| AppError::Io {
            what: "writing the exposition".into(),
            source,
        })?;
    let outputs = config.outputs.build(config.sets)?;
    if !outputs.is_empty() {
        runtime.block_on(deliver_all(
            &outputs,
            Arc::new(snap.clone()),
            now,
            ONCE_DELIVERY_TIMEOUT,
        ))?;
    }
    // What was read is the run: its checks are the verdict.
    super::finish::finish(config, &snap, true, now)
}
