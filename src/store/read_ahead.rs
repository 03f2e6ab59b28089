//! The read-ahead window of a file store: which bytes of a sealed segment to read for a
//! message no longer in RAM, and the buffer that serves the lookups falling in them.
//!
//! The file backend keeps only a log's tail and newest sealed segments in RAM, so a consumer
//! or a NATS Streaming subscription that starts behind them (a durable catching up, a
//! deliver-all over a backlog) reads every message back from a sealed segment file. One
//! `pread` per message was the largest cost of delivering a backlog (two fifths of shard 0's
//! CPU in `stansub`, a tenth in `jspush`). nats-server loads a whole message block into a
//! cache for the same reason. Here a miss that continues where the last window ended
//! (sequential reads: in the same segment, less than [`READ_AHEAD_MIN_BYTES`] after it)
//! reads a window of the segment from the message on, covering the records that follow in
//! sequence order, and the lookups that fall in it decode from that buffer. The window starts at [`READ_AHEAD_MIN_BYTES`] and doubles, up to
//! [`READ_AHEAD_MAX_BYTES`], while the misses continue; a miss anywhere else (a KV get, a
//! redelivery far back, a filtered consumer whose next match is further on) reads only its
//! own record, so sparse and random reads cost what they did.
//!
//! Why the buffer cannot serve stale bytes: a window only ever holds bytes of a sealed
//! segment (the log says `OnDisk` only for those), sealed segments are never appended to,
//! segment ids are never reused, and every lookup asks the log first, so a message deleted,
//! erased or dropped since the window was read is absent, not served. The only in-place
//! rewrite of a sealed segment is a secure erase, which makes its message absent in the log
//! first. Sans-io: the caller reads the bytes [`Window::plan`] asks for.

use super::log::{Log, Read};
use super::record;

/// The first read-ahead window of a sequential run of misses.
pub const READ_AHEAD_MIN_BYTES: u64 = 16 * 1024;
/// The largest read-ahead window (what one stream's or channel's buffer may hold).
pub const READ_AHEAD_MAX_BYTES: u64 = 256 * 1024;

/// Bytes `offset .. offset + bytes.len()` of segment `segment`, as last read.
#[derive(Debug, Default)]
pub struct Window {
    segment: u32,
    offset: u64,
    bytes: Vec<u8>,
    /// The size the next sequential miss asks for.
    next_bytes: u64,
}

/// What a miss reads: `len` bytes of `segment` from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub segment: u32,
    pub offset: u64,
    pub len: usize,
    budget: u64,
}

impl Plan {
    /// The same miss, reading only its record of `len` bytes.
    pub fn record_only(self, len: u32) -> Plan {
        Plan {
            len: len as usize,
            budget: u64::from(len),
            ..self
        }
    }
}

impl Window {
    /// The record at `offset`, `len` bytes, of `segment`, if the window holds it.
    pub fn slice(&self, segment: u32, offset: u64, len: u32) -> Option<&[u8]> {
        if segment != self.segment || offset < self.offset {
            return None;
        }
        let start = (offset - self.offset) as usize;
        self.bytes.get(start..start + len as usize)
    }

    /// Bytes held (the memory budget, tests).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// What to read for a miss on `seq`, whose record is `len` bytes at `offset` of sealed
    /// segment `segment`: the record alone, or, when the miss continues the window's run,
    /// it and the live records after it in that segment, up to the run's next size.
    pub fn plan(&self, log: &Log, seq: u64, segment: u32, offset: u64, len: u32) -> Plan {
        let end_before = self.offset + self.bytes.len() as u64;
        let sequential = !self.bytes.is_empty()
            && segment == self.segment
            && offset >= end_before
            && offset - end_before < READ_AHEAD_MIN_BYTES;
        let budget = if sequential {
            self.next_bytes.max(READ_AHEAD_MIN_BYTES)
        } else {
            u64::from(len)
        };
        let mut end = offset + u64::from(len);
        let last_seq = log.counters().last_seq;
        // Records of one segment lie in sequence order; a hole (a deleted message) is
        // skipped, and the first record of another segment or past the budget ends it. A
        // record takes at least its header, so that many steps cover the budget.
        if sequential {
            let mut next = seq + 1;
            let steps_max = seq + 1 + budget / record::HEADER_BYTES as u64;
            while next <= steps_max {
                match log.read(next) {
                    Ok(Read::OnDisk {
                        segment: s,
                        offset: o,
                        len: l,
                    }) if s == segment && o >= end => {
                        let record_end = o + u64::from(l);
                        if record_end - offset > budget {
                            break;
                        }
                        end = record_end;
                    }
                    Ok(Read::Absent) if next < last_seq => {}
                    _ => break,
                }
                next += 1;
            }
        }
        Plan {
            segment,
            offset,
            len: (end - offset) as usize,
            budget,
        }
    }

    /// Takes the bytes read for `plan`.
    pub fn fill(&mut self, plan: Plan, bytes: Vec<u8>) {
        *self = Window {
            segment: plan.segment,
            offset: plan.offset,
            bytes,
            next_bytes: (plan.budget.max(READ_AHEAD_MIN_BYTES / 2) * 2).min(READ_AHEAD_MAX_BYTES),
        };
    }
}

#[cfg(test)]
#[path = "read_ahead_tests.rs"]
mod tests;
