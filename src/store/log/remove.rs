//! Removal from a [`Log`]: deletes (with erase), purges, and the limits that drop the
//! oldest messages; a segment whose messages are all gone is dropped.

use super::*;

impl Log {
    /// Deletes `seq`; `erase` also overwrites its bytes. Returns whether it was live.
    pub fn delete(&mut self, seq: u64, erase: bool) -> bool {
        let Some((i, slot)) = self.locate(seq) else {
            return false;
        };
        if !slot.live() {
            return false;
        }
        if erase {
            self.erase(i, slot, seq);
        }
        self.remove(seq);
        true
    }

    fn erase(&mut self, i: usize, slot: Slot, seq: u64) {
        let seg = &mut self.segments[i];
        let (start, end) = (
            slot.offset as usize,
            slot.offset as usize + slot.len as usize,
        );
        if seg.resident {
            if let Some(rec) = seg.bytes.get_mut(start..end) {
                record::erase_in_place(rec, seq);
            }
        }
        if self.cfg.durable && u64::from(slot.offset) < seg.flushed {
            let mut bytes = vec![0; slot.len as usize];
            record::erase_in_place(&mut bytes, seq);
            self.pending_overwrites.push(Overwrite {
                segment: seg.id,
                offset: slot.offset.into(),
                bytes,
            });
        }
    }

    /// Removes the live message `seq` from every count; moves the floor or records a delete.
    pub(in crate::store) fn remove(&mut self, seq: u64) {
        let Some((i, slot)) = self.locate(seq) else {
            return;
        };
        if !slot.live() {
            return;
        }
        let seg = &mut self.segments[i];
        seg.slots[(seq - seg.first_seq) as usize].subject = NO_SUBJECT;
        seg.live_msgs -= 1;
        self.msgs -= 1;
        self.bytes -= self.counted(slot.len);
        self.unindex_subject(slot.subject, seq);
        if seq == self.first_seq {
            self.first_seq = match self.msgs {
                0 => self.last_seq + 1,
                _ => self
                    .walk(seq + 1, self.last_seq, |_| true)
                    .unwrap_or(self.last_seq + 1),
            };
            self.first_ts_ns = if self.msgs == 0 { Some(0) } else { None };
            self.floor_dirty = true;
        } else if self.cfg.durable {
            push_range(&mut self.pending_deletes, seq, seq);
        }
        let seg = &self.segments[i];
        if seg.live_msgs == 0 && i + 1 < self.segments.len() {
            self.drop_segment(i);
        }
        // Whole segments below a moved floor are gone too.
        while self.segments.len() > 1
            && self.segments[0].live_msgs == 0
            && self.segments[0].end_seq() <= self.first_seq
        {
            self.drop_segment(0);
        }
    }

    fn unindex_subject(&mut self, id: u32, seq: u64) {
        let Some(st) = self.subjects.state_mut(id) else {
            return;
        };
        st.msgs -= 1;
        let (msgs, first, last) = (st.msgs, st.first_seq, st.last_seq);
        if msgs == 0 {
            self.subjects.remove(id);
            return;
        }
        let (mut new_first, mut new_last) = (first, last);
        if msgs == 1 {
            // The survivor is the other end: no walk (the common KV case).
            if seq == first {
                new_first = last;
            } else {
                new_last = first;
            }
        } else if seq == first {
            new_first = self.walk(seq + 1, last, |s| s == id).unwrap_or(last);
        } else if seq == last {
            new_last = self.walk_back(seq - 1, first, id).unwrap_or(first);
        }
        if let Some(st) = self.subjects.state_mut(id) {
            st.first_seq = new_first;
            st.last_seq = new_last;
        }
    }

    /// Drops segment `i` (no live messages). Durable mode records why, so recovery does not
    /// count its sequences as lost nor bring back deletes its tombstones spoke for.
    pub(super) fn drop_segment(&mut self, i: usize) {
        let seg = self.segments.remove(i);
        if !self.cfg.durable {
            return;
        }
        if seg.flushed > 0 {
            self.pending_removes.push(seg.id);
        }
        // From the end of the segment before it: a skipped gap between the two (`skip_to`)
        // may have had its record in this one.
        let from = match i.checked_sub(1) {
            Some(p) => self.segments[p].end_seq().min(seg.first_seq),
            None => seg.first_seq,
        };
        let (lo, hi) = (from.max(self.first_seq), seg.end_seq());
        if lo < hi {
            push_range(&mut self.pending_deletes, lo, hi - 1);
        }
        if seg.tombstones > 0 {
            for older in &self.segments[..i] {
                for (j, slot) in older.slots.iter().enumerate() {
                    let s = older.first_seq + j as u64;
                    if !slot.live() && s >= self.first_seq {
                        push_range(&mut self.pending_deletes, s, s);
                    }
                }
            }
            self.pending_deletes.sort_unstable_by_key(|r| r.first);
        }
    }

    /// Purges as asked; returns how many messages went.
    pub fn purge(&mut self, req: &Purge<'_>) -> u64 {
        let before = self.msgs;
        let bound = req.up_to_seq.unwrap_or(u64::MAX); // exclusive
        match req.filter.filter(|f| !f.is_empty() && *f != b">") {
            None => {
                let mut floor = bound.min(self.last_seq + 1);
                if let Some(keep) = req.keep {
                    floor = floor.min(self.seq_keeping_newest(keep));
                }
                if floor > self.last_seq && self.msgs > 0 {
                    // Purge all: a fresh active segment lets every old one go at once.
                    self.roll();
                }
                while self.msgs > 0 && self.first_seq < floor {
                    self.remove(self.first_seq);
                }
                if self.msgs == 0 || self.first_seq < floor {
                    self.first_seq = self.first_seq.max(floor);
                    self.floor_dirty = true;
                }
            }
            Some(filter) => {
                let wanted: Vec<u32> = {
                    let mut ids: Vec<u32> = self
                        .subjects
                        .matching(filter)
                        .map(|(id, _, _)| id)
                        .collect();
                    ids.sort_unstable();
                    ids
                };
                let total: u64 = wanted
                    .iter()
                    .filter_map(|&id| self.subjects.get(id))
                    .map(|(_, s)| s.msgs)
                    .sum();
                let mut budget = total.saturating_sub(req.keep.unwrap_or(0));
                let mut from = self.first_seq;
                while budget > 0 {
                    let to = bound.saturating_sub(1).min(self.last_seq);
                    let Some(seq) = self.walk(from, to, |id| wanted.binary_search(&id).is_ok())
                    else {
                        break;
                    };
                    self.remove(seq);
                    budget -= 1;
                    from = seq + 1;
                }
            }
        }
        before - self.msgs
    }

    /// The lowest sequence such that `keep` live messages are at or above it.
    fn seq_keeping_newest(&self, keep: u64) -> u64 {
        if keep == 0 {
            return self.last_seq + 1;
        }
        let mut seen = 0;
        for seg in self.segments.iter().rev() {
            for (j, slot) in seg.slots.iter().enumerate().rev() {
                if slot.live() {
                    seen += 1;
                    if seen == keep {
                        return seg.first_seq + j as u64;
                    }
                }
            }
        }
        0
    }

    /// Removes oldest messages until `limits` hold (discard old); `subject` is the subject just
    /// appended, for `msgs_per_subject_max`. Returns how many went.
    pub fn enforce(&mut self, limits: &Limits, subject: Option<&[u8]>) -> u64 {
        let before = self.msgs;
        if let (Some(max), Some(subject)) = (limits.msgs_per_subject_max, subject) {
            if let Some(id) = self.subjects.id(subject) {
                while let Some((_, st)) = self.subjects.get(id) {
                    if st.msgs <= max {
                        break;
                    }
                    let first = st.first_seq;
                    self.remove(first);
                }
            }
        }
        let over = |log: &Log| {
            log.msgs > 0
                && (limits.msgs_max.is_some_and(|m| log.msgs > m)
                    || limits.bytes_max.is_some_and(|b| log.bytes > b))
        };
        while over(self) {
            self.remove(self.first_seq);
        }
        before - self.msgs
    }
}
