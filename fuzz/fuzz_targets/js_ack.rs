//! Fuzzes the `$JS.ACK` subject decoder, ack payloads, pull request bodies and the consumer
//! snapshot decoder: none may panic, and a decoded ack subject re-encodes (v1) to a subject
//! that decodes to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::jetstream::consumer::ack;
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
});
