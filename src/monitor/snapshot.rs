//! What the server gathers from all shards before it answers a monitoring request: plain,
//! `Send` data with no references into shard state, so it can cross threads and be built in
//! tests by hand.
//!
//! Invariants the server keeps when it fills one:
//! - `connections` holds open client connections, `closed` recently closed ones (each with
//!   [`Closed`] set); cids are unique across both.
//! - `now` is one reading of the clock for the whole answer; every "uptime", "idle" and
//!   "now" is computed from it, never from a second reading.
//! - Counters are sums over every shard; `sublist` is the sum of every shard's subject index
//!   (see [`SublistStats::add`]).
//!
//! `monitor::needs` says which parts an endpoint reads, so the server can leave the others
//! empty (gathering connections and their subscriptions is the costly part).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::config::{Options, TLS_TIMEOUT_MS_DEFAULT};

/// The name of the account every client is in when no accounts are configured.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Everything one monitoring answer is built from.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub server: ServerSnapshot,
    /// Open client connections, in any order.
    pub connections: Vec<ConnSnapshot>,
    /// Recently closed client connections, in any order.
    pub closed: Vec<ConnSnapshot>,
    /// The subject indexes of all shards, summed.
    pub sublist: SublistStats,
    /// JetStream as the shards see it, merged; `None` when JetStream is off (or not gathered).
    pub jetstream: Option<super::jsz::JsSnapshot>,
    /// NATS Streaming as shard 0 sees it; `None` when streaming is off (or not gathered).
    pub streaming: Option<super::streaming::StanSnapshot>,
}

/// Identity, configured figures and counters of the server.
#[derive(Clone, Debug)]
pub struct ServerSnapshot {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    /// Protocol version announced in INFO (nats-server: 1).
    pub proto: i32,
    pub git_commit: String,
    /// Reported as `go`: the toolchain the binary was built with.
    pub runtime_version: String,
    pub host: String,
    pub port: u16,
    pub http_host: String,
    /// As configured, as nats-server reports them: -1 for "pick a free port", 0 for none.
    pub http_port: i32,
    pub https_port: i32,
    pub auth_required: bool,
    pub tls_required: bool,
    pub tls_verify: bool,
    pub max_connections: usize,
    /// 0 = unlimited (left out of /varz, as nats-server does).
    pub max_subscriptions: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub auth_timeout: Duration,
    pub tls_timeout: Duration,
    /// When the server's TLS certificate expires (`None` without TLS).
    pub tls_cert_not_after: Option<SystemTime>,
    pub write_deadline: Duration,
    pub max_control_line_bytes: usize,
    pub max_payload_bytes: usize,
    pub max_pending_bytes: usize,
    pub start: SystemTime,
    pub config_load_time: SystemTime,
    /// The clock reading this answer is built at.
    pub now: SystemTime,
    /// CPUs the process may use (`cores`).
    pub cores: usize,
    /// Reported as `gomaxprocs`: natrix reports its shard count.
    pub gomaxprocs: usize,
    /// Resident memory; `None` reports 0.
    pub mem_bytes: Option<u64>,
    /// CPU use in percent of one core; `None` reports 0.
    pub cpu_percent: Option<f64>,
    /// Accounts that exist, for /accountz and the `acc` filters; `$G` at least.
    pub accounts: Vec<String>,
    /// The system account's name; empty without one.
    pub system_account: String,
    /// Per account, its exports and imports as `/accountz?acc=` lists them.
    pub account_io: BTreeMap<String, (Vec<serde_json::Value>, Vec<serde_json::Value>)>,
    pub counters: Counters,
    /// Requests per endpoint path (`/varz`, `/connz`, ...), counted by the server.
    pub http_req_stats: BTreeMap<String, u64>,
}

/// Server-wide counters, summed over all shards.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    pub connections: usize,
    pub total_connections: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
}

/// One client connection, open or closed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnSnapshot {
    pub cid: u64,
    pub ip: String,
    pub port: u16,
    pub start: SystemTime,
    pub last_activity: SystemTime,
    /// Last measured round trip; zero when not measured yet.
    pub rtt: Duration,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// Times a producer was stalled on this connection.
    pub stalls: u64,
    /// From CONNECT; empty when not sent.
    pub name: String,
    pub lang: String,
    pub version: String,
    /// The user it authenticated as; empty without auth.
    pub authorized_user: String,
    pub account: String,
    pub tls: Option<TlsSnapshot>,
    /// Its subscriptions; may be left empty when `needs` says subscription lists are not
    /// read, but `subscription_count` is always filled.
    pub subscriptions: Vec<SubSnapshot>,
    pub subscription_count: u32,
    /// Set for a closed connection.
    pub closed: Option<Closed>,
}

/// How and when a connection ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Closed {
    pub stop: SystemTime,
    /// nats-server's text for the reason, e.g. `Client Closed`, `Slow Consumer (Pending Bytes)`.
    pub reason: String,
}

/// TLS details of a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsSnapshot {
    /// As Go names them: `1.2`, `1.3`.
    pub version: String,
    /// As Go names them: `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
}

/// One subscription of a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct SubSnapshot {
    pub subject: String,
    /// Empty for a plain subscription.
    pub queue: String,
    pub sid: String,
    /// Messages delivered to it.
    pub msgs: u64,
    /// Auto-unsubscribe limit; 0 = none.
    pub max: u64,
    /// Messages queued to it and not yet written to its connection's socket (counted
    /// since the connection's outbound queue was last empty, so an upper bound while a
    /// write is under way and 0 once everything is written).
    pub pending_msgs: u64,
}

/// Subject index figures, summed over shards the way nats-server sums them over accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SublistStats {
    pub subscriptions: u64,
    pub cache_entries: u64,
    pub inserts: u64,
    pub removes: u64,
    pub matches: u64,
    pub cache_hits: u64,
    /// Sum of the result sizes over the cache entries walked for fanout.
    pub fanout_total: u64,
    /// Cache entries walked for fanout.
    pub fanout_entries: u64,
    /// Largest result size among them.
    pub fanout_max: u64,
}

impl SublistStats {
    /// Adds another shard's figures; the rates are computed from the sums, not averaged.
    pub fn add(&mut self, o: &SublistStats) {
        self.subscriptions += o.subscriptions;
        self.cache_entries += o.cache_entries;
        self.inserts += o.inserts;
        self.removes += o.removes;
        self.matches += o.matches;
        self.cache_hits += o.cache_hits;
        self.fanout_total += o.fanout_total;
        self.fanout_entries += o.fanout_entries;
        self.fanout_max = self.fanout_max.max(o.fanout_max);
    }

    pub fn cache_hit_rate(&self) -> f64 {
        if self.matches == 0 {
            return 0.0;
        }
        self.cache_hits as f64 / self.matches as f64
    }

    pub fn avg_fanout(&self) -> f64 {
        if self.fanout_total == 0 || self.fanout_entries == 0 {
            return 0.0;
        }
        self.fanout_total as f64 / self.fanout_entries as f64
    }
}

impl From<crate::sublist::SublistStats> for SublistStats {
    /// The shard's sublist does not walk its cache for fanout; those stay 0.
    fn from(s: crate::sublist::SublistStats) -> Self {
        SublistStats {
            subscriptions: s.subscriptions as u64,
            cache_entries: s.cache_entries as u64,
            inserts: s.inserts,
            removes: s.removes,
            matches: s.matches,
            cache_hits: s.cache_hits,
            ..SublistStats::default()
        }
    }
}

impl ServerSnapshot {
    /// The configured figures from `opts`; identity, times and counters from the caller.
    /// The server overwrites what it learns at run time (bound ports, memory, CPU, counters).
    pub fn from_options(
        opts: &Options,
        server_id: &str,
        version: &str,
        start: SystemTime,
        now: SystemTime,
    ) -> Self {
        let auth = &opts.auth;
        let l = &opts.limits;
        ServerSnapshot {
            server_id: server_id.into(),
            server_name: opts.server_name.clone().unwrap_or_else(|| server_id.into()),
            version: version.into(),
            proto: 1,
            git_commit: env!("NATRIX_GIT_COMMIT").to_string(),
            runtime_version: String::new(),
            host: opts.host.clone(),
            port: opts.port,
            http_host: opts
                .monitor
                .host
                .clone()
                .unwrap_or_else(|| opts.host.clone()),
            http_port: configured_port(opts.monitor.http_port),
            https_port: configured_port(opts.monitor.https_port),
            auth_required: auth.token.is_some()
                || auth.user.is_some()
                || !auth.users.is_empty()
                || !auth.nkeys.is_empty(),
            tls_required: opts.tls.is_some(),
            tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
            max_connections: l.max_connections,
            max_subscriptions: l.max_subscriptions,
            ping_interval: l.ping_interval(),
            ping_max: l.ping_max,
            auth_timeout: opts.auth_timeout(),
            tls_timeout: Duration::from_millis(
                opts.tls
                    .as_ref()
                    .map_or(TLS_TIMEOUT_MS_DEFAULT, |t| t.timeout_ms),
            ),
            tls_cert_not_after: None,
            write_deadline: Duration::from_millis(l.write_deadline_ms),
            max_control_line_bytes: l.max_control_line_bytes,
            max_payload_bytes: l.max_payload_bytes,
            max_pending_bytes: l.max_pending_bytes,
            start,
            config_load_time: start,
            now,
            cores: 1,
            gomaxprocs: opts.shards,
            mem_bytes: None,
            cpu_percent: None,
            accounts: vec![GLOBAL_ACCOUNT.into()],
            system_account: String::new(),
            account_io: BTreeMap::new(),
            counters: Counters::default(),
            http_req_stats: BTreeMap::new(),
        }
    }
}

/// A monitoring port as the options hold it (`Some(0)`: a free one is picked) in
/// nats-server's terms (-1 for that, 0 for no listener).
fn configured_port(p: Option<u16>) -> i32 {
    match p {
        Some(0) => -1,
        Some(p) => i32::from(p),
        None => 0,
    }
}
