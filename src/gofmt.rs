//! Go's text forms of times, durations, floats and quoted strings, as nats-server's monitoring
//! JSON and error texts show them. Pure functions; the caller passes every time in.
//!
//! - [`duration`] is `time.Duration.String()` ("1h2m3.5s", "1.5ms", "867µs", "0s").
//! - [`uptime`] is nats-server's `myUptime` ("1d2h3m4s"), whole seconds only.
//! - [`rfc3339`] is `time.Time` in JSON (RFC 3339 with up to 9 fraction digits, trailing zeros
//!   dropped), always in UTC as nats-server writes `now`.
//! - [`float`] is how `encoding/json` writes a float64 (`2`, `0.4`, `1e-7`, `1e+21`).
//! - [`quote`] is `strconv.Quote`, used inside the 400 texts.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// `time.Duration.String()`. Go's Duration is an int64 of nanoseconds, so longer durations
/// are capped at its maximum (about 292 years).
pub fn duration(d: Duration) -> String {
    let nanos = u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64);
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if nanos < NANOS_PER_SEC {
        // Below a second Go picks the unit and keeps the rest as a fraction of it.
        let (unit, prec) = if nanos < NANOS_PER_MICRO {
            ("ns", 0)
        } else if nanos < NANOS_PER_MILLI {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        let whole = frac(&mut out, nanos, prec);
        out.insert_str(0, &whole.to_string());
        out.push_str(unit);
        return out;
    }
    let secs = frac(&mut out, nanos, 9);
    let fraction = std::mem::take(&mut out);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        let _ = write!(out, "{h}h{m}m");
    } else if m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}{fraction}s");
    out
}

/// Writes the fraction `v % 10^prec` into `out` as Go's `fmtFrac` does: a dot and the digits
/// without trailing zeros, nothing when they are all zero. Returns `v / 10^prec`.
fn frac(out: &mut String, v: u64, prec: u32) -> u64 {
    let scale = 10u64.pow(prec);
    let mut f = v % scale;
    if f != 0 {
        // `prec` digits (at most 19: `scale` fits a u64), written without an allocation.
        let mut digits = [b'0'; 19];
        let digits = &mut digits[..prec as usize];
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (f % 10) as u8;
            f /= 10;
        }
        let len = digits.iter().rposition(|&c| c != b'0').map_or(0, |i| i + 1);
        out.push('.');
        // ASCII digits: one copy, not a char at a time.
        out.push_str(std::str::from_utf8(&digits[..len]).unwrap_or_default());
    }
    v / scale
}

/// nats-server's `myUptime`: whole seconds, with minutes, hours, days and years shown only
/// once the value reaches them.
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    let (s, m, h, dd) = (secs % 60, mins % 60, hours % 24, days % 365);
    if years > 0 {
        format!("{years}y{dd}d{h}h{m}m{s}s")
    } else if days > 0 {
        format!("{days}d{h}h{m}m{s}s")
    } else if hours > 0 {
        format!("{hours}h{m}m{s}s")
    } else if mins > 0 {
        format!("{mins}m{s}s")
    } else {
        format!("{secs}s")
    }
}

/// A time as Go's JSON writes a UTC `time.Time`: `2026-11-23T08:38:50.2965Z`. Times before
/// 1970 are written as the epoch (no connection or server starts that early).
///
/// Written by hand, not through chrono's `format`: KV direct gets put one in the
/// `Nats-Time-Stamp` header of every reply, where the strftime parse was 12 % of the server.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, mo, d) = civil_from_days(secs / 86_400);
    let tod = secs % 86_400;
    let mut out = String::with_capacity(32);
    let two = |out: &mut String, v: u64| {
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    };
    if y < 10_000 {
        two(&mut out, y / 100);
        two(&mut out, y % 100);
        out.push('-');
    } else {
        let _ = write!(out, "{y:04}-");
    }
    two(&mut out, mo);
    out.push('-');
    two(&mut out, d);
    out.push('T');
    two(&mut out, tod / 3600);
    out.push(':');
    two(&mut out, tod / 60 % 60);
    out.push(':');
    two(&mut out, tod % 60);
    frac(&mut out, u64::from(since.subsec_nanos()), 9);
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, over unsigned days since the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The HTTP `Date` header value (RFC 7231 IMF-fixdate), as Go's net/http writes it.
pub fn http_date(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let dt = chrono::DateTime::<chrono::Utc>::from(UNIX_EPOCH + since);
    dt.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A float64 as Go's `encoding/json` writes it: the shortest text that reads back the same,
/// in plain decimal between 1e-6 and 1e21 and in exponent form (`1e-7`, `1e+21`) outside.
/// Not finite values cannot occur in the figures we report; they are written as 0.
pub fn float(f: f64) -> String {
    if !f.is_finite() || f == 0.0 {
        return "0".into();
    }
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        // Rust's Display is also the shortest round-trip text, never in exponent form.
        return format!("{f}");
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => s,
    }
}

/// `strconv.Quote`: double quotes, Go escapes for quotes, backslashes and control
/// characters, other characters as they are. Go also escapes the few printable-looking
/// characters Unicode does not call printable (such as U+00A0); here every whitespace other
/// than the space gets `\u` and every other character is written as it is.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// [`quote`] of bytes that may not be UTF-8, as Go quotes a byte slice (`%q`): each byte
/// that does not start a valid UTF-8 sequence is written `\xNN`.
pub fn quote_bytes(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    while !b.is_empty() {
        let (valid, bad) = match std::str::from_utf8(b) {
            Ok(s) => (s, false),
            Err(e) => {
                let (ok, _) = b.split_at(e.valid_up_to());
                (std::str::from_utf8(ok).unwrap_or_default(), true)
            }
        };
        valid.chars().for_each(|c| push_quoted(&mut out, c));
        b = &b[valid.len()..];
        if bad {
            // Go decodes one byte as the replacement rune and goes on with the next.
            let _ = write!(out, "\\x{:02x}", b[0]);
            b = &b[1..];
        }
    }
    out.push('"');
    out
}

fn push_quoted(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() || (c.is_whitespace() && c != ' ') => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_matches_go_duration_string() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (1_500, "1.5µs"),
            (867_000, "867µs"),
            (1_000_000, "1ms"),
            (1_500_000, "1.5ms"),
            (3_039_829, "3.039829ms"),
            (999_999_999, "999.999999ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (2_000_000_001, "2.000000001s"),
            (60_000_000_000, "1m0s"),
            (62_000_000_000, "1m2s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (120_000_000_000, "2m0s"),
            (360_000_000_000_000, "100h0m0s"),
        ];
        for &(nanos, want) in cases {
            assert_eq!(duration(Duration::from_nanos(nanos)), want, "{nanos} ns");
        }
        assert_eq!(duration(Duration::MAX), "2562047h47m16.854775807s");
    }

    #[test]
    fn uptime_matches_nats_server_my_uptime() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (59, "59s"),
            (60, "1m0s"),
            (3_599, "59m59s"),
            (3_600, "1h0m0s"),
            (86_399, "23h59m59s"),
            (86_400, "1d0h0m0s"),
            (90_061, "1d1h1m1s"),
            (365 * 86_400, "1y0d0h0m0s"),
            (400 * 86_400 + 5, "1y35d0h0m5s"),
        ];
        for &(secs, want) in cases {
            assert_eq!(uptime(Duration::from_secs(secs)), want, "{secs} s");
        }
        assert_eq!(uptime(Duration::from_millis(1_999)), "1s");
    }

    #[test]
    fn rfc3339_agrees_with_chrono_across_leap_years_and_month_ends() {
        let at = |secs: u64, nanos: u32| UNIX_EPOCH + Duration::new(secs, nanos);
        let chrono_form = |t: SystemTime| {
            let since = t.duration_since(UNIX_EPOCH).unwrap();
            let dt = chrono::DateTime::<chrono::Utc>::from(t);
            let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
            frac(&mut s, u64::from(since.subsec_nanos()), 9);
            s.push('Z');
            s
        };
        // Every 9973 s (prime, so all times of day come round) from 1970 to past 2100, a
        // century that is not a leap year, with a fraction that changes too.
        let mut secs = 0u64;
        let mut checked = 0;
        while secs < 4_200_000_000 {
            let t = at(
                secs,
                (secs as u32).wrapping_mul(2_654_435_761) % 1_000_000_000,
            );
            assert_eq!(rfc3339(t), chrono_form(t), "at {secs}");
            secs += 9973;
            checked += 1;
        }
        assert!(checked > 400_000);
        assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(at(4_107_542_400, 1)),
            "2100-03-01T00:00:00.000000001Z"
        );
    }

    #[test]
    fn rfc3339_trims_trailing_zeros_like_go() {
        let at = |secs: u64, nanos: u32| UNIX_EPOCH + Duration::new(secs, nanos);
        assert_eq!(
            rfc3339(at(1_795_423_130, 296_500_163)),
            "2026-11-23T08:38:50.296500163Z"
        );
        assert_eq!(
            rfc3339(at(1_795_423_130, 799_252_980)),
            "2026-11-23T08:38:50.79925298Z"
        );
        assert_eq!(rfc3339(at(1_795_423_130, 0)), "2026-11-23T08:38:50Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        let t = UNIX_EPOCH + Duration::new(1_795_423_130, 5);
        assert_eq!(http_date(t), "Mon, 23 Nov 2026 08:38:50 GMT");
    }

    #[test]
    fn float_matches_go_json() {
        assert_eq!(float(0.0), "0");
        assert_eq!(float(2.0), "2");
        assert_eq!(float(0.4), "0.4");
        assert_eq!(float(0.5714285714285714), "0.5714285714285714");
        assert_eq!(float(1e-6), "0.000001");
        assert_eq!(float(1e-7), "1e-7");
        assert_eq!(float(1e21), "1e+21");
        assert_eq!(float(-2.5), "-2.5");
        assert_eq!(float(f64::NAN), "0");
    }

    #[test]
    fn quote_matches_strconv_quote() {
        assert_eq!(quote("x"), r#""x""#);
        assert_eq!(quote("\"é\n"), r#""\"é\n""#);
        assert_eq!(quote("a\\b\t\u{1}\u{7f}"), r#""a\\b\t\x01\x7f""#);
        assert_eq!(quote("\u{a0}"), r#""\u00a0""#);
    }

    #[test]
    fn quote_bytes_writes_each_stray_byte_as_go_does() {
        // Seen in nats-server 2.15.1's trace of the payload 01 ff c3 a9.
        assert_eq!(quote_bytes(b"\x01\xff\xc3\xa9"), r#""\x01\xffé""#);
        assert_eq!(quote_bytes(b"\xe2\x82"), r#""\xe2\x82""#);
        assert_eq!(quote_bytes(b"ok\xc3"), r#""ok\xc3""#);
        assert_eq!(quote_bytes(b""), r#""""#);
    }
}
