//! JetStream through the current nats.js v3 packages (@nats-io/transport-node, @nats-io/jetstream,
//! @nats-io/kv; tests/js/v3/jetstream_v3.js): publish acks, a durable pull consumer read with
//! `fetch()` and `consume()` (v3 asks for idle heartbeats on every pull), a nak redelivered with
//! its count raised, the consumer drained, a KV bucket. Against natrix (2 shards) or, with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`, nats-server 2.15.1.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::procs::{Server, TempDir};

const JS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
const SCRIPT_MAX: Duration = Duration::from_secs(30);

#[test]
fn nats_js_v3_fetch_consume_nak_and_kv_work() {
    assert!(
        std::path::Path::new(JS_DIR)
            .join("node_modules/@nats-io/jetstream")
            .exists(),
        "tests/js/node_modules is missing @nats-io/jetstream: run ./test once"
    );
    let store = TempDir::new("js-v3");
    let server = Server::start_jetstream(2, &store.path, &[]);
    let mut child = Command::new("node")
        .arg("v3/jetstream_v3.js")
        .current_dir(JS_DIR)
        .env("NATS_URL", server.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let deadline = Instant::now() + SCRIPT_MAX;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for node") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.is_some_and(|s| s.success()),
        "jetstream_v3.js failed ({status:?}):\n{stdout}{stderr}"
    );
    for step in [
        "published 20",
        "fetched 10",
        "consumed 10 with one nak redelivered",
        "consumer drained",
        "kv ok",
    ] {
        assert!(
            stdout.lines().any(|l| l == step),
            "missing {step:?}:\n{stdout}"
        );
    }
}
