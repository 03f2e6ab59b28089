//! Plain publish/subscribe on 1, 2 and 4 shards, through async-nats and the raw protocol.
//!
//! Connections are spread round-robin over shards in accept order (connection k goes to shard
//! k mod N), so with more than one shard two consecutive connections sit on different shards.

mod common;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use async_nats::{Client, Message, Subscriber};
use bytes::Bytes;
use common::{RawClient, TestServer};
use futures::StreamExt;

/// How long a test waits for a message it expects.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a test listens to conclude that nothing more arrives.
const QUIET: Duration = Duration::from_millis(200);

use common::scenario::*;

async fn subscribe(client: &Client, subject: &str) -> Subscriber {
    client
        .subscribe(subject.to_string())
        .await
        .expect("subscribe")
}

/// The next message, skipping [`barrier`] probes (a `>` subscription sees them).
async fn next_msg(sub: &mut Subscriber, what: &str) -> Message {
    loop {
        match tokio::time::timeout(RECV_TIMEOUT, sub.next()).await {
            Ok(Some(m)) if m.subject.starts_with("_barrier.") => {}
            Ok(Some(m)) => return m,
            Ok(None) => panic!("{what}: subscription ended"),
            Err(_) => panic!("{what}: no message within {RECV_TIMEOUT:?}"),
        }
    }
}

async fn expect_no_more(sub: &mut Subscriber, what: &str) {
    while let Ok(Some(m)) = tokio::time::timeout(QUIET, sub.next()).await {
        if !m.subject.starts_with("_barrier.") {
            panic!(
                "{what}: unexpected extra message on {:?}: {:?}",
                m.subject, m.payload
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_subscriber_on_every_shard_gets_one_copy() {
    for_each_shard_count(|server, shards| async move {
        // One subscriber connection per shard plus one more, then the publisher.
        let mut clients = Vec::new();
        let mut subs = Vec::new();
        for _ in 0..=shards {
            let c = connect(&server).await;
            subs.push(subscribe(&c, "greet.all").await);
            clients.push(c);
        }
        let publisher = connect(&server).await;
        barrier(&publisher, &clients.iter().collect::<Vec<_>>()).await;
        for n in 0..10 {
            publisher
                .publish("greet.all", format!("hello {n}").into())
                .await
                .unwrap();
        }
        flush(&publisher).await;
        for (i, s) in subs.iter_mut().enumerate() {
            for n in 0..10 {
                let what = format!("subscriber connection {i}, message {n}");
                let m = next_msg(s, &what).await;
                assert_eq!(m.subject.as_str(), "greet.all", "{what}");
                assert_eq!(m.payload, Bytes::from(format!("hello {n}")), "{what}");
                assert!(m.reply.is_none(), "{what}: reply {:?}", m.reply);
            }
        }
        for (i, s) in subs.iter_mut().enumerate() {
            expect_no_more(s, &format!("subscriber connection {i}")).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wildcards_star_and_full_match_the_right_subjects_across_shards() {
    for_each_shard_count(|server, _shards| async move {
        let published = [
            "w", "w.a", "w.b", "w.a.c", "w.a.b.c", "x.a", "wx.a.c", "w*.a",
        ];
        // (subscription subject, subjects it must receive, in publish order)
        let cases: [(&str, &[&str]); 9] = [
            ("w.*", &["w.a", "w.b"]),
            ("w.>", &["w.a", "w.b", "w.a.c", "w.a.b.c"]),
            (">", &published),
            ("w.a", &["w.a"]),
            ("w.*.c", &["w.a.c"]),
            ("*.a", &["w.a", "x.a", "w*.a"]),
            ("w", &["w"]),
            ("*.*.*", &["w.a.c", "wx.a.c"]),
            // `*` inside a token is a literal character, not a wildcard.
            ("w*.a", &["w*.a"]),
        ];
        // Each subscription on its own connection, so they spread over every shard.
        let mut clients = Vec::new();
        let mut subs = Vec::new();
        for (subject, _) in cases {
            let c = connect(&server).await;
            subs.push(subscribe(&c, subject).await);
            clients.push(c);
        }
        let publisher = connect(&server).await;
        barrier(&publisher, &clients.iter().collect::<Vec<_>>()).await;
        for subject in published {
            publisher
                .publish(subject, subject.as_bytes().to_vec().into())
                .await
                .unwrap();
        }
        flush(&publisher).await;
        for ((subject, want), s) in cases.iter().zip(&mut subs) {
            for w in want.iter() {
                let m = next_msg(s, &format!("subscription {subject:?} waiting for {w:?}")).await;
                assert_eq!(m.subject.as_str(), *w, "subscription {subject:?}");
                assert_eq!(
                    m.payload,
                    Bytes::from(w.to_string()),
                    "subscription {subject:?}"
                );
            }
        }
        for ((subject, _), s) in cases.iter().zip(&mut subs) {
            expect_no_more(s, &format!("subscription {subject:?}")).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_subscriptions_on_one_connection_each_get_a_copy() {
    for_each_shard_count(|server, _shards| async move {
        let c = connect(&server).await;
        let mut star = subscribe(&c, "o.*").await;
        let mut full = subscribe(&c, "o.>").await;
        let mut literal = subscribe(&c, "o.x").await;
        let mut literal_again = subscribe(&c, "o.x").await;
        let publisher = connect(&server).await;
        barrier(&publisher, &[&c]).await;
        publisher.publish("o.x", "one".into()).await.unwrap();
        flush(&publisher).await;
        for (name, s) in [
            ("o.*", &mut star),
            ("o.>", &mut full),
            ("o.x", &mut literal),
            ("o.x again", &mut literal_again),
        ] {
            let m = next_msg(s, name).await;
            assert_eq!(
                (m.subject.as_str(), &m.payload[..]),
                ("o.x", &b"one"[..]),
                "{name}"
            );
            expect_no_more(s, name).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_from_one_publisher_arrive_in_publish_order() {
    for_each_shard_count(|server, _shards| async move {
        const N: u32 = 10_000;
        let c = connect(&server).await;
        let mut sub = subscribe(&c, "order.test").await;
        let publisher = connect(&server).await;
        barrier(&publisher, &[&c]).await;
        let sender = tokio::spawn(async move {
            for n in 0..N {
                // Sizes vary so messages split differently over reads and writes.
                let mut p = n.to_be_bytes().to_vec();
                p.resize(4 + (n as usize % 300), b'.');
                publisher.publish("order.test", p.into()).await.unwrap();
            }
            flush(&publisher).await;
            publisher
        });
        for want in 0..N {
            let m = next_msg(&mut sub, &format!("message {want}")).await;
            let got = u32::from_be_bytes(m.payload[..4].try_into().unwrap());
            assert_eq!(got, want, "message out of order");
            assert_eq!(m.payload.len(), 4 + (want as usize % 300));
        }
        let _publisher = sender.await.unwrap();
        expect_no_more(&mut sub, "ordered subscriber").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_messages_arrive_exactly_once_at_each_subscriber() {
    for_each_shard_count(|server, shards| async move {
        const N: u32 = 20_000;
        // Subscribers on every shard, including the publisher's.
        let mut clients = Vec::new();
        let mut subs = Vec::new();
        for _ in 0..shards.max(2) {
            let c = connect(&server).await;
            subs.push(subscribe(&c, "many.>").await);
            clients.push(c);
        }
        let publisher = connect(&server).await;
        barrier(&publisher, &clients.iter().collect::<Vec<_>>()).await;
        let sender = tokio::spawn(async move {
            for n in 0..N {
                let subject = format!("many.{}", n % 7);
                publisher
                    .publish(subject, n.to_string().into())
                    .await
                    .unwrap();
            }
            flush(&publisher).await;
            publisher
        });
        let receivers: Vec<_> = subs
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                tokio::spawn(async move {
                    let mut seen: HashMap<u32, u32> = HashMap::new();
                    for k in 0..N {
                        let what = format!("subscriber {i} after {k} messages");
                        let m = next_msg(&mut s, &what).await;
                        let n: u32 = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
                        assert_eq!(m.subject.as_str(), format!("many.{}", n % 7));
                        *seen.entry(n).or_default() += 1;
                    }
                    expect_no_more(&mut s, &format!("subscriber {i}")).await;
                    let dups: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).take(5).collect();
                    assert!(
                        dups.is_empty(),
                        "subscriber {i}: duplicates (msg, count): {dups:?}"
                    );
                    assert_eq!(seen.len(), N as usize, "subscriber {i}: distinct messages");
                })
            })
            .collect();
        let _publisher = sender.await.unwrap();
        for r in receivers {
            if let Err(e) = r.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        drop(clients);
    })
    .await;
}

// ---- the PING/PONG visibility guarantee, over the raw protocol ----

/// Runs `scenario` on a fresh server per shard count, in threads, and reports each failure.
fn for_each_shard_count_raw(scenario: fn(&TestServer) -> Vec<String>) {
    let runs: Vec<_> = SHARD_COUNTS
        .iter()
        .map(|&n| (n, std::thread::spawn(move || scenario(&start(n, &[])))))
        .collect();
    let mut failures = Vec::new();
    for (shards, run) in runs {
        match run.join() {
            Ok(problems) => failures.extend(
                problems
                    .into_iter()
                    .map(|p| format!("with {shards} shard(s): {p}")),
            ),
            Err(e) => failures.push(format!(
                "with {shards} shard(s): {}",
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `expect` that notes a mismatch instead of panicking.
fn expect_or_note(c: &mut RawClient, want: &[u8], problems: &mut Vec<String>, what: String) {
    if let Err(e) = catch_unwind(AssertUnwindSafe(|| c.expect(want))) {
        let text = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        problems.push(format!("{what}: {text}"));
    }
}

/// The subscriber sends SUB and PING; once it has the PONG, a publisher on another shard
/// publishes once, and the message must arrive. Repeated with fresh connections and a shifting
/// accept order, so every pair of neighbouring shards, in both orders, is exercised.
#[test]
fn subscription_is_visible_on_every_shard_once_its_pong_arrives() {
    for_each_shard_count_raw(|server| {
        let mut problems = Vec::new();
        for i in 0..60 {
            let _spacer = ((i / 2) % 2 == 1).then(|| server.quiet());
            let (mut sub, mut publisher) = if i % 2 == 0 {
                let s = server.quiet();
                (s, server.quiet())
            } else {
                let p = server.quiet();
                (server.quiet(), p)
            };
            let subject = match i % 3 {
                0 => format!("vis.{i}.>"),
                1 => format!("vis.{i}.*"),
                _ => format!("vis.{i}.x"),
            };
            // Every other round the publisher has published to the subject before, so a cached
            // "no interest" answer must be dropped when the subscription appears.
            if i % 2 == 1 {
                publisher.sync(format!("PUB vis.{i}.x 5\r\nearly\r\n").as_bytes());
            }
            sub.sync(format!("SUB {subject} 1\r\n").as_bytes());
            let body = format!("round {i:02}");
            publisher.send(format!("PUB vis.{i}.x 8\r\n{body}\r\n").as_bytes());
            let want = format!("MSG vis.{i}.x 1 8\r\n{body}\r\n");
            expect_or_note(
                &mut sub,
                want.as_bytes(),
                &mut problems,
                format!("round {i}"),
            );
        }
        problems
    });
}

/// The mirror image: after UNSUB and its PONG, a publisher on another shard reaches only the
/// subscriptions that are left. A last message on a subject only sid 4 matches marks the end,
/// since one publisher's messages reach one subscriber in order.
#[test]
fn unsubscription_is_visible_on_every_shard_once_its_pong_arrives() {
    for_each_shard_count_raw(|server| {
        let mut problems = Vec::new();
        for i in 0..30 {
            let _spacer = (i % 4 >= 2).then(|| server.quiet());
            let mut sub = server.quiet();
            let mut publisher = server.quiet();
            // Two sids on one subject, and one more on a wildcard that goes away entirely.
            let subs = format!("SUB u.{i} 1\r\nSUB u.{i} 2\r\nSUB u.> 3\r\nSUB end.{i} 4\r\n");
            sub.sync(subs.as_bytes());
            publisher.send(format!("PUB u.{i} 1\r\na\r\n").as_bytes());
            let mut got: Vec<String> = (0..3).map(|_| sub.read_line() + &sub.read_line()).collect();
            got.sort();
            let want: Vec<String> = (1..=3)
                .map(|sid| format!("MSG u.{i} {sid} 1\r\na\r\n"))
                .collect();
            if got != want {
                problems.push(format!("round {i}: before UNSUB, got {got:?}"));
            }
            sub.sync(b"UNSUB 1\r\nUNSUB 3\r\n");
            publisher.send(format!("PUB u.{i} 1\r\nb\r\nPUB end.{i} 1\r\ne\r\n").as_bytes());
            let want = format!("MSG u.{i} 2 1\r\nb\r\nMSG end.{i} 4 1\r\ne\r\n");
            let what = format!("round {i}, after UNSUB 1 and 3");
            expect_or_note(&mut sub, want.as_bytes(), &mut problems, what);
        }
        problems
    });
}

/// Payloads from 16 KiB up are queued to subscribers as slices of the publisher's read buffer
/// instead of copied: every byte must still arrive, in order, with headers kept for a
/// subscriber that supports them and cut off for one that does not, on every shard layout.
#[test]
fn large_payloads_arrive_intact_with_and_without_headers() {
    for_each_shard_count_raw(|server| {
        const HEADERS_ON: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;
        let mut problems = Vec::new();
        let mut plain = server.quiet();
        plain.sync(b"SUB big 1\r\n");
        let mut with_headers = server.raw();
        with_headers.handshake(HEADERS_ON);
        with_headers.sync(b"SUB big 7\r\n");
        let mut publisher = server.raw();
        publisher.handshake(HEADERS_ON);
        let hdr = b"NATS/1.0\r\nK: v\r\n\r\n";
        for (i, size) in [16 * 1024 - 1, 16 * 1024, 64 * 1024, 200_000, 1000, 300_000]
            .into_iter()
            .enumerate()
        {
            let body: Vec<u8> = (0..size).map(|j| b'a' + ((i * 7 + j) % 26) as u8).collect();
            let total = hdr.len() + body.len();
            let mut hpub = format!("HPUB big {} {total}\r\n", hdr.len()).into_bytes();
            hpub.extend_from_slice(hdr);
            hpub.extend_from_slice(&body);
            hpub.extend_from_slice(b"\r\n");
            let mut pubf = format!("PUB big {size}\r\n").into_bytes();
            pubf.extend_from_slice(&body);
            pubf.extend_from_slice(b"\r\n");
            publisher.send(&pubf);
            publisher.send(&hpub);

            let msg = |sid: u8, with_hdr: bool| {
                let mut m = if with_hdr {
                    format!("HMSG big {sid} {} {total}\r\n", hdr.len()).into_bytes()
                } else {
                    format!("MSG big {sid} {size}\r\n").into_bytes()
                };
                if with_hdr {
                    m.extend_from_slice(hdr);
                }
                m.extend_from_slice(&body);
                m.extend_from_slice(b"\r\n");
                m
            };
            let mut want_plain = msg(1, false);
            want_plain.extend_from_slice(&msg(1, false));
            let mut want_headers = msg(7, false);
            want_headers.extend_from_slice(&msg(7, true));
            expect_or_note(
                &mut plain,
                &want_plain,
                &mut problems,
                format!("plain, {size} B"),
            );
            expect_or_note(
                &mut with_headers,
                &want_headers,
                &mut problems,
                format!("headers, {size} B"),
            );
        }
        problems
    });
}
