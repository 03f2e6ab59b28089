//! The `_R_.` reply subjects of service imports, without per-request state.
//!
//! When a request crosses a service import from account B into account A, its reply subject
//! (which names an inbox in B) is replaced by one in A's namespace:
//!
//! ```text
//! _R_.<A's tag>.<mac>.<B's id>.<expiry>.<original reply ...>
//! ```
//!
//! A responder in A publishes its answer there; the publishing shard, whichever it is, reads
//! the subject back and delivers into B on the original reply. Everything needed travels in
//! the subject itself, so no shard has to keep (or share) a table of outstanding requests,
//! and an answer from a responder on any shard finds its way with no cross-shard lookup.
//! nats-server keeps such a table per exporting account instead (accounts.md §2.4).
//!
//! `mac` is a keyed hash (a per-process random key) over the exporter, the importer, the
//! expiry and the original reply, so a client of A cannot forge a reply into B's namespace;
//! `expiry` (seconds, base 36) implements the export's `response_threshold`.
//!
//! What differs from nats-server: a singleton export's second answer within the threshold
//! is delivered (nats-server drops it, having removed its entry at the first).

use std::sync::OnceLock;

use super::AccountId;

/// The prefix clients may not use for their own replies.
pub const REPLY_PREFIX: &[u8] = b"_R_.";

fn key() -> &'static ahash::RandomState {
    static KEY: OnceLock<ahash::RandomState> = OnceLock::new();
    KEY.get_or_init(|| {
        use rand::Rng;
        let mut r = rand::thread_rng();
        ahash::RandomState::with_seeds(r.gen(), r.gen(), r.gen(), r.gen())
    })
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn push_base62(out: &mut Vec<u8>, mut v: u64, digits: usize) {
    for _ in 0..digits {
        out.push(BASE62[(v % 62) as usize]);
        v /= 62;
    }
}

/// The six-character tag of an exporting account in its `_R_.` subjects.
pub fn account_tag(exporter: AccountId) -> [u8; 6] {
    let mut out = Vec::with_capacity(6);
    push_base62(&mut out, key().hash_one(("tag", exporter)), 6);
    let mut t = [0u8; 6];
    t.copy_from_slice(&out);
    t
}

fn mac(exporter: AccountId, importer: AccountId, expiry: &[u8], reply: &[u8]) -> [u8; 6] {
    let mut out = Vec::with_capacity(6);
    push_base62(
        &mut out,
        key().hash_one((exporter, importer, expiry, reply)),
        6,
    );
    let mut t = [0u8; 6];
    t.copy_from_slice(&out);
    t
}

/// The reply subject a request from `importer` with reply `reply` gets in `exporter`,
/// valid until `expiry_s` (seconds since the Unix epoch).
pub fn encode(
    exporter: AccountId,
    importer: AccountId,
    reply: &[u8],
    expiry_s: u64,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(REPLY_PREFIX);
    out.extend_from_slice(&account_tag(exporter));
    out.push(b'.');
    let mut exp = Vec::new();
    let mut v = expiry_s;
    loop {
        exp.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&mac(exporter, importer, &exp, reply));
    out.push(b'.');
    out.extend_from_slice(itoa::Buffer::new().format(importer).as_bytes());
    out.push(b'.');
    out.extend_from_slice(&exp);
    out.push(b'.');
    out.extend_from_slice(reply);
}

/// A decoded `_R_.` reply: where the answer goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub importer: AccountId,
    pub reply: &'a [u8],
}

/// Reads back a subject made by [`encode`] for `exporter`; None if it is not one, was made
/// for another account, was tampered with, or expired before `now_s`.
pub fn decode(exporter: AccountId, subject: &[u8], now_s: u64) -> Option<Decoded<'_>> {
    let rest = subject.strip_prefix(REPLY_PREFIX)?;
    let mut parts = rest.splitn(5, |&b| b == b'.');
    let tag = parts.next()?;
    let m = parts.next()?;
    let importer_text = parts.next()?;
    let exp = parts.next()?;
    let reply = parts.next()?;
    if tag != account_tag(exporter) || reply.is_empty() || exp.len() > 13 {
        return None;
    }
    let importer: AccountId = std::str::from_utf8(importer_text).ok()?.parse().ok()?;
    if m != mac(exporter, importer, exp, reply) {
        return None;
    }
    let mut expiry: u64 = 0;
    for &d in exp.iter().rev() {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'z' => d - b'a' + 10,
            _ => return None,
        };
        expiry = expiry.checked_mul(36)?.checked_add(u64::from(v))?;
    }
    if expiry < now_s {
        return None;
    }
    Some(Decoded { importer, reply })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_round_trips_until_it_expires() {
        let mut s = Vec::new();
        encode(3, 7, b"_INBOX.b.3", 1_000, &mut s);
        assert!(s.starts_with(b"_R_."));
        let d = decode(3, &s, 999).unwrap();
        assert_eq!(d.importer, 7);
        assert_eq!(d.reply, b"_INBOX.b.3");
        assert!(decode(3, &s, 1_000).is_some());
        assert!(decode(3, &s, 1_001).is_none(), "expired");
    }

    #[test]
    fn forged_or_foreign_replies_are_refused() {
        let mut s = Vec::new();
        encode(3, 7, b"_INBOX.b.3", 1_000, &mut s);
        assert!(decode(4, &s, 0).is_none(), "another exporter");
        let forged = String::from_utf8(s.clone())
            .unwrap()
            .replace("._INBOX.b.3", "._INBOX.b.4");
        assert!(decode(3, forged.as_bytes(), 0).is_none());
        let other_importer = String::from_utf8(s).unwrap().replacen(".7.", ".8.", 1);
        assert!(decode(3, other_importer.as_bytes(), 0).is_none());
        assert!(decode(3, b"_R_.abc", 0).is_none());
        assert!(decode(3, b"foo", 0).is_none());
    }
}
