//! A client's session with the service: connect (client-ID rules, the duplicate-ID probe),
//! server heartbeats to the heartbeat inbox, client pings (protocol 1), close, and ghosts.
//!
//! Ghosts (issue 12, point 3): the driver reports each closed NATS connection. The clients
//! last heard on it are marked disconnected at once (their queue members become the last
//! choice and their plain subscriptions get no redeliveries), and after `ghost_grace_ms` (a
//! NATS reconnect's worth) the core probes the heartbeat inbox; without an answer within
//! `ghost_probe_timeout_ms` the client is closed as by a CloseRequest, so its queue members'
//! unacked messages go to the other members at once. Any traffic from the client on another
//! connection (publish, ping, subscribe, heartbeat answer) brings it back. A duplicate
//! connect for a disconnected client replaces it without the 500 ms probe.

use super::channel::ChannelFactory;
use super::client::{valid_client_id, Client};
use super::errors::StanError;
use super::proto::{self, CloseRequest, CloseResponse, ConnectRequest, ConnectResponse};
use super::proto::{Ping, PingResponse};
use super::server::StanServer;
use super::state::{ClientRec, Ev};
use super::subs::{self, Ctx};
use super::{ConnId, Timer};
use crate::wheel::TimerHandle;

/// A request the core sent and waits on (its reply comes on the reply prefix + token).
#[derive(Debug)]
pub(crate) struct Request {
    pub kind: RequestKind,
    pub timer: TimerHandle,
}

#[derive(Debug)]
pub(crate) enum RequestKind {
    Heartbeat {
        client: String,
        generation: u64,
    },
    /// Is the registered holder of a client ID alive? `req` waits for the answer.
    DupProbe {
        client: String,
        generation: u64,
        req: ConnectRequest,
        reply: String,
        conn: ConnId,
    },
    /// The end of a ghost's grace period.
    GhostProbe {
        client: String,
        generation: u64,
    },
}

impl<F: ChannelFactory> StanServer<F> {
    pub(crate) fn handle_connect(&mut self, conn: ConnId, reply: &str, payload: &[u8]) {
        let req = match proto::decode::<ConnectRequest>(payload) {
            Some(r) if !r.heartbeat_inbox.is_empty() => r,
            _ => return self.connect_error(reply, &StanError::InvalidConnReq),
        };
        if !valid_client_id(&req.client_id) {
            return self.connect_error(reply, &StanError::InvalidClientId);
        }
        let Some(old) = self.clients.get(&req.client_id) else {
            return self.register(req, reply, conn);
        };
        if self.dup_probes.contains(&req.client_id) {
            return self.connect_error(reply, &StanError::ClientIdRegistered);
        }
        if old.disconnected {
            let _ = self.close_client(&req.client_id);
            return self.register(req, reply, conn);
        }
        let (hb_inbox, generation) = (old.hb_inbox.clone(), old.generation);
        self.dup_probes.insert(req.client_id.clone());
        let kind = RequestKind::DupProbe {
            client: req.client_id.clone(),
            generation,
            req,
            reply: reply.to_string(),
            conn,
        };
        self.request(&hb_inbox, self.opts.dup_probe_timeout_ms, kind);
    }

    fn connect_error(&mut self, reply: &str, err: &StanError) {
        let payload = proto::encode(&ConnectResponse {
            error: err.to_string(),
            ..Default::default()
        });
        self.fx.publish(reply, "", payload);
    }

    /// Registers the client, starts its heartbeats and answers the connect.
    fn register(&mut self, req: ConnectRequest, reply: &str, conn: ConnId) {
        let id = req.client_id.clone();
        self.fx.journal.event(|| {
            Ev::Client(ClientRec {
                id: id.clone(),
                hb_inbox: req.heartbeat_inbox.clone(),
                conn_id: req.conn_id.clone(),
                protocol: req.protocol,
                ping_interval: req.ping_interval,
                ping_max_out: req.ping_max_out,
            })
        });
        let generation = self.clients.register(Client {
            id: id.clone(),
            hb_inbox: req.heartbeat_inbox.clone(),
            conn_id: req.conn_id.clone(),
            protocol: req.protocol,
            ping_interval: req.ping_interval,
            ping_max_out: req.ping_max_out,
            conn,
            generation: 0,
            failed_hbs: 0,
            hb_timer: None,
            hb_request: None,
            disconnected: false,
            ghost_timer: None,
            ghost_probe: None,
            recovered: false,
            subs: Vec::new(),
        });
        self.schedule_heartbeat(&id, generation);
        let s = &self.subj;
        let mut resp = ConnectResponse {
            pub_prefix: s.pub_prefix.clone(),
            sub_requests: s.sub.clone(),
            unsub_requests: s.unsub.clone(),
            close_requests: s.close.clone(),
            sub_close_requests: s.subclose.clone(),
            protocol: 1,
            ..Default::default()
        };
        if req.protocol >= 1 {
            resp.ping_requests = s.pings.clone();
            resp.ping_interval = req.ping_interval;
            resp.ping_max_out = req.ping_max_out;
        }
        self.fx.publish(reply, "", proto::encode(&resp));
    }

    pub(crate) fn schedule_heartbeat(&mut self, id: &str, generation: u64) {
        let at = self.fx.now_ms + self.opts.hb_interval_ms;
        let timer = Timer::Heartbeat {
            client: id.to_string(),
            generation,
        };
        let handle = self.fx.wheel.insert(at, timer);
        match self.clients.live_mut(id, generation) {
            Some(c) => {
                if let Some(old) = c.hb_timer.replace(handle) {
                    self.fx.wheel.cancel(old);
                }
            }
            None => {
                self.fx.wheel.cancel(handle);
            }
        }
    }

    pub(crate) fn heartbeat_due(&mut self, id: &str, generation: u64) {
        let Some(c) = self.clients.live_mut(id, generation) else {
            return;
        };
        c.hb_timer = None;
        let hb_inbox = c.hb_inbox.clone();
        let kind = RequestKind::Heartbeat {
            client: id.to_string(),
            generation,
        };
        let token = self.request(&hb_inbox, self.opts.hb_timeout_ms, kind);
        if let Some(c) = self.clients.live_mut(id, generation) {
            c.hb_request = Some(token);
        }
    }

    /// Sends an empty request to `subject` with a reply on the core's prefix, and arms its
    /// timeout; returns its token.
    fn request(&mut self, subject: &str, timeout_ms: u64, kind: RequestKind) -> u64 {
        let token = self.token();
        let reply = format!("{}{token}", self.subj.reply_prefix);
        self.fx.publish(subject, &reply, Vec::new());
        let at = self.fx.now_ms + timeout_ms;
        let timer = self.fx.wheel.insert(at, Timer::RequestTimeout { token });
        self.requests.insert(token, Request { kind, timer });
        token
    }

    /// An answer on the reply prefix: to a heartbeat or a probe.
    pub(crate) fn handle_reply(&mut self, conn: ConnId, token: u64) {
        let Some(req) = self.requests.remove(&token) else {
            return;
        };
        self.fx.wheel.cancel(req.timer);
        match req.kind {
            RequestKind::Heartbeat { client, generation } => {
                let Some(c) = self.clients.live_mut(&client, generation) else {
                    return;
                };
                c.hb_request = None;
                let had_failed = c.failed_hbs > 0;
                c.failed_hbs = 0;
                let disconnected = c.disconnected;
                if had_failed && !disconnected {
                    self.set_failed_hb(&client, false);
                }
                self.touch(&client, conn);
                self.schedule_heartbeat(&client, generation);
            }
            RequestKind::DupProbe {
                client,
                generation,
                reply,
                ..
            } => {
                self.dup_probes.remove(&client);
                if self.clients.live_mut(&client, generation).is_some() {
                    self.touch(&client, conn);
                }
                self.connect_error(&reply, &StanError::ClientIdRegistered);
            }
            RequestKind::GhostProbe { client, generation } => {
                if let Some(c) = self.clients.live_mut(&client, generation) {
                    c.ghost_probe = None;
                    self.touch(&client, conn);
                }
            }
        }
    }

    pub(crate) fn request_timed_out(&mut self, token: u64) {
        let Some(req) = self.requests.remove(&token) else {
            return;
        };
        match req.kind {
            RequestKind::Heartbeat { client, generation } => {
                let fail_count = self.opts.hb_fail_count;
                let Some(c) = self.clients.live_mut(&client, generation) else {
                    return;
                };
                c.hb_request = None;
                c.failed_hbs += 1;
                if c.failed_hbs > fail_count {
                    let _ = self.close_client(&client);
                    return;
                }
                self.set_failed_hb(&client, true);
                self.schedule_heartbeat(&client, generation);
            }
            RequestKind::DupProbe {
                client,
                generation,
                req,
                reply,
                conn,
            } => {
                self.dup_probes.remove(&client);
                if self.clients.live_mut(&client, generation).is_some() {
                    let _ = self.close_client(&client);
                }
                if self.clients.get(&client).is_some() {
                    // Re-registered meanwhile by another path: refuse, as the original would.
                    return self.connect_error(&reply, &StanError::ClientIdRegistered);
                }
                self.register(req, &reply, conn);
            }
            RequestKind::GhostProbe { client, generation } => {
                let still = self
                    .clients
                    .live_mut(&client, generation)
                    .is_some_and(|c| c.disconnected || c.recovered);
                if still {
                    let _ = self.close_client(&client);
                }
            }
        }
    }

    pub(crate) fn handle_ping(&mut self, conn: ConnId, reply: &str, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let Some(ping) = proto::decode::<Ping>(payload) else {
            return;
        };
        let id = self
            .clients
            .id_by_conn_id(&ping.conn_id)
            .map(str::to_string);
        let Some(id) = id else {
            let payload = proto::encode(&PingResponse {
                error: StanError::PingUnknownClient.to_string(),
            });
            return self.fx.publish(reply, "", payload);
        };
        self.touch(&id, conn);
        let soon = self.fx.now_ms + 1;
        if let Some(c) = self.clients.get_mut(&id) {
            if c.failed_hbs > 0 {
                if let Some(h) = c.hb_timer {
                    self.fx.wheel.reset(h, soon);
                }
            }
        }
        self.fx
            .publish(reply, "", proto::encode(&PingResponse::default()));
    }

    pub(crate) fn handle_close(&mut self, reply: &str, payload: &[u8]) {
        // Everything received before the close is answered before it (the original's barrier).
        self.flush_pending();
        let error = match proto::decode::<CloseRequest>(payload) {
            None => StanError::InvalidCloseReq.to_string(),
            Some(req) => match self.close_client(&req.client_id) {
                Ok(()) => String::new(),
                Err(e) => e.to_string(),
            },
        };
        self.fx
            .publish(reply, "", proto::encode(&CloseResponse { error }));
    }

    /// Unregisters a client and closes its subscriptions (durables go offline, queue members
    /// leave with their pending messages handed over).
    pub(crate) fn close_client(&mut self, id: &str) -> Result<(), StanError> {
        let client = self
            .clients
            .unregister(id)
            .ok_or(StanError::UnknownClient)?;
        self.fx.journal.event(|| Ev::ClientDel(id.to_string()));
        for h in [client.hb_timer, client.ghost_timer].into_iter().flatten() {
            self.fx.wheel.cancel(h);
        }
        for token in [client.hb_request, client.ghost_probe]
            .into_iter()
            .flatten()
        {
            if let Some(req) = self.requests.remove(&token) {
                self.fx.wheel.cancel(req.timer);
            }
        }
        for (channel, sub_id) in &client.subs {
            if let Some(ch) = self.channels.get_mut(channel) {
                let mut ctx = Ctx {
                    channel,
                    chan_gen: ch.generation,
                    fx: &mut self.fx,
                };
                subs::remove(&mut ctx, &mut ch.store, &mut ch.subs, *sub_id, false);
            }
        }
        for (channel, _) in &client.subs {
            self.maybe_start_inactivity(channel);
        }
        Ok(())
    }

    /// The driver closed NATS connection `conn`.
    pub fn on_connection_closed(&mut self, conn: ConnId, now_ms: u64) {
        self.fx.now_ms = self.fx.now_ms.max(now_ms);
        let at = self.fx.now_ms + self.opts.ghost_grace_ms;
        for id in self.clients.on_conn(conn) {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            c.disconnected = true;
            let timer = Timer::Ghost {
                client: id.clone(),
                generation: c.generation,
            };
            let handle = self.fx.wheel.insert(at, timer);
            if let Some(old) = c.ghost_timer.replace(handle) {
                self.fx.wheel.cancel(old);
            }
            self.set_failed_hb(&id, true);
        }
    }

    pub(crate) fn ghost_due(&mut self, id: &str, generation: u64) {
        let Some(c) = self.clients.live_mut(id, generation) else {
            return;
        };
        c.ghost_timer = None;
        if !c.disconnected && !c.recovered {
            return;
        }
        let hb_inbox = c.hb_inbox.clone();
        let kind = RequestKind::GhostProbe {
            client: id.to_string(),
            generation,
        };
        let token = self.request(&hb_inbox, self.opts.ghost_probe_timeout_ms, kind);
        if let Some(c) = self.clients.live_mut(id, generation) {
            c.ghost_probe = Some(token);
        }
    }

    /// `id` was heard on `conn`: follow a NATS reconnect, end a ghost's grace period, and
    /// resume a recovered client's subscriptions.
    pub(crate) fn touch(&mut self, id: &str, conn: ConnId) {
        let Some(c) = self.clients.get_mut(id) else {
            return;
        };
        c.conn = conn;
        if !c.disconnected && !c.recovered {
            return;
        }
        let resumed = std::mem::take(&mut c.recovered);
        c.disconnected = false;
        let failed = c.failed_hbs > 0;
        if let Some(h) = c.ghost_timer.take() {
            self.fx.wheel.cancel(h);
        }
        if let Some(token) = c.ghost_probe.take() {
            if let Some(req) = self.requests.remove(&token) {
                self.fx.wheel.cancel(req.timer);
            }
        }
        self.set_failed_hb(id, failed);
        if resumed {
            self.resume_recovered(id);
        }
    }

    /// Marks every subscription of `id` as (not) failing heartbeats.
    fn set_failed_hb(&mut self, id: &str, failed: bool) {
        let Some(c) = self.clients.get(id) else {
            return;
        };
        for (channel, sub_id) in &c.subs {
            if let Some(sub) = self
                .channels
                .get_mut(channel)
                .and_then(|ch| ch.subs.subs.get_mut(sub_id))
            {
                sub.failed_hb = failed;
            }
        }
    }
}
