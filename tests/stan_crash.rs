//! NATS Streaming's file store under SIGKILL, with `file_sync` on (the default: PubAcks wait
//! for the pipelined fdatasync) and off (`-file_sync=false`: acked means written; the page
//! cache survives a killed process). A raw client publishes without pause, natrix is
//! SIGKILLed while publishes and PubAcks are in flight, and after a restart on the same
//! directory every message whose PubAck the client got is in the channel, in order, with no
//! hole.

mod common;
#[path = "stan_clients/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::procs::TempDir;
use harness::{Scene, CLUSTER_ID};

/// The publisher stops here if natrix is still alive (it is killed long before).
const PUBLISH_MAX: usize = 1_000_000;
/// Messages per write of the publisher.
const WRITE_MSGS: usize = 100;
/// natrix is killed once this many PubAcks came back.
const KILL_AFTER_ACKS: usize = 2000;
/// How long a test waits for what it needs from the server.
const WAIT: Duration = Duration::from_secs(20);
/// A connID as the clients make it: 22 ASCII bytes (a NUID).
const CONN_ID: &[u8] = b"CONNIDCONNIDCONNID0002";

#[test]
fn file_sync_on_a_sigkill_loses_no_acked_message() {
    acked_messages_survive_sigkill("stan-crash-sync", &[]);
}

#[test]
fn file_sync_off_a_sigkill_loses_no_acked_message() {
    acked_messages_survive_sigkill("stan-crash-nosync", &["-file_sync=false"]);
}

fn acked_messages_survive_sigkill(tag: &str, extra: &[&str]) {
    let dir = TempDir::new(tag);
    let dir_s = dir.path.to_string_lossy().into_owned();
    let mut args = vec!["-st", "FILE", "--dir", &dir_s];
    args.extend_from_slice(extra);
    let mut scene = Scene::start(1, &args);

    let mut c = Conn::open(scene.port);
    c.write(b"SUB _INBOX.c.* 1\r\nSUB _INBOX.acks 2\r\n");
    let resp = c.connect("crash-pub");
    let pub_prefix = string(&resp, 1);
    // Publishes go from another thread, until the connection dies, while the PubAcks are read.
    let mut writer = c.stream().try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < PUBLISH_MAX {
            let mut chunk = Vec::new();
            for i in sent + 1..=sent + WRITE_MSGS {
                let mut m = field_bytes(1, b"crash-pub");
                m.extend(field_bytes(2, format!("g{i}").as_bytes()));
                m.extend(field_bytes(3, b"orders"));
                m.extend(field_bytes(5, format!("m{i}").as_bytes()));
                m.extend(field_bytes(6, CONN_ID));
                chunk.extend(publish(&format!("{pub_prefix}.orders"), "_INBOX.acks", &m));
            }
            if writer.write_all(&chunk).is_err() {
                break;
            }
            sent += WRITE_MSGS;
        }
        sent
    });
    let mut acked = Vec::new();
    let deadline = Instant::now() + WAIT;
    while acked.len() < KILL_AFTER_ACKS {
        assert!(Instant::now() < deadline, "{} PubAcks only", acked.len());
        if let Some(m) = c.next_msg(WAIT) {
            acked.push(pub_ack(&m));
        }
    }
    scene.kill_server();
    // What the server sent before it died was acked too: read to the end of the connection.
    while let Some(m) = c.next_msg(WAIT) {
        acked.push(pub_ack(&m));
    }
    let sent = sender.join().expect("publisher");
    println!(
        "{} of {sent} written publishes acked before the kill",
        acked.len()
    );
    assert!(
        acked.len() < sent,
        "every publish was acked before the kill: the test killed too late"
    );

    scene.restart_server();
    let mut c = Conn::open(scene.port);
    c.write(b"SUB _INBOX.c.* 1\r\n");
    let resp = c.connect("crash-sub");
    let mut sub = field_bytes(1, b"crash-sub");
    sub.extend(field_bytes(2, b"orders"));
    sub.extend(field_bytes(4, b"_INBOX.c.msgs"));
    sub.extend(field_varint(5, PUBLISH_MAX as u64));
    sub.extend(field_varint(6, 30));
    sub.extend(field_varint(10, 4)); // StartPosition_First
    c.write(&publish(&string(&resp, 2), "_INBOX.c.sub", &sub));
    let r = decode(&c.next_msg(WAIT).expect("SubscriptionResponse").1);
    assert_eq!(string(&r, 3), "", "subscription error");

    // Sequence s carries m<s>: one publisher, in order. Every acked one must come.
    let want_last = acked.iter().copied().max().unwrap_or(0);
    let mut last = 0;
    while last < want_last {
        let Some((subject, payload)) = c.next_msg(WAIT) else {
            panic!("after the restart the channel ends at {last}; {want_last} was acked");
        };
        assert_eq!(subject, "_INBOX.c.msgs");
        let m = decode(&payload);
        let seq = varint(&m, 1);
        assert_eq!(seq, last + 1, "a hole in the channel after the restart");
        assert_eq!(string(&m, 4), format!("m{seq}"), "sequence {seq}'s data");
        last = seq;
    }
}

/// The PubAck's message number (`g<i>`), checking it carries no error.
fn pub_ack(m: &(String, Vec<u8>)) -> u64 {
    assert_eq!(m.0, "_INBOX.acks");
    let f = decode(&m.1);
    assert_eq!(string(&f, 2), "", "PubAck error");
    let guid = string(&f, 1);
    guid.strip_prefix('g')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("PubAck guid {guid:?}"))
}

// ---------------------------------------------------------------------------------------------
// A raw NATS connection that reads one message after another

struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).ok();
        let mut c = Conn {
            r: BufReader::new(s),
        };
        let info = c.line(WAIT).expect("INFO");
        assert!(info.starts_with("INFO "), "{info:?}");
        c.write(format!("CONNECT {}\r\nPING\r\n", common::CONNECT_QUIET).as_bytes());
        assert_eq!(c.line(WAIT).as_deref(), Some("PONG"));
        c
    }

    fn stream(&self) -> &TcpStream {
        self.r.get_ref()
    }

    fn write(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).expect("write");
    }

    /// Sends a ConnectRequest for `client_id` and returns the ConnectResponse's fields.
    fn connect(&mut self, client_id: &str) -> Vec<(u32, Field)> {
        let mut req = field_bytes(1, client_id.as_bytes());
        req.extend(field_bytes(2, b"_INBOX.hb"));
        req.extend(field_varint(3, 1));
        req.extend(field_bytes(4, CONN_ID));
        req.extend(field_varint(5, 5));
        req.extend(field_varint(6, 3));
        let subject = format!("_STAN.discover.{CLUSTER_ID}");
        self.write(&publish(&subject, "_INBOX.c.connect", &req));
        let (subject, payload) = self.next_msg(WAIT).expect("ConnectResponse");
        assert_eq!(subject, "_INBOX.c.connect");
        let resp = decode(&payload);
        assert_eq!(string(&resp, 5), "", "ConnectResponse error");
        resp
    }

    /// One line without its `\r\n`; `None` on a timeout or the end of the connection.
    fn line(&mut self, wait: Duration) -> Option<String> {
        self.r.get_ref().set_read_timeout(Some(wait)).ok();
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end().to_string()),
        }
    }

    /// The next MSG (subject, payload), answering PINGs; `None` if none comes within `wait`.
    fn next_msg(&mut self, wait: Duration) -> Option<(String, Vec<u8>)> {
        loop {
            let line = self.line(wait)?;
            if line == "PING" {
                self.write(b"PONG\r\n");
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() != Some(&"MSG") {
                continue;
            }
            let n: usize = parts.last()?.parse().ok()?;
            let mut payload = vec![0; n + 2];
            self.r.read_exact(&mut payload).ok()?;
            payload.truncate(n);
            return Some((parts[1].to_string(), payload));
        }
    }
}

fn publish(subject: &str, reply: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

// ---------------------------------------------------------------------------------------------
// Protobuf, by hand

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(field: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, u64::from(field) << 3 | 2);
    put_varint(&mut out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn field_varint(field: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, u64::from(field) << 3);
    put_varint(&mut out, v);
    out
}

fn get_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = bytes[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
    }
    v
}

/// The fields of a message of varints and length-delimited fields (all STAN's are).
fn decode(bytes: &[u8]) -> Vec<(u32, Field)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = get_varint(bytes, &mut at);
        let field = (key >> 3) as u32;
        match key & 7 {
            0 => out.push((field, Field::Varint(get_varint(bytes, &mut at)))),
            2 => {
                let n = get_varint(bytes, &mut at) as usize;
                out.push((field, Field::Bytes(bytes[at..at + n].to_vec())));
                at += n;
            }
            // Fixed 32 (MsgProto's CRC32) and 64 bits.
            5 => at += 4,
            1 => at += 8,
            t => panic!("wire type {t} in {bytes:?}"),
        }
    }
    out
}

fn string(fields: &[(u32, Field)], field: u32) -> String {
    fields
        .iter()
        .find_map(|(f, v)| match v {
            Field::Bytes(b) if *f == field => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

fn varint(fields: &[(u32, Field)], field: u32) -> u64 {
    fields
        .iter()
        .find_map(|(f, v)| match v {
            Field::Varint(n) if *f == field => Some(*n),
            _ => None,
        })
        .unwrap_or(0)
}
