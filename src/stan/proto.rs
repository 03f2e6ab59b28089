//! The NATS Streaming wire messages (package `pb` of stan.go's `protocol.proto`, and the few
//! server-internal `spb` messages the server decodes), as prost derives with the field numbers
//! of the original. proto3: absent fields decode as zero values, and zero values are not
//! encoded, so an OK `PingResponse` is a zero-length payload.
//!
//! `start_position` is kept as a plain `i32` so that an out-of-range value decodes and can be
//! refused with nats-streaming-server's "stan: invalid start position" instead of a decode
//! error.

use prost::Message;

/// Client → server on `<pubPrefix>.<channel>`.
#[derive(Clone, PartialEq, Message)]
pub struct PubMsg {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub guid: String,
    /// The channel; the server uses this, not the NATS subject's suffix.
    #[prost(string, tag = "3")]
    pub subject: String,
    #[prost(string, tag = "4")]
    pub reply: String,
    #[prost(bytes = "vec", tag = "5")]
    pub data: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub conn_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "10")]
    pub sha256: Vec<u8>,
}

/// Server → client, to the PubMsg's reply subject.
#[derive(Clone, PartialEq, Message)]
pub struct PubAck {
    #[prost(string, tag = "1")]
    pub guid: String,
    #[prost(string, tag = "2")]
    pub error: String,
}

/// A delivery on a subscription's inbox (and the stored message).
#[derive(Clone, PartialEq, Message)]
pub struct MsgProto {
    #[prost(uint64, tag = "1")]
    pub sequence: u64,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub reply: String,
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
    /// Unix nanoseconds, monotonic per channel.
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
    #[prost(bool, tag = "6")]
    pub redelivered: bool,
    #[prost(uint32, tag = "7")]
    pub redelivery_count: u32,
    #[prost(uint32, tag = "10")]
    pub crc32: u32,
}

/// Subscriber → server on the subscription's ack inbox; never answered.
#[derive(Clone, PartialEq, Message)]
pub struct Ack {
    #[prost(string, tag = "1")]
    pub subject: String,
    #[prost(uint64, tag = "2")]
    pub sequence: u64,
}

/// Client → `<discoverPrefix>.<clusterID>`.
#[derive(Clone, PartialEq, Message)]
pub struct ConnectRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub heartbeat_inbox: String,
    #[prost(int32, tag = "3")]
    pub protocol: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub conn_id: Vec<u8>,
    /// Seconds.
    #[prost(int32, tag = "5")]
    pub ping_interval: i32,
    #[prost(int32, tag = "6")]
    pub ping_max_out: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct ConnectResponse {
    #[prost(string, tag = "1")]
    pub pub_prefix: String,
    #[prost(string, tag = "2")]
    pub sub_requests: String,
    #[prost(string, tag = "3")]
    pub unsub_requests: String,
    #[prost(string, tag = "4")]
    pub close_requests: String,
    #[prost(string, tag = "5")]
    pub error: String,
    #[prost(string, tag = "6")]
    pub sub_close_requests: String,
    #[prost(string, tag = "7")]
    pub ping_requests: String,
    #[prost(int32, tag = "8")]
    pub ping_interval: i32,
    #[prost(int32, tag = "9")]
    pub ping_max_out: i32,
    #[prost(int32, tag = "10")]
    pub protocol: i32,
    #[prost(string, tag = "100")]
    pub public_key: String,
}

/// Client → `pingRequests` (protocol 1).
#[derive(Clone, PartialEq, Message)]
pub struct Ping {
    #[prost(bytes = "vec", tag = "1")]
    pub conn_id: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PingResponse {
    #[prost(string, tag = "1")]
    pub error: String,
}

/// `SubscriptionRequest.start_position` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum StartPosition {
    NewOnly = 0,
    LastReceived = 1,
    TimeDeltaStart = 2,
    SequenceStart = 3,
    First = 4,
}

/// Client → `subRequests`.
#[derive(Clone, PartialEq, Message)]
pub struct SubscriptionRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub q_group: String,
    #[prost(string, tag = "4")]
    pub inbox: String,
    #[prost(int32, tag = "5")]
    pub max_in_flight: i32,
    #[prost(int32, tag = "6")]
    pub ack_wait_in_secs: i32,
    #[prost(string, tag = "7")]
    pub durable_name: String,
    /// A [`StartPosition`]; any other value is refused by the server, not the decoder.
    #[prost(int32, tag = "10")]
    pub start_position: i32,
    #[prost(uint64, tag = "11")]
    pub start_sequence: u64,
    /// Nanoseconds before now.
    #[prost(int64, tag = "12")]
    pub start_time_delta: i64,
}

/// The answer to subscribe, unsubscribe and subscription-close requests (no field 1).
#[derive(Clone, PartialEq, Message)]
pub struct SubscriptionResponse {
    #[prost(string, tag = "2")]
    pub ack_inbox: String,
    #[prost(string, tag = "3")]
    pub error: String,
}

/// Client → `unsubRequests` or `subCloseRequests`.
#[derive(Clone, PartialEq, Message)]
pub struct UnsubscribeRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    /// The ack inbox (both clients), or the delivery inbox (Go's timeout clean-up).
    #[prost(string, tag = "3")]
    pub inbox: String,
    #[prost(string, tag = "4")]
    pub durable_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct CloseRequest {
    #[prost(string, tag = "1")]
    pub client_id: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct CloseResponse {
    #[prost(string, tag = "1")]
    pub error: String,
}

/// `spb.CtrlMsg`: obsolete control messages. A well-formed one on the publish or ack
/// subjects is ignored, as nats-streaming-server does.
#[derive(Clone, PartialEq, Message)]
pub struct CtrlMsg {
    #[prost(int32, tag = "1")]
    pub mtyp: i32,
    #[prost(string, tag = "2")]
    pub server_id: String,
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
}

/// Decodes `bytes` as `M`; `None` when they are not a valid encoding.
pub fn decode<M: Message + Default>(bytes: &[u8]) -> Option<M> {
    M::decode(bytes).ok()
}

/// Encodes a message to a fresh buffer.
pub fn encode<M: Message>(msg: &M) -> Vec<u8> {
    msg.encode_to_vec()
}

/// `decode::<Ack>(bytes)` as `(subject, sequence)`, borrowed: `None` exactly where prost
/// refuses the bytes (a bad key or varint, a known field of the wrong wire type, a subject
/// that is not UTF-8, a short buffer); unknown fields are skipped and the last value of a
/// field wins, as prost does. An ack per delivered message is the hottest input of the core.
pub fn decode_ack(mut buf: &[u8]) -> Option<(&str, u64)> {
    use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
    let (mut subject, mut sequence) = ("", 0);
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        match tag {
            1 => {
                if wire_type != WireType::LengthDelimited {
                    return None;
                }
                let len = decode_varint(&mut buf).ok()?;
                if len > buf.len() as u64 {
                    return None;
                }
                let (s, rest) = buf.split_at(len as usize);
                subject = std::str::from_utf8(s).ok()?;
                buf = rest;
            }
            2 => {
                if wire_type != WireType::Varint {
                    return None;
                }
                sequence = decode_varint(&mut buf).ok()?;
            }
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default()).ok()?,
        }
    }
    Some((subject, sequence))
}

/// A [`MsgProto`] over borrowed parts: a delivery is encoded straight from the stored
/// message, without copying its data into an owned `MsgProto` first.
#[derive(Clone, Copy, Debug)]
pub struct MsgProtoRef<'a> {
    pub sequence: u64,
    pub subject: &'a str,
    pub reply: &'a str,
    pub data: &'a [u8],
    pub timestamp: i64,
    pub redelivered: bool,
    pub redelivery_count: u32,
}

impl MsgProtoRef<'_> {
    /// The bytes `proto::encode(&MsgProto { .. })` gives for the same fields (`crc32` 0): the
    /// fields in tag order, zero values left out, as prost encodes them.
    pub fn encode(&self) -> Vec<u8> {
        use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
        fn bytes_len(n: usize) -> usize {
            if n == 0 {
                0
            } else {
                1 + encoded_len_varint(n as u64) + n
            }
        }
        fn varint_len(v: u64) -> usize {
            if v == 0 {
                0
            } else {
                1 + encoded_len_varint(v)
            }
        }
        let len = varint_len(self.sequence)
            + bytes_len(self.subject.len())
            + bytes_len(self.reply.len())
            + bytes_len(self.data.len())
            + varint_len(self.timestamp as u64)
            + if self.redelivered { 2 } else { 0 }
            + varint_len(u64::from(self.redelivery_count));
        let mut b = Vec::with_capacity(len);
        fn put_bytes(b: &mut Vec<u8>, tag: u32, v: &[u8]) {
            if !v.is_empty() {
                encode_key(tag, WireType::LengthDelimited, b);
                encode_varint(v.len() as u64, b);
                b.extend_from_slice(v);
            }
        }
        fn put_varint(b: &mut Vec<u8>, tag: u32, v: u64) {
            if v != 0 {
                encode_key(tag, WireType::Varint, b);
                encode_varint(v, b);
            }
        }
        put_varint(&mut b, 1, self.sequence);
        put_bytes(&mut b, 2, self.subject.as_bytes());
        put_bytes(&mut b, 3, self.reply.as_bytes());
        put_bytes(&mut b, 4, self.data);
        // int64 is a varint of the two's-complement u64, as prost writes it.
        put_varint(&mut b, 5, self.timestamp as u64);
        put_varint(&mut b, 6, u64::from(self.redelivered));
        put_varint(&mut b, 7, u64::from(self.redelivery_count));
        debug_assert_eq!(b.len(), len);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_ping_response_is_empty_and_sub_response_has_no_field_one() {
        assert!(encode(&PingResponse::default()).is_empty());
        let b = encode(&SubscriptionResponse {
            ack_inbox: "a".into(),
            error: String::new(),
        });
        assert_eq!(b, vec![0x12, 1, b'a']);
    }

    #[test]
    fn field_numbers_match_the_proto() {
        let b = encode(&PubMsg {
            conn_id: vec![7],
            sha256: vec![8],
            ..Default::default()
        });
        // field 6 (bytes) = tag 0x32, field 10 (bytes) = tag 0x52.
        assert_eq!(b, vec![0x32, 1, 7, 0x52, 1, 8]);
        let b = encode(&SubscriptionRequest {
            start_position: 4,
            start_sequence: 1,
            start_time_delta: 2,
            ..Default::default()
        });
        assert_eq!(b, vec![0x50, 4, 0x58, 1, 0x60, 2]);
        let b = encode(&ConnectResponse {
            public_key: "k".into(),
            ..Default::default()
        });
        assert_eq!(b, vec![0xa2, 0x06, 1, b'k']);
        let b = encode(&MsgProto {
            redelivery_count: 3,
            crc32: 1,
            ..Default::default()
        });
        assert_eq!(b, vec![0x38, 3, 0x50, 1]);
    }

    #[test]
    fn decode_ack_agrees_with_prost_on_good_and_bad_bytes() {
        let good = encode(&Ack {
            subject: "foo.bar".into(),
            sequence: 300,
        });
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            good.clone(),
            // Unknown fields of every wire type, a repeated field (the last wins).
            [
                &good[..],
                &[
                    0x18, 5, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x2a, 1, 9, 0x35, 1, 2, 3, 4,
                ],
            ]
            .concat(),
            [&good[..], &[0x10, 7, 0x0a, 1, b'z']].concat(),
            vec![0x0a, 2, 0xff, 0xfe], // not UTF-8
            vec![0x10, 0x80],          // short varint
            vec![0x0a, 5, b'a'],       // short string
            vec![0x08, 1],             // field 1 as a varint
            vec![0x12, 1, 1],          // field 2 length-delimited
            vec![0x00, 1],             // tag 0
            vec![0x3b, 0x08, 1, 0x3c], // a group, skipped
            vec![0x3c],                // a stray end group
            vec![0x0f],                // wire type 7
        ];
        // And every prefix and one-byte change of the good encoding.
        for i in 0..good.len() {
            cases.push(good[..i].to_vec());
            for b in [0x00, 0x7f, 0x80, 0xff] {
                let mut c = good.clone();
                c[i] = b;
                cases.push(c);
            }
        }
        for c in &cases {
            let theirs = decode::<Ack>(c).map(|a| (a.subject, a.sequence));
            let ours = decode_ack(c).map(|(s, n)| (s.to_string(), n));
            assert_eq!(ours, theirs, "{c:02x?}");
        }
    }

    #[test]
    fn msg_proto_ref_encodes_as_prost_does() {
        let cases = [
            (0, "", "", &b""[..], 0, false, 0),
            (
                1,
                "foo",
                "",
                &b"hello"[..],
                1_700_000_000_000_000_000,
                false,
                0,
            ),
            (u64::MAX, "a.b", "r.1", &[0u8; 300][..], -5, true, 3),
            (300, "ünï", "x", &b"\0"[..], i64::MIN, true, u32::MAX),
        ];
        for (sequence, subject, reply, data, timestamp, redelivered, redelivery_count) in cases {
            let owned = encode(&MsgProto {
                sequence,
                subject: subject.to_string(),
                reply: reply.to_string(),
                data: data.to_vec(),
                timestamp,
                redelivered,
                redelivery_count,
                crc32: 0,
            });
            let borrowed = MsgProtoRef {
                sequence,
                subject,
                reply,
                data,
                timestamp,
                redelivered,
                redelivery_count,
            }
            .encode();
            assert_eq!(borrowed, owned, "seq {sequence}");
        }
    }

    #[test]
    fn an_unknown_start_position_still_decodes() {
        let req: SubscriptionRequest = decode(&[0x50, 7]).expect("decodes");
        assert_eq!(req.start_position, 7);
        assert!(StartPosition::try_from(7).is_err());
        assert!(decode::<SubscriptionRequest>(&[0xff]).is_none());
    }
}
