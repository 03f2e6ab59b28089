//! Atomic batch publish (`allow_atomic`, nats-server 2.12+, ADR-50), sans-io: the staging of
//! a batch's messages until its commit, with nats-server 2.15.1's limits, checks and
//! errors. No clock is read (`now_ms` is passed in) and nothing is stored here: a commit
//! hands the staged messages back ([`Staged::Commit`]) and `batch_publish.rs` checks them
//! all against the stream and stores them in one call, so they go out in one group commit
//! with one ack (and, with `sync_interval: always`, one fdatasync).
//!
//! The protocol: every message of a batch carries `Nats-Batch-Id` (at most
//! [`BATCH_ID_BYTES_MAX`]) and `Nats-Batch-Sequence` (1, 2, … without gaps); the last one
//! also `Nats-Batch-Commit: 1` (stored with the batch) or `eob` (the end marker, not stored).
//! A staged message is answered with an empty reply; the commit with the pub ack of the last
//! message plus `"batch"` and `"count"`. Any error drops the whole batch: later messages of
//! it are then `incomplete` (10176), as a gap is. A batch idle for [`BATCH_IDLE_MS`] is
//! dropped the same way: the caller keeps one wheel timer per stream with open batches
//! ([`Batches::arm`], [`Batches::expire`]); a batch found expired before its timer fired is
//! dropped at its next use or before a new batch is counted against the in-flight limits.
//! A batch dropped for a gap, its size, its API level or its timeout is reported in
//! [`Batches::take_abandoned`] for nats-server's `BATCH_ABANDONED` advisory.
//!
//! Invariants: a batch holds at most [`BATCH_MSGS_MAX`] messages, a stream at most
//! [`BATCH_INFLIGHT_PER_STREAM_MAX`] batches, an account at most [`BATCH_INFLIGHT_TOTAL_MAX`]
//! batches and [`BATCH_STAGED_BYTES_MAX`] staged bytes; staged messages live only in memory,
//! so a crash before the commit leaves nothing of the batch.

use std::collections::{HashMap, HashSet};

use super::api::error::ApiError;
use super::api::headers::Headers;

pub const HDR_BATCH_ID: &str = "Nats-Batch-Id";
pub const HDR_BATCH_SEQ: &str = "Nats-Batch-Sequence";
pub const HDR_BATCH_COMMIT: &str = "Nats-Batch-Commit";
/// Checked per batch message and removed before it is staged (as `api::handle` names it).
const HDR_REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

/// Longest `Nats-Batch-Id` (nats-server: 64; longer is 10179).
pub const BATCH_ID_BYTES_MAX: usize = 64;
/// Most messages in one batch, the `eob` marker not counted (`streamMaxAtomicBatchSize`).
pub const BATCH_MSGS_MAX: u64 = 1000;
/// Most batches in flight on one stream (`streamMaxAtomicBatchInflightPerStream`).
pub const BATCH_INFLIGHT_PER_STREAM_MAX: usize = 50;
/// Most batches in flight in one account. nats-server counts its 1000
/// (`streamMaxAtomicBatchInflightTotal`) over the whole server; here over an account's
/// streams, which one `AccountStreams` owns.
pub const BATCH_INFLIGHT_TOTAL_MAX: usize = 1000;
/// How long a batch may wait for its next message (`streamMaxBatchTimeout`, 10 s).
pub const BATCH_IDLE_MS: u64 = 10_000;
/// Most bytes (subject, headers, payload) staged in one account's open batches. nats-server
/// stages file-stream batches on disk and has no such bound; natrix stages in memory, so a
/// message that would pass it is refused as too many in flight (10210, 429), like a batch
/// past the count limits.
pub const BATCH_STAGED_BYTES_MAX: usize = 256 * 1024 * 1024;

/// One staged message, as published (the stream's subject transform applies at the commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedMsg {
    pub subject: String,
    pub hdr: Vec<u8>,
    pub data: Vec<u8>,
}

impl StagedMsg {
    fn bytes(&self) -> usize {
        self.subject.len() + self.hdr.len() + self.data.len()
    }
}

/// Why a batch was dropped, as nats-server's `BATCH_ABANDONED` advisory says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonReason {
    Timeout,
    Large,
    Incomplete,
    /// Its `Nats-Required-Api-Level` is above the level served.
    Unsupported,
}

impl AbandonReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AbandonReason::Timeout => "timeout",
            AbandonReason::Large => "large",
            AbandonReason::Incomplete => "incomplete",
            AbandonReason::Unsupported => "unsupported",
        }
    }
}

/// A dropped batch to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    pub stream: String,
    pub id: String,
    pub reason: AbandonReason,
}

/// A batch being staged.
#[derive(Debug, Default)]
struct OpenBatch {
    msgs: Vec<StagedMsg>,
    /// When it is dropped unless another message comes (ms, the caller's clock).
    idle_deadline_ms: u64,
}

/// A committed batch, ready to be checked and stored.
#[derive(Debug, PartialEq, Eq)]
pub struct Committed {
    pub id: String,
    /// The messages to store, in order (the `eob` marker left out).
    pub msgs: Vec<StagedMsg>,
    /// Committed with `eob`: the last stored message gets `Nats-Batch-Commit: 1`.
    pub eob: bool,
}

/// What one batch message led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Staged {
    /// Held for the commit: answer with an empty reply.
    Held,
    /// The commit: store these together, or none of them.
    Commit(Committed),
    /// Refused (and its batch, if any, dropped).
    Refused(ApiError),
}

/// The message's batch headers, if it has a non-empty `Nats-Batch-Id` (an empty one is a
/// plain publish, as in nats-server).
pub fn batch_id<'a>(hdrs: &Headers<'a>) -> Option<&'a str> {
    hdrs.get(HDR_BATCH_ID).filter(|v| !v.is_empty())
}

/// The open batches of one account's streams.
#[derive(Debug, Default)]
pub struct Batches {
    /// (stream, batch id) → batch.
    open: HashMap<(String, String), OpenBatch>,
    staged_bytes: usize,
    /// Streams whose idle timer is on the caller's wheel.
    timer_armed: HashSet<String>,
    /// Dropped batches not yet reported.
    abandoned: Vec<Abandoned>,
}

impl Batches {
    /// Batches in flight (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no batch is in flight.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Bytes staged in open batches.
    pub fn staged_bytes(&self) -> usize {
        self.staged_bytes
    }

    /// Batches dropped since the last call, for the advisories.
    pub fn take_abandoned(&mut self) -> Vec<Abandoned> {
        std::mem::take(&mut self.abandoned)
    }

    /// When `stream` has open batches and no idle timer yet: the time (ms) to arm one at,
    /// marking it armed.
    pub fn arm(&mut self, stream: &str) -> Option<u64> {
        if self.timer_armed.contains(stream) {
            return None;
        }
        let at = self.next_deadline(stream)?;
        self.timer_armed.insert(stream.to_string());
        Some(at)
    }

    /// `stream`'s idle timer fired at `now_ms`: its batches idle until then are dropped (and
    /// reported), and it is no longer armed ([`Batches::arm`] gives the next one).
    pub fn expire(&mut self, stream: &str, now_ms: u64) {
        self.timer_armed.remove(stream);
        let expired: Vec<_> = self
            .open
            .iter()
            .filter(|((s, _), b)| s == stream && b.idle_deadline_ms <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.abandon(&k, AbandonReason::Timeout);
        }
    }

    fn next_deadline(&self, stream: &str) -> Option<u64> {
        self.open
            .iter()
            .filter(|((s, _), _)| s == stream)
            .map(|(_, b)| b.idle_deadline_ms)
            .min()
    }

    fn abandon(&mut self, key: &(String, String), reason: AbandonReason) {
        self.remove(key);
        self.abandoned.push(Abandoned {
            stream: key.0.clone(),
            id: key.1.clone(),
            reason,
        });
    }

    /// Drops every batch of `stream` (deleted), unreported, as nats-server does.
    pub fn drop_stream(&mut self, stream: &str) {
        self.timer_armed.remove(stream);
        let gone: Vec<_> = self
            .open
            .keys()
            .filter(|(s, _)| s == stream)
            .cloned()
            .collect();
        for k in gone {
            self.remove(&k);
        }
    }

    fn remove(&mut self, key: &(String, String)) {
        if let Some(b) = self.open.remove(key) {
            self.staged_bytes -= b.msgs.iter().map(StagedMsg::bytes).sum::<usize>();
        }
    }

    fn sweep(&mut self, now_ms: u64) {
        let expired: Vec<_> = self
            .open
            .iter()
            .filter(|(_, b)| b.idle_deadline_ms <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.abandon(&k, AbandonReason::Timeout);
        }
    }

    /// Takes one message of batch `id` into stream `stream`, whose `hdrs` were parsed from
    /// `msg.hdr`. The stream-level checks before this one (sealed, account limits,
    /// `max_msg_size`, `allow_atomic`) are the caller's; `api_level` is the level served,
    /// for `Nats-Required-Api-Level`. nats-server's order of checks.
    pub fn stage(
        &mut self,
        stream: &str,
        id: &str,
        hdrs: &Headers<'_>,
        msg: StagedMsg,
        api_level: u32,
        now_ms: u64,
    ) -> Staged {
        use Staged::Refused;
        if id.len() > BATCH_ID_BYTES_MAX {
            return Refused(ApiError::AtomicPublishInvalidBatchId);
        }
        let Some(seq) = hdrs.get(HDR_BATCH_SEQ).and_then(parse_batch_seq) else {
            return Refused(ApiError::AtomicPublishMissingSeq);
        };
        let commit = hdrs.get(HDR_BATCH_COMMIT);
        let eob = commit == Some("eob");
        let counted = if eob { seq.saturating_sub(1) } else { seq };
        let key = (stream.to_string(), id.to_string());
        if self
            .open
            .get(&key)
            .is_some_and(|b| b.idle_deadline_ms <= now_ms)
        {
            self.abandon(&key, AbandonReason::Timeout);
        }
        if !self.open.contains_key(&key) {
            if seq != 1 {
                if counted > BATCH_MSGS_MAX {
                    return Refused(ApiError::AtomicPublishTooLargeBatch(BATCH_MSGS_MAX));
                }
                return Refused(ApiError::AtomicPublishIncompleteBatch);
            }
            self.sweep(now_ms);
            let on_stream = self.open.keys().filter(|(s, _)| s == stream).count();
            if on_stream + 1 > BATCH_INFLIGHT_PER_STREAM_MAX
                || self.open.len() + 1 > BATCH_INFLIGHT_TOTAL_MAX
            {
                return Refused(ApiError::AtomicPublishTooManyInflight);
            }
            let idle_deadline_ms = now_ms + BATCH_IDLE_MS;
            self.open.insert(
                key.clone(),
                OpenBatch {
                    msgs: Vec::new(),
                    idle_deadline_ms,
                },
            );
        }
        let refuse = |me: &mut Self, e: ApiError| {
            me.remove(&key);
            Refused(e)
        };
        let abandon = |me: &mut Self, e: ApiError, why: AbandonReason| {
            me.abandon(&key, why);
            Refused(e)
        };
        if commit.is_some_and(|c| c != "1" && c != "eob") {
            return refuse(self, ApiError::AtomicPublishInvalidBatchCommit);
        }
        if let Some(level) = hdrs.get(HDR_REQUIRED_API_LEVEL).filter(|l| !l.is_empty()) {
            if level.parse::<u32>().map_or(true, |l| l > api_level) {
                return abandon(self, ApiError::RequiredApiLevel, AbandonReason::Unsupported);
            }
        }
        let held = self.open.get(&key).map_or(0, |b| b.msgs.len() as u64);
        if seq != held + 1 || (seq == 1 && eob) {
            let e = ApiError::AtomicPublishIncompleteBatch;
            return abandon(self, e, AbandonReason::Incomplete);
        }
        if counted > BATCH_MSGS_MAX {
            let e = ApiError::AtomicPublishTooLargeBatch(BATCH_MSGS_MAX);
            return abandon(self, e, AbandonReason::Large);
        }
        let mut msg = msg;
        msg.hdr = remove_header(&msg.hdr, HDR_REQUIRED_API_LEVEL);
        let Some(b) = self.open.get_mut(&key) else {
            return Refused(ApiError::AtomicPublishIncompleteBatch);
        };
        if commit.is_none() {
            let bytes = msg.bytes();
            if self.staged_bytes + bytes > BATCH_STAGED_BYTES_MAX {
                return refuse(self, ApiError::AtomicPublishTooManyInflight);
            }
            b.idle_deadline_ms = now_ms + BATCH_IDLE_MS;
            b.msgs.push(msg);
            self.staged_bytes += bytes;
            return Staged::Held;
        }
        let mut b = self.open.remove(&key).unwrap_or_default();
        self.staged_bytes -= b.msgs.iter().map(StagedMsg::bytes).sum::<usize>();
        if eob {
            if let Some(last) = b.msgs.last_mut() {
                last.hdr = append_header(&last.hdr, HDR_BATCH_COMMIT, "1");
            }
        } else {
            b.msgs.push(msg);
        }
        Staged::Commit(Committed {
            id: id.to_string(),
            msgs: b.msgs,
            eob,
        })
    }
}

/// `Nats-Batch-Sequence` as nats-server's `parseUint64` reads it: decimal digits only.
fn parse_batch_seq(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// `block` with `key: value` added as its last header (nats-server's `genHeader`). A block
/// that is not a header block is returned as a new one with just that header.
pub fn append_header(block: &[u8], key: &str, value: &str) -> Vec<u8> {
    let line = format!("{key}: {value}\r\n");
    match block.strip_suffix(b"\r\n") {
        Some(head) if block.ends_with(b"\r\n\r\n") => {
            let mut out = head.to_vec();
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            out
        }
        _ => format!("NATS/1.0\r\n{line}\r\n").into_bytes(),
    }
}

/// `block` without its `key` lines (exact key, as headers are matched).
pub fn remove_header(block: &[u8], key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    let mut rest = block;
    let mut first = true;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = &rest[..i + 2];
        rest = &rest[i + 2..];
        let is_key = !first
            && line.len() > key.len()
            && line.starts_with(key.as_bytes())
            && line[key.len()] == b':';
        first = false;
        if !is_key {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
