//! nats-streaming-server's flags (its embedded NATS server's flags are the ones above): given
//! any of them, natrix serves NATS Streaming as nats-streaming-server would, on the same
//! port as NATS.

use crate::conf::{parse_duration, parse_size};
use crate::config::StreamingOptions;

/// The NATS Streaming flags, under their long names; `-cid`, `-st`, `-hbi`, ... are rewritten
/// to these (see `GO_SHORT_ALIASES`).
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "NATS Streaming (nats-streaming-server's flags)")]
pub struct StreamingFlags {
    /// Cluster ID (also -cid; default: test-cluster)
    #[arg(long = "cluster_id", value_name = "ID")]
    pub cluster_id: Option<String>,
    /// Store type: MEMORY or FILE (also -st)
    #[arg(long = "store", value_name = "TYPE")]
    pub store: Option<String>,
    /// For FILE store type, the root directory
    #[arg(long = "dir", value_name = "DIR")]
    pub dir: Option<String>,
    /// Interval at which the server sends heartbeats to a client (also -hbi)
    #[arg(long = "hb_interval", value_name = "DURATION")]
    pub hb_interval: Option<String>,
    /// How long the server waits for a heartbeat response (also -hbt)
    #[arg(long = "hb_timeout", value_name = "DURATION")]
    pub hb_timeout: Option<String>,
    /// Failed heartbeats before the server closes the client (also -hbf)
    #[arg(long = "hb_fail_count", value_name = "N")]
    pub hb_fail_count: Option<u32>,
    /// Max number of channels, 0 for unlimited (also -mc)
    #[arg(long = "max_channels", value_name = "N")]
    pub max_channels: Option<u64>,
    /// Max number of subscriptions per channel (also -msu)
    #[arg(long = "max_subs", value_name = "N")]
    pub max_subs: Option<u64>,
    /// Max number of messages per channel (also -mm)
    #[arg(long = "max_msgs", value_name = "N")]
    pub max_msgs: Option<u64>,
    /// Max messages total size per channel (also -mb)
    #[arg(long = "max_bytes", value_name = "SIZE")]
    pub max_bytes: Option<String>,
    /// Max duration a message can be stored (also -ma)
    #[arg(long = "max_age", value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Max inactivity without a subscription or message before a channel is deleted (also -mi)
    #[arg(long = "max_inactivity", value_name = "DURATION")]
    pub max_inactivity: Option<String>,
    /// Enable File.Sync on Flush (default true; --file_sync=false: acked means written)
    #[arg(long = "file_sync", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub file_sync: Option<String>,
    /// Enable STAN debugging output (also -SD); natrix logs at debug level
    #[arg(long = "stan_debug", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub stan_debug: Option<bool>,
    /// Enable STAN verbose output (also -SV)
    #[arg(long = "stan_trace", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub stan_trace: Option<bool>,
}

/// The single-dash spellings of nats-streaming-server.
pub const STREAMING_SHORT_ALIASES: &[(&str, &str)] = &[
    ("-cid", "--cluster_id"),
    ("-st", "--store"),
    ("-hbi", "--hb_interval"),
    ("-hbt", "--hb_timeout"),
    ("-hbf", "--hb_fail_count"),
    ("-mc", "--max_channels"),
    ("-msu", "--max_subs"),
    ("-mm", "--max_msgs"),
    ("-mb", "--max_bytes"),
    ("-ma", "--max_age"),
    ("-mi", "--max_inactivity"),
    ("-SD", "--stan_debug"),
    ("-SV", "--stan_trace"),
    ("-SDV", "--stan_debug"),
];

/// Go's `strconv.ParseBool`, as its `flag` package parses a boolean flag's value, with the
/// package's error text.
fn go_bool(flag: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "invalid boolean value {v:?} for -{flag}: parse error"
        )),
    }
}

fn duration_ms(flag: &str, v: &str) -> Result<u64, String> {
    parse_duration(v)
        .map(|d| d.as_millis() as u64)
        .map_err(|e| format!("invalid duration for --{flag}: {v:?}: {e}"))
}

impl StreamingFlags {
    fn given(&self) -> bool {
        self.cluster_id.is_some()
            || self.store.is_some()
            || self.dir.is_some()
            || self.hb_interval.is_some()
            || self.hb_timeout.is_some()
            || self.hb_fail_count.is_some()
            || self.max_channels.is_some()
            || self.max_subs.is_some()
            || self.max_msgs.is_some()
            || self.max_bytes.is_some()
            || self.max_age.is_some()
            || self.max_inactivity.is_some()
            || self.file_sync.is_some()
    }

    /// Applies the flags over `opts` (from the config file, if any); any flag turns
    /// NATS Streaming on.
    pub fn apply(&self, opts: &mut Option<StreamingOptions>) -> Result<(), String> {
        if !self.given() {
            return Ok(());
        }
        let o = opts.get_or_insert_with(StreamingOptions::default);
        if let Some(c) = &self.cluster_id {
            o.cluster_id = c.clone();
        }
        if let Some(s) = &self.store {
            o.file_store = match s.to_ascii_uppercase().as_str() {
                "MEMORY" => false,
                "FILE" => true,
                other => return Err(format!("unsupported store type: {other:?}")),
            };
        }
        if let Some(d) = &self.dir {
            o.dir = Some(d.into());
        }
        if let Some(v) = &self.file_sync {
            o.file_sync = go_bool("file_sync", v)?;
        }
        if let Some(v) = &self.hb_interval {
            o.hb_interval_ms = duration_ms("hb_interval", v)?;
        }
        if let Some(v) = &self.hb_timeout {
            o.hb_timeout_ms = duration_ms("hb_timeout", v)?;
        }
        if let Some(n) = self.hb_fail_count {
            o.hb_fail_count = n;
        }
        if let Some(n) = self.max_channels {
            o.channels_max = Some(n);
        }
        if let Some(n) = self.max_subs {
            o.subs_max = Some(n);
        }
        if let Some(n) = self.max_msgs {
            o.msgs_max = Some(n);
        }
        if let Some(v) = &self.max_bytes {
            o.bytes_max =
                Some(parse_size(v).ok_or_else(|| format!("invalid size for --max_bytes: {v:?}"))?);
        }
        if let Some(v) = &self.max_age {
            o.age_max_ms = Some(duration_ms("max_age", v)?);
        }
        if let Some(v) = &self.max_inactivity {
            o.inactivity_max_ms = Some(duration_ms("max_inactivity", v)?);
        }
        Ok(())
    }
}
