//! Server processes for lifecycle, auth and TLS tests: start natrix (or, with
//! `NATRIX_TEST_AGAINST_REFERENCE=1`, the reference nats-server with the same flags), send it
//! signals, wait for its exit, read its log from stderr or from a `-l` file, and write config
//! files into a private temporary directory.
//!
//! Unlike `TestServer`, the child stays reachable after a signal, so a test can check the exit
//! status and the log of a server that shut itself down. Every process is killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{nats_server_bin, RawClient};

/// How long a server may take to report that it is ready.
pub const START_MAX: Duration = Duration::from_secs(10);
/// How long a server may take to exit after it was told to.
pub const EXIT_MAX: Duration = Duration::from_secs(10);

/// True when the tests run against the reference nats-server instead of natrix.
pub fn against_reference() -> bool {
    std::env::var("NATRIX_TEST_AGAINST_REFERENCE").is_ok_and(|v| v == "1")
}

/// The binary under test: natrix, or nats-server in reference mode.
pub fn server_bin() -> String {
    if against_reference() {
        nats_server_bin()
    } else {
        env!("CARGO_BIN_EXE_natrix").to_string()
    }
}

/// The path of a file in `tests/certs/`.
pub fn cert(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(name)
}

/// The path of a file in `tests/certs/`, as a string for command-line flags and configs.
pub fn cert_str(name: &str) -> String {
    cert(name).to_string_lossy().into_owned()
}

/// A running server (natrix or the reference).
pub struct Server {
    child: Child,
    pub port: u16,
    /// Lines the server wrote to stderr (in the background).
    stderr: Arc<Mutex<Vec<String>>>,
    /// The `-l` file, when the server logs to one.
    log_file: Option<PathBuf>,
    status: Option<ExitStatus>,
}

impl Server {
    /// natrix with `shards` shards on 127.0.0.1 and an ephemeral port, plus `flags`; in
    /// reference mode nats-server with `flags` (it has no shards).
    pub fn start(shards: usize, flags: &[&str]) -> Server {
        let shards = shards.to_string();
        let mut args: Vec<&str> = if against_reference() {
            vec!["-a", "127.0.0.1", "-p", "-1"]
        } else {
            vec!["-a", "127.0.0.1", "-p", "0", "--shards", &shards]
        };
        args.extend_from_slice(flags);
        Self::spawn(&server_bin(), &args)
    }

    /// Like `start`, with JetStream on: `-js -sd <store_dir>` before `flags` (the same flags
    /// for natrix and nats-server).
    pub fn start_jetstream(shards: usize, store_dir: &Path, flags: &[&str]) -> Server {
        let dir = store_dir.to_string_lossy().into_owned();
        let mut all = vec!["-js", "-sd", dir.as_str()];
        all.extend_from_slice(flags);
        Self::start(shards, &all)
    }

    /// JetStream in `store_dir` on natrix (1 shard) or, with `reference`, on nats-server,
    /// whatever `NATRIX_TEST_AGAINST_REFERENCE` says: for tests that play one scenario on both.
    pub fn start_jetstream_on(reference: bool, store_dir: &Path) -> Server {
        let dir = store_dir.to_string_lossy().into_owned();
        if reference {
            let args = ["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", &dir];
            Self::spawn(&nats_server_bin(), &args)
        } else {
            let args = [
                "-a",
                "127.0.0.1",
                "-p",
                "0",
                "--shards",
                "1",
                "-js",
                "-sd",
                &dir,
            ];
            Self::spawn(env!("CARGO_BIN_EXE_natrix"), &args)
        }
    }

    fn spawn(bin: &str, args: &[&str]) -> Server {
        let log_file = args
            .iter()
            .position(|a| *a == "-l" || *a == "--log")
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from);
        let mut child = super::spawn_logging(bin, args);
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            port: 0,
            stderr,
            log_file,
            status: None,
        };
        let deadline = Instant::now() + START_MAX;
        loop {
            let log = server.log();
            if log.contains("Server is ready") {
                let port = log
                    .split("Listening for client connections on ")
                    .nth(1)
                    .and_then(|rest| rest.lines().next())
                    .and_then(|addr| addr.trim().rsplit(':').next())
                    .and_then(|p| p.parse().ok());
                match port {
                    Some(port) => server.port = port,
                    None => panic!("{bin} is ready but named no client port:\n{log}"),
                }
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "{bin} {} exited at start ({status}):\n{log}",
                    args.join(" ")
                );
            }
            assert!(
                Instant::now() < deadline,
                "{bin} {} did not become ready:\n{log}",
                args.join(" ")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A raw client that has read the INFO line.
    pub fn raw(&self) -> RawClient {
        let mut c = RawClient::connect(&self.addr());
        c.read_info();
        c
    }

    /// Everything logged so far: the `-l` file if there is one, else stderr.
    pub fn log(&self) -> String {
        match &self.log_file {
            Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
            None => self.stderr.lock().unwrap().join("\n"),
        }
    }

    /// Waits until the log contains `needle`; false after `within`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log().contains(needle)
    }

    /// Sends `sig` to the server.
    /// Sends SIGHUP and waits for the reload's outcome: the log lines it added (past the
    /// `[pid] date time ` prefix, the config hash cut), up to "Reloaded server configuration"
    /// or the "Failed to reload" error.
    pub fn reload_and_read(&self) -> Vec<String> {
        let before = self.log().lines().count();
        self.signal(libc::SIGHUP);
        eventually(RELOAD_MAX, || {
            let log = self.log();
            let added: Vec<String> = log.lines().skip(before).map(String::from).collect();
            let done = added.iter().any(|l| {
                l.contains("Reloaded server configuration")
                    || l.contains("Failed to reload server configuration")
            });
            done.then(|| {
                added
                    .iter()
                    .map(|l| l.find(" [").map_or(l.as_str(), |i| &l[i + 1..]).to_string())
                    .map(|l| l.split(" (sha256:").next().unwrap_or_default().to_string())
                    .collect()
            })
        })
        .unwrap_or_else(|| panic!("no reload outcome in the log:\n{}", self.log()))
    }

    pub fn signal(&self, sig: i32) {
        send_signal(self.pid(), sig);
    }

    /// The exit status if the server has exited within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if self.status.is_none() {
                self.status = self.child.try_wait().ok().flatten();
            }
            if self.status.is_some() || Instant::now() >= deadline {
                return self.status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// Sends `sig` and returns the exit status; fails the test if there is none in time.
    pub fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        self.signal(sig);
        let status = self.wait_exit(EXIT_MAX);
        status.unwrap_or_else(|| panic!("server did not exit after signal {sig}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn send_signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started; no memory is involved.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

/// Runs the binary under test with `args` (e.g. `--signal reload=FILE`) and returns its
/// status and combined output; fails the test if it runs longer than `EXIT_MAX`.
pub fn run_tool(args: &[&str]) -> (ExitStatus, String) {
    let bin = server_bin();
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let deadline = Instant::now() + EXIT_MAX;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {} did not finish", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// A directory of its own under the system temp dir, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("natrix-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// Writes `text` to `name` in the directory and returns its path as a string.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path.to_string_lossy().into_owned()
    }

    /// The path of `name` in the directory, as a string.
    pub fn file(&self, name: &str) -> String {
        self.path.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs `f` until it returns `Some`, every 20 ms, for at most `within`.
/// How long a reload may take to show its outcome in the log.
pub const RELOAD_MAX: Duration = Duration::from_secs(10);

pub fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
