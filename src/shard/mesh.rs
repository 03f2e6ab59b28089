//! What shards say to each other: items, sent in batches over the links (`links.rs`).
//!
//! Invariants: a source shard sends at most one batch per destination per flush, and the
//! links keep each pair's batches in order, so the items from one shard reach another in the
//! order they were queued (an interest change queued before a delivery is applied before
//! it). Items own their bytes through `Bytes` (a reference count on the
//! publisher's read buffer, never a copy of the payload).

use bytes::Bytes;
use smallvec::SmallVec;

use crate::proto::encode::MsgView;
use crate::proto::parser::Span;

pub type ShardId = usize;

pub enum Item {
    /// Deliver a message published on the source shard.
    Deliver(Delivery),
    /// The sender has applied the receiver's interest changes up to `epoch`.
    InterestAck { epoch: u64 },
    /// A `$JS.API` request published in `account`, for the shard that owns JetStream.
    JsApi {
        account: crate::account::AccountId,
        msg: Msg,
    },
    /// A connection closed on the sender (for NATS Streaming on the receiver).
    ConnClosed { cid: u64 },
    /// An answer on an `_R_.` subject of `exporter` for a request the receiver routed.
    ServiceReply {
        exporter: crate::account::AccountId,
        msg: Msg,
    },
}

/// The source shard's interest changed; `epoch` numbers the source's changes. These travel
/// on their own queue (`Links::send_interest`), not as batch items.
#[derive(Clone, Debug)]
pub struct InterestChange {
    pub epoch: u64,
    pub account: crate::account::AccountId,
    pub add: bool,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
}

/// A message for the plain subscribers and/or chosen queue groups of one destination shard.
pub struct Delivery {
    /// The account whose subscribers get it.
    pub account: crate::account::AccountId,
    pub msg: Msg,
    /// Deliver to every matching plain subscription on the destination.
    pub plain: bool,
    /// Queue groups whose member the source picked on the destination: deliver to one
    /// matching member of each.
    pub queues: SmallVec<[Bytes; 1]>,
    /// How many times the delivery was passed on because its queue member had left.
    pub hops: u8,
    /// Route by this subject instead of the message's own (a JetStream delivery to an
    /// inbox or deliver subject, shown with the stream message's subject).
    pub to: Option<Bytes>,
    /// The cid of the connection that published it (0: the server), for NATS Streaming,
    /// which must know which connection a client's requests come from.
    pub origin: u64,
}

/// Where the parts of a published message lie in the frame that holds it. `Copy`, so the
/// publishing shard routes a message without touching the frame's reference count; only a
/// message that leaves for another shard takes a [`Msg`] (one count).
#[derive(Clone, Copy, Debug)]
pub struct MsgSpans {
    pub subject: Span,
    pub reply: Span,
    pub size_token: Span,
    pub hdr_token: Span,
    pub payload: Span,
    pub hdr_len: u32,
}

impl MsgSpans {
    /// Where a PUB (no headers) lies in its frame.
    pub fn of_pub(subject: Span, reply: Option<Span>, size_token: Span, payload: Span) -> Self {
        MsgSpans {
            subject,
            reply: reply.unwrap_or_default(),
            size_token,
            hdr_token: Span::default(),
            payload,
            hdr_len: 0,
        }
    }

    pub fn view<'a>(&self, frame: &'a [u8]) -> MsgView<'a> {
        MsgView {
            subject: self.subject.get(frame),
            reply: self.reply.get(frame),
            size_token: self.size_token.get(frame),
            hdr_token: self.hdr_token.get(frame),
            payload: self.payload.get(frame),
            hdr_len: self.hdr_len as usize,
        }
    }
}

/// A published message that owns its bytes: the frame plus where the parts lie in it.
#[derive(Clone, Debug)]
pub struct Msg {
    pub frame: Bytes,
    pub spans: MsgSpans,
}

impl Msg {
    pub fn view(&self) -> MsgView<'_> {
        self.spans.view(&self.frame)
    }

    /// A message of its own bytes (a subject rewritten by an import, a reply replaced, a
    /// header added): `headers` (the whole block, CRLFs included; empty for none) then `body`.
    pub fn build(subject: &[u8], reply: &[u8], headers: &[u8], body: &[u8]) -> Msg {
        let mut b = bytes::BytesMut::with_capacity(Msg::build_len(subject, reply, headers, body));
        let spans = MsgSpans::build_into(&mut b, subject, reply, headers, body);
        Msg {
            frame: b.freeze(),
            spans,
        }
    }

    /// Bytes [`Msg::build`] (or [`MsgSpans::build_into`]) takes, at most.
    pub fn build_len(subject: &[u8], reply: &[u8], headers: &[u8], body: &[u8]) -> usize {
        subject.len() + reply.len() + headers.len() + body.len() + 24
    }
}

impl MsgSpans {
    /// Appends a message's parts to `b` (as [`Msg::build`] lays them out) and says where they
    /// lie in it: several messages built into one buffer share one frame once it is frozen.
    pub fn build_into(
        b: &mut bytes::BytesMut,
        subject: &[u8],
        reply: &[u8],
        headers: &[u8],
        body: &[u8],
    ) -> MsgSpans {
        let span = |b: &bytes::BytesMut, start: usize| Span {
            start: start as u32,
            end: b.len() as u32,
        };
        let s = b.len();
        b.extend_from_slice(subject);
        let subject_span = span(b, s);
        let s = b.len();
        b.extend_from_slice(reply);
        let reply_span = span(b, s);
        let s = b.len();
        if !headers.is_empty() {
            b.extend_from_slice(itoa::Buffer::new().format(headers.len()).as_bytes());
        }
        let hdr_token = span(b, s);
        let s = b.len();
        b.extend_from_slice(
            itoa::Buffer::new()
                .format(headers.len() + body.len())
                .as_bytes(),
        );
        let size_token = span(b, s);
        let s = b.len();
        b.extend_from_slice(headers);
        b.extend_from_slice(body);
        let payload = span(b, s);
        MsgSpans {
            subject: subject_span,
            reply: reply_span,
            size_token,
            hdr_token,
            payload,
            hdr_len: headers.len() as u32,
        }
    }
}
