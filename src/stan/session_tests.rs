//! Connect, duplicate IDs, heartbeats, pings, close and ghost clients, driven with explicit
//! time. Each test names the place in stan-protocol.md (§) it checks.

use super::proto::*;
use super::tests_support::*;
use super::*;

#[test]
fn start_subscribes_the_service_subjects() {
    let mut s = StanServer::new(opts(), MemChannels, 0).expect("options");
    let subjects: Vec<String> = s
        .take_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Subscribe { subject } => Some(subject),
            _ => None,
        })
        .collect();
    // §2: discover, pings, pub.>, sub, unsub, subclose, close; plus the core's inboxes.
    assert_eq!(
        subjects,
        [
            "_STAN.discover.test-cluster",
            "_STAN.discover.test-cluster.pings",
            "_STAN.pub.test-cluster.>",
            "_STAN.sub.test-cluster",
            "_STAN.unsub.test-cluster",
            "_STAN.subclose.test-cluster",
            "_STAN.close.test-cluster",
            "_INBOX.T.*",
            "_INBOX.T.ack.*",
        ]
    );
}

#[test]
fn connect_answers_every_subject_and_echoes_the_ping_settings() {
    let mut h = H::new();
    let r = h.connect(1, "client-123");
    // §3.1 step 5.
    assert_eq!(r.pub_prefix, "_STAN.pub.test-cluster");
    assert_eq!(r.sub_requests, "_STAN.sub.test-cluster");
    assert_eq!(r.unsub_requests, "_STAN.unsub.test-cluster");
    assert_eq!(r.sub_close_requests, "_STAN.subclose.test-cluster");
    assert_eq!(r.close_requests, "_STAN.close.test-cluster");
    assert_eq!(r.ping_requests, "_STAN.discover.test-cluster.pings");
    assert_eq!((r.protocol, r.ping_interval, r.ping_max_out), (1, 5, 3));
    assert_eq!(h.s.client_ids(), ["client-123"]);
}

#[test]
fn protocol_zero_gets_no_ping_subject() {
    let mut h = H::new();
    let mut req = H::connect_req("old");
    req.protocol = 0;
    let out = h.connect_raw(1, &req);
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(
        (r.protocol, r.ping_requests.as_str(), r.ping_interval),
        (1, "", 0)
    );
}

#[test]
fn bad_connect_requests_get_the_exact_errors() {
    let mut h = H::new();
    // §3.1 step 4 and §7.
    let out = h.send(1, "_STAN.discover.test-cluster", "r.connect", &[0xff, 0xff]);
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(r.error, "stan: invalid connection request");
    assert_eq!(r.pub_prefix, "");
    let mut req = H::connect_req("a");
    req.heartbeat_inbox.clear();
    let r: ConnectResponse = reply(&h.connect_raw(1, &req), "r.connect");
    assert_eq!(r.error, "stan: invalid connection request");
    for bad in ["bad.id", "bad:id", ""] {
        let mut req = H::connect_req("x");
        req.client_id = bad.into();
        let r: ConnectResponse = reply(&h.connect_raw(1, &req), "r.connect");
        assert_eq!(
            r.error,
            "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
        );
    }
    assert!(h.s.client_ids().is_empty());
}

#[test]
fn duplicate_id_is_refused_when_the_old_client_answers_the_probe() {
    let mut h = H::new();
    h.connect(1, "me");
    // §3.2: the server asks the old client's heartbeat inbox.
    let out = h.connect_raw(2, &H::connect_req("me"));
    assert!(
        publishes(&out, "r.connect").next().is_none(),
        "no answer yet"
    );
    let probe = request_reply(&out, "hb.me").expect("probe sent");
    // A second connect while the probe is out is refused at once.
    let r: ConnectResponse = reply(&h.connect_raw(3, &H::connect_req("me")), "r.connect");
    assert_eq!(r.error, "stan: clientID already registered");
    h.now_ms += 100;
    let out = h.send(1, &probe, "", b"");
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(r.error, "stan: clientID already registered");
    assert_eq!(h.s.client("me").expect("kept").conn, 1);
    // Nothing else happens when the probe's timeout would have passed.
    assert!(publishes(&h.advance(1000), "r.connect").next().is_none());
}

#[test]
fn duplicate_id_replaces_an_old_client_that_does_not_answer_within_500_ms() {
    let mut h = H::new();
    h.connect(1, "me");
    let (ack, _) = h.publish(1, "me", "foo", b"x");
    assert_eq!(ack.error, "");
    let out = h.connect_raw(2, &H::connect_req("me"));
    assert!(request_reply(&out, "hb.me").is_some());
    assert!(publishes(&h.advance(499), "r.connect").next().is_none());
    let out = h.advance(1);
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(r.error, "");
    assert_eq!(h.s.client("me").expect("new").conn, 2);
}

#[test]
fn duplicate_id_of_a_client_whose_connection_closed_is_replaced_without_a_probe() {
    let mut h = H::new();
    h.connect(1, "me");
    h.s.on_connection_closed(1, h.now_ms);
    let out = h.connect_raw(2, &H::connect_req("me"));
    assert!(request_reply(&out, "hb.me").is_none(), "no probe");
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(r.error, "");
    assert_eq!(h.s.client("me").expect("new").conn, 2);
}

#[test]
fn heartbeats_go_every_interval_and_failures_close_the_client() {
    let mut o = opts();
    o.hb_interval_ms = 1000;
    o.hb_timeout_ms = 200;
    o.hb_fail_count = 2;
    let mut h = H::with(o);
    h.connect(1, "c");
    // §3.3: a request with an empty payload and a reply subject.
    let out = h.advance(999);
    assert!(request_reply(&out, "hb.c").is_none());
    let out = h.advance(1);
    let reply_to = request_reply(&out, "hb.c").expect("heartbeat");
    assert!(reply_to.starts_with("_INBOX.T."));
    h.now_ms += 50;
    h.send(1, &reply_to, "", b"");
    assert_eq!(h.s.client("c").expect("alive").failed_hbs, 0);
    // Next heartbeat one interval after the answer; then three misses (> 2) close it.
    let out = h.advance(1000);
    assert_eq!(publishes(&out, "hb.c").count(), 1);
    h.advance(200);
    assert_eq!(h.s.client("c").expect("still there").failed_hbs, 1);
    h.advance(1200);
    assert_eq!(h.s.client("c").expect("still there").failed_hbs, 2);
    h.advance(1200);
    assert!(h.s.client("c").is_none(), "closed after 3 failures");
}

#[test]
fn pings_are_answered_by_conn_id() {
    let mut h = H::new();
    h.connect(1, "c");
    // §3.4: a known connID gets a zero-length answer.
    let ping = encode(&Ping {
        conn_id: b"conn-c".to_vec(),
    });
    let out = h.send(1, "_STAN.discover.test-cluster.pings", "pinbox", &ping);
    let found: Vec<_> = publishes(&out, "pinbox").collect();
    assert_eq!(found.len(), 1);
    assert!(found[0].1.is_empty());
    let ping = encode(&Ping {
        conn_id: b"someone".to_vec(),
    });
    let out = h.send(1, "_STAN.discover.test-cluster.pings", "pinbox", &ping);
    let r: PingResponse = reply(&out, "pinbox");
    assert_eq!(
        r.error,
        "client has been replaced or is no longer registered"
    );
    // Empty or undecodable pings are ignored.
    assert!(h
        .send(1, "_STAN.discover.test-cluster.pings", "pinbox", b"")
        .is_empty());
    assert!(h
        .send(1, "_STAN.discover.test-cluster.pings", "pinbox", &[0xff])
        .is_empty());
}

#[test]
fn close_answers_and_unknown_or_bad_close_gets_the_errors() {
    let mut h = H::new();
    h.connect(1, "c");
    let (r, _) = h.close("c");
    assert_eq!(r.error, "");
    assert!(h.s.client_ids().is_empty());
    let (r, _) = h.close("c");
    assert_eq!(r.error, "stan: unknown clientID");
    let out = h.send(1, "_STAN.close.test-cluster", "r.close", &[0xff]);
    let r: CloseResponse = reply(&out, "r.close");
    assert_eq!(r.error, "stan: invalid close request");
    // §3.2: the closed client's publishes and pings are refused.
    let (ack, _) = h.publish(1, "c", "foo", b"x");
    assert_eq!(ack.error, "stan: invalid publish request");
}

#[test]
fn a_publish_before_close_is_acked_before_the_close_response() {
    let mut h = H::new();
    h.connect(1, "c");
    let (now, ns) = (h.now_ms, h.now_ns());
    let pm = encode(&H::pub_msg("c", "foo", b"x", "g"));
    h.s.on_message(1, b"_STAN.pub.test-cluster.foo", b"acks", &pm, now, ns);
    let close = encode(&CloseRequest {
        client_id: "c".into(),
    });
    h.s.on_message(1, b"_STAN.close.test-cluster", b"r.close", &close, now, ns);
    let out = h.s.take_outputs();
    let order = published_subjects(&out);
    assert_eq!(order, ["acks", "r.close"]);
}

#[test]
fn ghost_is_dropped_after_the_grace_period_and_its_unacked_go_to_the_other_member_at_once() {
    let mut h = H::new();
    h.connect(1, "old");
    h.connect(2, "new");
    let mut req = H::sub_req("old", "ticket:created", "in.old");
    req.q_group = "orders".into();
    req.ack_wait_in_secs = 30;
    let (_, _) = h.subscribe(1, &req);
    let mut req = H::sub_req("new", "ticket:created", "in.new");
    req.q_group = "orders".into();
    let (_, _) = h.subscribe(2, &req);
    h.connect(3, "pub");
    // Two messages: one to each member (fewest pending first).
    let (_, out1) = h.publish(3, "pub", "ticket:created", b"1");
    let (_, out2) = h.publish(3, "pub", "ticket:created", b"2");
    assert_eq!(seq_list(&out1, "in.old"), [1]);
    assert_eq!(seq_list(&out2, "in.new"), [2]);
    // The old listener is killed: its connection closes.
    h.now_ms += 10;
    h.s.on_connection_closed(1, h.now_ms);
    // While the ghost waits, new messages avoid it.
    let (_, out) = h.publish(3, "pub", "ticket:created", b"3");
    assert_eq!(seq_list(&out, "in.new"), [3]);
    assert!(seq_list(&out, "in.old").is_empty());
    // Grace period: probe of its heartbeat inbox, no answer, closed; seq 1 moves at once.
    let out = h.advance(3000);
    assert!(request_reply(&out, "hb.old").is_some(), "ghost probe");
    assert!(h.s.client("old").is_some());
    let out = h.advance(500);
    assert!(h.s.client("old").is_none(), "dropped");
    assert_eq!(seqs(&out, "in.new"), [(1, true, 1)]);
    // Well before the 30 s ack wait (issue 12: under 5 s).
    assert!(h.now_ms < 5000);
}

#[test]
fn ghost_that_comes_back_on_a_new_connection_keeps_everything() {
    let mut h = H::new();
    h.connect(1, "c");
    let (_, _) = h.subscribe(1, &H::sub_req("c", "foo", "in.c"));
    h.s.on_connection_closed(1, h.now_ms);
    assert!(h.s.client("c").expect("kept").disconnected);
    h.now_ms += 1000;
    // NATS reconnect: the next ping comes on connection 7.
    let ping = encode(&Ping {
        conn_id: b"conn-c".to_vec(),
    });
    h.send(7, "_STAN.discover.test-cluster.pings", "pinbox", &ping);
    let c = h.s.client("c").expect("kept");
    assert_eq!((c.disconnected, c.conn), (false, 7));
    let out = h.advance(10_000);
    assert!(request_reply(&out, "hb.c").is_none(), "no ghost probe");
    assert_eq!(h.s.client("c").expect("kept").subs, 1);
}

#[test]
fn ghost_that_answers_the_probe_is_kept() {
    let mut h = H::new();
    h.connect(1, "c");
    h.s.on_connection_closed(1, h.now_ms);
    let out = h.advance(3000);
    let probe = request_reply(&out, "hb.c").expect("probe");
    h.send(9, &probe, "", b"");
    h.advance(1000);
    let c = h.s.client("c").expect("kept");
    assert_eq!((c.disconnected, c.conn), (false, 9));
}

#[test]
fn options_with_unusable_subjects_are_refused() {
    for (cid, prefix) in [
        ("", "_STAN.discover"),
        ("a b", "_STAN.discover"),
        ("a.*", "_STAN.discover"),
        ("ok", "x..y"),
    ] {
        let o = StanOptions {
            cluster_id: cid.into(),
            discover_prefix: prefix.into(),
            ..opts()
        };
        assert!(
            StanServer::new(o, MemChannels, 0).is_err(),
            "{cid:?} {prefix:?}"
        );
    }
}

#[test]
fn a_ping_from_a_client_with_failed_heartbeats_brings_the_next_heartbeat_forward() {
    let mut o = opts();
    o.hb_interval_ms = 10_000;
    o.hb_timeout_ms = 100;
    let mut h = H::with(o);
    h.connect(1, "c");
    h.advance(10_100);
    assert_eq!(h.s.client("c").expect("c").failed_hbs, 1);
    // §3.3: the ping resets the heartbeat timer to 1 ms.
    let ping = encode(&Ping {
        conn_id: b"conn-c".to_vec(),
    });
    h.send(1, "_STAN.discover.test-cluster.pings", "pinbox", &ping);
    let out = h.advance(1);
    let reply_to = request_reply(&out, "hb.c").expect("heartbeat at once");
    h.send(1, &reply_to, "", b"");
    assert_eq!(h.s.client("c").expect("c").failed_hbs, 0);
}
