//! Starts the broker: binds the listener, starts one shard per executor, joins them in a
//! mesh, and stops them gracefully on SIGTERM or SIGINT.
//!
//! Invariants: bind errors are reported before any shard starts; "Server is ready" is logged
//! only once every shard has joined the mesh; on a signal the listener closes first, then
//! every client gets what was queued for it, then the process exits 0.

use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Options;
use crate::proto::info::{new_server_id, NATRIX_VERSION, NATS_FEATURE_VERSION};
use crate::runtime::{self, Mesh};
use crate::shard::client::CloseReason;
use crate::shard::io as shard_io;
use crate::shard::mesh::ShardMsg;
use crate::shard::{ServerIdentity, Shard};

/// How often a shard looks at the stop flag the signal handler sets.
const STOP_POLL_MS: u64 = 50;
/// How long a stopping shard waits for its clients' last bytes to go out.
const SHUTDOWN_FLUSH_MAX_MS: u64 = 2_000;

/// Runs the server until a stop signal; returns when every shard has stopped.
pub fn run(opts: Options) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    run_until(opts, stop)
}

/// Runs the server until `stop` becomes true.
pub fn run_until(opts: Options, stop: Arc<AtomicBool>) -> io::Result<()> {
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
    let listener = Arc::new(Mutex::new(Some(listener)));
    // glommio's MeshBuilder shares an `Rc` between its clones, so every clone is made here,
    // on one thread, and each shard takes its own out of the vector without cloning.
    let meshes: Vec<Option<Mesh<ShardMsg>>> = if opts.shards > 1 {
        let mesh = runtime::mesh(opts.shards, opts.limits.shard_channel_batches_max);
        (0..opts.shards).map(|_| Some(mesh.clone())).collect()
    } else {
        vec![None]
    };
    let meshes = Arc::new(Mutex::new(meshes));
    let opts = Arc::new(opts);
    let shards = opts.shards;
    let spin = opts.spin_before_park();
    runtime::run_executors(shards, spin, move |i| {
        let mesh = meshes
            .lock()
            .ok()
            .and_then(|mut m| m.get_mut(i).and_then(Option::take));
        let (opts, identity, listener, stop) = (
            opts.clone(),
            identity.clone(),
            listener.clone(),
            stop.clone(),
        );
        async move {
            if let Err(e) = run_shard(opts, identity, listener, mesh, stop).await {
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

async fn run_shard(
    opts: Arc<Options>,
    identity: Arc<IdentityParts>,
    listener: Arc<Mutex<Option<TcpListener>>>,
    mesh: Option<Mesh<ShardMsg>>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let (id, links) = match mesh {
        Some(mesh) => {
            let (senders, receivers) = mesh
                .join()
                .await
                .map_err(|_| io::Error::other("joining the shard mesh failed"))?;
            (senders.peer_id(), Some((Rc::new(senders), receivers)))
        }
        None => (0, None),
    };
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
    ));
    let mut receivers = None;
    let mut senders = None;
    if let Some((s, mut r)) = links {
        shard_io::spawn_receivers(&shard, &mut r);
        for to in (0..opts.shards).filter(|&to| to != id) {
            runtime::spawn(shard_io::run_sender(shard.clone(), to, s.clone()));
        }
        receivers = Some(r);
        senders = Some(s);
    }
    if id == 0 {
        let std_listener = listener
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .take();
        if let Some(l) = std_listener {
            let l = runtime::listener_from_std(l)?;
            runtime::spawn(shard_io::run_acceptor(shard.clone(), l, senders.clone()));
            log::info!("Server is ready");
        }
    }
    while !stop.load(Ordering::Relaxed) {
        runtime::sleep(Duration::from_millis(STOP_POLL_MS)).await;
    }
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
    drop(receivers);
    Ok(())
}
