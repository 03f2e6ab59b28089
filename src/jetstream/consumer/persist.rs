//! A compact binary snapshot of a consumer's state, for the store to persist durables
//! (jetstream-internals.md §5.9). Deltas between snapshots are in [`super::delta`], the
//! records around both in [`super::state_log`].
//!
//! Layout (all integers LEB128 varints after the version byte):
//! `version=1, delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer,
//!  ack_floor_stream, next_stream_seq, n, n × (stream_seq − ack_floor_stream,
//!  delivered_consumer_seq − consumer_seq, deliveries, timestamp_ms)`.
//! Pending sequences are stored relative to the floors, so typical entries take a few bytes.
//!
//! Invariants: `decode` never panics and refuses anything inconsistent (a pending sequence at
//! or below the floor or past the last delivery, entries out of order or whose consumer
//! sequences do not rise with their stream sequences, trailing bytes, overflow), so a corrupt
//! snapshot cannot produce a state that breaks `ConsumerState`'s invariants. The redelivery
//! queue is not stored: restored entries get fresh timers, due ones fire on the next advance.

use std::collections::{BTreeMap, BTreeSet};

use super::state::{ConsumerLimits, ConsumerState, Pending};
use super::ConsumerTimer;
use crate::wheel::Wheel;

/// First byte of a full snapshot.
pub const SNAPSHOT_VERSION: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    Version(u8),
    Truncated,
    Overflow,
    Inconsistent,
    TrailingBytes,
}

/// What a snapshot (and the deltas after it) hold: a consumer's durable state without its
/// timers or redelivery queue. Pending entries carry `timer: None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateImage {
    pub delivered_consumer_seq: u64,
    pub delivered_stream_seq: u64,
    pub ack_floor_consumer: u64,
    pub ack_floor_stream: u64,
    pub next_stream_seq: u64,
    pub pending: BTreeMap<u64, Pending>,
}

impl StateImage {
    /// The durable part of a live state (tests and tools; O(pending)).
    pub fn of(state: &ConsumerState) -> StateImage {
        StateImage {
            delivered_consumer_seq: state.delivered_consumer_seq,
            delivered_stream_seq: state.delivered_stream_seq,
            ack_floor_consumer: state.ack_floor_consumer,
            ack_floor_stream: state.ack_floor_stream,
            next_stream_seq: state.next_stream_seq,
            pending: state
                .pending
                .iter()
                .map(|(&s, p)| (s, Pending { timer: None, ..*p }))
                .collect(),
        }
    }

    /// Decodes a full snapshot (the record body, version byte included).
    pub fn decode(bytes: &[u8]) -> Result<StateImage, SnapshotError> {
        let (&version, mut rest) = bytes.split_first().ok_or(SnapshotError::Truncated)?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(version));
        }
        let mut next = || get(&mut rest);
        let dcs = next()?;
        let dss = next()?;
        let afc = next()?;
        let afs = next()?;
        let nss = next()?;
        let n = next()?;
        if afc > dcs || afs > dss || nss <= dss {
            return Err(SnapshotError::Inconsistent);
        }
        let mut pending = BTreeMap::new();
        let (mut prev_seq, mut prev_cseq) = (afs, afc);
        for _ in 0..n {
            let seq = afs.checked_add(next()?).ok_or(SnapshotError::Overflow)?;
            let cseq = dcs
                .checked_sub(next()?)
                .ok_or(SnapshotError::Inconsistent)?;
            let deliveries = next()?;
            let timestamp_ms = next()?;
            // In stream order, with consumer sequences rising too (as a live state has them).
            if seq <= prev_seq || seq > dss || cseq <= prev_cseq || deliveries == 0 {
                return Err(SnapshotError::Inconsistent);
            }
            (prev_seq, prev_cseq) = (seq, cseq);
            let p = Pending {
                consumer_seq: cseq,
                deliveries,
                timestamp_ms,
                timer: None,
            };
            pending.insert(seq, p);
        }
        if !rest.is_empty() {
            return Err(SnapshotError::TrailingBytes);
        }
        Ok(StateImage {
            delivered_consumer_seq: dcs,
            delivered_stream_seq: dss,
            ack_floor_consumer: afc,
            ack_floor_stream: afs,
            next_stream_seq: nss,
            pending,
        })
    }
}

impl ConsumerState {
    /// Appends the full snapshot of this state to `out` (O(pending)). The store calls
    /// [`encode_snapshot`](Self::encode_snapshot), which also restarts the change list.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(SNAPSHOT_VERSION);
        for v in [
            self.delivered_consumer_seq,
            self.delivered_stream_seq,
            self.ack_floor_consumer,
            self.ack_floor_stream,
            self.next_stream_seq,
            self.pending.len() as u64,
        ] {
            put(out, v);
        }
        for (&seq, p) in &self.pending {
            put(out, seq - self.ack_floor_stream);
            put(out, self.delivered_consumer_seq - p.consumer_seq);
            put(out, p.deliveries);
            put(out, p.timestamp_ms);
        }
    }

    /// Rebuilds a state from a snapshot, re-arming each pending entry's ack wait from its
    /// timestamp.
    pub fn decode(
        id: u64,
        limits: ConsumerLimits,
        bytes: &[u8],
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Result<ConsumerState, SnapshotError> {
        Ok(ConsumerState::from_image(
            id,
            limits,
            StateImage::decode(bytes)?,
            wheel,
        ))
    }

    /// A live state from a decoded (and replayed) image: each pending entry's ack wait is
    /// armed from its timestamp.
    pub fn from_image(
        id: u64,
        limits: ConsumerLimits,
        image: StateImage,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> ConsumerState {
        let mut state = ConsumerState {
            id,
            limits,
            next_stream_seq: image.next_stream_seq,
            delivered_stream_seq: image.delivered_stream_seq,
            delivered_consumer_seq: image.delivered_consumer_seq,
            ack_floor_stream: image.ack_floor_stream,
            ack_floor_consumer: image.ack_floor_consumer,
            pending: image.pending,
            redeliver: BTreeSet::new(),
            changes: None,
        };
        let mut timers = Vec::with_capacity(state.pending.len());
        for (&seq, p) in &state.pending {
            timers.push((seq, state.arm(seq, p.deliveries, p.timestamp_ms, wheel)));
        }
        for (seq, timer) in timers {
            if let Some(p) = state.pending.get_mut(&seq) {
                p.timer = timer;
            }
        }
        state
    }
}

pub(super) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn get(bytes: &mut &[u8]) -> Result<u64, SnapshotError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first().ok_or(SnapshotError::Truncated)?;
        *bytes = rest;
        let part = u64::from(b & 0x7f);
        if shift == 63 && part > 1 {
            return Err(SnapshotError::Overflow);
        }
        v |= part << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(SnapshotError::Overflow)
}
