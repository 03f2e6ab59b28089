//! The settings layer: a parsed config tree ([`Map`]) applied to [`Options`], key by key, the
//! way nats-server's `ProcessConfigFile` does it (server/opts.go).
//!
//! What holds:
//! * Keys match case-insensitively (`PORT`, `Max_Payload`), with nats-server's aliases
//!   (`net` for `host`, `max_subs`, `monitor_port`, `username`, `pass`, ...).
//! * Every problem is collected, not just the first, each at the position of its key (or of
//!   its array item) as `file:line:column: message`; nats-server prints them the same way,
//!   one per line, and refuses to start if there is any error. Columns count from 1 on every
//!   line (nats-server counts from 0 on the first line only).
//! * A key nats-server does not know is an error, `unknown field "bogus"`, as in nats-server,
//!   unless a `$variable` used it. Keys of the `tls`, `authorization` and `permissions` blocks
//!   get nats-server's own wording for those blocks.
//! * A key nats-server knows but natrix does not implement is never ignored silently. When
//!   ignoring it would let in clients nats-server keeps out, or let them do what nats-server
//!   forbids, or silently send messages elsewhere (`accounts`, `operator`, `trusted`,
//!   `mappings`, `auth_callout`, `tls { verify_and_map }`, ...), it is an error. When the
//!   feature is simply absent and its clients notice at once (`jetstream`, `cluster`,
//!   `gateway`, `leafnodes`, `mqtt`, `websocket`, ...), it is a [`Warning`], which the caller
//!   prints on stderr before starting.
//! * A duration given as an integer is seconds, with nats-server's warning that it should be
//!   converted to a duration.
//! * Values nats-server reads but treats specially keep its meaning: `max_connections: 0`
//!   rejects every client; `port: 0` is the default port and `port: -1` a free one;
//!   `authorization { permissions }` is the same as `default_permissions` (nats-server gives
//!   them to the users of the `users` list that have none of their own).

mod accounts;
mod auth;
mod errors;
pub mod mappings;
mod streaming;

pub use errors::{
    Block, LoadError, SettingError, SettingErrorKind, SettingsErrors, Warning, WarningKind,
};

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Entry, ErrorKind, Kind, Map, Pos, Value};
use crate::config::{
    Options, TlsConfig, DEFAULT_PORT, LAME_DUCK_DURATION_MS_MIN, TLS_TIMEOUT_MS_DEFAULT,
};

/// Largest `max_payload` and `max_control_line` nats-server accepts (an `int32`).
pub const INT32_MAX: i64 = i32::MAX as i64;

/// Applies a parsed config file to `opts` and checks the result as the server would before
/// starting. Returns the warnings on success; on failure every error and warning found.
pub fn apply_file(opts: &mut Options, map: &Map) -> Result<Vec<Warning>, SettingsErrors> {
    let mut out = apply_unchecked(opts, map);
    if let Err(error) = opts.validate() {
        out.errors.push(SettingError {
            pos: out.file_pos.clone(),
            kind: SettingErrorKind::Options(error),
        });
    }
    out.into_result()
}

/// Parses the file at `path` (with its includes and `$VARIABLES`) and applies it to `opts`.
pub fn load_file(opts: &mut Options, path: &Path) -> Result<Vec<Warning>, LoadError> {
    let map = super::parse_file(path).map_err(LoadError::Parse)?;
    apply_file(opts, &map).map_err(LoadError::Settings)
}

/// What [`apply_unchecked`] found: problems, and where the file is for errors about the whole.
pub(crate) struct Applied {
    pub errors: Vec<SettingError>,
    pub warnings: Vec<Warning>,
    pub file_pos: Pos,
}

impl Applied {
    pub(crate) fn into_result(self) -> Result<Vec<Warning>, SettingsErrors> {
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(SettingsErrors {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }
}

/// Applies the file without the final cross-field checks, so that command-line flags can
/// still change the options before [`Options::validate`] runs (nats-server validates after
/// merging flags too).
pub(crate) fn apply_unchecked(opts: &mut Options, map: &Map) -> Applied {
    let file_pos = map
        .iter()
        .next()
        .map(|e| Pos::file_only(&e.key_pos.file))
        .unwrap_or_else(|| Pos::file_only(Path::new("")));
    let mut s = Settings {
        opts,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    for entry in map {
        s.top_level(entry);
    }
    Applied {
        errors: s.errors,
        warnings: s.warnings,
        file_pos,
    }
}

/// Top-level keys nats-server knows whose feature natrix lacks as a whole: ignored with a
/// warning.
const ABSENT_FEATURES: &[&str] = &[
    "cluster",
    "gateway",
    "leaf",
    "leafnodes",
    "websocket",
    "ws",
    "mqtt",
    "client_advertise",
    "server_tags",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "http_base_path",
    "logtime_utc",
    "syslog",
    "remote_syslog",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "ports_file_dir",
    "prof_port",
    "prof_block_rate",
    "connect_error_reports",
    "reconnect_error_reports",
    "max_closed_clients",
    "no_fast_producer_stall",
    "disable_sublist_cache",
    "no_sublist_cache",
    "no_header_support",
    "write_timeout",
    "allow_non_tls",
    "ocsp",
    "ocsp_cache",
    "proxy_protocol",
    "max_sub_tokens",
    "max_subscription_tokens",
    "default_sentinel",
];

/// Top-level keys nats-server knows that natrix must not ignore: each would let in clients,
/// or let them do things, that nats-server would not, or route messages differently.
const UNSAFE_TO_IGNORE: &[&str] = &[
    "operator",
    "operators",
    "roots",
    "root",
    "root_operators",
    "root_operator",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_tls",
    "resolver_preload",
    "resolver_pinned_accounts",
    "trusted",
    "trusted_keys",
    "proxies",
];

/// `tls { }` keys nats-server knows and natrix does not implement. All are errors: each
/// either narrows who may connect or how, so ignoring it would weaken the server.
const TLS_UNSUPPORTED: &[&str] = &[
    "insecure",
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "allow_insecure_cipher_suites",
    "cipher_suites",
    "curve_preferences",
    "connection_rate_limit",
    "pinned_certs",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "ocsp_peer",
    "certs",
    "certificates",
    "min_version",
];

/// The state of one application: the options being filled and what went wrong.
struct Settings<'o> {
    opts: &'o mut Options,
    errors: Vec<SettingError>,
    warnings: Vec<Warning>,
}

impl Settings<'_> {
    fn top_level(&mut self, e: &Entry) {
        let key = e.key.to_ascii_lowercase();
        match key.as_str() {
            "listen" => {
                if let Some((host, port)) = self.host_port(e) {
                    if let Some(host) = host {
                        self.opts.host = host;
                    }
                    self.opts.port = client_port(port);
                }
            }
            "port" => {
                if let Some(port) = self.port(e) {
                    self.opts.port = client_port(port);
                }
            }
            "host" | "net" => {
                if let Some(host) = self.string(e) {
                    self.opts.host = host;
                }
            }
            "server_name" => {
                if let Some(name) = self.string(e) {
                    if name.contains(' ') {
                        self.error(e, invalid(e, "server name cannot contain spaces"));
                    } else {
                        self.opts.server_name = Some(name);
                    }
                }
            }
            "max_payload" => {
                if let Some(n) = self.int32_bytes(e) {
                    self.opts.limits.max_payload_bytes = n;
                }
            }
            "max_control_line" => {
                if let Some(n) = self.int32_bytes(e) {
                    self.opts.limits.max_control_line_bytes = n;
                }
            }
            "max_pending" => {
                if let Some(n) = self.bytes(e) {
                    self.opts.limits.max_pending_bytes = n;
                }
            }
            // nats-server turns 0 into -1, and any count below 1 rejects every client.
            "max_connections" | "max_conn" => {
                if let Some(n) = self.integer(e) {
                    self.opts.limits.max_connections = usize::try_from(n.max(0)).unwrap_or(0);
                }
            }
            // Zero or less: no limit.
            "max_subscriptions" | "max_subs" => {
                if let Some(n) = self.integer(e) {
                    self.opts.limits.max_subscriptions = usize::try_from(n.max(0)).unwrap_or(0);
                }
            }
            "ping_interval" => {
                if let Some(d) = self.duration_or_seconds(e) {
                    if d.is_zero() {
                        self.error(e, invalid(e, "ping_interval must be greater than zero"));
                    } else {
                        let ms = millis(d).max(1);
                        self.opts.limits.ping_interval_ms = ms;
                        self.opts.limits.first_ping_ms = first_ping_ms(ms);
                    }
                }
            }
            "ping_max" => {
                if let Some(n) = self.integer(e) {
                    match u32::try_from(n) {
                        Ok(n) => self.opts.limits.ping_max = n,
                        Err(_) => self.error(e, invalid(e, "ping_max must be 0 or more")),
                    }
                }
            }
            "write_deadline" => {
                if let Some(d) = self.duration_or_seconds(e) {
                    self.opts.limits.write_deadline_ms = millis(d);
                }
            }
            "lame_duck_duration" => {
                if let Some(d) = self.duration_string(e) {
                    if millis(d) < LAME_DUCK_DURATION_MS_MIN {
                        let reason =
                            format!("invalid lame_duck_duration of {d:?}, minimum is 30 seconds");
                        self.error(e, SettingErrorKind::Conflict(reason));
                    } else {
                        self.opts.lame_duck_duration_ms = millis(d);
                    }
                }
            }
            "lame_duck_grace_period" => {
                if let Some(d) = self.duration_string(e) {
                    self.opts.lame_duck_grace_period_ms = millis(d);
                }
            }
            "debug" => {
                if let Some(b) = self.boolean(e) {
                    self.opts.debug = b;
                }
            }
            // natrix has one trace level; the verbose ones turn it on as in nats-server.
            "trace" | "trace_verbose" | "trace_headers" => {
                if let Some(b) = self.boolean(e) {
                    self.opts.trace = b;
                }
            }
            "max_traced_msg_len" => {
                if let Some(n) = self.integer(e) {
                    self.opts.logging.max_traced_msg_len_bytes = usize::try_from(n).unwrap_or(0);
                }
            }
            "logtime" => {
                if let Some(b) = self.boolean(e) {
                    self.opts.logging.time = b;
                }
            }
            "logfile" | "log_file" => {
                if let Some(path) = self.string(e) {
                    self.opts.logging.file = Some(PathBuf::from(path));
                }
            }
            "pidfile" | "pid_file" => {
                if let Some(path) = self.string(e) {
                    self.opts.pid_file = Some(PathBuf::from(path));
                }
            }
            "http" | "https" => {
                if let Some((host, port)) = self.host_port(e) {
                    self.opts.monitor.host = host;
                    let port = monitor_port(port);
                    if key == "http" {
                        self.opts.monitor.http_port = port;
                    } else {
                        self.opts.monitor.https_port = port;
                    }
                }
            }
            "http_port" | "monitor_port" => {
                if let Some(port) = self.port(e) {
                    self.opts.monitor.http_port = monitor_port(port);
                }
            }
            "https_port" => {
                if let Some(port) = self.port(e) {
                    self.opts.monitor.https_port = monitor_port(port);
                }
            }
            "tls" => self.tls(e),
            "authorization" => self.authorization(e),
            "accounts" => self.accounts(e),
            "jetstream" => self.jetstream(e),
            "streaming" => self.streaming(e),
            "store_dir" | "storedir" => {
                if let Some(d) = self.string(e) {
                    self.opts.store_dir = Some(d.into());
                }
            }
            "mappings" | "maps" => self.top_level_mappings(e),
            "system_account" | "system" => self.system_account(e),
            "no_system_account" | "no_system" | "no_sys_acc" => self.no_system_account(e),
            "no_auth_user" => {
                if let Some(user) = self.string(e) {
                    self.opts.auth.no_auth_user = Some(user);
                }
            }
            k if ABSENT_FEATURES.contains(&k) => self.not_supported_warning(e),
            k if UNSAFE_TO_IGNORE.contains(&k) => self.not_supported_error(e),
            _ => self.unknown(e, Block::Top),
        }
    }

    /// `jetstream: enabled` or `jetstream { store_dir, sync_interval, max_memory_store,
    /// max_file_store, domain }`.
    fn jetstream(&mut self, e: &Entry) {
        match &e.value.kind {
            Kind::Bool(false) => self.opts.jetstream = None,
            Kind::Bool(true) => {
                self.opts.jetstream.get_or_insert_with(Default::default);
            }
            Kind::String(s) => match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" | "true" => {
                    self.opts.jetstream.get_or_insert_with(Default::default);
                }
                _ => self.opts.jetstream = None,
            },
            Kind::Map(m) => {
                let mut js = crate::config::JetStreamOptions::default();
                let mut enabled = true;
                for k in m {
                    match k.key.to_ascii_lowercase().as_str() {
                        "store_dir" | "storedir" | "store" => {
                            if let Some(d) = self.string(k) {
                                self.opts.store_dir = Some(d.into());
                            }
                        }
                        "sync_interval" | "sync" => {
                            if k.value
                                .as_str()
                                .is_some_and(|s| s.eq_ignore_ascii_case("always"))
                            {
                                js.sync_always = true;
                            } else if let Some(d) = self.duration_or_seconds(k) {
                                js.sync_interval_ms = millis(d);
                            }
                        }
                        "max_memory_store" | "max_mem_store" | "max_mem" => {
                            if let Some(n) = self.bytes(k) {
                                js.max_memory_bytes = i64::try_from(n).unwrap_or(i64::MAX);
                            }
                        }
                        "max_file_store" | "max_file" => {
                            if let Some(n) = self.bytes(k) {
                                js.max_file_bytes = i64::try_from(n).unwrap_or(i64::MAX);
                            }
                        }
                        "domain" => js.domain = self.string(k),
                        "enabled" | "enable" => enabled = self.boolean(k).unwrap_or(true),
                        "key"
                        | "ek"
                        | "cipher"
                        | "compress_ok"
                        | "unique_tag"
                        | "max_outstanding_catchup"
                        | "limits"
                        | "tpm"
                        | "strict" => self.not_supported_error(k),
                        _ => self.unknown(k, Block::Top),
                    }
                }
                self.opts.jetstream = enabled.then_some(js);
            }
            _ => self.wrong_type(e, "a boolean or a map"),
        }
    }

    fn tls(&mut self, e: &Entry) {
        let Some(map) = self.map(e) else { return };
        let mut cert_file = None;
        let mut key_file = None;
        let mut tls = TlsConfig {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            ca_file: None,
            verify: false,
            handshake_first: false,
            timeout_ms: TLS_TIMEOUT_MS_DEFAULT,
        };
        for t in map {
            match t.key.to_ascii_lowercase().as_str() {
                "cert_file" => cert_file = self.string(t).map(PathBuf::from),
                "key_file" => key_file = self.string(t).map(PathBuf::from),
                "ca_file" => tls.ca_file = self.string(t).map(PathBuf::from),
                "verify" => tls.verify = self.boolean(t).unwrap_or(false),
                "handshake_first" | "first" | "immediate" => match &t.value.kind {
                    Kind::Bool(b) => tls.handshake_first = *b,
                    Kind::String(s) if ["true", "on"].iter().any(|w| s.eq_ignore_ascii_case(w)) => {
                        tls.handshake_first = true
                    }
                    Kind::String(s)
                        if ["false", "off"].iter().any(|w| s.eq_ignore_ascii_case(w)) => {}
                    // "auto" and a fallback delay let plain clients in after a wait.
                    Kind::String(_) => self.not_supported_error(t),
                    _ => self.wrong_type(t, "a boolean or a string"),
                },
                "timeout" => {
                    if let Some(s) = self.seconds(t) {
                        tls.timeout_ms = (s * 1000.0).round() as u64;
                    }
                }
                k if TLS_UNSUPPORTED.contains(&k) => self.not_supported_error(t),
                _ => self.unknown(t, Block::Tls),
            }
        }
        match (cert_file, key_file) {
            (Some(cert), Some(key)) => {
                tls.cert_file = cert;
                tls.key_file = key;
                self.opts.tls = Some(tls);
            }
            // nats-server fails to build the TLS config without both.
            (None, _) => self.error(
                e,
                SettingErrorKind::Conflict(
                    "TLS Server certificate must be present and valid".into(),
                ),
            ),
            (_, None) => self.error(
                e,
                SettingErrorKind::Conflict(
                    "TLS Server private key must be present and valid".into(),
                ),
            ),
        }
    }

    fn not_supported_warning(&mut self, e: &Entry) {
        self.warnings.push(Warning {
            pos: e.key_pos.clone(),
            kind: WarningKind::NotSupported {
                field: e.key.clone(),
            },
        });
    }

    fn not_supported_error(&mut self, e: &Entry) {
        self.error(
            e,
            SettingErrorKind::NotSupported {
                field: e.key.clone(),
            },
        );
    }

    fn unknown(&mut self, e: &Entry, block: Block) {
        // nats-server does not report keys that serve only as $variables.
        if !e.used_as_variable {
            self.error(
                e,
                SettingErrorKind::UnknownField {
                    block,
                    field: e.key.clone(),
                },
            );
        }
    }

    fn error(&mut self, e: &Entry, kind: SettingErrorKind) {
        self.error_at(&e.key_pos, kind);
    }

    fn error_at(&mut self, pos: &Pos, kind: SettingErrorKind) {
        self.errors.push(SettingError {
            pos: pos.clone(),
            kind,
        });
    }

    fn wrong_type(&mut self, e: &Entry, expected: &'static str) {
        let kind = wrong_type(&e.key, &e.value, expected);
        self.error(e, kind);
    }

    fn string(&mut self, e: &Entry) -> Option<String> {
        match e.value.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.wrong_type(e, "a string");
                None
            }
        }
    }

    fn integer(&mut self, e: &Entry) -> Option<i64> {
        let n = e.value.as_i64();
        if n.is_none() {
            self.wrong_type(e, "an integer");
        }
        n
    }

    fn boolean(&mut self, e: &Entry) -> Option<bool> {
        let b = e.value.as_bool();
        if b.is_none() {
            self.wrong_type(e, "a boolean");
        }
        b
    }

    fn map<'m>(&mut self, e: &'m Entry) -> Option<&'m Map> {
        let m = e.value.as_map();
        if m.is_none() {
            self.wrong_type(e, "a map");
        }
        m
    }

    fn bytes(&mut self, e: &Entry) -> Option<usize> {
        match e.value.to_bytes() {
            Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Err(err) => {
                self.error(e, value_error(e, err.kind));
                None
            }
        }
    }

    /// `max_payload` and `max_control_line`: sizes nats-server keeps in an `int32`.
    fn int32_bytes(&mut self, e: &Entry) -> Option<usize> {
        let n = self.bytes(e)?;
        if n as u64 > INT32_MAX as u64 {
            let reason = format!("{} value is too big", e.key);
            self.error(e, SettingErrorKind::Conflict(reason));
            return None;
        }
        Some(n)
    }

    /// A port: -1 (any free port) to 65535.
    fn port(&mut self, e: &Entry) -> Option<i64> {
        let n = self.integer(e)?;
        if !(-1..=65535).contains(&n) {
            self.error(e, invalid(e, &format!("invalid port {n}")));
            return None;
        }
        Some(n)
    }

    /// `listen`, `http`, `https`: a port alone, or `"host:port"` (`"[::1]:4222"` for IPv6).
    fn host_port(&mut self, e: &Entry) -> Option<(Option<String>, i64)> {
        match &e.value.kind {
            Kind::Integer(_) => self.port(e).map(|p| (None, p)),
            Kind::String(s) => match split_host_port(s) {
                Some((host, port)) => {
                    let host = (!host.is_empty()).then(|| host.to_owned());
                    Some((host, port))
                }
                None => {
                    let reason = format!("could not parse address string {s:?}");
                    self.error(e, invalid(e, &reason));
                    None
                }
            },
            _ => {
                self.wrong_type(e, "a port or a \"host:port\" string");
                None
            }
        }
    }

    /// `ping_interval`, `write_deadline`: a duration string, or an integer of seconds with
    /// nats-server's warning.
    fn duration_or_seconds(&mut self, e: &Entry) -> Option<Duration> {
        if let Kind::Integer(_) = e.value.kind {
            self.warnings.push(Warning {
                pos: e.key_pos.clone(),
                kind: WarningKind::DurationAsSeconds {
                    field: e.key.clone(),
                },
            });
        }
        match e.value.to_duration() {
            Ok(d) => Some(d),
            Err(err) => {
                self.error(e, value_error(e, err.kind));
                None
            }
        }
    }

    /// `lame_duck_*`: nats-server takes only a duration string here.
    fn duration_string(&mut self, e: &Entry) -> Option<Duration> {
        if e.value.as_str().is_none() {
            self.wrong_type(e, "a duration string like \"30s\"");
            return None;
        }
        self.duration_or_seconds(e)
    }

    /// Timeouts in seconds: an integer, a float, or a duration string.
    fn seconds(&mut self, e: &Entry) -> Option<f64> {
        let s = match &e.value.kind {
            Kind::Integer(n) => *n as f64,
            Kind::Float(x) => *x,
            Kind::String(_) => match e.value.to_duration() {
                Ok(d) => d.as_secs_f64(),
                Err(err) => {
                    self.error(e, value_error(e, err.kind));
                    return None;
                }
            },
            _ => {
                self.wrong_type(e, "seconds or a duration string");
                return None;
            }
        };
        if !s.is_finite() || s < 0.0 {
            self.error(e, invalid(e, "must be a positive number of seconds"));
            return None;
        }
        Some(s)
    }
}

fn wrong_type(field: &str, value: &Value, expected: &'static str) -> SettingErrorKind {
    SettingErrorKind::WrongType {
        field: field.to_owned(),
        expected,
        found: value.type_name(),
    }
}

fn value_error(e: &Entry, kind: ErrorKind) -> SettingErrorKind {
    SettingErrorKind::Value {
        field: e.key.clone(),
        kind,
    }
}

fn invalid(e: &Entry, reason: &str) -> SettingErrorKind {
    SettingErrorKind::Invalid {
        field: e.key.clone(),
        reason: reason.to_owned(),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The first PING goes out after min(2 s, ping_interval), as in nats-server.
pub(crate) fn first_ping_ms(ping_interval_ms: u64) -> u64 {
    crate::config::Limits::default()
        .first_ping_ms
        .min(ping_interval_ms)
}

/// The client port as nats-server reads it from a file: 0 is the default port, -1 any free
/// port (natrix's 0).
fn client_port(port: i64) -> u16 {
    match port {
        0 => DEFAULT_PORT,
        -1 => 0,
        p => p as u16,
    }
}

/// A monitoring port: 0 turns monitoring off, -1 picks a free port.
fn monitor_port(port: i64) -> Option<u16> {
    match port {
        0 => None,
        -1 => Some(0),
        p => Some(p as u16),
    }
}

/// Go's `net.SplitHostPort` for what a listen address can be, with the port as nats-server
/// then reads it (`-1` included).
fn split_host_port(s: &str) -> Option<(&str, i64)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        let (host, port) = s.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        (host, port)
    };
    let port: i64 = port.parse().ok()?;
    (-1..=65535).contains(&port).then_some((host, port))
}

#[cfg(test)]
mod split_tests {
    use super::split_host_port;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("0.0.0.0:4222"), Some(("0.0.0.0", 4222)));
        assert_eq!(split_host_port(":4222"), Some(("", 4222)));
        assert_eq!(split_host_port("[::1]:-1"), Some(("::1", -1)));
        assert_eq!(split_host_port("::1:4222"), None);
        assert_eq!(split_host_port("localhost"), None);
        assert_eq!(split_host_port("h:70000"), None);
    }
}
