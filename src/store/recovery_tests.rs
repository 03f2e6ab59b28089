use super::SegmentBytes;
use super::*;
use crate::store::record::encode_msg;
use crate::store::test_io::WatchedIo;
use crate::store::{FileStore, Layout, MessageLog, Purge, StdIo};

const CFG: LogConfig = LogConfig {
    segment_bytes_max: 4096,
    durable: true,
};

use crate::test_dir::TempDir;

impl TempDir {
    fn io(&self) -> StdIo {
        StdIo::new(self.0.clone())
    }
    fn seg(&self, id: u32) -> std::path::PathBuf {
        self.0.join(Layout::default().segment(id))
    }
}

fn open(dir: &TempDir) -> (FileStore<StdIo>, RecoveryReport) {
    FileStore::open(dir.io(), Layout::default(), 4096, 1).unwrap()
}

fn seqs(store: &mut FileStore<StdIo>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut from = 1;
    while let Some(m) = store.next_by_subject(from, b">").unwrap() {
        out.push(m.seq);
        from = m.seq + 1;
    }
    out
}

/// One segment's bytes: a commit for `1..=n` and messages `1..=n`; returns the record offsets.
fn segment(n: u64) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::new();
    record::encode_commit(&mut buf, n, 1);
    let mut offsets = Vec::new();
    for seq in 1..=n {
        offsets.push(buf.len());
        encode_msg(&mut buf, seq, seq as i64, b"orders.x", b"", b"payload!");
    }
    (buf, offsets)
}

#[test]
fn file_store_round_trips_across_reopen() {
    let dir = TempDir::new("store-reopen");
    let (mut s, report) = open(&dir);
    assert_eq!(report, RecoveryReport::default());
    for i in 0..100u64 {
        let subj = format!("orders.{}", i % 7);
        s.append(subj.as_bytes(), b"H", format!("m{i}").as_bytes(), i as i64)
            .unwrap();
    }
    s.delete(10, false).unwrap();
    s.delete(11, true).unwrap();
    s.flush().unwrap();
    let before = s.state().unwrap();
    let (mut r, report) = open(&dir);
    assert!(!report.used_checkpoint);
    assert!(report.torn_tails.is_empty() && report.damaged.is_empty() && report.lost.is_empty());
    assert_eq!(r.state().unwrap(), before);
    assert_eq!(r.get(50).unwrap().unwrap().payload, b"m49");
    assert!(r.get(10).unwrap().is_none() && r.get(11).unwrap().is_none());
    // orders.3 had 14 messages; seq 11 (i = 10) was one of them.
    assert_eq!(r.log().subject_state(b"orders.3").unwrap().msgs, 13);
    // The erased record's bytes are gone from disk.
    let all: Vec<u8> = (1..20)
        .filter_map(|id| std::fs::read(dir.seg(id)).ok())
        .flatten()
        .collect();
    assert!(!all.windows(3).any(|w| w == b"m10"));
    assert!(all.windows(3).any(|w| w == b"m12"));
    assert_eq!(r.append(b"a", b"", b"", 0).unwrap(), 101);
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_cut_and_its_sequence_not_reused() {
    let (full, offsets) = segment(5);
    let last = *offsets.last().unwrap();
    for cut in last..full.len() {
        let (mut log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &full[..cut])]);
        let st = log.counters();
        assert_eq!(st.msgs, 4, "cut at {cut}");
        assert_eq!(
            st.last_seq, 5,
            "cut at {cut}: the commit record keeps the high-water mark"
        );
        assert_eq!(st.lost, vec![SeqRange { first: 5, last: 5 }]);
        if cut > last {
            assert_eq!(report.torn_tails, vec![(1, last as u64)], "cut at {cut}");
        }
        assert!(matches!(
            log.read(5).unwrap(),
            crate::store::log::Read::Absent
        ));
        assert_eq!(log.append(b"a", b"", b"", 0).unwrap(), 6);
    }
}

#[test]
fn flipped_bit_in_a_middle_record_keeps_the_records_after_it() {
    let (mut bytes, offsets) = segment(16);
    bytes[offsets[1] + 40] ^= 0x04; // a payload byte of seq 2
    let (log, report) = recover(CFG, 1, None, &[SegmentBytes::whole(1, &bytes)]);
    let st = log.counters();
    assert_eq!((st.msgs, st.last_seq), (15, 16));
    assert_eq!(st.lost, vec![SeqRange { first: 2, last: 2 }]);
    assert_eq!(
        report.damaged,
        vec![(1, offsets[1] as u64, (offsets[2] - offsets[1]) as u64)]
    );
    assert!(report.torn_tails.is_empty());
    assert!(matches!(
        log.read(16).unwrap(),
        crate::store::log::Read::OnDisk { .. }
    ));
}

/// Bytes of `bytes` up to its last non-zero one: a preallocated segment's logical size when
/// its last record ends in a non-zero byte.
fn logical_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)
}

#[test]
fn high_water_mark_survives_losing_the_whole_last_segment_tail() {
    // The lost bytes are cut off (a file that grew), or left as the preallocated zeros.
    for zeroed in [false, true] {
        let dir = TempDir::new("store-hwm");
        let (mut s, _) = open(&dir);
        s.sync = zeroed;
        for _ in 0..8 {
            s.append(b"a", b"", b"0123456789", 0).unwrap();
            s.flush().unwrap();
        }
        s.append(b"a", b"", b"0123456789", 0).unwrap();
        s.append(b"a", b"", b"0123456789", 0).unwrap();
        s.flush().unwrap();
        drop(s);
        // Lose the last batch's two messages (all of seq 10, all but 5 bytes of seq 9); the
        // batch's commit record, written before them, survives.
        let seg = dir.seg(1);
        let mut bytes = std::fs::read(&seg).unwrap();
        let end = logical_len(&bytes);
        assert_eq!(bytes.len() > end, zeroed, "preallocated iff synced");
        let rec = 32 + 1 + 10;
        if zeroed {
            bytes[end - 2 * rec + 5..end].fill(0);
        } else {
            bytes.truncate(end - 2 * rec + 5);
        }
        std::fs::write(&seg, &bytes).unwrap();
        let (mut r, report) = open(&dir);
        let st = r.state().unwrap();
        assert_eq!((st.last_seq, st.msgs), (10, 8));
        assert_eq!(st.lost, vec![SeqRange { first: 9, last: 10 }]);
        assert_eq!(report.lost, st.lost);
        assert_eq!(report.torn_tails.len(), 1, "zeroed {zeroed}");
        assert_eq!(r.append(b"a", b"", b"x", 0).unwrap(), 11);
    }
}

#[test]
fn checkpoint_then_replay_of_only_the_tail() {
    let dir = TempDir::new("store-ckpt");
    let (mut s, _) = open(&dir);
    for i in 0..60u64 {
        s.append(format!("k.{}", i % 5).as_bytes(), b"", b"value", i as i64)
            .unwrap();
    }
    s.delete(3, false).unwrap();
    s.checkpoint().unwrap();
    for i in 60..80u64 {
        s.append(format!("k.{}", i % 5).as_bytes(), b"", b"value", i as i64)
            .unwrap();
    }
    s.delete(70, false).unwrap();
    s.flush().unwrap();
    let before = s.state().unwrap();
    let (mut r, report) = open(&dir);
    assert!(report.used_checkpoint && !report.checkpoint_rejected);
    assert_eq!(r.state().unwrap(), before);
    assert_eq!(r.log().subject_state(b"k.0").unwrap().msgs, 16);
    assert_eq!(r.get(80).unwrap().unwrap().ts_ns, 79);
    assert!(r.get(3).unwrap().is_none() && r.get(70).unwrap().is_none());
    // A damaged checkpoint falls back to a full rebuild with the same answer.
    let path = dir.0.join("index.chk");
    let mut ck = std::fs::read(&path).unwrap();
    ck[10] ^= 1;
    std::fs::write(&path, ck).unwrap();
    let (mut r2, report) = open(&dir);
    assert!(report.checkpoint_rejected && !report.used_checkpoint);
    assert_eq!(r2.state().unwrap(), before);
}

#[test]
fn deleting_every_message_of_a_segment_removes_its_file_and_keeps_deletes_across_restart() {
    let dir = TempDir::new("store-drop");
    let (mut s, _) = open(&dir);
    let payload = vec![b'x'; 900];
    for _ in 0..20 {
        s.append(b"a", b"", &payload, 0).unwrap();
    }
    s.flush().unwrap();
    assert!(dir.seg(2).exists());
    s.delete(1, false).unwrap(); // leaves segment 1 non-empty, tombstone-free floor move
    let seg2: Vec<u64> = (5..=8).collect();
    // Segment 2 holds seqs 5..=8 (four 932-byte records + a commit fit in 4096).
    for &seq in &seg2 {
        s.delete(seq, false).unwrap();
    }
    s.delete(2, false).unwrap();
    s.flush().unwrap();
    assert!(!dir.seg(2).exists(), "segment 2 removed");
    let before = s.state().unwrap();
    assert_eq!(
        seqs(&mut s),
        [3, 4].into_iter().chain(9..=20).collect::<Vec<_>>()
    );
    let (mut r, report) = open(&dir);
    assert!(report.lost.is_empty(), "{:?}", report.lost);
    assert_eq!(r.state().unwrap(), before);
    assert_eq!(
        seqs(&mut r),
        [3, 4].into_iter().chain(9..=20).collect::<Vec<_>>()
    );
}

#[test]
fn purge_all_removes_old_segments_and_keeps_the_sequence() {
    let dir = TempDir::new("store-purge");
    let (mut s, _) = open(&dir);
    for _ in 0..30 {
        s.append(b"a", b"", &[0; 500], 0).unwrap();
    }
    s.flush().unwrap();
    assert_eq!(s.purge(&Purge::default()).unwrap(), 30);
    s.flush().unwrap();
    let files = std::fs::read_dir(dir.0.join("msgs")).unwrap().count();
    assert_eq!(files, 1, "only the fresh active segment remains");
    let (mut r, report) = open(&dir);
    assert!(report.lost.is_empty());
    let st = r.state().unwrap();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (31, 30, 0));
    assert_eq!(r.append(b"a", b"", b"", 0).unwrap(), 31);
}

#[test]
fn flush_is_one_write_per_touched_segment() {
    let mut log = Log::new(CFG, 1);
    for _ in 0..50 {
        log.append(b"a", b"", b"abc", 0).unwrap();
    }
    let plan = log.flush();
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].len as usize, 32 + 50 * (32 + 1 + 3));
    assert!(log.flush().is_empty());
}

#[test]
fn meta_round_trips_and_detects_damage() {
    let dir = TempDir::new("store-meta");
    let (mut s, _) = open(&dir);
    s.write_meta(br#"{"name":"ORDERS"}"#).unwrap();
    assert_eq!(s.read_meta().unwrap(), br#"{"name":"ORDERS"}"#);
    std::fs::write(dir.0.join("meta.json"), br#"{"name":"ORDERZ"}"#).unwrap();
    assert!(matches!(
        s.read_meta(),
        Err(crate::store::StoreError::BadMeta)
    ));
}

#[test]
fn dropping_a_segment_that_holds_tombstones_for_older_ones_keeps_those_deletes() {
    // nats-server PR 7387: removing an emptied block that held tombstones for older blocks
    // brought deleted messages back after a restart.
    let dir = TempDir::new("store-carry");
    let (mut s, _) = open(&dir);
    let payload = vec![b'x'; 900];
    for _ in 0..12 {
        s.append(b"a", b"", &payload, 0).unwrap();
    }
    s.flush().unwrap();
    s.delete(2, false).unwrap(); // interior: a delete-range record in segment 3
    s.flush().unwrap();
    let holder = s.log().segments.last().unwrap().id;
    let holder_seqs: Vec<u64> = {
        let seg = s.log().segments.last().unwrap();
        (seg.first_seq..seg.first_seq + seg.slots.len() as u64).collect()
    };
    for _ in 0..4 {
        s.append(b"a", b"", &payload, 0).unwrap(); // rolls to a new segment
    }
    for &seq in &holder_seqs {
        s.delete(seq, false).unwrap();
    }
    s.flush().unwrap();
    assert!(!dir.seg(holder).exists(), "segment {holder} dropped");
    let (mut r, report) = open(&dir);
    assert!(report.lost.is_empty(), "{:?}", report.lost);
    assert!(r.get(2).unwrap().is_none(), "seq 2 stays deleted");
    assert_eq!(r.state().unwrap(), s.state().unwrap());
}

#[test]
fn a_batch_that_spans_a_roll_is_one_write_per_segment_each_with_its_commit() {
    let mut log = Log::new(CFG, 1);
    for _ in 0..10 {
        log.append(b"a", b"", &[7; 900], 0).unwrap();
    }
    let plan = log.flush();
    assert_eq!(plan.writes.len(), 3);
    for w in &plan.writes {
        let bytes = log.write_bytes(w).to_vec();
        assert_eq!(bytes.len() as u64, w.len);
        assert!(w.create);
        // Every segment starts with the batch's commit: hwm 10, floor 1.
        assert_eq!(
            record::decode(&bytes).unwrap().0,
            Record::Commit { hwm: 10, floor: 1 }
        );
        assert!(bytes.len() <= 4096);
    }
    log.flushed();
    // Sealed segments left RAM but the newest (`SEALED_RESIDENT_SEGMENTS`); reads of them go
    // to disk.
    assert_eq!(crate::store::log::SEALED_RESIDENT_SEGMENTS, 1);
    assert!(matches!(
        log.read(1).unwrap(),
        crate::store::log::Read::OnDisk { .. }
    ));
    let in_second = (1..=10)
        .find(|&s| log.locate(s).is_some_and(|(i, _)| i == 1))
        .unwrap();
    assert!(matches!(
        log.read(in_second).unwrap(),
        crate::store::log::Read::Found(_)
    ));
    assert!(matches!(
        log.read(10).unwrap(),
        crate::store::log::Read::Found(_)
    ));
}

#[test]
fn erasing_a_flushed_message_plans_an_overwrite_of_the_same_length() {
    let mut log = Log::new(CFG, 1);
    log.append(b"a", b"", b"secret", 0).unwrap();
    log.append(b"a", b"", b"public", 0).unwrap();
    log.flush();
    log.flushed();
    assert!(log.delete(1, true));
    let plan = log.flush();
    assert_eq!(plan.overwrites.len(), 1);
    let o = &plan.overwrites[0];
    assert_eq!((o.offset, o.bytes.len()), (32, 32 + 1 + 6));
    assert_eq!(
        record::decode(&o.bytes).unwrap().0,
        Record::Erased { seq: 1 }
    );
    // The floor moved past seq 1, so the batch is a commit only (no delete range needed).
    let w = plan.writes[0];
    let bytes = log.write_bytes(&w);
    assert_eq!(
        record::decode(bytes).unwrap().0,
        Record::Commit { hwm: 2, floor: 2 }
    );
}

#[test]
fn recovery_accepts_first_seq_for_an_empty_directory() {
    let (log, report) = recover(CFG, 1000, None, &[]);
    assert_eq!(report, RecoveryReport::default());
    let st = log.counters();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (1000, 999, 0));
}

#[test]
fn open_with_a_checkpoint_reads_only_the_segment_bytes_after_it() {
    let dir = TempDir::new("store-tailread");
    let (mut s, _) = open(&dir);
    for i in 0..200u64 {
        s.append(b"k.a", b"", &[b'v'; 100], i as i64).unwrap();
    }
    s.checkpoint().unwrap();
    for i in 200..210u64 {
        s.append(b"k.b", b"", &[b'v'; 100], i as i64).unwrap();
    }
    s.flush().unwrap();
    let before = s.state().unwrap();
    let files: Vec<Vec<u8>> = std::fs::read_dir(dir.0.join("msgs"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".blk"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    let total: u64 = files.iter().map(|f| f.len() as u64).sum();
    // The tail's preallocated zeros are read too, and are no record.
    let zeros: u64 = files
        .iter()
        .map(|f| (f.len() - logical_len(f)) as u64)
        .sum();
    let io = WatchedIo::new(dir.io());
    let (mut r, report) = FileStore::open(io, Layout::default(), 4096, 1).unwrap();
    assert!(report.used_checkpoint);
    let read = r.io().segment_bytes_read as u64;
    let ck = std::fs::read(dir.0.join("index.chk")).unwrap();
    let covered: u64 = checkpoint_coverage(&ck).iter().map(|c| c.1).sum();
    // Only what the checkpoint does not cover: at least the ten new records, never the 200.
    assert_eq!(
        read,
        total - covered,
        "read {read} of {total} segment bytes"
    );
    assert!(
        (10 * 132..20 * 132).contains(&(read - zeros)),
        "read {read} of {total} segment bytes, {zeros} of them zeros"
    );
    assert_eq!(r.state().unwrap().msgs, before.msgs);
    assert_eq!(r.get(205).unwrap().unwrap().ts_ns, 204);
}

#[test]
fn a_segment_emptied_by_later_tombstones_is_removed_after_the_next_flush() {
    let mut seg1 = Vec::new();
    record::encode_commit(&mut seg1, 3, 1);
    for seq in 2..=3 {
        encode_msg(&mut seg1, seq, 0, b"a", b"", b"x");
    }
    encode_msg(&mut seg1, 1, 0, b"a", b"", b"dup"); // out of order: ignored, never served
    let mut seg2 = Vec::new();
    record::encode_commit(&mut seg2, 4, 1);
    encode_msg(&mut seg2, 4, 0, b"a", b"", b"x");
    record::encode_delete(&mut seg2, 2, 3);
    let segs = [SegmentBytes::whole(1, &seg1), SegmentBytes::whole(2, &seg2)];
    let (mut log, report) = recover(CFG, 1, None, &segs);
    assert_eq!(report.lost, vec![SeqRange { first: 1, last: 1 }]);
    let st = log.counters();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (4, 4, 1));
    let plan = log.flush();
    assert_eq!(plan.removes, vec![1]);
    let w = plan.writes.last().unwrap();
    assert_eq!(
        w.segment, 3,
        "the new active segment records the floor before the removal"
    );
    assert_eq!(
        record::decode(log.write_bytes(w)).unwrap().0,
        Record::Commit { hwm: 4, floor: 4 }
    );
}

#[test]
fn skipped_gaps_survive_reopen_as_deletes_not_losses() {
    let dir = TempDir::new("store-skips");
    let (mut s, _) = open(&dir);
    s.log_mut().skip_to(3).unwrap();
    assert_eq!(s.append(b"m.a", b"", b"one", 1).unwrap(), 3);
    // A narrow gap stays in the segment, a wide one (past GAP_SLOTS_MAX) starts a new one.
    s.log_mut().skip_to(6).unwrap();
    assert_eq!(s.append(b"m.b", b"", b"two", 2).unwrap(), 6);
    s.flush().unwrap();
    s.log_mut().skip_to(5000).unwrap();
    assert_eq!(s.append(b"m.a", b"", b"three", 3).unwrap(), 5000);
    s.log_mut().skip_to(5002).unwrap();
    assert_eq!(s.append(b"m.c", b"", b"four", 4).unwrap(), 5002);
    assert!(s.log_mut().skip_to(5002).is_err(), "never backwards");
    s.flush().unwrap();
    let before = s.state().unwrap();
    assert_eq!(
        (before.first_seq, before.last_seq, before.msgs),
        (3, 5002, 4)
    );
    let (mut r, report) = open(&dir);
    assert!(report.lost.is_empty(), "{report:?}");
    assert!(report.damaged.is_empty(), "{report:?}");
    assert_eq!(seqs(&mut r), [3, 6, 5000, 5002]);
    let after = r.state().unwrap();
    assert_eq!(
        (
            after.first_seq,
            after.last_seq,
            after.msgs,
            after.num_deleted
        ),
        (3, 5002, 4, before.num_deleted)
    );
    assert_eq!(r.append(b"m.d", b"", b"", 5).unwrap(), 5003);
}

/// [`StdIo`] that records the names it fdatasyncs.
struct SyncLogIo {
    inner: StdIo,
    synced: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl crate::store::StoreIo for SyncLogIo {
    fn create(&mut self, name: &str) -> std::io::Result<()> {
        self.inner.create(name)
    }
    fn append(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
        self.inner.append(name, buf)
    }
    fn write_at(&mut self, name: &str, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_at(name, offset, buf)
    }
    fn read(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
        self.inner.read(name)
    }
    fn read_at(&mut self, name: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read_at(name, offset, len)
    }
    fn read_from(&mut self, name: &str, offset: u64) -> std::io::Result<Vec<u8>> {
        self.inner.read_from(name, offset)
    }
    fn size(&mut self, name: &str) -> std::io::Result<u64> {
        self.inner.size(name)
    }
    fn truncate(&mut self, name: &str, len: u64) -> std::io::Result<()> {
        self.inner.truncate(name, len)
    }
    fn sync(&mut self, name: &str) -> std::io::Result<()> {
        self.synced.borrow_mut().push(name.to_string());
        self.inner.sync(name)
    }
    fn rename(&mut self, from: &str, to: &str) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&mut self, name: &str) -> std::io::Result<()> {
        self.inner.remove(name)
    }
    fn list(&mut self, dir: &str) -> std::io::Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn sync_handle(&mut self, name: &str) -> std::io::Result<crate::store::SyncFile> {
        self.inner.sync_handle(name)
    }
}

#[test]
fn a_deferred_sync_flush_writes_without_syncing_and_hands_each_segment_over_once() {
    let dir = TempDir::new("store-defer");
    let synced = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let io = SyncLogIo {
        inner: dir.io(),
        synced: synced.clone(),
    };
    let (mut s, _) = FileStore::open(io, Layout::default(), 4096, 1).unwrap();
    s.defer_sync = true;
    for round in 0..3 {
        s.append(b"a", b"", &[b'x'; 100], round).unwrap();
        s.flush().unwrap();
    }
    assert!(
        synced.borrow().is_empty(),
        "synced in line: {:?}",
        synced.borrow()
    );
    // Written: a fresh open sees all three.
    let (mut r, _) = open(&dir);
    assert_eq!(seqs(&mut r), vec![1, 2, 3]);
    let mut files = Vec::new();
    s.take_unsynced(&mut files).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].path, dir.seg(1));
    // The handle is the segment itself: fdatasync through it works from any thread.
    let fd = files.remove(0).fd;
    std::thread::spawn(move || std::fs::File::from(fd).sync_data())
        .join()
        .unwrap()
        .unwrap();
    s.take_unsynced(&mut files).unwrap();
    assert!(files.is_empty(), "handed over twice: {files:?}");
}

#[test]
fn a_deferred_sync_flush_that_removes_a_segment_syncs_its_writes_in_line_first() {
    let dir = TempDir::new("store-deferrm");
    let synced = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let io = SyncLogIo {
        inner: dir.io(),
        synced: synced.clone(),
    };
    let (mut s, _) = FileStore::open(io, Layout::default(), 4096, 1).unwrap();
    s.defer_sync = true;
    for _ in 0..20 {
        s.append(b"a", b"", &[b'x'; 900], 0).unwrap();
    }
    s.flush().unwrap();
    let mut files = Vec::new();
    s.take_unsynced(&mut files).unwrap();
    assert!(files.len() > 1);
    assert!(synced.borrow().is_empty());
    for seq in 1..=4 {
        s.delete(seq, false).unwrap();
    }
    s.flush().unwrap();
    assert!(!dir.seg(1).exists(), "segment 1 removed");
    assert!(
        !synced.borrow().is_empty(),
        "removed before its reason was synced"
    );
    files.clear();
    s.take_unsynced(&mut files).unwrap();
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn recovery_one_segment_at_a_time_equals_recovery_of_all_at_once() {
    // Three segments: a delete across the first two, a duplicate, a torn tail in the last.
    let mut segs = [Vec::new(), Vec::new(), Vec::new()];
    record::encode_commit(&mut segs[0], 4, 1);
    for seq in 1..=4 {
        encode_msg(&mut segs[0], seq, seq as i64, b"a", b"", b"x");
    }
    record::encode_commit(&mut segs[1], 8, 1);
    for seq in 5..=8 {
        encode_msg(&mut segs[1], seq, seq as i64, b"b", b"", b"yy");
    }
    encode_msg(&mut segs[1], 3, 3, b"a", b"", b"dup");
    record::encode_delete(&mut segs[1], 2, 6);
    record::encode_commit(&mut segs[2], 10, 1);
    for seq in 9..=10 {
        encode_msg(&mut segs[2], seq, seq as i64, b"c", b"", b"zzz");
    }
    let torn = segs[2].len() - 3;
    segs[2].truncate(torn);
    let whole: Vec<SegmentBytes<'_>> = segs
        .iter()
        .enumerate()
        .map(|(i, b)| SegmentBytes::whole(i as u32 + 1, b))
        .collect();
    let (all, all_report) = recover(CFG, 1, None, &whole);
    let extents: Vec<SegmentExtent> = whole.iter().map(SegmentBytes::extent).collect();
    let mut one_by_one = Recovery::start(CFG, 1, None, &extents);
    for (i, seg) in segs.iter().enumerate() {
        let owned = seg.clone(); // dropped before the next segment is read
        one_by_one.add(SegmentBytes::whole(i as u32 + 1, &owned));
    }
    let (each, each_report) = one_by_one.finish();
    assert_eq!(each_report.lost, all_report.lost);
    assert_eq!(each_report.torn_tails, all_report.torn_tails);
    assert_eq!(all_report.torn_tails.len(), 1, "the torn tail was seen");
    let (a, e) = (all.counters(), each.counters());
    assert_eq!(
        (a.first_seq, a.last_seq, a.msgs, a.bytes),
        (e.first_seq, e.last_seq, e.msgs, e.bytes)
    );
    // 1 and 7..=9 live; 10 was torn off after its commit, so it is lost, not reissued.
    assert_eq!((e.first_seq, e.last_seq, e.msgs), (1, 10, 4));
    assert!(each_report
        .lost
        .iter()
        .any(|r| r.first <= 10 && 10 <= r.last));
    for seq in 1..=10 {
        let (x, y) = (all.read(seq).unwrap(), each.read(seq).unwrap());
        assert_eq!(format!("{x:?}"), format!("{y:?}"), "seq {seq}");
    }
}
