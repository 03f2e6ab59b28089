//! The process life of the server as nats-server defines it: SIGTERM/SIGINT shut down with
//! exit 0, `-P` writes the pid file, `--signal CMD=PIDFILE` sends the matching signal,
//! SIGUSR2 enters lame duck mode (INFO "ldm", listener closed, clients closed after the grace
//! period, clients fail over to another server), SIGHUP reloads the config file while
//! connections stay up, `-l` writes nats-server's log format (and `-T=false`/`logtime: false`
//! drop the time), and secrets never reach the log even with `-DV`.
//!
//! `NATRIX_TEST_AGAINST_REFERENCE=1` runs every test against nats-server instead.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::{ConnectOptions, Event};
use bytes::Bytes;
use common::procs::{eventually, run_tool, Server, TempDir, EXIT_MAX};
use common::scenario::barrier;
use common::{RawClient, CONNECT_QUIET};
use futures::StreamExt;

const SHARDS: usize = 2;
/// How long a client waits for one message, event or close.
const WAIT: Duration = Duration::from_secs(5);
/// The shortest lame duck settings nats-server accepts (duration >= 30 s); with a 1 s grace
/// period a few clients are gone within about two seconds.
const LDM_CONF: &str = "lame_duck_duration: 30s\nlame_duck_grace_period: 1s\n";

/// A raw client that has sent CONNECT with `protocol` and done a PING/PONG.
fn client_with_protocol(server: &Server, protocol: u8) -> RawClient {
    let mut c = server.raw();
    c.handshake(&format!(
        r#"{{"verbose":false,"pedantic":false,"protocol":{protocol}}}"#
    ));
    c
}

fn quiet(server: &Server) -> RawClient {
    let mut c = server.raw();
    c.handshake(CONNECT_QUIET);
    c
}

/// Sends PING and waits for the PONG, answering the server's own PINGs on the way.
fn ping_pong(c: &mut RawClient) {
    c.send(b"PING\r\n");
    loop {
        match c.read_line().as_str() {
            "PONG\r\n" => return,
            "PING\r\n" => c.send(b"PONG\r\n"),
            other => panic!("expected PONG, got {other:?}"),
        }
    }
}

/// Reads until the server closes `stream`; returns the bytes that came first, or None when
/// it stays open past `within`.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .ok();
        match stream.read(&mut chunk) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(got),
        }
    }
    None
}

/// Without the server's own keepalive PINGs (which may come at any time).
fn without_pings(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("PING\r\n", "")
}

fn shuts_down_with_exit_0_and_closes_clients(sig: i32) {
    let mut server = Server::start(SHARDS, &[]);
    let mut clients = [quiet(&server), quiet(&server)];
    let status = server.signal_and_wait(sig);
    assert_eq!(status.code(), Some(0), "exit status after signal {sig}");
    for c in &mut clients {
        let before_close = read_until_closed(&mut c.stream, WAIT).expect("client closed");
        // A shutdown closes clients without an -ERR.
        assert_eq!(without_pings(&before_close), "", "bytes before the close");
    }
}

#[test]
fn sigterm_exits_0_and_closes_clients() {
    shuts_down_with_exit_0_and_closes_clients(libc::SIGTERM);
}

#[test]
fn sigint_exits_0_and_closes_clients() {
    shuts_down_with_exit_0_and_closes_clients(libc::SIGINT);
}

#[test]
fn pid_file_holds_the_pid_and_signal_quit_through_it_stops_the_server() {
    let dir = TempDir::new("pidfile");
    let pid_file = dir.file("server.pid");
    let mut server = Server::start(SHARDS, &["-P", &pid_file]);
    // The pid alone, no newline: `--signal CMD=FILE` of nats-server parses it as is.
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file"),
        server.pid().to_string()
    );
    let (status, out) = run_tool(&["--signal", &format!("quit={pid_file}")]);
    assert!(status.success(), "--signal quit: {status} {out}");
    let exit = server.wait_exit(EXIT_MAX).expect("server stopped");
    assert_eq!(exit.code(), Some(0), "exit status after --signal quit");
}

/// A process that appends the name of each signal it receives to a file: the target of
/// `--signal`, so the test sees exactly which signal arrived.
struct SignalRecorder {
    child: std::process::Child,
    record: String,
}

impl SignalRecorder {
    fn start(dir: &TempDir, pid_file: &str) -> SignalRecorder {
        let record = dir.file("signals");
        let script = format!(
            "for s in HUP INT TERM USR1 USR2 QUIT; do trap \"echo $s >> {record}\" $s; done; \
             printf %s $$ > {pid_file}; while :; do sleep 0.02; done"
        );
        let mut command = Command::new("sh");
        command
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec. A shell cannot trap a
        // signal that was ignored when it started, so undo any inherited SIG_IGN.
        unsafe {
            command.pre_exec(|| {
                for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start sh");
        let written = eventually(WAIT, || {
            std::fs::read_to_string(pid_file)
                .ok()
                .filter(|p| !p.is_empty())
        });
        assert!(written.is_some(), "the recorder wrote no pid file");
        SignalRecorder { child, record }
    }

    fn received(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for SignalRecorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn signal_command_sends_the_matching_signal_to_the_pid_in_the_pid_file() {
    let dir = TempDir::new("signals");
    let pid_file = dir.file("target.pid");
    let mut target = SignalRecorder::start(&dir, &pid_file);
    let mut want = Vec::new();
    for (command, sig) in [
        ("reload", "HUP"),
        ("ldm", "USR2"),
        ("quit", "INT"),
        ("term", "TERM"),
        ("reopen", "USR1"),
    ] {
        let (status, out) = run_tool(&["--signal", &format!("{command}={pid_file}")]);
        assert!(status.success(), "--signal {command}: {status} {out}");
        want.push(sig.to_string());
        let seen = eventually(WAIT, || {
            let got = target.received();
            (got.len() >= want.len()).then_some(got)
        });
        assert_eq!(seen.as_ref(), Some(&want), "after --signal {command}");
    }
    // `stop` is SIGKILL: nothing to trap, the target dies of it.
    let (status, out) = run_tool(&["--signal", &format!("stop={pid_file}")]);
    assert!(status.success(), "--signal stop: {status} {out}");
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(s) = target.child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "target survived --signal stop");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(exit.signal(), Some(libc::SIGKILL));
    // A pid file that does not exist is an error, not a signal to someone.
    let (status, _) = run_tool(&["--signal", &format!("reload={}", dir.file("none.pid"))]);
    assert!(
        !status.success(),
        "--signal with a missing pid file succeeded"
    );
}

#[test]
fn lame_duck_mode_announces_refuses_new_clients_and_closes_the_rest_after_the_grace() {
    let dir = TempDir::new("ldm");
    let conf = dir.write("ldm.conf", LDM_CONF);
    let mut server = Server::start(SHARDS, &["-c", &conf]);
    let addr = server.addr();
    let mut modern = client_with_protocol(&server, 1);
    let mut old = client_with_protocol(&server, 0);
    let entered = Instant::now();
    server.signal(libc::SIGUSR2);

    // A protocol-1 client that has done a PING hears about it at once (after the INFO that
    // nats-server sends protocol-1 clients right after their CONNECT).
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no INFO with ldm");
        let line = modern.read_line();
        if line == "PING\r\n" {
            modern.send(b"PONG\r\n");
            continue;
        }
        assert!(
            line.starts_with("INFO {") && line.ends_with("} \r\n"),
            "{line:?}"
        );
        let info: serde_json::Value = serde_json::from_str(&line[5..line.len() - 3]).expect("json");
        if info["ldm"] == true {
            break;
        }
    }

    // The listener is closed: new connections are refused.
    let refused = eventually(Duration::from_secs(2), || {
        TcpStream::connect(&addr).is_err().then_some(())
    });
    assert!(refused.is_some(), "new connections still accepted in LDM");

    // SIGTERM is ignored while lame duck mode runs, and clients keep working in the grace.
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    ping_pong(&mut modern);
    assert!(server.running(), "SIGTERM ended lame duck mode early");

    // Then everyone is closed, without -ERR, and not before the grace period.
    for (name, c) in [("protocol 1", &mut modern), ("protocol 0", &mut old)] {
        let got = read_until_closed(&mut c.stream, WAIT).expect("closed in LDM");
        let got = without_pings(&got);
        assert_eq!(got, "", "{name} client got bytes before its close");
    }
    assert!(
        entered.elapsed() >= Duration::from_millis(900),
        "clients closed before the 1 s grace period: {:?}",
        entered.elapsed()
    );
    let status = server.wait_exit(EXIT_MAX).expect("server exits after LDM");
    assert_eq!(status.code(), Some(0), "exit status after LDM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_of_a_lame_duck_server_fails_over_to_the_next_and_keeps_working() {
    let dir = TempDir::new("ldm-failover");
    let conf = dir.write("ldm.conf", LDM_CONF);
    let mut a = Server::start(SHARDS, &["-c", &conf]);
    let b = Server::start(SHARDS, &[]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let test = async {
        let client = ConnectOptions::new()
            .retain_servers_order()
            .connection_timeout(WAIT)
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .event_callback(move |event| {
                let seen = Arc::clone(&seen);
                async move {
                    seen.lock().unwrap().push(event.to_string());
                }
            })
            .connect(vec![a.url(), b.url()])
            .await
            .expect("connect to A");
        let mut sub = client.subscribe("ldm.work").await.expect("sub");
        client.flush().await.expect("flush");
        client
            .publish("ldm.work", Bytes::from_static(b"on A"))
            .await
            .expect("pub");
        let msg = tokio::time::timeout(WAIT, sub.next()).await.expect("msg");
        assert_eq!(msg.expect("open").payload, Bytes::from_static(b"on A"));

        a.signal(libc::SIGUSR2);
        let lame = Event::LameDuckMode.to_string();
        let connected = Event::Connected.to_string();
        let failed_over = {
            let events = Arc::clone(&events);
            tokio::time::timeout(Duration::from_secs(8), async move {
                loop {
                    {
                        let got = events.lock().unwrap();
                        if let Some(i) = got.iter().position(|e| *e == lame) {
                            if got[i..].contains(&connected) {
                                return;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
        };
        assert!(
            failed_over.is_ok(),
            "no LDM then reconnect; events {:?}",
            events.lock().unwrap()
        );

        // The subscription moved to B: a message published by another client on B arrives.
        let on_b = async_nats::connect(b.url()).await.expect("connect to B");
        barrier(&on_b, &[&client]).await;
        on_b.publish("ldm.work", Bytes::from_static(b"on B"))
            .await
            .expect("pub on B");
        let msg = tokio::time::timeout(WAIT, sub.next()).await.expect("msg");
        assert_eq!(msg.expect("open").payload, Bytes::from_static(b"on B"));
        client
            .publish("ldm.work", Bytes::from_static(b"again"))
            .await
            .expect("pub");
        let msg = tokio::time::timeout(WAIT, sub.next()).await.expect("msg");
        assert_eq!(msg.expect("open").payload, Bytes::from_static(b"again"));
    };
    tokio::time::timeout(Duration::from_secs(15), test)
        .await
        .expect("the test ran over its time limit");
    let status = a.wait_exit(EXIT_MAX).expect("A exits after LDM");
    assert_eq!(status.code(), Some(0));
}

fn reload_conf(users: &[(&str, &str)], max_payload: usize) -> String {
    let users: Vec<String> = users
        .iter()
        .map(|(u, p)| format!("{{ user: {u}, password: {p} }}"))
        .collect();
    format!(
        "max_payload: {max_payload}\nauthorization {{\n  users: [ {} ]\n}}\n",
        users.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_users_and_max_payload_and_connections_stay_up() {
    let dir = TempDir::new("reload");
    let conf = dir.write("reload.conf", &reload_conf(&[("ann", "pa")], 1024));
    let server = Server::start(SHARDS, &["-c", &conf]);
    let url = server.url();
    let connect = |user: &'static str, pass: &'static str| {
        ConnectOptions::with_user_and_password(user.into(), pass.into())
            .connection_timeout(WAIT)
            .connect(url.clone())
    };
    let test = async {
        let ann = connect("ann", "pa").await.expect("ann before reload");
        let mut ann_raw = server.raw();
        ann_raw.handshake(r#"{"verbose":false,"pedantic":false,"user":"ann","pass":"pa"}"#);
        assert!(connect("ben", "pb").await.is_err(), "ben before reload");

        dir.write(
            "reload.conf",
            &reload_conf(&[("ann", "pa"), ("ben", "pb")], 2048),
        );
        server.signal(libc::SIGHUP);
        // The reload is logged once it is in force on every shard.
        let reloaded = eventually(WAIT, || {
            server
                .log()
                .contains("Reloaded server configuration")
                .then_some(())
        });
        assert!(reloaded.is_some(), "no reload logged:\n{}", server.log());
        let ben = connect("ben", "pb")
            .await
            .expect("ben connects after the reload");

        // The old connections stayed up; ann's messages reach ben and back.
        let mut at_ben = ben.subscribe("reload.x").await.expect("sub");
        barrier(&ann, &[&ben]).await;
        ann.publish("reload.x", Bytes::from_static(b"hi ben"))
            .await
            .expect("pub");
        let msg = tokio::time::timeout(WAIT, at_ben.next())
            .await
            .expect("msg");
        assert_eq!(msg.expect("open").payload, Bytes::from_static(b"hi ben"));

        // The new max_payload: new clients are told, an old client may use it.
        let mut fresh = RawClient::connect(&server.addr());
        assert_eq!(fresh.read_info()["max_payload"], 2048);
        let big = vec![b'x'; 1500];
        let mut publish = format!("PUB reload.x {}\r\n", big.len()).into_bytes();
        publish.extend_from_slice(&big);
        publish.extend_from_slice(b"\r\n");
        ann_raw.sync(&publish);
        let msg = tokio::time::timeout(WAIT, at_ben.next())
            .await
            .expect("msg");
        assert_eq!(msg.expect("open").payload.len(), 1500);
    };
    tokio::time::timeout(Duration::from_secs(15), test)
        .await
        .expect("the test ran over its time limit");
}

#[test]
fn reload_refuses_what_nats_server_cannot_change_and_names_what_it_changed() {
    let (dir, server, mut client) =
        with_conf_file("r.conf", "max_payload: 1024\nlame_duck_duration: \"2m\"\n");

    dir.write("r.conf", "max_payload: 1024\nlame_duck_duration: \"40s\"\n");
    assert_eq!(
        server.reload_and_read(),
        [
            r#"[INF] Trapped "hangup" signal"#,
            "[ERR] Failed to reload server configuration: config reload not supported for \
             LameDuckDuration: old=2m0s, new=40s",
        ]
    );
    // Nothing changed: a new client is still told 1024.
    assert_eq!(plain_info(&server)["max_payload"], 1024);

    dir.write(
        "r.conf",
        "max_payload: 2048\nlame_duck_duration: \"2m\"\nwrite_deadline: \"3s\"\nping_max: 5\n",
    );
    assert_eq!(
        server.reload_and_read(),
        [
            r#"[INF] Trapped "hangup" signal"#,
            "[INF] Reloaded: authorization users",
            "[INF] Reloaded: accounts",
            "[INF] Reloaded: ping_max = 5",
            "[INF] Reloaded: max_payload = 2048",
            "[INF] Reloaded: write_deadline = 3s",
            "[INF] Reloaded server configuration",
        ]
    );
    assert_eq!(plain_info(&server)["max_payload"], 2048);
    client.sync(b"SUB still.here 1\r\n");
}

#[test]
fn reload_turns_tls_on_for_new_clients_while_plain_ones_stay() {
    let (dir, server, mut plain) = with_conf_file("t.conf", "max_payload: 1024\n");
    assert_eq!(plain_info(&server).get("tls_required"), None);

    let tls = format!(
        "max_payload: 1024\ntls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        common::procs::cert_str("server.pem"),
        common::procs::cert_str("server-key.pem")
    );
    dir.write("t.conf", &tls);
    let lines = server.reload_and_read();
    assert!(
        lines.contains(&"[INF] Reloaded: tls = enabled".to_string()),
        "{lines:?}"
    );
    assert_eq!(plain_info(&server)["tls_required"], true);
    // The connection made before the reload keeps working in the clear.
    plain.sync(b"SUB plain.still 1\r\n");

    dir.write("t.conf", "max_payload: 1024\n");
    let lines = server.reload_and_read();
    assert!(
        lines.contains(&"[INF] Reloaded: tls = disabled".to_string()),
        "{lines:?}"
    );
    assert_eq!(plain_info(&server).get("tls_required"), None);
}

/// A server started with config file `name` holding `text`, and a client connected to it.
fn with_conf_file(name: &str, text: &str) -> (TempDir, Server, RawClient) {
    let dir = TempDir::new("reload");
    let conf = dir.write(name, text);
    let server = Server::start(SHARDS, &["-c", &conf]);
    let mut client = server.raw();
    client.handshake(CONNECT_QUIET);
    (dir, server, client)
}

/// The INFO a new connection is sent.
fn plain_info(server: &Server) -> serde_json::Value {
    RawClient::connect(&server.addr()).read_info()
}

/// Splits `[pid] rest` and checks the pid.
fn after_pid(line: &str, pid: u32) -> &str {
    let prefix = format!("[{pid}] ");
    line.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("line does not start with {prefix:?}: {line:?}"))
}

/// Checks `YYYY/MM/DD HH:MM:SS.uuuuuu ` and returns the rest.
fn after_timestamp(rest: &str) -> &str {
    let (stamp, tail) = rest.split_at_checked(27).expect("line too short");
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999/99/99 99:99:99.999999 ", "timestamp {stamp:?}");
    tail
}

/// Checks `[LVL] ` and returns the message.
fn after_level(rest: &str) -> &str {
    let levels = ["[INF] ", "[DBG] ", "[TRC] ", "[WRN] ", "[ERR] ", "[FTL] "];
    let level = levels.iter().find(|l| rest.starts_with(**l));
    let level = level.unwrap_or_else(|| panic!("no level in {rest:?}"));
    &rest[level.len()..]
}

fn stopped_log(mut server: Server) -> String {
    let status = server.signal_and_wait(libc::SIGTERM);
    assert_eq!(status.code(), Some(0));
    server.log()
}

#[test]
fn log_file_lines_have_pid_local_time_with_microseconds_and_level() {
    let dir = TempDir::new("logfile");
    let log_file = dir.file("natrix.log");
    let server = Server::start(SHARDS, &["-l", &log_file]);
    let pid = server.pid();
    let today = chrono::Local::now().format("%Y/%m/%d ").to_string();
    let log = stopped_log(server);
    let mut messages = Vec::new();
    for line in log.lines() {
        let rest = after_pid(line, pid);
        let stamp_day = &rest[..11];
        assert_eq!(stamp_day, today, "local date in {line:?}");
        messages.push(after_level(after_timestamp(rest)).to_string());
    }
    for want in ["Server is ready", "Server Exiting.."] {
        assert!(messages.iter().any(|m| m == want), "no {want:?} in\n{log}");
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("Listening for client connections on 127.0.0.1:")),
        "{log}"
    );
}

#[test]
fn logtime_false_drops_the_timestamp_from_flag_and_config() {
    let dir = TempDir::new("logtime");
    let log_file = dir.file("natrix.log");
    let server = Server::start(SHARDS, &["-l", &log_file, "-T=false"]);
    let pid = server.pid();
    let from_flag = stopped_log(server);
    let conf = dir.write("logtime.conf", "logtime: false\n");
    let server = Server::start(SHARDS, &["-c", &conf]);
    let pid_conf = server.pid();
    let from_config = stopped_log(server);
    for (pid, log) in [(pid, &from_flag), (pid_conf, &from_config)] {
        assert!(log.contains("Server is ready"), "{log}");
        for line in log.lines() {
            let message = after_level(after_pid(line, pid));
            assert!(!message.is_empty(), "{line:?}");
        }
    }
}

#[test]
fn passwords_and_tokens_never_reach_the_log_even_with_debug_and_trace() {
    let dir = TempDir::new("secrets");
    let secrets = [
        "PassSecret-4711",
        "WrongPass-0815",
        "TokenSecret-1234",
        "WrongToken-5678",
    ];
    let user_log = dir.file("user.log");
    let server = Server::start(
        SHARDS,
        &["-DV", "-l", &user_log, "--user", "u", "--pass", secrets[0]],
    );
    for pass in &secrets[..2] {
        let mut c = server.raw();
        c.send(
            format!("CONNECT {{\"verbose\":false,\"user\":\"u\",\"pass\":\"{pass}\"}}\r\nPING\r\n")
                .as_bytes(),
        );
        let _ = read_until_closed(&mut c.stream, Duration::from_millis(300));
    }
    let user_text = stopped_log(server);
    let token_log = dir.file("token.log");
    let server = Server::start(SHARDS, &["-DV", "-l", &token_log, "--auth", secrets[2]]);
    for token in &secrets[2..] {
        let mut c = server.raw();
        c.send(
            format!("CONNECT {{\"verbose\":false,\"auth_token\":\"{token}\"}}\r\nPING\r\n")
                .as_bytes(),
        );
        let _ = read_until_closed(&mut c.stream, Duration::from_millis(300));
    }
    let token_text = stopped_log(server);
    for log in [&user_text, &token_text] {
        // Tracing is on: the CONNECTs were traced, with the secrets taken out.
        assert!(log.contains("[TRC]") && log.contains("CONNECT"), "{log}");
        for secret in secrets {
            assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        }
    }
}

/// The trace texts (what follows the client's prefix) of the client on local port `port`,
/// in order.
fn traces_of(log: &str, port: u16) -> Vec<String> {
    let prefix = format!("[TRC] 127.0.0.1:{port} - cid:");
    log.lines()
        .filter_map(|l| l.split_once(&prefix).map(|(_, rest)| rest))
        .map(|rest| {
            // Past "N - ", then past the Go-quoted name and user, if any.
            let mut rest = rest.split_once(" - ").map_or(rest, |(_, r)| r);
            while let Some(r) = rest.strip_prefix('"') {
                rest = r.split_once("\" - ").map_or(r, |(_, r)| r);
            }
            rest.to_string()
        })
        .collect()
}

#[test]
fn trace_shows_ops_both_ways_with_payloads_and_names_the_client_as_nats_server_does() {
    let dir = TempDir::new("trace");
    let log_file = dir.file("trace.log");
    let server = Server::start(
        SHARDS,
        &[
            "-V",
            "-l",
            &log_file,
            "--user",
            "u",
            "--pass",
            "sekrit",
            "--max_traced_msg_len",
            "4",
        ],
    );
    let mut c = server.raw();
    c.send(br#"CONNECT {"verbose":true,"headers":true,"name":"svc","user":"u","pass":"sekrit"}"#);
    c.send(b"\r\n");
    c.expect(b"+OK\r\n");
    c.send(b"SUB a 1\r\nPUB a r 6\r\nhello!\r\nUNSUB 1\r\nPING\r\n");
    c.expect(b"+OK\r\n+OK\r\nMSG a 1 r 6\r\nhello!\r\n+OK\r\nPONG\r\n");
    let port = c.stream.local_addr().expect("local address").port();
    let mut stranger = server.raw();
    stranger.send(b"CONNECT {\"verbose\":false,\"user\":\"nobody\",\"pass\":\"x\"}\r\n");
    let _ = read_until_closed(&mut stranger.stream, WAIT);
    drop(c);
    let log = stopped_log(server);

    let traces = traces_of(&log, port);
    let want = [
        r#"<<- [CONNECT {"verbose":true,"headers":true,"name":"svc","user":"u","pass":"[REDACTED]"}]"#,
        "->> [OK]",
        "<<- [SUB a 1]",
        "->> [OK]",
        "<<- [PUB a r 6]",
        r#"<<- MSG_PAYLOAD: ["hell..."]"#,
        "->> [OK]",
        "->> [MSG a 1 r 6]",
        r#"->> MSG_PAYLOAD: ["hell..."]"#,
        "<<- [UNSUB 1]",
        "->> [OK]",
        "<-> [DELSUB 1]",
        "<<- [PING]",
        "->> [PONG]",
    ];
    assert_eq!(traces, want, "{log}");
    // After CONNECT, the client's lines name it and its user.
    let named = format!(r#"127.0.0.1:{port} - cid:"#);
    assert!(
        log.lines()
            .any(|l| l.contains(&named) && l.ends_with(r#" - "svc" - "$G/user:u" - ->> [OK]"#)),
        "{log}"
    );
    assert!(!log.contains("sekrit"), "{log}");
    // A refused CONNECT names the user it gave, as nats-server logs it.
    assert!(
        log.lines()
            .any(|l| l.contains("[ERR] ")
                && l.ends_with(r#" - authentication error - User "nobody""#)),
        "{log}"
    );
}

/// A config with users `a` (subscribe limited to `subscribe`, publish denied `deny_publish`)
/// and, when `with_b`, an unrestricted user `b`; every password is `p`.
fn users_conf(subscribe: &str, deny_publish: &str, with_b: bool) -> String {
    let b = if with_b { "{user: b, password: p}" } else { "" };
    format!(
        "authorization {{ users: [\n  {{user: a, password: p, permissions: {{subscribe: \
         {subscribe}, publish: {{deny: {deny_publish}}}}}}}\n  {b}\n] }}\n"
    )
}

#[test]
fn sighup_takes_permissions_and_users_away_from_open_connections() {
    let dir = TempDir::new("reload-perms");
    let conf = dir.write(
        "perms.conf",
        &users_conf(r#"["foo.>", "bar"]"#, r#"["none"]"#, true),
    );
    let server = Server::start(SHARDS, &["-c", &conf]);
    let mut a = server.raw();
    a.handshake(r#"{"verbose":false,"pedantic":false,"user":"a","pass":"p"}"#);
    a.sync(b"SUB foo.x 1\r\nSUB bar 2\r\nSUB bar q 3\r\n");
    let mut b = server.raw();
    b.handshake(r#"{"verbose":false,"pedantic":false,"user":"b","pass":"p"}"#);

    // `b` goes, `a` loses `bar` and may no longer publish to `x`.
    dir.write("perms.conf", &users_conf(r#"["foo.>"]"#, r#"["x"]"#, false));
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_log("Reloaded server configuration", WAIT),
        "no reload in the log:\n{}",
        server.log()
    );
    // A user that is gone is closed without a word, as nats-server does.
    b.expect_closed();
    // Each subscription the new permissions refuse is removed, with its sid in the error;
    // the rest, and the connection, stay.
    a.expect(
        b"-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"2\")'\r\n\
          -ERR 'Permissions Violation for Subscription to \"bar\" using queue \"q\" (sid \"3\")'\r\n",
    );
    a.send(b"PUB x 1\r\nz\r\nPUB bar 1\r\nq\r\nPUB foo.x 1\r\nf\r\nPING\r\n");
    a.expect(
        b"-ERR 'Permissions Violation for Publish to \"x\"'\r\nMSG foo.x 1 1\r\nf\r\nPONG\r\n",
    );
}
