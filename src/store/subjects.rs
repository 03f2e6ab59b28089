//! The per-subject index: for every subject with a stored message, its count and its first and
//! last sequence. `max_msgs_per_subject`, last-by-subject, KV gets and literal next-by-subject
//! lookups read it instead of scanning messages.
//!
//! Subjects get a dense `u32` id so that the per-message slot can name its subject in 4 bytes;
//! ids of subjects whose count falls to zero are reused.
//!
//! Invariants: an id is live iff its entry has `msgs > 0`; for a live entry
//! `first_seq <= last_seq`; the map and the entries agree on every live subject.

use std::collections::HashMap;

/// What the index knows about one subject.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubjectState {
    pub msgs: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

#[derive(Debug)]
struct Entry {
    subject: Box<[u8]>,
    state: SubjectState,
}

/// Subject → id → state.
#[derive(Debug, Default)]
pub struct Subjects {
    ids: HashMap<Box<[u8]>, u32, ahash::RandomState>,
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
}

impl Subjects {
    /// Counts a new message `seq` (greater than every sequence counted before) on `subject`.
    pub fn add(&mut self, subject: &[u8], seq: u64) -> u32 {
        if let Some(&id) = self.ids.get(subject) {
            if let Some(Some(entry)) = self.entries.get_mut(id as usize) {
                entry.state.msgs += 1;
                entry.state.last_seq = seq;
                if entry.state.msgs == 1 {
                    entry.state.first_seq = seq;
                }
                return id;
            }
        }
        self.insert(
            subject,
            SubjectState {
                msgs: 1,
                first_seq: seq,
                last_seq: seq,
            },
        )
    }

    /// Registers `subject` with a state built elsewhere (recovery); returns its id.
    pub fn insert(&mut self, subject: &[u8], state: SubjectState) -> u32 {
        let entry = Entry {
            subject: subject.into(),
            state,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.ids.insert(subject.into(), id);
        id
    }

    pub fn id(&self, subject: &[u8]) -> Option<u32> {
        self.ids.get(subject).copied()
    }

    pub fn get(&self, id: u32) -> Option<(&[u8], &SubjectState)> {
        match self.entries.get(id as usize) {
            Some(Some(entry)) => Some((&entry.subject, &entry.state)),
            _ => None,
        }
    }

    pub fn state_mut(&mut self, id: u32) -> Option<&mut SubjectState> {
        match self.entries.get_mut(id as usize) {
            Some(Some(entry)) => Some(&mut entry.state),
            _ => None,
        }
    }

    /// Frees `id` (its count reached zero).
    pub fn remove(&mut self, id: u32) {
        if let Some(slot) = self.entries.get_mut(id as usize) {
            if let Some(entry) = slot.take() {
                self.ids.remove(&entry.subject);
                self.free.push(id);
            }
        }
    }

    /// Live subjects.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every live subject with its id and state.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8], &SubjectState)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(id, e)| e.as_ref().map(|e| (id as u32, &*e.subject, &e.state)))
    }

    /// Live subjects matching `filter` (NATS wildcards; a literal filter is one map lookup).
    pub fn matching<'a>(
        &'a self,
        filter: &'a [u8],
    ) -> Box<dyn Iterator<Item = (u32, &'a [u8], &'a SubjectState)> + 'a> {
        if crate::subject::is_literal(filter) {
            let one = self
                .id(filter)
                .and_then(|id| self.get(id).map(|(s, st)| (id, s, st)));
            return Box::new(one.into_iter());
        }
        Box::new(
            self.iter()
                .filter(move |(_, s, _)| crate::subject::matches(filter, s)),
        )
    }

    /// Heap bytes held (capacities, not lengths), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        let per_map_slot = std::mem::size_of::<(Box<[u8]>, u32)>() + 1;
        let subjects: usize = self.iter().map(|(_, s, _)| 2 * s.len()).sum();
        self.ids.capacity() * per_map_slot
            + self.entries.capacity() * std::mem::size_of::<Option<Entry>>()
            + self.free.capacity() * 4
            + subjects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_first_and_last_follow_adds_and_ids_are_reused() {
        let mut s = Subjects::default();
        let a = s.add(b"kv.a", 1);
        let b = s.add(b"kv.b", 2);
        assert_eq!(s.add(b"kv.a", 3), a);
        assert_eq!(
            s.get(a).unwrap().1,
            &SubjectState {
                msgs: 2,
                first_seq: 1,
                last_seq: 3
            }
        );
        s.remove(b);
        assert_eq!(s.len(), 1);
        assert_eq!(s.id(b"kv.b"), None);
        assert_eq!(s.add(b"kv.c", 4), b);
        let matched: Vec<_> = s.matching(b"kv.*").map(|(id, _, _)| id).collect();
        assert_eq!(matched.len(), 2);
        assert_eq!(s.matching(b"kv.c").count(), 1);
        assert_eq!(s.matching(b"other.>").count(), 0);
    }
}
