//! The streams of one account over the storage engine: the real [`StreamBackend`] the API
//! layer drives, and the publish path of a stream (checks, append, limits, ack).
//!
//! Sans-io in the sense that matters here: it reads no clock (`now` is passed in) and knows
//! no runtime; file access goes through the store's [`StoreIo`] (std::fs, see
//! docs/ARCHITECTURE-jetstream.md). Acknowledgements are not sent from here: a publish returns the ack
//! bytes (and queues its republish, if any, in `republished`), and the shard sends them
//! only after [`AccountStreams::commit`] (one write per
//! stream touched since the last commit: the group commit). With `sync_interval: always`
//! each written file is also fdatasynced: in line, or with `defer_sync` (the shard) left in
//! [`AccountStreams::unsynced`] for the shard's pipelined group commit.
//!
//! Directory layout (under `<store_dir>/jetstream/<account>/streams/<name>/`): the store's
//! `meta.json` (here `{"config": <StreamConfig>, "created": <ns>}`) and `meta.sum`,
//! `index.chk` and `msgs/<id>.blk` (see `store/mod.rs`), and for a stream with sources the
//! position hints `sources.json` (see `sourcing.rs`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::api::backend::StateDetail;
use super::api::config::{Compression, DiscardPolicy, PersistMode, Storage, StreamConfig};
use super::api::error::ApiError;
use super::api::headers::Headers;
use super::api::info::{LostStreamData, StreamState, UnixNanos};
use super::api::publish::{self, Incoming, PublishDecision, Rollup, StreamPublishState};
use super::api::ApiEnv;
use super::consumer::ConsumerTimer;
use super::consumers::{Consumer, Out};
use super::republish::{Republished, SubjectRules};
use super::sourcing::Link;
use crate::account::AccountId;
use crate::store::{self, FileStore, Layout, MemStore, MessageLog, Purge, StdIo};
use crate::subject;
use crate::wheel::Wheel;

/// Segment size of a stream's log.
pub(super) const SEGMENT_BYTES_MAX: u32 = 8 * 1024 * 1024;

/// What a message of a memory stream counts in its `bytes` beyond subject, headers and
/// payload: nats-server's memory store counts 16 (`memStoreMsgSize`).
const MEM_MSG_OVERHEAD_BYTES: u32 = 16;

/// An empty memory log for a stream of `config` (its first message gets `first`); a memory
/// stream counts its bytes as nats-server's memory store does.
pub(super) fn mem_log(config: &StreamConfig, first: u64) -> Box<dyn MessageLog> {
    let mut m = MemStore::new(SEGMENT_BYTES_MAX, first);
    if config.storage == Storage::Memory {
        m.log_mut().count_overhead_as(MEM_MSG_OVERHEAD_BYTES);
    }
    Box::new(m)
}

#[derive(Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) config: StreamConfig,
    pub(super) created: UnixNanos,
}

/// One stream: its config and its log.
pub struct Stream {
    pub config: StreamConfig,
    pub created: UnixNanos,
    /// `get_msg` reads through `&self`; the log's reads need `&mut` (a file read).
    pub(crate) log: RefCell<Box<dyn MessageLog>>,
    /// The stream's consumers by name (see `consumers.rs`).
    pub consumers: BTreeMap<String, Consumer>,
    /// A `max_age` timer is in the wheel (see `expiry.rs`).
    pub(crate) age_timer_armed: bool,
    /// Sequences stored with `Nats-TTL: never`, which `max_age` keeps (`expiry.rs`); an
    /// entry may outlive its message (dropped at the next age expiry past it).
    pub(crate) never_expire: BTreeSet<u64>,
    pub(super) dedup: publish::DedupTable,
    pub(super) last_msg_id: String,
    /// Appended to since the last commit.
    pub(crate) dirty: bool,
    /// Its mirror or its sources, with their positions (`sourcing.rs`).
    pub(crate) links: Vec<Link>,
    /// A source copied since the position hints were last written.
    pub(crate) sources_dirty: bool,
    /// Its compiled `subject_transform` and `republish` (`republish.rs`).
    pub(crate) rules: SubjectRules,
}

/// What a publish into a stream produced: the reply to send (after the commit when
/// `after_commit`).
pub struct PubOutcome {
    pub ack: Vec<u8>,
    pub after_commit: bool,
}

/// The streams of one account.
pub struct AccountStreams {
    /// `<store_dir>/jetstream/<account>`; None: nothing is written (tests).
    pub(crate) root: Option<PathBuf>,
    /// fdatasync at every commit (`sync_interval: always`).
    pub(crate) sync_always: bool,
    /// With `sync_always`: the commit writes, and leaves the fdatasyncs in `unsynced` for the
    /// shard's pipelined group commit instead of running them in line.
    pub(crate) defer_sync: bool,
    /// Files written by commits and not yet synced (with `defer_sync`), taken by the shard.
    pub unsynced: Vec<store::SyncFile>,
    pub streams: BTreeMap<String, Stream>,
    pub env: ApiEnv,
    /// The account these streams belong to (the high bits of its consumers' ids).
    pub account_id: AccountId,
    /// The last consumer id counter handed out.
    pub(crate) consumer_seq: u64,
    /// Consumer id → (stream, consumer), for fired timers.
    pub(crate) consumer_ids: HashMap<u64, (String, String)>,
    /// Stream timer id → stream (`expiry.rs`).
    pub(crate) stream_ids: HashMap<u64, String>,
    /// The shard's timer wheel, shared by every account's streams on it.
    pub wheel: Rc<RefCell<Wheel<ConsumerTimer>>>,
    /// Messages to send, drained by the shard after every call.
    pub outbox: Vec<Out>,
    /// Streams written to by the last commit: their consumers may deliver.
    pub(crate) kicked: Vec<String>,
    /// Consumers whose plain acks freed room since the last commit: (stream, consumer). They
    /// deliver once after the commit, for every ack of the batch together, instead of one
    /// message per ack.
    pub(crate) acked: Vec<(String, String)>,
    /// The time of the request being answered (set by the shard), for what STREAM.INFO
    /// reports relative to now.
    pub now_ns: UnixNanos,
    /// The most messages one sourcing turn copies (`sourcing::COPY_TURN_MAX`).
    pub copy_turn_max: usize,
    /// A sourcing turn stopped at `copy_turn_max`: the next commit goes on.
    pub(crate) sourcing_backlog: bool,
    /// Origin name → the streams linked to it (`sourcing.rs`), so a publish into a stream
    /// nobody mirrors or sources costs one lookup.
    pub(crate) linked_from: HashMap<String, Vec<String>>,
    /// Stored messages to republish (`republish.rs`), taken by the shard after every call
    /// and routed after the commit that writes them.
    pub republished: Vec<Republished>,
    /// Atomic batches being staged (`batch.rs`, `batch_publish.rs`).
    pub(crate) batches: super::batch::Batches,
}

pub(super) fn store_err(e: store::StoreError) -> ApiError {
    ApiError::StoreFailed(e.to_string())
}

impl Stream {
    /// [`publish::check_publish`] of `msg` against this stream, as if its last sequence
    /// were `last_seq` (an atomic batch checks each message after the earlier ones).
    pub(super) fn check_incoming(
        &mut self,
        last_seq: u64,
        max_payload_bytes: usize,
        msg: &Incoming,
        now: UnixNanos,
    ) -> PublishDecision {
        let st = StreamPublishState {
            config: &self.config,
            last_seq,
            last_msg_id: &self.last_msg_id,
            max_payload_bytes,
        };
        let log = &self.log;
        let last_on = |f: &str| log.borrow().log().last_by_subject(f.as_bytes());
        publish::check_publish(&st, msg, now, &mut self.dedup, last_on)
    }

    /// Message `seq` on `subj` was appended: consumers count it, the limits apply (discard
    /// old), and the stream is written at the next commit.
    pub(crate) fn stored(&mut self, seq: u64, subj: &[u8]) {
        for k in self.consumers.values() {
            k.pending_cache
                .changed(seq, subj, &k.spec.limits.filters, true);
        }
        let c = &self.config;
        let limits = store::Limits {
            msgs_max: (c.max_msgs > 0).then_some(c.max_msgs as u64),
            bytes_max: (c.max_bytes > 0).then_some(c.max_bytes as u64),
            msgs_per_subject_max: (c.max_msgs_per_subject > 0)
                .then_some(c.max_msgs_per_subject as u64),
        };
        if limits != store::Limits::default()
            && self
                .log
                .borrow_mut()
                .enforce(&limits, Some(subj))
                .unwrap_or(0)
                > 0
        {
            self.invalidate_pending();
        }
        self.dirty = true;
    }

    /// Messages went in bulk (purge, limits, age, a delete by the API): every consumer counts
    /// its `num_pending` again on next use.
    pub(crate) fn invalidate_pending(&self) {
        for c in self.consumers.values() {
            c.pending_cache.invalidate();
        }
    }
}

/// `syncfs` of the file system holding `dir` (errors ignored: the periodic sync is a bound
/// on what a power loss takes, not a promise made to a publisher).
pub fn syncfs(dir: &std::path::Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs only reads the descriptor, which `dir` keeps open.
        unsafe {
            libc::syncfs(dir.as_raw_fd());
        }
    }
}

impl AccountStreams {
    /// Opens the account's streams from `root` (recovering each), or none without a root.
    /// Problems are logged and the stream skipped, never fatal.
    pub fn open(
        root: Option<PathBuf>,
        sync_always: bool,
        env: ApiEnv,
        account_id: AccountId,
        wheel: Rc<RefCell<Wheel<ConsumerTimer>>>,
    ) -> AccountStreams {
        Self::open_with_sync(root, sync_always, false, env, account_id, wheel)
    }

    /// [`AccountStreams::open`], and with `defer_sync` every commit's fdatasyncs are left in
    /// [`AccountStreams::unsynced`] for the caller (the shard's pipelined group commit).
    pub fn open_with_sync(
        root: Option<PathBuf>,
        sync_always: bool,
        defer_sync: bool,
        env: ApiEnv,
        account_id: AccountId,
        wheel: Rc<RefCell<Wheel<ConsumerTimer>>>,
    ) -> AccountStreams {
        let mut me = AccountStreams {
            root,
            sync_always,
            defer_sync: sync_always && defer_sync,
            unsynced: Vec::new(),
            streams: BTreeMap::new(),
            env,
            account_id,
            consumer_seq: 0,
            consumer_ids: HashMap::new(),
            stream_ids: HashMap::new(),
            wheel,
            outbox: Vec::new(),
            kicked: Vec::new(),
            acked: Vec::new(),
            now_ns: 0,
            copy_turn_max: super::sourcing::COPY_TURN_MAX,
            sourcing_backlog: false,
            linked_from: HashMap::new(),
            republished: Vec::new(),
            batches: super::batch::Batches::default(),
        };
        // Per-message TTLs expire on the wheel (expiry.rs), leaving subject delete markers
        // (markers.rs); consumers take several filters;
        // mirrors and sources of this account's streams copy on this shard (sourcing.rs).
        me.env.features.msg_ttl = true;
        me.env.features.subject_delete_markers = true;
        me.env.features.consumer_multi_filters = true;
        me.env.features.mirrors = true;
        me.env.features.sources = true;
        // Pull consumers' priority groups (consumer/priority.rs).
        me.env.features.priority_groups = true;
        me.env.features.republish = true;
        me.env.features.subject_transform = true;
        // Counters, sources aggregating them included (counters.rs).
        me.env.features.msg_counter = true;
        // Message schedules on the wheel, stored through this publish path (schedules.rs).
        me.env.features.msg_schedules = true;
        // Atomic batch publish (batch.rs).
        me.env.features.atomic_publish = true;
        // Packed records (store/pack.rs) and streams without the per-commit fdatasync.
        me.env.features.s2_compression = true;
        me.env.features.async_persist = true;
        let Some(root) = me.root.clone() else {
            return me;
        };
        let dir = root.join("streams");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return me;
        };
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            match me.recover(&name) {
                Ok(s) => {
                    me.streams.insert(name, s);
                }
                Err(err) => log::error!("JetStream: stream {name:?} not recovered: {err}"),
            }
        }
        me
    }

    pub(crate) fn stream_dir(&self, name: &str) -> Option<PathBuf> {
        self.root.as_ref().map(|r| r.join("streams").join(name))
    }

    fn recover(&self, name: &str) -> Result<Stream, String> {
        let dir = self.stream_dir(name).ok_or("no store directory")?;
        let (mut fs, report) =
            FileStore::open(StdIo::new(dir), Layout::default(), SEGMENT_BYTES_MAX, 1)
                .map_err(|e| e.to_string())?;
        let meta: Meta = serde_json::from_slice(&fs.read_meta().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        self.apply_store_options(&mut fs, &meta.config);
        let state = fs.state().map_err(|e| e.to_string())?;
        if !state.lost.is_empty() {
            log::warn!(
                "JetStream: stream {name:?} lost messages at recovery: {:?}",
                state.lost
            );
        }
        log::debug!("JetStream: recovered stream {name:?}: {report:?}");
        let log: Box<dyn MessageLog> = if meta.config.storage == Storage::Memory {
            // A memory stream's config survives; its messages do not (nats-server too).
            mem_log(&meta.config, state.last_seq + 1)
        } else {
            Box::new(fs)
        };
        Ok(Stream {
            links: Link::of(&meta.config),
            rules: SubjectRules::of(&meta.config),
            sources_dirty: false,
            config: meta.config,
            created: meta.created,
            log: RefCell::new(log),
            dedup: publish::DedupTable::default(),
            last_msg_id: String::new(),
            dirty: false,
            consumers: BTreeMap::new(),
            age_timer_armed: false,
            never_expire: BTreeSet::new(),
        })
    }

    /// What a file stream's config asks of its store. `compression: s2` packs its messages
    /// (`store::pack`); nats-server's memory store ignores it, and so does a memory stream
    /// here. `persist_mode: async` drops the fdatasync of every commit that `sync_interval:
    /// always` asks for, as nats-server turns `SyncAlways` off for such a stream; its ack
    /// still waits for the write into the page cache (nats-server's may go before it), and
    /// the periodic `syncfs` (`shard/jetstream.rs`) still syncs it.
    fn apply_store_options(&self, fs: &mut FileStore<StdIo>, config: &StreamConfig) {
        fs.sync = self.sync_always && config.persist_mode != PersistMode::Async;
        fs.defer_sync = fs.sync && self.defer_sync;
        fs.log_mut()
            .set_compression(config.compression == Compression::S2);
    }

    /// Whether some stream here is written without the fdatasync of `sync_interval: always`
    /// (`persist_mode: async`), so only the periodic `syncfs` makes it durable.
    pub fn any_async_persist(&self) -> bool {
        self.streams
            .values()
            .any(|s| s.config.persist_mode == PersistMode::Async)
    }

    pub(super) fn new_log(
        &self,
        config: &StreamConfig,
        now: UnixNanos,
    ) -> Result<Box<dyn MessageLog>, ApiError> {
        let first = config.first_seq.max(1);
        let Some(dir) = self.stream_dir(&config.name) else {
            return Ok(mem_log(config, first));
        };
        // Memory streams keep their config on disk too, so they come back (empty).
        let _ = std::fs::remove_dir_all(&dir);
        let (mut fs, _) =
            FileStore::open(StdIo::new(dir), Layout::default(), SEGMENT_BYTES_MAX, first)
                .map_err(store_err)?;
        let meta = Meta {
            config: config.clone(),
            created: now,
        };
        let json = serde_json::to_vec(&meta).map_err(|e| ApiError::StoreFailed(e.to_string()))?;
        fs.write_meta(&json).map_err(store_err)?;
        self.apply_store_options(&mut fs, config);
        if config.storage == Storage::Memory {
            return Ok(mem_log(config, first));
        }
        Ok(Box::new(fs))
    }

    /// The stream whose subjects capture `subj`, if any (subjects never overlap across
    /// streams: the API refuses that at create).
    pub fn capture(&self, subj: &[u8]) -> Option<&str> {
        self.streams
            .iter()
            .find(|(_, s)| {
                s.config
                    .subjects
                    .iter()
                    .any(|p| subject::matches(p.as_bytes(), subj))
            })
            .map(|(n, _)| n.as_str())
    }

    /// Every subject pattern of every stream (what the shard registers interest in).
    pub fn subjects(&self) -> Vec<String> {
        self.streams
            .values()
            .flat_map(|s| s.config.subjects.iter().cloned())
            .collect()
    }

    /// Stores a message published on `subj` into stream `name` (or stages it, when it is
    /// part of an atomic batch: `batch_publish.rs`).
    pub fn publish(
        &mut self,
        name: &str,
        subj: &str,
        hdr: &[u8],
        data: &[u8],
        now: UnixNanos,
    ) -> Option<PubOutcome> {
        if super::batch_publish::may_be_batch(hdr) {
            return self.publish_batch_msg(name, subj, hdr, data, now);
        }
        self.publish_one(name, subj, hdr, data, now, false)
    }

    /// [`AccountStreams::publish`] of one message, batch headers or not; `scheduled`: one a
    /// schedule made (schedules.rs), to which the schedule checks do not apply.
    pub(crate) fn publish_one(
        &mut self,
        name: &str,
        subj: &str,
        hdr: &[u8],
        data: &[u8],
        now: UnixNanos,
        scheduled: bool,
    ) -> Option<PubOutcome> {
        // The stream's subject transform comes before everything else (nats-server too).
        let transformed = self
            .streams
            .get(name)?
            .rules
            .stored_subject(subj.as_bytes(), now as u32);
        let subj = transformed.as_deref().unwrap_or(subj);
        let domain = self.env.domain.clone();
        let max_payload_bytes = self.env.max_payload_bytes;
        let over_account_limit = self.over_account_limit(name, subj.len() + hdr.len() + data.len());
        let s = self.streams.get_mut(name)?;
        let reply = |ack: Vec<u8>| {
            Some(PubOutcome {
                ack,
                after_commit: false,
            })
        };
        let hdrs = if hdr.is_empty() {
            Headers::default()
        } else {
            match Headers::parse(hdr) {
                Ok(h) => h,
                Err(_) => return reply(publish::pub_error(name, &ApiError::BadRequest)),
            }
        };
        let last_seq = s.log.borrow().log().counters().last_seq;
        let decision = s.check_incoming(
            last_seq,
            max_payload_bytes,
            &Incoming {
                subject: subj,
                hdrs: &hdrs,
                hdr_bytes: hdr.len(),
                hdr_block: hdr,
                payload_bytes: data.len(),
                scheduled,
            },
            now,
        );
        let accepted = match decision {
            PublishDecision::Reject(e) => return reply(publish::pub_error(name, &e)),
            PublishDecision::Store(_) if over_account_limit => {
                return reply(publish::pub_error(
                    name,
                    &ApiError::AccountResourcesExceeded,
                ))
            }
            PublishDecision::Duplicate { seq } => {
                return reply(publish::pub_ack_duplicate(name, domain.as_deref(), seq))
            }
            PublishDecision::Store(a) => a,
        };
        if let Some(sch) = &accepted.schedule.purge_of {
            if self.purge_of_refused(name, sch) {
                let e =
                    ApiError::MessageSchedules(super::api::error::ScheduleError::SchedulerInvalid);
                return reply(publish::pub_error(name, &e));
            }
        }
        let s = self.streams.get_mut(name)?;
        // A TTL raised to the marker TTL is stored as raised (markers.rs).
        let hdr = &*super::markers::stored_headers(hdr, &accepted);
        // A schedule is stored with `Nats-Rollup: sub` (schedules.rs).
        let scheduled_hdr;
        let hdr = if accepted.schedule.add_rollup_sub {
            scheduled_hdr = super::schedules::with_rollup_sub(hdr);
            &scheduled_hdr[..]
        } else {
            hdr
        };
        // A counter increment stores the subject's new total instead (counters.rs).
        let counted = match &accepted.incr {
            Some(incr) if s.config.allow_msg_counter => {
                match s.counter_update(subj.as_bytes(), hdr, data, incr, max_payload_bytes) {
                    Ok(u) => Some(u),
                    Err(e) => return reply(publish::pub_error(name, &e)),
                }
            }
            _ => None,
        };
        let (hdr, data) = match &counted {
            Some(u) => (&u.hdr[..], &u.payload[..]),
            None => (hdr, data),
        };
        let republish = s.republish_plan(subj.as_bytes());
        let mut log = s.log.borrow_mut();
        let c = &s.config;
        if c.discard == DiscardPolicy::New {
            let counters = log.log().counters();
            if c.max_msgs > 0 && counters.msgs >= c.max_msgs as u64 {
                return reply(publish::pub_error(name, &ApiError::max_msgs_exceeded()));
            }
            if c.max_bytes > 0
                && counters.bytes + (subj.len() + hdr.len() + data.len()) as u64
                    > c.max_bytes as u64
            {
                return reply(publish::pub_error(name, &ApiError::max_bytes_exceeded()));
            }
            if c.discard_new_per_subject && c.max_msgs_per_subject > 0 {
                let on = log
                    .log()
                    .subject_state(subj.as_bytes())
                    .map_or(0, |s| s.msgs);
                if on >= c.max_msgs_per_subject as u64 {
                    return reply(publish::pub_error(
                        name,
                        &ApiError::max_msgs_per_subject_exceeded(),
                    ));
                }
            }
        }
        let seq = match log.append(subj.as_bytes(), hdr, data, now) {
            Ok(seq) => seq,
            Err(e) => return reply(publish::pub_error(name, &store_err(e))),
        };
        drop(log);
        if let Some(plan) = republish {
            let m = plan.message(name, subj.as_bytes(), seq, now, hdr, data);
            self.republished.push(m);
        }
        s.stored(seq, subj.as_bytes());
        let mut log = s.log.borrow_mut();
        if accepted.rollup.is_some() {
            s.invalidate_pending();
        }
        match accepted.rollup {
            Some(Rollup::All) => {
                let _ = log.purge(&Purge {
                    up_to_seq: Some(seq),
                    ..Purge::default()
                });
            }
            Some(Rollup::Subject) => {
                let _ = log.purge(&Purge {
                    filter: Some(subj.as_bytes()),
                    up_to_seq: Some(seq),
                    keep: None,
                });
            }
            None => {}
        }
        drop(log);
        s.last_msg_id = accepted.msg_id.clone().unwrap_or_default();
        if let Some(id) = &accepted.msg_id {
            s.dedup.record(id, seq, now);
        }
        self.arm_expiry(name, seq, accepted.ttl_s, now);
        if scheduled || accepted.schedule.present {
            self.schedule_stored(name, seq, hdr, now);
        }
        // Mirrors and sources of this stream copy it in the same commit.
        self.pump(name, now);
        let ack = publish::pub_ack(name, domain.as_deref(), seq);
        let ack = match &counted {
            Some(u) => super::counters::ack_with_value(ack, &u.value),
            None => ack,
        };
        Some(PubOutcome {
            ack,
            after_commit: true,
        })
    }

    /// Whether storing `msg_bytes` more in stream `name` would take the account past its
    /// JetStream memory or storage limit (nats-server: 10002 on the publish). Sums only when
    /// the account has such a limit.
    pub(super) fn over_account_limit(&self, name: &str, msg_bytes: usize) -> bool {
        let Some(s) = self.streams.get(name) else {
            return false;
        };
        let (limit, storage) = match s.config.storage {
            Storage::Memory => (self.env.limits.max_memory, Storage::Memory),
            Storage::File => (self.env.limits.max_storage, Storage::File),
        };
        if limit <= 0 {
            return false;
        }
        let used: u64 = self
            .streams
            .values()
            .filter(|s| s.config.storage == storage)
            .map(|s| s.log.borrow().log().counters().bytes)
            .sum();
        used + (msg_bytes + store::record::HEADER_BYTES) as u64 > limit as u64
    }

    /// Group commit: flushes every stream appended to since the last commit (one write
    /// and, with `sync_interval: always`, one fdatasync each, or with `defer_sync` the files
    /// to sync left in `unsynced`). Errors are logged; the acks of a failed commit must not
    /// be sent, so the result says whether all succeeded.
    pub fn commit(&mut self) -> bool {
        let mut ok = true;
        if !self.linked_from.is_empty() {
            // Origins before the streams that copy them, so a crash between two writes
            // never leaves a copy whose original is not on disk.
            let mut order: Vec<(usize, String)> = self
                .streams
                .iter()
                .filter(|(_, s)| s.dirty)
                .map(|(n, _)| (self.link_depth(n), n.clone()))
                .collect();
            order.sort();
            for (_, name) in order {
                if let Some(s) = self.streams.get_mut(&name) {
                    ok &= Self::write(&name, s, &mut self.kicked, &mut self.unsynced);
                }
            }
        }
        for (name, s) in self.streams.iter_mut().filter(|(_, s)| s.dirty) {
            ok &= Self::write(name, s, &mut self.kicked, &mut self.unsynced);
        }
        // Only after the copies are written, so a hint never runs ahead of them.
        if ok {
            self.save_source_hints();
        }
        ok
    }

    /// One stream's part of the commit (a deferred sync's files go to `unsynced`).
    fn write(
        name: &str,
        s: &mut Stream,
        kicked: &mut Vec<String>,
        unsynced: &mut Vec<store::SyncFile>,
    ) -> bool {
        s.dirty = false;
        if !s.consumers.is_empty() {
            kicked.push(name.to_string());
        }
        let mut log = s.log.borrow_mut();
        if let Err(e) = log.flush().and_then(|()| log.take_unsynced(unsynced)) {
            log::error!("JetStream: writing stream {name:?} failed: {e}");
            return false;
        }
        true
    }

    pub(super) fn state(s: &Stream, detail: &StateDetail) -> StreamState {
        let mut log = s.log.borrow_mut();
        let st = log.state().unwrap_or_default();
        let inner = log.log();
        let mut out = StreamState {
            messages: st.msgs,
            bytes: st.bytes,
            first_seq: st.first_seq,
            first_ts: st.first_ts_ns,
            last_seq: st.last_seq,
            last_ts: st.last_ts_ns,
            num_subjects: st.num_subjects,
            num_deleted: st.num_deleted,
            consumer_count: s.consumers.len() as u64,
            ..StreamState::default()
        };
        if st.msgs == 0 {
            out.first_ts = 0;
        }
        // A stream that never stored anything and has no configured first_seq says 0 (as
        // nats-server does); with `first_seq: 1`, or after a purge, the next sequence.
        if st.last_seq == 0 && s.config.first_seq == 0 {
            out.first_seq = 0;
        }
        if detail.deleted_details {
            out.deleted = inner
                .deleted()
                .iter()
                .flat_map(|r| r.first..=r.last)
                .collect();
        }
        if let Some(f) = &detail.subjects_filter {
            out.subjects = Some(
                inner
                    .subject_counts(f.as_bytes())
                    .into_iter()
                    .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                    .collect(),
            );
        }
        if !st.lost.is_empty() {
            out.lost = Some(LostStreamData {
                msgs: st
                    .lost
                    .iter()
                    .flat_map(|r| r.first..=r.last)
                    .take(10_000)
                    .collect(),
                bytes: 0,
            });
        }
        out
    }
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod group_commit_tests;
