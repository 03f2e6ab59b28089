//! Parser throughput in bytes/s over streams of client ops: many PUBs with 16 B, 128 B and
//! 1 KiB payloads and an HPUB stream, each parsed whole, then PUB streams fed through the
//! connection reader's loop (`shard/io.rs`) in reads of 1 KiB, 4 KiB and 64 KiB, which split
//! ops at arbitrary bytes and carry the unconsumed tail over to the next read.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use natrix::config::Limits;
use natrix::proto::parser::{parse_op, Op, ParseLimits};

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

/// The reader's rule (`shard/io.rs`): below this much room the buffer is replaced.
const READ_ROOM_MIN_BYTES: usize = 4096;

/// Parses `stream` the way a connection's reader does when each socket read returns
/// `read_bytes`. Each read lands after the unconsumed bytes in the read buffer. Every complete
/// op is parsed and shifted to buffer offsets, and the consumed prefix is frozen into the
/// frame. A partial op stays at the start of what is left and is parsed again from its first
/// byte after the next read. With less than `READ_ROOM_MIN_BYTES` of room left, the buffer is
/// replaced by a fresh zeroed one and the partial op is copied over. The copy of each read into
/// the buffer stands in for the kernel's copy in `read`. Returns the op count.
fn parse_as_reader(stream: &[u8], read_bytes: usize, ops: &mut Vec<Op>) -> usize {
    let buffer_bytes = Limits::default().read_buffer_bytes;
    let mut buf = BytesMut::zeroed(buffer_bytes);
    let mut filled = 0;
    let mut fed = 0;
    let mut count = 0;
    while fed < stream.len() {
        if buf.len() - filled < READ_ROOM_MIN_BYTES {
            let size = if filled * 2 > buffer_bytes {
                filled * 2
            } else {
                buffer_bytes
            };
            let mut next = BytesMut::zeroed(size);
            next[..filled].copy_from_slice(&buf[..filled]);
            buf = next;
        }
        let n = read_bytes.min(stream.len() - fed).min(buf.len() - filled);
        buf[filled..filled + n].copy_from_slice(&stream[fed..fed + n]);
        fed += n;
        filled += n;

        let mut consumed = 0;
        ops.clear();
        while let Ok(Some((op, len))) = parse_op(&buf[consumed..filled], &LIMITS) {
            ops.push(op.shift(consumed as u32));
            consumed += len;
        }
        let frame = buf.split_to(consumed).freeze();
        filled -= consumed;
        count += ops.len();
        black_box((&frame, &ops));
    }
    assert_eq!(filled, 0, "the bench stream must parse completely");
    count
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

    // Neither op length divides a read, so the splits land on every part of an op over a run.
    let mut ops = Vec::with_capacity(64);
    for (name, size) in [("pub_128b", 128), ("pub_1k", 1024)] {
        let buf = pub_stream(size);
        group.throughput(Throughput::Bytes(buf.len() as u64));
        for (reads, read_bytes) in [("1k", 1024), ("4k", 4096), ("64k", 64 * 1024)] {
            group.bench_function(format!("{name}_reads_{reads}"), |b| {
                b.iter(|| parse_as_reader(black_box(&buf), read_bytes, &mut ops))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_parser);
criterion_main!(benches);
