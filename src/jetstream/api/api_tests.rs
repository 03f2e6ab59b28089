//! Unit tests of the `$JS.API` layer beyond the captured transcript (fixture_tests.rs):
//! normalisation round trips, parsing tables, the publish checks and the refusals.

use super::config::{decode, StreamConfig, META_LEVEL, META_VERSION};
use super::fake::Fake;
use super::headers::{direct_get_block, Headers};
use super::publish::{
    check_publish, parse_go_duration, parse_ttl, pub_ack, pub_ack_duplicate, DedupTable, Incoming,
    PublishDecision, StreamPublishState,
};
use super::request::{is_valid_name, ApiRequest};
use super::validate::{collide, is_subset, normalize};
use super::*;
use serde_json::Value;

const CAPTURES: &str = include_str!("../../../tests/js_api_fixtures/captures.json");
const NOW: UnixNanos = 1_764_000_000_000_000_000;

fn env() -> ApiEnv {
    let mut e = ApiEnv::new("2.15.1", 5);
    e.features = Features::all();
    e
}

fn json(r: &Response) -> Value {
    match r {
        Response::Json(b) => serde_json::from_slice(b).expect("valid JSON"),
        other => panic!("not JSON: {other:?}"),
    }
}

#[test]
fn every_config_nats_server_echoed_normalizes_to_itself() {
    let cases: Vec<Value> = serde_json::from_str(CAPTURES).unwrap();
    let mut seen = 0;
    for c in &cases {
        let Ok(body) = serde_json::from_str::<Value>(c["reply"]["payload"].as_str().unwrap_or(""))
        else {
            continue;
        };
        let Some(echo) = body.get("config") else {
            continue;
        };
        let mut want = echo.clone();
        if let Some(m) = want.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove(META_LEVEL);
            m.remove(META_VERSION);
        }
        let mut cfg: StreamConfig = decode(echo.to_string().as_bytes()).unwrap();
        cfg.set_static_metadata();
        let once = normalize(&cfg, false).unwrap();
        assert_eq!(
            normalize(&once, false).unwrap(),
            once,
            "idempotent for {}",
            c["name"]
        );
        let got: Value = serde_json::from_slice(&to_go_json(&once)).unwrap();
        assert_eq!(got, want, "{}", c["name"]);
        seen += 1;
    }
    assert!(seen > 20, "only {seen} configs checked");
}

#[test]
fn update_with_the_echoed_config_changes_nothing_and_create_again_succeeds() {
    let (mut fake, mut env) = (Fake::default(), env());
    let body = br#"{"name":"S","subjects":["s.>"],"max_age":1000000000}"#;
    let created = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        body,
        NOW,
        &mut fake,
        &mut env,
    ));
    let echo = created["config"].to_string();
    assert_eq!(
        created["config"]["duplicate_window"], 1_000_000_000,
        "capped at max_age"
    );
    let updated = json(&handle(
        "$JS.API.STREAM.UPDATE.S",
        "r",
        b"",
        echo.as_bytes(),
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(updated["config"], created["config"]);
    let again = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        echo.as_bytes(),
        NOW,
        &mut fake,
        &mut env,
    ));
    assert!(again.get("error").is_none(), "{again}");
    let other = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        br#"{"name":"S","subjects":["s.>"],"max_msgs":3}"#,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(other["error"]["err_code"], 10058);
}

#[test]
fn request_subjects_parse_as_nats_server_subscribes_them() {
    use ApiRequest::*;
    let ok = [
        ("$JS.API.INFO", AccountInfo),
        ("$JS.API.STREAM.CREATE.S", StreamCreate { stream: "S" }),
        ("$JS.API.STREAM.MSG.GET.S", StreamMsgGet { stream: "S" }),
        (
            "$JS.API.STREAM.MSG.DELETE.S",
            StreamMsgDelete { stream: "S" },
        ),
        ("$JS.API.STREAM.NAMES", StreamNames),
        ("$JS.API.DIRECT.GET.KV_b", DirectGet { stream: "KV_b" }),
        (
            "$JS.API.DIRECT.GET.KV_b.$KV.b.k",
            DirectGetLastFor {
                stream: "KV_b",
                subject: "$KV.b.k",
            },
        ),
        (
            "$JS.API.CONSUMER.CREATE.S",
            ConsumerCreate {
                stream: "S",
                name: None,
                filter: None,
            },
        ),
        (
            "$JS.API.CONSUMER.CREATE.S.c",
            ConsumerCreate {
                stream: "S",
                name: Some("c"),
                filter: None,
            },
        ),
        (
            "$JS.API.CONSUMER.CREATE.S.c.a.>",
            ConsumerCreate {
                stream: "S",
                name: Some("c"),
                filter: Some("a.>"),
            },
        ),
        (
            "$JS.API.CONSUMER.DURABLE.CREATE.S.d",
            ConsumerDurableCreate {
                stream: "S",
                durable: "d",
            },
        ),
        (
            "$JS.API.CONSUMER.MSG.NEXT.S.c",
            ConsumerMsgNext {
                stream: "S",
                consumer: "c",
            },
        ),
        ("$JS.API.CONSUMER.NAMES.S", ConsumerNames { stream: "S" }),
        ("$JS.API.STREAM.INFO.A*B", StreamInfo { stream: "A*B" }),
    ];
    for (s, want) in ok {
        assert_eq!(ApiRequest::parse(s), Some(want), "{s}");
    }
    for s in [
        "$JS.API",
        "$JS.API.",
        "$JS.API.STREAM.INFO",
        "$JS.API.STREAM.INFO.a.b",
        "$JS.API.STREAM.FROB.S",
        "$JS.API.STREAM.INFO..",
        "$JS.API.CONSUMER.INFO.S",
        "$JS.API.CONSUMER.INFO.S.c.d",
        "$JS.APIX.INFO",
        "$JS.API.INFO.x",
        "$JS.API..INFO",
        "$JS.API.INFO.",
        "$JS.API.DIRECT.GET.KV_a.$KV..k",
        "$JS.API.DIRECT.GET.KV_a.$KV.a.",
        "$JS.API.DIRECT.GET..$KV.a.k",
        "$JS.API.CONSUMER.CREATE.S.c..f",
    ] {
        assert_eq!(ApiRequest::parse(s), None, "{s}");
    }
    assert_eq!(
        ApiRequest::parse("$JS.API.DIRECT.GET.KV_a.$KV.a.k.x"),
        Some(DirectGetLastFor {
            stream: "KV_a",
            subject: "$KV.a.k.x"
        })
    );
}

#[test]
fn names_are_refused_as_nats_server_refuses_them() {
    for bad in ["", "a.b", "a*", "a>", "a b", "a\tb", "a/b", "a\\b", "a\nb"] {
        assert!(!is_valid_name(bad), "{bad:?}");
    }
    assert!(is_valid_name("KV_b-1"));
}

#[test]
fn subjects_collide_and_subset_like_nats_server() {
    assert!(collide("orders.>", "orders.new"));
    assert!(collide("a.*", "*.b"));
    assert!(!collide("a.b", "a.b.c"));
    assert!(!collide("a.*", "a"));
    assert!(is_subset("$JS.EVENT.x", "$JS.EVENT.>"));
    assert!(!is_subset("$JS.>", "$JS.EVENT.>"));
}

#[test]
fn header_blocks_parse_and_bad_ones_are_errors() {
    let h = Headers::parse(b"NATS/1.0\r\nNats-Msg-Id:  x \r\nA: 1\r\nA: 2\r\n\r\n").unwrap();
    assert_eq!(
        (h.status, h.get("Nats-Msg-Id"), h.get("A")),
        (None, Some("x"), Some("1"))
    );
    assert_eq!(h.get("nats-msg-id"), None, "keys are case-sensitive");
    let s = Headers::parse(b"NATS/1.0 404 Message Not Found\r\n\r\n").unwrap();
    assert_eq!((s.status, s.description), (Some(404), "Message Not Found"));
    assert!(Headers::parse(b"HTTP/1.0\r\n\r\n").is_err());
    assert!(Headers::parse(b"NATS/1.0\r\nA: 1\r\n").is_err());
    assert!(Headers::parse(b"NATS/1.0\r\nnocolon\r\n\r\n").is_err());
    assert!(Headers::parse(b"NATS/1.0 abc\r\n\r\n").is_err());
    let block = b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n";
    for cut in 0..block.len() {
        let _ = Headers::parse(&block[..cut]); // never panics on a prefix
    }
    let d = direct_get_block(block, "KV_b", "$KV.b.k", 4, "T");
    assert_eq!(
        d,
        b"NATS/1.0\r\nKV-Operation: DEL\r\nNats-Stream: KV_b\r\nNats-Subject: $KV.b.k\r\nNats-Sequence: 4\r\nNats-Time-Stamp: T\r\n\r\n"
    );
}

#[test]
fn dedup_forgets_ids_once_the_window_passed() {
    let mut d = DedupTable::default();
    d.record("a", 1, 1_000);
    d.record("b", 2, 2_000);
    assert_eq!(d.lookup("a", 1_500, 1_000), Some(1));
    assert_eq!(d.lookup("a", 2_000, 1_000), None, "a expired at 1000+1000");
    assert_eq!(d.lookup("b", 2_999, 1_000), Some(2));
    assert_eq!(d.len(), 1);
}

#[test]
fn ttl_and_durations_parse_as_go_does() {
    assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
    assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
    assert_eq!(parse_go_duration("0"), Some(0));
    assert_eq!(parse_go_duration("10"), None);
    assert_eq!(parse_go_duration("5x"), None);
    assert_eq!(parse_ttl("10s"), Ok(10));
    assert_eq!(parse_ttl("60"), Ok(60));
    assert_eq!(parse_ttl("never"), Ok(-1));
    assert_eq!(parse_ttl("500ms"), Err(ApiError::MessageTtlInvalid));
    assert_eq!(parse_ttl("soon"), Err(ApiError::MessageTtlInvalid));
}

#[test]
fn stream_names_in_acks_are_written_as_go_encodes_them() {
    for name in [
        "ORDERS",
        "kv_b-1",
        "a b",
        "q\"t",
        "back\\slash",
        "<&>",
        "tab\t",
        "é",
        "\u{2028}",
        "~!",
    ] {
        let mut fast = Vec::new();
        super::publish::push_json_str(&mut fast, name);
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&super::to_go_json(&name)),
            "{name:?}"
        );
    }
    assert_eq!(
        pub_ack("a<b", Some("d\"x"), 7),
        br#"{"stream":"a\u003cb","domain":"d\"x","seq":7}"#
    );
    assert_eq!(
        pub_ack("S", None, u64::MAX),
        br#"{"stream":"S","seq":18446744073709551615}"#
    );
}

#[test]
fn pub_acks_are_nats_server_bytes() {
    assert_eq!(pub_ack("S", None, 1), br#"{"stream":"S","seq":1}"#);
    assert_eq!(
        pub_ack("S", Some("hub"), 2),
        br#"{"stream":"S","domain":"hub","seq":2}"#
    );
    assert_eq!(
        pub_ack_duplicate("S", None, 4),
        br#"{"stream":"S","seq":4,"duplicate": true}"#
    );
}

#[test]
fn publish_checks_run_in_nats_server_order() {
    let mut cfg = normalize(
        &StreamConfig {
            name: "S".into(),
            ..Default::default()
        },
        false,
    )
    .unwrap();
    let mut d = DedupTable::default();
    let h = Headers::parse(
        b"NATS/1.0\r\nNats-Expected-Stream: X\r\nNats-Expected-Last-Sequence: 9\r\n\r\n",
    )
    .unwrap();
    let msg = Incoming {
        subject: "S",
        hdrs: &h,
        hdr_bytes: 10,
        hdr_block: b"",
        payload_bytes: 1,
        scheduled: false,
    };
    fn st(c: &StreamConfig) -> StreamPublishState<'_> {
        StreamPublishState {
            config: c,
            last_seq: 3,
            last_msg_id: "",
            max_payload_bytes: 100,
        }
    }
    let got = check_publish(&st(&cfg), &msg, NOW, &mut d, |_| None);
    assert_eq!(
        got,
        PublishDecision::Reject(ApiError::ExpectedStreamMismatch),
        "stream first"
    );
    cfg.sealed = true;
    let got = check_publish(&st(&cfg), &msg, NOW, &mut d, |_| None);
    assert_eq!(
        got,
        PublishDecision::Reject(ApiError::Sealed),
        "sealed before everything"
    );
    cfg.sealed = false;
    let big = Incoming {
        subject: "S",
        hdrs: &Headers::default(),
        hdr_bytes: 0,
        hdr_block: b"",
        payload_bytes: 101,
        scheduled: false,
    };
    let got = check_publish(&st(&cfg), &big, NOW, &mut d, |_| None);
    assert_eq!(
        got,
        PublishDecision::Reject(ApiError::MessageExceedsMaximum),
        "max_payload"
    );
}

#[test]
fn a_ttl_below_the_delete_marker_ttl_is_raised_to_it() {
    let mut cfg = StreamConfig {
        name: "S".into(),
        subject_delete_marker_ttl_ns: 30_000_000_000,
        ..Default::default()
    };
    cfg = normalize(&cfg, false).unwrap();
    let h = Headers::parse(b"NATS/1.0\r\nNats-TTL: 5s\r\n\r\n").unwrap();
    let msg = Incoming {
        subject: "S",
        hdrs: &h,
        hdr_bytes: 10,
        hdr_block: b"",
        payload_bytes: 1,
        scheduled: false,
    };
    let st = StreamPublishState {
        config: &cfg,
        last_seq: 0,
        last_msg_id: "",
        max_payload_bytes: 100,
    };
    match check_publish(&st, &msg, NOW, &mut DedupTable::default(), |_| None) {
        PublishDecision::Store(a) => assert_eq!(a.ttl_s, 30),
        other => panic!("{other:?}"),
    }
}

#[test]
fn go_json_escapes_html_characters() {
    assert_eq!(
        to_go_json("a>b<c&d\u{2028}"),
        br#""a\u003eb\u003cc\u0026d\u2028""#
    );
}

#[test]
fn without_a_reply_the_request_is_still_carried_out() {
    let (mut fake, mut env) = (Fake::default(), env());
    let r = handle(
        "$JS.API.STREAM.CREATE.S",
        "",
        b"",
        br#"{"name":"S"}"#,
        NOW,
        &mut fake,
        &mut env,
    );
    assert_eq!(r, Response::None);
    assert_eq!(fake.stream_names(), vec!["S".to_string()]);
}

#[test]
fn a_feature_the_store_lacks_is_refused_not_ignored() {
    let (mut fake, mut env) = (Fake::default(), ApiEnv::new("2.15.1", 0));
    let r = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        br#"{"name":"S","republish":{"src":">","dest":"out.>"}}"#,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(r["error"]["err_code"], 10052);
    assert_eq!(r["error"]["description"], "republish is not supported");
    assert!(fake.stream_names().is_empty());
}

#[test]
fn account_limits_refuse_streams_past_them() {
    let (mut fake, mut env) = (Fake::default(), env());
    env.limits.max_streams = 1;
    env.limits.max_bytes_required = true;
    let r = json(&handle(
        "$JS.API.STREAM.CREATE.A",
        "r",
        b"",
        br#"{"name":"A"}"#,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(r["error"]["err_code"], 10113);
    let ok = br#"{"name":"A","max_bytes":1000}"#;
    assert!(json(&handle(
        "$JS.API.STREAM.CREATE.A",
        "r",
        b"",
        ok,
        NOW,
        &mut fake,
        &mut env
    ))
    .get("error")
    .is_none());
    let r = json(&handle(
        "$JS.API.STREAM.CREATE.B",
        "r",
        b"",
        br#"{"name":"B","max_bytes":1000}"#,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(r["error"]["err_code"], 10027);
    let info = json(&handle(
        "$JS.API.INFO",
        "r",
        b"",
        b"",
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(
        (info["streams"].as_u64(), info["api"]["errors"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn bad_bodies_get_exact_decode_errors() {
    let (mut fake, mut env) = (Fake::default(), env());
    let r = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        br#"{"name":"S","retention":5}"#,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(
        r["error"]["description"],
        "invalid JSON: can not unmarshal \"5\""
    );
    let r = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        b"\xff\xfe",
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(r["error"]["err_code"], 10025);
    let r = json(&handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        br#"{"name":"S","discard":"NEW"}"#,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(
        r["config"]["discard"], "new",
        "Go folds the case of discard"
    );
}

#[test]
fn every_prefix_and_byte_flip_of_the_captured_requests_is_answered_without_panic() {
    // A cheap stand-in for the fuzz target where cargo-fuzz is not at hand: every captured
    // API request, cut at every byte and with every byte flipped, replayed on a fake that has
    // the streams the transcript created.
    let cases: Vec<Value> = serde_json::from_str(CAPTURES).unwrap();
    let (mut fake, mut env) = (Fake::default(), env());
    for c in &cases {
        let subject = c["subject"].as_str().unwrap_or("");
        if subject.starts_with("$JS.API.STREAM.CREATE.") {
            let p = c["payload"].as_str().unwrap_or("").as_bytes();
            handle(subject, "r", b"", p, NOW, &mut fake, &mut env);
        }
    }
    let mut answered = 0;
    for c in &cases {
        let subject = c["subject"].as_str().unwrap_or("");
        if !subject.starts_with("$JS.API.") || subject.contains(".DELETE.") {
            continue;
        }
        let p = c["payload"].as_str().unwrap_or("").as_bytes().to_vec();
        let mut variants: Vec<Vec<u8>> = (0..p.len()).map(|i| p[..i].to_vec()).collect();
        variants.extend((0..p.len()).map(|i| {
            let mut v = p.clone();
            v[i] ^= 0x20;
            v
        }));
        for v in variants {
            if let Response::Json(b) = handle(subject, "r", b"", &v, NOW, &mut fake, &mut env) {
                let doc: Value = serde_json::from_slice(&b).expect("valid JSON");
                assert!(doc["type"].is_string(), "{doc}");
                answered += 1;
            }
        }
    }
    assert!(answered > 1000, "only {answered} answers");
}

#[test]
fn without_jetstream_json_requests_get_10039_and_direct_gets_no_responders() {
    let (mut fake, mut env) = (Fake::default(), env());
    env.enabled = false;
    let r = json(&handle(
        "$JS.API.STREAM.INFO.S",
        "r",
        b"",
        b"",
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(
        (r["error"]["code"].as_u64(), r["error"]["err_code"].as_u64()),
        (Some(503), Some(10039))
    );
    assert_eq!(r["limit"], 0, "paging fields kept");
    let d = handle(
        "$JS.API.DIRECT.GET.S",
        "r",
        b"",
        b"{}",
        NOW,
        &mut fake,
        &mut env,
    );
    assert_eq!(d, Response::NoResponders);
}

#[test]
fn a_start_time_that_is_no_time_gets_go_s_text() {
    let (mut fake, mut env) = (Fake::default(), env());
    handle(
        "$JS.API.STREAM.CREATE.S",
        "r",
        b"",
        br#"{"name":"S"}"#,
        NOW,
        &mut fake,
        &mut env,
    );
    let body = br#"{"start_time":"yesterday"}"#;
    let r = json(&handle(
        "$JS.API.STREAM.MSG.GET.S",
        "r",
        b"",
        body,
        NOW,
        &mut fake,
        &mut env,
    ));
    assert_eq!(
        r["error"]["description"],
        "invalid JSON: parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""
    );
}
