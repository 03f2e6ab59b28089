//! `ConsumerConfig` as nats-server 2.15.1 reads and echoes it, the create request around it,
//! and the defaults nats-server fills in (`setConsumerConfigDefaults`).
//!
//! Invariants:
//! - Fields serialise in Go's struct order with its `omitempty` choices, so an echoed config
//!   is byte-comparable with nats-server's; `num_replicas`, `deliver_policy`, `ack_policy` and
//!   `replay_policy` are always written.
//! - Decoding follows Go: `null` leaves the zero value, except for the three policy enums,
//!   whose Go `UnmarshalJSON` refuses `null` (`can not unmarshal "null"`).
//! - Durations are nanoseconds (`_ns`); times keep the offset they came with, because Go
//!   echoes `opt_start_time` in the zone it was given.

use super::super::config::{nullable, StreamConfig, META_LEVEL, META_REQUIRED_LEVEL, META_VERSION};
use super::super::error::ApiError;
use super::super::info::{AccountLimits, UnixNanos};
use super::super::ServerLimits;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// nats-server's default ack wait for explicit and all acks (30s).
pub const ACK_WAIT_DEFAULT_NS: i64 = 30_000_000_000;
/// The inactive threshold an ephemeral gets when it sets none (5s).
pub const EPHEMERAL_INACTIVE_THRESHOLD_NS: i64 = 5_000_000_000;
/// `max_ack_pending` when unset and acks are on.
pub const MAX_ACK_PENDING_DEFAULT: i64 = 1000;
/// `max_waiting` of a pull consumer that sets none (`JSWaitQueueDefaultMax`).
pub const MAX_WAITING_DEFAULT: i64 = 512;
/// `priority_timeout` of a pinned-client consumer that sets none (2m).
pub const PINNED_TTL_DEFAULT_NS: i64 = 120_000_000_000;
/// The heartbeat a flow-control ack policy forces (`sourceHealthHB`, 1s).
pub const FLOW_CONTROL_HEARTBEAT_NS: i64 = 1_000_000_000;

/// A string enum with a fixed JSON form. A value outside it (and `null`) fails with Go's
/// `can not unmarshal %q` of the raw JSON.
macro_rules! policy_enum {
    ($(#[$m:meta])* $name:ident { $first:ident = $ftext:literal $(, $variant:ident = $text:literal)* $(,)? }
     $(alias $alias:literal => $target:ident)?) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
        pub enum $name {
            #[default]
            $first,
            $($variant),*
        }
        impl $name {
            /// The JSON string.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $name::$first => $ftext,
                    $($name::$variant => $text),*
                }
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                let found = v.as_str().and_then(|s| {
                    $(if s == $alias { return Some($name::$target); })?
                    [$name::$first, $($name::$variant),*].into_iter().find(|p| p.as_str() == s)
                });
                found.ok_or_else(|| {
                    de::Error::custom(format!(
                        "can not unmarshal {}",
                        crate::gofmt::quote(&v.to_string())
                    ))
                })
            }
        }
    };
}

policy_enum!(
    /// `deliver_policy`: where a new consumer starts. Go also reads `"undefined"` as `all`.
    DeliverPolicy {
        All = "all",
        Last = "last",
        New = "new",
        ByStartSequence = "by_start_sequence",
        ByStartTime = "by_start_time",
        LastPerSubject = "last_per_subject",
    }
    alias "undefined" => All
);
policy_enum!(
    /// `ack_policy`. `flow_control` is nats-server's internal policy for sourcing consumers.
    AckPolicy { None = "none", All = "all", Explicit = "explicit", FlowControl = "flow_control" }
);
policy_enum!(
    /// `replay_policy`.
    ReplayPolicy { Instant = "instant", Original = "original" }
);

/// `priority_policy`; omitted from the echo when `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum PriorityPolicy {
    #[default]
    None,
    Overflow,
    PinnedClient,
    Prioritized,
}

impl PriorityPolicy {
    const ALL: [PriorityPolicy; 4] = [
        PriorityPolicy::None,
        PriorityPolicy::Overflow,
        PriorityPolicy::PinnedClient,
        PriorityPolicy::Prioritized,
    ];
    /// The JSON string.
    pub fn as_str(&self) -> &'static str {
        match self {
            PriorityPolicy::None => "none",
            PriorityPolicy::Overflow => "overflow",
            PriorityPolicy::PinnedClient => "pinned_client",
            PriorityPolicy::Prioritized => "prioritized",
        }
    }
    fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

impl Serialize for PriorityPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PriorityPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let found = v
            .as_str()
            .and_then(|s| Self::ALL.into_iter().find(|p| p.as_str() == s));
        found.ok_or_else(|| de::Error::custom(format!("unknown priority policy: {v}")))
    }
}

/// A `time.Time` as Go keeps it for JSON: an instant and the UTC offset it was written with.
/// Seconds are kept apart from nanoseconds so Go's zero time (year 1) fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GoTime {
    pub secs: i64,
    pub nanos: u32,
    pub offset_secs: i32,
}

/// Seconds from year 1 to the Unix epoch: Go's zero `time.Time` is at `-ZERO_TIME_SECS`.
const ZERO_TIME_SECS: i64 = 62_135_596_800;

impl GoTime {
    /// Go's zero time, `0001-01-01T00:00:00Z`.
    pub const ZERO: GoTime = GoTime {
        secs: -ZERO_TIME_SECS,
        nanos: 0,
        offset_secs: 0,
    };

    /// A UTC time at `t` Unix nanoseconds.
    pub fn from_unix_nanos(t: UnixNanos) -> GoTime {
        GoTime {
            secs: t.div_euclid(1_000_000_000),
            nanos: t.rem_euclid(1_000_000_000) as u32,
            offset_secs: 0,
        }
    }

    /// Unix nanoseconds, saturating outside i64's range of about 292 years.
    pub fn unix_nanos(&self) -> UnixNanos {
        self.secs
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }

    pub fn is_zero(&self) -> bool {
        self.secs == GoTime::ZERO.secs && self.nanos == 0
    }

    /// The same instant (Go's `Time.Equal`), whatever the offsets.
    pub fn same_instant(&self, other: &GoTime) -> bool {
        self.secs == other.secs && self.nanos == other.nanos
    }

    /// Parses Go's `time.RFC3339` form; the error text is Go's shape.
    pub fn parse(s: &str) -> Result<GoTime, String> {
        let t = DateTime::parse_from_rfc3339(s).map_err(|_| {
            format!(
                "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"",
                crate::gofmt::quote(s),
                crate::gofmt::quote(s)
            )
        })?;
        Ok(GoTime {
            secs: t.timestamp(),
            nanos: t.timestamp_subsec_nanos(),
            offset_secs: t.offset().local_minus_utc(),
        })
    }

    /// Go's `RFC3339Nano` with trailing fraction zeros dropped, `Z` for a zero offset.
    pub fn format(&self) -> String {
        let Some(offset) =
            FixedOffset::east_opt(self.offset_secs).or_else(|| FixedOffset::east_opt(0))
        else {
            return "0001-01-01T00:00:00Z".into();
        };
        let Some(utc) = Utc.timestamp_opt(self.secs, self.nanos).single() else {
            return "0001-01-01T00:00:00Z".into();
        };
        let t = utc.with_timezone(&offset);
        let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        if self.nanos > 0 {
            let frac = format!(".{:09}", self.nanos);
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset_secs == 0 {
            out.push('Z');
        } else {
            out.push_str(&t.format("%:z").to_string());
        }
        out
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.format())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GoTime::parse(&s).map_err(de::Error::custom)
    }
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// A consumer's configuration, field for field in nats-server's order. Durations (`_ns`) are
/// nanoseconds; `-1` means unlimited for `max_deliver` and `max_ack_pending`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerConfig {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub durable_name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub opt_start_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<GoTime>,
    #[serde(default)]
    pub ack_policy: AckPolicy,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "ack_wait"
    )]
    pub ack_wait_ns: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_deliver: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty",
        rename = "backoff"
    )]
    pub backoff_ns: Vec<i64>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter_subject: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filter_subjects: Vec<String>,
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub rate_limit_bps: u64,
    /// A percentage such as `50%` or `50`, kept as text: it is only echoed and checked.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_freq: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_waiting: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_ack_pending: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub flow_control: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
    /// The most messages one pull may ask for (0: no limit).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_batch: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "max_expires"
    )]
    pub max_expires_ns: i64,
    /// The most bytes one pull may ask for (0: no limit).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_bytes: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_subject: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub deliver_group: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "idle_heartbeat"
    )]
    pub idle_heartbeat_ns: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "inactive_threshold"
    )]
    pub inactive_threshold_ns: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub num_replicas: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub mem_storage: bool,
    /// nats-server's internal mirror/source consumers; echoed, not acted on here.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub direct: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub sourcing: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<GoTime>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub priority_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "PriorityPolicy::is_none")]
    pub priority_policy: PriorityPolicy,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "priority_timeout"
    )]
    pub priority_timeout_ns: i64,
}

/// `action` of a create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsumerAction {
    /// `""` (or absent): create, or update an existing consumer.
    #[default]
    CreateOrUpdate,
    /// `"create"`: an existing consumer must have the same config.
    Create,
    /// `"update"`: the consumer must exist.
    Update,
}

impl<'de> Deserialize<'de> for ConsumerAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v.as_str() {
            Some("") => Ok(ConsumerAction::CreateOrUpdate),
            Some("create") => Ok(ConsumerAction::Create),
            Some("update") => Ok(ConsumerAction::Update),
            _ => Err(de::Error::custom(format!("unknown consumer action: {v}"))),
        }
    }
}

/// The body of CONSUMER.CREATE and DURABLE.CREATE.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct CreateConsumerRequest {
    #[serde(default, deserialize_with = "nullable")]
    pub stream_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub config: ConsumerConfig,
    #[serde(default)]
    pub action: ConsumerAction,
    #[serde(default, deserialize_with = "nullable")]
    pub pedantic: bool,
}

impl ConsumerConfig {
    /// A consumer is durable only when `durable_name` is set.
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// Push consumers deliver to `deliver_subject`; the others are pulled.
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// `filter_subject` or `filter_subjects` as one list (nats-server's
    /// `gatherSubjectFilters`): empty means every subject of the stream.
    pub fn filters(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.filter_subjects.iter().map(String::as_str).collect();
        if !self.filter_subject.is_empty() {
            out.push(&self.filter_subject);
        }
        out
    }

    /// The paused-until instant, if one is set and not Go's zero time.
    pub fn pause_until_ns(&self) -> Option<UnixNanos> {
        self.pause_until
            .filter(|t| !t.is_zero())
            .map(|t| t.unix_nanos())
    }

    /// The API level the config needs (`setStaticConsumerMetadata`): 1 for pauses and
    /// priority groups, 4 for the flow-control ack policy.
    pub fn required_api_level(&self) -> u32 {
        let mut level = 0;
        if self.pause_until_ns().is_some() {
            level = 1;
        }
        if !self.priority_policy.is_none()
            || self.priority_timeout_ns != 0
            || !self.priority_groups.is_empty()
        {
            level = 1;
        }
        if self.ack_policy == AckPolicy::FlowControl {
            level = 4;
        }
        level
    }

    /// Drops the response-only metadata and stores `_nats.req.level`, so an echoed config
    /// fed back compares equal.
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(META_LEVEL);
        self.metadata.remove(META_VERSION);
        self.metadata.insert(
            META_REQUIRED_LEVEL.into(),
            self.required_api_level().to_string(),
        );
    }

    /// nats-server's `copyConsumerMetadata`: the versioning key of `prev` in place of ours,
    /// for comparing a request with a stored config.
    pub fn copy_metadata_from(&mut self, prev: &ConsumerConfig) {
        self.metadata.remove(META_LEVEL);
        self.metadata.remove(META_VERSION);
        match prev.metadata.get(META_REQUIRED_LEVEL) {
            Some(v) => {
                self.metadata.insert(META_REQUIRED_LEVEL.into(), v.clone());
            }
            None => {
                self.metadata.remove(META_REQUIRED_LEVEL);
            }
        }
    }

    /// A copy with the response-only metadata added, as CREATE and INFO show it.
    pub fn with_dynamic_metadata(&self, api_level: u32, server_version: &str) -> ConsumerConfig {
        let mut c = self.clone();
        c.metadata.insert(META_LEVEL.into(), api_level.to_string());
        c.metadata
            .insert(META_VERSION.into(), server_version.into());
        c
    }

    /// nats-server's `setConsumerConfigDefaults`: out-of-range values to their "unset" form
    /// (or a pedantic refusal), then the defaults from the stream's consumer limits, the
    /// server's and the account's limits, and nats-server's own.
    pub fn set_defaults(
        &mut self,
        stream: &StreamConfig,
        account: &AccountLimits,
        server: &ServerLimits,
        pedantic: bool,
    ) -> Result<(), ApiError> {
        let refuse = |what: &str| ApiError::Pedantic(what.to_string());
        if self.max_deliver == 0 || self.max_deliver < -1 {
            if pedantic && self.max_deliver < -1 {
                return Err(refuse("max_deliver must be set to -1"));
            }
            self.max_deliver = -1;
        }
        // Below their floor these mean "unset"; pedantic mode refuses them instead.
        let floors: [(&mut i64, i64, &str); 8] = [
            (&mut self.max_waiting, 0, "max_waiting must not be negative"),
            (
                &mut self.max_ack_pending,
                -1,
                "max_ack_pending must be set to -1",
            ),
            (&mut self.max_batch, 0, "max_batch must not be negative"),
            (
                &mut self.max_expires_ns,
                0,
                "max_expires must not be negative",
            ),
            (&mut self.max_bytes, 0, "max_bytes must not be negative"),
            (
                &mut self.idle_heartbeat_ns,
                0,
                "idle_heartbeat must not be negative",
            ),
            (
                &mut self.inactive_threshold_ns,
                0,
                "inactive_threshold must not be negative",
            ),
            (
                &mut self.priority_timeout_ns,
                0,
                "priority_timeout must not be negative",
            ),
        ];
        for (value, floor, text) in floors {
            if *value < floor {
                if pedantic {
                    return Err(refuse(text));
                }
                *value = floor;
            }
        }
        if self.deliver_subject.is_empty() && self.max_waiting == 0 {
            self.max_waiting = MAX_WAITING_DEFAULT;
        }
        if self.ack_wait_ns == 0 && matches!(self.ack_policy, AckPolicy::Explicit | AckPolicy::All)
        {
            self.ack_wait_ns = ACK_WAIT_DEFAULT_NS;
        }
        if let Some(&first) = self.backoff_ns.first() {
            if pedantic && self.ack_wait_ns != first {
                return Err(refuse("first backoff value has to equal batch AckWait"));
            }
            self.ack_wait_ns = first;
        }
        let limits = &stream.consumer_limits;
        if self.max_ack_pending == 0 {
            if pedantic && limits.max_ack_pending > 0 {
                return Err(refuse(
                    "max_ack_pending must be set if it's configured in stream limits",
                ));
            }
            self.max_ack_pending = limits.max_ack_pending;
        }
        if self.inactive_threshold_ns == 0 {
            if pedantic && limits.inactive_threshold > 0 {
                return Err(refuse(
                    "inactive_threshold must be set if it's configured in stream limits",
                ));
            }
            self.inactive_threshold_ns = limits.inactive_threshold;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            let mut pending = MAX_ACK_PENDING_DEFAULT;
            for cap in [server.max_ack_pending, account.max_ack_pending] {
                if cap > 0 && cap < pending {
                    pending = cap;
                }
            }
            self.max_ack_pending = pending;
        }
        if self.deliver_subject.is_empty() && self.max_batch == 0 && server.max_request_batch > 0 {
            if pedantic {
                return Err(refuse(
                    "max_request_batch must be set if it's JetStream limits are set",
                ));
            }
            self.max_batch = server.max_request_batch;
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.priority_timeout_ns == 0 {
            self.priority_timeout_ns = PINNED_TTL_DEFAULT_NS;
        }
        if self.ack_policy == AckPolicy::FlowControl && !pedantic {
            self.flow_control = true;
            self.idle_heartbeat_ns = FLOW_CONTROL_HEARTBEAT_NS;
        }
        Ok(())
    }
}

/// Decodes a create body as nats-server does: an empty body is the zero request.
pub fn decode_create(payload: &[u8]) -> Result<CreateConsumerRequest, ApiError> {
    super::super::config::decode(payload)
}
