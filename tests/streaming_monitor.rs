//! The `/streaming/` monitoring pages on a running natrix (`-cid test-cluster -m <port>`),
//! driven by a STAN client built here from `natrix::stan::proto` over a raw NATS socket
//! (node-nats-streaming is not in tests/js; there is no reference nats-streaming-server
//! binary here, so the expectations come from its `server/monitor.go`, see
//! `src/monitor/streaming.rs`).
//!
//! The client `me` connects, publishes three messages on `foo`, subscribes to `foo` as the
//! durable `dur` from the first message and leaves all three unacked, and joins the queue
//! group `workers` on `bar`; each page must then say so. natrix runs with 1 and 2 shards, so
//! the pages are gathered from shard 0 also when the client's socket is on another shard.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use natrix::stan::proto::{
    self, CloseRequest, CloseResponse, ConnectRequest, ConnectResponse, MsgProto, PubAck, PubMsg,
    SubscriptionRequest, SubscriptionResponse,
};
use serde_json::Value;

use common::ops::{free_port, http_get, HttpReply};
use common::TestServer;

const READ_MAX: Duration = Duration::from_secs(10);
const PAYLOADS: [&str; 3] = ["one", "two", "three"];

/// A NATS connection that reads `MSG` frames.
struct Nats {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Nats {
    fn connect(addr: &str) -> Nats {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let mut n = Nats { s, buf: Vec::new() };
        n.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nPING\r\n");
        n.until(b"PONG\r\n");
        n
    }

    fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("write");
    }

    fn publish(&mut self, subject: &str, reply: &str, payload: &[u8]) {
        let mut b = format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes();
        b.extend_from_slice(payload);
        b.extend_from_slice(b"\r\n");
        self.send(&b);
    }

    fn fill(&mut self, deadline: Instant) {
        let mut chunk = [0u8; 8192];
        assert!(
            Instant::now() < deadline,
            "timed out; have {:?}",
            self.text()
        );
        match self.s.read(&mut chunk) {
            Ok(0) => panic!("closed; have {:?}", self.text()),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    fn until(&mut self, end: &[u8]) {
        let deadline = Instant::now() + READ_MAX;
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                self.buf.drain(..i + end.len());
                return;
            }
            self.fill(deadline);
        }
    }

    /// The next `MSG`: its subject and payload (PINGs are answered, other lines skipped).
    fn next_msg(&mut self) -> (String, Vec<u8>) {
        let deadline = Instant::now() + READ_MAX;
        loop {
            if let Some(eol) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
                if line == "PING" {
                    self.buf.drain(..eol + 2);
                    self.send(b"PONG\r\n");
                    continue;
                }
                if !line.starts_with("MSG ") {
                    self.buf.drain(..eol + 2);
                    continue;
                }
                let parts: Vec<&str> = line.split(' ').collect();
                let len: usize = parts.last().and_then(|n| n.parse().ok()).expect("length");
                if self.buf.len() >= eol + 2 + len + 2 {
                    let payload = self.buf[eol + 2..eol + 2 + len].to_vec();
                    self.buf.drain(..eol + 2 + len + 2);
                    return (parts[1].to_string(), payload);
                }
            }
            self.fill(deadline);
        }
    }

    /// Publishes a request and decodes its reply (on `_INBOX.r.<tag>`).
    fn request<R: prost::Message + Default>(&mut self, subject: &str, tag: &str, body: &[u8]) -> R {
        let reply = format!("_INBOX.r.{tag}");
        self.publish(subject, &reply, body);
        let (subject, payload) = self.next_msg();
        assert_eq!(subject, reply, "a reply to {tag} first");
        proto::decode(&payload).expect("a decodable reply")
    }
}

fn get(port: u16, path: &str) -> Value {
    let r = http_get(port, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    r.json()
}

fn start(shards: usize, streaming: bool) -> (TestServer, u16) {
    for attempt in 1..=3 {
        let http = free_port();
        let port = http.to_string();
        let mut flags = vec!["-m", port.as_str()];
        if streaming {
            flags.extend_from_slice(&["-cid", "test-cluster"]);
        }
        match std::panic::catch_unwind(|| TestServer::start_with(shards, &flags)) {
            Ok(s) => return (s, http),
            Err(e) if attempt == 3 => std::panic::resume_unwind(e),
            Err(_) => eprintln!("start failed; trying another port"),
        }
    }
    unreachable!("the loop returns or panics")
}

/// The scenario of this file's doc, from a fresh connection; returns it and the subject
/// close requests go to.
fn drive(addr: &str) -> (Nats, String) {
    let mut n = Nats::connect(addr);
    n.send(b"SUB _INBOX.r.* 1\r\nSUB _INBOX.hb.me 2\r\nSUB _INBOX.d.* 3\r\nPING\r\n");
    n.until(b"PONG\r\n");
    let cr: ConnectResponse = n.request(
        "_STAN.discover.test-cluster",
        "connect",
        &proto::encode(&ConnectRequest {
            client_id: "me".into(),
            heartbeat_inbox: "_INBOX.hb.me".into(),
            protocol: 1,
            conn_id: b"conn-me".to_vec(),
            ping_interval: 5,
            ping_max_out: 3,
        }),
    );
    assert_eq!(cr.error, "");
    for (i, data) in PAYLOADS.iter().enumerate() {
        let ack: PubAck = n.request(
            &format!("{}.foo", cr.pub_prefix),
            &format!("pub{i}"),
            &proto::encode(&PubMsg {
                client_id: "me".into(),
                guid: format!("guid-{i}"),
                subject: "foo".into(),
                reply: String::new(),
                data: data.as_bytes().to_vec(),
                conn_id: b"conn-me".to_vec(),
                ..Default::default()
            }),
        );
        assert_eq!(ack.error, "", "publish {i}");
    }
    let sub = |subject: &str, inbox: &str, queue: &str, durable: &str, start: i32| {
        proto::encode(&SubscriptionRequest {
            client_id: "me".into(),
            subject: subject.into(),
            q_group: queue.into(),
            inbox: inbox.into(),
            max_in_flight: 10,
            ack_wait_in_secs: 30,
            durable_name: durable.into(),
            start_position: start,
            ..Default::default()
        })
    };
    // start_position 4: from the first message; 0: new ones only.
    let r: SubscriptionResponse = n.request(
        &cr.sub_requests,
        "sub1",
        &sub("foo", "_INBOX.d.1", "", "dur", 4),
    );
    assert_eq!(r.error, "");
    for want in 1..=3 {
        let (subject, payload) = n.next_msg();
        assert_eq!(subject, "_INBOX.d.1");
        let m: MsgProto = proto::decode(&payload).expect("MsgProto");
        assert_eq!(m.sequence, want);
    }
    let r: SubscriptionResponse = n.request(
        &cr.sub_requests,
        "sub2",
        &sub("bar", "_INBOX.d.2", "workers", "", 0),
    );
    assert_eq!(r.error, "");
    (n, cr.close_requests)
}

fn check_pages(http: u16) {
    let serverz = get(http, "/streaming/serverz");
    assert_eq!(serverz["cluster_id"], "test-cluster");
    assert_eq!(serverz["state"], "STANDALONE");
    for (k, v) in [
        ("clients", 1),
        ("channels", 2),
        ("subscriptions", 2),
        ("total_msgs", 3),
        ("in_msgs", 3),
        ("in_bytes", 11),
        ("out_msgs", 3),
    ] {
        assert_eq!(serverz[k], v, "serverz {k}: {serverz}");
    }
    assert!(serverz["out_bytes"].as_u64().unwrap() > 11, "{serverz}");
    assert!(serverz["open_fds"].as_u64().unwrap() > 0, "{serverz}");

    let storez = get(http, "/streaming/storez");
    assert_eq!(storez["type"], "MEMORY");
    assert_eq!(storez["total_msgs"], 3);
    assert_eq!(storez["total_bytes"], serverz["total_bytes"]);
    assert_eq!(storez["limits"]["max_channels"], 100);

    let clients = get(http, "/streaming/clientsz?subs=1");
    assert_eq!(
        (clients["total"].clone(), clients["count"].clone()),
        (1.into(), 1.into())
    );
    let me = &clients["clients"][0];
    assert_eq!(me["id"], "me");
    assert_eq!(me["hb_inbox"], "_INBOX.hb.me");
    assert_eq!(me["subs_count"], 2);
    let dur = &me["subscriptions"]["foo"][0];
    assert_eq!(dur["durable_name"], "dur");
    assert_eq!(dur["is_durable"], true);
    assert_eq!(dur["inbox"], "_INBOX.d.1");
    assert_eq!(dur["pending_count"], 3, "three unacked: {dur}");
    assert_eq!(dur["last_sent"], 3);
    assert_eq!(dur["max_inflight"], 10);
    assert_eq!(dur["ack_wait"], 30);
    assert_eq!(me["subscriptions"]["bar"][0]["queue_name"], "workers");
    let one = get(http, "/streaming/clientsz?client=me");
    assert_eq!(one["subs_count"], 2);
    assert!(one.get("subscriptions").is_none());

    let names = get(http, "/streaming/channelsz");
    assert_eq!(names["names"], serde_json::json!(["bar", "foo"]));
    let channel = get(http, "/streaming/channelsz?channel=foo&subs=1");
    for (k, v) in [
        ("msgs", 3),
        ("first_seq", 1),
        ("last_seq", 3),
        ("subs_count", 1),
    ] {
        assert_eq!(channel[k], v, "channel foo {k}: {channel}");
    }
    assert_eq!(channel["subscriptions"][0]["client_id"], "me");
    let paged = get(http, "/streaming/channelsz?subs=1&offset=1&limit=1");
    assert_eq!(paged["channels"][0]["name"], "foo");
    assert_eq!(paged["total"], 2);

    let missing: HttpReply = http_get(http, "/streaming/clientsz?client=nope");
    assert_eq!(
        (missing.status, missing.text()),
        (404, "Client nope not found\n".into())
    );
    let ft = http_get(http, "/streaming/isFTActive");
    assert_eq!((ft.status, ft.body.len()), (204, 0));
}

#[test]
fn streaming_pages_report_the_clients_channels_and_subscriptions_of_a_stan_client() {
    for shards in [1, 2] {
        let (server, http) = start(shards, true);
        let (mut client, close) = drive(&server.addr());
        check_pages(http);

        // Closed: the durable stays, offline, under the client ID it had; the queue member
        // (not durable) goes.
        let body = proto::encode(&CloseRequest {
            client_id: "me".into(),
        });
        let r: CloseResponse = client.request(&close, "close", &body);
        assert_eq!(r.error, "");
        let serverz = get(http, "/streaming/serverz");
        assert_eq!(
            (serverz["clients"].clone(), serverz["subscriptions"].clone()),
            (0.into(), 1.into()),
            "{serverz}"
        );
        let clients = get(http, "/streaming/clientsz");
        assert_eq!(clients["clients"], serde_json::json!([]));
        let channel = get(http, "/streaming/channelsz?channel=foo&subs=1");
        let dur = &channel["subscriptions"][0];
        assert_eq!(dur["is_offline"], true, "{channel}");
        assert_eq!(dur["client_id"], "me", "{channel}");
        assert_eq!(dur["durable_name"], "dur", "{channel}");
    }
}

#[test]
fn streaming_pages_are_not_found_without_streaming() {
    let (_server, http) = start(1, false);
    for p in [
        "/streaming/serverz",
        "/streaming/clientsz",
        "/streaming/isFTActive",
    ] {
        let r = http_get(http, p);
        assert_eq!(
            (r.status, r.text()),
            (404, "404 page not found\n".into()),
            "{p}"
        );
    }
}
