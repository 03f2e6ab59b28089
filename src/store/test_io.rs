//! Test support: a [`StdIo`] that notes what recovery reads, for tests that check a restart
//! reads only what it must.

use std::collections::HashSet;

use super::file::{StdIo, StoreIo};

pub(super) struct WatchedIo {
    pub inner: StdIo,
    /// Bytes read from segment files (`.blk`), by any read.
    pub segment_bytes_read: usize,
    /// Files read whole or from an offset to their end (not `read_at`).
    pub read_to_end: HashSet<String>,
    /// `read_at` calls on segment files.
    pub segment_reads_at: usize,
}

impl WatchedIo {
    pub fn new(inner: StdIo) -> WatchedIo {
        WatchedIo {
            inner,
            segment_bytes_read: 0,
            read_to_end: HashSet::new(),
            segment_reads_at: 0,
        }
    }

    fn count(&mut self, name: &str, r: std::io::Result<Vec<u8>>) -> std::io::Result<Vec<u8>> {
        if name.ends_with(".blk") {
            self.segment_bytes_read += r.as_ref().map_or(0, |b| b.len());
        }
        r
    }
}

impl StoreIo for WatchedIo {
    fn create(&mut self, name: &str) -> std::io::Result<()> {
        self.inner.create(name)
    }
    fn append(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
        self.inner.append(name, buf)
    }
    fn put(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
        self.inner.put(name, buf)
    }
    fn write_at(&mut self, name: &str, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_at(name, offset, buf)
    }
    fn read(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
        self.read_to_end.insert(name.to_string());
        let r = self.inner.read(name);
        self.count(name, r)
    }
    fn read_at(&mut self, name: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        if name.ends_with(".blk") {
            self.segment_reads_at += 1;
        }
        let r = self.inner.read_at(name, offset, len);
        self.count(name, r)
    }
    fn read_from(&mut self, name: &str, offset: u64) -> std::io::Result<Vec<u8>> {
        self.read_to_end.insert(name.to_string());
        let r = self.inner.read_from(name, offset);
        self.count(name, r)
    }
    fn size(&mut self, name: &str) -> std::io::Result<u64> {
        self.inner.size(name)
    }
    fn truncate(&mut self, name: &str, len: u64) -> std::io::Result<()> {
        self.inner.truncate(name, len)
    }
    fn sync(&mut self, name: &str) -> std::io::Result<()> {
        self.inner.sync(name)
    }
    fn rename(&mut self, from: &str, to: &str) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&mut self, name: &str) -> std::io::Result<()> {
        self.inner.remove(name)
    }
    fn list(&mut self, dir: &str) -> std::io::Result<Vec<String>> {
        self.inner.list(dir)
    }
}
