//! Atomic batch publish (`allow_atomic`, nats-server 2.12+) on the wire, natrix against
//! nats-server 2.15.1 in one run: the empty replies to staged messages, the commit's ack
//! (`"batch"`, `"count"`), `Nats-Batch-Commit: eob`, every refusal (10174 to 10210, and the
//! expectation, dedup, rollup and `discard: new` refusals a batch gets instead of a partial
//! store), the stored messages' headers, counters in a batch, the in-flight limit, and the
//! refusal of fast batches (`allow_batched` is not served).
//! Then natrix alone: a SIGKILL in the middle of a batch leaves none of it, a SIGKILL after
//! the commit's ack leaves all of it (default sync and `sync_interval: always`). Then nats.js
//! v3's batch publisher (`js.startBatch`, tests/js/v3/batch_v3.js) on natrix with 2 shards
//! (or nats-server with `NATRIX_TEST_AGAINST_REFERENCE=1`).
//!
//! The differential test runs nats-server too (`NATRIX_NATS_SERVER` or `.venv/bin`).

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use common::procs::{eventually, send_signal, Server, TempDir};
use common::requests::Requester;
use common::wire::Socket;

const FRAME_MAX: Duration = Duration::from_secs(5);
/// How long nats-server may take to store a publish that has no reply.
const STORED_MAX: Duration = Duration::from_secs(5);

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

    /// [`Wire::request`] with the reply subject given (under `_IN.`).
    fn request_to(
        &mut self,
        subject: &str,
        reply: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> String {
        self.io.request_to(subject, reply, headers, payload)
    }

    /// Publishes without a reply subject, then a PING: whatever came before the PONG.
    fn fire(&mut self, subject: &str, headers: &[(&str, &str)]) -> String {
        let mut frame = Requester::frame(subject, "", headers, b"x");
        frame.extend_from_slice(b"PING\r\n");
        self.io.sock.send(&frame);
        let mut got = String::new();
        loop {
            let line = self.io.line();
            if line == "PONG\r\n" {
                return got;
            }
            got.push_str(&line);
        }
    }

    fn api(&mut self, subject: &str, body: Value) -> Value {
        let r = self.request(subject, &[], body.to_string().as_bytes());
        serde_json::from_str(&r).expect("API replies are JSON")
    }

    /// A publish; notes its reply byte for byte (empty for a staged message).
    fn publish(&mut self, label: &str, subject: &str, headers: &[(&str, &str)], payload: &[u8]) {
        let ack = self.request(subject, headers, payload);
        self.seen.push(format!("{label}: {ack:?}"));
    }

    fn create(&mut self, cfg: Value) {
        let name = cfg["name"].as_str().unwrap().to_string();
        let r = self.api(&format!("$JS.API.STREAM.CREATE.{name}"), cfg);
        let got = r.get("error").map_or("ok".to_string(), Value::to_string);
        self.seen.push(format!("create {name}: {got}"));
    }

    /// Notes the stream's message count and last sequence.
    fn state(&mut self, stream: &str) {
        let r = self.api(&format!("$JS.API.STREAM.INFO.{stream}"), json!({}));
        let st = &r["state"];
        self.seen.push(format!(
            "{stream} state: {} msgs, last {}",
            st["messages"], st["last_seq"]
        ));
    }

    /// [`Wire::state`] once the stream reaches `last` (or after [`STORED_MAX`]): a publish
    /// without a reply gets no answer to wait for, and nats-server stores it after the
    /// PONG that follows it.
    fn state_reaching(&mut self, stream: &str, last: u64) {
        eventually(STORED_MAX, || {
            let r = self.api(&format!("$JS.API.STREAM.INFO.{stream}"), json!({}));
            (r["state"]["last_seq"].as_u64() >= Some(last)).then_some(())
        });
        self.state(stream);
    }

    /// Notes message `seq` of `stream`: subject, header block, payload.
    fn stored(&mut self, stream: &str, seq: u64) {
        let r = self.api(
            &format!("$JS.API.STREAM.MSG.GET.{stream}"),
            json!({ "seq": seq }),
        );
        let m = &r["message"];
        let b64 = |k: &str| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(m[k].as_str().unwrap_or(""))
                .expect("base64");
            String::from_utf8(raw).unwrap()
        };
        let line = match r.get("error") {
            Some(e) => e.to_string(),
            None => format!(
                "{} {:?} {}",
                m["subject"].as_str().unwrap(),
                b64("hdrs"),
                b64("data")
            ),
        };
        self.seen.push(format!("{stream} #{seq}: {line}"));
    }
}

const ID: &str = "Nats-Batch-Id";
const SEQ: &str = "Nats-Batch-Sequence";
const COMMIT: &str = "Nats-Batch-Commit";

fn atomic(name: &str, subjects: &[&str]) -> Value {
    json!({"name": name, "subjects": subjects, "allow_atomic": true})
}

/// The scenario; returns what it saw.
fn play(reference: bool) -> Vec<String> {
    let dir = TempDir::new("atomic");
    let server = Server::start_jetstream_on(reference, &dir.path);
    let mut w = Wire::open(&server);
    w.create(atomic("A", &["a.>"]));
    w.create(json!({"name": "N", "subjects": ["n.>"]}));
    w.publish(
        "into a plain stream",
        "n.1",
        &[(ID, "b0"), (SEQ, "1")],
        b"x",
    );
    // A batch of three, then one committed by its end marker.
    w.publish("b1 1", "a.1", &[(ID, "b1"), (SEQ, "1")], b"x");
    w.publish("b1 2", "a.2", &[(ID, "b1"), (SEQ, "2")], b"y");
    w.publish(
        "b1 commit",
        "a.3",
        &[(ID, "b1"), (SEQ, "3"), (COMMIT, "1")],
        b"z",
    );
    w.stored("A", 1);
    w.stored("A", 3);
    w.publish("b2 1", "a.1", &[(ID, "b2"), (SEQ, "1")], b"x");
    w.publish(
        "b2 eob",
        "a.2",
        &[(ID, "b2"), (SEQ, "2"), (COMMIT, "eob")],
        b"",
    );
    w.stored("A", 4);
    w.stored("A", 5);
    // A gap drops the batch: the rest of it is incomplete too.
    w.publish("b3 1", "a.1", &[(ID, "b3"), (SEQ, "1")], b"x");
    w.publish("b3 gap", "a.2", &[(ID, "b3"), (SEQ, "3")], b"x");
    w.publish(
        "b3 after the gap",
        "a.2",
        &[(ID, "b3"), (SEQ, "2"), (COMMIT, "1")],
        b"x",
    );
    w.publish("unknown batch at 2", "a.2", &[(ID, "b4"), (SEQ, "2")], b"x");
    w.publish("no sequence", "a.2", &[(ID, "b5")], b"x");
    w.publish("sequence abc", "a.2", &[(ID, "b5"), (SEQ, "abc")], b"x");
    w.publish("sequence 0", "a.2", &[(ID, "b5"), (SEQ, "0")], b"x");
    let long = "x".repeat(65);
    w.publish("id of 65", "a.2", &[(ID, &long), (SEQ, "1")], b"x");
    let max = "y".repeat(64);
    w.publish(
        "id of 64",
        "a.2",
        &[(ID, &max), (SEQ, "1"), (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "commit yes",
        "a.2",
        &[(ID, "b6"), (SEQ, "1"), (COMMIT, "yes")],
        b"x",
    );
    w.publish(
        "eob at 1",
        "a.2",
        &[(ID, "b7"), (SEQ, "1"), (COMMIT, "eob")],
        b"x",
    );
    w.publish("unknown at 1001", "a.2", &[(ID, "b8"), (SEQ, "1001")], b"x");
    w.publish(
        "unknown eob at 1001",
        "a.2",
        &[(ID, "b8"), (SEQ, "1001"), (COMMIT, "eob")],
        b"x",
    );
    w.publish("seq 1 twice", "a.2", &[(ID, "b9"), (SEQ, "1")], b"x");
    w.publish("seq 1 again", "a.2", &[(ID, "b9"), (SEQ, "1")], b"x");
    w.publish(
        "empty id is a plain publish",
        "a.2",
        &[(ID, ""), (SEQ, "1")],
        b"x",
    );
    w.publish(
        "api level 99",
        "a.2",
        &[
            (ID, "b10"),
            (SEQ, "1"),
            ("Nats-Required-Api-Level", "99"),
            (COMMIT, "1"),
        ],
        b"x",
    );
    // Checks at the commit refuse the whole batch.
    let exp_id = ("Nats-Expected-Last-Msg-Id", "z");
    w.publish(
        "last msg id",
        "a.2",
        &[(ID, "c1"), (SEQ, "1"), exp_id, (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "m1",
        "a.2",
        &[(ID, "c2"), (SEQ, "1"), ("Nats-Msg-Id", "m1")],
        b"x",
    );
    w.publish(
        "m1 twice",
        "a.2",
        &[(ID, "c2"), (SEQ, "2"), ("Nats-Msg-Id", "m1"), (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "m2",
        "a.2",
        &[(ID, "c3"), (SEQ, "1"), ("Nats-Msg-Id", "m2"), (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "m2 again",
        "a.2",
        &[(ID, "c4"), (SEQ, "1"), ("Nats-Msg-Id", "m2"), (COMMIT, "1")],
        b"x",
    );
    let last = ("Nats-Expected-Last-Sequence", "1");
    w.publish("last seq 1", "a.2", &[(ID, "c5"), (SEQ, "1"), last], b"x");
    w.publish(
        "last seq commit",
        "a.2",
        &[(ID, "c5"), (SEQ, "2"), (COMMIT, "1")],
        b"x",
    );
    let subj0 = ("Nats-Expected-Last-Subject-Sequence", "0");
    w.publish("e.y 1", "a.y", &[(ID, "c6"), (SEQ, "1")], b"x");
    w.publish(
        "e.y expects 0",
        "a.y",
        &[(ID, "c6"), (SEQ, "2"), subj0, (COMMIT, "1")],
        b"x",
    );
    w.publish("z expects 0", "a.z", &[(ID, "c7"), (SEQ, "1"), subj0], b"x");
    let last0 = ("Nats-Expected-Last-Sequence", "0");
    w.publish(
        "then last seq",
        "a.z",
        &[(ID, "c7"), (SEQ, "2"), last0, (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "stream zz",
        "a.q",
        &[
            (ID, "c8"),
            (SEQ, "1"),
            ("Nats-Expected-Stream", "zz"),
            (COMMIT, "1"),
        ],
        b"x",
    );
    w.publish(
        "rollup",
        "a.q",
        &[
            (ID, "c9"),
            (SEQ, "1"),
            ("Nats-Rollup", "sub"),
            (COMMIT, "1"),
        ],
        b"x",
    );
    w.publish(
        "ttl",
        "a.q",
        &[(ID, "c10"), (SEQ, "1"), ("Nats-TTL", "5s"), (COMMIT, "1")],
        b"x",
    );
    w.state("A");
    // No reply subject: nothing is answered, the batch is stored all the same.
    let r1 = w.fire("a.n", &[(ID, "q1"), (SEQ, "1")]);
    let r2 = w.fire("a.n", &[(ID, "q1"), (SEQ, "2"), (COMMIT, "1")]);
    w.seen.push(format!("without reply: {r1:?} {r2:?}"));
    w.state_reaching("A", 9);

    // Limits with discard new: the batch that would pass them is refused whole.
    let mut d = atomic("D", &["d.>"]);
    d["max_msgs"] = 2.into();
    d["discard"] = "new".into();
    w.create(d);
    w.publish("D 1", "d.x", &[(ID, "d"), (SEQ, "1")], b"x");
    w.publish("D 2", "d.x", &[(ID, "d"), (SEQ, "2")], b"x");
    w.publish("D 3", "d.x", &[(ID, "d"), (SEQ, "3"), (COMMIT, "1")], b"x");
    w.state("D");
    let mut p = atomic("P", &["p.>"]);
    p["max_msgs_per_subject"] = 1.into();
    p["discard"] = "new".into();
    p["discard_new_per_subject"] = true.into();
    w.create(p);
    w.publish("P 1", "p.x", &[(ID, "p"), (SEQ, "1")], b"x");
    w.publish("P 2", "p.x", &[(ID, "p"), (SEQ, "2"), (COMMIT, "1")], b"x");
    let mut f = atomic("F", &["f.>"]);
    f["max_msg_size"] = 100.into();
    w.create(f);
    w.publish("F too big", "f.x", &[(ID, "f"), (SEQ, "1")], &[b'z'; 200]);

    // Counters in a batch: the running total, the batch's ack (no "val").
    let mut c = atomic("C", &["c.>"]);
    c["allow_msg_counter"] = true.into();
    w.create(c);
    w.publish(
        "C +2",
        "c.x",
        &[(ID, "k"), (SEQ, "1"), ("Nats-Incr", "2")],
        b"",
    );
    w.publish(
        "C +3",
        "c.x",
        &[(ID, "k"), (SEQ, "2"), ("Nats-Incr", "3"), (COMMIT, "1")],
        b"",
    );
    w.stored("C", 2);

    // At most 50 batches in flight on a stream.
    w.create(atomic("I", &["i.>"]));
    w.create(json!({"name": "G", "subjects": ["g.>"]}));
    for i in 0..51 {
        let id = format!("i{i}");
        w.publish(
            &format!("I open {i}"),
            "i.x",
            &[(ID, &id), (SEQ, "1")],
            b"x",
        );
    }
    w.publish(
        "I commit i0",
        "i.x",
        &[(ID, "i0"), (SEQ, "2"), (COMMIT, "1")],
        b"x",
    );
    w.publish("I open i50 now", "i.x", &[(ID, "i50"), (SEQ, "1")], b"x");
    w.state("I");

    // Fast batches (a reply ending in `.$FI`) are refused on a stream without
    // `allow_batched`, well formed or not; the message is not stored.
    for reply in ["_IN.f1.10.fail.1.0.$FI", "_IN.garbage.$FI", "_IN.$FI"] {
        let got = w.request_to("g.x", reply, &[], b"x");
        w.seen.push(format!("fast {reply}: {got:?}"));
    }
    let got = w.request_to(
        "g.x",
        "_IN.f2.10.ok.1.0.$FI",
        &[(ID, "z"), (SEQ, "1")],
        b"x",
    );
    w.seen.push(format!("fast with batch headers: {got:?}"));
    let mut g = atomic("G2", &["g2.>"]);
    g["max_msg_size"] = 10.into();
    w.create(g);
    let got = w.request_to("g2.x", "_IN.f3.10.fail.1.0.$FI", &[], &[b'x'; 20]);
    w.seen.push(format!("fast too big: {got:?}"));
    w.seen
}

#[test]
fn atomic_batches_match_nats_server() {
    let natrix = play(false);
    let reference = play(true);
    for (i, (a, b)) in natrix.iter().zip(&reference).enumerate() {
        assert_eq!(a, b, "step {i}: natrix, then nats-server");
    }
    assert_eq!(natrix.len(), reference.len());
    // What the run shows, so a reference that changed is seen too.
    for want in [
        r#"b1 2: """#,
        r#"b1 commit: "{\"stream\":\"A\",\"seq\":3,\"batch\":\"b1\",\"count\":3}""#,
        r#"b2 eob: "{\"stream\":\"A\",\"seq\":4,\"batch\":\"b2\",\"count\":1}""#,
        r#"b3 gap: "{\"error\":{\"code\":400,\"err_code\":10176,\"description\":\"atomic publish batch is incomplete\"},\"stream\":\"A\",\"seq\":0}""#,
        r#"fast _IN.garbage.$FI: "{\"error\":{\"code\":400,\"err_code\":10205,\"description\":\"batch publish is disabled\"},\"stream\":\"G\",\"seq\":0}""#,
    ] {
        assert!(natrix.iter().any(|l| l == want), "{want}\n{natrix:#?}");
    }
}

/// One message of batch `id` at `seq` of `n`, the last one committing.
fn batch_msg(w: &mut Wire, id: &str, seq: u64, n: u64) -> String {
    let s = seq.to_string();
    let mut h = vec![(ID, id), (SEQ, s.as_str())];
    if seq == n {
        h.push((COMMIT, "1"));
    }
    w.request(&format!("k.{seq}"), &h, format!("m{seq}").as_bytes())
}

fn kill(mut server: Server) {
    send_signal(server.pid(), libc::SIGKILL);
    server.wait_exit(Duration::from_secs(10)).expect("killed");
}

fn start(dir: &TempDir, conf: &TempDir, sync_always: bool) -> Server {
    if !sync_always {
        return Server::start_jetstream(1, &dir.path, &[]);
    }
    let conf = conf.write(
        "js.conf",
        &format!(
            "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
            dir.path.display()
        ),
    );
    Server::start(1, &["-c", conf.as_str()])
}

fn killed_mid_batch_and_after_commit(sync_always: bool) {
    let dir = TempDir::new("atomic-kill");
    let conf = TempDir::new("atomic-kill-conf");
    const N: u64 = 1000;
    {
        let server = start(&dir, &conf, sync_always);
        let mut w = Wire::open(&server);
        w.create(atomic("K", &["k.>"]));
        assert_eq!(w.seen, ["create K: ok"]);
        // A whole batch, acked once at its commit.
        for seq in 1..N {
            assert_eq!(batch_msg(&mut w, "whole", seq, N), "", "staged {seq}");
        }
        let ack: Value = serde_json::from_str(&batch_msg(&mut w, "whole", N, N)).unwrap();
        assert_eq!(
            ack,
            json!({"stream": "K", "seq": N, "batch": "whole", "count": N})
        );
        // Then most of another, killed before its commit.
        for seq in 1..N {
            assert_eq!(batch_msg(&mut w, "cut", seq, N), "", "staged {seq}");
        }
        kill(server);
    }
    let server = start(&dir, &conf, sync_always);
    let mut w = Wire::open(&server);
    w.state("K");
    assert_eq!(
        w.seen,
        [format!("K state: {N} msgs, last {N}")],
        "all of the acked batch, none of the cut one"
    );
    w.stored("K", N);
    let last = w.seen.pop().unwrap();
    assert!(
        last.contains("Nats-Batch-Id: whole") && last.ends_with(" m1000"),
        "{last}"
    );
    // The cut batch is gone with the process: its id starts afresh.
    let r = batch_msg(&mut w, "cut", 2, 2);
    assert!(r.contains("10176"), "{r}");
}

#[test]
fn sigkill_mid_batch_leaves_none_and_after_the_ack_all() {
    killed_mid_batch_and_after_commit(false);
}

#[test]
fn sigkill_mid_batch_leaves_none_and_after_the_ack_all_with_sync_always() {
    killed_mid_batch_and_after_commit(true);
}

/// How long a batch may wait for its next message on both servers (nats-server's
/// `streamMaxBatchTimeout`).
const BATCH_IDLE: Duration = Duration::from_secs(10);

/// A batch idle past the timeout is gone: its next message is incomplete, and its id
/// starts afresh. Both servers wait at once.
fn idle_batch(reference: bool) -> Vec<String> {
    let dir = TempDir::new("atomic-idle");
    let server = Server::start_jetstream_on(reference, &dir.path);
    let mut w = Wire::open(&server);
    let mut adv = Advisories::open(&server);
    w.create(atomic("T", &["t.>"]));
    w.publish("g 1", "t.x", &[(ID, "g"), (SEQ, "1")], b"x");
    w.publish("g gap", "t.x", &[(ID, "g"), (SEQ, "3")], b"x");
    let level = ("Nats-Required-Api-Level", "99");
    w.publish("v level", "t.x", &[(ID, "v"), (SEQ, "1"), level], b"x");
    w.publish("t 1", "t.x", &[(ID, "t"), (SEQ, "1")], b"x");
    w.publish("u 1", "t.x", &[(ID, "u"), (SEQ, "1")], b"x");
    // Waiting out the timeout is the point of the test: there is no event to wait for.
    std::thread::sleep(BATCH_IDLE / 2);
    w.publish("u 2 within", "t.x", &[(ID, "u"), (SEQ, "2")], b"x");
    std::thread::sleep(BATCH_IDLE / 2 + Duration::from_millis(700));
    w.publish(
        "t 2 after",
        "t.x",
        &[(ID, "t"), (SEQ, "2"), (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "u 3 kept alive",
        "t.x",
        &[(ID, "u"), (SEQ, "3"), (COMMIT, "1")],
        b"x",
    );
    w.publish(
        "t again",
        "t.x",
        &[(ID, "t"), (SEQ, "1"), (COMMIT, "1")],
        b"x",
    );
    w.state("T");
    w.seen.extend(adv.wait_for(3));
    w.seen
}

/// A connection subscribed to the batch-abandoned advisories.
struct Advisories {
    sock: Socket,
}

impl Advisories {
    fn open(server: &Server) -> Advisories {
        let mut sock = Socket::open(&server.addr(), FRAME_MAX).expect("connect");
        sock.line_by(Instant::now() + FRAME_MAX).expect("INFO");
        sock.send(
            b"CONNECT {\"verbose\":false,\"headers\":true}\r\n\
              SUB $JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.> 1\r\nPING\r\n",
        );
        let pong = sock.line_by(Instant::now() + FRAME_MAX).expect("PONG");
        assert_eq!(pong, b"PONG\r\n");
        Advisories { sock }
    }

    /// The first `n` advisories (nats-server sends them from another goroutine), each as
    /// subject, type, stream, batch and reason.
    fn wait_for(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + STORED_MAX;
        while out.len() < n && Instant::now() < deadline {
            let Some(line) = self.sock.line_by(deadline) else {
                break;
            };
            let line = String::from_utf8_lossy(&line).into_owned();
            if line == "PING\r\n" {
                self.sock.send(b"PONG\r\n");
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(parts[0], "MSG", "{line:?}");
            let total: usize = parts[parts.len() - 1].parse().unwrap();
            while self.sock.buf.len() < total + 2 && !self.sock.closed {
                self.sock.fill(FRAME_MAX);
            }
            let body: Vec<u8> = self.sock.buf.drain(..total + 2).collect();
            let v: Value = serde_json::from_slice(&body[..total]).expect("JSON");
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            out.push(format!(
                "advisory {} {} {} {} {} {keys:?}",
                parts[1], v["type"], v["stream"], v["batch"], v["reason"]
            ));
        }
        out
    }
}

#[test]
fn an_idle_batch_expires_as_on_nats_server() {
    let reference = std::thread::spawn(|| idle_batch(true));
    let natrix = idle_batch(false);
    let reference = reference.join().expect("the reference run");
    assert_eq!(natrix, reference, "natrix, then nats-server");
    let at = |label: &str| natrix.iter().find(|l| l.starts_with(label)).unwrap();
    assert!(at("t 2 after").contains("10176"), "{natrix:#?}");
    assert!(
        at("u 3 kept alive").contains(r#"\"count\":3"#),
        "{natrix:#?}"
    );
    assert!(
        at("advisory").contains(r#""g" "incomplete""#),
        "{natrix:#?}"
    );
    let advisories: Vec<&String> = natrix
        .iter()
        .filter(|l| l.starts_with("advisory"))
        .collect();
    assert_eq!(advisories.len(), 3, "{natrix:#?}");
    assert!(
        advisories[1].contains(r#""v" "unsupported""#),
        "{natrix:#?}"
    );
    assert!(advisories[2].contains(r#""t" "timeout""#), "{natrix:#?}");
}

/// How long the nats.js script may take.
const SCRIPT_MAX: Duration = Duration::from_secs(30);

#[test]
fn nats_js_v3_batch_publisher_works() {
    let dir = TempDir::new("atomic-js-v3");
    let server = Server::start_jetstream(2, &dir.path, &[]);
    let stdout = common::node::run_script("v3/batch_v3.js", &server.url(), SCRIPT_MAX);
    common::node::assert_steps(
        &stdout,
        &["batch of 5 acked once", "refused batch stored nothing"],
    );
}
