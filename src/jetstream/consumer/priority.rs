//! Priority groups of a pull consumer (`priority_groups` with `priority_policy`): which
//! waiting request may take the next message, the pinned client's id and its timeout.
//!
//! Behaviour learnt from nats-server 2.15.1 (`consumer.go`: `processNextMsgRequest`,
//! `nextWaiting`, `assignNewPinId`, `setPinnedTimer`, `insertAtPosition`) and captures of it;
//! the code is ours.
//!
//! * `overflow`: a request with `min_pending` or `min_ack_pending` takes a message only while
//!   the consumer has at least that many messages pending (or awaiting ack); others pass it by.
//! * `pinned_client`: the first request of the group served while nobody is pinned pins its
//!   client: a fresh id goes out in `Nats-Pin-Id` on every delivery, and only requests that
//!   carry it are served. A request with another id gets `423`; one without waits. The pin
//!   ends after `priority_timeout` without a request carrying it, or by CONSUMER.UNPIN.
//! * `prioritized`: the queue is kept sorted by `priority` (0 first), FIFO within a level.
//!
//! The pin lives in memory only, as in nats-server: a restart unpins.
//!
//! Invariant: a pin has exactly one armed `PinExpiry` timer; it is cancelled when the pin ends.

use super::pull::{status_bytes, PullRequest, Waiting, WaitingQueue};
use super::state::ConsumerState;
use super::{ConsumerTimer, StreamView, TimerKind};
use crate::wheel::{TimerHandle, Wheel};

/// The largest `priority` a pull request may ask for (0 is served first).
pub const PRIORITY_MAX: i64 = 9;
/// The header naming the pin on every delivery of a pinned-client consumer.
pub const PIN_ID_HEADER: &str = "Nats-Pin-Id";

/// The consumer's `priority_policy`, with what the engine needs of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    None,
    Overflow,
    /// `priority_timeout` in ms: the pin ends after this long without a pull carrying it.
    PinnedClient {
        ttl_ms: u64,
    },
    Prioritized,
}

/// The priority fields of a pull request; present when its body was JSON (nats-server
/// decodes them then, and checks them, even if all are absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestPriority {
    pub group: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    /// The pin id the client holds (`id`).
    pub id: String,
    pub priority: i64,
}

/// The current pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub id: String,
    pub group: String,
    /// When it was assigned (Unix ns), shown as `pinned_ts`.
    pub since_ns: i64,
    timer: TimerHandle,
}

/// What a waiting request may do with the next message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; `pins`: no one is pinned and this request's client gets the pin.
    Serve { pins: bool },
    /// Let it wait and try the next request.
    PassOver,
    /// End it with this status (a stale pin id).
    End(Vec<u8>),
}

/// A pin began or ended: the advisory to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinEvent {
    Pinned { group: String, id: String },
    Unpinned { group: String, reason: &'static str },
}

/// A consumer's priority-group state.
#[derive(Clone, Debug, Default)]
pub struct Priority {
    pub policy: Policy,
    pub groups: Vec<String>,
    pub pin: Option<Pin>,
}

impl Priority {
    pub fn new(policy: Policy, groups: Vec<String>) -> Priority {
        Priority {
            policy,
            groups,
            pin: None,
        }
    }

    /// Whether the queue is sorted by `priority`.
    pub fn prioritized(&self) -> bool {
        self.policy == Policy::Prioritized
    }

    /// Whether any request may be passed over or ended at delivery.
    pub fn selects(&self) -> bool {
        matches!(self.policy, Policy::Overflow | Policy::PinnedClient { .. })
    }

    pub fn pinned(&self) -> bool {
        matches!(self.policy, Policy::PinnedClient { .. })
    }

    /// Checks a new pull request (after the consumer's request limits). `Err` is the status
    /// to answer with. A request carrying the current pin id renews the pin's timeout.
    pub fn admit(
        &mut self,
        req: &PullRequest,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Result<(), Vec<u8>> {
        let Some(p) = &req.priority else {
            return Ok(());
        };
        let bad = |text: &str| Err(status_bytes(400, &format!("Bad Request - {text}"), None));
        if (p.min_pending != 0 || p.min_ack_pending != 0) && self.policy != Policy::Overflow {
            return bad("Not a Overflow Priority consumer");
        }
        if !p.id.is_empty() && !self.pinned() {
            return bad("Not a Pinned Client Priority consumer");
        }
        if !(0..=PRIORITY_MAX).contains(&p.priority) {
            return bad("Priority must be between 0 and 9");
        }
        if self.policy == Policy::None {
            return Ok(());
        }
        if p.group.is_empty() {
            return bad("Priority Group missing");
        }
        if !self.groups.contains(&p.group) {
            return bad("Invalid Priority Group");
        }
        if let (Some(pin), Policy::PinnedClient { ttl_ms }) = (&self.pin, &self.policy) {
            if p.id == pin.id {
                wheel.reset(pin.timer, now_ms.saturating_add(*ttl_ms));
            } else if !p.id.is_empty() {
                return Err(status_bytes(423, "Nats-Pin-Id mismatch", None));
            }
        }
        Ok(())
    }

    /// Whether waiting request `w` takes the next message. `pending` is how many messages
    /// the consumer has to deliver counting that one, `ack_pending` how many await an ack.
    pub fn verdict(&self, w: &Waiting, pending: impl FnOnce() -> u64, ack_pending: u64) -> Verdict {
        let p = w.request.priority.as_ref();
        let id = p.map_or("", |p| p.id.as_str());
        match &self.policy {
            Policy::PinnedClient { .. } => match &self.pin {
                None if id.is_empty() => Verdict::Serve {
                    // A request without a group (a plain batch) is served but pins nobody.
                    pins: p.is_some_and(|p| !p.group.is_empty()),
                },
                Some(pin) if id == pin.id => Verdict::Serve { pins: false },
                Some(_) if id.is_empty() => Verdict::PassOver,
                _ => Verdict::End(status_bytes(
                    423,
                    "Nats-Wrong-Pin-Id",
                    Some((w.pending_msgs(), w.bytes_left)),
                )),
            },
            Policy::Overflow => {
                let Some(p) = p.filter(|p| p.min_pending > 0 || p.min_ack_pending > 0) else {
                    return Verdict::Serve { pins: false };
                };
                let by_ack = p.min_ack_pending > 0 && p.min_ack_pending as u64 <= ack_pending;
                let by_pending = p.min_pending > 0 && p.min_pending as u64 <= pending();
                if by_ack || by_pending {
                    Verdict::Serve { pins: false }
                } else {
                    Verdict::PassOver
                }
            }
            Policy::None | Policy::Prioritized => Verdict::Serve { pins: false },
        }
    }

    /// Pins the client of request `w`, about to be served, with a fresh id (which `w` then
    /// carries, as if its client had sent it) and arms the pin's timeout. `None` if `w` has
    /// no group.
    pub fn pin(
        &mut self,
        w: &mut Waiting,
        consumer_id: u64,
        now: (u64, i64),
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Option<PinEvent> {
        let p = w
            .request
            .priority
            .as_mut()
            .filter(|p| !p.group.is_empty())?;
        if let Some(old) = self.pin.take() {
            wheel.cancel(old.timer);
        }
        let (now_ms, now_ns) = now;
        let ttl_ms = match self.policy {
            Policy::PinnedClient { ttl_ms } => ttl_ms,
            _ => 0,
        };
        let timer = wheel.insert(
            now_ms.saturating_add(ttl_ms),
            ConsumerTimer {
                consumer_id,
                kind: TimerKind::PinExpiry,
            },
        );
        let id = new_pin_id();
        p.id = id.clone();
        self.pin = Some(Pin {
            id: id.clone(),
            group: p.group.clone(),
            since_ns: now_ns,
            timer,
        });
        Some(PinEvent::Pinned {
            group: p.group.clone(),
            id,
        })
    }

    /// Ends the pin, if any (CONSUMER.UNPIN, a policy change).
    pub fn unpin(&mut self, wheel: &mut Wheel<ConsumerTimer>) -> Option<Pin> {
        let pin = self.pin.take()?;
        wheel.cancel(pin.timer);
        Some(pin)
    }

    /// The pin's timer fired: the pin ends (its timer is spent).
    pub fn on_expiry(&mut self) -> Option<PinEvent> {
        let pin = self.pin.take()?;
        Some(PinEvent::Unpinned {
            group: pin.group,
            reason: "timeout",
        })
    }

    /// The `Nats-Pin-Id` header added to a delivery's header block (empty: none yet), as
    /// nats-server adds it to every delivery of a pinned-client consumer.
    pub fn add_pin_header(&self, headers: &mut Vec<u8>) {
        let id = self.pin.as_ref().map_or("", |p| p.id.as_str());
        if headers.len() >= 4 && headers.ends_with(b"\r\n\r\n") {
            headers.truncate(headers.len() - 2);
        } else {
            headers.clear();
            headers.extend_from_slice(b"NATS/1.0\r\n");
        }
        headers.extend_from_slice(PIN_ID_HEADER.as_bytes());
        headers.extend_from_slice(b": ");
        headers.extend_from_slice(id.as_bytes());
        headers.extend_from_slice(b"\r\n\r\n");
    }
}

/// Cycles the waiting queue until its head may take message `seq` (the next to go), ending
/// requests with a stale pin id on the way (their inbox and status go to `ended`).
/// `Some(pins)`: the head may (`pins`: and its client gets the pin); `None`: no request may
/// now. Requests passed over stay, cycled to the tail as nats-server cycles them.
pub fn select(
    waiting: &mut WaitingQueue,
    (priority, state): (&Priority, &ConsumerState),
    (seq, view): (u64, &impl StreamView),
    wheel: &mut Wheel<ConsumerTimer>,
    ended: &mut Vec<(String, Vec<u8>)>,
) -> Option<bool> {
    let mut passed = 0;
    loop {
        let w = waiting.iter().next()?;
        // nats-server counts the message about to go as pending (a redelivery on top).
        let pending = || state.num_pending(view) + u64::from(state.pending(seq).is_some());
        match priority.verdict(w, pending, state.num_ack_pending() as u64) {
            Verdict::Serve { pins } => return Some(pins),
            Verdict::PassOver => {
                waiting.cycle();
                passed += 1;
                if passed >= waiting.len() {
                    return None;
                }
            }
            Verdict::End(status) => {
                if let Some(w) = waiting.pop_front(wheel) {
                    ended.push((w.reply, status));
                }
            }
        }
    }
}

/// The queue position key of a request: its `priority`, a plain batch (no JSON) last.
pub fn queue_rank(req: &PullRequest) -> i64 {
    req.priority
        .as_ref()
        .map_or(i64::from(i32::MAX), |p| p.priority)
}

/// A fresh pin id: 22 base-62 characters, as long as nats-server's nuid.
fn new_pin_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
#[path = "priority_tests.rs"]
mod tests;
