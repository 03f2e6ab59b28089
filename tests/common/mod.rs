//! Test harness: a natrix (or nats-server) process on an ephemeral port, and a raw client
//! that sends bytes and expects exact bytes.
//!
//! Every server is killed when its handle drops, so a failing test leaves nothing behind.

#![allow(dead_code)]

pub mod frames;
pub mod node;
pub mod ops;
pub mod procs;
pub mod requests;
pub mod scenario;
pub mod wire;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// CONNECT options of a raw client that wants no +OK and no pedantic checks.
pub const CONNECT_QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// How long a test waits for bytes it expects.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts `bin` with `args`, stdin and stdout closed and stderr (its log) piped.
pub fn spawn_logging(bin: &str, args: &[&str]) -> Child {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
}

/// A running server process.
pub struct TestServer {
    child: Child,
    pub port: u16,
    /// Lines the server logged after start (collected in the background).
    pub log: mpsc::Receiver<String>,
}

impl TestServer {
    /// natrix with `shards` shards on 127.0.0.1 and an ephemeral port.
    pub fn start(shards: usize) -> TestServer {
        Self::start_with(shards, &[])
    }

    /// natrix with extra command-line flags.
    pub fn start_with(shards: usize, extra: &[&str]) -> TestServer {
        let shards = shards.to_string();
        let mut args = vec!["-a", "127.0.0.1", "-p", "0", "--shards", &shards];
        args.extend_from_slice(extra);
        Self::spawn(env!("CARGO_BIN_EXE_natrix"), &args)
    }

    /// The reference nats-server (found via $NATRIX_NATS_SERVER, else `nats-server` on PATH,
    /// else the venv `./test` sets up), on 127.0.0.1 and an ephemeral port.
    pub fn start_nats_server(extra: &[&str]) -> TestServer {
        let bin = nats_server_bin();
        let mut args = vec!["-a", "127.0.0.1", "-p", "-1"];
        args.extend_from_slice(extra);
        Self::spawn(&bin, &args)
    }

    pub fn spawn(bin: &str, args: &[&str]) -> TestServer {
        let mut child = spawn_logging(bin, args);
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut port = None;
        let mut ready = false;
        while Instant::now() < deadline {
            let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("{bin} exited at start: {status}");
                }
                continue;
            };
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                port = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            }
            if line.contains("Server is ready") {
                ready = true;
                break;
            }
        }
        if port.is_none() || !ready {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} did not report its port and readiness (port {port:?}, ready {ready})");
        }
        let port = port.unwrap_or_default();
        TestServer {
            child,
            port,
            log: rx,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A raw client that has done a quiet CONNECT and its PING/PONG.
    pub fn quiet(&self) -> RawClient {
        let mut c = self.raw();
        c.handshake(CONNECT_QUIET);
        c
    }

    /// A raw client that has read the INFO line.
    pub fn raw(&self) -> RawClient {
        let mut c = RawClient::connect(&self.addr());
        c.read_info();
        c
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal and waits for the exit status.
    pub fn signal_and_wait(mut self, sig: i32) -> std::process::ExitStatus {
        // SAFETY: kill on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit after signal {sig}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn nats_server_bin() -> String {
    if let Ok(p) = std::env::var("NATRIX_NATS_SERVER") {
        return p;
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/nats-server");
    if std::path::Path::new(venv).exists() {
        return venv.to_string();
    }
    "nats-server".to_string()
}

/// A client speaking raw bytes.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: &str) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).ok();
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads until `n` bytes are buffered or the timeout passes; returns what is buffered.
    fn fill(&mut self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 65536];
        while self.buf.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).ok();
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(_) => return false,
            }
        }
        true
    }

    /// Asserts that the next bytes from the server are exactly `want`.
    pub fn expect(&mut self, want: &[u8]) {
        self.fill(want.len(), EXPECT_TIMEOUT);
        let got: Vec<u8> = self.buf.drain(..want.len().min(self.buf.len())).collect();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "server sent something else"
        );
    }

    /// Reads one line (through `\n`).
    pub fn read_line(&mut self) -> String {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let want = self.buf.len() + 1;
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                self.fill(want, left),
                "no line from server; have {:?}",
                self.buffered()
            );
        }
    }

    /// Reads the INFO line and returns its JSON.
    pub fn read_info(&mut self) -> serde_json::Value {
        let line = self.read_line();
        assert!(
            line.starts_with("INFO {") && line.ends_with("} \r\n"),
            "not an INFO: {line:?}"
        );
        serde_json::from_str(&line[5..line.len() - 3]).expect("INFO json")
    }

    /// Everything that arrives within `wait`.
    pub fn read_for(&mut self, wait: Duration) -> Vec<u8> {
        self.fill(usize::MAX, wait);
        std::mem::take(&mut self.buf)
    }

    /// Asserts that nothing arrives within `wait`.
    pub fn expect_nothing(&mut self, wait: Duration) {
        let got = self.read_for(wait);
        assert!(
            got.is_empty(),
            "unexpected bytes: {:?}",
            String::from_utf8_lossy(&got)
        );
    }

    /// Asserts the server closes the connection (after any bytes already expected).
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        let mut chunk = [0u8; 4096];
        loop {
            assert!(Instant::now() < deadline, "connection still open");
            self.stream
                .set_read_timeout(Some(Duration::from_millis(100)))
                .ok();
            match self.stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(k) => panic!(
                    "expected close, got {:?}",
                    String::from_utf8_lossy(&chunk[..k])
                ),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    }

    pub fn buffered(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Sends `ops` and a PING, and expects the PONG: the server has applied `ops` (and, for
    /// SUB/UNSUB, every shard sees them).
    pub fn sync(&mut self, ops: &[u8]) {
        self.send(ops);
        self.send(b"PING\r\n");
        self.expect(b"PONG\r\n");
    }

    /// CONNECT with `json`, then PING, and expects the PONG (after +OK when verbose).
    pub fn handshake(&mut self, json: &str) {
        self.send(format!("CONNECT {json}\r\nPING\r\n").as_bytes());
        let line = self.read_line();
        let line = if line == "+OK\r\n" {
            self.read_line()
        } else {
            line
        };
        assert_eq!(line, "PONG\r\n");
    }
}
