//! The metric sets: *what* is served. Each set is one file behind [`MetricSet`] — its name
//! for `--metrics`, the families it writes, the families it leaves to another set served
//! beside it, and its writer — and one line in the `registry!` below. Names, conflicts and
//! the order sets are written in all come from that list, so `--metrics`, its errors and
//! its help text follow a new set without further edits.
//!
//! Two sets that both write a family must say so: one of them [`MetricSet::DEFERS`] it to
//! the other (same meaning, written once), or they cannot be served together (different
//! labels under one name), and `--metrics` refuses the pair naming the family. The test
//! below renders every set over real recordings and checks that each family written is one
//! its set declares, so a forgotten declaration fails a test.
//!
//! The self-metrics and the run's identity and checks are not sets: they are always served
//! ([`crate::expose::always`]).

pub mod containersolutions;
pub mod native;
pub mod seed;

use crate::expose::format::encoder::Encoder;
use crate::model::snapshot::{EndpointStats, Snapshot};

/// One metric set.
pub trait MetricSet {
    /// The name `--metrics` takes.
    const NAME: &'static str;
    /// What it is, for `--metrics`' help ([`help`]).
    const ABOUT: &'static str;
    /// Every family (base name, as `Encoder::family` is given it) the set may write.
    const FAMILIES: &'static [&'static str];
    /// `(family, other set)`: the family is left to the other set when both are served
    /// (it means the same in both).
    const DEFERS: &'static [(&'static str, &'static str)] = &[];
    /// Writes the set's families for `snap`; `served` says which sets are served with it.
    fn write<E: Encoder>(snap: &Snapshot, served: Sets, out: &mut E);
}

/// The labels a set gives an endpoint's name and method, in the order it writes them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowLabels {
    /// `{service, path, method}` (the seed's).
    PathMethod,
    /// `{service, method, name}`.
    MethodName,
}

/// The `(method, name)` label values of a service's total row, where a set serves one.
pub(crate) type TotalRow = for<'a> fn(&'a EndpointStats) -> (&'a str, &'a str);

/// Every endpoint of `snap` with its label set rendered once (and each service's total row
/// after its endpoints, labelled by `total`, where the set serves one).
pub(crate) fn endpoint_rows<E: Encoder>(
    snap: &Snapshot,
    order: RowLabels,
    total: Option<TotalRow>,
) -> Vec<(E::Labels, &EndpointStats)> {
    let labels = |service: &str, method: &str, name: &str| match order {
        RowLabels::PathMethod => {
            E::labels(&[("service", service), ("path", name), ("method", method)])
        }
        RowLabels::MethodName => {
            E::labels(&[("service", service), ("method", method), ("name", name)])
        }
    };
    let mut rows = Vec::new();
    for s in &snap.services {
        for e in &s.endpoints {
            rows.push((labels(&s.name, &e.method, &e.name), e));
        }
        if let (Some(t), Some(total)) = (&s.total, total) {
            let (method, name) = total(t);
            rows.push((labels(&s.name, method, name), t));
        }
    }
    rows
}

/// What the registry knows of a set without its writer.
#[derive(Debug, Clone, Copy)]
pub struct SetInfo {
    /// [`MetricSet::NAME`].
    pub name: &'static str,
    /// [`MetricSet::ABOUT`].
    pub about: &'static str,
    /// [`MetricSet::FAMILIES`].
    pub families: &'static [&'static str],
    /// [`MetricSet::DEFERS`].
    pub defers: &'static [(&'static str, &'static str)],
}

/// The registry: every set, in the order they are written. A new set is one line here.
macro_rules! registry {
    ($($set:ty),+ $(,)?) => {
        /// Every set, in the order they are written.
        pub const ALL: &[SetInfo] = &[$(SetInfo {
            name: <$set as MetricSet>::NAME,
            about: <$set as MetricSet>::ABOUT,
            families: <$set as MetricSet>::FAMILIES,
            defers: <$set as MetricSet>::DEFERS,
        }),+];

        /// Writes each set of `sets`, in registry order.
        pub fn write<E: Encoder>(snap: &Snapshot, sets: Sets, out: &mut E) {
            $(
                if sets.has(<$set as MetricSet>::NAME) {
                    <$set as MetricSet>::write(snap, sets, out);
                }
            )+
        }
    };
}

registry!(
    seed::Seed,
    native::Native,
    containersolutions::ContainerSolutions
);

/// Which metric sets to serve (`--metrics`): a set of positions in [`ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sets(u32);

/// `--metrics` named no set, an unknown one, or two that cannot be served together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetsError {
    /// A name that is no set.
    #[error("`{0}` is not {names}", names = names())]
    Unknown(String),
    /// Nothing named.
    #[error("name at least one of {names}", names = names())]
    Empty,
    /// Two sets write one family with different labels.
    #[error("{0} and {1} both define {2}, with different labels: choose one")]
    Conflict(&'static str, &'static str, &'static str),
}

/// "a, b or c" of every set's name.
fn names() -> String {
    let names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn position(name: &str) -> Option<usize> {
    ALL.iter().position(|s| s.name == name)
}

impl Sets {
    /// No set.
    pub const NONE: Sets = Sets(0);

    /// True when the set named `name` is served.
    pub fn has(self, name: &str) -> bool {
        position(name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// These sets and the one named `name` (which must be in [`ALL`]).
    pub fn with(self, name: &str) -> Sets {
        position(name).map_or(self, |i| Sets(self.0 | (1 << i)))
    }

    /// True when `family` of set `set` is left to another set served beside it.
    pub fn deferred(self, set: &str, family: &str) -> bool {
        ALL.iter().any(|s| {
            s.name == set
                && s.defers
                    .iter()
                    .any(|(f, other)| *f == family && self.has(other))
        })
    }

    /// The sets served, in registry order.
    pub fn served(self) -> impl Iterator<Item = &'static SetInfo> {
        ALL.iter().filter(move |s| self.has(s.name))
    }

    /// Parses `--metrics`: set names, comma-separated.
    pub fn parse(text: &str) -> Result<Sets, SetsError> {
        let mut sets = Sets::NONE;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if position(part).is_none() {
                return Err(SetsError::Unknown(part.to_owned()));
            }
            sets = sets.with(part);
        }
        if sets == Sets::NONE {
            return Err(SetsError::Empty);
        }
        let chosen: Vec<&SetInfo> = sets.served().collect();
        for (i, a) in chosen.iter().enumerate() {
            for b in &chosen[i + 1..] {
                let shared = a.families.iter().find(|f| {
                    b.families.contains(f)
                        && !a.defers.iter().any(|(d, o)| d == *f && *o == b.name)
                        && !b.defers.iter().any(|(d, o)| d == *f && *o == a.name)
                });
                if let Some(family) = shared {
                    return Err(SetsError::Conflict(a.name, b.name, family));
                }
            }
        }
        Ok(sets)
    }
}

/// `--metrics`' help, from the registry: every set and what it is, and the defaults
/// (`default`; `go_style`, when configured as the Go exporter).
pub fn help(default: &str, go_style: &str) -> String {
    let sets: Vec<String> = ALL
        .iter()
        .map(|s| format!("{} ({})", s.name, s.about))
        .collect();
    format!(
        "Metric sets to serve: {} [default: {default}; configured as the Go exporter (no input flag, at most LOCUST_EXPORTER_URI): {go_style}]",
        sets.join(", ")
    )
}

impl Default for Sets {
    /// `seed,native`.
    fn default() -> Self {
        Sets::NONE.with(seed::Seed::NAME).with(native::Native::NAME)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::expose::format::encoder::{Histogram, Meta, Summary};
    use crate::ingest::Ingest;
    use crate::model::{Model, ModelConfig};
    use crate::parse::FileRole;
    use crate::source::lines::{LineBatch, LineFramer};
    use crate::source::{Body, Chunk, Origin};

    /// An encoder that only notes which families were started.
    #[derive(Default)]
    struct Names(BTreeSet<String>);

    impl Encoder for Names {
        type Labels = ();
        fn labels(_: &[(&str, &str)]) {}
        fn label_every_series(&mut self, _: &str, _: &str) {}
        fn header(&mut self, meta: &Meta<'_>) {
            self.0.insert(meta.name.to_owned());
        }
        fn value(&mut self, _: &Meta<'_>, _: &(), _: f64, _: Option<f64>) {}
        fn summary(&mut self, _: &Meta<'_>, _: &(), _: &Summary<'_>) {}
        fn histogram(&mut self, _: &Meta<'_>, _: &(), _: &Histogram<'_>) {}
        fn finish(self) -> Vec<u8> {
            Vec::new()
        }
    }

    fn lines(bytes: &[u8]) -> LineBatch {
        let mut batch = LineBatch::default();
        LineFramer::default().push(bytes, &mut batch);
        batch
    }

    fn fixture(path: &str) -> Vec<u8> {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }

    /// A snapshot with every kind of input: CSV files of a distributed run, a web UI
    /// master's JSON and an event stream, each its own service.
    fn everything() -> Snapshot {
        let mut ingest = Ingest::new(Model::new(ModelConfig::default()));
        let now = 1.7e9;
        let mut send = |service: &str, role: FileRole, body: Body| {
            let origin = Origin {
                service: service.into(),
                role,
                source: format!("{service}{}", role.suffix()),
            };
            ingest.apply(
                Chunk {
                    origin: origin.into(),
                    body,
                },
                now,
            );
        };
        let csv = "fixtures/locust-2.47.0/distributed-2workers/run";
        for role in FileRole::CSV {
            let bytes = fixture(&format!("{csv}{}", role.suffix()));
            let body = if role.is_rewritten() {
                Body::Whole(bytes)
            } else {
                Body::Lines(lines(&bytes))
            };
            send("csv", role, body);
        }
        let ui = fixture("fixtures/webui/locust-2.47.0-master/running/requests.json");
        send("webui", FileRole::Status, Body::Whole(ui));
        let events = fixture("fixtures/events/locust-2.47.0-standalone.jsonl");
        send("events", FileRole::Events, Body::Lines(lines(&events)));
        ingest.snapshot(now + 1.0)
    }

    #[test]
    fn every_family_written_is_declared_by_its_set() {
        let snap = everything();
        for set in ALL {
            let mut names = Names::default();
            write(&snap, Sets::NONE.with(set.name), &mut names);
            assert!(!names.0.is_empty(), "{} wrote nothing", set.name);
            for family in &names.0 {
                assert!(
                    set.families.contains(&family.as_str()),
                    "set {} writes {family} but does not declare it in FAMILIES",
                    set.name
                );
            }
        }
    }

    #[test]
    fn a_deferred_family_is_written_once() {
        let snap = everything();
        let both = Sets::parse("native,containersolutions").unwrap();
        let text = crate::expose::render(&snap, both, &[]);
        for family in [native::USERS, native::UP] {
            let header = format!("# TYPE {family} gauge");
            let headers = text.lines().filter(|l| *l == header).count();
            assert_eq!(
                headers, 1,
                "{family} written once by native and containersolutions"
            );
        }
        for set in ALL {
            for (family, other) in set.defers {
                let writer = ALL.iter().find(|s| s.name == *other);
                assert!(
                    writer.is_some_and(|w| w.families.contains(family)),
                    "{} defers {family} to {other}, which does not write it",
                    set.name
                );
            }
        }
    }

    /// A web UI polled while `state`, then down: the native `locust_users` it serves.
    fn native_users_once_down(state: &str) -> Option<String> {
        let mut ingest = Ingest::new(Model::new(ModelConfig::default()));
        let origin = std::sync::Arc::new(Origin {
            service: "ui".into(),
            role: FileRole::Status,
            source: "http://127.0.0.1:8089".into(),
        });
        let json = fixture(&format!(
            "fixtures/webui/locust-2.47.0-standalone/{state}/requests.json"
        ));
        for (body, at) in [(Body::Whole(json), 1.7e9), (Body::Missing, 1.7e9 + 1.0)] {
            let origin = origin.clone();
            ingest.apply(Chunk { origin, body }, at);
        }
        let native = Sets::NONE.with("native");
        let text = crate::expose::render(&ingest.snapshot(1.7e9 + 2.0), native, &[]);
        text.lines()
            .find(|l| l.starts_with("locust_users{"))
            .map(str::to_owned)
    }

    #[test]
    fn native_users_of_a_web_ui_gone_mid_run_are_unknown_and_after_its_stop_none() {
        assert_eq!(native_users_once_down("running"), None);
        assert_eq!(
            native_users_once_down("stopped").as_deref(),
            Some(r#"locust_users{service="ui"} 0"#)
        );
    }

    #[test]
    fn names_and_conflicts_come_from_the_registry() {
        assert_eq!(Sets::parse("native").unwrap(), Sets::NONE.with("native"));
        assert_eq!(
            Sets::parse("seed,foo").unwrap_err().to_string(),
            "`foo` is not seed, native or containersolutions"
        );
        assert_eq!(
            Sets::parse("seed,containersolutions").unwrap_err(),
            SetsError::Conflict("seed", "containersolutions", "locust_errors")
        );
        assert_eq!(Sets::parse(" , ").unwrap_err(), SetsError::Empty);
        let both = Sets::parse("native, containersolutions").unwrap();
        assert!(both.deferred("native", native::UP));
        assert!(both.deferred("containersolutions", containersolutions::USERS));
        assert!(!Sets::default().deferred("native", native::UP));
    }
}
