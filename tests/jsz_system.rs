//! `/jsz` through the system account: `$SYS.REQ.SERVER.PING.JSZ` answers the `/jsz`
//! document (with nats-server's `JSzOptions` in the body: `accounts`, `streams`, `consumer`,
//! `config`, ...) and `$SYS.REQ.ACCOUNT.<acc>.JSZ` the account's `account_details` entry,
//! or an error for an account JetStream does not serve.
//!
//! Written against nats-server 2.15.1 first (`NATRIX_TEST_AGAINST_REFERENCE=1`); natrix must
//! pass it unchanged. Accounts: SYS (system, user sys), A (JetStream on, user a, a stream
//! `S` with 2 messages), B (JetStream off, user b).

mod common;
#[path = "accounts/support.rs"]
mod support;

use serde_json::Value;

use common::procs::{Server, TempDir};
use support::{login, read_msg};

fn start(store: &TempDir) -> Server {
    let conf = format!(
        "system_account: SYS\njetstream {{ store_dir: \"{}\" }}\naccounts {{\n  \
         SYS {{ users: [{{user: sys, password: sys}}] }}\n  \
         A {{ jetstream: enabled, users: [{{user: a, password: a}}] }}\n  \
         B {{ users: [{{user: b, password: b}}] }}\n}}\n",
        store.path.display()
    );
    let path = store.write("jsz.conf", &conf);
    Server::start(2, &["-c", &path])
}

/// Sends `body` to `subject` from `c` and returns the JSON reply.
fn request(c: &mut common::RawClient, subject: &str, body: &str, inbox: &str) -> Value {
    c.send(format!("PUB {subject} {inbox} {}\r\n{body}\r\n", body.len()).as_bytes());
    let msg = read_msg(c);
    assert_eq!(msg.subject, inbox, "reply to {subject}: {msg:?}");
    serde_json::from_str(&msg.payload)
        .unwrap_or_else(|e| panic!("reply to {subject} is not JSON ({e}): {:?}", msg.payload))
}

#[test]
fn system_jsz_requests_answer_the_jsz_document_and_the_account_detail() {
    let store = TempDir::new("jsz-system");
    let server = start(&store);
    let mut a = login(&server, "a", "a");
    a.sync(b"SUB _INBOX.a.* 1\r\n");
    let created = request(
        &mut a,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
        "_INBOX.a.create",
    );
    assert_eq!(created["config"]["name"], "S", "{created}");
    for i in 0..2 {
        let ack = request(&mut a, "s.x", "hello", &format!("_INBOX.a.p{i}"));
        assert_eq!(ack["seq"], i + 1, "{ack}");
    }

    let mut sys = login(&server, "sys", "sys");
    sys.sync(b"SUB _INBOX.s.* 1\r\n");
    let v = request(&mut sys, "$SYS.REQ.SERVER.PING.JSZ", "", "_INBOX.s.ping");
    assert!(v["server"]["jetstream"] == true, "{v}");
    let d = &v["data"];
    assert_eq!(
        (
            d["streams"].clone(),
            d["messages"].clone(),
            d["accounts"].clone()
        ),
        (1.into(), 2.into(), 1.into()),
        "{d}"
    );
    assert!(d.get("account_details").is_none(), "{d}");
    assert!(d["server_id"].is_string() && d["config"].is_object(), "{d}");

    let v = request(
        &mut sys,
        "$SYS.REQ.SERVER.PING.JSZ",
        r#"{"accounts":true,"streams":true}"#,
        "_INBOX.s.accounts",
    );
    let details = v["data"]["account_details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(details.len(), 1, "{v}");
    assert_eq!(details[0]["name"], "A");
    assert_eq!(details[0]["stream_detail"][0]["name"], "S");
    assert_eq!(details[0]["stream_detail"][0]["state"]["messages"], 2);

    let v = request(
        &mut sys,
        "$SYS.REQ.ACCOUNT.A.JSZ",
        r#"{"streams":true}"#,
        "_INBOX.s.acc",
    );
    let d = &v["data"];
    assert_eq!(
        (d["name"].clone(), d["id"].clone()),
        ("A".into(), "A".into()),
        "{v}"
    );
    assert_eq!(d["stream_detail"][0]["state"]["messages"], 2, "{v}");
    assert!(
        d.get("streams").is_none(),
        "the account entry, not the document: {v}"
    );

    let v = request(&mut sys, "$SYS.REQ.ACCOUNT.B.JSZ", "", "_INBOX.s.b");
    assert!(v.get("data").is_none() || v["data"].is_null(), "{v}");
    assert_eq!(v["error"]["code"], 500, "{v}");
    assert_eq!(
        v["error"]["description"], "account \"B\" not jetstream enabled",
        "{v}"
    );
}
