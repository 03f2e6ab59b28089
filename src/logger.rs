//! Log lines in nats-server's format: `[pid] date time [INF] message`, to stderr.
//!
//! `-D` turns on `[DBG]`, `-V` turns on `[TRC]`.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Logger {
    pid: u32,
    level: LevelFilter,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.level && m.target().starts_with("natrix")
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let tag = match r.level() {
            Level::Error => "ERR",
            Level::Warn => "WRN",
            Level::Info => "INF",
            Level::Debug => "DBG",
            Level::Trace => "TRC",
        };
        let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f");
        let line = format!("[{}] {now} [{tag}] {}\n", self.pid, r.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the logger once; later calls are ignored.
pub fn init(debug: bool, trace: bool) {
    let level = match (debug, trace) {
        (_, true) => LevelFilter::Trace,
        (true, false) => LevelFilter::Debug,
        _ => LevelFilter::Info,
    };
    let logger = Box::new(Logger {
        pid: std::process::id(),
        level,
    });
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
