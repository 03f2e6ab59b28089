//! `/subsz?subs=1`'s `pending_msgs` (natrix's addition for seed 003's monitor, issue 9.5):
//! messages queued to a subscription and not yet written to its socket. A subscriber that
//! stops reading while a publisher sends more than the socket buffers hold shows a count
//! above zero; once it reads everything the count is zero again. natrix only: nats-server
//! has no such key.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::ops::{free_port, http_get};
use common::procs::{against_reference, Server};

const PAYLOAD_BYTES: usize = 64 * 1024;
/// 24 MiB: more than the kernel's socket buffers, less than max_pending (64 MiB).
const MESSAGES: usize = 384;
const WAIT_MAX: Duration = Duration::from_secs(20);

fn pending_of(port: u16, subject: &str) -> Option<u64> {
    let doc = http_get(port, "/subsz?subs=1").json();
    doc["subscriptions_list"]
        .as_array()?
        .iter()
        .find(|s| s["subject"] == subject)
        .and_then(|s| s["pending_msgs"].as_u64())
}

fn connect(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut info = [0u8; 4096];
    let _ = s.read(&mut info).expect("INFO");
    s.write_all(b"CONNECT {\"verbose\":false}\r\n").unwrap();
    s
}

#[test]
fn pending_msgs_counts_what_a_stalled_subscriber_has_not_been_written_yet() {
    if against_reference() {
        return;
    }
    let http = free_port();
    let http_s = http.to_string();
    let server = Server::start(1, &["-m", &http_s]);
    let port = server.port;
    let mut sub = connect(port);
    sub.write_all(b"SUB stalled 1\r\nPING\r\n").unwrap();
    let mut pong = [0u8; 16];
    let _ = sub.read(&mut pong).unwrap();
    assert_eq!(
        pending_of(http, "stalled"),
        Some(0),
        "idle: nothing pending"
    );

    let mut publisher = connect(port);
    let payload = vec![b'x'; PAYLOAD_BYTES];
    for _ in 0..MESSAGES {
        publisher
            .write_all(format!("PUB stalled {PAYLOAD_BYTES}\r\n").as_bytes())
            .unwrap();
        publisher.write_all(&payload).unwrap();
        publisher.write_all(b"\r\n").unwrap();
    }
    publisher.write_all(b"PING\r\n").unwrap();
    let _ = publisher.read(&mut pong).unwrap();
    let deadline = Instant::now() + WAIT_MAX;
    let mut seen = 0;
    while Instant::now() < deadline {
        seen = pending_of(http, "stalled").unwrap_or(0);
        if seen > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen > 0, "a stalled subscriber has messages pending");
    assert!(seen <= MESSAGES as u64, "{seen} pending of {MESSAGES} sent");

    // Read everything; then nothing is pending.
    let want = MESSAGES * PAYLOAD_BYTES;
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 20];
    while got < want && Instant::now() < deadline {
        match sub.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("reading the subscriber: {e}"),
        }
    }
    assert!(got >= want, "read {got} of at least {want} bytes");
    let mut after = u64::MAX;
    while Instant::now() < deadline {
        after = pending_of(http, "stalled").unwrap_or(u64::MAX);
        if after == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(after, 0, "everything written: nothing pending");
}
