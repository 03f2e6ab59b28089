//! Durable consumer state across SIGKILL (issue 11): publish `MESSAGES`, fetch some, ack part
//! of them with double acks (the server confirmed each), leave the rest unacked, SIGKILL the
//! server, restart on the same store dir (with `-js -sd DIR`, and with
//! `jetstream { sync_interval: always }` from a config file), and check that
//! - the consumer and its config are back, with the same delivered / ack floor / pending
//!   numbers as before the kill;
//! - no acked message is ever delivered again;
//! - every unacked one comes back flagged as a redelivery (delivery count ≥ 2), and the
//!   never-delivered ones come as first deliveries;
//! - acks made after the restart survive a second SIGKILL.
//!
//! nats-server writes consumer state (`o.dat`) up to 100 ms after it answered the double ack
//! (reference jetstream-internals.md §1.10); natrix answers it only once the ack is stored
//! (§5.9). So against nats-server the test lets `REFERENCE_FLUSH` pass before the kill, and
//! against natrix it kills right after the last confirmed ack. Seen with nats-server 2.15.1
//! and no pause: after the restart the consumer had lost every confirmed ack (ack floor 0,
//! 12 pending), with `sync_interval: always` too, and once it was back at delivered 0.
//!
//! Each test is bounded (`TEST_MAX`), on 127.0.0.1, with ephemeral ports and temp dirs.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{pull, PullConsumer},
    stream::Config,
    Message,
};
use futures::StreamExt;

use common::procs::{against_reference, send_signal, Server, TempDir};

/// How long one test may take, start to end.
const TEST_MAX: Duration = Duration::from_secs(30);
/// Messages published before the kill.
const MESSAGES: u64 = 20;
/// How many of them are fetched before the kill.
const FETCHED: u64 = 12;
/// The stream sequences acked (double ack) before the kill; the other fetched ones stay unacked.
const ACKED: [u64; 7] = [1, 2, 3, 4, 5, 8, 10];
/// The consumer's ack wait: short, so redeliveries after the restart come quickly.
const ACK_WAIT: Duration = Duration::from_secs(2);
/// How long nats-server may take to write consumer state after confirming an ack.
const REFERENCE_FLUSH: Duration = Duration::from_millis(500);
/// How long the test waits for all redeliveries after the restart.
const REDELIVERY_MAX: Duration = Duration::from_secs(8);

const STREAM: &str = "CCRASH";
const CONSUMER: &str = "keeper";

/// How the server is started on its store dir.
#[derive(Clone, Copy)]
enum Mode {
    /// `-js -sd DIR`.
    Flags,
    /// `-c FILE` with `jetstream { store_dir: DIR, sync_interval: always }`.
    SyncAlways,
}

struct Store {
    dir: TempDir,
    conf: TempDir,
    mode: Mode,
}

impl Store {
    fn new(tag: &str, mode: Mode) -> Store {
        Store {
            dir: TempDir::new(tag),
            conf: TempDir::new(&format!("{tag}-conf")),
            mode,
        }
    }

    fn start(&self) -> Server {
        match self.mode {
            Mode::Flags => Server::start_jetstream(1, &self.dir.path, &[]),
            Mode::SyncAlways => {
                let conf = self.conf.write(
                    "js.conf",
                    &format!(
                        "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
                        self.dir.path.display()
                    ),
                );
                Server::start(1, &["-c", &conf])
            }
        }
    }
}

fn kill(server: &mut Server) {
    send_signal(server.pid(), libc::SIGKILL);
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "server survived SIGKILL"
    );
}

async fn context(server: &Server) -> jetstream::Context {
    let client = async_nats::connect(server.url())
        .await
        .expect("async-nats connects");
    jetstream::new(client)
}

async fn the_consumer(ctx: &jetstream::Context) -> PullConsumer {
    ctx.get_stream(STREAM)
        .await
        .expect("stream recovered")
        .get_consumer(CONSUMER)
        .await
        .expect("durable consumer recovered")
}

/// (delivered consumer seq, delivered stream seq, floor consumer seq, floor stream seq,
/// num_ack_pending, num_pending).
async fn numbers(c: &mut PullConsumer) -> (u64, u64, u64, u64, usize, u64) {
    let i = c.info().await.expect("consumer info");
    (
        i.delivered.consumer_sequence,
        i.delivered.stream_sequence,
        i.ack_floor.consumer_sequence,
        i.ack_floor.stream_sequence,
        i.num_ack_pending,
        i.num_pending,
    )
}

/// A waiting pull of up to `n`, ended by the server at `expires` or when filled.
async fn pull(c: &PullConsumer, n: usize, expires: Duration) -> Vec<Message> {
    let mut batch = c
        .batch()
        .max_messages(n)
        .expires(expires)
        .messages()
        .await
        .expect("pull request");
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        out.push(m.expect("a message, not an error status"));
    }
    out
}

fn seq_and_count(m: &Message) -> (u64, i64) {
    let i = m.info().expect("ack subject parses");
    (i.stream_sequence, i.delivered)
}

async fn kill_with_unacked_then_restart(mode: Mode, tag: &str) {
    let t0 = Instant::now();
    let store = Store::new(tag, mode);
    let mut server = store.start();
    let before = {
        let ctx = context(&server).await;
        let stream = ctx
            .create_stream(Config {
                name: STREAM.to_string(),
                subjects: vec!["cc.>".to_string()],
                ..Default::default()
            })
            .await
            .expect("create stream");
        for i in 1..=MESSAGES {
            ctx.publish(format!("cc.{}", i % 3), format!("m{i}").into())
                .await
                .expect("sent")
                .await
                .expect("acked");
        }
        let mut c: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(CONSUMER.to_string()),
                ack_wait: ACK_WAIT,
                ..Default::default()
            })
            .await
            .expect("create durable");
        let mut got = c
            .fetch()
            .max_messages(FETCHED as usize)
            .messages()
            .await
            .expect("fetch");
        let mut fetched = Vec::new();
        while let Some(m) = got.next().await {
            fetched.push(m.expect("a message"));
        }
        let seqs: Vec<u64> = fetched.iter().map(|m| seq_and_count(m).0).collect();
        assert_eq!(seqs, (1..=FETCHED).collect::<Vec<u64>>());
        for m in fetched
            .iter()
            .filter(|m| ACKED.contains(&seq_and_count(m).0))
        {
            m.double_ack().await.expect("ack confirmed");
        }
        let before = numbers(&mut c).await;
        let unacked = FETCHED as usize - ACKED.len();
        assert_eq!(
            before,
            (FETCHED, FETCHED, 5, 5, unacked, MESSAGES - FETCHED),
            "before the kill"
        );
        before
    };
    if against_reference() {
        tokio::time::sleep(REFERENCE_FLUSH).await;
    }
    kill(&mut server);
    drop(server);

    let mut server = store.start();
    {
        let ctx = context(&server).await;
        let mut c = the_consumer(&ctx).await;
        let i = c.info().await.expect("info").clone();
        assert_eq!(i.config.ack_wait, ACK_WAIT, "config recovered");
        assert_eq!(numbers(&mut c).await, before, "numbers recovered");

        let unacked: BTreeSet<u64> = (1..=FETCHED).filter(|s| !ACKED.contains(s)).collect();
        let fresh: BTreeSet<u64> = (FETCHED + 1..=MESSAGES).collect();
        let mut seen = Vec::new();
        let deadline = Instant::now() + REDELIVERY_MAX;
        while seen.len() < unacked.len() + fresh.len() && Instant::now() < deadline {
            for m in pull(&c, MESSAGES as usize, Duration::from_secs(1)).await {
                let (seq, count) = seq_and_count(&m);
                assert!(!ACKED.contains(&seq), "acked seq {seq} delivered again");
                if unacked.contains(&seq) {
                    assert!(count >= 2, "seq {seq} not flagged redelivered: {count}");
                } else {
                    assert!(fresh.contains(&seq), "seq {seq} out of range");
                    assert_eq!(count, 1, "seq {seq} was never delivered before");
                }
                m.double_ack().await.expect("ack confirmed");
                seen.push(seq);
            }
        }
        println!(
            "after restart, delivered in order: {seen:?} ({:?} after the start)",
            t0.elapsed()
        );
        let got: BTreeSet<u64> = seen.iter().copied().collect();
        assert_eq!(got.len(), seen.len(), "a message came twice: {seen:?}");
        assert_eq!(
            got,
            unacked.union(&fresh).copied().collect::<BTreeSet<u64>>(),
            "every unacked and never-delivered message comes"
        );
        let (dc, ds, fc, fs, pending, num_pending) = numbers(&mut c).await;
        assert_eq!((ds, fs, pending, num_pending), (MESSAGES, MESSAGES, 0, 0));
        assert_eq!(dc, fc, "all delivered are acked");
        assert_eq!(
            dc,
            FETCHED + seen.len() as u64,
            "one consumer seq per delivery"
        );
    }
    if against_reference() {
        tokio::time::sleep(REFERENCE_FLUSH).await;
    }
    kill(&mut server);
    drop(server);

    // The acks made after the restart were kept too: nothing comes back after an ack wait.
    let server = store.start();
    let ctx = context(&server).await;
    let mut c = the_consumer(&ctx).await;
    let (_, ds, _, fs, pending, num_pending) = numbers(&mut c).await;
    assert_eq!((ds, fs, pending, num_pending), (MESSAGES, MESSAGES, 0, 0));
    let late = pull(&c, MESSAGES as usize, ACK_WAIT + Duration::from_millis(500)).await;
    let late: Vec<(u64, i64)> = late.iter().map(seq_and_count).collect();
    assert!(late.is_empty(), "delivered again after acks: {late:?}");
    assert!(t0.elapsed() < TEST_MAX, "took {:?}", t0.elapsed());
}

#[tokio::test]
async fn sigkill_keeps_acks_and_redelivers_the_unacked_flagged() {
    tokio::time::timeout(
        TEST_MAX,
        kill_with_unacked_then_restart(Mode::Flags, "cons-crash"),
    )
    .await
    .expect("bounded");
}

#[tokio::test]
async fn sigkill_with_sync_interval_always_keeps_acks_and_redelivers_the_unacked() {
    tokio::time::timeout(
        TEST_MAX,
        kill_with_unacked_then_restart(Mode::SyncAlways, "cons-crash-sync"),
    )
    .await
    .expect("bounded");
}
