//! Unit tests of `handle_consumer` beyond the captured transcript: the echo round trip (also
//! over generated configs), existence and actions, the work-queue rules end to end, features
//! that are off, pause, JetStream disabled, counters, and junk input. The pure config tests
//! (defaults, checks, update rules) are in consumer_config_tests.rs.

use super::super::config::{decode, StreamConfig};
use super::super::info::{AccountLimits, UnixNanos};
use super::super::{ApiEnv, Features, Response, ServerLimits};
use super::config::{ConsumerConfig, GoTime};
use super::fake::ConsumerFake;
use super::{handle_consumer, ConsumerBackend};
use serde_json::{json, Value};

pub(super) const NOW: UnixNanos = 1_764_000_000_000_000_000;
pub(super) const S: i64 = 1_000_000_000;

fn env() -> ApiEnv {
    let mut e = ApiEnv::new("2.15.1", 5);
    e.features = Features::all();
    e
}

pub(super) fn stream(name: &str, subjects: &[&str]) -> StreamConfig {
    StreamConfig {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        num_replicas: 1,
        ..Default::default()
    }
}

pub(super) fn cfg(v: Value) -> ConsumerConfig {
    decode(v.to_string().as_bytes()).expect("config decodes")
}

/// The config after defaults, as the layer would store it.
pub(super) fn defaulted(v: Value, s: &StreamConfig) -> ConsumerConfig {
    let mut c = cfg(v);
    c.set_defaults(
        s,
        &AccountLimits::default(),
        &ServerLimits::default(),
        false,
    )
    .unwrap();
    c
}

fn json_of(r: &Response) -> Value {
    match r {
        Response::Json(b) => serde_json::from_slice(b).expect("valid JSON"),
        other => panic!("not JSON: {other:?}"),
    }
}

struct World {
    fake: ConsumerFake,
    env: ApiEnv,
}

impl World {
    fn new() -> World {
        let mut w = World {
            fake: ConsumerFake::default(),
            env: env(),
        };
        w.api(
            "$JS.API.STREAM.CREATE.S",
            json!({"name": "S", "subjects": ["s.>"]}),
        );
        w.api(
            "$JS.API.STREAM.CREATE.WQ",
            json!({"name": "WQ", "subjects": ["wq.>"], "retention": "workqueue"}),
        );
        w
    }
    fn raw(&mut self, subject: &str, body: &[u8]) -> Response {
        handle_consumer(subject, "r", b"", body, NOW, &mut self.fake, &mut self.env)
    }
    fn api(&mut self, subject: &str, body: Value) -> Value {
        json_of(&self.raw(subject, body.to_string().as_bytes()))
    }
    fn create(&mut self, stream: &str, name: &str, config: Value) -> Value {
        self.api(
            &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
            json!({"stream_name": stream, "config": config}),
        )
    }
}

fn err_code(v: &Value) -> u64 {
    v["error"]["err_code"].as_u64().unwrap_or(0)
}

#[test]
fn info_config_fed_back_to_create_changes_nothing() {
    let mut w = World::new();
    let first = w.create(
        "S",
        "d",
        json!({"durable_name": "d", "ack_policy": "explicit", "filter_subject": "s.a",
               "backoff": [S, 2 * S], "max_deliver": 4, "metadata": {"k": "v"}}),
    );
    assert!(first.get("error").is_none(), "{first}");
    let info = w.api("$JS.API.CONSUMER.INFO.S.d", json!({}));
    for action in ["", "create", "update"] {
        let again = w.api(
            "$JS.API.CONSUMER.CREATE.S.d",
            json!({"stream_name": "S", "config": info["config"], "action": action}),
        );
        assert_eq!(again["config"], first["config"], "action {action:?}");
    }
    let same = w.create(
        "S",
        "d",
        json!({"durable_name": "d", "ack_policy": "explicit", "filter_subject": "s.a",
               "backoff": [S, 2 * S], "max_deliver": 4, "metadata": {"k": "v"}}),
    );
    assert_eq!(same["config"], first["config"]);
    assert_eq!(same["created"], first["created"]);
}

#[test]
fn work_queue_streams_allow_one_unfiltered_or_disjoint_filtered_consumers() {
    let mut w = World::new();
    let one = w.create(
        "WQ",
        "w1",
        json!({"durable_name": "w1", "ack_policy": "explicit"}),
    );
    assert!(one.get("error").is_none(), "{one}");
    let two = w.create(
        "WQ",
        "w2",
        json!({"durable_name": "w2", "ack_policy": "explicit"}),
    );
    assert_eq!(err_code(&two), 10099);
    let f = w.create(
        "WQ",
        "w3",
        json!({"durable_name": "w3", "ack_policy": "explicit", "filter_subject": "wq.a"}),
    );
    assert_eq!(err_code(&f), 10100);
    w.raw("$JS.API.CONSUMER.DELETE.WQ.w1", b"");
    let a = w.create(
        "WQ",
        "wa",
        json!({"durable_name": "wa", "ack_policy": "explicit", "filter_subject": "wq.a"}),
    );
    assert!(a.get("error").is_none(), "{a}");
    let b = w.create(
        "WQ",
        "wb",
        json!({"durable_name": "wb", "ack_policy": "explicit", "filter_subject": "wq.b"}),
    );
    assert!(b.get("error").is_none(), "{b}");
    let clash = w.create(
        "WQ",
        "wb",
        json!({"durable_name": "wb", "ack_policy": "explicit", "filter_subject": "wq.a"}),
    );
    assert_eq!(err_code(&clash), 10100);
    let all = w.create(
        "WQ",
        "wall",
        json!({"durable_name": "wall", "ack_policy": "all"}),
    );
    assert_eq!(err_code(&all), 10098);
    let new = w.create(
        "WQ",
        "wn",
        json!({"ack_policy": "explicit", "deliver_policy": "new", "filter_subject": "wq.n"}),
    );
    assert_eq!(err_code(&new), 10101);
}

#[test]
fn actions_and_existence() {
    let mut w = World::new();
    let upd = w.api(
        "$JS.API.CONSUMER.CREATE.S.x",
        json!({"stream_name": "S", "config": {}, "action": "update"}),
    );
    assert_eq!(err_code(&upd), 10149);
    assert!(w.fake.consumers.is_empty());
    w.create("S", "x", json!({"durable_name": "x"}));
    let dup = w.api(
        "$JS.API.CONSUMER.CREATE.S.x",
        json!({"stream_name": "S", "config": {"durable_name": "x", "description": "y"}, "action": "create"}),
    );
    assert_eq!(err_code(&dup), 10148);
    let upd = w.api(
        "$JS.API.CONSUMER.CREATE.S.x",
        json!({"stream_name": "S", "config": {"durable_name": "x", "description": "y"}, "action": "update"}),
    );
    assert_eq!(upd["config"]["description"], "y");
}

#[test]
fn ephemerals_get_a_generated_name_and_an_inactive_threshold() {
    let mut w = World::new();
    let r = w.api(
        "$JS.API.CONSUMER.CREATE.S",
        json!({"stream_name": "S", "config": {}}),
    );
    let name = r["name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 8);
    assert_eq!(r["config"]["inactive_threshold"], 5 * S);
    assert!(w.fake.consumer("S", &name, NOW).is_some());
    let durable = w.create("S", "d", json!({"durable_name": "d"}));
    assert!(durable["config"].get("inactive_threshold").is_none());
}

#[test]
fn max_consumers_counts_the_stream_and_the_account() {
    let mut w = World::new();
    w.env.limits.max_consumers = 2;
    for n in ["a", "b"] {
        assert!(w.create("S", n, json!({})).get("error").is_none());
    }
    assert_eq!(err_code(&w.create("S", "c", json!({}))), 10026);
    assert!(
        w.create("S", "a", json!({})).get("error").is_none(),
        "an update is not a new one"
    );
}

#[test]
fn features_that_are_off_are_refused_not_ignored() {
    let mut w = World::new();
    w.env.features.priority_groups = false;
    let r = w.create(
        "S",
        "p",
        json!({"priority_policy": "overflow", "priority_groups": ["g"]}),
    );
    assert_eq!(err_code(&r), 10052);
    assert_eq!(
        r["error"]["description"],
        "consumer priority groups are not supported"
    );
    w.env.features.ack_flow_control = false;
    let r = w.create(
        "S",
        "f",
        json!({"ack_policy": "flow_control", "deliver_subject": "d.f", "flow_control": true, "idle_heartbeat": S}),
    );
    assert_eq!(
        r["error"]["description"],
        "flow control ack policy is not supported"
    );
    assert!(w.fake.consumers.is_empty());
}

#[test]
fn pause_and_resume_round_trip_through_info() {
    let mut w = World::new();
    w.create("S", "d", json!({"durable_name": "d"}));
    let until = NOW + 10 * S;
    let p = w.api(
        "$JS.API.CONSUMER.PAUSE.S.d",
        json!({"pause_until": GoTime::from_unix_nanos(until).format()}),
    );
    assert_eq!(
        (p["paused"].clone(), p["pause_remaining"].clone()),
        (json!(true), json!(10 * S))
    );
    let info = w.api("$JS.API.CONSUMER.INFO.S.d", json!({}));
    assert_eq!(info["paused"], true);
    assert_eq!(info["config"]["metadata"]["_nats.req.level"], "1");
    let r = json_of(&w.raw("$JS.API.CONSUMER.PAUSE.S.d", b""));
    assert_eq!(r["paused"], false);
    let info = w.api("$JS.API.CONSUMER.INFO.S.d", json!({}));
    assert!(info.get("paused").is_none());
    assert!(info["config"].get("pause_until").is_none());
}

#[test]
fn jetstream_disabled_answers_10039_with_the_paging_fields() {
    let mut w = World::new();
    w.env.enabled = false;
    let r = json_of(&w.raw("$JS.API.CONSUMER.NAMES.S", b""));
    assert_eq!(err_code(&r), 10039);
    assert_eq!(r["consumers"], json!([]));
    assert_eq!(r["limit"], 0);
    let r = w.create("S", "x", json!({}));
    assert_eq!(err_code(&r), 10039);
    assert!(w.fake.consumers.is_empty());
}

#[test]
fn requests_are_counted_and_a_missing_reply_still_acts() {
    let mut w = World::new();
    let before = (w.env.api_total, w.env.api_errors);
    let body = json!({"stream_name": "S", "config": {"durable_name": "q"}}).to_string();
    let r = handle_consumer(
        "$JS.API.CONSUMER.CREATE.S.q",
        "",
        b"",
        body.as_bytes(),
        NOW,
        &mut w.fake,
        &mut w.env,
    );
    assert_eq!(r, Response::None);
    assert!(w.fake.consumer("S", "q", NOW).is_some());
    w.api("$JS.API.CONSUMER.INFO.S.nope", json!({}));
    assert_eq!(
        (w.env.api_total, w.env.api_errors),
        (before.0 + 2, before.1 + 1)
    );
}

#[test]
fn pulls_and_resets_go_to_the_engine_and_stream_requests_to_the_stream_layer() {
    let mut w = World::new();
    assert_eq!(
        w.raw("$JS.API.CONSUMER.MSG.NEXT.S.d", b"1"),
        Response::Consumer
    );
    assert_eq!(w.raw("$JS.API.CONSUMER.RESET.S.d", b""), Response::Consumer);
    let names = json_of(&w.raw("$JS.API.STREAM.NAMES", b""));
    assert_eq!(names["streams"], json!(["S", "WQ"]));
    assert_eq!(w.raw("$JS.API.CONSUMER.FROB.S.d", b""), Response::None);
}

const ALPHABET: &[u8] = b"{}[]\":,0123456789abcnulltrue-. \\";

#[test]
fn junk_never_panics() {
    let mut w = World::new();
    w.create("S", "d", json!({"durable_name": "d"}));
    let subjects = [
        "$JS.API.CONSUMER.CREATE.S",
        "$JS.API.CONSUMER.CREATE.S.d",
        "$JS.API.CONSUMER.CREATE.S.d.s.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.S.d",
        "$JS.API.CONSUMER.INFO.S.d",
        "$JS.API.CONSUMER.DELETE.S.e",
        "$JS.API.CONSUMER.NAMES.S",
        "$JS.API.CONSUMER.LIST.S",
        "$JS.API.CONSUMER.PAUSE.S.d",
        "$JS.API.CONSUMER.UNPIN.S.d",
    ];
    let bodies: [&[u8]; 14] = [
        b"{\"pause_until\":\"0001-01-01T00:00:01Z\"}",
        b"{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"0001-01-01T00:00:01-23:59\"}}",
        b"",
        b"{",
        b"[]",
        b"null",
        b"\xff\xfe",
        b"{\"config\":[]}",
        b"{\"stream_name\":\"S\",\"config\":{\"opt_start_time\":\"x\"}}",
        b"{\"stream_name\":\"S\",\"config\":{\"max_deliver\":1e400}}",
        b"{\"offset\":-99999999999999999999}",
        b"{\"pause_until\":\"9999-12-31T23:59:59Z\"}",
        b"{\"group\":7}",
        b"{\"stream_name\":\"S\",\"config\":{\"backoff\":[9223372036854775807],\"max_deliver\":-1}}",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for s in subjects {
        for b in bodies {
            let _ = w.raw(s, b);
        }
        for _ in 0..50 {
            let len = (seed % 40) as usize;
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ALPHABET[(seed % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let _ = w.raw(s, &junk);
        }
    }
}

/// Field values to combine into configs, valid and not.
fn field_pool() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (
            "deliver_policy",
            vec![
                json!("all"),
                json!("last"),
                json!("new"),
                json!("last_per_subject"),
            ],
        ),
        (
            "ack_policy",
            vec![json!("none"), json!("all"), json!("explicit")],
        ),
        ("ack_wait", vec![json!(0), json!(S), json!(-1)]),
        ("max_deliver", vec![json!(0), json!(3), json!(-5), json!(1)]),
        ("backoff", vec![json!([S]), json!([S, 2 * S, 3 * S])]),
        (
            "filter_subject",
            vec![json!("s.a"), json!("s.>"), json!("")],
        ),
        (
            "filter_subjects",
            vec![json!(["s.b"]), json!(["s.b", "s.c"])],
        ),
        ("replay_policy", vec![json!("instant"), json!("original")]),
        ("max_waiting", vec![json!(0), json!(10), json!(-1)]),
        (
            "max_ack_pending",
            vec![json!(0), json!(5), json!(-1), json!(-3)],
        ),
        ("deliver_subject", vec![json!("out.x"), json!("")]),
        ("idle_heartbeat", vec![json!(S), json!(0)]),
        ("flow_control", vec![json!(true), json!(false)]),
        ("inactive_threshold", vec![json!(0), json!(9 * S)]),
        ("max_batch", vec![json!(0), json!(7)]),
        ("metadata", vec![json!({"a": "b"}), json!({})]),
        ("description", vec![json!("x"), json!("")]),
        ("pause_until", vec![json!("2001-01-01T00:00:00Z")]),
    ]
}

#[test]
fn whatever_a_create_accepts_it_accepts_again_unchanged() {
    let pool = field_pool();
    let mut w = World::new();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut accepted = 0;
    for i in 0..400 {
        let mut c = serde_json::Map::new();
        for (k, vals) in &pool {
            if next() % 3 == 0 {
                c.insert(
                    k.to_string(),
                    vals[(next() % vals.len() as u64) as usize].clone(),
                );
            }
        }
        let name = format!("c{i}");
        if next() % 2 == 0 {
            c.insert("durable_name".into(), json!(name));
        }
        let body = json!({"stream_name": "S", "config": c});
        let subject = format!("$JS.API.CONSUMER.CREATE.S.{name}");
        let first = w.api(&subject, body.clone());
        if first.get("error").is_some() {
            assert!(
                w.fake.consumer("S", &name, NOW).is_none(),
                "refused but stored: {body}"
            );
            continue;
        }
        accepted += 1;
        for again in [
            body.clone(),
            json!({"stream_name": "S", "config": first["config"]}),
            json!({"stream_name": "S", "config": first["config"], "action": "create"}),
        ] {
            let r = w.api(&subject, again.clone());
            assert_eq!(r["config"], first["config"], "{again}");
        }
        w.raw(&format!("$JS.API.CONSUMER.DELETE.S.{name}"), b"");
    }
    assert!(accepted > 20, "only {accepted} accepted");
}
