//! Mirrors and sources over real streams (memory and file), driven with explicit time.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::jetstream::api::backend::{MsgQuery, StateDetail, StreamBackend};
use crate::jetstream::api::ApiEnv;
use crate::wheel::Wheel;

use crate::test_dir::TempDir;

fn open(root: Option<std::path::PathBuf>) -> AccountStreams {
    let wheel = Rc::new(RefCell::new(Wheel::new(0)));
    let mut a = AccountStreams::open(root, false, ApiEnv::new("2.15.1", 0), 0, wheel);
    a.start_sourcing(5);
    a
}

/// A `$JS.API` request; returns the reply JSON.
fn api(a: &mut AccountStreams, subject: &str, body: &str) -> serde_json::Value {
    crate::jetstream::test_api::request(a, subject, body, 10)
}

fn create(a: &mut AccountStreams, config: &str) -> serde_json::Value {
    crate::jetstream::test_api::create(a, config, 10)
}

fn publish(a: &mut AccountStreams, stream: &str, subject: &str, data: &str, now: i64) {
    a.publish(stream, subject, b"", data.as_bytes(), now)
        .unwrap();
    assert!(a.commit());
}

/// (seq, subject, payload, timestamp) of every message of `stream`.
fn msgs(a: &AccountStreams, stream: &str) -> Vec<(u64, String, String, i64)> {
    let mut out = Vec::new();
    let mut from = 1;
    while let Ok(m) = a.get_msg(
        stream,
        &MsgQuery::NextBySubject {
            seq: from,
            subject: ">".into(),
        },
    ) {
        from = m.seq + 1;
        out.push((
            m.seq,
            m.subject,
            String::from_utf8_lossy(&m.data).into_owned(),
            m.time,
        ));
    }
    out
}

fn header(a: &AccountStreams, stream: &str, seq: u64) -> String {
    let m = a.get_msg(stream, &MsgQuery::Seq(seq)).unwrap();
    String::from_utf8_lossy(&m.hdrs).into_owned()
}

#[test]
fn mirror_holds_the_origin_sequences_and_timestamps_with_gaps_and_follows_new_ones() {
    let mut a = open(None);
    create(&mut a, r#"{"name":"O","subjects":["o.>"]}"#);
    for (i, subj) in ["o.a", "o.b", "o.a", "o.b", "o.a"].iter().enumerate() {
        publish(&mut a, "O", subj, &format!("m{}", i + 1), 100 + i as i64);
    }
    a.delete_msg("O", 2, false).unwrap();
    let r = create(&mut a, r#"{"name":"M","mirror":{"name":"O"}}"#);
    assert_eq!(r["mirror"]["name"], "O");
    create(
        &mut a,
        r#"{"name":"F","mirror":{"name":"O","filter_subject":"o.a"}}"#,
    );
    assert_eq!(msgs(&a, "M"), msgs(&a, "O"));
    let f: Vec<u64> = msgs(&a, "F").iter().map(|m| m.0).collect();
    assert_eq!(f, [1, 3, 5]);
    publish(&mut a, "O", "o.b", "m6", 200);
    publish(&mut a, "O", "o.a", "m7", 201);
    assert_eq!(msgs(&a, "M"), msgs(&a, "O"));
    let f: Vec<u64> = msgs(&a, "F").iter().map(|m| m.0).collect();
    assert_eq!(f, [1, 3, 5, 7]);
    let v = a.stream("F", &StateDetail::default()).unwrap();
    assert_eq!(
        (v.state.first_seq, v.state.last_seq, v.state.messages),
        (1, 7, 4)
    );
    let m = v.mirror.unwrap();
    assert_eq!((m.lag, m.active, m.filter_subject.as_str()), (0, 0, "o.a"));
    assert!(m.error.is_none());
}

#[test]
fn mirror_created_before_its_origin_starts_copying_when_the_origin_appears() {
    let mut a = open(None);
    let r = create(&mut a, r#"{"name":"EARLY","mirror":{"name":"LATER"}}"#);
    assert_eq!(r["mirror"]["active"], -1);
    let r = api(&mut a, "$JS.API.STREAM.INFO.EARLY", "");
    assert_eq!(r["mirror"]["error"]["err_code"], 10059);
    create(&mut a, r#"{"name":"LATER","subjects":["later"]}"#);
    publish(&mut a, "LATER", "later", "L1", 300);
    assert_eq!(msgs(&a, "EARLY"), msgs(&a, "LATER"));
    let r = api(&mut a, "$JS.API.STREAM.INFO.EARLY", "");
    assert!(r["mirror"].get("error").is_none(), "{r}");
    api(&mut a, "$JS.API.STREAM.DELETE.LATER", "");
    a.now_ns = 1_000;
    let r = api(&mut a, "$JS.API.STREAM.INFO.EARLY", "");
    assert_eq!(r["mirror"]["error"]["err_code"], 10059);
    assert!(r["mirror"]["active"].as_i64().unwrap() >= 0, "{r}");
}

#[test]
fn sources_append_with_their_header_and_keep_their_positions_across_a_reopen() {
    let dir = TempDir::new("sourcing-sources");
    let mut a = open(Some(dir.0.clone()));
    create(&mut a, r#"{"name":"S1","subjects":["s1.>"]}"#);
    create(&mut a, r#"{"name":"S2","subjects":["s2.>"]}"#);
    publish(&mut a, "S1", "s1.a", "a1", 100);
    publish(&mut a, "S2", "s2.a", "b1", 101);
    publish(&mut a, "S2", "s2.b", "b2", 102);
    create(
        &mut a,
        r#"{"name":"AGG","subjects":["agg"],"sources":[{"name":"S1"},
            {"name":"S2","filter_subject":"s2.a"},
            {"name":"S1","subject_transforms":[{"src":"s1.*","dest":"t.$1"}]}]}"#,
    );
    assert!(a.commit());
    let got: Vec<(u64, String)> = msgs(&a, "AGG").into_iter().map(|m| (m.0, m.1)).collect();
    let want = [(1, "s1.a"), (2, "s2.a"), (3, "t.a")];
    assert_eq!(got, want.map(|(s, n)| (s, n.to_string())));
    let ident = stream_ident(a.streams["S1"].created);
    assert!(
        header(&a, "AGG", 1).contains(&format!("Nats-Stream-Source: S1 1 > > s1.a {ident}\r\n")),
        "{}",
        header(&a, "AGG", 1)
    );
    assert!(header(&a, "AGG", 3).contains("Nats-Stream-Source: S1 1 s1.* t.$1 s1.a "));
    publish(&mut a, "S1", "s1.b", "a2", 103);
    assert_eq!(msgs(&a, "AGG").len(), 5);
    let v = a.stream("AGG", &StateDetail::default()).unwrap();
    let seqs: Vec<u64> = v.sources.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, [2, 1, 2]);
    drop(a);

    // Without the hint file the positions come from the copies' headers alone.
    let _ = std::fs::remove_file(dir.0.join("streams/AGG/sources.json"));
    let mut b = open(Some(dir.0.clone()));
    assert!(b.commit());
    assert_eq!(msgs(&b, "AGG").len(), 5, "nothing copied twice");
    publish(&mut b, "S1", "s1.c", "a3", 104);
    publish(&mut b, "S2", "s2.a", "b3", 105);
    let tail: Vec<String> = msgs(&b, "AGG")[5..].iter().map(|m| m.1.clone()).collect();
    assert_eq!(tail, ["s1.c", "t.c", "s2.a"]);
    drop(b);

    // A purge takes the headers; the hint written before it keeps the positions.
    let mut c = open(Some(dir.0.clone()));
    let r = api(&mut c, "$JS.API.STREAM.PURGE.AGG", "");
    assert_eq!(r["success"], true, "{r}");
    assert!(c.commit());
    drop(c);
    let mut d = open(Some(dir.0.clone()));
    assert!(d.commit());
    assert!(
        msgs(&d, "AGG").is_empty(),
        "nothing copied again after the purge"
    );
    publish(&mut d, "S2", "s2.a", "b4", 106);
    assert_eq!(msgs(&d, "AGG").len(), 1);
}

#[test]
fn a_mirror_reopened_goes_on_from_its_own_last_sequence() {
    let dir = TempDir::new("sourcing-mirror-reopen");
    let mut a = open(Some(dir.0.clone()));
    create(&mut a, r#"{"name":"O","subjects":["o.>"]}"#);
    create(
        &mut a,
        r#"{"name":"M","mirror":{"name":"O","filter_subject":"o.a"}}"#,
    );
    publish(&mut a, "O", "o.a", "1", 100);
    publish(&mut a, "O", "o.b", "2", 101);
    publish(&mut a, "O", "o.a", "3", 102);
    drop(a);
    let mut b = open(Some(dir.0.clone()));
    assert!(b.commit());
    publish(&mut b, "O", "o.a", "4", 103);
    let seqs: Vec<u64> = msgs(&b, "M").iter().map(|m| m.0).collect();
    assert_eq!(seqs, [1, 3, 4]);
    let v = b.stream("M", &StateDetail::default()).unwrap();
    assert!(v.state.lost.is_none(), "{:?}", v.state);
}

#[test]
fn copy_headers_drop_expectations_and_batches_and_replace_the_source_line() {
    let h = b"NATS/1.0\r\nA: 1\r\nNats-Expected-Stream: X\r\nNats-Batch-Id: b\r\nNats-Stream-Source: old\r\n\r\n";
    assert_eq!(
        copy_headers(h, Some("S 1 > > s x")),
        b"NATS/1.0\r\nA: 1\r\nNats-Stream-Source: S 1 > > s x\r\n\r\n"
    );
    assert_eq!(
        copy_headers(h, None),
        b"NATS/1.0\r\nA: 1\r\nNats-Stream-Source: old\r\n\r\n"
    );
    assert_eq!(copy_headers(b"", None), b"");
    assert_eq!(
        copy_headers(b"", Some("S 1 > > s")),
        b"NATS/1.0\r\nNats-Stream-Source: S 1 > > s\r\n\r\n"
    );
    assert_eq!(
        parse_source_header("S1 7 s1.* t.$1 s1.a iCi3pTkC"),
        Some(("S1 s1.* t.$1".to_string(), 7, "iCi3pTkC"))
    );
    assert_eq!(parse_source_header("S1 x > > a"), None);
}

#[test]
fn stream_ident_is_nats_servers_hash_of_the_creation_time() {
    // Seen on nats-server 2.15.1: a stream created at this time has ident iCi3pTkC.
    let t = chrono::DateTime::parse_from_rfc3339("2026-12-04T22:35:19.408753614Z").unwrap();
    assert_eq!(stream_ident(t.timestamp_nanos_opt().unwrap()), "iCi3pTkC");
}

#[test]
fn a_turn_stops_at_its_bound_and_the_backlog_goes_on_at_the_next_commit() {
    let mut a = open(None);
    a.copy_turn_max = 3;
    create(&mut a, r#"{"name":"O","subjects":["o.>"]}"#);
    for i in 0..10 {
        publish(&mut a, "O", "o.x", &format!("{i}"), 100 + i);
    }
    create(&mut a, r#"{"name":"M","mirror":{"name":"O"}}"#);
    assert_eq!(msgs(&a, "M").len(), 3);
    assert!(a.wants_commit(), "a backlog asks for another commit");
    let v = a.stream("M", &StateDetail::default()).unwrap();
    assert_eq!(v.mirror.unwrap().lag, 7);
    a.resume_sourcing(200);
    assert_eq!(msgs(&a, "M").len(), 6);
    a.resume_sourcing(201);
    a.resume_sourcing(202);
    assert_eq!(msgs(&a, "M"), msgs(&a, "O"));
    assert!(a.commit());
    a.resume_sourcing(203);
    assert!(!a.wants_commit(), "caught up: {:?}", a.kicked);
}

#[test]
fn a_sealed_or_full_discard_new_stream_holds_its_copies_back_as_lag() {
    let mut a = open(None);
    create(&mut a, r#"{"name":"O","subjects":["o.>"]}"#);
    create(
        &mut a,
        r#"{"name":"A","sources":[{"name":"O"}],"max_msgs":2,"discard":"new"}"#,
    );
    for i in 0..3 {
        publish(&mut a, "O", "o.x", &format!("{i}"), 100 + i);
    }
    assert_eq!(msgs(&a, "A").len(), 2);
    let v = a.stream("A", &StateDetail::default()).unwrap();
    assert_eq!((v.sources[0].lag, v.sources[0].seq), (1, 2));
    create(&mut a, r#"{"name":"B","sources":[{"name":"O"}]}"#);
    let r = api(
        &mut a,
        "$JS.API.STREAM.UPDATE.B",
        r#"{"name":"B","sources":[{"name":"O"}],"sealed":true}"#,
    );
    assert!(r.get("error").is_none(), "{r}");
    publish(&mut a, "O", "o.x", "3", 200);
    assert_eq!(
        msgs(&a, "B").len(),
        3,
        "nothing copied into the sealed stream"
    );
}

#[test]
fn chains_copy_down_and_commit_origins_first_and_a_cycle_ends() {
    let mut a = open(None);
    create(&mut a, r#"{"name":"O","subjects":["o.>"]}"#);
    create(&mut a, r#"{"name":"M","mirror":{"name":"O"}}"#);
    create(&mut a, r#"{"name":"MM","mirror":{"name":"M"}}"#);
    publish(&mut a, "O", "o.x", "1", 100);
    assert_eq!(msgs(&a, "MM"), msgs(&a, "O"));
    assert_eq!(
        (a.link_depth("O"), a.link_depth("M"), a.link_depth("MM")),
        (0, 1, 2)
    );
    // Two streams sourcing each other copy back and forth only up to the turn's bound.
    a.copy_turn_max = 10;
    create(
        &mut a,
        r#"{"name":"P","subjects":["p"],"sources":[{"name":"Q"}]}"#,
    );
    create(
        &mut a,
        r#"{"name":"Q","subjects":["q"],"sources":[{"name":"P"}]}"#,
    );
    publish(&mut a, "P", "p", "ping", 200);
    let copies = msgs(&a, "P").len() + msgs(&a, "Q").len();
    assert!(copies <= 1 + 10, "{copies}");
    assert!(a.link_depth("P") <= a.streams.len() + 1);
}

#[test]
fn a_counter_stream_adds_counter_copies_and_stops_at_one_that_is_no_counter() {
    let mut a = open(None);
    create(
        &mut a,
        r#"{"name":"C","subjects":["c.>"],"allow_msg_counter":true}"#,
    );
    create(&mut a, r#"{"name":"N","subjects":["n.>"]}"#);
    let incr = |a: &mut AccountStreams, v: &str, now: i64| {
        let h = format!("NATS/1.0\r\nNats-Incr: {v}\r\n\r\n");
        a.publish("C", "c.x", h.as_bytes(), b"", now).unwrap();
        assert!(a.commit());
    };
    incr(&mut a, "4", 20);
    create(
        &mut a,
        r#"{"name":"A","allow_msg_counter":true,"sources":[{"name":"C"},{"name":"N"}]}"#,
    );
    incr(&mut a, "-1", 21);
    let vals: Vec<String> = msgs(&a, "A").into_iter().map(|m| m.2).collect();
    assert_eq!(vals, [r#"{"val":"4"}"#, r#"{"val":"3"}"#]);
    assert!(header(&a, "A", 2).contains("Nats-Incr: -1\r\n"));
    // A plain message is no counter: the link stays at it (nats-server retries it).
    publish(&mut a, "N", "n.x", "plain", 22);
    publish(&mut a, "N", "n.x", "plain", 23);
    incr(&mut a, "10", 24);
    let vals: Vec<String> = msgs(&a, "A").into_iter().map(|m| m.2).collect();
    assert_eq!(
        vals,
        [r#"{"val":"4"}"#, r#"{"val":"3"}"#, r#"{"val":"13"}"#],
        "C's copies go on, N's are not stored"
    );
    let n = a.streams["A"]
        .links
        .iter()
        .find(|l| l.origin == "N")
        .unwrap()
        .next_seq;
    assert_eq!(n, Some(1), "N's link waits at its first message");
}
