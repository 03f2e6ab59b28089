//! The only module that names glommio: executors and their pinning, the shard mesh, sockets,
//! timers, and a single-threaded notification. A change of runtime touches this file.
//!
//! Invariants: every executor runs one shard; `Notify` is `!Send` (it lives on one shard) and
//! never holds a borrow across an await.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use glommio::channels::channel_mesh::{Full, MeshBuilder};
use glommio::{LocalExecutorBuilder, Placement};

pub use glommio::channels::channel_mesh::{Receivers, Senders};
pub use glommio::net::{
    AcceptedTcpStream as Accepted, TcpListener as Listener, TcpStream as Stream,
};

/// The full mesh of bounded channels between shards.
pub type Mesh<T> = MeshBuilder<T, Full>;

pub fn mesh<T: Send + 'static>(shards: usize, channel_batches_max: usize) -> Mesh<T> {
    MeshBuilder::full(shards, channel_batches_max)
}

/// Runs a detached task on the current shard.
pub fn spawn<F: Future<Output = ()> + 'static>(f: F) {
    glommio::spawn_local(f).detach();
}

pub async fn sleep(d: Duration) {
    glommio::timer::sleep(d).await;
}

/// Lets other tasks run if this one has used its time slice (long fan-outs call it).
pub async fn yield_if_needed() {
    glommio::yield_if_needed().await;
}

/// Lets every other ready task of this shard run once.
pub async fn yield_now() {
    futures_lite::future::yield_now().await;
}

/// Completes with the first of two futures to complete.
pub async fn race<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    futures_lite::future::or(a, b).await
}

/// Period of each executor's heartbeat timer. glommio 0.9 checks its cross-executor channels
/// on every turn of its reactor, but a wake-up sent to an executor that is just going to
/// sleep is occasionally lost (seen as a 2-shard start that hung in the mesh handshake, 3 in
/// 1000 starts). A timer turns the reactor over regularly, so a lost wake-up costs at most
/// this long instead of a hang.
const HEARTBEAT_MS: u64 = 5;

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
        let mut builder = LocalExecutorBuilder::new(placement);
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
            .spawn(move || async move {
                let running = std::rc::Rc::new(Cell::new(true));
                let beat = running.clone();
                spawn(async move {
                    while beat.get() {
                        sleep(Duration::from_millis(HEARTBEAT_MS)).await;
                    }
                });
                run(i).await;
                running.set(false);
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

/// Accepts one connection, to be bound to whichever shard will own it.
pub async fn accept(l: &Listener) -> io::Result<Accepted> {
    l.shared_accept().await.map_err(io::Error::from)
}

/// Adopts a listening socket bound elsewhere (the main thread binds so that bind errors are
/// reported before any shard starts).
pub fn listener_from_std(l: std::net::TcpListener) -> io::Result<Listener> {
    l.set_nonblocking(true)?;
    // SAFETY: the fd comes from a live std listener whose ownership we take.
    Ok(unsafe { Listener::from_raw_fd(l.into_raw_fd()) })
}

/// A second handle on the same socket, so one task reads while another writes without a
/// lock between them.
pub fn dup_stream(s: &Stream) -> io::Result<Stream> {
    // SAFETY: dup returns a new descriptor we own (or -1, checked).
    let fd = unsafe { libc::dup(s.as_raw_fd()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor for a connected TCP socket.
    Ok(unsafe { Stream::from_raw_fd(fd) })
}

/// A plain descriptor of the socket, for [`shutdown`].
pub fn dup_fd(s: &Stream) -> io::Result<OwnedFd> {
    // SAFETY: the stream's descriptor is open for the duration of this borrow.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(s.as_raw_fd()) };
    fd.try_clone_to_owned()
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
    stream: &mut Stream,
    parts: &[B],
    iov: &mut Vec<libc::iovec>,
    deadline: Duration,
) -> io::Result<()> {
    let fd = stream.as_raw_fd();
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
pub async fn write_within(
    stream: &mut Stream,
    bytes: &[u8],
    deadline: Duration,
) -> io::Result<usize> {
    use futures_lite::AsyncWriteExt;
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
