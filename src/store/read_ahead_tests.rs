//! The read-ahead window through a real [`FileStore`]: sequential reads of sealed segments
//! take one read per window, random reads only their record, and nothing deleted is served.

use super::READ_AHEAD_MAX_BYTES;
use crate::store::file::{FileStore, Layout, StdIo};
use crate::store::log::Read;
use crate::store::test_io::WatchedIo;
use crate::store::MessageLog;
use crate::test_dir::TempDir;

/// Small segments, so that most of what `filled` writes is sealed and read from disk.
const SEGMENT_BYTES_MAX: u32 = 64 * 1024;

fn payload(i: u64) -> Vec<u8> {
    format!("payload {i:06} {}", "y".repeat((i % 5) as usize * 30)).into_bytes()
}

fn filled(dir: &TempDir, n: u64) -> FileStore<WatchedIo> {
    let io = WatchedIo::new(StdIo::new(dir.0.clone()));
    let (mut s, _) = FileStore::open(io, Layout::default(), SEGMENT_BYTES_MAX, 1).unwrap();
    for i in 1..=n {
        let subject = format!("s.{}", i % 10);
        assert_eq!(
            s.append(subject.as_bytes(), b"", &payload(i), i as i64)
                .unwrap(),
            i
        );
        if i % 100 == 0 {
            s.flush().unwrap();
        }
    }
    s.flush().unwrap();
    s
}

fn on_disk(s: &FileStore<WatchedIo>, seq: u64) -> bool {
    matches!(s.log().read(seq).unwrap(), Read::OnDisk { .. })
}

#[test]
fn a_sequential_read_of_sealed_segments_takes_a_read_per_window_not_per_message() {
    let dir = TempDir::new("ra-seq");
    let mut s = filled(&dir, 20_000);
    let sealed = (1..=20_000).filter(|&q| on_disk(&s, q)).count() as u64;
    assert!(sealed > 5_000, "only {sealed} messages on disk");
    for i in 1..=20_000 {
        let m = s.fetch(i).unwrap().expect("present");
        assert_eq!((m.seq, m.ts_ns, m.payload), (i, i as i64, payload(i)));
        assert!(s.read_window_bytes() as u64 <= READ_AHEAD_MAX_BYTES);
    }
    let reads = s.io().segment_reads_at as u64;
    let bytes = s.io().segment_bytes_read as u64;
    // Each sealed segment: one record, then windows of 16, 32, 64 KiB (64 KiB segments).
    let segments = sealed * 200 / u64::from(SEGMENT_BYTES_MAX) + 2;
    assert!(reads > 0, "nothing was read from disk");
    assert!(
        reads <= segments * 6,
        "{reads} reads for {sealed} messages on disk"
    );
    assert!(
        bytes <= sealed * 400,
        "{bytes} bytes read for {sealed} messages"
    );
}

#[test]
fn a_random_read_takes_only_its_record() {
    let dir = TempDir::new("ra-rand");
    let mut s = filled(&dir, 5_000);
    let picks: Vec<u64> = [4_100, 17, 2_900, 1_200, 3, 2_000]
        .into_iter()
        .filter(|&q| on_disk(&s, q))
        .collect();
    assert!(picks.len() >= 4, "only {picks:?} on disk");
    for &q in &picks {
        let before = s.io().segment_bytes_read;
        let m = s.fetch(q).unwrap().expect("present");
        assert_eq!(m.payload, payload(q));
        let read = s.io().segment_bytes_read - before;
        assert!(read < 300, "{read} bytes read for message {q}");
    }
}

#[test]
fn a_message_deleted_inside_a_window_already_read_is_absent() {
    let dir = TempDir::new("ra-del");
    let mut s = filled(&dir, 5_000);
    assert!(on_disk(&s, 10) && on_disk(&s, 40));
    // 10 alone, then 11 starts a window that covers 12..40.
    assert_eq!(s.fetch(10).unwrap().map(|m| m.seq), Some(10));
    assert_eq!(s.fetch(11).unwrap().map(|m| m.seq), Some(11));
    let reads = s.io().segment_reads_at;
    assert!(s.delete(13, false).unwrap());
    s.flush().unwrap();
    assert_eq!(s.fetch(13).unwrap(), None);
    assert_eq!(s.fetch(14).unwrap().map(|m| m.payload), Some(payload(14)));
    assert_eq!(s.io().segment_reads_at, reads, "14 came from the window");
    // A secure erase also drops the window, which may hold the erased bytes.
    assert!(s.delete(12, true).unwrap());
    s.flush().unwrap();
    assert_eq!(s.read_window_bytes(), 0);
    assert_eq!(s.fetch(12).unwrap(), None);
    assert_eq!(s.fetch(40).unwrap().map(|m| m.payload), Some(payload(40)));
}

#[test]
fn sparse_reads_in_order_take_only_their_records() {
    // A filtered consumer whose matches lie far apart: each read is past the last one's
    // end by more than a first window, so none reads ahead.
    let dir = TempDir::new("ra-sparse");
    let mut s = filled(&dir, 5_000);
    let picks: Vec<u64> = (1..=5_000)
        .step_by(300)
        .filter(|&q| on_disk(&s, q))
        .collect();
    assert!(picks.len() >= 8, "only {picks:?} on disk");
    let before = s.io().segment_bytes_read;
    for &q in &picks {
        assert_eq!(s.fetch(q).unwrap().map(|m| m.payload), Some(payload(q)));
    }
    let read = s.io().segment_bytes_read - before;
    assert!(
        read < picks.len() * 300,
        "{read} bytes read for {} sparse messages",
        picks.len()
    );
}
