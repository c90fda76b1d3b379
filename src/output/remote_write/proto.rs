//! The remote-write messages, derived with prost: 1.0's `prometheus.WriteRequest`
//! (`prompb/remote.proto`, `prompb/types.proto`) and 2.0's `io.prometheus.write.v2.Request`
//! (`prompb/io/prometheus/write/v2/types.proto`). Only the fields we send are declared; the
//! field numbers are the spec's (checked in the tests below, byte by byte, and end to end by
//! a real Prometheus 3.5 and VictoriaMetrics decoding what we send).
//!
//! ## Motivation: prost
//! Two protocols with nested messages, `oneof`s, packed `sint64` deltas and a symbol table
//! are what prost's derive is made for; hand-written wire code for them would be twice the
//! exposition encoder's and as easy to get a field number wrong in. No `.proto` compile step:
//! the derives below are the schema. The per-series framing of a request (`TimeSeries`,
//! `Label`, the 2.0 symbols) is written by `series.rs` with prost's encoding functions from
//! borrowed label slices — allocating a message per series and a string per label cost
//! 2.7 µs a series (118 ms for 1,000 event endpoints, 5× what it is now), most of it
//! malloc and reference counts — and the tests decode every
//! request with these derived messages. Strings are declared as `bytes` fields holding
//! [`Bytes`] (the same wire type, always UTF-8 here): one label value is shared by every
//! series of its row and every interval, not copied into each.

use bytes::Bytes;
use prost::Message;

/// 1.0 `prometheus.WriteRequest`.
#[cfg_attr(not(test), allow(dead_code))] // the schema series.rs frames by; the tests decode with it
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Field 3 (2 is reserved).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// 1.0 `prometheus.TimeSeries`.
#[cfg_attr(not(test), allow(dead_code))] // the schema series.rs frames by; the tests decode with it
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Sorted by name; `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// In time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars (field 3).
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<ExemplarV1>,
    /// Native histograms (field 4).
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// 1.0 `prometheus.Exemplar`.
#[cfg_attr(not(test), allow(dead_code))] // the schema series.rs frames by; the tests decode with it
#[derive(Clone, PartialEq, Message)]
pub struct ExemplarV1 {
    /// `trace_id`, `span_id` (field 1).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Field 2.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the epoch (field 3).
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// 1.0 `prometheus.Label`.
#[cfg_attr(not(test), allow(dead_code))] // the schema series.rs frames by; the tests decode with it
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Label {
    /// Field 1.
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    /// Field 2.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

/// A float sample (the same message in 1.0 and 2.0).
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch (field 2).
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// 1.0 `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// [`MetricType`] (field 1).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Field 2.
    #[prost(bytes = "bytes", tag = "2")]
    pub metric_family_name: Bytes,
    /// Field 4.
    #[prost(bytes = "bytes", tag = "4")]
    pub help: Bytes,
    /// Field 5.
    #[prost(bytes = "bytes", tag = "5")]
    pub unit: Bytes,
}

/// The metric types of both protocols' metadata (1.0 `MetricMetadata.MetricType`, 2.0
/// `Metadata.MetricType`: the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum MetricType {
    /// `UNKNOWN` / `METRIC_TYPE_UNSPECIFIED`.
    Unknown = 0,
    /// `COUNTER`.
    Counter = 1,
    /// `GAUGE`.
    Gauge = 2,
    /// `HISTOGRAM`.
    Histogram = 3,
    /// `SUMMARY`.
    Summary = 5,
    /// `STATESET`.
    StateSet = 7,
}

/// A native histogram with integer counts (the same message and numbers in 1.0 and 2.0).
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    /// `count_int` (field 1 of the `count` oneof).
    #[prost(uint64, tag = "1")]
    pub count_int: u64,
    /// Field 3.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Field 4.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Field 5.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// `zero_count_int` (field 6 of the `zero_count` oneof).
    #[prost(uint64, tag = "6")]
    pub zero_count_int: u64,
    /// Field 11.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Field 12: the first bucket's count, then each bucket's difference to the one before.
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Field 14: `UNKNOWN` (0); the receiver tells resets from the counts.
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the epoch (field 15).
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// A run of buckets (field numbers of both protocols).
#[derive(Clone, Copy, PartialEq, Message)]
pub struct BucketSpan {
    /// Gap to the previous span (or the start index for the first).
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Buckets in the run.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// 2.0 `io.prometheus.write.v2.Request`.
#[cfg_attr(not(test), allow(dead_code))] // the schema series.rs frames by; the tests decode with it
#[derive(Clone, PartialEq, Message)]
pub struct RequestV2 {
    /// Field 4 (1–3 are reserved); `symbols[0]` is `""`.
    #[prost(bytes = "bytes", repeated, tag = "4")]
    pub symbols: Vec<Bytes>,
    /// Field 5.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeriesV2>,
}

/// 2.0 `TimeSeries`.
#[cfg_attr(not(test), allow(dead_code))] // the schema series.rs frames by; the tests decode with it
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeriesV2 {
    /// Name, value, name, value… as indices into the symbols, sorted by name (field 1).
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Field 2.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Field 3.
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    /// Field 5.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<MetadataV2>,
    /// Milliseconds since the epoch; 0: unknown (field 6).
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// 2.0 `Metadata`.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct MetadataV2 {
    /// [`MetricType`] (field 1).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Field 3.
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Field 4.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_numbers_are_the_specs() {
        // TimeSeries{labels: [{name:"a", value:"b"}], samples: [{value: 1.0, timestamp: 2}]}
        let ts = TimeSeries {
            labels: vec![Label {
                name: Bytes::from_static(b"a"),
                value: Bytes::from_static(b"b"),
            }],
            samples: vec![Sample {
                value: 1.0,
                timestamp: 2,
            }],
            exemplars: vec![],
            histograms: vec![],
        };
        let bytes = Message::encode_to_vec(&WriteRequest {
            timeseries: vec![ts],
            metadata: vec![MetricMetadata {
                r#type: MetricType::Counter as i32,
                metric_family_name: Bytes::from_static(b"x"),
                help: Bytes::from_static(b"h"),
                unit: Bytes::new(),
            }],
        });
        let mut want = vec![0x0a, 0x15]; // field 1, 21 bytes
        want.extend([0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b']); // label
        want.extend([0x12, 0x0b, 0x09]); // sample: value (double, field 1)
        want.extend(1.0f64.to_le_bytes());
        want.extend([0x10, 0x02]); // timestamp (field 2)
        want.extend([0x1a, 0x08, 0x08, 0x01, 0x12, 0x01, b'x', 0x22, 0x01, b'h']); // metadata: 3
        assert_eq!(bytes, want);

        let v2 = Message::encode_to_vec(&RequestV2 {
            symbols: vec![Bytes::new(), Bytes::from_static(b"a")],
            timeseries: vec![TimeSeriesV2 {
                labels_refs: vec![1, 1],
                samples: vec![],
                histograms: vec![Histogram {
                    count_int: 3,
                    schema: -1,
                    positive_deltas: vec![-1],
                    ..Default::default()
                }],
                metadata: Some(MetadataV2 {
                    r#type: MetricType::Histogram as i32,
                    help_ref: 1,
                    unit_ref: 0,
                }),
                created_timestamp: 5,
            }],
        });
        let mut want = vec![0x22, 0x00, 0x22, 0x01, b'a']; // symbols: field 4
        want.extend([0x2a, 0x15]); // timeseries: field 5, 21 bytes
        want.extend([0x0a, 0x02, 0x01, 0x01]); // labels_refs packed
        want.extend([0x1a, 0x07, 0x08, 0x03, 0x20, 0x01, 0x62, 0x01, 0x01]); // histogram 3
        want.extend([0x2a, 0x04, 0x08, 0x03, 0x18, 0x01]); // metadata 5
        want.extend([0x30, 0x05]); // created_timestamp 6
        assert_eq!(v2, want);
    }
}
