//! Query strings of the monitoring endpoints: decoding as Go's `url.ParseQuery` does, and the
//! typed options of each endpoint with nats-server's exact 400 texts ([`QueryError`]).
//!
//! Rules kept from nats-server: parameters are read in the order its handlers read them, so
//! the first bad one named is the one it names; an empty value means "not given"; booleans are
//! Go's `strconv.ParseBool`; a repeated key counts once (the first value).

use std::fmt;

use crate::gofmt::quote;
use crate::subject;

/// Connections and subscriptions one page holds when `limit` is not given (nats-server's
/// `DefaultConnListSize` and `DefaultSubListSize`).
pub const LIST_LIMIT_DEFAULT: usize = 1024;

/// The decoded pairs of one query string, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `a=1&b=x%20y`. Like Go, it drops a pair holding `;` or a bad `%` escape
    /// instead of failing, and turns `+` into a space. Bytes that are not UTF-8 become U+FFFD.
    pub fn parse(raw: &str) -> Query {
        let mut pairs = Vec::new();
        for part in raw.split('&') {
            if part.is_empty() || part.contains(';') {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if let (Some(k), Some(v)) = (unescape(k), unescape(v)) {
                pairs.push((k, v));
            }
        }
        Query { pairs }
    }

    /// The first value of `key`, or "" (Go's `Values.Get`).
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    fn bool(&self, key: &'static str) -> Result<bool, QueryError> {
        let v = self.get(key);
        match v {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err(QueryError::Bool(key, v.into())),
        }
    }

    /// Go's `strconv.Atoi` on a 64-bit machine; "" gives 0.
    fn int(&self, key: &'static str) -> Result<i64, QueryError> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QueryError::Int(key, v.into(), NumError::Syntax));
        }
        v.parse::<i64>()
            .map_err(|_| QueryError::Int(key, v.into(), NumError::Range))
    }

    /// Go's `strconv.ParseUint(v, 10, 64)`; "" gives 0.
    fn uint64(&self, key: &'static str) -> Result<u64, QueryError> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        if !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QueryError::Uint64(key, v.into(), NumError::Syntax));
        }
        v.parse::<u64>()
            .map_err(|_| QueryError::Uint64(key, v.into(), NumError::Range))
    }

    /// `subs=detail` (any case) or a boolean.
    fn subs(&self) -> Result<SubsMode, QueryError> {
        if self.get("subs").eq_ignore_ascii_case("detail") {
            return Ok(SubsMode::Detail);
        }
        Ok(if self.bool("subs")? {
            SubsMode::List
        } else {
            SubsMode::None
        })
    }

    fn offset_limit(&self) -> Result<(usize, usize), QueryError> {
        let offset = self.int("offset")?.max(0) as usize;
        let limit = match self.int("limit")? {
            l if l <= 0 => LIST_LIMIT_DEFAULT,
            l => usize::try_from(l).unwrap_or(usize::MAX),
        };
        Ok((offset, limit))
    }
}

/// `%XX` and `+` decoding; `None` for a bad escape.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A bad parameter; `Display` is nats-server's 400 body, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    Bool(&'static str, String),
    Int(&'static str, String, NumError),
    Uint64(&'static str, String, NumError),
    State(String),
    Sort(String),
    /// `stop` or `reason` asked for without `state=closed`.
    SortNeedsClosed(&'static str),
    TestSubject(String),
    NoAccount(String),
}

/// Why Go's number parsing failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    Syntax,
    Range,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumError::Syntax => "invalid syntax",
            NumError::Range => "value out of range",
        })
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Bool(k, v) => write!(
                f,
                "Error decoding boolean for '{k}': strconv.ParseBool: parsing {}: invalid syntax",
                quote(v)
            ),
            QueryError::Int(k, v, e) => write!(
                f,
                "Error decoding int for '{k}': strconv.Atoi: parsing {}: {e}",
                quote(v)
            ),
            QueryError::Uint64(k, v, e) => write!(
                f,
                "Error decoding uint64 for '{k}': strconv.ParseUint: parsing {}: {e}",
                quote(v)
            ),
            QueryError::State(v) => write!(f, "Error decoding state for {v}"),
            QueryError::Sort(v) => write!(f, "invalid sorting option: {v}"),
            QueryError::SortNeedsClosed(k) => {
                write!(f, "sort by {k} only valid on closed connections")
            }
            QueryError::TestSubject(v) => {
                write!(
                    f,
                    "invalid test subject, must be valid publish subject: {v}"
                )
            }
            QueryError::NoAccount(v) => write!(f, "Account {v} does not exist"),
        }
    }
}

impl std::error::Error for QueryError {}

/// Which subscriptions `/connz` lists per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubsMode {
    None,
    /// `subscriptions_list`: subjects only.
    List,
    /// `subscriptions_list_detail`: objects.
    Detail,
}

/// Which connections `/connz` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    Open,
    Closed,
    All,
}

/// `/connz?sort=`. Only `Cid` and `Start` (the same order) and `Uptime` and `Reason` are
/// ascending; the rest list the largest first, as in nats-server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortKey {
    /// Every key with its query name.
    pub const ALL: [(&'static str, SortKey); 14] = [
        ("cid", SortKey::Cid),
        ("start", SortKey::Start),
        ("subs", SortKey::Subs),
        ("pending", SortKey::Pending),
        ("msgs_to", SortKey::MsgsTo),
        ("msgs_from", SortKey::MsgsFrom),
        ("bytes_to", SortKey::BytesTo),
        ("bytes_from", SortKey::BytesFrom),
        ("last", SortKey::Last),
        ("idle", SortKey::Idle),
        ("uptime", SortKey::Uptime),
        ("stop", SortKey::Stop),
        ("reason", SortKey::Reason),
        ("rtt", SortKey::Rtt),
    ];

    /// The key named `s` (case-sensitive); "" is `Cid`.
    pub fn parse(s: &str) -> Option<SortKey> {
        if s.is_empty() {
            return Some(SortKey::Cid);
        }
        SortKey::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }
}

/// The options of `/connz`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnzOptions {
    pub sort: SortKey,
    /// `auth`: include `authorized_user`, `account`, `name_tag`.
    pub auth: bool,
    pub subs: SubsMode,
    pub offset: usize,
    /// 1 when `cid` is given.
    pub limit: usize,
    pub cid: Option<u64>,
    pub state: ConnState,
    /// Filters by authorized user; "" = all.
    pub user: String,
    /// Filters by account; "" = all.
    pub acc: String,
}

/// Parses `/connz` options in nats-server's order: auth, subs, offset, limit, cid, state,
/// then the sort key and whether it fits the state.
pub fn connz(q: &Query) -> Result<ConnzOptions, QueryError> {
    let auth = q.bool("auth")?;
    let subs = q.subs()?;
    let (offset, mut limit) = q.offset_limit()?;
    let cid = q.uint64("cid")?;
    let state = match q.get("state").to_ascii_lowercase().as_str() {
        "" | "open" => ConnState::Open,
        "closed" => ConnState::Closed,
        "any" | "all" => ConnState::All,
        _ => return Err(QueryError::State(q.get("state").into())),
    };
    let sort = q.get("sort");
    let sort = SortKey::parse(sort).ok_or_else(|| QueryError::Sort(sort.into()))?;
    match sort {
        SortKey::Stop if state != ConnState::Closed => {
            return Err(QueryError::SortNeedsClosed("stop"))
        }
        SortKey::Reason if state != ConnState::Closed => {
            return Err(QueryError::SortNeedsClosed("reason"))
        }
        _ => {}
    }
    let cid = (cid > 0).then_some(cid);
    if cid.is_some() {
        limit = 1;
    }
    Ok(ConnzOptions {
        sort,
        auth,
        subs,
        offset,
        limit,
        cid,
        state,
        user: q.get("user").into(),
        acc: q.get("acc").into(),
    })
}

/// The options of `/subsz`.
#[derive(Clone, Debug, PartialEq)]
pub struct SubszOptions {
    /// `subs`: list the subscriptions.
    pub subs: bool,
    pub offset: usize,
    pub limit: usize,
    /// `test`: keep only subscriptions a message on this literal subject would reach.
    pub test: Option<String>,
    /// Filters by account; "" = all.
    pub acc: String,
}

/// Parses `/subsz` options: subs, offset, limit, then checks `test`.
pub fn subsz(q: &Query) -> Result<SubszOptions, QueryError> {
    let subs = q.bool("subs")?;
    let (offset, limit) = q.offset_limit()?;
    let test = match q.get("test") {
        "" => None,
        // Go's IsValidLiteralSubject also refuses white space in a token.
        t if subject::is_valid_publish_subject(t.as_bytes())
            && !t.contains([' ', '\t', '\n', '\r', '\x0c']) =>
        {
            Some(t.to_string())
        }
        t => return Err(QueryError::TestSubject(t.into())),
    };
    Ok(SubszOptions {
        subs,
        offset,
        limit,
        test,
        acc: q.get("acc").into(),
    })
}

/// `/routez`: only checks `subs` (there are no routes to list).
pub fn routez(q: &Query) -> Result<(), QueryError> {
    q.subs().map(drop)
}

/// `/gatewayz`: checks `subs` and `accs`.
pub fn gatewayz(q: &Query) -> Result<(), QueryError> {
    q.subs()?;
    q.bool("accs").map(drop)
}

/// `/leafz`: checks `subs`.
pub fn leafz(q: &Query) -> Result<(), QueryError> {
    q.bool("subs").map(drop)
}

/// `/healthz`: checks its booleans; with JetStream off every check passes.
pub fn healthz(q: &Query) -> Result<(), QueryError> {
    for k in [
        "js-enabled",
        "js-enabled-only",
        "js-server-only",
        "js-meta-only",
        "details",
    ] {
        q.bool(k)?;
    }
    Ok(())
}

/// The options of `/jsz`, with nats-server's implications applied (`consumers` lists
/// streams; `streams` without `acc` lists accounts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JszOptions {
    /// `acc`: list this account alone; "" = none chosen.
    pub acc: String,
    pub accounts: bool,
    pub streams: bool,
    pub consumers: bool,
    /// Show each stream's and consumer's config.
    pub config: bool,
    pub offset: usize,
    /// Accounts listed at most (0 given: 1024; negative: all).
    pub limit: usize,
    pub leader_only: bool,
}

/// `/jsz`: parses its parameters in nats-server's order.
pub fn jsz(q: &Query) -> Result<JszOptions, QueryError> {
    let accounts = q.bool("accounts")?;
    let streams = q.bool("streams")?;
    let consumers = q.bool("consumers")?;
    q.bool("direct-consumers")?;
    let config = q.bool("config")?;
    let offset = q.int("offset")?.max(0);
    let limit = match q.int("limit")? {
        0 => LIST_LIMIT_DEFAULT,
        l if l < 0 => usize::MAX,
        l => usize::try_from(l).unwrap_or(usize::MAX),
    };
    let leader_only = q.bool("leader-only")?;
    for k in ["raft", "stream-leader-only"] {
        q.bool(k)?;
    }
    let acc = q.get("acc").to_string();
    let streams = streams || consumers;
    Ok(JszOptions {
        accounts: accounts || (streams && acc.is_empty()),
        acc,
        streams,
        consumers,
        config,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        limit,
        leader_only,
    })
}

/// `/accountz?acc=`: the account asked for, if any.
pub fn accountz(q: &Query) -> Option<String> {
    Some(q.get("acc"))
        .filter(|a| !a.is_empty())
        .map(String::from)
}
