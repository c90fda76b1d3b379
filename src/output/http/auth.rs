//! Basic auth of `--web.config.file`, done as the exporter-toolkit does it, or better.
//!
//! * A successful check is cached under a SHA-256 of (user, password, the user's stored
//!   hash): a changed password or a reloaded file cannot hit a stale entry, and the cache
//!   holds no password. Honest scrapers pay for bcrypt once.
//! * bcrypt (about 60 ms of CPU at cost 10) runs off the async workers, one at a time
//!   ([`BCRYPT_PARALLELISM`]), and only [`BCRYPT_PER_SECOND`] times a second (burst
//!   [`BCRYPT_BURST`]): beyond that an uncached attempt is refused at once (429) without
//!   hashing. A flood of wrong passwords costs at most a fraction of one core and cannot slow
//!   ingestion or cached scrapes.
//! * An unknown user is checked against a decoy hash of the same cost as the configured
//!   ones, so it takes as long as a known user with a wrong password (no user enumeration).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// bcrypt checks run at the same time.
pub const BCRYPT_PARALLELISM: usize = 1;
/// Uncached bcrypt checks allowed per second, on average.
pub const BCRYPT_PER_SECOND: f64 = 1.0;
/// Uncached bcrypt checks allowed in a burst.
pub const BCRYPT_BURST: f64 = 3.0;
/// Successful checks remembered (the cache is cleared when full).
pub const CACHE_ENTRIES: usize = 1024;

/// The result of checking a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No authentication configured, or good credentials.
    Allowed,
    /// Missing or wrong credentials: 401.
    Denied,
    /// Too many uncached checks right now: 429, try again shortly.
    Throttled,
}

/// A token bucket for uncached checks.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    at: Instant,
}

/// The configured users and the machinery to check them.
#[derive(Debug)]
pub struct Auth {
    users: BTreeMap<String, String>,
    decoy: String,
    cache: Mutex<HashSet<[u8; 32]>>,
    budget: Mutex<Budget>,
    pool: Arc<Semaphore>,
}

fn digest(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, password, hash] {
        ctx.update(&(part.len() as u64).to_le_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `Basic dXNlcjpwYXNz` → (user, password).
fn credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl Auth {
    /// Checks for `users` (user → bcrypt hash, already validated). Makes the decoy hash (one
    /// bcrypt at the users' highest cost) when there are users.
    pub fn new(users: BTreeMap<String, String>) -> Self {
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max();
        let decoy = cost
            .and_then(|c| bcrypt::hash("decoy password, never a real one", c).ok())
            .unwrap_or_default();
        Auth {
            users,
            decoy,
            cache: Mutex::new(HashSet::new()),
            budget: Mutex::new(Budget {
                tokens: BCRYPT_BURST,
                at: Instant::now(),
            }),
            pool: Arc::new(Semaphore::new(BCRYPT_PARALLELISM)),
        }
    }

    /// True if no users are configured (every request is allowed).
    pub fn is_open(&self) -> bool {
        self.users.is_empty()
    }

    fn take_token(&self) -> bool {
        let mut b = self
            .budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(b.at).as_secs_f64() * BCRYPT_PER_SECOND;
        b.tokens = (b.tokens + refill).min(BCRYPT_BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks the `Authorization` header's value.
    pub async fn check(&self, authorization: Option<&str>) -> Verdict {
        if self.is_open() {
            return Verdict::Allowed;
        }
        let Some((user, password)) = authorization.and_then(credentials) else {
            return Verdict::Denied;
        };
        let known = self.users.get(&user);
        let hash = known.unwrap_or(&self.decoy).clone();
        let key = digest(&user, &password, &hash);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&key);
        if cached && known.is_some() {
            return Verdict::Allowed;
        }
        if !self.take_token() {
            return Verdict::Throttled;
        }
        let Ok(_permit) = self.pool.clone().acquire_owned().await else {
            return Verdict::Denied;
        };
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if !(matched && known.is_some()) {
            return Verdict::Denied;
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key);
        Verdict::Allowed
    }
}

/// How long a throttled client is asked to wait (`Retry-After`).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn header(u: &str, p: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    fn auth() -> Auth {
        let hash = bcrypt::hash("secret", 4).unwrap();
        Auth::new(BTreeMap::from([("alice".to_owned(), hash)]))
    }

    #[tokio::test]
    async fn good_bad_unknown_and_missing_credentials() {
        let a = auth();
        assert_eq!(
            a.check(Some(&header("alice", "secret"))).await,
            Verdict::Allowed
        );
        assert_eq!(
            a.check(Some(&header("alice", "wrong"))).await,
            Verdict::Denied
        );
        assert_eq!(
            a.check(Some(&header("bob", "secret"))).await,
            Verdict::Denied
        );
        assert_eq!(a.check(None).await, Verdict::Denied);
        assert_eq!(a.check(Some("Bearer x")).await, Verdict::Denied);
        let open = Auth::new(BTreeMap::new());
        assert_eq!(open.check(None).await, Verdict::Allowed);
    }

    #[tokio::test]
    async fn successes_are_cached_and_floods_are_throttled() {
        let a = auth();
        assert_eq!(
            a.check(Some(&header("alice", "secret"))).await,
            Verdict::Allowed
        );
        // Use up the budget with wrong passwords: further uncached checks are throttled...
        let mut throttled = 0;
        for _ in 0..(BCRYPT_BURST as usize + 5) {
            if a.check(Some(&header("alice", "guess"))).await == Verdict::Throttled {
                throttled += 1;
            }
        }
        assert!(throttled >= 4, "{throttled}");
        // ...but the cached honest credentials still pass, with no bcrypt.
        assert_eq!(
            a.check(Some(&header("alice", "secret"))).await,
            Verdict::Allowed
        );
        // A cache entry belongs to one stored hash: another file's hash does not hit it.
        assert_ne!(
            digest("alice", "secret", "$2b$04$a"),
            digest("alice", "secret", "$2b$04$b")
        );
    }

    #[test]
    fn the_decoy_has_the_users_cost() {
        let a = auth();
        let parts: bcrypt::HashParts = a.decoy.parse().unwrap();
        assert_eq!(parts.get_cost(), 4);
    }
}
