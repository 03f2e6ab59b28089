//! JetStream consumers through async-nats (issue 11), part 2: ack policies none and all; the
//! six deliver policies; `filter_subject` and `filter_subjects`; workqueue and interest
//! retention; two pullers sharing one durable; push consumers with a deliver subject and with
//! a deliver group; ephemeral consumers. Part 1 (create, fetch, acks, redelivery) is
//! `jetstream_consumers.rs`; the helpers are in `consumer_util/`.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix, or nats-server with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`), so each expectation was first seen on nats-server
//! 2.15.1. Acks whose effect a test then checks are double acks. Each body is bounded by
//! `TEST_MAX`.

mod common;
mod consumer_util;

use consumer_util::*;

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

/// A push consumer sends a backlog in bounded rounds; the next round must come without an
/// ack or a publish to start it (natrix-bench `jsredeliver` found natrix stopping after a
/// few rounds of 1024 until the first ack-wait deadline, here 30 s).
#[tokio::test]
async fn push_consumer_sends_a_long_backlog_without_acks_to_drive_it() {
    const MESSAGES: usize = 10_000;
    let js = start_js("cons-push-backlog");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let mut stream = create_stream(&ctx, "PB", &["pb.>"], RetentionPolicy::Limits).await;
        for _ in 0..MESSAGES {
            client.publish("pb.x", "m".into()).await.expect("publish");
        }
        client.flush().await.expect("flush");
        let filled = Instant::now();
        while stream.info().await.expect("stream info").state.messages < MESSAGES as u64 {
            assert!(filled.elapsed() < ARRIVAL_MAX, "the stream fills");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut deliveries = client.subscribe("dlv.pb").await.expect("subscribe");
        client.flush().await.expect("flush");
        stream
            .create_consumer(push::Config {
                durable_name: Some("pb".into()),
                deliver_subject: "dlv.pb".into(),
                ack_wait: Duration::from_secs(30),
                max_ack_pending: -1,
                ..Default::default()
            })
            .await
            .expect("create push consumer");
        let mut got = 0;
        while got < MESSAGES {
            tokio::time::timeout(ARRIVAL_MAX, deliveries.next())
                .await
                .unwrap_or_else(|_| panic!("{got} of {MESSAGES} delivered, then nothing"))
                .expect("subscription open");
            got += 1;
        }
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

/// A publish without a reply subject (a core `PUB`, as `nats pub` sends) is stored, written
/// and delivered at the end of its batch like an acknowledged one (natrix left it in RAM,
/// undelivered, until something else committed).
#[tokio::test]
async fn a_publish_without_reply_reaches_a_waiting_pull_request() {
    let js = start_js("cons-noreply");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "CORE", &["core.>"], RetentionPolicy::Limits).await;
        let mut c = durable(&stream, "c", pull::Config::default()).await;
        let mut batch = c
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .expect("pull request");
        // Once INFO shows the request waiting, the server is done with every request before
        // the publish, so nothing else commits the batch the publish lands in.
        while info(&mut c).await.num_waiting == 0 {
            tokio::task::yield_now().await;
        }
        client
            .publish("core.x", "no reply".into())
            .await
            .expect("publish");
        client.flush().await.expect("flush");
        let m = tokio::time::timeout(ARRIVAL_MAX, batch.next())
            .await
            .expect("the message arrives without another publish or API call")
            .expect("a message")
            .expect("not an error");
        assert_eq!(&m.payload[..], b"no reply");
        assert_eq!(meta(&m), (1, 1, 1));
    })
    .await;
}
