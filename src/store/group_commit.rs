//! The pipelined group commit, sans-io: which held outputs (publish acks, ack confirmations,
//! consumer deliveries) belong to which fdatasync, and when they may go out.
//!
//! A commit has already written its records (into the page cache) when it reaches
//! [`GroupCommit::commit`]; what it hands over is what it holds back and the files whose
//! sync makes it durable. At most one sync is in flight. While it runs, later commits pile
//! up in one waiting group (their files merged, the newer handle of a file replacing the
//! older), which becomes the next sync as soon as the one in flight completes: under load a
//! group grows by itself to whatever arrived during one sync, with no timer.
//!
//! Invariants:
//! * Held items come out in the order they were committed, and only through
//!   [`GroupCommit::synced`] with `ok` (or at once from [`GroupCommit::commit`] when there is
//!   nothing to sync and nothing ahead of them).
//! * A failed sync releases nothing: neither its own items nor those of the group that waited
//!   behind it, whose records sit in files the failed fdatasync left in an unknown state
//!   (after a failed fdatasync Linux may have dropped the dirty pages, and a later one can
//!   report success). A failed write releases nothing of its own commit.
//! * [`SyncJob::id`]s are issued in order; a completion for any id but the one in flight is
//!   a driver bug and panics.
//!
//! The driver (the shard, `shard/jetstream.rs`) runs each [`SyncJob`] through the runtime and
//! reports it with [`GroupCommit::synced`]; the tests below drive it by hand.

/// The id of one sync.
pub type SyncId = u64;

/// One fdatasync round: every file in `files`, then [`GroupCommit::synced`] with `id`.
#[derive(Debug)]
pub struct SyncJob<F> {
    pub id: SyncId,
    pub files: Vec<F>,
}

/// What a call lets out, in order, and the sync to start, if any.
#[derive(Debug)]
pub struct Step<T, F> {
    pub release: Vec<T>,
    pub start: Option<SyncJob<F>>,
}

impl<T, F> Default for Step<T, F> {
    fn default() -> Self {
        Step {
            release: Vec::new(),
            start: None,
        }
    }
}

/// See the module doc. `F` is a file to sync; two equal `F`s are the same file.
#[derive(Debug)]
pub struct GroupCommit<T, F> {
    /// The sync running now and what waits for it.
    in_flight: Option<(SyncId, Vec<T>)>,
    /// Committed while a sync was in flight: the next sync's items and files.
    waiting: Vec<T>,
    waiting_files: Vec<F>,
    next_id: SyncId,
}

impl<T, F> Default for GroupCommit<T, F> {
    fn default() -> Self {
        GroupCommit {
            in_flight: None,
            waiting: Vec::new(),
            waiting_files: Vec::new(),
            next_id: 1,
        }
    }
}

impl<T, F: PartialEq> GroupCommit<T, F> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A commit whose writes succeeded (`written`) or not: `held` waits for the sync of
    /// `files` (and for every sync ahead of it). A failed write drops `held`.
    pub fn commit(&mut self, held: Vec<T>, files: Vec<F>, written: bool) -> Step<T, F> {
        if !written {
            return Step::default();
        }
        self.waiting.extend(held);
        for f in files {
            match self.waiting_files.iter_mut().find(|w| **w == f) {
                Some(w) => *w = f,
                None => self.waiting_files.push(f),
            }
        }
        if self.in_flight.is_some() {
            return Step::default();
        }
        self.start_next()
    }

    /// The sync `id` completed; `ok` says whether every fdatasync in it succeeded.
    pub fn synced(&mut self, id: SyncId, ok: bool) -> Step<T, F> {
        let (running, held) = self
            .in_flight
            .take()
            .expect("a sync completed with none in flight");
        assert_eq!(
            running, id,
            "sync {id} completed while {running} was in flight"
        );
        if !ok {
            // Written behind a failed sync: nothing of it may be acknowledged either.
            self.waiting.clear();
            self.waiting_files.clear();
            return Step::default();
        }
        let mut step = self.start_next();
        let mut release = held;
        release.append(&mut step.release);
        step.release = release;
        step
    }

    /// Whether a sync is running.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Items held, in flight or waiting.
    pub fn held(&self) -> usize {
        self.in_flight.as_ref().map_or(0, |(_, h)| h.len()) + self.waiting.len()
    }

    /// With nothing in flight: releases the waiting group at once if it has no file to sync,
    /// otherwise starts its sync.
    fn start_next(&mut self) -> Step<T, F> {
        debug_assert!(self.in_flight.is_none());
        let held = std::mem::take(&mut self.waiting);
        if self.waiting_files.is_empty() {
            return Step {
                release: held,
                start: None,
            };
        }
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight = Some((id, held));
        Step {
            release: Vec::new(),
            start: Some(SyncJob {
                id,
                files: std::mem::take(&mut self.waiting_files),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sync double: it records the jobs it was given and completes one only when the test
    /// says so, collecting what each step released.
    #[derive(Default)]
    struct ManualSync {
        gc: GroupCommit<&'static str, &'static str>,
        running: Option<SyncJob<&'static str>>,
        released: Vec<&'static str>,
        started: Vec<Vec<&'static str>>,
    }

    impl ManualSync {
        fn apply(&mut self, step: Step<&'static str, &'static str>) {
            self.released.extend(step.release);
            if let Some(job) = step.start {
                assert!(self.running.is_none(), "two syncs in flight");
                self.started.push(job.files.clone());
                self.running = Some(job);
            }
        }
        fn commit(&mut self, held: &[&'static str], files: &[&'static str]) {
            let step = self.gc.commit(held.to_vec(), files.to_vec(), true);
            self.apply(step);
        }
        fn complete(&mut self, ok: bool) {
            let job = self.running.take().expect("no sync running");
            let step = self.gc.synced(job.id, ok);
            self.apply(step);
        }
    }

    #[test]
    fn acks_are_held_until_their_sync_completes() {
        let mut s = ManualSync::default();
        s.commit(&["ack1", "ack2"], &["seg1"]);
        assert_eq!(s.started, vec![vec!["seg1"]]);
        assert!(
            s.released.is_empty(),
            "released before the sync: {:?}",
            s.released
        );
        s.complete(true);
        assert_eq!(s.released, vec!["ack1", "ack2"]);
        assert!(!s.gc.in_flight());
    }

    #[test]
    fn a_second_batch_is_accepted_while_the_first_sync_runs_and_waits_for_its_own_sync() {
        let mut s = ManualSync::default();
        s.commit(&["a1"], &["seg1"]);
        // Written while the first sync is pending: no second sync starts yet.
        s.commit(&["b1", "b2"], &["seg1", "cons"]);
        s.commit(&["c1"], &["seg1"]);
        assert_eq!(s.started.len(), 1);
        assert_eq!(s.gc.held(), 4);
        s.complete(true);
        // The first batch goes; the next two became one sync of their files, seg1 once.
        assert_eq!(s.released, vec!["a1"]);
        assert_eq!(s.started[1], vec!["seg1", "cons"]);
        s.complete(true);
        assert_eq!(s.released, vec!["a1", "b1", "b2", "c1"]);
        assert_eq!(s.gc.held(), 0);
    }

    #[test]
    fn a_failed_sync_releases_no_acks_neither_its_own_nor_those_written_behind_it() {
        let mut s = ManualSync::default();
        s.commit(&["a1"], &["seg1"]);
        s.commit(&["b1"], &["seg1"]);
        s.complete(false);
        assert!(s.released.is_empty(), "{:?}", s.released);
        assert!(!s.gc.in_flight());
        assert_eq!(s.gc.held(), 0);
        // The next commit starts afresh.
        s.commit(&["c1"], &["seg1"]);
        s.complete(true);
        assert_eq!(s.released, vec!["c1"]);
    }

    #[test]
    fn a_failed_write_releases_nothing_of_its_commit() {
        let mut s = ManualSync::default();
        s.commit(&["a1"], &["seg1"]);
        let step = s.gc.commit(vec!["b1"], vec!["seg1"], false);
        s.apply(step);
        s.complete(true);
        assert_eq!(s.released, vec!["a1"]);
        assert!(s.running.is_none());
    }

    #[test]
    fn nothing_to_sync_goes_at_once_unless_a_sync_is_ahead_of_it() {
        let mut s = ManualSync::default();
        s.commit(&["hb1"], &[]);
        assert_eq!(s.released, vec!["hb1"]);
        assert!(s.running.is_none());
        s.commit(&["a1"], &["seg1"]);
        s.commit(&["hb2"], &[]);
        assert_eq!(s.released, vec!["hb1"], "overtook the sync ahead of it");
        s.complete(true);
        assert_eq!(s.released, vec!["hb1", "a1", "hb2"]);
        assert!(s.running.is_none(), "a sync of nothing was started");
    }

    #[test]
    #[should_panic(expected = "completed while")]
    fn a_completion_for_another_sync_is_a_driver_bug() {
        let mut gc: GroupCommit<u8, u8> = GroupCommit::new();
        let job = gc.commit(vec![1], vec![1], true).start.unwrap();
        gc.synced(job.id + 1, true);
    }
}
