//! A stream's two subject rules: `subject_transform`, which renames a message before it is
//! stored, and `republish`, which announces a stored message as a core NATS message on
//! another subject (nats-server 2.15 `processJetStreamMsg`, behaviour as seen on the wire).
//!
//! Both reuse the core's compiled transforms (`crate::mapping::SubjectTransform`, with
//! nats-server's mapping functions); nothing here has a transform engine of its own.
//!
//! - **Transform at store time**: every message a stream stores — a publish, a mirror's or a
//!   source's copy — takes the stream's transform first when its subject matches the
//!   transform's source (an empty source is every subject), and is stored, deduplicated,
//!   checked against `Nats-Expected-Last-Subject-Sequence`, limited per subject and
//!   republished under the new subject. A subject that does not match is stored unchanged.
//! - **Republish after the commit**: a stored message whose (stored) subject matches the
//!   republish source goes out on the transformed subject with the stored headers, then
//!   `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp` (RFC 3339, Go's
//!   trimmed nanoseconds) and `Nats-Last-Sequence` (the previous sequence on that exact
//!   subject, 0 for none), and with `headers_only` `Nats-Msg-Size` (the payload's length)
//!   instead of the payload. A refused or duplicate publish is not republished. A target that
//!   is not a valid publish subject is dropped (nats-server suppresses it with a warning).
//!   The store path only builds the message ([`Republished`], queued in
//!   `AccountStreams::republished`); the owning shard routes it after the commit that wrote
//!   the record, in the same group as the publish ack and just before it, so a subscriber
//!   never hears of a message a crash could take back (with `sync_interval: always`, after
//!   its fdatasync, as nats-server's in-line sync does).
//!
//! Sans-io: no clock (times are arguments), no runtime.

use crate::jetstream::api::config::StreamConfig;
use crate::jetstream::api::info::{format_time, UnixNanos};
use crate::jetstream::streams::Stream;
use crate::mapping::SubjectTransform;

/// A stream's compiled `subject_transform` and `republish` (checked by the API layer before
/// they get here; one that does not compile is left off and logged).
#[derive(Debug, Default)]
pub struct SubjectRules {
    input: Option<SubjectTransform>,
    republish: Option<RepublishRule>,
}

#[derive(Debug)]
struct RepublishRule {
    transform: SubjectTransform,
    headers_only: bool,
}

/// Where a message about to be stored will be republished, found before the append (the
/// previous sequence on the subject must be read before the new one is there).
#[derive(Debug)]
pub struct RepublishPlan {
    target: Vec<u8>,
    last_seq: u64,
    headers_only: bool,
}

/// A republished message, for the shard to route as a core publish in the stream's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republished {
    pub subject: Vec<u8>,
    /// A complete header block (`NATS/1.0\r\n...\r\n\r\n`).
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

/// An empty source is every subject (nats-server's `NewSubjectTransform`).
fn or_all(src: &str) -> &str {
    if src.is_empty() {
        ">"
    } else {
        src
    }
}

/// nats-server's `IsValidPublishSubject`: no empty token, no wildcard, no white space.
fn publishable(s: &[u8]) -> bool {
    crate::subject::is_valid_publish_subject(s)
        && !s
            .iter()
            .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c'))
}

/// An empty destination is no transform at all (nats-server: `NewSubjectTransform` returns
/// none for it, and the rule then does nothing).
fn compile(
    what: &str,
    stream: &str,
    (src, dest): (&str, &str),
    new: fn(&str, &str) -> Result<SubjectTransform, crate::mapping::TransformError>,
) -> Option<SubjectTransform> {
    if dest.is_empty() {
        return None;
    }
    match new(or_all(src), dest) {
        Ok(t) => Some(t),
        Err(e) => {
            log::warn!(
                "JetStream: stream {stream:?}: {what} from {src:?} to {dest:?} left off: {e}"
            );
            None
        }
    }
}

impl SubjectRules {
    pub fn of(config: &StreamConfig) -> SubjectRules {
        let input = config.subject_transform.as_ref().and_then(|t| {
            let new = SubjectTransform::new;
            compile("subject transform", &config.name, (&t.src, &t.dest), new)
        });
        let republish = config.republish.as_ref().and_then(|r| {
            // Checked as nats-server checks it: `NewSubjectTransform` only.
            let new = SubjectTransform::new_unvalidated;
            compile("republish", &config.name, (&r.src, &r.dest), new).map(|transform| {
                RepublishRule {
                    transform,
                    headers_only: r.headers_only,
                }
            })
        });
        SubjectRules { input, republish }
    }

    /// The subject a message published (or copied) on `subject` is stored under, when the
    /// transform changes it. `rnd` feeds `{{random(n)}}`.
    pub fn stored_subject(&self, subject: &[u8], rnd: u32) -> Option<String> {
        let t = self.input.as_ref()?;
        let mut out = Vec::with_capacity(subject.len() + 16);
        t.transform(subject, rnd, &mut out)
            .then(|| String::from_utf8_lossy(&out).into_owned())
    }

    /// Where a message stored on `subject` is republished, if anywhere.
    pub fn republish_target(&self, subject: &[u8]) -> Option<(Vec<u8>, bool)> {
        let r = self.republish.as_ref()?;
        let mut out = Vec::with_capacity(subject.len() + 16);
        if !r.transform.transform(subject, 0, &mut out) || !publishable(&out) {
            return None;
        }
        Some((out, r.headers_only))
    }
}

impl Stream {
    /// Before storing a message on `subject`: where it is to be republished (None: not).
    pub(crate) fn republish_plan(&self, subject: &[u8]) -> Option<RepublishPlan> {
        let (target, headers_only) = self.rules.republish_target(subject)?;
        let last_seq = self
            .log
            .borrow()
            .log()
            .subject_state(subject)
            .map_or(0, |st| st.last_seq);
        Some(RepublishPlan {
            target,
            last_seq,
            headers_only,
        })
    }
}

impl RepublishPlan {
    /// The message announcing `seq` of `stream`, stored on `subject` at `ts` with the header
    /// block `hdr` (or none) and `payload`.
    pub fn message(
        self,
        stream: &str,
        subject: &[u8],
        seq: u64,
        ts: UnixNanos,
        hdr: &[u8],
        payload: &[u8],
    ) -> Republished {
        let mut h = Vec::with_capacity(hdr.len() + 160);
        match hdr.strip_suffix(b"\r\n").filter(|_| !hdr.is_empty()) {
            // The stored lines stay as they are; ours follow them.
            Some(lines) => h.extend_from_slice(lines),
            None => h.extend_from_slice(b"NATS/1.0\r\n"),
        }
        let mut line = |k: &str, v: &[u8]| {
            h.extend_from_slice(k.as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(v);
            h.extend_from_slice(b"\r\n");
        };
        line("Nats-Stream", stream.as_bytes());
        line("Nats-Subject", subject);
        line("Nats-Sequence", seq.to_string().as_bytes());
        line("Nats-Time-Stamp", format_time(ts).as_bytes());
        line("Nats-Last-Sequence", self.last_seq.to_string().as_bytes());
        if self.headers_only {
            line("Nats-Msg-Size", payload.len().to_string().as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        Republished {
            subject: self.target,
            headers: h,
            payload: if self.headers_only {
                Vec::new()
            } else {
                payload.to_vec()
            },
        }
    }
}

#[cfg(test)]
#[path = "republish_tests.rs"]
mod tests;
