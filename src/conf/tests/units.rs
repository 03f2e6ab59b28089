//! Size suffixes, Go durations, and the value helpers the settings layer uses.

use super::*;

#[test]
fn size_suffixes_follow_nats_server() {
    let cases = [
        ("k", 1000),
        ("K", 1000),
        ("kb", 1024),
        ("KB", 1024),
        ("ki", 1024),
        ("Ki", 1024),
        ("kib", 1024),
        ("KiB", 1024),
        ("m", 1_000_000),
        ("mb", 1 << 20),
        ("mib", 1 << 20),
        ("g", 1_000_000_000),
        ("gb", 1 << 30),
        ("t", 1_000_000_000_000),
        ("tb", 1 << 40),
        ("p", 1_000_000_000_000_000),
        ("pb", 1 << 50),
        ("e", 1_000_000_000_000_000_000),
        ("eb", 1 << 60),
        ("EiB", 1 << 60),
    ];
    for (suffix, multiplier) in cases {
        assert_eq!(size_multiplier(suffix), Some(multiplier), "{suffix}");
    }
    for suffix in ["", "b", "x", "kbb", "kbi", "mB2", "é"] {
        assert_eq!(size_multiplier(suffix), None, "{suffix}");
    }
    assert_eq!(parse_size("1048576"), Some(1_048_576));
    assert_eq!(parse_size("64KB"), Some(65_536));
    assert_eq!(parse_size("1k"), Some(1000));
    assert_eq!(parse_size("2G"), Some(2_000_000_000));
    assert_eq!(parse_size("1MiB"), Some(1_048_576));
    for bad in ["", "-1", "MB", "1.5MB", "1 MB", "16EB", "1kbb"] {
        assert_eq!(parse_size(bad), None, "{bad}");
    }
}

#[test]
fn durations_follow_go_parse_duration() {
    let cases = [
        ("0", Duration::ZERO),
        ("2m", Duration::from_secs(120)),
        ("1h30m", Duration::from_secs(5400)),
        ("500ms", Duration::from_millis(500)),
        ("1.5s", Duration::from_millis(1500)),
        (".5s", Duration::from_millis(500)),
        ("1.s", Duration::from_secs(1)),
        ("10us", Duration::from_micros(10)),
        ("10µs", Duration::from_micros(10)),
        ("7ns", Duration::from_nanos(7)),
        ("+3s", Duration::from_secs(3)),
        ("-0s", Duration::ZERO),
        ("1h1m1s1ms1us1ns", Duration::from_nanos(3_661_001_001_001)),
        ("0.000000001s", Duration::from_nanos(1)),
        ("2562047h", Duration::from_secs(2_562_047 * 3600)),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration(text), Ok(expected), "{text}");
    }
    for bad in [
        "",
        "10",
        "1x",
        "s",
        ".s",
        "-5s",
        "1h-5m",
        "2562048h",
        "99999999999999999999999s",
        "1 s",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn value_helpers_convert_or_say_why_not() {
    let map = parse_ok(
        "int: 4096\nsize: 64KB\ntext: \"1MiB\"\nneg: -1\nflt: 1.5\n\
         secs: 30\ndur: \"1m30s\"\nbad: \"soon\"\nb: yes\n",
    );
    assert_eq!(at(&map, "int").to_bytes(), Ok(4096));
    assert_eq!(at(&map, "size").to_bytes(), Ok(65_536));
    assert_eq!(at(&map, "text").to_bytes(), Ok(1_048_576));
    assert_eq!(at(&map, "secs").to_duration(), Ok(Duration::from_secs(30)));
    assert_eq!(at(&map, "dur").to_duration(), Ok(Duration::from_secs(90)));

    let error = at(&map, "neg").to_bytes().unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidSize("-1".into()));
    assert_eq!(line_col(&error.pos), (4, 6));
    let error = at(&map, "flt").to_bytes().unwrap_err();
    assert!(
        matches!(error.kind, ErrorKind::WrongType { found: "float", .. }),
        "{error}"
    );
    let error = at(&map, "bad").to_duration().unwrap_err();
    assert!(matches!(&error.kind, ErrorKind::InvalidDuration { text, .. } if text == "soon"));
    assert!(
        error
            .to_string()
            .starts_with("test.conf:8:6: invalid duration 'soon'"),
        "{error}"
    );
    let error = at(&map, "neg").to_duration().unwrap_err();
    assert!(matches!(error.kind, ErrorKind::InvalidDuration { .. }));
    let error = at(&map, "b").to_duration().unwrap_err();
    assert!(matches!(
        error.kind,
        ErrorKind::WrongType {
            found: "boolean",
            ..
        }
    ));
    assert_eq!(at(&map, "text").as_i64(), None);
    assert_eq!(at(&map, "b").type_name(), "boolean");
}
