//! The redelivery workloads: --msgs messages delivered and never acked, then what the
//! server spends while they wait and once they come due.
//!
//! - `jsredeliver`: a memory stream pre-filled with --msgs messages (untimed), then one
//!   durable push consumer (explicit acks, `max_ack_pending` and `max_deliver` unlimited)
//!   delivers them all; nothing is acked. With --first-ack-wait-ms W the consumer's
//!   `backoff` is `[W, --ack-wait-ms]`: the first delivery waits W (so all --msgs are out
//!   before any is due, and the time between the last first delivery and W is the idle
//!   phase), every redelivery after it --ack-wait-ms. Without it `ack_wait` is
//!   --ack-wait-ms and there is no idle phase.
//! - `stanredeliver`: a STAN channel pre-filled with --msgs (untimed), then one subscription
//!   (DeliverAllAvailable, manual acks, MaxInflight --msgs, AckWait --ack-wait-ms rounded
//!   to seconds, at least 1 s) delivers them; nothing is acked.
//!
//! Phases, on the generator's clock: (1) the first pass, until every message came once; (2)
//! with a known first deadline, the idle phase: from 1 s after the first pass to 1 s before
//! the first deadline, the server's CPU per second; (3) the window: from the first
//! redelivery, --redeliver-secs long, the redeliveries counted and the server's CPU per
//! redelivery. The report's headline (`msgs_per_s`, `server_ns_per_msg`) is the window's;
//! the `redelivery` object has every phase.

use std::io::{self, Write};
use std::time::Duration;

use natrix::stan::proto::SubscriptionResponse;
use natrix::stan::proto::{decode, MsgProto, StartPosition, SubscriptionRequest};
use prost::Message;
use serde::Serialize;
use serde_json::json;

use crate::js_api::{Admin, STREAM};
use crate::measure::{now_ns, own_cpu_s, process_cpu_s};
use crate::proto::{status_of, Conn, Event, Fill, Scanner};
use crate::stan_api::{chore, Chore, StanClient};
use crate::workload::{Outcome, Params, Workload};

/// The idle phase starts this long after the first pass and ends this long before the
/// first deadline, so that neither the last deliveries nor an early timer are in it.
const IDLE_MARGIN: Duration = Duration::from_secs(1);
/// An idle phase shorter than this says nothing in 10 ms /proc ticks: none is reported.
const IDLE_MIN: Duration = Duration::from_secs(2);
/// The deliver subject of the push consumer.
const DELIVER: &str = "_INBOX.natrix-bench.redeliver";

/// What the phases saw; every time in seconds.
#[derive(Serialize, Debug, Clone, Default)]
pub struct RedeliveryStats {
    /// Messages delivered and left unacked (the stream or channel's size).
    pub pending: u64,
    /// From the subscription (consumer creation) to the last first delivery; null when a
    /// redelivery came before every message had come once.
    pub first_pass_s: Option<f64>,
    /// Distinct messages delivered when the window started.
    pub delivered_before_window: u64,
    /// The idle phase: its length, the server's CPU in it, and that per second as a
    /// percentage of one core; null without a first deadline or when it was too short.
    pub idle_s: Option<f64>,
    pub idle_server_cpu_s: Option<f64>,
    pub idle_core_pct: Option<f64>,
    /// From the subscription to the first redelivery.
    pub first_redelivery_s: f64,
    /// The window, and what came in it.
    pub window_s: f64,
    pub redeliveries: u64,
    pub redeliveries_per_s: f64,
    /// Distinct messages redelivered at least once in the window.
    pub distinct_redelivered: u64,
    /// First deliveries that still came during the window.
    pub first_deliveries_in_window: u64,
    pub window_server_cpu_s: Option<f64>,
    pub server_ns_per_redelivery: Option<f64>,
}

/// One delivery as the phases see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub seq: u64,
    pub redelivery: bool,
}

/// Where deliveries come from: one read (waiting at most the read poll) appends what came.
trait Deliveries {
    fn read(&mut self, seen: &mut Vec<Seen>) -> io::Result<()>;
}

/// Runs one redelivery workload.
pub fn run(workload: Workload, params: Params) -> io::Result<Outcome> {
    let deadline_ns = now_ns() + params.timeout.as_nanos() as u64;
    match workload {
        Workload::Jsredeliver => run_jetstream(&params, deadline_ns),
        Workload::Stanredeliver => run_stan(&params, deadline_ns),
        _ => unreachable!("only redelivery workloads come here"),
    }
}

fn run_jetstream(params: &Params, deadline_ns: u64) -> io::Result<Outcome> {
    let mut admin = Admin::open(&params.server, "setup")?;
    let server_version = admin.conn.server_version.clone();
    admin.create_stream_as(&json!({
        "name": STREAM, "subjects": [params.subject], "storage": "memory",
        "retention": "limits", "num_replicas": 1,
    }))?;
    crate::jetstream::prefill(params)?;
    let stored = admin.stream_msgs()?;
    if stored != params.msgs {
        return Err(io::Error::other(format!(
            "pre-filled {} messages but the stream holds {stored}",
            params.msgs
        )));
    }
    let mut conn = Conn::open_headers(&params.server, "natrix-bench redeliver")?;
    let mut scan = Scanner::default();
    conn.roundtrip(format!("SUB {DELIVER} 1\r\n").as_bytes(), &mut scan)?;
    let ms_ns = |ms: u64| ms * 1_000_000;
    let mut config = json!({
        "ack_policy": "explicit", "deliver_policy": "all", "deliver_subject": DELIVER,
        "max_ack_pending": -1, "max_deliver": -1,
        "ack_wait": ms_ns(params.ack_wait_ms),
    });
    if let Some(first) = params.first_ack_wait_ms {
        config["ack_wait"] = json!(ms_ns(first));
        config["backoff"] = json!([ms_ns(first), ms_ns(params.ack_wait_ms)]);
    }
    let sub_ns = now_ns();
    admin.create_consumer_as(config)?;
    let first_deadline_ns = params.first_ack_wait_ms.map(|first| sub_ns + ms_ns(first));
    let mut source = JsDeliveries {
        conn,
        scan,
        out: Vec::new(),
    };
    let plan = Plan {
        pending: params.msgs,
        sub_ns,
        first_deadline_ns,
        window: Duration::from_secs(params.redeliver_secs),
        deadline_ns,
        server_pid: params.server_pid,
    };
    measure(&mut source, &plan, server_version)
}

fn run_stan(params: &Params, deadline_ns: u64) -> io::Result<Outcome> {
    crate::stan::prefill(params)?;
    let mut client = StanClient::connect(&params.server, "natrix-bench-redeliver")?;
    let server_version = client.conn.server_version.clone();
    let deliver_inbox = format!("{}.deliver", client.inbox_prefix);
    let ack_wait_s = params.ack_wait_ms.div_ceil(1000).max(1);
    let request = SubscriptionRequest {
        client_id: client.client_id.clone(),
        subject: params.subject.clone(),
        q_group: String::new(),
        inbox: deliver_inbox.clone(),
        max_in_flight: i32::try_from(params.msgs).unwrap_or(i32::MAX),
        ack_wait_in_secs: i32::try_from(ack_wait_s).unwrap_or(i32::MAX),
        durable_name: String::new(),
        start_position: StartPosition::First as i32,
        start_sequence: 0,
        start_time_delta: 0,
    };
    let sub_ns = now_ns();
    let sub_requests = client.subjects.sub_requests.clone();
    let answer = client.request(&sub_requests, &request.encode_to_vec())?;
    let response: SubscriptionResponse =
        decode(&answer).ok_or_else(|| io::Error::other("an undecodable SubscriptionResponse"))?;
    if !response.error.is_empty() {
        return Err(io::Error::other(format!("subscribe: {}", response.error)));
    }
    let heartbeat_inbox = format!("{}.hb", client.inbox_prefix);
    let mut source = StanDeliveries {
        client,
        deliver_inbox,
        heartbeat_inbox,
        out: Vec::new(),
    };
    let plan = Plan {
        pending: params.msgs,
        sub_ns,
        first_deadline_ns: None,
        window: Duration::from_secs(params.redeliver_secs),
        deadline_ns,
        server_pid: params.server_pid,
    };
    measure(&mut source, &plan, server_version)
}

/// What the phases need to know.
struct Plan {
    pending: u64,
    /// When the subscription was asked for.
    sub_ns: u64,
    /// No message is due before this (the first ack wait after the subscription).
    first_deadline_ns: Option<u64>,
    window: Duration,
    deadline_ns: u64,
    server_pid: Option<u32>,
}

/// Tracks which messages came, and counts redeliveries once the window is open.
struct Tracker {
    first: Vec<bool>,
    distinct: u64,
    redelivered: Vec<bool>,
    window_open: bool,
    redeliveries: u64,
    distinct_redelivered: u64,
    first_in_window: u64,
    /// When the first redelivery was read.
    first_redelivery_ns: Option<u64>,
}

impl Tracker {
    fn new(pending: u64) -> Tracker {
        Tracker {
            first: vec![false; pending as usize + 1],
            distinct: 0,
            redelivered: vec![false; pending as usize + 1],
            window_open: false,
            redeliveries: 0,
            distinct_redelivered: 0,
            first_in_window: 0,
            first_redelivery_ns: None,
        }
    }

    /// Notes one read's deliveries, read at `now`; a first redelivery opens the window.
    fn note(&mut self, seen: &[Seen], now: u64) -> io::Result<()> {
        for s in seen {
            let i = s.seq as usize;
            if s.seq == 0 || i >= self.first.len() {
                return Err(io::Error::other(format!(
                    "sequence {} of {} pre-filled",
                    s.seq,
                    self.first.len() - 1
                )));
            }
            if s.redelivery {
                if self.first_redelivery_ns.is_none() {
                    self.first_redelivery_ns = Some(now);
                    self.window_open = true;
                }
                self.redeliveries += 1;
                if !self.redelivered[i] {
                    self.redelivered[i] = true;
                    self.distinct_redelivered += 1;
                }
            }
            if !self.first[i] {
                // A redelivery of a message whose first delivery was not seen counts as
                // its first too: the server says it was delivered.
                self.first[i] = true;
                self.distinct += 1;
                if self.window_open && !s.redelivery {
                    self.first_in_window += 1;
                }
            }
        }
        Ok(())
    }
}

fn server_cpu(pid: Option<u32>) -> Option<f64> {
    pid.and_then(|pid| process_cpu_s(pid).ok())
}

/// Reads until `stop(tracker, now)` holds, or fails at the run's deadline.
fn read_until(
    source: &mut impl Deliveries,
    tracker: &mut Tracker,
    plan: &Plan,
    what: &str,
    mut stop: impl FnMut(&Tracker, u64) -> bool,
) -> io::Result<u64> {
    let mut seen = Vec::new();
    loop {
        let now = now_ns();
        if stop(tracker, now) {
            return Ok(now);
        }
        if now > plan.deadline_ns {
            return Err(io::Error::other(format!(
                "timed out {what}: {} of {} delivered, {} redeliveries",
                tracker.distinct, plan.pending, tracker.redeliveries
            )));
        }
        seen.clear();
        source.read(&mut seen)?;
        tracker.note(&seen, now_ns())?;
    }
}

fn measure(
    source: &mut impl Deliveries,
    plan: &Plan,
    server_version: String,
) -> io::Result<Outcome> {
    let pending = plan.pending;
    let secs = |ns: u64| ns as f64 / 1e9;
    let mut t = Tracker::new(pending);
    let mut stats = RedeliveryStats {
        pending,
        ..RedeliveryStats::default()
    };
    // (1) The first pass.
    let passed = read_until(source, &mut t, plan, "in the first pass", |t, _| {
        t.distinct >= pending || t.window_open
    })?;
    if t.distinct >= pending && t.first_redelivery_ns.is_none() {
        stats.first_pass_s = Some(secs(passed - plan.sub_ns));
    }
    // (2) The idle phase, when no message can be due yet.
    if let (Some(due), None) = (plan.first_deadline_ns, t.first_redelivery_ns) {
        let start = passed + IDLE_MARGIN.as_nanos() as u64;
        let end = due.saturating_sub(IDLE_MARGIN.as_nanos() as u64);
        if end >= start + IDLE_MIN.as_nanos() as u64 {
            read_until(source, &mut t, plan, "before the idle phase", |t, now| {
                now >= start || t.window_open
            })?;
            let (cpu0, t0) = (server_cpu(plan.server_pid), now_ns());
            let t1 = read_until(source, &mut t, plan, "in the idle phase", |t, now| {
                now >= end || t.window_open
            })?;
            let cpu1 = server_cpu(plan.server_pid);
            let idle_s = secs(t1 - t0);
            stats.idle_s = Some(idle_s);
            stats.idle_server_cpu_s = cpu0.zip(cpu1).map(|(a, b)| b - a);
            stats.idle_core_pct = stats.idle_server_cpu_s.map(|cpu| cpu / idle_s * 100.0);
        }
    }
    // (3) The window, from the first redelivery.
    read_until(
        source,
        &mut t,
        plan,
        "waiting for the first redelivery",
        |t, _| t.window_open,
    )?;
    let (cpu_a, own_a) = (server_cpu(plan.server_pid), own_cpu_s());
    let start_ns = t.first_redelivery_ns.unwrap_or_else(now_ns);
    stats.first_redelivery_s = secs(start_ns - plan.sub_ns);
    let window_ns = plan.window.as_nanos() as u64;
    let end_ns = read_until(source, &mut t, plan, "in the window", |_, now| {
        now >= start_ns + window_ns
    })?;
    let (cpu_b, own_b) = (server_cpu(plan.server_pid), own_cpu_s());
    stats.delivered_before_window = t.distinct - t.first_in_window;
    stats.window_s = secs(end_ns - start_ns);
    stats.redeliveries = t.redeliveries;
    stats.redeliveries_per_s = t.redeliveries as f64 / stats.window_s.max(1e-9);
    stats.distinct_redelivered = t.distinct_redelivered;
    stats.first_deliveries_in_window = t.first_in_window;
    stats.window_server_cpu_s = cpu_a.zip(cpu_b).map(|(a, b)| b - a);
    stats.server_ns_per_redelivery = stats
        .window_server_cpu_s
        .filter(|_| t.redeliveries > 0)
        .map(|cpu| cpu * 1e9 / t.redeliveries as f64);
    Ok(Outcome {
        server_version,
        start_ns,
        published: 0,
        pub_end_ns: start_ns,
        delivered: t.redeliveries,
        last_delivery_ns: end_ns,
        latency: crate::measure::histogram(),
        ack_latency: crate::measure::histogram(),
        cpu_at_start: (cpu_a, own_a),
        cpu_at_end: Some((cpu_b, own_b)),
        redelivery: Some(stats),
        error: None,
    })
}

/// The delivery count and stream sequence of a `$JS.ACK` reply subject, in either form:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` or the one with
/// a domain and an account hash before the stream (and a random token after it).
pub fn ack_subject_counts(subject: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(subject).ok()?;
    let tokens: Vec<&str> = text.split('.').collect();
    if tokens.len() < 2 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let at = match tokens.len() {
        9 => 4,
        11 | 12 => 6,
        _ => return None,
    };
    Some((tokens[at].parse().ok()?, tokens[at + 1].parse().ok()?))
}

struct JsDeliveries {
    conn: Conn,
    scan: Scanner,
    out: Vec<u8>,
}

impl Deliveries for JsDeliveries {
    fn read(&mut self, seen: &mut Vec<Seen>) -> io::Result<()> {
        if let Fill::Idle = self.scan.fill(&mut self.conn.stream)? {
            return Ok(());
        }
        self.out.clear();
        let out = &mut self.out;
        let mut problem = None;
        self.scan.drain(|event| {
            match event {
                Event::Msg {
                    reply,
                    headers,
                    payload,
                    ..
                } => {
                    if headers > 0 && status_of(&payload[..headers]).is_some() {
                        // Heartbeats and flow control are not asked for.
                        problem = Some(String::from_utf8_lossy(payload).into_owned());
                        return false;
                    }
                    match reply.and_then(ack_subject_counts) {
                        Some((delivered, seq)) => seen.push(Seen {
                            seq,
                            redelivery: delivered > 1,
                        }),
                        None => {
                            problem = Some(format!(
                                "a delivery with the reply subject {:?}",
                                reply.map(String::from_utf8_lossy)
                            ));
                            return false;
                        }
                    }
                }
                Event::Ping => out.extend_from_slice(b"PONG\r\n"),
                Event::Err(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Event::Pong => {}
            }
            true
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("push: {problem}")));
        }
        if !self.out.is_empty() {
            self.conn.stream.write_all(&self.out)?;
        }
        Ok(())
    }
}

struct StanDeliveries {
    client: StanClient,
    deliver_inbox: String,
    heartbeat_inbox: String,
    out: Vec<u8>,
}

impl StanDeliveries {
    fn drain(&mut self, seen: &mut Vec<Seen>) -> io::Result<()> {
        self.out.clear();
        let (out, hb, deliver) = (
            &mut self.out,
            self.heartbeat_inbox.as_bytes(),
            self.deliver_inbox.as_bytes(),
        );
        let mut problem = None;
        self.client.scan.drain(|event| {
            match chore(&event, hb, out) {
                Chore::Failed(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Chore::Done => return true,
                Chore::Mine => {}
            }
            let Event::Msg {
                subject, payload, ..
            } = event
            else {
                return true;
            };
            if subject != deliver {
                return true;
            }
            match decode::<MsgProto>(payload) {
                Some(msg) => seen.push(Seen {
                    seq: msg.sequence,
                    redelivery: msg.redelivered,
                }),
                None => {
                    problem = Some("an undecodable MsgProto".to_string());
                    return false;
                }
            }
            true
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("subscription: {problem}")));
        }
        if !self.out.is_empty() {
            self.client.conn.stream.write_all(&self.out)?;
        }
        Ok(())
    }
}

impl Deliveries for StanDeliveries {
    fn read(&mut self, seen: &mut Vec<Seen>) -> io::Result<()> {
        // What the subscription request left in the buffer first.
        self.drain(seen)?;
        if !seen.is_empty() {
            return Ok(());
        }
        if let Fill::Idle = self.client.scan.fill(&mut self.client.conn.stream)? {
            return Ok(());
        }
        self.drain(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_give_the_delivery_count_and_the_stream_sequence() {
        assert_eq!(
            ack_subject_counts(b"$JS.ACK.S.C.3.17.40.1733350000000000000.99"),
            Some((3, 17))
        );
        assert_eq!(
            ack_subject_counts(b"$JS.ACK.hub.ACC.S.C.1.5.5.1733350000000000000.0.tok"),
            Some((1, 5))
        );
        assert_eq!(ack_subject_counts(b"$JS.ACK.S.C.x.17.40.1.0"), None);
        assert_eq!(ack_subject_counts(b"_INBOX.a.b"), None);
        assert_eq!(ack_subject_counts(b"$JS.ACK.S.C.1"), None);
    }

    #[test]
    fn the_window_opens_at_the_first_redelivery_and_counts_distinct_messages() {
        let mut t = Tracker::new(3);
        let first = |seq| Seen {
            seq,
            redelivery: false,
        };
        let again = |seq| Seen {
            seq,
            redelivery: true,
        };
        t.note(&[first(1), first(2)], 10).unwrap();
        assert!(!t.window_open);
        t.note(&[again(1), first(3), again(1), again(2)], 20)
            .unwrap();
        assert!(t.window_open);
        assert_eq!(t.first_redelivery_ns, Some(20));
        assert_eq!(
            (t.distinct, t.redeliveries, t.distinct_redelivered),
            (3, 3, 2)
        );
        assert_eq!(t.first_in_window, 1);
        assert!(t.note(&[first(4)], 30).is_err());
        assert!(t.note(&[first(0)], 30).is_err());
    }
}
