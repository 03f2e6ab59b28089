//! The workloads: each client is an OS thread with a blocking socket, pinned to the CPUs the
//! caller names. All clients connect and subscribe first; a barrier then starts the clock.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::measure::{histogram, now_ns, own_cpu_s, process_cpu_s, sleep_until};
use crate::proto::{stamp_of, Conn, Event, Fill, Frames, Scanner};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    Pub,
    Sub,
    Pubsub,
    Fanout,
    Queue,
    Manypub,
    Multisubject,
    Reqrep,
    ReqrepOpen,
    /// JetStream publish with acks, at most --window unacknowledged.
    Jspub,
    /// A pre-filled stream drained by a durable pull consumer, every message acked.
    Jsconsume,
    /// A pre-filled stream drained by a push consumer, every message acked.
    Jspush,
    /// --publishers publishing to a work-queue stream while --clients pullers share one
    /// durable: end to end.
    Jsworkqueue,
    /// NATS Streaming publish with PubAcks, at most --window outstanding.
    Stanpub,
    /// A pre-filled STAN channel delivered to a durable subscription, every message acked.
    Stansub,
    /// No client at all for --msgs milliseconds (after one connection checked the server
    /// and left): what the idle server costs (its CPU time over the wait, --server-pid).
    Idle,
    /// KV puts (publishes to `$KV.<bucket>.<key>` with acks) over --keys keys.
    Kvput,
    /// KV direct gets of --keys keys, each put once before the clock starts.
    Kvget,
    /// A push consumer with --msgs delivered and never acked: idle CPU, then redeliveries.
    Jsredeliver,
    /// A STAN subscription with --msgs delivered and never acked: redeliveries.
    Stanredeliver,
    /// --msgs tries of SUB, a busy-wait of --delay-us, PUB from another connection (with
    /// --placement split: on another natrix shard), no PING: how many miss the subscriber.
    Propagation,
}

impl Workload {
    pub fn is_jetstream(self) -> bool {
        matches!(
            self,
            Workload::Jspub | Workload::Jsconsume | Workload::Jspush | Workload::Jsworkqueue
        )
    }

    pub fn is_stan(self) -> bool {
        matches!(self, Workload::Stanpub | Workload::Stansub)
    }

    pub fn is_kv(self) -> bool {
        matches!(self, Workload::Kvput | Workload::Kvget)
    }

    pub fn is_redelivery(self) -> bool {
        matches!(self, Workload::Jsredeliver | Workload::Stanredeliver)
    }
}

#[derive(Clone, Debug)]
pub struct Params {
    pub server: String,
    pub size: usize,
    pub msgs: u64,
    pub clients: usize,
    pub subject: String,
    pub subjects: usize,
    pub rate: u64,
    pub cpus: Vec<usize>,
    pub timeout: Duration,
    /// JetStream and STAN publishers: unacknowledged messages at most (1 = synchronous publish).
    pub window: usize,
    /// Pull consumers: messages asked for per pull request.
    pub batch: usize,
    /// Acks as requests, each confirmed by the server before the next pull.
    pub ack_sync: bool,
    /// jsworkqueue: publishers beside the --clients pullers.
    pub publishers: usize,
    /// The server's pid, to read its CPU time when the clock starts.
    pub server_pid: Option<u32>,
    /// KV workloads: the key space.
    pub keys: u64,
    /// Redelivery workloads: the ack wait of every redelivery (and of the first delivery
    /// without `first_ack_wait_ms`).
    pub ack_wait_ms: u64,
    /// jsredeliver: the first delivery's ack wait (a `backoff` of two steps).
    pub first_ack_wait_ms: Option<u64>,
    /// Redelivery workloads: how long redeliveries are counted.
    pub redeliver_secs: u64,
    /// reqrep: put the requesters on the responder's shard (`Same`) or on another
    /// (`Split`), for a natrix with this many shards; see [`Placement`].
    pub placement: Option<(Placement, u64)>,
    /// propagation: the busy-wait between the SUB and the PUB, in microseconds.
    pub delay_us: f64,
}

/// Where reqrep's requesters sit relative to the responder on a multi-shard natrix. natrix's
/// accept thread deals connections to shards round-robin in accept order, and the INFO's
/// `client_id` is that order, so a requester whose id is congruent to the responder's
/// modulo the shard count is on its shard. A requester reconnects (a bounded number of
/// times) until it sits where it should. On nats-server this only costs the reconnects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    Same,
    Split,
}

/// What the clients saw. Times are on [`now_ns`]'s clock.
pub struct Outcome {
    pub server_version: String,
    pub start_ns: u64,
    pub published: u64,
    pub pub_end_ns: u64,
    pub delivered: u64,
    pub last_delivery_ns: u64,
    pub latency: Histogram<u64>,
    /// Ack round trips (JetStream double acks), empty for other workloads.
    pub ack_latency: Histogram<u64>,
    /// CPU seconds used so far when the clock started: the server's (with a pid) and this
    /// process's. Setup before it (a JetStream stream's pre-fill) is not the run's.
    pub cpu_at_start: (Option<f64>, f64),
    /// The same at the end of the clock, when the workload read it itself (the redelivery
    /// window); `None`: read when the workload returns.
    pub cpu_at_end: Option<(Option<f64>, f64)>,
    /// What the redelivery workloads measured phase by phase.
    pub redelivery: Option<crate::redeliver::RedeliveryStats>,
    pub error: Option<String>,
}

/// Everything the client threads share.
pub(crate) struct Shared {
    pub(crate) params: Params,
    /// Next index into `params.cpus` for a thread to pin itself to.
    next_cpu: AtomicUsize,
    deadline_ns: AtomicU64,
    /// Set when the run is over (or failed): receivers that wait for more stop.
    done: AtomicBool,
    /// Deliveries counted across queue members.
    pub(crate) delivered: AtomicU64,
    start: Barrier,
    start_ns: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    ack_latency: Mutex<Histogram<u64>>,
    cpu_at_start: Mutex<(Option<f64>, f64)>,
    error: Mutex<Option<String>>,
    /// reqrep: the responder's `client_id` once it is connected (0 before).
    responder_cid: AtomicU64,
}

impl Shared {
    /// For `threads` client threads and the thread that starts the clock.
    pub(crate) fn new(params: &Params, threads: usize) -> Arc<Shared> {
        Arc::new(Shared {
            params: params.clone(),
            next_cpu: AtomicUsize::new(0),
            deadline_ns: AtomicU64::new(u64::MAX),
            done: AtomicBool::new(false),
            delivered: AtomicU64::new(0),
            start: Barrier::new(threads + 1),
            start_ns: AtomicU64::new(0),
            latency: Mutex::new(histogram()),
            ack_latency: Mutex::new(histogram()),
            cpu_at_start: Mutex::new((None, 0.0)),
            responder_cid: AtomicU64::new(0),
            error: Mutex::new(None),
        })
    }

    /// Starts the clock and releases the client threads waiting in [`ready`]. Returns the
    /// start time.
    pub(crate) fn start_clock(&self) -> u64 {
        let server_cpu = self
            .params
            .server_pid
            .and_then(|pid| process_cpu_s(pid).ok());
        *self.cpu_at_start.lock().expect("cpu lock") = (server_cpu, own_cpu_s());
        let start_ns = now_ns();
        self.start_ns.store(start_ns, Ordering::Relaxed);
        self.deadline_ns.store(
            start_ns + self.params.timeout.as_nanos() as u64,
            Ordering::Relaxed,
        );
        self.start.wait();
        start_ns
    }

    /// The outcome once every client thread has been joined.
    pub(crate) fn outcome(
        &self,
        server_version: String,
        sent: &[Tally],
        taken: &[Tally],
    ) -> Outcome {
        let start_ns = self.start_ns.load(Ordering::Relaxed);
        Outcome {
            server_version,
            start_ns,
            published: sent.iter().map(|t| t.count).sum(),
            pub_end_ns: sent.iter().map(|t| t.last_ns).max().unwrap_or(start_ns),
            delivered: taken.iter().map(|t| t.count).sum(),
            last_delivery_ns: taken.iter().map(|t| t.last_ns).max().unwrap_or(start_ns),
            latency: self.latency.lock().expect("latency lock").clone(),
            ack_latency: self.ack_latency.lock().expect("latency lock").clone(),
            cpu_at_start: *self.cpu_at_start.lock().expect("cpu lock"),
            cpu_at_end: None,
            redelivery: None,
            error: self.error.lock().expect("error lock").take(),
        }
    }

    pub(crate) fn pin(&self) {
        if self.params.cpus.is_empty() {
            return;
        }
        let i = self.next_cpu.fetch_add(1, Ordering::Relaxed) % self.params.cpus.len();
        core_affinity::set_for_current(core_affinity::CoreId {
            id: self.params.cpus[i],
        });
    }

    pub(crate) fn done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    pub(crate) fn timed_out(&self) -> bool {
        self.done.load(Ordering::Relaxed) || now_ns() > self.deadline_ns.load(Ordering::Relaxed)
    }

    pub(crate) fn fail(&self, what: String) {
        let mut error = self.error.lock().expect("error lock");
        if error.is_none() {
            *error = Some(what);
        }
        self.done.store(true, Ordering::Relaxed);
    }

    pub(crate) fn merge(&self, h: &Histogram<u64>) {
        self.latency
            .lock()
            .expect("latency lock")
            .add(h)
            .expect("same histogram bounds");
    }

    pub(crate) fn merge_acks(&self, h: &Histogram<u64>) {
        self.ack_latency
            .lock()
            .expect("latency lock")
            .add(h)
            .expect("same histogram bounds");
    }
}

/// A client thread's result: the time of its last publish (acknowledged by PONG) or of its
/// last delivery, and how many messages.
#[derive(Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) count: u64,
    pub(crate) last_ns: u64,
}

/// What a receiving thread waits for.
#[derive(Clone, Copy)]
enum Expect {
    /// This many messages on this connection.
    Each(u64),
    /// This many across every member (queue groups).
    Shared(u64),
}

/// Runs one workload and reports what the clients saw.
pub fn run(workload: Workload, params: Params) -> io::Result<Outcome> {
    if workload.is_jetstream() {
        return crate::jetstream::run(workload, params);
    }
    if workload.is_stan() {
        return crate::stan::run(workload, params);
    }
    if workload == Workload::Idle {
        return idle(params);
    }
    if workload == Workload::Propagation {
        return crate::propagation::run(params);
    }
    if workload.is_kv() {
        return crate::kv::run(workload, params);
    }
    if workload.is_redelivery() {
        return crate::redeliver::run(workload, params);
    }
    let clients = params.clients.max(1);
    let msgs = params.msgs;
    let subject = params.subject.clone();
    let (publishers, receivers): (usize, usize) = match workload {
        Workload::Pub => (clients, 0),
        Workload::Sub => (0, 1),
        Workload::Pubsub | Workload::Multisubject => (1, 1),
        Workload::Fanout | Workload::Queue => (1, clients),
        Workload::Manypub => (clients, 1),
        Workload::Reqrep | Workload::ReqrepOpen => (clients, 1),
        _ => unreachable!("JetStream, STAN, KV and redelivery workloads returned above"),
    };
    let shared = Shared::new(&params, publishers + receivers);
    let server_version = Conn::open(&params.server, "natrix-bench probe")?.server_version;

    let mut senders: Vec<JoinHandle<Tally>> = Vec::new();
    let mut takers: Vec<JoinHandle<Tally>> = Vec::new();
    let sub_subject = match workload {
        Workload::Multisubject => format!("{subject}.*"),
        _ => subject.clone(),
    };
    match workload {
        Workload::Reqrep | Workload::ReqrepOpen => {
            takers.push(spawn(&shared, move |s| responder(s, &subject)));
            let per = split(msgs, clients);
            for (id, n) in per.into_iter().enumerate() {
                let open = workload == Workload::ReqrepOpen;
                let subject = params.subject.clone();
                senders.push(spawn(&shared, move |s| {
                    if open {
                        requester_open(s, id, &subject, n)
                    } else {
                        requester_closed(s, id, &subject, n)
                    }
                }));
            }
        }
        _ => {
            let expect = match workload {
                Workload::Queue => Expect::Shared(msgs),
                _ => Expect::Each(msgs),
            };
            let queue = (workload == Workload::Queue).then_some("q");
            let stamped = workload != Workload::Sub;
            for _ in 0..receivers {
                let subject = sub_subject.clone();
                takers.push(spawn(&shared, move |s| {
                    subscriber(s, &subject, queue, expect, stamped)
                }));
            }
            let subjects: Vec<String> = match workload {
                Workload::Multisubject => (0..params.subjects.max(1))
                    .map(|i| format!("{subject}.{i}"))
                    .collect(),
                _ => vec![subject.clone()],
            };
            let subjects = Arc::new(subjects);
            for n in split(msgs, publishers) {
                let subjects = subjects.clone();
                senders.push(spawn(&shared, move |s| publisher(s, &subjects, n)));
            }
        }
    }

    // Every client is connected and subscribed: start the clock.
    shared.start_clock();

    let sent: Vec<Tally> = senders.into_iter().map(join).collect();
    if matches!(workload, Workload::Reqrep | Workload::ReqrepOpen) {
        // The requesters have all their replies: the responder may stop.
        shared.finish();
    }
    let taken: Vec<Tally> = takers.into_iter().map(join).collect();
    // `sub` has moved the start of the clock to the first message it received.
    let mut outcome = shared.outcome(server_version, &sent, &taken);
    if matches!(workload, Workload::Reqrep | Workload::ReqrepOpen) {
        // Round trips completed, as seen by the requesters.
        outcome.delivered = outcome.published;
        outcome.last_delivery_ns = outcome.pub_end_ns;
    }
    Ok(outcome)
}

/// The idle workload: the probe connection comes and goes, a second of settling, then
/// --msgs milliseconds without any client.
fn idle(params: Params) -> io::Result<Outcome> {
    let server_version = Conn::open(&params.server, "natrix-bench probe")?.server_version;
    thread::sleep(Duration::from_secs(1));
    let wait = Duration::from_millis(params.msgs);
    let shared = Shared::new(&params, 0);
    let start_ns = shared.start_clock();
    thread::sleep(wait);
    let end = Tally {
        count: 0,
        last_ns: start_ns + wait.as_nanos() as u64,
    };
    Ok(shared.outcome(server_version, &[end], &[]))
}

/// `total` split over `parts` as evenly as possible.
pub(crate) fn split(total: u64, parts: usize) -> Vec<u64> {
    let parts = parts.max(1) as u64;
    (0..parts)
        .map(|i| total / parts + u64::from(i < total % parts))
        .collect()
}

pub(crate) fn spawn(
    shared: &Arc<Shared>,
    body: impl FnOnce(&Shared) -> io::Result<Tally> + Send + 'static,
) -> JoinHandle<Tally> {
    let shared = shared.clone();
    thread::spawn(move || {
        shared.pin();
        match body(&shared) {
            Ok(tally) => tally,
            Err(e) => {
                shared.fail(e.to_string());
                Tally::default()
            }
        }
    })
}

pub(crate) fn join(handle: JoinHandle<Tally>) -> Tally {
    handle.join().unwrap_or_default()
}

/// Waits at the start barrier. A client that failed to connect must still arrive, or every
/// other thread would wait for ever; it then returns its error.
pub(crate) fn ready<T>(shared: &Shared, setup: io::Result<T>) -> io::Result<T> {
    shared.start.wait();
    setup
}

fn publisher(shared: &Shared, subjects: &[String], n: u64) -> io::Result<Tally> {
    let setup = Conn::open(&shared.params.server, "natrix-bench pub");
    let mut conn = ready(shared, setup)?;
    let mut frames = Frames::build(subjects, None, shared.params.size);
    let mut next = 0;
    let mut left = n;
    while left > 0 {
        let count = frames.chunk(next, left);
        let bytes = frames.stamp(next, count, now_ns());
        conn.stream.write_all(bytes)?;
        left -= count as u64;
        next = (next + count) % frames.len();
        if shared.done.load(Ordering::Relaxed) {
            return Err(io::Error::other("stopped"));
        }
    }
    conn.stream.write_all(b"PING\r\n")?;
    Scanner::default().until_pong(&mut conn.stream, || shared.timed_out())?;
    Ok(Tally {
        count: n,
        last_ns: now_ns(),
    })
}

fn subscriber(
    shared: &Shared,
    subject: &str,
    queue: Option<&str>,
    expect: Expect,
    stamped: bool,
) -> io::Result<Tally> {
    let mut scan = Scanner::default();
    let setup = Conn::open(&shared.params.server, "natrix-bench sub").and_then(|mut conn| {
        let sub = match queue {
            Some(q) => format!("SUB {subject} {q} 1\r\n"),
            None => format!("SUB {subject} 1\r\n"),
        };
        conn.roundtrip(sub.as_bytes(), &mut scan)?;
        Ok(conn)
    });
    let mut conn = ready(shared, setup)?;
    let mut hist = histogram();
    let mut tally = Tally::default();
    let mut first_ns = 0;
    let finished = |count: u64| match expect {
        Expect::Each(n) => count >= n,
        Expect::Shared(n) => shared.delivered.load(Ordering::Relaxed) >= n,
    };
    while !finished(tally.count) {
        if let Fill::Idle = scan.fill(&mut conn.stream)? {
            if shared.timed_out() {
                if matches!(expect, Expect::Shared(_)) && shared.done.load(Ordering::Relaxed) {
                    break;
                }
                shared.fail(format!("timed out with {} messages received", tally.count));
                break;
            }
            continue;
        }
        let now = now_ns();
        let mut got = 0;
        let mut ping = false;
        let mut err = None;
        scan.drain(|event| {
            match event {
                Event::Msg { payload, .. } => {
                    got += 1;
                    if stamped {
                        if let Some(sent) = stamp_of(payload) {
                            let _ = hist.record(now.saturating_sub(sent).max(1));
                        }
                    }
                }
                Event::Ping => ping = true,
                Event::Pong => {}
                Event::Err(line) => err = Some(String::from_utf8_lossy(line).into_owned()),
            }
            true
        })?;
        if let Some(err) = err {
            return Err(io::Error::other(err));
        }
        if ping {
            conn.stream.write_all(b"PONG\r\n")?;
        }
        if got > 0 {
            if first_ns == 0 {
                first_ns = now;
            }
            tally.count += got;
            tally.last_ns = now;
            if let Expect::Shared(n) = expect {
                if shared.delivered.fetch_add(got, Ordering::Relaxed) + got >= n {
                    // The last member to count wakes the others at their next idle read.
                    shared.done.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    if !stamped {
        // `sub`: no start barrier with the publisher, so the clock runs from the first
        // message, as `nats bench sub` does.
        shared.start_ns.store(first_ns, Ordering::Relaxed);
    }
    shared.merge(&hist);
    Ok(tally)
}

/// Replies to every request with its own payload, batching the replies of one read into
/// one write.
fn responder(shared: &Shared, subject: &str) -> io::Result<Tally> {
    let mut scan = Scanner::default();
    let setup = Conn::open(&shared.params.server, "natrix-bench responder").and_then(|mut c| {
        c.roundtrip(format!("SUB {subject} 1\r\n").as_bytes(), &mut scan)?;
        shared
            .responder_cid
            .store(c.client_id.max(1), Ordering::SeqCst);
        Ok(c)
    });
    let mut conn = ready(shared, setup)?;
    let mut out = Vec::with_capacity(1 << 16);
    let mut tally = Tally::default();
    while !shared.timed_out() {
        if let Fill::Idle = scan.fill(&mut conn.stream)? {
            continue;
        }
        out.clear();
        scan.drain(|event| {
            match event {
                Event::Msg {
                    reply: Some(reply),
                    payload,
                    ..
                } => {
                    out.extend_from_slice(b"PUB ");
                    out.extend_from_slice(reply);
                    let _ = write!(out, " {}\r\n", payload.len());
                    out.extend_from_slice(payload);
                    out.extend_from_slice(b"\r\n");
                    tally.count += 1;
                }
                Event::Ping => out.extend_from_slice(b"PONG\r\n"),
                _ => {}
            }
            true
        })?;
        if !out.is_empty() {
            conn.stream.write_all(&out)?;
        }
    }
    tally.last_ns = now_ns();
    Ok(tally)
}

fn requester_setup(shared: &Shared, id: usize, scan: &mut Scanner) -> io::Result<(Conn, String)> {
    let inbox = format!("_INBOX.natrix-bench.{id}");
    let mut conn = match shared.params.placement {
        None => Conn::open(&shared.params.server, "natrix-bench requester")?,
        Some((placement, shards)) => placed_conn(shared, placement, shards)?,
    };
    conn.roundtrip(format!("SUB {inbox} 1\r\n").as_bytes(), scan)?;
    Ok((conn, inbox))
}

/// A requester connection on the responder's shard or off it (see [`Placement`]).
fn placed_conn(shared: &Shared, placement: Placement, shards: u64) -> io::Result<Conn> {
    let started = std::time::Instant::now();
    let responder = loop {
        match shared.responder_cid.load(Ordering::SeqCst) {
            0 if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            0 => return Err(io::Error::other("the responder did not connect")),
            cid => break cid,
        }
    };
    open_placed(
        &shared.params.server,
        "natrix-bench requester",
        responder,
        placement,
        shards,
    )
}

/// A connection on the shard of the connection `anchor` (a natrix client id) or off it:
/// natrix deals connections to its `shards` round-robin in accept order, and the client id is
/// that order, so this reconnects until the id falls where `placement` asks.
pub(crate) fn open_placed(
    server: &str,
    name: &str,
    anchor: u64,
    placement: Placement,
    shards: u64,
) -> io::Result<Conn> {
    let shards = shards.max(1);
    for _ in 0..4 * shards {
        let conn = Conn::open(server, name)?;
        let same = conn.client_id.abs_diff(anchor) % shards == 0;
        if same == (placement == Placement::Same) {
            return Ok(conn);
        }
    }
    Err(io::Error::other(format!(
        "could not place the {name} connection"
    )))
}

/// One request at a time; the latency is the round trip.
fn requester_closed(shared: &Shared, id: usize, subject: &str, n: u64) -> io::Result<Tally> {
    let mut scan = Scanner::default();
    let setup = requester_setup(shared, id, &mut scan);
    let (mut conn, inbox) = ready(shared, setup)?;
    let mut frames = Frames::build(&[subject.to_string()], Some(&inbox), shared.params.size);
    let mut hist = histogram();
    for _ in 0..n {
        let sent = now_ns();
        conn.stream.write_all(frames.stamp(0, 1, sent))?;
        let mut replied = false;
        while !replied {
            if let Fill::Idle = scan.fill(&mut conn.stream)? {
                if shared.timed_out() {
                    return Err(io::Error::other("timed out waiting for a reply"));
                }
                continue;
            }
            scan.drain(|event| {
                if let Event::Msg { .. } = event {
                    replied = true;
                }
                true
            })?;
        }
        let _ = hist.record((now_ns() - sent).max(1));
    }
    shared.merge(&hist);
    Ok(Tally {
        count: n,
        last_ns: now_ns(),
    })
}

/// Requests on a fixed schedule, whatever the replies do; each carries its scheduled send
/// time, and a reader thread records `arrival - scheduled`.
fn requester_open(shared: &Shared, id: usize, subject: &str, n: u64) -> io::Result<Tally> {
    let mut scan = Scanner::default();
    let setup = requester_setup(shared, id, &mut scan);
    let (conn, inbox) = ready(shared, setup)?;
    if shared.params.size < 8 {
        return Err(io::Error::other(
            "reqrep-open needs --size 8 or more for the timestamp",
        ));
    }
    let rate_per_client = (shared.params.rate / shared.params.clients.max(1) as u64).max(1);
    let interval_ns = 1_000_000_000 / rate_per_client;
    let mut reader = conn.stream.try_clone()?;
    let start = now_ns();
    let replies = thread::scope(|scope| {
        let read = scope.spawn(move || -> io::Result<(u64, Histogram<u64>)> {
            shared.pin();
            let mut hist = histogram();
            let mut got = 0;
            while got < n {
                if let Fill::Idle = scan.fill(&mut reader)? {
                    if shared.timed_out() {
                        return Err(io::Error::other(format!(
                            "timed out with {got} of {n} replies"
                        )));
                    }
                    continue;
                }
                let now = now_ns();
                scan.drain(|event| {
                    if let Event::Msg { payload, .. } = event {
                        got += 1;
                        if let Some(sched) = stamp_of(payload) {
                            let _ = hist.record(now.saturating_sub(sched).max(1));
                        }
                    }
                    true
                })?;
            }
            Ok((got, hist))
        });
        let written = write_on_schedule(shared, conn, &inbox, subject, n, start, interval_ns);
        let read = read
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("reader panicked")));
        written.and(read)
    });
    let (got, hist) = replies?;
    shared.merge(&hist);
    Ok(Tally {
        count: got,
        last_ns: now_ns(),
    })
}

fn write_on_schedule(
    shared: &Shared,
    mut conn: Conn,
    inbox: &str,
    subject: &str,
    n: u64,
    start: u64,
    interval_ns: u64,
) -> io::Result<()> {
    // The default 50 µs timer slack would make every scheduled send late by up to that much,
    // and the lateness counts as latency (by design): ask the kernel for exact wake-ups.
    // SAFETY: prctl with PR_SET_TIMERSLACK takes one integer and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let mut frames = Frames::build(&[subject.to_string()], Some(inbox), shared.params.size);
    let mut out = Vec::with_capacity(1 << 16);
    let mut sent = 0u64;
    while sent < n {
        let due = ((now_ns().saturating_sub(start)) / interval_ns + 1).min(n);
        out.clear();
        for i in sent..due {
            out.extend_from_slice(frames.stamp(0, 1, start + i * interval_ns));
        }
        conn.stream.write_all(&out)?;
        sent = due;
        if shared.timed_out() {
            return Err(io::Error::other("timed out while sending requests"));
        }
        sleep_until(start + sent * interval_ns);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_is_even_and_complete() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split(7, 0), vec![7]);
    }
}
