//! Message schedules (`allow_msg_schedules`, `Nats-Schedule`, nats-server 2.12+) on the wire,
//! natrix against nats-server 2.15.1 in one run: the publish refusals (10188 to 10223, 10166),
//! what a schedule is stored as (`Nats-Rollup: sub` added), what `@at`, `@every` and a
//! `Nats-Schedule-Source` store on their targets (headers, payload) and that a fired `@at`
//! and a client's `Nats-Schedule-Next: purge` remove the schedule. Then schedules after a
//! SIGKILL: one due while the server was down fires at start, a repeating one goes on.
//!
//! The differential test runs nats-server too (`NATRIX_NATS_SERVER` or `.venv/bin`); the
//! SIGKILL test runs on nats-server with `NATRIX_TEST_AGAINST_REFERENCE=1`. Waits are bounded:
//! the schedules are due within about a second.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Value};

use common::procs::{eventually, send_signal, Server, TempDir};
use common::requests::Requester;

const FRAME_MAX: Duration = Duration::from_secs(5);
/// How long a schedule due in about a second may take to be stored (nats-server's timer
/// fires at least 250 ms after it is armed).
const FIRED_MAX: Duration = Duration::from_secs(6);

struct Wire {
    io: Requester,
    seen: Vec<String>,
}

impl Wire {
    fn open(server: &Server) -> Wire {
        Wire {
            io: Requester::open(&server.addr(), FRAME_MAX),
            seen: Vec::new(),
        }
    }

    fn request(&mut self, subject: &str, headers: &[(&str, &str)], payload: &[u8]) -> String {
        self.io.request(subject, headers, payload)
    }

    /// One message of pull consumer `consumer` on `stream`: its subject, headers, payload.
    fn fetch(&mut self, stream: &str, consumer: &str) -> String {
        let req = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}");
        let body = br#"{"batch":1,"expires":5000000000}"#;
        self.io.sock.send(
            format!(
                "PUB {req} _IN.fetch {}\r\n{}\r\n",
                body.len(),
                std::str::from_utf8(body).unwrap()
            )
            .as_bytes(),
        );
        let (subject, hdr, body) = self.io.next_msg();
        assert!(hdr > 0, "a stored message has headers: {subject}");
        let text = String::from_utf8_lossy(&body);
        format!("{subject} {:?} {:?}", &text[..hdr], &text[hdr..])
    }

    fn api(&mut self, subject: &str, body: Value) -> Value {
        let r = self.request(subject, &[], body.to_string().as_bytes());
        serde_json::from_str(&r).expect("API replies are JSON")
    }

    /// A publish; notes its ack (the sequence left out: an `@every` tick may come between).
    fn publish(&mut self, label: &str, subject: &str, headers: &[(&str, &str)], payload: &[u8]) {
        let ack = self.request(subject, headers, payload);
        let ack: Value = serde_json::from_str(&ack).expect("a JSON ack");
        let got = match ack.get("error") {
            Some(e) => e.to_string(),
            None => format!("stored in {}", ack["stream"]),
        };
        self.seen.push(format!("{label}: {got}"));
    }

    /// A stream create or update; notes `ok` or the error.
    fn config(&mut self, label: &str, op: &str, cfg: Value) {
        let name = cfg["name"].as_str().unwrap().to_string();
        let r = self.api(&format!("$JS.API.STREAM.{op}.{name}"), cfg);
        let got = r.get("error").map_or("ok".to_string(), Value::to_string);
        self.seen.push(format!("{label}: {got}"));
    }

    /// The last message on `subject` in `stream`: subject, headers (times cut), payload; None
    /// if there is none.
    fn last(&mut self, stream: &str, subject: &str) -> Option<String> {
        let r = self.api(
            &format!("$JS.API.STREAM.MSG.GET.{stream}"),
            json!({ "last_by_subj": subject }),
        );
        let m = r.get("message")?;
        let b64 = |k: &str| {
            let text = m[k].as_str().unwrap_or("");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64");
            String::from_utf8(raw).unwrap()
        };
        let times = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
        let hdrs = times.replace_all(&b64("hdrs"), "<time>").into_owned();
        Some(format!("{} {:?} {:?}", m["subject"], hdrs, b64("data")))
    }

    /// Notes the last message on `subject`, or that there is none.
    fn note_last(&mut self, stream: &str, subject: &str) {
        let got = self.last(stream, subject).unwrap_or_else(|| "none".into());
        self.seen.push(format!("last {subject}: {got}"));
    }

    /// Waits until `subject` has a message.
    fn wait_for(&mut self, stream: &str, subject: &str) {
        let got = eventually(FIRED_MAX, || self.last(stream, subject));
        assert!(got.is_some(), "a message on {subject}");
    }

    fn msgs(&mut self, stream: &str, subject: &str) -> u64 {
        let r = self.api(
            &format!("$JS.API.STREAM.INFO.{stream}"),
            json!({ "subjects_filter": subject }),
        );
        r["state"]["subjects"][subject].as_u64().unwrap_or(0)
    }
}

/// `now + secs`, whole seconds, as RFC 3339 (what a client puts after `@at`).
fn at_in(secs: u64) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs;
    let d = chrono::DateTime::from_timestamp(t as i64, 0).unwrap();
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn schedules_stream() -> Value {
    json!({"name": "S", "subjects": ["s.>", "mon.>"], "allow_msg_schedules": true,
           "allow_msg_ttl": true})
}

/// The scenario; returns what it saw.
fn play(reference: bool) -> Vec<String> {
    let dir = TempDir::new("schedules");
    let server = Server::start_jetstream_on(reference, &dir.path);
    let mut w = Wire::open(&server);
    w.config("create S", "CREATE", schedules_stream());
    // A source with roll-ups purges a fired schedule's copy as its origin did.
    w.config(
        "create DR",
        "CREATE",
        json!({"name": "DR", "sources": [{"name": "S"}], "allow_rollup_hdrs": true}),
    );
    let soon = format!("@at {}", at_in(1));
    let tgt = |t| ("Nats-Schedule-Target", t);
    let every = ("Nats-Schedule", "@every 1s");
    type Pub<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let refused: Vec<Pub> = vec![
        (
            "bad pattern",
            "s.c",
            vec![("Nats-Schedule", "@at nope"), tgt("mon.c")],
        ),
        (
            "under a second",
            "s.c",
            vec![("Nats-Schedule", "@every 500ms"), tgt("mon.c")],
        ),
        (
            "five-field cron",
            "s.c",
            vec![("Nats-Schedule", "0 0 1 1 *"), tgt("mon.c")],
        ),
        ("no target", "s.c", vec![every]),
        ("target itself", "s.c", vec![every, tgt("s.c")]),
        ("target outside", "s.c", vec![every, tgt("other.x")]),
        ("target wildcard", "s.c", vec![every, tgt("mon.*")]),
        (
            "bad ttl",
            "s.c",
            vec![every, tgt("mon.c"), ("Nats-Schedule-TTL", "abc")],
        ),
        (
            "rollup all",
            "s.c",
            vec![every, tgt("mon.c"), ("Nats-Schedule-Rollup", "all")],
        ),
        (
            "with Nats-Rollup all",
            "s.c",
            vec![every, tgt("mon.c"), ("Nats-Rollup", "all")],
        ),
        (
            "source itself",
            "s.c",
            vec![every, tgt("mon.c"), ("Nats-Schedule-Source", "s.c")],
        ),
        (
            "source is target",
            "s.c",
            vec![every, tgt("mon.c"), ("Nats-Schedule-Source", "mon.c")],
        ),
        (
            "unknown zone",
            "s.c",
            vec![
                ("Nats-Schedule", "0 0 * * * *"),
                tgt("mon.c"),
                ("Nats-Schedule-Time-Zone", "Nowhere/X"),
            ],
        ),
        (
            "empty zone",
            "s.c",
            vec![
                ("Nats-Schedule", "0 0 * * * *"),
                tgt("mon.c"),
                ("Nats-Schedule-Time-Zone", ""),
            ],
        ),
        ("scheduler alone", "s.x", vec![("Nats-Scheduler", "s.c")]),
        (
            "next not purge",
            "s.x",
            vec![
                ("Nats-Schedule-Next", "2020-01-01T00:00:00Z"),
                ("Nats-Scheduler", "s.c"),
            ],
        ),
        (
            "purge without scheduler",
            "s.x",
            vec![("Nats-Schedule-Next", "purge")],
        ),
    ];
    // A consumer sees what a schedule stores like any other message.
    let c = w.api(
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "config": {"durable_name": "C", "ack_policy": "none",
               "filter_subject": "mon.a"}}),
    );
    assert!(c.get("error").is_none(), "{c}");
    for (label, subj, hdrs) in &refused {
        w.publish(label, subj, hdrs, b"");
    }
    w.publish("source data", "s.src", &[("Src", "1")], b"source data");
    let accepted: Vec<Pub> = vec![
        (
            "at",
            "s.a",
            vec![
                ("Nats-Schedule", &soon),
                tgt("mon.a"),
                ("Foo", "bar"),
                ("Nats-Msg-Id", "x1"),
            ],
        ),
        (
            "every",
            "s.b",
            vec![every, tgt("mon.b"), ("Nats-Schedule-TTL", "30s")],
        ),
        (
            "from source",
            "s.h",
            vec![
                ("Nats-Schedule", &soon),
                tgt("mon.h"),
                ("Nats-Schedule-Source", "s.src"),
            ],
        ),
        (
            "past",
            "s.j",
            vec![("Nats-Schedule", "@at 2020-01-01T00:00:00Z"), tgt("mon.j")],
        ),
        (
            "yearly cron",
            "s.y",
            vec![("Nats-Schedule", "0 0 0 1 1 *"), tgt("mon.y")],
        ),
        (
            "hourly in UTC",
            "s.u",
            vec![
                ("Nats-Schedule", "@hourly"),
                tgt("mon.u"),
                ("Nats-Schedule-Time-Zone", "UTC"),
            ],
        ),
        (
            "empty schedule",
            "s.e",
            vec![("Nats-Schedule", ""), tgt("mon.e")],
        ),
        (
            "purge a plain subject",
            "s.x",
            vec![("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "s.src")],
        ),
    ];
    for (label, subj, hdrs) in &accepted {
        w.publish(label, subj, hdrs, b"payload");
    }
    w.note_last("S", "s.a");
    w.note_last("S", "s.y");
    for subj in ["mon.a", "mon.h", "mon.j"] {
        w.wait_for("S", subj);
    }
    for subj in ["mon.a", "mon.h", "mon.j"] {
        w.wait_for("DR", subj);
    }
    for subj in ["s.a", "s.h", "s.j"] {
        let got = w.last("DR", subj).unwrap_or_else(|| "none".into());
        w.seen.push(format!("DR last {subj}: {got}"));
    }
    let got = w.fetch("S", "C");
    w.seen.push(format!("consumer C: {got}"));
    let ticks = eventually(FIRED_MAX, || (w.msgs("S", "mon.b") >= 2).then_some(()));
    assert!(ticks.is_some(), "@every 1s ticked twice");
    // A plain message on its subject ends the repeating schedule.
    w.publish("end every", "s.b", &[], b"stop");
    for subj in [
        "s.a", "s.h", "s.j", "s.src", "mon.a", "mon.h", "mon.j", "mon.b", "s.b",
    ] {
        w.note_last("S", subj);
    }
    // A client purges a schedule with the header a one-shot one leaves.
    w.publish(
        "far",
        "s.far",
        &[("Nats-Schedule", "0 0 0 1 1 *"), tgt("mon.f")],
        b"",
    );
    w.publish(
        "purge it",
        "s.p",
        &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "s.far")],
        b"",
    );
    w.note_last("S", "s.far");
    w.note_last("S", "s.p");

    // A stream without schedules refuses every schedule header with 10188.
    w.config(
        "create P",
        "CREATE",
        json!({"name": "P", "subjects": ["p.>"]}),
    );
    w.publish("P schedule", "p.a", &[every, tgt("p.b")], b"");
    w.publish("P bad schedule", "p.a", &[("Nats-Schedule", "x")], b"");
    w.publish(
        "P purge",
        "p.a",
        &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "p.b")],
        b"",
    );
    // Config refusals.
    let mut x = schedules_stream();
    x["name"] = "X".into();
    x["subjects"] = json!(["x.>"]);
    x["discard"] = "new".into();
    w.config("discard new", "CREATE", x);
    let mut off = schedules_stream();
    off["allow_msg_schedules"] = false.into();
    w.config("turn off", "UPDATE", off);
    w.seen
}

#[test]
fn schedules_match_nats_server() {
    let natrix = play(false);
    let reference = play(true);
    for (i, (a, b)) in natrix.iter().zip(&reference).enumerate() {
        assert_eq!(a, b, "step {i}: natrix, then nats-server");
    }
    assert_eq!(natrix.len(), reference.len());
    // What the run shows, so a reference that changed is seen too.
    for want in [
        r#"last mon.a: "mon.a" "NATS/1.0\r\nFoo: bar\r\nNats-Scheduler: s.a\r\nNats-Schedule-Next: purge\r\n\r\n" "payload""#,
        r#"last mon.h: "mon.h" "NATS/1.0\r\nSrc: 1\r\nNats-Scheduler: s.h\r\nNats-Schedule-Next: purge\r\n\r\n" "source data""#,
        r#"last mon.b: "mon.b" "NATS/1.0\r\nNats-Scheduler: s.b\r\nNats-Schedule-Next: <time>\r\nNats-TTL: 30s\r\n\r\n" "payload""#,
        "last s.a: none",
        "DR last s.a: none",
        r#"consumer C: mon.a "NATS/1.0\r\nFoo: bar\r\nNats-Scheduler: s.a\r\nNats-Schedule-Next: purge\r\n\r\n" "payload""#,
        "last s.far: none",
    ] {
        assert!(natrix.iter().any(|l| l == want), "{want}\n{natrix:#?}");
    }
}

#[test]
fn schedules_fire_after_a_sigkill() {
    let dir = TempDir::new("schedules-kill");
    // At least a second ahead, so that it is due only after the kill.
    let due = at_in(2);
    {
        let mut server = Server::start_jetstream(1, &dir.path, &[]);
        let mut w = Wire::open(&server);
        w.config("S", "CREATE", schedules_stream());
        let at = format!("@at {due}");
        w.publish(
            "at",
            "s.a",
            &[("Nats-Schedule", &at), ("Nats-Schedule-Target", "mon.a")],
            b"late",
        );
        w.publish(
            "every",
            "s.b",
            &[
                ("Nats-Schedule", "@every 1s"),
                ("Nats-Schedule-Target", "mon.b"),
            ],
            b"tick",
        );
        assert_eq!(
            w.seen,
            ["S: ok", "at: stored in \"S\"", "every: stored in \"S\""]
        );
        send_signal(server.pid(), libc::SIGKILL);
        server.wait_exit(Duration::from_secs(10)).expect("killed");
    }
    // Restarted once the `@at` is past due: what is tested is a schedule due while down.
    let due_at = chrono::DateTime::parse_from_rfc3339(&due).unwrap();
    let past = due_at.timestamp() as u64 + 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if past > now {
        std::thread::sleep(Duration::from_secs(past - now));
    }
    let server = Server::start_jetstream(1, &dir.path, &[]);
    let mut w = Wire::open(&server);
    w.wait_for("S", "mon.a");
    assert_eq!(
        w.last("S", "mon.a").unwrap(),
        r#""mon.a" "NATS/1.0\r\nNats-Scheduler: s.a\r\nNats-Schedule-Next: purge\r\n\r\n" "late""#
    );
    assert_eq!(w.last("S", "s.a"), None, "the schedule went when it fired");
    let before = w.msgs("S", "mon.b");
    let more = eventually(FIRED_MAX, || (w.msgs("S", "mon.b") > before).then_some(()));
    assert!(more.is_some(), "@every goes on after the restart");
}
