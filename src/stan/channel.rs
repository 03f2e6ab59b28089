//! Channels: the message log behind a trait ([`ChannelStore`]), its implementation over the
//! storage engine ([`LogChannel`], memory or file backend), the factories that make one per
//! channel, and channel-name rules.
//!
//! A channel's log holds each message as one record whose subject is the channel name, whose
//! header bytes are the PubMsg's `reply` and whose payload is the data. Limits only ever drop
//! the oldest messages, so the live sequences of a channel are contiguous from `first` to
//! `last`, and timestamps (kept monotonic by the core) are sorted: a lookup by time is a binary
//! search over sequences.

use super::file_channel::FileChannel;
use super::state_log::{IoStateLog, StateLog, STATE_DIR};
use crate::store::file::{Layout, StdIo, SyncFile};
use crate::store::{IoOp, MemStore, MessageLog, StoreError};

/// One stored message of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelMsg {
    pub seq: u64,
    pub ts_ns: i64,
    pub reply: Vec<u8>,
    pub data: Vec<u8>,
}

/// A channel's message log, as the STAN core needs it.
pub trait ChannelStore {
    /// Appends a message; returns its sequence (1 for the first message ever).
    fn append(&mut self, reply: &[u8], data: &[u8], ts_ns: i64) -> Result<u64, StoreError>;
    fn lookup(&mut self, seq: u64) -> Result<Option<ChannelMsg>, StoreError>;
    /// `(first, last)`: `(0, 0)` before the first message; `(last + 1, last)` when every
    /// message has gone.
    fn first_last(&self) -> (u64, u64);
    /// `(messages, bytes)` held.
    fn totals(&self) -> (u64, u64);
    /// Drops the oldest message; false when empty.
    fn drop_first(&mut self) -> Result<bool, StoreError>;
    /// Everything appended is written when this returns, and durable unless the store's
    /// sync is deferred ([`ChannelStore::take_unsynced`]) or off.
    fn flush(&mut self) -> Result<(), StoreError>;
    /// With a deferred sync: the files the flushes since the last call wrote, for the caller
    /// to fdatasync (`stan/commit.rs`). None otherwise.
    fn take_unsynced(&mut self, _out: &mut Vec<SyncFile>) -> Result<(), StoreError> {
        Ok(())
    }

    /// The first sequence whose timestamp is at or after `ts_ns`: `last + 1` when none is,
    /// 0 when no message was ever stored (nats-streaming-server's `GetSequenceFromTimestamp`).
    fn seq_from_timestamp(&mut self, ts_ns: i64) -> Result<u64, StoreError> {
        let (first, last) = self.first_last();
        if last == 0 {
            return Ok(0);
        }
        if first > last {
            return Ok(last + 1);
        }
        let (mut lo, mut hi) = (first, last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.lookup(mid)? {
                Some(m) if m.ts_ns >= ts_ns => hi = mid,
                Some(_) => lo = mid + 1,
                // A hole (not made by this core): treat as older.
                None => lo = mid + 1,
            }
        }
        Ok(lo)
    }

    /// Drops the oldest messages until `msgs_max` and `bytes_max` hold (0 = unlimited), always
    /// keeping the newest message. Returns how many went.
    fn enforce(&mut self, msgs_max: u64, bytes_max: u64) -> Result<u64, StoreError> {
        let mut dropped = 0;
        loop {
            let (msgs, bytes) = self.totals();
            let over = (msgs_max > 0 && msgs > msgs_max) || (bytes_max > 0 && bytes > bytes_max);
            if msgs <= 1 || !over || !self.drop_first()? {
                return Ok(dropped);
            }
            dropped += 1;
        }
    }

    /// Drops every message stamped at or before `ts_ns` (max_age). Returns how many went.
    fn expire(&mut self, ts_ns: i64) -> Result<u64, StoreError> {
        let mut dropped = 0;
        loop {
            let (first, last) = self.first_last();
            if first == 0 || first > last {
                return Ok(dropped);
            }
            match self.lookup(first)? {
                Some(m) if m.ts_ns > ts_ns => return Ok(dropped),
                _ => {
                    if !self.drop_first()? {
                        return Ok(dropped);
                    }
                    dropped += 1;
                }
            }
        }
    }

    /// The timestamp of the oldest message, if any.
    fn first_ts_ns(&mut self) -> Result<Option<i64>, StoreError> {
        let (first, last) = self.first_last();
        if first == 0 || first > last {
            return Ok(None);
        }
        Ok(self.lookup(first)?.map(|m| m.ts_ns))
    }
}

/// A [`ChannelStore`] over the storage engine's [`MessageLog`].
#[derive(Debug)]
pub struct LogChannel<L: MessageLog> {
    log: L,
    name: Vec<u8>,
}

impl<L: MessageLog> LogChannel<L> {
    pub fn new(log: L, name: &str) -> Self {
        LogChannel {
            log,
            name: name.as_bytes().to_vec(),
        }
    }

    pub fn log(&mut self) -> &mut L {
        &mut self.log
    }
}

impl<L: MessageLog> ChannelStore for LogChannel<L> {
    fn append(&mut self, reply: &[u8], data: &[u8], ts_ns: i64) -> Result<u64, StoreError> {
        self.log.append(&self.name, reply, data, ts_ns)
    }
    fn lookup(&mut self, seq: u64) -> Result<Option<ChannelMsg>, StoreError> {
        Ok(self.log.get(seq)?.map(|m| ChannelMsg {
            seq: m.seq,
            ts_ns: m.ts_ns,
            reply: m.headers,
            data: m.payload,
        }))
    }
    fn first_last(&self) -> (u64, u64) {
        let c = self.log.log().counters();
        match (c.msgs, c.last_seq) {
            (_, 0) => (0, 0),
            (0, last) => (last + 1, last),
            _ => (c.first_seq, c.last_seq),
        }
    }
    fn totals(&self) -> (u64, u64) {
        let c = self.log.log().counters();
        (c.msgs, c.bytes)
    }
    fn drop_first(&mut self) -> Result<bool, StoreError> {
        let c = self.log.log().counters();
        if c.msgs == 0 {
            return Ok(false);
        }
        self.log.delete(c.first_seq, false)
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        self.log.flush()
    }
    fn take_unsynced(&mut self, out: &mut Vec<SyncFile>) -> Result<(), StoreError> {
        self.log.take_unsynced(out)
    }
}

/// Makes and removes the log of each channel.
pub trait ChannelFactory {
    type Store: ChannelStore;
    fn create(&mut self, name: &str) -> Result<Self::Store, StoreError>;
    /// The channel was deleted (max_inactivity): its data may go.
    fn remove(&mut self, name: &str, store: Self::Store);
    /// The channels already in the store, opened at start (none for memory).
    fn existing(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    /// The server-state log (clients, subscriptions, pending), when the store keeps one;
    /// the core asks once, at start.
    fn state_log(&mut self) -> Option<Box<dyn StateLog>> {
        None
    }
}

/// Bytes per segment of a channel log (nats-streaming-server's slices are 64 MB; the
/// engine's segments are smaller so drop-oldest frees memory sooner).
pub const CHANNEL_SEGMENT_BYTES_MAX: u32 = 8 * 1024 * 1024;

/// Channels in memory (nats-streaming-server's default `MEMORY` store).
#[derive(Debug, Default)]
pub struct MemChannels;

impl ChannelFactory for MemChannels {
    type Store = LogChannel<MemStore>;
    fn create(&mut self, name: &str) -> Result<Self::Store, StoreError> {
        Ok(LogChannel::new(
            MemStore::new(CHANNEL_SEGMENT_BYTES_MAX, 1),
            name,
        ))
    }
    fn remove(&mut self, _name: &str, _store: Self::Store) {}
}

/// Channels as file logs under `<root>/<escaped name>/` (each a [`FileChannel`], which reads
/// sealed segments through a read-ahead window), and the server-state log (clients,
/// subscriptions, pending) under `<root>/.server/`. Blocking `std::fs`, as the engine's
/// `StdIo`; `sync` says how a flush is made durable.
#[derive(Debug)]
pub struct FileChannels {
    pub root: std::path::PathBuf,
    pub sync: FileSync,
}

/// How the file store makes a flush durable: nats-streaming-server's `file_sync`
/// (`sync_on_flush`), on by default, with natrix's choice of where the fdatasync runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileSync {
    /// Every flush fdatasyncs its files before it returns (tests and tools).
    #[default]
    InLine,
    /// Every flush writes; the fdatasyncs are left to the driver, which holds the batch's
    /// outputs until they completed ([`StanServer::take_commit`](super::StanServer::take_commit),
    /// `stan/commit.rs`). `file_sync` on, in the server.
    Deferred,
    /// No fdatasync on flush (`file_sync=false`): acked means written to the page cache, which
    /// a killed process does not lose; a crash of the machine may.
    Off,
}

impl FileChannels {
    /// Channels under `root`, synced in line.
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        FileChannels {
            root: root.into(),
            sync: FileSync::InLine,
        }
    }

    /// The directory of a channel: its name with every byte outside `[A-Za-z0-9_-]` as `%XX`,
    /// so any channel name is one safe path component.
    pub fn dir_name(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// The channel whose directory is `dir`: the inverse of [`FileChannels::dir_name`], `None`
    /// for a name it never makes (such as the state directory).
    pub fn name_from_dir(dir: &str) -> Option<String> {
        let b = dir.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        let name = String::from_utf8(out).ok()?;
        (Self::dir_name(&name) == dir && valid_channel(&name)).then_some(name)
    }
}

impl ChannelFactory for FileChannels {
    type Store = FileChannel<StdIo>;
    fn create(&mut self, name: &str) -> Result<Self::Store, StoreError> {
        let io = StdIo::new(self.root.join(Self::dir_name(name)));
        let mut ch = FileChannel::open(io, Layout::default(), CHANNEL_SEGMENT_BYTES_MAX, name)?;
        let fs = ch.store();
        fs.sync = self.sync != FileSync::Off;
        fs.defer_sync = self.sync == FileSync::Deferred;
        Ok(ch)
    }
    fn remove(&mut self, name: &str, store: Self::Store) {
        drop(store);
        // Best effort: a channel whose files stay is recovered as a fresh log's history.
        let _ = std::fs::remove_dir_all(self.root.join(Self::dir_name(name)));
    }
    fn existing(&mut self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::Io {
                    op: IoOp::List,
                    name: self.root.display().to_string(),
                    kind: e.kind(),
                })
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                e.file_type().ok()?.is_dir().then_some(())?;
                Self::name_from_dir(e.file_name().to_str()?)
            })
            .collect();
        names.sort();
        Ok(names)
    }
    fn state_log(&mut self) -> Option<Box<dyn StateLog>> {
        let io = StdIo::new(self.root.join(STATE_DIR));
        Some(Box::new(IoStateLog::with_sync(io, self.sync)))
    }
}

/// nats-streaming-server's `IsChannelNameValid(name, false)`: not empty, no leading `.`, no
/// empty token or trailing `.`, no `/`, `*` or `>`.
pub fn valid_channel(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b[0] == b'.' {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'/' | b'*' | b'>' => return false,
            b'.' if i == b.len() - 1 || b[i + 1] == b'.' => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> LogChannel<MemStore> {
        MemChannels.create("foo").expect("mem channel")
    }

    #[test]
    fn first_last_follows_nats_streaming_conventions() {
        let mut c = mem();
        assert_eq!(c.first_last(), (0, 0));
        for i in 0..3 {
            assert_eq!(
                c.append(b"", b"x", 10 * (i + 1)).expect("append"),
                i as u64 + 1
            );
        }
        assert_eq!(c.first_last(), (1, 3));
        assert_eq!(c.expire(100).expect("expire"), 3);
        assert_eq!(c.first_last(), (4, 3));
    }

    #[test]
    fn seq_from_timestamp_is_the_first_at_or_after() {
        let mut c = mem();
        assert_eq!(c.seq_from_timestamp(5).expect("ts"), 0);
        for ts in [10, 20, 20, 30] {
            c.append(b"r", b"d", ts).expect("append");
        }
        assert_eq!(c.seq_from_timestamp(0).expect("ts"), 1);
        assert_eq!(c.seq_from_timestamp(20).expect("ts"), 2);
        assert_eq!(c.seq_from_timestamp(21).expect("ts"), 4);
        assert_eq!(c.seq_from_timestamp(31).expect("ts"), 5);
        let m = c.lookup(2).expect("lookup").expect("present");
        assert_eq!(
            (m.reply.as_slice(), m.data.as_slice()),
            (&b"r"[..], &b"d"[..])
        );
    }

    #[test]
    fn enforce_keeps_the_newest_message_even_over_bytes_max() {
        let mut c = mem();
        for _ in 0..5 {
            c.append(b"", &[0; 100], 1).expect("append");
        }
        assert_eq!(c.enforce(3, 0).expect("enforce"), 2);
        assert_eq!(c.first_last(), (3, 5));
        assert_eq!(c.enforce(0, 1).expect("enforce"), 2);
        assert_eq!(c.first_last(), (5, 5));
    }

    #[test]
    fn channel_names_follow_is_channel_name_valid() {
        for ok in ["foo", "ticket:created", "a.b.c", "ünï", "a-b_c"] {
            assert!(valid_channel(ok), "{ok}");
        }
        for bad in ["", ".foo", "foo.", "foo..bar", "foo.*", "foo.>", "a/b", "*"] {
            assert!(!valid_channel(bad), "{bad}");
        }
    }

    #[test]
    fn file_channel_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("natrix-stan-ch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut f = FileChannels::new(dir.clone());
        let mut c = f.create("a.b:c").expect("create");
        c.append(b"", b"one", 1).expect("append");
        c.append(b"", b"two", 2).expect("append");
        c.flush().expect("flush");
        drop(c);
        let mut c = f.create("a.b:c").expect("reopen");
        assert_eq!(c.first_last(), (1, 2));
        assert_eq!(
            c.lookup(2).expect("lookup").map(|m| m.data),
            Some(b"two".to_vec())
        );
        f.remove("a.b:c", c);
        assert!(!dir.join(FileChannels::dir_name("a.b:c")).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
