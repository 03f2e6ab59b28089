//! The HTTP/1.1 framing of the monitoring port, sans-io: request heads in (via `httparse`),
//! response bytes out. The driver owns the socket; it feeds [`parse_request`] the bytes read
//! so far and writes what [`encode_response`] returns.
//!
//! Keep-alive: HTTP/1.1 connections stay open unless the client sends `Connection: close`;
//! HTTP/1.0 ones close unless it sends `Connection: keep-alive` (what Go's net/http does).
//! A request with a body is read past by its `Content-Length`; chunked bodies are refused.
//!
//! Headers as nats-server sends them: a JSON answer carries `Content-Type: application/json`
//! and `Access-Control-Allow-Origin: *`; a 400 only `Content-Type: text/plain;
//! charset=utf-8`; a 404 also `X-Content-Type-Options: nosniff`; all carry `Date` and
//! `Content-Length`, except a 204 (`/streaming/isFTActive`), which has neither a type nor a
//! length.

use std::fmt;
use std::time::SystemTime;

use super::Response;
use crate::gofmt;

/// Longest request head (request line and headers) accepted.
pub const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;
/// Largest request body read past; monitoring requests have none.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;
/// Most headers one request may carry.
pub const REQUEST_HEADERS_MAX: usize = 64;

/// One parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query, still percent-encoded.
    pub path: String,
    /// What follows `?`, or "".
    pub query: String,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
}

/// Why a request cannot be answered; the driver writes [`HttpError::response`] and closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Not HTTP/1.x, or a malformed head.
    Malformed(String),
    /// The head is longer than [`REQUEST_HEAD_BYTES_MAX`] or has too many headers.
    HeadTooLarge,
    /// A body longer than [`REQUEST_BODY_BYTES_MAX`], or a bad `Content-Length`.
    BadBody,
    /// `Transfer-Encoding` bodies are not read.
    Unsupported,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Malformed(e) => write!(f, "malformed request: {e}"),
            HttpError::HeadTooLarge => f.write_str("request head too large"),
            HttpError::BadBody => f.write_str("bad or too large request body"),
            HttpError::Unsupported => f.write_str("transfer-encoding not supported"),
        }
    }
}

impl std::error::Error for HttpError {}

impl HttpError {
    /// The bytes to send before closing, as Go's net/http answers a bad request.
    pub fn response(&self) -> Vec<u8> {
        let status = match self {
            HttpError::HeadTooLarge => "431 Request Header Fields Too Large",
            HttpError::Unsupported => "501 Not Implemented",
            HttpError::Malformed(_) | HttpError::BadBody => "400 Bad Request",
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Connection: close\r\n\r\n{status}"
        )
        .into_bytes()
    }
}

/// Parses one request from the start of `buf`. `Ok(None)`: more bytes are needed.
/// `Ok(Some((req, n)))`: the request and the bytes it used (head and body), so pipelined
/// requests can follow in `buf[n..]`.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; REQUEST_HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > REQUEST_HEAD_BYTES_MAX => {
            return Err(HttpError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(e) => return Err(HttpError::Malformed(e.to_string())),
    };
    if head_len > REQUEST_HEAD_BYTES_MAX {
        return Err(HttpError::HeadTooLarge);
    }
    let http11 = req.version == Some(1);
    let mut keep_alive = http11;
    let mut body_len = 0usize;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            let v = String::from_utf8_lossy(h.value);
            for token in v.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|&n| n <= REQUEST_BODY_BYTES_MAX)
                .ok_or(HttpError::BadBody)?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::Unsupported);
        }
    }
    let total = head_len + body_len;
    if buf.len() < total {
        return Ok(None);
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Go ignores a fragment; clients should not send one, but drop it the same way.
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let request = Request {
        method: req.method.unwrap_or("GET").to_string(),
        path: path.to_string(),
        query: query.to_string(),
        keep_alive,
    };
    Ok(Some((request, total)))
}

/// The whole HTTP/1.1 response for `resp`: status line, headers, body. `date` is the clock
/// reading for the `Date` header; `keep_alive` false adds `Connection: close`.
pub fn encode_response(resp: &Response, date: SystemTime, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(resp.body.len() + 256);
    let head = format!(
        "HTTP/1.1 {} {}\r\n",
        resp.status,
        reason_phrase(resp.status)
    );
    out.extend_from_slice(head.as_bytes());
    let mut header = |name: &str, value: &str| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    if resp.content_type == super::CONTENT_TYPE_JSON {
        header("Access-Control-Allow-Origin", "*");
    }
    if !resp.content_type.is_empty() {
        header("Content-Type", resp.content_type);
    }
    if resp.status == 404 {
        header("X-Content-Type-Options", "nosniff");
    }
    header("Date", &gofmt::http_date(date));
    // A 204 carries no body and, as Go's net/http sends it, no length.
    if resp.status != 204 {
        header("Content-Length", &resp.body.len().to_string());
    }
    if !keep_alive {
        header("Connection", "close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&resp.body);
    out
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn parses_path_query_and_keep_alive() {
        let raw = b"GET /connz?subs=1&sort=cid HTTP/1.1\r\nHost: x\r\n\r\nGET /varz HTTP/1.1\r\n";
        let (req, n) = parse_request(raw).unwrap().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/connz");
        assert_eq!(req.query, "subs=1&sort=cid");
        assert!(req.keep_alive);
        assert_eq!(&raw[n..], b"GET /varz HTTP/1.1\r\n");
        assert_eq!(parse_request(&raw[n..]), Ok(None));
    }

    #[test]
    fn connection_header_and_version_decide_keep_alive() {
        let close = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert!(!parse_request(close).unwrap().unwrap().0.keep_alive);
        let old = b"GET / HTTP/1.0\r\n\r\n";
        assert!(!parse_request(old).unwrap().unwrap().0.keep_alive);
        let old_ka = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
        assert!(parse_request(old_ka).unwrap().unwrap().0.keep_alive);
    }

    #[test]
    fn split_at_every_byte_needs_more_then_parses() {
        let raw = b"POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        for i in 0..raw.len() {
            assert_eq!(parse_request(&raw[..i]), Ok(None), "split at {i}");
        }
        let (req, n) = parse_request(raw).unwrap().unwrap();
        assert_eq!((req.path.as_str(), n), ("/healthz", raw.len()));
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(matches!(
            parse_request(b"\x01\x02 / HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        let chunked = b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_request(chunked), Err(HttpError::Unsupported));
        let big = b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(parse_request(big), Err(HttpError::BadBody));
        let long = [b'a'; REQUEST_HEAD_BYTES_MAX + 1];
        assert_eq!(parse_request(&long), Err(HttpError::HeadTooLarge));
        assert!(HttpError::BadBody
            .response()
            .starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn encodes_headers_like_nats_server() {
        let date = UNIX_EPOCH + Duration::from_secs(1_795_423_130);
        let json = Response::json(b"{}".to_vec());
        let text = String::from_utf8(encode_response(&json, date, true)).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: \
             application/json\r\nDate: Mon, 23 Nov 2026 08:38:50 GMT\r\nContent-Length: 2\r\n\
             \r\n{}"
        );
        let text = String::from_utf8(encode_response(&Response::not_found(), date, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"));
        assert!(
            text.ends_with("Content-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n")
        );
    }
}
