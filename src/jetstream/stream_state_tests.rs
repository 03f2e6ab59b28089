//! The state a STREAM.CREATE or INFO reports, as nats-server 2.15.1 reports it (seen on the
//! wire): `first_seq` 0 for a stream that never stored anything and has no configured
//! `first_seq`, else the next sequence.

use std::cell::RefCell;
use std::rc::Rc;

use crate::jetstream::api::ApiEnv;
use crate::jetstream::streams::AccountStreams;
use crate::jetstream::test_api::{create, request};
use crate::test_dir::TempDir;
use crate::wheel::Wheel;

fn open(root: Option<&TempDir>) -> AccountStreams {
    let wheel = Rc::new(RefCell::new(Wheel::new(0)));
    let root = root.map(|d| d.0.clone());
    AccountStreams::open(root, false, ApiEnv::new("2.15.1", 0), 0, wheel)
}

fn seqs(v: &serde_json::Value) -> (u64, u64) {
    let st = &v["state"];
    (
        st["first_seq"].as_u64().unwrap(),
        st["last_seq"].as_u64().unwrap(),
    )
}

#[test]
fn a_stream_that_never_stored_reports_first_seq_0_unless_configured() {
    let mut a = open(None);
    let e = create(&mut a, r#"{"name":"E","subjects":["e.>"]}"#, 1);
    assert_eq!(seqs(&e), (0, 0));
    let one = create(
        &mut a,
        r#"{"name":"O","subjects":["o.>"],"first_seq":1}"#,
        1,
    );
    assert_eq!(seqs(&one), (1, 0));
    let ten = create(
        &mut a,
        r#"{"name":"T","subjects":["t.>"],"first_seq":10}"#,
        1,
    );
    assert_eq!(seqs(&ten), (10, 9));
    a.publish("E", "e.x", b"", b"a", 2).unwrap();
    assert!(a.commit());
    assert_eq!(
        seqs(&request(&mut a, "$JS.API.STREAM.INFO.E", "", 3)),
        (1, 1)
    );
    request(&mut a, "$JS.API.STREAM.PURGE.E", "", 4);
    assert_eq!(
        seqs(&request(&mut a, "$JS.API.STREAM.INFO.E", "", 5)),
        (2, 1)
    );
}

#[test]
fn an_empty_file_stream_still_reports_first_seq_0_after_a_restart() {
    let dir = TempDir::new("stream-state");
    {
        let mut a = open(Some(&dir));
        create(&mut a, r#"{"name":"E","subjects":["e.>"]}"#, 1);
        assert!(a.commit());
    }
    let mut a = open(Some(&dir));
    assert_eq!(
        seqs(&request(&mut a, "$JS.API.STREAM.INFO.E", "", 2)),
        (0, 0)
    );
}

/// A memory stream counts each message as nats-server's memory store does: subject, headers
/// and payload plus 16 (nats-server 2.15.1 said 505, then 472 after deleting seq 2, for the
/// messages below published with JSON-quoted payloads); a file stream its record sizes.
#[test]
fn a_memory_stream_counts_bytes_as_nats_server_does() {
    let mut a = open(None);
    create(
        &mut a,
        r#"{"name":"M","subjects":["mm.>"],"storage":"memory"}"#,
        1,
    );
    create(&mut a, r#"{"name":"F","subjects":["ff.>"]}"#, 1);
    let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
    for (stream, prefix) in [("M", "mm"), ("F", "ff")] {
        for i in 0..8 {
            let payload = format!("\"{}\"", "v".repeat(i * 10));
            let subject = format!("{prefix}.k{i}");
            a.publish(stream, &subject, b"", payload.as_bytes(), 2)
                .unwrap();
        }
        a.publish(stream, &format!("{prefix}.h"), hdr, b"xyz", 2)
            .unwrap();
    }
    assert!(a.commit());
    let bytes = |a: &mut AccountStreams, s: &str| {
        request(a, &format!("$JS.API.STREAM.INFO.{s}"), "", 3)["state"]["bytes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(bytes(&mut a, "M"), 505);
    // The same messages as records: 32 bytes of header each instead of 16.
    assert_eq!(bytes(&mut a, "F"), 505 + 9 * 16);
    request(&mut a, "$JS.API.STREAM.MSG.DELETE.M", r#"{"seq":2}"#, 4);
    assert_eq!(bytes(&mut a, "M"), 472);
    request(&mut a, "$JS.API.STREAM.PURGE.M", "", 5);
    assert_eq!(bytes(&mut a, "M"), 0);
}
