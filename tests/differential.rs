//! Differential tests: the same raw-protocol transcript is played against the reference
//! nats-server and against natrix (with 1 and with 3 shards), and what each connection saw
//! must be the same.
//!
//! # Transcript format (`tests/transcripts/<name>.txt`)
//!
//! One step per line; blank lines and lines starting with `#` are comments. Connections are
//! named by a single word (`A`, `B`, `sub`, ...).
//!
//! | step | meaning |
//! | --- | --- |
//! | `server KEY=VALUE ...` | before the steps: server limits. Keys: `max_payload` (bytes), `max_pending` (bytes), `ping_interval` (seconds), `ping_max`. natrix gets the flag of the same name, nats-server a config file. |
//! | `connect A` | opens connection `A` and observes its first line (the INFO). |
//! | `send A BYTES` | writes BYTES on `A` in one write. |
//! | `trickle A BYTES` | writes BYTES one byte per write, 1 ms apart (split reads). |
//! | `repeat A N BYTES` | writes BYTES N times, in one write. |
//! | `sleep MS` | waits. |
//! | `keep_server_pings` | before the steps: server `PING`s are compared too (they are dropped otherwise, being timer-driven: nats-server sends its first one about 2 s after accept). |
//! | `read A [IDLE_MS] [MODE]` | observes what arrives on `A` until it has been quiet for IDLE_MS (default 500) or closes; a single-connection read that already equals its non-empty `want` needs only 50 ms of quiet. |
//! | `want BYTES` | pins the observation of the step above; consecutive `want` lines are joined, and a bare `want` means "nothing". |
//!
//! BYTES is the rest of the line with escapes: `\r`, `\n`, `\t`, `\s` (a space, for the end
//! of a line), `\\`, `\xHH`, and `\[c*N]` for the byte `c` repeated N times.
//!
//! Read modes:
//! * `exact` (default): the bytes as they came.
//! * `unordered`: the bytes cut into protocol frames (a line, or a MSG/HMSG line with its
//!   payload) and sorted, for deliveries whose order nats-server leaves open.
//! * `count GROUP...` (`read A,B,C count ...`): MSG/HMSG frames counted per GROUP, where a
//!   group is `conn:sid` keys joined by `+` (`B:1+C:1` counts a queue group spread over two
//!   connections); it shows `GROUP=N` for each group, then every other frame in order.
//! * `spread` (`read A,B,C spread`): the total of MSG/HMSG frames and whether each connection
//!   got at least a sixth of them (random queue member choice, §7 of the reference).
//! * `errors`: only the `-ERR` lines (for a slow consumer whose deliveries vary).
//!
//! Every observation ends with `<EOF>` (`<EOF:A>` for several connections) if the server
//! closed the connection. INFO lines are normalised before comparison: the server-specific
//! keys (`server_id`, `server_name`, `version`, `go`, `git_commit`, `xkey`, `api_lvl`,
//! `natrix_version`, `client_id`, `host`, `port`) are dropped and the rest sorted, so what is
//! compared is the `INFO ` prefix, the key set with values, and the trailing ` \r\n` (an
//! INFO without that space, or with JSON that is not compact, is compared as it came).
//!
//! Checking: when the reference server is available (see `common::nats_server_bin`), every
//! `want` must match what nats-server sent (so the transcripts stay true), and natrix must
//! match nats-server observation by observation. Without it, natrix is checked against the
//! `want` lines alone. A failure prints every differing observation with both byte strings.
//!
//! Run one transcript: `cargo test --test differential -- <name>`. `NATRIX_DIFF_SHARDS=1,4`
//! picks other natrix shard counts (default: 1 and 3).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use common::ops::{panic_text, push_escaped, INFO_KEYS_IGNORED};
use common::wire::Socket;
use common::{nats_server_bin, TestServer};

/// A read step ends after this long without new bytes, unless the transcript says otherwise.
const READ_IDLE_MS_DEFAULT: u64 = 500;
/// A read whose bytes already equal its `want` ends after this long without new bytes.
const READ_GRACE_MS: u64 = 50;
/// A read step never runs longer than its idle time plus this (a server that keeps talking).
const READ_TOTAL_EXTRA_MS: u64 = 10_000;
/// How long `connect` waits for the INFO line.
const INFO_WAIT_MS: u64 = 5_000;
/// A blocked write gives up after this long (a server that stopped reading).
const WRITE_TIMEOUT_MS: u64 = 5_000;
/// Server log lines shown with a failure.
const LOG_TAIL_LINES: usize = 20;

// ---------------------------------------------------------------------------------------------
// One test per transcript file.

macro_rules! transcripts {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_transcript(stringify!($name));
            }
        )*
        const TRANSCRIPTS: &[&str] = &[$(stringify!($name)),*];
    };
}

transcripts! {
    info_on_connect,
    connect_verbose_false_ping_gets_only_pong,
    connect_without_space_accepted,
    connect_keys_case_insensitive,
    protocol_1_connect_info_after_first_pong,
    protocol_0_no_second_info,
    no_connect_means_verbose_and_pedantic,
    connect_empty_json_means_verbose_and_pedantic,
    verbose_ok_order,
    op_names_case_insensitive,
    tabs_and_runs_of_spaces_between_args,
    bare_lf_ends_control_line,
    bare_lf_after_payload_closes,
    payload_longer_than_size_closes,
    empty_line_closes,
    leading_space_closes,
    unknown_op_closes,
    missing_delimiter_after_op_closes,
    client_msg_op_closes,
    pub_one_arg_closes_silently,
    pub_non_numeric_size_closes_silently,
    sub_one_arg_closes_silently,
    sub_four_args_closes_silently,
    ping_variants_get_pong,
    client_pong_and_ok_ignored,
    size_leading_zeros_copied_into_msg,
    size_plus_sign_closes_silently,
    size_minus_sign_closes_silently,
    size_ten_digits_closes_silently,
    control_line_4096_accepted,
    control_line_4097_closes,
    control_line_without_newline_closes,
    max_payload_exact_delivered,
    max_payload_plus_one_closes_before_payload,
    pub_zero_bytes_delivered,
    payload_with_crlf_inside,
    pub_split_across_writes,
    pub_reply_to_in_msg,
    reserved_reply_prefixes_refused,
    reserved_gr_subject_refused,
    invalid_sub_subjects_refused_connection_open,
    literal_star_in_token,
    sid_any_non_whitespace_bytes,
    publish_wildcard_subject_non_pedantic,
    publish_wildcard_subject_pedantic_still_delivered,
    wildcard_matching_rules,
    three_sids_one_connection,
    duplicate_sid_ignored,
    unsub_max_then_auto_unsubscribe,
    unsub_zero_removes_at_once,
    unsub_non_numeric_max_removes_at_once,
    unsub_unknown_sid_ignored,
    echo_false_plain_subscription,
    echo_false_queue_member_skipped,
    queue_group_across_subjects_one_connection,
    queue_group_across_connections,
    queue_group_spread,
    queue_name_with_dots_and_sys_refused,
    hpub_to_hmsg_exact,
    hpub_to_non_header_subscriber,
    hpub_without_headers_closes_silently,
    hpub_zero_header_size_is_msg,
    hpub_header_larger_than_total_closes,
    no_responders_without_headers_closes,
    no_responders_503_exact,
    no_responders_503_via_wildcard_reply,
    no_responders_503_echo_false_self,
    no_responders_none_with_queue_sub,
    no_responders_none_when_reply_sub_elsewhere,
    no_responders_none_when_not_asked,
    protocol_2_refused,
    connect_bad_json_closes_silently,
    connect_wrong_type_closes_silently,
    connect_account_field_refused,
    second_connect_drops_subscriptions,
    client_err_closes_silently,
    client_info_ignored,
    stale_connection,
    first_server_ping_after_two_seconds,
    slow_consumer_closed_without_err,
    cross_connection_delivery_after_pong,
    ping_before_connect_then_protocol_1,
    pub_four_args_closes_silently,
    unsub_three_args_closes_silently,
    hpub_one_size_closes_silently,
    hpub_header_only_message,
    ordering_from_one_publisher_kept,
    large_payload_across_connections,
    utf8_subjects,
    sid_reused_after_unsub,
    queue_member_auto_unsubscribe,
    no_responders_none_when_reply_sub_is_queue,
    connect_control_line_limit,
    pong_keeps_connection_alive,
    client_traffic_holds_back_server_pings,
    reserved_nrg_subject_refused,
    ping_with_long_junk,
    pedantic_does_not_check_reply,
    no_responders_503_echo_false_own_queue_member,
    no_responders_503_after_responder_auto_unsubscribed,
    second_connect_protocol_1,
    unsub_one_of_two_subscriptions,
    fan_out_to_many_subscriptions,
    deliveries_before_protocol_error_are_flushed,
    deliveries_before_silent_close_are_flushed,
    pub_zero_without_terminator_closes,
    control_line_4096_split_before_line_end,
}

/// Every file in `tests/transcripts/` has its test above, and every test its file.
#[test]
fn every_transcript_file_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(transcript_dir())
        .expect("tests/transcripts exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".txt")
                .map(str::to_string)
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = TRANSCRIPTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "tests/transcripts/*.txt and the transcripts! list differ"
    );
    assert!(files.len() >= 40, "only {} transcripts", files.len());
}

fn transcript_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

// ---------------------------------------------------------------------------------------------
// Running and comparing.

/// A server a transcript is played against.
#[derive(Clone, Copy, Debug)]
enum Target {
    NatsServer,
    Natrix { shards: usize },
}

impl Target {
    fn label(self) -> String {
        match self {
            Target::NatsServer => "nats-server".to_string(),
            Target::Natrix { shards: 1 } => "natrix (1 shard)".to_string(),
            Target::Natrix { shards } => format!("natrix ({shards} shards)"),
        }
    }

    fn start(self, name: &str, options: &[(String, String)]) -> TestServer {
        match self {
            Target::Natrix { shards } => {
                let flags: Vec<String> = options
                    .iter()
                    .flat_map(|(k, v)| [format!("--{k}"), v.clone()])
                    .collect();
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                TestServer::start_with(shards, &flags)
            }
            Target::NatsServer => {
                // The system account adds internal subscriptions and traffic the core
                // behaviours have nothing to do with.
                let mut conf = String::from("no_system_account: true\n");
                for (k, v) in options {
                    match k.as_str() {
                        "ping_interval" => conf.push_str(&format!("ping_interval: \"{v}s\"\n")),
                        _ => conf.push_str(&format!("{k}: {v}\n")),
                    }
                }
                let path = std::env::temp_dir().join(format!(
                    "natrix-differential-{}-{name}.conf",
                    std::process::id()
                ));
                std::fs::write(&path, conf).expect("write nats-server config");
                let path_str = path.to_str().expect("utf-8 temp path").to_string();
                let server = TestServer::start_nats_server(&["-c", &path_str]);
                let _ = std::fs::remove_file(&path);
                server
            }
        }
    }
}

/// What one observing step saw on one target.
struct Observation {
    line: usize,
    step: String,
    got: Vec<u8>,
}

fn check_transcript(name: &str) {
    let path = transcript_dir().join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let transcript = parse_transcript(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    let started = Instant::now();
    let mut targets: Vec<Target> = natrix_shard_counts()
        .into_iter()
        .map(|shards| Target::Natrix { shards })
        .collect();
    let reference = nats_server_available();
    if reference {
        targets.insert(0, Target::NatsServer);
    } else {
        eprintln!("{name}: nats-server not found; natrix is checked against the want lines only");
    }

    // The targets run side by side; each owns its server, which dies with the thread's scope.
    let transcript_ref = &transcript;
    let results: Vec<(Target, Result<Vec<Observation>, String>)> = thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&t| (t, s.spawn(move || play(transcript_ref, t, name))))
            .collect();
        handles
            .into_iter()
            .map(|(t, h)| (t, h.join().map_err(|p| panic_text(&p)).and_then(|r| r)))
            .collect()
    });

    // nats-server pins the transcript's want lines, and natrix is compared with nats-server;
    // without a reference run, natrix is compared with the want lines.
    let reference = results.iter().find_map(|(t, r)| match (t, r) {
        (Target::NatsServer, Ok(obs)) => Some(obs),
        _ => None,
    });
    let mut failures = Vec::new();
    for (target, result) in &results {
        let obs = match result {
            Ok(obs) => obs,
            Err(e) => {
                failures.push(format!(
                    "{}: the transcript could not run: {e}\n",
                    target.label()
                ));
                continue;
            }
        };
        let label = target.label();
        match (target, reference) {
            (Target::Natrix { .. }, Some(reference)) => {
                for (o, r) in obs.iter().zip(reference) {
                    if o.got != r.got {
                        failures.push(describe(&path, o, "nats-server", &r.got, &label));
                    }
                }
            }
            _ => {
                for (o, step) in obs.iter().zip(transcript.observing_steps()) {
                    match &step.want {
                        Some(want) if &o.got != want => {
                            failures.push(describe(&path, o, "transcript want", want, &label))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    if !failures.is_empty() {
        panic!(
            "{} difference(s) in {}:\n\n{}",
            failures.len(),
            path.display(),
            failures.join("\n")
        );
    }
}

fn describe(
    path: &Path,
    o: &Observation,
    want_label: &str,
    want: &[u8],
    got_label: &str,
) -> String {
    let width = want_label.len().max(got_label.len()) + 1;
    format!(
        "{}:{}: {}\n  {:width$} {}\n  {:width$} {}\n",
        path.file_name().unwrap_or_default().to_string_lossy(),
        o.line,
        o.step,
        format!("{want_label}:"),
        escape(want),
        format!("{got_label}:"),
        escape(&o.got),
    )
}

/// The natrix shard counts to play against: `$NATRIX_DIFF_SHARDS` (e.g. `1,4`), else 1 and 3.
fn natrix_shard_counts() -> Vec<usize> {
    let Ok(list) = std::env::var("NATRIX_DIFF_SHARDS") else {
        return vec![1, 3];
    };
    list.split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("NATRIX_DIFF_SHARDS: bad {n:?}"))
        })
        .collect()
}

fn nats_server_available() -> bool {
    std::process::Command::new(nats_server_bin())
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Plays the transcript against a fresh server of `target`.
fn play(t: &Transcript, target: Target, name: &str) -> Result<Vec<Observation>, String> {
    let server = target.start(name, &t.options);
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &t.steps {
        match &step.kind {
            StepKind::Connect(c) => {
                let mut conn = Conn::open(&server.addr())?;
                let first = conn.read_line(INFO_WAIT_MS);
                if first.is_empty() && !conn.eof() {
                    // Every later step would only time out too.
                    return Err(format!(
                        "line {}: no INFO within {INFO_WAIT_MS} ms of connecting: the server \
                         accepts no connections (did it log \"Server is ready\"?){}",
                        step.line,
                        log_tail(&server)
                    ));
                }
                let got = normalise_frames(&first);
                conns.insert(c.clone(), conn);
                out.push(Observation {
                    line: step.line,
                    step: step.text.clone(),
                    got,
                });
            }
            StepKind::Send {
                conn,
                bytes,
                trickle,
            } => {
                let c = conn_mut(&mut conns, conn)?;
                if *trickle {
                    for b in bytes {
                        c.write(std::slice::from_ref(b));
                        thread::sleep(Duration::from_millis(1));
                    }
                } else {
                    c.write(bytes);
                }
            }
            StepKind::Sleep(ms) => thread::sleep(Duration::from_millis(*ms)),
            StepKind::Read {
                conns: names,
                idle_ms,
                mode,
            } => {
                // A read that already shows its (non-empty) want ends after a short grace
                // instead of the full idle time; bytes that come later show in the next read.
                let want = step
                    .want
                    .as_deref()
                    .filter(|w| !w.is_empty() && names.len() == 1);
                let mut read = Vec::new();
                for n in names {
                    let c = conn_mut(&mut conns, n)?;
                    let bytes = c.read_until_idle(*idle_ms, |bytes, eof| {
                        want.is_some_and(|w| {
                            render_read(mode, &[(n.as_str(), bytes, eof)], t.keep_server_pings) == w
                        })
                    });
                    read.push((n.as_str(), bytes, c.eof()));
                }
                let seen: Vec<(&str, &[u8], bool)> = read
                    .iter()
                    .map(|(n, b, e)| (*n, b.as_slice(), *e))
                    .collect();
                let got = render_read(mode, &seen, t.keep_server_pings);
                out.push(Observation {
                    line: step.line,
                    step: step.text.clone(),
                    got,
                });
            }
        }
    }
    drop(conns);
    drop(server);
    Ok(out)
}

/// The last lines the server logged, for a failure message.
fn log_tail(server: &TestServer) -> String {
    let lines: Vec<String> = server.log.try_iter().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n    log: {}", tail.join("\n    log: "))
    }
}

fn conn_mut<'a>(conns: &'a mut BTreeMap<String, Conn>, name: &str) -> Result<&'a mut Conn, String> {
    conns
        .get_mut(name)
        .ok_or_else(|| format!("connection {name} used before connect"))
}

/// One client connection: a socket, bytes read but not yet observed, and whether it closed.
struct Conn {
    socket: Socket,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn, String> {
        let socket = Socket::open(addr, Duration::from_millis(WRITE_TIMEOUT_MS))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        Ok(Conn { socket })
    }

    /// Writes, ignoring errors: after the server closes, what the client sends is lost, and
    /// the observations say so.
    fn write(&mut self, bytes: &[u8]) {
        self.socket.send(bytes);
    }

    fn eof(&self) -> bool {
        self.socket.closed
    }

    /// The first line (through `\n`), or whatever came before `wait_ms` or the close.
    fn read_line(&mut self, wait_ms: u64) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        self.socket
            .line_by(deadline)
            .unwrap_or_else(|| std::mem::take(&mut self.socket.buf))
    }

    /// Everything that arrives until the connection has been quiet for `idle_ms` or closes;
    /// once `done` says the bytes so far are complete, quiet for `READ_GRACE_MS` is enough.
    fn read_until_idle(&mut self, idle_ms: u64, done: impl Fn(&[u8], bool) -> bool) -> Vec<u8> {
        let idle = Duration::from_millis(idle_ms);
        let grace = Duration::from_millis(READ_GRACE_MS).min(idle);
        let hard_deadline = Instant::now() + idle + Duration::from_millis(READ_TOTAL_EXTRA_MS);
        let mut quiet_deadline = Instant::now() + idle;
        loop {
            let now = Instant::now();
            if now >= quiet_deadline || now >= hard_deadline {
                break;
            }
            let before = self.socket.buf.len();
            if !self.socket.fill(quiet_deadline - now) && self.socket.closed {
                break;
            }
            if self.socket.buf.len() > before {
                let wait = if done(&self.socket.buf, self.socket.closed) {
                    grace
                } else {
                    idle
                };
                quiet_deadline = Instant::now() + wait;
            }
        }
        std::mem::take(&mut self.socket.buf)
    }
}

// ---------------------------------------------------------------------------------------------
// Normalising what was read.

/// How a read step turns bytes into an observation.
#[derive(Clone, Debug)]
enum ReadMode {
    Exact,
    Unordered,
    Count(Vec<Vec<(String, String)>>),
    Spread,
    Errors,
}

fn render_read(mode: &ReadMode, seen: &[(&str, &[u8], bool)], keep_pings: bool) -> Vec<u8> {
    let eof_mark = |name: &str, eof: bool, out: &mut Vec<u8>| {
        if eof {
            if seen.len() == 1 {
                out.extend_from_slice(b"<EOF>");
            } else {
                out.extend_from_slice(format!("<EOF:{name}>").as_bytes());
            }
        }
    };
    // Server PINGs depend on timers, not on the transcript (see the module doc).
    let kept = |bytes| -> Vec<&[u8]> {
        frames(bytes)
            .into_iter()
            .filter(|f| keep_pings || *f != b"PING\r\n")
            .collect()
    };
    let mut out = Vec::new();
    match mode {
        ReadMode::Exact => {
            for &(name, bytes, eof) in seen {
                out.extend(kept(bytes).into_iter().flat_map(normalise_frame));
                eof_mark(name, eof, &mut out);
            }
        }
        ReadMode::Unordered => {
            for &(name, bytes, eof) in seen {
                let mut frames: Vec<Vec<u8>> =
                    kept(bytes).into_iter().map(normalise_frame).collect();
                frames.sort();
                out.extend(frames.concat());
                eof_mark(name, eof, &mut out);
            }
        }
        ReadMode::Count(groups) => {
            let mut counts = vec![0usize; groups.len()];
            let mut others = Vec::new();
            for &(name, bytes, _) in seen {
                for f in kept(bytes) {
                    let group = msg_sid(f).and_then(|sid| {
                        groups
                            .iter()
                            .position(|g| g.iter().any(|(c, s)| c == name && *s == sid))
                    });
                    match group {
                        Some(g) => counts[g] += 1,
                        None => others.extend(normalise_frame(f)),
                    }
                }
            }
            let shown: Vec<String> = groups
                .iter()
                .zip(&counts)
                .map(|(g, n)| {
                    let keys: Vec<String> = g.iter().map(|(c, s)| format!("{c}:{s}")).collect();
                    format!("{}={n}", keys.join("+"))
                })
                .collect();
            out.extend_from_slice(shown.join(" ").as_bytes());
            out.extend_from_slice(b"\n");
            out.extend(others);
            for &(name, _, eof) in seen {
                eof_mark(name, eof, &mut out);
            }
        }
        ReadMode::Spread => {
            let per_conn: Vec<usize> = seen
                .iter()
                .map(|&(_, bytes, _)| {
                    kept(bytes)
                        .into_iter()
                        .filter(|f| msg_sid(f).is_some())
                        .count()
                })
                .collect();
            let total: usize = per_conn.iter().sum();
            let even = per_conn.iter().all(|&n| n * 6 >= total);
            let verdict = if even {
                "each got at least a sixth"
            } else {
                "uneven"
            };
            out.extend_from_slice(format!("{total} msgs, {verdict}\n").as_bytes());
            for &(name, _, eof) in seen {
                eof_mark(name, eof, &mut out);
            }
        }
        ReadMode::Errors => {
            for &(name, bytes, eof) in seen {
                for f in frames(bytes) {
                    if f.starts_with(b"-ERR") {
                        out.extend_from_slice(f);
                    }
                }
                eof_mark(name, eof, &mut out);
            }
        }
    }
    out
}

/// Cuts bytes into protocol frames: a line through `\n`, or a MSG/HMSG line with its payload
/// and CRLF (by the size token). A tail without `\n` is a frame of its own.
fn frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let line_end = bytes[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |k| i + k + 1);
        let line = &bytes[i..line_end];
        let mut end = line_end;
        if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
            let size: Option<usize> = tokens(line)
                .last()
                .and_then(|t| std::str::from_utf8(t).ok()?.parse().ok());
            if let Some(size) = size {
                end = (line_end + size + 2).min(bytes.len());
            }
        }
        out.push(&bytes[i..end]);
        i = end;
    }
    out
}

fn tokens(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The sid of a MSG/HMSG frame.
fn msg_sid(frame: &[u8]) -> Option<String> {
    if !(frame.starts_with(b"MSG ") || frame.starts_with(b"HMSG ")) {
        return None;
    }
    let line_end = frame
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(frame.len());
    let toks = tokens(&frame[..line_end]);
    toks.get(2).map(|s| String::from_utf8_lossy(s).into_owned())
}

fn normalise_frames(bytes: &[u8]) -> Vec<u8> {
    frames(bytes)
        .into_iter()
        .flat_map(normalise_frame)
        .collect()
}

/// An `INFO {json} \r\n` frame with its server-specific keys dropped and the rest sorted;
/// any other frame as it is. An INFO that is not exactly in that shape stays as it is too, so
/// the difference shows.
fn normalise_frame(frame: &[u8]) -> Vec<u8> {
    let Some(json) = frame
        .strip_prefix(b"INFO ")
        .and_then(|r| r.strip_suffix(b" \r\n"))
    else {
        return frame.to_vec();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(json)
    else {
        return frame.to_vec();
    };
    if !is_compact_json(json) {
        return frame.to_vec();
    }
    let kept: BTreeMap<String, serde_json::Value> = map
        .into_iter()
        .filter(|(k, _)| !INFO_KEYS_IGNORED.contains(&k.as_str()))
        .collect();
    let body: Vec<String> = kept.iter().map(|(k, v)| format!("{:?}:{v}", k)).collect();
    format!("INFO {{{}}} \r\n", body.join(",")).into_bytes()
}

/// True when JSON text has no whitespace outside its strings (nats-server's INFO is compact).
fn is_compact_json(json: &[u8]) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Parsing transcripts.

struct Transcript {
    options: Vec<(String, String)>,
    /// Server PINGs are part of what is compared (they are dropped otherwise).
    keep_server_pings: bool,
    steps: Vec<Step>,
}

impl Transcript {
    /// The steps that produce an observation, in order.
    fn observing_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Connect(_) | StepKind::Read { .. }))
    }
}

struct Step {
    line: usize,
    text: String,
    kind: StepKind,
    want: Option<Vec<u8>>,
}

enum StepKind {
    Connect(String),
    Send {
        conn: String,
        bytes: Vec<u8>,
        trickle: bool,
    },
    Sleep(u64),
    Read {
        conns: Vec<String>,
        idle_ms: u64,
        mode: ReadMode,
    },
}

const OPTION_KEYS: &[&str] = &["max_payload", "max_pending", "ping_interval", "ping_max"];

fn parse_transcript(text: &str) -> Result<Transcript, String> {
    let mut t = Transcript {
        options: Vec::new(),
        keep_server_pings: false,
        steps: Vec::new(),
    };
    let mut last_was_want = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |m: &str| format!("line {line}: {m}: {raw:?}");
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let (word, rest) = raw.split_once(' ').unwrap_or((raw, ""));
        let want_now = word == "want";
        match word {
            "server" => {
                if !t.steps.is_empty() {
                    return Err(err("`server` must come before the steps"));
                }
                for kv in rest.split_whitespace() {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| err("expected KEY=VALUE"))?;
                    if !OPTION_KEYS.contains(&k) || v.parse::<u64>().is_err() {
                        return Err(err("unknown server option"));
                    }
                    t.options.push((k.to_string(), v.to_string()));
                }
            }
            "keep_server_pings" if rest.is_empty() => t.keep_server_pings = true,
            "connect" => push(&mut t, line, raw, StepKind::Connect(conn_name(rest, &err)?)),
            "send" | "trickle" => {
                let (conn, bytes) = rest
                    .split_once(' ')
                    .ok_or_else(|| err("expected CONN BYTES"))?;
                let kind = StepKind::Send {
                    conn: conn_name(conn, &err)?,
                    bytes: unescape(bytes).map_err(|e| err(&e))?,
                    trickle: word == "trickle",
                };
                push(&mut t, line, raw, kind);
            }
            "repeat" => {
                let mut parts = rest.splitn(3, ' ');
                let conn = conn_name(parts.next().unwrap_or(""), &err)?;
                let n: usize = parts
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| err("expected N"))?;
                let bytes = unescape(parts.next().unwrap_or("")).map_err(|e| err(&e))?;
                push(
                    &mut t,
                    line,
                    raw,
                    StepKind::Send {
                        conn,
                        bytes: bytes.repeat(n),
                        trickle: false,
                    },
                );
            }
            "sleep" => {
                let ms = rest
                    .trim()
                    .parse()
                    .map_err(|_| err("expected milliseconds"))?;
                push(&mut t, line, raw, StepKind::Sleep(ms));
            }
            "read" => {
                let mut words = rest.split_whitespace().peekable();
                let conns: Vec<String> = words
                    .next()
                    .ok_or_else(|| err("expected CONN"))?
                    .split(',')
                    .map(|c| conn_name(c, &err))
                    .collect::<Result<_, _>>()?;
                let mut idle_ms = READ_IDLE_MS_DEFAULT;
                if let Some(ms) = words.peek().and_then(|w| w.parse().ok()) {
                    idle_ms = ms;
                    words.next();
                }
                let mode = match words.next() {
                    None | Some("exact") => ReadMode::Exact,
                    Some("unordered") => ReadMode::Unordered,
                    Some("spread") => ReadMode::Spread,
                    Some("errors") => ReadMode::Errors,
                    Some("count") => {
                        let groups = words
                            .by_ref()
                            .map(|g| {
                                g.split('+')
                                    .map(|key| {
                                        let (c, s) = key
                                            .split_once(':')
                                            .ok_or_else(|| err("expected CONN:SID"))?;
                                        Ok((c.to_string(), s.to_string()))
                                    })
                                    .collect::<Result<Vec<_>, String>>()
                            })
                            .collect::<Result<Vec<_>, String>>()?;
                        if groups.is_empty() {
                            return Err(err("count needs groups"));
                        }
                        ReadMode::Count(groups)
                    }
                    Some(_) => return Err(err("unknown read mode")),
                };
                if words.next().is_some() {
                    return Err(err("extra words"));
                }
                if conns.len() > 1 && matches!(mode, ReadMode::Exact | ReadMode::Unordered) {
                    return Err(err("exact and unordered reads take one connection"));
                }
                push(
                    &mut t,
                    line,
                    raw,
                    StepKind::Read {
                        conns,
                        idle_ms,
                        mode,
                    },
                );
            }
            "want" => {
                let bytes = unescape(rest).map_err(|e| err(&e))?;
                let step = t
                    .steps
                    .last_mut()
                    .filter(|s| matches!(s.kind, StepKind::Connect(_) | StepKind::Read { .. }))
                    .ok_or_else(|| err("`want` must follow connect or read"))?;
                match &mut step.want {
                    Some(w) if last_was_want => w.extend(bytes),
                    Some(_) => return Err(err("a second `want` block for one step")),
                    None => step.want = Some(bytes),
                }
            }
            _ => return Err(err("unknown step")),
        }
        last_was_want = want_now;
    }
    Ok(t)
}

fn push(t: &mut Transcript, line: usize, text: &str, kind: StepKind) {
    t.steps.push(Step {
        line,
        text: text.to_string(),
        kind,
        want: None,
    });
}

fn conn_name(s: &str, err: &dyn Fn(&str) -> String) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err("bad connection name"));
    }
    Ok(s.to_string())
}

/// The transcript escapes (see the module doc) to bytes.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('s') => out.push(b' '),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
            }
            Some('[') => {
                let body: String = chars.by_ref().take_while(|&c| c != ']').collect();
                let (b, n) = body.split_once('*').ok_or("expected \\[c*N]")?;
                let n: usize = n.parse().map_err(|_| "bad count in \\[c*N]")?;
                out.extend(b.as_bytes().repeat(n));
            }
            other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

/// Bytes shown with the transcript escapes; long runs of one byte are folded.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let run = bytes[i..].iter().take_while(|&&x| x == b).count();
        if run >= 16 && b.is_ascii_graphic() && b != b'\\' {
            out.push_str(&format!("\\[{}*{run}]", b as char));
            i += run;
            continue;
        }
        push_escaped(&mut out, b);
        i += 1;
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// The runner's own pieces, checked without a server.

#[test]
fn escapes_round_trip_and_fold_runs() {
    let bytes = unescape(r"PUB a 3\r\n\x00\\\s\t\[x*20]").expect("valid escapes");
    let mut want = b"PUB a 3\r\n\x00\\ \t".to_vec();
    want.extend([b'x'; 20]);
    assert_eq!(bytes, want);
    assert_eq!(escape(&bytes), r#""PUB a 3\r\n\x00\\ \t\[x*20]""#);
    assert_eq!(
        unescape(&escape(&bytes).trim_matches('"').replace(' ', r"\s")),
        Ok(bytes)
    );
    assert!(unescape(r"\q").is_err());
}

#[test]
fn frames_cut_msg_payloads_by_their_size() {
    let bytes = b"MSG a 1 4\r\nx\r\ny\r\nPONG\r\nHMSG b 2 r 12 12\r\nNATS/1.0\r\n\r\n\r\n+OK";
    let got = frames(bytes);
    assert_eq!(
        got,
        vec![
            &b"MSG a 1 4\r\nx\r\ny\r\n"[..],
            b"PONG\r\n",
            b"HMSG b 2 r 12 12\r\nNATS/1.0\r\n\r\n\r\n",
            b"+OK"
        ]
    );
    assert_eq!(msg_sid(got[2]).as_deref(), Some("2"));
    assert_eq!(msg_sid(got[1]), None);
}

#[test]
fn info_is_reduced_to_its_comparable_keys() {
    let info = br#"INFO {"server_id":"N1","version":"2.15.1","proto":1,"port":4222,"headers":true,"max_payload":1024} "#;
    let frame = [&info[..], b"\r\n"].concat();
    assert_eq!(
        normalise_frame(&frame),
        br#"INFO {"headers":true,"max_payload":1024,"proto":1} "#
            .iter()
            .chain(b"\r\n")
            .copied()
            .collect::<Vec<u8>>()
    );
    // Not the nats-server shape: kept as it is, so the difference shows.
    let no_space = br#"INFO {"proto":1}"#.iter().chain(b"\r\n").copied().collect::<Vec<u8>>();
    assert_eq!(normalise_frame(&no_space), no_space);
    let spaced = br#"INFO {"proto": 1} "#.iter().chain(b"\r\n").copied().collect::<Vec<u8>>();
    assert_eq!(normalise_frame(&spaced), spaced);
}

#[test]
fn read_modes_render_what_they_promise() {
    let b: &[u8] = b"MSG q 1 1\r\nx\r\nPING\r\nMSG q 1 1\r\nx\r\nPONG\r\n";
    let c: &[u8] = b"MSG q 7 1\r\nx\r\n";
    let seen = [("B", b, false), ("C", c, true)];
    let groups = vec![vec![
        ("B".to_string(), "1".to_string()),
        ("C".to_string(), "7".to_string()),
    ]];
    assert_eq!(
        render_read(&ReadMode::Count(groups), &seen, false),
        b"B:1+C:7=3\nPONG\r\n<EOF:C>"
    );
    assert_eq!(
        render_read(&ReadMode::Spread, &seen, false),
        b"3 msgs, each got at least a sixth\n<EOF:C>"
    );
    let one: [(&str, &[u8], bool); 1] =
        [("B", b"PONG\r\nPING\r\nMSG a 1 1\r\nx\r\n-ERR 'x'\r\n", true)];
    assert_eq!(
        render_read(&ReadMode::Unordered, &one, false),
        b"-ERR 'x'\r\nMSG a 1 1\r\nx\r\nPONG\r\n<EOF>"
    );
    assert_eq!(
        render_read(&ReadMode::Exact, &one, true),
        b"PONG\r\nPING\r\nMSG a 1 1\r\nx\r\n-ERR 'x'\r\n<EOF>"
    );
    assert_eq!(
        render_read(&ReadMode::Errors, &one, false),
        b"-ERR 'x'\r\n<EOF>"
    );
}

#[test]
fn transcript_syntax_errors_are_reported() {
    assert!(parse_transcript("connect A\nwant x\nwant y\n").is_ok());
    assert!(parse_transcript("want x\n").is_err());
    assert!(parse_transcript("connect A\nread A,B\n").is_err());
    assert!(parse_transcript("connect A\nserver max_payload=1\n").is_err());
    assert!(parse_transcript("frobnicate A\n").is_err());
    assert!(parse_transcript("connect A\nread A 50 count A1\n").is_err());
}
