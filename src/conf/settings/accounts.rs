//! The `accounts { }` block and the top-level `system_account` / `no_system_account` keys,
//! into [`crate::account::config::AccountsConfig`] (nats-server's parseAccounts,
//! parseExportStreamOrService and parseImportStreamOrService in server/opts.go).
//!
//! Import and export wiring is checked here too, by compiling the accounts once: nats-server
//! reports those errors at the `accounts` key during its parse phase (so `-t` finds them).
//! `system_account` naming no account is a start-up error without a position, left to start.

use super::{Block, Entry, Kind, SettingErrorKind, Settings};
use crate::account::config::{
    AccountConfig, ExportConfig, ExportKind, ImportConfig, ImportKind, ResponseType,
    RESPONSE_THRESHOLD_MS_DEFAULT,
};
use crate::account::Accounts;

impl Settings<'_> {
    pub(super) fn accounts(&mut self, e: &Entry) {
        let mut list = Vec::new();
        match &e.value.kind {
            Kind::Map(m) => {
                for a in m {
                    if let Some(acc) = self.account(a) {
                        list.push(acc);
                    }
                }
            }
            // `accounts: [A, B]`: empty accounts.
            Kind::Array(items) => {
                for item in items {
                    match item.as_str() {
                        Some(name) => list.push(AccountConfig {
                            name: name.to_owned(),
                            ..AccountConfig::default()
                        }),
                        None => {
                            let reason =
                                format!("Expected an account name, got {}", item.type_name());
                            self.error_at(&item.pos, SettingErrorKind::Conflict(reason));
                        }
                    }
                }
            }
            _ => {
                self.wrong_type(e, "a map or an array of account names");
                return;
            }
        }
        let mut seen = std::collections::HashSet::new();
        for a in &list {
            if a.name == crate::account::GLOBAL_ACCOUNT_NAME {
                let reason = format!("{:?} is a Reserved Account", a.name);
                self.error(e, SettingErrorKind::Conflict(reason));
            } else if !seen.insert(a.name.clone()) {
                let reason = format!("Duplicate Account Entry: {}", a.name);
                self.error(e, SettingErrorKind::Conflict(reason));
            }
        }
        // User names and nkeys are unique across the whole config; the error names the second.
        let mut names: std::collections::HashSet<String> = self
            .opts
            .auth
            .users
            .iter()
            .map(|u| u.user.clone())
            .chain(self.opts.auth.nkeys.iter().map(|n| n.nkey.clone()))
            .collect();
        if let Kind::Map(m) = &e.value.kind {
            for a in m {
                let Some(users_entry) = a
                    .value
                    .as_map()
                    .and_then(|am| am.iter().find(|k| k.key.eq_ignore_ascii_case("users")))
                else {
                    continue;
                };
                let Some(users) = users_entry.value.as_array() else {
                    continue;
                };
                for item in users {
                    let Some(um) = item.as_map() else { continue };
                    for k in um {
                        let key = k.key.to_ascii_lowercase();
                        let kind = match key.as_str() {
                            "user" | "username" => "user",
                            "nkey" => "nkey",
                            _ => continue,
                        };
                        let Some(name) = k.value.as_str() else {
                            continue;
                        };
                        if !names.insert(name.to_owned()) {
                            let reason = format!("Duplicate {kind} {name:?} detected");
                            // nats-server names the `users` key of the account.
                            self.error_at(&users_entry.key_pos, SettingErrorKind::Conflict(reason));
                        }
                    }
                }
            }
        }
        let mut cfg = self.opts.auth.accounts.clone();
        cfg.accounts = list;
        if self.errors.is_empty() {
            let check = crate::account::config::AccountsConfig {
                system_account: None,
                ..cfg.clone()
            };
            if let Err(err) = Accounts::compile(&check, None) {
                self.error(e, SettingErrorKind::Conflict(err.to_string()));
            }
        }
        self.opts.auth.accounts = cfg;
    }

    /// A `mappings { }` block (top level or in an account); errors are reported at their
    /// positions.
    pub(super) fn mappings(&mut self, e: &Entry) -> Vec<crate::mapping::Mapping> {
        match super::mappings::parse_mappings(&e.value) {
            Ok(m) => m,
            Err(errors) => {
                for err in errors {
                    self.error_at(&err.pos, SettingErrorKind::Conflict(err.kind.to_string()));
                }
                Vec::new()
            }
        }
    }

    pub(super) fn top_level_mappings(&mut self, e: &Entry) {
        let m = self.mappings(e);
        self.opts.auth.accounts.global_mappings = m;
    }

    pub(super) fn system_account(&mut self, e: &Entry) {
        if let Some(name) = self.string(e) {
            self.opts.auth.accounts.system_account = Some(name);
        }
    }

    pub(super) fn no_system_account(&mut self, e: &Entry) {
        if let Some(b) = self.boolean(e) {
            self.opts.auth.accounts.no_system_account = b;
        }
    }

    fn account(&mut self, e: &Entry) -> Option<AccountConfig> {
        let mut acc = AccountConfig {
            name: e.key.clone(),
            ..AccountConfig::default()
        };
        let map = match &e.value.kind {
            Kind::Map(m) => m,
            // `A: {}` written as `A {}` is a map; anything else is an empty account name.
            _ => return Some(acc),
        };
        for k in map {
            match k.key.to_ascii_lowercase().as_str() {
                "users" => {
                    let (users, nkeys) = self.users(k);
                    acc.users = users;
                    acc.nkeys = nkeys;
                }
                "default_permission" | "default_permissions" => {
                    acc.default_permissions = self.permissions(k);
                }
                "exports" => acc.exports = self.exports(k),
                "imports" => acc.imports = self.imports(k),
                "jetstream" => {
                    acc.jetstream = match &k.value.kind {
                        Kind::Bool(b) => *b,
                        Kind::String(s) => {
                            matches!(s.to_ascii_lowercase().as_str(), "enabled" | "enable")
                        }
                        Kind::Map(_) => true,
                        _ => false,
                    };
                    if let Kind::Map(m) = &k.value.kind {
                        acc.jetstream_limits = self.jetstream_limits(m);
                    }
                }
                // Known to nats-server, not (yet) to natrix: refusing is the safe side.
                "mappings" | "maps" => acc.mappings = self.mappings(k),
                "nkey" | "limits" | "msg_trace" | "trace_dest" => self.not_supported_error(k),
                _ => self.unknown(k, Block::Top),
            }
        }
        Some(acc)
    }

    fn exports(&mut self, e: &Entry) -> Vec<ExportConfig> {
        let mut out = Vec::new();
        let Some(items) = e.value.as_array() else {
            self.wrong_type(e, "an array");
            return out;
        };
        for item in items {
            let Some(map) = item.as_map() else {
                let reason = format!("Export Items should be a map, got {}", item.type_name());
                self.error_at(&item.pos, SettingErrorKind::Conflict(reason));
                continue;
            };
            let (mut stream, mut service, mut accounts) = (None, None, Vec::new());
            let (mut response, mut threshold_ms, mut directive) = (None, None, None);
            for k in map {
                match k.key.to_ascii_lowercase().as_str() {
                    "stream" => stream = self.string(k),
                    "service" => service = self.string(k),
                    "accounts" => accounts = self.names(k),
                    "response" | "response_type" => {
                        directive.get_or_insert("response");
                        let Some(s) = self.string(k) else { continue };
                        response = match s.to_ascii_lowercase().as_str() {
                            "single" | "singleton" => Some(ResponseType::Singleton),
                            "stream" => Some(ResponseType::Stream),
                            "chunk" | "chunked" => Some(ResponseType::Chunked),
                            _ => {
                                let reason = format!("Unknown response type: {s:?}");
                                self.error(k, SettingErrorKind::Conflict(reason));
                                None
                            }
                        };
                    }
                    "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                        directive.get_or_insert("response");
                        let Some(s) = k.value.as_str() else {
                            self.wrong_type(k, "a duration string");
                            continue;
                        };
                        match crate::conf::units::parse_duration(s).ok() {
                            Some(d) => threshold_ms = Some(d.as_millis() as u64),
                            None => {
                                let reason = format!(
                                    "Expected response threshold to be a parseable time \
                                     duration, got {s:?}"
                                );
                                self.error(k, SettingErrorKind::Conflict(reason));
                            }
                        }
                    }
                    "latency" => {
                        directive.get_or_insert("latency");
                        self.not_supported_error(k);
                    }
                    "allow_trace" => {
                        directive.get_or_insert("allow_trace");
                    }
                    "account_token_position" => self.not_supported_error(k),
                    _ => self.unknown(k, Block::Top),
                }
            }
            match (stream, service) {
                (Some(subject), None) => {
                    if let Some(d) = directive {
                        let reason = format!("Detected {d} directive on non-service");
                        self.error_at(&item.pos, SettingErrorKind::Conflict(reason));
                        continue;
                    }
                    out.push(ExportConfig {
                        subject,
                        kind: ExportKind::Stream,
                        accounts,
                    });
                }
                (None, Some(subject)) => out.push(ExportConfig {
                    subject,
                    kind: ExportKind::Service {
                        response: response.unwrap_or(ResponseType::Singleton),
                        threshold_ms: threshold_ms.unwrap_or(RESPONSE_THRESHOLD_MS_DEFAULT),
                    },
                    accounts,
                }),
                _ => {
                    let reason = "Detected stream and service or neither in export";
                    self.error_at(&item.pos, SettingErrorKind::Conflict(reason.into()));
                }
            }
        }
        out
    }

    fn imports(&mut self, e: &Entry) -> Vec<ImportConfig> {
        let mut out = Vec::new();
        let Some(items) = e.value.as_array() else {
            self.wrong_type(e, "an array");
            return out;
        };
        for item in items {
            let Some(map) = item.as_map() else {
                let reason = format!("Import Items should be a map, got {}", item.type_name());
                self.error_at(&item.pos, SettingErrorKind::Conflict(reason));
                continue;
            };
            let (mut what, mut to, mut prefix, mut share) = (None, None, None, false);
            for k in map {
                match k.key.to_ascii_lowercase().as_str() {
                    key @ ("stream" | "service") => {
                        let service = key == "service";
                        let Some(m) = k.value.as_map() else {
                            let reason = "Expect an account name and a subject";
                            self.error(k, SettingErrorKind::Conflict(reason.into()));
                            continue;
                        };
                        let (mut account, mut subject) = (None, None);
                        for f in m {
                            match f.key.to_ascii_lowercase().as_str() {
                                "account" => account = self.string(f),
                                "subject" => subject = self.string(f),
                                _ => self.unknown(f, Block::Top),
                            }
                        }
                        match (account, subject) {
                            (Some(a), Some(s)) => what = Some((service, a, s)),
                            _ => {
                                let reason = "Expect an account name and a subject";
                                self.error(k, SettingErrorKind::Conflict(reason.into()));
                            }
                        }
                    }
                    "to" => to = self.string(k),
                    "prefix" => prefix = self.string(k),
                    "share" => share = self.boolean(k).unwrap_or(false),
                    "allow_trace" => {}
                    _ => self.unknown(k, Block::Top),
                }
            }
            if let Some((service, account, subject)) = what {
                out.push(ImportConfig {
                    kind: if service {
                        ImportKind::Service { share }
                    } else {
                        ImportKind::Stream
                    },
                    account,
                    subject,
                    to,
                    prefix,
                });
            }
        }
        out
    }

    fn names(&mut self, e: &Entry) -> Vec<String> {
        let Some(items) = e.value.as_array() else {
            self.wrong_type(e, "an array of account names");
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    }
}

impl Settings<'_> {
    /// An account's `jetstream { ... }` limits map (nats-server's parseJetStreamForAccount).
    fn jetstream_limits(
        &mut self,
        m: &crate::conf::Map,
    ) -> crate::account::config::JetStreamLimits {
        let mut l = crate::account::config::JetStreamLimits::default();
        let size = |s: &mut Self, k: &Entry| -> i64 {
            match &k.value.kind {
                Kind::Integer(n) => *n,
                _ => s
                    .bytes(k)
                    .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
            }
        };
        for k in m {
            match k.key.to_ascii_lowercase().as_str() {
                "max_memory" | "max_mem" | "mem" | "memory" => l.max_memory_bytes = size(self, k),
                "max_storage" | "max_file" | "max_store" | "disk" | "store" | "storage" => {
                    l.max_storage_bytes = size(self, k)
                }
                "max_streams" | "streams" => l.max_streams = self.integer(k).unwrap_or(-1),
                "max_consumers" | "consumers" => l.max_consumers = self.integer(k).unwrap_or(-1),
                "max_ack_pending" => l.max_ack_pending = self.integer(k).unwrap_or(-1),
                "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                    l.memory_max_stream_bytes = size(self, k)
                }
                "disk_max_stream_bytes" | "store_max_stream_bytes" | "storage_max_stream_bytes" => {
                    l.storage_max_stream_bytes = size(self, k)
                }
                "max_bytes_required" | "max_stream_bytes_required" => {
                    l.max_bytes_required = self.boolean(k).unwrap_or(false)
                }
                "enabled" | "enable" => {}
                "tiers" | "cluster_traffic" => self.not_supported_error(k),
                _ => self.unknown(k, Block::Top),
            }
        }
        l
    }
}
