//! `/jsz` against nats-server 2.15.1: each server starts with `-js -sd <own temp dir>
//! -m <free port>`, async-nats gives it the same JetStream state through the API (streams
//! ORDERS, file, 3 messages with a pull consumer that fetched one; EVENTS, memory,
//! `max_bytes` 1 MiB, 2 messages with a push consumer), and every `/jsz` variant is compared
//! by the shape of its JSON (key paths and types) and by the values that must match: the
//! counts of accounts, streams, consumers and messages, the account and stream names, each
//! stream's state counts and each consumer's progress.
//!
//! Differs by design, so not compared: `bytes`/`memory`/`storage` (natrix's store counts a
//! record's size its own way; checked against each other instead), `api.level` and
//! `api.total`/`errors` (natrix's API level; clients make different lookups), and
//! `limits.default_max_consumers` (natrix applies no such default). natrix runs with 1 and
//! with 3 shards, so the gathering from shard 0 is tested when requests land on others.

mod common;

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, push, AckPolicy},
    stream::{Config, StorageType},
};
use futures::StreamExt;
use serde_json::Value;

use common::ops::{free_port, http_get, json_shape};
use common::procs::TempDir;
use common::TestServer;

/// How long the setup through the API may take.
const SETUP_MAX: Duration = Duration::from_secs(30);

/// Shape paths nats-server has that natrix leaves out, with the reason.
const OMITTABLE: &[(&str, &str)] = &[(
    "limits.default_max_consumers",
    "nats-server 2.15's default consumer limit per stream; natrix applies none",
)];

const VARIANTS: &[&str] = &[
    "",
    "accounts=true",
    "streams=true",
    "consumers=true",
    "consumers=true&config=true",
    "acc=$G&streams=true",
    "acc=nope&accounts=true",
    "accounts=true&offset=1",
    "leader-only=true",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Reference,
    Natrix(usize),
}

struct Running {
    server: TestServer,
    http: u16,
    _store: TempDir,
}

/// Starts `target` with JetStream and a monitor, on a fresh free port each try (another
/// test's server may take a port found free before this one binds it).
fn start(target: Target) -> Running {
    for attempt in 1..=3 {
        let store = TempDir::new("jsz-diff");
        let http = free_port();
        let port = http.to_string();
        let dir = store.path.to_string_lossy().into_owned();
        let flags = ["-js", "-sd", dir.as_str(), "-m", port.as_str()];
        let started = std::panic::catch_unwind(|| match target {
            Target::Reference => TestServer::start_nats_server(&flags),
            Target::Natrix(shards) => TestServer::start_with(shards, &flags),
        });
        match started {
            Ok(server) => {
                return Running {
                    server,
                    http,
                    _store: store,
                }
            }
            Err(e) if attempt == 3 => std::panic::resume_unwind(e),
            Err(_) => eprintln!("{target:?}: start failed; trying another port"),
        }
    }
    unreachable!("the loop returns or panics")
}

/// The capture scenario, through async-nats.
async fn setup(url: &str) -> async_nats::Client {
    let client = async_nats::connect(url).await.expect("connect");
    let js = jetstream::new(client.clone());
    let orders = js
        .create_stream(Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("create ORDERS");
    js.create_stream(Config {
        name: "EVENTS".into(),
        subjects: vec!["events.*".into()],
        storage: StorageType::Memory,
        max_bytes: 1_048_576,
        ..Default::default()
    })
    .await
    .expect("create EVENTS");
    for i in 0..3 {
        let ack = js.publish(format!("orders.{i}"), format!("order-{i}").into());
        ack.await.expect("sent").await.expect("stored");
    }
    for i in 0..2 {
        let ack = js.publish("events.x", format!("event-{i}").into());
        ack.await.expect("sent").await.expect("stored");
    }
    let pull = orders
        .create_consumer(pull::Config {
            durable_name: Some("pull".into()),
            filter_subject: "orders.>".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create pull");
    let mut batch = pull
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .expect("fetch");
    let first = batch.next().await.expect("one message").expect("a message");
    assert_eq!(first.subject.as_str(), "orders.0");
    let events = js.get_stream("EVENTS").await.expect("EVENTS");
    events
        .create_consumer(push::Config {
            durable_name: Some("push".into()),
            deliver_subject: "push.deliver".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create push");
    client.flush().await.expect("flush");
    client
}

/// The values that must match, one `key=value` per line, sorted where the server's order
/// comes from a map.
fn values(v: &Value) -> String {
    let mut out = Vec::new();
    for k in [
        "accounts",
        "streams",
        "consumers",
        "messages",
        "total",
        "ha_assets",
    ] {
        out.push(format!("{k}={}", v[k]));
    }
    out.push(format!(
        "has config.store_dir={}",
        v["config"]["store_dir"].is_string()
    ));
    for a in v["account_details"].as_array().into_iter().flatten() {
        out.push(format!("account {} id={}", a["name"], a["id"]));
        for k in ["reserved_memory", "reserved_storage", "accounts"] {
            out.push(format!("  {k}={}", a[k]));
        }
        let mut streams: Vec<String> = Vec::new();
        for s in a["stream_detail"].as_array().into_iter().flatten() {
            let st = &s["state"];
            let mut line = format!(
                "  stream {} messages={} first_seq={} last_seq={} consumer_count={} \
                 num_subjects={} config={}",
                s["name"],
                st["messages"],
                st["first_seq"],
                st["last_seq"],
                st["consumer_count"],
                st["num_subjects"],
                s["config"]["name"],
            );
            for c in s["consumer_detail"].as_array().into_iter().flatten() {
                line.push_str(&format!(
                    "\n    consumer {} delivered={}/{} ack_floor={}/{} ack_pending={} \
                     pending={} config={}",
                    c["name"],
                    c["delivered"]["consumer_seq"],
                    c["delivered"]["stream_seq"],
                    c["ack_floor"]["consumer_seq"],
                    c["ack_floor"]["stream_seq"],
                    c["num_ack_pending"],
                    c["num_pending"],
                    c["config"]["durable_name"],
                ));
            }
            streams.push(line);
        }
        streams.sort();
        out.extend(streams);
    }
    out.join("\n")
}

/// What must hold on any server, whatever its byte accounting: the top figures are the sums
/// of the parts.
fn consistent(v: &Value) -> Result<(), String> {
    let n = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    if n(&v["memory"]) + n(&v["storage"]) != n(&v["bytes"]) {
        return Err(format!("memory + storage != bytes: {v}"));
    }
    for a in v["account_details"].as_array().into_iter().flatten() {
        let streams = a["stream_detail"].as_array();
        if let Some(streams) = streams {
            let bytes: u64 = streams.iter().map(|s| n(&s["state"]["bytes"])).sum();
            if bytes != n(&a["memory"]) + n(&a["storage"]) {
                return Err(format!("the streams' bytes are not the account's: {a}"));
            }
        }
    }
    Ok(())
}

/// Runs the scenario on `target`: per variant, its status, shape and values.
fn observe(target: Target) -> Vec<(String, String)> {
    let r = start(target);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let url = r.server.url();
    let _client = rt.block_on(async {
        tokio::time::timeout(SETUP_MAX, setup(&url))
            .await
            .expect("setup timed out")
    });
    let skip: Vec<&str> = OMITTABLE.iter().map(|(p, _)| *p).collect();
    let mut seen = Vec::new();
    for q in VARIANTS {
        let path = if q.is_empty() {
            "/jsz".to_string()
        } else {
            format!("/jsz?{q}")
        };
        let reply = http_get(r.http, &path);
        let json = reply.json();
        if let Err(e) = consistent(&json) {
            panic!("{target:?} {path}: {e}");
        }
        seen.push((format!("{path}: head"), reply.head()));
        seen.push((format!("{path}: shape"), json_shape(&json, &skip)));
        seen.push((format!("{path}: values"), values(&json)));
    }
    // /varz carries the same figures under `jetstream`.
    let varz = http_get(r.http, "/varz").json();
    let js = &varz["jetstream"];
    let skip_limits = ["limits.default_max_consumers"];
    seen.push((
        "/varz jetstream: shape".into(),
        json_shape(js, &skip_limits),
    ));
    seen.push((
        "/varz jetstream: values".into(),
        format!(
            "accounts={} ha_assets={} strict={}",
            js["stats"]["accounts"], js["stats"]["ha_assets"], js["config"]["strict"]
        ),
    ));
    seen
}

#[test]
fn jsz_matches_nats_server_for_the_same_jetstream_state() {
    let reference = observe(Target::Reference);
    if std::env::var("NATRIX_DIFF_SHOW").is_ok_and(|v| v == "1") {
        for (step, got) in &reference {
            eprintln!("{step}\n      {got}");
        }
    }
    // Pins: the scenario did what it says on the reference.
    let top = &reference[2].1;
    assert!(
        top.contains("streams=2") && top.contains("consumers=2") && top.contains("messages=5"),
        "the reference did not reach the scenario's state: {top}"
    );
    let mut failures = Vec::new();
    for target in [Target::Natrix(1), Target::Natrix(3)] {
        let ours = observe(target);
        assert_eq!(ours.len(), reference.len());
        for ((step, want), (_, got)) in reference.iter().zip(&ours) {
            if want != got {
                failures.push(format!(
                    "{target:?} {step}\n  nats-server:\n    {}\n  natrix:\n    {}",
                    want.replace('\n', "\n    "),
                    got.replace('\n', "\n    ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
