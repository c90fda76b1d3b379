//! Outputs: what leaves the process. [`http`] serves scrapes (pull), [`push`] sends to a
//! Pushgateway. Each renders published snapshots through [`crate::expose`] and reports its
//! own counters through [`crate::expose::sets::self_metrics::SelfMetrics`].

pub mod http;
pub mod push;
