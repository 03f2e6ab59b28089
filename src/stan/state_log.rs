//! Where the server-state log's bytes go: [`StateLog`], three whole-file operations the core
//! calls at its flushes, and [`IoStateLog`] over the storage engine's [`StoreIo`] (`StdIo`
//! for the file store). The format and its recovery are in `state.rs`; this file only moves
//! bytes.

use crate::store::file::StoreIo;
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
    /// Appends `bytes`; with `sync`, makes them durable before returning.
    fn append(&mut self, bytes: &[u8], sync: bool) -> Result<(), StoreError>;
    /// Replaces the whole file with `bytes` atomically (durable, then renamed over it).
    fn replace(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
}

/// [`StateLog`] over a [`StoreIo`] rooted at the state directory.
#[derive(Debug)]
pub struct IoStateLog<Io: StoreIo> {
    io: Io,
}

impl<Io: StoreIo> IoStateLog<Io> {
    pub fn new(io: Io) -> Self {
        IoStateLog { io }
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
        if !sync {
            return Ok(());
        }
        self.io
            .sync(STATE_FILE)
            .map_err(err(IoOp::Sync, STATE_FILE))
    }

    fn replace(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = STATE_TMP_FILE;
        self.io.create(tmp).map_err(err(IoOp::Create, tmp))?;
        self.io.append(tmp, bytes).map_err(err(IoOp::Append, tmp))?;
        self.io.sync(tmp).map_err(err(IoOp::Sync, tmp))?;
        self.io
            .rename(tmp, STATE_FILE)
            .map_err(err(IoOp::Rename, STATE_FILE))
    }
}
