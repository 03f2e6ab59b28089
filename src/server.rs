//! Starts the broker: binds the listener, starts one shard per executor, links them
//! (`shard/links.rs`), and stops them gracefully when the control plane says so (signals:
//! `lifecycle`).
//!
//! Invariants: bind errors are reported before any shard starts; the links exist before
//! any shard runs, so what a shard sends a peer that has not started yet waits for it; on
//! stop the listener closes first, then
//! every client gets what was queued for it, then the process exits 0.

use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Options;
use crate::control::{Control, Live};
use crate::lifecycle;
use crate::monitor_http;
use crate::proto::info::{new_server_id, NATRIX_VERSION, NATS_FEATURE_VERSION};
use crate::runtime;
use crate::shard::client::CloseReason;
use crate::shard::io as shard_io;
use crate::shard::links::Links;
use crate::shard::{ServerIdentity, Shard};

/// How long a stopping shard waits for its clients' last bytes to go out.
const SHUTDOWN_FLUSH_MAX_MS: u64 = 2_000;

/// Reads the options again for a reload (SIGHUP): the config file, then the same flags.
pub type Reloader = Box<dyn Fn() -> Result<Options, String> + Send>;

/// Runs the server until a stop signal (or the end of lame duck mode); returns when every
/// shard has stopped. `reload` reads the options again on SIGHUP.
pub fn run(opts: Options, reload: Option<Reloader>) -> io::Result<()> {
    let live = Live::new(opts.clone()).map_err(io::Error::other)?;
    let control = Arc::new(Control::new(opts.shards, live)?);
    lifecycle::spawn_signal_thread(control.clone(), reload)?;
    run_with(opts, control)
}

/// Runs the server until `control.stop` is set.
pub fn run_with(opts: Options, control: Arc<Control>) -> io::Result<()> {
    // NATS Streaming's options are checked before anything starts, as nats-streaming-server
    // refuses to start on bad limits or a bad cluster ID.
    if let Some(s) = &opts.streaming {
        crate::shard::stan::stan_options(s)
            .validate()
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    // Before the bind: a limit that cannot be raised is no reason not to start.
    let raised = runtime::raise_open_files_limit();
    let listener = TcpListener::bind((opts.host.as_str(), opts.port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("Error listening on port: {}:{}, {e}", opts.host, opts.port),
        )
    })?;
    let addr = listener.local_addr()?;
    let server_id = new_server_id();
    log::info!(
        "Starting natrix {NATRIX_VERSION} (nats-server protocol level {NATS_FEATURE_VERSION})"
    );
    log::info!("  Server ID:   {server_id}");
    log::info!("  Shards:      {}", opts.shards);
    match raised {
        Ok(Some((before, after))) => {
            log::info!("Raised the open files limit from {before} to {after}")
        }
        Ok(None) => {}
        Err(e) => log::warn!("Could not raise the open files limit: {e}"),
    }
    if let Some(f) = &opts.config_file {
        log::info!("Using configuration file: {}", f.display());
    }
    if let Some(p) = &opts.pid_file {
        lifecycle::write_pid_file(p)?;
    }
    let identity = Arc::new(IdentityParts {
        server_name: opts
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.clone()),
        server_id,
        host: opts.host.clone(),
        port: addr.port(),
    });
    log::info!(
        "Listening for client connections on {}:{}",
        opts.host,
        addr.port()
    );
    let ctx = Arc::new(monitor_http::MonitorContext::new(
        control.clone(),
        identity.server_id.clone(),
        addr.port(),
    ));
    monitor_http::start_system_service(
        ctx.clone(),
        identity.server_name.clone(),
        identity.host.clone(),
    );
    if opts.monitor.http_port.is_some() || opts.monitor.https_port.is_some() {
        let host = opts
            .monitor
            .host
            .clone()
            .unwrap_or_else(|| opts.host.clone());
        if let Some(port) = opts.monitor.http_port {
            monitor_http::start(&host, port, None, ctx.clone())?;
        }
        if let Some(port) = opts.monitor.https_port {
            // Options::validate refuses https_port without tls.
            let tls = control
                .live()
                .tls
                .clone()
                .ok_or_else(|| io::Error::other("https_port needs TLS to be configured"))?;
            monitor_http::start(&host, port, Some(tls), ctx.clone())?;
        }
    }
    let listen_control: std::os::fd::OwnedFd = listener.try_clone()?.into();
    let (to_shards, intakes) = runtime::intakes(opts.shards)?;
    let intakes: Vec<Option<runtime::Intake>> = intakes.into_iter().map(Some).collect();
    let intakes = Arc::new(Mutex::new(intakes));
    // Connections wait in the hand-off until their shard's intake runs, which is after the
    // mesh is joined.
    runtime::spawn_accept_thread(listener, to_shards)?;
    let listen_control = Arc::new(Mutex::new(Some(listen_control)));
    let links: Vec<Option<(Arc<Links>, runtime::BellRx)>> = if opts.shards > 1 {
        let (links, rxs) = Links::new(opts.shards)?;
        rxs.into_iter()
            .map(|rx| Some((links.clone(), rx)))
            .collect()
    } else {
        vec![None]
    };
    let links = Arc::new(Mutex::new(links));
    let opts = Arc::new(opts);
    let shards = opts.shards;
    let spin = opts.spin_before_park();
    runtime::run_executors(shards, spin, move |i| {
        let link = links
            .lock()
            .ok()
            .and_then(|mut m| m.get_mut(i).and_then(Option::take));
        let intake = intakes
            .lock()
            .ok()
            .and_then(|mut m| m.get_mut(i).and_then(Option::take));
        let listen_control = if i == 0 {
            listen_control.lock().ok().and_then(|mut l| l.take())
        } else {
            None
        };
        let (opts, identity, control) = (opts.clone(), identity.clone(), control.clone());
        async move {
            let start = ShardStart {
                id: i,
                link,
                intake,
                listen_control,
            };
            if let Err(e) = run_shard(opts, identity, start, control).await {
                log::error!("shard failed: {e}");
            }
        }
    })?;
    log::info!("Server Exiting..");
    Ok(())
}

/// The identity as it crosses threads; each shard builds its own `Rc` copy.
struct IdentityParts {
    server_id: String,
    server_name: String,
    host: String,
    port: u16,
}

/// What one shard takes at its start: its id, the links and its end of its bell, its end of
/// the accept thread's hand-off, and (shard 0) the descriptor that shuts the listener.
struct ShardStart {
    id: usize,
    link: Option<(Arc<Links>, runtime::BellRx)>,
    intake: Option<runtime::Intake>,
    listen_control: Option<std::os::fd::OwnedFd>,
}

async fn run_shard(
    opts: Arc<Options>,
    identity: Arc<IdentityParts>,
    start: ShardStart,
    control: Arc<Control>,
) -> io::Result<()> {
    let id = start.id;
    let identity = Rc::new(ServerIdentity {
        server_id: identity.server_id.clone(),
        server_name: identity.server_name.clone(),
        host: identity.host.clone(),
        port: identity.port,
    });
    let shard = Rc::new(Shard::new(
        id,
        opts.shards,
        Rc::new((*opts).clone()),
        identity,
        control.clone(),
        start.link.as_ref().map(|(l, _)| l.clone()),
    ));
    if let Some((links, rx)) = start.link {
        shard_io::spawn_links(&shard, links, rx);
    }
    // This shard's streams are opened (and their subjects announced to the other shards)
    // before the first connection is taken.
    shard.js_start();
    if shard.js.borrow().is_some() {
        runtime::spawn(crate::shard::js_consumers::run_timers(shard.clone()));
        for _ in 0..crate::shard::jetstream::JS_SYNCS_IN_FLIGHT_MAX {
            runtime::spawn(crate::shard::jetstream::run_syncs(shard.clone()));
        }
    }
    if let Err(e) = shard.stan_start() {
        log::error!("NATS Streaming not started: {e}");
    }
    if shard.stan.borrow().is_some() {
        runtime::spawn(crate::shard::stan::run_timers(shard.clone()));
        runtime::spawn(crate::shard::stan::run_syncs(shard.clone()));
    }
    // Every shard owns some accounts' streams: connections are taken once all of them
    // are open and announced (the wait lets this shard's mesh tasks run meanwhile).
    control.shards_started.fetch_add(1, Ordering::AcqRel);
    while control.shards_started.load(Ordering::Acquire) < shard.shards {
        runtime::sleep(Duration::from_millis(1)).await;
    }
    shard.flush();
    if let Some(intake) = start.intake {
        runtime::spawn(shard_io::run_intake(shard.clone(), intake));
    }
    if let Some(fd) = start.listen_control {
        *shard.listen_control.borrow_mut() = Some(fd);
        shard.accepting.set(true);
        runtime::spawn(shard_io::run_listen_guard(shard.clone()));
        log::info!("Server is ready");
    }
    lifecycle::watch_control(&shard).await;
    shard.stopping.set(true);
    shard.shutdown.notify();
    let clients: Vec<_> = shard
        .clients
        .borrow()
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    for c in clients {
        c.close(CloseReason::ServerShutdown, true);
    }
    let t0 = Instant::now();
    while shard.client_count() > 0 && t0.elapsed() < Duration::from_millis(SHUTDOWN_FLUSH_MAX_MS) {
        runtime::sleep(Duration::from_millis(10)).await;
    }
    shard.js_checkpoint();
    Ok(())
}
