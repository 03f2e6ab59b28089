//! The Key-Value workloads, on a bucket made as nats.go, nats-py and nats.js make one: the
//! stream `KV_<bucket>` on `$KV.<bucket>.>`, one message per key kept (history 1, as
//! `max_msgs_per_subject`), discard new, rollups allowed, deletes denied, a 2-minute
//! duplicate window, `allow_direct` on, file storage (the clients' default). The bucket is
//! made fresh before the clock starts.
//!
//! - `kvput`: --clients writers put --msgs values in total over --keys keys (each writer
//!   its own share of the keys, in turn): a publish to `$KV.<bucket>.<key>` with a reply
//!   subject, at most --window unacknowledged (1 = `kv.put` awaited one at a time); latency
//!   is each ack's, from its publish.
//! - `kvget`: every key put once (untimed), then --clients readers make --msgs gets in total,
//!   keys in turn, at most --window outstanding each: the direct get the clients use on a
//!   bucket with `allow_direct`, a request to `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`
//!   with an empty body, answered with the value and its `Nats-*` headers. An answer without
//!   headers, with a status (404), or with a value of another size fails the run. Latency is
//!   each get's round trip.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::jetstream::publisher_conn;
use crate::js_api::{publish_acked, Admin, PubFrame, PREFILL_WINDOW};
use crate::measure::{histogram, now_ns};
use crate::proto::{status_of, Conn, Event, Fill, Scanner};
use crate::workload::{join, ready, spawn, split, Outcome, Params, Shared, Tally, Workload};

/// The bucket every KV workload makes (after deleting one left by an earlier run).
pub const BUCKET: &str = "natrix-bench";
/// Values kept per key: the clients' default history.
const HISTORY: u64 = 1;
/// The clients' duplicate window for a bucket without a TTL.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The stream config of a bucket, as the clients send it to `STREAM.CREATE`.
pub fn bucket_config(bucket: &str) -> Value {
    json!({
        "name": format!("KV_{bucket}"),
        "subjects": [format!("$KV.{bucket}.>")],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_msgs_per_subject": HISTORY,
        "max_msg_size": -1,
        "max_age": 0,
        "discard": "new",
        "storage": "file",
        "num_replicas": 1,
        "duplicate_window": DUPLICATE_WINDOW.as_nanos() as u64,
        "allow_rollup_hdrs": true,
        "deny_delete": true,
        "allow_direct": true,
    })
}

/// The subject a put of `key` goes to.
fn key_subject(key: u64) -> String {
    format!("$KV.{BUCKET}.k{key:06}")
}

/// The keys writer or reader `id` of `clients` takes in turn over a space of `keys`: every
/// `clients`-th key from its own, or one key when there are more clients than keys.
fn keys_of(id: usize, clients: usize, keys: u64) -> Vec<u64> {
    let keys = keys.max(1);
    let mine: Vec<u64> = (id as u64..keys).step_by(clients.max(1)).collect();
    if mine.is_empty() {
        vec![id as u64 % keys]
    } else {
        mine
    }
}

/// Runs one KV workload.
pub fn run(workload: Workload, params: Params) -> io::Result<Outcome> {
    let mut admin = Admin::open(&params.server, "setup")?;
    let server_version = admin.conn.server_version.clone();
    admin.create_stream_as(&bucket_config(BUCKET))?;
    let clients = params.clients.max(1);
    if workload == Workload::Kvget {
        prefill(&params)?;
        let stored = admin.stream_msgs_of(&format!("KV_{BUCKET}"))?;
        if stored != params.keys {
            return Err(io::Error::other(format!(
                "put {} keys but the bucket holds {stored} values",
                params.keys
            )));
        }
    }
    let shared = Shared::new(&params, clients);
    let (mut senders, mut takers) = (Vec::new(), Vec::new());
    for (id, n) in split(params.msgs, clients).into_iter().enumerate() {
        match workload {
            Workload::Kvput => senders.push(spawn(&shared, move |s| writer(s, id, n))),
            Workload::Kvget => takers.push(spawn(&shared, move |s| reader(s, id, n))),
            _ => unreachable!("only KV workloads come here"),
        }
    }
    shared.start_clock();
    let sent: Vec<Tally> = senders.into_iter().map(join).collect();
    let taken: Vec<Tally> = takers.into_iter().map(join).collect();
    Ok(shared.outcome(server_version, &sent, &taken))
}

/// One value for every key, untimed.
fn prefill(params: &Params) -> io::Result<()> {
    let (mut conn, mut scan, inbox) = publisher_conn(&params.server, "kv-prefill")?;
    let mut frames: Vec<PubFrame> = (0..params.keys.max(1))
        .map(|k| PubFrame::new(&key_subject(k), &inbox, params.size))
        .collect();
    let deadline = now_ns() + params.timeout.as_nanos() as u64;
    let mut ignored = histogram();
    publish_acked(
        &mut conn,
        &mut scan,
        &mut frames,
        params.keys.max(1),
        PREFILL_WINDOW,
        &mut ignored,
        || now_ns() > deadline,
    )?;
    Ok(())
}

fn writer(shared: &Shared, id: usize, n: u64) -> io::Result<Tally> {
    let params = &shared.params;
    let setup = publisher_conn(&params.server, &format!("kv-{id}"));
    let (mut conn, mut scan, inbox) = ready(shared, setup)?;
    let mut frames: Vec<PubFrame> = keys_of(id, params.clients, params.keys)
        .into_iter()
        .map(|k| PubFrame::new(&key_subject(k), &inbox, params.size))
        .collect();
    let mut hist = histogram();
    let last_ns = publish_acked(
        &mut conn,
        &mut scan,
        &mut frames,
        n,
        params.window,
        &mut hist,
        || shared.timed_out(),
    )?;
    shared.merge(&hist);
    Ok(Tally { count: n, last_ns })
}

/// The direct get of `key`, answered on `reply`.
fn append_get(out: &mut Vec<u8>, key: u64, reply: &str) {
    let _ = write!(
        out,
        "PUB $JS.API.DIRECT.GET.KV_{BUCKET}.{} {reply} 0\r\n\r\n",
        key_subject(key)
    );
}

/// The request number a reply subject `<prefix>.<number>` carries.
fn request_number(subject: &[u8], prefix: &str) -> Option<u64> {
    let rest = subject
        .strip_prefix(prefix.as_bytes())?
        .strip_prefix(b".")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// One reader: `n` direct gets, at most --window outstanding, each answered on its own
/// reply subject (the answers to one connection's gets need not come in order).
fn reader(shared: &Shared, id: usize, n: u64) -> io::Result<Tally> {
    let params = &shared.params;
    let prefix = format!("_INBOX.natrix-bench.kv.{id}");
    let mut scan = Scanner::default();
    let setup = Conn::open_headers(&params.server, "natrix-bench kvget").and_then(|mut conn| {
        conn.roundtrip(format!("SUB {prefix}.* 1\r\n").as_bytes(), &mut scan)?;
        Ok(conn)
    });
    let mut conn = ready(shared, setup)?;
    let keys = keys_of(id, params.clients, params.keys);
    let window = params.window.max(1) as u64;
    // Send times by request number, until answered.
    let mut sent_at: HashMap<u64, u64> = HashMap::with_capacity(window as usize);
    let mut hist = histogram();
    let mut out = Vec::with_capacity(1 << 16);
    let (mut sent, mut answered) = (0u64, 0u64);
    let mut last_ns = now_ns();
    while answered < n {
        out.clear();
        let now = now_ns();
        while sent < n && sent - answered < window {
            let key = keys[(sent % keys.len() as u64) as usize];
            append_get(&mut out, key, &format!("{prefix}.{sent}"));
            sent_at.insert(sent, now);
            sent += 1;
        }
        if !out.is_empty() {
            conn.stream.write_all(&out)?;
        }
        if let Fill::Idle = scan.fill(&mut conn.stream)? {
            if shared.timed_out() {
                return Err(io::Error::other(format!(
                    "timed out with {answered} of {n} gets answered"
                )));
            }
            continue;
        }
        let now = now_ns();
        out.clear();
        let mut problem = None;
        scan.drain(|event| {
            match event {
                Event::Msg {
                    subject,
                    headers,
                    payload,
                    ..
                } => {
                    let number = request_number(subject, &prefix);
                    let value = &payload[headers..];
                    let status = status_of(&payload[..headers]);
                    if headers == 0 || status.is_some() || value.len() != params.size {
                        problem = Some(String::from_utf8_lossy(payload).into_owned());
                        return false;
                    }
                    match number.and_then(|i| sent_at.remove(&i)) {
                        Some(at) => {
                            let _ = hist.record(now.saturating_sub(at).max(1));
                            answered += 1;
                        }
                        None => {
                            problem =
                                Some(format!("an answer on {}", String::from_utf8_lossy(subject)));
                            return false;
                        }
                    }
                }
                Event::Ping => out.extend_from_slice(b"PONG\r\n"),
                Event::Err(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Event::Pong => {}
            }
            true
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("direct get: {problem}")));
        }
        if !out.is_empty() {
            conn.stream.write_all(&out)?;
        }
        last_ns = now;
    }
    shared.merge(&hist);
    Ok(Tally { count: n, last_ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_the_one_the_clients_make() {
        let c = bucket_config("b");
        assert_eq!(c["name"], "KV_b");
        assert_eq!(c["subjects"], json!(["$KV.b.>"]));
        assert_eq!(c["max_msgs_per_subject"], 1);
        assert_eq!(c["discard"], "new");
        assert_eq!(c["allow_direct"], true);
        assert_eq!(c["duplicate_window"], 120_000_000_000u64);
    }

    #[test]
    fn gets_ask_for_the_last_value_of_a_key() {
        let mut out = Vec::new();
        append_get(&mut out, 42, "_INBOX.r.7");
        assert_eq!(
            out,
            b"PUB $JS.API.DIRECT.GET.KV_natrix-bench.$KV.natrix-bench.k000042 _INBOX.r.7 0\r\n\r\n"
        );
        assert_eq!(request_number(b"_INBOX.r.7", "_INBOX.r"), Some(7));
        assert_eq!(request_number(b"_INBOX.rx.7", "_INBOX.r"), None);
        assert_eq!(request_number(b"_INBOX.r.x", "_INBOX.r"), None);
    }

    #[test]
    fn every_key_is_someones_and_nobody_is_left_without() {
        let mut all: Vec<u64> = (0..3).flat_map(|id| keys_of(id, 3, 10)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(keys_of(4, 5, 2), vec![0]);
    }
}
