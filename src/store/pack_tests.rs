//! `compression: s2` in the store: packed records through appends, reads from RAM and disk,
//! every way of reopening (scan, checkpoint, summaries), a torn packed tail, a switch on and
//! off, and damage that passes the CRC.

use super::log::{LogConfig, Read};
use super::record::{self, Record};
use super::recovery::{recover, SegmentBytes};
use super::{FileStore, Layout, MessageLog, SeqRange, StdIo, StoreError};
use crate::test_dir::TempDir;

const SEGMENT_BYTES: u32 = 4096;

fn open(dir: &TempDir) -> FileStore<StdIo> {
    FileStore::open(
        StdIo::new(dir.0.clone()),
        Layout::default(),
        SEGMENT_BYTES,
        1,
    )
    .unwrap()
    .0
}

/// A JSON-like payload that compresses, different for each `i`.
fn payload(i: u64) -> Vec<u8> {
    format!("{{\"order\":{i},\"status\":\"shipped\",\"items\":[")
        .into_bytes()
        .into_iter()
        .chain(b"{\"sku\":\"ABC-123\",\"qty\":1},".repeat(12))
        .chain(b"]}".iter().copied())
        .collect()
}

const HEADERS: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n";

fn fill(s: &mut FileStore<StdIo>, from: u64, to: u64) {
    for i in from..to {
        let subject = format!("orders.{}", i % 3);
        // Every fifth is small: stored plain even with compression on.
        let body = if i % 5 == 0 {
            b"tiny".to_vec()
        } else {
            payload(i)
        };
        s.append(subject.as_bytes(), HEADERS, &body, i as i64)
            .unwrap();
    }
}

fn check(s: &mut FileStore<StdIo>, from: u64, to: u64) {
    for i in from..to {
        let m = s
            .get(i + 1)
            .unwrap()
            .unwrap_or_else(|| panic!("seq {}", i + 1));
        let body = if i % 5 == 0 {
            b"tiny".to_vec()
        } else {
            payload(i)
        };
        assert_eq!(m.payload, body, "seq {}", i + 1);
        assert_eq!(m.headers, HEADERS, "seq {}", i + 1);
        assert_eq!(m.subject, format!("orders.{}", i % 3).as_bytes());
        assert_eq!(m.ts_ns, i as i64);
    }
}

fn segment_bytes_on_disk(dir: &TempDir) -> u64 {
    std::fs::read_dir(dir.0.join("msgs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".blk"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn a_packed_store_reads_back_from_ram_and_from_disk_and_takes_less_space() {
    let plain_dir = TempDir::new("pack-plain");
    let packed_dir = TempDir::new("pack-packed");
    let mut plain = open(&plain_dir);
    let mut packed = open(&packed_dir);
    packed.log_mut().set_compression(true);
    fill(&mut plain, 0, 200);
    fill(&mut packed, 0, 200);
    check(&mut packed, 0, 200);
    plain.flush().unwrap();
    packed.flush().unwrap();
    // Seq 1 is in a segment that left RAM: a read from the file.
    assert!(matches!(packed.log().read(2).unwrap(), Read::OnDisk { .. }));
    check(&mut packed, 0, 200);
    let (plain_bytes, packed_bytes) = (
        segment_bytes_on_disk(&plain_dir),
        segment_bytes_on_disk(&packed_dir),
    );
    assert!(
        packed_bytes * 2 < plain_bytes,
        "packed {packed_bytes} B, plain {plain_bytes} B"
    );
    // The stream's bytes count what is stored.
    assert!(packed.state().unwrap().bytes * 2 < plain.state().unwrap().bytes);
    assert_eq!(packed.state().unwrap().msgs, 200);
}

#[test]
fn a_packed_store_reopens_by_scan_by_summaries_and_by_checkpoint() {
    let dir = TempDir::new("pack-reopen");
    let mut s = open(&dir);
    s.log_mut().set_compression(true);
    fill(&mut s, 0, 300);
    s.delete(7, false).unwrap();
    s.delete(8, true).unwrap();
    s.flush().unwrap();
    let before = s.state().unwrap();
    drop(s);
    // Sealed segments have summaries; the tail is scanned.
    let mut r = open(&dir);
    assert_eq!(r.state().unwrap(), before);
    assert!(r.get(7).unwrap().is_none() && r.get(8).unwrap().is_none());
    check(&mut r, 8, 300);
    assert_eq!(r.log().subject_state(b"orders.1").unwrap().msgs, 99);
    // Without summaries: every segment scanned.
    for e in std::fs::read_dir(dir.0.join("msgs")).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".sum") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let mut r = open(&dir);
    assert_eq!(r.state().unwrap(), before);
    check(&mut r, 8, 300);
    // From a checkpoint, with more after it.
    r.log_mut().set_compression(true);
    r.checkpoint().unwrap();
    fill(&mut r, 300, 320);
    r.flush().unwrap();
    drop(r);
    let mut r = open(&dir);
    assert_eq!(r.state().unwrap().msgs, before.msgs + 20);
    check(&mut r, 8, 320);
}

#[test]
fn switching_compression_on_and_off_keeps_every_record_readable() {
    let dir = TempDir::new("pack-switch");
    let mut s = open(&dir);
    fill(&mut s, 0, 40);
    s.log_mut().set_compression(true);
    fill(&mut s, 40, 80);
    s.log_mut().set_compression(false);
    fill(&mut s, 80, 120);
    s.flush().unwrap();
    check(&mut s, 0, 120);
    drop(s);
    let mut r = open(&dir);
    assert!(
        !r.log().compression(),
        "the setting is the stream config's, not the files'"
    );
    check(&mut r, 0, 120);
}

/// A segment's bytes: a commit for `1..=n` and `n` packed messages; the record offsets.
fn packed_segment(n: u64) -> (Vec<u8>, Vec<usize>) {
    let mut packer = super::pack::Packer::default();
    let mut buf = Vec::new();
    record::encode_commit(&mut buf, n, 1);
    let mut offsets = Vec::new();
    for seq in 1..=n {
        offsets.push(buf.len());
        assert!(packer.pack(HEADERS, &payload(seq)));
        record::encode_packed(
            &mut buf,
            seq,
            seq as i64,
            b"orders.x",
            HEADERS.len() as u32,
            packer.packed(),
        );
    }
    (buf, offsets)
}

const CFG: LogConfig = LogConfig {
    segment_bytes_max: SEGMENT_BYTES,
    durable: true,
};

#[test]
fn a_torn_packed_tail_at_every_byte_is_cut_and_its_sequence_not_reused() {
    let (full, offsets) = packed_segment(4);
    let last = *offsets.last().unwrap();
    for cut in last..full.len() {
        let (mut log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &full[..cut])]);
        let st = log.counters();
        assert_eq!((st.msgs, st.last_seq), (3, 4), "cut at {cut}");
        assert_eq!(st.lost, vec![SeqRange { first: 4, last: 4 }]);
        if cut > last {
            assert_eq!(report.torn_tails, vec![(1, last as u64)], "cut at {cut}");
        }
        assert_eq!(log.append(b"a", b"", b"", 0).unwrap(), 5);
    }
    let (log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &full)]);
    assert!(report.torn_tails.is_empty() && report.damaged.is_empty());
    assert_eq!(log.counters().msgs, 4);
}

#[test]
fn a_packed_record_whose_block_is_damaged_under_a_valid_crc_reads_as_corrupt() {
    let mut rec = Vec::new();
    // A block that claims 2^32 - 1 bytes: the CRC is fine, the block is not.
    record::encode_packed(&mut rec, 9, 1, b"a", 0, &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        record::decode(&rec),
        Ok((Record::Packed { seq: 9, .. }, _))
    ));
    assert!(matches!(
        super::Log::decode_read(9, &rec),
        Err(StoreError::Corrupt { seq: 9 })
    ));
    // Headers longer than what the block unpacks to.
    let mut packer = super::pack::Packer::default();
    assert!(packer.pack(b"", &[1; 500]));
    let mut rec = Vec::new();
    record::encode_packed(&mut rec, 9, 1, b"a", 501, packer.packed());
    assert!(matches!(
        super::Log::decode_read(9, &rec),
        Err(StoreError::Corrupt { seq: 9 })
    ));
}

#[test]
fn a_packed_record_re_encodes_to_the_same_bytes_and_any_other_flag_is_refused() {
    let (seg, offsets) = packed_segment(1);
    let rec = &seg[offsets[0]..];
    let Ok((
        Record::Packed {
            seq,
            ts_ns,
            subject,
            headers_len,
            body,
        },
        len,
    )) = record::decode(rec)
    else {
        panic!("not packed");
    };
    let mut again = Vec::new();
    record::encode_packed(&mut again, seq, ts_ns, subject, headers_len, body);
    assert_eq!(&again[..], &rec[..len]);
    let mut other = rec[..len].to_vec();
    other[9] = 2;
    assert!(record::decode(&other).is_err());
}
