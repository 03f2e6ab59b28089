//! The sans-io `$JS.API.CONSUMER.*` layer: `ConsumerConfig` with nats-server's defaults
//! ([`config`]) and checks ([`validate`]), the ConsumerInfo and pause documents ([`info`]),
//! its errors ([`error`]), and [`handle_consumer`], which answers one request over a
//! [`ConsumerBackend`] the shard implements on the consumer engine.
//!
//! The behaviour is nats-server 2.15.1's as captured on the wire
//! (tests/js_api_fixtures/consumer_captures.json, made by capture_consumers.py).
//!
//! Invariants:
//! - No I/O, no clock: `now` is an argument, the engine is behind the trait.
//! - The layer decides everything a config decides (defaults, validity, create vs update,
//!   work-queue uniqueness, limits); the backend only stores and reports.
//! - Bad input never panics: every decode failure is an `ApiError`.

pub mod backend;
pub mod config;
pub mod error;
mod handle;
pub mod info;
pub mod validate;

pub use backend::{ConsumerBackend, ConsumerStateView, ConsumerView, SeqInfo};
pub use config::{
    AckPolicy, ConsumerAction, ConsumerConfig, CreateConsumerRequest, DeliverPolicy, GoTime,
    PriorityPolicy, ReplayPolicy,
};
pub use error::ConsumerError;
pub use handle::{handle_consumer, paused_config, LIST_PAGE_MAX, NAMES_PAGE_MAX};

#[cfg(test)]
#[path = "consumer_config_tests.rs"]
mod config_tests;
#[cfg(test)]
mod fake;
#[cfg(test)]
#[path = "fixture_tests.rs"]
mod fixture_tests;
#[cfg(test)]
#[path = "consumer_api_tests.rs"]
mod tests;
