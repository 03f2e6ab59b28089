//! The NATS Streaming endpoints under `/streaming/`, as nats-streaming-server 0.25 answers
//! them (its `server/monitor.go`): `serverz`, `storez`, `clientsz`, `channelsz` and
//! `isFTActive`, plus the `/streaming` index. All are 404 when streaming is off.
//!
//! Shard 0 runs the STAN core and alone fills a [`StanSnapshot`] (`shard/stan_monitor.rs`).
//! Rules kept from the original:
//! - `subs`, `offset` and `limit` are read with Go's `strconv.Atoi` and a bad value is taken
//!   as 0 (never a 400); only `subs=1` lists subscriptions; `limit` <= 0 is 1024;
//! - clients are listed by ID and channels by name, then paged; `total` counts them all;
//! - `client=` and `channel=` answer one object, or a 404 `Client X not found` /
//!   `Channel X not found`;
//! - `isFTActive` is 200 only for an active fault-tolerance member: a standalone server
//!   (natrix) answers 204 with no body;
//! - a subscription's `ack_wait` is in seconds, `max_age`/`max_inactivity` in nanoseconds;
//! - `storez`'s per-channel limits are shown resolved (what an entry leaves at 0 inherited
//!   from the wider entries and the globals, a negative value as 0, unlimited).

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{is_zero, GoTime};
use super::query::Query;
use super::snapshot::Snapshot;
use super::{Response, CONTENT_TYPE_HTML, CONTENT_TYPE_TEXT};
use crate::gofmt;
use crate::stan::{ChannelInfo, ChannelLimits, StanStats, StoreLimits, SubInfo};

/// Entries one page holds when `limit` is not given (nats-streaming-server's
/// `defaultMonitorListLimit`).
pub const STAN_LIST_LIMIT_DEFAULT: usize = 1024;

/// What shard 0 knows of NATS Streaming when a `/streaming/` page is asked.
#[derive(Clone, Debug)]
pub struct StanSnapshot {
    pub cluster_id: String,
    /// A token unique to this start (nats-streaming-server: a NUID).
    pub server_id: String,
    /// `MEMORY` or `FILE`.
    pub store_type: &'static str,
    pub limits: StoreLimits,
    /// Sorted by ID.
    pub clients: Vec<StanClient>,
    /// Sorted by name.
    pub channels: Vec<StanChannel>,
    pub stats: StanStats,
    /// Open descriptors and their limit, filled by the monitor (0: unknown, left out).
    pub open_fds: u64,
    pub max_fds: u64,
}

/// One client.
#[derive(Clone, Debug)]
pub struct StanClient {
    pub id: String,
    pub hb_inbox: String,
    /// Its subscriptions with the channel of each.
    pub subs: Vec<(String, SubInfo)>,
}

/// One channel.
#[derive(Clone, Debug)]
pub struct StanChannel {
    pub name: String,
    pub info: ChannelInfo,
}

/// The pages under `/streaming`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StanPage {
    Root,
    Serverz,
    Storez,
    Clientsz,
    Channelsz,
    IsFtActive,
}

impl StanPage {
    pub fn parse(path: &str) -> Option<StanPage> {
        Some(match path {
            "/streaming" => StanPage::Root,
            "/streaming/serverz" => StanPage::Serverz,
            "/streaming/storez" => StanPage::Storez,
            "/streaming/clientsz" => StanPage::Clientsz,
            "/streaming/channelsz" => StanPage::Channelsz,
            "/streaming/isFTActive" => StanPage::IsFtActive,
            _ => return None,
        })
    }

    pub fn path(self) -> &'static str {
        match self {
            StanPage::Root => "/streaming",
            StanPage::Serverz => "/streaming/serverz",
            StanPage::Storez => "/streaming/storez",
            StanPage::Clientsz => "/streaming/clientsz",
            StanPage::Channelsz => "/streaming/channelsz",
            StanPage::IsFtActive => "/streaming/isFTActive",
        }
    }
}

#[derive(Serialize)]
struct Serverz<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    version: &'a str,
    go: &'a str,
    state: &'static str,
    now: GoTime,
    start_time: GoTime,
    uptime: String,
    clients: usize,
    subscriptions: usize,
    channels: usize,
    total_msgs: u64,
    total_bytes: u64,
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    open_fds: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max_fds: u64,
}

/// nats-streaming-server's `ChannelLimits` with the store-wide `max_channels` in front.
#[derive(Serialize)]
struct LimitsJson {
    max_channels: u64,
    #[serde(flatten)]
    channel: ChannelLimitsJson,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    channels: BTreeMap<String, ChannelLimitsJson>,
}

/// Counts and durations (nanoseconds) of one set of channel limits.
#[derive(Serialize)]
struct ChannelLimitsJson {
    max_msgs: i64,
    max_bytes: i64,
    max_age: i64,
    max_subscriptions: i64,
    max_inactivity: i64,
}

#[derive(Serialize)]
struct Storez<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    now: GoTime,
    #[serde(rename = "type")]
    store_type: &'a str,
    limits: LimitsJson,
    total_msgs: u64,
    total_bytes: u64,
}

#[derive(Serialize)]
struct Subscriptionz<'a> {
    client_id: &'a str,
    inbox: &'a str,
    ack_inbox: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    durable_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    queue_name: &'a str,
    is_durable: bool,
    is_offline: bool,
    max_inflight: u32,
    /// Seconds.
    ack_wait: u64,
    last_sent: u64,
    pending_count: usize,
    is_stalled: bool,
}

#[derive(Serialize)]
struct Clientz<'a> {
    id: &'a str,
    hb_inbox: &'a str,
    subs_count: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    subscriptions: BTreeMap<&'a str, Vec<Subscriptionz<'a>>>,
}

/// The head `clientsz` and `channelsz` share: who answers, and the page.
#[derive(Serialize)]
struct ListHead<'a> {
    cluster_id: &'a str,
    server_id: &'a str,
    now: GoTime,
    offset: usize,
    limit: usize,
    count: usize,
    total: usize,
}

#[derive(Serialize)]
struct Clientsz<'a> {
    #[serde(flatten)]
    head: ListHead<'a>,
    clients: Vec<Clientz<'a>>,
}

#[derive(Serialize)]
struct Channelz<'a> {
    name: &'a str,
    msgs: u64,
    bytes: u64,
    first_seq: u64,
    last_seq: u64,
    subs_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions: Vec<Subscriptionz<'a>>,
}

#[derive(Serialize)]
struct Channelsz<'a> {
    #[serde(flatten)]
    head: ListHead<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    names: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    channels: Vec<Channelz<'a>>,
}

/// Go's `strconv.Atoi` with the error dropped, as nats-streaming-server reads its options.
fn atoi(q: &Query, key: &str) -> i64 {
    q.get(key).parse().unwrap_or(0)
}

fn offset_limit(q: &Query) -> (usize, usize) {
    let offset = usize::try_from(atoi(q, "offset").max(0)).unwrap_or(usize::MAX);
    let limit = match atoi(q, "limit") {
        l if l <= 0 => STAN_LIST_LIMIT_DEFAULT,
        l => usize::try_from(l).unwrap_or(usize::MAX),
    };
    (offset, limit)
}

/// The page of `all` that `offset` and `limit` ask for, with the head that describes it.
fn paged<'a, T>(
    st: &'a StanSnapshot,
    q: &Query,
    now: GoTime,
    all: &'a [T],
) -> (ListHead<'a>, &'a [T]) {
    let (offset, limit) = offset_limit(q);
    let start = offset.min(all.len());
    let page = &all[start..offset.saturating_add(limit).min(all.len())];
    let head = ListHead {
        cluster_id: &st.cluster_id,
        server_id: &st.server_id,
        now,
        offset,
        limit,
        count: page.len(),
        total: all.len(),
    };
    (head, page)
}

fn sub_json(s: &SubInfo) -> Subscriptionz<'_> {
    Subscriptionz {
        client_id: &s.client_id,
        inbox: &s.inbox,
        ack_inbox: &s.ack_inbox,
        durable_name: &s.durable_name,
        queue_name: &s.queue_name,
        is_durable: s.is_durable,
        is_offline: s.is_offline,
        max_inflight: s.max_inflight,
        ack_wait: s.ack_wait_ms / 1000,
        last_sent: s.last_sent,
        pending_count: s.pending_count,
        is_stalled: s.is_stalled,
    }
}

fn client_json(c: &StanClient, with_subs: bool) -> Clientz<'_> {
    let mut subscriptions: BTreeMap<&str, Vec<Subscriptionz<'_>>> = BTreeMap::new();
    if with_subs {
        for (channel, s) in &c.subs {
            subscriptions
                .entry(channel.as_str())
                .or_default()
                .push(sub_json(s));
        }
    }
    Clientz {
        id: &c.id,
        hb_inbox: &c.hb_inbox,
        subs_count: c.subs.len(),
        subscriptions,
    }
}

fn channel_json(c: &StanChannel, with_subs: bool) -> Channelz<'_> {
    Channelz {
        name: &c.name,
        msgs: c.info.msgs,
        bytes: c.info.bytes,
        first_seq: c.info.first_seq,
        last_seq: c.info.last_seq,
        subs_count: c.info.subs.len(),
        subscriptions: if with_subs {
            c.info.subs.iter().map(sub_json).collect()
        } else {
            Vec::new()
        },
    }
}

/// The store limits; each per-channel entry with what it inherits filled in, as
/// nats-streaming-server reports them after `StoreLimits.Build()` (0 is unlimited).
fn limits_json(l: &StoreLimits) -> LimitsJson {
    let json = |c: &ChannelLimits| {
        let ms_to_ns = |ms: u64| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        ChannelLimitsJson {
            max_msgs: count(c.msgs_max),
            max_bytes: count(c.bytes_max),
            max_age: ms_to_ns(c.age_max_ms),
            max_subscriptions: count(c.subs_max),
            max_inactivity: ms_to_ns(c.inactivity_max_ms),
        }
    };
    LimitsJson {
        max_channels: l.channels_max,
        channel: json(&l.channel),
        channels: l
            .per_channel
            .iter()
            .map(|(name, _)| (name.clone(), json(&l.for_channel(name))))
            .collect(),
    }
}

fn totals(st: &StanSnapshot) -> (u64, u64) {
    st.channels
        .iter()
        .fold((0, 0), |(m, b), c| (m + c.info.msgs, b + c.info.bytes))
}

fn not_found(text: String) -> Response {
    Response {
        status: 404,
        content_type: CONTENT_TYPE_TEXT,
        body: format!("{text}\n").into_bytes(),
    }
}

/// Answers one `/streaming` page; a 404 when streaming is off.
pub fn handle(page: StanPage, q: &Query, snap: &Snapshot) -> Response {
    let Some(st) = &snap.streaming else {
        return Response::not_found();
    };
    let s = &snap.server;
    let now = GoTime(s.now);
    let body = match page {
        StanPage::Root => {
            return Response {
                status: 200,
                content_type: CONTENT_TYPE_HTML,
                body: root_page().into_bytes(),
            }
        }
        StanPage::IsFtActive => {
            return Response {
                status: 204,
                content_type: "",
                body: Vec::new(),
            }
        }
        StanPage::Serverz => {
            let (total_msgs, total_bytes) = totals(st);
            super::json::pretty(&Serverz {
                cluster_id: &st.cluster_id,
                server_id: &st.server_id,
                version: &s.version,
                go: &s.runtime_version,
                state: "STANDALONE",
                now,
                start_time: GoTime(s.start),
                uptime: gofmt::uptime(s.now.duration_since(s.start).unwrap_or_default()),
                clients: st.clients.len(),
                subscriptions: st.channels.iter().map(|c| c.info.subs.len()).sum(),
                channels: st.channels.len(),
                total_msgs,
                total_bytes,
                in_msgs: st.stats.in_msgs,
                in_bytes: st.stats.in_bytes,
                out_msgs: st.stats.out_msgs,
                out_bytes: st.stats.out_bytes,
                open_fds: st.open_fds,
                max_fds: st.max_fds,
            })
        }
        StanPage::Storez => {
            let (total_msgs, total_bytes) = totals(st);
            super::json::pretty(&Storez {
                cluster_id: &st.cluster_id,
                server_id: &st.server_id,
                now,
                store_type: st.store_type,
                limits: limits_json(&st.limits),
                total_msgs,
                total_bytes,
            })
        }
        StanPage::Clientsz => {
            let subs = atoi(q, "subs") == 1;
            let one = q.get("client");
            if !one.is_empty() {
                let Some(c) = st.clients.iter().find(|c| c.id == one) else {
                    return not_found(format!("Client {one} not found"));
                };
                super::json::pretty(&client_json(c, subs))
            } else {
                let (head, page) = paged(st, q, now, &st.clients);
                super::json::pretty(&Clientsz {
                    head,
                    clients: page.iter().map(|c| client_json(c, subs)).collect(),
                })
            }
        }
        StanPage::Channelsz => {
            let subs = atoi(q, "subs") == 1;
            let one = q.get("channel");
            if !one.is_empty() {
                let Some(c) = st.channels.iter().find(|c| c.name == one) else {
                    return not_found(format!("Channel {one} not found"));
                };
                super::json::pretty(&channel_json(c, subs))
            } else {
                let (head, page) = paged(st, q, now, &st.channels);
                super::json::pretty(&Channelsz {
                    head,
                    names: if subs {
                        Vec::new()
                    } else {
                        page.iter().map(|c| c.name.as_str()).collect()
                    },
                    channels: if subs {
                        page.iter().map(|c| channel_json(c, true)).collect()
                    } else {
                        Vec::new()
                    },
                })
            }
        }
    };
    Response::json(body)
}

/// The `/streaming` index: links to the pages.
fn root_page() -> String {
    let links: String = [
        (StanPage::Serverz, "server"),
        (StanPage::Storez, "store"),
        (StanPage::Clientsz, "clients"),
        (StanPage::Channelsz, "channels"),
    ]
    .iter()
    .map(|(p, title)| format!("\t<a href=.{}>{title}</a><br/>\n", p.path()))
    .collect();
    format!(
        "<html lang=\"en\">\n<head><title>natrix streaming monitoring</title></head>\n<body>\n\
         {links}</body>\n</html>"
    )
}
