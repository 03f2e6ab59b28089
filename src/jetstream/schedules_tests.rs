//! Message schedules over a memory stream with explicit time. The expected headers, codes and
//! order are what nats-server 2.15.1 stored and answered on the wire.

use super::*;
use crate::jetstream::consumers::tests::{at, fire, open, stream, T0_MS};
use crate::store::StoredMsg;

/// T0 (2027-01-15T08:00:00Z, a Friday) in Unix nanoseconds.
const T0_NS: i64 = (T0_MS * 1_000_000) as i64;
const S: i64 = 1_000_000_000;

fn ns(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

#[test]
fn at_every_and_cron_patterns_fire_when_nats_server_says() {
    let f = |p: &str, r: i64, now: i64| next_fire(p, None, r, now);
    assert_eq!(
        f("@at 2027-01-15T08:00:05Z", T0_NS, T0_NS),
        Ok(Some(Fire {
            at_ns: T0_NS + 5 * S,
            repeat: false
        }))
    );
    // A past `@at` is still due (it fires at once).
    assert_eq!(
        f("@at 2020-01-01T00:00:00Z", T0_NS, T0_NS)
            .unwrap()
            .unwrap()
            .at_ns,
        ns("2020-01-01T00:00:00Z")
    );
    // `@every`: the reference rounded to the second, plus the interval; skipped ahead past now.
    let every = |r, now| f("@every 2s", r, now).unwrap().unwrap();
    assert_eq!(every(T0_NS + S / 2, T0_NS).at_ns, T0_NS + 3 * S);
    assert_eq!(every(T0_NS + S / 2 - 1, T0_NS).at_ns, T0_NS + 2 * S);
    assert_eq!(every(T0_NS, T0_NS + 10 * S + 1).at_ns, T0_NS + 12 * S);
    assert!(every(T0_NS, T0_NS).repeat);
    // Cron: strictly after the reference second.
    assert_eq!(
        f("0 0 0 1 1 *", T0_NS, T0_NS).unwrap().unwrap().at_ns,
        ns("2028-01-01T00:00:00Z")
    );
    assert_eq!(
        f("@hourly", T0_NS, T0_NS).unwrap().unwrap().at_ns,
        T0_NS + 3600 * S
    );
    assert_eq!(
        f("*/15 * * * * *", T0_NS, T0_NS).unwrap().unwrap().at_ns,
        T0_NS + 15 * S
    );
    // Day of month OR day of week when neither is a star: the 20th or the next Monday.
    assert_eq!(
        f("0 30 9 20 * mon", T0_NS, T0_NS).unwrap().unwrap().at_ns,
        ns("2027-01-18T09:30:00Z")
    );
    // ... so this one is today, a Friday; both must match when one is a star.
    assert_eq!(
        f("0 0 12 13 * FRI", T0_NS, T0_NS).unwrap().unwrap().at_ns,
        ns("2027-01-15T12:00:00Z")
    );
    assert_eq!(
        f("0 0 12 13 * ?", T0_NS, T0_NS).unwrap().unwrap().at_ns,
        ns("2027-02-13T12:00:00Z")
    );
    assert_eq!(
        f("0 0 0 1 jan-mar/2 ?", T0_NS, T0_NS)
            .unwrap()
            .unwrap()
            .at_ns,
        ns("2027-03-01T00:00:00Z")
    );
    // A repeating cron past `now` skips ahead and fires once.
    assert_eq!(
        f("0 * * * * *", T0_NS - 3600 * S, T0_NS)
            .unwrap()
            .unwrap()
            .at_ns,
        T0_NS + 60 * S
    );
    assert_eq!(f("", T0_NS, T0_NS), Ok(None));
}

#[test]
fn bad_patterns_and_zones_get_nats_servers_errors() {
    use ScheduleError::*;
    let f = |p: &str, tz| next_fire(p, tz, T0_NS, T0_NS);
    for p in [
        "@at nope",
        "@at 2027-01-15",
        "@every 500ms",
        "@every x",
        "0 0 1 1 *",
        "60 * * * * *",
        "* * * 0 * *",
        "* * * * 13 *",
        "* * * * * 7",
        "5-1 * * * * *",
        "*/0 * * * * *",
        "a * * * * *",
        "0 0 0 30 2 *",
        "@reboot",
    ] {
        assert_eq!(f(p, None), Err(PatternInvalid), "{p}");
    }
    // Only cron is valid with a zone; natrix knows UTC only.
    assert_eq!(f("@every 1s", Some("UTC")), Err(PatternInvalid));
    assert_eq!(
        f("0 0 * * * *", Some("UTC")).unwrap().unwrap().at_ns,
        T0_NS + 3600 * S
    );
    assert_eq!(f("0 0 * * * *", Some("")), Err(TimeZoneInvalid));
    assert_eq!(f("0 0 * * * *", Some("Nowhere/X")), Err(TimeZoneInvalid));
    assert_eq!(f("", Some("")), Err(TimeZoneInvalid));
}

fn config(json: &str) -> StreamConfig {
    serde_json::from_str(json).unwrap()
}

fn checked(cfg: &StreamConfig, subject: &str, hdr: &str) -> Result<Checked, u16> {
    let h = Headers::parse(hdr.as_bytes()).unwrap();
    check(cfg, subject, &h, T0_NS).map_err(|e| e.err_code())
}

fn hdr(lines: &[(&str, &str)]) -> String {
    let mut h = "NATS/1.0\r\n".to_string();
    for (k, v) in lines {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h + "\r\n"
}

#[test]
fn the_publish_checks_refuse_what_nats_server_refuses() {
    let cfg = config(
        r#"{"name":"S","subjects":["s.>","mon.>"],"allow_msg_schedules":true,
            "allow_rollup_hdrs":true}"#,
    );
    let every = ("Nats-Schedule", "@every 1s");
    let ok = checked(
        &cfg,
        "s.a",
        &hdr(&[every, ("Nats-Schedule-Target", "mon.a")]),
    );
    assert_eq!(
        ok,
        Ok(Checked {
            present: true,
            add_rollup_sub: true,
            purge_of: None
        })
    );
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("Nats-Schedule", "@every 500ms")], 10189),
        (&[every], 10190),
        (&[every, ("Nats-Schedule-Target", "s.a")], 10190),
        (&[every, ("Nats-Schedule-Target", "other.x")], 10190),
        (&[every, ("Nats-Schedule-Target", "mon.*")], 10190),
        (
            &[
                every,
                ("Nats-Schedule-Target", "mon.a"),
                ("Nats-Schedule-TTL", "abc"),
            ],
            10191,
        ),
        // A TTL on a stream without TTLs.
        (
            &[
                every,
                ("Nats-Schedule-Target", "mon.a"),
                ("Nats-Schedule-TTL", "5s"),
            ],
            10166,
        ),
        (
            &[
                every,
                ("Nats-Schedule-Target", "mon.a"),
                ("Nats-Schedule-Rollup", "all"),
            ],
            10192,
        ),
        (
            &[
                every,
                ("Nats-Schedule-Target", "mon.a"),
                ("Nats-Rollup", "all"),
            ],
            10192,
        ),
        (
            &[
                every,
                ("Nats-Schedule-Target", "mon.a"),
                ("Nats-Schedule-Source", "s.a"),
            ],
            10203,
        ),
        (
            &[
                every,
                ("Nats-Schedule-Target", "mon.a"),
                ("Nats-Schedule-Source", "x.y"),
            ],
            10203,
        ),
        (&[("Nats-Scheduler", "s.b")], 10212),
        (
            &[
                ("Nats-Schedule-Next", "2027-01-01T00:00:00Z"),
                ("Nats-Scheduler", "s.b"),
            ],
            10212,
        ),
        (&[("Nats-Schedule-Next", "purge")], 10212),
        (
            &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "s.a")],
            10212,
        ),
        (&[("Nats-Schedule-Time-Zone", "")], 10223),
    ];
    for (lines, code) in cases {
        assert_eq!(checked(&cfg, "s.a", &hdr(lines)), Err(*code), "{lines:?}");
    }
    assert_eq!(
        checked(
            &cfg,
            "s.a",
            &hdr(&[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "s.b")])
        ),
        Ok(Checked {
            present: true,
            add_rollup_sub: false,
            purge_of: Some("s.b".into())
        })
    );
    // An empty schedule is none; other headers are not looked at.
    assert_eq!(
        checked(&cfg, "s.a", &hdr(&[("Nats-Schedule", "")])),
        Ok(Checked {
            present: true,
            ..Checked::default()
        })
    );
    assert_eq!(
        checked(&cfg, "s.a", &hdr(&[("Nats-Msg-Id", "1")])),
        Ok(Checked::default())
    );
    // Without `allow_msg_schedules` every schedule header is 10188, even a bad one.
    let plain = config(r#"{"name":"P","subjects":["s.>","mon.>"]}"#);
    for lines in [
        &[every, ("Nats-Schedule-Target", "mon.a")][..],
        &[("Nats-Schedule", "bad")],
        &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "s.b")],
    ] {
        assert_eq!(checked(&plain, "s.a", &hdr(lines)), Err(10188), "{lines:?}");
    }
}

#[test]
fn the_produced_message_keeps_the_other_headers_then_adds_nats_servers_four() {
    let base = hdr(&[
        ("Nats-Schedule", "@every 1s"),
        ("Nats-Schedule-Target", "mon.b"),
        ("Foo", "bar"),
        ("Nats-Msg-Id", "x1"),
        ("Nats-Expected-Stream", "S"),
        ("Nats-TTL", "9s"),
        ("Nats-Scheduler", "s.z"),
        ("Nats-Rollup", "sub"),
        ("Nats-Msg-Id-Extra", "kept"),
    ]);
    let next = ns("2027-01-15T08:00:02Z");
    assert_eq!(
        String::from_utf8(produced_headers(
            base.as_bytes(),
            "s.b",
            Some(next),
            Some("5s"),
            Some("sub")
        ))
        .unwrap(),
        "NATS/1.0\r\nFoo: bar\r\nNats-Msg-Id-Extra: kept\r\nNats-Scheduler: s.b\r\n\
         Nats-Schedule-Next: 2027-01-15T08:00:02Z\r\nNats-TTL: 5s\r\nNats-Rollup: sub\r\n\r\n"
    );
    assert_eq!(
        produced_headers(b"", "s.a", None, None, None),
        b"NATS/1.0\r\nNats-Scheduler: s.a\r\nNats-Schedule-Next: purge\r\n\r\n"
    );
    assert_eq!(
        with_rollup_sub(b"NATS/1.0\r\nA: b\r\n\r\n"),
        b"NATS/1.0\r\nA: b\r\nNats-Rollup: sub\r\n\r\n"
    );
}

/// The live messages of stream `name`: (seq, subject, headers, payload).
fn live(a: &AccountStreams, name: &str) -> Vec<(u64, String, String, String)> {
    let mut log = a.streams[name].log.borrow_mut();
    let mut from = 1;
    let mut out = Vec::new();
    while let Ok(Some(StoredMsg {
        seq,
        subject,
        headers,
        payload,
        ..
    })) = log.next_by_subject(from, b">")
    {
        from = seq + 1;
        out.push((
            seq,
            String::from_utf8(subject).unwrap(),
            String::from_utf8(headers).unwrap(),
            String::from_utf8(payload).unwrap(),
        ));
    }
    out
}

fn put(a: &mut AccountStreams, subj: &str, hdr: &str, payload: &str, ms: u64) -> String {
    let o = a
        .publish("S", subj, hdr.as_bytes(), payload.as_bytes(), at(ms).ns)
        .unwrap();
    a.commit();
    String::from_utf8(o.ack).unwrap()
}

const SCHEDULES: &str = r#"{"name":"S","subjects":["s.>","mon.>"],"storage":"memory",
    "allow_msg_schedules":true,"allow_msg_ttl":true}"#;

#[test]
fn an_at_schedule_stores_its_message_on_the_target_and_is_purged() {
    let mut a = open(None);
    stream(&mut a, SCHEDULES);
    let h = hdr(&[
        ("Nats-Schedule", "@at 2027-01-15T08:00:02Z"),
        ("Nats-Schedule-Target", "mon.a"),
        ("Foo", "bar"),
    ]);
    assert_eq!(
        put(&mut a, "s.a", &h, "hello", 0),
        r#"{"stream":"S","seq":1}"#
    );
    let stored = live(&a, "S");
    assert_eq!(stored.len(), 1);
    assert!(stored[0]
        .2
        .ends_with("Foo: bar\r\nNats-Rollup: sub\r\n\r\n"));
    fire(&mut a, 1_999);
    assert_eq!(live(&a, "S").len(), 1, "not due yet");
    fire(&mut a, 2_000);
    assert_eq!(
        live(&a, "S"),
        [(
            2,
            "mon.a".into(),
            "NATS/1.0\r\nFoo: bar\r\nNats-Scheduler: s.a\r\nNats-Schedule-Next: purge\r\n\r\n"
                .into(),
            "hello".into()
        )]
    );
}

#[test]
fn an_every_schedule_repeats_until_a_message_replaces_it() {
    let mut a = open(None);
    stream(&mut a, SCHEDULES);
    let h = hdr(&[
        ("Nats-Schedule", "@every 1s"),
        ("Nats-Schedule-Target", "mon.b"),
        ("Nats-Schedule-TTL", "5s"),
    ]);
    put(&mut a, "s.b", &h, "tick", 0);
    for ms in [1_000, 2_000, 3_000] {
        fire(&mut a, ms);
    }
    let got = live(&a, "S");
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(
        got[3].2,
        "NATS/1.0\r\nNats-Scheduler: s.b\r\nNats-Schedule-Next: 2027-01-15T08:00:04Z\r\n\
         Nats-TTL: 5s\r\n\r\n"
    );
    // A plain message on the schedule's subject ends it.
    put(&mut a, "s.b", "", "stop", 3_500);
    fire(&mut a, 4_000);
    fire(&mut a, 5_000);
    let got = live(&a, "S");
    assert_eq!(got.len(), 5, "no more ticks: {got:?}");
}

#[test]
fn a_source_gives_the_payload_and_schedules_come_back_after_a_restart() {
    let dir = crate::test_dir::TempDir::new("schedules");
    {
        let mut a = open(Some(dir.0.clone()));
        stream(&mut a, &SCHEDULES.replace(r#""storage":"memory","#, ""));
        put(&mut a, "s.src", &hdr(&[("Src", "1")]), "source data", 0);
        let h = hdr(&[
            ("Nats-Schedule", "@at 2027-01-15T08:00:03Z"),
            ("Nats-Schedule-Target", "mon.h"),
            ("Nats-Schedule-Source", "s.src"),
        ]);
        put(&mut a, "s.h", &h, "own", 0);
        let h = hdr(&[
            ("Nats-Schedule", "@every 10s"),
            ("Nats-Schedule-Target", "mon.e"),
        ]);
        put(&mut a, "s.e", &h, "e", 0);
        fire(&mut a, 10_000);
        a.commit();
        assert_eq!(live(&a, "S").len(), 4, "the @at and one tick fired");
    }
    // Reopened after the @at was due and fired, and with the tick's next time stored.
    let mut a = open(Some(dir.0.clone()));
    a.restore_expiry("S", at(15_000));
    let got = live(&a, "S");
    let h = got.iter().find(|m| m.1 == "mon.h").unwrap();
    assert_eq!(
        (&h.2[..], &h.3[..]),
        (
            "NATS/1.0\r\nSrc: 1\r\nNats-Scheduler: s.h\r\nNats-Schedule-Next: purge\r\n\r\n",
            "source data"
        )
    );
    assert!(
        !got.iter().any(|m| m.1 == "s.h"),
        "the @at schedule is gone"
    );
    fire(&mut a, 19_999);
    assert_eq!(
        live(&a, "S").len(),
        got.len(),
        "resumes at the stored next time"
    );
    fire(&mut a, 20_000);
    assert_eq!(live(&a, "S").len(), got.len() + 1);
}

#[test]
fn a_schedule_due_while_down_fires_at_start() {
    let dir = crate::test_dir::TempDir::new("schedules-down");
    {
        let mut a = open(Some(dir.0.clone()));
        stream(&mut a, &SCHEDULES.replace(r#""storage":"memory","#, ""));
        let h = hdr(&[
            ("Nats-Schedule", "@at 2027-01-15T08:00:01Z"),
            ("Nats-Schedule-Target", "mon.a"),
        ]);
        put(&mut a, "s.a", &h, "late", 0);
    }
    let mut a = open(Some(dir.0.clone()));
    a.restore_expiry("S", at(60_000));
    fire(&mut a, 60_000);
    let got = live(&a, "S");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((&got[0].1[..], &got[0].3[..]), ("mon.a", "late"));
}
