//! Parser fixtures, each also parsed split at every byte; numbers in test names refer to the
//! behaviours in reference §15.

use super::ParseError::{MaxControlLine, MaxPayload, UnknownOp, Violation};
use super::*;

const LIMITS: ParseLimits = limits(4096, 1024 * 1024);
/// For the control-line limit: an 8-byte argument is the most.
const SHORT_LINE: ParseLimits = limits(8, 100);
/// For the payload limit: a 4-byte payload is the most.
const SMALL_PAYLOAD: ParseLimits = limits(4096, 4);

const fn limits(max_control_line_bytes: usize, max_payload_bytes: usize) -> ParseLimits {
    ParseLimits {
        max_control_line_bytes,
        max_payload_bytes,
    }
}

/// Printable ASCII as is (quotes too, so JSON reads naturally), anything else escaped.
fn show(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b == b' ' || (b.is_ascii_graphic() && b != b'\\') {
            out.push(char::from(b));
        } else {
            out.extend(std::ascii::escape_default(b).map(char::from));
        }
    }
    out
}

/// Renders an op with its spans resolved, so fixtures read like the protocol.
fn render(buf: &[u8], op: &Op) -> String {
    let s = |span: Span| show(span.get(buf));
    let opt = |span: Option<Span>| span.map_or("-".to_string(), s);
    match *op {
        Op::Info { json } => format!("INFO {}", s(json)),
        Op::Connect { json } => format!("CONNECT {}", s(json)),
        Op::Pub {
            subject,
            reply,
            size_token,
            payload,
        } => {
            format!(
                "PUB {} {} {} [{}]",
                s(subject),
                opt(reply),
                s(size_token),
                s(payload)
            )
        }
        Op::Hpub {
            subject,
            reply,
            hdr_token,
            total_token,
            hdr_len,
            payload,
        } => format!(
            "HPUB {} {} {} {} hdr_len={} [{}]",
            s(subject),
            opt(reply),
            s(hdr_token),
            s(total_token),
            hdr_len,
            s(payload)
        ),
        Op::Sub {
            subject,
            queue,
            sid,
        } => format!("SUB {} {} {}", s(subject), opt(queue), s(sid)),
        Op::Unsub { sid, max } => format!("UNSUB {} {}", s(sid), opt(max)),
        Op::Ping => "PING".to_string(),
        Op::Pong => "PONG".to_string(),
        Op::Ok => "+OK".to_string(),
        Op::Err => "-ERR".to_string(),
    }
}

type Rendered = Result<Option<(String, usize)>, ParseError>;

fn parse_with(buf: &[u8], limits: &ParseLimits) -> Rendered {
    parse_op(buf, limits).map(|r| r.map(|(op, n)| (render(buf, &op), n)))
}

/// Asserts `input` is exactly one op rendered as `expected`, and that every strict prefix of
/// it is incomplete.
fn assert_op_with(input: &[u8], limits: &ParseLimits, expected: &str) {
    let shown = input.escape_ascii();
    assert_eq!(
        parse_with(input, limits),
        Ok(Some((expected.to_string(), input.len()))),
        "input {shown}"
    );
    for k in 0..input.len() {
        assert_eq!(
            parse_with(&input[..k], limits),
            Ok(None),
            "input {shown} cut at {k}"
        );
    }
    // Bytes after the op belong to the next op and change nothing.
    let mut longer = input.to_vec();
    longer.extend_from_slice(b"PING\r\n");
    assert_eq!(
        parse_with(&longer, limits),
        Ok(Some((expected.to_string(), input.len())))
    );
}

fn assert_op(input: &[u8], expected: &str) {
    assert_op_with(input, &LIMITS, expected);
}

/// Asserts `input` fails with `err`, first detected once `at` bytes are present: shorter
/// prefixes are incomplete, and every prefix of at least `at` bytes fails the same way.
fn assert_err_at_with(input: &[u8], limits: &ParseLimits, err: ParseError, at: usize) {
    let shown = input.escape_ascii();
    for k in 0..=input.len() {
        let expected = if k < at { Ok(None) } else { Err(err) };
        assert_eq!(
            parse_with(&input[..k], limits),
            expected,
            "input {shown} cut at {k}"
        );
    }
}

fn assert_err_at(input: &[u8], err: ParseError, at: usize) {
    assert_err_at_with(input, &LIMITS, err, at);
}

/// Asserts `input` fails with `err`, detected only when its last byte arrives.
fn assert_err(input: &[u8], err: ParseError) {
    assert_err_at(input, err, input.len());
}

/// Parses op after op like a connection does, holding back unconsumed bytes between
/// `chunks`. Returns the rendered ops and the error, if one ended the stream.
fn parse_chunked(chunks: &[&[u8]], limits: &ParseLimits) -> (Vec<String>, Option<ParseError>) {
    let mut pending = Vec::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(chunk);
        loop {
            match parse_op(&pending, limits) {
                Ok(Some((op, n))) => {
                    assert!(n > 0 && n <= pending.len());
                    ops.push(render(&pending, &op));
                    pending.drain(..n);
                }
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    assert!(pending.is_empty(), "left over: {}", pending.escape_ascii());
    (ops, None)
}

/// Asserts a stream parses to `expected` in one read, at every two-read split, and one byte
/// per read.
fn assert_stream(input: &[u8], expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(parse_chunked(&[input], &LIMITS), (expected.clone(), None));
    for k in 0..=input.len() {
        let (a, b) = input.split_at(k);
        assert_eq!(
            parse_chunked(&[a, b], &LIMITS),
            (expected.clone(), None),
            "split at {k}"
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(parse_chunked(&bytes, &LIMITS), (expected, None));
}

// ---- each op ----

#[test]
fn pub_without_reply_gives_subject_size_and_payload() {
    assert_op(b"PUB foo 5\r\nhello\r\n", "PUB foo - 5 [hello]");
}

#[test]
fn pub_with_reply_gives_the_reply() {
    assert_op(b"PUB foo bar 5\r\nhello\r\n", "PUB foo bar 5 [hello]");
}

#[test]
fn pub_spans_are_exact_offsets_into_the_buffer() {
    let buf = b"PUB foo bar 5\r\nhello\r\n";
    let expected = Op::Pub {
        subject: Span { start: 4, end: 7 },
        reply: Some(Span { start: 8, end: 11 }),
        size_token: Span { start: 12, end: 13 },
        payload: Span { start: 15, end: 20 },
    };
    assert_eq!(parse_op(buf, &LIMITS), Ok(Some((expected, 22))));
}

#[test]
fn pub_payload_may_contain_crlf_and_any_byte() {
    assert_op(b"PUB foo 4\r\n\r\n\r\n\r\n", "PUB foo - 4 [\\r\\n\\r\\n]");
    assert_op(
        b"PUB foo 3\r\n\x00\xff\n\r\n",
        "PUB foo - 3 [\\x00\\xff\\n]",
    );
}

#[test]
fn hpub_gives_header_length_and_total_payload_28() {
    assert_op(
        b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n",
        "HPUB FOO - 22 33 hdr_len=22 [NATS/1.0\\r\\nBar: Baz\\r\\n\\r\\nHello NATS!]",
    );
}

#[test]
fn hpub_keeps_size_tokens_verbatim_28() {
    assert_op(
        b"HPUB foo rep 022 0033\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n",
        "HPUB foo rep 022 0033 hdr_len=22 [NATS/1.0\\r\\nBar: Baz\\r\\n\\r\\nHello NATS!]",
    );
}

#[test]
fn hpub_with_zero_header_size_is_accepted_29() {
    assert_op(b"HPUB foo 0 2\r\nhi\r\n", "HPUB foo - 0 2 hdr_len=0 [hi]");
}

#[test]
fn hpub_header_block_is_not_validated_29() {
    assert_op(
        b"HPUB foo 5 7\r\nhello\r\n\r\n",
        "HPUB foo - 5 7 hdr_len=5 [hello\\r\\n]",
    );
}

#[test]
fn hpub_header_size_larger_than_total_is_a_violation_29() {
    assert_err(b"HPUB foo 3 2\r\n", Violation);
}

#[test]
fn hpub_header_size_equal_to_total_is_accepted() {
    assert_op(b"HPUB foo 2 2\r\nhi\r\n", "HPUB foo - 2 2 hdr_len=2 [hi]");
}

#[test]
fn sub_without_queue_gives_subject_and_sid() {
    assert_op(b"SUB foo.* 1\r\n", "SUB foo.* - 1");
}

#[test]
fn sub_with_queue_gives_the_queue() {
    assert_op(b"SUB foo q 42\r\n", "SUB foo q 42");
}

#[test]
fn sub_sid_is_any_run_of_non_blank_bytes() {
    assert_op(b"SUB foo a-b.c!$\r\n", "SUB foo - a-b.c!$");
}

#[test]
fn unsub_without_max() {
    assert_op(b"UNSUB 1\r\n", "UNSUB 1 -");
}

#[test]
fn unsub_max_is_returned_raw_even_when_not_a_number() {
    assert_op(b"UNSUB 1 2\r\n", "UNSUB 1 2");
    assert_op(b"UNSUB 1 0\r\n", "UNSUB 1 0");
    assert_op(b"UNSUB 1 abc\r\n", "UNSUB 1 abc");
    assert_op(b"UNSUB 1 12345678901\r\n", "UNSUB 1 12345678901");
}

#[test]
fn connect_gives_the_json_without_terminator() {
    assert_op(
        b"CONNECT {\"verbose\":false}\r\n",
        "CONNECT {\"verbose\":false}",
    );
}

#[test]
fn connect_without_blank_before_json_is_accepted() {
    assert_op(
        b"CONNECT{\"verbose\":false}\r\n",
        "CONNECT {\"verbose\":false}",
    );
}

#[test]
fn connect_skips_spaces_and_tabs_before_json() {
    assert_op(b"CONNECT \t {}\r\n", "CONNECT {}");
}

#[test]
fn connect_without_json_gives_an_empty_span_for_the_caller_to_reject() {
    assert_op(b"CONNECT\r\n", "CONNECT ");
    assert_op(b"CONNECT  \n", "CONNECT ");
}

#[test]
fn client_info_gives_the_json() {
    assert_op(b"INFO {\"a\":1}\r\n", "INFO {\"a\":1}");
    assert_op(b"INFO{}\n", "INFO {}");
}

#[test]
fn ping_and_pong() {
    assert_op(b"PING\r\n", "PING");
    assert_op(b"PONG\r\n", "PONG");
}

#[test]
fn plus_ok_is_an_ok_op_with_the_rest_of_the_line_ignored() {
    assert_op(b"+OK\r\n", "+OK");
    assert_op(b"+OKAY then\r\n", "+OK");
}

#[test]
fn minus_err_line_is_an_err_op() {
    assert_op(b"-ERR 'Stale Connection'\r\n", "-ERR");
    assert_op(b"-ERR\t\tx\n", "-ERR");
    assert_op(b"-ERR \r\n", "-ERR");
}

#[test]
fn minus_err_needs_a_blank_after_the_name() {
    assert_err_at(b"-ERR\r\n", UnknownOp, 5);
    assert_err_at(b"-ERRX 'x'\r\n", UnknownOp, 5);
}

// ---- §15 behaviours ----

#[test]
fn op_names_are_case_insensitive_6() {
    assert_op(b"sub foo 1\r\n", "SUB foo - 1");
    assert_op(b"PuB foo 1\r\nx\r\n", "PUB foo - 1 [x]");
    assert_op(b"pub foo 1\r\nx\r\n", "PUB foo - 1 [x]");
    assert_op(b"hPuB foo 0 1\r\nx\r\n", "HPUB foo - 0 1 hdr_len=0 [x]");
    assert_op(b"UnSuB 1\r\n", "UNSUB 1 -");
    assert_op(b"ping\r\n", "PING");
    assert_op(b"pOnG\r\n", "PONG");
    assert_op(b"connect {}\r\n", "CONNECT {}");
    assert_op(b"CoNnEcT {}\r\n", "CONNECT {}");
    assert_op(b"info {}\r\n", "INFO {}");
    assert_op(b"+ok\r\n", "+OK");
    assert_op(b"-err 'x'\r\n", "-ERR");
}

#[test]
fn arguments_are_case_sensitive_and_kept_as_sent_6() {
    assert_op(b"sub Foo.BAR Q 1\r\n", "SUB Foo.BAR Q 1");
}

#[test]
fn tabs_and_runs_of_blanks_separate_arguments_7() {
    assert_op(b"SUB\t foo \t q  1\r\n", "SUB foo q 1");
    assert_op(b"PUB \t foo\t\t2  \r\nhi\r\n", "PUB foo - 2 [hi]");
    assert_op(b"PUB\tfoo\tbar\t2\t\r\nhi\r\n", "PUB foo bar 2 [hi]");
    assert_op(
        b"HPUB  foo   0  2 \r\nhi\r\n",
        "HPUB foo - 0 2 hdr_len=0 [hi]",
    );
    assert_op(b"UNSUB \t 1 \t 5 \t\r\n", "UNSUB 1 5");
}

#[test]
fn sub_and_unsub_also_split_on_carriage_return() {
    assert_op(b"SUB foo\r1\r\r\n", "SUB foo - 1");
    assert_op(b"UNSUB 1\r\r\n", "UNSUB 1 -");
}

#[test]
fn pub_does_not_split_on_carriage_return() {
    // The extra `\r` stays in the size token, which is then not a number.
    assert_err(b"PUB foo 1\r\r\n", Violation);
}

#[test]
fn bare_lf_ends_a_control_line_8() {
    assert_op(b"SUB foo 1\n", "SUB foo - 1");
    assert_op(b"PUB foo 2\nhi\r\n", "PUB foo - 2 [hi]");
    assert_op(b"PING\n", "PING");
    assert_stream(
        b"SUB foo 1\nPUB foo 2\nhi\r\nPING\n",
        &["SUB foo - 1", "PUB foo - 2 [hi]", "PING"],
    );
}

#[test]
fn bare_lf_after_payload_is_unknown_op_9() {
    assert_err(b"PUB foo 2\r\nhi\n", UnknownOp);
}

#[test]
fn any_byte_but_crlf_after_payload_is_unknown_op_9() {
    assert_err_at(b"PUB foo 2\r\nhi \r\n", UnknownOp, 14);
    // Too many bytes: the third payload byte is where `\r` must be.
    assert_err_at(b"PUB foo 2\r\nhix\r\n", UnknownOp, 14);
    // Too few bytes: the size swallows the `\r`, and `\n` is where `\r` must be.
    assert_err(b"PUB foo 3\r\nhi\r\n", UnknownOp);
    assert_err(b"PUB foo 2\r\nhi\rX", UnknownOp);
    assert_err(b"HPUB foo 0 2\r\nhi\n", UnknownOp);
}

#[test]
fn empty_line_is_unknown_op_10() {
    assert_err_at(b"\r\n", UnknownOp, 1);
    assert_err_at(b"\n", UnknownOp, 1);
}

#[test]
fn leading_whitespace_is_unknown_op_10() {
    assert_err_at(b" PING\r\n", UnknownOp, 1);
    assert_err_at(b"\tSUB foo 1\r\n", UnknownOp, 1);
}

#[test]
fn unknown_op_is_reported_at_the_first_letter_that_cannot_match_10() {
    assert_err_at(b"FOO\r\n", UnknownOp, 1);
    assert_err_at(b"PX\r\n", UnknownOp, 2);
    assert_err_at(b"PIX\r\n", UnknownOp, 3);
    assert_err_at(b"POX\r\n", UnknownOp, 3);
    assert_err_at(b"CONNEXT {}\r\n", UnknownOp, 6);
    assert_err_at(b"INF {}\r\n", UnknownOp, 4);
    assert_err_at(b"UNSUX 1\r\n", UnknownOp, 5);
    assert_err_at(b"+NO\r\n", UnknownOp, 2);
    assert_err_at(b"-OK\r\n", UnknownOp, 2);
}

#[test]
fn op_name_without_blank_after_it_is_unknown_op_10() {
    assert_err_at(b"SUBZ foo 1\r\n", UnknownOp, 4);
    assert_err_at(b"SUBZZZ\r\n", UnknownOp, 4);
    assert_err_at(b"PUBS foo 1\r\n", UnknownOp, 4);
    assert_err_at(b"UNSUB\r\n", UnknownOp, 6);
    assert_err_at(b"PUB\r\n", UnknownOp, 4);
    assert_err_at(b"HPUB\n", UnknownOp, 5);
}

#[test]
fn client_sent_msg_and_hmsg_are_unknown_op() {
    assert_err_at(b"MSG foo 1 2\r\nhi\r\n", UnknownOp, 1);
    assert_err_at(b"HMSG foo 1 0 2\r\nhi\r\n", UnknownOp, 2);
    assert_err_at(b"RS+ foo 1\r\n", UnknownOp, 1);
    assert_err_at(b"LS+ foo 1\r\n", UnknownOp, 1);
    assert_err_at(b"A+ foo\r\n", UnknownOp, 1);
}

#[test]
fn wrong_argument_counts_are_violations_11() {
    assert_err(b"PUB foo\r\n", Violation);
    assert_err(b"PUB foo bar\r\n", Violation);
    assert_err(b"PUB a b c 1\r\n", Violation);
    assert_err(b"HPUB foo 1\r\n", Violation);
    assert_err(b"HPUB a b c 1 2\r\n", Violation);
    assert_err(b"SUB foo\r\n", Violation);
    assert_err(b"SUB a b c 1\r\n", Violation);
    assert_err(b"UNSUB 1 2 3\r\n", Violation);
    // Extra arguments that would each look valid on their own.
    assert_err(b"PUB foo 1 2 3\r\n", Violation);
    assert_err(b"HPUB foo 1 2 3 4\r\n", Violation);
    assert_err(b"SUB foo q 1 2\r\n", Violation);
}

#[test]
fn arguments_empty_after_trimming_are_violations_11() {
    assert_err(b"PUB  \r\n", Violation);
    assert_err(b"PUB \t\n", Violation);
    assert_err(b"HPUB \r\n", Violation);
    assert_err(b"SUB \r\n", Violation);
    assert_err(b"UNSUB \t \r\n", Violation);
}

#[test]
fn ping_ignores_everything_up_to_the_newline_12() {
    assert_op(b"PING anything\r\n", "PING");
    assert_op(b"PINGX\r\n", "PING");
    assert_op(b"PING  \r  \n", "PING");
    assert_op(b"PONG foo bar\r\n", "PONG");
    assert_stream(b"PINGPONG\r\nPONG\n", &["PING", "PONG"]);
}

#[test]
fn size_token_with_leading_zeros_is_kept_verbatim_13() {
    assert_op(b"PUB foo 002\r\nhi\r\n", "PUB foo - 002 [hi]");
    assert_op(b"PUB foo 000000000\r\n\r\n", "PUB foo - 000000000 []");
}

#[test]
fn size_token_with_sign_or_non_digit_is_a_violation_13() {
    assert_err(b"PUB foo +2\r\n", Violation);
    assert_err(b"PUB foo -2\r\n", Violation);
    assert_err(b"PUB foo 2x\r\n", Violation);
    assert_err(b"PUB foo 0x10\r\n", Violation);
    assert_err(b"HPUB foo x 2\r\n", Violation);
    assert_err(b"HPUB foo 0 +2\r\n", Violation);
}

#[test]
fn size_token_of_ten_digits_is_a_violation_even_under_a_huge_limit_13() {
    let huge = limits(4096, usize::MAX);
    assert_err_at_with(b"PUB foo 0000000001\r\n", &huge, Violation, 20);
    assert_err_at_with(b"PUB foo 1000000000\r\n", &huge, Violation, 20);
    // Nine digits is still a size: the parser then waits for the payload.
    assert_eq!(parse_with(b"PUB foo 999999999\r\n", &huge), Ok(None));
    assert_eq!(
        parse_with(b"PUB foo 000000001\r\nx\r\n", &huge)
            .unwrap()
            .unwrap()
            .1,
        22
    );
}

fn arg_line(op: &[u8], arg_len: usize) -> Vec<u8> {
    // `SUB x <sid>` with a sid long enough to make the argument `arg_len` bytes.
    let mut line = op.to_vec();
    line.extend_from_slice(b"x ");
    line.resize(op.len() + arg_len, b'1');
    line
}

#[test]
fn argument_of_exactly_max_control_line_is_accepted_14() {
    let mut line = arg_line(b"SUB ", 4096);
    line.extend_from_slice(b"\r\n");
    let sid = "1".repeat(4094);
    assert_op(&line, &format!("SUB x - {sid}"));
}

#[test]
fn argument_over_max_control_line_fails_before_the_newline_14() {
    let line = arg_line(b"SUB ", 4097);
    // Detected at the 4097th argument byte, with no `\n` in sight.
    assert_err_at(&[&line[..], b"\r\n"].concat(), MaxControlLine, line.len());
}

#[test]
fn line_that_never_ends_fails_once_over_the_limit_14() {
    let mut line = b"CONNECT {".to_vec();
    line.resize(5000, b' ');
    assert_err_at(&line, MaxControlLine, 8 + 4097);
}

#[test]
fn control_line_limit_ignores_the_terminator_14() {
    // 4096 argument bytes then `\r`: the `\r` may be half of the terminator.
    let mut line = arg_line(b"SUB ", 4096);
    line.push(b'\r');
    assert_eq!(parse_with(&line, &LIMITS), Ok(None));
    line.push(b'\n');
    assert!(matches!(parse_with(&line, &LIMITS), Ok(Some(_))));
    // With a bare LF the last argument byte counts.
    let mut line = arg_line(b"SUB ", 4097);
    line.push(b'\n');
    assert_eq!(parse_with(&line, &LIMITS), Err(MaxControlLine));
}

#[test]
fn control_line_limit_covers_connect_json_and_pub_14() {
    assert_op_with(b"CONNECT {\"a\":12}\r\n", &SHORT_LINE, "CONNECT {\"a\":12}");
    assert_err_at_with(b"CONNECT {\"a\":123}\r\n", &SHORT_LINE, MaxControlLine, 17);
    assert_op_with(b"PUB foo 0001\r\nx\r\n", &SHORT_LINE, "PUB foo - 0001 [x]");
    assert_err_at_with(b"PUB foo 00001\r\nx\r\n", &SHORT_LINE, MaxControlLine, 13);
    assert_err_at_with(b"-ERR 123456789\r\n", &SHORT_LINE, MaxControlLine, 14);
}

#[test]
fn control_line_limit_is_checked_before_argument_errors() {
    assert_err_at_with(b"PUB a b c d e\r\n", &SHORT_LINE, MaxControlLine, 13);
}

#[test]
fn blanks_before_the_argument_do_not_count_but_are_bounded() {
    assert_op_with(b"SUB \t\t\t\t\t\t\tfoo 1\r\n", &SHORT_LINE, "SUB foo - 1");
    // Blanks beyond the limit are refused rather than buffered (a documented deviation).
    assert_err_at_with(b"SUB          foo 1\r\n", &SHORT_LINE, MaxControlLine, 13);
}

#[test]
fn junk_after_ping_is_bounded_by_the_larger_of_control_line_and_payload_limits() {
    // nats-server ignores the junk whatever its length; we accept up to the larger limit.
    let l = limits(8, 16);
    assert_op_with(b"PING 123456789012345\r\n", &l, "PING");
    assert_err_at_with(b"PING 1234567890123456\r\n", &l, MaxControlLine, 21);
    let l = limits(16, 8);
    assert_op_with(b"PONG 123456789012345\r\n", &l, "PONG");
}

#[test]
fn payload_of_exactly_max_payload_is_accepted_15() {
    assert_op_with(
        b"PUB foo 4\r\nabcd\r\n",
        &SMALL_PAYLOAD,
        "PUB foo - 4 [abcd]",
    );
    assert_op_with(
        b"HPUB foo 2 4\r\nabcd\r\n",
        &SMALL_PAYLOAD,
        "HPUB foo - 2 4 hdr_len=2 [abcd]",
    );
}

#[test]
fn payload_over_max_payload_fails_once_the_control_line_is_complete_15() {
    // Detected at the `\n`, before any payload byte.
    assert_err_at_with(b"PUB foo 5\r\nabcde\r\n", &SMALL_PAYLOAD, MaxPayload, 11);
    assert_err_at_with(b"PUB foo 5\n", &SMALL_PAYLOAD, MaxPayload, 10);
    assert_err_at_with(b"HPUB foo 0 5\r\nabcde\r\n", &SMALL_PAYLOAD, MaxPayload, 14);
}

#[test]
fn argument_errors_come_before_max_payload() {
    assert_err_at_with(b"HPUB foo 6 5\r\n", &SMALL_PAYLOAD, Violation, 14);
    assert_err_at_with(b"PUB a b c 5\r\n", &SMALL_PAYLOAD, Violation, 13);
}

#[test]
fn empty_payload_is_valid_16() {
    assert_op(b"PUB x 0\r\n\r\n", "PUB x - 0 []");
    assert_op(b"PUB NOTIFY 0\r\n\r\n", "PUB NOTIFY - 0 []");
}

// ---- streams ----

#[test]
fn consumed_stops_at_the_end_of_the_first_op() {
    assert_eq!(
        parse_with(b"PING\r\nPONG\r\n", &LIMITS),
        Ok(Some(("PING".to_string(), 6)))
    );
    let buf = b"PUB a 1\r\nx\r\nPUB b 1\r\ny\r\n";
    assert_eq!(
        parse_with(buf, &LIMITS),
        Ok(Some(("PUB a - 1 [x]".to_string(), 12)))
    );
}

#[test]
fn every_op_back_to_back_parses_at_every_split() {
    assert_stream(
        b"CONNECT {\"verbose\":false}\r\nINFO {}\r\nSUB foo 1\r\nsub foo q 2\r\n\
          PUB foo 5\r\nhello\r\nPUB foo r 0\r\n\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
          UNSUB 1\r\nUNSUB 2 10\r\nPING\r\nPONG\r\n+OK\r\n-ERR 'x'\r\n",
        &[
            "CONNECT {\"verbose\":false}",
            "INFO {}",
            "SUB foo - 1",
            "SUB foo q 2",
            "PUB foo - 5 [hello]",
            "PUB foo r 0 []",
            "HPUB foo - 12 14 hdr_len=12 [NATS/1.0\\r\\n\\r\\nhi]",
            "UNSUB 1 -",
            "UNSUB 2 10",
            "PING",
            "PONG",
            "+OK",
            "-ERR",
        ],
    );
}

#[test]
fn stream_stops_at_the_first_bad_op() {
    let buf = b"PING\r\nPUB foo 1\r\nxy\r\nPING\r\n";
    for k in 0..=buf.len() {
        let (a, b) = buf.split_at(k);
        let (ops, err) = parse_chunked(&[a, b], &LIMITS);
        assert_eq!(ops, vec!["PING".to_string()], "split at {k}");
        assert_eq!(err, Some(UnknownOp), "split at {k}");
    }
}

// ---- errors and spans ----

#[test]
fn err_text_is_nats_server_text_and_none_for_silent_close() {
    assert_eq!(UnknownOp.err_text(), Some("Unknown Protocol Operation"));
    assert_eq!(
        MaxControlLine.err_text(),
        Some("maximum control line exceeded")
    );
    assert_eq!(MaxPayload.err_text(), Some("Maximum Payload Violation"));
    assert_eq!(Violation.err_text(), None);
    assert_eq!(MaxPayload.to_string(), "Maximum Payload Violation");
}

#[test]
fn span_helpers() {
    let span = Span { start: 2, end: 5 };
    assert_eq!(span.get(b"abcdefg"), b"cde");
    assert_eq!(span.len(), 3);
    assert!(!span.is_empty());
    assert!(Span { start: 4, end: 4 }.is_empty());
    assert_eq!(span.shift(10), Span { start: 12, end: 15 });
}

#[test]
fn empty_buffer_is_incomplete() {
    assert_eq!(parse_op(b"", &LIMITS), Ok(None));
}

// ---- generated streams ----

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[self.below(items.len())]
    }
}

struct Gen {
    rng: Rng,
    wire: Vec<u8>,
    expected: Vec<String>,
}

impl Gen {
    /// The op name in a random mix of cases.
    fn name(&mut self, word: &[u8]) {
        for &b in word {
            let b = if self.rng.chance(2) {
                b.to_ascii_lowercase()
            } else {
                b
            };
            self.wire.push(b);
        }
    }
    /// One or more spaces and tabs.
    fn blanks(&mut self) {
        for _ in 0..1 + self.rng.below(3) {
            self.wire
                .push(if self.rng.chance(3) { b'\t' } else { b' ' });
        }
    }
    fn maybe_blanks(&mut self) {
        if self.rng.chance(3) {
            self.blanks();
        }
    }
    fn end_line(&mut self) {
        self.wire
            .extend_from_slice(if self.rng.chance(4) { b"\n" } else { b"\r\n" });
    }
    fn token(&mut self, text: &[u8]) -> String {
        self.wire.extend_from_slice(text);
        show(text)
    }
    fn subject(&mut self) -> String {
        let mut subject = Vec::new();
        for i in 0..1 + self.rng.below(4) {
            if i > 0 {
                subject.push(b'.');
            }
            subject.extend_from_slice(self.rng.pick(&[b"foo", b"BAR", b"*", b"x1"]));
        }
        self.token(&subject)
    }
    /// A size written with up to two leading zeros; returns the token as sent.
    fn size(&mut self, n: usize) -> String {
        let zeros = "0".repeat(self.rng.below(3));
        self.token(format!("{zeros}{n}").as_bytes())
    }
    fn payload(&mut self, n: usize) -> String {
        let bytes: Vec<u8> = (0..n).map(|_| b"a\r\n \xff"[self.rng.below(5)]).collect();
        self.wire.extend_from_slice(&bytes);
        self.wire.extend_from_slice(b"\r\n");
        show(&bytes)
    }

    fn pub_op(&mut self) {
        self.name(b"PUB");
        self.blanks();
        let subject = self.subject();
        self.blanks();
        let reply = if self.rng.chance(2) {
            let r = self.token(b"_INBOX.r");
            self.blanks();
            r
        } else {
            "-".to_string()
        };
        let n = self.rng.below(40);
        let size = self.size(n);
        self.maybe_blanks();
        self.end_line();
        let payload = self.payload(n);
        self.expected
            .push(format!("PUB {subject} {reply} {size} [{payload}]"));
    }

    fn hpub_op(&mut self) {
        self.name(b"HPUB");
        self.blanks();
        let subject = self.subject();
        self.blanks();
        let total = self.rng.below(40);
        let hdr = self.rng.below(total + 1);
        let hdr_token = self.size(hdr);
        self.blanks();
        let total_token = self.size(total);
        self.maybe_blanks();
        self.end_line();
        let payload = self.payload(total);
        self.expected.push(format!(
            "HPUB {subject} - {hdr_token} {total_token} hdr_len={hdr} [{payload}]"
        ));
    }

    fn sub_op(&mut self) {
        self.name(b"SUB");
        self.blanks();
        let subject = self.subject();
        self.blanks();
        let queue = if self.rng.chance(2) {
            let q = self.token(b"workers");
            self.blanks();
            q
        } else {
            "-".to_string()
        };
        let sid = self.rng.below(1000).to_string();
        let sid = self.token(sid.as_bytes());
        self.maybe_blanks();
        self.end_line();
        self.expected.push(format!("SUB {subject} {queue} {sid}"));
    }

    fn unsub_op(&mut self) {
        self.name(b"UNSUB");
        self.blanks();
        let sid = self.rng.below(1000).to_string();
        let sid = self.token(sid.as_bytes());
        let max = if self.rng.chance(2) {
            self.blanks();
            let max = self.rng.below(100).to_string();
            self.token(max.as_bytes())
        } else {
            "-".to_string()
        };
        self.maybe_blanks();
        self.end_line();
        self.expected.push(format!("UNSUB {sid} {max}"));
    }

    fn ping_op(&mut self) {
        self.name(b"PING");
        if self.rng.chance(4) {
            self.wire.extend_from_slice(b" junk\r ");
        }
        self.end_line();
        self.expected.push("PING".to_string());
    }
}

#[test]
fn generated_pub_sub_streams_parse_back_to_what_was_generated() {
    for seed in 1..=300u64 {
        let mut gen = Gen {
            rng: Rng(seed),
            wire: Vec::new(),
            expected: Vec::new(),
        };
        for _ in 0..40 {
            match gen.rng.below(10) {
                0..=3 => gen.pub_op(),
                4 => gen.hpub_op(),
                5..=6 => gen.sub_op(),
                7..=8 => gen.unsub_op(),
                _ => gen.ping_op(),
            }
        }
        let expected = gen.expected.clone();
        assert_eq!(
            parse_chunked(&[&gen.wire], &LIMITS),
            (expected.clone(), None),
            "seed {seed}"
        );
        // The same stream in reads of random sizes.
        let mut chunks = Vec::new();
        let mut rest = &gen.wire[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at((1 + gen.rng.below(64)).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        assert_eq!(
            parse_chunked(&chunks, &LIMITS),
            (expected, None),
            "seed {seed} chunked"
        );
    }
}

/// The straightforward splitter that the chunked one in `split_args` must agree with.
fn naive_split(arg: &[u8], blanks: Blanks) -> Vec<(usize, usize)> {
    let is_blank = |b: u8| match blanks {
        Blanks::SpaceTab => b == b' ' || b == b'\t',
        Blanks::SpaceTabCr => b == b' ' || b == b'\t' || b == b'\r',
    };
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, &b) in arg.iter().enumerate() {
        match (is_blank(b), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                tokens.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        tokens.push((s, arg.len()));
    }
    tokens
}

#[test]
fn split_args_agrees_with_a_byte_loop_across_chunk_edges() {
    let mut rng = Rng(7);
    for len in 0..300 {
        for _ in 0..20 {
            // A prefix, so spans must come out relative to the whole buffer.
            let mut buf = b"PUB ".to_vec();
            buf.extend((0..len).map(|_| b"a\t \r\xa0\x09\x20\x8dZ"[rng.below(9)]));
            let line = Line {
                start: 4,
                end: buf.len(),
                next: buf.len(),
            };
            for blanks in [Blanks::SpaceTab, Blanks::SpaceTabCr] {
                let expected = naive_split(&buf[4..], blanks);
                let (args, count) = split_args::<4>(&buf, &line, blanks);
                assert_eq!(count, expected.len(), "{}", buf.escape_ascii());
                for (arg, &(s, e)) in args.iter().zip(&expected) {
                    assert_eq!((arg.start as usize, arg.end as usize), (s + 4, e + 4));
                }
            }
        }
    }
}

#[test]
fn shifted_ops_point_at_the_same_bytes_of_the_whole_buffer() {
    let whole = b"PING\r\nPUB foo rep 2\r\nhi\r\nHPUB h 2 4\r\nabcd\r\nSUB s q 9\r\nUNSUB 9 3\r\n";
    let mut at = 0;
    let mut seen = Vec::new();
    while at < whole.len() {
        let (op, len) = parse_op(&whole[at..], &LIMITS).unwrap().unwrap();
        let shifted = op.shift(at as u32);
        let direct = |sp: Span| sp.get(&whole[at..]).to_vec();
        let via_whole = |sp: Span| sp.get(whole).to_vec();
        match (op, shifted) {
            (
                Op::Pub {
                    subject,
                    reply,
                    payload,
                    ..
                },
                Op::Pub {
                    subject: s2,
                    reply: r2,
                    payload: p2,
                    ..
                },
            ) => {
                assert_eq!(direct(subject), via_whole(s2));
                assert_eq!(reply.map(direct), r2.map(via_whole));
                assert_eq!(direct(payload), via_whole(p2));
            }
            (Op::Hpub { payload, .. }, Op::Hpub { payload: p2, .. }) => {
                assert_eq!(direct(payload), via_whole(p2));
            }
            (
                Op::Sub { queue, sid, .. },
                Op::Sub {
                    queue: q2, sid: i2, ..
                },
            ) => {
                assert_eq!(queue.map(direct), q2.map(via_whole));
                assert_eq!(direct(sid), via_whole(i2));
            }
            (Op::Unsub { max, .. }, Op::Unsub { max: m2, .. }) => {
                assert_eq!(max.map(direct), m2.map(via_whole));
            }
            (a, b) => assert_eq!(a, b),
        }
        seen.push(at);
        at += len;
    }
    assert_eq!(seen.len(), 5);
}
