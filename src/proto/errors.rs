//! What a client did wrong, as a type. `Display` is exactly the text nats-server puts inside
//! `-ERR '...'`, and [`ClientError::closes`] says whether nats-server closes the connection
//! after sending it (reference §5).

use std::fmt;

/// An error reported to a client with `-ERR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    UnknownOp,
    MaxControlLine,
    MaxPayload,
    InvalidProtocol,
    NoRespondersNeedsHeaders,
    AuthorizationViolation,
    StaleConnection,
    InvalidSubject,
    InvalidPublishSubject,
    /// Publish to a reserved subject (`_GR_.`, `$NRG.`).
    PublishViolation(Vec<u8>),
    /// Publish with a reserved reply prefix (`_R_.`, `$JS.ACK.`, `_GR_.`).
    PublishReplyViolation(Vec<u8>),
    /// Subscribe to a subject with a reserved queue name (`_sys_`), or a queue subscription the
    /// user's permissions refuse.
    SubscribeQueueViolation {
        subject: Vec<u8>,
        queue: Vec<u8>,
    },
    /// A plain subscription the user's permissions refuse.
    SubscribeViolation(Vec<u8>),
    /// An existing subscription a config reload took the permission away from; it is
    /// removed.
    SubscriptionRevoked {
        subject: Vec<u8>,
        queue: Option<Vec<u8>>,
        sid: Vec<u8>,
    },
    /// No CONNECT within the authorization timeout.
    AuthenticationTimeout,
    /// `max_connections` reached; sent right after INFO.
    MaxConnections,
    /// `max_subscriptions` (per connection) reached; the SUB is dropped, the connection stays.
    MaxSubscriptions,
    /// The TLS handshake did not finish in time.
    SecureConnectionTlsRequired,
}

impl ClientError {
    /// Whether nats-server closes the connection after this error.
    pub fn closes(&self) -> bool {
        matches!(
            self,
            ClientError::UnknownOp
                | ClientError::MaxControlLine
                | ClientError::MaxPayload
                | ClientError::InvalidProtocol
                | ClientError::NoRespondersNeedsHeaders
                | ClientError::AuthorizationViolation
                | ClientError::StaleConnection
                | ClientError::AuthenticationTimeout
                | ClientError::MaxConnections
                | ClientError::SecureConnectionTlsRequired
        )
    }
}

/// Go's `%q` for the bytes of a subject: double quotes, with escapes for quotes, backslashes,
/// control bytes and invalid UTF-8, as nats-server prints subjects in permission errors.
pub struct GoQuoted<'a>(pub &'a [u8]);

impl fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => f.write_str("\\\"")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    '\x07' => f.write_str("\\a")?,
                    '\x08' => f.write_str("\\b")?,
                    '\x0c' => f.write_str("\\f")?,
                    '\x0b' => f.write_str("\\v")?,
                    c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
                    c => write!(f, "{c}")?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::UnknownOp => f.write_str("Unknown Protocol Operation"),
            ClientError::MaxControlLine => f.write_str("maximum control line exceeded"),
            ClientError::MaxPayload => f.write_str("Maximum Payload Violation"),
            ClientError::InvalidProtocol => f.write_str("invalid client protocol"),
            ClientError::NoRespondersNeedsHeaders => {
                f.write_str("no responders requires headers support")
            }
            ClientError::AuthorizationViolation => f.write_str("Authorization Violation"),
            ClientError::StaleConnection => f.write_str("Stale Connection"),
            ClientError::InvalidSubject => f.write_str("Invalid Subject"),
            ClientError::InvalidPublishSubject => f.write_str("Invalid Publish Subject"),
            ClientError::PublishViolation(s) => {
                write!(f, "Permissions Violation for Publish to {}", GoQuoted(s))
            }
            ClientError::PublishReplyViolation(s) => {
                write!(
                    f,
                    "Permissions Violation for Publish with Reply of {}",
                    GoQuoted(s)
                )
            }
            ClientError::SubscribeQueueViolation { subject, queue } => write!(
                f,
                "Permissions Violation for Subscription to {} using queue {}",
                GoQuoted(subject),
                GoQuoted(queue)
            ),
            ClientError::SubscriptionRevoked {
                subject,
                queue,
                sid,
            } => {
                write!(
                    f,
                    "Permissions Violation for Subscription to {}",
                    GoQuoted(subject)
                )?;
                if let Some(q) = queue {
                    write!(f, " using queue {}", GoQuoted(q))?;
                }
                write!(f, " (sid {})", GoQuoted(sid))
            }
            ClientError::SubscribeViolation(s) => {
                write!(
                    f,
                    "Permissions Violation for Subscription to {}",
                    GoQuoted(s)
                )
            }
            ClientError::AuthenticationTimeout => f.write_str("Authentication Timeout"),
            ClientError::MaxConnections => f.write_str("maximum connections exceeded"),
            ClientError::MaxSubscriptions => f.write_str("maximum subscriptions exceeded"),
            ClientError::SecureConnectionTlsRequired => {
                f.write_str("Secure Connection - TLS Required")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_nats_servers() {
        assert_eq!(
            ClientError::MaxControlLine.to_string(),
            "maximum control line exceeded"
        );
        assert_eq!(
            ClientError::PublishReplyViolation(b"_R_.x".to_vec()).to_string(),
            "Permissions Violation for Publish with Reply of \"_R_.x\""
        );
        assert_eq!(
            ClientError::SubscribeQueueViolation {
                subject: b"foo".to_vec(),
                queue: b"_sys_".to_vec()
            }
            .to_string(),
            "Permissions Violation for Subscription to \"foo\" using queue \"_sys_\""
        );
        assert_eq!(
            ClientError::SubscriptionRevoked {
                subject: b"bar".to_vec(),
                queue: Some(b"q".to_vec()),
                sid: b"3".to_vec()
            }
            .to_string(),
            "Permissions Violation for Subscription to \"bar\" using queue \"q\" (sid \"3\")"
        );
        assert_eq!(
            ClientError::SubscribeViolation(b"foo.>".to_vec()).to_string(),
            "Permissions Violation for Subscription to \"foo.>\""
        );
        assert_eq!(
            ClientError::AuthenticationTimeout.to_string(),
            "Authentication Timeout"
        );
        assert_eq!(
            ClientError::MaxConnections.to_string(),
            "maximum connections exceeded"
        );
        assert_eq!(
            ClientError::MaxSubscriptions.to_string(),
            "maximum subscriptions exceeded"
        );
        assert_eq!(
            ClientError::SecureConnectionTlsRequired.to_string(),
            "Secure Connection - TLS Required"
        );
    }

    #[test]
    fn go_quoting_escapes_like_percent_q() {
        assert_eq!(GoQuoted(b"a\"b\\c\n\x01").to_string(), r#""a\"b\\c\n\x01""#);
        assert_eq!(GoQuoted("föö".as_bytes()).to_string(), "\"föö\"");
        assert_eq!(GoQuoted(b"\xff").to_string(), "\"\\xff\"");
    }

    #[test]
    fn only_lexical_and_fatal_errors_close() {
        assert!(ClientError::UnknownOp.closes());
        assert!(!ClientError::InvalidSubject.closes());
        assert!(!ClientError::PublishViolation(vec![]).closes());
    }

    #[test]
    fn auth_and_limit_errors_close_as_in_nats_server() {
        // Reference §5: the connection-level ones close, the per-op ones do not.
        assert!(ClientError::AuthenticationTimeout.closes());
        assert!(ClientError::MaxConnections.closes());
        assert!(ClientError::SecureConnectionTlsRequired.closes());
        assert!(!ClientError::MaxSubscriptions.closes());
        assert!(!ClientError::SubscribeViolation(b"foo".to_vec()).closes());
        assert!(!ClientError::SubscribeQueueViolation {
            subject: b"foo".to_vec(),
            queue: b"q".to_vec()
        }
        .closes());
    }
}
