//! The endpoints against real nats-server output (`tests/monitor_fixtures/`): a snapshot that
//! mirrors the capture scenario (see the fixtures' README) must give the same keys, in the same
//! order, with the same JSON types; 400 texts must be equal byte for byte.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::query::{self, Query, QueryError};
use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/monitor_fixtures");

pub(super) fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}"))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A JSON value reduced to its kind, with object keys kept in order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Shape {
    Null,
    Bool,
    Num,
    Str,
    /// Element shapes, sorted: element order is not compared (nats-server's comes from maps).
    Arr(Vec<Shape>),
    Obj(Vec<(String, Shape)>),
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Bool)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Num)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Num)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Num)
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Str)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = a.next_element()? {
                    v.push(s);
                }
                v.sort();
                Ok(Shape::Arr(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let mut v = Vec::new();
                while let Some((k, s)) = a.next_entry()? {
                    v.push((k, s));
                }
                Ok(Shape::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn shape(text: &str) -> Shape {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON {e}: {text}"))
}

pub(super) fn body(path: &str, query: &str, snap: &Snapshot) -> String {
    let r = handle(path, query, snap);
    assert_eq!(
        r.status,
        200,
        "{path}?{query}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.content_type, CONTENT_TYPE_JSON);
    String::from_utf8(r.body).unwrap()
}

/// Top-level keys of nats-server's answers that natrix leaves out on purpose:
/// `feature_flags` (/varz) are nats-server's JetStream feature switches, which natrix lacks.
const LEFT_OUT: &[&str] = &["feature_flags"];

/// Keys natrix adds beside nats-server's: `queue` next to `qgroup` in subscription details
/// (seed 003's monitor reads it).
const NATRIX_ADDITIONS: &[&str] = &["queue", "pending_msgs"];

/// `text` without natrix's additions (each is a line of its own in the pretty layout, and
/// never an object's last key, so dropping the line keeps the JSON valid).
fn without_natrix_additions(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !NATRIX_ADDITIONS
                .iter()
                .any(|k| t.starts_with(&format!("\"{k}\": ")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Our answer has the fixture's shape, and is laid out the same way (2-space indent, no
/// trailing newline) as far as the layout does not depend on values.
pub(super) fn assert_like_fixture(path: &str, query: &str, snap: &Snapshot, name: &str) {
    let want = fixture(name);
    let got = without_natrix_additions(&body(path, query, snap));
    let mut want_shape = shape(&want);
    if let Shape::Obj(keys) = &mut want_shape {
        keys.retain(|(k, _)| !LEFT_OUT.contains(&k.as_str()));
    }
    assert_eq!(shape(&got), want_shape, "{path}?{query} vs {name}\n{got}");
    assert_eq!(got.ends_with('}'), want.ends_with('}'));
    assert_eq!(
        got.starts_with("{\n  \""),
        want.starts_with("{\n  \""),
        "{got}"
    );
}

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

fn sub(subject: &str, queue: &str, sid: &str, msgs: u64, max: u64) -> SubSnapshot {
    SubSnapshot {
        subject: subject.into(),
        queue: queue.into(),
        sid: sid.into(),
        msgs,
        max,
        pending_msgs: 0,
    }
}

fn conn(cid: u64, name: &str, subs: Vec<SubSnapshot>) -> ConnSnapshot {
    ConnSnapshot {
        cid,
        ip: "127.0.0.1".into(),
        port: 32830 + cid as u16,
        start: at(1_795_423_177, cid as u32 * 1000),
        last_activity: at(1_795_423_177, 900_000_000),
        rtt: Duration::from_micros(749 * cid),
        pending_bytes: 0,
        in_msgs: 0,
        out_msgs: 0,
        in_bytes: 0,
        out_bytes: 0,
        stalls: 0,
        name: name.into(),
        lang: "python".into(),
        version: "9.9.9".into(),
        authorized_user: String::new(),
        account: "$G".into(),
        tls: None,
        subscription_count: subs.len() as u32,
        subscriptions: subs,
        closed: None,
    }
}

/// The capture scenario: `alpha<&>` and `beta` open, `gamma` closed.
pub(super) fn scenario() -> Snapshot {
    let opts = crate::config::Options {
        host: "127.0.0.1".into(),
        port: 14567,
        ..Default::default()
    };
    let start = at(1_795_423_176, 890_444_826);
    let mut server =
        ServerSnapshot::from_options(&opts, "NC5T", "2.15.1", start, at(1_795_423_179, 0));
    server.runtime_version = "rust".into();
    server.git_commit = "b2fd3ef".into();
    server.http_port = 18222;
    server.cores = 2;
    server.http_req_stats.insert("/varz".into(), 1);
    let mut alpha = conn(
        1,
        "alpha<&>",
        vec![
            sub("foo", "", "1", 1, 0),
            sub("bar.*", "workers", "2", 1, 0),
            sub("baz", "", "3", 0, 5),
            sub("foo.>", "", "4", 0, 0),
        ],
    );
    (alpha.out_msgs, alpha.out_bytes) = (2, 8);
    let mut beta = conn(2, "beta", vec![sub("foo", "", "1", 1, 0)]);
    (beta.in_msgs, beta.in_bytes, beta.out_msgs, beta.out_bytes) = (2, 8, 1, 5);
    let mut gamma = conn(
        3,
        "gamma",
        vec![sub("zzz", "", "7", 0, 0), sub("q.>", "qq", "8", 0, 0)],
    );
    gamma.closed = Some(Closed {
        stop: at(1_795_423_178, 262_548_965),
        reason: "Read Error".into(),
    });
    Snapshot {
        server,
        connections: vec![beta, alpha],
        closed: vec![gamma],
        sublist: SublistStats {
            subscriptions: 5,
            inserts: 7,
            removes: 2,
            matches: 2,
            ..Default::default()
        },
        jetstream: None,
        streaming: None,
    }
}

#[test]
fn each_endpoint_has_the_keys_order_and_types_of_nats_server() {
    let s = scenario();
    for (path, query, name) in [
        ("/varz", "", "varz.json"),
        ("/connz", "", "connz.json"),
        ("/connz", "subs=1", "connz_subs.json"),
        ("/connz", "subs=detail", "connz_detail.json"),
        ("/connz", "state=closed&subs=detail", "connz_closed.json"),
        ("/connz", "state=closed&subs=1", "connz_closed_subs.json"),
        ("/connz", "auth=1", "connz_auth.json"),
        ("/connz", "state=all&sort=uptime", "connz_all.json"),
        ("/connz", "cid=2", "connz_cid.json"),
        ("/connz", "cid=99", "connz_none.json"),
        (
            "/connz",
            "offset=1&limit=1&sort=msgs_to",
            "connz_offset_limit.json",
        ),
        ("/subsz", "", "subsz.json"),
        ("/subsz", "subs=1", "subsz_subs.json"),
        ("/subsz", "subs=1&test=foo.bar", "subsz_test.json"),
        ("/subsz", "test=foo.bar", "subsz_test_nosubs.json"),
        ("/subscriptionsz", "", "subsz.json"),
        ("/routez", "", "routez.json"),
        ("/routez", "subs=detail", "routez_subs.json"),
        ("/gatewayz", "", "gatewayz.json"),
        ("/leafz", "", "leafz.json"),
        ("/healthz", "", "healthz.json"),
        ("/accountz", "", "accountz.json"),
        ("/accountz", "acc=%24G", "accountz_acc.json"),
        ("/jsz", "", "jsz.json"),
    ] {
        assert_like_fixture(path, query, &s, name);
    }
}

#[test]
fn auth_shows_the_user_and_the_tag_only_where_nats_server_does() {
    let mut s = scenario();
    s.server.auth_required = true;
    s.connections.retain(|c| c.cid == 1);
    for c in s.connections.iter_mut().chain(s.closed.iter_mut()) {
        c.authorized_user = "alice".into();
        c.subscriptions.truncate(1);
        c.subscriptions[0].max = 0;
        c.subscriptions[0].msgs = 0;
    }
    assert_like_fixture("/varz", "", &s, "auth_varz.json");
    assert_like_fixture(
        "/connz",
        "auth=1&state=all&subs=detail",
        &s,
        "auth_connz_auth.json",
    );
}

#[test]
fn json_text_escapes_and_formats_like_go() {
    let s = scenario();
    let connz = body("/connz", "subs=detail", &s);
    assert!(
        connz.contains(r#""name": "alpha\u003c\u0026\u003e","#),
        "{connz}"
    );
    assert!(connz.contains(r#""subject": "foo.\u003e","#));
    assert!(connz.contains(r#""rtt": "749µs","#));
    assert!(connz.contains(r#""rtt": "1.498ms","#));
    assert!(connz.contains(r#""uptime": "1s","#));
    let varz = body("/varz", "", &s);
    assert!(varz.contains("\n  \"auth_timeout\": 2,\n"));
    assert!(varz.contains("\n  \"ping_interval\": 120000000000,\n"));
    assert!(varz.contains("\n  \"start\": \"2026-11-23T08:39:36.890444826Z\",\n"));
    assert!(varz.contains("\n  \"cluster\": {},\n"));
    assert_eq!(body("/healthz", "", &s), fixture("healthz.json"));
}

#[test]
fn every_400_text_is_nats_servers() {
    let s = scenario();
    for (path, query, name) in [
        ("/connz", "subs=x", "bad_connz_subs.txt"),
        ("/connz", "subs=%22%C3%A9%0A", "bad_connz_subs_quote.txt"),
        ("/connz", "sort=bogus", "bad_connz_sort.txt"),
        ("/connz", "limit=x", "bad_connz_limit.txt"),
        (
            "/connz",
            "limit=99999999999999999999",
            "bad_connz_limit_range.txt",
        ),
        ("/connz", "offset=x", "bad_connz_offset.txt"),
        ("/connz", "cid=x", "bad_connz_cid.txt"),
        ("/connz", "cid=-1", "bad_connz_cid_neg.txt"),
        ("/connz", "auth=x", "bad_connz_auth.txt"),
        ("/connz", "state=bogus", "bad_connz_state.txt"),
        ("/connz", "sort=stop", "bad_connz_sort_stop_open.txt"),
        (
            "/connz",
            "sort=reason&state=open",
            "bad_connz_sort_reason_open.txt",
        ),
        ("/subsz", "test=foo.*", "bad_subsz_test.txt"),
        ("/subsz", "subs=x", "bad_subsz_subs.txt"),
        ("/subsz", "limit=x", "bad_subsz_limit.txt"),
        ("/subsz", "offset=x", "bad_subsz_offset.txt"),
        ("/healthz", "details=x", "bad_healthz_details.txt"),
        ("/jsz", "accounts=x", "bad_jsz_accounts.txt"),
        ("/leafz", "subs=x", "bad_leafz_subs.txt"),
        ("/routez", "subs=x", "bad_routez_subs.txt"),
        ("/gatewayz", "accs=x", "bad_gatewayz_accs.txt"),
        ("/accountz", "acc=nope", "bad_accountz_acc.txt"),
    ] {
        let r = handle(path, query, &s);
        assert_eq!(r.status, 400, "{path}?{query}");
        assert_eq!(r.content_type, CONTENT_TYPE_TEXT);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            fixture(name),
            "{path}?{query}"
        );
    }
    let r = handle("/nope", "", &s);
    assert_eq!(
        (r.status, r.body),
        (404, fixture("notfound.txt").into_bytes())
    );
    assert_eq!(handle("/VARZ", "", &s).status, 404);
    assert_eq!(handle("/varz/", "", &s).status, 404);
}

#[test]
fn the_first_bad_parameter_in_nats_servers_order_is_named() {
    let bad = [
        ("auth", "auth=x"),
        ("subs", "subs=x"),
        ("offset", "offset=x"),
        ("limit", "limit=x"),
        ("cid", "cid=x"),
        ("state", "state=bogus"),
        ("sort", "sort=bogus"),
    ];
    for i in 0..bad.len() {
        // Written in the reverse order: the handler's order of reads decides, not the string's.
        let raw: Vec<&str> = bad[i..].iter().rev().map(|(_, p)| *p).collect();
        let e = query::connz(&Query::parse(&raw.join("&")))
            .unwrap_err()
            .to_string();
        assert!(e.contains(bad[i].0), "{e} should name {}", bad[i].0);
    }
}

#[test]
fn booleans_are_gos() {
    let subs = |v: &str| query::subsz(&Query::parse(&format!("subs={v}"))).map(|o| o.subs);
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(subs(v), Ok(true), "{v}");
    }
    for v in ["0", "f", "F", "FALSE", "false", "False", ""] {
        assert_eq!(subs(v), Ok(false), "{v}");
    }
    for v in ["yes", "tRUE", "2", "on"] {
        assert!(matches!(
            query::subsz(&Query::parse(&format!("subs={v}"))),
            Err(QueryError::Bool("subs", _))
        ));
    }
    let o = query::connz(&Query::parse("subs=DeTaiL")).unwrap();
    assert_eq!(o.subs, query::SubsMode::Detail);
}

#[test]
fn query_decoding_follows_go_parse_query() {
    let q = Query::parse("a=x%20y+z&&b;c=1&d=%zz&e&a=second&acc=%24G");
    assert_eq!(q.get("a"), "x y z");
    assert_eq!(q.get("b"), "");
    assert_eq!(q.get("d"), "");
    assert_eq!(q.get("e"), "");
    assert_eq!(q.get("acc"), "$G");
    let o = query::connz(&Query::parse("limit=-5&offset=-3&sort=&state=ALL")).unwrap();
    assert_eq!(
        (o.limit, o.offset, o.state),
        (1024, 0, query::ConnState::All)
    );
    let o = query::connz(&Query::parse("cid=7&limit=50")).unwrap();
    assert_eq!((o.cid, o.limit), (Some(7), 1));
    assert!(query::subsz(&Query::parse("test=foo%20bar")).is_err());
    assert!(query::subsz(&Query::parse("test=foo..bar")).is_err());
    assert!(query::subsz(&Query::parse("test=foo.bar")).is_ok());
}

fn cids(snap: &Snapshot, query: &str) -> Vec<u64> {
    let v: serde_json::Value = serde_json::from_str(&body("/connz", query, snap)).unwrap();
    v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cid"].as_u64().unwrap())
        .collect()
}

/// Three open connections whose figures rank differently per key, and two closed ones.
fn sortable() -> Snapshot {
    let mut s = scenario();
    let base = at(1_795_423_000, 0);
    let figures = [
        // cid, subs, pending, out msgs, in msgs, out bytes, in bytes, last (s), start (s), rtt (µs)
        (10, 3, 5, 1, 9, 2, 7, 30, 20, 10),
        (11, 1, 9, 7, 2, 9, 1, 10, 5, 900),
        (12, 2, 1, 4, 5, 5, 4, 20, 10, 50),
    ];
    s.connections = figures
        .iter()
        .map(|&(cid, subs, pend, om, im, ob, ib, last, start, rtt)| {
            let mut c = conn(cid, "x", vec![]);
            c.subscription_count = subs;
            c.pending_bytes = pend;
            (c.out_msgs, c.in_msgs, c.out_bytes, c.in_bytes) = (om, im, ob, ib);
            c.last_activity = base + Duration::from_secs(last);
            c.start = base + Duration::from_secs(start);
            c.rtt = Duration::from_micros(rtt);
            c
        })
        .collect();
    let closed = |cid, stop: u64, reason: &str| {
        let mut c = conn(cid, "y", vec![]);
        c.start = base;
        c.closed = Some(Closed {
            stop: base + Duration::from_secs(stop),
            reason: reason.into(),
        });
        c
    };
    s.closed = vec![
        closed(21, 50, "Client Closed"),
        closed(20, 80, "Stale Connection"),
    ];
    s
}

#[test]
fn connz_sorts_by_every_key_as_nats_server() {
    let s = sortable();
    for (sort, want) in [
        ("", vec![10, 11, 12]),
        ("cid", vec![10, 11, 12]),
        ("start", vec![10, 11, 12]),
        ("subs", vec![10, 12, 11]),
        ("pending", vec![11, 10, 12]),
        ("msgs_to", vec![11, 12, 10]),
        ("msgs_from", vec![10, 12, 11]),
        ("bytes_to", vec![11, 12, 10]),
        ("bytes_from", vec![10, 12, 11]),
        ("last", vec![10, 12, 11]),
        ("idle", vec![11, 12, 10]),
        // Ascending: the youngest connection first.
        ("uptime", vec![10, 12, 11]),
        ("rtt", vec![11, 12, 10]),
    ] {
        assert_eq!(cids(&s, &format!("sort={sort}")), want, "sort={sort}");
    }
    assert_eq!(cids(&s, "sort=stop&state=closed"), vec![20, 21]);
    assert_eq!(cids(&s, "sort=reason&state=closed"), vec![21, 20]);
    assert_eq!(cids(&s, "state=any"), vec![10, 11, 12, 20, 21]);
}

#[test]
fn connz_pages_and_filters_like_nats_server() {
    let mut s = sortable();
    s.connections[1].authorized_user = "bob".into();
    let connz =
        |q: &str| -> serde_json::Value { serde_json::from_str(&body("/connz", q, &s)).unwrap() };
    assert_eq!(cids(&s, "offset=1&limit=1"), vec![11]);
    assert_eq!(cids(&s, "offset=2&limit=5"), vec![12]);
    assert_eq!(cids(&s, "offset=9"), Vec::<u64>::new());
    let v = connz("offset=1&limit=1");
    assert_eq!(
        (v["num_connections"].as_u64(), v["total"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(v["limit"].as_u64(), Some(1));
    // A cid is looked up in the chosen state; total still counts the whole state.
    assert_eq!(cids(&s, "cid=12"), vec![12]);
    assert_eq!(cids(&s, "cid=20"), Vec::<u64>::new());
    assert_eq!(cids(&s, "cid=20&state=all"), vec![20]);
    assert_eq!(connz("cid=12")["total"].as_u64(), Some(3));
    assert_eq!(cids(&s, "user=bob"), vec![11]);
    assert_eq!(cids(&s, "acc=%24G"), vec![10, 11, 12]);
    let v = connz("acc=nope");
    assert!(v["connections"].is_null());
    assert_eq!(v["total"].as_u64(), Some(0));
}

#[test]
fn subsz_filters_by_test_subject_and_pages() {
    let s = scenario();
    let subsz =
        |q: &str| -> serde_json::Value { serde_json::from_str(&body("/subsz", q, &s)).unwrap() };
    let subjects = |v: &serde_json::Value| -> Vec<String> {
        v["subscriptions_list"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["subject"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let v = subsz("subs=1&test=foo");
    assert_eq!(subjects(&v), ["foo", "foo"]);
    assert_eq!(v["total"].as_u64(), Some(2));
    assert_eq!(subjects(&subsz("subs=1&test=bar.x")), ["bar.*"]);
    assert_eq!(subsz("test=foo")["total"].as_u64(), Some(0));
    let v = subsz("subs=1&offset=4&limit=3");
    assert_eq!((subjects(&v).len(), v["total"].as_u64()), (1, Some(5)));
    assert_eq!(
        subsz("subs=1&acc=nope")["num_subscriptions"].as_u64(),
        Some(0)
    );
}

#[test]
fn needs_names_only_what_the_request_reads() {
    let n = needs("/varz", "");
    assert!(n.sublist && !n.open_connections && !n.closed_connections);
    let n = needs("/connz", "state=closed&subs=detail");
    assert!(!n.open_connections && n.closed_connections && n.subscription_lists);
    let n = needs("/connz", "");
    assert!(n.open_connections && !n.closed_connections && !n.subscription_lists);
    assert!(needs("/subsz", "subs=1").subscription_lists);
    assert!(!needs("/subsz", "").open_connections);
    assert_eq!(needs("/healthz", ""), Needs::default());
    assert_eq!(needs("/connz", "subs=x"), Needs::default());
}

#[test]
fn index_page_is_html() {
    let r = handle("/", "", &scenario());
    assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE_HTML));
    assert!(String::from_utf8(r.body).unwrap().contains("href=./connz"));
}

#[test]
fn varz_reports_the_configured_limits_as_nats_server_does_by_default() {
    let want: serde_json::Value = serde_json::from_str(&fixture("varz.json")).unwrap();
    let got: serde_json::Value = serde_json::from_str(&body("/varz", "", &scenario())).unwrap();
    for key in [
        "max_connections",
        "ping_interval",
        "ping_max",
        "auth_timeout",
        "max_control_line",
        "max_payload",
        "max_pending",
        "tls_timeout",
        "write_deadline",
        "http_base_path",
        "https_port",
        "proto",
    ] {
        assert_eq!(got[key], want[key], "{key}");
    }
}

#[test]
fn a_snapshot_can_cross_threads() {
    fn send<T: Send + 'static>() {}
    send::<Snapshot>();
}

#[test]
fn a_request_goes_through_parse_handle_encode() {
    let raw = b"GET /healthz?details=1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let (req, n) = parse_request(raw).unwrap().unwrap();
    assert_eq!(n, raw.len());
    let s = scenario();
    let resp = handle(&req.path, &req.query, &s);
    let bytes = encode_response(&resp, s.server.now, req.keep_alive);
    let text = String::from_utf8(bytes).unwrap();
    let fixture_headers = fixture("healthz.headers");
    let names = |t: &str| -> Vec<String> {
        t.lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(names(&text), names(&fixture_headers));
    assert!(text.ends_with("\r\n\r\n{\"status\":\"ok\"}"));
    // Go writes a 400's and a 404's headers in another order; the set is what counts.
    for (path, query, name) in [
        ("/connz", "subs=x", "bad_connz_subs.headers"),
        ("/nope", "", "notfound.headers"),
    ] {
        let resp = handle(path, query, &s);
        let text = String::from_utf8(encode_response(&resp, s.server.now, true)).unwrap();
        let (mut got, mut want) = (names(&text), names(&fixture(name)));
        got.sort();
        want.sort();
        assert_eq!(got, want, "{path}");
    }
}
