//! Storage engine costs without I/O: appending a batch of 1,000 messages (16-byte subjects,
//! 128-byte payloads) into a durable log and building its flush plan (one group commit), and
//! recovering a 4 MiB segment of such records from bytes (the full-scan path: CRC32C of every
//! record plus index and subject-table rebuild).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use natrix::store::{recovery, Log, LogConfig};

const CFG: LogConfig = LogConfig {
    segment_bytes_max: 4 << 20,
    durable: true,
};
const PAYLOAD: [u8; 128] = [b'p'; 128];

fn append_and_flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("append_1000_then_flush_plan", |b| {
        let mut log = Log::new(CFG, 1);
        let subjects: Vec<String> = (0..64).map(|i| format!("orders.eu.{i:06}")).collect();
        b.iter(|| {
            for i in 0..1000 {
                let subject = subjects[i % subjects.len()].as_bytes();
                black_box(log.append(subject, b"", &PAYLOAD, i as i64).unwrap());
            }
            let plan = log.flush();
            black_box(log.write_bytes(&plan.writes[0]).len());
            log.flushed();
            // Keep the log from growing without bound across iterations.
            log.purge(&natrix::store::Purge::default());
        });
    });
    group.finish();
}

fn recover_segment(c: &mut Criterion) {
    let mut log = Log::new(CFG, 1);
    let mut n = 0u64;
    while log.counters().bytes < (4 << 20) - 4096 {
        log.append(
            format!("orders.eu.{:06}", n % 64).as_bytes(),
            b"",
            &PAYLOAD,
            0,
        )
        .unwrap();
        n += 1;
    }
    let plan = log.flush();
    let bytes = log.write_bytes(&plan.writes[0]).to_vec();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("recover_4mib_segment", |b| {
        b.iter(|| {
            let (log, _) =
                recovery::recover(CFG, 1, None, &[recovery::SegmentBytes::whole(1, &bytes)]);
            black_box(log.counters().msgs)
        });
    });
    group.finish();
}

criterion_group!(benches, append_and_flush, recover_segment);
criterion_main!(benches);
