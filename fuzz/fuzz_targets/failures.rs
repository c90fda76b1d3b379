//! `_failures.csv` snapshots: any bytes give rows or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::parse::{whole_file, FileRole};

fuzz_target!(|data: &[u8]| {
    let _ = whole_file(FileRole::Failures, data);
});
