//! JetStream's share of a monitoring answer (`/jsz`, `$SYS.REQ.SERVER.PING.JSZ`): each shard
//! fills a [`JsSnapshot`] with the accounts it owns (`Shard::js_owner`), from its `JsShard`;
//! the monitor merges them ([`JsSnapshot::merge`]).
//!
//! Runs as a control-plane job between two tasks of the message path, like the rest of
//! `stats.rs`; it only reads. Every account JetStream serves is listed, also one whose streams
//! were never opened (no API request yet): nats-server counts those too.

use std::time::SystemTime;

use super::jetstream::JS_API_LEVEL;
use super::Shard;
use crate::jetstream::api::{ConsumerBackend, StateDetail, StreamBackend};
use crate::jetstream::streams::AccountStreams;
use crate::monitor::jsz::{JsAccountSnapshot, JsConfigSnapshot, JsSnapshot, JsStreamSnapshot};

/// nats-server's sync interval when none is configured: 2 minutes.
const SYNC_INTERVAL_MS_DEFAULT: u64 = 120_000;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Shard {
    /// JetStream as this shard sees it, the accounts it owns: `None` unless JetStream runs.
    /// `with_consumers` fills each stream's consumer list (the costly part).
    pub fn js_monitor(&self, with_consumers: bool) -> Option<JsSnapshot> {
        let opts = self.opts();
        let js_opts = opts.jetstream.as_ref()?;
        let js = self.js.borrow();
        let js = js.as_ref()?;
        let interval_ms = match js_opts.sync_interval_ms {
            0 => SYNC_INTERVAL_MS_DEFAULT,
            ms => ms,
        };
        let mut snap = JsSnapshot {
            config: JsConfigSnapshot {
                max_memory: js_opts.max_memory_bytes,
                max_storage: js_opts.max_file_bytes,
                store_dir: opts
                    .js_store_dir()
                    .join("jetstream")
                    .to_string_lossy()
                    .into_owned(),
                sync_interval_ns: interval_ms.saturating_mul(1_000_000),
                sync_always: js_opts.sync_always,
                domain: js_opts.domain.clone().unwrap_or_default(),
            },
            api_level: JS_API_LEVEL,
            ..JsSnapshot::default()
        };
        let auth = self.auth();
        let now = now_ns();
        for account in auth.accounts.live() {
            if !self.js_enabled_for(account.id) || self.js_owner(account.id) != self.id {
                continue;
            }
            let mut a = JsAccountSnapshot {
                name: account.name.to_string(),
                max_memory: -1,
                max_storage: -1,
                ..JsAccountSnapshot::default()
            };
            if let Some(streams) = js.accounts.get(&account.id) {
                fill_account(&mut a, streams, with_consumers, now);
                let l = streams.env.server_limits;
                snap.max_ack_pending = l.max_ack_pending;
                snap.max_request_batch = l.max_request_batch;
            }
            snap.accounts.push(a);
        }
        Some(snap)
    }
}

fn fill_account(
    a: &mut JsAccountSnapshot,
    streams: &AccountStreams,
    with_consumers: bool,
    now: i64,
) {
    let usage = streams.usage();
    a.memory = usage.memory;
    a.storage = usage.storage;
    a.streams_reserved_memory = usage.reserved_memory;
    a.streams_reserved_storage = usage.reserved_storage;
    a.max_memory = streams.env.limits.max_memory;
    a.max_storage = streams.env.limits.max_storage;
    a.api_total = streams.env.api_total;
    a.api_errors = streams.env.api_errors;
    for name in streams.stream_names() {
        let Some(view) = streams.stream(&name, &StateDetail::default()) else {
            continue;
        };
        let consumers = if with_consumers {
            streams
                .consumer_names(&name)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| streams.consumer(&name, c, now))
                .collect()
        } else {
            Vec::new()
        };
        a.streams.push(JsStreamSnapshot {
            config: view.config,
            created: view.created,
            state: view.state,
            mirror: view.mirror,
            sources: view.sources,
            consumers,
        });
    }
}
