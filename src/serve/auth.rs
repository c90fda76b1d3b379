//! Basic auth of `--web.config.file`, done as the exporter-toolkit does it, or better.
//!
//! * A successful check is cached under a SHA-256 of (user, password, the user's stored
//!   hash): a changed password or a reloaded file cannot hit a stale entry, and the cache
//!   holds no password. Honest scrapers pay for bcrypt once. A failed check is remembered
//!   the same way: the same wrong password again (a scraper left with a rotated password)
//!   is refused at once, with no bcrypt and no budget spent.
//! * bcrypt (about 60 ms of CPU at cost 10) runs off the async workers, one at a time
//!   ([`BCRYPT_PARALLELISM`]), within two token buckets: one per (client address, user)
//!   ([`PER_CLIENT_PER_SECOND`], burst [`PER_CLIENT_BURST`]; every unknown user of an
//!   address shares one) and one of the process's two ([`GLOBAL_PER_SECOND`] each, burst
//!   [`GLOBAL_BURST`]): a key whose own bucket is full (quiet until now: a new scraper, a
//!   restarted Prometheus) draws on the *fresh* one, a key that has been checking (a flood)
//!   on the *busy* one. A key over its own budget is refused (429) without touching the
//!   process's, and floods cannot reach the fresh bucket: a fresh scraper with the right
//!   password gets in during a flood, from any address. Even many addresses flooding
//!   together cost bcrypt at most 2 × [`GLOBAL_PER_SECOND`] × 60 ms of one core a second, and
//!   cached credentials keep working. A flood and a scraper of the same user from the same
//!   address share that key's bucket: they cannot be told apart before the hash is checked.
//! * The refusal paths (missing, remembered wrong, throttled) cost one base64 decode and
//!   one SHA-256 of a few bytes: no more than a `404`.
//! * An unknown user is checked against a decoy hash of the same cost as the configured
//!   ones, so it takes as long as a known user with a wrong password (no user enumeration).
//! * The scheme is matched without regard to case (`basic` is `Basic`, RFC 9110 §11.1).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::client_errors::{ClientError, HttpStats};

/// bcrypt checks run at the same time.
pub const BCRYPT_PARALLELISM: usize = 1;
/// Uncached checks per second of one (client address, user), on average.
pub const PER_CLIENT_PER_SECOND: f64 = 1.0;
/// Uncached checks of one (client address, user) in a burst.
pub const PER_CLIENT_BURST: f64 = 3.0;
/// Uncached checks per second of the whole process, on average, in each of its two
/// buckets: one for keys with a full bucket of their own (quiet until now: a new scraper),
/// one for the rest (keys that have been checking: a flood).
pub const GLOBAL_PER_SECOND: f64 = 2.0;
/// Uncached checks of each of the process's buckets in a burst.
pub const GLOBAL_BURST: f64 = 4.0;
/// Checks remembered, good and bad (each set is cleared when full).
pub const CACHE_ENTRIES: usize = 1024;
/// (client address, user) buckets kept (full ones are dropped first when over).
pub const MAX_BUCKETS: usize = 4096;

/// The result of checking a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication configured, or good credentials.
    Allowed,
    /// Missing or wrong credentials: 401.
    Denied,
    /// Too many uncached checks right now: 429, try again shortly.
    Throttled,
}

/// A token bucket for uncached checks.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64) -> Self {
        Bucket {
            tokens: burst,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, rate: f64, burst: f64) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(burst);
        self.at = now;
    }
}

/// The buckets.
#[derive(Debug)]
struct Budgets {
    /// For keys quiet until now.
    fresh: Bucket,
    /// For keys that have been checking.
    busy: Bucket,
    clients: HashMap<(Option<IpAddr>, String), Bucket>,
}

/// The configured users and the machinery to check them.
#[derive(Debug)]
pub struct Auth {
    users: BTreeMap<String, String>,
    decoy: String,
    good: Mutex<HashSet<[u8; 32]>>,
    bad: Mutex<HashSet<[u8; 32]>>,
    budgets: Mutex<Budgets>,
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

/// `Basic dXNlcjpwYXNz` (the scheme in any case) → (user, password).
fn credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn remember(set: &Mutex<HashSet<[u8; 32]>>, key: [u8; 32]) {
    let mut set = set.lock().unwrap_or_else(PoisonError::into_inner);
    if set.len() >= CACHE_ENTRIES {
        set.clear();
    }
    set.insert(key);
}

fn holds(set: &Mutex<HashSet<[u8; 32]>>, key: &[u8; 32]) -> bool {
    set.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(key)
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
            good: Mutex::new(HashSet::new()),
            bad: Mutex::new(HashSet::new()),
            budgets: Mutex::new(Budgets {
                fresh: Bucket::full(GLOBAL_BURST),
                busy: Bucket::full(GLOBAL_BURST),
                clients: HashMap::new(),
            }),
            pool: Arc::new(Semaphore::new(BCRYPT_PARALLELISM)),
        }
    }

    /// True if no users are configured (every request is allowed).
    pub fn is_open(&self) -> bool {
        self.users.is_empty()
    }

    /// Takes a token from the key's bucket and then the global one; false (and nothing
    /// taken) if either is empty.
    fn take_token(&self, peer: Option<IpAddr>, user: &str) -> bool {
        let mut b = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (
            peer,
            if self.users.contains_key(user) {
                user.to_owned()
            } else {
                String::new()
            },
        );
        if !b.clients.contains_key(&key) && b.clients.len() >= MAX_BUCKETS {
            // Drop the buckets that have refilled (they hold no memory of anything).
            b.clients.retain(|_, c| {
                c.refill(PER_CLIENT_PER_SECOND, PER_CLIENT_BURST);
                c.tokens < PER_CLIENT_BURST
            });
            if b.clients.len() >= MAX_BUCKETS {
                b.clients.clear();
            }
        }
        let Budgets {
            fresh,
            busy,
            clients,
        } = &mut *b;
        let client = clients
            .entry(key)
            .or_insert_with(|| Bucket::full(PER_CLIENT_BURST));
        client.refill(PER_CLIENT_PER_SECOND, PER_CLIENT_BURST);
        // A key quiet until now draws on a bucket floods cannot reach.
        let global = if client.tokens >= PER_CLIENT_BURST {
            fresh
        } else {
            busy
        };
        global.refill(GLOBAL_PER_SECOND, GLOBAL_BURST);
        if client.tokens >= 1.0 && global.tokens >= 1.0 {
            client.tokens -= 1.0;
            global.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks the `Authorization` header's value, sent from `peer`.
    pub async fn check(&self, authorization: Option<&str>, peer: Option<IpAddr>) -> Access {
        if self.is_open() {
            return Access::Allowed;
        }
        let Some((user, password)) = authorization.and_then(credentials) else {
            return Access::Denied;
        };
        let known = self.users.get(&user);
        let hash = known.unwrap_or(&self.decoy).clone();
        let key = digest(&user, &password, &hash);
        if known.is_some() && holds(&self.good, &key) {
            return Access::Allowed;
        }
        if holds(&self.bad, &key) {
            return Access::Denied;
        }
        if !self.take_token(peer, &user) {
            return Access::Throttled;
        }
        let Ok(_permit) = self.pool.clone().acquire_owned().await else {
            return Access::Denied;
        };
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if matched && known.is_some() {
            remember(&self.good, key);
            Access::Allowed
        } else {
            remember(&self.bad, key);
            Access::Denied
        }
    }
}

/// How long a throttled client is asked to wait (`Retry-After`).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A plain-text answer.
pub fn plain(status: StatusCode, body: &'static str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from_static(body.as_bytes()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The answer to a request `auth` does not let through (counted in `stats`), or `None`
/// when it may go on: the web config's basic auth, for every listener.
pub async fn gate(
    auth: &Auth,
    stats: &HttpStats,
    authorization: Option<&str>,
    peer: Option<std::net::IpAddr>,
) -> Option<Response<Bytes>> {
    match auth.check(authorization, peer).await {
        Access::Allowed => None,
        Access::Denied => {
            stats.count(ClientError::Unauthorized);
            let mut r = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"locust-exporter\""),
            );
            Some(r)
        }
        Access::Throttled => {
            stats.count(ClientError::AuthThrottled);
            let mut r = plain(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many password checks; try again shortly\n",
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_AFTER.as_secs()),
            );
            Some(r)
        }
    }
}

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
            a.check(Some(&header("alice", "secret")), None).await,
            Access::Allowed
        );
        assert_eq!(
            a.check(Some(&header("alice", "wrong")), None).await,
            Access::Denied
        );
        assert_eq!(
            a.check(Some(&header("bob", "secret")), None).await,
            Access::Denied
        );
        assert_eq!(a.check(None, None).await, Access::Denied);
        assert_eq!(a.check(Some("Bearer x"), None).await, Access::Denied);
        let open = Auth::new(BTreeMap::new());
        assert_eq!(open.check(None, None).await, Access::Allowed);
    }

    #[tokio::test]
    async fn successes_are_cached_and_floods_are_throttled() {
        let a = auth();
        assert_eq!(
            a.check(Some(&header("alice", "secret")), None).await,
            Access::Allowed
        );
        // Use up the budget with wrong passwords: further uncached checks are throttled...
        let mut throttled = 0;
        for i in 0..(PER_CLIENT_BURST as usize + 5) {
            let guess = header("alice", &format!("guess{i}"));
            if a.check(Some(&guess), None).await == Access::Throttled {
                throttled += 1;
            }
        }
        assert!(throttled >= 4, "{throttled}");
        // ...but the cached honest credentials still pass, with no bcrypt.
        assert_eq!(
            a.check(Some(&header("alice", "secret")), None).await,
            Access::Allowed
        );
        // A cache entry belongs to one stored hash: another file's hash does not hit it.
        assert_ne!(
            digest("alice", "secret", "$2b$04$a"),
            digest("alice", "secret", "$2b$04$b")
        );
    }

    #[tokio::test]
    async fn a_flood_leaves_room_for_other_clients_and_a_wrong_password_is_remembered() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let a = Auth::new(BTreeMap::from([
            ("alice".to_owned(), hash.clone()),
            ("bob".to_owned(), hash),
        ]));
        let attacker: Option<IpAddr> = Some("10.0.0.66".parse().unwrap());
        let prometheus: Option<IpAddr> = Some("10.0.0.9".parse().unwrap());
        let mut verdicts = Vec::new();
        for i in 0..50 {
            let guess = header("alice", &format!("guess{i}"));
            verdicts.push(a.check(Some(&guess), attacker).await);
        }
        let denied = verdicts.iter().filter(|v| **v == Access::Denied).count();
        assert_eq!(denied, PER_CLIENT_BURST as usize, "{verdicts:?}");
        // The attacker's own bucket is empty; the global one is not.
        assert_eq!(
            a.check(Some(&header("alice", "secret")), prometheus).await,
            Access::Allowed
        );
        assert_eq!(
            a.check(Some(&header("bob", "secret")), attacker).await,
            Access::Allowed,
            "another user from the same address has a bucket of its own"
        );
        // A wrong password seen before is refused without a token.
        assert_eq!(
            a.check(Some(&header("alice", "guess0")), attacker).await,
            Access::Denied
        );
        // The scheme in lower case.
        let lower = header("bob", "secret").replacen("Basic", "basic", 1);
        assert_eq!(a.check(Some(&lower), prometheus).await, Access::Allowed);
    }

    #[test]
    fn the_decoy_has_the_users_cost() {
        let a = auth();
        let parts: bcrypt::HashParts = a.decoy.parse().unwrap();
        assert_eq!(parts.get_cost(), 4);
    }
}
