//! Flow control, rate and replay pacing and ack sampling: the pieces alone, then through the
//! engine with explicit time (helpers from `consumers_tests.rs`).

use super::*;
use crate::jetstream::consumers::tests::{at, consumer, fire, open, sent, stream};

/// What nats-server counts for one 100 000-byte message to deliver subject `d` with a
/// `$JS.ACK.S.c.…` reply of 45 bytes, as in the capture the thresholds below come from.
const MSG_BYTES: u64 = 1 + 45 + 100_000;

#[test]
fn flow_control_asks_past_half_the_window_and_stalls_past_all_of_it() {
    let mut fc = FlowControl::default();
    assert_eq!(fc.window_bytes, 2 * 1024 * 1024);
    let mut asked = None;
    let mut n = 0;
    while !fc.stalled() {
        n += 1;
        if let Some(r) = fc.delivered(MSG_BYTES, "S", "c") {
            assert!(asked.is_none(), "one request outstanding at a time");
            asked = Some((n, r));
        }
    }
    // nats-server 2.15.1 sent the request after the 11th such message and stopped at 21.
    let (at_n, reply) = asked.expect("a request was sent");
    assert_eq!((at_n, n), (11, 21));
    assert!(reply.starts_with("$JS.FC.S.c.") && reply.len() == "$JS.FC.S.c.".len() + 4);
    assert!(
        !fc.answered(b"$JS.FC.S.c.zzzz"),
        "a stale answer releases nothing"
    );
    assert!(fc.stalled());
    assert!(fc.answered(reply.as_bytes()));
    assert_eq!(
        fc.window_bytes,
        4 * 1024 * 1024,
        "each answer doubles the window"
    );
    assert_eq!(
        fc.pending_bytes,
        10 * MSG_BYTES,
        "what was sent after the request stays"
    );
    assert!(fc.request.is_none() && !fc.stalled());
    let mut fc = FlowControl {
        window_bytes: FLOW_CONTROL_WINDOW_MAX_BYTES,
        ..FlowControl::default()
    };
    let r = loop {
        if let Some(r) = fc.delivered(MSG_BYTES, "S", "c") {
            break r;
        }
    };
    assert!(fc.answered(r.as_bytes()));
    assert_eq!(
        fc.window_bytes, FLOW_CONTROL_WINDOW_MAX_BYTES,
        "never past 32 MiB"
    );
}

#[test]
fn rate_limit_lets_a_full_bucket_go_then_paces_by_the_rate() {
    // 8000 bit/s = 1000 B/s, burst 1000 B.
    let mut r = RateLimit::new(8000, 1000);
    assert_eq!(r.wait_ms(500, 0), 0);
    r.take(500, 0);
    assert_eq!(r.wait_ms(500, 0), 0);
    r.take(500, 0);
    assert_eq!(
        r.wait_ms(500, 0),
        500,
        "the bucket is empty: 500 B take 0.5 s"
    );
    assert_eq!(r.wait_ms(500, 200), 300);
    assert_eq!(r.wait_ms(500, 500), 0);
    r.take(500, 500);
    // Idle long enough, the bucket is full again, never fuller.
    assert_eq!(r.wait_ms(1000, 10_000), 0);
    r.take(1000, 10_000);
    assert_eq!(r.wait_ms(1, 10_000), 1);
    assert_eq!(
        r.wait_ms(5000, 10_000),
        1000,
        "bigger than the burst: a full bucket"
    );
}

#[test]
fn replay_waits_for_the_gap_between_stored_timestamps() {
    let mut r = Replay::default();
    assert_eq!(r.wait_ms(5_000_000_000, 100), 0, "the first goes at once");
    r.delivered(5_000_000_000, 100);
    assert_eq!(r.wait_ms(5_250_000_000, 100), 250);
    assert_eq!(r.wait_ms(5_250_000_000, 300), 50);
    assert_eq!(
        r.wait_ms(5_000_500_000, 100),
        0,
        "gaps up to 1 ms are not waited for"
    );
    assert_eq!(
        r.wait_ms(4_000_000_000, 100),
        0,
        "an older one (a redelivery) goes"
    );
}

#[test]
fn sample_freq_reads_both_forms_and_heartbeats_name_the_stall() {
    assert_eq!(
        (sample_pct("30%"), sample_pct("30"), sample_pct("")),
        (30, 30, 0)
    );
    assert_eq!((sample_pct("100%"), sample_pct("250")), (100, 100));
    let hb = stalled_heartbeat(
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 21\r\nNats-Last-Stream: 21\r\n\r\n"
            .to_vec(),
        "$JS.FC.S.c.XAZT",
    );
    // Byte for byte as nats-server 2.15.1 sent it.
    assert_eq!(
        hb,
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 21\r\nNats-Last-Stream: 21\r\n\
          Nats-Consumer-Stalled: $JS.FC.S.c.XAZT\r\n\r\n"
    );
}

fn publish_at(a: &mut AccountStreams, subject: &str, size: usize, ts_ns: i64) {
    a.publish("S", subject, b"", &vec![b'x'; size], ts_ns)
        .unwrap();
    assert!(a.commit());
}

#[test]
fn a_flow_controlled_push_consumer_stalls_until_the_request_is_answered() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    for _ in 0..40 {
        publish_at(&mut a, "s.a", 100_000, 1);
    }
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"c","deliver_subject":"d","ack_policy":"none",
            "flow_control":true,"idle_heartbeat":1000000000}"#,
    );
    a.set_push_active("S", "c", true, at(1));
    let out = std::mem::take(&mut a.outbox);
    let msgs = out.iter().filter(|o| o.subject == b"s.a").count();
    let fc: Vec<&Out> = out
        .iter()
        .filter(|o| o.reply.starts_with(b"$JS.FC."))
        .collect();
    assert_eq!(
        (msgs, fc.len()),
        (21, 1),
        "stalled after 21, one request after 11"
    );
    let r = &out[11];
    assert_eq!((&r.to[..], &r.subject[..]), (&b"d"[..], &b"d"[..]));
    assert_eq!(r.headers, b"NATS/1.0 100 FlowControl Request\r\n\r\n");
    assert!(r.payload.is_empty());
    let reply = String::from_utf8(r.reply.clone()).unwrap();
    assert_eq!(
        a.streams["S"].consumers["c"].flow.outstanding(),
        Some(reply.as_str())
    );
    // A commit of new messages or a fired timer sends nothing more while stalled.
    a.deliver_stream("S", at(10));
    assert!(sent(&mut a).is_empty());
    fire(&mut a, 1100);
    let hb = std::mem::take(&mut a.outbox);
    assert_eq!(hb.len(), 1);
    let h = String::from_utf8_lossy(&hb[0].headers).into_owned();
    assert!(
        h.starts_with("NATS/1.0 100 Idle Heartbeat\r\n")
            && h.ends_with(&format!("Nats-Consumer-Stalled: {reply}\r\n\r\n")),
        "{h:?}"
    );
    assert!(!a.on_flow_control(b"$JS.FC.S.c.nope", at(1200)));
    assert!(!a.on_flow_control(b"$JS.FC.S", at(1200)));
    assert!(sent(&mut a).is_empty());
    assert!(a.on_flow_control(reply.as_bytes(), at(1200)));
    let more = sent(&mut a);
    assert_eq!(
        more.iter().filter(|o| o.1 == "s.a").count(),
        19,
        "the rest went"
    );
}

#[test]
fn rate_limit_paces_push_deliveries_on_the_wheel() {
    let mut a = open(None);
    // Burst = max_msg_size = 1000 B; 80 kbit/s = 10 000 B/s: each ~1 000 B message 0.1 s.
    stream(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"max_msg_size":1000}"#,
    );
    for _ in 0..10 {
        publish_at(&mut a, "s.a", 900, 1);
    }
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"c","deliver_subject":"d","ack_policy":"none","rate_limit_bps":80000}"#,
    );
    a.set_push_active("S", "c", true, at(0));
    assert_eq!(sent(&mut a).len(), 1, "a full bucket lets one message go");
    let mut total = 1;
    let mut at_ms = 0;
    while total < 10 && at_ms < 5_000 {
        at_ms += 10;
        fire(&mut a, at_ms);
        total += sent(&mut a).len();
    }
    assert_eq!(total, 10);
    // 9 more messages of about 950 B counted at 10 000 B/s.
    assert!((800..=1000).contains(&at_ms), "took {at_ms} ms");
    assert_eq!(a.wheel.borrow().len(), 0, "no timer left behind");
}

#[test]
fn replay_original_spaces_messages_as_they_were_stored_then_goes_instant() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    let t0 = 1_000_000_000_000;
    for (i, gap_ms) in [0i64, 200, 500].iter().enumerate() {
        publish_at(&mut a, &format!("s.{i}"), 10, t0 + gap_ms * 1_000_000);
    }
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"c","deliver_subject":"d","ack_policy":"none","replay_policy":"original"}"#,
    );
    a.set_push_active("S", "c", true, at(0));
    let first: Vec<String> = sent(&mut a).into_iter().map(|o| o.1).collect();
    assert_eq!(first, ["s.0"], "the first goes at once");
    let mut seen = Vec::new();
    for ms in (10..=1000).step_by(10) {
        fire(&mut a, ms);
        seen.extend(sent(&mut a).into_iter().map(|o| (o.1, ms)));
    }
    assert_eq!(seen, [("s.1".to_string(), 200), ("s.2".to_string(), 500)]);
    // Caught up: a new message goes at once.
    publish_at(&mut a, "s.3", 10, t0 + 60_000_000_000);
    a.deliver_stream("S", at(1010));
    assert_eq!(sent(&mut a).len(), 1);
}

#[test]
fn sample_freq_100_reports_each_explicit_ack_with_its_delivery() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    for _ in 0..2 {
        publish_at(&mut a, "s.a", 3, 1);
    }
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"c","ack_policy":"explicit","sample_freq":"100%"}"#,
    );
    assert!(a.pull("S", "c", b"in", br#"{"batch":2}"#, at(10)));
    let acks: Vec<String> = sent(&mut a).into_iter().map(|o| o.2).collect();
    assert_eq!(acks.len(), 2);
    a.on_ack(acks[1].as_bytes(), b"", b"+ACK", at(260));
    let out = std::mem::take(&mut a.outbox);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, "$JS.EVENT.METRIC.CONSUMER.ACK.S.c".as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.metric.v1.consumer_ack");
    assert_eq!(
        (v["stream"].as_str(), v["consumer"].as_str()),
        (Some("S"), Some("c"))
    );
    assert_eq!(
        (v["stream_seq"].as_u64(), v["consumer_seq"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(v["deliveries"], 1);
    assert_eq!(v["ack_time"], 250_000_000, "from the delivery to the ack");
    assert_eq!(v["id"].as_str().map(str::len), Some(22));
    assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    // Acking it again, a nak or a progress: nothing pending is acked, nothing reported.
    a.on_ack(acks[1].as_bytes(), b"", b"+ACK", at(270));
    a.on_ack(acks[0].as_bytes(), b"", b"+WPI", at(270));
    a.on_ack(acks[0].as_bytes(), b"", b"-NAK", at(270));
    assert!(a
        .outbox
        .iter()
        .all(|o| !o.subject.starts_with(b"$JS.EVENT")));
}

#[test]
fn no_sample_freq_reports_nothing() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    publish_at(&mut a, "s.a", 3, 1);
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"c","ack_policy":"explicit"}"#,
    );
    assert!(a.pull("S", "c", b"in", br#"{"batch":1}"#, at(10)));
    let acks: Vec<String> = sent(&mut a).into_iter().map(|o| o.2).collect();
    a.on_ack(acks[0].as_bytes(), b"", b"+ACK", at(20));
    assert!(a.outbox.is_empty());
}

#[test]
fn a_filtered_replay_ends_when_nothing_matching_is_left_and_not_on_max_ack_pending() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>","o.>"]}"#);
    let t0 = 1_000_000_000_000;
    publish_at(&mut a, "s.0", 10, t0);
    publish_at(&mut a, "s.1", 10, t0 + 200_000_000);
    publish_at(&mut a, "o.x", 10, t0 + 300_000_000);
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"c","deliver_subject":"d","ack_policy":"explicit",
            "max_ack_pending":1,"filter_subject":"s.>","replay_policy":"original"}"#,
    );
    a.set_push_active("S", "c", true, at(0));
    let first: Vec<String> = sent(&mut a).into_iter().map(|o| o.2).collect();
    assert_eq!(first.len(), 1);
    // Held by max_ack_pending, then acked at 500: the gap from the first delivery has
    // passed, so s.1 goes with the ack; replay is still on until nothing is left.
    fire(&mut a, 300);
    assert!(sent(&mut a).is_empty());
    a.on_ack(first[0].as_bytes(), b"", b"+ACK", at(500));
    a.deliver_ready(at(500));
    let second: Vec<String> = sent(&mut a).into_iter().map(|o| o.2).collect();
    assert_eq!(second.len(), 1);
    assert!(a.streams["S"].consumers["c"].flow.replay.is_some());
    a.on_ack(second[0].as_bytes(), b"", b"+ACK", at(510));
    a.deliver_ready(at(510));
    assert!(
        a.streams["S"].consumers["c"].flow.replay.is_none(),
        "o.x is not the consumer's: nothing is left to replay"
    );
    publish_at(&mut a, "s.2", 10, t0 + 60_000_000_000);
    a.deliver_stream("S", at(520));
    assert_eq!(sent(&mut a).len(), 1, "a new message goes at once");
}
