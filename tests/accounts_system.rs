//! Accounts (issue 9): the system account's request subjects and events, and the monitoring
//! endpoints that know about accounts (/accountz, /accstatz, /connz?acc=, /subsz?acc=).
//!
//! Written against nats-server 2.15.1 first; natrix must pass them unchanged. JSON is checked as
//! key sets and value types, never as random IDs or times. Fixture: main.conf (see
//! `tests/accounts/support.rs`).

mod common;
#[path = "accounts/support.rs"]
mod support;

use std::collections::BTreeSet;

use common::ops::http_get;
use serde_json::Value;
use support::*;

/// The keys of a JSON object, sorted (empty for a non-object).
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_has_keys(v: &Value, want: &[&str], what: &str) {
    let have = keys(v);
    let missing: Vec<&&str> = want.iter().filter(|k| !have.contains(**k)).collect();
    assert!(missing.is_empty(), "{what}: missing {missing:?} in {v}");
}

/// Sends a request from `c` on `subject` with an empty body and returns the reply as JSON.
fn request_json(c: &mut common::RawClient, subject: &str, inbox: &str) -> (Msg, Value) {
    c.send(format!("PUB {subject} {inbox} 0\r\n\r\n").as_bytes());
    let msg = read_msg(c);
    assert_eq!(msg.subject, inbox, "reply to {subject}: {msg:?}");
    let v: Value = serde_json::from_str(&msg.payload)
        .unwrap_or_else(|e| panic!("reply to {subject} is not JSON ({e}): {:?}", msg.payload));
    (msg, v)
}

/// The `server` object every system reply carries: name, host, id, ver as strings, jetstream as
/// a bool, flags and seq as numbers, time as a string.
fn assert_server_block(v: &Value, what: &str) {
    let s = &v["server"];
    for k in ["name", "host", "id", "ver", "time"] {
        assert!(s[k].is_string(), "{what}: server.{k} not a string in {s}");
    }
    assert!(
        s["jetstream"].is_boolean(),
        "{what}: server.jetstream in {s}"
    );
    for k in ["flags", "seq"] {
        assert!(s[k].is_u64(), "{what}: server.{k} not a number in {s}");
    }
}

// ---------------------------------------------------------------------------------------------
// $SYS.REQ.SERVER.*

#[test]
fn system_user_server_ping_gets_the_server_block_and_statsz() {
    let s = start_main();
    let mut sys = login(&s, "sys", "sys");
    sys.sync(b"SUB _INBOX.s.* 1\r\n");
    let (msg, v) = request_json(&mut sys, "$SYS.REQ.SERVER.PING", "_INBOX.s.ping");
    assert_eq!(keys(&v), ["server", "statsz"].map(String::from).into());
    assert!(msg.headers.is_none(), "a plain MSG: {msg:?}");
    assert_server_block(&v, "PING");
    let st = &v["statsz"];
    for k in [
        "connections",
        "total_connections",
        "subscriptions",
        "mem",
        "cores",
    ] {
        assert!(st[k].is_u64(), "statsz.{k} in {st}");
    }
    assert!(st["start"].is_string(), "statsz.start in {st}");
    for k in ["sent", "received"] {
        assert!(
            st[k]["msgs"].is_u64() && st[k]["bytes"].is_u64(),
            "statsz.{k} in {st}"
        );
    }
    assert!(
        st["connections"].as_u64() >= Some(1),
        "the sys client itself: {st}"
    );
}

#[test]
fn system_user_ping_endpoints_answer_with_server_and_data() {
    let s = start_main();
    let mut sys = login(&s, "sys", "sys");
    sys.sync(b"SUB _INBOX.s.* 1\r\n");
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "VARZ",
            "data",
            &["server_id", "version", "connections", "system_account"],
        ),
        (
            "CONNZ",
            "data",
            &["server_id", "now", "num_connections", "connections"],
        ),
        ("HEALTHZ", "data", &["status"]),
        (
            "ACCOUNTZ",
            "data",
            &["server_id", "now", "system_account", "accounts"],
        ),
        ("SUBSZ", "data", &["server_id", "now", "num_subscriptions"]),
    ];
    for (ep, body, want) in cases {
        let subject = format!("$SYS.REQ.SERVER.PING.{ep}");
        let (_, v) = request_json(&mut sys, &subject, &format!("_INBOX.s.{ep}"));
        assert_eq!(
            keys(&v),
            ["server", body].map(String::from).into(),
            "{ep}: {v}"
        );
        assert_server_block(&v, ep);
        assert_has_keys(&v[body], want, ep);
        if ep == "VARZ" {
            assert_eq!(v["data"]["system_account"], "SYS", "{ep}");
            assert_eq!(v["data"]["server_id"], v["server"]["id"], "{ep}");
        }
        if ep == "HEALTHZ" {
            assert_eq!(v["data"]["status"], "ok", "{ep}");
        }
        if ep == "ACCOUNTZ" {
            let accs: BTreeSet<&str> = v["data"]["accounts"]
                .as_array()
                .expect("accounts list")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(accs, ["$G", "A", "B", "C", "SYS"].into(), "{ep}");
        }
    }
    // STATSZ answers like PING: its body is under `statsz`, not `data`.
    let (_, v) = request_json(&mut sys, "$SYS.REQ.SERVER.PING.STATSZ", "_INBOX.s.STATSZ");
    assert_eq!(
        keys(&v),
        ["server", "statsz"].map(String::from).into(),
        "{v}"
    );
    assert_server_block(&v, "STATSZ");
    // The sequence number grows with each internal message the server sends.
    let (_, again) = request_json(&mut sys, "$SYS.REQ.SERVER.PING", "_INBOX.s.again");
    assert!(again["server"]["seq"].as_u64() > v["server"]["seq"].as_u64());
}

#[test]
fn server_ping_from_a_normal_account_gets_no_responders() {
    let s = start_main();
    let mut b = login(&s, "b", "b");
    b.sync(b"SUB _INBOX.b.* 1\r\n");
    b.send(b"PUB $SYS.REQ.SERVER.PING _INBOX.b.1 0\r\n\r\n");
    let hdr = "NATS/1.0 503\r\nNats-Subject: $SYS.REQ.SERVER.PING\r\n\r\n";
    b.expect(format!("HMSG _INBOX.b.1 1 {0} {0}\r\n{hdr}\r\n", hdr.len()).as_bytes());
    b.expect_nothing(QUIET);
}

#[test]
fn user_info_from_any_account_names_the_user_and_its_account() {
    let s = start_main();
    for (user, pass, account) in [("b", "b", "B"), ("a", "a", "A"), ("sys", "sys", "SYS")] {
        let mut c = login(&s, user, pass);
        c.sync(b"SUB _INBOX.u 1\r\n");
        let (_, v) = request_json(&mut c, "$SYS.REQ.USER.INFO", "_INBOX.u");
        assert_server_block(&v, "USER.INFO");
        assert_eq!(v["data"]["user"], user, "{v}");
        assert_eq!(v["data"]["account"], account, "{v}");
    }
}

#[test]
fn connz_request_from_a_normal_account_is_limited_to_that_account() {
    let s = start_main();
    let _a = login(&s, "a", "a");
    let _g = login(&s, "g", "g");
    let mut b = login(&s, "b", "b");
    b.sync(b"SUB _INBOX.c.* 1\r\n");
    // The body asks for account A; the implicit import answers for B whatever it says.
    let body = r#"{"acc":"A","auth":true}"#;
    b.send(
        format!(
            "PUB $SYS.REQ.SERVER.PING.CONNZ _INBOX.c.1 {}\r\n{body}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let msg = read_msg(&mut b);
    let v: Value = serde_json::from_str(&msg.payload).expect("JSON");
    assert_server_block(&v, "CONNZ from B");
    let conns = v["data"]["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(conns.len(), 1, "only B's own connection: {v}");
    assert_eq!(conns[0]["account"], "B", "{v}");
    assert_eq!(conns[0]["authorized_user"], "b", "{v}");
}

#[test]
fn account_statz_request_from_a_normal_account_reports_only_that_account() {
    let s = start_main();
    let _a = login(&s, "a", "a");
    let mut b = login(&s, "b", "b");
    b.sync(b"SUB _INBOX.st.* 1\r\n");
    let body = r#"{"accounts":["A"]}"#;
    b.send(
        format!(
            "PUB $SYS.REQ.ACCOUNT.PING.STATZ _INBOX.st.1 {}\r\n{body}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let msg = read_msg(&mut b);
    let v: Value = serde_json::from_str(&msg.payload).expect("JSON");
    assert_server_block(&v, "STATZ from B");
    let list = v["data"]["account_statz"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let accs: Vec<&str> = list.iter().filter_map(|e| e["acc"].as_str()).collect();
    assert_eq!(accs, ["B"], "{v}");
}

// ---------------------------------------------------------------------------------------------
// Events.

#[test]
fn connect_and_disconnect_events_of_account_a_reach_the_system_user() {
    let s = start_main();
    let mut sys = login(&s, "sys", "sys");
    sys.sync(
        b"SUB $SYS.ACCOUNT.A.CONNECT 1\r\nSUB $SYS.ACCOUNT.A.DISCONNECT 2\r\n\
          SUB $SYS.ACCOUNT.B.CONNECT 3\r\n",
    );
    let (mut a, first) = try_login(&s, r#""user":"a","pass":"a","name":"evclient""#);
    assert_eq!(first, "PONG\r\n");
    a.read_info();
    let ev = read_msg(&mut sys);
    assert_eq!(
        (ev.subject.as_str(), ev.sid.as_str()),
        ("$SYS.ACCOUNT.A.CONNECT", "1")
    );
    let v: Value = serde_json::from_str(&ev.payload).expect("event JSON");
    assert_eq!(
        v["type"], "io.nats.server.advisory.v1.client_connect",
        "{v}"
    );
    assert!(v["id"].is_string() && v["timestamp"].is_string(), "{v}");
    assert_server_block(&v, "CONNECT event");
    assert_eq!(v["client"]["acc"], "A", "{v}");
    assert_eq!(v["client"]["user"], "a", "{v}");
    assert_eq!(v["client"]["name"], "evclient", "{v}");
    assert_eq!(v["client"]["kind"], "Client", "{v}");
    assert!(v["client"]["id"].is_u64(), "{v}");

    a.send(b"PUB ev.x 5\r\nhello\r\nPING\r\n");
    a.expect(b"PONG\r\n");
    drop(a);
    let ev = read_msg(&mut sys);
    assert_eq!(
        (ev.subject.as_str(), ev.sid.as_str()),
        ("$SYS.ACCOUNT.A.DISCONNECT", "2")
    );
    let v: Value = serde_json::from_str(&ev.payload).expect("event JSON");
    assert_eq!(
        v["type"], "io.nats.server.advisory.v1.client_disconnect",
        "{v}"
    );
    assert_eq!(v["client"]["acc"], "A", "{v}");
    assert_eq!(v["reason"], "Client Closed", "{v}");
    assert!(v["client"]["stop"].is_string(), "{v}");
    // What the client sent: one message of 5 bytes.
    assert_eq!(v["sent"]["msgs"], 1, "{v}");
    assert_eq!(v["sent"]["bytes"], 5, "{v}");
    // Nothing for B: nobody of B came or went.
    sys.expect_nothing(QUIET);
}

#[test]
fn a_normal_client_publishing_a_connect_event_subject_stays_in_its_account() {
    let s = start_main();
    let mut sys = login(&s, "sys", "sys");
    sys.sync(b"SUB $SYS.ACCOUNT.A.CONNECT 1\r\n");
    let mut b = login(&s, "b", "b");
    b.sync(b"PUB $SYS.ACCOUNT.A.CONNECT 4\r\nfake\r\n");
    sys.expect_nothing(QUIET);
}

// ---------------------------------------------------------------------------------------------
// Monitoring.

#[test]
fn accountz_lists_every_account_and_details_one() {
    let (s, port) = start_main_monitored();
    let _a = login(&s, "a", "a");
    let list = http_get(port, "/accountz").json();
    assert_eq!(
        keys(&list),
        ["accounts", "now", "server_id", "system_account"]
            .map(String::from)
            .into(),
        "{list}"
    );
    assert_eq!(list["system_account"], "SYS");
    let accs: BTreeSet<&str> = list["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(accs, ["$G", "A", "B", "C", "SYS"].into(), "{list}");

    let a = http_get(port, "/accountz?acc=A").json();
    assert_has_keys(
        &a,
        &["server_id", "now", "system_account", "account_detail"],
        "acc=A",
    );
    let d = &a["account_detail"];
    assert_has_keys(
        d,
        &[
            "account_name",
            "update_time",
            "expired",
            "complete",
            "jetstream_enabled",
            "leafnode_connections",
            "client_connections",
            "subscriptions",
            "exports",
            "imports",
            "sublist_stats",
        ],
        "account_detail",
    );
    assert_eq!(d["account_name"], "A");
    assert_eq!(d["client_connections"], 1, "{d}");
    assert!(
        d.get("is_system").is_none(),
        "only the system account says is_system: {d}"
    );
    let exports: BTreeSet<(String, String)> = d["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap_or("").to_string(),
                e["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("a.>", "stream"),
        ("priv.>", "stream"),
        ("wild.*.data", "stream"),
        ("svc.>", "service"),
        ("strm.>", "service"),
        ("q.work", "service"),
        ("none.>", "service"),
        ("slow.>", "service"),
    ]
    .iter()
    .map(|(s, t)| (s.to_string(), t.to_string()))
    .collect();
    assert_eq!(exports, want, "{d}");
    let priv_export = d["exports"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["subject"] == "priv.>"))
        .expect("priv.> export");
    assert_eq!(priv_export["approved_accounts"], serde_json::json!(["B"]));
    let strm = d["exports"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["subject"] == "strm.>"))
        .expect("strm.> export");
    assert_eq!(strm["response_type"], "Streamed");

    let b = http_get(port, "/accountz?acc=B").json();
    let imports = b["account_detail"]["imports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let from_a = imports
        .iter()
        .find(|i| i["subject"] == "a.>" && i["account"] == "A")
        .unwrap_or_else(|| panic!("B's import of a.> in {imports:?}"));
    assert_eq!(from_a["local_subject"], "from_a.>");
    assert_eq!(from_a["type"], "stream");
    let work = imports
        .iter()
        .find(|i| i["subject"] == "q.work")
        .unwrap_or_else(|| panic!("B's import of q.work in {imports:?}"));
    assert_eq!(work["local_subject"], "work.local");
    assert_eq!(work["type"], "service");

    let sys = http_get(port, "/accountz?acc=SYS").json();
    assert_eq!(sys["account_detail"]["is_system"], true, "{sys}");

    let nope = http_get(port, "/accountz?acc=NOPE");
    assert_eq!(nope.status, 400);
    assert_eq!(nope.text().trim_end(), "Account NOPE does not exist");
}

#[test]
fn accstatz_lists_accounts_with_connections() {
    let (s, port) = start_main_monitored();
    let _a = login(&s, "a", "a");
    let _b1 = login(&s, "b", "b");
    let _b2 = login(&s, "b", "b");
    let v = http_get(port, "/accstatz").json();
    assert_eq!(
        keys(&v),
        ["account_statz", "now", "server_id"]
            .map(String::from)
            .into(),
        "{v}"
    );
    let list = v["account_statz"].as_array().expect("account_statz");
    let find = |acc: &str| list.iter().find(|e| e["acc"] == acc).cloned();
    let b = find("B").unwrap_or_else(|| panic!("B in {v}"));
    assert_has_keys(
        &b,
        &[
            "acc",
            "name",
            "conns",
            "leafnodes",
            "total_conns",
            "num_subscriptions",
            "sent",
            "received",
            "slow_consumers",
        ],
        "account_statz entry",
    );
    assert_eq!(b["conns"], 2, "{b}");
    assert_eq!(
        find("A").map(|a| a["conns"].clone()),
        Some(Value::from(1)),
        "{v}"
    );
    // C has nobody connected, so it is left out.
    assert!(find("C").is_none(), "{v}");
}

#[test]
fn connz_filters_by_account_and_names_the_account_with_auth() {
    let (s, port) = start_main_monitored();
    let _a1 = login(&s, "a", "a");
    let _a2 = login(&s, "a2", "pw-a2");
    let _b = login(&s, "b", "b");
    let _g = login(&s, "g", "g");
    let a = http_get(port, "/connz?acc=A").json();
    assert_eq!(a["num_connections"], 2, "{a}");
    assert_eq!(a["connections"].as_array().map(Vec::len), Some(2), "{a}");
    let all = http_get(port, "/connz?auth=1").json();
    let conns = all["connections"].as_array().cloned().unwrap_or_default();
    let by_user = |u: &str| {
        conns
            .iter()
            .find(|c| c["authorized_user"] == u)
            .cloned()
            .unwrap_or_else(|| panic!("{u} in {all}"))
    };
    assert_eq!(by_user("a")["account"], "A");
    assert_eq!(by_user("a2")["account"], "A");
    assert_eq!(by_user("b")["account"], "B");
    // $G connections carry no `account` key.
    assert!(by_user("g").get("account").is_none(), "{all}");
    let b = http_get(port, "/connz?acc=B&auth=1").json();
    assert_eq!(b["num_connections"], 1, "{b}");
    assert_eq!(b["connections"][0]["authorized_user"], "b", "{b}");
}

#[test]
fn subsz_filters_by_account() {
    let (s, port) = start_main_monitored();
    let mut a = login(&s, "a", "a");
    a.sync(b"SUB only.in.a 1\r\n");
    let mut b = login(&s, "b", "b");
    b.sync(b"SUB only.in.b 1\r\n");
    let v = http_get(port, "/subsz?acc=A&subs=1").json();
    assert_has_keys(
        &v,
        &[
            "server_id",
            "now",
            "num_subscriptions",
            "num_cache",
            "num_inserts",
            "num_removes",
            "num_matches",
            "cache_hit_rate",
            "max_fanout",
            "avg_fanout",
            "total",
            "offset",
            "limit",
            "subscriptions_list",
        ],
        "/subsz?acc=A",
    );
    let subjects: BTreeSet<&str> = v["subscriptions_list"]
        .as_array()
        .expect("subscriptions_list")
        .iter()
        .filter_map(|e| e["subject"].as_str())
        .collect();
    assert!(subjects.contains("only.in.a"), "{v}");
    assert!(!subjects.contains("only.in.b"), "{v}");
    let mine = v["subscriptions_list"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["subject"] == "only.in.a"))
        .cloned()
        .expect("A's subscription");
    assert_eq!(mine["account"], "A", "{mine}");
    assert_eq!(mine["sid"], "1", "{mine}");
}

#[test]
fn accountz_shows_a_pending_singleton_response_until_it_is_answered() {
    let (s, port) = start_main_monitored();
    let mut a = login(&s, "a", "a");
    a.sync(b"SUB svc.pending 1\r\n");
    let mut b = login(&s, "b", "b");
    b.sync(b"SUB _INBOX.p 1\r\n");
    b.send(b"PUB svc.pending _INBOX.p 1\r\nq\r\n");
    let reply = read_msg(&mut a).reply.expect("reply");
    // natrix keeps the entry on the requester's shard and does not list it in /accountz
    // (README: left out); the answer's path is checked on both servers.
    let listed = common::procs::against_reference();
    if listed {
        let before = http_get(port, "/accountz?acc=A").json();
        let responses = &before["account_detail"]["responses"];
        let entry = &responses[reply.as_str()];
        assert_eq!(entry["subject"], "_INBOX.p", "{before}");
        assert_eq!(entry["account"], "B", "{before}");
        assert_eq!(keys(responses).len(), 1, "{before}");
    }
    a.sync(format!("PUB {reply} 2\r\nok\r\n").as_bytes());
    b.expect(b"MSG _INBOX.p 1 2\r\nok\r\n");
    let after = http_get(port, "/accountz?acc=A").json();
    assert!(
        keys(&after["account_detail"]["responses"]).is_empty(),
        "the singleton entry is gone: {after}"
    );
}

#[test]
fn every_account_gets_the_four_implicit_system_imports() {
    let (_s, port) = start_main_monitored();
    // Local subject in the account, and the subject it reaches in the system account.
    let implicit = [
        ("$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.{}.CONNZ"),
        ("$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.{}.CONNZ"),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.ACCOUNT.{}.STATZ"),
        ("$SYS.REQ.USER.INFO", "$SYS.REQ.USER.{}.INFO"),
    ];
    for (acc, query) in [("C", "C"), ("$G", "%24G")] {
        let want: BTreeSet<(String, String)> = implicit
            .iter()
            .map(|(l, s)| (l.to_string(), s.replace("{}", acc)))
            .collect();
        let v = http_get(port, &format!("/accountz?acc={query}")).json();
        let d = &v["account_detail"];
        assert_eq!(d["account_name"], acc, "{v}");
        let got: BTreeSet<(String, String)> = d["imports"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|i| i["account"] == "SYS")
            .map(|i| {
                let local = i["local_subject"].as_str().unwrap_or("").to_string();
                let subject = i["subject"].as_str().unwrap_or("").to_string();
                (local, subject)
            })
            .collect();
        assert_eq!(got, want, "{acc}: {v}");
        // Each implicit import is one internal subscription in nats-server; natrix answers
        // them without subscriptions. Nobody of C or $G is connected.
        let internal = if common::procs::against_reference() {
            4
        } else {
            0
        };
        assert_eq!(d["subscriptions"], internal, "{acc}: {v}");
    }
}

#[test]
fn statsz_events_come_periodically_to_a_system_subscriber() {
    let s = start_main();
    let mut sys = login(&s, "sys", "sys");
    sys.sync(b"SUB $SYS.SERVER.*.STATSZ 1\r\n");
    let ev = read_msg(&mut sys);
    assert!(
        ev.subject.starts_with("$SYS.SERVER.") && ev.subject.ends_with(".STATSZ"),
        "{ev:?}"
    );
    let v: Value = serde_json::from_str(&ev.payload).expect("statsz JSON");
    assert_eq!(
        keys(&v),
        ["server", "statsz"].map(String::from).into(),
        "{v}"
    );
    assert_server_block(&v, "STATSZ event");
    assert!(v["statsz"]["connections"].as_u64() >= Some(1), "{v}");
    assert_eq!(
        ev.subject,
        format!(
            "$SYS.SERVER.{}.STATSZ",
            v["server"]["id"].as_str().unwrap_or("?")
        )
    );
}
