//! A shard: one executor on one core and everything it owns.
//!
//! A shard owns its connections for life, their subscriptions, its subject index, its replica
//! of the cross-shard interest table, and one outbox per peer. Nothing here is shared with
//! another thread: state sits in `RefCell`s that are never borrowed across an `.await`, and
//! other shards are reached only through batches of [`mesh::Item`]s over [`links::Links`].
//!
//! Module map: [`client`] (per-connection state), [`conn`] (what each client op does),
//! [`dispatch`] (where a published message goes), [`interest`] (the cross-shard table),
//! [`io`] (the only socket code: reader, writer, pinger, acceptor), [`mesh`] (the message
//! enum).

pub mod client;
pub mod conn;
pub mod dispatch;
pub mod interest;
pub mod io;
pub mod jetstream;
pub mod js_consumers;
pub mod js_monitor;
pub mod links;
pub mod mesh;
pub mod outq;
pub mod stan;
pub mod stan_monitor;
pub mod stats;
pub mod system;
pub mod transport;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use slab::Slab;

use self::client::{Client, SubKey};
use self::interest::Interest;
use self::mesh::{Item, ShardId};
use self::outq::ChunkPool;
use crate::account::AccountId;
use crate::auth::Authenticator;
use crate::config::Options;
use crate::control::{Control, Live};
use crate::monitor::snapshot::ConnSnapshot;
use crate::proto::encode;
use crate::runtime::Notify;
use crate::sublist::{FastMap, Sublist};

/// What waits for one peer's sender task: items, and the payload bytes they carry.
#[derive(Default)]
pub struct Outbox {
    pub items: Vec<Item>,
    pub payload_bytes: usize,
    /// Interest changes, sent ahead of the items (see `Links::send_interest`).
    pub interest: Vec<mesh::InterestChange>,
}

/// A SUB whose interest was announced ahead of the ops before it in its read: the address of
/// its subject in the read's frame (which op it is), and what was announced.
pub struct AnnouncedSub {
    pub at: usize,
    pub account: AccountId,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
}

/// A subscription of a local client.
pub struct Subscription {
    pub client: Rc<Client>,
    /// The account whose index holds it (the client's at SUB time).
    pub account: AccountId,
    pub sid: Bytes,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    /// Auto-unsubscribe after this many messages; 0 = no limit.
    pub max_msgs: u64,
    pub delivered: u64,
    /// Messages queued to it since its client's outbound queue was last written out
    /// (counted for `drain_epoch` of the client; `/subsz`'s `pending_msgs`).
    pub queued: u64,
    pub queued_epoch: u64,
}

/// Server-wide facts every shard needs, fixed at start.
pub struct ServerIdentity {
    pub server_id: String,
    pub server_name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Default)]
pub struct ShardStats {
    pub in_msgs: Cell<u64>,
    pub out_msgs: Cell<u64>,
    pub in_bytes: Cell<u64>,
    pub out_bytes: Cell<u64>,
    pub slow_consumers: Cell<u64>,
    pub stale_connections: Cell<u64>,
}

pub struct Shard {
    pub id: ShardId,
    pub shards: usize,
    /// The options in force; replaced when the config is reloaded.
    pub opts: RefCell<Rc<Options>>,
    /// What the signal and monitoring threads share with the shards.
    pub control: Arc<Control>,
    pub identity: Rc<ServerIdentity>,
    pub clients: RefCell<Slab<Rc<Client>>>,
    pub subs: RefCell<Slab<Subscription>>,
    /// One subject index per account, indexed by account id (grown on first use).
    pub sublists: RefCell<Vec<Sublist<SubKey>>>,
    /// Some account has imports or exports: publishes look at the account routes.
    pub account_routes: Cell<bool>,
    /// Requests this shard passed through service imports, waiting for their answers.
    pub service_replies: RefCell<crate::account::reply::ServiceReplies>,
    /// JetStream's streams, on the shard that owns them (see `jetstream.rs`).
    pub js: RefCell<Option<jetstream::JsShard>>,
    /// Some stream captures subjects here: deliveries look at the streams.
    pub js_capture: Cell<bool>,
    /// Stored publishes wait for the next commit.
    pub js_pending: Cell<bool>,
    /// Wakes the JetStream timer task (a timer may now be due sooner).
    pub js_wake: Notify,
    /// Wakes the group commit's sync task (`jetstream::run_syncs`) when a sync is due.
    pub js_sync_wake: Notify,
    /// The wheel deadline (Unix ms) the timer task sleeps until; `u64::MAX`: none.
    pub js_sleeping_until: Cell<u64>,
    /// NATS Streaming's core, on shard 0 (see `stan.rs`).
    pub stan: RefCell<Option<stan::StanDriver>>,
    /// The core's internal subjects: routed messages matching them go to it.
    pub stan_subjects: RefCell<Vec<Bytes>>,
    pub stan_capture: Cell<bool>,
    /// The core has outputs to send at the end of the batch.
    pub stan_pending: Cell<bool>,
    /// Wakes the STAN timer task.
    pub stan_wake: Notify,
    /// Wakes the STAN file store's sync task (`stan::run_syncs`) when a sync is due.
    pub stan_sync_wake: Notify,
    /// Some push consumer exists: interest changes may bind or unbind it.
    pub js_push: Cell<bool>,
    /// Interest changed since push consumers were last checked.
    pub js_push_check: Cell<bool>,
    pub interest: RefCell<Interest>,
    /// Items queued for each peer since the last flush.
    pub outbox: RefCell<Vec<Outbox>>,
    /// The links to the other shards (none with one shard).
    pub links: Option<Arc<links::Links>>,
    /// A peer applied batches this shard was waiting on (readers stalled by back-pressure).
    pub outbox_drained: Notify,
    /// A peer acknowledged interest changes.
    pub interest_acked: Notify,
    /// Clients that got bytes since the last flush.
    pub dirty: RefCell<Vec<Rc<Client>>>,
    /// Free outbound chunks for this shard's connections.
    pub chunks: ChunkPool,
    /// Clients whose outbound buffer passed the stall mark: the task delivering to them
    /// pauses (briefly) so their writers can drain, as nats-server stalls fast producers.
    pub stalled: RefCell<Vec<Rc<Client>>>,
    /// Round-robin positions per account: which shard serves a queue group next
    /// (multi-shard).
    pub rr_shard: RefCell<Vec<FastMap<Bytes, u32>>>,
    /// Round-robin positions per account: which local member of a queue group serves next.
    pub rr_member: RefCell<Vec<FastMap<Bytes, u32>>>,
    /// Set when the server stops; wakes the acceptor and the shard's main task.
    pub shutdown: Notify,
    pub stopping: Cell<bool>,
    /// Authenticator and TLS configuration in force (replaced with `opts` on reload).
    pub live: RefCell<Arc<Live>>,
    /// Closed connections kept for `/connz?state=closed`, oldest first.
    pub closed: RefCell<VecDeque<ConnSnapshot>>,
    /// The acceptor runs on this shard and has not stopped yet.
    pub accepting: Cell<bool>,
    /// A second descriptor of the listening socket, to stop it at once.
    pub listen_control: RefCell<Option<std::os::fd::OwnedFd>>,
    /// Notified when the acceptor stops (lame duck mode waits for it).
    pub acceptor_done: Notify,
    pub stats: ShardStats,
}

impl Shard {
    pub fn new(
        id: ShardId,
        shards: usize,
        opts: Rc<Options>,
        identity: Rc<ServerIdentity>,
        control: Arc<Control>,
        links: Option<Arc<links::Links>>,
    ) -> Self {
        let cache = opts.limits.sublist_cache_entries_max;
        Shard {
            id,
            shards,
            identity,
            clients: RefCell::new(Slab::new()),
            subs: RefCell::new(Slab::new()),
            sublists: RefCell::new(vec![Sublist::new(cache)]),
            account_routes: Cell::new(control.live().auth.accounts.any_routes()),
            service_replies: RefCell::new(Default::default()),
            js: RefCell::new(None),
            js_capture: Cell::new(false),
            js_pending: Cell::new(false),
            js_wake: Notify::default(),
            js_sync_wake: Notify::default(),
            js_sleeping_until: Cell::new(u64::MAX),
            stan: RefCell::new(None),
            stan_subjects: RefCell::new(Vec::new()),
            stan_capture: Cell::new(false),
            stan_pending: Cell::new(false),
            stan_wake: Notify::default(),
            stan_sync_wake: Notify::default(),
            js_push: Cell::new(false),
            js_push_check: Cell::new(false),
            interest: RefCell::new(Interest::new(id, shards, cache)),
            outbox: RefCell::new((0..shards).map(|_| Outbox::default()).collect()),
            links,
            outbox_drained: Notify::default(),
            interest_acked: Notify::default(),
            dirty: RefCell::new(Vec::new()),
            chunks: ChunkPool::new(opts.limits.out_chunks_pooled_max),
            stalled: RefCell::new(Vec::new()),
            rr_shard: RefCell::new(vec![FastMap::default()]),
            rr_member: RefCell::new(vec![FastMap::default()]),
            shutdown: Notify::default(),
            stopping: Cell::new(false),
            accepting: Cell::new(false),
            live: RefCell::new(control.live()),
            closed: RefCell::new(VecDeque::new()),
            listen_control: RefCell::new(None),
            acceptor_done: Notify::default(),
            stats: ShardStats::default(),
            opts: RefCell::new(opts),
            control,
        }
    }

    /// Runs `f` on account `account`'s subject index.
    pub fn with_sublist<R>(
        &self,
        account: AccountId,
        f: impl FnOnce(&mut Sublist<SubKey>) -> R,
    ) -> R {
        let mut lists = self.sublists.borrow_mut();
        let i = account as usize;
        while lists.len() <= i {
            let cache = self.opts.borrow().limits.sublist_cache_entries_max;
            lists.push(Sublist::new(cache));
        }
        f(&mut lists[i])
    }

    /// The options in force now.
    pub fn opts(&self) -> Rc<Options> {
        self.opts.borrow().clone()
    }

    pub fn multi(&self) -> bool {
        self.shards > 1
    }

    /// Queues an item for a peer; it leaves at the next [`Shard::flush`].
    pub fn push_item(&self, to: ShardId, item: Item) {
        debug_assert_ne!(to, self.id, "a shard never sends to itself");
        let mut outbox = self.outbox.borrow_mut();
        let o = &mut outbox[to];
        if let Item::Deliver(d) = &item {
            o.payload_bytes += d.msg.spans.payload.len();
        }
        o.items.push(item);
    }

    /// Appends to a client's outbound queue with `write`, which adds at most `need` bytes
    /// (more is correct, only slower), and marks the client dirty.
    pub fn queue_out<R>(
        &self,
        c: &Rc<Client>,
        need: usize,
        write: impl FnOnce(&mut BytesMut) -> R,
    ) -> R {
        let r = c.out.borrow_mut().append(&self.chunks, need, write);
        self.mark_dirty(c);
        r
    }

    /// Queues an `INFO` line with the document `json`.
    pub fn queue_info(&self, c: &Rc<Client>, json: &[u8]) {
        self.queue_out(c, encode::info_len(json), |b| encode::info(b, json));
    }

    /// Marks a client as having new outbound bytes.
    pub fn mark_dirty(&self, c: &Rc<Client>) {
        if !c.dirty.replace(true) {
            self.dirty.borrow_mut().push(c.clone());
        }
    }

    /// End of a batch: wake each client writer with new bytes once, and send each peer what
    /// was queued for it as one batch.
    pub fn flush(&self) {
        if self.js_push_check.replace(false) {
            self.js_refresh_push();
        }
        if self.js_pending.get() {
            self.js_commit();
        }
        if self.stan_pending.get() {
            self.stan_flush();
        }
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        for c in &dirty {
            c.dirty.set(false);
            c.writer_wake.notify();
        }
        // Hand the (now empty) list back so its capacity is reused.
        let mut d = self.dirty.borrow_mut();
        if d.is_empty() {
            let mut dirty = dirty;
            dirty.clear();
            *d = dirty;
        }
        drop(d);
        if let Some(links) = &self.links {
            let mut outbox = self.outbox.borrow_mut();
            for (to, o) in outbox.iter_mut().enumerate() {
                if !o.interest.is_empty() {
                    links.send_interest(self.id, to, std::mem::take(&mut o.interest));
                }
                if !o.items.is_empty() {
                    let o = std::mem::take(o);
                    let batch = links::Batch {
                        items: o.items,
                        payload_bytes: o.payload_bytes,
                    };
                    links.send(self.id, to, batch);
                }
            }
        }
    }

    /// Whether what this shard has sent some peer and the peer has not applied yet is over
    /// the bound in items or payload bytes, so local readers should wait (for
    /// [`Shard::outbox_drained`]: the peer that brings it back under says so).
    pub fn outbox_full(&self) -> bool {
        let Some(links) = &self.links else {
            return false;
        };
        let opts = self.opts.borrow();
        let limits = &opts.limits;
        (0..self.shards).any(|to| {
            to != self.id
                && links.over(
                    self.id,
                    to,
                    limits.shard_outbox_items_max,
                    limits.shard_outbox_bytes_max,
                )
        })
    }

    /// Outbound bytes above which a client's producers stall (75 % of max_pending).
    pub fn stall_mark_bytes(&self) -> usize {
        self.opts.borrow().limits.max_pending_bytes / 4 * 3
    }

    /// Until when a producer starting a batch at `now` may stall for its consumers.
    pub fn stall_deadline_from(&self, now: std::time::Instant) -> std::time::Instant {
        now + std::time::Duration::from_millis(self.opts.borrow().limits.producer_stall_max_ms)
    }

    pub fn has_stalled(&self) -> bool {
        !self.stalled.borrow().is_empty()
    }

    pub fn tls_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.live.borrow().tls.clone()
    }

    pub fn auth(&self) -> Arc<Authenticator> {
        self.live.borrow().auth.clone()
    }

    /// Takes reloaded options, authenticator and TLS configuration. When the authenticator
    /// changed, every connected client is checked again, as nats-server does on reload.
    pub fn take_live(&self, live: &Arc<Live>) {
        *self.opts.borrow_mut() = Rc::new((*live.opts).clone());
        let previous = std::mem::replace(&mut *self.live.borrow_mut(), live.clone());
        self.account_routes.set(live.auth.accounts.any_routes());
        if !Arc::ptr_eq(&previous.auth, &live.auth) {
            for c in self.client_list() {
                self.reauthorize(&c);
            }
            self.flush();
        }
    }

    /// Every client of this shard, in slot order.
    pub fn client_list(&self) -> Vec<Rc<Client>> {
        self.clients
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    pub fn client_count(&self) -> usize {
        self.clients.borrow().len()
    }
}
