//! The pipelined group commit over a real file stream, without a runtime: the test is the
//! driver, syncing (or failing) each job when it says so.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::jetstream::api::backend::{MsgQuery, StreamBackend};
use crate::jetstream::api::{self, ApiEnv, Response};
use crate::store::group_commit::GroupCommit;
use crate::store::SyncFile;
use crate::wheel::Wheel;

use crate::test_dir::TempDir;

fn open(root: &TempDir, defer_sync: bool) -> AccountStreams {
    let wheel = Rc::new(RefCell::new(Wheel::new(0)));
    let env = ApiEnv::new("2.15.1", 0);
    AccountStreams::open_with_sync(Some(root.0.clone()), true, defer_sync, env, 0, wheel)
}

fn create(a: &mut AccountStreams, name: &str, subject: &str) {
    let mut env = a.env.clone();
    let body = format!(r#"{{"name":"{name}","subjects":["{subject}"]}}"#);
    let subj = format!("$JS.API.STREAM.CREATE.{name}");
    let r = api::handle(&subj, "_INBOX.x", b"", body.as_bytes(), 10, a, &mut env);
    let Response::Json(j) = r else {
        panic!("{r:?}")
    };
    assert!(!String::from_utf8_lossy(&j).contains("\"error\""));
}

/// Publishes and commits; returns the ack the shard would hold.
fn publish(a: &mut AccountStreams, stream: &str, subject: &str, now: i64) -> Vec<u8> {
    let ack = a.publish(stream, subject, b"", b"data", now).unwrap().ack;
    assert!(a.commit());
    ack
}

/// Sequences of `stream` as a fresh open of the directory finds them (what is written).
fn on_disk(dir: &TempDir, stream: &str) -> Vec<u64> {
    let a = open(dir, false);
    let mut out = Vec::new();
    let mut from = 1;
    while let Ok(m) = a.get_msg(
        stream,
        &MsgQuery::NextBySubject {
            seq: from,
            subject: ">".into(),
        },
    ) {
        from = m.seq + 1;
        out.push(m.seq);
    }
    out
}

#[test]
fn a_second_commit_is_written_while_the_first_sync_is_pending_and_each_ack_waits_for_its_own_sync()
{
    let dir = TempDir::new("gc-pipeline");
    let mut a = open(&dir, true);
    create(&mut a, "S", "s.>");
    let mut gc: GroupCommit<Vec<u8>, SyncFile> = GroupCommit::new();

    let ack1 = publish(&mut a, "S", "s.1", 1);
    let files = std::mem::take(&mut a.unsynced);
    assert_eq!(files.len(), 1, "one segment to sync: {files:?}");
    let step = gc.commit(vec![ack1.clone()], files, true);
    assert!(step.release.is_empty(), "acked before its sync");
    let first = step.start.expect("the first sync starts at once");

    // The first sync is pending: the next batch is stored and written all the same.
    let ack2 = publish(&mut a, "S", "s.2", 2);
    assert_eq!(on_disk(&dir, "S"), vec![1, 2]);
    let step = gc.commit(vec![ack2.clone()], std::mem::take(&mut a.unsynced), true);
    assert!(step.release.is_empty() && step.start.is_none());

    for f in first.files {
        std::fs::File::from(f.fd).sync_data().unwrap();
    }
    let step = gc.synced(first.id, true);
    assert_eq!(step.release, vec![ack1], "only the first batch's ack");
    let second = step.start.expect("the second batch's sync starts now");
    assert_eq!(second.files.len(), 1);
    let step = gc.synced(second.id, true);
    assert_eq!(step.release, vec![ack2]);
}

#[test]
fn a_failed_sync_releases_no_ack_of_its_batch_nor_of_the_batch_written_behind_it() {
    let dir = TempDir::new("gc-fail");
    let mut a = open(&dir, true);
    create(&mut a, "S", "s.>");
    let mut gc: GroupCommit<Vec<u8>, SyncFile> = GroupCommit::new();
    let ack1 = publish(&mut a, "S", "s.1", 1);
    let first = gc
        .commit(vec![ack1], std::mem::take(&mut a.unsynced), true)
        .start
        .unwrap();
    let ack2 = publish(&mut a, "S", "s.2", 2);
    assert!(gc
        .commit(vec![ack2], std::mem::take(&mut a.unsynced), true)
        .start
        .is_none());
    let step = gc.synced(first.id, false);
    assert!(step.release.is_empty() && step.start.is_none());
    assert_eq!(gc.held(), 0);
}

#[test]
fn without_a_deferred_sync_the_commit_leaves_nothing_to_sync() {
    let dir = TempDir::new("gc-inline");
    let mut a = open(&dir, false);
    create(&mut a, "S", "s.>");
    publish(&mut a, "S", "s.1", 1);
    assert!(a.unsynced.is_empty());
}

/// `persist_mode: async` under `sync_interval: always`: its commits leave nothing to
/// fdatasync (nats-server turns `SyncAlways` off for it), after a restart too, while a
/// default stream beside it still hands its segment over; its acks follow the write.
#[test]
fn an_async_persist_stream_leaves_no_fdatasync_to_its_commits_and_a_default_one_does() {
    let dir = TempDir::new("gc-async-persist");
    let mut a = open(&dir, true);
    let mut env = a.env.clone();
    let body = br#"{"name":"A","subjects":["a.>"],"persist_mode":"async"}"#;
    let r = api::handle(
        "$JS.API.STREAM.CREATE.A",
        "_INBOX.x",
        b"",
        body,
        10,
        &mut a,
        &mut env,
    );
    let Response::Json(j) = r else {
        panic!("{r:?}")
    };
    assert!(!String::from_utf8_lossy(&j).contains("\"error\""), "{j:?}");
    create(&mut a, "D", "d.>");
    assert!(a.any_async_persist());
    for reopened in [false, true] {
        if reopened {
            a = open(&dir, true);
            assert!(a.any_async_persist(), "the config came back");
        }
        let now = if reopened { 3 } else { 1 };
        publish(&mut a, "A", "a.1", now);
        assert!(
            a.unsynced.is_empty(),
            "reopened {reopened}: {:?}",
            a.unsynced
        );
        publish(&mut a, "D", "d.1", now + 1);
        assert_eq!(
            a.unsynced.len(),
            1,
            "reopened {reopened}: the default stream syncs"
        );
        a.unsynced.clear();
    }
    // Written before the ack all the same.
    assert_eq!(on_disk(&dir, "A"), vec![1, 2]);
}
