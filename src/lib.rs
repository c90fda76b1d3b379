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
//! place that exits.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod config;
pub mod expose;
pub mod http;
pub mod ingest;
pub mod model;
pub mod parse;
pub mod source;
