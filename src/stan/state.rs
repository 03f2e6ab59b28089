//! The server-state log of a file store, as pure functions over bytes: its records (prost
//! messages, like nats-streaming-server's `spb`), the framing, and recovery into a
//! [`ServerState`]. Messages are in the channel logs; this log holds everything else that
//! must survive a restart: the clients, the subscriptions (durables, queue groups, their
//! positions) and each subscription's pending (delivered, unacked) sequences.
//!
//! Format of `<root>/.server/state.log` (a name no channel directory can have: channel
//! directories escape `.`):
//!
//! ```text
//! header  "NXSS" version:u32 LE                      (8 bytes)
//! frame*  len:u32 LE  crc32c(payload):u32 LE  payload (a prost `Batch`)
//! ```
//!
//! Each frame is one flush of the core (everything that changed in one batch), applied whole
//! or not at all: recovery stops at the first frame that is short or fails its checksum and
//! reports where (a torn tail; nothing after it was answered). A snapshot is a file with one
//! frame holding the whole state; the core writes one at start (which also cuts a torn tail)
//! and when the appended frames outgrow it.
//!
//! A batch's events apply in order: first the structural ones as they happened (client added
//! or removed, subscription created, resumed, taken offline or deleted, channel deleted),
//! then one [`Progress`] per subscription whose pending set changed (its `last_sent` at the
//! flush, the sequences that became pending and those that stopped being pending) and one
//! [`GroupProgress`] per queue group touched. Progress for a subscription that does not exist
//! is ignored, so the order needs no cross-references.
//!
//! Invariants of a recovered state: every group entry has at least one subscription in its
//! channel with that group (member or shadow); no channel entry is empty.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

/// The first four bytes of the file.
pub const STATE_MAGIC: &[u8; 4] = b"NXSS";
/// The format version after the magic.
pub const STATE_VERSION: u32 = 1;
/// Header bytes (magic and version).
pub const STATE_HEADER_BYTES: usize = 8;
/// Bytes before each frame's payload (length and checksum).
pub const FRAME_HEADER_BYTES: usize = 8;

/// The service's own identity; the first event of every snapshot.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ServerRec {
    #[prost(string, tag = "1")]
    pub cluster_id: String,
    /// The token in every subscription's ack inbox (`_INBOX.<token>.ack.<id>`), kept across
    /// restarts so clients' acks still arrive.
    #[prost(string, tag = "2")]
    pub ack_token: String,
}

/// A registered client (its ConnectRequest).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ClientRec {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub hb_inbox: String,
    #[prost(bytes = "vec", tag = "3")]
    pub conn_id: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub protocol: i32,
    #[prost(int32, tag = "5")]
    pub ping_interval: i32,
    #[prost(int32, tag = "6")]
    pub ping_max_out: i32,
}

/// A subscription record, written when it is created, resumed or taken offline.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SubRec {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(uint64, tag = "2")]
    pub id: u64,
    /// Empty when offline (a closed durable, a durable queue group's shadow).
    #[prost(string, tag = "3")]
    pub client_id: String,
    #[prost(string, tag = "4")]
    pub durable_client_id: String,
    /// For a durable queue group `durable:queue`.
    #[prost(string, tag = "5")]
    pub qgroup: String,
    #[prost(string, tag = "6")]
    pub inbox: String,
    #[prost(string, tag = "7")]
    pub ack_inbox: String,
    #[prost(string, tag = "8")]
    pub durable_name: String,
    #[prost(bool, tag = "9")]
    pub is_durable: bool,
    #[prost(uint32, tag = "10")]
    pub max_inflight: u32,
    #[prost(uint64, tag = "11")]
    pub ack_wait_ms: u64,
    /// The start position resolved (a new record) or the position at the event.
    #[prost(uint64, tag = "12")]
    pub last_sent: u64,
}

#[derive(Clone, PartialEq, Eq, Message)]
pub struct SubDel {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(uint64, tag = "2")]
    pub id: u64,
}

/// What a subscription's delivery and acks changed during one batch.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Progress {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(uint64, tag = "2")]
    pub id: u64,
    #[prost(uint64, tag = "3")]
    pub last_sent: u64,
    /// Sequences now pending (delivered, not acked).
    #[prost(uint64, repeated, tag = "4")]
    pub added: Vec<u64>,
    /// Sequences no longer pending (acked, dropped, handed to another member).
    #[prost(uint64, repeated, tag = "5")]
    pub removed: Vec<u64>,
}

/// A queue group's shared position.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct GroupProgress {
    #[prost(string, tag = "1")]
    pub channel: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(uint64, tag = "3")]
    pub last_sent: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Oneof)]
pub enum Ev {
    #[prost(message, tag = "1")]
    Server(ServerRec),
    #[prost(message, tag = "2")]
    Client(ClientRec),
    #[prost(string, tag = "3")]
    ClientDel(String),
    #[prost(message, tag = "4")]
    Sub(SubRec),
    #[prost(message, tag = "5")]
    SubDel(SubDel),
    #[prost(message, tag = "6")]
    Progress(Progress),
    #[prost(message, tag = "7")]
    Group(GroupProgress),
    /// A channel deleted (max_inactivity) with every subscription on it.
    #[prost(string, tag = "8")]
    ChannelDel(String),
}

#[derive(Clone, PartialEq, Eq, Message)]
pub struct Event {
    #[prost(oneof = "Ev", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    pub ev: Option<Ev>,
}

/// One frame's payload.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub events: Vec<Event>,
}

/// A subscription as recovered: its record and pending sequences.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubState {
    pub rec: SubRec,
    pub pending: BTreeSet<u64>,
}

/// The subscriptions of one channel and its queue groups' positions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelState {
    pub subs: BTreeMap<u64, SubState>,
    /// Queue group → its `last_sent`.
    pub groups: BTreeMap<String, u64>,
}

/// Everything the state log describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerState {
    pub cluster_id: String,
    pub ack_token: String,
    pub clients: BTreeMap<String, ClientRec>,
    pub channels: BTreeMap<String, ChannelState>,
}

impl ServerState {
    /// Applies one event (see the module doc for the rules).
    pub fn apply(&mut self, ev: Ev) {
        match ev {
            Ev::Server(s) => {
                self.cluster_id = s.cluster_id;
                self.ack_token = s.ack_token;
            }
            Ev::Client(c) => {
                self.clients.insert(c.id.clone(), c);
            }
            Ev::ClientDel(id) => {
                self.clients.remove(&id);
            }
            Ev::Sub(rec) => {
                let ch = self.channels.entry(rec.channel.clone()).or_default();
                if !rec.qgroup.is_empty() {
                    let g = ch.groups.entry(rec.qgroup.clone()).or_insert(0);
                    *g = (*g).max(rec.last_sent);
                }
                match ch.subs.get_mut(&rec.id) {
                    Some(s) => {
                        let old = std::mem::replace(&mut s.rec, rec).qgroup;
                        // Only a damaged log changes a record's group; keep the invariant.
                        prune_group(ch, &old);
                    }
                    None => {
                        let s = SubState {
                            rec,
                            pending: BTreeSet::new(),
                        };
                        ch.subs.insert(s.rec.id, s);
                    }
                }
            }
            Ev::SubDel(d) => self.remove_sub(&d.channel, d.id),
            Ev::Progress(p) => {
                let Some(s) = self
                    .channels
                    .get_mut(&p.channel)
                    .and_then(|ch| ch.subs.get_mut(&p.id))
                else {
                    return;
                };
                s.rec.last_sent = p.last_sent;
                s.pending.extend(p.added);
                for seq in p.removed {
                    s.pending.remove(&seq);
                }
            }
            Ev::Group(g) => {
                if let Some(last) = self
                    .channels
                    .get_mut(&g.channel)
                    .and_then(|ch| ch.groups.get_mut(&g.name))
                {
                    *last = g.last_sent;
                }
            }
            Ev::ChannelDel(name) => {
                self.channels.remove(&name);
            }
        }
    }

    fn remove_sub(&mut self, channel: &str, id: u64) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let Some(gone) = ch.subs.remove(&id) else {
            return;
        };
        prune_group(ch, &gone.rec.qgroup);
        if ch.subs.is_empty() {
            self.channels.remove(channel);
        }
    }

    /// The events that rebuild this state from nothing (a snapshot's batch).
    pub fn to_events(&self) -> Vec<Ev> {
        let mut out = vec![Ev::Server(ServerRec {
            cluster_id: self.cluster_id.clone(),
            ack_token: self.ack_token.clone(),
        })];
        out.extend(self.clients.values().cloned().map(Ev::Client));
        for (name, ch) in &self.channels {
            for s in ch.subs.values() {
                out.push(Ev::Sub(s.rec.clone()));
                if !s.pending.is_empty() {
                    out.push(Ev::Progress(Progress {
                        channel: name.clone(),
                        id: s.rec.id,
                        last_sent: s.rec.last_sent,
                        added: s.pending.iter().copied().collect(),
                        removed: Vec::new(),
                    }));
                }
            }
            for (group, &last_sent) in &ch.groups {
                out.push(Ev::Group(GroupProgress {
                    channel: name.clone(),
                    name: group.clone(),
                    last_sent,
                }));
            }
        }
        out
    }
}

/// Drops `group`'s position when no subscription of the channel is in it any more.
fn prune_group(ch: &mut ChannelState, group: &str) {
    if !group.is_empty() && !ch.subs.values().any(|s| s.rec.qgroup == group) {
        ch.groups.remove(group);
    }
}

/// The file header.
pub fn header() -> [u8; STATE_HEADER_BYTES] {
    let mut h = [0; STATE_HEADER_BYTES];
    h[..4].copy_from_slice(STATE_MAGIC);
    h[4..].copy_from_slice(&STATE_VERSION.to_le_bytes());
    h
}

/// One frame holding `events`, appended to `out`.
pub fn encode_frame(events: Vec<Ev>, out: &mut Vec<u8>) {
    let batch = Batch {
        events: events
            .into_iter()
            .map(|ev| Event { ev: Some(ev) })
            .collect(),
    };
    frame(&batch.encode_to_vec(), out);
}

/// Frames `payload` (length, checksum, bytes) onto `out`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// A whole file: the header and one frame with the state.
pub fn encode_snapshot(state: &ServerState) -> Vec<u8> {
    let mut out = header().to_vec();
    encode_frame(state.to_events(), &mut out);
    out
}

/// Why recovery stopped before the end of the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutReason {
    /// Not this format (magic) or a version this build does not read: nothing was used.
    BadHeader,
    /// A frame runs past the end (a write cut short).
    Short,
    /// A frame's checksum does not match (a torn or damaged write).
    Checksum,
    /// A frame whose checksum matches but whose payload does not decode.
    Undecodable,
}

/// Where recovery stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Byte offset of the first frame not applied.
    pub at: usize,
    pub reason: CutReason,
}

/// What [`recover`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub state: ServerState,
    /// Frames applied.
    pub frames: usize,
    /// Bytes used (header and the frames applied).
    pub valid_bytes: usize,
    pub cut: Option<Cut>,
}

/// Rebuilds the state from a file's bytes, applying frames until the first bad one. Empty
/// input is an empty state. Never panics.
pub fn recover(bytes: &[u8]) -> Recovered {
    let mut r = Recovered::default();
    if bytes.is_empty() {
        return r;
    }
    let good_header = bytes.len() >= STATE_HEADER_BYTES
        && &bytes[..4] == STATE_MAGIC
        && bytes[4..8] == STATE_VERSION.to_le_bytes();
    if !good_header {
        r.cut = Some(Cut {
            at: 0,
            reason: CutReason::BadHeader,
        });
        return r;
    }
    let mut at = STATE_HEADER_BYTES;
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Ok((batch, next)) => {
                for e in batch.events {
                    if let Some(ev) = e.ev {
                        r.state.apply(ev);
                    }
                }
                r.frames += 1;
                at = next;
            }
            Err(reason) => {
                r.cut = Some(Cut { at, reason });
                break;
            }
        }
    }
    r.valid_bytes = at;
    r
}

/// The frame at `at` and the offset after it.
fn frame_at(bytes: &[u8], at: usize) -> Result<(Batch, usize), CutReason> {
    let head = bytes
        .get(at..at + FRAME_HEADER_BYTES)
        .ok_or(CutReason::Short)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let start = at + FRAME_HEADER_BYTES;
    let payload = start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(CutReason::Short)?;
    if crc32c::crc32c(payload) != crc {
        return Err(CutReason::Checksum);
    }
    let batch = Batch::decode(payload).map_err(|_| CutReason::Undecodable)?;
    Ok((batch, start + len))
}
