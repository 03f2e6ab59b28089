//! `subject_transform` and `republish` over real (memory) streams, driven with explicit time,
//! and the config checks against what nats-server 2.15.1 answered for the same configs.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::jetstream::api::backend::{MsgQuery, StreamBackend};
use crate::jetstream::api::validate::normalize;
use crate::jetstream::api::ApiEnv;
use crate::jetstream::streams::AccountStreams;
use crate::wheel::Wheel;

/// 2026-12-07T12:42:22.3337Z: the trailing zeros of the nanoseconds are trimmed, as Go does.
const T0: UnixNanos = 1_796_647_342_333_700_000;

fn open() -> AccountStreams {
    let wheel = Rc::new(RefCell::new(Wheel::new(0)));
    let mut a = AccountStreams::open(None, false, ApiEnv::new("2.15.1", 0), 0, wheel);
    a.start_sourcing(T0);
    a
}

fn api(a: &mut AccountStreams, subject: &str, body: &str) -> serde_json::Value {
    crate::jetstream::test_api::request(a, subject, body, T0)
}

fn create(a: &mut AccountStreams, config: &str) -> serde_json::Value {
    crate::jetstream::test_api::create(a, config, T0)
}

/// Publishes and returns the ack's JSON.
fn publish(a: &mut AccountStreams, subject: &str, hdr: &[u8], data: &str) -> serde_json::Value {
    let name = a.capture(subject.as_bytes()).expect("captured").to_string();
    let out = a.publish(&name, subject, hdr, data.as_bytes(), T0).unwrap();
    assert!(a.commit());
    serde_json::from_slice(&out.ack).unwrap()
}

/// What was queued for republishing, as (subject, headers, payload) text, taken.
fn taken(a: &mut AccountStreams) -> Vec<(String, String, String)> {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    a.republished
        .drain(..)
        .map(|r| (s(&r.subject), s(&r.headers), s(&r.payload)))
        .collect()
}

fn block(lines: &[&str]) -> String {
    let mut out = String::from("NATS/1.0\r\n");
    for l in lines {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out + "\r\n"
}

#[test]
fn a_stored_message_is_republished_with_nats_servers_headers_in_order() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"republish":{"src":">","dest":"rp.>"},"storage":"memory"}"#,
    );
    publish(&mut a, "s.a", b"", "hi");
    publish(&mut a, "s.a", b"NATS/1.0\r\nX-A: 1\r\n\r\n", "hi");
    publish(&mut a, "s.b", b"", "");
    let t = "Nats-Time-Stamp: 2026-12-07T12:42:22.3337Z";
    assert_eq!(
        taken(&mut a),
        [
            (
                "rp.s.a".into(),
                block(&[
                    "Nats-Stream: S",
                    "Nats-Subject: s.a",
                    "Nats-Sequence: 1",
                    t,
                    "Nats-Last-Sequence: 0"
                ]),
                "hi".into()
            ),
            (
                "rp.s.a".into(),
                block(&[
                    "X-A: 1",
                    "Nats-Stream: S",
                    "Nats-Subject: s.a",
                    "Nats-Sequence: 2",
                    t,
                    "Nats-Last-Sequence: 1"
                ]),
                "hi".into()
            ),
            (
                "rp.s.b".into(),
                block(&[
                    "Nats-Stream: S",
                    "Nats-Subject: s.b",
                    "Nats-Sequence: 3",
                    t,
                    "Nats-Last-Sequence: 0"
                ]),
                String::new()
            ),
        ]
    );
}

#[test]
fn headers_only_sends_the_size_instead_of_the_payload_and_the_source_filters() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"storage":"memory",
            "republish":{"src":"s.a","dest":"rp2","headers_only":true}}"#,
    );
    publish(&mut a, "s.a", b"", "hello");
    publish(&mut a, "s.b", b"", "not republished");
    let got = taken(&mut a);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "rp2");
    assert!(
        got[0]
            .1
            .ends_with("Nats-Last-Sequence: 0\r\nNats-Msg-Size: 5\r\n\r\n"),
        "{:?}",
        got[0].1
    );
    assert_eq!(got[0].2, "");
}

#[test]
fn refused_and_duplicate_publishes_are_not_republished() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"republish":{"dest":"rp.>"},"storage":"memory"}"#,
    );
    let id = b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";
    publish(&mut a, "s.a", id, "1");
    let dup = publish(&mut a, "s.a", id, "1");
    assert_eq!(dup["duplicate"], true, "{dup}");
    let refused = publish(
        &mut a,
        "s.a",
        b"NATS/1.0\r\nNats-Expected-Last-Sequence: 7\r\n\r\n",
        "2",
    );
    assert_eq!(refused["error"]["err_code"], 10071, "{refused}");
    let got = taken(&mut a);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].1.contains("Nats-Sequence: 1\r\n"), "{got:?}");
}

#[test]
fn a_republish_target_that_is_no_publish_subject_is_dropped() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"republish":{"src":"s.a","dest":"rp b"},"storage":"memory"}"#,
    );
    publish(&mut a, "s.a", b"", "x");
    assert!(taken(&mut a).is_empty());
}

#[test]
fn the_transform_renames_before_storing_and_expectations_see_the_new_subject() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"T","subjects":["s.>","u.*"],"storage":"memory",
            "subject_transform":{"src":"s.*","dest":"t.$1"},
            "republish":{"src":"t.*","dest":"rp.$1"}}"#,
    );
    publish(&mut a, "s.a", b"", "1");
    publish(&mut a, "s.a.b", b"", "2");
    publish(&mut a, "u.a", b"", "3");
    let ack = publish(
        &mut a,
        "s.a",
        b"NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 1\r\n\r\n",
        "4",
    );
    assert_eq!(ack["seq"], 4, "{ack}");
    let subjects: Vec<String> = (1..=4)
        .map(|seq| a.get_msg("T", &MsgQuery::Seq(seq)).unwrap().subject)
        .collect();
    assert_eq!(subjects, ["t.a", "s.a.b", "u.a", "t.a"]);
    let got = taken(&mut a);
    let seen: Vec<(&str, bool)> = got
        .iter()
        .map(|(s, h, _)| (s.as_str(), h.contains("Nats-Subject: t.a\r\n")))
        .collect();
    assert_eq!(seen, [("rp.a", true), ("rp.a", true)]);
    assert!(got[1].1.contains("Nats-Last-Sequence: 1\r\n"), "{got:?}");
}

#[test]
fn copies_into_a_mirror_and_a_source_are_transformed_and_republished() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"O","subjects":["o.>"],"storage":"memory"}"#,
    );
    publish(&mut a, "o.x", b"", "before");
    create(
        &mut a,
        r#"{"name":"M","mirror":{"name":"O"},"storage":"memory",
            "republish":{"src":">","dest":"mrp.>"},"subject_transform":{"src":"o.>","dest":"m.>"}}"#,
    );
    create(
        &mut a,
        r#"{"name":"SR","sources":[{"name":"O"}],"storage":"memory",
            "republish":{"src":">","dest":"srp.>"},"subject_transform":{"src":"o.>","dest":"sr.>"}}"#,
    );
    publish(&mut a, "o.x", b"", "after");
    assert_eq!(a.get_msg("M", &MsgQuery::Seq(2)).unwrap().subject, "m.x");
    assert_eq!(a.get_msg("SR", &MsgQuery::Seq(2)).unwrap().subject, "sr.x");
    let got = taken(&mut a);
    let subjects: Vec<&str> = got.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(subjects, ["mrp.m.x", "srp.sr.x", "mrp.m.x", "srp.sr.x"]);
    // A source's copy keeps its Nats-Stream-Source line first, as stored.
    assert!(
        got[3]
            .1
            .starts_with("NATS/1.0\r\nNats-Stream-Source: O 2 > > o.x "),
        "{got:?}"
    );
    assert!(got[3].1.contains("Nats-Last-Sequence: 1\r\n"), "{got:?}");
    assert_eq!(got[3].2, "after");
}

#[test]
fn an_update_turns_republish_on_changes_it_and_off() {
    let mut a = open();
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"storage":"memory"}"#,
    );
    publish(&mut a, "s.a", b"", "1");
    assert!(taken(&mut a).is_empty());
    let set = |a: &mut AccountStreams, rp: &str| {
        let body = format!(r#"{{"name":"S","subjects":["s.>"],"storage":"memory"{rp}}}"#);
        let r = api(a, "$JS.API.STREAM.UPDATE.S", &body);
        assert!(r.get("error").is_none(), "{r}");
    };
    set(&mut a, r#","republish":{"dest":"one.>"}"#);
    publish(&mut a, "s.a", b"", "2");
    set(&mut a, r#","republish":{"dest":"two.>"}"#);
    publish(&mut a, "s.a", b"", "3");
    set(&mut a, "");
    publish(&mut a, "s.a", b"", "4");
    let subjects: Vec<String> = taken(&mut a).into_iter().map(|m| m.0).collect();
    assert_eq!(subjects, ["one.s.a", "two.s.a"]);
}

/// Each config as nats-server 2.15.1 answered it at CREATE: `Ok(republish, transform)` as
/// echoed, or `Err((err_code, description))`.
type Expect = Result<(&'static str, &'static str), (u16, &'static str)>;

#[test]
fn config_checks_answer_as_nats_server_does() {
    let bad_rp = |d| Err((10052, d));
    let cases: &[(&str, Expect)] = &[
        (r#""republish":{"src":">","dest":""}"#, Ok((r#"{"src":">","dest":""}"#, ""))),
        (r#""republish":{"dest":"rp.>"}"#, Ok((r#"{"src":">","dest":"rp.>"}"#, ""))),
        (r#""republish":{}"#, Ok((r#"{"src":">","dest":""}"#, ""))),
        (
            r#""republish":{"src":"s.*","dest":"rp.{{wildcard(1)}}"}"#,
            Ok((r#"{"src":"s.*","dest":"rp.{{wildcard(1)}}"}"#, "")),
        ),
        (
            r#""republish":{"src":"s.*","dest":"rp.{{wildcard(2)}}"}"#,
            bad_rp("stream configuration for republish with transform from 's.*' to 'rp.{{wildcard(2)}}' not valid"),
        ),
        (
            r#""republish":{"src":"s..a","dest":"rp"}"#,
            bad_rp("stream configuration for republish with transform from 's..a' to 'rp' not valid"),
        ),
        (
            r#""republish":{"src":"s.a","dest":"rp.*"}"#,
            bad_rp("stream configuration for republish with transform from 's.a' to 'rp.*' not valid"),
        ),
        (
            r#""republish":{"src":"s.a","dest":"s.b"}"#,
            bad_rp("stream configuration for republish destination forms a cycle"),
        ),
        (
            r#""republish":{"src":">","dest":">"}"#,
            bad_rp("stream configuration for republish destination forms a cycle"),
        ),
        (
            r#""republish":{"src":">","dest":">"},"subject_transform":{"src":"s.>","dest":"t.>"}"#,
            Ok((r#"{"src":"t.>","dest":"t.>"}"#, r#"{"src":"s.>","dest":"t.>"}"#)),
        ),
        (
            r#""republish":{"src":">","dest":">"},"subject_transform":{"src":"s.>","dest":"s.x.>"}"#,
            bad_rp("stream configuration for republish destination forms a cycle"),
        ),
        (
            r#""republish":{"src":"x.y","dest":"rp.y"}"#,
            Ok((r#"{"src":"x.y","dest":"rp.y"}"#, "")),
        ),
        // nats-server checks a republish with `NewSubjectTransform` alone: white space passes.
        (
            r#""republish":{"src":"s.a b","dest":"rp"}"#,
            Ok((r#"{"src":"s.a b","dest":"rp"}"#, "")),
        ),
        (
            r#""republish":{"src":"s.a","dest":"rp b"}"#,
            Ok((r#"{"src":"s.a","dest":"rp b"}"#, "")),
        ),
        (r#""subject_transform":{}"#, Ok(("", r#"{"src":"","dest":""}"#))),
        (
            r#""subject_transform":{"src":"s.*","dest":""}"#,
            Ok(("", r#"{"src":"s.*","dest":""}"#)),
        ),
        (
            r#""subject_transform":{"dest":"t.>"}"#,
            Ok(("", r#"{"src":"","dest":"t.>"}"#)),
        ),
        (
            r#""subject_transform":{"src":"s..*","dest":"t"}"#,
            Err((10155, "stream transform source: invalid subject s..*")),
        ),
        (
            r#""subject_transform":{"src":"s.*","dest":"t.$2"}"#,
            Err((
                10156,
                "stream transform: invalid mapping destination: wildcard index out of range in $2: [2]",
            )),
        ),
        (
            r#""subject_transform":{"src":"s.*","dest":"t.*"}"#,
            Err((10156, "stream transform: invalid subject")),
        ),
        (
            r#""subject_transform":{"src":"s.*","dest":"t.>"}"#,
            Err((10156, "stream transform: invalid subject")),
        ),
        (
            r#""subject_transform":{"src":"s.*","dest":"t..a"}"#,
            Err((
                10156,
                "stream transform: invalid mapping destination: invalid transform",
            )),
        ),
        (
            r#""subject_transform":{"src":"s.*","dest":"t a"}"#,
            Err((
                10156,
                "stream transform: invalid mapping destination: invalid transform",
            )),
        ),
        (
            r#""subject_transform":{"src":"x.*","dest":"x.a.$1"}"#,
            Ok(("", r#"{"src":"x.*","dest":"x.a.$1"}"#)),
        ),
    ];
    for (extra, want) in cases {
        let body = format!(r#"{{"name":"S","subjects":["s.>"],{extra}}}"#);
        let cfg: crate::jetstream::api::StreamConfig = serde_json::from_str(&body).unwrap();
        let got = normalize(&cfg, false).map(|c| {
            let j = |v: Option<String>| v.unwrap_or_default();
            (
                j(c.republish.map(|r| serde_json::to_string(&r).unwrap())),
                j(c.subject_transform
                    .map(|t| serde_json::to_string(&t).unwrap())),
            )
        });
        match (got, want) {
            (Ok(got), Ok((rp, tr))) => assert_eq!(got, (rp.to_string(), tr.to_string()), "{extra}"),
            (Err(e), Err((code, desc))) => {
                assert_eq!(
                    (e.err_code(), e.description().as_str()),
                    (*code, *desc),
                    "{extra}"
                )
            }
            (got, want) => panic!("{extra}: got {got:?}, nats-server: {want:?}"),
        }
    }
}

#[test]
fn pedantic_mode_refuses_what_nats_server_would_fill_in() {
    let cfg = |extra: &str| -> crate::jetstream::api::StreamConfig {
        serde_json::from_str(&format!(r#"{{"name":"P","subjects":["s.>"],{extra}}}"#)).unwrap()
    };
    let e = normalize(&cfg(r#""republish":{"dest":"rp.>"}"#), true).unwrap_err();
    assert_eq!(
        (e.err_code(), e.description()),
        (
            10157,
            "pedantic mode: republish source can not be empty".to_string()
        )
    );
    let e = normalize(
        &cfg(
            r#""republish":{"src":">","dest":">"},"subject_transform":{"src":"s.>","dest":"t.>"}"#,
        ),
        true,
    )
    .unwrap_err();
    assert_eq!(
        (e.err_code(), e.description()),
        (
            10157,
            "pedantic mode: implicit republish based on subject transform".to_string()
        )
    );
}

#[test]
fn a_reopened_stream_keeps_its_transform_and_republish() {
    let dir = crate::test_dir::TempDir::new("republish-reopen");
    let reopen = || {
        let wheel = Rc::new(RefCell::new(Wheel::new(0)));
        let env = ApiEnv::new("2.15.1", 0);
        AccountStreams::open(Some(dir.0.clone()), false, env, 0, wheel)
    };
    let mut a = reopen();
    create(
        &mut a,
        r#"{"name":"S","subjects":["s.>"],"subject_transform":{"src":"s.*","dest":"t.$1"},
            "republish":{"src":"t.*","dest":"rp.$1"}}"#,
    );
    publish(&mut a, "s.a", b"", "1");
    drop(a);
    let mut a = reopen();
    publish(&mut a, "s.a", b"", "2");
    let got = taken(&mut a);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "rp.a");
    assert!(
        got[0]
            .1
            .contains("Nats-Subject: t.a\r\nNats-Sequence: 2\r\n"),
        "{got:?}"
    );
    assert!(got[0].1.contains("Nats-Last-Sequence: 1\r\n"), "{got:?}");
}
