//! Subscription kinds, start positions, MaxInflight, ack-wait redelivery, queue groups,
//! durables and unsubscribe handling, driven with explicit time (§ = stan-protocol.md).

use super::proto::*;
use super::tests_support::*;

/// A connected publisher "p" (conn 9) and `n` messages "m1".."mn" on `channel`.
fn with_msgs(h: &mut H, channel: &str, n: u64) {
    if h.s.client("p").is_none() {
        h.connect(9, "p");
    }
    for i in 1..=n {
        let (ack, _) = h.publish(9, "p", channel, format!("m{i}").as_bytes());
        assert_eq!(ack.error, "");
    }
}

fn sub(
    h: &mut H,
    id: &str,
    channel: &str,
    inbox: &str,
    f: impl FnOnce(&mut SubscriptionRequest),
) -> (String, Vec<super::Output>) {
    let mut req = H::sub_req(id, channel, inbox);
    f(&mut req);
    h.subscribe(1, &req)
}

#[test]
fn each_start_position_sets_where_delivery_begins() {
    // §4.4, over a log 1..=5 with timestamps 100 ms apart.
    let cases: Vec<(&str, StartPosition, u64, i64, Vec<u64>)> = vec![
        ("new", StartPosition::NewOnly, 0, 0, vec![]),
        ("last", StartPosition::LastReceived, 0, 0, vec![5]),
        ("first", StartPosition::First, 0, 0, vec![1, 2, 3, 4, 5]),
        ("seq3", StartPosition::SequenceStart, 3, 0, vec![3, 4, 5]),
        (
            "seq0",
            StartPosition::SequenceStart,
            0,
            0,
            vec![1, 2, 3, 4, 5],
        ),
        ("seq9", StartPosition::SequenceStart, 9, 0, vec![]),
        // now is 500 ms after seq 1; 250 ms back reaches seq 4 (stamped at 300).
        (
            "delta",
            StartPosition::TimeDeltaStart,
            0,
            250_000_000,
            vec![4, 5],
        ),
        (
            "future",
            StartPosition::TimeDeltaStart,
            0,
            -10_000_000_000,
            vec![],
        ),
    ];
    for (name, pos, seq, delta, want) in cases {
        let mut h = H::new();
        h.connect(9, "p");
        for i in 0..5 {
            h.now_ms = i * 100;
            h.publish(9, "p", "foo", b"x");
        }
        h.now_ms = 550;
        h.connect(1, "c");
        let (_, out) = sub(&mut h, "c", "foo", "in", |r| {
            r.start_position = pos as i32;
            r.start_sequence = seq;
            r.start_time_delta = delta;
        });
        assert_eq!(seq_list(&out, "in"), want, "{name}");
        // New messages follow in every case.
        let (_, out) = h.publish(9, "p", "foo", b"y");
        assert_eq!(seq_list(&out, "in"), [6], "{name}");
    }
}

#[test]
fn start_positions_on_an_empty_channel_start_at_one() {
    for pos in [
        StartPosition::NewOnly,
        StartPosition::LastReceived,
        StartPosition::First,
    ] {
        let mut h = H::new();
        h.connect(1, "c");
        sub(&mut h, "c", "foo", "in", |r| r.start_position = pos as i32);
        with_msgs(&mut h, "foo", 1);
        assert_eq!(
            h.s.channel("foo").expect("ch").subs[0].last_sent,
            1,
            "{pos:?}"
        );
    }
}

#[test]
fn subscription_response_precedes_the_backlog() {
    let mut h = H::new();
    with_msgs(&mut h, "foo", 3);
    h.connect(1, "c");
    let (_, out) = sub(&mut h, "c", "foo", "in", |r| r.start_position = 4);
    // §4.3: the response is the first output, the messages follow.
    let subjects = published_subjects(&out);
    assert_eq!(subjects, ["r.sub", "in", "in", "in"]);
}

#[test]
fn max_inflight_stalls_and_each_ack_releases_one() {
    let mut h = H::new();
    with_msgs(&mut h, "foo", 10);
    h.connect(1, "c");
    let (ack_inbox, out) = sub(&mut h, "c", "foo", "in", |r| {
        r.start_position = 4;
        r.max_in_flight = 2;
    });
    // §4.5.
    assert_eq!(seq_list(&out, "in"), [1, 2]);
    assert!(h.s.channel("foo").expect("ch").subs[0].is_stalled);
    let out = h.ack(1, &ack_inbox, "foo", 1);
    assert_eq!(seq_list(&out, "in"), [3]);
    // A duplicate or unknown ack changes nothing and is never answered.
    assert!(h.ack(1, &ack_inbox, "foo", 1).is_empty());
    assert!(h.ack(1, &ack_inbox, "foo", 77).is_empty());
    assert!(h.ack(1, &ack_inbox, "nochannel", 2).is_empty());
    assert!(h.send(1, &ack_inbox, "", &[0xff]).is_empty());
    let out = h.ack(1, &ack_inbox, "foo", 2);
    assert_eq!(seq_list(&out, "in"), [4]);
}

#[test]
fn unacked_messages_are_redelivered_every_ack_wait_with_counts_until_acked() {
    let mut h = H::new();
    h.connect(1, "c");
    let (ack_inbox, _) = sub(&mut h, "c", "foo", "in", |r| r.ack_wait_in_secs = 2);
    with_msgs(&mut h, "foo", 1);
    // §4.6: redelivered=true every 2 s, counts 1, 2, 3; an ack stops it.
    assert!(h.advance(1999).is_empty());
    assert_eq!(seqs(&h.advance(1), "in"), [(1, true, 1)]);
    assert_eq!(seqs(&h.advance(2000), "in"), [(1, true, 2)]);
    assert_eq!(seqs(&h.advance(2000), "in"), [(1, true, 3)]);
    h.ack(1, &ack_inbox, "foo", 1);
    assert!(seqs(&h.advance(10_000), "in").is_empty());
    assert_eq!(h.s.channel("foo").expect("ch").subs[0].pending_count, 0);
}

#[test]
fn redeliveries_ignore_max_inflight() {
    let mut h = H::new();
    with_msgs(&mut h, "foo", 5);
    h.connect(1, "c");
    sub(&mut h, "c", "foo", "in", |r| {
        r.start_position = 4;
        r.max_in_flight = 2;
        r.ack_wait_in_secs = 1;
    });
    assert_eq!(seqs(&h.advance(1000), "in"), [(1, true, 1), (2, true, 1)]);
}

#[test]
fn queue_group_shares_messages_without_duplicates() {
    let mut h = H::new();
    h.connect(1, "a");
    h.connect(2, "b");
    sub(&mut h, "a", "foo", "in.a", |r| r.q_group = "q".into());
    sub(&mut h, "b", "foo", "in.b", |r| r.q_group = "q".into());
    let mut all = Vec::new();
    let (mut na, mut nb) = (0, 0);
    for _ in 0..6 {
        let (_, out) = h.publish(9, "a", "foo", b"x");
        let (a, b) = (seq_list(&out, "in.a"), seq_list(&out, "in.b"));
        na += a.len();
        nb += b.len();
        all.extend(a);
        all.extend(b);
    }
    all.sort();
    assert_eq!(all, [1, 2, 3, 4, 5, 6]);
    assert_eq!((na, nb), (3, 3));
}

#[test]
fn queue_member_unsubscribing_hands_its_pending_to_the_others_at_once() {
    let mut h = H::new();
    h.connect(1, "a");
    h.connect(2, "b");
    let (ack_a, _) = sub(&mut h, "a", "foo", "in.a", |r| r.q_group = "q".into());
    sub(&mut h, "b", "foo", "in.b", |r| r.q_group = "q".into());
    with_msgs(&mut h, "foo", 4);
    // a holds 1 and 3 unacked.
    let (err, out) = h.unsub(false, "a", "foo", &ack_a);
    assert_eq!(err, "");
    // §4.7: redelivered to b right away, flagged.
    assert_eq!(seqs(&out, "in.b"), [(1, true, 1), (3, true, 1)]);
    let info = h.s.channel("foo").expect("ch");
    assert_eq!(info.subs.len(), 1);
    assert_eq!(info.subs[0].pending_count, 4);
    // Heartbeats of a, b and p, and one ack timer for b: the hand-over left no stale timer.
    assert_eq!(h.s.timers_armed(), 4);
}

#[test]
fn queue_redelivery_moves_work_from_a_failing_member() {
    let mut o = opts();
    o.hb_interval_ms = 100_000;
    let mut h = H::with(o);
    h.connect(1, "a");
    h.connect(2, "b");
    let (ack_a, _) = sub(&mut h, "a", "foo", "in.a", |r| {
        r.q_group = "q".into();
        r.ack_wait_in_secs = 1;
    });
    sub(&mut h, "b", "foo", "in.b", |r| {
        r.q_group = "q".into();
        r.ack_wait_in_secs = 5;
    });
    with_msgs(&mut h, "foo", 1);
    // a got seq 1 and never acks; b is busier-free: the expiry re-offers it to the best member.
    let out = h.advance(1000);
    let (a, b) = (seqs(&out, "in.a"), seqs(&out, "in.b"));
    assert_eq!(a.len() + b.len(), 1);
    assert_eq!(a.iter().chain(b.iter()).next().map(|m| m.1), Some(true));
    // An ack from a for a message that moved to b clears it there.
    if !b.is_empty() {
        h.ack(1, &ack_a, "foo", 1);
        let info = h.s.channel("foo").expect("ch");
        assert!(info.subs.iter().all(|s| s.pending_count == 0));
    }
}

#[test]
fn durable_close_keeps_the_position_and_resume_redelivers_unacked_first() {
    let mut h = H::new();
    h.connect(1, "c");
    let (ack_inbox, _) = sub(&mut h, "c", "foo", "in", |r| {
        r.durable_name = "dur".into();
        r.start_position = 4;
    });
    with_msgs(&mut h, "foo", 5);
    for seq in 1..=4 {
        h.ack(1, &ack_inbox, "foo", seq);
    }
    // §4.8: close keeps it offline.
    let (err, _) = h.unsub(true, "c", "foo", &ack_inbox);
    assert_eq!(err, "");
    let info = h.s.channel("foo").expect("ch");
    assert!(info.subs[0].is_offline);
    with_msgs(&mut h, "foo", 2);
    let (_, out) = sub(&mut h, "c", "foo", "in2", |r| {
        r.durable_name = "dur".into();
        r.start_position = 0;
    });
    // seq 5 (unacked) redelivered first, then 6 and 7.
    assert_eq!(
        seqs(&out, "in2"),
        [(5, true, 1), (6, false, 0), (7, false, 0)]
    );
}

#[test]
fn durable_unsubscribe_forgets_the_position() {
    let mut h = H::new();
    h.connect(1, "c");
    let (ack_inbox, _) = sub(&mut h, "c", "foo", "in", |r| r.durable_name = "dur".into());
    with_msgs(&mut h, "foo", 3);
    let (err, _) = h.unsub(false, "c", "foo", &ack_inbox);
    assert_eq!(err, "");
    assert!(h.s.channel("foo").expect("ch").subs.is_empty());
    let (_, out) = sub(&mut h, "c", "foo", "in2", |r| {
        r.durable_name = "dur".into();
        r.start_position = 4;
    });
    assert_eq!(
        seqs(&out, "in2"),
        [(1, false, 0), (2, false, 0), (3, false, 0)]
    );
}

#[test]
fn durable_is_keyed_by_client_id_and_a_live_duplicate_is_refused() {
    let mut h = H::new();
    h.connect(1, "c");
    h.connect(2, "d");
    sub(&mut h, "c", "foo", "in", |r| r.durable_name = "dur".into());
    let out = h.subscribe_raw(1, &{
        let mut r = H::sub_req("c", "foo", "in2");
        r.durable_name = "dur".into();
        r
    });
    let resp: SubscriptionResponse = reply(&out, "r.sub");
    assert_eq!(resp.error, "stan: duplicate durable registration");
    // §4.1: another client with the same name gets a durable of its own.
    sub(&mut h, "d", "foo", "in3", |r| r.durable_name = "dur".into());
    assert_eq!(h.s.channel("foo").expect("ch").subs.len(), 2);
}

#[test]
fn durable_queue_group_keeps_a_shadow_when_its_last_member_closes() {
    let mut h = H::new();
    h.connect(1, "a");
    let (ack_a, _) = sub(&mut h, "a", "foo", "in.a", |r| {
        r.q_group = "svc".into();
        r.durable_name = "svc".into();
        r.start_position = 4;
    });
    with_msgs(&mut h, "foo", 3);
    h.ack(1, &ack_a, "foo", 1);
    assert_eq!(
        h.s.channel("foo").expect("ch").subs[0].queue_name,
        "svc:svc"
    );
    // Connection close = close: the group becomes a shadow.
    let (r, _) = h.close("a");
    assert_eq!(r.error, "");
    with_msgs(&mut h, "foo", 2);
    h.connect(2, "b");
    // §4.7: the joiner takes over; its start position is ignored; 2 and 3 first, then 4, 5.
    let (_, out) = sub(&mut h, "b", "foo", "in.b", |r| {
        r.q_group = "svc".into();
        r.durable_name = "svc".into();
        r.start_position = 0;
    });
    assert_eq!(
        seqs(&out, "in.b"),
        [(2, true, 1), (3, true, 1), (4, false, 0), (5, false, 0)]
    );
}

#[test]
fn non_durable_queue_group_is_gone_when_its_last_member_leaves() {
    let mut h = H::new();
    h.connect(1, "a");
    let (ack_a, _) = sub(&mut h, "a", "foo", "in.a", |r| r.q_group = "q".into());
    with_msgs(&mut h, "foo", 2);
    h.unsub(true, "a", "foo", &ack_a);
    // §11 idea 23: a new member starts a new group at its own start position.
    let (_, out) = sub(&mut h, "a", "foo", "in.a2", |r| {
        r.q_group = "q".into();
        r.start_position = 4;
    });
    assert_eq!(seq_list(&out, "in.a2"), [1, 2]);
}

#[test]
fn durable_queue_name_with_a_colon_is_refused() {
    let mut h = H::new();
    h.connect(1, "a");
    let mut r = H::sub_req("a", "foo", "in");
    r.q_group = "q".into();
    r.durable_name = "d:x".into();
    let resp: SubscriptionResponse = reply(&h.subscribe_raw(1, &r), "r.sub");
    assert_eq!(
        resp.error,
        "stan: durable name of a durable queue subscriber can't contain the character ':'"
    );
}

#[test]
fn unsubscribe_errors_follow_the_original() {
    let mut h = H::new();
    h.connect(1, "a");
    h.connect(2, "b");
    let (ack_inbox, _) = sub(&mut h, "a", "foo", "in", |_| {});
    // §4.9 and §7.
    let out = h.send(1, "_STAN.unsub.test-cluster", "r.unsub", &[0xff]);
    let r: SubscriptionResponse = reply(&out, "r.unsub");
    assert_eq!(r.error, "stan: invalid unsubscribe request");
    let out = h.send(1, "_STAN.subclose.test-cluster", "r.unsub", &[0xff]);
    let r: SubscriptionResponse = reply(&out, "r.unsub");
    assert_eq!(r.error, "stan: invalid unsubscribe request");
    assert_eq!(
        h.unsub(false, "a", "bar", &ack_inbox).0,
        "stan: unknown channel"
    );
    assert_eq!(
        h.unsub(false, "a", "foo", "").0,
        "stan: invalid subscription"
    );
    assert_eq!(
        h.unsub(false, "b", "foo", &ack_inbox).0,
        "stan: unknown clientID"
    );
    // By delivery inbox, and without a reply subject: removed, nothing sent.
    let req = UnsubscribeRequest {
        client_id: "a".into(),
        subject: "foo".into(),
        inbox: "in".into(),
        ..Default::default()
    };
    let out = h.send(1, "_STAN.subclose.test-cluster", "", &encode(&req));
    assert!(out.is_empty());
    assert!(h.s.channel("foo").expect("ch").subs.is_empty());
    assert_eq!(
        h.unsub(false, "a", "foo", &ack_inbox).0,
        "stan: invalid subscription"
    );
}

#[test]
fn plain_sub_of_a_client_failing_heartbeats_is_not_redelivered() {
    let mut o = opts();
    o.hb_interval_ms = 500;
    o.hb_timeout_ms = 100;
    let mut h = H::with(o);
    h.connect(1, "c");
    sub(&mut h, "c", "foo", "in", |r| r.ack_wait_in_secs = 1);
    with_msgs(&mut h, "foo", 1);
    // The heartbeat at 500 ms times out at 600 ms; the expiry at 1000 ms is skipped.
    let out = h.advance(1100);
    assert!(seqs(&out, "in").is_empty());
    assert_eq!(h.s.client("c").expect("c").failed_hbs, 1);
}

#[test]
fn dropped_pending_message_is_implicitly_acked() {
    let mut o = opts();
    o.limits.channel.msgs_max = 2;
    let mut h = H::with(o);
    h.connect(1, "c");
    sub(&mut h, "c", "foo", "in", |r| {
        r.ack_wait_in_secs = 1;
        r.max_in_flight = 1;
    });
    with_msgs(&mut h, "foo", 4);
    // Seq 1 went out and was dropped by max_msgs: the redelivery acks it and moves on to 3.
    let out = h.advance(1000);
    assert_eq!(seq_list(&out, "in"), [3]);
}

#[test]
fn client_close_moves_queue_pending_at_once_and_removes_plain_subs() {
    let mut h = H::new();
    h.connect(1, "a");
    h.connect(2, "b");
    sub(&mut h, "a", "foo", "in.a", |r| r.q_group = "q".into());
    sub(&mut h, "a", "foo", "in.plain", |_| {});
    sub(&mut h, "b", "foo", "in.b", |r| r.q_group = "q".into());
    with_msgs(&mut h, "foo", 2);
    // §3.5: a's queue member leaves with seq 1, handed to b in the close's own step.
    let (r, out) = h.close("a");
    assert_eq!(r.error, "");
    assert_eq!(seqs(&out, "in.b"), [(1, true, 1)]);
    let info = h.s.channel("foo").expect("ch");
    assert_eq!(info.subs.len(), 1, "the plain sub is gone");
    assert_eq!(info.subs[0].client_id, "b");
}
