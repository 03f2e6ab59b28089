//! Pull requests on the wire (issue 11): raw `PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`
//! on a socket, and the exact bytes that come back to the request's inbox: `404 No Messages`,
//! `408 Request Timeout` with `Nats-Pending-Messages` / `Nats-Pending-Bytes`, the 409s
//! (`Exceeded MaxWaiting`, `Message Size Exceeds MaxBytes`, `Exceeded MaxRequestBatch of N`,
//! `Consumer Deleted`, `Consumer is push based`), `100 Idle Heartbeat` with
//! `Nats-Last-Consumer` / `Nats-Last-Stream`, `400 Bad Request - heartbeat value too large`,
//! and the `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` reply
//! subject with each number checked.
//!
//! Every status frame is compared byte for byte, whole (`HMSG` line, header block, empty
//! body); only the store timestamp in an ack subject varies, and it is checked to lie between
//! the wall-clock times around its publish. Each test starts its own server with
//! `-js -sd <tempdir>` (natrix, or nats-server with `NATRIX_TEST_AGAINST_REFERENCE=1`) and is
//! bounded by `TEST_MAX`.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use common::procs::{Server, TempDir};
use common::wire::Socket;

/// How long one test may take.
const TEST_MAX: Duration = Duration::from_secs(10);
/// How long a read waits for a frame that must come.
const FRAME_MAX: Duration = Duration::from_secs(5);
/// The inbox every pull request in these tests replies to, and its SID.
const INBOX: &str = "_INBOX.pull";
const INBOX_SID: &str = "1";

/// One frame from the server.
#[derive(Debug)]
enum Frame {
    /// MSG or HMSG: everything as sent, and the parts.
    Msg {
        raw: Vec<u8>,
        subject: String,
        reply: Option<String>,
        headers: Vec<u8>,
        payload: Vec<u8>,
    },
    /// Any other line (`+OK`, `-ERR`, `INFO`).
    Line(String),
}

/// A raw client: a socket, a JetStream API request helper, and a frame reader.
struct Wire {
    sock: Socket,
    started: Instant,
    next_request: u64,
}

impl Wire {
    fn open(server: &Server) -> Wire {
        let mut sock = Socket::open(&server.addr(), FRAME_MAX).expect("connect");
        let info = sock.line_by(Instant::now() + FRAME_MAX).expect("INFO");
        assert!(
            info.starts_with(b"INFO "),
            "{:?}",
            String::from_utf8_lossy(&info)
        );
        let mut w = Wire {
            sock,
            started: Instant::now(),
            next_request: 0,
        };
        w.send(&format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}}\r\nSUB {INBOX} {INBOX_SID}\r\nSUB _R.* 99\r\n"
        ));
        w.ping();
        w
    }

    fn send(&mut self, text: &str) {
        self.sock.send(text.as_bytes());
    }

    /// PING, and reads until the PONG (frames before it must not exist).
    fn ping(&mut self) {
        self.send("PING\r\n");
        match self.frame(FRAME_MAX) {
            Some(Frame::Line(l)) if l == "PONG\r\n" => {}
            other => panic!("wanted PONG, got {other:?}"),
        }
    }

    /// PUB `subject` with `reply` and `body`.
    fn publish(&mut self, subject: &str, reply: &str, body: &str) {
        self.send(&format!(
            "PUB {subject} {reply} {}\r\n{body}\r\n",
            body.len()
        ));
    }

    /// A request on a fresh `_R.<n>` inbox; returns the reply's payload as JSON.
    fn api(&mut self, subject: &str, body: Value) -> Value {
        self.next_request += 1;
        let reply = format!("_R.{}", self.next_request);
        self.publish(subject, &reply, &body.to_string());
        match self.frame(FRAME_MAX) {
            Some(Frame::Msg {
                subject, payload, ..
            }) if subject == reply => serde_json::from_slice(&payload).expect("API JSON"),
            other => panic!("wanted the reply to {subject}, got {other:?}"),
        }
    }

    /// Publishes to the stream and waits for its ack.
    fn js_publish(&mut self, subject: &str, body: &str) -> u64 {
        self.next_request += 1;
        let reply = format!("_R.{}", self.next_request);
        self.publish(subject, &reply, body);
        match self.frame(FRAME_MAX) {
            Some(Frame::Msg {
                subject, payload, ..
            }) if subject == reply => {
                let ack: Value = serde_json::from_slice(&payload).expect("pub ack JSON");
                ack["seq"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no seq in {ack}"))
            }
            other => panic!("wanted a publish ack, got {other:?}"),
        }
    }

    /// A pull request with `body` replying to `INBOX`.
    fn pull(&mut self, stream: &str, consumer: &str, body: &str) {
        self.publish(
            &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            INBOX,
            body,
        );
    }

    /// The next frame within `wait`; None when nothing came. PINGs are answered and skipped.
    fn frame(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = Instant::now() + wait;
        loop {
            let line = self.sock.line_by(deadline)?;
            let text = String::from_utf8_lossy(&line).into_owned();
            if text == "PING\r\n" {
                self.send("PONG\r\n");
                continue;
            }
            let parts: Vec<&str> = text.split_whitespace().collect();
            let (hdr_len, total_len, reply) = match parts.first().copied() {
                Some("MSG") => {
                    let total: usize = parts.last()?.parse().ok()?;
                    let reply = (parts.len() == 5).then(|| parts[3].to_string());
                    (0, total, reply)
                }
                Some("HMSG") => {
                    let n = parts.len();
                    let hdr: usize = parts[n - 2].parse().ok()?;
                    let total: usize = parts[n - 1].parse().ok()?;
                    let reply = (n == 6).then(|| parts[3].to_string());
                    (hdr, total, reply)
                }
                _ => return Some(Frame::Line(text)),
            };
            while self.sock.buf.len() < total_len + 2 {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero() && !self.sock.closed,
                    "frame body cut off after {text:?}"
                );
                self.sock.fill(left);
            }
            let body: Vec<u8> = self.sock.buf.drain(..total_len + 2).collect();
            let mut raw = line.clone();
            raw.extend_from_slice(&body);
            return Some(Frame::Msg {
                raw,
                subject: parts[1].to_string(),
                reply,
                headers: body[..hdr_len].to_vec(),
                payload: body[hdr_len..total_len].to_vec(),
            });
        }
    }

    /// The next frame, which must come within `wait`, and when it came (since `open`).
    fn must_frame(&mut self, wait: Duration) -> (Frame, Duration) {
        let f = self
            .frame(wait)
            .unwrap_or_else(|| panic!("no frame within {wait:?}"));
        (f, self.started.elapsed())
    }

    /// Asserts nothing arrives within `wait`.
    fn expect_nothing(&mut self, wait: Duration) {
        if let Some(f) = self.frame(wait) {
            panic!("unexpected frame {f:?}");
        }
    }
}

/// The exact bytes of a status message on `INBOX`: an HMSG whose header block is `status`
/// line plus `headers`, with an empty body.
fn status_frame(status: &str, headers: &[(&str, String)]) -> String {
    let mut block = format!("NATS/1.0 {status}\r\n");
    for (k, v) in headers {
        block.push_str(&format!("{k}: {v}\r\n"));
    }
    block.push_str("\r\n");
    format!(
        "HMSG {INBOX} {INBOX_SID} {len} {len}\r\n{block}\r\n",
        len = block.len()
    )
}

fn raw_text(f: &Frame) -> String {
    match f {
        Frame::Msg { raw, .. } => String::from_utf8_lossy(raw).into_owned(),
        Frame::Line(l) => l.clone(),
    }
}

/// Asserts `f` is exactly `want`.
fn assert_frame(f: &Frame, want: &str) {
    assert_eq!(raw_text(f), want, "frame bytes");
}

/// A JetStream server with its store dir, a raw client on it, and stream `S` on `s.>`.
struct Setup {
    _server: Server,
    _store: TempDir,
    w: Wire,
}

fn setup(tag: &str) -> Setup {
    let store = TempDir::new(tag);
    let server = Server::start_jetstream(1, &store.path, &[]);
    let mut w = Wire::open(&server);
    let created = w.api(
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s.>"]}),
    );
    assert_eq!(created["config"]["name"], "S", "{created}");
    Setup {
        _server: server,
        _store: store,
        w,
    }
}

/// Creates durable pull consumer `name` on `S` with `extra` config fields.
fn consumer(w: &mut Wire, name: &str, extra: Value) {
    let mut config = json!({"durable_name": name, "name": name, "ack_policy": "explicit"});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let r = w.api(
        &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
        json!({"stream_name": "S", "config": config}),
    );
    assert_eq!(r["name"], name, "create {name}: {r}");
}

fn bounded(f: impl FnOnce()) {
    let t0 = Instant::now();
    f();
    assert!(t0.elapsed() < TEST_MAX, "took {:?}", t0.elapsed());
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// The numbers of a `$JS.ACK.S.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` subject.
#[derive(Debug, PartialEq)]
struct AckSubject {
    consumer: String,
    delivered: u64,
    stream_seq: u64,
    consumer_seq: u64,
    ts_ns: u128,
    pending: u64,
}

fn parse_ack(reply: &str) -> AckSubject {
    let t: Vec<&str> = reply.split('.').collect();
    assert_eq!(t.len(), 9, "9 tokens in {reply}");
    assert_eq!((t[0], t[1], t[2]), ("$JS", "ACK", "S"), "{reply}");
    let num = |i: usize| -> u64 {
        t[i].parse()
            .unwrap_or_else(|_| panic!("token {i} of {reply}"))
    };
    AckSubject {
        consumer: t[3].to_string(),
        delivered: num(4),
        stream_seq: num(5),
        consumer_seq: num(6),
        ts_ns: t[7].parse().unwrap_or_else(|_| panic!("ts of {reply}")),
        pending: num(8),
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn no_wait_with_nothing_to_deliver_gets_404_no_messages() {
    bounded(|| {
        let mut s = setup("wire-404");
        consumer(&mut s.w, "c", json!({}));
        s.w.pull("S", "c", r#"{"batch":1,"no_wait":true}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(&f, &status_frame("404 No Messages", &[]));
        s.w.expect_nothing(Duration::from_millis(300));
    });
}

#[test]
fn no_wait_delivers_what_there_is_then_404() {
    bounded(|| {
        let mut s = setup("wire-404-after");
        // Published before the consumer exists: nats-server may answer a no_wait request
        // that comes right after a publish ack with 404 before its consumer sees the message.
        s.w.js_publish("s.a", "one");
        consumer(&mut s.w, "c", json!({}));
        s.w.pull("S", "c", r#"{"batch":3,"no_wait":true}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        match &f {
            Frame::Msg {
                subject, payload, ..
            } => assert_eq!((subject.as_str(), &payload[..]), ("s.a", &b"one"[..])),
            other => panic!("wanted the message, got {other:?}"),
        }
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(&f, &status_frame("404 No Messages", &[]));
    });
}

#[test]
fn expired_request_gets_408_with_the_unfilled_counts() {
    bounded(|| {
        let mut s = setup("wire-408");
        consumer(&mut s.w, "c", json!({}));
        let t0 = s.w.started.elapsed();
        s.w.pull("S", "c", r#"{"batch":3,"expires":500000000}"#);
        let (f, at) = s.w.must_frame(FRAME_MAX);
        assert_frame(
            &f,
            &status_frame(
                "408 Request Timeout",
                &[
                    ("Nats-Pending-Messages", "3".into()),
                    ("Nats-Pending-Bytes", "0".into()),
                ],
            ),
        );
        let took = at - t0;
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_millis(2000),
            "the 408 comes at the expiry: {took:?}"
        );

        // With a byte budget and one message delivered: the rest of each is reported.
        s.w.js_publish("s.a", "12345");
        s.w.pull(
            "S",
            "c",
            r#"{"batch":3,"expires":400000000,"max_bytes":1000}"#,
        );
        let (f, _) = s.w.must_frame(FRAME_MAX);
        let delivered_bytes = match &f {
            Frame::Msg {
                subject,
                raw,
                reply,
                ..
            } => {
                assert_eq!(subject, "s.a");
                let reply = reply.clone().expect("ack subject");
                // nats-server counts a delivery's size as subject + reply + headers + payload.
                let size = "s.a".len() + reply.len() + 5;
                println!("delivered {} raw bytes, counted as {size}", raw.len());
                size
            }
            other => panic!("wanted the message, got {other:?}"),
        };
        let (f, _) = s.w.must_frame(FRAME_MAX);
        println!("408 after a partial fill: {:?}", raw_text(&f));
        assert_frame(
            &f,
            &status_frame(
                "408 Request Timeout",
                &[
                    ("Nats-Pending-Messages", "2".into()),
                    ("Nats-Pending-Bytes", (1000 - delivered_bytes).to_string()),
                ],
            ),
        );
    });
}

#[test]
fn second_request_past_max_waiting_gets_409_exceeded_max_waiting() {
    bounded(|| {
        let mut s = setup("wire-maxwaiting");
        consumer(&mut s.w, "c", json!({"max_waiting": 1}));
        s.w.pull("S", "c", r#"{"batch":1,"expires":2000000000}"#);
        s.w.ping();
        s.w.pull("S", "c", r#"{"batch":1,"expires":2000000000}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(&f, &status_frame("409 Exceeded MaxWaiting", &[]));
        // The first request still waits and gets a message published now.
        s.w.js_publish("s.a", "for-the-first");
        let (f, _) = s.w.must_frame(FRAME_MAX);
        match &f {
            Frame::Msg { payload, .. } => assert_eq!(&payload[..], b"for-the-first"),
            other => panic!("wanted the message, got {other:?}"),
        }
    });
}

#[test]
fn message_larger_than_max_bytes_gets_409_and_closes_the_request() {
    bounded(|| {
        let mut s = setup("wire-maxbytes");
        consumer(&mut s.w, "c", json!({}));
        s.w.js_publish("s.a", &"x".repeat(100));
        s.w.pull(
            "S",
            "c",
            r#"{"batch":2,"expires":2000000000,"max_bytes":10}"#,
        );
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(
            &f,
            &status_frame(
                "409 Message Size Exceeds MaxBytes",
                &[
                    ("Nats-Pending-Messages", "2".into()),
                    ("Nats-Pending-Bytes", "10".into()),
                ],
            ),
        );
        s.w.expect_nothing(Duration::from_millis(300));
        // The message was not delivered: a plain request gets it as delivery 1.
        s.w.pull("S", "c", r#"{"batch":1,"no_wait":true}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        match &f {
            Frame::Msg { reply, .. } => {
                let ack = parse_ack(reply.as_deref().expect("ack subject"));
                assert_eq!((ack.delivered, ack.stream_seq, ack.consumer_seq), (1, 1, 1));
            }
            other => panic!("wanted the message, got {other:?}"),
        }
    });
}

#[test]
fn batch_above_max_batch_gets_409_exceeded_max_request_batch() {
    bounded(|| {
        let mut s = setup("wire-maxbatch");
        consumer(&mut s.w, "c", json!({"max_batch": 2}));
        s.w.pull("S", "c", r#"{"batch":5,"expires":1000000000}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(&f, &status_frame("409 Exceeded MaxRequestBatch of 2", &[]));
    });
}

#[test]
fn deleting_the_consumer_sends_409_consumer_deleted_to_a_waiting_request() {
    bounded(|| {
        let mut s = setup("wire-deleted");
        consumer(&mut s.w, "c", json!({}));
        s.w.pull("S", "c", r#"{"batch":1,"expires":5000000000}"#);
        s.w.ping();
        s.w.next_request += 1;
        let reply = format!("_R.{}", s.w.next_request);
        s.w.publish("$JS.API.CONSUMER.DELETE.S.c", &reply, "");
        let mut got_delete_reply = false;
        let mut got_status = false;
        while !(got_delete_reply && got_status) {
            let (f, _) = s.w.must_frame(FRAME_MAX);
            match &f {
                Frame::Msg {
                    subject, payload, ..
                } if *subject == reply => {
                    let v: Value = serde_json::from_slice(payload).expect("JSON");
                    assert_eq!(v["success"], true, "{v}");
                    got_delete_reply = true;
                }
                _ => {
                    assert_frame(&f, &status_frame("409 Consumer Deleted", &[]));
                    got_status = true;
                }
            }
        }
    });
}

#[test]
fn pull_on_a_push_consumer_gets_409_consumer_is_push_based() {
    bounded(|| {
        let mut s = setup("wire-push");
        let r = s.w.api(
            "$JS.API.CONSUMER.CREATE.S.p",
            json!({"stream_name": "S", "config": {"durable_name": "p", "name": "p",
                   "ack_policy": "explicit", "deliver_subject": "dlv.p"}}),
        );
        assert_eq!(r["name"], "p", "{r}");
        s.w.pull("S", "p", r#"{"batch":1,"expires":1000000000}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(&f, &status_frame("409 Consumer is push based", &[]));
    });
}

#[test]
fn idle_heartbeats_carry_the_last_consumer_and_stream_sequences() {
    bounded(|| {
        let mut s = setup("wire-heartbeat");
        s.w.js_publish("s.a", "one");
        s.w.js_publish("s.b", "two");
        consumer(&mut s.w, "c", json!({}));
        s.w.pull("S", "c", r#"{"batch":2,"no_wait":true}"#);
        for _ in 0..2 {
            let (f, _) = s.w.must_frame(FRAME_MAX);
            assert!(matches!(f, Frame::Msg { reply: Some(_), .. }), "{f:?}");
        }
        // The batch was filled: no 404 follows.
        s.w.expect_nothing(Duration::from_millis(200));

        let t0 = s.w.started.elapsed();
        s.w.pull(
            "S",
            "c",
            r#"{"batch":1,"expires":1600000000,"idle_heartbeat":500000000}"#,
        );
        let heartbeat = status_frame(
            "100 Idle Heartbeat",
            &[
                ("Nats-Last-Consumer", "2".into()),
                ("Nats-Last-Stream", "2".into()),
            ],
        );
        let mut beats = Vec::new();
        loop {
            let (f, at) = s.w.must_frame(FRAME_MAX);
            if raw_text(&f) == heartbeat {
                beats.push(at - t0);
                continue;
            }
            assert_frame(
                &f,
                &status_frame(
                    "408 Request Timeout",
                    &[
                        ("Nats-Pending-Messages", "1".into()),
                        ("Nats-Pending-Bytes", "0".into()),
                    ],
                ),
            );
            break;
        }
        println!("heartbeats at {beats:?}");
        assert!(
            (2..=3).contains(&beats.len()),
            "one heartbeat per 500 ms of a 1.6 s request: {beats:?}"
        );
        assert!(
            beats[0] >= Duration::from_millis(400) && beats[0] < Duration::from_millis(1200),
            "first heartbeat after about 500 ms: {beats:?}"
        );
    });
}

#[test]
fn heartbeat_longer_than_half_the_expiry_gets_400() {
    bounded(|| {
        let mut s = setup("wire-heartbeat-400");
        consumer(&mut s.w, "c", json!({}));
        s.w.pull(
            "S",
            "c",
            r#"{"batch":1,"expires":1000000000,"idle_heartbeat":800000000}"#,
        );
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert_frame(
            &f,
            &status_frame("400 Bad Request - heartbeat value too large", &[]),
        );
    });
}

#[test]
fn ack_subject_carries_count_sequences_store_time_and_pending() {
    bounded(|| {
        let mut s = setup("wire-ack-subject");
        let before = now_ns();
        for body in ["m1", "m2", "m3"] {
            s.w.js_publish("s.a", body);
        }
        let after = now_ns();
        consumer(&mut s.w, "c", json!({}));
        s.w.pull("S", "c", r#"{"batch":2,"no_wait":true}"#);
        let mut acks = Vec::new();
        for want in [&b"m1"[..], b"m2"] {
            let (f, _) = s.w.must_frame(FRAME_MAX);
            let Frame::Msg {
                subject,
                reply,
                headers,
                payload,
                ..
            } = f
            else {
                panic!("wanted a message, got {f:?}");
            };
            assert_eq!((subject.as_str(), &payload[..]), ("s.a", want));
            assert!(headers.is_empty(), "a plain publish is delivered as MSG");
            acks.push(reply.expect("ack subject"));
        }
        let first = parse_ack(&acks[0]);
        let second = parse_ack(&acks[1]);
        assert!(
            (before..=after).contains(&first.ts_ns),
            "store time {} within the publish window {before}..{after}",
            first.ts_ns
        );
        assert!(first.ts_ns <= second.ts_ns);
        let masked = |a: &AckSubject| {
            (
                a.consumer.clone(),
                a.delivered,
                a.stream_seq,
                a.consumer_seq,
                a.pending,
            )
        };
        assert_eq!(masked(&first), ("c".into(), 1, 1, 1, 2));
        assert_eq!(masked(&second), ("c".into(), 1, 2, 2, 1));

        // A nak: the redelivery keeps the store time and takes the next consumer seq.
        s.w.publish(&acks[0], "", "-NAK");
        s.w.ping();
        s.w.pull("S", "c", r#"{"batch":1,"no_wait":true}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        let Frame::Msg { reply, .. } = f else {
            panic!("wanted the redelivery, got {f:?}");
        };
        let again = parse_ack(reply.as_deref().expect("ack subject"));
        assert_eq!(masked(&again), ("c".into(), 2, 1, 3, 1));
        assert_eq!(
            again.ts_ns, first.ts_ns,
            "the store time, not the delivery time"
        );

        // The ack as a request is confirmed with an empty message.
        s.w.publish(&acks[1], "_R.ack", "+ACK");
        let (f, _) = s.w.must_frame(FRAME_MAX);
        match &f {
            Frame::Msg {
                subject,
                payload,
                headers,
                ..
            } => {
                assert_eq!(subject, "_R.ack");
                assert!(payload.is_empty() && headers.is_empty(), "{f:?}");
            }
            other => panic!("wanted the ack confirmation, got {other:?}"),
        }
    });
}

#[test]
fn message_with_headers_is_delivered_as_hmsg_with_them_kept() {
    bounded(|| {
        let mut s = setup("wire-hmsg");
        consumer(&mut s.w, "c", json!({}));
        let hdr = "NATS/1.0\r\nX-Trace: abc\r\n\r\n";
        let body = "payload";
        s.w.send(&format!(
            "HPUB s.h _R.h {} {}\r\n{hdr}{body}\r\n",
            hdr.len(),
            hdr.len() + body.len()
        ));
        let (f, _) = s.w.must_frame(FRAME_MAX);
        assert!(
            matches!(&f, Frame::Msg { subject, .. } if subject == "_R.h"),
            "{f:?}"
        );
        s.w.pull("S", "c", r#"{"batch":1,"expires":2000000000}"#);
        let (f, _) = s.w.must_frame(FRAME_MAX);
        let Frame::Msg {
            raw,
            reply,
            headers,
            payload,
            ..
        } = &f
        else {
            panic!("wanted the message, got {f:?}");
        };
        let reply = reply.clone().expect("ack subject");
        assert_eq!(String::from_utf8_lossy(headers), hdr);
        assert_eq!(&payload[..], body.as_bytes());
        let want = format!(
            "HMSG s.h {INBOX_SID} {reply} {} {}\r\n{hdr}{body}\r\n",
            hdr.len(),
            hdr.len() + body.len()
        );
        assert_eq!(String::from_utf8_lossy(raw), want);
    });
}
