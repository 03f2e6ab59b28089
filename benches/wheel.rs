//! Timer wheel costs with 1 M timers pending: insert, cancel, and advance by 1 ms.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use natrix::wheel::Wheel;

const PENDING: u64 = 1_000_000;

/// 1 M timers spread over 30 s, the default ack wait.
fn loaded() -> Wheel<u64> {
    let mut wheel = Wheel::new(0);
    for i in 0..PENDING {
        wheel.insert((i * 7_919) % 30_000 + 1, i);
    }
    wheel
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("wheel_1M_pending");
    let mut wheel = loaded();
    let mut i = 0u64;
    group.bench_function("insert_cancel_pair", |b| {
        b.iter(|| {
            i += 1;
            let h = wheel.insert(black_box(i % 30_000 + 1), i);
            black_box(wheel.cancel(h));
        })
    });
    // Advance 1 ms at a time through a loaded wheel: ~33 timers fire per ms on average.
    let mut now = 0u64;
    let mut fired = Vec::with_capacity(1_024);
    let mut adv = loaded();
    group.bench_function("advance_1ms", |b| {
        b.iter(|| {
            now += 1;
            fired.clear();
            black_box(adv.advance(now, &mut fired));
            // Keep the wheel loaded: re-arm what fired 30 s ahead.
            for &id in &fired {
                adv.insert(now + 30_000, id);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
