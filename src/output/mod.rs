//! Outputs: what leaves the process. [`http`] serves scrapes (pull); every other output
//! delivers snapshots somewhere ([`push`] to a Pushgateway, [`remote_write`] to Prometheus, Mimir, Thanos, VictoriaMetrics…) and is an [`Output`], built from
//! the configuration (`config/outputs.rs`) and run by the wiring, which knows none by name.
//! Each renders published snapshots through [`crate::expose`] and reports its own counters
//! through [`crate::support::report::SelfMetrics`].

mod delivery;
pub mod http;
pub mod push;
pub mod remote_write;
pub mod report;
pub mod summary;
pub mod summary_json;

pub use delivery::{deliver_all, DeliveryError, Output, Task};
