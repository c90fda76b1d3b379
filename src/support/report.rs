//! The self-metrics seam, at the ground so every layer can use it: a part that counts
//! something about itself (an output, a listener, an input's receiver, the render cache)
//! implements [`SelfMetrics`] and writes its families through a [`Report`]; the exposition
//! renders them after the metric sets, in whatever format is asked for, knowing none of the
//! parts by name.

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A summary (quantiles, `_sum`, `_count`).
    Summary,
    /// A histogram (classic buckets, `_sum`, `_count`; native buckets where the format has
    /// them).
    Histogram,
    /// No type (`untyped` in text 0.0.4, `unknown` in OpenMetrics).
    Untyped,
    /// A state set: one 0/1 sample per state, the state in a label named as the family
    /// (OpenMetrics `stateset`; a gauge in text 0.0.4 and protobuf).
    StateSet,
}

/// A part's own counters and gauges, written through whatever format is being rendered.
pub trait SelfMetrics: Send + Sync {
    /// Writes the part's families: [`Report::family`], then its samples.
    fn report(&self, out: &mut dyn Report);
}

/// What a [`SelfMetrics`] writes through: families of counter or gauge samples. A family
/// with no sample is not written.
pub trait Report {
    /// A family starts; the previous one ends.
    fn family(&mut self, name: &str, help: &str, kind: Kind);
    /// One sample of the current family.
    fn sample(&mut self, labels: &[(&str, &str)], value: f64);
}
