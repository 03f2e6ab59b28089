//! NATS Streaming (STAN) as a sans-io protocol core: [`StanServer`] takes the NATS messages
//! published on its subjects (with the opaque id of the NATS connection they came from) and
//! explicit time, and returns what to publish and which subjects to subscribe. It does no
//! I/O and reads no clock; its timers (heartbeats, request timeouts, ack waits, ghost grace
//! periods, max_age and max_inactivity) sit in a [`Wheel`](crate::wheel::Wheel) it owns, and
//! [`StanServer::next_deadline`] says when the driver must call [`StanServer::on_timer`].
//! Channel logs are behind [`ChannelStore`] (the storage engine's memory or file backend).
//!
//! A driver's loop, in short:
//!
//! ```
//! use natrix::stan::{MemChannels, Output, StanOptions, StanServer};
//! let mut stan = StanServer::new(StanOptions::default(), MemChannels, 0).expect("options");
//! // A bad ConnectRequest from NATS connection 7, at 5 ms (Unix time in ns beside it).
//! stan.on_message(7, b"_STAN.discover.test-cluster", b"_INBOX.r", &[0xff], 5, 5_000_000);
//! let out = stan.take_outputs(); // the internal subscriptions, then the error response
//! assert!(matches!(&out[0], Output::Subscribe { .. }));
//! assert!(matches!(out.last(), Some(Output::Publish { subject, .. }) if subject == "_INBOX.r"));
//! stan.on_connection_closed(7, 6);
//! if let Some(at_ms) = stan.next_deadline() {
//!     stan.on_timer(at_ms); // then publish take_outputs() again
//! }
//! ```
//!
//! Files: [`proto`] (the protobuf messages), [`errors`] (the exact error texts), [`limits`]
//! (options, limits and defaults), [`channel`] (logs and names), [`file_channel`] (the file
//! store's channel with its read-ahead), [`commit`] (which outputs wait for which deferred
//! fdatasync), `client` (the registry), `subs` (subscription state
//! and delivery), `pending` (a subscription's unacked messages by sequence and by expiry),
//! `server` (the request handlers and timers), `subscribe` (subscription, unsubscribe and ack
//! requests), `session` (connect, heartbeats, pings, ghosts, close).
//!
//! Invariants:
//! * Outputs are published in the order they were produced, on one NATS connection of the
//!   driver; so a SubscriptionResponse always precedes the first MsgProto on its inbox, and a
//!   ConnectResponse/CloseResponse follows everything it depends on.
//! * [`StanServer::take_outputs`] flushes every channel appended to since the last call
//!   before it returns anything: a PubAck (queued after the deliveries of its message) never
//!   precedes its store write, and nothing of a batch is published before the batch was
//!   written. A failed flush puts the store's error in the batch's PubAcks (its deliveries
//!   still go out, as the messages are in the log's memory). With the file store's sync
//!   deferred, [`StanServer::take_commit`] also names the files to fdatasync, and the driver
//!   publishes nothing of the batch before they are synced ([`commit`]).
//! * A client ID is registered at most once; each registration has a generation, and a
//!   timer or pending request of an earlier generation is ignored.
//! * Every pending message of a subscription is in both its by-sequence and by-expiry maps,
//!   and an active subscription with pending messages has exactly one ack timer armed.
//! * Live sequences of a channel are contiguous (limits drop only the oldest), and its
//!   timestamps never decrease.
//! * Bad input (undecodable protobuf, unknown clients, bad values) yields nats-streaming-
//!   server's error response or silence; nothing on the network path panics.

pub mod channel;
mod client;
pub mod commit;
pub mod errors;
pub mod file_channel;
mod journal;
pub mod limits;
mod pending;
pub mod proto;
mod restore;
mod server;
mod session;
pub mod state;
pub mod state_log;
mod subs;
mod subscribe;

pub use channel::{
    valid_channel, ChannelFactory, ChannelMsg, ChannelStore, FileChannels, FileSync, LogChannel,
    MemChannels,
};
pub use errors::StanError;
pub use file_channel::FileChannel;
pub use limits::{
    ChannelLimits, ChannelOverride, OptionsError, StanOptions, StartError, StoreLimits,
};
pub use server::{ChannelInfo, ClientInfo, Commit, RecoveryReport, StanServer, SubInfo};
pub use state_log::{IoStateLog, StateLog};

use crate::wheel::Wheel;

/// The driver's id for a NATS connection; opaque to the core.
pub type ConnId = u64;

/// What the driver must do for the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Publish `payload` on `subject`, with `reply` when not empty.
    Publish {
        subject: String,
        reply: String,
        payload: Vec<u8>,
    },
    /// Deliver messages on `subject` (wildcards allowed) to [`StanServer::on_message`].
    Subscribe {
        subject: String,
    },
    Unsubscribe {
        subject: String,
    },
}

/// Timer payloads. Stale ones (their object gone or re-created) are ignored when they fire.
#[derive(Debug)]
pub(crate) enum Timer {
    Heartbeat {
        client: String,
        generation: u64,
    },
    RequestTimeout {
        token: u64,
    },
    Ghost {
        client: String,
        generation: u64,
    },
    AckWait {
        channel: String,
        chan_gen: u64,
        sub: u64,
    },
    MaxAge {
        channel: String,
        chan_gen: u64,
    },
    Inactivity {
        channel: String,
        chan_gen: u64,
    },
}

/// The effects of handling one input: outputs, timers, and the time it happened at.
pub(crate) struct Fx {
    pub out: Vec<Output>,
    pub wheel: Wheel<Timer>,
    pub now_ms: u64,
    pub stats: StanStats,
    /// Changes for the state log (off without one).
    pub journal: journal::Journal,
}

/// Messages in and out since start, as nats-streaming-server counts them for
/// `/streaming/serverz`: a stored publish counts its data bytes, a delivery its MsgProto's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StanStats {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl Fx {
    pub fn publish(&mut self, subject: &str, reply: &str, payload: Vec<u8>) {
        if subject.is_empty() {
            return;
        }
        self.out.push(Output::Publish {
            subject: subject.to_string(),
            reply: reply.to_string(),
            payload,
        });
    }
}

#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod subs_tests;
#[cfg(test)]
mod sync_tests;
#[cfg(test)]
mod tests_support;
