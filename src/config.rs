//! The command line and every limit of the broker, in one place.
//!
//! Invariants: each limit carries its unit in its name; [`Limits::validate`] checks the
//! relations between them (nats-server refuses to start when max_payload > max_pending), and
//! the server never starts with limits that fail it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

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
    /// natrix: read buffer size per connection, and the size a read buffer grows back to.
    pub read_buffer_bytes: usize,
    /// natrix: batches that may wait in one shard-to-shard channel.
    pub shard_channel_batches_max: usize,
    /// natrix: items queued for one destination shard before the connections of the source
    /// shard stop reading (back-pressure).
    pub shard_outbox_items_max: usize,
    /// natrix: payload bytes queued for one destination shard before the same happens.
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
            shard_channel_batches_max: 16,
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
#[derive(Debug, PartialEq, Eq)]
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
                "max_payload ({max_payload_bytes}) can not be larger than max_pending \
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
            ("shard channel size", self.shard_channel_batches_max),
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
    /// [`SPIN_BEFORE_PARK_US_MULTI`] with more than one shard, else 0.
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
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            file: None,
            time: true,
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
        let default = if self.shards > 1 {
            SPIN_BEFORE_PARK_US_MULTI
        } else {
            0
        };
        Duration::from_micros(self.spin_before_park_us.unwrap_or(default))
    }
}

/// One shard per available core.
pub fn default_shards() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The command line: nats-server's flag names where nats-server has the flag.
#[derive(Parser, Debug)]
#[command(
    name = "natrix",
    version,
    about = "natrix: a NATS-compatible message broker"
)]
#[command(disable_version_flag = true)]
pub struct Cli {
    /// Bind to host address (default: 0.0.0.0)
    #[arg(short = 'a', long = "addr", visible_alias = "net", value_name = "HOST")]
    pub addr: Option<String>,
    /// Use port for clients (default: 4222; 0 or -1 picks a free port)
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub port: Option<i32>,
    /// Server name (default: the server id)
    #[arg(
        short = 'n',
        long = "name",
        visible_alias = "server_name",
        value_name = "NAME"
    )]
    pub name: Option<String>,
    /// natrix: number of shards, one executor each (default: one per available core)
    #[arg(long = "shards", value_name = "N")]
    pub shards: Option<usize>,
    /// Enable debugging output
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Trace the raw protocol
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// natrix: seconds between server PINGs (default 120)
    #[arg(long = "ping_interval", value_name = "SECONDS")]
    pub ping_interval_s: Option<f64>,
    /// natrix: unanswered PINGs before a connection is stale (default 2)
    #[arg(long = "ping_max", value_name = "N")]
    pub ping_max: Option<u32>,
    /// natrix: maximum outbound bytes per connection (default 64 MB)
    #[arg(long = "max_pending", value_name = "BYTES")]
    pub max_pending_bytes: Option<usize>,
    /// natrix: maximum payload bytes (default 1 MB)
    #[arg(long = "max_payload", value_name = "BYTES")]
    pub max_payload_bytes: Option<usize>,
    /// natrix: microseconds an idle shard polls before it sleeps (default 200 with more than
    /// one shard, 0 with one). Polling saves the wake-ups, and with several shards the
    /// cross-core barriers, that dominate request/reply; it costs CPU while idle.
    #[arg(long = "spin_us", value_name = "MICROSECONDS")]
    pub spin_us: Option<u64>,
    /// Show version and exit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

impl Cli {
    /// Turns flags into options; flags not given keep the defaults.
    pub fn into_options(self) -> Result<Options, String> {
        let mut o = Options::default();
        if let Some(a) = self.addr {
            o.host = a;
        }
        if let Some(p) = self.port {
            o.port = match p {
                -1 | 0 => 0,
                p if (1..=65535).contains(&p) => p as u16,
                p => return Err(format!("invalid port {p}")),
            };
        }
        o.server_name = self.name;
        if let Some(n) = self.shards {
            if !(1..=SHARDS_MAX).contains(&n) {
                return Err(format!("--shards must be between 1 and {SHARDS_MAX}"));
            }
            o.shards = n;
        }
        o.debug = self.debug;
        o.trace = self.trace;
        if let Some(s) = self.ping_interval_s {
            if !s.is_finite() || s <= 0.0 {
                return Err("--ping_interval must be positive".into());
            }
            o.limits.ping_interval_ms = (s * 1000.0).round().max(1.0) as u64;
            o.limits.first_ping_ms = o.limits.first_ping_ms.min(o.limits.ping_interval_ms);
        }
        if let Some(n) = self.ping_max {
            o.limits.ping_max = n;
        }
        if let Some(n) = self.max_pending_bytes {
            o.limits.max_pending_bytes = n;
        }
        if let Some(n) = self.max_payload_bytes {
            o.limits.max_payload_bytes = n;
        }
        if let Some(us) = self.spin_us {
            if us > SPIN_BEFORE_PARK_US_MAX {
                return Err(format!(
                    "--spin_us must be at most {SPIN_BEFORE_PARK_US_MAX}"
                ));
            }
            o.spin_before_park_us = Some(us);
        }
        o.limits.validate().map_err(|e| e.to_string())?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let cli = Cli::try_parse_from(std::iter::once("natrix").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.into_options()
    }

    #[test]
    fn defaults_match_nats_server() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4222));
        assert_eq!(o.limits.max_payload_bytes, 1048576);
        assert_eq!(o.limits.max_pending_bytes, 67108864);
        assert_eq!(o.limits.ping_interval_ms, 120_000);
    }

    #[test]
    fn short_and_long_flags_and_combined_debug_trace() {
        let o = parse(&[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-n",
            "x",
            "-DV",
            "--shards",
            "3",
        ])
        .unwrap();
        assert_eq!((o.host.as_str(), o.port, o.shards), ("127.0.0.1", 0, 3));
        assert_eq!(o.server_name.as_deref(), Some("x"));
        assert!(o.debug && o.trace);
        let o = parse(&["--addr", "::1", "--port", "5000", "--name", "y"]).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 5000));
    }

    #[test]
    fn spin_defaults_on_only_with_several_shards_and_is_bounded() {
        let spin = |args: &[&str]| parse(args).unwrap().spin_before_park().as_micros();
        assert_eq!(spin(&["--shards", "1"]), 0);
        assert_eq!(spin(&["--shards", "2"]), 200);
        assert_eq!(spin(&["--shards", "1", "--spin_us", "150"]), 150);
        assert_eq!(spin(&["--shards", "4", "--spin_us", "0"]), 0);
        assert!(parse(&["--spin_us", "100001"]).is_err());
    }

    #[test]
    fn unknown_flag_and_bad_values_are_errors() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--shards", "0"]).is_err());
        assert!(parse(&["--shards", "65"]).is_err());
        assert!(parse(&["-p", "70000"]).is_err());
        assert!(parse(&["--max_payload", "10", "--max_pending", "5"]).is_err());
    }
}
