#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test
//! The integration tests: one binary (fewer links on a 2-core machine). Every test runs the
//! real `locust-exporter` binary and talks to it over real HTTP on 127.0.0.1.

/// Hostile and heavy clients and input: memory, password floods, cardinality.
mod abuse;
/// Baseline verdicts: recorded A/A and A/B pairs, a run against its own summary, baselines from Prometheus 3.5 and VictoriaMetrics, promql: checks on the target.
mod baseline;
/// Exit codes and messages; `--once`.
mod cli;
/// The Grafana dashboard's queries against a real Prometheus during real Locust runs.
mod dashboard;
/// JSON-lines events through stdin and files: values, lifecycle, aggregation.
mod events;
/// Exemplars from traced requests (`locust --otel`, the plugin's `traceparent`) into Prometheus 3.5: scrapes, remote write 1.0 and 2.0; created timestamps.
mod exemplars;
/// Text, OpenMetrics and protobuf: negotiation, gzip, and a real Prometheus reading each.
mod formats;
/// `--once` over every fixture against `fixtures/golden/`, promtool, exact values.
mod golden;
/// Routes, content types, health, basic auth, web config files read as the exporter toolkit reads them.
mod http;
/// The container image, built and run by a real Docker engine.
mod image;
/// A run's end: Locust's --json-file report, the Job's final push, old files, a vanished prefix.
mod lifecycle;
/// Real Locust in a venv writing real CSVs and events (skips loudly without the venv).
mod locust;
/// Every mix of inputs, scraped whole by a real Prometheus 3.5 in every format.
mod mixes;
/// Native histograms: quantiles across three exporters in a real Prometheus.
mod native;
/// The OTLP receiver: real `locust --otel` runs over gRPC and HTTP; hostile requests; Locust's per-request CSV.
mod otlp;
/// The OTLP receiver's budgets under hostile senders.
mod otlp_bounds;
/// The OTLP recordings of `fixtures/otlp/` replayed into the receiver: totals, percentiles, spans.
mod otlp_replay;
/// Percentiles at Locust's rank, requests without a time left out, on a real run's inputs.
mod percentiles;
/// The wheel installed offline into a fresh venv; `locust --exporter` standalone, distributed and aborting.
mod pip;
/// A real Prometheus server scraping the exporter, queried with PromQL.
mod prometheus;
/// Remote write into Prometheus 3.5 and VictoriaMetrics, faults through a proxy.
mod remote_write;
/// Replays fixtures into a temp dir exactly as Locust writes them.
mod replay;
/// The run report of real runs in a real headless Chromium; the live page behind basic auth.
mod report;
/// Torn writes, garbage, huge lines, truncation, deleted directories, invalid UTF-8.
mod robust;
/// The rule pack: promtool unit tests, and its alert firing in a real Prometheus.
mod rules;
/// A run's length and rate from the input's own times; the report chosen by its content.
mod run_window;
/// HEAD, gzip, connection slots, timeouts, slow readers and stalled HTTP/2 streams, bounded shutdown.
mod serving;
/// Environment variables, the Job lifecycle, Pushgateway push (a hanging one, passwords).
mod shipping;
/// Event streams: the plugin owns its stdout; one directory or glob follows a fleet (2,000 files under ulimit 1024).
mod streams;
/// The structure drawn from the imports: floors, no circles; spawn sites; no issue numbers.
mod structure;
/// The harness: the binary, HTTP, the exposition, real Locust and its files, OTLP, TLS, real servers.
mod support;
/// Verdicts: checks, exit codes, the summary and JUnit files, --check.abort, on real runs.
mod verdict;
/// The web UI input, replayed from recordings of four Locust versions; hostile worker lists.
mod webui;
/// The web UI input against a real Locust's web UI (and the seed collector beside it).
mod webui_live;
