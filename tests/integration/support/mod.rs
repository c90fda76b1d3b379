//! Test harness, one module per concern: the exporter binary, raw HTTP, the parsed
//! exposition, Locust's CSV files, real servers beside the exporter, made-up input, and the
//! web UI stand-in, remote-write receivers and a fault proxy. Tests `use crate::support::*`.

mod exporter;
mod http;
mod inputs;
mod locust_csv;
mod metrics;
mod receivers;
mod servers;
mod webui;

pub use exporter::*;
pub use http::*;
pub use inputs::*;
pub use locust_csv::*;
pub use metrics::*;
pub use receivers::*;
pub use servers::*;
pub use webui::*;
