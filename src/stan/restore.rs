//! Bringing a recovered [`ServerState`] back into the core at start, and resuming a recovered
//! client once it is heard from.
//!
//! As nats-streaming-server after a restart: every client comes back with its heartbeats
//! restarted, durable and queue subscriptions come back at their positions with their
//! pending messages, and plain subscriptions of clients that come back do too. natrix
//! differs on purpose in one way: the NATS connection of a recovered client is unknown until
//! it is heard from, so the client is treated as a possible ghost (`Client::recovered`). Its
//! subscriptions hold every delivery and are the last choice in their queue groups; at the
//! end of the ghost grace period its heartbeat inbox is probed, and without an answer it is
//! closed as by a CloseRequest (queue members' pending go to the others, durables go offline
//! at their position). Anything from the client (an answer, a ping, a publish, a subscribe)
//! resumes it: each subscription's pending messages are redelivered first, flagged
//! redelivered, then new ones flow. A connect for its client ID is probed as for any live
//! client, so a running client keeps its ID.

use super::channel::ChannelFactory;
use super::client::Client;
use super::limits::StartError;
use super::server::StanServer;
use super::state::{ServerState, SubState};
use super::subs::{self, durable_key, Ctx, Sub};
use super::{ConnId, Timer};

/// The connection of a recovered client until it is heard from; no driver connection has it.
pub const UNKNOWN_CONN: ConnId = ConnId::MAX;

impl<F: ChannelFactory> StanServer<F> {
    /// Loads `st` (after the channels are open); returns how many clients and subscriptions
    /// came back.
    pub(crate) fn restore(&mut self, st: ServerState) -> Result<(usize, usize), StartError> {
        let now = self.fx.now_ms;
        for c in st.clients.into_values() {
            let id = c.id.clone();
            let generation = self.clients.register(Client {
                id: c.id,
                hb_inbox: c.hb_inbox,
                conn_id: c.conn_id,
                protocol: c.protocol,
                ping_interval: c.ping_interval,
                ping_max_out: c.ping_max_out,
                conn: UNKNOWN_CONN,
                generation: 0,
                failed_hbs: 0,
                hb_timer: None,
                hb_request: None,
                disconnected: false,
                ghost_timer: None,
                ghost_probe: None,
                recovered: true,
                subs: Vec::new(),
            });
            self.schedule_heartbeat(&id, generation);
            let timer = Timer::Ghost {
                client: id.clone(),
                generation,
            };
            let h = self.fx.wheel.insert(now + self.opts.ghost_grace_ms, timer);
            if let Some(c) = self.clients.get_mut(&id) {
                c.ghost_timer = Some(h);
            }
        }
        let mut subs_back = 0;
        for (name, cs) in st.channels {
            self.open_channel(&name).map_err(StartError::Store)?;
            for (_, s) in cs.subs {
                self.next_sub_id = self.next_sub_id.max(s.rec.id);
                if self.restore_sub(&name, s) {
                    subs_back += 1;
                }
            }
            let Some(ch) = self.channels.get_mut(&name) else {
                continue;
            };
            ch.subs
                .groups
                .retain(|_, g| !g.members.is_empty() || g.shadow.is_some());
            for (group, last_sent) in cs.groups {
                if let Some(g) = ch.subs.groups.get_mut(&group) {
                    g.last_sent = g.last_sent.max(last_sent);
                }
            }
            if ch.subs.has_active() {
                if let Some(h) = ch.inactivity_timer.take() {
                    self.fx.wheel.cancel(h);
                }
            }
        }
        Ok((self.clients.by_id.len(), subs_back))
    }

    /// One subscription record back into its channel; false when it is dropped (a plain
    /// subscription whose client did not come back, a damaged log's leftovers).
    fn restore_sub(&mut self, channel: &str, s: SubState) -> bool {
        let now = self.fx.now_ms;
        let r = s.rec;
        let was_offline = r.client_id.is_empty();
        let client_known = !r.client_id.is_empty() && self.clients.get(&r.client_id).is_some();
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
        };
        let ss = &mut ch.subs;
        let mut sub = Sub {
            id: r.id,
            client_id: if client_known {
                r.client_id
            } else {
                String::new()
            },
            durable_client_id: r.durable_client_id,
            qgroup: r.qgroup,
            inbox: r.inbox,
            ack_inbox: r.ack_inbox,
            durable_name: r.durable_name,
            is_durable: r.is_durable,
            max_inflight: r.max_inflight.max(1),
            ack_wait_ms: r.ack_wait_ms.max(1),
            last_sent: r.last_sent,
            pending: Default::default(),
            rdlv: Default::default(),
            stalled: false,
            new_on_hold: client_known,
            failed_hb: client_known,
            ack_timer: None,
        };
        let expiry = now + sub.ack_wait_ms;
        for &seq in &s.pending {
            sub.pending.insert(seq, expiry);
        }
        sub.stalled = sub.pending.len() as u64 >= u64::from(sub.max_inflight);
        if client_known && !sub.pending.is_empty() {
            let timer = Timer::AckWait {
                channel: channel.to_string(),
                chan_gen: ch.generation,
                sub: sub.id,
            };
            sub.ack_timer = Some(self.fx.wheel.insert(expiry, timer));
        }
        let id = sub.id;
        if sub.qgroup.is_empty() {
            if !sub.is_durable && !client_known {
                return false;
            }
            if sub.is_durable {
                let key = durable_key(&sub.durable_client_id, &sub.durable_name);
                ss.durables.insert(key, id);
            }
            if client_known {
                ss.psubs.push(id);
            }
        } else {
            let g = ss.groups.entry(sub.qgroup.clone()).or_default();
            g.last_sent = g.last_sent.max(sub.last_sent);
            if client_known {
                g.members.push(id);
            } else if was_offline && sub.is_durable && g.shadow.is_none() {
                g.shadow = Some(id);
            } else {
                // A member of a client that did not come back (only a damaged log has one):
                // dropped, as nats-streaming-server drops a "ghost durable queue subscriber".
                return false;
            }
        }
        if client_known {
            ss.by_ack_inbox.insert(sub.ack_inbox.clone(), id);
            ss.by_inbox.insert(sub.inbox.clone(), id);
            if let Some(c) = self.clients.get_mut(&sub.client_id) {
                c.subs.push((channel.to_string(), id));
            }
        }
        ss.subs.insert(id, sub);
        true
    }

    /// A recovered client was heard from: each of its subscriptions redelivers its pending
    /// messages (flagged redelivered), then takes new ones.
    pub(crate) fn resume_recovered(&mut self, id: &str) {
        let Some(c) = self.clients.get(id) else {
            return;
        };
        for (channel, sub_id) in c.subs.clone() {
            let Some(ch) = self.channels.get_mut(&channel) else {
                continue;
            };
            let Some(sub) = ch.subs.subs.get_mut(&sub_id) else {
                continue;
            };
            if !sub.new_on_hold {
                continue;
            }
            let group = sub.qgroup.clone();
            let mut ctx = Ctx {
                channel: &channel,
                chan_gen: ch.generation,
                fx: &mut self.fx,
            };
            subs::durable_redelivery(&mut ctx, &mut ch.store, &mut ch.subs, sub_id);
            if group.is_empty() {
                subs::send_available(&mut ctx, &mut ch.store, &mut ch.subs, sub_id);
            } else {
                subs::send_available_to_group(&mut ctx, &mut ch.store, &mut ch.subs, &group);
            }
        }
    }
}
