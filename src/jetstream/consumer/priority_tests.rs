//! Unit tests of the priority-group rules (behaviour captured from nats-server 2.15.1).

use super::*;
use crate::jetstream::consumer::pull::{Waiting, WaitingQueue};

fn req(body: &str) -> PullRequest {
    PullRequest::decode(body.as_bytes()).unwrap()
}

fn status_line(s: &[u8]) -> String {
    let s = String::from_utf8_lossy(s);
    s.split("\r\n").next().unwrap().to_string()
}

fn pinned() -> Priority {
    Priority::new(Policy::PinnedClient { ttl_ms: 1000 }, vec!["g".into()])
}

fn queued(q: &mut WaitingQueue, wheel: &mut Wheel<ConsumerTimer>, body: &str) -> u64 {
    q.push(0, format!("inbox.{body}"), req(body), wheel)
        .unwrap()
}

fn head(q: &WaitingQueue) -> &Waiting {
    q.iter().next().unwrap()
}

#[test]
fn admit_checks_fields_in_nats_server_order() {
    let mut wheel = Wheel::new(0);
    let mut none = Priority::default();
    let err = |p: &mut Priority, b: &str, wheel: &mut Wheel<ConsumerTimer>| {
        p.admit(&req(b), 0, wheel).err().map(|s| status_line(&s))
    };
    assert_eq!(err(&mut none, r#"{"group":"zz"}"#, &mut wheel), None);
    assert_eq!(
        err(&mut none, r#"{"min_pending":3}"#, &mut wheel).as_deref(),
        Some("NATS/1.0 400 Bad Request - Not a Overflow Priority consumer")
    );
    assert_eq!(err(&mut none, r#"{"priority":3}"#, &mut wheel), None);
    let mut p = pinned();
    for (body, line) in [
        (
            r#"{"batch":1}"#,
            "NATS/1.0 400 Bad Request - Priority Group missing",
        ),
        (
            r#"{"group":"x"}"#,
            "NATS/1.0 400 Bad Request - Invalid Priority Group",
        ),
        (
            r#"{"group":"g","priority":10}"#,
            "NATS/1.0 400 Bad Request - Priority must be between 0 and 9",
        ),
        (
            r#"{"group":"g","min_ack_pending":1}"#,
            "NATS/1.0 400 Bad Request - Not a Overflow Priority consumer",
        ),
    ] {
        assert_eq!(
            err(&mut p, body, &mut wheel).as_deref(),
            Some(line),
            "{body}"
        );
    }
    // A plain batch has no priority fields: accepted.
    assert_eq!(err(&mut p, "", &mut wheel), None);
    let mut o = Priority::new(Policy::Overflow, vec!["g".into()]);
    assert_eq!(
        err(&mut o, r#"{"group":"g","id":"x"}"#, &mut wheel).as_deref(),
        Some("NATS/1.0 400 Bad Request - Not a Pinned Client Priority consumer")
    );
}

#[test]
fn pin_goes_to_the_first_served_request_and_times_out() {
    let mut wheel = Wheel::new(0);
    let mut q = WaitingQueue::new(7, 10);
    let mut p = pinned();
    queued(&mut q, &mut wheel, r#"{"group":"g","batch":5}"#);
    assert_eq!(p.verdict(head(&q), || 1, 0), Verdict::Serve { pins: true });
    let Some(PinEvent::Pinned { id, .. }) = p.pin(q.front_mut().unwrap(), 7, (0, 5), &mut wheel)
    else {
        panic!("not pinned");
    };
    assert_eq!(id.len(), 22);
    // The pinned request is served; one without an id waits; a wrong id ends with 423.
    assert_eq!(p.verdict(head(&q), || 1, 0), Verdict::Serve { pins: false });
    let mut q2 = WaitingQueue::new(7, 10);
    queued(&mut q2, &mut wheel, r#"{"group":"g"}"#);
    assert_eq!(p.verdict(head(&q2), || 1, 0), Verdict::PassOver);
    let mut q3 = WaitingQueue::new(7, 10);
    queued(
        &mut q3,
        &mut wheel,
        r#"{"group":"g","id":"stale","batch":2}"#,
    );
    let Verdict::End(s) = p.verdict(head(&q3), || 1, 0) else {
        panic!("not ended");
    };
    assert_eq!(
        String::from_utf8(s).unwrap(),
        "NATS/1.0 423 Nats-Wrong-Pin-Id\r\nNats-Pending-Messages: 2\r\nNats-Pending-Bytes: 0\r\n\r\n"
    );
    // A request with another id is refused at arrival; the right one renews the timeout.
    let wrong = p.admit(&req(r#"{"group":"g","id":"other"}"#), 0, &mut wheel);
    assert_eq!(
        wrong.map_err(|s| status_line(&s)),
        Err("NATS/1.0 423 Nats-Pin-Id mismatch".to_string())
    );
    let right = format!(r#"{{"group":"g","id":"{id}"}}"#);
    assert_eq!(p.admit(&req(&right), 900, &mut wheel), Ok(()));
    let mut fired: Vec<ConsumerTimer> = Vec::new();
    wheel.advance(1500, &mut fired);
    assert!(
        !fired.iter().any(|t| t.kind == TimerKind::PinExpiry),
        "renewed at 900 ms"
    );
    wheel.advance(1900, &mut fired);
    assert!(fired.iter().any(|t| t.kind == TimerKind::PinExpiry));
    assert_eq!(
        p.on_expiry(),
        Some(PinEvent::Unpinned {
            group: "g".into(),
            reason: "timeout"
        })
    );
    assert_eq!(p.on_expiry(), None);
}

#[test]
fn unpin_cancels_the_timer_and_a_plain_batch_pins_nobody() {
    let mut wheel = Wheel::new(0);
    let mut p = pinned();
    let mut q = WaitingQueue::new(7, 10);
    queued(&mut q, &mut wheel, r#"{"group":"g"}"#);
    assert!(p
        .pin(q.front_mut().unwrap(), 7, (0, 0), &mut wheel)
        .is_some());
    assert!(p.unpin(&mut wheel).is_some());
    let mut fired: Vec<ConsumerTimer> = Vec::new();
    wheel.advance(5000, &mut fired);
    assert!(fired.is_empty());
    let mut plain = WaitingQueue::new(7, 10);
    queued(&mut plain, &mut wheel, "3");
    assert_eq!(
        p.verdict(head(&plain), || 1, 0),
        Verdict::Serve { pins: false }
    );
    assert_eq!(
        p.pin(plain.front_mut().unwrap(), 7, (0, 0), &mut wheel),
        None
    );
    let mut h = Vec::new();
    p.add_pin_header(&mut h);
    assert_eq!(h, b"NATS/1.0\r\nNats-Pin-Id: \r\n\r\n");
    let mut h = b"NATS/1.0\r\nA: b\r\n\r\n".to_vec();
    p.pin(q.front_mut().unwrap(), 7, (0, 0), &mut wheel);
    p.add_pin_header(&mut h);
    let id = &p.pin.as_ref().unwrap().id;
    assert_eq!(
        h,
        format!("NATS/1.0\r\nA: b\r\nNats-Pin-Id: {id}\r\n\r\n").into_bytes()
    );
}

#[test]
fn overflow_serves_min_pending_requests_only_past_their_threshold() {
    let mut wheel = Wheel::new(0);
    let p = Priority::new(Policy::Overflow, vec!["g".into()]);
    let mut q = WaitingQueue::new(7, 10);
    queued(&mut q, &mut wheel, r#"{"group":"g","min_pending":10}"#);
    assert_eq!(p.verdict(head(&q), || 9, 0), Verdict::PassOver);
    assert_eq!(
        p.verdict(head(&q), || 10, 0),
        Verdict::Serve { pins: false }
    );
    let mut q = WaitingQueue::new(7, 10);
    queued(&mut q, &mut wheel, r#"{"group":"g","min_ack_pending":2}"#);
    assert_eq!(p.verdict(head(&q), || 0, 1), Verdict::PassOver);
    assert_eq!(p.verdict(head(&q), || 0, 2), Verdict::Serve { pins: false });
    // Without thresholds (or with negative ones) a request is always served.
    let mut q = WaitingQueue::new(7, 10);
    queued(&mut q, &mut wheel, r#"{"group":"g","min_pending":-4}"#);
    assert_eq!(p.verdict(head(&q), || 0, 0), Verdict::Serve { pins: false });
}

#[test]
fn prioritized_queue_is_sorted_and_fifo_within_a_level() {
    let mut wheel = Wheel::new(0);
    let mut q = WaitingQueue::new(7, 10);
    q.set_prioritized(true);
    let a = queued(
        &mut q,
        &mut wheel,
        r#"{"group":"g","priority":5,"batch":2}"#,
    );
    let b = queued(
        &mut q,
        &mut wheel,
        r#"{"group":"g","priority":1,"batch":2}"#,
    );
    let c = queued(
        &mut q,
        &mut wheel,
        r#"{"group":"g","priority":1,"batch":2}"#,
    );
    let d = queued(&mut q, &mut wheel, "2");
    let order = |q: &WaitingQueue| q.iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(order(&q), vec![b, c, a, d]);
    // A served request with batch left goes to the end of its level, not of the queue.
    q.front_mut().unwrap().batch_left -= 1;
    assert!(q.rotate_after_delivery(&mut wheel).is_none());
    assert_eq!(order(&q), vec![c, b, a, d]);
}

/// Messages 1..=`last`, all matching.
struct Msgs(u64);

impl crate::jetstream::consumer::StreamView for Msgs {
    fn num_pending(&self, _filters: &[String], from_seq: u64) -> u64 {
        (self.0 + 1).saturating_sub(from_seq.max(1))
    }
    fn next(&self, from_seq: u64, _filters: &[String]) -> Option<u64> {
        (from_seq.max(1) <= self.0).then_some(from_seq.max(1))
    }
}

#[test]
fn select_cycles_past_waiting_requests_and_ends_stale_pins() {
    use crate::jetstream::consumer::state::{ConsumerLimits, ConsumerState};
    let mut wheel = Wheel::new(0);
    let state = ConsumerState::new(7, ConsumerLimits::default(), 1);
    let mut p = pinned();
    let mut q = WaitingQueue::new(7, 10);
    queued(&mut q, &mut wheel, r#"{"group":"g","batch":9}"#);
    p.pin(q.front_mut().unwrap(), 7, (0, 0), &mut wheel);
    let id = p.pin.as_ref().unwrap().id.clone();
    // Queue: a request without the id, a stale one, then the pinned client's.
    let mut q = WaitingQueue::new(7, 10);
    let waiting = queued(&mut q, &mut wheel, r#"{"group":"g"}"#);
    queued(&mut q, &mut wheel, r#"{"group":"g","id":"old"}"#);
    let pinned_req = format!(r#"{{"group":"g","id":"{id}"}}"#);
    let served = queued(&mut q, &mut wheel, &pinned_req);
    let mut ended = Vec::new();
    let got = select(&mut q, (&p, &state), (1, &Msgs(3)), &mut wheel, &mut ended);
    assert_eq!(got, Some(false));
    assert_eq!(head(&q).id, served);
    assert_eq!(ended.len(), 1);
    assert_eq!(status_line(&ended[0].1), "NATS/1.0 423 Nats-Wrong-Pin-Id");
    // With only the waiting one left, nobody may take the message.
    q.pop_front(&mut wheel);
    assert_eq!(
        select(&mut q, (&p, &state), (1, &Msgs(3)), &mut wheel, &mut ended),
        None
    );
    assert_eq!(q.iter().map(|w| w.id).collect::<Vec<_>>(), vec![waiting]);
}
