//! JetStream on the shards: where `$JS.API` requests and stream publishes go, and the group
//! commit that lets acknowledgements out only after their records are written.
//!
//! Each account's JetStream (its streams, their consumers, KV buckets and object stores) is
//! owned by one shard, [`Shard::js_owner`]: the account's slot (`Account::js_slot`, given in
//! config order at start and kept across reloads) modulo the shard count. Everything one
//! account's streams check among themselves stays on that shard without a message between
//! shards: names and subject overlaps, the account's limits and usage, mirrors and sources
//! (which read their origins' logs directly). Every shard with JetStream on has a
//! [`JsShard`] for the accounts it owns, with its own wheel, group commit and sync task. The
//! owner registers the subjects of its streams in the cross-shard interest table like a
//! plain subscriber, so a publish on any shard reaches it through the normal routing
//! (batched deliveries); API requests travel to it as [`Item::JsApi`]. The stream state (the
//! API layer and the store) is sans-io and lives in [`JsShard`]; this file only moves bytes
//! between it and the routing path.
//!
//! Group commit: a stored publish leaves its ack in `pending`; [`Shard::flush`], which runs
//! at the end of every read batch and every mesh batch, first commits every stream touched
//! since the last flush (one write each) and only then lets the acks out. Everything that
//! arrived together shares the write; nothing is acknowledged before it is written. A
//! stream's republishes (`jetstream/republish.rs`) are held the same way, each just before
//! the ack of its publish, and go out as core publishes in the stream's account.
//!
//! With `sync_interval: always` the commit is pipelined (`store::group_commit`): the writes
//! go to the page cache in line, and the commit's acks, ack confirmations and consumer
//! messages are held until the fdatasync of the files it wrote, which [`run_syncs`] issues
//! on glommio's blocking pool while the shard goes on reading and storing the next batches.
//! Up to [`JS_SYNCS_IN_FLIGHT_MAX`] syncs are in flight, one per [`run_syncs`] task, and they
//! release their outputs strictly in commit order; what is committed while every slot is
//! taken shares the next one. A failed write or sync releases nothing it held, and a failed
//! sync nothing of the syncs beside it either. The periodic `syncfs` of the default
//! `sync_interval` runs on glommio's blocking pool.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use super::client::Client;
use super::mesh::{Item, Msg, MsgSpans};
use super::Shard;
use crate::account::AccountId;
use crate::jetstream::api::{self, ApiEnv, Response};
use crate::jetstream::consumer::ConsumerTimer;
use crate::jetstream::consumers::Out;
use crate::jetstream::republish::Republished;
use crate::jetstream::streams::AccountStreams;
use crate::proto::encode::MsgView;
use crate::runtime;
use crate::store::group_commit::{GroupCommit, Step, SyncId, SyncJob};
use crate::store::SyncFile;
use crate::wheel::Wheel;

/// The JetStream API level natrix serves completely (nats-server's `JSApiLevel`, 5 in 2.15):
/// level 1 (nats-server 2.11) is per-message TTLs, subject delete markers, consumer pause
/// and priority groups, all served; level 2 (2.12) adds counters, message schedules, atomic
/// batches and async persist (all served). Reported as
/// `api.level`, `_nats.level`, INFO `api_lvl`, and checked against
/// `Nats-Required-Api-Level`. Clients gate on it (async-nats and nats-py make a KV bucket
/// with limit markers only from 1). Level 4 (2.14: fast batch publish, the `flow_control`
/// ack policy) is refused. The INFO `version` is 2.12.0 (`NATS_FEATURE_VERSION`), the
/// nats-server release whose level is 2.
pub const JS_API_LEVEL: u32 = 2;

/// The group commit's syncs in flight at once on a shard (`sync_interval: always`), one
/// [`run_syncs`] task each, each on a thread of the shard's blocking pool. Two fdatasyncs of
/// this disk overlap (4 KiB overwrites: 9465 syncs/s from one thread, 12879/s from two); a
/// third slot would mostly wait for the disk. docs/PERFORMANCE.md, "Two syncs in flight".
pub const JS_SYNCS_IN_FLIGHT_MAX: usize = 2;
const _: () = assert!(JS_SYNCS_IN_FLIGHT_MAX <= runtime::BLOCKING_THREADS_PER_SHARD);

/// The API requests [`Shard::js_api`] answers without refreshing interest and push state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestKind {
    /// `$JS.API.DIRECT.GET.…`: reads the store, changes nothing.
    DirectGet,
    /// `$JS.API.CONSUMER.MSG.NEXT.…`: a pull request, which changes one consumer's state.
    Pull,
    /// Anything else, which may create, change or delete streams and consumers.
    Other,
}

impl RequestKind {
    fn of(subject: &[u8]) -> RequestKind {
        if subject.starts_with(b"$JS.API.DIRECT.GET.") {
            RequestKind::DirectGet
        } else if subject.starts_with(b"$JS.API.CONSUMER.MSG.NEXT.") {
            RequestKind::Pull
        } else {
            RequestKind::Other
        }
    }
}

/// The JetStream state of the owning shard.
pub struct JsShard {
    store_dir: std::path::PathBuf,
    sync_always: bool,
    sync_interval_ms: u64,
    last_sync: Instant,
    pub(super) accounts: HashMap<AccountId, AccountStreams>,
    /// Subjects registered in the interest table per account.
    registered: HashMap<AccountId, Vec<String>>,
    /// What waits for the next commit: acks of stored publishes, ack confirmations, and
    /// with `sync_always` consumer messages too.
    pub(super) pending: Vec<Held>,
    /// The consumers' timers, one wheel for the shard (Unix milliseconds).
    pub(super) wheel: Rc<RefCell<Wheel<ConsumerTimer>>>,
    /// With `sync_always`: which held outputs wait for which fdatasync.
    commit: GroupCommit<Held, SyncFile>,
    /// The sync started and not yet taken by a [`run_syncs`] task. At most one: the group
    /// commit starts no sync while its newest one is not issued (`GroupCommit::join_waiting`).
    sync_job: Option<SyncJob<SyncFile>>,
    /// A periodic `syncfs` is running on the blocking pool.
    syncfs_running: Rc<Cell<bool>>,
}

/// An output the group commit holds back.
pub(super) enum Held {
    /// A publish ack or an ack confirmation: account, reply subject, payload. An empty reply
    /// sends nothing.
    Reply(AccountId, Vec<u8>, Vec<u8>),
    /// A consumer's message (a delivery, heartbeat or status), with `sync_always`.
    Out(AccountId, Out),
    /// A stored message's republish (`jetstream/republish.rs`), a core publish in the
    /// stream's account.
    Republish(AccountId, Republished),
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Shard {
    /// Whether JetStream serves account `account`: on when enabled, for `$G` without
    /// accounts and for accounts with `jetstream` in theirs.
    pub fn js_enabled_for(&self, account: AccountId) -> bool {
        self.opts.borrow().jetstream.is_some() && self.auth().accounts.serves_jetstream(account)
    }

    /// The shard that owns `account`'s JetStream: its slot modulo the shard count (an
    /// account without a slot, which JetStream does not serve, on shard 0).
    pub fn js_owner(&self, account: AccountId) -> usize {
        if !self.multi() {
            return self.id;
        }
        let slot = self
            .auth()
            .accounts
            .get(account)
            .and_then(|a| a.js_slot)
            .unwrap_or(0);
        slot as usize % self.shards
    }

    /// At a clean shutdown: every file stream writes its index checkpoint, so the next start
    /// reads the index instead of rebuilding it from the segments (a failure is logged; the
    /// next start then rebuilds).
    pub fn js_checkpoint(&self) {
        let Some(js) = &*self.js.borrow() else {
            return;
        };
        for streams in js.accounts.values() {
            for (name, stream) in &streams.streams {
                if let Err(e) = stream.log.borrow_mut().checkpoint() {
                    log::warn!("JetStream: checkpoint of stream {name:?} not written: {e}");
                }
            }
        }
    }

    /// Opens the streams this shard owns under the store directory (at start, on every
    /// shard).
    pub fn js_start(&self) {
        let opts = self.opts();
        let Some(js) = &opts.jetstream else {
            return;
        };
        let store_dir = opts.js_store_dir();
        if self.id == 0 {
            log::info!("Starting JetStream");
            log::info!("  Store Directory: \"{}\"", store_dir.display());
        }
        *self.js.borrow_mut() = Some(JsShard {
            store_dir: store_dir.clone(),
            sync_always: js.sync_always,
            sync_interval_ms: js.sync_interval_ms,
            last_sync: Instant::now(),
            accounts: HashMap::new(),
            registered: HashMap::new(),
            pending: Vec::new(),
            wheel: Rc::new(RefCell::new(Wheel::new(super::js_consumers::clock().ms))),
            commit: GroupCommit::with_max_in_flight(JS_SYNCS_IN_FLIGHT_MAX),
            sync_job: None,
            syncfs_running: Rc::new(Cell::new(false)),
        });
        let root = store_dir.join("jetstream");
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        let accounts = self.auth().accounts.clone();
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            match accounts.id_of(&name) {
                Some(id) if self.js_owner(id) != self.id => {}
                Some(id) => {
                    self.js_account(id);
                    self.js_sync_interest(id);
                    // What the restart's catch-up copied (or left as backlog) is committed
                    // by the timer task's first flush.
                    self.js_pending.set(true);
                    self.js_wake.notify();
                    self.js_push.set(true);
                    self.js_push_check.set(true);
                }
                None if self.id == 0 => {
                    log::warn!("JetStream: no account {name:?} for its stored streams")
                }
                None => {}
            }
        }
        // Recovery's read buffers are freed; hand their pages back now rather than at this
        // thread's next allocations (an idle shard would keep them resident).
        runtime::release_freed_memory();
    }

    /// Makes sure account `account`'s streams are open, if this shard owns them (no other
    /// shard ever opens them: one writer per store).
    pub(super) fn js_account(&self, account: AccountId) {
        if self.js_owner(account) != self.id {
            return;
        }
        let mut js = self.js.borrow_mut();
        let Some(js) = js.as_mut() else { return };
        if js.accounts.contains_key(&account) {
            return;
        }
        let name = self.auth().accounts.name(account);
        if self.multi() {
            log::info!("JetStream: account {name:?} on shard {}", self.id);
        }
        let mut env = ApiEnv::new(crate::proto::info::NATS_FEATURE_VERSION, JS_API_LEVEL);
        env.server_name = Rc::from(self.identity.server_name.as_str());
        env.max_payload_bytes = self.opts.borrow().limits.max_payload_bytes;
        if let Some(a) = self.auth().accounts.get(account) {
            let l = a.jetstream_limits;
            env.limits = crate::jetstream::api::AccountLimits {
                max_memory: l.max_memory_bytes,
                max_storage: l.max_storage_bytes,
                max_streams: l.max_streams,
                max_consumers: l.max_consumers,
                max_ack_pending: l.max_ack_pending,
                memory_max_stream_bytes: l.memory_max_stream_bytes,
                storage_max_stream_bytes: l.storage_max_stream_bytes,
                max_bytes_required: l.max_bytes_required,
            };
        }
        let root = js.store_dir.join("jetstream").join(&*name);
        // The shard syncs what the commits write itself, off its thread (`run_syncs`).
        let mut streams = AccountStreams::open_with_sync(
            Some(root),
            js.sync_always,
            true,
            env,
            account,
            js.wheel.clone(),
        );
        let names: Vec<String> = streams.streams.keys().cloned().collect();
        for s in &names {
            log::info!("JetStream: restored stream {s:?} of account {name:?}");
            streams.restore_consumers(s, super::js_consumers::clock());
            streams.restore_expiry(s, super::js_consumers::clock());
        }
        streams.start_sourcing(now_ns());
        js.accounts.insert(account, streams);
    }

    /// Registers the subjects of `account`'s streams as interest of this shard (and drops
    /// the ones no stream has any more), so every shard routes them here.
    pub(super) fn js_sync_interest(&self, account: AccountId) {
        let now: Vec<String> = {
            let js = self.js.borrow();
            let Some(js) = js.as_ref() else { return };
            js.accounts
                .get(&account)
                .map(|a| {
                    let mut subjects = a.subjects();
                    if a.streams.values().any(|s| !s.consumers.is_empty()) {
                        subjects.push(super::js_consumers::ACK_INTEREST.to_string());
                        subjects.push(super::js_consumers::FLOW_CONTROL_INTEREST.to_string());
                    }
                    subjects
                })
                .unwrap_or_default()
        };
        let before = {
            let mut js = self.js.borrow_mut();
            let Some(js) = js.as_mut() else { return };
            js.registered
                .insert(account, now.clone())
                .unwrap_or_default()
        };
        self.js_capture.set(
            self.js
                .borrow()
                .as_ref()
                .is_some_and(|j| j.registered.values().any(|v| !v.is_empty())),
        );
        if !self.multi() {
            return;
        }
        for s in before.iter().filter(|s| !now.contains(s)) {
            let ch =
                self.interest
                    .borrow_mut()
                    .local_remove(account, &Bytes::from(s.clone()), None);
            if let Some(ch) = ch {
                self.broadcast_interest(ch);
            }
        }
        for s in now.iter().filter(|s| !before.contains(s)) {
            let ch = self
                .interest
                .borrow_mut()
                .local_add(account, &Bytes::from(s.clone()), None);
            if let Some(ch) = ch {
                self.broadcast_interest(ch);
            }
        }
    }

    /// A publish on `$JS.API.…` in `account`: answered on the owning shard; returns
    /// whether JetStream took it.
    pub fn js_api_request(&self, account: AccountId, frame: &Bytes, msg: &MsgSpans) -> bool {
        if !self.js_enabled_for(account) {
            return false;
        }
        let owner = self.js_owner(account);
        if owner != self.id {
            let m = Msg {
                frame: frame.clone(),
                spans: *msg,
            };
            self.push_item(owner, Item::JsApi { account, msg: m });
            return true;
        }
        self.js_api(account, &msg.view(frame));
        true
    }

    /// Answers one API request (on the owning shard).
    pub fn js_api(&self, account: AccountId, view: &MsgView<'_>) {
        self.js_account(account);
        // Borrowed unless not UTF-8: no copy for the usual ASCII subjects.
        let subject = String::from_utf8_lossy(view.subject);
        let reply = String::from_utf8_lossy(view.reply);
        let resp = {
            let mut js = self.js.borrow_mut();
            let Some(js) = js.as_mut() else { return };
            let Some(streams) = js.accounts.get_mut(&account) else {
                return;
            };
            let mut env = streams.env.clone();
            let now = now_ns();
            streams.now_ns = now;
            let r = api::consumer::handle_consumer(
                &subject,
                &reply,
                &view.payload[..view.hdr_len],
                &view.payload[view.hdr_len..],
                now,
                streams,
                &mut env,
            );
            streams.env = env;
            r
        };
        // Creates, updates and deletes change which subjects this shard captures, and
        // which push consumers exist; what they produced goes out. A direct get or a pull
        // request changes neither (they are most of the requests under load: every KV get,
        // every fetch), so they skip the interest and push refresh; a pull still asks for
        // the commit that writes its deliveries into the consumer's state, a direct get
        // changes nothing to write.
        let request = RequestKind::of(view.subject);
        if request == RequestKind::Other {
            self.js_sync_interest(account);
            self.js_push.set(true);
            self.js_push_check.set(true);
        }
        if request != RequestKind::DirectGet {
            // A create may have copied into a mirror or source: the next flush writes it.
            self.js_pending.set(true);
        }
        self.js_send_outbox(account);
        let (headers, payload) = match resp {
            Response::None => return,
            Response::Json(j) => (Vec::new(), j),
            Response::Message { headers, payload } => (headers, payload),
            Response::Consumer => {
                if self.js_consumer_request(account, view) {
                    return;
                }
                (b"NATS/1.0 503\r\n\r\n".to_vec(), Vec::new())
            }
            Response::NoResponders => (b"NATS/1.0 503\r\n\r\n".to_vec(), Vec::new()),
        };
        if view.reply.is_empty() {
            return;
        }
        let m = Msg::build(view.reply, b"", &headers, &payload);
        self.publish_in_account(account, &m);
    }

    /// Whether a message in `account` on `subject` goes into a stream; stores it if so and
    /// queues (or sends) its ack. Only on the owning shard.
    pub fn js_capture_msg(
        &self,
        account: AccountId,
        from: Option<&Rc<Client>>,
        view: &MsgView<'_>,
    ) -> bool {
        let _ = from;
        if !self.js_capture.get() {
            return false;
        }
        if view.subject.starts_with(super::js_consumers::ACK_PREFIX) {
            return self.js_ack(account, view);
        }
        if view
            .subject
            .starts_with(super::js_consumers::FLOW_CONTROL_PREFIX)
        {
            return self.js_flow_control(account, view);
        }
        {
            let mut js = self.js.borrow_mut();
            let Some(js) = js.as_mut() else { return false };
            let Some(streams) = js.accounts.get_mut(&account) else {
                return false;
            };
            let Some(name) = streams.capture(view.subject).map(str::to_owned) else {
                return false;
            };
            let subject = String::from_utf8_lossy(view.subject);
            let (hdr, data) = view.payload.split_at(view.hdr_len);
            let out = if crate::jetstream::batch_publish::is_fast_batch_reply(view.reply) {
                streams.refuse_fast_batch(&name, &subject, hdr, data)
            } else {
                streams.publish(&name, &subject, hdr, data, now_ns())
            };
            let Some(out) = out else { return false };
            // Republishes go out with the ack, just before it (nats-server's order).
            js.pending.extend(
                streams
                    .republished
                    .drain(..)
                    .map(|r| Held::Republish(account, r)),
            );
            let no_ack = streams.streams.get(&name).is_some_and(|s| s.config.no_ack);
            if view.reply.is_empty() || no_ack {
                if !out.after_commit {
                    return true;
                }
                // Nothing to answer, but the message is written and delivered at this
                // batch's commit like any other.
                js.pending
                    .push(Held::Reply(account, Vec::new(), Vec::new()));
            } else {
                // Refusals and duplicates wait too, so replies keep the order of the publishes.
                js.pending
                    .push(Held::Reply(account, view.reply.to_vec(), out.ack));
            }
        };
        self.js_pending.set(true);
        true
    }

    /// The group commit, at the end of a batch: write what was stored, then let its acks
    /// out (with `sync_always`, once the files are synced: [`Shard::js_synced`]).
    pub fn js_commit(&self) {
        self.js_pending.set(false);
        let (ok, sync_always) = {
            let mut js = self.js.borrow_mut();
            let Some(js) = js.as_mut() else { return };
            let mut ok = true;
            let now = now_ns();
            for (&account, streams) in js.accounts.iter_mut() {
                // A sourcing turn that hit its bound goes on first, in this same commit.
                streams.resume_sourcing(now);
                // What copies (and API calls) stored since the last publish is announced by
                // this commit too.
                js.pending.extend(
                    streams
                        .republished
                        .drain(..)
                        .map(|r| Held::Republish(account, r)),
                );
                ok &= streams.commit();
                ok &= streams.persist_consumers();
            }
            // With `sync_interval: always` only `persist_mode: async` streams need it.
            let periodic = !js.sync_always || js.accounts.values().any(|a| a.any_async_persist());
            if periodic && js.last_sync.elapsed().as_millis() as u64 >= js.sync_interval_ms {
                js.last_sync = Instant::now();
                js.start_syncfs();
            }
            (ok, js.sync_always)
        };
        if !sync_always {
            let acks = self
                .js
                .borrow_mut()
                .as_mut()
                .map(|js| std::mem::take(&mut js.pending))
                .unwrap_or_default();
            if !ok {
                // Not written: the publishers get no ack and will retry.
                return;
            }
            self.js_release(acks);
            self.js_deliver_ready();
            return;
        }
        // Deliveries of what was just written are held with this commit's acks.
        if ok {
            self.js_deliver_ready();
        }
        let step = {
            let mut js = self.js.borrow_mut();
            let Some(js) = js.as_mut() else { return };
            let mut files = Vec::new();
            for streams in js.accounts.values_mut() {
                files.append(&mut streams.unsynced);
            }
            let held = std::mem::take(&mut js.pending);
            let step = js.commit.commit(held, files, ok);
            self.js_pending
                .set(js.accounts.values().any(|a| a.wants_commit()));
            step
        };
        self.js_step(step);
    }

    /// A sync of the pipelined group commit completed: what waited for it goes out (in
    /// order), or nothing on failure, and the next sync starts.
    pub(super) fn js_synced(&self, id: SyncId, result: std::io::Result<()>) {
        if let Err(e) = &result {
            log::error!(
                "JetStream: fdatasync failed ({e}): the acks and deliveries of the commits it \
                 covered are not sent"
            );
        }
        let step = match self.js.borrow_mut().as_mut() {
            Some(js) => js.commit.synced(id, result.is_ok()),
            None => return,
        };
        self.js_step(step);
        self.flush();
    }

    /// Sends what a group-commit step released and hands its sync to [`run_syncs`].
    fn js_step(&self, step: Step<Held, SyncFile>) {
        if let Some(job) = step.start {
            if let Some(js) = self.js.borrow_mut().as_mut() {
                debug_assert!(js.sync_job.is_none());
                js.sync_job = Some(job);
            }
            self.js_sync_wake.notify();
        }
        self.js_release(step.release);
    }

    /// Routes released replies and consumer messages, in order.
    fn js_release(&self, held: Vec<Held>) {
        for h in held {
            match h {
                Held::Reply(account, reply, ack) => {
                    if !reply.is_empty() {
                        let m = Msg::build(&reply, b"", b"", &ack);
                        self.publish_in_account(account, &m);
                    }
                }
                Held::Out(account, o) => {
                    let m = Msg::build(&o.subject, &o.reply, &o.headers, &o.payload);
                    self.deliver_as(account, &o.to, &m);
                }
                Held::Republish(account, r) => {
                    let m = Msg::build(&r.subject, b"", &r.headers, &r.payload);
                    self.publish_in_account(account, &m);
                }
            }
        }
    }

    /// With `sync_always`, consumer messages wait for the group commit (`Some` gives them
    /// back when they may go at once).
    pub(super) fn js_hold_outs(&self, account: AccountId, out: Vec<Out>) -> Option<Vec<Out>> {
        let mut js = self.js.borrow_mut();
        let Some(js) = js.as_mut().filter(|j| j.sync_always) else {
            return Some(out);
        };
        if out.is_empty() {
            return None;
        }
        js.pending
            .extend(out.into_iter().map(|o| Held::Out(account, o)));
        self.js_pending.set(true);
        None
    }
}

impl JsShard {
    /// Starts the periodic `syncfs` of every account's store on the blocking pool, unless
    /// the previous one still runs.
    fn start_syncfs(&mut self) {
        if self.syncfs_running.replace(true) {
            return;
        }
        let roots: Vec<std::path::PathBuf> = self
            .accounts
            .values()
            .filter_map(|a| a.root.clone())
            .collect();
        let running = self.syncfs_running.clone();
        runtime::spawn(async move {
            runtime::blocking(move || {
                for r in &roots {
                    crate::jetstream::streams::syncfs(r);
                }
            })
            .await;
            running.set(false);
        });
    }
}

/// One sync task of the owning shard ([`JS_SYNCS_IN_FLIGHT_MAX`] of them run): takes the
/// sync the group commit started, runs it on a thread of glommio's blocking pool
/// (`runtime::fdatasync_all_blocking`), and reports it to the shard; the other task takes
/// the next one meanwhile.
pub async fn run_syncs(shard: Rc<Shard>) {
    loop {
        // What committed since the group commit started this sync (the shard's tasks ran
        // before this one) is written too and joins it.
        let job = shard.js.borrow_mut().as_mut().and_then(|j| {
            let mut job = j.sync_job.take()?;
            j.commit.join_waiting(&mut job);
            Some(job)
        });
        let Some(job) = job else {
            // Nothing can notify between the check and the wait: one thread, no await.
            shard.js_sync_wake.notified().await;
            continue;
        };
        let fds = job.files.into_iter().map(|f| f.fd).collect();
        let result = runtime::fdatasync_all_blocking(fds).await;
        shard.js_synced(job.id, result);
    }
}
