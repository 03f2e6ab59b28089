//! An in-memory [`ConsumerBackend`] for the consumer layer's own tests: the stream fake plus
//! a table of consumers whose state is what nats-server reports for a consumer that has not
//! delivered yet (its start position and what is pending after it). A stand-in so the layer
//! can be tested alone, not a model of the consumer engine.

use super::super::backend::{MsgQuery, PurgeRequest, StateDetail, StoredMsg, StreamBackend};
use super::super::config::StreamConfig;
use super::super::error::ApiError;
use super::super::fake::Fake;
use super::super::info::{AccountUsage, StreamView, UnixNanos};
use super::backend::{ConsumerBackend, ConsumerStateView, ConsumerView, SeqInfo};
use super::config::{ConsumerConfig, DeliverPolicy};
use super::paused_config;
use crate::subject::matches;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug, Clone)]
pub struct FakeConsumer {
    pub config: ConsumerConfig,
    pub created: UnixNanos,
    /// The first stream sequence it would deliver.
    pub start_seq: u64,
}

#[derive(Debug, Default)]
pub struct ConsumerFake {
    pub streams: Fake,
    pub consumers: BTreeMap<(String, String), FakeConsumer>,
    /// Names handed out by `new_consumer_name` first (a replay feeds the captured ones).
    pub next_names: VecDeque<String>,
    pub generated: u64,
    /// Subscriptions that exist (patterns), for `has_interest`. `push_bound` stays false, as
    /// nats-server reports it for interest through a wildcard subscription only.
    pub interest: Vec<String>,
}

impl ConsumerFake {
    fn msgs(&self, stream: &str) -> Vec<&StoredMsg> {
        self.streams
            .streams
            .get(stream)
            .map(|s| s.msgs.values().collect())
            .unwrap_or_default()
    }

    fn hit(cfg: &ConsumerConfig, subject: &str) -> bool {
        let f = cfg.filters();
        f.is_empty() || f.iter().any(|p| matches(p.as_bytes(), subject.as_bytes()))
    }

    /// The sequences a consumer would deliver, from `from` on.
    fn deliverable(&self, stream: &str, cfg: &ConsumerConfig, from: u64) -> Vec<u64> {
        let msgs = self.msgs(stream);
        let mut seqs: Vec<u64> = if cfg.deliver_policy == DeliverPolicy::LastPerSubject {
            let mut last: BTreeMap<&str, u64> = BTreeMap::new();
            for m in msgs.iter().filter(|m| Self::hit(cfg, &m.subject)) {
                last.insert(&m.subject, m.seq);
            }
            let set: BTreeSet<u64> = last.values().copied().collect();
            set.into_iter().collect()
        } else {
            msgs.iter()
                .filter(|m| Self::hit(cfg, &m.subject))
                .map(|m| m.seq)
                .collect()
        };
        seqs.retain(|s| *s >= from);
        seqs
    }

    fn start_seq(&self, stream: &str, cfg: &ConsumerConfig) -> u64 {
        let Some(s) = self.streams.streams.get(stream) else {
            return 1;
        };
        let first = s.msgs.keys().next().copied().unwrap_or(s.last_seq + 1);
        match cfg.deliver_policy {
            DeliverPolicy::All => first,
            DeliverPolicy::New => s.last_seq + 1,
            DeliverPolicy::Last => self
                .deliverable(stream, cfg, 0)
                .last()
                .copied()
                .unwrap_or(s.last_seq + 1),
            DeliverPolicy::LastPerSubject => self
                .deliverable(stream, cfg, 0)
                .first()
                .copied()
                .unwrap_or(s.last_seq + 1),
            DeliverPolicy::ByStartSequence => cfg.opt_start_seq,
            DeliverPolicy::ByStartTime => {
                let t = cfg.opt_start_time.map_or(0, |t| t.unix_nanos());
                s.msgs
                    .values()
                    .find(|m| m.time >= t)
                    .map_or(s.last_seq + 1, |m| m.seq)
            }
        }
        .max(1)
    }

    fn view(&self, stream: &str, name: &str, c: &FakeConsumer, now: UnixNanos) -> ConsumerView {
        let floor = SeqInfo {
            consumer_seq: 0,
            stream_seq: c.start_seq - 1,
            last_active: None,
        };
        ConsumerView {
            stream: stream.to_string(),
            name: name.to_string(),
            config: c.config.clone(),
            created: c.created,
            state: ConsumerStateView {
                delivered: floor.clone(),
                ack_floor: floor,
                num_pending: self.deliverable(stream, &c.config, c.start_seq).len() as u64,
                ..Default::default()
            },
            paused_until: c.config.pause_until_ns().filter(|t| *t > now),
            pin: None,
        }
    }
}

impl StreamBackend for ConsumerFake {
    fn stream_names(&self) -> Vec<String> {
        self.streams.stream_names()
    }
    fn stream(&self, name: &str, detail: &StateDetail) -> Option<StreamView> {
        let mut v = self.streams.stream(name, detail)?;
        v.state.consumer_count = self.consumers.keys().filter(|(s, _)| s == name).count() as u64;
        Some(v)
    }
    fn create_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError> {
        self.streams.create_stream(config, now)
    }
    fn update_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError> {
        self.streams.update_stream(config, now)
    }
    fn delete_stream(&mut self, name: &str) -> Result<(), ApiError> {
        self.consumers.retain(|(s, _), _| s != name);
        self.streams.delete_stream(name)
    }
    fn purge(&mut self, name: &str, req: &PurgeRequest) -> Result<u64, ApiError> {
        self.streams.purge(name, req)
    }
    fn get_msg(&self, name: &str, query: &MsgQuery) -> Result<StoredMsg, ApiError> {
        self.streams.get_msg(name, query)
    }
    fn delete_msg(&mut self, name: &str, seq: u64, no_erase: bool) -> Result<(), ApiError> {
        self.streams.delete_msg(name, seq, no_erase)
    }
    fn usage(&self) -> AccountUsage {
        let mut u = self.streams.usage();
        u.consumers = self.consumers.len() as u64;
        u
    }
}

impl ConsumerBackend for ConsumerFake {
    fn consumer_names(&self, stream: &str) -> Result<Vec<String>, ApiError> {
        if !self.streams.streams.contains_key(stream) {
            return Err(ApiError::StreamNotFound);
        }
        Ok(self
            .consumers
            .keys()
            .filter(|(s, _)| s == stream)
            .map(|(_, n)| n.clone())
            .collect())
    }

    fn consumer(&self, stream: &str, name: &str, now: UnixNanos) -> Option<ConsumerView> {
        let c = self
            .consumers
            .get(&(stream.to_string(), name.to_string()))?;
        Some(self.view(stream, name, c, now))
    }

    fn create_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        let name = config.name.clone();
        let start_seq = self.start_seq(stream, &config);
        let c = FakeConsumer {
            config,
            created: now,
            start_seq,
        };
        let v = self.view(stream, &name, &c, now);
        self.consumers.insert((stream.to_string(), name), c);
        Ok(v)
    }

    fn update_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        let key = (stream.to_string(), config.name.clone());
        let c = self
            .consumers
            .get_mut(&key)
            .ok_or(ApiError::ConsumerNotFound)?;
        c.config = config;
        let c = c.clone();
        Ok(self.view(stream, &key.1, &c, now))
    }

    fn delete_consumer(&mut self, stream: &str, name: &str) -> Result<(), ApiError> {
        self.consumers
            .remove(&(stream.to_string(), name.to_string()))
            .map(|_| ())
            .ok_or(ApiError::ConsumerNotFound)
    }

    fn pause_consumer(
        &mut self,
        stream: &str,
        name: &str,
        until: Option<UnixNanos>,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        let key = (stream.to_string(), name.to_string());
        let c = self
            .consumers
            .get_mut(&key)
            .ok_or(ApiError::ConsumerNotFound)?;
        c.config = paused_config(&c.config, until);
        let c = c.clone();
        Ok(self.view(stream, name, &c, now))
    }

    fn has_interest(&self, subject: &str) -> bool {
        self.interest
            .iter()
            .any(|p| matches(p.as_bytes(), subject.as_bytes()))
    }

    fn new_consumer_name(&mut self) -> String {
        self.next_names.pop_front().unwrap_or_else(|| {
            self.generated += 1;
            format!("GEN{:05}", self.generated)
        })
    }
}
