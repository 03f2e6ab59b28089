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
    fn an_unknown_start_position_still_decodes() {
        let req: SubscriptionRequest = decode(&[0x50, 7]).expect("decodes");
        assert_eq!(req.start_position, 7);
        assert!(StartPosition::try_from(7).is_err());
        assert!(decode::<SubscriptionRequest>(&[0xff]).is_none());
    }
}
