//! Push flow control, `rate_limit_bps`, `replay_policy: original` and `sample_freq`
//! (issue 11, points 3 and 5): the flow-control request and stalled heartbeat byte for byte on
//! a raw socket, delivery stopping until the request is answered (from another connection,
//! so on natrix possibly another shard) and going on after; async-nats receiving megabytes
//! through flow control; pacing by rate and by stored timestamps, as bounds; the ack metric
//! advisory's fields.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix with 2 shards, or
//! nats-server with `NATRIX_TEST_AGAINST_REFERENCE=1`), and each expectation was first seen
//! on nats-server 2.15.1. Each body is bounded by `TEST_MAX`.

mod common;
mod consumer_util;

use common::frames::{Frame, RawConn};
use common::procs::TempDir;
use consumer_util::*;

/// Stored messages of the raw flow-control test and their payload size.
const FC_MESSAGES: usize = 40;
const FC_PAYLOAD_BYTES: usize = 100_000;
/// With these, nats-server 2.15.1 sends its first request after the 11th message (past half
/// of its 2 MiB first window) and stops after the 21st (past all of it).
const FC_REQUEST_AFTER: usize = 11;
const FC_STALLED_AFTER: usize = 21;

fn is_fc_reply(s: &str) -> bool {
    s.strip_prefix("$JS.FC.S.c.")
        .is_some_and(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[test]
fn flow_control_requests_stall_delivery_until_answered_from_another_connection() {
    let store = TempDir::new("fc-raw");
    let server = common::procs::Server::start_jetstream(2, &store.path, &[]);
    let mut a = RawConn::open(&server.addr(), ARRIVAL_MAX);
    let r = a.api(
        "$JS.API.STREAM.CREATE.S",
        &json!({"name": "S", "subjects": ["s.>"]}),
        ARRIVAL_MAX,
    );
    assert!(r.get("error").is_none(), "{r}");
    let payload = "x".repeat(FC_PAYLOAD_BYTES);
    for _ in 0..FC_MESSAGES {
        a.send(&format!(
            "PUB s.a _R.pub {FC_PAYLOAD_BYTES}\r\n{payload}\r\n"
        ));
    }
    let mut acks = 0;
    while acks < FC_MESSAGES {
        match a.frame(ARRIVAL_MAX) {
            Some(f) if f.subject() == "_R.pub" => acks += 1,
            Some(_) => {}
            None => panic!("only {acks} publish acks"),
        }
    }
    let r = a.api(
        "$JS.API.CONSUMER.CREATE.S.c",
        &json!({"stream_name": "S", "config": {"durable_name": "c", "deliver_subject": "d",
            "ack_policy": "none", "flow_control": true, "idle_heartbeat": 1_000_000_000u64}}),
        ARRIVAL_MAX,
    );
    assert!(r.get("error").is_none(), "{r}");
    a.send("SUB d 1\r\n");

    // Everything until delivery stops: messages and one flow-control request.
    let mut msgs = 0;
    let mut request: Option<(usize, Frame)> = None;
    let started = Instant::now();
    while msgs < FC_STALLED_AFTER && started.elapsed() < ARRIVAL_MAX {
        let Some(f) = a.frame(ARRIVAL_MAX) else { break };
        match f.subject() {
            "s.a" => msgs += 1,
            "d" => {
                assert!(request.is_none(), "a second request: {}", f.raw_text());
                request = Some((msgs, f));
            }
            _ => panic!("unexpected {}", f.raw_text()),
        }
    }
    let (after, req) = request.expect("a flow-control request");
    assert_eq!((after, msgs), (FC_REQUEST_AFTER, FC_STALLED_AFTER));
    let fc = req
        .reply()
        .expect("the request has a reply subject")
        .to_string();
    assert!(is_fc_reply(&fc), "{fc}");
    assert_eq!(
        req.raw_text(),
        format!("HMSG d 1 {fc} 36 36\r\nNATS/1.0 100 FlowControl Request\r\n\r\n\r\n")
    );

    // Stalled: no message for a while, and the heartbeat names the request.
    let quiet_until = Instant::now() + Duration::from_millis(1500);
    let mut heartbeats = Vec::new();
    while let Some(f) = a.frame(quiet_until.saturating_duration_since(Instant::now())) {
        assert_eq!(
            f.subject(),
            "d",
            "nothing delivered while stalled: {}",
            f.raw_text()
        );
        heartbeats.push(f.raw_text());
    }
    let block = format!(
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {n}\r\nNats-Last-Stream: {n}\r\n\
         Nats-Consumer-Stalled: {fc}\r\n\r\n",
        n = FC_STALLED_AFTER
    );
    let hb = format!("HMSG d 1 {len} {len}\r\n{block}\r\n", len = block.len());
    assert!(!heartbeats.is_empty(), "a heartbeat while stalled");
    assert!(heartbeats.iter().all(|h| *h == hb), "{heartbeats:?}");

    // A stale answer changes nothing; the answer (from another connection) resumes.
    let mut b = RawConn::open(&server.addr(), ARRIVAL_MAX);
    b.send("PUB $JS.FC.S.c.zzzz 0\r\n\r\n");
    b.ping(ARRIVAL_MAX);
    assert!(
        a.frame(Duration::from_millis(300))
            .is_none_or(|f| f.subject() == "d" && f.reply().is_none()),
        "a wrong answer releases nothing"
    );
    b.send(&format!("PUB {fc} 0\r\n\r\n"));
    b.ping(ARRIVAL_MAX);
    let mut rest = Vec::new();
    let deadline = Instant::now() + ARRIVAL_MAX;
    while msgs < FC_MESSAGES {
        assert!(
            Instant::now() < deadline,
            "delivery resumed with only {msgs} messages"
        );
        let f = a
            .frame(ARRIVAL_MAX)
            .expect("delivery resumes after the answer");
        if f.subject() == "s.a" {
            msgs += 1;
            rest.push(f.reply().map(str::to_string).unwrap_or_default());
        }
    }
    let seqs: Vec<u64> = rest
        .iter()
        .map(|r| {
            r.split('.')
                .nth(5)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    let want: Vec<u64> = (FC_STALLED_AFTER as u64 + 1..=FC_MESSAGES as u64).collect();
    assert_eq!(seqs, want);
}

#[tokio::test]
async fn async_nats_gets_megabytes_through_flow_control_without_a_stall() {
    const MESSAGES: usize = 100;
    let js = start_js("fc-async");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "FC", &["fc.>"], RetentionPolicy::Limits).await;
        let big = "y".repeat(FC_PAYLOAD_BYTES);
        for _ in 0..MESSAGES {
            publish(&ctx, "fc.x", &big).await;
        }
        let c: jetstream::consumer::PushConsumer = stream
            .create_consumer(push::Config {
                durable_name: Some("f".into()),
                deliver_subject: "dlv.f".into(),
                ack_policy: AckPolicy::None,
                flow_control: true,
                idle_heartbeat: Duration::from_secs(1),
                ..Default::default()
            })
            .await
            .expect("create push consumer with flow control");
        let mut messages = c.messages().await.expect("subscribe");
        let started = Instant::now();
        let mut seqs = Vec::new();
        while seqs.len() < MESSAGES {
            let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
                .await
                .unwrap_or_else(|_| panic!("stalled after {} messages", seqs.len()))
                .expect("subscription open")
                .expect("a message");
            assert_eq!(m.payload.len(), FC_PAYLOAD_BYTES);
            seqs.push(meta(&m).0);
        }
        assert_eq!(seqs, (1..=MESSAGES as u64).collect::<Vec<_>>());
        // 10 MB through a 2 MiB first window: answered requests, not heartbeats, moved it.
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn rate_limit_bps_paces_a_push_consumer() {
    const MESSAGES: usize = 100;
    const PAYLOAD_BYTES: usize = 1000;
    let js = start_js("fc-rate");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        // The limiter's burst is the stream's max_msg_size (else max_payload, 1 MB).
        let stream = ctx
            .create_stream(Config {
                name: "RL".into(),
                subjects: vec!["rl.>".into()],
                max_message_size: 2048,
                ..Default::default()
            })
            .await
            .expect("create stream");
        let body = "r".repeat(PAYLOAD_BYTES);
        for _ in 0..MESSAGES {
            publish(&ctx, "rl.x", &body).await;
        }
        // async-nats 0.38 wrote `rate_limit` where the API field is `rate_limit_bps`; 0.47 and
        // later write `rate_limit_bps`, so the typed config reaches the server.
        let c: jetstream::consumer::PushConsumer = stream
            .create_consumer(push::Config {
                durable_name: Some("r".into()),
                deliver_subject: "dlv.r".into(),
                ack_policy: AckPolicy::None,
                rate_limit: 400_000,
                ..Default::default()
            })
            .await
            .expect("create push consumer with rate_limit_bps");
        let info = api(&client, "$JS.API.CONSUMER.INFO.RL.r", json!({})).await;
        assert_eq!(info["config"]["rate_limit_bps"], 400_000, "{info}");
        let mut messages = c.messages().await.expect("subscribe");
        let mut first = None;
        for i in 0..MESSAGES {
            tokio::time::timeout(Duration::from_secs(8), messages.next())
                .await
                .unwrap_or_else(|_| panic!("message {i} did not come"))
                .expect("subscription open")
                .expect("a message");
            first.get_or_insert_with(Instant::now);
        }
        let took = first.expect("messages came").elapsed();
        // ~104 kB at 50 kB/s less one 2 kB burst: about 2 s. A bound, not a timing.
        assert!(took >= Duration::from_millis(1500), "took only {took:?}");
        assert!(took <= Duration::from_secs(8), "took {took:?}");
    })
    .await;
}

#[tokio::test]
async fn replay_original_keeps_the_gaps_between_stored_messages() {
    let js = start_js("fc-replay");
    bounded(async {
        let (_client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "RP", &["rp.>"], RetentionPolicy::Limits).await;
        publish(&ctx, "rp.x", "0").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        publish(&ctx, "rp.x", "1").await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        publish(&ctx, "rp.x", "2").await;
        let c: jetstream::consumer::PushConsumer = stream
            .create_consumer(push::Config {
                durable_name: Some("o".into()),
                deliver_subject: "dlv.o".into(),
                ack_policy: AckPolicy::None,
                replay_policy: consumer::ReplayPolicy::Original,
                ..Default::default()
            })
            .await
            .expect("create push consumer replaying original");
        let mut messages = c.messages().await.expect("subscribe");
        let mut when = Vec::new();
        for _ in 0..3 {
            let m = tokio::time::timeout(ARRIVAL_MAX, messages.next())
                .await
                .expect("replayed in time")
                .expect("subscription open")
                .expect("a message");
            when.push((
                String::from_utf8_lossy(&m.payload).into_owned(),
                Instant::now(),
            ));
        }
        let names: Vec<&str> = when.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["0", "1", "2"]);
        let gap1 = when[1].1 - when[0].1;
        let gap2 = when[2].1 - when[1].1;
        assert!(
            gap1 >= Duration::from_millis(250) && gap1 <= Duration::from_millis(1000),
            "first gap {gap1:?} (stored 300 ms apart)"
        );
        assert!(
            gap2 >= Duration::from_millis(500) && gap2 <= Duration::from_millis(1500),
            "second gap {gap2:?} (stored 600 ms apart)"
        );
    })
    .await;
}

#[tokio::test]
async fn sample_freq_100_sends_one_ack_metric_per_ack() {
    let js = start_js("fc-sample");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let stream = create_stream(&ctx, "SM", &["sm.>"], RetentionPolicy::Limits).await;
        for i in 1..=3 {
            publish(&ctx, "sm.x", &format!("m{i}")).await;
        }
        let mut metrics = client
            .subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.SM.>")
            .await
            .expect("subscribe metrics");
        client.flush().await.expect("flush");
        let sampled = durable(
            &stream,
            "s",
            pull::Config {
                sample_frequency: 100,
                ..Default::default()
            },
        )
        .await;
        let quiet = durable(&stream, "q", pull::Config::default()).await;
        for m in fetch_now(&quiet, 3).await {
            ack_confirmed(&m).await;
        }
        let got = fetch_now(&sampled, 3).await;
        assert_eq!(stream_seqs(&got), [1, 2, 3]);
        tokio::time::sleep(Duration::from_millis(50)).await;
        for m in &got {
            ack_confirmed(m).await;
        }
        for want in 1..=3u64 {
            let m = tokio::time::timeout(ARRIVAL_MAX, metrics.next())
                .await
                .expect("a metric per ack")
                .expect("subscription open");
            assert_eq!(m.subject.as_str(), "$JS.EVENT.METRIC.CONSUMER.ACK.SM.s");
            let v: Value = serde_json::from_slice(&m.payload).expect("metric JSON");
            assert_eq!(v["type"], "io.nats.jetstream.metric.v1.consumer_ack");
            assert_eq!(
                (v["stream"].as_str(), v["consumer"].as_str()),
                (Some("SM"), Some("s"))
            );
            assert_eq!(v["stream_seq"].as_u64(), Some(want), "{v}");
            assert_eq!(v["consumer_seq"].as_u64(), Some(want), "{v}");
            assert_eq!(v["deliveries"].as_u64(), Some(1), "{v}");
            let ack_time = v["ack_time"].as_i64().expect("ack_time in ns");
            assert!(
                (40_000_000..5_000_000_000).contains(&ack_time),
                "ack_time {ack_time} ns: the acks came 50 ms or more after delivery"
            );
            assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
            assert!(
                v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
                "{v}"
            );
        }
        let more = tokio::time::timeout(Duration::from_millis(300), metrics.next()).await;
        assert!(
            more.is_err(),
            "no metric for the unsampled consumer: {more:?}"
        );
    })
    .await;
}
