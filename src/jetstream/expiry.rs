//! Messages that leave a stream with time: `max_age` and per-message TTLs (`Nats-TTL`, with
//! `allow_msg_ttl`), on the shard's timer wheel like the consumers' timers.
//!
//! * `max_age`: one timer per stream, at the oldest message's time plus `max_age`. When it
//!   fires, everything older than `now − max_age` is purged (one purge, found by a binary
//!   search on time) and the timer re-armed for the new oldest message. Never a scan.
//! * A TTL: one timer per message that has one, deleting that sequence when it fires (if it
//!   is still there). At start the timers of a stream with `allow_msg_ttl` are rebuilt by
//!   reading its messages' headers once (there is no persisted TTL index yet).
//!
//! Stream timers share the wheel's id space with consumers: a stream's id also carries the
//! account in its high bits, and `AccountStreams::stream_ids` maps it back.

use super::api::headers::Headers;
use super::api::publish::{parse_ttl, HDR_TTL};
use super::consumer::{ConsumerTimer, TimerKind};
use super::consumers::Clock;
use super::streams::{AccountStreams, Stream};
use crate::store::{MessageLog, Purge};

const NS_PER_MS: i64 = 1_000_000;
const NS_PER_S: i64 = 1_000_000_000;

impl AccountStreams {
    /// The wheel id of stream `name`, assigned on first use.
    pub(crate) fn stream_timer_id(&mut self, name: &str) -> u64 {
        if let Some((&id, _)) = self.stream_ids.iter().find(|(_, n)| n.as_str() == name) {
            return id;
        }
        let id = self.next_consumer_id();
        self.stream_ids.insert(id, name.to_string());
        id
    }

    /// After a message was stored: its TTL timer, and the stream's age timer if none is armed.
    pub(crate) fn arm_expiry(&mut self, name: &str, seq: u64, ttl_s: i64, now_ns: i64) {
        let (max_age_ns, armed) = match self.streams.get(name) {
            Some(s) => (s.config.max_age_ns, s.age_timer_armed),
            None => return,
        };
        if ttl_s < 0 {
            if let Some(s) = self.streams.get_mut(name) {
                s.never_expire.insert(seq);
            }
        }
        if ttl_s <= 0 && (max_age_ns <= 0 || armed) {
            return;
        }
        if ttl_s > 0 {
            let id = self.stream_timer_id(name);
            let at_ns = now_ns.saturating_add(ttl_s.saturating_mul(NS_PER_S));
            self.wheel.borrow_mut().insert(
                (at_ns / NS_PER_MS) as u64,
                ConsumerTimer {
                    consumer_id: id,
                    kind: TimerKind::MsgTtl { stream_seq: seq },
                },
            );
        }
        if max_age_ns > 0 && !armed {
            let first_ns = self
                .streams
                .get(name)
                .and_then(|s| s.log.borrow_mut().state().ok())
                .map_or(now_ns, |st| st.first_ts_ns);
            self.arm_age(name, first_ns.saturating_add(max_age_ns));
        }
    }

    /// The age timer of stream `name`, at Unix time `at_ns`.
    fn arm_age(&mut self, name: &str, at_ns: i64) {
        let id = self.stream_timer_id(name);
        self.wheel.borrow_mut().insert(
            (at_ns / NS_PER_MS) as u64,
            ConsumerTimer {
                consumer_id: id,
                kind: TimerKind::MaxAge,
            },
        );
        if let Some(s) = self.streams.get_mut(name) {
            s.age_timer_armed = true;
        }
    }

    /// At start: the age timer and the TTL timers of stream `name`'s stored messages.
    pub fn restore_expiry(&mut self, name: &str, now: Clock) {
        let Some(s) = self.streams.get(name) else {
            return;
        };
        let ttl = s.config.allow_msg_ttl;
        let mut ttls = Vec::new();
        if ttl {
            let mut log = s.log.borrow_mut();
            let mut from = log.log().counters().first_seq;
            while let Ok(Some(m)) = log.next_by_subject(from, b">") {
                from = m.seq + 1;
                if m.headers.is_empty() {
                    continue;
                }
                let Ok(h) = Headers::parse(&m.headers) else {
                    continue;
                };
                if let Some(Ok(t)) = h.get(HDR_TTL).map(parse_ttl) {
                    if t != 0 {
                        ttls.push((m.seq, m.ts_ns, t));
                    }
                }
            }
        }
        let last = s.log.borrow().log().counters().last_seq;
        for (seq, ts, t) in ttls {
            self.arm_expiry(name, seq, t, ts);
        }
        if last > 0 {
            // Arms the age timer (a TTL of 0 arms nothing else).
            self.arm_expiry(name, last, 0, now.ns);
        }
        // Message schedules are stored messages too (schedules.rs).
        self.restore_schedules(name, now.ns);
    }

    /// A stream timer fired; false if `id` is no stream here.
    pub(crate) fn on_stream_timer(&mut self, timer: ConsumerTimer, now: Clock) -> bool {
        let Some(name) = self.stream_ids.get(&timer.consumer_id).cloned() else {
            return false;
        };
        let Some(s) = self.streams.get_mut(&name) else {
            return true;
        };
        match timer.kind {
            TimerKind::Schedule { stream_seq } => self.fire_schedule(&name, stream_seq, now.ns),
            TimerKind::BatchIdle => self.on_batch_timer(&name, now.ns),
            TimerKind::MsgTtl { stream_seq } => {
                // Deleted, or replaced by a subject delete marker (markers.rs).
                self.expire_seq(&name, stream_seq, now.ns);
            }
            TimerKind::MaxAge if s.config.subject_delete_marker_ttl_ns > 0 => {
                // One at a time (markers.rs). The timer stays marked armed meanwhile, so
                // the markers' publishes arm no second one.
                let max_age = s.config.max_age_ns;
                if max_age <= 0 {
                    s.age_timer_armed = false;
                    return true;
                }
                let next = self.expire_aged(&name, max_age, now.ns);
                if let Some(s) = self.streams.get_mut(&name) {
                    s.age_timer_armed = false;
                }
                if let Some(at_ns) = next {
                    self.arm_age(&name, at_ns);
                }
            }
            TimerKind::MaxAge => {
                s.age_timer_armed = false;
                let max_age = s.config.max_age_ns;
                if max_age <= 0 {
                    return true;
                }
                // A message exactly `max_age` old has expired.
                let cutoff = now.ns.saturating_sub(max_age);
                if let Some(ts) = purge_aged(s, cutoff) {
                    self.arm_age(&name, ts.saturating_add(max_age));
                }
            }
            _ => {}
        }
        true
    }
}

/// `max_age` without markers: everything stored at or before `cutoff_ns` goes in one purge,
/// but for the messages with `Nats-TTL: never` (`Stream::never_expire`), which stay: the
/// purge stops at the first of them and the rest up to the cut is deleted around them,
/// without reading a message. The time of the first message left that expires, if any.
fn purge_aged(s: &mut Stream, cutoff_ns: i64) -> Option<i64> {
    let mut log = s.log.borrow_mut();
    let last = log.log().counters().last_seq;
    let keep_from = first_at_or_after(&mut **log, cutoff_ns.saturating_add(1)).unwrap_or(last + 1);
    let live = |log: &dyn MessageLog, q: u64| log.log().next_by_subject(q, b">") == Some(q);
    let (nevers, stale): (Vec<u64>, Vec<u64>) = s
        .never_expire
        .range(..keep_from)
        .partition(|&&q| live(&**log, q));
    for q in stale {
        s.never_expire.remove(&q);
    }
    let up_to = nevers.first().copied().unwrap_or(keep_from);
    let mut gone = if up_to > last {
        log.purge(&Purge::default())
    } else {
        log.purge(&Purge {
            up_to_seq: Some(up_to),
            ..Purge::default()
        })
    }
    .unwrap_or(0);
    if !nevers.is_empty() {
        let mut from = up_to + 1;
        while let Some(q) = log
            .log()
            .next_by_subject(from, b">")
            .filter(|&q| q < keep_from)
        {
            from = q + 1;
            if nevers.binary_search(&q).is_err() && log.delete(q, false).unwrap_or(false) {
                gone += 1;
            }
        }
    }
    if gone > 0 {
        s.dirty = true;
        s.invalidate_pending();
    }
    match log.get(keep_from) {
        Ok(Some(m)) => Some(m.ts_ns),
        _ => None,
    }
}

/// The first live sequence stored at or after Unix time `t_ns`: a binary search over
/// sequences, since the log is in time order.
pub(crate) fn first_at_or_after(log: &mut dyn MessageLog, t_ns: i64) -> Option<u64> {
    let st = log.log().counters();
    let (mut lo, mut hi) = (st.first_seq, st.last_seq + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match log.next_by_subject(mid, b">") {
            Ok(Some(m)) if m.seq < hi => {
                if m.ts_ns >= t_ns {
                    hi = mid;
                } else {
                    lo = m.seq + 1;
                }
            }
            _ => hi = mid,
        }
    }
    log.next_by_subject(lo, b">").ok().flatten().map(|m| m.seq)
}
