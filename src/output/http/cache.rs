//! Render once per published snapshot and encoding, within a budget of bytes held.
//!
//! Every scrape of the same snapshot gets the same immutable [`Bytes`]: a reference count,
//! not a copy. Each [`Page`] (a format and compression, or the landing page) is rendered at
//! most once per snapshot, on the first request that asks for it, on a blocking thread, one
//! render at a time (a 10,000-endpoint render neither stalls the async workers nor takes
//! more than one core from ingestion); requests arriving while a page renders get its
//! previous rendering instead of waiting. A gzip copy is made from the rendered bytes, once.
//!
//! **The budget** (`--web.max-response-bytes`): every rendered body counts its bytes while
//! anything holds it, the cache or an unsent response (HTTP/1.1 or an HTTP/2 stream). While
//! the total is over the budget, a new snapshot is not rendered: requests get the bodies of
//! the one rendered last, counted in `locust_exporter_http_stale_responses_total` and logged
//! at most once a minute. So slow or stalled clients can pin at most the budget plus one
//! rendering of each page, however many they are; the snapshot they read is at most
//! `--web.send-timeout` old.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::{OnceCell, Semaphore};

use crate::expose::Format;
use crate::support::log_every::LogEvery;
use crate::support::report::{Kind, Report, SelfMetrics};

/// How the body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// As rendered.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// What is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The exposition in a format and compression.
    Metrics(Format, Compression),
    /// The `/` page.
    Landing,
    /// The live run report, `/report`.
    Report,
}

/// Cache slots: two per format, the landing page and the report.
const SLOTS: usize = Format::ALL.len() * 2 + 2;

impl Page {
    fn slot(self) -> usize {
        match self {
            Page::Metrics(format, compression) => {
                let f = Format::ALL.iter().position(|f| *f == format).unwrap_or(0);
                f * 2 + usize::from(compression == Compression::Gzip)
            }
            Page::Landing => SLOTS - 2,
            Page::Report => SLOTS - 1,
        }
    }
}

/// The renderings of one snapshot, filled on demand.
#[derive(Debug)]
struct Entry {
    seq: u64,
    cells: [OnceCell<Bytes>; SLOTS],
    /// A render of the slot has started.
    rendering: [AtomicBool; SLOTS],
}

impl Entry {
    fn new(seq: u64) -> Self {
        Entry {
            seq,
            cells: Default::default(),
            rendering: Default::default(),
        }
    }
}

/// Rendered bytes that count themselves in the budget while they live.
struct Held {
    bytes: Vec<u8>,
    held: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes.len(), Ordering::Relaxed);
    }
}

/// Renders restricted to some families (`?name[]=…`) kept at once, newest last.
pub const FILTERED_ENTRIES: usize = 16;

/// One restricted render: (snapshot, page, names asked for, body).
type Filtered = (u64, Page, Vec<String>, Bytes);

/// Default `--web.max-response-bytes`.
pub const DEFAULT_BUDGET: usize = crate::serve::server::DEFAULT_MAX_RESPONSE_BYTES;

/// The renderings of the latest snapshot asked for, and the last rendering of each page.
#[derive(Debug)]
pub struct RenderCache {
    /// Held only to look at or swap the entry, never across a render.
    current: Mutex<Arc<Entry>>,
    /// The last finished rendering of each page, whatever its snapshot.
    last: Mutex<[Option<Bytes>; SLOTS]>,
    /// Bytes of rendered bodies alive.
    held: Arc<AtomicUsize>,
    budget: usize,
    /// One render at a time.
    gate: Arc<Semaphore>,
    stale: AtomicU64,
    warn: LogEvery,
    /// Restricted renders, at most [`FILTERED_ENTRIES`].
    filtered: Mutex<std::collections::VecDeque<Filtered>>,
    /// When each page was last asked for (ms since `born`).
    asked: [AtomicU64; SLOTS],
    born: std::time::Instant,
}

/// A page not asked for this long has its bodies dropped by [`RenderCache::sweep`]: a
/// snapshot is published at least every [`crate::ingest::REFRESH`] (5 s), so an older body
/// would be rendered again by the next request anyway.
pub const KEEP_UNASKED: std::time::Duration = std::time::Duration::from_secs(10);

/// `bytes` with no spare capacity beyond a sixteenth (a render's buffer is sized from an
/// estimate; the body is held for as long as it is asked for).
fn fitted(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.capacity() > bytes.len() + bytes.len() / 16 {
        bytes.shrink_to_fit();
    }
    bytes
}

impl Default for RenderCache {
    fn default() -> Self {
        RenderCache::new(DEFAULT_BUDGET)
    }
}

/// gzip level: fast. The exposition compresses about 10× even so, and this runs at most
/// once per snapshot and format.
const GZIP_LEVEL: u32 = 1;

/// gzips `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8 + 64),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

impl RenderCache {
    /// A cache whose bodies may hold `budget` bytes before new snapshots wait.
    pub fn new(budget: usize) -> Self {
        RenderCache {
            current: Mutex::new(Arc::new(Entry::new(u64::MAX))),
            last: Mutex::new(Default::default()),
            held: Arc::new(AtomicUsize::new(0)),
            budget,
            gate: Arc::new(Semaphore::new(1)),
            stale: AtomicU64::new(0),
            warn: LogEvery::default(),
            filtered: Mutex::new(std::collections::VecDeque::new()),
            asked: Default::default(),
            born: std::time::Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Drops the bodies of pages not asked for within [`KEEP_UNASKED`] (and restricted
    /// renders as old), so a format asked for once holds no memory for long. Bodies an
    /// unsent response still holds live until it is sent.
    pub fn sweep(&self) {
        self.sweep_unasked_for(KEEP_UNASKED);
    }

    /// [`RenderCache::sweep`] with pages idle longer than `keep`.
    fn sweep_unasked_for(&self, keep: std::time::Duration) {
        let now = self.now_ms();
        let keep = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        let idle: Vec<bool> = self
            .asked
            .iter()
            .map(|a| now.saturating_sub(a.load(Ordering::Relaxed)) >= keep)
            .collect();
        if !idle.iter().any(|&i| i) {
            return;
        }
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            for (body, &gone) in last.iter_mut().zip(&idle) {
                if gone {
                    *body = None;
                }
            }
        }
        {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            let held = current
                .cells
                .iter()
                .zip(&idle)
                .any(|(c, &gone)| gone && c.get().is_some());
            if held {
                let fresh = Entry::new(current.seq);
                for (slot, (cell, &gone)) in current.cells.iter().zip(&idle).enumerate() {
                    if let (Some(body), false) = (cell.get(), gone) {
                        let _ = fresh.cells[slot].set(body.clone());
                        fresh.rendering[slot].store(true, Ordering::Relaxed);
                    }
                }
                *current = Arc::new(fresh);
            }
        }
        if idle.iter().all(|&i| i) {
            self.filtered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// Bytes of rendered bodies alive now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Requests served an older snapshot's body because of the budget.
    pub fn stale(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }

    /// Bytes held by others than the cache itself (unsent responses): all rendered bytes
    /// alive but the current entry's and the last rendering of each page.
    fn pinned(&self, current: &Entry) -> usize {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let mut own: usize = last.iter().flatten().map(Bytes::len).sum();
        for (cell, last) in current.cells.iter().zip(last.iter()) {
            if let Some(body) = cell.get() {
                if last.as_ref().is_none_or(|l| l.as_ptr() != body.as_ptr()) {
                    own += body.len();
                }
            }
        }
        self.held().saturating_sub(own)
    }

    /// The entry for snapshot `seq`, replacing an older one unless over the budget.
    fn entry(&self, seq: u64) -> Arc<Entry> {
        // A poisoned lock only means another request panicked while swapping an Arc: the
        // value is still a whole Arc.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.seq != seq {
            let held = self.pinned(&current);
            if held > self.budget && current.seq != u64::MAX {
                self.stale.fetch_add(1, Ordering::Relaxed);
                if self.warn.ready() {
                    tracing::warn!(
                        held,
                        budget = self.budget,
                        "Unsent responses hold more than --web.max-response-bytes: serving the snapshot rendered last until slow clients read or time out. Counted in locust_exporter_http_stale_responses_total; logged at most once a minute."
                    );
                }
                return current.clone();
            }
            *current = Arc::new(Entry::new(seq));
        }
        current.clone()
    }

    /// The body of `page` for snapshot `seq`; `render` makes the uncompressed bytes
    /// (called at most once per snapshot and page).
    pub async fn get(
        &self,
        seq: u64,
        page: Page,
        render: impl FnOnce() -> Vec<u8> + Send + 'static,
    ) -> Bytes {
        let entry = self.entry(seq);
        // A gzip request marks only its own page: the plain body it is made from is dropped
        // once no one asks for it as such.
        self.asked[page.slot()].store(self.now_ms(), Ordering::Relaxed);
        match page {
            Page::Metrics(format, Compression::Gzip) => {
                let plain = Page::Metrics(format, Compression::Identity);
                let identity = self.fill(&entry, plain, render).await;
                self.fill(&entry, page, move || gzip(&identity)).await
            }
            _ => self.fill(&entry, page, render).await,
        }
    }

    /// The body of `page` for snapshot `seq` with only the families `names` ask for;
    /// `render` makes the uncompressed bytes. The last [`FILTERED_ENTRIES`] such renders are
    /// kept, so a Prometheus scraping with `params` costs one render per snapshot, as any.
    pub async fn get_filtered(
        &self,
        seq: u64,
        page: Page,
        names: Vec<String>,
        render: impl FnOnce() -> Vec<u8> + Send + 'static,
    ) -> Bytes {
        let found = self
            .filtered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(s, p, n, _)| *s == seq && *p == page && *n == names)
            .map(|(_, _, _, body)| body.clone());
        self.asked[page.slot()].store(self.now_ms(), Ordering::Relaxed);
        if let Some(body) = found {
            return body;
        }
        let (gate, held) = (self.gate.clone(), self.held.clone());
        let gzipped = matches!(page, Page::Metrics(_, Compression::Gzip));
        let body = async move {
            let _turn = gate.acquire_owned().await.ok();
            tokio::task::spawn_blocking(move || {
                let plain = render();
                let bytes = fitted(if gzipped { gzip(&plain) } else { plain });
                held.fetch_add(bytes.len(), Ordering::Relaxed);
                Bytes::from_owner(Held { bytes, held })
            })
            .await
            .unwrap_or_default()
        }
        .await;
        let mut kept = self.filtered.lock().unwrap_or_else(PoisonError::into_inner);
        kept.push_back((seq, page, names, body.clone()));
        while kept.len() > FILTERED_ENTRIES {
            kept.pop_front();
        }
        body
    }

    async fn fill(
        &self,
        entry: &Entry,
        page: Page,
        work: impl FnOnce() -> Vec<u8> + Send + 'static,
    ) -> Bytes {
        let slot = page.slot();
        if let Some(body) = entry.cells[slot].get() {
            return body.clone();
        }
        if entry.rendering[slot].swap(true, Ordering::AcqRel) {
            // Being rendered: the previous rendering, if any, rather than a wait.
            let last = self.last.lock().unwrap_or_else(PoisonError::into_inner)[slot].clone();
            if let Some(body) = last {
                return body;
            }
        }
        let (gate, held) = (self.gate.clone(), self.held.clone());
        let body = entry.cells[slot]
            .get_or_init(|| async move {
                let _turn = gate.acquire_owned().await.ok();
                tokio::task::spawn_blocking(move || {
                    let bytes = fitted(work());
                    held.fetch_add(bytes.len(), Ordering::Relaxed);
                    Bytes::from_owner(Held { bytes, held })
                })
                .await
                .unwrap_or_default()
            })
            .await
            .clone();
        self.last.lock().unwrap_or_else(PoisonError::into_inner)[slot] = Some(body.clone());
        body
    }
}

/// `locust_exporter_http_response_bytes`.
pub const RESPONSE_BYTES: &str = "locust_exporter_http_response_bytes";
/// `locust_exporter_http_stale_responses_total`.
pub const STALE_RESPONSES: &str = "locust_exporter_http_stale_responses_total";

impl SelfMetrics for RenderCache {
    fn report(&self, out: &mut dyn Report) {
        out.family(
            RESPONSE_BYTES,
            "Bytes of rendered bodies held by the render cache and unsent responses.",
            Kind::Gauge,
        );
        out.sample(&[], self.held() as f64);
        out.family(
            STALE_RESPONSES,
            "Requests served the snapshot rendered last because unsent responses held more than --web.max-response-bytes.",
            Kind::Counter,
        );
        out.sample(&[], self.stale() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn renders_once_per_snapshot_and_encoding() {
        let cache = Arc::new(RenderCache::default());
        let renders = Arc::new(AtomicUsize::new(0));
        let get = |seq: u64, compression| {
            let (cache, renders) = (cache.clone(), renders.clone());
            async move {
                cache
                    .get(seq, Page::Metrics(Format::Text, compression), move || {
                        renders.fetch_add(1, Ordering::SeqCst);
                        format!("snapshot {seq}\n").into_bytes()
                    })
                    .await
            }
        };
        let many: Vec<_> = (0..20)
            .map(|_| tokio::spawn(get(1, Compression::Identity)))
            .collect();
        for h in many {
            assert_eq!(&h.await.unwrap()[..], b"snapshot 1\n");
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1, "20 scrapes, one render");
        let a = get(1, Compression::Gzip).await;
        let b = get(1, Compression::Gzip).await;
        assert_eq!(a.as_ptr(), b.as_ptr(), "the gzip copy is shared");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a[..]), &mut out).unwrap();
        assert_eq!(out, "snapshot 1\n");
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        // Each format has its own slot: one more render for OpenMetrics, shared after that.
        for _ in 0..3 {
            let renders = renders.clone();
            let body = cache
                .get(
                    1,
                    Page::Metrics(Format::OpenMetrics, Compression::Gzip),
                    move || {
                        renders.fetch_add(1, Ordering::SeqCst);
                        b"om 1\n".to_vec()
                    },
                )
                .await;
            assert!(!body.is_empty());
        }
        assert_eq!(renders.load(Ordering::SeqCst), 2, "one render per format");
        assert_eq!(&get(1, Compression::Identity).await[..], b"snapshot 1\n");
        assert_eq!(&get(2, Compression::Identity).await[..], b"snapshot 2\n");
        assert_eq!(
            renders.load(Ordering::SeqCst),
            3,
            "a new snapshot renders again"
        );
    }

    #[tokio::test]
    async fn slow_clients_pin_at_most_the_budget() {
        let cache = RenderCache::new(1000);
        let render = |seq: u64| move || vec![seq as u8; 600];
        let text = Page::Metrics(Format::Text, Compression::Identity);
        let first = cache.get(1, text, render(1)).await;
        assert_eq!(cache.held(), 600);
        drop(first);
        // The cache's own renderings do not count against the budget.
        let mut held_by_clients = Vec::new();
        held_by_clients.push(cache.get(2, text, render(2)).await);
        assert_eq!(cache.held(), 600, "snapshot 1's body is gone");
        held_by_clients.push(cache.get(3, text, render(3)).await);
        held_by_clients.push(cache.get(4, text, render(4)).await);
        // Clients hold 2 and 3 (1,200 bytes over a 1,000 budget): 5 is not rendered.
        let body = cache.get(5, text, render(5)).await;
        assert_eq!(body[0], 4, "the snapshot rendered last");
        assert_eq!(cache.stale(), 1);
        assert_eq!(cache.held(), 1800);
        held_by_clients.clear();
        drop(body);
        assert_eq!(
            cache.get(6, text, render(6)).await[0],
            6,
            "released: renders again"
        );
        assert_eq!(cache.held(), 600);
        struct Collect(Vec<(String, f64)>, String);
        impl Report for Collect {
            fn family(&mut self, name: &str, _: &str, _: Kind) {
                self.1 = name.to_owned();
            }
            fn sample(&mut self, _: &[(&str, &str)], value: f64) {
                self.0.push((self.1.clone(), value));
            }
        }
        let mut report = Collect(Vec::new(), String::new());
        cache.report(&mut report);
        assert_eq!(
            report.0,
            vec![
                (RESPONSE_BYTES.to_owned(), 600.0),
                (STALE_RESPONSES.to_owned(), 1.0)
            ]
        );
    }

    #[tokio::test]
    async fn the_landing_page_has_its_own_slot() {
        let cache = RenderCache::default();
        let page = cache.get(1, Page::Landing, || b"<html>".to_vec()).await;
        let metrics = cache
            .get(
                1,
                Page::Metrics(Format::Text, Compression::Identity),
                || b"m 1\n".to_vec(),
            )
            .await;
        assert_eq!((&page[..], &metrics[..]), (&b"<html>"[..], &b"m 1\n"[..]));
    }

    /// Bodies of pages no one asks for any more are dropped (the memory they held is given
    /// back once no response holds them); a page still asked for keeps its body.
    #[tokio::test]
    async fn pages_not_asked_for_are_swept() {
        let cache = RenderCache::default();
        let text = Page::Metrics(Format::Text, Compression::Identity);
        let gz = Page::Metrics(Format::Text, Compression::Gzip);
        let body = cache.get(1, gz, || vec![b'x'; 10_000]).await;
        drop(body);
        // The plain body the gzip was made from, and the gzip, are held.
        assert!(cache.held() > 10_000, "{}", cache.held());
        cache.sweep_unasked_for(std::time::Duration::from_secs(3600));
        assert!(cache.held() > 10_000, "recently asked: kept");
        // Nothing was asked within the last 0 ms: everything goes.
        cache.sweep_unasked_for(std::time::Duration::ZERO);
        assert_eq!(cache.held(), 0);
        // A body a response still holds stays counted until it is sent.
        let held = cache.get(2, text, || vec![b'y'; 500]).await;
        cache.sweep_unasked_for(std::time::Duration::ZERO);
        assert_eq!(cache.held(), 500);
        drop(held);
        assert_eq!(cache.held(), 0);
        // Asked again: rendered again.
        let again = cache.get(2, text, || vec![b'z'; 10]).await;
        assert_eq!(&again[..], &[b'z'; 10][..]);
    }
}
