//! Restart on the same port right after the previous natrix died (issue 9, point 6): after
//! SIGKILL and after SIGTERM, a new natrix started at once must bind every time, as
//! nats-server does; and a second natrix on a port a live one holds must still fail.
//!
//! Each cycle leaves a subscribed client connected when the server dies, so sockets the
//! server owned are being torn down while the next one binds.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{spawn_logging, RawClient, CONNECT_QUIET};

/// Kill-and-restart cycles per signal, and the time they may take together.
const SIGKILL_CYCLES: usize = 150;
const SIGTERM_CYCLES: usize = 50;
const CYCLES_MAX: Duration = Duration::from_secs(90);
/// How long one start may take to report readiness.
const START_MAX: Duration = Duration::from_secs(10);

/// A natrix process and its log lines so far.
struct Natrix {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

/// How a start ended.
enum Start {
    Ready(Natrix),
    Exited(ExitStatus, Vec<String>),
}

impl Natrix {
    fn start(port: u16, shards: usize) -> Start {
        let (port, shards) = (port.to_string(), shards.to_string());
        let bin = env!("CARGO_BIN_EXE_natrix");
        let args = ["-a", "127.0.0.1", "-p", &port, "--shards", &shards];
        let mut child = spawn_logging(bin, &args);
        let pipe = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut n = Natrix {
            child,
            lines,
            log: Vec::new(),
        };
        let deadline = Instant::now() + START_MAX;
        while Instant::now() < deadline {
            match n.lines.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => {
                    let ready = line.contains("Server is ready");
                    n.log.push(line);
                    if ready {
                        return Start::Ready(n);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The log ended: the process is exiting.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = n.child.wait().expect("wait for natrix");
                    return Start::Exited(status, std::mem::take(&mut n.log));
                }
            }
        }
        panic!(
            "natrix did not become ready within {START_MAX:?}:\n{}",
            n.log.join("\n")
        );
    }

    fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        common::procs::send_signal(self.child.id(), sig);
        let deadline = Instant::now() + common::procs::EXIT_MAX;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            // Short: the point is to restart as soon as the process is gone.
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("natrix did not exit after signal {sig}");
    }
}

impl Drop for Natrix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn subscribed_client(port: u16) -> RawClient {
    let mut c = RawClient::connect(&format!("127.0.0.1:{port}"));
    c.read_info();
    c.handshake(CONNECT_QUIET);
    c.sync(b"SUB restart.> 1\r\n");
    c
}

/// Kills with `sig` and restarts on the same port at once, `cycles` times; every start
/// must bind. Returns how many cycles ran.
fn restart_cycles(sig: i32, cycles: usize, shards: usize, deadline: Instant) -> usize {
    let port = free_port();
    let mut server = match Natrix::start(port, shards) {
        Start::Ready(n) => n,
        Start::Exited(status, log) => panic!("first start failed ({status}):\n{}", log.join("\n")),
    };
    for cycle in 0..cycles {
        let client = subscribed_client(port);
        let status = server.signal_and_wait(sig);
        if sig == libc::SIGTERM {
            assert!(
                status.success(),
                "cycle {cycle}: SIGTERM exit status {status}"
            );
        }
        drop(client);
        server = match Natrix::start(port, shards) {
            Start::Ready(n) => n,
            Start::Exited(status, log) => panic!(
                "cycle {cycle}: restart after signal {sig} did not bind ({status}):\n{}",
                log.join("\n")
            ),
        };
        if Instant::now() >= deadline {
            return cycle + 1;
        }
    }
    cycles
}

#[test]
fn restart_at_once_after_sigkill_binds_every_time() {
    let deadline = Instant::now() + CYCLES_MAX;
    let done = restart_cycles(libc::SIGKILL, SIGKILL_CYCLES, 2, deadline);
    // A machine too slow for every cycle still has to show it many times.
    assert!(done >= 50, "only {done} cycles ran within {CYCLES_MAX:?}");
}

#[test]
fn restart_at_once_after_sigterm_binds_every_time() {
    let deadline = Instant::now() + CYCLES_MAX;
    let done = restart_cycles(libc::SIGTERM, SIGTERM_CYCLES, 2, deadline);
    assert!(done >= 20, "only {done} cycles ran within {CYCLES_MAX:?}");
}

#[test]
fn second_server_on_a_port_in_use_fails_at_once() {
    let port = free_port();
    let _first = match Natrix::start(port, 1) {
        Start::Ready(n) => n,
        Start::Exited(status, log) => panic!("first start failed ({status}):\n{}", log.join("\n")),
    };
    let t0 = Instant::now();
    match Natrix::start(port, 1) {
        Start::Ready(_) => panic!("a second natrix shared port {port} with a live one"),
        Start::Exited(status, log) => {
            assert!(!status.success(), "second natrix exited with {status}");
            let log = log.join("\n");
            assert!(
                log.contains(&format!("Error listening on port: 127.0.0.1:{port}"))
                    && log.contains("Address already in use"),
                "unexpected log:\n{log}"
            );
        }
    }
    // No retrying while a live server holds the port.
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
}
