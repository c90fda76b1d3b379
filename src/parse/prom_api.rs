//! Answers of a Prometheus-compatible query API (`/api/v1/query`, `/api/v1/query_range`:
//! Prometheus, VictoriaMetrics, Mimir, Thanos): instant vectors with float or native
//! histogram samples, and range matrices. Pure; the requests are
//! `crate::source::prometheus`'s.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A native histogram sample: its buckets `(lower, upper, count)` and its count.
pub type HistogramSample = (Vec<(f64, f64, f64)>, f64);

/// One series of an answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Its labels (`__name__` dropped by most functions).
    pub labels: BTreeMap<String, String>,
    /// Float samples `(unix seconds, value)`: one for a vector, many for a matrix.
    pub values: Vec<(f64, f64)>,
    /// A native histogram sample.
    pub histogram: Option<HistogramSample>,
}

impl Series {
    /// A label's value, or empty.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// The (last) float value.
    pub fn value(&self) -> Option<f64> {
        self.values.last().map(|&(_, v)| v)
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Option<Vec<(f64, String)>>,
    #[serde(default)]
    histogram: Option<(f64, RawHistogram)>,
    #[serde(default)]
    histograms: Option<Vec<(f64, RawHistogram)>>,
}

#[derive(Deserialize)]
struct RawHistogram {
    count: String,
    #[serde(default)]
    buckets: Vec<(u8, String, String, String)>,
}

/// A float as the API writes it: `"1.5"`, `"NaN"`, `"+Inf"`.
fn float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn histogram(h: &RawHistogram) -> Option<HistogramSample> {
    let buckets = h
        .buckets
        .iter()
        .map(|(_, lo, hi, n)| Some((float(lo)?, float(hi)?, float(n)?)))
        .collect::<Option<Vec<_>>>()?;
    Some((buckets, float(&h.count)?))
}

/// Why an answer is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The API refused the query (`status: error`): its type and message.
    #[error("{0}")]
    Refused(String),
    /// Not an API answer.
    #[error("not a Prometheus query API answer: {0}")]
    Malformed(String),
}

/// The series of an answer to `/api/v1/query` or `/api/v1/query_range`; a scalar is one
/// series without labels.
pub fn parse_answer(body: &[u8]) -> Result<Vec<Series>, ApiError> {
    let a: Answer = serde_json::from_slice(body).map_err(|e| ApiError::Malformed(e.to_string()))?;
    if a.status != "success" {
        return Err(ApiError::Refused(format!(
            "{}: {}",
            a.error_type.as_deref().unwrap_or("error"),
            a.error.as_deref().unwrap_or("no message")
        )));
    }
    let data = a
        .data
        .ok_or_else(|| ApiError::Malformed("no data".to_owned()))?;
    match data.result_type.as_str() {
        "scalar" => {
            let (t, v): (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| ApiError::Malformed(e.to_string()))?;
            Ok(vec![Series {
                values: float(&v).map(|v| vec![(t, v)]).unwrap_or_default(),
                ..Series::default()
            }])
        }
        "vector" | "matrix" => {
            let raw: Vec<RawSeries> = serde_json::from_value(data.result)
                .map_err(|e| ApiError::Malformed(e.to_string()))?;
            Ok(raw
                .into_iter()
                .map(|r| {
                    let mut values: Vec<(f64, f64)> = r
                        .value
                        .into_iter()
                        .chain(r.values.unwrap_or_default())
                        .filter_map(|(t, v)| Some((t, float(&v)?)))
                        .collect();
                    values.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let histogram = r
                        .histogram
                        .as_ref()
                        .or_else(|| r.histograms.as_ref().and_then(|h| h.last()))
                        .and_then(|(_, h)| histogram(h));
                    Series {
                        labels: r.metric,
                        values,
                        histogram,
                    }
                })
                .collect())
        }
        other => Err(ApiError::Malformed(format!("result type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_histograms_matrices_and_refusals_read() {
        let v = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"name":"/a"},"value":[1700000000.5,"12"]},
            {"metric":{"name":"/b"},"histogram":[1700000000.5,{"count":"3","sum":"0.3",
              "buckets":[[0,"0.0905","0.0915","2"],[0,"0.1","0.11","1"]]}]}]}}"#;
        let s = match parse_answer(v) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!((s[0].label("name"), s[0].value()), ("/a", Some(12.0)));
        let (buckets, count) = s[1].histogram.clone().unwrap_or_default();
        assert_eq!(count, 3.0);
        assert_eq!(buckets, [(0.0905, 0.0915, 2.0), (0.1, 0.11, 1.0)]);
        let m = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"0.5"],[2,"NaN"],[3,"+Inf"]]}]}}"#;
        let s = parse_answer(m).unwrap_or_default();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].values.len(), 3);
        assert!(s[0].values[1].1.is_nan() && s[0].values[2].1.is_infinite());
        let e = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        assert_eq!(
            parse_answer(e),
            Err(ApiError::Refused("bad_data: parse error at char 3".into()))
        );
        assert!(matches!(
            parse_answer(b"<html>"),
            Err(ApiError::Malformed(_))
        ));
    }
}
