//! An atomic batch (`batch.rs`) on a stream: the checks a batch message passes before it is
//! staged, and the commit, which checks every staged message against the stream as it will
//! be when the ones before it are stored (expectations, dedup, rollups, `discard: new`
//! limits) and only then stores them all through the ordinary publish path, in one call: so
//! they are written by one group commit, acked once, and with `sync_interval: always`
//! share one fdatasync. A check that fails refuses the whole batch and stores nothing.
//!
//! What the checks cannot foresee is a store failure (a write error, or a counter whose
//! stored value is broken) in the middle of the stores: the messages before it stay, and
//! the error is the batch's answer (nats-server's single-server commit does the same).

use std::collections::{HashMap, HashSet};

use super::api::config::DiscardPolicy;
use super::api::error::ApiError;
use super::api::headers::Headers;
use super::api::info::UnixNanos;
use super::api::publish::{
    self, Incoming, PublishDecision, Rollup, HDR_EXPECTED_LAST_MSG_ID, HDR_EXPECTED_LAST_SEQ,
    HDR_EXPECTED_LAST_SUBJECT_SEQ, HDR_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT,
};
use super::batch::{self, Committed, Staged, StagedMsg};
use super::consumer::{ConsumerTimer, TimerKind};
use super::consumer_events::advisory_id;
use super::consumers::{Clock, Out};
use super::streams::{AccountStreams, PubOutcome};

/// Whether a header block may carry `Nats-Batch-Id` (a cheap test before parsing).
pub(super) fn may_be_batch(hdr: &[u8]) -> bool {
    !hdr.is_empty() && memchr::memmem::find(hdr, batch::HDR_BATCH_ID.as_bytes()).is_some()
}

/// Whether a publish's reply subject marks a fast batch message (`<prefix>.<id>.<flow>.
/// <gap>.<seq>.<op>.$FI`; nats-server takes any reply longer than 4 bytes ending in `.$FI`
/// as one, well formed or not).
pub fn is_fast_batch_reply(reply: &[u8]) -> bool {
    reply.len() > 4 && reply.ends_with(b".$FI")
}

fn refused(name: &str, e: &ApiError) -> Option<PubOutcome> {
    Some(PubOutcome {
        ack: publish::pub_error(name, e),
        after_commit: false,
    })
}

impl AccountStreams {
    /// A publish whose headers name a batch: staged, committed, or refused; one without a
    /// (non-empty) `Nats-Batch-Id` goes the ordinary way.
    pub(super) fn publish_batch_msg(
        &mut self,
        name: &str,
        subj: &str,
        hdr: &[u8],
        data: &[u8],
        now: UnixNanos,
    ) -> Option<PubOutcome> {
        let Ok(hdrs) = Headers::parse(hdr) else {
            return self.publish_one(name, subj, hdr, data, now, false);
        };
        let Some(id) = batch::batch_id(&hdrs) else {
            return self.publish_one(name, subj, hdr, data, now, false);
        };
        if let Err(e) = self.batch_prechecks(name, subj, hdr, data)? {
            return refused(name, &e);
        }
        if !self.streams.get(name)?.config.allow_atomic {
            return refused(name, &ApiError::AtomicPublishDisabled);
        }
        let msg = StagedMsg {
            subject: subj.to_string(),
            hdr: hdr.to_vec(),
            data: data.to_vec(),
        };
        let now_ms = (now / 1_000_000).max(0) as u64;
        let api_level = self.env.api_level;
        let staged = self.batches.stage(name, id, &hdrs, msg, api_level, now_ms);
        self.batch_timer_and_advisories(name, now);
        match staged {
            Staged::Held => Some(PubOutcome {
                ack: Vec::new(),
                after_commit: false,
            }),
            Staged::Refused(e) => refused(name, &e),
            Staged::Commit(b) => self.commit_batch(name, b, now),
        }
    }

    /// A stream's batch idle timer fired (`TimerKind::BatchIdle`).
    pub(crate) fn on_batch_timer(&mut self, name: &str, now: UnixNanos) {
        let now_ms = (now / 1_000_000).max(0) as u64;
        self.batches.expire(name, now_ms);
        self.batch_timer_and_advisories(name, now);
    }

    fn arm_batch_timer(&mut self, name: &str, at_ms: u64) {
        let id = self.stream_timer_id(name);
        self.wheel.borrow_mut().insert(
            at_ms,
            ConsumerTimer {
                consumer_id: id,
                kind: TimerKind::BatchIdle,
            },
        );
    }

    /// Arms `name`'s idle timer if it has open batches and none, and queues nats-server's
    /// `$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.<stream>` for every batch dropped (in the
    /// account; nats-server also sends a copy, with the account's name, to the system
    /// account, which this layer does not know, as for the consumer advisories).
    fn batch_timer_and_advisories(&mut self, name: &str, now: UnixNanos) {
        if let Some(at_ms) = self.batches.arm(name) {
            self.arm_batch_timer(name, at_ms);
        }
        let clock = Clock {
            ms: (now / 1_000_000).max(0) as u64,
            ns: now,
        };
        for a in self.batches.take_abandoned() {
            let mut doc = serde_json::Map::new();
            doc.insert(
                "type".into(),
                "io.nats.jetstream.advisory.v1.stream_batch_abandoned".into(),
            );
            doc.insert("id".into(), advisory_id().into());
            doc.insert("timestamp".into(), Out::event_time(clock).into());
            doc.insert("stream".into(), a.stream.as_str().into());
            if let Some(d) = self.env.domain.as_deref().filter(|d| !d.is_empty()) {
                doc.insert("domain".into(), d.into());
            }
            doc.insert("batch".into(), a.id.into());
            doc.insert("reason".into(), a.reason.as_str().into());
            let subject = format!("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.{}", a.stream);
            let payload = serde_json::to_vec(&serde_json::Value::Object(doc)).unwrap_or_default();
            self.outbox.push(Out::event(subject, payload));
        }
    }

    /// A fast batch publish (nats-server 2.14+: the reply subject ends in `.$FI`, see
    /// [`is_fast_batch_reply`]) into stream `name`: refused, after the checks every batch
    /// message passes first, with 10205, since natrix refuses `allow_batched` at create.
    /// `None` when there is no such stream.
    pub fn refuse_fast_batch(
        &mut self,
        name: &str,
        subj: &str,
        hdr: &[u8],
        data: &[u8],
    ) -> Option<PubOutcome> {
        let e = self
            .batch_prechecks(name, subj, hdr, data)?
            .err()
            .unwrap_or(ApiError::BatchPublishDisabled);
        refused(name, &e)
    }

    /// What nats-server checks of any batch message before the batch itself, in its order:
    /// sealed, account limits, message size. `None` when there is no such stream.
    fn batch_prechecks(
        &self,
        name: &str,
        subj: &str,
        hdr: &[u8],
        data: &[u8],
    ) -> Option<Result<(), ApiError>> {
        let over_account_limit = self.over_account_limit(name, subj.len() + hdr.len() + data.len());
        let c = &self.streams.get(name)?.config;
        if c.sealed {
            return Some(Err(ApiError::Sealed));
        }
        if over_account_limit {
            return Some(Err(ApiError::AccountResourcesExceeded));
        }
        if c.max_msg_size >= 0 {
            let max = c.max_msg_size as usize;
            if hdr.len() > max || data.len() > max - hdr.len() {
                return Some(Err(ApiError::MessageExceedsMaximum));
            }
        }
        Some(Ok(()))
    }

    /// Checks every message of a committed batch, then stores them all, or none.
    fn commit_batch(&mut self, name: &str, b: Committed, now: UnixNanos) -> Option<PubOutcome> {
        if let Err(e) = self.check_batch(name, &b.msgs, now) {
            return refused(name, &e);
        }
        for m in &b.msgs {
            let out = self.publish_one(name, &m.subject, &m.hdr, &m.data, now, false)?;
            if !out.after_commit {
                log::error!(
                    "JetStream: batch {:?} on stream {name:?} failed while storing",
                    b.id
                );
                return Some(out);
            }
        }
        let last_seq = self
            .streams
            .get(name)?
            .log
            .borrow()
            .log()
            .counters()
            .last_seq;
        let mut ack = publish::pub_ack(name, self.env.domain.as_deref(), last_seq);
        ack.pop();
        ack.extend_from_slice(b",\"batch\":");
        publish::push_json_str(&mut ack, &b.id);
        ack.extend_from_slice(b",\"count\":");
        ack.extend_from_slice(itoa::Buffer::new().format(b.msgs.len()).as_bytes());
        ack.push(b'}');
        Some(PubOutcome {
            ack,
            after_commit: true,
        })
    }

    /// nats-server's batch consistency checks: each message as the ordinary publish checks
    /// it with the messages before it stored, plus the rules only a batch has.
    fn check_batch(
        &mut self,
        name: &str,
        msgs: &[StagedMsg],
        now: UnixNanos,
    ) -> Result<(), ApiError> {
        let total: usize = msgs
            .iter()
            .map(|m| m.subject.len() + m.hdr.len() + m.data.len())
            .sum();
        if self.over_account_limit(name, total) {
            return Err(ApiError::AccountResourcesExceeded);
        }
        let max_payload_bytes = self.env.max_payload_bytes;
        let s = self.streams.get_mut(name).ok_or(ApiError::StreamNotFound)?;
        let counters = s.log.borrow().log().counters();
        let mut ids: HashSet<String> = HashSet::new();
        let mut on_subject: HashMap<String, u64> = HashMap::new();
        let mut bytes = 0u64;
        for (i, m) in msgs.iter().enumerate() {
            let i = i as u64;
            let hdrs = Headers::parse(&m.hdr).map_err(|_| ApiError::BadRequest)?;
            let set = |k: &str| hdrs.get(k).filter(|v| !v.is_empty());
            if set(HDR_EXPECTED_LAST_MSG_ID).is_some() {
                return Err(ApiError::AtomicPublishUnsupportedHeader(
                    HDR_EXPECTED_LAST_MSG_ID.into(),
                ));
            }
            let transformed = s.rules.stored_subject(m.subject.as_bytes(), now as u32);
            let subj = transformed.as_deref().unwrap_or(&m.subject);
            if set(HDR_EXPECTED_LAST_SUBJECT_SEQ).is_some() {
                let on = set(HDR_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT).unwrap_or(subj);
                if on_subject.contains_key(on) {
                    return Err(ApiError::WrongLastSequenceConstant);
                }
            }
            let decision = s.check_incoming(
                counters.last_seq + i,
                max_payload_bytes,
                &Incoming {
                    subject: subj,
                    hdrs: &hdrs,
                    hdr_bytes: m.hdr.len(),
                    hdr_block: &m.hdr,
                    payload_bytes: m.data.len(),
                    scheduled: false,
                },
                now,
            );
            let accepted = match decision {
                PublishDecision::Reject(e) => return Err(e),
                PublishDecision::Duplicate { .. } => {
                    return Err(ApiError::AtomicPublishContainsDuplicateMessage)
                }
                PublishDecision::Store(a) => a,
            };
            if let Some(id) = &accepted.msg_id {
                if !ids.insert(id.clone()) {
                    return Err(ApiError::AtomicPublishContainsDuplicateMessage);
                }
            }
            // Only the first message may expect the stream's last sequence.
            if i > 0 && set(HDR_EXPECTED_LAST_SEQ).is_some() {
                return Err(ApiError::WrongLastSequenceConstant);
            }
            match accepted.rollup {
                Some(Rollup::Subject) if on_subject.contains_key(subj) => {
                    return Err(ApiError::RollupFailed("batch rollup sub invalid".into()))
                }
                Some(Rollup::All) if i > 0 => {
                    return Err(ApiError::RollupFailed("batch rollup all invalid".into()))
                }
                _ => {}
            }
            bytes += (subj.len() + m.hdr.len() + m.data.len()) as u64;
            let in_batch = on_subject.entry(subj.to_string()).or_default();
            *in_batch += 1;
            let c = &s.config;
            if c.discard == DiscardPolicy::New {
                if c.max_msgs > 0 && counters.msgs + i + 1 > c.max_msgs as u64 {
                    return Err(ApiError::max_msgs_exceeded());
                }
                if c.max_bytes > 0 && counters.bytes + bytes > c.max_bytes as u64 {
                    return Err(ApiError::max_bytes_exceeded());
                }
                if c.discard_new_per_subject
                    && c.max_msgs_per_subject > 0
                    && accepted.rollup.is_none()
                {
                    let stored = s
                        .log
                        .borrow()
                        .log()
                        .subject_state(subj.as_bytes())
                        .map_or(0, |st| st.msgs);
                    if stored + *in_batch > c.max_msgs_per_subject as u64 {
                        return Err(ApiError::max_msgs_per_subject_exceeded());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "batch_publish_tests.rs"]
mod tests;
