//! The bytes under a connection: plain TCP, or TLS over it (rustls, driven sans-io).
//!
//! A connection's reader and writer tasks each hold one half over the connection's one
//! descriptor (`runtime::Socket`, see `io.rs`). With TLS both halves share one `rustls::ServerConnection` in an
//! `Rc<RefCell<_>>`: they live on the same shard, and no borrow is held across an `.await`.
//! The reader feeds ciphertext in and takes plaintext out; the writer puts plaintext in and
//! sends the records rustls makes. When reading makes rustls want to write (an alert, a key
//! update), the reader wakes the writer.
//!
//! Invariants: ciphertext the reader took from the socket but rustls has not consumed yet
//! stays in `raw` for the next call, so nothing is lost when rustls's buffers are full;
//! plaintext is handed out before more ciphertext is read, so rustls's plaintext buffer never
//! overflows.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection};

use super::outq::Chunk;
use crate::runtime::{self, Notify, Socket};

/// The content type of a TLS handshake record, the first byte a TLS client sends.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// Ciphertext read from the socket per read call.
const TLS_READ_BYTES: usize = 16 * 1024 + 256;

/// One TLS session, shared by a connection's reader and writer.
pub struct TlsSession {
    conn: RefCell<ServerConnection>,
}

impl TlsSession {
    /// The protocol version and cipher suite, as /connz names them.
    pub fn describe(&self) -> (String, String) {
        let conn = self.conn.borrow();
        let version = conn
            .protocol_version()
            .map(|v| crate::tls::tls_version_name(v).to_string())
            .unwrap_or_default();
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| crate::tls::cipher_suite_name(s.suite()).into_owned())
            .unwrap_or_default();
        (version, suite)
    }
}

/// Runs the TLS handshake on `stream`, within `timeout`. Records that arrive with the
/// client's last handshake message (a CONNECT, say) stay in the session for the reader.
pub async fn handshake(
    stream: &Socket,
    config: Arc<ServerConfig>,
    timeout: Duration,
) -> io::Result<Rc<TlsSession>> {
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let session = Rc::new(TlsSession {
        conn: RefCell::new(conn),
    });
    let work = async {
        let mut raw = vec![0u8; TLS_READ_BYTES];
        // Whether the client's first byte opened a TLS handshake record. When it did not
        // (a plain client), the server closes without an alert, as Go's TLS does.
        let mut speaks_tls = None;
        loop {
            send_pending(stream, &session).await?;
            if !session.conn.borrow().is_handshaking() {
                return Ok(());
            }
            let n = stream.read(&mut raw).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let speaks_tls = *speaks_tls.get_or_insert(raw[0] == TLS_HANDSHAKE_RECORD);
            let mut rd = &raw[..n];
            while !rd.is_empty() {
                let processed = {
                    let mut conn = session.conn.borrow_mut();
                    conn.read_tls(&mut rd)
                        .and_then(|_| conn.process_new_packets().map_err(io::Error::other))
                };
                if let Err(e) = processed {
                    if speaks_tls {
                        // Let a TLS client see the alert before the close.
                        let _ = send_pending(stream, &session).await;
                    }
                    return Err(e);
                }
            }
        }
    };
    let timed_out = async {
        runtime::sleep(timeout).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "TLS handshake timeout",
        ))
    };
    runtime::race(work, timed_out).await?;
    {
        // The writer sends whole gathered batches; no byte limit on what rustls queues.
        session.conn.borrow_mut().set_buffer_limit(None);
    }
    Ok(session)
}

/// Sends every record rustls has queued.
async fn send_pending(stream: &Socket, session: &TlsSession) -> io::Result<()> {
    let mut out = Vec::new();
    encrypted(session, &mut out)?;
    if !out.is_empty() {
        stream.write_all(&out).await?;
    }
    Ok(())
}

/// Moves the records rustls has queued into `out`.
fn encrypted(session: &TlsSession, out: &mut Vec<u8>) -> io::Result<()> {
    let mut conn = session.conn.borrow_mut();
    while conn.wants_write() {
        conn.write_tls(out)?;
    }
    Ok(())
}

/// The reading half of a connection.
pub enum ReadHalf {
    Plain(Rc<Socket>),
    Tls {
        stream: Rc<Socket>,
        session: Rc<TlsSession>,
        raw: Box<[u8]>,
        /// Unconsumed ciphertext in `raw`.
        start: usize,
        end: usize,
    },
}

impl ReadHalf {
    pub fn tls(stream: Rc<Socket>, session: Rc<TlsSession>) -> ReadHalf {
        ReadHalf::Tls {
            stream,
            session,
            raw: vec![0u8; TLS_READ_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    pub fn is_plain(&self) -> bool {
        matches!(self, ReadHalf::Plain(_))
    }

    /// Reads what the socket has now without waiting; None if it has nothing (or, with
    /// TLS, always: rustls may hold plaintext the socket no longer shows).
    pub fn try_read(&mut self, dst: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            ReadHalf::Plain(s) => s.try_read(dst),
            ReadHalf::Tls { .. } => None,
        }
    }

    /// Reads into `dst`; 0 at the end of the stream. `writer_wake` is woken when reading
    /// left rustls with records to send.
    pub async fn read(&mut self, dst: &mut [u8], writer_wake: &Notify) -> io::Result<usize> {
        let (stream, session, raw, start, end) = match self {
            ReadHalf::Plain(s) => return s.read(dst).await,
            ReadHalf::Tls {
                stream,
                session,
                raw,
                start,
                end,
            } => (stream, session, raw, start, end),
        };
        loop {
            {
                let mut conn = session.conn.borrow_mut();
                match conn.reader().read(dst) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if *start < *end {
                    let mut rd = &raw[*start..*end];
                    let before = rd.len();
                    conn.read_tls(&mut rd)?;
                    *start += before - rd.len();
                    conn.process_new_packets().map_err(io::Error::other)?;
                    if conn.wants_write() {
                        writer_wake.notify();
                    }
                    continue;
                }
            }
            let n = stream.read(raw).await?;
            if n == 0 {
                return Ok(0);
            }
            *start = 0;
            *end = n;
        }
    }
}

/// The writing half of a connection.
pub enum WriteHalf {
    Plain {
        stream: Rc<Socket>,
        iov: Vec<libc::iovec>,
    },
    Tls {
        stream: Rc<Socket>,
        session: Rc<TlsSession>,
        out: Vec<u8>,
    },
}

impl WriteHalf {
    pub fn plain(stream: Rc<Socket>) -> WriteHalf {
        WriteHalf::Plain {
            stream,
            iov: Vec::new(),
        }
    }

    pub fn tls(stream: Rc<Socket>, session: Rc<TlsSession>) -> WriteHalf {
        WriteHalf::Tls {
            stream,
            session,
            out: Vec::new(),
        }
    }

    /// Writes every chunk, in order (and, with TLS, any record rustls had waiting); fails
    /// with `TimedOut` when the socket stays full for `deadline`.
    pub async fn write(&mut self, chunks: &[Chunk], deadline: Duration) -> io::Result<()> {
        match self {
            WriteHalf::Plain { stream, iov } => {
                runtime::write_gather(stream, chunks, iov, deadline).await
            }
            WriteHalf::Tls {
                stream,
                session,
                out,
            } => {
                {
                    let mut conn = session.conn.borrow_mut();
                    for c in chunks {
                        conn.writer().write_all(c.bytes())?;
                    }
                }
                out.clear();
                encrypted(session, out)?;
                let mut sent = 0;
                while sent < out.len() {
                    match runtime::write_within(stream, &out[sent..], deadline).await? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        n => sent += n,
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether rustls has records to send that no chunk brought (an alert, a key update).
    pub fn has_pending(&self) -> bool {
        match self {
            WriteHalf::Plain { .. } => false,
            WriteHalf::Tls { session, .. } => session.conn.borrow().wants_write(),
        }
    }
}
