//! The response documents of the stream API: `StreamState`, `StreamInfo`, the names/list
//! pages, the account info, and the time format they share.
//!
//! Invariants: keys come out in nats-server 2.15.1's order with its `omitempty` choices;
//! times are Go's UTC RFC 3339 (`...Z`, trailing fraction zeros dropped), and the zero time
//! (`0` here) is written `0001-01-01T00:00:00Z` as Go writes an unset `time.Time`, because
//! async-nats needs `first_ts`/`last_ts` present even on an empty stream.

use super::config::StreamConfig;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch; `0` is "never" (Go's zero `time.Time`).
pub type UnixNanos = i64;

/// A time as nats-server writes it in JSON.
pub fn format_time(t: UnixNanos) -> String {
    if t <= 0 {
        return "0001-01-01T00:00:00Z".to_string();
    }
    crate::gofmt::rfc3339(UNIX_EPOCH + Duration::from_nanos(t as u64))
}

fn ser_time<S: Serializer>(t: &UnixNanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A stream's state, as the store reports it. `first_ts`/`last_ts` are Unix nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_ts: UnixNanos,
    pub last_seq: u64,
    #[serde(serialize_with = "ser_time")]
    pub last_ts: UnixNanos,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    /// Per-subject counts, only when the request asked with `subjects_filter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    /// Interior deleted sequences, only when the request asked with `deleted_details`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
    pub consumer_count: u64,
}

/// Messages the store lost (a damaged block): their sequences and size.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LostStreamData {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msgs: Vec<u64>,
    pub bytes: u64,
}

/// One stream as the API shows it: config, creation time, state, and how its mirror and
/// sources are doing (empty when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamView {
    pub config: StreamConfig,
    pub created: UnixNanos,
    pub state: StreamState,
    pub mirror: Option<SourceInfo>,
    pub sources: Vec<SourceInfo>,
}

/// The progress of a mirror or a source (nats-server's `StreamSourceInfo`, keys in its
/// order): messages behind, the last origin sequence copied (sources only), nanoseconds
/// since it was last heard from (`-1`: never), why it is not copying, and its filters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SourceInfo {
    pub name: String,
    pub lag: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub seq: u64,
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<super::error::ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<super::config::SubjectTransform>,
}

/// `cluster` of a stream info: a single server reports itself as the leader.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo<'a> {
    pub leader: &'a str,
}

/// The StreamInfo body shared by create, update, info and list.
#[derive(Debug, Clone, Serialize)]
pub struct StreamInfoBody<'a> {
    pub config: &'a StreamConfig,
    #[serde(serialize_with = "ser_time")]
    pub created: UnixNanos,
    pub state: &'a StreamState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<&'a SourceInfo>,
    #[serde(skip_serializing_if = "<[SourceInfo]>::is_empty")]
    pub sources: &'a [SourceInfo],
    #[serde(serialize_with = "ser_time")]
    pub ts: UnixNanos,
}

/// `$JS.API.INFO` usage and limits of one account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountUsage {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: u64,
    pub consumers: u64,
}

impl AccountUsage {
    /// Counts one stream of `config` holding `bytes`: in memory or storage by its storage
    /// type, with its `max_bytes` reserved.
    pub fn add_stream(&mut self, config: &StreamConfig, bytes: u64) {
        let reserved = config.max_bytes.max(0) as u64;
        match config.storage {
            super::config::Storage::Memory => {
                self.memory += bytes;
                self.reserved_memory += reserved;
            }
            super::config::Storage::File => {
                self.storage += bytes;
                self.reserved_storage += reserved;
            }
        }
    }
}

/// An account's JetStream limits; `-1` is unlimited, as nats-server writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// The `api` object: level and request counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ApiStats {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

/// The `$JS.API.INFO` response body (after `type`).
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfoBody<'a> {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: u64,
    pub consumers: u64,
    pub limits: &'a AccountLimits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<&'a str>,
    pub api: ApiStats,
}
