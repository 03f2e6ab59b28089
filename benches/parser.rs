//! Parser throughput in bytes/s over streams of client ops, as a connection would see them
//! after a read: many PUBs with 16 B, 128 B and 1 KiB payloads, an HPUB stream, and the
//! 128 B stream arriving in reads that split ops at arbitrary bytes.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use natrix::proto::parser::{parse_op, ParseLimits};

const LIMITS: ParseLimits = ParseLimits {
    max_control_line_bytes: 4096,
    max_payload_bytes: 1024 * 1024,
};

/// About 1 MiB of ops, so per-iteration overhead does not show.
const STREAM_BYTES: usize = 1 << 20;

fn pub_stream(payload_bytes: usize) -> Vec<u8> {
    let payload = vec![b'x'; payload_bytes];
    let mut buf = Vec::with_capacity(STREAM_BYTES + 2048);
    let mut i = 0u32;
    while buf.len() < STREAM_BYTES {
        // Alternate plain and request-style PUBs, as a mixed workload does.
        if i.is_multiple_of(2) {
            buf.extend_from_slice(format!("PUB orders.eu.created {payload_bytes}\r\n").as_bytes());
        } else {
            let line = format!("PUB orders.eu.created _INBOX.a1b2c3.{i} {payload_bytes}\r\n");
            buf.extend_from_slice(line.as_bytes());
        }
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(b"\r\n");
        i += 1;
    }
    buf
}

fn hpub_stream() -> Vec<u8> {
    let headers = b"NATS/1.0\r\nNats-Msg-Id: 9f8e7d6c5b4a\r\nContent-Type: json\r\n\r\n";
    let body = [b'y'; 128];
    let mut buf = Vec::with_capacity(STREAM_BYTES + 2048);
    while buf.len() < STREAM_BYTES {
        let line = format!(
            "HPUB orders.eu.created {} {}\r\n",
            headers.len(),
            headers.len() + 128
        );
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(headers);
        buf.extend_from_slice(&body);
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

/// Parses every op in `buf`; returns the op count so the work cannot be optimised away.
fn parse_all(buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut ops = 0;
    while let Ok(Some((op, n))) = parse_op(&buf[pos..], &LIMITS) {
        black_box(op);
        pos += n;
        ops += 1;
    }
    assert_eq!(pos, buf.len(), "the bench stream must parse completely");
    ops
}

/// Parses `buf` as if it arrived in reads of `read_bytes`: the parser only sees the bytes
/// read so far, so the op at the end of each read is parsed once incomplete and again after
/// the next read. The window slides over one buffer, so no copy is measured.
fn parse_in_reads(buf: &[u8], read_bytes: usize) -> usize {
    let mut pos = 0;
    let mut read_end = 0;
    let mut ops = 0;
    while pos < buf.len() {
        read_end = (read_end + read_bytes).min(buf.len());
        while let Ok(Some((op, n))) = parse_op(&buf[pos..read_end], &LIMITS) {
            black_box(op);
            pos += n;
            ops += 1;
        }
    }
    ops
}

fn bench_parser(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");
    for (name, size) in [("pub_16b", 16), ("pub_128b", 128), ("pub_1k", 1024)] {
        let buf = pub_stream(size);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_all(black_box(&buf))));
    }

    let buf = hpub_stream();
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("hpub_128b", |b| b.iter(|| parse_all(black_box(&buf))));

    // An odd read size, so the splits land on every part of an op over the run.
    let buf = pub_stream(128);
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("pub_128b_split_reads_1459b", |b| {
        b.iter(|| parse_in_reads(black_box(&buf), 1459))
    });
    group.finish();
}

criterion_group!(benches, bench_parser);
criterion_main!(benches);
