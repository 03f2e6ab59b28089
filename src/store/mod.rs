//! The storage engine shared by JetStream streams (issue 10), consumer state (issue 11) and
//! NATS Streaming channels (issue 12): a message log of sequenced, checksummed records in
//! bounded, append-only segments, with a dense sequence index and a per-subject index in RAM.
//!
//! Layers, each sans-io except the last:
//! * [`record`]: the record format (written down there) and a resyncing scan; [`pack`]: the
//!   compressed form of a message's headers and payload (`compression: s2`).
//! * [`subjects`]: subject → (count, first, last), so per-subject limits, last-by-subject and KV
//!   gets never scan messages.
//! * [`log`]: the [`Log`]: segments, slots, counters, limits, purge, and the [`FlushPlan`] of
//!   each group commit. The memory backend is a non-durable `Log` ([`MemStore`]).
//! * [`recovery`]: state rebuilt as a pure function of the directory's bytes, and the
//!   checkpoint format; [`summary`]: per-segment summaries that stand for a segment's scan.
//! * [`file`]: [`StoreIo`] (coarse file operations), its `std::fs` implementation, and
//!   [`FileStore`], the thin driver that carries out flush plans and disk reads.
//! * [`group_commit`]: the pipelined group commit: which held acks wait for which deferred
//!   fdatasync (one in flight; the next group forms meanwhile).
//!
//! # Directory layout (names from [`Layout`], overridable per caller)
//!
//! ```text
//! <root>/                         e.g. <store_dir>/jetstream/<account>/streams/<name>
//!   meta.json  meta.sum           the stream config (opaque bytes) and its CRC32C in hex
//!   index.chk                     the checkpoint: the whole index, covering segment bytes up to
//!                                 a recorded size each (recovery replays only what follows)
//!   msgs/<id>.blk                 segments, ids from 1 in sequence order; a sealed one is
//!                                 exactly its records; the tail, when preallocated (`file.rs`,
//!                                 with `sync`), runs on in zeros past its last record, by up
//!                                 to 1 MiB and at most to `segment_bytes_max`
//!   msgs/<id>.sum                 a sealed segment's summary: its scan result (`summary.rs`)
//! ```
//! NATS Streaming channels pass their own root (e.g. `<dir>/<channel>`).
//!
//! # Guarantees
//! * A sequence is never issued twice: every flushed batch starts with a commit record holding
//!   the high-water mark, and recovery sets `last_seq` to the highest one seen.
//! * A torn or corrupt record is never served: recovery cuts a torn tail, keeps the valid
//!   records after damage in the middle, and reports what is missing as [`StoreState::lost`].
//! * Acks wait for the flush: [`MessageLog::flush`] returns after one write (and one
//!   fdatasync when asked) per touched segment for everything appended since the last flush;
//!   with a deferred sync, for the [`group_commit`] that the caller completes.
//! * Limit of the high-water mark: it lives in each batch's commit record, so losing a whole
//!   synced batch *including* its commit (not just a torn tail) falls back to the previous
//!   batch's mark.
//!
//! * `compression: s2` never rewrites a file: a message is packed when appended
//!   ([`pack`]), so a packed record is written, torn and recovered like a plain one.
//!
//! Not here yet: rewriting sparse sealed segments (only empty ones are dropped), `max_age`,
//! and aligning commits to the device block for O_DIRECT writes.

pub mod file;
pub mod group_commit;
pub mod log;
pub mod pack;
#[cfg(test)]
mod pack_tests;
pub mod read_ahead;
pub mod record;
pub mod recovery;
pub mod subjects;
pub mod summary;
#[cfg(test)]
mod test_io;

pub use file::{FileStore, Layout, StdIo, StoreIo, SyncFile};
pub use log::{FlushPlan, Log, LogConfig};
pub use subjects::SubjectState;

/// An inclusive range of sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqRange {
    pub first: u64,
    pub last: u64,
}

/// One stored message, copied out of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    pub ts_ns: i64,
    pub subject: Vec<u8>,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Stream limits the log enforces on request (discard old: the oldest go first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub msgs_max: Option<u64>,
    pub bytes_max: Option<u64>,
    pub msgs_per_subject_max: Option<u64>,
}

/// A purge request: `$JS.API.STREAM.PURGE` with its `filter`, `seq` and `keep`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purge<'a> {
    /// Only messages on matching subjects (wildcards allowed); `None`: all.
    pub filter: Option<&'a [u8]>,
    /// Only messages below this sequence (exclusive).
    pub up_to_seq: Option<u64>,
    /// Keep this many of the newest (matching) messages.
    pub keep: Option<u64>,
}

/// A snapshot of the log's counters. `bytes` counts whole records (header included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreState {
    pub first_seq: u64,
    pub last_seq: u64,
    pub msgs: u64,
    pub bytes: u64,
    /// 0 when empty.
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub num_deleted: u64,
    pub num_subjects: u64,
    /// Sequences issued and then lost to damage or a lost tail, found at recovery.
    pub lost: Vec<SeqRange>,
}

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    InvalidSubject,
    /// The message does not fit one record (subject over 65,535 bytes or record over 64 MiB).
    MsgTooLarge,
    /// `first_seq` may only be set on an empty log, ahead of every sequence issued.
    SeqWouldReuse {
        last_seq: u64,
    },
    /// The record of `seq` failed its checksum when read: reported, never served.
    Corrupt {
        seq: u64,
    },
    Io {
        op: IoOp,
        name: String,
        kind: std::io::ErrorKind,
    },
    /// `meta.json` does not match `meta.sum`.
    BadMeta,
}

/// The [`StoreIo`] operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOp {
    Create,
    Append,
    Read,
    WriteAt,
    Sync,
    Rename,
    Remove,
    List,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::InvalidSubject => f.write_str("invalid subject"),
            StoreError::MsgTooLarge => f.write_str("message too large for one record"),
            StoreError::SeqWouldReuse { last_seq } => {
                write!(
                    f,
                    "first sequence must be above the last issued ({last_seq})"
                )
            }
            StoreError::Corrupt { seq } => write!(f, "message {seq} is corrupt"),
            StoreError::Io { op, name, kind } => write!(f, "{op:?} {name}: {kind}"),
            StoreError::BadMeta => f.write_str("stream meta checksum mismatch"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The surface streams use, the same for both backends. A backend supplies the [`Log`], how
/// to read a message that is not in RAM ([`MessageLog::fetch`]) and how to flush; the rest is
/// the log's own logic.
pub trait MessageLog {
    fn log(&self) -> &Log;
    fn log_mut(&mut self) -> &mut Log;
    /// The live message `seq`, from RAM or from disk.
    fn fetch(&mut self, seq: u64) -> Result<Option<StoredMsg>, StoreError>;
    /// Group commit: everything since the last flush is durable when this returns (written
    /// only, with a file store's `defer_sync`: then [`MessageLog::take_unsynced`]).
    fn flush(&mut self) -> Result<(), StoreError>;
    /// The files the flushes since the last call wrote and left for the caller to fdatasync.
    fn take_unsynced(&mut self, out: &mut Vec<file::SyncFile>) -> Result<(), StoreError> {
        let _ = out;
        Ok(())
    }
    /// Flushes, syncs and writes the index checkpoint, so the next open replays only what
    /// comes after it (a file store; nothing for memory).
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts_ns: i64,
    ) -> Result<u64, StoreError> {
        self.log_mut().append(subject, headers, payload, ts_ns)
    }
    fn get(&mut self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        self.fetch(seq)
    }
    fn last_by_subject(&mut self, filter: &[u8]) -> Result<Option<StoredMsg>, StoreError> {
        match self.log().last_by_subject(filter) {
            Some(seq) => self.fetch(seq),
            None => Ok(None),
        }
    }
    fn next_by_subject(
        &mut self,
        from_seq: u64,
        filter: &[u8],
    ) -> Result<Option<StoredMsg>, StoreError> {
        match self.log().next_by_subject(from_seq, filter) {
            Some(seq) => self.fetch(seq),
            None => Ok(None),
        }
    }
    /// `erase`: overwrite the bytes too (nats' default); else only a tombstone (`no_erase`).
    fn delete(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        Ok(self.log_mut().delete(seq, erase))
    }
    fn purge(&mut self, req: &Purge<'_>) -> Result<u64, StoreError> {
        Ok(self.log_mut().purge(req))
    }
    /// Discard-old enforcement after an append on `subject`.
    fn enforce(&mut self, limits: &Limits, subject: Option<&[u8]>) -> Result<u64, StoreError> {
        Ok(self.log_mut().enforce(limits, subject))
    }
    fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.log_mut().set_first_seq(seq)
    }
    /// The counters, with the first message's timestamp read if it changed.
    fn state(&mut self) -> Result<StoreState, StoreError> {
        if self.log().first_ts_ns.is_none() {
            let first = self.log().first_seq;
            let ts = self.fetch(first)?.map_or(0, |m| m.ts_ns);
            self.log_mut().first_ts_ns = Some(ts);
        }
        Ok(self.log().counters())
    }
}

impl Log {
    /// The counters; `first_ts_ns` is 0 until a backend has read the first message.
    pub fn counters(&self) -> StoreState {
        StoreState {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            msgs: self.msgs,
            bytes: self.bytes,
            first_ts_ns: self.first_ts_ns.unwrap_or(0),
            last_ts_ns: if self.msgs == 0 { 0 } else { self.last_ts_ns },
            num_deleted: match self.msgs {
                0 => 0,
                n => (self.last_seq + 1 - self.first_seq) - n,
            },
            num_subjects: self.subjects.len() as u64,
            lost: self.lost.clone(),
        }
    }

    /// Interior deletes (lost sequences included) as ranges between `first_seq` and
    /// `last_seq`; walks the slots, never the sequence space, so a wide gap costs one range.
    pub fn deleted(&self) -> Vec<SeqRange> {
        let mut out = Vec::new();
        if self.msgs == 0 {
            return out;
        }
        let mut next = self.first_seq; // lowest sequence not yet classified
        for seg in &self.segments {
            for (j, slot) in seg.slots.iter().enumerate() {
                let seq = seg.first_seq + j as u64;
                if slot.live() && seq >= next {
                    if seq > next {
                        log::push_range(&mut out, next, seq - 1);
                    }
                    next = seq + 1;
                }
            }
        }
        if next <= self.last_seq {
            log::push_range(&mut out, next, self.last_seq);
        }
        out
    }

    /// Per-subject counts of subjects matching `filter`.
    pub fn subject_counts(&self, filter: &[u8]) -> Vec<(Vec<u8>, u64)> {
        self.subjects
            .matching(filter)
            .map(|(_, s, st)| (s.to_vec(), st.msgs))
            .collect()
    }

    /// The per-subject state of a literal subject.
    pub fn subject_state(&self, subject: &[u8]) -> Option<SubjectState> {
        self.subjects
            .id(subject)
            .and_then(|id| self.subjects.get(id))
            .map(|(_, st)| *st)
    }

    /// Heap bytes of the subject index.
    pub fn subjects_heap_bytes(&self) -> usize {
        self.subjects.heap_bytes()
    }
}

/// The memory backend (`storage: memory`): a non-durable [`Log`].
#[derive(Debug)]
pub struct MemStore {
    log: Log,
}

impl MemStore {
    pub fn new(segment_bytes_max: u32, first_seq: u64) -> MemStore {
        MemStore {
            log: Log::new(
                LogConfig {
                    segment_bytes_max,
                    durable: false,
                },
                first_seq,
            ),
        }
    }
}

impl MessageLog for MemStore {
    fn log(&self) -> &Log {
        &self.log
    }
    fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }
    fn fetch(&mut self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        match self.log.read(seq)? {
            log::Read::Found(m) => Ok(Some(m)),
            _ => Ok(None),
        }
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        self.log.flush();
        Ok(())
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod log_tests;
