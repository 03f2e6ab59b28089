//! The storage engine shared by JetStream streams, consumer state and NATS Streaming
//! channels: a message log of sequenced records in bounded, append-only segments.
//!
//! Placeholder while the pieces land.

pub mod record;
