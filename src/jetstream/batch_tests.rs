//! The staging of atomic batches without a stream: sequences, gaps, commits, limits, the idle
//! timeout on a fake clock, and the header edits.

use super::*;

fn block(h: &[(&str, &str)]) -> Vec<u8> {
    let mut s = "NATS/1.0\r\n".to_string();
    for (k, v) in h {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Stages message `seq` of batch `id` on stream "S", with `commit` if given.
fn put(b: &mut Batches, id: &str, seq: &str, commit: Option<&str>, now_ms: u64) -> Staged {
    let mut h = vec![(HDR_BATCH_ID, id), (HDR_BATCH_SEQ, seq)];
    if let Some(c) = commit {
        h.push((HDR_BATCH_COMMIT, c));
    }
    let hdr = block(&h);
    let hdrs = Headers::parse(&hdr).unwrap();
    let msg = StagedMsg {
        subject: format!("s.{seq}"),
        hdr: hdr.clone(),
        data: b"x".to_vec(),
    };
    b.stage("S", id, &hdrs, msg, 2, now_ms)
}

fn committed(s: Staged) -> Committed {
    match s {
        Staged::Commit(c) => c,
        other => panic!("not a commit: {other:?}"),
    }
}

#[test]
fn a_batch_is_held_until_its_commit_then_handed_back_whole_and_forgotten() {
    let mut b = Batches::default();
    assert_eq!(put(&mut b, "a", "1", None, 0), Staged::Held);
    assert_eq!(put(&mut b, "a", "2", None, 0), Staged::Held);
    assert_eq!(b.len(), 1);
    assert!(b.staged_bytes() > 0);
    let c = committed(put(&mut b, "a", "3", Some("1"), 0));
    let subjects: Vec<_> = c.msgs.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["s.1", "s.2", "s.3"]);
    assert!(!c.eob);
    assert!(b.is_empty());
    assert_eq!(b.staged_bytes(), 0);
    // The id may be used again from 1.
    assert_eq!(
        put(&mut b, "a", "2", None, 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
}

#[test]
fn an_end_marker_is_not_stored_and_the_last_message_gets_the_commit_header() {
    let mut b = Batches::default();
    put(&mut b, "a", "1", None, 0);
    put(&mut b, "a", "2", None, 0);
    let c = committed(put(&mut b, "a", "3", Some("eob"), 0));
    assert!(c.eob);
    assert_eq!(c.msgs.len(), 2);
    let last = String::from_utf8(c.msgs[1].hdr.clone()).unwrap();
    assert!(
        last.ends_with("Nats-Batch-Sequence: 2\r\nNats-Batch-Commit: 1\r\n\r\n"),
        "{last}"
    );
    // eob as the first message is an empty batch: incomplete.
    assert_eq!(
        put(&mut b, "e", "1", Some("eob"), 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
    assert!(b.is_empty());
}

#[test]
fn a_gap_or_a_repeated_sequence_drops_the_batch() {
    let mut b = Batches::default();
    put(&mut b, "a", "1", None, 0);
    assert_eq!(
        put(&mut b, "a", "3", None, 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
    assert!(b.is_empty(), "dropped");
    assert_eq!(
        put(&mut b, "a", "2", Some("1"), 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
    put(&mut b, "r", "1", None, 0);
    assert_eq!(
        put(&mut b, "r", "1", None, 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
    assert!(b.is_empty());
}

#[test]
fn header_refusals_in_nats_server_order() {
    let mut b = Batches::default();
    let long = "x".repeat(BATCH_ID_BYTES_MAX + 1);
    assert_eq!(
        put(&mut b, &long, "1", None, 0),
        Staged::Refused(ApiError::AtomicPublishInvalidBatchId)
    );
    let max = "x".repeat(BATCH_ID_BYTES_MAX);
    assert_eq!(put(&mut b, &max, "1", None, 0), Staged::Held);
    for bad in ["", "abc", "-1", "+2"] {
        assert_eq!(
            put(&mut b, "a", bad, None, 0),
            Staged::Refused(ApiError::AtomicPublishMissingSeq),
            "{bad:?}"
        );
    }
    assert_eq!(
        put(&mut b, "a", "1", Some("yes"), 0),
        Staged::Refused(ApiError::AtomicPublishInvalidBatchCommit)
    );
    assert_eq!(b.len(), 1, "the invalid commit's batch is dropped");
    // An unknown batch past the size limit is too large, else incomplete.
    let over = (BATCH_MSGS_MAX + 1).to_string();
    assert_eq!(
        put(&mut b, "u", &over, None, 0),
        Staged::Refused(ApiError::AtomicPublishTooLargeBatch(BATCH_MSGS_MAX))
    );
    assert_eq!(
        put(&mut b, "u", &over, Some("eob"), 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
    assert_eq!(
        put(&mut b, "u", "0", None, 0),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
}

#[test]
fn a_batch_past_the_size_limit_is_refused_and_dropped() {
    let mut b = Batches::default();
    for seq in 1..=BATCH_MSGS_MAX {
        assert_eq!(put(&mut b, "a", &seq.to_string(), None, 0), Staged::Held);
    }
    let next = (BATCH_MSGS_MAX + 1).to_string();
    // The end marker does not count: the batch commits at the limit.
    let c = committed(put(&mut b, "a", &next, Some("eob"), 0));
    assert_eq!(c.msgs.len() as u64, BATCH_MSGS_MAX);
    for seq in 1..=BATCH_MSGS_MAX {
        put(&mut b, "a", &seq.to_string(), None, 0);
    }
    assert_eq!(
        put(&mut b, "a", &next, Some("1"), 0),
        Staged::Refused(ApiError::AtomicPublishTooLargeBatch(BATCH_MSGS_MAX))
    );
    assert!(b.is_empty());
}

#[test]
fn in_flight_limits_per_stream_and_over_the_account() {
    let mut b = Batches::default();
    for i in 0..BATCH_INFLIGHT_PER_STREAM_MAX {
        assert_eq!(put(&mut b, &format!("b{i}"), "1", None, 0), Staged::Held);
    }
    assert_eq!(
        put(&mut b, "one more", "1", None, 0),
        Staged::Refused(ApiError::AtomicPublishTooManyInflight)
    );
    // Another stream still has room until the account's limit.
    let hdr = block(&[(HDR_BATCH_ID, "t"), (HDR_BATCH_SEQ, "1")]);
    let hdrs = Headers::parse(&hdr).unwrap();
    let msg = || StagedMsg {
        subject: "t".into(),
        hdr: hdr.clone(),
        data: Vec::new(),
    };
    for i in 0..BATCH_INFLIGHT_TOTAL_MAX - BATCH_INFLIGHT_PER_STREAM_MAX {
        let stream = format!("T{}", i / BATCH_INFLIGHT_PER_STREAM_MAX);
        assert_eq!(
            b.stage(&stream, &format!("t{i}"), &hdrs, msg(), 2, 0),
            Staged::Held,
            "{i}"
        );
    }
    assert_eq!(
        b.stage("Z", "z", &hdrs, msg(), 2, 0),
        Staged::Refused(ApiError::AtomicPublishTooManyInflight)
    );
    b.drop_stream("S");
    assert_eq!(b.stage("Z", "z", &hdrs, msg(), 2, 0), Staged::Held);
}

#[test]
fn an_idle_batch_expires_and_frees_its_slot() {
    let mut b = Batches::default();
    put(&mut b, "a", "1", None, 0);
    assert_eq!(
        put(&mut b, "a", "2", None, BATCH_IDLE_MS - 1),
        Staged::Held,
        "each message extends it"
    );
    assert_eq!(
        put(&mut b, "a", "3", Some("1"), 2 * BATCH_IDLE_MS - 1),
        Staged::Refused(ApiError::AtomicPublishIncompleteBatch)
    );
    assert!(b.is_empty());
    for i in 0..BATCH_INFLIGHT_PER_STREAM_MAX {
        put(&mut b, &format!("b{i}"), "1", None, 0);
    }
    assert_eq!(
        put(&mut b, "late", "1", None, BATCH_IDLE_MS),
        Staged::Held,
        "the expired were swept"
    );
    assert_eq!(b.len(), 1);
}

#[test]
fn the_required_api_level_is_checked_and_removed() {
    let mut b = Batches::default();
    let hdr = block(&[
        (HDR_BATCH_ID, "a"),
        (HDR_BATCH_SEQ, "1"),
        ("Nats-Required-Api-Level", "2"),
        (HDR_BATCH_COMMIT, "1"),
    ]);
    let hdrs = Headers::parse(&hdr).unwrap();
    let msg = StagedMsg {
        subject: "s".into(),
        hdr: hdr.clone(),
        data: Vec::new(),
    };
    assert_eq!(
        b.stage("S", "a", &hdrs, msg.clone(), 1, 0),
        Staged::Refused(ApiError::RequiredApiLevel)
    );
    let c = committed(b.stage("S", "a", &hdrs, msg, 2, 0));
    assert_eq!(
        c.msgs[0].hdr,
        block(&[
            (HDR_BATCH_ID, "a"),
            (HDR_BATCH_SEQ, "1"),
            (HDR_BATCH_COMMIT, "1")
        ])
    );
}

#[test]
fn header_edits() {
    let h = block(&[("A", "1"), ("B", "2"), ("AB", "3")]);
    assert_eq!(remove_header(&h, "A"), block(&[("B", "2"), ("AB", "3")]));
    assert_eq!(remove_header(&h, "C"), h);
    assert_eq!(
        append_header(&h, "C", "4"),
        block(&[("A", "1"), ("B", "2"), ("AB", "3"), ("C", "4")])
    );
    assert_eq!(append_header(b"", "C", "4"), block(&[("C", "4")]));
}

fn reasons(b: &mut Batches) -> Vec<(String, AbandonReason)> {
    b.take_abandoned()
        .into_iter()
        .map(|a| (a.id, a.reason))
        .collect()
}

#[test]
fn dropped_batches_are_reported_with_nats_server_reasons() {
    let mut b = Batches::default();
    put(&mut b, "gap", "1", None, 0);
    put(&mut b, "gap", "3", None, 0);
    put(&mut b, "eob", "1", Some("eob"), 0);
    // Refusals that drop no batch, or drop one nats-server does not report.
    put(&mut b, "unknown", "2", None, 0);
    put(&mut b, "commit", "1", Some("yes"), 0);
    let hdr = block(&[
        (HDR_BATCH_ID, "lvl"),
        (HDR_BATCH_SEQ, "1"),
        ("Nats-Required-Api-Level", "9"),
    ]);
    let hdrs = Headers::parse(&hdr).unwrap();
    let msg = StagedMsg {
        subject: "s".into(),
        hdr: hdr.clone(),
        data: Vec::new(),
    };
    b.stage("S", "lvl", &hdrs, msg, 2, 0);
    for seq in 1..=BATCH_MSGS_MAX {
        put(&mut b, "big", &seq.to_string(), None, 0);
    }
    put(&mut b, "big", &(BATCH_MSGS_MAX + 1).to_string(), None, 0);
    let want = |id: &str, r| (id.to_string(), r);
    assert_eq!(
        reasons(&mut b),
        [
            want("gap", AbandonReason::Incomplete),
            want("eob", AbandonReason::Incomplete),
            want("lvl", AbandonReason::Unsupported),
            want("big", AbandonReason::Large),
        ]
    );
    assert!(b.take_abandoned().is_empty(), "reported once");
}

#[test]
fn one_idle_timer_per_stream_follows_the_earliest_deadline() {
    let mut b = Batches::default();
    assert_eq!(b.arm("S"), None, "no batch, no timer");
    put(&mut b, "a", "1", None, 0);
    put(&mut b, "b", "1", None, 100);
    assert_eq!(b.arm("S"), Some(BATCH_IDLE_MS));
    assert_eq!(b.arm("S"), None, "armed already");
    // "a" is extended before its deadline: nothing expires, the timer moves to "b".
    put(&mut b, "a", "2", None, 5_000);
    b.expire("S", BATCH_IDLE_MS);
    assert!(b.take_abandoned().is_empty());
    assert_eq!(b.arm("S"), Some(100 + BATCH_IDLE_MS));
    b.expire("S", 100 + BATCH_IDLE_MS);
    assert_eq!(reasons(&mut b), [("b".to_string(), AbandonReason::Timeout)]);
    assert_eq!(b.arm("S"), Some(5_000 + BATCH_IDLE_MS));
    b.expire("S", 5_000 + BATCH_IDLE_MS);
    assert_eq!(reasons(&mut b), [("a".to_string(), AbandonReason::Timeout)]);
    assert_eq!(b.arm("S"), None);
    assert!(b.is_empty());
    assert_eq!(b.staged_bytes(), 0);
}
