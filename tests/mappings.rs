//! Subject mappings, differential: the same config (tests/configs/mappings/main.conf, checked
//! with `nats-server -t`) runs on nats-server 2.15.1 and on natrix with 1 and 2 shards; a
//! subscriber on `>` records the subjects publishes arrive on, and natrix must deliver each
//! on the subject nats-server delivers it on. Weighted mappings are random on both servers,
//! so their shares are compared within a tolerance instead.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::TestServer;

fn conf() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/configs/mappings/main.conf"
    )
    .to_string()
}

/// A client of `user` subscribed to `>`: publishes `subjects` (one message each), then reads
/// until the PONG of a final PING and returns the subjects of the MSGs it got, in order.
fn deliveries(addr: &str, user: &str, subjects: &[String]) -> Vec<String> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = format!(
        "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\nSUB > 1\r\nPING\r\n"
    );
    out.push_str("PING\r\n");
    for subj in subjects {
        out.push_str(&format!("PUB {subj} 1\r\nx\r\n"));
    }
    out.push_str("PING\r\n");
    s.write_all(out.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    // Three PONGs: after the SUB, the spare PING, and the last one.
    while String::from_utf8_lossy(&buf).matches("PONG\r\n").count() < 3 {
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .filter_map(|l| l.strip_prefix("MSG "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

fn both(user: &str, subjects: &[String]) -> (Vec<String>, Vec<Vec<String>>) {
    let reference = TestServer::start_nats_server(&["-c", &conf()]);
    let want = deliveries(&reference.addr(), user, subjects);
    let got = [1, 2]
        .iter()
        .map(|&shards| {
            let natrix = TestServer::start_with(shards, &["-c", &conf()]);
            deliveries(&natrix.addr(), user, subjects)
        })
        .collect();
    (want, got)
}

#[test]
fn literal_wildcard_and_function_mappings_deliver_where_nats_server_does() {
    let mut subjects: Vec<String> = ["lit.a", "rs.x.y", "fn.p.q", "other", "lit.b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    subjects.extend((0..12).map(|i| format!("part.k{i}")));
    let (want, got) = both("g", &subjects);
    assert!(want.contains(&"lit.b".to_string()), "{want:?}");
    assert!(want.contains(&"rev.y.x".to_string()), "{want:?}");
    for (shards, got) in [1, 2].iter().zip(got) {
        assert_eq!(got, want, "natrix with {shards} shard(s)");
    }
}

#[test]
fn account_mappings_apply_only_in_their_account() {
    let subjects = vec!["in.a".to_string(), "lit.a".to_string()];
    let (want, got) = both("a", &subjects);
    assert_eq!(want, ["mapped.a", "lit.a"], "nats-server");
    for g in got {
        assert_eq!(g, want);
    }
    let (want_g, got_g) = both("g", &subjects);
    assert_eq!(want_g, ["in.a", "lit.b"], "nats-server, $G");
    for g in got_g {
        assert_eq!(g, want_g);
    }
}

#[test]
fn weighted_mapping_splits_like_nats_server_within_a_tolerance() {
    let n = 2000;
    let subjects: Vec<String> = (0..n).map(|_| "wt".to_string()).collect();
    let share = |v: &[String], s: &str| v.iter().filter(|x| *x == s).count();
    let (want, got) = both("g", &subjects);
    for g in got {
        assert_eq!(g.len(), n, "every message delivered once");
        for dest in ["wt", "wt.a", "wt.b"] {
            let (w, o) = (share(&want, dest), share(&g, dest));
            // 2000 draws: a share's standard deviation is at most ~22; the difference of two
            // runs at most ~32. 120 is beyond 3.5 of those.
            assert!(
                w.abs_diff(o) <= 120,
                "{dest}: nats-server {w}, natrix {o} of {n}"
            );
        }
    }
}
