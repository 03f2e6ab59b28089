//! natrix: a NATS-compatible message broker, thread-per-core.
//!
//! The crate reads top-down along the path of a message:
//!
//! - [`config`]: the command line and every limit, with its unit in its name.
//! - [`conf`]: the NATS config-file format (sans-io parser to a value tree with positions);
//!   not yet read by the server (`-c` is issue #4).
//! - [`proto`]: sans-io protocol: the parser (bytes → ops), the encoder (ops → bytes),
//!   INFO and CONNECT, and [`proto::errors`], the `-ERR` texts as a type.
//! - [`subject`] and [`sublist`]: subject rules and the subject trie with its match cache.
//! - [`shard`]: one shard per core owns its connections, subscriptions and a replica of the
//!   cross-shard interest table; shards exchange batches of [`shard::mesh::Item`]s.
//! - [`runtime`]: the only module that names glommio: executors, pinning, channels, timers.
//! - [`server`]: starts the shards, the listener and the signal handling.
//! - [`tls`]: the rustls server configuration from the `tls { }` block, and the TLS names
//!   /connz reports.
//!
//! `docs/ARCHITECTURE.md` is the map with the reasons behind each choice.

pub mod auth;
pub mod cli;
pub mod conf;
pub mod config;
pub mod control;
pub mod gofmt;
pub mod lifecycle;
pub mod logger;
pub mod monitor;
pub mod monitor_http;
pub mod proto;
pub mod runtime;
pub mod server;
pub mod shard;
pub mod subject;
pub mod sublist;
pub mod tls;
