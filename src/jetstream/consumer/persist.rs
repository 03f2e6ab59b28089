//! A compact binary snapshot of a consumer's state, for the store to persist durables
//! (jetstream-internals.md §5.9).
//!
//! Layout (all integers LEB128 varints after the version byte):
//! `version=1, delivered_consumer_seq, delivered_stream_seq, ack_floor_consumer,
//!  ack_floor_stream, next_stream_seq, n, n × (stream_seq − ack_floor_stream,
//!  delivered_consumer_seq − consumer_seq, deliveries, timestamp_ms)`.
//! Pending sequences are stored relative to the floors, so typical entries take a few bytes.
//!
//! Invariants: `decode` never panics and refuses anything inconsistent (a pending sequence at
//! or below the floor or past the last delivery, trailing bytes, overflow), so a corrupt
//! snapshot cannot produce a state that breaks `ConsumerState`'s invariants. The redelivery
//! queue is not stored: restored entries get fresh timers, due ones fire on the next advance.

use std::collections::{BTreeMap, BTreeSet};

use super::state::{ConsumerLimits, ConsumerState, Pending};
use super::ConsumerTimer;
use crate::wheel::Wheel;

const VERSION: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    Version(u8),
    Truncated,
    Overflow,
    Inconsistent,
    TrailingBytes,
}

impl ConsumerState {
    /// Appends the snapshot of this state to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
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
        let (&version, mut rest) = bytes.split_first().ok_or(SnapshotError::Truncated)?;
        if version != VERSION {
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
        for _ in 0..n {
            let seq = afs.checked_add(next()?).ok_or(SnapshotError::Overflow)?;
            let cseq = dcs
                .checked_sub(next()?)
                .ok_or(SnapshotError::Inconsistent)?;
            let deliveries = next()?;
            let timestamp_ms = next()?;
            if seq <= afs || seq > dss || cseq <= afc || deliveries == 0 {
                return Err(SnapshotError::Inconsistent);
            }
            let p = Pending {
                consumer_seq: cseq,
                deliveries,
                timestamp_ms,
                timer: None,
            };
            if pending.insert(seq, p).is_some() {
                return Err(SnapshotError::Inconsistent);
            }
        }
        if !rest.is_empty() {
            return Err(SnapshotError::TrailingBytes);
        }
        let mut state = ConsumerState {
            id,
            limits,
            next_stream_seq: nss,
            delivered_stream_seq: dss,
            delivered_consumer_seq: dcs,
            ack_floor_stream: afs,
            ack_floor_consumer: afc,
            pending,
            redeliver: BTreeSet::new(),
        };
        let seqs: Vec<(u64, u64, u64)> = state
            .pending
            .iter()
            .map(|(&s, p)| (s, p.deliveries, p.timestamp_ms))
            .collect();
        for (seq, deliveries, ts) in seqs {
            let timer = state.arm(seq, deliveries, ts, wheel);
            if let Some(p) = state.pending.get_mut(&seq) {
                p.timer = timer;
            }
        }
        Ok(state)
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get(bytes: &mut &[u8]) -> Result<u64, SnapshotError> {
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
