//! The engine-facing side of the consumer API: what the shard implements over the consumer
//! engine (src/jetstream/consumer/) and the store.
//!
//! Division of work: the API layer decides everything it can from configs (defaults,
//! validation, create-vs-update, work-queue uniqueness, limits, update rules) and asks the
//! backend only to store and report. A config handed to `create_consumer`/`update_consumer`
//! is final: the backend stores it as given and echoes it back unchanged.

use super::super::backend::StreamBackend;
use super::super::error::ApiError;
use super::super::info::UnixNanos;
use super::config::ConsumerConfig;

/// A consumer and a stream sequence, and when that point last moved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeqInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    pub last_active: Option<UnixNanos>,
}

/// What the engine knows about a consumer's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerStateView {
    /// The last delivery (consumer sequence) and how far the stream was scanned.
    pub delivered: SeqInfo,
    pub ack_floor: SeqInfo,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    /// A push consumer whose deliver subject has interest now.
    pub push_bound: bool,
}

/// One consumer as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerView {
    pub stream: String,
    pub name: String,
    pub config: ConsumerConfig,
    pub created: UnixNanos,
    pub state: ConsumerStateView,
    /// Some while paused (pause_until in the future).
    pub paused_until: Option<UnixNanos>,
    /// The pinned client of a `pinned_client` consumer: its id and since when.
    pub pin: Option<(String, UnixNanos)>,
}

/// The consumers of one account's streams.
pub trait ConsumerBackend: StreamBackend {
    /// Sorted consumer names of a stream; Err(StreamNotFound) if no such stream.
    fn consumer_names(&self, stream: &str) -> Result<Vec<String>, ApiError>;
    fn consumer(&self, stream: &str, name: &str, now: UnixNanos) -> Option<ConsumerView>;
    /// Config already defaulted, normalised and validated by the API layer (incl. the
    /// workqueue and exists/not-exists rules); the backend stores it and starts delivery.
    fn create_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError>;
    /// Replaces the config of an existing consumer (already checked against the old one).
    fn update_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError>;
    fn delete_consumer(&mut self, stream: &str, name: &str) -> Result<(), ApiError>;
    /// Pauses delivery until `until` (None resumes). The stored config becomes
    /// [`paused_config`](super::paused_config)`(&old, until)`, which sets `pause_until` and
    /// the `_nats.req.level` metadata as nats-server does.
    fn pause_consumer(
        &mut self,
        stream: &str,
        name: &str,
        until: Option<UnixNanos>,
        now: UnixNanos,
    ) -> Result<ConsumerView, ApiError>;
    /// A fresh name for an ephemeral consumer (nats-server: 8 random alphanumerics).
    fn new_consumer_name(&mut self) -> String;
    /// Whether anything is subscribed to `subject` now, wildcards included (nats-server's
    /// `HasInterest`). A push consumer may not move its deliver subject while the old one has
    /// interest (10013). The default knows of none; `push_bound` is consulted as well.
    fn has_interest(&self, _subject: &str) -> bool {
        false
    }
    /// Drops the pinned client of `group` (CONSUMER.UNPIN, after the layer checked that the
    /// consumer has that group). Without priority-group support there is nothing to drop.
    fn unpin_consumer(
        &mut self,
        _stream: &str,
        _name: &str,
        _group: &str,
        _now: UnixNanos,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}
