//! `/jsz` with JetStream on and the `/streaming/` pages, built from hand-made snapshots.
//! `/jsz` is checked against nats-server 2.15.1's captures (`tests/monitor_fixtures/jsz_*`,
//! made by `capture_jsz.py`): same keys, same order, same types. The snapshot mirrors the
//! capture's setup, with the stream and consumer configs read from the capture itself.

use super::jsz::{JsAccountSnapshot, JsConfigSnapshot, JsSnapshot, JsStreamSnapshot};
use super::streaming::{StanChannel, StanClient, StanSnapshot};
use super::tests::{assert_like_fixture, body, fixture, scenario};
use super::*;
use crate::jetstream::api::consumer::{ConsumerStateView, SeqInfo};
use crate::jetstream::api::{ConsumerConfig, ConsumerView, StreamConfig, StreamState};
use crate::stan::{ChannelInfo, StanStats, StoreLimits, SubInfo};

/// The stream and consumer configs nats-server echoed in the `config=true` capture.
fn captured_configs() -> Vec<(StreamConfig, ConsumerConfig)> {
    let v: serde_json::Value = serde_json::from_str(&fixture("jsz_config.json")).unwrap();
    v["account_details"][0]["stream_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let stream = serde_json::from_value(s["config"].clone()).unwrap();
            let consumer = serde_json::from_value(s["consumer_detail"][0]["config"].clone());
            (stream, consumer.unwrap())
        })
        .collect()
}

const T0: i64 = 1_796_412_699_167_887_857;

fn stream(
    config: StreamConfig,
    consumer: ConsumerConfig,
    msgs: u64,
    bytes: u64,
) -> JsStreamSnapshot {
    let name = config.name.clone();
    let fetched = !consumer.filter_subject.is_empty();
    let view = ConsumerView {
        stream: name.clone(),
        name: consumer.durable_name.clone(),
        config: consumer,
        created: T0 + 9_000_000,
        state: ConsumerStateView {
            delivered: SeqInfo {
                consumer_seq: u64::from(fetched),
                stream_seq: u64::from(fetched),
                last_active: fetched.then_some(T0 + 10_000_000),
            },
            ack_floor: SeqInfo::default(),
            num_ack_pending: u64::from(fetched),
            num_pending: msgs - u64::from(fetched),
            ..ConsumerStateView::default()
        },
        paused_until: None,
        pin: None,
    };
    JsStreamSnapshot {
        config,
        created: T0,
        state: StreamState {
            messages: msgs,
            bytes,
            first_seq: 1,
            first_ts: T0 + 5_000_000,
            last_seq: msgs,
            last_ts: T0 + 6_000_000,
            num_subjects: 1,
            consumer_count: 1,
            ..StreamState::default()
        },
        mirror: None,
        sources: Vec::new(),
        consumers: vec![view],
    }
}

/// The capture's setup: ORDERS (file, 3 messages, pull consumer with one unacked fetch) and
/// EVENTS (memory, `max_bytes` 1 MiB, 2 messages, push consumer) in `$G`.
fn js_scenario() -> Snapshot {
    let mut configs = captured_configs().into_iter();
    let (orders, pull) = configs.next().unwrap();
    let (events, push) = configs.next().unwrap();
    let account = JsAccountSnapshot {
        name: "$G".into(),
        memory: 62,
        storage: 135,
        streams_reserved_memory: 1_048_576,
        streams_reserved_storage: 0,
        max_memory: -1,
        max_storage: -1,
        api_total: 5,
        api_errors: 1,
        streams: vec![stream(orders, pull, 3, 135), stream(events, push, 2, 62)],
    };
    let mut s = scenario();
    s.jetstream = Some(JsSnapshot {
        config: JsConfigSnapshot {
            max_memory: 18_957_152_256,
            max_storage: 47_674_727_424,
            store_dir: "/tmp/monjs/js/jetstream".into(),
            sync_interval_ns: 120_000_000_000,
            sync_always: false,
            domain: String::new(),
        },
        api_level: 0,
        max_ack_pending: 0,
        max_request_batch: 0,
        accounts: vec![account],
    });
    s
}

/// nats-server 2.15.1 sets `limits.default_max_consumers`; natrix applies no such default,
/// so its `limits` is `{}`: the one shape difference, taken out of the fixture here.
fn without_default_max_consumers(name: &str) -> String {
    let text = fixture(name);
    text.replace(
        "\"limits\": {\n    \"default_max_consumers\": 1000\n  },",
        "\"limits\": {},",
    )
}

fn assert_jsz_like(query: &str, snap: &Snapshot, name: &str) {
    let want = without_default_max_consumers(name);
    assert_ne!(want, fixture(name), "{name}: the limits line moved");
    let got = body("/jsz", query, snap);
    assert_eq!(
        super::tests::shape(&got),
        super::tests::shape(&want),
        "/jsz?{query} vs {name}\n{got}"
    );
}

#[test]
fn jsz_has_the_keys_order_and_types_of_nats_server_for_every_option() {
    let s = js_scenario();
    for (query, name) in [
        ("", "jsz_enabled.json"),
        ("accounts=true", "jsz_accounts.json"),
        ("streams=true", "jsz_streams.json"),
        ("consumers=true", "jsz_consumers.json"),
        ("consumers=true&config=true", "jsz_config.json"),
        ("acc=$G&streams=true", "jsz_acc.json"),
        ("acc=nope&accounts=true", "jsz_acc_missing.json"),
        ("accounts=true&offset=1", "jsz_offset.json"),
        ("leader-only=true", "jsz_leader_only.json"),
    ] {
        assert_jsz_like(query, &s, name);
    }
}

#[test]
fn jsz_without_jetstream_is_still_the_disabled_answer() {
    assert_like_fixture("/jsz", "", &scenario(), "jsz.json");
    assert_like_fixture("/jsz", "accounts=true&streams=1", &scenario(), "jsz.json");
}

fn json(query: &str, snap: &Snapshot) -> serde_json::Value {
    serde_json::from_str(&body("/jsz", query, snap)).unwrap()
}

#[test]
fn jsz_counts_every_account_whatever_the_filters() {
    let mut s = js_scenario();
    let js = s.jetstream.as_mut().unwrap();
    let mut other = js.accounts[0].clone();
    other.name = "A".into();
    other.streams.truncate(1);
    other.api_total = 2;
    js.accounts.push(other);
    for q in ["", "acc=A", "accounts=true&offset=5", "acc=nope"] {
        let v = json(q, &s);
        assert_eq!(v["streams"], 3, "{q}");
        assert_eq!(v["consumers"], 3, "{q}");
        assert_eq!(v["messages"], 8, "{q}");
        assert_eq!(v["bytes"], 332, "{q}");
        assert_eq!(v["accounts"], 2, "{q}");
        assert_eq!(v["total"], 2, "{q}");
        assert_eq!(v["api"]["total"], 7, "{q}");
        assert_eq!(v["reserved_memory"], 2 * 1_048_576, "{q}");
    }
    let names = |q: &str| -> Vec<String> {
        json(q, &s)["account_details"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|a| a["name"].as_str().unwrap().into())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(""), Vec::<String>::new());
    assert_eq!(names("accounts=1"), ["$G", "A"]);
    assert_eq!(names("streams=1"), ["$G", "A"], "streams lists accounts");
    assert_eq!(names("accounts=1&offset=1"), ["A"]);
    assert_eq!(names("accounts=1&limit=1"), ["$G"]);
    assert_eq!(names("accounts=1&limit=-1"), ["$G", "A"]);
    assert_eq!(names("acc=A"), ["A"]);
    assert_eq!(names("acc=A&accounts=1"), ["A"], "acc wins over accounts");
    assert_eq!(names("acc=nope"), Vec::<String>::new());
    assert_eq!(names("acc=nope&accounts=1"), ["$G", "A"]);
}

#[test]
fn jsz_details_show_streams_consumers_and_configs_only_when_asked() {
    let s = js_scenario();
    let detail = |q: &str| json(q, &s)["account_details"][0].clone();
    assert!(detail("accounts=1").get("stream_detail").is_none());
    let streams = detail("streams=1")["stream_detail"].clone();
    assert_eq!(streams.as_array().unwrap().len(), 2);
    assert!(streams[0].get("config").is_none());
    assert!(streams[0].get("consumer_detail").is_none());
    assert_eq!(streams[0]["cluster"]["leader"], s.server.server_name);
    let with = detail("consumers=1")["stream_detail"][0].clone();
    assert!(with.get("config").is_none());
    assert_eq!(with["consumer_detail"][0]["name"], "pull");
    assert!(with["consumer_detail"][0].get("config").is_none());
    let cfg = detail("consumers=1&config=1")["stream_detail"][0].clone();
    assert_eq!(cfg["config"]["name"], "ORDERS");
    assert_eq!(cfg["consumer_detail"][0]["config"]["durable_name"], "pull");
    let a = detail("accounts=1");
    assert_eq!(
        a["reserved_memory"],
        u64::MAX,
        "an unlimited account is 2^64-1"
    );
    assert_eq!(a["api"]["level"], 0);
}

#[test]
fn jsz_bad_parameters_are_the_disabled_servers_400s() {
    let s = js_scenario();
    let r = handle("/jsz", "accounts=x", &s);
    assert_eq!(r.status, 400);
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        fixture("bad_jsz_accounts.txt")
    );
    assert_eq!(handle("/jsz", "offset=x", &s).status, 400);
    assert_eq!(handle("/jsz", "raft=x", &s).status, 400);
}

#[test]
fn needs_asks_shard_zero_for_jetstream_and_streaming() {
    let n = needs("/jsz", "");
    assert!(n.jetstream && !n.jetstream_consumers && !n.open_connections);
    assert!(needs("/jsz", "consumers=true").jetstream_consumers);
    assert!(!needs("/jsz", "consumers=x").jetstream);
    let n = needs("/streaming/channelsz", "subs=1");
    assert!(n.streaming && !n.jetstream);
    assert!(!needs("/varz", "").streaming);
}

fn sub_info(client: &str, inbox: &str, durable: &str, queue: &str) -> SubInfo {
    SubInfo {
        client_id: client.into(),
        inbox: inbox.into(),
        ack_inbox: format!("_STAN.ack.{inbox}"),
        durable_name: durable.into(),
        queue_name: queue.into(),
        is_durable: !durable.is_empty(),
        is_offline: false,
        max_inflight: 1024,
        ack_wait_ms: 30_000,
        last_sent: 2,
        pending_count: 1,
        is_stalled: false,
    }
}

/// Two clients (`me` with a durable on `foo` and a queue member on `bar`, `you` with a plain
/// subscription on `foo`), channels `bar` (1 message) and `foo` (3 messages).
fn stan_scenario() -> Snapshot {
    let d = sub_info("me", "in.1", "dur", "");
    let q = sub_info("me", "in.2", "", "workers");
    let p = sub_info("you", "in.3", "", "");
    let channel = |name: &str, msgs: u64, subs: Vec<SubInfo>| StanChannel {
        name: name.into(),
        info: ChannelInfo {
            first_seq: 1,
            last_seq: msgs,
            msgs,
            bytes: msgs * 10,
            subs,
        },
    };
    let mut s = scenario();
    s.streaming = Some(StanSnapshot {
        cluster_id: "test-cluster".into(),
        server_id: "ABCDEFGHIJKLMNOPQRSTUV".into(),
        store_type: "MEMORY",
        limits: StoreLimits::default(),
        clients: vec![
            StanClient {
                id: "me".into(),
                hb_inbox: "_INBOX.hb.me".into(),
                subs: vec![("foo".into(), d.clone()), ("bar".into(), q.clone())],
            },
            StanClient {
                id: "you".into(),
                hb_inbox: "_INBOX.hb.you".into(),
                subs: vec![("foo".into(), p.clone())],
            },
        ],
        channels: vec![channel("bar", 1, vec![q]), channel("foo", 3, vec![d, p])],
        stats: StanStats {
            in_msgs: 4,
            in_bytes: 40,
            out_msgs: 6,
            out_bytes: 300,
        },
        open_fds: 12,
        max_fds: 1024,
    });
    s
}

fn stan(path: &str, query: &str, snap: &Snapshot) -> serde_json::Value {
    let r = handle(path, query, snap);
    assert_eq!(r.status, 200, "{path}?{query}");
    assert_eq!(r.content_type, CONTENT_TYPE_JSON);
    serde_json::from_slice(&r.body).unwrap()
}

/// The key order of each page, from nats-streaming-server's `monitor.go` structs.
#[test]
fn streaming_pages_have_nats_streaming_servers_keys_in_order() {
    let s = stan_scenario();
    let page = |path: &str, q: &str| {
        let r = handle(path, q, &s);
        String::from_utf8(r.body).unwrap()
    };
    let order = |text: &str| -> Vec<String> {
        // The pretty layout puts each top-level key at two spaces.
        text.lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .map(|l| l.split('"').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        order(&page("/streaming/serverz", "")),
        [
            "cluster_id",
            "server_id",
            "version",
            "go",
            "state",
            "now",
            "start_time",
            "uptime",
            "clients",
            "subscriptions",
            "channels",
            "total_msgs",
            "total_bytes",
            "in_msgs",
            "in_bytes",
            "out_msgs",
            "out_bytes",
            "open_fds",
            "max_fds"
        ]
    );
    assert_eq!(
        order(&page("/streaming/storez", "")),
        [
            "cluster_id",
            "server_id",
            "now",
            "type",
            "limits",
            "total_msgs",
            "total_bytes"
        ]
    );
    let storez = page("/streaming/storez", "");
    let limits: Vec<String> = storez
        .lines()
        .filter_map(|l| l.strip_prefix("    \""))
        .map(|l| l.split('"').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        limits,
        [
            "max_channels",
            "max_msgs",
            "max_bytes",
            "max_age",
            "max_subscriptions",
            "max_inactivity"
        ]
    );
    assert_eq!(
        order(&page("/streaming/clientsz", "")),
        [
            "cluster_id",
            "server_id",
            "now",
            "offset",
            "limit",
            "count",
            "total",
            "clients"
        ]
    );
    assert_eq!(
        order(&page("/streaming/channelsz", "")),
        [
            "cluster_id",
            "server_id",
            "now",
            "offset",
            "limit",
            "count",
            "total",
            "names"
        ]
    );
    assert_eq!(
        order(&page("/streaming/channelsz", "subs=1")),
        [
            "cluster_id",
            "server_id",
            "now",
            "offset",
            "limit",
            "count",
            "total",
            "channels"
        ]
    );
    assert_eq!(
        order(&page("/streaming/channelsz", "channel=foo&subs=1")),
        [
            "name",
            "msgs",
            "bytes",
            "first_seq",
            "last_seq",
            "subs_count",
            "subscriptions"
        ]
    );
    assert_eq!(
        order(&page("/streaming/clientsz", "client=me")),
        ["id", "hb_inbox", "subs_count"]
    );
    let sub = stan("/streaming/channelsz", "channel=foo&subs=1", &s)["subscriptions"][0].clone();
    let want = [
        "client_id",
        "inbox",
        "ack_inbox",
        "durable_name",
        "is_durable",
        "is_offline",
        "max_inflight",
        "ack_wait",
        "last_sent",
        "pending_count",
        "is_stalled",
    ];
    let text = page("/streaming/channelsz", "channel=foo&subs=1");
    let sub_keys: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("      \""))
        .take(want.len())
        .map(|l| l.split('"').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(sub_keys, want);
    assert_eq!(sub["ack_wait"], 30, "seconds");
}

#[test]
fn streaming_pages_list_page_and_find_like_nats_streaming_server() {
    let s = stan_scenario();
    let serverz = stan("/streaming/serverz", "", &s);
    assert_eq!(serverz["state"], "STANDALONE");
    assert_eq!(serverz["clients"], 2);
    assert_eq!(serverz["subscriptions"], 3);
    assert_eq!(serverz["channels"], 2);
    assert_eq!(serverz["total_msgs"], 4);
    assert_eq!(serverz["total_bytes"], 40);
    assert_eq!(serverz["in_msgs"], 4);
    assert_eq!(serverz["out_bytes"], 300);
    let storez = stan("/streaming/storez", "", &s);
    assert_eq!(storez["type"], "MEMORY");
    assert_eq!(storez["limits"]["max_channels"], 100);
    assert_eq!(storez["limits"]["max_msgs"], 1_000_000);
    assert_eq!(storez["limits"]["max_bytes"], 1_024_000_000);
    assert_eq!(storez["limits"]["max_subscriptions"], 1000);
    assert!(storez["limits"].get("channels").is_none());
    let mut with_channels = stan_scenario();
    let limits = &mut with_channels.streaming.as_mut().unwrap().limits;
    let entry = |msgs_max, age_max_ms| crate::stan::ChannelOverride {
        msgs_max,
        age_max_ms,
        ..Default::default()
    };
    limits.per_channel = vec![
        ("foo.*".into(), entry(10, 0)),
        ("foo.bar".into(), entry(0, -1)),
    ];
    let channels = stan("/streaming/storez", "", &with_channels)["limits"]["channels"].clone();
    assert_eq!(channels["foo.*"]["max_msgs"], 10);
    assert_eq!(channels["foo.*"]["max_subscriptions"], 1000, "inherited");
    assert_eq!(channels["foo.bar"]["max_msgs"], 10, "from the wider entry");
    assert_eq!(channels["foo.bar"]["max_age"], 0, "negative is unlimited");

    let clients = stan("/streaming/clientsz", "", &s);
    assert_eq!(clients["total"], 2);
    assert_eq!(clients["count"], 2);
    assert_eq!(clients["limit"], 1024);
    assert_eq!(clients["clients"][0]["id"], "me");
    assert_eq!(clients["clients"][0]["subs_count"], 2);
    assert!(clients["clients"][0].get("subscriptions").is_none());
    let subs = stan("/streaming/clientsz", "subs=1", &s);
    let me = &subs["clients"][0]["subscriptions"];
    assert_eq!(me["foo"][0]["durable_name"], "dur");
    assert_eq!(me["bar"][0]["queue_name"], "workers");
    let paged = stan("/streaming/clientsz", "offset=1&limit=5", &s);
    assert_eq!(
        (paged["count"].clone(), paged["offset"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(paged["clients"][0]["id"], "you");
    let past = stan("/streaming/clientsz", "offset=9", &s);
    assert_eq!(past["clients"], serde_json::json!([]));
    let bad = stan("/streaming/clientsz", "offset=x&limit=-3&subs=true", &s);
    assert_eq!(
        (bad["offset"].clone(), bad["limit"].clone()),
        (0.into(), 1024.into())
    );
    assert!(
        bad["clients"][0].get("subscriptions").is_none(),
        "only subs=1 lists"
    );
    let one = stan("/streaming/clientsz", "client=you&subs=1", &s);
    assert_eq!(one["subscriptions"]["foo"][0]["inbox"], "in.3");

    let names = stan("/streaming/channelsz", "", &s);
    assert_eq!(names["names"], serde_json::json!(["bar", "foo"]));
    assert!(names.get("channels").is_none());
    let chans = stan("/streaming/channelsz", "subs=1&limit=1&offset=1", &s);
    assert_eq!(chans["channels"][0]["name"], "foo");
    assert_eq!(chans["channels"][0]["subs_count"], 2);
    assert_eq!(chans["total"], 2);
    let one_channel = stan("/streaming/channelsz", "channel=foo", &s);
    assert_eq!(
        (one_channel["msgs"].clone(), one_channel["last_seq"].clone()),
        (3.into(), 3.into())
    );
    assert!(one_channel.get("subscriptions").is_none());
}

#[test]
fn streaming_misses_and_ft_are_answered_as_the_original() {
    let s = stan_scenario();
    let r = handle("/streaming/clientsz", "client=nobody", &s);
    assert_eq!((r.status, r.content_type), (404, CONTENT_TYPE_TEXT));
    assert_eq!(r.body, b"Client nobody not found\n");
    let r = handle("/streaming/channelsz", "channel=nope", &s);
    assert_eq!(r.body, b"Channel nope not found\n");
    let r = handle("/streaming/isFTActive", "", &s);
    assert_eq!((r.status, r.body.len()), (204, 0));
    let wire = String::from_utf8(encode_response(&r, std::time::UNIX_EPOCH, true)).unwrap();
    assert!(wire.starts_with("HTTP/1.1 204 No Content\r\n"), "{wire}");
    assert!(
        !wire.contains("Content-Length") && !wire.contains("Content-Type"),
        "{wire}"
    );
    assert_eq!(handle("/streaming", "", &s).content_type, CONTENT_TYPE_HTML);
    assert_eq!(handle("/streaming/", "", &s).status, 404);
    assert_eq!(handle("/streaming/serverz/", "", &s).status, 404);
}

#[test]
fn streaming_pages_are_404_when_streaming_is_off() {
    let s = scenario();
    for p in [
        "/streaming",
        "/streaming/serverz",
        "/streaming/storez",
        "/streaming/clientsz",
        "/streaming/channelsz",
        "/streaming/isFTActive",
    ] {
        let r = handle(p, "", &s);
        assert_eq!(r, Response::not_found(), "{p}");
    }
}

/// The `"jetstream": {...}` object of a pretty `/varz` text (two-space layout).
fn varz_jetstream_block(text: &str) -> String {
    let key = "\n  \"jetstream\": ";
    let rest = &text[text.find(key).expect("a jetstream key") + key.len()..];
    if rest.starts_with("{}") {
        return "{}".into();
    }
    rest[..rest.find("\n  }").expect("its end") + 4].to_string()
}

#[test]
fn varz_jetstream_has_nats_servers_config_stats_and_limits_when_on() {
    let want = fixture("js_varz.json").replace(
        "\"limits\": {\n      \"default_max_consumers\": 1000\n    }",
        "\"limits\": {}",
    );
    let got = body("/varz", "", &js_scenario());
    let (want, got) = (varz_jetstream_block(&want), varz_jetstream_block(&got));
    assert!(want.contains("\"stats\""), "{want}");
    assert_eq!(
        super::tests::shape(&got),
        super::tests::shape(&want),
        "{got}"
    );
    let off = body("/varz", "", &scenario());
    assert_eq!(varz_jetstream_block(&off), "{}", "off: {off}");
}

#[test]
fn accountz_says_whether_jetstream_serves_the_account() {
    let detail = |s: &Snapshot| -> serde_json::Value {
        serde_json::from_str(&body("/accountz", "acc=$G", s)).unwrap()
    };
    let captured: serde_json::Value =
        serde_json::from_str(&fixture("js_accountz_acc.json")).unwrap();
    assert_eq!(captured["account_detail"]["jetstream_enabled"], true);
    assert_eq!(
        detail(&js_scenario())["account_detail"]["jetstream_enabled"],
        true
    );
    assert_eq!(
        detail(&scenario())["account_detail"]["jetstream_enabled"],
        false
    );
}
