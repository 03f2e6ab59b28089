//! JetStream streams and publish acks through async-nats (issue 10): stream create / info /
//! get / delete / purge / names / list, idempotent and conflicting create, `Nats-Msg-Id`
//! dedup, `Nats-Expected-Last-Sequence`, and the `max_msgs` / `max_msgs_per_subject` limits
//! with both discard policies.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix, or nats-server with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`), so the expectations are checked against the reference
//! first. Each test body is bounded by `TEST_MAX`; the server and its store die with the test.

mod common;

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    context::{CreateStreamErrorKind, GetStreamErrorKind, PublishError, PublishErrorKind},
    message::PublishMessage,
    stream::{Config, DiscardPolicy, LastRawMessageErrorKind, Stream},
    ErrorCode,
};
use futures::TryStreamExt;

use common::procs::{Server, TempDir};

/// How long one test body may take.
const TEST_MAX: Duration = Duration::from_secs(30);

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

async fn context(js: &Js) -> jetstream::Context {
    let client = async_nats::connect(js.server.url())
        .await
        .expect("async-nats connects");
    jetstream::new(client)
}

/// Runs `body` bounded by `TEST_MAX`.
async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_MAX, body)
        .await
        .expect("test body timed out");
}

fn config(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Publishes `payload` and awaits the ack; returns its sequence after checking the stream name.
async fn publish_acked(
    ctx: &jetstream::Context,
    stream: &str,
    subject: &str,
    payload: &str,
) -> u64 {
    let ack = ctx
        .publish(subject.to_string(), payload.to_string().into())
        .await
        .expect("publish sent")
        .await
        .expect("publish acked");
    assert_eq!(ack.stream, stream, "ack names the stream");
    assert!(!ack.duplicate, "a fresh message is no duplicate");
    ack.sequence
}

/// The server's JetStream error inside a publish error, if the server sent one.
fn publish_api_error(e: &PublishError) -> Option<&jetstream::Error> {
    e.source()
        .and_then(|s| s.downcast_ref::<jetstream::Error>())
}

async fn info(stream: &mut Stream) -> jetstream::stream::Info {
    stream.info().await.expect("stream info").clone()
}

#[tokio::test]
async fn publish_acks_name_the_stream_and_count_sequences_from_1() {
    let js = start_js("js-acks");
    bounded(async {
        let ctx = context(&js).await;
        ctx.create_stream(config("ORDERS", &["orders.>"]))
            .await
            .expect("create stream");
        for i in 1..=20u64 {
            let seq = publish_acked(&ctx, "ORDERS", "orders.new", &format!("order-{i}")).await;
            assert_eq!(seq, i, "acks count 1..N in publish order");
        }
    })
    .await;
}

#[tokio::test]
async fn many_acks_in_flight_get_distinct_sequences_1_to_n() {
    let js = start_js("js-inflight");
    bounded(async {
        let ctx = context(&js).await;
        ctx.create_stream(config("BULK", &["bulk.*"]))
            .await
            .expect("create stream");
        let mut pending = Vec::new();
        for i in 0..500 {
            let fut = ctx
                .publish(format!("bulk.{}", i % 7), format!("p{i}").into())
                .await
                .expect("publish sent");
            pending.push(fut);
        }
        let mut seqs = Vec::new();
        for fut in pending {
            let ack = fut.await.expect("acked");
            assert_eq!(ack.stream, "BULK");
            seqs.push(ack.sequence);
        }
        // One connection: the server stores in arrival order, so acks come back 1..N.
        assert_eq!(seqs, (1..=500).collect::<Vec<u64>>());
    })
    .await;
}

#[tokio::test]
async fn stream_info_reports_messages_bytes_and_first_and_last_seq() {
    let js = start_js("js-info");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(config("INFO", &["info.>"]))
            .await
            .expect("create stream");
        let empty = info(&mut stream).await;
        assert_eq!(empty.config.name, "INFO");
        assert_eq!(empty.config.subjects, vec!["info.>".to_string()]);
        assert_eq!(
            (
                empty.state.messages,
                empty.state.bytes,
                empty.state.last_sequence
            ),
            (0, 0, 0)
        );
        for i in 0..5 {
            publish_acked(&ctx, "INFO", &format!("info.{}", i % 2), "payload").await;
        }
        let state = info(&mut stream).await.state;
        assert_eq!(state.messages, 5);
        assert!(state.bytes > 0, "bytes counted: {}", state.bytes);
        assert_eq!((state.first_sequence, state.last_sequence), (1, 5));
        assert_eq!(state.subjects_count, 2, "info.0 and info.1");
        assert!(state.last_timestamp >= state.first_timestamp);
        // get_stream reads the same state through STREAM.INFO.
        let again = ctx.get_stream("INFO").await.expect("get_stream");
        assert_eq!(again.cached_info().state.messages, 5);
    })
    .await;
}

#[tokio::test]
async fn get_message_by_sequence_and_last_by_subject() {
    let js = start_js("js-get");
    bounded(async {
        let ctx = context(&js).await;
        let stream = ctx
            .create_stream(config("GET", &["get.>"]))
            .await
            .expect("create stream");
        publish_acked(&ctx, "GET", "get.a", "a1").await;
        publish_acked(&ctx, "GET", "get.b", "b1").await;
        publish_acked(&ctx, "GET", "get.a", "a2").await;

        let m = stream.get_raw_message(2).await.expect("get seq 2");
        assert_eq!(
            (m.subject.as_str(), m.sequence, &m.payload[..]),
            ("get.b", 2, &b"b1"[..])
        );
        let last = stream
            .get_last_raw_message_by_subject("get.a")
            .await
            .expect("last by subject");
        assert_eq!((last.sequence, &last.payload[..]), (3, &b"a2"[..]));

        let miss = stream.get_raw_message(9).await.expect_err("no seq 9");
        assert!(
            matches!(miss.kind(), LastRawMessageErrorKind::NoMessageFound),
            "{miss:?}"
        );
        let miss = stream
            .get_last_raw_message_by_subject("get.none")
            .await
            .expect_err("no message on get.none");
        assert!(
            matches!(miss.kind(), LastRawMessageErrorKind::NoMessageFound),
            "{miss:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn delete_message_removes_only_that_sequence() {
    let js = start_js("js-delmsg");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(config("DEL", &["del.>"]))
            .await
            .expect("create stream");
        for i in 1..=3 {
            publish_acked(&ctx, "DEL", "del.x", &format!("d{i}")).await;
        }
        assert!(stream.delete_message(2).await.expect("delete seq 2"));
        let miss = stream.get_raw_message(2).await.expect_err("seq 2 deleted");
        assert!(matches!(
            miss.kind(),
            LastRawMessageErrorKind::NoMessageFound
        ));
        assert_eq!(
            &stream.get_raw_message(1).await.expect("seq 1").payload[..],
            b"d1"
        );
        assert_eq!(
            &stream.get_raw_message(3).await.expect("seq 3").payload[..],
            b"d3"
        );
        let state = info(&mut stream).await.state;
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (2, 1, 3)
        );
        // Deleting it again fails: there is nothing at seq 2 any more.
        assert!(
            stream.delete_message(2).await.is_err(),
            "second delete of seq 2"
        );
        // The sequence is not handed out again.
        assert_eq!(publish_acked(&ctx, "DEL", "del.x", "d4").await, 4);
    })
    .await;
}

#[tokio::test]
async fn purge_all_then_by_filter_then_keeping_the_newest() {
    let js = start_js("js-purge");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(config("PURGE", &["purge.>"]))
            .await
            .expect("create stream");
        for i in 0..4 {
            publish_acked(&ctx, "PURGE", "purge.x", &format!("x{i}")).await;
        }
        let all = stream.purge().await.expect("purge all");
        assert!(all.success);
        assert_eq!(all.purged, 4);
        let state = info(&mut stream).await.state;
        assert_eq!(state.messages, 0);
        // After a purge the stream is empty and first_seq is the next sequence.
        assert_eq!((state.first_sequence, state.last_sequence), (5, 4));

        // seqs 5..=10: a a b a b a
        for subj in ["a", "a", "b", "a", "b", "a"] {
            publish_acked(&ctx, "PURGE", &format!("purge.{subj}"), subj).await;
        }
        let b = stream
            .purge()
            .filter("purge.b")
            .await
            .expect("purge filter");
        assert_eq!((b.success, b.purged), (true, 2));
        let state = info(&mut stream).await.state;
        assert_eq!((state.messages, state.last_sequence), (4, 10));
        assert!(stream
            .get_last_raw_message_by_subject("purge.b")
            .await
            .is_err());

        let kept = stream.purge().keep(1).await.expect("purge keep 1");
        assert_eq!((kept.success, kept.purged), (true, 3));
        let state = info(&mut stream).await.state;
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (1, 10, 10)
        );
        assert_eq!(publish_acked(&ctx, "PURGE", "purge.a", "after").await, 11);
    })
    .await;
}

#[tokio::test]
async fn delete_stream_then_info_is_stream_not_found_10059() {
    let js = start_js("js-delstream");
    bounded(async {
        let ctx = context(&js).await;
        ctx.create_stream(config("GONE", &["gone.>"]))
            .await
            .expect("create stream");
        publish_acked(&ctx, "GONE", "gone.1", "x").await;
        let status = ctx.delete_stream("GONE").await.expect("delete stream");
        assert!(status.success);
        let err = ctx.get_stream("GONE").await.expect_err("stream deleted");
        match err.kind() {
            GetStreamErrorKind::JetStream(e) => {
                assert_eq!(e.error_code(), ErrorCode::STREAM_NOT_FOUND, "{e}");
                assert_eq!(e.code(), 404);
            }
            other => panic!("unexpected error kind {other:?}"),
        }
        // With the stream gone nothing captures the subject: no responders.
        let err = ctx
            .publish("gone.1", "y".into())
            .await
            .expect("sent")
            .await
            .expect_err("nothing stores gone.1");
        assert_eq!(err.kind(), PublishErrorKind::StreamNotFound, "{err:?}");
        assert!(ctx.delete_stream("GONE").await.is_err(), "second delete");
    })
    .await;
}

#[tokio::test]
async fn stream_names_and_list_name_every_stream() {
    let js = start_js("js-names");
    bounded(async {
        let ctx = context(&js).await;
        let none: Vec<String> = ctx.stream_names().try_collect().await.expect("names");
        assert!(none.is_empty(), "{none:?}");
        for (name, subj) in [("ALPHA", "alpha.>"), ("BETA", "beta.>"), ("GAMMA", "gamma")] {
            ctx.create_stream(config(name, &[subj]))
                .await
                .expect("create stream");
        }
        publish_acked(&ctx, "BETA", "beta.1", "b").await;
        let mut names: Vec<String> = ctx.stream_names().try_collect().await.expect("names");
        names.sort();
        assert_eq!(names, ["ALPHA", "BETA", "GAMMA"]);
        let infos: Vec<jetstream::stream::Info> = ctx.streams().try_collect().await.expect("list");
        let mut listed: Vec<(String, u64)> = infos
            .iter()
            .map(|i| (i.config.name.clone(), i.state.messages))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                ("ALPHA".to_string(), 0),
                ("BETA".to_string(), 1),
                ("GAMMA".to_string(), 0)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn create_with_the_same_config_again_returns_the_existing_stream() {
    let js = start_js("js-idem");
    bounded(async {
        let ctx = context(&js).await;
        ctx.create_stream(config("SAME", &["same.>"]))
            .await
            .expect("create stream");
        publish_acked(&ctx, "SAME", "same.1", "kept").await;
        let mut again = ctx
            .create_stream(config("SAME", &["same.>"]))
            .await
            .expect("identical create succeeds");
        // The existing stream came back, with its message: nothing was recreated.
        let state = info(&mut again).await.state;
        assert_eq!((state.messages, state.last_sequence), (1, 1));
    })
    .await;
}

#[tokio::test]
async fn create_with_a_conflicting_config_is_refused_with_10058() {
    let js = start_js("js-conflict");
    bounded(async {
        let ctx = context(&js).await;
        ctx.create_stream(config("CONF", &["conf.a"]))
            .await
            .expect("create stream");
        let err = ctx
            .create_stream(config("CONF", &["conf.b"]))
            .await
            .expect_err("different subjects under the same name");
        match err.kind() {
            CreateStreamErrorKind::JetStream(e) => {
                assert_eq!(e.error_code(), ErrorCode::STREAM_NAME_EXIST, "{e}");
                assert_eq!(e.code(), 400);
                assert!(
                    e.to_string()
                        .contains("stream name already in use with a different configuration"),
                    "{e}"
                );
            }
            other => panic!("unexpected error kind {other:?}"),
        }
        // The original stream is untouched.
        let stream = ctx.get_stream("CONF").await.expect("still there");
        assert_eq!(
            stream.cached_info().config.subjects,
            vec!["conf.a".to_string()]
        );
    })
    .await;
}

#[tokio::test]
async fn duplicate_msg_id_is_acked_as_duplicate_with_the_original_sequence() {
    let js = start_js("js-dedup");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(config("DEDUP", &["dedup.>"]))
            .await
            .expect("create stream");
        publish_acked(&ctx, "DEDUP", "dedup.x", "before").await;
        let send = |id: &str, body: &str| {
            let p = PublishMessage::build()
                .payload(body.to_string().into())
                .message_id(id);
            ctx.send_publish("dedup.x", p)
        };
        let first = send("id-1", "one")
            .await
            .expect("sent")
            .await
            .expect("acked");
        assert_eq!((first.sequence, first.duplicate), (2, false));
        let second = send("id-1", "one again")
            .await
            .expect("sent")
            .await
            .expect("acked");
        assert_eq!(second.stream, "DEDUP");
        assert!(second.duplicate, "same Nats-Msg-Id within the window");
        assert_eq!(second.sequence, first.sequence, "the original sequence");
        let other = send("id-2", "two")
            .await
            .expect("sent")
            .await
            .expect("acked");
        assert_eq!((other.sequence, other.duplicate), (3, false));
        let state = info(&mut stream).await.state;
        assert_eq!((state.messages, state.last_sequence), (3, 3));
        // The stored message is the first one, and keeps its id header.
        let m = stream.get_raw_message(2).await.expect("seq 2");
        assert_eq!(&m.payload[..], b"one");
        assert_eq!(
            m.headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str()),
            Some("id-1"),
            "{:?}",
            m.headers
        );
    })
    .await;
}

#[tokio::test]
async fn wrong_expected_last_sequence_is_refused_with_10071() {
    let js = start_js("js-expect");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(config("EXP", &["exp.>"]))
            .await
            .expect("create stream");
        publish_acked(&ctx, "EXP", "exp.x", "1").await;
        publish_acked(&ctx, "EXP", "exp.x", "2").await;
        let err = ctx
            .send_publish(
                "exp.x",
                PublishMessage::build()
                    .payload("3".into())
                    .expected_last_sequence(1),
            )
            .await
            .expect("sent")
            .await
            .expect_err("last sequence is 2, not 1");
        assert_eq!(err.kind(), PublishErrorKind::WrongLastSequence, "{err:?}");
        let api = publish_api_error(&err).expect("server error attached");
        assert_eq!(api.error_code(), ErrorCode::STREAM_WRONG_LAST_SEQUENCE);
        assert_eq!(api.code(), 400);
        assert!(api.to_string().contains("wrong last sequence: 2"), "{api}");
        assert_eq!(
            info(&mut stream).await.state.last_sequence,
            2,
            "nothing stored"
        );
        // The right expectation is accepted.
        let ok = ctx
            .send_publish(
                "exp.x",
                PublishMessage::build()
                    .payload("3".into())
                    .expected_last_sequence(2),
            )
            .await
            .expect("sent")
            .await
            .expect("acked");
        assert_eq!(ok.sequence, 3);
    })
    .await;
}

#[tokio::test]
async fn max_msgs_with_discard_old_drops_the_oldest_and_moves_first_seq() {
    let js = start_js("js-maxold");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(Config {
                max_messages: 3,
                discard: DiscardPolicy::Old,
                ..config("OLD", &["old.>"])
            })
            .await
            .expect("create stream");
        for i in 1..=5u64 {
            assert_eq!(
                publish_acked(&ctx, "OLD", "old.x", &format!("m{i}")).await,
                i
            );
        }
        let state = info(&mut stream).await.state;
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (3, 3, 5)
        );
        assert!(stream.get_raw_message(2).await.is_err(), "seq 2 dropped");
        assert_eq!(
            &stream.get_raw_message(3).await.expect("seq 3").payload[..],
            b"m3"
        );
    })
    .await;
}

#[tokio::test]
async fn max_msgs_with_discard_new_refuses_the_publish_with_10077() {
    let js = start_js("js-maxnew");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(Config {
                max_messages: 2,
                discard: DiscardPolicy::New,
                ..config("NEW", &["new.>"])
            })
            .await
            .expect("create stream");
        publish_acked(&ctx, "NEW", "new.x", "1").await;
        publish_acked(&ctx, "NEW", "new.x", "2").await;
        let err = ctx
            .publish("new.x", "3".into())
            .await
            .expect("sent")
            .await
            .expect_err("stream is full");
        let api = publish_api_error(&err).expect("server error attached");
        assert_eq!(api.error_code(), ErrorCode::STREAM_STORE_FAILED, "{api}");
        assert_eq!(api.code(), 503);
        assert!(
            api.to_string().contains("maximum messages exceeded"),
            "{api}"
        );
        let state = info(&mut stream).await.state;
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (2, 1, 2)
        );
        assert_eq!(
            &stream.get_raw_message(1).await.expect("seq 1").payload[..],
            b"1"
        );
    })
    .await;
}

#[tokio::test]
async fn max_msgs_per_subject_keeps_the_newest_per_subject() {
    let js = start_js("js-persubj");
    bounded(async {
        let ctx = context(&js).await;
        let mut stream = ctx
            .create_stream(Config {
                max_messages_per_subject: 2,
                ..config("PER", &["per.*"])
            })
            .await
            .expect("create stream");
        // seqs: 1 a, 2 a, 3 b, 4 a, 5 a
        for (subj, body) in [
            ("a", "a1"),
            ("a", "a2"),
            ("b", "b1"),
            ("a", "a3"),
            ("a", "a4"),
        ] {
            publish_acked(&ctx, "PER", &format!("per.{subj}"), body).await;
        }
        let state = info(&mut stream).await.state;
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (3, 3, 5)
        );
        for gone in [1, 2] {
            assert!(stream.get_raw_message(gone).await.is_err(), "seq {gone}");
        }
        assert_eq!(
            &stream.get_raw_message(4).await.expect("seq 4").payload[..],
            b"a3"
        );
        let b = stream
            .get_last_raw_message_by_subject("per.b")
            .await
            .expect("b kept");
        assert_eq!((b.sequence, &b.payload[..]), (3, &b"b1"[..]));
    })
    .await;
}

/// One MSG or HMSG from a raw client: (reply-to subject it arrived on, header block, payload).
/// JSON payloads and header blocks here hold no bare `\n` inside a line, so lines suffice.
fn read_msg(c: &mut common::RawClient) -> (String, String, String) {
    let mut line = c.read_line();
    // nats-server pings a new client once to measure its RTT; answer and read on.
    while line == "PING\r\n" {
        c.send(b"PONG\r\n");
        line = c.read_line();
    }
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.first().copied() {
        Some("MSG") => {
            let payload = c.read_line();
            (
                parts[1].to_string(),
                String::new(),
                payload.trim_end().to_string(),
            )
        }
        Some("HMSG") => {
            let mut headers = String::new();
            loop {
                let h = c.read_line();
                let end = h == "\r\n";
                headers.push_str(&h);
                if end {
                    break;
                }
            }
            let payload = c.read_line();
            (
                parts[1].to_string(),
                headers,
                payload.trim_end().to_string(),
            )
        }
        _ => panic!("expected MSG or HMSG, got {line:?}"),
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// The pub-ack wire shapes every client parses: `{"stream","seq"}`, `"duplicate":true` on a
/// dedup hit, `{"error":{code,err_code,description},"stream","seq":0}` on a refusal, and the
/// 503 no-responders status when no stream captures the subject.
#[test]
fn raw_pub_acks_carry_stream_seq_duplicate_and_error_fields() {
    let js = start_js("js-raw");
    let mut c = js.server.raw();
    c.handshake(r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#);
    c.sync(b"SUB _R.> 1\r\n");
    let cfg = br#"{"name":"RAW","subjects":["raw.>"],"max_msgs":2,"discard":"new"}"#;
    c.send(format!("PUB $JS.API.STREAM.CREATE.RAW _R.c {}\r\n", cfg.len()).as_bytes());
    c.send(cfg);
    c.send(b"\r\n");
    let (reply, _, created) = read_msg(&mut c);
    assert_eq!(reply, "_R.c");
    let created = json(&created);
    assert_eq!(
        created["type"], "io.nats.jetstream.api.v1.stream_create_response",
        "{created}"
    );
    assert_eq!(created["config"]["subjects"][0], "raw.>");

    let hpub = |reply: &str, headers: &str, body: &str| {
        let hdr = format!("NATS/1.0\r\n{headers}\r\n");
        format!(
            "HPUB raw.x {reply} {} {}\r\n{hdr}{body}\r\n",
            hdr.len(),
            hdr.len() + body.len()
        )
    };
    c.send(hpub("_R.p1", "Nats-Msg-Id: a\r\n", "one").as_bytes());
    let (_, _, ack) = read_msg(&mut c);
    let ack = json(&ack);
    assert_eq!(ack, serde_json::json!({"stream":"RAW","seq":1}), "{ack}");

    c.send(hpub("_R.p2", "Nats-Msg-Id: a\r\n", "one").as_bytes());
    let (_, _, dup) = read_msg(&mut c);
    let dup = json(&dup);
    assert_eq!(
        dup,
        serde_json::json!({"stream":"RAW","seq":1,"duplicate":true}),
        "{dup}"
    );

    c.send(hpub("_R.p3", "Nats-Expected-Last-Sequence: 5\r\n", "two").as_bytes());
    let (_, _, wrong) = read_msg(&mut c);
    let wrong = json(&wrong);
    assert_eq!(
        wrong["error"],
        serde_json::json!({"code":400,"err_code":10071,"description":"wrong last sequence: 1"}),
        "{wrong}"
    );

    c.send(b"PUB raw.x _R.p4 3\r\ntwo\r\nPUB raw.x _R.p5 5\r\nthree\r\n");
    let (_, _, second) = read_msg(&mut c);
    assert_eq!(json(&second)["seq"], 2, "{second}");
    let (_, _, full) = read_msg(&mut c);
    let full = json(&full);
    assert_eq!(
        full["error"],
        serde_json::json!({"code":503,"err_code":10077,"description":"maximum messages exceeded"}),
        "{full}"
    );

    c.send(b"PUB nostream.x _R.p6 1\r\nx\r\n");
    let (reply, headers, body) = read_msg(&mut c);
    assert_eq!(reply, "_R.p6");
    assert!(headers.starts_with("NATS/1.0 503"), "{headers:?}");
    assert!(body.is_empty(), "{body:?}");
}
