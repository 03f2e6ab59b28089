//! The harness of `tests/stan_clients.rs`: natrix serving NATS Streaming (started with
//! nats-streaming-server's flags), and the node-nats-streaming scripts of `tests/js/stan/` as
//! child processes whose output lines are kept with the instant each was read, so a test can
//! measure how long a redelivery took.
//!
//! Dropping a [`Scene`] kills and reaps every node process still running, then the server, so
//! a failing test leaves nothing behind.
//!
//! `tests/stan_wire.rs` uses only the server half, so the node half may be unused there.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{RawClient, TestServer};

pub const JS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");

/// The cluster id every test serves (nats-streaming-server's default, stan-protocol.md §6).
pub const CLUSTER_ID: &str = "test-cluster";

/// How long a script may take to print what a test waits for, or to exit. Generous: node
/// starts slowly on a loaded machine; no test depends on it being this long.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(40);

/// How long natrix may take after "Server is ready" to answer on `_STAN.discover.<cid>`.
pub const STAN_READY_MAX: Duration = Duration::from_secs(10);

const POLL_INTERVAL: Duration = Duration::from_millis(10);

type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// One node script and everything it printed so far.
struct NodeProc {
    name: String,
    child: Child,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

/// natrix serving STAN, and the node processes of one test.
pub struct Scene {
    procs: Vec<NodeProc>,
    server: Option<TestServer>,
    /// natrix's arguments, to restart it the same way.
    args: Vec<String>,
    /// What every natrix of this scene logged, in order.
    server_log: Arc<Mutex<Vec<String>>>,
    /// The connection that saw STAN answer. It stays open while its server runs: a connection
    /// closed just before the scripts connect once got a later one shut down through its
    /// reused fd (seen by tests/seed_examples.rs), which is not what these tests are about.
    probe: Option<RawClient>,
    pub port: u16,
}

impl Scene {
    /// natrix with `shards` shards on an ephemeral port, serving STAN for [`CLUSTER_ID`]
    /// (`-cid`), plus `extra` flags.
    pub fn start(shards: usize, extra: &[&str]) -> Scene {
        Scene::start_on(0, shards, extra)
    }

    /// As [`Scene::start`], on `port` (0: ephemeral).
    pub fn start_on(port: u16, shards: usize, extra: &[&str]) -> Scene {
        let mut args: Vec<String> = [
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--shards",
            &shards.to_string(),
            "-cid",
            CLUSTER_ID,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut scene = Scene {
            procs: Vec::new(),
            server: None,
            args,
            server_log: Arc::new(Mutex::new(Vec::new())),
            probe: None,
            port: 0,
        };
        scene.launch();
        scene
    }

    fn launch(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut server = TestServer::spawn(env!("CARGO_BIN_EXE_natrix"), &args);
        let (_, idle) = mpsc::channel();
        let log = std::mem::replace(&mut server.log, idle);
        let sink = Arc::clone(&self.server_log);
        sink.lock()
            .unwrap()
            .push(format!("--- natrix {}", self.args.join(" ")));
        std::thread::spawn(move || {
            for line in log {
                sink.lock().unwrap().push(line);
            }
        });
        self.port = server.port;
        self.server = Some(server);
        match self.wait_stan_ready() {
            Ok(probe) => self.probe = Some(probe),
            Err(e) => panic!(
                "natrix {} does not answer on _STAN.discover.{CLUSTER_ID}: {e}\n{}",
                self.args.join(" "),
                self.transcript()
            ),
        }
    }

    /// Waits until a request on `_STAN.discover.<cid>` gets an answer (any answer: the probe
    /// sends an undecodable ConnectRequest). A node client sends its ConnectRequest once and
    /// gives up after 2 s, so the tests start no client before the service is up.
    fn wait_stan_ready(&self) -> Result<RawClient, String> {
        let deadline = Instant::now() + STAN_READY_MAX;
        let mut c = RawClient::connect(&format!("127.0.0.1:{}", self.port));
        c.read_info();
        c.handshake(crate::common::CONNECT_QUIET);
        c.sync(b"SUB _INBOX.ready.* 1\r\n");
        let mut n = 0;
        while Instant::now() < deadline {
            n += 1;
            let mut request =
                format!("PUB _STAN.discover.{CLUSTER_ID} _INBOX.ready.{n} 1\r\n").into_bytes();
            request.extend_from_slice(b"\xff\r\n");
            c.send(&request);
            let got = c.read_for(Duration::from_millis(250));
            if String::from_utf8_lossy(&got).contains("MSG _INBOX.ready.") {
                return Ok(c);
            }
        }
        Err(format!("no reply within {STAN_READY_MAX:?}"))
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs natrix and waits for it to exit.
    pub fn kill_server(&mut self) {
        self.probe = None;
        if let Some(server) = self.server.take() {
            let status = server.signal_and_wait(libc::SIGKILL);
            self.server_log
                .lock()
                .unwrap()
                .push(format!("--- natrix killed: {status}"));
        }
    }

    /// Starts natrix again with the same arguments (for a fixed port: the same address).
    pub fn restart_server(&mut self) {
        assert!(self.server.is_none(), "restart_server after kill_server");
        self.launch();
    }

    /// Starts `node tests/js/stan/<script> args…` with `NATS_URL`, `STAN_CLUSTER_ID` and
    /// `env`; returns its index.
    pub fn spawn(
        &mut self,
        name: &str,
        script: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> usize {
        require_node_modules();
        let mut cmd = Command::new("node");
        cmd.arg(format!("stan/{script}"))
            .args(args)
            .current_dir(JS_DIR)
            .env("NATS_URL", self.url())
            .env("STAN_CLUSTER_ID", CLUSTER_ID)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node` (is node 20 on PATH?): {e}"));
        let stdout: Lines = Arc::default();
        let stderr: Lines = Arc::default();
        let readers = vec![
            collect_lines(child.stdout.take().expect("piped"), Arc::clone(&stdout)),
            collect_lines(child.stderr.take().expect("piped"), Arc::clone(&stderr)),
        ];
        self.procs.push(NodeProc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
            readers,
            status: None,
        });
        self.procs.len() - 1
    }

    /// A listener (`listener.js <client_id>`) with `env`, waited for until it has subscribed.
    pub fn listener(&mut self, client_id: &str, env: &[(&str, &str)]) -> usize {
        let l = self.spawn(
            &format!("listener {client_id}"),
            "listener.js",
            &[client_id],
            env,
        );
        self.wait_for_line(
            l,
            &format!("Listener {client_id} subscribed to 'ticket:created'"),
        );
        l
    }

    /// Runs `publisher.js count first` to its end and checks that every event got its PubAck.
    pub fn publish(&mut self, count: u32, first: u32) {
        let p = self.spawn(
            &format!("publisher {first}..{}", first + count - 1),
            "publisher.js",
            &[&count.to_string(), &first.to_string()],
            &[],
        );
        self.wait_for_success(p);
        let acked = self.count(p, |l| l.starts_with("Event published: ticket-"));
        assert_eq!(
            acked,
            count as usize,
            "PubAcks of the publisher\n{}",
            self.transcript()
        );
    }

    pub fn stdout(&self, i: usize) -> Vec<String> {
        self.lines(i).into_iter().map(|(_, l)| l).collect()
    }

    /// stdout lines with the instant each was read.
    pub fn lines(&self, i: usize) -> Vec<(Instant, String)> {
        self.procs[i].stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self, i: usize) -> Vec<String> {
        let lines = self.procs[i].stderr.lock().unwrap();
        lines.iter().map(|(_, l)| l.clone()).collect()
    }

    pub fn count(&self, i: usize, pred: impl Fn(&str) -> bool) -> usize {
        let lines = self.procs[i].stdout.lock().unwrap();
        lines.iter().filter(|(_, l)| pred(l)).count()
    }

    /// Polls until `done` holds, failing with every process's output after SCRIPT_TIMEOUT.
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&Scene) -> bool) {
        self.wait_until_within(what, SCRIPT_TIMEOUT, done);
    }

    pub fn wait_until_within(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&Scene) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(self) {
            self.reap();
            assert!(
                Instant::now() < deadline,
                "timed out ({within:?}) waiting for {what}\n{}",
                self.transcript()
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits for process `i` to print exactly `line`; returns when it was read.
    pub fn wait_for_line(&mut self, i: usize, line: &str) -> Instant {
        let what = format!("{} to print {line:?}", self.procs[i].name);
        self.wait_until(&what, |s| s.count(i, |l| l == line) > 0);
        self.when(i, |l| l == line).expect("just seen")
    }

    /// When process `i` first printed a line that satisfies `pred`.
    pub fn when(&self, i: usize, pred: impl Fn(&str) -> bool) -> Option<Instant> {
        let lines = self.procs[i].stdout.lock().unwrap();
        lines.iter().find(|(_, l)| pred(l)).map(|(t, _)| *t)
    }

    /// Waits for process `i` to exit, and for its output to be read to the end.
    pub fn wait_for_exit(&mut self, i: usize) -> ExitStatus {
        let what = format!("{} to exit", self.procs[i].name);
        self.wait_until(&what, |s| s.procs[i].status.is_some());
        for r in self.procs[i].readers.drain(..) {
            let _ = r.join();
        }
        self.procs[i].status.expect("reaped")
    }

    pub fn wait_for_success(&mut self, i: usize) {
        let status = self.wait_for_exit(i);
        assert!(
            status.success(),
            "{} exited with {status}\n{}",
            self.procs[i].name,
            self.transcript()
        );
    }

    /// Sends `sig` to process `i`; returns the instant just before the signal went.
    pub fn signal(&self, i: usize, sig: i32) -> Instant {
        let at = Instant::now();
        // SAFETY: kill(2) on our own child's pid; it is not reaped yet, so the pid is ours.
        unsafe {
            libc::kill(self.procs[i].child.id() as i32, sig);
        }
        at
    }

    /// Notes the exit status of every process that has ended.
    fn reap(&mut self) {
        for p in self.procs.iter_mut().filter(|p| p.status.is_none()) {
            if let Ok(Some(status)) = p.child.try_wait() {
                p.status = Some(status);
            }
        }
    }

    /// Asserts that no node process wrote to stderr.
    pub fn assert_no_stderr(&self) {
        for (i, p) in self.procs.iter().enumerate() {
            assert!(
                self.stderr(i).is_empty(),
                "{} wrote to stderr\n{}",
                p.name,
                self.transcript()
            );
        }
    }

    /// Everything every process printed (with ms since the first was started), and natrix's
    /// log, for failure messages.
    pub fn transcript(&self) -> String {
        let t0 = self
            .procs
            .iter()
            .flat_map(|p| p.stdout.lock().unwrap().first().map(|(t, _)| *t))
            .min();
        let ms = |t: Instant| t0.map_or(0, |t0| t.saturating_duration_since(t0).as_millis());
        let mut out = String::new();
        for p in &self.procs {
            let status = p.status.map_or("running".to_string(), |s| s.to_string());
            out.push_str(&format!("--- {} ({status})\n", p.name));
            for (t, line) in p.stdout.lock().unwrap().iter() {
                out.push_str(&format!("  out {:>6}| {line}\n", ms(*t)));
            }
            for (t, line) in p.stderr.lock().unwrap().iter() {
                out.push_str(&format!("  err {:>6}| {line}\n", ms(*t)));
            }
        }
        out.push_str("--- natrix log\n");
        for line in self.server_log.lock().unwrap().iter() {
            out.push_str(&format!("  log| {line}\n"));
        }
        out
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// The sequences in process `i`'s "received event #N" lines, in order; `redelivered` picks
/// the redelivered copies (true), the first deliveries (false), or both (None).
pub fn received(scene: &Scene, i: usize, redelivered: Option<bool>) -> Vec<u64> {
    scene
        .stdout(i)
        .iter()
        .filter_map(|l| parse_received(l))
        .filter(|(_, again)| redelivered.is_none_or(|want| *again == want))
        .map(|(seq, _)| seq)
        .collect()
}

/// `Listener X received event #7 (redelivered 1): {...}` → (7, true).
pub fn parse_received(line: &str) -> Option<(u64, bool)> {
    let rest = line.split(" received event #").nth(1)?;
    let end = rest.find([' ', ':'])?;
    let seq = rest[..end].parse().ok()?;
    Some((seq, rest[end..].starts_with(" (redelivered")))
}

/// Reads `pipe` line by line into `sink` until it closes.
fn collect_lines(pipe: impl std::io::Read + Send + 'static, sink: Lines) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push((Instant::now(), line));
        }
    })
}

fn require_node_modules() {
    let stan = Path::new(JS_DIR).join("node_modules/node-nats-streaming/package.json");
    assert!(
        stan.exists(),
        "{} is missing: run `npm ci --prefix tests/js` first (./test does)",
        stan.display()
    );
}
