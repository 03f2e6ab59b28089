//! A core restarted over the same file store mid-scenario (issue 12, point 4: "messages,
//! clients, subscriptions, pending and acks survive a restart and a kill -9"): each restart
//! drops the core without a CloseRequest or a connection report, as a kill -9 would, and
//! starts a new one over the directory. Behaviour after restart follows nats-streaming-
//! server's `processRecoveredChannels`/`performRedeliveryOnStartup` (restore.rs says where
//! natrix differs).

use std::path::{Path, PathBuf};

use super::proto::*;
use super::state::{self, CutReason};
use super::tests_support::*;
use super::*;

/// A temp directory removed when the test ends, pass or fail.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("natrix-stan-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type FH = H<FileChannels>;

fn state_file(dir: &Path) -> PathBuf {
    dir.join(state_log::STATE_DIR).join(state_log::STATE_FILE)
}

/// Kills the core (nothing is closed or reported) and starts another `after_ms` later, with a
/// new server token as a new process would have.
fn restart(h: FH, dir: &Path, after_ms: u64) -> FH {
    let at = h.now_ms + after_ms;
    drop(h);
    let o = StanOptions {
        server_token: "U".into(),
        ..opts()
    };
    FH::file(dir, o, at)
}

/// The log on disk rebuilds exactly the live state.
fn assert_log_matches(h: &FH, dir: &Path, step: &str) {
    let bytes = std::fs::read(state_file(dir)).expect("state log");
    let r = state::recover(&bytes);
    assert_eq!(r.cut, None, "{step}");
    assert_eq!(r.state, h.s.export_state(), "{step}");
}

fn listen(h: &mut FH, conn: ConnId, id: &str, durable: &str) -> String {
    h.connect(conn, id);
    let mut r = FH::sub_req_for(id, "ticket:created", &format!("in.{id}"));
    r.q_group = "orders-service".into();
    r.durable_name = durable.into();
    r.start_position = StartPosition::First as i32;
    r.ack_wait_in_secs = 30;
    h.subscribe(conn, &r).0
}

impl FH {
    fn sub_req_for(id: &str, channel: &str, inbox: &str) -> SubscriptionRequest {
        H::sub_req(id, channel, inbox)
    }

    fn ping(&mut self, conn: ConnId, id: &str) -> Vec<Output> {
        let p = Ping {
            conn_id: format!("conn-{id}").into_bytes(),
        };
        self.send(
            conn,
            "_STAN.discover.test-cluster.pings",
            "r.ping",
            &encode(&p),
        )
    }

    /// Answers the request the core published on `subject` (a heartbeat or probe).
    fn answer(&mut self, conn: ConnId, out: &[Output], subject: &str) -> Vec<Output> {
        let reply = request_reply(out, subject).expect("a request to answer");
        self.send(conn, &reply, "", b"")
    }
}

/// `(member, seq)` of every delivery on the members' inboxes.
fn deliveries(out: &[Output], ids: &[&str]) -> Vec<(String, u64, bool)> {
    let mut got = Vec::new();
    for id in ids {
        for (seq, redelivered, _) in seqs(out, &format!("in.{id}")) {
            got.push((id.to_string(), seq, redelivered));
        }
    }
    got
}

#[test]
fn seed_000_unacked_messages_come_back_first_after_a_restart_and_acked_ones_never() {
    let dir = Dir::new("seed000");
    let mut h = FH::file(&dir.0, opts(), 0);
    h.connect(9, "publisher");
    let ack_a = listen(&mut h, 1, "svc-a", "orders-service");
    let ack_b = listen(&mut h, 2, "svc-b", "orders-service");
    let mut got = Vec::new();
    for i in 1..=6 {
        let (ack, out) = h.publish(9, "publisher", "ticket:created", format!("t{i}").as_bytes());
        assert_eq!(ack.error, "");
        got.extend(deliveries(&out, &["svc-a", "svc-b"]));
    }
    assert_eq!(got.len(), 6);
    // svc-a acks what it got; svc-b fails to process its messages (no ack).
    let mut acked = Vec::new();
    let mut unacked = Vec::new();
    for (id, seq, _) in &got {
        if id == "svc-a" {
            h.ack(1, &ack_a, "ticket:created", *seq);
            acked.push(*seq);
        } else {
            unacked.push(*seq);
        }
    }
    assert!(!acked.is_empty() && !unacked.is_empty(), "{got:?}");
    assert_log_matches(&h, &dir.0, "before the kill");

    let mut h = restart(h, &dir.0, 2_000);
    let rep = h.s.recovery().expect("recovered").clone();
    assert_eq!((rep.clients, rep.subs, rep.cut), (3, 2, None));
    assert_eq!(h.s.client_ids(), ["publisher", "svc-a", "svc-b"]);
    assert_eq!(h.s.channel("ticket:created").expect("channel").last_seq, 6);
    // The acks still arrive on the inboxes of the first start (its token "T", not "U").
    assert!(ack_a.starts_with("_INBOX.T.ack."));
    assert!(h
        .s
        .internal_subjects()
        .contains(&"_INBOX.T.ack.*".to_string()));
    // The clients' NATS connections come back: svc-a pings, the publisher publishes.
    let out = h.ping(11, "svc-a");
    let pong: PingResponse = reply(&out, "r.ping");
    assert_eq!(pong.error, "");
    let (ack, out) = h.publish(19, "publisher", "ticket:created", b"t7");
    assert_eq!(ack.error, "", "publishes are acked after the restart");
    let seven = deliveries(&out, &["svc-a", "svc-b"]);
    assert_eq!(
        seven,
        [("svc-a".to_string(), 7, false)],
        "svc-b holds until heard from"
    );
    h.ack(11, &ack_a, "ticket:created", 7);
    // svc-b answers the probe at the end of the grace period: its unacked messages first,
    // flagged redelivered.
    let probes = h.advance(3_000);
    let out = h.answer(12, &probes, "hb.svc-b");
    let again = deliveries(&out, &["svc-a", "svc-b"]);
    let expect: Vec<(String, u64, bool)> = unacked
        .iter()
        .map(|&s| ("svc-b".to_string(), s, true))
        .collect();
    assert_eq!(again, expect);
    for seq in &unacked {
        h.ack(12, &ack_b, "ticket:created", *seq);
    }
    assert_log_matches(&h, &dir.0, "after the redelivery");
    // A second kill: everything was acked, so nothing is ever delivered again.
    let mut h = restart(h, &dir.0, 1_000);
    let mut out = h.ping(21, "svc-a");
    out.extend(h.ping(22, "svc-b"));
    out.extend(h.ping(23, "publisher"));
    out.extend(h.advance(120_000));
    assert_eq!(deliveries(&out, &["svc-a", "svc-b"]), []);
    assert_eq!(h.s.client_ids(), ["publisher", "svc-a", "svc-b"]);
}

#[test]
fn a_recovered_client_id_is_still_registered_and_a_duplicate_connect_is_probed() {
    let dir = Dir::new("dup");
    let mut h = FH::file(&dir.0, opts(), 0);
    h.connect(1, "c");
    h.connect(2, "d");
    let mut h = restart(h, &dir.0, 1_000);
    // The original is alive: it answers the probe, the newcomer is refused.
    let out = h.connect_raw(5, &H::connect_req("c"));
    assert!(
        publishes(&out, "r.connect").next().is_none(),
        "waits for the probe"
    );
    let out = h.answer(1, &out, "hb.c");
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(r.error, "stan: clientID already registered");
    // The original is gone: no answer within 500 ms, the newcomer takes the ID.
    let out = h.connect_raw(6, &H::connect_req("d"));
    assert!(request_reply(&out, "hb.d").is_some());
    let out = h.advance(500);
    let r: ConnectResponse = reply(&out, "r.connect");
    assert_eq!(r.error, "");
    assert_eq!(h.s.client("d").expect("d").conn, 6);
}

#[test]
fn a_recovered_client_that_does_not_answer_is_closed_and_its_queue_pending_moves() {
    let dir = Dir::new("ghost");
    let mut h = FH::file(&dir.0, opts(), 0);
    h.connect(9, "publisher");
    // A plain (non-durable) queue group.
    let ack_a = listen(&mut h, 1, "svc-a", "");
    let _ack_b = listen(&mut h, 2, "svc-b", "");
    let mut held_by_b = Vec::new();
    for i in 1..=4 {
        let (_, out) = h.publish(9, "publisher", "ticket:created", format!("t{i}").as_bytes());
        for (id, seq, _) in deliveries(&out, &["svc-a", "svc-b"]) {
            if id == "svc-a" {
                h.ack(1, &ack_a, "ticket:created", seq);
            } else {
                held_by_b.push(seq);
            }
        }
    }
    assert!(!held_by_b.is_empty());
    let mut h = restart(h, &dir.0, 1_000);
    h.ping(11, "svc-a");
    h.ping(19, "publisher");
    let out = h.advance(3_000);
    assert!(
        request_reply(&out, "hb.svc-b").is_some(),
        "probed after the grace"
    );
    // svc-b never answers: closed, its messages go to svc-a at once, flagged redelivered.
    let out = h.advance(500);
    assert!(h.s.client("svc-b").is_none());
    assert_eq!(h.s.client_ids(), ["publisher", "svc-a"]);
    let moved = deliveries(&out, &["svc-a", "svc-b"]);
    let expect: Vec<(String, u64, bool)> = held_by_b
        .iter()
        .map(|&s| ("svc-a".to_string(), s, true))
        .collect();
    assert_eq!(moved, expect);
    assert_log_matches(&h, &dir.0, "after the ghost");
}

#[test]
fn a_closed_durable_resumes_at_its_position_after_a_restart() {
    let dir = Dir::new("durable");
    let mut h = FH::file(&dir.0, opts(), 0);
    h.connect(1, "c");
    let mut r = H::sub_req("c", "foo", "in");
    r.durable_name = "dur".into();
    r.start_position = StartPosition::First as i32;
    let (ack, _) = h.subscribe(1, &r);
    for _ in 0..4 {
        h.publish(1, "c", "foo", b"x");
    }
    h.ack(1, &ack, "foo", 1);
    h.ack(1, &ack, "foo", 2);
    let (err, _) = h.unsub(true, "c", "foo", &ack);
    assert_eq!(err, "");
    h.publish(1, "c", "foo", b"5");
    let mut h = restart(h, &dir.0, 1_000);
    assert!(h.s.channel("foo").expect("foo").subs[0].is_offline);
    let (_, out) = h.subscribe(7, &r);
    // Unacked 3 and 4 first, flagged; then 5, new.
    assert_eq!(
        seqs(&out, "in"),
        [(3, true, 1), (4, true, 1), (5, false, 0)]
    );
}

#[test]
fn a_plain_subscription_of_a_recovered_client_comes_back_with_its_pending() {
    let dir = Dir::new("plain");
    let mut h = FH::file(&dir.0, opts(), 0);
    h.connect(1, "c");
    let (ack, _) = h.subscribe(1, &H::sub_req("c", "foo", "in"));
    h.publish(1, "c", "foo", b"1");
    h.publish(1, "c", "foo", b"2");
    h.ack(1, &ack, "foo", 1);
    let mut h = restart(h, &dir.0, 1_000);
    // Held until the client is heard from: its publish resumes it, 2 comes back before 3.
    let (pub_ack, out) = h.publish(3, "c", "foo", b"3");
    assert_eq!(pub_ack.error, "");
    assert_eq!(seqs(&out, "in"), [(2, true, 1), (3, false, 0)]);
    let order = published_subjects(&out);
    assert_eq!(order, ["in", "in", "acks"]);
}

#[test]
fn a_torn_state_log_is_cut_at_restart_and_rewritten_whole() {
    let dir = Dir::new("torn");
    let mut h = FH::file(&dir.0, opts(), 0);
    h.connect(1, "c");
    h.subscribe(1, &H::sub_req("c", "foo", "in"));
    h.publish(1, "c", "foo", b"1");
    let before = h.s.export_state();
    drop(h);
    // A kill -9 in the middle of the next append.
    let mut frame = Vec::new();
    state::encode_frame(vec![state::Ev::ClientDel("c".into())], &mut frame);
    let path = state_file(&dir.0);
    let mut bytes = std::fs::read(&path).expect("read");
    let good = bytes.len();
    bytes.extend_from_slice(&frame[..frame.len() - 2]);
    std::fs::write(&path, &bytes).expect("write");
    let h = FH::file(&dir.0, opts(), 1_000);
    let cut = h.s.recovery().and_then(|r| r.cut).expect("cut");
    assert_eq!((cut.at, cut.reason), (good, CutReason::Short));
    assert_eq!(h.s.export_state(), before, "the torn batch is not applied");
    assert_log_matches(&h, &dir.0, "rewritten at start");
}

#[test]
fn the_state_log_is_compacted_when_it_outgrows_its_snapshot() {
    let dir = Dir::new("compact");
    let o = StanOptions {
        state_compact_bytes_min: 2_048,
        ..opts()
    };
    let mut h = FH::file(&dir.0, o, 0);
    h.connect(1, "c");
    let (ack, _) = h.subscribe(1, &H::sub_req("c", "foo", "in"));
    let mut largest = 0;
    for seq in 1..=400 {
        h.publish(1, "c", "foo", b"x");
        h.ack(1, &ack, "foo", seq);
        largest = largest.max(std::fs::metadata(state_file(&dir.0)).expect("log").len());
    }
    assert!(largest < 8_192, "compacted: {largest} bytes at most");
    assert_log_matches(&h, &dir.0, "after 400 acks");
}

#[test]
fn another_cluster_id_over_the_same_store_is_refused() {
    let dir = Dir::new("cid");
    let h = FH::file(&dir.0, opts(), 0);
    drop(h);
    let o = StanOptions {
        cluster_id: "other".into(),
        ..opts()
    };
    let f = FileChannels::new(dir.0.clone());
    let err = StanServer::new(o, f, 0).err().expect("refused");
    assert_eq!(
        err.to_string(),
        "cluster ID \"other\" does not match recovered value of \"test-cluster\""
    );
}

/// Every kind of change, each followed by a check that the log on disk rebuilds the live
/// state exactly, then a restart that brings it back.
#[test]
fn the_log_rebuilds_exactly_the_live_state_after_every_batch() {
    let dir = Dir::new("mirror");
    let d = &dir.0;
    let mut h = FH::file(d, opts(), 0);
    for (conn, id) in [(1, "a"), (2, "b"), (3, "c")] {
        h.connect(conn, id);
    }
    assert_log_matches(&h, d, "connects");
    let (plain, _) = h.subscribe(1, &H::sub_req("a", "foo", "in.plain"));
    let mut dreq = H::sub_req("a", "foo", "in.dur");
    dreq.durable_name = "dur".into();
    dreq.start_position = StartPosition::First as i32;
    let (dur, _) = h.subscribe(1, &dreq);
    let mut q = |conn: ConnId, id: &str, durable: &str| {
        let mut r = H::sub_req(id, "foo", &format!("in.q.{id}.{durable}"));
        r.q_group = "q".into();
        r.durable_name = durable.into();
        r.ack_wait_in_secs = 1;
        h.subscribe(conn, &r).0
    };
    let qa = q(1, "a", "");
    let _qb = q(2, "b", "");
    let dqb = q(2, "b", "d");
    let _dqc = q(3, "c", "d");
    assert_log_matches(&h, d, "subscribes");
    for i in 1..=8 {
        h.publish(3, "c", "foo", format!("m{i}").as_bytes());
    }
    assert_log_matches(&h, d, "publishes");
    for seq in [1, 2, 5] {
        h.ack(1, &plain, "foo", seq);
        h.ack(1, &dur, "foo", seq);
        h.ack(1, &qa, "foo", seq);
        h.ack(2, &dqb, "foo", seq);
    }
    assert_log_matches(&h, d, "acks");
    h.advance(1_000);
    assert_log_matches(&h, d, "queue redelivery");
    let (e, _) = h.unsub(false, "a", "foo", &qa);
    assert_eq!(e, "");
    assert_log_matches(&h, d, "queue member leaves");
    let (e, _) = h.unsub(true, "a", "foo", &dur);
    assert_eq!(e, "");
    assert_log_matches(&h, d, "durable closed");
    let (r, _) = h.close("b");
    assert_eq!(r.error, "");
    assert_log_matches(&h, d, "client b closed");
    h.s.on_connection_closed(3, h.now_ms);
    h.advance(3_500);
    assert!(h.s.client("c").is_none(), "c was a ghost");
    assert_log_matches(&h, d, "ghost c closed: durable group shadow");
    h.connect(4, "c");
    let mut r = H::sub_req("c", "foo", "in.q.c.d");
    r.q_group = "q".into();
    r.durable_name = "d".into();
    h.subscribe(4, &r);
    h.publish(4, "c", "foo", b"m9");
    assert_log_matches(&h, d, "shadow taken over");
    let before = h.s.export_state();
    let h = restart(h, d, 100);
    assert_eq!(h.s.export_state(), before, "restart");
    assert_log_matches(&h, d, "after restart");
}
