//! The only code that touches sockets and channels: per connection a reader task (parse,
//! apply, flush once per read), a writer task (one `send` per batch of queued bytes) and a
//! pinger; per shard an intake of the connections the accept thread hands it (and on shard 0
//! the guard that shuts the listener), and per peer a sender and a receiver task.
//!
//! Invariants: the reader's frame (`Bytes`) is the read buffer itself, frozen once per read,
//! so payloads reach other shards without a copy; the reader is the only task that removes
//! its client from the shard, so cleanup happens exactly once.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::Rng;

use super::client::{Client, CloseReason};
use super::conn::Flow;
use super::links::Links;
use super::mesh::{Item, ShardId};
use super::outq::Chunk;
use super::transport::{self, ReadHalf, WriteHalf};
use super::Shard;
use crate::proto::encode;
use crate::proto::errors::ClientError;
use crate::proto::parser::{self, Op, ParseLimits};
use crate::proto::trace::{self, Dir};
use crate::runtime::{self, Direction, Socket, Stream};

/// Room below which the read buffer is replaced before the next read (at most half the
/// current size, so a small buffer is not replaced after every read).
const READ_ROOM_MIN_BYTES: usize = 4096;
/// A connection's first read buffer, and the one it keeps while idle: nats-server's
/// `startBufSize`. Reads that fill the buffer double it up to `read_buffer_bytes`.
const READ_START_BYTES: usize = 512;
/// Consecutive reads that use under a quarter of the buffer before it halves.
const READ_SHORTS_TO_SHRINK: u8 = 3;
/// Chunks, and bytes, the writer takes from a connection's queue for one gathered write.
const WRITE_GATHER_CHUNKS_MAX: usize = 64;
const WRITE_GATHER_BYTES_MAX: usize = 1024 * 1024;
/// Capacity of the op list (and the writer's batch) an idle connection keeps.
const IDLE_OPS_KEEP: usize = 16;
/// Ops a reader (or items a receiver) applies before it lets other tasks run.
const ITEMS_PER_YIELD: usize = 256;

/// Serves one connection until it closes.
pub async fn run_client(shard: Rc<Shard>, stream: Stream, cid: u64) {
    if shard.stopping.get() {
        return;
    }
    let stream = Socket::new(stream);
    let _ = stream.set_nodelay();
    let (ip, port) = stream
        .peer_addr()
        .map(|a| (a.ip().to_string(), a.port()))
        .unwrap_or_default();
    let control = stream.clone();
    let auth = shard.auth();
    let nonce = if auth.needs_nonce() {
        crate::auth::new_nonce()
    } else {
        String::new()
    };
    let c = {
        let mut clients = shard.clients.borrow_mut();
        let entry = clients.vacant_entry();
        let c = Rc::new(Client::new(cid, entry.key(), control, ip, port, nonce));
        entry.insert(c.clone());
        c
    };
    if auth.expects_connect() {
        if !auth.required() {
            // no_auth_user: the connection is that user until a CONNECT says otherwise.
            if let Ok(id) = auth.authenticate(&Default::default(), b"") {
                c.set_identity(id);
            }
        }
        runtime::spawn(run_auth_timer(shard.clone(), c.clone()));
    }
    log::debug!("{} - Client connection created", c.tag());
    let opts = shard.opts();
    let tls = match (&opts.tls, shard.tls_config()) {
        (Some(t), Some(config)) => Some((t.handshake_first, t.timeout_ms, config)),
        _ => None,
    };
    let info = shard.info_json(&c, false);
    let admitted = shard.control.admit(opts.limits.max_connections);
    c.admitted.set(admitted);
    let (reader, writer) = match tls {
        Some((first, timeout_ms, config)) if admitted => {
            if !first {
                // INFO goes out in the clear; the client then starts TLS.
                let mut line = bytes::BytesMut::with_capacity(encode::info_len(&info));
                encode::info(&mut line, &info);
                if stream.write_all(&line).await.is_err() {
                    end_client(&shard, &c);
                    return;
                }
            }
            let timeout = Duration::from_millis(timeout_ms);
            match transport::handshake(&stream, config, timeout).await {
                Ok(session) => {
                    *c.tls.borrow_mut() = Some(session.describe());
                    if first {
                        shard.queue_info(&c, &info);
                    }
                    (
                        ReadHalf::tls(stream.clone(), session.clone()),
                        WriteHalf::tls(stream, session),
                    )
                }
                Err(e) => {
                    log::error!("{} - TLS handshake error: {e}", c.tag());
                    // nats-server 2.15 closes without a word here, even on a timeout
                    // (tests/limits_differential.rs).
                    end_client(&shard, &c);
                    return;
                }
            }
        }
        _ => {
            shard.queue_info(&c, &info);
            (ReadHalf::Plain(stream.clone()), WriteHalf::plain(stream))
        }
    };
    if !admitted {
        // nats-server sends INFO first, then the error, and closes.
        log::error!("{} - maximum connections exceeded", c.tag());
        shard.send_err(&c, &ClientError::MaxConnections);
    }
    shard.flush();
    runtime::spawn(run_writer(shard.clone(), c.clone(), writer));
    runtime::spawn(run_pinger(shard.clone(), c.clone()));
    read_loop(&shard, &c, reader).await;
    c.close(CloseReason::ClientClosed, true);
    end_client(&shard, &c);
    log::debug!(
        "{} - Client connection closed: {}",
        c.tag(),
        super::stats::reason_text(c.closing.get().unwrap_or(CloseReason::ClientClosed))
    );
}

/// Closes a client that has not sent CONNECT within the auth timeout.
async fn run_auth_timer(shard: Rc<Shard>, c: Rc<Client>) {
    let timeout = shard.opts().auth_timeout();
    if sleep_unless_closed(&c, timeout).await && !c.connected.get() {
        log::error!("{} - Authentication Timeout", c.tag());
        shard.send_err(&c, &ClientError::AuthenticationTimeout);
        shard.flush();
    }
}

/// Removes a client from its shard and gives back its connection place.
fn end_client(shard: &Rc<Shard>, c: &Rc<Client>) {
    shard.remember_closed(c);
    shard.remove_client(c);
    if c.admitted.replace(false) {
        shard.control.release();
    }
    shard.flush();
}

async fn read_loop(shard: &Rc<Shard>, c: &Rc<Client>, mut stream: ReadHalf) {
    let mut sizer = ReadSizer::new(shard.opts().limits.read_buffer_bytes);
    let mut buf = BytesMut::zeroed(sizer.size);
    let mut filled = 0usize;
    let mut ops: Vec<Op> = Vec::new();
    // With `-V`: where each op starts in the frame, to trace it when it is processed.
    let mut op_starts: Vec<usize> = Vec::new();
    loop {
        if buf.len() - filled < sizer.room_min() {
            // Replace rather than grow in place: the old buffer may still be shared with
            // frames on their way to other shards.
            let mut next = BytesMut::zeroed(sizer.fresh(filled));
            next[..filled].copy_from_slice(&buf[..filled]);
            buf = next;
        }
        // A large empty buffer is given back when the socket has nothing to read: an idle
        // connection then holds READ_START_BYTES, however busy it was. The next read that
        // fills that small buffer gets one of the size the load called for. Not with TLS:
        // rustls may hold plaintext the socket no longer shows, so "nothing to read" cannot
        // be told without reading (and a TLS connection holds a record buffer anyway).
        let mut got = None;
        if filled == 0 && buf.len() > READ_START_BYTES && stream.is_plain() {
            got = stream.try_read(&mut buf);
            if got.is_none() {
                buf = BytesMut::zeroed(READ_START_BYTES);
                if ops.capacity() > IDLE_OPS_KEEP {
                    ops = Vec::new();
                    op_starts = Vec::new();
                }
            }
        }
        let room = buf.len() - filled;
        let read = match got {
            Some(r) => r,
            None => stream.read(&mut buf[filled..], &c.writer_wake).await,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        sizer.after_read(n, room);
        if c.is_closing() {
            return;
        }
        filled += n;
        // Another shard's SUB that is already on its way counts for what was just read.
        shard.apply_remote_interest();

        let mut consumed = 0usize;
        let mut error = None;
        ops.clear();
        op_starts.clear();
        let tracing = log::log_enabled!(log::Level::Trace);
        // Read per batch: a reload applies to existing connections (nats-server's too).
        let limits = {
            let o = shard.opts.borrow();
            ParseLimits {
                max_control_line_bytes: o.limits.max_control_line_bytes,
                max_payload_bytes: o.limits.max_payload_bytes,
            }
        };
        loop {
            match parser::parse_op(&buf[consumed..filled], &limits) {
                Ok(Some((op, len))) => {
                    if tracing {
                        op_starts.push(consumed);
                    }
                    ops.push(op.shift(consumed as u32));
                    consumed += len;
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let frame = buf.split_to(consumed).freeze();
        filled -= consumed;
        shard.announce_ahead(c, &ops, &frame);
        // Takes back what the ops did not get to when the read ends early.
        let _ahead = RetractAhead { shard, c };
        let now = Instant::now();
        c.last_activity.set(now);
        let stall_until = shard.stall_deadline_from(now);
        for (i, op) in ops.iter().enumerate() {
            if let Some(&start) = op_starts.get(i) {
                trace_in(shard, c, op, &frame, start);
            }
            match shard.process_op(c, *op, &frame) {
                Flow::Continue => {}
                Flow::Close => {
                    shard.flush();
                    return;
                }
                Flow::PongAfterInterest => {
                    shard.flush();
                    wait_for_interest(shard, c).await;
                    if c.is_closing() {
                        return;
                    }
                    shard.pong(c);
                }
            }
            pace(shard, i + 1, stall_until).await;
            if c.is_closing() {
                return;
            }
        }
        if let Some(e) = error {
            shard.parse_failed(c, e);
            shard.flush();
            return;
        }
        shard.flush();
        loop {
            let drained = shard.outbox_drained.notified();
            if c.is_closing() || !shard.outbox_full() {
                break;
            }
            drained.await;
        }
    }
}

/// On drop, takes back the interest announced ahead for SUBs of a read that were not handled.
struct RetractAhead<'a> {
    shard: &'a Rc<Shard>,
    c: &'a Rc<Client>,
}

impl Drop for RetractAhead<'_> {
    fn drop(&mut self) {
        if !self.c.announced_ahead.borrow().is_empty() {
            self.shard.retract_ahead(self.c);
        }
    }
}

/// The size of a connection's next read buffer, from how full its reads come back
/// (nats-server's rule): a read that fills the buffer doubles it, up to `max`;
/// [`READ_SHORTS_TO_SHRINK`] reads in a row that use under a quarter of it halve it, down to
/// [`READ_START_BYTES`].
#[derive(Debug)]
struct ReadSizer {
    size: usize,
    max: usize,
    shorts: u8,
}

impl ReadSizer {
    fn new(max: usize) -> ReadSizer {
        ReadSizer {
            size: READ_START_BYTES.min(max),
            max,
            shorts: 0,
        }
    }

    /// Notes a read of `n` bytes into `room` bytes of buffer.
    fn after_read(&mut self, n: usize, room: usize) {
        if n >= room {
            self.size = (self.size * 2).min(self.max);
            self.shorts = 0;
        } else if n < self.size / 4 {
            self.shorts += 1;
            if self.shorts >= READ_SHORTS_TO_SHRINK {
                self.size = (self.size / 2).max(READ_START_BYTES.min(self.max));
                self.shorts = 0;
            }
        } else {
            self.shorts = 0;
        }
    }

    /// The size of a fresh buffer that must carry `filled` bytes of a partial op: a
    /// partial op bigger than half the buffer doubles it (past `max`: ops up to
    /// max_payload must fit).
    fn fresh(&self, filled: usize) -> usize {
        if filled * 2 > self.size {
            filled * 2
        } else {
            self.size
        }
    }

    fn room_min(&self) -> usize {
        READ_ROOM_MIN_BYTES.min(self.size / 2)
    }
}

/// `-V`: logs an op the client sent (its spans and `start` are offsets in `frame`) as
/// nats-server traces it, and the payload of a PUB or HPUB.
fn trace_in(shard: &Shard, c: &Client, op: &Op, frame: &[u8], start: usize) {
    let rest = &frame[start..];
    let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    c.trace(|| trace::inbound(op, line));
    if let Op::Pub { payload, .. } | Op::Hpub { payload, .. } = op {
        let max = shard.opts.borrow().logging.max_traced_msg_len_bytes;
        c.trace(|| trace::payload(Dir::In, payload.get(frame), max));
    }
}

/// Between two ops of a read (or items of a batch), after `done` of them: stall for clients
/// that passed the stall mark, else now and then let the shard's other tasks run.
async fn pace(shard: &Rc<Shard>, done: usize, stall_until: Instant) {
    if shard.has_stalled() {
        stall(shard, stall_until).await;
    } else if done.is_multiple_of(ITEMS_PER_YIELD) {
        shard.flush();
        runtime::yield_if_needed().await;
    }
}

/// Flushes, then waits while clients above the stall mark drain, until `until` at most
/// (nats-server's fast-producer stall): a burst from one read then reaches a reading
/// consumer instead of overrunning its max_pending, while a consumer that does not read
/// costs its producers a bounded pause and is then closed as a slow consumer.
async fn stall(shard: &Rc<Shard>, until: Instant) {
    shard.flush();
    // The list holds the consumers this producer's last op took past the mark. Clear their
    // flags before waiting, so that every other producer that feeds them meanwhile records
    // them again and stalls too (with the flags held during the wait, only the first of
    // several producers stalled, and the rest overran the consumer).
    let stalled = std::mem::take(&mut *shard.stalled.borrow_mut());
    for c in &stalled {
        c.stalled.set(false);
    }
    let mark = shard.stall_mark_bytes();
    for c in &stalled {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || c.is_closing() || c.out.borrow().len() <= mark {
                break;
            }
            runtime::race(c.drained.notified(), runtime::sleep(left)).await;
        }
    }
    if Instant::now() >= until {
        // The pass's stall time went to a consumer that does not read. The others still
        // get their writers run before more is queued for them.
        runtime::yield_now().await;
    }
}

/// Waits until every shard has applied the interest changes this client's SUBs made.
async fn wait_for_interest(shard: &Rc<Shard>, c: &Rc<Client>) {
    loop {
        let acked = shard.interest_acked.notified();
        if c.is_closing()
            || shard.stopping.get()
            || shard
                .interest
                .borrow()
                .visible_everywhere(c.interest_epoch_needed.get())
        {
            return;
        }
        runtime::race(acked, c.closed_wake.notified()).await;
    }
}

/// Sends what the shard queued for this client, gathering queued chunks into few writes,
/// until it closes. A write that takes longer than `write_deadline` closes the client as a
/// slow consumer (nats-server: no -ERR).
async fn run_writer(shard: Rc<Shard>, c: Rc<Client>, mut stream: WriteHalf) {
    let mut batch: Vec<Chunk> = Vec::new();
    loop {
        let wake = c.writer_wake.notified();
        {
            let mut out = c.out.borrow_mut();
            let mut bytes = 0;
            while batch.len() < WRITE_GATHER_CHUNKS_MAX && bytes < WRITE_GATHER_BYTES_MAX {
                let Some(chunk) = out.pop() else { break };
                bytes += chunk.bytes().len();
                batch.push(chunk);
            }
        }
        if batch.is_empty() && !stream.has_pending() {
            if c.is_closing() {
                break;
            }
            if batch.capacity() > IDLE_OPS_KEEP {
                // Idle connections hold no gathering space.
                batch = Vec::new();
            }
            wake.await;
            continue;
        }
        let deadline = Duration::from_millis(shard.opts.borrow().limits.write_deadline_ms);
        let r = stream.write(&batch, deadline).await;
        for chunk in batch.drain(..) {
            shard.chunks.give(chunk);
        }
        c.drained.notify();
        match r {
            Ok(()) => {
                if c.out.borrow().is_empty() {
                    c.drain_epoch.set(c.drain_epoch.get() + 1);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                log::info!(
                    "{} - Slow Consumer Detected: WriteDeadline of {} exceeded",
                    c.tag(),
                    crate::gofmt::duration(deadline)
                );
                shard
                    .stats
                    .slow_consumers
                    .set(shard.stats.slow_consumers.get() + 1);
                c.close(CloseReason::SlowConsumerWriteDeadline, false);
                break;
            }
            Err(_) => {
                c.close(CloseReason::WriteError, false);
                break;
            }
        }
        if c.is_closing() && !c.flush_on_close.get() {
            break;
        }
    }
    // Our FIN goes after the queued bytes (an -ERR reaches the client before the close);
    // ending the read side wakes the reader, which cleans up.
    runtime::shutdown(&c.control, Direction::Both);
}

/// Server PINGs and stale-connection detection (reference §2.8).
async fn run_pinger(shard: Rc<Shard>, c: Rc<Client>) {
    let first_ms = shard.opts().limits.first_ping_ms;
    let jitter_ms = rand::thread_rng().gen_range(0..=first_ms / 5);
    if !sleep_unless_closed(&c, Duration::from_millis(first_ms + jitter_ms)).await {
        return;
    }
    let mut first = true;
    loop {
        // After the first PING (which measures RTT) a busy client is not pinged.
        let busy = c.active.replace(false);
        if first || !busy {
            if c.pings_out.get() + 1 > shard.opts().limits.ping_max {
                log::debug!("cid:{} - Stale Client Connection - Closing", c.cid);
                shard
                    .stats
                    .stale_connections
                    .set(shard.stats.stale_connections.get() + 1);
                shard.send_err(&c, &ClientError::StaleConnection);
                shard.flush();
                return;
            }
            shard.queue_out(&c, encode::PING_LEN, encode::ping);
            c.trace(|| trace::op(Dir::Out, "PING"));
            if c.ping_sent_at.get().is_none() {
                c.ping_sent_at.set(Some(Instant::now()));
            }
            c.pings_out.set(c.pings_out.get() + 1);
            shard.flush();
        }
        first = false;
        let interval = shard.opts().limits.ping_interval();
        if !sleep_unless_closed(&c, interval).await {
            return;
        }
    }
}

/// Sleeps; false if the client started closing first.
async fn sleep_unless_closed(c: &Client, d: Duration) -> bool {
    let closed = c.closed_wake.notified();
    if c.is_closing() {
        return false;
    }
    runtime::race(
        async {
            runtime::sleep(d).await;
            true
        },
        async {
            closed.await;
            false
        },
    )
    .await
        && !c.is_closing()
}

/// Takes the connections the accept thread hands this shard, until it ends.
pub async fn run_intake(shard: Rc<Shard>, intake: runtime::Intake) {
    intake
        .serve(|stream, cid| runtime::spawn(run_client(shard.clone(), stream, cid)))
        .await;
}

/// Stops new connections when the server stops or enters lame duck mode (shard 0 only):
/// shutting the listener down refuses new connections at once (Linux takes a listening
/// socket out of service on `shutdown`) and ends the accept thread.
pub async fn run_listen_guard(shard: Rc<Shard>) {
    loop {
        let stop = shard.shutdown.notified();
        if shard.stopping.get() || shard.control.ldm.load(std::sync::atomic::Ordering::Acquire) {
            if let Some(fd) = shard.listen_control.take() {
                runtime::shutdown(&fd, Direction::Both);
            }
            shard.accepting.set(false);
            shard.acceptor_done.notify();
            return;
        }
        stop.await;
    }
}

/// Serves this shard's end of the links: one task applies every peer's batches, each
/// peer's in order, and sleeps on the shard's bell when there are none (waking the readers
/// that wait for a peer to drain when it rings for that). One task rather than one per peer
/// saves a task switch per batch; the price is that a batch stalled for a slow consumer
/// (bounded by `producer_stall_max_ms`) delays the batches of the other peers behind it, as
/// it delays this shard's own readers.
///
/// After news the task keeps looking for more, every [`LINK_POLL_US`], for the idle-polling
/// time (`--spin_us`) before it arms the bell and sleeps: while traffic flows, senders then
/// find the bell unarmed and push without a system call, and the look costs no system call
/// either (glommio keeps timers in user space and its own polling fires them).
pub fn spawn_links(shard: &Rc<Shard>, links: Arc<Links>, rx: runtime::BellRx) {
    let shard = shard.clone();
    runtime::spawn(async move {
        let me = shard.id;
        let peers: Vec<ShardId> = (0..shard.shards).filter(|&p| p != me).collect();
        let mut bell = rx.bind(links.bell(me));
        let spin = shard.opts().spin_before_park();
        let mut last_news = Instant::now();
        loop {
            let mut news = false;
            if links.take_drained(me) {
                shard.outbox_drained.notify();
                news = true;
            }
            if shard.apply_remote_interest() {
                shard.flush();
                news = true;
            }
            for &from in &peers {
                if !links.take_fresh(from, me) {
                    continue;
                }
                news = true;
                while let Some(batch) = links.pop(from, me) {
                    let (items, bytes) = (batch.items.len(), batch.payload_bytes);
                    shard.apply_interest_from(from);
                    apply_batch(&shard, from, batch.items).await;
                    links.applied(from, me, items, bytes);
                }
            }
            let now = Instant::now();
            if news {
                last_news = now;
            }
            if now.duration_since(last_news) < spin {
                runtime::sleep(Duration::from_micros(LINK_POLL_US)).await;
                continue;
            }
            bell.wait(|| links.has_news(me)).await;
            last_news = Instant::now();
        }
    });
}

/// How often the links task looks for batches while it polls (see [`spawn_links`]).
const LINK_POLL_US: u64 = 5;

async fn apply_batch(shard: &Rc<Shard>, from: ShardId, items: Vec<Item>) {
    // A batch may hold what many reads brought in: the stall budget is renewed for each
    // read buffer's worth of payload, as nats-server's is for each read of the producer.
    let renew_bytes = shard.opts().limits.read_buffer_bytes;
    let mut stall_until = shard.stall_deadline_from(Instant::now());
    let mut applied_bytes = 0usize;
    for (i, item) in items.into_iter().enumerate() {
        if let Item::Deliver(d) = &item {
            applied_bytes += d.msg.spans.payload.len();
            if applied_bytes >= renew_bytes {
                applied_bytes = 0;
                stall_until = shard.stall_deadline_from(Instant::now());
            }
        }
        shard.handle_item(from, item);
        pace(shard, i + 1, stall_until).await;
    }
    shard.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffer_doubles_on_full_reads_up_to_the_max() {
        let mut s = ReadSizer::new(64 * 1024);
        assert_eq!(s.size, READ_START_BYTES);
        let mut sizes = Vec::new();
        for _ in 0..10 {
            let room = s.size;
            s.after_read(room, room);
            sizes.push(s.size);
        }
        assert_eq!(sizes[0], 1024);
        assert_eq!(sizes[6], 64 * 1024);
        assert_eq!(*sizes.last().unwrap(), 64 * 1024);
    }

    #[test]
    fn read_buffer_halves_after_short_reads_down_to_the_start_size() {
        let mut s = ReadSizer::new(64 * 1024);
        s.size = 8192;
        s.after_read(100, 8192);
        s.after_read(100, 8192);
        assert_eq!(s.size, 8192, "two short reads are not enough");
        s.after_read(100, 8192);
        assert_eq!(s.size, 4096);
        // A read of half the buffer breaks the run.
        s.after_read(100, 4096);
        s.after_read(2048, 4096);
        s.after_read(100, 4096);
        s.after_read(100, 4096);
        assert_eq!(s.size, 4096);
        for _ in 0..30 {
            s.after_read(1, 4096);
        }
        assert_eq!(s.size, READ_START_BYTES);
    }

    #[test]
    fn a_partial_op_larger_than_the_buffer_gets_room() {
        let s = ReadSizer::new(64 * 1024);
        assert_eq!(s.fresh(10), READ_START_BYTES);
        assert_eq!(s.fresh(1_000_000), 2_000_000);
        assert!(s.room_min() <= s.size / 2);
    }

    #[test]
    fn a_max_below_the_start_size_caps_the_buffer() {
        let mut s = ReadSizer::new(256);
        assert_eq!(s.size, 256);
        s.after_read(256, 256);
        assert_eq!(s.size, 256);
    }
}
