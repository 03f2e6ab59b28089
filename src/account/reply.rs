//! The `_R_.` reply subjects of service imports and the table that brings answers back.
//!
//! When a request crosses a service import from account B into account A, its reply subject
//! (an inbox in B) is replaced by one in A's namespace, shaped as nats-server shapes it:
//!
//! ```text
//! _R_.<A's tag, 6 chars>.<token, 6 chars>
//! ```
//!
//! The shard that routed the request (the requester's own shard) keeps the entry: token →
//! (B, the original reply, the export's response type, when it expires). The token's first
//! character names that shard, so an answer published on any shard is passed to it in one
//! hop; everything about the entry is then local to the requester's shard, which is also
//! the one that sees the requester UNSUB its inbox.
//!
//! Lifetime, as nats-server (accounts.md §2.4): a singleton entry goes at its first answer;
//! a stream or chunked one at an answer with no payload and no headers, or when idle past
//! the export's `response_threshold`; any entry goes when the requester unsubscribes the
//! reply subject, or after the threshold. The table is bounded
//! ([`SERVICE_REPLIES_MAX`]); when full, the oldest entries go first.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::ResponseType;
use super::AccountId;
use crate::sublist::FastMap;

/// The prefix clients may not use for their own replies.
pub const REPLY_PREFIX: &[u8] = b"_R_.";
/// Outstanding service replies one shard keeps at most.
pub const SERVICE_REPLIES_MAX: usize = 65_536;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Shard ids in the token's first character (`config::SHARDS_MAX` is 64).
const SHARD_CHARS: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// The six-character tag of an exporting account, as in its `_R_.` subjects (stable for
/// the life of the process).
pub fn account_tag(exporter: AccountId) -> [u8; 6] {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    let seed = SEED.get_or_init(ahash::RandomState::new);
    let mut h = seed.build_hasher();
    h.write_u32(exporter);
    let mut v = h.finish();
    let mut t = [0u8; 6];
    for c in &mut t {
        *c = BASE62[(v % 62) as usize];
        v /= 62;
    }
    t
}

/// Which shard an `_R_.` subject of `exporter` belongs to, and its token; None if the
/// subject is not one of `exporter`'s.
pub fn parse(exporter: AccountId, subject: &[u8]) -> Option<(usize, [u8; 6])> {
    let rest = subject.strip_prefix(REPLY_PREFIX)?;
    if rest.len() != 13 || rest[6] != b'.' || rest[..6] != account_tag(exporter) {
        return None;
    }
    let mut token = [0u8; 6];
    token.copy_from_slice(&rest[7..]);
    let shard = SHARD_CHARS.iter().position(|&c| c == token[0])?;
    Some((shard, token))
}

/// One outstanding request.
#[derive(Clone, Debug)]
pub struct Entry {
    pub importer: AccountId,
    pub exporter: AccountId,
    /// The requester's reply subject, in the importer's namespace.
    pub reply: Bytes,
    pub response: ResponseType,
    pub threshold: Duration,
    pub expires: Instant,
}

/// A shard's outstanding service replies.
#[derive(Default)]
pub struct ServiceReplies {
    entries: FastMap<[u8; 6], Entry>,
    /// Tokens in insertion order, for eviction and expiry sweeps (may hold stale tokens).
    order: VecDeque<[u8; 6]>,
    next: u64,
}

impl ServiceReplies {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records a request routed by shard `shard`; writes its `_R_.` subject into `out`.
    /// `random` varies the token (any value; it need not be secret: a token only works for
    /// the exporter it was made for, until its entry goes).
    pub fn insert(&mut self, shard: usize, entry: Entry, random: u64, out: &mut Vec<u8>) {
        self.sweep(entry.expires - entry.threshold);
        while self.entries.len() >= SERVICE_REPLIES_MAX {
            match self.order.pop_front() {
                Some(t) => {
                    self.entries.remove(&t);
                }
                None => break,
            }
        }
        let mut token = [0u8; 6];
        loop {
            self.next = self.next.wrapping_add(1);
            let mut v = random ^ self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            token[0] = SHARD_CHARS[shard % 64];
            for c in &mut token[1..] {
                *c = BASE62[(v % 62) as usize];
                v /= 62;
            }
            if !self.entries.contains_key(&token) {
                break;
            }
        }
        out.clear();
        out.extend_from_slice(REPLY_PREFIX);
        out.extend_from_slice(&account_tag(entry.exporter));
        out.push(b'.');
        out.extend_from_slice(&token);
        self.entries.insert(token, entry);
        self.order.push_back(token);
    }

    /// An answer for `token` published in `exporter` at `now`: where it goes, if its entry
    /// is still there. `ends_stream`: the answer has no payload and no headers.
    pub fn answer(
        &mut self,
        exporter: AccountId,
        token: &[u8; 6],
        ends_stream: bool,
        now: Instant,
    ) -> Option<(AccountId, Bytes)> {
        let e = self.entries.get_mut(token)?;
        if e.exporter != exporter {
            return None;
        }
        if now > e.expires {
            self.entries.remove(token);
            return None;
        }
        let to = (e.importer, e.reply.clone());
        let done = match e.response {
            ResponseType::Singleton => true,
            ResponseType::Stream | ResponseType::Chunked => ends_stream,
        };
        if done {
            self.entries.remove(token);
        } else {
            e.expires = now + e.threshold;
        }
        Some(to)
    }

    /// The requester unsubscribed `pattern` in `account`: its pending answers go.
    pub fn unsubscribed(&mut self, account: AccountId, pattern: &[u8]) {
        self.entries
            .retain(|_, e| !(e.importer == account && crate::subject::matches(pattern, &e.reply)));
    }

    /// Drops entries that expired before `now` (oldest first, stopping at a live one).
    fn sweep(&mut self, now: Instant) {
        while let Some(t) = self.order.front() {
            match self.entries.get(t) {
                Some(e) if e.expires >= now => break,
                Some(_) => {
                    self.entries.remove(t);
                }
                None => {}
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(response: ResponseType, now: Instant) -> Entry {
        Entry {
            importer: 7,
            exporter: 3,
            reply: Bytes::from_static(b"_INBOX.b.3"),
            response,
            threshold: Duration::from_secs(1),
            expires: now + Duration::from_secs(1),
        }
    }

    #[test]
    fn a_singleton_reply_is_answered_once() {
        let now = Instant::now();
        let mut t = ServiceReplies::default();
        let mut s = Vec::new();
        t.insert(5, entry(ResponseType::Singleton, now), 42, &mut s);
        assert_eq!(s.len(), 17, "{}", String::from_utf8_lossy(&s));
        let (shard, token) = parse(3, &s).unwrap();
        assert_eq!(shard, 5);
        assert!(parse(4, &s).is_none(), "another exporter's subject");
        assert_eq!(
            t.answer(3, &token, false, now),
            Some((7, Bytes::from_static(b"_INBOX.b.3")))
        );
        assert_eq!(t.answer(3, &token, false, now), None);
    }

    #[test]
    fn a_stream_reply_lasts_until_an_empty_answer_or_idleness() {
        let now = Instant::now();
        let mut t = ServiceReplies::default();
        let mut s = Vec::new();
        t.insert(0, entry(ResponseType::Stream, now), 1, &mut s);
        let (_, token) = parse(3, &s).unwrap();
        assert!(t.answer(3, &token, false, now).is_some());
        assert!(t.answer(3, &token, false, now).is_some());
        assert!(t.answer(3, &token, true, now).is_some());
        assert!(t.answer(3, &token, false, now).is_none(), "ended");
        t.insert(0, entry(ResponseType::Stream, now), 2, &mut s);
        let (_, token) = parse(3, &s).unwrap();
        assert!(t
            .answer(3, &token, false, now + Duration::from_secs(2))
            .is_none());
    }

    #[test]
    fn unsubscribing_the_reply_drops_its_entries() {
        let now = Instant::now();
        let mut t = ServiceReplies::default();
        let mut s = Vec::new();
        t.insert(0, entry(ResponseType::Singleton, now), 1, &mut s);
        let (_, token) = parse(3, &s).unwrap();
        t.unsubscribed(7, b"_INBOX.b.*");
        assert!(t.answer(3, &token, false, now).is_none());
        assert!(t.is_empty());
    }
}
