//! `compression: s2` and `persist_mode: async` (issue 10 point 5), natrix against
//! nats-server 2.15.1 in one run: stream create, update and info with both fields (the config
//! echo by keys and types, errors by code and text), publishes and reads back from a
//! compressed stream; then, on natrix, through async-nats' `Compression::S2` and
//! `PersistenceMode::Async`: every acked message of a compressed stream is there after a
//! SIGKILL with acks in flight, in fewer bytes on disk than its payloads; and an async-persist
//! stream under `sync_interval: always` loses no acked message to a SIGKILL either (natrix acks
//! after the write, nats-server may ack before it, so that assertion is natrix's only).
//!
//! The differential test runs nats-server too (`NATRIX_NATS_SERVER` or `.venv/bin`).

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    context::PublishAckFuture,
    stream::{Compression, Config, PersistenceMode},
};
use base64::Engine;
use futures::future::join_all;
use serde_json::{json, Value};

use common::ops::json_shape;
use common::procs::{send_signal, Server, TempDir};

/// How long a request or an ack may take.
const REPLY_MAX: Duration = Duration::from_secs(5);
/// Acks a publisher keeps outstanding in the crash tests.
const IN_FLIGHT_MAX: usize = 128;
/// Messages published before the SIGKILL (all acked or in flight when it lands).
const KILL_AFTER_ACKS: usize = 1_500;

/// A JSON order of about 690 bytes, different for each `i`, that compresses well.
fn order(i: u64) -> String {
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
}

async fn api(client: &async_nats::Client, subject: String, body: Value) -> Value {
    let reply = tokio::time::timeout(REPLY_MAX, client.request(subject, body.to_string().into()))
        .await
        .expect("a reply in time")
        .expect("a reply");
    serde_json::from_slice(&reply.payload).expect("API replies are JSON")
}

/// What one API answer shows: the error's code, err_code and text; or the config's shape
/// (keys and JSON types) with the values of the fields under test and the message count.
fn note(label: &str, r: &Value) -> String {
    if let Some(e) = r.get("error") {
        return format!(
            "{label}: error {} {} {}",
            e["code"], e["err_code"], e["description"]
        );
    }
    let c = &r["config"];
    format!(
        "{label}: ok compression={} persist_mode={} storage={} msgs={}\n      {}",
        c["compression"],
        c["persist_mode"],
        c["storage"],
        r["state"]["msgs"],
        json_shape(c, &[])
    )
}

async fn play(reference: bool) -> Vec<String> {
    let dir = TempDir::new(if reference { "s2-ref" } else { "s2-natrix" });
    let server = Server::start_jetstream_on(reference, &dir.path);
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut seen = Vec::new();
    let steps: Vec<(&str, &str, Value)> = vec![
        (
            "file s2",
            "CREATE.A",
            json!({"name": "A", "subjects": ["a.>"], "compression": "s2"}),
        ),
        (
            "memory s2",
            "CREATE.B",
            json!({"name": "B", "subjects": ["b"], "compression": "s2", "storage": "memory"}),
        ),
        (
            "unknown algorithm",
            "CREATE.C",
            json!({"name": "C", "subjects": ["c"], "compression": "zstd"}),
        ),
        (
            "async file",
            "CREATE.D",
            json!({"name": "D", "subjects": ["d"], "persist_mode": "async"}),
        ),
        (
            "async memory",
            "CREATE.E",
            json!({"name": "E", "subjects": ["e"], "persist_mode": "async", "storage": "memory"}),
        ),
        (
            "async replicated",
            "CREATE.F",
            json!({"name": "F", "subjects": ["f"], "persist_mode": "async", "num_replicas": 3}),
        ),
        (
            "async atomic",
            "CREATE.G",
            json!({"name": "G", "subjects": ["g"], "persist_mode": "async", "allow_atomic": true}),
        ),
        (
            "unknown persist mode",
            "CREATE.H",
            json!({"name": "H", "subjects": ["h"], "persist_mode": "fast"}),
        ),
        (
            "empty persist mode",
            "CREATE.I",
            json!({"name": "I", "subjects": ["i"], "persist_mode": ""}),
        ),
        (
            "async and s2",
            "CREATE.J",
            json!({"name": "J", "subjects": ["j"], "persist_mode": "async", "compression": "s2"}),
        ),
    ];
    for (label, op, body) in steps {
        let r = api(&client, format!("$JS.API.STREAM.{op}"), body).await;
        seen.push(note(label, &r));
    }
    for i in 0..20u64 {
        let body = if i % 4 == 0 {
            format!("small {i}")
        } else {
            order(i)
        };
        let ack = client
            .request(format!("a.{}", i % 3), body.into())
            .await
            .expect("ack");
        seen.push(format!(
            "publish {i}: {}",
            String::from_utf8_lossy(&ack.payload)
        ));
        let ack = client.request("d", "async".into()).await.expect("ack");
        seen.push(format!(
            "publish d {i}: {}",
            String::from_utf8_lossy(&ack.payload)
        ));
    }
    let updates: Vec<(&str, &str, Value)> = vec![
        (
            "s2 to none",
            "UPDATE.A",
            json!({"name": "A", "subjects": ["a.>"], "compression": "none"}),
        ),
        (
            "none to s2",
            "UPDATE.A",
            json!({"name": "A", "subjects": ["a.>"], "compression": "s2"}),
        ),
        (
            "default to async",
            "UPDATE.A",
            json!({"name": "A", "subjects": ["a.>"], "compression": "s2", "persist_mode": "async"}),
        ),
        (
            "async to default",
            "UPDATE.D",
            json!({"name": "D", "subjects": ["d"]}),
        ),
        (
            "async kept",
            "UPDATE.D",
            json!({"name": "D", "subjects": ["d"], "persist_mode": "async", "max_msgs": 100}),
        ),
        ("info A", "INFO.A", json!({})),
        ("info D", "INFO.D", json!({})),
    ];
    for (label, op, body) in updates {
        let r = api(&client, format!("$JS.API.STREAM.{op}"), body).await;
        seen.push(note(label, &r));
    }
    // Published under s2, then none, then s2 again: all read back the same.
    for (i, seq) in [(1u64, 2u64), (5, 6), (19, 20)] {
        let r = api(
            &client,
            "$JS.API.STREAM.MSG.GET.A".into(),
            json!({"seq": seq}),
        )
        .await;
        let data = base64::engine::general_purpose::STANDARD
            .decode(r["message"]["data"].as_str().expect("data"))
            .expect("base64");
        assert_eq!(
            data,
            order(i).into_bytes(),
            "seq {seq} on reference={reference}"
        );
        seen.push(format!("get {seq}: subject {}", r["message"]["subject"]));
    }
    seen
}

#[tokio::test]
async fn stream_configs_with_compression_and_persist_mode_answer_as_nats_server_does() {
    let natrix = play(false).await;
    let reference = play(true).await;
    println!("{}", natrix.join("\n"));
    for (i, (a, b)) in natrix.iter().zip(&reference).enumerate() {
        assert_eq!(a, b, "step {i}: natrix, then nats-server");
    }
    assert_eq!(natrix.len(), reference.len());
    for want in [
        "file s2: ok compression=\"s2\"",
        "async file: ok compression=\"none\" persist_mode=\"async\"",
        "async memory: error 500 10052 \"async persist mode is only supported on file storage\"",
        "async to default: error 500 10052 \"stream configuration update can not change persist mode\"",
    ] {
        assert!(natrix.iter().any(|l| l.starts_with(want)), "{want}");
    }
}

async fn context(server: &Server) -> jetstream::Context {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let mut ctx = jetstream::new(client);
    ctx.set_timeout(REPLY_MAX);
    ctx
}

/// Publishes `order(i)` on `subject` with up to `IN_FLIGHT_MAX` acks outstanding, SIGKILLs
/// `server` after `KILL_AFTER_ACKS` publishes, and returns seq → i of every ack that came.
async fn publish_then_kill(
    ctx: &jetstream::Context,
    server: &mut Server,
    subject: &str,
) -> BTreeMap<u64, u64> {
    let mut acked = BTreeMap::new();
    let mut window: VecDeque<(u64, PublishAckFuture)> = VecDeque::new();
    for i in 0..KILL_AFTER_ACKS as u64 {
        if window.len() >= IN_FLIGHT_MAX {
            let (n, fut) = window.pop_front().expect("a publish in flight");
            let ack = fut.await.expect("acked before the kill");
            acked.insert(ack.sequence, n);
        }
        let fut = ctx
            .publish(subject.to_string(), order(i).into())
            .await
            .expect("sent");
        window.push_back((i, fut));
    }
    send_signal(server.pid(), libc::SIGKILL);
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "server survived SIGKILL"
    );
    let drained = join_all(
        window
            .into_iter()
            .map(|(n, fut)| async move { (n, fut.await) }),
    )
    .await;
    for (n, ack) in drained {
        if let Ok(ack) = ack {
            acked.insert(ack.sequence, n);
        }
    }
    acked
}

/// Every acked message is in `stream` with its payload.
async fn assert_all_there(ctx: &jetstream::Context, stream: &str, acked: &BTreeMap<u64, u64>) {
    let stream = ctx.get_stream(stream).await.expect("stream after restart");
    for (&seq, &i) in acked {
        let m = stream
            .get_raw_message(seq)
            .await
            .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        assert_eq!(&m.payload[..], order(i).as_bytes(), "seq {seq}");
    }
}

fn segment_bytes(store: &Path) -> u64 {
    fn walk(p: &Path, total: &mut u64) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, total);
            } else if path.extension().is_some_and(|x| x == "blk") {
                *total += e.metadata().map_or(0, |m| m.len());
            }
        }
    }
    let mut total = 0;
    walk(store, &mut total);
    total
}

#[tokio::test]
async fn a_compressed_stream_keeps_every_acked_message_across_a_sigkill_in_fewer_bytes() {
    let dir = TempDir::new("s2-crash");
    let mut server = Server::start_jetstream(1, &dir.path, &[]);
    let ctx = context(&server).await;
    ctx.create_stream(Config {
        name: "Z".into(),
        subjects: vec!["z.>".into()],
        compression: Some(Compression::S2),
        ..Default::default()
    })
    .await
    .expect("an s2 stream is created");
    let acked = publish_then_kill(&ctx, &mut server, "z.orders").await;
    assert!(
        acked.len() >= KILL_AFTER_ACKS - IN_FLIGHT_MAX,
        "{} acked",
        acked.len()
    );
    let payload_bytes: u64 = acked.values().map(|&i| order(i).len() as u64).sum();
    let on_disk = segment_bytes(&dir.path);
    assert!(
        on_disk * 2 < payload_bytes,
        "{on_disk} B of segments for {payload_bytes} B of payloads"
    );
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let ctx = context(&server).await;
    assert_all_there(&ctx, "Z", &acked).await;
    let info = ctx
        .get_stream("Z")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .clone();
    assert_eq!(info.config.compression, Some(Compression::S2));
    // A publish after the restart is packed and read back too.
    let ack = ctx
        .publish("z.orders", order(7).into())
        .await
        .expect("sent")
        .await
        .expect("acked");
    assert!(ack.sequence > *acked.keys().last().expect("some ack"));
    let m = ctx
        .get_stream("Z")
        .await
        .expect("stream")
        .get_raw_message(ack.sequence)
        .await
        .expect("get");
    assert_eq!(&m.payload[..], order(7).as_bytes());
}

#[tokio::test]
async fn an_async_persist_stream_under_sync_always_loses_no_acked_message_to_a_sigkill() {
    let dir = TempDir::new("async-crash");
    let conf_dir = TempDir::new("async-crash-conf");
    let conf = conf_dir.write(
        "js.conf",
        &format!(
            "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
            dir.path.display()
        ),
    );
    let mut server = Server::start(1, &["-c", &conf]);
    let ctx = context(&server).await;
    ctx.create_stream(Config {
        name: "Q".into(),
        subjects: vec!["q".into()],
        persist_mode: Some(PersistenceMode::Async),
        ..Default::default()
    })
    .await
    .expect("an async persist stream is created");
    let acked = publish_then_kill(&ctx, &mut server, "q").await;
    let server = Server::start(1, &["-c", &conf]);
    let ctx = context(&server).await;
    let info = ctx
        .get_stream("Q")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .clone();
    assert_eq!(info.config.persist_mode, Some(PersistenceMode::Async));
    assert_all_there(&ctx, "Q", &acked).await;
}
