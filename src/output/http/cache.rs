//! Render once per published snapshot and encoding.
//!
//! Every scrape of the same snapshot gets the same immutable [`Bytes`]: a reference count,
//! not a copy, so the memory a scrape holds while a slow client reads does not grow with the
//! exposition's size. Each (format, compression) is rendered at most once per snapshot, on
//! the first scrape that asks for it, on a blocking thread (so a 10,000-endpoint render
//! never stalls the async workers); concurrent scrapes of a new snapshot wait for that one
//! render instead of each doing their own. A gzip copy is made from the rendered bytes, once.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::expose::Format;

/// The cache slot of a format: its place in [`Format::ALL`].
fn slot(format: Format) -> usize {
    Format::ALL.iter().position(|f| *f == format).unwrap_or(0)
}

/// How the body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// As rendered.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// The renderings of one snapshot, filled on demand.
#[derive(Debug)]
struct Entry {
    seq: u64,
    identity: [OnceCell<Bytes>; Format::ALL.len()],
    gzip: [OnceCell<Bytes>; Format::ALL.len()],
}

impl Entry {
    fn new(seq: u64) -> Self {
        Entry {
            seq,
            identity: Default::default(),
            gzip: Default::default(),
        }
    }
}

/// The renderings of the latest snapshot a scrape asked for.
#[derive(Debug)]
pub struct RenderCache {
    /// Held only to look at or swap the entry, never across a render.
    current: Mutex<Arc<Entry>>,
}

impl Default for RenderCache {
    fn default() -> Self {
        RenderCache {
            current: Mutex::new(Arc::new(Entry::new(u64::MAX))),
        }
    }
}

/// gzip level: fast. The exposition compresses about 10× even so, and this runs at most
/// once per snapshot and format.
const GZIP_LEVEL: u32 = 1;

/// gzips `bytes`.
pub fn gzip(bytes: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8 + 64),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    Bytes::from(enc.finish().unwrap_or_default())
}

impl RenderCache {
    /// The entry for snapshot `seq`, replacing an older one.
    fn entry(&self, seq: u64) -> Arc<Entry> {
        // A poisoned lock only means another scrape panicked while swapping an Arc: the
        // value is still a whole Arc.
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.seq != seq {
            *current = Arc::new(Entry::new(seq));
        }
        current.clone()
    }

    /// The body for snapshot `seq` in `format` and `compression`; `render` makes the
    /// uncompressed bytes (called at most once per snapshot and format, on a blocking
    /// thread).
    pub async fn get(
        &self,
        seq: u64,
        format: Format,
        compression: Compression,
        render: impl FnOnce() -> Vec<u8> + Send + 'static,
    ) -> Bytes {
        let entry = self.entry(seq);
        let identity = entry.identity[slot(format)]
            .get_or_init(|| blocking(move || Bytes::from(render())))
            .await
            .clone();
        match compression {
            Compression::Identity => identity,
            Compression::Gzip => entry.gzip[slot(format)]
                .get_or_init(|| blocking(move || gzip(&identity)))
                .await
                .clone(),
        }
    }
}

/// Runs `work` on the blocking pool (an empty body if that pool is shutting down).
async fn blocking(work: impl FnOnce() -> Bytes + Send + 'static) -> Bytes {
    tokio::task::spawn_blocking(work).await.unwrap_or_default()
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
                    .get(seq, Format::Text, compression, move || {
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
                .get(1, Format::OpenMetrics, Compression::Gzip, move || {
                    renders.fetch_add(1, Ordering::SeqCst);
                    b"om 1\n".to_vec()
                })
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
}
