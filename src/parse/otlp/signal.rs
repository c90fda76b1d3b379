//! What an export request carries and how it is encoded.

/// Which signal an export request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `/v1/metrics`, `MetricsService/Export`.
    Metrics,
    /// `/v1/traces`, `TraceService/Export`.
    Traces,
    /// `/v1/logs`, `LogsService/Export`.
    Logs,
}

impl Signal {
    /// The name used in paths, messages and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
            Signal::Logs => "logs",
        }
    }
}

/// How an export request is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Binary protobuf (gRPC and `application/x-protobuf`).
    Protobuf,
    /// OTLP/JSON (`application/json`).
    Json,
}
