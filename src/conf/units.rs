//! Sizes and durations as nats-server reads them.
//!
//! Sizes: nats-server's conf lexer turns an unquoted number with a suffix into an integer.
//! The suffix is case-insensitive. A bare letter is a power of 1000 (`1k` = 1000, `1m` =
//! 1 000 000), and a letter followed by `b`, `i` or `ib` is a power of 1024 (`1kb` = `1ki` =
//! `1kib` = 1024). The letters are k, m, g, t, p, e (conf/parse.go, `itemInteger`).
//!
//! Durations: nats-server reads duration settings with Go's `time.ParseDuration`
//! (server/opts.go, `parseDuration`). [`parse_duration`] accepts the same strings: a
//! sequence of decimal numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`,
//! `ms`, `s`, `m`, `h`), e.g. `"1h30m"`, `"1.5s"`, `"500ms"`, and a bare `"0"`.

use std::time::Duration;

/// Largest duration Go can represent (`math.MaxInt64` nanoseconds); nats-server rejects longer
/// ones, and so do we.
const DURATION_NANOS_MAX: u128 = i64::MAX as u128;

/// Fraction digits beyond this many are ignored: they are below a nanosecond for every unit,
/// and keeping them bounded keeps the arithmetic in range.
const FRACTION_DIGITS_MAX: usize = 18;

/// Why an integer with an optional size suffix did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntegerError {
    /// Not digits (with an optional leading `-`) followed by an optional suffix.
    Malformed,
    /// The suffix is not one of nats-server's.
    UnknownSuffix,
    /// The number, or the number times its suffix, does not fit in an `i64`.
    OutOfRange,
}

/// The multiplier of a size suffix (case-insensitive), or `None` if nats-server does not
/// know the suffix.
pub fn size_multiplier(suffix: &str) -> Option<i64> {
    let mut chars = suffix.chars();
    let power = match chars.next()?.to_ascii_lowercase() {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let rest = chars.as_str();
    let base: i64 = if rest.is_empty() {
        1000
    } else if ["b", "i", "ib"]
        .iter()
        .any(|s| rest.eq_ignore_ascii_case(s))
    {
        1024
    } else {
        return None;
    };
    // 1024^6 = 2^60 and 1000^6 = 10^18 both fit in an i64.
    Some(base.pow(power))
}

/// Parses `[-]digits[suffix]` into an integer, applying a size suffix.
pub(crate) fn parse_integer(text: &str) -> Result<i64, IntegerError> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let digits_len = unsigned
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unsigned.len());
    if digits_len == 0 {
        return Err(IntegerError::Malformed);
    }
    let number_len = text.len() - unsigned.len() + digits_len;
    let (number, suffix) = text.split_at(number_len);
    // Only digits and a sign are left, so the one way to fail is overflow.
    let number: i64 = number.parse().map_err(|_| IntegerError::OutOfRange)?;
    if suffix.is_empty() {
        return Ok(number);
    }
    let multiplier = size_multiplier(suffix).ok_or(IntegerError::UnknownSuffix)?;
    number
        .checked_mul(multiplier)
        .ok_or(IntegerError::OutOfRange)
}

/// Parses a size such as `"1048576"`, `"64KB"`, `"1k"`, `"2G"` or `"1MiB"` into bytes, with
/// the suffixes of an unquoted number in a config file. `None` if it is not a size or does
/// not fit in an `i64`.
///
/// nats-server itself accepts a quoted size only for the JetStream store limits, and there it
/// reads `"1K"` as 1024 (server/opts.go, `getStorageSize`). Here a quoted size means the same
/// as the unquoted one, so `"1k"` is 1000 in both forms.
pub fn parse_size(text: &str) -> Option<u64> {
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    parse_integer(text).ok().and_then(|n| u64::try_from(n).ok())
}

/// Parses a duration the way Go's `time.ParseDuration` does, e.g. `"2m"`, `"1h30m"`,
/// `"500ms"`, `"1.5s"` or `"0"`. A negative duration is refused because a
/// [`std::time::Duration`] cannot hold one. The error says what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err("not a duration");
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let (whole, after_whole) = split_digits(rest);
        let (fraction, after_number) = match after_whole.strip_prefix('.') {
            Some(after_dot) => split_digits(after_dot),
            None => ("", after_whole),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err("expected a number");
        }
        let unit_len = after_number
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        if unit.is_empty() {
            return Err("missing unit (ns, us, ms, s, m or h)");
        }
        let unit_nanos = unit_nanos(unit).ok_or("unknown unit (use ns, us, ms, s, m or h)")?;
        total_nanos = whole_nanos(whole, unit_nanos)
            .and_then(|n| n.checked_add(fraction_nanos(fraction, unit_nanos)))
            .and_then(|n| n.checked_add(total_nanos))
            .filter(|&n| n <= DURATION_NANOS_MAX)
            .ok_or("too long")?;
        rest = after_unit;
    }
    if negative && total_nanos > 0 {
        return Err("negative");
    }
    // At most i64::MAX, so it fits in a u64.
    Ok(Duration::from_nanos(total_nanos as u64))
}

fn split_digits(text: &str) -> (&str, &str) {
    let len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(len)
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        // Go accepts the micro sign and the Greek mu.
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

fn whole_nanos(digits: &str, unit_nanos: u128) -> Option<u128> {
    if digits.is_empty() {
        return Some(0);
    }
    // Anything past i64::MAX nanoseconds is refused by the caller; 20 digits already are.
    if digits.len() > 20 {
        return None;
    }
    digits.parse::<u128>().ok()?.checked_mul(unit_nanos)
}

fn fraction_nanos(digits: &str, unit_nanos: u128) -> u128 {
    let digits = &digits[..digits.len().min(FRACTION_DIGITS_MAX)];
    if digits.is_empty() {
        return 0;
    }
    // At most 18 digits: below 10^18, so parsing cannot fail and the product stays far
    // below u128::MAX.
    let value: u128 = digits.parse().unwrap_or(0);
    value * unit_nanos / 10u128.pow(digits.len() as u32)
}
