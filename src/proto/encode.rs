//! Server → client frames, appended to an outbound buffer.
//!
//! Invariants: every frame ends in CRLF; size tokens the publisher sent are copied verbatim
//! (nats-server echoes `PUB foo 002` as `MSG foo 1 002`); a message with headers goes to a
//! subscriber without header support as `MSG` with the header block cut off and its size
//! recomputed.

use bytes::{BufMut, BytesMut};

use super::errors::ClientError;

/// A published message as the encoder needs it: borrowed slices, wherever they live.
#[derive(Clone, Copy, Debug)]
pub struct MsgView<'a> {
    pub subject: &'a [u8],
    /// Empty when the message has no reply subject.
    pub reply: &'a [u8],
    /// PUB: the size token; HPUB: the total-size token.
    pub size_token: &'a [u8],
    /// HPUB: the header-size token; empty for PUB.
    pub hdr_token: &'a [u8],
    /// Headers followed by the body.
    pub payload: &'a [u8],
    /// Length of the header block at the start of `payload`; 0 without headers.
    pub hdr_len: usize,
}

impl MsgView<'_> {
    /// Bytes a subscriber with or without header support is sent, for stats and limits.
    pub fn encoded_len_max(&self, sid_len: usize) -> usize {
        // "HMSG " + subject + sid + reply + two tokens + spaces + CRLFs.
        16 + self.subject.len() + sid_len + self.reply.len() + 2 * 10 + self.payload.len()
    }
}

/// Appends the MSG or HMSG frame that delivers `m` to subscription `sid`.
pub fn msg(out: &mut BytesMut, m: &MsgView<'_>, sid: &[u8], sub_headers: bool) {
    out.reserve(m.encoded_len_max(sid.len()));
    let skip = msg_head(out, m, sid, sub_headers);
    out.put_slice(&m.payload[skip..]);
    out.put_slice(b"\r\n");
}

/// Appends the control line of the frame that delivers `m` to `sid`, CRLF included. The
/// frame goes on with `m.payload[skip..]` (the returned `skip` cuts the header block for a
/// subscriber without header support) and a CRLF: [`msg`] copies them, a caller that queues
/// large payloads without copying adds them itself.
pub fn msg_head(out: &mut BytesMut, m: &MsgView<'_>, sid: &[u8], sub_headers: bool) -> usize {
    let with_headers = m.hdr_len > 0;
    out.put_slice(if with_headers && sub_headers {
        b"HMSG "
    } else {
        b"MSG "
    });
    out.put_slice(m.subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if !m.reply.is_empty() {
        out.put_slice(m.reply);
        out.put_u8(b' ');
    }
    let skip = if with_headers && sub_headers {
        out.put_slice(m.hdr_token);
        out.put_u8(b' ');
        out.put_slice(m.size_token);
        0
    } else if with_headers {
        let body = m.payload.len() - m.hdr_len;
        out.put_slice(itoa::Buffer::new().format(body).as_bytes());
        m.hdr_len
    } else {
        out.put_slice(m.size_token);
        0
    };
    out.put_slice(b"\r\n");
    skip
}

/// Appends the 503 no-responders status nats-server sends to a requester (reference §8):
/// `HMSG <reply> <sid> N N\r\nNATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n\r\n`.
pub fn no_responders(out: &mut BytesMut, reply: &[u8], sid: &[u8], subject: &[u8]) {
    let n = NO_RESPONDERS_HEAD.len() + subject.len() + 4;
    let mut num = itoa::Buffer::new();
    let n = num.format(n).as_bytes();
    out.reserve(no_responders_len_max(reply, sid, subject));
    out.put_slice(b"HMSG ");
    out.put_slice(reply);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    out.put_slice(n);
    out.put_u8(b' ');
    out.put_slice(n);
    out.put_slice(b"\r\n");
    out.put_slice(NO_RESPONDERS_HEAD);
    out.put_slice(subject);
    out.put_slice(b"\r\n\r\n\r\n");
}

const NO_RESPONDERS_HEAD: &[u8] = b"NATS/1.0 503\r\nNats-Subject: ";

/// At least the length of the [`no_responders`] frame for these arguments.
pub fn no_responders_len_max(reply: &[u8], sid: &[u8], subject: &[u8]) -> usize {
    // "HMSG", spaces, CRLFs and two sizes of at most 10 digits each.
    32 + reply.len() + sid.len() + 2 * 10 + NO_RESPONDERS_HEAD.len() + subject.len()
}

const OK: &[u8] = b"+OK\r\n";
const PING: &[u8] = b"PING\r\n";
const PONG: &[u8] = b"PONG\r\n";
/// Lengths of the fixed frames, for callers that reserve room before encoding.
pub const OK_LEN: usize = OK.len();
pub const PING_LEN: usize = PING.len();
pub const PONG_LEN: usize = PONG.len();
/// Room for an `-ERR` line: its texts are short, but some quote a subject.
pub const ERR_LEN_MAX: usize = 512;

pub fn ok(out: &mut BytesMut) {
    out.put_slice(OK);
}

pub fn ping(out: &mut BytesMut) {
    out.put_slice(PING);
}

pub fn pong(out: &mut BytesMut) {
    out.put_slice(PONG);
}

/// `-ERR '<text>'\r\n`.
pub fn err(out: &mut BytesMut, e: &ClientError) {
    use std::fmt::Write;
    struct W<'a>(&'a mut BytesMut);
    impl Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.put_slice(s.as_bytes());
            Ok(())
        }
    }
    out.put_slice(b"-ERR '");
    let _ = write!(W(out), "{e}");
    out.put_slice(b"'\r\n");
}

/// Length of the [`info`] frame for `json`.
pub fn info_len(json: &[u8]) -> usize {
    b"INFO ".len() + json.len() + b" \r\n".len()
}

/// `INFO <json> \r\n`, with the space nats-server puts before the CRLF.
pub fn info(out: &mut BytesMut, json: &[u8]) {
    out.put_slice(b"INFO ");
    out.put_slice(json);
    out.put_slice(b" \r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(payload: &'a [u8], hdr_len: usize, hdr: &'a [u8], size: &'a [u8]) -> MsgView<'a> {
        MsgView {
            subject: b"foo",
            reply: b"",
            size_token: size,
            hdr_token: hdr,
            payload,
            hdr_len,
        }
    }

    #[test]
    fn msg_copies_the_size_token_verbatim() {
        let mut out = BytesMut::new();
        msg(&mut out, &view(b"hi", 0, b"", b"002"), b"1", true);
        assert_eq!(&out[..], b"MSG foo 1 002\r\nhi\r\n");
    }

    #[test]
    fn msg_with_reply() {
        let mut out = BytesMut::new();
        let mut v = view(b"x", 0, b"", b"1");
        v.reply = b"_INBOX.a";
        msg(&mut out, &v, b"sid", false);
        assert_eq!(&out[..], b"MSG foo sid _INBOX.a 1\r\nx\r\n");
    }

    #[test]
    fn hmsg_to_header_subscriber_and_msg_without_headers_to_others() {
        let p = b"NATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!";
        let v = view(p, 22, b"22", b"33");
        let mut out = BytesMut::new();
        msg(&mut out, &v, b"9", true);
        assert_eq!(
            &out[..],
            b"HMSG foo 9 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n"
        );
        out.clear();
        msg(&mut out, &v, b"9", false);
        assert_eq!(&out[..], b"MSG foo 9 11\r\nHello NATS!\r\n");
    }

    #[test]
    fn no_responders_matches_the_reference_bytes() {
        let mut out = BytesMut::new();
        no_responders(&mut out, b"_INBOX.x", b"1", b"nobody");
        assert_eq!(
            &out[..],
            b"HMSG _INBOX.x 1 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\n"
        );
    }

    #[test]
    fn err_quotes_the_text() {
        let mut out = BytesMut::new();
        err(&mut out, &ClientError::UnknownOp);
        assert_eq!(&out[..], b"-ERR 'Unknown Protocol Operation'\r\n");
    }
}
