//! Subject delete markers (`subject_delete_marker_ttl`, nats-server 2.11+), and `max_age`
//! in streams whose messages may carry a `Nats-TTL`.
//!
//! When `max_age` or a per-message TTL removes the last message of a subject, nats-server
//! stores a marker on that subject in its place: an empty payload and the headers
//! `Nats-Marker-Reason: MaxAge`, `Nats-TTL: <marker TTL as a Go duration>`,
//! `Nats-Rollup: sub`, in that order (seen on the wire from nats-server 2.15.1; the reason
//! is `MaxAge` for a TTL expiry too). The marker is an ordinary publish into the stream: a
//! new sequence that consumers and sources see, whose roll-up takes the expired message
//! with it and whose own TTL (or `max_age`, whichever is first) removes it later. No marker
//! replaces a marker, nor a KV purge (`KV-Operation: PURGE`, one already), nor a message
//! whose subject has others left. Deletes, purges and `max_msgs_per_subject` write none:
//! nats-server defines the reasons `Purge` and `Remove` but writes only `MaxAge`.
//!
//! `max_age` in a stream with markers goes one message at a time, oldest first, as
//! nats-server's does, so that each expired message may leave a marker (and one with
//! `Nats-TTL: never` stays), at most [`AGE_TURN_MAX`] messages a turn. Other streams keep
//! the purge of `expiry.rs`, which keeps the `never` ones too.
//!
//! A marker is a stored message like any other, so it survives a restart; after one,
//! `restore_expiry` arms the age timer, which expires what is overdue through here and so
//! writes the markers due (nats-server likewise skips its start-up expiry with markers on).

use std::borrow::Cow;

use super::api::headers::Headers;
use super::api::publish::{parse_ttl, Accepted, HDR_TTL};
use super::streams::AccountStreams;

/// The header naming why a marker was written.
pub const HDR_MARKER_REASON: &str = "Nats-Marker-Reason";
/// The only reason nats-server 2.15 writes.
pub const REASON_MAX_AGE: &str = "MaxAge";
const HDR_KV_OPERATION: &str = "KV-Operation";
const NS_PER_S: i64 = 1_000_000_000;
/// The most messages one `max_age` turn looks at in a stream with TTLs, so that expiring a
/// large backlog one message at a time does not hold the shard in one go.
pub const AGE_TURN_MAX: usize = 10_000;

/// The header block of a marker whose own TTL is `ttl_s` seconds (nats-server's order).
pub fn marker_headers(ttl_s: i64) -> Vec<u8> {
    let ttl = crate::gofmt::duration(std::time::Duration::from_secs(ttl_s.max(0) as u64));
    format!(
        "NATS/1.0\r\n{HDR_MARKER_REASON}: {REASON_MAX_AGE}\r\n{HDR_TTL}: {ttl}\r\nNats-Rollup: sub\r\n\r\n"
    )
    .into_bytes()
}

/// nats-server's `isSubjectDeleteMarker`: a marker, or a KV purge.
pub fn is_marker(hdr: &[u8]) -> bool {
    let Some(h) = parse(hdr) else {
        return false;
    };
    h.get(HDR_MARKER_REASON).is_some_and(|r| !r.is_empty())
        || h.get(HDR_KV_OPERATION) == Some("PURGE")
}

/// `Nats-TTL: never` (or any negative TTL): `max_age` passes it by.
pub fn never_expires(hdr: &[u8]) -> bool {
    parse(hdr)
        .and_then(|h| h.get(HDR_TTL).map(parse_ttl))
        .is_some_and(|t| matches!(t, Ok(t) if t < 0))
}

fn parse(hdr: &[u8]) -> Option<Headers<'_>> {
    if hdr.is_empty() {
        return None;
    }
    Headers::parse(hdr).ok()
}

/// `hdr` with its `Nats-TTL` lines replaced by `Nats-TTL: <ttl_s>` at the end, as
/// nats-server rewrites a TTL it raised to the marker TTL (`removeHeaderIfPresent`, then
/// `genHeader`: the key matched exactly, the value a plain count of seconds).
pub fn with_ttl(hdr: &[u8], ttl_s: i64) -> Vec<u8> {
    let body = hdr.strip_suffix(b"\r\n").unwrap_or(hdr);
    let mut out = Vec::with_capacity(hdr.len() + 16);
    let mut first = true;
    for line in body.split_inclusive(|&b| b == b'\n') {
        if !first && line.starts_with(HDR_TTL.as_bytes()) && line.get(HDR_TTL.len()) == Some(&b':')
        {
            continue;
        }
        first = false;
        out.extend_from_slice(line);
    }
    if out.is_empty() {
        out.extend_from_slice(b"NATS/1.0\r\n");
    }
    out.extend_from_slice(format!("{HDR_TTL}: {ttl_s}\r\n\r\n").as_bytes());
    out
}

/// The header block to store for an accepted publish: `hdr` itself, or rewritten by
/// [`with_ttl`] when `check_publish` raised its TTL to the marker TTL (it says so; the
/// header is not parsed again).
pub fn stored_headers<'a>(hdr: &'a [u8], accepted: &Accepted) -> Cow<'a, [u8]> {
    if accepted.ttl_raised {
        Cow::Owned(with_ttl(hdr, accepted.ttl_s))
    } else {
        Cow::Borrowed(hdr)
    }
}

impl AccountStreams {
    /// Message `seq` of stream `name` expired (its TTL or `max_age`): deleted, or, with
    /// markers on and it the last of its subject, replaced by a marker. True if it went.
    pub(crate) fn expire_seq(&mut self, name: &str, seq: u64, now_ns: i64) -> bool {
        let Some(s) = self.streams.get_mut(name) else {
            return false;
        };
        let marker_s = s.config.subject_delete_marker_ttl_ns / NS_PER_S;
        let marker_on = {
            let mut log = s.log.borrow_mut();
            let Ok(Some(m)) = log.get(seq) else {
                return false;
            };
            let last = || {
                log.log()
                    .subject_state(&m.subject)
                    .is_some_and(|st| st.msgs == 1)
            };
            (marker_s > 0 && !is_marker(&m.headers) && last()).then_some(m.subject)
        };
        if let Some(subj) = marker_on {
            let subj = String::from_utf8_lossy(&subj).into_owned();
            // Stored as a publish: its roll-up takes the expired message with it.
            let stored = self
                .publish(name, &subj, &marker_headers(marker_s), b"", now_ns)
                .is_some_and(|o| o.after_commit);
            let gone = self.streams.get_mut(name).is_some_and(|s| {
                let mut log = s.log.borrow_mut();
                matches!(log.get(seq), Ok(None))
            });
            if stored && gone {
                return true;
            }
        }
        // No marker due, or the stream refused it (a limit): the message goes anyway.
        let Some(s) = self.streams.get_mut(name) else {
            return false;
        };
        let gone = s.log.borrow_mut().delete(seq, false).unwrap_or(false);
        if gone {
            s.dirty = true;
            s.invalidate_pending();
        }
        gone
    }

    /// `max_age` one message at a time (a stream with markers): every message
    /// `max_age_ns` old or more goes, oldest first, but for those that never expire, at most
    /// [`AGE_TURN_MAX`] a call. When the age timer is due next: when the first message kept
    /// will be as old, `now_ns` if the turn stopped at its bound, None if nothing is left.
    pub(crate) fn expire_aged(&mut self, name: &str, max_age_ns: i64, now_ns: i64) -> Option<i64> {
        let cutoff_ns = now_ns.saturating_sub(max_age_ns);
        let mut from = self
            .streams
            .get(name)?
            .log
            .borrow()
            .log()
            .counters()
            .first_seq;
        for _ in 0..AGE_TURN_MAX {
            let next = {
                let s = self.streams.get(name)?;
                let mut log = s.log.borrow_mut();
                log.next_by_subject(from, b">").ok().flatten()
            };
            let m = next?;
            if m.ts_ns > cutoff_ns {
                return Some(m.ts_ns.saturating_add(max_age_ns));
            }
            from = m.seq + 1;
            if !never_expires(&m.headers) {
                self.expire_seq(name, m.seq, now_ns);
            }
        }
        // The rest in the next turn, after the shard served whatever else is waiting.
        Some(now_ns)
    }
}

#[cfg(test)]
#[path = "markers_tests.rs"]
mod tests;
