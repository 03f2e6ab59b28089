//! `$JS.API.<...>` subjects to a typed request, as nats-server's API subscriptions match them
//! (`$JS.API.STREAM.INFO.*`, `$JS.API.CONSUMER.CREATE.*.>`, ...).
//!
//! Invariants: a subject that none of nats-server's API subscriptions would match parses to
//! `None`, and the caller sends nothing back (nats-server is silent there too). Names are
//! handed on as the raw token: whether a name is valid is the handler's question, because
//! nats-server answers a bad name differently per request (10052 on create, 10059 on info).
//! Parsing never allocates and never panics.

/// The JetStream API prefix every request subject starts with.
pub const API_PREFIX: &str = "$JS.API.";

/// One API request, by subject. Stream and consumer names borrow from the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRequest<'a> {
    /// `$JS.API.INFO`
    AccountInfo,
    /// `$JS.API.STREAM.CREATE.<stream>`
    StreamCreate { stream: &'a str },
    /// `$JS.API.STREAM.UPDATE.<stream>`
    StreamUpdate { stream: &'a str },
    /// `$JS.API.STREAM.INFO.<stream>`
    StreamInfo { stream: &'a str },
    /// `$JS.API.STREAM.DELETE.<stream>`
    StreamDelete { stream: &'a str },
    /// `$JS.API.STREAM.PURGE.<stream>`
    StreamPurge { stream: &'a str },
    /// `$JS.API.STREAM.NAMES`
    StreamNames,
    /// `$JS.API.STREAM.LIST`
    StreamList,
    /// `$JS.API.STREAM.MSG.GET.<stream>`
    StreamMsgGet { stream: &'a str },
    /// `$JS.API.STREAM.MSG.DELETE.<stream>`
    StreamMsgDelete { stream: &'a str },
    /// `$JS.API.DIRECT.GET.<stream>`, the query in the body.
    DirectGet { stream: &'a str },
    /// `$JS.API.DIRECT.GET.<stream>.<subject...>`: the last message on that subject.
    DirectGetLastFor { stream: &'a str, subject: &'a str },
    /// `$JS.API.CONSUMER.CREATE.<stream>` (legacy ephemeral) or
    /// `$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter...>]`.
    ConsumerCreate {
        stream: &'a str,
        name: Option<&'a str>,
        filter: Option<&'a str>,
    },
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`
    ConsumerDurableCreate { stream: &'a str, durable: &'a str },
    /// `$JS.API.CONSUMER.INFO.<stream>.<consumer>`
    ConsumerInfo { stream: &'a str, consumer: &'a str },
    /// `$JS.API.CONSUMER.DELETE.<stream>.<consumer>`
    ConsumerDelete { stream: &'a str, consumer: &'a str },
    /// `$JS.API.CONSUMER.NAMES.<stream>`
    ConsumerNames { stream: &'a str },
    /// `$JS.API.CONSUMER.LIST.<stream>`
    ConsumerList { stream: &'a str },
    /// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` (a pull request, not a JSON reply).
    ConsumerMsgNext { stream: &'a str, consumer: &'a str },
    /// `$JS.API.CONSUMER.PAUSE.<stream>.<consumer>`
    ConsumerPause { stream: &'a str, consumer: &'a str },
    /// `$JS.API.CONSUMER.UNPIN.<stream>.<consumer>`
    ConsumerUnpin { stream: &'a str, consumer: &'a str },
    /// `$JS.API.CONSUMER.RESET.<stream>.<consumer>`
    ConsumerReset { stream: &'a str, consumer: &'a str },
}

impl<'a> ApiRequest<'a> {
    /// Parses a request subject; `None` for anything nats-server does not answer.
    pub fn parse(subject: &'a str) -> Option<Self> {
        let rest = subject.strip_prefix(API_PREFIX)?;
        // The subject tokenizer's byte loop, not `str::split`: this runs for every API
        // request, every direct get and pull included.
        if crate::subject::tokens(rest.as_bytes()).any(<[u8]>::is_empty) {
            return None;
        }
        if rest == "INFO" {
            return Some(ApiRequest::AccountInfo);
        }
        if let Some(r) = rest.strip_prefix("STREAM.") {
            return Self::parse_stream(r);
        }
        if let Some(r) = rest.strip_prefix("DIRECT.GET.") {
            return Some(match r.split_once('.') {
                None => ApiRequest::DirectGet { stream: r },
                Some((stream, subject)) => ApiRequest::DirectGetLastFor { stream, subject },
            });
        }
        if let Some(r) = rest.strip_prefix("CONSUMER.") {
            return Self::parse_consumer(r);
        }
        None
    }

    fn parse_stream(r: &'a str) -> Option<Self> {
        match r {
            "NAMES" => return Some(ApiRequest::StreamNames),
            "LIST" => return Some(ApiRequest::StreamList),
            _ => {}
        }
        if let Some(s) = r.strip_prefix("MSG.GET.") {
            return one(s).map(|stream| ApiRequest::StreamMsgGet { stream });
        }
        if let Some(s) = r.strip_prefix("MSG.DELETE.") {
            return one(s).map(|stream| ApiRequest::StreamMsgDelete { stream });
        }
        let (verb, s) = r.split_once('.')?;
        let stream = one(s)?;
        Some(match verb {
            "CREATE" => ApiRequest::StreamCreate { stream },
            "UPDATE" => ApiRequest::StreamUpdate { stream },
            "INFO" => ApiRequest::StreamInfo { stream },
            "DELETE" => ApiRequest::StreamDelete { stream },
            "PURGE" => ApiRequest::StreamPurge { stream },
            _ => return None,
        })
    }

    fn parse_consumer(r: &'a str) -> Option<Self> {
        if let Some(s) = r.strip_prefix("CREATE.") {
            let (stream, rest) = match s.split_once('.') {
                None => {
                    return Some(ApiRequest::ConsumerCreate {
                        stream: s,
                        name: None,
                        filter: None,
                    })
                }
                Some(p) => p,
            };
            let (name, filter) = match rest.split_once('.') {
                None => (rest, None),
                Some((n, f)) => (n, Some(f)),
            };
            return Some(ApiRequest::ConsumerCreate {
                stream,
                name: Some(name),
                filter,
            });
        }
        if let Some(s) = r.strip_prefix("DURABLE.CREATE.") {
            let (stream, durable) = two(s)?;
            return Some(ApiRequest::ConsumerDurableCreate { stream, durable });
        }
        if let Some(s) = r.strip_prefix("MSG.NEXT.") {
            let (stream, consumer) = two(s)?;
            return Some(ApiRequest::ConsumerMsgNext { stream, consumer });
        }
        let (verb, s) = r.split_once('.')?;
        match verb {
            "NAMES" => return one(s).map(|stream| ApiRequest::ConsumerNames { stream }),
            "LIST" => return one(s).map(|stream| ApiRequest::ConsumerList { stream }),
            _ => {}
        }
        let (stream, consumer) = two(s)?;
        Some(match verb {
            "INFO" => ApiRequest::ConsumerInfo { stream, consumer },
            "DELETE" => ApiRequest::ConsumerDelete { stream, consumer },
            "PAUSE" => ApiRequest::ConsumerPause { stream, consumer },
            "UNPIN" => ApiRequest::ConsumerUnpin { stream, consumer },
            "RESET" => ApiRequest::ConsumerReset { stream, consumer },
            _ => return None,
        })
    }

    /// The `type` of the JSON response (`io.nats.jetstream.api.v1.<this>`); `None` for the
    /// requests whose reply is not a typed JSON document (direct get, pull).
    pub fn response_type(&self) -> Option<&'static str> {
        use ApiRequest::*;
        Some(match self {
            AccountInfo => "account_info_response",
            StreamCreate { .. } => "stream_create_response",
            StreamUpdate { .. } => "stream_update_response",
            StreamInfo { .. } => "stream_info_response",
            StreamDelete { .. } => "stream_delete_response",
            StreamPurge { .. } => "stream_purge_response",
            StreamNames => "stream_names_response",
            StreamList => "stream_list_response",
            StreamMsgGet { .. } => "stream_msg_get_response",
            StreamMsgDelete { .. } => "stream_msg_delete_response",
            ConsumerCreate { .. } | ConsumerDurableCreate { .. } => "consumer_create_response",
            ConsumerInfo { .. } => "consumer_info_response",
            ConsumerDelete { .. } => "consumer_delete_response",
            ConsumerNames { .. } => "consumer_names_response",
            ConsumerList { .. } => "consumer_list_response",
            ConsumerPause { .. } => "consumer_pause_response",
            ConsumerUnpin { .. } => "consumer_unpin_response",
            ConsumerReset { .. } => "consumer_reset_response",
            DirectGet { .. } | DirectGetLastFor { .. } | ConsumerMsgNext { .. } => return None,
        })
    }
}

/// Exactly one token (a `*` in nats-server's subscription).
fn one(s: &str) -> Option<&str> {
    (!s.contains('.')).then_some(s)
}

/// Exactly two tokens (`*.*`).
fn two(s: &str) -> Option<(&str, &str)> {
    let (a, b) = s.split_once('.')?;
    one(b).map(|b| (a, b))
}

/// A stream or consumer name nats-server accepts (`isValidAssetName`): not empty, and none of
/// `.`, `*`, `>`, `\`, `/`, space, tab, CR, LF or form feed.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().any(|c| {
            matches!(
                c,
                b'.' | b'*' | b'>' | b'\\' | b'/' | b' ' | b'\t' | b'\r' | b'\n' | 0x0c
            )
        })
}
