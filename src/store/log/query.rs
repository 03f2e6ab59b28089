//! Lookups by subject over a [`Log`]: the next and last live sequence on a filter, counts
//! from a sequence, the subjects matching a filter. They read the segments' per-subject
//! indexes and walk only the segments that hold the subject.

use super::*;

impl Log {
    /// The live sequence at or after `from` whose subject matches `filter` (`>` or empty: any).
    pub fn next_by_subject(&self, from: u64, filter: &[u8]) -> Option<u64> {
        let from = from.max(self.first_seq);
        if filter.is_empty() || filter == b">" {
            return self.walk(from, self.last_seq, |_| true);
        }
        let mut wanted = Vec::new();
        let (mut earliest, mut latest, mut all_ahead) = (u64::MAX, 0, true);
        for (id, _, st) in self.subjects.matching(filter) {
            if st.last_seq < from {
                continue;
            }
            all_ahead &= st.first_seq >= from;
            earliest = earliest.min(st.first_seq);
            latest = latest.max(st.last_seq);
            wanted.push(id);
        }
        if wanted.is_empty() {
            return None;
        }
        if all_ahead {
            return Some(earliest);
        }
        wanted.sort_unstable();
        self.walk(from, latest, |id| wanted.binary_search(&id).is_ok())
    }

    /// How many live messages at or after `from` match `filter` (`>` or empty: any), for a
    /// consumer's `num_pending`. Whole segments and subjects whose first message is at or
    /// after `from` are counted from their counters; only the slots of the segment holding
    /// `from` (or, with a filter, of subjects that straddle `from`) are walked.
    pub fn count_from(&self, from: u64, filter: &[u8]) -> u64 {
        let from = from.max(self.first_seq);
        if from > self.last_seq {
            return 0;
        }
        if filter.is_empty() || filter == b">" {
            if from <= self.first_seq {
                return self.msgs;
            }
            let mut n = 0;
            for seg in &self.segments {
                if seg.end_seq() <= from {
                    continue;
                }
                if seg.first_seq >= from {
                    n += seg.live_msgs;
                } else {
                    let skip = (from - seg.first_seq) as usize;
                    n += seg.slots[skip..].iter().filter(|s| s.live()).count() as u64;
                }
            }
            return n;
        }
        let mut n = 0;
        let mut straddling = Vec::new();
        let mut latest = 0;
        for (id, _, st) in self.subjects.matching(filter) {
            if st.last_seq < from {
                continue;
            }
            if st.first_seq >= from {
                n += st.msgs;
            } else {
                straddling.push(id);
                latest = latest.max(st.last_seq);
            }
        }
        if straddling.is_empty() {
            return n;
        }
        straddling.sort_unstable();
        n + self
            .slots_between(from, latest)
            .filter(|(_, slot)| slot.live() && straddling.binary_search(&slot.subject).is_ok())
            .count() as u64
    }

    /// The live subjects matching `filter` with their counts and first and last sequences.
    pub fn subjects_matching<'a>(
        &'a self,
        filter: &'a [u8],
    ) -> impl Iterator<Item = (u32, &'a [u8], &'a crate::store::SubjectState)> + 'a {
        self.subjects.matching(filter)
    }

    /// The highest live sequence whose subject matches `filter`.
    pub fn last_by_subject(&self, filter: &[u8]) -> Option<u64> {
        self.subjects
            .matching(filter)
            .map(|(_, _, st)| st.last_seq)
            .max()
    }

    /// First live sequence in `from..=to` whose subject id passes `keep`.
    pub(super) fn walk(&self, from: u64, to: u64, keep: impl Fn(u32) -> bool) -> Option<u64> {
        self.slots_between(from, to)
            .find(|(_, slot)| slot.live() && keep(slot.subject))
            .map(|(seq, _)| seq)
    }

    /// The slots of sequences `from..=to`, with their sequences, in order.
    fn slots_between(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &Slot)> + '_ {
        let start = self
            .segments
            .partition_point(|s| s.first_seq <= from)
            .saturating_sub(1);
        self.segments[start..]
            .iter()
            .flat_map(move |seg| {
                let skip = from.saturating_sub(seg.first_seq) as usize;
                let first = seg.first_seq;
                seg.slots
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .map(move |(i, slot)| (first + i as u64, slot))
            })
            .take_while(move |(seq, _)| *seq <= to)
    }

    /// Last live sequence in `from..=to` (walking down) whose subject id is `id`.
    pub(super) fn walk_back(&self, to: u64, from: u64, id: u32) -> Option<u64> {
        let mut seq = to;
        while seq >= from {
            let (i, _) = self.locate(seq)?;
            let seg = &self.segments[i];
            let top = (seq - seg.first_seq) as usize;
            for j in (0..=top).rev() {
                let s = seg.first_seq + j as u64;
                if s < from {
                    return None;
                }
                if seg.slots[j].subject == id {
                    return Some(s);
                }
            }
            seq = seg.first_seq.checked_sub(1)?;
        }
        None
    }
}
