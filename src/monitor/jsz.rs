//! `/jsz` with JetStream on: the server-wide figures, and with `accounts`, `streams`,
//! `consumers` and `config` the per-account, per-stream and per-consumer details, key for key
//! as nats-server 2.15.1 writes them (`tests/monitor_fixtures/jsz_*.json`).
//!
//! Each shard fills a [`JsSnapshot`] with the accounts it owns (`shard/js_monitor.rs`), the
//! monitor merges them ([`JsSnapshot::merge`]); this file only arranges the result. Rules kept from nats-server:
//! - the top figures (`streams`, `consumers`, `messages`, `bytes`, `total`) always count every
//!   account, whatever the filters;
//! - `consumers` implies `streams`, and `streams` without `acc` implies `accounts`;
//! - `acc=NAME` lists that account alone; an `acc` that is not served falls back to the
//!   `accounts` list (or none);
//! - accounts are listed by name, paged by `offset` and `limit` (0: 1024, negative: all);
//! - an account's `reserved_*` are its limits as unsigned numbers (unlimited, -1, shows as
//!   2^64-1), the server's are the sums of the streams' `max_bytes`;
//! - a consumer's `config` is shown only with `config`, as is a stream's.
//!
//! Values natrix reports differently by design: `api.level` is natrix's API level, and
//! `limits` holds only the server limits natrix applies (no `default_max_consumers`).

use serde::{Serialize, Serializer};

use super::model::{is_false, is_zero, GoTime, JsApiStats};
use super::query::JszOptions;
use super::snapshot::Snapshot;
use crate::jetstream::api::consumer::info::{ConsumerInfoBody, PriorityGroupBody, SeqInfoBody};
use crate::jetstream::api::info::{format_time, SourceInfo, StreamState, UnixNanos};
use crate::jetstream::api::{ConsumerConfig, ConsumerView, StreamConfig};

/// What the shards know of JetStream when a `/jsz` is asked.
#[derive(Clone, Debug, Default)]
pub struct JsSnapshot {
    pub config: JsConfigSnapshot,
    /// The API level natrix serves (`api.level`).
    pub api_level: u32,
    /// `jetstream { limits {} }` as applied to consumers; 0 = none.
    pub max_ack_pending: i64,
    pub max_request_batch: i64,
    /// Every account JetStream serves, in any order.
    pub accounts: Vec<JsAccountSnapshot>,
}

impl JsSnapshot {
    /// Adds another shard's part: its accounts (each account is on one shard only); the
    /// settings are the same on every shard, the consumer limits known where an account
    /// has its streams open.
    pub fn merge(&mut self, other: JsSnapshot) {
        if self.max_ack_pending == 0 {
            self.max_ack_pending = other.max_ack_pending;
        }
        if self.max_request_batch == 0 {
            self.max_request_batch = other.max_request_batch;
        }
        self.accounts.extend(other.accounts);
    }
}

/// The server's JetStream settings as `/jsz` reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsConfigSnapshot {
    /// Bytes; the monitor puts the machine's figure in place of "unlimited" (-1).
    pub max_memory: i64,
    pub max_storage: i64,
    /// `<store_dir>/jetstream`.
    pub store_dir: String,
    pub sync_interval_ns: u64,
    pub sync_always: bool,
    /// Empty: none.
    pub domain: String,
}

/// One account JetStream serves.
#[derive(Clone, Debug, Default)]
pub struct JsAccountSnapshot {
    pub name: String,
    pub memory: u64,
    pub storage: u64,
    /// The sums of the `max_bytes` of its memory and file streams.
    pub streams_reserved_memory: u64,
    pub streams_reserved_storage: u64,
    /// Its limits; -1 = unlimited.
    pub max_memory: i64,
    pub max_storage: i64,
    pub api_total: u64,
    pub api_errors: u64,
    pub streams: Vec<JsStreamSnapshot>,
}

/// One stream, and its consumers when they were asked for.
#[derive(Clone, Debug)]
pub struct JsStreamSnapshot {
    pub config: StreamConfig,
    pub created: UnixNanos,
    pub state: StreamState,
    pub mirror: Option<SourceInfo>,
    pub sources: Vec<SourceInfo>,
    /// Filled only when the request lists consumers (`Needs::jetstream_consumers`).
    pub consumers: Vec<ConsumerView>,
}

fn ser_time<S: Serializer>(t: &UnixNanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// The `config` object (also `/varz`'s `jetstream.config`).
#[derive(Clone, Debug, Serialize)]
pub struct JszConfig {
    pub max_memory: i64,
    pub max_storage: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub store_dir: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub sync_interval: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub sync_always: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// natrix parses requests strictly, as nats-server does by default.
    pub strict: bool,
}

/// The `limits` object: the server limits applied to consumers.
#[derive(Clone, Debug, Serialize)]
pub struct JszLimits {
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_request_batch: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

/// The server-wide usage figures (nats-server's `JetStreamStats`): the head of `/jsz` and
/// `/varz`'s `jetstream.stats`.
#[derive(Clone, Debug, Serialize)]
pub struct JsStats {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    pub ha_assets: u64,
    pub api: JsApiStats,
}

/// `/varz`'s `jetstream`: `{}` with JetStream off.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VarzJetStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<JszConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<JsStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JszLimits>,
}

/// `/jsz` with JetStream on.
#[derive(Serialize)]
pub struct Jsz<'a> {
    #[serde(flatten)]
    pub stats: JsStats,
    pub server_id: &'a str,
    pub now: GoTime,
    pub config: JszConfig,
    pub limits: JszLimits,
    pub streams: usize,
    pub consumers: u64,
    pub messages: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_details: Vec<AccountDetail<'a>>,
    pub total: usize,
}

/// One entry of `account_details`.
#[derive(Serialize)]
pub struct AccountDetail<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: u64,
    pub ha_assets: u64,
    /// An account's `api.level` is 0, as nats-server writes it.
    pub api: JsApiStats,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stream_detail: Vec<StreamDetail<'a>>,
}

/// `cluster` of a stream: a single server leads every stream.
#[derive(Serialize)]
pub struct Leader<'a> {
    pub leader: &'a str,
}

/// One entry of `stream_detail`.
#[derive(Serialize)]
pub struct StreamDetail<'a> {
    pub name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub created: UnixNanos,
    pub cluster: Leader<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'a StreamConfig>,
    pub state: &'a StreamState,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumer_detail: Vec<ConsumerDetail<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<&'a SourceInfo>,
    #[serde(skip_serializing_if = "<[SourceInfo]>::is_empty")]
    pub sources: &'a [SourceInfo],
}

/// One entry of `consumer_detail`: a ConsumerInfo whose `config` is shown only on request.
#[derive(Serialize)]
pub struct ConsumerDetail<'a> {
    pub stream_name: &'a str,
    pub name: &'a str,
    #[serde(serialize_with = "ser_time")]
    pub created: UnixNanos,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'a ConsumerConfig>,
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
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    #[serde(serialize_with = "ser_time")]
    pub ts: UnixNanos,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupBody<'a>>,
}

/// Nanoseconds since the Unix epoch of the snapshot's clock reading.
fn unix_nanos(snap: &Snapshot) -> UnixNanos {
    snap.server
        .now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The server-wide usage figures, summed over every account.
pub fn stats(js: &JsSnapshot) -> JsStats {
    let sum = |f: fn(&JsAccountSnapshot) -> u64| js.accounts.iter().map(f).sum::<u64>();
    JsStats {
        memory: sum(|a| a.memory),
        storage: sum(|a| a.storage),
        reserved_memory: sum(|a| a.streams_reserved_memory),
        reserved_storage: sum(|a| a.streams_reserved_storage),
        accounts: js.accounts.len(),
        ha_assets: 0,
        api: JsApiStats {
            level: u64::from(js.api_level),
            total: sum(|a| a.api_total),
            errors: sum(|a| a.api_errors),
        },
    }
}

/// The `config` object.
pub fn config(js: &JsSnapshot) -> JszConfig {
    JszConfig {
        max_memory: js.config.max_memory,
        max_storage: js.config.max_storage,
        store_dir: js.config.store_dir.clone(),
        sync_interval: js.config.sync_interval_ns,
        sync_always: js.config.sync_always,
        domain: js.config.domain.clone(),
        strict: true,
    }
}

/// The `limits` object.
pub fn limits(js: &JsSnapshot) -> JszLimits {
    JszLimits {
        max_request_batch: js.max_request_batch,
        max_ack_pending: js.max_ack_pending,
    }
}

/// `/varz`'s `jetstream` block: config, stats and limits when JetStream runs.
pub fn varz(js: Option<&JsSnapshot>) -> VarzJetStream {
    js.map_or_else(VarzJetStream::default, |js| VarzJetStream {
        config: Some(config(js)),
        stats: Some(stats(js)),
        limits: Some(limits(js)),
    })
}

/// Builds the `/jsz` answer from `js` with the options `o`.
pub fn jsz<'a>(snap: &'a Snapshot, js: &'a JsSnapshot, o: &JszOptions) -> Jsz<'a> {
    let mut accounts: Vec<&JsAccountSnapshot> = js.accounts.iter().collect();
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    let all_streams = || accounts.iter().flat_map(|a| &a.streams);
    let chosen: Vec<&JsAccountSnapshot> = match accounts
        .iter()
        .find(|a| !o.acc.is_empty() && a.name == o.acc)
    {
        Some(a) => vec![*a],
        None if o.accounts => accounts
            .iter()
            .skip(o.offset)
            .take(o.limit)
            .copied()
            .collect(),
        None => Vec::new(),
    };
    let now = unix_nanos(snap);
    let server_name = snap.server.server_name.as_str();
    Jsz {
        stats: stats(js),
        server_id: &snap.server.server_id,
        now: GoTime(snap.server.now),
        config: config(js),
        limits: limits(js),
        streams: all_streams().count(),
        consumers: all_streams().map(|s| s.state.consumer_count).sum(),
        messages: all_streams().map(|s| s.state.messages).sum(),
        bytes: all_streams().map(|s| s.state.bytes).sum(),
        account_details: chosen
            .into_iter()
            .map(|a| account_detail(a, o, server_name, now))
            .collect(),
        total: accounts.len(),
    }
}

fn account_detail<'a>(
    a: &'a JsAccountSnapshot,
    o: &JszOptions,
    server_name: &'a str,
    now: UnixNanos,
) -> AccountDetail<'a> {
    let streams = if o.streams { a.streams.as_slice() } else { &[] };
    AccountDetail {
        name: &a.name,
        id: &a.name,
        memory: a.memory,
        storage: a.storage,
        // Go converts the account's int64 limit to uint64: -1 becomes 2^64-1.
        reserved_memory: a.max_memory as u64,
        reserved_storage: a.max_storage as u64,
        accounts: 0,
        ha_assets: 0,
        api: JsApiStats {
            level: 0,
            total: a.api_total,
            errors: a.api_errors,
        },
        stream_detail: streams
            .iter()
            .map(|s| StreamDetail {
                name: &s.config.name,
                created: s.created,
                cluster: Leader {
                    leader: server_name,
                },
                config: o.config.then_some(&s.config),
                state: &s.state,
                consumer_detail: if o.consumers {
                    s.consumers
                        .iter()
                        .map(|c| consumer_detail(c, o.config, now))
                        .collect()
                } else {
                    Vec::new()
                },
                mirror: s.mirror.as_ref(),
                sources: &s.sources,
            })
            .collect(),
    }
}

fn consumer_detail(v: &ConsumerView, with_config: bool, now: UnixNanos) -> ConsumerDetail<'_> {
    let i = ConsumerInfoBody::new(v, &v.config, now);
    ConsumerDetail {
        stream_name: i.stream_name,
        name: i.name,
        created: i.created,
        config: with_config.then_some(&v.config),
        delivered: i.delivered,
        ack_floor: i.ack_floor,
        num_ack_pending: i.num_ack_pending,
        num_redelivered: i.num_redelivered,
        num_waiting: i.num_waiting,
        num_pending: i.num_pending,
        push_bound: i.push_bound,
        paused: i.paused,
        pause_remaining: i.pause_remaining,
        ts: i.ts,
        priority_groups: i.priority_groups,
    }
}
