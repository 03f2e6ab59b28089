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
