//! Log lines in nats-server's format: `[pid] 2006/01/02 15:04:05.000000 [INF] message`, to
//! stderr or to the `-l` file.
//!
//! `-D` turns on `[DBG]`, `-V` turns on `[TRC]`, `-T=false` (`logtime: false`) drops the
//! date and time. A reload can change all three and the file; SIGUSR1 reopens the file (for
//! log rotation).
//!
//! Invariants: the sink is only touched to write a whole line, so lines never interleave;
//! a log line never carries a password or token (callers log users by name only).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::config::Options;

struct Logger {
    pid: u32,
    time: AtomicBool,
    sink: Mutex<Sink>,
}

struct Sink {
    path: Option<PathBuf>,
    file: Option<File>,
}

static LOGGER: OnceLock<&'static Logger> = OnceLock::new();

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level() && m.target().starts_with("natrix")
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
        let line = if self.time.load(Ordering::Relaxed) {
            let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f");
            format!("[{}] {now} [{tag}] {}\n", self.pid, r.args())
        } else {
            format!("[{}] [{tag}] {}\n", self.pid, r.args())
        };
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        match &mut sink.file {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

fn level(debug: bool, trace: bool) -> LevelFilter {
    match (debug, trace) {
        (_, true) => LevelFilter::Trace,
        (true, false) => LevelFilter::Debug,
        _ => LevelFilter::Info,
    }
}

fn open(path: &PathBuf) -> Option<File> {
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("natrix: error opening log file {}: {e}", path.display());
            None
        }
    }
}

/// Installs the logger with the options' level, time stamps and file; later calls
/// reconfigure it.
pub fn init(opts: &Options) {
    if LOGGER.get().is_some() {
        reconfigure(opts);
        return;
    }
    let path = opts.logging.file.clone();
    let logger: &'static Logger = Box::leak(Box::new(Logger {
        pid: std::process::id(),
        time: AtomicBool::new(opts.logging.time),
        sink: Mutex::new(Sink {
            file: path.as_ref().and_then(open),
            path,
        }),
    }));
    if log::set_logger(logger).is_ok() {
        let _ = LOGGER.set(logger);
        log::set_max_level(level(opts.debug, opts.trace));
    }
}

/// Applies reloaded logging options: level, time stamps, file.
pub fn reconfigure(opts: &Options) {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    log::set_max_level(level(opts.debug, opts.trace));
    logger.time.store(opts.logging.time, Ordering::Relaxed);
    if let Ok(mut sink) = logger.sink.lock() {
        if sink.path != opts.logging.file {
            sink.path = opts.logging.file.clone();
            sink.file = sink.path.as_ref().and_then(open);
        }
    }
}

/// Reopens the log file (SIGUSR1), so a rotated file is released.
pub fn reopen() {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    let reopened = match logger.sink.lock() {
        Ok(mut sink) => match sink.path.clone() {
            Some(p) => {
                sink.file = open(&p);
                true
            }
            None => false,
        },
        Err(_) => false,
    };
    if reopened {
        log::info!("File log re-opened");
    } else {
        log::info!("File log re-open ignored, not a file logger");
    }
}
