//! Cross-shard hand-off cost per message: what it takes to move a published message from one
//! shard to another over the links the broker runs on (`shard::links`, lock-free queues of
//! `Batch`es and a bell per shard), streaming, in batches of 1, 16 and 256 items.
//!
//! Two executors are started once with `runtime::run_executors`, which pins them one per core
//! as it pins the broker's shards, and they serve every sample. The producer shard builds each
//! `Item::Deliver` as a publishing shard does: a `Msg` holding one reference count on the read
//! frame its PUB came from, plus the parsed spans. Items go onto an outbox `Vec`. When it holds
//! `batch` items it is taken whole and sent, as `Shard::flush` sends a peer's outbox, and the
//! producer waits, as a reader does, while the consumer has more than the broker's limits in
//! flight. The
//! consumer shard takes each item apart and drops it. That drop gives the frame's count back
//! and frees the batch's `Vec` on the other core. Matching and encoding on the receiving shard
//! are left out, because `sublist` and `encode` measure them.
//!
//! A sample's time runs from the producer's first item to the moment the consumer has dropped
//! the last one, read from the monotonic clock on each core. The thread that drives criterion
//! and wakes the producer is therefore not measured.

use std::hint::black_box;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use natrix::config::Limits;
use natrix::proto::parser::{parse_op, Op, ParseLimits};
use natrix::runtime::{self, BellRx};
use natrix::shard::links::{Batch, Links};
use natrix::shard::mesh::{Delivery, Item, Msg, MsgSpans};

// The broker's allocator: the consumer frees what the producer allocated, on another core.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH_SIZES: [usize; 3] = [1, 16, 256];
/// PUBs per read frame: about what one 64 KiB read holds at this payload size.
const FRAME_MSGS: usize = 256;
const PAYLOAD_BYTES: usize = 128;
/// Frames the producer cycles through, so consumer drops and producer clones mostly touch
/// different reference counts, as they do when every read brings a new frame.
const FRAMES: usize = 64;

/// End markers, sent as the epoch of an `InterestAck` after a run's last delivery.
const EPOCH_RUN_END: u64 = 1;
const EPOCH_QUIT: u64 = 2;

enum Command {
    Run { messages: u64, batch: usize },
    Quit,
}

/// The two shards and the channels the bench thread drives them with.
struct Shards {
    commands: mpsc::Sender<Command>,
    /// When the producer started a run.
    started: mpsc::Receiver<Instant>,
    /// When the consumer dropped a run's last item, and how many deliveries it saw.
    finished: mpsc::Receiver<(Instant, u64)>,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Shards {
    fn start() -> Shards {
        let (links, rxs) = Links::new(2).expect("links");
        let rxs: Arc<Mutex<Vec<Option<BellRx>>>> =
            Arc::new(Mutex::new(rxs.into_iter().map(Some).collect()));
        let (commands, command_rx) = mpsc::channel();
        let (started_tx, started) = mpsc::channel();
        let (finished_tx, finished) = mpsc::channel();
        let command_rx = Arc::new(Mutex::new(Some(command_rx)));
        let thread = std::thread::spawn(move || {
            runtime::run_executors(2, std::time::Duration::ZERO, move |i| {
                let rx = rxs.lock().expect("bells")[i].take().expect("one bell each");
                let (command_rx, started_tx, finished_tx) =
                    (command_rx.clone(), started_tx.clone(), finished_tx.clone());
                let links = links.clone();
                async move {
                    let shard = Shard { links, rx };
                    if i == 0 {
                        let commands = command_rx.lock().expect("lock").take().expect("one");
                        produce(shard, &commands, &started_tx).await;
                    } else {
                        consume(shard, &finished_tx).await;
                    }
                }
            })
        });
        Shards {
            commands,
            started,
            finished,
            thread,
        }
    }

    /// Streams `messages` deliveries from shard 0 to shard 1; the time they took.
    fn run(&self, messages: u64, batch: usize) -> Duration {
        self.commands
            .send(Command::Run { messages, batch })
            .expect("producer alive");
        let start = self.started.recv().expect("producer started");
        let (end, delivered) = self.finished.recv().expect("consumer finished");
        assert_eq!(delivered, messages, "every message arrives once");
        end.duration_since(start)
    }

    fn stop(self) {
        let _ = self.commands.send(Command::Quit);
        self.thread
            .join()
            .expect("shard thread")
            .expect("executors ran");
    }
}

/// One side's view of the links: the links and its end of its bell.
struct Shard {
    links: Arc<Links>,
    rx: BellRx,
}

/// Shard 0: serves commands until told to quit, then tells shard 1. Blocking on the command
/// channel stalls this executor, which is fine: nothing else runs on it between samples.
async fn produce(
    shard: Shard,
    commands: &mpsc::Receiver<Command>,
    started: &mpsc::Sender<Instant>,
) {
    let links = shard.links.clone();
    let mut bell = shard.rx.bind(links.bell(0));
    let limits = Limits::default();
    let send = |items: Vec<Item>| {
        links.send(
            0,
            1,
            Batch {
                items,
                payload_bytes: 0,
            },
        )
    };
    let (frames, spans) = frames();
    while let Ok(Command::Run { messages, batch }) = commands.recv() {
        let _ = started.send(Instant::now());
        let mut outbox: Vec<Item> = Vec::new();
        let mut sent = 0u64;
        'run: for frame in frames.iter().cycle() {
            for spans in &spans {
                if sent == messages {
                    break 'run;
                }
                outbox.push(deliver(frame, spans));
                sent += 1;
                if outbox.len() == batch {
                    send(std::mem::take(&mut outbox));
                    while links.over(0, 1, limits.shard_outbox_items_max, usize::MAX) {
                        bell.wait(|| links.has_news(0)).await;
                        links.take_drained(0);
                    }
                }
            }
        }
        outbox.push(Item::InterestAck {
            epoch: EPOCH_RUN_END,
        });
        send(outbox);
    }
    send(vec![Item::InterestAck { epoch: EPOCH_QUIT }]);
}

/// A delivery to every plain subscriber of the destination, as `dispatch` queues it.
fn deliver(frame: &Bytes, spans: &MsgSpans) -> Item {
    Item::Deliver(Delivery {
        account: natrix::account::GLOBAL_ACCOUNT,
        msg: Msg {
            frame: frame.clone(),
            spans: *spans,
        },
        plain: true,
        queues: Default::default(),
        hops: 0,
        to: None,
        origin: 0,
    })
}

/// Shard 1: takes each item apart and drops it, and reports the end of each run, until told
/// to quit.
async fn consume(shard: Shard, finished: &mpsc::Sender<(Instant, u64)>) {
    let links = shard.links.clone();
    let mut bell = shard.rx.bind(links.bell(1));
    let mut delivered = 0u64;
    loop {
        links.take_fresh(0, 1);
        let Some(batch) = links.pop(0, 1) else {
            bell.wait(|| links.has_news(1)).await;
            continue;
        };
        let n = batch.items.len();
        for item in batch.items {
            match item {
                Item::Deliver(d) => {
                    black_box(d.msg.view().subject);
                    delivered += 1;
                }
                Item::InterestAck {
                    epoch: EPOCH_RUN_END,
                } => {
                    let _ = finished.send((Instant::now(), std::mem::take(&mut delivered)));
                }
                Item::InterestAck { .. }
                | Item::JsApi { .. }
                | Item::ConnClosed { .. }
                | Item::ServiceReply { .. } => return,
            }
        }
        links.applied(0, 1, n, 0);
    }
}

/// `FRAMES` copies of one read's worth of PUBs, frozen from a `BytesMut` as the reader
/// freezes its buffer, and the spans of each PUB in it (the same in every copy).
fn frames() -> (Vec<Bytes>, Vec<MsgSpans>) {
    let payload = [b'x'; PAYLOAD_BYTES];
    let mut stream = Vec::new();
    for _ in 0..FRAME_MSGS {
        stream.extend_from_slice(format!("PUB orders.eu.created {PAYLOAD_BYTES}\r\n").as_bytes());
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(b"\r\n");
    }
    let limits = ParseLimits {
        max_control_line_bytes: 4096,
        max_payload_bytes: 1024 * 1024,
    };
    let mut spans = Vec::with_capacity(FRAME_MSGS);
    let mut pos = 0;
    while let Ok(Some((op, n))) = parse_op(&stream[pos..], &limits) {
        let Op::Pub {
            subject,
            reply,
            size_token,
            payload,
        } = op.shift(pos as u32)
        else {
            panic!("the frame holds only PUBs");
        };
        spans.push(MsgSpans::of_pub(subject, reply, size_token, payload));
        pos += n;
    }
    assert_eq!(spans.len(), FRAME_MSGS);
    let frames = (0..FRAMES)
        .map(|_| BytesMut::from(&stream[..]).freeze())
        .collect();
    (frames, spans)
}

fn bench_handoff(c: &mut Criterion) {
    let shards = Shards::start();
    let mut group = c.benchmark_group("handoff");
    group.throughput(Throughput::Elements(1));
    for batch in BATCH_SIZES {
        group.bench_function(BenchmarkId::new("deliver_batch", batch), |b| {
            b.iter_custom(|messages| shards.run(messages, batch))
        });
    }
    // A batch of the same items built and dropped on one thread, without the mesh: the
    // hand-off adds the difference (criterion's per-element time is per message here too).
    let (frames, spans) = frames();
    group.throughput(Throughput::Elements(spans.len() as u64));
    group.bench_function("build_drop_same_thread", |b| {
        b.iter(|| {
            let outbox: Vec<Item> = spans
                .iter()
                .map(|spans| deliver(&frames[0], spans))
                .collect();
            drop(black_box(outbox));
        })
    });
    group.finish();
    shards.stop();
}

criterion_group! {
    name = benches;
    // Short, so the whole bench stays well under two minutes on a shared machine; each sample
    // still streams enough messages that waking the consumer is a small part of it.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench_handoff
}
criterion_main!(benches);
