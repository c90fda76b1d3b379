//! The metric sets: what is served. Each set is one file behind [`MetricSet`].

pub mod containersolutions;
pub mod native;
pub mod seed;
pub mod self_metrics;
