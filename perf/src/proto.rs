//! The client side of the NATS protocol, as much as a load generator needs: the handshake,
//! pre-built PUB frames, and a scanner that walks what the server sends without copying.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use memchr::memchr;

/// Bytes read per `read` call; large enough that a busy subscriber reads hundreds of
/// messages per syscall, as a real client does.
pub const READ_BUF_BYTES: usize = 1 << 20;
/// A publisher writes its frames in chunks of about this many bytes.
pub const WRITE_CHUNK_BYTES: usize = 64 * 1024;
/// How often a blocked read wakes up to look at the deadline and the done flag.
pub const READ_POLL: Duration = Duration::from_millis(100);

/// One TCP connection to the server, after INFO and CONNECT.
pub struct Conn {
    pub stream: TcpStream,
    pub server_version: String,
    /// The INFO's `client_id` (natrix numbers connections in accept order).
    pub client_id: u64,
}

impl Conn {
    /// Connects, reads INFO and sends CONNECT (not verbose, no echo), then checks with
    /// PING/PONG that the server accepted it.
    pub fn open(addr: &str, name: &str) -> io::Result<Conn> {
        Conn::connect(addr, name, false)
    }

    /// [`Conn::open`] with headers on, as JetStream needs: pull requests end with header-only
    /// status messages (`NATS/1.0 408 Request Timeout`).
    pub fn open_headers(addr: &str, name: &str) -> io::Result<Conn> {
        Conn::connect(addr, name, true)
    }

    /// `addr` is `host:port`, or `user:password@host:port` to log in as a user (accounts).
    fn connect(addr: &str, name: &str, headers: bool) -> io::Result<Conn> {
        let (login, addr) = match addr.rsplit_once('@') {
            Some((login, addr)) => (login.split_once(':'), addr),
            None => (None, addr),
        };
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let info = read_line(&mut stream)?;
        let json = info
            .strip_prefix("INFO ")
            .ok_or_else(|| io::Error::other(format!("expected INFO, got {info:?}")))?;
        let info: serde_json::Value = serde_json::from_str(json).map_err(io::Error::other)?;
        let server_version = info["version"].as_str().unwrap_or("?").to_string();
        let client_id = info["client_id"].as_u64().unwrap_or(0);
        let mut connect = serde_json::json!({
            "verbose": false, "pedantic": false, "lang": "rust", "version": "natrix-bench",
            "name": name, "protocol": 0, "echo": false, "headers": headers,
        });
        if let Some((user, pass)) = login {
            connect["user"] = serde_json::json!(user);
            connect["pass"] = serde_json::json!(pass);
        }
        stream.write_all(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())?;
        let reply = read_line(&mut stream)?;
        if reply != "PONG" {
            return Err(io::Error::other(format!("CONNECT refused: {reply}")));
        }
        stream.set_read_timeout(Some(READ_POLL))?;
        Ok(Conn {
            stream,
            server_version,
            client_id,
        })
    }

    /// Sends `cmds` followed by PING and waits for the PONG: the server has processed them.
    pub fn roundtrip(&mut self, cmds: &[u8], scan: &mut Scanner) -> io::Result<()> {
        self.stream.write_all(cmds)?;
        self.stream.write_all(b"PING\r\n")?;
        scan.until_pong(&mut self.stream, || false)
    }
}

/// Reads one line byte by byte; only for the handshake, before any message flows.
fn read_line(stream: &mut TcpStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        stream.read_exact(&mut byte)?;
        match byte[0] {
            b'\n' => break,
            b'\r' => {}
            b => line.push(b),
        }
    }
    String::from_utf8(line).map_err(io::Error::other)
}

/// One thing the server sent.
pub enum Event<'a> {
    Msg {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        /// Header bytes at the start of `payload` (0 for MSG).
        headers: usize,
        /// Headers and body together, as they came.
        payload: &'a [u8],
    },
    Ping,
    Pong,
    Err(&'a [u8]),
}

/// Walks the server's byte stream. Message payloads are handed out as slices of the read
/// buffer; a frame split across reads is kept and completed by the next read.
pub struct Scanner {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            buf: vec![0; READ_BUF_BYTES],
            start: 0,
            end: 0,
        }
    }
}

/// Outcome of one read.
pub enum Fill {
    Data,
    /// The read timed out (see [`READ_POLL`]): time to look at the clock.
    Idle,
}

impl Scanner {
    /// Reads once from `stream`. A closed connection is an error.
    pub fn fill(&mut self, stream: &mut TcpStream) -> io::Result<Fill> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // A single frame larger than the buffer (a 1 MiB payload): grow.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        match stream.read(&mut self.buf[self.end..]) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )),
            Ok(n) => {
                self.end += n;
                Ok(Fill::Data)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(Fill::Idle)
            }
            Err(e) => Err(e),
        }
    }

    /// Hands every complete frame in the buffer to `on_event`. Stops early when it returns
    /// false (the rest stays buffered).
    pub fn drain(&mut self, mut on_event: impl FnMut(Event<'_>) -> bool) -> io::Result<()> {
        loop {
            let data = &self.buf[self.start..self.end];
            let Some(nl) = memchr(b'\n', data) else {
                return Ok(());
            };
            let line = trim_cr(&data[..nl]);
            let (event, used) = if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
                let head = parse_msg_line(line)?;
                let len = head.len;
                let total = nl + 1 + len + 2;
                if data.len() < total {
                    return Ok(());
                }
                let payload = &data[nl + 1..nl + 1 + len];
                let event = Event::Msg {
                    subject: head.subject,
                    reply: head.reply,
                    headers: head.headers,
                    payload,
                };
                (Some(event), total)
            } else if line == b"PING" {
                (Some(Event::Ping), nl + 1)
            } else if line == b"PONG" {
                (Some(Event::Pong), nl + 1)
            } else if line.starts_with(b"-ERR") {
                (Some(Event::Err(line)), nl + 1)
            } else {
                (None, nl + 1) // INFO, +OK
            };
            let more = match event {
                Some(event) => on_event(event),
                None => true,
            };
            self.start += used;
            if !more {
                return Ok(());
            }
        }
    }

    /// Reads until a PONG arrives, answering PINGs; messages in between are dropped.
    /// `give_up` is asked at every idle read.
    pub fn until_pong(
        &mut self,
        stream: &mut TcpStream,
        mut give_up: impl FnMut() -> bool,
    ) -> io::Result<()> {
        loop {
            let mut pong = false;
            let mut ping = false;
            let mut err = None;
            self.drain(|event| {
                match event {
                    Event::Pong => pong = true,
                    Event::Ping => ping = true,
                    Event::Err(line) => err = Some(String::from_utf8_lossy(line).into_owned()),
                    Event::Msg { .. } => {}
                }
                !pong
            })?;
            if let Some(err) = err {
                return Err(io::Error::other(err));
            }
            if ping {
                stream.write_all(b"PONG\r\n")?;
            }
            if pong {
                return Ok(());
            }
            if let Fill::Idle = self.fill(stream)? {
                if give_up() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no PONG"));
                }
            }
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What a MSG or HMSG line says about the frame that follows it.
#[derive(Debug, PartialEq, Eq)]
struct MsgHead<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// Header bytes (0 for MSG).
    headers: usize,
    /// Bytes that follow the line, headers included, before the closing CRLF.
    len: usize,
}

/// `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <hdr> <total>`.
fn parse_msg_line(line: &[u8]) -> io::Result<MsgHead<'_>> {
    let headers = line[0] == b'H';
    let mut args = line.split(|&b| b == b' ').filter(|a| !a.is_empty()).skip(1);
    let mut fields: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for arg in args.by_ref() {
        if n == fields.len() {
            return Err(bad_line(line));
        }
        fields[n] = arg;
        n += 1;
    }
    let (needed, with_reply) = if headers { (4, n == 5) } else { (3, n == 4) };
    if n < needed {
        return Err(bad_line(line));
    }
    let len = parse_usize(fields[n - 1]).ok_or_else(|| bad_line(line))?;
    let hdr = if headers {
        parse_usize(fields[n - 2])
            .filter(|&h| h <= len)
            .ok_or_else(|| bad_line(line))?
    } else {
        0
    };
    Ok(MsgHead {
        subject: fields[0],
        reply: with_reply.then_some(fields[2]),
        headers: hdr,
        len,
    })
}

/// The status code of a header-only status message (`NATS/1.0 408 Request Timeout`), when
/// the headers hold one.
pub fn status_of(headers: &[u8]) -> Option<u16> {
    let rest = headers.strip_prefix(b"NATS/1.0 ")?;
    let code = rest.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

fn bad_line(line: &[u8]) -> io::Error {
    io::Error::other(format!(
        "unexpected line {:?}",
        String::from_utf8_lossy(line)
    ))
}

fn parse_usize(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// A run of pre-built PUB frames that a publisher writes over and over; the payloads that
/// are at least 8 bytes long get the send time stamped into their first 8 bytes.
pub struct Frames {
    pub bytes: Vec<u8>,
    /// Start offset of each frame, and one past the end.
    pub frame_starts: Vec<usize>,
    /// Payload offset of each frame.
    pub payload_at: Vec<usize>,
    pub stamped: bool,
}

impl Frames {
    /// Frames that cycle over `subjects`, with `reply` as reply subject when given, filling
    /// at least one write chunk.
    pub fn build(subjects: &[String], reply: Option<&str>, size: usize) -> Frames {
        let per_chunk = (WRITE_CHUNK_BYTES / (size + 32)).max(1);
        let count = if subjects.len() > 1 {
            subjects.len()
        } else {
            per_chunk
        };
        let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        let mut frames = Frames {
            bytes: Vec::new(),
            frame_starts: Vec::with_capacity(count + 1),
            payload_at: Vec::with_capacity(count),
            stamped: size >= 8,
        };
        for i in 0..count {
            frames.frame_starts.push(frames.bytes.len());
            let subject = &subjects[i % subjects.len()];
            match reply {
                Some(reply) => write!(frames.bytes, "PUB {subject} {reply} {size}\r\n"),
                None => write!(frames.bytes, "PUB {subject} {size}\r\n"),
            }
            .expect("writing to a Vec");
            frames.payload_at.push(frames.bytes.len());
            frames.bytes.extend_from_slice(&payload);
            frames.bytes.extend_from_slice(b"\r\n");
        }
        frames.frame_starts.push(frames.bytes.len());
        frames
    }

    pub fn len(&self) -> usize {
        self.payload_at.len()
    }

    /// How many frames from `first` fit in one write chunk (at least one, at most `left`).
    pub fn chunk(&self, first: usize, left: u64) -> usize {
        let limit = self.frame_starts[first] + WRITE_CHUNK_BYTES;
        let mut n = 1;
        while first + n < self.len()
            && (n as u64) < left
            && self.frame_starts[first + n + 1] <= limit
        {
            n += 1;
        }
        n
    }

    /// Stamps `t` into frames `first..first + n` and returns their bytes.
    pub fn stamp(&mut self, first: usize, n: usize, t: u64) -> &[u8] {
        if self.stamped {
            for &at in &self.payload_at[first..first + n] {
                self.bytes[at..at + 8].copy_from_slice(&t.to_le_bytes());
            }
        }
        &self.bytes[self.frame_starts[first]..self.frame_starts[first + n]]
    }
}

/// The send time carried in a payload, when it has one.
pub fn stamp_of(payload: &[u8]) -> Option<u64> {
    payload
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_lines() {
        let head = parse_msg_line(b"MSG a.b 1 16").unwrap();
        assert_eq!(
            (head.subject, head.reply, head.len),
            (&b"a.b"[..], None, 16)
        );
        let head = parse_msg_line(b"MSG a.b 1 _INBOX.x 5").unwrap();
        assert_eq!(
            (head.reply, head.headers, head.len),
            (Some(&b"_INBOX.x"[..]), 0, 5)
        );
        let head = parse_msg_line(b"HMSG a 1 r 12 30").unwrap();
        assert_eq!(
            (head.reply, head.headers, head.len),
            (Some(&b"r"[..]), 12, 30)
        );
        let head = parse_msg_line(b"HMSG in.1 2 28 28").unwrap();
        assert_eq!(
            (head.subject, head.reply, head.headers),
            (&b"in.1"[..], None, 28)
        );
        assert!(parse_msg_line(b"MSG a 1 x").is_err());
        assert!(parse_msg_line(b"MSG a").is_err());
        assert!(parse_msg_line(b"HMSG a 1 30 12").is_err());
    }

    #[test]
    fn status_codes() {
        assert_eq!(
            status_of(b"NATS/1.0 408 Request Timeout\r\n\r\n"),
            Some(408)
        );
        assert_eq!(status_of(b"NATS/1.0 404 No Messages\r\n\r\n"), Some(404));
        assert_eq!(status_of(b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n"), None);
        assert_eq!(status_of(b""), None);
    }

    #[test]
    fn scanner_hands_out_status_and_split_frames() {
        let wire: &[u8] = b"HMSG in.1 1 28 28\r\nNATS/1.0 408 Request Timeout\r\n\r\n\r\nMSG s 1 $JS.ACK.x 3\r\nabc\r\n";
        for cut in 0..=wire.len() {
            let mut scan = Scanner::default();
            let mut seen = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                scan.buf[scan.end..scan.end + part.len()].copy_from_slice(part);
                scan.end += part.len();
                scan.drain(|event| {
                    if let Event::Msg {
                        subject,
                        reply,
                        headers,
                        payload,
                    } = event
                    {
                        seen.push((
                            subject.to_vec(),
                            reply.map(<[u8]>::to_vec),
                            headers,
                            status_of(&payload[..headers]),
                        ));
                    }
                    true
                })
                .unwrap();
            }
            assert_eq!(seen.len(), 2, "cut at {cut}");
            assert_eq!(seen[0], (b"in.1".to_vec(), None, 28, Some(408)));
            assert_eq!(
                seen[1],
                (b"s".to_vec(), Some(b"$JS.ACK.x".to_vec()), 0, None)
            );
        }
    }

    #[test]
    fn frames_cover_the_chunk_and_stamp() {
        let mut f = Frames::build(&["s".into()], None, 16);
        assert!(f.len() > 100);
        let n = f.chunk(0, 3);
        assert_eq!(n, 3);
        let bytes = f.stamp(0, 1, 7).to_vec();
        assert_eq!(&bytes[..10], b"PUB s 16\r\n");
        assert_eq!(stamp_of(&bytes[10..]), Some(7));
        let full = f.chunk(0, u64::MAX);
        assert!(f.frame_starts[full] <= WRITE_CHUNK_BYTES);
    }
}
