//! The JetStream workloads. Each creates a fresh file stream on the server (the server's
//! store directory is its own business: perf/compare starts it with `-js -sd <tempdir>`).
//!
//! - `jspub`: --clients publishers, each with at most --window unacknowledged; latency is
//!   each ack's, from the write of its message.
//! - `jsconsume`: --msgs pre-filled (untimed), then --clients pullers on one durable pull
//!   explicit-ack consumer drain it with pull requests of --batch, one request at a time
//!   each (as a `fetch` loop does), acking every message; latency runs from the pull
//!   request to each message. With --ack-sync every ack is a request, and a puller waits
//!   for every confirmation of a batch before its next pull; those round trips are the
//!   `ack_latency_us` of the report.
//! - `jspush`: --msgs pre-filled, then one push consumer delivers them all, acked one by one
//!   (throughput only: there is no request to measure from).
//! - `jsworkqueue`: --publishers publish --msgs (windowed acks) into a work-queue stream
//!   while --clients pullers share one durable; latency is end to end, from the publish to
//!   the delivery, and the publish acks' round trips are the `ack_latency_us`.
//!
//! Timed runs end when the last message is delivered and its ack is with the server (a
//! PING answered after the last ack, or the last confirmation with --ack-sync).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::Ordering;

use crate::js_api::{append_ack, append_pull, publish_acked, Admin, PubFrame, PREFILL_WINDOW};
use crate::measure::{histogram, now_ns};
use crate::proto::{stamp_of, status_of, Conn, Event, Fill, Scanner};
use crate::workload::{join, ready, spawn, split, Outcome, Params, Shared, Tally, Workload};

/// Runs one JetStream workload.
pub fn run(workload: Workload, params: Params) -> io::Result<Outcome> {
    let mut admin = Admin::open(&params.server, "setup")?;
    let server_version = admin.conn.server_version.clone();
    let retention = match workload {
        Workload::Jsworkqueue => "workqueue",
        _ => "limits",
    };
    admin.create_stream(&params.subject, retention)?;
    if matches!(workload, Workload::Jsconsume | Workload::Jspush) {
        prefill(&params)?;
        let stored = admin.stream_msgs()?;
        if stored != params.msgs {
            return Err(io::Error::other(format!(
                "pre-filled {} messages but the stream holds {stored}",
                params.msgs
            )));
        }
    }
    if matches!(workload, Workload::Jsconsume | Workload::Jsworkqueue) {
        admin.create_consumer(None)?;
    }
    let clients = params.clients.max(1);
    let (mut senders, mut takers) = (Vec::new(), Vec::new());
    let shared;
    match workload {
        Workload::Jspub => {
            shared = Shared::new(&params, clients);
            for (id, n) in split(params.msgs, clients).into_iter().enumerate() {
                senders.push(spawn(&shared, move |s| publisher(s, id, n, true)));
            }
            shared.start_clock();
        }
        Workload::Jsconsume | Workload::Jsworkqueue => {
            let publishers = if workload == Workload::Jsworkqueue {
                params.publishers.max(1)
            } else {
                0
            };
            shared = Shared::new(&params, clients + publishers);
            let latency = match workload {
                Workload::Jsworkqueue => From::Publish,
                _ => From::Pull,
            };
            for id in 0..clients {
                takers.push(spawn(&shared, move |s| puller(s, id, latency)));
            }
            if publishers > 0 {
                for (id, n) in split(params.msgs, publishers).into_iter().enumerate() {
                    senders.push(spawn(&shared, move |s| publisher(s, id, n, false)));
                }
            }
            shared.start_clock();
        }
        Workload::Jspush => {
            shared = Shared::new(&params, 1);
            let deliver = "_INBOX.natrix-bench.push".to_string();
            let subject = deliver.clone();
            takers.push(spawn(&shared, move |s| push_receiver(s, &subject)));
            shared.start_clock();
            if let Err(e) = admin.create_consumer(Some(&deliver)) {
                shared.fail(e.to_string());
            }
        }
        _ => unreachable!("only JetStream workloads come here"),
    }
    let sent: Vec<Tally> = senders.into_iter().map(join).collect();
    let taken: Vec<Tally> = takers.into_iter().map(join).collect();
    Ok(shared.outcome(server_version, &sent, &taken))
}

/// Fills the stream with --msgs messages, untimed.
pub(crate) fn prefill(params: &Params) -> io::Result<()> {
    let (mut conn, mut scan, inbox) = publisher_conn(&params.server, "prefill")?;
    let mut frame = PubFrame::new(&params.subject, &inbox, params.size);
    let deadline = now_ns() + params.timeout.as_nanos() as u64;
    let mut ignored = histogram();
    publish_acked(
        &mut conn,
        &mut scan,
        std::slice::from_mut(&mut frame),
        params.msgs,
        PREFILL_WINDOW,
        &mut ignored,
        || now_ns() > deadline,
    )?;
    Ok(())
}

pub(crate) fn publisher_conn(server: &str, id: &str) -> io::Result<(Conn, Scanner, String)> {
    let mut conn = Conn::open_headers(server, "natrix-bench jspub")?;
    let mut scan = Scanner::default();
    let inbox = format!("_INBOX.natrix-bench.pub.{id}");
    conn.roundtrip(format!("SUB {inbox} 1\r\n").as_bytes(), &mut scan)?;
    Ok((conn, scan, inbox))
}

/// Publishes `n` with acks; the ack latencies are the run's latency when `headline`, else
/// (jsworkqueue, whose latency is end to end) its `ack_latency`.
fn publisher(shared: &Shared, id: usize, n: u64, headline: bool) -> io::Result<Tally> {
    let setup = publisher_conn(&shared.params.server, &id.to_string());
    let (mut conn, mut scan, inbox) = ready(shared, setup)?;
    let params = &shared.params;
    let mut frame = PubFrame::new(&params.subject, &inbox, params.size);
    let mut hist = histogram();
    let last_ns = publish_acked(
        &mut conn,
        &mut scan,
        std::slice::from_mut(&mut frame),
        n,
        params.window,
        &mut hist,
        || shared.timed_out(),
    )?;
    if headline {
        shared.merge(&hist);
    } else {
        shared.merge_acks(&hist);
    }
    Ok(Tally { count: n, last_ns })
}

/// Where a puller's latency runs from.
#[derive(Clone, Copy)]
enum From {
    /// The pull request that the message answers.
    Pull,
    /// The publish, stamped in the payload.
    Publish,
}

/// One puller: pull requests of --batch one at a time, every message acked, until the
/// pullers together have --msgs.
fn puller(shared: &Shared, id: usize, latency: From) -> io::Result<Tally> {
    let params = &shared.params;
    let prefix = format!("_INBOX.natrix-bench.pull.{id}");
    let ack_inbox = format!("{prefix}.ack");
    let mut scan = Scanner::default();
    let setup = Conn::open_headers(&params.server, "natrix-bench puller").and_then(|mut conn| {
        conn.roundtrip(format!("SUB {prefix}.> 1\r\n").as_bytes(), &mut scan)?;
        Ok(conn)
    });
    let mut conn = ready(shared, setup)?;
    let confirm_to = params.ack_sync.then_some(ack_inbox.as_str());
    let total = params.msgs;
    let mut hist = histogram();
    let mut ack_hist = histogram();
    let mut acks_out: VecDeque<u64> = VecDeque::new();
    let mut out = Vec::with_capacity(1 << 16);
    let mut tally = Tally::default();

    let mut pull_no = 0u64;
    let mut pull_inbox = format!("{prefix}.{pull_no}");
    let mut pull_at = now_ns();
    let mut pull_got = 0usize;
    let mut pull_open = true;
    append_pull(&mut out, &pull_inbox, params.batch);
    conn.stream.write_all(&out)?;
    // Set when another puller took the last message while this one sat in a read with a
    // request open: it notices only when the read times out (`READ_POLL`, 100 ms), and that
    // wait is the benchmark's, not the server's.
    let mut stalled = false;

    loop {
        let all_in = shared.delivered.load(Ordering::Relaxed) >= total;
        if all_in && acks_out.is_empty() {
            break;
        }
        if let Fill::Idle = scan.fill(&mut conn.stream)? {
            if shared.done() && acks_out.is_empty() {
                stalled = true;
                break; // another puller took the last message
            }
            if shared.timed_out() {
                return Err(io::Error::other(format!(
                    "timed out with {} messages pulled",
                    shared.delivered.load(Ordering::Relaxed)
                )));
            }
            continue;
        }
        let now = now_ns();
        out.clear();
        let mut got = 0u64;
        let mut problem = None;
        scan.drain(|event| {
            match event {
                Event::Msg {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    // A delivery shows the message's own subject and an ack reply subject;
                    // the statuses of pull requests and the ack confirmations come on our
                    // inboxes, without a reply subject.
                    if let Some(ack) = reply {
                        append_ack(&mut out, ack, confirm_to);
                        if confirm_to.is_some() {
                            acks_out.push_back(now);
                        }
                        let from = match latency {
                            From::Pull => Some(pull_at),
                            From::Publish => stamp_of(&payload[headers..]),
                        };
                        if let Some(from) = from {
                            let _ = hist.record(now.saturating_sub(from).max(1));
                        }
                        got += 1;
                        // One request is open at a time, and one that ended gets no more
                        // deliveries: this one answers the open request.
                        pull_got += 1;
                        if pull_got == params.batch {
                            pull_open = false;
                        }
                    } else if subject == ack_inbox.as_bytes() {
                        if let Some(at) = acks_out.pop_front() {
                            let _ = ack_hist.record(now.saturating_sub(at).max(1));
                        }
                    } else if subject == pull_inbox.as_bytes() {
                        match status_of(&payload[..headers]) {
                            Some(100) => {} // a heartbeat
                            Some(404 | 408) => pull_open = false,
                            _ => {
                                problem = Some(String::from_utf8_lossy(payload).into_owned());
                                return false;
                            }
                        }
                    }
                    // Anything else is the status of an earlier request: nothing to do.
                }
                Event::Ping => out.extend_from_slice(b"PONG\r\n"),
                Event::Err(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Event::Pong => {}
            }
            true
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("pull: {problem}")));
        }
        if got > 0 {
            tally.count += got;
            tally.last_ns = now;
            if shared.delivered.fetch_add(got, Ordering::Relaxed) + got >= total {
                shared.finish();
            }
        }
        let all_in = shared.delivered.load(Ordering::Relaxed) >= total;
        if !pull_open && acks_out.is_empty() && !all_in {
            pull_no += 1;
            pull_inbox = format!("{prefix}.{pull_no}");
            pull_at = now_ns();
            pull_got = 0;
            pull_open = true;
            append_pull(&mut out, &pull_inbox, params.batch);
        }
        if !out.is_empty() {
            conn.stream.write_all(&out)?;
        }
    }
    if confirm_to.is_none() && tally.count > 0 {
        // The last acks are with the server once it answers a PING sent after them.
        conn.stream.write_all(b"PING\r\n")?;
        scan.until_pong(&mut conn.stream, || shared.timed_out())?;
        if !stalled {
            // A stalled puller's acks went out with its last delivery, before the last
            // message of the run; its clock stops there (the PONG only confirms them).
            tally.last_ns = now_ns();
        }
    } else if tally.count > 0 {
        tally.last_ns = tally.last_ns.max(now_ns());
    }
    shared.merge(&hist);
    shared.merge_acks(&ack_hist);
    Ok(tally)
}

/// The push consumer's subscriber: acks every delivery until --msgs have come.
fn push_receiver(shared: &Shared, deliver: &str) -> io::Result<Tally> {
    let params = &shared.params;
    let mut scan = Scanner::default();
    let setup = Conn::open_headers(&params.server, "natrix-bench push").and_then(|mut conn| {
        conn.roundtrip(format!("SUB {deliver} 1\r\n").as_bytes(), &mut scan)?;
        Ok(conn)
    });
    let mut conn = ready(shared, setup)?;
    let mut out = Vec::with_capacity(1 << 16);
    let mut tally = Tally::default();
    while tally.count < params.msgs {
        if let Fill::Idle = scan.fill(&mut conn.stream)? {
            if shared.timed_out() {
                return Err(io::Error::other(format!(
                    "timed out with {} of {} pushed messages",
                    tally.count, params.msgs
                )));
            }
            continue;
        }
        let now = now_ns();
        out.clear();
        let mut got = 0;
        let mut problem = None;
        scan.drain(|event| {
            match event {
                Event::Msg {
                    reply,
                    headers,
                    payload,
                    ..
                } => {
                    if headers > 0 && status_of(&payload[..headers]).is_some() {
                        // Heartbeats and flow control are not asked for.
                        problem = Some(String::from_utf8_lossy(payload).into_owned());
                        return false;
                    }
                    match reply {
                        Some(ack) => append_ack(&mut out, ack, None),
                        None => {
                            problem = Some("a delivery without an ack subject".to_string());
                            return false;
                        }
                    }
                    got += 1;
                }
                Event::Ping => out.extend_from_slice(b"PONG\r\n"),
                Event::Err(line) => {
                    problem = Some(String::from_utf8_lossy(line).into_owned());
                    return false;
                }
                Event::Pong => {}
            }
            true
        })?;
        if let Some(problem) = problem {
            return Err(io::Error::other(format!("push: {problem}")));
        }
        if !out.is_empty() {
            conn.stream.write_all(&out)?;
        }
        tally.count += got;
        tally.last_ns = now;
    }
    conn.stream.write_all(b"PING\r\n")?;
    scan.until_pong(&mut conn.stream, || shared.timed_out())?;
    tally.last_ns = now_ns();
    Ok(tally)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stream_name_is_a_valid_token() {
        assert!(!crate::js_api::STREAM.contains(['.', '*', '>', ' ']));
    }
}
