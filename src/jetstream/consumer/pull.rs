//! Pull requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` bodies) and the queue of
//! waiting requests, plus the status messages sent to a request's inbox.
//!
//! A body is empty (batch 1), a bare integer (batch N) or JSON; `null` fields are absent
//! (async-nats sends them). Validation follows nats-server: a batch of 0 or less is 1, and
//! `idle_heartbeat` may be at most half of `expires`.
//!
//! Invariants: `WaitingQueue` holds at most `waiting_max` live requests; every live request
//! with an expiry has exactly one armed expiry timer, and one with `idle_heartbeat` one armed
//! heartbeat timer; both are cancelled when it leaves the queue.

use std::collections::VecDeque;

use super::priority::{queue_rank, RequestPriority};
use super::{ConsumerTimer, TimerKind};
use crate::wheel::{TimerHandle, Wheel};

/// A decoded pull request. Times are ns as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullRequest {
    pub batch: u64,
    /// The batch on the wire was 0 or less (absent in JSON): served as 1, but nats-server
    /// reports 0 messages left in its statuses (`Nats-Pending-Messages`).
    pub batch_unset: bool,
    pub expires_ns: u64,
    pub no_wait: bool,
    pub max_bytes: u64,
    pub idle_heartbeat_ns: u64,
    /// Present when the body was JSON (see [`RequestPriority`]).
    pub priority: Option<RequestPriority>,
}

/// Why a pull request was refused; `status` gives the bytes nats-server answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullRequestError {
    BadJson,
    HeartbeatTooLarge,
}

impl PullRequestError {
    /// The status header block sent to the request's inbox.
    pub fn status(&self) -> Vec<u8> {
        match self {
            // nats-server appends Go's JSON error text, which serde cannot reproduce; clients
            // act on the code (any 400 ends a fetch), not on that text.
            PullRequestError::BadJson => status_bytes(400, "Bad Request - invalid JSON", None),
            PullRequestError::HeartbeatTooLarge => {
                status_bytes(400, "Bad Request - heartbeat value too large", None)
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Wire {
    batch: Option<i64>,
    expires: Option<i64>,
    no_wait: Option<bool>,
    max_bytes: Option<i64>,
    idle_heartbeat: Option<i64>,
    min_pending: Option<i64>,
    min_ack_pending: Option<i64>,
    group: Option<String>,
    id: Option<String>,
    priority: Option<i64>,
}

impl PullRequest {
    pub fn decode(body: &[u8]) -> Result<PullRequest, PullRequestError> {
        let body = body.trim_ascii();
        if body.is_empty() {
            return Ok(PullRequest {
                batch: 1,
                ..PullRequest::default()
            });
        }
        if body[0] != b'{' {
            // nats-server 2.15.1 answers nothing to `0` or `abc`: the request just waits, as
            // one for a single message.
            let n: i64 = std::str::from_utf8(body)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            return Ok(PullRequest {
                batch: n.max(1) as u64,
                batch_unset: n < 1,
                ..PullRequest::default()
            });
        }
        let w: Wire = serde_json::from_slice(body).map_err(|_| PullRequestError::BadJson)?;
        let pos = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
        let req = PullRequest {
            batch: w.batch.unwrap_or(1).max(1) as u64,
            batch_unset: w.batch.unwrap_or(0) < 1,
            // A negative expiry is already past: nats-server 2.15.1 answers 408 at once, so
            // it becomes the shortest one the wheel can hold.
            expires_ns: match w.expires {
                Some(e) if e < 0 => 1,
                e => pos(e),
            },
            no_wait: w.no_wait.unwrap_or(false),
            max_bytes: pos(w.max_bytes),
            idle_heartbeat_ns: pos(w.idle_heartbeat),
            priority: Some(RequestPriority {
                group: w.group.unwrap_or_default(),
                min_pending: w.min_pending.unwrap_or(0),
                min_ack_pending: w.min_ack_pending.unwrap_or(0),
                id: w.id.unwrap_or_default(),
                priority: w.priority.unwrap_or(0),
            }),
        };
        // Captured from nats-server 2.15.1: expires 1s with heartbeat 1s is refused.
        if req.idle_heartbeat_ns > 0 && req.idle_heartbeat_ns.saturating_mul(2) > req.expires_ns {
            return Err(PullRequestError::HeartbeatTooLarge);
        }
        Ok(req)
    }
}

/// A status message's header block: `NATS/1.0 <code> <text>\r\n[Nats-Pending-*]\r\n`.
/// `pending` = (unfilled messages, unfilled bytes).
pub fn status_bytes(code: u16, text: &str, pending: Option<(u64, u64)>) -> Vec<u8> {
    let mut out = format!("NATS/1.0 {code} {text}\r\n").into_bytes();
    if let Some((msgs, bytes)) = pending {
        out.extend_from_slice(
            format!("Nats-Pending-Messages: {msgs}\r\nNats-Pending-Bytes: {bytes}\r\n").as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    out
}

pub fn status_no_messages() -> Vec<u8> {
    status_bytes(404, "No Messages", None)
}

pub fn status_request_timeout(msgs: u64, bytes: u64) -> Vec<u8> {
    status_bytes(408, "Request Timeout", Some((msgs, bytes)))
}

pub fn status_exceeded_max_waiting() -> Vec<u8> {
    status_bytes(409, "Exceeded MaxWaiting", None)
}

pub fn status_exceeds_max_bytes(msgs: u64, bytes: u64) -> Vec<u8> {
    status_bytes(409, "Message Size Exceeds MaxBytes", Some((msgs, bytes)))
}

pub fn status_consumer_deleted() -> Vec<u8> {
    status_bytes(409, "Consumer Deleted", None)
}

pub fn status_idle_heartbeat(last_consumer_seq: u64, last_stream_seq: u64) -> Vec<u8> {
    format!(
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {last_consumer_seq}\r\n\
         Nats-Last-Stream: {last_stream_seq}\r\n\r\n"
    )
    .into_bytes()
}

/// A request waiting for messages. `reply` is the inbox to deliver to.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub id: u64,
    pub reply: String,
    /// Messages still wanted.
    pub batch_left: u64,
    /// Byte budget left; 0 = unlimited.
    pub bytes_left: u64,
    pub request: PullRequest,
    timer: Option<TimerHandle>,
    heartbeat: Option<TimerHandle>,
}

impl Waiting {
    /// Messages still wanted, as statuses report them (`Nats-Pending-Messages`).
    pub fn pending_msgs(&self) -> u64 {
        if self.request.batch_unset {
            0
        } else {
            self.batch_left
        }
    }
}

/// The queue answered `409 Exceeded MaxWaiting`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// FIFO of waiting pull requests, at most `waiting_max` deep; with `prioritized`, sorted by
/// each request's `priority` (FIFO within a level).
pub struct WaitingQueue {
    consumer_id: u64,
    waiting_max: usize,
    queue: VecDeque<Waiting>,
    next_id: u64,
    prioritized: bool,
}

impl WaitingQueue {
    pub fn new(consumer_id: u64, waiting_max: usize) -> Self {
        WaitingQueue {
            consumer_id,
            waiting_max,
            queue: VecDeque::new(),
            next_id: 1,
            prioritized: false,
        }
    }

    /// Keeps the queue sorted by request `priority` (the `prioritized` policy).
    pub fn set_prioritized(&mut self, on: bool) {
        self.prioritized = on;
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues a request and arms its expiry (`expires_ns` from `now_ms`). Returns its id.
    pub fn push(
        &mut self,
        now_ms: u64,
        reply: String,
        request: PullRequest,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Result<u64, QueueFull> {
        if self.queue.len() >= self.waiting_max {
            return Err(QueueFull);
        }
        let id = self.next_id;
        self.next_id += 1;
        let timer = (request.expires_ns > 0).then(|| {
            let at = now_ms.saturating_add(request.expires_ns.div_ceil(1_000_000));
            wheel.insert(
                at,
                ConsumerTimer {
                    consumer_id: self.consumer_id,
                    kind: TimerKind::PullExpiry { request_id: id },
                },
            )
        });
        let heartbeat = self.arm_heartbeat(id, &request, now_ms, wheel);
        let w = Waiting {
            id,
            reply,
            batch_left: request.batch,
            bytes_left: request.max_bytes,
            request,
            timer,
            heartbeat,
        };
        self.enqueue(w);
        Ok(id)
    }

    /// At the tail, or with `prioritized` after every request of the same or a lower rank.
    fn enqueue(&mut self, w: Waiting) {
        if !self.prioritized {
            self.queue.push_back(w);
            return;
        }
        let rank = queue_rank(&w.request);
        let at = self
            .queue
            .iter()
            .position(|q| queue_rank(&q.request) > rank)
            .unwrap_or(self.queue.len());
        self.queue.insert(at, w);
    }

    /// Moves the head to the tail: it may not take the next message, the next one may
    /// (nats-server's `cycle`, also with `prioritized`).
    pub fn cycle(&mut self) {
        if let Some(w) = self.queue.pop_front() {
            self.queue.push_back(w);
        }
    }

    /// Takes the head out (answered with a status).
    pub fn pop_front(&mut self, wheel: &mut Wheel<ConsumerTimer>) -> Option<Waiting> {
        let w = self.queue.pop_front()?;
        Some(Self::disarm(w, wheel))
    }

    /// The waiting requests, head first.
    pub fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.queue.iter()
    }

    /// The request at the head, which the next message goes to.
    pub fn front_mut(&mut self) -> Option<&mut Waiting> {
        self.queue.front_mut()
    }

    /// After a delivery to the head: a request with batch left moves to the tail (requests
    /// share deliveries round-robin, as in nats-server), with `prioritized` to the end of its
    /// level; a filled one leaves and is returned.
    pub fn rotate_after_delivery(&mut self, wheel: &mut Wheel<ConsumerTimer>) -> Option<Waiting> {
        let head = self.queue.pop_front()?;
        if head.batch_left > 0 {
            self.enqueue(head);
            return None;
        }
        Some(Self::disarm(head, wheel))
    }

    /// Removes a request (expired, answered, or its inbox lost interest).
    pub fn remove(&mut self, id: u64, wheel: &mut Wheel<ConsumerTimer>) -> Option<Waiting> {
        // Ids are increasing in queue order only until rotation, so search; max_waiting
        // bounds this (512 by default) and it runs once per request, not per message.
        let pos = self.queue.iter().position(|w| w.id == id)?;
        let w = self.queue.remove(pos)?;
        Some(Self::disarm(w, wheel))
    }

    /// Empties the queue (consumer deleted): every request gets `409 Consumer Deleted`.
    pub fn drain(&mut self, wheel: &mut Wheel<ConsumerTimer>) -> Vec<Waiting> {
        let all: Vec<Waiting> = self.queue.drain(..).collect();
        all.into_iter().map(|w| Self::disarm(w, wheel)).collect()
    }

    /// A fired `PullHeartbeat`: re-arms it and returns the inbox to send `100 Idle
    /// Heartbeat` to, or `None` if the request is gone.
    pub fn on_heartbeat(
        &mut self,
        id: u64,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Option<&str> {
        let pos = self.queue.iter().position(|w| w.id == id)?;
        let hb = self.arm_heartbeat(id, &self.queue[pos].request, now_ms, wheel);
        let w = &mut self.queue[pos];
        w.heartbeat = hb;
        Some(&w.reply)
    }

    /// A message went to the head request: its heartbeat interval starts again, since
    /// heartbeats are sent only for intervals with no delivery.
    pub fn note_delivery(&mut self, now_ms: u64, wheel: &mut Wheel<ConsumerTimer>) {
        if let Some(w) = self.queue.front() {
            if let Some(t) = w.heartbeat {
                let interval = w.request.idle_heartbeat_ns.div_ceil(1_000_000);
                wheel.reset(t, now_ms.saturating_add(interval));
            }
        }
    }

    fn arm_heartbeat(
        &self,
        id: u64,
        request: &PullRequest,
        now_ms: u64,
        wheel: &mut Wheel<ConsumerTimer>,
    ) -> Option<TimerHandle> {
        (request.idle_heartbeat_ns > 0).then(|| {
            let at = now_ms.saturating_add(request.idle_heartbeat_ns.div_ceil(1_000_000));
            wheel.insert(
                at,
                ConsumerTimer {
                    consumer_id: self.consumer_id,
                    kind: TimerKind::PullHeartbeat { request_id: id },
                },
            )
        })
    }

    fn disarm(mut w: Waiting, wheel: &mut Wheel<ConsumerTimer>) -> Waiting {
        for t in [w.timer.take(), w.heartbeat.take()].into_iter().flatten() {
            wheel.cancel(t);
        }
        w
    }
}
