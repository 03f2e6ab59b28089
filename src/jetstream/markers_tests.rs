//! Subject delete markers and `max_age` with TTLs, over a memory stream with explicit time.
//! The expected headers and sequences are what nats-server 2.15.1 stored on the wire.

use super::*;
use crate::jetstream::consumers::tests::{at, fire, open, stream};
use crate::store::StoredMsg;

/// The live messages of stream `name`: (seq, subject, headers).
fn live(a: &AccountStreams, name: &str) -> Vec<(u64, String, String)> {
    let mut log = a.streams[name].log.borrow_mut();
    let mut from = 1;
    let mut out = Vec::new();
    while let Ok(Some(StoredMsg {
        seq,
        subject,
        headers,
        ..
    })) = log.next_by_subject(from, b">")
    {
        from = seq + 1;
        out.push((
            seq,
            String::from_utf8(subject).unwrap(),
            String::from_utf8(headers).unwrap(),
        ));
    }
    out
}

fn put(a: &mut AccountStreams, name: &str, subj: &str, hdr: &str, ms: u64) -> String {
    let o = a
        .publish(name, subj, hdr.as_bytes(), b"x", at(ms).ns)
        .unwrap();
    assert!(a.commit());
    String::from_utf8(o.ack).unwrap()
}

const MARKER_2S: &str =
    "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 2s\r\nNats-Rollup: sub\r\n\r\n";

#[test]
fn marker_headers_are_in_nats_servers_order_with_a_go_duration() {
    assert_eq!(marker_headers(2), MARKER_2S.as_bytes());
    assert!(String::from_utf8(marker_headers(60))
        .unwrap()
        .contains("Nats-TTL: 1m0s\r\n"));
    assert!(is_marker(MARKER_2S.as_bytes()));
    assert!(is_marker(b"NATS/1.0\r\nKV-Operation: PURGE\r\n\r\n"));
    assert!(!is_marker(b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"));
    assert!(!is_marker(b""));
    assert!(never_expires(b"NATS/1.0\r\nNats-TTL: never\r\n\r\n"));
    assert!(!never_expires(b"NATS/1.0\r\nNats-TTL: 5s\r\n\r\n"));
}

#[test]
fn a_raised_ttl_is_rewritten_at_the_end_as_seconds() {
    assert_eq!(
        with_ttl(b"NATS/1.0\r\nNats-TTL: 1s\r\n\r\n", 2),
        b"NATS/1.0\r\nNats-TTL: 2\r\n\r\n"
    );
    assert_eq!(
        with_ttl(b"NATS/1.0\r\nA: 1\r\nNats-TTL: 1s\r\nB: 2\r\n\r\n", 5),
        b"NATS/1.0\r\nA: 1\r\nB: 2\r\nNats-TTL: 5\r\n\r\n"
    );
}

#[test]
fn max_age_leaves_one_marker_per_subject_which_expires_with_its_ttl() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"M","subjects":["m.>"],"allow_msg_ttl":true,
            "subject_delete_marker_ttl":2000000000,"max_age":10000000000}"#,
    );
    put(&mut a, "M", "m.a", "", 0);
    put(&mut a, "M", "m.a", "", 0);
    put(&mut a, "M", "m.b", "", 0);
    put(&mut a, "M", "m.c", "NATS/1.0\r\nNats-TTL: never\r\n\r\n", 0);
    fire(&mut a, 9_999);
    assert_eq!(live(&a, "M").len(), 4);
    fire(&mut a, 10_000);
    assert_eq!(
        live(&a, "M"),
        vec![
            (
                4,
                "m.c".into(),
                "NATS/1.0\r\nNats-TTL: never\r\n\r\n".into()
            ),
            (5, "m.a".into(), MARKER_2S.into()),
            (6, "m.b".into(), MARKER_2S.into()),
        ],
        "one marker per subject, none for the message that never expires"
    );
    assert!(
        a.wants_commit(),
        "the markers are written at the next commit"
    );
    assert!(a.commit());
    fire(&mut a, 11_999);
    assert_eq!(live(&a, "M").len(), 3);
    fire(&mut a, 12_000);
    assert_eq!(
        live(&a, "M").iter().map(|m| m.0).collect::<Vec<_>>(),
        vec![4],
        "the markers went with their own TTL and left no marker"
    );
}

#[test]
fn a_ttl_expiry_leaves_a_marker_only_on_the_subjects_last_message() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"D","subjects":["d.>"],"allow_msg_ttl":true,
            "subject_delete_marker_ttl":2000000000}"#,
    );
    put(&mut a, "D", "d.k", "NATS/1.0\r\nNats-TTL: 1s\r\n\r\n", 0);
    put(&mut a, "D", "d.j", "NATS/1.0\r\nNats-TTL: 1s\r\n\r\n", 0);
    put(&mut a, "D", "d.j", "", 0);
    let raised = "NATS/1.0\r\nNats-TTL: 2\r\n\r\n";
    assert_eq!(live(&a, "D")[0].2, raised, "TTL raised to the marker TTL");
    fire(&mut a, 2_000);
    assert_eq!(
        live(&a, "D"),
        vec![
            (3, "d.j".into(), String::new()),
            (4, "d.k".into(), MARKER_2S.into())
        ]
    );
    fire(&mut a, 4_000);
    assert_eq!(live(&a, "D"), vec![(3, "d.j".into(), String::new())]);
}

#[test]
fn deletes_purges_and_the_per_subject_limit_write_no_marker() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"C","subjects":["c.>"],"allow_msg_ttl":true,"max_msgs_per_subject":2,
            "subject_delete_marker_ttl":2000000000}"#,
    );
    for _ in 0..3 {
        put(&mut a, "C", "c.k", "", 0);
    }
    put(&mut a, "C", "c.j", "", 0);
    let mut env = a.env.clone();
    for (subj, body) in [
        ("$JS.API.STREAM.MSG.DELETE.C", r#"{"seq":3}"#),
        ("$JS.API.STREAM.PURGE.C", r#"{"filter":"c.j"}"#),
    ] {
        crate::jetstream::api::handle(subj, "_INBOX.x", b"", body.as_bytes(), 0, &mut a, &mut env);
    }
    assert_eq!(live(&a, "C"), vec![(2, "c.k".into(), String::new())]);
}

#[test]
fn max_age_without_markers_keeps_messages_that_never_expire() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"N","subjects":["n.>"],"allow_msg_ttl":true,"max_age":1000000000}"#,
    );
    let never = "NATS/1.0\r\nNats-TTL: never\r\n\r\n";
    put(&mut a, "N", "n.a", "", 0);
    put(&mut a, "N", "n.b", never, 0);
    put(&mut a, "N", "n.c", "", 0);
    put(&mut a, "N", "n.d", never, 0);
    put(&mut a, "N", "n.e", "", 0);
    put(&mut a, "N", "n.f", "", 500);
    let seqs = |a: &AccountStreams| live(a, "N").iter().map(|m| m.0).collect::<Vec<_>>();
    fire(&mut a, 1_000);
    assert_eq!(seqs(&a), vec![2, 4, 6]);
    fire(&mut a, 1_500);
    assert_eq!(seqs(&a), vec![2, 4]);
    assert!(
        a.wheel.borrow().next_deadline().is_none(),
        "no timer left for a message that never expires"
    );
}

#[test]
fn a_marker_refused_by_the_stream_still_lets_the_message_go() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"F","subjects":["f.>"],"allow_msg_ttl":true,"max_msgs":1,"discard":"new",
            "subject_delete_marker_ttl":2000000000}"#,
    );
    put(&mut a, "F", "f.a", "NATS/1.0\r\nNats-TTL: 2s\r\n\r\n", 0);
    fire(&mut a, 2_000);
    assert!(live(&a, "F").len() <= 1);
    assert!(
        live(&a, "F").iter().all(|m| m.0 != 1),
        "the expired message went"
    );
}

#[test]
fn max_age_one_at_a_time_stops_at_the_turn_bound_and_goes_on_at_the_next_tick() {
    let mut a = open(None);
    stream(
        &mut a,
        r#"{"name":"B","subjects":["b.>"],"allow_msg_ttl":true,"max_age":1000000000,
            "subject_delete_marker_ttl":60000000000}"#,
    );
    for _ in 0..AGE_TURN_MAX + 5 {
        a.publish("B", "b.x", b"", b"x", at(0).ns).unwrap();
    }
    assert!(a.commit());
    let left = |a: &AccountStreams| a.streams["B"].log.borrow_mut().state().unwrap().msgs;
    fire(&mut a, 1_000);
    assert_eq!(left(&a), 5, "one turn takes AGE_TURN_MAX");
    fire(&mut a, 1_001);
    assert_eq!(
        left(&a),
        1,
        "the next tick takes the rest, the last leaving a marker"
    );
}
