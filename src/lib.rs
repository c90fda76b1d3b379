//! # locust-exporter
//!
//! Follows a Locust load test — its `--csv` files, request events (JSON lines or its
//! per-request CSV), its web UI, or its OpenTelemetry export — and serves its statistics as
//! Prometheus metrics, pushes or remote-writes them, and judges `--check`s on them. The
//! user's documentation is `README.md` and `docs/`; this page is for people who change the
//! code.
//!
//! ## The house, floor by floor
//!
//! The folders are the data path, read top down; a module imports only from floors below
//! its own, and no file imports its own folder's door. `tests/integration/structure.rs`
//! draws this from the imports and fails when an import runs up or two files form a circle.
//!
//! ```text
//! 5  main ─── parses arguments, sets up logging, exits (the only place that does)
//! 4  app ──── wiring: build (model settings), once, serve (binds every listener, spawns);
//!             finish (the baseline read, promql: checks asked, the summaries and the
//!             verdict's exit code), --check.abort
//! 3  ingest ─ the one place parse meets model    config ─ the command line, checked
//! 2  source ─ inputs: files, stdin, a web UI,     output ─ /metrics (pull), push, remote
//!             OTLP (a source that listens),                write, the summaries (text,
//!             a query API (baselines, promql:)             Markdown, JUnit, JSON)
//! 1  parse ── bytes → updates (pure)   expose ─ snapshot → exposition (sets × formats,
//!             serve ─ listeners: accept loop,               and what is always served)
//!                     limits, TLS, auth, web config
//! 0  model ── the stats model (pure, time given); checks, their judging and the verdict,
//!             the baseline and the regression test
//!    support ─ HTTP client, YAML, markup, the self-metrics seam, the task type
//! ```
//!
//! Runtime shape: one task per input ([`source::Source::run`]) sends [`source::Chunk`]s on a
//! bounded channel to the ingest task, which owns the [`model::Model`], applies each chunk
//! ([`ingest::Ingest::apply`]) and publishes an immutable [`model::snapshot::Snapshot`] on
//! a `watch` channel (at most every 25 ms while data flows, and every second). Scrapes
//! borrow the latest snapshot and render it ([`expose::render_as`]); they never block
//! ingestion. Every listener — `/metrics` on each `--web.listen-address`, and an input that
//! listens ([`source::Source::listener`], the OTLP receiver) — is a [`serve::Listener`]
//! the app binds and serves in one loop. `--once` ([`app::once()`]) reads the same inputs to
//! their end with [`source::Source::read_now`] on the calling thread and renders once; only
//! a web UI poll and the outputs' deliveries make a small runtime of their own.
//!
//! Rules: `model` reads no clock and does no I/O (time is a parameter; `clippy.toml` allows
//! `SystemTime::now` only in [`ingest::wall_clock`]); `parse` is pure and never logs;
//! `expose` takes no locks; a source never parses, but one that must answer its client
//! (the OTLP receiver) maps its request before it answers; `ingest` is the only place
//! where a chunk meets `model`, and every input meets the model through one door,
//! [`model::Model::apply_all`].
//!
//! Tasks are spawned (`tokio::spawn`, `spawn_blocking`, a `JoinSet`) in these files only;
//! `tests/integration/structure.rs` checks the list both ways:
//! - `app/mod.rs`: the long-lived tasks (signals, sources, ingest, outputs, watchers,
//!   listeners);
//! - `serve/server.rs`: one task per connection, and one to refuse a connection over the
//!   limit;
//! - `serve/auth.rs`: the bcrypt check, on a blocking thread;
//! - `output/http/cache.rs`: rendering and compressing the exposition, on blocking threads;
//! - `output/delivery.rs`: the final delivery, one task per output;
//! - `output/remote_write/mod.rs`: the sender, and encoding on blocking threads;
//! - `source/webui.rs`: one task per request of a poll;
//! - `source/otlp/receiver.rs`: mapping an export request, on a blocking thread.
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
//!    [`expose::render_as`]: through [`expose::write_snapshot`], each metric set of
//!    [`expose::sets`] turns the `EndpointStats` into `locust_stats_*{path,method}`,
//!    `locust_requests_total{method,name}`, … through an
//!    [`expose::format::encoder::Encoder`] (text 0.0.4, OpenMetrics or protobuf), so each
//!    family is written once for every format; then what is always served
//!    ([`expose::always`]: the run, its checks, the snapshot's self-metrics), and the
//!    self-metrics of every part ([`support::report::SelfMetrics`]). Remote write and the
//!    push write through the same [`expose::write_snapshot`].
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
//! ## One OTLP export, from the exporter to `/metrics`
//!
//! 1. **serve**: the listener the app bound for [`source::otlp::OtlpSource`] accepts the
//!    connection ([`serve::server::serve`]) and hands the request to its handler,
//!    [`source::otlp::Receiver`] (basic auth first, [`serve::auth::gate`]).
//! 2. **source**: the receiver reads the body within its budgets, takes a permit, and maps
//!    it on a blocking thread with [`parse::otlp::Receiving::export`]; each service's
//!    updates go on the channel as a [`source::Body::Updates`] chunk of its own origin
//!    (`otlp SERVICE`), and the client is answered once they are queued.
//! 3. **model**, 4. **snapshot** and 5. **expose**: [`ingest::Ingest::apply`] counts the
//!    updates in that source's entry and hands them to [`model::Model::apply_all`]; then as
//!    above.
//!
//! ## Change recipes
//!
//! Each names the files it touches; a forgotten one fails to compile or fails a test.
//!
//! - **A Locust CSV column** (3): its line in the column table of `parse/stats.rs`, and in
//!   the same file what Locust's report gives for it (`Counts::row` names every field, so
//!   it does not compile until it says); its field in [`model::update::EndpointStats`]
//!   (`model/update.rs`), which does not compile until
//!   [`model::update::EndpointStats::merge_folded`] (same file) says how folded rows combine
//!   it; its family in a metric set (`expose/sets/*.rs`). Then
//!   `UPDATE_GOLDEN=1 cargo test golden` and review the diff; the CSV oracle of the tests
//!   (`tests/integration/support/locust_csv.rs`) fails until it knows where the column is
//!   served.
//! - **A metric set** (2): a file in `expose/sets/` implementing
//!   [`expose::sets::MetricSet`] (its name, what it is, families, deferrals and writer), and
//!   its `mod` line and its line in the registry, both in `expose/sets/mod.rs`. `--metrics`, its help, its errors and
//!   the conflict rules follow; `every_family_written_is_declared_by_its_set` fails if a
//!   family is undeclared.
//! - **An exposition format** (3): an [`expose::format::encoder::Encoder`] in
//!   `expose/format/`, its `mod` line in `expose/format/mod.rs`, and its [`expose::Format`]
//!   variant in `expose/mod.rs` (name, what it is, content type, media range, `render_only`;
//!   the exhaustive matches guide the rest). Negotiation, `--web.formats` and its help
//!   follow; the metric sets need no change.
//! - **An input** (3, and its test): a [`source::Source`] in `source/` and its `mod` line in
//!   `source/mod.rs`; its flag, check and construction in `config/inputs.rs`
//!   ([`config::Inputs::sources`]). `--once` and the server both take it from there. One
//!   that listens (as the OTLP receiver) returns its [`serve::Listener`] from
//!   [`source::Source::listener`] and its counters from [`source::Source::self_metrics`]:
//!   the app binds, serves and reports it with the others. A new format adds its parser in
//!   `parse/` and the parser's `mod` line (5); a line format, its [`parse::FileRole`]
//!   variant and arms in `parse/role.rs` too (the exhaustive matches point at them).
//! - **An output** (3): its file in `output/` implementing [`output::Output`] (its name, its
//!   self-metrics, its periodic `run` and its final `deliver`), its `mod` line in
//!   `output/mod.rs`, and its flags, check and construction in `config/outputs.rs`
//!   ([`config::Outputs::build`]). The wiring spawns it,
//!   serves its self-metrics and delivers the last snapshot to it on exit and in `--once`.
//!
//! Every new file also gets its `mod` line in its folder's `mod.rs` (counted above where it
//! is a file of its own).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod config;
pub mod expose;
pub mod ingest;
pub mod model;
pub mod output;
pub mod parse;
pub mod serve;
pub mod source;
pub mod support;
