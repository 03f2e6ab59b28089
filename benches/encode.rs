//! MSG/HMSG encoding cost per delivered message: the copy of a published message into a
//! subscriber's outbound buffer, for 16 B, 128 B and 1 KiB payloads, with and without a reply
//! subject, an HMSG to a header subscriber, and the header-stripping MSG to a subscriber
//! without header support.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use natrix::proto::encode::{self, MsgView};

/// Messages encoded per iteration, into a buffer cleared like a writer's spare buffer.
const BATCH: usize = 1024;

fn bench_msg(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_msg");
    g.throughput(Throughput::Elements(BATCH as u64));
    for size in [16usize, 128, 1024] {
        let payload = vec![b'x'; size];
        let token = size.to_string();
        for (name, reply) in [
            ("plain", &b""[..]),
            ("reply", &b"_INBOX.Zx1Y2w3V4u5T6s7R8q9P.42"[..]),
        ] {
            let view = MsgView {
                subject: b"orders.eu.created",
                reply,
                size_token: token.as_bytes(),
                hdr_token: b"",
                payload: &payload,
                hdr_len: 0,
            };
            let mut out = BytesMut::with_capacity(BATCH * (size + 64));
            g.bench_with_input(BenchmarkId::new(name, size), &view, |b, view| {
                b.iter(|| {
                    out.clear();
                    for _ in 0..BATCH {
                        encode::msg(&mut out, black_box(view), b"17", false);
                    }
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();
}

fn bench_hmsg(c: &mut Criterion) {
    let headers = b"NATS/1.0\r\nNats-Msg-Id: 9f8e7d6c5b4a\r\n\r\n";
    let mut payload = headers.to_vec();
    payload.extend_from_slice(&[b'y'; 128]);
    let hdr_token = headers.len().to_string();
    let total_token = payload.len().to_string();
    let view = MsgView {
        subject: b"orders.eu.created",
        reply: b"",
        size_token: total_token.as_bytes(),
        hdr_token: hdr_token.as_bytes(),
        payload: &payload,
        hdr_len: headers.len(),
    };
    let mut g = c.benchmark_group("encode_headers");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, sub_headers) in [("hmsg", true), ("msg_stripped", false)] {
        let mut out = BytesMut::with_capacity(BATCH * 256);
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..BATCH {
                    encode::msg(&mut out, black_box(&view), b"17", sub_headers);
                }
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_msg, bench_hmsg);
criterion_main!(benches);
