//! The shard's side of the system account: handing `$SYS.REQ.` requests to the service
//! thread ([`crate::system`]), publishing its answers, and the connect/disconnect events.
//!
//! Nothing here runs for a server without a system account (no `accounts {}` block): the
//! publish path checks a subject prefix only for subjects that start with `$SYS.REQ.`.

use std::rc::Rc;
use std::time::{Instant, SystemTime};

use super::client::{Client, CloseReason};
use super::mesh::Msg;
use super::Shard;
use crate::account::AccountId;
use crate::proto::encode::MsgView;
use crate::proto::info::NATS_FEATURE_VERSION;
use crate::system::{self, ClientEvent, EventClient, MsgBytes, ServerBlock};

impl Shard {
    /// A publish on `$SYS.REQ.…` in `account`: hands it to the system service if it is a
    /// request the server answers; returns whether it did (else the 503 may follow).
    pub fn system_request(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        view: &MsgView<'_>,
    ) -> bool {
        let auth = self.auth();
        let Some(sys) = auth.accounts.system() else {
            return false;
        };
        let name = auth.accounts.name(account);
        let Some(target) = system::classify(
            view.subject,
            account == sys,
            &name,
            &self.identity.server_id,
        ) else {
            return false;
        };
        if view.reply.is_empty() {
            return true;
        }
        let req = system::Request {
            target,
            shard: self.id,
            reply_account: account,
            reply: view.reply.to_vec(),
            body: view.payload[view.hdr_len..].to_vec(),
            user: from.map(|c| c.user_name()).unwrap_or_default(),
            account_name: name.to_string(),
        };
        self.control.system_request(req)
    }

    /// Publishes a message of the server's own (no reply) in `account`, and flushes.
    pub fn publish_internal(&self, account: AccountId, subject: &[u8], payload: &[u8]) {
        let m = Msg::build(subject, b"", b"", payload);
        self.publish_in_account(account, &m);
        self.flush();
    }

    /// The server block of the events and answers this shard sends.
    fn server_block(&self) -> ServerBlock<'_> {
        ServerBlock {
            name: &self.identity.server_name,
            host: &self.identity.host,
            id: &self.identity.server_id,
            ver: NATS_FEATURE_VERSION,
            jetstream: false,
            flags: 0,
            seq: system::next_seq(),
            time: crate::gofmt::rfc3339(SystemTime::now()),
        }
    }

    /// `$SYS.ACCOUNT.<acc>.CONNECT` (or `DISCONNECT` with the reason) for client `c`, in the
    /// system account, when there is one.
    pub fn client_event(&self, c: &Rc<Client>, closed: Option<CloseReason>) {
        let auth = self.auth();
        let Some(sys) = auth.accounts.system() else {
            return;
        };
        let acc = auth.accounts.name(c.account.get());
        let o = c.opts.borrow();
        let user = c.user_name();
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let wall = |t: Instant| {
            wall_now
                .checked_sub(now.saturating_duration_since(t))
                .unwrap_or(wall_now)
        };
        let event = ClientEvent {
            kind: if closed.is_some() {
                system::DISCONNECT_EVENT
            } else {
                system::CONNECT_EVENT
            },
            id: system::event_id(),
            timestamp: crate::gofmt::rfc3339(wall_now),
            server: self.server_block(),
            client: EventClient {
                start: crate::gofmt::rfc3339(wall(c.started)),
                host: &c.ip,
                id: c.cid,
                acc: &acc,
                user: &user,
                name: &o.name,
                lang: &o.lang,
                ver: &o.version,
                rtt: closed.map(|_| crate::gofmt::duration(c.rtt.get())),
                stop: closed.map(|_| crate::gofmt::rfc3339(wall_now)),
                name_tag: &acc,
                kind: "Client",
                client_type: "nats",
            },
            sent: closed.map(|_| MsgBytes {
                msgs: c.in_msgs.get(),
                bytes: c.in_bytes.get(),
            }),
            received: closed.map(|_| MsgBytes {
                msgs: c.out_msgs.get(),
                bytes: c.out_bytes.get(),
            }),
            reason: closed.map(super::stats::reason_text),
        };
        let Ok(body) = serde_json::to_vec(&event) else {
            return;
        };
        drop(o);
        let what = if closed.is_some() {
            "DISCONNECT"
        } else {
            "CONNECT"
        };
        let subject = format!("$SYS.ACCOUNT.{acc}.{what}");
        self.publish_internal(sys, subject.as_bytes(), &body);
    }
}
