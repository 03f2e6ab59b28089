//! Atomic batches through `AccountStreams::publish`, without sockets: nothing is stored
//! before the commit, the commit stores all in one group commit (one file to sync with
//! `sync_interval: always`), and a check that fails at the commit stores none.

use std::cell::RefCell;
use std::rc::Rc;

use crate::jetstream::api::{self, ApiEnv, Response};
use crate::jetstream::batch::{HDR_BATCH_COMMIT, HDR_BATCH_ID, HDR_BATCH_SEQ};
use crate::jetstream::streams::AccountStreams;
use crate::test_dir::TempDir;
use crate::wheel::Wheel;

fn open(root: Option<&TempDir>) -> AccountStreams {
    let wheel = Rc::new(RefCell::new(Wheel::new(0)));
    let env = ApiEnv::new("2.15.1", 2);
    let root = root.map(|r| r.0.clone());
    AccountStreams::open_with_sync(root, true, true, env, 0, wheel)
}

fn create(a: &mut AccountStreams, body: &str) -> String {
    let mut env = a.env.clone();
    let name = serde_json::from_str::<serde_json::Value>(body).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let subj = format!("$JS.API.STREAM.CREATE.{name}");
    let r = api::handle(&subj, "_INBOX.x", b"", body.as_bytes(), 10, a, &mut env);
    let Response::Json(j) = r else {
        panic!("{r:?}")
    };
    String::from_utf8(j).unwrap()
}

fn hdr(id: &str, seq: u64, commit: bool, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut s = format!("NATS/1.0\r\n{HDR_BATCH_ID}: {id}\r\n{HDR_BATCH_SEQ}: {seq}\r\n");
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if commit {
        s.push_str(&format!("{HDR_BATCH_COMMIT}: 1\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Publishes a batch of `n` on `subj` with `extra` headers on message `at`; returns the
/// replies (empty for staged messages).
fn batch(
    a: &mut AccountStreams,
    id: &str,
    n: u64,
    subj: &str,
    extra: (u64, &[(&str, &str)]),
) -> Vec<String> {
    (1..=n)
        .map(|seq| {
            let ex = if seq == extra.0 { extra.1 } else { &[] };
            let out = a
                .publish("S", subj, &hdr(id, seq, seq == n, ex), b"x", 1_000_000_000)
                .expect("a reply");
            String::from_utf8(out.ack).unwrap()
        })
        .collect()
}

fn msgs(a: &AccountStreams) -> u64 {
    a.streams["S"].log.borrow().log().counters().msgs
}

#[test]
fn nothing_is_stored_before_the_commit_and_the_commit_stores_all_with_one_file_to_sync() {
    let dir = TempDir::new("batch-publish");
    let mut a = open(Some(&dir));
    let r = create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"allow_atomic":true}"#,
    );
    assert!(!r.contains("error"), "{r}");
    assert!(a.commit());
    a.unsynced.clear();
    for seq in 1..5 {
        let out = a
            .publish("S", "s.x", &hdr("b", seq, false, &[]), b"x", 1)
            .unwrap();
        assert!(out.ack.is_empty() && !out.after_commit);
        assert_eq!(msgs(&a), 0);
    }
    assert!(!a.streams["S"].dirty, "nothing to write yet");
    let out = a
        .publish("S", "s.x", &hdr("b", 5, true, &[]), b"x", 1)
        .unwrap();
    assert!(out.after_commit);
    assert_eq!(
        String::from_utf8(out.ack).unwrap(),
        r#"{"stream":"S","seq":5,"batch":"b","count":5}"#
    );
    assert_eq!(msgs(&a), 5);
    assert!(a.commit());
    assert_eq!(a.unsynced.len(), 1, "the whole batch is one segment's sync");
}

#[test]
fn a_batch_without_allow_atomic_is_refused() {
    let mut a = open(None);
    create(&mut a, r#"{"name":"S","subjects":["s.>"]}"#);
    let r = batch(&mut a, "b", 1, "s.x", (0, &[]));
    assert!(r[0].contains("10174"), "{r:?}");
    assert_eq!(msgs(&a), 0);
}

#[test]
fn a_commit_that_would_break_discard_new_stores_nothing() {
    let mut a = open(None);
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"allow_atomic":true,"max_msgs":3,"discard":"new"}"#,
    );
    let r = batch(&mut a, "b", 4, "s.x", (0, &[]));
    assert_eq!(&r[..3], ["", "", ""]);
    assert!(r[3].contains("maximum messages exceeded"), "{r:?}");
    assert_eq!(msgs(&a), 0);
    let r = batch(&mut a, "c", 3, "s.x", (0, &[]));
    assert!(r[2].contains(r#""count":3"#), "{r:?}");
    assert_eq!(msgs(&a), 3);
}

/// (message carrying the headers, the headers, what the commit's refusal contains).
type Case<'a> = (u64, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn expectations_duplicates_and_rollups_refuse_the_whole_batch() {
    let mut a = open(None);
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"allow_atomic":true,"allow_rollup_hdrs":true}"#,
    );
    let cases: &[Case] = &[
        (2, &[("Nats-Expected-Last-Sequence", "1")], "10164"),
        (
            2,
            &[("Nats-Expected-Last-Sequence", "5")],
            "wrong last sequence: 1",
        ),
        (2, &[("Nats-Expected-Last-Subject-Sequence", "0")], "10164"),
        (
            1,
            &[("Nats-Expected-Last-Msg-Id", "x")],
            "unsupported header used: Nats-Expected-Last-Msg-Id",
        ),
        (2, &[("Nats-Rollup", "sub")], "batch rollup sub invalid"),
        (2, &[("Nats-Rollup", "all")], "batch rollup all invalid"),
        (2, &[("Nats-TTL", "5s")], "10166"),
    ];
    for (i, (at, extra, want)) in cases.iter().enumerate() {
        let r = batch(&mut a, &format!("b{i}"), 3, "s.x", (*at, extra));
        assert!(r[2].contains(want), "case {i}: {r:?}");
        assert_eq!(msgs(&a), 0, "case {i}");
    }
    // The same id twice in a batch, or one already stored: 10201.
    let r = batch(&mut a, "m", 1, "s.x", (1, &[("Nats-Msg-Id", "m1")]));
    assert!(r[0].contains(r#""count":1"#), "{r:?}");
    let r = batch(&mut a, "n", 2, "s.y", (2, &[("Nats-Msg-Id", "m1")]));
    assert!(r[1].contains("10201"), "{r:?}");
    let dup = hdr("o", 1, false, &[("Nats-Msg-Id", "m2")]);
    a.publish("S", "s.z", &dup, b"x", 1).unwrap();
    let dup = hdr("o", 2, true, &[("Nats-Msg-Id", "m2")]);
    let r = a.publish("S", "s.z", &dup, b"x", 1).unwrap();
    assert!(String::from_utf8(r.ack).unwrap().contains("10201"));
    assert_eq!(msgs(&a), 1);
    // A rollup of everything as the first message is fine.
    let r = batch(&mut a, "r", 2, "s.r", (1, &[("Nats-Rollup", "all")]));
    assert!(r[1].contains(r#""seq":3,"batch":"r","count":2"#), "{r:?}");
    assert_eq!(msgs(&a), 2);
}

#[test]
fn counters_in_a_batch_keep_a_running_total() {
    let mut a = open(None);
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"allow_atomic":true,"allow_msg_counter":true}"#,
    );
    let h1 = hdr("c", 1, false, &[("Nats-Incr", "2")]);
    let h2 = hdr("c", 2, true, &[("Nats-Incr", "3")]);
    a.publish("S", "s.c", &h1, b"", 1).unwrap();
    let r = a.publish("S", "s.c", &h2, b"", 1).unwrap();
    assert_eq!(
        String::from_utf8(r.ack).unwrap(),
        r#"{"stream":"S","seq":2,"batch":"c","count":2}"#
    );
    let m = a.streams["S"].log.borrow_mut().get(2).unwrap().unwrap();
    assert_eq!(m.payload, br#"{"val":"5"}"#);
}

#[test]
fn a_fast_batch_message_is_refused_and_not_stored() {
    use crate::jetstream::batch_publish::is_fast_batch_reply;
    for (reply, fast) in [
        (&b"_IN.b.10.fail.1.0.$FI"[..], true),
        (b"x.$FI", true),
        (b".$FI", false),
        (b"$FI", false),
        (b"_IN.$FIX", false),
        (b"", false),
    ] {
        assert_eq!(is_fast_batch_reply(reply), fast, "{reply:?}");
    }
    let mut a = open(None);
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"max_msg_size":10}"#,
    );
    let out = a.refuse_fast_batch("S", "s.x", b"", b"x").unwrap();
    assert!(String::from_utf8(out.ack).unwrap().contains("10205"));
    let out = a.refuse_fast_batch("S", "s.x", b"", &[b'x'; 11]).unwrap();
    assert!(String::from_utf8(out.ack).unwrap().contains("10054"));
    assert!(!out.after_commit);
    assert_eq!(msgs(&a), 0);
    assert!(a.refuse_fast_batch("T", "s.x", b"", b"x").is_none());
}
