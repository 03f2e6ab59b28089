//! The state log's format as pure functions: snapshots and frames round-trip, events apply in
//! order, a torn or damaged tail is cut where it starts, and no input panics.

use std::collections::BTreeSet;

use super::state::*;

fn sub(channel: &str, id: u64, client: &str, qgroup: &str, durable: &str) -> SubRec {
    SubRec {
        channel: channel.into(),
        id,
        client_id: client.into(),
        durable_client_id: client.into(),
        qgroup: qgroup.into(),
        inbox: format!("in.{id}"),
        ack_inbox: format!("_INBOX.T.ack.{id}"),
        durable_name: durable.into(),
        is_durable: !durable.is_empty() || qgroup.contains(':'),
        max_inflight: 16,
        ack_wait_ms: 30_000,
        last_sent: id * 10,
    }
}

fn client(id: &str) -> ClientRec {
    ClientRec {
        id: id.into(),
        hb_inbox: format!("hb.{id}"),
        conn_id: format!("conn-{id}").into_bytes(),
        protocol: 1,
        ping_interval: 5,
        ping_max_out: 3,
    }
}

/// Clients, a plain sub with pending, an offline durable, a durable group with a member and
/// a group position, on two channels.
fn sample() -> ServerState {
    let mut st = ServerState::default();
    let events = vec![
        Ev::Server(ServerRec {
            cluster_id: "test-cluster".into(),
            ack_token: "T".into(),
        }),
        Ev::Client(client("a")),
        Ev::Client(client("b")),
        Ev::Sub(sub("foo", 1, "a", "", "")),
        Ev::Sub(SubRec {
            client_id: String::new(),
            ..sub("foo", 2, "b", "", "dur")
        }),
        Ev::Sub(sub("bar", 3, "b", "d:q", "")),
        Ev::Progress(Progress {
            channel: "foo".into(),
            id: 1,
            last_sent: 12,
            added: vec![11, 12],
            removed: vec![],
        }),
        Ev::Group(GroupProgress {
            channel: "bar".into(),
            name: "d:q".into(),
            last_sent: 40,
        }),
    ];
    for ev in events {
        st.apply(ev);
    }
    st
}

#[test]
fn a_snapshot_round_trips_the_state() {
    let st = sample();
    assert_eq!(st.clients.len(), 2);
    let foo = &st.channels["foo"];
    assert_eq!(foo.subs[&1].pending, BTreeSet::from([11, 12]));
    assert_eq!(foo.subs[&1].rec.last_sent, 12);
    assert_eq!(st.channels["bar"].groups["d:q"], 40);
    let bytes = encode_snapshot(&st);
    let r = recover(&bytes);
    assert_eq!(r.cut, None);
    assert_eq!((r.frames, r.valid_bytes), (1, bytes.len()));
    assert_eq!(r.state, st);
}

#[test]
fn frames_apply_in_order_and_progress_of_a_deleted_sub_is_ignored() {
    let mut bytes = encode_snapshot(&sample());
    encode_frame(
        vec![
            Ev::SubDel(SubDel {
                channel: "foo".into(),
                id: 1,
            }),
            Ev::Progress(Progress {
                channel: "foo".into(),
                id: 1,
                last_sent: 99,
                added: vec![13],
                removed: vec![],
            }),
            Ev::Progress(Progress {
                channel: "bar".into(),
                id: 3,
                last_sent: 41,
                added: vec![41],
                removed: vec![],
            }),
            Ev::ClientDel("a".into()),
        ],
        &mut bytes,
    );
    encode_frame(
        vec![Ev::Progress(Progress {
            channel: "bar".into(),
            id: 3,
            last_sent: 42,
            added: vec![42],
            removed: vec![41],
        })],
        &mut bytes,
    );
    let r = recover(&bytes);
    assert_eq!((r.frames, r.cut), (3, None));
    let st = r.state;
    assert!(!st.clients.contains_key("a"));
    assert!(!st.channels["foo"].subs.contains_key(&1));
    let q = &st.channels["bar"].subs[&3];
    assert_eq!(
        (q.rec.last_sent, q.pending.clone()),
        (42, BTreeSet::from([42]))
    );
}

#[test]
fn deleting_the_last_member_drops_the_group_and_the_empty_channel() {
    let mut st = sample();
    st.apply(Ev::SubDel(SubDel {
        channel: "bar".into(),
        id: 3,
    }));
    assert!(!st.channels.contains_key("bar"));
    // A new group of the same name starts from its own position, not the old one's.
    st.apply(Ev::Sub(SubRec {
        last_sent: 0,
        ..sub("bar", 4, "b", "d:q", "")
    }));
    assert_eq!(st.channels["bar"].groups["d:q"], 0);
    st.apply(Ev::ChannelDel("foo".into()));
    assert!(!st.channels.contains_key("foo"));
}

#[test]
fn a_torn_tail_is_cut_at_the_first_incomplete_frame_for_every_length() {
    let mut bytes = encode_snapshot(&sample());
    let first_end = bytes.len();
    encode_frame(vec![Ev::ClientDel("a".into())], &mut bytes);
    let whole = recover(&bytes);
    assert_eq!((whole.frames, whole.cut), (2, None));
    let after_first = recover(&bytes[..first_end]).state;
    for len in first_end + 1..bytes.len() {
        let r = recover(&bytes[..len]);
        assert_eq!(r.frames, 1, "len {len}");
        assert_eq!(
            r.cut,
            Some(Cut {
                at: first_end,
                reason: CutReason::Short
            })
        );
        assert_eq!(r.valid_bytes, first_end);
        assert_eq!(r.state, after_first);
    }
    // Cut inside the first frame: nothing but the header is used.
    let r = recover(&bytes[..STATE_HEADER_BYTES + 3]);
    assert_eq!((r.frames, r.state.clients.len()), (0, 0));
}

#[test]
fn a_damaged_frame_stops_recovery_there() {
    let mut bytes = encode_snapshot(&sample());
    let first_end = bytes.len();
    encode_frame(vec![Ev::ClientDel("a".into())], &mut bytes);
    encode_frame(vec![Ev::ClientDel("b".into())], &mut bytes);
    bytes[first_end + FRAME_HEADER_BYTES + 1] ^= 0x40;
    let r = recover(&bytes);
    assert_eq!(r.frames, 1);
    assert_eq!(
        r.cut.map(|c| (c.at, c.reason)),
        Some((first_end, CutReason::Checksum))
    );
    assert!(r.state.clients.contains_key("a") && r.state.clients.contains_key("b"));
}

#[test]
fn a_foreign_header_is_refused_whole() {
    for bad in [&b"NXS"[..], b"XXSS\x01\0\0\0", b"NXSS\x02\0\0\0"] {
        let r = recover(bad);
        assert_eq!(
            r.cut.map(|c| c.reason),
            Some(CutReason::BadHeader),
            "{bad:?}"
        );
        assert_eq!(r.state, ServerState::default());
    }
    assert_eq!(recover(b""), Recovered::default());
    // A frame whose checksum matches but whose payload is not a batch.
    let mut bytes = header().to_vec();
    let junk = [0xff, 0xff, 0xff];
    bytes.extend_from_slice(&(junk.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(&junk).to_le_bytes());
    bytes.extend_from_slice(&junk);
    let r = recover(&bytes);
    assert_eq!(r.cut.map(|c| c.reason), Some(CutReason::Undecodable));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let base = encode_snapshot(&sample());
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut b = base.clone();
        let at = (seed as usize) % b.len();
        b[at] ^= (seed >> 32) as u8 | 1;
        b.truncate(b.len() - (i % 7));
        let _ = recover(&b);
        let mut noise = header().to_vec();
        noise.extend((0..(seed % 64)).map(|j| (seed >> (j % 8 * 8)) as u8));
        let _ = recover(&noise);
    }
}

#[test]
fn a_record_moved_to_another_group_leaves_no_orphan_position() {
    // Found by the stan_state_decode fuzz target: only a damaged log does this.
    let mut st = sample();
    st.apply(Ev::Sub(SubRec {
        qgroup: "other".into(),
        ..sub("bar", 3, "b", "d:q", "")
    }));
    let bar = &st.channels["bar"];
    assert_eq!(bar.groups.keys().collect::<Vec<_>>(), ["other"]);
    assert_eq!(recover(&encode_snapshot(&st)).state, st);
}
