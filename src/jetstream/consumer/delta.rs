//! What changed in a consumer's state since its last record: the change list the state
//! machine keeps as it goes, and the delta record the store appends at a group commit
//! (issue 11: each delivery and each ack costs O(1) bytes, never a walk over what is pending).
//!
//! Layout (LEB128 varints after the version byte):
//! `version=2, delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer,
//!  ack_floor_stream, next_stream_seq, n, n × change`, where a change is
//! `0, zigzag(stream_seq − previous stream_seq), delivered_consumer_seq − consumer_seq,
//!  deliveries, zigzag(timestamp_ms − previous timestamp_ms)` (a pending entry added or
//! replaced: a delivery, a redelivery, `+WPI`) or `1, zigzag(stream_seq − previous)` (an
//! entry left: ack, term, max deliveries). "Previous" starts at the ack floor and at 0.
//!
//! Applying a delta sets the five positions, replays the changes in order, then drops every
//! pending entry at or below the new stream ack floor (which is how an `AckPolicy::All` ack
//! of many entries costs one record header). Invariants: the positions never move backwards,
//! consumer sequences of pending entries rise with their stream sequences (so the first
//! entry left must be above the consumer ack floor, and then all are), and [`StateImage::apply_delta`] either applies a whole delta or leaves the image as it was
//! (a refused delta and everything after it is not applied); it never panics on any bytes.

use std::collections::BTreeMap;

use super::persist::{get, put, SnapshotError, StateImage};
use super::state::{ConsumerState, Pending};

/// First byte of a delta record.
pub const DELTA_VERSION: u8 = 2;
/// A change list is dropped, and the next record is a full snapshot, once it holds this
/// many changes and as many as there are pending entries: its memory stays O(pending), and
/// the snapshot that replaces it costs no more than the changes it stands for. (The list
/// grows between two commits: a timer round that redelivers everything pending at once is
/// the case that reaches it.)
pub const CHANGES_MIN_MAX: usize = 4_096;

const TAG_PENDING: u64 = 0;
const TAG_REMOVED: u64 = 1;

/// One change to the pending set, as it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The entry of `stream_seq` was added or replaced.
    Pending {
        stream_seq: u64,
        consumer_seq: u64,
        deliveries: u64,
        timestamp_ms: u64,
    },
    /// The entry of `stream_seq` left the pending set.
    Removed { stream_seq: u64 },
}

/// The five positions a record carries in full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    pub delivered_consumer_seq: u64,
    pub delivered_stream_seq: u64,
    pub ack_floor_consumer: u64,
    pub ack_floor_stream: u64,
    pub next_stream_seq: u64,
}

/// A decoded delta record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta {
    pub positions: Positions,
    pub changes: Vec<Change>,
}

/// Changes since the last record, kept by a [`ConsumerState`] once the store has written a
/// snapshot of it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChangeList {
    list: Vec<Change>,
    /// The positions the last record held.
    written: Positions,
}

/// What [`ConsumerState::encode_delta`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaOutcome {
    /// Nothing changed since the last record: nothing appended.
    Unchanged,
    /// A delta record body was appended.
    Encoded,
    /// No change list (never snapshotted, or it overflowed): write a full snapshot.
    SnapshotNeeded,
}

impl ConsumerState {
    /// Appends a full snapshot to `out` and starts the change list from it: the store's next
    /// records can be deltas.
    pub fn encode_snapshot(&mut self, out: &mut Vec<u8>) {
        self.encode(out);
        self.changes = Some(ChangeList {
            list: Vec::new(),
            written: self.positions(),
        });
    }

    /// Appends a delta body of what changed since the last record and forgets those changes
    /// (O(changes), not O(pending)).
    pub fn encode_delta(&mut self, out: &mut Vec<u8>) -> DeltaOutcome {
        let positions = self.positions();
        let Some(c) = self.changes.as_mut() else {
            return DeltaOutcome::SnapshotNeeded;
        };
        if c.list.is_empty() && c.written == positions {
            return DeltaOutcome::Unchanged;
        }
        encode_delta(&positions, &c.list, out);
        c.list.clear();
        c.written = positions;
        DeltaOutcome::Encoded
    }

    /// Drops the change list: the next record must be a full snapshot (after a failed write).
    pub fn forget_changes(&mut self) {
        self.changes = None;
    }

    pub(crate) fn note(&mut self, change: Change) {
        let bound = CHANGES_MIN_MAX.max(self.pending.len());
        if let Some(c) = self.changes.as_mut() {
            if c.list.len() >= bound {
                self.changes = None;
            } else {
                c.list.push(change);
            }
        }
    }

    pub(crate) fn note_pending(&mut self, stream_seq: u64, p: &Pending) {
        self.note(Change::Pending {
            stream_seq,
            consumer_seq: p.consumer_seq,
            deliveries: p.deliveries,
            timestamp_ms: p.timestamp_ms,
        });
    }

    fn positions(&self) -> Positions {
        Positions {
            delivered_consumer_seq: self.delivered_consumer_seq,
            delivered_stream_seq: self.delivered_stream_seq,
            ack_floor_consumer: self.ack_floor_consumer,
            ack_floor_stream: self.ack_floor_stream,
            next_stream_seq: self.next_stream_seq,
        }
    }
}

/// Appends the body of a delta record.
pub fn encode_delta(positions: &Positions, changes: &[Change], out: &mut Vec<u8>) {
    let p = positions;
    out.push(DELTA_VERSION);
    for v in [
        p.delivered_consumer_seq,
        p.delivered_stream_seq,
        p.ack_floor_consumer,
        p.ack_floor_stream,
        p.next_stream_seq,
        changes.len() as u64,
    ] {
        put(out, v);
    }
    let mut prev_seq = p.ack_floor_stream;
    let mut prev_ts = 0u64;
    for c in changes {
        match *c {
            Change::Pending {
                stream_seq,
                consumer_seq,
                deliveries,
                timestamp_ms,
            } => {
                put(out, TAG_PENDING);
                put(out, zigzag(stream_seq.wrapping_sub(prev_seq)));
                put(out, p.delivered_consumer_seq.wrapping_sub(consumer_seq));
                put(out, deliveries);
                put(out, zigzag(timestamp_ms.wrapping_sub(prev_ts)));
                prev_seq = stream_seq;
                prev_ts = timestamp_ms;
            }
            Change::Removed { stream_seq } => {
                put(out, TAG_REMOVED);
                put(out, zigzag(stream_seq.wrapping_sub(prev_seq)));
                prev_seq = stream_seq;
            }
        }
    }
}

impl Delta {
    /// Decodes a delta body (version byte included). Checks the form and that each change
    /// lies within the record's own positions; whether it fits a state is
    /// [`StateImage::apply`]'s business.
    pub fn decode(bytes: &[u8]) -> Result<Delta, SnapshotError> {
        let (&version, mut rest) = bytes.split_first().ok_or(SnapshotError::Truncated)?;
        if version != DELTA_VERSION {
            return Err(SnapshotError::Version(version));
        }
        let mut next = || get(&mut rest);
        let positions = Positions {
            delivered_consumer_seq: next()?,
            delivered_stream_seq: next()?,
            ack_floor_consumer: next()?,
            ack_floor_stream: next()?,
            next_stream_seq: next()?,
        };
        let p = positions;
        if p.ack_floor_consumer > p.delivered_consumer_seq
            || p.ack_floor_stream > p.delivered_stream_seq
            || p.next_stream_seq <= p.delivered_stream_seq
        {
            return Err(SnapshotError::Inconsistent);
        }
        let n = next()?;
        // Each change takes at least two bytes: refuse a count the bytes cannot hold before
        // reserving room for it.
        let left = rest.len() as u64;
        if n > left / 2 {
            return Err(SnapshotError::Truncated);
        }
        let mut changes = Vec::with_capacity(n as usize);
        let mut prev_seq = p.ack_floor_stream;
        let mut prev_ts = 0u64;
        for _ in 0..n {
            let tag = get(&mut rest)?;
            let stream_seq = prev_seq.wrapping_add(unzigzag(get(&mut rest)?));
            if stream_seq == 0 || stream_seq > p.delivered_stream_seq {
                return Err(SnapshotError::Inconsistent);
            }
            prev_seq = stream_seq;
            match tag {
                TAG_PENDING => {
                    let consumer_seq = p
                        .delivered_consumer_seq
                        .checked_sub(get(&mut rest)?)
                        .ok_or(SnapshotError::Inconsistent)?;
                    let deliveries = get(&mut rest)?;
                    let timestamp_ms = prev_ts.wrapping_add(unzigzag(get(&mut rest)?));
                    if consumer_seq == 0 || deliveries == 0 {
                        return Err(SnapshotError::Inconsistent);
                    }
                    prev_ts = timestamp_ms;
                    changes.push(Change::Pending {
                        stream_seq,
                        consumer_seq,
                        deliveries,
                        timestamp_ms,
                    });
                }
                TAG_REMOVED => changes.push(Change::Removed { stream_seq }),
                _ => return Err(SnapshotError::Inconsistent),
            }
        }
        if !rest.is_empty() {
            return Err(SnapshotError::TrailingBytes);
        }
        Ok(Delta { positions, changes })
    }
}

impl StateImage {
    /// Decodes and applies one delta body; on any error the image is unchanged.
    pub fn apply_delta(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let delta = Delta::decode(bytes)?;
        self.apply(&delta)
    }

    /// Applies a decoded delta: positions must not move backwards, each entry it writes must
    /// keep consumer sequences rising with stream sequences, and the first entry left above
    /// the floor must be above the consumer floor too (as a snapshot demands). On an error
    /// the image is as it was.
    pub fn apply(&mut self, delta: &Delta) -> Result<(), SnapshotError> {
        let p = delta.positions;
        if p.delivered_consumer_seq < self.delivered_consumer_seq
            || p.delivered_stream_seq < self.delivered_stream_seq
            || p.ack_floor_consumer < self.ack_floor_consumer
            || p.ack_floor_stream < self.ack_floor_stream
            || p.next_stream_seq < self.next_stream_seq
        {
            return Err(SnapshotError::Inconsistent);
        }
        let before = self.positions();
        let mut undo: Vec<(u64, Option<Pending>)> = Vec::with_capacity(delta.changes.len());
        let mut fits = true;
        for c in &delta.changes {
            match *c {
                Change::Pending {
                    stream_seq,
                    consumer_seq,
                    deliveries,
                    timestamp_ms,
                } => {
                    let entry = Pending {
                        consumer_seq,
                        deliveries,
                        timestamp_ms,
                        timer: None,
                    };
                    undo.push((stream_seq, self.pending.insert(stream_seq, entry)));
                    if !self.ordered_around(stream_seq, consumer_seq) {
                        fits = false;
                        break;
                    }
                }
                Change::Removed { stream_seq } => {
                    undo.push((stream_seq, self.pending.remove(&stream_seq)));
                }
            }
        }
        let mut dropped = BTreeMap::new();
        if fits {
            let kept = self
                .pending
                .split_off(&(p.ack_floor_stream.saturating_add(1)));
            dropped = std::mem::replace(&mut self.pending, kept);
            self.set_positions(p);
            // Consumer sequences rise with stream sequences, so the first entry is the lowest.
            fits = self
                .pending
                .first_key_value()
                .is_none_or(|(_, e)| e.consumer_seq > p.ack_floor_consumer);
            if fits {
                return Ok(());
            }
        }
        self.pending.append(&mut dropped);
        for (seq, old) in undo.into_iter().rev() {
            match old {
                Some(e) => self.pending.insert(seq, e),
                None => self.pending.remove(&seq),
            };
        }
        self.set_positions(before);
        Err(SnapshotError::Inconsistent)
    }

    fn positions(&self) -> Positions {
        Positions {
            delivered_consumer_seq: self.delivered_consumer_seq,
            delivered_stream_seq: self.delivered_stream_seq,
            ack_floor_consumer: self.ack_floor_consumer,
            ack_floor_stream: self.ack_floor_stream,
            next_stream_seq: self.next_stream_seq,
        }
    }

    /// Whether the entry at `seq` keeps consumer sequences rising with stream sequences, as
    /// they do in a live state (a first delivery takes the next of both; a redelivery keeps
    /// its first consumer sequence).
    fn ordered_around(&self, seq: u64, consumer_seq: u64) -> bool {
        let below = self.pending.range(..seq).next_back();
        let above = self.pending.range(seq.saturating_add(1)..).next();
        below.is_none_or(|(_, e)| e.consumer_seq < consumer_seq)
            && above.is_none_or(|(_, e)| e.consumer_seq > consumer_seq)
    }

    fn set_positions(&mut self, p: Positions) {
        self.delivered_consumer_seq = p.delivered_consumer_seq;
        self.delivered_stream_seq = p.delivered_stream_seq;
        self.ack_floor_consumer = p.ack_floor_consumer;
        self.ack_floor_stream = p.ack_floor_stream;
        self.next_stream_seq = p.next_stream_seq;
    }
}

fn zigzag(d: u64) -> u64 {
    let d = d as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
}
