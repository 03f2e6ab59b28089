//! Durable consumers on disk, beside their stream:
//!
//! ```text
//! <stream dir>/obs/<consumer>/meta.json   {"config": <ConsumerConfig JSON>, "created": <ns>}
//! <stream dir>/obs/<consumer>/state.bin   a full snapshot, then deltas (consumer::state_log:
//!                                         records `len u32 LE, crc32c u32 LE, body`)
//! ```
//!
//! The state file stays open. At the group commit after the state changed, the consumer's
//! change list (noted by the sans-io state as deliveries and acks happen, never found by a
//! scan of what is pending) becomes one delta record, appended with one `write`: O(changes)
//! bytes, however many messages are pending. A full snapshot is written instead (temp file
//! and rename, so the file then holds just it) when there is no file yet in this run (the
//! first write, also after a restart), after a failed write, and when the file would grow
//! past `STATE_FILE_COMPACT_RATIO` times the last snapshot's record (and at least
//! `STATE_FILE_COMPACT_BYTES_MIN`): a snapshot of S bytes is followed by at least 3S bytes of
//! deltas, so its cost is amortised O(1) per change. Recovery takes the last intact snapshot
//! and the intact deltas after it; a torn or damaged tail is ignored.
//!
//! With `sync_interval: always` the snapshot's file is preallocated: written zeros after the
//! records, `STATE_PREALLOC_CHUNK_BYTES` at a time up to the size at which it would be
//! compacted, so a delta overwrites blocks already written and its fdatasync commits no new file size through the journal (the
//! segments do the same, `store/file.rs`). Deltas go at the tracked offset; recovery ends
//! the records at the zeros (a zero length is never written, `consumer::state_log`).
//!
//! The record is written (into the page cache) before the acks' confirmations go out, so a
//! killed process loses no confirmed ack; a delta is never fdatasynced, not even with
//! `sync_interval: always` and a confirmed (double) ack in it: a consumer's record lost to a
//! power cut means a redelivery (the acked message is delivered again, or a work queue's
//! message comes back), never a lost message, and nats-server 2.15 confirms a double ack
//! before its state is even written (docs/ARCHITECTURE-jetstream.md, "Durable state"). With
//! `sync_interval: always` a snapshot, which replaces the file, is synced in line (rare: the
//! first write of a run and each compaction), so a power cut cannot leave an empty file in
//! its place. The state keeps wall-clock times (the wheel runs on Unix milliseconds), so ack
//! waits that ran out while the server was down fire at once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::consumer::delta::DeltaOutcome;
use super::consumer::state::ConsumerState;
use super::consumer::state_log::{self, encode_record, RECORD_HEADER_BYTES};
use super::consumer_spec::spec_from_config;
use super::consumers::{Clock, Consumer};
use super::streams::AccountStreams;

const META_FILE: &str = "meta.json";
const STATE_FILE: &str = "state.bin";
/// The state file is rewritten as one snapshot when it would grow past this many times the
/// last snapshot's record...
const STATE_FILE_COMPACT_RATIO: u64 = 4;
/// ...and past this.
const STATE_FILE_COMPACT_BYTES_MIN: u64 = 1 << 20;

/// Zeros a preallocated state file holds ahead of its records, written a chunk at a time up
/// to the compaction size: small, because the sync after an extension flushes them all (a
/// whole 1 MiB at the first snapshot cost more than a short run of double acks saved).
const STATE_PREALLOC_CHUNK_BYTES: u64 = 64 * 1024;

/// A durable consumer's open state file.
#[derive(Debug)]
pub struct StateFile {
    file: std::fs::File,
    /// Bytes of records: where the next delta goes.
    bytes: u64,
    /// Size of the snapshot record the file starts with.
    snapshot_bytes: u64,
    /// With preallocation: the file's length (records, then zeros); else `None`.
    preallocated: Option<u64>,
}

/// The next preallocation chunk boundary above `end`, within the compaction size (at least
/// `end`).
fn prealloc_end(end: u64, snapshot_bytes: u64) -> u64 {
    ((end / STATE_PREALLOC_CHUNK_BYTES + 1) * STATE_PREALLOC_CHUNK_BYTES)
        .min(compaction_bytes(snapshot_bytes))
        .max(end)
}

/// The size past which a state file starting with a snapshot record of `snapshot_bytes` is
/// compacted (and to which it is preallocated).
fn compaction_bytes(snapshot_bytes: u64) -> u64 {
    snapshot_bytes
        .saturating_mul(STATE_FILE_COMPACT_RATIO)
        .max(STATE_FILE_COMPACT_BYTES_MIN)
}

impl StateFile {
    /// Replaces the file with one snapshot record (temp file and rename) and opens it; with
    /// `sync_always` it is synced, and zeros follow the record up to the compaction size
    /// (module doc).
    fn create(dir: &Path, snapshot: &[u8], sync_always: bool) -> std::io::Result<StateFile> {
        let mut rec = Vec::with_capacity(snapshot.len() + RECORD_HEADER_BYTES);
        encode_record(snapshot, &mut rec);
        let records = rec.len() as u64;
        if sync_always {
            rec.resize(prealloc_end(records, records) as usize, 0);
        }
        write_atomic(dir, STATE_FILE, &rec, sync_always)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(STATE_FILE))?;
        Ok(StateFile {
            file,
            bytes: records,
            snapshot_bytes: records,
            preallocated: sync_always.then_some(rec.len() as u64),
        })
    }

    /// Whether appending a record with a body of `body_bytes` should compact instead.
    fn compaction_due(&self, body_bytes: usize) -> bool {
        self.bytes + (body_bytes + RECORD_HEADER_BYTES) as u64
            > compaction_bytes(self.snapshot_bytes)
    }

    /// Writes one delta record after the last.
    fn append(&mut self, delta: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut rec = Vec::with_capacity(delta.len() + RECORD_HEADER_BYTES);
        encode_record(delta, &mut rec);
        self.file.write_all_at(&rec, self.bytes)?;
        let end = self.bytes + rec.len() as u64;
        if let Some(len) = self.preallocated.filter(|&len| end >= len) {
            let to = prealloc_end(end, self.snapshot_bytes);
            if to > end {
                self.file.write_all_at(&vec![0; (to - end) as usize], end)?;
            }
            self.preallocated = Some(to.max(len));
        }
        self.bytes = end;
        Ok(())
    }
}

/// Writes what changed in `state` since its last record to `file`: a delta (never synced), or
/// a snapshot that replaces the file; with `sync_always` the snapshot is synced and
/// preallocated (module doc). `buf` is scratch space.
fn write_state(
    dir: &Path,
    state: &mut ConsumerState,
    file: &mut Option<StateFile>,
    sync_always: bool,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    buf.clear();
    if let Some(f) = file.as_mut() {
        match state.encode_delta(buf) {
            DeltaOutcome::Unchanged => return Ok(()),
            DeltaOutcome::Encoded if !f.compaction_due(buf.len()) => return f.append(buf),
            DeltaOutcome::Encoded | DeltaOutcome::SnapshotNeeded => buf.clear(),
        }
    }
    *file = None;
    state.encode_snapshot(buf);
    *file = Some(StateFile::create(dir, buf, sync_always)?);
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Meta {
    config: serde_json::Value,
    created: i64,
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    if sync {
        f.sync_data()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    if sync {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl AccountStreams {
    fn consumer_dir(&self, stream: &str, name: &str) -> Option<PathBuf> {
        Some(self.stream_dir(stream)?.join("obs").join(name))
    }

    /// Writes a new durable consumer's config (at create and update).
    pub fn persist_consumer_meta(&self, stream: &str, c: &Consumer) {
        if !c.spec.durable {
            return;
        }
        let Some(dir) = self.consumer_dir(stream, &c.spec.name) else {
            return;
        };
        let Ok(config) = serde_json::from_slice(&c.config_json) else {
            return;
        };
        let meta = Meta {
            config,
            created: c.created_ns,
        };
        let Ok(json) = serde_json::to_vec(&meta) else {
            return;
        };
        if let Err(e) = write_atomic(&dir, META_FILE, &json, self.sync_always) {
            log::error!(
                "JetStream: writing consumer {:?} of {stream:?} failed: {e}",
                c.spec.name
            );
        }
    }

    /// Removes a durable consumer's files.
    pub fn forget_consumer_files(&self, stream: &str, name: &str) {
        if let Some(dir) = self.consumer_dir(stream, name) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Writes what changed in every durable consumer whose state changed. Returns false if a
    /// write failed (the commit's confirmations must then not go out).
    pub fn persist_consumers(&mut self) -> bool {
        let mut ok = true;
        let sync_always = self.sync_always;
        let Some(root) = self.root.clone() else {
            for s in self.streams.values_mut() {
                for c in s.consumers.values_mut() {
                    c.dirty = false;
                }
            }
            return true;
        };
        let mut buf = Vec::new();
        for (sname, s) in &mut self.streams {
            for c in s.consumers.values_mut().filter(|c| c.dirty) {
                c.dirty = false;
                if !c.spec.durable {
                    continue;
                }
                let dir = root
                    .join("streams")
                    .join(sname)
                    .join("obs")
                    .join(&c.spec.name);
                let written =
                    write_state(&dir, &mut c.state, &mut c.state_file, sync_always, &mut buf);
                if let Err(e) = written {
                    log::error!(
                        "JetStream: writing consumer {:?} of {sname:?} failed: {e}",
                        c.spec.name
                    );
                    // The next write is a snapshot that replaces the file: no delta is ever
                    // appended after a record that may be torn.
                    c.state_file = None;
                    c.state.forget_changes();
                    ok = false;
                }
            }
        }
        ok
    }

    /// Restores the durable consumers stored beside stream `stream` (at start).
    pub fn restore_consumers(&mut self, stream: &str, now: Clock) {
        let Some(dir) = self.stream_dir(stream).map(|d| d.join("obs")) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta: Meta = match std::fs::read(path.join(META_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(m) => m,
                None => {
                    log::warn!("JetStream: consumer {name:?} of {stream:?} has no readable config");
                    continue;
                }
            };
            let config_json = serde_json::to_vec(&meta.config).unwrap_or_default();
            let Some(spec) = spec_from_config(&config_json) else {
                log::warn!("JetStream: consumer {name:?} of {stream:?}: config not understood");
                continue;
            };
            let created = meta.created;
            let file = std::fs::read(path.join(STATE_FILE)).ok();
            let id = self.next_consumer_id();
            let state = file.and_then(|bytes| match state_log::recover(&bytes) {
                Ok(r) => {
                    if let Some((at, err)) = r.refused {
                        log::error!(
                            "JetStream: consumer {name:?} of {stream:?}: state record at byte \
                             {at} refused ({err:?}); using the state before it"
                        );
                    }
                    if !r.clean_end {
                        log::warn!(
                            "JetStream: consumer {name:?} of {stream:?}: {} bytes of torn or \
                             damaged state ignored",
                            bytes.len() - r.intact_bytes
                        );
                    }
                    let mut wheel = self.wheel.borrow_mut();
                    Some(ConsumerState::from_image(
                        id,
                        spec.limits.clone(),
                        r.image,
                        &mut wheel,
                    ))
                }
                Err(state_log::RecoverError::NoSnapshot) => None,
                Err(err) => {
                    log::error!(
                        "JetStream: consumer {name:?} of {stream:?}: state unreadable \
                         ({err:?}); starting it from its deliver policy"
                    );
                    None
                }
            });
            let Some(state) = state else {
                // Nothing durable delivered yet (or unreadable): start as at create.
                if self
                    .start_consumer(stream, spec, config_json, now)
                    .is_some()
                {
                    if let Some(c) = self
                        .streams
                        .get_mut(stream)
                        .and_then(|s| s.consumers.get_mut(&name))
                    {
                        c.created_ns = created;
                    }
                }
                continue;
            };
            let c = Consumer::new(id, spec, config_json, created, state, now);
            self.add_consumer(stream, c, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jetstream::consumer::persist::StateImage;
    use crate::jetstream::consumer::state::{AckPolicy, ConsumerLimits};
    use crate::jetstream::consumer::{ConsumerTimer, StreamView};
    use crate::wheel::Wheel;

    struct Stream;

    /// Delivers `n` more messages of [`Stream`] at `now`.
    fn deliver(state: &mut ConsumerState, wheel: &mut Wheel<ConsumerTimer>, n: u64, now: u64) {
        let mut events = Vec::new();
        for _ in 0..n {
            state.next_delivery(&Stream, now, wheel, &mut events);
        }
    }

    /// An explicit-ack consumer with `n` messages delivered and pending.
    fn with_pending(n: u64) -> (ConsumerState, Wheel<ConsumerTimer>) {
        let limits = ConsumerLimits {
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: None,
            ..ConsumerLimits::default()
        };
        let mut wheel = Wheel::new(0);
        let mut state = ConsumerState::new(1, limits, 1);
        deliver(&mut state, &mut wheel, n, 0);
        (state, wheel)
    }

    impl StreamView for Stream {
        fn num_pending(&self, _filters: &[String], _from_seq: u64) -> u64 {
            0
        }
        fn next(&self, from_seq: u64, _filters: &[String]) -> Option<u64> {
            Some(from_seq.max(1))
        }
    }

    #[test]
    fn the_state_file_takes_deltas_and_is_rewritten_as_one_snapshot_when_it_outgrows_it() {
        let dir = std::env::temp_dir().join(format!("natrix-cstore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut state, mut wheel) = with_pending(2_000);
        let (mut file, mut buf) = (None, Vec::new());
        write_state(&dir, &mut state, &mut file, false, &mut buf).unwrap();
        let first_snapshot = file.as_ref().unwrap().snapshot_bytes;
        let on_disk = || std::fs::metadata(dir.join(STATE_FILE)).unwrap().len();
        assert_eq!(on_disk(), first_snapshot);
        // Nothing changed: nothing written.
        write_state(&dir, &mut state, &mut file, false, &mut buf).unwrap();
        assert_eq!(on_disk(), first_snapshot);
        let mut compactions = 0;
        let mut acked = 0;
        for round in 1..=1_500u64 {
            deliver(&mut state, &mut wheel, 100, round);
            for _ in 0..100 {
                acked += 1;
                state.ack(acked, &mut wheel);
            }
            let before = on_disk();
            write_state(&dir, &mut state, &mut file, false, &mut buf).unwrap();
            let f = file.as_ref().unwrap();
            if on_disk() < before {
                compactions += 1;
                assert_eq!(on_disk(), f.snapshot_bytes);
            } else {
                // One delta of 100 deliveries and 100 acks, never the 2 000 pending.
                assert!(on_disk() - before < 1_000, "{} bytes", on_disk() - before);
            }
            let limit =
                (f.snapshot_bytes * STATE_FILE_COMPACT_RATIO).max(STATE_FILE_COMPACT_BYTES_MIN);
            assert!(on_disk() <= limit);
            if round % 250 == 0 {
                let r = state_log::recover(&std::fs::read(dir.join(STATE_FILE)).unwrap()).unwrap();
                assert_eq!(r.image, StateImage::of(&state), "round {round}");
            }
        }
        assert_eq!(compactions, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_preallocated_state_file_keeps_its_size_and_recovers_to_the_live_state() {
        let dir = std::env::temp_dir().join(format!("natrix-cstore-pre-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut state, mut wheel) = with_pending(2_000);
        let (mut file, mut buf) = (None, Vec::new());
        write_state(&dir, &mut state, &mut file, true, &mut buf).unwrap();
        let on_disk = || std::fs::metadata(dir.join(STATE_FILE)).unwrap().len();
        let recovered = || state_log::recover(&std::fs::read(dir.join(STATE_FILE)).unwrap());
        let mut acked = 0;
        let mut compactions = 0;
        for round in 1..=1_500u64 {
            let f = file.as_ref().unwrap();
            // Zeros at most a chunk ahead of the records, never past the compaction size.
            let len = on_disk();
            let max = compaction_bytes(f.snapshot_bytes);
            assert!(len > f.bytes || len == max, "round {round}");
            assert!(len - f.bytes <= STATE_PREALLOC_CHUNK_BYTES, "round {round}");
            assert!(len <= max, "round {round}");
            deliver(&mut state, &mut wheel, 100, round);
            for _ in 0..100 {
                acked += 1;
                state.ack(acked, &mut wheel);
            }
            write_state(&dir, &mut state, &mut file, true, &mut buf).unwrap();
            let f = file.as_ref().unwrap();
            // A delta was written unless the file was just compacted to one snapshot.
            if f.bytes == f.snapshot_bytes {
                compactions += 1;
            }
            if round % 100 == 0 {
                let r = recovered().unwrap();
                assert!(r.clean_end, "round {round}");
                assert_eq!(r.intact_bytes as u64, file.as_ref().unwrap().bytes);
                assert_eq!(r.image, StateImage::of(&state), "round {round}");
            }
        }
        assert!(compactions >= 1, "the file was never compacted");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
