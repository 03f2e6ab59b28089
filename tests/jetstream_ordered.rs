//! Ordered consumers and Key-Value as async-nats builds them (issue 11.5): an ordered push
//! consumer (ephemeral, flow control, heartbeats, recreated on a gap) and an ordered pull
//! consumer read a stream in order with dense consumer sequences; an ordered pull consumer
//! deleted under its reader comes back as `{name}_1` (async-nats 0.51+) without loss or
//! repeats; a KV bucket's put, get, history and watch. Each test runs against natrix (2
//! shards) or, with `NATRIX_TEST_AGAINST_REFERENCE=1`, nats-server 2.15.1.

mod common;
mod consumer_util;

use consumer_util::*;

const MESSAGES: usize = 200;

async fn filled(ctx: &jetstream::Context, name: &str, subject: &str) -> Stream {
    let stream = create_stream(
        ctx,
        name,
        &[&format!("{subject}.>")],
        RetentionPolicy::Limits,
    )
    .await;
    for i in 0..MESSAGES {
        publish(ctx, &format!("{subject}.{}", i % 7), &format!("m{i}")).await;
    }
    stream
}

#[tokio::test]
async fn an_ordered_push_consumer_reads_every_message_in_order() {
    let js = start_js("ordered-push");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = filled(&ctx, "OP", "op").await;
        let c: consumer::OrderedPushConsumer = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: client.new_inbox(),
                ..Default::default()
            })
            .await
            .expect("ordered push consumer");
        let mut messages = c.messages().await.expect("messages");
        let mut got = Vec::new();
        while got.len() < MESSAGES {
            let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
                .await
                .expect("the next message in time")
                .expect("stream open")
                .expect("a message");
            let info = m.info().expect("ack subject parses");
            assert_eq!(info.stream_sequence as usize, got.len() + 1);
            assert_eq!(info.consumer_sequence as usize, got.len() + 1, "dense");
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
        assert_eq!(got[0], "m0");
        assert_eq!(got[MESSAGES - 1], format!("m{}", MESSAGES - 1));
        // A live message after the backlog.
        publish(&ctx, "op.live", "live").await;
        let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
            .await
            .expect("live message in time")
            .expect("stream open")
            .expect("a message");
        assert_eq!(&m.payload[..], b"live");
    })
    .await;
}

#[tokio::test]
async fn an_ordered_pull_consumer_reads_a_filtered_subject_in_order() {
    let js = start_js("ordered-pull");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = filled(&ctx, "OL", "ol").await;
        let c: consumer::OrderedPullConsumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: "ol.3".into(),
                ..Default::default()
            })
            .await
            .expect("ordered pull consumer");
        let want = (0..MESSAGES).filter(|i| i % 7 == 3).count();
        let mut messages = c.messages().await.expect("messages");
        let mut seqs = Vec::new();
        while seqs.len() < want {
            let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
                .await
                .expect("the next message in time")
                .expect("stream open")
                .expect("a message");
            assert_eq!(m.subject.as_str(), "ol.3");
            seqs.push(m.info().expect("info").stream_sequence);
        }
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
        assert_eq!(seqs[0], 4);
    })
    .await;
}

async fn next_seq(messages: &mut consumer::pull::Ordered) -> u64 {
    tokio::time::timeout(ARRIVAL_MAX, messages.next())
        .await
        .expect("the next message in time")
        .expect("stream open")
        .expect("a message")
        .info()
        .expect("info")
        .stream_sequence
}

/// async-nats 0.51+ names a recreated ordered consumer `{first}_{n}` (and deletes the one
/// before, here already gone): a consumer deleted under the reader is recreated from the next
/// stream sequence, with nothing lost or repeated, and is then the stream's only consumer.
#[tokio::test]
async fn an_ordered_pull_consumer_deleted_under_it_is_recreated_as_name_1() {
    let js = start_js("ordered-recreate");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = filled(&ctx, "OR", "or").await;
        let mut c: consumer::OrderedPullConsumer = stream
            .create_consumer(pull::OrderedConfig::default())
            .await
            .expect("ordered pull consumer");
        let first = c.info().await.expect("consumer info").name.clone();
        let mut messages = c.messages().await.expect("messages");
        let mut seqs = Vec::new();
        while seqs.len() < 50 {
            seqs.push(next_seq(&mut messages).await);
        }
        let r = api(
            &client,
            &format!("$JS.API.CONSUMER.DELETE.OR.{first}"),
            json!({}),
        )
        .await;
        assert_eq!(r["success"], true, "{r}");
        while seqs.len() < MESSAGES {
            seqs.push(next_seq(&mut messages).await);
        }
        // What the old consumer had already sent may cover the backlog: a live message can
        // come only through the recreated one.
        publish(&ctx, "or.live", "live").await;
        seqs.push(next_seq(&mut messages).await);
        assert_eq!(seqs, (1..=MESSAGES as u64 + 1).collect::<Vec<_>>());
        let names = api(&client, "$JS.API.CONSUMER.NAMES.OR", json!({})).await;
        assert_eq!(names["consumers"], json!([format!("{first}_1")]), "{names}");
    })
    .await;
}

#[tokio::test]
async fn a_kv_bucket_puts_gets_keeps_history_and_watches() {
    let js = start_js("kv");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let kv = ctx
            .create_key_value(jetstream::kv::Config {
                bucket: "CFG".into(),
                history: 3,
                ..Default::default()
            })
            .await
            .expect("create bucket");
        let r1 = kv.put("color", "red".into()).await.expect("put");
        let r2 = kv.put("color", "green".into()).await.expect("put");
        assert_eq!(r2, r1 + 1);
        assert_eq!(
            kv.get("color").await.expect("get").as_deref(),
            Some(&b"green"[..])
        );
        assert!(
            kv.update("color", "blue".into(), r1).await.is_err(),
            "stale revision"
        );
        kv.update("color", "blue".into(), r2)
            .await
            .expect("update at the revision");
        let mut history = kv.history("color").await.expect("history");
        let mut values = Vec::new();
        while let Some(e) = tokio::time::timeout(ARRIVAL_MAX, history.next())
            .await
            .expect("history in time")
        {
            values.push(String::from_utf8_lossy(&e.expect("entry").value).into_owned());
        }
        assert_eq!(values, ["red", "green", "blue"]);
        let mut watch = kv.watch("color").await.expect("watch");
        kv.put("color", "black".into()).await.expect("put");
        let e = tokio::time::timeout(ARRIVAL_MAX, watch.next())
            .await
            .expect("watch entry in time")
            .expect("watch open")
            .expect("entry");
        assert_eq!(&e.value[..], b"black");
        kv.delete("color").await.expect("delete");
        assert_eq!(kv.get("color").await.expect("get"), None);
    })
    .await;
}
