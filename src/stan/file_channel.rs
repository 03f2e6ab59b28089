//! The file store's channel: [`FileChannel`], a [`LogChannel`] over a [`FileStore`] that
//! reads messages no longer in RAM through a read-ahead window.
//!
//! The file backend keeps only a log's active segment in RAM, so a subscription that starts
//! behind it (a durable catching up, `DeliverAllAvailable` over a backlog) reads every
//! message back from a sealed segment file. One `pread` per message was the largest cost of
//! delivering a backlog (two fifths of shard 0's CPU in `stansub` on the file store).
//! nats-server loads a whole message block into a cache for the same reason. Here a miss
//! reads a window of the segment from the message on, covering the records that follow in
//! sequence order, and the lookups that fall in it decode from that buffer. The window starts
//! at [`READ_AHEAD_MIN_BYTES`] and doubles, up to [`READ_AHEAD_MAX_BYTES`], while the misses
//! continue where the last window ended, so sparse reads (a few redeliveries far apart) stay
//! small and a sequential catch-up costs one read per few hundred kilobytes.
//!
//! Why the buffer cannot serve stale bytes: a window only ever holds bytes of a sealed
//! segment (the log says `OnDisk` only for those), sealed segments are never appended to,
//! segment ids are never reused, and every lookup asks the log first, so a message deleted
//! or dropped since the window was read is absent, not served. The only in-place rewrite of a
//! sealed segment is a secure erase, which the STAN core never asks for (`drop_first` does
//! not erase), and it too makes the message absent in the log first.

use super::channel::{ChannelMsg, ChannelStore, LogChannel};
use crate::store::file::{FileStore, Layout, StoreIo, SyncFile};
use crate::store::log::{Log, Read};
use crate::store::record;
use crate::store::{IoOp, MessageLog, StoreError};

/// The first read-ahead window after a random miss.
pub const READ_AHEAD_MIN_BYTES: u64 = 16 * 1024;
/// The largest read-ahead window (what one channel's buffer may hold).
pub const READ_AHEAD_MAX_BYTES: u64 = 256 * 1024;

/// Bytes `offset .. offset + bytes.len()` of segment `segment`, as last read.
#[derive(Debug, Default)]
struct Window {
    segment: u32,
    offset: u64,
    bytes: Vec<u8>,
    /// The size the next sequential miss asks for.
    next_bytes: u64,
}

impl Window {
    fn end(&self) -> u64 {
        self.offset + self.bytes.len() as u64
    }

    fn slice(&self, segment: u32, offset: u64, len: u32) -> Option<&[u8]> {
        if segment != self.segment || offset < self.offset {
            return None;
        }
        let start = (offset - self.offset) as usize;
        self.bytes.get(start..start + len as usize)
    }
}

/// A channel log on files, with the read-ahead window described in the module doc.
#[derive(Debug)]
pub struct FileChannel<Io: StoreIo> {
    inner: LogChannel<FileStore<Io>>,
    /// The layout the store was opened with (for segment file names).
    layout: Layout,
    window: Window,
}

impl<Io: StoreIo> FileChannel<Io> {
    /// Opens (recovers) or creates the channel `name` whose files are under `io`'s root.
    pub fn open(
        io: Io,
        layout: Layout,
        segment_bytes_max: u32,
        name: &str,
    ) -> Result<Self, StoreError> {
        let (store, _report) = FileStore::open(io, layout.clone(), segment_bytes_max, 1)?;
        Ok(FileChannel {
            inner: LogChannel::new(store, name),
            layout,
            window: Window::default(),
        })
    }

    /// The store underneath (tests, tools).
    pub fn store(&mut self) -> &mut FileStore<Io> {
        self.inner.log()
    }

    /// Reads a window of `segment` that starts at the record of `seq` (at `offset`, `len`
    /// bytes) and covers as many of the following live records of that segment as fit.
    fn fill(&mut self, seq: u64, segment: u32, offset: u64, len: u32) -> Result<(), StoreError> {
        let sequential = segment == self.window.segment && offset >= self.window.end();
        let budget = if sequential && offset - self.window.end() < READ_AHEAD_MAX_BYTES {
            self.window.next_bytes.max(READ_AHEAD_MIN_BYTES)
        } else {
            READ_AHEAD_MIN_BYTES
        };
        let mut end = offset + u64::from(len);
        let log = self.inner.log().log();
        let last_seq = log.counters().last_seq;
        // Records of one segment lie in sequence order; a hole (a deleted message) is
        // skipped, and the first record of another segment or past the budget ends it. A
        // record takes at least its header, so that many steps cover the budget.
        let mut next = seq + 1;
        let steps_max = seq + 1 + budget / record::HEADER_BYTES as u64;
        while next <= steps_max {
            match log.read(next) {
                Ok(Read::OnDisk {
                    segment: s,
                    offset: o,
                    len: l,
                }) if s == segment && o >= end => {
                    let record_end = o + u64::from(l);
                    if record_end - offset > budget {
                        break;
                    }
                    end = record_end;
                }
                Ok(Read::Absent) if next < last_seq => {}
                _ => break,
            }
            next += 1;
        }
        let name = self.layout.segment(segment);
        let bytes = self
            .inner
            .log()
            .io()
            .read_at(&name, offset, (end - offset) as usize)
            .map_err(|e| StoreError::Io {
                op: IoOp::Read,
                name,
                kind: e.kind(),
            })?;
        self.window = Window {
            segment,
            offset,
            bytes,
            next_bytes: (budget * 2).min(READ_AHEAD_MAX_BYTES),
        };
        Ok(())
    }
}

impl<Io: StoreIo> ChannelStore for FileChannel<Io> {
    fn append(&mut self, reply: &[u8], data: &[u8], ts_ns: i64) -> Result<u64, StoreError> {
        self.inner.append(reply, data, ts_ns)
    }

    fn lookup(&mut self, seq: u64) -> Result<Option<ChannelMsg>, StoreError> {
        let read = self.inner.log().log().read(seq)?;
        let m = match read {
            Read::Absent => return Ok(None),
            Read::Found(m) => m,
            Read::OnDisk {
                segment,
                offset,
                len,
            } => {
                if self.window.slice(segment, offset, len).is_none() {
                    self.fill(seq, segment, offset, len)?;
                }
                let bytes = self.window.slice(segment, offset, len).unwrap_or(&[]);
                Log::decode_read(seq, bytes)?
            }
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
            assert!(ch.window.bytes.len() as u64 <= READ_AHEAD_MIN_BYTES + 4096);
        }
    }
}
