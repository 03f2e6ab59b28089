//! The cross-shard propagation window (issue 9 point 7): how often a publish made shortly
//! after a SUB on another connection misses the new subscriber, with no PING in between.
//!
//! One thread, two connections, as a client application with a subscriber and a publisher
//! would have them. On a multi-shard natrix (`--placement split --natrix-shards N`) the
//! publisher is reconnected until it sits on another shard than the subscriber, so the SUB
//! has to cross to the publisher's shard; on nats-server the flag only reconnects. Each try:
//! `SUB p.<run>.<i>` on the subscriber, a busy-wait of `--delay-us`, `PUB p.<run>.<i>` on the
//! publisher, then up to [`MISS_AFTER`] for the message; a message that does not come is a
//! miss. The try ends with an UNSUB, so the subscriptions do not pile up. NATS promises
//! nothing without a PING: this measures how wide the window is, not a guarantee.
//!
//! Reported: `published` tries, `delivered` hits (misses are the difference), latency of the
//! hits from the PUB to the MSG.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::measure::{histogram, now_ns};
use crate::proto::{Conn, Event, Fill, Scanner};
use crate::workload::{open_placed, Outcome, Params, Shared, Tally};

/// How long a try waits for its message before it counts as a miss.
const MISS_AFTER: Duration = Duration::from_millis(200);

pub fn run(params: Params) -> io::Result<Outcome> {
    let shared = Shared::new(&params, 0);
    shared.pin();
    let mut sub = Conn::open(&params.server, "natrix-bench propagation subscriber")?;
    let mut publisher = place(&params, sub.client_id)?;
    let server_version = sub.server_version.clone();
    let delay = Duration::from_nanos((params.delay_us * 1000.0) as u64);
    // Subjects of their own per run, so a late message of an earlier run cannot count.
    let run = now_ns() % 1_000_000_007;
    let mut scan = Scanner::default();
    let mut hist = histogram();
    let mut hits = 0u64;
    shared.start_clock();
    for i in 0..params.msgs {
        let subject = format!("p.{run}.{i}");
        let sid = i + 1;
        sub.stream
            .write_all(format!("SUB {subject} {sid}\r\n").as_bytes())?;
        let until = Instant::now() + delay;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        let sent = now_ns();
        publisher
            .stream
            .write_all(format!("PUB {subject} 1\r\nx\r\n").as_bytes())?;
        if wait_for(&mut sub, &mut scan, subject.as_bytes())? {
            hits += 1;
            let _ = hist.record((now_ns() - sent).max(1));
        }
        sub.stream
            .write_all(format!("UNSUB {sid}\r\n").as_bytes())?;
        if shared.timed_out() {
            shared.fail("timed out".into());
            break;
        }
    }
    let end_ns = now_ns();
    shared.merge(&hist);
    Ok(shared.outcome(
        server_version,
        &[Tally {
            count: params.msgs,
            last_ns: end_ns,
        }],
        &[Tally {
            count: hits,
            last_ns: end_ns,
        }],
    ))
}

/// The publisher's connection: placed against the subscriber's with `--placement`
/// ([`open_placed`]), anywhere otherwise.
fn place(params: &Params, subscriber: u64) -> io::Result<Conn> {
    const NAME: &str = "natrix-bench propagation publisher";
    match params.placement {
        Some((placement, shards)) => {
            open_placed(&params.server, NAME, subscriber, placement, shards)
        }
        None => Conn::open(&params.server, NAME),
    }
}

/// Reads the subscriber until the message on `subject` comes (true) or [`MISS_AFTER`] passes.
fn wait_for(sub: &mut Conn, scan: &mut Scanner, subject: &[u8]) -> io::Result<bool> {
    let deadline = Instant::now() + MISS_AFTER;
    sub.stream
        .set_read_timeout(Some(Duration::from_millis(10)))?;
    let mut got = false;
    while !got && Instant::now() < deadline {
        if let Fill::Idle = scan.fill(&mut sub.stream)? {
            continue;
        }
        scan.drain(|event| {
            if let Event::Msg { subject: s, .. } = event {
                got |= s == subject;
            }
            true
        })?;
    }
    Ok(got)
}
