//! Feeds arbitrary subjects and bodies to the `$JS.API` layer and checks that:
//! - subject parsing and request handling never panic, and every JSON answer is valid JSON
//!   that starts with its `type`;
//! - a config that decodes and normalises normalises to itself again (so an echoed config
//!   fed back to UPDATE is a no-op);
//! - header blocks and the publish checks never panic on any bytes;
//! - the consumer requests (through `handle_consumer`, which also passes the stream requests
//!   on to `handle`) never panic either, and a consumer config that takes the defaults takes
//!   them again unchanged.
//!
//! Input: `subject \0 body`; the first byte of the subject also picks a prefix so the fuzzer
//! reaches the stream requests without having to guess `$JS.API.` first.

#![no_main]

use libfuzzer_sys::fuzz_target;
use natrix::jetstream::api::backend::{MsgQuery, PurgeRequest, StateDetail, StoredMsg};
use natrix::jetstream::api::config::{decode, StreamConfigRequest};
use natrix::jetstream::api::headers::Headers;
use natrix::jetstream::api::publish::{self, DedupTable, Incoming, StreamPublishState};
use natrix::jetstream::api::validate::normalize;
use natrix::jetstream::api::consumer::{
    paused_config, ConsumerStateView, CreateConsumerRequest,
};
use natrix::jetstream::api::{
    handle_consumer, AccountLimits, AccountUsage, ApiEnv, ApiError, ApiRequest, ConsumerBackend,
    ConsumerConfig, ConsumerView, Features, Response, StreamBackend, StreamConfig, StreamState,
    StreamView, UnixNanos,
};
use std::collections::BTreeMap;

/// Streams without messages and consumers without state: enough for every request path.
#[derive(Default)]
struct Configs(BTreeMap<String, StreamConfig>, BTreeMap<(String, String), ConsumerConfig>, u64);

impl Configs {
    fn view(&self, stream: &str, name: &str) -> Option<ConsumerView> {
        let config = self.1.get(&(stream.to_string(), name.to_string()))?.clone();
        Some(ConsumerView {
            stream: stream.into(),
            name: name.into(),
            config,
            created: 1,
            state: ConsumerStateView::default(),
            paused_until: None,
            pin: None,
        })
    }
}

impl ConsumerBackend for Configs {
    fn consumer_names(&self, stream: &str) -> Result<Vec<String>, ApiError> {
        if !self.0.contains_key(stream) {
            return Err(ApiError::StreamNotFound);
        }
        Ok(self.1.keys().filter(|(s, _)| s == stream).map(|(_, n)| n.clone()).collect())
    }
    fn consumer(&self, stream: &str, name: &str, _: UnixNanos) -> Option<ConsumerView> {
        self.view(stream, name)
    }
    fn create_consumer(&mut self, stream: &str, c: ConsumerConfig, _: UnixNanos) -> Result<ConsumerView, ApiError> {
        let name = c.name.clone();
        assert!(!name.is_empty(), "the layer names every consumer");
        self.1.insert((stream.into(), name.clone()), c);
        self.view(stream, &name).ok_or(ApiError::ConsumerNotFound)
    }
    fn update_consumer(&mut self, stream: &str, c: ConsumerConfig, n: UnixNanos) -> Result<ConsumerView, ApiError> {
        self.create_consumer(stream, c, n)
    }
    fn delete_consumer(&mut self, stream: &str, name: &str) -> Result<(), ApiError> {
        self.1.remove(&(stream.into(), name.into())).map(|_| ()).ok_or(ApiError::ConsumerNotFound)
    }
    fn pause_consumer(&mut self, stream: &str, name: &str, until: Option<UnixNanos>, _: UnixNanos) -> Result<ConsumerView, ApiError> {
        let key = (stream.to_string(), name.to_string());
        let c = self.1.get_mut(&key).ok_or(ApiError::ConsumerNotFound)?;
        *c = paused_config(c, until);
        self.view(stream, name).ok_or(ApiError::ConsumerNotFound)
    }
    fn new_consumer_name(&mut self) -> String {
        self.2 += 1;
        format!("{:08}", self.2)
    }
}

impl StreamBackend for Configs {
    fn stream_names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
    fn stream(&self, name: &str, _: &StateDetail) -> Option<StreamView> {
        let config = self.0.get(name)?.clone();
        Some(StreamView { config, created: 1, state: StreamState::default(), mirror: None, sources: vec![] })
    }
    fn create_stream(&mut self, c: StreamConfig, _: UnixNanos) -> Result<(), ApiError> {
        self.0.insert(c.name.clone(), c);
        Ok(())
    }
    fn update_stream(&mut self, c: StreamConfig, _: UnixNanos) -> Result<(), ApiError> {
        self.0.insert(c.name.clone(), c);
        Ok(())
    }
    fn delete_stream(&mut self, name: &str) -> Result<(), ApiError> {
        self.0.remove(name).map(|_| ()).ok_or(ApiError::StreamNotFound)
    }
    fn purge(&mut self, _: &str, _: &PurgeRequest) -> Result<u64, ApiError> {
        Ok(0)
    }
    fn get_msg(&self, _: &str, _: &MsgQuery) -> Result<StoredMsg, ApiError> {
        Err(ApiError::NoMessageFound)
    }
    fn delete_msg(&mut self, _: &str, seq: u64, _: bool) -> Result<(), ApiError> {
        Err(ApiError::SequenceNotFound(seq))
    }
    fn usage(&self) -> AccountUsage {
        AccountUsage::default()
    }
}

const PREFIXES: &[&str] = &[
    "",
    "$JS.API.STREAM.CREATE.",
    "$JS.API.STREAM.UPDATE.",
    "$JS.API.STREAM.INFO.",
    "$JS.API.STREAM.PURGE.",
    "$JS.API.STREAM.MSG.GET.",
    "$JS.API.DIRECT.GET.",
    "$JS.API.CONSUMER.CREATE.",
    "$JS.API.CONSUMER.CREATE.S.",
    "$JS.API.CONSUMER.DURABLE.CREATE.S.",
    "$JS.API.CONSUMER.INFO.S.",
    "$JS.API.CONSUMER.PAUSE.S.",
    "$JS.API.CONSUMER.NAMES.",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let (subj, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(subj) = std::str::from_utf8(subj) else { return };
    let subject = format!("{}{subj}", PREFIXES[pick as usize % PREFIXES.len()]);

    if let Some(req) = ApiRequest::parse(&subject) {
        assert!(subject.starts_with("$JS.API."));
        let _ = req.response_type();
    }
    let (mut backend, mut env) = (Configs::default(), ApiEnv::new("2.15.1", 0));
    env.features = Features::all();
    // A stream for the consumer requests to find.
    let s = StreamConfig { name: "S".into(), subjects: vec!["s.>".into()], num_replicas: 1, ..Default::default() };
    backend.0.insert("S".into(), s.clone());
    // Twice: the second request sees the stream the first may have created.
    for _ in 0..2 {
        if let Response::Json(b) = handle_consumer(&subject, "r", b"", body, 1, &mut backend, &mut env) {
            let v: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
            assert!(v.get("type").is_some(), "typed: {v}");
        }
    }

    if let Ok(req) = decode::<StreamConfigRequest>(body) {
        let mut cfg = req.config;
        cfg.set_static_metadata();
        if let Ok(once) = normalize(&cfg, false) {
            assert_eq!(normalize(&once, false).as_ref(), Ok(&once), "normalize is idempotent");
        }
    }

    if let Ok(req) = decode::<CreateConsumerRequest>(body) {
        let mut once = req.config;
        if once.set_defaults(&s, &AccountLimits::default(), &Default::default(), false).is_ok() {
            let mut twice = once.clone();
            assert!(twice.set_defaults(&s, &AccountLimits::default(), &Default::default(), false).is_ok());
            assert_eq!(twice, once, "consumer defaults are idempotent");
        }
    }

    if let Ok(h) = Headers::parse(body) {
        let cfg = StreamConfig { name: "S".into(), ..Default::default() };
        let st = StreamPublishState { config: &cfg, last_seq: 1, last_msg_id: "", max_payload_bytes: 64 };
        let msg = Incoming { subject: "S", hdrs: &h, hdr_bytes: body.len(), hdr_block: body, payload_bytes: 0, scheduled: false };
        let _ = publish::check_publish(&st, &msg, 1, &mut DedupTable::default(), |_| Some(1));
    }
});
