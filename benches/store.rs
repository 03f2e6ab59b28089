//! Storage engine costs without I/O: appending a batch of 1,000 messages (16-byte subjects,
//! 128-byte payloads) into a durable log and building its flush plan (one group commit), and
//! recovering a 4 MiB segment of such records from bytes (the full-scan path: CRC32C of every
//! record plus index and subject-table rebuild). And `compression: s2` (`store/pack.rs`) on
//! 1,000 JSON orders of about 690 bytes: appending them with and without packing, and
//! reading one back by sequence (decode, and with packing the Snappy block's unpacking).

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

/// A JSON order of about 690 bytes, different for each `i` (as in tests/jetstream_compression.rs).
fn order(i: u64) -> Vec<u8> {
    let items: Vec<String> = (0..12)
        .map(|k| {
            format!(
                "{{\"sku\":\"SKU-{:04}\",\"qty\":{},\"note\":\"standard shipping\"}}",
                k * 7,
                k % 3 + 1
            )
        })
        .collect();
    format!(
        "{{\"order\":{i},\"customer\":\"c-{}\",\"items\":[{}]}}",
        i % 97,
        items.join(",")
    )
    .into_bytes()
}

fn compression(c: &mut Criterion) {
    let orders: Vec<Vec<u8>> = (0..1000).map(order).collect();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1000));
    for packed in [false, true] {
        let name = if packed { "s2" } else { "none" };
        group.bench_function(format!("append_1000_orders_compression_{name}"), |b| {
            let mut log = Log::new(CFG, 1);
            log.set_compression(packed);
            b.iter(|| {
                for (i, o) in orders.iter().enumerate() {
                    black_box(log.append(b"orders.eu", b"", o, i as i64).unwrap());
                }
                let plan = log.flush();
                black_box(log.write_bytes(&plan.writes[0]).len());
                log.flushed();
                log.purge(&natrix::store::Purge::default());
            });
        });
        let mut log = Log::new(CFG, 1);
        log.set_compression(packed);
        for (i, o) in orders.iter().enumerate() {
            log.append(b"orders.eu", b"", o, i as i64).unwrap();
        }
        let plan = log.flush();
        let bytes = log.write_bytes(&plan.writes[0]).to_vec();
        eprintln!(
            "store/compression_{name}: 1000 orders of {} B average in {} B of records",
            orders.iter().map(Vec::len).sum::<usize>() / orders.len(),
            bytes.len()
        );
        group.bench_function(format!("read_1000_orders_compression_{name}"), |b| {
            b.iter(|| {
                for seq in 1..=1000 {
                    match log.read(seq).unwrap() {
                        natrix::store::log::Read::Found(m) => black_box(m.payload.len()),
                        _ => unreachable!("the log is resident"),
                    };
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, append_and_flush, recover_segment, compression);
criterion_main!(benches);
