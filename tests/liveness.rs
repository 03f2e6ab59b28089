//! Keeping connections alive and ending them: server PINGs and stale connections, slow
//! consumers, graceful shutdown on signals, auto-unsubscribe and echo, across shards.
//!
//! Connections are spread round-robin over shards in accept order (connection k goes to shard
//! k mod N).

mod common;

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions, Subscriber};
use common::{RawClient, TestServer};
use futures::StreamExt;

const QUIET: Duration = Duration::from_millis(300);

use common::scenario::*;

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

// ---- server PINGs ----

#[test]
fn first_server_ping_comes_about_two_seconds_after_connect() {
    let server = start(2, &[]);
    // Connections 0 and 1: one on each shard.
    let clients: Vec<_> = (0..2)
        .map(|i| {
            let t0 = Instant::now();
            let c = server.quiet();
            (i, t0, c)
        })
        .collect();
    let threads: Vec<_> = clients
        .into_iter()
        .map(|(i, t0, mut c)| {
            std::thread::spawn(move || {
                let line = c.read_line();
                let at = t0.elapsed();
                assert_eq!(
                    line, "PING\r\n",
                    "connection {i}: first line after the PONG"
                );
                assert!(
                    (1.5..=3.5).contains(&secs(at)),
                    "connection {i}: first server PING after {at:?}, want 1.5–3.5 s"
                );
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn unanswered_pings_end_in_stale_connection_error_and_close() {
    let server = start(2, &["--ping_interval", "1", "--ping_max", "2"]);
    let _first = server.raw(); // so the tested connection is on shard 1
    let t0 = Instant::now();
    let mut c = server.quiet();
    let mut at = Vec::new();
    for want in ["PING\r\n", "PING\r\n", "-ERR 'Stale Connection'\r\n"] {
        let line = c.read_line();
        at.push(secs(t0.elapsed()));
        assert_eq!(line, want, "lines so far arrived at {at:?} s");
    }
    c.expect_closed();
    assert!(
        (0.7..=1.8).contains(&at[0]),
        "first PING at {:.2} s, want ~1 s",
        at[0]
    );
    assert!(
        (1.7..=3.0).contains(&at[1]),
        "second PING at {:.2} s, want ~2 s",
        at[1]
    );
    assert!(
        (2.7..=4.5).contains(&at[2]),
        "stale error at {:.2} s, want ~3 s",
        at[2]
    );
}

/// Answers every server PING for `for_ms` with `--ping_interval 1 --ping_max 2`; returns
/// when each PING came (seconds after the handshake) and the client, still open.
fn answer_pings(for_ms: u64) -> (Vec<f64>, RawClient, TestServer) {
    let server = start(2, &["--ping_interval", "1", "--ping_max", "2"]);
    let mut c = server.quiet();
    let t0 = Instant::now();
    let mut pings = Vec::new();
    while t0.elapsed() < Duration::from_millis(for_ms) {
        let got = c.read_for(Duration::from_millis(50));
        let text = String::from_utf8_lossy(&got).into_owned();
        for line in text.split_terminator("\r\n") {
            assert_eq!(
                line, "PING",
                "after PINGs at {pings:?} s the server sent {text:?}"
            );
            pings.push((secs(t0.elapsed()) * 100.0).round() / 100.0);
            c.send(b"PONG\r\n");
        }
    }
    (pings, c, server)
}

#[test]
fn answered_pings_keep_the_connection_open() {
    // Unanswered, the connection would be stale after ~3 s.
    let (pings, mut c, _server) = answer_pings(5500);
    assert!(pings.len() >= 2, "server PINGs at {pings:?} s");
    c.send(b"PING\r\n");
    let line = c.read_line();
    let line = if line == "PING\r\n" {
        c.read_line()
    } else {
        line
    };
    assert_eq!(line, "PONG\r\n", "connection no longer answers");
}

/// nats-server 2.15.1 with `ping_interval: "1s"` PINGs at ~1, 2, 3, 4, 5 s a client that only
/// answers with PONGs: a PONG does not count as activity that puts the next PING off.
#[test]
fn server_pings_every_interval_while_the_client_only_answers() {
    let (pings, _c, _server) = answer_pings(5500);
    assert!(
        pings.len() >= 5,
        "server PINGs at {pings:?} s; nats-server sends one a second"
    );
}

// ---- slow consumers ----

/// Reads until end of stream; returns the bytes, or panics if the connection stays open.
fn read_until_closed(c: &mut RawClient, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut all = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "connection still open after {within:?} ({} bytes read)",
            all.len()
        );
        c.stream.set_read_timeout(Some(left)).unwrap();
        match c.stream.read(&mut chunk) {
            Ok(0) => return all,
            Ok(k) => all.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// How the publisher in [`slow_consumer_scenario`] sends.
#[derive(Clone, Copy, Debug)]
enum Pace {
    /// A PING/PONG after every this many messages, so no read batch holds much.
    PingEvery(usize),
    /// Everything at once.
    Burst,
}

/// Where the reading subscriber sits relative to the publisher (with 2 shards).
#[derive(Clone, Copy, Debug)]
enum Reader {
    OnPublisherShard,
    OnOtherShard,
}

/// A subscriber that never reads (connection 0), one that reads all it can (connection 1),
/// and a publisher sending 1 KiB messages, 8 MiB in all, with `--max_pending 65536`. The
/// kernel holds a few MiB for the one that does not read (its receive window stays small, the
/// server's send buffer is at most 4 MiB), so the server's own queue for it must pass the
/// limit and it must be closed, silently. The reader must get every message, byte for byte.
fn slow_consumer_scenario(shards: usize, pace: Pace, placement: Reader) {
    const COUNT: usize = 8 * 1024;
    const SIZE: usize = 1024;
    const FRAME: usize = SIZE + 18; // "MSG big 2 1024\r\n" + payload + "\r\n"
    let server = start(
        shards,
        &["--max_pending", "65536", "--max_payload", "32768"],
    );
    let mut slow = server.quiet();
    slow.sync(b"SUB big 1\r\n");
    let mut good = server.quiet();
    good.sync(b"SUB big 2\r\n");
    // The publisher is connection 3 (beside the reader) or 2 (beside the slow consumer).
    let _spacer = matches!(placement, Reader::OnPublisherShard).then(|| server.raw());
    let payload = |k: usize| {
        let mut p = format!("{k:08}").into_bytes();
        p.resize(SIZE, b'x');
        p
    };
    let mut expected = Vec::with_capacity(COUNT * FRAME);
    for k in 0..COUNT {
        expected.extend_from_slice(format!("MSG big 2 {SIZE}\r\n").as_bytes());
        expected.extend_from_slice(&payload(k));
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(expected.len(), COUNT * FRAME);
    let want = expected.len();
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::with_capacity(want);
        while got.len() < want && Instant::now() < deadline {
            let chunk = good.read_for(Duration::from_millis(20));
            if chunk.is_empty() && got.len() < want && read_closed(&mut good) {
                break;
            }
            got.extend_from_slice(&chunk);
        }
        got.extend_from_slice(&good.read_for(QUIET));
        without_server_pings(got)
    });
    let mut publisher = server.quiet();
    for k in 0..COUNT {
        let mut frame = format!("PUB big {SIZE}\r\n").into_bytes();
        frame.extend_from_slice(&payload(k));
        frame.extend_from_slice(b"\r\n");
        publisher.send(&frame);
        if let Pace::PingEvery(n) = pace {
            if k % n == n - 1 {
                publisher.send(b"PING\r\n");
                expect_pong(&mut publisher);
            }
        }
    }
    publisher.send(b"PING\r\n");
    expect_pong(&mut publisher);

    let got = reader.join().unwrap();
    if got != expected {
        let at = got
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len());
        let log: Vec<String> = server.log.try_iter().collect();
        panic!(
            "publisher pace {pace:?}, reader {placement:?}: the reading subscriber got {} of {want} bytes ({} of \
             {COUNT} messages); first difference at byte {at}; server log: {log:#?}",
            got.len(),
            got.len() / FRAME,
        );
    }
    let drained = catch_unwind(AssertUnwindSafe(|| {
        read_until_closed(&mut slow, Duration::from_secs(10))
    }))
    .unwrap_or_else(|e| {
        let log: Vec<String> = server.log.try_iter().collect();
        panic!(
            "the slow consumer: {}; server log: {log:#?}",
            panic_string(&*e)
        )
    });
    eprintln!(
        "{shards} shard(s), {pace:?}, {placement:?}: reader got {} bytes; the slow consumer got \
         {} before its close",
        got.len(),
        drained.len()
    );
    assert!(
        drained.len() < want,
        "the slow consumer got everything ({} bytes)",
        drained.len()
    );
    assert!(
        !drained.windows(4).any(|w| w == b"-ERR"),
        "the slow consumer was sent an -ERR (nats-server closes it silently)"
    );
    publisher.send(b"PING\r\n");
    expect_pong(&mut publisher);
}

fn panic_string(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The stream without the server's PINGs (whole lines between messages; the first comes
/// ~2 s after connect, and a slow run can take that long).
fn without_server_pings(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = &bytes[..];
    while let Some(at) = rest.windows(6).position(|w| w == b"PING\r\n") {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + 6..];
    }
    out.extend_from_slice(rest);
    out
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

/// Whether the server has closed `c` (a zero-length read right now).
fn read_closed(c: &mut RawClient) -> bool {
    c.stream.set_nonblocking(true).unwrap();
    let mut one = [0u8; 1];
    let closed = matches!(c.stream.peek(&mut one), Ok(0));
    c.stream.set_nonblocking(false).unwrap();
    closed
}

fn on_each_shard_count_in_threads(shard_counts: &[usize], scenario: fn(usize)) {
    let threads: Vec<_> = shard_counts
        .iter()
        .map(|&shards| (shards, std::thread::spawn(move || scenario(shards))))
        .collect();
    let mut failures = Vec::new();
    for (shards, t) in threads {
        if let Err(e) = t.join() {
            let text = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("with {shards} shard(s): {text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn slow_consumer_is_closed_while_another_subscriber_gets_everything() {
    on_each_shard_count_in_threads(&[1, 2], |shards| {
        slow_consumer_scenario(shards, Pace::PingEvery(32), Reader::OnPublisherShard)
    });
}

/// nats-server 2.15.1 passes this with the same limits: a producer that fills a consumer's
/// queue past 75 % of max_pending is stalled briefly so the consumer's writer can drain it.
#[test]
fn reading_subscriber_survives_a_publisher_burst_under_a_small_max_pending() {
    on_each_shard_count_in_threads(&[1, 2], |shards| {
        slow_consumer_scenario(shards, Pace::Burst, Reader::OnPublisherShard)
    });
}

/// The reader on another shard than a publisher that waits for a PONG every 32 KiB.
#[test]
fn reading_subscriber_on_another_shard_survives_a_paced_publisher() {
    on_each_shard_count_in_threads(&[2], |shards| {
        slow_consumer_scenario(shards, Pace::PingEvery(32), Reader::OnOtherShard)
    });
}

/// A thread that reads `sub` until `want` bytes arrived (or 30 s passed, or it closed), at
/// most `chunk` bytes per read with a `pause` after each: a consumer that reads well but
/// slower than its producers. Returns the byte count and the connection.
fn throttled_reader(
    mut sub: RawClient,
    want: usize,
    chunk: usize,
    pause: Duration,
) -> std::thread::JoinHandle<(usize, RawClient)> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = 0usize;
        let mut buf = vec![0u8; chunk];
        sub.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while got < want && Instant::now() < deadline {
            match sub.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
            std::thread::sleep(pause);
        }
        (got, sub)
    })
}

/// A subscriber that reads at about 100 MB/s on one shard, and a publisher on the other that
/// bursts 24 MiB of 64 KiB messages without waiting, under `--max_pending 4194304`. The
/// publisher's shard must hold back (its reads wait while the hand-off to the subscriber's
/// shard is full, and that shard stalls per 64 KiB delivered, as nats-server stalls per read)
/// instead of overrunning the subscriber's max_pending: every message arrives and the
/// subscriber is not closed as a slow consumer.
#[test]
fn throttled_reader_on_another_shard_survives_a_burst_of_large_messages() {
    const COUNT: usize = 384;
    const SIZE: usize = 64 * 1024;
    let server = start(2, &["--max_pending", "4194304"]);
    let mut sub = server.quiet(); // connection 0: shard 0
    sub.sync(b"SUB big 1\r\n");
    let mut publisher = server.quiet(); // connection 1: shard 1
    let head = format!("MSG big 1 {SIZE}\r\n");
    let frame_len = head.len() + SIZE + 2;
    let want = COUNT * frame_len;
    // About 100 MB/s at most: far below what the publisher sends.
    let reader = throttled_reader(sub, want, 256 * 1024, Duration::from_micros(2500));
    let mut burst = Vec::with_capacity(COUNT * (SIZE + 32));
    for k in 0..COUNT {
        burst.extend_from_slice(format!("PUB big {SIZE}\r\n").as_bytes());
        burst.extend(std::iter::repeat_n(b'a' + (k % 26) as u8, SIZE));
        burst.extend_from_slice(b"\r\n");
    }
    publisher.send(&burst);
    publisher.send(b"PING\r\n");
    expect_pong(&mut publisher);
    let (got, mut sub) = reader.join().unwrap();
    let log: Vec<String> = server.log.try_iter().collect();
    // `got` may include a server PING; the connection must still be open either way.
    assert!(
        got >= want,
        "the throttled reader got {got} of {want} bytes; server log: {log:#?}"
    );
    sub.send(b"PING\r\n");
    let rest = sub.read_for(QUIET);
    assert!(
        rest.ends_with(b"PONG\r\n"),
        "the reader's connection no longer answers: {:?}",
        String::from_utf8_lossy(&rest[rest.len().saturating_sub(64)..])
    );
    assert!(
        !log.iter().any(|l| l.contains("Slow Consumer")),
        "server log: {log:#?}"
    );
}

/// Four publishers burst 1 KiB messages (12 MiB in all) at one subscriber that reads at
/// about 100 MB/s, under `--max_pending 2097152`. Every publisher that feeds the subscriber
/// while it is over the stall mark must be stalled, not only the first: the subscriber gets
/// every message and is not closed as a slow consumer. With 2 shards the publishers sit on
/// both shards, so local readers and a peer's batches feed it at once.
#[test]
fn throttled_reader_survives_four_bursting_publishers() {
    on_each_shard_count_in_threads(&[1, 2], |shards| {
        const PUBLISHERS: usize = 4;
        const PER_PUBLISHER: usize = 3 * 1024;
        const SIZE: usize = 1024;
        let server = start(shards, &["--max_pending", "2097152"]);
        let mut sub = server.quiet();
        sub.sync(b"SUB fan.in 1\r\n");
        let frame_len = format!("MSG fan.in 1 {SIZE}\r\n").len() + SIZE + 2;
        let want = PUBLISHERS * PER_PUBLISHER * frame_len;
        let reader = throttled_reader(sub, want, 64 * 1024, Duration::from_micros(500));
        let mut burst = Vec::new();
        for _ in 0..PER_PUBLISHER {
            burst.extend_from_slice(format!("PUB fan.in {SIZE}\r\n").as_bytes());
            burst.extend(std::iter::repeat_n(b'z', SIZE));
            burst.extend_from_slice(b"\r\n");
        }
        let burst = std::sync::Arc::new(burst);
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|_| {
                let mut p = server.quiet();
                let burst = burst.clone();
                std::thread::spawn(move || {
                    p.send(&burst);
                    p.send(b"PING\r\n");
                    expect_pong(&mut p);
                })
            })
            .collect();
        for p in publishers {
            p.join().unwrap();
        }
        let (got, mut sub) = reader.join().unwrap();
        let log: Vec<String> = server.log.try_iter().collect();
        assert!(
            got >= want,
            "{shards} shard(s): the reader got {got} of {want} bytes; server log: {log:#?}"
        );
        sub.send(b"PING\r\n");
        let rest = sub.read_for(QUIET);
        assert!(
            rest.ends_with(b"PONG\r\n"),
            "{shards} shard(s): the reader was closed"
        );
    });
}

// ---- graceful shutdown ----

fn stop_with_signal_scenario(signal: i32) {
    let server = start(2, &[]);
    let mut clients: Vec<RawClient> = (0..4)
        .map(|i| {
            let mut c = server.quiet();
            c.send(format!("SUB s.{i} 1\r\nPING\r\n").as_bytes());
            c.expect(b"PONG\r\n");
            c
        })
        .collect();
    let t0 = Instant::now();
    let status = server.signal_and_wait(signal);
    let took = t0.elapsed();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after signal {signal}: {status:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "exit took {took:?} after signal {signal}"
    );
    for (i, c) in clients.iter_mut().enumerate() {
        let rest = without_server_pings(read_until_closed(c, Duration::from_secs(2)));
        assert!(
            rest.is_empty(),
            "client {i} got {:?} before the close",
            String::from_utf8_lossy(&rest)
        );
    }
}

#[test]
fn sigterm_with_connected_clients_exits_zero_and_closes_them() {
    stop_with_signal_scenario(libc::SIGTERM);
}

#[test]
fn sigint_with_connected_clients_exits_zero_and_closes_them() {
    stop_with_signal_scenario(libc::SIGINT);
}

// ---- auto-unsubscribe ----

fn count_msgs(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).matches("MSG ").count()
}

/// Raw protocol, so the count is the server's and not async-nats's own bookkeeping.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsub_with_max_delivers_exactly_max_across_shards() {
    for_each_shard_count(|server, _shards| async move {
        tokio::task::block_in_place(|| {
            let mut sub = server.quiet();
            sub.sync(b"SUB auto.x 1\r\nUNSUB 1 5\r\n");
            let mut publisher = server.quiet();
            for k in 0..10 {
                publisher.send(format!("PUB auto.x 2\r\n{k:02}\r\n").as_bytes());
            }
            publisher.sync(b"");
            for k in 0..5 {
                sub.expect(format!("MSG auto.x 1 2\r\n{k:02}\r\n").as_bytes());
            }
            sub.expect_nothing(QUIET);
            // The subscription is gone: a new one may reuse the sid.
            sub.sync(b"SUB auto.x 1\r\n");
            publisher.sync(b"PUB auto.x 2\r\nok\r\n");
            sub.expect(b"MSG auto.x 1 2\r\nok\r\n");
        });
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsub_with_max_counts_per_queue_member_across_shards() {
    for_each_shard_count(|server, _shards| async move {
        tokio::task::block_in_place(|| {
            let mut limited = server.quiet();
            limited.sync(b"SUB auto.q g 1\r\nUNSUB 1 2\r\n");
            let mut other = server.quiet();
            other.sync(b"SUB auto.q g 1\r\n");
            let mut publisher = server.quiet();
            for _ in 0..20 {
                publisher.send(b"PUB auto.q 1\r\nm\r\n");
            }
            publisher.sync(b"");
            let a = count_msgs(&limited.read_for(QUIET));
            let b = count_msgs(&other.read_for(QUIET));
            assert_eq!(
                (a, b),
                (2, 18),
                "(member with max 2, other member) of 20 messages"
            );
        });
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_nats_unsubscribe_after_ends_the_subscription_after_max() {
    for_each_shard_count(|server, _shards| async move {
        let c = connect(&server).await;
        let mut sub = c.subscribe("auto.client").await.unwrap();
        sub.unsubscribe_after(3).await.unwrap();
        let publisher = connect(&server).await;
        barrier(&publisher, &[&c]).await;
        for k in 0..6 {
            publisher
                .publish("auto.client", k.to_string().into())
                .await
                .unwrap();
        }
        flush(&publisher).await;
        let mut got = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
            got.push(String::from_utf8(m.payload.to_vec()).unwrap());
        }
        assert_eq!(got, ["0", "1", "2"]);
        // The stream ended (None) rather than timing out.
        assert!(tokio::time::timeout(QUIET, sub.next())
            .await
            .is_ok_and(|m| m.is_none()));
    })
    .await;
}

// ---- echo ----

async fn received(sub: &mut Subscriber) -> usize {
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(QUIET, sub.next()).await {
        n += 1;
    }
    n
}

async fn subscribe_both(c: &Client) -> (Subscriber, Subscriber) {
    let plain = c.subscribe("echo.plain").await.unwrap();
    let queue = c.queue_subscribe("echo.q", "g".to_string()).await.unwrap();
    (plain, queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_echo_stops_self_delivery_for_plain_and_queue_subscriptions() {
    for_each_shard_count(|server, _shards| async move {
        // Connection 0 publishes with echo off; connection 1, on another shard, listens too.
        let quiet = ConnectOptions::new()
            .no_echo()
            .connect(server.url())
            .await
            .unwrap();
        let other = connect(&server).await;
        let (mut own_plain, mut own_queue) = subscribe_both(&quiet).await;
        let (mut other_plain, mut other_queue) = subscribe_both(&other).await;
        barrier(&quiet, &[&other]).await;
        barrier(&other, &[&quiet]).await;
        for k in 0..10 {
            quiet
                .publish("echo.plain", k.to_string().into())
                .await
                .unwrap();
            quiet.publish("echo.q", k.to_string().into()).await.unwrap();
        }
        flush(&quiet).await;
        let counts = (
            received(&mut own_plain).await,
            received(&mut own_queue).await,
            received(&mut other_plain).await,
            received(&mut other_queue).await,
        );
        assert_eq!(
            counts,
            (0, 0, 10, 10),
            "(own plain, own queue member, other plain, other queue member) with echo off"
        );
        // The same from a connection with echo on: it gets its own plain copy, and the group
        // shares the queue messages.
        for k in 0..10 {
            other
                .publish("echo.plain", k.to_string().into())
                .await
                .unwrap();
            other.publish("echo.q", k.to_string().into()).await.unwrap();
        }
        flush(&other).await;
        let (a, b) = (
            received(&mut own_queue).await,
            received(&mut other_queue).await,
        );
        assert_eq!(
            received(&mut other_plain).await,
            10,
            "echo on: own plain copy"
        );
        assert_eq!(
            received(&mut own_plain).await,
            10,
            "echo-off client still receives others'"
        );
        assert_eq!(a + b, 10, "queue group with echo on: ({a}, {b})");
    })
    .await;
}
