//! Whole MSG/HMSG frames off a raw [`Socket`], for tests that check the bytes of deliveries
//! and status messages (flow control, heartbeats), with a JetStream API request helper.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::wire::Socket;

/// One frame from the server.
#[derive(Debug, Clone)]
pub enum Frame {
    /// MSG or HMSG: the whole frame as sent, and its parts.
    Msg {
        raw: Vec<u8>,
        subject: String,
        reply: Option<String>,
        headers: Vec<u8>,
        payload: Vec<u8>,
    },
    /// Any other line (`PONG`, `-ERR`, `INFO`).
    Line(String),
}

impl Frame {
    pub fn subject(&self) -> &str {
        match self {
            Frame::Msg { subject, .. } => subject,
            Frame::Line(_) => "",
        }
    }

    pub fn headers(&self) -> &[u8] {
        match self {
            Frame::Msg { headers, .. } => headers,
            Frame::Line(_) => b"",
        }
    }

    pub fn reply(&self) -> Option<&str> {
        match self {
            Frame::Msg { reply, .. } => reply.as_deref(),
            Frame::Line(_) => None,
        }
    }

    pub fn raw_text(&self) -> String {
        match self {
            Frame::Msg { raw, .. } => String::from_utf8_lossy(raw).into_owned(),
            Frame::Line(l) => l.clone(),
        }
    }
}

/// A raw connection: CONNECT with headers, `SUB _R.* 99` for API replies.
pub struct RawConn {
    pub sock: Socket,
    next_request: u64,
}

impl RawConn {
    pub fn open(addr: &str, wait: Duration) -> RawConn {
        let mut sock = Socket::open(addr, wait).expect("connect");
        let info = sock.line_by(Instant::now() + wait).expect("INFO");
        assert!(info.starts_with(b"INFO "));
        let mut c = RawConn {
            sock,
            next_request: 0,
        };
        c.send(
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
             \"no_responders\":true}\r\nSUB _R.* 99\r\n",
        );
        c.ping(wait);
        c
    }

    pub fn send(&mut self, text: &str) {
        self.sock.send(text.as_bytes());
    }

    /// PING and read up to its PONG; frames before it are returned.
    pub fn ping(&mut self, wait: Duration) -> Vec<Frame> {
        self.send("PING\r\n");
        let mut before = Vec::new();
        loop {
            match self.frame(wait) {
                Some(Frame::Line(l)) if l == "PONG\r\n" => return before,
                Some(f) => before.push(f),
                None => panic!("no PONG within {wait:?}"),
            }
        }
    }

    /// A request on a fresh `_R.<n>` inbox; the reply's payload as JSON.
    pub fn api(&mut self, subject: &str, body: &Value, wait: Duration) -> Value {
        self.next_request += 1;
        let reply = format!("_R.{}", self.next_request);
        let body = body.to_string();
        self.send(&format!(
            "PUB {subject} {reply} {}\r\n{body}\r\n",
            body.len()
        ));
        loop {
            match self.frame(wait) {
                Some(Frame::Msg {
                    subject, payload, ..
                }) if subject == reply => {
                    return serde_json::from_slice(&payload).expect("API JSON")
                }
                Some(_) => continue,
                None => panic!("no reply to {subject} within {wait:?}"),
            }
        }
    }

    /// The next frame within `wait`; None when nothing came. PINGs are answered and skipped.
    pub fn frame(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = Instant::now() + wait;
        loop {
            let line = self.sock.line_by(deadline)?;
            let text = String::from_utf8_lossy(&line).into_owned();
            if text == "PING\r\n" {
                self.send("PONG\r\n");
                continue;
            }
            let parts: Vec<&str> = text.split_whitespace().collect();
            let (hdr_len, total_len, reply) = match parts.first().copied() {
                Some("MSG") => {
                    let total: usize = parts.last()?.parse().ok()?;
                    (0, total, (parts.len() == 5).then(|| parts[3].to_string()))
                }
                Some("HMSG") => {
                    let n = parts.len();
                    let hdr: usize = parts[n - 2].parse().ok()?;
                    let total: usize = parts[n - 1].parse().ok()?;
                    (hdr, total, (n == 6).then(|| parts[3].to_string()))
                }
                _ => return Some(Frame::Line(text)),
            };
            while self.sock.buf.len() < total_len + 2 {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero() && !self.sock.closed,
                    "frame body cut off after {text:?}"
                );
                self.sock.fill(left);
            }
            let body: Vec<u8> = self.sock.buf.drain(..total_len + 2).collect();
            let mut raw = line.clone();
            raw.extend_from_slice(&body);
            return Some(Frame::Msg {
                raw,
                subject: parts[1].to_string(),
                reply,
                headers: body[..hdr_len].to_vec(),
                payload: body[hdr_len..total_len].to_vec(),
            });
        }
    }
}
