//! What the config file says about accounts: plain data, compiled by [`super::Accounts`].
//!
//! Filled by `conf::settings` from the `accounts { }` block and the top-level
//! `system_account` / `no_system_account` keys; nothing here is checked yet (that is
//! [`super::Accounts::compile`]'s job, in nats-server's order and words).

use crate::auth::{NkeyConfig, PermissionsConfig, UserConfig};

/// One entry of `accounts { NAME { ... } }` (or of the list form `accounts: [A, B]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountConfig {
    pub name: String,
    pub users: Vec<UserConfig>,
    pub nkeys: Vec<NkeyConfig>,
    /// For users of this account without permissions of their own.
    pub default_permissions: Option<PermissionsConfig>,
    pub exports: Vec<ExportConfig>,
    pub imports: Vec<ImportConfig>,
    /// `jetstream: enabled` (or a limits map) for this account.
    pub jetstream: bool,
    /// The limits of a `jetstream { max_mem, max_file, ... }` map.
    pub jetstream_limits: JetStreamLimits,
    /// `mappings { }` inside the account.
    pub mappings: Vec<crate::mapping::Mapping>,
}

/// An account's JetStream limits (`jetstream { max_mem: 1G, max_file: 10G, max_streams: 10,
/// max_consumers: 100, max_ack_pending: 1000, mem_max_stream_bytes, disk_max_stream_bytes,
/// max_bytes_required }`); -1 is unlimited, as nats-server reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JetStreamLimits {
    pub max_memory_bytes: i64,
    pub max_storage_bytes: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for JetStreamLimits {
    fn default() -> Self {
        JetStreamLimits {
            max_memory_bytes: -1,
            max_storage_bytes: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// `{stream: "a.>"}` or `{service: "svc.>", response_type: stream, ...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportConfig {
    pub subject: String,
    pub kind: ExportKind,
    /// A private export: only these accounts may import it. Empty: public.
    pub accounts: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    Stream,
    Service {
        response: ResponseType,
        /// How long an unanswered (or idle, for streamed responses) reply mapping lives.
        threshold_ms: u64,
    },
}

/// How many responses a service request may get (nats-server `response_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseType {
    Singleton,
    Stream,
    Chunked,
}

/// nats-server's default `response_threshold`: 2 minutes.
pub const RESPONSE_THRESHOLD_MS_DEFAULT: u64 = 120_000;

/// `{stream: {account: A, subject: "a.>"}, to: "from_a.>"}` or
/// `{service: {account: A, subject: "svc.x"}, to: "local.x"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportConfig {
    pub kind: ImportKind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// Stream: the subject the importer sees; service: the subject the importer publishes to.
    pub to: Option<String>,
    /// Stream imports only (the older form): `prefix.` is put before the exported subject.
    pub prefix: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Stream,
    Service { share: bool },
}

/// The accounts part of the options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountsConfig {
    pub accounts: Vec<AccountConfig>,
    /// `system_account: NAME`; unset: `$SYS`.
    pub system_account: Option<String>,
    /// `no_system_account: true`.
    pub no_system_account: bool,
    /// Top-level `mappings { }`: they apply to `$G`.
    pub global_mappings: Vec<crate::mapping::Mapping>,
}
