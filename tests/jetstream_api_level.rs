//! The JetStream API level natrix reports: 2, nats-server 2.12's, now that every level-2
//! feature (counters, atomic batches, message schedules, async persist) is served. The
//! level is reported the same way everywhere (`$JS.API.INFO`, INFO `api_lvl`, a stream's
//! `_nats.level`), a counter stream asks for level 2 (`_nats.req.level`), and a request
//! that requires more than natrix serves is refused.

mod common;

use std::time::Duration;

use common::frames::RawConn;
use common::procs::{Server, TempDir};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn natrix_serves_and_reports_api_level_2() {
    let store = TempDir::new("api-level");
    let server = Server::start_jetstream(2, &store.path, &[]);
    let info = common::RawClient::connect(&server.addr()).read_info();
    assert_eq!(info["api_lvl"].as_i64(), Some(2), "{info}");
    assert_eq!(info["version"].as_str(), Some("2.12.0"), "{info}");

    let mut c = RawConn::open(&server.addr(), WAIT);
    let acc = c.api("$JS.API.INFO", &json!({}), WAIT);
    assert_eq!(acc["api"]["level"].as_i64(), Some(2), "{acc}");

    let created = c.api(
        "$JS.API.STREAM.CREATE.C",
        &json!({"name": "C", "subjects": ["c.>"], "allow_msg_counter": true}),
        WAIT,
    );
    let meta = &created["config"]["metadata"];
    assert_eq!(meta["_nats.level"].as_str(), Some("2"), "{created}");
    assert_eq!(meta["_nats.req.level"].as_str(), Some("2"), "{created}");

    // An API request that requires level 2 is answered; one that requires 3 is refused.
    let ok = request_requiring(&mut c, "_R.x", 2);
    assert!(ok.get("error").is_none(), "{ok}");
    let refused = request_requiring(&mut c, "_R.y", 3);
    assert_eq!(
        refused["error"]["err_code"].as_i64(),
        Some(10185),
        "{refused}"
    );
}

fn request_requiring(c: &mut RawConn, inbox: &str, level: u32) -> serde_json::Value {
    let hdr = format!("NATS/1.0\r\nNats-Required-Api-Level: {level}\r\n\r\n");
    let total = hdr.len() + 2;
    c.send(&format!(
        "HPUB $JS.API.INFO {inbox} {} {total}\r\n{hdr}{{}}\r\n",
        hdr.len()
    ));
    loop {
        match c.frame(WAIT) {
            Some(common::frames::Frame::Msg {
                subject, payload, ..
            }) if subject == inbox => return serde_json::from_slice(&payload).expect("JSON"),
            Some(_) => continue,
            None => panic!("no reply on {inbox}"),
        }
    }
}
