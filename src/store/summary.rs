//! Segment summaries: what a scan of one sealed segment yields, written beside it once, so that
//! recovery loads a segment's slots from its summary instead of reading and checking every
//! record. With them a restart after a crash reads about 12 bytes per message of the sealed
//! segments and scans only the newest one, so its time no longer grows with the stream's size
//! since the last checkpoint (which a clean stop writes; see `recovery.rs`).
//!
//! A summary is a cache of a scan, never a source of truth: it holds exactly what
//! `recovery.rs`'s scan of the segment would feed its builder (message slots with their
//! subjects, the delete and erase ranges the segment records, its commit records' highest
//! marks, its last message's timestamp, a delete that ends it), so loading it instead leaves
//! the same state. When it is missing, fails its CRC, names another segment, does not match the
//! segment's size, or its last record does not read back, the driver scans the segment.
//!
//! A segment is summarised after it is sealed and every byte of it was handed to a write (its
//! commit placeholders filled). Slots of messages deleted by then are written as *dead*: the
//! message existed (so it is not counted lost) but is not live; its delete was recorded by the
//! same flush or an earlier one (a delete range, a moved floor, an erase), which the recovery
//! finds as it would after a scan. Deletes after the summary come from later records, as after
//! a scan. A summary is written without a sync: a lost or torn one is only a scan more.
//!
//! Layout (little-endian): `NXSM`, version u8 = 1, segment id u32, first_seq u64, size u64,
//! hwm u64, floor u64, last_ts i64, tombstones u32, flags u8 (bit 1: ends with a delete; bit 0
//! unused), trailing delete end u64, delete count u32 + (first u64, last u64)*, subject
//! count u32 + (len u16, bytes)*, slot count u32 + (offset u32, len u32, subject u32)* (subject:
//! index into the summary's subjects; `u32::MAX` with len 0: no message, with len > 0: dead),
//! then CRC32C of everything before.

use std::collections::HashMap;

use super::log::{push_range, Log, Segment, Slot, NO_SUBJECT};
use super::record::{self, Record};
use super::recovery::Reader;
use super::SeqRange;

const MAGIC: &[u8; 4] = b"NXSM";
const FLAG_TRAILING_DELETE: u8 = 2;

/// Whether a segment still needs its summary written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum SummaryState {
    /// Its facts are complete (appended or scanned whole in this run); write it once sealed.
    #[default]
    Pending,
    /// Sealed and written whole: a flush plan names it, [`take`] encodes it.
    Planned,
    /// Written, or this run does not know all its facts (loaded from a checkpoint, scanned
    /// from an offset, a write failed): nothing to write.
    Done,
}

/// What a summary needs beyond the slots, kept per segment until its summary is written.
#[derive(Clone, Debug, Default)]
pub(super) struct SegmentFacts {
    pub state: SummaryState,
    /// The highest marks of the segment's commit records.
    pub hwm: u64,
    pub floor: u64,
    pub last_ts_ns: i64,
    /// Delete ranges its delete records hold, and erased records' sequences.
    pub deletes: Vec<SeqRange>,
    /// The end of a delete record after the segment's last message.
    pub trailing_delete: Option<u64>,
}

impl SegmentFacts {
    pub fn on_msg(&mut self, ts_ns: i64) {
        self.last_ts_ns = ts_ns;
        self.trailing_delete = None;
    }
    pub fn on_delete(&mut self, first: u64, last: u64) {
        if self.state != SummaryState::Done {
            self.deletes.push(SeqRange { first, last });
        }
        self.trailing_delete = Some(last);
    }
    /// An erased record (a secure delete) found by a scan.
    pub fn on_erased(&mut self, range: SeqRange) {
        if self.state != SummaryState::Done {
            self.deletes.push(range);
        }
    }
    pub fn on_commit(&mut self, hwm: u64, floor: u64) {
        self.hwm = self.hwm.max(hwm);
        self.floor = self.floor.max(floor);
    }
    /// Nothing more to write for this segment; frees the delete list.
    pub fn done(&mut self) {
        self.state = SummaryState::Done;
        self.deletes = Vec::new();
    }
}

/// Encodes the summary of segment `id` (named by a flush plan) into `out` and frees what the
/// log kept for it; false when the segment is gone.
pub fn take(log: &mut Log, id: u32, out: &mut Vec<u8>) -> bool {
    let Ok(i) = log.segments.binary_search_by_key(&id, |s| s.id) else {
        return false;
    };
    encode(log, i, out);
    log.segments[i].facts.done();
    true
}

fn encode(log: &Log, i: usize, out: &mut Vec<u8>) {
    let seg = &log.segments[i];
    let f = &seg.facts;
    let start = out.len();
    out.extend_from_slice(MAGIC);
    out.push(1);
    out.extend_from_slice(&seg.id.to_le_bytes());
    out.extend_from_slice(&seg.first_seq.to_le_bytes());
    out.extend_from_slice(&seg.size.to_le_bytes());
    out.extend_from_slice(&f.hwm.to_le_bytes());
    out.extend_from_slice(&f.floor.to_le_bytes());
    out.extend_from_slice(&f.last_ts_ns.to_le_bytes());
    out.extend_from_slice(&seg.tombstones.to_le_bytes());
    out.push(u8::from(f.trailing_delete.is_some()) * FLAG_TRAILING_DELETE);
    out.extend_from_slice(&f.trailing_delete.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(f.deletes.len() as u32).to_le_bytes());
    for r in &f.deletes {
        out.extend_from_slice(&r.first.to_le_bytes());
        out.extend_from_slice(&r.last.to_le_bytes());
    }
    // The segment's subjects, numbered in order of first use.
    let mut local: HashMap<u32, u32> = HashMap::new();
    let mut names: Vec<&[u8]> = Vec::new();
    let slot_subjects: Vec<u32> = seg
        .slots
        .iter()
        .map(|s| {
            if !s.live() {
                return NO_SUBJECT;
            }
            *local.entry(s.subject).or_insert_with(|| {
                let name = log.subjects.get(s.subject).map_or(&b""[..], |(n, _)| n);
                names.push(name);
                (names.len() - 1) as u32
            })
        })
        .collect();
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for name in names {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
    }
    out.extend_from_slice(&(seg.slots.len() as u32).to_le_bytes());
    for (s, subject) in seg.slots.iter().zip(slot_subjects) {
        let (offset, len) = if s.len > 0 { (s.offset, s.len) } else { (0, 0) };
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&subject.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A decoded summary (see the module docs for what each part means).
#[derive(Debug)]
pub struct Summary {
    pub id: u32,
    pub first_seq: u64,
    pub size: u64,
    pub(super) hwm: u64,
    pub(super) floor: u64,
    pub(super) last_ts_ns: i64,
    pub(super) tombstones: u32,
    pub(super) trailing_delete: Option<u64>,
    pub(super) deletes: Vec<SeqRange>,
    pub(super) subjects: Vec<Vec<u8>>,
    /// (offset, len, subject index or `NO_SUBJECT`).
    pub(super) slots: Vec<(u32, u32, u32)>,
}

impl Summary {
    /// The last record the summary names, as (offset, len, seq): a driver reads it back and
    /// checks it with [`record_matches`] before trusting the summary.
    pub fn last_record(&self) -> Option<(u64, u32, u64)> {
        let j = self.slots.iter().rposition(|s| s.1 > 0)?;
        let (offset, len, _) = self.slots[j];
        Some((offset.into(), len, self.first_seq + j as u64))
    }

    /// Whether the slots fit the segment and name subjects the summary holds, and its
    /// sequences are plausible.
    fn sound(&self) -> bool {
        let seqs_fit = self
            .first_seq
            .checked_add(self.slots.len() as u64)
            .is_some_and(|end| end <= super::recovery::SEQ_MAX);
        seqs_fit
            && self.hwm <= super::recovery::SEQ_MAX
            && self.floor <= super::recovery::SEQ_MAX
            && self.slots.iter().all(|&(offset, len, subject)| {
                let fits = u64::from(offset) + u64::from(len) <= self.size;
                let named = subject == NO_SUBJECT || (subject as usize) < self.subjects.len();
                fits && named && (len > 0 || subject == NO_SUBJECT)
            })
    }
}

/// Whether `bytes` (read back at [`Summary::last_record`]) are the record of `seq`: a message
/// or, after a secure erase, an erased record.
pub fn record_matches(bytes: &[u8], seq: u64) -> bool {
    match record::decode(bytes) {
        Ok((Record::Msg { seq: s, .. }, n))
        | Ok((Record::Packed { seq: s, .. }, n))
        | Ok((Record::Erased { seq: s }, n)) => s == seq && n == bytes.len(),
        _ => false,
    }
}

/// Decodes a summary; `None` when it fails its CRC or is not one.
pub fn decode(bytes: &[u8]) -> Option<Summary> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return None;
    }
    let mut r = Reader { buf: body, pos: 0 };
    if r.take(4)? != MAGIC || r.u8()? != 1 {
        return None;
    }
    let (id, first_seq, size) = (r.u32()?, r.u64()?, r.u64()?);
    let (hwm, floor, last_ts_ns) = (r.u64()?, r.u64()?, r.u64()? as i64);
    let tombstones = r.u32()?;
    let flags = r.u8()?;
    let trailing = r.u64()?;
    let mut deletes = Vec::new();
    for _ in 0..r.count(16)? {
        deletes.push(SeqRange {
            first: r.u64()?,
            last: r.u64()?,
        });
    }
    let mut subjects = Vec::new();
    for _ in 0..r.count(2)? {
        let len = usize::from(r.u16()?);
        subjects.push(r.take(len)?.to_vec());
    }
    let n = r.count(12)?;
    let mut slots = Vec::with_capacity(n);
    for _ in 0..n {
        slots.push((r.u32()?, r.u32()?, r.u32()?));
    }
    if r.pos != body.len() {
        return None;
    }
    let s = Summary {
        id,
        first_seq,
        size,
        hwm,
        floor,
        last_ts_ns,
        tombstones,
        trailing_delete: (flags & FLAG_TRAILING_DELETE != 0).then_some(trailing),
        deletes,
        subjects,
        slots,
    };
    s.sound().then_some(s)
}

/// Builds the segment of `s`, adding its live messages to `log`'s subjects and counters and
/// every message it names (live or dead) to `known`; returns it and its last message.
pub(super) fn load(
    log: &mut Log,
    s: &Summary,
    known: &mut Vec<SeqRange>,
) -> (Segment, Option<u64>) {
    let mut seg = Segment::new(s.id, s.first_seq, false);
    seg.size = s.size;
    seg.flushed = s.size;
    seg.tombstones = s.tombstones;
    seg.facts.done();
    seg.slots = Vec::with_capacity(s.slots.len());
    let mut last = None;
    for (j, &(offset, len, subject)) in s.slots.iter().enumerate() {
        let seq = s.first_seq + j as u64;
        if len == 0 {
            seg.slots.push(Slot::EMPTY);
            continue;
        }
        push_range(known, seq, seq);
        last = Some(seq);
        let subject = match s.subjects.get(subject as usize) {
            Some(name) => {
                seg.live_msgs += 1;
                log.msgs += 1;
                log.bytes += u64::from(len);
                log.subjects.add(name, seq)
            }
            None => NO_SUBJECT,
        };
        seg.slots.push(Slot {
            offset,
            len,
            subject,
        });
    }
    (seg, last)
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
