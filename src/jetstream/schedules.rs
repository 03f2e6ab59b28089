//! Message schedules (`allow_msg_schedules`, nats-server 2.12+, ADR-51), sans-io here but
//! for the `AccountStreams` glue at the end.
//!
//! A schedule is a stored message with `Nats-Schedule: <pattern>` and
//! `Nats-Schedule-Target: <subject>` (optional `Nats-Schedule-TTL`, `-Rollup`, `-Source`,
//! `-Time-Zone`). It is stored with `Nats-Rollup: sub` added (so a new schedule on a subject
//! replaces the old one); at its due time the stream stores, through the ordinary publish
//! path, a message on the target: the schedule's payload and headers (or those of the last
//! message on `Nats-Schedule-Source`), without the `Nats-Schedule*`, `Nats-Expected-*`,
//! `Nats-Msg-Id`, `Nats-TTL` and `Nats-Rollup` lines, then `Nats-Scheduler: <schedule's
//! subject>`, `Nats-Schedule-Next: purge` (one-shot) or the next time (RFC 3339, repeating),
//! `Nats-TTL` from `Nats-Schedule-TTL` and `Nats-Rollup` from `Nats-Schedule-Rollup`, in that
//! order (seen on the wire from nats-server 2.15.1). Storing a message with
//! `Nats-Schedule-Next: purge` purges the scheduler subject (the schedule is gone); one with a
//! time re-arms the schedule for then. Only the last message of a subject is a live
//! schedule: a plain message published on the schedule's subject ends it (nats-server drops
//! it from its table).
//!
//! Patterns, as nats-server 2.15.1 reads them: `@at <RFC 3339>` (once), `@every <Go
//! duration ≥ 1s>` (the first at the store time rounded to the second plus the interval),
//! the predefined `@yearly`/`@annually`/`@monthly`/`@weekly`/`@daily`/`@midnight`/`@hourly`
//! and 6-field cron (`sec min hour dom month dow`, robfig/cron's syntax: lists, ranges,
//! steps, `*`, `?`, month and day names; day of month and day of week OR-ed unless one is
//! `*`), next strictly after the reference second, within five years. A repeating schedule
//! that would have fired several times (after a restart) skips ahead and fires once.
//!
//! Not built: time zones. `Nats-Schedule-Time-Zone` is accepted only as `UTC` (with which,
//! as in nats-server, only cron patterns are valid); any other zone is refused with 10223
//! ("message schedules time zone is invalid"), which nats-server gives for an unknown zone:
//! natrix carries no zone database.
//!
//! Timers: one per live schedule on the shard's wheel (`TimerKind::Schedule`), armed when the
//! schedule is stored, when a produced message carries the next time, and at start
//! (`restore_schedules`: the last message of each subject is read, O(subjects) reads, no scan
//! of the log; a repeating schedule resumes at the `Nats-Schedule-Next` of its target's last
//! message when that came from it). A timer whose schedule was replaced, purged or ended
//! finds that out when it fires and does nothing. A schedule due while the server was down
//! fires at start.

use super::api::config::StreamConfig;
use super::api::error::{ApiError, ScheduleError};
use super::api::headers::Headers;
use super::api::publish::{parse_go_duration, parse_ttl, HDR_ROLLUP, HDR_TTL};
use super::consumer::{ConsumerTimer, TimerKind};
use super::streams::AccountStreams;
use crate::store::Purge;

pub const HDR_SCHEDULE: &str = "Nats-Schedule";
pub const HDR_SCHEDULE_TARGET: &str = "Nats-Schedule-Target";
pub const HDR_SCHEDULE_SOURCE: &str = "Nats-Schedule-Source";
pub const HDR_SCHEDULE_TTL: &str = "Nats-Schedule-TTL";
pub const HDR_SCHEDULE_ROLLUP: &str = "Nats-Schedule-Rollup";
pub const HDR_SCHEDULE_TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
pub const HDR_SCHEDULER: &str = "Nats-Scheduler";
pub const HDR_SCHEDULE_NEXT: &str = "Nats-Schedule-Next";
/// `Nats-Schedule-Next` of a one-shot schedule's message: the schedule is purged.
pub const NEXT_PURGE: &str = "purge";

const NS_PER_S: i64 = 1_000_000_000;
const NS_PER_MS: i64 = 1_000_000;
const S_PER_DAY: i64 = 86_400;
/// How far ahead a cron pattern may next match (nats-server: five years).
const CRON_YEARS_MAX: i32 = 5;

/// When a schedule fires next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// Unix nanoseconds.
    pub at_ns: i64,
    /// It fires again after this (`@every`, cron); false for `@at`.
    pub repeat: bool,
}

/// What the publish checks found about a message's schedule headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checked {
    /// The message has a schedule header (so the store path looks at it again once stored).
    pub present: bool,
    /// A schedule without a `Nats-Rollup` header: it is stored with `Nats-Rollup: sub`.
    pub add_rollup_sub: bool,
    /// `Nats-Schedule-Next: purge` with this `Nats-Scheduler`: refused if that subject's last
    /// message is no schedule (the caller looks, it has the store).
    pub purge_of: Option<String>,
}

/// Whether any header key starts like the schedule headers (the cheap test first).
pub fn has_schedule_headers(hdrs: &Headers<'_>) -> bool {
    hdrs.entries
        .iter()
        .any(|(k, _)| k.starts_with("Nats-Sched"))
}

/// Go's `IsValidPublishSubject`: non-empty tokens, no wildcard, no white space.
fn valid_publish_subject(s: &str) -> bool {
    !s.is_empty()
        && !s.bytes().any(|b| b.is_ascii_whitespace())
        && crate::subject::is_valid_publish_subject(s.as_bytes())
}

/// nats-server's checks of a client's publish into `cfg` on `subject` (processJetStreamMsg,
/// after the expected-sequence checks, in its order).
pub fn check(
    cfg: &StreamConfig,
    subject: &str,
    hdrs: &Headers<'_>,
    now_ns: i64,
) -> Result<Checked, ApiError> {
    use ScheduleError::*;
    let mut out = Checked::default();
    if !has_schedule_headers(hdrs) {
        return Ok(out);
    }
    out.present = true;
    let allow = cfg.allow_msg_schedules;
    let err = |e: ScheduleError| ApiError::MessageSchedules(e);
    let pattern = hdrs.get(HDR_SCHEDULE).unwrap_or("");
    let fire = next_fire(pattern, hdrs.get(HDR_SCHEDULE_TIME_ZONE), now_ns, now_ns)
        .map_err(|e| err(if allow { e } else { Disabled }))?;
    if fire.is_some() {
        if !allow {
            return Err(err(Disabled));
        }
        let ttl = hdrs.get(HDR_SCHEDULE_TTL).filter(|v| !v.is_empty());
        if ttl.is_some_and(|t| parse_ttl(t).is_err()) {
            return Err(err(TtlInvalid));
        }
        if hdrs
            .get(HDR_SCHEDULE_ROLLUP)
            .is_some_and(|r| !r.is_empty() && r != "sub")
        {
            return Err(err(RollupInvalid));
        }
        if ttl.is_some() && !cfg.allow_msg_ttl {
            return Err(ApiError::MessageTtlDisabled);
        }
        let target = hdrs.get(HDR_SCHEDULE_TARGET).unwrap_or("");
        if !valid_publish_subject(target) || target == subject {
            return Err(err(TargetInvalid));
        }
        let source = hdrs.get(HDR_SCHEDULE_SOURCE).unwrap_or("");
        if !source.is_empty()
            && (source == target || source == subject || !valid_publish_subject(source))
        {
            return Err(err(SourceInvalid));
        }
        let inside = |s: &str| {
            cfg.subjects
                .iter()
                .any(|p| crate::subject::matches(p.as_bytes(), s.as_bytes()))
        };
        if !inside(target) {
            return Err(err(TargetInvalid));
        }
        if !source.is_empty() && !inside(source) {
            return Err(err(SourceInvalid));
        }
        match hdrs.get(HDR_ROLLUP).filter(|r| !r.is_empty()) {
            None => out.add_rollup_sub = true,
            Some(r) if r.eq_ignore_ascii_case("sub") => {}
            Some(_) => return Err(err(RollupInvalid)),
        }
    }
    if let Some(next) = hdrs.get(HDR_SCHEDULE_NEXT).filter(|v| !v.is_empty()) {
        // A client may only send `purge`, naming another subject as the scheduler.
        if next != NEXT_PURGE {
            return Err(err(SchedulerInvalid));
        }
        let scheduler = hdrs.get(HDR_SCHEDULER).unwrap_or("");
        if scheduler == subject || !valid_publish_subject(scheduler) {
            return Err(err(SchedulerInvalid));
        }
        if !allow {
            return Err(err(Disabled));
        }
        out.purge_of = Some(scheduler.to_string());
    } else if hdrs.get(HDR_SCHEDULER).is_some_and(|v| !v.is_empty()) {
        return Err(err(SchedulerInvalid));
    }
    Ok(out)
}

/// When `pattern` (with time zone header `tz`) fires next after reference time `ref_ns` (the
/// store time, or the due time when it fires), skipping past `now_ns` for a repeating one.
/// `Ok(None)` for an empty pattern (no schedule).
pub fn next_fire(
    pattern: &str,
    tz: Option<&str>,
    ref_ns: i64,
    now_ns: i64,
) -> Result<Option<Fire>, ScheduleError> {
    // Only UTC is known (see the module doc); nats-server checks the zone first.
    let zoned = match tz {
        None => false,
        Some("UTC") => true,
        Some(_) => return Err(ScheduleError::TimeZoneInvalid),
    };
    if pattern.is_empty() {
        return Ok(None);
    }
    let invalid = ScheduleError::PatternInvalid;
    if let Some(at) = pattern.strip_prefix("@at ") {
        if zoned {
            return Err(invalid);
        }
        let t = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| invalid)?;
        let at_ns = t.timestamp_nanos_opt().ok_or(invalid)?;
        return Ok(Some(Fire {
            at_ns,
            repeat: false,
        }));
    }
    if let Some(every) = pattern.strip_prefix("@every ") {
        if zoned {
            return Err(invalid);
        }
        let dur = parse_go_duration(every).ok_or(invalid)?;
        if dur < NS_PER_S {
            return Err(invalid);
        }
        let mut at_ns = round_s(ref_ns).saturating_add(dur);
        if at_ns < now_ns {
            at_ns = round_s(now_ns).saturating_add(dur);
        }
        return Ok(Some(Fire {
            at_ns,
            repeat: true,
        }));
    }
    let pattern = match pattern {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        p => p,
    };
    let cron = Cron::parse(pattern).ok_or(invalid)?;
    let mut at_ns = cron.next_after(ref_ns).ok_or(invalid)?;
    if at_ns < now_ns {
        at_ns = cron.next_after(round_s(now_ns)).ok_or(invalid)?;
    }
    Ok(Some(Fire {
        at_ns,
        repeat: true,
    }))
}

/// Go's `Time.Round(time.Second)`: to the nearest second, halves up.
fn round_s(ns: i64) -> i64 {
    ns.saturating_add(NS_PER_S / 2).div_euclid(NS_PER_S) * NS_PER_S
}

/// A parsed 6-field cron pattern: one bit per allowed value, bit 63 set when the field was
/// `*` or `?` (robfig/cron's star bit, which decides how the two day fields combine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    second: u64,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

const STAR_BIT: u64 = 1 << 63;
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    /// `sec min hour dom month dow`; None if it is not exactly that.
    pub fn parse(pattern: &str) -> Option<Cron> {
        let f: Vec<&str> = pattern.split_whitespace().collect();
        if f.len() != 6 {
            return None;
        }
        Some(Cron {
            second: field(f[0], 0, 59, &[])?,
            minute: field(f[1], 0, 59, &[])?,
            hour: field(f[2], 0, 23, &[])?,
            dom: field(f[3], 1, 31, &[])?,
            month: field(f[4], 1, 12, &MONTHS)?,
            dow: field(f[5], 0, 6, &DAYS)?,
        })
    }

    /// The first matching whole second strictly after the second of `ts_ns` (UTC), in Unix
    /// nanoseconds; None if nothing matches within five years.
    pub fn next_after(&self, ts_ns: i64) -> Option<i64> {
        use chrono::Datelike;
        let start = ts_ns.div_euclid(NS_PER_S) + 1;
        let mut day = start.div_euclid(S_PER_DAY);
        let mut from_s = start.rem_euclid(S_PER_DAY);
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
        let year_max = epoch
            .checked_add_signed(chrono::Duration::days(day))?
            .year()
            + CRON_YEARS_MAX;
        loop {
            let date = epoch.checked_add_signed(chrono::Duration::days(day))?;
            if date.year() > year_max {
                return None;
            }
            let day_ok = bit(self.month, date.month())
                && self.day_matches(date.day(), date.weekday().num_days_from_sunday());
            if day_ok {
                if let Some(s) = self.first_time(from_s) {
                    return Some((day * S_PER_DAY + s).saturating_mul(NS_PER_S));
                }
            }
            day += 1;
            from_s = 0;
        }
    }

    /// robfig/cron's `dayMatches`: both day fields must match if either is a star, else one.
    fn day_matches(&self, dom: u32, dow: u32) -> bool {
        let (a, b) = (bit(self.dom, dom), bit(self.dow, dow));
        if self.dom & STAR_BIT != 0 || self.dow & STAR_BIT != 0 {
            a && b
        } else {
            a || b
        }
    }

    /// The first second of the day at or after `from_s` that matches hour, minute, second.
    fn first_time(&self, from_s: i64) -> Option<i64> {
        for h in 0..24 {
            if !bit(self.hour, h) || i64::from(h) * 3600 + 3599 < from_s {
                continue;
            }
            for m in 0..60 {
                let base = i64::from(h) * 3600 + i64::from(m) * 60;
                if !bit(self.minute, m) || base + 59 < from_s {
                    continue;
                }
                for s in 0..60 {
                    if bit(self.second, s) && base + i64::from(s) >= from_s {
                        return Some(base + i64::from(s));
                    }
                }
            }
        }
        None
    }
}

fn bit(bits: u64, v: u32) -> bool {
    bits & (1u64 << v) != 0
}

/// One comma-separated cron field within `min..=max` (robfig/cron's `getField`).
fn field(f: &str, min: u32, max: u32, names: &[&str]) -> Option<u64> {
    let mut bits = 0;
    for expr in f.split(',').filter(|e| !e.is_empty()) {
        bits |= range(expr, min, max, names)?;
    }
    Some(bits)
}

/// `*`, `?`, `n`, `n-m`, each optionally `/step` (robfig/cron's `getRange`).
fn range(expr: &str, min: u32, max: u32, names: &[&str]) -> Option<u64> {
    let mut parts = expr.split('/');
    let span = parts.next()?;
    let step = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let bounds: Vec<&str> = span.split('-').collect();
    let (mut start, mut end, mut extra);
    if bounds[0] == "*" || bounds[0] == "?" {
        (start, end, extra) = (min, max, STAR_BIT);
    } else {
        start = value(bounds[0], names)?;
        end = match bounds.len() {
            1 => start,
            2 => value(bounds[1], names)?,
            _ => return None,
        };
        extra = 0;
    }
    let step = match step {
        None => 1,
        Some(s) => {
            let s = number(s)?;
            if bounds.len() == 1 {
                // `n/step` is `n-max/step`.
                end = max;
            }
            if s > 1 {
                extra = 0;
            }
            s
        }
    };
    if start < min || end > max || start > end || step == 0 {
        return None;
    }
    let mut bits = 0u64;
    while start <= end {
        bits |= 1 << start;
        start += step;
    }
    Some(bits | extra)
}

fn value(s: &str, names: &[&str]) -> Option<u32> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        // Months count from 1, days of the week from 0.
        let first = u32::from(names.len() == 12);
        return Some(i as u32 + first);
    }
    number(s)
}

/// Go's `strconv.Atoi` of a non-negative number (a leading `+` allowed).
fn number(s: &str) -> Option<u32> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
}

/// The message a schedule on `subject` stores on its target: the header block made from
/// `base` (the schedule's own headers, or its source's), then nats-server's four lines.
pub fn produced_headers(
    base: &[u8],
    subject: &str,
    next: Option<i64>,
    ttl: Option<&str>,
    rollup: Option<&str>,
) -> Vec<u8> {
    let mut out = b"NATS/1.0\r\n".to_vec();
    let body = base.strip_suffix(b"\r\n").unwrap_or(base);
    for line in body.split_inclusive(|&b| b == b'\n').skip(1) {
        let key_is = |k: &str| line.starts_with(k.as_bytes()) && line.get(k.len()) == Some(&b':');
        if line.starts_with(HDR_SCHEDULE.as_bytes())
            || line.starts_with(b"Nats-Expected-")
            || key_is("Nats-Msg-Id")
            || key_is(HDR_TTL)
            || key_is(HDR_ROLLUP)
        {
            continue;
        }
        out.extend_from_slice(line);
    }
    let mut push = |k: &str, v: &str| {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    push(HDR_SCHEDULER, subject);
    match next {
        None => push(HDR_SCHEDULE_NEXT, NEXT_PURGE),
        Some(ns) => push(HDR_SCHEDULE_NEXT, &rfc3339_ns(ns)),
    }
    if let Some(t) = ttl {
        push(HDR_TTL, t);
    }
    if let Some(r) = rollup {
        push(HDR_ROLLUP, r);
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn rfc3339_ns(ns: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns.max(0) as u64);
    crate::gofmt::rfc3339(t)
}

/// `hdr` with `Nats-Rollup: sub` added at the end (a schedule is stored so).
pub fn with_rollup_sub(hdr: &[u8]) -> Vec<u8> {
    let body = hdr.strip_suffix(b"\r\n").unwrap_or(hdr);
    let mut out = if body.is_empty() {
        b"NATS/1.0\r\n".to_vec()
    } else {
        body.to_vec()
    };
    out.extend_from_slice(b"Nats-Rollup: sub\r\n\r\n");
    out
}

/// The pattern of a stored message, if it is a schedule.
fn stored_schedule(hdr: &[u8]) -> Option<Headers<'_>> {
    if hdr.is_empty() {
        return None;
    }
    let h = Headers::parse(hdr).ok()?;
    h.get(HDR_SCHEDULE)
        .is_some_and(|p| !p.is_empty())
        .then_some(h)
}

impl AccountStreams {
    /// A client's `Nats-Schedule-Next: purge` naming `scheduler`: refused (10212) when the
    /// subject's last message is no schedule; allowed when it has none.
    pub(crate) fn purge_of_refused(&self, name: &str, scheduler: &str) -> bool {
        let Some(s) = self.streams.get(name) else {
            return false;
        };
        let mut log = s.log.borrow_mut();
        let Some(seq) = log.log().last_by_subject(scheduler.as_bytes()) else {
            return false;
        };
        match log.get(seq) {
            Ok(Some(m)) => stored_schedule(&m.headers).is_none(),
            _ => false,
        }
    }

    /// After message `seq` was stored in stream `name` with header block `hdr`: a schedule
    /// arms its timer; `Nats-Schedule-Next` purges the scheduler subject or re-arms it.
    pub(crate) fn schedule_stored(&mut self, name: &str, seq: u64, hdr: &[u8], now_ns: i64) {
        if hdr.is_empty() || memchr::memmem::find(hdr, b"Nats-Sched").is_none() {
            return;
        }
        let Some(s) = self.streams.get(name) else {
            return;
        };
        let (allow, purge_ok) = (
            s.config.allow_msg_schedules,
            s.config.allow_rollup_hdrs && !s.config.deny_purge,
        );
        let Ok(h) = Headers::parse(hdr) else {
            return;
        };
        let tz = h.get(HDR_SCHEDULE_TIME_ZONE);
        if allow {
            let pattern = h.get(HDR_SCHEDULE).unwrap_or("");
            if let Ok(Some(f)) = next_fire(pattern, tz, now_ns, now_ns) {
                self.arm_schedule(name, seq, f.at_ns);
            }
        }
        let scheduler = h.get(HDR_SCHEDULER).filter(|v| !v.is_empty());
        match (h.get(HDR_SCHEDULE_NEXT), scheduler) {
            (Some(NEXT_PURGE), Some(sch)) if purge_ok => {
                let Some(s) = self.streams.get_mut(name) else {
                    return;
                };
                let gone = s
                    .log
                    .borrow_mut()
                    .purge(&Purge {
                        filter: Some(sch.as_bytes()),
                        ..Purge::default()
                    })
                    .unwrap_or(0);
                if gone > 0 {
                    s.dirty = true;
                    s.invalidate_pending();
                }
            }
            (Some(next), Some(sch)) if allow => {
                let Ok(t) = chrono::DateTime::parse_from_rfc3339(next) else {
                    return;
                };
                let Some(s) = self.streams.get(name) else {
                    return;
                };
                let last = s.log.borrow().log().last_by_subject(sch.as_bytes());
                if let (Some(q), Some(at_ns)) = (last, t.timestamp_nanos_opt()) {
                    self.arm_schedule(name, q, at_ns);
                }
            }
            _ => {}
        }
    }

    fn arm_schedule(&mut self, name: &str, seq: u64, at_ns: i64) {
        let id = self.stream_timer_id(name);
        self.wheel.borrow_mut().insert(
            (at_ns.max(0) / NS_PER_MS) as u64,
            ConsumerTimer {
                consumer_id: id,
                kind: TimerKind::Schedule { stream_seq: seq },
            },
        );
    }

    /// The timer of the schedule stored at `seq` fired: if it is still the live schedule of
    /// its subject, its message is stored on its target.
    pub(crate) fn fire_schedule(&mut self, name: &str, seq: u64, now_ns: i64) {
        let Some(s) = self.streams.get(name) else {
            return;
        };
        if !s.config.allow_msg_schedules {
            return;
        }
        let made = {
            let mut log = s.log.borrow_mut();
            let Ok(Some(m)) = log.get(seq) else {
                return;
            };
            if log.log().last_by_subject(&m.subject) != Some(seq) {
                return; // Ended by a later message on its subject.
            }
            let Some(h) = stored_schedule(&m.headers) else {
                return;
            };
            let subject = String::from_utf8_lossy(&m.subject).into_owned();
            let pattern = h.get(HDR_SCHEDULE).unwrap_or("");
            let Ok(Some(f)) = next_fire(pattern, h.get(HDR_SCHEDULE_TIME_ZONE), now_ns, now_ns)
            else {
                return;
            };
            let ttl = h.get(HDR_SCHEDULE_TTL).filter(|v| !v.is_empty());
            if ttl.is_some_and(|t| parse_ttl(t).is_err()) {
                return;
            }
            let Some(target) = h.get(HDR_SCHEDULE_TARGET).filter(|v| !v.is_empty()) else {
                return;
            };
            let rollup = h.get(HDR_SCHEDULE_ROLLUP).filter(|v| !v.is_empty());
            let source = h
                .get(HDR_SCHEDULE_SOURCE)
                .filter(|v| !v.is_empty())
                .and_then(|src| log.log().last_by_subject(src.as_bytes()))
                .and_then(|q| log.get(q).ok().flatten());
            let (base, payload) = match &source {
                Some(src) => (&src.headers[..], src.payload.to_vec()),
                None => (&m.headers[..], m.payload.to_vec()),
            };
            let next = f.repeat.then_some(f.at_ns);
            let hdr = produced_headers(base, &subject, next, ttl, rollup);
            (target.to_string(), hdr, payload)
        };
        let (target, hdr, payload) = made;
        // Stored as a publish the server makes: the schedule checks do not apply to it.
        let _ = self.publish_one(name, &target, &hdr, &payload, now_ns, true);
    }

    /// At start: the timers of stream `name`'s live schedules, found from the last message
    /// of each subject (one read per subject, no scan of the log).
    pub fn restore_schedules(&mut self, name: &str, now_ns: i64) {
        let Some(s) = self.streams.get(name) else {
            return;
        };
        if !s.config.allow_msg_schedules {
            return;
        }
        let mut due = Vec::new();
        {
            let mut log = s.log.borrow_mut();
            let lasts: Vec<u64> = log
                .log()
                .subjects_matching(b">")
                .map(|(_, _, st)| st.last_seq)
                .collect();
            for seq in lasts {
                let Ok(Some(m)) = log.get(seq) else { continue };
                let Some(h) = stored_schedule(&m.headers) else {
                    continue;
                };
                let pattern = h.get(HDR_SCHEDULE).unwrap_or("");
                let tz = h.get(HDR_SCHEDULE_TIME_ZONE);
                let Ok(Some(f)) = next_fire(pattern, tz, m.ts_ns, now_ns) else {
                    continue;
                };
                // A repeating schedule resumes where its last message said.
                let subject = String::from_utf8_lossy(&m.subject).into_owned();
                let resumed = h
                    .get(HDR_SCHEDULE_TARGET)
                    .filter(|_| f.repeat)
                    .and_then(|t| log.log().last_by_subject(t.as_bytes()))
                    .and_then(|q| log.get(q).ok().flatten())
                    .and_then(|t| {
                        let th = Headers::parse(&t.headers).ok()?;
                        if th.get(HDR_SCHEDULER) != Some(subject.as_str()) {
                            return None;
                        }
                        let next = th.get(HDR_SCHEDULE_NEXT)?;
                        chrono::DateTime::parse_from_rfc3339(next)
                            .ok()?
                            .timestamp_nanos_opt()
                    });
                due.push((seq, resumed.unwrap_or(f.at_ns)));
            }
        }
        for (seq, at_ns) in due {
            self.arm_schedule(name, seq, at_ns);
        }
    }
}

#[cfg(test)]
#[path = "schedules_tests.rs"]
mod tests;
