//! Event streams: JSON lines, or a piped history or `_stats.csv` (the first line decides),
//! through the stream parser and into a model (per-request lines and producers' `requests`
//! batches); never a panic, and the model's snapshot renders in every format.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::expose::{render_as, Format, Sets};
use locust_exporter::model::{Model, ModelConfig};
use locust_exporter::parse::sniff::LineParser;
use locust_exporter::parse::Item;
use locust_exporter::source::lines::{LineBatch, LineFramer};

fuzz_target!(|data: &[u8]| {
    let mut framer = LineFramer::default();
    let mut batch = LineBatch::default();
    framer.push(data, &mut batch);
    framer.finish(&mut batch);
    let mut parser = LineParser::sniffing();
    let mut model = Model::new(ModelConfig {
        max_endpoints: 4,
        max_errors_per_endpoint: 2,
        max_exceptions: 2,
        ..ModelConfig::default()
    });
    let updates = batch
        .lines()
        .filter_map(|(n, line)| match parser.line(line, n, 1.0e9) {
            Ok(Item::Update(u)) | Ok(Item::Clamped(u)) => Some(u),
            _ => None,
        });
    model.apply_all("fuzz", updates, 1.0e9);
    let snap = model.snapshot(1.0e9 + 1.0);
    for format in Format::ALL {
        let _ = render_as(format, &snap, Sets::default(), &[]);
    }
});
