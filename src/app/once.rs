//! `--once`: the inputs read to their end with no server, the exposition written once (and
//! pushed when `--push.url` is given). The synchronous pieces the server runs as tasks
//! ([`crate::source::Source::read_now`], [`Ingest::apply`], [`crate::expose::render`]) are
//! called directly; a runtime is made only where a part is async (a web UI poll, the push).

use std::io::Write;

use crate::config::Config;
use crate::expose;
use crate::ingest::{wall_clock, Ingest};
use crate::model::Model;

use super::build::{model_config, pusher};
use super::error::AppError;

/// Reads everything present, writes the exposition to `out`, and pushes it when
/// `--push.url` is given. An input with nothing to read (no file, empty standard input, a
/// web UI that does not answer) is an error naming it.
pub fn once(config: &Config, out: &mut impl Write) -> Result<(), AppError> {
    let pusher = pusher(config)?;
    let mut ingest = Ingest::new(Model::new(model_config(config)));
    let now = wall_clock();
    for mut source in config.inputs.sources()? {
        source.read_now(&mut |chunk| ingest.apply(chunk, now))?;
    }
    ingest.end_of_input(now);
    let mut snap = ingest.snapshot(now);
    snap.seq = 1;
    let text = expose::render(&snap, config.sets, &[]);
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| AppError::Io {
            what: "writing the exposition".into(),
            source,
        })?;
    if let Some(pusher) = pusher {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| AppError::Io {
                what: "starting the runtime to push".into(),
                source,
            })?;
        runtime
            .block_on(pusher.push(&snap, now))
            .map_err(|source| AppError::Push {
                url: config
                    .push
                    .as_ref()
                    .map_or_else(String::new, |p| p.config.url.clone()),
                source,
            })?;
    }
    Ok(())
}
