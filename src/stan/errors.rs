//! What a STAN client did wrong, or what a channel refused, as one type whose `Display` is the
//! exact text nats-streaming-server 0.25.6 puts in the response's `error` field (its
//! `server.go` and `stores/store.go` error values; the case-conflict typo "alreay" is the
//! original's).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StanError {
    InvalidConnReq,
    InvalidClientId,
    ClientIdRegistered,
    InvalidPubReq,
    InvalidSubReq,
    MissingClient,
    InvalidAckWait,
    InvalidMaxInflight,
    InvalidStart,
    InvalidSubject,
    UnknownClient,
    InvalidDurableName,
    DuplicateDurable,
    InvalidUnsubReq,
    UnknownChannel,
    InvalidSub,
    InvalidCloseReq,
    ChannelBeingDeleted,
    TooManyChannels,
    TooManySubs,
    /// Creating `name` while `existing` differs only in case.
    ChannelCase {
        name: String,
        existing: String,
    },
    /// The message store failed (its own text).
    Store(String),
    /// The answer to a ping from a connection the server does not know (no `stan:` prefix).
    PingUnknownClient,
}

impl fmt::Display for StanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            StanError::InvalidConnReq => "stan: invalid connection request",
            StanError::InvalidClientId => {
                "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
            }
            StanError::ClientIdRegistered => "stan: clientID already registered",
            StanError::InvalidPubReq => "stan: invalid publish request",
            StanError::InvalidSubReq => "stan: invalid subscription request",
            StanError::MissingClient => "stan: clientID missing",
            StanError::InvalidAckWait => "stan: invalid ack wait time, should be >= 1s",
            StanError::InvalidMaxInflight => "stan: invalid MaxInflight, should be >= 1",
            StanError::InvalidStart => "stan: invalid start position",
            StanError::InvalidSubject => "stan: invalid subject",
            StanError::UnknownClient => "stan: unknown clientID",
            StanError::InvalidDurableName => {
                "stan: durable name of a durable queue subscriber can't contain the character ':'"
            }
            StanError::DuplicateDurable => "stan: duplicate durable registration",
            StanError::InvalidUnsubReq => "stan: invalid unsubscribe request",
            StanError::UnknownChannel => "stan: unknown channel",
            StanError::InvalidSub => "stan: invalid subscription",
            StanError::InvalidCloseReq => "stan: invalid close request",
            StanError::ChannelBeingDeleted => "stan: channel is being deleted",
            StanError::TooManyChannels => "too many channels",
            StanError::TooManySubs => "too many subscriptions per channel",
            StanError::ChannelCase { name, existing } => {
                return write!(
                    f,
                    "rejecting channel {} because channel {} alreay exists (different cases not allowed)",
                    go_quote(name),
                    go_quote(existing)
                );
            }
            StanError::Store(text) => text,
            StanError::PingUnknownClient => "client has been replaced or is no longer registered",
        };
        f.write_str(text)
    }
}

impl std::error::Error for StanError {}

/// Go's `%q` for the printable ASCII channel names clients use; other bytes are escaped as
/// `\u` escapes (Go keeps printable unicode as is, which this also does).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
