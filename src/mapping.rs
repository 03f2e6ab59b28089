//! Subject mappings (accounts.md §3): a compiled [`SubjectTransform`] (a source pattern and a
//! destination template with nats-server's mapping functions), a [`Mapping`] (one source with
//! weighted, optionally cluster-scoped destinations) and [`Mappings`], the table of one account
//! that the publish path consults once per PUB/HPUB from a client or leaf connection.
//!
//! Sans-io: plain Rust over bytes. Randomness (weighted picks, `{{random(n)}}`) is passed in as
//! a `u32`, so every outcome is reproducible in tests.
//!
//! Invariants:
//! * A transform is validated and compiled once ([`SubjectTransform::new`]), with nats-server's
//!   rules and error texts (subject_transform.go, `ValidateMapping` in sublist.go). Applying it
//!   never panics and never fails: every token index it holds is below the source's token
//!   count, and a subject is only transformed after it matched that source.
//! * [`Mappings::map`] allocates nothing when no mapping matches; when one does, it writes
//!   into the caller's buffer (tokens of a subject of up to 32 tokens stay on the stack).
//! * The cumulative weights of a destination list are ascending and end at 100 unless the
//!   source itself is listed, in which case the rest is deliberately dropped (nats-server's
//!   "they want loss"); a dropped message is reported as a match with an empty subject.
//! * Mappings do not chain: the result of a mapping is never mapped again.

use std::fmt;
use std::sync::LazyLock;

use ahash::AHashMap;
use regex::Regex;
use smallvec::SmallVec;

use crate::subject;

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
        validate_destination(destination)?;
        compile(source, destination)
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
        subset_match(tokens, &self.source_tokens)
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

/// nats-server's `isSubsetMatchTokenized(tokens, pattern)`.
fn subset_match(tokens: &[&[u8]], pattern: &[Box<[u8]>]) -> bool {
    for (i, p) in pattern.iter().enumerate() {
        let Some(t) = tokens.get(i) else { return false };
        if p.is_empty() {
            return false;
        }
        if &**p == subject::FWC {
            return true;
        }
        if t.is_empty() || *t == subject::FWC {
            return false;
        }
        if *t == subject::PWC {
            if &**p != subject::PWC {
                return false;
            }
            continue;
        }
        if &**p != subject::PWC && **p != **t {
            return false;
        }
    }
    tokens.len() == pattern.len()
}

// ---- validation and compilation -------------------------------------------------------------

/// The whitespace of Go's regexp `\s` and of nats-server's `ContainsAny(t, "\t\n\f\r ")`.
const GO_SPACE: &[char] = &['\t', '\n', '\x0c', '\r', ' '];

/// The mapping functions in the order nats-server tries them (`indexPlaceHolders`). Each
/// pattern matches anywhere in the token, as nats-server's unanchored regexps do; only the
/// first letter of each word may change case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Wildcard,
    Partition,
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Right,
    Left,
    Split,
    Random,
}

static FUNCTIONS: LazyLock<Vec<(Function, Regex)>> = LazyLock::new(|| {
    let f = |function, name: &str| {
        let pattern = format!(r"\{{\{{[\t\n\f\r ]*{name}[\t\n\f\r ]*\((.*)\)[\t\n\f\r ]*\}}\}}");
        // The patterns are constants; a failure here is a bug caught by every test.
        (
            function,
            Regex::new(&pattern).expect("mapping function pattern"),
        )
    };
    vec![
        f(Function::Wildcard, "[wW]ildcard"),
        f(Function::Partition, "[pP]artition"),
        f(Function::SplitFromLeft, "[sS]plit[fF]rom[lL]eft"),
        f(Function::SplitFromRight, "[sS]plit[fF]rom[rR]ight"),
        f(Function::SliceFromLeft, "[sS]lice[fF]rom[lL]eft"),
        f(Function::SliceFromRight, "[sS]lice[fF]rom[rR]ight"),
        f(Function::Right, "[rR]ight"),
        f(Function::Left, "[lL]eft"),
        f(Function::Split, "[sS]plit"),
        f(Function::Random, "[rR]andom"),
    ]
});

/// nats-server's `,\s*` argument separator.
static ARG_SEPARATOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r",[\t\n\f\r ]*").expect("argument separator pattern"));

/// A token nats-server reads as a function call: longer than 4 bytes, `{{` ... `}}`.
fn looks_like_function(t: &str) -> bool {
    t.len() > 4 && t.starts_with("{{") && t.ends_with("}}")
}

/// The first function whose pattern the token contains, with its argument list.
fn find_function(t: &str) -> Option<(Function, Vec<&str>)> {
    FUNCTIONS.iter().find_map(|(function, re)| {
        let captures = re.captures(t)?;
        let inner = captures.get(1).map_or("", |m| m.as_str());
        Some((*function, ARG_SEPARATOR.split(inner).collect()))
    })
}

/// `ValidateMapping`'s token checks (2.15.1 also accepts `left` and `right`, which the
/// main-branch source leaves out of its list; the binary is followed here).
fn validate_destination(destination: &str) -> Result<(), TransformError> {
    let mut after_fwc = false;
    for t in destination.split('.') {
        if t.is_empty() || after_fwc {
            return Err(dest_error(DestinationReason::InvalidTransform, t));
        }
        if looks_like_function(t) {
            if find_function(t).is_none() {
                return Err(dest_error(DestinationReason::UnknownFunction, t));
            }
            continue;
        }
        if t == ">" {
            after_fwc = true;
        } else if t.contains(GO_SPACE) {
            return Err(dest_error(DestinationReason::InvalidTransform, ""));
        }
    }
    Ok(())
}

/// One destination token as `indexPlaceHolders` reads it, before wildcard indexes are
/// resolved against the source.
#[derive(Debug)]
enum Placeholder<'a> {
    Literal(&'a str),
    /// A function over source wildcards (1-based indexes as written).
    Indexed {
        function: Function,
        indexes: Vec<i64>,
        int: i32,
        delim: &'a str,
    },
    Random(i32),
    /// `partition(n, ...)`; the indexes are ignored for a source without wildcards.
    Partition(i32, Vec<i64>),
}

fn atoi(s: &str) -> Option<i64> {
    s.trim_matches(' ').parse().ok()
}

/// An `int32` argument read as nats-server does: `Atoi`, refused above `MaxInt32`, then
/// converted to int32 (which wraps below `MinInt32`, as Go's conversion does).
fn int32_arg(s: &str) -> Option<i32> {
    atoi(s)
        .filter(|&n| n <= i64::from(i32::MAX))
        .map(|n| n as i32)
}

fn placeholder(t: &str) -> Result<Placeholder<'_>, TransformError> {
    use DestinationReason::*;
    if t.len() > 1 && t.starts_with('$') {
        // Legacy `$n`; a `$` token that is not a number is a literal (other features use them).
        return Ok(match t[1..].parse::<i64>() {
            Ok(n) => Placeholder::Indexed {
                function: Function::Wildcard,
                indexes: vec![n],
                int: -1,
                delim: "",
            },
            Err(_) => Placeholder::Literal(t),
        });
    }
    if !looks_like_function(t) {
        return Ok(Placeholder::Literal(t));
    }
    let err = |reason| Err(dest_error(reason, t));
    let Some((function, args)) = find_function(t) else {
        return err(UnknownFunction);
    };
    let indexed = |indexes, int, delim| {
        Ok(Placeholder::Indexed {
            function,
            indexes,
            int,
            delim,
        })
    };
    match function {
        Function::Wildcard => match args.as_slice() {
            [""] => err(NotEnoughArgs),
            [i] => match atoi(i) {
                Some(i) => indexed(vec![i], -1, ""),
                None => err(InvalidArg),
            },
            _ => err(TooManyArgs),
        },
        Function::Partition => {
            let Some(n) = int32_arg(args[0]) else {
                return err(InvalidArg);
            };
            let mut indexes = Vec::with_capacity(args.len() - 1);
            for a in &args[1..] {
                match atoi(a) {
                    Some(i) => indexes.push(i),
                    None => return err(InvalidArg),
                }
            }
            Ok(Placeholder::Partition(n, indexes))
        }
        Function::Split => match args.as_slice() {
            [_] => err(NotEnoughArgs),
            [i, delim] => match atoi(i) {
                Some(_) if delim.contains(' ') || delim.contains('.') => err(InvalidArg),
                Some(i) => indexed(vec![i], -1, delim),
                None => err(InvalidArg),
            },
            _ => err(TooManyArgs),
        },
        Function::Random => match args.as_slice() {
            [n] => match int32_arg(n) {
                Some(n) => Ok(Placeholder::Random(n)),
                None => err(InvalidArg),
            },
            // nats-server says "not enough" for too many as well.
            _ => err(NotEnoughArgs),
        },
        _ => match args.as_slice() {
            [_] => err(NotEnoughArgs),
            [i, n] => match (atoi(i), n.trim_matches(' ').parse::<i32>()) {
                (Some(i), Ok(n)) => indexed(vec![i], n, ""),
                _ => err(InvalidArg),
            },
            _ => err(TooManyArgs),
        },
    }
}

/// `subjectInfo`: valid (no empty token, nothing after `>`), the tokens, `*` count, has `>`.
fn subject_info(s: &str) -> Option<(Vec<&str>, usize, bool)> {
    let tokens: Vec<&str> = s.split('.').collect();
    let mut pwcs = 0;
    let mut fwc = false;
    for t in &tokens {
        if t.is_empty() || fwc {
            return None;
        }
        match *t {
            ">" => fwc = true,
            "*" => pwcs += 1,
            _ => {}
        }
    }
    Some((tokens, pwcs, fwc))
}

/// `NewSubjectTransform` (non-strict).
fn compile(source: &str, destination: &str) -> Result<SubjectTransform, TransformError> {
    let (stokens, npwcs, src_fwc) = subject_info(source).ok_or(TransformError::BadSubject)?;
    let (dtokens, dpwcs, dest_fwc) = subject_info(destination).ok_or(TransformError::BadSubject)?;
    if dpwcs > 0 || src_fwc != dest_fwc {
        return Err(TransformError::BadSubject);
    }
    // Source token position of each wildcard, by its 1-based number. nats-server looks the
    // number up in a map, so 0 and negative numbers name token 0.
    let wildcard_positions: Vec<usize> =
        (0..stokens.len()).filter(|&i| stokens[i] == "*").collect();
    let position = |n: i64| -> usize {
        usize::try_from(n - 1)
            .ok()
            .and_then(|k| wildcard_positions.get(k).copied())
            .unwrap_or(0)
    };
    let has_wildcards = npwcs > 0 || src_fwc;
    let mut parts = Vec::with_capacity(dtokens.len());
    for t in &dtokens {
        if *t == ">" {
            break;
        }
        let part = match placeholder(t)? {
            Placeholder::Literal(l) => Part::Literal(l.as_bytes().into()),
            Placeholder::Random(n) => Part::Random {
                ceiling: n.unsigned_abs(),
            },
            Placeholder::Partition(n, _) if !has_wildcards => Part::Partition {
                buckets: n as u32,
                tokens: Box::new([]),
            },
            Placeholder::Partition(n, indexes) => {
                check_indexes(t, &indexes, npwcs)?;
                Part::Partition {
                    buckets: n as u32,
                    tokens: indexes.iter().map(|&i| position(i)).collect(),
                }
            }
            Placeholder::Indexed { .. } if !has_wildcards => {
                return Err(dest_error(DestinationReason::IndexOutOfRange, t));
            }
            Placeholder::Indexed {
                function,
                indexes,
                int,
                delim,
            } => {
                check_indexes(t, &indexes, npwcs)?;
                let token = position(indexes[0]);
                match function {
                    Function::Wildcard => Part::Wildcard(token),
                    Function::SplitFromLeft => Part::SplitFromLeft { token, at: int },
                    Function::SplitFromRight => Part::SplitFromRight { token, at: int },
                    Function::SliceFromLeft => Part::SliceFromLeft { token, size: int },
                    Function::SliceFromRight => Part::SliceFromRight { token, size: int },
                    Function::Left => Part::Left { token, len: int },
                    Function::Right => Part::Right { token, len: int },
                    Function::Split => Part::Split {
                        token,
                        delim: delim.as_bytes().into(),
                    },
                    // Random and Partition have variants of their own.
                    Function::Random | Function::Partition => {
                        return Err(dest_error(DestinationReason::InvalidTransform, t))
                    }
                }
            }
        };
        parts.push(part);
    }
    Ok(SubjectTransform {
        source: source.to_string(),
        destination: destination.to_string(),
        source_tokens: stokens.iter().map(|t| t.as_bytes().into()).collect(),
        parts: parts.into(),
        tail_from: dest_fwc.then(|| stokens.len() - 1),
    })
}

fn check_indexes(t: &str, indexes: &[i64], npwcs: usize) -> Result<(), TransformError> {
    match indexes.iter().find(|&&i| i > npwcs as i64) {
        Some(&i) => Err(TransformError::Destination {
            reason: DestinationReason::IndexOutOfRange,
            token: t.to_string(),
            index: Some(i),
        }),
        None => Ok(()),
    }
}

// ---- weighted mappings and the account table ------------------------------------------------

/// One destination as configured: a subject, a weight in percent, an optional cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDest {
    pub subject: String,
    pub weight_percent: u8,
    /// Used only on a server whose cluster has this name.
    pub cluster: Option<String>,
}

impl MapDest {
    pub fn new(subject: &str, weight_percent: u8) -> MapDest {
        MapDest {
            subject: subject.to_string(),
            weight_percent,
            cluster: None,
        }
    }
}

/// A compiled destination and its cumulative weight (this one's and those before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub transform: SubjectTransform,
    pub weight_cumulative_percent: u8,
}

/// One source with its destinations, as nats-server's `AddWeightedMappings` builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    source: String,
    wildcard: bool,
    /// The unscoped destinations, ascending by cumulative weight.
    destinations: Vec<Destination>,
    /// Cluster-scoped destination lists, in first-seen order.
    cluster_destinations: Vec<(String, Vec<Destination>)>,
}

impl Mapping {
    /// `source` to `destination`, always (nats-server's `AddMapping`: weight 100).
    pub fn single(source: &str, destination: &str) -> Result<Mapping, MappingError> {
        Mapping::weighted(source, &[MapDest::new(destination, 100)])
    }

    /// `source` to weighted destinations. Where the weights of a list add up to less than 100
    /// the rest goes to the unchanged subject, unless the source is itself listed.
    pub fn weighted(source: &str, dests: &[MapDest]) -> Result<Mapping, MappingError> {
        if !is_valid_subject(source) {
            return Err(MappingError::BadSource);
        }
        let mut seen: Vec<&str> = Vec::with_capacity(dests.len());
        let mut totals: Vec<(Option<&str>, u32)> = Vec::new();
        let mut destinations = Vec::new();
        let mut cluster_destinations: Vec<(String, Vec<Destination>)> = Vec::new();
        for d in dests {
            if seen.contains(&d.subject.as_str()) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
            seen.push(&d.subject);
            if d.weight_percent > 100 {
                return Err(MappingError::WeightAbove100);
            }
            let cluster = d.cluster.as_deref();
            let total = match totals.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, t)) => t,
                None => {
                    totals.push((cluster, 0));
                    &mut totals.last_mut().expect("just pushed").1
                }
            };
            *total += u32::from(d.weight_percent);
            if *total > 100 {
                return Err(MappingError::TotalWeightAbove100);
            }
            let dest = Destination {
                transform: SubjectTransform::new(source, &d.subject)?,
                weight_cumulative_percent: d.weight_percent,
            };
            match cluster {
                None => destinations.push(dest),
                Some(c) => match cluster_destinations.iter_mut().find(|(n, _)| n == c) {
                    Some((_, list)) => list.push(dest),
                    None => cluster_destinations.push((c.to_string(), vec![dest])),
                },
            }
        }
        let source_listed = seen.contains(&source);
        let wildcard = !subject::is_literal(source.as_bytes());
        let destinations = finish_destinations(source, wildcard, source_listed, destinations)?;
        let mut scoped = Vec::with_capacity(cluster_destinations.len());
        for (c, list) in cluster_destinations {
            scoped.push((
                c,
                finish_destinations(source, wildcard, source_listed, list)?,
            ));
        }
        Ok(Mapping {
            source: source.to_string(),
            wildcard,
            destinations,
            cluster_destinations: scoped,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The destinations a server in `cluster` uses (the unscoped ones when none are scoped to
    /// it, as on a server without a cluster), ascending by cumulative weight, with the
    /// implicit remainder entry. This is also what `/accountz` shows.
    pub fn destinations(&self, cluster: Option<&str>) -> &[Destination] {
        cluster
            .and_then(|c| self.cluster_destinations.iter().find(|(n, _)| n == c))
            .map_or(&self.destinations, |(_, list)| list)
    }

    /// The cluster-scoped lists, for `/accountz`.
    pub fn cluster_destinations(&self) -> &[(String, Vec<Destination>)] {
        &self.cluster_destinations
    }

    /// The destination `rnd` picks from `destinations`, or `None` for a deliberate loss.
    /// `rnd` is read as a draw 0..100 (its top bits scaled, as nats-server's `Uint32n(100)`).
    pub fn pick(destinations: &[Destination], rnd: u32) -> Option<&SubjectTransform> {
        if let [only] = destinations {
            if only.weight_cumulative_percent == 100 {
                return Some(&only.transform);
            }
        }
        let draw = ((u64::from(rnd) * 100) >> 32) as u8;
        destinations
            .iter()
            .find(|d| draw < d.weight_cumulative_percent)
            .map(|d| &d.transform)
    }
}

/// nats-server's `processDestinations`: the remainder entry, the sort, the running sum.
fn finish_destinations(
    source: &str,
    wildcard: bool,
    source_listed: bool,
    mut list: Vec<Destination>,
) -> Result<Vec<Destination>, MappingError> {
    let total: u32 = list
        .iter()
        .map(|d| u32::from(d.weight_cumulative_percent))
        .sum();
    if total != 100 && !source_listed {
        let dest = if wildcard {
            numbered_wildcards(source)
        } else {
            source.to_string()
        };
        list.push(Destination {
            transform: SubjectTransform::new(source, &dest)?,
            weight_cumulative_percent: (100 - total) as u8,
        });
    }
    // Stable, as Go's slices.SortFunc is not guaranteed to be; equal weights keep list order.
    list.sort_by_key(|d| d.weight_cumulative_percent);
    let mut running = 0u8;
    for d in &mut list {
        running = running.saturating_add(d.weight_cumulative_percent);
        d.weight_cumulative_percent = running;
    }
    Ok(list)
}

/// `foo.*.*` as `foo.$1.$2` (nats-server's `transformTokenize`).
fn numbered_wildcards(source: &str) -> String {
    let mut n = 0;
    let tokens: Vec<String> = source
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect();
    tokens.join(".")
}

/// nats-server's `IsValidSubject`: no empty token, nothing after `>`, no whitespace.
pub fn is_valid_subject(s: &str) -> bool {
    !s.contains(GO_SPACE) && subject::is_valid_subscription_subject(s.as_bytes())
}

/// The mappings of one account, compiled for the server's cluster.
///
/// Precedence: an exact literal source first, then wildcard sources in list order. nats-server
/// keeps one list in the random order of its config map, so for overlapping sources its choice
/// varies between starts (verified 2.15.1: `pr.a` against `pr.*` went to the literal in 7 of 8
/// starts); natrix takes the order that is both the common outcome and deterministic.
#[derive(Clone, Debug, Default)]
pub struct Mappings {
    literal: AHashMap<Box<[u8]>, Compiled>,
    wildcard: Vec<Compiled>,
}

#[derive(Clone, Debug)]
struct Compiled {
    pattern: Box<[Box<[u8]>]>,
    destinations: Vec<Destination>,
}

impl Mappings {
    /// Compiles `mappings` for a server in `cluster`. A later mapping of the same source
    /// replaces an earlier one in its place, as nats-server's `AddWeightedMappings` does.
    pub fn new(mappings: &[Mapping], cluster: Option<&str>) -> Mappings {
        let mut table = Mappings::default();
        let mut wildcard: Vec<(&str, Compiled)> = Vec::new();
        for m in mappings {
            let compiled = Compiled {
                pattern: m.source.split('.').map(|t| t.as_bytes().into()).collect(),
                destinations: m.destinations(cluster).to_vec(),
            };
            if !m.wildcard {
                table.literal.insert(m.source.as_bytes().into(), compiled);
            } else if let Some(slot) = wildcard.iter_mut().find(|(s, _)| *s == m.source) {
                slot.1 = compiled;
            } else {
                wildcard.push((&m.source, compiled));
            }
        }
        table.wildcard = wildcard.into_iter().map(|(_, c)| c).collect();
        table
    }

    pub fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.wildcard.is_empty()
    }

    /// Maps a published subject. Returns false, leaving `out` alone, when no mapping applies;
    /// true with the new subject in `out` when one does, and true with `out` empty when the
    /// weighted pick chose the deliberate loss (the message goes nowhere). `rnd` is a uniform
    /// random number; it picks the weighted destination, and a mix of it feeds
    /// `{{random(n)}}` so that the two are not correlated.
    pub fn map(&self, subject: &[u8], rnd: u32, out: &mut Vec<u8>) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut tokens: TokenVec = SmallVec::new();
        let found = match self.literal.get(subject) {
            Some(c) => Some(c),
            None if self.wildcard.is_empty() => None,
            None => {
                tokens.extend(subject::tokens(subject));
                self.wildcard
                    .iter()
                    .find(|c| subset_match(&tokens, &c.pattern))
            }
        };
        let Some(c) = found else { return false };
        out.clear();
        let Some(transform) = Mapping::pick(&c.destinations, rnd) else {
            return true;
        };
        if tokens.is_empty() {
            tokens.extend(subject::tokens(subject));
        }
        transform.apply(subject, &tokens, mix32(rnd), out);
        true
    }
}

/// A bijective scramble of a u32 (murmur3's finalizer), so one random number can serve two
/// independent draws.
fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^ (x >> 16)
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
