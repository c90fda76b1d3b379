//! Infrastructure shared by several layers and tied to none: the outbound HTTP client (of
//! the Pushgateway and the web UI input) and the YAML reader of the settings files.

pub mod http_client;
pub mod log_every;
pub mod yaml;
