//! Subject delete markers (`subject_delete_marker_ttl`, issue 10 point 5) through async-nats
//! and the raw JS API: `max_age` leaves a `Nats-Marker-Reason: MaxAge` marker on each
//! subject whose last message it takes, with nats-server's exact header block; consumers
//! see it; it expires with its own TTL; a message with `Nats-TTL: never` stays; a TTL below
//! the marker TTL is stored raised; deletes and purges write no marker; an async-nats KV
//! bucket with limit markers (made by the client, which needs API level 1) and a nats.js one
//! see a marker as a purge; markers due while the server was down (SIGKILL) are written at start
//! and stay over a second SIGKILL.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix, or nats-server with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`, which shows the expectations are nats-server's).

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy},
    kv::Operation,
    stream::{Config, StorageType},
};
use futures::StreamExt;

use common::node;
use common::procs::{send_signal, Server, TempDir};

const TEST_MAX: Duration = Duration::from_secs(40);
/// How long a marker or an expiry may take past its due time (nats-server's age checks run
/// up to about a second late).
const EXPIRY_SLACK: Duration = Duration::from_secs(5);

const S: Duration = Duration::from_secs(1);

async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_MAX, body)
        .await
        .expect("test body timed out");
}

/// Standard base64, as the JS API encodes `hdrs`.
fn base64(text: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == c).expect("base64 digit") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// `$JS.API.STREAM.MSG.GET`: (subject, header block, payload) of `seq`, None if not found.
async fn get(nc: &async_nats::Client, stream: &str, seq: u64) -> Option<(String, String, Vec<u8>)> {
    let r = nc
        .request(
            format!("$JS.API.STREAM.MSG.GET.{stream}"),
            format!(r#"{{"seq":{seq}}}"#).into(),
        )
        .await
        .expect("msg get answered");
    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    let m = v.get("message")?;
    let text = |k: &str| m[k].as_str().unwrap_or("").to_string();
    Some((
        text("subject"),
        String::from_utf8(base64(&text("hdrs"))).unwrap(),
        base64(&text("data")),
    ))
}

/// (messages, first_seq, last_seq) of stream `name`.
async fn state(js: &jetstream::Context, name: &str) -> (u64, u64, u64) {
    let mut s = js.get_stream(name).await.expect("stream exists");
    let st = s.info().await.expect("stream info").state.clone();
    (st.messages, st.first_sequence, st.last_sequence)
}

/// Waits until stream `name` has `want` messages (no event says a message left).
async fn wait_msgs(js: &jetstream::Context, name: &str, want: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let (n, _, _) = state(js, name).await;
        if n == want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn marker(ttl: &str) -> String {
    format!("NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: {ttl}\r\nNats-Rollup: sub\r\n\r\n")
}

async fn connect(server: &Server) -> (async_nats::Client, jetstream::Context) {
    let nc = async_nats::connect(server.url()).await.expect("connects");
    (nc.clone(), jetstream::new(nc))
}

/// A pull consumer on everything in `stream`, read message by message.
async fn reader(js: &jetstream::Context, stream: &str) -> pull::Stream {
    let s = js.get_stream(stream).await.expect("stream exists");
    let c = s
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer created");
    c.messages().await.expect("pull stream")
}

#[tokio::test]
async fn max_age_leaves_a_marker_per_subject_that_consumers_see_and_that_expires() {
    let store = TempDir::new("markers-age");
    let server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (nc, js) = connect(&server).await;
        js.create_stream(Config {
            name: "M".into(),
            subjects: vec!["m.>".into()],
            max_age: S,
            allow_message_ttl: true,
            subject_delete_marker_ttl: Some(S),
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .expect("stream with markers created");
        let mut msgs = reader(&js, "M").await;
        for subj in ["m.a", "m.a", "m.b"] {
            js.publish(subj, "x".into()).await.unwrap().await.unwrap();
        }
        let mut never = async_nats::HeaderMap::new();
        never.insert("Nats-TTL", "never");
        js.publish_with_headers("m.c", never, "n".into())
            .await
            .unwrap()
            .await
            .unwrap();
        let mut seen = Vec::new();
        while seen.len() < 6 {
            let m = msgs.next().await.expect("a message").expect("not an error");
            let info = m.info().unwrap();
            seen.push((
                info.stream_sequence,
                m.subject.to_string(),
                m.payload.to_vec(),
            ));
            if seen.len() > 4 {
                let h = m.headers.as_ref().expect("a marker has headers");
                assert_eq!(
                    h.get("Nats-Marker-Reason").map(|v| v.as_str()),
                    Some("MaxAge")
                );
                assert_eq!(h.get("Nats-TTL").map(|v| v.as_str()), Some("1s"));
                assert_eq!(h.get("Nats-Rollup").map(|v| v.as_str()), Some("sub"));
            }
        }
        let markers: Vec<_> = seen[4..].to_vec();
        assert_eq!(
            markers,
            vec![
                (5, "m.a".to_string(), vec![]),
                (6, "m.b".to_string(), vec![])
            ],
            "one empty marker per subject whose last message expired, in order"
        );
        for (seq, subj, _) in &markers {
            let (s, h, d) = get(&nc, "M", *seq).await.expect("the marker is stored");
            assert_eq!((s.as_str(), h, d), (subj.as_str(), marker("1s"), vec![]));
        }
        assert_eq!(
            wait_msgs(&js, "M", 1, 2 * S + EXPIRY_SLACK).await,
            1,
            "the markers expire and leave no marker"
        );
        assert_eq!(state(&js, "M").await, (1, 4, 6));
        let (s, h, _) = get(&nc, "M", 4).await.expect("the never-expiring message");
        assert_eq!(
            (s.as_str(), h.as_str()),
            ("m.c", "NATS/1.0\r\nNats-TTL: never\r\n\r\n")
        );
    })
    .await;
}

#[tokio::test]
async fn a_short_ttl_is_stored_raised_and_deletes_and_purges_write_no_marker() {
    let store = TempDir::new("markers-raise");
    let server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (nc, js) = connect(&server).await;
        js.create_stream(Config {
            name: "C".into(),
            subjects: vec!["c.>".into()],
            allow_message_ttl: true,
            subject_delete_marker_ttl: Some(30 * S),
            ..Default::default()
        })
        .await
        .expect("stream created");
        let mut ttl = async_nats::HeaderMap::new();
        ttl.insert("Nats-TTL", "10s");
        js.publish_with_headers("c.t", ttl, "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
        let (_, h, _) = get(&nc, "C", 1).await.unwrap();
        assert_eq!(
            h, "NATS/1.0\r\nNats-TTL: 30\r\n\r\n",
            "raised to the marker TTL"
        );
        for subj in ["c.k", "c.k", "c.j"] {
            js.publish(subj, "x".into()).await.unwrap().await.unwrap();
        }
        let s = js.get_stream("C").await.unwrap();
        assert!(s.delete_message(3).await.unwrap());
        s.purge().filter("c.j").await.unwrap();
        assert_eq!(state(&js, "C").await, (2, 1, 4), "no marker written");
    })
    .await;
}

#[tokio::test]
async fn an_async_nats_kv_bucket_with_limit_markers_sees_expiry_as_a_purge() {
    let store = TempDir::new("markers-kv");
    let server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (_nc, js) = connect(&server).await;
        // async-nats makes such a bucket only at JetStream API level 1 or more; INFO's
        // `api_lvl` says the same level as `$JS.API.INFO`.
        let level = js.query_account().await.unwrap().requests.level;
        assert!(level >= 1, "API level {level}");
        let info = common::RawClient::connect(&server.addr()).read_info();
        assert_eq!(info["api_lvl"].as_i64(), Some(level as i64), "{info}");
        let kv = js
            .create_key_value(jetstream::kv::Config {
                bucket: "b".into(),
                max_age: S,
                limit_markers: Some(S),
                ..Default::default()
            })
            .await
            .expect("bucket with limit markers created");
        let cfg = js
            .get_stream("KV_b")
            .await
            .unwrap()
            .cached_info()
            .config
            .clone();
        assert!(cfg.allow_message_ttl);
        assert_eq!(cfg.subject_delete_marker_ttl, Some(S));
        kv.put("k", "v".into()).await.unwrap();
        let mut w = kv.watch_with_history("k").await.unwrap();
        let first = w.next().await.unwrap().unwrap();
        assert_eq!(
            (first.operation, &first.value[..]),
            (Operation::Put, &b"v"[..])
        );
        let gone = w.next().await.unwrap().unwrap();
        assert_eq!((gone.key.as_str(), gone.operation), ("k", Operation::Purge));
        assert_eq!(gone.revision, 2, "the marker is the bucket's next revision");
        assert!(
            kv.get("k").await.unwrap().is_none(),
            "the key reads as gone"
        );
    })
    .await;
}

#[tokio::test]
async fn markers_due_while_the_server_was_down_are_written_at_start_and_survive_sigkill() {
    let store = TempDir::new("markers-kill");
    let mut server = Server::start_jetstream(1, &store.path, &[]);
    let nc_js = async {
        let (_nc, js) = connect(&server).await;
        js.create_stream(Config {
            name: "R".into(),
            subjects: vec!["r.>".into()],
            max_age: S,
            allow_message_ttl: true,
            subject_delete_marker_ttl: Some(60 * S),
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .expect("stream created");
        js.publish("r.k", "x".into()).await.unwrap().await.unwrap();
    };
    bounded(nc_js).await;
    send_signal(server.pid(), libc::SIGKILL);
    server.wait_exit(Duration::from_secs(10)).expect("killed");
    // The message is past max_age when the server comes back: time has to pass.
    std::thread::sleep(S + S / 2);
    let server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (nc, js) = connect(&server).await;
        let mut msgs = reader(&js, "R").await;
        loop {
            let m = msgs.next().await.expect("a message").expect("not an error");
            if m.headers
                .as_ref()
                .is_some_and(|h| h.get("Nats-Marker-Reason").is_some())
            {
                assert_eq!(m.info().unwrap().stream_sequence, 2);
                break;
            }
        }
        assert_eq!(
            get(&nc, "R", 2).await,
            Some(("r.k".into(), marker("1m0s"), vec![]))
        );
        assert_eq!(get(&nc, "R", 1).await, None, "the expired message went");
    })
    .await;
    let mut server = server;
    send_signal(server.pid(), libc::SIGKILL);
    server.wait_exit(Duration::from_secs(10)).expect("killed");
    let server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (nc, js) = connect(&server).await;
        assert_eq!(
            state(&js, "R").await,
            (1, 2, 2),
            "the marker is a stored message"
        );
        assert_eq!(get(&nc, "R", 2).await.map(|m| m.1), Some(marker("1m0s")));
    })
    .await;
}

/// nats.js v3 (tests/js/v3/kv_markers.js): a KV bucket with `markerTTL`, which nats.js makes
/// without checking the API level.
#[test]
fn a_nats_js_kv_bucket_with_limit_markers_sees_expiry_as_a_purge() {
    let store = TempDir::new("markers-js");
    let server = Server::start_jetstream(1, &store.path, &[]);
    let stdout = node::run_script("v3/kv_markers.js", &server.url(), TEST_MAX);
    node::assert_steps(
        &stdout,
        &[
            "bucket with markers",
            "watch saw the marker as a purge",
            "get sees the purge",
            "the marker expired",
        ],
    );
}

/// Without markers too, `max_age` keeps `Nats-TTL: never`, also after a SIGKILL restart.
#[tokio::test]
async fn max_age_keeps_never_expiring_messages_over_a_sigkill() {
    let store = TempDir::new("markers-never");
    let mut server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (_nc, js) = connect(&server).await;
        js.create_stream(Config {
            name: "N".into(),
            subjects: vec!["n.>".into()],
            max_age: 2 * S,
            allow_message_ttl: true,
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .expect("stream created");
        for subj in ["n.a", "n.b", "n.c"] {
            let mut h = async_nats::HeaderMap::new();
            if subj == "n.b" {
                h.insert("Nats-TTL", "never");
            }
            js.publish_with_headers(subj, h, "x".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    })
    .await;
    send_signal(server.pid(), libc::SIGKILL);
    server.wait_exit(Duration::from_secs(10)).expect("killed");
    let server = Server::start_jetstream(1, &store.path, &[]);
    bounded(async {
        let (nc, js) = connect(&server).await;
        assert_eq!(wait_msgs(&js, "N", 1, 2 * S + EXPIRY_SLACK).await, 1);
        assert_eq!(state(&js, "N").await, (1, 2, 3));
        assert_eq!(get(&nc, "N", 2).await.map(|m| m.0), Some("n.b".into()));
    })
    .await;
}
