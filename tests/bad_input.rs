//! Clients that send bad bytes: each gets nats-server's exact answer (an `-ERR` and a close, a
//! silent close, or an `-ERR` on a connection that stays open), and nobody else notices. Then
//! thousands of random byte strings, which must never take the server down.
//!
//! The server runs 2 shards and connections are spread round-robin in accept order, so the
//! two healthy clients (connections 0 and 1) sit one on each shard and the bad clients after
//! them alternate between the shards.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::scenario::start;
use common::{RawClient, TestServer, CONNECT_QUIET};

const CONNECT_HEADERS: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;

/// What the server must do with a bad input.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Exactly this `-ERR` line, then a close.
    ErrClose(&'static str),
    /// A close with no bytes at all.
    SilentClose,
    /// Exactly this `-ERR` line, and the connection keeps working.
    ErrOpen(&'static str),
    /// Nothing; the connection keeps working.
    Fine,
}

/// How the bad client starts before sending its bytes.
#[derive(Clone, Copy, Debug)]
enum Start {
    /// Nothing after the INFO: the bad bytes are the first the server sees.
    Nothing,
    Connect(&'static str),
}

struct Case {
    name: &'static str,
    start: Start,
    bytes: Vec<u8>,
    want: Want,
}

const UNKNOWN: &str = "-ERR 'Unknown Protocol Operation'\r\n";
const CONTROL_LINE: &str = "-ERR 'maximum control line exceeded'\r\n";
const MAX_PAYLOAD: &str = "-ERR 'Maximum Payload Violation'\r\n";

fn case(name: &'static str, start: Start, bytes: &[u8], want: Want) -> Case {
    Case {
        name,
        start,
        bytes: bytes.to_vec(),
        want,
    }
}

fn cases() -> Vec<Case> {
    use Start::{Connect, Nothing};
    use Want::*;
    let q = Connect(CONNECT_QUIET);
    let h = Connect(CONNECT_HEADERS);
    let long = |arg_len: usize, tail: &str| {
        let mut b = b"SUB ".to_vec();
        b.extend(std::iter::repeat_n(b'a', arg_len - 2));
        b.extend_from_slice(b" 1");
        b.extend_from_slice(tail.as_bytes());
        b
    };
    let mut big_pub = b"PUB big 1048576\r\n".to_vec();
    big_pub.extend(std::iter::repeat_n(b'p', 1048576));
    big_pub.extend_from_slice(b"\r\n");
    vec![
        case("unknown op", q, b"FOO bar\r\n", ErrClose(UNKNOWN)),
        case("unknown op before CONNECT", Nothing, b"HELLO\r\n", ErrClose(UNKNOWN)),
        case("binary garbage", q, b"\x00\xff\xfe\x01\r\n", ErrClose(UNKNOWN)),
        case("empty line", q, b"\r\n", ErrClose(UNKNOWN)),
        case("leading space", q, b" PING\r\n", ErrClose(UNKNOWN)),
        case("op without delimiter", q, b"SUBZZZ\r\n", ErrClose(UNKNOWN)),
        case("UNSUB without arguments or delimiter", q, b"UNSUB\r\n", ErrClose(UNKNOWN)),
        case("payload longer than its size", q, b"PUB foo 2\r\nhiX\r\n", ErrClose(UNKNOWN)),
        case("payload ended by a bare LF", q, b"PUB foo 2\r\nhi\n", ErrClose(UNKNOWN)),
        case("client-sent MSG", q, b"MSG foo 1 2\r\nhi\r\n", ErrClose(UNKNOWN)),
        case("control line of 4097 bytes", q, &long(4097, "\r\n"), ErrClose(CONTROL_LINE)),
        case("control line that never ends", q, &long(6000, ""), ErrClose(CONTROL_LINE)),
        case("control line of 4096 bytes", q, &long(4096, "\r\n"), Fine),
        case("PUB over max_payload", q, b"PUB foo 1048577\r\n", ErrClose(MAX_PAYLOAD)),
        case("HPUB over max_payload", h, b"HPUB foo 12 1048577\r\n", ErrClose(MAX_PAYLOAD)),
        case("PUB of exactly max_payload", q, &big_pub, Fine),
        case("PUB with one argument", q, b"PUB foo\r\n", SilentClose),
        case("PUB with four arguments", q, b"PUB a b c 1\r\nx\r\n", SilentClose),
        case("PUB with a negative size", q, b"PUB foo -1\r\n", SilentClose),
        case("PUB with a ten-digit size", q, b"PUB foo 1234567890\r\n", SilentClose),
        case("PUB with a non-numeric size", q, b"PUB foo 1x\r\n", SilentClose),
        case("SUB with one argument", q, b"SUB foo\r\n", SilentClose),
        case("SUB with four arguments", q, b"SUB a b c d\r\n", SilentClose),
        case("UNSUB with three arguments", q, b"UNSUB 1 2 3\r\n", SilentClose),
        case("HPUB without headers", q, b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", SilentClose),
        case("HPUB header size over total", h, b"HPUB foo 14 12\r\n", SilentClose),
        case("client-sent -ERR", q, b"-ERR 'boom'\r\n", SilentClose),
        case("CONNECT with bad JSON", Nothing, b"CONNECT {bad\r\n", SilentClose),
        case("CONNECT with a wrong type", Nothing, b"CONNECT {\"verbose\":\"yes\"}\r\n", SilentClose),
        case(
            "CONNECT with protocol 2",
            Nothing,
            b"CONNECT {\"verbose\":false,\"protocol\":2}\r\n",
            ErrClose("-ERR 'invalid client protocol'\r\n"),
        ),
        case(
            "CONNECT with no_responders but no headers",
            Nothing,
            b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n",
            ErrClose("-ERR 'no responders requires headers support'\r\n"),
        ),
        case(
            "CONNECT with account",
            Nothing,
            b"CONNECT {\"verbose\":false,\"account\":\"x\"}\r\n",
            ErrClose("-ERR 'Authorization Violation'\r\n"),
        ),
        case("SUB with an invalid subject", q, b"SUB foo. 1\r\n", ErrOpen("-ERR 'Invalid Subject'\r\n")),
        case(
            "SUB with the reserved queue _sys_",
            q,
            b"SUB foo _sys_ 1\r\n",
            ErrOpen("-ERR 'Permissions Violation for Subscription to \"foo\" using queue \"_sys_\"'\r\n"),
        ),
        case(
            "PUB to a reserved subject",
            q,
            b"PUB _GR_.abc 0\r\n\r\n",
            ErrOpen("-ERR 'Permissions Violation for Publish to \"_GR_.abc\"'\r\n"),
        ),
    ]
}

/// The two healthy clients: connection 0 (shard 0, sid `a`) and 1 (shard 1, sid `b`), both
/// subscribed to `health`.
fn healthy_pair(server: &TestServer) -> (RawClient, RawClient) {
    let mut a = server.quiet();
    a.sync(b"SUB health a\r\n");
    let mut b = server.quiet();
    b.sync(b"SUB health b\r\n");
    (a, b)
}

/// Expects the lines of `want`, answering (and skipping) server PINGs in between: these
/// clients live longer than the ~2 s before the first server PING.
fn expect_lines(c: &mut RawClient, want: &str) {
    for line in want.split_inclusive("\r\n") {
        loop {
            let got = c.read_line();
            if got == "PING\r\n" {
                c.send(b"PONG\r\n");
                continue;
            }
            assert_eq!(got, line, "server sent something else");
            break;
        }
    }
}

/// Each healthy client publishes once; both get both messages.
fn assert_pair_works(a: &mut RawClient, b: &mut RawClient, round: usize) {
    let body = format!("{round:05}");
    a.send(format!("PUB health 5\r\n{body}\r\nPING\r\n").as_bytes());
    expect_lines(a, &format!("MSG health a 5\r\n{body}\r\nPONG\r\n"));
    expect_lines(b, &format!("MSG health b 5\r\n{body}\r\n"));
    b.send(format!("PUB health 5\r\n{body}\r\nPING\r\n").as_bytes());
    expect_lines(b, &format!("MSG health b 5\r\n{body}\r\nPONG\r\n"));
    expect_lines(a, &format!("MSG health a 5\r\n{body}\r\n"));
}

fn run_case(server: &TestServer, c: &Case) {
    let mut bad = server.raw();
    if let Start::Connect(json) = c.start {
        bad.handshake(json);
    }
    bad.send(&c.bytes);
    match c.want {
        Want::ErrClose(err) => {
            bad.expect(err.as_bytes());
            bad.expect_closed();
        }
        Want::SilentClose => bad.expect_closed(),
        Want::ErrOpen(err) => {
            bad.expect(err.as_bytes());
            bad.sync(b"");
        }
        Want::Fine => {
            bad.sync(b"");
        }
    }
}

/// Every case on its own connection, with the healthy pair checked after each; returns the
/// cases that went wrong.
fn run_all_cases(server: &TestServer) -> Vec<String> {
    let (mut a, mut b) = healthy_pair(server);
    let mut failures = Vec::new();
    for (round, c) in cases().iter().enumerate() {
        let shard = (round + 2) % 2;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(server, c)));
        if let Err(e) = r {
            let text = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!(
                "{} (shard {shard}), want {:?}: {text}",
                c.name, c.want
            ));
        }
        // The bad client is gone (or still open, for the cases that keep it); either way the
        // healthy clients on both shards still talk.
        assert_pair_works(&mut a, &mut b, round);
    }
    failures
}

#[test]
fn bad_clients_get_their_exact_answer_and_others_keep_working() {
    let failures = run_all_cases(&start(2, &[]));
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same cases against the reference nats-server, so the expected answers above stay true.
#[test]
fn nats_server_gives_the_answers_these_cases_expect() {
    let failures = run_all_cases(&TestServer::start_nats_server(&[]));
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn max_payload_flag_sets_the_limit() {
    let server = start(2, &["--max_payload", "1024"]);
    let (mut a, mut b) = healthy_pair(&server);
    let info = {
        let mut c = RawClient::connect(&server.addr());
        c.read_info()
    };
    assert_eq!(info["max_payload"], 1024, "INFO: {info}");
    let mut ok = server.quiet();
    let mut exactly = b"PUB foo 1024\r\n".to_vec();
    exactly.extend(std::iter::repeat_n(b'x', 1024));
    exactly.extend_from_slice(b"\r\nPING\r\n");
    ok.send(&exactly);
    ok.expect(b"PONG\r\n");
    ok.send(b"PUB foo 1025\r\n");
    ok.expect(MAX_PAYLOAD.as_bytes());
    ok.expect_closed();
    assert_pair_works(&mut a, &mut b, 0);
}

// ---- random input ----

/// splitmix64: small, deterministic, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const OPS: &[&str] = &[
    "PUB ", "HPUB ", "SUB ", "UNSUB ", "PING", "PONG", "CONNECT ", "INFO ", "MSG ", "HMSG ", "+OK",
    "-ERR ", "pub ", "sUb ", "PUB\t", "P", "PU", "CONN",
];
const PIECES: &[&str] = &[
    " ",
    "\t",
    "\r\n",
    "\n",
    "\r",
    "foo",
    "foo.bar",
    "*",
    ">",
    "foo.*",
    "foo.>",
    ".",
    "..",
    "q",
    "_INBOX.x",
    "0",
    "1",
    "5",
    "22",
    "4096",
    "999999999",
    "1234567890",
    "-1",
    "+5",
    "{}",
    "{\"verbose\":false}",
    "{\"headers\":true}",
    "{\"protocol\":1}",
    "{",
    "}",
    "\"",
    "NATS/1.0\r\n",
    "NATS/1.0 503\r\n\r\n",
    "hello",
    "\0",
    "\u{7f}",
    "é",
    "🎉",
];

/// One random input: pure noise, a soup of protocol pieces, or valid frames with mutations.
fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(10) {
        0 | 1 => {
            for _ in 0..rng.below(200) {
                out.push(rng.next() as u8);
            }
        }
        2..=5 => {
            for _ in 0..1 + rng.below(12) {
                if rng.below(3) == 0 {
                    out.extend_from_slice(rng.pick(OPS).as_bytes());
                } else {
                    out.extend_from_slice(rng.pick(PIECES).as_bytes());
                }
            }
        }
        6..=8 => {
            let frames = [
                "CONNECT {\"verbose\":false,\"headers\":true}\r\n".to_string(),
                "SUB foo.* q 1\r\n".into(),
                "SUB > 2\r\n".into(),
                "PUB foo.bar 5\r\nhello\r\n".into(),
                "PUB foo.bar _INBOX.r 0\r\n\r\n".into(),
                "HPUB foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n".into(),
                "UNSUB 1 3\r\n".into(),
                "PING\r\n".into(),
            ];
            for _ in 0..1 + rng.below(6) {
                out.extend_from_slice(frames[rng.below(frames.len())].as_bytes());
            }
            for _ in 0..1 + rng.below(4) {
                if out.is_empty() {
                    break;
                }
                let at = rng.below(out.len());
                match rng.below(3) {
                    0 => out[at] = rng.next() as u8,
                    1 => out.insert(at, rng.next() as u8),
                    _ => {
                        out.remove(at);
                    }
                }
            }
        }
        _ => {
            out.extend_from_slice(rng.pick(OPS).as_bytes());
            out.extend(std::iter::repeat_n(b'a', 3000 + rng.below(3000)));
            if rng.below(2) == 0 {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out
}

fn escaped(b: &[u8]) -> String {
    b.escape_ascii().to_string().chars().take(300).collect()
}

/// Sends one input on a fresh connection, then half-closes and reads until the server closes.
/// An error says the server could not be reached or kept the half-closed connection open.
fn throw(addr: &str, input: &[u8]) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    // The server may close first (after an -ERR), so write and shutdown errors are expected.
    let _ = s.write_all(input);
    let _ = s.shutdown(Shutdown::Write);
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut sink = [0u8; 65536];
    loop {
        match s.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("connection not closed after the client's EOF: {e}")),
        }
    }
}

#[test]
fn thousands_of_random_inputs_never_stop_the_server() {
    const THREADS: u64 = 4;
    const PER_THREAD: usize = 2500;
    let server = start(2, &[]);
    let addr = server.addr();
    let (mut a, mut b) = healthy_pair(&server);

    // A health check that keeps PING/PONG going on both shards while the inputs fly.
    let stop = Arc::new(AtomicBool::new(false));
    let pings = Arc::new(AtomicUsize::new(0));
    let health = {
        let (stop, pings) = (stop.clone(), pings.clone());
        let mut checkers = vec![server.raw(), server.raw()];
        for c in &mut checkers {
            c.handshake(CONNECT_QUIET);
        }
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for c in &mut checkers {
                    c.send(b"PING\r\n");
                    expect_lines(c, "PONG\r\n");
                    pings.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let t0 = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x6e61_7472_6978 + t);
                let mut problems = Vec::new();
                let mut last: Vec<Vec<u8>> = Vec::new();
                for i in 0..PER_THREAD {
                    let input = random_input(&mut rng);
                    if let Err(e) = throw(&addr, &input) {
                        let recent: Vec<_> = last.iter().map(|b| escaped(b)).collect();
                        problems.push(format!(
                            "thread {t} input {i} {:?}: {e}; inputs before: {recent:?}",
                            escaped(&input)
                        ));
                        if e.starts_with("connect") {
                            break; // the server is gone
                        }
                    }
                    last.push(input);
                    if last.len() > 3 {
                        last.remove(0);
                    }
                }
                problems
            })
        })
        .collect();
    let problems: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    health
        .join()
        .expect("health check PING/PONG failed while random inputs were sent");
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(pings.load(Ordering::Relaxed) > 0);
    assert_pair_works(&mut a, &mut b, 0);
    eprintln!(
        "{} random inputs in {took:?}, {} health PINGs",
        THREADS as usize * PER_THREAD,
        pings.load(Ordering::Relaxed)
    );
}
