//! Subject mappings (accounts.md §3): a compiled [`SubjectTransform`] (a source pattern and a
//! destination template with nats-server's mapping functions), a [`Mapping`] (one source with
//! weighted, optionally cluster-scoped destinations) and [`Mappings`], the table of one account
//! that the publish path consults once per PUB/HPUB from a client or leaf connection.
//!
//! This file holds the compiled transform and its application; `mapping/compile.rs` reads
//! and checks destination templates; `mapping/table.rs` holds [`Mapping`] and [`Mappings`].
//!
//! Sans-io: plain Rust over bytes. Randomness (weighted picks, `{{random(n)}}`) is passed in as
//! a `u32`, so every outcome is reproducible in tests.
//!
//! Invariants:
//! * A transform is validated and compiled once ([`SubjectTransform::new`]), with nats-server's
//!   rules and error texts (subject_transform.go, `ValidateMapping` in sublist.go). Applying it
//!   never panics and never fails: every token index it holds is below the source's token
//!   count, and a subject is only transformed after it matched that source.
//! * [`Mappings::map`] allocates nothing when no mapping matches (a subject's tokens are
//!   kept on the stack, or walked again per pattern past 32 tokens); when one does, it writes
//!   into the caller's reused buffer, and only a subject of more than 32 tokens allocates.
//! * The cumulative weights of a destination list are ascending and end at 100 unless the
//!   source itself is listed, in which case the rest is deliberately dropped (nats-server's
//!   "they want loss"); a dropped message is reported as a match with an empty subject.
//! * Mappings do not chain: the result of a mapping is never mapped again.

mod compile;
mod table;

pub use table::{is_valid_subject, Destination, MapDest, Mapping, Mappings};

use std::fmt;

use smallvec::SmallVec;

use crate::subject;
#[cfg(test)]
use table::mix32;

/// The whitespace of Go's regexp `\s` and of nats-server's `ContainsAny(t, "\t\n\f\r ")`.
const GO_SPACE: &[char] = &['\t', '\n', '\x0c', '\r', ' '];

/// Tokens of a subject kept on the stack; nats-server uses the same size (`[32]string`).
type TokenVec<'a> = SmallVec<[&'a [u8]; 32]>;

/// Why a destination cannot be used; `Display` is nats-server's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformError {
    /// `invalid subject`: a bad source, a `*` in the destination, or a `>` in only one of them.
    BadSubject,
    /// `invalid mapping destination: <reason>[ in <token>][: [<index>]]`.
    Destination {
        reason: DestinationReason,
        /// The destination token at fault; empty when nats-server names none.
        token: String,
        /// The out-of-range wildcard index, which nats-server appends as `: [n]`.
        index: Option<i64>,
    },
    /// An empty destination. nats-server accepts it and then crashes when a message takes
    /// it (verified with 2.15.1: the server exits with a panic); natrix refuses it.
    EmptyDestination,
}

/// The reasons nats-server gives after `invalid mapping destination: `.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationReason {
    InvalidTransform,
    UnknownFunction,
    IndexOutOfRange,
    NotEnoughArgs,
    InvalidArg,
    TooManyArgs,
}

impl DestinationReason {
    fn text(self) -> &'static str {
        match self {
            DestinationReason::InvalidTransform => "invalid transform",
            DestinationReason::UnknownFunction => "unknown function",
            DestinationReason::IndexOutOfRange => "wildcard index out of range",
            DestinationReason::NotEnoughArgs => "not enough arguments passed to the function",
            DestinationReason::InvalidArg => "function argument is invalid or in the wrong format",
            DestinationReason::TooManyArgs => "too many arguments passed to the function",
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::BadSubject => f.write_str("invalid subject"),
            TransformError::Destination {
                reason,
                token,
                index,
            } => {
                write!(f, "invalid mapping destination: {}", reason.text())?;
                if !token.is_empty() {
                    write!(f, " in {token}")?;
                }
                if let Some(i) = index {
                    write!(f, ": [{i}]")?;
                }
                Ok(())
            }
            TransformError::EmptyDestination => {
                f.write_str("invalid mapping destination: the destination is empty")
            }
        }
    }
}

impl std::error::Error for TransformError {}

fn dest_error(reason: DestinationReason, token: &str) -> TransformError {
    TransformError::Destination {
        reason,
        token: token.to_string(),
        index: None,
    }
}

/// Why a [`Mapping`] cannot be added; `Display` is nats-server's text (accounts.go,
/// `AddWeightedMappings`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MappingError {
    /// The source is not a valid subject: `invalid subject`.
    BadSource,
    /// The same destination subject listed twice.
    Duplicate(String),
    /// One weight above 100 (the config parser already refuses these).
    WeightAbove100,
    /// The weights of one cluster (or of the unscoped entries) add up to more than 100.
    TotalWeightAbove100,
    Transform(TransformError),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::BadSource => f.write_str("invalid subject"),
            MappingError::Duplicate(d) => {
                write!(f, "duplicate entry for {}", crate::gofmt::quote(d))
            }
            MappingError::WeightAbove100 => f.write_str("individual weights need to be <= 100"),
            MappingError::TotalWeightAbove100 => f.write_str("total weight needs to be <= 100"),
            MappingError::Transform(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MappingError {}

impl From<TransformError> for MappingError {
    fn from(e: TransformError) -> Self {
        MappingError::Transform(e)
    }
}

/// One destination token, compiled. Token indexes point into the source subject's tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Box<[u8]>),
    /// `$n` / `{{wildcard(n)}}`.
    Wildcard(usize),
    /// FNV-1a of the selected tokens concatenated (of the whole subject when none), modulo
    /// `buckets` (nats-server's int32 argument read as a uint32, as Go converts it).
    Partition {
        buckets: u32,
        tokens: Box<[usize]>,
    },
    SplitFromLeft {
        token: usize,
        at: i32,
    },
    SplitFromRight {
        token: usize,
        at: i32,
    },
    SliceFromLeft {
        token: usize,
        size: i32,
    },
    SliceFromRight {
        token: usize,
        size: i32,
    },
    Left {
        token: usize,
        len: i32,
    },
    Right {
        token: usize,
        len: i32,
    },
    Split {
        token: usize,
        delim: Box<[u8]>,
    },
    /// A number below `ceiling` (0 when `ceiling` is 0).
    Random {
        ceiling: u32,
    },
}

/// A source pattern and a destination template, validated and compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTransform {
    source: String,
    destination: String,
    /// The source's tokens, for the subset match of a published subject.
    source_tokens: Box<[Box<[u8]>]>,
    /// One part per destination token, a trailing `>` excluded.
    parts: Box<[Part]>,
    /// The destination ends in `>`: the subject's tokens from the source's `>` on follow.
    tail_from: Option<usize>,
}

impl SubjectTransform {
    /// Validates `destination` for `source` as nats-server does for a mapping (non-strict:
    /// not every source wildcard has to be used, every function is allowed) and compiles it.
    pub fn new(source: &str, destination: &str) -> Result<SubjectTransform, TransformError> {
        if destination.is_empty() {
            return Err(TransformError::EmptyDestination);
        }
        compile::validate_destination(destination)?;
        compile::compile(source, destination)
    }

    /// nats-server's `NewSubjectTransform` alone, without `ValidateMapping`'s checks of the
    /// destination's tokens (white space, function syntax): what a stream's `republish` is
    /// checked with. An empty destination is refused here; callers treat it as none.
    pub fn new_unvalidated(
        source: &str,
        destination: &str,
    ) -> Result<SubjectTransform, TransformError> {
        compile::compile(source, destination)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Whether the published subject (as tokens) matches the source, by nats-server's subset
    /// match (`isSubsetMatchTokenized`): a `*` token of the subject matches only `*` or `>`.
    pub fn matches_tokens(&self, tokens: &[&[u8]]) -> bool {
        subset_match(tokens.iter().copied(), &self.source_tokens)
    }

    /// Transforms `subject` into `out` (cleared first) if it matches the source; `rnd` feeds
    /// `{{random(n)}}`. Returns false, leaving `out` alone, if it does not match.
    pub fn transform(&self, subject: &[u8], rnd: u32, out: &mut Vec<u8>) -> bool {
        let tokens: TokenVec = subject::tokens(subject).collect();
        if !self.matches_tokens(&tokens) {
            return false;
        }
        self.apply(subject, &tokens, rnd, out);
        true
    }

    /// Writes the destination for a subject that matched the source into `out` (cleared
    /// first). `tokens` are the subject's tokens; `rnd` feeds `{{random(n)}}`.
    pub fn apply(&self, subject: &[u8], tokens: &[&[u8]], rnd: u32, out: &mut Vec<u8>) {
        out.clear();
        let token = |i: usize| tokens.get(i).copied().unwrap_or_default();
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match part {
                Part::Literal(t) => out.extend_from_slice(t),
                Part::Wildcard(i) => out.extend_from_slice(token(*i)),
                Part::Partition { buckets, tokens } => {
                    let hash = if tokens.is_empty() {
                        fnv1a32(FNV_OFFSET, subject)
                    } else {
                        tokens.iter().fold(FNV_OFFSET, |h, &i| fnv1a32(h, token(i)))
                    };
                    let bucket = if *buckets == 0 { 0 } else { hash % buckets };
                    push_decimal(out, bucket);
                }
                Part::SplitFromLeft { token: i, at } => {
                    let t = token(*i);
                    match within(*at, t.len()) {
                        Some(at) => push_split(out, t, at),
                        None => out.extend_from_slice(t),
                    }
                }
                Part::SplitFromRight { token: i, at } => {
                    let t = token(*i);
                    match within(*at, t.len()) {
                        Some(at) => push_split(out, t, t.len() - at),
                        None => out.extend_from_slice(t),
                    }
                }
                Part::SliceFromLeft { token: i, size } => {
                    let t = token(*i);
                    match within(*size, t.len()) {
                        Some(size) => push_joined(out, t.chunks(size)),
                        None => out.extend_from_slice(t),
                    }
                }
                Part::SliceFromRight { token: i, size } => {
                    let t = token(*i);
                    match within(*size, t.len()) {
                        Some(size) => {
                            let first = t.len() % size;
                            let head = (first > 0).then(|| &t[..first]);
                            push_joined(out, head.into_iter().chain(t[first..].chunks(size)));
                        }
                        None => out.extend_from_slice(t),
                    }
                }
                Part::Left { token: i, len } => {
                    let t = token(*i);
                    out.extend_from_slice(within(*len, t.len()).map_or(t, |n| &t[..n]));
                }
                Part::Right { token: i, len } => {
                    let t = token(*i);
                    out.extend_from_slice(within(*len, t.len()).map_or(t, |n| &t[t.len() - n..]));
                }
                Part::Split { token: i, delim } => push_split_on(out, token(*i), delim),
                Part::Random { ceiling } => {
                    let n = if *ceiling == 0 {
                        0
                    } else {
                        ((u64::from(rnd) * u64::from(*ceiling)) >> 32) as u32
                    };
                    push_decimal(out, n);
                }
            }
        }
        if let Some(from) = self.tail_from {
            // The part before `>` already wrote its separator only if there was one: nats-server
            // writes `.` after every part but the last, and the `>` was the last.
            if !self.parts.is_empty() {
                out.push(b'.');
            }
            for (k, t) in tokens.iter().skip(from).enumerate() {
                if k > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(t);
            }
        }
    }
}

/// `Some(n)` if `0 < n < len`: split, slice, left and right leave the token whole otherwise.
fn within(n: i32, len: usize) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0 && n < len)
}

fn push_split(out: &mut Vec<u8>, t: &[u8], at: usize) {
    out.extend_from_slice(&t[..at]);
    out.push(b'.');
    out.extend_from_slice(&t[at..]);
}

fn push_joined<'a>(out: &mut Vec<u8>, pieces: impl Iterator<Item = &'a [u8]>) {
    for (k, p) in pieces.enumerate() {
        if k > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(p);
    }
}

/// `{{split(i, delim)}}` exactly as nats-server writes it: the pieces of Go's `strings.Split`,
/// empty ones left out, with a `.` before each non-empty piece except a first one. (So
/// `--a` split on `-` gives `.a`, an empty token; verified 2.15.1: nothing receives it.)
fn push_split_on(out: &mut Vec<u8>, t: &[u8], delim: &[u8]) {
    let mut pieces = GoSplit::new(t, delim).enumerate().peekable();
    while let Some((j, piece)) = pieces.next() {
        out.extend_from_slice(piece);
        if let Some((_, next)) = pieces.peek() {
            let leading_empty = j == 0 && piece.is_empty();
            if !next.is_empty() && !leading_empty {
                out.push(b'.');
            }
        }
    }
}

/// Go's `strings.Split`: on a non-empty separator the usual pieces; on an empty one, each
/// UTF-8 sequence (each byte of an invalid one) as a piece, and no piece for an empty input.
struct GoSplit<'a> {
    rest: Option<&'a [u8]>,
    delim: &'a [u8],
}

impl<'a> GoSplit<'a> {
    fn new(t: &'a [u8], delim: &'a [u8]) -> Self {
        let rest = if delim.is_empty() && t.is_empty() {
            None
        } else {
            Some(t)
        };
        GoSplit { rest, delim }
    }
}

impl<'a> Iterator for GoSplit<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        if self.delim.is_empty() {
            let n = utf8_sequence_len(rest);
            let (piece, tail) = rest.split_at(n);
            self.rest = (!tail.is_empty()).then_some(tail);
            return Some(piece);
        }
        match memchr::memmem::find(rest, self.delim) {
            Some(at) => {
                self.rest = Some(&rest[at + self.delim.len()..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// The length of the UTF-8 sequence `b` starts with, or 1 if it does not start a valid one.
fn utf8_sequence_len(b: &[u8]) -> usize {
    let want = match b.first() {
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => return 1,
    };
    match b.get(..want).map(std::str::from_utf8) {
        Some(Ok(_)) => want,
        _ => 1,
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a 32-bit, continuing from `hash`: the hash Go's `hash/fnv.New32a` computes, which
/// nats-server's `{{partition}}` uses.
fn fnv1a32(hash: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(hash, |h, &b| (h ^ u32::from(b)).wrapping_mul(FNV_PRIME))
}

fn push_decimal(out: &mut Vec<u8>, n: u32) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

/// nats-server's `isSubsetMatchTokenized(tokens, pattern)`, over the subject's tokens as they
/// come, so that a subject that does not match is never collected anywhere.
fn subset_match<'a>(mut tokens: impl Iterator<Item = &'a [u8]>, pattern: &[Box<[u8]>]) -> bool {
    for p in pattern.iter() {
        let Some(t) = tokens.next() else { return false };
        if p.is_empty() {
            return false;
        }
        if &**p == subject::FWC {
            return true;
        }
        if t.is_empty() || t == subject::FWC {
            return false;
        }
        if t == subject::PWC {
            if &**p != subject::PWC {
                return false;
            }
            continue;
        }
        if &**p != subject::PWC && **p != *t {
            return false;
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
