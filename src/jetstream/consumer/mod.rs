//! Sans-io state of one JetStream consumer on one stream: what to deliver next, what is
//! pending acknowledgement, when to redeliver, and the wire forms around it (the `$JS.ACK`
//! reply subject and ack payloads in [`ack`], pull requests, their queue and status messages
//! in [`pull`], priority groups and the pinned client in [`priority`]), and its durable
//! forms: the snapshot ([`persist`]), the change list and delta records ([`delta`]) and a
//! state file's records and recovery ([`state_log`]).
//!
//! No clock, no sockets, no glommio: time comes in as `now_ms`, timers go into a
//! `Wheel<ConsumerTimer>` that the shard owns and passes in, and messages are reached through
//! the [`StreamView`] trait the store implements. Timers carry `consumer_id` so one wheel
//! serves every consumer on a shard; the shard routes a fired timer back to
//! [`state::ConsumerState::on_timer`] or to the waiting queue.

pub mod ack;
pub mod delta;
pub mod persist;
pub mod priority;
pub mod pull;
pub mod state;
pub mod state_log;

/// What a consumer's timer means when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerTimer {
    pub consumer_id: u64,
    pub kind: TimerKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// Ack wait (or backoff step, or NAK delay) of a pending stream sequence ran out.
    AckWait { stream_seq: u64 },
    /// A waiting pull request expired: answer `408 Request Timeout`.
    PullExpiry { request_id: u64 },
    /// A waiting pull request's idle heartbeat is due: send `100 Idle Heartbeat`.
    PullHeartbeat { request_id: u64 },
    /// A push consumer's idle heartbeat interval ended.
    PushHeartbeat,
    /// Time to check whether the consumer has been inactive for its `inactive_threshold`.
    Inactive,
    /// A pause (`pause_until`) ends: delivery resumes.
    PauseEnd,
    /// A paced consumer (`rate_limit_bps`, `replay_policy: original`) may send again.
    Resume,
    /// A pinned client sent no pull carrying its pin id for `priority_timeout`: unpin it.
    PinExpiry,
    /// Stream timers (`consumer_id` is then the stream's id, see `jetstream/expiry.rs`):
    /// a message's `Nats-TTL` ran out.
    MsgTtl { stream_seq: u64 },
    /// The oldest message reached the stream's `max_age`.
    MaxAge,
    /// The schedule stored at this sequence is due (`jetstream/schedules.rs`).
    Schedule { stream_seq: u64 },
    /// An open atomic batch of the stream may have been idle too long (`batch.rs`).
    BatchIdle,
}

/// The stream index the store implements; the consumer never scans messages itself.
pub trait StreamView {
    /// Messages with sequence ≥ `from_seq` matching any of `filters` (empty = all subjects).
    fn num_pending(&self, filters: &[String], from_seq: u64) -> u64;
    /// The first sequence ≥ `from_seq` matching any of `filters` (empty = all subjects).
    fn next(&self, from_seq: u64, filters: &[String]) -> Option<u64>;
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
