use super::*;

fn msg(seq: u64, subject: &[u8], headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_msg(
        &mut out,
        seq,
        1_700_000_000_000_000_000 + seq as i64,
        subject,
        headers,
        payload,
    );
    out
}

#[test]
fn message_round_trips_with_every_field() {
    let buf = msg(7, b"orders.new", b"NATS/1.0\r\nA: b\r\n\r\n", b"hello");
    assert_eq!(buf.len(), HEADER_BYTES + 10 + 18 + 5);
    let (record, len) = decode(&buf).unwrap();
    assert_eq!(len, buf.len());
    assert_eq!(
        record,
        Record::Msg {
            seq: 7,
            ts_ns: 1_700_000_000_000_000_007,
            subject: b"orders.new",
            headers: b"NATS/1.0\r\nA: b\r\n\r\n",
            payload: b"hello",
        }
    );
}

#[test]
fn negative_timestamps_round_trip() {
    let mut buf = Vec::new();
    encode_msg(&mut buf, 1, -5, b"a", b"", b"");
    assert!(matches!(
        decode(&buf).unwrap().0,
        Record::Msg { ts_ns: -5, .. }
    ));
}

#[test]
fn delete_commit_and_erased_round_trip() {
    let mut buf = Vec::new();
    encode_delete(&mut buf, 3, 9);
    encode_commit(&mut buf, 42, 4);
    let (first, n1) = decode(&buf).unwrap();
    assert_eq!(first, Record::Delete { first: 3, last: 9 });
    assert_eq!(n1, DELETE_RECORD_BYTES);
    assert_eq!(
        decode(&buf[n1..]).unwrap(),
        (Record::Commit { hwm: 42, floor: 4 }, 32)
    );

    let mut rec = msg(5, b"x.y", b"", b"secret");
    erase_in_place(&mut rec, 5);
    assert_eq!(rec.len(), HEADER_BYTES + 3 + 6);
    assert_eq!(
        decode(&rec).unwrap(),
        (Record::Erased { seq: 5 }, rec.len())
    );
    assert!(!rec.windows(6).any(|w| w == b"secret"));
}

#[test]
fn every_prefix_is_truncated_and_every_flipped_bit_is_rejected() {
    let buf = msg(1, b"a.b", b"hdr", b"payload");
    for cut in 0..buf.len() {
        assert!(
            matches!(decode(&buf[..cut]), Err(DecodeError::Truncated { .. })),
            "prefix {cut}"
        );
    }
    for bit in 0..buf.len() * 8 {
        let mut bad = buf.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        match decode(&bad) {
            // A flip in the length field may claim more bytes than there are.
            Err(_) => {}
            Ok(r) => panic!("bit {bit} accepted: {r:?}"),
        }
    }
}

#[test]
fn bad_lengths_are_typed_errors() {
    let mut buf = msg(1, b"a", b"", b"");
    buf[0..4].copy_from_slice(&8u32.to_le_bytes());
    assert_eq!(decode(&buf), Err(DecodeError::BadLength));
    let mut buf = msg(1, b"a", b"", b"");
    buf[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(decode(&buf), Err(DecodeError::BadLength));
    let mut buf = msg(1, b"a", b"", b"");
    buf[12..16].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(decode(&buf), Err(DecodeError::BadLength));
    let mut buf = msg(1, b"a", b"", b"");
    buf[8] = 9;
    assert_eq!(decode(&buf), Err(DecodeError::BadKind));
}

#[test]
fn scan_resyncs_after_damage_and_reports_a_torn_tail() {
    let mut buf = Vec::new();
    let mut offsets = Vec::new();
    for seq in 1..=5 {
        offsets.push(buf.len());
        encode_msg(&mut buf, seq, 0, b"s", b"", b"0123456789");
    }
    let good: Vec<_> = scan(&buf, 0).collect();
    assert_eq!(good.len(), 5);
    assert!(good.iter().all(|i| matches!(i, ScanItem::Record { .. })));

    let mut bad = buf.clone();
    bad[offsets[2] + 40] ^= 0x10; // payload of seq 3
    bad.truncate(buf.len() - 3); // and a torn seq 5
    let items: Vec<_> = scan(&bad, 0).collect();
    let seqs: Vec<u64> = items
        .iter()
        .filter_map(|i| match i {
            ScanItem::Record {
                record: Record::Msg { seq, .. },
                ..
            } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 4]);
    assert!(items.contains(&ScanItem::Damage {
        offset: offsets[2],
        len: offsets[3] - offsets[2]
    }));
    assert_eq!(
        items.last(),
        Some(&ScanItem::TornTail { offset: offsets[4] })
    );
}

#[test]
fn msg_fits_rejects_long_subjects() {
    assert!(msg_fits(b"a", b"", b""));
    assert!(!msg_fits(&vec![b'a'; 70_000], b"", b""));
    assert!(!msg_fits(b"a", b"", &vec![0; RECORD_BYTES_MAX]));
}
