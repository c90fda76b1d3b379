//! Prometheus native histograms: exponential buckets that aggregate exactly across any number
//! of exporters (Prometheus adds them bucket by bucket), with a bounded relative error.
//!
//! ## Schema 6 (chosen on purpose)
//! Bucket `i` holds values in `(base^(i-1), base^i]` seconds, `base = 2^(2^-schema)`. With
//! schema 6, `base = 2^(1/64) ≈ 1.01089`: every bucket is at most 1.09 % wide, so a quantile
//! `histogram_quantile` interpolates inside one bucket is within 1.09 % of the true value,
//! whatever the distribution — inside the 2 % `docs/performance.md` promises. Schema 5 (2.19 %) would
//! not guarantee it; schema 7 (0.54 %) doubles the buckets (series size and memory) for
//! precision nobody asked for. Values at or below [`ZERO_THRESHOLD`] (about 1 µs) count in
//! the zero bucket: Locust reports 0 ms for some failures, and no timing below a microsecond
//! is meaningful.
//!
//! ## Storage
//! Counts live in one dense run from the lowest to the highest bucket seen (response times
//! of one endpoint are contiguous), as `u32` until a bucket would pass `u32::MAX`, then as
//! `u64`: exact to the last request, 4 bytes a bucket in practice. An endpoint whose times
//! span 1 ms … 10 s uses about 850 buckets (3.4 KiB); the widest possible span (1 µs to the
//! 24 h cap on response times) 2,300 buckets (9 KiB).
//!
//! The bucket index is computed as client_golang computes it (`frexp` of the value, then a
//! binary search of the fraction among the schema's `2^schema` boundaries), so a value on
//! a boundary lands in the same bucket as in the Go library and in the plugin.

use std::sync::OnceLock;

/// The schema served (see the module docs).
pub const SCHEMA: i32 = 6;
/// The finest schema accepted from a producer (the plugin aggregates at 7); Prometheus
/// defines schemas up to 8.
pub const MAX_SCHEMA: i32 = 8;
/// Values at or below this many seconds count in the zero bucket (2^-20 s ≈ 0.95 µs).
pub const ZERO_THRESHOLD: f64 = 1.0 / 1_048_576.0;

/// The boundaries of one power of two for each schema 1..=8: `2^(j/2^s - 1)` for
/// `j in 0..2^s`, all in `[0.5, 1)`.
fn fraction_bounds(schema: i32) -> &'static [f64] {
    static BOUNDS: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    let all = BOUNDS.get_or_init(|| {
        (0..=MAX_SCHEMA)
            .map(|s| {
                let n = 1u32 << s;
                (0..n)
                    .map(|j| (f64::from(j) / f64::from(n) - 1.0).exp2())
                    .collect()
            })
            .collect()
    });
    all.get(schema.clamp(0, MAX_SCHEMA) as usize)
        .map_or(&[], Vec::as_slice)
}

/// `(fraction in [0.5, 1), exponent)` with `v = fraction × 2^exponent`, for a finite `v > 0`
/// (C's `frexp`).
fn frexp(v: f64) -> (f64, i32) {
    let bits = v.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    if exp_bits == 0 {
        // Subnormal: scale into the normal range first (never reached above the zero
        // threshold, kept for completeness).
        let (f, e) = frexp(v * 2f64.powi(64));
        return (f, e - 64);
    }
    let fraction = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (fraction, exp_bits - 1022)
}

/// The lowest schema Prometheus defines (a bucket spans a factor of 2^16).
pub const MIN_SCHEMA: i32 = -4;

/// The bucket index of `v` (seconds, `> 0`, finite) at `schema` (-4..=8).
pub fn bucket_index(v: f64, schema: i32) -> i32 {
    let (fraction, exp) = frexp(v);
    if schema <= 0 {
        // Boundaries are the powers of two: (2^(i-1), 2^i], merged 2^-schema at a time
        // (client_golang's rounding).
        let key = if fraction == 0.5 { exp - 1 } else { exp };
        let shift = (-schema).clamp(0, -MIN_SCHEMA);
        return (key + (1 << shift) - 1) >> shift;
    }
    let bounds = fraction_bounds(schema);
    let i = bounds.partition_point(|&b| b < fraction) as i32;
    i + (exp - 1) * bounds.len() as i32
}

/// The bucket index of `v` at [`SCHEMA`] (seconds, `> 0`, finite): the same answer as
/// [`bucket_index`], without its binary search (this runs for every timed request). The top
/// 10 mantissa bits of `v` pick a slice of its power of two too thin to hold two bucket
/// boundaries, a table gives the first boundary at or above the slice's start, and one
/// comparison with it settles the bucket.
pub fn bucket_index_fast(v: f64) -> i32 {
    struct Table {
        /// `2 × fraction_bounds(SCHEMA)`, plus 2.0: the boundaries within [1, 2].
        bounds: [f64; (1 << SCHEMA) + 1],
        /// Per slice of [1, 2): the index of the first boundary ≥ the slice's start.
        first: [u8; 1 << SLICE_BITS],
    }
    const SLICE_BITS: u32 = 10;
    static TABLE: OnceLock<Table> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut bounds = [2.0; (1 << SCHEMA) + 1];
        for (b, f) in bounds.iter_mut().zip(fraction_bounds(SCHEMA)) {
            *b = 2.0 * f;
        }
        let mut first = [0u8; 1 << SLICE_BITS];
        for (slice, j) in first.iter_mut().enumerate() {
            let start = 1.0 + slice as f64 / f64::from(1u32 << SLICE_BITS);
            *j = bounds.partition_point(|&b| b < start) as u8;
        }
        Table { bounds, first }
    });
    let bits = v.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    if exp_bits == 0 {
        return bucket_index(v, SCHEMA); // subnormal: below any zero threshold
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1023u64 << 52)); // in [1, 2)
    let slice = ((bits >> (52 - SLICE_BITS)) & ((1 << SLICE_BITS) - 1)) as usize;
    let j = usize::from(t.first[slice]);
    let k = j as i32 + i32::from(m > t.bounds[j]);
    (exp_bits - 1023) * (1 << SCHEMA) + k
}

/// The upper bound (inclusive) of bucket `index` at `schema`, seconds.
pub fn upper_bound(index: i32, schema: i32) -> f64 {
    (f64::from(index) * (-f64::from(schema.clamp(MIN_SCHEMA, MAX_SCHEMA))).exp2()).exp2()
}

/// The index at `to` (≤ `from`) of the bucket that holds bucket `index` of schema `from`:
/// each step down merges two neighbours exactly (as Prometheus merges schemas).
pub fn downscale(index: i32, from: i32, to: i32) -> i32 {
    let shift = (from - to).clamp(0, 31);
    ((index - 1) >> shift) + 1
}

/// Spare buckets allocated when the range of times grows (a quarter of a power of two).
const SLACK: usize = 16;

/// Bucket counts: a byte each until one would pass 255 (most buckets of a wide range of
/// times hold few requests: 850 buckets from 1 ms to 10 s take 850 bytes), then `u32`, then
/// `u64`.
#[derive(Debug, Clone, PartialEq)]
enum Counts {
    Tiny(Vec<u8>),
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Counts {
    fn len(&self) -> usize {
        match self {
            Counts::Tiny(v) => v.len(),
            Counts::Narrow(v) => v.len(),
            Counts::Wide(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> u64 {
        match self {
            Counts::Tiny(v) => v.get(i).map_or(0, |&c| u64::from(c)),
            Counts::Narrow(v) => v.get(i).map_or(0, |&c| u64::from(c)),
            Counts::Wide(v) => v.get(i).copied().unwrap_or(0),
        }
    }

    /// Makes room for `front` more buckets before the first and `back` after the last,
    /// leaving [`SLACK`] buckets of spare capacity at the back (not doubling: memory stays
    /// close to the range of times seen, and a tail that creeps up reallocates rarely).
    /// Growing the front copies the run (a few hundred `u32`s, rare: the fastest answers
    /// come early).
    fn grow(&mut self, front: usize, back: usize) {
        fn grow<T: Copy + Default>(v: &mut Vec<T>, front: usize, back: usize) {
            if front > 0 {
                let mut wider = Vec::with_capacity(v.len() + front + SLACK);
                wider.resize(front, T::default());
                wider.extend_from_slice(v);
                *v = wider;
            }
            if back > 0 {
                if v.capacity() < v.len() + back {
                    v.reserve_exact(back + SLACK);
                }
                v.resize(v.len() + back, T::default());
            }
        }
        match self {
            Counts::Tiny(v) => grow(v, front, back),
            Counts::Narrow(v) => grow(v, front, back),
            Counts::Wide(v) => grow(v, front, back),
        }
    }

    /// Adds `n` to slot `i` when it is in the run and the sum fits the counts' width.
    fn try_add(&mut self, i: usize, n: u64) -> bool {
        fn add<T: Copy + Into<u64> + TryFrom<u64>>(v: &mut [T], i: usize, n: u64) -> bool {
            let Some(c) = v.get_mut(i) else { return false };
            match T::try_from((*c).into().saturating_add(n)) {
                Ok(sum) => {
                    *c = sum;
                    true
                }
                Err(_) => false,
            }
        }
        match self {
            Counts::Tiny(v) => add(v, i, n),
            Counts::Narrow(v) => add(v, i, n),
            Counts::Wide(v) => add(v, i, n),
        }
    }

    /// Adds `n` to slot `i` (in the run), widening the counts when the sum needs it.
    fn add(&mut self, i: usize, n: u64) {
        if i >= self.len() {
            return;
        }
        while !self.try_add(i, n) {
            *self = match self {
                Counts::Tiny(v) => Counts::Narrow(v.iter().map(|&c| u32::from(c)).collect()),
                Counts::Narrow(v) => Counts::Wide(v.iter().map(|&c| u64::from(c)).collect()),
                // u64 sums saturate: always added.
                Counts::Wide(_) => return,
            };
        }
    }
}

/// A native histogram at [`SCHEMA`], or at a coarser schema when a producer's buckets are
/// coarser (an OTLP exponential histogram at scale 3 stays at schema 3: merged exactly,
/// never split); positive values only: response times.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeHistogram {
    /// The schema of `counts` (≤ [`SCHEMA`]).
    schema: i32,
    zero_count: u64,
    /// Index of `counts[0]`.
    offset: i32,
    counts: Counts,
}

impl Default for NativeHistogram {
    fn default() -> Self {
        NativeHistogram {
            schema: SCHEMA,
            zero_count: 0,
            offset: 0,
            counts: Counts::Tiny(Vec::new()),
        }
    }
}

/// A native histogram as a dense run of counts (zeros included) from bucket `offset`: how
/// an OTLP exponential point arrives, and what its conversion works on.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseBuckets {
    /// The schema: [`SCHEMA`], or a producer's coarser one.
    pub schema: i32,
    /// Observations at or below [`ZERO_THRESHOLD`].
    pub zero_count: u64,
    /// Index of `counts[0]` at `schema`.
    pub offset: i32,
    /// Per-bucket (not cumulative) counts.
    pub counts: Vec<u64>,
}

impl Default for DenseBuckets {
    fn default() -> Self {
        DenseBuckets {
            schema: SCHEMA,
            zero_count: 0,
            offset: 0,
            counts: Vec::new(),
        }
    }
}

/// What a snapshot serves of a native histogram: the zero bucket and the occupied buckets
/// only (a run of 40 requests over 1 ms … 10 s occupies 40 buckets of the 850 between: 640
/// bytes, not 6.8 KB dense).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeBuckets {
    /// The schema: [`SCHEMA`], or a producer's coarser one.
    pub schema: i32,
    /// Observations at or below [`ZERO_THRESHOLD`].
    pub zero_count: u64,
    /// Occupied buckets `(index, count)`, ascending.
    pub buckets: Vec<(i32, u64)>,
}

impl Default for NativeBuckets {
    fn default() -> Self {
        NativeBuckets {
            schema: SCHEMA,
            zero_count: 0,
            buckets: Vec::new(),
        }
    }
}

impl NativeBuckets {
    /// Observations in the buckets, the zero bucket's included.
    pub fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(self.zero_count, |acc, &(_, n)| acc.saturating_add(n))
    }

    /// Spans `(offset, length)` and count deltas, as the protobuf format carries them: a
    /// run of more than two empty buckets starts a new span, shorter runs are cheaper as
    /// zero deltas (client_golang's rule).
    pub fn spans_and_deltas(&self) -> (Vec<(i32, u32)>, Vec<i64>) {
        let mut spans: Vec<(i32, u32)> = Vec::new();
        let mut deltas = Vec::with_capacity(self.buckets.len());
        let (mut prev_count, mut next_index) = (0i64, 0i32);
        for &(index, n) in &self.buckets {
            if n == 0 {
                continue;
            }
            let gap = index - next_index;
            match spans.last_mut() {
                Some(last) if gap <= 2 => {
                    for _ in 0..gap {
                        deltas.push(-prev_count);
                        prev_count = 0;
                    }
                    last.1 += gap as u32 + 1;
                }
                Some(_) => spans.push((gap, 1)),
                None => spans.push((index, 1)),
            }
            let count = i64::try_from(n).unwrap_or(i64::MAX);
            deltas.push(count - prev_count);
            prev_count = count;
            next_index = index + 1;
        }
        (spans, deltas)
    }
}

impl NativeHistogram {
    /// An empty histogram at `schema` (clamped to -4 ..= [`SCHEMA`]): whatever is added at a
    /// finer schema is merged down into its buckets.
    pub fn at_schema(schema: i32) -> Self {
        NativeHistogram {
            schema: schema.clamp(MIN_SCHEMA, SCHEMA),
            ..NativeHistogram::default()
        }
    }

    /// Counts one observation of `seconds` (finite, ≥ 0).
    pub fn observe(&mut self, seconds: f64) {
        if seconds <= ZERO_THRESHOLD {
            self.zero_count = self.zero_count.saturating_add(1);
            return;
        }
        let index = if self.schema == SCHEMA {
            bucket_index_fast(seconds)
        } else {
            bucket_index(seconds, self.schema)
        };
        // The common case: a bucket inside the run, far from overflowing.
        let slot = usize::try_from(i64::from(index) - i64::from(self.offset)).ok();
        if slot.is_some_and(|s| self.counts.try_add(s, 1)) {
            return;
        }
        self.add(index, 1);
    }

    /// Counts `n` observations of `seconds` (finite, ≥ 0).
    pub fn add_seconds(&mut self, seconds: f64, n: u64) {
        if n == 0 {
            return;
        }
        if seconds <= ZERO_THRESHOLD {
            self.zero_count = self.zero_count.saturating_add(n);
            return;
        }
        let index = if self.schema == SCHEMA {
            bucket_index_fast(seconds)
        } else {
            bucket_index(seconds, self.schema)
        };
        self.add(index, n);
    }

    /// Counts `n` observations in the zero bucket.
    pub fn add_zero(&mut self, n: u64) {
        self.zero_count = self.zero_count.saturating_add(n);
    }

    /// Adds `n` to bucket `index` of `schema` (-4..=8), merged into this histogram's bucket
    /// exactly: a finer schema is downscaled to this one; a coarser one first downscales
    /// this histogram to it (Prometheus' rule when it adds histograms of two schemas).
    pub fn add_at(&mut self, index: i32, schema: i32, n: u64) {
        if schema < self.schema {
            self.reduce_to(schema);
        }
        self.add(downscale(index, schema, self.schema), n);
    }

    /// The schema of the buckets.
    pub fn schema(&self) -> i32 {
        self.schema
    }

    /// Merges neighbouring buckets down to `schema` (< the current one).
    fn reduce_to(&mut self, schema: i32) {
        let old = std::mem::replace(
            self,
            NativeHistogram {
                schema,
                zero_count: self.zero_count,
                ..NativeHistogram::default()
            },
        );
        for i in 0..old.counts.len() {
            let n = old.counts.get(i);
            if n > 0 {
                let index = old.offset.saturating_add(i as i32);
                self.add(downscale(index, old.schema, schema), n);
            }
        }
    }

    fn add(&mut self, index: i32, n: u64) {
        let len = self.counts.len() as i64;
        let (index64, offset) = (i64::from(index), i64::from(self.offset));
        if len == 0 {
            self.offset = index;
            self.counts.grow(0, 1);
        } else if index64 < offset {
            self.counts.grow((offset - index64) as usize, 0);
            self.offset = index;
        } else if index64 >= offset + len {
            self.counts.grow(0, (index64 - offset - len + 1) as usize);
        }
        let slot = (i64::from(index) - i64::from(self.offset)) as usize;
        self.counts.add(slot, n);
    }

    /// For each of `ranks` (1-based, ascending), the bucket holding the observation of that
    /// rank: `None` for the zero bucket, else `Some((index, schema))`; a rank past the
    /// observations gives the highest bucket.
    pub fn slots_at_ranks(&self, ranks: &[u64]) -> Vec<Option<(i32, i32)>> {
        let mut out = Vec::with_capacity(ranks.len());
        let mut seen = self.zero_count;
        let mut i = 0usize;
        let len = self.counts.len();
        for &rank in ranks {
            if rank <= self.zero_count {
                out.push(None);
                continue;
            }
            while i < len && seen.saturating_add(self.counts.get(i)) < rank {
                seen = seen.saturating_add(self.counts.get(i));
                i += 1;
            }
            let slot = i.min(len.saturating_sub(1));
            let index = self.offset.saturating_add(slot as i32);
            out.push((len > 0).then_some((index, self.schema)));
        }
        out
    }

    /// Observations counted (the endpoint keeps its own total; tests check the buckets').
    #[cfg(test)]
    fn count(&self) -> u64 {
        (0..self.counts.len()).fold(self.zero_count, |acc, i| {
            acc.saturating_add(self.counts.get(i))
        })
    }

    /// The occupied buckets, for a snapshot.
    pub fn buckets(&self) -> NativeBuckets {
        NativeBuckets {
            schema: self.schema,
            zero_count: self.zero_count,
            buckets: self.occupied().collect(),
        }
    }

    /// Observations at or below the zero threshold.
    pub fn zero_count(&self) -> u64 {
        self.zero_count
    }

    /// The occupied buckets `(index, count)`, ascending, at [`NativeHistogram::schema`].
    pub fn occupied(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        (0..self.counts.len())
            .map(|i| (self.offset.saturating_add(i as i32), self.counts.get(i)))
            .filter(|&(_, n)| n > 0)
    }

    /// Heap bytes held.
    pub fn footprint_bytes(&self) -> usize {
        match &self.counts {
            Counts::Tiny(v) => v.capacity(),
            Counts::Narrow(v) => v.capacity() * 4,
            Counts::Wide(v) => v.capacity() * 8,
        }
    }
}

impl DenseBuckets {
    /// Observations in the buckets, the zero bucket's included.
    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .fold(self.zero_count, |acc, &n| acc.saturating_add(n))
    }

    /// The same buckets at `schema` (≤ their own), merged exactly.
    pub fn reduced_to(&self, schema: i32) -> DenseBuckets {
        if schema >= self.schema {
            return self.clone();
        }
        let mut h = NativeHistogram {
            schema,
            zero_count: self.zero_count,
            ..NativeHistogram::default()
        };
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                let index = self.offset.saturating_add(i as i32);
                h.add(downscale(index, self.schema, schema), n);
            }
        }
        DenseBuckets {
            schema: h.schema,
            zero_count: h.zero_count,
            offset: h.offset,
            counts: (0..h.counts.len()).map(|i| h.counts.get(i)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_bounds_hold_the_value() {
        for schema in MIN_SCHEMA..=MAX_SCHEMA {
            let mut v = 1e-6;
            while v < 1e5 {
                let i = bucket_index(v, schema);
                let (lo, hi) = (upper_bound(i - 1, schema), upper_bound(i, schema));
                // Within float rounding of the bounds.
                assert!(
                    lo < v * (1.0 + 1e-12) && v <= hi * (1.0 + 1e-12),
                    "schema {schema}: {v} in bucket {i} = ({lo}, {hi}]"
                );
                v *= 1.0137;
            }
        }
    }

    #[test]
    fn the_fast_index_is_the_binary_search() {
        let mut v = 1e-7;
        while v < 1e6 {
            assert_eq!(bucket_index_fast(v), bucket_index(v, SCHEMA), "{v}");
            v *= 1.000_37;
        }
        // On and next to every boundary of a few powers of two.
        for e in [-20, -7, -1, 0, 1, 9, 16] {
            for j in 0..=64 {
                let b = upper_bound(e * 64 + j, SCHEMA);
                for x in [
                    b,
                    f64::from_bits(b.to_bits() - 1),
                    f64::from_bits(b.to_bits() + 1),
                ] {
                    assert_eq!(bucket_index_fast(x), bucket_index(x, SCHEMA), "{x}");
                }
            }
        }
    }

    #[test]
    fn boundaries_are_upper_inclusive_like_client_golang() {
        assert_eq!(bucket_index(1.0, SCHEMA), 0);
        assert_eq!(bucket_index(1.0000001, SCHEMA), 1);
        assert_eq!(bucket_index(0.5, SCHEMA), -64);
        assert_eq!(bucket_index(2.0, SCHEMA), 64);
        assert_eq!(bucket_index(0.999, 0), 0);
        assert_eq!(bucket_index(1.0, 0), 0);
        assert_eq!(bucket_index(1.5, 0), 1);
        assert_eq!(bucket_index(4.0, 0), 2);
        // 2^(1/64), the first boundary above 1, belongs to bucket 1.
        assert_eq!(bucket_index(upper_bound(1, SCHEMA), SCHEMA), 1);
    }

    #[test]
    fn relative_width_of_schema_six_is_under_1_1_percent() {
        let width = upper_bound(1, SCHEMA) / upper_bound(0, SCHEMA) - 1.0;
        assert!(width < 0.011 && width > 0.0108, "{width}");
    }

    #[test]
    fn downscaling_merges_exactly() {
        // Every value's schema-7 bucket downscales to its schema-6 bucket.
        let mut v = 1e-5;
        while v < 1e4 {
            assert_eq!(
                downscale(bucket_index(v, 7), 7, 6),
                bucket_index(v, 6),
                "{v}"
            );
            assert_eq!(
                downscale(bucket_index(v, 8), 8, 6),
                bucket_index(v, 6),
                "{v}"
            );
            v *= 1.003;
        }
    }

    #[test]
    fn observe_counts_and_grows_both_ways() {
        let mut h = NativeHistogram::default();
        h.observe(0.0);
        h.observe(0.010);
        h.observe(0.010);
        h.observe(0.002);
        h.observe(2.0);
        assert_eq!(h.count(), 5);
        let b = h.buckets();
        assert_eq!(b.zero_count, 1);
        assert_eq!(
            b.buckets,
            vec![
                (bucket_index(0.002, SCHEMA), 1),
                (bucket_index(0.01, SCHEMA), 2),
                (bucket_index(2.0, SCHEMA), 1)
            ]
        );
        assert_eq!(b.count(), 5);
    }

    #[test]
    fn byte_counts_widen_to_u32_then_u64() {
        let mut h = NativeHistogram::default();
        for _ in 0..300 {
            h.observe(0.010);
        }
        h.observe(0.020);
        assert_eq!(h.count(), 301);
        let i = bucket_index(0.010, SCHEMA);
        assert_eq!(
            h.buckets().buckets,
            vec![(i, 300), (bucket_index(0.020, SCHEMA), 1)]
        );
        h.add(i, u64::from(u32::MAX));
        assert_eq!(h.buckets().buckets[0], (i, u64::from(u32::MAX) + 300));
    }

    #[test]
    fn narrow_counts_widen_instead_of_overflowing() {
        let mut h = NativeHistogram::default();
        h.add(3, u64::from(u32::MAX) - 1);
        h.add(4, 1);
        h.add(3, 5);
        assert_eq!(
            h.buckets().buckets,
            vec![(3, u64::from(u32::MAX) + 4), (4, 1)]
        );
    }

    #[test]
    fn spans_and_deltas_like_client_golang() {
        let b = NativeBuckets {
            schema: SCHEMA,
            zero_count: 0,
            buckets: vec![(-3, 2), (-1, 1), (3, 4), (4, 4)],
        };
        let (spans, deltas) = b.spans_and_deltas();
        // Buckets -3 (2), -1 (1): one gap of one, kept in the span; then 3 (4), 4 (4)
        // after a gap of three: a new span.
        assert_eq!(spans, vec![(-3, 3), (3, 2)]);
        assert_eq!(deltas, vec![2, -2, 1, 3, 0]);
        let empty = NativeBuckets::default();
        assert_eq!(empty.spans_and_deltas(), (vec![], vec![]));
    }
}
