//! `--web.config.file` text: a config or an error naming a line, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::output::http::web_config::WebConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err((line, _)) = WebConfig::parse(text) {
            assert!(line >= 1 && line <= text.lines().count().max(1));
        }
    }
});
