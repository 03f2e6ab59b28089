//! Every setting of the STAN core in one place, with nats-streaming-server 0.25.6's defaults
//! and its rules for per-channel limits (`stores/limits.go`): globally 0 means unlimited and a
//! negative value is refused; in a per-channel entry (wildcards allowed) 0 inherits from the
//! nearest wider entry (or the globals) and a negative value means unlimited.

use super::channel::valid_channel;

/// The limits one channel runs with, resolved; 0 = unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelLimits {
    /// `-msu`, `max_subs`: subscription records per channel (offline durables count).
    pub subs_max: u64,
    /// `-mm`, `max_msgs`.
    pub msgs_max: u64,
    /// `-mb`, `max_bytes`: payload bytes (data + reply), as nats-streaming-server counts.
    pub bytes_max: u64,
    /// `-ma`, `max_age`.
    pub age_max_ms: u64,
    /// `-mi`, `max_inactivity`: no active subscription and no message for this long deletes
    /// the channel.
    pub inactivity_max_ms: u64,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        ChannelLimits {
            subs_max: 1000,
            msgs_max: 1_000_000,
            bytes_max: 1_000_000 * 1024,
            age_max_ms: 0,
            inactivity_max_ms: 0,
        }
    }
}

/// A per-channel entry as configured: 0 inherits, negative is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelOverride {
    pub subs_max: i64,
    pub msgs_max: i64,
    pub bytes_max: i64,
    pub age_max_ms: i64,
    pub inactivity_max_ms: i64,
}

/// Why options were refused (nats-streaming-server's start-up texts for the limits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    /// Empty, or not usable as subject tokens (wildcards, spaces, empty tokens).
    InvalidClusterId(String),
    InvalidDiscoverPrefix(String),
    InvalidChannelName(String),
    TooManyLiterals {
        literals: u64,
        channels_max: u64,
    },
}

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionsError::InvalidClusterId(c) => write!(f, "invalid cluster ID {c:?}"),
            OptionsError::InvalidDiscoverPrefix(p) => write!(f, "invalid discover prefix {p:?}"),
            OptionsError::InvalidChannelName(n) => write!(f, "invalid channel name {n:?}"),
            OptionsError::TooManyLiterals {
                literals,
                channels_max,
            } => write!(
                f,
                "too many channels defined ({literals}). The max channels limit is set to {channels_max}"
            ),
        }
    }
}

/// Why a service could not start.
#[derive(Debug)]
pub enum StartError {
    Options(OptionsError),
    /// The store (its state log or a channel) could not be read or written.
    Store(crate::store::StoreError),
    /// The state log was written by a service with another cluster ID.
    ClusterIdMismatch {
        given: String,
        stored: String,
    },
}

impl From<OptionsError> for StartError {
    fn from(e: OptionsError) -> Self {
        StartError::Options(e)
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Options(e) => e.fmt(f),
            StartError::Store(e) => write!(f, "streaming store: {e}"),
            // nats-streaming-server's text.
            StartError::ClusterIdMismatch { given, stored } => write!(
                f,
                "cluster ID {given:?} does not match recovered value of {stored:?}"
            ),
        }
    }
}

impl std::error::Error for StartError {}

/// Store-wide limits and the per-channel overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// `-mc`, `max_channels`; 0 = unlimited.
    pub channels_max: u64,
    pub channel: ChannelLimits,
    /// `store_limits { channels { "foo.*": {...} } }`.
    pub per_channel: Vec<(String, ChannelOverride)>,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            channels_max: 100,
            channel: ChannelLimits::default(),
            per_channel: Vec::new(),
        }
    }
}

impl StoreLimits {
    /// The checks nats-streaming-server makes at start-up.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let mut literals = 0;
        for (name, _) in &self.per_channel {
            if !valid_pattern(name) {
                return Err(OptionsError::InvalidChannelName(name.clone()));
            }
            if valid_channel(name) {
                literals += 1;
                if self.channels_max > 0 && literals > self.channels_max {
                    return Err(OptionsError::TooManyLiterals {
                        literals,
                        channels_max: self.channels_max,
                    });
                }
            }
        }
        Ok(())
    }

    /// The limits of `channel`: the globals, then each matching entry from the widest to the
    /// narrowest, each inheriting what it leaves at 0.
    pub fn for_channel(&self, channel: &str) -> ChannelLimits {
        let mut matching: Vec<&(String, ChannelOverride)> = self
            .per_channel
            .iter()
            .filter(|(p, _)| pattern_matches(p, channel))
            .collect();
        matching.sort_by_key(|(p, _)| specificity(p));
        let mut limits = self.channel;
        for (_, o) in matching {
            limits = ChannelLimits {
                subs_max: inherit(o.subs_max, limits.subs_max),
                msgs_max: inherit(o.msgs_max, limits.msgs_max),
                bytes_max: inherit(o.bytes_max, limits.bytes_max),
                age_max_ms: inherit(o.age_max_ms, limits.age_max_ms),
                inactivity_max_ms: inherit(o.inactivity_max_ms, limits.inactivity_max_ms),
            };
        }
        limits
    }
}

fn inherit(value: i64, parent: u64) -> u64 {
    match value {
        v if v < 0 => 0,
        0 => parent,
        v => v as u64,
    }
}

/// Wider patterns sort first: fewer literal tokens, then a `>` before a `*` at equal count.
fn specificity(pattern: &str) -> (usize, usize, bool) {
    let tokens: Vec<&str> = pattern.split('.').collect();
    let literal = tokens.iter().filter(|t| **t != "*" && **t != ">").count();
    let has_fwc = tokens.last() == Some(&">");
    (literal, tokens.len(), !has_fwc)
}

/// A channel name, or one with `*` tokens and a final `>`.
fn valid_pattern(p: &str) -> bool {
    if p.is_empty() || p.contains('/') {
        return false;
    }
    let tokens: Vec<&str> = p.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| {
        !t.is_empty()
            && match *t {
                "*" => true,
                ">" => i == tokens.len() - 1,
                t => !t.contains('*') && !t.contains('>'),
            }
    })
}

fn pattern_matches(pattern: &str, channel: &str) -> bool {
    let mut p = pattern.split('.');
    let mut c = channel.split('.');
    loop {
        match (p.next(), c.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The STAN service's settings (nats-streaming-server's names in each doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanOptions {
    /// `-cid`, `--cluster_id`.
    pub cluster_id: String,
    /// `discover_prefix`.
    pub discover_prefix: String,
    /// A token unique to this server start (a NUID from the driver), for the inboxes the core
    /// makes: its request replies and the subscriptions' ack inboxes. Over a store with a
    /// state log the ack inboxes keep the token of the store's first start, so clients' acks
    /// still arrive after a restart.
    pub server_token: String,
    /// `-hbi`: how often the server heartbeats each client.
    pub hb_interval_ms: u64,
    /// `-hbt`: how long it waits for each heartbeat's answer.
    pub hb_timeout_ms: u64,
    /// `-hbf`: the client is closed after more failed heartbeats in a row than this.
    pub hb_fail_count: u32,
    /// How long the duplicate-client-ID probe waits (not configurable in the original).
    pub dup_probe_timeout_ms: u64,
    /// natrix: after the NATS connection that connected a client closes, how long the client
    /// may take to come back (a NATS reconnect) before it is probed and then closed.
    pub ghost_grace_ms: u64,
    /// natrix: how long the probe at the end of the grace period waits for an answer.
    pub ghost_probe_timeout_ms: u64,
    /// natrix: the state log is rewritten as one snapshot once the frames appended since the
    /// last snapshot pass both this and the snapshot's size.
    pub state_compact_bytes_min: u64,
    pub limits: StoreLimits,
}

impl StanOptions {
    /// The checks made before a service starts.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let subject_ok = |s: &str| valid_channel(s) && !s.bytes().any(|b| b.is_ascii_whitespace());
        if !subject_ok(&self.cluster_id) {
            return Err(OptionsError::InvalidClusterId(self.cluster_id.clone()));
        }
        if !subject_ok(&self.discover_prefix) {
            return Err(OptionsError::InvalidDiscoverPrefix(
                self.discover_prefix.clone(),
            ));
        }
        if !subject_ok(&self.server_token) || self.server_token.contains('.') {
            return Err(OptionsError::InvalidClusterId(self.server_token.clone()));
        }
        self.limits.validate()
    }
}

impl Default for StanOptions {
    fn default() -> Self {
        StanOptions {
            cluster_id: "test-cluster".into(),
            discover_prefix: "_STAN.discover".into(),
            server_token: "natrix".into(),
            hb_interval_ms: 30_000,
            hb_timeout_ms: 10_000,
            hb_fail_count: 10,
            dup_probe_timeout_ms: 500,
            ghost_grace_ms: 3_000,
            ghost_probe_timeout_ms: 500,
            state_compact_bytes_min: 4 * 1024 * 1024,
            limits: StoreLimits::default(),
        }
    }
}

/// Acks-wait redelivery collects every pending message expiring within this much of now, so
/// that near-simultaneous expiries cost one timer fire (nats-streaming-server: 15 ms).
pub const REDELIVERY_SLACK_MS: u64 = 15;

/// A queue member's pending messages handed to the others on leave get an expiry this far in
/// the past, so they are redelivered at once and sort ahead of the receivers' own.
pub const MOVED_EXPIRY_BACKDATE_MS: u64 = 1_000;
