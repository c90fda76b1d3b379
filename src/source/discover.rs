//! Expands a `--csv` PATH into the files to follow, each with its service and role.
//!
//! PATH is a Locust `--csv` prefix (`out/run` → `out/run_stats.csv`, …) or a directory,
//! in which every prefix, now and later, is followed and named after the prefix's file name
//! (`SERVICE/prefix` when a SERVICE is given). A path that does not exist yet is a prefix
//! unless it ends with `/`; once it has been a directory it stays one (so a deleted
//! directory keeps its files followed, reported missing, until it comes back).

use std::path::{Path, PathBuf};

use super::{FileRole, Origin};

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
        FileRole::CSV
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
                FileRole::CSV
                    .iter()
                    .map(move |&role| target(service.clone(), role, with_suffix(&base, role)))
            })
            .collect()
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
            root.parent().unwrap().join("out_exceptions.csv")
        );
        std::fs::create_dir(&root).unwrap();
        assert!(p.targets().is_empty());
        std::fs::write(root.join("a_stats.csv"), b"").unwrap();
        std::fs::write(root.join("b_stats_history.csv"), b"").unwrap();
        std::fs::write(root.join("notes.txt"), b"").unwrap();
        let t = p.targets();
        assert_eq!(t.len(), 8);
        assert_eq!(t[0].1.service, "a");
        assert_eq!(t[4].1.service, "b");
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
