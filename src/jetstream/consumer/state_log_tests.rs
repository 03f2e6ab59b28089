use super::*;
use crate::jetstream::consumer::delta::{Change, Delta, DeltaOutcome, Positions};
use crate::jetstream::consumer::state::{AckPolicy, ConsumerLimits, ConsumerState};
use crate::jetstream::consumer::{ConsumerTimer, StreamView};
use crate::wheel::Wheel;

/// Every sequence 1..=last exists.
struct Stream {
    last: u64,
}

impl StreamView for Stream {
    fn num_pending(&self, _filters: &[String], from_seq: u64) -> u64 {
        (self.last + 1).saturating_sub(from_seq.max(1))
    }
    fn next(&self, from_seq: u64, _filters: &[String]) -> Option<u64> {
        let s = from_seq.max(1);
        (s <= self.last).then_some(s)
    }
}

fn limits(policy: AckPolicy) -> ConsumerLimits {
    ConsumerLimits {
        ack_policy: policy,
        ack_wait_ms: 1_000,
        max_deliver: Some(4),
        max_ack_pending: None,
        ..ConsumerLimits::default()
    }
}

/// xorshift64*: a fixed seed gives the same run every time.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn deliver(
    c: &mut ConsumerState,
    view: &Stream,
    wheel: &mut Wheel<ConsumerTimer>,
    now: u64,
    n: u64,
) {
    let mut events = Vec::new();
    for _ in 0..n {
        if c.next_delivery(view, now, wheel, &mut events).is_none() {
            break;
        }
    }
}

/// A log starting with a snapshot of `c`; the state now tracks changes.
fn start_log(c: &mut ConsumerState) -> Vec<u8> {
    let mut body = Vec::new();
    c.encode_snapshot(&mut body);
    let mut log = Vec::new();
    encode_record(&body, &mut log);
    log
}

/// Appends a delta record of what changed; false when nothing did.
fn commit(c: &mut ConsumerState, log: &mut Vec<u8>) -> bool {
    let mut body = Vec::new();
    match c.encode_delta(&mut body) {
        DeltaOutcome::Encoded => {
            encode_record(&body, log);
            true
        }
        DeltaOutcome::Unchanged => false,
        DeltaOutcome::SnapshotNeeded => panic!("the state tracks changes after a snapshot"),
    }
}

#[test]
fn records_stop_at_a_torn_or_damaged_one_and_never_panic() {
    let mut file = Vec::new();
    for s in [&b"one"[..], b"second", b"3"] {
        encode_record(s, &mut file);
    }
    let bodies = |b: &[u8]| records(b).map(|(_, r)| r.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        bodies(&file),
        vec![b"one".to_vec(), b"second".to_vec(), b"3".to_vec()]
    );
    for cut in 1..(RECORD_HEADER_BYTES + 1) {
        assert_eq!(bodies(&file[..file.len() - cut]).len(), 2, "cut {cut}");
    }
    let mut bad = file.clone();
    bad[RECORD_HEADER_BYTES + 1] ^= 1;
    assert!(bodies(&bad).is_empty());
    assert!(bodies(b"").is_empty());
    assert!(bodies(&[0xff; 3]).is_empty());
    let mut huge = Vec::new();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&[0; 12]);
    assert!(bodies(&huge).is_empty());
    assert_eq!(recover(&huge), Err(RecoverError::NoSnapshot));
}

#[test]
fn a_delta_round_trips_through_its_encoding() {
    let positions = Positions {
        delivered_consumer_seq: 1_000_012,
        delivered_stream_seq: 900,
        ack_floor_consumer: 1_000_000,
        ack_floor_stream: 880,
        next_stream_seq: 901,
    };
    let changes = vec![
        Change::Pending {
            stream_seq: 900,
            consumer_seq: 1_000_012,
            deliveries: 1,
            timestamp_ms: 1_764_000_000_000,
        },
        Change::Removed { stream_seq: 881 },
        Change::Pending {
            stream_seq: 885,
            consumer_seq: 1_000_003,
            deliveries: 3,
            timestamp_ms: 1_763_999_999_000,
        },
        Change::Removed { stream_seq: 900 },
    ];
    let mut body = Vec::new();
    crate::jetstream::consumer::delta::encode_delta(&positions, &changes, &mut body);
    assert_eq!(
        Delta::decode(&body),
        Ok(Delta {
            positions,
            changes: changes.clone()
        })
    );
    for cut in 0..body.len() {
        assert!(Delta::decode(&body[..cut]).is_err(), "cut {cut}");
    }
    let mut long = body.clone();
    long.push(0);
    assert_eq!(Delta::decode(&long), Err(SnapshotError::TrailingBytes));
}

#[test]
fn an_ack_or_a_delivery_costs_a_few_bytes_whatever_is_pending() {
    let view = Stream { last: 20_000 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 10_000);
    let log = start_log(&mut c);
    assert!(
        log.len() > 30_000,
        "snapshot of 10 000 pending is {} bytes",
        log.len()
    );
    let mut body = Vec::new();
    c.ack(5_000, &mut wheel);
    assert_eq!(c.encode_delta(&mut body), DeltaOutcome::Encoded);
    assert!(body.len() < 24, "one ack: {} bytes", body.len());
    body.clear();
    deliver(&mut c, &view, &mut wheel, 1, 1_000);
    assert_eq!(c.encode_delta(&mut body), DeltaOutcome::Encoded);
    assert!(
        body.len() < 6 * 1_000,
        "1 000 deliveries: {} bytes",
        body.len()
    );
    body.clear();
    assert_eq!(c.encode_delta(&mut body), DeltaOutcome::Unchanged);
    assert!(body.is_empty());
}

#[test]
fn recovery_takes_the_last_snapshot_and_the_deltas_after_it_and_ignores_a_torn_tail() {
    let view = Stream { last: 100 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 10);
    let mut log = start_log(&mut c);
    c.ack(3, &mut wheel);
    assert!(commit(&mut c, &mut log));
    let after_first = StateImage::of(&c);
    deliver(&mut c, &view, &mut wheel, 5, 5);
    c.ack(1, &mut wheel);
    assert!(commit(&mut c, &mut log));
    let after_second = StateImage::of(&c);
    let r = recover(&log).unwrap();
    assert_eq!(
        (r.deltas_applied, r.refused, r.intact_bytes),
        (2, None, log.len())
    );
    assert_eq!(r.image, after_second);
    // Torn anywhere inside the last record: the state after the one before it.
    let last_len = log.len() - records(&log).last().unwrap().0;
    for cut in 1..=last_len {
        let r = recover(&log[..log.len() - cut]).unwrap();
        assert_eq!(r.image, after_first, "cut {cut}");
        assert_eq!(r.deltas_applied, 1);
    }
    // A later snapshot supersedes everything before it.
    let mut body = Vec::new();
    c.encode_snapshot(&mut body);
    encode_record(&body, &mut log);
    c.ack(2, &mut wheel);
    assert!(commit(&mut c, &mut log));
    let r = recover(&log).unwrap();
    assert_eq!(r.deltas_applied, 1);
    assert_eq!(r.snapshot_record_bytes, RECORD_HEADER_BYTES + body.len());
    assert_eq!(r.image, StateImage::of(&c));
}

#[test]
fn a_delta_after_a_damaged_record_is_not_applied() {
    let view = Stream { last: 100 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 10);
    let mut log = start_log(&mut c);
    c.ack(1, &mut wheel);
    commit(&mut c, &mut log);
    let good = StateImage::of(&c);
    let damaged_at = log.len();
    c.ack(2, &mut wheel);
    commit(&mut c, &mut log);
    c.ack(3, &mut wheel);
    commit(&mut c, &mut log);
    log[damaged_at + RECORD_HEADER_BYTES + 1] ^= 0x40;
    let r = recover(&log).unwrap();
    assert_eq!(r.image, good);
    assert_eq!(r.intact_bytes, damaged_at);
    assert!(r.image.pending.contains_key(&2) && r.image.pending.contains_key(&3));
}

#[test]
fn a_delta_that_does_not_fit_is_refused_whole_and_the_state_before_it_is_kept() {
    let view = Stream { last: 100 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 10);
    let mut log = start_log(&mut c);
    let before = StateImage::of(&c);
    // Positions behind the snapshot's: refused.
    let back = Positions {
        delivered_consumer_seq: 5,
        delivered_stream_seq: 5,
        ack_floor_consumer: 0,
        ack_floor_stream: 0,
        next_stream_seq: 6,
    };
    let mut body = Vec::new();
    crate::jetstream::consumer::delta::encode_delta(&back, &[], &mut body);
    let mut img = before.clone();
    assert_eq!(img.apply_delta(&body), Err(SnapshotError::Inconsistent));
    assert_eq!(img, before);
    // A consumer floor past the first entry left: refused after its changes were tried, and
    // undone.
    let p = Positions {
        delivered_consumer_seq: 10,
        delivered_stream_seq: 10,
        ack_floor_consumer: 4,
        ack_floor_stream: 2,
        next_stream_seq: 11,
    };
    body.clear();
    let changes = [
        Change::Removed { stream_seq: 5 },
        Change::Pending {
            stream_seq: 6,
            consumer_seq: 6,
            deliveries: 2,
            timestamp_ms: 9,
        },
    ];
    crate::jetstream::consumer::delta::encode_delta(&p, &changes, &mut body);
    assert_eq!(img.apply_delta(&body), Err(SnapshotError::Inconsistent));
    assert_eq!(img, before);
    // An entry whose consumer sequence is out of order with its neighbours': refused.
    let mut order = Vec::new();
    let at6 = Change::Pending {
        stream_seq: 6,
        consumer_seq: 3,
        deliveries: 2,
        timestamp_ms: 9,
    };
    let p10 = Positions {
        delivered_consumer_seq: 10,
        delivered_stream_seq: 10,
        ack_floor_consumer: 0,
        ack_floor_stream: 0,
        next_stream_seq: 11,
    };
    crate::jetstream::consumer::delta::encode_delta(&p10, &[at6], &mut order);
    assert_eq!(img.apply_delta(&order), Err(SnapshotError::Inconsistent));
    assert_eq!(img, before);
    encode_record(&body, &mut log);
    c.ack(1, &mut wheel);
    commit(&mut c, &mut log);
    let r = recover(&log).unwrap();
    assert_eq!(r.image, before);
    assert_eq!(r.deltas_applied, 0);
    assert_eq!(r.refused.map(|(_, e)| e), Some(SnapshotError::Inconsistent));
}

/// Random deliveries, acks, naks, terms, progress and ack-wait expiries, committed at random
/// points: after every commit the log recovers to exactly the live state's durable part.
fn replay_equals_live(policy: AckPolicy, seed: u64) {
    let view = Stream { last: 5_000 };
    let mut rng = Rng(seed);
    let mut wheel = Wheel::new(0);
    let mut now = 0u64;
    let mut c = ConsumerState::new(7, limits(policy), 1);
    let mut log = Vec::new();
    let mut events = Vec::new();
    let mut commits = 0;
    for step in 0..4_000 {
        let pending: Vec<u64> = if rng.below(4) == 0 {
            c.pending.keys().copied().collect()
        } else {
            c.pending.keys().take(8).copied().collect()
        };
        let pick = |rng: &mut Rng| {
            pending
                .get(rng.below(pending.len() as u64) as usize)
                .copied()
        };
        match rng.below(10) {
            0..=2 => deliver(&mut c, &view, &mut wheel, now, rng.below(6)),
            3..=4 => {
                if let Some(s) = pick(&mut rng) {
                    c.ack(s, &mut wheel);
                }
            }
            5 => {
                if let Some(s) = pick(&mut rng) {
                    let delay = [None, Some(0), Some(300)][rng.below(3) as usize];
                    c.nak(s, delay, now, &mut wheel);
                }
            }
            6 => {
                if let Some(s) = pick(&mut rng) {
                    c.term(s, &mut wheel, &mut events);
                }
            }
            7 => {
                if let Some(s) = pick(&mut rng) {
                    c.progress(s, now, &mut wheel);
                }
            }
            _ => {
                now += rng.below(700);
                let mut fired = Vec::new();
                wheel.advance(now, &mut fired);
                for t in fired {
                    if let crate::jetstream::consumer::TimerKind::AckWait { stream_seq } = t.kind {
                        if c.give_up_if_spent(stream_seq).is_none() {
                            c.on_timer(t.kind);
                        }
                    }
                }
            }
        }
        if step == 50 {
            log = start_log(&mut c);
        } else if step > 50 && rng.below(5) == 0 {
            if rng.below(40) == 0 {
                let mut body = Vec::new();
                c.encode_snapshot(&mut body);
                encode_record(&body, &mut log);
            } else {
                commit(&mut c, &mut log);
            }
            commits += 1;
            let r = recover(&log).unwrap();
            assert_eq!(r.refused, None, "step {step}");
            assert_eq!(r.image, StateImage::of(&c), "step {step}");
        }
    }
    assert!(commits > 100);
    commit(&mut c, &mut log);
    let r = recover(&log).unwrap();
    // The restored state writes the same snapshot the live one does.
    let mut w2 = Wheel::new(now);
    let restored = ConsumerState::from_image(7, c.limits().clone(), r.image, &mut w2);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    restored.encode(&mut a);
    c.encode(&mut b);
    assert_eq!(a, b);
    assert_eq!(w2.len(), restored.num_ack_pending());
}

#[test]
fn replaying_snapshot_and_deltas_equals_the_live_state_explicit_acks() {
    for seed in [1, 0x9e37_79b9_7f4a_7c15, 42] {
        replay_equals_live(AckPolicy::Explicit, seed);
    }
}

#[test]
fn replaying_snapshot_and_deltas_equals_the_live_state_ack_all() {
    for seed in [7, 0xdead_beef] {
        replay_equals_live(AckPolicy::All, seed);
    }
}

#[test]
fn recovery_never_panics_on_damaged_logs() {
    let view = Stream { last: 50 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 8);
    let mut log = start_log(&mut c);
    c.ack(2, &mut wheel);
    deliver(&mut c, &view, &mut wheel, 0, 3);
    commit(&mut c, &mut log);
    // Every body byte replaced (with the checksum fixed up, so the decoders see it).
    let offsets: Vec<(usize, usize)> = records(&log).map(|(at, b)| (at, b.len())).collect();
    for &(at, len) in &offsets {
        for i in 0..len {
            for x in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = log.clone();
                let body = at + RECORD_HEADER_BYTES;
                b[body + i] = x;
                let crc = crc32c::crc32c(&b[body..body + len]);
                b[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
                if let Ok(r) = recover(&b) {
                    assert!(r.image.ack_floor_stream <= r.image.delivered_stream_seq);
                    let mut w = Wheel::new(0);
                    let s = ConsumerState::from_image(7, c.limits().clone(), r.image, &mut w);
                    let mut out = Vec::new();
                    s.encode(&mut out);
                    assert!(StateImage::decode(&out).is_ok());
                }
            }
        }
    }
}

#[test]
fn a_change_list_longer_than_the_pending_set_gives_way_to_a_snapshot() {
    use crate::jetstream::consumer::delta::CHANGES_MIN_MAX;
    let view = Stream { last: 100 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 10);
    let _ = start_log(&mut c);
    for i in 0..CHANGES_MIN_MAX as u64 - 1 {
        c.progress(1 + i % 10, i, &mut wheel);
    }
    let mut body = Vec::new();
    assert_eq!(c.encode_delta(&mut body), DeltaOutcome::Encoded);
    for i in 0..CHANGES_MIN_MAX as u64 + 1 {
        c.progress(1 + i % 10, i, &mut wheel);
    }
    body.clear();
    assert_eq!(c.encode_delta(&mut body), DeltaOutcome::SnapshotNeeded);
    assert!(body.is_empty());
    c.encode_snapshot(&mut body);
    body.clear();
    assert_eq!(c.encode_delta(&mut body), DeltaOutcome::Unchanged);
}

#[test]
fn zeros_after_the_last_record_are_the_clean_end_and_zeros_after_a_torn_one_are_not() {
    let view = Stream { last: 100 };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver(&mut c, &view, &mut wheel, 0, 10);
    let mut log = start_log(&mut c);
    c.ack(3, &mut wheel);
    assert!(commit(&mut c, &mut log));
    let after_first = StateImage::of(&c);
    let first_end = log.len();
    c.ack(1, &mut wheel);
    assert!(commit(&mut c, &mut log));
    let after_second = StateImage::of(&c);
    let end = log.len();
    // A preallocated file: the records, then zeros of any length.
    for zeros in [0, 1, 7, 8, 9, 100, 1 << 20] {
        let mut file = log.clone();
        file.resize(end + zeros, 0);
        let r = recover(&file).unwrap();
        assert_eq!(r.image, after_second, "{zeros} zeros");
        assert_eq!((r.deltas_applied, r.refused), (2, None), "{zeros} zeros");
        assert_eq!((r.intact_bytes, r.clean_end), (end, true), "{zeros} zeros");
    }
    // The last record torn (its end never written, the zeros still there): torn, not clean.
    // (A body may end in zero bytes: zeroing those would change nothing.)
    let last_nonzero = log.iter().rposition(|&b| b != 0).unwrap();
    for kept in [1, 4, 8, last_nonzero - first_end] {
        let mut file = log.clone();
        file[first_end + kept..].fill(0);
        file.resize(end + 64, 0);
        let r = recover(&file).unwrap();
        assert_eq!(r.image, after_first, "kept {kept}");
        assert_eq!(
            (r.intact_bytes, r.clean_end),
            (first_end, false),
            "kept {kept}"
        );
    }
    // A damaged record with zeros after it: the state before it, not clean.
    let mut file = log.clone();
    file[first_end + RECORD_HEADER_BYTES] ^= 0x40;
    file.resize(end + 64, 0);
    let r = recover(&file).unwrap();
    assert_eq!(r.image, after_first);
    assert_eq!((r.intact_bytes, r.clean_end), (first_end, false));
}
