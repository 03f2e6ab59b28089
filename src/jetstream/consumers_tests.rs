//! The consumer engine over real streams (memory and file), driven with explicit time.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::jetstream::api::{self, ApiEnv, Response};
use crate::jetstream::consumer_spec::spec_from_config;
use crate::wheel::Wheel;

pub(crate) const T0_MS: u64 = 1_800_000_000_000;

pub(crate) fn at(ms: u64) -> Clock {
    Clock {
        ms: T0_MS + ms,
        ns: ((T0_MS + ms) * 1_000_000) as i64,
    }
}

use crate::test_dir::TempDir;

pub(crate) fn open(root: Option<std::path::PathBuf>) -> AccountStreams {
    let wheel = Rc::new(RefCell::new(Wheel::new(T0_MS)));
    AccountStreams::open(root, false, ApiEnv::new("2.15.1", 0), 0, wheel)
}

pub(crate) fn stream(a: &mut AccountStreams, config: &str) {
    let name = serde_json::from_str::<serde_json::Value>(config).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let mut env = a.env.clone();
    let r = api::handle(
        &format!("$JS.API.STREAM.CREATE.{name}"),
        "_INBOX.x",
        b"",
        config.as_bytes(),
        0,
        a,
        &mut env,
    );
    assert!(
        matches!(&r, Response::Json(j) if !String::from_utf8_lossy(j).contains("error")),
        "{r:?}"
    );
}

pub(crate) fn publish(a: &mut AccountStreams, stream: &str, subject: &str, data: &str) {
    a.publish(stream, subject, b"", data.as_bytes(), 1).unwrap();
    assert!(a.commit());
}

pub(crate) fn consumer(a: &mut AccountStreams, stream: &str, config: &str) {
    let spec = spec_from_config(config.as_bytes()).unwrap();
    a.start_consumer(stream, spec, config.as_bytes().to_vec(), at(0))
        .unwrap();
}

/// (target, subject, ack reply or status line) of everything sent.
pub(crate) fn sent(a: &mut AccountStreams) -> Vec<(String, String, String)> {
    std::mem::take(&mut a.outbox)
        .into_iter()
        .map(|o| {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let third = if o.reply.is_empty() {
                s(o.headers.split(|&b| b == b'\r').next().unwrap_or_default())
            } else {
                s(&o.reply)
            };
            (s(&o.to), s(&o.subject), third)
        })
        .collect()
}

pub(crate) fn fire(a: &mut AccountStreams, ms: u64) {
    let mut fired = Vec::new();
    a.wheel.borrow_mut().advance(T0_MS + ms, &mut fired);
    for t in fired {
        a.on_timer(t, at(ms));
    }
}

/// An ack, then what the shard does after the commit that follows it.
pub(crate) fn ack(a: &mut AccountStreams, reply: &str, payload: &str, ms: u64) -> AckResult {
    let r = a.on_ack(reply.as_bytes(), b"", payload.as_bytes(), at(ms));
    a.deliver_ready(at(ms));
    r
}

#[test]
fn a_pull_gets_its_batch_in_order_then_no_wait_ends_with_404() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    for i in 1..=3 {
        publish(&mut a, "S", &format!("s.{i}"), "x");
    }
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"d","ack_policy":"explicit"}"#,
    );
    assert!(a.pull("S", "d", b"in.1", br#"{"batch":2}"#, at(1)));
    let out = sent(&mut a);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0, "in.1");
    assert_eq!(out[0].1, "s.1");
    assert!(out[0].2.starts_with("$JS.ACK.S.d.1.1.1."), "{}", out[0].2);
    assert!(
        out[0].2.ends_with(".2"),
        "pending after the first: {}",
        out[0].2
    );
    assert!(out[1].2.starts_with("$JS.ACK.S.d.1.2.2."));
    assert!(out[1].2.ends_with(".1"));
    // no_wait with more wanted than there is: the rest, then 404.
    assert!(a.pull("S", "d", b"in.2", br#"{"batch":5,"no_wait":true}"#, at(2)));
    let out = sent(&mut a);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].1, "s.3");
    assert_eq!(
        out[1],
        (
            "in.2".into(),
            "in.2".into(),
            "NATS/1.0 404 No Messages".into()
        )
    );
    // Nothing deliverable at all: 404 at once.
    assert!(a.pull("S", "d", b"in.3", br#"{"batch":1,"no_wait":true}"#, at(3)));
    assert_eq!(sent(&mut a)[0].2, "NATS/1.0 404 No Messages");
    assert!(!a.pull("S", "nope", b"in.4", b"", at(3)));
}

#[test]
fn a_waiting_pull_gets_the_next_publish_and_expires_with_its_unfilled_counts() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    consumer(&mut a, "S", r#"{"durable_name":"d"}"#);
    assert!(a.pull(
        "S",
        "d",
        b"in.1",
        br#"{"batch":3,"expires":1000000000}"#,
        at(0)
    ));
    assert!(sent(&mut a).is_empty());
    publish(&mut a, "S", "s.a", "x");
    a.deliver_ready(at(10));
    let out = sent(&mut a);
    assert_eq!((out.len(), out[0].1.as_str()), (1, "s.a"));
    fire(&mut a, 999);
    assert!(sent(&mut a).is_empty(), "not expired before its time");
    fire(&mut a, 1000);
    let out = sent(&mut a);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].2, "NATS/1.0 408 Request Timeout");
    let o = a.outbox.len();
    assert_eq!(o, 0);
}

#[test]
fn ack_wait_redelivers_with_a_higher_count_and_an_ack_stops_it() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    publish(&mut a, "S", "s.a", "x");
    publish(&mut a, "S", "s.b", "y");
    consumer(&mut a, "S", r#"{"durable_name":"d","ack_wait":500000000}"#);
    a.pull(
        "S",
        "d",
        b"in",
        br#"{"batch":10,"expires":60000000000}"#,
        at(0),
    );
    let first = sent(&mut a);
    assert_eq!(first.len(), 2);
    assert!(matches!(
        ack(&mut a, &first[1].2, "+ACK", 100),
        AckResult::Done { .. }
    ));
    fire(&mut a, 499);
    assert!(sent(&mut a).is_empty());
    fire(&mut a, 500);
    let again = sent(&mut a);
    assert_eq!(
        again.len(),
        1,
        "only the unacked one comes again: {again:?}"
    );
    assert_eq!(again[0].1, "s.a");
    assert!(
        again[0].2.starts_with("$JS.ACK.S.d.2.1.3."),
        "{}",
        again[0].2
    );
    ack(&mut a, &again[0].2, "", 600);
    fire(&mut a, 5000);
    assert!(sent(&mut a).is_empty());
    let c = &a.streams["S"].consumers["d"];
    assert_eq!(c.state.ack_floor(), (2, 3));
    assert_eq!(c.state.num_ack_pending(), 0);
}

#[test]
fn a_deleted_streams_timers_do_not_reach_a_stream_made_again_under_its_name() {
    let mut a = open(None);
    let config = r#"{"name":"S","subjects":["s.>"]}"#;
    stream(&mut a, config);
    publish(&mut a, "S", "s.a", "x");
    consumer(&mut a, "S", r#"{"durable_name":"d","ack_wait":500000000}"#);
    a.pull("S", "d", b"in", br#"{"batch":1,"no_wait":true}"#, at(0));
    assert_eq!(sent(&mut a).len(), 1);
    let mut env = a.env.clone();
    let r = api::handle(
        "$JS.API.STREAM.DELETE.S",
        "_INBOX.x",
        b"",
        b"",
        0,
        &mut a,
        &mut env,
    );
    assert!(
        matches!(&r, Response::Json(j) if String::from_utf8_lossy(j).contains("\"success\":true")),
        "{r:?}"
    );
    assert!(a.consumer_ids.is_empty() && a.stream_ids.is_empty());
    stream(&mut a, config);
    publish(&mut a, "S", "s.b", "y");
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"d","ack_wait":60000000000}"#,
    );
    a.pull("S", "d", b"in", br#"{"batch":1,"no_wait":true}"#, at(100));
    assert_eq!(sent(&mut a).len(), 1);
    fire(&mut a, 600);
    assert!(
        sent(&mut a).is_empty(),
        "the old consumer's 500 ms ack wait must not redeliver the new one's message"
    );
    assert_eq!(
        a.streams["S"].consumers["d"].state.num_redelivery_queued(),
        0
    );
}

#[test]
fn nak_redelivers_at_once_and_term_never_again() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    publish(&mut a, "S", "s.a", "x");
    publish(&mut a, "S", "s.b", "y");
    consumer(&mut a, "S", r#"{"durable_name":"d","ack_wait":500000000}"#);
    a.pull(
        "S",
        "d",
        b"in",
        br#"{"batch":10,"expires":60000000000}"#,
        at(0),
    );
    let first = sent(&mut a);
    ack(&mut a, &first[0].2, "-NAK", 10);
    let again = sent(&mut a);
    assert_eq!(again.len(), 1);
    assert!(again[0].2.starts_with("$JS.ACK.S.d.2.1."));
    ack(&mut a, &first[1].2, "+TERM", 20);
    ack(&mut a, &again[0].2, "+TERM because", 20);
    let advisories = sent(&mut a);
    assert_eq!(advisories.len(), 2, "{advisories:?}");
    assert!(advisories
        .iter()
        .all(|o| o.0 == "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.d"));
    fire(&mut a, 10_000);
    assert!(sent(&mut a).is_empty());
    assert_eq!(a.streams["S"].consumers["d"].state.num_ack_pending(), 0);
}

#[test]
fn workqueue_acks_remove_messages_and_interest_waits_for_every_consumer() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"W","subjects":["w.>"],"retention":"workqueue"}"#,
    );
    publish(&mut a, "W", "w.1", "x");
    publish(&mut a, "W", "w.2", "x");
    consumer(&mut a, "W", r#"{"durable_name":"d"}"#);
    a.pull("W", "d", b"in", br#"{"batch":2}"#, at(0));
    let out = sent(&mut a);
    ack(&mut a, &out[0].2, "+ACK", 1);
    assert_eq!(a.streams["W"].log.borrow_mut().state().unwrap().msgs, 1);

    stream(
        &mut a,
        r#"{"name":"I","subjects":["i.>"],"retention":"interest"}"#,
    );
    consumer(&mut a, "I", r#"{"durable_name":"c1"}"#);
    consumer(&mut a, "I", r#"{"durable_name":"c2"}"#);
    publish(&mut a, "I", "i.1", "x");
    a.pull("I", "c1", b"in1", b"", at(0));
    a.pull("I", "c2", b"in2", b"", at(0));
    a.deliver_ready(at(0));
    let out = sent(&mut a);
    assert_eq!(out.len(), 2);
    ack(&mut a, &out[0].2, "+ACK", 1);
    assert_eq!(a.streams["I"].log.borrow_mut().state().unwrap().msgs, 1);
    ack(&mut a, &out[1].2, "+ACK", 1);
    assert_eq!(a.streams["I"].log.borrow_mut().state().unwrap().msgs, 0);
}

#[test]
fn plain_acks_free_room_that_is_filled_after_the_commit_all_at_once() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    for i in 0..6 {
        publish(&mut a, "S", &format!("s.{i}"), "x");
    }
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"p","deliver_subject":"d","ack_policy":"explicit","max_ack_pending":3}"#,
    );
    a.set_push_active("S", "p", true, at(0));
    let first = sent(&mut a);
    assert_eq!(first.len(), 3);
    for (_, _, reply) in &first {
        a.on_ack(reply.as_bytes(), b"", b"+ACK", at(1));
    }
    assert!(sent(&mut a).is_empty(), "nothing before the commit");
    assert!(a.wants_commit(), "the acks ask for one");
    a.deliver_ready(at(2));
    let more: Vec<String> = sent(&mut a).into_iter().map(|o| o.1).collect();
    assert_eq!(more, ["s.3", "s.4", "s.5"]);
    assert!(!a.wants_commit());
}

#[test]
fn max_ack_pending_stalls_new_deliveries_until_an_ack() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    for i in 0..5 {
        publish(&mut a, "S", &format!("s.{i}"), "x");
    }
    consumer(&mut a, "S", r#"{"durable_name":"d","max_ack_pending":2}"#);
    a.pull(
        "S",
        "d",
        b"in",
        br#"{"batch":5,"expires":60000000000}"#,
        at(0),
    );
    let out = sent(&mut a);
    assert_eq!(out.len(), 2);
    ack(&mut a, &out[0].2, "+ACK", 1);
    let more = sent(&mut a);
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].1, "s.2");
}

#[test]
fn deliver_policies_pick_their_start_and_filters_and_num_pending_agree() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    for subj in ["s.a", "s.b", "s.a", "s.c", "s.b"] {
        publish(&mut a, "S", subj, "x");
    }
    let first_subject = |a: &mut AccountStreams, cfg: &str, name: &str| {
        consumer(a, "S", cfg);
        let pending = a.streams["S"].consumers[name].num_pending(&**a.streams["S"].log.borrow());
        a.pull("S", name, b"in", br#"{"batch":10,"no_wait":true}"#, at(0));
        let out = sent(a);
        let subjects: Vec<String> = out
            .iter()
            .filter(|o| !o.2.starts_with("NATS/"))
            .map(|o| o.1.clone())
            .collect();
        (pending, subjects)
    };
    assert_eq!(
        first_subject(&mut a, r#"{"name":"all"}"#, "all"),
        (
            5,
            vec!["s.a", "s.b", "s.a", "s.c", "s.b"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(
        first_subject(&mut a, r#"{"name":"last","deliver_policy":"last"}"#, "last").1,
        vec!["s.b".to_string()]
    );
    assert_eq!(
        first_subject(&mut a, r#"{"name":"new","deliver_policy":"new"}"#, "new"),
        (0, vec![])
    );
    assert_eq!(
        first_subject(
            &mut a,
            r#"{"name":"seq","deliver_policy":"by_start_sequence","opt_start_seq":4}"#,
            "seq"
        ),
        (2, vec!["s.c".to_string(), "s.b".to_string()])
    );
    assert_eq!(
        first_subject(
            &mut a,
            r#"{"name":"lps","deliver_policy":"last_per_subject"}"#,
            "lps"
        ),
        (
            3,
            vec!["s.a".to_string(), "s.c".to_string(), "s.b".to_string()]
        )
    );
    assert_eq!(
        first_subject(
            &mut a,
            r#"{"name":"f","filter_subjects":["s.a","s.c"]}"#,
            "f"
        ),
        (
            3,
            vec!["s.a".to_string(), "s.a".to_string(), "s.c".to_string()]
        )
    );
}

#[test]
fn a_durable_comes_back_from_disk_with_acked_ones_gone_and_unacked_redelivered() {
    let dir = TempDir::new("consumers-durable");
    {
        let mut a = open(Some(dir.0.clone()));
        stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
        for i in 1..=4 {
            publish(&mut a, "S", &format!("s.{i}"), "x");
        }
        let cfg = r#"{"durable_name":"d","ack_wait":1000000000}"#;
        consumer(&mut a, "S", cfg);
        let c = &a.streams["S"].consumers["d"];
        a.persist_consumer_meta("S", c);
        a.pull("S", "d", b"in", br#"{"batch":3}"#, at(0));
        let out = sent(&mut a);
        ack(&mut a, &out[0].2, "+ACK", 1);
        ack(&mut a, &out[2].2, "+ACK", 1);
        assert!(a.persist_consumers());
    }
    let mut a = open(Some(dir.0.clone()));
    a.restore_consumers("S", at(2));
    let c = &a.streams["S"].consumers["d"];
    assert_eq!(c.state.delivered(), (3, 3));
    assert_eq!(c.state.num_ack_pending(), 1);
    // The unacked one comes again once its ack wait (counted from its delivery) is over,
    // before the never-delivered fourth.
    a.pull(
        "S",
        "d",
        b"in2",
        br#"{"batch":2,"expires":60000000000}"#,
        at(3),
    );
    let out = sent(&mut a);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, "s.4");
    fire(&mut a, 1000);
    let out = sent(&mut a);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1, "s.2");
    assert!(out[0].2.starts_with("$JS.ACK.S.d.2.2.5."), "{}", out[0].2);
}

#[test]
fn an_idle_ephemeral_goes_after_its_inactive_threshold_and_a_waiting_pull_keeps_it() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    consumer(
        &mut a,
        "S",
        r#"{"name":"e","inactive_threshold":1000000000}"#,
    );
    consumer(
        &mut a,
        "S",
        r#"{"name":"busy","inactive_threshold":1000000000}"#,
    );
    a.pull(
        "S",
        "busy",
        b"in",
        br#"{"batch":1,"expires":5000000000}"#,
        at(500),
    );
    fire(&mut a, 999);
    assert!(a.streams["S"].consumers.contains_key("e"));
    fire(&mut a, 1000);
    assert!(!a.streams["S"].consumers.contains_key("e"));
    assert!(
        a.streams["S"].consumers.contains_key("busy"),
        "its pull waits"
    );
    // The request expires at 5.5 s; a second later the consumer is gone too.
    fire(&mut a, 5500);
    assert_eq!(sent(&mut a)[0].2, "NATS/1.0 408 Request Timeout");
    fire(&mut a, 6400);
    assert!(a.streams["S"].consumers.contains_key("busy"));
    fire(&mut a, 6600);
    assert!(!a.streams["S"].consumers.contains_key("busy"));
}

#[test]
fn a_bound_push_consumer_gets_heartbeats_only_when_idle() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    consumer(
        &mut a,
        "S",
        r#"{"durable_name":"p","deliver_subject":"dlv","idle_heartbeat":1000000000}"#,
    );
    publish(&mut a, "S", "s.a", "x");
    a.deliver_ready(at(0));
    assert!(sent(&mut a).is_empty(), "nobody listens yet");
    a.set_push_active("S", "p", true, at(100));
    let out = sent(&mut a);
    assert_eq!(
        (out.len(), out[0].0.as_str(), out[0].1.as_str()),
        (1, "dlv", "s.a")
    );
    fire(&mut a, 1000);
    assert!(sent(&mut a).is_empty(), "a delivery 0.9 s ago");
    fire(&mut a, 1100);
    let hb = sent(&mut a);
    assert_eq!(hb.len(), 1);
    assert_eq!(hb[0].2, "NATS/1.0 100 Idle Heartbeat");
    a.set_push_active("S", "p", false, at(1200));
    fire(&mut a, 5000);
    assert!(sent(&mut a).is_empty(), "no heartbeats into the void");
}

#[test]
fn a_pull_with_a_byte_budget_ends_with_409_when_the_next_message_does_not_fit() {
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    publish(&mut a, "S", "s.a", "0123456789");
    publish(&mut a, "S", "s.b", "0123456789");
    consumer(&mut a, "S", r#"{"durable_name":"d"}"#);
    a.pull(
        "S",
        "d",
        b"in",
        br#"{"batch":5,"max_bytes":50,"expires":9000000000}"#,
        at(0),
    );
    let out = sent(&mut a);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].1, "s.a");
    assert_eq!(out[1].2, "NATS/1.0 409 Message Size Exceeds MaxBytes");
}

fn msgs(a: &AccountStreams, stream: &str) -> u64 {
    a.streams[stream].log.borrow_mut().state().unwrap().msgs
}

#[test]
fn a_message_ttl_and_max_age_take_messages_out_on_the_wheel() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"T","subjects":["t.>"],"allow_msg_ttl":true}"#,
    );
    let hdr = b"NATS/1.0\r\nNats-TTL: 2s\r\n\r\n";
    let ack = a.publish("T", "t.a", hdr, b"x", at(0).ns).unwrap().ack;
    assert!(
        !String::from_utf8_lossy(&ack).contains("error"),
        "{}",
        String::from_utf8_lossy(&ack)
    );
    a.publish("T", "t.b", b"", b"y", at(0).ns).unwrap();
    assert!(a.commit());
    fire(&mut a, 1999);
    assert_eq!(msgs(&a, "T"), 2);
    fire(&mut a, 2000);
    assert_eq!(msgs(&a, "T"), 1, "the one with a TTL went");
    assert!(a.wants_commit(), "the delete is written at the next commit");

    stream(
        &mut a,
        r#"{"name":"A","subjects":["a.>"],"max_age":1000000000}"#,
    );
    a.publish("A", "a.1", b"", b"x", at(3000).ns).unwrap();
    a.publish("A", "a.2", b"", b"x", at(3500).ns).unwrap();
    assert!(a.commit());
    fire(&mut a, 3999);
    assert_eq!(msgs(&a, "A"), 2);
    fire(&mut a, 4000);
    assert_eq!(msgs(&a, "A"), 1);
    fire(&mut a, 4500);
    assert_eq!(msgs(&a, "A"), 0);
}

#[test]
fn a_paused_consumer_holds_deliveries_until_its_pause_ends_on_the_wheel() {
    use crate::jetstream::api::consumer::ConsumerBackend;
    let mut a = open(None);
    stream(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    consumer(&mut a, "S", r#"{"durable_name":"d"}"#);
    let until = at(1000).ns;
    a.pause_consumer("S", "d", Some(until), at(0).ns).unwrap();
    a.pull(
        "S",
        "d",
        b"in",
        br#"{"batch":1,"expires":9000000000}"#,
        at(10),
    );
    publish(&mut a, "S", "s.a", "x");
    a.deliver_ready(at(20));
    assert!(sent(&mut a).is_empty(), "paused");
    fire(&mut a, 999);
    assert!(sent(&mut a).is_empty());
    fire(&mut a, 1001);
    let out = sent(&mut a);
    assert_eq!(out.len(), 1, "resumed at pause_until: {out:?}");
    assert_eq!(out[0].1, "s.a");
}
