//! # locust-exporter
//!
//! Follows a Locust load test — its `--csv` files, JSON-lines request events, or its web UI —
//! and serves its statistics as Prometheus metrics. The user's documentation is `README.md`
//! and `docs/`; this page is for people who change the code.
//!
//! ## The house, floor by floor
//!
//! The folders are the data path, read top down; a module imports only from floors below
//! its own, and no file imports its own folder's door. `tests/integration/structure.rs`
//! draws this from the imports and fails when an import runs up or two files form a circle.
//!
//! ```text
//! 5  main ─── parses arguments, sets up logging, exits (the only place that does)
//! 4  app ──── wiring: build (model settings), once, serve; the verdict at the end, --check.abort
//! 3  ingest ─ the one place parse meets model   config ─ the command line, its checks, the inputs
//! 2  source ─ bytes from files, stdin, a web UI, OTLP  output ─ http (pull), push, remote write, summary
//! 1  parse ── bytes → updates (pure); FileRole   expose ─ snapshot → exposition: sets × formats
//! 0  model ── the stats model (pure, time given); checks and their judging  support ─ HTTP client, YAML
//! ```
//!
//! Runtime shape: one task per input ([`source::Source::run`]) sends [`source::Chunk`]s on a
//! bounded channel to the ingest task, which owns the [`model::Model`], applies each chunk
//! ([`ingest::Ingest::apply`]) and publishes an immutable [`model::snapshot::Snapshot`] on
//! a `watch` channel (at most every 25 ms while data flows, and every second). Scrapes
//! borrow the latest snapshot and render it ([`expose::render_as`]); they never block
//! ingestion. `--once` ([`app::once()`]) reads the same inputs to their end with
//! [`source::Source::read_now`] on the calling thread and renders once; only a web UI poll
//! and the push make a small runtime of their own.
//!
//! Rules: `model` reads no clock and does no I/O (time is a parameter; `clippy.toml` allows
//! `SystemTime::now` only in [`ingest::wall_clock`]); `parse` is pure and never logs;
//! `expose` takes no locks; `source` never parses; `ingest` is the only place where `parse`
//! meets `model`, and every input meets the model through one door,
//! [`model::Model::apply_all`]. `app` spawns the long-lived tasks; the HTTP server spawns one
//! task per connection, a web UI poll one per request, the final delivery one per output,
//! and the auth check and the render cache run on blocking threads.
//!
//! ## One `_stats.csv` row, from the file to `/metrics`
//!
//! 1. **source**: [`source::follow::run`] wakes on an inotify event (debounced) or its poll
//!    tick and calls [`source::follow::Follower::poll`], whose
//!    [`source::rewritten::RewrittenFile::poll`] reads the changed file whole: a
//!    [`source::Chunk`] with [`source::Body::Whole`] goes on the channel.
//! 2. **ingest → parse**: [`ingest::Ingest::apply`] routes it by role to
//!    [`parse::whole_file`] ([`parse::FileRole::Stats`]), i.e. `parse::stats::parse_stats`,
//!    which reads the records through `parse::csv` and each number through `parse::number`:
//!    the row becomes a [`model::update::EndpointStats`] (one line of its column table per
//!    numeric column) in an [`model::update::Update::Stats`]; a torn read is a
//!    [`parse::ParseError::Incomplete`] and the previous read stays.
//! 3. **model**: [`model::Model::apply`] hands it to the service, whose CSV feed folds it
//!    through the cardinality guard, records the counters in its rate windows and keeps it.
//! 4. **snapshot**: [`ingest::run`] publishes [`ingest::Ingest::snapshot`] →
//!    [`model::Model::snapshot`]: the same `EndpointStats`, with current rates, in a
//!    [`model::snapshot::Snapshot`] on a `watch` channel.
//! 5. **expose**: a scrape reaches [`output::http::handle`], which picks the format the
//!    scraper asks for ([`output::http::negotiate`]) and, once per snapshot and format,
//!    [`expose::render_as`]: each metric set of [`expose::sets`] turns the `EndpointStats`
//!    into `locust_stats_*{path,method}`, `locust_requests_total{method,name}`, … through an
//!    [`expose::format::encoder::Encoder`] (text 0.0.4, OpenMetrics or protobuf), so each
//!    family is written once for every format; then the self-metrics of the snapshot and of
//!    every part ([`expose::sets::self_metrics::SelfMetrics`]).
//!
//! ## One JSON event, from the stream to `/metrics`
//!
//! 1. **source**: [`source::stdin::run_stdin`] (or a followed file's
//!    [`source::tail::FileTail::poll`]) frames the bytes into complete lines
//!    ([`source::stdin::LineStream`], [`source::lines::LineFramer`]): a
//!    [`source::Body::Lines`] chunk.
//! 2. **ingest → parse**: [`ingest::Ingest::apply`] hands each line to the source's
//!    [`parse::sniff::LineParser`], which decided from the first line that this stream is
//!    JSON and calls [`parse::event::parse_event`]: `parse::json` decodes the line into a
//!    `Raw` (its fast paths, else serde_json) and `interpret` makes a [`parse::Item::Update`]
//!    of an [`model::update::Update::Request`] that borrows its method, name and error from
//!    the line (a producer's `requests` line, one endpoint's aggregate, gives an
//!    [`model::update::Update::Requests`] instead).
//! 3. **model**: the batch's updates go through [`model::Model::apply_all`] (one service
//!    lookup per batch) to the service's event feed, which counts the request in its
//!    endpoint (counters, sums, exact times while few, classic buckets, native histogram,
//!    per-second window).
//! 4. **snapshot** and 5. **expose**: as above; the event feed computes the quantiles once per
//!    snapshot into the same `EndpointStats`.
//!
//! ## Change recipes
//!
//! Each names the files it touches; a forgotten one fails to compile or fails a test.
//!
//! - **A Locust CSV column** (3): its line in the column table of `parse/stats.rs`; its field
//!   in [`model::update::EndpointStats`] (`model/update.rs`), which does not compile until
//!   `model/csv_feed.rs::merge_row` says how folded rows combine it; its family in a metric
//!   set (`expose/sets/*.rs`). Then `UPDATE_GOLDEN=1 cargo test golden` and review the diff.
//! - **A metric set** (2): a file in `expose/sets/` implementing
//!   [`expose::sets::MetricSet`] (its name, families, deferrals and writer), and its line in
//!   the registry of `expose/sets/mod.rs`. `--metrics`, its errors and the conflict rules
//!   follow; `every_family_written_is_declared_by_its_set` fails if a family is undeclared.
//! - **An exposition format** (3): an [`expose::format::encoder::Encoder`] in
//!   `expose/format/`, its [`expose::Format`] variant (`expose/mod.rs`: name, content type,
//!   `render_as`; the exhaustive matches guide the rest), and its media type in
//!   `output/http/negotiate.rs`. The metric sets need no change.
//! - **An input** (3, and its test): a [`source::Source`] in `source/` (how bytes arrive);
//!   its parser in `parse/` with its [`parse::FileRole`] variant and arm in
//!   `parse/role.rs` or [`parse::whole_file`]; its flag, check and construction in
//!   `config/inputs.rs` ([`config::Inputs::sources`]). `--once` and the server both take it
//!   from there; the exhaustive matches on `FileRole` point at what is left.
//! - **An output** (2): its file in `output/` implementing [`output::Output`] (its name, its
//!   self-metrics, its periodic `run` and its final `deliver`), and its flags, check and
//!   construction in `config/outputs.rs` ([`config::Outputs::build`]). The wiring spawns it,
//!   serves its self-metrics and delivers the last snapshot to it on exit and in `--once`.
//!
//! Every new file also gets its `mod` line in its folder's `mod.rs`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod config;
pub mod expose;
pub mod ingest;
pub mod model;
pub mod output;
pub mod parse;
pub mod source;
pub mod support;
