//! NATS Streaming on the shards: shard 0 runs the sans-io STAN core (`crate::stan`) and moves
//! bytes between it and the routing path, as `jetstream.rs` does for streams.
//!
//! * The core's internal subjects (`_STAN.discover.<cluster>`, `_STAN.pub.<token>.>`, ...)
//!   are registered in the interest table like a subscriber on shard 0, so a request
//!   published on any shard reaches it batched; shard 0 hands each to the core with the id of
//!   the NATS connection that sent it (`Delivery::origin` carries that across shards).
//! * When a connection closes on any shard, shard 0 hears of it (`Item::ConnClosed`) and the
//!   core starts that client's grace period: no ghost clients.
//! * The core's outputs are taken at the end of each batch (`Shard::flush`): the core writes
//!   its channels first, then the PubAcks and deliveries go out in order. With the file
//!   store's `file_sync` on (the default) the writes' fdatasyncs are pipelined
//!   (`stan::commit`): the batch's publishes wait until [`run_syncs`] synced its files on
//!   glommio's blocking thread, while the shard goes on reading and writing the next batches; one sync is in
//!   flight, and what commits meanwhile shares the next one. A failed sync sends nothing it
//!   held.
//! * One task sleeps until the core's next deadline (or `stan_wake`) and runs its timers.
//!
//! STAN lives in the global account `$G`, as nats-streaming-server's embedded server has it.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use rand::Rng;

use super::mesh::{Item, Msg, MsgSpans};
use super::Shard;
use crate::account::GLOBAL_ACCOUNT;
use crate::config::StreamingOptions;
use crate::proto::encode::MsgView;
use crate::runtime;
use crate::stan::commit::SyncPipeline;
use crate::stan::{ConnId, FileChannels, FileSync, MemChannels, Output, StanOptions, StanServer};
use crate::store::group_commit::{Step, SyncId, SyncJob};
use crate::store::SyncFile;

/// The shard that runs NATS Streaming.
pub const STAN_SHARD: usize = 0;
/// The longest the timer task sleeps with nothing due.
const IDLE_SLEEP_MAX: Duration = Duration::from_secs(60);
/// Length of the per-start server token in the core's inboxes.
const SERVER_TOKEN_CHARS: usize = 22;
/// Deliveries of one batch share frames of at most this many bytes.
const STAN_FRAME_BYTES_MAX: usize = 256 * 1024;
/// A message this large gets a frame of its own (`dispatch`'s shared-payload threshold: from
/// there on a subscriber's queue holds a slice of the frame instead of a copy).
const STAN_OWN_FRAME_BYTES_MIN: usize = super::dispatch::SHARED_PAYLOAD_MIN_BYTES;

/// The core over the store the options chose.
pub enum StanCore {
    Memory(StanServer<MemChannels>),
    File(StanServer<FileChannels>),
}

/// The core and its pipelined sync.
pub struct StanDriver {
    pub core: StanCore,
    /// Which held publishes wait for which fdatasync (file store, `file_sync` on).
    pipeline: SyncPipeline<SyncFile>,
    /// The sync [`run_syncs`] is to run next.
    sync_job: Option<SyncJob<SyncFile>>,
}

macro_rules! with_core {
    ($d:expr, $s:ident => $body:expr) => {
        match &mut $d.core {
            StanCore::Memory($s) => $body,
            StanCore::File($s) => $body,
        }
    };
}

fn now() -> (u64, i64) {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as u64, d.as_nanos() as i64)
}

fn server_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..SERVER_TOKEN_CHARS)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// The core's options from natrix's.
pub fn stan_options(o: &StreamingOptions) -> StanOptions {
    let mut s = StanOptions {
        cluster_id: o.cluster_id.clone(),
        discover_prefix: o.discover_prefix.clone(),
        server_token: server_token(),
        hb_interval_ms: o.hb_interval_ms,
        hb_timeout_ms: o.hb_timeout_ms,
        hb_fail_count: o.hb_fail_count,
        ..StanOptions::default()
    };
    let l = &mut s.limits;
    if let Some(n) = o.channels_max {
        l.channels_max = n;
    }
    if let Some(n) = o.subs_max {
        l.channel.subs_max = n;
    }
    if let Some(n) = o.msgs_max {
        l.channel.msgs_max = n;
    }
    if let Some(n) = o.bytes_max {
        l.channel.bytes_max = n;
    }
    if let Some(n) = o.age_max_ms {
        l.channel.age_max_ms = n;
    }
    if let Some(n) = o.inactivity_max_ms {
        l.channel.inactivity_max_ms = n;
    }
    l.per_channel = o
        .per_channel
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                crate::stan::ChannelOverride {
                    subs_max: c.subs_max,
                    msgs_max: c.msgs_max,
                    bytes_max: c.bytes_max,
                    age_max_ms: c.age_max_ms,
                    inactivity_max_ms: c.inactivity_max_ms,
                },
            )
        })
        .collect();
    s
}

impl Shard {
    /// Starts NATS Streaming on shard 0 when the options ask for it. Errors (bad options,
    /// an unusable directory) are returned for the server to report at start.
    pub fn stan_start(&self) -> Result<(), String> {
        let Some(o) = self.opts().streaming.clone() else {
            return Ok(());
        };
        if self.id != STAN_SHARD {
            return Ok(());
        }
        let opts = stan_options(&o);
        let (ms, _) = now();
        log::info!(
            "Starting nats-streaming-server[{}] (natrix)",
            opts.cluster_id
        );
        let driver = if o.file_store {
            let root = o
                .dir
                .clone()
                .unwrap_or_else(|| self.opts().js_store_dir().join("streaming"));
            log::info!("STREAM: Store type: FILE, directory: {:?}", root.display());
            std::fs::create_dir_all(&root).map_err(|e| format!("streaming dir: {e}"))?;
            // nats-streaming-server's `file_sync`: on, the fdatasyncs run off the shard.
            let sync = if o.file_sync {
                FileSync::Deferred
            } else {
                FileSync::Off
            };
            let channels = FileChannels { root, sync };
            let core = StanServer::new(opts, channels, ms).map_err(|e| e.to_string())?;
            if let Some(r) = core.recovery() {
                log::info!(
                    "STREAM: Recovered {} client(s), {} subscription(s)",
                    r.clients,
                    r.subs
                );
                if let Some(cut) = r.cut {
                    log::warn!(
                        "STREAM: Server state log cut at byte {}: {:?}",
                        cut.at,
                        cut.reason
                    );
                }
            }
            StanCore::File(core)
        } else {
            log::info!("STREAM: Store type: MEMORY");
            StanCore::Memory(StanServer::new(opts, MemChannels, ms).map_err(|e| e.to_string())?)
        };
        *self.stan.borrow_mut() = Some(StanDriver {
            core: driver,
            pipeline: SyncPipeline::new(),
            sync_job: None,
        });
        self.stan_pending.set(true);
        Ok(())
    }

    /// A message routed here (shard 0) that may be a STAN request; `origin` is the sending
    /// connection's cid (0: the server itself). Returns whether the core took it.
    pub fn stan_capture_msg(&self, account: u32, origin: u64, view: &MsgView<'_>) -> bool {
        if account != GLOBAL_ACCOUNT {
            return false;
        }
        let mut stan = self.stan.borrow_mut();
        let Some(d) = stan.as_mut() else {
            return false;
        };
        if !with_core!(d, s => s.wants(view.subject)) {
            return false;
        }
        let (ms, ns) = now();
        let payload = &view.payload[view.hdr_len..];
        with_core!(d, s => s.on_message(origin as ConnId, view.subject, view.reply, payload, ms, ns));
        self.stan_pending.set(true);
        true
    }

    /// A connection closed here: tell the STAN core (on shard 0) so a client it connected is
    /// not left a ghost.
    pub fn stan_connection_closed(&self, cid: u64) {
        if self.opts.borrow().streaming.is_none() {
            return;
        }
        if self.id != STAN_SHARD {
            self.push_item(STAN_SHARD, Item::ConnClosed { cid });
            return;
        }
        let (ms, _) = now();
        if let Some(d) = self.stan.borrow_mut().as_mut() {
            with_core!(d, s => s.on_connection_closed(cid as ConnId, ms));
        }
        self.stan_pending.set(true);
    }

    /// At the end of a batch: what the core produced goes out (after its channel writes and,
    /// with `file_sync`, once their fdatasync completed: [`Shard::stan_synced`]).
    pub fn stan_flush(&self) {
        self.stan_pending.set(false);
        let step = {
            let mut stan = self.stan.borrow_mut();
            let Some(d) = stan.as_mut() else { return };
            let c = with_core!(d, s => s.take_commit());
            d.pipeline.commit(c.outputs, c.files, c.durable)
        };
        self.stan_step(step);
        self.stan_wake.notify();
    }

    /// A sync of the pipeline completed: what waited for it goes out (in order), or nothing
    /// on failure, and the next sync starts.
    fn stan_synced(&self, id: SyncId, result: std::io::Result<()>) {
        let step = {
            let mut stan = self.stan.borrow_mut();
            let Some(d) = stan.as_mut() else { return };
            if let Err(e) = &result {
                log::error!(
                    "STREAM: fdatasync failed ({e}): the PubAcks and messages of the flushes \
                     it covered are not sent"
                );
                with_core!(d, s => s.sync_failed());
            }
            d.pipeline.synced(id, result.is_ok())
        };
        self.stan_step(step);
        self.flush();
    }

    /// Sends what a pipeline step released and hands its sync to [`run_syncs`].
    fn stan_step(&self, step: Step<Output, SyncFile>) {
        if let Some(job) = step.start {
            if let Some(d) = self.stan.borrow_mut().as_mut() {
                debug_assert!(d.sync_job.is_none());
                d.sync_job = Some(job);
            }
            self.stan_sync_wake.notify();
        }
        self.stan_release(step.release);
    }

    /// Publishes and subscribes what the core produced, in order.
    fn stan_release(&self, outputs: Vec<Output>) {
        if outputs.is_empty() {
            return;
        }
        let mut msgs = build_frames(&outputs).into_iter();
        for o in outputs {
            match o {
                Output::Publish { .. } => {
                    if let Some(m) = msgs.next() {
                        self.publish_in_account(GLOBAL_ACCOUNT, &m);
                    }
                }
                Output::Subscribe { subject } => self.stan_subscribe(Bytes::from(subject), true),
                Output::Unsubscribe { subject } => self.stan_subscribe(Bytes::from(subject), false),
            }
        }
    }

    fn stan_subscribe(&self, subject: Bytes, add: bool) {
        {
            let mut subs = self.stan_subjects.borrow_mut();
            if add {
                if subs.contains(&subject) {
                    return;
                }
                subs.push(subject.clone());
            } else {
                subs.retain(|s| *s != subject);
            }
            self.stan_capture.set(!subs.is_empty());
        }
        if !self.multi() {
            return;
        }
        let ch = if add {
            self.interest
                .borrow_mut()
                .local_add(GLOBAL_ACCOUNT, &subject, None)
        } else {
            self.interest
                .borrow_mut()
                .local_remove(GLOBAL_ACCOUNT, &subject, None)
        };
        if let Some(ch) = ch {
            self.broadcast_interest(ch);
        }
    }

    fn stan_timers(&self) {
        let (ms, _) = now();
        if let Some(d) = self.stan.borrow_mut().as_mut() {
            with_core!(d, s => s.on_timer(ms));
        }
        self.stan_pending.set(true);
    }

    fn stan_next_deadline(&self) -> Option<u64> {
        let stan = self.stan.borrow();
        match &stan.as_ref()?.core {
            StanCore::Memory(s) => s.next_deadline(),
            StanCore::File(s) => s.next_deadline(),
        }
    }
}

/// The messages of `outputs`' publishes, in order. Those below [`STAN_OWN_FRAME_BYTES_MIN`]
/// share frames of up to [`STAN_FRAME_BYTES_MAX`]: a batch of deliveries costs one
/// allocation per frame, not one per message (a tenth of shard 0's CPU when delivering with
/// acks). A large one gets a frame of its own, so that a subscriber's queue, which keeps a
/// large payload as a slice of its frame, never pins a whole batch.
fn build_frames(outputs: &[Output]) -> Vec<Msg> {
    let publishes = || {
        outputs.iter().filter_map(|o| match o {
            Output::Publish {
                subject,
                reply,
                payload,
            } => {
                let (subject, reply) = (subject.as_bytes(), reply.as_bytes());
                Some((
                    subject,
                    reply,
                    payload,
                    Msg::build_len(subject, reply, b"", payload),
                ))
            }
            _ => None,
        })
    };
    // What the shared frames will take, to size each once.
    let mut shared_left: usize = publishes()
        .map(|p| p.3)
        .filter(|&n| n < STAN_OWN_FRAME_BYTES_MIN)
        .sum();
    let mut msgs = Vec::with_capacity(outputs.len());
    let mut buf = BytesMut::new();
    let mut spans: Vec<MsgSpans> = Vec::new();
    let seal = |buf: &mut BytesMut, spans: &mut Vec<MsgSpans>, msgs: &mut Vec<Msg>| {
        if spans.is_empty() {
            return;
        }
        let frame = buf.split().freeze();
        msgs.extend(spans.drain(..).map(|spans| Msg {
            frame: frame.clone(),
            spans,
        }));
    };
    for (subject, reply, payload, need) in publishes() {
        if need >= STAN_OWN_FRAME_BYTES_MIN {
            seal(&mut buf, &mut spans, &mut msgs);
            msgs.push(Msg::build(subject, reply, b"", payload));
            continue;
        }
        if buf.len() + need > STAN_FRAME_BYTES_MAX {
            seal(&mut buf, &mut spans, &mut msgs);
        }
        if buf.capacity() - buf.len() < need {
            buf.reserve(shared_left.min(STAN_FRAME_BYTES_MAX));
        }
        spans.push(MsgSpans::build_into(&mut buf, subject, reply, b"", payload));
        shared_left -= need;
    }
    seal(&mut buf, &mut spans, &mut msgs);
    msgs
}

/// The STAN sync task of shard 0: runs the pipeline's syncs one at a time on glommio's
/// blocking thread pool (`runtime::fdatasync_all_blocking`; through io_uring, as JetStream's
/// `run_syncs` does, a synchronous publisher's PubAck took about 85 µs longer), and reports
/// them to the shard.
pub async fn run_syncs(shard: Rc<Shard>) {
    loop {
        let job = shard
            .stan
            .borrow_mut()
            .as_mut()
            .and_then(|d| d.sync_job.take());
        let Some(job) = job else {
            // Nothing can notify between the check and the wait: one thread, no await.
            shard.stan_sync_wake.notified().await;
            continue;
        };
        let fds = job.files.into_iter().map(|f| f.fd).collect();
        let result = runtime::fdatasync_all_blocking(fds).await;
        shard.stan_synced(job.id, result);
    }
}

/// The STAN timer task of shard 0.
pub async fn run_timers(shard: Rc<Shard>) {
    loop {
        let woken = shard.stan_wake.notified();
        let wait = match shard.stan_next_deadline() {
            Some(at) => Duration::from_millis(at.saturating_sub(now().0)),
            None => IDLE_SLEEP_MAX,
        };
        if !wait.is_zero() {
            runtime::race(runtime::sleep(wait), woken).await;
        }
        shard.stan_timers();
        shard.flush();
    }
}
