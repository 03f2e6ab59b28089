//! The consumer engine's events: acks from clients, fired timers (ack waits, pull expiries and
//! heartbeats, push heartbeats, inactivity) and the advisories they cause. Split from
//! `consumers.rs`, whose invariants hold here too.

use super::consumer::ack::{self, AckKind};
use super::consumer::priority::PinEvent;
use super::consumer::pull;
use super::consumer::state::{AckOutcome, AckPolicy, ConsumerEvent};
use super::consumer::{ConsumerTimer, TimerKind};
use super::consumer_flow::SampledAck;
use super::consumers::{AckResult, Clock, Out};
use super::streams::AccountStreams;

impl AccountStreams {
    /// Arms a new (or restored) consumer's periodic timers: push heartbeats and the
    /// inactivity check.
    pub(crate) fn arm_consumer_timers(&mut self, stream: &str, name: &str, now: Clock) {
        let Some(c) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(name))
        else {
            return;
        };
        c.last_delivery_ms = now.ms;
        c.inactive_since_ms = now.ms;
        let mut wheel = self.wheel.borrow_mut();
        if c.spec.deliver_subject.is_some() && c.spec.idle_heartbeat_ms > 0 {
            wheel.insert(
                now.ms + c.spec.idle_heartbeat_ms,
                ConsumerTimer {
                    consumer_id: c.id,
                    kind: TimerKind::PushHeartbeat,
                },
            );
        }
        if let Some(until) = c.paused_until_ns.filter(|t| *t > now.ns) {
            wheel.insert(
                (until / 1_000_000) as u64 + 1,
                ConsumerTimer {
                    consumer_id: c.id,
                    kind: TimerKind::PauseEnd,
                },
            );
        }
        if c.spec.inactive_threshold_ms > 0 {
            wheel.insert(
                now.ms + c.spec.inactive_threshold_ms,
                ConsumerTimer {
                    consumer_id: c.id,
                    kind: TimerKind::Inactive,
                },
            );
        }
    }

    /// Publishes the advisory for a consumer event in the account.
    pub(crate) fn advisory(&mut self, stream: &str, consumer: &str, e: ConsumerEvent, now: Clock) {
        let (kind, ty, body) = match e {
            ConsumerEvent::MaxDeliveries {
                stream_seq,
                deliveries,
            } => (
                "MAX_DELIVERIES",
                "io.nats.jetstream.advisory.v1.max_deliver",
                serde_json::json!({"stream_seq": stream_seq, "deliveries": deliveries}),
            ),
            ConsumerEvent::Terminated {
                stream_seq,
                deliveries,
            } => (
                "MSG_TERMINATED",
                "io.nats.jetstream.advisory.v1.terminated",
                serde_json::json!({"stream_seq": stream_seq, "deliveries": deliveries}),
            ),
        };
        self.push_advisory(kind, ty, stream, consumer, None, body, now);
    }

    /// `$JS.EVENT.ADVISORY.CONSUMER.<kind>.<stream>.<consumer>`: type, id, timestamp, stream,
    /// consumer, the domain if given, then the fields of `extra`, in nats-server's order.
    #[allow(clippy::too_many_arguments)]
    fn push_advisory(
        &mut self,
        kind: &str,
        ty: &str,
        stream: &str,
        consumer: &str,
        domain: Option<&str>,
        extra: serde_json::Value,
        now: Clock,
    ) {
        let mut doc = serde_json::Map::new();
        doc.insert("type".into(), ty.into());
        doc.insert("id".into(), advisory_id().into());
        doc.insert("timestamp".into(), Out::event_time(now).into());
        doc.insert("stream".into(), stream.into());
        doc.insert("consumer".into(), consumer.into());
        if let Some(d) = domain {
            doc.insert("domain".into(), d.into());
        }
        if let serde_json::Value::Object(extra) = extra {
            doc.extend(extra);
        }
        let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.{kind}.{stream}.{consumer}");
        let payload = serde_json::to_vec(&serde_json::Value::Object(doc)).unwrap_or_default();
        self.outbox.push(Out::event(subject, payload));
    }

    /// Publishes `$JS.EVENT.ADVISORY.CONSUMER.PINNED|UNPINNED.<stream>.<consumer>`. nats-server
    /// adds the account's name, which this layer does not know (the field may be absent).
    pub(crate) fn pin_advisory(&mut self, stream: &str, consumer: &str, e: PinEvent, now: Clock) {
        let (kind, ty, extra) = match e {
            PinEvent::Pinned { group, id } => (
                "PINNED",
                "io.nats.jetstream.advisory.v1.consumer_group_pinned",
                serde_json::json!({"group": group, "pinned_id": id}),
            ),
            PinEvent::Unpinned { group, reason } => (
                "UNPINNED",
                "io.nats.jetstream.advisory.v1.consumer_group_unpinned",
                serde_json::json!({"group": group, "reason": reason}),
            ),
        };
        let domain = self.env.domain.clone();
        self.push_advisory(kind, ty, stream, consumer, domain.as_deref(), extra, now);
    }

    /// CONSUMER.UNPIN of `group`: the pin ends (the advisory goes out even if there was none,
    /// as nats-server sends it) and the consumer delivers to whoever pulls next.
    pub fn unpin(&mut self, stream: &str, consumer: &str, group: &str, now: Clock) {
        let Some(c) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
        else {
            return;
        };
        c.priority.unpin(&mut self.wheel.borrow_mut());
        let e = PinEvent::Unpinned {
            group: group.to_string(),
            reason: "admin",
        };
        self.pin_advisory(stream, consumer, e, now);
        self.deliver(stream, consumer, now);
    }

    /// A message on `$JS.ACK.…`.
    pub fn on_ack(
        &mut self,
        subject: &[u8],
        reply: &[u8],
        payload: &[u8],
        now: Clock,
    ) -> AckResult {
        let Ok(a) = ack::decode(subject) else {
            return AckResult::Unknown;
        };
        let (stream, consumer, sseq) = (a.stream.to_string(), a.consumer.to_string(), a.stream_seq);
        let Some(s) = self.streams.get_mut(&stream) else {
            return AckResult::Unknown;
        };
        let retention = s.config.retention;
        let Some(c) = s.consumers.get_mut(&consumer) else {
            return AckResult::Unknown;
        };
        let Ok(kind) = ack::parse_payload(payload) else {
            return AckResult::Done { confirm: false };
        };
        let known = sseq <= c.state.delivered().1;
        // `+NXT` answers with messages, not with a confirmation.
        let confirm = known && !reply.is_empty() && !matches!(kind, AckKind::Next(_));
        // Ack, term and next take the message out of the consumer (retention may remove it).
        let takes_message = matches!(kind, AckKind::Ack | AckKind::Term { .. } | AckKind::Next(_));
        // `sample_freq`: explicit acks of a pending message (and the ack of `+NXT`) may be
        // reported, with the time since its delivery (nats-server's `sampleAck`).
        let sampled = (matches!(kind, AckKind::Ack | AckKind::Next(_))
            && c.state.limits().ack_policy == AckPolicy::Explicit)
            .then(|| c.state.pending(sseq))
            .flatten()
            .filter(|_| c.flow.sample())
            .map(|p| SampledAck {
                stream_seq: sseq,
                consumer_seq: a.consumer_seq,
                deliveries: a.delivered,
                delivered_ms: p.timestamp_ms,
            });
        let plain_ack = kind == AckKind::Ack;
        let mut wheel = self.wheel.borrow_mut();
        let mut events = Vec::new();
        let mut next = None;
        let outcome = match kind {
            AckKind::Ack => c.state.ack(sseq, &mut wheel),
            AckKind::Nak { delay_ms } => c.state.nak(sseq, delay_ms, now.ms, &mut wheel),
            AckKind::Progress => c.state.progress(sseq, now.ms, &mut wheel),
            AckKind::Term { .. } => c.state.term(sseq, &mut wheel, &mut events),
            AckKind::Next(req) => {
                let o = c.state.ack(sseq, &mut wheel);
                next = Some(req);
                o
            }
            AckKind::Unknown => AckOutcome::Ignored,
        };
        drop(wheel);
        if outcome == AckOutcome::Applied {
            c.dirty = true;
            c.last_ack_ns = Some(now.ns);
            if retention == super::api::config::Retention::WorkQueue && takes_message {
                let _ = s.log.borrow_mut().delete(sseq, false);
                s.dirty = true;
            } else if retention == super::api::config::Retention::Interest && takes_message {
                let subject = s
                    .log
                    .borrow_mut()
                    .fetch(sseq)
                    .ok()
                    .flatten()
                    .map(|m| m.subject);
                let all =
                    subject.is_some_and(|subj| s.consumers.values().all(|o| o.acked(sseq, &subj)));
                if all {
                    let _ = s.log.borrow_mut().delete(sseq, false);
                    s.dirty = true;
                }
            }
        }
        for e in events {
            self.advisory(&stream, &consumer, e, now);
        }
        if let Some(m) = sampled {
            self.ack_metric(&stream, &consumer, m, now);
        }
        if let Some(req) = next {
            if !reply.is_empty() {
                self.enqueue_pull(&stream, &consumer, reply, req, now);
            }
            return AckResult::Done { confirm: false };
        }
        if plain_ack {
            // What the freed room lets out goes after the commit, together with what the
            // other acks of the batch freed (a push consumer at max_ack_pending would
            // otherwise send one message per ack, each through its own deliver call).
            if !self
                .acked
                .iter()
                .any(|(s, c)| *s == stream && *c == consumer)
            {
                self.acked.push((stream, consumer));
            }
        } else {
            // Redeliveries a NAK queued go out now.
            self.deliver(&stream, &consumer, now);
        }
        AckResult::Done { confirm }
    }

    /// A timer of consumer `timer.consumer_id` fired.
    pub fn on_timer(&mut self, timer: ConsumerTimer, now: Clock) {
        if self.on_stream_timer(timer, now) {
            return;
        }
        let Some((stream, name)) = self.consumer_ids.get(&timer.consumer_id).cloned() else {
            return;
        };
        let Some(c) = self
            .streams
            .get_mut(&stream)
            .and_then(|s| s.consumers.get_mut(&name))
        else {
            return;
        };
        match timer.kind {
            TimerKind::AckWait { stream_seq } => {
                if let Some(e) = c.state.give_up_if_spent(stream_seq) {
                    c.dirty = true;
                    self.advisory(&stream, &name, e, now);
                    return;
                }
                c.state.on_timer(timer.kind);
                self.deliver(&stream, &name, now);
            }
            TimerKind::PullExpiry { request_id } => {
                let mut wheel = self.wheel.borrow_mut();
                if let Some(w) = c.waiting.remove(request_id, &mut wheel) {
                    self.outbox.push(Out::status(
                        w.reply.as_bytes(),
                        pull::status_request_timeout(w.pending_msgs(), w.bytes_left),
                    ));
                }
            }
            TimerKind::PushHeartbeat => {
                let every = c.spec.idle_heartbeat_ms;
                let due = c.last_delivery_ms + every;
                let mut wheel = self.wheel.borrow_mut();
                if now.ms < due {
                    wheel.insert(due, timer);
                    return;
                }
                wheel.insert(now.ms + every, timer);
                drop(wheel);
                c.last_delivery_ms = now.ms;
                if !c.push_active {
                    return;
                }
                let (cseq, sseq) = c.state.delivered();
                let mut hb = pull::status_idle_heartbeat(cseq, sseq);
                if let Some(fc) = c.flow.outstanding() {
                    hb = super::consumer_flow::stalled_heartbeat(hb, fc);
                }
                if let Some(to) = c.spec.deliver_subject.clone() {
                    self.outbox.push(Out::status(to.as_bytes(), hb));
                }
            }
            TimerKind::Inactive => {
                let idle = c.waiting.is_empty() && !c.push_active;
                if !idle {
                    c.inactive_since_ms = now.ms;
                }
                let due = c.inactive_since_ms + c.spec.inactive_threshold_ms;
                if idle && now.ms >= due {
                    log::debug!("JetStream: consumer {name:?} of {stream:?} inactive, deleted");
                    self.remove_consumer(&stream, &name);
                    self.forget_consumer_files(&stream, &name);
                    return;
                }
                self.wheel.borrow_mut().insert(due.max(now.ms + 1), timer);
            }
            TimerKind::PullHeartbeat { request_id } => {
                let (cseq, sseq) = c.state.delivered();
                let mut wheel = self.wheel.borrow_mut();
                if let Some(inbox) = c.waiting.on_heartbeat(request_id, now.ms, &mut wheel) {
                    self.outbox.push(Out::status(
                        inbox.as_bytes(),
                        pull::status_idle_heartbeat(cseq, sseq),
                    ));
                }
            }
            TimerKind::PauseEnd => self.deliver(&stream, &name, now),
            TimerKind::PinExpiry => {
                if let Some(e) = c.priority.on_expiry() {
                    self.pin_advisory(&stream, &name, e, now);
                    self.deliver(&stream, &name, now);
                }
            }
            TimerKind::Resume => {
                c.flow.resume_fired(now.ms);
                self.deliver(&stream, &name, now);
            }
            // Stream timers are taken by `on_stream_timer` before this match.
            TimerKind::MsgTtl { .. }
            | TimerKind::MaxAge
            | TimerKind::Schedule { .. }
            | TimerKind::BatchIdle => {}
        }
    }
}

/// A unique id for an advisory (nats-server uses a nuid; any unique token will do).
pub(crate) fn advisory_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}
