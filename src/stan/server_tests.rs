//! Publishes, subscription validation, limits and seed 000's scenario, driven with explicit
//! time (§ = stan-protocol.md).

use super::proto::*;
use super::tests_support::*;
use super::*;

fn sub_error(h: &mut H, req: &SubscriptionRequest) -> String {
    let r: SubscriptionResponse = reply(&h.subscribe_raw(1, req), "r.sub");
    r.error
}

#[test]
fn publish_is_stored_acked_by_guid_and_delivered() {
    let mut h = H::new();
    h.connect(1, "c");
    let (_, _) = h.subscribe(1, &H::sub_req("c", "ticket:created", "in"));
    let out = h.publish_raw(1, &H::pub_msg("c", "ticket:created", b"hello", "guid-1"));
    let ack: PubAck = reply(&out, "acks");
    assert_eq!((ack.guid.as_str(), ack.error.as_str()), ("guid-1", ""));
    let m = &msgs(&out, "in")[0];
    assert_eq!(
        (m.sequence, m.subject.as_str(), m.data.as_slice()),
        (1, "ticket:created", &b"hello"[..])
    );
    assert_eq!(m.timestamp, h.now_ns());
    // §4.5: the subscriber may see it before the publisher sees the ack.
    let order = published_subjects(&out);
    assert_eq!(order, ["in", "acks"]);
    for i in 2..=3 {
        h.publish(1, "c", "ticket:created", b"x");
        assert_eq!(h.s.channel("ticket:created").expect("ch").last_seq, i);
    }
}

#[test]
fn timestamps_stay_monotonic_when_the_clock_steps_back() {
    let mut h = H::new();
    h.connect(1, "c");
    h.subscribe(1, &H::sub_req("c", "foo", "in"));
    h.now_ms = 1000;
    let (_, a) = h.publish(1, "c", "foo", b"1");
    let (now, back) = (h.now_ms, h.now_ns() - 5_000_000);
    let pm = encode(&H::pub_msg("c", "foo", b"2", "g"));
    h.s.on_message(1, b"_STAN.pub.test-cluster.foo", b"acks", &pm, now, back);
    let b = h.s.take_outputs();
    assert_eq!(msgs(&b, "in")[0].timestamp, msgs(&a, "in")[0].timestamp);
}

#[test]
fn bad_publishes_get_invalid_publish_request() {
    let mut h = H::new();
    h.connect(1, "c");
    // §7: decode failure, empty guid, bad channel, unknown client or connID.
    let out = h.send(1, "_STAN.pub.test-cluster.foo", "acks", &[0xff, 0x01]);
    let ack: PubAck = reply(&out, "acks");
    assert_eq!(
        (ack.guid.as_str(), ack.error.as_str()),
        ("", "stan: invalid publish request")
    );
    let mut bad = vec![H::pub_msg("c", "foo", b"x", "")];
    for ch in ["foo..bar", "foo.*", ".foo", "foo.>", ""] {
        bad.push(H::pub_msg("c", ch, b"x", "g"));
    }
    bad.push(H::pub_msg("nobody", "foo", b"x", "g"));
    let mut forged = H::pub_msg("c", "foo", b"x", "g");
    forged.conn_id = b"stale".to_vec();
    bad.push(forged);
    for pm in bad {
        let ack: PubAck = reply(&h.publish_raw(1, &pm), "acks");
        assert_eq!(ack.error, "stan: invalid publish request", "{pm:?}");
        assert_eq!(ack.guid, pm.guid);
    }
    assert!(h.s.channel_names().is_empty());
    // connID wins over a wrong clientID (§8 quirks).
    let mut pm = H::pub_msg("someone-else", "foo", b"x", "g");
    pm.conn_id = b"conn-c".to_vec();
    let ack: PubAck = reply(&h.publish_raw(1, &pm), "acks");
    assert_eq!(ack.error, "");
    // Protocol 0: no connID, the client ID decides.
    let mut pm = H::pub_msg("c", "foo", b"x", "g");
    pm.conn_id.clear();
    let ack: PubAck = reply(&h.publish_raw(1, &pm), "acks");
    assert_eq!(ack.error, "");
    // A well-formed CtrlMsg is ignored; no reply subject means no PubAck.
    let ctrl = encode(&CtrlMsg {
        mtyp: 1,
        server_id: "s".into(),
        data: vec![],
    });
    assert!(h
        .send(1, "_STAN.pub.test-cluster.foo", "acks", &ctrl)
        .is_empty());
    let pm = encode(&H::pub_msg("c", "foo", b"x", "g"));
    assert!(h.send(1, "_STAN.pub.test-cluster.foo", "", &pm).is_empty());
}

#[test]
fn subscription_request_checks_come_in_the_original_order() {
    let mut h = H::new();
    h.connect(1, "c");
    // §4.2, each failure with every later check also failing.
    let out = h.send(1, "_STAN.sub.test-cluster", "r.sub", &[0xff]);
    let r: SubscriptionResponse = reply(&out, "r.sub");
    assert_eq!(r.error, "stan: invalid subscription request");
    let all_bad = SubscriptionRequest {
        client_id: String::new(),
        subject: "foo.*".into(),
        ack_wait_in_secs: 0,
        max_in_flight: 0,
        start_position: 9,
        ..Default::default()
    };
    let mut r = all_bad.clone();
    assert_eq!(sub_error(&mut h, &r), "stan: clientID missing");
    r.client_id = "nobody".into();
    assert_eq!(
        sub_error(&mut h, &r),
        "stan: invalid ack wait time, should be >= 1s"
    );
    r.ack_wait_in_secs = -1;
    assert_eq!(
        sub_error(&mut h, &r),
        "stan: invalid ack wait time, should be >= 1s"
    );
    r.ack_wait_in_secs = 1;
    assert_eq!(
        sub_error(&mut h, &r),
        "stan: invalid MaxInflight, should be >= 1"
    );
    r.max_in_flight = 1;
    assert_eq!(sub_error(&mut h, &r), "stan: invalid start position");
    r.start_position = -1;
    assert_eq!(sub_error(&mut h, &r), "stan: invalid start position");
    r.start_position = 4;
    assert_eq!(sub_error(&mut h, &r), "stan: invalid subject");
    r.subject = "foo".into();
    assert_eq!(sub_error(&mut h, &r), "stan: unknown clientID");
    r.client_id = "c".into();
    assert_eq!(sub_error(&mut h, &r), "");
}

#[test]
fn max_msgs_drops_the_oldest_and_first_starts_at_the_oldest_kept() {
    let mut o = opts();
    o.limits.channel.msgs_max = 5;
    let mut h = H::with(o);
    h.connect(1, "c");
    for _ in 0..10 {
        let (ack, _) = h.publish(1, "c", "foo", b"x");
        assert_eq!(ack.error, "", "limits never refuse a publish");
    }
    let info = h.s.channel("foo").expect("ch");
    assert_eq!((info.first_seq, info.last_seq, info.msgs), (6, 10, 5));
    let mut r = H::sub_req("c", "foo", "in");
    r.start_position = StartPosition::First as i32;
    let (_, out) = h.subscribe(1, &r);
    assert_eq!(seq_list(&out, "in"), [6, 7, 8, 9, 10]);
}

#[test]
fn max_bytes_drops_the_oldest_but_keeps_one_message() {
    let mut o = opts();
    o.limits.channel.bytes_max = 1;
    let mut h = H::with(o);
    h.connect(1, "c");
    for _ in 0..3 {
        h.publish(1, "c", "foo", &[7; 100]);
    }
    let info = h.s.channel("foo").expect("ch");
    assert_eq!((info.first_seq, info.last_seq, info.msgs), (3, 3, 1));
}

#[test]
fn max_channels_refuses_a_new_channel_on_publish_and_subscribe() {
    let mut o = opts();
    o.limits.channels_max = 2;
    let mut h = H::with(o);
    h.connect(1, "c");
    assert_eq!(h.publish(1, "c", "a", b"x").0.error, "");
    assert_eq!(h.publish(1, "c", "b", b"x").0.error, "");
    assert_eq!(h.publish(1, "c", "c", b"x").0.error, "too many channels");
    assert_eq!(
        sub_error(&mut h, &H::sub_req("c", "d", "in")),
        "too many channels"
    );
    assert_eq!(h.publish(1, "c", "a", b"x").0.error, "");
}

#[test]
fn max_subs_counts_offline_durables() {
    let mut o = opts();
    o.limits.channel.subs_max = 2;
    let mut h = H::with(o);
    h.connect(1, "c");
    let mut r = H::sub_req("c", "foo", "in1");
    r.durable_name = "d".into();
    let (ack_inbox, _) = h.subscribe(1, &r);
    h.unsub(true, "c", "foo", &ack_inbox);
    h.subscribe(1, &H::sub_req("c", "foo", "in2"));
    assert_eq!(
        sub_error(&mut h, &H::sub_req("c", "foo", "in3")),
        "too many subscriptions per channel"
    );
    // Resuming the offline durable is not a new record.
    let mut r = H::sub_req("c", "foo", "in4");
    r.durable_name = "d".into();
    assert_eq!(sub_error(&mut h, &r), "");
}

#[test]
fn channel_names_differing_only_in_case_are_refused() {
    let mut h = H::new();
    h.connect(1, "c");
    h.publish(1, "c", "foo", b"x");
    let (ack, _) = h.publish(1, "c", "Foo", b"x");
    assert_eq!(
        ack.error,
        "rejecting channel \"Foo\" because channel \"foo\" alreay exists (different cases not allowed)"
    );
}

#[test]
fn max_age_expires_old_messages() {
    let mut o = opts();
    o.limits.channel.age_max_ms = 1000;
    let mut h = H::with(o);
    h.connect(1, "c");
    h.publish(1, "c", "foo", b"1");
    h.now_ms = 600;
    h.publish(1, "c", "foo", b"2");
    h.advance(400);
    let info = h.s.channel("foo").expect("ch");
    assert_eq!((info.first_seq, info.msgs), (2, 1));
    h.advance(600);
    let info = h.s.channel("foo").expect("ch");
    assert_eq!((info.first_seq, info.last_seq, info.msgs), (3, 2, 0));
}

#[test]
fn max_inactivity_deletes_an_idle_channel_but_not_one_with_a_subscriber() {
    let mut o = opts();
    o.limits.channel.inactivity_max_ms = 2000;
    let mut h = H::with(o);
    h.connect(1, "c");
    h.publish(1, "c", "idle", b"x");
    let (ack_inbox, _) = h.subscribe(1, &H::sub_req("c", "busy", "in"));
    h.advance(1500);
    h.publish(1, "c", "idle", b"x");
    h.advance(1999);
    assert!(h.s.channel("idle").is_some());
    h.advance(1);
    assert!(h.s.channel("idle").is_none());
    assert!(h.s.channel("busy").is_some());
    // Re-created at seq 1 (§11 idea 29).
    h.publish(1, "c", "idle", b"x");
    assert_eq!(h.s.channel("idle").expect("ch").last_seq, 1);
    // Once its subscriber leaves, the busy channel goes too.
    h.unsub(false, "c", "busy", &ack_inbox);
    h.advance(2000);
    assert!(h.s.channel("busy").is_none());
}

#[test]
fn per_channel_limits_inherit_from_the_nearest_wider_entry() {
    let mut l = StoreLimits::default();
    l.channel.msgs_max = 100;
    l.per_channel = vec![
        (
            "foo.>".into(),
            ChannelOverride {
                msgs_max: 10,
                bytes_max: 500,
                ..Default::default()
            },
        ),
        (
            "foo.bar".into(),
            ChannelOverride {
                msgs_max: 0,
                bytes_max: -1,
                ..Default::default()
            },
        ),
        (
            "foo.*".into(),
            ChannelOverride {
                msgs_max: 20,
                ..Default::default()
            },
        ),
    ];
    l.validate().expect("valid");
    let bar = l.for_channel("foo.bar");
    assert_eq!((bar.msgs_max, bar.bytes_max), (20, 0));
    let baz = l.for_channel("foo.baz");
    assert_eq!((baz.msgs_max, baz.bytes_max), (20, 500));
    let deep = l.for_channel("foo.a.b");
    assert_eq!((deep.msgs_max, deep.bytes_max), (10, 500));
    let other = l.for_channel("other");
    assert_eq!(other, l.channel);
    l.per_channel
        .push(("foo..x".into(), ChannelOverride::default()));
    assert!(l.validate().is_err());
    let l = StoreLimits {
        channels_max: 1,
        per_channel: vec![
            ("a".into(), ChannelOverride::default()),
            ("b".into(), ChannelOverride::default()),
        ],
        ..Default::default()
    };
    assert_eq!(
        l.validate().expect_err("too many").to_string(),
        "too many channels defined (2). The max channels limit is set to 1"
    );
}

#[test]
fn file_channels_keep_messages_across_a_restart_of_the_core() {
    let dir = std::env::temp_dir().join(format!("natrix-stan-srv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |expect_first: &[u64]| {
        let mut s = StanServer::new(opts(), FileChannels::new(dir.clone()), 0).expect("opts");
        let connect = encode(&H::connect_req("c"));
        s.on_message(
            1,
            b"_STAN.discover.test-cluster",
            b"r",
            &connect,
            0,
            EPOCH_NS,
        );
        let mut r = H::sub_req("c", "foo", "in");
        r.start_position = 4;
        s.on_message(1, b"_STAN.sub.test-cluster", b"r", &encode(&r), 0, EPOCH_NS);
        let pm = encode(&H::pub_msg("c", "foo", b"x", "g"));
        s.on_message(1, b"_STAN.pub.test-cluster.foo", b"acks", &pm, 0, EPOCH_NS);
        let out = s.take_outputs();
        let ack: PubAck = reply(&out, "acks");
        assert_eq!(ack.error, "");
        assert_eq!(seq_list(&out, "in"), expect_first);
        let close = encode(&CloseRequest {
            client_id: "c".into(),
        });
        s.on_message(1, b"_STAN.close.test-cluster", b"r", &close, 0, EPOCH_NS);
        let _ = s.take_outputs();
    };
    run(&[1]);
    // Messages survive; the closed client and its plain subscription do not.
    run(&[1, 2]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn arbitrary_bytes_on_every_subject_never_panic() {
    let mut h = H::new();
    h.connect(1, "c");
    let (ack_inbox, _) = h.subscribe(1, &H::sub_req("c", "foo", "in"));
    let subjects = [
        "_STAN.discover.test-cluster",
        "_STAN.discover.test-cluster.pings",
        "_STAN.pub.test-cluster.foo",
        "_STAN.sub.test-cluster",
        "_STAN.unsub.test-cluster",
        "_STAN.subclose.test-cluster",
        "_STAN.close.test-cluster",
        "_INBOX.T.1",
        "_INBOX.T.x",
        ack_inbox.as_str(),
        "unrelated",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..3000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|j| (seed >> (j % 8 * 8)) as u8 ^ j as u8)
            .collect();
        let subject = subjects[(i % subjects.len() as u64) as usize].to_string();
        h.send(1, &subject, "r", &bytes);
        if i % 100 == 0 {
            h.advance(700);
        }
    }
}

/// Seed 000: two copies of a service in one queue group on a channel, manual acks with an
/// ack wait, redelivery to the other member, deliver-all-available, and a restarted listener
/// whose old client goes offline.
#[test]
fn seed_000_queue_group_manual_ack_redelivery_and_listener_restart() {
    let mut h = H::new();
    h.connect(9, "publisher");
    // Messages published before any listener exists.
    for i in 1..=2 {
        let (ack, _) = h.publish(9, "publisher", "ticket:created", format!("t{i}").as_bytes());
        assert_eq!(ack.error, "");
    }
    // Two identical services: setDeliverAllAvailable, setManualAckMode(true),
    // setAckWait(30 s), setDurableName, queue group "orders-service".
    let listen = |h: &mut H, conn: ConnId, id: &str| {
        h.connect(conn, id);
        let mut r = H::sub_req(id, "ticket:created", &format!("in.{id}"));
        r.q_group = "orders-service".into();
        r.durable_name = "orders-service".into();
        r.start_position = StartPosition::First as i32;
        r.ack_wait_in_secs = 30;
        h.subscribe(conn, &r)
    };
    let (ack_a, out) = listen(&mut h, 1, "svc-a");
    assert_eq!(seq_list(&out, "in.svc-a"), [1, 2], "deliver all available");
    h.ack(1, &ack_a, "ticket:created", 1);
    h.ack(1, &ack_a, "ticket:created", 2);
    let (ack_b, _) = listen(&mut h, 2, "svc-b");
    // Each new message reaches exactly one member.
    let mut got: Vec<(String, u64)> = Vec::new();
    for i in 3..=6 {
        let (_, out) = h.publish(9, "publisher", "ticket:created", format!("t{i}").as_bytes());
        for id in ["svc-a", "svc-b"] {
            for s in seq_list(&out, &format!("in.{id}")) {
                got.push((id.to_string(), s));
            }
        }
    }
    assert_eq!(got.len(), 4);
    assert!(got.iter().any(|(id, _)| id == "svc-a") && got.iter().any(|(id, _)| id == "svc-b"));
    // svc-b fails to process (no ack); svc-a acks everything it gets.
    for (id, s) in &got {
        if id == "svc-a" {
            h.ack(1, &ack_a, "ticket:created", *s);
        }
    }
    let b_seqs: Vec<u64> = got
        .iter()
        .filter(|(id, _)| id == "svc-b")
        .map(|(_, s)| *s)
        .collect();
    // After the 30 s ack wait the unacked messages are sent again, flagged redelivered, to
    // the member with the fewest pending: svc-a.
    assert!(h
        .advance(29_999)
        .iter()
        .all(|o| !matches!(o, Output::Publish { subject, .. } if subject.starts_with("in."))));
    let out = h.advance(1);
    let to_a = seqs(&out, "in.svc-a");
    let to_b = seqs(&out, "in.svc-b");
    let mut all: Vec<u64> = to_a.iter().chain(to_b.iter()).map(|m| m.0).collect();
    all.sort();
    assert_eq!(all, b_seqs, "each unacked message once");
    assert!(to_a.iter().chain(to_b.iter()).all(|m| m.1 && m.2 == 1));
    assert!(!to_a.is_empty(), "work moves to the other member");
    for (s, _, _) in &to_a {
        h.ack(1, &ack_a, "ticket:created", *s);
    }
    for (s, _, _) in &to_b {
        h.ack(2, &ack_b, "ticket:created", *s);
    }
    // Listener restart: svc-a's process is replaced by svc-a2 (a new client ID); svc-a's
    // connection closes without a CloseRequest. New messages go to the live members at once,
    // and svc-a is dropped within seconds, not after heartbeats (issue 12 point 3).
    h.s.on_connection_closed(1, h.now_ms);
    let (_, _) = listen(&mut h, 3, "svc-a2");
    let (_, out) = h.publish(9, "publisher", "ticket:created", b"t7");
    assert!(seq_list(&out, "in.svc-a").is_empty(), "not to the ghost");
    assert_eq!(
        seq_list(&out, "in.svc-a2").len() + seq_list(&out, "in.svc-b").len(),
        1
    );
    h.advance(3500);
    assert!(h.s.client("svc-a").is_none());
    // Without any listener, an unacked message is resent every ack wait to whoever is there.
    let (r, _) = h.close("svc-a2");
    assert_eq!(r.error, "");
    let (r, _) = h.close("svc-b");
    assert_eq!(r.error, "");
    let (_, out) = h.publish(9, "publisher", "ticket:created", b"t8");
    assert!(
        msgs(&out, "in.svc-b").is_empty(),
        "durable group is offline (shadow)"
    );
    let (_, out) = listen(&mut h, 4, "svc-c");
    let delivered = seq_list(&out, "in.svc-c");
    assert!(
        delivered.contains(&8),
        "the shadow's position is resumed: {delivered:?}"
    );
    assert!(!delivered.contains(&1), "acked messages are not replayed");
}

#[test]
fn wants_is_exactly_the_internal_subjects_patterns() {
    let s = StanServer::new(opts(), MemChannels, 0).expect("options");
    let patterns = s.internal_subjects();
    let reply = format!("_INBOX.{}.", s.options().server_token);
    let mut subjects: Vec<String> = Vec::new();
    for p in &patterns {
        let base = p.trim_end_matches(['*', '>']);
        // Valid subjects only (no empty token): the router never sees others.
        for tail in ["7", "x.y", "ack", "ack.3", "ack.3.4"] {
            subjects.push(format!("{base}{tail}"));
        }
        subjects.push(base.trim_end_matches('.').to_string());
        subjects.push(format!("{}x", base.trim_end_matches('.')));
    }
    subjects.extend(
        [
            "_STAN.pub",
            "_STAN.pub.test-cluster",
            "_STAN.pub.other.foo",
            "_INBOX.other.1",
            "foo",
        ]
        .map(String::from),
    );
    subjects.push(format!("{reply}12"));
    let mut hits = 0;
    for subject in &subjects {
        let want = patterns
            .iter()
            .any(|p| crate::subject::matches(p.as_bytes(), subject.as_bytes()));
        hits += usize::from(want);
        assert_eq!(s.wants(subject.as_bytes()), want, "{subject:?}");
    }
    assert!(hits > patterns.len(), "the cases reach every pattern");
}
