//! `StreamConfig` as nats-server 2.15.1 reads and echoes it: every field it accepts, in the
//! order and with the `omitempty` choices of its Go struct, so a config we echo diffs clean
//! against one nats-server echoes (clients compare configs key by key).
//!
//! Invariants:
//! - Decoding is as lenient as Go's `encoding/json` where clients rely on it: unknown fields
//!   are ignored and an explicit `null` means "not set" for every field.
//! - The policy enums refuse a bad value with Go's text (`can not unmarshal "\"x\""`), which
//!   [`decode`] turns into nats-server's 10025 `invalid JSON: ...`.
//! - Durations are `i64` nanoseconds (`*_ns`), as on the wire; the defaults and checks live
//!   in [`super::validate`], not here.

use super::error::ApiError;
use crate::gofmt;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

/// The metadata key nats-server stores with the API level a config needs.
pub const META_REQUIRED_LEVEL: &str = "_nats.req.level";
/// The metadata key with the server's API level, added to responses only.
pub const META_LEVEL: &str = "_nats.level";
/// The metadata key with the server's version, added to responses only.
pub const META_VERSION: &str = "_nats.ver";

/// Decodes a request body the way nats-server does: an empty body is the default value,
/// anything unparsable is 10025 with the reason after `invalid JSON: `.
pub fn decode<T: DeserializeOwned + Default>(payload: &[u8]) -> Result<T, ApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice::<Option<T>>(payload)
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::InvalidJson(json_reason(&e)))
}

/// serde_json's message without its " at line L column C" suffix; Go's texts have none.
fn json_reason(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `null` decodes as the type's default, as Go leaves the zero value in place.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// A string enum whose JSON form is fixed; a bad value fails with Go's `can not unmarshal %q`.
/// The first variant is the default. `fold` matches case-insensitively, as Go does for
/// `discard` only.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident fold $fold:literal {
        $first:ident = $ftext:literal $(, $variant:ident = $text:literal)* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
            fn from_wire(s: &str) -> Option<Self> {
                [$name::$first, $($name::$variant),*]
                    .into_iter()
                    .find(|v| v.as_str() == s || ($fold && v.as_str().eq_ignore_ascii_case(s)))
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
                match &v {
                    serde_json::Value::Null => Ok($name::default()),
                    // Go's persist mode also takes "" for its default.
                    serde_json::Value::String(s) if s.is_empty() && stringify!($name) == "PersistMode" => {
                        Ok($name::default())
                    }
                    serde_json::Value::String(s) => $name::from_wire(s)
                        .ok_or_else(|| de::Error::custom(cannot_unmarshal(&v))),
                    _ => Err(de::Error::custom(cannot_unmarshal(&v))),
                }
            }
        }
    };
}

fn cannot_unmarshal(raw: &serde_json::Value) -> String {
    format!("can not unmarshal {}", gofmt::quote(&raw.to_string()))
}

wire_enum!(
    /// `retention`.
    Retention fold false { Limits = "limits", Interest = "interest", WorkQueue = "workqueue" }
);
wire_enum!(
    /// `discard`; Go lower-cases the value before matching it.
    DiscardPolicy fold true { Old = "old", New = "new" }
);
wire_enum!(
    /// `storage`.
    Storage fold false { File = "file", Memory = "memory" }
);
wire_enum!(
    /// `persist_mode`, omitted from the echo when `default`; `""` reads as `default`.
    PersistMode fold false { Default = "default", Async = "async" }
);

/// `compression`: `none` or `s2`; anything else is Go's `unknown compression algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    S2,
}

impl Serialize for Compression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Compression::None => "none",
            Compression::S2 => "s2",
        })
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("none") => Ok(Compression::None),
            Some("s2") => Ok(Compression::S2),
            Some(_) => Err(de::Error::custom("unknown compression algorithm")),
        }
    }
}

/// `placement`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Placement {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub cluster: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub preferred: String,
}

/// `subject_transform` and the entries of a source's `subject_transforms`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubjectTransform {
    #[serde(default, deserialize_with = "nullable")]
    pub src: String,
    #[serde(default, deserialize_with = "nullable")]
    pub dest: String,
}

/// `republish`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RePublish {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub src: String,
    #[serde(default, deserialize_with = "nullable")]
    pub dest: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
}

/// A source's `external` (another account or domain).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExternalStream {
    #[serde(default, deserialize_with = "nullable")]
    pub api: String,
    #[serde(default, deserialize_with = "nullable")]
    pub deliver: String,
}

/// A source's `consumer` (a named durable used for sourcing).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceConsumer {
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
    pub deliver_subject: String,
}

/// `mirror` and the entries of `sources`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamSource {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub opt_start_seq: u64,
    /// RFC 3339, kept as text: it is only echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
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
    pub subject_transforms: Vec<SubjectTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<SourceConsumer>,
}

impl StreamSource {
    /// nats-server's index name of a local source, `<name> <filters> <destinations>`
    /// (`composeIName`; `>` for an empty one, several joined by a form feed): what tells two
    /// sources of one stream apart and what a copy's `Nats-Stream-Source` header names.
    pub fn index_name(&self) -> String {
        let or_all = |s: &str| {
            if s.is_empty() {
                ">".to_string()
            } else {
                s.to_string()
            }
        };
        let (filters, dests) = if self.subject_transforms.is_empty() {
            (or_all(&self.filter_subject), ">".to_string())
        } else {
            let join = |f: fn(&SubjectTransform) -> &str| {
                let parts: Vec<String> = self
                    .subject_transforms
                    .iter()
                    .map(|t| or_all(f(t)))
                    .collect();
                parts.join("\x0c")
            };
            (join(|t| &t.src), join(|t| &t.dest))
        };
        format!("{} {filters} {dests}", self.name)
    }
}

/// `consumer_limits`: defaults for the stream's consumers. Always echoed, `{}` when empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerLimits {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub inactive_threshold: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_ack_pending: i64,
}

/// The stream configuration, field for field and in the order nats-server 2.15.1 echoes it.
/// `max_age`, `duplicate_window` and `subject_delete_marker_ttl` are nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default, deserialize_with = "nullable")]
    pub max_consumers: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub max_msgs: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub max_bytes: i64,
    #[serde(default, deserialize_with = "nullable", rename = "max_age")]
    pub max_age_ns: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub max_msgs_per_subject: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i32"
    )]
    pub max_msg_size: i32,
    #[serde(default)]
    pub discard: DiscardPolicy,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default, deserialize_with = "nullable")]
    pub num_replicas: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub no_ack: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "duplicate_window"
    )]
    pub duplicate_window_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<StreamSource>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub first_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    #[serde(default, deserialize_with = "nullable")]
    pub allow_direct: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub mirror_direct: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub discard_new_per_subject: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub sealed: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub deny_delete: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub deny_purge: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub allow_rollup_hdrs: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub consumer_limits: ConsumerLimits,
    #[serde(default, deserialize_with = "nullable")]
    pub allow_msg_ttl: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64",
        rename = "subject_delete_marker_ttl"
    )]
    pub subject_delete_marker_ttl_ns: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub allow_msg_counter: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub allow_atomic: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub allow_msg_schedules: bool,
    #[serde(default, skip_serializing_if = "is_default_persist")]
    pub persist_mode: PersistMode,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub allow_batched: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
}

fn is_default_persist(p: &PersistMode) -> bool {
    *p == PersistMode::Default
}

/// The body of STREAM.CREATE / STREAM.UPDATE: a config plus `pedantic`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct StreamConfigRequest {
    #[serde(flatten)]
    pub config: StreamConfig,
    #[serde(default, deserialize_with = "nullable")]
    pub pedantic: bool,
}

impl StreamConfig {
    /// The API level this config needs (nats-server's `setStaticStreamMetadata`): 1 for
    /// per-message TTLs, 2 for counters, atomic batches, schedules and async persist, 4 for
    /// fast batches.
    pub fn required_api_level(&self) -> u32 {
        let mut level = 0;
        if self.allow_msg_ttl || self.subject_delete_marker_ttl_ns > 0 {
            level = 1;
        }
        if self.allow_msg_counter
            || self.allow_atomic
            || self.allow_msg_schedules
            || self.persist_mode == PersistMode::Async
        {
            level = 2;
        }
        if self.allow_batched {
            level = 4;
        }
        level
    }

    /// Replaces the server-owned metadata keys by the stored one: `_nats.req.level` is set
    /// from the config, `_nats.level` and `_nats.ver` (response-only) are dropped, so an
    /// echoed config fed back compares equal.
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(META_LEVEL);
        self.metadata.remove(META_VERSION);
        self.metadata.insert(
            META_REQUIRED_LEVEL.into(),
            self.required_api_level().to_string(),
        );
    }

    /// A copy with the response-only metadata added, as nats-server's INFO and CREATE show it.
    pub fn with_dynamic_metadata(&self, api_level: u32, server_version: &str) -> StreamConfig {
        let mut c = self.clone();
        c.metadata.insert(META_LEVEL.into(), api_level.to_string());
        c.metadata
            .insert(META_VERSION.into(), server_version.into());
        c
    }
}
