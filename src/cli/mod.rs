//! The command line: nats-server's flags with their names and meanings, Go's single-dash
//! spellings, `--signal` requests, and how flags and the `-c` file merge into [`Options`]
//! (the file first, flags over it, as nats-server does).

use std::path::PathBuf;

use clap::Parser;

pub mod streaming;

use crate::config::{
    Options, OptionsError, TlsConfig, SHARDS_MAX, SPIN_BEFORE_PARK_US_MAX, TLS_TIMEOUT_MS_DEFAULT,
};

/// Heading of the flags natrix accepts for nats-server compatibility but ignores.
const NOT_SUPPORTED_HEADING: &str = "Accepted for nats-server compatibility, not supported yet";

/// The command line: nats-server's flag names and meanings where nats-server has the flag.
/// nats-server parses flags with Go's `flag` package, so `-config`, `-js`, `-sd`, `-ms`,
/// `-sl`, `-VV` work there; [`go_style_args`] rewrites them for clap, and
/// [`Cli::parse_args`] applies it.
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
    /// File to store PID
    #[arg(short = 'P', long = "pid", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Use port for http monitoring (-1 picks a free port)
    #[arg(
        short = 'm',
        long = "http_port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub http_port: Option<i32>,
    /// Use port for https monitoring (also -ms)
    #[arg(
        long = "https_port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub https_port: Option<i32>,
    /// Configuration file; flags override what it says
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Test configuration and exit
    #[arg(short = 't')]
    pub test_config: bool,
    /// Send signal to natrix process (ldm, stop, quit, term, reopen, reload); <pid> can be
    /// either a PID (e.g. 1) or the path to a PID file (also -sl)
    #[arg(long = "signal", value_name = "SIGNAL[=PID]")]
    pub signal: Option<String>,
    /// natrix: number of shards, one executor each (default: one per available core)
    #[arg(long = "shards", value_name = "N")]
    pub shards: Option<usize>,
    /// File to redirect log output
    #[arg(short = 'l', long = "log", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Timestamp log entries (default: true; -T=false turns them off)
    #[arg(short = 'T', long = "logtime", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub logtime: Option<bool>,
    /// Enable debugging output
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Trace the raw protocol (-VV, -DV, -DVV work too)
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// Maximum printable length for traced messages. 0 for unlimited
    #[arg(
        long = "max_traced_msg_len",
        value_name = "LEN",
        allow_hyphen_values = true
    )]
    pub max_traced_msg_len: Option<i64>,
    /// User required for connections
    #[arg(long = "user", value_name = "USER", allow_hyphen_values = true)]
    pub user: Option<String>,
    /// Password required for connections
    #[arg(long = "pass", value_name = "PASSWORD", allow_hyphen_values = true)]
    pub pass: Option<String>,
    /// Authorization token required for connections
    #[arg(long = "auth", value_name = "TOKEN", allow_hyphen_values = true)]
    pub auth: Option<String>,
    /// Enable TLS, do not verify clients (default: false)
    #[arg(long = "tls", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Server certificate file
    #[arg(long = "tlscert", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key for server certificate
    #[arg(long = "tlskey", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Enable TLS, verify client certificates
    #[arg(long = "tlsverify", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Client certificate CA for verification
    #[arg(long = "tlscacert", value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,
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
    #[command(flatten)]
    pub streaming: streaming::StreamingFlags,
    #[command(flatten)]
    pub not_supported: NotSupportedFlags,
}

/// nats-server flags for features natrix lacks: accepted, so scripts written for
/// nats-server start, and reported in [`Options::warnings`].
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = NOT_SUPPORTED_HEADING)]
pub struct NotSupportedFlags {
    /// Enable JetStream functionality (also -js)
    #[arg(long = "jetstream", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub jetstream: Option<bool>,
    /// Set the storage directory (also -sd)
    #[arg(long = "store_dir", value_name = "DIR")]
    pub store_dir: Option<String>,
    /// Routes to solicit and connect
    #[arg(long = "routes", value_name = "URLS")]
    pub routes: Option<String>,
    /// Cluster URL for solicited routes
    #[arg(long = "cluster", visible_alias = "cluster_listen", value_name = "URL")]
    pub cluster: Option<String>,
    /// Cluster name
    #[arg(long = "cluster_name", value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// Do not advertise known cluster information to clients
    #[arg(long = "no_advertise", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub no_advertise: Option<bool>,
    /// Cluster URL to advertise to other servers
    #[arg(long = "cluster_advertise", value_name = "URL")]
    pub cluster_advertise: Option<String>,
    /// For implicit routes, number of connect retries
    #[arg(long = "connect_retries", value_name = "N")]
    pub connect_retries: Option<i64>,
    /// Client URL to advertise to other servers
    #[arg(long = "client_advertise", value_name = "URL")]
    pub client_advertise: Option<String>,
    /// Creates a ports file in the specified directory
    #[arg(long = "ports_file_dir", value_name = "DIR")]
    pub ports_file_dir: Option<String>,
    /// Timestamps in UTC instead of local timezone
    #[arg(long = "logtime_utc", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub logtime_utc: Option<bool>,
    /// Log to syslog
    #[arg(short = 's', long = "syslog", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub syslog: Option<bool>,
    /// Syslog server addr
    #[arg(short = 'r', long = "remote_syslog", value_name = "ADDR")]
    pub remote_syslog: Option<String>,
    /// Logfile size limit
    #[arg(long = "log_size_limit", value_name = "LIMIT")]
    pub log_size_limit: Option<String>,
    /// Profiling HTTP port
    #[arg(long = "profile", value_name = "PORT")]
    pub profile: Option<i64>,
}

impl NotSupportedFlags {
    /// The flags given, by their long names.
    fn given(&self) -> Vec<&'static str> {
        let flags = [
            ("routes", self.routes.is_some()),
            ("cluster", self.cluster.is_some()),
            ("cluster_name", self.cluster_name.is_some()),
            ("no_advertise", self.no_advertise.is_some()),
            ("cluster_advertise", self.cluster_advertise.is_some()),
            ("connect_retries", self.connect_retries.is_some()),
            ("client_advertise", self.client_advertise.is_some()),
            ("ports_file_dir", self.ports_file_dir.is_some()),
            ("logtime_utc", self.logtime_utc.is_some()),
            ("syslog", self.syslog.is_some()),
            ("remote_syslog", self.remote_syslog.is_some()),
            ("log_size_limit", self.log_size_limit.is_some()),
            ("profile", self.profile.is_some()),
        ];
        flags.iter().filter(|f| f.1).map(|f| f.0).collect()
    }
}

/// nats-server's single-dash spellings that are not a cluster of short flags.
const GO_SHORT_ALIASES: &[(&str, &str)] = &[
    ("-js", "--jetstream"),
    ("-sd", "--store_dir"),
    ("-ms", "--https_port"),
    ("-sl", "--signal"),
    // natrix has one trace level: verbose trace is trace.
    ("-VV", "-V"),
    ("-DVV", "-DV"),
];

/// Rewrites Go-style arguments into clap's: the aliases above, and `-name[=value]` for any
/// long flag `--name` (Go's `flag` takes one dash or two). A value that follows a flag is
/// left alone, so `--pass -user` keeps the password `-user`.
pub fn go_style_args<I, T>(args: I) -> Vec<std::ffi::OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Until built, arguments do not know how many values they take.
    cmd.build();
    let takes_value = |a: &clap::Arg| {
        a.get_action().takes_values() && a.get_num_args().is_some_and(|n| n.min_values() > 0)
    };
    let long_takes_value = |name: &str| {
        cmd.get_arguments()
            .find(|a| {
                a.get_long_and_visible_aliases()
                    .is_some_and(|l| l.contains(&name))
            })
            .map(takes_value)
    };
    let short_takes_value = |c: char| {
        cmd.get_arguments()
            .find(|a| a.get_short() == Some(c))
            .is_some_and(takes_value)
    };
    let mut out = Vec::new();
    let mut value_next = false;
    for (i, arg) in args.into_iter().map(Into::into).enumerate() {
        let text = arg.to_str().map(str::to_owned);
        if i == 0 || value_next || text.is_none() {
            value_next = false;
            out.push(arg);
            continue;
        }
        let text = text.unwrap_or_default();
        let (flag, value) = match text.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (text.clone(), None),
        };
        let rewritten = if let Some(&(_, to)) = GO_SHORT_ALIASES
            .iter()
            .chain(streaming::STREAMING_SHORT_ALIASES)
            .find(|a| a.0 == flag)
        {
            to.to_owned()
        } else if flag.len() > 2
            && flag.starts_with('-')
            && !flag.starts_with("--")
            && long_takes_value(&flag[1..]).is_some()
        {
            format!("-{flag}")
        } else {
            flag.clone()
        };
        value_next = value.is_none()
            && if let Some(long) = rewritten.strip_prefix("--") {
                long_takes_value(long) == Some(true)
            } else if let Some(shorts) = rewritten.strip_prefix('-') {
                // In a cluster like `-Dp`, the last flag may take the next argument.
                shorts.chars().last().is_some_and(short_takes_value) && shorts.len() == 1
            } else {
                false
            };
        out.push(match value {
            Some(v) => format!("{rewritten}={v}").into(),
            None => rewritten.into(),
        });
    }
    out
}

/// What `--signal` asks for (nats-server's `--signal` commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalCommand {
    /// SIGKILL: kill at once.
    Stop,
    /// SIGINT: shut down.
    Quit,
    /// SIGTERM: shut down (ignored during lame duck mode).
    Term,
    /// SIGUSR1: reopen the log file.
    Reopen,
    /// SIGHUP: reload the config file.
    Reload,
    /// SIGUSR2: enter lame duck mode.
    LameDuck,
}

/// Which process `--signal` goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalTarget {
    /// No `=pid`: the one running natrix process.
    Any,
    Pid(u32),
    /// `=path` that is not a number: a pid file to read.
    PidFile(PathBuf),
}

/// A `--signal` value that cannot be used; messages are nats-server's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalError {
    Unknown(String),
    /// `cmd=a=b`: the parts after the second `=`.
    TooManyParts(Vec<String>),
    InvalidPid(String),
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalError::Unknown(cmd) => write!(f, "unknown signal {cmd:?}"),
            SignalError::TooManyParts(rest) => {
                write!(f, "invalid signal parameters: [{}]", rest.join(" "))
            }
            SignalError::InvalidPid(pid) => write!(f, "invalid pid: {pid}"),
        }
    }
}

impl std::error::Error for SignalError {}

/// Parses `<command>[=<pid|pidfile>]`.
pub fn parse_signal(text: &str) -> Result<(SignalCommand, SignalTarget), SignalError> {
    let mut parts = text.split('=');
    let command = parts.next().unwrap_or_default();
    let target = parts.next();
    let rest: Vec<String> = parts.map(str::to_owned).collect();
    if !rest.is_empty() {
        return Err(SignalError::TooManyParts(rest));
    }
    let command = match command {
        "stop" => SignalCommand::Stop,
        "quit" => SignalCommand::Quit,
        "term" => SignalCommand::Term,
        "reopen" => SignalCommand::Reopen,
        "reload" => SignalCommand::Reload,
        "ldm" => SignalCommand::LameDuck,
        other => return Err(SignalError::Unknown(other.to_owned())),
    };
    let target = match target {
        None => SignalTarget::Any,
        Some("") => return Err(SignalError::InvalidPid(String::new())),
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => SignalTarget::Pid(
            t.parse()
                .map_err(|_| SignalError::InvalidPid(t.to_owned()))?,
        ),
        Some(path) => SignalTarget::PidFile(PathBuf::from(path)),
    };
    Ok((command, target))
}

/// Why the command line cannot start a server.
#[derive(Debug)]
pub enum CliError {
    /// A flag value out of range.
    Flag(String),
    /// The `-c` file cannot be read, parsed or applied.
    Config(crate::conf::settings::LoadError),
    /// The merged options fail nats-server's start-up checks.
    Options(OptionsError),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Flag(m) => f.write_str(m),
            CliError::Config(e) => e.fmt(f),
            CliError::Options(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CliError {}

impl Cli {
    /// Parses the process's arguments, Go spellings included (see [`go_style_args`]); on a
    /// bad flag, prints clap's message and exits as `Cli::parse` does.
    pub fn parse_args() -> Cli {
        Cli::parse_from(go_style_args(std::env::args_os()))
    }

    /// The `--signal` request, if any.
    pub fn signal_request(&self) -> Option<Result<(SignalCommand, SignalTarget), SignalError>> {
        self.signal.as_deref().map(parse_signal)
    }

    /// Builds the options: defaults, then the `-c` file, then the flags given, which override
    /// it (as in nats-server); then nats-server's start-up checks.
    pub fn into_options(self) -> Result<Options, CliError> {
        let mut o = Options::default();
        if self.test_config && self.config.is_none() {
            return Err(CliError::Flag(
                "must specify [-c, --config] option to check configuration file syntax".into(),
            ));
        }
        if let Some(path) = &self.config {
            use crate::conf::settings::{self, LoadError};
            let map =
                crate::conf::parse_file(path).map_err(|e| CliError::Config(LoadError::Parse(e)))?;
            let applied = settings::apply_unchecked(&mut o, &map);
            let warnings = applied
                .into_result()
                .map_err(|e| CliError::Config(LoadError::Settings(e)))?;
            o.warnings.extend(warnings.iter().map(|w| w.to_string()));
            o.config_file = Some(path.clone());
        }
        for flag in self.not_supported.given() {
            o.warnings.push(format!(
                "flag --{flag} is not supported by natrix yet and is ignored"
            ));
        }
        match self.not_supported.jetstream {
            Some(true) => {
                o.jetstream.get_or_insert_with(Default::default);
            }
            Some(false) => o.jetstream = None,
            None => {}
        }
        if let Some(d) = &self.not_supported.store_dir {
            o.store_dir = Some(d.into());
        }
        self.streaming
            .apply(&mut o.streaming)
            .map_err(CliError::Flag)?;
        if let Some(a) = self.addr {
            o.host = a;
        }
        if let Some(p) = self.port {
            o.port = match p {
                -1 | 0 => 0,
                p if (1..=65535).contains(&p) => p as u16,
                p => return Err(CliError::Flag(format!("invalid port {p}"))),
            };
        }
        if self.name.is_some() {
            o.server_name = self.name;
        }
        if let Some(n) = self.shards {
            if !(1..=SHARDS_MAX).contains(&n) {
                return Err(CliError::Flag(format!(
                    "--shards must be between 1 and {SHARDS_MAX}"
                )));
            }
            o.shards = n;
        }
        o.debug |= self.debug;
        o.trace |= self.trace;
        if let Some(n) = self.max_traced_msg_len {
            o.logging.max_traced_msg_len_bytes = usize::try_from(n).unwrap_or(0);
        }
        if let Some(t) = self.logtime {
            o.logging.time = t;
        }
        if self.log_file.is_some() {
            o.logging.file = self.log_file;
        }
        if self.pid_file.is_some() {
            o.pid_file = self.pid_file;
        }
        if let Some(p) = self.http_port {
            o.monitor.http_port = monitor_port_flag(p, "-m/--http_port")?;
        }
        if let Some(p) = self.https_port {
            o.monitor.https_port = monitor_port_flag(p, "--https_port")?;
        }
        if self.user.is_some() {
            o.auth.user = self.user;
        }
        if let Some(p) = self.pass {
            o.auth.password = Some(crate::auth::Secret(p));
        }
        if let Some(t) = self.auth {
            o.auth.token = Some(crate::auth::Secret(t));
        }
        tls_flags(
            &mut o,
            self.tls,
            self.tls_cert,
            self.tls_key,
            self.tls_verify,
            self.tls_ca_cert,
        )?;
        if let Some(s) = self.ping_interval_s {
            if !s.is_finite() || s <= 0.0 {
                return Err(CliError::Flag("--ping_interval must be positive".into()));
            }
            o.limits.ping_interval_ms = (s * 1000.0).round().max(1.0) as u64;
            o.limits.first_ping_ms =
                crate::conf::settings::first_ping_ms(o.limits.ping_interval_ms);
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
                return Err(CliError::Flag(format!(
                    "--spin_us must be at most {SPIN_BEFORE_PARK_US_MAX}"
                )));
            }
            o.spin_before_park_us = Some(us);
        }
        o.validate().map_err(CliError::Options)?;
        Ok(o)
    }
}

/// `-m`/`--https_port`: 0 turns monitoring off, -1 picks a free port.
fn monitor_port_flag(p: i32, flag: &str) -> Result<Option<u16>, CliError> {
    match p {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        p if (1..=65535).contains(&p) => Ok(Some(p as u16)),
        p => Err(CliError::Flag(format!("invalid port {p} for {flag}"))),
    }
}

/// nats-server: any `--tls*` flag replaces the file's certificate settings (keeping its
/// timeout and handshake_first), and then needs both a certificate and a key; `--tls=false`
/// turns TLS off whatever else is given.
fn tls_flags(
    o: &mut Options,
    tls: Option<bool>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    verify: Option<bool>,
    ca: Option<PathBuf>,
) -> Result<(), CliError> {
    if tls == Some(false) {
        o.tls = None;
        return Ok(());
    }
    if tls.is_none() && cert.is_none() && key.is_none() && verify.is_none() && ca.is_none() {
        return Ok(());
    }
    let cert = cert
        .ok_or_else(|| CliError::Flag("TLS Server certificate must be present and valid".into()))?;
    let key = key
        .ok_or_else(|| CliError::Flag("TLS Server private key must be present and valid".into()))?;
    let (timeout_ms, handshake_first) =
        o.tls.as_ref().map_or((TLS_TIMEOUT_MS_DEFAULT, false), |t| {
            (t.timeout_ms, t.handshake_first)
        });
    o.tls = Some(TlsConfig {
        cert_file: cert,
        key_file: key,
        ca_file: ca,
        verify: verify.unwrap_or(false),
        handshake_first,
        timeout_ms,
    });
    Ok(())
}

#[cfg(test)]
mod tests;
