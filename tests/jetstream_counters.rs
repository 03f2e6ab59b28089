//! Distributed counters (`allow_msg_counter`, nats-server 2.12+) on the wire, natrix against
//! nats-server 2.15.1 in one run: every pub ack (`"val"`), every refusal (10166, 10168 to
//! 10171), the stored messages (payload `{"val":"<n>"}`, the publish's headers kept), values
//! past 128 bits, a `Nats-Msg-Id` duplicate, a stream sourcing two counter streams (the
//! `Nats-Counter-Sources` header and the rewritten `Nats-Incr`), a plain stream sourcing a
//! counter one (copied verbatim), and the config refusals. Then the same through async-nats'
//! `PublishAck::value`, and a counter and its source going on after a SIGKILL.
//!
//! The differential test runs nats-server too (`NATRIX_NATS_SERVER` or `.venv/bin`); the
//! others run on nats-server with `NATRIX_TEST_AGAINST_REFERENCE=1`.

mod common;

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use common::procs::{eventually, send_signal, Server, TempDir};
use common::requests::Requester;

const FRAME_MAX: Duration = Duration::from_secs(5);
/// How long a source may take to copy what its origins hold (nats-server sources through a
/// consumer, asynchronously).
const SOURCED_MAX: Duration = Duration::from_secs(10);

struct Wire {
    io: Requester,
    seen: Vec<String>,
}

impl Wire {
    fn open(server: &Server) -> Wire {
        Wire {
            io: Requester::open(&server.addr(), FRAME_MAX),
            seen: Vec::new(),
        }
    }

    fn request(&mut self, subject: &str, headers: &[(&str, &str)], payload: &[u8]) -> String {
        self.io.request(subject, headers, payload)
    }

    fn api(&mut self, subject: &str, body: Value) -> Value {
        let r = self.request(subject, &[], body.to_string().as_bytes());
        serde_json::from_str(&r).expect("API replies are JSON")
    }

    /// A publish; notes its ack byte for byte.
    fn publish(&mut self, label: &str, subject: &str, headers: &[(&str, &str)], payload: &[u8]) {
        let ack = self.request(subject, headers, payload);
        self.seen.push(format!("{label}: {ack}"));
    }

    /// A stream create or update; notes `ok` or the error.
    fn config(&mut self, label: &str, op: &str, cfg: Value) {
        let name = cfg["name"].as_str().unwrap().to_string();
        let r = self.api(&format!("$JS.API.STREAM.{op}.{name}"), cfg);
        let got = r.get("error").map_or("ok".to_string(), Value::to_string);
        self.seen.push(format!("{label}: {got}"));
    }

    fn last_seq(&mut self, stream: &str) -> u64 {
        let r = self.api(&format!("$JS.API.STREAM.INFO.{stream}"), json!({}));
        r["state"]["last_seq"].as_u64().unwrap_or(0)
    }

    fn wait_last_seq(&mut self, stream: &str, want: u64) {
        let got = eventually(SOURCED_MAX, || {
            (self.last_seq(stream) >= want).then_some(())
        });
        assert!(got.is_some(), "{stream} reached sequence {want}");
    }

    /// Notes message `seq` of `stream`: subject, header block (the source identity, the
    /// last field of `Nats-Stream-Source`, which is random per stream, cut) and payload.
    fn stored(&mut self, stream: &str, query: Value) {
        self.stored_seq(stream, query, true)
    }

    /// [`Wire::stored`], the sequence left out when `with_seq` is false.
    fn stored_seq(&mut self, stream: &str, query: Value, with_seq: bool) {
        let r = self.api(&format!("$JS.API.STREAM.MSG.GET.{stream}"), query.clone());
        let m = &r["message"];
        let b64 = |k: &str| {
            let text = m[k].as_str().unwrap_or("");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64");
            String::from_utf8(raw).unwrap()
        };
        let hdrs: Vec<String> = b64("hdrs")
            .split("\r\n")
            .map(|l| match l.strip_prefix("Nats-Stream-Source: ") {
                Some(v) => {
                    let keep: Vec<&str> = v.split(' ').take(5).collect();
                    format!("Nats-Stream-Source: {} <ident>", keep.join(" "))
                }
                None => l.to_string(),
            })
            .collect();
        let line = match r.get("error") {
            Some(e) => e.to_string(),
            None => format!(
                "{} {} {:?} {}",
                m["subject"].as_str().unwrap(),
                if with_seq {
                    m["seq"].to_string()
                } else {
                    "_".into()
                },
                hdrs.join("\r\n"),
                b64("data")
            ),
        };
        self.seen.push(format!("{stream} {query}: {line}"));
    }
}

/// (label, subject, headers, payload) of one publish.
type Pub<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8]);

fn counter_stream(name: &str, subjects: &[&str]) -> Value {
    json!({"name": name, "subjects": subjects, "allow_msg_counter": true, "allow_direct": true})
}

/// The scenario; returns what it saw.
fn play(reference: bool) -> Vec<String> {
    let dir = TempDir::new("counters");
    let server = Server::start_jetstream_on(reference, &dir.path);
    let mut w = Wire::open(&server);
    w.config("create C", "CREATE", counter_stream("C", &["c.>"]));
    let big = "170141183460469231731687303715884105727"; // i128::MAX
    let pubs: &[Pub] = &[
        ("incr 5", "c.a", &[("Nats-Incr", "5")], b""),
        (
            "incr +3 with id",
            "c.a",
            &[("Nats-Incr", "+3"), ("Nats-Msg-Id", "m1")],
            b"",
        ),
        (
            "duplicate",
            "c.a",
            &[("Nats-Incr", "+3"), ("Nats-Msg-Id", "m1")],
            b"",
        ),
        ("incr max", "c.b", &[("Nats-Incr", big)], b""),
        ("past 128 bits", "c.b", &[("Nats-Incr", big)], b""),
        ("incr -20", "c.a", &[("Nats-Incr", "-20")], b""),
        ("no incr", "c.a", &[], b""),
        ("no incr, payload", "c.a", &[], b"x"),
        ("underscore", "c.a", &[("Nats-Incr", "1_0")], b""),
        ("not a number", "c.a", &[("Nats-Incr", "abc")], b""),
        ("with payload", "c.a", &[("Nats-Incr", "1")], b"x"),
        (
            "rollup",
            "c.a",
            &[("Nats-Incr", "1"), ("Nats-Rollup", "sub")],
            b"",
        ),
        (
            "expected stream",
            "c.a",
            &[("Nats-Incr", "1"), ("Nats-Expected-Stream", "C")],
            b"",
        ),
        (
            "expected last seq",
            "c.a",
            &[("Nats-Incr", "1"), ("Nats-Expected-Last-Sequence", "5")],
            b"",
        ),
        ("ttl", "c.a", &[("Nats-Incr", "1"), ("Nats-TTL", "5s")], b""),
        ("zero", "c.a", &[("Nats-Incr", "0")], b""),
    ];
    for (label, subj, hdrs, payload) in pubs {
        w.publish(label, subj, hdrs, payload);
    }
    w.stored("C", json!({"last_by_subj": "c.a"}));
    w.stored("C", json!({"seq": 2}));
    w.stored("C", json!({"last_by_subj": "c.b"}));
    let direct = w.request("$JS.API.DIRECT.GET.C", &[], br#"{"last_by_subj":"c.a"}"#);
    w.seen.push(format!("direct: {direct}"));

    // A plain stream refuses increments.
    w.config(
        "create N",
        "CREATE",
        json!({"name": "N", "subjects": ["n.>"]}),
    );
    w.publish("N incr", "n.a", &[("Nats-Incr", "1")], b"");
    w.publish("N bad incr", "n.a", &[("Nats-Incr", "x")], b"");
    // Read as nats-server's sliceHeader does: leading spaces skipped, a trailing tab kept,
    // the key matched exactly.
    w.publish("N leading spaces", "n.a", &[("Nats-Incr", "  1")], b"");
    w.publish("N trailing tab", "n.a", &[("Nats-Incr", "1\t")], b"");
    w.publish("N lower case key", "n.a", &[("nats-incr", "1")], b"");
    w.publish("N plain", "n.a", &[], b"hello");

    // A counter stream sourcing two others adds their changes.
    w.config("create D", "CREATE", counter_stream("D", &["d.>"]));
    w.publish("D incr", "d.a", &[("Nats-Incr", "100")], b"");
    let source = |name: &str, from: &str, to: &str| json!({"name": name, "subject_transforms": [{"src": from, "dest": to}]});
    let mut agg = counter_stream("AGG", &["agg.>"]);
    agg["sources"] = json!([source("C", "c.>", "agg.>"), source("D", "d.>", "agg.>")]);
    w.config("create AGG", "CREATE", agg);
    w.wait_last_seq("AGG", 7);
    w.publish("C after", "c.a", &[("Nats-Incr", "7")], b"");
    w.wait_last_seq("AGG", 8);
    // nats-server interleaves the copies of the two origins as they come (C's last one,
    // after the wait, is the stream's last); per subject they are in order.
    w.stored("AGG", json!({"last_by_subj": "agg.a"}));
    w.stored_seq("AGG", json!({"last_by_subj": "agg.b"}), false);
    w.publish("AGG own", "agg.a", &[("Nats-Incr", "1000")], b"");
    w.stored("AGG", json!({"last_by_subj": "agg.a"}));
    w.publish("C again", "c.a", &[("Nats-Incr", "1")], b"");
    w.wait_last_seq("AGG", 10);
    w.stored("AGG", json!({"last_by_subj": "agg.a"}));

    // A plain stream sourcing a counter stream copies verbatim.
    w.config(
        "create NS",
        "CREATE",
        json!({"name": "NS", "sources": [{"name": "C"}]}),
    );
    w.wait_last_seq("NS", 8);
    w.stored("NS", json!({"seq": 1}));
    w.stored("NS", json!({"seq": 8}));

    // Config refusals.
    w.config(
        "mirror",
        "CREATE",
        json!({"name": "M", "allow_msg_counter": true, "mirror": {"name": "C"}}),
    );
    let mut off = counter_stream("C", &["c.>"]);
    off["allow_msg_counter"] = false.into();
    w.config("turn off", "UPDATE", off);
    w.config(
        "turn on",
        "UPDATE",
        json!({"name": "N", "subjects": ["n.>"], "allow_msg_counter": true}),
    );
    let mut x = counter_stream("X", &["x.>"]);
    x["discard"] = "new".into();
    w.config("discard new", "CREATE", x);
    let mut x = counter_stream("X", &["x.>"]);
    x["allow_msg_ttl"] = true.into();
    w.config("ttl", "CREATE", x);
    let mut x = counter_stream("X", &["x.>"]);
    x["retention"] = "workqueue".into();
    w.config("workqueue", "CREATE", x);
    w.seen
}

#[test]
fn counters_match_nats_server() {
    let natrix = play(false);
    let reference = play(true);
    for (i, (a, b)) in natrix.iter().zip(&reference).enumerate() {
        assert_eq!(a, b, "step {i}: natrix, then nats-server");
    }
    assert_eq!(natrix.len(), reference.len());
    // What the run shows, so a reference that changed is seen too.
    for want in [
        r#"incr +3 with id: {"stream":"C","seq":2,"val":"8"}"#,
        r#"past 128 bits: {"stream":"C","seq":4,"val":"340282366920938463463374607431768211454"}"#,
        r#"duplicate: {"stream":"C","seq":2,"duplicate": true}"#,
    ] {
        assert!(natrix.iter().any(|l| l == want), "{want}");
    }
}

#[tokio::test]
async fn async_nats_sees_the_value_in_its_ack() {
    let dir = TempDir::new("counters-async");
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let nc = async_nats::connect(server.url()).await.expect("connects");
    let js = async_nats::jetstream::new(nc);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "K".into(),
        subjects: vec!["k.>".into()],
        allow_message_counter: true,
        ..Default::default()
    })
    .await
    .expect("a counter stream");
    let mut total = 0i64;
    for incr in [3i64, -10, 42] {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Incr", incr.to_string().as_str());
        let ack = js
            .publish_with_headers("k.hits", h, "".into())
            .await
            .unwrap()
            .await
            .expect("stored");
        total += incr;
        assert_eq!(ack.value, Some(total.to_string()));
    }
    let err = js
        .publish("k.hits", "no increment".into())
        .await
        .unwrap()
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("10169"), "{err}");
    let s = js.get_stream("K").await.unwrap();
    let m = s.get_last_raw_message_by_subject("k.hits").await.unwrap();
    assert_eq!(&m.payload[..], br#"{"val":"35"}"#);
}

#[test]
fn counters_and_their_sources_go_on_after_a_sigkill() {
    let dir = TempDir::new("counters-kill");
    let incr = |w: &mut Wire, subj: &str, v: &str| {
        let ack = w.request(subj, &[("Nats-Incr", v)], b"");
        let ack: Value = serde_json::from_str(&ack).unwrap();
        ack["val"].as_str().expect("a counter ack").to_string()
    };
    {
        let mut server = Server::start_jetstream(1, &dir.path, &[]);
        let mut w = Wire::open(&server);
        w.config("C", "CREATE", counter_stream("C", &["c.>"]));
        let mut agg = counter_stream("AGG", &["agg.>"]);
        agg["sources"] = json!([{"name": "C"}]);
        w.config("AGG", "CREATE", agg);
        assert_eq!(w.seen, ["C: ok", "AGG: ok"]);
        assert_eq!(incr(&mut w, "c.a", "40"), "40");
        assert_eq!(incr(&mut w, "c.a", "2"), "42");
        w.wait_last_seq("AGG", 2);
        send_signal(server.pid(), libc::SIGKILL);
        server.wait_exit(Duration::from_secs(10)).expect("killed");
    }
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let mut w = Wire::open(&server);
    assert_eq!(
        incr(&mut w, "c.a", "-2"),
        "40",
        "the value is the last message"
    );
    w.wait_last_seq("AGG", 3);
    w.stored("AGG", json!({"seq": 3}));
    let last = w.seen.pop().unwrap();
    assert!(
        last.ends_with(r#"Nats-Counter-Sources: {\"C\":{\"c.a\":\"40\"}}\r\n\r\n" {"val":"40"}"#)
            && last.contains(r#"Nats-Incr: -2\r\n"#),
        "the source's last total came back with the message: {last}"
    );
}
