//! A Prometheus-compatible query API (Prometheus, VictoriaMetrics, Mimir, Thanos) as the
//! checks' other source (`docs/baseline.md`): an earlier run read back by its `run` label
//! as a baseline ([`Store::baseline`]), and the `promql:` checks judged over this run's
//! window ([`Store::judge`]). Queries are `POST`ed as forms (long selectors fit) within the
//! client's timeout; every failure is a message naming the URL.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::model::baseline::{Baseline, BaselineRow, BaselineService};
use crate::model::check::Op;
use crate::model::regression::{Latencies, Resolution};
use crate::parse::prom_api::{parse_answer, Series};
use crate::support::http_client::HttpClient;

/// How far back a baseline run is looked for.
pub const BASELINE_LOOKBACK: &str = "30d";

/// Most points a `promql:` check's range query asks for (the step grows with the run).
pub const MAX_POINTS: f64 = 250.0;

/// One query API.
#[derive(Debug, Clone)]
pub struct Store {
    url: String,
    client: HttpClient,
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A label value quoted for a PromQL selector.
fn quoted(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// `(service, method, name)` of a series.
type Key = (String, String, String);

fn key(s: &Series) -> Key {
    (
        s.label("service").to_owned(),
        s.label("method").to_owned(),
        s.label("name").to_owned(),
    )
}

impl Store {
    /// The API at `url` (its base: `http://prometheus:9090`, `http://vm:8428`,
    /// `http://mimir/prometheus`).
    pub fn new(url: &str, client: HttpClient) -> Store {
        Store {
            url: url.trim_end_matches('/').to_owned(),
            client,
        }
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Result<Vec<Series>, String> {
        let url = format!("{}{path}", self.url);
        let r = self
            .client
            .request(
                Method::POST,
                &url,
                &[("content-type", "application/x-www-form-urlencoded")],
                Bytes::from(form(pairs)),
            )
            .await
            .map_err(|e| format!("{url} is unreachable: {e}"))?;
        let query = pairs.first().map_or("", |p| p.1);
        match parse_answer(&r.body) {
            Ok(series) => Ok(series),
            Err(e) if r.status.is_success() => Err(format!("{url}: {e}")),
            Err(e) => Err(format!("{url} answered {} to `{query}`: {e}", r.status)),
        }
    }

    /// An instant query at `time`.
    pub async fn query(&self, query: &str, time: f64) -> Result<Vec<Series>, String> {
        self.post(
            "/api/v1/query",
            &[("query", query), ("time", &format!("{time:.3}"))],
        )
        .await
    }

    /// A range query from `start` to `end` every `step` seconds.
    pub async fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, String> {
        self.post(
            "/api/v1/query_range",
            &[
                ("query", query),
                ("start", &format!("{start:.3}")),
                ("end", &format!("{end:.3}")),
                ("step", &format!("{step:.3}")),
            ],
        )
        .await
    }

    /// The `promql:` check `query`'s worst value over `start ..= end` (the largest for `<`
    /// and `<=`, the smallest for `>` and `>=`), or why there is none.
    pub async fn judge(&self, query: &str, op: Op, start: f64, end: f64) -> Result<f64, String> {
        let end = end.max(start);
        let step = ((end - start) / MAX_POINTS).max(1.0).ceil();
        let series = self.query_range(query, start, end, step).await?;
        let values = series
            .iter()
            .flat_map(|s| s.values.iter().map(|&(_, v)| v))
            .filter(|v| !v.is_nan());
        let worst = if op.upper_bound() {
            values.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
        } else {
            values.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))))
        };
        worst.ok_or_else(|| {
            format!(
                "the query returned no value over the run's window (from {start:.0} to {end:.0})"
            )
        })
    }

    /// The run `run`'s figures (`--baseline URL --baseline.run ID`) as of `now`: each
    /// series' last value within [`BASELINE_LOOKBACK`] — the run's totals, as the exporter
    /// wrote them last. Native histograms where the store kept them, else the classic
    /// buckets with the served quantiles.
    pub async fn baseline(&self, run: &str, now: f64) -> Result<Baseline, String> {
        let sel = |metric: &str| {
            format!(
                "last_over_time({metric}{{run={}}}[{BASELINE_LOOKBACK}])",
                quoted(run)
            )
        };
        let requests = self.query(&sel("locust_requests_total"), now).await?;
        if requests.is_empty() {
            return Err(format!(
                "{} has no locust_requests_total{{run={}}} in the last {BASELINE_LOOKBACK}: is the run remote-written with --metrics native and --run.id {run}?",
                self.url,
                quoted(run)
            ));
        }
        let by_key = |series: Vec<Series>| -> BTreeMap<Key, f64> {
            series
                .iter()
                .filter_map(|s| Some((key(s), s.value()?)))
                .collect()
        };
        let failures = by_key(
            self.query(&sel("locust_request_failures_total"), now)
                .await?,
        );
        let durations: BTreeMap<String, f64> = self
            .query(&sel("locust_run_duration_seconds"), now)
            .await?
            .iter()
            .filter_map(|s| Some((s.label("service").to_owned(), s.value()?)))
            .collect();
        // Requests over the service's run, as the model's rps (at least a second).
        let rate = |service: &str, n: f64| {
            durations
                .get(service)
                .filter(|t| **t > 0.0)
                .map(|t| n / t.max(1.0))
        };
        let quantiles = quantiles_by(
            self.query(&sel("locust_response_time_seconds"), now)
                .await?,
            key,
        );
        let sums = by_key(
            self.query(&sel("locust_request_duration_seconds_sum"), now)
                .await?,
        );
        let counts = by_key(
            self.query(&sel("locust_request_duration_seconds_count"), now)
                .await?,
        );
        let mut latencies: BTreeMap<Key, Latencies> = BTreeMap::new();
        let mut native_counts: BTreeMap<Key, f64> = BTreeMap::new();
        for s in self
            .query(&sel("locust_request_duration_seconds"), now)
            .await?
        {
            if let Some((buckets, count)) = &s.histogram {
                let schema = buckets
                    .iter()
                    .find(|b| b.0 > 0.0)
                    .map_or(6, |b| (-(b.1 / b.0).log2().log2()).round() as i32);
                if let Some(l) = Latencies::from_bins(buckets.clone(), Resolution::Native(schema)) {
                    latencies.insert(key(&s), l);
                    native_counts.insert(key(&s), *count);
                }
            }
        }
        if latencies.is_empty() {
            // A store without native histograms (VictoriaMetrics, or
            // --remote-write.no-native-histograms): the classic buckets and the quantiles.
            let mut cdf: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self
                .query(&sel("locust_request_duration_seconds_bucket"), now)
                .await?
            {
                let le = match s.label("le") {
                    "+Inf" => f64::INFINITY,
                    le => le.parse().unwrap_or(f64::NAN),
                };
                if let Some(v) = s.value().filter(|_| le.is_finite()) {
                    cdf.entry(key(&s)).or_default().push((le, v));
                }
            }
            for (k, buckets) in cdf {
                let Some(&n) = counts.get(&k).filter(|n| **n > 0.0) else {
                    continue;
                };
                let served = quantiles.get(&k).map_or(&[][..], Vec::as_slice);
                if let Some(l) = Latencies::from_summary(Some(&buckets), served, None, n) {
                    latencies.insert(k, l);
                }
            }
        }
        let mut services: BTreeMap<String, BaselineService> = BTreeMap::new();
        for s in &requests {
            let k = key(s);
            let Some(n) = s.value() else { continue };
            let service = services
                .entry(k.0.clone())
                .or_insert_with(|| BaselineService {
                    name: Arc::from(k.0.as_str()),
                    ..BaselineService::default()
                });
            let count = counts.get(&k).or(native_counts.get(&k)).copied();
            let mut qs = quantiles.get(&k).cloned().unwrap_or_default();
            qs.sort_by(|a, b| a.0.total_cmp(&b.0));
            service.endpoints.push(BaselineRow {
                method: Arc::from(k.1.as_str()),
                name: Arc::from(k.2.as_str()),
                requests: n.round() as u64,
                failures: failures.get(&k).map_or(0, |f| f.round() as u64),
                rps: rate(&k.0, n),
                min: qs.first().filter(|q| q.0 == 0.0).map(|q| q.1),
                avg: match (sums.get(&k), count) {
                    (Some(sum), Some(c)) if c > 0.0 => Some(sum / c),
                    _ => None,
                },
                max: qs.last().filter(|q| q.0 == 1.0).map(|q| q.1),
                quantiles: qs,
                latencies: latencies.remove(&k),
            });
        }
        // Each service's total: its endpoints summed, its run-wide quantiles.
        let mut run_quantiles = quantiles_by(
            self.query(&sel("locust_run_response_time_seconds"), now)
                .await?,
            |s| s.label("service").to_owned(),
        );
        for (name, service) in &mut services {
            let requests: u64 = service.endpoints.iter().map(|r| r.requests).sum();
            let failures: u64 = service.endpoints.iter().map(|r| r.failures).sum();
            let mut qs = run_quantiles.remove(name).unwrap_or_default();
            qs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (sum, count) = service.endpoints.iter().fold((0.0, 0.0), |(s, c), r| {
                let k = (name.clone(), r.method.to_string(), r.name.to_string());
                (
                    s + sums.get(&k).copied().unwrap_or(0.0),
                    c + counts.get(&k).copied().unwrap_or(0.0),
                )
            });
            service.total = Some(BaselineRow {
                method: Arc::from(""),
                name: Arc::from("Aggregated"),
                requests,
                failures,
                rps: rate(name, requests as f64),
                min: qs.first().filter(|q| q.0 == 0.0).map(|q| q.1),
                avg: (count > 0.0).then(|| sum / count),
                max: qs.last().filter(|q| q.0 == 1.0).map(|q| q.1),
                quantiles: qs,
                latencies: None,
            });
        }
        Ok(Baseline {
            origin: format!("{} run {run}", self.url),
            services: services.into_values().collect(),
        })
    }
}

/// Each series' `(quantile, value)` grouped by `key` (NaN values left out), in the series'
/// order.
fn quantiles_by<K: Ord>(
    series: Vec<Series>,
    key: impl Fn(&Series) -> K,
) -> BTreeMap<K, Vec<(f64, f64)>> {
    let mut out: BTreeMap<K, Vec<(f64, f64)>> = BTreeMap::new();
    for s in &series {
        if let (Ok(q), Some(v)) = (s.label("quantile").parse::<f64>(), s.value()) {
            if !v.is_nan() {
                out.entry(key(s)).or_default().push((q, v));
            }
        }
    }
    out
}
