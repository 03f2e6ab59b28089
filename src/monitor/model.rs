//! The JSON answers of the monitoring endpoints, field for field as nats-server 2.15 writes
//! them: same names, same order, same types, and the same fields left out when empty
//! (Go's `omitempty`). Checked against `tests/monitor_fixtures/`.
//!
//! Only what natrix can fill is modelled: no routes, gateways, leaf nodes, MQTT, websocket,
//! JWTs or OCSP, so those parts have the shape nats-server gives them when the feature is off
//! (`{}`, `[]`, `0`). JetStream's `/jsz` is in `jsz.rs`; this file keeps its disabled form.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::gofmt;

/// A time, written as Go writes a `time.Time` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTime(pub SystemTime);

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&gofmt::rfc3339(self.0))
    }
}

/// An object with no fields: `{}`, what nats-server writes for a feature that is off.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Empty {}

pub(super) fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

pub(super) fn is_false(v: &bool) -> bool {
    !*v
}

/// `/varz`.
#[derive(Clone, Debug, Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    pub go: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// When the server's certificate expires; left out without TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_not_after: Option<GoTime>,
    pub max_connections: usize,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub max_subscriptions: usize,
    /// Nanoseconds (a Go `time.Duration`).
    pub ping_interval: u64,
    pub ping_max: u32,
    pub http_host: String,
    pub http_port: i32,
    pub http_base_path: String,
    pub https_port: i32,
    /// Seconds.
    pub auth_timeout: f64,
    pub max_control_line: usize,
    pub max_payload: usize,
    pub max_pending: usize,
    pub cluster: Empty,
    pub gateway: Empty,
    pub leaf: Empty,
    pub mqtt: Empty,
    pub websocket: Empty,
    /// `{}` with JetStream off; its config, stats and limits when it runs.
    pub jetstream: super::jsz::VarzJetStream,
    /// Seconds.
    pub tls_timeout: f64,
    /// Nanoseconds.
    pub write_deadline: u64,
    pub start: GoTime,
    pub now: GoTime,
    pub uptime: String,
    pub mem: u64,
    pub cores: usize,
    pub gomaxprocs: usize,
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: u64,
    pub remotes: u64,
    pub leafnodes: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: u64,
    pub http_req_stats: BTreeMap<String, u64>,
    pub config_load_time: GoTime,
    pub config_digest: String,
    /// nats-server's JetStream feature flags; natrix has none, so this is left out.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_flags: BTreeMap<String, bool>,
    /// natrix has no system account, like nats-server with `no_system_account: true`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    pub slow_consumer_stats: KindCounts,
    pub stale_connection_stats: KindCounts,
    pub disk_io_wait_stats: DiskIoWaitStats,
}

/// A counter split by connection kind.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct KindCounts {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

/// Waits on the disk I/O semaphore (JetStream); always zero here.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DiskIoWaitStats {
    pub waiters: u64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

/// `/connz`.
#[derive(Clone, Debug, Serialize)]
pub struct Connz {
    pub server_id: String,
    pub now: GoTime,
    pub num_connections: usize,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// `null` only when filtering by an account that does not exist, as in nats-server.
    pub connections: Option<Vec<ConnInfo>>,
}

/// One connection in `/connz`.
#[derive(Clone, Debug, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub kind_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: GoTime,
    pub last_activity: GoTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<GoTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub stalls: u64,
    pub subscriptions: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_cipher_suite: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
}

/// One subscription in `/connz?subs=detail` and `/subsz?subs=1`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    pub subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub qgroup: String,
    /// natrix's addition beside nats-server's `qgroup`, under the name seed 003's queue-group
    /// monitor reads (`sub.queue`); nats-server sends no such key.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub queue: String,
    /// natrix's addition in `/subsz` only (seed 003's monitor reads `sub.pending_msgs`):
    /// messages queued to the subscription and not yet written to its socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_msgs: Option<u64>,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

/// Subject index figures as `/subsz` and `/accountz?acc=` write them.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct SublistStatsJson {
    pub num_subscriptions: u64,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    pub avg_fanout: f64,
}

/// `/subsz` and `/subscriptionsz`.
#[derive(Clone, Debug, Serialize)]
pub struct Subsz {
    pub server_id: String,
    pub now: GoTime,
    #[serde(flatten)]
    pub stats: SublistStatsJson,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<SubDetail>,
}

/// `/routez`: natrix has no cluster, so no routes.
#[derive(Clone, Debug, Serialize)]
pub struct Routez {
    pub server_id: String,
    pub server_name: String,
    pub now: GoTime,
    pub num_routes: u64,
    pub routes: Vec<Empty>,
}

/// `/gatewayz`: no gateways.
#[derive(Clone, Debug, Serialize)]
pub struct Gatewayz {
    pub server_id: String,
    pub now: GoTime,
    pub outbound_gateways: BTreeMap<String, Empty>,
    pub inbound_gateways: BTreeMap<String, Empty>,
}

/// `/leafz`: no leaf nodes.
#[derive(Clone, Debug, Serialize)]
pub struct Leafz {
    pub server_id: String,
    pub now: GoTime,
    pub leafnodes: u64,
    pub leafs: Vec<Empty>,
}

/// `/healthz` (compact JSON).
#[derive(Clone, Debug, Serialize)]
pub struct Healthz {
    pub status: &'static str,
}

/// `/accountz`.
#[derive(Clone, Debug, Serialize)]
pub struct Accountz {
    pub server_id: String,
    pub now: GoTime,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    pub accounts: Vec<String>,
}

/// `/accountz?acc=NAME`.
#[derive(Clone, Debug, Serialize)]
pub struct AccountzDetail {
    pub server_id: String,
    pub now: GoTime,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    pub account_detail: AccountInfo,
}

/// One account in `/accountz?acc=NAME`.
#[derive(Clone, Debug, Serialize)]
pub struct AccountInfo {
    pub account_name: String,
    pub update_time: GoTime,
    pub expired: bool,
    pub complete: bool,
    pub jetstream_enabled: bool,
    pub leafnode_connections: u64,
    pub client_connections: usize,
    pub subscriptions: u64,
    /// The account's exports and imports as configured (left out when it has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_system: bool,
    pub name_tag: String,
    pub sublist_stats: SublistStatsJson,
}

/// `/jsz` with JetStream off.
#[derive(Clone, Debug, Serialize)]
pub struct JszDisabled {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: u64,
    pub ha_assets: u64,
    pub api: JsApiStats,
    pub server_id: String,
    pub now: GoTime,
    pub disabled: bool,
    pub config: JsConfig,
    pub streams: u64,
    pub consumers: u64,
    pub messages: u64,
    pub bytes: u64,
    pub total: u64,
}

/// The `api` object of `/jsz`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct JsApiStats {
    pub level: u64,
    pub total: u64,
    pub errors: u64,
}

/// The `config` object of `/jsz`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct JsConfig {
    pub max_memory: u64,
    pub max_storage: u64,
}
