//! The response documents of the consumer API: `ConsumerInfo` (create, info, list) and the
//! pause reply, with nats-server 2.15.1's key order and `omitempty` choices.
//!
//! Invariants: `config` is always present; `delivered`/`ack_floor` carry `last_active` only
//! when set; `push_bound`, `paused` and `pause_remaining` are omitted when false/zero;
//! `cluster` is never written, as a single nats-server writes none for consumers.

use super::super::info::{format_time, UnixNanos};
use super::backend::{ConsumerView, SeqInfo};
use super::config::ConsumerConfig;
use serde::{Serialize, Serializer};

fn ser_time<S: Serializer>(t: &UnixNanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

fn ser_opt_time<S: Serializer>(t: &Option<UnixNanos>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}

fn is_false(v: &bool) -> bool {
    !*v
}
fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `delivered` and `ack_floor`.
#[derive(Debug, Clone, Serialize)]
pub struct SeqInfoBody {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_active: Option<UnixNanos>,
}

impl From<&SeqInfo> for SeqInfoBody {
    fn from(s: &SeqInfo) -> Self {
        SeqInfoBody {
            consumer_seq: s.consumer_seq,
            stream_seq: s.stream_seq,
            last_active: s.last_active.filter(|t| *t > 0),
        }
    }
}

/// One entry of `priority_groups`: the group and its pin (`pinned_ts` is Go's zero time when
/// nobody is pinned, as nats-server writes it).
#[derive(Debug, Clone, Serialize)]
pub struct PriorityGroupBody<'a> {
    pub group: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub pinned_client_id: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub pinned_ts: UnixNanos,
}

/// The ConsumerInfo fields (after `type`).
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerInfoBody<'a> {
    pub stream_name: &'a str,
    pub name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub created: UnixNanos,
    pub config: &'a ConsumerConfig,
    pub delivered: SeqInfoBody,
    pub ack_floor: SeqInfoBody,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub push_bound: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub pause_remaining: i64,
    #[serde(serialize_with = "ser_time")]
    pub ts: UnixNanos,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupBody<'a>>,
}

/// When the consumer is paused until, if that is after `now`.
pub fn paused_until(v: &ConsumerView, now: UnixNanos) -> Option<UnixNanos> {
    v.paused_until
        .or_else(|| v.config.pause_until_ns())
        .filter(|t| *t > now)
}

impl<'a> ConsumerInfoBody<'a> {
    /// The info of `v` at `now`, showing `config` (the stored one, or one with the
    /// response-only metadata added).
    pub fn new(v: &'a ConsumerView, config: &'a ConsumerConfig, now: UnixNanos) -> Self {
        let st = &v.state;
        let until = paused_until(v, now);
        ConsumerInfoBody {
            stream_name: &v.stream,
            name: &v.name,
            created: v.created,
            config,
            delivered: (&st.delivered).into(),
            ack_floor: (&st.ack_floor).into(),
            num_ack_pending: st.num_ack_pending,
            // With one delivery allowed nothing is redelivered; nats-server reports 0.
            num_redelivered: if v.config.max_deliver == 1 {
                0
            } else {
                st.num_redelivered
            },
            num_waiting: if v.config.is_push() {
                0
            } else {
                st.num_waiting
            },
            num_pending: st.num_pending,
            push_bound: v.config.is_push() && st.push_bound,
            paused: until.is_some(),
            pause_remaining: until.map_or(0, |t| t.saturating_sub(now)),
            ts: now,
            priority_groups: v
                .config
                .priority_groups
                .first()
                .map(|g| PriorityGroupBody {
                    group: g,
                    pinned_client_id: v.pin.as_ref().map_or("", |p| p.0.as_str()),
                    pinned_ts: v.pin.as_ref().map_or(0, |p| p.1),
                })
                .into_iter()
                .collect(),
        }
    }
}

/// The pause reply fields (after `type` and any `error`).
#[derive(Debug, Clone, Serialize)]
pub struct PauseBody {
    pub paused: bool,
    pub pause_until: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub pause_remaining: i64,
}
