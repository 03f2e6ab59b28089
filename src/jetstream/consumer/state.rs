//! Delivery and acknowledgement state of one consumer (jetstream-internals.md §2, §5.6).
//!
//! Invariants:
//! * `delivered_consumer_seq` counts every delivery, redeliveries included, so consumer
//!   sequences are dense (ordered consumers depend on that).
//! * `pending` holds exactly the delivered, unacked stream sequences (empty under ack policy
//!   none); each entry not queued for redelivery has one armed ack-wait timer, and an entry in
//!   `redeliver` has none.
//! * The stream ack floor is one below the lowest pending sequence, or the last delivered
//!   stream sequence when nothing is pending; it never moves backwards.
//! * `pending.len() >= max_ack_pending` stops new deliveries, never redeliveries.
//! * Once the store has written a snapshot, every change to a `pending` entry is noted in
//!   `changes` where it is made ([`delta`](super::delta)), except entries an ack-all passes
//!   (a delta drops what lies at or below its floor); consumer sequences of pending entries
//!   rise with their stream sequences.
//!
//! `pending` and `redeliver` are ordered maps, so the floor and the next redelivery are
//! O(log pending) lookups; nothing walks sequences or scans what is pending.

use std::collections::{BTreeMap, BTreeSet};

use super::delta::{Change, ChangeList};
use super::{ConsumerTimer, StreamView, TimerKind};
use crate::wheel::{TimerHandle, Wheel};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckPolicy {
    None,
    All,
    Explicit,
}

/// The parts of ConsumerConfig this state machine obeys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerLimits {
    pub ack_policy: AckPolicy,
    pub ack_wait_ms: u64,
    /// `None` = unlimited (nats-server's -1).
    pub max_deliver: Option<u64>,
    /// Redelivery delays by delivery count; the last step repeats. Empty = `ack_wait_ms`.
    pub backoff_ms: Vec<u64>,
    /// `None` = unlimited.
    pub max_ack_pending: Option<usize>,
    /// Subject filters (`filter_subject` or `filter_subjects`); empty = every subject.
    pub filters: Vec<String>,
}

impl Default for ConsumerLimits {
    fn default() -> Self {
        ConsumerLimits {
            ack_policy: AckPolicy::Explicit,
            ack_wait_ms: 30_000,
            max_deliver: None,
            backoff_ms: Vec::new(),
            max_ack_pending: Some(1_000),
            filters: Vec::new(),
        }
    }
}

/// One outstanding delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Consumer sequence of the first delivery of this message (redeliveries get new ones,
    /// reported in [`Delivery`], but the floor follows this one).
    pub consumer_seq: u64,
    /// How many times it was delivered (1 = first delivery).
    pub deliveries: u64,
    /// When it was last delivered (or its timer last reset).
    pub timestamp_ms: u64,
    pub(crate) timer: Option<TimerHandle>,
}

/// A message to send now. The caller loads `stream_seq` and builds the ack subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub deliveries: u64,
    /// num_pending after this message, for the ack subject.
    pub num_pending: u64,
}

/// Things the caller must act on (advisories).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerEvent {
    /// `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`.
    MaxDeliveries { stream_seq: u64, deliveries: u64 },
    /// `+TERM`: `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED...`.
    Terminated { stream_seq: u64, deliveries: u64 },
}

/// What an ack did; `Ignored` for unknown or already-acked sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    Applied,
    Ignored,
}

pub struct ConsumerState {
    pub(crate) id: u64,
    pub(crate) limits: ConsumerLimits,
    /// Next stream sequence to look at for a new delivery.
    pub(crate) next_stream_seq: u64,
    pub(crate) delivered_stream_seq: u64,
    pub(crate) delivered_consumer_seq: u64,
    pub(crate) ack_floor_stream: u64,
    pub(crate) ack_floor_consumer: u64,
    pub(crate) pending: BTreeMap<u64, Pending>,
    pub(crate) redeliver: BTreeSet<u64>,
    /// What changed since the store's last record (`None` until it wrote a snapshot): each
    /// change to `pending` is noted here as it happens, so a commit writes O(changes).
    pub(crate) changes: Option<ChangeList>,
}

impl ConsumerState {
    /// A consumer starting at stream sequence `start_seq` (deliver policy resolved by caller).
    pub fn new(id: u64, limits: ConsumerLimits, start_seq: u64) -> Self {
        let start = start_seq.max(1);
        ConsumerState {
            id,
            limits,
            next_stream_seq: start,
            delivered_stream_seq: start - 1,
            delivered_consumer_seq: 0,
            ack_floor_stream: start - 1,
            ack_floor_consumer: 0,
            pending: BTreeMap::new(),
            redeliver: BTreeSet::new(),
            changes: None,
        }
    }

    pub fn limits(&self) -> &ConsumerLimits {
        &self.limits
    }
    pub fn ack_floor(&self) -> (u64, u64) {
        (self.ack_floor_stream, self.ack_floor_consumer)
    }
    /// (consumer seq, stream seq) of the last delivery.
    pub fn delivered(&self) -> (u64, u64) {
        (self.delivered_consumer_seq, self.delivered_stream_seq)
    }
    pub fn num_ack_pending(&self) -> usize {
        self.pending.len()
    }
    pub fn num_redelivery_queued(&self) -> usize {
        self.redeliver.len()
    }
    pub fn pending(&self, stream_seq: u64) -> Option<&Pending> {
        self.pending.get(&stream_seq)
    }
    /// Messages not yet delivered, from the store's index.
    pub fn num_pending(&self, view: &impl StreamView) -> u64 {
        view.num_pending(&self.limits.filters, self.next_stream_seq)
    }
    /// Whether `max_ack_pending` stops new deliveries now.
    pub fn stalled(&self) -> bool {
        self.limits.ack_policy != AckPolicy::None
            && self
                .limits
                .max_ack_pending
                .is_some_and(|max| self.pending.len() >= max)
    }

    /// The stream sequence [`next_delivery`](Self::next_delivery) would pick now, without
    /// recording anything (for a pull request's byte budget).
    pub fn peek_next(&self, view: &impl StreamView) -> Option<u64> {
        for &seq in &self.redeliver {
            let Some(p) = self.pending.get(&seq) else {
                continue;
            };
            if self
                .limits
                .max_deliver
                .is_some_and(|max| p.deliveries >= max)
            {
                continue;
            }
            return Some(seq);
        }
        if self.stalled() {
            return None;
        }
        view.next(self.next_stream_seq, &self.limits.filters)
    }

    /// Picks and records the next delivery: a due redelivery (lowest stream seq first), else
    /// the next new message unless stalled. Messages past `max_deliver` are dropped from
    /// pending with an event.
    pub fn next_delivery(
        &mut self,
        view: &impl StreamView,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
        events: &mut Vec<ConsumerEvent>,
    ) -> Option<Delivery> {
        while let Some(seq) = self.redeliver.pop_first() {
            let Some(p) = self.pending.get(&seq).copied() else {
                continue;
            };
            if self
                .limits
                .max_deliver
                .is_some_and(|max| p.deliveries >= max)
            {
                self.pending.remove(&seq);
                self.note(Change::Removed { stream_seq: seq });
                events.push(ConsumerEvent::MaxDeliveries {
                    stream_seq: seq,
                    deliveries: p.deliveries,
                });
                self.move_floor();
                continue;
            }
            self.delivered_consumer_seq += 1;
            let deliveries = p.deliveries + 1;
            let timer = self.arm(seq, deliveries, now_ms, wheel);
            // The entry keeps its first consumer sequence, as nats-server does: the consumer
            // ack floor follows first deliveries, which are ordered like stream sequences.
            let entry = Pending {
                deliveries,
                timestamp_ms: now_ms,
                timer,
                ..p
            };
            self.pending.insert(seq, entry);
            self.note_pending(seq, &entry);
            return Some(Delivery {
                stream_seq: seq,
                consumer_seq: self.delivered_consumer_seq,
                deliveries,
                num_pending: self.num_pending(view),
            });
        }
        if self.stalled() {
            return None;
        }
        let seq = view.next(self.next_stream_seq, &self.limits.filters)?;
        self.next_stream_seq = seq + 1;
        self.delivered_stream_seq = seq;
        self.delivered_consumer_seq += 1;
        if self.limits.ack_policy == AckPolicy::None {
            self.ack_floor_stream = seq;
            self.ack_floor_consumer = self.delivered_consumer_seq;
        } else {
            let timer = self.arm(seq, 1, now_ms, wheel);
            let entry = Pending {
                consumer_seq: self.delivered_consumer_seq,
                deliveries: 1,
                timestamp_ms: now_ms,
                timer,
            };
            self.pending.insert(seq, entry);
            self.note_pending(seq, &entry);
        }
        Some(Delivery {
            stream_seq: seq,
            consumer_seq: self.delivered_consumer_seq,
            deliveries: 1,
            num_pending: self.num_pending(view),
        })
    }

    /// `+ACK` (and the ack part of `+NXT`).
    pub fn ack(&mut self, stream_seq: u64, wheel: &mut Wheel<ConsumerTimer>) -> AckOutcome {
        match self.limits.ack_policy {
            AckPolicy::None => AckOutcome::Ignored,
            AckPolicy::Explicit => {
                let Some(p) = self.pending.remove(&stream_seq) else {
                    return AckOutcome::Ignored;
                };
                self.note(Change::Removed { stream_seq });
                self.forget(stream_seq, p, wheel);
                self.move_floor();
                AckOutcome::Applied
            }
            AckPolicy::All => {
                if stream_seq > self.delivered_stream_seq || stream_seq <= self.ack_floor_stream {
                    return AckOutcome::Ignored;
                }
                let rest = self.pending.split_off(&(stream_seq + 1));
                let acked = std::mem::replace(&mut self.pending, rest);
                for (seq, p) in acked {
                    self.forget(seq, p, wheel);
                }
                // Everything at or below is acknowledged even if it was not pending. No change
                // is noted: a delta drops what lies at or below its floor.
                self.ack_floor_stream = self.ack_floor_stream.max(stream_seq);
                self.move_floor();
                AckOutcome::Applied
            }
        }
    }

    /// `-NAK [delay]`: redeliver now, or once `delay_ms` has passed.
    pub fn nak(
        &mut self,
        stream_seq: u64,
        delay_ms: Option<u64>,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> AckOutcome {
        let id = self.id;
        let Some(p) = self.pending.get_mut(&stream_seq) else {
            return AckOutcome::Ignored;
        };
        if let Some(t) = p.timer.take() {
            wheel.cancel(t);
        }
        match delay_ms.filter(|d| *d > 0) {
            Some(delay) => {
                self.redeliver.remove(&stream_seq);
                p.timer = Some(wheel.insert(now_ms.saturating_add(delay), timer(id, stream_seq)));
            }
            None => {
                self.redeliver.insert(stream_seq);
            }
        }
        AckOutcome::Applied
    }

    /// `+WPI`: restart this delivery's ack wait from now.
    pub fn progress(
        &mut self,
        stream_seq: u64,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> AckOutcome {
        let wait = self.wait_ms_for(self.pending.get(&stream_seq).map_or(1, |p| p.deliveries));
        let Some(p) = self.pending.get_mut(&stream_seq) else {
            return AckOutcome::Ignored;
        };
        p.timestamp_ms = now_ms;
        match p.timer {
            Some(t) if wheel.reset(t, now_ms.saturating_add(wait)) => {}
            _ => {
                // Already queued for redelivery: it is in progress again, so it waits.
                self.redeliver.remove(&stream_seq);
                p.timer =
                    Some(wheel.insert(now_ms.saturating_add(wait), timer(self.id, stream_seq)));
            }
        }
        let entry = *p;
        self.note_pending(stream_seq, &entry);
        AckOutcome::Applied
    }

    /// `+TERM`: never redeliver; counts as acked for the floor.
    pub fn term(
        &mut self,
        stream_seq: u64,
        wheel: &mut Wheel<ConsumerTimer>,
        events: &mut Vec<ConsumerEvent>,
    ) -> AckOutcome {
        let Some(p) = self.pending.remove(&stream_seq) else {
            return AckOutcome::Ignored;
        };
        self.note(Change::Removed { stream_seq });
        events.push(ConsumerEvent::Terminated {
            stream_seq,
            deliveries: p.deliveries,
        });
        self.forget(stream_seq, p, wheel);
        self.move_floor();
        AckOutcome::Applied
    }

    /// A fired ack wait of a message already delivered `max_deliver` times: it leaves the
    /// pending set for good (the floor moves over it), as nats-server gives up on it when its
    /// last ack wait runs out, with the event for the advisory. `None`: not spent.
    pub fn give_up_if_spent(&mut self, stream_seq: u64) -> Option<ConsumerEvent> {
        let max = self.limits.max_deliver?;
        let p = self.pending.get(&stream_seq)?;
        if p.deliveries < max {
            return None;
        }
        let deliveries = p.deliveries;
        self.pending.remove(&stream_seq);
        self.note(Change::Removed { stream_seq });
        self.redeliver.remove(&stream_seq);
        self.move_floor();
        Some(ConsumerEvent::MaxDeliveries {
            stream_seq,
            deliveries,
        })
    }

    /// A fired `AckWait` timer: the message joins the redelivery queue.
    pub fn on_timer(&mut self, kind: TimerKind) {
        if let TimerKind::AckWait { stream_seq } = kind {
            if let Some(p) = self.pending.get_mut(&stream_seq) {
                p.timer = None;
                self.redeliver.insert(stream_seq);
            }
        }
    }

    /// Cancels every timer (consumer deleted or moved).
    pub fn stop(&mut self, wheel: &mut Wheel<ConsumerTimer>) {
        for p in self.pending.values_mut() {
            if let Some(t) = p.timer.take() {
                wheel.cancel(t);
            }
        }
    }

    pub(crate) fn wait_ms_for(&self, deliveries: u64) -> u64 {
        let b = &self.limits.backoff_ms;
        if b.is_empty() {
            return self.limits.ack_wait_ms;
        }
        let i = (deliveries.saturating_sub(1) as usize).min(b.len() - 1);
        b[i]
    }

    pub(crate) fn arm(
        &self,
        seq: u64,
        deliveries: u64,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Option<TimerHandle> {
        let at = now_ms.saturating_add(self.wait_ms_for(deliveries));
        Some(wheel.insert(at, timer(self.id, seq)))
    }

    fn forget(&mut self, seq: u64, p: Pending, wheel: &mut Wheel<ConsumerTimer>) {
        if let Some(t) = p.timer {
            wheel.cancel(t);
        }
        self.redeliver.remove(&seq);
    }

    /// Floors follow the lowest pending entry: O(log pending), no walk over sequences.
    pub(crate) fn move_floor(&mut self) {
        match self.pending.first_key_value() {
            Some((&seq, p)) => {
                self.ack_floor_stream = self.ack_floor_stream.max(seq - 1);
                self.ack_floor_consumer = self.ack_floor_consumer.max(p.consumer_seq - 1);
            }
            None => {
                self.ack_floor_stream = self.ack_floor_stream.max(self.delivered_stream_seq);
                self.ack_floor_consumer = self.ack_floor_consumer.max(self.delivered_consumer_seq);
            }
        }
    }
}

fn timer(consumer_id: u64, stream_seq: u64) -> ConsumerTimer {
    ConsumerTimer {
        consumer_id,
        kind: TimerKind::AckWait { stream_seq },
    }
}
