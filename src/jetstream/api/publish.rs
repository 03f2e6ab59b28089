//! The publish side of a stream, sans-io: the expectation headers, `Nats-Msg-Id`
//! deduplication, `Nats-Rollup` and `Nats-TTL` checks, and the pub-ack JSON.
//!
//! [`check_publish`] decides, from the headers and the stream's state, whether a message is
//! stored, is a duplicate, or is refused, in nats-server 2.15.1's order of checks (the first
//! failing one is the error the client sees). The store's own refusals (discard new at a
//! limit) come after it and use [`ApiError::max_msgs_exceeded`] and friends.
//!
//! Invariants: the dedup table holds each id at most once, forgets an id once `now` is past
//! its store time plus `duplicate_window`, and never reads a clock: `now` is passed in.

use super::config::StreamConfig;
use super::error::ApiError;
use super::headers::Headers;
use super::info::UnixNanos;
use std::collections::{HashMap, VecDeque};

pub const HDR_MSG_ID: &str = "Nats-Msg-Id";
pub const HDR_EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const HDR_EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const HDR_EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const HDR_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT: &str =
    "Nats-Expected-Last-Subject-Sequence-Subject";
pub const HDR_EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const HDR_ROLLUP: &str = "Nats-Rollup";
pub const HDR_TTL: &str = "Nats-TTL";

/// What a rollup removes once the message is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    /// `sub`: earlier messages on the same subject.
    Subject,
    /// `all`: every earlier message.
    All,
}

/// How to store an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accepted {
    /// The `Nats-Msg-Id` to record in the dedup table (and as the stream's last id).
    pub msg_id: Option<String>,
    /// Per-message TTL in seconds; 0 none, -1 never expires. Raised to the stream's
    /// `subject_delete_marker_ttl` when below it: the store then writes `Nats-TTL: <ttl_s>`
    /// in place of the header it got, as nats-server does.
    pub ttl_s: i64,
    /// `ttl_s` was raised to the marker TTL, so the stored header block is rewritten.
    pub ttl_raised: bool,
    pub rollup: Option<Rollup>,
    /// A counter stream's `Nats-Incr` (counters.rs applies it to the subject's value).
    pub incr: Option<num_bigint::BigInt>,
    /// What the message-schedule checks found (schedules.rs).
    pub schedule: crate::jetstream::schedules::Checked,
}

/// The verdict on one publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishDecision {
    Store(Accepted),
    /// Seen within the duplicate window: ack with the original sequence, store nothing.
    Duplicate {
        seq: u64,
    },
    Reject(ApiError),
}

/// What the checks need to know of the stream.
pub struct StreamPublishState<'a> {
    pub config: &'a StreamConfig,
    /// The stream's last sequence (0 when nothing was ever stored).
    pub last_seq: u64,
    /// The `Nats-Msg-Id` of the last stored message ("" if it had none).
    pub last_msg_id: &'a str,
    /// The server's `max_payload`, which headers and payload together may not exceed.
    pub max_payload_bytes: usize,
}

/// The message being published, as the checks see it.
pub struct Incoming<'a> {
    pub subject: &'a str,
    pub hdrs: &'a Headers<'a>,
    /// Length of the header block as received.
    pub hdr_bytes: usize,
    /// The header block as received: `Nats-Incr` is read from it as nats-server reads it
    /// (leading spaces skipped, trailing whitespace kept), not from the trimmed `hdrs`.
    pub hdr_block: &'a [u8],
    pub payload_bytes: usize,
    /// A message a schedule made (the server's own, as nats-server's `sourced`): the schedule
    /// checks do not apply to it.
    pub scheduled: bool,
}

/// Decides a publish. `last_seq_on(subject)` is the sequence of the last message stored on
/// that subject, if any.
pub fn check_publish(
    st: &StreamPublishState<'_>,
    msg: &Incoming<'_>,
    now: UnixNanos,
    dedup: &mut DedupTable,
    last_seq_on: impl Fn(&str) -> Option<u64>,
) -> PublishDecision {
    let (subject, hdrs) = (msg.subject, msg.hdrs);
    let (hdr_bytes, payload_bytes) = (msg.hdr_bytes, msg.payload_bytes);
    use PublishDecision::Reject;
    let cfg = st.config;
    if cfg.sealed {
        return Reject(ApiError::Sealed);
    }
    // Counter increments come first in nats-server's order (counters.rs).
    let incr = match crate::jetstream::counters::check_incr(
        cfg.allow_msg_counter,
        msg.hdr_block,
        hdrs,
        payload_bytes,
        false,
    ) {
        Ok(i) => i,
        Err(e) => return Reject(e),
    };
    if let Some(name) = hdrs.get(HDR_EXPECTED_STREAM) {
        if !name.is_empty() && name != cfg.name {
            return Reject(ApiError::ExpectedStreamMismatch);
        }
    }
    // A TTL that does not parse counts as none here and is refused after the size checks.
    let ttl = hdrs.get(HDR_TTL).filter(|v| !v.is_empty()).map(parse_ttl);
    if matches!(ttl, Some(Ok(t)) if t != 0) && !cfg.allow_msg_ttl {
        return Reject(ApiError::MessageTtlDisabled);
    }
    let override_subject = hdrs
        .get(HDR_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT)
        .filter(|s| !s.is_empty());
    if let Some(v) = hdrs
        .get(HDR_EXPECTED_LAST_SUBJECT_SEQ)
        .filter(|v| !v.is_empty())
    {
        let want = parse_go_uint(v);
        let actual = last_seq_on(override_subject.unwrap_or(subject));
        if actual.unwrap_or(0) != want {
            return Reject(ApiError::WrongLastSequence(actual.unwrap_or(0)));
        }
    } else if override_subject.is_some() {
        return Reject(ApiError::ExpectedLastSeqPerSubjectInvalid);
    }
    if let Some(v) = hdrs.get(HDR_EXPECTED_LAST_SEQ).filter(|v| !v.is_empty()) {
        if parse_go_uint(v) != st.last_seq {
            return Reject(ApiError::WrongLastSequence(st.last_seq));
        }
    }
    // Message schedules (schedules.rs), where nats-server checks them.
    let schedule = if msg.scheduled {
        Default::default()
    } else {
        match crate::jetstream::schedules::check(cfg, subject, hdrs, now) {
            Ok(c) => c,
            Err(e) => return Reject(e),
        }
    };
    // Only a source's copies may carry it (they are stored without these checks).
    if hdrs
        .get("Nats-Stream-Source")
        .is_some_and(|v| !v.is_empty())
    {
        return Reject(ApiError::MessageSourceHdrNotAllowed);
    }
    let msg_id = hdrs.get(HDR_MSG_ID).filter(|v| !v.is_empty());
    if let Some(id) = msg_id {
        if let Some(seq) = dedup.lookup(id, now, cfg.duplicate_window_ns) {
            return PublishDecision::Duplicate { seq };
        }
    }
    if let Some(want) = hdrs.get(HDR_EXPECTED_LAST_MSG_ID).filter(|v| !v.is_empty()) {
        if want != st.last_msg_id {
            return Reject(ApiError::WrongLastMsgId(st.last_msg_id.to_string()));
        }
    }
    let mut rollup = None;
    if let Some(r) = hdrs.get(HDR_ROLLUP).filter(|v| !v.is_empty()) {
        if !cfg.allow_rollup_hdrs || cfg.deny_purge {
            return Reject(ApiError::RollupFailed("rollup not permitted".into()));
        }
        rollup = Some(match r {
            "sub" => Rollup::Subject,
            "all" => Rollup::All,
            other => {
                return Reject(ApiError::RollupFailed(format!(
                    "rollup value invalid: {}",
                    crate::gofmt::quote(other)
                )))
            }
        });
    }
    if schedule.add_rollup_sub && rollup.is_none() {
        rollup = Some(Rollup::Subject);
    }
    if cfg.allow_msg_counter && incr.is_none() {
        return Reject(ApiError::MessageIncrMissing);
    }
    let total = hdr_bytes.saturating_add(payload_bytes);
    if total > st.max_payload_bytes {
        return Reject(ApiError::MessageExceedsMaximum);
    }
    if cfg.max_msg_size >= 0 && total > cfg.max_msg_size as usize {
        return Reject(ApiError::MessageExceedsMaximum);
    }
    let mut ttl_s = match ttl {
        None => 0,
        Some(Ok(t)) => t,
        Some(Err(e)) => return Reject(e),
    };
    // With subject delete markers a TTL below the marker TTL would let a marker be missed;
    // nats-server raises it (and rewrites the header), except at one message per subject.
    let marker_s = cfg.subject_delete_marker_ttl_ns / 1_000_000_000;
    let ttl_raised = ttl_s > 0 && marker_s > 0 && cfg.max_msgs_per_subject != 1 && ttl_s < marker_s;
    if ttl_raised {
        ttl_s = marker_s;
    }
    PublishDecision::Store(Accepted {
        msg_id: msg_id.map(str::to_string),
        ttl_s,
        ttl_raised,
        rollup,
        incr,
        schedule,
    })
}

/// Go's `parseInt64` on a header value: digits only, anything else is -1, which as the
/// unsigned sequence nats-server compares it as is `u64::MAX` (never a real sequence).
fn parse_go_uint(v: &str) -> u64 {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 18 {
        return u64::MAX;
    }
    v.parse().unwrap_or(u64::MAX)
}

/// `Nats-TTL`: `never` (-1), a Go duration of at least 1s (whole seconds), or a plain count
/// of seconds. Anything else is 10165.
pub fn parse_ttl(v: &str) -> Result<i64, ApiError> {
    if v.eq_ignore_ascii_case("never") {
        return Ok(-1);
    }
    if let Some(ns) = parse_go_duration(v) {
        if ns < 1_000_000_000 {
            return Err(ApiError::MessageTtlInvalid);
        }
        return Ok(ns / 1_000_000_000);
    }
    match parse_go_uint(v) {
        u64::MAX => Err(ApiError::MessageTtlInvalid),
        n => Ok(n as i64),
    }
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>` with units
/// ns, us, µs, μs, ms, s, m, h. A bare number other than `0` is not a duration.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let ns = total as i64;
    Some(if neg { -ns } else { ns })
}

/// Recent `Nats-Msg-Id`s of one stream with the sequence and time they were stored.
#[derive(Debug, Default)]
pub struct DedupTable {
    by_id: HashMap<String, (u64, UnixNanos)>,
    /// Insertion order, for expiry from the front; times never decrease within it.
    order: VecDeque<(UnixNanos, String)>,
}

impl DedupTable {
    /// The original sequence of `id` if it was stored within `window_ns` of `now`; expired
    /// ids are dropped first.
    pub fn lookup(&mut self, id: &str, now: UnixNanos, window_ns: i64) -> Option<u64> {
        self.expire(now, window_ns);
        self.by_id.get(id).map(|(seq, _)| *seq)
    }

    /// Records a stored message's id.
    pub fn record(&mut self, id: &str, seq: u64, now: UnixNanos) {
        if self.by_id.insert(id.to_string(), (seq, now)).is_none() {
            self.order.push_back((now, id.to_string()));
        }
    }

    /// Forgets every id stored at or before `now - window_ns`.
    pub fn expire(&mut self, now: UnixNanos, window_ns: i64) {
        while let Some((t, _)) = self.order.front() {
            if now.saturating_sub(*t) < window_ns {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.by_id.remove(&id);
            }
        }
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Drops everything (stream purge or delete).
    pub fn clear(&mut self) {
        self.by_id.clear();
        self.order.clear();
    }
}

/// The pub-ack of a stored message: `{"stream":"S","seq":N}`, with `"domain"` between them
/// when the server has a JetStream domain, byte for byte as nats-server writes it.
pub fn pub_ack(stream: &str, domain: Option<&str>, seq: u64) -> Vec<u8> {
    let domain = domain.filter(|d| !d.is_empty());
    let mut out = Vec::with_capacity(40 + stream.len() + domain.map_or(0, str::len));
    out.extend_from_slice(b"{\"stream\":");
    push_json_str(&mut out, stream);
    if let Some(d) = domain {
        out.extend_from_slice(b",\"domain\":");
        push_json_str(&mut out, d);
    }
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    out.push(b'}');
    out
}

/// The ack of a duplicate: the original sequence and `"duplicate": true` (with nats-server's
/// space after the colon).
pub fn pub_ack_duplicate(stream: &str, domain: Option<&str>, seq: u64) -> Vec<u8> {
    let mut b = pub_ack(stream, domain, seq);
    b.pop();
    b.extend_from_slice(b",\"duplicate\": true}");
    b
}

/// A refused publish: `{"error":{...},"stream":"S","seq":0}` (nats-server sends no domain
/// here: its error ack carries only the stream name).
pub fn pub_error(stream: &str, err: &ApiError) -> Vec<u8> {
    let mut out = b"{\"error\":".to_vec();
    out.extend_from_slice(&super::to_go_json(err));
    out.extend_from_slice(format!(",\"stream\":{}", json_str(stream)).as_bytes());
    out.extend_from_slice(b",\"seq\":0}");
    out
}

fn json_str(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_json_str(&mut out, s);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends `s` as Go's encoder writes a JSON string. Every pub ack names its stream, so the
/// usual name (printable ASCII that Go leaves alone) is copied between quotes; anything else
/// goes through the encoder.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let plain =
        |b: u8| (b' '..=b'~').contains(&b) && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&');
    if s.bytes().all(plain) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(&super::to_go_json(&s));
    }
}
