//! The exposition parsed into samples, lookups that must find exactly what they look for,
//! and promtool's verdict on it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// One sample of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Metrics {
    /// Parses the text format (label values unescaped).
    pub fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (name, rest) = match line.find('{') {
                Some(i) => (&line[..i], &line[i..]),
                None => line.split_at(line.find(' ').unwrap()),
            };
            let mut labels = BTreeMap::new();
            let mut rest = rest;
            if rest.starts_with('{') {
                let mut chars = rest[1..].char_indices();
                let mut key = String::new();
                let mut end = 0;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '}' => {
                            end = i + 2;
                            break;
                        }
                        '=' => {
                            let mut value = String::new();
                            chars.next(); // opening quote
                            while let Some((_, c)) = chars.next() {
                                match c {
                                    '\\' => match chars.next().map(|x| x.1) {
                                        Some('n') => value.push('\n'),
                                        Some(o) => value.push(o),
                                        None => {}
                                    },
                                    '"' => break,
                                    c => value.push(c),
                                }
                            }
                            labels.insert(std::mem::take(&mut key), value);
                        }
                        ',' => {}
                        c => key.push(c),
                    }
                }
                rest = &rest[end..];
            }
            let value = match rest.trim() {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value,
            });
        }
        Metrics {
            samples,
            text: text.to_owned(),
        }
    }

    /// The value of the one sample of `name` whose labels include all of `labels`; `None`
    /// when there is none. More than one match is a test bug (the labels do not pick one
    /// series) and panics naming them.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.find(name, labels).as_slice() {
            [] => None,
            [one] => Some(one.value),
            many => panic!(
                "{name}{labels:?} matches {} samples, not one: {:?}",
                many.len(),
                many.iter().map(|s| &s.labels).collect::<Vec<_>>()
            ),
        }
    }

    /// The value of the one sample of `name` whose labels include all of `labels`; panics
    /// when there is none or more than one.
    pub fn get_one(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
    }

    /// Every sample of `name` whose labels include all of `labels`, asserting there is at
    /// least one (a loop over them then checks something).
    pub fn find_some(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        let found = self.find(name, labels);
        assert!(!found.is_empty(), "no sample {name}{labels:?}");
        found
    }

    /// Every sample of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }
}

/// Runs `promtool check metrics` on `text`. Returns the problems it printed; panics if
/// promtool is missing (CI installs it) or reports a parse error (exit 1).
pub fn promtool_check(text: &str) -> Vec<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: install the Debian package `prometheus` (.ci/run does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code();
    assert!(
        matches!(code, Some(0) | Some(3)),
        "promtool failed ({code:?}):\n{printed}"
    );
    printed
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The lint findings promtool reports on the seed set's fixed names (kept for compatibility
/// with the Python collector; see COMPARISON.md). Any other finding is a bug.
pub const SEED_LINTS: [&str; 5] = [
    "locust_slave_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_stats_current_fail_per_sec metric names should not contain abbreviated units",
    "locust_stats_num_failures counter metrics should have \"_total\" suffix",
    "locust_stats_num_requests counter metrics should have \"_total\" suffix",
    "locust_user_count non-histogram and non-summary metrics should not have \"_count\" suffix",
];

/// Asserts promtool finds nothing but the known seed-name lints.
pub fn assert_promtool_clean(text: &str) {
    assert_promtool_clean_except(text, &SEED_LINTS);
}

/// The lint findings promtool reports on the Go exporter's names, kept for its dashboards
/// (see COMPARISON.md). Any other finding is a bug.
pub const CONTAINERSOLUTIONS_LINTS: [&str; 5] = [
    "locust_requests_current_fail_per_sec metric names should not contain abbreviated units",
    "locust_workers_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_workers_hatching_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_workers_missing_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "locust_workers_running_count non-histogram and non-summary metrics should not have \"_count\" suffix",
];

/// Asserts promtool finds no error and no lint but `allowed`.
pub fn assert_promtool_clean_except(text: &str, allowed: &[&str]) {
    for problem in promtool_check(text) {
        assert!(allowed.contains(&problem.as_str()), "promtool: {problem}");
    }
}
