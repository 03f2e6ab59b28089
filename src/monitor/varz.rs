//! `/varz` and `/accountz`: the server's identity, configured figures and counters, taken
//! from [`ServerSnapshot`] and the summed subject index, with no per-connection data.
//!
//! natrix has no routes, gateways or leaf nodes, so every message is a client message:
//! `in_client_msgs` equals `in_msgs`, and so on.

use std::time::Duration;

use super::model::{
    AccountInfo, Accountz, AccountzDetail, DiskIoWaitStats, Empty, GoTime, KindCounts, Varz,
};
use super::query::QueryError;
use super::snapshot::Snapshot;
use super::subsz::stats_json;
use crate::gofmt;

/// Builds the `/varz` answer.
pub fn varz(snap: &Snapshot) -> Varz {
    let s = &snap.server;
    let n = &s.counters;
    Varz {
        server_id: s.server_id.clone(),
        server_name: s.server_name.clone(),
        version: s.version.clone(),
        proto: s.proto,
        git_commit: s.git_commit.clone(),
        go: s.runtime_version.clone(),
        host: s.host.clone(),
        port: s.port,
        auth_required: s.auth_required,
        tls_required: s.tls_required,
        tls_verify: s.tls_verify,
        tls_cert_not_after: s.tls_cert_not_after.map(GoTime),
        max_connections: s.max_connections,
        max_subscriptions: s.max_subscriptions,
        ping_interval: nanos(s.ping_interval),
        ping_max: s.ping_max,
        http_host: s.http_host.clone(),
        http_port: s.http_port,
        http_base_path: String::new(),
        https_port: s.https_port,
        auth_timeout: s.auth_timeout.as_secs_f64(),
        max_control_line: s.max_control_line_bytes,
        max_payload: s.max_payload_bytes,
        max_pending: s.max_pending_bytes,
        cluster: Empty {},
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: Empty {},
        jetstream: super::jsz::varz(snap.jetstream.as_ref()),
        tls_timeout: s.tls_timeout.as_secs_f64(),
        write_deadline: nanos(s.write_deadline),
        start: GoTime(s.start),
        now: GoTime(s.now),
        uptime: gofmt::uptime(s.now.duration_since(s.start).unwrap_or_default()),
        mem: s.mem_bytes.unwrap_or(0),
        cores: s.cores,
        gomaxprocs: s.gomaxprocs,
        cpu: s.cpu_percent.unwrap_or(0.0),
        connections: n.connections,
        total_connections: n.total_connections,
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs: n.in_msgs,
        in_bytes: n.in_bytes,
        in_client_msgs: n.in_msgs,
        in_client_bytes: n.in_bytes,
        out_msgs: n.out_msgs,
        out_bytes: n.out_bytes,
        out_client_msgs: n.out_msgs,
        out_client_bytes: n.out_bytes,
        slow_consumers: n.slow_consumers,
        stale_connections: n.stale_connections,
        stalled_clients: n.stalled_clients,
        subscriptions: snap.sublist.subscriptions,
        http_req_stats: s.http_req_stats.clone(),
        config_load_time: GoTime(s.config_load_time),
        config_digest: String::new(),
        feature_flags: Default::default(),
        system_account: s.system_account.clone(),
        slow_consumer_stats: KindCounts {
            clients: n.slow_consumers,
            ..KindCounts::default()
        },
        stale_connection_stats: KindCounts {
            clients: n.stale_connections,
            ..KindCounts::default()
        },
        disk_io_wait_stats: DiskIoWaitStats::default(),
    }
}

/// A Go `time.Duration` in JSON: whole nanoseconds.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Builds the `/accountz` answer: the account list.
pub fn accountz(snap: &Snapshot) -> Accountz {
    Accountz {
        server_id: snap.server.server_id.clone(),
        now: GoTime(snap.server.now),
        system_account: snap.server.system_account.clone(),
        accounts: snap.server.accounts.clone(),
    }
}

/// Builds the `/accountz?acc=NAME` answer, or the 400 for an account that does not exist.
/// The account was last updated when the server started (natrix does not reload accounts).
pub fn account_detail(snap: &Snapshot, name: &str) -> Result<AccountzDetail, QueryError> {
    let s = &snap.server;
    if !s.accounts.iter().any(|a| a == name) {
        return Err(QueryError::NoAccount(name.into()));
    }
    let conns = snap
        .connections
        .iter()
        .filter(|c| c.account == name)
        .count();
    let (exports, imports) = s.account_io.get(name).cloned().unwrap_or_default();
    Ok(AccountzDetail {
        server_id: s.server_id.clone(),
        now: GoTime(s.now),
        system_account: s.system_account.clone(),
        account_detail: AccountInfo {
            exports,
            imports,
            is_system: s.system_account == name,
            account_name: name.into(),
            update_time: GoTime(s.start),
            expired: false,
            complete: true,
            jetstream_enabled: snap
                .jetstream
                .as_ref()
                .is_some_and(|js| js.accounts.iter().any(|a| a.name == name)),
            leafnode_connections: 0,
            client_connections: conns,
            subscriptions: snap.sublist.subscriptions,
            name_tag: name.into(),
            sublist_stats: stats_json(&snap.sublist),
        },
    })
}

/// `/accstatz`: per account with connections (every account with `unused`), its
/// connections, subscriptions and message counts, as nats-server's `account_statz`.
pub fn accstatz(snap: &Snapshot, unused: bool, only: &[&str]) -> serde_json::Value {
    let zero = serde_json::json!({"msgs": 0, "bytes": 0});
    let mut list = Vec::new();
    for name in &snap.server.accounts {
        if !only.is_empty() && !only.contains(&name.as_str()) {
            continue;
        }
        let conns: Vec<_> = snap
            .connections
            .iter()
            .filter(|c| &c.account == name)
            .collect();
        if conns.is_empty() && !unused {
            continue;
        }
        let sum = |f: &dyn Fn(&crate::monitor::snapshot::ConnSnapshot) -> u64| {
            conns.iter().map(|c| f(c)).sum::<u64>()
        };
        list.push(serde_json::json!({
            "acc": name,
            "name": name,
            "conns": conns.len(),
            "leafnodes": 0,
            "total_conns": conns.len(),
            "num_subscriptions": sum(&|c| u64::from(c.subscription_count)),
            "sent": {"msgs": sum(&|c| c.out_msgs), "bytes": sum(&|c| c.out_bytes),
                     "gateways": zero, "routes": zero, "leafs": zero},
            "received": {"msgs": sum(&|c| c.in_msgs), "bytes": sum(&|c| c.in_bytes),
                         "gateways": zero, "routes": zero, "leafs": zero},
            "slow_consumers": 0,
        }));
    }
    serde_json::json!({
        "server_id": snap.server.server_id,
        "now": crate::gofmt::rfc3339(snap.server.now),
        "account_statz": list,
    })
}
