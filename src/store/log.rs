//! The sans-io message log: segments, the dense sequence index, the subject index, counters,
//! and the write plan of each flush. Both backends are this type: the memory backend keeps every
//! segment's bytes in RAM and writes nothing; the file backend keeps only the active segment's
//! bytes (the hot tail) and hands each flush to a driver as a [`FlushPlan`].
//!
//! Memory: one 12-byte [`Slot`] per sequence slot (offset, length, subject id) grown by a quarter
//! at a time, so at most 16 bytes per stored message (checked by a test from the capacities).
//!
//! Invariants:
//! * `segments` are in id order and in sequence order; the last one is the active segment, the
//!   only one appended to. Segment `i` holds the slots `first_seq .. first_seq + slots.len()`.
//! * `first_seq` is the lowest live sequence, or `last_seq + 1` when the log is empty;
//!   `last_seq` is the high-water mark: the last sequence ever issued, it never goes down.
//! * A slot is live iff its `subject != NO_SUBJECT`; `msgs`, `bytes`, the per-segment live
//!   counts and the subject index count exactly the live slots.
//! * Durable mode: every flushed batch starts with a commit record carrying `last_seq` and
//!   `first_seq`; interior deletes are delete-range records in the batch; a segment file is
//!   removed only after the batch that records why (a delete range or a floor) is written.

mod query;
mod remove;

use super::pack::{self, Packer};
use super::record::{self, Record, COMMIT_RECORD_BYTES};
use super::subjects::Subjects;
use super::summary::{SegmentFacts, SummaryState};
use super::{Limits, Purge, SeqRange, StoreError, StoredMsg};

/// The subject id of a slot with no live message (never stored, deleted, or lost).
pub(super) const NO_SUBJECT: u32 = u32::MAX;
/// Sealed segments a durable log keeps in RAM besides the tail: the newest ones, which the
/// consumers that keep up with the publishers read. A read from a segment that left RAM is one
/// `pread` per message (it was 27 % of a push consumer's shard over a 60 k backlog, more than
/// a segment); this costs up to one `segment_bytes_max` more RAM per stream.
pub const SEALED_RESIDENT_SEGMENTS: usize = 1;

/// The largest `segment_bytes_max`: offsets are `u32` and one record may overshoot a segment.
pub const SEGMENT_BYTES_MAX_LIMIT: u32 = 1 << 30;
/// The widest gap `Log::skip_to` keeps inside a segment (a slot of RAM per skipped sequence);
/// a wider one starts a new segment.
pub const GAP_SLOTS_MAX: u64 = 1024;

/// Where one sequence lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub offset: u32,
    pub len: u32,
    pub subject: u32,
}

impl Slot {
    pub const EMPTY: Slot = Slot {
        offset: 0,
        len: 0,
        subject: NO_SUBJECT,
    };
    pub fn live(&self) -> bool {
        self.subject != NO_SUBJECT
    }
}

#[derive(Debug)]
pub(super) struct Segment {
    pub id: u32,
    pub first_seq: u64,
    pub slots: Vec<Slot>,
    /// The segment's bytes `0..size` when `resident`, else empty.
    pub bytes: Vec<u8>,
    pub resident: bool,
    pub size: u64,
    /// Bytes already handed to a write.
    pub flushed: u64,
    pub live_msgs: u64,
    /// Delete-range records in this segment (they may speak for older segments).
    pub tombstones: u32,
    /// Offset of the open batch's commit placeholder.
    pub batch_at: Option<usize>,
    /// What its summary needs (`summary.rs`).
    pub facts: SegmentFacts,
}

impl Segment {
    pub fn new(id: u32, first_seq: u64, resident: bool) -> Segment {
        Segment {
            id,
            first_seq,
            slots: Vec::new(),
            bytes: Vec::new(),
            resident,
            size: 0,
            flushed: 0,
            live_msgs: 0,
            tombstones: 0,
            batch_at: None,
            facts: SegmentFacts::default(),
        }
    }

    fn end_seq(&self) -> u64 {
        self.first_seq + self.slots.len() as u64
    }

    /// Sets the slot of `seq` (>= `first_seq`), filling any gap with empty slots. Grows by a
    /// quarter, not double, to keep the per-message figure under 16 bytes.
    pub fn put(&mut self, seq: u64, slot: Slot) {
        let Some(index) = seq.checked_sub(self.first_seq) else {
            return;
        };
        let index = index as usize;
        if index >= self.slots.len() {
            let need = index + 1 - self.slots.len();
            if self.slots.capacity() - self.slots.len() < need {
                self.slots
                    .reserve_exact(need.max(self.slots.len() / 4).max(64));
            }
            self.slots.resize(index + 1, Slot::EMPTY);
        }
        self.slots[index] = slot;
    }
}

/// Tuning of one log.
#[derive(Clone, Copy, Debug)]
pub struct LogConfig {
    /// A segment rolls over before a record would take it past this size.
    pub segment_bytes_max: u32,
    /// Durable (file) mode writes commit and delete records and plans writes; memory mode not.
    pub durable: bool,
}

/// One write of a flush: bytes `offset .. offset + len` of a segment ([`Log::write_bytes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentWrite {
    pub segment: u32,
    pub offset: u64,
    pub len: u64,
    /// The file does not exist yet.
    pub create: bool,
}

/// An in-place overwrite (secure erase) of a record already written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overwrite {
    pub segment: u32,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// What one flush must do, in this order: the writes, then one fdatasync per written segment,
/// then the overwrites, then the removals (only after the sync, so a crash never leaves a
/// removed file whose reason was not yet durable), then the summaries of the segments it
/// finished (`summary.rs`; a lost one costs only a scan).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushPlan {
    pub writes: Vec<SegmentWrite>,
    pub overwrites: Vec<Overwrite>,
    pub removes: Vec<u32>,
    /// Sealed segments now written whole that have no summary yet ([`summary::take`]).
    ///
    /// [`summary::take`]: super::summary::take
    pub summaries: Vec<u32>,
}

impl FlushPlan {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.overwrites.is_empty()
            && self.removes.is_empty()
            && self.summaries.is_empty()
    }
}

/// Where [`Log::read`] found a sequence.
#[derive(Debug)]
pub enum Read {
    Absent,
    Found(StoredMsg),
    /// In a segment that is not resident: the driver reads these bytes and calls
    /// [`Log::decode_read`].
    OnDisk {
        segment: u32,
        offset: u64,
        len: u32,
    },
}

/// The message log.
#[derive(Debug)]
pub struct Log {
    pub(super) cfg: LogConfig,
    pub(super) segments: Vec<Segment>,
    pub(super) next_segment_id: u32,
    pub(super) subjects: Subjects,
    pub(super) first_seq: u64,
    pub(super) last_seq: u64,
    pub(super) msgs: u64,
    pub(super) bytes: u64,
    /// `None` when the first message changed and its timestamp was not read yet.
    pub(super) first_ts_ns: Option<i64>,
    pub(super) last_ts_ns: i64,
    pub(super) lost: Vec<SeqRange>,
    pub(super) pending_deletes: Vec<SeqRange>,
    pub(super) pending_overwrites: Vec<Overwrite>,
    pub(super) pending_removes: Vec<u32>,
    /// The floor moved since the last flush.
    pub(super) floor_dirty: bool,
    /// Bytes a message counts in `bytes` beyond its subject, headers and payload (the
    /// record's header by default; see [`Log::count_overhead_as`]).
    msg_overhead_bytes: u32,
    /// With `compression: s2`: messages are packed as they are appended (`pack.rs`).
    packer: Option<Box<Packer>>,
}

impl Log {
    /// An empty log whose first message will get `first_seq` (at least 1).
    pub fn new(mut cfg: LogConfig, first_seq: u64) -> Log {
        cfg.segment_bytes_max = cfg.segment_bytes_max.clamp(4096, SEGMENT_BYTES_MAX_LIMIT);
        let first_seq = first_seq.max(1);
        Log {
            cfg,
            segments: Vec::new(),
            next_segment_id: 1,
            subjects: Subjects::default(),
            first_seq,
            last_seq: first_seq - 1,
            msgs: 0,
            bytes: 0,
            first_ts_ns: Some(0),
            last_ts_ns: 0,
            lost: Vec::new(),
            pending_deletes: Vec::new(),
            pending_overwrites: Vec::new(),
            pending_removes: Vec::new(),
            floor_dirty: first_seq > 1,
            msg_overhead_bytes: record::HEADER_BYTES as u32,
            packer: None,
        }
    }

    /// Counts each message in `bytes` (and so against `bytes_max`) as its subject, headers
    /// and payload plus `overhead` bytes instead of its record's size. A JetStream memory
    /// stream counts 16, as nats-server's memory store does (`memStoreMsgSize`). Call before
    /// the first append; file logs keep their record sizes, which recovery recounts.
    pub fn count_overhead_as(&mut self, overhead: u32) {
        debug_assert_eq!(self.msgs, 0);
        self.msg_overhead_bytes = overhead;
    }

    /// What a record of `len` bytes counts in `bytes`.
    fn counted(&self, len: u32) -> u64 {
        u64::from(len) + u64::from(self.msg_overhead_bytes) - record::HEADER_BYTES as u64
    }

    /// Packs the messages appended from now on (`compression: s2`), or stops packing them.
    /// Records already stored keep their form: each says whether it is packed.
    pub fn set_compression(&mut self, on: bool) {
        match (on, self.packer.is_some()) {
            (true, false) => self.packer = Some(Box::default()),
            (false, true) => self.packer = None,
            _ => {}
        }
    }

    pub fn compression(&self) -> bool {
        self.packer.is_some()
    }

    /// Appends a message; returns its sequence (`last_seq + 1`).
    pub fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        ts_ns: i64,
    ) -> Result<u64, StoreError> {
        if subject.is_empty() {
            return Err(StoreError::InvalidSubject);
        }
        if !record::msg_fits(subject, headers, payload) {
            return Err(StoreError::MsgTooLarge);
        }
        let packed = self
            .packer
            .as_mut()
            .is_some_and(|p| p.pack(headers, payload));
        let len = match &self.packer {
            Some(p) if packed => record::packed_len(subject, p.packed()),
            _ => record::msg_len(subject, headers, payload),
        };
        let seq = self.last_seq + 1;
        self.make_room(len);
        let durable = self.cfg.durable;
        let Some(active) = self.segments.last_mut() else {
            return Err(StoreError::InvalidSubject);
        };
        if durable && active.batch_at.is_none() {
            active.batch_at = Some(active.bytes.len());
            record::encode_commit(&mut active.bytes, 0, 0);
        }
        let offset = active.bytes.len();
        match &self.packer {
            Some(p) if packed => {
                record::encode_packed(
                    &mut active.bytes,
                    seq,
                    ts_ns,
                    subject,
                    headers.len() as u32,
                    p.packed(),
                );
            }
            _ => {
                record::encode_msg(&mut active.bytes, seq, ts_ns, subject, headers, payload);
            }
        }
        active.facts.on_msg(ts_ns);
        active.size = active.bytes.len() as u64;
        let id = self.subjects.add(subject, seq);
        active.put(
            seq,
            Slot {
                offset: offset as u32,
                len: len as u32,
                subject: id,
            },
        );
        active.live_msgs += 1;
        if self.msgs == 0 {
            self.first_seq = seq;
            self.first_ts_ns = Some(ts_ns);
        }
        self.msgs += 1;
        self.bytes += self.counted(len as u32);
        self.last_seq = seq;
        self.last_ts_ns = ts_ns;
        Ok(seq)
    }

    /// Makes the active segment able to take `len` more bytes (plus a commit record).
    fn make_room(&mut self, len: usize) {
        let max = u64::from(self.cfg.segment_bytes_max);
        let roll = match self.segments.last() {
            None => true,
            Some(active) => {
                active.size > 0 && active.size + (len + COMMIT_RECORD_BYTES) as u64 > max
            }
        };
        if roll {
            self.roll();
        }
    }

    /// Seals the active segment (if any) and opens a new, empty one.
    pub(super) fn roll(&mut self) {
        if let Some(active) = self.segments.last_mut() {
            active.slots.shrink_to_fit();
        }
        let id = self.next_segment_id;
        self.next_segment_id += 1;
        let mut seg = Segment::new(id, self.last_seq + 1, true);
        seg.bytes = self.recycle_bytes();
        self.segments.push(seg);
        // An empty sealed segment holds nothing worth its file.
        let n = self.segments.len();
        if n >= 2 && self.segments[n - 2].live_msgs == 0 {
            self.drop_segment(n - 2);
        }
    }

    /// In durable mode, the buffer of the sealed segment that a roll pushes out of RAM (the
    /// next [`Log::flushed`] would drop it: RAM keeps the tail and the newest
    /// [`SEALED_RESIDENT_SEGMENTS`]), emptied, for the new tail. Reusing it spares the tail
    /// its growth by doubling: each step a realloc, a copy and fresh pages the kernel zeroes,
    /// a fifth of the server's time in a windowed publish before (docs/PERFORMANCE.md).
    /// A segment not yet fully written keeps its bytes (the flush still needs them).
    fn recycle_bytes(&mut self) -> Vec<u8> {
        let n = self.segments.len();
        if !self.cfg.durable || n <= SEALED_RESIDENT_SEGMENTS {
            return Vec::new();
        }
        let seg = &mut self.segments[n - 1 - SEALED_RESIDENT_SEGMENTS];
        if !seg.resident || seg.flushed != seg.size {
            return Vec::new();
        }
        seg.resident = false;
        let mut bytes = std::mem::take(&mut seg.bytes);
        bytes.clear();
        bytes
    }

    /// Sets the sequence of the next message; only ahead of every sequence issued.
    pub fn set_first_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        if self.msgs != 0 || seq <= self.last_seq || seq > super::recovery::SEQ_MAX {
            return Err(StoreError::SeqWouldReuse {
                last_seq: self.last_seq,
            });
        }
        self.last_seq = seq - 1;
        self.first_seq = seq;
        self.floor_dirty = true;
        // A new segment starts at `seq`, so the jump costs no slots.
        if self.segments.last().is_some_and(|s| !s.slots.is_empty()) {
            self.roll();
        }
        Ok(())
    }

    /// Makes `seq` the next sequence to issue, leaving the ones between never stored (a
    /// mirror keeps its origin's sequences, with gaps where the origin deleted or the filter
    /// skipped). In durable mode the gap is written at once as a delete-range record ahead of
    /// the next message, so recovery accounts for it instead of reporting it lost; a gap
    /// wider than `GAP_SLOTS_MAX` starts a new segment rather than costing a slot each.
    pub fn skip_to(&mut self, seq: u64) -> Result<(), StoreError> {
        if seq == self.last_seq + 1 {
            return Ok(());
        }
        if seq <= self.last_seq || seq > super::recovery::SEQ_MAX {
            return Err(StoreError::SeqWouldReuse {
                last_seq: self.last_seq,
            });
        }
        if self.msgs == 0 {
            return self.set_first_seq(seq);
        }
        let first = self.last_seq + 1;
        self.last_seq = seq - 1;
        if seq - first > GAP_SLOTS_MAX || self.segments.is_empty() {
            self.roll();
        }
        if self.cfg.durable {
            let Some(active) = self.segments.last_mut() else {
                return Ok(());
            };
            if active.batch_at.is_none() {
                active.batch_at = Some(active.bytes.len());
                record::encode_commit(&mut active.bytes, 0, 0);
            }
            record::encode_delete(&mut active.bytes, first, seq - 1);
            active.facts.on_delete(first, seq - 1);
            active.tombstones += 1;
            active.size = active.bytes.len() as u64;
        }
        Ok(())
    }

    /// The segment index and slot of `seq`, if in range.
    pub(super) fn locate(&self, seq: u64) -> Option<(usize, Slot)> {
        let i = self
            .segments
            .partition_point(|s| s.first_seq <= seq)
            .checked_sub(1)?;
        let seg = &self.segments[i];
        let slot = *seg.slots.get((seq - seg.first_seq) as usize)?;
        Some((i, slot))
    }

    /// Reads `seq` from RAM, or says which bytes to read.
    pub fn read(&self, seq: u64) -> Result<Read, StoreError> {
        let Some((i, slot)) = self.locate(seq) else {
            return Ok(Read::Absent);
        };
        if !slot.live() {
            return Ok(Read::Absent);
        }
        let seg = &self.segments[i];
        if !seg.resident {
            return Ok(Read::OnDisk {
                segment: seg.id,
                offset: slot.offset.into(),
                len: slot.len,
            });
        }
        let start = slot.offset as usize;
        let bytes = seg.bytes.get(start..start + slot.len as usize);
        Ok(Read::Found(Self::decode_read(seq, bytes.unwrap_or(&[]))?))
    }

    /// Decodes the bytes of a read of `seq`; damage is reported, never served.
    pub fn decode_read(seq: u64, bytes: &[u8]) -> Result<StoredMsg, StoreError> {
        match record::decode(bytes) {
            Ok((
                Record::Msg {
                    seq: s,
                    ts_ns,
                    subject,
                    headers,
                    payload,
                },
                _,
            )) if s == seq => Ok(StoredMsg {
                seq,
                ts_ns,
                subject: subject.to_vec(),
                headers: headers.to_vec(),
                payload: payload.to_vec(),
            }),
            Ok((
                Record::Packed {
                    seq: s,
                    ts_ns,
                    subject,
                    headers_len,
                    body,
                },
                _,
            )) if s == seq => {
                // It passed its CRC, so a block that does not unpack is damage all the same.
                let (headers, payload) =
                    pack::unpack(headers_len, body).map_err(|_| StoreError::Corrupt { seq })?;
                Ok(StoredMsg {
                    seq,
                    ts_ns,
                    subject: subject.to_vec(),
                    headers,
                    payload,
                })
            }
            _ => Err(StoreError::Corrupt { seq }),
        }
    }

    /// Closes the open batches and returns what to write; the caller writes, syncs, overwrites
    /// and removes in that order, then calls [`Log::flushed`]. Memory mode: always empty.
    pub fn flush(&mut self) -> FlushPlan {
        if !self.cfg.durable {
            self.pending_deletes.clear();
            return FlushPlan::default();
        }
        let needs_batch = self.floor_dirty
            || !self.pending_deletes.is_empty()
            || !self.pending_removes.is_empty();
        if self.segments.is_empty() && needs_batch {
            self.roll();
        }
        let (hwm, floor) = (self.last_seq, self.first_seq);
        if let Some(active) = self.segments.last_mut() {
            if needs_batch && active.batch_at.is_none() {
                active.batch_at = Some(active.bytes.len());
                record::encode_commit(&mut active.bytes, 0, 0);
            }
            for r in self.pending_deletes.drain(..) {
                record::encode_delete(&mut active.bytes, r.first, r.last);
                active.facts.on_delete(r.first, r.last);
                active.tombstones += 1;
            }
            active.size = active.bytes.len() as u64;
        }
        self.floor_dirty = false;
        let mut plan = FlushPlan::default();
        let sealed = self.segments.len().saturating_sub(1);
        for (i, seg) in self.segments.iter_mut().enumerate() {
            if let Some(at) = seg.batch_at.take() {
                let mut commit = Vec::with_capacity(COMMIT_RECORD_BYTES);
                record::encode_commit(&mut commit, hwm, floor);
                seg.bytes[at..at + COMMIT_RECORD_BYTES].copy_from_slice(&commit);
                seg.facts.on_commit(hwm, floor);
            }
            if seg.size > seg.flushed {
                plan.writes.push(SegmentWrite {
                    segment: seg.id,
                    offset: seg.flushed,
                    len: seg.size - seg.flushed,
                    create: seg.flushed == 0,
                });
                seg.flushed = seg.size;
            }
            if i < sealed && seg.size > 0 && seg.facts.state == SummaryState::Pending {
                seg.facts.state = SummaryState::Planned;
                plan.summaries.push(seg.id);
            }
        }
        plan.removes = std::mem::take(&mut self.pending_removes);
        plan.overwrites = std::mem::take(&mut self.pending_overwrites);
        plan.overwrites
            .retain(|o| !plan.removes.contains(&o.segment));
        plan
    }

    /// The bytes of one planned write.
    pub fn write_bytes(&self, w: &SegmentWrite) -> &[u8] {
        let seg = self.segments.iter().find(|s| s.id == w.segment);
        let range = w.offset as usize..(w.offset + w.len) as usize;
        seg.and_then(|s| s.bytes.get(range)).unwrap_or(&[])
    }

    /// The plan was carried out: sealed segments leave RAM, except the newest
    /// [`SEALED_RESIDENT_SEGMENTS`] (durable mode keeps only those and the tail).
    pub fn flushed(&mut self) {
        if !self.cfg.durable {
            return;
        }
        let n = self.segments.len();
        let keep = 1 + SEALED_RESIDENT_SEGMENTS;
        for seg in self.segments.iter_mut().take(n.saturating_sub(keep)) {
            if seg.resident && seg.flushed == seg.size {
                seg.resident = false;
                seg.bytes = Vec::new();
            }
        }
    }

    /// Heap bytes of the sequence index (slots and the segment table), for the memory budget.
    pub fn index_heap_bytes(&self) -> usize {
        self.segments.capacity() * std::mem::size_of::<Segment>()
            + self
                .segments
                .iter()
                .map(|s| s.slots.capacity() * 12)
                .sum::<usize>()
    }
}

/// Appends `first..=last` to sorted-by-push ranges, merging with the last when adjacent.
pub(super) fn push_range(ranges: &mut Vec<SeqRange>, first: u64, last: u64) {
    if let Some(prev) = ranges.last_mut() {
        if prev.last + 1 >= first && first >= prev.first {
            prev.last = prev.last.max(last);
            return;
        }
    }
    ranges.push(SeqRange { first, last });
}
