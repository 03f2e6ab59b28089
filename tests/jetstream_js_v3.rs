//! JetStream through the current nats.js v3 packages (@nats-io/transport-node, @nats-io/jetstream,
//! @nats-io/kv; tests/js/v3/jetstream_v3.js): publish acks, a durable pull consumer read with
//! `fetch()` and `consume()` (v3 asks for idle heartbeats on every pull), a nak redelivered with
//! its count raised, the consumer drained, a KV bucket. Against natrix (2 shards) or, with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`, nats-server 2.15.1.

mod common;

use std::time::Duration;

use common::node;
use common::procs::{Server, TempDir};

const SCRIPT_MAX: Duration = Duration::from_secs(30);

#[test]
fn nats_js_v3_fetch_consume_nak_and_kv_work() {
    let store = TempDir::new("js-v3");
    let server = Server::start_jetstream(2, &store.path, &[]);
    let stdout = node::run_script("v3/jetstream_v3.js", &server.url(), SCRIPT_MAX);
    node::assert_steps(
        &stdout,
        &[
            "published 20",
            "fetched 10",
            "consumed 10 with one nak redelivered",
            "consumer drained",
            "kv ok",
        ],
    );
}
