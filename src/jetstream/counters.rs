//! Distributed counters (`allow_msg_counter`, nats-server 2.12+), sans-io: the value
//! arithmetic and the stored-message format.
//!
//! A publish to a counter stream carries `Nats-Incr: <signed decimal>` and no payload; the
//! stream stores, on that subject, a message whose payload is the new total
//! `{"val":"<n>"}` (the publish's headers kept) and acks with `"val":"<n>"`. Values are
//! arbitrary precision, as nats-server's `math/big` ones are ([`BigInt`]).
//!
//! A copy that a counter stream sources from another counter stream is not added as is: its
//! payload is the origin's total for that subject, so the stream keeps, in the
//! `Nats-Counter-Sources` header (`{"<origin stream>":{"<origin subject>":"<total>"}}`), the
//! last total seen of each origin subject, adds the difference to its own value and rewrites
//! the copy's `Nats-Incr` to that difference.
//!
//! Invariants: a counter stream's every message on a subject is a counter value; the
//! sources header of the last message on a subject holds every origin total seen for it.

use super::api::error::ApiError;
use super::api::headers::Headers;
use super::api::publish::{
    HDR_EXPECTED_LAST_MSG_ID, HDR_EXPECTED_LAST_SEQ, HDR_EXPECTED_LAST_SUBJECT_SEQ,
    HDR_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT, HDR_EXPECTED_STREAM, HDR_ROLLUP,
};
use num_bigint::BigInt;
use std::collections::BTreeMap;

pub const HDR_INCR: &str = "Nats-Incr";
pub const HDR_COUNTER_SOURCES: &str = "Nats-Counter-Sources";
const HDR_STREAM_SOURCE: &str = "Nats-Stream-Source";

/// Origin stream → origin subject → last total seen (decimal).
pub type CounterSources = BTreeMap<String, BTreeMap<String, String>>;

/// Go's `big.Int.SetString(v, 10)`: an optional `+` or `-`, then one or more ASCII digits
/// (no underscores, no spaces). `None` if `v` is anything else.
pub fn parse_value(v: &str) -> Option<BigInt> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// The counter checks nats-server makes first on a publish (right after a sealed stream):
/// the increment, if any, or why the publish is refused. `sourced` copies skip all but the
/// parse (they are stored as their origin accepted them).
/// `hdr` is the raw block (`Nats-Incr` is read from it by [`slice_header`]), `hdrs` the same
/// parsed.
pub fn check_incr(
    allow_msg_counter: bool,
    hdr: &[u8],
    hdrs: &Headers<'_>,
    payload_bytes: usize,
    sourced: bool,
) -> Result<Option<BigInt>, ApiError> {
    let Some(v) = slice_header(hdr, HDR_INCR).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let v = std::str::from_utf8(v).map_err(|_| ApiError::MessageIncrInvalid)?;
    let incr = parse_value(v).ok_or(ApiError::MessageIncrInvalid)?;
    if sourced {
        return Ok(Some(incr));
    }
    if !allow_msg_counter {
        return Err(ApiError::MessageIncrDisabled);
    }
    if payload_bytes > 0 {
        return Err(ApiError::MessageIncrPayload);
    }
    let set = |k: &str| hdrs.get(k).is_some_and(|v| !v.is_empty());
    let refused = [
        HDR_ROLLUP,
        HDR_EXPECTED_STREAM,
        HDR_EXPECTED_LAST_MSG_ID,
        HDR_EXPECTED_LAST_SUBJECT_SEQ_SUBJECT,
        HDR_EXPECTED_LAST_SEQ,
        HDR_EXPECTED_LAST_SUBJECT_SEQ,
    ];
    if refused.into_iter().any(set) {
        return Err(ApiError::MessageIncrInvalid);
    }
    Ok(Some(incr))
}

/// What to store for a counter update, and the value for the ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub hdr: Vec<u8>,
    pub payload: Vec<u8>,
    pub value: BigInt,
}

/// The last message stored on the subject, as the update reads it.
pub struct Last<'a> {
    pub hdr: &'a [u8],
    pub payload: &'a [u8],
}

#[derive(serde::Deserialize)]
struct CounterValue {
    #[serde(default)]
    val: String,
}

/// The total a counter message's payload holds; `None` if it is not `{"val":"..."}`. A
/// `val` that is no number counts as 0 (nats-server ignores `SetString`'s failure).
pub fn value_of(payload: &[u8]) -> Option<BigInt> {
    let v: CounterValue = serde_json::from_slice(payload).ok()?;
    Some(parse_value(&v.val).unwrap_or_default())
}

/// The new message for an increment `incr` on a subject whose last message is `last`.
/// `hdr` is the publish's (or, for a sourced copy, the copy's) header block; a copy is
/// recognised by its `Nats-Stream-Source` header and `payload` is then the origin's total.
pub fn apply(
    last: Option<Last<'_>>,
    hdr: &[u8],
    payload: &[u8],
    incr: &BigInt,
) -> Result<Update, ApiError> {
    let mut initial = BigInt::default();
    let mut sources = CounterSources::new();
    if let Some(l) = last {
        initial = value_of(l.payload).ok_or(ApiError::MessageCounterBroken)?;
        if let Some(v) = header(l.hdr, HDR_COUNTER_SOURCES) {
            sources = serde_json::from_str(v).map_err(|_| ApiError::MessageCounterBroken)?;
        }
    }
    let mut hdr = hdr.to_vec();
    let mut incr = incr.clone();
    if let Some(src) = header(&hdr, HDR_STREAM_SOURCE).map(str::to_string) {
        let fields: Vec<&str> = src.split(' ').collect();
        let origin = fields[0].to_string();
        let subject = fields.get(4).copied().unwrap_or("").to_string();
        let sourced = value_of(payload).ok_or(ApiError::MessageCounterBroken)?;
        let seen = sources.entry(origin).or_default();
        let previous = seen
            .get(&subject)
            .and_then(|p| parse_value(p))
            .unwrap_or_default();
        seen.insert(subject, sourced.to_string());
        incr = &sourced - &previous;
        hdr = set_header(&hdr, HDR_INCR, &incr.to_string());
    }
    let value = initial + incr;
    if !sources.is_empty() {
        hdr = set_header(&hdr, HDR_COUNTER_SOURCES, &go_json(&sources));
    }
    Ok(Update {
        hdr,
        payload: format!("{{\"val\":\"{value}\"}}").into_bytes(),
        value,
    })
}

/// The pub ack of a counter stream: `ack` (a plain ack ending in `}`) with `,"val":"<n>"`.
pub fn ack_with_value(mut ack: Vec<u8>, value: &BigInt) -> Vec<u8> {
    ack.pop();
    ack.extend_from_slice(format!(",\"val\":\"{value}\"}}").as_bytes());
    ack
}

/// Go's `json.Marshal` of the sources: keys sorted, `<`, `>`, `&` and U+2028/9 escaped.
fn go_json(sources: &CounterSources) -> String {
    let s = serde_json::to_string(sources).unwrap_or_default();
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// nats-server's `sliceHeader`: the value of the first `key:` line (the key matched exactly,
/// at the start of a line after the first), leading spaces skipped, the rest kept up to the
/// line's CRLF.
pub fn slice_header<'a>(hdr: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut first = true;
    for line in hdr.split_inclusive(|&b| b == b'\n') {
        if std::mem::take(&mut first) {
            continue;
        }
        let Some(rest) = line.strip_prefix(key.as_bytes()) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let value = rest.strip_suffix(b"\r\n").unwrap_or(rest);
        let skip = value.iter().take_while(|&&b| b == b' ').count();
        return Some(&value[skip..]);
    }
    None
}

fn header<'a>(hdr: &'a [u8], key: &str) -> Option<&'a str> {
    if hdr.is_empty() {
        return None;
    }
    Headers::parse(hdr).ok()?.get(key).filter(|v| !v.is_empty())
}

/// nats-server's `setHeader`: the first `key:` line's value replaced (one space after the
/// colon kept), or `key: value` appended before the block's end.
pub fn set_header(hdr: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut pos = None;
    let mut at = 0;
    for line in hdr.split_inclusive(|&b| b == b'\n') {
        if at > 0 && line.starts_with(key.as_bytes()) && line.get(key.len()) == Some(&b':') {
            pos = Some(at);
            break;
        }
        at += line.len();
    }
    match pos {
        Some(start) => {
            let mut v_start = start + key.len() + 1;
            if hdr.get(v_start) == Some(&b' ') {
                v_start += 1;
            }
            let Some(len) = hdr[v_start..].iter().position(|&b| b == b'\r') else {
                return hdr.to_vec();
            };
            let mut out = hdr[..v_start].to_vec();
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(&hdr[v_start + len..]);
            out
        }
        None => {
            let mut out = if hdr.is_empty() {
                b"NATS/1.0\r\n".to_vec()
            } else {
                hdr.strip_suffix(b"\r\n").unwrap_or(hdr).to_vec()
            };
            out.extend_from_slice(format!("{key}: {value}\r\n\r\n").as_bytes());
            out
        }
    }
}

#[cfg(test)]
#[path = "counters_tests.rs"]
mod tests;
