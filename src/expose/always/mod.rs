//! The families served whatever `--metrics` chooses: the run's identity and its checks
//! ([`run`]) and the exporter's own metrics ([`self_metrics`]). Not metric sets: no flag
//! turns them off, and [`crate::expose::write_snapshot`] writes them for every output.

pub mod run;
pub mod self_metrics;
