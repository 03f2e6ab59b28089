//! The message-level requests: STREAM.MSG.GET, STREAM.MSG.DELETE and DIRECT.GET (JSON and
//! raw-message replies), with nats-server's rules for which query fields go together.
//!
//! Invariants: a query reaches the backend only in one of the [`MsgQuery`] shapes; a direct
//! get answers with the stored payload and headers or with a status message, never JSON.

use super::backend::{MsgQuery, StateDetail, StoredMsg, StreamBackend};
use super::config::{decode, nullable};
use super::error::ApiError;
use super::handle::{is_empty_request, Doc};
use super::headers::{direct_get_block, status_block};
use super::info::{format_time, UnixNanos};
use super::Response;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
struct MsgGetRequest {
    #[serde(default, deserialize_with = "nullable")]
    seq: u64,
    #[serde(default, deserialize_with = "nullable")]
    last_by_subj: String,
    #[serde(default, deserialize_with = "nullable")]
    next_by_subj: String,
    #[serde(default, deserialize_with = "rfc3339")]
    start_time: Option<UnixNanos>,
    #[serde(default, deserialize_with = "nullable")]
    batch: i64,
    #[serde(default, deserialize_with = "nullable")]
    max_bytes: i64,
    #[serde(default)]
    multi_last: Option<Vec<String>>,
}

impl MsgGetRequest {
    /// nats-server's combination rules; `None` is a bad request. The batch forms (`batch`,
    /// `max_bytes`, `multi_last`) are refused as bad requests: they are not served here.
    fn query(&self) -> Option<MsgQuery> {
        if self.batch > 0 || self.max_bytes > 0 || self.multi_last.is_some() {
            return None;
        }
        let (last, next) = (!self.last_by_subj.is_empty(), !self.next_by_subj.is_empty());
        let time = self.start_time.is_some();
        if (self.seq > 0 && last)
            || (self.seq == 0 && !last && !next && !time)
            || (self.seq > 0 && time)
            || (time && last)
            || (last && next)
        {
            return None;
        }
        let next_subject = next.then(|| self.next_by_subj.clone());
        Some(match (self.start_time, next_subject) {
            (Some(time), subject) => MsgQuery::StartTime { time, subject },
            (None, Some(subject)) => MsgQuery::NextBySubject {
                seq: self.seq,
                subject,
            },
            (None, None) if last => MsgQuery::LastBySubject(self.last_by_subj.clone()),
            (None, None) => MsgQuery::Seq(self.seq),
        })
    }
}

/// An RFC 3339 time as Go's `time.Time` reads it, to Unix nanoseconds; a bad one fails with
/// Go's leading words (`parsing time "..."`).
fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<UnixNanos>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(&text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .map(Some)
        .ok_or_else(|| {
            // Go names the element that failed; the year is the usual one for a non-time.
            let q = crate::gofmt::quote(&text);
            serde::de::Error::custom(format!(
                "parsing time {q} as \"2006-01-02T15:04:05Z07:00\": cannot parse {q} as \"2006\""
            ))
        })
}

#[derive(Serialize)]
struct MsgBody<'a> {
    subject: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hdrs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    time: String,
}

pub(super) fn msg_get<B: StreamBackend>(
    doc: Doc,
    stream: &str,
    payload: &[u8],
    b: &B,
) -> (Response, bool) {
    let run = || -> Result<StoredMsg, ApiError> {
        if is_empty_request(payload) {
            return Err(ApiError::BadRequest);
        }
        let req: MsgGetRequest = decode(payload)?;
        let q = req.query().ok_or(ApiError::BadRequest)?;
        b.stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)?;
        b.get_msg(stream, &q)
    };
    match run() {
        Ok(m) => {
            let b64 = |v: &[u8]| {
                (!v.is_empty()).then(|| base64::engine::general_purpose::STANDARD.encode(v))
            };
            let body = MsgBody {
                subject: &m.subject,
                seq: m.seq,
                hdrs: b64(&m.hdrs),
                data: b64(&m.data),
                time: format_time(m.time),
            };
            doc.field("message", &body).done()
        }
        Err(e) => doc.fail(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct MsgDeleteRequest {
    #[serde(default, deserialize_with = "nullable")]
    seq: u64,
    #[serde(default, deserialize_with = "nullable")]
    no_erase: bool,
}

pub(super) fn msg_delete<B: StreamBackend>(
    doc: Doc,
    stream: &str,
    payload: &[u8],
    b: &mut B,
) -> (Response, bool) {
    let run = |b: &mut B| -> Result<(), ApiError> {
        if is_empty_request(payload) {
            return Err(ApiError::BadRequest);
        }
        let req: MsgDeleteRequest = decode(payload)?;
        let v = b
            .stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)?;
        if v.config.sealed {
            return Err(ApiError::Sealed);
        }
        if v.config.deny_delete {
            return Err(ApiError::MsgDeleteFailed(
                "message delete not permitted".into(),
            ));
        }
        b.delete_msg(stream, req.seq, req.no_erase)
    };
    match run(b) {
        Ok(()) => doc.field("success", &true).done(),
        Err(e) => doc.fail(&e),
    }
}

pub(super) fn status(code: u16, text: &str) -> (Response, bool) {
    (
        Response::Message {
            headers: status_block(code, text),
            payload: Vec::new(),
        },
        true,
    )
}

pub(super) fn direct_get<B: StreamBackend>(
    stream: &str,
    last_for: Option<&str>,
    payload: &[u8],
    b: &B,
) -> (Response, bool) {
    if b.direct_allowed(stream) != Some(true) {
        return (Response::NoResponders, false);
    }
    let q = match last_for {
        Some(subject) => MsgQuery::LastBySubject(subject.to_string()),
        None => {
            if payload.iter().all(u8::is_ascii_whitespace) {
                return status(408, "Empty Request");
            }
            let req: MsgGetRequest = match serde_json::from_slice::<Option<MsgGetRequest>>(payload)
            {
                Ok(r) => r.unwrap_or_default(),
                Err(_) => return status(408, "Malformed Request"),
            };
            match req.query() {
                Some(q) => q,
                None => return status(408, "Bad Request"),
            }
        }
    };
    match b.get_msg(stream, &q) {
        Ok(m) => {
            let headers =
                direct_get_block(&m.hdrs, stream, &m.subject, m.seq, &format_time(m.time));
            (
                Response::Message {
                    headers,
                    payload: m.data,
                },
                false,
            )
        }
        Err(_) => status(404, "Message Not Found"),
    }
}
