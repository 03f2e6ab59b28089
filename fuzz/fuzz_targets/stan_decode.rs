//! Feeds arbitrary bytes to the STAN core as each request kind (connect, ping, publish,
//! subscribe, unsubscribe, subscription close, close, ack, and answers to the core's own
//! requests), with the clock moving between them. Nothing may panic, and until a fuzzed
//! connect or subscribe decodes (and may name any inbox), every response the core publishes
//! to a request's reply subject must decode as that request's response type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::stan::proto::{self, *};
use natrix::stan::{MemChannels, Output, StanOptions, StanServer};

const SUBJECTS: [&str; 10] = [
    "_STAN.discover.test-cluster",
    "_STAN.discover.test-cluster.pings",
    "_STAN.pub.test-cluster.foo",
    "_STAN.sub.test-cluster",
    "_STAN.unsub.test-cluster",
    "_STAN.subclose.test-cluster",
    "_STAN.close.test-cluster",
    "_INBOX.F.ack.1",
    "_INBOX.F.1",
    "_INBOX.F.2",
];

fn check(out: &[Output]) {
    for o in out {
        if let Output::Publish { subject, payload, .. } = o {
            let ok = match subject.as_str() {
                "r.0" => proto::decode::<ConnectResponse>(payload).is_some(),
                "r.1" => proto::decode::<PingResponse>(payload).is_some(),
                "r.2" => proto::decode::<PubAck>(payload).is_some(),
                "r.3" | "r.4" | "r.5" => proto::decode::<SubscriptionResponse>(payload).is_some(),
                "r.6" => proto::decode::<CloseResponse>(payload).is_some(),
                "in" => proto::decode::<MsgProto>(payload).is_some(),
                _ => true,
            };
            assert!(ok, "undecodable answer on {subject}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = StanOptions {
        server_token: "F".into(),
        hb_interval_ms: 1_000,
        hb_timeout_ms: 100,
        ..StanOptions::default()
    };
    let Ok(mut s) = StanServer::new(opts, MemChannels, 0) else {
        return;
    };
    let mut now: u64 = 0;
    let ns = |now: u64| 1_700_000_000_000_000_000i64 + now as i64 * 1_000_000;
    // A client with a subscription, so decoded requests reach the deeper paths.
    let connect = ConnectRequest {
        client_id: "c".into(),
        heartbeat_inbox: "hb".into(),
        protocol: 1,
        conn_id: b"cid".to_vec(),
        ping_interval: 1,
        ping_max_out: 3,
    };
    s.on_message(1, SUBJECTS[0].as_bytes(), b"r.0", &proto::encode(&connect), now, ns(now));
    let sub = SubscriptionRequest {
        client_id: "c".into(),
        subject: "foo".into(),
        inbox: "in".into(),
        max_in_flight: 2,
        ack_wait_in_secs: 1,
        start_position: 4,
        ..Default::default()
    };
    s.on_message(1, SUBJECTS[3].as_bytes(), b"r.3", &proto::encode(&sub), now, ns(now));
    check(&s.take_outputs());
    // Records: [kind, advance, len, bytes...].
    let mut rest = data;
    let mut tainted = false;
    while rest.len() >= 3 {
        let (kind, advance, len) = (rest[0], rest[1], rest[2] as usize);
        rest = &rest[3..];
        let payload = &rest[..len.min(rest.len())];
        rest = &rest[payload.len()..];
        now += u64::from(advance) * 20;
        s.on_timer(now);
        let k = kind as usize % (SUBJECTS.len() + 1);
        if k == SUBJECTS.len() {
            s.on_connection_closed(u64::from(kind >> 4), now);
        } else {
            let reply = format!("r.{k}");
            let conn = u64::from(kind >> 6);
            s.on_message(conn, SUBJECTS[k].as_bytes(), reply.as_bytes(), payload, now, ns(now));
        }
        tainted |= (k == 0 && proto::decode::<ConnectRequest>(payload).is_some())
            || (k == 3 && proto::decode::<SubscriptionRequest>(payload).is_some());
        let out = s.take_outputs();
        if !tainted {
            check(&out);
        }
    }
    s.on_timer(now + 120_000);
    let _ = s.take_outputs();
});
