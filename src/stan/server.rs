//! [`StanServer`]: the state of one STAN service (one cluster ID) and its request handlers
//! for publishes, subscriptions and acks; the client session (connect, heartbeats, pings,
//! close, ghosts) is in `session.rs`. The driver feeds it [`StanServer::on_message`],
//! [`StanServer::on_timer`] and [`StanServer::on_connection_closed`], and publishes what
//! [`StanServer::take_outputs`] returns, in order.

use std::collections::{HashMap, HashSet};

use super::channel::{valid_channel, ChannelFactory, ChannelStore, MemChannels};
use super::client::Clients;
use super::errors::StanError;
use super::journal::{Journal, StateWriter};
use super::limits::{ChannelLimits, StanOptions, StartError};
use super::proto::{self, CtrlMsg, PubAck, PubMsg};
use super::session::Request;
use super::state::{self, Ev};
use super::state_log::StateLog;
use super::subs::{self, Ctx, SubStore};
use super::{ConnId, Fx, Output, StanStats, Timer};

mod view;
use crate::store::file::SyncFile;
use crate::wheel::{TimerHandle, Wheel};

/// The subjects of one service.
#[derive(Debug)]
pub(crate) struct Subjects {
    pub discover: String,
    pub pings: String,
    /// `_STAN.pub.<cid>`; publishes come on `<pub_prefix>.<channel>`.
    pub pub_prefix: String,
    pub pub_dot: String,
    pub sub: String,
    pub unsub: String,
    pub subclose: String,
    pub close: String,
    /// `_INBOX.<token>.`: replies to the core's own requests, then a decimal token.
    pub reply_prefix: String,
    /// `_INBOX.<token>.ack.`: subscription ack inboxes, then a decimal number.
    pub ack_prefix: String,
}

impl Subjects {
    /// `ack_token` names the ack inboxes: the server token of the first start over a store.
    fn new(o: &StanOptions, ack_token: &str) -> Subjects {
        let cid = &o.cluster_id;
        let discover = format!("{}.{cid}", o.discover_prefix);
        Subjects {
            pings: format!("{discover}.pings"),
            discover,
            pub_prefix: format!("_STAN.pub.{cid}"),
            pub_dot: format!("_STAN.pub.{cid}."),
            sub: format!("_STAN.sub.{cid}"),
            unsub: format!("_STAN.unsub.{cid}"),
            subclose: format!("_STAN.subclose.{cid}"),
            close: format!("_STAN.close.{cid}"),
            reply_prefix: format!("_INBOX.{}.", o.server_token),
            ack_prefix: format!("_INBOX.{ack_token}.ack."),
        }
    }

    /// Whether `subject` matches one of [`Subjects::internal`]'s patterns, by prefix tests:
    /// the driver asks this for every message it routes while STAN is on (matching the nine
    /// patterns one by one was 5-8 % of shard 0's CPU when delivering with acks).
    fn wants(&self, subject: &[u8]) -> bool {
        // `*`: one more token; `>`: one or more.
        let one_token = |prefix: &str| {
            subject
                .strip_prefix(prefix.as_bytes())
                .is_some_and(|r| !r.is_empty() && !r.contains(&b'.'))
        };
        let tokens = |prefix: &str| {
            subject
                .strip_prefix(prefix.as_bytes())
                .is_some_and(|r| !r.is_empty())
        };
        one_token(&self.ack_prefix)
            || tokens(&self.pub_dot)
            || one_token(&self.reply_prefix)
            || [
                &self.discover,
                &self.pings,
                &self.sub,
                &self.unsub,
                &self.subclose,
                &self.close,
            ]
            .iter()
            .any(|s| s.as_bytes() == subject)
    }

    /// What the core listens on.
    fn internal(&self) -> Vec<String> {
        vec![
            self.discover.clone(),
            self.pings.clone(),
            format!("{}>", self.pub_dot),
            self.sub.clone(),
            self.unsub.clone(),
            self.subclose.clone(),
            self.close.clone(),
            format!("{}*", self.reply_prefix),
            format!("{}*", self.ack_prefix),
        ]
    }
}

/// One channel: its log, its subscriptions and its limit timers.
pub(crate) struct Channel<S> {
    pub generation: u64,
    pub store: S,
    pub subs: SubStore,
    pub limits: ChannelLimits,
    pub last_ts_ns: i64,
    /// The last publish (or the creation), for max_inactivity.
    pub last_activity_ms: u64,
    pub inactivity_timer: Option<TimerHandle>,
    pub age_timer: Option<TimerHandle>,
}

struct PendingAck {
    channel: String,
    reply: String,
    guid: String,
}

/// A subscription as monitoring shows it (`/streaming/channelsz?subs=1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubInfo {
    pub client_id: String,
    pub inbox: String,
    pub ack_inbox: String,
    pub durable_name: String,
    pub queue_name: String,
    pub is_durable: bool,
    pub is_offline: bool,
    pub max_inflight: u32,
    pub ack_wait_ms: u64,
    pub last_sent: u64,
    pub pending_count: usize,
    pub is_stalled: bool,
}

/// A channel's counters and subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    pub first_seq: u64,
    pub last_seq: u64,
    pub msgs: u64,
    pub bytes: u64,
    pub subs: Vec<SubInfo>,
}

/// A client as monitoring shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    pub hb_inbox: String,
    pub conn_id: Vec<u8>,
    pub protocol: i32,
    pub ping_interval_s: i32,
    pub ping_max_out: i32,
    pub conn: ConnId,
    pub failed_hbs: u32,
    pub disconnected: bool,
    pub subs: usize,
}

/// The STAN service core. `F` makes the channel logs (memory by default).
pub struct StanServer<F: ChannelFactory = MemChannels> {
    pub(crate) opts: StanOptions,
    pub(crate) subj: Subjects,
    factory: F,
    pub(crate) channels: HashMap<String, Channel<F::Store>>,
    /// Lower-cased name → name, for the case-conflict rule.
    channels_lc: HashMap<String, String>,
    pub(crate) clients: Clients,
    pub(crate) requests: HashMap<u64, Request>,
    /// Client IDs with a duplicate probe out.
    pub(crate) dup_probes: HashSet<String>,
    next_token: u64,
    pub(crate) next_sub_id: u64,
    next_chan_gen: u64,
    pub(crate) fx: Fx,
    pub_acks: Vec<PendingAck>,
    dirty: Vec<String>,
    /// `now_ns - now_ms * 1e6` at the last message: the wall clock for timers (max_age).
    wall_offset_ns: i64,
    /// The token of the ack inboxes (kept in the state log across restarts).
    pub(crate) ack_token: String,
    pub(crate) state_log: Option<Box<dyn StateLog>>,
    pub(crate) state_writer: StateWriter,
    recovery: Option<RecoveryReport>,
    /// With a deferred sync: the files flushed since the last [`StanServer::take_commit`].
    unsynced: Vec<SyncFile>,
    /// A file to sync since the last [`StanServer::take_commit`] could not be handed over.
    unsynced_lost: bool,
}

/// One flush of the core ([`StanServer::take_commit`]): what to publish and subscribe, in
/// order, and the files whose fdatasync must complete before any of its publishes goes out
/// (empty unless the file store's sync is deferred). `durable` is false when a file to sync
/// could not be handed over: then none of its publishes may go out.
#[derive(Debug)]
pub struct Commit {
    pub outputs: Vec<Output>,
    pub files: Vec<SyncFile>,
    pub durable: bool,
}

/// What recovery found in the state log at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    pub clients: usize,
    pub subs: usize,
    /// Frames of the log applied.
    pub frames: usize,
    /// Where the log was cut (a torn tail), if it was.
    pub cut: Option<state::Cut>,
}

impl<F: ChannelFactory> StanServer<F> {
    /// A service over `factory`'s store; its internal subscriptions are the first outputs.
    /// A store with a state log (the file store) brings back its channels, clients and
    /// subscriptions (`restore.rs`) and is rewritten as one snapshot before this returns, so
    /// a torn tail is cut; otherwise the service starts with no clients or channels.
    pub fn new(opts: StanOptions, mut factory: F, now_ms: u64) -> Result<Self, StartError> {
        opts.validate()?;
        let mut state_log = factory.state_log();
        let recovered = match state_log.as_mut() {
            Some(log) => Some(state::recover(&log.read().map_err(StartError::Store)?)),
            None => None,
        };
        let mut ack_token = opts.server_token.clone();
        if let Some(r) = &recovered {
            let stored = &r.state.cluster_id;
            if !stored.is_empty() && *stored != opts.cluster_id {
                return Err(StartError::ClusterIdMismatch {
                    given: opts.cluster_id.clone(),
                    stored: stored.clone(),
                });
            }
            if !r.state.ack_token.is_empty() {
                ack_token = r.state.ack_token.clone();
            }
        }
        let subj = Subjects::new(&opts, &ack_token);
        let mut fx = Fx {
            out: Vec::new(),
            wheel: Wheel::new(now_ms),
            now_ms,
            stats: StanStats::default(),
            journal: Journal::default(),
        };
        for subject in subj.internal() {
            fx.out.push(Output::Subscribe { subject });
        }
        let mut s = StanServer {
            opts,
            subj,
            factory,
            channels: HashMap::new(),
            channels_lc: HashMap::new(),
            clients: Clients::default(),
            requests: HashMap::new(),
            dup_probes: HashSet::new(),
            next_token: 0,
            next_sub_id: 0,
            next_chan_gen: 0,
            fx,
            pub_acks: Vec::new(),
            dirty: Vec::new(),
            wall_offset_ns: 0,
            ack_token,
            state_log,
            state_writer: StateWriter::default(),
            recovery: None,
            unsynced: Vec::new(),
            unsynced_lost: false,
        };
        if let Some(r) = recovered {
            for name in s.factory.existing().map_err(StartError::Store)? {
                s.open_channel(&name).map_err(StartError::Store)?;
            }
            let (clients, subs) = s.restore(r.state)?;
            s.recovery = Some(RecoveryReport {
                clients,
                subs,
                frames: r.frames,
                cut: r.cut,
            });
            s.fx.journal.on = true;
            s.state_writer.needs_snapshot = true;
            s.write_state();
            if let Some(e) = s.state_writer.last_error.take() {
                return Err(StartError::Store(e));
            }
        }
        Ok(s)
    }

    /// What recovery found at start (a store with a state log only).
    pub fn recovery(&self) -> Option<&RecoveryReport> {
        self.recovery.as_ref()
    }

    /// The subjects the driver must subscribe for the core (also the first outputs).
    pub fn internal_subjects(&self) -> Vec<String> {
        self.subj.internal()
    }

    /// Whether a message on `subject` is for the core (it matches one of
    /// [`StanServer::internal_subjects`]).
    pub fn wants(&self, subject: &[u8]) -> bool {
        self.subj.wants(subject)
    }

    pub fn options(&self) -> &StanOptions {
        &self.opts
    }

    /// A NATS message on one of the core's subjects, from connection `conn`.
    pub fn on_message(
        &mut self,
        conn: ConnId,
        subject: &[u8],
        reply: &[u8],
        payload: &[u8],
        now_ms: u64,
        now_ns: i64,
    ) {
        self.set_time(now_ms);
        self.wall_offset_ns = now_ns.saturating_sub((now_ms as i64).saturating_mul(1_000_000));
        let Ok(subject) = std::str::from_utf8(subject) else {
            return;
        };
        let reply = std::str::from_utf8(reply).unwrap_or("");
        if subject == self.subj.discover {
            self.handle_connect(conn, reply, payload);
        } else if subject == self.subj.pings {
            self.handle_ping(conn, reply, payload);
        } else if subject == self.subj.sub {
            self.handle_subscribe(conn, reply, payload, now_ns);
        } else if subject == self.subj.unsub {
            self.handle_unsubscribe(reply, payload, false);
        } else if subject == self.subj.subclose {
            self.handle_unsubscribe(reply, payload, true);
        } else if subject == self.subj.close {
            self.handle_close(reply, payload);
        } else if subject.starts_with(&self.subj.pub_dot) {
            self.handle_publish(conn, reply, payload, now_ns);
        } else if let Some(_n) = subject.strip_prefix(&self.subj.ack_prefix) {
            self.handle_ack(subject, payload);
        } else if let Some(token) = subject.strip_prefix(&self.subj.reply_prefix) {
            if let Ok(token) = token.parse::<u64>() {
                self.handle_reply(conn, token);
            }
        }
    }

    /// Fires every timer due at `now_ms`.
    pub fn on_timer(&mut self, now_ms: u64) {
        self.set_time(now_ms);
        let mut fired = Vec::new();
        // Handlers arm timers only in the future, so this ends; the bound is a backstop.
        for _ in 0..64 {
            fired.clear();
            self.fx.wheel.advance(now_ms, &mut fired);
            if fired.is_empty() {
                break;
            }
            for timer in fired.drain(..) {
                self.fire(timer);
            }
        }
    }

    /// How many timers are armed (heartbeats, request timeouts, ack waits, limits).
    pub fn timers_armed(&self) -> usize {
        self.fx.wheel.len()
    }

    /// When [`StanServer::on_timer`] must next be called.
    pub fn next_deadline(&self) -> Option<u64> {
        self.fx.wheel.next_deadline()
    }

    /// Everything to publish (and subscribe), in order. Flushes the channels written since
    /// the last call first; the PubAcks of a failed flush carry the store's error. With the
    /// file store's sync deferred use [`StanServer::take_commit`], which also says what to
    /// sync before publishing.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        self.take_commit().outputs
    }

    /// [`StanServer::take_outputs`] with the files the flush left to fdatasync: the driver
    /// holds the publishes until those syncs completed (`stan/commit.rs`).
    pub fn take_commit(&mut self) -> Commit {
        self.flush_pending();
        Commit {
            outputs: std::mem::take(&mut self.fx.out),
            files: std::mem::take(&mut self.unsynced),
            durable: !std::mem::take(&mut self.unsynced_lost),
        }
    }

    /// A deferred fdatasync failed: what it covered may be lost (the driver sent none of its
    /// outputs). The next flush rewrites the server-state log as a snapshot, so the state is
    /// whole on disk again.
    pub fn sync_failed(&mut self) {
        self.state_writer.needs_snapshot = true;
    }

    /// Flushes written channels and queues the PubAcks that waited for it.
    pub(crate) fn flush_pending(&mut self) {
        let mut failed: HashMap<String, String> = HashMap::new();
        for name in self.dirty.drain(..) {
            if let Some(ch) = self.channels.get_mut(&name) {
                let flushed = ch.store.flush();
                if let Err(e) = flushed.and_then(|()| ch.store.take_unsynced(&mut self.unsynced)) {
                    failed.insert(name, e.to_string());
                }
            }
        }
        // Before anything of the batch is answered: an ack applied here is durable when its
        // effects (a release of MaxInflight, the next delivery) reach anyone (with a deferred
        // sync, when the driver lets them out).
        self.write_state();
        if let Some(log) = self.state_log.as_mut() {
            if let Err(e) = log.take_unsynced(&mut self.unsynced) {
                self.unsynced_lost = true;
                self.state_writer.needs_snapshot = true;
                self.state_writer.last_error = Some(e);
            }
        }
        for ack in self.pub_acks.drain(..) {
            let error = failed.get(&ack.channel).cloned().unwrap_or_default();
            let payload = proto::encode(&PubAck {
                guid: ack.guid,
                error,
            });
            self.fx.publish(&ack.reply, "", payload);
        }
    }

    fn set_time(&mut self, now_ms: u64) {
        self.fx.now_ms = self.fx.now_ms.max(now_ms);
    }

    pub(crate) fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Heartbeat { client, generation } => self.heartbeat_due(&client, generation),
            Timer::RequestTimeout { token } => self.request_timed_out(token),
            Timer::Ghost { client, generation } => self.ghost_due(&client, generation),
            Timer::AckWait {
                channel,
                chan_gen,
                sub,
            } => {
                let fx = &mut self.fx;
                if let Some(ch) = self.channels.get_mut(&channel) {
                    if ch.generation == chan_gen {
                        let mut ctx = Ctx {
                            channel: &channel,
                            chan_gen,
                            fx,
                        };
                        subs::ack_expired(&mut ctx, &mut ch.store, &mut ch.subs, sub);
                    }
                }
            }
            Timer::MaxAge { channel, chan_gen } => self.age_due(&channel, chan_gen),
            Timer::Inactivity { channel, chan_gen } => self.inactivity_due(&channel, chan_gen),
        }
    }

    // ---- publish ----

    fn handle_publish(&mut self, conn: ConnId, reply: &str, payload: &[u8], now_ns: i64) {
        let Some(pm) = proto::decode::<PubMsg>(payload) else {
            if proto::decode::<CtrlMsg>(payload).is_none() {
                self.pub_ack_now(reply, "", &StanError::InvalidPubReq);
            }
            return;
        };
        if pm.guid.is_empty() || !valid_channel(&pm.subject) {
            return self.pub_ack_now(reply, &pm.guid, &StanError::InvalidPubReq);
        }
        let Some(client_id) = self.clients.valid_id(&pm.client_id, &pm.conn_id) else {
            return self.pub_ack_now(reply, &pm.guid, &StanError::InvalidPubReq);
        };
        self.touch(&client_id, conn);
        if let Err(e) = self.ensure_channel(&pm.subject) {
            return self.pub_ack_now(reply, &pm.guid, &e);
        }
        let now_ms = self.fx.now_ms;
        let wall = self.wall_offset_ns;
        let Some(ch) = self.channels.get_mut(&pm.subject) else {
            return;
        };
        let ts = now_ns.max(ch.last_ts_ns);
        if let Err(e) = ch.store.append(pm.reply.as_bytes(), &pm.data, ts) {
            return self.pub_ack_now(reply, &pm.guid, &StanError::Store(e.to_string()));
        }
        ch.last_ts_ns = ts;
        self.fx.stats.in_msgs += 1;
        self.fx.stats.in_bytes += pm.data.len() as u64;
        let _ = ch.store.enforce(ch.limits.msgs_max, ch.limits.bytes_max);
        ch.last_activity_ms = now_ms;
        let fx = &mut self.fx;
        if ch.limits.inactivity_max_ms > 0 {
            rearm(
                fx,
                &mut ch.inactivity_timer,
                now_ms + ch.limits.inactivity_max_ms,
                || Timer::Inactivity {
                    channel: pm.subject.clone(),
                    chan_gen: ch.generation,
                },
            );
        }
        if ch.limits.age_max_ms > 0 && ch.age_timer.is_none() {
            let age_ns = (ch.limits.age_max_ms as i64).saturating_mul(1_000_000);
            let at = wall_to_ms(ts.saturating_add(age_ns), wall).max(now_ms);
            let timer = Timer::MaxAge {
                channel: pm.subject.clone(),
                chan_gen: ch.generation,
            };
            ch.age_timer = Some(fx.wheel.insert(at, timer));
        }
        let mut ctx = Ctx {
            channel: &pm.subject,
            chan_gen: ch.generation,
            fx,
        };
        subs::deliver_all(&mut ctx, &mut ch.store, &mut ch.subs);
        if !self.dirty.contains(&pm.subject) {
            self.dirty.push(pm.subject.clone());
        }
        if !reply.is_empty() {
            self.pub_acks.push(PendingAck {
                channel: pm.subject,
                reply: reply.to_string(),
                guid: pm.guid,
            });
        }
    }

    fn pub_ack_now(&mut self, reply: &str, guid: &str, err: &StanError) {
        let payload = proto::encode(&PubAck {
            guid: guid.to_string(),
            error: err.to_string(),
        });
        self.fx.publish(reply, "", payload);
    }

    /// Finds or creates a channel (max_channels, case conflicts).
    pub(crate) fn ensure_channel(&mut self, name: &str) -> Result<(), StanError> {
        if self.channels.contains_key(name) {
            return Ok(());
        }
        let lc = name.to_lowercase();
        if let Some(existing) = self.channels_lc.get(&lc) {
            return Err(StanError::ChannelCase {
                name: name.to_string(),
                existing: existing.clone(),
            });
        }
        let max = self.opts.limits.channels_max;
        if max > 0 && self.channels.len() as u64 >= max {
            return Err(StanError::TooManyChannels);
        }
        self.open_channel(name)
            .map_err(|e| StanError::Store(e.to_string()))
    }

    /// Opens (or creates) the log of `name`, with no limit check (a recovered channel).
    pub(crate) fn open_channel(&mut self, name: &str) -> Result<(), crate::store::StoreError> {
        if self.channels.contains_key(name) {
            return Ok(());
        }
        let mut store = self.factory.create(name)?;
        // A recovered log: new timestamps continue after its last one.
        let (_, last) = store.first_last();
        let last_ts_ns = match store.lookup(last) {
            Ok(Some(m)) => m.ts_ns,
            _ => 0,
        };
        self.next_chan_gen += 1;
        let limits = self.opts.limits.for_channel(name);
        let now = self.fx.now_ms;
        let inactivity_timer = (limits.inactivity_max_ms > 0).then(|| {
            let timer = Timer::Inactivity {
                channel: name.to_string(),
                chan_gen: self.next_chan_gen,
            };
            self.fx.wheel.insert(now + limits.inactivity_max_ms, timer)
        });
        self.channels.insert(
            name.to_string(),
            Channel {
                generation: self.next_chan_gen,
                store,
                subs: SubStore::default(),
                limits,
                last_ts_ns,
                last_activity_ms: now,
                inactivity_timer,
                age_timer: None,
            },
        );
        self.channels_lc
            .insert(name.to_lowercase(), name.to_string());
        Ok(())
    }

    fn age_due(&mut self, name: &str, chan_gen: u64) {
        let now_ms = self.fx.now_ms;
        let wall = self.wall_offset_ns;
        let Some(ch) = self.channels.get_mut(name) else {
            return;
        };
        if ch.generation != chan_gen {
            return;
        }
        ch.age_timer = None;
        let age_ns = (ch.limits.age_max_ms as i64).saturating_mul(1_000_000);
        let now_ns = (now_ms as i64)
            .saturating_mul(1_000_000)
            .saturating_add(wall);
        let _ = ch.store.expire(now_ns.saturating_sub(age_ns));
        if let Ok(Some(first_ts)) = ch.store.first_ts_ns() {
            let at = wall_to_ms(first_ts.saturating_add(age_ns), wall).max(now_ms + 1);
            let timer = Timer::MaxAge {
                channel: name.to_string(),
                chan_gen,
            };
            ch.age_timer = Some(self.fx.wheel.insert(at, timer));
        }
        if !self.dirty.iter().any(|d| d == name) {
            self.dirty.push(name.to_string());
        }
    }

    fn inactivity_due(&mut self, name: &str, chan_gen: u64) {
        let now = self.fx.now_ms;
        let Some(ch) = self.channels.get_mut(name) else {
            return;
        };
        if ch.generation != chan_gen {
            return;
        }
        ch.inactivity_timer = None;
        if ch.subs.has_active() {
            return;
        }
        let deadline = ch.last_activity_ms + ch.limits.inactivity_max_ms;
        if now < deadline {
            let timer = Timer::Inactivity {
                channel: name.to_string(),
                chan_gen,
            };
            ch.inactivity_timer = Some(self.fx.wheel.insert(deadline, timer));
            return;
        }
        self.delete_channel(name);
    }

    /// Starts the max_inactivity countdown of a channel that has no active subscription.
    pub(crate) fn maybe_start_inactivity(&mut self, name: &str) {
        let now = self.fx.now_ms;
        let Some(ch) = self.channels.get_mut(name) else {
            return;
        };
        if ch.limits.inactivity_max_ms == 0 || ch.subs.has_active() || ch.inactivity_timer.is_some()
        {
            return;
        }
        let timer = Timer::Inactivity {
            channel: name.to_string(),
            chan_gen: ch.generation,
        };
        ch.inactivity_timer = Some(
            self.fx
                .wheel
                .insert(now + ch.limits.inactivity_max_ms, timer),
        );
    }

    /// Deletes a channel with its messages and every subscription record on it.
    fn delete_channel(&mut self, name: &str) {
        let Some(ch) = self.channels.remove(name) else {
            return;
        };
        self.channels_lc.remove(&name.to_lowercase());
        self.dirty.retain(|d| d != name);
        self.fx.journal.event(|| Ev::ChannelDel(name.to_string()));
        for (id, sub) in &ch.subs.subs {
            if let Some(h) = sub.ack_timer {
                self.fx.wheel.cancel(h);
            }
            if let Some(c) = self.clients.get_mut(&sub.client_id) {
                c.subs.retain(|(n, s)| !(n == name && s == id));
            }
        }
        for h in [ch.inactivity_timer, ch.age_timer].into_iter().flatten() {
            self.fx.wheel.cancel(h);
        }
        self.factory.remove(name, ch.store);
    }
}

/// Moves (or arms) a timer to `at_ms`.
fn rearm(fx: &mut Fx, slot: &mut Option<TimerHandle>, at_ms: u64, make: impl FnOnce() -> Timer) {
    if let Some(h) = *slot {
        if fx.wheel.reset(h, at_ms) {
            return;
        }
    }
    *slot = Some(fx.wheel.insert(at_ms, make()));
}

/// A wall-clock time (Unix ns) on the core's ms clock, given `now_ns - now_ms * 1e6`.
fn wall_to_ms(wall_ns: i64, offset_ns: i64) -> u64 {
    let ms = wall_ns.saturating_sub(offset_ns) / 1_000_000;
    ms.max(0) as u64
}
