//! The permission state of one connection: a cache of publish decisions and the response
//! permits `allow_responses` grants. Owned by the connection and used through `&mut self`, so
//! it needs no locks; time comes in as `now`.
//!
//! Invariants:
//! * `publish_cache` holds at most [`PUBLISH_CACHE_ENTRIES_MAX`] static decisions; response
//!   permits never enter it, because they change with every publish.
//! * At most [`RESPONSE_PERMITS_MAX`] permits are live; granting one more evicts the oldest.
//! * `ResponsePermits::order` lists every live permit once, oldest first, under its current
//!   `seq`, plus stale entries (for permits since consumed or re-granted) that are skipped and
//!   compacted away before the queue grows past twice the live limit.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::AHashMap;

use super::config::ResponsePermission;
use super::permissions::Permissions;

/// Publish decisions cached per connection, as nats-server's `maxPermCacheSize`.
pub const PUBLISH_CACHE_ENTRIES_MAX: usize = 128;
/// Entries dropped at once when the publish cache is full (nats-server's `pruneSize`).
const PUBLISH_CACHE_PRUNE_ENTRIES: usize = 32;
/// Response permits kept per connection. nats-server keeps them without a bound (it only
/// prunes used and expired ones); this bound caps a responder's memory when requests arrive
/// faster than it answers. The oldest permit is evicted first, so only a request left
/// unanswered the longest loses its permit.
pub const RESPONSE_PERMITS_MAX: usize = 16_384;

/// Permission state of one connection of a user with permissions.
#[derive(Debug)]
pub struct ClientPermissions {
    permissions: Arc<Permissions>,
    publish_cache: AHashMap<Box<[u8]>, bool>,
    /// `Some` exactly when the user has `allow_responses`.
    responses: Option<ResponsePermits>,
}

impl ClientPermissions {
    pub fn new(permissions: Arc<Permissions>) -> Self {
        let responses = permissions.responses().map(ResponsePermits::new);
        ClientPermissions {
            permissions,
            publish_cache: AHashMap::new(),
            responses,
        }
    }

    pub fn permissions(&self) -> &Arc<Permissions> {
        &self.permissions
    }

    /// Whether this connection may publish to `subject` now. Falls back to a response permit
    /// when the static lists refuse, and uses it up.
    pub fn can_publish(&mut self, subject: &[u8], now: Instant) -> bool {
        if self.statically_allowed(subject) {
            return true;
        }
        match &mut self.responses {
            Some(permits) => permits.consume(subject, now),
            None => false,
        }
    }

    /// Whether this connection may `SUB subject [queue]`.
    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.permissions.subscribe_allowed(subject, queue)
    }

    /// Whether a message on `subject` may be delivered to this connection's subscription
    /// (`queue` for a queue subscription). Cheap when the user has no subscribe deny list.
    pub fn delivery_allowed(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        !self.permissions.filters_deliveries() || self.permissions.delivery_allowed(subject, queue)
    }

    /// Call when a message with reply subject `reply` was delivered to this connection: with
    /// `allow_responses`, it may then publish to `reply` (up to `max_msgs` times, within
    /// `expires_ms`). A reply the static lists already allow needs no permit. Delivering the
    /// same reply again renews its permit.
    pub fn on_reply_delivered(&mut self, reply: &[u8], now: Instant) {
        if reply.is_empty() || self.responses.is_none() || self.statically_allowed(reply) {
            return;
        }
        if let Some(permits) = &mut self.responses {
            permits.grant(reply, now);
        }
    }

    /// Live response permits (for tests and monitoring).
    pub fn response_permits(&self) -> usize {
        self.responses.as_ref().map_or(0, |p| p.live.len())
    }

    /// The allow/deny decision without response permits, cached.
    fn statically_allowed(&mut self, subject: &[u8]) -> bool {
        if !self.permissions.restricts_publish() {
            return true;
        }
        if let Some(&allowed) = self.publish_cache.get(subject) {
            return allowed;
        }
        let allowed = self.permissions.publish_allowed(subject);
        if self.publish_cache.len() >= PUBLISH_CACHE_ENTRIES_MAX {
            // Drop an arbitrary few, as nats-server does; a full recount is not worth it for
            // a cache this small.
            let mut dropped = 0;
            self.publish_cache.retain(|_, _| {
                dropped += 1;
                dropped > PUBLISH_CACHE_PRUNE_ENTRIES
            });
        }
        self.publish_cache.insert(subject.into(), allowed);
        debug_assert!(self.publish_cache.len() <= PUBLISH_CACHE_ENTRIES_MAX);
        allowed
    }
}

/// The reply subjects this connection may answer, each for a limited number of messages and
/// time.
#[derive(Debug)]
struct ResponsePermits {
    /// 0: no limit on messages.
    max_msgs: u32,
    /// `None`: permits never expire.
    expires: Option<Duration>,
    live: AHashMap<Box<[u8]>, Permit>,
    /// `(seq, reply)` in grant order. Since all permits share one lifetime, grant order is
    /// expiry order: expired permits are always at the front.
    order: VecDeque<(u64, Box<[u8]>)>,
    next_seq: u64,
}

#[derive(Clone, Copy, Debug)]
struct Permit {
    /// Tells the current grant from stale `order` entries of earlier ones.
    seq: u64,
    granted_at: Instant,
    used_msgs: u32,
}

impl ResponsePermits {
    fn new(config: ResponsePermission) -> Self {
        ResponsePermits {
            max_msgs: config.max_msgs,
            expires: (config.expires_ms > 0).then(|| Duration::from_millis(config.expires_ms)),
            live: AHashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }

    fn grant(&mut self, reply: &[u8], now: Instant) {
        self.prune_front(now);
        let seq = self.next_seq;
        self.next_seq += 1;
        let permit = Permit {
            seq,
            granted_at: now,
            used_msgs: 0,
        };
        if self.live.insert(reply.into(), permit).is_none()
            && self.live.len() > RESPONSE_PERMITS_MAX
        {
            self.evict_oldest();
        }
        self.order.push_back((seq, reply.into()));
        if self.order.len() > 2 * RESPONSE_PERMITS_MAX {
            let live = &self.live;
            self.order
                .retain(|(seq, reply)| live.get(reply).is_some_and(|p| p.seq == *seq));
        }
        debug_assert!(self.live.len() <= RESPONSE_PERMITS_MAX);
        debug_assert!(self.order.len() <= 2 * RESPONSE_PERMITS_MAX);
    }

    /// Uses one message of the permit for `subject`, if there is a live one.
    fn consume(&mut self, subject: &[u8], now: Instant) -> bool {
        let Some(permit) = self.live.get_mut(subject) else {
            return false;
        };
        if self
            .expires
            .is_some_and(|ttl| now.saturating_duration_since(permit.granted_at) > ttl)
        {
            self.live.remove(subject);
            return false;
        }
        permit.used_msgs += 1;
        if self.max_msgs > 0 && permit.used_msgs >= self.max_msgs {
            // The last allowed message: drop the permit now rather than on the next attempt.
            self.live.remove(subject);
        }
        true
    }

    /// Drops expired permits and stale entries from the front of `order`.
    fn prune_front(&mut self, now: Instant) {
        while let Some((seq, reply)) = self.order.front() {
            let drop = match self.live.get(reply) {
                Some(permit) if permit.seq == *seq => {
                    let expired = self
                        .expires
                        .is_some_and(|ttl| now.saturating_duration_since(permit.granted_at) > ttl);
                    if expired {
                        self.live.remove(reply);
                    }
                    expired
                }
                _ => true,
            };
            if !drop {
                break;
            }
            self.order.pop_front();
        }
    }

    /// Removes the live permit granted first.
    fn evict_oldest(&mut self) {
        while let Some((seq, reply)) = self.order.pop_front() {
            if self.live.get(&reply).is_some_and(|p| p.seq == seq) {
                self.live.remove(&reply);
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "client_permissions_tests.rs"]
mod tests;
