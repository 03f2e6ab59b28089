//! Feeds arbitrary bytes to the monitoring port's request parser and answers whatever it
//! accepts, checking that:
//! - a parsed request consumes `0 < n <= len` bytes, and a longer input with the same
//!   prefix parses to the same request (pipelining cannot change the first answer);
//! - every path and query gets 200, 400 or 404, never a panic, with a JSON body for 200s
//!   on the JSON endpoints.

#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use natrix::config::Options;
use natrix::monitor::snapshot::{ConnSnapshot, ServerSnapshot, Snapshot, SubSnapshot};
use natrix::monitor::{handle, http};

fn snapshot() -> Snapshot {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let now = start + Duration::from_secs(90);
    let conn = |cid: u64, subject: &str, queue: &str| ConnSnapshot {
        cid,
        ip: "127.0.0.1".into(),
        port: 40000 + cid as u16,
        start,
        last_activity: now,
        rtt: Duration::from_micros(150),
        pending_bytes: 0,
        in_msgs: cid * 3,
        out_msgs: cid * 5,
        in_bytes: cid * 30,
        out_bytes: cid * 50,
        stalls: 0,
        name: format!("c{cid}"),
        lang: "rust".into(),
        version: "1".into(),
        authorized_user: String::new(),
        account: "$G".into(),
        tls: None,
        subscriptions: vec![SubSnapshot {
            subject: subject.into(),
            queue: queue.into(),
            sid: cid.to_string(),
            msgs: cid,
            max: 0,
            pending_msgs: 0,
        }],
        subscription_count: 1,
        closed: None,
    };
    Snapshot {
        server: ServerSnapshot::from_options(&Options::default(), "NFUZZ", "0.0.0", start, now),
        connections: vec![conn(1, "foo.bar", ""), conn(2, "foo.*", "q"), conn(3, ">", "")],
        closed: Vec::new(),
        sublist: Default::default(),
        jetstream: None,
        streaming: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some((req, used))) = http::parse_request(data) else {
        return;
    };
    assert!(used > 0 && used <= data.len());
    let mut longer = data[..used].to_vec();
    longer.extend_from_slice(b"GET /varz HTTP/1.1\r\n\r\n");
    match http::parse_request(&longer) {
        Ok(Some((again, n))) => assert!(again == req && n == used),
        other => panic!("the same prefix parsed differently: {other:?}"),
    }
    let resp = handle(&req.path, &req.query, &snapshot());
    assert!(matches!(resp.status, 200 | 400 | 404), "{}", resp.status);
    if resp.status == 200 && resp.content_type == "application/json" {
        assert!(serde_json::from_slice::<serde_json::Value>(&resp.body).is_ok());
    }
    let _ = http::encode_response(&resp, SystemTime::UNIX_EPOCH, req.keep_alive);
});
