//! A raw client socket for tests that observe the server's bytes: it buffers what arrives
//! and remembers whether the server closed. The harnesses on top of it decide how to turn
//! the bytes into observations (`ops::Conn`, and the scenario runner in `differential.rs`).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct Socket {
    stream: TcpStream,
    /// Bytes read and not yet taken.
    pub buf: Vec<u8>,
    /// The server closed (or reset) the connection.
    pub closed: bool,
}

impl Socket {
    pub fn open(addr: &str, write_timeout: Duration) -> std::io::Result<Socket> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true).ok();
        stream.set_write_timeout(Some(write_timeout)).ok();
        Ok(Socket {
            stream,
            buf: Vec::new(),
            closed: false,
        })
    }

    /// Writes `bytes`; a write error (the server closed) is not a failure here, the next
    /// read shows the close.
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// One read of at most `wait` into `buf`; false when nothing came (timeout or close).
    pub fn fill(&mut self, wait: Duration) -> bool {
        if self.closed {
            return false;
        }
        let mut chunk = [0u8; 65536];
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .ok();
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => {
                // A reset is a close too; bytes that came before it were already read.
                self.closed = true;
                false
            }
        }
    }

    /// The first line in the buffer (through `\n`), reading until `deadline` for it; None
    /// when it did not come before the deadline or the close.
    pub fn line_by(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return Some(self.buf.drain(..=i).collect());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.closed || left.is_zero() {
                return None;
            }
            self.fill(left);
        }
    }
}
