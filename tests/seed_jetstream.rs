//! Seed article 003's JetStream section ("JetStream for Persistent Queue Groups") with the
//! `nats` npm client (v2): its code as written (`tests/js/seeds/jetstream_tasks.js`) publishes
//! ten tasks to the `TASKS` work-queue stream, and two of its consumers fetch from the durable
//! `task-processors` (`fetch({max_messages: 10, expires: 5000})`, `msg.ack()`). The article's
//! `js.consumers.get` expects the durable to exist, so the test first creates it with
//! `jsm.consumers.add`, as a user of the article would (`jetstream_consumer_add.js`).
//! Beside it, an ordered consumer and a push subscription in nats.js
//! (`jetstream_extras.js`).
//!
//! Every script is a `node` child process reading `NATS_URL`; the servers are natrix, or
//! nats-server with `NATRIX_TEST_AGAINST_REFERENCE=1`. Consumers that never end are killed
//! when their guard drops. Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::{Server, TempDir};

const JS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
/// How long a script may take to print what the test waits for (node starts slowly).
const SCRIPT_MAX: Duration = Duration::from_secs(30);

/// A node script with its output collected in the background; killed on drop.
struct Script {
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Script {
    fn spawn(server: &Server, name: &str, args: &[&str], env: &[(&str, &str)]) -> Script {
        assert!(
            std::path::Path::new(JS_DIR)
                .join("node_modules/nats")
                .exists(),
            "tests/js/node_modules is missing: run ./test once (npm ci --prefix tests/js)"
        );
        let mut cmd = Command::new("node");
        cmd.args(args)
            .current_dir(JS_DIR)
            .env("NATS_URL", server.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node for {name}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        for (pipe, sink) in [
            (
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
                Arc::clone(&stdout),
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
                Arc::clone(&stderr),
            ),
        ] {
            let pipe = pipe.expect("piped");
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Script {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn errors(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the script to exit 0 within `SCRIPT_MAX`.
    fn wait_success(&mut self) {
        let deadline = Instant::now() + SCRIPT_MAX;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                assert!(
                    status.success(),
                    "{} exited with {status}\nstdout:\n{}\nstderr:\n{}",
                    self.name,
                    self.lines().join("\n"),
                    self.errors().join("\n")
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} still runs\nstdout:\n{}\nstderr:\n{}",
                self.name,
                self.lines().join("\n"),
                self.errors().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done` holds over the scripts' output; fails with every transcript if not.
fn wait_until(scripts: &[&Script], what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + SCRIPT_MAX;
    while !done() {
        if Instant::now() >= deadline {
            let mut t = String::new();
            for s in scripts {
                t.push_str(&format!(
                    "--- {} stdout:\n{}\n--- {} stderr:\n{}\n",
                    s.name,
                    s.lines().join("\n"),
                    s.name,
                    s.errors().join("\n")
                ));
            }
            panic!("timed out waiting for {what}\n{t}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stream's message count, by a `$JS.API.STREAM.INFO` request on a raw socket.
fn stream_messages(server: &Server, stream: &str) -> u64 {
    let mut c = server.raw();
    c.handshake(common::CONNECT_QUIET);
    c.send(
        format!("SUB _R.info 1\r\nPUB $JS.API.STREAM.INFO.{stream} _R.info 0\r\n\r\n").as_bytes(),
    );
    let line = c.read_line();
    let len: usize = line
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a MSG line: {line:?}"));
    let mut body = String::new();
    while body.len() < len + 2 {
        body.push_str(&c.read_line());
    }
    let v: serde_json::Value = serde_json::from_str(body.trim_end()).expect("STREAM.INFO JSON");
    v["state"]["messages"]
        .as_u64()
        .unwrap_or_else(|| panic!("no state.messages in {v}"))
}

#[test]
fn seed_work_queue_tasks_are_each_completed_once_by_two_consumers_and_the_stream_empties() {
    let store = TempDir::new("seed-js");
    let server = Server::start_jetstream(2, &store.path, &[]);

    let mut publisher = Script::spawn(
        &server,
        "publisher",
        &["seeds/jetstream_tasks.js", "publish"],
        &[],
    );
    publisher.wait_success();
    let published = publisher.lines();
    assert!(
        published.iter().any(|l| l == "Stream TASKS created"),
        "{published:?}"
    );
    for i in 1..=10 {
        let want = format!("Published task task-{i}, sequence: {i}");
        assert!(
            published.contains(&want),
            "missing {want:?} in {published:?}"
        );
    }
    assert_eq!(stream_messages(&server, "TASKS"), 10);

    let mut add = Script::spawn(
        &server,
        "consumer add",
        &["seeds/jetstream_consumer_add.js"],
        &[],
    );
    add.wait_success();
    assert_eq!(
        add.lines(),
        ["Consumer task-processors added, ack_wait 30000000000"]
    );

    let one = Script::spawn(
        &server,
        "consumer 1",
        &["seeds/jetstream_tasks.js", "consume", "1"],
        &[],
    );
    let two = Script::spawn(
        &server,
        "consumer 2",
        &["seeds/jetstream_tasks.js", "consume", "2"],
        &[],
    );
    let completed = || {
        let mut by_task: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, s) in [("1", &one), ("2", &two)] {
            for l in s.lines() {
                if let Some(task) = l.strip_prefix(&format!("Consumer {id} completed: ")) {
                    by_task
                        .entry(task.to_string())
                        .or_default()
                        .push(id.to_string());
                }
            }
        }
        by_task
    };
    wait_until(&[&one, &two], "ten completed tasks", || {
        completed().values().map(Vec::len).sum::<usize>() >= 10
    });
    // Longer than one more fetch round: a duplicate would show now.
    std::thread::sleep(Duration::from_millis(1500));
    let done = completed();
    let want: Vec<String> = (1..=10).map(|i| format!("task-{i}")).collect();
    let mut tasks: Vec<String> = done.keys().cloned().collect();
    tasks.sort_by_key(|t| t.trim_start_matches("task-").parse::<u32>().unwrap_or(0));
    assert_eq!(tasks, want);
    for (task, by) in &done {
        assert_eq!(by.len(), 1, "{task} completed by {by:?}");
    }
    for s in [&one, &two] {
        assert!(
            s.lines()
                .contains(&format!("{} ready", s.name.replace("consumer", "Consumer"))),
            "{:?}",
            s.lines()
        );
        let errors: Vec<String> = s
            .errors()
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(errors.is_empty(), "{} wrote errors: {errors:?}", s.name);
    }
    let counts: Vec<usize> = [&one, &two]
        .iter()
        .map(|s| {
            s.lines()
                .iter()
                .filter(|l| l.contains(" completed: "))
                .count()
        })
        .collect();
    println!("tasks completed per consumer: {counts:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = stream_messages(&server, "TASKS");
    while left > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = stream_messages(&server, "TASKS");
    }
    assert_eq!(left, 0, "acked tasks leave the work-queue stream");
}

#[test]
fn nats_js_ordered_consumer_and_push_subscription_get_every_event_in_order() {
    let store = TempDir::new("seed-js-extras");
    let server = Server::start_jetstream(2, &store.path, &[]);
    let mut s = Script::spawn(&server, "extras", &["seeds/jetstream_extras.js"], &[]);
    s.wait_success();
    let lines = s.lines();
    assert!(
        lines.contains(&"ordered: e1@1/1,e2@2/2,e3@3/3,e4@4/4,e5@5/5".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"push: e1,e2,e3,e4,e5".to_string()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("push info: delivered 5, pending 0")),
        "{lines:?}"
    );
}
