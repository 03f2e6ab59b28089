//! The NATS Streaming side of the protocol, as much as the STAN workloads need: a client
//! that connects to a cluster (`_STAN.discover.<cluster>`), makes requests one at a time,
//! answers the server's heartbeats, and publishes with at most a window of PubAcks
//! outstanding. The protobuf messages are natrix's own (`natrix::stan::proto`); they carry
//! the field numbers of stan.go's `protocol.proto`, so this speaks to any STAN server.

use std::io::{self, Write};
use std::time::Duration;

use hdrhistogram::Histogram;
use natrix::stan::proto::{decode, ConnectRequest, ConnectResponse, PubAck, PubMsg};
use prost::Message;

use crate::measure::now_ns;
use crate::proto::{Conn, Event, Fill, Scanner};

/// The cluster ID the workloads connect to (nats-streaming-server's default).
pub const CLUSTER_ID: &str = "test-cluster";
/// Where a STAN server listens for ConnectRequests, before the cluster ID.
const DISCOVER_PREFIX: &str = "_STAN.discover";
/// A request that gets no answer in this long fails the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Client-side pings the ConnectRequest announces (protocol 1); the workloads send none,
/// runs are far shorter than the server would wait.
const PING_INTERVAL_S: i32 = 5;
const PING_MAX_OUT: i32 = 3;

/// One STAN client on its own NATS connection.
pub struct StanClient {
    pub conn: Conn,
    pub scan: Scanner,
    pub client_id: String,
    pub conn_id: Vec<u8>,
    /// The server's subjects for this client (publish prefix, subscription requests, ...).
    pub subjects: ConnectResponse,
    heartbeat_inbox: String,
    /// Every reply subject of this client starts with this and a dot.
    pub inbox_prefix: String,
    requests: u64,
}

/// What a read brought that is not the workload's own business.
pub enum Chore<'a> {
    /// The message is for the workload (not a heartbeat).
    Mine,
    /// Nothing more to do, or an answer was appended to the output.
    Done,
    /// The server refused something.
    Failed(&'a [u8]),
}

impl StanClient {
    /// Connects to `server` and registers `client_id` with the cluster.
    pub fn connect(server: &str, client_id: &str) -> io::Result<StanClient> {
        let conn = Conn::open(server, &format!("natrix-bench {client_id}"))?;
        let inbox_prefix = format!("_INBOX.natrix-bench.stan.{client_id}");
        let heartbeat_inbox = format!("{inbox_prefix}.hb");
        let mut client = StanClient {
            conn,
            scan: Scanner::default(),
            client_id: client_id.to_string(),
            conn_id: format!("natrix-bench-{client_id}").into_bytes(),
            subjects: ConnectResponse::default(),
            heartbeat_inbox,
            inbox_prefix,
            requests: 0,
        };
        let sub = format!("SUB {}.> 1\r\n", client.inbox_prefix);
        client.conn.roundtrip(sub.as_bytes(), &mut client.scan)?;
        let request = ConnectRequest {
            client_id: client_id.to_string(),
            heartbeat_inbox: client.heartbeat_inbox.clone(),
            protocol: 1,
            conn_id: client.conn_id.clone(),
            ping_interval: PING_INTERVAL_S,
            ping_max_out: PING_MAX_OUT,
        };
        let answer = client.request(
            &format!("{DISCOVER_PREFIX}.{CLUSTER_ID}"),
            &request.encode_to_vec(),
        )?;
        let response: ConnectResponse =
            decode(&answer).ok_or_else(|| io::Error::other("an undecodable ConnectResponse"))?;
        if !response.error.is_empty() {
            return Err(io::Error::other(format!("connect: {}", response.error)));
        }
        client.subjects = response;
        Ok(client)
    }

    /// Sends `payload` to `subject` as a request and returns the answer's payload; whatever
    /// else arrives meanwhile (a delivery of a subscription being set up) is dropped, so the
    /// workloads make their requests before anything flows.
    pub fn request(&mut self, subject: &str, payload: &[u8]) -> io::Result<Vec<u8>> {
        self.requests += 1;
        let reply = format!("{}.req.{}", self.inbox_prefix, self.requests);
        let mut out = format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes();
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
        self.conn.stream.write_all(&out)?;
        let deadline = now_ns() + REQUEST_TIMEOUT.as_nanos() as u64;
        loop {
            let mut answer = None;
            let mut problem = None;
            out.clear();
            let hb = self.heartbeat_inbox.as_bytes();
            self.scan.drain(|event| {
                if let Event::Msg {
                    subject, payload, ..
                } = &event
                {
                    if *subject == reply.as_bytes() {
                        answer = Some(payload.to_vec());
                        return false;
                    }
                }
                match chore(&event, hb, &mut out) {
                    Chore::Failed(line) => {
                        problem = Some(String::from_utf8_lossy(line).into_owned());
                        false
                    }
                    Chore::Mine | Chore::Done => true,
                }
            })?;
            if let Some(problem) = problem {
                return Err(io::Error::other(format!("{subject}: {problem}")));
            }
            if !out.is_empty() {
                self.conn.stream.write_all(&out)?;
            }
            if let Some(answer) = answer {
                return Ok(answer);
            }
            if let Fill::Idle = self.scan.fill(&mut self.conn.stream)? {
                if now_ns() > deadline {
                    return Err(io::Error::other(format!("{subject}: no answer")));
                }
            }
        }
    }

    /// Publishes `n` messages of `size` bytes to `channel`, keeping at most `window`
    /// PubAcks outstanding, and records each ack's latency (from the write of its message)
    /// in `hist`. Each PubMsg's guid is its number, so acks may come in any order.
    /// `give_up` is asked at every idle read. Returns the time the last ack arrived.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_acked(
        &mut self,
        channel: &str,
        size: usize,
        n: u64,
        window: usize,
        hist: &mut Histogram<u64>,
        mut give_up: impl FnMut() -> bool,
    ) -> io::Result<u64> {
        let window = window.max(1) as u64;
        let subject = format!("{}.{channel}", self.subjects.pub_prefix);
        let ack_inbox = format!("{}.acks", self.inbox_prefix);
        let mut msg = PubMsg {
            client_id: self.client_id.clone(),
            guid: String::new(),
            subject: channel.to_string(),
            reply: String::new(),
            data: (0..size).map(|i| b'a' + (i % 26) as u8).collect(),
            conn_id: self.conn_id.clone(),
            sha256: Vec::new(),
        };
        let mut sent_at: Vec<u64> = Vec::with_capacity(n as usize);
        let mut acked_already = vec![false; n as usize];
        let mut out = Vec::with_capacity(1 << 16);
        let (mut sent, mut acked) = (0u64, 0u64);
        let mut last_ns = now_ns();
        while acked < n {
            out.clear();
            let now = now_ns();
            while sent < n && sent - acked < window {
                msg.guid.clear();
                let _ = std::fmt::Write::write_fmt(&mut msg.guid, format_args!("{sent}"));
                if size >= 8 {
                    msg.data[..8].copy_from_slice(&now.to_le_bytes());
                }
                let _ = write!(out, "PUB {subject} {ack_inbox} {}\r\n", msg.encoded_len());
                msg.encode(&mut out).map_err(io::Error::other)?;
                out.extend_from_slice(b"\r\n");
                sent_at.push(now);
                sent += 1;
            }
            if !out.is_empty() {
                self.conn.stream.write_all(&out)?;
            }
            if let Fill::Idle = self.scan.fill(&mut self.conn.stream)? {
                if give_up() {
                    return Err(io::Error::other(format!(
                        "timed out with {acked} of {n} publishes acknowledged"
                    )));
                }
                continue;
            }
            let now = now_ns();
            let mut problem = None;
            out.clear();
            let hb = self.heartbeat_inbox.as_bytes();
            self.scan.drain(|event| {
                match chore(&event, hb, &mut out) {
                    Chore::Failed(line) => {
                        problem = Some(String::from_utf8_lossy(line).into_owned());
                        return false;
                    }
                    Chore::Done => return true,
                    Chore::Mine => {}
                }
                let Event::Msg {
                    subject, payload, ..
                } = event
                else {
                    return true;
                };
                if subject != ack_inbox.as_bytes() {
                    return true; // a late answer to an earlier request
                }
                let ack: Option<PubAck> = decode(payload);
                let number = ack.as_ref().and_then(|a| a.guid.parse::<usize>().ok());
                match (ack, number) {
                    (Some(ack), _) if !ack.error.is_empty() => {
                        problem = Some(format!("PubAck error: {}", ack.error));
                        false
                    }
                    (Some(_), Some(i)) if i < sent_at.len() && !acked_already[i] => {
                        acked_already[i] = true;
                        let _ = hist.record(now.saturating_sub(sent_at[i]).max(1));
                        acked += 1;
                        true
                    }
                    _ => {
                        problem = Some(format!("an unexpected PubAck {payload:?}"));
                        false
                    }
                }
            })?;
            if let Some(problem) = problem {
                return Err(io::Error::other(format!("publish refused: {problem}")));
            }
            if !out.is_empty() {
                self.conn.stream.write_all(&out)?;
            }
            last_ns = now;
        }
        Ok(last_ns)
    }
}

/// Handles what every STAN client loop must: PINGs, the server's heartbeats (requests on
/// the heartbeat inbox, answered with an empty message) and `-ERR`. Answers go to `out`.
pub fn chore<'a>(event: &Event<'a>, heartbeat_inbox: &[u8], out: &mut Vec<u8>) -> Chore<'a> {
    match event {
        Event::Msg { subject, reply, .. } if *subject == heartbeat_inbox => {
            if let Some(reply) = reply {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(reply);
                out.extend_from_slice(b" 0\r\n\r\n");
            }
            Chore::Done
        }
        Event::Msg { .. } => Chore::Mine,
        Event::Ping => {
            out.extend_from_slice(b"PONG\r\n");
            Chore::Done
        }
        Event::Pong => Chore::Done,
        Event::Err(line) => Chore::Failed(line),
    }
}

/// A PUB frame with a protobuf `msg` as payload.
pub fn append_pub(out: &mut Vec<u8>, subject: &str, msg: &impl Message) {
    let _ = write!(out, "PUB {subject} {}\r\n", msg.encoded_len());
    let _ = msg.encode(out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use natrix::stan::proto::Ack;

    #[test]
    fn heartbeats_are_answered_and_deliveries_left_to_the_workload() {
        let mut out = Vec::new();
        let hb = Event::Msg {
            subject: b"_INBOX.x.hb",
            reply: Some(b"_STAN.hb.1"),
            headers: 0,
            payload: b"",
        };
        assert!(matches!(chore(&hb, b"_INBOX.x.hb", &mut out), Chore::Done));
        assert_eq!(out, b"PUB _STAN.hb.1 0\r\n\r\n");
        let delivery = Event::Msg {
            subject: b"_INBOX.x.deliver",
            reply: None,
            headers: 0,
            payload: b"\x08\x01",
        };
        assert!(matches!(
            chore(&delivery, b"_INBOX.x.hb", &mut out),
            Chore::Mine
        ));
        assert!(matches!(
            chore(&Event::Err(b"-ERR 'x'"), b"h", &mut out),
            Chore::Failed(_)
        ));
    }

    #[test]
    fn a_pub_frame_carries_the_encoded_length() {
        let mut out = Vec::new();
        let ack = Ack {
            subject: "c".into(),
            sequence: 300,
        };
        append_pub(&mut out, "_STAN.ack.x", &ack);
        // field 1 "c" (3 bytes), field 2 varint 300 (3 bytes).
        assert_eq!(
            out,
            b"PUB _STAN.ack.x 6\r\n\x0a\x01c\x10\xac\x02\r\n".to_vec()
        );
    }
}
