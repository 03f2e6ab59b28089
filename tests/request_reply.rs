//! Request/reply on 1, 2 and 4 shards: replies from responders on other shards, fast
//! no-responders errors, queue-group responders, and headers, through async-nats and through
//! the raw protocol.
//!
//! Connections are spread round-robin over shards in accept order (connection k goes to shard
//! k mod N), so a responder and a requester connected one after another sit on different
//! shards.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions, HeaderMap, Request, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;

/// A no-responders answer is a round trip; anything near a timeout means it never came.
const NO_RESPONDERS_MAX: Duration = Duration::from_millis(1000);

use common::scenario::*;

/// A responder that answers every request on `subject` (in `group`, if given) with
/// `<name>:<payload>` and counts what it handled.
async fn responder(
    server: &Running,
    subject: &str,
    group: Option<&str>,
    name: &str,
) -> (Client, Arc<AtomicUsize>) {
    let c = connect(server).await;
    let mut sub = match group {
        Some(g) => c
            .queue_subscribe(subject.to_string(), g.to_string())
            .await
            .unwrap(),
        None => c.subscribe(subject.to_string()).await.unwrap(),
    };
    flush(&c).await;
    let handled = Arc::new(AtomicUsize::new(0));
    let (client, count, name) = (c.clone(), handled.clone(), name.to_string());
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            count.fetch_add(1, Ordering::SeqCst);
            let Some(reply) = m.reply else { continue };
            let mut body = format!("{name}:").into_bytes();
            body.extend_from_slice(&m.payload);
            let _ = client.publish(reply, body.into()).await;
        }
    });
    (c, handled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_gets_the_reply_of_a_responder_on_another_shard() {
    for_each_shard_count(|server, _shards| async move {
        let (responder_client, handled) = responder(&server, "svc.echo", None, "r").await;
        let requester = connect(&server).await;
        barrier(&requester, &[&responder_client]).await;
        for k in 0..50 {
            let m = requester
                .request("svc.echo", format!("seq {k}").into())
                .await;
            let m = m.unwrap_or_else(|e| panic!("request {k}: {e}"));
            assert_eq!(m.payload, Bytes::from(format!("r:seq {k}")), "request {k}");
        }
        // Many requests in flight at once, each matched to its own reply.
        let replies = futures::future::join_all((0..100).map(|k| {
            let requester = requester.clone();
            async move {
                (
                    k,
                    requester
                        .request("svc.echo", format!("par {k}").into())
                        .await,
                )
            }
        }))
        .await;
        for (k, r) in replies {
            let m = r.unwrap_or_else(|e| panic!("parallel request {k}: {e}"));
            assert_eq!(m.payload, Bytes::from(format!("r:par {k}")));
        }
        assert_eq!(handled.load(Ordering::SeqCst), 150);
    })
    .await;
}

/// Asserts that a request to `subject` fails with NoResponders, well before any timeout.
async fn assert_no_responders(client: &Client, subject: &str) {
    let t0 = Instant::now();
    let request = Request::new()
        .payload("anyone?".into())
        .timeout(Some(Duration::from_secs(2)));
    let r = client.send_request(subject.to_string(), request).await;
    let elapsed = t0.elapsed();
    match r {
        Err(e) => assert_eq!(
            e.kind(),
            RequestErrorKind::NoResponders,
            "request to {subject}: {e}"
        ),
        Ok(m) => panic!("request to {subject} got a reply: {:?}", m.payload),
    }
    assert!(
        elapsed < NO_RESPONDERS_MAX,
        "no-responders for {subject} took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_without_subscribers_fails_fast_with_no_responders() {
    for_each_shard_count(|server, shards| async move {
        // Unrelated interest on every shard, so the subject index is not empty anywhere.
        let mut others = Vec::new();
        for i in 0..shards {
            let c = connect(&server).await;
            let s = c.subscribe(format!("unrelated.{i}")).await.unwrap();
            others.push((c, s));
        }
        let requester = connect(&server).await;
        assert_no_responders(&requester, "nobody.home").await;
        // Repeated, so a cached answer in the subject index is exercised too.
        for _ in 0..5 {
            assert_no_responders(&requester, "nobody.home").await;
        }
    })
    .await;
}

/// The only subscriber, on another shard, sends UNSUB and gets its PONG; from then on a
/// request must fail with no responders, as it would have before the subscription existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_after_the_last_subscriber_unsubscribed_fails_fast_with_no_responders() {
    for_each_shard_count(|server, _shards| async move {
        let requester = connect(&server).await;
        // Raw protocol, so that PING/PONG marks when the SUB and the UNSUB have taken effect.
        let mut gone = tokio::task::block_in_place(|| {
            let mut c = server.raw();
            c.handshake(r#"{"verbose":false,"pedantic":false}"#);
            c.send(b"SUB was.here 1\r\nPING\r\n");
            c.expect(b"PONG\r\n");
            c
        });
        let request = Request::new()
            .payload("x".into())
            .timeout(Some(Duration::from_millis(300)));
        let r = requester.send_request("was.here", request).await;
        let kind = r.as_ref().err().map(|e| e.kind());
        assert_eq!(
            kind,
            Some(RequestErrorKind::TimedOut),
            "subscriber present but silent"
        );
        tokio::task::block_in_place(|| {
            gone.send(b"UNSUB 1\r\nPING\r\n");
            let got = gone.read_line();
            assert!(
                got.starts_with("MSG was.here 1 _INBOX."),
                "the request: {got:?}"
            );
            gone.read_line(); // its payload
            assert_eq!(gone.read_line(), "PONG\r\n");
        });
        assert_no_responders(&requester, "was.here").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queue_group_alone_counts_as_a_responder() {
    for_each_shard_count(|server, _shards| async move {
        // A member that never answers: the request times out instead of failing fast.
        let member = connect(&server).await;
        let _s = member
            .queue_subscribe("silent.q", "g".to_string())
            .await
            .unwrap();
        let requester = connect(&server).await;
        barrier(&requester, &[&member]).await;
        let request = Request::new()
            .payload("x".into())
            .timeout(Some(Duration::from_millis(300)));
        let r = requester.send_request("silent.q", request).await;
        let kind = r.as_ref().err().map(|e| e.kind());
        assert_eq!(
            kind,
            Some(RequestErrorKind::TimedOut),
            "only a queue group matched"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn own_subscription_with_echo_off_is_no_responder() {
    for_each_shard_count(|server, _shards| async move {
        let _other = connect(&server).await;
        let c = ConnectOptions::new()
            .no_echo()
            .connect(server.url())
            .await
            .unwrap();
        let _plain = c.subscribe("self.plain").await.unwrap();
        let _queue = c
            .queue_subscribe("self.queue", "g".to_string())
            .await
            .unwrap();
        flush(&c).await;
        assert_no_responders(&c, "self.plain").await;
        assert_no_responders(&c, "self.queue").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_to_a_queue_group_are_answered_once_round_robin() {
    for_each_shard_count(|server, _shards| async move {
        const N: usize = 90;
        let mut responders = Vec::new();
        for name in ["w0", "w1", "w2"] {
            responders.push(responder(&server, "svc.work", Some("workers"), name).await);
        }
        let requester = connect(&server).await;
        barrier(
            &requester,
            &responders.iter().map(|(c, _)| c).collect::<Vec<_>>(),
        )
        .await;
        let mut answered_by = [0usize; 3];
        for k in 0..N {
            let m = requester.request("svc.work", k.to_string().into()).await;
            let m = m.unwrap_or_else(|e| panic!("request {k}: {e}"));
            let text = String::from_utf8(m.payload.to_vec()).unwrap();
            let (name, body) = text.split_once(':').unwrap();
            assert_eq!(body, k.to_string());
            answered_by[name[1..].parse::<usize>().unwrap()] += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let handled: Vec<usize> = responders
            .iter()
            .map(|(_, h)| h.load(Ordering::SeqCst))
            .collect();
        assert_eq!(
            handled.iter().sum::<usize>(),
            N,
            "requests handled per responder: {handled:?}"
        );
        assert!(
            answered_by.iter().all(|&c| c.abs_diff(N / 3) <= 1),
            "answers per responder {answered_by:?}; round-robin gives each {} ± 1",
            N / 3
        );
    })
    .await;
}

fn header_values(h: &HeaderMap, key: &str) -> Vec<String> {
    h.get_all(key).map(|v| v.as_str().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headers_round_trip_through_request_and_reply_across_shards() {
    for_each_shard_count(|server, _shards| async move {
        let responder = connect(&server).await;
        let mut sub = responder.subscribe("hdr.svc").await.unwrap();
        flush(&responder).await;
        let task = {
            let responder = responder.clone();
            tokio::spawn(async move {
                let m = sub.next().await.expect("request arrives");
                let h = m.headers.clone().expect("request has headers");
                let mut reply = HeaderMap::new();
                for v in header_values(&h, "X-Multi") {
                    reply.append("X-Multi", v.as_str());
                }
                reply.insert(
                    "X-Seen-Trace",
                    h.get("X-Trace").map(|v| v.as_str()).unwrap_or("none"),
                );
                reply.insert("Mixed-Case-Key", "reply");
                let to = m.reply.clone().expect("request has a reply subject");
                responder
                    .publish_with_headers(to, reply, m.payload.clone())
                    .await
                    .unwrap();
                flush(&responder).await;
                m
            })
        };
        let requester = connect(&server).await;
        barrier(&requester, &[&responder]).await;
        let mut h = HeaderMap::new();
        h.insert("X-Trace", "abc-123");
        h.append("X-Multi", "one");
        h.append("X-Multi", "two");
        h.insert("Mixed-Case-Key", "v a l");
        let reply = requester
            .request_with_headers("hdr.svc", h, "body".into())
            .await
            .unwrap();
        let req = task.await.unwrap();
        let rh = req.headers.expect("request headers");
        assert_eq!(header_values(&rh, "X-Trace"), ["abc-123"]);
        assert_eq!(header_values(&rh, "X-Multi"), ["one", "two"]);
        assert_eq!(header_values(&rh, "Mixed-Case-Key"), ["v a l"]);
        assert_eq!(req.payload, "body");
        let h = reply.headers.expect("reply headers");
        assert_eq!(header_values(&h, "X-Multi"), ["one", "two"]);
        assert_eq!(header_values(&h, "X-Seen-Trace"), ["abc-123"]);
        assert_eq!(header_values(&h, "Mixed-Case-Key"), ["reply"]);
        assert_eq!(reply.payload, "body");
        assert!(reply.status.is_none(), "reply status {:?}", reply.status);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headers_with_empty_payload_reach_a_subscriber_on_another_shard() {
    for_each_shard_count(|server, _shards| async move {
        let sub_client = connect(&server).await;
        let mut sub = sub_client.subscribe("hdr.empty").await.unwrap();
        let publisher = connect(&server).await;
        barrier(&publisher, &[&sub_client]).await;
        let mut h = HeaderMap::new();
        h.insert("Only", "headers");
        publisher
            .publish_with_headers("hdr.empty", h, Bytes::new())
            .await
            .unwrap();
        flush(&publisher).await;
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert!(m.payload.is_empty());
        assert_eq!(
            header_values(&m.headers.expect("headers"), "Only"),
            ["headers"]
        );
    })
    .await;
}

/// Raw protocol: a subscriber without header support gets MSG with the header block removed
/// and the size recomputed, a header-capable one gets the HMSG byte for byte (reference §2.7).
#[test]
fn subscriber_without_headers_gets_msg_with_the_header_block_stripped() {
    let servers: Vec<_> = SHARD_COUNTS.iter().map(|&n| (n, start(n, &[]))).collect();
    for (shards, server) in &servers {
        eprintln!("with {shards} shard(s)");
        let mut plain = server.raw();
        plain.handshake(r#"{"verbose":false,"pedantic":false}"#);
        plain.send(b"SUB FOO 1\r\nPING\r\n");
        plain.expect(b"PONG\r\n");
        let mut hdr = server.raw();
        hdr.handshake(r#"{"verbose":false,"pedantic":false,"headers":true}"#);
        hdr.send(b"SUB FOO 7\r\nPING\r\n");
        hdr.expect(b"PONG\r\n");
        let mut publisher = server.raw();
        publisher.handshake(r#"{"verbose":false,"pedantic":false,"headers":true}"#);
        publisher.send(b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        publisher.send(b"HPUB FOO reply.to 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        publisher.send(b"PING\r\n");
        publisher.expect(b"PONG\r\n");
        plain.expect(b"MSG FOO 1 11\r\nHello NATS!\r\n");
        plain.expect(b"MSG FOO 1 reply.to 11\r\nHello NATS!\r\n");
        hdr.expect(b"HMSG FOO 7 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        hdr.expect(b"HMSG FOO 7 reply.to 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        plain.expect_nothing(Duration::from_millis(100));
        hdr.expect_nothing(Duration::from_millis(100));
    }
}

/// Raw protocol: the exact 503 a requester with `no_responders` gets (reference §8).
#[test]
fn no_responders_status_is_sent_to_the_requester_on_its_reply_subscription() {
    let servers: Vec<_> = SHARD_COUNTS.iter().map(|&n| (n, start(n, &[]))).collect();
    for (shards, server) in &servers {
        eprintln!("with {shards} shard(s)");
        // Interest elsewhere, so multi-shard matching is not trivially empty.
        let mut other = server.raw();
        other.handshake(r#"{"verbose":false,"pedantic":false}"#);
        other.send(b"SUB other.> 1\r\nPING\r\n");
        other.expect(b"PONG\r\n");
        let mut c = server.raw();
        c.handshake(r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#);
        c.send(b"SUB _INBOX.x 9\r\nPUB nobody _INBOX.x 0\r\n\r\nPING\r\n");
        c.expect(b"HMSG _INBOX.x 9 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\n");
        c.expect(b"PONG\r\n");
        // Without a reply subject, or without a matching own subscription: nothing.
        c.send(b"PUB nobody 0\r\n\r\nPUB nobody _INBOX.y 0\r\n\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        c.expect_nothing(Duration::from_millis(100));
    }
}

/// Raw protocol, 2 shards: a SUB in the middle of a read is announced to the other shard
/// ahead of the ops before it; one that then turns out refused (here a reused sid, which keeps
/// the first subscription, as nats-server does) must be taken back, or the other shard would
/// keep forwarding to it and never answer a request with no-responders.
#[test]
fn a_refused_sub_announced_ahead_is_taken_back() {
    let server = start(2, &[]);
    // Connections are dealt to shards in turn: `sub` on shard 0, `requester` on shard 1.
    let mut sub = server.raw();
    sub.handshake(r#"{"verbose":false,"pedantic":false}"#);
    let mut requester = server.raw();
    requester
        .handshake(r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#);
    requester.send(b"SUB _INBOX.r 9\r\nPING\r\n");
    requester.expect(b"PONG\r\n");
    // One read: the second SUB of sid 1 and the second queue SUB of sid 2 are refused.
    sub.send(b"PING\r\nSUB a 1\r\nSUB b 1\r\nSUB qa g 2\r\nSUB qb g 2\r\nPING\r\n");
    sub.expect(b"PONG\r\nPONG\r\n");
    for subject in ["b", "qb"] {
        requester.send(format!("PUB {subject} _INBOX.r 0\r\n\r\nPING\r\n").as_bytes());
        requester.expect(
            format!(
                "HMSG _INBOX.r 9 {n} {n}\r\nNATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n\r\n",
                n = 32 + subject.len()
            )
            .as_bytes(),
        );
        requester.expect(b"PONG\r\n");
    }
    // The accepted ones work across the shards.
    requester.send(b"PUB a 1\r\nx\r\nPUB qa 1\r\ny\r\nPING\r\n");
    requester.expect(b"PONG\r\n");
    sub.expect(b"MSG a 1 1\r\nx\r\nMSG qa 2 1\r\ny\r\n");
}
