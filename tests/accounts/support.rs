//! Helpers shared by the account test files (`tests/accounts.rs`, `tests/accounts_system.rs`,
//! `tests/accounts_clients.rs`): the fixture server, logins as the fixture's users, and a reader
//! for one MSG/HMSG frame.
//!
//! Invariant: every `login*` returns a client whose handshake, async INFO and a PING/PONG have
//! been read, so the next bytes a test reads are answers to what the test itself did.
//! The fixture is `tests/configs/accounts/main.conf`; its users are listed at its top.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use nkeys::KeyPair;

use crate::common::ops::free_port;
use crate::common::procs::{against_reference, run_tool, Server};
use crate::common::RawClient;

/// Seed of the fixture's nkey user (public key UDQQ4VWK... in main.conf). A test key only.
pub const NKEY_SEED: &str = "SUAONURWF4LCNYMIHKZUCEMYKIOW3H6IEFJLPYJKEAF5MEGIK4YJ5MMREU";

/// How long a test waits to be sure something does NOT arrive.
pub const QUIET: Duration = Duration::from_millis(300);

/// The path of a fixture in `tests/configs/accounts/`.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs/accounts")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The server under test with main.conf and no monitoring port.
pub fn start_main() -> Server {
    Server::start(2, &["-c", &fixture("main.conf")])
}

/// The server under test with main.conf and a monitoring port; returns the server and the port.
pub fn start_main_monitored() -> (Server, u16) {
    let port = free_port();
    let port_text = port.to_string();
    let server = Server::start(2, &["-c", &fixture("main.conf"), "-m", &port_text]);
    (server, port)
}

/// CONNECT fields every login of these tests sends: quiet, headers and no-responders on, so a
/// 503 can arrive and service requests show their headers.
const BASE: &str =
    r#""verbose":false,"pedantic":false,"protocol":1,"headers":true,"no_responders":true"#;

/// Opens a connection, sends CONNECT with `extra` fields and a PING, and returns the client and
/// the first line of the answer (`PONG\r\n` when accepted, else the error).
pub fn try_login(server: &Server, extra: &str) -> (RawClient, String) {
    let mut c = server.raw();
    let fields = if extra.is_empty() {
        BASE.to_string()
    } else {
        format!("{BASE},{extra}")
    };
    c.send(format!("CONNECT {{{fields}}}\r\nPING\r\n").as_bytes());
    let first = c.read_line();
    (c, first)
}

/// Logs in as `user`/`pass` and returns the client once its PONG (and the INFO that follows
/// it for protocol 1 clients) has been read.
pub fn login(server: &Server, user: &str, pass: &str) -> RawClient {
    let (c, first) = try_login(server, &format!(r#""user":"{user}","pass":"{pass}""#));
    assert_eq!(first, "PONG\r\n", "login as {user} refused");
    settle(c)
}

/// A client with no credentials (the fixture's no_auth_user takes it).
pub fn anonymous(server: &Server) -> RawClient {
    let (c, first) = try_login(server, "");
    assert_eq!(first, "PONG\r\n", "anonymous login refused");
    settle(c)
}

/// Logs in as the fixture's nkey user, signing the nonce of the server's INFO.
pub fn login_nkey(server: &Server) -> RawClient {
    let mut c = RawClient::connect(&server.addr());
    let info = c.read_info();
    let nonce = info["nonce"]
        .as_str()
        .expect("INFO has a nonce when nkey users exist");
    let kp = KeyPair::from_seed(NKEY_SEED).expect("fixture seed");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(kp.sign(nonce.as_bytes()).expect("sign the nonce"));
    let json = format!(r#"{{{BASE},"nkey":"{}","sig":"{sig}"}}"#, kp.public_key());
    c.send(format!("CONNECT {json}\r\nPING\r\n").as_bytes());
    assert_eq!(c.read_line(), "PONG\r\n", "nkey login refused");
    settle(c)
}

/// Drops the INFO a protocol 1 client gets after its first PONG (for a client from
/// `try_login` that got its PONG), and syncs once more so the next bytes are the test's own.
pub fn settle(mut c: RawClient) -> RawClient {
    c.send(b"PING\r\n");
    loop {
        let line = c.read_line();
        if line == "PONG\r\n" {
            return c;
        }
        assert!(
            line.starts_with("INFO "),
            "unexpected line at login: {line:?}"
        );
    }
}

/// One delivered message.
#[derive(Debug)]
pub struct Msg {
    pub subject: String,
    pub sid: String,
    pub reply: Option<String>,
    /// The header block (with its `NATS/1.0` line), for HMSG.
    pub headers: Option<String>,
    pub payload: String,
    /// The control line exactly as sent, `\r\n` included.
    pub line: String,
}

/// Reads the next frame, which must be MSG or HMSG, and its payload.
pub fn read_msg(c: &mut RawClient) -> Msg {
    let line = c.read_line();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let (hdr_len, total, reply) = match parts.as_slice() {
        ["MSG", _, _, n] => (0, parse(n, &line), None),
        ["MSG", _, _, r, n] => (0, parse(n, &line), Some(r.to_string())),
        ["HMSG", _, _, h, n] => (parse(h, &line), parse(n, &line), None),
        ["HMSG", _, _, r, h, n] => (parse(h, &line), parse(n, &line), Some(r.to_string())),
        _ => panic!("expected MSG or HMSG, got {line:?}"),
    };
    // Payloads here hold no bare newlines that matter: collect lines until the frame is whole.
    let mut body = String::new();
    while body.len() < total + 2 {
        body.push_str(&c.read_line());
    }
    assert_eq!(
        body.len(),
        total + 2,
        "frame longer than announced: {line:?} {body:?}"
    );
    let headers = (parts[0] == "HMSG").then(|| body[..hdr_len].to_string());
    Msg {
        subject: parts[1].to_string(),
        sid: parts[2].to_string(),
        reply,
        headers,
        payload: body[hdr_len..total].to_string(),
        line,
    }
}

fn parse(n: &str, line: &str) -> usize {
    n.parse()
        .unwrap_or_else(|_| panic!("bad size {n:?} in {line:?}"))
}

/// Reads `n` messages and returns them.
pub fn read_msgs(c: &mut RawClient, n: usize) -> Vec<Msg> {
    (0..n).map(|_| read_msg(c)).collect()
}

/// Starts the server under test with `conf` and returns its exit status and output; the
/// server must exit on its own (a config error), else `run_tool` fails the test.
pub fn start_expecting_exit(conf: &str) -> (Option<i32>, String) {
    let path = fixture(conf);
    let args: Vec<&str> = if against_reference() {
        vec!["-c", &path, "-a", "127.0.0.1", "-p", "-1"]
    } else {
        vec!["-c", &path, "-a", "127.0.0.1", "-p", "0"]
    };
    let (status, text) = run_tool(&args);
    (status.code(), text)
}
