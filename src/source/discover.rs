//! Expands a `--csv` or `--events` PATH into the files to follow, each with its service and
//! role.
//!
//! An `--events` PATH is one file (followed like `tail -F`), a directory (`DIR/`, or one that
//! exists: every regular file in it not starting with `.`, now and later), or a glob whose
//! file-name part has `*`, `?` or `[…]` (every matching file, now and later). All the files of
//! one PATH feed one service.
//!
//! PATH is a Locust `--csv` prefix (`out/run` → `out/run_stats.csv`, …) or a directory,
//! in which every prefix, now and later, is followed and named after the prefix's file name
//! (`SERVICE/prefix` when a SERVICE is given). A path that does not exist yet is a prefix
//! unless it ends with `/`; once it has been a directory it stays one (so a deleted
//! directory keeps its files followed, reported missing, until it comes back).

use std::path::{Path, PathBuf};

use super::Origin;
use crate::parse::FileRole;

/// One file to follow: its path and where its bytes go.
pub type Target = (PathBuf, Origin);

fn target(service: String, role: FileRole, path: PathBuf) -> Target {
    let origin = Origin {
        service,
        role,
        source: path.display().to_string(),
    };
    (path, origin)
}

/// A `--csv` argument being followed.
#[derive(Debug, Clone)]
pub struct CsvPath {
    path: PathBuf,
    service: Option<String>,
    default_service: String,
    is_dir: bool,
}

impl CsvPath {
    /// `service` is the `SERVICE=` part, if any; `default_service` is `--service`.
    pub fn new(path: PathBuf, service: Option<String>, default_service: String) -> Self {
        let is_dir = path.as_os_str().to_string_lossy().ends_with('/');
        CsvPath {
            path,
            service,
            default_service,
            is_dir,
        }
    }

    /// True once the path has been a directory (every prefix in it followed).
    pub fn is_dir(&self) -> bool {
        self.is_dir
    }

    /// The path as given.
    pub fn given(&self) -> String {
        self.path.display().to_string()
    }

    /// The directory whose changes matter (watched for wake-ups).
    pub fn watch_dir(&self) -> PathBuf {
        if self.is_dir || self.path.is_dir() {
            return self.path.clone();
        }
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The files to follow now, sorted.
    pub fn targets(&mut self) -> Vec<Target> {
        if self.path.is_dir() {
            self.is_dir = true;
        }
        let mut out = if self.is_dir {
            self.scan_dir()
        } else {
            self.prefix_files()
        };
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn prefix_files(&self) -> Vec<Target> {
        let service = self
            .service
            .clone()
            .unwrap_or_else(|| self.default_service.clone());
        FileRole::PREFIX
            .iter()
            .map(|&role| target(service.clone(), role, with_suffix(&self.path, role)))
            .collect()
    }

    fn scan_dir(&self) -> Vec<Target> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        let mut prefixes: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|name| prefix_of(&name).map(str::to_owned))
            .collect();
        prefixes.sort();
        prefixes.dedup();
        prefixes
            .into_iter()
            .flat_map(|prefix| {
                let service = match &self.service {
                    Some(s) => format!("{s}/{prefix}"),
                    None => prefix.clone(),
                };
                let base = self.path.join(&prefix);
                FileRole::PREFIX
                    .iter()
                    .map(move |&role| target(service.clone(), role, with_suffix(&base, role)))
            })
            .collect()
    }
}

/// What an `--events` PATH names.
#[derive(Debug, Clone)]
enum EventsKind {
    /// One file.
    File,
    /// Every file in the directory.
    Dir,
    /// Every file in the directory whose name matches.
    Glob(String),
}

/// An `--events` argument being followed.
#[derive(Debug, Clone)]
pub struct EventsPath {
    path: PathBuf,
    dir: PathBuf,
    kind: EventsKind,
    service: String,
}

/// True if `name` has a glob wildcard.
pub fn has_wildcard(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// Shell-style matching of a file name: `*` (any run, `/` never occurs in a name), `?` (one
/// character), `[abc]`, `[a-z]`, `[!abc]`; anything else literally. A malformed class (no
/// `]`) matches `[` literally.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(&p[pi..], n[ni]) {
                Some((true, len)) => Some(pi + len),
                Some((false, _)) => None,
                None => (n[ni] == '[').then_some(pi + 1),
            },
            Some(&c) => (c == n[ni]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[…]` class at the start of `p` against `c`: (matched, length of the class), or `None`
/// if there is no closing `]`.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let negated = p.get(1) == Some(&'!');
    let start = if negated { 2 } else { 1 };
    // A `]` right after the opening (or `[!`) is a member, not the end.
    let end = start + 1 + p.get(start + 1..)?.iter().position(|&x| x == ']')?;
    let members = &p[start..end];
    let mut hit = false;
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == '-' {
            hit |= members[i] <= c && c <= members[i + 2];
            i += 3;
        } else {
            hit |= members[i] == c;
            i += 1;
        }
    }
    Some((hit != negated, end + 1))
}

impl EventsPath {
    /// `path` as given (`DIR/`, a glob, or a file) feeding `service`.
    pub fn new(path: PathBuf, service: String) -> Self {
        let text = path.as_os_str().to_string_lossy().into_owned();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (dir, kind) = if text.ends_with('/') || path.is_dir() {
            (path.clone(), EventsKind::Dir)
        } else if has_wildcard(&name) {
            (parent, EventsKind::Glob(name))
        } else {
            (parent, EventsKind::File)
        };
        EventsPath {
            path,
            dir,
            kind,
            service,
        }
    }

    /// The directory whose changes matter (watched for wake-ups).
    pub fn watch_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// True if this names one file (kept followed even while it is missing).
    pub fn is_single_file(&self) -> bool {
        matches!(self.kind, EventsKind::File)
    }

    /// The files to follow now, sorted.
    pub fn targets(&self) -> Vec<Target> {
        let pattern = match &self.kind {
            EventsKind::File => {
                return vec![target(
                    self.service.clone(),
                    FileRole::Events,
                    self.path.clone(),
                )]
            }
            EventsKind::Dir => None,
            EventsKind::Glob(p) => Some(p.as_str()),
        };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Target> = entries
            .filter_map(Result::ok)
            // Symlinks are followed (Kubernetes projected volumes are symlinks): what counts
            // is what they point at. Other kinds are not listed.
            .filter(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    || (e.file_type().is_ok_and(|t| t.is_symlink())
                        && std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
            })
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let wanted = match pattern {
                    None => !name.starts_with('.'),
                    Some(p) => glob_match(p, &name),
                };
                wanted.then(|| target(self.service.clone(), FileRole::Events, self.dir.join(name)))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// `out/run` + `_stats.csv` → `out/run_stats.csv`.
pub fn with_suffix(prefix: &Path, role: FileRole) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(role.suffix());
    PathBuf::from(s)
}

/// The Locust prefix of a file name, if it is one of the four CSV files.
pub fn prefix_of(file_name: &str) -> Option<&str> {
    FileRole::CSV
        .iter()
        .find_map(|role| file_name.strip_suffix(role.suffix()))
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_the_shell() {
        for (p, n, want) in [
            ("events-*.jsonl", "events-123.jsonl", true),
            ("events-*.jsonl", "events-.jsonl", true),
            ("events-*.jsonl", "events-1.json", false),
            ("*", "anything", true),
            ("worker?.jsonl", "worker1.jsonl", true),
            ("worker?.jsonl", "worker12.jsonl", false),
            ("w[0-9][!a].log", "w7b.log", true),
            ("w[0-9][!a].log", "w7a.log", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("[", "[", true),
            ("[]]", "]", true),
        ] {
            assert_eq!(glob_match(p, n), want, "{p} vs {n}");
        }
    }

    #[test]
    fn symlinked_files_in_an_events_directory_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let ev = dir.path().join("ev");
        std::fs::create_dir(&ev).unwrap();
        std::fs::write(dir.path().join("real.jsonl"), "").unwrap();
        std::fs::write(ev.join("plain.jsonl"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.jsonl"), ev.join("linked.jsonl")).unwrap();
        std::os::unix::fs::symlink(dir.path(), ev.join("a-dir")).unwrap();
        let names: Vec<String> = EventsPath::new(ev.join(""), "load".into())
            .targets()
            .into_iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["linked.jsonl", "plain.jsonl"]);
    }

    #[test]
    fn events_directories_and_globs_find_files_now_and_later() {
        let dir = tempfile::tempdir().unwrap();
        let all = EventsPath::new(dir.path().join("ev/"), "load".into());
        assert!(
            all.targets().is_empty(),
            "a directory that does not exist yet"
        );
        std::fs::create_dir(dir.path().join("ev")).unwrap();
        for f in ["events-1.jsonl", "events-2.jsonl", ".hidden", "notes.txt"] {
            std::fs::write(dir.path().join("ev").join(f), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("ev/sub")).unwrap();
        let names = |p: &EventsPath| -> Vec<String> {
            p.targets()
                .iter()
                .map(|t| t.0.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(&all),
            ["events-1.jsonl", "events-2.jsonl", "notes.txt"]
        );
        let glob = EventsPath::new(dir.path().join("ev/events-*.jsonl"), "load".into());
        assert_eq!(names(&glob), ["events-1.jsonl", "events-2.jsonl"]);
        std::fs::write(dir.path().join("ev/events-3.jsonl"), b"").unwrap();
        assert_eq!(names(&glob).len(), 3, "a file that appears later");
        assert!(glob.targets().iter().all(|t| t.1.service == "load"));
        let one = EventsPath::new(dir.path().join("ev/missing.jsonl"), "load".into());
        assert_eq!(
            one.targets().len(),
            1,
            "one file is followed even when missing"
        );
    }

    #[test]
    fn prefixes_of_file_names() {
        assert_eq!(prefix_of("run_stats.csv"), Some("run"));
        assert_eq!(prefix_of("run_stats_history.csv"), Some("run"));
        assert_eq!(prefix_of("a_b_failures.csv"), Some("a_b"));
        assert_eq!(prefix_of("_stats.csv"), None);
        assert_eq!(prefix_of("run.csv"), None);
    }

    #[test]
    fn directory_finds_prefixes_now_and_later_and_survives_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let mut p = CsvPath::new(root.clone(), None, "locust".into());
        // Not there yet, no trailing slash: a prefix.
        assert_eq!(
            p.targets()[0].0,
            root.parent().unwrap().join("out.json"),
            "the end-of-run report is followed with the CSV files"
        );
        std::fs::create_dir(&root).unwrap();
        assert!(p.targets().is_empty());
        std::fs::write(root.join("a_stats.csv"), b"").unwrap();
        std::fs::write(root.join("b_stats_history.csv"), b"").unwrap();
        std::fs::write(root.join("notes.txt"), b"").unwrap();
        std::fs::write(root.join("other.json"), b"").unwrap();
        let t = p.targets();
        assert_eq!(
            t.len(),
            10,
            "five files a prefix, a JSON file alone makes none"
        );
        assert_eq!(t[0].1.service, "a");
        assert_eq!(t[5].1.service, "b");
        std::fs::remove_dir_all(&root).unwrap();
        assert!(p.targets().is_empty(), "a deleted directory lists nothing");
        assert_eq!(p.watch_dir(), root);
    }

    #[test]
    fn service_names() {
        let mut p = CsvPath::new("x/run".into(), Some("api".into()), "locust".into());
        assert!(p.targets().iter().all(|t| t.1.service == "api"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run_stats.csv"), b"").unwrap();
        let mut p = CsvPath::new(
            dir.path().to_path_buf(),
            Some("api".into()),
            "locust".into(),
        );
        assert_eq!(p.targets()[0].1.service, "api/run");
    }
}
