//! The stream API's backend over the store: what `$JS.API.STREAM.*` and the message
//! requests do to one account's streams once the API layer has checked them (the publish
//! path and the commit are in `streams.rs`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::api::backend::{MsgQuery, PurgeRequest, StateDetail, StoredMsg, StreamBackend};
use super::api::config::{Compression, Storage, StreamConfig};
use super::api::error::ApiError;
use super::api::info::{AccountUsage, StreamView, UnixNanos};
use super::api::publish;
use super::republish::SubjectRules;
use super::sourcing::Link;
use super::streams::{store_err, AccountStreams, Meta, Stream, SEGMENT_BYTES_MAX};
use crate::store::{self, FileStore, Layout, Purge, StdIo};

fn to_api(m: store::StoredMsg) -> StoredMsg {
    StoredMsg {
        subject: String::from_utf8_lossy(&m.subject).into_owned(),
        seq: m.seq,
        hdrs: m.headers,
        data: m.payload,
        time: m.ts_ns,
    }
}

impl StreamBackend for AccountStreams {
    fn stream_names(&self) -> Vec<String> {
        self.streams.keys().cloned().collect()
    }

    fn stream(&self, name: &str, detail: &StateDetail) -> Option<StreamView> {
        let s = self.streams.get(name)?;
        let (mirror, sources) = self.link_infos(s);
        Some(StreamView {
            config: s.config.clone(),
            created: s.created,
            state: AccountStreams::state(s, detail),
            mirror,
            sources,
        })
    }

    fn direct_allowed(&self, name: &str) -> Option<bool> {
        let c = &self.streams.get(name)?.config;
        Some(c.allow_direct || c.mirror_direct)
    }

    fn create_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError> {
        let log = self.new_log(&config, now)?;
        let name = config.name.clone();
        self.streams.insert(
            config.name.clone(),
            Stream {
                links: Link::of(&config),
                rules: SubjectRules::of(&config),
                sources_dirty: false,
                config,
                created: now,
                log: RefCell::new(log),
                dedup: publish::DedupTable::default(),
                last_msg_id: String::new(),
                dirty: false,
                consumers: BTreeMap::new(),
                age_timer_armed: false,
                never_expire: BTreeSet::new(),
            },
        );
        self.sourcing_created(&name, now);
        Ok(())
    }

    fn update_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError> {
        let dir = self.stream_dir(&config.name);
        let s = self
            .streams
            .get_mut(&config.name)
            .ok_or(ApiError::StreamNotFound)?;
        if let Some(dir) = dir {
            let meta = Meta {
                config: config.clone(),
                created: s.created,
            };
            let json =
                serde_json::to_vec(&meta).map_err(|e| ApiError::StoreFailed(e.to_string()))?;
            let (mut fs, _) =
                FileStore::open(StdIo::new(dir), Layout::default(), SEGMENT_BYTES_MAX, 1)
                    .map_err(store_err)?;
            fs.write_meta(&json).map_err(store_err)?;
        }
        let name = config.name.clone();
        s.rules = SubjectRules::of(&config);
        // Messages appended from now on take the new setting; stored ones keep theirs.
        if config.storage == Storage::File {
            let packs = config.compression == Compression::S2;
            s.log.borrow_mut().log_mut().set_compression(packs);
        }
        s.config = config;
        s.invalidate_pending();
        self.sourcing_updated(&name, now);
        Ok(())
    }

    fn delete_stream(&mut self, name: &str) -> Result<(), ApiError> {
        let consumers: Vec<String> = match self.streams.get(name) {
            Some(s) => s.consumers.keys().cloned().collect(),
            None => return Err(ApiError::StreamNotFound),
        };
        // Its consumers' timers are cancelled and its timer ids forgotten: a stream made again
        // under the same name, with a consumer of the same name, must not get the old ones'
        // redeliveries or expiries (natrix-bench runs found exactly that).
        for consumer in &consumers {
            self.remove_consumer(name, consumer);
        }
        self.stream_ids.retain(|_, stream| stream != name);
        self.streams.remove(name);
        // Its open atomic batches go with it (nats-server deletes them with the stream).
        self.batches.drop_stream(name);
        if let Some(dir) = self.stream_dir(name) {
            let _ = std::fs::remove_dir_all(dir);
        }
        self.sourcing_deleted(name, self.now_ns);
        Ok(())
    }

    fn purge(&mut self, name: &str, req: &PurgeRequest) -> Result<u64, ApiError> {
        if self.streams.get(name).is_some_and(|s| !s.links.is_empty()) {
            // The purge takes the copies whose headers hold the source positions: write
            // the copies, then the positions, first.
            let s = self.streams.get_mut(name).ok_or(ApiError::StreamNotFound)?;
            s.log.borrow_mut().flush().map_err(store_err)?;
            s.sources_dirty = true;
            self.save_source_hints();
        }
        let s = self.streams.get_mut(name).ok_or(ApiError::StreamNotFound)?;
        s.invalidate_pending();
        let n = s
            .log
            .borrow_mut()
            .purge(&Purge {
                filter: req.filter.as_deref().map(str::as_bytes),
                up_to_seq: req.seq,
                keep: req.keep,
            })
            .map_err(store_err)?;
        s.dirty = true;
        Ok(n)
    }

    fn get_msg(&self, name: &str, q: &MsgQuery) -> Result<StoredMsg, ApiError> {
        let s = self.streams.get(name).ok_or(ApiError::StreamNotFound)?;
        let mut log = s.log.borrow_mut();
        let found = match q {
            MsgQuery::Seq(n) => log.get(*n),
            MsgQuery::LastBySubject(f) => log.last_by_subject(f.as_bytes()),
            MsgQuery::NextBySubject { seq, subject } => {
                log.next_by_subject(*seq, subject.as_bytes())
            }
            MsgQuery::StartTime { time, subject } => {
                // No time index yet: walk forward from the first sequence.
                let filter = subject.as_deref().unwrap_or(">");
                let mut from = log.log().counters().first_seq;
                loop {
                    match log.next_by_subject(from, filter.as_bytes()) {
                        Ok(Some(m)) if m.ts_ns >= *time => break Ok(Some(m)),
                        Ok(Some(m)) => from = m.seq + 1,
                        other => break other,
                    }
                }
            }
        };
        found
            .map_err(store_err)?
            .map(to_api)
            .ok_or(ApiError::NoMessageFound)
    }

    fn delete_msg(&mut self, name: &str, seq: u64, no_erase: bool) -> Result<(), ApiError> {
        let s = self.streams.get_mut(name).ok_or(ApiError::StreamNotFound)?;
        let deleted = s
            .log
            .borrow_mut()
            .delete(seq, !no_erase)
            .map_err(store_err)?;
        if !deleted {
            return Err(ApiError::SequenceNotFound(seq));
        }
        s.invalidate_pending();
        s.dirty = true;
        Ok(())
    }

    fn usage(&self) -> AccountUsage {
        let mut u = AccountUsage {
            streams: self.streams.len() as u64,
            ..Default::default()
        };
        for s in self.streams.values() {
            u.add_stream(&s.config, s.log.borrow().log().counters().bytes);
        }
        u
    }
}

#[cfg(test)]
#[path = "stream_state_tests.rs"]
mod stream_state_tests;
