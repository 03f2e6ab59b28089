//! Feeds arbitrary bytes to `parse_op`, op after op, and checks the parser's invariants
//! (see the `//!` docs of `natrix::proto::parser`):
//! - a parsed op consumes `0 < n <= len` bytes and all its spans lie inside them;
//! - a payload is exactly as long as its size token says, and within `max_payload_bytes`;
//! - any prefix of the input parses to "incomplete" or to the same answer, so where the
//!   reads split the stream does not matter;
//! - building the `-V` trace of each op (`proto::trace::inbound`, with CONNECT's
//!   redaction) never panics.
//!
//! The first two input bytes choose the limits, so small limits are reached often; the
//! third chooses where each op is split.

#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::proto::parser::{parse_op, Op, ParseError, ParseLimits, Span};
use natrix::proto::trace;

type Parsed = Result<Option<(Op, usize)>, ParseError>;

fuzz_target!(|data: &[u8]| {
    let [control, payload, split, input @ ..] = data else {
        return;
    };
    let limits = ParseLimits {
        max_control_line_bytes: 1 + usize::from(*control),
        max_payload_bytes: usize::from(*payload) * 4,
    };
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let parsed = parse_op(rest, &limits);
        check_prefixes(rest, &parsed, usize::from(*split) + pos, &limits);
        match parsed {
            Ok(Some((op, n))) => {
                check_op(rest, &op, n, &limits);
                let line = rest[..n].split(|&b| b == b'\n').next().unwrap_or_default();
                let _ = trace::inbound(&op, line);
                pos += n;
            }
            Ok(None) | Err(_) => break,
        }
    }
});

/// A prefix of `buf` must parse to "incomplete", or to exactly what `buf` parsed to: the same
/// op when the prefix holds all of it, the same error when the prefix already shows it.
fn check_prefixes(buf: &[u8], full: &Parsed, seed: usize, limits: &ParseLimits) {
    let split = seed.wrapping_mul(2_654_435_761) % (buf.len() + 1);
    let consumed = match full {
        Ok(Some((_, n))) => Some(*n),
        _ => None,
    };
    // One split chosen by the input, plus the two cuts right around the end of the op.
    let cuts = [Some(split), consumed.map(|n| n - 1), consumed];
    for k in cuts.into_iter().flatten() {
        let prefix = parse_op(&buf[..k], limits);
        match (full, &prefix) {
            (_, Ok(None)) => assert!(consumed.is_none_or(|n| k < n), "complete op lost at {k}"),
            (Ok(Some(_)), Ok(Some(_))) => assert_eq!(&prefix, full, "prefix {k} differs"),
            (Err(e), Err(p)) => assert_eq!(e, p, "prefix {k} gives another error"),
            _ => panic!("prefix {k} gives {prefix:?} but the whole gives {full:?}"),
        }
    }
}

/// Checks one parsed op against the bytes it came from.
fn check_op(buf: &[u8], op: &Op, n: usize, limits: &ParseLimits) {
    assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
    let inside = |span: Span| {
        assert!(
            span.start <= span.end && span.end as usize <= n,
            "{span:?} outside {n}"
        );
        span.get(buf)
    };
    let token = |span: Span| {
        let bytes = inside(span);
        assert!(!bytes.is_empty(), "empty argument");
        assert!(
            !bytes.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n')),
            "blank in argument"
        );
        bytes
    };
    let size = |span: Span| {
        let digits = token(span);
        assert!(
            digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit),
            "bad size"
        );
        digits
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'))
    };
    let payload = |span: Span, expected: usize| {
        assert_eq!(inside(span).len(), expected, "payload length");
        assert!(
            expected <= limits.max_payload_bytes,
            "payload over the limit"
        );
        assert_eq!(&buf[span.end as usize..n], b"\r\n", "payload terminator");
    };
    match *op {
        Op::Info { json } | Op::Connect { json } => {
            inside(json);
        }
        Op::Pub {
            subject,
            reply,
            size_token,
            payload: body,
        } => {
            token(subject);
            reply.map(token);
            payload(body, size(size_token));
        }
        Op::Hpub {
            subject,
            reply,
            hdr_token,
            total_token,
            hdr_len,
            payload: body,
        } => {
            token(subject);
            reply.map(token);
            assert_eq!(size(hdr_token), hdr_len as usize, "header length");
            let total = size(total_token);
            assert!(hdr_len as usize <= total, "header longer than total");
            payload(body, total);
        }
        Op::Sub {
            subject,
            queue,
            sid,
        } => {
            token(subject);
            queue.map(token);
            token(sid);
        }
        Op::Unsub { sid, max } => {
            token(sid);
            max.map(token);
        }
        Op::Ping | Op::Pong | Op::Ok | Op::Err => {}
    }
    // Every op ends with a `\n`: its control line's, or its payload's `\r\n`.
    assert_eq!(buf[n - 1], b'\n', "op does not end with a newline");
}
