//! Feeds arbitrary bytes to the store's record decoder, its resyncing scan and recovery, and
//! checks their invariants (see the `//!` docs of `natrix::store::record` and `::recovery`):
//! - `decode` never panics; an accepted record re-encodes to exactly its bytes;
//! - `scan` accounts for every byte once, in order (records, damage, then at most one torn
//!   tail at the end);
//! - `recover` never panics, serves only records that pass their checksum, and its counters
//!   agree with what can be read back;
//! - `summary::decode` never panics and accepts only summaries whose slots fit their segment.
//!
//! - a packed message (`compression: s2`) re-encodes the same way, and reading it never
//!   panics whatever its compressed block holds.
//!
//! The first byte splits the rest into a checkpoint and up to two segments. When its top bit
//! is set, the rest is instead a program that writes valid records (messages, delete ranges,
//! commits, packed messages) and then damages them (bit flips, a cut), so recovery sees real records; there the
//! target also checks that recovering again from the first recovery's checkpoint gives the
//! same counters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::store::log::Read;
use natrix::store::record::{self, Record, ScanItem};
use natrix::store::{recovery, LogConfig};

fuzz_target!(|data: &[u8]| {
    let [split, rest @ ..] = data else { return };
    if split & 0x80 != 0 {
        return structured(*split, rest);
    }
    if let Ok((rec, len)) = record::decode(rest) {
        let mut again = Vec::new();
        match rec {
            Record::Msg { seq, ts_ns, subject, headers, payload } => {
                record::encode_msg(&mut again, seq, ts_ns, subject, headers, payload);
            }
            Record::Packed { seq, ts_ns, subject, headers_len, body } => {
                record::encode_packed(&mut again, seq, ts_ns, subject, headers_len, body);
                // It passed its CRC; its block may still be garbage: reported, never a panic.
                let _ = natrix::store::Log::decode_read(seq, &rest[..len]);
            }
            Record::Delete { first, last } => record::encode_delete(&mut again, first, last),
            Record::Commit { hwm, floor } => record::encode_commit(&mut again, hwm, floor),
            Record::Erased { seq } => {
                again = rest[..len].to_vec();
                record::erase_in_place(&mut again, seq);
            }
        }
        assert_eq!(again, &rest[..len]);
    }
    let mut pos = 0;
    let mut torn = false;
    for item in record::scan(rest, 0) {
        assert!(!torn, "nothing after a torn tail");
        match item {
            ScanItem::Record { offset, .. } => {
                assert_eq!(offset, pos);
                pos += record::decode(&rest[offset..]).map(|(_, n)| n).unwrap();
            }
            ScanItem::Damage { offset, len } => {
                assert_eq!(offset, pos);
                assert!(len > 0);
                pos += len;
            }
            ScanItem::TornTail { offset } => {
                assert_eq!(offset, pos);
                pos = rest.len();
                torn = true;
            }
        }
    }
    assert_eq!(pos, rest.len());

    // A segment summary: decoding never panics, and an accepted one only names bytes inside
    // the segment size it records.
    if let Some(s) = natrix::store::summary::decode(rest) {
        if let Some((offset, len, _)) = s.last_record() {
            assert!(offset + u64::from(len) <= s.size);
        }
    }

    let cut = usize::from(*split) * rest.len() / 256;
    let (ckpt, segs) = rest.split_at(cut);
    let half = segs.len() / 2;
    let segments = [
        recovery::SegmentBytes::whole(1, &segs[..half]),
        recovery::SegmentBytes::whole(2, &segs[half..]),
    ];
    let cfg = LogConfig { segment_bytes_max: 4096, durable: true };
    let (log, _report) = recovery::recover(cfg, 1, Some(ckpt), &segments);
    let mut live = 0;
    let mut from = 1;
    while let Some(seq) = log.next_by_subject(from, b">") {
        assert!(seq >= from);
        match log.read(seq) {
            Ok(Read::OnDisk { segment, offset, len }) => {
                let bytes = segments[(segment - 1) as usize].bytes;
                let at = offset as usize;
                let rec = bytes.get(at..at + len as usize).expect("slot inside its segment");
                // A checkpoint may point at bytes that are not this message: reported, not served.
                let _ = natrix::store::Log::decode_read(seq, rec);
            }
            Ok(Read::Found(m)) => assert_eq!(m.seq, seq),
            Ok(Read::Absent) => panic!("next_by_subject gave an absent {seq}"),
            Err(_) => {}
        }
        live += 1;
        from = seq + 1;
    }
    assert_eq!(live, log.counters().msgs);
});

/// Writes records from 4-byte instructions, damages them, and recovers twice.
fn structured(split: u8, program: &[u8]) {
    const SUBJECTS: [&[u8]; 4] = [b"s.a", b"s.b", b"t.a", b"t.b"];
    let mut buf = Vec::new();
    let mut next = 1u64;
    let mut damage = Vec::new();
    let mut packer = natrix::store::pack::Packer::default();
    for op in program.chunks_exact(4) {
        let (a, b, c) = (u64::from(op[1]), u64::from(op[2]), op[3]);
        match op[0] % 5 {
            0 | 1 => {
                next += a % 3; // sometimes skip sequences, as a lost record would
                let subject = SUBJECTS[usize::from(c) % 4];
                let payload = vec![c; (b as usize % 8) * 40];
                if c & 0x80 != 0 && packer.pack(b"", &payload) {
                    record::encode_packed(&mut buf, next, b as i64, subject, 0, packer.packed());
                } else {
                    record::encode_msg(&mut buf, next, b as i64, subject, b"", &payload[..(b % 8) as usize]);
                }
                next += 1;
            }
            2 => record::encode_delete(&mut buf, 1 + a % next, 1 + a % next + b % 8),
            3 => record::encode_commit(&mut buf, next - 1 + a % 2, 1 + b % next),
            _ => damage.push((a << 8 | b, c)),
        }
    }
    for (at, bit) in damage {
        if !buf.is_empty() {
            let i = at as usize % buf.len();
            buf[i] ^= 1 << (bit % 8);
        }
    }
    let cut = usize::from(split & 0x7f) * buf.len() / 128;
    let segments = [
        recovery::SegmentBytes::whole(1, &buf[..cut]),
        recovery::SegmentBytes::whole(2, &buf[cut..]),
    ];
    let cfg = LogConfig { segment_bytes_max: 4096, durable: true };
    let (log, _) = recovery::recover(cfg, 1, None, &segments);
    let mut ckpt = Vec::new();
    recovery::encode_checkpoint(&log, &mut ckpt);
    // Segments the first recovery dropped are gone, as after its next flush.
    let covered = recovery::checkpoint_coverage(&ckpt);
    let kept: Vec<_> =
        segments.iter().copied().filter(|s| covered.iter().any(|c| c.0 == s.id)).collect();
    let (again, report) = recovery::recover(cfg, 1, Some(&ckpt), &kept);
    assert!(report.used_checkpoint);
    let (x, y) = (log.counters(), again.counters());
    assert_eq!(
        (x.first_seq, x.last_seq, x.msgs, x.bytes, x.num_subjects, &x.lost),
        (y.first_seq, y.last_seq, y.msgs, y.bytes, y.num_subjects, &y.lost)
    );
    let mut from = 1;
    while let Some(seq) = log.next_by_subject(from, b">") {
        assert_eq!(again.next_by_subject(from, b">"), Some(seq));
        from = seq + 1;
    }
}
