//! Pacing of a consumer's deliveries and its ack metrics: push flow control
//! (`flow_control`), `rate_limit_bps`, `replay_policy: original` and `sample_freq`.
//!
//! Behaviour learnt from nats-server 2.15.1 (`consumer.go`: `needFlowControl`,
//! `processFlowControl`, `sendFlowControl`, `setRateLimit`, the replay delay of
//! `loopAndGatherMsgs`, `sampleAck`) and captures of it; the code is ours. Sans-io: time
//! comes in as a [`Clock`], a pause becomes one [`TimerKind::Resume`] timer in the shard's
//! wheel, requests and metrics come out as [`Out`] messages.
//!
//! Invariants:
//! * A push consumer with flow control sends no new message while the bytes it delivered
//!   and the client has not answered for exceed its window; only the answer to the latest
//!   request (its exact reply subject) frees them, so a stale answer changes nothing.
//! * A paced consumer never delivers before its gate opens and never polls: a closed gate
//!   arms at most one resume timer, at the moment it opens (or, for flow control, none: the
//!   answer resumes delivery).

use serde::Serialize;

use super::consumer::{ConsumerTimer, TimerKind};
use super::consumers::{Clock, ConsumerSpec, Out};
use super::streams::AccountStreams;
use crate::wheel::Wheel;

/// nats-server's `JsFlowControlMaxPending`: the largest flow-control window.
pub const FLOW_CONTROL_WINDOW_MAX_BYTES: u64 = 32 * 1024 * 1024;
/// The first window is this fraction of the largest; each answered request doubles it.
const FLOW_CONTROL_WINDOW_START_DIVISOR: u64 = 16;
/// The status header of a flow-control request, byte for byte as nats-server sends it.
pub const FLOW_CONTROL_REQUEST: &[u8] = b"NATS/1.0 100 FlowControl Request\r\n\r\n";
/// Where flow-control requests' replies go: `$JS.FC.<stream>.<consumer>.<4 chars>`.
pub const FLOW_CONTROL_PREFIX: &str = "$JS.FC.";
/// nats-server waits for the gap between two replayed messages only above this.
const REPLAY_GAP_MIN_NS: i64 = 1_000_000;

/// Push flow control: how many delivered bytes the client has not answered for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowControl {
    /// The current window (nats-server's `maxpb`): delivery stops past it.
    pub window_bytes: u64,
    /// Delivered and not yet released by an answer (`pbytes`).
    pub pending_bytes: u64,
    /// What the outstanding request releases when answered (`fcsz`).
    pub request_bytes: u64,
    /// The outstanding request's reply subject (`fcid`).
    pub request: Option<String>,
    /// Counter behind each request's token.
    requests_sent: u64,
}

impl Default for FlowControl {
    fn default() -> Self {
        FlowControl {
            window_bytes: FLOW_CONTROL_WINDOW_MAX_BYTES / FLOW_CONTROL_WINDOW_START_DIVISOR,
            pending_bytes: 0,
            request_bytes: 0,
            request: None,
            requests_sent: 0,
        }
    }
}

impl FlowControl {
    /// Whether delivery must wait for the answer to the outstanding request.
    pub fn stalled(&self) -> bool {
        self.pending_bytes > self.window_bytes
    }

    /// A message of `size` bytes (deliver subject, reply, headers, payload) went out. Returns
    /// the reply subject of a request to send now, if one is due: when the unanswered bytes
    /// pass half the window and none is outstanding. With one outstanding, bytes beyond a
    /// whole window past it are added to what it releases (nats-server does so too).
    pub fn delivered(&mut self, size: u64, stream: &str, consumer: &str) -> Option<String> {
        self.pending_bytes += size;
        match &self.request {
            None if self.pending_bytes > self.window_bytes / 2 => {
                let reply = self.next_reply(stream, consumer);
                self.request_bytes = self.pending_bytes;
                self.request = Some(reply.clone());
                Some(reply)
            }
            Some(_) if self.pending_bytes - self.request_bytes >= self.window_bytes => {
                self.request_bytes += size;
                None
            }
            _ => None,
        }
    }

    /// A message arrived on `subject`, a flow-control reply subject of this consumer. True
    /// when it answered the outstanding request: its bytes are released, the window doubles
    /// (up to its maximum), and delivery may go on.
    pub fn answered(&mut self, subject: &[u8]) -> bool {
        if self.request.as_deref().map(str::as_bytes) != Some(subject) {
            return false;
        }
        self.window_bytes = (self.window_bytes * 2).min(FLOW_CONTROL_WINDOW_MAX_BYTES);
        self.pending_bytes = self.pending_bytes.saturating_sub(self.request_bytes);
        self.request_bytes = 0;
        self.request = None;
        true
    }

    /// `$JS.FC.<stream>.<consumer>.<token>`: four base-62 characters, as nats-server's, but
    /// from a counter mixed with the consumer's traffic so two requests in a row differ.
    fn next_reply(&mut self, stream: &str, consumer: &str) -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        self.requests_sent += 1;
        let mut n = rand::random::<u64>() ^ self.requests_sent;
        let mut token = String::with_capacity(4);
        for _ in 0..4 {
            token.push(DIGITS[(n % 62) as usize] as char);
            n /= 62;
        }
        format!("{FLOW_CONTROL_PREFIX}{stream}.{consumer}.{token}")
    }
}

/// `rate_limit_bps` as a token bucket of `burst_bytes` that fills at the rate, full at the
/// start (as Go's `rate.Limiter` is), kept as the time the bucket is next full
/// (a virtual-scheduling form: no refill step, one subtraction per message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub bytes_per_s: u64,
    pub burst_bytes: u64,
    /// When (µs on the wheel's scale) everything sent so far has drained out of the bucket.
    drained_at_us: u64,
}

impl RateLimit {
    /// `bits_per_s` as configured; `burst_bytes` is the stream's `max_msg_size` or the
    /// server's `max_payload` (nats-server's burst).
    pub fn new(bits_per_s: u64, burst_bytes: u64) -> RateLimit {
        RateLimit {
            bytes_per_s: (bits_per_s / 8).max(1),
            burst_bytes: burst_bytes.max(1),
            drained_at_us: 0,
        }
    }

    fn cost_us(&self, bytes: u64) -> u64 {
        (u128::from(bytes) * 1_000_000 / u128::from(self.bytes_per_s)).min(u128::from(u64::MAX))
            as u64
    }

    /// How long (ms, rounded up) until `size` bytes may go; 0: now. A message larger than
    /// the burst waits for a full bucket (nats-server's limiter would refuse it forever).
    pub fn wait_ms(&self, size: u64, now_ms: u64) -> u64 {
        let now_us = now_ms.saturating_mul(1000);
        let cost = self.cost_us(size.min(self.burst_bytes));
        let tau = self.cost_us(self.burst_bytes);
        let after = self.drained_at_us.max(now_us).saturating_add(cost);
        after
            .saturating_sub(tau)
            .saturating_sub(now_us)
            .div_ceil(1000)
    }

    /// `size` bytes went out now.
    pub fn take(&mut self, size: u64, now_ms: u64) {
        let now_us = now_ms.saturating_mul(1000);
        let cost = self.cost_us(size.min(self.burst_bytes));
        self.drained_at_us = self.drained_at_us.max(now_us).saturating_add(cost);
    }
}

/// `replay_policy: original` until the consumer first finds nothing more to deliver (it has
/// caught up with the stream): each message waits for the gap between its timestamp and the
/// previous one's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// The stored timestamp (Unix ns) of the last message delivered, and when (wheel ms).
    last: Option<(i64, u64)>,
}

impl Replay {
    /// How long (ms) a message stored at `ts_ns` must still wait; 0: now.
    pub fn wait_ms(&self, ts_ns: i64, now_ms: u64) -> u64 {
        let Some((last_ts, sent_ms)) = self.last else {
            return 0;
        };
        let gap = ts_ns.saturating_sub(last_ts);
        if gap <= REPLAY_GAP_MIN_NS {
            return 0;
        }
        let due = sent_ms.saturating_add((gap as u64) / 1_000_000);
        due.saturating_sub(now_ms)
    }

    pub fn delivered(&mut self, ts_ns: i64, now_ms: u64) {
        self.last = Some((ts_ns, now_ms));
    }
}

/// A consumer's pacing and sampling, from its spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub control: Option<FlowControl>,
    pub rate: Option<RateLimit>,
    pub replay: Option<Replay>,
    /// `sample_freq` in percent (0: no ack metrics).
    pub sample_pct: u32,
    /// The resume timer armed, if any (wheel ms).
    resume_at_ms: Option<u64>,
}

/// Whether the next message may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Flow control: wait for the client's answer.
    Stalled,
    /// Rate or replay: wait until then (wheel ms).
    Until(u64),
}

impl Flow {
    /// The pacing `spec` asks for; `last_seq` is the stream's last sequence now (nothing to
    /// replay when 0), `burst_bytes` the rate limiter's burst.
    pub fn new(spec: &ConsumerSpec, last_seq: u64, burst_bytes: u64) -> Flow {
        let push = spec.deliver_subject.is_some();
        Flow {
            control: (push && spec.flow_control).then(FlowControl::default),
            rate: (spec.rate_limit_bps > 0)
                .then(|| RateLimit::new(spec.rate_limit_bps, burst_bytes)),
            replay: (spec.replay_original && last_seq > 0).then(Replay::default),
            sample_pct: spec.sample_pct,
            resume_at_ms: None,
        }
    }

    /// An updated config: only the rate and the sampling may change (nats-server refuses
    /// updates of the others).
    pub fn update(&mut self, spec: &ConsumerSpec, burst_bytes: u64) {
        self.sample_pct = spec.sample_pct;
        let same =
            self.rate.as_ref().map(|r| r.bytes_per_s) == Some((spec.rate_limit_bps / 8).max(1));
        if spec.rate_limit_bps == 0 {
            self.rate = None;
        } else if !same {
            self.rate = Some(RateLimit::new(spec.rate_limit_bps, burst_bytes));
        }
    }

    /// Whether [`gate`](Self::gate) needs the next message's size and timestamp.
    pub fn needs_peek(&self) -> bool {
        self.rate.is_some() || self.replay.is_some()
    }

    /// Whether the next message (`size` bytes stored at `ts_ns`, if known) may go now.
    pub fn gate(&self, next: Option<(u64, i64)>, now_ms: u64) -> Gate {
        if self.control.as_ref().is_some_and(FlowControl::stalled) {
            return Gate::Stalled;
        }
        let Some((size, ts_ns)) = next else {
            return Gate::Open;
        };
        let replay = self.replay.as_ref().map_or(0, |r| r.wait_ms(ts_ns, now_ms));
        let rate = self.rate.as_ref().map_or(0, |r| r.wait_ms(size, now_ms));
        match replay.max(rate) {
            0 => Gate::Open,
            wait => Gate::Until(now_ms + wait),
        }
    }

    /// A message went out; returns the reply subject of a flow-control request to send.
    /// `push_size` is what flow control counts (deliver subject, reply, headers, payload),
    /// `size` what the rate counts (message subject instead of the deliver subject).
    pub fn delivered(
        &mut self,
        (stream, consumer): (&str, &str),
        (size, push_size): (u64, u64),
        ts_ns: i64,
        now_ms: u64,
    ) -> Option<String> {
        if let Some(r) = &mut self.rate {
            r.take(size, now_ms);
        }
        if let Some(r) = &mut self.replay {
            r.delivered(ts_ns, now_ms);
        }
        self.control
            .as_mut()?
            .delivered(push_size, stream, consumer)
    }

    /// The deliver loop found nothing more to deliver, and not because of `max_ack_pending`:
    /// everything the stream held went out, so replay ends and later messages go at once
    /// (nats-server leaves replay once its next sequence passes the stream's last).
    pub fn caught_up(&mut self) {
        self.replay = None;
    }

    /// Arms the one resume timer for `at`, unless one as early is armed already.
    pub fn arm_resume(&mut self, consumer_id: u64, at: u64, wheel: &mut Wheel<ConsumerTimer>) {
        if self.resume_at_ms.is_some_and(|t| t <= at) {
            return;
        }
        self.resume_at_ms = Some(at);
        wheel.insert(
            at,
            ConsumerTimer {
                consumer_id,
                kind: TimerKind::Resume,
            },
        );
    }

    /// A resume timer fired: the one armed for at or before now is spent.
    pub fn resume_fired(&mut self, now_ms: u64) {
        if self.resume_at_ms.is_some_and(|t| t <= now_ms) {
            self.resume_at_ms = None;
        }
    }

    /// Whether this ack is sampled (`sample_freq`): always at 100 %, never at 0, otherwise
    /// by a draw as nats-server's `shouldSample` makes it.
    pub fn sample(&self) -> bool {
        match self.sample_pct {
            0 => false,
            100.. => true,
            pct => rand::random::<u32>() % 100 <= pct,
        }
    }

    /// The outstanding flow-control request, which a heartbeat names while it waits.
    pub fn outstanding(&self) -> Option<&str> {
        self.control.as_ref()?.request.as_deref()
    }
}

/// `sample_freq` ("30%" or "30") in percent; nats-server's check refuses anything else.
pub fn sample_pct(s: &str) -> u32 {
    s.trim_end_matches('%')
        .parse::<i64>()
        .map_or(0, |n| n.clamp(0, 100) as u32)
}

/// An idle heartbeat naming the flow-control request it is stalled on
/// (`Nats-Consumer-Stalled`), as nats-server adds it.
pub fn stalled_heartbeat(mut heartbeat: Vec<u8>, request: &str) -> Vec<u8> {
    heartbeat.truncate(heartbeat.len().saturating_sub(2));
    heartbeat.extend_from_slice(b"Nats-Consumer-Stalled: ");
    heartbeat.extend_from_slice(request.as_bytes());
    heartbeat.extend_from_slice(b"\r\n\r\n");
    heartbeat
}

/// `io.nats.jetstream.metric.v1.consumer_ack`, field for field as nats-server writes it.
#[derive(Serialize)]
struct AckMetric<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    stream: &'a str,
    consumer: &'a str,
    consumer_seq: u64,
    stream_seq: u64,
    /// From the delivery to the ack, ns.
    ack_time: i64,
    deliveries: u64,
}

/// One sampled ack, as the engine reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampledAck {
    pub stream_seq: u64,
    /// From the ack subject: the consumer sequence and delivery count of the acked delivery.
    pub consumer_seq: u64,
    pub deliveries: u64,
    /// When (wheel ms, Unix) the message was last delivered.
    pub delivered_ms: u64,
}

impl AccountStreams {
    /// The rate limiter's burst for consumers of `stream`: its `max_msg_size`, else the
    /// server's `max_payload` (as nats-server's `setRateLimit` picks it).
    pub(crate) fn rate_burst_bytes(&self, stream: &str) -> u64 {
        match self.streams.get(stream).map(|s| s.config.max_msg_size) {
            Some(m) if m > 0 => m as u64,
            _ => self.env.max_payload_bytes as u64,
        }
    }

    /// Publishes `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>` for a sampled ack.
    pub(crate) fn ack_metric(&mut self, stream: &str, consumer: &str, a: SampledAck, now: Clock) {
        let delivered_ns = i64::try_from(a.delivered_ms.saturating_mul(1_000_000)).unwrap_or(0);
        let doc = AckMetric {
            kind: "io.nats.jetstream.metric.v1.consumer_ack",
            id: super::consumer_events::advisory_id(),
            timestamp: Out::event_time(now),
            stream,
            consumer,
            consumer_seq: a.consumer_seq,
            stream_seq: a.stream_seq,
            ack_time: now.ns.saturating_sub(delivered_ns).max(0),
            deliveries: a.deliveries,
        };
        let subject = format!("$JS.EVENT.METRIC.CONSUMER.ACK.{stream}.{consumer}");
        let payload = serde_json::to_vec(&doc).unwrap_or_default();
        self.outbox.push(Out::event(subject, payload));
    }

    /// A message on `$JS.FC.…`: true if it answered a consumer's outstanding flow-control
    /// request (that consumer then delivers again).
    pub fn on_flow_control(&mut self, subject: &[u8], now: Clock) -> bool {
        let Some(rest) = subject.strip_prefix(FLOW_CONTROL_PREFIX.as_bytes()) else {
            return false;
        };
        let mut parts = rest.split(|b| *b == b'.');
        let (Some(stream), Some(consumer), Some(_token), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Ok(stream), Ok(consumer)) =
            (std::str::from_utf8(stream), std::str::from_utf8(consumer))
        else {
            return false;
        };
        let answered = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
            .and_then(|c| c.flow.control.as_mut())
            .is_some_and(|fc| fc.answered(subject));
        if answered {
            self.deliver(stream, consumer, now);
        }
        answered
    }
}

#[cfg(test)]
#[path = "consumer_flow_tests.rs"]
mod tests;
