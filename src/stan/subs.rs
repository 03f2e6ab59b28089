//! Subscription state of one channel and the delivery rules over it: plain and durable
//! subscriptions, queue groups (their shared `last_sent`, redelivery counts and shadow), the
//! pending set of each subscription with its expiries, MaxInflight stalls, ack-wait
//! redelivery and the hand-over of a leaving queue member's pending messages.
//!
//! Behaviour follows nats-streaming-server's `sendMsgToSub`, `findBestQueueSub`,
//! `performAckExpirationRedelivery`, `processAck` and `subStore.Remove`, read, not copied.
//! Differences, each on purpose:
//! * a pending message's expiry is kept by sequence and in expiry order ([`Pending`]), so a
//!   timer fire touches only what expired, never the whole pending set;
//! * a re-sent message whose next expiry would already be past gets `now + ack_wait`, so a
//!   durable that was offline for long is not redelivered on every fire;
//! * a leaving member's messages are redelivered to the others at once, in the same step, not
//!   after 100 ms.

use std::collections::HashMap;

use super::channel::{ChannelMsg, ChannelStore};
use super::limits::{MOVED_EXPIRY_BACKDATE_MS, REDELIVERY_SLACK_MS};
use super::pending::Pending;
use super::proto::MsgProtoRef;
use super::state::{Ev, SubDel};
use super::{Fx, Timer};
use crate::wheel::TimerHandle;

/// One subscription record: active, an offline durable (`client_id` empty) or a durable
/// queue group's shadow.
#[derive(Debug)]
pub(crate) struct Sub {
    pub id: u64,
    /// Empty when offline (closed durable, shadow).
    pub client_id: String,
    /// The client ID in a plain durable's key, kept while it is offline.
    pub durable_client_id: String,
    /// The group; for a durable queue group `durable:queue`.
    pub qgroup: String,
    pub inbox: String,
    pub ack_inbox: String,
    /// Plain durables only (a durable queue member's name is in `qgroup`).
    pub durable_name: String,
    pub is_durable: bool,
    pub max_inflight: u32,
    pub ack_wait_ms: u64,
    pub last_sent: u64,
    /// seq → expiry (ms on the core's clock), also in expiry order.
    pub pending: Pending,
    /// Redelivery counts of a plain subscription (a queue group keeps its own).
    pub rdlv: HashMap<u64, u32>,
    pub stalled: bool,
    /// A resumed durable redelivers its pending messages before anything new.
    pub new_on_hold: bool,
    /// The client missed a heartbeat or lost its NATS connection: no redelivery to a plain
    /// sub, last choice in a queue group.
    pub failed_hb: bool,
    pub ack_timer: Option<TimerHandle>,
}

impl Sub {
    pub fn durable_key(&self) -> Option<String> {
        (!self.durable_name.is_empty() && self.qgroup.is_empty())
            .then(|| durable_key(&self.durable_client_id, &self.durable_name))
    }

    fn add_pending(&mut self, seq: u64, expiry_ms: u64) {
        self.pending.insert(seq, expiry_ms);
    }

    /// Removes `seq` from the pending set; whether it was there.
    pub fn remove_pending(&mut self, seq: u64) -> bool {
        self.pending.remove(&seq).is_some()
    }
}

/// The key of a plain durable within its channel (nats-streaming-server's is
/// `clientID-channel-durable`; the channel is implied here).
pub(crate) fn durable_key(client_id: &str, durable_name: &str) -> String {
    format!("{client_id}\u{0}{durable_name}")
}

#[derive(Debug, Default)]
pub(crate) struct QueueGroup {
    /// Active members, in selection order (the chosen first member rotates to the end).
    pub members: Vec<u64>,
    pub last_sent: u64,
    /// A durable group whose last member left by close keeps its state here.
    pub shadow: Option<u64>,
    pub rdlv: HashMap<u64, u32>,
}

/// All subscription records of one channel.
#[derive(Debug, Default)]
pub(crate) struct SubStore {
    pub subs: HashMap<u64, Sub>,
    /// Active plain subscriptions (durable or not), in creation order.
    pub psubs: Vec<u64>,
    pub groups: HashMap<String, QueueGroup>,
    /// Plain durables, online or offline, by [`durable_key`].
    pub durables: HashMap<String, u64>,
    pub by_ack_inbox: HashMap<String, u64>,
    pub by_inbox: HashMap<String, u64>,
}

impl SubStore {
    /// Any subscription that is not offline (offline durables and shadows do not count).
    pub fn has_active(&self) -> bool {
        !self.psubs.is_empty() || self.groups.values().any(|g| !g.members.is_empty())
    }
}

/// The channel-side context of a delivery: which channel, for timers and MsgProto.
pub(crate) struct Ctx<'a> {
    pub channel: &'a str,
    pub chan_gen: u64,
    pub fx: &'a mut Fx,
}

impl Ctx<'_> {
    fn arm_ack_timer(&mut self, sub: &mut Sub, at_ms: u64) {
        if let Some(h) = sub.ack_timer.take() {
            self.fx.wheel.cancel(h);
        }
        let timer = Timer::AckWait {
            channel: self.channel.to_string(),
            chan_gen: self.chan_gen,
            sub: sub.id,
        };
        sub.ack_timer = Some(self.fx.wheel.insert(at_ms, timer));
    }
}

/// Sends `msg` to `sub` (nats-streaming-server's `sendMsgToSub`): returns `(sent, more)`,
/// `more` false when the sub just stalled. `force` (redeliveries) ignores MaxInflight.
pub(crate) fn send_to_sub(
    ctx: &mut Ctx<'_>,
    sub: &mut Sub,
    group_rdlv: Option<&mut HashMap<u64, u32>>,
    msg: &ChannelMsg,
    redelivered: bool,
    force: bool,
) -> (bool, bool) {
    if sub.client_id.is_empty() || (sub.new_on_hold && !redelivered) {
        return (false, false);
    }
    let pending = sub.pending.len() as u64;
    if !force && pending >= u64::from(sub.max_inflight) {
        sub.stalled = true;
        return (false, false);
    }
    let mut redelivery_count = 0;
    if redelivered {
        let counts = group_rdlv.unwrap_or(&mut sub.rdlv);
        let c = counts.entry(msg.seq).or_insert(0);
        *c = c.wrapping_add(1).max(1);
        redelivery_count = *c;
    }
    let encoded = MsgProtoRef {
        sequence: msg.seq,
        subject: ctx.channel,
        reply: &String::from_utf8_lossy(&msg.reply),
        data: &msg.data,
        timestamp: msg.ts_ns,
        redelivered,
        redelivery_count,
    }
    .encode();
    ctx.fx.stats.out_msgs += 1;
    ctx.fx.stats.out_bytes += encoded.len() as u64;
    ctx.fx.publish(&sub.inbox, "", encoded);
    let now = ctx.fx.now_ms;
    if sub.ack_timer.is_none() {
        ctx.arm_ack_timer(sub, now + sub.ack_wait_ms);
    }
    if let Some(&old) = sub.pending.get(&msg.seq) {
        let mut next = old.saturating_add(sub.ack_wait_ms);
        if next <= now {
            next = now + sub.ack_wait_ms;
        }
        sub.add_pending(msg.seq, next);
        return (true, true);
    }
    sub.last_sent = sub.last_sent.max(msg.seq);
    sub.add_pending(msg.seq, now + sub.ack_wait_ms);
    ctx.fx.journal.pending(ctx.channel, sub, msg.seq, true);
    if !force && pending + 1 == u64::from(sub.max_inflight) {
        sub.stalled = true;
        return (true, false);
    }
    (true, true)
}

/// nats-streaming-server's `findBestQueueSub`: the member with the fewest pending among
/// those neither stalled nor failing heartbeats, else the first; a chosen first member moves
/// to the end.
fn best_member(subs: &HashMap<u64, Sub>, members: &mut [u64]) -> Option<u64> {
    let mut best: Option<(usize, u64)> = None;
    for &id in members.iter() {
        let Some(s) = subs.get(&id) else { continue };
        if !s.stalled && !s.failed_hb && best.is_none_or(|(n, _)| s.pending.len() < n) {
            best = Some((s.pending.len(), id));
        }
    }
    let pick = best
        .map(|(_, id)| id)
        .or_else(|| members.first().copied())?;
    if members.len() > 1 && members[0] == pick {
        members.rotate_left(1);
    }
    Some(pick)
}

/// Sends `msg` to the best member of `group`; `(member, sent)`.
fn send_to_group(
    ctx: &mut Ctx<'_>,
    ss: &mut SubStore,
    group: &str,
    msg: &ChannelMsg,
    redelivered: bool,
    force: bool,
) -> Option<(u64, bool)> {
    let g = ss.groups.get_mut(group)?;
    let pick = best_member(&ss.subs, &mut g.members)?;
    let sub = ss.subs.get_mut(&pick)?;
    let (sent, _) = send_to_sub(ctx, sub, Some(&mut g.rdlv), msg, redelivered, force);
    if sent {
        // `msg.seq` too: delivery always moves forward, even onto a seq already pending.
        g.last_sent = g.last_sent.max(sub.last_sent).max(msg.seq);
    }
    Some((pick, sent))
}

/// The next stored message at or after `*next`, moving `*next` and `*last_sent` past what the
/// limits dropped (nats-streaming-server's `getNextMsg`).
fn next_msg<S: ChannelStore>(
    store: &mut S,
    next: &mut u64,
    last_sent: &mut u64,
) -> Option<ChannelMsg> {
    loop {
        if let Ok(Some(m)) = store.lookup(*next) {
            return Some(m);
        }
        let (first, last) = store.first_last();
        if *next >= last {
            return None;
        }
        if *next < first {
            *next = first;
            *last_sent = first - 1;
        } else {
            *next += 1;
            *last_sent += 1;
        }
    }
}

/// Sends what a plain subscription may take now.
pub(crate) fn send_available<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    sub_id: u64,
) {
    let Some(sub) = ss.subs.get_mut(&sub_id) else {
        return;
    };
    while !sub.stalled {
        let mut next = sub.last_sent + 1;
        let Some(m) = next_msg(store, &mut next, &mut sub.last_sent) else {
            break;
        };
        let (sent, more) = send_to_sub(ctx, sub, None, &m, false, false);
        sub.last_sent = sub.last_sent.max(if sent { m.seq } else { 0 });
        if !sent || !more {
            break;
        }
    }
}

/// Sends what a queue group may take now.
pub(crate) fn send_available_to_group<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    group: &str,
) {
    loop {
        let Some(g) = ss.groups.get_mut(group) else {
            return;
        };
        let members = &g.members;
        let all_stalled = members
            .iter()
            .all(|id| ss.subs.get(id).is_none_or(|s| s.stalled || s.new_on_hold));
        if members.is_empty() || all_stalled {
            return;
        }
        let mut next = g.last_sent + 1;
        let Some(m) = next_msg(store, &mut next, &mut g.last_sent) else {
            return;
        };
        match send_to_group(ctx, ss, group, &m, false, false) {
            Some((_, true)) => {}
            _ => return,
        }
    }
}

/// Sends new messages to every active subscription of the channel.
pub(crate) fn deliver_all<S: ChannelStore>(ctx: &mut Ctx<'_>, store: &mut S, ss: &mut SubStore) {
    for i in 0..ss.psubs.len() {
        let id = ss.psubs[i];
        send_available(ctx, store, ss, id);
    }
    let groups: Vec<String> = ss.groups.keys().cloned().collect();
    for g in groups {
        send_available_to_group(ctx, store, ss, &g);
    }
}

/// An ack of `seq` on `sub_id` (`from_user`: sent by the client, not implied by a move).
pub(crate) fn process_ack<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    sub_id: u64,
    seq: u64,
    from_user: bool,
) {
    let Some(sub) = ss.subs.get_mut(&sub_id) else {
        return;
    };
    let group = sub.qgroup.clone();
    if sub.remove_pending(seq) {
        ctx.fx.journal.pending(ctx.channel, sub, seq, false);
        if from_user {
            match ss.groups.get_mut(&group) {
                Some(g) if !group.is_empty() => {
                    g.rdlv.remove(&seq);
                }
                _ => {
                    sub.rdlv.remove(&seq);
                }
            }
        }
    } else if !group.is_empty() && from_user {
        // Moved to another member since: clear it there.
        if let Some(g) = ss.groups.get_mut(&group) {
            for &m in &g.members {
                if m == sub_id {
                    continue;
                }
                if let Some(other) = ss.subs.get_mut(&m) {
                    if other.remove_pending(seq) {
                        ctx.fx.journal.pending(ctx.channel, other, seq, false);
                        g.rdlv.remove(&seq);
                        if other.pending.is_empty() {
                            if let Some(h) = other.ack_timer.take() {
                                ctx.fx.wheel.cancel(h);
                            }
                        }
                        break;
                    }
                }
            }
        }
    }
    let Some(sub) = ss.subs.get_mut(&sub_id) else {
        return;
    };
    if sub.pending.is_empty() {
        if let Some(h) = sub.ack_timer.take() {
            ctx.fx.wheel.cancel(h);
        }
    }
    if sub.stalled && (sub.pending.len() as u64) < u64::from(sub.max_inflight) {
        sub.stalled = false;
        if group.is_empty() {
            send_available(ctx, store, ss, sub_id);
        } else {
            send_available_to_group(ctx, store, ss, &group);
        }
    }
}

/// The ack-wait timer of `sub_id` fired: redeliver what expired (nats-streaming-server's
/// `performAckExpirationRedelivery`), then re-arm for the next expiry.
pub(crate) fn ack_expired<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    sub_id: u64,
) {
    let now = ctx.fx.now_ms;
    let Some(sub) = ss.subs.get_mut(&sub_id) else {
        return;
    };
    // From the timer this handle has fired (the cancel is a no-op); called directly (a
    // queue hand-over) it is still armed and is replaced below.
    if let Some(h) = sub.ack_timer.take() {
        ctx.fx.wheel.cancel(h);
    }
    if sub.pending.is_empty() || sub.client_id.is_empty() {
        return;
    }
    let group = sub.qgroup.clone();
    if group.is_empty() && sub.failed_hb {
        let at = now + sub.ack_wait_ms;
        ctx.arm_ack_timer(sub, at);
        return;
    }
    let limit = now + REDELIVERY_SLACK_MS;
    let due: Vec<u64> = sub
        .pending
        .by_expiry()
        .take_while(|(exp, _)| *exp <= limit)
        .map(|(_, seq)| seq)
        .collect();
    for seq in due {
        let msg = match store.lookup(seq) {
            Ok(Some(m)) => m,
            // Dropped by a limit: implicitly acked, so it never comes back.
            Ok(None) => {
                process_ack(ctx, store, ss, sub_id, seq, false);
                continue;
            }
            Err(_) => continue,
        };
        let still = ss
            .subs
            .get(&sub_id)
            .is_some_and(|s| s.pending.contains_key(&seq));
        if !still {
            continue;
        }
        if group.is_empty() {
            if let Some(sub) = ss.subs.get_mut(&sub_id) {
                send_to_sub(ctx, sub, None, &msg, true, true);
            }
        } else {
            match send_to_group(ctx, ss, &group, &msg, true, true) {
                Some((pick, true)) if pick != sub_id => {
                    process_ack(ctx, store, ss, sub_id, seq, false);
                }
                Some(_) => {}
                None => break,
            }
        }
    }
    rearm(ctx, ss, sub_id);
}

/// Arms the ack timer of `sub_id` at its earliest expiry (`now + ack_wait` if that is past).
fn rearm(ctx: &mut Ctx<'_>, ss: &mut SubStore, sub_id: u64) {
    let now = ctx.fx.now_ms;
    let Some(sub) = ss.subs.get_mut(&sub_id) else {
        return;
    };
    let Some(next) = sub.pending.earliest() else {
        if let Some(h) = sub.ack_timer.take() {
            ctx.fx.wheel.cancel(h);
        }
        return;
    };
    let at = if next <= now {
        now + sub.ack_wait_ms
    } else {
        next
    };
    ctx.arm_ack_timer(sub, at);
}

/// Redelivers every pending message of a resumed durable (or a member that took over a
/// shadow), in sequence order, forced, then lets new messages flow.
pub(crate) fn durable_redelivery<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    sub_id: u64,
) {
    let Some(sub) = ss.subs.get(&sub_id) else {
        return;
    };
    let seqs: Vec<u64> = sub.pending.keys().copied().collect();
    let group = sub.qgroup.clone();
    for seq in seqs {
        let msg = match store.lookup(seq) {
            Ok(Some(m)) => m,
            Ok(None) => {
                process_ack(ctx, store, ss, sub_id, seq, false);
                continue;
            }
            Err(_) => continue,
        };
        let rdlv = ss.groups.get_mut(&group).map(|g| &mut g.rdlv);
        if let Some(sub) = ss.subs.get_mut(&sub_id) {
            if sub.pending.contains_key(&seq) {
                send_to_sub(ctx, sub, rdlv, &msg, true, true);
            }
        }
    }
    if let Some(sub) = ss.subs.get_mut(&sub_id) {
        sub.new_on_hold = false;
    }
}

/// What [`remove`] did, for the caller's bookkeeping.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    /// The record is gone (not kept offline or as a shadow).
    pub deleted: bool,
}

/// Takes `sub_id` out of service (nats-streaming-server's `subStore.Remove`). `unsubscribe`:
/// an explicit unsubscribe, which forgets durable state; otherwise a close, which keeps a
/// plain durable offline and makes the last member of a durable group its shadow. A queue
/// member that leaves others behind hands them its pending messages, redelivered at once.
pub(crate) fn remove<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    sub_id: u64,
    unsubscribe: bool,
) -> Removed {
    if !ss.subs.contains_key(&sub_id) {
        return Removed::default();
    }
    let r = take_out(ctx, store, ss, sub_id, unsubscribe);
    match ss.subs.get(&sub_id) {
        Some(s) if !r.deleted => ctx.fx.journal.sub(ctx.channel, s),
        _ => ctx.fx.journal.event(|| {
            Ev::SubDel(SubDel {
                channel: ctx.channel.to_string(),
                id: sub_id,
            })
        }),
    }
    r
}

fn take_out<S: ChannelStore>(
    ctx: &mut Ctx<'_>,
    store: &mut S,
    ss: &mut SubStore,
    sub_id: u64,
    unsubscribe: bool,
) -> Removed {
    let Some(sub) = ss.subs.get_mut(&sub_id) else {
        return Removed::default();
    };
    sub.client_id.clear();
    sub.stalled = false;
    if let Some(h) = sub.ack_timer.take() {
        ctx.fx.wheel.cancel(h);
    }
    let (ack_inbox, inbox) = (sub.ack_inbox.clone(), sub.inbox.clone());
    let durable_key = sub.durable_key();
    let (is_durable, group) = (sub.is_durable, sub.qgroup.clone());
    if ss.by_ack_inbox.get(&ack_inbox) == Some(&sub_id) {
        ss.by_ack_inbox.remove(&ack_inbox);
    }
    if ss.by_inbox.get(&inbox) == Some(&sub_id) {
        ss.by_inbox.remove(&inbox);
    }
    if group.is_empty() {
        ss.psubs.retain(|&id| id != sub_id);
        if is_durable && !unsubscribe {
            return Removed { deleted: false };
        }
        if let Some(key) = durable_key {
            ss.durables.remove(&key);
        }
        ss.subs.remove(&sub_id);
        return Removed { deleted: true };
    }
    let Some(g) = ss.groups.get_mut(&group) else {
        ss.subs.remove(&sub_id);
        return Removed { deleted: true };
    };
    g.members.retain(|&id| id != sub_id);
    if g.members.is_empty() {
        if !is_durable || unsubscribe {
            ss.groups.remove(&group);
            ss.subs.remove(&sub_id);
            return Removed { deleted: true };
        }
        let last_sent = g.last_sent;
        g.shadow = Some(sub_id);
        if let Some(s) = ss.subs.get_mut(&sub_id) {
            s.last_sent = last_sent;
        }
        return Removed { deleted: false };
    }
    // Hand the pending messages round-robin, in expiry order, to the remaining members.
    let Some(leaver) = ss.subs.remove(&sub_id) else {
        return Removed { deleted: true };
    };
    let members = g.members.clone();
    let expiry = ctx.fx.now_ms.saturating_sub(MOVED_EXPIRY_BACKDATE_MS);
    let mut receivers: Vec<u64> = Vec::new();
    for (i, (_, seq)) in leaver.pending.by_expiry().enumerate() {
        let to = members[i % members.len()];
        if let Some(r) = ss.subs.get_mut(&to) {
            r.add_pending(seq, expiry);
            r.last_sent = r.last_sent.max(seq);
            ctx.fx.journal.pending(ctx.channel, r, seq, true);
            if !receivers.contains(&to) {
                receivers.push(to);
            }
        }
    }
    for to in receivers {
        ack_expired(ctx, store, ss, to);
    }
    Removed { deleted: true }
}
