//! Accounts' JetStream spread over the shards (issue 10 point 3): with two shards and two
//! accounts with JetStream, account A's streams are owned by shard 0 and B's by shard 1 (the
//! log says so). Each account's clients, on both shards, create, publish, read and consume
//! as with one shard; the same stream name and subjects in the two accounts stay apart;
//! `$SYS.REQ.SERVER.PING.JSZ` lists both accounts from both shards; and after a SIGKILL with
//! acks done, every acked message is back on the same shards, consumers resume at their ack
//! floors, and sequences go on without reuse.
//!
//! Connections are dealt to the shards in accept order (0, 1, 0, 1, ...), so the two
//! clients of each account, connected one after the other, sit on different shards.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, PullConsumer},
    context::PublishAckFuture,
    stream::Config,
};
use futures::StreamExt;
use serde_json::Value;

use common::procs::{send_signal, Server, TempDir};

/// How long a request, an ack or a fetch may take.
const REPLY_MAX: Duration = Duration::from_secs(5);
/// Messages each client publishes (two clients per account).
const PER_CLIENT: u64 = 150;
/// Acks a publisher keeps outstanding.
const IN_FLIGHT_MAX: usize = 32;
const STREAM: &str = "ORDERS";
const CONSUMER: &str = "workers";

fn start(store: &TempDir) -> Server {
    let conf = format!(
        "system_account: SYS\njetstream {{ store_dir: \"{}\" }}\naccounts {{\n  \
         A {{ jetstream: enabled, users: [{{user: a, password: a}}] }}\n  \
         B {{ jetstream: enabled, users: [{{user: b, password: b}}] }}\n  \
         SYS {{ users: [{{user: sys, password: sys}}] }}\n}}\n",
        store.path.display()
    );
    let path = store.write("accounts.conf", &conf);
    Server::start(2, &["-c", &path])
}

async fn connect(server: &Server, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(server.addr())
        .await
        .unwrap_or_else(|e| panic!("user {user} connects: {e}"))
}

fn context(client: &async_nats::Client) -> jetstream::Context {
    let mut ctx = jetstream::new(client.clone());
    ctx.set_timeout(REPLY_MAX);
    ctx
}

/// The two clients of `user`, connected one after the other (so on different shards).
async fn pair(server: &Server, user: &str) -> (jetstream::Context, jetstream::Context) {
    let first = connect(server, user).await;
    let second = connect(server, user).await;
    (context(&first), context(&second))
}

/// Publishes `PER_CLIENT` messages `<tag>-<i>` with up to `IN_FLIGHT_MAX` acks outstanding;
/// returns (sequence, payload) of each.
async fn publish_all(ctx: &jetstream::Context, tag: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut waiting: Vec<(String, PublishAckFuture)> = Vec::new();
    for i in 0..PER_CLIENT {
        let payload = format!("{tag}-{i}");
        let ack = ctx
            .publish(format!("orders.{}", i % 4), payload.clone().into())
            .await
            .expect("publish sent");
        waiting.push((payload, ack));
        if waiting.len() >= IN_FLIGHT_MAX || i + 1 == PER_CLIENT {
            for (p, a) in waiting.drain(..) {
                let ack = a.await.unwrap_or_else(|e| panic!("ack of {p}: {e}"));
                assert_eq!(ack.stream, STREAM);
                out.push((ack.sequence, p));
            }
        }
    }
    out
}

/// Sequences of an account's acks: exactly 1..=n, none twice.
fn assert_dense(account: &str, acked: &[(u64, String)]) {
    let seqs: BTreeSet<u64> = acked.iter().map(|(s, _)| *s).collect();
    let n = acked.len() as u64;
    assert_eq!(
        seqs.len() as u64,
        n,
        "account {account}: a sequence acked twice"
    );
    assert_eq!(
        seqs,
        (1..=n).collect(),
        "account {account}: sequences not dense"
    );
}

/// Fetches and acks (confirmed) up to `n` messages of the durable; returns their payloads.
async fn drain(c: &PullConsumer, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let mut batch = c
            .fetch()
            .max_messages(n - got.len())
            .expires(REPLY_MAX)
            .messages()
            .await
            .expect("fetch");
        let before = got.len();
        while let Some(m) = batch.next().await {
            let m = m.expect("a message, not an error status");
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
            m.double_ack().await.expect("ack confirmed");
        }
        assert!(got.len() > before, "a fetch with messages left got none");
    }
    got
}

/// `$SYS.REQ.SERVER.PING.JSZ` with accounts and streams, as the system user.
async fn jsz(server: &Server) -> Value {
    let sys = connect(server, "sys").await;
    let r = tokio::time::timeout(
        REPLY_MAX,
        sys.request(
            "$SYS.REQ.SERVER.PING.JSZ",
            r#"{"accounts":true,"streams":true}"#.into(),
        ),
    )
    .await
    .expect("a JSZ reply in time")
    .expect("a JSZ reply");
    serde_json::from_slice(&r.payload).expect("JSZ is JSON")
}

/// (name, streams, messages) of each account in a JSZ answer, by name.
fn jsz_accounts(v: &Value) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = v["data"]["account_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no account_details: {v}"))
        .iter()
        .map(|a| {
            let streams = a["stream_detail"].as_array().cloned().unwrap_or_default();
            let msgs = streams
                .iter()
                .map(|s| s["state"]["messages"].as_u64().unwrap_or(0))
                .sum();
            (
                a["name"].as_str().unwrap_or("").to_string(),
                streams.len() as u64,
                msgs,
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn two_accounts_own_streams_on_two_shards_and_keep_them_across_a_sigkill() {
    let store = TempDir::new("js-accounts");
    let mut server = start(&store);
    let (a0, a1) = pair(&server, "a").await;
    let (b0, b1) = pair(&server, "b").await;

    // The same name and subjects in both accounts: created from a non-owner's shard for A
    // (a1 is on shard 1) and from the owner's for B (b1 is on shard 1).
    for ctx in [&a1, &b1] {
        ctx.create_stream(Config {
            name: STREAM.to_string(),
            subjects: vec!["orders.>".to_string()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    }
    assert!(
        server.wait_log("JetStream: account \"A\" on shard 0", REPLY_MAX),
        "{}",
        server.log()
    );
    assert!(
        server.wait_log("JetStream: account \"B\" on shard 1", REPLY_MAX),
        "{}",
        server.log()
    );

    let (pa0, pa1, pb0, pb1) = tokio::join!(
        publish_all(&a0, "A0"),
        publish_all(&a1, "A1"),
        publish_all(&b0, "B0"),
        publish_all(&b1, "B1"),
    );
    let acked_a: Vec<(u64, String)> = pa0.into_iter().chain(pa1).collect();
    let acked_b: Vec<(u64, String)> = pb0.into_iter().chain(pb1).collect();
    assert_dense("A", &acked_a);
    assert_dense("B", &acked_b);

    // Each account's durable, consumed from the client on the other shard than the one
    // that created it; what it gets is its own account's messages, every one once.
    let per_account = (2 * PER_CLIENT) as usize;
    for (ctx, acked, account) in [(&a0, &acked_a, "A"), (&b0, &acked_b, "B")] {
        let stream = ctx.get_stream(STREAM).await.expect("stream info");
        let c: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(CONSUMER.to_string()),
                ..Default::default()
            })
            .await
            .expect("create durable");
        let got: BTreeSet<String> = drain(&c, per_account).await.into_iter().collect();
        let want: BTreeSet<String> = acked.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(got, want, "account {account}: consumed set");
    }

    // Both shards' accounts in one JSZ answer.
    let v = jsz(&server).await;
    let n = per_account as u64;
    assert_eq!(
        jsz_accounts(&v),
        vec![("A".to_string(), 1, n), ("B".to_string(), 1, n)],
        "{v}"
    );
    assert_eq!(v["data"]["messages"], 2 * n, "{v}");

    drop((a0, a1, b0, b1));
    send_signal(server.pid(), 9);
    server
        .wait_exit(REPLY_MAX)
        .expect("natrix exits on SIGKILL");

    let server = start(&store);
    assert!(
        server.wait_log("JetStream: account \"A\" on shard 0", REPLY_MAX)
            && server.wait_log("JetStream: account \"B\" on shard 1", REPLY_MAX),
        "{}",
        server.log()
    );
    let (a0, a1) = pair(&server, "a").await;
    let (b0, b1) = pair(&server, "b").await;
    for (ctx, other, account) in [(&a0, &a1, "A"), (&b1, &b0, "B")] {
        let mut stream = ctx.get_stream(STREAM).await.expect("stream after restart");
        let info = stream.info().await.expect("info");
        assert_eq!(
            (
                info.state.messages,
                info.state.first_sequence,
                info.state.last_sequence
            ),
            (n, 1, n),
            "account {account} after the restart"
        );
        let ack = other
            .publish("orders.new", account.to_string().into())
            .await
            .expect("sent")
            .await
            .expect("acked after the restart");
        assert_eq!(ack.sequence, n + 1, "account {account}: the next sequence");
        let mut c: PullConsumer = stream
            .get_consumer(CONSUMER)
            .await
            .expect("durable after the restart");
        let ci = c.info().await.expect("consumer info");
        assert_eq!(
            (ci.ack_floor.stream_sequence, ci.num_pending),
            (n, 1),
            "account {account}: consumer after the restart"
        );
        let got = drain(&c, 1).await;
        assert_eq!(got, vec![account.to_string()], "account {account}");
    }
}
