//! The OTLP messages the receiver reads, derived with prost from the official protos
//! (opentelemetry-proto v1.5.0: `collector/{metrics,trace,logs}/v1/*_service.proto`,
//! `metrics/v1/metrics.proto`, `trace/v1/trace.proto`, `common/v1/common.proto`,
//! `resource/v1/resource.proto`), the same field numbers and types, and with serde for the
//! OTLP/JSON encoding (lowerCamelCase names; 64-bit integers as strings or numbers; floats
//! as numbers or `"NaN"`, `"Infinity"`, `"-Infinity"`; enums as integers; a `oneof` as its
//! member's name). Only the fields the mapping reads are declared: protobuf skips the others
//! (flags, parent ids, links, an exemplar's attributes, …) as unknown fields and serde
//! ignores them. Trace and span ids are bytes in protobuf and hex strings in OTLP/JSON.
//!
//! Why not the `opentelemetry-proto` crate: it brings the OpenTelemetry SDK crates along
//! (`opentelemetry`, `opentelemetry_sdk` are non-optional dependencies) and its JSON
//! decoding accepts 64-bit integers only as strings, where OTLP/JSON receivers must take
//! numbers too; these forty declarations are the part of it the receiver needs.

#![allow(missing_docs)] // the protos document every field; the names are theirs

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// `ExportMetricsServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportMetricsServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_metrics: Vec<ResourceMetrics>,
}

/// `ResourceMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceMetrics {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_metrics: Vec<ScopeMetrics>,
}

/// `Resource`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

/// `ScopeMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScopeMetrics {
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
}

/// `Metric`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metric {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub unit: String,
    #[prost(oneof = "MetricData", tags = "5, 7, 9, 10, 11")]
    #[serde(flatten)]
    pub data: Option<MetricData>,
}

/// `Metric.data`.
#[derive(Clone, PartialEq, prost::Oneof, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricData {
    #[prost(message, tag = "5")]
    Gauge(Gauge),
    #[prost(message, tag = "7")]
    Sum(Sum),
    #[prost(message, tag = "9")]
    Histogram(Histogram),
    #[prost(message, tag = "10")]
    ExponentialHistogram(ExponentialHistogram),
    #[prost(message, tag = "11")]
    Summary(Summary),
}

/// `Gauge`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Gauge {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
}

/// `Sum`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sum {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

/// `Summary` (counted as ignored: nothing maps from it).
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<Ignored>,
}

/// A message whose content is not read (summary points, log records).
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
pub struct Ignored {}

/// `NumberDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NumberDataPoint {
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "u64_of")]
    pub time_unix_nano: u64,
    #[prost(oneof = "NumberValue", tags = "4, 6")]
    #[serde(flatten)]
    pub value: Option<NumberValue>,
}

/// `NumberDataPoint.value`.
#[derive(Clone, PartialEq, prost::Oneof, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NumberValue {
    #[prost(double, tag = "4")]
    AsDouble(#[serde(deserialize_with = "f64_of")] f64),
    #[prost(sfixed64, tag = "6")]
    AsInt(#[serde(deserialize_with = "i64_of")] i64),
}

/// `AggregationTemporality`.
pub const TEMPORALITY_DELTA: i32 = 1;
/// `AggregationTemporality`.
pub const TEMPORALITY_CUMULATIVE: i32 = 2;

/// `Histogram`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Histogram {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<HistogramDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

/// `HistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HistogramDataPoint {
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "2")]
    #[serde(deserialize_with = "u64_of")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "u64_of")]
    pub time_unix_nano: u64,
    #[prost(fixed64, tag = "4")]
    #[serde(deserialize_with = "u64_of")]
    pub count: u64,
    #[prost(double, optional, tag = "5")]
    #[serde(deserialize_with = "some_f64_of")]
    pub sum: Option<f64>,
    #[prost(fixed64, repeated, tag = "6")]
    #[serde(deserialize_with = "u64s_of")]
    pub bucket_counts: Vec<u64>,
    #[prost(double, repeated, tag = "7")]
    #[serde(deserialize_with = "f64s_of")]
    pub explicit_bounds: Vec<f64>,
    #[prost(double, optional, tag = "11")]
    #[serde(deserialize_with = "some_f64_of")]
    pub min: Option<f64>,
    #[prost(double, optional, tag = "12")]
    #[serde(deserialize_with = "some_f64_of")]
    pub max: Option<f64>,
    #[prost(message, repeated, tag = "8")]
    pub exemplars: Vec<Exemplar>,
}

/// `Exemplar`: a measurement of a point made while a span was active.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Exemplar {
    #[prost(fixed64, tag = "2")]
    #[serde(deserialize_with = "u64_of")]
    pub time_unix_nano: u64,
    #[prost(double, optional, tag = "3")]
    #[serde(deserialize_with = "some_f64_of")]
    pub as_double: Option<f64>,
    #[prost(sfixed64, optional, tag = "6")]
    #[serde(deserialize_with = "some_i64_of")]
    pub as_int: Option<i64>,
    #[prost(bytes = "vec", tag = "4")]
    #[serde(deserialize_with = "hex_of")]
    pub span_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    #[serde(deserialize_with = "hex_of")]
    pub trace_id: Vec<u8>,
}

/// `ExponentialHistogram`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExponentialHistogram {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

/// `ExponentialHistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExponentialHistogramDataPoint {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "2")]
    #[serde(deserialize_with = "u64_of")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "u64_of")]
    pub time_unix_nano: u64,
    #[prost(fixed64, tag = "4")]
    #[serde(deserialize_with = "u64_of")]
    pub count: u64,
    #[prost(double, optional, tag = "5")]
    #[serde(deserialize_with = "some_f64_of")]
    pub sum: Option<f64>,
    #[prost(sint32, tag = "6")]
    pub scale: i32,
    #[prost(fixed64, tag = "7")]
    #[serde(deserialize_with = "u64_of")]
    pub zero_count: u64,
    #[prost(message, optional, tag = "8")]
    pub positive: Option<Buckets>,
    #[prost(message, optional, tag = "9")]
    pub negative: Option<Buckets>,
    #[prost(double, optional, tag = "12")]
    #[serde(deserialize_with = "some_f64_of")]
    pub min: Option<f64>,
    #[prost(double, optional, tag = "13")]
    #[serde(deserialize_with = "some_f64_of")]
    pub max: Option<f64>,
    #[prost(double, tag = "14")]
    #[serde(deserialize_with = "f64_of")]
    pub zero_threshold: f64,
    #[prost(message, repeated, tag = "11")]
    pub exemplars: Vec<Exemplar>,
}

/// `ExponentialHistogramDataPoint.Buckets`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Buckets {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint64, repeated, tag = "2")]
    #[serde(deserialize_with = "u64s_of")]
    pub bucket_counts: Vec<u64>,
}

/// `KeyValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `AnyValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnyValue {
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    #[serde(flatten)]
    pub value: Option<Value>,
}

/// `AnyValue.value`.
#[derive(Clone, PartialEq, prost::Oneof, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Value {
    #[prost(string, tag = "1")]
    StringValue(String),
    #[prost(bool, tag = "2")]
    BoolValue(bool),
    #[prost(int64, tag = "3")]
    IntValue(#[serde(deserialize_with = "i64_of")] i64),
    #[prost(double, tag = "4")]
    DoubleValue(#[serde(deserialize_with = "f64_of")] f64),
    #[prost(message, tag = "5")]
    ArrayValue(ArrayValue),
    #[prost(message, tag = "6")]
    KvlistValue(KeyValueList),
    #[prost(bytes, tag = "7")]
    BytesValue(#[serde(deserialize_with = "base64_of")] Vec<u8>),
}

/// `ArrayValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArrayValue {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValue>,
}

/// `KeyValueList`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyValueList {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<KeyValue>,
}

/// `ExportTraceServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `ResourceSpans`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
}

/// `ScopeSpans`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScopeSpans {
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
}

/// `Span.SpanKind`: `SPAN_KIND_CLIENT`.
pub const SPAN_KIND_CLIENT: i32 = 3;
/// `Status.StatusCode`: `STATUS_CODE_ERROR`.
pub const STATUS_CODE_ERROR: i32 = 2;

/// `Span`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    #[serde(deserialize_with = "hex_of")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    #[serde(deserialize_with = "hex_of")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(int32, tag = "6")]
    pub kind: i32,
    #[prost(fixed64, tag = "7")]
    #[serde(deserialize_with = "u64_of")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    #[serde(deserialize_with = "u64_of")]
    pub end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
}

/// `Status` of a span.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(int32, tag = "3")]
    pub code: i32,
}

/// `ExportLogsServiceRequest`: log records are counted, not read.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportLogsServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

/// `ResourceLogs`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceLogs {
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
}

/// `ScopeLogs`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScopeLogs {
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<Ignored>,
}

/// The `partial_success` of every `Export*ServiceResponse`: field 1 counts what was
/// rejected (`rejected_data_points`, `rejected_spans`, `rejected_log_records`), field 2 says
/// why.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartialSuccess {
    #[prost(int64, tag = "1")]
    pub rejected: i64,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// An `Export*ServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<PartialSuccess>,
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error response.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// A JSON number or string (OTLP/JSON writes 64-bit integers as strings).
#[derive(Deserialize)]
#[serde(untagged)]
enum Num<'a> {
    U(u64),
    I(i64),
    F(f64),
    S(std::borrow::Cow<'a, str>),
}

fn num_f64(n: Num<'_>) -> Result<f64, String> {
    match n {
        Num::U(v) => Ok(v as f64),
        Num::I(v) => Ok(v as f64),
        Num::F(v) => Ok(v),
        Num::S(s) => match &*s {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| format!("not a number: {other:?}")),
        },
    }
}

fn num_u64(n: Num<'_>) -> Result<u64, String> {
    match n {
        Num::U(v) => Ok(v),
        Num::I(v) => u64::try_from(v).map_err(|_| format!("not an unsigned integer: {v}")),
        Num::F(v) if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => Ok(v as u64),
        Num::F(v) => Err(format!("not an unsigned integer: {v}")),
        Num::S(s) => s
            .parse()
            .map_err(|_| format!("not an unsigned integer: {s:?}")),
    }
}

fn num_i64(n: Num<'_>) -> Result<i64, String> {
    match n {
        Num::U(v) => i64::try_from(v).map_err(|_| format!("not a 64-bit integer: {v}")),
        Num::I(v) => Ok(v),
        Num::F(v) if v.fract() == 0.0 && v.abs() < 9.2e18 => Ok(v as i64),
        Num::F(v) => Err(format!("not an integer: {v}")),
        Num::S(s) => s.parse().map_err(|_| format!("not an integer: {s:?}")),
    }
}

fn u64_of<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    num_u64(Num::deserialize(d)?).map_err(de::Error::custom)
}

fn i64_of<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    num_i64(Num::deserialize(d)?).map_err(de::Error::custom)
}

fn f64_of<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    num_f64(Num::deserialize(d)?).map_err(de::Error::custom)
}

fn some_f64_of<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<Num<'_>>::deserialize(d)?
        .map(num_f64)
        .transpose()
        .map_err(de::Error::custom)
}

fn u64s_of<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Vec::<Num<'_>>::deserialize(d)?
        .into_iter()
        .map(num_u64)
        .collect::<Result<_, _>>()
        .map_err(de::Error::custom)
}

fn f64s_of<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Vec::<Num<'_>>::deserialize(d)?
        .into_iter()
        .map(num_f64)
        .collect::<Result<_, _>>()
        .map_err(de::Error::custom)
}

fn some_i64_of<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<Num<'_>>::deserialize(d)?
        .map(num_i64)
        .transpose()
        .map_err(de::Error::custom)
}

/// A trace or span id: hex in OTLP/JSON (not base64, unlike other bytes fields); the
/// mapping checks its length.
fn hex_of<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = std::borrow::Cow::<str>::deserialize(d)?;
    crate::model::exemplar::decode_hex(&s).ok_or_else(|| de::Error::custom("an id that is not hex"))
}

fn base64_of<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use base64::Engine;
    let s = std::borrow::Cow::<str>::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(de::Error::custom)
}
