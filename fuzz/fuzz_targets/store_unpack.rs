//! Feeds arbitrary bytes to `natrix::store::pack` (the compressed body of a packed message,
//! `compression: s2`):
//! - `unpack` never panics and never allocates past a record's bound, whatever the block
//!   claims; what it accepts splits at the headers' length;
//! - whatever `Packer::pack` accepts unpacks to exactly its input.
//!
//! The first four bytes are the headers' length given to `unpack`; the rest is the block, and
//! also (split in two at its first byte's share) headers and payload to pack.

#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::store::pack::{unpack, Packer};

fuzz_target!(|data: &[u8]| {
    let [a, b, c, d, rest @ ..] = data else { return };
    let headers_len = u32::from_le_bytes([*a, *b, *c, *d]);
    if let Ok((headers, payload)) = unpack(headers_len, rest) {
        assert_eq!(headers.len(), headers_len as usize);
        assert!(headers.len() + payload.len() <= natrix::store::record::RECORD_BYTES_MAX);
    }
    let split = rest.first().map_or(0, |&s| usize::from(s) * rest.len() / 256);
    let (headers, payload) = rest.split_at(split);
    let mut packer = Packer::default();
    if packer.pack(headers, payload) {
        let back = unpack(headers.len() as u32, packer.packed()).expect("a packed body unpacks");
        assert_eq!((back.0.as_slice(), back.1.as_slice()), (headers, payload));
    }
});
