//! OTLP export requests (`locust --otel`, or any OpenTelemetry SDK or collector) → model
//! updates, per service. Pure: bytes in, updates and an account of what was rejected out
//! (`docs/otlp.md`).
//!
//! * Metrics: `locust.client.duration` (attribute `name`, `error.type` on failures) becomes
//!   one [`crate::model::update::RequestBatch`] per data point: an exponential histogram's buckets exactly, as
//!   native buckets at the point's scale (scales above 8 merged down to 8, as Prometheus
//!   does); an explicit-bucket histogram's buckets with their own bounds. Cumulative points
//!   are turned into deltas against the stream's previous point ([`Receiving`] keeps it); a
//!   stream is its resource, metric, attributes and start time, so the workers of one host
//!   (same resource) stay apart. `locust.users.count` (summed over `user_class`) becomes
//!   the user count. Every other metric is read and ignored.
//! * Traces: with [`RequestsFrom::Spans`], each HTTP client span is one request event
//!   (method, the name Locust gave it, duration, error); otherwise spans are ignored.
//! * Logs: counted, nothing else.
//!
//! A point that cannot be right (NaN, buckets that do not add up to the count, a scale
//! out of range, a negative duration, a bucket beyond 24 h, a stream past the limit) is
//! rejected alone and counted in the response's partial success; a request that does not
//! decode is refused whole.
//!
//! The files: this door decodes a request (within `budget`'s count of what it would decode
//! into) and hands it to `metrics` or `traces`; `receiving` is the memory across requests
//! (streams, services and their budgets), `shape` a point's buckets and a stream's delta,
//! `attributes` their text, `export` what a request said; `proto` and `signal` the wire.

mod attributes;
mod budget;
mod export;
mod metrics;
pub mod proto;
mod receiving;
mod shape;
mod signal;
mod traces;

pub use attributes::MAX_ATTRIBUTE_CHARS;
pub use budget::MAX_DECODED_ITEMS;
pub use export::{Export, Invalid, ServiceExport};
pub use metrics::{DURATION_METRIC, USERS_METRIC};
pub use receiving::{
    Options, Receiving, RequestsFrom, DEFAULT_MAX_SERVICES, DEFAULT_SERVICE, MAX_FUTURE_SECS,
    MAX_STREAMS, MAX_STREAM_BYTES, STREAM_IDLE_SECONDS,
};
pub use shape::MAX_POINT_BUCKETS;
pub use signal::{Encoding, Signal};

impl Receiving {
    /// Decodes and maps one export request that came at `now` (seconds, the receiver's
    /// clock: streams idle for [`STREAM_IDLE_SECONDS`] are forgotten).
    pub fn export(
        &mut self,
        signal: Signal,
        encoding: Encoding,
        body: &[u8],
        now: f64,
    ) -> Result<Export, Invalid> {
        self.now = now;
        self.sweep(now);
        let invalid = |message: String| Invalid {
            signal: signal.as_str(),
            encoding: match encoding {
                Encoding::Protobuf => "protobuf",
                Encoding::Json => "JSON",
            },
            message,
        };
        let items = match encoding {
            Encoding::Protobuf => budget::protobuf_items(signal, body, MAX_DECODED_ITEMS),
            Encoding::Json => budget::json_items(body, MAX_DECODED_ITEMS),
        };
        if items > MAX_DECODED_ITEMS {
            return Err(invalid(format!(
                "it decodes into more than {MAX_DECODED_ITEMS} items (points, spans, log records, attributes, buckets): send it in smaller batches"
            )));
        }
        match signal {
            Signal::Metrics => {
                let req: proto::ExportMetricsServiceRequest =
                    decode(encoding, body).map_err(invalid)?;
                Ok(metrics::map(self, req))
            }
            Signal::Traces => {
                let req: proto::ExportTraceServiceRequest =
                    decode(encoding, body).map_err(invalid)?;
                Ok(traces::map(self, req))
            }
            Signal::Logs => {
                let req: proto::ExportLogsServiceRequest =
                    decode(encoding, body).map_err(invalid)?;
                let records = req
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .map(|s| s.log_records.len() as u64)
                    .sum();
                Ok(Export {
                    accepted: records,
                    ..Export::default()
                })
            }
        }
    }
}

fn decode<T>(encoding: Encoding, body: &[u8]) -> Result<T, String>
where
    T: prost::Message + Default + for<'de> serde::Deserialize<'de>,
{
    match encoding {
        Encoding::Protobuf => T::decode(body).map_err(|e| e.to_string()),
        Encoding::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests;
