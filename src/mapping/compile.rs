//! Reading a destination template: nats-server's token checks (`ValidateMapping`), its
//! function syntax (`indexPlaceHolders`, regexps matched anywhere in a token) and the
//! compilation into [`Part`]s with wildcard numbers resolved to source token positions
//! (`NewSubjectTransform`, non-strict).
//!
//! Invariant: every token position in a compiled part is below the source's token count.

use std::sync::LazyLock;

use regex::Regex;

use super::{dest_error, DestinationReason, Part, SubjectTransform, TransformError, GO_SPACE};

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
pub(super) fn validate_destination(destination: &str) -> Result<(), TransformError> {
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
pub(super) fn compile(source: &str, destination: &str) -> Result<SubjectTransform, TransformError> {
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
