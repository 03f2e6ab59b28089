//! Summaries stand for the scan they replace: every recovery here is done twice, once with the
//! summaries and once without them (removed from a copy of the directory), and the two must
//! agree on everything a reader can see.

use crate::store::file::{Layout, StdIo};
use crate::store::recovery::RecoveryReport;
use crate::store::test_io::WatchedIo;
use crate::store::{FileStore, MessageLog, Purge, StoreState};
use crate::test_dir::TempDir;

const SEGMENT_BYTES: u32 = 4096;

fn open(dir: &std::path::Path) -> (FileStore<WatchedIo>, RecoveryReport) {
    let io = WatchedIo::new(StdIo::new(dir.to_path_buf()));
    FileStore::open(io, Layout::default(), SEGMENT_BYTES, 1).unwrap()
}

/// Segment files read whole at the open.
fn segments_read(s: &mut FileStore<WatchedIo>) -> Vec<String> {
    let mut v: Vec<String> = s
        .io()
        .read_to_end
        .iter()
        .filter(|n| n.ends_with(".blk"))
        .cloned()
        .collect();
    v.sort();
    v
}

fn files(dir: &std::path::Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("msgs"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A copy of the store directory without its summaries (and checkpoint).
fn copy_without_summaries(from: &std::path::Path, tag: &str) -> TempDir {
    let to = TempDir::new(tag);
    std::fs::create_dir_all(to.0.join("msgs")).unwrap();
    for name in files(from, ".blk") {
        std::fs::copy(from.join("msgs").join(&name), to.0.join("msgs").join(&name)).unwrap();
    }
    to
}

/// Everything a reader sees: counters, every live message, per-subject counts.
/// Counters, every live message (seq, subject, payload, timestamp), per-subject counts.
type View = (
    StoreState,
    Vec<(u64, Vec<u8>, Vec<u8>, i64)>,
    Vec<(Vec<u8>, u64)>,
);

fn view(s: &mut impl MessageLog) -> View {
    let state = s.state().unwrap();
    let mut msgs = Vec::new();
    let mut from = 1;
    while let Some(m) = s.next_by_subject(from, b">").unwrap() {
        from = m.seq + 1;
        msgs.push((m.seq, m.subject, m.payload, m.ts_ns));
    }
    let mut subjects = s.log().subject_counts(b">");
    subjects.sort();
    (state, msgs, subjects)
}

fn payload(i: u64) -> Vec<u8> {
    format!("payload-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes()
}

#[test]
fn a_restart_reads_only_the_segments_without_a_summary() {
    let dir = TempDir::new("summary-restart");
    let (mut s, _) = open(&dir.0);
    for i in 1..=400u64 {
        let subject = format!("orders.{}", i % 7);
        s.append(subject.as_bytes(), b"", &payload(i), i as i64)
            .unwrap();
        if i % 10 == 0 {
            s.flush().unwrap();
        }
    }
    s.delete(5, false).unwrap();
    s.delete(6, true).unwrap();
    s.flush().unwrap();
    let segments = files(&dir.0, ".blk");
    let summaries = files(&dir.0, ".sum");
    assert!(segments.len() >= 5, "{segments:?}");
    // Every segment but the active one has its summary.
    assert_eq!(summaries.len(), segments.len() - 1, "{summaries:?}");
    let before = view(&mut s);
    drop(s); // no checkpoint: as after a SIGKILL

    let (mut again, report) = open(&dir.0);
    assert!(!report.used_checkpoint);
    let last = segments.last().unwrap();
    assert_eq!(segments_read(&mut again), vec![format!("msgs/{last}")]);
    assert_eq!(view(&mut again), before);

    let bare = copy_without_summaries(&dir.0, "summary-restart-bare");
    let (mut scanned, _) = open(&bare.0);
    assert_eq!(segments_read(&mut scanned).len(), segments.len());
    assert_eq!(view(&mut scanned), before);
}

#[test]
fn a_summary_that_does_not_fit_its_segment_is_passed_over_for_a_scan() {
    let dir = TempDir::new("summary-bad");
    let (mut s, _) = open(&dir.0);
    for i in 1..=300u64 {
        s.append(b"a.b", b"", &payload(i), i as i64).unwrap();
        s.flush().unwrap();
    }
    let before = view(&mut s);
    drop(s);
    let summaries = files(&dir.0, ".sum");
    assert!(summaries.len() >= 3);
    let msgs = dir.0.join("msgs");
    // A flipped byte (CRC), a summary of another segment, and a segment cut short.
    let flip = msgs.join(&summaries[0]);
    let mut bytes = std::fs::read(&flip).unwrap();
    bytes[20] ^= 0x40;
    std::fs::write(&flip, bytes).unwrap();
    std::fs::copy(msgs.join(&summaries[2]), msgs.join(&summaries[1])).unwrap();
    let (mut again, report) = open(&dir.0);
    assert!(report.torn_tails.is_empty() && report.damaged.is_empty());
    let read = segments_read(&mut again);
    for sum in &summaries[..2] {
        let seg = format!("msgs/{}", sum.replace(".sum", ".blk"));
        assert!(read.contains(&seg), "{seg} not scanned: {read:?}");
    }
    assert!(!read.contains(&format!("msgs/{}", summaries[2].replace(".sum", ".blk"))));
    assert_eq!(view(&mut again), before);
    drop(again);

    // The last record a summary names no longer reads back: scanned, and its damage reported.
    let third = msgs.join(summaries[2].replace(".sum", ".blk"));
    let len = std::fs::metadata(&third).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&third)
        .unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&[0xff; 8], len - 8).unwrap();
    let (mut damaged, report) = open(&dir.0);
    assert!(segments_read(&mut damaged)
        .contains(&format!("msgs/{}", summaries[2].replace(".sum", ".blk"))));
    assert!(
        !report.damaged.is_empty() || !report.torn_tails.is_empty(),
        "{report:?}"
    );
}

#[test]
fn an_orphan_summary_is_removed_at_open() {
    let dir = TempDir::new("summary-orphan");
    let (mut s, _) = open(&dir.0);
    for i in 1..=200u64 {
        s.append(b"a", b"", &payload(i), i as i64).unwrap();
        s.flush().unwrap();
    }
    drop(s);
    let segments = files(&dir.0, ".blk");
    let orphan = dir.0.join("msgs").join("9999.sum");
    std::fs::copy(
        dir.0.join("msgs").join(segments[0].replace(".blk", ".sum")),
        &orphan,
    )
    .unwrap();
    let _ = open(&dir.0);
    assert!(!orphan.exists());
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn restarts_from_summaries_agree_with_full_scans_over_random_histories() {
    for seed in 1..=24u64 {
        let dir = TempDir::new("summary-random");
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (mut s, _) = open(&dir.0);
        let mut ts = 0i64;
        for step in 0..1500u64 {
            ts += 1;
            match rng.below(100) {
                0..=69 => {
                    let subject = format!("kv.{}", rng.below(12));
                    let n = rng.below(200);
                    s.append(subject.as_bytes(), b"", &payload(n), ts).unwrap();
                }
                70..=79 => {
                    let last = s.log().counters().last_seq.max(1);
                    let seq = 1 + rng.below(last);
                    s.delete(seq, rng.below(4) == 0).unwrap();
                }
                80..=82 => {
                    let subject = format!("kv.{}", rng.below(12));
                    let keep = rng.below(3);
                    s.purge(&Purge {
                        filter: Some(subject.as_bytes()),
                        keep: Some(keep),
                        up_to_seq: None,
                    })
                    .unwrap();
                }
                83 => {
                    let first = s.log().counters().first_seq;
                    s.purge(&Purge {
                        filter: None,
                        keep: None,
                        up_to_seq: Some(first + rng.below(30)),
                    })
                    .unwrap();
                }
                84..=97 => s.flush().unwrap(),
                _ => {
                    // A crash: what was flushed survives; recover both ways and compare.
                    s.flush().unwrap();
                    let before = view(&mut s);
                    drop(s);
                    let bare = copy_without_summaries(&dir.0, "summary-random-bare");
                    let (mut scanned, _) = open(&bare.0);
                    let (again, _) = open(&dir.0);
                    s = again;
                    let got = view(&mut s);
                    assert_eq!(got, view(&mut scanned), "seed {seed} step {step}");
                    assert_eq!(got.1, before.1, "seed {seed} step {step}");
                    assert_eq!(got.0.last_seq, before.0.last_seq, "seed {seed} step {step}");
                }
            }
        }
    }
}
