//! The client-protocol parser: the unconsumed bytes of a read buffer → one [`Op`].
//!
//! [`parse_op`] is a pure function. The connection keeps the bytes it has not consumed yet and
//! calls it again after the next read, with the same start plus the new bytes, so an op split
//! at any byte parses exactly like the unsplit one: there is no parser state to get wrong.
//! It follows nats-server's `parser.go` byte for byte (reference §1.1, §2.3–§2.9); the fields
//! of an op are [`Span`]s of the caller's buffer, nothing is copied or allocated, and the
//! payload is skipped by length, never scanned.
//!
//! Invariants (the unit tests and `fuzz/fuzz_targets/parser.rs` check each of them):
//! - `Ok(Some((op, n)))`: `0 < n <= buf.len()` and every span of `op` lies inside `buf[..n]`.
//!   A PUB payload is exactly as long as its size token says; an HPUB payload is exactly its
//!   total size and `hdr_len <= payload.len()`; neither exceeds `max_payload_bytes`.
//! - Prefixes are consistent: if `buf` gives `Ok(Some((op, n)))`, every `buf[..k]` with
//!   `k < n` gives `Ok(None)` and every longer buffer starting with `buf[..n]` gives the same
//!   answer. An error, once reported for a prefix, is reported for every extension of it,
//!   because it is only ever decided from bytes that are already final.
//! - Errors knowable early are reported early: an unknown op at the first letter that cannot
//!   match, an over-long control line before its `\n` arrives, and `MaxPayload` as soon as
//!   the control line is complete, before the payload is buffered.
//! - The bytes a caller must hold for one op are bounded by the limits: at most
//!   `2 * max_control_line_bytes` plus the op name, terminators and `max_payload_bytes`.
//!
//! Where this deliberately differs from nats-server (only for input no client sends):
//! - The limit on the control line counts, like nats-server, the argument from its first
//!   non-blank byte to the terminator. nats-server skips blanks before the argument and the
//!   junk after `PING`/`PONG`/`+OK` without storing them, so they are unlimited there. A
//!   stateless parser must keep them buffered, so a blank run before the argument longer
//!   than the limit, or junk after `PING`/`PONG`/`+OK` longer than
//!   `max(max_control_line_bytes, max_payload_bytes)`, is `MaxControlLine` here.
//! - nats-server treats a `\n` straight after `CONNECT`/`INFO`/`PUB `… (no argument at all)
//!   as the first byte of the argument and reads on to the next `\n`. Here that `\n` ends the
//!   line and the empty argument is rejected by the usual rules.
//! - The limit is capped at [`CONTROL_LINE_CAP_BYTES`] so that every offset fits a `u32`.

use std::fmt;

use memchr::memchr;

/// Byte range into the slice given to `parse_op`. u32 keeps `Op` small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The bytes this span covers. `buf` must be the slice the span was parsed from (or one
    /// with the same prefix); anything else is a caller bug and panics.
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The same range relative to a buffer that starts `by` bytes earlier.
    #[inline]
    pub fn shift(self, by: u32) -> Span {
        Span {
            start: self.start + by,
            end: self.end + by,
        }
    }

    /// Every offset the parser produces is below 2^32 (see [`CONTROL_LINE_CAP_BYTES`]).
    #[inline]
    fn at(start: usize, end: usize) -> Span {
        debug_assert!(start <= end && end <= u32::MAX as usize);
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
}

/// One client op. Every span is an offset into the buffer given to [`parse_op`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Client-sent INFO; the JSON is validated by the caller.
    Info {
        json: Span,
    },
    /// The JSON is validated by the caller.
    Connect {
        json: Span,
    },
    Pub {
        subject: Span,
        reply: Option<Span>,
        size_token: Span,
        payload: Span,
    },
    /// `payload` is headers + body (total bytes); the tokens are kept verbatim because
    /// nats-server copies them into the delivered HMSG.
    Hpub {
        subject: Span,
        reply: Option<Span>,
        hdr_token: Span,
        total_token: Span,
        hdr_len: u32,
        payload: Span,
    },
    Sub {
        subject: Span,
        queue: Option<Span>,
        sid: Span,
    },
    /// `max` is the raw token; the caller interprets it (an invalid max unsubscribes at once).
    Unsub {
        sid: Span,
        max: Option<Span>,
    },
    Ping,
    Pong,
    /// Client-sent `+OK`: ignored by the server.
    Ok,
    /// Client-sent `-ERR ...`: the server closes the connection silently.
    Err,
}

/// Why the bytes are not an op. Every variant closes the connection; they differ in what is
/// sent first (reference §1.1, "Error classes").
impl Op {
    /// The same op with every span moved `by` bytes later: ops parsed from the middle of a
    /// read buffer are shifted to offsets of the whole buffer.
    pub fn shift(self, by: u32) -> Op {
        let s = |sp: Span| sp.shift(by);
        let o = |sp: Option<Span>| sp.map(|x| x.shift(by));
        match self {
            Op::Info { json } => Op::Info { json: s(json) },
            Op::Connect { json } => Op::Connect { json: s(json) },
            Op::Pub {
                subject,
                reply,
                size_token,
                payload,
            } => Op::Pub {
                subject: s(subject),
                reply: o(reply),
                size_token: s(size_token),
                payload: s(payload),
            },
            Op::Hpub {
                subject,
                reply,
                hdr_token,
                total_token,
                hdr_len,
                payload,
            } => Op::Hpub {
                subject: s(subject),
                reply: o(reply),
                hdr_token: s(hdr_token),
                total_token: s(total_token),
                hdr_len,
                payload: s(payload),
            },
            Op::Sub {
                subject,
                queue,
                sid,
            } => Op::Sub {
                subject: s(subject),
                queue: o(queue),
                sid: s(sid),
            },
            Op::Unsub { sid, max } => Op::Unsub {
                sid: s(sid),
                max: o(max),
            },
            other => other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Lexical: `-ERR 'Unknown Protocol Operation'`, then close.
    UnknownOp,
    /// `-ERR 'maximum control line exceeded'`, then close.
    MaxControlLine,
    /// `-ERR 'Maximum Payload Violation'`, then close; found from the control line, before
    /// the payload arrives.
    MaxPayload,
    /// An argument error in a well-formed line: close silently, no `-ERR`.
    Violation,
}

impl ParseError {
    /// The exact text inside `-ERR '...'`, or `None` when nats-server closes silently.
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOp => Some("Unknown Protocol Operation"),
            ParseError::MaxControlLine => Some("maximum control line exceeded"),
            ParseError::MaxPayload => Some("Maximum Payload Violation"),
            ParseError::Violation => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "Protocol Violation" is nats-server's close reason for the silent case.
        f.write_str(self.err_text().unwrap_or("Protocol Violation"))
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// The longest argument (after the op name and its blanks, without the terminator).
    pub max_control_line_bytes: usize,
    /// The largest PUB size or HPUB total size; equal is allowed.
    pub max_payload_bytes: usize,
}

/// The control-line limit is capped here so that the largest op (two blank-or-argument runs
/// of this size plus a 9-digit payload) stays below 2^32 and every [`Span`] offset fits.
pub const CONTROL_LINE_CAP_BYTES: usize = 1 << 30;

/// A size token has at most 9 digits (nats-server's `parseSize`), so no size overflows.
const SIZE_DIGITS_MAX: usize = 9;

/// Parses the op at the start of `buf`. `Ok(None)` = incomplete, feed more bytes (and call
/// again with the same start plus the new bytes). `Ok(Some((op, consumed)))` = one whole op,
/// `consumed` bytes long including the payload and its CRLF. Spans are offsets into `buf`.
pub fn parse_op(buf: &[u8], limits: &ParseLimits) -> Result<Option<(Op, usize)>, ParseError> {
    let Some(name) = op_name(buf)? else {
        return Ok(None);
    };
    let max_line = limits.max_control_line_bytes.min(CONTROL_LINE_CAP_BYTES);
    let after_name = name.word().len();
    match name {
        Name::Connect | Name::Info => {
            let Some(line) = control_line(buf, after_name, true, max_line)? else {
                return Ok(None);
            };
            let json = Span::at(line.start, line.end);
            let op = match name {
                Name::Connect => Op::Connect { json },
                _ => Op::Info { json },
            };
            Ok(Some((op, line.next)))
        }
        Name::Ping | Name::Pong | Name::PlusOk => {
            // Everything up to the `\n` is ignored: `PINGX\r\n` is a PING. nats-server
            // discards that junk unbounded; we must buffer it, so we bound it by the largest
            // thing a connection may buffer anyway, a payload.
            let junk_max = max_line.max(limits.max_payload_bytes.min(CONTROL_LINE_CAP_BYTES));
            let Some(line) = control_line(buf, after_name, false, junk_max)? else {
                return Ok(None);
            };
            let op = match name {
                Name::Ping => Op::Ping,
                Name::Pong => Op::Pong,
                _ => Op::Ok,
            };
            Ok(Some((op, line.next)))
        }
        Name::Pub | Name::Hpub | Name::Sub | Name::Unsub | Name::MinusErr => {
            match buf.get(after_name) {
                None => return Ok(None),
                Some(b' ' | b'\t') => {}
                Some(_) => return Err(ParseError::UnknownOp),
            }
            let Some(line) = control_line(buf, after_name + 1, true, max_line)? else {
                return Ok(None);
            };
            match name {
                Name::Pub => parse_pub(buf, &line, limits),
                Name::Hpub => parse_hpub(buf, &line, limits),
                Name::Sub => parse_sub(buf, &line).map(Some),
                Name::Unsub => parse_unsub(buf, &line).map(Some),
                _ => Ok(Some((Op::Err, line.next))),
            }
        }
    }
}

/// The ops a client may send, named by their letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Connect,
    Info,
    Ping,
    Pong,
    PlusOk,
    MinusErr,
}

impl Name {
    /// The op name in upper case; a client may send any mix of cases.
    fn word(self) -> &'static [u8] {
        match self {
            Name::Pub => b"PUB",
            Name::Hpub => b"HPUB",
            Name::Sub => b"SUB",
            Name::Unsub => b"UNSUB",
            Name::Connect => b"CONNECT",
            Name::Info => b"INFO",
            Name::Ping => b"PING",
            Name::Pong => b"PONG",
            Name::PlusOk => b"+OK",
            Name::MinusErr => b"-ERR",
        }
    }
}

/// Clearing bit 5 upper-cases an ASCII letter. For an upper-case letter `L`, the only bytes
/// with `b & 0xDF == L` are `L` and its lower case, so this is an exact case-insensitive
/// letter match even for non-letter bytes.
#[inline]
fn upper(b: u8) -> u8 {
    b & 0xDF
}

/// Identifies the op from its name letters, as far as `buf` goes. Errors as soon as a letter
/// cannot continue any client op, like nats-server's one-state-per-letter machine. Client
/// `MSG`/`HMSG` (server-to-client ops) fail at their `M`, as do route and leaf ops.
#[inline(always)]
fn op_name(buf: &[u8]) -> Result<Option<Name>, ParseError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let (name, known) = match first {
        b'+' => (Name::PlusOk, 1),
        b'-' => (Name::MinusErr, 1),
        b'P' | b'p' => match buf.get(1).map(|&b| upper(b)) {
            None => return Ok(None),
            Some(b'U') => (Name::Pub, 2),
            Some(b'I') => (Name::Ping, 2),
            Some(b'O') => (Name::Pong, 2),
            Some(_) => return Err(ParseError::UnknownOp),
        },
        _ => match upper(first) {
            b'H' => (Name::Hpub, 1),
            b'S' => (Name::Sub, 1),
            b'U' => (Name::Unsub, 1),
            b'C' => (Name::Connect, 1),
            b'I' => (Name::Info, 1),
            // Also the empty line and leading whitespace: nothing may precede an op.
            _ => return Err(ParseError::UnknownOp),
        },
    };
    let word = name.word();
    for (i, &letter) in word.iter().enumerate().skip(known) {
        match buf.get(i) {
            None => return Ok(None),
            Some(&b) if upper(b) == letter => {}
            Some(_) => return Err(ParseError::UnknownOp),
        }
    }
    Ok(Some(name))
}

/// A complete control line: the argument is `buf[start..end]`, the next op starts at `next`.
#[derive(Debug)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

/// Finds the control line whose argument may start at `from`. With `skip_blanks`, spaces and
/// tabs at `from` are skipped first (they are not part of the argument, as in nats-server).
/// The line ends at the first `\n`; a `\r` just before it is not part of the argument.
#[inline(always)]
fn control_line(
    buf: &[u8],
    from: usize,
    skip_blanks: bool,
    max_line: usize,
) -> Result<Option<Line>, ParseError> {
    let mut start = from;
    if skip_blanks {
        // Bounded by the limit so that a flood of blanks is refused rather than buffered.
        let stop = buf
            .len()
            .min(from.saturating_add(max_line).saturating_add(1));
        while start < stop && matches!(buf[start], b' ' | b'\t') {
            start += 1;
        }
        if start - from > max_line {
            return Err(ParseError::MaxControlLine);
        }
    }
    // The longest acceptable line is the argument plus `\r\n`: no need to look further.
    let window = buf
        .len()
        .min(start.saturating_add(max_line).saturating_add(2));
    match memchr(b'\n', &buf[start..window]) {
        Some(i) => {
            let newline = start + i;
            let end = if newline > start && buf[newline - 1] == b'\r' {
                newline - 1
            } else {
                newline
            };
            if end - start > max_line {
                return Err(ParseError::MaxControlLine);
            }
            Ok(Some(Line {
                start,
                end,
                next: newline + 1,
            }))
        }
        None => {
            // A partial line is checked too, or a client that never sends `\n` could make us
            // buffer without bound. A trailing `\r` may be half of the terminator.
            let mut end = buf.len();
            if end > start && buf[end - 1] == b'\r' {
                end -= 1;
            }
            if end - start > max_line {
                return Err(ParseError::MaxControlLine);
            }
            Ok(None)
        }
    }
}

/// Which bytes separate arguments. PUB and HPUB split on spaces and tabs only (nats-server
/// `processPub`); SUB and UNSUB on `\r` too (`splitArg`; its `\n` cannot occur inside a line).
#[derive(Clone, Copy)]
enum Blanks {
    SpaceTab,
    SpaceTabCr,
}

/// Splits the argument of `line` on runs of blanks. Keeps the first `N` arguments and
/// returns how many there were in all, so a caller can reject extra ones without storing
/// them.
///
/// This is the hot loop of a PUB, so it works on 64-byte chunks: [`separator_bits`] marks
/// every blank at once, and token edges fall out of the mask, instead of a branch per byte.
#[inline(always)]
fn split_args<const N: usize>(buf: &[u8], line: &Line, blanks: Blanks) -> ([Span; N], usize) {
    // Offsets kept apart and joined into spans at the end: storing the two halves of a span
    // and then loading it whole stalls store forwarding.
    let mut starts = [0usize; N];
    let mut ends = [0usize; N];
    let mut count = 0;
    let arg = &buf[line.start..line.end];
    // The byte before the argument counts as a blank, so a token may start at offset 0.
    let mut prev_blank = true;
    let mut token_start = 0;
    for (chunk_index, chunk) in arg.chunks(64).enumerate() {
        let base = chunk_index * 64;
        let sep = separator_bits(chunk, blanks);
        let before = (sep << 1) | u64::from(prev_blank);
        let first_bytes = !sep & before;
        let mut edges = first_bytes | (sep & !before);
        while edges != 0 {
            let i = edges.trailing_zeros() as usize;
            edges &= edges - 1;
            if first_bytes & (1 << i) != 0 {
                token_start = base + i;
            } else {
                if count < N {
                    starts[count] = token_start;
                    ends[count] = base + i;
                }
                count += 1;
            }
        }
        prev_blank = sep >> 63 != 0;
    }
    // Only a full last chunk can end inside a token: past a short one all bits are blanks.
    if !prev_blank {
        if count < N {
            starts[count] = token_start;
            ends[count] = arg.len();
        }
        count += 1;
    }
    let mut args = [Span::default(); N];
    for (i, arg) in args.iter_mut().enumerate().take(count) {
        *arg = Span::at(line.start + starts[i], line.start + ends[i]);
    }
    (args, count)
}

/// Bit `i` is set when byte `i` of `chunk` (at most 64 bytes) is a blank. Bits past the end
/// of the chunk are set as well, so a token that reaches the end of a short chunk ends there.
#[inline(always)]
fn separator_bits(chunk: &[u8], blanks: Blanks) -> u64 {
    debug_assert!(chunk.len() <= 64);
    let (words, rest) = chunk.as_chunks::<8>();
    let mut bits = 0u64;
    let mut shift = 0;
    for word in words {
        bits |= u64::from(blank_byte_mask(u64::from_le_bytes(*word), blanks)) << shift;
        shift += 8;
    }
    if !rest.is_empty() {
        // Assembled in a register: a copy into a padded array and an 8-byte load of it
        // would stall store forwarding. The zero padding is overridden below.
        let mut word = 0u64;
        for (i, &b) in rest.iter().enumerate() {
            word |= u64::from(b) << (8 * i);
        }
        bits |= u64::from(blank_byte_mask(word, blanks)) << shift;
    }
    if chunk.len() < 64 {
        bits |= u64::MAX << chunk.len();
    }
    bits
}

/// Bit `k` of the result is set when byte `k` of the little-endian `word` is a blank.
#[inline]
fn blank_byte_mask(word: u64, blanks: Blanks) -> u8 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut high = zero_byte_high_bits(word ^ (ONES * u64::from(b' ')))
        | zero_byte_high_bits(word ^ (ONES * u64::from(b'\t')));
    if let Blanks::SpaceTabCr = blanks {
        high |= zero_byte_high_bits(word ^ (ONES * u64::from(b'\r')));
    }
    // Gathers bit 7 of each byte into the top byte; the products never overlap, so no carry
    // disturbs it (the classic movemask-by-multiplication).
    ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Sets bit 7 of exactly those bytes of `x` that are zero. Unlike the common `haszero`
/// trick this has no false positives, because no addition carries across a byte.
#[inline]
fn zero_byte_high_bits(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// nats-server's `parseSize`: 1 to 9 ASCII digits, nothing else (no sign, no blanks).
#[inline]
fn parse_size(token: &[u8]) -> Option<usize> {
    if token.is_empty() || token.len() > SIZE_DIGITS_MAX {
        return None;
    }
    let mut n = 0usize;
    for &b in token {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// The payload of `size` bytes at `start`, which must be followed by exactly `\r\n`.
/// Returns its span and the end of the op. A wrong terminator byte is lexical (nats-server's
/// `MSG_END_R`/`MSG_END_N` states) and is reported as soon as that byte is present.
#[inline]
fn payload(buf: &[u8], start: usize, size: usize) -> Result<Option<(Span, usize)>, ParseError> {
    let end = start + size;
    match buf.get(end) {
        None => return Ok(None),
        Some(b'\r') => {}
        Some(_) => return Err(ParseError::UnknownOp),
    }
    match buf.get(end + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((Span::at(start, end), end + 2))),
        Some(_) => Err(ParseError::UnknownOp),
    }
}

/// `PUB <subject> [reply] <size>`. The checks run in nats-server's order: argument count,
/// size, then max payload.
#[inline(always)]
fn parse_pub(
    buf: &[u8],
    line: &Line,
    limits: &ParseLimits,
) -> Result<Option<(Op, usize)>, ParseError> {
    let (args, count) = split_args::<3>(buf, line, Blanks::SpaceTab);
    let (subject, reply, size_token) = match count {
        2 => (args[0], None, args[1]),
        3 => (args[0], Some(args[1]), args[2]),
        _ => return Err(ParseError::Violation),
    };
    let size = parse_size(size_token.get(buf)).ok_or(ParseError::Violation)?;
    if size > limits.max_payload_bytes {
        return Err(ParseError::MaxPayload);
    }
    let Some((payload, consumed)) = payload(buf, line.next, size)? else {
        return Ok(None);
    };
    Ok(Some((
        Op::Pub {
            subject,
            reply,
            size_token,
            payload,
        },
        consumed,
    )))
}

/// `HPUB <subject> [reply] <header size> <total size>`; header size > total is an argument
/// error, checked before max payload as nats-server does.
fn parse_hpub(
    buf: &[u8],
    line: &Line,
    limits: &ParseLimits,
) -> Result<Option<(Op, usize)>, ParseError> {
    let (args, count) = split_args::<4>(buf, line, Blanks::SpaceTab);
    let (subject, reply, hdr_token, total_token) = match count {
        3 => (args[0], None, args[1], args[2]),
        4 => (args[0], Some(args[1]), args[2], args[3]),
        _ => return Err(ParseError::Violation),
    };
    let hdr_len = parse_size(hdr_token.get(buf)).ok_or(ParseError::Violation)?;
    let total = parse_size(total_token.get(buf)).ok_or(ParseError::Violation)?;
    if hdr_len > total {
        return Err(ParseError::Violation);
    }
    if total > limits.max_payload_bytes {
        return Err(ParseError::MaxPayload);
    }
    let Some((payload, consumed)) = payload(buf, line.next, total)? else {
        return Ok(None);
    };
    // At most 9 digits, so below 10^9 < 2^32.
    let hdr_len = hdr_len as u32;
    Ok(Some((
        Op::Hpub {
            subject,
            reply,
            hdr_token,
            total_token,
            hdr_len,
            payload,
        },
        consumed,
    )))
}

/// `SUB <subject> [queue] <sid>`.
fn parse_sub(buf: &[u8], line: &Line) -> Result<(Op, usize), ParseError> {
    let (args, count) = split_args::<3>(buf, line, Blanks::SpaceTabCr);
    let op = match count {
        2 => Op::Sub {
            subject: args[0],
            queue: None,
            sid: args[1],
        },
        3 => Op::Sub {
            subject: args[0],
            queue: Some(args[1]),
            sid: args[2],
        },
        _ => return Err(ParseError::Violation),
    };
    Ok((op, line.next))
}

/// `UNSUB <sid> [max]`; `max` stays a raw token because an invalid one is not an error.
fn parse_unsub(buf: &[u8], line: &Line) -> Result<(Op, usize), ParseError> {
    let (args, count) = split_args::<2>(buf, line, Blanks::SpaceTabCr);
    let op = match count {
        1 => Op::Unsub {
            sid: args[0],
            max: None,
        },
        2 => Op::Unsub {
            sid: args[0],
            max: Some(args[1]),
        },
        _ => return Err(ParseError::Violation),
    };
    Ok((op, line.next))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
