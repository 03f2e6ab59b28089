//! A consumer's config document (nats-server's JSON, as the API layer stored it) to the
//! [`ConsumerSpec`] the engine obeys. Read from the JSON rather than from the API layer's
//! type so that a persisted config is read back by the same function that read it at
//! create, whatever version of the API layer wrote it.

use serde_json::Value;

use super::api::consumer::config::PINNED_TTL_DEFAULT_NS;
use super::consumer::priority::Policy;
use super::consumer::state::{AckPolicy, ConsumerLimits};
use super::consumers::{ConsumerSpec, DeliverStart};

/// nats-server's default `max_waiting` for pull consumers.
pub const MAX_WAITING_DEFAULT: usize = 512;
/// nats-server's default `max_ack_pending`.
pub const MAX_ACK_PENDING_DEFAULT: i64 = 1000;
/// nats-server's default `ack_wait`: 30 s.
pub const ACK_WAIT_DEFAULT_NS: i64 = 30_000_000_000;

/// Reads the spec from a consumer config JSON object; `None` if it is not one.
pub fn spec_from_config(config: &[u8]) -> Option<ConsumerSpec> {
    let v: Value = serde_json::from_slice(config).ok()?;
    let o = v.as_object()?;
    let s = |k: &str| o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let i = |k: &str| o.get(k).and_then(Value::as_i64);
    // A list of strings (its non-strings skipped); empty when absent.
    let strings = |k: &str| -> Vec<String> {
        o.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let durable = s("durable_name");
    let name = durable.or(s("name"))?.to_string();
    let start = match s("deliver_policy").unwrap_or("all") {
        "last" => DeliverStart::Last,
        "new" => DeliverStart::New,
        "by_start_sequence" => DeliverStart::Seq(i("opt_start_seq").unwrap_or(1).max(1) as u64),
        "by_start_time" => DeliverStart::Time(
            s("opt_start_time")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0),
        ),
        "last_per_subject" => DeliverStart::LastPerSubject,
        _ => DeliverStart::All,
    };
    let ack_policy = match s("ack_policy").unwrap_or("explicit") {
        "none" => AckPolicy::None,
        "all" => AckPolicy::All,
        _ => AckPolicy::Explicit,
    };
    let ms = |ns: i64| (ns.max(0) as u64).div_ceil(1_000_000);
    let mut filters = strings("filter_subjects");
    if let Some(f) = s("filter_subject") {
        filters.push(f.to_string());
    }
    filters.retain(|f| f != ">");
    let max_ack_pending = i("max_ack_pending").unwrap_or(MAX_ACK_PENDING_DEFAULT);
    let limits = ConsumerLimits {
        ack_policy,
        ack_wait_ms: ms(i("ack_wait")
            .filter(|w| *w > 0)
            .unwrap_or(ACK_WAIT_DEFAULT_NS)),
        max_deliver: i("max_deliver").filter(|m| *m > 0).map(|m| m as u64),
        backoff_ms: o
            .get("backoff")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).map(ms).collect())
            .unwrap_or_default(),
        max_ack_pending: (max_ack_pending > 0).then_some(max_ack_pending as usize),
        filters,
    };
    let pos = |k: &str| i(k).unwrap_or(0).max(0) as u64;
    let time = |k: &str| {
        s(k).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| t.timestamp_nanos_opt())
            .filter(|t| *t > 0)
    };
    Some(ConsumerSpec {
        name,
        durable: durable.is_some(),
        start,
        limits,
        max_waiting: i("max_waiting")
            .filter(|m| *m > 0)
            .map_or(MAX_WAITING_DEFAULT, |m| m as usize),
        deliver_subject: s("deliver_subject").map(str::to_string),
        headers_only: o
            .get("headers_only")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_batch: pos("max_batch"),
        max_expires_ns: pos("max_expires"),
        max_request_bytes: pos("max_bytes"),
        pause_until_ns: time("pause_until"),
        idle_heartbeat_ms: ms(i("idle_heartbeat").unwrap_or(0)),
        flow_control: o
            .get("flow_control")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        inactive_threshold_ms: ms(i("inactive_threshold").unwrap_or(0)),
        rate_limit_bps: pos("rate_limit_bps"),
        replay_original: s("replay_policy") == Some("original"),
        sample_pct: s("sample_freq").map_or(0, super::consumer_flow::sample_pct),
        priority_policy: match s("priority_policy") {
            Some("overflow") => Policy::Overflow,
            Some("pinned_client") => Policy::PinnedClient {
                ttl_ms: ms(i("priority_timeout")
                    .filter(|t| *t > 0)
                    .unwrap_or(PINNED_TTL_DEFAULT_NS)),
            },
            Some("prioritized") => Policy::Prioritized,
            _ => Policy::None,
        },
        priority_groups: strings("priority_groups"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_fields_are_read_as_nats_server_writes_them() {
        let s = spec_from_config(br#"{"durable_name":"d","ack_policy":"explicit"}"#).unwrap();
        assert_eq!(s.name, "d");
        assert!(s.durable);
        assert_eq!(s.start, DeliverStart::All);
        assert_eq!(s.limits.ack_wait_ms, 30_000);
        assert_eq!(s.limits.max_ack_pending, Some(1000));
        assert_eq!(s.limits.max_deliver, None);
        assert_eq!(s.max_waiting, 512);
        let s = spec_from_config(
            br#"{"name":"e","deliver_policy":"by_start_sequence","opt_start_seq":7,
                "ack_policy":"all","ack_wait":1500000000,"max_deliver":3,
                "backoff":[1000000000,2000000000],"max_ack_pending":-1,
                "filter_subjects":["a.*","b"],"deliver_subject":"out","headers_only":true,
                "max_batch":10,"max_expires":5000000000,"max_bytes":100,"max_waiting":4}"#,
        )
        .unwrap();
        assert!(!s.durable);
        assert_eq!(s.start, DeliverStart::Seq(7));
        assert_eq!(s.limits.ack_policy, AckPolicy::All);
        assert_eq!(s.limits.ack_wait_ms, 1500);
        assert_eq!(s.limits.max_deliver, Some(3));
        assert_eq!(s.limits.backoff_ms, vec![1000, 2000]);
        assert_eq!(s.limits.max_ack_pending, None);
        assert_eq!(s.limits.filters, vec!["a.*".to_string(), "b".to_string()]);
        assert_eq!(s.deliver_subject.as_deref(), Some("out"));
        assert!(s.headers_only);
        assert_eq!(
            (
                s.max_batch,
                s.max_expires_ns,
                s.max_request_bytes,
                s.max_waiting
            ),
            (10, 5_000_000_000, 100, 4)
        );
        let t = spec_from_config(
            br#"{"name":"t","deliver_policy":"by_start_time","opt_start_time":"2026-01-02T03:04:05.5Z"}"#,
        )
        .unwrap();
        assert_eq!(t.start, DeliverStart::Time(1_767_323_045_500_000_000));
        assert!(spec_from_config(b"[]").is_none());
        assert!(spec_from_config(br#"{"ack_policy":"none"}"#).is_none());
    }
}
