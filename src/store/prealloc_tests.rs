//! Preallocated segments: recovery ends a segment at the zeros after its last record, and the
//! file driver preallocates the tail, truncates it when sealed and after recovery.

use super::*;
use crate::store::file::{PREALLOC_CHUNK_BYTES, PREALLOC_WRITE_BYTES_MAX};
use crate::store::record::{encode_commit, encode_msg};
use crate::store::{FileStore, Layout, MessageLog, StdIo};
use crate::test_dir::TempDir;

const CFG: LogConfig = LogConfig {
    segment_bytes_max: 64 * 1024,
    durable: true,
};

/// A commit for `1..=n` and messages `1..=n`; the record offsets.
fn segment(n: u64) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::new();
    encode_commit(&mut buf, n, 1);
    let mut offsets = Vec::new();
    for seq in 1..=n {
        offsets.push(buf.len());
        encode_msg(&mut buf, seq, seq as i64, b"orders.x", b"", b"payload!");
    }
    (buf, offsets)
}

fn size_of(log: &Log, id: u32) -> u64 {
    log.segments.iter().find(|s| s.id == id).unwrap().size
}

#[test]
fn zeros_after_the_last_record_are_the_clean_end_of_any_length() {
    let (records, _) = segment(5);
    for zeros in [0, 1, 4, 31, 32, 33, 100, 4096, 60_000] {
        let mut bytes = records.clone();
        bytes.resize(records.len() + zeros, 0);
        let (log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &bytes)]);
        assert_eq!(report, RecoveryReport::default(), "{zeros} zeros");
        let st = log.counters();
        assert_eq!((st.msgs, st.last_seq), (5, 5), "{zeros} zeros");
        assert_eq!(size_of(&log, 1), records.len() as u64, "{zeros} zeros");
    }
}

#[test]
fn zeros_after_a_checkpointed_prefix_end_the_segment_too() {
    // A checkpoint covers the first records; recovery reads from there on, zeros included.
    let dir = TempDir::new("prealloc-ckpt");
    let (mut s, _) =
        FileStore::open(StdIo::new(dir.0.clone()), Layout::default(), 1 << 16, 1).unwrap();
    for i in 0..10u64 {
        s.append(b"a", b"", b"0123456789", i as i64).unwrap();
    }
    s.checkpoint().unwrap();
    for i in 10..15u64 {
        s.append(b"a", b"", b"0123456789", i as i64).unwrap();
    }
    s.flush().unwrap();
    let logical = size_of(s.log(), 1);
    drop(s);
    let name = dir.0.join(Layout::default().segment(1));
    assert!(
        std::fs::metadata(&name).unwrap().len() > logical,
        "preallocated"
    );
    let (mut r, report) =
        FileStore::open(StdIo::new(dir.0.clone()), Layout::default(), 1 << 16, 1).unwrap();
    assert!(report.used_checkpoint);
    assert!(report.torn_tails.is_empty() && report.damaged.is_empty() && report.lost.is_empty());
    assert_eq!(r.state().unwrap().msgs, 15);
    assert_eq!(size_of(r.log(), 1), logical);
    // The driver cut the recovered segment to its logical size.
    assert_eq!(std::fs::metadata(&name).unwrap().len(), logical);
    assert_eq!(r.get(15).unwrap().unwrap().ts_ns, 14);
}

#[test]
fn a_torn_record_before_zeros_is_still_a_torn_tail() {
    let (full, offsets) = segment(5);
    let last = *offsets.last().unwrap();
    // The last record's bytes from `kept` on never reached the disk: the zeros remain.
    for kept in [1, 4, 8, 31, 32, full.len() - last - 1] {
        let mut bytes = full.clone();
        bytes[last + kept..].fill(0);
        bytes.resize(full.len() + 500, 0);
        let (log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &bytes)]);
        assert_eq!(report.torn_tails, vec![(1, last as u64)], "kept {kept}");
        assert!(report.damaged.is_empty(), "kept {kept}");
        let st = log.counters();
        assert_eq!((st.msgs, st.last_seq), (4, 5), "kept {kept}");
        assert_eq!(st.lost, vec![SeqRange { first: 5, last: 5 }], "kept {kept}");
        // The torn bytes stay part of the segment (it is never appended to).
        assert_eq!(size_of(&log, 1), bytes.len() as u64, "kept {kept}");
    }
}

#[test]
fn a_damaged_record_in_the_middle_with_zeros_after_keeps_the_records_after_it() {
    let (mut bytes, offsets) = segment(6);
    let end = bytes.len();
    bytes[offsets[2] + 40] ^= 0x10; // a payload byte of seq 3
    bytes.resize(end + 3000, 0);
    let (log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &bytes)]);
    assert_eq!(
        report.damaged,
        vec![(1, offsets[2] as u64, (offsets[3] - offsets[2]) as u64)]
    );
    assert!(report.torn_tails.is_empty());
    let st = log.counters();
    assert_eq!((st.msgs, st.last_seq), (5, 6));
    assert_eq!(st.lost, vec![SeqRange { first: 3, last: 3 }]);
    assert_eq!(size_of(&log, 1), end as u64);
}

#[test]
fn zeros_in_the_middle_are_damage_not_the_end() {
    // A write whose middle never reached the disk: later records must still be found.
    let (mut bytes, offsets) = segment(6);
    let end = bytes.len();
    bytes[offsets[2]..offsets[3]].fill(0);
    bytes.resize(end + 100, 0);
    let (log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &bytes)]);
    assert_eq!(
        report.damaged,
        vec![(1, offsets[2] as u64, (offsets[3] - offsets[2]) as u64)]
    );
    assert_eq!(log.counters().msgs, 5);
    assert_eq!(size_of(&log, 1), end as u64);
}

fn file_len(dir: &TempDir, id: u32) -> Option<u64> {
    std::fs::metadata(dir.0.join(Layout::default().segment(id)))
        .ok()
        .map(|m| m.len())
}

#[test]
fn a_synced_store_preallocates_its_tail_and_cuts_sealed_segments_to_their_records() {
    let dir = TempDir::new("prealloc-driver");
    let seg_max = 3 * PREALLOC_CHUNK_BYTES as u32 + 1000;
    let open = || FileStore::open(StdIo::new(dir.0.clone()), Layout::default(), seg_max, 1);
    let (mut s, _) = open().unwrap();
    assert!(s.sync);
    let payload = vec![b'p'; 1000];
    s.append(b"a", b"", &payload, 0).unwrap();
    s.flush().unwrap();
    // One chunk of zeros ahead of the first record.
    assert_eq!(file_len(&dir, 1), Some(PREALLOC_CHUNK_BYTES));
    let mut n = 1u64;
    while s.log().segments.len() < 3 {
        s.append(b"a", b"", &payload, n as i64).unwrap();
        s.flush().unwrap();
        n += 1;
        let tail = s.log().segments.last().unwrap();
        let len = file_len(&dir, tail.id).unwrap();
        // The file runs ahead of the records by at most a chunk, up to the segment's bound.
        assert!(len >= tail.size && len <= tail.size.max(u64::from(seg_max)));
        assert!(len - tail.size <= PREALLOC_CHUNK_BYTES);
    }
    // Sealed segments are exactly their records.
    for seg in &s.log().segments[..2] {
        assert_eq!(file_len(&dir, seg.id), Some(seg.size), "segment {}", seg.id);
    }
    let before = s.state().unwrap();
    drop(s);
    let (mut r, report) = open().unwrap();
    assert!(report.torn_tails.is_empty() && report.damaged.is_empty() && report.lost.is_empty());
    assert_eq!(r.state().unwrap(), before);
    for seg in &r.log().segments {
        if let Some(len) = file_len(&dir, seg.id) {
            assert_eq!(len, seg.size, "segment {} after recovery", seg.id);
        }
    }
    assert_eq!(r.get(n).unwrap().unwrap().ts_ns, (n - 1) as i64);
}

#[test]
fn an_unsynced_store_does_not_preallocate() {
    let dir = TempDir::new("prealloc-nosync");
    let (mut s, _) =
        FileStore::open(StdIo::new(dir.0.clone()), Layout::default(), 1 << 20, 1).unwrap();
    s.sync = false;
    s.append(b"a", b"", b"x", 0).unwrap();
    s.flush().unwrap();
    assert_eq!(file_len(&dir, 1), Some(size_of(s.log(), 1)));
}

#[test]
fn big_writes_stop_the_preallocation_and_the_file_grows_with_its_records() {
    let dir = TempDir::new("prealloc-big");
    let (mut s, _) =
        FileStore::open(StdIo::new(dir.0.clone()), Layout::default(), 8 << 20, 1).unwrap();
    let payload = vec![b'p'; 4 * PREALLOC_WRITE_BYTES_MAX as usize];
    let mut seq = 0;
    // Past the first chunk, preallocated while the average was still small.
    while size_of(s.log(), 1) < 2 * PREALLOC_CHUNK_BYTES {
        s.append(b"a", b"", &payload, seq).unwrap();
        s.flush().unwrap();
        seq += 1;
        assert!(file_len(&dir, 1).unwrap() >= size_of(s.log(), 1));
    }
    assert_eq!(file_len(&dir, 1), Some(size_of(s.log(), 1)));
    drop(s);
    let (r, report) =
        FileStore::open(StdIo::new(dir.0.clone()), Layout::default(), 8 << 20, 1).unwrap();
    assert!(report.torn_tails.is_empty() && report.lost.is_empty());
    assert_eq!(r.log().counters().msgs, seq as u64);
}
