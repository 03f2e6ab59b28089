//! A raw-protocol client for the differential JetStream tests: CONNECT with headers and
//! no responders, one `SUB _IN.> 1`, and requests on `_IN.<n>` inboxes whose answer's
//! payload comes back as text, the same on natrix and nats-server.

use std::time::{Duration, Instant};

use super::wire::Socket;

pub struct Requester {
    pub sock: Socket,
    next: u64,
    /// How long a line or an answer may take.
    pub wait: Duration,
}

impl Requester {
    pub fn open(addr: &str, wait: Duration) -> Requester {
        let mut sock = Socket::open(addr, wait).expect("connect");
        sock.line_by(Instant::now() + wait).expect("INFO");
        let mut r = Requester {
            sock,
            next: 0,
            wait,
        };
        r.sock.send(
            b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n\
              SUB _IN.> 1\r\nPING\r\n",
        );
        assert_eq!(r.line(), "PONG\r\n");
        r
    }

    pub fn line(&mut self) -> String {
        let line = self
            .sock
            .line_by(Instant::now() + self.wait)
            .expect("a line from the server");
        String::from_utf8_lossy(&line).into_owned()
    }

    /// A PUB (no headers) or HPUB frame; `reply` may be empty.
    pub fn frame(subject: &str, reply: &str, headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let reply = if reply.is_empty() {
            String::new()
        } else {
            format!(" {reply}")
        };
        let mut frame = Vec::new();
        if headers.is_empty() {
            frame.extend(format!("PUB {subject}{reply} {}\r\n", payload.len()).bytes());
        } else {
            let mut h = "NATS/1.0\r\n".to_string();
            for (k, v) in headers {
                h.push_str(&format!("{k}: {v}\r\n"));
            }
            h.push_str("\r\n");
            let total = h.len() + payload.len();
            frame.extend(format!("HPUB {subject}{reply} {} {total}\r\n{h}", h.len()).bytes());
        }
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        frame
    }

    /// Publishes with a fresh reply inbox and returns the reply's payload.
    pub fn request(&mut self, subject: &str, headers: &[(&str, &str)], payload: &[u8]) -> String {
        self.next += 1;
        let reply = format!("_IN.{}", self.next);
        self.request_to(subject, &reply, headers, payload)
    }

    /// [`Requester::request`] with the reply subject given (under `_IN.`).
    pub fn request_to(
        &mut self,
        subject: &str,
        reply: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> String {
        self.sock
            .send(&Self::frame(subject, reply, headers, payload));
        let (to, hdr, body) = self.next_msg();
        assert_eq!(to, reply, "the reply to this request");
        String::from_utf8_lossy(&body[hdr..]).into_owned()
    }

    /// The next MSG or HMSG (PINGs answered): its subject, header length and bytes
    /// (headers then payload).
    pub fn next_msg(&mut self) -> (String, usize, Vec<u8>) {
        loop {
            let line = self.line();
            if line == "PING\r\n" {
                self.sock.send(b"PONG\r\n");
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let n = parts.len();
            let (hdr, total): (usize, usize) = match parts[0] {
                "MSG" => (0, parts[n - 1].parse().unwrap()),
                "HMSG" => (parts[n - 2].parse().unwrap(), parts[n - 1].parse().unwrap()),
                _ => panic!("unexpected line {line:?}"),
            };
            let deadline = Instant::now() + self.wait;
            while self.sock.buf.len() < total + 2 {
                assert!(Instant::now() < deadline && !self.sock.closed, "cut off");
                self.sock.fill(self.wait);
            }
            let mut body: Vec<u8> = self.sock.buf.drain(..total + 2).collect();
            body.truncate(total);
            return (parts[1].to_string(), hdr, body);
        }
    }
}
