//! Consumer priority groups (`priority_policy` `pinned_client`, `overflow`, `prioritized`),
//! played on natrix and on the reference nats-server in one test and compared: the status
//! lines and headers of pull requests, `Nats-Pin-Id` on deliveries, the pinned/unpinned
//! advisories, `priority_groups` in CONSUMER.INFO and the CONSUMER.UNPIN replies.
//!
//! Pin ids are random on both servers, so each is replaced by a label in order of first sight
//! (`pin#1`, ...); inboxes by the request they answer; JSON is compared by keys and value types
//! (with the values that mean something kept: groups, reasons, error codes). nats-server
//! names the account in the pin advisories and natrix does not (it is `omitempty`), so
//! `account` is left out. Each step reads what arrives until the frames it waits for came,
//! and every test is bounded by `FRAME_MAX` per read.
//!
//! Also real clients: async-nats 0.52 on a pinned consumer (of two subscribers in the group
//! only the pinned one gets messages; after CONSUMER.UNPIN a new pin takes what follows), and
//! nats.js v3 (tests/js/v3/priority_v3.js: consume with a group, overflow and prioritized
//! fetches, unpin). These two run against natrix or, with `NATRIX_TEST_AGAINST_REFERENCE=1`,
//! nats-server.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::node;
use common::procs::{Server, TempDir};
use common::wire::Socket;

/// How long a read waits for a frame that must come.
const FRAME_MAX: Duration = Duration::from_secs(5);
/// The pinned consumer's `priority_timeout`.
const PIN_TTL_NS: u64 = 1_000_000_000;

/// A raw client that turns what it sees into comparable lines.
struct Wire {
    sock: Socket,
    next: u64,
    /// Pin id → label, in order of first sight.
    pins: BTreeMap<String, String>,
    /// Lines observed so far.
    seen: Vec<String>,
    /// SID → label of each pull request's inbox subscription.
    labels: BTreeMap<String, String>,
    /// Frames that came before an API reply, for the reads after it.
    stash: std::collections::VecDeque<Msg>,
}

/// One MSG/HMSG frame.
struct Msg {
    subject: String,
    sid: String,
    headers: String,
    payload: Vec<u8>,
}

impl Wire {
    fn open(server: &Server) -> Wire {
        let mut sock = Socket::open(&server.addr(), FRAME_MAX).expect("connect");
        sock.line_by(Instant::now() + FRAME_MAX).expect("INFO");
        let mut w = Wire {
            sock,
            next: 0,
            pins: BTreeMap::new(),
            seen: Vec::new(),
            stash: Default::default(),
            labels: BTreeMap::new(),
        };
        w.sock.send(
            b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n\
              SUB _IN.api.> 1\r\nSUB $JS.EVENT.ADVISORY.CONSUMER.PINNED.> 3\r\n\
              SUB $JS.EVENT.ADVISORY.CONSUMER.UNPINNED.> 4\r\nPING\r\n",
        );
        assert_eq!(w.line(), "PONG\r\n");
        w
    }

    fn line(&mut self) -> String {
        let line = self
            .sock
            .line_by(Instant::now() + FRAME_MAX)
            .expect("a line from the server");
        String::from_utf8_lossy(&line).into_owned()
    }

    /// The next MSG/HMSG, stashed ones first.
    fn msg(&mut self) -> Msg {
        match self.stash.pop_front() {
            Some(m) => m,
            None => self.wire_msg(),
        }
    }

    /// The next MSG/HMSG off the socket (PINGs answered, other lines refused).
    fn wire_msg(&mut self) -> Msg {
        loop {
            let line = self.line();
            if line == "PING\r\n" {
                self.sock.send(b"PONG\r\n");
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (hdr, total) = match parts.first().copied() {
                Some("MSG") => (0, parts.last().unwrap().parse::<usize>().unwrap()),
                Some("HMSG") => {
                    let n = parts.len();
                    (parts[n - 2].parse().unwrap(), parts[n - 1].parse().unwrap())
                }
                _ => panic!("unexpected line {line:?}"),
            };
            let deadline = Instant::now() + FRAME_MAX;
            while self.sock.buf.len() < total + 2 {
                assert!(Instant::now() < deadline && !self.sock.closed, "cut off");
                self.sock.fill(FRAME_MAX);
            }
            let body: Vec<u8> = self.sock.buf.drain(..total + 2).collect();
            return Msg {
                subject: parts[1].to_string(),
                sid: parts[2].to_string(),
                headers: String::from_utf8_lossy(&body[..hdr]).into_owned(),
                payload: body[hdr..total].to_vec(),
            };
        }
    }

    /// The next stream message, skipping advisories.
    fn delivery(&mut self) -> Msg {
        loop {
            let m = self.msg();
            if !m.subject.starts_with("$JS.EVENT.") {
                return m;
            }
        }
    }

    fn pub_(&mut self, subject: &str, reply: &str, body: &[u8]) {
        let reply = if reply.is_empty() {
            String::new()
        } else {
            format!(" {reply}")
        };
        let mut out = format!("PUB {subject}{reply} {}\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        self.sock.send(&out);
    }

    /// An API request; its reply, as JSON. Frames for other subjects before it are stashed.
    fn api(&mut self, subject: &str, body: Value) -> Value {
        self.next += 1;
        let reply = format!("_IN.api.{}", self.next);
        self.pub_(subject, &reply, body.to_string().as_bytes());
        loop {
            let m = self.wire_msg();
            if m.subject == reply {
                return serde_json::from_slice(&m.payload).expect("API JSON");
            }
            self.stash.push_back(m);
        }
    }

    /// A pull request on `_IN.<label>`.
    fn pull(&mut self, consumer: &str, label: &str, body: Value) {
        self.pull_raw(consumer, label, body.to_string().as_bytes());
    }

    /// A pull request with `body` as is, on `_IN.<label>` (its own subscription, so the
    /// deliveries it gets are told apart by their SID).
    fn pull_raw(&mut self, consumer: &str, label: &str, body: &[u8]) {
        if !self.labels.values().any(|l| l == label) {
            let sid = (self.labels.len() + 10).to_string();
            self.sock
                .send(format!("SUB _IN.{label} {sid}\r\n").as_bytes());
            self.labels.insert(sid, label.to_string());
        }
        let subject = format!("$JS.API.CONSUMER.MSG.NEXT.S.{consumer}");
        self.pub_(&subject, &format!("_IN.{label}"), body);
    }

    /// Reads `n` frames and notes them, sorted (their order between subjects is open).
    fn read(&mut self, step: &str, n: usize) {
        let mut lines: Vec<String> = (0..n)
            .map(|_| {
                let m = self.msg();
                self.describe(&m)
            })
            .collect();
        lines.sort();
        for l in lines {
            self.seen.push(format!("{step}: {l}"));
        }
    }

    fn note(&mut self, step: &str, v: Value) {
        self.seen.push(format!("{step}: {v}"));
    }

    fn pin_label(&mut self, id: &str) -> String {
        if id.is_empty() {
            return "pin#none".into();
        }
        let n = self.pins.len() + 1;
        self.pins
            .entry(id.to_string())
            .or_insert_with(|| format!("pin#{n}"))
            .clone()
    }

    /// A frame as a comparable line.
    fn describe(&mut self, m: &Msg) -> String {
        let mut lines = m.headers.split("\r\n").filter(|l| !l.is_empty());
        let status = lines.next().unwrap_or("").to_string();
        let mut headers: Vec<String> = Vec::new();
        for l in lines {
            let (k, v) = l.split_once(": ").unwrap_or((l, ""));
            let v = match k {
                "Nats-Pin-Id" => self.pin_label(v.trim()),
                _ => v.to_string(),
            };
            headers.push(format!("{k}={v}"));
        }
        if m.subject.starts_with("$JS.EVENT.") {
            let mut v: Value = serde_json::from_slice(&m.payload).expect("advisory JSON");
            if let Some(o) = v.as_object_mut() {
                o.remove("account");
            }
            if let Some(id) = v
                .get("pinned_id")
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                v["pinned_id"] = self.pin_label(&id).into();
            }
            let kept = keep(
                &v,
                &["type", "stream", "consumer", "group", "reason", "pinned_id"],
            );
            return format!("{} {} {}", m.subject, shape(&v), kept);
        }
        format!(
            "@{} {} [{status}] {headers:?} {:?}",
            self.labels.get(&m.sid).map_or("?", String::as_str),
            m.subject,
            String::from_utf8_lossy(&m.payload)
        )
    }
}

/// The keys and value types of a JSON document.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => "str".into(),
        Value::Number(_) => "num".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// Only `keys` of an object, with their values.
fn keep(v: &Value, keys: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for k in keys {
        if let Some(x) = v.get(*k) {
            out.insert((*k).to_string(), x.clone());
        }
    }
    Value::Object(out)
}

impl Wire {
    /// `priority_groups` of CONSUMER.INFO, with the pin labelled and `pinned_ts` reduced to
    /// whether it is Go's zero time.
    fn groups(&mut self, consumer: &str) -> Value {
        let info = self.api(&format!("$JS.API.CONSUMER.INFO.S.{consumer}"), json!({}));
        let mut groups = info["priority_groups"].clone();
        for g in groups.as_array_mut().into_iter().flatten() {
            if let Some(id) = g.get("pinned_client_id").and_then(Value::as_str) {
                let id = id.to_string();
                g["pinned_client_id"] = self.pin_label(&id).into();
            }
            let zero = g["pinned_ts"] == "0001-01-01T00:00:00Z";
            g["pinned_ts"] = if zero { "zero" } else { "set" }.into();
        }
        json!({"groups": groups, "config": keep(&info["config"],
            &["priority_groups", "priority_policy", "priority_timeout"])})
    }
}

/// The scenario; returns what it saw.
fn play(reference: bool) -> Vec<String> {
    let dir = TempDir::new("priority");
    let server = Server::start_jetstream_on(reference, &dir.path);
    let mut w = Wire::open(&server);
    let r = w.api(
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s.>"]}),
    );
    assert!(r.get("error").is_none(), "{r}");
    for i in 0..6 {
        let ack = w.api("s.a", json!(format!("m{i}")));
        assert!(ack.get("seq").is_some(), "{ack}");
    }
    let cfg = json!({"durable_name": "P", "ack_policy": "explicit",
        "priority_policy": "pinned_client", "priority_groups": ["g"],
        "priority_timeout": PIN_TTL_NS});
    let r = w.api(
        "$JS.API.CONSUMER.CREATE.S.P",
        json!({"stream_name": "S", "config": cfg}),
    );
    assert!(r.get("error").is_none(), "{r}");
    let g = w.groups("P");
    w.note("created", g);

    // Refused at arrival, in nats-server's order of checks.
    for (label, body) in [
        ("nogroup", json!({"batch": 1, "expires": 1_000_000_000u64})),
        ("badgroup", json!({"batch": 1, "group": "x"})),
        ("prio10", json!({"batch": 1, "group": "g", "priority": 10})),
        (
            "minpending",
            json!({"batch": 1, "group": "g", "min_pending": 1}),
        ),
    ] {
        w.pull("P", label, body);
        w.read(label, 1);
    }
    // A plain batch (no JSON, so no group) is served and pins nobody: its message carries
    // an empty Nats-Pin-Id.
    w.pull_raw("P", "plain", b"");
    w.read("plain", 1);
    // The first request of the group pins its client: both messages carry the new id,
    // and the advisory names it.
    w.pull(
        "P",
        "first",
        json!({"batch": 2, "group": "g", "expires": 3_000_000_000u64}),
    );
    w.read("first", 3);
    let g = w.groups("P");
    w.note("pinned", g);
    // An update (another group) keeps the pin.
    let cfg = json!({"durable_name": "P", "ack_policy": "explicit",
        "priority_policy": "pinned_client", "priority_groups": ["g", "h"],
        "priority_timeout": PIN_TTL_NS});
    let r = w.api(
        "$JS.API.CONSUMER.CREATE.S.P",
        json!({"stream_name": "S", "config": cfg}),
    );
    assert!(r.get("error").is_none(), "{r}");
    let g = w.groups("P");
    assert_eq!(g["groups"][0]["pinned_client_id"], "pin#1", "{g}");
    w.note("updated", g);
    // Another id is refused; a request without one waits for the pin to end (here: its
    // expiry); the pinned id is served.
    w.pull("P", "wrong", json!({"group": "g", "id": "bogus"}));
    w.read("wrong", 1);
    w.pull(
        "P",
        "noid",
        json!({"group": "g", "expires": 300_000_000u64}),
    );
    w.read("noid", 1);
    let pin1 = w.pins.keys().next().cloned().expect("a pin");
    w.pull(
        "P",
        "right",
        json!({"group": "g", "id": pin1, "expires": 3_000_000_000u64}),
    );
    w.read("right", 1);
    // CONSUMER.UNPIN: its errors, then the unpin and its advisory.
    for (label, body) in [
        ("unpin-empty", json!({})),
        ("unpin-bad", json!({"group": "zz"})),
        ("unpin", json!({"group": "g"})),
    ] {
        let r = w.api("$JS.API.CONSUMER.UNPIN.S.P", body);
        w.note(label, r);
    }
    w.read("unpinned", 1);
    let g = w.groups("P");
    w.note("after-unpin", g);
    // The old id is stale now: 423 with what the request had left.
    w.pull(
        "P",
        "stale",
        json!({"batch": 3, "group": "g", "id": pin1, "expires": 3_000_000_000u64}),
    );
    w.read("stale", 1);
    // A new client is pinned, and unpinned by the timeout when it pulls no more.
    w.pull(
        "P",
        "second",
        json!({"batch": 1, "group": "g", "expires": 3_000_000_000u64}),
    );
    w.read("second", 2);
    w.read("timeout", 1);
    let g = w.groups("P");
    w.note("after-timeout", g);

    // overflow: min_pending above what is pending waits (here: until its expiry).
    let cfg = json!({"durable_name": "O", "ack_policy": "explicit",
        "priority_policy": "overflow", "priority_groups": ["g"]});
    let r = w.api(
        "$JS.API.CONSUMER.CREATE.S.O",
        json!({"stream_name": "S", "config": cfg}),
    );
    assert!(r.get("error").is_none(), "{r}");
    w.pull("O", "ovf-id", json!({"group": "g", "id": "x"}));
    w.read("ovf-id", 1);
    w.pull(
        "O",
        "ovf-10",
        json!({"group": "g", "min_pending": 10, "expires": 300_000_000u64}),
    );
    w.read("ovf-10", 1);
    w.pull(
        "O",
        "ovf-6",
        json!({"group": "g", "min_pending": 6, "expires": 3_000_000_000u64}),
    );
    w.read("ovf-6", 1);
    w.pull(
        "O",
        "ovf-ack",
        json!({"group": "g", "min_ack_pending": 1, "expires": 3_000_000_000u64}),
    );
    w.read("ovf-ack", 1);

    // prioritized: waiting requests are served lowest priority first.
    let cfg = json!({"durable_name": "Q", "ack_policy": "explicit", "deliver_policy": "new",
        "priority_policy": "prioritized", "priority_groups": ["g"]});
    let r = w.api(
        "$JS.API.CONSUMER.CREATE.S.Q",
        json!({"stream_name": "S", "config": cfg}),
    );
    assert!(r.get("error").is_none(), "{r}");
    w.pull(
        "Q",
        "p5",
        json!({"group": "g", "priority": 5, "expires": 3_000_000_000u64}),
    );
    w.pull(
        "Q",
        "p1",
        json!({"group": "g", "priority": 1, "expires": 3_000_000_000u64}),
    );
    let g = w.groups("Q");
    w.note("prioritized", g);
    w.api("s.a", json!("n1"));
    w.read("prio-1st", 1);
    w.api("s.a", json!("n2"));
    w.read("prio-2nd", 1);
    // Within a level requests take turns; a served one with batch left goes to the end of
    // its level, ahead of higher levels.
    w.pull(
        "Q",
        "q1a",
        json!({"group": "g", "priority": 1, "batch": 2, "expires": 3_000_000_000u64}),
    );
    w.pull(
        "Q",
        "q1b",
        json!({"group": "g", "priority": 1, "batch": 2, "expires": 3_000_000_000u64}),
    );
    w.pull(
        "Q",
        "q5",
        json!({"group": "g", "priority": 5, "batch": 1, "expires": 3_000_000_000u64}),
    );
    let g = w.groups("Q");
    w.note("queued", g);
    for i in 0..5 {
        w.api("s.a", json!(format!("r{i}")));
        w.read(&format!("turn-{i}"), 1);
    }
    assert!(w.stash.is_empty(), "frames left unread");
    let seen = std::mem::take(&mut w.seen);
    drop(w);
    drop(server);
    seen
}

#[test]
fn priority_groups_match_nats_server() {
    let natrix = play(false);
    let reference = play(true);
    let (a, b) = (natrix.join("\n"), reference.join("\n"));
    assert_eq!(a, b, "natrix (left) and nats-server (right) differ");
}

/// The `Nats-Pin-Id` of a delivered message.
fn pin_of(m: &async_nats::jetstream::Message) -> String {
    m.headers
        .as_ref()
        .and_then(|h| h.get("Nats-Pin-Id"))
        .map(|v| v.as_str().to_string())
        .unwrap_or_default()
}

/// The next message of a pull stream, which must come within `FRAME_MAX`.
async fn next(
    s: &mut async_nats::jetstream::consumer::pull::Stream,
) -> async_nats::jetstream::Message {
    use futures::StreamExt;
    tokio::time::timeout(FRAME_MAX, s.next())
        .await
        .expect("a message in time")
        .expect("stream open")
        .expect("a message")
}

#[tokio::test]
async fn async_nats_pinned_client_gets_every_message_until_unpinned() {
    use async_nats::jetstream::consumer::{pull, PriorityPolicy};

    let dir = TempDir::new("priority-client");
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("P".into()),
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["g".into()],
            ..Default::default()
        })
        .await
        .expect("pinned consumer");
    let publish = |n: usize| {
        let js = js.clone();
        async move {
            for i in 0..n {
                js.publish("s.a", format!("m{i}").into())
                    .await
                    .expect("publish")
                    .await
                    .expect("ack");
            }
        }
    };
    let mut a = consumer
        .stream()
        .group("g")
        .messages()
        .await
        .expect("client A");
    publish(3).await;
    let mut first = Vec::new();
    for _ in 0..3 {
        let m = next(&mut a).await;
        first.push(pin_of(&m));
        m.ack().await.expect("ack");
    }
    let pin = first[0].clone();
    assert_eq!(pin.len(), 22, "{first:?}");
    assert!(first.iter().all(|p| *p == pin), "{first:?}");
    let mut consumer = consumer;
    let info = consumer.info().await.expect("info").clone();
    assert_eq!(
        info.priority_groups[0].pinned_client_id.as_deref(),
        Some(pin.as_str())
    );
    assert!(info.priority_groups[0].pinned_ts.is_some());

    // B joins the group; the pinned A still gets everything (each message goes out once, so
    // A having all of them means B had none).
    let mut b = consumer
        .stream()
        .group("g")
        .messages()
        .await
        .expect("client B");
    publish(3).await;
    for _ in 0..3 {
        let m = next(&mut a).await;
        assert_eq!(pin_of(&m), pin);
        m.ack().await.expect("ack");
    }
    let info = consumer.info().await.expect("info").clone();
    assert_eq!(info.delivered.stream_sequence, 6);

    // Unpinned by the admin: a new pin goes to one of them, and it gets what follows.
    stream.unpin_consumer("P", "g").await.expect("unpin");
    publish(3).await;
    let mut after = Vec::new();
    while after.len() < 3 {
        let (who, m) = tokio::select! {
            m = next(&mut a) => ("A", m),
            m = next(&mut b) => ("B", m),
        };
        after.push((who, pin_of(&m)));
        m.ack().await.expect("ack");
    }
    let (who, new_pin) = after[0].clone();
    assert_ne!(new_pin, pin, "{after:?}");
    assert!(
        after.iter().all(|(w, p)| *w == who && *p == new_pin),
        "{after:?}"
    );
}

#[test]
fn nats_js_v3_pinned_overflow_and_prioritized_work() {
    let dir = TempDir::new("priority-js");
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let stdout = node::run_script("v3/priority_v3.js", &server.url(), Duration::from_secs(30));
    node::assert_steps(
        &stdout,
        &["pinned 5", "unpinned", "overflow ok", "prioritized ok"],
    );
}

/// nats-server keeps the pin in memory only: after a restart nobody is pinned, the old id is
/// stale, and the next pull gets a new pin. natrix does the same (or, with
/// `NATRIX_TEST_AGAINST_REFERENCE=1`, this shows nats-server does).
#[test]
fn a_restart_unpins() {
    let dir = TempDir::new("priority-restart");
    let old_pin = {
        let server = Server::start_jetstream(1, &dir.path, &[]);
        let mut w = Wire::open(&server);
        w.api(
            "$JS.API.STREAM.CREATE.S",
            json!({"name": "S", "subjects": ["s.>"]}),
        );
        for i in 0..3 {
            w.api("s.a", json!(i));
        }
        let cfg = json!({"durable_name": "P", "ack_policy": "explicit",
            "priority_policy": "pinned_client", "priority_groups": ["g"]});
        let r = w.api(
            "$JS.API.CONSUMER.CREATE.S.P",
            json!({"stream_name": "S", "config": cfg}),
        );
        assert!(r.get("error").is_none(), "{r}");
        w.pull("P", "first", json!({"group": "g", "batch": 1}));
        let m = w.delivery();
        let pin = m
            .headers
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Nats-Pin-Id: "))
            .expect("a pin")
            .to_string();
        assert_eq!(w.groups("P")["groups"][0]["pinned_ts"], "set");
        pin
    };
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let mut w = Wire::open(&server);
    assert_eq!(
        w.groups("P")["groups"],
        json!([{"group": "g", "pinned_ts": "zero"}])
    );
    w.pull(
        "P",
        "stale",
        json!({"group": "g", "id": old_pin, "batch": 1}),
    );
    w.read("stale", 1);
    w.pull("P", "new", json!({"group": "g", "batch": 1}));
    let m = w.delivery();
    assert!(
        m.headers.contains("Nats-Pin-Id: ") && !m.headers.contains(&old_pin),
        "{}",
        m.headers
    );
    assert_eq!(
        w.seen,
        vec!["stale: @stale _IN.stale [NATS/1.0 423 Nats-Wrong-Pin-Id] [\"Nats-Pending-Messages=1\", \"Nats-Pending-Bytes=0\"] \"\"".to_string()]
    );
}
