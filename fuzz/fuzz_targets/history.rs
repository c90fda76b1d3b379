//! `_stats_history.csv` lines through the history parser, framed as the source frames them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::parse::sniff::LineParser;
use locust_exporter::source::lines::{LineBatch, LineFramer};

fuzz_target!(|data: &[u8]| {
    let mut framer = LineFramer::default();
    let mut batch = LineBatch::default();
    framer.push(data, &mut batch);
    framer.finish(&mut batch);
    let mut parser = LineParser::history();
    for (n, line) in batch.lines() {
        let _ = parser.line(line, n, 1.0e9);
    }
});
