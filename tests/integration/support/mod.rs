//! Test harness, one module per concern: the exporter binary, raw HTTP, the parsed
//! exposition, real Locust and its CSV files and report, OTLP, real servers beside the
//! exporter, made-up input, and the web UI stand-in, remote-write receivers and a fault
//! proxy. Tests `use crate::support::*`.

pub mod browser;
mod exporter;
mod http;
mod inputs;
mod locust;
mod locust_csv;
mod metrics;
mod otel;
mod receivers;
mod servers;
mod tls;
mod webui;

pub use exporter::*;
pub use http::*;
pub use inputs::*;
pub use locust::*;
pub use locust_csv::*;
pub use metrics::*;
pub use otel::*;
pub use receivers::*;
pub use servers::*;
pub use tls::*;
pub use webui::*;
