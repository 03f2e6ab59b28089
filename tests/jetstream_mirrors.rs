//! Mirrors and sources through async-nats: a mirror of existing and new messages keeps its
//! origin's sequences (gaps where the origin deleted or the filter skipped), sources append
//! with `Nats-Stream-Source`, the info blocks carry nats-server's keys and types, publishes a
//! mirror cannot take are refused as nats-server refuses them, a mirror made before its
//! origin starts when the origin appears, and (natrix only) a SIGKILL restart keeps mirrors
//! and sources in step without duplicates.
//!
//! Every test starts its own server with `-js -sd <tempdir>` (natrix, or nats-server with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`), so each expectation was first seen on nats-server
//! 2.15.1. nats-server copies through internal consumers, asynchronously, so every check of a
//! copy waits for it (`settled`).

mod common;
mod consumer_util;

use async_nats::HeaderMap;
use common::procs::{against_reference, send_signal, Server, TempDir};
use consumer_util::*;

/// How long a copy may take to show (nats-server's first mirror consumer needs about 1 s).
const COPY_MAX: Duration = Duration::from_secs(8);

async fn create(client: &async_nats::Client, config: Value) -> Value {
    let name = config["name"].as_str().expect("a name").to_string();
    let r = api(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await;
    assert!(r.get("error").is_none(), "create {name}: {r}");
    r
}

async fn stream_info(client: &async_nats::Client, name: &str) -> Value {
    let r = api(client, &format!("$JS.API.STREAM.INFO.{name}"), json!({})).await;
    assert!(r.get("error").is_none(), "info {name}: {r}");
    r
}

/// Waits until `name`'s info satisfies `ok`; returns the last info either way.
async fn settled(client: &async_nats::Client, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + COPY_MAX;
    loop {
        let i = stream_info(client, name).await;
        if ok(&i) || Instant::now() >= deadline {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn last_seq(i: &Value) -> u64 {
    i["state"]["last_seq"].as_u64().unwrap_or(0)
}

/// MSG.GET of every sequence up to `last`: (seq, subject, data, time) of those present.
async fn messages(client: &async_nats::Client, name: &str, last: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for seq in 1..=last {
        let r = api(
            client,
            &format!("$JS.API.STREAM.MSG.GET.{name}"),
            json!({ "seq": seq }),
        )
        .await;
        if let Some(m) = r.get("message") {
            out.push(json!([m["seq"], m["subject"], m["data"], m["time"]]));
        }
    }
    out
}

/// The decoded header block of message `seq` of `name`.
async fn headers_of(client: &async_nats::Client, name: &str, seq: u64) -> String {
    use base64::Engine;
    let r = api(
        client,
        &format!("$JS.API.STREAM.MSG.GET.{name}"),
        json!({ "seq": seq }),
    )
    .await;
    let b64 = r["message"]["hdrs"].as_str().unwrap_or("");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("hdrs are base64");
    String::from_utf8_lossy(&raw).into_owned()
}

/// The keys of a JSON object with the JSON type of each value.
fn shape(v: &Value) -> Vec<(String, &'static str)> {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut out: Vec<(String, &'static str)> = v
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), kind(v))).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn keys(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> =
        pairs.iter().map(|(k, t)| (k.to_string(), *t)).collect();
    out.sort();
    out
}

#[tokio::test]
async fn mirror_holds_existing_and_new_messages_with_the_origin_sequences() {
    let js = start_js("mirror-basic");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create(&client, json!({"name": "O", "subjects": ["o.>"]})).await;
        for (i, subj) in ["o.a", "o.b", "o.a", "o.b", "o.a"].iter().enumerate() {
            publish(&ctx, subj, &format!("m{}", i + 1)).await;
        }
        let r = api(&client, "$JS.API.STREAM.MSG.DELETE.O", json!({"seq": 2})).await;
        assert_eq!(r["success"], true, "{r}");
        let r = create(&client, json!({"name": "M", "mirror": {"name": "O"}})).await;
        assert_eq!(r["config"]["mirror"], json!({"name": "O"}));
        assert!(r["config"].get("subjects").is_none(), "{r}");
        let i = settled(&client, "M", |i| last_seq(i) == 5).await;
        assert_eq!(
            (
                &i["state"]["messages"],
                &i["state"]["first_seq"],
                &i["state"]["num_deleted"]
            ),
            (&json!(4), &json!(1), &json!(1)),
            "{i}"
        );
        assert_eq!(
            messages(&client, "M", 6).await,
            messages(&client, "O", 6).await
        );

        publish(&ctx, "o.b", "m6").await;
        publish(&ctx, "o.a", "m7").await;
        let i = settled(&client, "M", |i| last_seq(i) == 7).await;
        assert_eq!(i["state"]["messages"], 6, "{i}");
        assert_eq!(
            messages(&client, "M", 8).await,
            messages(&client, "O", 8).await
        );
        assert_eq!(i["mirror"]["lag"], 0, "{i}");
    })
    .await;
}

#[tokio::test]
async fn filtered_mirror_keeps_the_origin_sequences_of_what_matches() {
    let js = start_js("mirror-filter");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create(&client, json!({"name": "O", "subjects": ["o.>"]})).await;
        for (i, subj) in ["o.a", "o.b", "o.a", "o.b", "o.a"].iter().enumerate() {
            publish(&ctx, subj, &format!("m{}", i + 1)).await;
        }
        create(
            &client,
            json!({"name": "F", "mirror": {"name": "O", "filter_subject": "o.a"}}),
        )
        .await;
        let i = settled(&client, "F", |i| last_seq(i) == 5).await;
        let r = api(
            &client,
            "$JS.API.STREAM.INFO.F",
            json!({"deleted_details": true}),
        )
        .await;
        assert_eq!(r["state"]["messages"], 3, "{r}");
        assert_eq!(r["state"]["deleted"], json!([2, 4]), "{r}");
        assert_eq!(i["mirror"]["filter_subject"], "o.a", "{i}");
        let got = messages(&client, "F", 5).await;
        let seqs: Vec<&Value> = got.iter().map(|m| &m[0]).collect();
        assert_eq!(seqs, [&json!(1), &json!(3), &json!(5)]);
        // A transformed mirror stores the new subject under the origin's sequence.
        create(
            &client,
            json!({"name": "T", "mirror": {"name": "O",
                "subject_transforms": [{"src": "o.b", "dest": "copy.b"}]}}),
        )
        .await;
        settled(&client, "T", |i| last_seq(i) == 4).await;
        let got = messages(&client, "T", 5).await;
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((&got[0][0], &got[0][1]), (&json!(2), &json!("copy.b")));
    })
    .await;
}

#[tokio::test]
async fn sources_from_two_streams_append_with_the_stream_source_header() {
    let js = start_js("sources");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let s1 = create(&client, json!({"name": "S1", "subjects": ["s1.>"]})).await;
        create(&client, json!({"name": "S2", "subjects": ["s2.>"]})).await;
        publish(&ctx, "s1.a", "a1").await;
        publish(&ctx, "s2.a", "b1").await;
        publish(&ctx, "s2.b", "b2").await;
        create(
            &client,
            json!({"name": "AGG", "subjects": ["agg"], "sources": [
                {"name": "S1"}, {"name": "S2", "filter_subject": "s2.a"}]}),
        )
        .await;
        let i = settled(&client, "AGG", |i| last_seq(i) == 2).await;
        assert_eq!(i["state"]["messages"], 2, "{i}");
        publish(&ctx, "s1.b", "a2").await;
        publish(&ctx, "agg", "own").await;
        let i = settled(&client, "AGG", |i| last_seq(i) == 4).await;
        assert_eq!(i["state"]["messages"], 4, "{i}");
        let mut from_s1 = Vec::new();
        for seq in 1..=4 {
            let h = headers_of(&client, "AGG", seq).await;
            let line = h
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Nats-Stream-Source: "))
                .map(str::to_string);
            if let Some(line) = line {
                let f: Vec<&str> = line.split(' ').collect();
                assert_eq!(f.len(), 6, "{line}");
                assert_eq!(f[5].len(), 8, "the origin's identity hash: {line}");
                if f[0] == "S1" {
                    from_s1.push((f[1].to_string(), f[2..5].join(" ")));
                } else {
                    assert_eq!(&f[..5], ["S2", "1", "s2.a", ">", "s2.a"], "{line}");
                }
            }
        }
        let want = [("1", "> > s1.a"), ("2", "> > s1.b")];
        assert_eq!(
            from_s1,
            want.map(|(a, b)| (a.to_string(), b.to_string())),
            "S1's copies in order"
        );
        // The identity is nats-server's hash of the origin's creation time: the same for
        // every copy of one origin.
        let h1 = headers_of(&client, "AGG", 1).await;
        assert!(!s1["created"].as_str().unwrap_or("").is_empty());
        assert!(h1.contains("Nats-Stream-Source: "), "{h1}");
    })
    .await;
}

#[tokio::test]
async fn info_blocks_have_nats_servers_keys_and_types() {
    let js = start_js("mirror-info");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create(&client, json!({"name": "O", "subjects": ["o.>"]})).await;
        publish(&ctx, "o.a", "x").await;
        let r = create(&client, json!({"name": "M", "mirror": {"name": "O"}})).await;
        assert_eq!(
            shape(&r["mirror"]),
            keys(&[("name", "string"), ("lag", "number"), ("active", "number")]),
            "{r}"
        );
        create(
            &client,
            json!({"name": "F", "mirror": {"name": "O", "filter_subject": "o.a"}}),
        )
        .await;
        create(
            &client,
            json!({"name": "A", "sources": [{"name": "O"},
                {"name": "O", "subject_transforms": [{"src": "o.*", "dest": "t.$1"}]}]}),
        )
        .await;
        let m = settled(&client, "M", |i| last_seq(i) == 1).await;
        assert_eq!(
            shape(&m["mirror"]),
            keys(&[("name", "string"), ("lag", "number"), ("active", "number")]),
            "{m}"
        );
        let f = settled(&client, "F", |i| last_seq(i) == 1).await;
        assert_eq!(
            shape(&f["mirror"]),
            keys(&[
                ("name", "string"),
                ("lag", "number"),
                ("active", "number"),
                ("filter_subject", "string")
            ]),
            "{f}"
        );
        let a = settled(&client, "A", |i| last_seq(i) == 2).await;
        let mut shapes: Vec<_> = a["sources"]
            .as_array()
            .expect("sources blocks")
            .iter()
            .map(shape)
            .collect();
        shapes.sort();
        let plain = keys(&[
            ("name", "string"),
            ("lag", "number"),
            ("seq", "number"),
            ("active", "number"),
        ]);
        let transformed = keys(&[
            ("name", "string"),
            ("lag", "number"),
            ("seq", "number"),
            ("active", "number"),
            ("subject_transforms", "array"),
        ]);
        let mut want = vec![plain, transformed];
        want.sort();
        assert_eq!(shapes, want, "{a}");
        assert!(a["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["seq"] == 1 && s["lag"] == 0));
    })
    .await;
}

#[tokio::test]
async fn publishes_a_mirror_cannot_take_are_refused_as_nats_server_refuses_them() {
    let js = start_js("mirror-publish");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        create(&client, json!({"name": "O", "subjects": ["o.>"]})).await;
        create(&client, json!({"name": "M", "mirror": {"name": "O"}})).await;
        // A mirror has no subjects: nothing listens on its name.
        let r = client.request("M", "x".into()).await;
        assert!(
            matches!(&r, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
            "{r:?}"
        );
        // Adding subjects to a mirror is refused.
        let r = api(
            &client,
            "$JS.API.STREAM.UPDATE.M",
            json!({"name": "M", "mirror": {"name": "O"}, "subjects": ["m.>"]}),
        )
        .await;
        assert_eq!(r["error"]["err_code"], 10034, "{r}");
        // Only copies may carry the source header.
        let mut h = HeaderMap::new();
        h.insert("Nats-Stream-Source", "O 1 > > o.a");
        let ack = ctx
            .publish_with_headers("o.a", h, "x".into())
            .await
            .expect("publish sent")
            .await;
        let e = ack.expect_err("refused");
        assert!(e.to_string().contains("10227"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_mirror_made_before_its_origin_starts_when_the_origin_appears() {
    let js = start_js("mirror-early");
    // nats-server retries a failed mirror consumer on a back-off of about 10 s.
    tokio::time::timeout(Duration::from_secs(40), async {
        let (client, ctx) = connect(&js).await;
        let r = create(
            &client,
            json!({"name": "EARLY", "mirror": {"name": "LATER"}}),
        )
        .await;
        assert_eq!(r["mirror"]["active"], -1, "{r}");
        let i = settled(&client, "EARLY", |i| i["mirror"].get("error").is_some()).await;
        assert_eq!(i["mirror"]["error"]["err_code"], 10059, "{i}");
        create(&client, json!({"name": "LATER", "subjects": ["later"]})).await;
        publish(&ctx, "later", "L1").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let i = loop {
            let i = stream_info(&client, "EARLY").await;
            if last_seq(&i) == 1 || Instant::now() >= deadline {
                break i;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(i["state"]["messages"], 1, "{i}");
        assert!(i["mirror"].get("error").is_none(), "{i}");
    })
    .await
    .expect("test body timed out");
}

#[tokio::test]
async fn sigkill_restart_keeps_mirrors_and_sources_in_step_without_duplicates() {
    if against_reference() {
        // The restart is natrix's own durability; nats-server's is not under test here.
        return;
    }
    let store = TempDir::new("mirror-crash");
    let mut server = Server::start_jetstream(2, &store.path, &[]);
    let acked_before_kill = tokio::time::timeout(Duration::from_secs(40), async {
        let client = async_nats::connect(server.url()).await.expect("connects");
        let ctx = jetstream::new(client.clone());
        create(&client, json!({"name": "O", "subjects": ["o.>"]})).await;
        create(&client, json!({"name": "M", "mirror": {"name": "O"}})).await;
        create(
            &client,
            json!({"name": "A", "subjects": ["a"], "sources": [{"name": "O", "filter_subject": "o.x"}]}),
        )
        .await;
        // 600 publishes in flight; the kill lands after the first 300 acks, with the rest
        // still going in.
        let mut acks = Vec::new();
        for i in 0..600 {
            let subj = if i % 3 == 0 { "o.x" } else { "o.y" };
            acks.push(
                ctx.publish(subj, format!("p{i}").into())
                    .await
                    .expect("publish sent"),
            );
        }
        let mut acks = acks.into_iter();
        let mut acked = 0;
        for a in acks.by_ref().take(300) {
            a.await.expect("acked");
            acked += 1;
        }
        send_signal(server.pid(), libc::SIGKILL);
        assert!(server.wait_exit(Duration::from_secs(10)).is_some());
        acked
    })
    .await
    .expect("before the kill");
    let server = Server::start_jetstream(2, &store.path, &[]);
    tokio::time::timeout(Duration::from_secs(60), async {
        let client = async_nats::connect(server.url()).await.expect("connects");
        let ctx = jetstream::new(client.clone());
        let o = stream_info(&client, "O").await;
        let n = last_seq(&o);
        assert!(n >= acked_before_kill, "{o}");
        eprintln!("{acked_before_kill} acked before the kill; the origin kept {n}");
        let m = settled(&client, "M", |i| last_seq(i) == n).await;
        assert_eq!(m["state"]["messages"], n, "{m}");
        let origin = messages(&client, "O", n).await;
        assert_eq!(
            messages(&client, "M", n).await,
            origin,
            "the mirror equals its origin"
        );
        let xs = origin.iter().filter(|m| m[1] == "o.x").count() as u64;
        let a = settled(&client, "A", |i| last_seq(i) == xs).await;
        assert_eq!(a["state"]["messages"], xs, "each o.x once: {a}");
        let sourced = messages(&client, "A", xs).await;
        let copied: Vec<&Value> = sourced.iter().map(|m| &m[2]).collect();
        let want: Vec<&Value> = origin
            .iter()
            .filter(|m| m[1] == "o.x")
            .map(|m| &m[2])
            .collect();
        assert_eq!(copied, want, "in the origin's order, no duplicates");
        publish(&ctx, "o.x", "after").await;
        let m = settled(&client, "M", |i| last_seq(i) == n + 1).await;
        assert_eq!(m["state"]["messages"], n + 1, "{m}");
        let a = settled(&client, "A", |i| last_seq(i) == xs + 1).await;
        assert_eq!(a["state"]["messages"], xs + 1, "{a}");
        assert_eq!(a["sources"][0]["seq"], n + 1, "{a}");
    })
    .await
    .expect("after the restart");
}

#[tokio::test]
async fn async_nats_kv_bucket_mirrors_another_bucket() {
    use async_nats::jetstream::{kv, stream::Source, stream::SubjectTransform};
    let js = start_js("mirror-kv");
    bounded(async {
        let (client, ctx) = connect(&js).await;
        let orig = ctx
            .create_key_value(kv::Config {
                bucket: "ORIG".into(),
                history: 3,
                ..Default::default()
            })
            .await
            .expect("origin bucket");
        orig.put("a", "1".into()).await.expect("put a");
        orig.put("b", "2".into()).await.expect("put b");
        // async-nats reads a local mirror bucket under its own prefix (`$KV.MIR.`; only an
        // external mirror gets the origin's prefix), in 0.38 as in 0.52, so the mirror maps the
        // origin's keys there. Without the transform `get` finds nothing, on nats-server 2.15.1
        // as on natrix.
        let mir = ctx
            .create_key_value(kv::Config {
                bucket: "MIR".into(),
                history: 3,
                mirror: Some(Source {
                    name: "ORIG".into(),
                    subject_transforms: vec![SubjectTransform {
                        source: "$KV.ORIG.>".into(),
                        destination: "$KV.MIR.>".into(),
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("mirror bucket");
        let i = settled(&client, "KV_MIR", |i| last_seq(i) == 2).await;
        assert_eq!(i["config"]["mirror_direct"], true, "{i}");
        assert_eq!(
            mir.get("a").await.expect("get a").as_deref(),
            Some(&b"1"[..])
        );
        orig.put("a", "3".into()).await.expect("put a again");
        orig.delete("b").await.expect("delete b");
        settled(&client, "KV_MIR", |i| last_seq(i) == 4).await;
        assert_eq!(
            mir.get("a").await.expect("get a").as_deref(),
            Some(&b"3"[..])
        );
        assert_eq!(mir.get("b").await.expect("get b"), None);
    })
    .await;
}

#[tokio::test]
async fn bad_mirror_and_source_configs_get_nats_servers_errors() {
    let js = start_js("mirror-bad");
    bounded(async {
        let (client, _ctx) = connect(&js).await;
        create(
            &client,
            json!({"name": "BIG", "subjects": ["big"], "max_msg_size": 1000}),
        )
        .await;
        let cases = [
            (json!({"name": "X", "mirror": {"name": "BIG"}, "max_msg_size": 10}), 10030),
            (json!({"name": "X", "sources": [{"name": "BIG"}], "max_msg_size": 10}), 10046),
            (
                json!({"name": "X", "mirror": {"name": "O", "filter_subject": "a",
                    "subject_transforms": [{"src": "b", "dest": "c"}]}}),
                10150,
            ),
            (
                json!({"name": "X", "mirror": {"name": "O",
                    "subject_transforms": [{"src": "a..b", "dest": "c"}]}}),
                10151,
            ),
            (
                json!({"name": "X", "mirror": {"name": "O",
                    "subject_transforms": [{"src": "a.>", "dest": "c.>"}, {"src": "a.b", "dest": "d"}]}}),
                10152,
            ),
            (
                json!({"name": "X", "mirror": {"name": "O",
                    "subject_transforms": [{"src": "a.*", "dest": "c.$2"}]}}),
                10154,
            ),
            (
                json!({"name": "X", "sources": [{"name": "O", "filter_subject": "a",
                    "subject_transforms": [{"src": "b", "dest": "c"}]}]}),
                10144,
            ),
            (
                json!({"name": "X", "sources": [{"name": "O",
                    "subject_transforms": [{"src": "a b", "dest": "c"}]}]}),
                10145,
            ),
            (
                json!({"name": "X", "sources": [{"name": "O",
                    "subject_transforms": [{"src": "a.*", "dest": "{{nope(1)}}"}]}]}),
                10146,
            ),
            (
                json!({"name": "X", "sources": [{"name": "O",
                    "subject_transforms": [{"src": "a.>", "dest": "c.>"}, {"src": "a.b", "dest": "d"}]}]}),
                10147,
            ),
            (
                json!({"name": "X", "sources": [{"name": "O"},
                    {"name": "O", "subject_transforms": [{"src": "a.*", "dest": "t.$1"}]},
                    {"name": "O", "subject_transforms": [{"src": "a.*", "dest": "t.$1"}]}]}),
                10140,
            ),
            (
                json!({"name": "X", "mirror": {"name": "O"}, "allow_msg_counter": true}),
                10173,
            ),
            (
                json!({"name": "X", "mirror": {"name": "O"}, "allow_atomic": true}),
                10198,
            ),
            (
                json!({"name": "X", "mirror": {"name": "O",
                    "subject_transforms": [{"src": "a.>", "dest": "c"}]}}),
                10154,
            ),
        ];
        let mut seen = Vec::new();
        for (config, _) in &cases {
            let r = api(&client, "$JS.API.STREAM.CREATE.X", config.clone()).await;
            seen.push((
                r["error"]["err_code"].as_u64().unwrap_or(0),
                r["error"]["description"].as_str().unwrap_or("").to_string(),
            ));
        }
        let codes: Vec<u64> = seen.iter().map(|(c, _)| *c).collect();
        let want: Vec<u64> = cases.iter().map(|(_, c)| *c).collect();
        assert_eq!(codes, want, "{seen:#?}");
        let texts: Vec<&str> = seen.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(texts[3], "mirror transform source: invalid subject a..b");
        assert_eq!(texts[7], "source transform source: invalid subject a b");
        assert_eq!(
            texts[5],
            "mirror transform: invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            texts[8],
            "source transform: invalid mapping destination: unknown function in {{nope(1)}}"
        );
        assert_eq!(texts[13], "mirror transform: invalid subject");
    })
    .await;
}
