//! Fuzzes the `$JS.ACK` subject decoder, ack payloads, pull request bodies and the consumer
//! state decoders (snapshot, delta, a whole state file's recovery): none may panic, a decoded
//! ack subject re-encodes (v1) to a subject that decodes to the same values, a decoded delta
//! re-encodes to one that decodes the same, and a recovered state is consistent and encodes
//! to a snapshot that decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::jetstream::consumer::ack;
use natrix::jetstream::consumer::delta::{encode_delta, Delta};
use natrix::jetstream::consumer::persist::StateImage;
use natrix::jetstream::consumer::state_log;
use natrix::jetstream::consumer::pull::PullRequest;
use natrix::jetstream::consumer::state::{ConsumerLimits, ConsumerState};
use natrix::wheel::Wheel;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = ack::decode(data) {
        let mut out = Vec::new();
        ack::encode_v1(&mut out, &a);
        let b = ack::decode(&out).expect("re-encoded ack subject must decode");
        assert_eq!(
            (
                b.stream,
                b.consumer,
                b.delivered,
                b.stream_seq,
                b.consumer_seq,
                b.timestamp_ns,
                b.pending
            ),
            (
                a.stream,
                a.consumer,
                a.delivered,
                a.stream_seq,
                a.consumer_seq,
                a.timestamp_ns,
                a.pending
            )
        );
    }
    let _ = ack::parse_payload(data);
    let _ = PullRequest::decode(data);
    let mut wheel = Wheel::new(0);
    if let Ok(s) = ConsumerState::decode(1, ConsumerLimits::default(), data, &mut wheel) {
        assert!(s.ack_floor().0 <= s.delivered().1);
        assert_eq!(wheel.len(), s.num_ack_pending());
    }
    if let Ok(d) = Delta::decode(data) {
        let mut out = Vec::new();
        encode_delta(&d.positions, &d.changes, &mut out);
        assert_eq!(Delta::decode(&out).as_ref(), Ok(&d));
        // Applied to an empty consumer: whole or not at all.
        let mut img = StateImage {
            next_stream_seq: 1,
            ..StateImage::default()
        };
        let before = img.clone();
        if img.apply(&d).is_err() {
            assert_eq!(img, before);
        }
    }
    // The input as a state file, and as a delta after a small snapshot.
    let mut file = Vec::new();
    state_log::encode_record(&[1, 3, 3, 0, 0, 4, 3, 1, 2, 1, 7, 2, 1, 1, 7, 3, 0, 1, 7], &mut file);
    state_log::encode_record(data, &mut file);
    for bytes in [data, &file[..]] {
        if let Ok(r) = state_log::recover(bytes) {
            let i = &r.image;
            assert!(i.ack_floor_stream <= i.delivered_stream_seq);
            assert!(i.ack_floor_consumer <= i.delivered_consumer_seq);
            assert!(i.next_stream_seq > i.delivered_stream_seq);
            let mut wheel = Wheel::new(0);
            let s = ConsumerState::from_image(1, ConsumerLimits::default(), r.image, &mut wheel);
            assert_eq!(wheel.len(), s.num_ack_pending());
            let mut snap = Vec::new();
            s.encode(&mut snap);
            assert!(StateImage::decode(&snap).is_ok());
        }
    }
});
