//! The file backend's thin driver: [`StoreIo`], the coarse file operations a runtime provides
//! (whole-buffer append, whole-file read, one read at an offset), [`StdIo`] over `std::fs` for
//! tests and tools, the directory [`Layout`], the stream meta file, and [`FileStore`], which
//! carries out the [`Log`]'s flush plans and disk reads. All decisions stay in the sans-io
//! [`Log`] and [`recover`](super::recovery::recover); this file only moves bytes.
//!
//! One flush is one append per touched segment, then (with `sync`) one fdatasync per touched
//! segment, then overwrites (secure erase), then removals: the batch's acks may go out once
//! [`MessageLog::flush`] returns.
//!
//! Preallocation (with `sync`, i.e. `sync_interval: always` and NATS Streaming's file store):
//! the tail segment's file is extended with written zeros ahead of its end,
//! [`PREALLOC_CHUNK_BYTES`] at a time up to `segment_bytes_max`, while the writes are small
//! ([`PREALLOC_WRITE_BYTES_MAX`]), and appends overwrite them at the record offsets the log
//! plans. On ext4 an fdatasync after an append that grows the file
//! also commits the new size through the journal; one after an overwrite of written blocks
//! does not (measured: docs/PERFORMANCE.md). Real zeros, not `fallocate`: an unwritten extent
//! would make each block's first write a metadata change again. A segment's logical size is
//! the end of its last record, never the file's length: when the tail is sealed (the next
//! segment's file is created) its file is truncated to its logical size, so sealed segments,
//! their summaries and the checkpoint see exact sizes; recovery ends a segment at zeros after
//! its last record (`recovery.rs`) and [`FileStore::open`] truncates such a file. A failed write or sync is returned and never retried as if it
//! had worked (the caller fails the pending acks).
//!
//! With `defer_sync` the flush leaves the fdatasyncs to the caller: it notes the segments it
//! wrote, and [`MessageLog::take_unsynced`] hands them over as [`SyncFile`]s for the
//! pipelined group commit (`group_commit.rs`), whose driver syncs them off the shard's thread
//! and lets the acks out after. A flush that also removes or overwrites still syncs its own
//! writes in line first (a removal must never be durable before its reason); that is once
//! per dropped segment, or a secure-erase delete.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use super::log::{Read, SegmentWrite};
use super::read_ahead::Window;
use super::recovery::{self, Recovery, RecoveryReport, SegmentBytes, SegmentExtent};
use super::summary::{self, Summary};
use super::{IoOp, Log, LogConfig, MessageLog, StoreError, StoredMsg};

/// File operations on names relative to the store's root (`/`-separated).
pub trait StoreIo {
    /// Creates (or empties) `name`, making its directory entry durable.
    fn create(&mut self, name: &str) -> std::io::Result<()>;
    fn append(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()>;
    /// Writes `name` whole (created or emptied first), with no sync and nothing kept open.
    fn put(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
        self.create(name)?;
        self.append(name, buf)
    }
    fn write_at(&mut self, name: &str, offset: u64, buf: &[u8]) -> std::io::Result<()>;
    fn read(&mut self, name: &str) -> std::io::Result<Vec<u8>>;
    fn read_at(&mut self, name: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>>;
    /// Bytes from `offset` to the end; `UnexpectedEof` when the file is shorter than `offset`.
    fn read_from(&mut self, name: &str, offset: u64) -> std::io::Result<Vec<u8>>;
    /// The file's length in bytes.
    fn size(&mut self, name: &str) -> std::io::Result<u64>;
    /// Cuts (or extends with a hole) `name` to `len` bytes, with no sync.
    fn truncate(&mut self, name: &str, len: u64) -> std::io::Result<()>;
    /// fdatasync.
    fn sync(&mut self, name: &str) -> std::io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&mut self, from: &str, to: &str) -> std::io::Result<()>;
    fn remove(&mut self, name: &str) -> std::io::Result<()>;
    /// File names in directory `dir` (empty when it does not exist).
    fn list(&mut self, dir: &str) -> std::io::Result<Vec<String>>;
    /// A handle on `name` that another thread may fdatasync (a deferred sync).
    fn sync_handle(&mut self, name: &str) -> std::io::Result<SyncFile> {
        let _ = name;
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// A file to fdatasync later, off the thread that wrote it: its own descriptor (a `dup` of
/// the writer's, so a rename or removal meanwhile cannot make it another file) and its path,
/// which names it: two `SyncFile`s with the same path are the same file to the group commit.
#[derive(Debug)]
pub struct SyncFile {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl PartialEq for SyncFile {
    fn eq(&self, other: &SyncFile) -> bool {
        self.path == other.path
    }
}

/// Bytes of zeros a preallocating [`FileStore`] writes ahead of its tail segment's end at a
/// time (capped at `segment_bytes_max`): an fdatasync that grows the file is paid once per
/// chunk, and a stream that holds little takes little disk.
pub const PREALLOC_CHUNK_BYTES: u64 = 1 << 20;

/// A preallocating [`FileStore`] extends its tail only while its writes average at most this
/// many bytes (a moving average over about the last 16). The zeros are written twice over
/// the device's bandwidth (once as zeros, once as records) and the sync after an extension
/// flushes a whole chunk, while the journal commit an overwrite spares is paid once per
/// sync: a win for small commits (synchronous publishers, double acks), a loss for big ones
/// (a window of 256: 144 k against 110 k msgs/s in an A/B, docs/PERFORMANCE.md), whose
/// commit is shared by many messages anyway.
pub const PREALLOC_WRITE_BYTES_MAX: u64 = 4096;

/// Open files a [`StdIo`] keeps at most; past this it closes them all and starts again (a
/// stream has a handful: its current segment, an older one being read, its index).
const OPEN_FILES_KEPT_MAX: usize = 16;

/// [`StoreIo`] over `std::fs`, rooted at a directory. It keeps the files it writes, reads
/// at offsets and syncs open (read and write, not append mode), so a delivery that reads a
/// message back from its segment costs one `pread`, not an open, a read and a close (seen
/// as a fifth of a push consumer's CPU before). Renames, removals and creations drop the
/// names they touch, so a kept descriptor never outlives its directory entry's file.
#[derive(Debug)]
pub struct StdIo {
    pub root: PathBuf,
    open: std::collections::HashMap<String, std::fs::File>,
}

impl StdIo {
    pub fn new(root: PathBuf) -> StdIo {
        StdIo {
            root,
            open: std::collections::HashMap::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The kept file `name`, opened for reading and writing on first use.
    fn file(&mut self, name: &str) -> std::io::Result<&std::fs::File> {
        if !self.open.contains_key(name) {
            if self.open.len() >= OPEN_FILES_KEPT_MAX {
                self.open.clear();
            }
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.path(name))?;
            self.open.insert(name.to_string(), f);
        }
        Ok(&self.open[name])
    }
}

impl StoreIo for StdIo {
    fn create(&mut self, name: &str) -> std::io::Result<()> {
        self.open.remove(name);
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
            std::fs::File::create(&path)?;
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
    fn append(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = self.file(name)?;
        f.seek(SeekFrom::End(0))?;
        f.write_all(buf)
    }
    fn write_at(&mut self, name: &str, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file(name)?.write_all_at(buf, offset)
    }
    fn put(&mut self, name: &str, buf: &[u8]) -> std::io::Result<()> {
        self.open.remove(name);
        std::fs::write(self.path(name), buf)
    }
    fn read(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(name))
    }
    fn read_at(&mut self, name: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; len];
        self.file(name)?.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
    fn read_from(&mut self, name: &str, offset: u64) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(self.path(name))?;
        if file.metadata()?.len() < offset {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(buf)
    }
    fn size(&mut self, name: &str) -> std::io::Result<u64> {
        Ok(std::fs::metadata(self.path(name))?.len())
    }
    fn truncate(&mut self, name: &str, len: u64) -> std::io::Result<()> {
        self.file(name)?.set_len(len)
    }
    fn sync(&mut self, name: &str) -> std::io::Result<()> {
        self.file(name)?.sync_data()
    }
    fn rename(&mut self, from: &str, to: &str) -> std::io::Result<()> {
        self.open.remove(from);
        self.open.remove(to);
        std::fs::rename(self.path(from), self.path(to))
    }
    fn remove(&mut self, name: &str) -> std::io::Result<()> {
        self.open.remove(name);
        std::fs::remove_file(self.path(name))
    }
    fn list(&mut self, dir: &str) -> std::io::Result<Vec<String>> {
        match std::fs::read_dir(self.path(dir)) {
            Ok(entries) => Ok(entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
    fn sync_handle(&mut self, name: &str) -> std::io::Result<SyncFile> {
        let fd = OwnedFd::from(self.file(name)?.try_clone()?);
        Ok(SyncFile {
            path: self.path(name),
            fd,
        })
    }
}

/// File names inside a store's root; NATS Streaming overrides them for its channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub msgs_dir: String,
    pub segment_ext: String,
    /// Extension of a segment's summary, beside it in `msgs_dir` (`summary.rs`).
    pub summary_ext: String,
    pub checkpoint: String,
    pub meta: String,
    pub meta_sum: String,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            msgs_dir: "msgs".into(),
            segment_ext: "blk".into(),
            summary_ext: "sum".into(),
            checkpoint: "index.chk".into(),
            meta: "meta.json".into(),
            meta_sum: "meta.sum".into(),
        }
    }
}

impl Layout {
    pub fn segment(&self, id: u32) -> String {
        format!("{}/{id}.{}", self.msgs_dir, self.segment_ext)
    }

    pub fn summary(&self, id: u32) -> String {
        format!("{}/{id}.{}", self.msgs_dir, self.summary_ext)
    }

    /// The id of a file name listed in `msgs_dir`, if it is a segment.
    pub fn segment_id(&self, file: &str) -> Option<u32> {
        let stem = file.strip_suffix(&self.segment_ext)?.strip_suffix('.')?;
        stem.parse().ok()
    }

    /// The id of a file name listed in `msgs_dir`, if it is a segment's summary.
    pub fn summary_id(&self, file: &str) -> Option<u32> {
        let stem = file.strip_suffix(&self.summary_ext)?.strip_suffix('.')?;
        stem.parse().ok()
    }
}

/// The meta checksum file's content for `json`: CRC32C in 8 hex digits.
pub fn meta_sum(json: &[u8]) -> String {
    format!("{:08x}", crc32c::crc32c(json))
}

/// The segment files a store found at open, for recovery.
struct Segments<'a> {
    layout: &'a Layout,
    ids: &'a [u32],
    sizes: &'a [u64],
}

impl Segments<'_> {
    /// Recovery reading each segment from what `coverage` (a checkpoint's) covers, one at a
    /// time, so it holds one segment's bytes, not the store's (a stream bigger than RAM must
    /// still open); a segment the checkpoint does not cover comes from its summary when that
    /// is sound. `None` when the checkpoint turns out unusable after all and `coverage` was
    /// not empty: the caller then recovers again from whole segments.
    fn recover(
        &self,
        io: &mut impl StoreIo,
        cfg: LogConfig,
        first_seq: u64,
        checkpoint: Option<&[u8]>,
        coverage: &[(u32, u64)],
    ) -> Result<Option<(Log, RecoveryReport)>, StoreError> {
        let covered = |id: u32| coverage.iter().find(|c| c.0 == id).map(|c| c.1);
        let extents: Vec<SegmentExtent> = self
            .ids
            .iter()
            .zip(self.sizes)
            .map(|(&id, &len)| {
                let base = covered(id).filter(|&c| c <= len).unwrap_or(0);
                SegmentExtent {
                    id,
                    base,
                    len: len - base,
                }
            })
            .collect();
        let mut recovery = Recovery::start(cfg, first_seq, checkpoint, &extents);
        if recovery.checkpoint_rejected() && extents.iter().any(|e| e.base > 0) {
            return Ok(None);
        }
        for e in &extents {
            let name = self.layout.segment(e.id);
            if e.base > 0 {
                let bytes = io
                    .read_from(&name, e.base)
                    .map_err(io_err(IoOp::Read, &name))?;
                recovery.add(SegmentBytes {
                    id: e.id,
                    base: e.base,
                    bytes: &bytes,
                });
                continue;
            }
            if covered(e.id).is_none() {
                let summary = self.summary(io, e.id, e.len);
                if summary.is_some_and(|s| recovery.add_summary(&s)) {
                    continue;
                }
            }
            let bytes = io.read(&name).map_err(io_err(IoOp::Read, &name))?;
            recovery.add(SegmentBytes::whole(e.id, &bytes));
        }
        Ok(Some(recovery.finish()))
    }

    /// Segment `id`'s summary, if it is there, sound, for this segment at this size, and its
    /// last record reads back as the message it names.
    fn summary(&self, io: &mut impl StoreIo, id: u32, size: u64) -> Option<Summary> {
        let bytes = io.read(&self.layout.summary(id)).ok()?;
        let s = summary::decode(&bytes).filter(|s| s.id == id && s.size == size)?;
        if let Some((offset, len, seq)) = s.last_record() {
            let rec = io
                .read_at(&self.layout.segment(id), offset, len as usize)
                .ok()?;
            if !summary::record_matches(&rec, seq) {
                return None;
            }
        }
        Some(s)
    }
}

fn io_err(op: IoOp, name: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        op,
        name: name.to_string(),
        kind: e.kind(),
    }
}

/// The file backend: a durable [`Log`] and a [`StoreIo`].
#[derive(Debug)]
pub struct FileStore<Io: StoreIo> {
    log: Log,
    io: Io,
    layout: Layout,
    /// fdatasync each flush (natrix's default: acks only after the sync).
    pub sync: bool,
    /// With `sync`: leave the fdatasyncs to the caller ([`MessageLog::take_unsynced`]).
    pub defer_sync: bool,
    /// Segments written and not yet synced (with `defer_sync`).
    unsynced: Vec<String>,
    /// The tail segment this store created and preallocates (with `sync`).
    tail: Option<TailFile>,
    /// Moving average of the tail writes' sizes ([`PREALLOC_WRITE_BYTES_MAX`]).
    write_bytes_avg: u64,
    /// What the last read of a sealed segment brought in (`read_ahead.rs`).
    window: Window,
}

/// A preallocated tail segment's file: zeros from the log's end of it to `file_len`.
#[derive(Debug, Clone, Copy)]
struct TailFile {
    segment: u32,
    file_len: u64,
}

impl<Io: StoreIo> FileStore<Io> {
    /// Opens (recovers) or creates the store under `io`'s root.
    pub fn open(
        mut io: Io,
        layout: Layout,
        segment_bytes_max: u32,
        first_seq: u64,
    ) -> Result<(FileStore<Io>, RecoveryReport), StoreError> {
        let dir = layout.msgs_dir.clone();
        let listed = io.list(&dir).map_err(io_err(IoOp::List, &dir))?;
        let mut ids: Vec<u32> = listed.iter().filter_map(|f| layout.segment_id(f)).collect();
        ids.sort_unstable();
        // A summary whose segment is gone (a crash between the two removals) could be taken
        // for a later segment given the same id.
        for id in listed.iter().filter_map(|f| layout.summary_id(f)) {
            if ids.binary_search(&id).is_err() {
                let _ = io.remove(&layout.summary(id));
            }
        }
        let checkpoint = match io.read(&layout.checkpoint) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(IoOp::Read, &layout.checkpoint)(e)),
        };
        let cfg = LogConfig {
            segment_bytes_max,
            durable: true,
        };
        let mut sizes = Vec::with_capacity(ids.len());
        for &id in &ids {
            let name = layout.segment(id);
            sizes.push(io.size(&name).map_err(io_err(IoOp::Read, &name))?);
        }
        // With a valid checkpoint only the bytes after what it covers are read; if it then
        // does not match the segments, everything is read again for a full rebuild.
        let mut coverage = checkpoint
            .as_deref()
            .map(recovery::checkpoint_coverage)
            .unwrap_or_default();
        let segments = Segments {
            layout: &layout,
            ids: &ids,
            sizes: &sizes,
        };
        let (log, report) = loop {
            let ckpt = checkpoint.as_deref();
            match segments.recover(&mut io, cfg, first_seq, ckpt, &coverage)? {
                Some(done) => break done,
                // Terminates: with no coverage every base is 0, so `recover` is `Some`.
                None => coverage.clear(),
            }
        };
        // A preallocated segment ends at its last record (recovery found only zeros after);
        // recovered segments are never appended to, so the file is cut to that size. A cut
        // that fails or is lost to a crash leaves zeros that the next recovery ends at again.
        for (&id, &len) in ids.iter().zip(&sizes) {
            if let Some(seg) = log.segments.iter().find(|s| s.id == id) {
                if seg.size < len {
                    let _ = io.truncate(&layout.segment(id), seg.size);
                }
            }
        }
        Ok((
            FileStore {
                log,
                io,
                layout,
                sync: true,
                defer_sync: false,
                unsynced: Vec::new(),
                tail: None,
                write_bytes_avg: 0,
                window: Window::default(),
            },
            report,
        ))
    }

    /// Writes the checkpoint (after a flush, so it covers everything): temp file, sync, rename.
    /// What it covers is on disk first: with `sync` the flushes synced it (but for what a
    /// deferred sync left in `unsynced`), without it every segment is synced here, so a power
    /// loss cannot leave a checkpoint naming records that never reached the disk.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        let mut names = std::mem::take(&mut self.unsynced);
        if !self.sync {
            names.extend(self.log.segments.iter().map(|s| self.layout.segment(s.id)));
        }
        for name in names {
            self.io.sync(&name).map_err(io_err(IoOp::Sync, &name))?;
        }
        let mut buf = Vec::new();
        recovery::encode_checkpoint(&self.log, &mut buf);
        let tmp = format!("{}.tmp", self.layout.checkpoint);
        self.io.create(&tmp).map_err(io_err(IoOp::Create, &tmp))?;
        self.io
            .append(&tmp, &buf)
            .map_err(io_err(IoOp::Append, &tmp))?;
        self.io.sync(&tmp).map_err(io_err(IoOp::Sync, &tmp))?;
        let to = self.layout.checkpoint.clone();
        self.io.rename(&tmp, &to).map_err(io_err(IoOp::Rename, &to))
    }

    /// Persists the stream config beside the data, with its checksum.
    pub fn write_meta(&mut self, json: &[u8]) -> Result<(), StoreError> {
        let sum = meta_sum(json);
        for (name, bytes) in [
            (self.layout.meta.clone(), json),
            (self.layout.meta_sum.clone(), sum.as_bytes()),
        ] {
            let tmp = format!("{name}.tmp");
            self.io.create(&tmp).map_err(io_err(IoOp::Create, &tmp))?;
            self.io
                .append(&tmp, bytes)
                .map_err(io_err(IoOp::Append, &tmp))?;
            self.io.sync(&tmp).map_err(io_err(IoOp::Sync, &tmp))?;
            self.io
                .rename(&tmp, &name)
                .map_err(io_err(IoOp::Rename, &name))?;
        }
        Ok(())
    }

    /// Reads the stream config back; [`StoreError::BadMeta`] when it fails its checksum.
    pub fn read_meta(&mut self) -> Result<Vec<u8>, StoreError> {
        let (meta, sum) = (self.layout.meta.clone(), self.layout.meta_sum.clone());
        let json = self.io.read(&meta).map_err(io_err(IoOp::Read, &meta))?;
        let stored = self.io.read(&sum).map_err(io_err(IoOp::Read, &sum))?;
        if stored.trim_ascii() != meta_sum(&json).as_bytes() {
            return Err(StoreError::BadMeta);
        }
        Ok(json)
    }

    /// Writes the summaries a flush plan names. A failure is not the flush's: the segment is
    /// then scanned at the next start.
    fn write_summaries(&mut self, ids: &[u32]) {
        let mut buf = Vec::new();
        for &id in ids {
            buf.clear();
            if !summary::take(&mut self.log, id, &mut buf) {
                continue;
            }
            let name = self.layout.summary(id);
            if self.io.put(&name, &buf).is_err() {
                let _ = self.io.remove(&name);
            }
        }
    }

    pub fn io(&mut self) -> &mut Io {
        &mut self.io
    }

    /// Bytes the read-ahead window holds (tests, the memory budget).
    pub fn read_window_bytes(&self) -> usize {
        self.window.len()
    }

    /// Carries out one planned write. A new segment seals the preallocated tail first; with
    /// `sync` the new one is preallocated (module doc), and its writes go at the planned
    /// offsets, growing the file by a chunk of zeros when they reach its end while the writes
    /// are small ([`PREALLOC_WRITE_BYTES_MAX`]).
    fn write(&mut self, w: &SegmentWrite) -> Result<(), StoreError> {
        let name = self.layout.segment(w.segment);
        if w.create {
            self.seal_tail();
            self.io.create(&name).map_err(io_err(IoOp::Create, &name))?;
            if self.sync {
                self.tail = Some(TailFile {
                    segment: w.segment,
                    file_len: 0,
                });
            }
        }
        let bytes = self.log.write_bytes(w);
        // At the planned offset, never at the file's end: one `pwrite`, not a seek and a
        // write, and a retry after a short write lands where the log's slots say.
        self.io
            .write_at(&name, w.offset, bytes)
            .map_err(io_err(IoOp::Append, &name))?;
        let Some(tail) = self.tail.as_mut().filter(|t| t.segment == w.segment) else {
            return Ok(());
        };
        let end = w.offset + bytes.len() as u64;
        self.write_bytes_avg = (self.write_bytes_avg * 15 + bytes.len() as u64) / 16;
        if end >= tail.file_len && self.write_bytes_avg > PREALLOC_WRITE_BYTES_MAX {
            // Big commits: the file grows with its records.
            tail.file_len = end;
        } else if end >= tail.file_len {
            // The next chunk boundary above `end`, within the segment's bound.
            let max = u64::from(self.log.cfg.segment_bytes_max);
            let to = ((end / PREALLOC_CHUNK_BYTES + 1) * PREALLOC_CHUNK_BYTES)
                .min(max)
                .max(end);
            if to > end {
                let zeros = vec![0; (to - end) as usize];
                self.io
                    .write_at(&name, end, &zeros)
                    .map_err(io_err(IoOp::Append, &name))?;
            }
            tail.file_len = to;
        }
        Ok(())
    }

    /// Cuts the preallocated tail's file to its logical size, the log's (it is sealed, or
    /// removed). A failed cut is not the flush's: the zeros stay, and recovery ends the
    /// segment at them; its summary then does not match the file and it is scanned instead.
    fn seal_tail(&mut self) {
        let Some(tail) = self.tail.take() else {
            return;
        };
        let Some(seg) = self.log.segments.iter().find(|s| s.id == tail.segment) else {
            return;
        };
        if seg.size < tail.file_len {
            let _ = self
                .io
                .truncate(&self.layout.segment(tail.segment), seg.size);
        }
    }
}

impl<Io: StoreIo> MessageLog for FileStore<Io> {
    fn log(&self) -> &Log {
        &self.log
    }
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        FileStore::checkpoint(self)
    }
    fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }
    fn fetch(&mut self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        match self.log.read(seq)? {
            Read::Absent => Ok(None),
            Read::Found(m) => Ok(Some(m)),
            Read::OnDisk {
                segment,
                offset,
                len,
            } => {
                if self.window.slice(segment, offset, len).is_none() {
                    let mut plan = self.window.plan(&self.log, seq, segment, offset, len);
                    let name = self.layout.segment(segment);
                    let read = match self.io.read_at(&name, plan.offset, plan.len) {
                        // The records after this one may not be readable (a write that
                        // failed after the log counted it): this one alone may still be.
                        Err(_) if plan.len > len as usize => {
                            plan = plan.record_only(len);
                            self.io.read_at(&name, plan.offset, plan.len)
                        }
                        r => r,
                    };
                    self.window
                        .fill(plan, read.map_err(io_err(IoOp::Read, &name))?);
                }
                let bytes = self.window.slice(segment, offset, len).unwrap_or(&[]);
                Log::decode_read(seq, bytes).map(Some)
            }
        }
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        let plan = self.log.flush();
        for w in &plan.writes {
            self.write(w)?;
        }
        let in_line = !self.defer_sync || !plan.overwrites.is_empty() || !plan.removes.is_empty();
        if self.sync && in_line {
            for w in &plan.writes {
                let name = self.layout.segment(w.segment);
                self.io.sync(&name).map_err(io_err(IoOp::Sync, &name))?;
            }
        } else if self.sync {
            for w in &plan.writes {
                let name = self.layout.segment(w.segment);
                if !self.unsynced.contains(&name) {
                    self.unsynced.push(name);
                }
            }
        }
        if !plan.overwrites.is_empty() {
            // A secure erase: the window may hold the erased bytes (never served, the log
            // has them absent); they leave RAM too.
            self.window = Window::default();
        }
        for o in &plan.overwrites {
            let name = self.layout.segment(o.segment);
            self.io
                .write_at(&name, o.offset, &o.bytes)
                .map_err(io_err(IoOp::WriteAt, &name))?;
        }
        for &id in &plan.removes {
            if self.tail.is_some_and(|t| t.segment == id) {
                self.tail = None;
            }
            let name = self.layout.segment(id);
            match self.io.remove(&name) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(IoOp::Remove, &name)(e))
                }
                _ => {}
            }
            // Most segments removed are summarised; one that is not has nothing to remove.
            let _ = self.io.remove(&self.layout.summary(id));
        }
        self.log.flushed();
        self.write_summaries(&plan.summaries);
        Ok(())
    }
    fn take_unsynced(&mut self, out: &mut Vec<SyncFile>) -> Result<(), StoreError> {
        for name in std::mem::take(&mut self.unsynced) {
            let f = self
                .io
                .sync_handle(&name)
                .map_err(io_err(IoOp::Sync, &name))?;
            out.push(f);
        }
        Ok(())
    }
}
