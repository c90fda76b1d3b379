//! [`RewrittenFile`]: a file Locust rewrites in place every second (`_stats.csv`,
//! `_failures.csv`, `_exceptions.csv`): seek, write, truncate; no rename, same inode.
//!
//! On each poll the file is stat'ed; when its (size, mtime, inode) changed it is read whole,
//! and stat'ed again: if it changed while being read, it is read again (up to
//! [`READ_ATTEMPTS`] times). Whether the content is complete is the parser's call; a torn
//! read is followed by another change (Locust's `ftruncate`), which reads it again.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::Body;

/// Default `--max-file-size`: the largest rewritten file read. Locust's `_stats.csv` is
/// about 300 bytes per endpoint (a few MB at the 2,000-endpoint default of
/// `--max-endpoints`); a bigger file is refused whole, with an error naming it.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

/// Reads of one change before settling for the last one.
pub const READ_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: Option<SystemTime>,
    ino: u64,
}

/// Refuses what is not a regular file (a FIFO, a device such as `/dev/zero` behind a
/// symlink, a directory): opening a FIFO would block, a device never ends. Symlinks are
/// followed. The caller logs the error once and reports the source missing.
pub fn regular(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.file_type().is_fifo() {
        "a FIFO (pipe it into --events - instead)"
    } else if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file (a device or a socket)"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {kind}: not read", path.display()),
    ))
}

fn stamp(path: &Path) -> io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    regular(path, &m)?;
    Ok(Stamp {
        len: m.len(),
        mtime: m.modified().ok(),
        ino: m.ino(),
    })
}

/// `t` in Unix seconds.
pub fn unix_secs(t: SystemTime) -> Option<f64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs_f64())
}

/// Change tracking for one rewritten-in-place file.
#[derive(Debug)]
pub struct RewrittenFile {
    path: PathBuf,
    last: Option<Stamp>,
    present: Option<bool>,
    max_bytes: u64,
}

fn too_big(path: &Path, len: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is {len} bytes, over --max-file-size ({max} bytes): not read",
            path.display()
        ),
    )
}

impl RewrittenFile {
    /// A file not read yet.
    pub fn new(path: PathBuf) -> Self {
        RewrittenFile {
            path,
            last: None,
            present: None,
            max_bytes: DEFAULT_MAX_FILE_SIZE,
        }
    }

    /// Refuses a file over `max_bytes` (`--max-file-size`).
    pub fn with_limit(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// A file that may never exist (Locust's `--json-file` report): not reported missing
    /// until it has been there, so until then it is no source at all rather than one down.
    pub fn optional(path: PathBuf) -> Self {
        RewrittenFile {
            present: Some(false),
            ..RewrittenFile::new(path)
        }
    }

    /// Pushes a [`Body::Whole`] if the file changed since the last read, or
    /// [`Body::Missing`] once when it disappears.
    pub fn poll(&mut self, out: &mut Vec<Body>) -> io::Result<()> {
        let mut before = match stamp(&self.path) {
            Ok(s) => s,
            Err(e) => {
                self.last = None;
                if self.present != Some(false) {
                    self.present = Some(false);
                    out.push(Body::Missing);
                }
                return if e.kind() == io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                };
            }
        };
        self.present = Some(true);
        if self.last == Some(before) {
            return Ok(());
        }
        if before.len > self.max_bytes {
            return Err(too_big(&self.path, before.len, self.max_bytes));
        }
        let mut bytes = Vec::new();
        for _ in 0..READ_ATTEMPTS {
            bytes.clear();
            let file = File::open(&self.path)?;
            file.take(self.max_bytes + 1).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > self.max_bytes {
                return Err(too_big(&self.path, bytes.len() as u64, self.max_bytes));
            }
            let after = stamp(&self.path)?;
            let settled = after == before && after.len == bytes.len() as u64;
            before = after;
            if settled {
                break;
            }
        }
        self.last = Some(before);
        // When it was written, then what: an end-of-run report is weighed against the
        // `_stats.csv` by their write times.
        if let Some(at) = before.mtime.and_then(unix_secs) {
            out.push(Body::Written(at));
        }
        out.push(Body::Whole(bytes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What was read, without the write times (checked on their own).
    fn read(f: &mut RewrittenFile) -> (Vec<Body>, usize) {
        let mut out = Vec::new();
        f.poll(&mut out).unwrap();
        let written = out.iter().filter(|b| matches!(b, Body::Written(_))).count();
        out.retain(|b| !matches!(b, Body::Written(_)));
        (out, written)
    }

    #[test]
    fn reads_on_change_only_and_reports_missing_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        let mut f = RewrittenFile::new(path.clone());
        assert_eq!(read(&mut f), (vec![Body::Missing], 0));
        assert_eq!(read(&mut f), (vec![], 0));
        std::fs::write(&path, b"a\n").unwrap();
        assert_eq!(read(&mut f), (vec![Body::Whole(b"a\n".to_vec())], 1));
        assert_eq!(read(&mut f), (vec![], 0), "unchanged: not read again");
        std::fs::write(&path, b"bb\n").unwrap();
        assert_eq!(read(&mut f), (vec![Body::Whole(b"bb\n".to_vec())], 1));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read(&mut f), (vec![Body::Missing], 0));
    }

    #[test]
    fn an_optional_file_is_not_missing_until_it_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let mut f = RewrittenFile::optional(path.clone());
        assert_eq!(read(&mut f), (vec![], 0), "never there: nothing to report");
        std::fs::write(&path, b"[]").unwrap();
        assert_eq!(read(&mut f), (vec![Body::Whole(b"[]".to_vec())], 1));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            read(&mut f),
            (vec![Body::Missing], 0),
            "gone after it was there"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big_stats.csv");
        std::fs::write(&path, vec![b'x'; 5000]).unwrap();
        let mut f = RewrittenFile::new(path.clone()).with_limit(4096);
        let mut out = Vec::new();
        let e = f.poll(&mut out).unwrap_err().to_string();
        assert!(
            e.contains("big_stats.csv is 5000 bytes, over --max-file-size (4096 bytes)"),
            "{e}"
        );
        assert!(out.is_empty());
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        f.poll(&mut out).unwrap();
        assert!(out
            .iter()
            .any(|b| matches!(b, Body::Whole(v) if v.len() == 4096)));
    }

    #[test]
    fn a_read_says_when_the_file_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, b"a\n").unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut out = Vec::new();
        RewrittenFile::new(path).poll(&mut out).unwrap();
        assert_eq!(out.first(), Some(&Body::Written(1_700_000_000.0)));
    }
}
