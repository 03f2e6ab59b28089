//! The links between shards: for each ordered pair of shards a lock-free queue of batches,
//! and for each shard a [`Bell`] that wakes it when a batch or a drained signal is waiting.
//!
//! Invariants: only shard `from` pushes to the queue `(from, to)` and only shard `to` pops
//! it, so batches from one shard reach another in the order they were sent (an interest
//! change queued before a delivery is applied before it). A batch counts as in flight from
//! its push until its receiver has applied every item; a sender whose in-flight items or
//! payload bytes to some peer pass the limits stops its readers until that peer applies
//! enough (back-pressure), and the peer rings the sender's bell when it brings the figures
//! back under a sender that marked itself waiting. A shard that is running pays one atomic
//! swap per batch and no system call; a sleeping one is woken by one socket write.
//!
//! Why not glommio's channel mesh: its wake-up of an executor that was just going to sleep
//! was occasionally lost, which the runtime made up for with a 5 ms heartbeat timer on every
//! shard, and that heartbeat (each turn followed by the idle polling) cost an idle 2-shard
//! server 12 % of a core. With bells nothing needs a heartbeat, so an idle natrix sleeps.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_queue::SegQueue;

use super::mesh::{InterestChange, Item, ShardId};
use crate::runtime::{self, Bell, BellRx};

/// What one shard sends another at the end of a batch of work: the items queued since its
/// last flush, in order, and the payload bytes of the deliveries among them.
pub struct Batch {
    pub items: Vec<Item>,
    pub payload_bytes: usize,
}

/// One direction between two shards.
#[derive(Default)]
struct Pair {
    queue: SegQueue<Batch>,
    /// Interest changes, apart from the batches so that the receiver can take them before
    /// it routes anything (see [`Links::send_interest`]).
    interest: SegQueue<Vec<InterestChange>>,
    /// Items and payload bytes pushed and not yet applied.
    items: AtomicUsize,
    bytes: AtomicUsize,
    /// The sender stopped its readers until the figures drop.
    sender_waiting: AtomicBool,
}

/// What wakes one shard.
struct Inbound {
    bell: Arc<Bell>,
    /// Per source shard: a batch was pushed since the receiver last looked.
    fresh: Vec<AtomicBool>,
    /// Some peer pushed interest changes since the receiver last looked.
    interest_fresh: AtomicBool,
    /// A peer applied batches this shard was waiting to see drained.
    drained: AtomicBool,
}

pub struct Links {
    shards: usize,
    /// `pairs[from * shards + to]`.
    pairs: Vec<Pair>,
    inbound: Vec<Inbound>,
}

impl Links {
    /// Links between `shards` shards, and each shard's end of its bell (`rx[i]` for shard
    /// `i`, to bind on its executor).
    pub fn new(shards: usize) -> io::Result<(Arc<Links>, Vec<BellRx>)> {
        let mut inbound = Vec::with_capacity(shards);
        let mut rxs = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (bell, rx) = runtime::bell()?;
            inbound.push(Inbound {
                bell,
                fresh: (0..shards).map(|_| AtomicBool::new(false)).collect(),
                interest_fresh: AtomicBool::new(false),
                drained: AtomicBool::new(false),
            });
            rxs.push(rx);
        }
        let links = Links {
            shards,
            pairs: (0..shards * shards).map(|_| Pair::default()).collect(),
            inbound,
        };
        Ok((Arc::new(links), rxs))
    }

    fn pair(&self, from: ShardId, to: ShardId) -> &Pair {
        &self.pairs[from * self.shards + to]
    }

    pub fn bell(&self, shard: ShardId) -> Arc<Bell> {
        self.inbound[shard].bell.clone()
    }

    /// Sends `batch` from `from` to `to` (called on `from`) and wakes `to` if it sleeps.
    pub fn send(&self, from: ShardId, to: ShardId, batch: Batch) {
        let p = self.pair(from, to);
        p.items.fetch_add(batch.items.len(), Ordering::SeqCst);
        p.bytes.fetch_add(batch.payload_bytes, Ordering::SeqCst);
        p.queue.push(batch);
        self.inbound[to].fresh[from].store(true, Ordering::SeqCst);
        self.inbound[to].bell.ring();
    }

    /// Sends interest changes from `from` to `to` (called on `from`, before the batch of the
    /// same flush) and wakes `to` if it sleeps. They travel apart from the batches so that
    /// `to` can apply them before it routes a message it read, not only when its links task
    /// comes to the batch: a SUB then takes effect on the other shards as soon as a message
    /// could get there. The order that matters is kept by the receiver: it takes a peer's
    /// changes before each batch of that peer it applies ([`Links::pop_interest`]), and
    /// they were pushed before it, so a delivery never overtakes an interest change queued
    /// before it. Changes overtaking deliveries is harmless: those are for the receiver's
    /// own subscribers, the changes for the sender's.
    pub fn send_interest(&self, from: ShardId, to: ShardId, changes: Vec<InterestChange>) {
        self.pair(from, to).interest.push(changes);
        self.inbound[to]
            .interest_fresh
            .store(true, Ordering::SeqCst);
        self.inbound[to].bell.ring();
    }

    /// Takes the note that some peer sent interest changes since the last look (called on
    /// `to`; one atomic swap, cheap enough for every read).
    pub fn take_interest_fresh(&self, to: ShardId) -> bool {
        self.inbound[to].interest_fresh.load(Ordering::Relaxed)
            && self.inbound[to]
                .interest_fresh
                .swap(false, Ordering::SeqCst)
    }

    /// The next interest changes from `from` to `to` (called on `to`).
    pub fn pop_interest(&self, from: ShardId, to: ShardId) -> Option<Vec<InterestChange>> {
        self.pair(from, to).interest.pop()
    }

    /// The next batch from `from` to `to` (called on `to`).
    pub fn pop(&self, from: ShardId, to: ShardId) -> Option<Batch> {
        self.pair(from, to).queue.pop()
    }

    /// `to` has applied a batch of `items` items and `bytes` payload bytes from `from`;
    /// wakes `from` if it waits for that.
    pub fn applied(&self, from: ShardId, to: ShardId, items: usize, bytes: usize) {
        let p = self.pair(from, to);
        p.items.fetch_sub(items, Ordering::SeqCst);
        p.bytes.fetch_sub(bytes, Ordering::SeqCst);
        if p.sender_waiting.swap(false, Ordering::SeqCst) {
            self.inbound[from].drained.store(true, Ordering::SeqCst);
            self.inbound[from].bell.ring();
        }
    }

    /// Whether what `from` has in flight to `to` passes the limits; if it does, `from` is
    /// marked waiting, so the batch that brings it back under rings `from`'s bell.
    pub fn over(&self, from: ShardId, to: ShardId, items_max: usize, bytes_max: usize) -> bool {
        let p = self.pair(from, to);
        let over = |p: &Pair| {
            p.items.load(Ordering::SeqCst) > items_max || p.bytes.load(Ordering::SeqCst) > bytes_max
        };
        if !over(p) {
            return false;
        }
        p.sender_waiting.store(true, Ordering::SeqCst);
        // Looked at again after the mark: a receiver that applied in between saw no mark.
        if over(p) {
            return true;
        }
        p.sender_waiting.store(false, Ordering::SeqCst);
        false
    }

    /// Takes the note that `from` pushed to `to` since the last look (called on `to`).
    pub fn take_fresh(&self, from: ShardId, to: ShardId) -> bool {
        self.inbound[to].fresh[from].swap(false, Ordering::SeqCst)
    }

    /// Takes the note that a peer drained what `shard` waited on.
    pub fn take_drained(&self, shard: ShardId) -> bool {
        self.inbound[shard].drained.swap(false, Ordering::SeqCst)
    }

    /// Whether anything waits for `shard`'s attention.
    pub fn has_news(&self, shard: ShardId) -> bool {
        let i = &self.inbound[shard];
        i.drained.load(Ordering::SeqCst)
            || i.interest_fresh.load(Ordering::SeqCst)
            || i.fresh.iter().any(|f| f.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, bytes: usize) -> Batch {
        Batch {
            items: (0..n)
                .map(|i| Item::InterestAck { epoch: i as u64 })
                .collect(),
            payload_bytes: bytes,
        }
    }

    #[test]
    fn batches_arrive_in_order_and_mark_the_receiver() {
        let (links, _rx) = Links::new(2).expect("links");
        links.send(0, 1, batch(1, 0));
        links.send(0, 1, batch(2, 0));
        assert!(links.has_news(1));
        assert!(!links.has_news(0));
        assert!(links.take_fresh(0, 1));
        assert!(!links.take_fresh(0, 1), "the note is taken once");
        assert_eq!(links.pop(0, 1).map(|b| b.items.len()), Some(1));
        assert_eq!(links.pop(0, 1).map(|b| b.items.len()), Some(2));
        assert!(links.pop(0, 1).is_none());
        assert!(
            links.pop(1, 0).is_none(),
            "the other direction is its own queue"
        );
    }

    #[test]
    fn a_sender_over_the_limit_waits_until_the_receiver_applies() {
        let (links, _rx) = Links::new(2).expect("links");
        links.send(0, 1, batch(3, 100));
        assert!(!links.over(0, 1, 3, 100), "at the limit is not over it");
        links.send(0, 1, batch(1, 0));
        assert!(links.over(0, 1, 3, 1000), "4 items > 3");
        assert!(!links.take_drained(0));
        let b = links.pop(0, 1).expect("first batch");
        links.applied(0, 1, b.items.len(), b.payload_bytes);
        assert!(links.has_news(0), "the waiting sender is told");
        assert!(links.take_drained(0));
        assert!(!links.over(0, 1, 3, 1000));
        let b = links.pop(0, 1).expect("second batch");
        links.applied(0, 1, b.items.len(), b.payload_bytes);
        assert!(!links.take_drained(0), "nobody waited this time");
    }

    fn change(epoch: u64) -> InterestChange {
        InterestChange {
            epoch,
            account: 0,
            add: true,
            subject: bytes::Bytes::from_static(b"x"),
            queue: None,
        }
    }

    #[test]
    fn interest_changes_travel_apart_and_mark_the_receiver() {
        let (links, _rx) = Links::new(3).expect("links");
        assert!(!links.take_interest_fresh(1));
        links.send_interest(0, 1, vec![change(1), change(2)]);
        links.send_interest(2, 1, vec![change(7)]);
        assert!(
            links.has_news(1),
            "the receiver's links task wakes for them"
        );
        assert!(!links.has_news(0));
        assert!(links.take_interest_fresh(1));
        assert!(!links.take_interest_fresh(1), "the note is taken once");
        let epochs = |v: Option<Vec<InterestChange>>| {
            v.map(|v| v.iter().map(|c| c.epoch).collect::<Vec<_>>())
        };
        assert_eq!(epochs(links.pop_interest(0, 1)), Some(vec![1, 2]));
        assert_eq!(epochs(links.pop_interest(0, 1)), None);
        assert_eq!(epochs(links.pop_interest(2, 1)), Some(vec![7]));
        assert!(links.pop(0, 1).is_none(), "no batch was sent");
    }

    #[test]
    fn bytes_count_toward_the_limit() {
        let (links, _rx) = Links::new(3).expect("links");
        links.send(2, 0, batch(1, 5000));
        assert!(links.over(2, 0, 100, 4096));
        assert!(!links.over(2, 1, 100, 4096), "other pairs are not affected");
    }
}
