//! A test harness around [`StanServer`]: a fake clock, raw requests as a client library would
//! send them, and decoders for what the core publishes.

use super::proto::*;
use super::*;

/// Unix ns at harness time 0.
pub const EPOCH_NS: i64 = 1_700_000_000_000_000_000;

pub struct H<F: ChannelFactory = MemChannels> {
    pub s: StanServer<F>,
    pub now_ms: u64,
}

pub fn opts() -> StanOptions {
    StanOptions {
        server_token: "T".into(),
        ..StanOptions::default()
    }
}

impl H {
    pub fn new() -> H {
        H::with(opts())
    }

    pub fn with(o: StanOptions) -> H {
        let mut s = StanServer::new(o, MemChannels, 0).expect("valid options");
        let _ = s.take_outputs();
        H { s, now_ms: 0 }
    }

    pub fn connect_req(id: &str) -> ConnectRequest {
        ConnectRequest {
            client_id: id.into(),
            heartbeat_inbox: format!("hb.{id}"),
            protocol: 1,
            conn_id: format!("conn-{id}").into_bytes(),
            ping_interval: 5,
            ping_max_out: 3,
        }
    }

    pub fn pub_msg(id: &str, channel: &str, data: &[u8], guid: &str) -> PubMsg {
        PubMsg {
            client_id: id.into(),
            guid: guid.into(),
            subject: channel.into(),
            data: data.to_vec(),
            conn_id: format!("conn-{id}").into_bytes(),
            ..Default::default()
        }
    }

    pub fn sub_req(id: &str, channel: &str, inbox: &str) -> SubscriptionRequest {
        SubscriptionRequest {
            client_id: id.into(),
            subject: channel.into(),
            inbox: inbox.into(),
            max_in_flight: 16384,
            ack_wait_in_secs: 30,
            ..Default::default()
        }
    }
}

impl H<FileChannels> {
    /// A core over a file store at `root`, started at `now_ms` (a restart when `root` holds
    /// an earlier core's files).
    pub fn file(root: &std::path::Path, o: StanOptions, now_ms: u64) -> H<FileChannels> {
        let f = FileChannels::new(root);
        let mut s = StanServer::new(o, f, now_ms).expect("starts");
        let _ = s.take_outputs();
        H { s, now_ms }
    }
}

impl<F: ChannelFactory> H<F> {
    pub fn now_ns(&self) -> i64 {
        EPOCH_NS + self.now_ms as i64 * 1_000_000
    }

    /// One NATS message into the core; what it publishes.
    pub fn send(
        &mut self,
        conn: ConnId,
        subject: &str,
        reply: &str,
        payload: &[u8],
    ) -> Vec<Output> {
        let (now, ns) = (self.now_ms, self.now_ns());
        self.s
            .on_message(conn, subject.as_bytes(), reply.as_bytes(), payload, now, ns);
        self.s.take_outputs()
    }

    /// Moves the clock by `ms`, firing every timer on the way (at its deadline).
    pub fn advance(&mut self, ms: u64) -> Vec<Output> {
        let end = self.now_ms + ms;
        let mut out = Vec::new();
        while let Some(at) = self.s.next_deadline() {
            if at > end {
                break;
            }
            self.now_ms = self.now_ms.max(at);
            self.s.on_timer(self.now_ms);
            out.extend(self.s.take_outputs());
        }
        self.now_ms = end;
        self.s.on_timer(end);
        out.extend(self.s.take_outputs());
        out
    }

    pub fn connect_raw(&mut self, conn: ConnId, req: &ConnectRequest) -> Vec<Output> {
        self.send(
            conn,
            "_STAN.discover.test-cluster",
            "r.connect",
            &encode(req),
        )
    }

    /// Connects `id` on NATS connection `conn`; panics unless it succeeds.
    pub fn connect(&mut self, conn: ConnId, id: &str) -> ConnectResponse {
        let out = self.connect_raw(conn, &H::connect_req(id));
        let resp: ConnectResponse = reply(&out, "r.connect");
        assert_eq!(resp.error, "", "connect {id}");
        resp
    }

    pub fn publish_raw(&mut self, conn: ConnId, pm: &PubMsg) -> Vec<Output> {
        let subject = format!("_STAN.pub.test-cluster.{}", pm.subject);
        self.send(conn, &subject, "acks", &encode(pm))
    }

    /// Publishes and returns the PubAck and everything else published.
    pub fn publish(
        &mut self,
        conn: ConnId,
        id: &str,
        channel: &str,
        data: &[u8],
    ) -> (PubAck, Vec<Output>) {
        let out = self.publish_raw(conn, &H::pub_msg(id, channel, data, "g1"));
        (reply(&out, "acks"), out)
    }

    pub fn subscribe_raw(&mut self, conn: ConnId, req: &SubscriptionRequest) -> Vec<Output> {
        self.send(conn, "_STAN.sub.test-cluster", "r.sub", &encode(req))
    }

    /// Subscribes; returns the ack inbox and all outputs (response first).
    pub fn subscribe(&mut self, conn: ConnId, req: &SubscriptionRequest) -> (String, Vec<Output>) {
        let out = self.subscribe_raw(conn, req);
        let resp: SubscriptionResponse = reply(&out, "r.sub");
        assert_eq!(resp.error, "", "subscribe {req:?}");
        (resp.ack_inbox, out)
    }

    pub fn ack(&mut self, conn: ConnId, ack_inbox: &str, channel: &str, seq: u64) -> Vec<Output> {
        let ack = Ack {
            subject: channel.into(),
            sequence: seq,
        };
        self.send(conn, ack_inbox, "", &encode(&ack))
    }

    pub fn unsub_raw(&mut self, close: bool, req: &UnsubscribeRequest) -> Vec<Output> {
        let subject = if close {
            "_STAN.subclose.test-cluster"
        } else {
            "_STAN.unsub.test-cluster"
        };
        self.send(1, subject, "r.unsub", &encode(req))
    }

    /// Unsubscribes (or closes) by ack inbox; returns the response's error and the outputs.
    pub fn unsub(
        &mut self,
        close: bool,
        id: &str,
        channel: &str,
        ack_inbox: &str,
    ) -> (String, Vec<Output>) {
        let req = UnsubscribeRequest {
            client_id: id.into(),
            subject: channel.into(),
            inbox: ack_inbox.into(),
            ..Default::default()
        };
        let out = self.unsub_raw(close, &req);
        let resp: SubscriptionResponse = reply(&out, "r.unsub");
        (resp.error, out)
    }

    pub fn close(&mut self, id: &str) -> (CloseResponse, Vec<Output>) {
        let req = CloseRequest {
            client_id: id.into(),
        };
        let out = self.send(1, "_STAN.close.test-cluster", "r.close", &encode(&req));
        (reply(&out, "r.close"), out)
    }
}

/// The one message published on `subject`, decoded; panics if there is not exactly one.
pub fn reply<M: prost::Message + Default>(out: &[Output], subject: &str) -> M {
    let found: Vec<&Vec<u8>> = publishes(out, subject).map(|(_, p)| p).collect();
    assert_eq!(found.len(), 1, "one message on {subject} in {out:?}");
    decode(found[0]).expect("decodes")
}

pub fn publishes<'a>(
    out: &'a [Output],
    subject: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Vec<u8>)> + 'a {
    out.iter().filter_map(move |o| match o {
        Output::Publish {
            subject: s,
            reply,
            payload,
        } if s == subject => Some((reply, payload)),
        _ => None,
    })
}

/// The MsgProtos published on `inbox`.
pub fn msgs(out: &[Output], inbox: &str) -> Vec<MsgProto> {
    publishes(out, inbox)
        .map(|(_, p)| decode(p).expect("MsgProto"))
        .collect()
}

/// `(sequence, redelivered, redelivery_count)` of each delivery on `inbox`.
pub fn seqs(out: &[Output], inbox: &str) -> Vec<(u64, bool, u32)> {
    msgs(out, inbox)
        .iter()
        .map(|m| (m.sequence, m.redelivered, m.redelivery_count))
        .collect()
}

/// Plain sequences delivered on `inbox`.
pub fn seq_list(out: &[Output], inbox: &str) -> Vec<u64> {
    msgs(out, inbox).iter().map(|m| m.sequence).collect()
}

/// The reply subject of the request published on `subject` (a heartbeat or probe).
pub fn request_reply(out: &[Output], subject: &str) -> Option<String> {
    publishes(out, subject).map(|(r, _)| r.clone()).next()
}

/// The subjects published, in order.
pub fn published_subjects(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Publish { subject, .. } => Some(subject.as_str()),
            _ => None,
        })
        .collect()
}
