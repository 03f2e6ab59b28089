//! [`Pending`]: a subscription's unacknowledged messages, by sequence and by expiry.
//!
//! Deliveries are added in sequence order with the same ack wait, so their expiries arrive in
//! order, and acks mostly remove the oldest. So the expiry order is a queue: an entry is
//! pushed at the back, an ack marks its entry dead in place (the by-sequence map says where
//! it is), and dead entries leave from the front. Only an entry whose expiry would not sort
//! last (a redelivery whose timer ran late, a queue member's hand-over, a durable resumed
//! with another ack wait) goes to a small ordered set beside the queue. That is one ordered
//! map operation per delivery and per ack, where a second ordered set cost as much again
//! (a seventh of shard 0's CPU when delivering with acks).
//!
//! Invariants: every sequence in `by_seq` has exactly one live entry, in the queue (at the
//! position it names) or in `late`; the live queue entries are sorted by `(expiry, seq)`, and
//! so is `late`; dead entries are at most `2 * len() + COMPACT_SLACK` of the queue.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Dead queue entries tolerated beyond twice the live ones before the queue is compacted.
const COMPACT_SLACK: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// In `queue` at this absolute position (`head` is the front's).
    Queue(u64),
    Late,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    expiry_ms: u64,
    seq: u64,
    live: bool,
}

/// The pending set of one subscription: seq → expiry (ms on the core's clock).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    by_seq: BTreeMap<u64, (u64, Place)>,
    queue: VecDeque<Entry>,
    /// Absolute position of `queue[0]`.
    head: u64,
    /// `(expiry, seq)` of the entries that did not sort last when added.
    late: BTreeSet<(u64, u64)>,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    pub fn contains_key(&self, seq: &u64) -> bool {
        self.by_seq.contains_key(seq)
    }

    /// The expiry of `seq`, if pending.
    pub fn get(&self, seq: &u64) -> Option<&u64> {
        self.by_seq.get(seq).map(|(e, _)| e)
    }

    /// Pending sequences in order.
    pub fn keys(&self) -> impl Iterator<Item = &u64> + '_ {
        self.by_seq.keys()
    }

    /// Adds `seq` (or moves it to `expiry_ms`); returns its former expiry.
    pub fn insert(&mut self, seq: u64, expiry_ms: u64) -> Option<u64> {
        let old = self.take(seq);
        let sorts_last = self
            .queue
            .back()
            .is_none_or(|b| (b.expiry_ms, b.seq) <= (expiry_ms, seq));
        let place = if sorts_last {
            self.queue.push_back(Entry {
                expiry_ms,
                seq,
                live: true,
            });
            Place::Queue(self.head + self.queue.len() as u64 - 1)
        } else {
            self.late.insert((expiry_ms, seq));
            Place::Late
        };
        self.by_seq.insert(seq, (expiry_ms, place));
        self.tidy();
        old
    }

    /// Removes `seq`; returns its expiry if it was pending.
    pub fn remove(&mut self, seq: &u64) -> Option<u64> {
        let old = self.take(*seq);
        self.tidy();
        old
    }

    /// The earliest expiry.
    pub fn earliest(&self) -> Option<u64> {
        let q = self.queue.iter().find(|e| e.live).map(|e| e.expiry_ms);
        let l = self.late.first().map(|&(e, _)| e);
        match (q, l) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `(expiry, seq)` of every pending message, in that order.
    pub fn by_expiry(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut q = self
            .queue
            .iter()
            .filter(|e| e.live)
            .map(|e| (e.expiry_ms, e.seq))
            .peekable();
        let mut l = self.late.iter().copied().peekable();
        std::iter::from_fn(move || match (q.peek(), l.peek()) {
            (Some(a), Some(b)) if b < a => l.next(),
            (Some(_), _) => q.next(),
            (None, _) => l.next(),
        })
    }

    /// Forgets `seq`'s entry (marks it dead in the queue); its expiry if it was pending.
    fn take(&mut self, seq: u64) -> Option<u64> {
        let (expiry_ms, place) = self.by_seq.remove(&seq)?;
        match place {
            Place::Queue(at) => {
                if let Some(e) = self.queue.get_mut((at - self.head) as usize) {
                    debug_assert!(e.live && e.seq == seq);
                    e.live = false;
                }
            }
            Place::Late => {
                self.late.remove(&(expiry_ms, seq));
            }
        }
        Some(expiry_ms)
    }

    /// Drops dead entries from the front, and compacts when dead ones dominate.
    fn tidy(&mut self) {
        while self.queue.front().is_some_and(|e| !e.live) {
            self.queue.pop_front();
            self.head += 1;
        }
        if self.queue.len() <= 2 * self.by_seq.len() + COMPACT_SLACK {
            return;
        }
        self.queue.retain(|e| e.live);
        for (i, e) in self.queue.iter().enumerate() {
            if let Some((_, place)) = self.by_seq.get_mut(&e.seq) {
                *place = Place::Queue(self.head + i as u64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model: the two ordered maps this replaces.
    #[derive(Default)]
    struct Model {
        by_seq: BTreeMap<u64, u64>,
        by_expiry: BTreeSet<(u64, u64)>,
    }

    impl Model {
        fn insert(&mut self, seq: u64, exp: u64) -> Option<u64> {
            let old = self.by_seq.insert(seq, exp);
            if let Some(o) = old {
                self.by_expiry.remove(&(o, seq));
            }
            self.by_expiry.insert((exp, seq));
            old
        }
        fn remove(&mut self, seq: u64) -> Option<u64> {
            let old = self.by_seq.remove(&seq);
            if let Some(o) = old {
                self.by_expiry.remove(&(o, seq));
            }
            old
        }
    }

    fn check(p: &Pending, m: &Model) {
        assert_eq!(p.len(), m.by_seq.len());
        assert!(p.keys().copied().eq(m.by_seq.keys().copied()));
        assert!(p.by_expiry().eq(m.by_expiry.iter().copied()));
        assert_eq!(p.earliest(), m.by_expiry.first().map(|&(e, _)| e));
        assert!(p.queue.len() <= 2 * p.len() + COMPACT_SLACK);
        for (&seq, &exp) in &m.by_seq {
            assert_eq!(p.get(&seq), Some(&exp));
        }
    }

    #[test]
    fn in_order_deliveries_and_acks_keep_the_queue_short() {
        let (mut p, mut m) = (Pending::default(), Model::default());
        for seq in 1..=5000u64 {
            assert_eq!(
                p.insert(seq, 1000 + seq / 10),
                m.insert(seq, 1000 + seq / 10)
            );
            if seq > 1024 {
                assert_eq!(p.remove(&(seq - 1024)), m.remove(seq - 1024));
            }
        }
        check(&p, &m);
        assert!(p.late.is_empty());
        assert!(p.queue.len() <= 1024 + 1);
    }

    #[test]
    fn a_stuck_oldest_message_does_not_let_dead_entries_grow() {
        let (mut p, mut m) = (Pending::default(), Model::default());
        p.insert(1, 10);
        m.insert(1, 10);
        for seq in 2..=20_000u64 {
            p.insert(seq, 10 + seq);
            m.insert(seq, 10 + seq);
            p.remove(&seq);
            m.remove(seq);
        }
        check(&p, &m);
        assert!(p.queue.len() <= 2 + COMPACT_SLACK);
    }

    #[test]
    fn any_mix_of_operations_matches_two_ordered_maps() {
        // A small LCG: deterministic, no dependency.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |n: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        for round in 0..20 {
            let (mut p, mut m) = (Pending::default(), Model::default());
            let mut now = 0;
            for _ in 0..3000 {
                now += rnd(3);
                let seq = rnd(200 + round * 50);
                match rnd(10) {
                    // Mostly new expiries at `now + wait`, sometimes earlier or later ones.
                    0..=4 => {
                        let exp = now + 100;
                        assert_eq!(p.insert(seq, exp), m.insert(seq, exp));
                    }
                    5 => {
                        let exp = now.saturating_sub(rnd(50));
                        assert_eq!(p.insert(seq, exp), m.insert(seq, exp));
                    }
                    6 => {
                        let exp = now + 100 + rnd(300);
                        assert_eq!(p.insert(seq, exp), m.insert(seq, exp));
                    }
                    _ => assert_eq!(p.remove(&seq), m.remove(seq)),
                }
            }
            check(&p, &m);
            // Drain by expiry, as redelivery and acks would.
            let order: Vec<(u64, u64)> = p.by_expiry().collect();
            for (_, seq) in order {
                assert_eq!(p.remove(&seq), m.remove(seq));
                check(&p, &m);
            }
            assert!(p.is_empty() && p.queue.is_empty() && p.late.is_empty());
        }
    }
}
