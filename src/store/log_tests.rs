use super::*;

fn mem() -> MemStore {
    MemStore::new(4096, 1)
}

fn put(s: &mut impl MessageLog, subject: &str, payload: &str) -> u64 {
    s.append(subject.as_bytes(), b"", payload.as_bytes(), 1000)
        .unwrap()
}

#[test]
fn append_get_and_state_round_trip() {
    let mut s = mem();
    assert_eq!(s.append(b"a.b", b"NATS/1.0\r\n\r\n", b"x", 5).unwrap(), 1);
    assert_eq!(s.append(b"a.c", b"", b"yy", 6).unwrap(), 2);
    let m = s.get(1).unwrap().unwrap();
    assert_eq!(
        (
            m.subject.as_slice(),
            m.headers.as_slice(),
            m.payload.as_slice()
        ),
        (&b"a.b"[..], &b"NATS/1.0\r\n\r\n"[..], &b"x"[..])
    );
    let st = s.state().unwrap();
    assert_eq!(
        (st.first_seq, st.last_seq, st.msgs, st.num_subjects),
        (1, 2, 2, 2)
    );
    assert_eq!((st.first_ts_ns, st.last_ts_ns), (5, 6));
    assert_eq!(st.bytes, (32 + 3 + 12 + 1) + (32 + 3 + 2));
    assert!(s.get(3).unwrap().is_none());
    assert!(matches!(
        s.append(b"", b"", b"", 0),
        Err(StoreError::InvalidSubject)
    ));
}

#[test]
fn first_seq_is_configurable_only_ahead_on_an_empty_log() {
    let mut s = MemStore::new(4096, 100);
    assert_eq!(put(&mut s, "a", "1"), 100);
    assert!(matches!(
        s.set_first_seq(500),
        Err(StoreError::SeqWouldReuse { last_seq: 100 })
    ));
    s.delete(100, false).unwrap();
    assert!(s.set_first_seq(50).is_err());
    s.set_first_seq(500).unwrap();
    assert_eq!(put(&mut s, "a", "2"), 500);
}

#[test]
fn per_subject_counts_and_last_and_next_by_subject() {
    let mut s = mem();
    for (i, subj) in ["kv.a", "kv.b", "kv.a", "other.x", "kv.b", "kv.a"]
        .iter()
        .enumerate()
    {
        assert_eq!(put(&mut s, subj, &i.to_string()), i as u64 + 1);
    }
    let log = s.log();
    assert_eq!(
        log.subject_state(b"kv.a"),
        Some(SubjectState {
            msgs: 3,
            first_seq: 1,
            last_seq: 6
        })
    );
    let mut counts = log.subject_counts(b"kv.*");
    counts.sort();
    assert_eq!(counts, vec![(b"kv.a".to_vec(), 3), (b"kv.b".to_vec(), 2)]);
    assert_eq!(s.last_by_subject(b"kv.b").unwrap().unwrap().seq, 5);
    assert_eq!(s.last_by_subject(b"kv.>").unwrap().unwrap().seq, 6);
    assert_eq!(s.last_by_subject(b"none").unwrap(), None);
    assert_eq!(s.next_by_subject(2, b"kv.a").unwrap().unwrap().seq, 3);
    assert_eq!(s.next_by_subject(4, b"*.x").unwrap().unwrap().seq, 4);
    assert_eq!(s.next_by_subject(5, b"other.>").unwrap(), None);
    assert_eq!(s.next_by_subject(2, b">").unwrap().unwrap().seq, 2);
    assert_eq!(s.next_by_subject(1, b"kv.*").unwrap().unwrap().seq, 1);
    // A wildcard whose subjects started before `from`: a walk of the slots.
    assert_eq!(s.next_by_subject(4, b"kv.*").unwrap().unwrap().seq, 5);
    assert_eq!(s.next_by_subject(6, b"kv.*").unwrap().unwrap().seq, 6);
    assert_eq!(s.next_by_subject(7, b"kv.*").unwrap(), None);
    // Deleting the subject's first and last moves them by walking the slots.
    s.delete(1, false).unwrap();
    s.delete(6, false).unwrap();
    assert_eq!(
        s.log().subject_state(b"kv.a"),
        Some(SubjectState {
            msgs: 1,
            first_seq: 3,
            last_seq: 3
        })
    );
    s.delete(3, true).unwrap();
    assert_eq!(s.log().subject_state(b"kv.a"), None);
    assert_eq!(s.state().unwrap().num_subjects, 2);
}

#[test]
fn deletes_count_interior_holes_and_move_the_first_sequence() {
    let mut s = mem();
    for i in 0..5 {
        put(&mut s, "a", &i.to_string());
    }
    assert!(s.delete(3, false).unwrap());
    assert!(!s.delete(3, false).unwrap());
    assert!(!s.delete(99, false).unwrap());
    let st = s.state().unwrap();
    assert_eq!((st.msgs, st.num_deleted), (4, 1));
    assert_eq!(s.log().deleted(), vec![SeqRange { first: 3, last: 3 }]);
    s.delete(1, false).unwrap();
    s.delete(2, false).unwrap();
    let st = s.state().unwrap();
    assert_eq!((st.first_seq, st.msgs, st.num_deleted), (4, 2, 0));
    s.delete(4, false).unwrap();
    s.delete(5, false).unwrap();
    let st = s.state().unwrap();
    assert_eq!(
        (st.first_seq, st.last_seq, st.msgs, st.first_ts_ns),
        (6, 5, 0, 0)
    );
    assert_eq!(put(&mut s, "a", "x"), 6);
}

#[test]
fn purge_all_filter_keep_and_up_to() {
    let mut s = mem();
    for i in 1..=10 {
        put(&mut s, if i % 2 == 0 { "even" } else { "odd" }, "p");
    }
    assert_eq!(
        s.purge(&Purge {
            filter: Some(b"even"),
            keep: Some(2),
            ..Purge::default()
        })
        .unwrap(),
        3
    );
    assert_eq!(
        s.log().subject_state(b"even"),
        Some(SubjectState {
            msgs: 2,
            first_seq: 8,
            last_seq: 10
        })
    );
    assert_eq!(
        s.purge(&Purge {
            filter: Some(b"odd"),
            up_to_seq: Some(5),
            ..Purge::default()
        })
        .unwrap(),
        2
    );
    assert_eq!(s.state().unwrap().first_seq, 5);
    assert_eq!(
        s.purge(&Purge {
            keep: Some(2),
            ..Purge::default()
        })
        .unwrap(),
        3
    );
    let st = s.state().unwrap();
    assert_eq!((st.first_seq, st.msgs), (9, 2));
    assert_eq!(s.purge(&Purge::default()).unwrap(), 2);
    let st = s.state().unwrap();
    assert_eq!(
        (st.first_seq, st.last_seq, st.msgs, st.num_subjects),
        (11, 10, 0, 0)
    );
    assert_eq!(put(&mut s, "a", "x"), 11);
    assert_eq!(
        s.purge(&Purge {
            up_to_seq: Some(1000),
            ..Purge::default()
        })
        .unwrap(),
        1
    );
    assert_eq!(s.state().unwrap().first_seq, 12);
}

#[test]
fn limits_discard_the_oldest() {
    let mut s = mem();
    let limits = Limits {
        msgs_max: Some(5),
        bytes_max: None,
        msgs_per_subject_max: Some(2),
    };
    for i in 0..10 {
        let subj = if i < 6 { "k.a" } else { "k.b" };
        put(&mut s, subj, "v");
        s.enforce(&limits, Some(subj.as_bytes())).unwrap();
    }
    let st = s.state().unwrap();
    assert_eq!(st.msgs, 4, "two per subject");
    assert_eq!(
        s.log().subject_state(b"k.a"),
        Some(SubjectState {
            msgs: 2,
            first_seq: 5,
            last_seq: 6
        })
    );
    let bytes_one = 32 + 3 + 1;
    let by_bytes = Limits {
        bytes_max: Some(3 * bytes_one),
        ..Limits::default()
    };
    assert_eq!(s.enforce(&by_bytes, None).unwrap(), 1);
    assert_eq!(s.state().unwrap().first_seq, 6);
}

#[test]
fn deleting_every_message_of_a_segment_drops_it() {
    let mut s = MemStore::new(4096, 1);
    let payload = "x".repeat(1000);
    for _ in 0..12 {
        put(&mut s, "a", &payload);
    }
    let segments = s.log().segments.len();
    assert!(segments >= 3, "{segments}");
    let second: Vec<u64> = {
        let seg = &s.log().segments[1];
        (seg.first_seq..seg.first_seq + seg.slots.len() as u64).collect()
    };
    for &seq in &second {
        s.delete(seq, false).unwrap();
    }
    assert_eq!(s.log().segments.len(), segments - 1);
    assert!(s.get(second[0]).unwrap().is_none());
    assert_eq!(s.get(1).unwrap().unwrap().payload.len(), 1000);
    assert_eq!(
        s.next_by_subject(second[0], b"a").unwrap().unwrap().seq,
        second.last().unwrap() + 1
    );
}

#[test]
fn index_holds_at_most_16_bytes_per_message() {
    // Measured from the slot vectors' capacities and the segment table, at sizes just past a
    // growth step as well as between them.
    for n in [1_000u64, 4_097, 65_537, 200_000] {
        let mut log = Log::new(
            LogConfig {
                segment_bytes_max: 1 << 30,
                durable: false,
            },
            1,
        );
        for _ in 0..n {
            log.append(b"s", b"", b"", 0).unwrap();
        }
        let per_msg = log.index_heap_bytes() as f64 / n as f64;
        eprintln!("{n} messages: {per_msg:.2} index bytes each");
        assert!(per_msg <= 16.0, "{n} messages: {per_msg} bytes each");
        assert!(per_msg >= 12.0, "{n} messages: {per_msg} bytes each");
    }
}

#[test]
fn count_from_agrees_with_a_walk_across_segments_deletes_and_filters() {
    // Small segments so `from` falls inside one and whole ones follow it.
    let mut s = MemStore::new(256, 1);
    for i in 0..200u64 {
        let subj = ["a.x", "a.y", "b.z"][(i % 3) as usize];
        put(&mut s, subj, "payload");
    }
    for seq in [5, 6, 50, 120, 199] {
        s.delete(seq, false).unwrap();
    }
    let walk = |s: &mut MemStore, from: u64, filter: &str| -> u64 {
        (from..=200)
            .filter(|&q| {
                s.get(q).unwrap().is_some_and(|m| {
                    filter.is_empty() || crate::subject::matches(filter.as_bytes(), &m.subject)
                })
            })
            .count() as u64
    };
    for from in [0, 1, 2, 6, 7, 51, 100, 150, 199, 200, 201] {
        for filter in ["", ">", "a.x", "a.*", "b.>", "c"] {
            let want = walk(&mut s, from.max(1), if filter == ">" { "" } else { filter });
            assert_eq!(
                s.log().count_from(from, filter.as_bytes()),
                want,
                "from {from} filter {filter:?}"
            );
        }
    }
}

fn durable_log() -> Log {
    Log::new(
        LogConfig {
            segment_bytes_max: 4096,
            durable: true,
        },
        1,
    )
}

/// The address of a segment's buffer (null when it has none).
fn buffer_at(log: &Log, i: usize) -> *const u8 {
    let b = &log.segments[i].bytes;
    if b.capacity() == 0 {
        std::ptr::null()
    } else {
        b.as_ptr()
    }
}

#[test]
fn a_roll_reuses_the_buffer_of_the_segment_it_pushes_out_of_ram() {
    let mut log = durable_log();
    let payload = [7u8; 200];
    let mut reused = 0;
    while log.segments.len() < 6 {
        let n = log.segments.len();
        let leaving = (n >= 2).then(|| buffer_at(&log, n - 2));
        log.append(b"s", b"", &payload, 1).unwrap();
        if log.segments.len() > n {
            if let Some(ptr) = leaving {
                let tail = log.segments.len() - 1;
                assert_eq!(
                    buffer_at(&log, tail),
                    ptr,
                    "segment {tail} got a new buffer"
                );
                assert!(!log.segments[n - 2].resident);
                assert_eq!(log.segments[n - 2].bytes.capacity(), 0);
                reused += 1;
            }
        }
        // A commit after every publish: the plan is carried out at once.
        let _ = log.flush();
        log.flushed();
    }
    assert_eq!(reused, 4);
    // The tail and the newest sealed segment stay in RAM, the rest is read from the files.
    let resident: Vec<bool> = log.segments.iter().map(|s| s.resident).collect();
    assert_eq!(resident, [false, false, false, false, true, true]);
}

#[test]
fn a_roll_keeps_the_bytes_of_a_segment_not_yet_written() {
    let mut log = durable_log();
    let payload = [7u8; 200];
    // No flush: nothing has been handed to a write, so no buffer may be taken.
    while log.segments.len() < 4 {
        log.append(b"s", b"", &payload, 1).unwrap();
    }
    assert!(log.segments.iter().all(|s| s.resident));
    let plan = log.flush();
    for w in &plan.writes {
        let seg = log.segments.iter().find(|s| s.id == w.segment).unwrap();
        assert_eq!(log.write_bytes(w).len() as u64, w.len);
        assert_eq!(seg.size, w.offset + w.len);
    }
    assert_eq!(plan.writes.len(), 4);
    log.flushed();
    let resident: Vec<bool> = log.segments.iter().map(|s| s.resident).collect();
    assert_eq!(resident, [false, false, true, true]);
}
