//! A tiny in-memory [`StreamBackend`] for the API layer's own tests: just enough store to
//! replay the captured nats-server transcript (publish, purge, delete, rollups, per-subject
//! limits). The real store comes from `store/`; this is a stand-in so the layer can be tested
//! alone, not a model of the store.

use super::backend::{MsgQuery, PurgeRequest, StateDetail, StoredMsg, StreamBackend};
use super::config::{DiscardPolicy, Storage, StreamConfig};
use super::error::ApiError;
use super::headers::Headers;
use super::info::{AccountUsage, SourceInfo, StreamState, StreamView, UnixNanos};
use super::publish::{self, Incoming, PublishDecision, Rollup, StreamPublishState};
use super::ApiEnv;
use crate::subject::matches;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct FakeStream {
    pub config: StreamConfig,
    pub created: UnixNanos,
    pub msgs: BTreeMap<u64, StoredMsg>,
    pub last_seq: u64,
    pub last_ts: UnixNanos,
    pub last_msg_id: String,
    pub dedup: publish::DedupTable,
}

impl FakeStream {
    fn size(&self, m: &StoredMsg) -> u64 {
        // nats-server's memory and file store record sizes, so `bytes` comes out the same.
        let base = m.subject.len() + m.hdrs.len() + m.data.len();
        match self.config.storage {
            Storage::Memory => (base + 16) as u64,
            Storage::File => (base + 30 + if m.hdrs.is_empty() { 0 } else { 4 }) as u64,
        }
    }

    fn state(&self, detail: &StateDetail) -> StreamState {
        let mut st = StreamState {
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            ..Default::default()
        };
        st.messages = self.msgs.len() as u64;
        st.bytes = self.msgs.values().map(|m| self.size(m)).sum();
        match (self.msgs.first_key_value(), self.msgs.last_key_value()) {
            (Some((&first, m)), Some((&last, _))) => {
                st.first_seq = first;
                st.first_ts = m.time;
                st.num_deleted = (last - first + 1) - st.messages;
                if detail.deleted_details {
                    st.deleted = (first..=last)
                        .filter(|s| !self.msgs.contains_key(s))
                        .collect();
                }
            }
            _ => st.first_seq = self.last_seq + 1,
        }
        if self.last_seq == 0 {
            st.first_seq = 0;
        }
        let mut subjects: BTreeMap<String, u64> = BTreeMap::new();
        for m in self.msgs.values() {
            *subjects.entry(m.subject.clone()).or_default() += 1;
        }
        st.num_subjects = subjects.len() as u64;
        if let Some(f) = &detail.subjects_filter {
            subjects.retain(|s, _| matches(f.as_bytes(), s.as_bytes()));
            st.subjects = Some(subjects);
        }
        st
    }

    fn last_on(&self, subject: &str) -> Option<u64> {
        self.msgs
            .iter()
            .rev()
            .find(|(_, m)| matches(subject.as_bytes(), m.subject.as_bytes()))
            .map(|(s, _)| *s)
    }
}

#[derive(Debug, Default)]
pub struct Fake {
    pub streams: BTreeMap<String, FakeStream>,
}

impl Fake {
    /// A publish as a shard would run it: find the stream, check, store, ack. `None` when no
    /// stream captures the subject (core NATS would answer 503).
    pub fn publish(
        &mut self,
        subject: &str,
        hdr: &[u8],
        data: &[u8],
        now: UnixNanos,
        env: &ApiEnv,
    ) -> Option<Vec<u8>> {
        let s = self.streams.values_mut().find(|s| {
            s.config
                .subjects
                .iter()
                .any(|p| matches(p.as_bytes(), subject.as_bytes()))
        })?;
        let name = s.config.name.clone();
        let hdrs = if hdr.is_empty() {
            Headers::default()
        } else {
            Headers::parse(hdr).ok()?
        };
        let st = StreamPublishState {
            config: &s.config,
            last_seq: s.last_seq,
            last_msg_id: &s.last_msg_id,
            max_payload_bytes: env.max_payload_bytes,
        };
        let msgs = &s.msgs;
        let last_on = |subj: &str| {
            msgs.iter()
                .rev()
                .find(|(_, m)| matches(subj.as_bytes(), m.subject.as_bytes()))
                .map(|(q, _)| *q)
        };
        let decision = publish::check_publish(
            &st,
            &Incoming {
                subject,
                hdrs: &hdrs,
                hdr_bytes: hdr.len(),
                hdr_block: hdr,
                payload_bytes: data.len(),
                scheduled: false,
            },
            now,
            &mut s.dedup,
            last_on,
        );
        let domain = env.domain.as_deref();
        Some(match decision {
            PublishDecision::Reject(e) => publish::pub_error(&name, &e),
            PublishDecision::Duplicate { seq } => publish::pub_ack_duplicate(&name, domain, seq),
            PublishDecision::Store(acc) => {
                let on_subject = s.msgs.values().filter(|m| m.subject == subject).count() as i64;
                let per = s.config.max_msgs_per_subject;
                if s.config.discard == DiscardPolicy::New {
                    if s.config.max_msgs > 0 && s.msgs.len() as i64 >= s.config.max_msgs {
                        return Some(publish::pub_error(&name, &ApiError::max_msgs_exceeded()));
                    }
                    if s.config.discard_new_per_subject && per > 0 && on_subject >= per {
                        return Some(publish::pub_error(
                            &name,
                            &ApiError::max_msgs_per_subject_exceeded(),
                        ));
                    }
                }
                let seq = (s.last_seq + 1).max(s.config.first_seq);
                match acc.rollup {
                    Some(Rollup::All) => s.msgs.clear(),
                    Some(Rollup::Subject) => s.msgs.retain(|_, m| m.subject != subject),
                    None => {}
                }
                s.msgs.insert(
                    seq,
                    StoredMsg {
                        subject: subject.into(),
                        seq,
                        hdrs: hdr.to_vec(),
                        data: data.to_vec(),
                        time: now,
                    },
                );
                if per > 0 {
                    let on: Vec<u64> = s
                        .msgs
                        .iter()
                        .filter(|(_, m)| m.subject == subject)
                        .map(|(q, _)| *q)
                        .collect();
                    for q in on.iter().take(on.len().saturating_sub(per as usize)) {
                        s.msgs.remove(q);
                    }
                }
                s.last_seq = seq;
                s.last_ts = now;
                s.last_msg_id = acc.msg_id.clone().unwrap_or_default();
                if let Some(id) = &acc.msg_id {
                    s.dedup.record(id, seq, now);
                }
                publish::pub_ack(&name, domain, seq)
            }
        })
    }
}

impl StreamBackend for Fake {
    fn stream_names(&self) -> Vec<String> {
        self.streams.keys().cloned().collect()
    }

    fn stream(&self, name: &str, detail: &StateDetail) -> Option<StreamView> {
        let s = self.streams.get(name)?;
        // Nothing is replicated here: a mirror or source shows as never active.
        let info = |name: &str| SourceInfo {
            name: name.to_string(),
            lag: 0,
            active: -1,
            ..SourceInfo::default()
        };
        Some(StreamView {
            config: s.config.clone(),
            created: s.created,
            state: s.state(detail),
            mirror: s.config.mirror.as_ref().map(|m| info(&m.name)),
            sources: s.config.sources.iter().map(|m| info(&m.name)).collect(),
        })
    }

    fn create_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError> {
        let name = config.name.clone();
        let last_seq = config.first_seq.saturating_sub(1);
        self.streams.insert(
            name,
            FakeStream {
                config,
                created: now,
                last_seq,
                ..Default::default()
            },
        );
        Ok(())
    }

    fn update_stream(&mut self, config: StreamConfig, _now: UnixNanos) -> Result<(), ApiError> {
        let s = self
            .streams
            .get_mut(&config.name)
            .ok_or(ApiError::StreamNotFound)?;
        s.config = config;
        Ok(())
    }

    fn delete_stream(&mut self, name: &str) -> Result<(), ApiError> {
        self.streams
            .remove(name)
            .map(|_| ())
            .ok_or(ApiError::StreamNotFound)
    }

    fn purge(&mut self, name: &str, req: &PurgeRequest) -> Result<u64, ApiError> {
        let s = self.streams.get_mut(name).ok_or(ApiError::StreamNotFound)?;
        let hit = |m: &StoredMsg| {
            req.filter
                .as_ref()
                .is_none_or(|f| matches(f.as_bytes(), m.subject.as_bytes()))
        };
        let mut victims: Vec<u64> = s
            .msgs
            .iter()
            .filter(|(_, m)| hit(m))
            .map(|(q, _)| *q)
            .collect();
        if let Some(below) = req.seq {
            victims.retain(|q| *q < below);
        }
        if let Some(keep) = req.keep {
            let n = victims.len().saturating_sub(keep as usize);
            victims.truncate(n);
        }
        for q in &victims {
            s.msgs.remove(q);
        }
        Ok(victims.len() as u64)
    }

    fn get_msg(&self, name: &str, q: &MsgQuery) -> Result<StoredMsg, ApiError> {
        let s = self.streams.get(name).ok_or(ApiError::StreamNotFound)?;
        let found = match q {
            MsgQuery::Seq(n) => s.msgs.get(n),
            MsgQuery::LastBySubject(subj) => s.last_on(subj).and_then(|q| s.msgs.get(&q)),
            MsgQuery::StartTime { time, subject } => s.msgs.values().find(|m| {
                m.time >= *time
                    && subject
                        .as_ref()
                        .is_none_or(|f| matches(f.as_bytes(), m.subject.as_bytes()))
            }),
            MsgQuery::NextBySubject { seq, subject } => s
                .msgs
                .range(*seq..)
                .map(|(_, m)| m)
                .find(|m| matches(subject.as_bytes(), m.subject.as_bytes())),
        };
        found.cloned().ok_or(ApiError::NoMessageFound)
    }

    fn delete_msg(&mut self, name: &str, seq: u64, _no_erase: bool) -> Result<(), ApiError> {
        let s = self.streams.get_mut(name).ok_or(ApiError::StreamNotFound)?;
        s.msgs
            .remove(&seq)
            .map(|_| ())
            .ok_or(ApiError::SequenceNotFound(seq))
    }

    fn usage(&self) -> AccountUsage {
        let mut u = AccountUsage {
            streams: self.streams.len() as u64,
            ..Default::default()
        };
        for s in self.streams.values() {
            let bytes: u64 = s.msgs.values().map(|m| s.size(m)).sum();
            u.add_stream(&s.config, bytes);
        }
        u
    }
}
