//! # locust-exporter
//!
//! Follows a Locust load test — its `--csv` files, or JSON-lines request events — and serves
//! its statistics as Prometheus metrics: the seed Python collector's names and a native,
//! convention-following set.
//!
//! ## Architecture
//!
//! ```text
//! main ─► app ─┬─► config ◄── cli
//!              ├─► source ············ speaks bytes; imports nothing else from the crate
//!              ├─► http ───► expose ───┐
//!              └─► ingest ─► parse ────┤
//!                    │                 ▼
//!                    └──────────────► model ··· pure; imports nothing from the crate
//! ```
//!
//! Runtime shape: one task per source sends [`source::Chunk`]s on a bounded channel to the
//! ingest task, which owns the [`model::Model`], applies each chunk ([`ingest::Ingest::apply`])
//! and publishes an immutable [`model::snapshot::Snapshot`] on a `watch` channel (at most every
//! 25 ms while data flows, and every second). Scrapes borrow the latest snapshot and render
//! it ([`expose::render`]); they never block ingestion. `--once` runs the same synchronous
//! pieces without a runtime.
//!
//! Rules: `model` reads no clock and does no I/O (time is a parameter); `parse` is pure and
//! never logs; `expose` takes no locks; `source` never parses; `ingest` is the only place
//! where `parse` meets `model`; `app` is the only place that spawns tasks; `main` the only
//! place that exits. Every input meets the model through one door, [`model::Model::apply_all`].
//!
//! ## One `_stats.csv` row, from the file to `/metrics`
//!
//! 1. **source**: [`source::follow::run`] wakes on an inotify event (debounced) or its poll
//!    tick and calls [`source::follow::Follower::poll`], whose
//!    [`source::snapshot::RewrittenFile::poll`] reads the changed file whole: a
//!    [`source::Chunk`] with [`source::Body::Whole`] goes on the channel.
//! 2. **ingest → parse**: [`ingest::Ingest::apply`] routes it by role to
//!    [`parse::whole_file`] ([`parse::WholeKind::Stats`]), i.e. `parse::stats::parse_stats`:
//!    the row becomes a [`model::update::EndpointStats`] (one line of its `NUMERIC` column
//!    table per numeric column) in an [`model::update::Update::Stats`]; a torn read is a
//!    [`parse::ParseError::Incomplete`] and the previous snapshot stays.
//! 3. **model**: [`model::Model::apply`] hands it to the service, whose CSV feed folds it
//!    through the cardinality guard, records the counters in its rate windows and keeps it.
//! 4. **snapshot**: [`ingest::run`] publishes [`ingest::Ingest::snapshot`] →
//!    [`model::Model::snapshot`]: the same `EndpointStats`, with current rates, in a
//!    [`model::snapshot::Snapshot`] on a `watch` channel.
//! 5. **expose**: a scrape calls [`http::respond`], which picks the format the scraper asks
//!    for ([`http::negotiate`]) and, once per snapshot and format, [`expose::render_as`]:
//!    the seed and native writers turn the `EndpointStats` into `locust_stats_*{path,method}`
//!    and `locust_requests_total{method,name}`, … through an [`expose::encode::Encoder`]
//!    (text 0.0.4, OpenMetrics or protobuf), so each family is written once for every format.
//!
//! A new Locust column therefore touches three places: its line in the column table, its
//! field in `EndpointStats`, its family in `expose`.
//!
//! ## One JSON event, from the stream to `/metrics`
//!
//! 1. **source**: [`source::stream::run_stdin`] (or a followed file's
//!    [`source::tail::FileTail::poll`]) frames the bytes into complete lines
//!    ([`source::stream::LineStream`], [`source::lines::LineFramer`]): a
//!    [`source::Body::Lines`] chunk.
//! 2. **ingest → parse**: [`ingest::Ingest::apply`] hands each line to the source's
//!    [`parse::stream::LineParser`], which decided from the first line that this stream is
//!    JSON and calls [`parse::event::parse_event`]: a fast path (or serde_json) gives
//!    [`parse::Item::Update`] of an [`model::update::Update::Request`] that borrows its method,
//!    name and error from the line (a producer's `requests` line, one endpoint's aggregate,
//!    gives an [`model::update::Update::Requests`] instead).
//! 3. **model**: the batch's updates go through [`model::Model::apply_all`] (one service
//!    lookup per batch) to the service's event feed, which counts the request in its
//!    endpoint (counters, sums, HDR histogram, classic buckets, native histogram,
//!    per-second window).
//! 4. **snapshot** and 5. **expose**: as above; the event feed computes the quantiles once per
//!    snapshot into the same `EndpointStats`.

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
