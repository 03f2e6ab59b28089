//! Stream `republish` and `subject_transform` (issue 10 point 5).
//!
//! - Differential, raw protocol: natrix (1 and 3 shards) and nats-server 2.15.1 each get the
//!   same transcript — a stream republishing `>` to `rp.>`, publishes plain, with headers,
//!   duplicate, refused and empty; an update to `headers_only` on a filtered source; a
//!   stream with a subject transform; a mirror and a source that transform and republish —
//!   and what a plain subscriber of the destinations receives is compared frame by frame
//!   (every byte but the `Nats-Time-Stamp` value, whose RFC 3339 form is checked instead),
//!   and what another stream stores when it captures a republish destination, as are the
//!   replies to configs both must refuse (code, err_code and description).
//! - Real client: async-nats subscribes to the destination and reads the headers of what a
//!   JetStream publish republished, on natrix with 3 shards and with `sync_interval: always`
//!   (where the republish waits for the fdatasync with the ack).
//!
//! Each expectation waits for an event (a reply, a marker message), never for time. nats-server
//! copies into mirrors and sources through internal consumers, so those waits are longer.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::procs::TempDir;
use common::{RawClient, TestServer};

/// How long a frame may take (a mirror's first copy in nats-server takes about a second).
const FRAME_MAX: Duration = Duration::from_secs(10);

const CONNECT: &str = r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#;

#[derive(Clone, Copy, Debug)]
enum Target {
    Reference,
    Natrix(usize),
}

struct Running {
    server: TestServer,
    _store: TempDir,
}

fn start(target: Target, flags: &[&str]) -> Running {
    let store = TempDir::new("republish");
    let dir = store.path.to_string_lossy().into_owned();
    let mut all = vec!["-js", "-sd", dir.as_str()];
    all.extend_from_slice(flags);
    let server = match target {
        Target::Reference => TestServer::start_nats_server(&all),
        Target::Natrix(shards) => TestServer::start_with(shards, &all),
    };
    Running {
        server,
        _store: store,
    }
}

/// One MSG or HMSG as received: subject, sid, reply, header block, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    subject: String,
    reply: String,
    headers: String,
    payload: String,
}

/// Reads bytes until one whole MSG/HMSG is buffered (PINGs answered, PONGs skipped).
fn read_frame(c: &mut RawClient) -> Frame {
    let deadline = Instant::now() + FRAME_MAX;
    loop {
        assert!(
            Instant::now() < deadline,
            "no frame; have {:?}",
            c.buffered()
        );
        let line = c.read_line();
        if line == "PONG\r\n" {
            continue;
        }
        if line == "PING\r\n" {
            c.send(b"PONG\r\n");
            continue;
        }
        let parts: Vec<&str> = line.trim_end().split(' ').collect();
        let (hmsg, args) = match parts.first() {
            Some(&"MSG") => (false, &parts[1..]),
            Some(&"HMSG") => (true, &parts[1..]),
            _ => panic!("not a message: {line:?}"),
        };
        let sizes = if hmsg { 2 } else { 1 };
        let (head, nums) = args.split_at(args.len() - sizes);
        let total: usize = nums.last().unwrap().parse().unwrap();
        let hdr_len: usize = if hmsg { nums[0].parse().unwrap() } else { 0 };
        let mut body = Vec::new();
        while body.len() < total + 2 {
            let l = c.read_line();
            body.extend_from_slice(l.as_bytes());
        }
        let body = String::from_utf8_lossy(&body[..total]).into_owned();
        return Frame {
            subject: head[0].to_string(),
            reply: head.get(2).map(|s| s.to_string()).unwrap_or_default(),
            headers: body[..hdr_len].to_string(),
            payload: body[hdr_len..].to_string(),
        };
    }
}

/// The frame with its `Nats-Time-Stamp` value replaced by `<ts>` after checking that it is
/// RFC 3339 in UTC with Go's trimmed nanoseconds.
fn without_time(mut f: Frame) -> Frame {
    let key = "Nats-Time-Stamp: ";
    if let Some(at) = f.headers.find(key) {
        let from = at + key.len();
        let to = from + f.headers[from..].find("\r\n").expect("a header line");
        let ts = &f.headers[from..to];
        let ok = ts.len() >= 20
            && ts.ends_with('Z')
            && ts.as_bytes()[10] == b'T'
            && !ts.trim_end_matches('Z').ends_with('0');
        assert!(ok, "not Go's RFC 3339 nanoseconds: {ts:?}");
        f.headers.replace_range(from..to, "<ts>");
    }
    f
}

/// A request from `c` (subscribed to `_r` as sid 99) and its JSON reply.
fn request(c: &mut RawClient, subject: &str, body: &Value) -> Value {
    let b = body.to_string();
    c.send(format!("PUB {subject} _r {}\r\n{b}\r\n", b.len()).as_bytes());
    let f = read_frame(c);
    assert_eq!(f.subject, "_r");
    serde_json::from_str(&f.payload).expect("a JSON reply")
}

fn hpub(subject: &str, reply: &str, headers: &[(&str, &str)], data: &str) -> Vec<u8> {
    if headers.is_empty() {
        return format!("PUB {subject} {reply} {}\r\n{data}\r\n", data.len()).into_bytes();
    }
    let mut h = String::from("NATS/1.0\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    format!(
        "HPUB {subject} {reply} {} {}\r\n{h}{data}\r\n",
        h.len(),
        h.len() + data.len()
    )
    .into_bytes()
}

/// Reads frames on `c` until one with payload `marker` (included), timestamps normalised.
fn frames_until(c: &mut RawClient, marker: &str) -> Vec<Frame> {
    let mut out = Vec::new();
    loop {
        let f = without_time(read_frame(c));
        let done = f.payload == marker
            || f.headers
                .contains(&format!("Nats-Msg-Size: {}", marker.len()));
        out.push(f);
        if done {
            return out;
        }
    }
}

/// What the subscribers saw and what the API answered, for one server.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    acks: Vec<Frame>,
    republished: Vec<Frame>,
    headers_only: Vec<Frame>,
    transformed: Vec<Frame>,
    copies: Vec<Frame>,
    stored_subjects: Vec<String>,
    /// A republish another stream captured: its subject, decoded headers and payload there.
    captured: Frame,
}

fn create(c: &mut RawClient, config: Value) {
    let name = config["name"].as_str().unwrap().to_string();
    let r = request(c, &format!("$JS.API.STREAM.CREATE.{name}"), &config);
    assert!(r.get("error").is_none(), "create {name}: {r}");
}

fn run(target: Target) -> Transcript {
    let js = start(target, &[]);
    let mut api = js.server.raw();
    api.handshake(CONNECT);
    api.sync(b"SUB _r 99\r\nSUB ack 2\r\n");
    let mut sub = js.server.raw();
    sub.handshake(CONNECT);
    sub.sync(b"SUB rp.> 1\r\nSUB rp2 2\r\nSUB trp.> 3\r\nSUB mrp.> 4\r\nSUB srp.> 5\r\n");

    create(
        &mut api,
        json!({"name": "S", "subjects": ["s.>"], "republish": {"src": ">", "dest": "rp.>"}}),
    );
    let mut batch = Vec::new();
    batch.extend(hpub("s.a", "ack", &[], "hi"));
    batch.extend(hpub("s.a", "ack", &[("X-A", "1")], "hi"));
    batch.extend(hpub(
        "s.b",
        "ack",
        &[("X-A", "1"), ("Nats-Msg-Id", "m1")],
        "hi",
    ));
    batch.extend(hpub(
        "s.b",
        "ack",
        &[("X-A", "1"), ("Nats-Msg-Id", "m1")],
        "hi",
    ));
    batch.extend(hpub(
        "s.a",
        "ack",
        &[("Nats-Expected-Last-Sequence", "1")],
        "no",
    ));
    batch.extend(hpub("s.a", "ack", &[], ""));
    batch.extend(hpub("s.c", "ack", &[], "end1"));
    api.send(&batch);
    let acks: Vec<Frame> = (0..7).map(|_| read_frame(&mut api)).collect();
    let republished = frames_until(&mut sub, "end1");

    let r = request(
        &mut api,
        "$JS.API.STREAM.UPDATE.S",
        &json!({"name": "S", "subjects": ["s.>"],
                "republish": {"src": "s.a", "dest": "rp2", "headers_only": true}}),
    );
    assert!(r.get("error").is_none(), "update: {r}");
    api.send(&hpub("s.b", "", &[], "not republished"));
    api.send(&hpub("s.a", "", &[("X-B", "2")], "end2"));
    let headers_only = frames_until(&mut sub, "end2");

    create(
        &mut api,
        json!({"name": "T", "subjects": ["in.>", "u.*"],
               "subject_transform": {"src": "in.*", "dest": "t.$1"},
               "republish": {"src": "t.*", "dest": "trp.$1"}}),
    );
    api.send(&hpub("in.a", "", &[], "1"));
    api.send(&hpub("in.a.b", "", &[], "2"));
    api.send(&hpub("u.a", "", &[], "3"));
    api.send(&hpub(
        "in.a",
        "",
        &[("Nats-Expected-Last-Subject-Sequence", "1")],
        "end3",
    ));
    let transformed = frames_until(&mut sub, "end3");
    let mut stored_subjects = Vec::new();
    for seq in 1..=4 {
        let r = request(&mut api, "$JS.API.STREAM.MSG.GET.T", &json!({ "seq": seq }));
        stored_subjects.push(r["message"]["subject"].as_str().unwrap_or("-").to_string());
    }

    create(&mut api, json!({"name": "O", "subjects": ["o.>"]}));
    api.send(&hpub("o.x", "", &[], "before"));
    create(
        &mut api,
        json!({"name": "M", "mirror": {"name": "O"},
               "subject_transform": {"src": "o.>", "dest": "m.>"},
               "republish": {"src": ">", "dest": "mrp.>"}}),
    );
    // The mirror's copy first, then the source's (nats-server links them one at a time).
    let mut copies = frames_until(&mut sub, "before");
    create(
        &mut api,
        json!({"name": "SR", "sources": [{"name": "O"}],
               "subject_transform": {"src": "o.>", "dest": "sr.>"},
               "republish": {"src": ">", "dest": "srp.>"}}),
    );
    copies.extend(frames_until(&mut sub, "before"));
    api.send(&hpub("o.x", "", &[], "after"));
    let mut after = vec![
        frames_until(&mut sub, "after"),
        frames_until(&mut sub, "after"),
    ];
    // Both copies of the same message: their relative order is not a guarantee of either.
    after.sort_by(|a, b| a[0].subject.cmp(&b[0].subject));
    copies.extend(after.into_iter().flatten());
    // The source's header names the origin's creation hash, which differs per run.
    for f in &mut copies {
        if let Some(at) = f.headers.find("Nats-Stream-Source: ") {
            let end = at + f.headers[at..].find("\r\n").unwrap();
            let line = &f.headers[at..end];
            let kept = line.rsplit_once(' ').map(|(k, _)| k.to_string()).unwrap();
            f.headers.replace_range(at..end, &format!("{kept} <ident>"));
        }
    }
    // A republish is a core publish: a stream whose subjects take its destination stores it.
    create(&mut api, json!({"name": "AUD", "subjects": ["arp.>"]}));
    create(
        &mut api,
        json!({"name": "S2", "subjects": ["s2.>"], "republish": {"src": ">", "dest": "arp.>"}}),
    );
    api.send(&hpub("s2.a", "", &[], "audited"));
    let captured = stored_message(&mut api, "AUD", 1);
    Transcript {
        captured,
        acks,
        republished,
        headers_only,
        transformed,
        copies,
        stored_subjects,
    }
}

/// Message `seq` of `stream` (MSG.GET, repeated while nats-server's internal queue has not
/// stored it yet), as a frame with its headers decoded and its timestamp normalised.
fn stored_message(c: &mut RawClient, stream: &str, seq: u64) -> Frame {
    use base64::Engine;
    let deadline = Instant::now() + FRAME_MAX;
    loop {
        let r = request(
            c,
            &format!("$JS.API.STREAM.MSG.GET.{stream}"),
            &json!({ "seq": seq }),
        );
        if let Some(m) = r.get("message") {
            let b64 = |k: &str| {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(m[k].as_str().unwrap_or(""))
                    .expect("base64");
                String::from_utf8_lossy(&raw).into_owned()
            };
            return without_time(Frame {
                subject: m["subject"].as_str().unwrap_or("").to_string(),
                reply: String::new(),
                headers: b64("hdrs"),
                payload: b64("data"),
            });
        }
        assert!(
            Instant::now() < deadline,
            "{stream} {seq} never stored: {r}"
        );
    }
}

#[test]
fn republished_messages_match_nats_server_frame_by_frame() {
    let reference = run(Target::Reference);
    // What nats-server did, so a natrix that republishes nothing cannot pass by agreeing.
    assert_eq!(reference.republished.len(), 5, "{reference:#?}");
    assert_eq!(reference.copies.len(), 4, "{reference:#?}");
    assert!(
        reference.captured.headers.contains("Nats-Stream: S2\r\n"),
        "{reference:#?}"
    );
    for shards in [1, 3] {
        let natrix = run(Target::Natrix(shards));
        assert_eq!(natrix.acks, reference.acks, "acks, {shards} shard(s)");
        assert_eq!(
            natrix.republished, reference.republished,
            "{shards} shard(s)"
        );
        assert_eq!(
            natrix.headers_only, reference.headers_only,
            "{shards} shard(s)"
        );
        assert_eq!(
            natrix.transformed, reference.transformed,
            "{shards} shard(s)"
        );
        assert_eq!(natrix.stored_subjects, reference.stored_subjects);
        assert_eq!(natrix.copies, reference.copies, "{shards} shard(s)");
        assert_eq!(natrix.captured, reference.captured, "{shards} shard(s)");
    }
}

/// The configs both servers must refuse or normalise, and their replies' error or config.
fn config_replies(target: Target) -> Vec<Value> {
    let js = start(target, &[]);
    let mut api = js.server.raw();
    api.handshake(CONNECT);
    api.sync(b"SUB _r 99\r\n");
    let configs = [
        json!({"republish": {"src": "s.a", "dest": "s.b"}}),
        json!({"republish": {"src": ">", "dest": ">"}}),
        json!({"republish": {"src": "s.*", "dest": "rp.{{wildcard(2)}}"}}),
        json!({"republish": {"src": "s.a", "dest": "rp.*"}}),
        json!({"republish": {"src": ">", "dest": ">"},
               "subject_transform": {"src": "s.>", "dest": "t.>"}}),
        json!({"republish": {"dest": "rp.>"}}),
        json!({"subject_transform": {"src": "s..*", "dest": "t"}}),
        json!({"subject_transform": {"src": "s.*", "dest": "t.$2"}}),
        json!({"subject_transform": {"src": "s.*", "dest": "t.{{bad(1)}}"}}),
        json!({"subject_transform": {"src": "s.*", "dest": "t.>"}}),
        json!({"subject_transform": {"src": "", "dest": "t.>"}}),
    ];
    let mut out = Vec::new();
    for (i, extra) in configs.iter().enumerate() {
        for pedantic in [false, true] {
            let name = format!("C{i}{}", if pedantic { "p" } else { "" });
            let mut body = json!({"name": name, "subjects": ["s.>"]});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            if pedantic {
                body["pedantic"] = json!(true);
            }
            let r = request(&mut api, &format!("$JS.API.STREAM.CREATE.{name}"), &body);
            out.push(match r.get("error") {
                Some(e) => json!({"error": e}),
                None => json!({
                    "republish": r["config"]["republish"],
                    "subject_transform": r["config"]["subject_transform"],
                }),
            });
        }
    }
    out
}

#[test]
fn config_checks_give_nats_servers_errors() {
    let reference = config_replies(Target::Reference);
    assert!(
        reference
            .iter()
            .filter(|r| r.get("error").is_some())
            .count()
            >= 10,
        "{reference:#?}"
    );
    assert_eq!(config_replies(Target::Natrix(1)), reference);
}

/// `-c FILE` with `jetstream { store_dir: DIR, sync_interval: always }`.
fn start_sync_always() -> (TestServer, TempDir) {
    let store = TempDir::new("republish-sync");
    let conf = store.write(
        "js.conf",
        &format!(
            "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
            store.path.join("js").display()
        ),
    );
    (TestServer::start_with(3, &["-c", &conf]), store)
}

async fn subscriber_reads_republished_headers(url: String) {
    use async_nats::jetstream::{self, stream};
    use futures::StreamExt;
    let client = async_nats::connect(&url).await.expect("connects");
    let watcher = async_nats::connect(&url).await.expect("connects");
    let mut sub = watcher.subscribe("rp.>").await.expect("subscribes");
    watcher.flush().await.expect("flush");
    let ctx = jetstream::new(client);
    ctx.create_stream(stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        subject_transform: Some(stream::SubjectTransform {
            source: "orders.*".into(),
            destination: "o.$1".into(),
        }),
        republish: Some(stream::Republish {
            source: "o.*".into(),
            destination: "rp.$1".into(),
            headers_only: false,
        }),
        ..Default::default()
    })
    .await
    .expect("stream created");
    for (i, who) in ["eu", "us", "eu"].iter().enumerate() {
        let ack = ctx
            .publish(format!("orders.{who}"), format!("order {i}").into())
            .await
            .expect("published")
            .await
            .expect("acked");
        let m = tokio::time::timeout(FRAME_MAX, sub.next())
            .await
            .expect("republished in time")
            .expect("subscription open");
        assert_eq!(m.subject.as_str(), format!("rp.{who}"));
        assert_eq!(m.payload, format!("order {i}").as_bytes());
        let h = m.headers.expect("headers");
        let get = |k: &str| h.get(k).map(|v| v.as_str().to_string());
        assert_eq!(get("Nats-Stream").as_deref(), Some("ORDERS"));
        assert_eq!(get("Nats-Subject"), Some(format!("o.{who}")));
        assert_eq!(get("Nats-Sequence"), Some(ack.sequence.to_string()));
        let last = if i == 2 { "1" } else { "0" };
        assert_eq!(get("Nats-Last-Sequence").as_deref(), Some(last));
        assert!(get("Nats-Time-Stamp").is_some_and(|t| t.ends_with('Z')));
    }
}

#[tokio::test]
async fn async_nats_subscriber_gets_republished_messages_across_shards() {
    let js = start(Target::Natrix(3), &[]);
    subscriber_reads_republished_headers(js.server.url()).await;
}

#[tokio::test]
async fn async_nats_subscriber_gets_republished_messages_with_sync_interval_always() {
    let (server, _store) = start_sync_always();
    subscriber_reads_republished_headers(server.url()).await;
}
