//! Infrastructure shared by several layers and tied to none: the outbound HTTP client (of
//! the Pushgateway and the web UI input), the YAML reader of the settings files, HTML/XML
//! escaping.

pub mod http_client;
pub mod log_every;
pub mod markup;
pub mod yaml;
