use super::*;

fn hdrs(block: &[u8]) -> Headers<'_> {
    Headers::parse(block).unwrap()
}

#[test]
fn parse_value_is_go_set_string_base_10() {
    assert_eq!(parse_value("5"), Some(BigInt::from(5)));
    assert_eq!(parse_value("+5"), Some(BigInt::from(5)));
    assert_eq!(parse_value("-007"), Some(BigInt::from(-7)));
    let big = "123456789012345678901234567890123456789012345678901234567890";
    assert_eq!(parse_value(big).unwrap().to_string(), big);
    for bad in ["", "+", "-", "1_000", " 1", "1.5", "0x10", "abc", "++1"] {
        assert_eq!(parse_value(bad), None, "{bad:?}");
    }
}

fn check(
    allow: bool,
    block: &[u8],
    payload: usize,
    sourced: bool,
) -> Result<Option<BigInt>, ApiError> {
    check_incr(allow, block, &hdrs(block), payload, sourced)
}

#[test]
fn check_incr_refusals_in_order() {
    let h = b"NATS/1.0\r\nNats-Incr: x\r\n\r\n";
    assert_eq!(check(false, h, 0, false), Err(ApiError::MessageIncrInvalid));
    let h = b"NATS/1.0\r\nNats-Incr: 2\r\n\r\n";
    assert_eq!(
        check(false, h, 0, false),
        Err(ApiError::MessageIncrDisabled)
    );
    assert_eq!(check(true, h, 1, false), Err(ApiError::MessageIncrPayload));
    assert_eq!(check(true, h, 0, false), Ok(Some(BigInt::from(2))));
    for k in [
        "Nats-Rollup",
        "Nats-Expected-Stream",
        "Nats-Expected-Last-Msg-Id",
        "Nats-Expected-Last-Sequence",
        "Nats-Expected-Last-Subject-Sequence",
        "Nats-Expected-Last-Subject-Sequence-Subject",
    ] {
        let h = format!("NATS/1.0\r\nNats-Incr: 2\r\n{k}: 1\r\n\r\n");
        assert_eq!(
            check(true, h.as_bytes(), 0, false),
            Err(ApiError::MessageIncrInvalid),
            "{k}"
        );
    }
    // Nats-Msg-Id goes with an increment.
    let h = b"NATS/1.0\r\nNats-Incr: 2\r\nNats-Msg-Id: a\r\n\r\n";
    assert!(check(true, h, 0, false).is_ok());
    // Copies skip all but the parse.
    assert_eq!(
        check(false, b"NATS/1.0\r\nNats-Incr: 2\r\n\r\n", 9, true),
        Ok(Some(BigInt::from(2)))
    );
    assert_eq!(check(true, b"NATS/1.0\r\n\r\n", 0, false), Ok(None));
    // nats-server's sliceHeader: leading spaces skipped, trailing whitespace kept.
    let spaced = b"NATS/1.0\r\nNats-Incr:   7\r\n\r\n";
    assert_eq!(check(true, spaced, 0, false), Ok(Some(BigInt::from(7))));
    let tab = b"NATS/1.0\r\nNats-Incr: 7\t\r\n\r\n";
    assert_eq!(
        check(true, tab, 0, false),
        Err(ApiError::MessageIncrInvalid)
    );
    let lower = b"NATS/1.0\r\nnats-incr: 7\r\n\r\n";
    assert_eq!(check(true, lower, 0, false), Ok(None));
}

#[test]
fn apply_adds_to_the_last_value_past_i128() {
    let h = b"NATS/1.0\r\nNats-Incr: 5\r\n\r\n";
    let u = apply(None, h, b"", &BigInt::from(5)).unwrap();
    assert_eq!(u.payload, br#"{"val":"5"}"#);
    assert_eq!(u.hdr, h);
    let max = i128::MAX.to_string();
    let last = format!(r#"{{"val":"{max}"}}"#);
    let l = Last {
        hdr: h,
        payload: last.as_bytes(),
    };
    let u = apply(Some(l), h, b"", &BigInt::from(5)).unwrap();
    let want = BigInt::from(i128::MAX) + 5;
    assert_eq!(u.value, want);
    assert_eq!(u.payload, format!(r#"{{"val":"{want}"}}"#).into_bytes());
    let ack = ack_with_value(br#"{"stream":"C","seq":2}"#.to_vec(), &BigInt::from(-3));
    assert_eq!(ack, br#"{"stream":"C","seq":2,"val":"-3"}"#);
}

#[test]
fn a_last_message_that_is_no_counter_is_broken() {
    for p in [&b"hello"[..], b"", br#"{"val":5}"#, br#"{"val":"1"} x"#] {
        let l = Last {
            hdr: b"",
            payload: p,
        };
        assert_eq!(
            apply(Some(l), b"", b"", &BigInt::from(1)),
            Err(ApiError::MessageCounterBroken)
        );
    }
    let l = Last {
        hdr: b"NATS/1.0\r\nNats-Counter-Sources: nope\r\n\r\n",
        payload: br#"{"val":"1"}"#,
    };
    assert_eq!(
        apply(Some(l), b"", b"", &BigInt::from(1)),
        Err(ApiError::MessageCounterBroken)
    );
}

#[test]
fn sourced_copies_add_the_difference_and_keep_the_sources() {
    let copy = |origin: &str, total: &str| {
        let h = format!(
            "NATS/1.0\r\nNats-Incr: 1\r\nNats-Stream-Source: {origin} 3 > > c.x a1\r\n\r\n"
        );
        (
            h.into_bytes(),
            format!(r#"{{"val":"{total}"}}"#).into_bytes(),
        )
    };
    let (h, p) = copy("A", "10");
    let u = apply(None, &h, &p, &BigInt::from(1)).unwrap();
    assert_eq!(u.value, BigInt::from(10));
    let text = String::from_utf8(u.hdr.clone()).unwrap();
    assert!(text.contains("Nats-Incr: 10\r\n"), "{text}");
    assert!(
        text.ends_with("Nats-Counter-Sources: {\"A\":{\"c.x\":\"10\"}}\r\n\r\n"),
        "{text}"
    );
    // A second origin, then A again at 12: +2, not +12.
    let (h2, p2) = copy("B", "7");
    let u2 = apply(
        Some(Last {
            hdr: &u.hdr,
            payload: &u.payload,
        }),
        &h2,
        &p2,
        &BigInt::from(1),
    )
    .unwrap();
    assert_eq!(u2.value, BigInt::from(17));
    let (h3, p3) = copy("A", "12");
    let u3 = apply(
        Some(Last {
            hdr: &u2.hdr,
            payload: &u2.payload,
        }),
        &h3,
        &p3,
        &BigInt::from(1),
    )
    .unwrap();
    assert_eq!(u3.value, BigInt::from(19));
    let text = String::from_utf8(u3.hdr).unwrap();
    assert!(text.contains("Nats-Incr: 2\r\n"), "{text}");
    assert!(
        text.contains(r#"Nats-Counter-Sources: {"A":{"c.x":"12"},"B":{"c.x":"7"}}"#),
        "{text}"
    );
}

#[test]
fn set_header_replaces_or_appends() {
    assert_eq!(
        set_header(b"NATS/1.0\r\nA: 1\r\nB: 22\r\n\r\n", "B", "3"),
        b"NATS/1.0\r\nA: 1\r\nB: 3\r\n\r\n"
    );
    assert_eq!(
        set_header(b"NATS/1.0\r\nA: 1\r\n\r\n", "B", "3"),
        b"NATS/1.0\r\nA: 1\r\nB: 3\r\n\r\n"
    );
    assert_eq!(set_header(b"", "B", "3"), b"NATS/1.0\r\nB: 3\r\n\r\n");
}
