//! JetStream consumers through async-nats (issue 11), part 1: pull consumer create / info /
//! names / list / delete and create idempotence; fetch with batch, expires and no_wait; a pull
//! request waiting across a publish; ack, nak (with and without a delay), term, in-progress,
//! the double ack, acks from another connection; ack-wait redelivery, `max_deliver` with its
//! advisory, backoff and `max_ack_pending`. Part 2 (ack and deliver policies, filters,
//! retention, sharing, push) is `jetstream_consumer_delivery.rs`; the helpers are in
//! `consumer_util/`. The consumer info numbers (`delivered`, `ack_floor`, `num_ack_pending`,
//! `num_redelivered`, `num_pending`, `num_waiting`) are checked after the steps that move them.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix, or nats-server with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`), so each expectation was first seen on nats-server
//! 2.15.1. Acks whose effect a test then checks are sent as double acks (the server confirms
//! them), so no check races an ack still in flight. Each body is bounded by `TEST_MAX`.

mod common;
mod consumer_util;

use consumer_util::*;

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
