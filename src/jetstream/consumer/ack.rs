//! The `$JS.ACK` reply subject (encode and decode) and the ack payloads a client sends to it.
//!
//! nats-server 2.15.1 sends the 9-token v1 form to clients (captured: `$JS.ACK.S.C.1.1.1.
//! 1796319431162591761.2`), so that is the only form `encode_v1` writes. The decoder also
//! accepts the v2 form (`$JS.ACK.<domain|_>.<account hash>.<stream>.<consumer>.<delivered>.
//! <sseq>.<cseq>.<ts ns>.<pending>[.<random>…]`, 11 or more tokens), since clients may echo
//! either.
//!
//! Invariants: decoding never panics and borrows from the input; anything that is not exactly
//! one of the two forms with decimal `u64` counters is an [`AckSubjectError`].

use super::pull::{PullRequest, PullRequestError};

/// A decoded ack subject. Names borrow from the subject bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckSubject<'a> {
    /// v2 only; `None` for v1 and for the v2 placeholder `_`.
    pub domain: Option<&'a str>,
    /// v2 only.
    pub account_hash: Option<&'a str>,
    pub stream: &'a str,
    pub consumer: &'a str,
    /// Delivery count of this copy, starting at 1.
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    /// The message's store time, Unix ns.
    pub timestamp_ns: u64,
    /// The consumer's num_pending after this message.
    pub pending: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckSubjectError {
    NotAckSubject,
    TokenCount(usize),
    EmptyToken,
    BadNumber,
}

impl std::fmt::Display for AckSubjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AckSubjectError::NotAckSubject => f.write_str("not a $JS.ACK subject"),
            AckSubjectError::TokenCount(n) => write!(f, "ack subject has {n} tokens"),
            AckSubjectError::EmptyToken => f.write_str("ack subject has an empty token"),
            AckSubjectError::BadNumber => f.write_str("ack subject counter is not a u64"),
        }
    }
}

impl std::error::Error for AckSubjectError {}

/// Appends the v1 ack subject nats-server 2.15.1 sends.
pub fn encode_v1(out: &mut Vec<u8>, a: &AckSubject<'_>) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(b"$JS.ACK.");
    out.extend_from_slice(a.stream.as_bytes());
    out.push(b'.');
    out.extend_from_slice(a.consumer.as_bytes());
    for n in [
        a.delivered,
        a.stream_seq,
        a.consumer_seq,
        a.timestamp_ns,
        a.pending,
    ] {
        out.push(b'.');
        out.extend_from_slice(buf.format(n).as_bytes());
    }
}

/// Decodes either form.
pub fn decode(subject: &[u8]) -> Result<AckSubject<'_>, AckSubjectError> {
    let subject = std::str::from_utf8(subject).map_err(|_| AckSubjectError::NotAckSubject)?;
    let rest = subject
        .strip_prefix("$JS.ACK.")
        .ok_or(AckSubjectError::NotAckSubject)?;
    // The subject tokenizer's byte loop, not `str::split` (every ack of every consumer
    // comes through here).
    let mut tokens: [&[u8]; 12] = [&[]; 12];
    let mut count = 0;
    for token in crate::subject::tokens(rest.as_bytes()) {
        if token.is_empty() {
            return Err(AckSubjectError::EmptyToken);
        }
        if count < tokens.len() {
            tokens[count] = token;
        }
        count += 1;
    }
    // Pieces of a valid UTF-8 string cut at an ASCII `.`: valid too.
    let text = |t| std::str::from_utf8(t).map_err(|_| AckSubjectError::NotAckSubject);
    let total = count + 2;
    let (domain, account_hash, names) = match total {
        9 => (None, None, 0),
        n if n >= 11 => {
            let domain = Some(text(tokens[0])?).filter(|d| *d != "_");
            (domain, Some(text(tokens[1])?), 2)
        }
        n => return Err(AckSubjectError::TokenCount(n)),
    };
    // Digits only (no sign, as nats-server's parser), and no overflow.
    let num = |i: usize| -> Result<u64, AckSubjectError> {
        tokens[names + 2 + i].iter().try_fold(0u64, |n, &b| {
            if !b.is_ascii_digit() {
                return Err(AckSubjectError::BadNumber);
            }
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or(AckSubjectError::BadNumber)
        })
    };
    Ok(AckSubject {
        domain,
        account_hash,
        stream: text(tokens[names])?,
        consumer: text(tokens[names + 1])?,
        delivered: num(0)?,
        stream_seq: num(1)?,
        consumer_seq: num(2)?,
        timestamp_ns: num(3)?,
        pending: num(4)?,
    })
}

/// What an ack payload asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckKind<'a> {
    /// Empty, `+ACK` or the deprecated `+OK`.
    Ack,
    /// `-NAK`, optionally with a delay (`{"delay": ns}` or a Go duration); a bad delay is a
    /// plain NAK, as in nats-server.
    Nak { delay_ms: Option<u64> },
    /// `+WPI`: reset the ack timer.
    Progress,
    /// `+TERM [reason]`.
    Term { reason: Option<&'a str> },
    /// `+NXT [n | {pull json}]`: ack, then pull to the ack's reply subject.
    Next(PullRequest),
    /// Anything else: nats-server ignores it.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckPayloadError {
    BadNext(PullRequestError),
}

/// Parses an ack payload the way nats-server's `processAck` dispatches on it.
pub fn parse_payload(payload: &[u8]) -> Result<AckKind<'_>, AckPayloadError> {
    match payload {
        b"" | b"+ACK" | b"+OK" => return Ok(AckKind::Ack),
        b"+WPI" => return Ok(AckKind::Progress),
        _ => {}
    }
    if let Some(rest) = payload.strip_prefix(b"-NAK") {
        return Ok(AckKind::Nak {
            delay_ms: nak_delay_ms(trim(rest)),
        });
    }
    if let Some(rest) = payload.strip_prefix(b"+TERM") {
        let reason = std::str::from_utf8(trim(rest))
            .ok()
            .filter(|r| !r.is_empty());
        return Ok(AckKind::Term { reason });
    }
    if let Some(rest) = payload.strip_prefix(b"+NXT") {
        let req = PullRequest::decode(trim(rest)).map_err(AckPayloadError::BadNext)?;
        return Ok(AckKind::Next(req));
    }
    Ok(AckKind::Unknown)
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn nak_delay_ms(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return None;
    }
    if arg.first() == Some(&b'{') {
        #[derive(serde::Deserialize)]
        struct Delay {
            #[serde(default)]
            delay: i64,
        }
        let d: Delay = serde_json::from_slice(arg).ok()?;
        return (d.delay > 0).then(|| (d.delay as u64).div_ceil(1_000_000));
    }
    go_duration_ns(std::str::from_utf8(arg).ok()?).map(|ns| ns.div_ceil(1_000_000))
}

/// Go `time.ParseDuration` for the forms clients send (`5s`, `1.5s`, `100ms`, `1m30s`).
fn go_duration_ns(s: &str) -> Option<u64> {
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    (total.is_finite() && total < u64::MAX as f64).then_some(total as u64)
}
