//! One client connection's state, owned by its shard.
//!
//! Invariants: the outbound buffer never holds more than `max_pending_bytes` (a client that
//! would pass it is closed as a slow consumer, nats-server's rule, and loses the message);
//! `dirty` is true exactly while the client sits in its shard's dirty list, so the writer is
//! woken once per batch however many messages the batch queued; once `closing` is set it is
//! never cleared.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::outq::OutQueue;

use crate::auth::{ClientPermissions, UserIdentity};
use crate::proto::info::{ConnectOptions, NamedCredential};
use crate::runtime::{self, Direction, Notify, Socket};

/// Index of a subscription in its shard's subscription slab.
pub type SubKey = usize;

/// Why a connection ended (the reason nats-server reports in /connz).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ProtocolViolation,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    ServerShutdown,
    AuthenticationTimeout,
    AuthenticationViolation,
    MaxConnectionsExceeded,
    ReadError,
    WriteError,
}

pub struct Client {
    pub cid: u64,
    /// See [`Client::tag`].
    log_prefix: RefCell<String>,
    /// Index in the shard's client slab.
    pub slot: usize,
    /// The connection's socket, held here only to shut it down (which ends the reader and
    /// the writer); shared with them, so its descriptor stays open while this `Client` lives.
    pub control: Rc<Socket>,
    pub ip: String,
    pub port: u16,
    pub started: Instant,
    /// When the client last sent an op (set once per read).
    pub last_activity: Cell<Instant>,
    /// When the last server PING went out, until its PONG comes back.
    pub ping_sent_at: Cell<Option<Instant>>,
    /// The last measured round trip (zero until measured).
    pub rtt: Cell<Duration>,
    pub opts: RefCell<ConnectOptions>,
    /// Copies of the CONNECT flags the delivery path reads for every message.
    pub echo: Cell<bool>,
    pub headers: Cell<bool>,
    /// A CONNECT has been accepted.
    pub connected: Cell<bool>,
    /// SUBs of the read being handled whose interest was announced to the other shards
    /// before the ops ahead of them ([`super::Shard::announce_ahead`]).
    pub announced_ahead: RefCell<Vec<super::AnnouncedSub>>,
    /// Send the `connect_info` INFO after the next PONG (protocol 1, first PING).
    pub info_after_pong: Cell<bool>,
    /// A PONG answered a PING after CONNECT: a protocol-1 client may now get INFO updates.
    pub pong_sent: Cell<bool>,
    /// This connection holds one of the server's `max_connections` places.
    pub admitted: Cell<bool>,
    /// The nonce this connection's INFO carried (nkey users sign it); empty if none.
    pub nonce: String,
    /// Who the client authenticated as (None: not yet, or no auth configured).
    pub identity: RefCell<Option<Arc<UserIdentity>>>,
    /// The account this connection publishes and subscribes in, resolved once at CONNECT.
    pub account: Cell<crate::account::AccountId>,
    /// The user's permissions with this connection's caches; None: everything allowed.
    pub perms: RefCell<Option<ClientPermissions>>,
    /// Whether deliveries to this client go through its permissions (deny lists that a
    /// wildcard subscription may cover, or response permits to record): one flag read per
    /// delivery instead of a borrow.
    pub perms_on_delivery: Cell<bool>,
    /// TLS version and cipher suite, once the handshake is done.
    pub tls: RefCell<Option<(String, String)>>,
    pub out: RefCell<OutQueue>,
    pub dirty: Cell<bool>,
    pub closing: Cell<Option<CloseReason>>,
    /// Whether the writer flushes what is queued before closing (after an `-ERR`: yes).
    pub flush_on_close: Cell<bool>,
    pub writer_wake: Notify,
    /// Notified each time the writer has handed a batch to the socket.
    pub drained: Notify,
    /// Counts the times the writer emptied the outbound queue onto the socket.
    pub drain_epoch: Cell<u64>,
    /// The client is in its shard's stalled list (its outbound buffer passed the stall mark).
    pub stalled: Cell<bool>,
    /// Notified once, when closing starts (the pinger waits on it).
    pub closed_wake: Notify,
    pub pings_out: Cell<u32>,
    /// An op other than PONG arrived since the last ping tick.
    pub active: Cell<bool>,
    /// sid → subscription.
    pub subs: RefCell<HashMap<Bytes, SubKey>>,
    /// The interest epoch of this shard the client's last SUB needs every shard to have
    /// applied before a PONG may answer it.
    pub interest_epoch_needed: Cell<u64>,
    pub in_msgs: Cell<u64>,
    pub in_bytes: Cell<u64>,
    pub out_msgs: Cell<u64>,
    pub out_bytes: Cell<u64>,
}

impl Client {
    pub fn new(
        cid: u64,
        slot: usize,
        control: Rc<Socket>,
        ip: String,
        port: u16,
        nonce: String,
    ) -> Client {
        let now = Instant::now();
        Client {
            log_prefix: RefCell::new(base_tag(&ip, port, cid)),
            cid,
            slot,
            control,
            ip,
            port,
            started: now,
            last_activity: Cell::new(now),
            ping_sent_at: Cell::new(None),
            rtt: Cell::new(Duration::ZERO),
            opts: RefCell::new(ConnectOptions::default()),
            echo: Cell::new(true),
            headers: Cell::new(false),
            connected: Cell::new(false),
            announced_ahead: RefCell::new(Vec::new()),
            info_after_pong: Cell::new(false),
            pong_sent: Cell::new(false),
            admitted: Cell::new(false),
            nonce,
            identity: RefCell::new(None),
            account: Cell::new(crate::account::GLOBAL_ACCOUNT),
            perms: RefCell::new(None),
            perms_on_delivery: Cell::new(false),
            tls: RefCell::new(None),
            out: RefCell::new(OutQueue::default()),
            dirty: Cell::new(false),
            closing: Cell::new(None),
            flush_on_close: Cell::new(false),
            writer_wake: Notify::default(),
            drained: Notify::default(),
            drain_epoch: Cell::new(0),
            stalled: Cell::new(false),
            closed_wake: Notify::default(),
            pings_out: Cell::new(0),
            active: Cell::new(false),
            subs: RefCell::new(HashMap::new()),
            interest_epoch_needed: Cell::new(0),
            in_msgs: Cell::new(0),
            in_bytes: Cell::new(0),
            out_msgs: Cell::new(0),
            out_bytes: Cell::new(0),
        }
    }

    /// Whether the client takes INFO updates (lame duck mode): protocol 1 and past its
    /// first PING after CONNECT, as nats-server decides.
    pub fn wants_async_info(&self) -> bool {
        self.connected.get() && self.pong_sent.get() && self.opts.borrow().protocol >= 1
    }

    /// The prefix of nats-server's log lines about a client: `ip:port - cid:N`, and once
    /// CONNECT has passed, the client's name and its user, each Go-quoted when present
    /// (`... - cid:7 - "svc" - "$G/user:bob"`).
    pub fn tag(&self) -> std::cell::Ref<'_, String> {
        self.log_prefix.borrow()
    }

    /// `-V`: logs the trace line `line` makes (only when tracing) under the client's prefix.
    pub fn trace(&self, line: impl FnOnce() -> String) {
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("{} - {}", self.tag(), line());
        }
    }

    /// The user part of the log prefix. nats-server names what CONNECT gave, the nkey
    /// before the user name before the token, whether or not auth asked for it; with none
    /// given, the no_auth_user the client was bound to.
    fn user_in_tag(&self) -> Option<String> {
        match self.opts.borrow().named_credential() {
            Some(NamedCredential::Nkey(k)) => Some(format!("$G/nkey:{k}")),
            Some(NamedCredential::User(u)) => Some(format!("$G/user:{u}")),
            Some(NamedCredential::Token) => Some("$G/token".into()),
            None => self.identity.borrow().as_ref().and_then(|i| i.log_name()),
        }
    }

    /// Names the client's name and user in its log prefix (after CONNECT or a reload).
    pub fn update_tag(&self) {
        let mut tag = base_tag(&self.ip, self.port, self.cid);
        let name = self.opts.borrow().name.clone();
        if !name.is_empty() {
            tag.push_str(" - ");
            tag.push_str(&crate::gofmt::quote(&name));
        }
        if let Some(user) = self.user_in_tag() {
            tag.push_str(" - ");
            tag.push_str(&crate::gofmt::quote(&user));
        }
        *self.log_prefix.borrow_mut() = tag;
    }

    /// The name the client authenticated as ("" without auth).
    pub fn user_name(&self) -> String {
        self.identity
            .borrow()
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_default()
    }

    /// Binds the connection to `identity` and its permissions.
    pub fn set_identity(&self, identity: Arc<UserIdentity>) {
        let perms = identity.permissions.clone().map(ClientPermissions::new);
        self.perms_on_delivery.set(perms.as_ref().is_some_and(|p| {
            p.permissions().filters_deliveries() || p.permissions().responses().is_some()
        }));
        *self.perms.borrow_mut() = perms;
        self.account.set(identity.account);
        *self.identity.borrow_mut() = Some(identity);
    }

    /// Forgets the user (auth was turned off by a reload): everything is allowed.
    pub fn clear_identity(&self) {
        self.perms_on_delivery.set(false);
        *self.perms.borrow_mut() = None;
        *self.identity.borrow_mut() = None;
        self.account.set(crate::account::GLOBAL_ACCOUNT);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.get().is_some()
    }

    /// Starts closing. With `flush`, the writer sends what is queued (an `-ERR`, say) and
    /// then ends the socket; without, the socket ends now and queued bytes are dropped.
    /// Either way the reader's pending read returns 0 and it cleans up.
    pub fn close(&self, reason: CloseReason, flush: bool) {
        if self.is_closing() {
            return;
        }
        self.closing.set(Some(reason));
        self.flush_on_close.set(flush);
        if !flush {
            self.out.borrow_mut().clear();
            runtime::shutdown(&self.control, Direction::Both);
        }
        self.writer_wake.notify();
        self.closed_wake.notify();
    }
}

/// `ip:port - cid:N`, how every client's log prefix starts (see [`Client::tag`]).
fn base_tag(ip: &str, port: u16, cid: u64) -> String {
    format!("{ip}:{port} - cid:{cid}")
}
