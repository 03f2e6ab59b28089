//! The consumers of one account's streams: delivery to pull requests and push subjects,
//! acknowledgements, redelivery and the timers behind them, over the store's indexes.
//!
//! Sans-io like the rest of `jetstream`: time comes in as a [`Clock`], timers go into the
//! shard's one [`Wheel`] (shared by every account's streams through [`AccountStreams::wheel`]),
//! and what must be sent comes out as [`Out`] messages in [`AccountStreams::outbox`]; the
//! shard routes each to the subscribers of `Out::to` (a pull request's inbox, a push
//! consumer's deliver subject) with the stream message's own subject, as nats-server does.
//!
//! Invariants:
//! * A consumer's id is unique on the shard for the server's lifetime (the account id in
//!   the high bits, a counter below), so a timer of a deleted consumer finds nothing and is
//!   dropped; nothing has to be cancelled when a consumer or stream goes.
//! * Deliveries are taken only from what the log holds after a commit: the shard calls
//!   [`AccountStreams::deliver_ready`] after the group commit, so a consumer never delivers
//!   a message that a crash could still take back.
//! * The pending set is never scanned: what is due comes from the wheel, the floor from
//!   the ordered pending map (see `consumer::state`).

use std::collections::BTreeSet;

use super::consumer::ack::{self, AckSubject};
use super::consumer::priority::{self, Policy, Priority};
use super::consumer::pull::{self, PullRequest, WaitingQueue};
use super::consumer::state::{ConsumerLimits, ConsumerState};
use super::consumer::StreamView;
use super::consumer_flow::{Flow, Gate};
pub use super::consumer_view::PendingCache;
use super::consumer_view::View;
use super::streams::{AccountStreams, Stream};
use crate::store::MessageLog;

/// The most messages one consumer sends per call; the rest follow on the shard's next turn,
/// so a push consumer over a long backlog (ack policy none) does not flood one flush.
const DELIVER_BATCH_MAX: usize = 1024;

/// The time a call runs at: `ms` on the wheel's monotonic scale, `ns` Unix wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    pub ms: u64,
    pub ns: i64,
}

/// A message to send: routed to the subscribers of `to`, shown with `subject`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Out {
    /// Shared by every delivery to the same inbox or deliver subject.
    pub to: bytes::Bytes,
    pub subject: Vec<u8>,
    pub reply: Vec<u8>,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Out {
    /// An advisory or metric on its own `subject` (shown on it too).
    pub fn event(subject: String, payload: Vec<u8>) -> Out {
        Out {
            to: bytes::Bytes::copy_from_slice(subject.as_bytes()),
            subject: subject.into_bytes(),
            reply: Vec::new(),
            headers: Vec::new(),
            payload,
        }
    }

    /// An event's `timestamp` field at `now`, as nats-server writes it (RFC 3339, ns).
    pub fn event_time(now: Clock) -> String {
        crate::gofmt::rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(now.ns.max(0) as u64),
        )
    }

    /// A status or control message to an inbox (shown on the inbox itself).
    pub fn status(to: &[u8], headers: Vec<u8>) -> Out {
        Out {
            to: bytes::Bytes::copy_from_slice(to),
            subject: to.to_vec(),
            reply: Vec::new(),
            headers,
            payload: Vec::new(),
        }
    }
}

/// Where a new consumer starts (its deliver policy, resolved against the stream at create).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliverStart {
    All,
    Last,
    New,
    Seq(u64),
    Time(i64),
    LastPerSubject,
}

/// What the engine obeys of a consumer's config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub name: String,
    /// Durable consumers persist their state beside the stream.
    pub durable: bool,
    pub start: DeliverStart,
    pub limits: ConsumerLimits,
    pub max_waiting: usize,
    /// Push consumers deliver here; pull consumers have none.
    pub deliver_subject: Option<String>,
    pub headers_only: bool,
    /// Pull request limits (0: none).
    pub max_batch: u64,
    pub max_expires_ns: u64,
    pub max_request_bytes: u64,
    /// Delivery paused until then (Unix ns).
    pub pause_until_ns: Option<i64>,
    /// Push consumers: a heartbeat after this long without a delivery (0: none).
    pub idle_heartbeat_ms: u64,
    pub flow_control: bool,
    /// Push or pull: deliveries paced to this many bits per second (0: not paced).
    pub rate_limit_bps: u64,
    /// `replay_policy: original`: messages spaced by the gaps between their timestamps.
    pub replay_original: bool,
    /// `sample_freq` in percent: the share of acks reported as metrics.
    pub sample_pct: u32,
    /// Deleted after this long without pull requests or push interest (0: never).
    pub inactive_threshold_ms: u64,
    /// Pull consumers: `priority_policy` and `priority_groups` (`consumer/priority.rs`).
    pub priority_policy: Policy,
    pub priority_groups: Vec<String>,
}

/// One consumer of a stream.
pub struct Consumer {
    pub id: u64,
    pub spec: ConsumerSpec,
    /// The config document as the API layer stored it (echoed in INFO and persisted).
    pub config_json: Vec<u8>,
    pub created_ns: i64,
    pub state: ConsumerState,
    pub waiting: WaitingQueue,
    /// Until when (Unix ns) delivery is paused.
    pub paused_until_ns: Option<i64>,
    pub last_active_ns: Option<i64>,
    /// When the ack floor last moved (Unix ns).
    pub last_ack_ns: Option<i64>,
    /// Whether a push consumer's deliver subject has a subscriber (set by the shard).
    pub push_active: bool,
    /// LastPerSubject: the sequences at or below `cutoff` to deliver, then everything after.
    pub start_set: Option<(BTreeSet<u64>, u64)>,
    /// State changed since it was last persisted.
    pub dirty: bool,
    /// `num_pending`, kept up to date.
    pub pending_cache: PendingCache,
    /// A durable's open state file (opened at its first write).
    pub state_file: Option<super::consumer_store::StateFile>,
    /// When (wheel ms) the last message or heartbeat went to a push consumer.
    pub last_delivery_ms: u64,
    /// Since when (wheel ms) the consumer has had no pull request or push interest.
    pub inactive_since_ms: u64,
    /// Flow control, rate, replay pacing and ack sampling (`consumer_flow.rs`).
    pub flow: Flow,
    /// Priority groups and the pinned client (`consumer/priority.rs`).
    pub priority: Priority,
}

/// What the shard must do after an ack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckResult {
    /// Not an ack of a consumer here.
    Unknown,
    /// Applied (or harmless); `confirm`: answer the ack's reply after the commit.
    Done { confirm: bool },
}

impl Stream {
    fn view_parts(
        &mut self,
        name: &str,
    ) -> Option<(&mut Consumer, std::cell::RefMut<'_, Box<dyn MessageLog>>)> {
        let c = self.consumers.get_mut(name)?;
        Some((c, self.log.borrow_mut()))
    }
}

impl AccountStreams {
    /// A fresh consumer id on this shard.
    pub fn next_consumer_id(&mut self) -> u64 {
        self.consumer_seq += 1;
        (u64::from(self.account_id) << 40) | self.consumer_seq
    }

    /// Resolves a deliver policy to the state a new consumer starts in.
    pub fn start_consumer(
        &mut self,
        stream: &str,
        spec: ConsumerSpec,
        config_json: Vec<u8>,
        now: Clock,
    ) -> Option<u64> {
        let id = self.next_consumer_id();
        let s = self.streams.get_mut(stream)?;
        let mut log = s.log.borrow_mut();
        let by_time = match spec.start {
            DeliverStart::Time(t) => super::expiry::first_at_or_after(&mut **log, t),
            _ => None,
        };
        let l = log.log();
        let st = l.counters();
        let filters = &spec.limits.filters;
        let last_matching = || -> u64 {
            if filters.is_empty() {
                st.last_seq
            } else {
                filters
                    .iter()
                    .filter_map(|f| l.last_by_subject(f.as_bytes()))
                    .max()
                    .unwrap_or(st.last_seq)
            }
        };
        let mut start_set = None;
        let start_seq = match spec.start {
            DeliverStart::All => st.first_seq,
            DeliverStart::Last => last_matching().max(1),
            DeliverStart::New => st.last_seq + 1,
            DeliverStart::Seq(n) => n,
            DeliverStart::Time(_) => by_time.unwrap_or(st.last_seq + 1),
            DeliverStart::LastPerSubject => {
                let mut set = BTreeSet::new();
                let pats: Vec<&[u8]> = if filters.is_empty() {
                    vec![b">"]
                } else {
                    filters.iter().map(|f| f.as_bytes()).collect()
                };
                for p in pats {
                    for (_, _, ss) in l.subjects_matching(p) {
                        set.insert(ss.last_seq);
                    }
                }
                let first = set.first().copied().unwrap_or(st.last_seq + 1);
                start_set = Some((set, st.last_seq));
                first
            }
        };
        drop(log);
        let state = ConsumerState::new(id, spec.limits.clone(), start_seq);
        let mut c = Consumer::new(id, spec, config_json, now.ns, state, now);
        c.start_set = start_set;
        c.dirty = true;
        self.add_consumer(stream, c, now);
        Some(id)
    }

    /// Puts a consumer in its stream and arms its timers.
    pub(crate) fn add_consumer(&mut self, stream: &str, mut c: Consumer, now: Clock) {
        let burst = self.rate_burst_bytes(stream);
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        let last_seq = s.log.borrow().log().counters().last_seq;
        c.flow = Flow::new(&c.spec, last_seq, burst);
        let (id, name) = (c.id, c.spec.name.clone());
        s.consumers.insert(name.clone(), c);
        self.consumer_ids
            .insert(id, (stream.to_string(), name.clone()));
        self.arm_consumer_timers(stream, &name, now);
    }

    /// Removes a consumer; its waiting pull requests get `409 Consumer Deleted`.
    pub fn remove_consumer(&mut self, stream: &str, name: &str) -> Option<Consumer> {
        let s = self.streams.get_mut(stream)?;
        let mut c = s.consumers.remove(name)?;
        self.consumer_ids.remove(&c.id);
        let mut wheel = self.wheel.borrow_mut();
        c.state.stop(&mut wheel);
        for w in c.waiting.drain(&mut wheel) {
            self.outbox.push(Out::status(
                w.reply.as_bytes(),
                pull::status_consumer_deleted(),
            ));
        }
        Some(c)
    }

    /// A `CONSUMER.MSG.NEXT` request; false when there is no such consumer.
    pub fn pull(
        &mut self,
        stream: &str,
        consumer: &str,
        reply: &[u8],
        body: &[u8],
        now: Clock,
    ) -> bool {
        let Some(c) = self
            .streams
            .get(stream)
            .and_then(|s| s.consumers.get(consumer))
        else {
            return false;
        };
        if reply.is_empty() {
            return true;
        }
        if c.spec.deliver_subject.is_some() {
            self.outbox.push(Out::status(
                reply,
                pull::status_bytes(409, "Consumer is push based", None),
            ));
            return true;
        }
        let req = match PullRequest::decode(body) {
            Ok(r) => r,
            Err(e) => {
                self.outbox.push(Out::status(reply, e.status()));
                return true;
            }
        };
        self.enqueue_pull(stream, consumer, reply, req, now);
        true
    }

    /// Checks a decoded pull request against the consumer's limits and queues or answers it.
    pub(crate) fn enqueue_pull(
        &mut self,
        stream: &str,
        consumer: &str,
        reply: &[u8],
        req: PullRequest,
        now: Clock,
    ) {
        let Some(c) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
        else {
            return;
        };
        let spec = &c.spec;
        let refuse = if spec.max_batch > 0 && req.batch > spec.max_batch {
            Some(format!("Exceeded MaxRequestBatch of {}", spec.max_batch))
        } else if spec.max_expires_ns > 0 && req.expires_ns > spec.max_expires_ns {
            Some(format!(
                "Exceeded MaxRequestExpires of {}",
                crate::gofmt::duration(std::time::Duration::from_nanos(spec.max_expires_ns))
            ))
        } else if spec.max_request_bytes > 0 && req.max_bytes > spec.max_request_bytes {
            Some(format!(
                "Exceeded MaxRequestMaxBytes of {}",
                spec.max_request_bytes
            ))
        } else {
            None
        };
        if let Some(text) = refuse {
            self.outbox
                .push(Out::status(reply, pull::status_bytes(409, &text, None)));
            return;
        }
        let admitted = c.priority.admit(&req, now.ms, &mut self.wheel.borrow_mut());
        if let Err(status) = admitted {
            self.outbox.push(Out::status(reply, status));
            return;
        }
        c.last_active_ns = Some(now.ns);
        c.inactive_since_ms = now.ms;
        let no_wait = req.no_wait;
        let expires = req.expires_ns;
        let reply_s = String::from_utf8_lossy(reply).into_owned();
        let pushed = {
            let mut wheel = self.wheel.borrow_mut();
            c.waiting.push(now.ms, reply_s, req, &mut wheel)
        };
        let Ok(id) = pushed else {
            self.outbox
                .push(Out::status(reply, pull::status_exceeded_max_waiting()));
            return;
        };
        self.deliver(stream, consumer, now);
        // A no-wait request without an expiry that is still queued found nothing (more) to
        // deliver: it ends with 404 at once (nats-server 2.15.1).
        if no_wait && expires == 0 {
            self.end_request(stream, consumer, id, pull::status_no_messages());
        }
    }

    fn end_request(&mut self, stream: &str, consumer: &str, id: u64, status: Vec<u8>) {
        let Some(c) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
        else {
            return;
        };
        let mut wheel = self.wheel.borrow_mut();
        if let Some(w) = c.waiting.remove(id, &mut wheel) {
            self.outbox.push(Out::status(w.reply.as_bytes(), status));
        }
    }

    /// Delivers what consumer `consumer` can deliver now: to its waiting pull requests in
    /// turn, or to its deliver subject.
    pub fn deliver(&mut self, stream: &str, consumer: &str, now: Clock) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        let stream_name = s.config.name.clone();
        let Some((c, mut log)) = s.view_parts(consumer) else {
            return;
        };
        if c.paused_until_ns.is_some_and(|t| t > now.ns) {
            return;
        }
        let push = c
            .spec
            .deliver_subject
            .as_ref()
            .map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()));
        if push.is_some() && !c.push_active {
            return;
        }
        let mut wheel = self.wheel.borrow_mut();
        let mut events = Vec::new();
        let mut pin_events = Vec::new();
        let mut exhausted = false;
        let mut sent = 0;
        // The current pull request's inbox, made once per request, not per message.
        let mut inbox: Option<(u64, bytes::Bytes)> = None;
        loop {
            if sent >= DELIVER_BATCH_MAX {
                // The rest after the shard's next turn (the timer task flushes again).
                self.kicked.push(stream.to_string());
                break;
            }
            sent += 1;
            // Priority groups: the head becomes the first request that may take the next
            // message (`consumer/priority.rs`); none may: stop until something changes.
            let mut pins = false;
            if push.is_none() && c.priority.selects() {
                let view = View::of(log.log(), c.start_set.as_ref(), &c.pending_cache);
                let Some(seq) = c.state.peek_next(&view) else {
                    exhausted = true;
                    break;
                };
                let mut ended = Vec::new();
                let chosen = priority::select(
                    &mut c.waiting,
                    (&c.priority, &c.state),
                    (seq, &view),
                    &mut wheel,
                    &mut ended,
                );
                for (reply, status) in ended {
                    self.outbox.push(Out::status(reply.as_bytes(), status));
                }
                match chosen {
                    Some(p) => pins = p,
                    None => break,
                }
            }
            let target = match &push {
                Some(p) => p.clone(),
                None => match c.waiting.front_mut() {
                    Some(w) => match &inbox {
                        Some((id, b)) if *id == w.id => b.clone(),
                        _ => {
                            let b = bytes::Bytes::copy_from_slice(w.reply.as_bytes());
                            inbox = Some((w.id, b.clone()));
                            b
                        }
                    },
                    None => break,
                },
            };
            // Flow control, rate and replay pacing (`consumer_flow.rs`).
            let next = if c.flow.needs_peek() {
                let view = View::of(log.log(), c.start_set.as_ref(), &c.pending_cache);
                let cseq = c.state.delivered().0 + 1;
                c.state.peek_next(&view).and_then(|seq| {
                    let m = log.fetch(seq).ok().flatten()?;
                    let ts = m.ts_ns.max(0) as u64;
                    let reply = ack_reply_len(&stream_name, consumer, [1, seq, cseq, ts, 0]);
                    let size = m.subject.len() + reply + m.headers.len() + m.payload.len();
                    Some((size as u64, m.ts_ns))
                })
            } else {
                None
            };
            match c.flow.gate(next, now.ms) {
                Gate::Open => {}
                Gate::Stalled => break,
                Gate::Until(at) => {
                    c.flow.arm_resume(c.id, at, &mut wheel);
                    break;
                }
            }
            let view = View::of(log.log(), c.start_set.as_ref(), &c.pending_cache);
            // A pull request with a byte budget ends with 409 when the next message does not
            // fit what is left of it.
            let budget = match (&push, c.waiting.front_mut()) {
                (None, Some(w)) if w.request.max_bytes > 0 => {
                    Some((w.id, w.pending_msgs(), w.bytes_left))
                }
                _ => None,
            };
            if let Some((id, batch_left, bytes_left)) = budget {
                if let Some(seq) = c.state.peek_next(&view) {
                    // What the delivery will count: subject, ack reply, headers, payload
                    // (nats-server's accounting), with the reply's numbers as they will be.
                    let redelivery = c.state.pending(seq);
                    let deliveries = redelivery.map_or(1, |p| p.deliveries + 1);
                    let pending_after = match redelivery {
                        Some(_) => c.state.num_pending(&view),
                        None => view.num_pending(&c.spec.limits.filters, seq + 1),
                    };
                    let cseq = c.state.delivered().0 + 1;
                    let size = log.fetch(seq).ok().flatten().map_or(0, |m| {
                        let reply = ack_reply_len(
                            &stream_name,
                            consumer,
                            [deliveries, seq, cseq, m.ts_ns.max(0) as u64, pending_after],
                        );
                        (m.subject.len() + reply + m.headers.len() + m.payload.len()) as u64
                    });
                    if size > bytes_left {
                        if let Some(w) = c.waiting.remove(id, &mut wheel) {
                            self.outbox.push(Out::status(
                                w.reply.as_bytes(),
                                pull::status_exceeds_max_bytes(batch_left, bytes_left),
                            ));
                        }
                        continue;
                    }
                }
            }
            let view = View::of(log.log(), c.start_set.as_ref(), &c.pending_cache);
            let Some(d) = c
                .state
                .next_delivery(&view, now.ms, &mut wheel, &mut events)
            else {
                exhausted = true;
                break;
            };
            let msg = match log.fetch(d.stream_seq) {
                Ok(Some(m)) => m,
                _ => {
                    // Gone since (deleted, purged, aged out): it can never be acked.
                    c.state.ack(d.stream_seq, &mut wheel);
                    continue;
                }
            };
            if pins {
                if let Some(w) = c.waiting.front_mut() {
                    let e = c.priority.pin(w, c.id, (now.ms, now.ns), &mut wheel);
                    pin_events.extend(e);
                }
            }
            let mut reply = Vec::with_capacity(64);
            ack::encode_v1(
                &mut reply,
                &AckSubject {
                    domain: None,
                    account_hash: None,
                    stream: &stream_name,
                    consumer,
                    delivered: d.deliveries,
                    stream_seq: d.stream_seq,
                    consumer_seq: d.consumer_seq,
                    timestamp_ns: msg.ts_ns.max(0) as u64,
                    pending: d.num_pending,
                },
            );
            let size =
                (msg.subject.len() + reply.len() + msg.headers.len() + msg.payload.len()) as u64;
            let (mut headers, payload) = if c.spec.headers_only {
                (headers_only(&msg.headers, msg.payload.len()), Vec::new())
            } else {
                (msg.headers, msg.payload)
            };
            if push.is_none() && c.priority.pinned() {
                c.priority.add_pin_header(&mut headers);
            }
            let push_size = (target.len() + reply.len() + headers.len() + payload.len()) as u64;
            let names = (stream_name.as_str(), consumer);
            let fc = c
                .flow
                .delivered(names, (size, push_size), msg.ts_ns, now.ms);
            self.outbox.push(Out {
                to: target.clone(),
                subject: msg.subject,
                reply,
                headers,
                payload,
            });
            if let Some(fc_reply) = fc {
                self.outbox.push(Out {
                    subject: target.to_vec(),
                    to: target,
                    reply: fc_reply.into_bytes(),
                    headers: super::consumer_flow::FLOW_CONTROL_REQUEST.to_vec(),
                    payload: Vec::new(),
                });
            }
            c.dirty = true;
            c.last_active_ns = Some(now.ns);
            c.last_delivery_ms = now.ms;
            if push.is_none() {
                if let Some(w) = c.waiting.front_mut() {
                    w.batch_left = w.batch_left.saturating_sub(1);
                    if w.bytes_left > 0 {
                        w.bytes_left = w.bytes_left.saturating_sub(size);
                    }
                }
                c.waiting.note_delivery(now.ms, &mut wheel);
                let _ = c.waiting.rotate_after_delivery(&mut wheel);
            }
        }
        if exhausted && !c.state.stalled() {
            c.flow.caught_up();
        }
        // No-wait requests that got something and find nothing more end with 404.
        if exhausted && push.is_none() {
            let done: Vec<u64> = c
                .waiting
                .iter()
                .filter(|w| w.request.no_wait && w.batch_left < w.request.batch)
                .map(|w| w.id)
                .collect();
            for id in done {
                if let Some(w) = c.waiting.remove(id, &mut wheel) {
                    self.outbox
                        .push(Out::status(w.reply.as_bytes(), pull::status_no_messages()));
                }
            }
        }
        drop(wheel);
        drop(log);
        for e in events {
            self.advisory(&stream_name, consumer, e, now);
        }
        for e in pin_events {
            self.pin_advisory(&stream_name, consumer, e, now);
        }
    }

    /// A push consumer's deliver subject gained or lost its subscribers.
    pub fn set_push_active(&mut self, stream: &str, consumer: &str, active: bool, now: Clock) {
        let Some(c) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
        else {
            return;
        };
        let was = std::mem::replace(&mut c.push_active, active);
        if was && !active {
            c.inactive_since_ms = now.ms;
        }
        if active && !was {
            self.deliver(stream, consumer, now);
        }
    }

    /// Runs [`deliver`](Self::deliver) for every consumer of `stream`.
    pub fn deliver_stream(&mut self, stream: &str, now: Clock) {
        let names: Vec<String> = match self.streams.get(stream) {
            Some(s) => s.consumers.keys().cloned().collect(),
            None => return,
        };
        for n in names {
            self.deliver(stream, &n, now);
        }
    }

    /// Whether a commit is wanted: a consumer stopped at its per-call bound and has more to
    /// send, or a timer changed a stream (an expiry) outside a publish batch.
    pub fn wants_commit(&self) -> bool {
        !self.kicked.is_empty()
            || !self.acked.is_empty()
            || self.streams.values().any(|s| s.dirty)
            || self.sourcing_backlog
    }

    /// Delivers for the streams written by the last commit, then for the consumers whose
    /// acks since the last one freed room.
    pub fn deliver_ready(&mut self, now: Clock) {
        let kicked = std::mem::take(&mut self.kicked);
        for stream in &kicked {
            self.deliver_stream(stream, now);
        }
        for (stream, consumer) in std::mem::take(&mut self.acked) {
            if !kicked.contains(&stream) {
                self.deliver(&stream, &consumer, now);
            }
        }
    }
}

impl Consumer {
    /// A consumer with `state`, not yet bound, active or dirty.
    pub fn new(
        id: u64,
        spec: ConsumerSpec,
        config_json: Vec<u8>,
        created_ns: i64,
        state: ConsumerState,
        now: Clock,
    ) -> Consumer {
        let priority = Priority::new(spec.priority_policy.clone(), spec.priority_groups.clone());
        let mut waiting = WaitingQueue::new(id, spec.max_waiting);
        waiting.set_prioritized(priority.prioritized());
        Consumer {
            id,
            waiting,
            priority,
            paused_until_ns: spec.pause_until_ns,
            spec,
            config_json,
            created_ns,
            state,
            last_active_ns: None,
            last_ack_ns: None,
            push_active: false,
            start_set: None,
            dirty: false,
            pending_cache: PendingCache::default(),
            state_file: None,
            last_delivery_ms: now.ms,
            inactive_since_ms: now.ms,
            flow: Flow::default(),
        }
    }

    /// `num_pending`: messages left to deliver, from the stream's indexes.
    pub fn num_pending(&self, log: &dyn MessageLog) -> u64 {
        let view = View::of(log.log(), self.start_set.as_ref(), &self.pending_cache);
        self.state.num_pending(&view)
    }

    /// Whether this consumer no longer needs stream message `seq` on `subject` (interest
    /// retention): it does not want the subject, or it delivered and acked it.
    pub(crate) fn acked(&self, seq: u64, subject: &[u8]) -> bool {
        let f = &self.spec.limits.filters;
        if !f.is_empty()
            && !f
                .iter()
                .any(|p| crate::subject::matches(p.as_bytes(), subject))
        {
            return true;
        }
        seq <= self.state.delivered().1 && self.state.pending(seq).is_none()
    }
}

/// The length of the v1 ack subject `$JS.ACK.<stream>.<consumer>.<5 numbers>`.
fn ack_reply_len(stream: &str, consumer: &str, numbers: [u64; 5]) -> usize {
    let mut buf = itoa::Buffer::new();
    let digits: usize = numbers.iter().map(|&n| buf.format(n).len()).sum();
    "$JS.ACK.".len() + stream.len() + 1 + consumer.len() + 5 + digits
}

/// `headers_only`: the original headers plus `Nats-Msg-Size`, or a header block of just it.
fn headers_only(headers: &[u8], size: usize) -> Vec<u8> {
    let mut h = if headers.is_empty() {
        b"NATS/1.0\r\n".to_vec()
    } else {
        headers[..headers.len().saturating_sub(2)].to_vec()
    };
    h.extend_from_slice(format!("Nats-Msg-Size: {size}\r\n\r\n").as_bytes());
    h
}

#[cfg(test)]
#[path = "consumers_tests.rs"]
pub(crate) mod tests;
