//! Subject and token rules (nats-protocol.md §4): what a SUB may subscribe to, what a pedantic
//! PUB may publish to, and whether a subscription subject matches a publish subject.
//!
//! Pure functions over bytes: no allocation, no I/O. The parser, the sublist and the permission
//! checks all go through here so that every part of the server agrees on the rules.
//!
//! Rules (verified against nats-server):
//! * A subject is a sequence of tokens separated by `.`. Any other byte may appear in a token.
//! * `*` and `>` are wildcards only as a whole token: `foo*`, `f*o` and `foo>` are literal.
//! * `*` matches exactly one token; `>` matches one or more tokens and must be the last token.
//!
//! Invariants:
//! * [`tokens`] yields at least one token, and yields an empty token for every empty position
//!   (`""` gives one empty token, `a..b` gives `a`, `""`, `b`).
//! * `matches(p, s)` implies `is_valid_subscription_subject(p)` and that `s` has no empty token,
//!   so a bad pattern or a bad publish subject never matches anything.

/// The single-token wildcard.
pub const PWC: &[u8] = b"*";
/// The full wildcard: one or more tokens, only as the last token.
pub const FWC: &[u8] = b">";

/// Whether a SUB may use `s`. Invalid only for an empty token (this includes the empty subject)
/// or any token after a `>` token; that is the whole check nats-server makes.
pub fn is_valid_subscription_subject(s: &[u8]) -> bool {
    let mut after_fwc = false;
    for token in tokens(s) {
        if token.is_empty() || after_fwc {
            return false;
        }
        after_fwc = token == FWC;
    }
    true
}

/// The pedantic publish check: every token non-empty and no token equal to `*` or `>`.
pub fn is_valid_publish_subject(s: &[u8]) -> bool {
    tokens(s).all(|token| !token.is_empty() && token != PWC && token != FWC)
}

/// Whether `s` has no whole-token wildcard. Says nothing about empty tokens.
pub fn is_literal(s: &[u8]) -> bool {
    // Most subjects contain neither byte, so one SIMD scan settles them without tokenizing.
    if memchr::memchr2(b'*', b'>', s).is_none() {
        return true;
    }
    tokens(s).all(|token| token != PWC && token != FWC)
}

/// Whether the subscription subject `pattern` matches the publish subject `subject`.
///
/// Tokens of `subject` are taken literally: a `*` or `>` token in it is matched only by a `*` or
/// `>` in `pattern` (no literal pattern token equals it). This is exactly what the sublist does,
/// so the match cache can be invalidated with this function. An invalid pattern or a subject with
/// an empty token matches nothing.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pattern_tokens = tokens(pattern);
    let mut subject_tokens = tokens(subject);
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) => {
                if p.is_empty() || s.is_empty() {
                    return false;
                }
                if p == FWC {
                    // `>` must end the pattern, and the tokens it swallows must still be valid.
                    return pattern_tokens.next().is_none()
                        && subject_tokens.all(|token| !token.is_empty());
                }
                if p != PWC && p != s {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The `.`-separated tokens of `s`, empty ones included.
pub fn tokens(s: &[u8]) -> Tokens<'_> {
    Tokens { rest: Some(s) }
}

/// Splits off the first token: `(first, Some(rest))`, or `(s, None)` when `s` has one token.
pub fn split_first(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    // A plain loop, not memchr: tokens are a few bytes, shorter than memchr's call and dispatch
    // overhead (which took most of a wildcard cache scan when measured).
    match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    }
}

/// Iterator returned by [`tokens`].
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    /// `None` once the last token was returned; `Some(b"")` still has one empty token to give.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (first, rest) = split_first(self.rest?);
        self.rest = rest;
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_empty_positions() {
        let split = |s: &[u8]| tokens(s).map(|t| t.to_vec()).collect::<Vec<_>>();
        assert_eq!(split(b""), vec![b"".to_vec()]);
        assert_eq!(split(b"a"), vec![b"a".to_vec()]);
        assert_eq!(
            split(b"a..b"),
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]
        );
        assert_eq!(split(b"a."), vec![b"a".to_vec(), b"".to_vec()]);
        assert_eq!(split(b".a"), vec![b"".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn subscription_subject_rejects_only_empty_tokens_and_tokens_after_fwc() {
        for good in [
            &b"foo"[..],
            b"foo.bar",
            b"*",
            b">",
            b"foo.*",
            b"foo.>",
            b"*.*.>",
            b"foo*",
            b"foo>.bar",
            b"f\xc3\xb6\xc3\xb6.\xf0\x9f\x8e\x89",
            b"a\0b",
        ] {
            assert!(
                is_valid_subscription_subject(good),
                "{:?}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b""[..],
            b".",
            b"foo.",
            b".foo",
            b"foo..bar",
            b"foo.>.bar",
            b">.foo",
            b">.>",
        ] {
            assert!(
                !is_valid_subscription_subject(bad),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn pedantic_publish_subject_rejects_empty_tokens_and_wildcards() {
        for good in [&b"foo"[..], b"foo.bar", b"foo*", b"foo>", b"a.b*.c"] {
            assert!(
                is_valid_publish_subject(good),
                "{:?}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b""[..],
            b"foo.",
            b".foo",
            b"foo..bar",
            b"*",
            b">",
            b"foo.*",
            b"foo.>.bar",
        ] {
            assert!(
                !is_valid_publish_subject(bad),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn wildcard_bytes_inside_a_token_are_literal() {
        assert!(is_literal(b"foo.bar"));
        assert!(is_literal(b"foo*.b>r.*x"));
        assert!(is_literal(b""));
        assert!(!is_literal(b"*"));
        assert!(!is_literal(b"foo.*"));
        assert!(!is_literal(b"foo.>"));
        assert!(!is_literal(b"foo*.*.bar"));
    }

    #[test]
    fn matches_follows_wildcard_rules() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"foo.bar", b"foo.bar", true),
            (b"foo.bar", b"foo.baz", false),
            (b"foo.bar", b"foo", false),
            (b"foo", b"foo.bar", false),
            (b"Foo", b"foo", false),
            (b"foo.*", b"foo.bar", true),
            (b"foo.*", b"foo", false),
            (b"foo.*", b"foo.bar.baz", false),
            (b"*.bar", b"foo.bar", true),
            (b"foo.>", b"foo.bar", true),
            (b"foo.>", b"foo.bar.baz", true),
            (b"foo.>", b"foo", false),
            (b">", b"foo", true),
            (b">", b"a.b.c.d", true),
            (b"*.>", b"a", false),
            (b"*.>", b"a.b", true),
            (b"foo*", b"foo*", true),
            (b"foo*", b"fooX", false),
            // Wildcard tokens in the publish subject are literal tokens.
            (b"foo.*", b"foo.*", true),
            (b"foo.>", b"foo.*", true),
            (b"foo.bar", b"foo.*", false),
            (b"foo.*", b"foo.>", true),
            // Invalid patterns and subjects with empty tokens match nothing.
            (b"foo.>.bar", b"foo.x.bar", false),
            (b"foo..bar", b"foo..bar", false),
            (b">", b"foo..bar", false),
            (b">", b"", false),
            (b"", b"", false),
            (b"foo.>", b"foo.bar.", false),
        ];
        for &(pattern, subject, expected) in cases {
            assert_eq!(
                matches(pattern, subject),
                expected,
                "{:?} vs {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(subject)
            );
        }
    }
}
