//! `/subsz` (also `/subscriptionsz`): the subject index figures, and with `subs=1` the
//! subscriptions of open connections, filtered by account and `test` subject, then paged.
//!
//! As in nats-server, `total` is 0 unless the list was asked for, and then counts the
//! entries after filtering and before paging. natrix keeps one index per shard, not one per
//! account, so the figures are the server's whole; an `acc` that does not exist gives zeros.

use super::connz::sub_details;
use super::model::{GoTime, SublistStatsJson, Subsz};
use super::query::SubszOptions;
use super::snapshot::{Snapshot, SublistStats};
use crate::subject;

/// Builds the `/subsz` answer.
pub fn subsz(snap: &Snapshot, o: &SubszOptions) -> Subsz {
    let known = o.acc.is_empty() || snap.server.accounts.contains(&o.acc);
    let stats = if known {
        snap.sublist
    } else {
        SublistStats::default()
    };
    let mut out = Subsz {
        server_id: snap.server.server_id.clone(),
        now: GoTime(snap.server.now),
        stats: stats_json(&stats),
        total: 0,
        offset: o.offset,
        limit: o.limit,
        subscriptions_list: Vec::new(),
    };
    if !o.subs {
        return out;
    }
    let mut conns: Vec<_> = snap
        .connections
        .iter()
        .filter(|c| o.acc.is_empty() || c.account == o.acc)
        .collect();
    conns.sort_by_key(|c| c.cid);
    let mut list: Vec<_> = conns
        .into_iter()
        .flat_map(|c| {
            sub_details(c, true)
                .into_iter()
                .zip(&c.subscriptions)
                .map(|(mut d, s)| {
                    d.pending_msgs = Some(s.pending_msgs);
                    d
                })
        })
        // natrix's additions: `queue` beside nats-server's `qgroup` and `pending_msgs`
        // (seed 003's monitor reads both).
        .map(|mut s| {
            s.queue = s.qgroup.clone();
            s
        })
        .filter(|s| {
            o.test
                .as_ref()
                .is_none_or(|t| subject::matches(s.subject.as_bytes(), t.as_bytes()))
        })
        .collect();
    out.total = list.len();
    let start = o.offset.min(list.len());
    let end = start + o.limit.min(list.len() - start);
    out.subscriptions_list = list.drain(start..end).collect();
    out
}

/// The figures as nats-server writes them, rates computed from the sums.
pub fn stats_json(s: &SublistStats) -> SublistStatsJson {
    SublistStatsJson {
        num_subscriptions: s.subscriptions,
        num_cache: s.cache_entries,
        num_inserts: s.inserts,
        num_removes: s.removes,
        num_matches: s.matches,
        cache_hit_rate: s.cache_hit_rate(),
        max_fanout: s.fanout_max,
        avg_fanout: s.avg_fanout(),
    }
}
