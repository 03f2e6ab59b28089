//! The monitoring listeners (`-m`/`http_port`, and `--https_port`/`https_port` over TLS):
//! threads of their own, off the shards.
//!
//! Each request is parsed by `monitor::http`, and what it needs (`monitor::needs`) is asked
//! of every shard as a control-plane job; the shards answer from their own state between
//! two tasks of the message path, so gathering takes no lock on that path. The parts are
//! summed into one `monitor::Snapshot` and rendered by `monitor::handle`.
//!
//! Invariants: a request waits at most [`GATHER_TIMEOUT_MS`] for the shards; at most
//! [`MONITOR_CONNECTIONS_MAX`] HTTP connections are served at once, each on its own thread
//! with read and write timeouts, so a stuck HTTP client holds nothing of the broker.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::control::Control;
use crate::monitor::snapshot::{ServerSnapshot, Snapshot};
use crate::monitor::{self, http, Needs};
use crate::proto::info::NATRIX_VERSION;
use crate::shard::stats::ShardPart;

/// Longest a request waits for every shard's part.
const GATHER_TIMEOUT_MS: u64 = 2_000;
/// HTTP connections served at once; more wait in the listen backlog.
const MONITOR_CONNECTIONS_MAX: usize = 64;
/// Idle time after which an HTTP connection is closed.
const HTTP_IDLE_TIMEOUT_MS: u64 = 30_000;
/// Bytes read from an HTTP connection per read.
const HTTP_READ_BYTES: usize = 8 * 1024;

/// What the monitor knows of the server beyond the control plane.
pub struct MonitorContext {
    pub control: Arc<Control>,
    pub server_id: String,
    pub client_port: u16,
    /// When the server's certificate expires, read once at start.
    pub tls_cert_not_after: Option<SystemTime>,
    /// Requests served per path, for /varz's `http_req_stats`.
    pub requests: Mutex<BTreeMap<String, u64>>,
    active: AtomicUsize,
}

/// Binds the monitoring port (so a bind error stops the start) and serves it on a thread;
/// with `tls`, it is the HTTPS port. The bound port is logged (tests and operators read it
/// there when `-m -1` picked it).
pub fn start(
    host: &str,
    port: u16,
    tls: Option<Arc<rustls::ServerConfig>>,
    ctx: Arc<MonitorContext>,
) -> io::Result<()> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = TcpListener::bind((host, port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("Error listening on {scheme} monitor port: {host}:{port}, {e}"),
        )
    })?;
    let bound = listener.local_addr()?.port();
    log::info!("Starting {scheme} monitor on {host}:{bound}");
    std::thread::Builder::new()
        .name(format!("natrix-{scheme}"))
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                while ctx.active.load(Ordering::Acquire) >= MONITOR_CONNECTIONS_MAX {
                    std::thread::sleep(Duration::from_millis(5));
                }
                ctx.active.fetch_add(1, Ordering::AcqRel);
                let ctx2 = ctx.clone();
                let tls = tls.clone();
                let spawned = std::thread::Builder::new()
                    .name("natrix-http-conn".into())
                    .spawn(move || {
                        let _ = serve_conn(&ctx2, conn, tls);
                        ctx2.active.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    ctx.active.fetch_sub(1, Ordering::AcqRel);
                }
            }
        })?;
    Ok(())
}

impl MonitorContext {
    pub fn new(control: Arc<Control>, server_id: String, client_port: u16) -> MonitorContext {
        let tls_cert_not_after = control
            .live()
            .opts
            .tls
            .as_ref()
            .and_then(crate::tls::cert_not_after);
        MonitorContext {
            tls_cert_not_after,
            control,
            server_id,
            client_port,
            requests: Mutex::new(BTreeMap::new()),
            active: AtomicUsize::new(0),
        }
    }
}

/// One HTTP connection, in the clear or over TLS (rustls's blocking stream adapter).
fn serve_conn(
    ctx: &MonitorContext,
    conn: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<()> {
    let idle = Some(Duration::from_millis(HTTP_IDLE_TIMEOUT_MS));
    conn.set_read_timeout(idle)?;
    conn.set_write_timeout(idle)?;
    match tls {
        None => serve(ctx, conn),
        Some(config) => {
            let session = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
            serve(ctx, rustls::StreamOwned::new(session, conn))
        }
    }
}

/// Serves one HTTP connection until it closes or idles out.
fn serve(ctx: &MonitorContext, mut conn: impl Read + Write) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; HTTP_READ_BYTES];
    loop {
        match http::parse_request(&buf) {
            Ok(Some((req, used))) => {
                buf.drain(..used);
                let resp = answer(ctx, &req.path, &req.query);
                conn.write_all(&http::encode_response(
                    &resp,
                    SystemTime::now(),
                    req.keep_alive,
                ))?;
                conn.flush()?;
                if !req.keep_alive {
                    return Ok(());
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                conn.write_all(&e.response())?;
                conn.flush()?;
                return Ok(());
            }
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn answer(ctx: &MonitorContext, path: &str, query: &str) -> monitor::Response {
    if let Ok(mut r) = ctx.requests.lock() {
        *r.entry(path.to_string()).or_default() += 1;
    }
    let needs = monitor::needs(path, query);
    let snap = gather(ctx, needs);
    monitor::handle(path, query, &snap)
}

/// Asks every shard for its part and sums them.
fn gather(ctx: &MonitorContext, needs: Needs) -> Snapshot {
    let control = &ctx.control;
    let (tx, rx) = mpsc::channel::<ShardPart>();
    for shard in 0..control.shards() {
        let tx = tx.clone();
        control.post(
            shard,
            Box::new(move |s| {
                let _ = tx.send(s.monitor_part(needs));
            }),
        );
    }
    drop(tx);
    let live = control.live();
    let now = SystemTime::now();
    let mut server = ServerSnapshot::from_options(
        &live.opts,
        &ctx.server_id,
        NATRIX_VERSION,
        control.started,
        now,
    );
    server.port = ctx.client_port;
    server.auth_required = live.auth.required();
    server.accounts = live
        .auth
        .accounts
        .live()
        .map(|a| a.name.to_string())
        .collect();
    server.account_io = account_io(&live.opts.auth.accounts, &live.auth.accounts);
    server.system_account = live
        .auth
        .accounts
        .system()
        .map(|id| live.auth.accounts.name(id).to_string())
        .unwrap_or_default();
    server.cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    server.mem_bytes = resident_bytes();
    server.cpu_percent = cpu_percent(control.started);
    server.tls_cert_not_after = ctx.tls_cert_not_after;
    if let Ok(t) = control.config_loaded.lock() {
        server.config_load_time = *t;
    }
    if let Ok(r) = ctx.requests.lock() {
        server.http_req_stats = r.clone();
    }
    let mut snap = Snapshot {
        server,
        connections: Vec::new(),
        closed: Vec::new(),
        sublist: Default::default(),
        jetstream: None,
        streaming: None,
    };
    let deadline = std::time::Instant::now() + Duration::from_millis(GATHER_TIMEOUT_MS);
    for _ in 0..control.shards() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(part) = rx.recv_timeout(left) else {
            break;
        };
        let c = &mut snap.server.counters;
        c.in_msgs += part.counters.in_msgs;
        c.out_msgs += part.counters.out_msgs;
        c.in_bytes += part.counters.in_bytes;
        c.out_bytes += part.counters.out_bytes;
        c.slow_consumers += part.counters.slow_consumers;
        c.stale_connections += part.counters.stale_connections;
        snap.sublist.add(&part.sublist);
        snap.connections.extend(part.connections);
        snap.closed.extend(part.closed);
        snap.jetstream = match (snap.jetstream.take(), part.jetstream) {
            (Some(mut js), Some(other)) => {
                js.merge(other);
                Some(js)
            }
            (js, other) => js.or(other),
        };
        snap.streaming = snap.streaming.or(part.streaming);
    }
    if let Some(js) = &mut snap.jetstream {
        machine_js_limits(&mut js.config);
    }
    if let Some(st) = &mut snap.streaming {
        (st.open_fds, st.max_fds) = descriptors();
    }
    let c = &mut snap.server.counters;
    c.connections = control.connections.load(Ordering::Acquire);
    c.total_connections = control.total_connections.load(Ordering::Acquire);
    snap
}

/// CPU time over wall time since start, in percent of one core, as `ps` (and so
/// nats-server's /varz `cpu`) reports it.
fn cpu_percent(started: SystemTime) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let elapsed = started.elapsed().ok()?.as_secs_f64();
    if ticks <= 0 || elapsed <= 0.0 {
        return None;
    }
    let percent = (utime + stime) / ticks as f64 / elapsed * 100.0;
    Some((percent * 100.0).round() / 100.0)
}

/// JetStream's memory and storage limits where none is configured, as nats-server
/// estimates them: 3/4 of the machine's memory, and 3/4 of the space available under the
/// store directory (or 1 TiB when it cannot tell).
fn machine_js_limits(c: &mut crate::monitor::jsz::JsConfigSnapshot) {
    /// nats-server's `JetStreamMaxMemDefault` and `JetStreamMaxStoreDefault`.
    const MEMORY_BYTES_DEFAULT: i64 = 256 * 1024 * 1024;
    const STORAGE_BYTES_DEFAULT: i64 = 1024 * 1024 * 1024 * 1024;
    if c.max_memory < 0 {
        c.max_memory = machine_memory_bytes().map_or(MEMORY_BYTES_DEFAULT, |m| m / 4 * 3);
    }
    if c.max_storage < 0 {
        c.max_storage =
            disk_available_bytes(&c.store_dir).map_or(STORAGE_BYTES_DEFAULT, |b| b / 4 * 3);
    }
}

/// `MemTotal` from /proc/meminfo.
fn machine_memory_bytes() -> Option<i64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes available to unprivileged users on the file system holding `dir` (or its
/// nearest existing parent).
fn disk_available_bytes(dir: &str) -> Option<i64> {
    let mut path = std::path::Path::new(dir);
    while !path.exists() {
        path = path.parent()?;
    }
    let c = std::ffi::CString::new(path.to_str()?).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    i64::try_from((st.f_bavail as u64).checked_mul(st.f_frsize as u64)?).ok()
}

/// Open file descriptors of this process and their soft limit (0, 0 when unknown).
fn descriptors() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let max = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (open, max)
}

/// Resident set size from /proc (Linux), as /varz's `mem`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(0) as u64)
}

/// Starts the system account's service thread: it answers `$SYS.REQ.` requests from the
/// monitoring snapshot (see [`crate::system`]) and posts each answer to the shard that took
/// the request, which publishes it.
pub fn start_system_service(ctx: Arc<MonitorContext>, server_name: String, host: String) {
    let (tx, rx) = mpsc::channel::<crate::system::Request>();
    ctx.control.set_system_service(tx);
    let spawned = std::thread::Builder::new()
        .name("natrix-system".into())
        .spawn(move || {
            // `$SYS.SERVER.<id>.STATSZ` every period, starting at 250 ms and doubling up to
            // 10 s, as nats-server's heartbeatStatsz does.
            let mut period = STATSZ_PERIOD_FIRST;
            let mut next = std::time::Instant::now() + period;
            loop {
                let wait = next.saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(req) => {
                        let answer = system_answer(&ctx, &server_name, &host, &req);
                        let Some(payload) = answer else { continue };
                        let (account, reply) = (req.reply_account, req.reply);
                        ctx.control.post(
                            req.shard,
                            Box::new(move |s| s.publish_internal(account, &reply, &payload)),
                        );
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        send_statsz(&ctx, &server_name, &host);
                        period = (period * 2).min(STATSZ_PERIOD_MAX);
                        next = std::time::Instant::now() + period;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        });
    if let Err(e) = spawned {
        log::error!("Error starting the system account service: {e}");
    }
}

/// The first period of the STATSZ event, doubled after each event up to the last.
const STATSZ_PERIOD_FIRST: std::time::Duration = std::time::Duration::from_millis(250);
const STATSZ_PERIOD_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// Publishes the server's statsz on `$SYS.SERVER.<id>.STATSZ` in the system account, if it
/// has one (the same document as the `$SYS.REQ.SERVER.PING.STATSZ` answer).
fn send_statsz(ctx: &MonitorContext, server_name: &str, host: &str) {
    let Some(sys) = ctx.control.live().auth.accounts.system() else {
        return;
    };
    let r = answer(ctx, "/varz", "");
    if r.status != 200 {
        return;
    }
    let Ok(varz) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
        return;
    };
    let payload = crate::system::envelope(
        &server_block(ctx, server_name, host),
        "statsz",
        &crate::system::statsz_from_varz(&varz),
    );
    let subject = format!("$SYS.SERVER.{}.STATSZ", ctx.server_id);
    ctx.control.post(
        0,
        Box::new(move |s| s.publish_internal(sys, subject.as_bytes(), &payload)),
    );
}

/// The answer to one `$SYS` request; None where nats-server stays silent.
fn system_answer(
    ctx: &MonitorContext,
    server_name: &str,
    host: &str,
    req: &crate::system::Request,
) -> Option<Vec<u8>> {
    use crate::system::{
        envelope, error_envelope, monitor_query, statsz_from_varz, AccountEndpoint, ServerEndpoint,
        Target,
    };
    let block = || server_block(ctx, server_name, host);
    let accounts = ctx.control.live().auth.accounts.clone();
    match &req.target {
        Target::Server(ServerEndpoint::Idz) => {
            let idz = serde_json::json!({"name": server_name, "host": host, "id": ctx.server_id});
            return Some(idz.to_string().into_bytes());
        }
        Target::Server(ServerEndpoint::Healthz) => {
            return Some(envelope(
                &block(),
                "data",
                br#"{"status":"ok","status_code":200}"#,
            ));
        }
        Target::UserInfo => {
            let data = serde_json::json!({
                "user": req.user,
                "account": req.account_name,
                "account_name": req.account_name,
            });
            return Some(envelope(&block(), "data", data.to_string().as_bytes()));
        }
        Target::Account(acc, ep) if !acc.is_empty() && accounts.id_of(acc).is_none() => {
            if *ep == AccountEndpoint::Statz {
                return None;
            }
            let mut out = envelope(&block(), "data", b"null");
            out.pop();
            let err = serde_json::json!({"code": 500, "description": format!("Account {acc} does not exist")});
            out.extend_from_slice(format!(",\"error\":{err}}}").as_bytes());
            return Some(out);
        }
        Target::Account(_, AccountEndpoint::Jsz) if ctx.control.live().opts.jetstream.is_none() => {
            let mut out = envelope(&block(), "data", b"null");
            out.pop();
            out.extend_from_slice(
                br#","error":{"code":500,"description":"jetstream not enabled"}}"#,
            );
            return Some(out);
        }
        Target::Account(acc, AccountEndpoint::Statz) => {
            return account_statz(ctx, acc, &req.body);
        }
        _ => {}
    }
    let (path, query) = match monitor_query(&req.target, &req.body) {
        Ok(pq) => pq,
        Err(e) => return Some(error_envelope(&block(), 400, &e)),
    };
    let r = answer(ctx, path, &query);
    if r.status != 200 {
        let text = String::from_utf8_lossy(&r.body).trim().to_string();
        return Some(error_envelope(&block(), r.status, &text));
    }
    match &req.target {
        Target::Server(ServerEndpoint::Statsz) => {
            let varz: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
            Some(envelope(&block(), "statsz", &statsz_from_varz(&varz)))
        }
        Target::Account(_, AccountEndpoint::Info) => {
            let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
            let detail = v.get("account_detail").cloned().unwrap_or_default();
            Some(envelope(&block(), "data", detail.to_string().as_bytes()))
        }
        Target::Account(acc, AccountEndpoint::Jsz) => Some(account_jsz(&block(), acc, &r.body)),
        _ => Some(envelope(&block(), "data", &r.body)),
    }
}

/// `$SYS.REQ.ACCOUNT.<acc>.JSZ` with JetStream on: the account's entry of `/jsz`'s
/// `account_details` (nats-server's `JszAccount`), or its error when JetStream does not
/// serve the account.
fn account_jsz(block: &crate::system::ServerBlock<'_>, acc: &str, jsz: &[u8]) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(jsz).unwrap_or_default();
    let found = v["account_details"]
        .as_array()
        .and_then(|list| list.iter().find(|d| d["id"] == acc));
    match found {
        Some(d) => crate::system::envelope(block, "data", d.to_string().as_bytes()),
        None => {
            let text = format!("account {} not jetstream enabled", crate::gofmt::quote(acc));
            crate::system::error_envelope(block, 500, &text)
        }
    }
}

/// `$SYS.REQ.ACCOUNT.<acc>.STATZ` (and `PING.STATZ` for every account with connections):
/// nothing for an account without connections unless `include_unused` is set.
fn account_statz(ctx: &MonitorContext, acc: &str, body: &[u8]) -> Option<Vec<u8>> {
    let opts: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let include_unused = opts.get("include_unused") == Some(&serde_json::Value::Bool(true));
    let snap = gather(
        ctx,
        Needs {
            open_connections: true,
            subscription_lists: true,
            ..Needs::default()
        },
    );
    let only: Vec<&str> = if acc.is_empty() {
        Vec::new()
    } else {
        vec![acc]
    };
    let data = crate::monitor::varz::accstatz(&snap, include_unused, &only);
    if data["account_statz"].as_array().is_none_or(Vec::is_empty) {
        return None;
    }
    let block = server_block(ctx, &snap.server.server_name, &snap.server.host);
    Some(crate::system::envelope(
        &block,
        "data",
        data.to_string().as_bytes(),
    ))
}

/// The `server` block of a system answer.
fn server_block<'a>(
    ctx: &'a MonitorContext,
    name: &'a str,
    host: &'a str,
) -> crate::system::ServerBlock<'a> {
    crate::system::ServerBlock {
        name,
        host,
        id: &ctx.server_id,
        ver: crate::proto::info::NATS_FEATURE_VERSION,
        jetstream: ctx.control.live().opts.jetstream.is_some(),
        flags: 0,
        seq: crate::system::next_seq(),
        time: crate::gofmt::rfc3339(SystemTime::now()),
    }
}

/// Each account's exports and imports in `/accountz?acc=`'s terms, from the config.
fn account_io(
    cfg: &crate::account::config::AccountsConfig,
    accounts: &crate::account::Accounts,
) -> BTreeMap<String, (Vec<serde_json::Value>, Vec<serde_json::Value>)> {
    use crate::account::config::{ExportKind, ImportKind, ResponseType};
    let mut out: BTreeMap<String, (Vec<serde_json::Value>, Vec<serde_json::Value>)> =
        BTreeMap::new();
    for a in &cfg.accounts {
        let exports = a
            .exports
            .iter()
            .map(|e| {
                let mut v = match e.kind {
                    ExportKind::Stream => {
                        serde_json::json!({"subject": e.subject, "type": "stream"})
                    }
                    ExportKind::Service { response, .. } => serde_json::json!({
                        "subject": e.subject,
                        "type": "service",
                        "response_type": match response {
                            ResponseType::Singleton => "Singleton",
                            ResponseType::Stream => "Streamed",
                            ResponseType::Chunked => "Chunked",
                        },
                    }),
                };
                if !e.accounts.is_empty() {
                    v["approved_accounts"] = serde_json::json!(e.accounts);
                }
                v
            })
            .collect();
        let imports = a
            .imports
            .iter()
            .map(|i| {
                let local = i.to.clone().unwrap_or_else(|| i.subject.clone());
                serde_json::json!({
                    "subject": i.subject,
                    "account": i.account,
                    "local_subject": local,
                    "type": if matches!(i.kind, ImportKind::Stream) { "stream" } else { "service" },
                    "invalid": false,
                    "share": matches!(i.kind, ImportKind::Service { share: true }),
                    "tracking": false,
                })
            })
            .collect();
        out.insert(a.name.clone(), (exports, imports));
    }
    // The requests every account may make of the system account (crate::system), listed as
    // nats-server lists its implicit imports.
    if let Some(sys) = accounts.system() {
        let sys_name = accounts.name(sys);
        for a in accounts.live().filter(|a| a.id != sys) {
            let n = &a.name;
            let implicit = [
                (
                    "$SYS.REQ.SERVER.PING.CONNZ",
                    format!("$SYS.REQ.ACCOUNT.{n}.CONNZ"),
                    false,
                ),
                (
                    "$SYS.REQ.ACCOUNT.PING.CONNZ",
                    format!("$SYS.REQ.ACCOUNT.{n}.CONNZ"),
                    false,
                ),
                (
                    "$SYS.REQ.ACCOUNT.PING.STATZ",
                    format!("$SYS.REQ.ACCOUNT.{n}.STATZ"),
                    false,
                ),
                (
                    "$SYS.REQ.USER.INFO",
                    format!("$SYS.REQ.USER.{n}.INFO"),
                    true,
                ),
            ];
            let entry = out.entry(n.to_string()).or_default();
            for (local, subject, share) in implicit {
                entry.1.push(serde_json::json!({
                    "subject": subject,
                    "account": &*sys_name,
                    "local_subject": local,
                    "type": "service",
                    "invalid": false,
                    "share": share,
                    "tracking": false,
                }));
            }
        }
    }
    out
}
