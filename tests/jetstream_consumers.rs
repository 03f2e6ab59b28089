//! JetStream consumers through async-nats (issue 11): pull consumer create / info / names /
//! list / delete; fetch with batch, expires and no_wait; ack, nak (with and without a delay),
//! term and in-progress; ack-wait redelivery, `max_deliver`, backoff and `max_ack_pending`;
//! ack policies none and all; the six deliver policies; filters; workqueue and interest
//! retention; two pullers on one durable; a pull request waiting across a publish; push
//! consumers with a deliver subject and a deliver group; the double ack; acks from another
//! connection. The consumer info numbers (`delivered`, `ack_floor`, `num_ack_pending`,
//! `num_redelivered`, `num_pending`, `num_waiting`) are checked after the steps that move them.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix, or nats-server with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`), so each expectation was first seen on nats-server
//! 2.15.1. Acks whose effect a test then checks are sent as double acks (the server confirms
//! them), so no check races an ack still in flight. Each body is bounded by `TEST_MAX`.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{self, pull, push, AckPolicy, DeliverPolicy, PullConsumer},
    stream::{Config, RetentionPolicy, Stream},
    AckKind, Message,
};
use futures::StreamExt;
use serde_json::{json, Value};

use common::procs::{Server, TempDir};

/// How long one test body may take.
const TEST_MAX: Duration = Duration::from_secs(20);
/// How long a test waits for something it expects to come.
const ARRIVAL_MAX: Duration = Duration::from_secs(5);

/// A JetStream server with its store directory (kept alive with it).
struct Js {
    server: Server,
    _store: TempDir,
}

fn start_js(tag: &str) -> Js {
    let store = TempDir::new(tag);
    let server = Server::start_jetstream(1, &store.path, &[]);
    Js {
        server,
        _store: store,
    }
}

async fn connect(js: &Js) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(js.server.url())
        .await
        .expect("async-nats connects");
    let ctx = jetstream::new(client.clone());
    (client, ctx)
}

/// Runs `body` bounded by `TEST_MAX`.
async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_MAX, body)
        .await
        .expect("test body timed out");
}

async fn create_stream(
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
async fn publish(ctx: &jetstream::Context, subject: &str, payload: &str) -> u64 {
    ctx.publish(subject.to_string(), payload.to_string().into())
        .await
        .expect("publish sent")
        .await
        .expect("publish acked")
        .sequence
}

/// A durable pull consumer `name` with `config` (its durable name set here).
async fn durable(stream: &Stream, name: &str, config: pull::Config) -> PullConsumer {
    stream
        .create_consumer(pull::Config {
            durable_name: Some(name.to_string()),
            ..config
        })
        .await
        .expect("create pull consumer")
}

/// A `no_wait` fetch of up to `n`: what is deliverable now, ended by the server's 404.
async fn fetch_now(c: &PullConsumer, n: usize) -> Vec<Message> {
    let batch = c
        .fetch()
        .max_messages(n)
        .messages()
        .await
        .expect("fetch request");
    collect(batch).await
}

/// A waiting pull of up to `n` that the server ends at `expires` (408) or when filled.
async fn fetch_wait(c: &PullConsumer, n: usize, expires: Duration) -> Vec<Message> {
    let batch = c
        .batch()
        .max_messages(n)
        .expires(expires)
        .messages()
        .await
        .expect("pull request");
    collect(batch).await
}

async fn collect(mut batch: pull::Batch) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        out.push(m.expect("a message, not an error status"));
    }
    out
}

/// (stream seq, consumer seq, delivery count) from a message's ack subject.
fn meta(m: &Message) -> (u64, u64, i64) {
    let i = m.info().expect("ack subject parses");
    (i.stream_sequence, i.consumer_sequence, i.delivered)
}

fn stream_seqs(msgs: &[Message]) -> Vec<u64> {
    msgs.iter().map(|m| meta(m).0).collect()
}

fn payloads(msgs: &[Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

async fn info(c: &mut PullConsumer) -> consumer::Info {
    c.info().await.expect("consumer info").clone()
}

/// Acks `m` as a request and waits for the server's confirmation.
async fn ack_confirmed(m: &Message) {
    m.double_ack().await.expect("double ack confirmed");
}

/// Sends `payload` to `m`'s ack subject as a request and waits for the confirmation.
async fn ack_kind_confirmed(client: &async_nats::Client, m: &Message, payload: &'static str) {
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
async fn api(client: &async_nats::Client, subject: &str, body: Value) -> Value {
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
fn positions(i: &consumer::Info) -> (u64, u64, u64, u64) {
    (
        i.delivered.consumer_sequence,
        i.delivered.stream_sequence,
        i.ack_floor.consumer_sequence,
        i.ack_floor.stream_sequence,
    )
}

// ---------------------------------------------------------------------------------------------
// Create, info, names, list, delete

#[tokio::test]
async fn pull_consumer_create_info_names_list_and_delete() {
    let js = start_js("cons-crud");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "CRUD", &["crud.>"], RetentionPolicy::Limits).await;
        let mut c = durable(
            &stream,
            "worker",
            pull::Config {
                filter_subject: "crud.a".into(),
                ..Default::default()
            },
        )
        .await;
        let i = info(&mut c).await;
        assert_eq!(
            (i.stream_name.as_str(), i.name.as_str()),
            ("CRUD", "worker")
        );
        assert_eq!(i.config.durable_name.as_deref(), Some("worker"));
        assert_eq!(i.config.deliver_subject, None, "a pull consumer has none");
        assert_eq!(i.config.ack_policy, AckPolicy::Explicit);
        assert_eq!(i.config.deliver_policy, DeliverPolicy::All);
        assert_eq!(
            i.config.ack_wait,
            Duration::from_secs(30),
            "default ack_wait"
        );
        assert_eq!(i.config.max_deliver, -1, "default max_deliver");
        assert_eq!(i.config.max_ack_pending, 1000, "default max_ack_pending");
        assert_eq!(i.config.max_waiting, 512, "default max_waiting");
        assert_eq!(i.config.filter_subject, "crud.a");
        assert_eq!(positions(&i), (0, 0, 0, 0));
        assert_eq!((i.num_pending, i.num_ack_pending, i.num_waiting), (0, 0, 0));

        let raw = api(&client, "$JS.API.CONSUMER.INFO.CRUD.worker", json!({})).await;
        assert_eq!(
            raw["type"],
            "io.nats.jetstream.api.v1.consumer_info_response"
        );
        assert!(
            raw["config"].get("deliver_subject").is_none(),
            "deliver_subject is omitted for pull: {raw}"
        );

        durable(&stream, "second", pull::Config::default()).await;
        let names = api(&client, "$JS.API.CONSUMER.NAMES.CRUD", json!({})).await;
        assert_eq!(
            names["type"],
            "io.nats.jetstream.api.v1.consumer_names_response"
        );
        assert_eq!(names["total"], 2, "{names}");
        let mut listed: Vec<&str> = names["consumers"]
            .as_array()
            .expect("consumers array")
            .iter()
            .filter_map(|n| n.as_str())
            .collect();
        listed.sort();
        assert_eq!(listed, ["second", "worker"]);
        let list = api(&client, "$JS.API.CONSUMER.LIST.CRUD", json!({})).await;
        assert_eq!(
            list["type"],
            "io.nats.jetstream.api.v1.consumer_list_response"
        );
        assert_eq!(list["total"], 2, "{list}");
        let mut listed: Vec<&str> = list["consumers"]
            .as_array()
            .expect("consumers array")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        listed.sort();
        assert_eq!(listed, ["second", "worker"]);

        let deleted = stream.delete_consumer("worker").await.expect("delete");
        assert!(deleted.success);
        let gone = api(&client, "$JS.API.CONSUMER.INFO.CRUD.worker", json!({})).await;
        assert_eq!(gone["error"]["code"], 404, "{gone}");
        assert_eq!(gone["error"]["err_code"], 10014, "{gone}");
        assert_eq!(gone["error"]["description"], "consumer not found", "{gone}");
        let names = api(&client, "$JS.API.CONSUMER.NAMES.CRUD", json!({})).await;
        assert_eq!(names["consumers"], json!(["second"]), "{names}");
    })
    .await;
}

#[tokio::test]
async fn create_is_idempotent_and_refuses_an_ack_policy_change() {
    let js = start_js("cons-idem");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create_stream(&ctx, "IDEM", &["idem.>"], RetentionPolicy::Limits).await;
        let body = |ack: &str, action: &str| {
            json!({"stream_name": "IDEM", "action": action,
                   "config": {"durable_name": "d", "name": "d", "ack_policy": ack}})
        };
        let first = api(
            &client,
            "$JS.API.CONSUMER.CREATE.IDEM.d",
            body("explicit", "create"),
        )
        .await;
        assert_eq!(first["name"], "d", "{first}");
        let again = api(
            &client,
            "$JS.API.CONSUMER.CREATE.IDEM.d",
            body("explicit", "create"),
        )
        .await;
        assert_eq!(
            again["name"], "d",
            "an identical create is idempotent: {again}"
        );
        assert_eq!(again["created"], first["created"], "the same consumer");
        let changed = api(&client, "$JS.API.CONSUMER.CREATE.IDEM.d", body("all", "")).await;
        assert_eq!(changed["error"]["err_code"], 10012, "{changed}");
        let strict = api(
            &client,
            "$JS.API.CONSUMER.CREATE.IDEM.d",
            body("all", "create"),
        )
        .await;
        assert_eq!(strict["error"]["err_code"], 10148, "{strict}");
        let missing = api(
            &client,
            "$JS.API.CONSUMER.CREATE.IDEM.nope",
            json!({
            "stream_name": "IDEM", "action": "update",
            "config": {"durable_name": "nope", "name": "nope", "ack_policy": "explicit"}}),
        )
        .await;
        assert_eq!(missing["error"]["err_code"], 10149, "{missing}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Fetch: batch, expires, no_wait, a request waiting across a publish

#[tokio::test]
async fn fetch_no_wait_returns_what_is_there_and_ends_at_once() {
    let js = start_js("cons-nowait");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "NW", &["nw.>"], RetentionPolicy::Limits).await;
        for i in 1..=3 {
            publish(&ctx, "nw.x", &format!("m{i}")).await;
        }
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        let t0 = Instant::now();
        let got = fetch_now(&c, 10).await;
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "took {:?}",
            t0.elapsed()
        );
        assert_eq!(payloads(&got), ["m1", "m2", "m3"]);
        assert_eq!(
            got[0].subject.as_str(),
            "nw.x",
            "delivered on the original subject"
        );
        let metas: Vec<_> = got.iter().map(meta).collect();
        assert_eq!(metas, [(1, 1, 1), (2, 2, 1), (3, 3, 1)]);
        let pend: Vec<u64> = got.iter().map(|m| m.info().unwrap().pending).collect();
        assert_eq!(pend, [2, 1, 0], "pending token counts what is left");
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (3, 3, 0, 0));
        assert_eq!(
            (i.num_pending, i.num_ack_pending, i.num_redelivered),
            (0, 3, 0)
        );

        let t0 = Instant::now();
        assert!(
            fetch_now(&c, 10).await.is_empty(),
            "delivered, unacked: nothing to fetch"
        );
        assert!(t0.elapsed() < Duration::from_secs(2), "404 at once");
    })
    .await;
}

#[tokio::test]
async fn fetch_with_expires_on_an_empty_stream_ends_at_the_expiry() {
    let js = start_js("cons-expires");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "EXP", &["exp.>"], RetentionPolicy::Limits).await;
        let c = durable(&stream, "c", pull::Config::default()).await;
        let t0 = Instant::now();
        let got = fetch_wait(&c, 5, Duration::from_secs(1)).await;
        let took = t0.elapsed();
        assert!(got.is_empty());
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "the 408 comes at the expiry: {took:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn pull_request_waits_across_a_publish_and_gets_the_message() {
    let js = start_js("cons-waiting");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "WAIT", &["wait.>"], RetentionPolicy::Limits).await;
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        let mut waiting = c
            .batch()
            .max_messages(2)
            .expires(Duration::from_secs(8))
            .messages()
            .await
            .expect("pull request");
        let i = tokio_retry_info(&mut c, |i| i.num_waiting == 1).await;
        assert_eq!(i.num_waiting, 1, "the request is queued");
        publish(&ctx, "wait.x", "late-1").await;
        publish(&ctx, "wait.x", "late-2").await;
        let t0 = Instant::now();
        let mut got = Vec::new();
        while let Some(m) = tokio::time::timeout(ARRIVAL_MAX, waiting.next())
            .await
            .expect("the waiting request gets the new messages")
        {
            got.push(m.expect("a message"));
        }
        assert!(t0.elapsed() < Duration::from_secs(2), "not at the expiry");
        assert_eq!(payloads(&got), ["late-1", "late-2"]);
        let i = info(&mut c).await;
        assert_eq!(i.num_waiting, 0, "a filled request leaves the queue");
    })
    .await;
}

/// Consumer info, asked again every 50 ms until `ok` holds (at most `ARRIVAL_MAX`); returns the
/// last one either way, for the caller's assertion to show.
async fn tokio_retry_info(
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

// ---------------------------------------------------------------------------------------------
// Acks: ack, nak, nak with delay, term, in progress, double ack, from a second connection

#[tokio::test]
async fn acks_move_the_floor_only_over_contiguous_acks() {
    let js = start_js("cons-floor");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "FLOOR", &["floor.>"], RetentionPolicy::Limits).await;
        for i in 1..=5 {
            publish(&ctx, "floor.x", &format!("m{i}")).await;
        }
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        assert_eq!(info(&mut c).await.num_pending, 5);
        let got = fetch_now(&c, 5).await;
        assert_eq!(stream_seqs(&got), [1, 2, 3, 4, 5]);
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (5, 5, 0, 0));
        assert_eq!((i.num_pending, i.num_ack_pending), (0, 5));

        ack_confirmed(&got[0]).await;
        ack_confirmed(&got[1]).await;
        ack_confirmed(&got[3]).await;
        let i = info(&mut c).await;
        assert_eq!(
            positions(&i),
            (5, 5, 2, 2),
            "floor stops below the gap at 3"
        );
        assert_eq!(i.num_ack_pending, 2);

        ack_confirmed(&got[2]).await;
        let i = info(&mut c).await;
        assert_eq!(
            positions(&i),
            (5, 5, 4, 4),
            "filling the gap moves the floor past 4"
        );
        assert_eq!(i.num_ack_pending, 1);

        ack_confirmed(&got[4]).await;
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (5, 5, 5, 5));
        assert_eq!((i.num_ack_pending, i.num_redelivered), (0, 0));

        publish(&ctx, "floor.x", "m6").await;
        let i = tokio_retry_info(&mut c, |i| i.num_pending == 1).await;
        assert_eq!(
            i.num_pending, 1,
            "a new message is pending for the consumer"
        );
    })
    .await;
}

#[tokio::test]
async fn nak_redelivers_at_once_with_the_count_raised_and_a_new_consumer_seq() {
    let js = start_js("cons-nak");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "NAK", &["nak.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "nak.x", "once").await;
        publish(&ctx, "nak.x", "twice").await;
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        let got = fetch_now(&c, 1).await;
        assert_eq!(got.iter().map(meta).collect::<Vec<_>>(), [(1, 1, 1)]);
        ack_kind_confirmed(&client, &got[0], "-NAK").await;
        let again = fetch_now(&c, 2).await;
        let metas: Vec<_> = again.iter().map(meta).collect();
        assert_eq!(
            metas,
            [(1, 2, 2), (2, 3, 1)],
            "the redelivery comes first, as consumer seq 2 with count 2"
        );
        assert_eq!(payloads(&again), ["once", "twice"]);
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (3, 2, 0, 0));
        assert_eq!((i.num_ack_pending, i.num_redelivered), (2, 1));
    })
    .await;
}

#[tokio::test]
async fn nak_with_a_delay_redelivers_no_sooner_than_the_delay() {
    let js = start_js("cons-nak-delay");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "NAKD", &["nakd.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "nakd.x", "later").await;
        let c = durable(&stream, "c", pull::Config::default()).await;
        let got = fetch_now(&c, 1).await;
        assert_eq!(got.len(), 1);
        let t0 = Instant::now();
        got[0]
            .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await
            .expect("nak sent");
        assert!(fetch_now(&c, 1).await.is_empty(), "not before the delay");
        let again = fetch_wait(&c, 1, Duration::from_secs(4)).await;
        let took = t0.elapsed();
        assert_eq!(again.iter().map(meta).collect::<Vec<_>>(), [(1, 2, 2)]);
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "redelivered after about 1 s: {took:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn term_stops_redelivery_and_counts_as_acked() {
    let js = start_js("cons-term");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "TERM", &["term.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "term.x", "poison").await;
        let mut c = durable(
            &stream,
            "c",
            pull::Config {
                ack_wait: Duration::from_millis(500),
                ..Default::default()
            },
        )
        .await;
        let got = fetch_now(&c, 1).await;
        assert_eq!(got.len(), 1);
        ack_kind_confirmed(&client, &got[0], "+TERM bad payload").await;
        let i = info(&mut c).await;
        assert_eq!(
            positions(&i),
            (1, 1, 1, 1),
            "a terminated message is past the floor"
        );
        assert_eq!(i.num_ack_pending, 0);
        let later = fetch_wait(&c, 1, Duration::from_millis(1500)).await;
        assert!(
            later.is_empty(),
            "no redelivery after 3 ack waits: {:?}",
            payloads(&later)
        );
    })
    .await;
}

#[tokio::test]
async fn in_progress_resets_the_ack_wait_until_it_stops() {
    let js = start_js("cons-wpi");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "WPI", &["wpi.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "wpi.x", "slow").await;
        let ack_wait = Duration::from_secs(1);
        let c = durable(
            &stream,
            "c",
            pull::Config {
                ack_wait,
                ..Default::default()
            },
        )
        .await;
        let got = fetch_now(&c, 1).await;
        assert_eq!(got.len(), 1);
        // A request that waits the whole time: a redelivery would land in it at once.
        let mut waiting = c
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(8))
            .messages()
            .await
            .expect("pull request");
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            ack_kind_confirmed(&client, &got[0], "+WPI").await;
        }
        // 2.4 s have passed, more than twice the ack wait.
        let early = tokio::time::timeout(Duration::from_millis(10), waiting.next()).await;
        assert!(early.is_err(), "redelivered while in progress: {early:?}");
        let last_wpi = Instant::now();
        let m = tokio::time::timeout(ARRIVAL_MAX, waiting.next())
            .await
            .expect("redelivered once the progress acks stop")
            .expect("a message")
            .expect("not an error");
        let took = last_wpi.elapsed();
        assert_eq!(meta(&m), (1, 2, 2));
        assert!(
            took >= Duration::from_millis(800) && took < Duration::from_secs(3),
            "one ack wait after the last +WPI: {took:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn double_ack_is_confirmed_and_a_second_ack_is_harmless() {
    let js = start_js("cons-dack");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "DACK", &["dack.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "dack.x", "one").await;
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        let got = fetch_now(&c, 1).await;
        assert_eq!(got.len(), 1);
        ack_confirmed(&got[0]).await;
        ack_confirmed(&got[0]).await;
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (1, 1, 1, 1));
        assert_eq!(i.num_ack_pending, 0);
    })
    .await;
}

#[tokio::test]
async fn acks_from_a_second_connection_count() {
    let js = start_js("cons-ack-other");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let (other, _) = connect(&js).await;
        let stream = create_stream(&ctx, "OTHER", &["other.>"], RetentionPolicy::Limits).await;
        for i in 1..=3 {
            publish(&ctx, "other.x", &format!("m{i}")).await;
        }
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        let got = fetch_now(&c, 3).await;
        assert_eq!(got.len(), 3);
        for m in &got {
            ack_kind_confirmed(&other, m, "+ACK").await;
        }
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (3, 3, 3, 3));
        assert_eq!(i.num_ack_pending, 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Redelivery: ack wait, max_deliver, backoff, max_ack_pending

#[tokio::test]
async fn unacked_message_is_redelivered_after_ack_wait_with_its_count() {
    let js = start_js("cons-ackwait");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "AW", &["aw.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "aw.x", "acked").await;
        publish(&ctx, "aw.x", "dropped").await;
        let mut c = durable(
            &stream,
            "c",
            pull::Config {
                ack_wait: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .await;
        let got = fetch_now(&c, 2).await;
        let t0 = Instant::now();
        assert_eq!(stream_seqs(&got), [1, 2]);
        ack_confirmed(&got[0]).await;
        let again = fetch_wait(&c, 1, Duration::from_secs(4)).await;
        let took = t0.elapsed();
        assert_eq!(again.iter().map(meta).collect::<Vec<_>>(), [(2, 3, 2)]);
        assert_eq!(payloads(&again), ["dropped"]);
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "redelivered one ack wait later: {took:?}"
        );
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (3, 2, 1, 1));
        assert_eq!((i.num_ack_pending, i.num_redelivered), (1, 1));
        ack_confirmed(&again[0]).await;
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (3, 2, 3, 2));
        assert_eq!((i.num_ack_pending, i.num_redelivered), (0, 0));
    })
    .await;
}

#[tokio::test]
async fn max_deliver_stops_redelivery_and_sends_the_advisory() {
    let js = start_js("cons-maxdeliver");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let mut advisories = client
            .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.MD.c")
            .await
            .expect("subscribe advisories");
        let stream = create_stream(&ctx, "MD", &["md.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "md.x", "poison").await;
        let mut c = durable(
            &stream,
            "c",
            pull::Config {
                ack_wait: Duration::from_millis(500),
                max_deliver: 2,
                ..Default::default()
            },
        )
        .await;
        let first = fetch_now(&c, 1).await;
        assert_eq!(first.iter().map(meta).collect::<Vec<_>>(), [(1, 1, 1)]);
        let second = fetch_wait(&c, 1, Duration::from_secs(3)).await;
        assert_eq!(second.iter().map(meta).collect::<Vec<_>>(), [(1, 2, 2)]);
        let third = fetch_wait(&c, 1, Duration::from_millis(1500)).await;
        assert!(
            third.is_empty(),
            "a third delivery: {:?}",
            stream_seqs(&third)
        );
        let adv = tokio::time::timeout(ARRIVAL_MAX, advisories.next())
            .await
            .expect("max deliveries advisory")
            .expect("subscription open");
        let adv: Value = serde_json::from_slice(&adv.payload).expect("advisory JSON");
        assert_eq!(
            adv["type"], "io.nats.jetstream.advisory.v1.max_deliver",
            "{adv}"
        );
        assert_eq!(
            (&adv["stream"], &adv["consumer"]),
            (&json!("MD"), &json!("c"))
        );
        assert_eq!(
            (&adv["stream_seq"], &adv["deliveries"]),
            (&json!(1), &json!(2))
        );
        let i = tokio_retry_info(&mut c, |i| i.num_ack_pending == 0).await;
        assert_eq!(i.num_ack_pending, 0, "given up, no longer pending");
        assert_eq!(i.delivered.consumer_sequence, 2);
        let state = ctx
            .get_stream("MD")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .clone();
        assert_eq!(state.messages, 1, "the message stays in the stream");
    })
    .await;
}

#[tokio::test]
async fn backoff_spaces_the_redeliveries_by_its_steps() {
    let js = start_js("cons-backoff");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "BO", &["bo.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "bo.x", "retry").await;
        let c = durable(
            &stream,
            "c",
            pull::Config {
                backoff: vec![Duration::from_millis(300), Duration::from_millis(1500)],
                max_deliver: 4,
                ..Default::default()
            },
        )
        .await;
        let raw = api(&client, "$JS.API.CONSUMER.INFO.BO.c", json!({})).await;
        assert_eq!(
            raw["config"]["ack_wait"], 300_000_000,
            "ack_wait = backoff[0]: {raw}"
        );
        assert_eq!(
            raw["config"]["backoff"],
            json!([300_000_000u64, 1_500_000_000u64])
        );
        let mut waiting = c
            .batch()
            .max_messages(4)
            .expires(Duration::from_secs(6))
            .messages()
            .await
            .expect("pull request");
        let mut at = Vec::new();
        let t0 = Instant::now();
        while at.len() < 3 {
            let m = tokio::time::timeout(ARRIVAL_MAX, waiting.next())
                .await
                .expect("next delivery")
                .expect("a message")
                .expect("not an error");
            let (sseq, _, count) = meta(&m);
            assert_eq!((sseq, count), (1, at.len() as i64 + 1));
            at.push(t0.elapsed());
        }
        let gap1 = at[1] - at[0];
        let gap2 = at[2] - at[1];
        println!("deliveries at {at:?}");
        assert!(
            gap1 >= Duration::from_millis(250) && gap1 < Duration::from_millis(1200),
            "first redelivery after backoff[0] = 300 ms: {gap1:?}"
        );
        assert!(
            gap2 >= Duration::from_millis(1300) && gap2 < Duration::from_millis(3000),
            "second redelivery after backoff[1] = 1.5 s: {gap2:?}"
        );
    })
    .await;
}

/// nats-server 2.15.1 refuses `max_deliver` below the number of backoff steps (10116) and
/// accepts it equal to that number (the reference doc's "must be > len" is one off).
#[tokio::test]
async fn backoff_with_more_steps_than_max_deliver_is_refused() {
    let js = start_js("cons-backoff-bad");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create_stream(&ctx, "BOB", &["bob.>"], RetentionPolicy::Limits).await;
        let create = |name: &str, max_deliver: i64| {
            json!({"stream_name": "BOB", "config": {"durable_name": name, "name": name,
                   "ack_policy": "explicit", "backoff": [100_000_000u64, 200_000_000u64],
                   "max_deliver": max_deliver}})
        };
        let below = api(&client, "$JS.API.CONSUMER.CREATE.BOB.c", create("c", 1)).await;
        assert_eq!(below["error"]["code"], 400, "{below}");
        assert_eq!(below["error"]["err_code"], 10116, "{below}");
        let equal = api(&client, "$JS.API.CONSUMER.CREATE.BOB.d", create("d", 2)).await;
        assert_eq!(equal["config"]["max_deliver"], 2, "{equal}");
        assert_eq!(
            equal["config"]["ack_wait"], 100_000_000,
            "ack_wait = backoff[0]: {equal}"
        );
    })
    .await;
}

#[tokio::test]
async fn max_ack_pending_stalls_delivery_until_acks_come() {
    let js = start_js("cons-map");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "MAP", &["map.>"], RetentionPolicy::Limits).await;
        for i in 1..=5 {
            publish(&ctx, "map.x", &format!("m{i}")).await;
        }
        let mut c = durable(
            &stream,
            "c",
            pull::Config {
                max_ack_pending: 2,
                ..Default::default()
            },
        )
        .await;
        let got = fetch_wait(&c, 5, Duration::from_millis(800)).await;
        assert_eq!(stream_seqs(&got), [1, 2], "stalled at 2 unacked");
        let i = info(&mut c).await;
        assert_eq!((i.num_ack_pending, i.num_pending), (2, 3));
        for m in &got {
            ack_confirmed(m).await;
        }
        let more = fetch_wait(&c, 5, Duration::from_millis(800)).await;
        assert_eq!(
            stream_seqs(&more),
            [3, 4],
            "two more once the first two are acked"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Ack policies

#[tokio::test]
async fn ack_policy_none_tracks_nothing_and_moves_the_floor_with_delivery() {
    let js = start_js("cons-acknone");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "NONE", &["none.>"], RetentionPolicy::Limits).await;
        for i in 1..=3 {
            publish(&ctx, "none.x", &format!("m{i}")).await;
        }
        let mut c = durable(
            &stream,
            "c",
            pull::Config {
                ack_policy: AckPolicy::None,
                ack_wait: Duration::from_millis(300),
                ..Default::default()
            },
        )
        .await;
        let got = fetch_now(&c, 3).await;
        assert_eq!(stream_seqs(&got), [1, 2, 3]);
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (3, 3, 3, 3));
        assert_eq!((i.num_ack_pending, i.num_pending), (0, 0));
        let later = fetch_wait(&c, 3, Duration::from_millis(900)).await;
        assert!(later.is_empty(), "nothing is redelivered without acks");
    })
    .await;
}

#[tokio::test]
async fn ack_policy_all_acks_every_lower_message() {
    let js = start_js("cons-ackall");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "ALL", &["all.>"], RetentionPolicy::Limits).await;
        for i in 1..=5 {
            publish(&ctx, "all.x", &format!("m{i}")).await;
        }
        let mut c = durable(
            &stream,
            "c",
            pull::Config {
                ack_policy: AckPolicy::All,
                ..Default::default()
            },
        )
        .await;
        let got = fetch_now(&c, 5).await;
        assert_eq!(stream_seqs(&got), [1, 2, 3, 4, 5]);
        ack_confirmed(&got[3]).await;
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (5, 5, 4, 4), "acking 4 acks 1..=4");
        assert_eq!(i.num_ack_pending, 1);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Deliver policies and filters

#[tokio::test]
async fn deliver_policies_pick_the_first_message_and_num_pending() {
    let js = start_js("cons-policies");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "DP", &["dp.*"], RetentionPolicy::Limits).await;
        // seq: 1 dp.a, 2 dp.b, 3 dp.a, | 4 dp.b, 5 dp.a (a pause before 4 for by_start_time)
        publish(&ctx, "dp.a", "a1").await;
        publish(&ctx, "dp.b", "b1").await;
        publish(&ctx, "dp.a", "a2").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        publish(&ctx, "dp.b", "b2").await;
        publish(&ctx, "dp.a", "a3").await;

        let mut all = durable(&stream, "all", pull::Config::default()).await;
        assert_eq!(info(&mut all).await.num_pending, 5);
        assert_eq!(stream_seqs(&fetch_now(&all, 10).await), [1, 2, 3, 4, 5]);

        let mut last = durable(
            &stream,
            "last",
            pull::Config {
                deliver_policy: DeliverPolicy::Last,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(info(&mut last).await.num_pending, 1);
        assert_eq!(stream_seqs(&fetch_now(&last, 10).await), [5]);

        let mut by_seq = durable(
            &stream,
            "byseq",
            pull::Config {
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 3 },
                ..Default::default()
            },
        )
        .await;
        assert_eq!(info(&mut by_seq).await.num_pending, 3);
        assert_eq!(stream_seqs(&fetch_now(&by_seq, 10).await), [3, 4, 5]);

        let ts4 = stream.get_raw_message(4).await.expect("seq 4").time;
        let mut by_time = durable(
            &stream,
            "bytime",
            pull::Config {
                deliver_policy: DeliverPolicy::ByStartTime {
                    start_time: ts4 - Duration::from_millis(100),
                },
                ..Default::default()
            },
        )
        .await;
        assert_eq!(info(&mut by_time).await.num_pending, 2);
        assert_eq!(stream_seqs(&fetch_now(&by_time, 10).await), [4, 5]);

        let mut lps = durable(
            &stream,
            "lps",
            pull::Config {
                deliver_policy: DeliverPolicy::LastPerSubject,
                filter_subject: "dp.*".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(info(&mut lps).await.num_pending, 2, "one per subject");
        assert_eq!(stream_seqs(&fetch_now(&lps, 10).await), [4, 5]);

        let mut new = durable(
            &stream,
            "new",
            pull::Config {
                deliver_policy: DeliverPolicy::New,
                ..Default::default()
            },
        )
        .await;
        let i = info(&mut new).await;
        assert_eq!(i.num_pending, 0);
        assert_eq!(
            i.delivered.stream_sequence, 5,
            "starts past the last message"
        );
        assert!(fetch_now(&new, 10).await.is_empty());
        publish(&ctx, "dp.b", "b3").await;
        assert_eq!(payloads(&fetch_wait(&new, 1, ARRIVAL_MAX).await), ["b3"]);
    })
    .await;
}

#[tokio::test]
async fn filter_subject_and_filter_subjects_select_and_count() {
    let js = start_js("cons-filters");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "FLT", &["flt.>"], RetentionPolicy::Limits).await;
        for (i, s) in ["flt.a", "flt.b", "flt.c", "flt.a", "flt.c.deep", "flt.b"]
            .iter()
            .enumerate()
        {
            publish(&ctx, s, &format!("m{}", i + 1)).await;
        }
        let mut one = durable(
            &stream,
            "one",
            pull::Config {
                filter_subject: "flt.a".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(info(&mut one).await.num_pending, 2);
        let got = fetch_now(&one, 10).await;
        assert_eq!(stream_seqs(&got), [1, 4]);
        let pend: Vec<u64> = got.iter().map(|m| m.info().unwrap().pending).collect();
        assert_eq!(pend, [1, 0]);

        let mut many = durable(
            &stream,
            "many",
            pull::Config {
                filter_subjects: vec!["flt.b".into(), "flt.c.>".into()],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(info(&mut many).await.num_pending, 3);
        assert_eq!(stream_seqs(&fetch_now(&many, 10).await), [2, 5, 6]);

        let overlap = api(
            &client,
            "$JS.API.CONSUMER.CREATE.FLT.ov",
            json!({"stream_name": "FLT",
            "config": {"durable_name": "ov", "name": "ov", "ack_policy": "explicit",
                       "filter_subjects": ["flt.*", "flt.a"]}}),
        )
        .await;
        assert_eq!(
            overlap["error"]["err_code"], 10138,
            "overlapping filters: {overlap}"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Retention on ack

#[tokio::test]
async fn workqueue_removes_acked_messages_and_refuses_a_second_unfiltered_consumer() {
    let js = start_js("cons-wq");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let mut stream = create_stream(&ctx, "WQ", &["wq.>"], RetentionPolicy::WorkQueue).await;
        for i in 1..=3 {
            publish(&ctx, "wq.task", &format!("t{i}")).await;
        }
        let c = durable(&stream, "c", pull::Config::default()).await;
        let got = fetch_now(&c, 2).await;
        assert_eq!(stream_seqs(&got), [1, 2]);
        for m in &got {
            ack_confirmed(m).await;
        }
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!(state.messages, 1, "acked tasks are removed");
        assert_eq!((state.first_sequence, state.last_sequence), (3, 3));

        let second = api(
            &client,
            "$JS.API.CONSUMER.CREATE.WQ.d",
            json!({"stream_name": "WQ",
            "config": {"durable_name": "d", "name": "d", "ack_policy": "explicit"}}),
        )
        .await;
        assert_eq!(second["error"]["code"], 400, "{second}");
        assert_eq!(second["error"]["err_code"], 10099, "{second}");
        let filtered = api(
            &client,
            "$JS.API.CONSUMER.CREATE.WQ.e.wq.task",
            json!({
            "stream_name": "WQ", "config": {"durable_name": "e", "name": "e",
            "ack_policy": "explicit", "filter_subject": "wq.task"}}),
        )
        .await;
        assert_eq!(
            filtered["error"]["err_code"], 10100,
            "overlaps the unfiltered: {filtered}"
        );
    })
    .await;
}

#[tokio::test]
async fn workqueue_accepts_disjoint_filters_and_refuses_an_overlapping_one() {
    let js = start_js("cons-wq-filters");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create_stream(&ctx, "WQF", &["wqf.>"], RetentionPolicy::WorkQueue).await;
        let create = |name: &str, filter: &str| {
            json!({"stream_name": "WQF", "config": {"durable_name": name, "name": name,
                   "ack_policy": "explicit", "filter_subject": filter}})
        };
        let a = api(
            &client,
            "$JS.API.CONSUMER.CREATE.WQF.a.wqf.a",
            create("a", "wqf.a"),
        )
        .await;
        assert_eq!(a["name"], "a", "{a}");
        let b = api(
            &client,
            "$JS.API.CONSUMER.CREATE.WQF.b.wqf.b",
            create("b", "wqf.b"),
        )
        .await;
        assert_eq!(b["name"], "b", "{b}");
        let all = api(
            &client,
            "$JS.API.CONSUMER.CREATE.WQF.w.wqf.*",
            create("w", "wqf.*"),
        )
        .await;
        assert_eq!(all["error"]["err_code"], 10100, "{all}");
    })
    .await;
}

#[tokio::test]
async fn interest_stream_removes_a_message_once_every_consumer_acked_it() {
    let js = start_js("cons-interest");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let mut stream = create_stream(&ctx, "INT", &["int.>"], RetentionPolicy::Interest).await;
        let one = durable(&stream, "one", pull::Config::default()).await;
        let two = durable(&stream, "two", pull::Config::default()).await;
        publish(&ctx, "int.x", "m1").await;
        publish(&ctx, "int.x", "m2").await;
        // The consumers existed before the publishes: a waiting pull, since nats-server may
        // answer a no_wait pull right after a publish ack before the consumer sees it.
        for m in &fetch_wait(&one, 2, ARRIVAL_MAX).await {
            ack_confirmed(m).await;
        }
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!(state.messages, 2, "`two` has not acked yet");
        let got = fetch_wait(&two, 2, ARRIVAL_MAX).await;
        assert_eq!(stream_seqs(&got), [1, 2]);
        ack_confirmed(&got[0]).await;
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!(state.messages, 1, "both acked seq 1");
        assert_eq!(state.first_sequence, 2);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Sharing one durable

#[tokio::test]
async fn two_pullers_sharing_a_durable_get_each_message_exactly_once() {
    const MESSAGES: u64 = 60;
    let js = start_js("cons-share");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "SHARE", &["share.>"], RetentionPolicy::Limits).await;
        let mut c = durable(&stream, "shared", pull::Config::default()).await;
        let mut workers = Vec::new();
        for _ in 0..2 {
            let (_, ctx) = connect(&js).await;
            let handle: PullConsumer = ctx
                .get_stream("SHARE")
                .await
                .expect("stream")
                .get_consumer("shared")
                .await
                .expect("the durable, from a second connection");
            workers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let got = fetch_wait(&handle, 5, Duration::from_millis(1500)).await;
                    if got.is_empty() {
                        return seen;
                    }
                    for m in &got {
                        ack_confirmed(m).await;
                        seen.push(meta(m).0);
                    }
                }
            }));
        }
        // Both requests wait before the first publish.
        let i = tokio_retry_info(&mut c, |i| i.num_waiting == 2).await;
        assert_eq!(i.num_waiting, 2);
        for n in 1..=MESSAGES {
            publish(&ctx, "share.x", &format!("m{n}")).await;
        }
        let mut all = Vec::new();
        let mut counts = Vec::new();
        for w in workers {
            let seen = w.await.expect("worker");
            counts.push(seen.len());
            all.extend(seen);
        }
        println!("the two pullers got {counts:?}");
        let unique: BTreeSet<u64> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a message went to both");
        assert_eq!(unique, (1..=MESSAGES).collect::<BTreeSet<u64>>());
        assert!(
            counts.iter().all(|&n| n > 0),
            "one puller got nothing: {counts:?}"
        );
        let i = info(&mut c).await;
        assert_eq!(positions(&i), (MESSAGES, MESSAGES, MESSAGES, MESSAGES));
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Push consumers

#[tokio::test]
async fn push_consumer_delivers_its_backlog_once_the_deliver_subject_has_interest() {
    let js = start_js("cons-push");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "PUSH", &["push.>"], RetentionPolicy::Limits).await;
        for i in 1..=3 {
            publish(&ctx, "push.x", &format!("m{i}")).await;
        }
        let mut c: jetstream::consumer::PushConsumer = stream
            .create_consumer(push::Config {
                durable_name: Some("pd".into()),
                deliver_subject: "dlv.pd".into(),
                ..Default::default()
            })
            .await
            .expect("create push consumer");
        let i = c.info().await.expect("info").clone();
        assert_eq!(i.config.deliver_subject.as_deref(), Some("dlv.pd"));
        assert!(!i.push_bound, "nobody listens yet");
        assert_eq!(
            i.delivered.consumer_sequence, 0,
            "nothing sent into the void"
        );

        let mut messages = c.messages().await.expect("subscribe deliver subject");
        let mut got = Vec::new();
        while got.len() < 3 {
            let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
                .await
                .expect("backlog arrives")
                .expect("subscription open")
                .expect("a message");
            assert_eq!(m.subject.as_str(), "push.x");
            ack_confirmed(&m).await;
            got.push(meta(&m));
        }
        assert_eq!(got, [(1, 1, 1), (2, 2, 1), (3, 3, 1)]);
        let i = c.info().await.expect("info").clone();
        assert!(i.push_bound, "the deliver subject has interest");
        assert_eq!(
            (
                i.delivered.consumer_sequence,
                i.ack_floor.stream_sequence,
                i.num_ack_pending
            ),
            (3, 3, 0)
        );
        publish(&ctx, "push.x", "live").await;
        let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
            .await
            .expect("live message arrives")
            .expect("subscription open")
            .expect("a message");
        assert_eq!(&m.payload[..], b"live");
        assert_eq!(meta(&m), (4, 4, 1));
    })
    .await;
}

#[tokio::test]
async fn push_consumer_with_a_deliver_group_gives_each_message_to_one_member() {
    const MESSAGES: usize = 30;
    let js = start_js("cons-push-group");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "PG", &["pg.>"], RetentionPolicy::Limits).await;
        stream
            .create_consumer(push::Config {
                durable_name: Some("workers".into()),
                deliver_subject: "dlv.workers".into(),
                deliver_group: Some("workers".into()),
                ..Default::default()
            })
            .await
            .expect("create push consumer with a group");
        let mut members = Vec::new();
        for _ in 0..2 {
            let (member, _) = connect(&js).await;
            let sub = member
                .queue_subscribe("dlv.workers", "workers".into())
                .await
                .expect("queue subscribe");
            member.flush().await.expect("flush");
            members.push((member, sub));
        }
        for i in 0..MESSAGES {
            publish(&ctx, "pg.job", &format!("j{i}")).await;
        }
        let mut per_member = Vec::new();
        let mut all = Vec::new();
        for (member, sub) in members.iter_mut() {
            let mut mine = Vec::new();
            while let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(1000), sub.next()).await
            {
                let reply = m.reply.clone().expect("ack subject");
                member
                    .request(reply, "+ACK".into())
                    .await
                    .expect("ack confirmed");
                mine.push(String::from_utf8_lossy(&m.payload).into_owned());
            }
            per_member.push(mine.len());
            all.extend(mine);
        }
        println!("the group members got {per_member:?}");
        let unique: BTreeSet<&String> = all.iter().collect();
        assert_eq!(all.len(), MESSAGES, "each message once: {per_member:?}");
        assert_eq!(unique.len(), MESSAGES);
        assert!(per_member.iter().all(|&n| n > 0), "{per_member:?}");
        let raw = api(&client, "$JS.API.CONSUMER.INFO.PG.workers", json!({})).await;
        assert_eq!(raw["config"]["deliver_group"], "workers", "{raw}");
        assert_eq!(raw["num_ack_pending"], 0, "{raw}");
        assert_eq!(raw["ack_floor"]["stream_seq"], MESSAGES, "{raw}");
    })
    .await;
}

#[tokio::test]
async fn ephemeral_named_consumer_echoes_a_5s_inactive_threshold() {
    let js = start_js("cons-ephemeral");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create_stream(&ctx, "EPH", &["eph.>"], RetentionPolicy::Limits).await;
        let named = api(
            &client,
            "$JS.API.CONSUMER.CREATE.EPH.tmp",
            json!({"stream_name": "EPH",
            "config": {"name": "tmp", "ack_policy": "explicit"}}),
        )
        .await;
        assert_eq!(
            named["config"]["inactive_threshold"], 5_000_000_000u64,
            "{named}"
        );
        assert!(named["config"].get("durable_name").is_none(), "{named}");
        let legacy = api(
            &client,
            "$JS.API.CONSUMER.CREATE.EPH",
            json!({"stream_name": "EPH",
            "config": {"ack_policy": "explicit"}}),
        )
        .await;
        let name = legacy["name"].as_str().unwrap_or_default();
        assert_eq!(name.len(), 8, "a server-made name: {legacy}");
    })
    .await;
}
