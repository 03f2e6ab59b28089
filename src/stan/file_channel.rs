//! The file store's channel: [`FileChannel`], a [`LogChannel`] over a [`FileStore`].
//!
//! A subscription that starts behind the RAM-resident segments (a durable catching up,
//! `DeliverAllAvailable` over a backlog) reads its messages back from sealed segment files
//! through the store's read-ahead window (`store/read_ahead.rs`), which JetStream's
//! consumers share: a sequential catch-up costs one read per few hundred kilobytes, not one
//! `pread` per message. The STAN core never asks for a secure erase (`drop_first` does not
//! erase), and a message dropped since its window was read is absent in the log, not served.

use super::channel::{ChannelMsg, ChannelStore, LogChannel};
use crate::store::file::{FileStore, Layout, StoreIo, SyncFile};
use crate::store::{MessageLog, StoreError};

/// A channel log on files.
#[derive(Debug)]
pub struct FileChannel<Io: StoreIo> {
    inner: LogChannel<FileStore<Io>>,
}

impl<Io: StoreIo> FileChannel<Io> {
    /// Opens (recovers) or creates the channel `name` whose files are under `io`'s root.
    pub fn open(
        io: Io,
        layout: Layout,
        segment_bytes_max: u32,
        name: &str,
    ) -> Result<Self, StoreError> {
        let (store, _report) = FileStore::open(io, layout, segment_bytes_max, 1)?;
        Ok(FileChannel {
            inner: LogChannel::new(store, name),
        })
    }

    /// The store underneath (tests, tools).
    pub fn store(&mut self) -> &mut FileStore<Io> {
        self.inner.log()
    }
}

impl<Io: StoreIo> ChannelStore for FileChannel<Io> {
    fn append(&mut self, reply: &[u8], data: &[u8], ts_ns: i64) -> Result<u64, StoreError> {
        self.inner.append(reply, data, ts_ns)
    }

    fn lookup(&mut self, seq: u64) -> Result<Option<ChannelMsg>, StoreError> {
        let Some(m) = self.inner.log().fetch(seq)? else {
            return Ok(None);
        };
        Ok(Some(ChannelMsg {
            seq: m.seq,
            ts_ns: m.ts_ns,
            reply: m.headers,
            data: m.payload,
        }))
    }

    fn first_last(&self) -> (u64, u64) {
        self.inner.first_last()
    }

    fn totals(&self) -> (u64, u64) {
        self.inner.totals()
    }

    fn drop_first(&mut self) -> Result<bool, StoreError> {
        self.inner.drop_first()
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    fn take_unsynced(&mut self, out: &mut Vec<SyncFile>) -> Result<(), StoreError> {
        self.inner.take_unsynced(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::file::StdIo;
    use crate::store::read_ahead::READ_AHEAD_MIN_BYTES;
    use std::cell::Cell;
    use std::rc::Rc;

    /// StdIo that counts its `read_at` calls.
    struct Counting {
        io: StdIo,
        reads: Rc<Cell<usize>>,
    }

    impl StoreIo for Counting {
        fn create(&mut self, name: &str) -> std::io::Result<()> {
            self.io.create(name)
        }
        fn append(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
            self.io.append(name, buf)
        }
        fn write_at(&mut self, name: &str, offset: u64, buf: &[u8]) -> std::io::Result<()> {
            self.io.write_at(name, offset, buf)
        }
        fn read(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
            self.io.read(name)
        }
        fn read_at(&mut self, name: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
            self.reads.set(self.reads.get() + 1);
            self.io.read_at(name, offset, len)
        }
        fn read_from(&mut self, name: &str, offset: u64) -> std::io::Result<Vec<u8>> {
            self.io.read_from(name, offset)
        }
        fn size(&mut self, name: &str) -> std::io::Result<u64> {
            self.io.size(name)
        }
        fn truncate(&mut self, name: &str, len: u64) -> std::io::Result<()> {
            self.io.truncate(name, len)
        }
        fn sync(&mut self, name: &str) -> std::io::Result<()> {
            self.io.sync(name)
        }
        fn rename(&mut self, from: &str, to: &str) -> std::io::Result<()> {
            self.io.rename(from, to)
        }
        fn remove(&mut self, name: &str) -> std::io::Result<()> {
            self.io.remove(name)
        }
        fn list(&mut self, dir: &str) -> std::io::Result<Vec<String>> {
            self.io.list(dir)
        }
    }

    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn channel(tag: &str) -> (TempDir, FileChannel<Counting>, Rc<Cell<usize>>) {
        let dir = std::env::temp_dir().join(format!(
            "natrix-stan-fc-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let reads = Rc::new(Cell::new(0));
        let io = Counting {
            io: StdIo::new(dir.clone()),
            reads: reads.clone(),
        };
        // Small segments: most of what is written below is sealed and read from disk.
        let ch = FileChannel::open(io, Layout::default(), 4096, "foo").expect("open");
        (TempDir(dir), ch, reads)
    }

    fn data(i: u64) -> Vec<u8> {
        format!("message {i:05} {}", "x".repeat((i % 7) as usize * 20)).into_bytes()
    }

    fn fill(ch: &mut FileChannel<Counting>, n: u64) {
        for i in 1..=n {
            let reply = format!("r{i}");
            assert_eq!(
                ch.append(reply.as_bytes(), &data(i), i as i64)
                    .expect("append"),
                i
            );
            if i % 50 == 0 {
                ch.flush().expect("flush");
            }
        }
        ch.flush().expect("flush");
    }

    #[test]
    fn a_sequential_catch_up_reads_each_window_once_and_serves_every_message() {
        let (_dir, mut ch, reads) = channel("seq");
        fill(&mut ch, 2000);
        for i in 1..=2000 {
            let m = ch.lookup(i).expect("lookup").expect("present");
            assert_eq!((m.seq, m.ts_ns), (i, i as i64));
            assert_eq!(m.reply, format!("r{i}").into_bytes());
            assert_eq!(m.data, data(i));
        }
        // About 180 KB on disk in 4 KiB segments: one read per segment (a window never spans
        // two), not one per message.
        let segments = ch.store().log().counters().bytes / 4096 + 2;
        assert!(reads.get() > 0, "nothing was read from disk");
        assert!(
            reads.get() as u64 <= segments * 2,
            "{} reads for 2000 messages",
            reads.get()
        );
    }

    #[test]
    fn dropped_messages_are_absent_even_inside_a_window_already_read() {
        let (_dir, mut ch, _reads) = channel("drop");
        fill(&mut ch, 300);
        assert_eq!(ch.lookup(1).expect("lookup").map(|m| m.seq), Some(1));
        assert!(ch.drop_first().expect("drop"));
        assert!(ch.drop_first().expect("drop"));
        assert_eq!(ch.lookup(2).expect("lookup"), None);
        assert_eq!(ch.lookup(3).expect("lookup").map(|m| m.data), Some(data(3)));
    }

    #[test]
    fn random_reads_stay_small_and_still_correct() {
        let (_dir, mut ch, _reads) = channel("rand");
        fill(&mut ch, 600);
        for i in [590, 7, 300, 8, 1, 599, 150] {
            let m = ch.lookup(i).expect("lookup").expect("present");
            assert_eq!(m.data, data(i));
            assert!(ch.store().read_window_bytes() as u64 <= READ_AHEAD_MIN_BYTES + 4096);
        }
    }
}
