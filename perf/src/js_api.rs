//! The JetStream side of the protocol, as much as the JetStream workloads need: `$JS.API`
//! requests for the untimed setup (stream and consumer creation), the publisher that keeps
//! at most a window of messages unacknowledged, and the frames a consumer writes (pull
//! requests and acks). Everything is plain NATS protocol over [`Conn`].

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::measure::now_ns;
use crate::proto::{Conn, Event, Fill, Scanner};

/// The stream every JetStream workload creates (after deleting one left by an earlier run
/// against the same server).
pub const STREAM: &str = "NATRIX_BENCH";
/// The durable consumer of the consumer workloads.
pub const DURABLE: &str = "natrix-bench";
/// A pull request waits this long for its batch to fill before the server ends it with a
/// 408 (seed 003's `fetch` asks for 5 s).
pub const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// Unacknowledged messages at most while pre-filling a stream (untimed).
pub const PREFILL_WINDOW: usize = 256;
/// An API request that gets no answer in this long fails the run.
const API_TIMEOUT: Duration = Duration::from_secs(10);
/// Unacknowledged deliveries a consumer may have; nats-server's default, set explicitly so
/// that both servers run with the same.
const MAX_ACK_PENDING: u64 = 1000;

/// A connection for requests one at a time, with its own reply subject.
pub struct Admin {
    pub conn: Conn,
    scan: Scanner,
    inbox: String,
}

impl Admin {
    pub fn open(server: &str, id: &str) -> io::Result<Admin> {
        let mut conn = Conn::open_headers(server, "natrix-bench admin")?;
        let mut scan = Scanner::default();
        let inbox = format!("_INBOX.natrix-bench.admin.{id}");
        conn.roundtrip(format!("SUB {inbox} 1\r\n").as_bytes(), &mut scan)?;
        Ok(Admin { conn, scan, inbox })
    }

    /// Sends one request and returns the JSON answer; an answer with an `error` member is an
    /// error.
    pub fn request(&mut self, subject: &str, body: &Value) -> io::Result<Value> {
        let body = body.to_string();
        let frame = format!("PUB {subject} {} {}\r\n{body}\r\n", self.inbox, body.len());
        self.conn.stream.write_all(frame.as_bytes())?;
        let deadline = now_ns() + API_TIMEOUT.as_nanos() as u64;
        let mut answer = None;
        while answer.is_none() {
            let mut ping = false;
            let mut err = None;
            self.scan.drain(|event| {
                match event {
                    Event::Msg {
                        headers, payload, ..
                    } => answer = Some(payload[headers..].to_vec()),
                    Event::Ping => ping = true,
                    Event::Err(line) => err = Some(String::from_utf8_lossy(line).into_owned()),
                    Event::Pong => {}
                }
                answer.is_none()
            })?;
            if let Some(err) = err {
                return Err(io::Error::other(format!("{subject}: {err}")));
            }
            if ping {
                self.conn.stream.write_all(b"PONG\r\n")?;
            }
            if answer.is_none() {
                if let Fill::Idle = self.scan.fill(&mut self.conn.stream)? {
                    if now_ns() > deadline {
                        return Err(io::Error::other(format!("{subject}: no answer")));
                    }
                }
            }
        }
        let answer = answer.unwrap_or_default();
        let value: Value = serde_json::from_slice(&answer).map_err(|e| {
            io::Error::other(format!(
                "{subject}: not JSON ({e}): {}",
                String::from_utf8_lossy(&answer)
            ))
        })?;
        if let Some(error) = value.get("error") {
            return Err(io::Error::other(format!("{subject}: {error}")));
        }
        Ok(value)
    }

    /// A file stream on `subject`, fresh: one of the same name is deleted first.
    pub fn create_stream(&mut self, subject: &str, retention: &str) -> io::Result<()> {
        let config = json!({
            "name": STREAM, "subjects": [subject], "storage": "file",
            "retention": retention, "num_replicas": 1,
        });
        self.create_stream_as(&config)
    }

    /// The stream `config` describes (its `name` member names it), fresh: one of the same
    /// name is deleted first.
    pub fn create_stream_as(&mut self, config: &Value) -> io::Result<()> {
        let name = config["name"].as_str().unwrap_or(STREAM);
        // Absent on a fresh server: the "stream not found" error is expected.
        let _ = self.request(&format!("$JS.API.STREAM.DELETE.{name}"), &json!({}));
        self.request(&format!("$JS.API.STREAM.CREATE.{name}"), config)?;
        Ok(())
    }

    /// The durable consumer with explicit acks from the first message; `deliver_subject`
    /// makes it a push consumer.
    pub fn create_consumer(&mut self, deliver_subject: Option<&str>) -> io::Result<()> {
        let mut config = json!({
            "durable_name": DURABLE, "ack_policy": "explicit", "deliver_policy": "all",
            "max_ack_pending": MAX_ACK_PENDING,
        });
        if let Some(subject) = deliver_subject {
            config["deliver_subject"] = json!(subject);
        }
        self.create_consumer_as(config)
    }

    /// The durable consumer `config` describes (its `durable_name` is [`DURABLE`]) on
    /// [`STREAM`].
    pub fn create_consumer_as(&mut self, mut config: Value) -> io::Result<()> {
        config["durable_name"] = json!(DURABLE);
        let body = json!({"stream_name": STREAM, "config": config});
        self.request(
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.{DURABLE}"),
            &body,
        )?;
        Ok(())
    }

    /// Messages in the stream, from `STREAM.INFO`.
    pub fn stream_msgs(&mut self) -> io::Result<u64> {
        self.stream_msgs_of(STREAM)
    }

    /// Messages in the stream `name`, from `STREAM.INFO`.
    pub fn stream_msgs_of(&mut self, name: &str) -> io::Result<u64> {
        let info = self.request(&format!("$JS.API.STREAM.INFO.{name}"), &json!({}))?;
        info["state"]["messages"]
            .as_u64()
            .ok_or_else(|| io::Error::other("STREAM.INFO without state.messages"))
    }
}

/// One PUB frame with a reply subject whose payload's first 8 bytes carry its send time.
pub struct PubFrame {
    bytes: Vec<u8>,
    payload_at: usize,
    size: usize,
}

impl PubFrame {
    pub fn new(subject: &str, reply: &str, size: usize) -> PubFrame {
        let mut bytes = format!("PUB {subject} {reply} {size}\r\n").into_bytes();
        let payload_at = bytes.len();
        bytes.extend((0..size).map(|i| b'a' + (i % 26) as u8));
        bytes.extend_from_slice(b"\r\n");
        PubFrame {
            bytes,
            payload_at,
            size,
        }
    }

    /// Appends the frame, stamped with `t` when the payload has room, to `out`.
    pub fn append(&mut self, out: &mut Vec<u8>, t: u64) {
        if self.size >= 8 {
            self.bytes[self.payload_at..self.payload_at + 8].copy_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(&self.bytes);
    }
}

/// Publishes `n` messages on `conn`, whose reply subject `inbox` it has subscribed, keeping
/// at most `window` unacknowledged, and records each ack's latency (from the write of its
/// message) in `hist`. The messages take `frames` in turn (one subject each: a KV put
/// cycles through its keys). A JetStream ack answers one connection's publishes in order,
/// so the send times wait in a queue. `give_up` is asked at every idle read. Returns the
/// time the last ack arrived.
#[allow(clippy::too_many_arguments)]
pub fn publish_acked(
    conn: &mut Conn,
    scan: &mut Scanner,
    frames: &mut [PubFrame],
    n: u64,
    window: usize,
    hist: &mut Histogram<u64>,
    mut give_up: impl FnMut() -> bool,
) -> io::Result<u64> {
    if frames.is_empty() {
        return Err(io::Error::other("nothing to publish: no frames"));
    }
    let window = window.max(1) as u64;
    let mut sent_at: VecDeque<u64> = VecDeque::with_capacity(window as usize);
    let mut out = Vec::with_capacity(1 << 16);
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut last_ns = now_ns();
    while acked < n {
        out.clear();
        let now = now_ns();
        while sent < n && sent - acked < window {
            let next = (sent % frames.len() as u64) as usize;
            frames[next].append(&mut out, now);
            sent_at.push_back(now);
            sent += 1;
        }
        if !out.is_empty() {
            conn.stream.write_all(&out)?;
        }
        if let Fill::Idle = scan.fill(&mut conn.stream)? {
            if give_up() {
                return Err(io::Error::other(format!(
                    "timed out with {acked} of {n} publishes acknowledged"
                )));
            }
            continue;
        }
        let now = now_ns();
        let mut problem = None;
        let mut ping = false;
        scan.drain(|event| {
            match event {
                Event::Msg {
                    headers, payload, ..
                } => {
                    let body = &payload[headers..];
                    if memchr::memmem::find(body, b"\"error\"").is_some() || headers > 0 {
                        problem = Some(String::from_utf8_lossy(payload).into_owned());
                        return false;
                    }
                    if let Some(at) = sent_at.pop_front() {
                        let _ = hist.record(now.saturating_sub(at).max(1));
                    }
                    acked += 1;
                }
                Event::Ping => ping = true,
                Event::Err(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Event::Pong => {}
            }
            true
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("publish refused: {problem}")));
        }
        if ping {
            conn.stream.write_all(b"PONG\r\n")?;
        }
        last_ns = now;
    }
    Ok(last_ns)
}

/// A pull request for `batch` messages, answered on `reply`.
pub fn append_pull(out: &mut Vec<u8>, reply: &str, batch: usize) {
    let body = json!({"batch": batch, "expires": PULL_EXPIRES.as_nanos() as u64}).to_string();
    let _ = write!(
        out,
        "PUB $JS.API.CONSUMER.MSG.NEXT.{STREAM}.{DURABLE} {reply} {}\r\n{body}\r\n",
        body.len()
    );
}

/// `+ACK` to a delivery's `$JS.ACK...` reply subject; with `confirm_to`, as a request whose
/// confirmation (an empty message) comes back there.
pub fn append_ack(out: &mut Vec<u8>, ack_subject: &[u8], confirm_to: Option<&str>) {
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(ack_subject);
    if let Some(inbox) = confirm_to {
        out.push(b' ');
        out.extend_from_slice(inbox.as_bytes());
    }
    out.extend_from_slice(b" 4\r\n+ACK\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_on_the_wire() {
        let mut out = Vec::new();
        append_ack(&mut out, b"$JS.ACK.S.C.1.2.3.4.5", None);
        append_ack(&mut out, b"$JS.ACK.S.C.1.2.3.4.5", Some("_INBOX.a"));
        assert_eq!(
            out,
            b"PUB $JS.ACK.S.C.1.2.3.4.5 4\r\n+ACK\r\nPUB $JS.ACK.S.C.1.2.3.4.5 _INBOX.a 4\r\n+ACK\r\n"
        );
        out.clear();
        append_pull(&mut out, "_INBOX.p.1", 100);
        let text = String::from_utf8(out).unwrap();
        let (line, body) = text.split_once("\r\n").unwrap();
        let body = body.strip_suffix("\r\n").unwrap();
        assert_eq!(
            line,
            format!(
                "PUB $JS.API.CONSUMER.MSG.NEXT.{STREAM}.{DURABLE} _INBOX.p.1 {}",
                body.len()
            )
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["batch"], 100);
        assert_eq!(v["expires"], 5_000_000_000u64);
    }

    #[test]
    fn pub_frame_stamps_small_payloads_only_when_they_fit() {
        let mut f = PubFrame::new("s", "r", 16);
        let mut out = Vec::new();
        f.append(&mut out, 42);
        assert_eq!(&out[..12], b"PUB s r 16\r\n");
        assert_eq!(crate::proto::stamp_of(&out[12..]), Some(42));
        let mut tiny = PubFrame::new("s", "r", 4);
        out.clear();
        tiny.append(&mut out, 42);
        assert_eq!(out, b"PUB s r 4\r\nabcd\r\n");
    }
}
