//! Queue groups on 1, 2 and 4 shards: each message goes to exactly one member of each group,
//! members are picked round-robin across shards, and members that leave are skipped at once.
//!
//! Connections are spread round-robin over shards in accept order (connection k goes to shard
//! k mod N), so members connected one after another sit on different shards.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::{Client, Message, Subscriber};
use common::RawClient;
use futures::stream::{select_all, BoxStream};
use futures::StreamExt;

const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a test listens to conclude that nothing more arrives.
const QUIET: Duration = Duration::from_millis(300);

use common::scenario::*;

async fn queue_member(server: &Running, subject: &str, group: &str) -> (Client, Subscriber) {
    let c = connect(server).await;
    let s = c
        .queue_subscribe(subject.to_string(), group.to_string())
        .await
        .unwrap();
    (c, s)
}

/// All subscriptions as one stream of (index, message).
fn merged(subs: Vec<Subscriber>) -> BoxStream<'static, (usize, Message)> {
    select_all(
        subs.into_iter()
            .enumerate()
            .map(|(i, s)| s.map(move |m| (i, m)).boxed()),
    )
    .boxed()
}

/// Takes exactly `n` messages from `stream`, then checks that no more arrive.
async fn take_exactly(
    stream: &mut BoxStream<'static, (usize, Message)>,
    n: usize,
    what: &str,
) -> Vec<(usize, Message)> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(RECV_TIMEOUT, stream.next()).await {
            Ok(Some(m)) => got.push(m),
            _ => panic!("{what}: only {} of {n} messages arrived", got.len()),
        }
    }
    if let Ok(Some((i, m))) = tokio::time::timeout(QUIET, stream.next()).await {
        panic!(
            "{what}: extra message for subscription {i}: {:?}",
            m.payload
        );
    }
    got
}

fn per_member(got: &[(usize, Message)], members: usize) -> Vec<usize> {
    let mut counts = vec![0; members];
    for (i, _) in got {
        counts[*i] += 1;
    }
    counts
}

/// Asserts each payload index `0..n` appears exactly once.
fn assert_each_once(got: &[(usize, Message)], n: usize, what: &str) {
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for (_, m) in got {
        let k: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
        *seen.entry(k).or_default() += 1;
    }
    let missing: Vec<_> = (0..n).filter(|k| !seen.contains_key(k)).take(10).collect();
    let dups: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).take(10).collect();
    assert!(
        missing.is_empty() && dups.is_empty(),
        "{what}: missing {missing:?}, dups {dups:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_group_delivers_each_message_once_across_shards() {
    for_each_shard_count(|server, _shards| async move {
        const N: usize = 1000;
        let mut clients = Vec::new();
        let mut subs = Vec::new();
        for _ in 0..4 {
            let (c, s) = queue_member(&server, "work.once", "workers").await;
            clients.push(c);
            subs.push(s);
        }
        // Two publishers on different shards share the work.
        let p1 = connect(&server).await;
        let p2 = connect(&server).await;
        let refs: Vec<&Client> = clients.iter().collect();
        barrier(&p1, &refs).await;
        barrier(&p2, &refs).await;
        let mut stream = merged(subs);
        for k in 0..N {
            let p = if k % 2 == 0 { &p1 } else { &p2 };
            p.publish("work.once", k.to_string().into()).await.unwrap();
        }
        flush(&p1).await;
        flush(&p2).await;
        let got = take_exactly(&mut stream, N, "group of 4").await;
        assert_each_once(&got, N, "group of 4");
        let counts = per_member(&got, 4);
        assert!(
            counts.iter().all(|&c| c > 0),
            "a member got nothing: {counts:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_publisher_spreads_messages_round_robin_over_members() {
    for_each_shard_count(|server, _shards| async move {
        const N: usize = 300;
        const K: usize = 3;
        let mut clients = Vec::new();
        let mut subs = Vec::new();
        for _ in 0..K {
            let (c, s) = queue_member(&server, "work.rr", "rr").await;
            clients.push(c);
            subs.push(s);
        }
        let publisher = connect(&server).await;
        barrier(&publisher, &clients.iter().collect::<Vec<_>>()).await;
        let mut stream = merged(subs);
        for k in 0..N {
            publisher
                .publish("work.rr", k.to_string().into())
                .await
                .unwrap();
        }
        flush(&publisher).await;
        let got = take_exactly(&mut stream, N, "round-robin group").await;
        assert_each_once(&got, N, "round-robin group");
        let counts = per_member(&got, K);
        assert!(
            counts.iter().all(|&c| c.abs_diff(N / K) <= 1),
            "members got {counts:?} of {N}; round-robin gives each {} ± 1",
            N / K
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_on_overlapping_subjects_share_one_copy_per_group() {
    for_each_shard_count(|server, _shards| async move {
        const N: usize = 300;
        let mut clients = Vec::new();
        let mut g = Vec::new();
        for subject in ["a.b", "a.*", "a.>"] {
            let (c, s) = queue_member(&server, subject, "g").await;
            clients.push(c);
            g.push(s);
        }
        let (hc, h) = queue_member(&server, "a.*", "h").await;
        clients.push(hc);
        let publisher = connect(&server).await;
        barrier(&publisher, &clients.iter().collect::<Vec<_>>()).await;
        let mut g = merged(g);
        let mut h = merged(vec![h]);
        for k in 0..N {
            publisher
                .publish("a.b", k.to_string().into())
                .await
                .unwrap();
        }
        flush(&publisher).await;
        let got_g = take_exactly(&mut g, N, "group g (a.b, a.*, a.>)").await;
        assert_each_once(&got_g, N, "group g");
        let counts = per_member(&got_g, 3);
        assert!(
            counts.iter().all(|&c| c.abs_diff(N / 3) <= 1),
            "group g members (a.b, a.*, a.>) got {counts:?}; round-robin gives each {} ± 1",
            N / 3
        );
        let got_h = take_exactly(&mut h, N, "group h (a.*)").await;
        assert_each_once(&got_h, N, "group h");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_subscribers_each_get_every_message_beside_a_group() {
    for_each_shard_count(|server, _shards| async move {
        const N: usize = 300;
        let mut clients = Vec::new();
        let mut members = Vec::new();
        let mut plains = Vec::new();
        for i in 0..5 {
            if i % 2 == 0 {
                let (c, s) = queue_member(&server, "mix.x", "grp").await;
                clients.push(c);
                members.push(s);
            } else {
                let c = connect(&server).await;
                let s = c.subscribe("mix.x").await.unwrap();
                clients.push(c);
                plains.push(s);
            }
        }
        let publisher = connect(&server).await;
        barrier(&publisher, &clients.iter().collect::<Vec<_>>()).await;
        let mut group = merged(members);
        for k in 0..N {
            publisher
                .publish("mix.x", k.to_string().into())
                .await
                .unwrap();
        }
        flush(&publisher).await;
        let got = take_exactly(&mut group, N, "group beside plain subscribers").await;
        assert_each_once(&got, N, "group beside plain subscribers");
        for (i, p) in plains.into_iter().enumerate() {
            let mut p = merged(vec![p]);
            let got = take_exactly(&mut p, N, &format!("plain subscriber {i}")).await;
            let order: Vec<usize> = got
                .iter()
                .map(|(_, m)| std::str::from_utf8(&m.payload).unwrap().parse().unwrap())
                .collect();
            assert!(
                order.iter().copied().eq(0..N),
                "plain subscriber {i}: not 0..{N} in order"
            );
        }
    })
    .await;
}

/// Messages in a raw read: (control line without CRLF, payload) per MSG; skips server PINGs
/// and panics on anything else that is not a complete MSG.
fn parse_msgs(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let eol = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("complete line");
        let line = String::from_utf8_lossy(&bytes[..eol]).into_owned();
        if line == "PING" {
            // The server's first PING, ~2 s after connect; a slow run gets there.
            bytes = &bytes[eol + 2..];
            continue;
        }
        assert!(line.starts_with("MSG "), "not a MSG: {line:?}");
        let size: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
        let payload = bytes[eol + 2..eol + 2 + size].to_vec();
        assert_eq!(&bytes[eol + 2 + size..eol + 4 + size], b"\r\n");
        bytes = &bytes[eol + 4 + size..];
        out.push((line, payload));
    }
    out
}

/// A raw queue member (sid 1) on `subject`, subscribed and flushed.
fn raw_member(server: &Running, subject: &str, group: &str) -> RawClient {
    let mut c = server.raw();
    c.handshake(r#"{"verbose":false,"pedantic":false}"#);
    c.send(format!("SUB {subject} {group} 1\r\nPING\r\n").as_bytes());
    c.expect(b"PONG\r\n");
    c
}

/// Reads up to the PONG, answering any server PING first.
fn expect_pong(c: &mut RawClient) {
    loop {
        match c.read_line().as_str() {
            "PING\r\n" => c.send(b"PONG\r\n"),
            "PONG\r\n" => return,
            other => panic!("expected PONG, got {other:?}"),
        }
    }
}

/// How a member leaves the group in [`member_that_leaves_is_skipped_at_once`].
#[derive(Clone, Copy, Debug)]
enum Leave {
    Unsubscribe,
    Disconnect,
}

/// A raw member (connection 0) and two async-nats members (connections 1, 2) share the work;
/// then the raw member leaves, and everything published afterwards must reach the other two.
async fn member_that_leaves_is_skipped_at_once(server: Running, leave: Leave) {
    let mut raw = tokio::task::block_in_place(|| raw_member(&server, "leave.x", "q"));
    let (a, sa) = queue_member(&server, "leave.x", "q").await;
    let (b, sb) = queue_member(&server, "leave.x", "q").await;
    let publisher = connect(&server).await;
    barrier(&publisher, &[&a, &b]).await;
    let mut rest = merged(vec![sa, sb]);

    const BEFORE: usize = 30;
    for k in 0..BEFORE {
        publisher
            .publish("leave.x", k.to_string().into())
            .await
            .unwrap();
    }
    flush(&publisher).await;
    let to_raw = tokio::task::block_in_place(|| parse_msgs(&raw.read_for(QUIET)));
    assert!(
        !to_raw.is_empty(),
        "the raw member got nothing of the first {BEFORE}"
    );
    let got = take_exactly(&mut rest, BEFORE - to_raw.len(), "the others, before").await;
    assert_eq!(got.len() + to_raw.len(), BEFORE);

    tokio::task::block_in_place(|| match leave {
        Leave::Unsubscribe => {
            raw.send(b"UNSUB 1\r\nPING\r\n");
            expect_pong(&mut raw);
        }
        Leave::Disconnect => {
            raw.send(b"PING\r\n");
            expect_pong(&mut raw);
            raw.stream.shutdown(std::net::Shutdown::Both).unwrap();
            // The server learns of the close from the socket; give it that one event.
            std::thread::sleep(Duration::from_millis(100));
        }
    });

    const AFTER: usize = 300;
    for k in 0..AFTER {
        publisher
            .publish("leave.x", k.to_string().into())
            .await
            .unwrap();
    }
    flush(&publisher).await;
    let got = take_exactly(
        &mut rest,
        AFTER,
        &format!("remaining members after {leave:?}"),
    )
    .await;
    assert_each_once(&got, AFTER, "remaining members");
    if let Leave::Unsubscribe = leave {
        let late = tokio::task::block_in_place(|| parse_msgs(&raw.read_for(QUIET)));
        assert!(
            late.is_empty(),
            "unsubscribed member still got {} messages: {late:?}",
            late.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_that_unsubscribes_is_skipped_at_once() {
    for_each_shard_count(|server, _| {
        member_that_leaves_is_skipped_at_once(server, Leave::Unsubscribe)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_that_disconnects_is_skipped_at_once() {
    for_each_shard_count(|server, _| {
        member_that_leaves_is_skipped_at_once(server, Leave::Disconnect)
    })
    .await;
}
