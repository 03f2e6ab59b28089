//! Operational differential tests (auth, permissions, limits, monitoring): one scenario runs
//! against the reference nats-server and against natrix, both started from the same config
//! file, and what each saw is compared observation by observation.
//!
//! A scenario records what it saw in a [`Transcript`]: raw protocol bytes (escaped), INFO key
//! sets, HTTP status lines and the *shape* of monitoring JSON (key paths and value types, not
//! values, since ids, times and counters differ between any two servers). A step may also pin
//! what it must see with [`Transcript::want`]; pins are checked on the reference, so a scenario
//! that does not test what it claims fails even before natrix implements it.
//!
//! Self check: with `NATRIX_DIFF_SELF_CHECK=1` the "natrix" side is nats-server too. Every
//! scenario must pass that way (run it twice: it must also be deterministic).
//! `NATRIX_DIFF_SHOW=1` prints the reference's transcript of each scenario.
//!
//! nats-server gets `no_system_account: true` in front of the shared config: its system
//! account adds internal subscriptions and connections that natrix does not have (protocol
//! reference §11).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::wire::Socket;
use super::{nats_server_bin, TestServer};

/// How long a step waits for bytes it expects (an answer, a close).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an HTTP request may take in all.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// INFO keys whose values belong to one server process or implementation (`tests/
/// differential.rs` ignores them too); `nonce`, which is random, is compared by presence.
pub const INFO_KEYS_IGNORED: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "go",
    "git_commit",
    "xkey",
    "api_lvl",
    "natrix_version",
    "client_id",
    "host",
    "port",
];

// ---------------------------------------------------------------------------------------------
// Targets.

/// A server a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Reference,
    Natrix { shards: usize },
}

impl Target {
    pub fn label(self) -> String {
        let natrix = if self_check() {
            "nats-server as natrix"
        } else {
            "natrix"
        };
        match self {
            Target::Reference => "nats-server".to_string(),
            Target::Natrix { shards: 1 } => format!("{natrix} (1 shard)"),
            Target::Natrix { shards } => format!("{natrix} ({shards} shards)"),
        }
    }

    /// Starts this target from `conf` (written to a temp file), with the HTTP monitor on
    /// `http_port` when given.
    pub fn start(self, conf: &ConfFile, http_port: Option<u16>) -> Running {
        let http = http_port.map(|p| p.to_string());
        let mut extra: Vec<&str> = Vec::new();
        if let Some(p) = &http {
            extra.extend_from_slice(&["-m", p]);
        }
        let server = match self {
            Target::Natrix { shards } if !self_check() => {
                extra.extend_from_slice(&["-c", conf.natrix_path()]);
                TestServer::start_with(shards, &extra)
            }
            _ => {
                extra.extend_from_slice(&["-c", conf.reference_path()]);
                TestServer::start_nats_server(&extra)
            }
        };
        Running {
            server,
            http_port,
            target: self,
        }
    }
}

/// `NATRIX_DIFF_SELF_CHECK=1`: the natrix side is played by nats-server.
pub fn self_check() -> bool {
    std::env::var("NATRIX_DIFF_SELF_CHECK").is_ok_and(|v| v == "1")
}

/// The natrix shard counts: `$NATRIX_DIFF_SHARDS` (e.g. `1,4`), else 1 and 3.
fn natrix_shard_counts() -> Vec<usize> {
    match std::env::var("NATRIX_DIFF_SHARDS") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse().expect("NATRIX_DIFF_SHARDS: numbers"))
            .collect(),
        Err(_) => vec![1, 3],
    }
}

/// A started server and its monitor port.
pub struct Running {
    pub server: TestServer,
    pub http_port: Option<u16>,
    pub target: Target,
}

impl Running {
    /// A raw connection that has not read anything yet.
    pub fn conn(&self) -> Conn {
        Conn::open(&self.server.addr())
    }

    /// A raw connection whose INFO has been read and recorded.
    pub fn conn_info(&self, t: &mut Transcript, label: &str) -> Conn {
        let mut c = self.conn();
        let info = c.info();
        t.saw(&format!("{label}: INFO"), info);
        c
    }

    /// A connection that did CONNECT `json` and got PONG for its PING (pinned).
    pub fn connected(&self, t: &mut Transcript, label: &str, json: &str) -> Conn {
        let mut c = self.conn();
        c.info();
        let got = c.ping(format!("CONNECT {json}\r\n").as_bytes());
        t.want(&format!("{label}: CONNECT {json}"), got, "PONG\\r\\n");
        c
    }

    /// GET `path` on the monitor port.
    pub fn get(&self, path: &str) -> HttpReply {
        let port = self.http_port.expect("server started without -m");
        http_get(port, path)
    }
}

// ---------------------------------------------------------------------------------------------
// Config files.

/// The shared config in a temp dir of its own, removed on drop: `natrix.conf` as the test
/// wrote it, `nats-server.conf` with `no_system_account: true` in front.
pub struct ConfFile {
    dir: PathBuf,
    natrix: String,
    reference: String,
}

impl ConfFile {
    pub fn new(name: &str, text: &str) -> ConfFile {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "natrix-ops-{}-{}-{name}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp config dir");
        let natrix = dir.join("natrix.conf");
        let reference = dir.join("nats-server.conf");
        std::fs::write(&natrix, text).expect("write config");
        std::fs::write(&reference, format!("no_system_account: true\n{text}"))
            .expect("write config");
        let path = |p: PathBuf| p.to_str().expect("utf-8 temp path").to_string();
        ConfFile {
            dir,
            natrix: path(natrix),
            reference: path(reference),
        }
    }

    pub fn natrix_path(&self) -> &str {
        &self.natrix
    }

    pub fn reference_path(&self) -> &str {
        &self.reference
    }
}

impl Drop for ConfFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

// ---------------------------------------------------------------------------------------------
// Transcripts and the runner.

/// What one run of a scenario saw, step by step.
#[derive(Default)]
pub struct Transcript {
    entries: Vec<(String, String)>,
    /// Pinned steps whose observation differed from the pin.
    pins_missed: Vec<String>,
}

impl Transcript {
    /// Records an observation.
    pub fn saw(&mut self, step: &str, got: impl Into<String>) {
        self.entries.push((step.to_string(), got.into()));
    }

    /// Records an observation that must equal `want` (checked on the reference).
    pub fn want(&mut self, step: &str, got: impl Into<String>, want: &str) {
        let got = got.into();
        if got != want {
            self.pins_missed
                .push(format!("{step}\n    want: {want}\n    got:  {got}"));
        }
        self.saw(step, got);
    }

    /// Records a condition that must hold (checked on the reference), e.g. a count.
    pub fn check(&mut self, step: &str, ok: bool, detail: impl Into<String>) {
        if !ok {
            self.pins_missed.push(format!("{step}: {}", detail.into()));
        }
    }
}

/// Runs `scenario` against nats-server and natrix (each shard count), side by side, with a
/// fresh server per target started from `conf` (and an HTTP monitor when `monitor`), and fails
/// with every difference.
pub fn differential<F>(name: &str, conf: &str, monitor: bool, scenario: F)
where
    F: Fn(&Running, &mut Transcript) + Sync,
{
    assert!(
        std::path::Path::new(&nats_server_bin()).exists() || which_nats_server(),
        "the reference nats-server is needed: set NATRIX_NATS_SERVER"
    );
    let started = Instant::now();
    let conf = ConfFile::new(name, conf);
    let mut targets = vec![Target::Reference];
    targets.extend(
        natrix_shard_counts()
            .into_iter()
            .map(|shards| Target::Natrix { shards }),
    );
    let (conf, scenario) = (&conf, &scenario);
    let results: Vec<(Target, Result<Transcript, String>)> = thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&target| {
                let h = s.spawn(move || {
                    let running = start_target(target, conf, monitor);
                    let mut t = Transcript::default();
                    scenario(&running, &mut t);
                    t
                });
                (target, h)
            })
            .collect();
        handles
            .into_iter()
            .map(|(t, h)| (t, h.join().map_err(|p| panic_text(&p))))
            .collect()
    });

    let mut failures = Vec::new();
    let reference = match &results[0] {
        (_, Ok(t)) => t,
        (_, Err(e)) => panic!("{name}: the scenario failed on nats-server: {e}"),
    };
    if std::env::var("NATRIX_DIFF_SHOW").is_ok_and(|v| v == "1") {
        for (step, got) in &reference.entries {
            eprintln!("{name} | {step}\n      {got}");
        }
    }
    for (target, result) in &results {
        let label = target.label();
        let t = match result {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{label}: the scenario could not run: {e}"));
                continue;
            }
        };
        let pinned = *target == Target::Reference || self_check();
        if pinned && !t.pins_missed.is_empty() {
            failures.push(format!(
                "{label}: pinned steps missed (the scenario is wrong, or the reference changed):\n  {}",
                t.pins_missed.join("\n  ")
            ));
        }
        if *target == Target::Reference {
            continue;
        }
        for (i, (r, o)) in reference.entries.iter().zip(&t.entries).enumerate() {
            if r != o {
                failures.push(describe(i, r, o, &label));
            }
        }
        if reference.entries.len() != t.entries.len() {
            failures.push(format!(
                "{label}: {} steps, nats-server {}",
                t.entries.len(),
                reference.entries.len()
            ));
        }
    }
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    if !failures.is_empty() {
        panic!(
            "{name}: {} difference(s):\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// Starts `target`; with a monitor, on a fresh free port each try, since a port found free
/// can be taken by another test's server before this one binds it.
fn start_target(target: Target, conf: &ConfFile, monitor: bool) -> Running {
    const TRIES: usize = 3;
    for attempt in 1.. {
        let http = monitor.then(free_port);
        let started =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target.start(conf, http)));
        match started {
            Ok(running) => return running,
            Err(e) if !monitor || attempt == TRIES => std::panic::resume_unwind(e),
            Err(_) => eprintln!("{}: start failed; trying another port", target.label()),
        }
    }
    unreachable!("the loop returns or panics")
}

/// One differing step. Multi-line observations (JSON shapes) show only the lines that differ.
fn describe(i: usize, r: &(String, String), o: &(String, String), label: &str) -> String {
    let step = if r.0 == o.0 {
        r.0.clone()
    } else {
        format!("{} / {label} step: {}", r.0, o.0)
    };
    if !r.1.contains('\n') || !o.1.contains('\n') {
        return format!(
            "step {i}: {step}\n    nats-server: {}\n    {label}: {}",
            r.1, o.1
        );
    }
    let theirs: BTreeSet<&str> = r.1.lines().map(str::trim).collect();
    let ours: BTreeSet<&str> = o.1.lines().map(str::trim).collect();
    let only = |a: &BTreeSet<&str>, b: &BTreeSet<&str>| {
        a.difference(b)
            .copied()
            .collect::<Vec<_>>()
            .join("\n      ")
    };
    format!(
        "step {i}: {step}\n    only nats-server:\n      {}\n    only {label}:\n      {}",
        only(&theirs, &ours),
        only(&ours, &theirs)
    )
}

fn which_nats_server() -> bool {
    std::process::Command::new(nats_server_bin())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The message of a caught panic.
pub fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "panic".to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Raw protocol connections.

/// A raw client connection; what it reads comes back escaped (`\r`, `\n`, `\xHH`), with
/// `<EOF>` when the server closed and `<TIMEOUT>` when an awaited answer never came.
pub struct Conn {
    socket: Socket,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        Conn {
            socket: Socket::open(addr, STEP_TIMEOUT).expect("connect"),
        }
    }

    /// Writes `bytes`; a write error (the server closed) is not a failure here, the next
    /// read shows the close.
    pub fn send(&mut self, bytes: &[u8]) {
        self.socket.send(bytes);
    }

    /// Takes the buffer, escaped, with `<EOF>` once the server has closed.
    fn take(&mut self) -> String {
        let mut s = escape(&std::mem::take(&mut self.socket.buf));
        if self.socket.closed {
            s.push_str("<EOF>");
        }
        s
    }

    /// Reads until the buffered bytes end with `end`, the server closes, or the step timeout
    /// passes (`<TIMEOUT>`).
    pub fn until(&mut self, end: &[u8]) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !self.socket.buf.ends_with(end) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return self.take() + "<TIMEOUT>";
            }
            if !self.socket.fill(left) && self.socket.closed {
                break;
            }
        }
        self.take()
    }

    /// Reads one line (through `\n`), escaped, leaving what follows it buffered; without a
    /// whole line, whatever came, with `<EOF>` or `<TIMEOUT>`.
    pub fn line(&mut self) -> String {
        match self.socket.line_by(Instant::now() + STEP_TIMEOUT) {
            Some(line) => escape(&line),
            None if self.socket.closed => self.take(),
            None => self.take() + "<TIMEOUT>",
        }
    }

    /// Reads until the server closes the connection (`<TIMEOUT>` if it stays open).
    pub fn until_closed(&mut self) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !self.socket.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return self.take() + "<TIMEOUT>";
            }
            self.socket.fill(left);
        }
        self.take()
    }

    /// Sends `ops` and a PING, and reads through the PONG (or the close).
    pub fn ping(&mut self, ops: &[u8]) -> String {
        self.send(ops);
        self.send(b"PING\r\n");
        self.until(b"PONG\r\n")
    }

    /// Reads the first line, which must be an INFO, and returns it normalised (see
    /// [`info_summary`]); anything else comes back escaped.
    pub fn info(&mut self) -> String {
        self.info_nonce().0
    }

    /// [`Conn::info`], and the INFO's nonce (for nkey signing).
    pub fn info_nonce(&mut self) -> (String, Option<String>) {
        let line = self.line();
        let json = line
            .strip_prefix("INFO ")
            .and_then(|l| l.strip_suffix(" \\r\\n"))
            .and_then(|j| serde_json::from_str::<Value>(j).ok());
        match json {
            Some(v) => {
                let nonce = v.get("nonce").and_then(Value::as_str).map(str::to_string);
                (format!("INFO {} \\r\\n", info_summary(&v)), nonce)
            }
            None => (line, None),
        }
    }
}

/// An INFO object with the per-process keys dropped, keys sorted, and `nonce` replaced by
/// `<nonce>` (its value is random; clients only need it to be there).
pub fn info_summary(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return v.to_string();
    };
    let mut keys: Vec<&String> = map
        .keys()
        .filter(|k| !INFO_KEYS_IGNORED.contains(&k.as_str()))
        .collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .map(|k| match k.as_str() {
            "nonce" => "\"nonce\":<nonce>".to_string(),
            _ => format!("{:?}:{}", k, map[k]),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Bytes as text with `\r`, `\n`, `\t`, `\\` and non-printable bytes escaped.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        push_escaped(&mut s, b);
    }
    s
}

/// One byte as [`escape`] writes it.
pub fn push_escaped(out: &mut String, b: u8) {
    match b {
        b'\r' => out.push_str("\\r"),
        b'\n' => out.push_str("\\n"),
        b'\t' => out.push_str("\\t"),
        b'\\' => out.push_str("\\\\"),
        0x20..=0x7e => out.push(b as char),
        _ => out.push_str(&format!("\\x{b:02x}")),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP monitoring.

/// One HTTP response.
pub struct HttpReply {
    pub status: u16,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Status, content type and CORS header on one line: what a monitoring client relies on.
    pub fn head(&self) -> String {
        format!(
            "{} content-type={} access-control-allow-origin={}",
            self.status,
            self.header("content-type").unwrap_or("-"),
            self.header("access-control-allow-origin").unwrap_or("-")
        )
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::Null` with a note in the string form if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(format!("<not JSON: {}>", escape(&self.body))))
    }
}

/// A plain HTTP/1.1 GET with `Connection: close`; the body may be chunked.
pub fn http_get(port: u16, path: &str) -> HttpReply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the monitor port");
    s.set_read_timeout(Some(HTTP_TIMEOUT)).ok();
    s.set_write_timeout(Some(HTTP_TIMEOUT)).ok();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send the HTTP request");
    let deadline = Instant::now() + HTTP_TIMEOUT;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 65536];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => raw.extend_from_slice(&chunk[..k]),
            Err(e) => panic!("GET {path}: {e} after {} bytes", raw.len()),
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: no header end in {:?}", escape(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpReply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return out;
        };
        if size == 0 || data.len() < eol + 2 + size {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
}

/// The shape of a JSON value: one `path: type` line per key path, sorted, with array
/// elements merged under `path[]` and object keys in `path.key`. Paths starting with one
/// of `skip` are left out (keys nats-server has that natrix may omit, or maps keyed by data).
pub fn json_shape(v: &Value, skip: &[&str]) -> String {
    let mut lines = BTreeSet::new();
    shape_into(v, "", skip, &mut lines);
    lines.into_iter().collect::<Vec<_>>().join("\n      ")
}

fn shape_into(v: &Value, path: &str, skip: &[&str], out: &mut BTreeSet<String>) {
    if skip
        .iter()
        .any(|s| path == *s || path.starts_with(&format!("{s}.")))
    {
        return;
    }
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.insert(format!(
        "{}: {kind}",
        if path.is_empty() { "." } else { path }
    ));
    match v {
        Value::Array(items) => {
            for item in items {
                shape_into(item, &format!("{path}[]"), skip, out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                shape_into(item, &p, skip, out);
            }
        }
        _ => {}
    }
}

/// The values at `keys` (dotted paths, `a.b`), as compact JSON, one per line: for the few
/// values that are the same on any two servers in the same state (counts, limits, names).
pub fn json_values(v: &Value, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| {
            let found = k.split('.').try_fold(v, |v, part| v.get(part));
            format!(
                "{k}={}",
                found.map_or("<absent>".to_string(), Value::to_string)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Polls `path` until `ready` holds for its JSON or the step timeout passes (the monitor
/// sees closes and new subscriptions a moment after the client does).
pub fn get_until(r: &Running, path: &str, ready: impl Fn(&Value) -> bool) -> HttpReply {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let reply = r.get(path);
        if ready(&reply.json()) || Instant::now() > deadline {
            return reply;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// An escaped read cut into protocol frames (a line, or a MSG line with its one-line payload)
/// and sorted: for deliveries to several sids of one connection, whose order the server
/// leaves open.
pub fn sorted_frames(escaped: &str) -> String {
    let (body, eof) = match escaped.strip_suffix("<EOF>") {
        Some(b) => (b, "<EOF>"),
        None => (escaped, ""),
    };
    let mut frames: Vec<String> = Vec::new();
    let mut pieces = body.split_inclusive("\\r\\n");
    while let Some(piece) = pieces.next() {
        if piece.starts_with("MSG ") {
            frames.push(format!("{piece}{}", pieces.next().unwrap_or_default()));
        } else {
            frames.push(piece.to_string());
        }
    }
    frames.sort();
    frames.concat() + eof
}
