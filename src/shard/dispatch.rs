//! Where a published message goes.
//!
//! On the publishing shard: match the interest replica once (cached per subject) to learn
//! which shards have plain subscribers and which shard serves each queue group (round-robin
//! over the group's members, so shards are picked in proportion to their members); deliver
//! locally through the local subject index; queue one [`Delivery`] per remote shard. On the
//! receiving shard: match locally and deliver, picking queue members round-robin. Each queue
//! group therefore gets exactly one copy per message across all shards.
//!
//! Invariants: no allocation per message on the steady path except the outbound bytes
//! themselves; a subscription removed during a fan-out (auto-unsubscribe) gets nothing more.

use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use super::client::{Client, CloseReason, SubKey};
use super::mesh::{Delivery, Item, Msg, MsgSpans, ShardId};
use super::Shard;
use crate::account::{reply, AccountId, GLOBAL_ACCOUNT, IMPORT_HOPS_MAX};
use crate::proto::encode::{self, MsgView};
use crate::proto::trace::{self, Dir};
use crate::subject;
use crate::sublist::Match;

/// How many times a queue delivery may be passed on after its chosen member left.
const QUEUE_REROUTE_HOPS_MAX: u8 = 2;
/// Payloads at least this large are queued to subscribers as slices of the publisher's read
/// buffer rather than copied (below it, a copy costs less than the extra chunk).
pub(super) const SHARED_PAYLOAD_MIN_BYTES: usize = 16 * 1024;

/// A message on its way to local subscribers: the view the encoder reads, and the frame it
/// lies in, so that a large payload is queued as a slice of the frame instead of copied.
pub struct Outgoing<'a> {
    pub view: MsgView<'a>,
    pub frame: &'a Bytes,
    /// Offset of the payload in `frame`.
    pub payload_start: usize,
}

impl<'a> Outgoing<'a> {
    pub fn new(frame: &'a Bytes, spans: &MsgSpans) -> Self {
        Outgoing {
            view: spans.view(frame),
            frame,
            payload_start: spans.payload.start as usize,
        }
    }
}

impl Shard {
    /// Routes a message published on this shard by `from` (None: an internal publisher in
    /// `$G`) in the publisher's account, and through that account's imports and exports.
    /// Returns whether any subscriber, here or on another shard, was given it.
    pub fn publish(&self, from: Option<&Rc<Client>>, frame: &Bytes, msg: &MsgSpans) -> bool {
        let account = from.map_or(GLOBAL_ACCOUNT, |c| c.account.get());
        self.stats.in_msgs.set(self.stats.in_msgs.get() + 1);
        let mut delivered = self.route(account, from, frame, msg);
        if self.account_routes.get() {
            delivered |= self.route_across_accounts(account, from, frame, msg, 0, false);
        }
        let view = msg.view(frame);
        if view.subject.starts_with(b"$SYS.REQ.") {
            delivered |= self.system_request(account, from, &view);
        } else if view.subject.starts_with(b"$JS.API.") {
            delivered |= self.js_api_request(account, frame, msg);
        }
        delivered
    }

    /// Routes a message of the server's own in `account`, through its imports too.
    pub fn publish_in_account(&self, account: AccountId, m: &Msg) -> bool {
        self.route_in(account, None, m, 0, false)
    }

    /// Routes a message in one account only: its subscribers on this and other shards.
    fn route(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        frame: &Bytes,
        msg: &MsgSpans,
    ) -> bool {
        self.route_to(account, from, frame, msg, None)
    }

    /// A JetStream delivery: routed to the subscribers of `to` (a pull request's inbox, a
    /// push consumer's deliver subject) while the message keeps its own subject, as
    /// nats-server delivers stream messages. Never captured by a stream again.
    pub fn deliver_as(&self, account: AccountId, to: &Bytes, m: &Msg) -> bool {
        self.route_to(account, None, &m.frame, &m.spans, Some(to))
    }

    fn route_to(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        frame: &Bytes,
        msg: &MsgSpans,
        to: Option<&Bytes>,
    ) -> bool {
        let out = Outgoing::new(frame, msg);
        let view = out.view;
        let target: &[u8] = to.map_or(view.subject, |t| &t[..]);
        let origin = from.map_or(0, |c| c.cid);
        if !self.multi() {
            let m = self.match_local(account, target);
            let mut delivered = self.deliver_plain(from, &out, &m);
            for g in &m.queues {
                delivered |= self.deliver_queue(account, from, &out, &g.name, &m);
            }
            if to.is_none() {
                delivered |= self.capture(account, from, origin, &view);
            }
            return delivered;
        }
        let im = self
            .interest
            .borrow_mut()
            .table(account)
            .match_subject(target);
        if im.plain.is_empty() && im.queues.is_empty() {
            // A SUB read on a peer while this read was parsed may be on its way: take it
            // before calling the message unwanted (only this path pays the look).
            if self.apply_remote_interest() {
                return self.route_to(account, from, frame, msg, to);
            }
            return false;
        }
        // One bit per shard: `config::SHARDS_MAX` is 64.
        let mut plain_mask: u64 = 0;
        for &s in &im.plain {
            plain_mask |= 1 << s;
        }
        let mut local: Option<Rc<Match<SubKey>>> = None;
        let mut delivered = false;
        let mut picks: SmallVec<[(ShardId, &Bytes); 4]> = SmallVec::new();
        for g in &im.queues {
            let n = g.members.len();
            let start = self.next_rr(&self.rr_shard, account, &g.name);
            for i in 0..n {
                let s = g.members[(start + i) % n];
                if s != self.id {
                    picks.push((s, &g.name));
                    delivered = true;
                    break;
                }
                let m = local.get_or_insert_with(|| self.match_local(account, target));
                if self.deliver_queue(account, from, &out, &g.name, m) {
                    delivered = true;
                    break;
                }
                // Every local member was skipped (the publisher's own, echo off): try the
                // group's members on other shards.
            }
        }
        if plain_mask & (1 << self.id) != 0 {
            let m = local.get_or_insert_with(|| self.match_local(account, target));
            delivered |= self.deliver_plain(from, &out, m);
            if to.is_none() {
                delivered |= self.capture(account, from, origin, &view);
            }
        }
        let remote_plain = plain_mask & !(1 << self.id);
        for shard in 0..self.shards {
            let plain = remote_plain & (1 << shard) != 0;
            let queues: SmallVec<[Bytes; 1]> = picks
                .iter()
                .filter(|(s, _)| *s == shard)
                .map(|&(_, q)| q.clone())
                .collect();
            if plain || !queues.is_empty() {
                delivered = true;
                let d = Delivery {
                    account,
                    msg: Msg {
                        frame: frame.clone(),
                        spans: *msg,
                    },
                    plain,
                    queues,
                    hops: 0,
                    to: to.cloned(),
                    origin,
                };
                self.push_item(shard, Item::Deliver(d));
            }
        }
        delivered
    }

    /// What `account`'s imports and exports do with a message published in it: a stream
    /// export sends it on to each importer (subject rewritten), a service import into the
    /// exporter (reply replaced by an `_R_.` subject, `Nats-Request-Info` added), and an
    /// answer on such an `_R_.` subject goes back to the requester's account. All of it on
    /// the publishing shard, so the other shards see plain per-account deliveries.
    fn route_across_accounts(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        frame: &Bytes,
        msg: &MsgSpans,
        hops: u8,
        via_service: bool,
    ) -> bool {
        if hops >= IMPORT_HOPS_MAX {
            return false;
        }
        let accounts = {
            let live = self.live.borrow();
            match live.auth.accounts.get(account) {
                Some(acc) if acc.has_routes() => live.auth.accounts.clone(),
                _ => return false,
            }
        };
        let Some(acc) = accounts.get(account) else {
            return false;
        };
        let view = msg.view(frame);
        let mut delivered = false;
        let mut subject_buf = Vec::new();
        // Messages that came in through a service import are not exported again as streams
        // (nats-server, client.go processMsgResults).
        if !via_service {
            for r in &acc.stream_routes {
                if !subject::matches(&r.transform.pattern, view.subject) {
                    continue;
                }
                r.transform.apply(view.subject, &mut subject_buf);
                let m = Msg::build(
                    &subject_buf,
                    view.reply,
                    &view.payload[..view.hdr_len],
                    &view.payload[view.hdr_len..],
                );
                delivered |= self.route_in(r.to, from, &m, hops + 1, false);
            }
        }
        for r in &acc.service_routes {
            if !subject::matches(&r.transform.pattern, view.subject) {
                continue;
            }
            r.transform.apply(view.subject, &mut subject_buf);
            // The exporting account's mappings apply to the request it is given.
            if let Some(exporter) = accounts.get(r.to) {
                let mut mapped = Vec::new();
                if exporter
                    .mappings
                    .map(&subject_buf, rand::random::<u32>(), &mut mapped)
                {
                    if mapped.is_empty() {
                        continue;
                    }
                    subject_buf = mapped;
                }
            }
            let mut reply = Vec::new();
            if !view.reply.is_empty() {
                let threshold = std::time::Duration::from_millis(r.threshold_ms);
                let entry = reply::Entry {
                    importer: account,
                    exporter: r.to,
                    reply: Bytes::copy_from_slice(view.reply),
                    response: r.response,
                    threshold,
                    expires: std::time::Instant::now() + threshold,
                };
                self.service_replies.borrow_mut().insert(
                    self.id,
                    entry,
                    rand::random(),
                    &mut reply,
                );
            }
            let headers = request_info_headers(
                &view.payload[..view.hdr_len],
                &accounts.name(account),
                from.map_or(0, |c| c.rtt.get().as_nanos() as u64),
            );
            let m = Msg::build(
                &subject_buf,
                &reply,
                &headers,
                &view.payload[view.hdr_len..],
            );
            delivered |= self.route_in(r.to, from, &m, hops + 1, true);
        }
        if acc.exports_services && view.subject.starts_with(reply::REPLY_PREFIX) {
            if let Some((shard, token)) = reply::parse(account, view.subject) {
                if shard == self.id {
                    delivered |= self.service_answer(account, &token, from, &view, hops);
                } else if shard < self.shards {
                    let m = Msg {
                        frame: frame.clone(),
                        spans: *msg,
                    };
                    self.push_item(
                        shard,
                        Item::ServiceReply {
                            exporter: account,
                            msg: m,
                        },
                    );
                    delivered = true;
                }
            }
        }
        delivered
    }

    /// An answer to a request this shard passed through a service import: to the
    /// requester's account, on its original reply subject, while the entry lasts.
    pub fn service_answer(
        &self,
        exporter: AccountId,
        token: &[u8; 6],
        from: Option<&Rc<Client>>,
        view: &MsgView<'_>,
        hops: u8,
    ) -> bool {
        let ends_stream = view.payload.is_empty();
        let to = self.service_replies.borrow_mut().answer(
            exporter,
            token,
            ends_stream,
            std::time::Instant::now(),
        );
        let Some((importer, reply)) = to else {
            return false;
        };
        let m = Msg::build(
            &reply,
            view.reply,
            &view.payload[..view.hdr_len],
            &view.payload[view.hdr_len..],
        );
        self.route_in(importer, from, &m, hops + 1, false)
    }

    /// Routes a message built for another account, and then that account's own routes.
    fn route_in(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        m: &Msg,
        hops: u8,
        via_service: bool,
    ) -> bool {
        let delivered = self.route(account, from, &m.frame, &m.spans);
        // The flag is this shard's own: the check below clones Arcs every shard shares, and
        // their counters are one cache line both cores write (every JetStream ack came here).
        if !self.account_routes.get() {
            return delivered;
        }
        delivered | self.route_across_accounts(account, from, &m.frame, &m.spans, hops, via_service)
    }

    /// The server's own subscribers on this shard (JetStream's streams and acks, NATS
    /// Streaming's subjects): whether one took the message. `origin` is the publishing
    /// connection's cid (0: the server).
    fn capture(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        origin: u64,
        view: &MsgView<'_>,
    ) -> bool {
        let mut taken = false;
        if self.js_capture.get() {
            taken |= self.js_capture_msg(account, from, view);
        }
        if self.stan_capture.get() {
            taken |= self.stan_capture_msg(account, origin, view);
        }
        taken
    }

    /// Delivers a message another shard routed here.
    pub fn deliver_remote(&self, d: Delivery) {
        let out = Outgoing::new(&d.msg.frame, &d.msg.spans);
        let target: &[u8] = d.to.as_ref().map_or(out.view.subject, |t| &t[..]);
        let m = self.match_local(d.account, target);
        if d.plain {
            self.deliver_plain(None, &out, &m);
            if d.to.is_none() {
                self.capture(d.account, None, d.origin, &out.view);
            }
        }
        for q in &d.queues {
            if !self.deliver_queue(d.account, None, &out, q, &m) && d.hops < QUEUE_REROUTE_HOPS_MAX
            {
                self.reroute_queue(&d, q);
            }
        }
    }

    /// The member picked here left before the message arrived: pass it to another shard
    /// that still has members of the group.
    fn reroute_queue(&self, d: &Delivery, q: &Bytes) {
        let im = self
            .interest
            .borrow_mut()
            .table(d.account)
            .match_subject(d.to.as_deref().unwrap_or(d.msg.view().subject));
        let Some(g) = im.queues.iter().find(|g| g.name == *q) else {
            return;
        };
        let others: SmallVec<[ShardId; 8]> = g
            .members
            .iter()
            .copied()
            .filter(|&s| s != self.id)
            .collect();
        if others.is_empty() {
            return;
        }
        let to = others[self.next_rr(&self.rr_shard, d.account, q) % others.len()];
        let mut queues = SmallVec::new();
        queues.push(q.clone());
        let fwd = Delivery {
            account: d.account,
            msg: d.msg.clone(),
            plain: false,
            queues,
            hops: d.hops + 1,
            to: d.to.clone(),
            origin: d.origin,
        };
        self.push_item(to, Item::Deliver(fwd));
    }

    pub fn match_local(&self, account: AccountId, subject: &[u8]) -> Rc<Match<SubKey>> {
        self.with_sublist(account, |l| l.match_subject(subject))
    }

    fn next_rr(
        &self,
        maps: &std::cell::RefCell<Vec<crate::sublist::FastMap<Bytes, u32>>>,
        account: AccountId,
        name: &Bytes,
    ) -> usize {
        let mut maps = maps.borrow_mut();
        let i = account as usize;
        if maps.len() <= i {
            maps.resize_with(i + 1, Default::default);
        }
        let map = &mut maps[i];
        if let Some(n) = map.get_mut(&name[..]) {
            *n = n.wrapping_add(1);
            return *n as usize;
        }
        map.insert(name.clone(), 0);
        0
    }

    /// Every plain subscription in `m`; returns whether any got the message.
    fn deliver_plain(
        &self,
        from: Option<&Rc<Client>>,
        msg: &Outgoing<'_>,
        m: &Match<SubKey>,
    ) -> bool {
        let mut delivered = false;
        let mut expired: SmallVec<[SubKey; 4]> = SmallVec::new();
        for &k in &m.plain {
            if let Some(done) = self.deliver_to(k, from, msg) {
                delivered = true;
                if done {
                    expired.push(k);
                }
            }
        }
        for k in expired {
            self.remove_sub(k);
        }
        delivered
    }

    /// One member of queue group `name` in `m`, round-robin; false if none could take it.
    fn deliver_queue(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        msg: &Outgoing<'_>,
        name: &Bytes,
        m: &Match<SubKey>,
    ) -> bool {
        let Some(g) = m.queues.iter().find(|g| g.name == *name) else {
            return false;
        };
        let n = g.members.len();
        let start = self.next_rr(&self.rr_member, account, name);
        for i in 0..n {
            let k = g.members[(start + i) % n];
            if let Some(done) = self.deliver_to(k, from, msg) {
                if done {
                    self.remove_sub(k);
                }
                return true;
            }
        }
        false
    }

    /// Queues the message for subscription `k`. None if skipped (gone, closing, own message
    /// with echo off, slow consumer); Some(true) if that delivery reached the auto-unsubscribe
    /// limit.
    fn deliver_to(&self, k: SubKey, from: Option<&Rc<Client>>, msg: &Outgoing<'_>) -> Option<bool> {
        let view = &msg.view;
        let mut subs = self.subs.borrow_mut();
        let s = subs.get_mut(k)?;
        let c = &s.client;
        if c.is_closing() {
            return None;
        }
        if let Some(f) = from {
            if !f.echo.get() && Rc::ptr_eq(c, f) {
                return None;
            }
        }
        if c.perms_on_delivery.get() {
            let mut perms = c.perms.borrow_mut();
            if let Some(p) = perms.as_mut() {
                // A wildcard subscription may cover subjects the user may not read.
                if !p.delivery_allowed(view.subject, s.queue.as_deref()) {
                    return None;
                }
                // allow_responses: the receiver may answer this message's reply subject.
                if !view.reply.is_empty() {
                    p.on_reply_delivered(view.reply, std::time::Instant::now());
                }
            }
        }
        {
            let need = view.encoded_len_max(s.sid.len());
            let mut out = c.out.borrow_mut();
            let max_pending_bytes = self.opts.borrow().limits.max_pending_bytes;
            if out.len() + need > max_pending_bytes {
                drop(out);
                self.stats
                    .slow_consumers
                    .set(self.stats.slow_consumers.get() + 1);
                log::info!(
                    "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                    c.tag(),
                    max_pending_bytes
                );
                c.close(CloseReason::SlowConsumerPendingBytes, false);
                return None;
            }
            if view.payload.len() < SHARED_PAYLOAD_MIN_BYTES {
                out.append(&self.chunks, need, |b| {
                    encode::msg(b, view, &s.sid, c.headers.get())
                });
            } else {
                let head = need - view.payload.len();
                let skip = out.append(&self.chunks, head, |b| {
                    encode::msg_head(b, view, &s.sid, c.headers.get())
                });
                let start = msg.payload_start + skip;
                out.push_shared(msg.frame.slice(start..start + view.payload.len() - skip));
                out.append(&self.chunks, 2, |b| b.put_slice(b"\r\n"));
            }
            if out.len() > self.stall_mark_bytes() && !c.stalled.replace(true) {
                self.stalled.borrow_mut().push(c.clone());
            }
        }
        if log::log_enabled!(log::Level::Trace) {
            let mut head = BytesMut::new();
            let skip = encode::msg_head(&mut head, view, &s.sid, c.headers.get());
            self.trace_out_frame(c, &head, &view.payload[skip..]);
        }
        c.out_msgs.set(c.out_msgs.get() + 1);
        c.out_bytes
            .set(c.out_bytes.get() + view.payload.len() as u64);
        self.stats.out_msgs.set(self.stats.out_msgs.get() + 1);
        self.stats
            .out_bytes
            .set(self.stats.out_bytes.get() + view.payload.len() as u64);
        self.mark_dirty(c);
        s.delivered += 1;
        let epoch = c.drain_epoch.get();
        if s.queued_epoch != epoch {
            s.queued_epoch = epoch;
            s.queued = 0;
        }
        s.queued += 1;
        Some(s.max_msgs > 0 && s.delivered >= s.max_msgs)
    }

    /// The 503 no-responders status, to the requester only, on its own subscription that
    /// matches the reply subject (reference §8); nothing if it has none.
    pub fn send_no_responders(&self, c: &Rc<Client>, view: &MsgView<'_>) {
        let m = self.match_local(c.account.get(), view.reply);
        let subs = self.subs.borrow();
        let Some(s) = m
            .plain
            .iter()
            .filter_map(|&k| subs.get(k))
            .find(|s| Rc::ptr_eq(&s.client, c))
        else {
            return;
        };
        let need = encode::no_responders_len_max(view.reply, &s.sid, view.subject);
        self.queue_out(c, need, |b| {
            encode::no_responders(b, view.reply, &s.sid, view.subject)
        });
        if log::log_enabled!(log::Level::Trace) {
            let mut frame = BytesMut::new();
            encode::no_responders(&mut frame, view.reply, &s.sid, view.subject);
            let head_len = memchr::memchr(b'\n', &frame).map_or(frame.len(), |i| i + 1);
            let (head, rest) = frame.split_at(head_len);
            self.trace_out_frame(c, head, rest.strip_suffix(b"\r\n").unwrap_or(rest));
        }
    }

    /// `-V`: traces a delivery as nats-server does, its control line (`head`, CRLF included)
    /// and then its payload.
    fn trace_out_frame(&self, c: &Client, head: &[u8], payload: &[u8]) {
        let line = head.strip_suffix(b"\r\n").unwrap_or(head);
        c.trace(|| trace::op(Dir::Out, &String::from_utf8_lossy(line)));
        let max = self.opts.borrow().logging.max_traced_msg_len_bytes;
        c.trace(|| trace::payload(Dir::Out, payload, max));
    }

    /// Ends subscription `k`: out of the client's sid map, the local index, and, when its
    /// subject's interest ends on this shard, every peer's replica.
    pub fn remove_sub(&self, k: SubKey) {
        let Some(s) = self.subs.borrow_mut().try_remove(k) else {
            return;
        };
        s.client.subs.borrow_mut().remove(&s.sid);
        self.js_interest_changed();
        s.client.trace(|| {
            let sid = String::from_utf8_lossy(&s.sid);
            trace::op(Dir::Internal, &format!("DELSUB {sid}"))
        });
        self.with_sublist(s.account, |l| l.remove(&s.subject, s.queue.as_deref(), k));
        if !self.service_replies.borrow().is_empty() {
            self.service_replies
                .borrow_mut()
                .unsubscribed(s.account, &s.subject);
        }
        if self.multi() {
            self.announce_remove(s.account, &s.subject, s.queue.as_ref());
        }
    }

    /// Records a local interest in the cross-shard table and sends the change, if any.
    pub fn announce_add(&self, account: AccountId, subject: &Bytes, queue: Option<&Bytes>) {
        let ch = self
            .interest
            .borrow_mut()
            .local_add(account, subject, queue);
        if let Some(ch) = ch {
            self.broadcast_interest(ch);
        }
    }

    /// Records the end of a local interest and sends the change, if any.
    pub fn announce_remove(&self, account: AccountId, subject: &Bytes, queue: Option<&Bytes>) {
        let ch = self
            .interest
            .borrow_mut()
            .local_remove(account, subject, queue);
        if let Some(ch) = ch {
            self.broadcast_interest(ch);
        }
    }

    /// Sends an interest change of this shard to every peer. A new interest leaves at once,
    /// not at the next flush: the rest of the read that holds the SUB (its other ops, their
    /// deliveries, a wake-up system call) would otherwise delay it by tens of microseconds,
    /// while a PUB read on a peer at the same moment is routed already. Removals are in no
    /// hurry (a peer that learns late forwards a message this shard drops) and wait for the
    /// flush, or for the next addition, which takes them along ahead of itself: a peer applies
    /// a shard's changes in the order they were made.
    pub fn broadcast_interest(&self, ch: super::mesh::InterestChange) {
        let Some(links) = &self.links else { return };
        let mut outbox = self.outbox.borrow_mut();
        for to in (0..self.shards).filter(|&to| to != self.id) {
            let o = &mut outbox[to];
            o.interest.push(ch.clone());
            if ch.add {
                links.send_interest(self.id, to, std::mem::take(&mut o.interest));
            }
        }
    }

    /// Applies the interest changes every peer has sent (when some peer says it sent any:
    /// one atomic look otherwise). A reader calls this before it routes what it read, so a
    /// SUB parsed on another shard before this read counts for it; the acks go out at the
    /// next flush. Returns whether there were any.
    pub fn apply_remote_interest(&self) -> bool {
        let Some(links) = &self.links else {
            return false;
        };
        if !links.take_interest_fresh(self.id) {
            return false;
        }
        for from in (0..self.shards).filter(|&from| from != self.id) {
            self.apply_interest_from(from);
        }
        true
    }

    /// Applies what peer `from` has sent of interest changes and queues their ack. The links
    /// task calls this before each batch of `from` it applies: `from` pushed the changes of
    /// a flush before that flush's batch, so a delivery is never applied before an interest
    /// change its sender made before it.
    pub fn apply_interest_from(&self, from: ShardId) {
        let Some(links) = &self.links else { return };
        let mut epoch = None;
        while let Some(changes) = links.pop_interest(from, self.id) {
            let mut interest = self.interest.borrow_mut();
            for ch in &changes {
                interest.apply_remote(from, ch);
                epoch = Some(ch.epoch);
            }
        }
        if let Some(epoch) = epoch {
            self.js_interest_changed();
            self.push_item(from, Item::InterestAck { epoch });
        }
    }

    /// Applies one item from peer `from`.
    pub fn handle_item(&self, from: ShardId, item: Item) {
        match item {
            Item::Deliver(d) => self.deliver_remote(d),
            Item::InterestAck { epoch } => {
                self.interest.borrow_mut().record_ack(from, epoch);
                self.interest_acked.notify();
            }
            Item::JsApi { account, msg } => self.js_api(account, &msg.view()),
            Item::ConnClosed { cid } => self.stan_connection_closed(cid),
            Item::ServiceReply { exporter, msg } => {
                if let Some((_, token)) = reply::parse(exporter, msg.view().subject) {
                    self.service_answer(exporter, &token, None, &msg.view(), 0);
                    self.flush();
                }
            }
        }
    }
}

/// The header block a request carries into the exporting account: the requester's own
/// headers without any `Nats-Request-Info` it set (a client cannot spoof it), and then the
/// server's, `{"acc":"B","rtt":N}` (rtt in ns, left out when 0), as nats-server adds it.
fn request_info_headers(headers: &[u8], account: &str, rtt_ns: u64) -> Vec<u8> {
    const NAME: &[u8] = b"nats-request-info:";
    let mut out = Vec::with_capacity(headers.len() + 64);
    if headers.is_empty() {
        out.extend_from_slice(b"NATS/1.0\r\n");
    } else {
        let body = headers.strip_suffix(b"\r\n").unwrap_or(headers);
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if i > 0 && line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
                continue;
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    let acc = serde_json::to_string(account).unwrap_or_else(|_| "\"\"".into());
    out.extend_from_slice(b"Nats-Request-Info: {\"acc\":");
    out.extend_from_slice(acc.as_bytes());
    if rtt_ns > 0 {
        out.extend_from_slice(b",\"rtt\":");
        out.extend_from_slice(itoa::Buffer::new().format(rtt_ns).as_bytes());
    }
    out.extend_from_slice(b"}\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::request_info_headers;

    #[test]
    fn request_info_is_added_last_and_replaces_a_client_copy() {
        let h = request_info_headers(b"", "B", 0);
        assert_eq!(h, b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\n");
        let h = request_info_headers(
            b"NATS/1.0\r\nNats-Request-Info: {\"acc\":\"FAKE\"}\r\nX-Mine: 1\r\n\r\n",
            "B",
            833140,
        );
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "NATS/1.0\r\nX-Mine: 1\r\nNats-Request-Info: {\"acc\":\"B\",\"rtt\":833140}\r\n\r\n"
        );
    }
}
