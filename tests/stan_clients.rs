//! Seed 000 (a node-nats-streaming service: a durable queue group of listeners on
//! `ticket:created` with `setManualAckMode(true)`, `setAckWait`, `setDeliverAllAvailable()`,
//! and a publisher) run against natrix serving NATS Streaming, started with
//! nats-streaming-server's flags (`-cid test-cluster`, `-st FILE --dir …`).
//!
//! The scripts are `tests/js/stan/listener.js` and `publisher.js`, real `node` processes with
//! the npm client `node-nats-streaming` 0.3.x (it pulls nats.js 1.x). There is no
//! nats-streaming-server binary to compare with, so each test names the place in
//! `shared/reference/stan-protocol.md` whose behaviour it checks. Counts and times are bounded;
//! every process is stopped when its test ends, passing or not.
//!
//! Needs `node` on PATH and `tests/js/node_modules` (`npm ci --prefix tests/js`; `./test`
//! does it).

mod common;
#[path = "stan_clients/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::procs::TempDir;
use harness::{received, Scene, CLUSTER_ID};

/// The ack wait of the listeners that wait for a redelivery by ack wait (the smallest the
/// protocol allows, §4.6).
const SHORT_ACK_WAIT: (&str, &str) = ("LISTENER_ACK_WAIT_MS", "1000");

/// The handler fails and never acks (the seed's "database is down").
const FAILING: (&str, &str) = ("LISTENER_FAIL", "1");

/// How long a killed listener's waiting events may take to reach a live one (issue 12; with
/// nats-streaming-server it is about the 30 s ack wait).
const GHOST_REDELIVERY_MAX: Duration = Duration::from_secs(5);

/// How long a test watches for deliveries that must not come.
const QUIET_WAIT: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------------------------------------
// Raw protocol

/// §3.1 step 4 and §7: an undecodable ConnectRequest is answered with a ConnectResponse whose
/// only field is `error` (field 5) = "stan: invalid connection request".
#[test]
fn undecodable_connect_request_gets_the_exact_error_response() {
    let scene = Scene::start(1, &[]);
    let mut c = common::RawClient::connect(&format!("127.0.0.1:{}", scene.port));
    c.read_info();
    c.handshake(common::CONNECT_QUIET);
    c.sync(b"SUB _INBOX.t 1\r\n");
    let mut request = format!("PUB _STAN.discover.{CLUSTER_ID} _INBOX.t 1\r\n").into_bytes();
    request.extend_from_slice(b"\xff\r\n");
    c.send(&request);
    let text = b"stan: invalid connection request";
    let mut payload = vec![0x2a, text.len() as u8];
    payload.extend_from_slice(text);
    let mut want = format!("MSG _INBOX.t 1 {}\r\n", payload.len()).into_bytes();
    want.extend_from_slice(&payload);
    want.extend_from_slice(b"\r\n");
    c.expect(&want);
}

// ---------------------------------------------------------------------------------------------
// Connect, publish, subscribe, ack

/// §8 steps 1–6: the publisher connects, every publish gets its PubAck with the guid it sent,
/// and it closes cleanly.
#[test]
fn publisher_gets_a_pub_ack_for_every_event() {
    let mut scene = Scene::start(1, &[]);
    let p = scene.spawn("publisher", "publisher.js", &["3"], &[]);
    scene.wait_for_success(p);
    let out = scene.stdout(p);
    assert_eq!(
        out.first().map(String::as_str),
        Some("Publisher connected to NATS")
    );
    assert_eq!(out.last().map(String::as_str), Some("Publisher closed"));
    let mut guids = BTreeSet::new();
    for n in 1..=3 {
        let prefix = format!("Event published: ticket-{n} (guid ");
        let line = out
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no PubAck for ticket-{n}\n{}", scene.transcript()));
        let guid = line[prefix.len()..].trim_end_matches(')');
        assert_eq!(guid.len(), 22, "a NUID guid: {line}");
        guids.insert(guid.to_string());
    }
    assert_eq!(
        guids.len(),
        3,
        "three distinct guids\n{}",
        scene.transcript()
    );
    assert_eq!(out.len(), 5, "nothing else printed\n{}", scene.transcript());
    scene.assert_no_stderr();
}

/// §4.5 (queue groups) and seed 000's first paragraph: two listeners of the queue group share
/// the channel; each event reaches exactly one of them, once, and both get some.
fn queue_group_of_two_listeners_shares_the_channel_exactly_once(shards: usize) {
    let mut scene = Scene::start(shards, &[]);
    let a = scene.listener("orders-a", &[]);
    let b = scene.listener("orders-b", &[]);
    scene.publish(20, 1);
    scene.wait_until("20 acked events across the group", |s| {
        [a, b]
            .iter()
            .map(|&l| s.count(l, |x| x.contains(" acked event #")))
            .sum::<usize>()
            >= 20
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut all: Vec<u64> = [a, b]
        .iter()
        .flat_map(|&l| received(&scene, l, None))
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=20).collect::<Vec<u64>>(),
        "each event once across the group\n{}",
        scene.transcript()
    );
    for l in [a, b] {
        assert!(
            !received(&scene, l, None).is_empty(),
            "a member got nothing\n{}",
            scene.transcript()
        );
    }
    scene.assert_no_stderr();
}

#[test]
fn queue_group_of_two_listeners_shares_the_channel_exactly_once_1_shard() {
    queue_group_of_two_listeners_shares_the_channel_exactly_once(1);
}

#[test]
fn queue_group_of_two_listeners_shares_the_channel_exactly_once_2_shards() {
    queue_group_of_two_listeners_shares_the_channel_exactly_once(2);
}

/// §4.6 and the seed's setManualAckMode paragraph: a listener that never acks gets the event
/// again after its 1 s ack wait, flagged redelivered with counts 1, 2; the cadence is the ack
/// wait (not sooner).
#[test]
fn unacked_event_is_redelivered_after_the_ack_wait() {
    let mut scene = Scene::start(1, &[]);
    let l = scene.listener("orders-slow", &[SHORT_ACK_WAIT, FAILING]);
    scene.publish(1, 1);
    scene.wait_until("the event and two redeliveries", |s| {
        s.count(l, |x| x.contains(" received event #1")) >= 3
    });
    let lines: Vec<(Instant, String)> = scene
        .lines(l)
        .into_iter()
        .filter(|(_, x)| x.contains(" received event #1"))
        .collect();
    let labels: Vec<&str> = lines
        .iter()
        .map(|(_, x)| x.split(": ").next().unwrap_or_default())
        .take(3)
        .collect();
    assert_eq!(
        labels,
        [
            "Listener orders-slow received event #1",
            "Listener orders-slow received event #1 (redelivered 1)",
            "Listener orders-slow received event #1 (redelivered 2)",
        ],
        "\n{}",
        scene.transcript()
    );
    for w in lines.windows(2).take(2) {
        let gap = w[1].0.duration_since(w[0].0);
        println!("redelivery after {} ms", gap.as_millis());
        assert!(
            gap >= Duration::from_millis(800) && gap <= Duration::from_millis(3000),
            "redelivery {gap:?} after the previous copy, ack wait 1 s\n{}",
            scene.transcript()
        );
    }
    scene.assert_no_stderr();
}

/// §4.6 (queue member: the expired message is re-offered to the best member): member A never
/// acks; what A got moves to member B after A's 1 s ack wait, flagged redelivered, and B acks
/// every event.
#[test]
fn unacked_event_moves_to_the_other_queue_member_after_the_ack_wait() {
    let mut scene = Scene::start(1, &[]);
    let a = scene.listener("orders-broken", &[SHORT_ACK_WAIT, FAILING]);
    let b = scene.listener("orders-ok", &[SHORT_ACK_WAIT]);
    scene.publish(4, 1);
    let got_a: Vec<u64> = {
        scene.wait_until("4 events across the group", |s| {
            let mut seen: BTreeSet<u64> = received(s, a, Some(false)).into_iter().collect();
            seen.extend(received(s, b, Some(false)));
            seen.len() >= 4
        });
        received(&scene, a, Some(false))
    };
    assert!(
        !got_a.is_empty(),
        "the first member (first in the group, fewest pending) got no event\n{}",
        scene.transcript()
    );
    scene.wait_until("B acks every event", |s| {
        (1..=4).all(|n| s.count(b, |x| x == format!("Listener orders-ok acked event #{n}")) > 0)
    });
    let again_b = received(&scene, b, Some(true));
    for seq in &got_a {
        assert!(
            again_b.contains(seq),
            "event #{seq} that A did not ack reached B flagged redelivered\n{}",
            scene.transcript()
        );
    }
    scene.assert_no_stderr();
}

/// §4.4 First: a listener started after 5 events were published gets the whole backlog, in
/// order, and nothing twice.
#[test]
fn deliver_all_available_replays_the_backlog() {
    let mut scene = Scene::start(1, &[]);
    scene.publish(5, 1);
    let l = scene.listener("orders-late", &[]);
    scene.wait_until("5 acked events", |s| {
        s.count(l, |x| x.contains(" acked event #")) >= 5
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        received(&scene, l, None),
        [1, 2, 3, 4, 5],
        "\n{}",
        scene.transcript()
    );
    let first = scene
        .stdout(l)
        .into_iter()
        .find(|x| x.contains(" received event #1: "))
        .unwrap_or_default();
    assert!(
        first.ends_with(r#"{"id":"ticket-1","title":"concert","price":20}"#),
        "payload: {first}"
    );
    scene.assert_no_stderr();
}

/// §4.8 and §4.7 (the last member of a durable queue group): leaving by stan.close() keeps
/// the group's position, so the listener comes back to the new events only; leaving by
/// unsubscribe() deletes the group, so with deliver-all-available it starts over at #1.
#[test]
fn durable_close_resumes_at_its_position_and_unsubscribe_starts_over() {
    let mut scene = Scene::start(1, &[]);
    scene.publish(3, 1);
    let first = scene.listener("orders-1", &[]);
    scene.wait_for_line(first, "Listener orders-1 acked event #3");
    scene.signal(first, libc::SIGTERM);
    scene.wait_for_success(first);
    assert_eq!(
        received(&scene, first, None),
        [1, 2, 3],
        "\n{}",
        scene.transcript()
    );

    scene.publish(2, 4);
    let resumed = scene.listener("orders-1", &[("LISTENER_LEAVE", "unsubscribe")]);
    scene.wait_for_line(resumed, "Listener orders-1 acked event #5");
    std::thread::sleep(QUIET_WAIT);
    assert_eq!(
        received(&scene, resumed, None),
        [4, 5],
        "after close(): resumed at the group's position\n{}",
        scene.transcript()
    );
    scene.signal(resumed, libc::SIGTERM);
    scene.wait_for_line(resumed, "Listener orders-1 unsubscribed");
    scene.wait_for_success(resumed);

    scene.publish(1, 6);
    let fresh = scene.listener("orders-1", &[]);
    scene.wait_for_line(fresh, "Listener orders-1 acked event #6");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        received(&scene, fresh, None),
        [1, 2, 3, 4, 5, 6],
        "after unsubscribe(): a new group from the first event\n{}",
        scene.transcript()
    );
    assert!(
        received(&scene, fresh, Some(true)).is_empty(),
        "none redelivered\n{}",
        scene.transcript()
    );
    scene.assert_no_stderr();
}

/// §3.2 and §7: a second listener with the client id of a live one is refused with
/// "stan: clientID already registered"; the first keeps working.
#[test]
fn duplicate_client_id_is_refused_while_the_first_is_alive() {
    let mut scene = Scene::start(1, &[]);
    let first = scene.listener("orders-dup", &[]);
    let second = scene.spawn("second orders-dup", "listener.js", &["orders-dup"], &[]);
    let status = scene.wait_for_exit(second);
    assert_eq!(
        scene.stdout(second),
        ["Listener orders-dup error: stan: clientID already registered"],
        "\n{}",
        scene.transcript()
    );
    assert!(!status.success(), "the refused listener exits with 1");
    scene.publish(1, 1);
    scene.wait_for_line(first, "Listener orders-dup acked event #1");
    scene.assert_no_stderr();
}

// ---------------------------------------------------------------------------------------------
// Ghost clients (issue 12 point 3, §9.1)

/// The seed's restart stall: a listener with unacked events (its handler failing, ack wait
/// 30 s) is SIGKILLed, and a new one with the same client id starts at once. The waiting
/// events reach the new listener, flagged redelivered, in under 5 s from the kill.
fn killed_listener_restarted_with_the_same_client_id_gets_the_waiting_events(shards: usize) {
    let mut scene = Scene::start(shards, &[]);
    let ghost = scene.listener("orders-ghost", &[FAILING]);
    scene.publish(3, 1);
    scene.wait_until("the doomed listener holds 3 unacked events", |s| {
        s.count(ghost, |x| x.contains(" could not process event #")) >= 3
    });
    let killed_at = scene.signal(ghost, libc::SIGKILL);
    scene.wait_for_exit(ghost);
    let next = scene.spawn(
        "restarted orders-ghost",
        "listener.js",
        &["orders-ghost"],
        &[],
    );
    scene.wait_until_within(
        "the restarted listener acks the 3 waiting events",
        Duration::from_secs(20),
        |s| {
            (1..=3).all(|n| {
                s.count(next, |x| {
                    x == format!("Listener orders-ghost acked event #{n}")
                }) > 0
            })
        },
    );
    let last = (1..=3)
        .filter_map(|n| {
            scene.when(next, |x| {
                x.contains(&format!(" received event #{n} (redelivered"))
            })
        })
        .max();
    let Some(last) = last else {
        panic!(
            "the waiting events came without the redelivered flag\n{}",
            scene.transcript()
        );
    };
    let took = last.duration_since(killed_at);
    println!(
        "ghost ({shards} shards): the waiting events reached the restarted listener {} ms \
         after SIGKILL",
        took.as_millis()
    );
    assert!(
        took < GHOST_REDELIVERY_MAX,
        "took {took:?} (limit {GHOST_REDELIVERY_MAX:?})\n{}",
        scene.transcript()
    );
}

#[test]
fn killed_listener_restarted_with_the_same_client_id_gets_the_waiting_events_1_shard() {
    killed_listener_restarted_with_the_same_client_id_gets_the_waiting_events(1);
}

#[test]
fn killed_listener_restarted_with_the_same_client_id_gets_the_waiting_events_2_shards() {
    killed_listener_restarted_with_the_same_client_id_gets_the_waiting_events(2);
}

/// The tutorial variant (§9.1, idea 21): the restarted listener comes up with a new random
/// client id, so no duplicate probe replaces the killed one; natrix drops it when its NATS
/// connection is gone (after the grace period for a reconnect), and its waiting events reach
/// the new listener in under 5 s from the kill (nats-streaming-server: the 30 s ack wait).
#[test]
fn killed_listener_restarted_with_a_random_client_id_gets_the_waiting_events() {
    let mut scene = Scene::start(1, &[]);
    let ghost = scene.listener("orders-old", &[FAILING]);
    scene.publish(3, 1);
    scene.wait_until("the doomed listener holds 3 unacked events", |s| {
        s.count(ghost, |x| x.contains(" could not process event #")) >= 3
    });
    let killed_at = scene.signal(ghost, libc::SIGKILL);
    scene.wait_for_exit(ghost);
    let next = scene.spawn("restarted listener (random id)", "listener.js", &[], &[]);
    scene.wait_until_within(
        "the restarted listener gets the 3 waiting events",
        Duration::from_secs(20),
        |s| {
            let got = received(s, next, None);
            (1..=3).all(|n| got.contains(&n))
        },
    );
    let last = (1..=3)
        .filter_map(|n| scene.when(next, |x| x.contains(&format!(" received event #{n}"))))
        .max()
        .expect("seen");
    let took = last.duration_since(killed_at);
    println!(
        "ghost (random client id): the waiting events reached the restarted listener {} ms \
         after SIGKILL",
        took.as_millis()
    );
    assert_eq!(
        received(&scene, next, Some(false)),
        Vec::<u64>::new(),
        "every waiting event comes flagged redelivered\n{}",
        scene.transcript()
    );
    assert!(
        took < GHOST_REDELIVERY_MAX,
        "took {took:?} (limit {GHOST_REDELIVERY_MAX:?})\n{}",
        scene.transcript()
    );
}

/// A queue group of `victim` (never acks) and `survivor`; 3 events published; `sig` sent to
/// the victim (after `then`, e.g. waiting for its exit); returns the victim's index and how
/// long after the signal the last event it held reached the survivor, flagged redelivered.
fn held_events_move(
    scene: &mut Scene,
    victim: &str,
    survivor: &str,
    sig: i32,
    within: Duration,
    then: impl FnOnce(&mut Scene, usize),
) -> (usize, Duration) {
    let v = scene.listener(victim, &[FAILING]);
    let alive = scene.listener(survivor, &[]);
    scene.publish(3, 1);
    scene.wait_until("3 events across the group", |s| {
        s.count(v, |x| x.contains(" received event #"))
            + s.count(alive, |x| x.contains(" acked event #"))
            >= 3
    });
    let held = received(scene, v, Some(false));
    assert!(
        !held.is_empty(),
        "{victim} got no event\n{}",
        scene.transcript()
    );
    let signalled_at = scene.signal(v, sig);
    then(scene, v);
    scene.wait_until_within(
        "the survivor gets what the other member held",
        within,
        |s| {
            let again = received(s, alive, Some(true));
            held.iter().all(|n| again.contains(n))
        },
    );
    let last = held
        .iter()
        .filter_map(|n| {
            scene.when(alive, |x| {
                x.contains(&format!(" received event #{n} (redelivered"))
            })
        })
        .max()
        .expect("seen");
    (v, last.duration_since(signalled_at))
}

/// Issue 12 point 3 and §4.7: a queue member holding an unacked event (ack wait 30 s) is
/// SIGKILLed; the surviving member gets it, flagged redelivered, in under 5 s.
#[test]
fn killed_queue_member_events_reach_the_survivor_within_5s() {
    let mut scene = Scene::start(1, &[]);
    let (_, took) = held_events_move(
        &mut scene,
        "orders-doomed",
        "orders-alive",
        libc::SIGKILL,
        Duration::from_secs(20),
        |_, _| {},
    );
    println!(
        "killed queue member: its events reached the survivor {} ms after SIGKILL",
        took.as_millis()
    );
    assert!(
        took < GHOST_REDELIVERY_MAX,
        "took {took:?}\n{}",
        scene.transcript()
    );
}

/// §3.5 and §4.7: a queue member that leaves cleanly (SIGTERM → stan.close()) hands its
/// unacked events to the other member at once (nats-streaming-server: a 100 ms timer), long
/// before the 30 s ack wait.
#[test]
fn closed_queue_member_events_move_to_the_other_member_at_once() {
    let mut scene = Scene::start(1, &[]);
    let (_, took) = held_events_move(
        &mut scene,
        "orders-leaving",
        "orders-staying",
        libc::SIGTERM,
        Duration::from_secs(20),
        |s, v| s.wait_for_success(v),
    );
    println!(
        "closed queue member: its events moved {} ms after SIGTERM",
        took.as_millis()
    );
    assert!(
        took < Duration::from_secs(2),
        "took {took:?}\n{}",
        scene.transcript()
    );
    scene.assert_no_stderr();
}

// ---------------------------------------------------------------------------------------------
// Limits and heartbeats (nats-streaming-server's flags)

/// `-mm 3` (§5.1, §5.2 max_msgs: drop the oldest; idea 28): 5 events published, every PubAck
/// clean, and a deliver-all-available listener gets #3..#5 only.
#[test]
fn max_msgs_keeps_the_newest_events() {
    let mut scene = Scene::start(1, &["-mm", "3"]);
    scene.publish(5, 1);
    let l = scene.listener("orders-limited", &[]);
    scene.wait_for_line(l, "Listener orders-limited acked event #5");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        received(&scene, l, None),
        [3, 4, 5],
        "\n{}",
        scene.transcript()
    );
    scene.assert_no_stderr();
}

/// `streaming { store_limits { channels { "ticket:created": { max_msgs: 2 } } } }` (§5.2
/// per-channel overrides): the seed's channel keeps its newest 2, whatever the global limit;
/// a wildcard that is not a whole token (`ticket:*`) is refused at start.
#[test]
fn a_per_channel_limit_from_the_config_file_applies_to_matching_channels() {
    let dir = TempDir::new("stan-per-channel");
    let conf = dir.write(
        "s.conf",
        "streaming {\n  store_limits {\n    max_msgs: 100\n    channels {\n      \
         \"ticket:created\": { max_msgs: 2 }\n    }\n  }\n}\n",
    );
    let mut scene = Scene::start(1, &["-c", &conf]);
    scene.publish(5, 1);
    let l = scene.listener("orders-per-channel", &[]);
    scene.wait_for_line(l, "Listener orders-per-channel acked event #5");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        received(&scene, l, None),
        [4, 5],
        "\n{}",
        scene.transcript()
    );
    scene.assert_no_stderr();
    let bad = dir.write(
        "bad.conf",
        "streaming { store_limits { channels { \"ticket:*\": { max_msgs: 2 } } } }\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natrix"))
        .args(["-a", "127.0.0.1", "-p", "0", "-c", &bad])
        .output()
        .expect("natrix runs");
    assert!(!out.status.success(), "started with a bad channel name");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ticket:*"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `-hbi 1s -hbt 1s -hbf 2` (§3.3, idea 6): a queue member frozen with SIGSTOP keeps its TCP
/// connection but answers no heartbeat; after its failures pass the fail count it is closed
/// server-side and its unacked event (ack wait 30 s) moves to the other member: not before a
/// few heartbeat rounds, and long before the ack wait.
#[test]
fn frozen_queue_member_is_dropped_by_heartbeats_and_its_events_move() {
    let mut scene = Scene::start(1, &["-hbi", "1s", "-hbt", "1s", "-hbf", "2"]);
    let (frozen, took) = held_events_move(
        &mut scene,
        "orders-frozen",
        "orders-awake",
        libc::SIGSTOP,
        Duration::from_secs(25),
        |_, _| {},
    );
    println!(
        "frozen member: its events moved {} ms after SIGSTOP",
        took.as_millis()
    );
    scene.signal(frozen, libc::SIGCONT);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "took {took:?}: want after 2+ failed heartbeats (1 s apart), before the 30 s ack wait\n{}",
        scene.transcript()
    );
}

// ---------------------------------------------------------------------------------------------
// File store (§3.6, §5.3, issue 12 point 4)

/// `-st FILE --dir <tmp>`: 5 events published with no listener, natrix SIGKILLed and
/// restarted on the same port and directory. A listener (deliver-all-available) gets #1..#5
/// with their payloads, and the next event published gets sequence 6 (§5.1: sequences are
/// never reused while the channel exists).
#[test]
fn file_store_keeps_events_and_their_sequences_across_kill_9() {
    let dir = TempDir::new("stan-file-msgs");
    let dir_s = dir.path.to_string_lossy().into_owned();
    let port = common::ops::free_port();
    let mut scene = Scene::start_on(port, 1, &["-st", "FILE", "--dir", &dir_s]);
    scene.publish(5, 1);
    scene.kill_server();
    scene.restart_server();

    let after = scene.listener("orders-file", &[]);
    scene.wait_for_line(after, "Listener orders-file acked event #5");
    scene.publish(1, 6);
    scene.wait_for_line(after, "Listener orders-file acked event #6");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        received(&scene, after, None),
        [1, 2, 3, 4, 5, 6],
        "the stored events, then the new one\n{}",
        scene.transcript()
    );
    for n in 1..=6 {
        let line = scene
            .stdout(after)
            .into_iter()
            .find(|x| x.contains(&format!(" received event #{n}: ")))
            .unwrap_or_default();
        assert!(
            line.ends_with(&format!(
                r#"{{"id":"ticket-{n}","title":"concert","price":20}}"#
            )),
            "event #{n} is ticket-{n}: {line}"
        );
    }
    scene.assert_no_stderr();
}

/// `-st FILE --dir <tmp>`: 3 events acked by the durable queue group, the listener closes,
/// 2 more are published, natrix is SIGKILLed and restarted on the same port and directory.
/// The listener comes back to #4 and #5 only (the events and the group's position survived),
/// and a new event gets sequence 6.
#[test]
fn file_store_keeps_events_and_the_durable_position_across_kill_9() {
    let dir = TempDir::new("stan-file");
    let dir_s = dir.path.to_string_lossy().into_owned();
    let port = common::ops::free_port();
    let mut scene = Scene::start_on(port, 1, &["-st", "FILE", "--dir", &dir_s]);
    scene.publish(3, 1);
    let before = scene.listener("orders-file", &[]);
    scene.wait_for_line(before, "Listener orders-file acked event #3");
    scene.signal(before, libc::SIGTERM);
    scene.wait_for_success(before);
    scene.publish(2, 4);

    scene.kill_server();
    scene.restart_server();

    let after = scene.listener("orders-file", &[]);
    scene.wait_for_line(after, "Listener orders-file acked event #5");
    std::thread::sleep(QUIET_WAIT);
    assert_eq!(
        received(&scene, after, None),
        [4, 5],
        "resumed at the position stored before the kill\n{}",
        scene.transcript()
    );
    let five = scene
        .stdout(after)
        .into_iter()
        .find(|x| x.contains(" received event #5"))
        .unwrap_or_default();
    assert!(
        five.contains(r#""id":"ticket-5""#),
        "the stored payload: {five}"
    );

    scene.publish(1, 6);
    scene.wait_for_line(after, "Listener orders-file acked event #6");
    let six = scene
        .stdout(after)
        .into_iter()
        .find(|x| x.contains(" received event #6"))
        .unwrap_or_default();
    assert!(
        six.contains(r#""id":"ticket-6""#),
        "sequence 6 is ticket-6: {six}"
    );
    scene.assert_no_stderr();
}

/// `-st FILE`: a listener holding unacked events and natrix SIGKILLed; after the restart a
/// listener of the same durable queue group gets those events, flagged redelivered (§5.3 "On
/// restart").
#[test]
fn file_store_redelivers_unacked_events_after_kill_9() {
    let dir = TempDir::new("stan-file-pending");
    let dir_s = dir.path.to_string_lossy().into_owned();
    let port = common::ops::free_port();
    let mut scene = Scene::start_on(port, 1, &["-st", "FILE", "--dir", &dir_s]);
    let holder = scene.listener("orders-holder", &[FAILING]);
    scene.publish(2, 1);
    scene.wait_until("the listener holds 2 unacked events", |s| {
        s.count(holder, |x| x.contains(" could not process event #")) >= 2
    });
    scene.kill_server();
    scene.signal(holder, libc::SIGKILL);
    scene.wait_for_exit(holder);
    scene.restart_server();

    let after = scene.spawn(
        "orders-holder after restart",
        "listener.js",
        &["orders-holder"],
        &[],
    );
    scene.wait_until("both events acked after the restart", |s| {
        (1..=2).all(|n| {
            s.count(after, |x| {
                x == format!("Listener orders-holder acked event #{n}")
            }) > 0
        })
    });
    let again = received(&scene, after, Some(true));
    assert!(
        again.contains(&1) && again.contains(&2),
        "the unacked events come back flagged redelivered\n{}",
        scene.transcript()
    );
}
