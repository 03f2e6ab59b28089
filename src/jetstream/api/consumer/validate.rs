//! The checks nats-server 2.15.1 makes on a consumer config, in its order (the order decides
//! which error a client sees): [`check_config`] is `checkConsumerCfg`, [`check_update`] is
//! `checkNewConsumerConfig`, [`partition_unique`] the work-queue filter rule.
//!
//! Invariant: every function here is pure over the configs passed in; the caller has already
//! applied [`ConsumerConfig::set_defaults`], as nats-server does before checking.

use super::super::config::{Retention, StreamConfig};
use super::super::error::ApiError;
use super::super::info::AccountLimits;
use super::super::request::is_valid_name;
use super::super::validate::{collide, is_subset};
use super::super::ServerLimits;
use super::config::{
    AckPolicy, ConsumerConfig, DeliverPolicy, PriorityPolicy, FLOW_CONTROL_HEARTBEAT_NS,
};
use super::error::ConsumerError as E;
use crate::subject::{is_literal, is_valid_subscription_subject};
use std::time::Duration;

/// The longest description (`JSMaxDescriptionLen`).
pub const DESCRIPTION_MAX_BYTES: usize = 4 * 1024;
/// The most metadata, keys plus values (`JSMaxMetadataLen`).
pub const METADATA_MAX_BYTES: usize = 128 * 1024;
/// The longest durable name (`JSMaxNameLen`).
pub const NAME_MAX_BYTES: usize = 255;
/// The smallest push heartbeat.
pub const HEARTBEAT_MIN_NS: i64 = 100_000_000;
/// The smallest `max_expires` of a pull consumer.
pub const MAX_EXPIRES_MIN_NS: i64 = 1_000_000;
/// The longest priority group name.
pub const GROUP_NAME_MAX_BYTES: usize = 16;

/// nats-server's `IsValidSubject`: tokens not empty, no whitespace, `>` only last.
pub fn is_valid_subject(s: &str) -> bool {
    !s.is_empty()
        && !s.contains([' ', '\t', '\n', '\r', '\x0c'])
        && is_valid_subscription_subject(s.as_bytes())
}

/// A priority group name: 1 to 16 of `A-Z a-z 0-9 / _ = -`.
pub fn is_valid_group_name(g: &str) -> bool {
    (1..=GROUP_NAME_MAX_BYTES).contains(&g.len())
        && g.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'=' | b'-'))
}

fn invalid(reason: &str) -> ApiError {
    ApiError::InvalidConfig(reason.to_string())
}

/// Go's `strconv.Atoi` failure text for a sample frequency, `<nil>` for a negative one.
fn sampling_error(freq: &str) -> Option<String> {
    let s = freq.strip_suffix('%').unwrap_or(freq);
    match s.parse::<i64>() {
        Ok(v) if v >= 0 => None,
        Ok(_) => Some("<nil>".into()),
        Err(e) => {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            Some(format!(
                "strconv.Atoi: parsing {}: {why}",
                crate::gofmt::quote(s)
            ))
        }
    }
}

/// `checkConsumerCfg` against the stream's config and the server's and account's limits.
pub fn check_config(
    c: &ConsumerConfig,
    stream: &StreamConfig,
    account: &AccountLimits,
    server: &ServerLimits,
) -> Result<(), ApiError> {
    if !c.name.is_empty() && !is_valid_name(&c.name) {
        return Err(invalid(
            "consumer name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if !c.durable_name.is_empty() && !is_valid_name(&c.durable_name) {
        return Err(invalid(
            "consumer durable name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if c.num_replicas < 0 {
        return Err(ApiError::ReplicasCountNegative);
    }
    if c.backoff_ns.iter().any(|b| *b < 0) {
        return Err(E::BackOffNegative.into());
    }
    if c.ack_wait_ns < 0 {
        return Err(E::AckWaitNegative.into());
    }
    if c.ack_policy == AckPolicy::FlowControl {
        check_ack_flow_control(c)?;
    }
    let backoffs = c.backoff_ns.len() as i64;
    if backoffs > 0 && c.max_deliver != -1 && backoffs > c.max_deliver {
        return Err(E::MaxDeliverBackoff.into());
    }
    if c.description.len() > DESCRIPTION_MAX_BYTES {
        return Err(E::DescriptionTooLong(DESCRIPTION_MAX_BYTES).into());
    }
    if c.is_push() {
        check_push(c, stream)?;
    } else {
        check_pull(c, stream, server)?;
    }
    if server.max_ack_pending > 0 && c.max_ack_pending > server.max_ack_pending {
        return Err(E::MaxAckPendingExcess(server.max_ack_pending).into());
    }
    if account.max_ack_pending > 0 && c.max_ack_pending > account.max_ack_pending {
        return Err(E::MaxAckPendingExcess(account.max_ack_pending).into());
    }
    let limits = &stream.consumer_limits;
    if limits.max_ack_pending > 0 && c.max_ack_pending > limits.max_ack_pending {
        return Err(E::MaxAckPendingExcess(limits.max_ack_pending).into());
    }
    if limits.inactive_threshold > 0 && c.inactive_threshold_ns > limits.inactive_threshold {
        let text = crate::gofmt::duration(Duration::from_nanos(limits.inactive_threshold as u64));
        return Err(E::InactiveThresholdExcess(text).into());
    }
    if c.direct {
        if !c.is_push() {
            return Err(E::DirectRequiresPush.into());
        }
        if c.is_durable() {
            return Err(E::DirectRequiresEphemeral.into());
        }
    }
    check_filters(c)?;
    check_start(c)?;
    if !c.sample_freq.is_empty() {
        if let Some(e) = sampling_error(&c.sample_freq) {
            return Err(E::InvalidSampling(e).into());
        }
    }
    if c.flow_control && c.idle_heartbeat_ns == 0 {
        return Err(E::FlowControlNeedsHeartbeats.into());
    }
    if c.is_durable() && !c.name.is_empty() && c.name != c.durable_name {
        return Err(E::DurableAndNameMismatch.into());
    }
    let metadata: usize = c.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata > METADATA_MAX_BYTES {
        return Err(E::MetadataLength(format!("{}KB", METADATA_MAX_BYTES / 1024)).into());
    }
    check_priority(c)?;
    if stream
        .placement
        .as_ref()
        .is_some_and(|p| !p.preferred.is_empty())
    {
        return Err(invalid("preferred server not permitted in placement"));
    }
    Ok(())
}

fn check_ack_flow_control(c: &ConsumerConfig) -> Result<(), ApiError> {
    if !c.is_push() {
        return Err(E::AckFlowControlRequiresPush.into());
    }
    if !c.flow_control {
        return Err(E::AckFlowControlRequiresFlowControl.into());
    }
    if c.idle_heartbeat_ns != FLOW_CONTROL_HEARTBEAT_NS {
        return Err(invalid("flow control ack policy heartbeat needs to be 1s"));
    }
    if c.max_ack_pending <= 0 {
        return Err(E::AckFlowControlRequiresMaxAckPending.into());
    }
    if c.ack_wait_ns != 0 || !c.backoff_ns.is_empty() {
        return Err(E::AckFlowControlRequiresNoAckWait.into());
    }
    if c.max_deliver > 0 {
        return Err(E::AckFlowControlRequiresNoMaxDeliver.into());
    }
    Ok(())
}

fn check_push(c: &ConsumerConfig, stream: &StreamConfig) -> Result<(), ApiError> {
    let ds = &c.deliver_subject;
    if !is_literal(ds.as_bytes()) {
        return Err(E::DeliverToWildcards.into());
    }
    if !is_valid_subject(ds) {
        return Err(E::InvalidDeliverSubject.into());
    }
    if stream.subjects.iter().any(|s| is_subset(ds, s)) {
        return Err(E::DeliverCycle.into());
    }
    if c.max_waiting != 0 {
        return Err(E::PushMaxWaiting.into());
    }
    if c.max_ack_pending > 0 && c.ack_policy == AckPolicy::None {
        return Err(E::MaxPendingAckPolicyRequired.into());
    }
    if c.idle_heartbeat_ns > 0 && c.idle_heartbeat_ns < HEARTBEAT_MIN_NS {
        return Err(E::SmallHeartbeat.into());
    }
    Ok(())
}

fn check_pull(
    c: &ConsumerConfig,
    stream: &StreamConfig,
    server: &ServerLimits,
) -> Result<(), ApiError> {
    if c.ack_policy == AckPolicy::None && stream.retention == Retention::WorkQueue {
        return Err(E::PullRequiresAck.into());
    }
    if c.rate_limit_bps > 0 {
        return Err(E::PullWithRateLimit.into());
    }
    if c.idle_heartbeat_ns > 0 {
        return Err(E::HeartbeatRequiresPush.into());
    }
    if c.flow_control {
        return Err(E::FlowControlRequiresPush.into());
    }
    if c.max_expires_ns != 0 && c.max_expires_ns < MAX_EXPIRES_MIN_NS {
        return Err(E::MaxRequestExpiresTooSmall.into());
    }
    if server.max_request_batch > 0 && c.max_batch > server.max_request_batch {
        return Err(E::MaxRequestBatchExceeded(server.max_request_batch).into());
    }
    Ok(())
}

fn check_filters(c: &ConsumerConfig) -> Result<(), ApiError> {
    if !c.filter_subject.is_empty() && !c.filter_subjects.is_empty() {
        return Err(E::DuplicateFilterSubjects.into());
    }
    if !c.filter_subject.is_empty() && !is_valid_subject(&c.filter_subject) {
        return Err(invalid("invalid subject"));
    }
    if c.filter_subjects.iter().any(String::is_empty) {
        return Err(E::EmptyFilter.into());
    }
    let filters = c.filters();
    for (i, f) in filters.iter().enumerate() {
        if !is_valid_subject(f) {
            return Err(invalid("invalid subject"));
        }
        if filters
            .iter()
            .enumerate()
            .any(|(j, g)| i != j && is_subset(f, g))
        {
            return Err(E::OverlappingSubjectFilters.into());
        }
    }
    Ok(())
}

/// Deliver policy against `opt_start_seq` / `opt_start_time`, with nats-server's texts.
fn check_start(c: &ConsumerConfig) -> Result<(), ApiError> {
    let bad = |dp: &str, start: &str| {
        Err(E::InvalidPolicy(format!(
            "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
        ))
        .into())
    };
    let not_set = |dp: &str, what: &str| {
        Err(E::InvalidPolicy(format!(
            "consumer delivery policy is deliver {dp}, but optional {what} is not set"
        ))
        .into())
    };
    let (seq, time) = (c.opt_start_seq > 0, c.opt_start_time.is_some());
    let plain = |dp: &str| -> Result<(), ApiError> {
        if seq {
            return bad(dp, "sequence");
        }
        if time {
            return bad(dp, "time");
        }
        Ok(())
    };
    match c.deliver_policy {
        DeliverPolicy::All => plain("all"),
        DeliverPolicy::Last => plain("last"),
        DeliverPolicy::New => plain("new"),
        DeliverPolicy::LastPerSubject => {
            plain("last per subject")?;
            if c.filters().is_empty() {
                return not_set("last per subject", "filter subject");
            }
            Ok(())
        }
        DeliverPolicy::ByStartSequence => {
            if !seq {
                return not_set("by start sequence", "start sequence");
            }
            if time {
                return bad("by start sequence", "time");
            }
            Ok(())
        }
        DeliverPolicy::ByStartTime => {
            if !time {
                return not_set("by start time", "start time");
            }
            if c.opt_start_seq != 0 {
                return bad("by start time", "start sequence");
            }
            Ok(())
        }
    }
}

fn check_priority(c: &ConsumerConfig) -> Result<(), ApiError> {
    if c.priority_policy != PriorityPolicy::None {
        if c.is_push() {
            return Err(E::PushWithPriorityGroup.into());
        }
        if c.priority_groups.is_empty() {
            return Err(E::PriorityPolicyWithoutGroup.into());
        }
        for g in &c.priority_groups {
            if g.is_empty() {
                return Err(E::EmptyGroupName.into());
            }
            if !is_valid_group_name(g) {
                return Err(E::InvalidGroupName.into());
            }
        }
    } else {
        if !c.priority_groups.is_empty() {
            return Err(E::PriorityGroupWithPolicyNone.into());
        }
        if c.priority_timeout_ns > 0 {
            return Err(E::PinnedTtlWithoutPriorityPolicy.into());
        }
    }
    Ok(())
}

/// `checkNewConsumerConfig`: what an update may not change. `old_bound` is whether the old
/// deliver subject has interest now (then it may not move: 10013).
pub fn check_update(
    old: &ConsumerConfig,
    new: &ConsumerConfig,
    old_bound: bool,
) -> Result<(), ApiError> {
    if old == new {
        return Ok(());
    }
    let refuse = |what: &str| Err(E::Create(what.to_string()).into());
    if old.deliver_policy != new.deliver_policy {
        return refuse("deliver policy can not be updated");
    }
    if old.mem_storage != new.mem_storage {
        return refuse("storage type can not be updated");
    }
    if old.direct != new.direct {
        return refuse("direct can not be updated");
    }
    if old.sourcing != new.sourcing {
        return refuse("sourcing can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return refuse("start sequence can not be updated");
    }
    let same_time = match (&old.opt_start_time, &new.opt_start_time) {
        (Some(a), Some(b)) => a.same_instant(b),
        (None, None) => true,
        _ => false,
    };
    if !same_time {
        return refuse("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return refuse("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return refuse("replay policy can not be updated");
    }
    if old.idle_heartbeat_ns != new.idle_heartbeat_ns {
        return refuse("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return refuse("flow control can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return refuse("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return refuse("can not update push consumer to pull based");
        }
        if old_bound {
            return Err(E::NameExist.into());
        }
    }
    if old.max_waiting != new.max_waiting {
        return refuse("max waiting can not be updated");
    }
    let backoffs = new.backoff_ns.len() as i64;
    if backoffs > 0 && new.max_deliver != -1 && backoffs > new.max_deliver {
        return Err(E::MaxDeliverBackoff.into());
    }
    Ok(())
}

/// nats-server's `partitionUnique` on a work-queue stream: none of `filters` may collide with
/// a filter of another consumer, and no other consumer may be unfiltered. `others` are the
/// configs of the stream's other consumers.
pub fn partition_unique(filters: &[&str], others: &[ConsumerConfig]) -> bool {
    filters.iter().all(|p| {
        others.iter().filter(|o| !o.direct && !o.sourcing).all(|o| {
            let theirs = o.filters();
            !theirs.is_empty() && !theirs.iter().any(|f| collide(p, f))
        })
    })
}
