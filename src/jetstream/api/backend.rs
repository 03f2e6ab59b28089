//! The engine-facing side of the API layer: what the shard implements over the real store.
//!
//! The trait is coarse and state-oriented on purpose: the API layer validates, normalises and
//! formats; the backend only keeps streams and answers for their state. Every method that
//! names a stream returns `ApiError::StreamNotFound` when it does not exist, and the
//! backend's own refusals (out of storage, sequence not found) are `ApiError`s too.
//!
//! Invariants the layer relies on: `stream_names` is sorted and duplicate-free; a config
//! passed to `create_stream`/`update_stream` was already normalised and validated, so the
//! backend stores it as given and echoes it back unchanged.

use super::config::StreamConfig;
use super::error::ApiError;
use super::info::{AccountUsage, StreamView, UnixNanos};

/// What STREAM.INFO asked to see beyond the plain state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateDetail {
    /// Fill `state.subjects` with the counts of subjects matching this filter.
    pub subjects_filter: Option<String>,
    /// Fill `state.deleted` with the interior deleted sequences.
    pub deleted_details: bool,
}

/// Which message a MSG.GET or DIRECT.GET wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgQuery {
    /// Exactly this sequence.
    Seq(u64),
    /// The last message on a subject (wildcards allowed).
    LastBySubject(String),
    /// The first message at or after `seq` on a subject (wildcards allowed).
    NextBySubject { seq: u64, subject: String },
    /// The first message stored at or after `time`, on `subject` if given.
    StartTime {
        time: UnixNanos,
        subject: Option<String>,
    },
}

/// The body of a STREAM.PURGE, checked: `seq` and `keep` are never both set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PurgeRequest {
    /// Only messages on subjects matching this.
    pub filter: Option<String>,
    /// Purge everything below this sequence.
    pub seq: Option<u64>,
    /// Keep this many of the newest messages.
    pub keep: Option<u64>,
}

/// One stored message as MSG.GET and DIRECT.GET return it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    /// The header block as published (`NATS/1.0\r\n...\r\n\r\n`), empty if there was none.
    pub hdrs: Vec<u8>,
    pub data: Vec<u8>,
    pub time: UnixNanos,
}

/// The streams of one account, over whatever store the shard runs.
pub trait StreamBackend {
    /// All stream names, sorted.
    fn stream_names(&self) -> Vec<String>;
    /// One stream's config, creation time and state.
    fn stream(&self, name: &str, detail: &StateDetail) -> Option<StreamView>;
    /// Whether stream `name` answers direct gets (None: no such stream), asked at every
    /// DIRECT.GET; the default builds the whole view, a backend can say it cheaper.
    fn direct_allowed(&self, name: &str) -> Option<bool> {
        self.stream(name, &StateDetail::default())
            .map(|v| v.config.allow_direct || v.config.mirror_direct)
    }
    /// Creates a stream with a normalised config.
    fn create_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError>;
    /// Replaces an existing stream's config (already checked against the old one) and
    /// applies the new limits.
    fn update_stream(&mut self, config: StreamConfig, now: UnixNanos) -> Result<(), ApiError>;
    /// Deletes a stream and everything in it.
    fn delete_stream(&mut self, name: &str) -> Result<(), ApiError>;
    /// Purges and returns how many messages went.
    fn purge(&mut self, name: &str, req: &PurgeRequest) -> Result<u64, ApiError>;
    /// Loads one message; `ApiError::NoMessageFound` when there is none.
    fn get_msg(&self, name: &str, query: &MsgQuery) -> Result<StoredMsg, ApiError>;
    /// Deletes one message (overwriting it unless `no_erase`); `SequenceNotFound` if absent.
    fn delete_msg(&mut self, name: &str, seq: u64, no_erase: bool) -> Result<(), ApiError>;
    /// The account's usage for `$JS.API.INFO`.
    fn usage(&self) -> AccountUsage;
}
