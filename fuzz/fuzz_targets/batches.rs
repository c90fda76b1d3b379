//! Producers' `requests` batch lines with counts the fuzzer picks, near and past every
//! integer width (a bin past u32::MAX once panicked the ingest task): never a panic, the
//! model's counts never go down, and the snapshot renders in every format.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::expose::{render_as, Format, Sets};
use locust_exporter::model::{Model, ModelConfig};
use locust_exporter::parse::sniff::LineParser;
use locust_exporter::parse::Item;

/// A count from 8 bytes, biased to the edges (0, 1, u32::MAX ± 1, u64::MAX, 2^53).
fn count(b: &[u8]) -> u64 {
    let mut raw = [0u8; 8];
    raw[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    let v = u64::from_le_bytes(raw);
    match v % 8 {
        0 => 0,
        1 => 1,
        2 => u32::MAX as u64,
        3 => u32::MAX as u64 + 1,
        4 => u64::MAX,
        5 => 1 << 53,
        _ => v >> (v % 61),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parser = LineParser::sniffing();
    let mut model = Model::new(ModelConfig::default());
    let mut last_total = 0.0f64;
    for (i, chunk) in data.chunks(24).enumerate() {
        let (requests, fails, bin) = (count(chunk), count(chunk.get(8..).unwrap_or(&[])), count(chunk.get(16..).unwrap_or(&[])));
        let schema = (chunk.first().copied().unwrap_or(0) % 12) as i64 - 4;
        let index = (chunk.get(1).copied().unwrap_or(0) as i64 - 128) * 8;
        let line = format!(
            r#"{{"event":"requests","request_type":"GET","name":"/p{}","requests":{requests},"timed":{requests},"failures":{fails},"response_time_sum":{}.0,"response_time_min":1.0,"response_time_max":10.0,"schema":{schema},"zero_count":0,"buckets":[[{index},{bin}]]}}"#,
            i % 3,
            requests.saturating_mul(3) as f64,
        );
        if let Ok(Item::Update(u)) | Ok(Item::Clamped(u)) = parser.line(line.as_bytes(), i as u64 + 1, 1.0e9) {
            model.apply("fuzz", u, 1.0e9);
        }
        let snap = model.snapshot(1.0e9 + 1.0);
        let total: f64 = snap
            .services
            .iter()
            .flat_map(|s| s.endpoints.iter())
            .map(|e| e.requests as f64)
            .sum();
        assert!(total >= last_total, "the request count went down: {last_total} → {total}");
        last_total = total;
    }
    let snap = model.snapshot(1.0e9 + 1.0);
    for format in Format::ALL {
        let _ = render_as(format, &snap, Sets::default().with("containersolutions"), &[]);
    }
});
