//! Exemplars: one traced request of a bucket, so a slow bucket links to the trace of one
//! of its requests (`docs/exemplars.md`).
//!
//! ## Which requests are kept
//! As the native-histogram spec asks: spread over the buckets with a bias to the tail.
//! An endpoint keeps at most one exemplar per `--buckets` slot (14 bounds and `+Inf` by
//! default): the slowest traced request of that bucket in the last
//! [`EXEMPLAR_INTERVAL_SECS`], with its own time and value. A later request replaces the
//! kept one when it is at least as slow, or when the kept one is older than the interval
//! (so an exemplar stays fresh while its bucket gets traffic, and the tail is what is shown).
//! The classic buckets served take, each, the slowest kept exemplar within them (a producer's
//! own bounds included); a native histogram takes the [`MAX_NATIVE_EXEMPLARS`] slowest.
//!
//! ## Memory
//! Nothing until an endpoint's first traced request (one pointer); then 48 bytes a slot,
//! 720 bytes with the default buckets. A service's total keeps none (it is served as a
//! summary, which carries no exemplars).

/// A request's W3C trace context: the ids its `traceparent` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceRef {
    /// 16 bytes, not all zero.
    pub trace_id: [u8; 16],
    /// 8 bytes, not all zero.
    pub span_id: [u8; 8],
}

impl TraceRef {
    /// The ids, if both have their length and neither is all zeros (W3C: invalid).
    pub fn from_bytes(trace_id: &[u8], span_id: &[u8]) -> Option<TraceRef> {
        let trace_id: [u8; 16] = trace_id.try_into().ok()?;
        let span_id: [u8; 8] = span_id.try_into().ok()?;
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(TraceRef { trace_id, span_id })
    }

    /// From lower- or upper-case hex (32 and 16 digits); the reason when they are not.
    pub fn from_hex(trace_id: &str, span_id: &str) -> Result<TraceRef, String> {
        let t = decode_hex(trace_id)
            .filter(|b| b.len() == 16)
            .ok_or("`trace_id` is not 32 hex digits")?;
        let s = decode_hex(span_id)
            .filter(|b| b.len() == 8)
            .ok_or("`span_id` is not 16 hex digits")?;
        TraceRef::from_bytes(&t, &s)
            .ok_or_else(|| "`trace_id` or `span_id` is all zeros".to_owned())
    }

    /// The trace id as 32 lower-case hex digits (ASCII), written with no allocation.
    pub fn trace_digits(&self) -> [u8; 32] {
        digits(&self.trace_id)
    }

    /// The span id as 16 lower-case hex digits (ASCII).
    pub fn span_digits(&self) -> [u8; 16] {
        digits(&self.span_id)
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_hex(&self) -> String {
        self.trace_digits().iter().map(|&c| char::from(c)).collect()
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_hex(&self) -> String {
        self.span_digits().iter().map(|&c| char::from(c)).collect()
    }
}

/// Bytes from hex digits of either case (events' ids, OTLP/JSON's); `None` for an odd
/// number of digits or anything else.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// `N` lower-case hex digits of `b` (`N` = twice its length).
fn digits<const N: usize>(b: &[u8]) -> [u8; N] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; N];
    for (pair, &x) in out.chunks_mut(2).zip(b) {
        pair[0] = DIGITS[usize::from(x >> 4)];
        pair[1] = DIGITS[usize::from(x & 15)];
    }
    out
}

/// One traced request: its ids, its response time and when it was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The request's trace context.
    pub trace: TraceRef,
    /// Response time in seconds (the histogram's unit).
    pub seconds: f64,
    /// Unix seconds.
    pub time: f64,
}

/// How long an exemplar is kept against faster ones in its bucket: the slowest request of
/// each bucket over about this long is shown (a common scrape interval).
pub const EXEMPLAR_INTERVAL_SECS: f64 = 15.0;

/// At most this many exemplars on a native histogram (the slowest of those kept).
pub const MAX_NATIVE_EXEMPLARS: usize = 10;

/// One endpoint's exemplars, a slot per `--buckets` bucket.
#[derive(Debug, Clone, Default)]
pub struct Exemplars {
    slots: Box<[Option<Exemplar>]>,
}

impl Exemplars {
    /// Offers a traced request; `bounds` are the `--buckets` bounds in seconds, ascending.
    pub fn offer(&mut self, bounds: &[f64], e: Exemplar) {
        if !(e.seconds.is_finite() && e.seconds >= 0.0 && e.time.is_finite()) {
            return;
        }
        if self.slots.len() != bounds.len() + 1 {
            self.slots = vec![None; bounds.len() + 1].into_boxed_slice();
        }
        let slot = bounds.partition_point(|&le| le < e.seconds);
        if let Some(kept) = self.slots.get_mut(slot) {
            let replace = match kept {
                None => true,
                Some(k) => e.seconds >= k.seconds || e.time - k.time >= EXEMPLAR_INTERVAL_SECS,
            };
            if replace {
                *kept = Some(e);
            }
        }
    }

    /// The kept exemplars, by value ascending.
    pub fn sorted(&self) -> Vec<Exemplar> {
        let mut v: Vec<Exemplar> = self.slots.iter().flatten().copied().collect();
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        v
    }

    /// Bytes held on the heap.
    pub fn footprint_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Option<Exemplar>>()
    }
}

/// The exemplar a classic bucket `(below, le]` shows: the slowest of `sorted` within it.
pub fn in_bucket(sorted: &[Exemplar], below: f64, le: f64) -> Option<&Exemplar> {
    let end = sorted.partition_point(|e| e.seconds <= le);
    sorted[..end].last().filter(|e| e.seconds > below)
}

/// The exemplars a native histogram shows: the [`MAX_NATIVE_EXEMPLARS`] slowest, oldest
/// first (Prometheus stores a series' exemplars in time order and drops one older than
/// the newest it has).
pub fn for_native(sorted: &[Exemplar]) -> Vec<Exemplar> {
    let mut v = sorted[sorted.len().saturating_sub(MAX_NATIVE_EXEMPLARS)..].to_vec();
    v.sort_by(|a, b| a.time.total_cmp(&b.time));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(n: u8, seconds: f64, time: f64) -> Exemplar {
        Exemplar {
            trace: TraceRef {
                trace_id: [n; 16],
                span_id: [n; 8],
            },
            seconds,
            time,
        }
    }

    #[test]
    fn hex_ids_are_checked_and_round_trip() {
        let t = TraceRef::from_hex("0af7651916cd43dd8448eb211c80319c", "B7AD6B7169203331").unwrap();
        assert_eq!(t.trace_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.span_hex(), "b7ad6b7169203331");
        assert!(TraceRef::from_hex("0af7651916cd43dd8448eb211c80319", "b7ad6b7169203331").is_err());
        assert!(
            TraceRef::from_hex("0af7651916cd43dd8448eb211c80319g", "b7ad6b7169203331").is_err()
        );
        assert!(
            TraceRef::from_hex("00000000000000000000000000000000", "b7ad6b7169203331").is_err()
        );
        assert!(
            TraceRef::from_hex("0af7651916cd43dd8448eb211c80319c", "0000000000000000").is_err()
        );
        assert!(TraceRef::from_bytes(&[1; 16], &[1; 7]).is_none());
    }

    #[test]
    fn the_slowest_of_each_bucket_in_the_interval() {
        let bounds = [0.1, 1.0];
        let mut e = Exemplars::default();
        e.offer(&bounds, ex(1, 0.05, 100.0));
        e.offer(&bounds, ex(2, 0.02, 101.0)); // faster, fresh one kept
        e.offer(&bounds, ex(3, 0.5, 102.0));
        e.offer(&bounds, ex(4, 0.7, 103.0)); // slower: replaces
        e.offer(&bounds, ex(5, 3.0, 104.0)); // +Inf bucket
        let ids: Vec<u8> = e.sorted().iter().map(|x| x.trace.trace_id[0]).collect();
        assert_eq!(ids, vec![1, 4, 5]);
        // An old exemplar gives way to a faster, newer one.
        e.offer(&bounds, ex(6, 0.01, 100.0 + EXEMPLAR_INTERVAL_SECS));
        let s = e.sorted();
        assert_eq!(s[0].trace.trace_id[0], 6);
        assert_eq!(
            in_bucket(&s, 0.1, 1.0).map(|x| x.trace.trace_id[0]),
            Some(4)
        );
        assert_eq!(in_bucket(&s, 0.0, 0.005), None);
        assert_eq!(
            in_bucket(&s, 1.0, f64::INFINITY).map(|x| x.seconds),
            Some(3.0)
        );
        assert_eq!(for_native(&s).len(), 3);
        e.offer(&bounds, ex(7, f64::NAN, 1.0));
        assert_eq!(e.sorted().len(), 3);
    }
}
