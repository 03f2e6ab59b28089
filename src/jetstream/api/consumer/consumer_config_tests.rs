//! Unit tests of the consumer config on its own: nats-server's defaults and their
//! idempotence over every captured echo, each check of `checkConsumerCfg` with its number,
//! the update rules, work-queue partitions, Go's decoding of the policies and times, and
//! the conversion to the engine's limits.

use super::super::config::{decode, Retention, StreamConfig, META_LEVEL, META_VERSION};
use super::super::info::AccountLimits;
use super::super::{to_go_json, ServerLimits};
use super::config::{AckPolicy, ConsumerConfig, DeliverPolicy, GoTime, PriorityPolicy};
use super::tests::{cfg, defaulted, stream, S};
use super::validate::{check_config, check_update, is_valid_group_name, partition_unique};
use serde_json::{json, Value};

const CAPTURES: &str = include_str!("../../../../tests/js_api_fixtures/consumer_captures.json");

#[test]
fn an_empty_config_echoes_with_only_the_always_written_keys() {
    let c = ConsumerConfig::default();
    assert_eq!(
        String::from_utf8(to_go_json(&c)).unwrap(),
        r#"{"deliver_policy":"all","ack_policy":"none","replay_policy":"instant","num_replicas":0}"#
    );
}

#[test]
fn pull_explicit_gets_nats_server_defaults() {
    let c = defaulted(json!({"ack_policy": "explicit"}), &stream("S", &["s.>"]));
    assert_eq!(c.ack_wait_ns, 30 * S);
    assert_eq!(c.max_deliver, -1);
    assert_eq!(c.max_waiting, 512);
    assert_eq!(c.max_ack_pending, 1000);
    assert_eq!(
        c.inactive_threshold_ns, 0,
        "the ephemeral default is applied at create"
    );
}

#[test]
fn push_and_ack_none_get_fewer_defaults() {
    let s = stream("S", &["s.>"]);
    let push = defaulted(json!({"deliver_subject": "d"}), &s);
    assert_eq!(
        (push.max_waiting, push.ack_wait_ns, push.max_ack_pending),
        (0, 0, 0)
    );
    let none = defaulted(json!({}), &s);
    assert_eq!(
        (none.max_waiting, none.ack_wait_ns, none.max_ack_pending),
        (512, 0, 0)
    );
}

#[test]
fn limits_shape_the_defaults() {
    let mut s = stream("S", &["s.>"]);
    s.consumer_limits.max_ack_pending = 7;
    s.consumer_limits.inactive_threshold = 3 * S;
    let c = defaulted(json!({"ack_policy": "all"}), &s);
    assert_eq!((c.max_ack_pending, c.inactive_threshold_ns), (7, 3 * S));
    let account = AccountLimits {
        max_ack_pending: 10,
        ..Default::default()
    };
    let mut c = cfg(json!({"ack_policy": "explicit"}));
    c.set_defaults(&stream("S", &[]), &account, &ServerLimits::default(), false)
        .unwrap();
    assert_eq!(c.max_ack_pending, 10);
}

#[test]
fn backoff_pinned_and_flow_control_defaults() {
    let s = stream("S", &["s.>"]);
    let c = defaulted(json!({"ack_policy": "explicit", "backoff": [S, 2 * S]}), &s);
    assert_eq!(c.ack_wait_ns, S);
    let c = defaulted(
        json!({"priority_policy": "pinned_client", "priority_groups": ["g"]}),
        &s,
    );
    assert_eq!(c.priority_timeout_ns, 120 * S);
    let c = defaulted(
        json!({"ack_policy": "flow_control", "deliver_subject": "d"}),
        &s,
    );
    assert!(c.flow_control);
    assert_eq!(c.idle_heartbeat_ns, S);
}

#[test]
fn out_of_range_values_are_zeroed_or_refused_when_pedantic() {
    let s = stream("S", &[]);
    let c = defaulted(
        json!({"max_deliver": -9, "max_ack_pending": -9, "max_waiting": -1, "max_batch": -1,
               "max_expires": -1, "max_bytes": -1, "idle_heartbeat": -1,
               "inactive_threshold": -1, "priority_timeout": -1}),
        &s,
    );
    assert_eq!((c.max_deliver, c.max_ack_pending), (-1, -1));
    assert_eq!((c.max_batch, c.max_expires_ns, c.max_bytes), (0, 0, 0));
    assert_eq!((c.idle_heartbeat_ns, c.inactive_threshold_ns), (0, 0));
    assert_eq!((c.max_waiting, c.priority_timeout_ns), (512, 0));
    for (field, text) in [
        ("max_deliver", "max_deliver must be set to -1"),
        ("max_ack_pending", "max_ack_pending must be set to -1"),
        ("max_waiting", "max_waiting must not be negative"),
        ("max_batch", "max_batch must not be negative"),
        ("max_expires", "max_expires must not be negative"),
        ("idle_heartbeat", "idle_heartbeat must not be negative"),
    ] {
        let mut c = cfg(json!({ field: -5 }));
        let e = c
            .set_defaults(
                &s,
                &AccountLimits::default(),
                &ServerLimits::default(),
                true,
            )
            .unwrap_err();
        assert_eq!(e.err_code(), 10157, "{field}");
        assert_eq!(e.description(), format!("pedantic mode: {text}"));
    }
}

#[test]
fn defaults_are_idempotent_and_every_captured_echo_decodes_to_itself() {
    let caps: Vec<Value> = serde_json::from_str(CAPTURES).unwrap();
    let s = stream("C_ORD", &["corders.>"]);
    let mut seen = 0;
    for c in &caps {
        let Ok(body) = serde_json::from_str::<Value>(c["reply"]["payload"].as_str().unwrap_or(""))
        else {
            continue;
        };
        if body.get("stream_name") != Some(&json!("C_ORD")) {
            continue;
        }
        let mut want = body["config"].clone();
        if let Some(m) = want.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove(META_LEVEL);
            m.remove(META_VERSION);
        }
        let mut once = cfg(body["config"].clone());
        once.set_static_metadata();
        once.set_defaults(
            &s,
            &AccountLimits::default(),
            &ServerLimits::default(),
            false,
        )
        .unwrap();
        let mut twice = once.clone();
        twice
            .set_defaults(
                &s,
                &AccountLimits::default(),
                &ServerLimits::default(),
                false,
            )
            .unwrap();
        assert_eq!(once, twice, "idempotent for {}", c["name"]);
        let got: Value = serde_json::from_slice(&to_go_json(&once)).unwrap();
        assert_eq!(got, want, "{}", c["name"]);
        seen += 1;
    }
    assert!(seen > 30, "saw {seen} echoes");
}

#[test]
fn every_check_refuses_with_nats_server_numbers() {
    let s = stream("S", &["s.>"]);
    let mut wq = stream("WQ", &["wq.>"]);
    wq.retention = Retention::WorkQueue;
    let cases: Vec<(Value, &StreamConfig, u16)> = vec![
        (json!({"name": "a.b"}), &s, 10052),
        (json!({"durable_name": "a*b"}), &s, 10052),
        (json!({"num_replicas": -1}), &s, 10133),
        (json!({"backoff": [-1]}), &s, 10184),
        (json!({"ack_wait": -1}), &s, 10183),
        (json!({"ack_policy": "flow_control"}), &s, 10218),
        (json!({"backoff": [1, 2, 3], "max_deliver": 2}), &s, 10116),
        (json!({"description": "d".repeat(4097)}), &s, 10107),
        (json!({"deliver_subject": "a.*"}), &s, 10079),
        (json!({"deliver_subject": "a..b"}), &s, 10112),
        (json!({"deliver_subject": "s.x"}), &s, 10081),
        (json!({"deliver_subject": "d", "max_waiting": 1}), &s, 10080),
        (
            json!({"deliver_subject": "d", "max_ack_pending": 1}),
            &s,
            10082,
        ),
        (
            json!({"deliver_subject": "d", "idle_heartbeat": 1}),
            &s,
            10083,
        ),
        (json!({}), &wq, 10084),
        (json!({"rate_limit_bps": 1}), &s, 10086),
        (json!({"idle_heartbeat": S}), &s, 10088),
        (json!({"flow_control": true}), &s, 10089),
        (json!({"max_expires": 1}), &s, 10115),
        (json!({"direct": true}), &s, 10090),
        (
            json!({"direct": true, "deliver_subject": "d", "durable_name": "x"}),
            &s,
            10091,
        ),
        (
            json!({"filter_subject": "s.a", "filter_subjects": ["s.b"]}),
            &s,
            10136,
        ),
        (json!({"filter_subject": "s..a"}), &s, 10052),
        (json!({"filter_subjects": [""]}), &s, 10139),
        (json!({"filter_subjects": ["s.*", "s.a"]}), &s, 10138),
        (json!({"opt_start_seq": 1}), &s, 10094),
        (json!({"deliver_policy": "by_start_time"}), &s, 10094),
        (json!({"deliver_policy": "last_per_subject"}), &s, 10094),
        (json!({"sample_freq": "x%"}), &s, 10095),
        (
            json!({"deliver_subject": "d", "flow_control": true}),
            &s,
            10108,
        ),
        (json!({"durable_name": "a", "name": "b"}), &s, 10132),
        (
            json!({"metadata": {"k": "v".repeat(128 * 1024)}}),
            &s,
            10135,
        ),
        (
            json!({"priority_policy": "overflow", "deliver_subject": "d"}),
            &s,
            10178,
        ),
        (json!({"priority_policy": "overflow"}), &s, 10159),
        (
            json!({"priority_policy": "overflow", "priority_groups": [""]}),
            &s,
            10161,
        ),
        (
            json!({"priority_policy": "overflow", "priority_groups": ["a b"]}),
            &s,
            10162,
        ),
        (json!({"priority_groups": ["g"]}), &s, 10196),
        (json!({"priority_timeout": 1}), &s, 10197),
    ];
    for (v, sc, code) in cases {
        let c = defaulted(v.clone(), sc);
        let e = check_config(&c, sc, &AccountLimits::default(), &ServerLimits::default())
            .expect_err(&format!("{v} should be refused"));
        assert_eq!(e.err_code(), code, "{v}: {e}");
    }
    let mut lim = stream("L", &[]);
    lim.consumer_limits.max_ack_pending = 5;
    lim.consumer_limits.inactive_threshold = 90 * S;
    let c = defaulted(
        json!({"ack_policy": "explicit", "max_ack_pending": 6}),
        &lim,
    );
    let e = check_config(
        &c,
        &lim,
        &AccountLimits::default(),
        &ServerLimits::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.description(),
        "consumer max ack pending exceeds system limit of 5"
    );
    let c = defaulted(json!({"inactive_threshold": 91 * S}), &lim);
    let e = check_config(
        &c,
        &lim,
        &AccountLimits::default(),
        &ServerLimits::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.description(),
        "consumer inactive threshold exceeds system limit of 1m30s"
    );
    let ok = defaulted(json!({"ack_policy": "explicit", "sample_freq": "50%"}), &s);
    assert!(check_config(&ok, &s, &AccountLimits::default(), &ServerLimits::default()).is_ok());
}

#[test]
fn updates_refuse_what_nats_server_refuses() {
    let s = stream("S", &["s.>"]);
    let old = defaulted(json!({"durable_name": "d", "ack_policy": "explicit"}), &s);
    let push = defaulted(json!({"durable_name": "p", "deliver_subject": "x"}), &s);
    let refused = [
        (
            &old,
            json!({"deliver_policy": "new"}),
            "deliver policy can not be updated",
        ),
        (
            &old,
            json!({"mem_storage": true}),
            "storage type can not be updated",
        ),
        (
            &old,
            json!({"ack_policy": "all"}),
            "ack policy can not be updated",
        ),
        (
            &old,
            json!({"replay_policy": "original"}),
            "replay policy can not be updated",
        ),
        (
            &old,
            json!({"deliver_subject": "x"}),
            "can not update pull consumer to push based",
        ),
        (
            &old,
            json!({"max_waiting": 3}),
            "max waiting can not be updated",
        ),
        (
            &push,
            json!({"deliver_subject": ""}),
            "can not update push consumer to pull based",
        ),
        (
            &push,
            json!({"idle_heartbeat": S}),
            "heart beats can not be updated",
        ),
        (
            &push,
            json!({"flow_control": true}),
            "flow control can not be updated",
        ),
    ];
    for (base, change, text) in refused {
        let mut v = serde_json::to_value(base).unwrap();
        for (k, x) in change.as_object().unwrap() {
            v[k] = x.clone();
        }
        let new = cfg(v);
        let e = check_update(base, &new, false).unwrap_err();
        assert_eq!((e.err_code(), e.description()), (10012, text.to_string()));
    }
    let mut moved = push.clone();
    moved.deliver_subject = "y".into();
    assert!(check_update(&push, &moved, false).is_ok());
    assert_eq!(
        check_update(&push, &moved, true).unwrap_err().err_code(),
        10013
    );
    let mut changed = old.clone();
    changed.max_ack_pending = 3;
    changed.description = "x".into();
    assert!(check_update(&old, &changed, false).is_ok());
}

#[test]
fn start_time_updates_compare_instants() {
    let a = GoTime::parse("2020-01-01T00:00:00.5+02:00").unwrap();
    let b = GoTime::parse("2019-12-31T22:00:00.5Z").unwrap();
    assert!(a.same_instant(&b));
    assert_eq!(a.format(), "2020-01-01T00:00:00.5+02:00");
    assert_eq!(b.format(), "2019-12-31T22:00:00.5Z");
    assert_eq!(GoTime::ZERO.format(), "0001-01-01T00:00:00Z");
    assert!(GoTime::parse("tomorrow").is_err());
    let s = stream("S", &[]);
    let old = defaulted(
        json!({"deliver_policy": "by_start_time", "opt_start_time": "2020-01-01T00:00:00.5+02:00"}),
        &s,
    );
    let mut new = old.clone();
    new.opt_start_time = Some(b);
    assert!(check_update(&old, &new, false).is_ok());
    new.opt_start_time = GoTime::parse("2021-01-01T00:00:00Z").ok();
    assert_eq!(
        check_update(&old, &new, false).unwrap_err().description(),
        "start time can not be updated"
    );
}

#[test]
fn work_queue_partitions_must_not_collide() {
    let s = stream("WQ", &["wq.>"]);
    let a = defaulted(json!({"filter_subject": "wq.a"}), &s);
    let all = defaulted(json!({}), &s);
    assert!(partition_unique(&["wq.b"], std::slice::from_ref(&a)));
    assert!(!partition_unique(&["wq.*"], std::slice::from_ref(&a)));
    assert!(!partition_unique(&["wq.b"], &[all]));
    assert!(partition_unique(&[], &[a]));
}

#[test]
fn group_names_follow_nats_server_pattern() {
    for ok in ["g", "A-z_0/9=", "sixteen_chars_ab"] {
        assert!(is_valid_group_name(ok), "{ok}");
    }
    for bad in ["", "a b", "seventeen_chars_x", "ü"] {
        assert!(!is_valid_group_name(bad), "{bad}");
    }
}

#[test]
fn policies_decode_like_go() {
    let c = cfg(json!({"deliver_policy": "undefined", "priority_policy": "none"}));
    assert_eq!(c.deliver_policy, DeliverPolicy::All);
    assert_eq!(c.priority_policy, PriorityPolicy::None);
    for (v, text) in [
        (json!({"ack_policy": null}), "can not unmarshal \"null\""),
        (json!({"ack_policy": 2}), "can not unmarshal \"2\""),
        (
            json!({"replay_policy": "x"}),
            "can not unmarshal \"\\\"x\\\"\"",
        ),
        (
            json!({"priority_policy": "x"}),
            "unknown priority policy: \"x\"",
        ),
    ] {
        let e = decode::<ConsumerConfig>(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.description(), format!("invalid JSON: {text}"), "{v}");
    }
    assert_eq!(
        cfg(json!({"ack_policy": "explicit"})).ack_policy,
        AckPolicy::Explicit
    );
}

#[test]
fn server_limits_cap_defaults_and_refuse_beyond_them() {
    let s = stream("S", &[]);
    let server = ServerLimits {
        max_ack_pending: 100,
        max_request_batch: 50,
    };
    let mut pull = cfg(json!({"ack_policy": "explicit"}));
    pull.set_defaults(&s, &AccountLimits::default(), &server, false)
        .unwrap();
    assert_eq!((pull.max_ack_pending, pull.max_batch), (100, 50));
    let mut push = cfg(json!({"deliver_subject": "d"}));
    push.set_defaults(&s, &AccountLimits::default(), &server, false)
        .unwrap();
    assert_eq!(push.max_batch, 0);
    let mut big = cfg(json!({"max_batch": 51, "ack_policy": "explicit", "max_ack_pending": 7}));
    big.set_defaults(&s, &AccountLimits::default(), &server, false)
        .unwrap();
    let e = check_config(&big, &s, &AccountLimits::default(), &server).unwrap_err();
    assert_eq!(
        e.description(),
        "consumer max request batch exceeds server limit of 50"
    );
    let mut pending = cfg(json!({"ack_policy": "explicit", "max_ack_pending": 101}));
    pending
        .set_defaults(&s, &AccountLimits::default(), &server, false)
        .unwrap();
    let e = check_config(&pending, &s, &AccountLimits::default(), &server).unwrap_err();
    assert_eq!(
        (e.err_code(), e.description().as_str()),
        (
            10121,
            "consumer max ack pending exceeds system limit of 100"
        )
    );
}
