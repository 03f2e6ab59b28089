//! The server's control plane: what the signal thread, the monitoring thread and the shards
//! share, none of it on the message path.
//!
//! Shards never block on it. Each shard's control task sleeps on its bell, which whatever
//! changes the control plane rings (a stop, lame duck mode, a reload, a job for that shard),
//! and then looks: an atomic load for the stop and lame-duck flags and the config
//! generation, and a lock only when a request is waiting for that shard. An idle server's
//! shards therefore do not wake for the control plane at all. Requests are
//! closures run on the shard (to gather monitoring figures), so the monitor asks for exactly
//! what it needs and the shard answers from its own state, without locks on that state.
//!
//! Invariants: `generation` only grows, and a shard that sees a new generation finds the
//! matching options already stored; a shard's `applied` generation only grows and never
//! passes `generation`; the connection count is taken before a client is served
//! and given back exactly once when it is removed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::auth::Authenticator;
use crate::config::Options;
use crate::runtime::{self, Bell, BellRx, BoundBell};
use crate::shard::Shard;

/// The step of the lame-duck eviction schedule, and of the shutdown wait for clients.
pub const CONTROL_POLL_MS: u64 = 20;
/// How long a reload waits for every shard to take the new options before it is logged as
/// done (a shard takes them as soon as its bell wakes it, so far longer means the shard is
/// stuck).
pub const RELOAD_APPLY_MAX_MS: u64 = 2_000;

/// Work for one shard, run on its executor.
pub type ShardJob = Box<dyn FnOnce(&Shard) + Send>;

/// Options and the authenticator compiled from them, replaced together on reload.
pub struct Live {
    pub opts: Arc<Options>,
    pub auth: Arc<Authenticator>,
    /// Set when clients must speak TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Live {
    /// Compiles what the options say about auth and TLS; an error names what is wrong.
    pub fn new(opts: Options) -> Result<Live, String> {
        Live::after(opts, None)
    }

    /// As [`Live::new`] for a reload: accounts keep the ids they had in `previous`.
    pub fn after(opts: Options, previous: Option<&Live>) -> Result<Live, String> {
        let accounts = previous.map(|p| &*p.auth.accounts);
        let auth = Authenticator::after(&opts.auth, accounts).map_err(|e| e.to_string())?;
        let tls = match &opts.tls {
            Some(t) => Some(crate::tls::server_config(t).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(Live {
            opts: Arc::new(opts),
            auth: Arc::new(auth),
            tls,
        })
    }
}

pub struct Control {
    pub stop: AtomicBool,
    /// Lame duck mode was asked for.
    pub ldm: AtomicBool,
    /// Shards that have finished evicting their clients in lame duck mode.
    pub ldm_shards_done: AtomicUsize,
    /// Shards that have opened their streams (and announced their subjects): no shard takes
    /// a connection before all have, so no client publishes to a stream not yet reachable.
    pub shards_started: AtomicUsize,
    /// Bumped after each reload; shards then take `live`.
    pub generation: AtomicU64,
    /// The generation each shard has taken.
    applied: Vec<AtomicU64>,
    live: Mutex<Arc<Live>>,
    /// The system service's request queue (a thread of its own), once started.
    system: Mutex<Option<std::sync::mpsc::Sender<crate::system::Request>>>,
    /// Jobs per shard, and a count of each shard's waiting jobs so shards skip the lock when
    /// idle.
    jobs: Vec<Mutex<Vec<ShardJob>>>,
    jobs_waiting: Vec<AtomicUsize>,
    /// Each shard's bell, rung when something here changes for it.
    bells: Vec<Arc<Bell>>,
    bell_rxs: Mutex<Vec<Option<BellRx>>>,
    /// Open client connections, server-wide (for max_connections and /varz).
    pub connections: AtomicUsize,
    pub total_connections: AtomicU64,
    pub started: SystemTime,
    pub config_loaded: Mutex<SystemTime>,
}

impl Control {
    pub fn new(shards: usize, live: Live) -> std::io::Result<Control> {
        let (mut bells, mut bell_rxs) = (Vec::new(), Vec::new());
        for _ in 0..shards {
            let (bell, rx) = runtime::bell()?;
            bells.push(bell);
            bell_rxs.push(Some(rx));
        }
        Ok(Control {
            stop: AtomicBool::new(false),
            ldm: AtomicBool::new(false),
            ldm_shards_done: AtomicUsize::new(0),
            shards_started: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            applied: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            live: Mutex::new(Arc::new(live)),
            jobs: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
            jobs_waiting: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            bells,
            bell_rxs: Mutex::new(bell_rxs),
            connections: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            started: SystemTime::now(),
            system: Mutex::new(None),
            config_loaded: Mutex::new(SystemTime::now()),
        })
    }

    /// Shard `shard`'s end of its bell, bound to the calling executor (once; `None` after).
    pub fn bind_bell(&self, shard: usize) -> Option<BoundBell> {
        let rx = self.bell_rxs.lock().ok()?.get_mut(shard)?.take()?;
        Some(rx.bind(self.bells[shard].clone()))
    }

    /// Wakes every shard's control task.
    pub fn ring_all(&self) {
        for b in &self.bells {
            b.ring();
        }
    }

    /// Whether shard `shard` has something to look at: a stop, lame duck mode it has not
    /// started, a generation it has not taken, or a job.
    pub fn has_news(&self, shard: usize, generation: u64, ldm_started: bool) -> bool {
        self.stopping()
            || (!ldm_started && self.ldm.load(Ordering::Acquire))
            || self.generation.load(Ordering::Acquire) != generation
            || self
                .jobs_waiting
                .get(shard)
                .is_some_and(|n| n.load(Ordering::Acquire) > 0)
    }

    /// Asks every shard to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.ring_all();
    }

    pub fn shards(&self) -> usize {
        self.jobs.len()
    }

    /// The current options and authenticator.
    pub fn live(&self) -> Arc<Live> {
        match self.live.lock() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Installs reloaded options and returns their generation; shards pick them up at their
    /// next poll.
    pub fn replace_live(&self, live: Live) -> u64 {
        match self.live.lock() {
            Ok(mut l) => *l = Arc::new(live),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(live),
        }
        if let Ok(mut t) = self.config_loaded.lock() {
            *t = SystemTime::now();
        }
        let generation = self.generation.fetch_add(1, Ordering::Release) + 1;
        self.ring_all();
        generation
    }

    /// Shard `shard` has taken the options of `generation`.
    pub fn mark_applied(&self, shard: usize, generation: u64) {
        if let Some(a) = self.applied.get(shard) {
            a.fetch_max(generation, Ordering::AcqRel);
        }
    }

    /// Waits (on a control thread, never a shard) until every shard has taken `generation`
    /// or `max` has passed; true when all have.
    pub fn wait_applied(&self, generation: u64, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        loop {
            if self
                .applied
                .iter()
                .all(|a| a.load(Ordering::Acquire) >= generation)
            {
                return true;
            }
            if Instant::now() >= deadline || self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Hands a `$SYS` request to the system service thread; false if none runs.
    pub fn system_request(&self, req: crate::system::Request) -> bool {
        match self.system.lock() {
            Ok(tx) => tx.as_ref().is_some_and(|tx| tx.send(req).is_ok()),
            Err(_) => false,
        }
    }

    /// Installs the system service's queue.
    pub fn set_system_service(&self, tx: std::sync::mpsc::Sender<crate::system::Request>) {
        if let Ok(mut s) = self.system.lock() {
            *s = Some(tx);
        }
    }

    /// Queues `job` for shard `shard`.
    pub fn post(&self, shard: usize, job: ShardJob) {
        if let Some(q) = self.jobs.get(shard) {
            if let Ok(mut q) = q.lock() {
                q.push(job);
                self.jobs_waiting[shard].fetch_add(1, Ordering::Release);
            }
            self.bells[shard].ring();
        }
    }

    /// Takes the jobs waiting for `shard` (none without touching the lock when idle).
    pub fn take_jobs(&self, shard: usize) -> Vec<ShardJob> {
        if self
            .jobs_waiting
            .get(shard)
            .is_none_or(|n| n.load(Ordering::Acquire) == 0)
        {
            return Vec::new();
        }
        let Some(Ok(mut q)) = self.jobs.get(shard).map(|q| q.lock()) else {
            return Vec::new();
        };
        let jobs = std::mem::take(&mut *q);
        self.jobs_waiting[shard].fetch_sub(jobs.len(), Ordering::AcqRel);
        jobs
    }

    /// Counts a new connection if `max` allows it; false: refuse it.
    pub fn admit(&self, max: usize) -> bool {
        let admitted = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            self.total_connections.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    /// Gives back a connection counted by [`Control::admit`].
    pub fn release(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(shards: usize) -> Control {
        Control::new(
            shards,
            Live::new(Options::default()).expect("default options"),
        )
        .expect("bells")
    }

    #[test]
    fn admission_stops_at_the_limit_and_a_release_frees_a_place() {
        let c = control(1);
        assert!(c.admit(2) && c.admit(2));
        assert!(!c.admit(2), "a third connection over max_connections 2");
        c.release();
        assert!(c.admit(2));
        assert_eq!(c.total_connections.load(Ordering::Relaxed), 3);
        assert!(!control(1).admit(0), "max_connections 0 refuses everyone");
    }

    #[test]
    fn jobs_reach_only_their_shard_once() {
        let c = control(2);
        assert!(c.take_jobs(0).is_empty());
        c.post(1, Box::new(|_| {}));
        c.post(1, Box::new(|_| {}));
        assert!(c.take_jobs(0).is_empty());
        assert_eq!(c.take_jobs(1).len(), 2);
        assert!(c.take_jobs(1).is_empty());
        c.post(7, Box::new(|_| {}));
        assert!(c.take_jobs(0).is_empty() && c.take_jobs(1).is_empty());
    }

    #[test]
    fn a_reload_bumps_the_generation_with_the_new_options_in_place() {
        let c = control(1);
        let mut next = Options::default();
        next.limits.max_payload_bytes = 2048;
        assert_eq!(c.replace_live(Live::new(next).expect("valid")), 1);
        assert_eq!(c.generation.load(Ordering::Acquire), 1);
        assert_eq!(c.live().opts.limits.max_payload_bytes, 2048);
    }

    #[test]
    fn a_reload_is_applied_only_when_every_shard_has_taken_it() {
        let c = control(2);
        let g = c.replace_live(Live::new(Options::default()).expect("valid"));
        c.mark_applied(0, g);
        assert!(!c.wait_applied(g, Duration::from_millis(5)), "shard 1 lags");
        c.mark_applied(1, g);
        assert!(c.wait_applied(g, Duration::from_millis(5)));
        c.mark_applied(1, 0);
        assert!(
            c.wait_applied(g, Duration::ZERO),
            "an applied generation never goes back"
        );
    }

    #[test]
    fn a_bad_auth_config_is_refused_before_anything_runs() {
        let mut o = Options::default();
        o.auth.no_auth_user = Some("nobody".into());
        assert!(Live::new(o).is_err());
    }
}
