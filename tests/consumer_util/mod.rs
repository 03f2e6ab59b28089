//! Helpers for the async-nats consumer suites (`jetstream_consumers.rs`,
//! `jetstream_consumer_delivery.rs`): a JetStream server per test, streams, durable pull
//! consumers, fetches, confirmed acks, raw `$JS.API` requests, and the consumer info numbers.
//! The types the tests use are re-exported, so a suite opens with `use consumer_util::*;`.

// Each suite uses a different part of this module and of its re-exports.
#![allow(dead_code, unused_imports)]

pub use std::collections::BTreeSet;
pub use std::future::Future;
pub use std::time::{Duration, Instant};

pub use async_nats::jetstream::{
    self,
    consumer::{self, pull, push, AckPolicy, DeliverPolicy, PullConsumer},
    stream::{Config, RetentionPolicy, Stream},
    AckKind, Message,
};
pub use futures::StreamExt;
pub use serde_json::{json, Value};

use crate::common::procs::{Server, TempDir};
/// How long one test body may take.
pub const TEST_MAX: Duration = Duration::from_secs(20);
/// How long a test waits for something it expects to come.
pub const ARRIVAL_MAX: Duration = Duration::from_secs(5);

/// A JetStream server with its store directory (kept alive with it).
pub struct Js {
    pub server: Server,
    _store: TempDir,
}

pub fn start_js(tag: &str) -> Js {
    let store = TempDir::new(tag);
    let server = Server::start_jetstream(2, &store.path, &[]);
    Js {
        server,
        _store: store,
    }
}

pub async fn connect(js: &Js) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(js.server.url())
        .await
        .expect("async-nats connects");
    let ctx = jetstream::new(client.clone());
    (client, ctx)
}

/// Runs `body` bounded by `TEST_MAX`.
pub async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_MAX, body)
        .await
        .expect("test body timed out");
}

pub async fn create_stream(
    ctx: &jetstream::Context,
    name: &str,
    subjects: &[&str],
    retention: RetentionPolicy,
) -> Stream {
    ctx.create_stream(Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        retention,
        ..Default::default()
    })
    .await
    .expect("create stream")
}

/// Publishes and awaits the ack; returns the stream sequence.
pub async fn publish(ctx: &jetstream::Context, subject: &str, payload: &str) -> u64 {
    ctx.publish(subject.to_string(), payload.to_string().into())
        .await
        .expect("publish sent")
        .await
        .expect("publish acked")
        .sequence
}

/// A durable pull consumer `name` with `config` (its durable name set here).
pub async fn durable(stream: &Stream, name: &str, config: pull::Config) -> PullConsumer {
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.to_string()),
            ..config
        })
        .await
        .expect("create pull consumer")
}

/// A `no_wait` fetch of up to `n`: what is deliverable now, ended by the server's 404.
pub async fn fetch_now(c: &PullConsumer, n: usize) -> Vec<Message> {
    let batch = c
        .fetch()
        .max_messages(n)
        .messages()
        .await
        .expect("fetch request");
    collect(batch).await
}

/// A waiting pull of up to `n` that the server ends at `expires` (408) or when filled.
pub async fn fetch_wait(c: &PullConsumer, n: usize, expires: Duration) -> Vec<Message> {
    let batch = c
        .batch()
        .max_messages(n)
        .expires(expires)
        .messages()
        .await
        .expect("pull request");
    collect(batch).await
}

pub async fn collect(mut batch: pull::Batch) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        out.push(m.expect("a message, not an error status"));
    }
    out
}

/// (stream seq, consumer seq, delivery count) from a message's ack subject.
pub fn meta(m: &Message) -> (u64, u64, i64) {
    let i = m.info().expect("ack subject parses");
    (i.stream_sequence, i.consumer_sequence, i.delivered)
}

pub fn stream_seqs(msgs: &[Message]) -> Vec<u64> {
    msgs.iter().map(|m| meta(m).0).collect()
}

pub fn payloads(msgs: &[Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

pub async fn info(c: &mut PullConsumer) -> consumer::Info {
    c.info().await.expect("consumer info").clone()
}

/// Acks `m` as a request and waits for the server's confirmation.
pub async fn ack_confirmed(m: &Message) {
    m.double_ack().await.expect("double ack confirmed");
}

/// Sends `payload` to `m`'s ack subject as a request and waits for the confirmation.
pub async fn ack_kind_confirmed(client: &async_nats::Client, m: &Message, payload: &'static str) {
    let reply = m
        .reply
        .clone()
        .expect("a JetStream message has a reply subject");
    tokio::time::timeout(ARRIVAL_MAX, client.request(reply, payload.into()))
        .await
        .expect("confirmation in time")
        .expect("confirmation");
}

/// A `$JS.API` request with a JSON body; returns the JSON reply.
pub async fn api(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        ARRIVAL_MAX,
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("API reply in time")
    .expect("API reply");
    serde_json::from_slice(&reply.payload).expect("API reply is JSON")
}

/// The (delivered consumer seq, delivered stream seq, floor consumer seq, floor stream seq).
pub fn positions(i: &consumer::Info) -> (u64, u64, u64, u64) {
    (
        i.delivered.consumer_sequence,
        i.delivered.stream_sequence,
        i.ack_floor.consumer_sequence,
        i.ack_floor.stream_sequence,
    )
}

/// last one either way, for the caller's assertion to show.
pub async fn tokio_retry_info(
    c: &mut PullConsumer,
    ok: impl Fn(&consumer::Info) -> bool,
) -> consumer::Info {
    let deadline = Instant::now() + ARRIVAL_MAX;
    loop {
        let i = info(c).await;
        if ok(&i) || Instant::now() >= deadline {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
