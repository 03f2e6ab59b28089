//! [`handle_consumer`]: one `$JS.API.CONSUMER.*` request in, one [`Response`] out, with the
//! checks in nats-server 2.15.1's order per request (`jsConsumerCreateRequest`,
//! `addConsumerWithAction`, the info/names/list/delete/pause/unpin handlers).
//!
//! Invariants: the backend changes state only after every check passed; an error reply
//! carries the request's `type` and the extra fields nats-server adds (the paging fields on
//! names/list, `paused`/`pause_until` on pause).

use super::super::backend::StateDetail;
use super::super::config::{decode, nullable, Retention};
use super::super::error::ApiError;
use super::super::handle::{early_error, gate, handle_request, is_empty_request, Doc};
use super::super::info::UnixNanos;
use super::super::request::ApiRequest;
use super::super::{ApiEnv, Response};
use super::backend::{ConsumerBackend, ConsumerView};
use super::config::{
    decode_create, AckPolicy, ConsumerAction, ConsumerConfig, DeliverPolicy, GoTime,
    PriorityPolicy, EPHEMERAL_INACTIVE_THRESHOLD_NS,
};
use super::error::ConsumerError as E;
use super::info::{ConsumerInfoBody, PauseBody};
use super::validate::{
    check_config, check_update, is_valid_group_name, partition_unique, NAME_MAX_BYTES,
};
use serde::Deserialize;

/// CONSUMER.NAMES page size (`JSApiNamesLimit`).
pub const NAMES_PAGE_MAX: usize = 1024;
/// CONSUMER.LIST page size (`JSApiListLimit`).
pub const LIST_PAGE_MAX: usize = 256;

/// Answers one API request whose subject is under `$JS.API.CONSUMER.`; any other API
/// request is passed to [`handle`], so a shard can call this for every `$JS.API` subject.
/// `Response::Consumer` comes back for MSG.NEXT (a pull request) and RESET, which the
/// consumer engine answers itself. `reply` empty: the request is carried out, nothing sent.
pub fn handle_consumer<B: ConsumerBackend>(
    subject: &str,
    reply: &str,
    hdrs: &[u8],
    body: &[u8],
    now: UnixNanos,
    backend: &mut B,
    env: &mut ApiEnv,
) -> Response {
    let Some(req) = ApiRequest::parse(subject) else {
        return Response::None;
    };
    use ApiRequest::*;
    match req {
        ConsumerReset { .. } => return Response::Consumer,
        ConsumerCreate { .. }
        | ConsumerDurableCreate { .. }
        | ConsumerInfo { .. }
        | ConsumerDelete { .. }
        | ConsumerNames { .. }
        | ConsumerList { .. }
        | ConsumerPause { .. }
        | ConsumerUnpin { .. } => {}
        _ => return handle_request(req, reply, hdrs, body, now, backend, env),
    }
    let ty = req.response_type().unwrap_or("");
    let (resp, failed) = match gate(&req, hdrs, env) {
        Some(refusal) => refusal,
        None => dispatch(req, ty, body, now, backend, env),
    };
    env.api_total += 1;
    env.api_errors += u64::from(failed);
    if reply.is_empty() {
        return Response::None;
    }
    resp
}

fn dispatch<B: ConsumerBackend>(
    req: ApiRequest<'_>,
    ty: &str,
    body: &[u8],
    now: UnixNanos,
    b: &mut B,
    env: &ApiEnv,
) -> (Response, bool) {
    use ApiRequest::*;
    let reply = |r: Result<ConsumerView, ApiError>| match r {
        Ok(v) => {
            let cfg = v
                .config
                .with_dynamic_metadata(env.api_level, &env.server_version);
            Doc::new(ty)
                .splice(&ConsumerInfoBody::new(&v, &cfg, now))
                .done()
        }
        Err(e) => Doc::new(ty).fail(&e),
    };
    match req {
        ConsumerCreate {
            stream, name: None, ..
        } => reply(create(Kind::LegacyEphemeral, stream, body, now, b, env)),
        ConsumerCreate {
            stream,
            name: Some(name),
            filter,
        } => reply(create(
            Kind::New { name, filter },
            stream,
            body,
            now,
            b,
            env,
        )),
        ConsumerDurableCreate { stream, durable } => reply(create(
            Kind::LegacyDurable(durable),
            stream,
            body,
            now,
            b,
            env,
        )),
        ConsumerInfo { stream, consumer } => reply(info(stream, consumer, body, now, b)),
        ConsumerDelete { stream, consumer } => match delete(stream, consumer, body, b) {
            Ok(()) => Doc::new(ty).field("success", &true).done(),
            Err(e) => Doc::new(ty).fail(&e),
        },
        ConsumerNames { stream } => names(&req, ty, stream, body, b),
        ConsumerList { stream } => list(&req, ty, stream, body, now, b),
        ConsumerPause { stream, consumer } => pause(ty, stream, consumer, body, now, b),
        ConsumerUnpin { stream, consumer } => match unpin(stream, consumer, body, now, b) {
            Ok(()) => Doc::new(ty).done(),
            Err(e) => Doc::new(ty).fail(&e),
        },
        _ => (Response::Consumer, false),
    }
}

/// Which create subject the request came on.
#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    /// `CONSUMER.CREATE.<stream>`: the name is `config.name` or generated.
    LegacyEphemeral,
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    LegacyDurable(&'a str),
    /// `CONSUMER.CREATE.<stream>.<name>[.<filter>]`.
    New {
        name: &'a str,
        filter: Option<&'a str>,
    },
}

/// Features a consumer config may ask for that the engine may not have; refused with 10052
/// rather than accepted and ignored.
fn unsupported(cfg: &ConsumerConfig, env: &ApiEnv) -> Option<&'static str> {
    let f = &env.features;
    if (cfg.priority_policy != PriorityPolicy::None || !cfg.priority_groups.is_empty())
        && !f.priority_groups
    {
        return Some("consumer priority groups are not supported");
    }
    if cfg.ack_policy == AckPolicy::FlowControl && !f.ack_flow_control {
        return Some("flow control ack policy is not supported");
    }
    if cfg.filters().len() > 1 && !f.consumer_multi_filters {
        return Some("consumers with several filter subjects are not supported");
    }
    None
}

/// The configs of a stream's consumers other than `except`.
fn other_configs<B: ConsumerBackend>(
    b: &B,
    stream: &str,
    except: &str,
    now: UnixNanos,
) -> Vec<ConsumerConfig> {
    b.consumer_names(stream)
        .unwrap_or_default()
        .iter()
        .filter(|n| n.as_str() != except)
        .filter_map(|n| b.consumer(stream, n, now).map(|v| v.config))
        .collect()
}

fn create<B: ConsumerBackend>(
    kind: Kind<'_>,
    stream: &str,
    body: &[u8],
    now: UnixNanos,
    b: &mut B,
    env: &ApiEnv,
) -> Result<ConsumerView, ApiError> {
    let req = decode_create(body)?;
    let mut cfg = req.config;
    let subject_name = match kind {
        Kind::LegacyEphemeral => cfg.name.clone(),
        Kind::LegacyDurable(n) | Kind::New { name: n, .. } => n.to_string(),
    };
    if req.stream_name != stream {
        return Err(ApiError::StreamMismatch);
    }
    if subject_name.contains(['\\', '/']) {
        return Err(E::NameContainsPathSeparators.into());
    }
    match kind {
        Kind::LegacyDurable(n) => {
            if cfg.durable_name.is_empty() {
                return Err(E::DurableNameNotSet.into());
            }
            if cfg.durable_name != n {
                return Err(E::DurableNameNotMatchSubject.into());
            }
            cfg.name = n.to_string();
        }
        Kind::New { name, .. } => {
            if cfg.is_durable() && cfg.durable_name != name {
                return Err(E::DurableNameNotMatchSubject.into());
            }
            cfg.name = name.to_string();
        }
        Kind::LegacyEphemeral => {
            if cfg.is_durable() {
                return Err(E::EphemeralWithDurableName.into());
            }
        }
    }
    if let Kind::New {
        filter: Some(f), ..
    } = kind
    {
        if !cfg.filter_subjects.is_empty() {
            return Err(E::MultipleFiltersNotAllowed.into());
        }
        if cfg.filter_subject != f {
            return Err(E::CreateFilterSubjectMismatch.into());
        }
    }
    if cfg.num_replicas > 1 {
        return Err(ApiError::ReplicasNotSupported);
    }
    let stream_cfg = b
        .stream(stream, &StateDetail::default())
        .ok_or(ApiError::StreamNotFound)?
        .config;
    if !subject_name.is_empty() {
        // A create may not change a pause: that is what CONSUMER.PAUSE is for.
        if let Some(existing) = b.consumer(stream, &subject_name, now) {
            cfg.pause_until = existing.config.pause_until;
        }
    }
    cfg.set_static_metadata();
    cfg.set_defaults(&stream_cfg, &env.limits, &env.server_limits, req.pedantic)?;
    check_config(&cfg, &stream_cfg, &env.limits, &env.server_limits)?;
    if let Some(what) = unsupported(&cfg, env) {
        return Err(ApiError::InvalidConfig(what.into()));
    }
    let wq = stream_cfg.retention == Retention::WorkQueue;
    let key = if cfg.is_durable() {
        cfg.durable_name.clone()
    } else {
        cfg.name.clone()
    };
    let account_max = env.limits.max_consumers;
    let mut max = stream_cfg.max_consumers;
    if max <= 0 || (account_max > 0 && account_max < max) {
        max = account_max;
    }
    // The other consumers' configs matter only for a limit or a work queue.
    let others = if wq || max > 0 {
        other_configs(b, stream, &key, now)
    } else {
        Vec::new()
    };
    if let Some(old) = (!key.is_empty())
        .then(|| b.consumer(stream, &key, now))
        .flatten()
    {
        if req.action == ConsumerAction::Create {
            let mut asked = cfg.clone();
            asked.copy_metadata_from(&old.config);
            if asked != old.config {
                return Err(E::AlreadyExists.into());
            }
        }
        if wq && !partition_unique(&cfg.filters(), &others) {
            return Err(E::WorkQueueNotUnique.into());
        }
        let bound = old.config.is_push()
            && (old.state.push_bound || b.has_interest(&old.config.deliver_subject));
        check_update(&old.config, &cfg, bound)?;
        // nats-server stamps the ephemeral default again when a threshold is dropped, judging
        // "ephemeral" by the old config.
        if cfg.inactive_threshold_ns != old.config.inactive_threshold_ns
            && !old.config.is_durable()
            && cfg.inactive_threshold_ns <= 0
        {
            cfg.inactive_threshold_ns = EPHEMERAL_INACTIVE_THRESHOLD_NS;
        }
        if cfg == old.config {
            return Ok(old);
        }
        return b.update_consumer(stream, cfg, now);
    }
    if req.action == ConsumerAction::Update {
        return Err(E::DoesNotExist.into());
    }
    let counted = others.iter().filter(|o| !o.direct && !o.sourcing).count() as i64;
    if max > 0 && counted >= max {
        return Err(ApiError::MaximumConsumersLimit);
    }
    if wq && !cfg.direct && !cfg.sourcing {
        if !matches!(cfg.ack_policy, AckPolicy::Explicit | AckPolicy::FlowControl) {
            return Err(E::WorkQueueRequiresExplicitAck.into());
        }
        if cfg.deliver_policy != DeliverPolicy::All {
            return Err(E::WorkQueueNotDeliverAll.into());
        }
        if counted > 0 {
            let filters = cfg.filters();
            if filters.is_empty() {
                return Err(E::WorkQueueMultipleUnfiltered.into());
            }
            if !partition_unique(&filters, &others) {
                return Err(E::WorkQueueNotUnique.into());
            }
        }
    }
    if cfg.is_durable() {
        if cfg.durable_name.len() > NAME_MAX_BYTES {
            return Err(E::NameTooLong(NAME_MAX_BYTES).into());
        }
    } else if cfg.name.is_empty() {
        cfg.name = loop {
            let n = b.new_consumer_name();
            if b.consumer(stream, &n, now).is_none() {
                break n;
            }
        };
    }
    if !cfg.is_durable() && cfg.inactive_threshold_ns <= 0 {
        cfg.inactive_threshold_ns = EPHEMERAL_INACTIVE_THRESHOLD_NS;
    }
    b.create_consumer(stream, cfg, now)
}

fn info<B: ConsumerBackend>(
    stream: &str,
    consumer: &str,
    body: &[u8],
    now: UnixNanos,
    b: &B,
) -> Result<ConsumerView, ApiError> {
    if !is_empty_request(body) {
        return Err(ApiError::NotEmptyRequest);
    }
    b.stream(stream, &StateDetail::default())
        .ok_or(ApiError::StreamNotFound)?;
    b.consumer(stream, consumer, now)
        .ok_or(ApiError::ConsumerNotFound)
}

fn delete<B: ConsumerBackend>(
    stream: &str,
    consumer: &str,
    body: &[u8],
    b: &mut B,
) -> Result<(), ApiError> {
    if !is_empty_request(body) {
        return Err(ApiError::NotEmptyRequest);
    }
    b.stream(stream, &StateDetail::default())
        .ok_or(ApiError::StreamNotFound)?;
    if b.consumer_names(stream)?.iter().all(|n| n != consumer) {
        return Err(ApiError::ConsumerNotFound);
    }
    b.delete_consumer(stream, consumer)
}

/// nats-server's `isJSONObjectOrArray`: only such bodies are decoded by names/list/pause;
/// anything else (empty, `null`, junk) is treated as no request.
fn is_json_object_or_array(body: &[u8]) -> bool {
    body.iter()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|c| matches!(c, b'{' | b'['))
}

#[derive(Debug, Default, Deserialize)]
struct PageRequest {
    #[serde(default, deserialize_with = "nullable")]
    offset: i64,
}

/// The names of a stream's consumers, and the page of them after the request's offset.
fn page<B: ConsumerBackend>(
    stream: &str,
    body: &[u8],
    b: &B,
    page_max: usize,
) -> Result<(usize, usize, Vec<String>), ApiError> {
    let mut offset = 0;
    if is_json_object_or_array(body) {
        let req: PageRequest = decode(body)?;
        offset = req.offset.max(0) as usize;
    }
    b.stream(stream, &StateDetail::default())
        .ok_or(ApiError::StreamNotFound)?;
    let names = b.consumer_names(stream)?;
    let total = names.len();
    let offset = offset.min(total);
    Ok((
        total,
        offset,
        names.into_iter().skip(offset).take(page_max).collect(),
    ))
}

fn names<B: ConsumerBackend>(
    req: &ApiRequest<'_>,
    ty: &str,
    stream: &str,
    body: &[u8],
    b: &B,
) -> (Response, bool) {
    match page(stream, body, b, NAMES_PAGE_MAX) {
        Ok((total, offset, names)) => Doc::new(ty)
            .field("total", &total)
            .field("offset", &offset)
            .field("limit", &NAMES_PAGE_MAX)
            .field("consumers", &names)
            .done(),
        Err(e) => early_error(req, ty, &e),
    }
}

fn list<B: ConsumerBackend>(
    req: &ApiRequest<'_>,
    ty: &str,
    stream: &str,
    body: &[u8],
    now: UnixNanos,
    b: &B,
) -> (Response, bool) {
    let (total, offset, names) = match page(stream, body, b, LIST_PAGE_MAX) {
        Ok(p) => p,
        Err(e) => return early_error(req, ty, &e),
    };
    let views: Vec<ConsumerView> = names
        .iter()
        .filter_map(|n| b.consumer(stream, n, now))
        .collect();
    // The list shows the stored config, without the response-only metadata.
    let infos: Vec<ConsumerInfoBody<'_>> = views
        .iter()
        .map(|v| ConsumerInfoBody::new(v, &v.config, now))
        .collect();
    Doc::new(ty)
        .field("total", &total)
        .field("offset", &offset)
        .field("limit", &LIST_PAGE_MAX)
        .field("consumers", &infos)
        .done()
}

#[derive(Debug, Default, Deserialize)]
struct PauseRequest {
    #[serde(default)]
    pause_until: Option<GoTime>,
}

/// The config of a consumer paused until `until` (None: resumed), with the
/// `_nats.req.level` that goes with it. Backends store this in `pause_consumer`.
pub fn paused_config(old: &ConsumerConfig, until: Option<UnixNanos>) -> ConsumerConfig {
    let mut cfg = old.clone();
    cfg.pause_until = until.map(GoTime::from_unix_nanos);
    cfg.set_static_metadata();
    cfg
}

fn pause<B: ConsumerBackend>(
    ty: &str,
    stream: &str,
    consumer: &str,
    body: &[u8],
    now: UnixNanos,
    b: &mut B,
) -> (Response, bool) {
    let run = |b: &mut B| -> Result<Option<UnixNanos>, ApiError> {
        let mut req = PauseRequest::default();
        if is_json_object_or_array(body) {
            req = decode(body)?;
        }
        b.stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)?;
        b.consumer(stream, consumer, now)
            .ok_or(ApiError::ConsumerNotFound)?;
        let until = req
            .pause_until
            .filter(|t| !t.is_zero())
            .map(|t| t.unix_nanos());
        b.pause_consumer(stream, consumer, until, now)?;
        Ok(until)
    };
    match run(b) {
        Ok(until) => {
            let remaining = until.map_or(0, |t| t.saturating_sub(now).max(0));
            Doc::new(ty)
                .splice(&PauseBody {
                    paused: remaining > 0,
                    pause_until: until.map_or(GoTime::ZERO, GoTime::from_unix_nanos).format(),
                    pause_remaining: remaining,
                })
                .done()
        }
        Err(e) => (
            Doc::new(ty)
                .field("error", &e)
                .splice(&PauseBody {
                    paused: false,
                    pause_until: GoTime::ZERO.format(),
                    pause_remaining: 0,
                })
                .done()
                .0,
            true,
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
struct UnpinRequest {
    #[serde(default, deserialize_with = "nullable")]
    group: String,
}

fn unpin<B: ConsumerBackend>(
    stream: &str,
    consumer: &str,
    body: &[u8],
    now: UnixNanos,
    b: &mut B,
) -> Result<(), ApiError> {
    // nats-server decodes this body with plain json.Unmarshal: an empty one is an error.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson("unexpected end of JSON input".into()));
    }
    let req: UnpinRequest = decode(body)?;
    if req.group.is_empty() {
        return Err(ApiError::InvalidJson("consumer group not specified".into()));
    }
    if !is_valid_group_name(&req.group) {
        return Err(E::InvalidGroupName.into());
    }
    b.stream(stream, &StateDetail::default())
        .ok_or(ApiError::StreamNotFound)?;
    let v = b
        .consumer(stream, consumer, now)
        .ok_or(ApiError::ConsumerNotFound)?;
    if !v.config.priority_groups.contains(&req.group) {
        return Err(E::InvalidPriorityGroup.into());
    }
    b.unpin_consumer(stream, consumer, &req.group, now)
}
