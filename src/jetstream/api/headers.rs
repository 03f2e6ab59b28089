//! The NATS header block (`NATS/1.0[ <code>[ <description>]]\r\nK: V\r\n...\r\n\r\n`): a
//! borrowing parser for the publish checks, and the writers for the header blocks the API
//! sends (direct-get replies and status messages).
//!
//! Invariants: parsing never panics and never allocates beyond the entry list; a block that
//! does not start with `NATS/1.0` or lacks its CRLFs is an error, not a guess. Keys are
//! matched exactly (case-sensitive), as nats-server's `getHeader` does; values are trimmed of
//! surrounding spaces and tabs as Go's textproto does.

/// Why a header block was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The block does not start with `NATS/1.0`.
    BadVersion,
    /// The block does not end with an empty line.
    Unterminated,
    /// A line has no `:`.
    BadLine,
    /// The block is not UTF-8.
    NotUtf8,
}

/// A parsed header block; the entries borrow from it, in order, duplicates kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers<'a> {
    /// The status code after `NATS/1.0`, if any.
    pub status: Option<u16>,
    /// The text after the status code.
    pub description: &'a str,
    pub entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Headers<'a> {
    /// Parses a whole header block, including its final empty line.
    pub fn parse(block: &'a [u8]) -> Result<Headers<'a>, HeaderError> {
        let text = std::str::from_utf8(block).map_err(|_| HeaderError::NotUtf8)?;
        let body = text
            .strip_suffix("\r\n\r\n")
            .ok_or(HeaderError::Unterminated)?;
        let mut lines = body.split("\r\n");
        let first = lines.next().unwrap_or("");
        let rest = first
            .strip_prefix("NATS/1.0")
            .ok_or(HeaderError::BadVersion)?;
        let mut h = Headers::default();
        let rest = rest.trim_start_matches(' ');
        if !rest.is_empty() {
            let (code, desc) = rest.split_once(' ').unwrap_or((rest, ""));
            h.status = Some(code.parse().map_err(|_| HeaderError::BadVersion)?);
            h.description = desc.trim();
        }
        for line in lines {
            let (k, v) = line.split_once(':').ok_or(HeaderError::BadLine)?;
            h.entries
                .push((k, v.trim_matches(|c| c == ' ' || c == '\t')));
        }
        Ok(h)
    }

    /// The first value of `key`, exact match.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

/// `NATS/1.0 <code> <description>\r\n\r\n`: a status message's header block.
pub fn status_block(code: u16, description: &str) -> Vec<u8> {
    format!("NATS/1.0 {code} {description}\r\n\r\n").into_bytes()
}

/// The header block of a direct-get reply: the stored headers (if any) and then
/// `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`, as nats-server orders
/// them. `stored` is the message's own block as stored (`NATS/1.0\r\n...\r\n\r\n`) or empty.
pub fn direct_get_block(
    stored: &[u8],
    stream: &str,
    subject: &str,
    seq: u64,
    time: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len() + 128);
    out.extend_from_slice(b"NATS/1.0\r\n");
    // Keep the stored lines between the version line and the final empty line, untouched.
    if let Some(pos) = stored.windows(2).position(|w| w == b"\r\n") {
        let lines = &stored[pos + 2..];
        let lines = lines.strip_suffix(b"\r\n").unwrap_or(lines);
        out.extend_from_slice(lines);
    }
    for (k, v) in [
        ("Nats-Stream", stream),
        ("Nats-Subject", subject),
        ("Nats-Sequence", &seq.to_string()),
        ("Nats-Time-Stamp", time),
    ] {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}
