//! Clocks, CPU time and latency histograms.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Nanoseconds on the generator's monotonic clock; every thread shares its origin, so a
/// stamp written by one thread can be read by another.
pub fn now_ns() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Latencies in nanoseconds, 1 ns to 100 s at 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

#[derive(Serialize, Debug, Clone)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p99_9: us(h.value_at_quantile(0.999)),
            p99_99: us(h.value_at_quantile(0.9999)),
            max: us(h.max()),
        })
    }
}

/// The percentile distribution for a plot: percentiles on HDR's usual log-like scale
/// (halving the distance to 100 each step), as `[percentile, µs]` pairs.
pub fn percentiles(h: &Histogram<u64>) -> Option<Vec<[f64; 2]>> {
    if h.is_empty() {
        return None;
    }
    let mut points = Vec::new();
    let mut gap = 100.0_f64;
    // 0, 50, 75, 87.5, ... until one sample is left beyond the last point.
    let mut pct = 0.0;
    while gap * h.len() as f64 / 100.0 >= 1.0 {
        points.push([pct, us(h.value_at_quantile(pct / 100.0))]);
        gap /= 2.0;
        pct = 100.0 - gap;
    }
    points.push([100.0, us(h.max())]);
    Some(points)
}

/// CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
pub fn process_cpu_s(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| std::io::Error::other("unreadable /proc stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of the line; `after` starts at field 3.
    let ticks = |i: usize| -> std::io::Result<f64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| std::io::Error::other("unreadable /proc stat"))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(14)? + ticks(15)?) / hz)
}

/// CPU seconds this process (every thread) has used so far.
pub fn own_cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Sleeps until `deadline_ns` on [`now_ns`]'s clock (returns at once if it has passed).
pub fn sleep_until(deadline_ns: u64) {
    let now = now_ns();
    if deadline_ns > now {
        std::thread::sleep(Duration::from_nanos(deadline_ns - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_points_climb_to_the_max() {
        let mut h = histogram();
        for v in 1..=10_000u64 {
            h.record(v * 1000).unwrap();
        }
        let points = percentiles(&h).unwrap();
        assert_eq!(points[0][0], 0.0);
        assert_eq!(points.last().unwrap()[0], 100.0);
        assert!(points
            .windows(2)
            .all(|w| w[0][1] <= w[1][1] && w[0][0] < w[1][0]));
        let lat = Latency::of(&h).unwrap();
        assert!((lat.p50 - 5000.0).abs() < 10.0, "{}", lat.p50);
    }

    #[test]
    fn own_process_cpu_is_readable() {
        let pid = std::process::id();
        assert!(process_cpu_s(pid).unwrap() >= 0.0);
    }
}
