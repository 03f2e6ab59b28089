//! The subject index: which items (subscriptions, or shard ids in the cross-shard interest
//! table) want a message published on a subject.
//!
//! A token trie after nats-server's `sublist.go` (nats-protocol.md §10). Each level maps a literal
//! token to a node and has two extra slots for the `*` and `>` children; each node holds the plain
//! items and the queue-group items of the subscriptions whose subject ends there. A match walks
//! the trie with the publish subject's tokens and merges queue items into one group per queue
//! name. Results are cached per publish subject from the second time it is matched: a first
//! match only leaves the subject's fingerprint in `seen`, so subjects that never repeat
//! (JetStream's per-message ack subjects, the reply inbox of every request and pub ack) cost
//! no allocation, no insert and no eviction, and never push a useful entry out.
//!
//! Not concurrent and never shared: each shard owns its sublists outright (performance-notes.md
//! §8), so there are no locks and no generation counters, and `match_subject` takes `&mut self`
//! to keep its cache and counters.
//!
//! Invariants:
//! * `count` equals the number of items stored in the trie (items are a multiset).
//! * No node is empty: a node with no plain items, no queue groups and no next level is pruned
//!   by `remove`, and a node's `next` is `None` rather than an empty level. So an empty sublist
//!   is an empty root level.
//! * Literal maps never hold the keys `*` or `>`; those live only in the `pwc`/`fwc` slots. A
//!   `fwc` node never has a next level (nothing may follow `>`).
//! * A node's queue groups have distinct names and are never empty.
//! * Every cache entry equals what a fresh match would return now (as multisets). Insert and
//!   remove drop exactly the entries whose subject the changed pattern matches, using
//!   `subject::matches`, which agrees with the trie walk.
//! * The cache holds at most `cache_entries_max` entries, and none for a subject matched only
//!   once since its fingerprint slot last held another (a collision only delays caching).

use std::collections::HashMap;

/// The hash maps on the message path: subject bytes come from clients, so the hasher is
/// keyed per process (ahash), and it is several times cheaper than std's SipHash on short
/// subjects (SipHash was 16 % of a shard's CPU on 16 B publishes).
pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;
use std::rc::Rc;

use bytes::Bytes;

use crate::subject::{self, FWC, PWC};

/// Publish subjects up to this many tokens are tokenized into a stack array.
const TOKENS_INLINE_MAX: usize = 32;
/// Matching nodes up to this many are gathered on the stack before the result is built.
const NODES_INLINE_MAX: usize = 16;

/// A token trie holding items `T`, with queue groups and a match cache. See the module docs.
pub struct Sublist<T> {
    root: Level<T>,
    /// Publish subject → result. std's SipHash (`RandomState`): no extra dependency, and its
    /// per-map random keys make the iteration order that eviction walks unpredictable.
    cache: FastMap<Box<[u8]>, Rc<Match<T>>>,
    cache_entries_max: usize,
    /// Fingerprints of subjects matched once and not cached (admission to the cache: a
    /// subject is cached when its fingerprint is found here). Allocated at the first miss,
    /// `seen_slots(cache_entries_max)` long.
    seen: Vec<u32>,
    /// Returned for every subject with no interest, so a miss there allocates nothing.
    empty: Rc<Match<T>>,
    /// Always empty; fills the unused slots of a match's on-stack node list.
    filler: Node<T>,
    /// xorshift64 state for choosing cache entries to evict; fixed seed keeps tests repeatable.
    evict_rng: u64,
    count: usize,
    inserts: u64,
    removes: u64,
    matches: u64,
    cache_hits: u64,
}

/// The subject given to [`Sublist::insert`] has an empty token or a token after `>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSubject;

/// The items interested in one publish subject. Order carries no meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<T> {
    /// One entry per matching plain subscription (a connection with `foo.*` and `foo.>` appears
    /// twice for `foo.bar`).
    pub plain: Vec<T>,
    /// One group per queue name, whatever subjects its members subscribed with; each group
    /// should get the message once.
    pub queues: Vec<QueueGroup<T>>,
}

/// The members of one queue group that match a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup<T> {
    pub name: Bytes,
    pub members: Vec<T>,
}

/// Counters for monitoring (`/subsz`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SublistStats {
    pub subscriptions: usize,
    pub cache_entries: usize,
    pub inserts: u64,
    pub removes: u64,
    pub matches: u64,
    pub cache_hits: u64,
}

impl<T: Copy + Eq + std::fmt::Debug> Sublist<T> {
    /// An empty sublist whose match cache keeps at most `cache_entries_max` subjects; 0 disables
    /// the cache.
    pub fn new(cache_entries_max: usize) -> Self {
        Sublist {
            root: Level::default(),
            cache: FastMap::default(),
            cache_entries_max,
            seen: Vec::new(),
            empty: Rc::new(Match {
                plain: Vec::new(),
                queues: Vec::new(),
            }),
            filler: Node::default(),
            evict_rng: 0x9e37_79b9_7f4a_7c15,
            count: 0,
            inserts: 0,
            removes: 0,
            matches: 0,
            cache_hits: 0,
        }
    }

    /// Adds one item. Items are a multiset: the same (subject, queue, item) may be inserted twice
    /// and then needs two removes (the interest table keeps one item per remote queue member).
    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&Bytes>,
        item: T,
    ) -> Result<(), InvalidSubject> {
        if !subject::is_valid_subscription_subject(subject) {
            return Err(InvalidSubject);
        }
        let mut level = &mut self.root;
        let mut rest = subject;
        let node = loop {
            let (token, after) = subject::split_first(rest);
            let node = level.child_or_insert(token);
            match after {
                None => break node,
                Some(after) => {
                    debug_assert!(token != FWC, "validated: nothing follows `>`");
                    rest = after;
                    level = node.next.get_or_insert_with(Box::default);
                }
            }
        };
        match queue {
            None => node.plain.push(item),
            Some(name) => match node.queues.iter_mut().find(|group| group.name == name) {
                Some(group) => group.members.push(item),
                None => node.queues.push(QueueGroup {
                    name: name.clone(),
                    members: vec![item],
                }),
            },
        }
        self.count += 1;
        self.inserts += 1;
        self.invalidate(subject);
        Ok(())
    }

    /// Removes one occurrence of `item` under (`subject`, `queue`); false if there is none.
    /// Prunes nodes left empty.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, item: T) -> bool {
        // Invalid subjects need no check: inserts were validated, so no path spells them.
        if !remove_from(&mut self.root, subject, queue, item) {
            return false;
        }
        debug_assert!(
            self.count > 0,
            "removed an item from a sublist that counted none"
        );
        self.count -= 1;
        self.removes += 1;
        debug_assert!(
            self.count > 0 || self.root.is_empty(),
            "pruning left nodes behind"
        );
        self.invalidate(subject);
        true
    }

    /// All items whose subscription subject matches the publish subject `subject`.
    ///
    /// Tokens of `subject` are taken literally: a `*` or `>` token in it reaches only `*` and `>`
    /// subscriptions, so `foo.*` published reaches `foo.*` and `foo.>` but not `foo.bar`. A
    /// subject with an empty token matches nothing. Queue items are merged into one group per
    /// queue name across all matching nodes.
    pub fn match_subject(&mut self, subject: &[u8]) -> Rc<Match<T>> {
        self.matches += 1;
        if let Some(cached) = self.cache.get(subject) {
            self.cache_hits += 1;
            return Rc::clone(cached);
        }
        let mut inline: [&[u8]; TOKENS_INLINE_MAX] = [&[]; TOKENS_INLINE_MAX];
        let mut spilled: Vec<&[u8]> = Vec::new();
        let mut len = 0;
        for token in subject::tokens(subject) {
            if token.is_empty() {
                // Not cached: such subjects can never match, and a client sending them should
                // not be able to push good subjects out of the cache.
                return Rc::clone(&self.empty);
            }
            if len < TOKENS_INLINE_MAX {
                inline[len] = token;
            } else {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push(token);
            }
            len += 1;
        }
        let tokens = if len <= TOKENS_INLINE_MAX {
            &inline[..len]
        } else {
            &spilled[..]
        };

        let mut found = NodeList::new(&self.filler);
        match_level(&self.root, tokens, &mut found);
        let result = match build_match(found.as_slice()) {
            Some(result) => Rc::new(result),
            None => Rc::clone(&self.empty),
        };

        if self.cache_entries_max > 0 && self.seen_before(subject) {
            if self.cache.len() >= self.cache_entries_max {
                self.evict();
            }
            self.cache.insert(Box::from(subject), Rc::clone(&result));
            debug_assert!(self.cache.len() <= self.cache_entries_max);
        }
        result
    }

    /// The number of items stored.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn stats(&self) -> SublistStats {
        SublistStats {
            subscriptions: self.count,
            cache_entries: self.cache.len(),
            inserts: self.inserts,
            removes: self.removes,
            matches: self.matches,
            cache_hits: self.cache_hits,
        }
    }

    /// Calls `f` once per stored item (twice for an item inserted twice) with its subscription
    /// subject and queue, for monitoring and for re-announcing interest. Order is unspecified.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], Option<&Bytes>, T)) {
        let mut path = Vec::new();
        visit_level(&self.root, &mut path, &mut f);
    }

    /// Drops the cache entries that a change to `pattern` could make stale, and only those, so
    /// churn on unrelated subjects (request/reply inboxes) keeps the cache warm.
    fn invalidate(&mut self, pattern: &[u8]) {
        if self.cache.is_empty() {
            return;
        }
        if subject::is_literal(pattern) {
            // A literal pattern matches exactly one publish subject: itself.
            self.cache.remove(pattern);
        } else {
            // Every subject the pattern matches starts with its literal prefix; comparing that
            // first rejects most entries (other services, other inboxes) without tokenizing.
            let prefix = literal_prefix(pattern);
            self.cache.retain(|cached, _| {
                !(cached.starts_with(prefix) && subject::matches(pattern, cached))
            });
        }
    }

    /// Makes room for one entry: a single pass drops each entry with probability 1/4, so a pass
    /// costs O(len) but frees about len/4 slots, which is amortised O(1) per cached subject, and
    /// no subject is favoured by where it hashes.
    fn evict(&mut self) {
        let mut rng = self.evict_rng;
        self.cache.retain(|_, _| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng & 3 != 0
        });
        self.evict_rng = rng;
        if self.cache.len() >= self.cache_entries_max {
            // Small caches can keep every entry by chance; then drop an arbitrary one.
            let mut dropped = false;
            self.cache
                .retain(|_, _| std::mem::replace(&mut dropped, true));
        }
    }
}

/// Fingerprint slots per cache entry allowed: enough that distinct subjects seldom share one.
const SEEN_SLOTS_PER_ENTRY: usize = 2;

impl<T> Sublist<T> {
    /// Whether `subject` was matched (and not cached) since its fingerprint slot last changed;
    /// if not, leaves its fingerprint there. Subjects that carry per-message numbers (ack
    /// subjects `$JS.ACK.<stream>.<consumer>.<delivered>.<seq>...`, request inboxes) are
    /// matched once each: caching them cost an allocation and an insert each and pushed every
    /// useful entry out (a push consumer's acks were 17 % of the shard).
    fn seen_before(&mut self, subject: &[u8]) -> bool {
        if self.seen.is_empty() {
            let slots = (self.cache_entries_max * SEEN_SLOTS_PER_ENTRY).next_power_of_two();
            self.seen = vec![0; slots];
        }
        let h = self.cache.hasher().hash_one(subject);
        let mask = self.seen.len() - 1;
        let slot = &mut self.seen[(h as usize) & mask];
        // Never 0, the empty slot's value.
        let fingerprint = (h >> 32) as u32 | 1;
        if *slot == fingerprint {
            *slot = 0;
            true
        } else {
            *slot = fingerprint;
            false
        }
    }
}

/// One level of the trie: the children of one node (or of the root).
struct Level<T> {
    literal: FastMap<Box<[u8]>, Node<T>>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
}

/// The end of a subscription subject, and the way on to longer ones.
struct Node<T> {
    next: Option<Box<Level<T>>>,
    plain: Vec<T>,
    queues: Vec<QueueGroup<T>>,
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level {
            literal: FastMap::default(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            next: None,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> Level<T> {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    fn child_or_insert(&mut self, token: &[u8]) -> &mut Node<T> {
        if token == PWC {
            self.pwc.get_or_insert_with(Box::default)
        } else if token == FWC {
            self.fwc.get_or_insert_with(Box::default)
        } else {
            // Look up before inserting so an existing token costs no key allocation.
            if !self.literal.contains_key(token) {
                self.literal.insert(Box::from(token), Node::default());
            }
            self.literal.get_mut(token).expect("inserted above")
        }
    }

    fn child_mut(&mut self, token: &[u8]) -> Option<&mut Node<T>> {
        if token == PWC {
            self.pwc.as_deref_mut()
        } else if token == FWC {
            self.fwc.as_deref_mut()
        } else {
            self.literal.get_mut(token)
        }
    }

    fn remove_child(&mut self, token: &[u8]) {
        if token == PWC {
            self.pwc = None;
        } else if token == FWC {
            self.fwc = None;
        } else {
            self.literal.remove(token);
        }
    }
}

impl<T: Copy + Eq> Node<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty() && self.next.is_none()
    }

    fn has_items(&self) -> bool {
        !self.plain.is_empty() || !self.queues.is_empty()
    }

    fn queue(&self, name: &[u8]) -> Option<&QueueGroup<T>> {
        self.queues.iter().find(|group| group.name == name)
    }

    fn remove_item(&mut self, queue: Option<&[u8]>, item: T) -> bool {
        // Search from the back: a just-added item (request/reply churn) is removed first.
        let Some(name) = queue else {
            let Some(at) = self.plain.iter().rposition(|&x| x == item) else {
                return false;
            };
            self.plain.swap_remove(at);
            return true;
        };
        let Some(group_at) = self.queues.iter().position(|group| group.name == name) else {
            return false;
        };
        let members = &mut self.queues[group_at].members;
        let Some(at) = members.iter().rposition(|&x| x == item) else {
            return false;
        };
        members.swap_remove(at);
        if members.is_empty() {
            self.queues.swap_remove(group_at);
        }
        true
    }
}

/// The bytes of `pattern` before its first wildcard token, up to and including the `.` before it
/// (`a.b.*.c` gives `a.b.`, `*.a` gives nothing).
fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let mut end = 0;
    for token in subject::tokens(pattern) {
        if token == PWC || token == FWC {
            break;
        }
        end += token.len() + 1;
    }
    &pattern[..end.min(pattern.len())]
}

/// Removes one occurrence below `level` and prunes the nodes it leaves empty on the way back up.
/// Recursion depth is the subject's token count, which the parser bounds by the control line.
fn remove_from<T: Copy + Eq>(
    level: &mut Level<T>,
    subject: &[u8],
    queue: Option<&[u8]>,
    item: T,
) -> bool {
    let (token, rest) = subject::split_first(subject);
    let Some(node) = level.child_mut(token) else {
        return false;
    };
    let removed = match rest {
        None => node.remove_item(queue, item),
        Some(rest) => match node.next.as_deref_mut() {
            None => false,
            Some(next) => {
                let removed = remove_from(next, rest, queue, item);
                if next.is_empty() {
                    node.next = None;
                }
                removed
            }
        },
    };
    if removed && node.is_empty() {
        level.remove_child(token);
    }
    removed
}

/// Gathers the nodes whose subject matches `tokens`, as nats-server's `matchLevel` does: at each
/// level the `>` child matches the rest, the `*` child matches this token and recurses, and the
/// literal child is followed. Each matching node is reached by exactly one path, so no node is
/// gathered twice.
fn match_level<'a, T: Copy + Eq>(
    mut level: &'a Level<T>,
    tokens: &[&[u8]],
    found: &mut NodeList<'a, T>,
) {
    let Some((last, init)) = tokens.split_last() else {
        return;
    };
    for (i, token) in init.iter().enumerate() {
        if let Some(fwc) = level.fwc.as_deref() {
            found.push(fwc);
        }
        if let Some(next) = level.pwc.as_deref().and_then(|pwc| pwc.next.as_deref()) {
            match_level(next, &tokens[i + 1..], found);
        }
        // A `*` or `>` token finds no literal child: those keys never enter the map.
        match level
            .literal
            .get(*token)
            .and_then(|node| node.next.as_deref())
        {
            Some(next) => level = next,
            None => return,
        }
    }
    for node in [
        level.fwc.as_deref(),
        level.pwc.as_deref(),
        level.literal.get(*last),
    ]
    .into_iter()
    .flatten()
    {
        found.push(node);
    }
}

/// Builds a result with each Vec allocated once at its final size; `None` when nothing matched.
fn build_match<T: Copy + Eq>(nodes: &[&Node<T>]) -> Option<Match<T>> {
    let plain_len: usize = nodes.iter().map(|node| node.plain.len()).sum();
    let has_queues = nodes.iter().any(|node| !node.queues.is_empty());
    if plain_len == 0 && !has_queues {
        return None;
    }
    let mut plain = Vec::with_capacity(plain_len);
    for node in nodes {
        plain.extend_from_slice(&node.plain);
    }
    let mut queues = Vec::new();
    if has_queues {
        // Names are unique within a node, so a name is new if no earlier node has it. The
        // quadratic scans are over matching nodes and their groups, which are few; nats-server
        // searches its buckets linearly too.
        let is_first = |i: usize, name: &[u8]| nodes[..i].iter().all(|n| n.queue(name).is_none());
        let distinct = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| node.queues.iter().filter(|g| is_first(i, &g.name)).count())
            .sum();
        queues.reserve_exact(distinct);
        for (i, node) in nodes.iter().enumerate() {
            for group in node.queues.iter().filter(|g| is_first(i, &g.name)) {
                let later = || nodes[i + 1..].iter().filter_map(|n| n.queue(&group.name));
                let len = group.members.len() + later().map(|g| g.members.len()).sum::<usize>();
                let mut members = Vec::with_capacity(len);
                members.extend_from_slice(&group.members);
                for same in later() {
                    members.extend_from_slice(&same.members);
                }
                queues.push(QueueGroup {
                    name: group.name.clone(),
                    members,
                });
            }
        }
    }
    Some(Match { plain, queues })
}

fn visit_level<T: Copy, F: FnMut(&[u8], Option<&Bytes>, T)>(
    level: &Level<T>,
    path: &mut Vec<u8>,
    f: &mut F,
) {
    let literal = level.literal.iter().map(|(token, node)| (&token[..], node));
    let pwc = level.pwc.as_deref().map(|node| (PWC, node));
    let fwc = level.fwc.as_deref().map(|node| (FWC, node));
    for (token, node) in literal.chain(pwc).chain(fwc) {
        let parent_len = path.len();
        if parent_len > 0 {
            path.push(b'.');
        }
        path.extend_from_slice(token);
        for &item in &node.plain {
            f(path, None, item);
        }
        for group in &node.queues {
            for &item in &group.members {
                f(path, Some(&group.name), item);
            }
        }
        if let Some(next) = node.next.as_deref() {
            visit_level(next, path, f);
        }
        path.truncate(parent_len);
    }
}

/// The matching nodes of one match, on the stack unless there are many.
struct NodeList<'a, T> {
    /// Slots at `len` and beyond hold `filler`; a reference array cannot be left uninitialised.
    inline: [&'a Node<T>; NODES_INLINE_MAX],
    len: usize,
    spilled: Vec<&'a Node<T>>,
}

impl<'a, T: Copy + Eq> NodeList<'a, T> {
    fn new(filler: &'a Node<T>) -> Self {
        NodeList {
            inline: [filler; NODES_INLINE_MAX],
            len: 0,
            spilled: Vec::new(),
        }
    }

    fn push(&mut self, node: &'a Node<T>) {
        // Interior nodes on a wildcard's path often hold nothing; skip them here once.
        if !node.has_items() {
            return;
        }
        if self.len < NODES_INLINE_MAX {
            self.inline[self.len] = node;
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(node);
        }
        self.len += 1;
    }

    fn as_slice(&self) -> &[&'a Node<T>] {
        if self.len <= NODES_INLINE_MAX {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

#[cfg(test)]
#[path = "sublist_tests.rs"]
mod tests;
