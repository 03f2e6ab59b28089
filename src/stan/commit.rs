//! The file store's pipelined sync, sans-io: which of the core's outputs wait for which
//! fdatasync (`file_sync`, nats-streaming-server's `sync_on_flush`, on by default).
//!
//! With the file store's sync deferred ([`FileChannels::file_sync`](super::FileChannels)), a
//! flush of the core ([`StanServer::take_commit`](super::StanServer::take_commit)) writes the
//! channels and the server-state log into the page cache and names the files whose fdatasync
//! makes the batch durable. [`SyncPipeline`] holds the batch's publishes (PubAcks, deliveries,
//! and every response, which may announce state the sync covers) until that sync and every
//! sync ahead of it completed, over the storage engine's [`GroupCommit`], as JetStream's
//! `sync_interval: always` does: here one sync in flight (JetStream allows two), and what
//! commits meanwhile shares the next one. The core's subscribe and unsubscribe outputs (its
//! own interest in its internal subjects) are never held: they announce nothing to a client.
//!
//! Invariants (the group commit's, over the core's publishes):
//! * Publishes come out in the order the core produced them, and only after the sync of the
//!   batch that produced them (at once when nothing of it, nor ahead of it, waits for one).
//! * A failed sync releases nothing it held, nor anything committed behind it.
//!
//! The driver (`shard/stan.rs`) runs each [`SyncJob`] off the shard (io_uring) and reports it
//! with [`SyncPipeline::synced`]; the tests below drive it by hand with a test double.

use super::Output;
use crate::store::group_commit::{GroupCommit, Step, SyncId};

/// See the module doc. `F` is a file to sync; two equal `F`s are the same file.
#[derive(Debug)]
pub struct SyncPipeline<F> {
    commit: GroupCommit<Output, F>,
}

impl<F> Default for SyncPipeline<F> {
    fn default() -> Self {
        SyncPipeline {
            commit: GroupCommit::default(),
        }
    }
}

impl<F: PartialEq> SyncPipeline<F> {
    pub fn new() -> Self {
        Self::default()
    }

    /// One flush of the core: its `outputs` in order and the `files` to sync for them; not
    /// `durable` when a file to sync could not be handed over (its publishes are dropped).
    /// The step releases the interest changes at once, then whatever may go.
    pub fn commit(
        &mut self,
        outputs: Vec<Output>,
        files: Vec<F>,
        durable: bool,
    ) -> Step<Output, F> {
        let (mut now, held): (Vec<Output>, Vec<Output>) = outputs
            .into_iter()
            .partition(|o| !matches!(o, Output::Publish { .. }));
        let mut step = self.commit.commit(held, files, durable);
        now.append(&mut step.release);
        step.release = now;
        step
    }

    /// The sync `id` completed; `ok` says whether every fdatasync in it succeeded.
    pub fn synced(&mut self, id: SyncId, ok: bool) -> Step<Output, F> {
        self.commit.synced(id, ok)
    }

    /// Whether a sync is running.
    pub fn in_flight(&self) -> bool {
        self.commit.in_flight()
    }

    /// Publishes held, in flight or waiting.
    pub fn held(&self) -> usize {
        self.commit.held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::group_commit::SyncJob;

    fn publish(subject: &str) -> Output {
        Output::Publish {
            subject: subject.into(),
            reply: String::new(),
            payload: Vec::new(),
        }
    }

    fn subscribe(subject: &str) -> Output {
        Output::Subscribe {
            subject: subject.into(),
        }
    }

    fn names(outs: &[Output]) -> Vec<&str> {
        outs.iter()
            .map(|o| match o {
                Output::Publish { subject, .. }
                | Output::Subscribe { subject }
                | Output::Unsubscribe { subject } => subject.as_str(),
            })
            .collect()
    }

    /// A sync double: it keeps the job it was given and completes it only when the test says
    /// so, collecting what each step released.
    #[derive(Default)]
    struct ManualSync {
        p: SyncPipeline<&'static str>,
        running: Option<SyncJob<&'static str>>,
        released: Vec<Output>,
        started: Vec<Vec<&'static str>>,
    }

    impl ManualSync {
        fn apply(&mut self, step: Step<Output, &'static str>) {
            self.released.extend(step.release);
            if let Some(job) = step.start {
                assert!(self.running.is_none(), "two syncs in flight");
                self.started.push(job.files.clone());
                self.running = Some(job);
            }
        }
        fn commit(&mut self, outs: Vec<Output>, files: &[&'static str]) {
            let step = self.p.commit(outs, files.to_vec(), true);
            self.apply(step);
        }
        fn complete(&mut self, ok: bool) {
            let job = self.running.take().expect("no sync running");
            let step = self.p.synced(job.id, ok);
            self.apply(step);
        }
        fn released(&self) -> Vec<&str> {
            names(&self.released)
        }
    }

    #[test]
    fn pub_acks_wait_for_their_sync_and_interest_changes_do_not() {
        let mut s = ManualSync::default();
        s.commit(
            vec![
                subscribe("ack.1"),
                publish("deliver.1"),
                publish("puback.1"),
            ],
            &["foo/1.blk", "state.log"],
        );
        assert_eq!(s.started, vec![vec!["foo/1.blk", "state.log"]]);
        assert_eq!(
            s.released(),
            vec!["ack.1"],
            "a publish went before its sync"
        );
        s.complete(true);
        assert_eq!(s.released(), vec!["ack.1", "deliver.1", "puback.1"]);
        assert!(!s.p.in_flight());
    }

    #[test]
    fn batches_written_during_a_sync_share_the_next_one_and_come_out_in_order() {
        let mut s = ManualSync::default();
        s.commit(vec![publish("a")], &["foo/1.blk"]);
        s.commit(vec![publish("b")], &["foo/1.blk", "state.log"]);
        // A heartbeat of a batch that wrote nothing still waits behind the sync ahead of it.
        s.commit(vec![publish("hb")], &[]);
        s.commit(vec![publish("c")], &["bar/1.blk"]);
        assert_eq!(
            s.started.len(),
            1,
            "a second sync started while one was in flight"
        );
        assert_eq!(s.p.held(), 4);
        s.complete(true);
        assert_eq!(s.released(), vec!["a"]);
        assert_eq!(s.started[1], vec!["foo/1.blk", "state.log", "bar/1.blk"]);
        s.complete(true);
        assert_eq!(s.released(), vec!["a", "b", "hb", "c"]);
        assert_eq!(s.p.held(), 0);
    }

    #[test]
    fn a_failed_sync_releases_nothing_of_its_own_nor_what_waited_behind_it() {
        let mut s = ManualSync::default();
        s.commit(vec![publish("a")], &["foo/1.blk"]);
        s.commit(vec![publish("b"), subscribe("ack.2")], &["foo/1.blk"]);
        assert_eq!(s.released(), vec!["ack.2"]);
        s.complete(false);
        assert_eq!(s.released(), vec!["ack.2"]);
        assert_eq!(s.p.held(), 0);
        assert!(
            s.running.is_none(),
            "the group behind a failed sync was synced"
        );
        s.commit(vec![publish("c")], &["foo/1.blk"]);
        s.complete(true);
        assert_eq!(s.released(), vec!["ack.2", "c"]);
    }

    #[test]
    fn a_batch_whose_file_could_not_be_handed_over_releases_no_publish() {
        let mut s = ManualSync::default();
        s.commit(vec![publish("a")], &["foo/1.blk"]);
        let step =
            s.p.commit(vec![publish("b"), subscribe("x")], vec![], false);
        s.apply(step);
        s.complete(true);
        assert_eq!(s.released(), vec!["x", "a"]);
    }

    #[test]
    fn without_files_to_sync_everything_goes_at_once() {
        // The memory store, or the file store with `file_sync` off.
        let mut s = ManualSync::default();
        s.commit(vec![publish("a"), subscribe("x"), publish("b")], &[]);
        assert_eq!(s.released(), vec!["x", "a", "b"]);
        assert!(s.running.is_none());
    }
}
