//! NATS Streaming on the wire, with a raw NATS client and hand-encoded protobuf: what
//! node-nats-streaming 0.3.x sends (stan-protocol.md §8) and the exact bytes natrix answers,
//! checked against the reference's sections (there is no nats-streaming-server binary here to
//! compare with). Each test starts its own natrix (`-cid test-cluster`) and stops it.

mod common;
#[path = "stan_clients/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use common::RawClient;
use harness::{Scene, CLUSTER_ID};

/// A connID as the clients make it: 22 ASCII bytes (a NUID).
const CONN_ID: &[u8] = b"CONNIDCONNIDCONNID0001";

// ---------------------------------------------------------------------------------------------
// Tests

/// §3.1 step 5 and §1 ConnectResponse: a protocol-1 ConnectRequest gets the six request
/// subjects (non-empty, distinct), the ping subject, protocol 1, and the client's ping
/// interval and max-out echoed; no error.
#[test]
fn connect_response_has_every_subject_and_echoes_the_ping_settings() {
    let scene = Scene::start(1, &[]);
    let mut c = client(&scene);
    let resp = connect(&mut c, "raw-1", 7, 4);
    println!("ConnectResponse fields: {resp:?}");
    for (field, name) in [
        (1, "pubPrefix"),
        (2, "subRequests"),
        (3, "unsubRequests"),
        (4, "closeRequests"),
        (6, "subCloseRequests"),
        (7, "pingRequests"),
    ] {
        assert!(
            !string(&resp, field).is_empty(),
            "{name} (field {field}) is empty: {resp:?}"
        );
    }
    let mut subjects: Vec<String> = [1, 2, 3, 4, 6, 7].map(|f| string(&resp, f)).to_vec();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 6, "distinct subjects: {resp:?}");
    assert_eq!(string(&resp, 5), "", "no error");
    assert_eq!(varint(&resp, 8), 7, "pingInterval echoed");
    assert_eq!(varint(&resp, 9), 4, "pingMaxOut echoed");
    assert_eq!(varint(&resp, 10), 1, "protocol 1");
}

/// §3.4: a Ping with the connID of a registered client gets a zero-length reply; one with an
/// unknown connID gets PingResponse{error: "client has been replaced or is no longer
/// registered"}; an empty ping gets nothing.
#[test]
fn pings_are_answered_by_conn_id() {
    let scene = Scene::start(1, &[]);
    let mut c = client(&scene);
    let resp = connect(&mut c, "raw-ping", 5, 3);
    let pings = string(&resp, 7);

    let ping = field_bytes(1, CONN_ID);
    c.send(&publish(&pings, "_INBOX.pong", &ping));
    c.expect(b"MSG _INBOX.pong 1 0\r\n\r\n");

    let stranger = field_bytes(1, b"NOTACLIENTNOTACLIENT00");
    c.send(&publish(&pings, "_INBOX.pong", &stranger));
    let want = field_bytes(1, b"client has been replaced or is no longer registered");
    c.expect(&msg("_INBOX.pong", 1, &want));

    c.send(&publish(&pings, "_INBOX.pong", b""));
    c.expect_nothing(Duration::from_millis(500));
}

/// §3.2 and §7, on the wire: a second ConnectRequest for a client id whose first client
/// answers its heartbeat inbox gets ConnectResponse{error: "stan: clientID already
/// registered"} (field 5, nothing else).
#[test]
fn duplicate_client_id_gets_the_exact_error_bytes() {
    let scene = Scene::start(1, &[]);
    let mut first = client(&scene);
    connect(&mut first, "raw-dup", 5, 3);
    // The first client answers heartbeats (and the duplicate probe) on its own thread.
    let mut hb = first.stream.try_clone().expect("clone");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_hb = std::sync::Arc::clone(&stop);
    let answerer = std::thread::spawn(move || answer_heartbeats(&mut hb, &stop_hb));

    let mut second = client_with_hb(&scene, "_INBOX.hb2");
    let req = connect_request("raw-dup", "_INBOX.hb2", 5, 3);
    second.send(&publish(
        &format!("_STAN.discover.{CLUSTER_ID}"),
        "_INBOX.r2.1",
        &req,
    ));
    let want = field_bytes(5, b"stan: clientID already registered");
    second.expect(&msg("_INBOX.r2.1", 10, &want));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = answerer.join();
}

/// §3.2: when the registered client does not answer the duplicate probe on its heartbeat
/// inbox (its connection is up, it just stays silent), the new ConnectRequest for its id
/// succeeds; the old client is then dead on the server: its pings get "client has been
/// replaced or is no longer registered" and its publishes "stan: invalid publish request".
#[test]
fn silent_client_is_replaced_by_a_new_connect_with_its_id() {
    let scene = Scene::start(1, &[]);
    let mut old = client(&scene);
    let resp = connect(&mut old, "raw-replaced", 5, 3);
    let pings = string(&resp, 7);
    let prefix = string(&resp, 1);

    let mut new = client_with_hb(&scene, "_INBOX.hb2");
    let req = connect_request_with(
        "raw-replaced",
        b"CONNIDCONNIDCONNID0002",
        "_INBOX.hb2",
        5,
        3,
    );
    let asked = Instant::now();
    new.send(&publish(
        &format!("_STAN.discover.{CLUSTER_ID}"),
        "_INBOX.r1.again",
        &req,
    ));
    let payload = read_msg(&mut new, "_INBOX.r1.again");
    let took = asked.elapsed();
    let fields = decode(&payload).unwrap_or_else(|| panic!("ConnectResponse {payload:?}"));
    assert_eq!(
        string(&fields, 5),
        "",
        "the new client is accepted: {fields:?}"
    );
    println!(
        "replaced after {} ms (nats-streaming-server: a 500 ms probe)",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");

    // The old client saw the probe on its heartbeat inbox and did not answer.
    let seen = String::from_utf8_lossy(&old.read_for(Duration::from_millis(100))).into_owned();
    assert!(
        seen.contains("MSG _INBOX.hb 8 "),
        "the probe went to the old hb inbox: {seen:?}"
    );

    old.send(&publish(&pings, "_INBOX.pong", &field_bytes(1, CONN_ID)));
    let want = field_bytes(1, b"client has been replaced or is no longer registered");
    old.expect(&msg("_INBOX.pong", 1, &want));

    old.sync(b"SUB _STAN.acks.old 2\r\n");
    let mut pub_msg = field_bytes(1, b"raw-replaced");
    pub_msg.extend(field_bytes(2, b"GUID0000000000000000r1"));
    pub_msg.extend(field_bytes(3, b"ticket:created"));
    pub_msg.extend(field_bytes(5, b"late"));
    pub_msg.extend(field_bytes(6, CONN_ID));
    old.send(&publish(
        &format!("{prefix}.ticket:created"),
        "_STAN.acks.old",
        &pub_msg,
    ));
    let mut want = field_bytes(1, b"GUID0000000000000000r1");
    want.extend(field_bytes(2, b"stan: invalid publish request"));
    old.expect(&msg("_STAN.acks.old", 2, &want));
}

/// §3.5 and §7: CloseRequest for a registered client gets an empty CloseResponse; a second
/// one gets CloseResponse{error: "stan: unknown clientID"}.
#[test]
fn close_request_answers_empty_then_unknown_client_id() {
    let scene = Scene::start(1, &[]);
    let mut c = client(&scene);
    let resp = connect(&mut c, "raw-close", 5, 3);
    let close = string(&resp, 4);
    let req = field_bytes(1, b"raw-close");
    c.send(&publish(&close, "_INBOX.r1.close1", &req));
    c.expect(b"MSG _INBOX.r1.close1 9 0\r\n\r\n");
    c.send(&publish(&close, "_INBOX.r1.close2", &req));
    c.expect(&msg(
        "_INBOX.r1.close2",
        9,
        &field_bytes(1, b"stan: unknown clientID"),
    ));
}

/// §4.2 and §7: SubscriptionRequests with bad values get SubscriptionResponse{error} (field
/// 3) with nats-streaming-server's exact texts, checked in its validation order.
#[test]
fn bad_subscription_requests_get_the_exact_errors() {
    let scene = Scene::start(1, &[]);
    let mut c = client(&scene);
    let resp = connect(&mut c, "raw-sub", 5, 3);
    let subs = string(&resp, 2);
    let ok = |f: &mut Vec<u8>| {
        f.extend(field_bytes(1, b"raw-sub"));
        f.extend(field_bytes(2, b"ticket:created"));
        f.extend(field_bytes(4, b"_INBOX.deliver"));
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0xff], "stan: invalid subscription request"),
        (
            {
                let mut f = field_bytes(2, b"ticket:created");
                f.extend(field_varint(5, 10));
                f.extend(field_varint(6, 30));
                f
            },
            "stan: clientID missing",
        ),
        (
            {
                let mut f = Vec::new();
                ok(&mut f);
                f.extend(field_varint(5, 10));
                f
            },
            "stan: invalid ack wait time, should be >= 1s",
        ),
        (
            {
                let mut f = Vec::new();
                ok(&mut f);
                f.extend(field_varint(6, 30));
                f
            },
            "stan: invalid MaxInflight, should be >= 1",
        ),
        (
            {
                let mut f = Vec::new();
                ok(&mut f);
                f.extend(field_varint(5, 10));
                f.extend(field_varint(6, 30));
                f.extend(field_varint(10, 7));
                f
            },
            "stan: invalid start position",
        ),
        (
            {
                let mut f = field_bytes(1, b"raw-sub");
                f.extend(field_bytes(2, b"foo.*"));
                f.extend(field_bytes(4, b"_INBOX.deliver"));
                f.extend(field_varint(5, 10));
                f.extend(field_varint(6, 30));
                f
            },
            "stan: invalid subject",
        ),
        (
            {
                let mut f = field_bytes(1, b"nobody");
                f.extend(field_bytes(2, b"ticket:created"));
                f.extend(field_bytes(4, b"_INBOX.deliver"));
                f.extend(field_varint(5, 10));
                f.extend(field_varint(6, 30));
                f
            },
            "stan: unknown clientID",
        ),
        (
            {
                let mut f = Vec::new();
                ok(&mut f);
                f.extend(field_bytes(3, b"q"));
                f.extend(field_varint(5, 10));
                f.extend(field_varint(6, 30));
                f.extend(field_bytes(7, b"a:b"));
                f
            },
            "stan: durable name of a durable queue subscriber can't contain the character ':'",
        ),
    ];
    for (n, (req, text)) in cases.iter().enumerate() {
        let reply = format!("_INBOX.r1.bad{n}");
        c.send(&publish(&subs, &reply, req));
        c.expect(&msg(&reply, 9, &field_bytes(3, text.as_bytes())));
    }
}

/// §8 steps 5–6 and §7: a PubMsg with the client's connID gets PubAck{guid}; one with an empty
/// guid, or from an unknown client, gets PubAck{error: "stan: invalid publish request"}.
#[test]
fn pub_acks_carry_the_guid_or_the_exact_error() {
    let scene = Scene::start(1, &[]);
    let mut c = client(&scene);
    let resp = connect(&mut c, "raw-pub", 5, 3);
    let prefix = string(&resp, 1);
    c.sync(b"SUB _STAN.acks.raw 2\r\n");
    let subject = format!("{prefix}.ticket:created");
    let pub_msg = |client: &[u8], guid: &[u8]| {
        let mut f = field_bytes(1, client);
        f.extend(field_bytes(2, guid));
        f.extend(field_bytes(3, b"ticket:created"));
        f.extend(field_bytes(5, b"hello"));
        f.extend(field_bytes(
            6,
            if client == b"raw-pub" { CONN_ID } else { b"" },
        ));
        f
    };
    c.send(&publish(
        &subject,
        "_STAN.acks.raw",
        &pub_msg(b"raw-pub", b"GUID0000000000000000g1"),
    ));
    c.expect(&msg(
        "_STAN.acks.raw",
        2,
        &field_bytes(1, b"GUID0000000000000000g1"),
    ));
    let invalid = b"stan: invalid publish request";
    c.send(&publish(
        &subject,
        "_STAN.acks.raw",
        &pub_msg(b"raw-pub", b""),
    ));
    c.expect(&msg("_STAN.acks.raw", 2, &field_bytes(2, invalid)));
    c.send(&publish(
        &subject,
        "_STAN.acks.raw",
        &pub_msg(b"nobody", b"GUID0000000000000000g3"),
    ));
    let mut want = field_bytes(1, b"GUID0000000000000000g3");
    want.extend(field_bytes(2, invalid));
    c.expect(&msg("_STAN.acks.raw", 2, &want));
}

// ---------------------------------------------------------------------------------------------
// The raw client

/// A raw NATS client on `scene` subscribed to its heartbeat inbox (sid 8, never answered
/// unless a test does), request muxes `_INBOX.r1.*` (sid 9) and `_INBOX.r2.*` (sid 10), and
/// a ping inbox `_INBOX.pong` (sid 1).
fn client(scene: &Scene) -> RawClient {
    client_with_hb(scene, "_INBOX.hb")
}

fn client_with_hb(scene: &Scene, hb_inbox: &str) -> RawClient {
    let mut c = RawClient::connect(&format!("127.0.0.1:{}", scene.port));
    c.read_info();
    c.handshake(common::CONNECT_QUIET);
    c.sync(format!("SUB {hb_inbox} 8\r\n").as_bytes());
    c.sync(b"SUB _INBOX.r1.* 9\r\nSUB _INBOX.r2.* 10\r\nSUB _INBOX.pong 1\r\n");
    c
}

/// Sends a protocol-1 ConnectRequest for `client_id` and returns the decoded response fields
/// after checking it carries no error.
fn connect(c: &mut RawClient, client_id: &str, ping_s: u64, ping_max: u64) -> Vec<(u32, Field)> {
    let req = connect_request(client_id, "_INBOX.hb", ping_s, ping_max);
    c.send(&publish(
        &format!("_STAN.discover.{CLUSTER_ID}"),
        "_INBOX.r1.connect",
        &req,
    ));
    let payload = read_msg(c, "_INBOX.r1.connect");
    let fields = decode(&payload).unwrap_or_else(|| panic!("ConnectResponse {payload:?}"));
    assert_eq!(string(&fields, 5), "", "ConnectResponse error");
    fields
}

fn connect_request(client_id: &str, hb_inbox: &str, ping_s: u64, ping_max: u64) -> Vec<u8> {
    connect_request_with(client_id, CONN_ID, hb_inbox, ping_s, ping_max)
}

fn connect_request_with(
    client_id: &str,
    conn_id: &[u8],
    hb_inbox: &str,
    ping_s: u64,
    ping_max: u64,
) -> Vec<u8> {
    let mut f = field_bytes(1, client_id.as_bytes());
    f.extend(field_bytes(2, hb_inbox.as_bytes()));
    f.extend(field_varint(3, 1));
    f.extend(field_bytes(4, conn_id));
    f.extend(field_varint(5, ping_s));
    f.extend(field_varint(6, ping_max));
    f
}

/// Reads one `MSG <subject> <sid> <n>` and returns its payload.
fn read_msg(c: &mut RawClient, subject: &str) -> Vec<u8> {
    let line = c.read_line();
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert!(
        parts.first() == Some(&"MSG") && parts.get(1) == Some(&subject),
        "want MSG {subject}, got {line:?}"
    );
    let n: usize = parts.last().and_then(|x| x.parse().ok()).expect("size");
    let mut payload = Vec::new();
    let deadline = Instant::now() + common::EXPECT_TIMEOUT;
    while payload.len() < n + 2 && Instant::now() < deadline {
        payload.extend(c.read_for(Duration::from_millis(50)));
    }
    assert!(payload.len() >= n + 2, "short payload {payload:?}");
    payload.truncate(n);
    payload
}

/// Answers every MSG with a reply subject on `stream` with an empty PUB, until `stop`.
fn answer_heartbeats(stream: &mut std::net::TcpStream, stop: &std::sync::atomic::AtomicBool) {
    use std::io::{Read, Write};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .ok();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if let Ok(k) = stream.read(&mut chunk) {
            if k == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..k]);
        }
        while let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.drain(..i + 2);
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() == Some(&"MSG")
                && parts.get(1) == Some(&"_INBOX.hb")
                && parts.len() == 5
            {
                let _ = stream.write_all(format!("PUB {} 0\r\n\r\n", parts[3]).as_bytes());
            }
        }
    }
}

fn publish(subject: &str, reply: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

fn msg(subject: &str, sid: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("MSG {subject} {sid} {}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

// ---------------------------------------------------------------------------------------------
// Protobuf, by hand (the wire format of §1)

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(field: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, (u64::from(field) << 3) | 2);
    put_varint(&mut out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn field_varint(field: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, u64::from(field) << 3);
    put_varint(&mut out, v);
    out
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// The fields of a message with only varint and length-delimited fields; None if malformed.
fn decode(bytes: &[u8]) -> Option<Vec<(u32, Field)>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = get_varint(bytes, &mut at)?;
        let field = u32::try_from(key >> 3).ok()?;
        match key & 7 {
            0 => out.push((field, Field::Varint(get_varint(bytes, &mut at)?))),
            2 => {
                let n = usize::try_from(get_varint(bytes, &mut at)?).ok()?;
                let v = bytes.get(at..at.checked_add(n)?)?.to_vec();
                at += n;
                out.push((field, Field::Bytes(v)));
            }
            _ => return None,
        }
    }
    Some(out)
}

fn string(fields: &[(u32, Field)], field: u32) -> String {
    fields
        .iter()
        .find_map(|(f, v)| match v {
            Field::Bytes(b) if *f == field => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

fn varint(fields: &[(u32, Field)], field: u32) -> u64 {
    fields
        .iter()
        .find_map(|(f, v)| match v {
            Field::Varint(x) if *f == field => Some(*x),
            _ => None,
        })
        .unwrap_or_default()
}
