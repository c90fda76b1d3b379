//! [`LineFramer`]: push bytes, pop complete lines, hold the partial tail, drop lines over
//! [`MAX_LINE_BYTES`] (counted, never buffered whole). Pure.

/// Longest line kept. A longer one is dropped up to its next newline and reported by number.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Complete lines, each stored with a `\n` terminator (a `\r` before it is removed).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LineBatch {
    /// The lines, each ending in `\n`.
    pub text: Vec<u8>,
    /// 1-based number of the first line in `text` (or of the first dropped line).
    pub first_line: u64,
    /// Numbers of lines dropped for being over [`MAX_LINE_BYTES`], ascending.
    pub too_long: Vec<u64>,
}

impl LineBatch {
    /// True if there is neither a line nor a dropped line.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.too_long.is_empty()
    }

    /// The kept lines with their 1-based numbers, terminators removed.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        let mut number = self.first_line;
        let mut skipped = self.too_long.iter().peekable();
        let mut start = 0;
        let text = &self.text[..];
        memchr::memchr_iter(b'\n', text).map(move |end| {
            while skipped.next_if(|&&n| n == number).is_some() {
                number += 1;
            }
            let line = (number, &text[start..end]);
            number += 1;
            start = end + 1;
            line
        })
    }
}

/// Splits a byte stream into lines.
#[derive(Debug, Default, Clone)]
pub struct LineFramer {
    partial: Vec<u8>,
    /// Inside a line that is already too long: drop bytes up to the next newline.
    discarding: bool,
    /// Lines completed so far (the next line's number is `done + 1`).
    done: u64,
}

impl LineFramer {
    /// Appends `bytes`, moving every completed line into `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut LineBatch) {
        if out.is_empty() {
            out.first_line = self.done + 1;
        }
        while !bytes.is_empty() {
            match memchr::memchr(b'\n', bytes) {
                Some(i) => {
                    let (head, rest) = (&bytes[..i], &bytes[i + 1..]);
                    bytes = rest;
                    self.done += 1;
                    if self.discarding || self.partial.len() + head.len() > MAX_LINE_BYTES {
                        self.discarding = false;
                        self.partial.clear();
                        out.too_long.push(self.done);
                        continue;
                    }
                    let start = out.text.len();
                    out.text.extend_from_slice(&self.partial);
                    out.text.extend_from_slice(head);
                    self.partial.clear();
                    if out.text.len() > start && out.text.last() == Some(&b'\r') {
                        out.text.pop();
                    }
                    out.text.push(b'\n');
                }
                None => {
                    if !self.discarding {
                        if self.partial.len() + bytes.len() > MAX_LINE_BYTES {
                            self.discarding = true;
                            self.partial = Vec::new();
                        } else {
                            self.partial.extend_from_slice(bytes);
                        }
                    }
                    bytes = &[];
                }
            }
        }
    }

    /// At the end of a stream: the unterminated last line, if any, becomes a line.
    pub fn finish(&mut self, out: &mut LineBatch) {
        if self.partial.is_empty() && !self.discarding {
            return;
        }
        self.push(b"\n", out);
    }

    /// True if bytes of an unfinished line are held.
    #[cfg(test)]
    fn has_partial(&self) -> bool {
        !self.partial.is_empty() || self.discarding
    }

    /// Forgets everything (after a truncation): the next line is line 1.
    pub fn reset(&mut self) {
        *self = LineFramer::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(b: &LineBatch) -> Vec<(u64, Vec<u8>)> {
        b.lines().map(|(n, l)| (n, l.to_vec())).collect()
    }

    #[test]
    fn splits_holds_partial_and_strips_cr() {
        let mut f = LineFramer::default();
        let mut out = LineBatch::default();
        f.push(b"a,b\r\nc", &mut out);
        assert_eq!(collect(&out), vec![(1, b"a,b".to_vec())]);
        assert!(f.has_partial());
        let mut out = LineBatch::default();
        f.push(b"d\r\n\r\ne\n", &mut out);
        assert_eq!(
            collect(&out),
            vec![(2, b"cd".to_vec()), (3, vec![]), (4, b"e".to_vec())]
        );
    }

    #[test]
    fn too_long_lines_are_dropped_and_numbered() {
        let mut f = LineFramer::default();
        let mut out = LineBatch::default();
        f.push(b"ok\n", &mut out);
        f.push(&vec![b'x'; MAX_LINE_BYTES + 10], &mut out);
        assert!(f.partial.is_empty(), "an overlong line is not buffered");
        f.push(&[b'x'; 100], &mut out);
        f.push(b"xx\nnext\n", &mut out);
        assert_eq!(out.too_long, vec![2]);
        assert_eq!(
            collect(&out),
            vec![(1, b"ok".to_vec()), (3, b"next".to_vec())]
        );
        let mut f = LineFramer::default();
        let mut out = LineBatch::default();
        let exactly = vec![b'y'; MAX_LINE_BYTES];
        f.push(&exactly, &mut out);
        f.push(b"\n", &mut out);
        assert_eq!(
            out.lines().next().map(|(_, l)| l.len()),
            Some(MAX_LINE_BYTES)
        );
    }

    #[test]
    fn finish_flushes_the_last_line() {
        let mut f = LineFramer::default();
        let mut out = LineBatch::default();
        f.push(b"a\nb", &mut out);
        f.finish(&mut out);
        assert_eq!(collect(&out), vec![(1, b"a".to_vec()), (2, b"b".to_vec())]);
    }

    proptest! {
        /// Any chunking of any input gives the same lines as splitting the whole input:
        /// nothing invented, nothing duplicated, lines never split.
        #[test]
        fn chunking_does_not_matter(
            lines in proptest::collection::vec("[a-z,\"]{0,20}", 0..20),
            cuts in proptest::collection::vec(0usize..400, 0..10),
        ) {
            let input: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\r\n").into_bytes()).collect();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            points.push(0);
            points.push(input.len());
            points.sort_unstable();
            let mut f = LineFramer::default();
            let mut got = Vec::new();
            for w in points.windows(2) {
                let mut out = LineBatch::default();
                f.push(&input[w[0]..w[1]], &mut out);
                got.extend(collect(&out));
            }
            let want: Vec<(u64, Vec<u8>)> =
                lines.iter().enumerate().map(|(i, l)| (i as u64 + 1, l.clone().into_bytes())).collect();
            prop_assert_eq!(got, want);
            prop_assert!(!f.has_partial());
        }
    }
}
