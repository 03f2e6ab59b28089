//! Where the server-state log's bytes go: [`StateLog`], three whole-file operations the core
//! calls at its flushes, and [`IoStateLog`] over the storage engine's [`StoreIo`] (`StdIo`
//! for the file store). The format and its recovery are in `state.rs`; this file only moves
//! bytes. With the file store's sync deferred, an append that asks for a sync only writes
//! and leaves the fdatasync to the driver ([`StateLog::take_unsynced`]); with it off, no
//! append is synced. A snapshot ([`StateLog::replace`]) is always synced in line before its
//! rename (once per few MiB of frames).

use super::channel::FileSync;
use crate::store::file::{StoreIo, SyncFile};
use crate::store::{IoOp, StoreError};

/// The directory of the state log under a [`FileChannels`](super::FileChannels) root. It
/// holds a `.`, which channel directories always escape, so no channel can take it.
pub const STATE_DIR: &str = ".server";
/// The log itself.
pub const STATE_FILE: &str = "state.log";
/// A snapshot being written, renamed over [`STATE_FILE`] once durable.
pub const STATE_TMP_FILE: &str = "state.tmp";

/// The state log's file.
pub trait StateLog {
    /// The whole file, empty when there is none yet.
    fn read(&mut self) -> Result<Vec<u8>, StoreError>;
    /// Appends `bytes`; with `sync`, makes them durable before returning (or, with the sync
    /// deferred, before the driver lets anything of the batch out).
    fn append(&mut self, bytes: &[u8], sync: bool) -> Result<(), StoreError>;
    /// Replaces the whole file with `bytes` atomically (durable, then renamed over it).
    fn replace(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// With a deferred sync: the file an append since the last call left to sync.
    fn take_unsynced(&mut self, _out: &mut Vec<SyncFile>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// [`StateLog`] over a [`StoreIo`] rooted at the state directory.
#[derive(Debug)]
pub struct IoStateLog<Io: StoreIo> {
    io: Io,
    sync: FileSync,
    /// An append asked for a sync that was deferred and not yet handed over.
    unsynced: bool,
}

impl<Io: StoreIo> IoStateLog<Io> {
    /// Synced in line.
    pub fn new(io: Io) -> Self {
        Self::with_sync(io, FileSync::InLine)
    }

    pub fn with_sync(io: Io, sync: FileSync) -> Self {
        IoStateLog {
            io,
            sync,
            unsynced: false,
        }
    }
}

fn err(op: IoOp, name: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        op,
        name: name.to_string(),
        kind: e.kind(),
    }
}

impl<Io: StoreIo> StateLog for IoStateLog<Io> {
    fn read(&mut self) -> Result<Vec<u8>, StoreError> {
        match self.io.read(STATE_FILE) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(err(IoOp::Read, STATE_FILE)(e)),
        }
    }

    fn append(&mut self, bytes: &[u8], sync: bool) -> Result<(), StoreError> {
        self.io
            .append(STATE_FILE, bytes)
            .map_err(err(IoOp::Append, STATE_FILE))?;
        match self.sync {
            _ if !sync => Ok(()),
            FileSync::Off => Ok(()),
            FileSync::Deferred => {
                self.unsynced = true;
                Ok(())
            }
            FileSync::InLine => self
                .io
                .sync(STATE_FILE)
                .map_err(err(IoOp::Sync, STATE_FILE)),
        }
    }

    fn replace(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = STATE_TMP_FILE;
        self.io.create(tmp).map_err(err(IoOp::Create, tmp))?;
        self.io.append(tmp, bytes).map_err(err(IoOp::Append, tmp))?;
        self.io.sync(tmp).map_err(err(IoOp::Sync, tmp))?;
        self.io
            .rename(tmp, STATE_FILE)
            .map_err(err(IoOp::Rename, STATE_FILE))?;
        // The snapshot holds everything the frames before it did, and it is synced.
        self.unsynced = false;
        Ok(())
    }

    fn take_unsynced(&mut self, out: &mut Vec<SyncFile>) -> Result<(), StoreError> {
        if !std::mem::take(&mut self.unsynced) {
            return Ok(());
        }
        let f = self
            .io
            .sync_handle(STATE_FILE)
            .map_err(err(IoOp::Sync, STATE_FILE))?;
        out.push(f);
        Ok(())
    }
}
