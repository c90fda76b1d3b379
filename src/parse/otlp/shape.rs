//! A duration histogram point's buckets in model terms ([`Shape`]: native, explicit or
//! bare), read from an explicit or exponential OTLP point and checked; and a cumulative
//! stream's last point ([`Last`]) with the delta from it.

use super::proto;
use crate::model::native_histogram::{self, DenseBuckets, MAX_SCHEMA, MIN_SCHEMA, ZERO_THRESHOLD};

/// Most buckets one exponential or explicit data point may carry (the Python SDK's
/// default is 160).
pub const MAX_POINT_BUCKETS: usize = 4096;

/// A bucket whose lower bound lies past this many seconds is out of range (Locust's own cap
/// on response times is 24 h).
pub(super) const MAX_SECONDS: f64 = 86_400.0;

/// The previous point of a cumulative stream.
#[derive(Debug, Clone)]
pub(super) struct Last {
    pub(super) count: u64,
    pub(super) sum: f64,
    pub(super) shape: Shape,
    /// The point's own time (`time_unix_nano`).
    pub(super) time_ns: u64,
    /// When it came (the receiver's clock).
    pub(super) seen: f64,
}

impl Last {
    /// Bytes it and its `key` hold, about.
    pub(super) fn footprint(&self, key: &str) -> usize {
        let buckets = match &self.shape {
            Shape::Native(b) => b.counts.len() * 8,
            Shape::Explicit(bounds, counts) => (bounds.len() + counts.len()) * 8,
            Shape::Bare => 0,
        };
        key.len() + buckets + std::mem::size_of::<(String, Last)>()
    }
}

/// A histogram point's buckets, in model terms.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shape {
    /// Native buckets (Prometheus indices) at a schema of -4..=8.
    Native(DenseBuckets),
    /// Explicit upper bounds in seconds (ascending, finite) and one count more (`+Inf`).
    Explicit(Vec<f64>, Vec<u64>),
    /// A histogram with a count and a sum only.
    Bare,
}

impl Shape {
    /// True when `other` has the same kind of buckets (and, explicit, the same bounds): a
    /// point of one stream after another can be told apart from it.
    pub(super) fn same_kind(&self, other: &Shape) -> bool {
        match (self, other) {
            (Shape::Native(_), Shape::Native(_)) | (Shape::Bare, Shape::Bare) => true,
            (Shape::Explicit(a, _), Shape::Explicit(b, _)) => a == b,
            _ => false,
        }
    }

    /// The lowest and highest seconds its non-empty buckets allow.
    pub(super) fn range(&self) -> (f64, f64) {
        match self {
            Shape::Native(b) => {
                let first = b.counts.iter().position(|&n| n > 0);
                let last = b.counts.iter().rposition(|&n| n > 0);
                let lo = match (b.zero_count, first) {
                    (0, Some(i)) => {
                        native_histogram::upper_bound(b.offset + i as i32 - 1, b.schema)
                    }
                    _ => 0.0,
                };
                let hi = last.map_or(ZERO_THRESHOLD, |i| {
                    native_histogram::upper_bound(b.offset + i as i32, b.schema)
                });
                (lo, hi)
            }
            Shape::Explicit(bounds, counts) => {
                let first = counts.iter().position(|&n| n > 0).unwrap_or(0);
                let last = counts.iter().rposition(|&n| n > 0).unwrap_or(0);
                let lo = if first == 0 {
                    0.0
                } else {
                    bounds.get(first - 1).copied().unwrap_or(0.0)
                };
                let hi = bounds.get(last).or(bounds.last()).copied().unwrap_or(0.0);
                (lo, hi)
            }
            Shape::Bare => (0.0, 0.0),
        }
    }
}

/// An explicit-bucket point's buckets, bounds in seconds.
pub(super) fn explicit_shape(
    p: &proto::HistogramDataPoint,
    per_second: f64,
) -> Result<Shape, String> {
    if p.bucket_counts.is_empty() {
        return Ok(Shape::Bare);
    }
    if p.bucket_counts.len() > MAX_POINT_BUCKETS {
        return Err(format!(
            "{} buckets (at most {MAX_POINT_BUCKETS})",
            p.bucket_counts.len()
        ));
    }
    if p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} bounds (one more count than bounds)",
            p.bucket_counts.len(),
            p.explicit_bounds.len()
        ));
    }
    let bounds: Vec<f64> = p.explicit_bounds.iter().map(|b| b * per_second).collect();
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return Err(format!("a bound is {b}"));
    }
    if bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("its bounds do not increase".to_owned());
    }
    Ok(Shape::Explicit(bounds, p.bucket_counts.clone()))
}

/// An exponential point's buckets as native buckets (Prometheus index = OTLP index + 1),
/// at its scale or, above [`MAX_SCHEMA`], merged down to it; buckets within the native
/// zero threshold join the zero bucket.
pub(super) fn exponential_shape(
    p: &proto::ExponentialHistogramDataPoint,
    per_second: f64,
) -> Result<Shape, String> {
    if per_second != 1.0 {
        return Err("an exponential histogram must be in seconds".to_owned());
    }
    if !(MIN_SCHEMA..=20).contains(&p.scale) {
        return Err(format!(
            "scale {} is out of range ({MIN_SCHEMA}..=20)",
            p.scale
        ));
    }
    if !p.zero_threshold.is_finite() || p.zero_threshold < 0.0 {
        return Err(format!("zero threshold {}", p.zero_threshold));
    }
    if p.negative
        .as_ref()
        .is_some_and(|n| n.bucket_counts.iter().any(|&c| c > 0))
    {
        return Err("negative durations (its negative buckets are not empty)".to_owned());
    }
    let positive = p.positive.clone().unwrap_or_default();
    if positive.bucket_counts.len() > MAX_POINT_BUCKETS {
        return Err(format!(
            "{} buckets (at most {MAX_POINT_BUCKETS})",
            positive.bucket_counts.len()
        ));
    }
    let raw = DenseBuckets {
        schema: p.scale,
        zero_count: p.zero_count,
        offset: positive.offset.saturating_add(1),
        counts: positive.bucket_counts,
    };
    let mut b = raw.reduced_to(MAX_SCHEMA);
    // Fold buckets at or below the zero threshold; refuse those past 24 h.
    let mut first = 0;
    for (i, &n) in b.counts.iter().enumerate() {
        let index = b.offset.saturating_add(i as i32);
        if native_histogram::upper_bound(index, b.schema) <= ZERO_THRESHOLD {
            b.zero_count = b.zero_count.saturating_add(n);
            first = i + 1;
        } else if n > 0 && native_histogram::upper_bound(index - 1, b.schema) > MAX_SECONDS {
            return Err(format!("a bucket beyond {MAX_SECONDS} s"));
        }
    }
    if first > 0 {
        b.counts.drain(..first.min(b.counts.len()));
        b.offset = b.offset.saturating_add(first as i32);
    }
    Ok(Shape::Native(b))
}

/// The change since `last` of a cumulative stream, `None` when it started over (a count,
/// sum or bucket went down, or its bounds changed).
pub(super) fn delta(last: &Last, count: u64, sum: f64, shape: &Shape) -> Option<(u64, f64, Shape)> {
    let d_count = count.checked_sub(last.count)?;
    let d_sum = sum - last.sum;
    if d_sum < -1e-9 * sum.abs().max(1.0) {
        return None;
    }
    let d_shape = match (&last.shape, shape) {
        (Shape::Native(a), Shape::Native(b)) => {
            let schema = a.schema.min(b.schema);
            let (a, b) = (a.reduced_to(schema), b.reduced_to(schema));
            let zero = b.zero_count.checked_sub(a.zero_count)?;
            let offset = if a.counts.is_empty() {
                b.offset
            } else {
                a.offset.min(b.offset)
            };
            let end = (a.offset + a.counts.len() as i32).max(b.offset + b.counts.len() as i32);
            let at = |h: &DenseBuckets, i: i32| -> u64 {
                usize::try_from(i - h.offset)
                    .ok()
                    .and_then(|k| h.counts.get(k))
                    .copied()
                    .unwrap_or(0)
            };
            let mut counts = Vec::with_capacity(usize::try_from(end - offset).unwrap_or(0));
            for i in offset..end {
                counts.push(at(&b, i).checked_sub(at(&a, i))?);
            }
            Shape::Native(DenseBuckets {
                schema,
                zero_count: zero,
                offset,
                counts,
            })
        }
        (Shape::Explicit(ba, ca), Shape::Explicit(bb, cb)) if ba == bb => {
            let counts = ca
                .iter()
                .zip(cb)
                .map(|(a, b)| b.checked_sub(*a))
                .collect::<Option<Vec<u64>>>()?;
            Shape::Explicit(bb.clone(), counts)
        }
        (Shape::Bare, Shape::Bare) => Shape::Bare,
        _ => return None,
    };
    Some((d_count, d_sum.max(0.0), d_shape))
}
