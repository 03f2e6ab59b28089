//! The NATS Streaming workloads, against a server that serves cluster `test-cluster`
//! (natrix with `-cid test-cluster`, or nats-streaming-server). The channel is --subject.
//!
//! - `stanpub`: --clients publishers, each its own STAN client, each with at most --window
//!   PubAcks outstanding; latency is each ack's, from the write of its message (as `jspub`).
//! - `stansub`: --msgs pre-filled (untimed, window 256), then one durable subscription
//!   (DeliverAllAvailable, manual acks, max in flight 1024) delivers them all and each is
//!   acked; the clock runs from the subscription request to the PONG after the last ack
//!   (as `jspush`, whose clock includes the consumer's creation). Throughput only.
//!
//! A message counts once, by its sequence: a redelivery (none is expected within the ack
//! wait) is acked again but not counted.

use std::io::{self, Write};

use natrix::stan::proto::{
    decode, Ack, MsgProto, StartPosition, SubscriptionRequest, SubscriptionResponse,
};
use prost::Message;

use crate::measure::{histogram, now_ns};
use crate::proto::{Event, Fill};
use crate::stan_api::{append_pub, chore, Chore, StanClient};
use crate::workload::{join, ready, spawn, split, Outcome, Params, Shared, Tally, Workload};

/// Unacknowledged messages at most while pre-filling a channel (untimed).
const PREFILL_WINDOW: usize = 256;
/// The subscription's MaxInflight (the JetStream twin's max_ack_pending is 1000).
const MAX_IN_FLIGHT: i32 = 1024;
/// Longer than any run: nothing should be redelivered.
const ACK_WAIT_S: i32 = 30;
/// The durable subscription's name.
const DURABLE: &str = "natrix-bench";

/// Runs one STAN workload.
pub fn run(workload: Workload, params: Params) -> io::Result<Outcome> {
    let probe = StanClient::connect(&params.server, "natrix-bench-probe")?;
    let server_version = probe.conn.server_version.clone();
    drop(probe);
    let clients = params.clients.max(1);
    let mut senders = Vec::new();
    let mut takers = Vec::new();
    let shared = match workload {
        Workload::Stanpub => {
            let shared = Shared::new(&params, clients);
            for (id, n) in split(params.msgs, clients).into_iter().enumerate() {
                senders.push(spawn(&shared, move |s| publisher(s, id, n)));
            }
            shared
        }
        Workload::Stansub => {
            prefill(&params)?;
            let shared = Shared::new(&params, 1);
            takers.push(spawn(&shared, subscriber));
            shared
        }
        _ => unreachable!("only STAN workloads come here"),
    };
    shared.start_clock();
    let sent: Vec<Tally> = senders.into_iter().map(join).collect();
    let taken: Vec<Tally> = takers.into_iter().map(join).collect();
    Ok(shared.outcome(server_version, &sent, &taken))
}

pub(crate) fn prefill(params: &Params) -> io::Result<()> {
    let mut client = StanClient::connect(&params.server, "natrix-bench-prefill")?;
    let deadline = now_ns() + params.timeout.as_nanos() as u64;
    let mut ignored = histogram();
    client.publish_acked(
        &params.subject,
        params.size,
        params.msgs,
        PREFILL_WINDOW,
        &mut ignored,
        || now_ns() > deadline,
    )?;
    Ok(())
}

fn publisher(shared: &Shared, id: usize, n: u64) -> io::Result<Tally> {
    let params = &shared.params;
    let setup = StanClient::connect(&params.server, &format!("natrix-bench-pub-{id}"));
    let mut client = ready(shared, setup)?;
    let mut hist = histogram();
    let last_ns = client.publish_acked(
        &params.subject,
        params.size,
        n,
        params.window,
        &mut hist,
        || shared.timed_out(),
    )?;
    shared.merge(&hist);
    Ok(Tally { count: n, last_ns })
}

/// The durable subscriber: subscribes (timed), then acks every delivery until --msgs
/// distinct sequences have come.
fn subscriber(shared: &Shared) -> io::Result<Tally> {
    let params = &shared.params;
    let setup = StanClient::connect(&params.server, "natrix-bench-sub");
    let mut client = ready(shared, setup)?;
    let channel = params.subject.clone();
    let deliver_inbox = format!("{}.deliver", client.inbox_prefix);
    let request = SubscriptionRequest {
        client_id: client.client_id.clone(),
        subject: channel.clone(),
        q_group: String::new(),
        inbox: deliver_inbox.clone(),
        max_in_flight: MAX_IN_FLIGHT,
        ack_wait_in_secs: ACK_WAIT_S,
        durable_name: DURABLE.to_string(),
        start_position: StartPosition::First as i32,
        start_sequence: 0,
        start_time_delta: 0,
    };
    // Deliveries that come before the response are kept in the read buffer: the request
    // stops at the answer, and the answer precedes them on a STAN server.
    let sub_requests = client.subjects.sub_requests.clone();
    let answer = client.request(&sub_requests, &request.encode_to_vec())?;
    let response: SubscriptionResponse =
        decode(&answer).ok_or_else(|| io::Error::other("an undecodable SubscriptionResponse"))?;
    if !response.error.is_empty() {
        return Err(io::Error::other(format!("subscribe: {}", response.error)));
    }
    let ack_inbox = response.ack_inbox;
    let heartbeat_inbox = format!("{}.hb", client.inbox_prefix);
    let total = params.msgs;
    let mut seen = vec![false; total as usize + 1];
    let mut out = Vec::with_capacity(1 << 16);
    let mut tally = Tally::default();
    while tally.count < total {
        out.clear();
        let now = now_ns();
        let mut got = 0;
        let mut problem = None;
        client.scan.drain(|event| {
            match chore(&event, heartbeat_inbox.as_bytes(), &mut out) {
                Chore::Failed(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Chore::Done => return true,
                Chore::Mine => {}
            }
            let Event::Msg {
                subject, payload, ..
            } = event
            else {
                return true;
            };
            if subject != deliver_inbox.as_bytes() {
                return true;
            }
            let Some(msg) = decode::<MsgProto>(payload) else {
                problem = Some("an undecodable MsgProto".to_string());
                return false;
            };
            let ack = Ack {
                subject: channel.clone(),
                sequence: msg.sequence,
            };
            append_pub(&mut out, &ack_inbox, &ack);
            match seen.get_mut(msg.sequence as usize) {
                Some(first) if msg.sequence > 0 => {
                    if !*first {
                        *first = true;
                        got += 1;
                    }
                    true
                }
                _ => {
                    problem = Some(format!("sequence {} of {total} pre-filled", msg.sequence));
                    false
                }
            }
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("subscription: {problem}")));
        }
        if !out.is_empty() {
            client.conn.stream.write_all(&out)?;
        }
        if got > 0 {
            tally.count += got;
            tally.last_ns = now;
        }
        if tally.count >= total {
            // Another fill would wait out the read timeout (100 ms) for nothing.
            break;
        }
        if let Fill::Idle = client.scan.fill(&mut client.conn.stream)? {
            if shared.timed_out() {
                return Err(io::Error::other(format!(
                    "timed out with {} of {total} messages delivered",
                    tally.count
                )));
            }
        }
    }
    // The last acks are with the server once it answers a PING sent after them.
    client.conn.stream.write_all(b"PING\r\n")?;
    client
        .scan
        .until_pong(&mut client.conn.stream, || shared.timed_out())?;
    tally.last_ns = now_ns();
    Ok(tally)
}
