//! `compression: s2`: a message's headers and payload stored as one compressed block
//! ([`Record::Packed`](super::record::Record::Packed)). Sans-io.
//!
//! nats-server compresses a whole message block once it is sealed (rewriting the file). Here
//! each message is compressed on its own as it is appended, so a record's offset and length
//! stay what the slots, the checkpoint and the summaries say, reads by sequence stay one
//! `pread`, and nothing is ever rewritten: a crash can tear a packed record like any other,
//! and recovery cuts it the same way. The cost is the ratio on small messages, which share
//! nothing with their neighbours: a body under [`PACK_BODY_BYTES_MIN`] is stored plain, as is
//! one that would not shrink by at least an eighth ([`PACK_SAVING_DIVISOR`]).
//!
//! The block is Snappy's raw format (the `snap` crate, BurntSushi's; no S2 crate on the
//! registry is as well kept). S2 is a superset of Snappy: an S2 decoder reads these blocks.

use super::record::RECORD_BYTES_MAX;

/// Bodies (headers + payload) shorter than this are stored plain.
pub const PACK_BODY_BYTES_MIN: usize = 128;
/// A packed body must be at most `len - len / PACK_SAVING_DIVISOR`, or it is stored plain:
/// an eighth smaller at least, so a read pays the decompression only where it saves space.
pub const PACK_SAVING_DIVISOR: usize = 8;

/// The compressor of one log, with its buffers kept between appends.
pub struct Packer {
    enc: snap::raw::Encoder,
    input: Vec<u8>,
    output: Vec<u8>,
    packed_len: usize,
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packer")
            .field("packed_len", &self.packed_len)
            .finish_non_exhaustive()
    }
}

impl Default for Packer {
    fn default() -> Self {
        Packer {
            enc: snap::raw::Encoder::new(),
            input: Vec::new(),
            output: Vec::new(),
            packed_len: 0,
        }
    }
}

impl Packer {
    /// Compresses `headers` then `payload`; true when the result is worth storing, which
    /// [`Packer::packed`] then holds.
    pub fn pack(&mut self, headers: &[u8], payload: &[u8]) -> bool {
        let body_len = headers.len() + payload.len();
        if body_len < PACK_BODY_BYTES_MIN {
            return false;
        }
        self.input.clear();
        self.input.extend_from_slice(headers);
        self.input.extend_from_slice(payload);
        self.output.resize(snap::raw::max_compress_len(body_len), 0);
        match self.enc.compress(&self.input, &mut self.output) {
            Ok(n) if n <= body_len - body_len / PACK_SAVING_DIVISOR => {
                self.packed_len = n;
                true
            }
            _ => false,
        }
    }

    /// The block of the last successful [`Packer::pack`].
    pub fn packed(&self) -> &[u8] {
        &self.output[..self.packed_len]
    }
}

/// Why a packed body does not unpack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnpackError {
    /// Not a Snappy block, or its stated length is above a record's.
    BadBlock,
    /// It unpacks to fewer bytes than its headers claim.
    ShortBody,
}

/// The headers and payload of a packed body. Never panics; allocates at most
/// [`RECORD_BYTES_MAX`], whatever the block claims.
pub fn unpack(headers_len: u32, body: &[u8]) -> Result<(Vec<u8>, Vec<u8>), UnpackError> {
    let len = snap::raw::decompress_len(body).map_err(|_| UnpackError::BadBlock)?;
    if len > RECORD_BYTES_MAX {
        return Err(UnpackError::BadBlock);
    }
    let headers_len = headers_len as usize;
    if headers_len > len {
        return Err(UnpackError::ShortBody);
    }
    let mut all = vec![0; len];
    match snap::raw::Decoder::new().decompress(body, &mut all) {
        Ok(n) if n == len => {}
        _ => return Err(UnpackError::BadBlock),
    }
    let payload = all.split_off(headers_len);
    Ok((all, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressible_body_packs_and_unpacks_to_its_parts() {
        let headers = b"NATS/1.0\r\nA: b\r\n\r\n".to_vec();
        let payload = b"abcdefgh".repeat(64);
        let mut p = Packer::default();
        assert!(p.pack(&headers, &payload));
        assert!(p.packed().len() < (headers.len() + payload.len()) / 4);
        assert_eq!(
            unpack(headers.len() as u32, p.packed()),
            Ok((headers, payload))
        );
    }

    #[test]
    fn small_or_incompressible_bodies_stay_plain() {
        let mut p = Packer::default();
        assert!(!p.pack(b"", &[b'a'; PACK_BODY_BYTES_MIN - 1]));
        // A xorshift sequence: no repeats for Snappy to find.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(!p.pack(b"", &noise));
        assert!(p.pack(b"", &[b'a'; PACK_BODY_BYTES_MIN]));
    }

    #[test]
    fn a_block_that_claims_too_much_or_too_little_is_refused() {
        let mut p = Packer::default();
        assert!(p.pack(b"", &[7; 1000]));
        assert_eq!(unpack(1001, p.packed()), Err(UnpackError::ShortBody));
        // A varint length of 2^32 - 1 and nothing behind it.
        assert_eq!(
            unpack(0, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(UnpackError::BadBlock)
        );
        let mut cut = p.packed().to_vec();
        cut.truncate(cut.len() - 1);
        assert_eq!(unpack(0, &cut), Err(UnpackError::BadBlock));
    }
}
