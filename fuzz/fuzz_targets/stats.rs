//! `_stats.csv` snapshots: any bytes give a table or an error, never a panic; an accepted
//! table has its Aggregated total and nothing after it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::model::update::Update;
use locust_exporter::parse::{whole_file, FileRole};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((Update::Stats(t), rows))) = whole_file(FileRole::Stats, data) {
        assert_eq!(rows, t.rows.len() + 1);
        assert!(t.total.method.is_empty() && &*t.total.name == "Aggregated");
    }
});
