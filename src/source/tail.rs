//! [`FileTail`]: follows an appended file (`_stats_history.csv`, an events file) like
//! `tail -F`: reads from the last offset, holds a partial last line, and reports a
//! truncation (`size < offset`) or a replacement (new inode) as [`Body::Reset`].
//!
//! The file is opened by path on every poll, so a file that is deleted and created again is
//! followed too. Each poll reads at most [`MAX_READ_BYTES`]; the caller polls again at once
//! while [`FileTail::poll`] says more is pending.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::lines::{LineBatch, LineFramer};
use super::Body;

/// Most bytes read from one file in one poll.
pub const MAX_READ_BYTES: u64 = 256 << 10;

/// Tail state of one appended file.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    /// (device, inode) of the file last read.
    id: Option<(u64, u64)>,
    offset: u64,
    framer: LineFramer,
    present: Option<bool>,
}

impl FileTail {
    /// A tail that has read nothing yet.
    pub fn new(path: PathBuf) -> Self {
        FileTail {
            path,
            id: None,
            offset: 0,
            framer: LineFramer::default(),
            present: None,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads what is new into `out`. Returns true if more bytes are waiting.
    pub fn poll(&mut self, out: &mut Vec<Body>) -> io::Result<bool> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) => {
                if self.present != Some(false) {
                    self.present = Some(false);
                    out.push(Body::Missing);
                }
                return if e.kind() == io::ErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                };
            }
        };
        self.present = Some(true);
        let id = (meta.dev(), meta.ino());
        let replaced = self.id.is_some_and(|old| old != id);
        if replaced || meta.len() < self.offset {
            self.offset = 0;
            self.framer.reset();
            out.push(Body::Reset);
        }
        self.id = Some(id);
        if meta.len() <= self.offset {
            return Ok(false);
        }
        let want = (meta.len() - self.offset).min(MAX_READ_BYTES);
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity(want as usize);
        file.take(want).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        let mut batch = LineBatch::default();
        self.framer.push(&buf, &mut batch);
        if !batch.is_empty() {
            out.push(Body::Lines(batch));
        }
        Ok(self.offset < meta.len())
    }

    /// At the end of the input (`--once`): the unterminated last line, if any.
    pub fn finish(&mut self, out: &mut Vec<Body>) {
        let mut batch = LineBatch::default();
        self.framer.finish(&mut batch);
        if !batch.is_empty() {
            out.push(Body::Lines(batch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn lines_of(bodies: &[Body]) -> Vec<String> {
        let mut v = Vec::new();
        for b in bodies {
            match b {
                Body::Lines(batch) => v.extend(
                    batch
                        .lines()
                        .map(|(_, l)| String::from_utf8_lossy(l).into_owned()),
                ),
                Body::Reset => v.push("<reset>".into()),
                Body::Missing => v.push("<missing>".into()),
                _ => {}
            }
        }
        v
    }

    #[test]
    fn appends_partial_lines_truncation_and_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.csv");
        let mut tail = FileTail::new(path.clone());
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["<missing>"]);
        let mut f = File::create(&path).unwrap();
        f.write_all(b"a\r\nb").unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["a"]);
        f.write_all(b"c\r\n").unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["bc"]);
        f.set_len(0).unwrap();
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(b"x\n").unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["<reset>", "x"]);
        std::fs::remove_file(&path).unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["<missing>"]);
        std::fs::write(&path, b"y\nz\nlonger than before\n").unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(
            lines_of(&out),
            vec!["<reset>", "y", "z", "longer than before"]
        );
    }

    #[derive(Debug, Clone)]
    enum Action {
        Append(String),
        AppendPartial(String),
        Truncate,
        Replace,
        Poll,
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            "[a-z]{0,8}".prop_map(Action::Append),
            "[a-z]{1,8}".prop_map(Action::AppendPartial),
            Just(Action::Truncate),
            Just(Action::Replace),
            Just(Action::Poll),
            Just(Action::Poll),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Model-based: random appends, partial writes, truncations and replacements against
        /// an in-memory model. Lines are never invented, duplicated or split, and each
        /// truncation or replacement of a file that had been read gives exactly one reset.
        /// (A truncation is polled at once: one that grows past the old offset before any
        /// poll is invisible by size, which is why the history parser also treats a header
        /// line appearing again as a reset.)
        #[test]
        fn tail_matches_model(actions in proptest::collection::vec(action(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.log");
            std::fs::write(&path, b"").unwrap();
            let mut tail = FileTail::new(path.clone());
            let mut content: Vec<u8> = Vec::new();
            let mut got: Vec<String> = Vec::new();
            for a in actions {
                let mut expect_reset = false;
                match &a {
                    Action::Append(s) => {
                        content.extend(format!("{s}\n").bytes());
                        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                        f.write_all(format!("{s}\n").as_bytes()).unwrap();
                    }
                    Action::AppendPartial(s) => {
                        content.extend(s.bytes());
                        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                        f.write_all(s.as_bytes()).unwrap();
                    }
                    Action::Truncate | Action::Replace => {
                        expect_reset = tail.offset() > 0;
                        content.clear();
                        got.clear();
                        if matches!(a, Action::Replace) {
                            std::fs::remove_file(&path).unwrap();
                        }
                        std::fs::write(&path, b"").unwrap();
                    }
                    Action::Poll => {}
                }
                if matches!(a, Action::Append(_) | Action::AppendPartial(_)) {
                    continue;
                }
                let mut out = Vec::new();
                while tail.poll(&mut out).unwrap() {}
                let seen = lines_of(&out);
                let resets = seen.iter().filter(|l| *l == "<reset>").count();
                if expect_reset {
                    prop_assert_eq!(resets, 1, "{:?}", seen);
                } else if !matches!(a, Action::Replace) {
                    // A replacement with a new inode may be reported even before any read.
                    prop_assert_eq!(resets, 0, "{:?}", seen);
                }
                got.extend(seen.into_iter().filter(|l| !l.starts_with('<')));
                let text = String::from_utf8(content.clone()).unwrap();
                let want: Vec<String> = text
                    .split_inclusive('\n')
                    .filter(|l| l.ends_with('\n'))
                    .map(|l| l.trim_end().to_string())
                    .collect();
                prop_assert_eq!(&got, &want);
            }
        }
    }
}
