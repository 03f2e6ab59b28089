//! The cross-shard interest table: which shards have subscribers for which subjects, per
//! account (each account is a namespace of its own, so each has its own table).
//!
//! Every shard keeps its own replica (a [`Sublist`] whose items are shard ids), so a
//! publishing shard matches it without a lock. A shard announces a plain subject only when
//! its local count for that subject goes 0→1 or 1→0 (as NATS routes send RS+/RS-), and every
//! queue member individually, so a replica holds one item per member and a round-robin over a
//! queue group's items picks shards in proportion to their members.
//!
//! Visibility: each local change gets the next `epoch`; a peer that applies changes acks the
//! highest epoch it applied. A change is visible everywhere once every peer's ack has reached
//! its epoch; a PONG waits for that (see `conn.rs`), which is what lets a client that
//! subscribes and flushes rely on receiving what any other connection publishes next.

use std::collections::HashMap;

use bytes::Bytes;

use super::mesh::{InterestChange, ShardId};
use crate::account::AccountId;
use crate::sublist::Sublist;

pub struct Interest {
    /// One table per account, indexed by account id (grown on first use).
    tables: Vec<Sublist<ShardId>>,
    cache_entries_max: usize,
    me: ShardId,
    /// This shard's plain subscriptions per account and subject.
    local_plain: HashMap<(AccountId, Bytes), u32>,
    /// Epoch of this shard's latest change.
    epoch: u64,
    /// Per peer: the highest of our epochs it has applied.
    acked: Vec<u64>,
}

impl Interest {
    pub fn new(me: ShardId, shards: usize, cache_entries_max: usize) -> Interest {
        Interest {
            tables: vec![Sublist::new(cache_entries_max)],
            cache_entries_max,
            me,
            local_plain: HashMap::new(),
            epoch: 0,
            acked: vec![0; shards],
        }
    }

    /// The replica of account `account`'s table.
    pub fn table(&mut self, account: AccountId) -> &mut Sublist<ShardId> {
        let i = account as usize;
        while self.tables.len() <= i {
            self.tables.push(Sublist::new(self.cache_entries_max));
        }
        &mut self.tables[i]
    }

    /// Records a local subscription; returns the change to announce, if any.
    pub fn local_add(
        &mut self,
        account: AccountId,
        subject: &Bytes,
        queue: Option<&Bytes>,
    ) -> Option<InterestChange> {
        if queue.is_none() {
            let n = self
                .local_plain
                .entry((account, subject.clone()))
                .or_insert(0);
            *n += 1;
            if *n > 1 {
                return None;
            }
        }
        // The subject was validated when the local subscription was inserted.
        let me = self.me;
        let _ = self.table(account).insert(subject, queue, me);
        Some(self.next_change(account, true, subject, queue))
    }

    /// Records the end of a local subscription; returns the change to announce, if any.
    pub fn local_remove(
        &mut self,
        account: AccountId,
        subject: &Bytes,
        queue: Option<&Bytes>,
    ) -> Option<InterestChange> {
        if queue.is_none() {
            let key = (account, subject.clone());
            let n = self.local_plain.get_mut(&key)?;
            *n -= 1;
            if *n > 0 {
                return None;
            }
            self.local_plain.remove(&key);
        }
        let me = self.me;
        self.table(account)
            .remove(subject, queue.map(|q| &q[..]), me);
        Some(self.next_change(account, false, subject, queue))
    }

    fn next_change(
        &mut self,
        account: AccountId,
        add: bool,
        subject: &Bytes,
        queue: Option<&Bytes>,
    ) -> InterestChange {
        self.epoch += 1;
        InterestChange {
            epoch: self.epoch,
            account,
            add,
            subject: subject.clone(),
            queue: queue.cloned(),
        }
    }

    /// Applies a peer's change to our replica.
    pub fn apply_remote(&mut self, from: ShardId, ch: &InterestChange) {
        let table = self.table(ch.account);
        if ch.add {
            let _ = table.insert(&ch.subject, ch.queue.as_ref(), from);
        } else {
            table.remove(&ch.subject, ch.queue.as_deref(), from);
        }
    }

    /// Epoch of this shard's latest change. A SUB that announced nothing (its subject
    /// already had local interest) still waits for this: the earlier announcement may be in
    /// flight.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn record_ack(&mut self, from: ShardId, epoch: u64) {
        let a = &mut self.acked[from];
        *a = (*a).max(epoch);
    }

    /// Whether every peer has applied our changes up to `epoch`.
    pub fn visible_everywhere(&self, epoch: u64) -> bool {
        self.acked
            .iter()
            .enumerate()
            .all(|(i, &a)| i == self.me || a >= epoch)
    }
}
