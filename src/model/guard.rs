//! The cardinality guard (`--max-endpoints`): the first `max` distinct (method, name) of a
//! service are admitted; later ones are folded into name [`OTHER_NAME`] (per method) and
//! counted once each.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::FastHash;

/// An endpoint's identity: (method, name).
pub type Key = (Arc<str>, Arc<str>);

/// The name endpoints past `--max-endpoints` are folded into.
pub const OTHER_NAME: &str = "__other__";

/// At most this many folded endpoints are remembered (as hashes) to count them once each;
/// past it, further distinct folded endpoints are still folded but no longer counted.
pub const MAX_FOLDED_REMEMBERED: usize = 1 << 20;

/// Admitted endpoints and the hashes of folded ones.
#[derive(Debug, Default, Clone)]
pub struct Guard {
    admitted: HashSet<Key, FastHash>,
    folded: HashSet<u64, FastHash>,
    other: Option<Arc<str>>,
}

impl Guard {
    /// The key to record `(method, name)` under: itself if admitted (admitting it if there
    /// is room), else `(method, __other__)`.
    pub fn route(&mut self, key: &Key, max: usize) -> Key {
        if self.admitted.contains(key) {
            return key.clone();
        }
        if self.admitted.len() < max {
            self.admitted.insert(key.clone());
            return key.clone();
        }
        if self.folded.len() < MAX_FOLDED_REMEMBERED {
            let hash = self.folded.hasher().hash_one(key);
            self.folded.insert(hash);
        }
        let other = self
            .other
            .get_or_insert_with(|| Arc::from(OTHER_NAME))
            .clone();
        (key.0.clone(), other)
    }

    /// Distinct endpoints folded so far.
    pub fn folded(&self) -> u64 {
        self.folded.len() as u64
    }
}
