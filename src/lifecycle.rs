//! Signals and the server's life after start: stop, reload, lame duck mode, log reopening,
//! the pid file; and each shard's control task that carries them out.
//!
//! Signals are handled on a thread of their own, which only sets flags and installs reloaded
//! options in [`Control`]; shards act on them in their control task ([`watch_control`]).
//! nats-server's mapping (reference §13): SIGINT and SIGTERM stop (SIGTERM is ignored while
//! lame duck mode runs), SIGHUP reloads the config file, SIGUSR1 reopens the log file,
//! SIGUSR2 enters lame duck mode.
//!
//! Invariants: a failed reload changes nothing; lame duck mode starts once; when every shard
//! has evicted its clients the server stops.

use std::io;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::cli::{SignalCommand, SignalTarget};
use crate::config::Options;
use crate::control::{Control, Live, CONTROL_POLL_MS, RELOAD_APPLY_MAX_MS};
use crate::logger;
use crate::reload;
use crate::runtime;
use crate::server::Reloader;
use crate::shard::client::CloseReason;
use crate::shard::Shard;

/// Longest gap between two lame-duck evictions (nats-server: 1 s).
const LDM_EVICT_GAP_MAX_MS: u64 = 1_000;

/// Starts the thread that turns signals into control-plane changes.
pub fn spawn_signal_thread(control: Arc<Control>, reload: Option<Reloader>) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2])?;
    std::thread::Builder::new()
        .name("natrix-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if let Some(name) = signal_name(sig) {
                    log::info!("Trapped \"{name}\" signal");
                }
                match sig {
                    SIGTERM if control.ldm.load(Ordering::Acquire) => {
                        log::info!("Lame duck mode in progress, ignoring SIGTERM");
                    }
                    SIGINT | SIGTERM => stop(&control),
                    SIGHUP => match &reload {
                        Some(r) if control.live().opts.config_file.is_some() => {
                            reload_config(&control, r)
                        }
                        _ => log::error!(
                            "Failed to reload server configuration: can only reload config \
                             when a file is provided using -c or --config"
                        ),
                    },
                    SIGUSR1 => logger::reopen(),
                    SIGUSR2 => enter_lame_duck(&control),
                    _ => {}
                }
            }
        })?;
    Ok(())
}

/// Go's name of a signal, as nats-server logs it when it traps one.
fn signal_name(sig: i32) -> Option<&'static str> {
    match sig {
        SIGINT => Some("interrupt"),
        SIGTERM => Some("terminated"),
        SIGHUP => Some("hangup"),
        SIGUSR1 => Some("user defined signal 1"),
        SIGUSR2 => Some("user defined signal 2"),
        _ => None,
    }
}

fn stop(control: &Control) {
    log::info!("Initiating Shutdown...");
    control.request_stop();
}

/// Reads the options again and installs them when nats-server would (see [`reload`]); a
/// bad file, or one that changes what is fixed while running, changes nothing.
pub fn reload_config(control: &Control, reload: &Reloader) {
    let next = match reload() {
        Ok(o) => o,
        Err(e) => {
            log::error!("Failed to reload server configuration: {e}");
            return;
        }
    };
    let current_live = control.live();
    let current = current_live.opts.clone();
    let next = keep_natrix_options(&current, next);
    let changes = match reload::changes(&current, &next) {
        Ok(c) => c,
        Err(e) => {
            log::error!("Failed to reload server configuration: {e}");
            return;
        }
    };
    let live = match Live::after(next, Some(&current_live)) {
        Ok(l) => l,
        Err(e) => {
            log::error!("Failed to reload server configuration: {e}");
            return;
        }
    };
    for change in changes {
        log::info!("Reloaded: {change}");
    }
    logger::reconfigure(&live.opts);
    let generation = control.replace_live(live);
    // Done means done on every shard: a client that sees the log line finds the new options
    // on whichever shard serves it.
    if !control.wait_applied(generation, Duration::from_millis(RELOAD_APPLY_MAX_MS)) {
        log::warn!("Config reload: not every shard has taken the new options yet");
    }
    log::info!("Reloaded server configuration");
}

/// Options nats-server does not have are fixed at start: the shard count, idle polling.
/// (A port of 0 in the reloaded options is no change: `reload::changes` decides that, and
/// the port is read only when the listener is bound.)
fn keep_natrix_options(current: &Options, mut next: Options) -> Options {
    next.shards = current.shards;
    next.spin_before_park_us = current.spin_before_park_us;
    next
}

fn enter_lame_duck(control: &Control) {
    if control.ldm.swap(true, Ordering::AcqRel) {
        return;
    }
    control.ring_all();
    log::info!("Entering lame duck mode, stop accepting new clients");
}

/// Writes the process id to `path`, as `-P` does in nats-server.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    std::fs::write(path, std::process::id().to_string()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("Could not write pidfile {}: {e}", path.display()),
        )
    })
}

/// A shard's control task: runs posted jobs, takes reloaded options, starts lame duck mode,
/// and returns when the server stops.
pub async fn watch_control(shard: &Rc<Shard>) {
    let control = shard.control.clone();
    let mut generation = control.generation.load(Ordering::Acquire);
    let mut ldm_started = false;
    let mut bell = control.bind_bell(shard.id);
    while !control.stopping() {
        match &mut bell {
            Some(b) => {
                b.wait(|| control.has_news(shard.id, generation, ldm_started))
                    .await
            }
            None => runtime::sleep(Duration::from_millis(CONTROL_POLL_MS)).await,
        }
        for job in control.take_jobs(shard.id) {
            job(shard);
        }
        let g = control.generation.load(Ordering::Acquire);
        if g != generation {
            generation = g;
            shard.take_live(&control.live());
            control.mark_applied(shard.id, g);
        }
        if !ldm_started && control.ldm.load(Ordering::Acquire) {
            ldm_started = true;
            shard.shutdown.notify();
            runtime::spawn(lame_duck(shard.clone()));
        }
    }
}

/// Lame duck mode on one shard (reference §13): tell protocol-1 clients, wait the grace
/// period, then close the clients one by one over the rest of the duration; the last shard
/// to finish stops the server.
async fn lame_duck(shard: Rc<Shard>) {
    let opts = shard.opts();
    // New connections are refused before anyone is told.
    while shard.accepting.get() {
        let done = shard.acceptor_done.notified();
        if !shard.accepting.get() {
            break;
        }
        done.await;
    }
    let clients = shard.client_list();
    if shard.control.connections.load(Ordering::Acquire) > 0 {
        for c in &clients {
            if c.wants_async_info() {
                shard.queue_info(c, &shard.info_json_ldm(c));
            }
        }
        shard.flush();
        // Every shard waits out the grace period, even one without clients of its own: the
        // server stops only when all are done anyway, and shard 0's log line then comes
        // when the closing really starts.
        let grace = Duration::from_millis(opts.lame_duck_grace_period_ms);
        sleep_unless_stopped(&shard, grace).await;
        if shard.id == 0 {
            log::info!("Closing existing clients");
        }
        let span_ms = opts
            .lame_duck_duration_ms
            .saturating_sub(opts.lame_duck_grace_period_ms);
        let clients = shard.client_list();
        let n = clients.len().max(1) as u64;
        let gap_ms = (span_ms / n).clamp(1, LDM_EVICT_GAP_MAX_MS);
        for c in clients {
            if shard.control.stopping() {
                break;
            }
            c.close(CloseReason::ServerShutdown, true);
            shard.flush();
            let ms = rand::thread_rng().gen_range(gap_ms / 2..=gap_ms);
            sleep_unless_stopped(&shard, Duration::from_millis(ms)).await;
        }
    }
    let done = shard.control.ldm_shards_done.fetch_add(1, Ordering::AcqRel) + 1;
    if done == shard.control.shards() {
        stop(&shard.control);
    }
}

async fn sleep_unless_stopped(shard: &Shard, d: Duration) {
    let step = Duration::from_millis(CONTROL_POLL_MS);
    let mut left = d;
    while !left.is_zero() && !shard.control.stopping() {
        let s = left.min(step);
        runtime::sleep(s).await;
        left -= s;
    }
}

/// `--signal`: sends the command's signal to the server named by `target` (a pid, or a pid
/// file), or, with no target, to the one other natrix process running (nats-server finds
/// itself by name the same way).
pub fn send_signal(command: SignalCommand, target: &SignalTarget) -> Result<(), String> {
    let sig = match command {
        SignalCommand::Stop => libc::SIGKILL,
        SignalCommand::Quit => libc::SIGINT,
        SignalCommand::Term => libc::SIGTERM,
        SignalCommand::Reopen => libc::SIGUSR1,
        SignalCommand::Reload => libc::SIGHUP,
        SignalCommand::LameDuck => libc::SIGUSR2,
    };
    let pid = match target {
        SignalTarget::Pid(pid) => i32::try_from(*pid).map_err(|_| format!("invalid pid: {pid}"))?,
        SignalTarget::PidFile(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("could not read pid file {}: {e}", path.display()))?;
            text.parse::<i32>()
                .map_err(|_| format!("invalid pid: {text}"))?
        }
        SignalTarget::Any => {
            let pids = find_servers();
            match pids.as_slice() {
                [pid] => *pid,
                [] => return Err("no natrix processes running".into()),
                _ => {
                    let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
                    return Err(format!(
                        "multiple natrix processes running:\n{}",
                        list.join("\n")
                    ));
                }
            }
        }
    };
    if pid <= 0 {
        return Err(format!("invalid pid: {pid}"));
    }
    // SAFETY: kill with a positive pid and a valid signal number.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(format!(
            "failed to signal pid {pid}: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Pids of the natrix processes other than this one, from /proc.
fn find_servers() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "natrix")
        })
        .collect();
    pids.sort_unstable();
    pids
}
