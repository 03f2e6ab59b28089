//! Connections at scale (issue 9, point 9): natrix started with an open-files soft limit of
//! 1024 (hard limit left as it is) raises it as nats-server does, holds 10,000 connections
//! with a subscription each, on one descriptor each, and serves a sample of them; and with a hard limit too low to
//! raise, a connection that finds no descriptor waits in the backlog, is logged as
//! nats-server logs it, and is served once a descriptor is free (never a silent close).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections held at once, and every how many of them one gets a message.
const CONNECTIONS: usize = 10_000;
const SAMPLE_EVERY: usize = 100;
/// Descriptors natrix holds besides its connections (measured: 22 with 2 shards).
const RUNTIME_FDS_MAX: usize = 100;
/// The soft limit the child starts with.
const CHILD_SOFT_LIMIT: u64 = 1024;
/// Bounds of the whole test.
const TEST_MAX: Duration = Duration::from_secs(90);
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// natrix under `soft`/`hard` open-files limits (hard: None keeps the current one).
struct Natrix {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Natrix {
    fn start(shards: usize, soft: u64, hard: Option<u64>) -> Natrix {
        let shards = shards.to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_natrix"));
        cmd.args(["-a", "127.0.0.1", "-p", "0", "--shards", &shards])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: the closure only calls getrlimit/setrlimit, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let mut lim = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                if let Some(h) = hard {
                    lim.rlim_max = h;
                }
                lim.rlim_cur = soft.min(lim.rlim_max);
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start natrix");
        let pipe = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                    let port: Option<u16> =
                        rest.trim().rsplit(':').next().and_then(|p| p.parse().ok());
                    let _ = ready_tx.send(port);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let port = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .flatten()
            .expect("natrix reports its port");
        let n = Natrix { child, port, log };
        assert!(
            n.wait_log("Server is ready", Duration::from_secs(10)),
            "not ready:\n{}",
            n.log()
        );
        n
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
        s.set_nodelay(true).expect("nodelay");
        s
    }
}

impl Drop for Natrix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lets this test process hold the client ends of every connection.
fn raise_own_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain get/set of our own limit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_max
}

/// Reads from `s` until `want` has arrived; returns everything read.
fn read_until(s: &mut TcpStream, want: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + IO_TIMEOUT;
    while !got.windows(want.len()).any(|w| w == want) {
        assert!(Instant::now() < deadline, "timed out waiting for {want:?}");
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "closed before {:?}; got {:?}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&got)
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed waiting for {want:?}: {e}"),
        }
    }
    got
}

fn subscribe(s: &mut TcpStream, i: usize) {
    let ops =
        format!("CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB scale.{i} 1\r\nPING\r\n");
    s.write_all(ops.as_bytes()).expect("send CONNECT/SUB/PING");
}

#[test]
fn ten_thousand_subscribed_connections_are_held_and_served_under_a_1024_soft_limit() {
    let t0 = Instant::now();
    let hard = raise_own_limit();
    assert!(
        hard as usize > CONNECTIONS + 100,
        "this test needs a hard open-files limit above {CONNECTIONS} (have {hard})"
    );
    let server = Natrix::start(2, CHILD_SOFT_LIMIT, None);
    assert!(
        server.log().contains(&format!(
            "Raised the open files limit from {CHILD_SOFT_LIMIT} to {hard}"
        )),
        "no log line for the raised limit:\n{}",
        server.log()
    );
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut s = server.connect();
        subscribe(&mut s, i);
        conns.push(s);
        // Keep the backlog short: wait for every 500th handshake to finish.
        if i % 500 == 499 {
            read_until(&mut conns[i], b"PONG\r\n");
        }
    }
    for (i, s) in conns.iter_mut().enumerate() {
        if i % 500 != 499 {
            read_until(s, b"PONG\r\n");
        }
    }
    assert!(
        t0.elapsed() < TEST_MAX,
        "connecting took {:?}",
        t0.elapsed()
    );
    // One descriptor per connection, plus the runtime's few (rings, log, hand-offs).
    let fds = std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
        .expect("list the server's descriptors")
        .count();
    assert!(
        (CONNECTIONS..CONNECTIONS + RUNTIME_FDS_MAX).contains(&fds),
        "{fds} descriptors for {CONNECTIONS} connections"
    );
    let mut publisher = server.connect();
    read_until(&mut publisher, b"\r\n");
    subscribe(&mut publisher, CONNECTIONS + 1);
    read_until(&mut publisher, b"PONG\r\n");
    let sample: Vec<usize> = (0..CONNECTIONS).step_by(SAMPLE_EVERY).collect();
    let mut pubs = String::new();
    for &i in &sample {
        pubs.push_str(&format!(
            "PUB scale.{i} {}\r\nm{i}\r\n",
            format!("m{i}").len()
        ));
    }
    publisher.write_all(pubs.as_bytes()).expect("publish");
    for &i in &sample {
        let body = format!("m{i}");
        let want = format!("MSG scale.{i} 1 {}\r\n{body}\r\n", body.len());
        read_until(&mut conns[i], want.as_bytes());
    }
    // Every connection is still open: a PING on each of a second sample is answered.
    for s in conns
        .iter_mut()
        .skip(SAMPLE_EVERY / 2)
        .step_by(SAMPLE_EVERY)
    {
        s.write_all(b"PING\r\n").expect("ping");
        read_until(s, b"PONG\r\n");
    }
    assert!(
        !server.log().contains("Error"),
        "errors in the log:\n{}",
        server.log()
    );
    assert!(t0.elapsed() < TEST_MAX, "took {:?}", t0.elapsed());
}

#[test]
fn a_connection_without_a_descriptor_waits_is_logged_and_is_served_once_one_is_free() {
    // A hard limit the server cannot raise past: a few dozen descriptors go to the
    // runtime (io_uring rings, the log, the hand-off sockets); the rest to clients.
    const LIMIT: u64 = 64;
    let server = Natrix::start(1, LIMIT, Some(LIMIT));
    let mut held = Vec::new();
    let mut waiting = None;
    for _ in 0..LIMIT {
        let mut s = server.connect();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut line = [0u8; 4];
        match s.read(&mut line) {
            Ok(4) if &line == b"INFO" => held.push(s),
            Ok(n) => panic!("expected INFO or a wait, got {n} bytes: {:?}", &line[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                waiting = Some(s);
                break;
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
    let mut waiting = waiting.expect("some connection ran out of descriptors");
    assert!(!held.is_empty(), "no connection was served at all");
    assert!(
        server.wait_log(
            "Temporary Client Accept Error(accept tcp 127.0.0.1:",
            Duration::from_secs(5)
        ),
        "no accept error logged:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("too many open files), sleeping 10ms"),
        "{}",
        server.log()
    );
    // Free a descriptor: the waiting connection is taken and greeted.
    drop(held.pop());
    waiting.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    read_until(&mut waiting, b"INFO ");
    waiting
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .expect("send");
    read_until(&mut waiting, b"PONG\r\n");
}
