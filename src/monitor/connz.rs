//! `/connz`: which connections a request selects, their order, the page, and each
//! connection's entry, following nats-server's `Connz` step by step.
//!
//! - `total` counts the connections in the requested state (and account) before the `cid` and
//!   `user` filters and before paging, as nats-server does; `num_connections` is the page size.
//! - Sorting is stable from cid order, so ties keep cid order (nats-server's is unstable).
//! - A closed connection's uptime and idle are measured to its stop time, not to now.

use std::cmp::Reverse;
use std::time::{Duration, SystemTime};

use super::model::{ConnInfo, Connz, GoTime, SubDetail};
use super::query::{ConnState, ConnzOptions, SortKey, SubsMode};
use super::snapshot::{ConnSnapshot, Snapshot, GLOBAL_ACCOUNT};
use crate::gofmt;

/// Builds the `/connz` answer.
pub fn connz(snap: &Snapshot, o: &ConnzOptions) -> Connz {
    let now = snap.server.now;
    let mut out = Connz {
        server_id: snap.server.server_id.clone(),
        now: GoTime(now),
        num_connections: 0,
        total: 0,
        offset: o.offset,
        limit: o.limit,
        connections: Some(Vec::new()),
    };
    if !o.acc.is_empty() && !snap.server.accounts.contains(&o.acc) {
        out.connections = None;
        return out;
    }
    let want_open = matches!(o.state, ConnState::Open | ConnState::All);
    let want_closed = matches!(o.state, ConnState::Closed | ConnState::All);
    let in_acc = |c: &&ConnSnapshot| o.acc.is_empty() || c.account == o.acc;
    let open: Vec<&ConnSnapshot> = match want_open {
        true => snap.connections.iter().filter(in_acc).collect(),
        false => Vec::new(),
    };
    let closed: Vec<&ConnSnapshot> = match want_closed {
        true => snap.closed.iter().filter(in_acc).collect(),
        false => Vec::new(),
    };
    out.total = open.len() + closed.len();

    let mut selected: Vec<&ConnSnapshot> = match o.cid {
        // nats-server looks a cid up among all open clients, whatever `acc` says.
        Some(cid) => want_open
            .then(|| snap.connections.iter().find(|c| c.cid == cid))
            .flatten()
            .or_else(|| closed.iter().copied().find(|c| c.cid == cid))
            .into_iter()
            .collect(),
        None => open
            .into_iter()
            .chain(closed)
            .filter(|c| o.user.is_empty() || c.authorized_user == o.user)
            .collect(),
    };
    sort(&mut selected, o.sort, now);

    let start = o.offset.min(selected.len());
    let end = start + o.limit.min(selected.len() - start);
    let page: Vec<ConnInfo> = selected[start..end]
        .iter()
        .map(|c| conn_info(c, now, o))
        .collect();
    out.num_connections = page.len();
    out.connections = Some(page);
    out
}

/// Orders `conns` by `key`; ties stay in cid order.
pub fn sort(conns: &mut [&ConnSnapshot], key: SortKey, now: SystemTime) {
    conns.sort_by_key(|c| c.cid);
    match key {
        SortKey::Cid | SortKey::Start => {}
        SortKey::Subs => conns.sort_by_key(|c| Reverse(c.subscription_count)),
        SortKey::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        SortKey::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        SortKey::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        SortKey::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        SortKey::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        SortKey::Last => conns.sort_by_key(|c| Reverse(c.last_activity)),
        // Most idle first: the oldest last activity.
        SortKey::Idle => conns.sort_by_key(|c| c.last_activity),
        SortKey::Uptime => conns.sort_by_key(|c| since(c.start, end_of(c, now))),
        SortKey::Stop => conns.sort_by_key(|c| Reverse(c.closed.as_ref().map(|x| x.stop))),
        SortKey::Reason => conns.sort_by(|a, b| reason(a).cmp(reason(b))),
        SortKey::Rtt => conns.sort_by_key(|c| Reverse(go_rtt(c.rtt))),
    }
}

fn reason(c: &ConnSnapshot) -> &str {
    c.closed.as_ref().map_or("", |x| x.reason.as_str())
}

/// Where a connection's uptime and idle time end: its stop time once closed.
fn end_of(c: &ConnSnapshot, now: SystemTime) -> SystemTime {
    c.closed.as_ref().map_or(now, |x| x.stop)
}

fn since(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

/// nats-server shows an RTT between 1 µs and 1 ms in whole microseconds.
fn go_rtt(rtt: Duration) -> Duration {
    if rtt > Duration::from_micros(1) && rtt < Duration::from_millis(1) {
        Duration::from_micros(rtt.as_micros() as u64)
    } else {
        rtt
    }
}

fn conn_info(c: &ConnSnapshot, now: SystemTime, o: &ConnzOptions) -> ConnInfo {
    let end = end_of(c, now);
    let closed = c.closed.is_some();
    let mut info = ConnInfo {
        cid: c.cid,
        kind: "Client",
        kind_type: "nats",
        ip: c.ip.clone(),
        port: c.port,
        start: GoTime(c.start),
        last_activity: GoTime(c.last_activity),
        stop: c.closed.as_ref().map(|x| GoTime(x.stop)),
        reason: reason(c).into(),
        rtt: gofmt::duration(go_rtt(c.rtt)),
        uptime: gofmt::uptime(since(c.start, end)),
        idle: gofmt::uptime(since(c.last_activity, end)),
        pending_bytes: c.pending_bytes,
        in_msgs: c.in_msgs,
        out_msgs: c.out_msgs,
        in_bytes: c.in_bytes,
        out_bytes: c.out_bytes,
        stalls: c.stalls,
        subscriptions: c.subscription_count,
        name: c.name.clone(),
        lang: c.lang.clone(),
        version: c.version.clone(),
        tls_version: c
            .tls
            .as_ref()
            .map(|t| t.version.clone())
            .unwrap_or_default(),
        tls_cipher_suite: c
            .tls
            .as_ref()
            .map(|t| t.cipher_suite.clone())
            .unwrap_or_default(),
        authorized_user: String::new(),
        account: String::new(),
        subscriptions_list: Vec::new(),
        subscriptions_list_detail: Vec::new(),
        name_tag: String::new(),
    };
    match o.subs {
        SubsMode::None => {}
        SubsMode::List => {
            info.subscriptions_list = c.subscriptions.iter().map(|s| s.subject.clone()).collect()
        }
        // nats-server names the account in the details of closed connections only.
        SubsMode::Detail => info.subscriptions_list_detail = sub_details(c, closed),
    }
    if o.auth {
        info.authorized_user = c.authorized_user.clone();
        let named = !c.account.is_empty() && c.account != GLOBAL_ACCOUNT;
        if named {
            info.account = c.account.clone();
        }
        // An open connection always carries its account's tag; a closed one only when its
        // account is not the global one.
        if named || !closed {
            info.name_tag = c.account.clone();
        }
    }
    info
}

/// The subscriptions of `c` as detail entries, with the account when `with_account`.
pub fn sub_details(c: &ConnSnapshot, with_account: bool) -> Vec<SubDetail> {
    c.subscriptions
        .iter()
        .map(|s| SubDetail {
            account: if with_account {
                c.account.clone()
            } else {
                String::new()
            },
            account_tag: if with_account {
                c.account.clone()
            } else {
                String::new()
            },
            subject: s.subject.clone(),
            qgroup: s.queue.clone(),
            queue: String::new(),
            pending_msgs: None,
            sid: s.sid.clone(),
            msgs: s.msgs,
            max: s.max,
            cid: c.cid,
        })
        .collect()
}
