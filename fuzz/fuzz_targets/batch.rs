//! Fuzz the `$batch` multipart parser: the first line of the input is the
//! Content-Type, the rest the body. Any input must give a Batch or a
//! BatchError, never a panic; the answer writer must take what it parsed.
#![no_main]

use herald_core::batch::response::{write, PartResponse, ResponseItem};
use herald_core::batch::{parse_batch, BatchItem, MAX_REQUESTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or(&[]);
    let Ok(batch) = parse_batch(content_type, body, MAX_REQUESTS) else { return };
    let echo = |r: &herald_core::batch::BatchRequest| PartResponse {
        content_id: r.content_id.clone(),
        status: 200,
        reason: "OK".into(),
        headers: r.headers.clone(),
        body: r.body.clone(),
    };
    let items: Vec<ResponseItem> = batch
        .items
        .iter()
        .map(|item| match item {
            BatchItem::Request(r) => ResponseItem::Single(echo(r)),
            BatchItem::ChangeSet(rs) => ResponseItem::ChangeSet {
                boundary: "cs".into(),
                parts: rs.iter().map(echo).collect(),
            },
        })
        .collect();
    let _ = write("b", &items);
});
