use super::ack::{self, AckKind, AckSubject, AckSubjectError};
use super::pull::{self, PullRequest, PullRequestError, QueueFull, WaitingQueue};
use super::state::{AckOutcome, AckPolicy, ConsumerEvent, ConsumerLimits, ConsumerState};
use super::{ConsumerTimer, StreamView, TimerKind};
use crate::wheel::Wheel;

/// A stream of `last` messages (1..=last); sequences in `gaps` were deleted.
struct FakeStream {
    last: u64,
    gaps: Vec<u64>,
}

impl StreamView for FakeStream {
    fn num_pending(&self, _filters: &[String], from_seq: u64) -> u64 {
        (from_seq.max(1)..=self.last)
            .filter(|s| !self.gaps.contains(s))
            .count() as u64
    }
    fn next(&self, from_seq: u64, _filters: &[String]) -> Option<u64> {
        (from_seq.max(1)..=self.last).find(|s| !self.gaps.contains(s))
    }
}

fn stream(last: u64) -> FakeStream {
    FakeStream {
        last,
        gaps: Vec::new(),
    }
}

fn limits(policy: AckPolicy) -> ConsumerLimits {
    ConsumerLimits {
        ack_policy: policy,
        ack_wait_ms: 1_000,
        ..ConsumerLimits::default()
    }
}

/// Advances the wheel and hands fired ack timers to the state, as the shard will.
fn tick(state: &mut ConsumerState, wheel: &mut Wheel<ConsumerTimer>, now_ms: u64) {
    let mut fired = Vec::new();
    wheel.advance(now_ms, &mut fired);
    for t in fired {
        assert_eq!(t.consumer_id, 7);
        state.on_timer(t.kind);
    }
}

fn deliver_all(
    state: &mut ConsumerState,
    view: &FakeStream,
    wheel: &mut Wheel<ConsumerTimer>,
    now_ms: u64,
) -> Vec<(u64, u64, u64)> {
    let mut events = Vec::new();
    let mut out = Vec::new();
    while let Some(d) = state.next_delivery(view, now_ms, wheel, &mut events) {
        out.push((d.stream_seq, d.consumer_seq, d.deliveries));
    }
    out
}

// ---- ack subject -------------------------------------------------------------------------

#[test]
fn ack_subject_v1_encodes_as_nats_server_2_15_1_sends_it() {
    // Captured from nats-server 2.15.1 -js: first delivery of stream seq 1, 2 pending after.
    let captured = b"$JS.ACK.S.C.1.1.1.1796319431162591761.2";
    let a = ack::decode(captured).unwrap();
    assert_eq!(
        a,
        AckSubject {
            domain: None,
            account_hash: None,
            stream: "S",
            consumer: "C",
            delivered: 1,
            stream_seq: 1,
            consumer_seq: 1,
            timestamp_ns: 1_796_319_431_162_591_761,
            pending: 2,
        }
    );
    let mut out = Vec::new();
    ack::encode_v1(&mut out, &a);
    assert_eq!(out, captured);
}

#[test]
fn ack_subject_v2_decodes_with_and_without_random_token() {
    let a = ack::decode(b"$JS.ACK._.ACCHASH.ORDERS.worker.2.10.15.99.3.rnd").unwrap();
    assert_eq!(a.domain, None);
    assert_eq!(a.account_hash, Some("ACCHASH"));
    assert_eq!((a.stream, a.consumer), ("ORDERS", "worker"));
    assert_eq!((a.delivered, a.stream_seq, a.consumer_seq), (2, 10, 15));
    assert_eq!((a.timestamp_ns, a.pending), (99, 3));
    let max = ack::decode(b"$JS.ACK.S.C.1.2.3.4.18446744073709551615").unwrap();
    assert_eq!(max.pending, u64::MAX);
    let b = ack::decode(b"$JS.ACK.hub.H.S.C.1.2.3.4.5").unwrap();
    assert_eq!(b.domain, Some("hub"));
    assert_eq!(b.pending, 5);
}

#[test]
fn ack_subject_rejects_malformed_without_panicking() {
    let cases: &[(&[u8], AckSubjectError)] = &[
        (b"$JS.API.S.C.1.1.1.1.1", AckSubjectError::NotAckSubject),
        (b"$JS.ACK.S.C.1.1.1.1", AckSubjectError::TokenCount(8)),
        (b"$JS.ACK.D.H.S.C.1.1.1.1", AckSubjectError::TokenCount(10)),
        (b"$JS.ACK.S.C.1.x.1.1.1", AckSubjectError::BadNumber),
        (b"$JS.ACK.S.C.1.-1.1.1.1", AckSubjectError::BadNumber),
        (
            b"$JS.ACK.S.C.1.1.1.1.99999999999999999999",
            AckSubjectError::BadNumber,
        ),
        (b"$JS.ACK.S.C.1.+1.1.1.1", AckSubjectError::BadNumber),
        (
            b"$JS.ACK.S.C.1.1.1.1.18446744073709551616",
            AckSubjectError::BadNumber,
        ),
        (b"$JS.ACK.", AckSubjectError::EmptyToken),
        (b"$JS.ACK..S.C.1.1.1.1.1", AckSubjectError::EmptyToken),
        (b"$JS.ACK.S..1.1.1.1.1", AckSubjectError::EmptyToken),
        (b"$JS.ACK.S.C.1.1.1.1.1.", AckSubjectError::EmptyToken),
        (b"$JS.ACK.\xff.C.1.1.1.1.1", AckSubjectError::NotAckSubject),
        (b"", AckSubjectError::NotAckSubject),
    ];
    for (subject, want) in cases {
        assert_eq!(
            ack::decode(subject),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(subject)
        );
    }
}

// ---- ack payloads ------------------------------------------------------------------------

#[test]
fn ack_payloads_parse_as_nats_server_dispatches_them() {
    assert_eq!(ack::parse_payload(b""), Ok(AckKind::Ack));
    assert_eq!(ack::parse_payload(b"+ACK"), Ok(AckKind::Ack));
    assert_eq!(ack::parse_payload(b"+OK"), Ok(AckKind::Ack));
    assert_eq!(
        ack::parse_payload(b"-NAK"),
        Ok(AckKind::Nak { delay_ms: None })
    );
    assert_eq!(
        ack::parse_payload(br#"-NAK {"delay": 1000000000}"#),
        Ok(AckKind::Nak {
            delay_ms: Some(1_000)
        })
    );
    assert_eq!(
        ack::parse_payload(b"-NAK 1m30s"),
        Ok(AckKind::Nak {
            delay_ms: Some(90_000)
        })
    );
    assert_eq!(
        ack::parse_payload(b"-NAK 250ms"),
        Ok(AckKind::Nak {
            delay_ms: Some(250)
        })
    );
    // A bad delay is a plain NAK.
    assert_eq!(
        ack::parse_payload(b"-NAK {bad"),
        Ok(AckKind::Nak { delay_ms: None })
    );
    assert_eq!(
        ack::parse_payload(b"-NAK 5 parsecs"),
        Ok(AckKind::Nak { delay_ms: None })
    );
    assert_eq!(ack::parse_payload(b"+WPI"), Ok(AckKind::Progress));
    assert_eq!(
        ack::parse_payload(b"+TERM"),
        Ok(AckKind::Term { reason: None })
    );
    assert_eq!(
        ack::parse_payload(b"+TERM bad payload"),
        Ok(AckKind::Term {
            reason: Some("bad payload")
        })
    );
    let AckKind::Next(one) = ack::parse_payload(b"+NXT").unwrap() else {
        panic!("+NXT")
    };
    assert_eq!(one.batch, 1);
    let AckKind::Next(five) = ack::parse_payload(b"+NXT 5").unwrap() else {
        panic!("+NXT 5")
    };
    assert_eq!(five.batch, 5);
    let AckKind::Next(json) = ack::parse_payload(br#"+NXT {"batch":3,"no_wait":true}"#).unwrap()
    else {
        panic!("+NXT json")
    };
    assert_eq!((json.batch, json.no_wait), (3, true));
    assert_eq!(ack::parse_payload(b"hello"), Ok(AckKind::Unknown));
}

// ---- pull requests and status bytes ------------------------------------------------------

#[test]
fn pull_request_bodies_decode_with_nats_server_validation() {
    assert_eq!(PullRequest::decode(b"").unwrap().batch, 1);
    assert_eq!(PullRequest::decode(b"10").unwrap().batch, 10);
    assert_eq!(PullRequest::decode(b"0").unwrap().batch, 1);
    // async-nats sends nulls for the priority fields.
    let r = PullRequest::decode(
        br#"{"batch":200,"expires":30000000000,"max_bytes":0,"idle_heartbeat":15000000000,"min_pending":null,"group":null}"#,
    )
    .unwrap();
    assert_eq!(r.batch, 200);
    assert_eq!(r.expires_ns, 30_000_000_000);
    assert_eq!(r.idle_heartbeat_ns, 15_000_000_000);
    assert_eq!(r.priority, Some(Default::default()));
    assert_eq!(PullRequest::decode(b"3").unwrap().priority, None);
    let bad =
        PullRequest::decode(br#"{"batch":5,"expires":1000000000,"idle_heartbeat":1000000000}"#);
    assert_eq!(bad, Err(PullRequestError::HeartbeatTooLarge));
    // Captured from nats-server 2.15.1 for that request.
    assert_eq!(
        bad.unwrap_err().status(),
        b"NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n"
    );
    assert_eq!(
        PullRequest::decode(b"{nope"),
        Err(PullRequestError::BadJson)
    );
    // Captured: `0` and `abc` get no answer from nats-server 2.15.1 (they wait for one).
    assert_eq!(PullRequest::decode(b"abc").unwrap().batch, 1);
    assert_eq!(
        PullRequest::decode(br#"{"batch":-3,"no_wait":true}"#)
            .unwrap()
            .batch,
        1
    );
    // Captured: a negative expiry is answered with 408 at once.
    let past = PullRequest::decode(br#"{"batch":1,"expires":-5,"no_wait":true}"#).unwrap();
    assert_eq!(past.expires_ns, 1);
    // Captured: a heartbeat without expiry is too large.
    assert_eq!(
        PullRequest::decode(br#"{"batch":1,"no_wait":true,"idle_heartbeat":1000000000}"#),
        Err(PullRequestError::HeartbeatTooLarge)
    );
}

#[test]
fn status_messages_match_nats_server_2_15_1_captures() {
    // Header blocks of the HMSGs nats-server 2.15.1 sent (tests captured with a raw socket).
    assert_eq!(
        pull::status_no_messages(),
        b"NATS/1.0 404 No Messages\r\n\r\n"
    );
    assert_eq!(
        pull::status_request_timeout(7, 0),
        &b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 7\r\nNats-Pending-Bytes: 0\r\n\r\n"[..]
    );
    assert_eq!(
        pull::status_exceeded_max_waiting(),
        b"NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n"
    );
    assert_eq!(
        pull::status_exceeds_max_bytes(5, 3),
        &b"NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 5\r\nNats-Pending-Bytes: 3\r\n\r\n"[..]
    );
    assert_eq!(
        pull::status_idle_heartbeat(3, 3),
        &b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 3\r\nNats-Last-Stream: 3\r\n\r\n"[..]
    );
    // The captured HMSG header lengths: 28, 81, 36, 95, 75.
    assert_eq!(pull::status_no_messages().len(), 28);
    assert_eq!(pull::status_request_timeout(7, 0).len(), 81);
    assert_eq!(pull::status_exceeded_max_waiting().len(), 36);
    assert_eq!(pull::status_exceeds_max_bytes(5, 3).len(), 95);
    assert_eq!(pull::status_idle_heartbeat(3, 3).len(), 75);
}

#[test]
fn waiting_queue_caps_at_max_waiting_and_expires_through_the_wheel() {
    let mut wheel = Wheel::new(0);
    let mut q = WaitingQueue::new(7, 2);
    let req = |expires_ns| PullRequest {
        batch: 2,
        expires_ns,
        ..PullRequest::default()
    };
    let a = q
        .push(0, "_R.a".into(), req(1_000_000_000), &mut wheel)
        .unwrap();
    let b = q.push(0, "_R.b".into(), req(0), &mut wheel).unwrap();
    assert_eq!(q.push(0, "_R.c".into(), req(0), &mut wheel), Err(QueueFull));
    assert_eq!(wheel.len(), 1);
    // A delivery to the head rotates it to the tail while batch is left.
    q.front_mut().unwrap().batch_left -= 1;
    assert!(q.rotate_after_delivery(&mut wheel).is_none());
    assert_eq!(q.front_mut().unwrap().id, b);
    let mut fired = Vec::new();
    wheel.advance(999, &mut fired);
    assert!(fired.is_empty());
    wheel.advance(1_000, &mut fired);
    assert_eq!(
        fired,
        vec![ConsumerTimer {
            consumer_id: 7,
            kind: TimerKind::PullExpiry { request_id: a }
        }]
    );
    let gone = q.remove(a, &mut wheel).unwrap();
    assert_eq!(
        pull::status_request_timeout(gone.batch_left, gone.bytes_left).len(),
        81
    );
    assert_eq!(q.len(), 1);
    let drained = q.drain(&mut wheel);
    assert_eq!(drained.len(), 1);
    assert!(q.is_empty() && wheel.is_empty());
}

// ---- consumer state ----------------------------------------------------------------------

#[test]
fn unacked_message_is_redelivered_after_ack_wait_with_count_raised_and_dense_cseq() {
    let view = stream(2);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    assert_eq!(
        deliver_all(&mut c, &view, &mut wheel, 0),
        vec![(1, 1, 1), (2, 2, 1)]
    );
    assert_eq!(c.ack(2, &mut wheel), AckOutcome::Applied);
    tick(&mut c, &mut wheel, 999);
    assert!(deliver_all(&mut c, &view, &mut wheel, 999).is_empty());
    tick(&mut c, &mut wheel, 1_000);
    assert_eq!(
        deliver_all(&mut c, &view, &mut wheel, 1_000),
        vec![(1, 3, 2)]
    );
    tick(&mut c, &mut wheel, 2_000);
    assert_eq!(
        deliver_all(&mut c, &view, &mut wheel, 2_000),
        vec![(1, 4, 3)]
    );
    assert_eq!(c.pending(1).unwrap().deliveries, 3);
    assert_eq!(c.ack_floor(), (0, 0));
    c.ack(1, &mut wheel);
    assert_eq!(c.ack_floor(), (2, 4));
    assert!(wheel.is_empty());
}

#[test]
fn backoff_schedule_sets_each_redelivery_delay_and_repeats_the_last() {
    let view = stream(1);
    let mut wheel = Wheel::new(0);
    let mut l = limits(AckPolicy::Explicit);
    l.backoff_ms = vec![100, 500, 2_000];
    let mut c = ConsumerState::new(7, l, 1);
    let mut now = 0;
    let mut gaps = Vec::new();
    deliver_all(&mut c, &view, &mut wheel, now);
    for _ in 0..4 {
        let next = wheel.next_deadline().unwrap();
        gaps.push(next - now);
        now = next;
        tick(&mut c, &mut wheel, now);
        assert_eq!(deliver_all(&mut c, &view, &mut wheel, now).len(), 1);
    }
    assert_eq!(gaps, vec![100, 500, 2_000, 2_000]);
}

#[test]
fn max_deliver_reached_drops_from_pending_and_reports_an_event() {
    let view = stream(2);
    let mut wheel = Wheel::new(0);
    let mut l = limits(AckPolicy::Explicit);
    l.max_deliver = Some(2);
    let mut c = ConsumerState::new(7, l, 1);
    let mut events = Vec::new();
    let d = c.next_delivery(&view, 0, &mut wheel, &mut events).unwrap();
    assert_eq!(d.stream_seq, 1);
    tick(&mut c, &mut wheel, 1_000);
    let d = c
        .next_delivery(&view, 1_000, &mut wheel, &mut events)
        .unwrap();
    assert_eq!((d.stream_seq, d.deliveries), (1, 2));
    tick(&mut c, &mut wheel, 2_000);
    let d = c
        .next_delivery(&view, 2_000, &mut wheel, &mut events)
        .unwrap();
    // Seq 1 is dropped; the new message 2 comes instead.
    assert_eq!((d.stream_seq, d.deliveries), (2, 1));
    assert_eq!(
        events,
        vec![ConsumerEvent::MaxDeliveries {
            stream_seq: 1,
            deliveries: 2
        }]
    );
    assert!(c.pending(1).is_none());
    assert_eq!(c.ack_floor().0, 1);
}

#[test]
fn ack_all_acknowledges_every_lower_sequence() {
    let view = stream(5);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::All), 1);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 0).len(), 5);
    assert_eq!(c.ack(3, &mut wheel), AckOutcome::Applied);
    assert_eq!(c.num_ack_pending(), 2);
    assert_eq!(c.ack_floor(), (3, 3));
    assert_eq!(c.ack(2, &mut wheel), AckOutcome::Ignored);
    assert_eq!(c.ack(9, &mut wheel), AckOutcome::Ignored);
    assert_eq!(wheel.len(), 2);
    c.ack(5, &mut wheel);
    assert_eq!(c.ack_floor(), (5, 5));
    assert!(wheel.is_empty());
}

#[test]
fn out_of_order_acks_move_the_floor_only_past_contiguous_acks() {
    let view = FakeStream {
        last: 6,
        gaps: vec![3],
    };
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    // Stream seqs 1,2,4,5,6 as consumer seqs 1..5.
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 0).len(), 5);
    c.ack(4, &mut wheel);
    c.ack(2, &mut wheel);
    assert_eq!(c.ack_floor(), (0, 0));
    c.ack(1, &mut wheel);
    // The floor jumps over the deleted seq 3 and the acked 4 to just below 5.
    assert_eq!(c.ack_floor(), (4, 3));
    c.ack(6, &mut wheel);
    c.ack(5, &mut wheel);
    assert_eq!(c.ack_floor(), (6, 5));
    assert_eq!(c.ack(5, &mut wheel), AckOutcome::Ignored);
}

#[test]
fn max_ack_pending_stalls_new_deliveries_and_an_ack_releases_them() {
    let view = stream(10);
    let mut wheel = Wheel::new(0);
    let mut l = limits(AckPolicy::Explicit);
    l.max_ack_pending = Some(3);
    let mut c = ConsumerState::new(7, l, 1);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 0).len(), 3);
    assert!(c.stalled());
    assert_eq!(c.num_pending(&view), 7);
    c.ack(2, &mut wheel);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 1), vec![(4, 4, 1)]);
    // Redeliveries are not blocked by the cap.
    tick(&mut c, &mut wheel, 1_000);
    let again = deliver_all(&mut c, &view, &mut wheel, 1_000);
    assert_eq!(again, vec![(1, 5, 2), (3, 6, 2)]);
}

#[test]
fn nak_with_delay_redelivers_once_the_delay_passes_and_plain_nak_at_once() {
    let view = stream(2);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver_all(&mut c, &view, &mut wheel, 0);
    assert_eq!(c.nak(1, Some(300), 10, &mut wheel), AckOutcome::Applied);
    c.nak(2, None, 10, &mut wheel);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 10), vec![(2, 3, 2)]);
    tick(&mut c, &mut wheel, 309);
    assert!(deliver_all(&mut c, &view, &mut wheel, 309).is_empty());
    tick(&mut c, &mut wheel, 310);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 310), vec![(1, 4, 2)]);
    assert_eq!(c.nak(99, None, 310, &mut wheel), AckOutcome::Ignored);
}

#[test]
fn progress_resets_the_timer_and_term_stops_redelivery() {
    let view = stream(2);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    let mut events = Vec::new();
    deliver_all(&mut c, &view, &mut wheel, 0);
    c.progress(1, 800, &mut wheel);
    tick(&mut c, &mut wheel, 1_000);
    // Only seq 2 timed out; seq 1 now waits until 1 800.
    assert_eq!(
        deliver_all(&mut c, &view, &mut wheel, 1_000),
        vec![(2, 3, 2)]
    );
    assert_eq!(c.term(1, &mut wheel, &mut events), AckOutcome::Applied);
    assert_eq!(
        events,
        vec![ConsumerEvent::Terminated {
            stream_seq: 1,
            deliveries: 1
        }]
    );
    tick(&mut c, &mut wheel, 1_800);
    assert!(deliver_all(&mut c, &view, &mut wheel, 1_800).is_empty());
    assert_eq!(c.ack_floor().0, 1);
}

#[test]
fn ack_policy_none_moves_floors_with_delivery_and_arms_nothing() {
    let view = stream(3);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::None), 1);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 0).len(), 3);
    assert_eq!(c.ack_floor(), (3, 3));
    assert!(wheel.is_empty());
    assert_eq!(c.ack(1, &mut wheel), AckOutcome::Ignored);
}

#[test]
fn snapshot_round_trips_and_rearms_timers() {
    let view = stream(6);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver_all(&mut c, &view, &mut wheel, 0);
    c.ack(1, &mut wheel);
    c.ack(4, &mut wheel);
    tick(&mut c, &mut wheel, 1_000);
    deliver_all(&mut c, &view, &mut wheel, 1_000);
    let mut bytes = Vec::new();
    c.encode(&mut bytes);
    assert!(bytes.len() < 40, "snapshot is {} bytes", bytes.len());

    let mut wheel2 = Wheel::new(1_000);
    let mut r = ConsumerState::decode(7, c.limits().clone(), &bytes, &mut wheel2).unwrap();
    assert_eq!(r.ack_floor(), c.ack_floor());
    assert_eq!(r.delivered(), c.delivered());
    assert_eq!(r.num_ack_pending(), c.num_ack_pending());
    for seq in [2, 3, 5, 6] {
        let (a, b) = (r.pending(seq).unwrap(), c.pending(seq).unwrap());
        assert_eq!(
            (a.consumer_seq, a.deliveries, a.timestamp_ms),
            (b.consumer_seq, b.deliveries, b.timestamp_ms)
        );
    }
    assert_eq!(wheel2.len(), 4);
    tick(&mut r, &mut wheel2, 2_000);
    assert_eq!(deliver_all(&mut r, &view, &mut wheel2, 2_000).len(), 4);
}

#[test]
fn snapshot_decoder_refuses_corrupt_bytes() {
    let view = stream(3);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver_all(&mut c, &view, &mut wheel, 0);
    let mut bytes = Vec::new();
    c.encode(&mut bytes);
    let l = c.limits().clone();
    let mut w = Wheel::new(0);
    for cut in 0..bytes.len() {
        assert!(
            ConsumerState::decode(7, l.clone(), &bytes[..cut], &mut w).is_err(),
            "cut {cut}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(ConsumerState::decode(7, l.clone(), &long, &mut w).is_err());
    let mut v = bytes.clone();
    v[0] = 9;
    assert!(ConsumerState::decode(7, l.clone(), &v, &mut w).is_err());
    // Every single-byte corruption either decodes to a consistent state or is refused.
    for i in 0..bytes.len() {
        for x in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] = x;
            if let Ok(s) = ConsumerState::decode(7, l.clone(), &b, &mut w) {
                assert!(s.ack_floor().0 <= s.delivered().1);
            }
        }
    }
}

#[test]
fn redelivered_low_sequence_holds_the_consumer_floor_at_its_first_delivery() {
    let view = stream(2);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver_all(&mut c, &view, &mut wheel, 0);
    c.nak(1, None, 0, &mut wheel);
    assert_eq!(deliver_all(&mut c, &view, &mut wheel, 0), vec![(1, 3, 2)]);
    c.ack(2, &mut wheel);
    assert_eq!(c.ack_floor(), (0, 0));
    c.ack(1, &mut wheel);
    assert_eq!(c.ack_floor(), (2, 3));
}

#[test]
fn nak_with_delay_of_a_queued_message_takes_it_out_of_the_queue() {
    let view = stream(1);
    let mut wheel = Wheel::new(0);
    let mut c = ConsumerState::new(7, limits(AckPolicy::Explicit), 1);
    deliver_all(&mut c, &view, &mut wheel, 0);
    tick(&mut c, &mut wheel, 1_000);
    assert_eq!(c.num_redelivery_queued(), 1);
    c.nak(1, Some(500), 1_000, &mut wheel);
    assert_eq!(c.num_redelivery_queued(), 0);
    assert!(deliver_all(&mut c, &view, &mut wheel, 1_000).is_empty());
    tick(&mut c, &mut wheel, 1_500);
    assert_eq!(
        deliver_all(&mut c, &view, &mut wheel, 1_500),
        vec![(1, 2, 2)]
    );
}

#[test]
fn idle_heartbeats_fire_each_interval_without_delivery_and_a_delivery_pushes_them_back() {
    let mut wheel = Wheel::new(0);
    let mut q = WaitingQueue::new(7, 4);
    let req =
        PullRequest::decode(br#"{"batch":5,"expires":3000000000,"idle_heartbeat":1000000000}"#)
            .unwrap();
    let id = q.push(0, "_R.f".into(), req, &mut wheel).unwrap();
    let hb = ConsumerTimer {
        consumer_id: 7,
        kind: TimerKind::PullHeartbeat { request_id: id },
    };
    let mut fired = Vec::new();
    wheel.advance(1_000, &mut fired);
    assert_eq!(fired, vec![hb]);
    assert_eq!(q.on_heartbeat(id, 1_000, &mut wheel), Some("_R.f"));
    // A delivery at 1 500 moves the next heartbeat from 2 000 to 2 500.
    q.note_delivery(1_500, &mut wheel);
    fired.clear();
    wheel.advance(2_499, &mut fired);
    assert!(fired.is_empty());
    wheel.advance(2_500, &mut fired);
    assert_eq!(fired, vec![hb]);
    q.on_heartbeat(id, 2_500, &mut wheel);
    // Expiry at 3 000; removing the request cancels its heartbeat too.
    fired.clear();
    wheel.advance(3_000, &mut fired);
    assert_eq!(fired.len(), 1);
    q.remove(id, &mut wheel).unwrap();
    assert!(wheel.is_empty());
    assert_eq!(q.on_heartbeat(id, 3_000, &mut wheel), None);
}
