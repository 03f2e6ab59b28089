//! The consumer API's backend over the engine: what `$JS.API.CONSUMER.*` requests do to the
//! consumers of one account's streams once the API layer has checked them.

use rand::Rng;

use super::api::consumer::{
    paused_config, ConsumerBackend, ConsumerConfig, ConsumerStateView, ConsumerView, SeqInfo,
};
use super::api::error::ApiError;
use super::api::info::UnixNanos;
use super::api::to_go_json;
use super::consumer::priority::{Policy, Priority};
use super::consumer::{ConsumerTimer, TimerKind};
use super::consumer_spec::spec_from_config;
use super::consumers::{Clock, Consumer};
use super::streams::{AccountStreams, Stream};

/// Length of a generated ephemeral consumer name (nats-server: 8).
const EPHEMERAL_NAME_CHARS: usize = 8;

fn clock_at(now: UnixNanos) -> Clock {
    Clock {
        ms: (now.max(0) as u64) / 1_000_000,
        ns: now,
    }
}

impl AccountStreams {
    fn view_of(&self, s: &Stream, c: &Consumer, now: UnixNanos) -> ConsumerView {
        let (dcs, dss) = c.state.delivered();
        let (afs, afc) = c.state.ack_floor();
        let num_redelivered = c
            .state
            .pending
            .values()
            .filter(|p| p.deliveries > 1)
            .count() as u64;
        let num_pending = c.num_pending(&**s.log.borrow());
        ConsumerView {
            stream: s.config.name.clone(),
            name: c.spec.name.clone(),
            config: serde_json::from_slice(&c.config_json).unwrap_or_default(),
            created: c.created_ns,
            state: ConsumerStateView {
                delivered: SeqInfo {
                    consumer_seq: dcs,
                    stream_seq: dss,
                    last_active: c.last_active_ns,
                },
                ack_floor: SeqInfo {
                    consumer_seq: afc,
                    stream_seq: afs,
                    last_active: c.last_ack_ns,
                },
                num_ack_pending: c.state.num_ack_pending() as u64,
                num_redelivered,
                num_waiting: c.waiting.len() as u64,
                num_pending,
                push_bound: c.push_active,
            },
            paused_until: c.paused_until_ns.filter(|t| *t > now),
            pin: c.priority.pin.as_ref().map(|p| (p.id.clone(), p.since_ns)),
        }
    }

    fn current_view(
        &self,
        stream: &str,
        name: &str,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        let s = self.streams.get(stream).ok_or(ApiError::StreamNotFound)?;
        let c = s.consumers.get(name).ok_or(ApiError::ConsumerNotFound)?;
        Ok(self.view_of(s, c, now))
    }
}

impl ConsumerBackend for AccountStreams {
    fn consumer_names(&self, stream: &str) -> Result<Vec<String>, ApiError> {
        let s = self.streams.get(stream).ok_or(ApiError::StreamNotFound)?;
        Ok(s.consumers.keys().cloned().collect())
    }

    fn consumer(&self, stream: &str, name: &str, now: UnixNanos) -> Option<ConsumerView> {
        self.current_view(stream, name, now).ok()
    }

    fn create_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        if !self.streams.contains_key(stream) {
            return Err(ApiError::StreamNotFound);
        }
        let json = to_go_json(&config);
        let spec = spec_from_config(&json)
            .ok_or_else(|| ApiError::StreamGeneral("consumer config not understood".into()))?;
        let name = spec.name.clone();
        let clock = clock_at(now);
        self.start_consumer(stream, spec, json, clock)
            .ok_or(ApiError::StreamNotFound)?;
        if let Some(c) = self
            .streams
            .get(stream)
            .and_then(|s| s.consumers.get(&name))
        {
            self.persist_consumer_meta(stream, c);
        }
        self.deliver(stream, &name, clock);
        self.current_view(stream, &name, now)
    }

    fn update_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        let json = to_go_json(&config);
        let spec = spec_from_config(&json)
            .ok_or_else(|| ApiError::StreamGeneral("consumer config not understood".into()))?;
        let name = spec.name.clone();
        let burst = self.rate_burst_bytes(stream);
        {
            let s = self
                .streams
                .get_mut(stream)
                .ok_or(ApiError::StreamNotFound)?;
            let c = s
                .consumers
                .get_mut(&name)
                .ok_or(ApiError::ConsumerNotFound)?;
            c.state.limits = spec.limits.clone();
            c.paused_until_ns = spec.pause_until_ns;
            c.flow.update(&spec, burst);
            if (&c.priority.policy, &c.priority.groups)
                != (&spec.priority_policy, &spec.priority_groups)
            {
                // nats-server keeps the pin through an update; a new timeout applies from the
                // next pull that renews it.
                let keep = c.priority.pinned()
                    && matches!(spec.priority_policy, Policy::PinnedClient { .. });
                let mut wheel = self.wheel.borrow_mut();
                let mut p =
                    Priority::new(spec.priority_policy.clone(), spec.priority_groups.clone());
                if keep {
                    p.pin = c.priority.pin.take();
                } else {
                    c.priority.unpin(&mut wheel);
                }
                c.waiting.set_prioritized(p.prioritized());
                c.priority = p;
            }
            c.spec = spec;
            c.config_json = json;
            c.dirty = true;
        }
        if let Some(c) = self
            .streams
            .get(stream)
            .and_then(|s| s.consumers.get(&name))
        {
            self.persist_consumer_meta(stream, c);
        }
        self.deliver(stream, &name, clock_at(now));
        self.current_view(stream, &name, now)
    }

    fn delete_consumer(&mut self, stream: &str, name: &str) -> Result<(), ApiError> {
        if !self.streams.contains_key(stream) {
            return Err(ApiError::StreamNotFound);
        }
        self.remove_consumer(stream, name)
            .ok_or(ApiError::ConsumerNotFound)?;
        self.forget_consumer_files(stream, name);
        Ok(())
    }

    fn unpin_consumer(
        &mut self,
        stream: &str,
        name: &str,
        group: &str,
        now: UnixNanos,
    ) -> Result<(), ApiError> {
        self.unpin(stream, name, group, clock_at(now));
        Ok(())
    }

    fn pause_consumer(
        &mut self,
        stream: &str,
        name: &str,
        until: Option<UnixNanos>,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError> {
        {
            let s = self
                .streams
                .get_mut(stream)
                .ok_or(ApiError::StreamNotFound)?;
            let c = s
                .consumers
                .get_mut(name)
                .ok_or(ApiError::ConsumerNotFound)?;
            let old: ConsumerConfig = serde_json::from_slice(&c.config_json).unwrap_or_default();
            c.config_json = to_go_json(&paused_config(&old, until));
            c.paused_until_ns = until;
            if let Some(t) = until.filter(|t| *t > now) {
                self.wheel.borrow_mut().insert(
                    (t / 1_000_000) as u64 + 1,
                    ConsumerTimer {
                        consumer_id: c.id,
                        kind: TimerKind::PauseEnd,
                    },
                );
            }
        }
        if let Some(c) = self.streams.get(stream).and_then(|s| s.consumers.get(name)) {
            self.persist_consumer_meta(stream, c);
        }
        self.deliver(stream, name, clock_at(now));
        self.current_view(stream, name, now)
    }

    fn new_consumer_name(&mut self) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::thread_rng();
        (0..EPHEMERAL_NAME_CHARS)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect()
    }
}
