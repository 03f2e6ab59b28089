//! The sans-io `$JS.API` layer for streams (and, in [`consumer`], for consumers): request subjects to typed requests
//! ([`request`]), `StreamConfig` with nats-server's defaults and checks ([`config`],
//! [`validate`]), the response documents ([`info`]), the publish-side checks and pub-acks
//! ([`publish`], [`headers`]), and [`handle`], which answers one API request over a
//! [`StreamBackend`] the shard implements on the real store.
//!
//! The behaviour is nats-server 2.15.1's as captured on the wire (tests/js_api_fixtures):
//! the same keys in the same order, the same error codes and descriptions.
//!
//! Invariants:
//! - Nothing here does I/O or reads a clock: `now` is an argument, the store is behind the
//!   trait, and the answer is a [`Response`] value for the caller to send.
//! - Bad input from the network never panics: every decode failure is an [`ApiError`].
//! - JSON is written as Go's `encoding/json` writes it, including its `\u003c`/`\u003e`/
//!   `\u0026` escapes, so byte comparisons against nats-server hold for the common cases.

pub mod backend;
pub mod config;
pub mod consumer;
pub mod error;
mod handle;
pub mod headers;
pub mod info;
mod messages;
pub mod publish;
pub mod request;
pub mod validate;

pub use backend::{MsgQuery, PurgeRequest, StateDetail, StoredMsg, StreamBackend};
pub use config::StreamConfig;
pub use consumer::{handle_consumer, ConsumerBackend, ConsumerConfig, ConsumerView};
pub use error::ApiError;
pub use handle::handle;
pub use info::{AccountLimits, AccountUsage, StreamState, StreamView, UnixNanos};
pub use request::ApiRequest;

use std::rc::Rc;

use serde::Serialize;

/// What to send back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Send nothing (an API subject nats-server does not answer, or no reply subject).
    None,
    /// Nobody serves this subject: core NATS answers with its `503` no-responders status
    /// (a DIRECT.GET on a stream without `allow_direct`, as nats-server has no subscription).
    NoResponders,
    /// A JSON document for the reply subject.
    Json(Vec<u8>),
    /// A message with a header block: a direct-get reply or a status message.
    Message { headers: Vec<u8>, payload: Vec<u8> },
    /// A `CONSUMER.*` request. From [`handle`]: call [`handle_consumer`] with the same
    /// arguments, which answers it. From [`handle_consumer`]: a MSG.NEXT or RESET, which
    /// the consumer engine answers itself.
    Consumer,
}

/// Features a `StreamConfig` may ask for that the store behind the backend may not have.
/// A config that asks for one that is off is refused with 10052 and a reason naming it,
/// never accepted and then ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    pub mirrors: bool,
    pub sources: bool,
    pub republish: bool,
    pub subject_transform: bool,
    pub msg_ttl: bool,
    pub subject_delete_markers: bool,
    pub msg_counter: bool,
    pub atomic_publish: bool,
    pub batched_publish: bool,
    pub msg_schedules: bool,
    pub async_persist: bool,
    pub s2_compression: bool,
    /// Consumer `priority_groups` / `priority_policy` (overflow, pinned client, prioritized).
    pub priority_groups: bool,
    /// The `flow_control` ack policy of nats-server's sourcing consumers.
    pub ack_flow_control: bool,
    /// Consumers with more than one subject in `filter_subjects`.
    pub consumer_multi_filters: bool,
    /// A mirror or source with `external` (another domain or account's API prefix).
    pub external_sources: bool,
    /// A mirror or source with `consumer` (a durable sourcing consumer on the origin).
    pub durable_sourcing: bool,
}

impl Features {
    /// Everything on (what nats-server itself supports).
    pub fn all() -> Self {
        Features {
            mirrors: true,
            sources: true,
            republish: true,
            subject_transform: true,
            msg_ttl: true,
            subject_delete_markers: true,
            msg_counter: true,
            atomic_publish: true,
            batched_publish: true,
            msg_schedules: true,
            async_persist: true,
            s2_compression: true,
            priority_groups: true,
            ack_flow_control: true,
            consumer_multi_filters: true,
            external_sources: true,
            durable_sourcing: true,
        }
    }
}

/// The server's `jetstream { limits { ... } }` that bound consumers; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerLimits {
    /// The most `max_ack_pending` a consumer may have (also caps the default of 1000).
    pub max_ack_pending: i64,
    /// The most `max_batch` a pull consumer may have (and its default when unset).
    pub max_request_batch: i64,
}

/// The account and server facts the API answers with, and its request counters. Cloned for
/// every request the shard hands to the API (direct gets and pulls included), so its strings
/// are shared rather than copied.
#[derive(Debug, Clone)]
pub struct ApiEnv {
    pub limits: AccountLimits,
    /// The server-wide consumer limits.
    pub server_limits: ServerLimits,
    /// Reported as `api.level` and `_nats.level`.
    pub api_level: u32,
    /// Reported as `_nats.ver`.
    pub server_version: Rc<str>,
    /// The server name reported as `cluster.leader` in STREAM.INFO; empty omits `cluster`.
    pub server_name: Rc<str>,
    /// The JetStream domain, if configured.
    pub domain: Option<Rc<str>>,
    /// The server's `max_payload`, for the publish checks.
    pub max_payload_bytes: usize,
    pub features: Features,
    /// Whether JetStream is enabled for the account; when not, every JSON request gets 10039.
    pub enabled: bool,
    /// API requests answered.
    pub api_total: u64,
    /// API requests answered with an error.
    pub api_errors: u64,
}

impl ApiEnv {
    /// Unlimited limits, no domain, every feature off.
    pub fn new(server_version: &str, api_level: u32) -> Self {
        ApiEnv {
            limits: AccountLimits::default(),
            server_limits: ServerLimits::default(),
            api_level,
            server_version: Rc::from(server_version),
            server_name: Rc::from(""),
            domain: None,
            max_payload_bytes: 1024 * 1024,
            features: Features::default(),
            enabled: true,
            api_total: 0,
            api_errors: 0,
        }
    }
}

/// JSON as Go's `encoding/json` writes it: serde's compact form with `<`, `>`, `&`, U+2028
/// and U+2029 escaped. Those can only occur inside strings, so replacing them is safe.
pub fn to_go_json<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    let raw = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if raw.get(i + 1) == Some(&0x80)
                && matches!(raw.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if raw[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod fake;
#[cfg(test)]
#[path = "fixture_tests.rs"]
mod fixture_tests;
#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
