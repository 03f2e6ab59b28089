//! Differential tests for the HTTP monitoring endpoints: both servers start from the same
//! config with `-m <free port>`, clients put both in the same state, and each response is
//! compared by status, content type and CORS header, by the shape of its JSON (key paths
//! and value types; ids, times and counters differ between any two servers), and by the few
//! values that are the same on any two servers in the same state (counts, limits, names,
//! subjects, the order a sort gives). Bad query parameters must give the same 400 text.
//!
//! The runner and its self check (`NATRIX_DIFF_SELF_CHECK=1`) are in `tests/common/ops.rs`.

mod common;

use serde_json::Value;

use common::ops::{differential, get_until, json_shape, json_values, Conn, Running, Transcript};

/// Key paths nats-server reports that natrix may leave out, each with its reason.
const OMITTABLE: &[(&str, &str)] = &[
    (
        "feature_flags",
        "nats-server's internal JetStream and raft feature switches: they describe its \
         implementation, and no client or tool reads them",
    ),
    (
        "subscriptions_list[].queue",
        "natrix's addition beside qgroup in /subsz, under the name seed 003's queue-group \
         monitor reads; nats-server has no such key",
    ),
    (
        "subscriptions_list[].pending_msgs",
        "natrix's addition in /subsz: messages queued to the subscription and not yet written \
         to its socket, which seed 003's monitor reads; nats-server has no such key",
    ),
];

fn omittable() -> Vec<&'static str> {
    OMITTABLE.iter().map(|(path, _)| *path).collect()
}

/// Records the status line, headers and JSON shape of `GET path`; returns the JSON.
fn record(r: &Running, t: &mut Transcript, path: &str) -> Value {
    let reply = r.get(path);
    record_reply(t, path, &reply)
}

fn record_reply(t: &mut Transcript, path: &str, reply: &common::ops::HttpReply) -> Value {
    t.want(
        &format!("GET {path}: head"),
        reply.head(),
        "200 content-type=application/json access-control-allow-origin=*",
    );
    let json = reply.json();
    t.check(
        path,
        json.is_object(),
        format!("not a JSON object: {}", reply.text()),
    );
    t.saw(
        &format!("GET {path}: shape"),
        json_shape(&json, &omittable()),
    );
    json
}

/// A client that did a quiet CONNECT with `name`, then `ops`, synced by PING.
fn client(r: &Running, name: &str, ops: &str) -> Conn {
    let mut c = r.conn();
    c.info();
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"{name}\",\
         \"lang\":\"raw\",\"version\":\"1.0\"}}\r\n{ops}"
    );
    let got = c.ping(connect.as_bytes());
    assert!(got.ends_with("PONG\\r\\n"), "{name}: {got}");
    c
}

/// `name: [subjects, sorted]` for each connection of a /connz?subs=1 reply, in reply order.
fn subs_by_name(connz: &Value) -> String {
    let conns = connz["connections"].as_array().cloned().unwrap_or_default();
    conns
        .iter()
        .map(|c| {
            let mut subs: Vec<String> = c["subscriptions_list"]
                .as_array()
                .map(|l| l.iter().map(Value::to_string).collect())
                .unwrap_or_default();
            subs.sort();
            format!("{}: [{}]", c["name"], subs.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `name`s of a /connz reply's connections, in reply order.
fn names(connz: &Value) -> String {
    let conns = connz["connections"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = conns.iter().map(|c| c["name"].to_string()).collect();
    names.join(",")
}

const COUNTS: &[&str] = &["num_connections", "total", "offset", "limit"];

#[test]
fn varz_shape_and_config_values() {
    let conf = "max_payload: 65536\nmax_control_line: 2048\nmax_connections: 100\n\
                ping_max: 3\nmax_pending: 1000000\nauthorization { token: t, timeout: 3 }\n";
    differential("varz", conf, true, |r, t| {
        let varz = record(r, t, "/varz");
        t.want(
            "config values",
            json_values(
                &varz,
                &[
                    "max_payload",
                    "max_control_line",
                    "max_connections",
                    "ping_max",
                    "max_pending",
                    "auth_timeout",
                    "proto",
                    "connections",
                    "subscriptions",
                ],
            ),
            "max_payload=65536 max_control_line=2048 max_connections=100 ping_max=3 \
             max_pending=1000000 auth_timeout=3 proto=1 connections=0 subscriptions=0",
        );
        let mut c = r.conn();
        c.info();
        c.ping(
            b"CONNECT {\"auth_token\":\"t\",\"verbose\":false}\r\nSUB a 1\r\nPUB a 3\r\nabc\r\n",
        );
        let varz = record(r, t, "/varz");
        t.want(
            "counters after one client",
            json_values(
                &varz,
                &[
                    "connections",
                    "total_connections",
                    "subscriptions",
                    "in_msgs",
                    "in_bytes",
                    "out_msgs",
                    "out_bytes",
                ],
            ),
            "connections=1 total_connections=1 subscriptions=1 in_msgs=1 in_bytes=3 \
             out_msgs=1 out_bytes=3",
        );
    });
}

#[test]
fn connz_variants() {
    differential("connz", "", true, |r, t| {
        let _a = client(r, "a", "SUB one 1\r\n");
        let b = client(r, "b", "SUB two.* 1\r\nSUB two.> q 2\r\nSUB three 3\r\n");
        let _c = client(r, "c", "SUB four 1\r\nSUB five 2\r\nUNSUB 2 5\r\n");
        let connz = record(r, t, "/connz");
        t.want(
            "counts",
            json_values(&connz, COUNTS),
            "num_connections=3 total=3 offset=0 limit=1024",
        );
        t.want("default order (cid)", names(&connz), "\"a\",\"b\",\"c\"");

        let connz = record(r, t, "/connz?subs=1");
        t.want(
            "subs=1",
            subs_by_name(&connz),
            "\"a\": [\"one\"] \"b\": [\"three\",\"two.*\",\"two.>\"] \"c\": [\"five\",\"four\"]",
        );
        record(r, t, "/connz?subs=detail");
        let connz = record(r, t, "/connz?sort=subs");
        t.want("sort=subs", names(&connz), "\"b\",\"c\",\"a\"");
        let connz = record(r, t, "/connz?sort=cid&limit=1&offset=1");
        t.want(
            "limit=1&offset=1",
            json_values(&connz, COUNTS) + " " + &names(&connz),
            "num_connections=1 total=3 offset=1 limit=1 \"b\"",
        );
        let connz = record(r, t, "/connz?auth=true&sort=start");
        t.saw("sort=start", names(&connz));

        // b closes: it moves to the closed list.
        drop(b);
        let closed = get_until(r, "/connz?state=closed", |j| j["num_connections"] == 1);
        let connz = record_reply(t, "/connz?state=closed", &closed);
        t.want(
            "state=closed",
            json_values(&connz, COUNTS) + " " + &names(&connz),
            "num_connections=1 total=1 offset=0 limit=1024 \"b\"",
        );
        let connz = record(r, t, "/connz?state=closed&subs=1&sort=stop");
        t.saw("closed subs", subs_by_name(&connz));
        let connz = record(r, t, "/connz?state=any&sort=cid");
        t.want("state=any", names(&connz), "\"a\",\"b\",\"c\"");
        let connz = record(r, t, "/connz");
        t.want("open after the close", names(&connz), "\"a\",\"c\"");
    });
}

#[test]
fn connz_auth_shows_the_user() {
    let conf = "authorization { users: [ {user: alice, password: p} ] }\n";
    differential("connz_auth", conf, true, |r, t| {
        let mut c = r.conn();
        c.info();
        let got = c.ping(
            b"CONNECT {\"user\":\"alice\",\"pass\":\"p\",\"verbose\":false,\"name\":\"x\"}\r\n",
        );
        t.want("connect", got, "PONG\\r\\n");
        let connz = record(r, t, "/connz?auth=1");
        t.want(
            "authorized_user",
            json_values(&connz["connections"][0], &["authorized_user", "account"]),
            "authorized_user=\"alice\" account=<absent>",
        );
        let connz = record(r, t, "/connz");
        t.saw(
            "without auth=1",
            json_values(&connz["connections"][0], &["authorized_user", "account"]),
        );
    });
}

#[test]
fn subsz_variants() {
    differential("subsz", "", true, |r, t| {
        let subsz = record(r, t, "/subsz");
        t.want(
            "idle",
            json_values(&subsz, &["num_subscriptions"]),
            "num_subscriptions=0",
        );
        let _a = client(
            r,
            "a",
            "SUB foo.bar 1\r\nSUB foo.* q 2\r\nSUB baz 3\r\nUNSUB 3 7\r\n",
        );
        let _b = client(r, "b", "SUB foo.> 1\r\n");
        let subsz = record(r, t, "/subsz");
        t.want(
            "four",
            json_values(&subsz, &["num_subscriptions"]),
            "num_subscriptions=4",
        );
        let subsz = record(r, t, "/subsz?subs=1");
        t.want(
            "subs=1",
            subscription_list(&subsz),
            "$G baz sid=3 max=7 | $G foo.* q sid=2 | $G foo.> sid=1 | $G foo.bar sid=1",
        );
        let subsz = record(r, t, "/subsz?subs=1&test=foo.bar");
        t.want(
            "test=foo.bar",
            subscription_list(&subsz),
            "$G foo.* q sid=2 | $G foo.> sid=1 | $G foo.bar sid=1",
        );
        let subsz = record(r, t, "/subsz?subs=1&test=nothing.here");
        t.saw("test with no match", subscription_list(&subsz));
        // Which entries land on a page depends on index order, which differs between
        // servers (and is random in Go), and entries differ in shape (qgroup, max): compare
        // the paging figures and the page size, not the page's shape.
        let subsz = r.get("/subsz?subs=1&acc=$G&limit=2&offset=1").json();
        t.saw(
            "page size",
            subsz["subscriptions_list"]
                .as_array()
                .map_or(0, Vec::len)
                .to_string(),
        );
        t.saw(
            "limit=2&offset=1",
            json_values(&subsz, &["total", "offset", "limit"]),
        );
        record(r, t, "/subscriptionsz");
    });
}

/// `account subject [queue] sid=N [max=N]` for each entry of `subscriptions_list`, sorted.
fn subscription_list(subsz: &Value) -> String {
    let Some(list) = subsz["subscriptions_list"].as_array() else {
        return "<no subscriptions_list>".to_string();
    };
    let mut entries: Vec<String> = list
        .iter()
        .map(|s| {
            let mut e = format!(
                "{} {}",
                s["account"].as_str().unwrap_or("?"),
                s["subject"].as_str().unwrap_or("?")
            );
            if let Some(q) = s.get("qgroup").and_then(Value::as_str) {
                e.push_str(&format!(" {q}"));
            }
            e.push_str(&format!(" sid={}", s["sid"].as_str().unwrap_or("?")));
            if let Some(max) = s.get("max") {
                e.push_str(&format!(" max={max}"));
            }
            e
        })
        .collect();
    entries.sort();
    entries.join(" | ")
}

#[test]
fn routez_gatewayz_healthz_accountz() {
    differential("other_endpoints", "", true, |r, t| {
        let routez = record(r, t, "/routez");
        t.want(
            "routez",
            json_values(&routez, &["num_routes"]),
            "num_routes=0",
        );
        record(r, t, "/routez?subs=1");
        record(r, t, "/gatewayz");
        let health = r.get("/healthz");
        t.saw("GET /healthz: head", health.head());
        t.want("GET /healthz: body", health.text(), "{\"status\":\"ok\"}");
        let accountz = record(r, t, "/accountz");
        t.want(
            "accounts",
            json_values(&accountz, &["accounts"]),
            "accounts=[\"$G\"]",
        );
        let _c = client(r, "a", "SUB x 1\r\n");
        let acc = get_until(r, "/accountz?acc=$G", |j| {
            j["account_detail"]["subscriptions"] == 1
        });
        let acc = record_reply(t, "/accountz?acc=$G", &acc);
        t.saw(
            "account detail",
            json_values(
                &acc["account_detail"],
                &["account_name", "client_connections", "subscriptions"],
            ),
        );
    });
}

#[test]
fn bad_query_parameters_give_400() {
    differential("bad_params", "", true, |r, t| {
        let paths = [
            "/connz?subs=x",
            "/connz?auth=maybe",
            "/connz?sort=bogus",
            "/connz?state=bogus",
            "/connz?offset=x",
            "/connz?limit=x",
            "/connz?cid=x",
            "/connz?sort=stop",
            "/connz?sort=reason&state=open",
            "/subsz?subs=x",
            "/subsz?test=foo.*",
            "/subsz?test=foo..bar",
            "/subsz?offset=x",
            "/routez?subs=x",
            "/no/such/endpoint",
        ];
        for path in paths {
            let reply = r.get(path);
            t.saw(&format!("GET {path}: head"), reply.head());
            t.saw(&format!("GET {path}: body"), reply.text());
            t.check(
                path,
                reply.status >= 400,
                format!("status {}", reply.status),
            );
        }
    });
}
