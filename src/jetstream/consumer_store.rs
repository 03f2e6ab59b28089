//! Durable consumers on disk, beside their stream:
//!
//! ```text
//! <stream dir>/obs/<consumer>/meta.json   {"config": <ConsumerConfig JSON>, "created": <ns>}
//! <stream dir>/obs/<consumer>/state.bin   appended snapshots (consumer::persist), each a
//!                                         record `len u32 LE, crc32c u32 LE, snapshot`;
//!                                         the last whole record wins
//! ```
//!
//! The state file stays open and each change appends one record (one `write`, no rename, no
//! directory operation); past `STATE_FILE_COMPACT_BYTES` it is rewritten with just the
//! latest snapshot (temp file and rename). A torn last record fails its length or checksum
//! and the one before it is used.
//!
//! A snapshot is written at the group commit after the state changed (a delivery, an ack),
//! before the acks' confirmations go out; with `sync_interval: always` it is synced when a
//! confirmed ack (a double ack) is in it: a confirmed ack is never lost, and a delivery or
//! plain ack whose record did not reach the disk is redone after a power loss (delivered
//! again), which is what nats-server does for all of them. The snapshot keeps wall-clock times (the wheel runs on Unix
//! milliseconds), so ack waits that ran out while the server was down fire at once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::consumer::state::ConsumerState;
use super::consumer_spec::spec_from_config;
use super::consumers::{Clock, Consumer};
use super::streams::AccountStreams;

const META_FILE: &str = "meta.json";
const STATE_FILE: &str = "state.bin";
/// Rewrite the state file with only its last snapshot once it grows past this.
const STATE_FILE_COMPACT_BYTES: u64 = 1 << 20;
/// Bytes before a snapshot in a state record: length and checksum.
const STATE_RECORD_HEADER_BYTES: usize = 8;

/// One state record: `len`, `crc32c(snapshot)`, `snapshot`.
pub fn encode_state_record(snapshot: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(snapshot.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(snapshot).to_le_bytes());
    out.extend_from_slice(snapshot);
}

/// The last whole, intact snapshot of a state file's bytes (records until the first torn
/// or damaged one).
pub fn last_state_record(bytes: &[u8]) -> Option<&[u8]> {
    let mut rest = bytes;
    let mut last = None;
    while rest.len() >= STATE_RECORD_HEADER_BYTES {
        let len = u32::from_le_bytes(rest[0..4].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().ok()?);
        let Some(body) = rest.get(STATE_RECORD_HEADER_BYTES..STATE_RECORD_HEADER_BYTES + len)
        else {
            break;
        };
        if crc32c::crc32c(body) != crc {
            break;
        }
        last = Some(body);
        rest = &rest[STATE_RECORD_HEADER_BYTES + len..];
    }
    last
}

/// A durable consumer's open state file.
#[derive(Debug)]
pub struct StateFile {
    file: std::fs::File,
    bytes: u64,
}

impl StateFile {
    fn open(dir: &Path) -> std::io::Result<StateFile> {
        std::fs::create_dir_all(dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(STATE_FILE))?;
        let bytes = file.metadata()?.len();
        Ok(StateFile { file, bytes })
    }

    /// Appends one snapshot (and syncs it when asked); compacts a grown file.
    fn append(&mut self, dir: &Path, snapshot: &[u8], sync: bool) -> std::io::Result<()> {
        use std::io::Write;
        let mut rec = Vec::with_capacity(snapshot.len() + STATE_RECORD_HEADER_BYTES);
        encode_state_record(snapshot, &mut rec);
        if self.bytes + rec.len() as u64 > STATE_FILE_COMPACT_BYTES {
            write_atomic(dir, STATE_FILE, &rec, sync)?;
            *self = StateFile::open(dir)?;
            return Ok(());
        }
        self.file.write_all(&rec)?;
        if sync {
            self.file.sync_data()?;
        }
        self.bytes += rec.len() as u64;
        Ok(())
    }
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

    /// Writes the snapshot of every durable consumer whose state changed. Returns false if a
    /// write failed (the commit's confirmations must then not go out).
    pub fn persist_consumers(&mut self) -> bool {
        let mut ok = true;
        let sync = self.sync_always;
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
                let sync = sync && std::mem::take(&mut c.sync_needed);
                if !c.spec.durable {
                    continue;
                }
                buf.clear();
                c.state.encode(&mut buf);
                let dir = root
                    .join("streams")
                    .join(sname)
                    .join("obs")
                    .join(&c.spec.name);
                let written = match c.state_file.as_mut() {
                    Some(f) => f.append(&dir, &buf, sync),
                    None => StateFile::open(&dir).and_then(|mut f| {
                        let r = f.append(&dir, &buf, sync);
                        c.state_file = Some(f);
                        r
                    }),
                };
                if let Err(e) = written {
                    log::error!(
                        "JetStream: writing consumer {:?} of {sname:?} failed: {e}",
                        c.spec.name
                    );
                    c.state_file = None;
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
            let snapshot = file
                .as_deref()
                .and_then(last_state_record)
                .map(<[u8]>::to_vec);
            let id = self.next_consumer_id();
            let state = snapshot.and_then(|bytes| {
                let mut wheel = self.wheel.borrow_mut();
                ConsumerState::decode(id, spec.limits.clone(), &bytes, &mut wheel)
                    .map_err(|err| {
                        log::error!(
                            "JetStream: consumer {name:?} of {stream:?}: state unreadable \
                             ({err:?}); starting it from its deliver policy"
                        )
                    })
                    .ok()
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

    #[test]
    fn the_last_whole_record_wins_and_a_torn_or_damaged_tail_is_passed_over() {
        let mut file = Vec::new();
        for s in [&b"one"[..], b"second", b"3"] {
            encode_state_record(s, &mut file);
        }
        assert_eq!(last_state_record(&file), Some(&b"3"[..]));
        // Torn anywhere inside the last record: the one before it.
        for cut in 1..(STATE_RECORD_HEADER_BYTES + 1) {
            assert_eq!(
                last_state_record(&file[..file.len() - cut]),
                Some(&b"second"[..]),
                "cut {cut}"
            );
        }
        // A flipped byte in the last snapshot fails its checksum.
        let mut bad = file.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(last_state_record(&bad), Some(&b"second"[..]));
        assert_eq!(last_state_record(b""), None);
        assert_eq!(last_state_record(&[0xff; 3]), None);
        // A length past the end is a torn record, never a panic.
        let mut huge = Vec::new();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 12]);
        assert_eq!(last_state_record(&huge), None);
    }
}
