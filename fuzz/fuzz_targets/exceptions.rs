//! `_exceptions.csv` snapshots (multi-line quoted tracebacks): never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::parse::{whole_file, FileRole};

fuzz_target!(|data: &[u8]| {
    let _ = whole_file(FileRole::Exceptions, data);
});
