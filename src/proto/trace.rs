//! `-V` traces in nats-server's words, sans-io: the caller logs the lines with the client's
//! prefix.
//!
//! - An op from the client: `<<- [PUB a r 2]` (the op name in capitals, the rest of the line
//!   as sent); a CONNECT's secrets are replaced in the text as sent, see [`redact_connect`].
//! - An op to the client: `->> [PONG]`, `->> [OK]`, `->> [-ERR text]`, `->> [MSG a 1 2]`.
//! - A message's payload, both ways: `<<- MSG_PAYLOAD: ["hi"]`, Go-quoted, cut after
//!   `max_traced_msg_len` bytes with `...` (0: whole).
//! - A subscription ends: `<-> [DELSUB 1]`.

use crate::gofmt::quote_bytes;
use crate::proto::parser::Op;

/// Which way an op went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
    /// Neither: the server's own bookkeeping (DELSUB).
    Internal,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::In => "<<-",
            Dir::Out => "->>",
            Dir::Internal => "<->",
        }
    }
}

/// `->> [text]`.
pub fn op(dir: Dir, text: &str) -> String {
    format!("{} [{text}]", dir.arrow())
}

/// The trace of an op the client sent: `line` is its control line without the CRLF.
pub fn inbound(op: &Op, line: &[u8]) -> String {
    let name = match op {
        Op::Info { .. } => "INFO",
        Op::Connect { .. } => "CONNECT",
        Op::Pub { .. } => "PUB",
        Op::Hpub { .. } => "HPUB",
        Op::Sub { .. } => "SUB",
        Op::Unsub { .. } => "UNSUB",
        Op::Ping => "PING",
        Op::Pong => "PONG",
        Op::Ok => "OK",
        Op::Err => "-ERR",
    };
    // The arguments: what follows the op name and the blanks after it.
    let args = line
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .map(|i| &line[i..])
        .unwrap_or_default();
    let args = match args.iter().position(|b| *b != b' ' && *b != b'\t') {
        Some(i) => String::from_utf8_lossy(&args[i..]),
        None => return self::op(Dir::In, name),
    };
    let args = match op {
        Op::Connect { .. } => redact_connect(&args).into(),
        _ => args,
    };
    self::op(Dir::In, &format!("{name} {args}"))
}

/// `<<- MSG_PAYLOAD: ["..."]`: the payload (headers included) Go-quoted, at most
/// `max_len_bytes` of it when that is above 0.
pub fn payload(dir: Dir, payload: &[u8], max_len_bytes: usize) -> String {
    let quoted = if max_len_bytes > 0 && payload.len() > max_len_bytes {
        let q = quote_bytes(&payload[..max_len_bytes]);
        format!("{}...\"", &q[..q.len() - 1])
    } else {
        quote_bytes(payload)
    };
    format!("{} MSG_PAYLOAD: [{quoted}]", dir.arrow())
}

/// Keys whose values nats-server hides in a traced CONNECT (`jwt` is shown: it is signed,
/// not secret).
const SECRET_KEYS: [&str; 4] = ["pass", "auth_token", "sig", "nkey"];

/// CONNECT's JSON as the client sent it, with the value of each secret key replaced by
/// `"[REDACTED]"` (a string) or `[REDACTED]` (anything else), as nats-server traces it.
/// Keys are matched after JSON unescaping and without regard to case, since the CONNECT
/// decoder reads them that way too; a value that never ends hides the rest of the text.
pub fn redact_connect(json: &str) -> String {
    let b = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = string_end(b, i);
        let mut j = skip_blanks(b, end);
        if j < b.len() && b[j] == b':' && is_secret_key(&json[i..end]) {
            j = skip_blanks(b, j + 1);
            out.push_str(&json[copied..j]);
            out.push_str(if b.get(j) == Some(&b'"') {
                "\"[REDACTED]\""
            } else {
                "[REDACTED]"
            });
            copied = value_end(b, j);
            i = copied;
        } else {
            i = end;
        }
    }
    out.push_str(&json[copied..]);
    out
}

fn is_secret_key(token: &str) -> bool {
    serde_json::from_str::<String>(token)
        .is_ok_and(|k| SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)))
}

/// The index after the string that opens at `start`, or the end of the text.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The index after the JSON value that starts at `start` (a string, or anything up to the
/// `,` or closing bracket at its own level), or the end of the text.
fn value_end(b: &[u8], start: usize) -> usize {
    if b.get(start) == Some(&b'"') {
        return string_end(b, start);
    }
    let (mut i, mut depth) = (start, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::parser::Span;

    #[test]
    fn connect_is_traced_as_sent_with_the_secrets_nats_server_hides() {
        // nats-server 2.15.1 traced this CONNECT as below.
        let sent = r#"{"verbose":false,"user":"a","pass":"b","auth_token":null,"jwt":"eyJ","sig":"sss","nkey":"UAB","name":"n\u0041"}"#;
        let want = r#"{"verbose":false,"user":"a","pass":"[REDACTED]","auth_token":[REDACTED],"jwt":"eyJ","sig":"[REDACTED]","nkey":"[REDACTED]","name":"n\u0041"}"#;
        assert_eq!(redact_connect(sent), want);
        assert_eq!(
            redact_connect(r#"{"pass":"zz", "user" : "a","auth_token":"tok"}"#),
            r#"{"pass":"[REDACTED]", "user" : "a","auth_token":"[REDACTED]"}"#
        );
    }

    #[test]
    fn no_spelling_of_a_secret_key_lets_the_secret_through() {
        for sent in [
            r#"{"PASS":"s3cret"}"#,
            r#"{"p\u0061ss":"s3cret"}"#,
            r#"{"pass" : "s3\"cret"}"#,
            r#"{"auth_token":{"x":["s3cret"]},"user":"u"}"#,
            r#"{"pass":"s3cret"#,
            r#"{"opts":{"pass":"s3cret"}}"#,
        ] {
            let got = redact_connect(sent);
            assert!(!got.contains("s3"), "{sent} -> {got}");
            assert!(got.contains("[REDACTED]"), "{sent} -> {got}");
        }
        // A secret-looking string that is not a key stays.
        assert_eq!(
            redact_connect(r#"{"name":"pass","x":["pass","y"]}"#),
            r#"{"name":"pass","x":["pass","y"]}"#
        );
        assert_eq!(
            redact_connect(r#"{"auth_token":{"x":1},"user":"u"}"#),
            r#"{"auth_token":[REDACTED],"user":"u"}"#
        );
    }

    #[test]
    fn inbound_ops_name_the_op_in_capitals_and_keep_the_arguments_as_sent() {
        let sub = Op::Sub {
            subject: Span { start: 0, end: 0 },
            queue: None,
            sid: Span { start: 0, end: 0 },
        };
        assert_eq!(inbound(&sub, b"sub x 1 "), "<<- [SUB x 1 ]");
        assert_eq!(inbound(&Op::Ping, b"ping"), "<<- [PING]");
        let connect = Op::Connect {
            json: Span { start: 0, end: 0 },
        };
        assert_eq!(
            inbound(&connect, br#"CONNECT  {"pass":"x"}"#),
            r#"<<- [CONNECT {"pass":"[REDACTED]"}]"#
        );
    }

    #[test]
    fn payloads_are_go_quoted_and_cut_after_the_limit() {
        assert_eq!(
            payload(Dir::In, b"NATS/1.0\r\n\r\nhi", 0),
            r#"<<- MSG_PAYLOAD: ["NATS/1.0\r\n\r\nhi"]"#
        );
        // As nats-server 2.15.1 traces with max_traced_msg_len 3.
        assert_eq!(
            payload(Dir::Out, b"\x01bcdef", 3),
            r#"->> MSG_PAYLOAD: ["\x01bc..."]"#
        );
        assert_eq!(payload(Dir::In, b"abc", 3), r#"<<- MSG_PAYLOAD: ["abc"]"#);
        assert_eq!(op(Dir::Internal, "DELSUB 1"), "<-> [DELSUB 1]");
    }
}
