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

    /// Just before the driver hands `job` (the sync in flight, started but not yet issued)
    /// to the thread that runs it: whatever was committed since it started is already
    /// written, so the fdatasync about to be issued covers it too; its items and files join
    /// `job` instead of waiting for the next sync. Only before the job is issued: a commit
    /// written after an fdatasync began is not covered by it.
    pub fn join_waiting(&mut self, job: &mut SyncJob<F>) {
        let (id, held) = self
            .in_flight
            .as_mut()
            .expect("a sync issued with none in flight");
        assert_eq!(
            *id, job.id,
            "sync {} issued while {id} is in flight",
            job.id
        );
        held.append(&mut self.waiting);
        for f in self.waiting_files.drain(..) {
            match job.files.iter_mut().find(|w| **w == f) {
                Some(w) => *w = f,
                None => job.files.push(f),
            }
        }
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

    /// The shard sends what a completion let out only after it has handed the next sync to
    /// its thread (`shard::jetstream::run_syncs`); that is safe because a step that starts a
    /// sync holds back every later commit, even one with nothing to sync.
    #[test]
    fn a_completion_that_starts_the_next_sync_holds_back_every_later_commit() {
        let mut gc: GroupCommit<&str, &str> = GroupCommit::new();
        let first = gc.commit(vec!["a1"], vec!["seg1"], true).start.unwrap();
        assert!(gc.commit(vec!["b1"], vec!["cons"], true).start.is_none());
        let step = gc.synced(first.id, true);
        assert_eq!(step.release, vec!["a1"]);
        let second = step.start.expect("the waiting group's sync starts at once");
        // Before "a1" is sent: a commit with no file must not go out ahead of it.
        let hb = gc.commit(vec!["hb"], vec![], true);
        assert!(hb.release.is_empty(), "overtook a1: {:?}", hb.release);
        let step = gc.synced(second.id, true);
        assert_eq!(step.release, vec!["b1", "hb"]);
        assert!(step.start.is_none());
    }

    #[test]
    fn commits_made_before_a_sync_is_issued_join_it_and_later_ones_wait_for_the_next() {
        let mut gc: GroupCommit<&str, &str> = GroupCommit::new();
        let mut first = gc.commit(vec!["a1"], vec!["cons"], true).start.unwrap();
        // Committed (written) while the driver had not yet issued the first sync.
        assert!(gc
            .commit(vec!["a2"], vec!["cons", "seg1"], true)
            .start
            .is_none());
        gc.join_waiting(&mut first);
        assert_eq!(first.files, vec!["cons", "seg1"]);
        assert_eq!(gc.held(), 2);
        // Issued: a later commit is not covered by it.
        assert!(gc.commit(vec!["b1"], vec!["cons"], true).start.is_none());
        let step = gc.synced(first.id, true);
        assert_eq!(step.release, vec!["a1", "a2"]);
        let second = step.start.expect("b1 has a sync of its own");
        assert_eq!(second.files, vec!["cons"]);
        let step = gc.synced(second.id, true);
        assert_eq!(step.release, vec!["b1"]);
    }

    #[test]
    fn what_joined_a_failed_sync_is_not_released() {
        let mut gc: GroupCommit<&str, &str> = GroupCommit::new();
        let mut first = gc.commit(vec!["a1"], vec!["seg1"], true).start.unwrap();
        gc.commit(vec!["a2"], vec!["seg1"], true);
        gc.join_waiting(&mut first);
        let step = gc.synced(first.id, false);
        assert!(step.release.is_empty() && step.start.is_none());
        assert_eq!(gc.held(), 0);
    }

    #[test]
    #[should_panic(expected = "issued while")]
    fn joining_another_sync_than_the_one_in_flight_is_a_driver_bug() {
        let mut gc: GroupCommit<u8, u8> = GroupCommit::new();
        let mut job = gc.commit(vec![1], vec![1], true).start.unwrap();
        job.id += 1;
        gc.join_waiting(&mut job);
    }

    #[test]
    #[should_panic(expected = "completed while")]
    fn a_completion_for_another_sync_is_a_driver_bug() {
        let mut gc: GroupCommit<u8, u8> = GroupCommit::new();
        let job = gc.commit(vec![1], vec![1], true).start.unwrap();
        gc.synced(job.id + 1, true);
    }
}
