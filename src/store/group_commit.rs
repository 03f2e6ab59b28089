//! The pipelined group commit, sans-io: which held outputs (publish acks, ack confirmations,
//! consumer deliveries) belong to which fdatasync, and when they may go out.
//!
//! A commit has already written its records (into the page cache) when it reaches
//! [`GroupCommit::commit`]; what it hands over is what it holds back and the files whose
//! sync makes it durable. Up to `max_in_flight` syncs run at once ([`GroupCommit::new`]: one).
//! A commit with a free slot starts a sync of its own, unless the newest sync has not been
//! issued yet ([`GroupCommit::join_waiting`]): then it joins that one. With every slot taken,
//! later commits pile up in one waiting group (their files merged, the newer handle of a file
//! replacing the older), which becomes the next sync as soon as a slot frees: under load a
//! group grows by itself to whatever arrived during one sync, with no timer. Two syncs in
//! flight overlap in the disk (two fdatasyncs of 4 KiB on this machine's disk: 12879/s from
//! two threads against 9465/s from one), and a commit that arrives while one runs need not
//! wait for it before its own starts.
//!
//! Invariants:
//! * Held items come out in the order they were committed, and only through
//!   [`GroupCommit::synced`] with `ok` (or at once from [`GroupCommit::commit`] when there is
//!   nothing to sync and no sync ahead of them). A sync that completes before an older one
//!   keeps its items until the older one completed too.
//! * A failed sync releases nothing that is not out yet: neither its own items, nor those of
//!   the syncs still in flight beside it (older or newer), nor those of the group that waited
//!   behind it. Their records sit in files the failed fdatasync left in an unknown state
//!   (after a failed fdatasync Linux may have dropped the dirty pages, and a later one can
//!   report success), and a writeback error is reported once per open file: of two
//!   concurrent fdatasyncs of one file only one may see it, and it need not be the one whose
//!   data was lost. A failed write releases nothing of its own commit.
//! * [`SyncJob::id`]s are issued in order; a completion for an id not in flight, or a
//!   second one for the same id, is a driver bug and panics.
//!
//! The driver (the shard, `shard/jetstream.rs`) runs each [`SyncJob`] through the runtime,
//! calls [`GroupCommit::join_waiting`] just before it issues the fdatasync and reports it
//! with [`GroupCommit::synced`]; the tests below drive it by hand.

use std::collections::VecDeque;

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

/// One sync started and not yet released, with what waits for it.
#[derive(Debug)]
struct InFlight<T> {
    id: SyncId,
    held: Vec<T>,
    /// The driver handed it to its thread ([`GroupCommit::join_waiting`]).
    issued: bool,
    /// It completed (successfully: a failure drops it and everything beside it).
    done: bool,
    /// A sync failed while this one was in flight: it releases nothing.
    dropped: bool,
}

/// See the module doc. `F` is a file to sync; two equal `F`s are the same file.
#[derive(Debug)]
pub struct GroupCommit<T, F> {
    /// The syncs running now (or completed behind an older one still running), oldest first.
    in_flight: VecDeque<InFlight<T>>,
    /// Committed while no sync could start: the next sync's items and files.
    waiting: Vec<T>,
    waiting_files: Vec<F>,
    next_id: SyncId,
    max_in_flight: usize,
}

impl<T, F> Default for GroupCommit<T, F> {
    fn default() -> Self {
        GroupCommit::with_max_in_flight(1)
    }
}

impl<T, F> GroupCommit<T, F> {
    /// A group commit that lets up to `max_in_flight` (at least 1) syncs run at once.
    pub fn with_max_in_flight(max_in_flight: usize) -> Self {
        assert!(max_in_flight >= 1, "a group commit needs a sync slot");
        GroupCommit {
            in_flight: VecDeque::new(),
            waiting: Vec::new(),
            waiting_files: Vec::new(),
            next_id: 1,
            max_in_flight,
        }
    }
}

/// Adds `f` to `files`, the newer handle of a file replacing the older.
fn merge_file<F: PartialEq>(files: &mut Vec<F>, f: F) {
    match files.iter_mut().find(|w| **w == f) {
        Some(w) => *w = f,
        None => files.push(f),
    }
}

impl<T, F: PartialEq> GroupCommit<T, F> {
    /// One sync at a time.
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
            merge_file(&mut self.waiting_files, f);
        }
        self.start_next()
    }

    /// The sync `id` completed; `ok` says whether every fdatasync in it succeeded. Lets out
    /// what waited for it and for every older sync, once all of those completed.
    pub fn synced(&mut self, id: SyncId, ok: bool) -> Step<T, F> {
        let sync = self
            .in_flight
            .iter_mut()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("sync {id} completed while it was not in flight"));
        assert!(!sync.done, "sync {id} completed while it was already done");
        sync.done = true;
        if !ok {
            // Written beside or behind a failed sync: nothing of it may be acknowledged.
            for s in &mut self.in_flight {
                s.dropped = true;
                s.held.clear();
            }
            self.waiting.clear();
            self.waiting_files.clear();
        }
        let mut release = Vec::new();
        while self.in_flight.front().is_some_and(|s| s.done) {
            let s = self.in_flight.pop_front().expect("front checked");
            if !s.dropped {
                release.extend(s.held);
            }
        }
        let mut step = self.start_next();
        release.append(&mut step.release);
        step.release = release;
        step
    }

    /// Just before the driver hands `job` (the newest sync, started but not yet issued) to
    /// the thread that runs it: whatever was committed since it started is already written,
    /// so the fdatasync about to be issued covers it too; its items and files join `job`
    /// instead of waiting for the next sync. Only before the job is issued: a commit written
    /// after an fdatasync began is not covered by it. Once issued, a free slot lets the next
    /// commit start a sync of its own.
    pub fn join_waiting(&mut self, job: &mut SyncJob<F>) {
        let newest = self
            .in_flight
            .back_mut()
            .expect("a sync issued with none in flight");
        assert!(
            newest.id == job.id && !newest.issued,
            "sync {} issued while {} is the newest in flight",
            job.id,
            newest.id
        );
        newest.issued = true;
        if newest.dropped {
            // Behind a failure that happened before the issue: what waits starts a sync of
            // its own at the next commit or completion.
            return;
        }
        newest.held.append(&mut self.waiting);
        for f in self.waiting_files.drain(..) {
            merge_file(&mut job.files, f);
        }
    }

    /// Whether a sync is running.
    pub fn in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Items held, in flight or waiting.
    pub fn held(&self) -> usize {
        self.in_flight.iter().map(|s| s.held.len()).sum::<usize>() + self.waiting.len()
    }

    /// Moves the waiting group on if it can: with no file to sync it goes behind the newest
    /// sync that still releases anything (or out at once when there is none); with files it
    /// becomes a sync of its own when a slot is free and the newest sync has been issued.
    fn start_next(&mut self) -> Step<T, F> {
        if self.waiting_files.is_empty() {
            let held = std::mem::take(&mut self.waiting);
            return match self.in_flight.back_mut() {
                Some(newest) if !newest.dropped => {
                    newest.held.extend(held);
                    Step::default()
                }
                // Only dropped syncs ahead (a failure drops every sync in flight): nothing
                // older can still go out, so nothing is overtaken.
                _ => Step {
                    release: held,
                    start: None,
                },
            };
        }
        let newest_unissued = self.in_flight.back().is_some_and(|s| !s.issued);
        if self.in_flight.len() >= self.max_in_flight || newest_unissued {
            return Step::default();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.push_back(InFlight {
            id,
            held: std::mem::take(&mut self.waiting),
            issued: false,
            done: false,
            dropped: false,
        });
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

    /// A driver double with two sync slots: jobs are started, issued (`join_waiting`) and
    /// completed in whatever order the test says.
    struct TwoSlots {
        gc: GroupCommit<&'static str, &'static str>,
        started: std::collections::VecDeque<SyncJob<&'static str>>,
        issued: Vec<SyncJob<&'static str>>,
        released: Vec<&'static str>,
        starts: usize,
    }

    impl TwoSlots {
        fn new() -> Self {
            TwoSlots {
                gc: GroupCommit::with_max_in_flight(2),
                started: Default::default(),
                issued: Vec::new(),
                released: Vec::new(),
                starts: 0,
            }
        }
        fn apply(&mut self, step: Step<&'static str, &'static str>) {
            self.released.extend(step.release);
            if let Some(job) = step.start {
                self.starts += 1;
                self.started.push_back(job);
            }
        }
        fn commit(&mut self, held: &[&'static str], files: &[&'static str]) {
            let step = self.gc.commit(held.to_vec(), files.to_vec(), true);
            self.apply(step);
        }
        /// Issues the oldest started job; returns its id.
        fn issue(&mut self) -> SyncId {
            let mut job = self.started.pop_front().expect("no sync started");
            self.gc.join_waiting(&mut job);
            let id = job.id;
            self.issued.push(job);
            id
        }
        fn complete(&mut self, id: SyncId, ok: bool) {
            let at = self
                .issued
                .iter()
                .position(|j| j.id == id)
                .expect("not issued");
            self.issued.remove(at);
            let step = self.gc.synced(id, ok);
            self.apply(step);
        }
    }

    #[test]
    fn with_two_slots_a_commit_during_a_sync_starts_its_own_and_later_ones_join_or_wait() {
        let mut s = TwoSlots::new();
        s.commit(&["a"], &["seg1"]);
        let first = s.issue();
        s.commit(&["b"], &["seg1"]);
        assert_eq!(
            s.starts, 2,
            "b waited for a's sync instead of starting its own"
        );
        // Before b's sync is issued, c joins it rather than starting a third.
        s.commit(&["c"], &["cons"]);
        assert_eq!(s.starts, 2);
        let second = s.issue();
        assert_eq!(s.issued[1].files, vec!["seg1", "cons"]);
        // Both slots taken: d waits for one to free.
        s.commit(&["d"], &["seg1"]);
        assert_eq!(s.starts, 2);
        assert_eq!(s.gc.held(), 4);
        s.complete(first, true);
        assert_eq!(s.released, vec!["a"]);
        assert_eq!(s.starts, 3, "d's sync did not start when a slot freed");
        let third = s.issue();
        s.complete(second, true);
        assert_eq!(s.released, vec!["a", "b", "c"]);
        s.complete(third, true);
        assert_eq!(s.released, vec!["a", "b", "c", "d"]);
        assert!(!s.gc.in_flight());
    }

    #[test]
    fn a_sync_that_completes_before_an_older_one_waits_for_it_to_release() {
        let mut s = TwoSlots::new();
        s.commit(&["a1", "a2"], &["seg1"]);
        let first = s.issue();
        s.commit(&["b1"], &["seg1"]);
        let second = s.issue();
        s.complete(second, true);
        assert!(s.released.is_empty(), "overtook a: {:?}", s.released);
        assert!(s.gc.in_flight());
        s.complete(first, true);
        assert_eq!(s.released, vec!["a1", "a2", "b1"]);
        assert!(!s.gc.in_flight());
    }

    #[test]
    fn a_newer_sync_that_fails_drops_the_older_one_beside_it_and_what_waited() {
        let mut s = TwoSlots::new();
        s.commit(&["a"], &["seg1"]);
        let first = s.issue();
        s.commit(&["b"], &["seg1"]);
        let second = s.issue();
        s.commit(&["c"], &["seg1"]);
        s.complete(second, false);
        s.complete(first, true);
        assert!(s.released.is_empty(), "{:?}", s.released);
        assert_eq!(s.gc.held(), 0);
        assert!(
            s.started.is_empty(),
            "c, written behind the failure, got a sync"
        );
        assert!(!s.gc.in_flight());
        // The next commit starts afresh.
        s.commit(&["d"], &["seg1"]);
        let next = s.issue();
        s.complete(next, true);
        assert_eq!(s.released, vec!["d"]);
    }

    #[test]
    fn an_older_sync_that_fails_drops_the_newer_one_even_if_it_succeeded() {
        let mut s = TwoSlots::new();
        s.commit(&["a"], &["seg1"]);
        let first = s.issue();
        s.commit(&["b"], &["seg1"]);
        let second = s.issue();
        s.complete(second, true);
        s.complete(first, false);
        assert!(s.released.is_empty(), "{:?}", s.released);
        assert_eq!(s.gc.held(), 0);
        assert!(!s.gc.in_flight());
    }

    #[test]
    fn a_sync_still_in_flight_after_a_failure_releases_nothing_and_later_commits_go_on() {
        let mut s = TwoSlots::new();
        s.commit(&["a"], &["seg1"]);
        let first = s.issue();
        s.commit(&["b"], &["seg1"]);
        s.complete(first, false);
        // b's sync was started before the failure and is still to be issued and completed.
        s.commit(&["hb"], &[]);
        assert_eq!(s.released, vec!["hb"], "only dropped syncs are ahead of hb");
        s.commit(&["c"], &["seg1"]);
        assert_eq!(s.starts, 2, "c started a sync beside an unissued one");
        let second = s.issue();
        assert_eq!(s.issued[0].files, vec!["seg1"], "c joined a dropped sync");
        s.complete(second, true);
        assert_eq!(s.released, vec!["hb"]);
        assert_eq!(
            s.starts, 3,
            "c's sync did not start once the dropped one was done"
        );
        let third = s.issue();
        s.complete(third, true);
        assert_eq!(s.released, vec!["hb", "c"]);
    }

    #[test]
    fn nothing_to_sync_waits_behind_the_newest_sync_in_flight() {
        let mut s = TwoSlots::new();
        s.commit(&["a"], &["seg1"]);
        let first = s.issue();
        s.commit(&["hb1"], &[]);
        s.commit(&["b"], &["cons"]);
        let second = s.issue();
        s.commit(&["hb2"], &[]);
        assert!(s.released.is_empty(), "{:?}", s.released);
        assert_eq!(s.starts, 2, "a sync of nothing was started");
        s.complete(first, true);
        assert_eq!(s.released, vec!["a", "hb1"]);
        s.complete(second, true);
        assert_eq!(s.released, vec!["a", "hb1", "b", "hb2"]);
    }

    #[test]
    #[should_panic(expected = "already done")]
    fn a_second_completion_of_one_sync_is_a_driver_bug() {
        let mut s = TwoSlots::new();
        s.commit(&["a"], &["seg1"]);
        let first = s.issue();
        s.commit(&["b"], &["seg1"]);
        s.issue();
        s.gc.synced(first + 1, true);
        s.gc.synced(first + 1, true);
    }
}
