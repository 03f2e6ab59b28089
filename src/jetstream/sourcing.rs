//! Mirrors and sources between the streams of one account: which origin messages a stream
//! copies, with which sequence, subject and headers, and how far each link got.
//!
//! nats-server copies through an internal push consumer on the origin (heartbeats, flow
//! control, retries), because the origin may be on another server. Here every stream of an
//! account lives on the same shard, so a link reads its origin's log directly:
//! - **driven by the origin's appends**: after a publish (or a copy) stores into stream O,
//!   [`AccountStreams::pump`] copies into every stream linked to O, and on down a chain;
//! - **a catch-up read**: each copy reads from the link's position in the origin's log with
//!   the log's subject index (`Log::next_by_subject`), never a scan per message; a created
//!   stream, an origin that appears later and a restart catch up the same way;
//! - at most [`COPY_TURN_MAX`] messages per turn, so a long catch-up or a cycle of sources
//!   cannot hold the shard; the turn marks a backlog, which makes the shard commit again
//!   soon and [`AccountStreams::resume_sourcing`] goes on from there (`lag` shows the rest).
//!
//! Positions survive restarts. A mirror stores its origin's sequences (gaps skipped with
//! `Log::skip_to`), so its next origin sequence is its own `last_seq + 1`. A source's
//! position is the origin sequence in the `Nats-Stream-Source` header of its last copy
//! (`<origin> <seq> <filter> <destination> <subject> <ident>`, as nats-server writes it),
//! found at start by a forward read of the stream from the hint in `sources.json`. The hint
//! is written only after the commit that stored its copies, so it never runs ahead of the
//! data; before a purge of the stream it is written first, as the purge takes the headers.
//!
//! Invariants: a mirror's message has its origin's sequence and timestamp; a link's position
//! only moves forward and moves with the copy in the same commit, so an origin message is
//! copied into a link at most once; copies skip the publish checks (dedup, expectations) as
//! nats-server stores them verbatim, but obey the stream's limits; a counter stream stores
//! a copy as its own new total instead (`counters.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::api::config::{DiscardPolicy, StreamConfig, StreamSource, SubjectTransform as Tr};
use super::api::error::ApiError;
use super::api::info::{format_time, SourceInfo, UnixNanos};
use super::streams::{AccountStreams, Stream};
use crate::mapping::SubjectTransform;

/// The most messages one [`AccountStreams::pump`] copies (over every link it reaches).
pub const COPY_TURN_MAX: usize = 100_000;
/// The header a sourced copy carries (nats-server's `JSStreamSource`).
pub const HDR_STREAM_SOURCE: &str = "Nats-Stream-Source";
/// The file of source position hints, beside the stream's `meta.json`.
const SOURCES_HINT_FILE: &str = "sources.json";

/// Whether a link mirrors (origin sequences and timestamps) or sources (appends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Mirror,
    Source,
}

/// One filter of a link, with the transform of the subjects it matches.
#[derive(Debug, Clone)]
struct Route {
    filter: String,
    transform: Option<SubjectTransform>,
}

/// A mirror or one source of a stream, and its position in the origin.
#[derive(Debug, Clone)]
pub struct Link {
    pub kind: LinkKind,
    pub origin: String,
    /// nats-server's index name, `<origin> <filters> <destinations>`: what identifies a
    /// source in its copies' headers and in the hint.
    pub iname: String,
    routes: Vec<Route>,
    filter_subject: String,
    transforms: Vec<Tr>,
    opt_start_seq: u64,
    opt_start_time: Option<UnixNanos>,
    /// The next origin sequence to look at; None until positioned.
    pub next_seq: Option<u64>,
    /// The last origin sequence copied, and the sequence its copy got here.
    pub copied_seq: u64,
    pub stored_at: u64,
    /// The origin's identity (a hash of its creation time) when positioned: a recreated
    /// origin starts a source over.
    pub ident: String,
    /// The origin exists; else since when it is gone (None: never seen).
    pub linked: bool,
    pub lost_at: Option<UnixNanos>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Hint {
    seq: u64,
    at: u64,
    #[serde(default)]
    ident: String,
}

impl Link {
    pub fn new(kind: LinkKind, src: &StreamSource) -> Link {
        let or_all = |s: &str| {
            if s.is_empty() {
                ">".to_string()
            } else {
                s.to_string()
            }
        };
        let routes = if src.subject_transforms.is_empty() {
            vec![Route {
                filter: or_all(&src.filter_subject),
                transform: None,
            }]
        } else {
            src.subject_transforms
                .iter()
                .map(|t| Route {
                    filter: or_all(&t.src),
                    transform: (!t.dest.is_empty())
                        .then(|| SubjectTransform::new(&or_all(&t.src), &t.dest).ok())
                        .flatten(),
                })
                .collect()
        };
        let opt_start_time = src
            .opt_start_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| t.timestamp_nanos_opt());
        Link {
            kind,
            origin: src.name.clone(),
            iname: src.index_name(),
            routes,
            filter_subject: src.filter_subject.clone(),
            transforms: src.subject_transforms.clone(),
            opt_start_seq: src.opt_start_seq,
            opt_start_time,
            next_seq: None,
            copied_seq: 0,
            stored_at: 0,
            ident: String::new(),
            linked: false,
            lost_at: None,
        }
    }

    /// The links a config asks for: its mirror, or its sources in config order.
    pub fn of(config: &StreamConfig) -> Vec<Link> {
        match &config.mirror {
            Some(m) => vec![Link::new(LinkKind::Mirror, m)],
            None => config
                .sources
                .iter()
                .map(|s| Link::new(LinkKind::Source, s))
                .collect(),
        }
    }

    /// The subject a copy of a message on `subject` gets (the first transform that matches).
    fn target_subject(&self, subject: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in &self.routes {
            if let Some(t) = &r.transform {
                if t.transform(subject, 0, &mut out) {
                    return out;
                }
            }
        }
        subject.to_vec()
    }

    /// What STREAM.INFO shows of this link; `lag` counted from the origin's log.
    fn info(&self, lag: u64, now: UnixNanos) -> SourceInfo {
        let active = match (self.linked, self.lost_at) {
            // The origin is on this shard and each append reaches the link at once: it is
            // heard from continuously (nats-server: time since the last heartbeat or message).
            (true, _) => 0,
            (false, Some(t)) => (now - t).max(0),
            (false, None) => -1,
        };
        SourceInfo {
            name: self.origin.clone(),
            lag,
            seq: if self.kind == LinkKind::Source {
                self.copied_seq
            } else {
                0
            },
            active,
            error: (!self.linked).then_some(ApiError::StreamNotFound),
            filter_subject: self.filter_subject.clone(),
            subject_transforms: self.transforms.clone(),
        }
    }
}

/// nats-server's stream identity: its `getHash` (SHA-256, 8 base-62 digits) of the creation
/// time in RFC 3339 with nanoseconds.
pub fn stream_ident(created: UnixNanos) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let d = ring::digest::digest(&ring::digest::SHA256, format_time(created).as_bytes());
    d.as_ref()[..8]
        .iter()
        .map(|b| DIGITS[(b % 62) as usize] as char)
        .collect()
}

/// The header block of a copy: `hdr` without the `Nats-Expected-*` and `Nats-Batch-*`
/// entries (and any older `Nats-Stream-Source` when `source` is given), plus `source`'s line.
pub fn copy_headers(hdr: &[u8], source: Option<&str>) -> Vec<u8> {
    let body = hdr
        .strip_suffix(b"\r\n\r\n")
        .filter(|b| b.starts_with(b"NATS/1.0"));
    let Some(body) = body else {
        return match source {
            // A block we cannot read is kept as it came (nats-server stores it verbatim).
            None => hdr.to_vec(),
            Some(line) => format!("NATS/1.0\r\n{HDR_STREAM_SOURCE}: {line}\r\n\r\n").into_bytes(),
        };
    };
    let mut out = Vec::with_capacity(hdr.len() + 64);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i > 0 {
            let key = line.split(|&b| b == b':').next().unwrap_or_default();
            let drop = key.starts_with(b"Nats-Expected-")
                || key.starts_with(b"Nats-Batch-")
                || (source.is_some() && key == HDR_STREAM_SOURCE.as_bytes());
            if drop {
                continue;
            }
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(line) = source {
        out.extend_from_slice(format!("{HDR_STREAM_SOURCE}: {line}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The iname, origin sequence and origin identity a `Nats-Stream-Source` value names.
pub fn parse_source_header(value: &str) -> Option<(String, u64, &str)> {
    let f: Vec<&str> = value.split(' ').collect();
    if f.len() < 5 {
        return None;
    }
    let seq = f[1].parse().ok()?;
    Some((
        format!("{} {} {}", f[0], f[2], f[3]),
        seq,
        f.get(5).copied().unwrap_or(""),
    ))
}

/// The value of `key` in a header block, if any.
fn header_value<'a>(hdr: &'a [u8], key: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(hdr).ok()?;
    text.split("\r\n")
        .skip(1)
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

impl AccountStreams {
    /// At open: finds each stream's link positions, then copies what the origins have
    /// beyond them (a crash may have stored an origin message without its copies).
    pub fn start_sourcing(&mut self, now: UnixNanos) {
        self.relink();
        let names: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.links.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for n in &names {
            self.restore_positions(n);
        }
        let mut budget = self.copy_turn_max;
        for n in &names {
            self.copy_into(n, None, now, &mut budget);
        }
        for n in &names {
            self.pump(n, now);
        }
    }

    /// After a turn that stopped at its bound: every link copies on (called by the shard
    /// before each commit; nothing to do without a backlog).
    pub fn resume_sourcing(&mut self, now: UnixNanos) {
        if !std::mem::take(&mut self.sourcing_backlog) {
            return;
        }
        let names: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.links.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        let mut budget = self.copy_turn_max;
        for n in &names {
            if self.copy_into(n, None, now, &mut budget) > 0 {
                self.pump(n, now);
            }
        }
    }

    /// Stream `name` was created: it catches up on its own origins, and streams waiting for
    /// it as their origin start.
    pub fn sourcing_created(&mut self, name: &str, now: UnixNanos) {
        self.relink();
        let mut budget = self.copy_turn_max;
        self.copy_into(name, None, now, &mut budget);
        self.pump(name, now);
    }

    /// Stream `name` was deleted: the links to it wait for it to come back.
    pub fn sourcing_deleted(&mut self, name: &str, now: UnixNanos) {
        self.relink();
        for s in self.streams.values_mut() {
            for l in s.links.iter_mut().filter(|l| l.origin == name && l.linked) {
                l.linked = false;
                l.lost_at = Some(now);
            }
        }
    }

    /// Stream `name`'s config changed: its links follow the new sources, keeping the
    /// positions of the ones it still has.
    pub fn sourcing_updated(&mut self, name: &str, now: UnixNanos) {
        let Some(s) = self.streams.get_mut(name) else {
            return;
        };
        let old = std::mem::take(&mut s.links);
        s.links = Link::of(&s.config);
        for l in &mut s.links {
            if let Some(o) = old.iter().find(|o| o.iname == l.iname && o.kind == l.kind) {
                l.next_seq = o.next_seq;
                l.copied_seq = o.copied_seq;
                l.stored_at = o.stored_at;
                l.ident = o.ident.clone();
            }
        }
        self.sourcing_created(name, now);
    }

    /// Stream `name` was stored into: copies into every stream linked to it, and from those
    /// into theirs, up to `copy_turn_max` messages.
    pub fn pump(&mut self, name: &str, now: UnixNanos) {
        if !self.linked_from.contains_key(name) {
            return;
        }
        let mut budget = self.copy_turn_max;
        let mut work = vec![name.to_string()];
        while let Some(origin) = work.pop() {
            let dests = self.linked_from.get(&origin).cloned().unwrap_or_default();
            for d in dests {
                if budget == 0 {
                    return;
                }
                if self.copy_into(&d, Some(&origin), now, &mut budget) > 0 && !work.contains(&d) {
                    work.push(d);
                }
            }
        }
    }

    /// How many links away from a stream that copies nothing `name` is (0: it copies
    /// nothing), bounded by the number of streams so a cycle ends.
    pub(crate) fn link_depth(&self, name: &str) -> usize {
        let mut depth = 0;
        let mut level = vec![name];
        while depth <= self.streams.len() {
            let mut next: Vec<&str> = level
                .iter()
                .filter_map(|n| self.streams.get(*n))
                .flat_map(|s| s.links.iter().map(|l| l.origin.as_str()))
                .collect();
            next.sort_unstable();
            next.dedup();
            if next.is_empty() {
                break;
            }
            depth += 1;
            level = next;
        }
        depth
    }

    /// Rebuilds `linked_from` after links came or went.
    fn relink(&mut self) {
        self.linked_from.clear();
        for (name, s) in &self.streams {
            for l in &s.links {
                let dests = self.linked_from.entry(l.origin.clone()).or_default();
                if !dests.contains(name) {
                    dests.push(name.clone());
                }
            }
        }
    }

    /// The mirror and source blocks of stream `s`'s info.
    pub(crate) fn link_infos(&self, s: &Stream) -> (Option<SourceInfo>, Vec<SourceInfo>) {
        let infos = s.links.iter().map(|l| l.info(self.lag(l), self.now_ns));
        match s.links.first().map(|l| l.kind) {
            Some(LinkKind::Mirror) => (infos.take(1).next(), Vec::new()),
            _ => (None, infos.collect()),
        }
    }

    /// Messages of the origin at or after the link's position that match it.
    fn lag(&self, l: &Link) -> u64 {
        let (Some(next), Some(o)) = (l.next_seq, self.streams.get(&l.origin)) else {
            return 0;
        };
        if !l.linked {
            return 0;
        }
        let log = o.log.borrow();
        l.routes
            .iter()
            .map(|r| log.log().count_from(next, r.filter.as_bytes()))
            .sum()
    }

    /// Copies from the origins of `dest`'s links (only `origin`'s if given); returns how many.
    fn copy_into(
        &mut self,
        dest: &str,
        origin: Option<&str>,
        now: UnixNanos,
        budget: &mut usize,
    ) -> usize {
        let n = self.streams.get(dest).map_or(0, |s| s.links.len());
        let mut copied = 0;
        for i in 0..n {
            let from = self.streams[dest].links[i].origin.clone();
            if origin.is_some_and(|o| o != from) || from == dest {
                continue;
            }
            if self.link_up(dest, i, now) {
                copied += self.copy_link(dest, i, now, budget);
            }
        }
        copied
    }

    /// Checks link `i` of `dest` against its origin and positions it if it is not yet;
    /// returns whether the origin exists.
    fn link_up(&mut self, dest: &str, i: usize, now: UnixNanos) -> bool {
        let origin = self.streams[dest].links[i].origin.clone();
        let Some(o) = self.streams.get(&origin) else {
            let l = &mut self.streams.get_mut(dest).expect("dest exists").links[i];
            if l.linked {
                l.linked = false;
                l.lost_at = Some(now);
            }
            return false;
        };
        let ident = stream_ident(o.created);
        let (origin_first, dest_last) = {
            let first = o.log.borrow().log().counters().first_seq;
            let last = self.streams[dest].log.borrow().log().counters().last_seq;
            (first, last)
        };
        let start_time = self.streams[dest].links[i].opt_start_time;
        let by_time = start_time.map(|t| self.first_at_or_after(&origin, t));
        let s = self.streams.get_mut(dest).expect("dest exists");
        let l = &mut s.links[i];
        if l.kind == LinkKind::Source && !l.ident.is_empty() && l.ident != ident {
            log::warn!(
                "JetStream: source {:?} of stream {dest:?} was recreated, copying it again",
                l.origin
            );
            l.next_seq = None;
            l.copied_seq = 0;
        }
        l.ident = ident;
        l.linked = true;
        l.lost_at = None;
        if l.next_seq.is_none() {
            let fresh = match l.kind {
                LinkKind::Mirror => dest_last == 0,
                LinkKind::Source => l.copied_seq == 0,
            };
            l.next_seq = Some(if !fresh {
                match l.kind {
                    LinkKind::Mirror => dest_last + 1,
                    LinkKind::Source => l.copied_seq + 1,
                }
            } else if l.opt_start_seq > 0 {
                l.opt_start_seq
            } else if let Some(seq) = by_time {
                seq
            } else {
                origin_first
            });
        }
        true
    }

    /// The first sequence of `origin` stored at or after `t` (its last + 1 if none).
    fn first_at_or_after(&self, origin: &str, t: UnixNanos) -> u64 {
        let Some(o) = self.streams.get(origin) else {
            return 1;
        };
        let mut log = o.log.borrow_mut();
        let mut from = log.log().counters().first_seq;
        loop {
            match log.next_by_subject(from, b">") {
                Ok(Some(m)) if m.ts_ns >= t => return m.seq,
                Ok(Some(m)) => from = m.seq + 1,
                _ => return log.log().counters().last_seq + 1,
            }
        }
    }

    /// Copies what link `i` of `dest` has not yet, up to the budget; returns how many.
    fn copy_link(&mut self, dest: &str, i: usize, now: UnixNanos, budget: &mut usize) -> usize {
        let mut copied = 0;
        while *budget > 0 {
            let link = &self.streams[dest].links[i];
            let Some(from) = link.next_seq else { break };
            let found = {
                let Some(o) = self.streams.get(&link.origin) else {
                    break;
                };
                let mut log = o.log.borrow_mut();
                let next = link
                    .routes
                    .iter()
                    .filter_map(|r| log.log().next_by_subject(from, r.filter.as_bytes()))
                    .min();
                match next {
                    None => break,
                    Some(seq) => (seq, log.fetch(seq)),
                }
            };
            let m = match found {
                (_, Ok(Some(m))) => m,
                (seq, Ok(None)) => {
                    self.streams.get_mut(dest).expect("dest exists").links[i].next_seq =
                        Some(seq + 1);
                    continue;
                }
                (seq, Err(e)) => {
                    log::error!("JetStream: reading {seq} of {:?} failed: {e}", link.origin);
                    break;
                }
            };
            let subject = link.target_subject(&m.subject);
            let (hdr, ts) = match link.kind {
                LinkKind::Mirror => (copy_headers(&m.headers, None), m.ts_ns),
                LinkKind::Source => {
                    let mut parts = link.iname.splitn(3, ' ');
                    let (name, filters, dests) = (
                        parts.next().unwrap_or(""),
                        parts.next().unwrap_or(">"),
                        parts.next().unwrap_or(">"),
                    );
                    let line = format!(
                        "{name} {} {filters} {dests} {} {}",
                        m.seq,
                        String::from_utf8_lossy(&m.subject),
                        link.ident
                    );
                    (copy_headers(&m.headers, Some(&line)), now)
                }
            };
            let kind = link.kind;
            let s = self.streams.get_mut(dest).expect("dest exists");
            // The stream's own subject transform applies to copies too (nats-server).
            let subject = match s.rules.stored_subject(&subject, ts as u32) {
                Some(t) => t.into_bytes(),
                None => subject,
            };
            // A sealed stream takes nothing more, copies neither (nats-server checks it first).
            if s.config.sealed
                || s.full_for_discard_new(subject.len() + hdr.len() + m.payload.len())
            {
                break;
            }
            // A counter stream adds a counter copy's change to its own total (counters.rs);
            // one it cannot take stops the link there, to be tried again (nats-server).
            let (hdr, payload) = if s.config.allow_msg_counter && kind == LinkKind::Source {
                match s.counter_copy(&subject, &hdr, &m.payload, self.env.max_payload_bytes) {
                    Ok(u) => (u.hdr, u.payload),
                    Err(e) => {
                        log::warn!(
                            "JetStream: copying {} of {:?} into counter stream {dest:?}: {e}",
                            m.seq,
                            s.links[i].origin
                        );
                        break;
                    }
                }
            } else {
                (hdr, m.payload)
            };
            let republish = s.republish_plan(&subject);
            let stored = {
                let mut log = s.log.borrow_mut();
                let skipped = match kind {
                    LinkKind::Mirror => log.log_mut().skip_to(m.seq),
                    LinkKind::Source => Ok(()),
                };
                skipped.and_then(|()| log.append(&subject, &hdr, &payload, ts))
            };
            let l = &mut s.links[i];
            l.next_seq = Some(m.seq + 1);
            match stored {
                Ok(seq) => {
                    l.copied_seq = m.seq;
                    l.stored_at = seq;
                    s.sources_dirty |= kind == LinkKind::Source;
                    if let Some(plan) = republish {
                        let rp = plan.message(dest, &subject, seq, ts, &hdr, &payload);
                        self.republished.push(rp);
                    }
                    s.stored(seq, &subject);
                    if kind == LinkKind::Source {
                        // A schedule's `Nats-Schedule-Next: purge` purges here too (schedules.rs).
                        self.schedule_stored(dest, seq, &hdr, ts);
                    }
                    copied += 1;
                    *budget -= 1;
                    if *budget == 0 {
                        self.sourcing_backlog = true;
                    }
                }
                Err(e) => log::warn!(
                    "JetStream: copying {} of {:?} into {dest:?} failed: {e}",
                    m.seq,
                    l.origin
                ),
            }
        }
        copied
    }

    /// At open: a stream's source positions, from the hint and the copies stored after it.
    fn restore_positions(&mut self, name: &str) {
        let hints: BTreeMap<String, Hint> = self
            .stream_dir(name)
            .and_then(|d| std::fs::read(d.join(SOURCES_HINT_FILE)).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let Some(s) = self.streams.get_mut(name) else {
            return;
        };
        let counters = s.log.borrow().log().counters();
        let mut from = u64::MAX;
        for l in s.links.iter_mut().filter(|l| l.kind == LinkKind::Source) {
            match hints.get(&l.iname).filter(|h| h.at <= counters.last_seq) {
                Some(h) => {
                    l.copied_seq = h.seq;
                    l.stored_at = h.at;
                    l.ident = h.ident.clone();
                    from = from.min(h.at + 1);
                }
                None => from = from.min(counters.first_seq),
            }
        }
        let mut log = s.log.borrow_mut();
        while from <= counters.last_seq {
            let Ok(Some(m)) = log.next_by_subject(from, b">") else {
                break;
            };
            from = m.seq + 1;
            let Some((iname, seq, ident)) =
                header_value(&m.headers, HDR_STREAM_SOURCE).and_then(parse_source_header)
            else {
                continue;
            };
            if let Some(l) = s.links.iter_mut().find(|l| l.iname == iname) {
                if m.seq > l.stored_at {
                    l.copied_seq = seq;
                    l.stored_at = m.seq;
                    l.ident = ident.to_string();
                }
            }
        }
    }

    /// After a commit: writes the position hints of streams whose sources copied.
    pub(crate) fn save_source_hints(&mut self) {
        let dirty: Vec<String> = self
            .streams
            .iter()
            .filter(|(_, s)| s.sources_dirty)
            .map(|(n, _)| n.clone())
            .collect();
        for name in dirty {
            let Some(dir) = self.stream_dir(&name) else {
                continue;
            };
            let Some(s) = self.streams.get_mut(&name) else {
                continue;
            };
            s.sources_dirty = false;
            if let Err(e) = write_hints(&dir, &s.links) {
                log::warn!("JetStream: writing source positions of {name:?} failed: {e}");
            }
        }
    }
}

fn write_hints(dir: &Path, links: &[Link]) -> std::io::Result<()> {
    let hints: BTreeMap<&str, Hint> = links
        .iter()
        .filter(|l| l.kind == LinkKind::Source && l.copied_seq > 0)
        .map(|l| {
            let h = Hint {
                seq: l.copied_seq,
                at: l.stored_at,
                ident: l.ident.clone(),
            };
            (l.iname.as_str(), h)
        })
        .collect();
    let tmp = dir.join("sources.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&hints).unwrap_or_default())?;
    std::fs::rename(tmp, dir.join(SOURCES_HINT_FILE))
}

impl Stream {
    /// Whether `discard: new` refuses `msg_bytes` more now (a copy then waits, as lag).
    fn full_for_discard_new(&self, msg_bytes: usize) -> bool {
        let c = &self.config;
        if c.discard != DiscardPolicy::New {
            return false;
        }
        let n = self.log.borrow().log().counters();
        (c.max_msgs > 0 && n.msgs >= c.max_msgs as u64)
            || (c.max_bytes > 0 && n.bytes + msg_bytes as u64 > c.max_bytes as u64)
    }
}

#[cfg(test)]
#[path = "sourcing_tests.rs"]
mod tests;
