//! Subscription requests (nats-streaming-server's `processSubscriptionRequest` and
//! `processSub`: validation in its order, durable resume, queue join, shadow take-over, start
//! positions), unsubscribe and subscription-close requests, and acks.

use std::collections::HashMap;

use super::channel::{valid_channel, ChannelFactory, ChannelStore};
use super::errors::StanError;
use super::proto::{self, StartPosition, SubscriptionRequest};
use super::proto::{SubscriptionResponse, UnsubscribeRequest};
use super::server::{Channel, StanServer};
use super::subs::{self, durable_key, Ctx, Sub};
use super::{ConnId, Fx, Timer};

impl<F: ChannelFactory> StanServer<F> {
    pub(crate) fn handle_subscribe(
        &mut self,
        conn: ConnId,
        reply: &str,
        payload: &[u8],
        now_ns: i64,
    ) {
        match self.subscribe(conn, payload, now_ns) {
            Ok((channel, sub_id, ack_inbox)) => {
                self.sub_response(reply, &ack_inbox, None);
                self.start_sub(&channel, sub_id);
            }
            Err((channel, e)) => {
                self.sub_response(reply, "", Some(&e));
                if let Some(channel) = channel {
                    self.maybe_start_inactivity(&channel);
                }
            }
        }
    }

    pub(crate) fn sub_response(&mut self, reply: &str, ack_inbox: &str, err: Option<&StanError>) {
        if reply.is_empty() {
            return;
        }
        let payload = proto::encode(&SubscriptionResponse {
            ack_inbox: ack_inbox.to_string(),
            error: err.map(ToString::to_string).unwrap_or_default(),
        });
        self.fx.publish(reply, "", payload);
    }

    /// Validates and records a subscription (nats-streaming-server's order of checks).
    #[allow(clippy::type_complexity)]
    fn subscribe(
        &mut self,
        conn: ConnId,
        payload: &[u8],
        now_ns: i64,
    ) -> Result<(String, u64, String), (Option<String>, StanError)> {
        let sr = proto::decode::<SubscriptionRequest>(payload)
            .ok_or((None, StanError::InvalidSubReq))?;
        let fail = |e| Err((None, e));
        if sr.client_id.is_empty() {
            return fail(StanError::MissingClient);
        }
        if sr.ack_wait_in_secs <= 0 {
            return fail(StanError::InvalidAckWait);
        }
        if sr.max_in_flight <= 0 {
            return fail(StanError::InvalidMaxInflight);
        }
        let Ok(start) = StartPosition::try_from(sr.start_position) else {
            return fail(StanError::InvalidStart);
        };
        if !valid_channel(&sr.subject) {
            return fail(StanError::InvalidSubject);
        }
        if self.clients.get(&sr.client_id).is_none() {
            return fail(StanError::UnknownClient);
        }
        self.touch(&sr.client_id, conn);
        self.ensure_channel(&sr.subject).map_err(|e| (None, e))?;
        self.next_sub_id += 1;
        let sub_id = self.next_sub_id;
        let ack_inbox = format!("{}{sub_id}", self.subj.ack_prefix);
        let channel = sr.subject.clone();
        let now = self.fx.now_ms;
        let Some(ch) = self.channels.get_mut(&channel) else {
            return Err((None, StanError::UnknownChannel));
        };
        let fx = &mut self.fx;
        let id = add_sub(
            fx, ch, &channel, &sr, start, sub_id, &ack_inbox, now, now_ns,
        )
        .map_err(|e| (Some(channel.clone()), e))?;
        if let Some(ch) = self.channels.get_mut(&channel) {
            if let Some(h) = ch.inactivity_timer.take() {
                self.fx.wheel.cancel(h);
            }
        }
        if let Some(c) = self.clients.get_mut(&sr.client_id) {
            c.subs.push((channel.clone(), id));
        }
        Ok((channel, id, ack_inbox))
    }

    /// After the response: a resumed durable's pending first, then what is available.
    fn start_sub(&mut self, channel: &str, sub_id: u64) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let mut ctx = Ctx {
            channel,
            chan_gen: ch.generation,
            fx: &mut self.fx,
        };
        let Some(sub) = ch.subs.subs.get(&sub_id) else {
            return;
        };
        let (durable, group) = (sub.is_durable, sub.qgroup.clone());
        if durable {
            subs::durable_redelivery(&mut ctx, &mut ch.store, &mut ch.subs, sub_id);
        }
        if group.is_empty() {
            subs::send_available(&mut ctx, &mut ch.store, &mut ch.subs, sub_id);
        } else {
            subs::send_available_to_group(&mut ctx, &mut ch.store, &mut ch.subs, &group);
        }
    }

    pub(crate) fn handle_unsubscribe(&mut self, reply: &str, payload: &[u8], is_close: bool) {
        let result = self.unsubscribe(payload, is_close);
        if let Ok(channel) = &result {
            let channel = channel.clone();
            self.maybe_start_inactivity(&channel);
        }
        self.sub_response(reply, "", result.err().as_ref());
    }

    fn unsubscribe(&mut self, payload: &[u8], is_close: bool) -> Result<String, StanError> {
        let req = proto::decode::<UnsubscribeRequest>(payload).ok_or(StanError::InvalidUnsubReq)?;
        let ch = self
            .channels
            .get_mut(&req.subject)
            .ok_or(StanError::UnknownChannel)?;
        let sub_id = ch
            .subs
            .by_ack_inbox
            .get(&req.inbox)
            .or_else(|| ch.subs.by_inbox.get(&req.inbox))
            .copied()
            .ok_or(StanError::InvalidSub)?;
        let client = self
            .clients
            .get_mut(&req.client_id)
            .ok_or(StanError::UnknownClient)?;
        let before = client.subs.len();
        client
            .subs
            .retain(|(n, s)| !(n == &req.subject && *s == sub_id));
        if client.subs.len() == before {
            return Err(StanError::UnknownClient);
        }
        let mut ctx = Ctx {
            channel: &req.subject,
            chan_gen: ch.generation,
            fx: &mut self.fx,
        };
        subs::remove(&mut ctx, &mut ch.store, &mut ch.subs, sub_id, !is_close);
        Ok(req.subject)
    }

    pub(crate) fn handle_ack(&mut self, ack_inbox: &str, payload: &[u8]) {
        let Some((channel, sequence)) = proto::decode_ack(payload) else {
            return;
        };
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let Some(&sub_id) = ch.subs.by_ack_inbox.get(ack_inbox) else {
            return;
        };
        let mut ctx = Ctx {
            channel,
            chan_gen: ch.generation,
            fx: &mut self.fx,
        };
        subs::process_ack(
            &mut ctx,
            &mut ch.store,
            &mut ch.subs,
            sub_id,
            sequence,
            true,
        );
    }
}

/// Records the subscription `sr` on `ch` (nats-streaming-server's `processSub`): resumes an
/// offline durable or a durable group's shadow, or creates a record at its start position.
#[allow(clippy::too_many_arguments)]
fn add_sub<S: ChannelStore>(
    fx: &mut Fx,
    ch: &mut Channel<S>,
    channel: &str,
    sr: &SubscriptionRequest,
    start: StartPosition,
    new_id: u64,
    ack_inbox: &str,
    now_ms: u64,
    now_ns: i64,
) -> Result<u64, StanError> {
    let ss = &mut ch.subs;
    let mut qgroup = sr.q_group.clone();
    let mut durable_name = sr.durable_name.clone();
    let mut is_durable = false;
    let mut set_start = true;
    let mut existing = None;
    if !qgroup.is_empty() {
        if !durable_name.is_empty() {
            if durable_name.contains(':') {
                return Err(StanError::InvalidDurableName);
            }
            is_durable = true;
            qgroup = format!("{durable_name}:{qgroup}");
            durable_name.clear();
        }
        if let Some(g) = ss.groups.get_mut(&qgroup) {
            if let Some(shadow) = g.shadow.take() {
                g.members.push(shadow);
                existing = Some(shadow);
            }
            set_start = false;
        }
    } else if !durable_name.is_empty() {
        let key = durable_key(&sr.client_id, &durable_name);
        if let Some(&id) = ss.durables.get(&key) {
            if ss.subs.get(&id).is_some_and(|s| !s.client_id.is_empty()) {
                return Err(StanError::DuplicateDurable);
            }
            existing = Some(id);
            set_start = false;
        }
        is_durable = true;
    }
    let ack_wait_ms = u64::from(sr.ack_wait_in_secs.unsigned_abs()) * 1000;
    let max_inflight = sr.max_in_flight.unsigned_abs();
    if let Some(id) = existing {
        let Some(sub) = ss.subs.get_mut(&id) else {
            return Err(StanError::InvalidSub);
        };
        sub.ack_inbox = ack_inbox.to_string();
        sub.client_id = sr.client_id.clone();
        sub.inbox = sr.inbox.clone();
        sub.is_durable = true;
        sub.max_inflight = max_inflight;
        sub.ack_wait_ms = ack_wait_ms;
        sub.stalled = false;
        sub.failed_hb = false;
        if !sub.pending.is_empty() {
            sub.new_on_hold = true;
            if let Some(h) = sub.ack_timer.take() {
                fx.wheel.cancel(h);
            }
            let timer = Timer::AckWait {
                channel: channel.to_string(),
                chan_gen: ch.generation,
                sub: id,
            };
            sub.ack_timer = Some(fx.wheel.insert(now_ms + ack_wait_ms, timer));
        }
        if sub.qgroup.is_empty() {
            ss.psubs.push(id);
        }
        fx.journal.sub(channel, sub);
        ss.by_ack_inbox.insert(ack_inbox.to_string(), id);
        ss.by_inbox.insert(sr.inbox.clone(), id);
        return Ok(id);
    }
    let subs_max = ch.limits.subs_max;
    if subs_max > 0 && ss.subs.len() as u64 >= subs_max {
        return Err(StanError::TooManySubs);
    }
    let last_sent = if set_start {
        start_last_sent(&mut ch.store, sr, start, now_ns)?
    } else {
        0
    };
    let sub = Sub {
        id: new_id,
        client_id: sr.client_id.clone(),
        durable_client_id: sr.client_id.clone(),
        qgroup: qgroup.clone(),
        inbox: sr.inbox.clone(),
        ack_inbox: ack_inbox.to_string(),
        durable_name: durable_name.clone(),
        is_durable,
        max_inflight,
        ack_wait_ms,
        last_sent,
        pending: Default::default(),
        rdlv: HashMap::new(),
        stalled: false,
        new_on_hold: false,
        failed_hb: false,
        ack_timer: None,
    };
    if qgroup.is_empty() {
        ss.psubs.push(new_id);
        if is_durable {
            ss.durables
                .insert(durable_key(&sr.client_id, &durable_name), new_id);
        }
    } else {
        let g = ss.groups.entry(qgroup).or_default();
        g.members.push(new_id);
        g.last_sent = g.last_sent.max(last_sent);
    }
    ss.by_ack_inbox.insert(ack_inbox.to_string(), new_id);
    ss.by_inbox.insert(sr.inbox.clone(), new_id);
    fx.journal.sub(channel, &sub);
    ss.subs.insert(new_id, sub);
    Ok(new_id)
}

/// The `last_sent` a new subscription starts from (nats-streaming-server's
/// `setSubStartSequence`): delivery begins at `last_sent + 1`.
fn start_last_sent<S: ChannelStore>(
    store: &mut S,
    sr: &SubscriptionRequest,
    start: StartPosition,
    now_ns: i64,
) -> Result<u64, StanError> {
    let (first, last) = store.first_last();
    Ok(match start {
        StartPosition::NewOnly => last,
        StartPosition::LastReceived => last.saturating_sub(1),
        StartPosition::TimeDeltaStart => {
            let at = now_ns.saturating_sub(sr.start_time_delta);
            let seq = store
                .seq_from_timestamp(at)
                .map_err(|e| StanError::Store(e.to_string()))?;
            seq.saturating_sub(1)
        }
        StartPosition::SequenceStart => {
            if sr.start_sequence < first {
                first.saturating_sub(1)
            } else if sr.start_sequence > last {
                last
            } else {
                sr.start_sequence.saturating_sub(1)
            }
        }
        StartPosition::First => first.saturating_sub(1),
    })
}
