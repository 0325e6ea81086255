//! Fuzz the request edge below hyper's parser (`herald_core::http_framing`,
//! which follows each request's head, `Content-Length` body and chunks on
//! a connection): the first two bytes of the input choose how the rest is
//! cut into reads, the rest is what a client sends. Whatever comes, and
//! however it is cut, no panic; every byte is let through, in order, as
//! it came, but for `Content-Length` names renamed to the marker in heads
//! that also have `Transfer-Encoding`; and the bytes let through do not
//! depend on how the reads were cut.
#![no_main]

use herald_core::http_framing::{RequestFraming, MARKER};
use libfuzzer_sys::fuzz_target;

fn run(input: &[u8], cuts: &[usize]) -> (Vec<u8>, u64) {
    let mut f = RequestFraming::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < input.len() {
        let n = cuts[i % cuts.len()].max(1).min(input.len() - at);
        f.feed(&input[at..at + n], &mut out);
        at += n;
        i += 1;
    }
    f.finish(&mut out);
    (out, f.flagged())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cuts = [1 + data[0] as usize % 17, 1 + data[1] as usize * 7];
    let input = &data[2..];
    let (out, flagged) = run(input, &cuts);
    assert_eq!(out.len(), input.len(), "bytes added or lost");
    if flagged == 0 {
        assert_eq!(out, input, "bytes changed without a flagged head");
    } else {
        let marker = MARKER.as_bytes();
        let mut k = 0;
        while k < out.len() {
            if out[k] == input[k] {
                k += 1;
                continue;
            }
            // A change: inside a renamed Content-Length.
            let start = (k + 1).saturating_sub(marker.len());
            let renamed = (start..=k).any(|s| {
                out.get(s..s + marker.len()) == Some(marker)
                    && input
                        .get(s..s + marker.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(b"content-length"))
            });
            assert!(renamed, "byte {k} changed outside a renamed Content-Length");
            k += 1;
        }
    }
    let (whole, whole_flagged) = run(input, &[input.len().max(1)]);
    assert_eq!(whole, out, "the output depends on how reads are cut");
    assert_eq!(whole_flagged, flagged);
});
