//! Every option and limit of the broker, in one place (the command line is `cli.rs`).
//!
//! Invariants: each limit carries its unit in its name; [`Limits::validate`] checks the
//! relations between them (nats-server refuses to start when max_payload > max_pending), and
//! the server never starts with limits that fail it.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::AuthConfig;

/// Most shards one server runs: routing keeps the shards with interest in a subject as bits
/// of a `u64`.
pub const SHARDS_MAX: usize = 64;

/// nats-server's default client port.
pub const DEFAULT_PORT: u16 = 4222;

/// Every bound the broker enforces. Defaults are nats-server's (reference §6) unless the
/// field says it is natrix's own.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest PUB/HPUB total size (headers + payload).
    pub max_payload_bytes: usize,
    /// Longest argument of a control line (after the op name, without CRLF).
    pub max_control_line_bytes: usize,
    /// Outbound bytes queued for one connection before it is closed as a slow consumer.
    pub max_pending_bytes: usize,
    /// Interval of server PINGs after the first one.
    pub ping_interval_ms: u64,
    /// Unanswered server PINGs tolerated; one more and the connection is stale.
    pub ping_max: u32,
    /// Delay of the first server PING after accept (nats-server: min(2 s, ping_interval)).
    pub first_ping_ms: u64,
    /// natrix: the largest read buffer of a connection (it starts at 512 bytes and grows to
    /// this under load; `shard/io.rs`).
    pub read_buffer_bytes: usize,
    /// natrix: items sent to one destination shard and not yet applied there before the
    /// connections of the source shard stop reading (back-pressure).
    pub shard_outbox_items_max: usize,
    /// natrix: payload bytes sent to one destination shard and not yet applied there before
    /// the same happens.
    pub shard_outbox_bytes_max: usize,
    /// Longest a producer (a reader or a shard receiver) waits in one pass for consumers
    /// above the stall mark to drain (nats-server: 10 ms).
    pub producer_stall_max_ms: u64,
    /// natrix: entries of each subject-index match cache.
    pub sublist_cache_entries_max: usize,
    /// natrix: free outbound chunks (64 KiB each) a shard keeps for reuse: enough for one
    /// consumer's whole max_pending backlog, so refilling it does not fault in fresh pages.
    pub out_chunks_pooled_max: usize,
    /// Client connections the server accepts at once; 0 rejects every connection
    /// (`max_connections: 0` in a config file means that in nats-server too).
    pub max_connections: usize,
    /// Subscriptions one connection may hold; 0 = unlimited.
    pub max_subscriptions: usize,
    /// Longest one write to a client may block before it is closed as a slow consumer.
    pub write_deadline_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 1024 * 1024,
            max_control_line_bytes: 4096,
            max_pending_bytes: 64 * 1024 * 1024,
            ping_interval_ms: 120_000,
            ping_max: 2,
            first_ping_ms: 2_000,
            read_buffer_bytes: 64 * 1024,
            shard_outbox_items_max: 64 * 1024,
            shard_outbox_bytes_max: 4 * 1024 * 1024,
            producer_stall_max_ms: 10,
            sublist_cache_entries_max: 4096,
            out_chunks_pooled_max: 1024,
            max_connections: 65_536,
            max_subscriptions: 0,
            write_deadline_ms: 10_000,
        }
    }
}

/// Why a set of limits cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitsError {
    PayloadOverPending {
        max_payload_bytes: usize,
        max_pending_bytes: usize,
    },
    Zero(&'static str),
}

impl std::fmt::Display for LimitsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitsError::PayloadOverPending {
                max_payload_bytes,
                max_pending_bytes,
            } => write!(
                f,
                "max_payload ({max_payload_bytes}) cannot be higher than max_pending \
                 ({max_pending_bytes})"
            ),
            LimitsError::Zero(name) => write!(f, "{name} must be greater than zero"),
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), LimitsError> {
        if self.max_payload_bytes > self.max_pending_bytes {
            return Err(LimitsError::PayloadOverPending {
                max_payload_bytes: self.max_payload_bytes,
                max_pending_bytes: self.max_pending_bytes,
            });
        }
        for (name, v) in [
            ("max_control_line", self.max_control_line_bytes),
            ("read buffer", self.read_buffer_bytes),
            ("ping_interval", self.ping_interval_ms as usize),
        ] {
            if v == 0 {
                return Err(LimitsError::Zero(name));
            }
        }
        Ok(())
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }
}

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Options {
    pub host: String,
    /// 0 picks a free port (logged at start).
    pub port: u16,
    pub server_name: Option<String>,
    pub shards: usize,
    pub debug: bool,
    pub trace: bool,
    /// natrix: how long an idle shard polls before it sleeps (0: it sleeps at once). Unset:
    /// [`SPIN_BEFORE_PARK_US_MULTI`] with more than one shard ([`SPIN_BEFORE_PARK_US_SYNCING`]
    /// when commits wait for fdatasync), else 0.
    pub spin_before_park_us: Option<u64>,
    pub limits: Limits,
    /// The config file the options came from (`-c`); SIGHUP reads it again.
    pub config_file: Option<PathBuf>,
    pub auth: AuthConfig,
    /// Set: clients must speak TLS.
    pub tls: Option<TlsConfig>,
    pub monitor: MonitorConfig,
    pub logging: LogConfig,
    /// `-P` / `pid_file`: where the server writes its pid at start.
    pub pid_file: Option<PathBuf>,
    /// Lame duck mode: how long evicting every client takes in all.
    pub lame_duck_duration_ms: u64,
    /// Lame duck mode: the wait before the first client is closed.
    pub lame_duck_grace_period_ms: u64,
    /// `-js` / `jetstream { }`: JetStream on, with these settings.
    pub jetstream: Option<JetStreamOptions>,
    /// NATS Streaming, when nats-streaming-server's flags or a `streaming {}` block ask for it.
    pub streaming: Option<StreamingOptions>,
    /// `-sd` / `store_dir`: where JetStream keeps its files (also settable in the block).
    pub store_dir: Option<PathBuf>,
    /// Settings that were accepted but do nothing in natrix (flags and config keys of
    /// features it lacks), and integers read as seconds: the caller logs each before start.
    pub warnings: Vec<String>,
}

/// The `jetstream { }` block (nats-server's names).
#[derive(Clone, Debug, PartialEq)]
pub struct JetStreamOptions {
    /// `sync_interval: always`: every batch of publishes is fdatasync'ed before its acks.
    pub sync_always: bool,
    /// Otherwise, how often the store syncs to disk (nats-server's default: 2 minutes).
    pub sync_interval_ms: u64,
    /// `max_memory_store`, `max_file_store`: -1 = no limit (reported as the machine's).
    pub max_memory_bytes: i64,
    pub max_file_bytes: i64,
    pub domain: Option<String>,
}

/// NATS Streaming's options (nats-streaming-server's flags and `streaming {}` keys); limits
/// left `None` keep nats-streaming-server's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamingOptions {
    pub cluster_id: String,
    pub discover_prefix: String,
    /// `-st FILE`: channels in files under `dir`.
    pub file_store: bool,
    pub dir: Option<PathBuf>,
    /// `--file_sync` / `file { sync_on_flush }`: the file store fdatasyncs every flush before
    /// its PubAcks go out (default, nats-streaming-server's too); off, acked means written.
    pub file_sync: bool,
    pub hb_interval_ms: u64,
    pub hb_timeout_ms: u64,
    pub hb_fail_count: u32,
    pub channels_max: Option<u64>,
    pub subs_max: Option<u64>,
    pub msgs_max: Option<u64>,
    pub bytes_max: Option<u64>,
    pub age_max_ms: Option<u64>,
    pub inactivity_max_ms: Option<u64>,
    /// `store_limits { channels { "orders.*": { max_msgs: 10 } } }`, in file order.
    pub per_channel: Vec<(String, ChannelLimitsConfig)>,
}

/// One channel's limits in `store_limits.channels`: 0 inherits the global limit, a negative
/// value is unlimited (nats-streaming-server's rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelLimitsConfig {
    pub subs_max: i64,
    pub msgs_max: i64,
    pub bytes_max: i64,
    pub age_max_ms: i64,
    pub inactivity_max_ms: i64,
}

impl Default for StreamingOptions {
    fn default() -> Self {
        StreamingOptions {
            cluster_id: "test-cluster".into(),
            discover_prefix: "_STAN.discover".into(),
            file_store: false,
            dir: None,
            file_sync: true,
            hb_interval_ms: 30_000,
            hb_timeout_ms: 10_000,
            hb_fail_count: 10,
            channels_max: None,
            subs_max: None,
            msgs_max: None,
            bytes_max: None,
            age_max_ms: None,
            inactivity_max_ms: None,
            per_channel: Vec::new(),
        }
    }
}

/// nats-server's default `sync_interval`.
pub const JS_SYNC_INTERVAL_MS_DEFAULT: u64 = 120_000;

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            sync_always: false,
            sync_interval_ms: JS_SYNC_INTERVAL_MS_DEFAULT,
            max_memory_bytes: -1,
            max_file_bytes: -1,
            domain: None,
        }
    }
}

impl Options {
    /// Where JetStream's files go: `store_dir`, else nats-server's default under the temp dir.
    pub fn js_store_dir(&self) -> PathBuf {
        self.store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nats"))
    }
}

/// The `tls { }` block and the `--tls*` flags.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// CA certificates that client certificates must chain to (with `verify`).
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
    /// The TLS handshake comes before INFO, instead of after it.
    pub handshake_first: bool,
    /// Longest a TLS handshake may take.
    pub timeout_ms: u64,
}

/// TLS handshake timeout when the config gives none (nats-server: 2 s).
pub const TLS_TIMEOUT_MS_DEFAULT: u64 = 2_000;
/// Auth timeout without TLS (nats-server: 2 s); with TLS it is tls.timeout + 1 s.
pub const AUTH_TIMEOUT_MS_DEFAULT: u64 = 2_000;

/// The HTTP monitoring listener (`-m`, `--https_port`, `http`, `http_port`, `monitor_port`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MonitorConfig {
    /// Host the monitor listens on; unset: the client host.
    pub host: Option<String>,
    /// Port for plain HTTP; 0 picks a free one (logged); unset: no monitoring.
    pub http_port: Option<u16>,
    /// Port for HTTPS (needs `tls`).
    pub https_port: Option<u16>,
}

/// `-l`/`log_file`, `-T`/`logtime`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    pub file: Option<PathBuf>,
    /// Timestamps on log lines (nats-server's default: on).
    pub time: bool,
    /// How much of a message payload `-V` traces (0: all of it).
    pub max_traced_msg_len_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            file: None,
            time: true,
            max_traced_msg_len_bytes: 0,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".into(),
            port: DEFAULT_PORT,
            server_name: None,
            shards: default_shards(),
            debug: false,
            trace: false,
            spin_before_park_us: None,
            limits: Limits::default(),
            config_file: None,
            auth: AuthConfig::default(),
            tls: None,
            monitor: MonitorConfig::default(),
            logging: LogConfig::default(),
            pid_file: None,
            lame_duck_duration_ms: 120_000,
            lame_duck_grace_period_ms: 10_000,
            jetstream: None,
            streaming: None,
            store_dir: None,
            warnings: Vec::new(),
        }
    }
}

/// Longest `--spin_us`: polling longer than this between messages only burns CPU.
pub const SPIN_BEFORE_PARK_US_MAX: u64 = 100_000;
/// The default `--spin_us` with more than one shard. glommio 0.9 issues a process-wide
/// `membarrier` each time an executor parks, which interrupts the other shards' cores; on a
/// 2-shard server it made request/reply cost twice nats-server's CPU per request and halved
/// its rate. Polling 200 µs first keeps busy shards from parking between messages
/// (docs/PERFORMANCE.md).
pub const SPIN_BEFORE_PARK_US_MULTI: u64 = 200;
/// The default `--spin_us` with more than one shard when commits wait for fdatasync
/// (`sync_interval: always`, NATS Streaming's file store with `file_sync`). A sync's kernel work (io_uring's
/// worker, pinned like the shard that made the ring, and the file system's journal thread)
/// needs the cores that polling shards hold: with 200 µs a synchronous JetStream publish took
/// 2–2.5× as long as with 50 µs (docs/PERFORMANCE.md, "Polling and fdatasync").
pub const SPIN_BEFORE_PARK_US_SYNCING: u64 = 50;

impl Options {
    /// How long a client has to send CONNECT when auth is required.
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth.timeout_ms.unwrap_or(match &self.tls {
            Some(t) => t.timeout_ms + 1_000,
            None => AUTH_TIMEOUT_MS_DEFAULT,
        }))
    }

    /// How long an idle shard polls before it sleeps.
    pub fn spin_before_park(&self) -> Duration {
        let default = if self.shards <= 1 {
            0
        } else if self.commits_wait_for_sync() {
            SPIN_BEFORE_PARK_US_SYNCING
        } else {
            SPIN_BEFORE_PARK_US_MULTI
        };
        Duration::from_micros(self.spin_before_park_us.unwrap_or(default))
    }

    /// Whether a commit's acknowledgements wait for an fdatasync: JetStream with
    /// `sync_interval: always`, or NATS Streaming on its file store with `file_sync` on.
    pub fn commits_wait_for_sync(&self) -> bool {
        self.jetstream.as_ref().is_some_and(|j| j.sync_always)
            || self
                .streaming
                .as_ref()
                .is_some_and(|s| s.file_store && s.file_sync)
    }
}

/// Shortest lame duck duration nats-server accepts.
pub const LAME_DUCK_DURATION_MS_MIN: u64 = 30_000;

/// Why options, taken together, cannot start a server: nats-server's start-up checks
/// (`validateOptions`, `validateNoAuthUser`, the monitor start), with its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    Limits(LimitsError),
    LameDuckGrace {
        grace_period_ms: u64,
        duration_ms: u64,
    },
    ServerNameSpaces,
    BothMonitorPorts {
        http_port: u16,
        https_port: u16,
    },
    NoAuthUserWithoutUsers(String),
    NoAuthUserUnknown(String),
}

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionsError::Limits(e) => e.fmt(f),
            OptionsError::LameDuckGrace {
                grace_period_ms,
                duration_ms,
            } => write!(
                f,
                "lame duck grace period ({}) should be strictly lower than lame duck duration \
                 ({})",
                go_duration(*grace_period_ms),
                go_duration(*duration_ms)
            ),
            OptionsError::ServerNameSpaces => f.write_str("server name cannot contain spaces"),
            OptionsError::BothMonitorPorts {
                http_port,
                https_port,
            } => write!(
                f,
                "can't specify both HTTP ({http_port}) and HTTPs ({https_port}) ports"
            ),
            OptionsError::NoAuthUserWithoutUsers(u) => write!(
                f,
                "no_auth_user: \"{u}\" present, but users/nkeys are not defined"
            ),
            OptionsError::NoAuthUserUnknown(u) => write!(
                f,
                "no_auth_user: \"{u}\" not present as user or nkey in authorization block or \
                 account configuration"
            ),
        }
    }
}

impl std::error::Error for OptionsError {}

/// Milliseconds the way Go prints a `time.Duration` (`10s`, `2m0s`, `1.5s`, `500ms`).
fn go_duration(ms: u64) -> String {
    crate::gofmt::duration(Duration::from_millis(ms))
}

impl Options {
    /// The checks nats-server makes before it starts, after the config file and the flags
    /// are merged.
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.limits.validate().map_err(OptionsError::Limits)?;
        if self.lame_duck_duration_ms > 0
            && self.lame_duck_grace_period_ms >= self.lame_duck_duration_ms
        {
            return Err(OptionsError::LameDuckGrace {
                grace_period_ms: self.lame_duck_grace_period_ms,
                duration_ms: self.lame_duck_duration_ms,
            });
        }
        if self.server_name.as_deref().is_some_and(|n| n.contains(' ')) {
            return Err(OptionsError::ServerNameSpaces);
        }
        if let (Some(http_port), Some(https_port)) =
            (self.monitor.http_port, self.monitor.https_port)
        {
            return Err(OptionsError::BothMonitorPorts {
                http_port,
                https_port,
            });
        }
        if let Some(user) = &self.auth.no_auth_user {
            let accounts = &self.auth.accounts.accounts;
            let users = self
                .auth
                .users
                .iter()
                .chain(accounts.iter().flat_map(|a| a.users.iter()));
            let nkeys = self
                .auth
                .nkeys
                .iter()
                .chain(accounts.iter().flat_map(|a| a.nkeys.iter()));
            if users.clone().next().is_none() && nkeys.clone().next().is_none() {
                return Err(OptionsError::NoAuthUserWithoutUsers(user.clone()));
            }
            let known = { users }.any(|u| &u.user == user) || { nkeys }.any(|n| &n.nkey == user);
            if !known {
                return Err(OptionsError::NoAuthUserUnknown(user.clone()));
            }
        }
        Ok(())
    }
}

/// One shard per available core.
pub fn default_shards() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
