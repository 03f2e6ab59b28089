use super::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::BTreeMap;

fn fire(wheel: &mut Wheel<u64>, now_ms: u64) -> Vec<u64> {
    let mut out = Vec::new();
    wheel.advance(now_ms, &mut out);
    out.sort_unstable();
    out
}

#[test]
fn timer_fires_at_its_deadline_not_before() {
    let mut wheel = Wheel::new(0);
    wheel.insert(10, 1);
    assert_eq!(wheel.next_deadline(), Some(10));
    assert!(fire(&mut wheel, 9).is_empty());
    assert_eq!(fire(&mut wheel, 10), vec![1]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn timers_across_every_level_boundary_fire_on_their_ms() {
    // Deadlines just below, at and above each 64^k boundary, starting from an odd origin so
    // the cursor is mid-slot at every level.
    let origin = 12_345;
    let mut wheel = Wheel::new(origin);
    let mut deadlines = Vec::new();
    for k in 1..6u32 {
        let edge = 64u64.pow(k);
        for d in [edge - 1, edge, edge + 1] {
            deadlines.push(origin + d);
        }
    }
    for &d in &deadlines {
        wheel.insert(d, d);
    }
    for &d in &deadlines {
        assert_eq!(wheel.next_deadline(), Some(d), "next deadline before {d}");
        assert!(fire(&mut wheel, d - 1).is_empty(), "{d} fired early");
        assert_eq!(fire(&mut wheel, d), vec![d]);
    }
    assert!(wheel.is_empty());
}

#[test]
fn far_future_timers_beyond_2_pow_36_ms_fire() {
    let mut wheel = Wheel::new(5);
    let far = (1u64 << 36) + 777;
    let farther = u64::MAX - 3;
    wheel.insert(far, far);
    wheel.insert(farther, farther);
    assert!(fire(&mut wheel, far - 1).is_empty());
    assert_eq!(fire(&mut wheel, far), vec![far]);
    assert!(fire(&mut wheel, farther - 1).is_empty());
    assert_eq!(fire(&mut wheel, u64::MAX), vec![farther]);
}

#[test]
fn insert_in_the_past_fires_on_next_advance() {
    let mut wheel = Wheel::new(0);
    assert!(fire(&mut wheel, 1_000).is_empty());
    wheel.insert(3, 3);
    assert_eq!(wheel.next_deadline(), Some(1_000));
    // Same instant: still fires.
    assert_eq!(fire(&mut wheel, 1_000), vec![3]);
}

#[test]
fn cancel_after_fire_is_harmless_and_does_not_hit_a_reused_entry() {
    let mut wheel = Wheel::new(0);
    let old = wheel.insert(5, 5);
    assert_eq!(fire(&mut wheel, 5), vec![5]);
    // The slab entry is reused by the next insert; the old handle must not reach it.
    let new = wheel.insert(20, 20);
    assert_eq!(wheel.cancel(old), None);
    assert!(!wheel.reset(old, 100));
    assert_eq!(wheel.deadline(new), Some(20));
    assert_eq!(wheel.cancel(new), Some(20));
    assert_eq!(wheel.cancel(new), None);
    assert!(wheel.is_empty());
}

#[test]
fn reset_moves_a_timer_and_keeps_its_handle() {
    let mut wheel = Wheel::new(0);
    let h = wheel.insert(100, 7);
    assert!(fire(&mut wheel, 50).is_empty());
    assert!(wheel.reset(h, 150));
    assert!(fire(&mut wheel, 100).is_empty());
    assert_eq!(wheel.deadline(h), Some(150));
    assert_eq!(fire(&mut wheel, 150), vec![7]);
}

#[test]
fn next_deadline_after_cancel_is_never_late() {
    let mut wheel = Wheel::new(0);
    let a = wheel.insert(5_000, 1);
    wheel.insert(6_000, 2);
    wheel.cancel(a);
    let next = wheel.next_deadline().unwrap();
    assert!(next <= 6_000);
    assert!(fire(&mut wheel, next).len() <= 1);
    let next = wheel.next_deadline().unwrap();
    assert!(next <= 6_000);
    assert_eq!(fire(&mut wheel, 6_000), vec![2]);
}

#[test]
fn matches_a_btreemap_model_under_random_operations() {
    let mut rng = StdRng::seed_from_u64(0x11_7e5e);
    for round in 0..20 {
        let start: u64 = rng.gen_range(0..1u64 << 40);
        let mut wheel = Wheel::new(start);
        let mut model: BTreeMap<(u64, u64), TimerHandle> = BTreeMap::new();
        let mut handles: Vec<(TimerHandle, u64, u64)> = Vec::new();
        let mut now = start;
        let mut next_id = 0u64;
        for _ in 0..3_000 {
            match rng.gen_range(0..10) {
                0..=4 => {
                    let spread = [64u64, 4_096, 1 << 20, 1 << 38][rng.gen_range(0..4)];
                    let d = (now + rng.gen_range(0..spread)).saturating_sub(rng.gen_range(0..3));
                    let h = wheel.insert(d, next_id);
                    model.insert((d.max(now), next_id), h);
                    handles.push((h, d.max(now), next_id));
                    next_id += 1;
                }
                5..=6 if !handles.is_empty() => {
                    let (h, d, id) = handles.swap_remove(rng.gen_range(0..handles.len()));
                    let expect = model.remove(&(d, id)).map(|_| id);
                    assert_eq!(wheel.cancel(h), expect, "round {round}");
                }
                _ => {
                    let step = [1u64, 63, 4_097, 1 << 22][rng.gen_range(0..4)];
                    now += rng.gen_range(0..step);
                    let mut got = Vec::new();
                    wheel.advance(now, &mut got);
                    got.sort_unstable();
                    let mut want = Vec::new();
                    while let Some((&(d, id), _)) = model.iter().next() {
                        if d > now {
                            break;
                        }
                        model.remove(&(d, id));
                        want.push(id);
                    }
                    want.sort_unstable();
                    assert_eq!(got, want, "round {round} now {now}");
                }
            }
            assert_eq!(wheel.len(), model.len());
            let earliest = model.keys().next().map(|&(d, _)| d);
            match (wheel.next_deadline(), earliest) {
                (None, None) => {}
                (Some(n), Some(e)) => assert!(n <= e && n >= now, "next {n} earliest {e}"),
                other => panic!("next_deadline disagrees: {other:?}"),
            }
        }
    }
}

#[test]
fn advance_behind_the_clock_fires_nothing_and_keeps_the_clock() {
    let mut wheel = Wheel::new(0);
    assert!(fire(&mut wheel, 500).is_empty());
    wheel.insert(100, 1);
    assert!(fire(&mut wheel, 400).is_empty());
    assert_eq!(wheel.elapsed_ms(), 500);
    assert_eq!(fire(&mut wheel, 500), vec![1]);
}
