//! What each client op does to the shard, given the op's spans into the read frame.
//!
//! Sans-io: nothing here reads a socket or a clock. Responses go into the client's outbound
//! buffer; the reader task (`io.rs`) flushes once per read batch. Error handling follows
//! nats-server (reference §1.1 and §5): lexical errors send `-ERR` and close; argument errors
//! close silently; semantic errors send `-ERR` and keep the connection.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::client::{Client, CloseReason};
use super::mesh::MsgSpans;
use super::{AnnouncedSub, Shard, Subscription};
use crate::auth::{Authenticator, Credentials, UserIdentity};
use crate::proto::encode;
use crate::proto::errors::ClientError;
use crate::proto::info::{
    ConnectError, NamedCredential, ServerInfo, NATRIX_VERSION, NATS_FEATURE_VERSION,
};
use crate::proto::parser::{Op, ParseError, Span};
use crate::proto::trace::{self, Dir};
use crate::subject;

/// What the reader does after an op.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stop reading: the connection is closing.
    Close,
    /// A PING whose PONG must wait until this client's subscriptions are visible on every
    /// shard; the reader waits, then calls [`Shard::pong`].
    PongAfterInterest,
}

impl Shard {
    /// Applies one parsed op. `frame` holds every byte the op's spans point into.
    pub fn process_op(&self, c: &Rc<Client>, op: Op, frame: &Bytes) -> Flow {
        let f = &frame[..];
        // What counts as activity for the pinger: anything but a PONG (nats-server keeps
        // pinging a client that only answers its PINGs).
        if !matches!(op, Op::Pong) {
            c.active.set(true);
        }
        if !c.connected.get() && !matches!(op, Op::Connect { .. }) && self.auth().required() {
            // With auth, the first op must be CONNECT (nats-server).
            return self.send_err(c, &ClientError::AuthorizationViolation);
        }
        match op {
            Op::Pub {
                subject,
                reply,
                size_token,
                payload,
            } => {
                let msg = MsgSpans::of_pub(subject, reply, size_token, payload);
                self.client_publish(c, frame, &msg)
            }
            Op::Hpub {
                subject,
                reply,
                hdr_token,
                total_token,
                hdr_len,
                payload,
            } => {
                if !c.headers.get() {
                    return self.close_silently(c);
                }
                let msg = MsgSpans {
                    subject,
                    reply: reply.unwrap_or_default(),
                    size_token: total_token,
                    hdr_token: if hdr_len > 0 {
                        hdr_token
                    } else {
                        Span::default()
                    },
                    payload,
                    hdr_len,
                };
                self.client_publish(c, frame, &msg)
            }
            Op::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(c, subject.get(f), queue.map(|q| q.get(f)), sid.get(f)),
            Op::Unsub { sid, max } => self.unsubscribe(c, sid.get(f), max.map(|m| m.get(f))),
            Op::Ping => {
                if self.multi()
                    && !self
                        .interest
                        .borrow()
                        .visible_everywhere(c.interest_epoch_needed.get())
                {
                    return Flow::PongAfterInterest;
                }
                self.pong(c);
                Flow::Continue
            }
            Op::Pong => {
                c.pings_out.set(0);
                if let Some(sent) = c.ping_sent_at.take() {
                    c.rtt.set(sent.elapsed());
                }
                Flow::Continue
            }
            Op::Connect { json } => self.connect(c, json.get(f)),
            Op::Info { json } => {
                if serde_json::from_slice::<serde_json::Value>(json.get(f)).is_err() {
                    return self.close_silently(c);
                }
                Flow::Continue
            }
            Op::Ok => Flow::Continue,
            // A client that sends -ERR is closed without a word, as nats-server does.
            Op::Err => self.close_silently(c),
        }
    }

    /// Reports a parse error the way nats-server does and closes.
    pub fn parse_failed(&self, c: &Rc<Client>, e: ParseError) {
        let err = match e {
            ParseError::UnknownOp => ClientError::UnknownOp,
            ParseError::MaxControlLine => ClientError::MaxControlLine,
            ParseError::MaxPayload => ClientError::MaxPayload,
            ParseError::Violation => {
                self.close_silently(c);
                return;
            }
        };
        self.send_err(c, &err);
    }

    /// Queues `-ERR`; closes (after flushing it) when nats-server would.
    pub fn send_err(&self, c: &Rc<Client>, e: &ClientError) -> Flow {
        self.queue_out(c, encode::ERR_LEN_MAX, |b| encode::err(b, e));
        c.trace(|| trace::op(Dir::Out, &format!("-ERR {e}")));
        if e.closes() {
            let reason = match e {
                ClientError::StaleConnection => CloseReason::StaleConnection,
                ClientError::AuthenticationTimeout => CloseReason::AuthenticationTimeout,
                ClientError::AuthorizationViolation => CloseReason::AuthenticationViolation,
                ClientError::MaxConnections => CloseReason::MaxConnectionsExceeded,
                _ => CloseReason::ProtocolViolation,
            };
            c.close(reason, true);
            return Flow::Close;
        }
        Flow::Continue
    }

    /// Closes without `-ERR`, after sending what was already queued (nats-server flushes
    /// deliveries and PONGs that came before the bad op).
    fn close_silently(&self, c: &Rc<Client>) -> Flow {
        c.close(CloseReason::ProtocolViolation, true);
        Flow::Close
    }

    fn ok_if_verbose(&self, c: &Rc<Client>) {
        if c.opts.borrow().verbose {
            self.queue_out(c, encode::OK_LEN, encode::ok);
            c.trace(|| trace::op(Dir::Out, "OK"));
        }
    }

    /// PONG, followed on the first one after a protocol-1 CONNECT by the `connect_info` INFO.
    pub fn pong(&self, c: &Rc<Client>) {
        self.queue_out(c, encode::PONG_LEN, encode::pong);
        c.trace(|| trace::op(Dir::Out, "PONG"));
        if c.connected.get() {
            c.pong_sent.set(true);
        }
        if c.info_after_pong.replace(false) {
            let json = self.info_json(c, true);
            self.queue_info(c, &json);
        }
    }

    /// The INFO document for client `c`.
    pub fn info_json(&self, c: &Client, connect_info: bool) -> Vec<u8> {
        self.server_info(c, connect_info, false)
    }

    /// The INFO that tells a client the server is in lame duck mode.
    pub fn info_json_ldm(&self, c: &Client) -> Vec<u8> {
        self.server_info(c, false, true)
    }

    fn server_info(&self, c: &Client, connect_info: bool, ldm: bool) -> Vec<u8> {
        let id = &self.identity;
        let account_name = self.auth().accounts.name(c.account.get());
        let opts = self.opts();
        ServerInfo {
            server_id: &id.server_id,
            server_name: &id.server_name,
            version: NATS_FEATURE_VERSION,
            proto: 1,
            go: "natrix",
            host: &id.host,
            port: id.port,
            headers: true,
            auth_required: self.auth().required(),
            tls_required: opts.tls.is_some(),
            tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
            max_payload: opts.limits.max_payload_bytes,
            client_id: c.cid,
            client_ip: &c.ip,
            nonce: &c.nonce,
            ldm,
            connect_info,
            remote_account: connect_info.then_some(&*account_name),
            acc_is_sys: connect_info && self.auth().accounts.system() == Some(c.account.get()),
            api_lvl: super::jetstream::JS_API_LEVEL,
            jetstream: opts.jetstream.is_some(),
            natrix_version: NATRIX_VERSION,
        }
        .to_json()
    }

    fn connect(&self, c: &Rc<Client>, json: &[u8]) -> Flow {
        let applied = c.opts.borrow_mut().apply(json);
        match applied {
            Ok(()) => {}
            Err(ConnectError::Malformed) => return self.close_silently(c),
            Err(ConnectError::Refused(e)) => return self.send_err(c, &e),
        }
        let (echo, headers, protocol) = {
            let o = c.opts.borrow();
            (o.echo, o.headers, o.protocol)
        };
        if let Err(flow) = self.authenticate(c) {
            return flow;
        }
        c.update_tag();
        c.echo.set(echo);
        c.headers.set(headers);
        if c.connected.replace(true) {
            // A second CONNECT drops the connection's subscriptions (nats-server does).
            self.remove_all_subs(c);
        } else {
            if protocol >= 1 {
                c.info_after_pong.set(true);
            }
            self.client_event(c, None);
        }
        self.ok_if_verbose(c);
        Flow::Continue
    }

    /// Checks the CONNECT's credentials when auth is configured and binds the client to its
    /// user; on failure the client gets `Authorization Violation` and is closed.
    fn authenticate(&self, c: &Rc<Client>) -> Result<(), Flow> {
        let auth = self.auth();
        if !auth.expects_connect() {
            return Ok(());
        }
        let result = check_credentials(&auth, c);
        match result {
            Ok(identity) => {
                c.set_identity(identity);
                Ok(())
            }
            Err(e) => {
                log::error!("{} - authentication error{}", c.tag(), who_failed(c));
                // natrix's own detail, never the secret.
                log::debug!("{} - authentication error: {e}", c.tag());
                Err(self.send_err(c, &ClientError::AuthorizationViolation))
            }
        }
    }

    /// After a reload that changed auth: a connected client whose credentials no longer
    /// pass is closed (silently, as nats-server does); one that still passes gets its user's
    /// new permissions, and loses, with an `-ERR` naming each, the subscriptions those
    /// permissions no longer allow.
    pub fn reauthorize(&self, c: &Rc<Client>) {
        if c.is_closing() || !c.connected.get() {
            return;
        }
        let auth = self.auth();
        if !auth.expects_connect() {
            if c.account.get() != crate::account::GLOBAL_ACCOUNT {
                c.close(CloseReason::AuthenticationViolation, true);
                return;
            }
            c.clear_identity();
            c.update_tag();
            return;
        }
        let result = check_credentials(&auth, c);
        let identity = match result {
            Ok(id) => id,
            Err(e) => {
                log::error!("{} - authentication error after reload: {e}", c.tag());
                c.close(CloseReason::AuthenticationViolation, true);
                return;
            }
        };
        if identity.account != c.account.get() {
            // The user now belongs to another account: its subscriptions live in the old
            // account's index, so the connection goes (the client reconnects into the new).
            log::info!("{} - account changed by reload, closing", c.tag());
            c.close(CloseReason::AuthenticationViolation, true);
            return;
        }
        c.set_identity(identity);
        c.update_tag();
        let revoked: Vec<(Bytes, Bytes, Option<Bytes>)> = {
            let perms = c.perms.borrow();
            let Some(p) = perms.as_ref() else {
                return;
            };
            let subs = self.subs.borrow();
            let mut revoked: Vec<_> = c
                .subs
                .borrow()
                .values()
                .filter_map(|&k| subs.get(k))
                .filter(|s| !p.can_subscribe(&s.subject, s.queue.as_deref()))
                .map(|s| (s.sid.clone(), s.subject.clone(), s.queue.clone()))
                .collect();
            revoked.sort();
            revoked
        };
        for (sid, subject, queue) in revoked {
            let key = c.subs.borrow().get(&sid).copied();
            if let Some(k) = key {
                self.remove_sub(k);
            }
            self.send_err(
                c,
                &ClientError::SubscriptionRevoked {
                    subject: subject.to_vec(),
                    queue: queue.map(|q| q.to_vec()),
                    sid: sid.to_vec(),
                },
            );
        }
    }

    fn client_publish(&self, c: &Rc<Client>, frame: &Bytes, msg: &MsgSpans) -> Flow {
        let view = msg.view(frame);
        c.in_msgs.set(c.in_msgs.get() + 1);
        c.in_bytes.set(c.in_bytes.get() + view.payload.len() as u64);
        self.stats
            .in_bytes
            .set(self.stats.in_bytes.get() + view.payload.len() as u64);
        if is_reserved_subject(view.subject) {
            return self.send_err(c, &ClientError::PublishViolation(view.subject.to_vec()));
        }
        if is_reserved_reply(view.reply) {
            return self.send_err(c, &ClientError::PublishReplyViolation(view.reply.to_vec()));
        }
        // Subject mappings apply first: permissions and routing see the mapped subject.
        let mapped;
        let (frame, msg) = match self.map_subject(c.account.get(), frame, msg) {
            Mapped::Unchanged => (frame, msg),
            Mapped::Dropped => return Flow::Continue,
            Mapped::To(m) => {
                mapped = m;
                (&mapped.frame, &mapped.spans)
            }
        };
        let view = msg.view(frame);
        if let Some(p) = c.perms.borrow_mut().as_mut() {
            if !p.can_publish(view.subject, Instant::now()) {
                log::error!(
                    "{} - Publish Violation - User \"{}\", Subject \"{}\"",
                    c.tag(),
                    c.user_name(),
                    String::from_utf8_lossy(view.subject)
                );
                return self.send_err(c, &ClientError::PublishViolation(view.subject.to_vec()));
            }
        }
        let (pedantic, no_responders) = {
            let o = c.opts.borrow();
            (o.pedantic, o.no_responders)
        };
        if pedantic && !subject::is_valid_publish_subject(view.subject) {
            // nats-server reports it and still delivers the message.
            self.send_err(c, &ClientError::InvalidPublishSubject);
        }
        self.ok_if_verbose(c);
        let delivered = self.publish(Some(c), frame, msg);
        if !delivered && no_responders && !view.reply.is_empty() {
            self.send_no_responders(c, &view);
        }
        Flow::Continue
    }

    /// Announces to the other shards the interest of every SUB in a read's `ops` but the
    /// first, before any op is handled: on a shard that woke cold, the ops ahead of a SUB
    /// (an UNSUB, a publish) take tens of microseconds, while a PUB read on a peer at the same
    /// moment is routed by what the peer knows. Only for a connected client without
    /// permissions (the checks that could refuse the SUB are the ones repeated here) and a
    /// read without CONNECT (which could change the account); [`Shard::subscribe`] takes the
    /// announcement over, or takes it back if the SUB fails, and a read that ends early takes
    /// back the rest ([`Shard::retract_ahead`]).
    pub fn announce_ahead(&self, c: &Rc<Client>, ops: &[Op], frame: &Bytes) {
        if !self.multi() || ops.len() < 2 || !c.connected.get() || c.perms.borrow().is_some() {
            return;
        }
        let account = c.account.get();
        // Looked for only once a SUB is found: a read of publishes pays one pass.
        let mut connect_in_read = None;
        for op in &ops[1..] {
            let Op::Sub {
                subject,
                queue,
                sid,
            } = *op
            else {
                continue;
            };
            if *connect_in_read
                .get_or_insert_with(|| ops.iter().any(|op| matches!(op, Op::Connect { .. })))
            {
                return;
            }
            let (subj, queue) = (subject.get(frame), queue.map(|q| q.get(frame)));
            if !subject::is_valid_subscription_subject(subj)
                || queue == Some(b"_sys_")
                || c.subs.borrow().contains_key(sid.get(frame))
            {
                continue;
            }
            let subject = Bytes::copy_from_slice(subj);
            let queue = queue.map(Bytes::copy_from_slice);
            self.announce_add(account, &subject, queue.as_ref());
            c.announced_ahead.borrow_mut().push(AnnouncedSub {
                at: subj.as_ptr() as usize,
                account,
                subject,
                queue,
            });
        }
    }

    /// Takes back the announcements of SUBs a read did not get to (it ended early).
    pub fn retract_ahead(&self, c: &Client) {
        let left = std::mem::take(&mut *c.announced_ahead.borrow_mut());
        for a in left {
            self.retract(&a);
        }
    }

    fn retract(&self, a: &AnnouncedSub) {
        self.announce_remove(a.account, &a.subject, a.queue.as_ref());
    }

    fn subscribe(&self, c: &Rc<Client>, subj: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Flow {
        let ahead = {
            let mut list = c.announced_ahead.borrow_mut();
            let at = subj.as_ptr() as usize;
            list.iter()
                .position(|a| a.at == at)
                .map(|i| list.swap_remove(i))
        };
        let Some(a) = ahead else {
            return self.subscribe_announced(c, subj, queue, sid, false);
        };
        let had_sid = c.subs.borrow().contains_key(sid);
        let flow = self.subscribe_announced(c, subj, queue, sid, true);
        if had_sid || !c.subs.borrow().contains_key(sid) {
            // Refused, or a reused sid (which keeps the first subscription).
            self.retract(&a);
        }
        flow
    }

    /// SUB; `announced`: its interest went to the peers already ([`Shard::announce_ahead`]).
    fn subscribe_announced(
        &self,
        c: &Rc<Client>,
        subj: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
        announced: bool,
    ) -> Flow {
        if !subject::is_valid_subscription_subject(subj) {
            return self.send_err(c, &ClientError::InvalidSubject);
        }
        if let Some(p) = c.perms.borrow().as_ref() {
            if !p.can_subscribe(subj, queue) {
                log::error!(
                    "{} - Subscription Violation - User \"{}\", Subject \"{}\"",
                    c.tag(),
                    c.user_name(),
                    String::from_utf8_lossy(subj)
                );
                let e = match queue {
                    Some(q) => ClientError::SubscribeQueueViolation {
                        subject: subj.to_vec(),
                        queue: q.to_vec(),
                    },
                    None => ClientError::SubscribeViolation(subj.to_vec()),
                };
                return self.send_err(c, &e);
            }
        }
        if queue == Some(b"_sys_") {
            return self.send_err(
                c,
                &ClientError::SubscribeQueueViolation {
                    subject: subj.to_vec(),
                    queue: b"_sys_".to_vec(),
                },
            );
        }
        if c.subs.borrow().contains_key(sid) {
            // A reused sid keeps the first subscription, with no error (nats-server).
            self.ok_if_verbose(c);
            return Flow::Continue;
        }
        let max_subs = self.opts.borrow().limits.max_subscriptions;
        if max_subs > 0 && c.subs.borrow().len() >= max_subs {
            log::error!("{} - Maximum Subscriptions Exceeded", c.tag());
            return self.send_err(c, &ClientError::MaxSubscriptions);
        }
        let subject = Bytes::copy_from_slice(subj);
        let queue = queue.map(Bytes::copy_from_slice);
        let sid = Bytes::copy_from_slice(sid);
        let account = c.account.get();
        // Announced to the other shards before this shard's own bookkeeping: a PUB read on
        // a peer meanwhile is routed by what the peer knows, so every microsecond counts.
        if self.multi() && !announced {
            self.announce_add(account, &subject, queue.as_ref());
        }
        let key = self.subs.borrow_mut().insert(Subscription {
            client: c.clone(),
            account,
            sid: sid.clone(),
            subject: subject.clone(),
            queue: queue.clone(),
            max_msgs: 0,
            delivered: 0,
            queued: 0,
            queued_epoch: 0,
        });
        if self
            .with_sublist(account, |l| l.insert(&subject, queue.as_ref(), key))
            .is_err()
        {
            // Validated above; keep the slab and the peers consistent anyway.
            self.subs.borrow_mut().remove(key);
            if self.multi() {
                self.announce_remove(account, &subject, queue.as_ref());
            }
            return self.send_err(c, &ClientError::InvalidSubject);
        }
        c.subs.borrow_mut().insert(sid, key);
        self.js_interest_changed();
        if self.multi() {
            c.interest_epoch_needed.set(self.interest.borrow().epoch());
        }
        self.ok_if_verbose(c);
        Flow::Continue
    }

    fn unsubscribe(&self, c: &Rc<Client>, sid: &[u8], max: Option<&[u8]>) -> Flow {
        // +OK goes first, as nats-server's trace shows (the wire is the same either way).
        self.ok_if_verbose(c);
        let key = c.subs.borrow().get(sid).copied();
        if let Some(key) = key {
            let max = max.and_then(parse_count);
            let delivered = self.subs.borrow().get(key).map_or(0, |s| s.delivered);
            match max {
                Some(n) if n > delivered => {
                    if let Some(s) = self.subs.borrow_mut().get_mut(key) {
                        s.max_msgs = n;
                    }
                }
                _ => {
                    self.remove_sub(key);
                    if self.multi() {
                        // As for SUB: once the client's next PING is answered, no shard routes
                        // to this subscription any more, so a request right after an UNSUB
                        // and a flush gets no-responders instead of a timeout.
                        c.interest_epoch_needed.set(self.interest.borrow().epoch());
                    }
                }
            }
        }
        Flow::Continue
    }

    /// Drops everything a closed client left behind.
    pub fn remove_client(&self, c: &Rc<Client>) {
        self.remove_all_subs(c);
        if c.connected.get() {
            let reason = c.closing.get().unwrap_or(CloseReason::ClientClosed);
            self.client_event(c, Some(reason));
        }
        self.clients.borrow_mut().try_remove(c.slot);
        self.stan_connection_closed(c.cid);
    }

    fn remove_all_subs(&self, c: &Rc<Client>) {
        let keys: Vec<_> = c.subs.borrow().values().copied().collect();
        for k in keys {
            self.remove_sub(k);
        }
    }
}

/// What an account's subject mappings did to a published message.
pub enum Mapped {
    Unchanged,
    /// A weighted mapping left this share of messages to no destination.
    Dropped,
    To(super::mesh::Msg),
}

impl Shard {
    /// Applies `account`'s mappings to a message published in it.
    pub fn map_subject(
        &self,
        account: crate::account::AccountId,
        frame: &Bytes,
        msg: &MsgSpans,
    ) -> Mapped {
        if !self.account_routes.get() {
            return Mapped::Unchanged;
        }
        let auth = self.auth();
        let Some(acc) = auth.accounts.get(account) else {
            return Mapped::Unchanged;
        };
        if acc.mappings.is_empty() {
            return Mapped::Unchanged;
        }
        let view = msg.view(frame);
        let mut out = Vec::new();
        if !acc
            .mappings
            .map(view.subject, rand::random::<u32>(), &mut out)
        {
            return Mapped::Unchanged;
        }
        if out.is_empty() {
            return Mapped::Dropped;
        }
        Mapped::To(super::mesh::Msg::build(
            &out,
            view.reply,
            &view.payload[..view.hdr_len],
            &view.payload[view.hdr_len..],
        ))
    }
}

/// Whom nats-server names when a CONNECT fails: ` - Nkey "..."`, ` - User "..."`,
/// ` - Token "[REDACTED]"` (the first CONNECT gave, in that order), or nothing.
fn who_failed(c: &Client) -> String {
    match c.opts.borrow().named_credential() {
        Some(NamedCredential::Nkey(k)) => format!(" - Nkey {}", crate::gofmt::quote(k)),
        Some(NamedCredential::User(u)) => format!(" - User {}", crate::gofmt::quote(u)),
        Some(NamedCredential::Token) => " - Token \"[REDACTED]\"".into(),
        None => String::new(),
    }
}

/// Checks the credentials of `c`'s last CONNECT against the INFO nonce it was sent.
fn check_credentials(
    auth: &Authenticator,
    c: &Client,
) -> Result<Arc<UserIdentity>, crate::auth::AuthError> {
    let o = c.opts.borrow();
    let creds = Credentials {
        user: o.user.as_deref(),
        pass: o.pass.as_deref(),
        auth_token: o.auth_token.as_deref(),
        nkey: o.nkey.as_deref(),
        sig: o.sig.as_deref(),
    };
    auth.authenticate(&creds, c.nonce.as_bytes())
}

/// UNSUB's max: decimal digits only; anything else means "unsubscribe now".
fn parse_count(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 18 || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(tok).ok()?.parse().ok()
}

/// Subjects clients may not publish to (gateway replies, raft traffic).
fn is_reserved_subject(s: &[u8]) -> bool {
    s.starts_with(b"_GR_.") || s.starts_with(b"$NRG.")
}

/// Reply prefixes reserved for the server's own use.
fn is_reserved_reply(r: &[u8]) -> bool {
    r.starts_with(b"_R_.") || r.starts_with(b"$JS.ACK.") || r.starts_with(b"_GR_.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsub_counts_accept_digits_only() {
        assert_eq!(parse_count(b"2"), Some(2));
        assert_eq!(parse_count(b"002"), Some(2));
        assert_eq!(parse_count(b"abc"), None);
        assert_eq!(parse_count(b"-1"), None);
        assert_eq!(parse_count(b""), None);
    }

    #[test]
    fn reserved_prefixes() {
        assert!(is_reserved_subject(b"_GR_.abc") && is_reserved_subject(b"$NRG.x"));
        assert!(!is_reserved_subject(b"_GR_x"));
        assert!(is_reserved_reply(b"_R_.x") && is_reserved_reply(b"$JS.ACK.a"));
        assert!(!is_reserved_reply(b"_INBOX.x") && !is_reserved_reply(b""));
    }
}
