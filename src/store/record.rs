//! The on-disk record: the one format shared by segments of streams, consumer state and
//! NATS Streaming channels. Sans-io: encode into a caller's buffer, decode from `&[u8]`.
//!
//! # Format (all integers little-endian)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | `len`: the whole record, header included (>= 32, <= [`RECORD_BYTES_MAX`]) |
//! | 4 | 4 | CRC32C over bytes 0..4 and 8..len (the length is covered, unlike nats-server) |
//! | 8 | 1 | kind: 1 message, 2 delete range, 3 erased message, 4 commit |
//! | 9 | 1 | flags: 0, or [`FLAG_PACKED`] on a message (any other value is rejected, so garbage resyncs less often) |
//! | 10 | 2 | subject length `s` |
//! | 12 | 4 | header length `h` |
//! | 16 | 8 | sequence |
//! | 24 | 8 | timestamp, Unix ns (signed) |
//! | 32 | s | subject |
//! | 32+s | h | headers (the raw `NATS/1.0` block) |
//! | 32+s+h | rest | payload |
//!
//! A **packed** message (flags = [`FLAG_PACKED`], `compression: s2`, `pack.rs`) keeps its subject in
//! the clear (recovery and the subject index read it) and stores headers and payload together
//! as one Snappy block after it; `h` is then the length of the headers once unpacked, and the
//! record's `len` is what it takes on disk (what the stream's `bytes` count).
//!
//! Kinds other than a message carry no subject and no headers:
//! * **delete range** (the tombstone): sequence = first deleted, payload = 8 bytes, the last
//!   deleted (inclusive). Deletes of a flush are coalesced into ranges.
//! * **erased**: a message overwritten in place (secure delete): same length as the message it
//!   replaces, sequence kept, timestamp 0, payload zeros, a fresh CRC, so a scan walks past it.
//! * **commit**: the first record of every flushed batch. Sequence = the high-water mark (the
//!   last sequence ever issued), timestamp field = the floor (every sequence below it is gone).
//!   It is written *before* the batch's records, so a torn tail keeps it, and recovery never
//!   issues a sequence twice.
//!
//! Invariants: `decode` never panics and never reads past `buf`; a record it accepts re-encodes
//! to the same bytes; `scan` reports every byte of its input as a record, damage or a torn tail,
//! except all-zero bytes from a record boundary to the end: the clean end of a preallocated
//! file (a record's length is never 0), reported as nothing ([`Scan::end`] says where it is).

/// Bytes of the fixed header.
pub const HEADER_BYTES: usize = 32;
/// The largest record accepted: a bound that stops a damaged length from claiming the file.
pub const RECORD_BYTES_MAX: usize = 64 << 20;
/// Bytes of a delete-range record.
pub const DELETE_RECORD_BYTES: usize = HEADER_BYTES + 8;
/// Bytes of a commit record.
pub const COMMIT_RECORD_BYTES: usize = HEADER_BYTES;

const KIND_MSG: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_ERASED: u8 = 3;
const KIND_COMMIT: u8 = 4;
/// Flag of a message whose headers and payload are one compressed block (`pack.rs`).
pub const FLAG_PACKED: u8 = 1;

/// One decoded record; slices borrow the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    Msg {
        seq: u64,
        ts_ns: i64,
        subject: &'a [u8],
        headers: &'a [u8],
        payload: &'a [u8],
    },
    /// A message whose headers and payload are one compressed block ([`super::pack`]);
    /// `headers_len` is the headers' length once unpacked.
    Packed {
        seq: u64,
        ts_ns: i64,
        subject: &'a [u8],
        headers_len: u32,
        body: &'a [u8],
    },
    /// Sequences `first..=last` are deleted.
    Delete {
        first: u64,
        last: u64,
    },
    Erased {
        seq: u64,
    },
    /// `hwm`: last sequence issued; `floor`: every sequence below it is gone.
    Commit {
        hwm: u64,
        floor: u64,
    },
}

/// Why bytes are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the record needs (`need` is what is known so far).
    Truncated {
        need: usize,
    },
    /// A length below the header, above [`RECORD_BYTES_MAX`], or with parts that do not fit.
    BadLength,
    BadKind,
    BadChecksum,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { need } => write!(f, "truncated record, {need} bytes needed"),
            DecodeError::BadLength => f.write_str("bad record length"),
            DecodeError::BadKind => f.write_str("bad record kind or flags"),
            DecodeError::BadChecksum => f.write_str("bad record checksum"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Whether a message of these parts fits one record.
pub fn msg_fits(subject: &[u8], headers: &[u8], payload: &[u8]) -> bool {
    subject.len() <= usize::from(u16::MAX)
        && HEADER_BYTES + subject.len() + headers.len() + payload.len() <= RECORD_BYTES_MAX
}

/// The record length of a message, assuming [`msg_fits`].
pub fn msg_len(subject: &[u8], headers: &[u8], payload: &[u8]) -> usize {
    HEADER_BYTES + subject.len() + headers.len() + payload.len()
}

/// Appends a message record to `out`; returns its length. The caller checks [`msg_fits`].
pub fn encode_msg(
    out: &mut Vec<u8>,
    seq: u64,
    ts_ns: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) -> usize {
    debug_assert!(msg_fits(subject, headers, payload));
    let len = msg_len(subject, headers, payload);
    let start = out.len();
    out.reserve(len);
    put_header(
        out,
        len,
        KIND_MSG,
        subject.len(),
        headers.len(),
        seq,
        ts_ns as u64,
    );
    out.extend_from_slice(subject);
    out.extend_from_slice(headers);
    out.extend_from_slice(payload);
    seal(&mut out[start..]);
    len
}

/// The record length of a packed message.
pub fn packed_len(subject: &[u8], body: &[u8]) -> usize {
    HEADER_BYTES + subject.len() + body.len()
}

/// Appends a packed message record (`body`: the compressed headers and payload, see
/// [`super::pack`]); returns its length. The caller checks that it fits (as [`msg_fits`]).
pub fn encode_packed(
    out: &mut Vec<u8>,
    seq: u64,
    ts_ns: i64,
    subject: &[u8],
    headers_len: u32,
    body: &[u8],
) -> usize {
    let len = packed_len(subject, body);
    debug_assert!(subject.len() <= usize::from(u16::MAX) && len <= RECORD_BYTES_MAX);
    let start = out.len();
    out.reserve(len);
    put_header(
        out,
        len,
        KIND_MSG,
        subject.len(),
        headers_len as usize,
        seq,
        ts_ns as u64,
    );
    out[start + 9] = FLAG_PACKED;
    out.extend_from_slice(subject);
    out.extend_from_slice(body);
    seal(&mut out[start..]);
    len
}

/// Appends a delete-range record (`first..=last`).
pub fn encode_delete(out: &mut Vec<u8>, first: u64, last: u64) {
    let start = out.len();
    put_header(out, DELETE_RECORD_BYTES, KIND_DELETE, 0, 0, first, 0);
    out.extend_from_slice(&last.to_le_bytes());
    seal(&mut out[start..]);
}

/// Appends a commit record.
pub fn encode_commit(out: &mut Vec<u8>, hwm: u64, floor: u64) {
    let start = out.len();
    put_header(out, COMMIT_RECORD_BYTES, KIND_COMMIT, 0, 0, hwm, floor);
    seal(&mut out[start..]);
}

/// Overwrites `rec` (a whole record of at least [`HEADER_BYTES`]) with an erased record of the
/// same length for `seq`.
pub fn erase_in_place(rec: &mut [u8], seq: u64) {
    if rec.len() < HEADER_BYTES {
        return;
    }
    let len = rec.len();
    rec.fill(0);
    let mut header = Vec::with_capacity(HEADER_BYTES);
    put_header(&mut header, len, KIND_ERASED, 0, 0, seq, 0);
    rec[..HEADER_BYTES].copy_from_slice(&header);
    seal(rec);
}

/// Rewrites bytes 4..8 of a finished record `rec` with its CRC.
fn seal(rec: &mut [u8]) {
    let crc = checksum(rec);
    rec[4..8].copy_from_slice(&crc.to_le_bytes());
}

fn checksum(rec: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&rec[..4]), &rec[8..])
}

fn put_header(
    out: &mut Vec<u8>,
    len: usize,
    kind: u8,
    subject_len: usize,
    headers_len: usize,
    seq: u64,
    ts: u64,
) {
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.push(0);
    out.extend_from_slice(&(subject_len as u16).to_le_bytes());
    out.extend_from_slice(&(headers_len as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Decodes the record at the start of `buf`; returns it and its length.
pub fn decode(buf: &[u8]) -> Result<(Record<'_>, usize), DecodeError> {
    if buf.len() < HEADER_BYTES {
        return Err(DecodeError::Truncated { need: HEADER_BYTES });
    }
    let len = u32_at(buf, 0) as usize;
    if !(HEADER_BYTES..=RECORD_BYTES_MAX).contains(&len) {
        return Err(DecodeError::BadLength);
    }
    let (kind, flags) = (buf[8], buf[9]);
    let packed = flags == FLAG_PACKED && kind == KIND_MSG;
    if !(KIND_MSG..=KIND_COMMIT).contains(&kind) || (flags != 0 && !packed) {
        return Err(DecodeError::BadKind);
    }
    let subject_len = usize::from(u16::from_le_bytes([buf[10], buf[11]]));
    let headers_len = u32_at(buf, 12) as usize;
    // A packed message's headers are inside its compressed body, so they need not fit.
    let stored_headers_len = if packed { 0 } else { headers_len };
    // Checked before the CRC so garbage is rejected cheaply during a resync.
    if HEADER_BYTES + subject_len + stored_headers_len > len
        || (kind != KIND_MSG && (subject_len != 0 || headers_len != 0))
        || (kind == KIND_DELETE && len != DELETE_RECORD_BYTES)
        || (kind == KIND_COMMIT && len != COMMIT_RECORD_BYTES)
    {
        return Err(DecodeError::BadLength);
    }
    if buf.len() < len {
        return Err(DecodeError::Truncated { need: len });
    }
    let rec = &buf[..len];
    if checksum(rec) != u32_at(rec, 4) {
        return Err(DecodeError::BadChecksum);
    }
    let seq = u64_at(rec, 16);
    let ts = u64_at(rec, 24);
    let record = match kind {
        KIND_MSG if packed => Record::Packed {
            seq,
            ts_ns: ts as i64,
            subject: &rec[HEADER_BYTES..HEADER_BYTES + subject_len],
            headers_len: headers_len as u32,
            body: &rec[HEADER_BYTES + subject_len..],
        },
        KIND_MSG => {
            let headers_at = HEADER_BYTES + subject_len;
            let payload_at = headers_at + headers_len;
            Record::Msg {
                seq,
                ts_ns: ts as i64,
                subject: &rec[HEADER_BYTES..headers_at],
                headers: &rec[headers_at..payload_at],
                payload: &rec[payload_at..],
            }
        }
        KIND_DELETE => Record::Delete {
            first: seq,
            last: u64_at(rec, HEADER_BYTES),
        },
        KIND_ERASED => Record::Erased { seq },
        _ => Record::Commit {
            hwm: seq,
            floor: ts,
        },
    };
    Ok((record, len))
}

/// What [`scan`] found at one offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanItem<'a> {
    Record {
        offset: usize,
        record: Record<'a>,
    },
    /// Bytes `offset..offset + len` are not records, and a valid record follows them.
    Damage {
        offset: usize,
        len: usize,
    },
    /// Bytes from `offset` to the end hold no valid record: a torn or corrupt tail.
    TornTail {
        offset: usize,
    },
}

/// Walks `buf` from `offset`: records, then on the first invalid one, a resync by trying every
/// following byte offset for a valid record. Never yields anything after a `TornTail`. Ends,
/// yielding nothing more, where only zeros remain at a record boundary (or after damage): a
/// preallocated file's unwritten rest. Zeros after a torn record are part of its torn tail.
pub fn scan(buf: &[u8], offset: usize) -> Scan<'_> {
    Scan {
        buf,
        pos: offset,
        done: false,
    }
}

/// Iterator returned by [`scan`].
pub struct Scan<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Scan<'a> {
    type Item = ScanItem<'a>;

    fn next(&mut self) -> Option<ScanItem<'a>> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        if let Ok((record, len)) = decode(&self.buf[at..]) {
            self.pos += len;
            return Some(ScanItem::Record { offset: at, record });
        }
        if self.buf[at..].iter().all(|&b| b == 0) {
            self.done = true;
            return None;
        }
        match (at + 1..self.buf.len()).find(|&q| decode(&self.buf[q..]).is_ok()) {
            Some(q) => {
                self.pos = q;
                Some(ScanItem::Damage {
                    offset: at,
                    len: q - at,
                })
            }
            None => {
                self.done = true;
                self.pos = self.buf.len();
                Some(ScanItem::TornTail { offset: at })
            }
        }
    }
}

impl Scan<'_> {
    /// Where the scanned bytes end so far: after the last record, damage or torn tail yielded
    /// (the input's end but for a trailing run of zeros). Once the scan is exhausted, the
    /// logical size of the file it read.
    pub fn end(&self) -> usize {
        self.pos.min(self.buf.len())
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
