//! The only module that names glommio: executors and their pinning, sockets, timers, a
//! single-threaded notification and a cross-thread doorbell, the store's fdatasyncs and
//! other blocking calls (its blocking pool, off the shard); also the accept
//! thread that feeds the shards and the open-files limit. A change of runtime touches this
//! file.
//!
//! Invariants: every executor runs one shard; `Notify` is `!Send` (it lives on one shard) and
//! never holds a borrow across an await; a [`Bell`] rung after its owner armed it wakes the
//! owner (a socket byte the owner's ring waits on), and costs nothing while the owner runs; the listening socket never enters io_uring (see
//! "Listener, accept thread and descriptor limits" below); a connection has one descriptor,
//! shared through [`Socket`], whose borrows last one poll.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use glommio::{CpuSet, LocalExecutorBuilder, Placement, PoolPlacement};

pub use glommio::net::{AcceptedTcpStream as Accepted, TcpStream as Stream};

/// Runs a detached task on the current shard.
pub fn spawn<F: Future<Output = ()> + 'static>(f: F) {
    glommio::spawn_local(f).detach();
}

pub async fn sleep(d: Duration) {
    glommio::timer::sleep(d).await;
}

/// Returns the pages this thread's allocator holds for freed memory to the OS at once (mimalloc
/// otherwise purges them only during later allocations); after a one-off burst such as
/// opening the streams. Harmless where mimalloc is not the global allocator (tests).
pub fn release_freed_memory() {
    // SAFETY: mi_collect only walks the calling thread's own heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Lets other tasks run if this one has used its time slice (long fan-outs call it).
pub async fn yield_if_needed() {
    glommio::yield_if_needed().await;
}

/// Lets every other ready task of this shard run once.
pub async fn yield_now() {
    futures_lite::future::yield_now().await;
}

/// The threads of each shard's blocking pool (glommio's default is one): each of the group
/// commit's syncs in flight (`shard::jetstream::JS_SYNCS_IN_FLIGHT_MAX`) blocks one; the
/// periodic `syncfs` and NATS Streaming's syncs share them. They sleep in the kernel, so
/// they share the shard's core.
pub const BLOCKING_THREADS_PER_SHARD: usize = 2;

/// fdatasync of every descriptor in turn on a thread of glommio's blocking pool
/// ([`BLOCKING_THREADS_PER_SHARD`], placed like the shard), the first error, if any. Faster
/// than glommio's io_uring `BufferedFile::fdatasync`, which io_uring hands to a worker thread
/// of its own: NATS Streaming's PubAck p50 about 200 against 285 µs, JetStream
/// `sync_interval: always` window 1 p50 about 205–265 against 310–355 µs
/// (docs/PERFORMANCE.md).
pub async fn fdatasync_all_blocking(fds: Vec<OwnedFd>) -> io::Result<()> {
    blocking(move || {
        let mut result = Ok(());
        for fd in fds {
            if let Err(e) = std::fs::File::from(fd).sync_data() {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    })
    .await
}

/// Runs a blocking call (one io_uring has no operation for, such as `syncfs`) on glommio's
/// blocking thread pool, so the shard goes on meanwhile.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(f).await
}

/// Completes with the first of two futures to complete.
pub async fn race<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    futures_lite::future::or(a, b).await
}

/// Starts `shards` executors, pinned one per core when there are enough cores (more shards
/// than cores run unpinned, so tests can exercise 4 shards on 2 cores). `run(i)` builds
/// executor `i`'s main future; an idle executor polls for `spin` before it sleeps. Returns
/// when every main future has finished; an executor thread that then fails to tear down
/// (glommio 0.9 sometimes stays parked) is left to the process exit rather than joined.
pub fn run_executors<F, Fut>(shards: usize, spin: Duration, run: F) -> io::Result<()>
where
    F: Fn(usize) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let cores: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let pin = shards <= cores.len();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    for i in 0..shards {
        let placement = match cores.get(i) {
            Some(&core) if pin => Placement::Fixed(core),
            _ => Placement::Unbound,
        };
        let run = run.clone();
        let done = done_tx.clone();
        let pool = match &placement {
            Placement::Fixed(core) => PoolPlacement::Custom(vec![
                CpuSet::online()
                    .map_err(|e| io::Error::other(e.to_string()))?
                    .filter(|c| c.cpu == *core);
                BLOCKING_THREADS_PER_SHARD
            ]),
            _ => PoolPlacement::Unbound(BLOCKING_THREADS_PER_SHARD),
        };
        let mut builder = LocalExecutorBuilder::new(placement).blocking_thread_pool_placement(pool);
        if !spin.is_zero() {
            builder = builder.spin_before_park(spin);
        }
        builder
            .name(&format!("natrix-shard-{i}"))
            // Registered buffers only serve DMA file I/O, which the core broker does not do;
            // the smallest size glommio takes keeps many shards and many processes (io_uring
            // charges registered buffers to the user) inside a default 8 MiB memlock limit.
            .io_memory(64 * 1024)
            // No `preempt_timer`: with a 2 ms timer glommio 0.9 re-arms and cancels timeout
            // SQEs constantly, and 3 shards on 2 cores then hung in its cancellation loop at
            // start (2 of 200 starts under load; 0 of 700 with the default 100 ms). Read
            // batches are bounded by the read buffer, so turns stay short without it.
            // No heartbeat timer: nothing here relies on glommio's cross-executor wake-ups
            // (shards ring each other's [`Bell`]s), so an idle shard sleeps until a socket,
            // a bell or one of its own timers wakes it.
            .spawn(move || async move {
                run(i).await;
                let _ = done.send(());
            })
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    drop(done_tx);
    for _ in 0..shards {
        if done_rx.recv().is_err() {
            return Err(io::Error::other("a shard thread ended without finishing"));
        }
    }
    Ok(())
}

// ---- Listener, accept thread and descriptor limits ----
//
// The listening socket never enters io_uring. An accept pending in a ring holds a reference
// to the listening socket's file, and when the process dies (SIGKILL, or an exit with the
// executor threads still parked) the kernel releases a ring's requests from a work queue
// some milliseconds after the process is gone: the socket stays in LISTEN that long and a
// restart on the same port fails with EADDRINUSE (SO_REUSEADDR, which std sets, only lets
// a bind pass sockets in TIME_WAIT, not a listener). A plain thread blocked in accept(2)
// holds nothing of the kind: the descriptor is closed with the process, before the parent
// can see it exit. So one thread accepts, and hands each connection straight to the shard
// that will own it.

/// The shortest and longest pause after an accept that failed for want of resources (the
/// descriptor limit, say), doubling between them: nats-server's ACCEPT_MIN/MAX_SLEEP. The
/// connection waits in the listen backlog meanwhile, so the client sees no close.
const ACCEPT_RETRY_MIN_MS: u64 = 10;
const ACCEPT_RETRY_MAX_MS: u64 = 1_000;

/// A connection the accept thread took, with its connection id.
pub type Incoming = (std::net::TcpStream, u64);
type IntakeQueue = Arc<Mutex<VecDeque<Incoming>>>;

/// The accept thread's end of one shard's hand-off: a queue, and a socket that carries one
/// byte per queued connection to wake the shard.
pub struct IntakeTx {
    queue: IntakeQueue,
    wake: std::os::unix::net::UnixStream,
}

/// A shard's end of the hand-off, before it is bound to the shard's executor.
pub struct Intake {
    queue: IntakeQueue,
    wake: OwnedFd,
}

/// One hand-off per shard: the senders for [`spawn_accept_thread`], the receivers for the
/// shards (`receivers[i]` for shard `i`).
pub fn intakes(shards: usize) -> io::Result<(Vec<IntakeTx>, Vec<Intake>)> {
    let (mut txs, mut rxs) = (Vec::new(), Vec::new());
    for _ in 0..shards {
        let (tx, rx) = std::os::unix::net::UnixStream::pair()?;
        // A full wake socket already holds a byte the shard will read: no need to wait.
        tx.set_nonblocking(true)?;
        let queue = Arc::default();
        txs.push(IntakeTx {
            queue: Arc::clone(&queue),
            wake: tx,
        });
        rxs.push(Intake {
            queue,
            wake: rx.into(),
        });
    }
    Ok((txs, rxs))
}

impl IntakeTx {
    fn send(&mut self, incoming: Incoming) {
        use std::io::Write;
        if let Ok(mut q) = self.queue.lock() {
            q.push_back(incoming);
        }
        // The byte goes after the push, and the shard drains after each read: no
        // connection is left in the queue unseen. WouldBlock: bytes are already waiting.
        let _ = self.wake.write(&[1]);
    }
}

impl Intake {
    /// Waits for connections and hands each to `serve`; returns when the accept thread has
    /// ended. Runs on the shard that owns the connections.
    pub async fn serve(self, mut serve: impl FnMut(Stream, u64)) {
        use futures_lite::AsyncReadExt;
        // SAFETY: the descriptor is one end of a socket pair we own.
        let mut wake = unsafe { glommio::net::UnixStream::from_raw_fd(self.wake.into_raw_fd()) };
        let mut bytes = [0u8; 64];
        loop {
            let ended = !matches!(wake.read(&mut bytes).await, Ok(n) if n > 0);
            loop {
                let next = self.queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((s, cid)) = next else { break };
                // SAFETY: the descriptor comes from a connected std stream we take over.
                serve(unsafe { Stream::from_raw_fd(s.into_raw_fd()) }, cid);
            }
            if ended {
                return;
            }
        }
    }
}

/// Starts the thread that accepts connections on `listener` and deals them round-robin to
/// the shards. The thread ends when the listener is shut down ([`shutdown`] on a descriptor
/// of it), closing the listener and every hand-off; a shard's [`Intake::serve`] then ends.
pub fn spawn_accept_thread(
    listener: std::net::TcpListener,
    mut to: Vec<IntakeTx>,
) -> io::Result<std::thread::JoinHandle<()>> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    std::thread::Builder::new()
        .name("natrix-accept".into())
        .spawn(move || {
            let mut cid = 0u64;
            let mut retry_ms = ACCEPT_RETRY_MIN_MS;
            loop {
                match listener.accept() {
                    Ok((s, _)) => {
                        retry_ms = ACCEPT_RETRY_MIN_MS;
                        cid += 1;
                        let n = to.len() as u64;
                        if let Some(tx) = to.get_mut(((cid - 1) % n.max(1)) as usize) {
                            tx.send((s, cid));
                        }
                    }
                    Err(e) => match accept_failure(&e) {
                        AcceptFailure::Retry => continue,
                        AcceptFailure::Ended => return,
                        AcceptFailure::Resources => {
                            log::error!(
                                "Temporary Client Accept Error({}), sleeping {retry_ms}ms",
                                go_accept_error(&addr, &e)
                            );
                            std::thread::sleep(Duration::from_millis(retry_ms));
                            retry_ms = (retry_ms * 2).min(ACCEPT_RETRY_MAX_MS);
                        }
                        AcceptFailure::Other => {
                            log::error!("Client Accept error: {}", go_accept_error(&addr, &e));
                        }
                    },
                }
            }
        })
}

/// What a failed accept(2) means for the accept loop.
#[derive(Debug, PartialEq, Eq)]
enum AcceptFailure {
    /// The peer went away before we took it, or a signal: take the next one.
    Retry,
    /// The listener was shut down: the server is stopping.
    Ended,
    /// Out of descriptors or memory: pause, the connection waits in the backlog.
    Resources,
    Other,
}

fn accept_failure(e: &io::Error) -> AcceptFailure {
    match e.raw_os_error() {
        Some(libc::EINTR | libc::ECONNABORTED | libc::EAGAIN | libc::EPROTO) => {
            AcceptFailure::Retry
        }
        Some(libc::EINVAL | libc::EBADF) => AcceptFailure::Ended,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
            AcceptFailure::Resources
        }
        _ => AcceptFailure::Other,
    }
}

/// An accept error as Go words it (`accept tcp 127.0.0.1:4222: accept4: too many open
/// files`), which is what nats-server's log line carries.
fn go_accept_error(addr: &str, e: &io::Error) -> String {
    let text = e.to_string();
    // std appends " (os error N)" to the C library's message; Go's text is that message
    // in lower case.
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    let text: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("accept tcp {addr}: accept4: {text}")
}

/// Raises the open-files soft limit to the hard limit, as Go's runtime does at the start of
/// nats-server (every connection costs a descriptor). Returns `(before, after)` when the
/// limit changed.
pub fn raise_open_files_limit() -> io::Result<Option<(u64, u64)>> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= lim.rlim_max {
        return Ok(None);
    }
    let before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some((before, lim.rlim_cur)))
}

/// A connection's one descriptor, shared (`Rc`) by its reader task, its writer task and its
/// `Client` (which shuts it down to end the other two). One descriptor per connection, as
/// nats-server has: glommio's stream keeps separate wake-ups for reading and for writing, so
/// a read and a write may wait at the same time, each future borrowing the stream only
/// within one poll (no borrow lives across an await). The descriptor closes when the last
/// holder drops, so its number never names another socket while a holder can use it.
pub struct Socket {
    stream: RefCell<Stream>,
}

impl Socket {
    pub fn new(stream: Stream) -> std::rc::Rc<Socket> {
        std::rc::Rc::new(Socket {
            stream: RefCell::new(stream),
        })
    }

    pub fn set_nodelay(&self) -> io::Result<()> {
        self.stream
            .borrow()
            .set_nodelay(true)
            .map_err(io::Error::from)
    }

    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.borrow().peer_addr().map_err(io::Error::from)
    }

    /// Reads into `buf`; 0 at the end of the stream.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use futures_lite::AsyncRead;
        std::future::poll_fn(|cx| Pin::new(&mut *self.stream.borrow_mut()).poll_read(cx, buf)).await
    }

    /// Reads what the socket holds now; None when it holds nothing.
    pub fn try_read(&self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let fd = self.as_fd().as_raw_fd();
        loop {
            // SAFETY: recv writes at most `buf.len()` bytes into `buf`.
            let n =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n >= 0 {
                return Some(Ok(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return None,
                _ => return Some(Err(e)),
            }
        }
    }

    /// Writes some of `buf`, waiting for room.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        use futures_lite::AsyncWrite;
        std::future::poll_fn(|cx| Pin::new(&mut *self.stream.borrow_mut()).poll_write(cx, buf))
            .await
    }

    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the stream, and so its descriptor, lives as long as `self`.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.stream.borrow().as_raw_fd()) }
    }
}

/// Most slices one `sendmsg` gathers.
const GATHER_IOVECS_MAX: usize = 64;

/// Writes all of `parts`, in order, gathering several into each `sendmsg` (glommio 0.9 has
/// no vectored write). When the socket is full it waits through glommio's own write, which
/// sends some bytes once the socket has room, then goes back to gathering; a wait longer
/// than `deadline` fails with `TimedOut` (nats-server's write deadline). Writes that do not
/// wait arm no timer. `iov` is scratch
/// space the caller keeps, so that a write allocates nothing.
pub async fn write_gather<B: AsRef<[u8]>>(
    stream: &Socket,
    parts: &[B],
    iov: &mut Vec<libc::iovec>,
    deadline: Duration,
) -> io::Result<()> {
    let fd = stream.as_fd().as_raw_fd();
    let part = |i: usize| parts[i].as_ref();
    let (mut i, mut off) = (0usize, 0usize);
    loop {
        while i < parts.len() && off == part(i).len() {
            i += 1;
            off = 0;
        }
        if i == parts.len() {
            return Ok(());
        }
        iov.clear();
        for (j, whole) in parts[i..].iter().enumerate() {
            let whole = whole.as_ref();
            let part = if j == 0 { &whole[off..] } else { whole };
            if part.is_empty() {
                continue;
            }
            iov.push(libc::iovec {
                iov_base: part.as_ptr() as *mut libc::c_void,
                iov_len: part.len(),
            });
            if iov.len() == GATHER_IOVECS_MAX {
                break;
            }
        }
        // SAFETY: a zeroed msghdr is valid; it points at `iov`, whose entries borrow `parts`,
        // all alive and unchanged for the duration of the call.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = iov.as_mut_ptr();
            msg.msg_iovlen = iov.len() as _;
            libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        };
        let mut n = if sent >= 0 {
            sent as usize
        } else {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    // The socket is full: only now is a timer worth arming.
                    match write_within(stream, &part(i)[off..], deadline).await? {
                        0 => return Err(io::ErrorKind::WriteZero.into()),
                        n => n,
                    }
                }
                _ => return Err(e),
            }
        };
        while n > 0 {
            let step = n.min(part(i).len() - off);
            off += step;
            n -= step;
            if off == part(i).len() && n > 0 {
                i += 1;
                off = 0;
            }
        }
    }
}

/// One write that fails with `TimedOut` if the socket stays full for `deadline`.
pub async fn write_within(stream: &Socket, bytes: &[u8], deadline: Duration) -> io::Result<usize> {
    race(stream.write(bytes), async {
        sleep(deadline).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Which directions [`shutdown`] ends.
#[derive(Clone, Copy)]
pub enum Direction {
    Read,
    Write,
    Both,
}

/// Ends one or both directions of a socket; a pending read then returns 0, which is how the
/// reader task learns that another task closed the connection.
pub fn shutdown(fd: &impl AsFd, how: Direction) {
    let how = match how {
        Direction::Read => libc::SHUT_RD,
        Direction::Write => libc::SHUT_WR,
        Direction::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown on a descriptor the caller holds open; errors (not connected) are
    // harmless.
    unsafe {
        libc::shutdown(fd.as_fd().as_raw_fd(), how);
    }
}

/// Wakes every task waiting on it; a task that starts waiting after a notify waits for the
/// next one. Single-threaded (one shard), so plain `Cell`s suffice.
#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.get(),
        }
    }
}

pub struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
}

impl Future for Notified<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.generation.get() != self.generation {
            return Poll::Ready(());
        }
        let mut waiters = self.notify.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

// ---- Bells: waking a shard from another thread ----
//
// A bell is a socket pair and a flag. The owner arms the flag before it sleeps and then
// waits for a byte on its end; whoever rings it writes a byte only if the flag was armed
// (and disarms it), so a ring costs one atomic swap while the owner is running and one write
// while it sleeps. The owner checks for work after arming and before waiting, so a ring
// that saw the flag unarmed cannot be missed: either the owner's check sees the work, or
// the ring sees the flag armed. The byte wakes the executor through io_uring like any
// socket, which glommio never loses (its own cross-executor channels were seen to lose a
// wake-up sent to an executor that was just going to sleep).

/// The ringing end of a shard's bell; any thread may ring it.
#[derive(Debug)]
pub struct Bell {
    tx: std::os::unix::net::UnixStream,
    armed: AtomicBool,
}

/// The owner's end of a bell, before it is bound to the owner's executor.
#[derive(Debug)]
pub struct BellRx {
    rx: OwnedFd,
}

/// A new bell: the ringing end to share, and the owner's end.
pub fn bell() -> io::Result<(Arc<Bell>, BellRx)> {
    let (tx, rx) = std::os::unix::net::UnixStream::pair()?;
    // A full socket already holds bytes the owner will read: a ring never waits.
    tx.set_nonblocking(true)?;
    Ok((
        Arc::new(Bell {
            tx,
            armed: AtomicBool::new(false),
        }),
        BellRx { rx: rx.into() },
    ))
}

impl Bell {
    /// Wakes the owner if it sleeps (or is about to).
    pub fn ring(&self) {
        use std::io::Write;
        if self.armed.swap(false, Ordering::SeqCst) {
            // WouldBlock: bytes are already waiting, the owner will wake.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

/// A bell bound to its owner's executor.
pub struct BoundBell {
    bell: Arc<Bell>,
    rx: glommio::net::UnixStream,
}

impl BellRx {
    /// Binds the owner's end to the calling executor (call it on the owner's shard).
    pub fn bind(self, bell: Arc<Bell>) -> BoundBell {
        // SAFETY: the descriptor is one end of a socket pair we own.
        let rx = unsafe { glommio::net::UnixStream::from_raw_fd(self.rx.into_raw_fd()) };
        BoundBell { bell, rx }
    }
}

impl BoundBell {
    /// Sleeps until the bell rings, unless `work()` (checked after arming) says there is
    /// something to do already.
    pub async fn wait(&mut self, work: impl Fn() -> bool) {
        use futures_lite::AsyncReadExt;
        self.bell.armed.store(true, Ordering::SeqCst);
        if !work() {
            // The ringing end lives in `self.bell`, so the socket never reaches its end; an
            // error only means this wait ends early (the caller looks for work again).
            let mut bytes = [0u8; 64];
            let _ = self.rx.read(&mut bytes).await;
        }
        self.bell.armed.store(false, Ordering::SeqCst);
    }
}
