//! Stream config defaults, normalisation and validation, after nats-server 2.15.1's
//! `checkStreamCfg` and `configUpdateCheck`, in the same order (the first failing check is
//! the error a client sees, so the order is part of the behaviour).
//!
//! Invariants:
//! - [`normalize`] is idempotent: `normalize(normalize(c)) == normalize(c)`. That is what makes
//!   an echoed config fed back to UPDATE a no-op and a repeated CREATE succeed.
//! - Every refusal is the `ApiError` nats-server sends for it; the texts are its texts.
//! - Checks against other streams (overlap) and the account are here too, but take what they
//!   need as arguments: nothing here reads a store.

use super::config::{DiscardPolicy, PersistMode, Retention, Storage, StreamConfig};
use super::error::ApiError;
use super::request::is_valid_name;
use crate::gofmt;

/// nats-server's `JSMaxNameLen`.
pub const NAME_BYTES_MAX: usize = 255;
/// nats-server's `JSMaxDescriptionLen`.
pub const DESCRIPTION_BYTES_MAX: usize = 4 * 1024;
/// nats-server's `JSMaxMetadataLen` (keys plus values).
pub const METADATA_BYTES_MAX: usize = 128 * 1024;
/// The default `duplicate_window`: two minutes.
pub const DUPLICATE_WINDOW_DEFAULT_NS: i64 = 120_000_000_000;
/// The smallest non-zero `max_age` and `duplicate_window`: 100ms.
pub const WINDOW_MIN_NS: i64 = 100_000_000;
/// nats-server's `StreamMaxReplicas`.
pub const REPLICAS_MAX: i64 = 5;

fn invalid(reason: impl Into<String>) -> ApiError {
    ApiError::InvalidConfig(reason.into())
}

/// Fills in nats-server's defaults and checks the config on its own (no other stream, no
/// account): the part of `checkStreamCfg` that needs nothing but the config. `pedantic`
/// refuses what would otherwise be silently adjusted.
pub fn normalize(config: &StreamConfig, pedantic: bool) -> Result<StreamConfig, ApiError> {
    if !is_valid_name(&config.name) {
        return Err(invalid(
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if config.name.len() > NAME_BYTES_MAX {
        return Err(invalid(format!(
            "stream name is too long, maximum allowed is {NAME_BYTES_MAX}"
        )));
    }
    if config.description.len() > DESCRIPTION_BYTES_MAX {
        return Err(invalid(format!(
            "stream description is too long, maximum allowed is {DESCRIPTION_BYTES_MAX}"
        )));
    }
    let metadata_bytes: usize = config.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_bytes > METADATA_BYTES_MAX {
        return Err(invalid(format!(
            "stream metadata exceeds maximum size of {METADATA_BYTES_MAX} bytes"
        )));
    }
    let mut cfg = config.clone();
    if cfg.num_replicas == 0 {
        cfg.num_replicas = 1;
    }
    if cfg.num_replicas > REPLICAS_MAX {
        return Err(invalid(format!("maximum replicas is {REPLICAS_MAX}")));
    }
    if cfg.num_replicas < 0 {
        return Err(ApiError::ReplicasCountNegative);
    }
    // 0 and anything below -1 mean "unlimited", which is echoed as -1.
    for (value, key) in [
        (&mut cfg.max_msgs, "max_msgs"),
        (&mut cfg.max_msgs_per_subject, "max_msgs_per_subject"),
        (&mut cfg.max_bytes, "max_bytes"),
        (&mut cfg.max_consumers, "max_consumers"),
    ] {
        unlimited(value, key, pedantic)?;
    }
    let mut size = i64::from(cfg.max_msg_size);
    unlimited(&mut size, "max_msg_size", pedantic)?;
    cfg.max_msg_size = size as i32;
    if cfg.max_age_ns < 0 {
        return Err(invalid("max age can not be negative"));
    }
    if cfg.max_age_ns != 0 && cfg.max_age_ns < WINDOW_MIN_NS {
        return Err(invalid("max age needs to be >= 100ms"));
    }
    if cfg.duplicate_window_ns == 0 && cfg.mirror.is_none() && cfg.sources.is_empty() {
        if cfg.max_age_ns != 0 && cfg.max_age_ns < DUPLICATE_WINDOW_DEFAULT_NS {
            if pedantic {
                return Err(pedantic_err(
                    "duplicate window cannot be bigger than max age",
                ));
            }
            cfg.duplicate_window_ns = cfg.max_age_ns;
        } else {
            cfg.duplicate_window_ns = DUPLICATE_WINDOW_DEFAULT_NS;
        }
    }
    if cfg.duplicate_window_ns < 0 {
        return Err(invalid("duplicates window can not be negative"));
    }
    if cfg.max_age_ns != 0 && cfg.duplicate_window_ns > cfg.max_age_ns {
        return Err(invalid("duplicates window can not be larger then max age"));
    }
    if cfg.duplicate_window_ns > 0 && cfg.duplicate_window_ns < WINDOW_MIN_NS {
        return Err(invalid("duplicates window needs to be >= 100ms"));
    }
    if cfg.deny_purge && cfg.allow_rollup_hdrs {
        return Err(invalid("roll-ups require the purge permission"));
    }
    if cfg.allow_msg_counter {
        if cfg.discard == DiscardPolicy::New {
            return Err(invalid("counter stream cannot use discard new"));
        }
        if cfg.allow_msg_ttl {
            return Err(invalid("counter stream cannot use message TTLs"));
        }
        if cfg.allow_msg_schedules {
            return Err(invalid("counter stream cannot use message schedules"));
        }
        if cfg.retention != Retention::Limits {
            return Err(invalid("counter stream can only use limits retention"));
        }
    }
    check_discard_new_per_subject(&cfg)?;
    if cfg.subject_delete_marker_ttl_ns > 0 {
        if cfg.subject_delete_marker_ttl_ns < 1_000_000_000 {
            return Err(invalid(
                "subject delete marker TTL must be at least 1 second",
            ));
        }
        if !cfg.allow_msg_ttl {
            if pedantic {
                return Err(invalid(
                    "subject delete marker cannot be set if message TTLs are disabled",
                ));
            }
            cfg.allow_msg_ttl = true;
        }
        if !cfg.allow_rollup_hdrs {
            if pedantic {
                return Err(invalid(
                    "subject delete marker cannot be set if roll-ups are disabled",
                ));
            }
            cfg.allow_rollup_hdrs = true;
            cfg.deny_purge = false;
        }
    } else if cfg.subject_delete_marker_ttl_ns < 0 {
        return Err(invalid("subject delete marker TTL must not be negative"));
    }
    if cfg.allow_msg_schedules {
        if cfg.discard == DiscardPolicy::New {
            return Err(invalid("message scheduling cannot use discard new"));
        }
        if !cfg.allow_rollup_hdrs {
            if pedantic {
                return Err(invalid(
                    "message scheduling cannot be set if roll-ups are disabled",
                ));
            }
            cfg.allow_rollup_hdrs = true;
            cfg.deny_purge = false;
        }
    }
    if cfg.persist_mode == PersistMode::Async {
        if cfg.storage != Storage::File {
            return Err(invalid(
                "async persist mode is only supported on file storage",
            ));
        }
        if cfg.num_replicas > 1 {
            return Err(invalid(
                "async persist mode is not supported on replicated streams",
            ));
        }
        if cfg.allow_atomic {
            return Err(invalid(
                "async persist mode is not supported with atomic batch publish",
            ));
        }
    }
    check_sources(&cfg)?;
    check_subjects(&mut cfg)?;
    check_transforms(&mut cfg, pedantic)?;
    if cfg
        .placement
        .as_ref()
        .is_some_and(|p| *p == Default::default())
    {
        cfg.placement = None;
    }
    if cfg
        .placement
        .as_ref()
        .is_some_and(|p| !p.preferred.is_empty())
    {
        return Err(invalid("preferred server not permitted in placement"));
    }
    cfg.set_static_metadata();
    Ok(cfg)
}

fn pedantic_err(reason: &str) -> ApiError {
    ApiError::Pedantic(reason.to_string())
}

fn unlimited(value: &mut i64, key: &str, pedantic: bool) -> Result<(), ApiError> {
    if *value == 0 || *value < -1 {
        if pedantic && *value < -1 {
            return Err(pedantic_err(&format!("{key} must be set to -1")));
        }
        *value = -1;
    }
    Ok(())
}

fn check_discard_new_per_subject(cfg: &StreamConfig) -> Result<(), ApiError> {
    if cfg.discard_new_per_subject {
        if cfg.discard != DiscardPolicy::New {
            return Err(invalid(
                "discard new per subject requires discard new policy to be set",
            ));
        }
        if cfg.max_msgs_per_subject <= 0 {
            return Err(invalid(
                "discard new per subject requires max msgs per subject > 0",
            ));
        }
    }
    Ok(())
}

fn check_sources(cfg: &StreamConfig) -> Result<(), ApiError> {
    if let Some(m) = &cfg.mirror {
        if cfg.first_seq > 0 {
            return Err(ApiError::MirrorWithFirstSeq);
        }
        if !cfg.subjects.is_empty() {
            return Err(ApiError::MirrorWithSubjects);
        }
        if !cfg.sources.is_empty() {
            return Err(ApiError::MirrorWithSources);
        }
        let refusals = [
            (cfg.allow_msg_counter, ApiError::MirrorWithCounters),
            (cfg.allow_atomic, ApiError::MirrorWithAtomicPublish),
            (cfg.allow_batched, ApiError::MirrorWithBatchPublish),
            (cfg.allow_msg_schedules, ApiError::MirrorWithMsgSchedules),
            (
                !m.filter_subject.is_empty() && !m.subject_transforms.is_empty(),
                ApiError::MirrorMultipleFiltersNotAllowed,
            ),
            (
                cfg.subject_delete_marker_ttl_ns > 0,
                invalid("subject delete markers forbidden on mirrors"),
            ),
        ];
        if let Some((_, e)) = refusals.into_iter().find(|(hit, _)| *hit) {
            return Err(e);
        }
        for (i, t) in m.subject_transforms.iter().enumerate() {
            check_link_transform(t).map_err(|e| match e {
                LinkTransformError::Source(r) => ApiError::MirrorInvalidSubjectFilter(r),
                LinkTransformError::Destination(r) => {
                    ApiError::MirrorInvalidTransformDestination(r)
                }
            })?;
            let overlaps = m
                .subject_transforms
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && collide(&t.src, &o.src));
            if overlaps {
                return Err(ApiError::MirrorOverlappingSubjectFilters);
            }
        }
        if m.external.is_none() && !is_valid_name(&m.name) {
            return Err(ApiError::MirrorInvalidStreamName);
        }
    }
    if !cfg.sources.is_empty() && cfg.allow_msg_schedules {
        return Err(ApiError::SourceWithMsgSchedules);
    }
    let mut seen: Vec<(String, &str)> = Vec::new();
    for src in &cfg.sources {
        if !is_valid_name(&src.name) {
            return Err(ApiError::SourceInvalidStreamName);
        }
        // nats-server's `composeIName`: name, external api prefix, filters and transforms
        // identify a source.
        let key = (
            src.index_name(),
            src.external.as_ref().map_or("", |e| e.api.as_str()),
        );
        if seen.contains(&key) {
            return Err(ApiError::SourceDuplicateDetected);
        }
        seen.push(key);
        if !src.filter_subject.is_empty() && !src.subject_transforms.is_empty() {
            return Err(ApiError::SourceMultipleFiltersNotAllowed);
        }
        for t in &src.subject_transforms {
            check_link_transform(t).map_err(|e| match e {
                LinkTransformError::Source(r) => ApiError::SourceInvalidSubjectFilter(r),
                LinkTransformError::Destination(r) => {
                    ApiError::SourceInvalidTransformDestination(r)
                }
            })?;
        }
        for (i, t) in src.subject_transforms.iter().enumerate() {
            let overlaps = src
                .subject_transforms
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && is_subset(&t.src, &o.src));
            if overlaps {
                return Err(ApiError::SourceOverlappingSubjectFilters);
            }
        }
    }
    Ok(())
}

/// Why a mirror's or source's subject transform is refused (the reason text after the
/// error's constant part).
enum LinkTransformError {
    Source(String),
    Destination(String),
}

/// nats-server's checks of one transform of a mirror or source: a valid source subject (an
/// empty one is every subject), then `ValidateMapping` of the destination (empty: none).
fn check_link_transform(t: &super::config::SubjectTransform) -> Result<(), LinkTransformError> {
    // nats-server's `IsValidSubject` also refuses white space, which the wire never carries.
    let valid = crate::subject::is_valid_subscription_subject(t.src.as_bytes())
        && !t.src.contains([' ', '\t', '\r', '\n', '\x0c']);
    if !t.src.is_empty() && !valid {
        return Err(LinkTransformError::Source(format!(
            "invalid subject {}",
            t.src
        )));
    }
    if t.dest.is_empty() {
        return Ok(());
    }
    let src = if t.src.is_empty() {
        ">"
    } else {
        t.src.as_str()
    };
    crate::mapping::SubjectTransform::new(src, &t.dest)
        .map(|_| ())
        .map_err(|e| LinkTransformError::Destination(e.to_string()))
}

fn check_subjects(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    if cfg.subjects.is_empty() {
        if cfg.mirror.is_none() && cfg.sources.is_empty() {
            cfg.subjects.push(cfg.name.clone());
        }
        return Ok(());
    }
    for (i, subj) in cfg.subjects.iter().enumerate() {
        if !crate::subject::is_valid_subscription_subject(subj.as_bytes()) {
            return Err(invalid("invalid subject"));
        }
        if cfg.subjects[..i].contains(subj) {
            return Err(invalid("duplicate subjects detected"));
        }
        if subj == ">" {
            if !cfg.no_ack {
                return Err(invalid("capturing all subjects requires no-ack to be true"));
            }
            if cfg.num_replicas != 1 {
                return Err(invalid("capturing all subjects requires replicas of 1"));
            }
        }
        if !cfg.no_ack {
            for ns in ["$JS.>", "$JSC.>", "$NRG.>"] {
                if collide(subj, ns) && !is_subset(subj, "$JS.EVENT.>") {
                    return Err(invalid(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    ));
                }
            }
            if collide(subj, "$SYS.>") && !is_subset(subj, "$SYS.ACCOUNT.>") {
                return Err(invalid(
                    "subjects that overlap with system api require no-ack to be true",
                ));
            }
        }
        for other in &cfg.subjects[i + 1..] {
            if collide(other, subj) {
                return Err(invalid(format!(
                    "subject {} overlaps with {}",
                    gofmt::quote(subj),
                    gofmt::quote(other)
                )));
            }
        }
    }
    Ok(())
}

/// nats-server's `checkStreamCfg` for `subject_transform` and `republish` (error codes and
/// texts as 2.15.1 gives them; an empty destination is accepted and does nothing).
fn check_transforms(cfg: &mut StreamConfig, pedantic: bool) -> Result<(), ApiError> {
    if let Some(t) = &cfg.subject_transform {
        // `IsValidSubject` also refuses white space.
        let valid = crate::subject::is_valid_subscription_subject(t.src.as_bytes())
            && !t.src.contains([' ', '\t', '\r', '\n', '\x0c']);
        if !t.src.is_empty() && !valid {
            return Err(ApiError::TransformInvalidSource(format!(
                "invalid subject {}",
                t.src
            )));
        }
        if !t.dest.is_empty() {
            let src = if t.src.is_empty() { ">" } else { &t.src };
            crate::mapping::SubjectTransform::new(src, &t.dest)
                .map_err(|e| ApiError::TransformInvalidDestination(e.to_string()))?;
        }
    }
    let Some(rp) = &mut cfg.republish else {
        return Ok(());
    };
    if rp.src.is_empty() {
        if pedantic {
            return Err(pedantic_err("republish source can not be empty"));
        }
        rp.src = ">".into();
    }
    // `>` to `>` would cycle, unless the transform renames the stream's only subject: then
    // it republishes what the transform produced, on its own subject.
    if let Some(t) = &cfg.subject_transform {
        if rp.src == ">" && rp.dest == ">" && cfg.subjects.len() == 1 && t.src == cfg.subjects[0] {
            if pedantic {
                return Err(pedantic_err(
                    "implicit republish based on subject transform",
                ));
            }
            rp.src.clone_from(&t.dest);
            rp.dest.clone_from(&t.dest);
        }
    }
    if cfg.subjects.iter().any(|s| collide(&rp.dest, s)) {
        return Err(invalid(
            "stream configuration for republish destination forms a cycle",
        ));
    }
    if !rp.dest.is_empty()
        && crate::mapping::SubjectTransform::new_unvalidated(&rp.src, &rp.dest).is_err()
    {
        return Err(invalid(format!(
            "stream configuration for republish with transform from '{}' to '{}' not valid",
            rp.src, rp.dest
        )));
    }
    Ok(())
}

/// The checks of a CREATE against the rest of the account: `others` are the configs of the
/// existing streams except the one being created or updated.
pub fn check_against_others<'a>(
    cfg: &StreamConfig,
    others: impl IntoIterator<Item = &'a StreamConfig>,
) -> Result<(), ApiError> {
    let others: Vec<&StreamConfig> = others.into_iter().collect();
    // A local origin it can see must not take messages larger than this stream may hold.
    let too_small = |origin: &str| {
        others.iter().any(|o| {
            o.name == origin
                && cfg.max_msg_size > 0
                && o.max_msg_size > 0
                && cfg.max_msg_size < o.max_msg_size
        })
    };
    if let Some(m) = cfg.mirror.as_ref().filter(|m| m.external.is_none()) {
        if too_small(&m.name) {
            return Err(ApiError::MirrorMaxMessageSizeTooBig);
        }
    }
    for src in cfg.sources.iter().filter(|s| s.external.is_none()) {
        if too_small(&src.name) {
            return Err(ApiError::SourceMaxMessageSizeTooBig);
        }
    }
    for o in others {
        if o.name == cfg.name {
            continue;
        }
        if cfg
            .subjects
            .iter()
            .any(|s| o.subjects.iter().any(|t| collide(s, t)))
        {
            return Err(ApiError::SubjectOverlap);
        }
    }
    Ok(())
}

/// `configUpdateCheck`: what an UPDATE may not change, after `new` was normalised.
pub fn check_update(old: &StreamConfig, new: &StreamConfig) -> Result<(), ApiError> {
    if new.name != old.name {
        return Err(invalid("stream configuration name must match original"));
    }
    if new.num_replicas > 1 {
        return Err(ApiError::ReplicasNotSupported);
    }
    if new.storage != old.storage {
        return Err(invalid(
            "stream configuration update can not change storage type",
        ));
    }
    if new.retention != old.retention
        && (old.retention == Retention::WorkQueue || new.retention == Retention::WorkQueue)
    {
        return Err(invalid(
            "stream configuration update can not change retention policy to/from workqueue",
        ));
    }
    if !new.sealed && old.sealed {
        return Err(invalid(
            "stream configuration update can not unseal a sealed stream",
        ));
    }
    if !new.deny_delete && old.deny_delete {
        return Err(invalid(
            "stream configuration update can not cancel deny message deletes",
        ));
    }
    if !new.deny_purge && old.deny_purge {
        return Err(invalid(
            "stream configuration update can not cancel deny purge",
        ));
    }
    if new.mirror.is_some() && new.mirror != old.mirror {
        return Err(ApiError::MirrorNotUpdatable);
    }
    check_discard_new_per_subject(new)?;
    if old.allow_msg_ttl && !new.allow_msg_ttl {
        return Err(invalid("message TTL status can not be disabled"));
    }
    if new.allow_msg_counter != old.allow_msg_counter {
        return Err(invalid(
            "stream configuration update can not change message counter setting",
        ));
    }
    if old.allow_msg_schedules && !new.allow_msg_schedules {
        return Err(invalid("message schedules can not be disabled"));
    }
    if old.persist_mode != new.persist_mode {
        return Err(invalid(
            "stream configuration update can not change persist mode",
        ));
    }
    Ok(())
}

/// What a sealed stream's config becomes on UPDATE (nats-server forces these).
pub fn apply_seal(cfg: &mut StreamConfig) {
    if cfg.sealed {
        cfg.max_age_ns = 0;
        cfg.discard = DiscardPolicy::New;
        cfg.deny_delete = true;
        cfg.deny_purge = true;
        cfg.allow_rollup_hdrs = false;
    }
}

/// Whether some subject matches both patterns (nats-server's `SubjectsCollide`).
pub fn collide(a: &str, b: &str) -> bool {
    let (mut ta, mut tb) = (a.split('.'), b.split('.'));
    loop {
        match (ta.next(), tb.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == "*" || y == "*" || x == y => continue,
            _ => return false,
        }
    }
}

/// Whether every subject `subj` matches is matched by `pattern` (`subjectIsSubsetMatch`).
pub fn is_subset(subj: &str, pattern: &str) -> bool {
    let (mut ts, mut tp) = (subj.split('.'), pattern.split('.'));
    loop {
        match (ts.next(), tp.next()) {
            (None, None) => return true,
            (Some(_), Some(">")) => return true,
            (Some(s), Some("*")) if s != ">" => continue,
            (Some(s), Some(p)) if s == p && s != "*" && s != ">" => continue,
            _ => return false,
        }
    }
}
