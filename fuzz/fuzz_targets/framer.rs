//! The line framer: any bytes in any chunking give the same lines, each line is under the
//! limit, and every newline is accounted for (a kept line or a dropped one).
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::source::lines::{LineBatch, LineFramer, MAX_LINE_BYTES};

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (data, cuts) = input;
    let mut points: Vec<usize> = cuts.iter().map(|&c| usize::from(c) % (data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    let whole = {
        let mut f = LineFramer::default();
        let mut b = LineBatch::default();
        f.push(&data, &mut b);
        b
    };
    let mut f = LineFramer::default();
    let mut pieces = Vec::new();
    let mut dropped = 0;
    for w in points.windows(2) {
        let mut b = LineBatch::default();
        f.push(&data[w[0]..w[1]], &mut b);
        dropped += b.too_long.len();
        pieces.extend(b.lines().map(|(n, l)| (n, l.to_vec())));
    }
    let expected: Vec<(u64, Vec<u8>)> = whole.lines().map(|(n, l)| (n, l.to_vec())).collect();
    assert_eq!(pieces, expected);
    assert_eq!(dropped, whole.too_long.len());
    assert!(expected.iter().all(|(_, l)| l.len() <= MAX_LINE_BYTES));
    let newlines = data.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(expected.len() + dropped, newlines);
});
