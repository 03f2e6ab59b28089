//! Seed article 003, "How to Implement Queue Groups in NATS": its Node.js examples (`nats` npm
//! v2, in `tests/js/seeds/`, client logic unchanged) run against natrix with 1 and 2 shards,
//! and their printed output is checked against what the article says they do.
//!
//! Every script is a real `node` child process reading `NATS_URL`; the ones that never end
//! (workers, reply servers) are killed by their guard when the test ends, passing or not. The
//! article's monitoring section runs against natrix's `/subsz` (its `queue` key is natrix's
//! addition for this script); its JetStream section waits for consumers.
//!
//! Needs `node` on PATH and `tests/js/node_modules` (`npm ci --prefix tests/js`).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::TestServer;

const JS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");

/// How long a script may take to print what a test waits for, or to exit. Generous: the
/// examples sleep up to 1.5 s per task themselves and node starts slowly on a loaded machine.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(40);

/// How long natrix may take to answer the first connection of a test.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a waiting test looks at the output again.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn queue_workers_process_each_task_exactly_once_1_shard() {
    queue_workers_process_each_task_exactly_once(1);
}

#[test]
fn queue_workers_process_each_task_exactly_once_2_shards() {
    queue_workers_process_each_task_exactly_once(2);
}

#[test]
fn request_reply_is_answered_and_load_balanced_over_calculators_1_shard() {
    request_reply_is_answered_and_load_balanced_over_calculators(1);
}

#[test]
fn request_reply_is_answered_and_load_balanced_over_calculators_2_shards() {
    request_reply_is_answered_and_load_balanced_over_calculators(2);
}

#[test]
fn audit_subscriber_sees_every_order_while_queue_workers_alternate_1_shard() {
    audit_subscriber_sees_every_order_while_queue_workers_alternate(1);
}

#[test]
fn audit_subscriber_sees_every_order_while_queue_workers_alternate_2_shards() {
    audit_subscriber_sees_every_order_while_queue_workers_alternate(2);
}

#[test]
fn wildcard_queue_group_handles_each_order_event_once_1_shard() {
    wildcard_queue_group_handles_each_order_event_once(1);
}

#[test]
fn wildcard_queue_group_handles_each_order_event_once_2_shards() {
    wildcard_queue_group_handles_each_order_event_once(2);
}

#[test]
fn retrying_workers_settle_every_task_and_drain_on_sigterm_1_shard() {
    retrying_workers_settle_every_task_and_drain_on_sigterm(1);
}

#[test]
fn retrying_workers_settle_every_task_and_drain_on_sigterm_2_shards() {
    retrying_workers_settle_every_task_and_drain_on_sigterm(2);
}

#[test]
fn queue_group_monitor_counts_the_members_of_each_group_2_shards() {
    queue_group_monitor_counts_the_members_of_each_group(2);
}

// ---------------------------------------------------------------------------------------------
// The scenarios

/// "Monitoring Queue Groups": with three `worker.js` in group `workers` and two reply servers
/// in `calculators`, the article's monitor reads `/subsz?subs=1` and prints each group with
/// its member count.
fn queue_group_monitor_counts_the_members_of_each_group(shards: usize) {
    let http_port = common::ops::free_port();
    let mut procs = Procs::start_monitored(shards, http_port);
    for id in ["1", "2", "3"] {
        let w = procs.spawn(&format!("worker {id}"), &["seeds/worker.js", id]);
        procs.wait_for_line(
            w,
            &format!("Worker {id} subscribed to 'tasks' in queue group 'workers'"),
        );
    }
    for id in ["A", "B"] {
        let s = procs.spawn(
            &format!("server {id}"),
            &["seeds/request_reply.js", "server", id],
        );
        procs.wait_for_line(s, &format!("Server {id} ready to handle calculations"));
    }
    let monitor = procs.spawn("monitor", &["seeds/monitor.js"]);
    procs.wait_for_line(monitor, "tasks [workers]: 3 members, 0 pending");
    procs.wait_until("the calculators group", |p| {
        p.count(monitor, |l| l.contains("[calculators]: 2 members")) > 0
    });
    assert!(
        procs
            .stdout(monitor)
            .iter()
            .any(|l| l.starts_with("Total subscriptions: ")),
        "{}",
        procs.transcript()
    );
    procs.assert_no_stderr();
}

/// "Node.js Implementation": three `worker.js` in queue group `workers`, then `publisher.js`
/// sends task-1..task-10. Each task is processed and completed exactly once, by one worker;
/// round-robin gives every worker some.
fn queue_workers_process_each_task_exactly_once(shards: usize) {
    let mut procs = Procs::start(shards);
    let ids = ["1", "2", "3"];
    let workers: Vec<usize> = ids
        .iter()
        .map(|id| procs.spawn(&format!("worker {id}"), &["seeds/worker.js", id]))
        .collect();
    for (&w, id) in workers.iter().zip(ids) {
        procs.wait_for_line(w, &format!("Worker {id} connected to NATS"));
        procs.wait_for_line(
            w,
            &format!("Worker {id} subscribed to 'tasks' in queue group 'workers'"),
        );
    }

    let publisher = procs.spawn("publisher", &["seeds/publisher.js"]);
    procs.wait_for_success(publisher);
    let mut want = vec!["Publisher connected to NATS".to_string()];
    want.extend((1..=10).map(|i| format!("Published task: task-{i}")));
    want.push("Publisher disconnected".to_string());
    assert_eq!(
        procs.stdout(publisher),
        want,
        "publisher output\n{}",
        procs.transcript()
    );

    procs.wait_until("10 completed tasks across the workers", |p| {
        workers
            .iter()
            .map(|&w| p.count(w, |l| l.contains(" completed task: ")))
            .sum::<usize>()
            >= 10
    });

    let mut processed_by: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut completed_by: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (&w, id) in workers.iter().zip(ids) {
        for line in procs.stdout(w) {
            if let Some(task) = line.strip_prefix(&format!("Worker {id} processing task: ")) {
                processed_by.entry(task.to_string()).or_default().push(id);
            } else if let Some(task) = line.strip_prefix(&format!("Worker {id} completed task: ")) {
                completed_by.entry(task.to_string()).or_default().push(id);
            }
        }
    }
    let want: BTreeMap<String, usize> = (1..=10).map(|i| (format!("task-{i}"), 1)).collect();
    let counts = |m: &BTreeMap<String, Vec<&str>>| -> BTreeMap<String, usize> {
        m.iter().map(|(k, v)| (k.clone(), v.len())).collect()
    };
    assert_eq!(
        counts(&processed_by),
        want,
        "each task processed once\n{}",
        procs.transcript()
    );
    assert_eq!(
        processed_by,
        completed_by,
        "completed by who processed\n{}",
        procs.transcript()
    );
    for id in ids {
        assert!(
            processed_by.values().any(|who| who.contains(&id)),
            "worker {id} got no task (natrix picks queue members round-robin)\n{}",
            procs.transcript()
        );
    }
    procs.assert_no_stderr();
}

/// "Request-Reply with Queue Groups": two `request_reply.js server` in queue group
/// `calculators`, then the client makes 5 requests. Every reply carries the right sum, each
/// request is handled by exactly the server the reply names, and both servers handle some.
fn request_reply_is_answered_and_load_balanced_over_calculators(shards: usize) {
    let mut procs = Procs::start(shards);
    let ids = ["1", "2"];
    let servers: Vec<usize> = ids
        .iter()
        .map(|id| {
            procs.spawn(
                &format!("server {id}"),
                &["seeds/request_reply.js", "server", id],
            )
        })
        .collect();
    for (&s, id) in servers.iter().zip(ids) {
        procs.wait_for_line(s, &format!("Server {id} ready to handle calculations"));
    }

    let client = procs.spawn("client", &["seeds/request_reply.js"]);
    procs.wait_for_success(client);

    let replies = procs.stdout(client);
    assert_eq!(replies.len(), 5, "5 replies\n{}", procs.transcript());
    let mut handled_by = Vec::new();
    for (i, line) in replies.iter().enumerate() {
        let want = format!("Request {i}: {i} + {} = {} (handled by ", 2 * i, 3 * i);
        let who = line
            .strip_prefix(&want)
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or_else(|| {
                panic!(
                    "reply {i}: {line:?}, want {want:?}…\n{}",
                    procs.transcript()
                )
            });
        assert!(
            ids.contains(&who),
            "reply {i} names server {who:?}\n{}",
            procs.transcript()
        );
        handled_by.push(who.to_string());
    }

    // The servers' own logs agree: each request handled once, by the server the reply names.
    procs.wait_until("the servers logged 5 requests", |p| {
        servers
            .iter()
            .map(|&s| p.count(s, |l| l.contains(" handling: ")))
            .sum::<usize>()
            >= 5
    });
    for (&s, id) in servers.iter().zip(ids) {
        let want: Vec<String> = (0..5)
            .filter(|&i| handled_by[i] == id)
            .map(|i| {
                format!(
                    "Server {id} handling: {{\"operation\":\"add\",\"a\":{i},\"b\":{}}}",
                    2 * i
                )
            })
            .collect();
        let got: Vec<String> = procs
            .stdout(s)
            .into_iter()
            .filter(|l| l.contains(" handling: "))
            .collect();
        assert_eq!(
            got,
            want,
            "server {id} handled what its replies say\n{}",
            procs.transcript()
        );
        assert!(
            !want.is_empty(),
            "server {id} handled none of the 5 requests (natrix picks queue members \
             round-robin)\n{}",
            procs.transcript()
        );
    }
    procs.assert_no_stderr();
}

/// "Combining Queue Groups with Regular Subscribers": one connection with a plain `orders`
/// subscriber and two members of queue group `processors`, publishing order-1..order-4. The
/// audit line for every order, in order, and each order processed by one worker, alternating
/// as the article's expected output shows. (How the audit and worker lines interleave is up
/// to the client's scheduling, so the two kinds are compared apart.)
fn audit_subscriber_sees_every_order_while_queue_workers_alternate(shards: usize) {
    let mut procs = Procs::start(shards);
    let p = procs.spawn("audit+workers", &["seeds/audit_queue.js"]);
    procs.wait_for_success(p);

    let out = procs.stdout(p);
    let audit: Vec<&str> = out
        .iter()
        .filter(|l| l.starts_with("[AUDIT]"))
        .map(String::as_str)
        .collect();
    let workers: Vec<&str> = out
        .iter()
        .filter(|l| l.starts_with("[WORKER-"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        audit,
        [
            "[AUDIT] Order received: order-1",
            "[AUDIT] Order received: order-2",
            "[AUDIT] Order received: order-3",
            "[AUDIT] Order received: order-4",
        ],
        "audit lines\n{}",
        procs.transcript()
    );
    assert_eq!(
        workers,
        [
            "[WORKER-1] Processing order: order-1",
            "[WORKER-2] Processing order: order-2",
            "[WORKER-1] Processing order: order-3",
            "[WORKER-2] Processing order: order-4",
        ],
        "worker lines\n{}",
        procs.transcript()
    );
    assert_eq!(out.len(), 8, "nothing else printed\n{}", procs.transcript());
    procs.assert_no_stderr();
}

/// "Use Wildcard Subjects for Flexibility": queue group `order-handlers` on `orders.>` with
/// two members in their own processes and a third that runs the snippet as written (subscribe,
/// then publish orders.created/updated/shipped). The group handles each event exactly once.
fn wildcard_queue_group_handles_each_order_event_once(shards: usize) {
    let mut procs = Procs::start(shards);
    let mut handlers = Vec::new();
    for id in ["1", "2"] {
        let h = procs.spawn(
            &format!("handler {id}"),
            &["seeds/driver_wildcard.js", "member", id],
        );
        procs.wait_for_line(
            h,
            &format!("Handler {id} subscribed to 'orders.>' in queue group 'order-handlers'"),
        );
        handlers.push(h);
    }
    let publisher = procs.spawn(
        "handler 3 (publisher)",
        &["seeds/driver_wildcard.js", "publish", "3"],
    );
    procs.wait_for_line(publisher, "Handler 3 published 3 order events");
    handlers.push(publisher);

    let handled = |p: &Procs| -> Vec<String> {
        let mut all: Vec<String> = handlers
            .iter()
            .flat_map(|&h| p.stdout(h))
            .filter_map(|l| l.split(" handled ").nth(1).map(str::to_string))
            .collect();
        all.sort();
        all
    };
    procs.wait_until("3 handled order events", |p| handled(p).len() >= 3);
    let payload = r#"{"id":"order-42","total":51}"#;
    let want: Vec<String> = ["orders.created", "orders.shipped", "orders.updated"]
        .iter()
        .map(|s| format!("{s}: {payload}"))
        .collect();
    assert_eq!(
        handled(&procs),
        want,
        "each event handled once by the group\n{}",
        procs.transcript()
    );
    procs.assert_no_stderr();
}

/// "Error Handling and Retries": three `worker_retry.js` in queue group `workers` (30% of
/// attempts fail at random; up to 3 attempts with backoff; then the dead-letter subject), fed
/// by the article's `publisher.js`, with `driver_dlq.js` listening on `tasks.dlq`. Each task
/// is taken by one worker and ends once, completed or dead-lettered (and then seen on
/// `tasks.dlq`); SIGTERM drains each worker, which prints that it stopped and exits.
fn retrying_workers_settle_every_task_and_drain_on_sigterm(shards: usize) {
    let mut procs = Procs::start(shards);
    let dlq = procs.spawn("dlq listener", &["seeds/driver_dlq.js"]);
    procs.wait_for_line(dlq, "DLQ listener subscribed to 'tasks.dlq'");
    let ids = ["1", "2", "3"];
    let workers: Vec<usize> = ids
        .iter()
        .map(|id| {
            procs.spawn(
                &format!("retry worker {id}"),
                &["seeds/worker_retry.js", id],
            )
        })
        .collect();
    for (&w, id) in workers.iter().zip(ids) {
        procs.wait_for_line(w, &format!("Worker {id} started"));
    }

    let publisher = procs.spawn("publisher", &["seeds/publisher.js"]);
    procs.wait_for_success(publisher);

    // The worker prints "Completed" on stdout and "failed after" on stderr.
    let settled = |p: &Procs| -> usize {
        workers
            .iter()
            .map(|&w| {
                p.count(w, |l| l.contains(": Completed task-"))
                    + p.count_stderr(w, |l| l.contains(" failed after 3 attempts"))
            })
            .sum()
    };
    procs.wait_until("10 settled tasks across the retrying workers", |p| {
        settled(p) >= 10
    });

    let mut taken_by: BTreeMap<String, &str> = BTreeMap::new();
    let mut dead: Vec<String> = Vec::new();
    for (&w, id) in workers.iter().zip(ids) {
        let prefix = format!("Worker {id}: Processing ");
        for line in procs.stdout(w) {
            if let Some(rest) = line.strip_prefix(&prefix) {
                let task = rest.split(' ').next().unwrap_or_default().to_string();
                let first = *taken_by.entry(task.clone()).or_insert(id);
                assert_eq!(
                    first,
                    id,
                    "{task} taken by two workers\n{}",
                    procs.transcript()
                );
            }
        }
        for line in procs.stderr(w) {
            if let Some(rest) = line.strip_prefix(&format!("Worker {id}: ")) {
                if let Some(task) = rest.strip_suffix(" failed after 3 attempts") {
                    dead.push(task.to_string());
                }
            }
        }
    }
    let want: Vec<String> = (1..=10).map(|i| format!("task-{i}")).collect();
    let mut taken: Vec<String> = taken_by.keys().cloned().collect();
    taken.sort_by_key(|t| t.trim_start_matches("task-").parse::<u32>().unwrap_or(0));
    assert_eq!(
        taken,
        want,
        "every task taken by one worker\n{}",
        procs.transcript()
    );
    let mut completed: Vec<String> = workers
        .iter()
        .flat_map(|&w| procs.stdout(w))
        .filter_map(|l| l.split(": Completed ").nth(1).map(str::to_string))
        .chain(dead.iter().cloned())
        .collect();
    completed.sort_by_key(|t| t.trim_start_matches("task-").parse::<u32>().unwrap_or(0));
    assert_eq!(
        completed,
        want,
        "every task settled once\n{}",
        procs.transcript()
    );

    // Every dead-lettered task reaches the listener on tasks.dlq.
    procs.wait_until("the dead letters on tasks.dlq", |p| {
        p.count(dlq, |l| l.starts_with("DLQ: ")) >= dead.len()
    });
    for task in &dead {
        let needle = format!("\"id\":\"{task}\"");
        assert_eq!(
            procs.count(dlq, |l| l.starts_with("DLQ: ") && l.contains(&needle)),
            1,
            "{task} dead-lettered once\n{}",
            procs.transcript()
        );
    }

    // SIGTERM: the worker drains its connection, says so and exits.
    for (&w, id) in workers.iter().zip(ids) {
        procs.signal(w, libc::SIGTERM);
        procs.wait_for_line(w, &format!("Worker {id} stopped"));
        procs.wait_for_exit(w);
    }
    for &w in &workers {
        let unexpected: Vec<String> = procs
            .stderr(w)
            .into_iter()
            .filter(|l| !l.contains(": Failed task-") && !l.contains(" failed after 3 attempts"))
            .collect();
        assert!(
            unexpected.is_empty(),
            "worker stderr: {unexpected:?}\n{}",
            procs.transcript()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Node child processes

/// One node script and everything it printed so far.
struct NodeProc {
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

/// One test's natrix and the node processes run against it. Dropping it kills and reaps
/// every node process still running, then the server, so a failing test leaves nothing behind.
struct Procs {
    procs: Vec<NodeProc>,
    url: String,
    /// The HTTP monitor's URL, when the server has one.
    monitor_url: String,
    /// What natrix logged after it started.
    server_log: Arc<Mutex<Vec<String>>>,
    /// A raw connection that proved natrix answers. It stays open for the whole test: a
    /// connection that closes just before the scripts connect can (natrix bug, seen while
    /// writing these tests) get a later connection shut down through its reused fd, and that
    /// is not what these tests are about.
    _probe: TcpStream,
    _server: TestServer,
}

impl Procs {
    /// natrix with `shards` shards, checked to answer CONNECT/PING with PONG before any
    /// script runs, so that a server that never became ready fails here and says so.
    fn start(shards: usize) -> Procs {
        Procs::start_server(TestServer::start(shards), shards)
    }

    /// As [`Procs::start`], with the HTTP monitor on `http_port`; scripts get its URL in
    /// `NATS_MONITOR_URL`.
    fn start_monitored(shards: usize, http_port: u16) -> Procs {
        let port = http_port.to_string();
        let mut p = Procs::start_server(TestServer::start_with(shards, &["-m", &port]), shards);
        p.monitor_url = format!("http://127.0.0.1:{http_port}");
        p
    }

    fn start_server(mut server: TestServer, shards: usize) -> Procs {
        let server_log = Arc::new(Mutex::new(Vec::new()));
        let (_, idle) = mpsc::channel();
        let log = std::mem::replace(&mut server.log, idle);
        let sink = Arc::clone(&server_log);
        std::thread::spawn(move || {
            for line in log {
                sink.lock().unwrap().push(line);
            }
        });
        let probe = handshake(&server.addr()).unwrap_or_else(|e| {
            panic!(
                "natrix ({shards} shards, port {}) does not serve clients: {e}\n(seen while writing \
                 these tests: a 2-shard natrix now and then never logs \"Server is ready\", its \
                 shard threads parked, and answers no client)\nserver log since start: {:?}",
                server.port,
                server_log.lock().unwrap()
            )
        });
        Procs {
            procs: Vec::new(),
            url: server.url(),
            monitor_url: String::new(),
            server_log,
            _probe: probe,
            _server: server,
        }
    }

    /// Starts `node args…` in `tests/js` with `NATS_URL` pointing at the server; returns its
    /// index.
    fn spawn(&mut self, name: &str, args: &[&str]) -> usize {
        require_node_modules();
        let mut child = Command::new("node")
            .args(args)
            .current_dir(JS_DIR)
            .env("NATS_URL", &self.url)
            .env("NATS_MONITOR_URL", &self.monitor_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node` (is node 20 on PATH?): {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect_lines(
                child.stdout.take().expect("stdout is piped"),
                Arc::clone(&stdout),
            ),
            collect_lines(
                child.stderr.take().expect("stderr is piped"),
                Arc::clone(&stderr),
            ),
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

    fn stdout(&self, i: usize) -> Vec<String> {
        self.procs[i].stdout.lock().unwrap().clone()
    }

    fn stderr(&self, i: usize) -> Vec<String> {
        self.procs[i].stderr.lock().unwrap().clone()
    }

    fn count(&self, i: usize, pred: impl Fn(&str) -> bool) -> usize {
        self.procs[i]
            .stdout
            .lock()
            .unwrap()
            .iter()
            .filter(|l| pred(l))
            .count()
    }

    fn count_stderr(&self, i: usize, pred: impl Fn(&str) -> bool) -> usize {
        self.procs[i]
            .stderr
            .lock()
            .unwrap()
            .iter()
            .filter(|l| pred(l))
            .count()
    }

    /// Polls until `done` holds, failing with every process's output after SCRIPT_TIMEOUT.
    fn wait_until(&mut self, what: &str, done: impl Fn(&Procs) -> bool) {
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        while !done(self) {
            self.reap();
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.transcript()
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn wait_for_line(&mut self, i: usize, line: &str) {
        let what = format!("{} to print {line:?}", self.procs[i].name);
        self.wait_until(&what, |p| p.count(i, |l| l == line) > 0);
    }

    /// Waits for process `i` to exit, and for its output to be read to the end.
    fn wait_for_exit(&mut self, i: usize) -> ExitStatus {
        let what = format!("{} to exit", self.procs[i].name);
        self.wait_until(&what, |p| p.procs[i].status.is_some());
        for r in self.procs[i].readers.drain(..) {
            let _ = r.join();
        }
        self.procs[i].status.expect("reaped")
    }

    fn wait_for_success(&mut self, i: usize) {
        let status = self.wait_for_exit(i);
        assert!(
            status.success(),
            "{} exited with {status}\n{}",
            self.procs[i].name,
            self.transcript()
        );
    }

    fn signal(&self, i: usize, sig: i32) {
        // SAFETY: kill on our own child's pid; it is not reaped yet, so the pid is still ours.
        unsafe {
            libc::kill(self.procs[i].child.id() as i32, sig);
        }
    }

    /// Notes the exit status of every process that has ended.
    fn reap(&mut self) {
        for p in self.procs.iter_mut().filter(|p| p.status.is_none()) {
            if let Ok(Some(status)) = p.child.try_wait() {
                p.status = Some(status);
            }
        }
    }

    /// Asserts that no process wrote to stderr (the examples log failures there).
    fn assert_no_stderr(&self) {
        for (i, p) in self.procs.iter().enumerate() {
            assert!(
                self.stderr(i).is_empty(),
                "{} wrote to stderr\n{}",
                p.name,
                self.transcript()
            );
        }
    }

    /// Everything every process printed, for failure messages.
    fn transcript(&self) -> String {
        let mut out = String::new();
        for (i, p) in self.procs.iter().enumerate() {
            let status = p.status.map_or("running".to_string(), |s| s.to_string());
            out.push_str(&format!("--- {} ({status})\n", p.name));
            for line in self.stdout(i) {
                out.push_str(&format!("  out| {line}\n"));
            }
            for line in self.stderr(i) {
                out.push_str(&format!("  err| {line}\n"));
            }
        }
        out.push_str("--- natrix log\n");
        for line in self.server_log.lock().unwrap().iter() {
            out.push_str(&format!("  log| {line}\n"));
        }
        out
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// Connects, reads INFO, sends CONNECT and PING and reads PONG, each within PROBE_TIMEOUT.
fn handshake(addr: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("no INFO within {PROBE_TIMEOUT:?}: {e}"))?;
    if !line.starts_with("INFO ") {
        return Err(format!("expected INFO, got {line:?}"));
    }
    stream
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .map_err(|e| format!("send CONNECT: {e}"))?;
    line.clear();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("no PONG within {PROBE_TIMEOUT:?}: {e}"))?;
    if line != "PONG\r\n" {
        return Err(format!("expected PONG, got {line:?}"));
    }
    Ok(stream)
}

/// Reads `pipe` line by line into `sink` until it closes.
fn collect_lines(
    pipe: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    })
}

fn require_node_modules() {
    let nats = Path::new(JS_DIR).join("node_modules/nats/package.json");
    assert!(
        nats.exists(),
        "{} is missing: run `npm ci --prefix tests/js` first",
        Path::new(JS_DIR).join("node_modules").display()
    );
}
