//! The `streaming { ... }` block of nats-streaming-server's config file: `cluster_id` (also
//! `id`, `cid`), `discover_prefix`, `store`, `dir`, `hb_interval`, `hb_timeout`,
//! `hb_fail_count` and `store_limits { max_channels, max_subs, max_msgs, max_bytes, max_age,
//! max_inactivity, channels { "<name or wildcard>": { the same keys } } }` and `file_options`
//! (also `file`) `{ sync_on_flush }` (also `sync`, `do_sync`; its other keys are accepted and
//! ignored). Clustering, partitioning, SQL and encryption are refused as not supported.

use super::{millis, Block, SettingErrorKind, Settings};
use crate::conf::{Entry, Kind};
use crate::config::{ChannelLimitsConfig, StreamingOptions};

impl Settings<'_> {
    pub(super) fn streaming(&mut self, e: &Entry) {
        let Kind::Map(m) = &e.value.kind else {
            return self.wrong_type(e, "a map");
        };
        let mut o = self.opts.streaming.clone().unwrap_or_default();
        for k in m {
            match k.key.to_ascii_lowercase().as_str() {
                "cluster_id" | "id" | "cid" => {
                    if let Some(s) = self.string(k) {
                        o.cluster_id = s;
                    }
                }
                "discover_prefix" => {
                    if let Some(s) = self.string(k) {
                        o.discover_prefix = s;
                    }
                }
                "store" | "store_type" | "st" => {
                    if let Some(s) = self.string(k) {
                        match s.to_ascii_lowercase().as_str() {
                            "memory" => o.file_store = false,
                            "file" => o.file_store = true,
                            _ => self.not_supported_error(k),
                        }
                    }
                }
                "dir" | "datastore" => o.dir = self.string(k).map(Into::into),
                "hb_interval" | "hbi" => {
                    if let Some(d) = self.duration_or_seconds(k) {
                        o.hb_interval_ms = millis(d);
                    }
                }
                "hb_timeout" | "hbt" => {
                    if let Some(d) = self.duration_or_seconds(k) {
                        o.hb_timeout_ms = millis(d);
                    }
                }
                "hb_fail_count" | "hbf" => {
                    if let Some(n) = self.integer(k) {
                        o.hb_fail_count = n.clamp(0, u32::MAX as i64) as u32;
                    }
                }
                "store_limits" | "limits" => self.streaming_limits(k, &mut o),
                "ft_group" | "cluster" | "partitioning" | "sql_options" | "sql" | "encrypt"
                | "encryption_key" | "encryption_cipher" | "replace_durables" => {
                    self.not_supported_error(k)
                }
                "file_options" | "file" => self.streaming_file(k, &mut o),
                "debug" | "sd" | "trace" | "sv" => {}
                _ => self.unknown(k, Block::Top),
            }
        }
        self.opts.streaming = Some(o);
    }

    fn streaming_limits(&mut self, e: &Entry, o: &mut StreamingOptions) {
        let Kind::Map(m) = &e.value.kind else {
            return self.wrong_type(e, "a map");
        };
        let count = |n: i64| n.max(0) as u64;
        for k in m {
            match k.key.to_ascii_lowercase().as_str() {
                "max_channels" | "mc" => o.channels_max = self.integer(k).map(count),
                "max_subs" | "max_subscriptions" | "msu" => o.subs_max = self.integer(k).map(count),
                "max_msgs" | "mm" => o.msgs_max = self.integer(k).map(count),
                "max_bytes" | "mb" => o.bytes_max = self.bytes(k).map(|b| b as u64),
                "max_age" | "ma" => o.age_max_ms = self.duration_or_seconds(k).map(millis),
                "max_inactivity" | "mi" => {
                    o.inactivity_max_ms = self.duration_or_seconds(k).map(millis)
                }
                "channels" | "channels_limits" => self.streaming_channels(k, o),
                _ => self.unknown(k, Block::Top),
            }
        }
    }

    /// `file_options`: nats-streaming-server's `parseFileOptions`, of which natrix uses the
    /// sync; a wrong type gets its `checkType` text.
    fn streaming_file(&mut self, e: &Entry, o: &mut StreamingOptions) {
        let Kind::Map(m) = &e.value.kind else {
            return self.wrong_type(e, "a map");
        };
        for k in m {
            if let "sync" | "do_sync" | "sync_on_flush" = k.key.to_ascii_lowercase().as_str() {
                match &k.value.kind {
                    Kind::Bool(b) => o.file_sync = *b,
                    other => {
                        let found = match other {
                            Kind::Map(_) => "map",
                            Kind::Array(_) => "slice",
                            Kind::String(_) => "string",
                            Kind::Integer(_) => "int64",
                            Kind::Float(_) => "float64",
                            Kind::Bool(_) => "bool",
                        };
                        let reason = format!(
                            "parameter {:?} value is expected to be bool, got {found}",
                            k.key
                        );
                        self.error(k, SettingErrorKind::Conflict(reason));
                    }
                }
            }
        }
    }

    fn streaming_channels(&mut self, e: &Entry, o: &mut StreamingOptions) {
        let Kind::Map(m) = &e.value.kind else {
            return self.wrong_type(e, "a map");
        };
        for ch in m {
            let Kind::Map(keys) = &ch.value.kind else {
                self.wrong_type(ch, "a map");
                continue;
            };
            let mut l = ChannelLimitsConfig::default();
            let ms = |d: std::time::Duration| d.as_millis().min(i64::MAX as u128) as i64;
            for k in keys {
                match k.key.to_ascii_lowercase().as_str() {
                    "max_subs" | "max_subscriptions" | "msu" => {
                        l.subs_max = self.integer(k).unwrap_or(0)
                    }
                    "max_msgs" | "mm" => l.msgs_max = self.integer(k).unwrap_or(0),
                    "max_bytes" | "mb" => {
                        l.bytes_max = match &k.value.kind {
                            Kind::Integer(n) => *n,
                            _ => self.bytes(k).map_or(0, |b| b as i64),
                        }
                    }
                    "max_age" | "ma" => {
                        l.age_max_ms = match &k.value.kind {
                            Kind::Integer(n) if *n < 0 => *n,
                            _ => self.duration_or_seconds(k).map_or(0, ms),
                        }
                    }
                    "max_inactivity" | "mi" => {
                        l.inactivity_max_ms = match &k.value.kind {
                            Kind::Integer(n) if *n < 0 => *n,
                            _ => self.duration_or_seconds(k).map_or(0, ms),
                        }
                    }
                    _ => self.unknown(k, Block::Top),
                }
            }
            o.per_channel.push((ch.key.clone(), l));
        }
    }
}
