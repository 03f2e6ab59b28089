//! Durable consumers on disk, beside their stream:
//!
//! ```text
//! <stream dir>/obs/<consumer>/meta.json   {"config": <ConsumerConfig JSON>, "created": <ns>}
//! <stream dir>/obs/<consumer>/state.bin   the state snapshot (consumer::persist), replaced
//!                                         whole by write-to-temp and rename
//! ```
//!
//! A snapshot is written at the group commit after the state changed (a delivery, an ack),
//! before the acks' confirmations go out, and with `sync_interval: always` it is synced too:
//! a confirmed ack is never lost, and a delivery whose record did not reach the disk is
//! made again after a restart. The snapshot keeps wall-clock times (the wheel runs on Unix
//! milliseconds), so ack waits that ran out while the server was down fire at once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::consumer::state::ConsumerState;
use super::consumer_spec::spec_from_config;
use super::consumers::{Clock, Consumer};
use super::streams::AccountStreams;

const META_FILE: &str = "meta.json";
const STATE_FILE: &str = "state.bin";

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
        let mut writes = Vec::new();
        for (sname, s) in &mut self.streams {
            for c in s.consumers.values_mut().filter(|c| c.dirty) {
                c.dirty = false;
                if !c.spec.durable {
                    continue;
                }
                let mut buf = Vec::with_capacity(64 + c.state.num_ack_pending() * 8);
                c.state.encode(&mut buf);
                writes.push((sname.clone(), c.spec.name.clone(), buf));
            }
        }
        for (stream, name, buf) in writes {
            let Some(dir) = self.consumer_dir(&stream, &name) else {
                continue;
            };
            if let Err(e) = write_atomic(&dir, STATE_FILE, &buf, self.sync_always) {
                log::error!("JetStream: writing consumer {name:?} of {stream:?} failed: {e}");
                ok = false;
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
            let snapshot = std::fs::read(path.join(STATE_FILE)).ok();
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
