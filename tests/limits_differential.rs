//! Differential tests for the connection limits set in the config file: max_connections
//! (including 0), max_subscriptions, max_payload and max_control_line. Same config, same
//! raw-protocol scenario against the reference nats-server and natrix; the bytes must match.
//!
//! The runner and its self check (`NATRIX_DIFF_SELF_CHECK=1`) are in `tests/common/ops.rs`.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::ops::{differential, Conn, Running, Transcript, STEP_TIMEOUT};

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// Opens a connection, records its INFO and whatever follows a quiet CONNECT and PING.
fn attempt(r: &Running, t: &mut Transcript, label: &str) -> (Conn, String) {
    let mut c = r.conn_info(t, label);
    let mut got = c.ping(format!("CONNECT {QUIET}\r\n").as_bytes());
    if !got.ends_with("PONG\\r\\n") && !got.ends_with("<EOF>") {
        got += &c.until_closed();
    }
    (c, got)
}

const MAX_CONNS_ERR: &str = "-ERR 'maximum connections exceeded'\\r\\n<EOF>";

#[test]
fn max_connections_refuses_after_info() {
    differential("max_connections", "max_connections: 2\n", false, |r, t| {
        let (a, got) = attempt(r, t, "first");
        t.want("first", got, "PONG\\r\\n");
        let (_b, got) = attempt(r, t, "second");
        t.want("second", got, "PONG\\r\\n");
        // The third gets its INFO, then the error, then the close, without sending anything.
        let mut c = r.conn_info(t, "third");
        t.want("third", c.until_closed(), MAX_CONNS_ERR);
        // A slot freed by a close is usable again (the server notices the close a moment
        // later, so a refused retry is not recorded).
        drop(a);
        let deadline = Instant::now() + STEP_TIMEOUT;
        let got = loop {
            let mut c = r.conn();
            c.info();
            let got = c.ping(format!("CONNECT {QUIET}\r\n").as_bytes());
            if got == "PONG\\r\\n" || Instant::now() > deadline {
                break got;
            }
            thread::sleep(Duration::from_millis(50));
        };
        t.want("after a close", got, "PONG\\r\\n");
    });
}

#[test]
fn max_connections_zero_refuses_everyone() {
    differential(
        "max_connections_zero",
        "max_connections: 0\n",
        false,
        |r, t| {
            let mut c = r.conn_info(t, "first");
            t.want("first", c.until_closed(), MAX_CONNS_ERR);
            let mut c = r.conn_info(t, "second");
            c.send(format!("CONNECT {QUIET}\r\nPING\r\n").as_bytes());
            t.want("second, talking", c.until_closed(), MAX_CONNS_ERR);
        },
    );
}

#[test]
fn max_subscriptions_refuses_without_closing() {
    differential(
        "max_subscriptions",
        "max_subscriptions: 2\n",
        false,
        |r, t| {
            let (mut c, got) = attempt(r, t, "client");
            t.want("connect", got, "PONG\\r\\n");
            let got = c.ping(b"SUB a 1\r\nSUB b 2\r\n");
            t.want("two SUBs", got, "PONG\\r\\n");
            let got = c.ping(b"SUB c 3\r\n");
            t.want(
                "the third",
                got,
                "-ERR 'maximum subscriptions exceeded'\\r\\nPONG\\r\\n",
            );
            let got = c.ping(b"PUB c 1\r\nx\r\nPUB a 1\r\ny\r\n");
            t.want(
                "the refused SUB gets nothing",
                got,
                "MSG a 1 1\\r\\ny\\r\\nPONG\\r\\n",
            );
            let got = c.ping(b"SUB a q 4\r\n");
            t.saw("a queue SUB counts too", got);
            let got = c.ping(b"UNSUB 1\r\nSUB c 5\r\nPUB c 1\r\nz\r\n");
            t.want("room after UNSUB", got, "MSG c 5 1\\r\\nz\\r\\nPONG\\r\\n");
            // The limit is per connection.
            let (mut other, _) = attempt(r, t, "other");
            let got = other.ping(b"SUB a 1\r\nSUB b 2\r\n");
            t.want("another connection", got, "PONG\\r\\n");
        },
    );
}

#[test]
fn max_payload_from_config() {
    differential("max_payload", "max_payload: 100\n", false, |r, t| {
        // INFO carries the configured max_payload.
        let (mut c, got) = attempt(r, t, "client");
        t.want("connect", got, "PONG\\r\\n");
        let exact = format!("SUB big 1\r\nPUB big 100\r\n{}\r\n", "x".repeat(100));
        let got = c.ping(exact.as_bytes());
        t.want(
            "100 bytes",
            got,
            &format!("MSG big 1 100\\r\\n{}\\r\\nPONG\\r\\n", "x".repeat(100)),
        );
        c.send(b"PUB big 101\r\n");
        t.want(
            "101 bytes",
            c.until_closed(),
            "-ERR 'Maximum Payload Violation'\\r\\n<EOF>",
        );
        let (mut h, _) = attempt(r, t, "headers");
        h.send(b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB big 12 101\r\n");
        t.want(
            "HPUB total over the limit",
            h.until_closed(),
            "-ERR 'Maximum Payload Violation'\\r\\n<EOF>",
        );
    });
}

#[test]
fn max_control_line_from_config() {
    differential(
        "max_control_line",
        "max_control_line: 64\n",
        false,
        |r, t| {
            // The arguments of `SUB <subject> 1`: the subject, a space and the sid.
            for args_len in [62usize, 63, 64, 65, 66] {
                let (mut c, _) = attempt(r, t, &format!("args {args_len}"));
                let subject = "s".repeat(args_len - 2);
                let got = c.ping(format!("SUB {subject} 1\r\n").as_bytes());
                let got = if got.ends_with("PONG\\r\\n") || got.ends_with("<EOF>") {
                    got
                } else {
                    got + &c.until_closed()
                };
                t.saw(&format!("SUB with {args_len} bytes of arguments"), got);
            }
            let (mut c, _) = attempt(r, t, "long PUB");
            c.send(format!("PUB {} 1\r\nx\r\n", "p".repeat(100)).as_bytes());
            t.want(
                "a 100-byte subject",
                c.until_closed(),
                "-ERR 'maximum control line exceeded'\\r\\n<EOF>",
            );
        },
    );
}

#[test]
fn tls_handshake_timeout_closes_a_client_that_never_starts_tls() {
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs");
    let conf = format!(
        "tls {{\n  cert_file: \"{certs}/server.pem\"\n  key_file: \"{certs}/server-key.pem\"\n  \
         timeout: 0.5\n}}\n"
    );
    differential("tls_timeout", &conf, false, |r, t| {
        // The client reads INFO and never starts TLS: after tls.timeout the server closes,
        // without a word (nats-server 2.15.1 sends no -ERR here, whatever its docs say).
        let mut c = r.conn_info(t, "plain client");
        let t0 = Instant::now();
        t.want("after the TLS timeout", c.until_closed(), "<EOF>");
        t.check(
            "closed after the timeout, not at once",
            t0.elapsed() >= Duration::from_millis(400),
            format!("closed after {:?}", t0.elapsed()),
        );
    });
}

#[test]
fn write_deadline_closes_a_consumer_that_does_not_read() {
    // max_pending is far above what the sockets can hold, so only the write deadline can
    // end the consumer that never reads.
    let conf = "write_deadline: \"500ms\"\nmax_pending: 512MB\n";
    differential("write_deadline", conf, true, |r, t| {
        let (mut sleeper, got) = attempt(r, t, "sleeper");
        t.want("sleeper", got, "PONG\\r\\n");
        let got = sleeper.ping(b"SUB flood 1\r\n");
        t.want("sleeper subscribes", got, "PONG\\r\\n");
        let (mut publisher, _) = attempt(r, t, "publisher");
        let payload = "x".repeat(64 * 1024);
        let frame = format!("PUB flood {}\r\n{payload}\r\n", payload.len());
        // 32 MiB: more than the loopback socket buffers hold, less than max_pending.
        for _ in 0..512 {
            publisher.send(frame.as_bytes());
        }
        let got = publisher.ping(b"");
        t.want("the publisher is not held up", got, "PONG\\r\\n");
        let deadline = Instant::now() + STEP_TIMEOUT;
        let reasons = loop {
            let connz = r.get("/connz?state=closed").json();
            let reasons: Vec<String> = connz["connections"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c["reason"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if !reasons.is_empty() || Instant::now() > deadline {
                break reasons;
            }
            thread::sleep(Duration::from_millis(50));
        };
        t.want(
            "closed for the write deadline",
            reasons.join(","),
            "Slow Consumer (Write Deadline)",
        );
        drop(sleeper);
    });
}
