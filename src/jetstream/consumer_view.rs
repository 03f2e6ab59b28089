//! A consumer's view of its stream's indexes ([`View`], the store side of
//! [`StreamView`]) and its `num_pending` kept up to date ([`PendingCache`]). Split from
//! `consumers.rs`: nothing here scans the log; counts come from its per-segment and
//! per-subject counters.

use std::cell::Cell;
use std::collections::BTreeSet;

use super::consumer::StreamView;
use crate::store::Log;

/// The consumer's view of its stream's indexes.
pub(crate) struct View<'a> {
    log: &'a Log,
    start_set: Option<&'a (BTreeSet<u64>, u64)>,
    /// The consumer's [`PendingCache`].
    cache: &'a PendingCache,
    /// The last `next` answer: (from, found), so the count after a delivery follows from
    /// the cached one without a walk.
    last_next: Cell<Option<(u64, u64)>>,
}

/// A consumer's `num_pending` kept up to date instead of counted for each delivery:
/// `(from, n)` says `n` live messages at or after `from` match its filters. Deliveries step it
/// (see `View`), appends and single deletes adjust it, bulk removals (purge, limits, age)
/// drop it, and the next count fills it again from the log.
#[derive(Debug, Default)]
pub struct PendingCache(Cell<Option<(u64, u64)>>);

impl PendingCache {
    pub fn invalidate(&self) {
        self.0.set(None);
    }

    /// A message `seq` was appended, or (`added` false) deleted while live.
    pub fn changed(&self, seq: u64, subject: &[u8], filters: &[String], added: bool) {
        let Some((from, n)) = self.0.get() else {
            return;
        };
        if seq < from
            || !(filters.is_empty()
                || filters
                    .iter()
                    .any(|f| crate::subject::matches(f.as_bytes(), subject)))
        {
            return;
        }
        let n = if added { n + 1 } else { n.saturating_sub(1) };
        self.0.set(Some((from, n)));
    }
}

impl StreamView for View<'_> {
    fn num_pending(&self, filters: &[String], from_seq: u64) -> u64 {
        if self.start_set.is_none() {
            match (self.cache.0.get(), self.last_next.get()) {
                (Some((from, n)), _) if from == from_seq => return n,
                // `next(from)` found `s`: nothing matching lies in `from..s`, and `s` matches.
                (Some((from, n)), Some((f, s))) if f == from && from_seq == s + 1 => {
                    let n = n.saturating_sub(1);
                    self.cache.0.set(Some((from_seq, n)));
                    return n;
                }
                _ => {}
            }
            let n = self.count(filters, from_seq);
            self.cache.0.set(Some((from_seq, n)));
            return n;
        }
        let count = |from: u64| self.count(filters, from);
        match self.start_set {
            Some((set, cutoff)) if from_seq <= *cutoff => {
                set.range(from_seq..).count() as u64 + count(cutoff + 1)
            }
            _ => count(from_seq),
        }
    }

    fn next(&self, from_seq: u64, filters: &[String]) -> Option<u64> {
        if self.start_set.is_none() {
            let found = self.next_in_log(from_seq, filters);
            self.last_next.set(found.map(|s| (from_seq, s)));
            return found;
        }
        if let Some((set, cutoff)) = self.start_set {
            if from_seq <= *cutoff {
                if let Some(&s) = set.range(from_seq..).next() {
                    return Some(s);
                }
                return self.next_in_log(cutoff + 1, filters);
            }
        }
        self.next_in_log(from_seq, filters)
    }
}

impl<'a> View<'a> {
    pub(crate) fn of(
        log: &'a Log,
        start_set: Option<&'a (BTreeSet<u64>, u64)>,
        cache: &'a PendingCache,
    ) -> View<'a> {
        View {
            log,
            start_set,
            cache,
            last_next: Cell::new(None),
        }
    }

    fn count(&self, filters: &[String], from: u64) -> u64 {
        if filters.is_empty() {
            self.log.count_from(from, b"")
        } else {
            filters
                .iter()
                .map(|f| self.log.count_from(from, f.as_bytes()))
                .sum()
        }
    }

    fn next_in_log(&self, from: u64, filters: &[String]) -> Option<u64> {
        if filters.is_empty() {
            return self.log.next_by_subject(from, b"");
        }
        filters
            .iter()
            .filter_map(|f| self.log.next_by_subject(from, f.as_bytes()))
            .min()
    }
}
