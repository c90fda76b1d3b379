//! `--web.config.file` text: a config or an error naming a line, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::serve::web_config::WebConfig;
use locust_exporter::support::yaml::line_count;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err((line, _)) = WebConfig::parse(text) {
            // A line the file has, as YAML counts lines (a lone \r ends one too).
            assert!(line >= 1 && line <= line_count(text));
        }
    }
});
