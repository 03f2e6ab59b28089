//! [`handle`]: one `$JS.API` request in, one [`Response`] out, in nats-server 2.15.1's order
//! of checks per request (that order decides which error a client sees).
//!
//! Invariants: the backend is only asked to change state after every check passed; an error
//! reply always carries the request's `type` and, where nats-server adds them, the paging
//! fields (`total`/`offset`/`limit` on STREAM.INFO, `purged` on STREAM.PURGE).

use super::backend::{PurgeRequest, StateDetail, StreamBackend};
use super::config::{
    decode, nullable, Compression, PersistMode, StreamConfig, StreamConfigRequest,
};
use super::error::ApiError;
use super::headers::Headers;
use super::info::{AccountInfoBody, ApiStats, ClusterInfo, StreamInfoBody, StreamView, UnixNanos};
use super::messages::{direct_get, msg_delete, msg_get, status};
use super::request::ApiRequest;
use super::validate::{apply_seal, check_against_others, check_update, collide, normalize};
use super::{to_go_json, ApiEnv, Features, Response};
use serde::{Deserialize, Serialize};

/// STREAM.NAMES page size.
pub const NAMES_PAGE_MAX: usize = 1024;
/// STREAM.LIST page size.
pub const LIST_PAGE_MAX: usize = 256;
/// The most subjects one STREAM.INFO lists (`JSMaxSubjectDetails`).
pub const SUBJECT_DETAILS_MAX: usize = 100_000;

/// Answers one request. A `CONSUMER.*` request gives `Response::Consumer` (after the
/// stream-not-found check): call [`handle_consumer`](super::handle_consumer) for those, or
/// for every request, as it passes the others here. `hdr` is the request's header block (empty for a plain PUB): a
/// `Nats-Required-Api-Level` above ours is refused with 412 as nats-server does. `reply`
/// empty means nobody waits: the request is still carried out, nothing is sent.
pub fn handle<B: StreamBackend>(
    subject: &str,
    reply: &str,
    hdr: &[u8],
    payload: &[u8],
    now: UnixNanos,
    backend: &mut B,
    env: &mut ApiEnv,
) -> Response {
    let Some(req) = ApiRequest::parse(subject) else {
        return Response::None;
    };
    handle_request(req, reply, hdr, payload, now, backend, env)
}

/// [`handle`] for a subject already parsed.
pub(super) fn handle_request<B: StreamBackend>(
    req: ApiRequest<'_>,
    reply: &str,
    hdr: &[u8],
    payload: &[u8],
    now: UnixNanos,
    backend: &mut B,
    env: &mut ApiEnv,
) -> Response {
    let (resp, failed) = match gate(&req, hdr, env) {
        Some(refusal) => refusal,
        None => dispatch(req, payload, now, backend, env),
    };
    if !matches!(
        resp,
        Response::None | Response::NoResponders | Response::Consumer
    ) {
        env.api_total += 1;
        env.api_errors += u64::from(failed);
    }
    if reply.is_empty() && !matches!(resp, Response::Consumer) {
        return Response::None;
    }
    resp
}

/// The checks every JSON request passes first, in nats-server's order: the required API
/// level, then whether JetStream is enabled for the account.
pub(super) fn gate(req: &ApiRequest<'_>, hdr: &[u8], env: &ApiEnv) -> Option<(Response, bool)> {
    let level = Headers::parse(hdr)
        .ok()
        .and_then(|h| h.get(HDR_REQUIRED_API_LEVEL));
    let too_high = level.is_some_and(|l| l.parse::<u32>().map_or(true, |l| l > env.api_level));
    let Some(ty) = req.response_type() else {
        // Direct gets and pulls have no JSON reply; without JetStream nobody serves them.
        if !env.enabled {
            return Some((Response::NoResponders, false));
        }
        let direct = matches!(
            req,
            ApiRequest::DirectGet { .. } | ApiRequest::DirectGetLastFor { .. }
        );
        return (direct && too_high).then(|| status(412, "Required Api Level"));
    };
    if too_high {
        return Some(early_error(req, ty, &ApiError::RequiredApiLevel));
    }
    if !env.enabled {
        return Some(early_error(req, ty, &ApiError::NotEnabledForAccount));
    }
    None
}

/// The header with the API level a request needs.
pub const HDR_REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

/// An error reply with the extra fields nats-server's response type carries even then: the
/// paging fields (and an empty page) on names/list/info, `purged` on purge.
pub(super) fn early_error(req: &ApiRequest<'_>, ty: &str, e: &ApiError) -> (Response, bool) {
    use ApiRequest::*;
    let doc = Doc::new(ty).field("error", e);
    let paged = |d: Doc| d.field("total", &0).field("offset", &0).field("limit", &0);
    let empty: [u8; 0] = [];
    let doc = match req {
        StreamInfo { .. } => paged(doc),
        StreamNames => paged(doc).field("streams", &None::<Vec<String>>),
        StreamList => paged(doc).field("streams", &empty),
        ConsumerNames { .. } | ConsumerList { .. } => paged(doc).field("consumers", &empty),
        StreamPurge { .. } => doc.field("purged", &0),
        _ => doc,
    };
    (doc.done().0, true)
}

/// A JSON document under construction: `type` first, then fields in call order.
pub(super) struct Doc(Vec<u8>);

impl Doc {
    pub(super) fn new(ty: &str) -> Doc {
        Doc(format!("{{\"type\":\"io.nats.jetstream.api.v1.{ty}\"").into_bytes())
    }
    pub(super) fn field<T: Serialize + ?Sized>(mut self, key: &str, v: &T) -> Doc {
        self.0.extend_from_slice(format!(",\"{key}\":").as_bytes());
        self.0.extend_from_slice(&to_go_json(v));
        self
    }
    /// Appends the fields of a JSON object.
    pub(super) fn splice<T: Serialize>(mut self, obj: &T) -> Doc {
        let b = to_go_json(obj);
        if b.len() > 2 {
            self.0.push(b',');
            self.0.extend_from_slice(&b[1..b.len() - 1]);
        }
        self
    }
    pub(super) fn done(mut self) -> (Response, bool) {
        self.0.push(b'}');
        (Response::Json(self.0), false)
    }
    pub(super) fn fail(self, e: &ApiError) -> (Response, bool) {
        (self.field("error", e).done().0, true)
    }
}

fn dispatch<B: StreamBackend>(
    req: ApiRequest<'_>,
    payload: &[u8],
    now: UnixNanos,
    b: &mut B,
    env: &ApiEnv,
) -> (Response, bool) {
    let ty = req.response_type().unwrap_or("");
    use ApiRequest::*;
    match req {
        AccountInfo => account_info(b, env),
        StreamCreate { stream } => create(Doc::new(ty), stream, payload, now, b, env),
        StreamUpdate { stream } => update(Doc::new(ty), stream, payload, now, b, env),
        StreamInfo { stream } => info(ty, stream, payload, now, b, env),
        StreamDelete { stream } => delete(Doc::new(ty), stream, payload, b),
        StreamPurge { stream } => purge(ty, stream, payload, b),
        StreamNames => names(Doc::new(ty), payload, b),
        StreamList => list(Doc::new(ty), payload, now, b),
        StreamMsgGet { stream } => msg_get(Doc::new(ty), stream, payload, b),
        StreamMsgDelete { stream } => msg_delete(Doc::new(ty), stream, payload, b),
        DirectGet { stream } => direct_get(stream, None, payload, b),
        DirectGetLastFor { stream, subject } => direct_get(stream, Some(subject), payload, b),
        // A pull on a missing stream gets silence from nats-server, not an error document.
        ConsumerMsgNext { .. } => (Response::Consumer, false),
        ConsumerCreate { stream, .. }
        | ConsumerDurableCreate { stream, .. }
        | ConsumerInfo { stream, .. }
        | ConsumerDelete { stream, .. }
        | ConsumerNames { stream }
        | ConsumerList { stream }
        | ConsumerPause { stream, .. }
        | ConsumerUnpin { stream, .. }
        | ConsumerReset { stream, .. } => {
            if b.stream(stream, &StateDetail::default()).is_none() {
                return early_error(&req, ty, &ApiError::StreamNotFound);
            }
            (Response::Consumer, false)
        }
    }
}

fn account_info<B: StreamBackend>(b: &B, env: &ApiEnv) -> (Response, bool) {
    let u = b.usage();
    let body = AccountInfoBody {
        memory: u.memory,
        storage: u.storage,
        reserved_memory: u.reserved_memory,
        reserved_storage: u.reserved_storage,
        streams: u.streams,
        consumers: u.consumers,
        limits: &env.limits,
        domain: env.domain.as_deref(),
        api: ApiStats {
            level: env.api_level,
            total: env.api_total,
            errors: env.api_errors,
        },
    };
    Doc::new("account_info_response").splice(&body).done()
}

/// The StreamInfo fields of a create/update/info/list reply.
fn info_body<'a>(
    v: &'a StreamView,
    config: &'a StreamConfig,
    now: UnixNanos,
    leader: Option<&'a str>,
) -> StreamInfoBody<'a> {
    StreamInfoBody {
        config,
        created: v.created,
        state: &v.state,
        cluster: leader
            .filter(|l| !l.is_empty())
            .map(|leader| ClusterInfo { leader }),
        mirror: v.mirror.as_ref(),
        sources: &v.sources,
        ts: now,
    }
}

/// A config a create or update may carry, checked up to the point where the other streams
/// matter. Returns the normalised config.
fn checked_config(
    stream: &str,
    req: StreamConfigRequest,
    env: &ApiEnv,
) -> Result<StreamConfig, ApiError> {
    let mut cfg = req.config;
    cfg.set_static_metadata();
    if stream != cfg.name {
        return Err(ApiError::StreamMismatch);
    }
    if stream.contains(['\\', '/']) {
        return Err(ApiError::NameContainsPathSeparators);
    }
    let cfg = normalize(&cfg, req.pedantic)?;
    if cfg.num_replicas > 1 {
        return Err(ApiError::ReplicasNotSupported);
    }
    if let Some(what) = unsupported(&cfg, &env.features) {
        return Err(ApiError::InvalidConfig(format!("{what} not supported")));
    }
    Ok(cfg)
}

/// The first feature the config asks for that the store does not have.
fn unsupported(cfg: &StreamConfig, f: &Features) -> Option<&'static str> {
    let links = || cfg.mirror.iter().chain(&cfg.sources);
    let asks = [
        (
            links().any(|l| l.external.is_some()) && !f.external_sources,
            "external stream sources are",
        ),
        (
            links().any(|l| l.consumer.is_some()) && !f.durable_sourcing,
            "durable sourcing consumers are",
        ),
        (cfg.mirror.is_some() && !f.mirrors, "stream mirrors are"),
        (!cfg.sources.is_empty() && !f.sources, "stream sources are"),
        (cfg.republish.is_some() && !f.republish, "republish is"),
        (
            cfg.subject_transform.is_some() && !f.subject_transform,
            "subject transforms are",
        ),
        (cfg.allow_msg_ttl && !f.msg_ttl, "per-message TTLs are"),
        (
            cfg.subject_delete_marker_ttl_ns > 0 && !f.subject_delete_markers,
            "subject delete markers are",
        ),
        (
            cfg.allow_msg_counter && !f.msg_counter,
            "message counters are",
        ),
        (cfg.allow_atomic && !f.atomic_publish, "atomic publish is"),
        (
            cfg.allow_batched && !f.batched_publish,
            "batched publish is",
        ),
        (
            cfg.allow_msg_schedules && !f.msg_schedules,
            "message schedules are",
        ),
        (
            cfg.persist_mode == PersistMode::Async && !f.async_persist,
            "async persist mode is",
        ),
        (
            cfg.compression == Compression::S2 && !f.s2_compression,
            "s2 compression is",
        ),
    ];
    asks.into_iter().find(|(hit, _)| *hit).map(|(_, what)| what)
}

/// A mirror of a local stream answers direct gets as its origin does: nats-server sets
/// `mirror_direct` to the origin's `allow_direct` when it can see the origin.
fn inherit_mirror_direct<B: StreamBackend>(cfg: &mut StreamConfig, b: &B) {
    let Some(m) = cfg.mirror.as_ref().filter(|m| m.external.is_none()) else {
        return;
    };
    if let Some(origin) = b.stream(&m.name, &StateDetail::default()) {
        cfg.mirror_direct = origin.config.allow_direct;
    }
}

fn others<B: StreamBackend>(b: &B, except: &str) -> Vec<StreamConfig> {
    b.stream_names()
        .iter()
        .filter(|n| n.as_str() != except)
        .filter_map(|n| b.stream(n, &StateDetail::default()).map(|v| v.config))
        .collect()
}

fn check_account_limits(cfg: &StreamConfig, env: &ApiEnv, streams: usize) -> Result<(), ApiError> {
    let l = &env.limits;
    if l.max_streams > 0 && streams as i64 >= l.max_streams {
        return Err(ApiError::MaximumStreamsLimit);
    }
    if l.max_bytes_required && cfg.max_bytes <= 0 {
        return Err(ApiError::MaxBytesRequired);
    }
    let per_stream = match cfg.storage {
        super::config::Storage::Memory => l.memory_max_stream_bytes,
        super::config::Storage::File => l.storage_max_stream_bytes,
    };
    if per_stream > 0 && cfg.max_bytes > per_stream {
        return Err(ApiError::MaxStreamBytesExceeded);
    }
    Ok(())
}

fn create<B: StreamBackend>(
    doc: Doc,
    stream: &str,
    payload: &[u8],
    now: UnixNanos,
    b: &mut B,
    env: &ApiEnv,
) -> (Response, bool) {
    let run = |b: &mut B| -> Result<StreamView, ApiError> {
        let req: StreamConfigRequest = decode(payload)?;
        // nats-server refuses these before normalising, with these texts.
        if req.config.name == stream && !stream.contains(['\\', '/']) {
            if req.config.sealed {
                return Err(ApiError::InvalidConfig(
                    "stream configuration for create can not be sealed".into(),
                ));
            }
            if req.config.mirror_direct && req.config.mirror.is_none() {
                return Err(ApiError::InvalidConfig(
                    "stream has no mirror but does have mirror direct".into(),
                ));
            }
        }
        let mut cfg = checked_config(stream, req, env)?;
        inherit_mirror_direct(&mut cfg, b);
        if let Some(existing) = b.stream(stream, &StateDetail::default()) {
            if existing.config != cfg {
                return Err(ApiError::StreamNameExist);
            }
            return Ok(existing);
        }
        check_account_limits(&cfg, env, b.stream_names().len())?;
        check_against_others(&cfg, &others(b, stream))?;
        b.create_stream(cfg, now)?;
        b.stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)
    };
    match run(b) {
        Ok(v) => {
            let cfg = v
                .config
                .with_dynamic_metadata(env.api_level, &env.server_version);
            doc.splice(&info_body(&v, &cfg, now, None))
                .field("did_create", &true)
                .done()
        }
        Err(e) => doc.fail(&e),
    }
}

fn update<B: StreamBackend>(
    doc: Doc,
    stream: &str,
    payload: &[u8],
    now: UnixNanos,
    b: &mut B,
    env: &ApiEnv,
) -> (Response, bool) {
    let run = |b: &mut B| -> Result<StreamView, ApiError> {
        let req: StreamConfigRequest = decode(payload)?;
        if req.config.name != stream {
            return Err(ApiError::StreamMismatch);
        }
        let old = b
            .stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)?;
        let mut cfg = checked_config(stream, req, env)?;
        inherit_mirror_direct(&mut cfg, b);
        check_update(&old.config, &cfg)?;
        apply_seal(&mut cfg);
        check_against_others(&cfg, &others(b, stream))?;
        if cfg != old.config {
            b.update_stream(cfg, now)?;
        }
        b.stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)
    };
    match run(b) {
        Ok(v) => {
            let cfg = v
                .config
                .with_dynamic_metadata(env.api_level, &env.server_version);
            doc.splice(&info_body(&v, &cfg, now, None)).done()
        }
        Err(e) => doc.fail(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct InfoRequest {
    #[serde(default, deserialize_with = "nullable")]
    subjects_filter: String,
    #[serde(default, deserialize_with = "nullable")]
    deleted_details: bool,
    #[serde(default, deserialize_with = "nullable")]
    offset: usize,
}

fn info<B: StreamBackend>(
    ty: &str,
    stream: &str,
    payload: &[u8],
    now: UnixNanos,
    b: &B,
    env: &ApiEnv,
) -> (Response, bool) {
    let failed = |e: ApiError| early_error(&ApiRequest::StreamInfo { stream }, ty, &e).0;
    let req: InfoRequest = match decode(payload) {
        Ok(r) => r,
        Err(e) => return (failed(e), true),
    };
    let detail = StateDetail {
        subjects_filter: (!req.subjects_filter.is_empty()).then(|| req.subjects_filter.clone()),
        deleted_details: req.deleted_details,
    };
    let Some(mut v) = b.stream(stream, &detail) else {
        return (failed(ApiError::StreamNotFound), true);
    };
    let (mut total, mut offset, mut limit) = (0, 0, 0);
    if let Some(subjects) = v.state.subjects.take() {
        total = subjects.len();
        offset = req.offset.min(total);
        limit = SUBJECT_DETAILS_MAX;
        let page: std::collections::BTreeMap<_, _> =
            subjects.into_iter().skip(offset).take(limit).collect();
        v.state.subjects = Some(page);
    }
    let cfg = v
        .config
        .with_dynamic_metadata(env.api_level, &env.server_version);
    Doc::new(ty)
        .field("total", &total)
        .field("offset", &offset)
        .field("limit", &limit)
        .splice(&info_body(&v, &cfg, now, Some(&env.server_name)))
        .done()
}

/// nats-server's `isEmptyRequest`: no bytes at all, or a JSON object with no keys. `null`
/// and whitespace are not empty (STREAM.DELETE answers them with 10038).
pub(super) fn is_empty_request(payload: &[u8]) -> bool {
    payload.is_empty()
        || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload)
            .is_ok_and(|m| m.is_empty())
}

fn delete<B: StreamBackend>(doc: Doc, stream: &str, payload: &[u8], b: &mut B) -> (Response, bool) {
    if !is_empty_request(payload) {
        return doc.fail(&ApiError::NotEmptyRequest);
    }
    match b.delete_stream(stream) {
        Ok(()) => doc.field("success", &true).done(),
        Err(e) => doc.fail(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct PurgeBody {
    #[serde(default, deserialize_with = "nullable")]
    filter: String,
    #[serde(default, deserialize_with = "nullable")]
    seq: u64,
    #[serde(default, deserialize_with = "nullable")]
    keep: u64,
}

fn purge<B: StreamBackend>(ty: &str, stream: &str, payload: &[u8], b: &mut B) -> (Response, bool) {
    let run = |b: &mut B| -> Result<u64, ApiError> {
        let body: PurgeBody = decode(payload)?;
        if body.seq > 0 && body.keep > 0 {
            return Err(ApiError::BadRequest);
        }
        let v = b
            .stream(stream, &StateDetail::default())
            .ok_or(ApiError::StreamNotFound)?;
        if v.config.sealed {
            return Err(ApiError::Sealed);
        }
        if v.config.deny_purge {
            return Err(ApiError::PurgeFailed("stream purge not permitted".into()));
        }
        let req = PurgeRequest {
            filter: (!body.filter.is_empty()).then_some(body.filter),
            seq: (body.seq > 0).then_some(body.seq),
            keep: (body.keep > 0).then_some(body.keep),
        };
        b.purge(stream, &req)
    };
    match run(b) {
        Ok(n) => Doc::new(ty)
            .field("success", &true)
            .field("purged", &n)
            .done(),
        Err(e) => (
            Doc::new(ty).field("error", &e).field("purged", &0).done().0,
            true,
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
struct NamesRequest {
    #[serde(default, deserialize_with = "nullable")]
    offset: usize,
    #[serde(default, deserialize_with = "nullable")]
    subject: String,
}

/// The names matching the request's subject filter, and the page of them after `offset`.
fn select<B: StreamBackend>(b: &B, req: &NamesRequest, page_max: usize) -> (usize, Vec<String>) {
    let names: Vec<String> = b
        .stream_names()
        .into_iter()
        .filter(|n| {
            req.subject.is_empty()
                || b.stream(n, &StateDetail::default())
                    .is_some_and(|v| v.config.subjects.iter().any(|s| collide(&req.subject, s)))
        })
        .collect();
    let total = names.len();
    (
        total,
        names.into_iter().skip(req.offset).take(page_max).collect(),
    )
}

fn names<B: StreamBackend>(doc: Doc, payload: &[u8], b: &B) -> (Response, bool) {
    let req: NamesRequest = match decode(payload) {
        Ok(r) => r,
        Err(e) => return early_error(&ApiRequest::StreamNames, "stream_names_response", &e),
    };
    let (total, page) = select(b, &req, NAMES_PAGE_MAX);
    // nats-server sends `null` rather than `[]` when nothing matched.
    let streams = (!page.is_empty()).then_some(page);
    doc.field("total", &total)
        .field("offset", &req.offset)
        .field("limit", &NAMES_PAGE_MAX)
        .field("streams", &streams)
        .done()
}

fn list<B: StreamBackend>(doc: Doc, payload: &[u8], now: UnixNanos, b: &B) -> (Response, bool) {
    let req: NamesRequest = match decode(payload) {
        Ok(r) => r,
        Err(e) => return early_error(&ApiRequest::StreamList, "stream_list_response", &e),
    };
    let (total, page) = select(b, &req, LIST_PAGE_MAX);
    let views: Vec<StreamView> = page
        .iter()
        .filter_map(|n| b.stream(n, &StateDetail::default()))
        .collect();
    // The list shows the stored config: no response-only metadata (as nats-server's does).
    let infos: Vec<StreamInfoBody<'_>> = views
        .iter()
        .map(|v| info_body(v, &v.config, now, None))
        .collect();
    doc.field("total", &total)
        .field("offset", &req.offset)
        .field("limit", &LIST_PAGE_MAX)
        .field("streams", &infos)
        .done()
}
