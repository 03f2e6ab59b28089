//! The records of a durable consumer's state file and its recovery, pure over bytes (the
//! file itself is `jetstream/consumer_store.rs`).
//!
//! A file is a sequence of records `len u32 LE, crc32c(body) u32 LE, body`; a body is a full
//! snapshot ([`super::persist`], first byte 1) or a delta ([`super::delta`], first byte 2).
//! Recovery reads records up to the first torn or damaged one (a short header or body, a
//! checksum that does not match: the tail a crash left), takes the last full snapshot among
//! them and applies every delta after it in order. A delta that does not fit the state is
//! not applied, nor is anything after it. Nothing here panics on any bytes.
//!
//! A record with an empty body is never written (every body starts with its version byte),
//! so a zero length ends the records: with `sync_interval: always` the store preallocates
//! the file with written zeros after its snapshot (`jetstream/consumer_store.rs`), and zeros
//! from the end of the last intact record to the end of the file are its clean end, not a
//! torn tail ([`Recovered::clean_end`]). Zeros after a torn record are still a torn tail.

use super::delta::DELTA_VERSION;
use super::persist::{SnapshotError, StateImage, SNAPSHOT_VERSION};

/// Bytes before a body in a state record: length and checksum.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Appends one record around `body`.
pub fn encode_record(body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
}

/// The intact records of a file's bytes, in order, until the first torn or damaged one:
/// `(offset of the record, body)`.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = bytes.get(at..)?;
        let header = rest.get(..RECORD_HEADER_BYTES)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 {
            return None;
        }
        let body = rest.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES.checked_add(len)?)?;
        if crc32c::crc32c(body) != crc {
            return None;
        }
        let item = (at, body);
        at += RECORD_HEADER_BYTES + len;
        Some(item)
    })
}

/// What recovery found in a state file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The state: the last snapshot with the deltas after it applied.
    pub image: StateImage,
    /// Size of the last snapshot's record (the store compacts relative to it).
    pub snapshot_record_bytes: usize,
    /// Deltas applied after it.
    pub deltas_applied: usize,
    /// The delta that did not fit (with the reason), where applying stopped.
    pub refused: Option<(usize, SnapshotError)>,
    /// Bytes of intact records; anything after them is a torn or damaged tail, or zeros.
    pub intact_bytes: usize,
    /// Everything after the intact records is zeros (a preallocated file's unwritten rest):
    /// nothing torn or damaged.
    pub clean_end: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverError {
    /// No intact snapshot in the file (empty, or torn before its first record ended).
    NoSnapshot,
    /// The last intact snapshot does not decode.
    Snapshot(SnapshotError),
}

/// Recovers a consumer's state from a state file's bytes.
pub fn recover(bytes: &[u8]) -> Result<Recovered, RecoverError> {
    let mut last_snapshot = None;
    let mut intact_bytes = 0;
    for (at, body) in records(bytes) {
        if body.first() == Some(&SNAPSHOT_VERSION) {
            last_snapshot = Some(at);
        }
        intact_bytes = at + RECORD_HEADER_BYTES + body.len();
    }
    let start = last_snapshot.ok_or(RecoverError::NoSnapshot)?;
    let tail = &bytes[start..intact_bytes];
    let mut recs = records(tail);
    let (_, snapshot) = recs.next().ok_or(RecoverError::NoSnapshot)?;
    let mut image = StateImage::decode(snapshot).map_err(RecoverError::Snapshot)?;
    let mut deltas_applied = 0;
    let mut refused = None;
    for (at, body) in recs {
        let applied = match body.first() {
            Some(&DELTA_VERSION) => image.apply_delta(body),
            Some(&v) => Err(SnapshotError::Version(v)),
            None => Err(SnapshotError::Truncated),
        };
        if let Err(e) = applied {
            refused = Some((start + at, e));
            break;
        }
        deltas_applied += 1;
    }
    Ok(Recovered {
        image,
        snapshot_record_bytes: RECORD_HEADER_BYTES + snapshot.len(),
        deltas_applied,
        refused,
        intact_bytes,
        clean_end: bytes[intact_bytes..].iter().all(|&b| b == 0),
    })
}

#[cfg(test)]
#[path = "state_log_tests.rs"]
mod tests;
