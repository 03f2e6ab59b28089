//! The file store's `file_sync` through the core: with the sync deferred, a flush names the
//! files to fdatasync (the channel's segment, the server-state log) and the pipeline
//! (`commit.rs`) holds the PubAcks until the sync completed; with it off, nothing is named and
//! everything goes at once; either way what was acked is in the files for a restart.

use std::path::{Path, PathBuf};

use super::commit::SyncPipeline;
use super::proto::*;
use super::tests_support::*;
use super::*;
use crate::store::group_commit::{Step, SyncJob};
use crate::store::SyncFile;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d =
            std::env::temp_dir().join(format!("natrix-stan-sync-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A core over a file store with `sync`, its pipeline, and a sync double that completes the
/// job in flight only when the test says so.
struct Driver {
    s: StanServer<FileChannels>,
    p: SyncPipeline<SyncFile>,
    running: Option<SyncJob<SyncFile>>,
    released: Vec<Output>,
    now_ms: u64,
}

impl Driver {
    fn new(root: &Path, sync: FileSync) -> Driver {
        let f = FileChannels {
            root: root.to_path_buf(),
            sync,
        };
        let mut d = Driver {
            s: StanServer::new(opts(), f, 0).expect("starts"),
            p: SyncPipeline::new(),
            running: None,
            released: Vec::new(),
            now_ms: 0,
        };
        d.flush();
        d
    }

    fn apply(&mut self, step: Step<Output, SyncFile>) {
        self.released.extend(step.release);
        if let Some(job) = step.start {
            assert!(self.running.is_none(), "two syncs in flight");
            self.running = Some(job);
        }
    }

    /// The end of a batch: the core's commit into the pipeline; the files it named.
    fn flush(&mut self) -> Vec<PathBuf> {
        let c = self.s.take_commit();
        let files = c.files.iter().map(|f| f.path.clone()).collect();
        let step = self.p.commit(c.outputs, c.files, c.durable);
        self.apply(step);
        files
    }

    fn send(&mut self, subject: &str, reply: &str, payload: &[u8]) -> Vec<PathBuf> {
        self.now_ms += 1;
        let ns = EPOCH_NS + self.now_ms as i64 * 1_000_000;
        self.s.on_message(
            1,
            subject.as_bytes(),
            reply.as_bytes(),
            payload,
            self.now_ms,
            ns,
        );
        self.flush()
    }

    fn connect(&mut self, id: &str) -> Vec<PathBuf> {
        let req = H::connect_req(id);
        self.send("_STAN.discover.test-cluster", "r.connect", &encode(&req))
    }

    fn publish(&mut self, channel: &str, guid: &str) -> Vec<PathBuf> {
        let pm = H::pub_msg("c1", channel, guid.as_bytes(), guid);
        let subject = format!("_STAN.pub.test-cluster.{channel}");
        self.send(&subject, &format!("ack.{guid}"), &encode(&pm))
    }

    fn complete(&mut self, ok: bool) {
        let job = self.running.take().expect("no sync running");
        if !ok {
            self.s.sync_failed();
        }
        let step = self.p.synced(job.id, ok);
        self.apply(step);
    }

    /// The PubAcks released so far, by guid, with their errors.
    fn acked(&self) -> Vec<(String, String)> {
        self.released
            .iter()
            .filter_map(|o| match o {
                Output::Publish {
                    subject, payload, ..
                } if subject.starts_with("ack.") => {
                    let a: PubAck = decode(payload).expect("PubAck");
                    Some((a.guid, a.error))
                }
                _ => None,
            })
            .collect()
    }
}

fn stored(root: &Path, channel: &str) -> Vec<Vec<u8>> {
    let mut s = StanServer::new(opts(), FileChannels::new(root), 0).expect("restarts");
    let _ = s.take_outputs();
    let Some(ch) = s.channels.get_mut(channel) else {
        return Vec::new();
    };
    let (first, last) = ch.store.first_last();
    (first..=last)
        .filter_map(|seq| ch.store.lookup(seq).expect("lookup").map(|m| m.data))
        .collect()
}

#[test]
fn deferred_sync_holds_pub_acks_until_the_channel_and_state_files_are_synced() {
    let dir = Dir::new("deferred");
    let mut d = Driver::new(&dir.0, FileSync::Deferred);
    // A client coming is a server-state change: its ConnectResponse waits for the log's sync.
    let files = d.connect("c1");
    assert!(
        files.iter().any(|f| f.ends_with(".server/state.log")),
        "{files:?}"
    );
    assert!(
        !d.released
            .iter()
            .any(|o| matches!(o, Output::Publish { subject, .. } if subject == "r.connect")),
        "the ConnectResponse went out before its sync"
    );
    d.complete(true);
    assert!(d
        .released
        .iter()
        .any(|o| matches!(o, Output::Publish { subject, .. } if subject == "r.connect")));

    let files = d.publish("foo", "g1");
    assert!(
        files.iter().any(|f| f.starts_with(dir.0.join("foo"))),
        "the channel's segment is not to be synced: {files:?}"
    );
    assert!(d.acked().is_empty(), "acked before the sync");
    // Written while g1's sync runs: waits for a sync of its own.
    d.publish("foo", "g2");
    d.publish("bar", "g3");
    d.complete(true);
    assert_eq!(d.acked(), vec![("g1".to_string(), String::new())]);
    d.complete(true);
    let guids: Vec<String> = d.acked().into_iter().map(|a| a.0).collect();
    assert_eq!(guids, ["g1", "g2", "g3"]);
    assert!(d.running.is_none());

    // A failed sync acks nothing of its batch nor of what waited behind it.
    d.publish("foo", "g4");
    d.publish("foo", "g5");
    d.complete(false);
    assert!(
        d.running.is_none(),
        "what waited behind a failed sync was synced"
    );
    d.publish("foo", "g6");
    d.complete(true);
    let guids: Vec<String> = d.acked().into_iter().map(|a| a.0).collect();
    assert_eq!(guids, ["g1", "g2", "g3", "g6"]);
    drop(d);
    // Written all the same (the page cache has them): a restart finds them.
    assert_eq!(
        stored(&dir.0, "foo"),
        [&b"g1"[..], b"g2", b"g4", b"g5", b"g6"]
    );
    assert_eq!(stored(&dir.0, "bar"), [b"g3"]);
}

#[test]
fn with_file_sync_off_nothing_is_synced_and_acks_go_at_once() {
    let dir = Dir::new("off");
    let mut d = Driver::new(&dir.0, FileSync::Off);
    assert_eq!(d.connect("c1"), Vec::<PathBuf>::new());
    assert_eq!(d.publish("foo", "g1"), Vec::<PathBuf>::new());
    assert_eq!(d.publish("foo", "g2"), Vec::<PathBuf>::new());
    assert!(d.running.is_none());
    let guids: Vec<String> = d.acked().into_iter().map(|a| a.0).collect();
    assert_eq!(guids, ["g1", "g2"]);
    // Killed (dropped without a close): what was acked is in the files.
    drop(d);
    assert_eq!(stored(&dir.0, "foo"), [b"g1", b"g2"]);
}

#[test]
fn in_line_sync_names_no_file() {
    let dir = Dir::new("inline");
    let mut d = Driver::new(&dir.0, FileSync::InLine);
    d.connect("c1");
    assert_eq!(d.publish("foo", "g1"), Vec::<PathBuf>::new());
    assert_eq!(d.acked().len(), 1);
}
