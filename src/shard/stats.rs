//! What one shard tells the monitor: its connections (open and recently closed), its
//! subject index figures and its counters, as `monitor::snapshot` data, and JetStream's
//! accounts it owns (`js_monitor.rs`); shard 0 adds NATS Streaming's part (`stan_monitor.rs`).
//!
//! Runs as a control-plane job on the shard (see `control.rs`), between two tasks of the
//! message path, so it reads the shard's state without any lock; the monitor thread sums
//! the parts of all shards.
//!
//! Invariants: the closed-connection ring holds at most `closed_clients_max` entries per
//! shard; a part holds only what the request needs (subscription lists are the costly bit).

use std::rc::Rc;
use std::time::{Instant, SystemTime};

use super::client::{Client, CloseReason};
use super::Shard;
use crate::monitor::jsz::JsSnapshot;
use crate::monitor::snapshot::{
    Closed, ConnSnapshot, Counters, SubSnapshot, SublistStats, TlsSnapshot,
};
use crate::monitor::streaming::StanSnapshot;
use crate::monitor::Needs;

/// Closed connections /connz can list, server-wide (nats-server's `max_closed_clients`).
pub const CLOSED_CLIENTS_MAX: usize = 10_000;

/// One shard's share of a monitoring answer.
#[derive(Default)]
pub struct ShardPart {
    pub connections: Vec<ConnSnapshot>,
    pub closed: Vec<ConnSnapshot>,
    pub sublist: SublistStats,
    pub counters: Counters,
    /// The accounts whose JetStream this shard owns (`js_monitor.rs`).
    pub jetstream: Option<JsSnapshot>,
    /// Filled by shard 0 only (`stan_monitor.rs`).
    pub streaming: Option<StanSnapshot>,
}

/// nats-server's text for a close reason, as /connz shows it.
pub fn reason_text(r: CloseReason) -> &'static str {
    match r {
        CloseReason::ClientClosed => "Client Closed",
        CloseReason::ProtocolViolation => "Protocol Violation",
        CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
        CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
        CloseReason::StaleConnection => "Stale Connection",
        CloseReason::ServerShutdown => "Server Shutdown",
        CloseReason::ReadError => "Read Error",
        CloseReason::WriteError => "Write Error",
        CloseReason::AuthenticationTimeout => "Authentication Timeout",
        CloseReason::AuthenticationViolation => "Authentication Failure",
        CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
    }
}

/// An `Instant` of this process as wall-clock time, given one reading of both clocks.
fn wall(t: Instant, now: Instant, wall_now: SystemTime) -> SystemTime {
    wall_now
        .checked_sub(now.saturating_duration_since(t))
        .unwrap_or(wall_now)
}

impl Shard {
    /// This shard's part of a monitoring answer.
    pub fn monitor_part(&self, needs: Needs) -> ShardPart {
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let mut part = ShardPart::default();
        if needs.sublist {
            for l in self.sublists.borrow().iter() {
                part.sublist.add(&l.stats().into());
            }
        }
        // `connections` is the server-wide count the monitor takes from the control plane.
        part.counters = Counters {
            in_msgs: self.stats.in_msgs.get(),
            out_msgs: self.stats.out_msgs.get(),
            in_bytes: self.stats.in_bytes.get(),
            out_bytes: self.stats.out_bytes.get(),
            slow_consumers: self.stats.slow_consumers.get(),
            stale_connections: self.stats.stale_connections.get(),
            ..Counters::default()
        };
        if needs.open_connections {
            part.connections = self
                .client_list()
                .iter()
                .map(|c| self.conn_snapshot(c, needs.subscription_lists, now, wall_now))
                .collect();
        }
        if needs.closed_connections {
            part.closed = self.closed.borrow().iter().cloned().collect();
        }
        if needs.jetstream {
            part.jetstream = self.js_monitor(needs.jetstream_consumers);
        }
        if needs.streaming {
            part.streaming = self.stan_monitor();
        }
        part
    }

    fn conn_snapshot(
        &self,
        c: &Rc<Client>,
        with_subs: bool,
        now: Instant,
        wall_now: SystemTime,
    ) -> ConnSnapshot {
        let o = c.opts.borrow();
        let subscriptions = if with_subs {
            let subs = self.subs.borrow();
            c.subs
                .borrow()
                .values()
                .filter_map(|&k| subs.get(k))
                .map(|s| SubSnapshot {
                    subject: String::from_utf8_lossy(&s.subject).into_owned(),
                    queue: s
                        .queue
                        .as_ref()
                        .map(|q| String::from_utf8_lossy(q).into_owned())
                        .unwrap_or_default(),
                    sid: String::from_utf8_lossy(&s.sid).into_owned(),
                    msgs: s.delivered,
                    max: s.max_msgs,
                    pending_msgs: if s.queued_epoch == c.drain_epoch.get() {
                        s.queued
                    } else {
                        0
                    },
                })
                .collect()
        } else {
            Vec::new()
        };
        ConnSnapshot {
            cid: c.cid,
            ip: c.ip.clone(),
            port: c.port,
            start: wall(c.started, now, wall_now),
            last_activity: wall(c.last_activity.get(), now, wall_now),
            rtt: c.rtt.get(),
            pending_bytes: c.out.borrow().len(),
            in_msgs: c.in_msgs.get(),
            out_msgs: c.out_msgs.get(),
            in_bytes: c.in_bytes.get(),
            out_bytes: c.out_bytes.get(),
            stalls: 0,
            name: o.name.clone(),
            lang: o.lang.clone(),
            version: o.version.clone(),
            authorized_user: c.user_name(),
            account: self.auth().accounts.name(c.account.get()).to_string(),
            tls: c.tls.borrow().as_ref().map(|(v, s)| TlsSnapshot {
                version: v.clone(),
                cipher_suite: s.clone(),
            }),
            subscriptions,
            subscription_count: c.subs.borrow().len() as u32,
            closed: None,
        }
    }

    /// Keeps a closed client for `/connz?state=closed`, dropping the oldest past the bound.
    /// Without a monitoring port nothing can read the ring, so nothing is kept: a closing
    /// connection then costs no snapshot of its subscriptions.
    pub fn remember_closed(&self, c: &Rc<Client>) {
        let monitored = {
            let o = self.opts.borrow();
            o.monitor.http_port.is_some() || o.monitor.https_port.is_some()
        };
        if !monitored {
            return;
        }
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let mut snap = self.conn_snapshot(c, true, now, wall_now);
        snap.pending_bytes = 0;
        snap.closed = Some(Closed {
            stop: wall_now,
            reason: reason_text(c.closing.get().unwrap_or(CloseReason::ClientClosed)).into(),
        });
        let max = (CLOSED_CLIENTS_MAX / self.shards).max(1);
        let mut closed = self.closed.borrow_mut();
        if closed.len() >= max {
            closed.pop_front();
        }
        closed.push_back(snap);
    }
}
