//! Recovery as a pure function over bytes, and the checkpoint format.
//!
//! [`recover`] takes the checkpoint file (if any) and every segment's bytes and rebuilds the
//! [`Log`]. A checkpoint is used when its CRC is valid and every segment it names is still at
//! least as long as the size it covered; then only the bytes after that size (and whole newer
//! segments) are scanned. Otherwise every segment is scanned.
//!
//! Scan policy: a record failing its checks is skipped with a resync to the next valid record
//! (reported as damage, the good records after it are kept); bytes at the end holding no valid
//! record are a torn tail (reported, never served). Zeros from the end of the last record (or of
//! damage) to the end of the file are a preallocated segment's unwritten rest, its clean end:
//! nothing is reported, and the segment's size is where they start (its logical size; the
//! driver truncates the file to it). Zeros after a torn record stay part of the torn tail.
//! Recovered segments are never appended to: the log continues in a new segment, so damaged
//! bytes are never rewritten or extended.
//!
//! `last_seq` = the highest of every commit record's high-water mark and every message seen, so
//! a sequence is never issued twice. `lost` = sequences between the floor and `last_seq` that
//! neither a message nor a delete record accounts for.
//!
//! Checkpoint layout (little-endian): `NXCK`, version u8 = 1, hwm u64, floor u64, last_ts i64,
//! next segment id u32, lost count u32 + (first u64, last u64)*, subject count u32 + (id u32,
//! len u16, bytes)*, segment count u32 + (id u32, first_seq u64, covered u64, tombstones u32,
//! slot count u32, (offset u32, len u32, subject id u32)*)*, then CRC32C of everything before.

use std::collections::HashMap;

use super::log::{push_range, Log, LogConfig, Segment, Slot};
use super::record::{self, Record, ScanItem};
use super::summary::{self, Summary};
use super::SeqRange;

const MAGIC: &[u8; 4] = b"NXCK";
/// Sequences above this are damage: it leaves room so `seq + 1` never overflows.
pub const SEQ_MAX: u64 = 1 << 62;
/// Segment ids at or above this are ignored, so the next id never overflows.
pub const SEGMENT_ID_MAX: u32 = 1 << 31;

/// What recovery found besides the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub used_checkpoint: bool,
    /// A checkpoint was there but failed its CRC or did not match the segments.
    pub checkpoint_rejected: bool,
    /// (segment id, offset): bytes from there to the end were cut off.
    pub torn_tails: Vec<(u32, u64)>,
    /// (segment id, offset, length) of damage followed by valid records.
    pub damaged: Vec<(u32, u64, u64)>,
    pub lost: Vec<SeqRange>,
}

/// Bytes of one segment file from `base` to its end (`base` 0: the whole file; a driver with a
/// valid checkpoint reads only from [`checkpoint_coverage`]'s size on).
#[derive(Clone, Copy, Debug)]
pub struct SegmentBytes<'a> {
    pub id: u32,
    pub base: u64,
    pub bytes: &'a [u8],
}

impl<'a> SegmentBytes<'a> {
    pub fn whole(id: u32, bytes: &'a [u8]) -> SegmentBytes<'a> {
        SegmentBytes { id, base: 0, bytes }
    }
}

/// (segment id, bytes covered) of a checkpoint whose CRC is valid; empty otherwise. A driver
/// reads those segments from the covered size on, and the rest whole.
pub fn checkpoint_coverage(checkpoint: &[u8]) -> Vec<(u32, u64)> {
    decode_checkpoint_as(checkpoint, Slots::Skip)
        .map(|c| c.segments.iter().map(|s| (s.id, s.covered)).collect())
        .unwrap_or_default()
}

/// Rebuilds a log from a checkpoint and the segments in id order. When the checkpoint is
/// rejected and some segment was passed from a `base` above 0, the report says
/// `checkpoint_rejected` and the driver must call again with whole segments.
pub fn recover(
    cfg: LogConfig,
    first_seq: u64,
    checkpoint: Option<&[u8]>,
    segments: &[SegmentBytes<'_>],
) -> (Log, RecoveryReport) {
    let extents: Vec<SegmentExtent> = segments.iter().map(SegmentBytes::extent).collect();
    let mut recovery = Recovery::start(cfg, first_seq, checkpoint, &extents);
    for seg in segments {
        recovery.add(*seg);
    }
    recovery.finish()
}

/// Which bytes of a segment file the driver passes: from `base`, `len` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentExtent {
    pub id: u32,
    pub base: u64,
    pub len: u64,
}

impl SegmentBytes<'_> {
    pub fn extent(&self) -> SegmentExtent {
        SegmentExtent {
            id: self.id,
            base: self.base,
            len: self.bytes.len() as u64,
        }
    }
}

/// [`recover`] one segment at a time, so a driver holds one segment's bytes, not the store's:
/// [`Recovery::start`] with the checkpoint and the extents of what it will pass (a checkpoint
/// is checked against them; without one they may be empty), [`Recovery::add`] each segment in
/// id order, [`Recovery::finish`].
pub struct Recovery {
    cfg: LogConfig,
    b: Builder,
    lost_from: u64,
    covered: HashMap<u32, u64>,
}

impl Recovery {
    pub fn start(
        cfg: LogConfig,
        first_seq: u64,
        checkpoint: Option<&[u8]>,
        extents: &[SegmentExtent],
    ) -> Recovery {
        let mut report = RecoveryReport::default();
        let ckpt = checkpoint.and_then(|bytes| {
            let parsed = decode_checkpoint(bytes).filter(|c| matches_segments(c, extents));
            report.checkpoint_rejected = parsed.is_none();
            parsed
        });
        // Built in memory mode while records are placed; durable again in `finish`.
        let mut b = Builder {
            log: Log::new(
                LogConfig {
                    durable: false,
                    ..cfg
                },
                first_seq,
            ),
            known: Vec::new(),
            deletes: Vec::new(),
            hwm: first_seq.max(1) - 1,
            floor: first_seq.max(1),
            max_msg_seq: 0,
            gap_end: None,
            report,
        };
        let mut lost_from = b.floor;
        let mut covered: HashMap<u32, u64> = HashMap::new();
        if let Some(c) = ckpt {
            b.report.used_checkpoint = true;
            lost_from = c.hwm + 1;
            covered = c.segments.iter().map(|s| (s.id, s.covered)).collect();
            b.load(c);
        }
        Recovery {
            cfg,
            b,
            lost_from,
            covered,
        }
    }

    /// Scans the next segment (in id order).
    pub fn add(&mut self, seg: SegmentBytes<'_>) {
        if seg.id >= SEGMENT_ID_MAX {
            return;
        }
        // Without a usable checkpoint only whole segments can be scanned.
        if seg.base > 0 && !self.covered.contains_key(&seg.id) {
            return;
        }
        let from = self
            .covered
            .get(&seg.id)
            .copied()
            .unwrap_or(0)
            .saturating_sub(seg.base);
        self.b
            .scan_segment(seg.id, seg.base, seg.bytes, from as usize);
    }

    /// Takes the next segment (in id order) from its summary instead of its bytes; false when
    /// the summary cannot stand for it here (the checkpoint covers the segment, or its
    /// messages overlap those already placed): the driver then passes the bytes to [`add`].
    ///
    /// [`add`]: Recovery::add
    pub fn add_summary(&mut self, s: &Summary) -> bool {
        if s.id >= SEGMENT_ID_MAX || self.covered.contains_key(&s.id) {
            return false;
        }
        self.b.load_summary(s)
    }

    /// A checkpoint was given and cannot be used: the driver must pass whole segments.
    pub fn checkpoint_rejected(&self) -> bool {
        self.b.report.checkpoint_rejected
    }

    pub fn finish(self) -> (Log, RecoveryReport) {
        self.b.finish(self.cfg, self.lost_from)
    }
}

struct Builder {
    log: Log,
    /// Sequences accounted for by a record seen in this recovery.
    known: Vec<SeqRange>,
    deletes: Vec<SeqRange>,
    hwm: u64,
    floor: u64,
    max_msg_seq: u64,
    /// The last sequence of the delete record scanned last, if it was the last record.
    gap_end: Option<u64>,
    report: RecoveryReport,
}

impl Builder {
    fn load(&mut self, c: Checkpoint) {
        let log = &mut self.log;
        self.hwm = c.hwm;
        self.floor = c.floor;
        log.lost = c.lost;
        log.last_ts_ns = c.last_ts_ns;
        log.next_segment_id = c.next_segment_id;
        let names: HashMap<u32, Vec<u8>> = c.subjects.into_iter().collect();
        for cs in c.segments {
            let mut seg = Segment::new(cs.id, cs.first_seq, false);
            seg.facts.done();
            seg.size = cs.covered;
            seg.flushed = cs.covered;
            seg.tombstones = cs.tombstones;
            seg.slots = cs.slots;
            for (j, slot) in seg.slots.iter_mut().enumerate() {
                let seq = cs.first_seq + j as u64;
                self.max_msg_seq = self.max_msg_seq.max(seq);
                match names.get(&slot.subject) {
                    Some(name) if slot.live() => {
                        slot.subject = log.subjects.add(name, seq);
                        seg.live_msgs += 1;
                        log.msgs += 1;
                        log.bytes += u64::from(slot.len);
                    }
                    _ => *slot = Slot::EMPTY,
                }
            }
            log.segments.push(seg);
        }
    }

    /// What [`Builder::scan_segment`] of the whole segment would do, from its summary.
    fn load_summary(&mut self, s: &Summary) -> bool {
        let log = &mut self.log;
        let first_msg = s.slots.iter().position(|sl| sl.1 > 0);
        let overlaps = first_msg.is_some_and(|j| s.first_seq + j as u64 <= self.max_msg_seq);
        if overlaps || log.segments.iter().any(|seg| seg.id == s.id) {
            return false;
        }
        log.next_segment_id = log.next_segment_id.max(s.id.saturating_add(1));
        let (segment, last) = summary::load(log, s, &mut self.known);
        log.segments.push(segment);
        if let Some(last) = last {
            self.max_msg_seq = last;
            log.last_ts_ns = s.last_ts_ns;
        }
        // As a scan leaves it: a message takes the mark of a delete before it.
        if last.is_some() || s.trailing_delete.is_some() {
            self.gap_end = s.trailing_delete;
        }
        self.deletes.extend_from_slice(&s.deletes);
        self.hwm = self.hwm.max(s.hwm);
        self.floor = self.floor.max(s.floor);
        true
    }

    fn scan_segment(&mut self, id: u32, base: u64, bytes: &[u8], from: usize) {
        let log = &mut self.log;
        let i = match log.segments.iter().position(|s| s.id == id) {
            Some(i) => i,
            None => {
                log.segments
                    .push(Segment::new(id, self.max_msg_seq + 1, false));
                log.segments.len() - 1
            }
        };
        log.next_segment_id = log.next_segment_id.max(id.saturating_add(1));
        if base > 0 || from > 0 {
            log.segments[i].facts.done();
        }
        let mut scan = record::scan(bytes, from);
        for item in &mut scan {
            match item {
                ScanItem::Record { offset, record } => match record {
                    // `offset` is into `bytes`; `at` is into the file.
                    // A packed message is placed as a plain one: its subject is in the clear.
                    Record::Msg {
                        seq,
                        ts_ns,
                        subject,
                        ..
                    }
                    | Record::Packed {
                        seq,
                        ts_ns,
                        subject,
                        ..
                    } => {
                        // A duplicate or out-of-order copy cannot be placed; the first wins.
                        if seq <= self.max_msg_seq || subject.is_empty() {
                            continue;
                        }
                        let seg = &log.segments[i];
                        // A segment holds at most one slot per 32 bytes, so a gap inside it
                        // wider than that is damage, not data (and would cost RAM to fill).
                        let gap_max = (bytes.len() / record::HEADER_BYTES) as u64;
                        let at = base + offset as u64;
                        // A gap a delete record just accounted for (`Log::skip_to`) is data.
                        let skipped = self.gap_end.take().is_some_and(|end| seq == end + 1);
                        let implausible = seq > SEQ_MAX
                            || at > u64::from(u32::MAX)
                            || (!skipped
                                && !seg.slots.is_empty()
                                && seq.saturating_sub(seg.first_seq)
                                    > seg.slots.len() as u64 + gap_max);
                        if implausible {
                            log.segments[i].facts.done();
                            self.report.damaged.push((id, at, 0));
                            continue;
                        }
                        self.max_msg_seq = seq;
                        // The scan accepted the record, so its length field is sound.
                        let mut len = [0; 4];
                        len.copy_from_slice(&bytes[offset..offset + 4]);
                        let rec_len = u32::from_le_bytes(len);
                        let sid = log.subjects.add(subject, seq);
                        let seg = &mut log.segments[i];
                        if seg.slots.is_empty() {
                            seg.first_seq = seq;
                        }
                        seg.put(
                            seq,
                            Slot {
                                offset: at as u32,
                                len: rec_len,
                                subject: sid,
                            },
                        );
                        seg.live_msgs += 1;
                        log.msgs += 1;
                        log.bytes += u64::from(rec_len);
                        log.last_ts_ns = ts_ns;
                        seg.facts.on_msg(ts_ns);
                        push_range(&mut self.known, seq, seq);
                    }
                    Record::Delete { first, last } if first <= last => {
                        self.gap_end = Some(last);
                        log.segments[i].tombstones += 1;
                        log.segments[i].facts.on_delete(first, last);
                        self.deletes.push(SeqRange { first, last });
                    }
                    Record::Delete { .. } => {}
                    Record::Erased { seq } => {
                        let range = SeqRange {
                            first: seq,
                            last: seq,
                        };
                        self.deletes.push(range);
                        log.segments[i].facts.on_erased(range);
                    }
                    Record::Commit { hwm, floor } if hwm <= SEQ_MAX && floor <= SEQ_MAX => {
                        self.hwm = self.hwm.max(hwm);
                        self.floor = self.floor.max(floor);
                        log.segments[i].facts.on_commit(hwm, floor);
                    }
                    Record::Commit { .. } => {
                        log.segments[i].facts.done();
                        self.report.damaged.push((id, base + offset as u64, 0))
                    }
                },
                // A damaged segment is scanned (and reported) at every start, not summarised.
                ScanItem::Damage { offset, len } => {
                    log.segments[i].facts.done();
                    self.report
                        .damaged
                        .push((id, base + offset as u64, len as u64))
                }
                ScanItem::TornTail { offset } => {
                    log.segments[i].facts.done();
                    self.report.torn_tails.push((id, base + offset as u64))
                }
            }
        }
        // The logical size: a preallocated segment's zeros after its last record are not data.
        let seg = &mut log.segments[i];
        seg.size = base + scan.end() as u64;
        seg.flushed = seg.size;
    }

    fn finish(mut self, cfg: LogConfig, lost_from: u64) -> (Log, RecoveryReport) {
        let log = &mut self.log;
        log.last_seq = self.hwm.max(self.max_msg_seq).max(log.last_seq);
        let last = log.last_seq;
        log.first_seq = log
            .segments
            .iter()
            .find_map(|s| {
                s.slots
                    .iter()
                    .position(Slot::live)
                    .map(|j| s.first_seq + j as u64)
            })
            .unwrap_or(last + 1);
        // Durable from here: a segment the deletes below empty is dropped as in normal
        // operation (its file removed after the next flush has recorded why).
        log.cfg = cfg;
        // Walk only the slots a range covers: a range may be far wider than the log.
        let mut doomed = Vec::new();
        for r in &self.deletes {
            for seg in &log.segments {
                if seg.slots.is_empty() {
                    continue;
                }
                let lo = r.first.max(seg.first_seq);
                let hi = r.last.min(seg.first_seq + seg.slots.len() as u64 - 1);
                if lo > hi {
                    continue;
                }
                for seq in lo..=hi {
                    if seg.slots[(seq - seg.first_seq) as usize].live() {
                        doomed.push(seq);
                    }
                }
            }
        }
        for seq in doomed {
            log.remove(seq);
        }
        while log.msgs > 0 && log.first_seq < self.floor {
            log.remove(log.first_seq);
        }
        if log.msgs == 0 {
            log.first_seq = last + 1;
        }
        // Lost: issued sequences from `lost_from` up that no record accounts for.
        let mut known = self.known;
        known.extend(self.deletes.iter().copied());
        known.sort_unstable_by_key(|r| r.first);
        let mut next = lost_from.max(self.floor);
        let mut lost = std::mem::take(&mut log.lost);
        for r in known {
            if r.first > next && next <= last {
                push_range(&mut lost, next, (r.first - 1).min(last));
            }
            next = next.max(r.last.saturating_add(1));
        }
        if next <= last {
            push_range(&mut lost, next, last);
        }
        log.lost = lost;
        log.first_ts_ns = if log.msgs == 0 { Some(0) } else { None };
        log.roll();
        log.floor_dirty = true;
        self.report.lost = log.lost.clone();
        (self.log, self.report)
    }
}

struct Checkpoint {
    hwm: u64,
    floor: u64,
    last_ts_ns: i64,
    next_segment_id: u32,
    lost: Vec<SeqRange>,
    subjects: Vec<(u32, Vec<u8>)>,
    segments: Vec<CkptSegment>,
}

struct CkptSegment {
    id: u32,
    first_seq: u64,
    covered: u64,
    tombstones: u32,
    slots: Vec<Slot>,
}

fn matches_segments(c: &Checkpoint, segments: &[SegmentExtent]) -> bool {
    let max_id = c.segments.iter().map(|s| s.id).max().unwrap_or(0);
    c.segments.iter().all(|cs| {
        segments
            .iter()
            .any(|s| s.id == cs.id && s.base <= cs.covered && s.base + s.len >= cs.covered)
    }) && segments
        .iter()
        .all(|s| s.id > max_id || c.segments.iter().any(|cs| cs.id == s.id))
}

/// Encodes the checkpoint of `log` covering every flushed byte (call it right after a flush).
pub fn encode_checkpoint(log: &Log, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(MAGIC);
    out.push(1);
    out.extend_from_slice(&log.last_seq.to_le_bytes());
    out.extend_from_slice(&log.first_seq.to_le_bytes());
    out.extend_from_slice(&log.last_ts_ns.to_le_bytes());
    out.extend_from_slice(&log.next_segment_id.to_le_bytes());
    out.extend_from_slice(&(log.lost.len() as u32).to_le_bytes());
    for r in &log.lost {
        out.extend_from_slice(&r.first.to_le_bytes());
        out.extend_from_slice(&r.last.to_le_bytes());
    }
    out.extend_from_slice(&(log.subjects.len() as u32).to_le_bytes());
    for (id, subject, _) in log.subjects.iter() {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(subject.len() as u16).to_le_bytes());
        out.extend_from_slice(subject);
    }
    let segs: Vec<_> = log.segments.iter().filter(|s| s.flushed > 0).collect();
    out.extend_from_slice(&(segs.len() as u32).to_le_bytes());
    for s in segs {
        out.extend_from_slice(&s.id.to_le_bytes());
        out.extend_from_slice(&s.first_seq.to_le_bytes());
        out.extend_from_slice(&s.flushed.to_le_bytes());
        out.extend_from_slice(&s.tombstones.to_le_bytes());
        // Slots past the covered bytes come back from the replay.
        let n = s
            .slots
            .iter()
            .rposition(|sl| u64::from(sl.offset) + u64::from(sl.len) <= s.flushed && sl.len > 0);
        let n = n.map_or(0, |i| i + 1);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        for sl in &s.slots[..n] {
            out.extend_from_slice(&sl.offset.to_le_bytes());
            out.extend_from_slice(&sl.len.to_le_bytes());
            out.extend_from_slice(&sl.subject.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Little-endian fields of a checkpoint or a segment summary (`summary.rs`), `None` past the end.
pub(super) struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    /// A count of items of at least `item_bytes` each, refused when the rest cannot hold them.
    pub fn count(&mut self, item_bytes: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(item_bytes)? <= self.buf.len() - self.pos).then_some(n)
    }
}

/// Whether decoding a checkpoint builds the slots or only checks and steps over them (what
/// [`checkpoint_coverage`] needs: the sizes, not the index).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slots {
    Build,
    Skip,
}

fn decode_checkpoint(bytes: &[u8]) -> Option<Checkpoint> {
    decode_checkpoint_as(bytes, Slots::Build)
}

fn decode_checkpoint_as(bytes: &[u8], slots_mode: Slots) -> Option<Checkpoint> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return None;
    }
    let mut r = Reader { buf: body, pos: 0 };
    if r.take(4)? != MAGIC || r.take(1)? != [1] {
        return None;
    }
    let (hwm, floor, last_ts_ns) = (r.u64()?, r.u64()?, r.u64()? as i64);
    let next_segment_id = r.u32()?;
    if hwm > SEQ_MAX || floor > SEQ_MAX || next_segment_id > SEGMENT_ID_MAX {
        return None;
    }
    let mut lost = Vec::new();
    for _ in 0..r.count(16)? {
        lost.push(SeqRange {
            first: r.u64()?,
            last: r.u64()?,
        });
    }
    let mut subjects = Vec::new();
    for _ in 0..r.count(6)? {
        let id = r.u32()?;
        let len = usize::from(r.u16()?);
        subjects.push((id, r.take(len)?.to_vec()));
    }
    let mut segments = Vec::new();
    let mut prev_first = 0;
    for _ in 0..r.count(28)? {
        let (id, first_seq, covered, tombstones) = (r.u32()?, r.u64()?, r.u64()?, r.u32()?);
        let n = r.count(12)?;
        let slots = match slots_mode {
            Slots::Skip => {
                r.take(n * 12)?;
                Vec::new()
            }
            Slots::Build => {
                let mut slots = Vec::with_capacity(n);
                for _ in 0..n {
                    let (offset, len, subject) = (r.u32()?, r.u32()?, r.u32()?);
                    let fits = u64::from(offset) + u64::from(len) <= covered;
                    slots.push(if fits && len > 0 {
                        Slot {
                            offset,
                            len,
                            subject,
                        }
                    } else {
                        Slot::EMPTY
                    });
                }
                slots
            }
        };
        if first_seq < prev_first.max(1) || first_seq > SEQ_MAX || id >= SEGMENT_ID_MAX {
            return None;
        }
        prev_first = first_seq + n as u64;
        segments.push(CkptSegment {
            id,
            first_seq,
            covered,
            tombstones,
            slots,
        });
    }
    Some(Checkpoint {
        hwm,
        floor,
        last_ts_ns,
        next_segment_id,
        lost,
        subjects,
        segments,
    })
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "prealloc_tests.rs"]
mod prealloc_tests;
