//! natrix: a NATS-compatible message broker, thread-per-core.
//!
//! The crate reads top-down along the path of a message:
//!
//! - [`config`]: every option and limit, with its unit in its name; [`cli`]: nats-server's
//!   command line; [`conf`]: the NATS config-file format (sans-io parser to a value tree
//!   with positions, and `conf::settings`, the tree to options).
//! - [`proto`]: sans-io protocol: the parser (bytes → ops), the encoder (ops → bytes),
//!   INFO and CONNECT, and [`proto::errors`], the `-ERR` texts as a type.
//! - [`auth`]: sans-io users, tokens, bcrypt, nkeys and permissions; [`tls`]: the rustls
//!   server configuration; [`account`]: accounts as subject namespaces, their exports and
//!   imports, and the `_R_.` service replies; [`mapping`]: subject mappings; [`system`]: the
//!   system account's `$SYS` requests and events.
//! - [`subject`] and [`sublist`]: subject rules and the subject trie with its match cache.
//! - [`shard`]: one shard per core owns its connections, subscriptions and a replica of the
//!   cross-shard interest table; shards exchange batches of [`shard::mesh::Item`]s.
//! - [`store`]: the sans-io storage engine (records, segments, indexes, recovery) with its
//!   file and memory backends; [`jetstream`]: [`jetstream::api`] answers `$JS.API` requests
//!   and decides publishes (expectations, dedup, pub-acks), [`jetstream::streams`] keeps an
//!   account's streams over the store; [`stan`]: the sans-io NATS Streaming core on the same
//!   store and timer wheel.
//! - [`runtime`]: the only module that names glommio: executors, pinning, channels, timers.
//! - [`server`]: starts the shards and the listeners; [`control`], [`lifecycle`],
//!   [`logger`]: the control plane (signals, reload, lame duck mode, pid file, logs), with
//!   [`reload`] (sans-io) deciding what a reload may change;
//!   [`monitor`] (sans-io endpoints) and [`monitor_http`] (their HTTP threads); [`gofmt`]:
//!   Go's text forms of durations and times.
//!
//! `docs/ARCHITECTURE.md` is the map with the reasons behind each choice.

pub mod account;
pub mod auth;
pub mod cli;
pub mod conf;
pub mod config;
pub mod control;
pub mod gofmt;
pub mod jetstream;
pub mod lifecycle;
pub mod logger;
pub mod mapping;
pub mod monitor;
pub mod monitor_http;
pub mod proto;
pub mod reload;
pub mod runtime;
pub mod server;
pub mod shard;
pub mod stan;
pub mod store;
pub mod subject;
pub mod sublist;
pub mod system;
#[cfg(test)]
mod test_dir;
pub mod tls;
pub mod wheel;
