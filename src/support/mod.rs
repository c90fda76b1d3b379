//! Infrastructure shared by several layers and tied to none: the outbound HTTP client (of
//! the Pushgateway and the web UI input), the YAML reader of the settings files, HTML/XML
//! escaping, the self-metrics seam every layer reports through, and the task type and
//! sleep every async layer shares.

pub mod http_client;
pub mod log_every;
pub mod markup;
pub mod report;
pub mod task;
pub mod yaml;

pub use task::{sleep_until_opt, Task};
