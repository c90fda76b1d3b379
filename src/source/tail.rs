//! [`FileTail`]: follows an appended file (`_stats_history.csv`, an events file) like
//! `tail -F`, the way mtail and vector's file source do.
//!
//! * The file is kept open and read from the last offset; a partial last line is held.
//! * A truncation (`size < offset`), or a rewrite in place caught by a fingerprint (the first
//!   bytes of the file, and the bytes just before the offset, are no longer what was read)
//!   starts it over from the beginning: [`Body::Reset`]. So a file truncated and written
//!   past the old offset between two polls is still read whole, from the start.
//! * When the path names another file (rotated, deleted and created again), the open one is
//!   drained to its end first, then the new one is followed from its start ([`Body::Reset`]).
//! * A path that disappears is reported once ([`Body::Missing`]); the open file is still
//!   read (its writer may keep appending) until a new file appears.
//!
//! Each poll reads at most [`MAX_READ_BYTES`]; the caller polls again at once while
//! [`FileTail::poll`] says more is pending.
//!
//! **Descriptors**: the process's tails keep at most [`open_tail_cap`] files open (set at
//! start from `RLIMIT_NOFILE`, leaving a reserve for the listener and clients). A tail
//! that has read nothing for [`IDLE_POLLS`] polls, or finds no free slot, closes its file
//! ("parks") and keeps its offset, inode and fingerprints; when the path's size or mtime
//! changes it reopens the file, checks it is the same inode, and reads on from its offset
//! (the fingerprints still catch a rewrite in place). A parked file replaced at its path is
//! followed anew from the start; what was appended to the old one after it was parked and
//! before it was replaced is not read.

use std::fs::{File, Metadata};
use std::io::{self};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::lines::{LineBatch, LineFramer};
use super::rewritten::{regular, unix_secs};
use super::Body;

/// Most bytes read from one file in one poll.
pub const MAX_READ_BYTES: u64 = 256 << 10;

/// Bytes at the start of the file kept as its fingerprint.
pub const HEAD_BYTES: usize = 256;

/// Bytes just before the read offset kept to notice a rewrite in place.
pub const TAIL_BYTES: usize = 64;

/// Polls with nothing read before a tail closes its file.
pub const IDLE_POLLS: u32 = 10;

/// Files the process's tails hold open at once (see the module docs).
static OPEN_TAIL_CAP: AtomicUsize = AtomicUsize::new(256);
/// Files held open by tails now.
static OPEN_TAILS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many files tails may hold open at once (at least 1).
pub fn set_open_tail_cap(n: usize) {
    OPEN_TAIL_CAP.store(n.max(1), Ordering::Relaxed);
}

/// How many files tails may hold open at once.
pub fn open_tail_cap() -> usize {
    OPEN_TAIL_CAP.load(Ordering::Relaxed)
}

/// Files tails hold open now.
pub fn open_tails() -> usize {
    OPEN_TAILS.load(Ordering::Relaxed)
}

/// A place among the files tails may hold open; given back when dropped.
#[derive(Debug)]
struct TailSlot;

impl TailSlot {
    fn take() -> Option<TailSlot> {
        let cap = open_tail_cap();
        OPEN_TAILS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .ok()
            .map(|_| TailSlot)
    }
}

impl Drop for TailSlot {
    fn drop(&mut self) {
        OPEN_TAILS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The file being read.
#[derive(Debug)]
struct OpenFile {
    /// `None` while parked (closed, state kept).
    file: Option<File>,
    /// Its place among the open files, while it keeps one.
    slot: Option<TailSlot>,
    /// (size, mtime) when parked: unchanged, there is nothing to reopen for.
    parked_at: Option<(u64, Option<std::time::SystemTime>)>,
    /// Polls in a row that read nothing.
    idle: u32,
    /// (device, inode).
    id: (u64, u64),
    offset: u64,
    /// The first bytes read (up to [`HEAD_BYTES`]).
    head: Vec<u8>,
    /// The last bytes read (up to [`TAIL_BYTES`]), ending at `offset`.
    tail: Vec<u8>,
}

fn id_of(meta: &Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

fn parked() -> io::Error {
    io::Error::other("the file is parked")
}

/// Reads exactly `buf.len()` bytes at `at`, or says it could not.
fn matches_at(file: &File, at: u64, want: &[u8]) -> io::Result<bool> {
    let mut buf = vec![0u8; want.len()];
    match file.read_exact_at(&mut buf, at) {
        Ok(()) => Ok(buf == want),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

impl OpenFile {
    fn new(file: File, meta: &Metadata) -> Self {
        OpenFile {
            file: Some(file),
            slot: None,
            parked_at: None,
            idle: 0,
            id: id_of(meta),
            offset: 0,
            head: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// True if the file no longer holds what was read: shorter than the offset, or other
    /// bytes where the fingerprints were taken.
    fn started_over(&self, len: u64) -> io::Result<bool> {
        if len < self.offset {
            return Ok(true);
        }
        let tail_at = self.offset - self.tail.len() as u64;
        let file = self.file.as_ref().ok_or_else(parked)?;
        Ok(!matches_at(file, 0, &self.head)? || !matches_at(file, tail_at, &self.tail)?)
    }

    fn rewind(&mut self) {
        self.offset = 0;
        self.head.clear();
        self.tail.clear();
    }

    /// Reads up to [`MAX_READ_BYTES`] from the offset (fewer at the end of the file).
    fn read(&mut self, len: u64) -> io::Result<Vec<u8>> {
        let want = len.saturating_sub(self.offset).min(MAX_READ_BYTES) as usize;
        let file = self.file.as_ref().ok_or_else(parked)?;
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            match file.read_at(&mut buf[filled..], self.offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(filled);
        self.idle = if buf.is_empty() { self.idle + 1 } else { 0 };
        if self.head.len() < HEAD_BYTES && (self.offset as usize) == self.head.len() {
            let take = (HEAD_BYTES - self.head.len()).min(buf.len());
            self.head.extend_from_slice(&buf[..take]);
        }
        self.offset += buf.len() as u64;
        let keep = buf.len().min(TAIL_BYTES);
        if keep == TAIL_BYTES {
            self.tail.clear();
        } else {
            let excess = (self.tail.len() + keep).saturating_sub(TAIL_BYTES);
            self.tail.drain(..excess);
        }
        self.tail.extend_from_slice(&buf[buf.len() - keep..]);
        Ok(buf)
    }
}

/// Tail state of one appended file.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    open: Option<OpenFile>,
    /// A file was followed before (a new one starts with a reset).
    followed: bool,
    framer: LineFramer,
    /// Whether the path was there at the last look (`None`: not looked yet).
    present: Option<bool>,
}

impl FileTail {
    /// A tail that has read nothing yet.
    pub fn new(path: PathBuf) -> Self {
        FileTail {
            path,
            open: None,
            followed: false,
            framer: LineFramer::default(),
            present: None,
        }
    }

    fn set_present(&mut self, present: bool, out: &mut Vec<Body>) {
        if !present && self.present != Some(false) {
            out.push(Body::Missing);
        }
        self.present = Some(present);
    }

    /// Reads what is new into `out`. Returns true if more bytes are waiting. Afterwards the
    /// file stays open only if it has a slot and is not idle (see the module docs).
    pub fn poll(&mut self, out: &mut Vec<Body>) -> io::Result<bool> {
        let result = self.unpark(out).and_then(|()| self.read_new(out));
        if let Some(open) = self.open.as_mut() {
            if open.file.is_some() {
                if open.slot.is_none() {
                    open.slot = TailSlot::take();
                }
                if open.slot.is_none() || open.idle >= IDLE_POLLS {
                    open.slot = None;
                    open.file = None;
                    open.parked_at = std::fs::metadata(&self.path)
                        .ok()
                        .filter(|m| id_of(m) == open.id)
                        .map(|m| (m.len(), m.modified().ok()));
                }
            }
        }
        result
    }

    /// True while the file is closed to save a descriptor.
    pub fn is_parked(&self) -> bool {
        self.open.as_ref().is_some_and(|o| o.file.is_none())
    }

    /// Reopens a parked file if its path changed since: the same inode reads on; another
    /// file is followed anew from its start.
    fn unpark(&mut self, out: &mut Vec<Body>) -> io::Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        if open.file.is_some() {
            return Ok(());
        }
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.set_present(false, out);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if open.parked_at.is_some()
            && open.parked_at == Some((meta.len(), meta.modified().ok()))
            && id_of(&meta) == open.id
        {
            return Ok(());
        }
        regular(&self.path, &meta)?;
        let file = File::open(&self.path)?;
        if id_of(&file.metadata()?) == open.id {
            open.file = Some(file);
            open.idle = 0;
        } else {
            // Replaced while parked: the new file is opened by `read_new`, with a reset.
            self.open = None;
        }
        Ok(())
    }

    fn read_new(&mut self, out: &mut Vec<Body>) -> io::Result<bool> {
        if self.is_parked() {
            return Ok(false);
        }
        // The file being read and, if the path names a new one, that one.
        for _ in 0..2 {
            if self.open.is_none() {
                self.open_path(out)?;
            }
            let Some(open) = self.open.as_mut() else {
                return Ok(false);
            };
            let meta = open.file.as_ref().ok_or_else(parked)?.metadata()?;
            let len = meta.len();
            if open.started_over(len)? {
                open.rewind();
                self.framer.reset();
                out.push(Body::Reset);
            }
            let bytes = open.read(len)?;
            let more = open.offset < len;
            self.push_lines(&bytes, out);
            if !bytes.is_empty() {
                if let Some(at) = meta.modified().ok().and_then(unix_secs) {
                    out.push(Body::Written(at));
                }
            }
            if more {
                return Ok(true);
            }
            // Drained: is the path still this file?
            match std::fs::metadata(&self.path) {
                Ok(meta) if Some(id_of(&meta)) == self.open.as_ref().map(|o| o.id) => {
                    self.set_present(true, out);
                    return Ok(false);
                }
                Ok(_) => self.drain_replaced(out)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.set_present(false, out);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The path names another file: reads what the old one still got, and lets it go.
    fn drain_replaced(&mut self, out: &mut Vec<Body>) -> io::Result<()> {
        let Some(mut old) = self.open.take() else {
            return Ok(());
        };
        let Some(file) = old.file.as_ref() else {
            return Ok(());
        };
        let len = file.metadata()?.len();
        while old.offset < len {
            let bytes = old.read(len)?;
            if bytes.is_empty() {
                break;
            }
            self.push_lines(&bytes, out);
        }
        Ok(())
    }

    /// Opens the file at the path (reporting it missing once if it is not there); a file
    /// that follows another starts with a reset.
    fn open_path(&mut self, out: &mut Vec<Body>) -> io::Result<()> {
        // Checked before opening: opening a FIFO would block this thread.
        match std::fs::metadata(&self.path) {
            Ok(meta) => regular(&self.path, &meta)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.set_present(false, out);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.set_present(false, out);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        self.set_present(true, out);
        if self.followed {
            self.framer.reset();
            out.push(Body::Reset);
        }
        self.followed = true;
        self.open = Some(OpenFile::new(file, &meta));
        Ok(())
    }

    fn push_lines(&mut self, bytes: &[u8], out: &mut Vec<Body>) {
        if bytes.is_empty() {
            return;
        }
        let mut batch = LineBatch::default();
        self.framer.push(bytes, &mut batch);
        if !batch.is_empty() {
            out.push(Body::Lines(batch));
        }
    }

    /// True when the path has gone and the file that was there has been read to its end
    /// (as of the last poll).
    pub fn gone(&self) -> bool {
        self.present == Some(false)
    }

    /// At the end of the input (`--once`): the unterminated last line, if any.
    pub fn finish(&mut self, out: &mut Vec<Body>) {
        let mut batch = LineBatch::default();
        self.framer.finish(&mut batch);
        if !batch.is_empty() {
            out.push(Body::Lines(batch));
        }
    }

    /// Bytes consumed from the file being read.
    #[cfg(test)]
    fn offset(&self) -> u64 {
        self.open.as_ref().map_or(0, |o| o.offset)
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
                Body::Written(_) => {}
                _ => {}
            }
        }
        v
    }

    #[test]
    fn an_idle_tail_closes_its_file_and_reads_on_when_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"a\n").unwrap();
        let mut tail = FileTail::new(path.clone());
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["a"]);
        assert!(!tail.is_parked());
        for _ in 0..IDLE_POLLS {
            tail.poll(&mut Vec::new()).unwrap();
        }
        assert!(
            tail.is_parked(),
            "idle for {IDLE_POLLS} polls: the file is closed"
        );
        tail.poll(&mut Vec::new()).unwrap();
        assert!(tail.is_parked(), "unchanged: not reopened");
        f.write_all(b"b\n").unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["b"], "read on from the offset");
        assert!(!tail.is_parked());
        for _ in 0..IDLE_POLLS {
            tail.poll(&mut Vec::new()).unwrap();
        }
        assert!(tail.is_parked());
        // Replaced while parked: the new file from its start.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"c\nd\n").unwrap();
        let mut out = Vec::new();
        tail.poll(&mut out).unwrap();
        assert_eq!(lines_of(&out), vec!["<reset>", "c", "d"]);
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
        /// Truncated in place and written past the old end before the next poll.
        Rewrite(String),
        Poll,
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            "[a-z]{0,8}".prop_map(Action::Append),
            "[a-z]{1,8}".prop_map(Action::AppendPartial),
            Just(Action::Truncate),
            Just(Action::Replace),
            "[a-z]{0,8}".prop_map(Action::Rewrite),
            Just(Action::Poll),
            Just(Action::Poll),
        ]
    }

    fn complete_lines(content: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(content)
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    fn append(path: &std::path::Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Model-based: random appends, partial writes, truncations, replacements and
        /// rewrites in place against an in-memory model. Lines are never invented,
        /// duplicated or split; a replaced file's complete lines are all read before the new
        /// one; a truncation or rewrite of a file that had been read gives exactly one reset
        /// and the new content is read whole, from its start. (Lines appended and truncated
        /// away between two polls are gone from the file: they cannot be read.)
        #[test]
        fn tail_matches_model(actions in proptest::collection::vec(action(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.log");
            std::fs::write(&path, b"").unwrap();
            let mut tail = FileTail::new(path.clone());
            // What the current file holds; what must have been delivered before it.
            let mut content: Vec<u8> = Vec::new();
            let mut base: Vec<String> = Vec::new();
            let mut got: Vec<String> = Vec::new();
            for (n, a) in actions.into_iter().enumerate() {
                let mut expect_reset = None;
                match &a {
                    Action::Append(s) => {
                        content.extend(format!("{s}\n").bytes());
                        append(&path, format!("{s}\n").as_bytes());
                        continue;
                    }
                    Action::AppendPartial(s) => {
                        content.extend(s.bytes());
                        append(&path, s.as_bytes());
                        continue;
                    }
                    Action::Truncate => {
                        expect_reset = Some(tail.offset() > 0);
                        base = got.clone();
                        content.clear();
                        std::fs::write(&path, b"").unwrap();
                    }
                    Action::Replace => {
                        // An open file is drained; one never opened is never seen; a parked
                        // one (closed after IDLE_POLLS idle polls) keeps what was read, and
                        // what it got since is gone with it (the module docs).
                        if tail.is_parked() {
                            base = got.clone();
                        } else if tail.open.is_some() {
                            base.extend(complete_lines(&content));
                        }
                        content.clear();
                        std::fs::remove_file(&path).unwrap();
                        std::fs::write(&path, b"").unwrap();
                    }
                    Action::Rewrite(s) => {
                        expect_reset = Some(tail.offset() > 0);
                        base = got.clone();
                        // Unique first bytes; longer than what was there.
                        let line = format!("#{n}{s}\n");
                        content = line.repeat(content.len() / line.len() + 2).into_bytes();
                        let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
                        f.write_all(&content).unwrap();
                    }
                    Action::Poll => expect_reset = Some(false),
                }
                let mut out = Vec::new();
                for _ in 0..1000 {
                    if !tail.poll(&mut out).unwrap() {
                        break;
                    }
                }
                let seen = lines_of(&out);
                let resets = seen.iter().filter(|l| *l == "<reset>").count();
                match expect_reset {
                    Some(true) => prop_assert_eq!(resets, 1, "{:?}", seen),
                    Some(false) => prop_assert_eq!(resets, 0, "{:?}", seen),
                    // A replacement is a reset once a file was followed.
                    None => prop_assert!(resets <= 1, "{:?}", seen),
                }
                got.extend(seen.into_iter().filter(|l| !l.starts_with('<')));
                let mut want = base.clone();
                want.extend(complete_lines(&content));
                prop_assert_eq!(&got, &want);
            }
        }
    }

    #[test]
    fn rewritten_past_the_offset_between_polls_is_read_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let old: String = (0..5000).map(|i| format!("old {i}\n")).collect();
        std::fs::write(&path, &old).unwrap();
        let mut tail = FileTail::new(path.clone());
        let mut out = Vec::new();
        while tail.poll(&mut out).unwrap() {}
        assert_eq!(lines_of(&out).len(), 5000);
        // O_TRUNC, then more than before, with no poll in between.
        let new: String = (0..6000).map(|i| format!("new {i}\n")).collect();
        std::fs::write(&path, &new).unwrap();
        let mut out = Vec::new();
        while tail.poll(&mut out).unwrap() {}
        let seen = lines_of(&out);
        assert_eq!(seen[0], "<reset>");
        assert_eq!(seen.len(), 6001, "every new line, from the first");
        assert_eq!(seen[1], "new 0");
    }
}
