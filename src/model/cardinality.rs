//! Bounds on every label value input controls, per service.
//!
//! * Endpoints (`--max-endpoints`): the first `max` distinct (method, name) are admitted;
//!   later ones are folded into name [`OTHER`] (per method).
//! * Error texts per endpoint (`--max-errors-per-endpoint`): the first `max` distinct texts of
//!   an endpoint are admitted; later ones are folded into error [`OTHER`].
//! * Exception messages (`--max-exceptions`): likewise, into message [`OTHER`].
//! * Every label value is cut to [`MAX_LABEL_BYTES`] on a UTF-8 boundary before anything else
//!   (so a value is the same series whether it came from a CSV file or an event).
//!
//! What is admitted stays admitted (a later snapshot listing rows in another order does not
//! reshuffle series). Folded values are remembered as hashes, to count each once, up to
//! [`MAX_FOLDED_REMEMBERED`] per kind (past it they are still folded, no longer counted).
//!
//! Worst case per service with the defaults: 2,000 endpoints × 20 error texts of at most
//! 1 KiB, 200 exception messages, and three sets of remembered hashes (about 18 MB each
//! when full).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use super::config::FastHash;

/// An endpoint's identity: (method, name).
pub type Key = (Arc<str>, Arc<str>);

/// The value excess endpoints, errors and exceptions are folded into.
pub const OTHER: &str = "__other__";

/// The name an endpoint called `Aggregated` with method `""` or `Aggregated` is recorded
/// under: those labels are the total rows'.
pub const RENAMED_TOTAL: &str = "Aggregated (endpoint)";

/// Longest label value, in bytes: longer method names, endpoint names and error texts are
/// cut (at a UTF-8 character boundary).
pub const MAX_LABEL_BYTES: usize = 1024;

/// Folded endpoints keep their method for at most this many distinct methods per service;
/// the rest are folded into method `__other__` too, so a flood of made-up methods is one
/// series, not one per method.
pub const MAX_FOLDED_METHODS: usize = 32;

/// At most this many folded values of each kind are remembered (as hashes) to count them
/// once each; past it, further distinct folded values are still folded but not counted.
pub const MAX_FOLDED_REMEMBERED: usize = 1 << 20;

/// Cuts `s` to at most [`MAX_LABEL_BYTES`] bytes on a character boundary.
pub fn cut_label(s: &str) -> &str {
    if s.len() <= MAX_LABEL_BYTES {
        return s;
    }
    let mut end = MAX_LABEL_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut by [`cut_label`], reusing `s` when nothing was cut.
pub fn cut_label_arc(s: &Arc<str>) -> Arc<str> {
    match cut_label(s) {
        cut if cut.len() == s.len() => s.clone(),
        cut => Arc::from(cut),
    }
}

/// Admitted values.
#[derive(Debug, Clone)]
struct Admit<T> {
    admitted: HashSet<T, FastHash>,
}

impl<T> Default for Admit<T> {
    fn default() -> Self {
        Admit {
            admitted: HashSet::default(),
        }
    }
}

impl<T: Hash + Eq + Clone> Admit<T> {
    /// True if `v` is (now) admitted.
    fn admit(&mut self, v: &T, max: usize) -> bool {
        if self.admitted.contains(v) {
            return true;
        }
        if self.admitted.len() < max {
            self.admitted.insert(v.clone());
            return true;
        }
        false
    }

    fn contains(&self, v: &T) -> bool {
        self.admitted.contains(v)
    }
}

/// Hashes of the distinct values folded, to count each once, up to
/// [`MAX_FOLDED_REMEMBERED`] (about 18 MB when full).
#[derive(Debug, Clone, Default)]
struct Remembered(HashSet<u64, FastHash>);

impl Remembered {
    fn note(&mut self, v: &impl Hash) {
        if self.0.len() < MAX_FOLDED_REMEMBERED {
            let hash = self.0.hasher().hash_one(v);
            self.0.insert(hash);
        }
    }

    fn count(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Distinct values folded, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folded {
    /// Endpoints folded into name `__other__`.
    pub endpoints: u64,
    /// Error texts folded into error `__other__` (summed over endpoints).
    pub errors: u64,
    /// Exception messages folded into message `__other__`.
    pub exceptions: u64,
}

/// The bounds of one service.
#[derive(Debug, Default, Clone)]
pub struct Guard {
    endpoints: Admit<Key>,
    folded_methods: Admit<Arc<str>>,
    errors: HashMap<Key, Admit<Arc<str>>, FastHash>,
    exceptions: Admit<Arc<str>>,
    folded_endpoints: Remembered,
    folded_errors: Remembered,
    folded_exceptions: Remembered,
    other: Option<Arc<str>>,
}

impl Guard {
    fn other(&mut self) -> Arc<str> {
        self.other.get_or_insert_with(|| Arc::from(OTHER)).clone()
    }

    /// The key to record `key` under (already cut): itself if admitted (admitting it if
    /// there is room), else `(method, __other__)` — or `(__other__, __other__)` past
    /// [`MAX_FOLDED_METHODS`] methods of folded endpoints.
    /// An endpoint whose labels are a total row's (name `Aggregated` with method `""`, the
    /// containersolutions total, or `Aggregated`, the seed's) is recorded as name
    /// [`RENAMED_TOTAL`], so no set serves two series with the same labels.
    pub fn route(&mut self, key: &Key, max: usize) -> Key {
        let renamed;
        let key = if &*key.1 == super::update::AGGREGATED
            && (key.0.is_empty() || &*key.0 == super::update::AGGREGATED)
        {
            renamed = (key.0.clone(), Arc::from(RENAMED_TOTAL));
            &renamed
        } else {
            key
        };
        if self.endpoints.admit(key, max) {
            key.clone()
        } else {
            self.folded_endpoints.note(key);
            let method = if self.folded_methods.admit(&key.0, MAX_FOLDED_METHODS) {
                key.0.clone()
            } else {
                self.other()
            };
            (method, self.other())
        }
    }

    /// True if `key` was admitted (without admitting it).
    pub fn is_admitted(&self, key: &Key) -> bool {
        self.endpoints.contains(key)
    }

    /// The key of (`method`, `name`), cut as labels are, if it was admitted (a row the
    /// files or a web UI report of an endpoint `_stats.csv` did not admit holds nothing).
    pub fn admitted(&self, method: &Arc<str>, name: &Arc<str>) -> Option<Key> {
        let key = (cut_label_arc(method), cut_label_arc(name));
        self.is_admitted(&key).then_some(key)
    }

    /// The error text to record for a failure of `key` (an already routed endpoint):
    /// `error` if admitted for that endpoint, else `__other__`.
    pub fn route_error(&mut self, key: &Key, error: &Arc<str>, max: usize) -> Arc<str> {
        let admitted = match self.errors.get_mut(key) {
            Some(a) => a.admit(error, max),
            None => {
                let mut a = Admit::default();
                let admitted = a.admit(error, max);
                self.errors.insert(key.clone(), a);
                admitted
            }
        };
        if admitted {
            error.clone()
        } else {
            self.folded_errors.note(&(key, error));
            self.other()
        }
    }

    /// The message to record for an exception: itself if admitted, else `__other__`.
    pub fn route_exception(&mut self, message: &Arc<str>, max: usize) -> Arc<str> {
        if self.exceptions.admit(message, max) {
            message.clone()
        } else {
            self.folded_exceptions.note(message);
            self.other()
        }
    }

    /// Distinct values folded so far.
    pub fn folded(&self) -> Folded {
        Folded {
            endpoints: self.folded_endpoints.count(),
            errors: self.folded_errors.count(),
            exceptions: self.folded_exceptions.count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cut_on_a_character_boundary() {
        let long = "é".repeat(600); // 1200 bytes
        let cut = cut_label(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.chars().all(|c| c == 'é'));
        let odd = format!("a{long}");
        assert_eq!(cut_label(&odd).len(), 1023, "never inside a character");
        assert_eq!(cut_label("short"), "short");
    }

    #[test]
    fn errors_per_endpoint_and_exceptions_fold() {
        let mut g = Guard::default();
        let key: Key = (Arc::from("GET"), Arc::from("/a"));
        let other_key: Key = (Arc::from("GET"), Arc::from("/b"));
        let e = |s: &str| Arc::<str>::from(s);
        assert_eq!(&*g.route_error(&key, &e("x"), 2), "x");
        assert_eq!(&*g.route_error(&key, &e("y"), 2), "y");
        assert_eq!(&*g.route_error(&key, &e("z"), 2), OTHER);
        assert_eq!(&*g.route_error(&key, &e("z"), 2), OTHER);
        assert_eq!(
            &*g.route_error(&key, &e("x"), 2),
            "x",
            "admitted stays admitted"
        );
        assert_eq!(&*g.route_error(&other_key, &e("z"), 2), "z", "per endpoint");
        assert_eq!(&*g.route_exception(&e("boom"), 1), "boom");
        assert_eq!(&*g.route_exception(&e("bang"), 1), OTHER);
        assert_eq!(
            g.folded(),
            Folded {
                endpoints: 0,
                errors: 1,
                exceptions: 1
            }
        );
    }

    #[test]
    fn folded_endpoints_keep_at_most_a_few_methods() {
        let mut g = Guard::default();
        let key = |m: &str, n: &str| (Arc::from(m), Arc::from(n));
        assert_eq!(g.route(&key("GET", "/a"), 1), key("GET", "/a"));
        let mut h = Guard::default();
        assert_eq!(
            h.route(&key("Aggregated", "Aggregated"), 9),
            key("Aggregated", RENAMED_TOTAL)
        );
        assert_eq!(h.route(&key("", "Aggregated"), 9), key("", RENAMED_TOTAL));
        assert_eq!(
            h.route(&key("GET", "Aggregated"), 9),
            key("GET", "Aggregated")
        );
        let mut folded = std::collections::HashSet::new();
        for i in 0..10_000 {
            folded.insert(g.route(&key(&format!("M{i}"), &format!("/n{i}")), 1));
        }
        // 32 methods keep their name, every other one is (__other__, __other__).
        assert_eq!(folded.len(), MAX_FOLDED_METHODS + 1);
        assert!(folded.contains(&key(OTHER, OTHER)));
        assert_eq!(g.folded().endpoints, 10_000);
    }
}
