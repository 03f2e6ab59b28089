//! A user's publish and subscribe permissions, compiled once from [`PermissionsConfig`] and
//! shared (behind an `Arc`) by every connection of that user. Stateless: the per-connection
//! parts (the publish cache, response permits) live in [`super::ClientPermissions`].
//!
//! Rules (reference §12, nats-server `client.go` `setPermissions`/`canSubscribe`):
//! * Deny always wins over allow.
//! * Publish: no allow list means everything is allowed; an empty allow list (also the one
//!   `allow_responses` implies) allows nothing. Subscribe: an empty allow list is the same as
//!   none (nats-server builds the subscribe allow tree only for a non-empty list).
//! * Subjects are matched as the sublist matches them: the tokens of the checked subject are
//!   literal, so allow `foo.>` permits `SUB foo.*` and allow `foo.bar` does not.
//! * Subscribe entries may name a queue: `"subject queue"`. For a queue SUB, if queue entries
//!   of the allow list match the subject, the queue must match one of them (plain entries then
//!   do not count); with none, a plain entry suffices. A plain SUB needs a plain entry. A deny
//!   queue entry refuses only SUBs with a matching queue.
//! * A wildcard SUB wider than a denied subject is accepted; what it must not receive is
//!   filtered at delivery by [`Permissions::delivery_allowed`].
//!
//! Invariant: every stored pattern passed [`is_valid_permission_subject`], so matching never
//! meets an empty token.

use std::fmt;

use super::config::{PermissionsConfig, ResponsePermission, SubjectPermission};
use crate::subject::{self, FWC, PWC};

/// Compiled permissions of one user. Immutable, `Send + Sync`.
#[derive(Clone, Debug, PartialEq)]
pub struct Permissions {
    /// `None`: every subject may be published to.
    publish_allow: Option<Vec<Box<[u8]>>>,
    publish_deny: Vec<Box<[u8]>>,
    /// `None`: every subject may be subscribed to.
    subscribe_allow: Option<Vec<SubscribeRule>>,
    subscribe_deny: Vec<SubscribeRule>,
    responses: Option<ResponsePermission>,
}

/// One subscribe allow or deny entry: `subject` or `subject queue`.
#[derive(Clone, Debug, PartialEq)]
struct SubscribeRule {
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

/// A permission entry nats-server refuses at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionsError {
    /// `"publish allow"`, `"publish deny"`, `"subscribe allow"` or `"subscribe deny"`.
    pub list: &'static str,
    pub entry: String,
}

impl fmt::Display for PermissionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: subject {:?} is not a valid subject",
            self.list, self.entry
        )
    }
}

impl std::error::Error for PermissionsError {}

impl Permissions {
    /// Compiles and validates `config`. `allow_responses` without a publish allow list turns
    /// the publish allow list into an empty one: responses become the only thing allowed
    /// beyond what is listed (nats-server `validateResponsePermissions`).
    pub fn compile(config: &PermissionsConfig) -> Result<Permissions, PermissionsError> {
        let no_lists = SubjectPermission::default();
        let publish = config.publish.as_ref().unwrap_or(&no_lists);
        let subscribe = config.subscribe.as_ref().unwrap_or(&no_lists);

        let mut publish_allow = match &publish.allow {
            Some(list) => Some(publish_patterns(list, "publish allow")?),
            None => None,
        };
        if config.allow_responses.is_some() && publish_allow.is_none() {
            publish_allow = Some(Vec::new());
        }
        let publish_deny =
            publish_patterns(publish.deny.as_deref().unwrap_or(&[]), "publish deny")?;
        let subscribe_allow = match subscribe.allow.as_deref() {
            Some(list) if !list.is_empty() => Some(subscribe_rules(list, "subscribe allow")?),
            _ => None,
        };
        let subscribe_deny =
            subscribe_rules(subscribe.deny.as_deref().unwrap_or(&[]), "subscribe deny")?;

        Ok(Permissions {
            publish_allow,
            publish_deny,
            subscribe_allow,
            subscribe_deny,
            responses: config.allow_responses,
        })
    }

    /// Whether the static lists let this user publish to `subject`. Response permits are not
    /// consulted here: they are per connection ([`super::ClientPermissions::can_publish`]).
    pub fn publish_allowed(&self, subject: &[u8]) -> bool {
        let allowed = match &self.publish_allow {
            Some(allow) => allow.iter().any(|p| subject::matches(p, subject)),
            None => true,
        };
        allowed
            && !self
                .publish_deny
                .iter()
                .any(|p| subject::matches(p, subject))
    }

    /// Whether the user may `SUB subject [queue]`.
    pub fn subscribe_allowed(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let queue = queue.filter(|q| !q.is_empty());
        if let Some(allow) = &self.subscribe_allow {
            let matching = allow
                .iter()
                .filter(|r| subject::matches(&r.subject, subject));
            let mut plain = false;
            let mut queue_entries = false;
            let mut queue_matched = false;
            for rule in matching {
                match (&rule.queue, queue) {
                    (None, _) => plain = true,
                    (Some(allowed), Some(q)) => {
                        queue_entries = true;
                        queue_matched |= queue_matches(allowed, q);
                    }
                    (Some(_), None) => {}
                }
            }
            // Queue entries for this subject decide a queue SUB alone; nats-server replaces
            // the plain result with the queue result.
            let allowed = if queue_entries { queue_matched } else { plain };
            if !allowed {
                return false;
            }
        }
        !self.subscribe_denies(subject, queue)
    }

    /// Whether a message on `subject` may be delivered to a subscription of this user (with
    /// `queue`, for a queue subscription). Only the deny list matters here: the subscription
    /// itself passed the allow list, but a wildcard may cover denied subjects.
    pub fn delivery_allowed(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.subscribe_deny.is_empty() || !self.subscribe_denies(subject, queue)
    }

    /// Whether any delivery could be filtered: lets a connection skip the per-message check.
    pub fn filters_deliveries(&self) -> bool {
        !self.subscribe_deny.is_empty()
    }

    /// Whether publishing is restricted at all: when not, a connection skips its cache.
    pub fn restricts_publish(&self) -> bool {
        self.publish_allow.is_some() || !self.publish_deny.is_empty()
    }

    /// `allow_responses`, if set.
    pub fn responses(&self) -> Option<ResponsePermission> {
        self.responses
    }

    /// Deny: a plain entry matching `subject` refuses; a queue entry refuses only a matching
    /// queue.
    fn subscribe_denies(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.subscribe_deny
            .iter()
            .filter(|r| subject::matches(&r.subject, subject))
            .any(|r| match (&r.queue, queue) {
                (None, _) => true,
                (Some(denied), Some(q)) => queue_matches(denied, q),
                (Some(_), None) => false,
            })
    }
}

/// nats-server's `IsValidSubject` as used on permission entries: no empty token, nothing after
/// `>`, and no whitespace inside a token longer than one byte.
pub fn is_valid_permission_subject(s: &[u8]) -> bool {
    subject::is_valid_subscription_subject(s)
        && subject::tokens(s).all(|t| {
            t.len() == 1
                || !t
                    .iter()
                    .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
        })
}

fn publish_patterns(
    list: &[String],
    name: &'static str,
) -> Result<Vec<Box<[u8]>>, PermissionsError> {
    list.iter()
        .map(|entry| {
            if is_valid_permission_subject(entry.as_bytes()) {
                Ok(entry.as_bytes().into())
            } else {
                Err(PermissionsError {
                    list: name,
                    entry: entry.clone(),
                })
            }
        })
        .collect()
}

fn subscribe_rules(
    list: &[String],
    name: &'static str,
) -> Result<Vec<SubscribeRule>, PermissionsError> {
    list.iter()
        .map(|entry| {
            let error = || PermissionsError {
                list: name,
                entry: entry.clone(),
            };
            if is_valid_permission_subject(entry.as_bytes()) {
                return Ok(SubscribeRule {
                    subject: entry.as_bytes().into(),
                    queue: None,
                });
            }
            // Not a subject: it may be "subject queue", split on whitespace like Go's
            // strings.Fields.
            let fields: Vec<&str> = entry.split_whitespace().collect();
            match fields[..] {
                [subject, queue]
                    if is_valid_permission_subject(subject.as_bytes())
                        && is_valid_permission_subject(queue.as_bytes()) =>
                {
                    Ok(SubscribeRule {
                        subject: subject.as_bytes().into(),
                        queue: Some(queue.as_bytes().into()),
                    })
                }
                _ => Err(error()),
            }
        })
        .collect()
}

/// Whether the SUB's `queue` is covered by the permission entry's queue `pattern`: equal, or
/// (when the pattern has wildcards) a subset of it, as nats-server's `queueMatches`.
fn queue_matches(pattern: &[u8], queue: &[u8]) -> bool {
    pattern == queue || (!subject::is_literal(pattern) && is_subset_match(queue, pattern))
}

/// Whether every subject `subset` matches is also matched by `pattern`; both may have
/// wildcards. A `*` is covered by `*` or `>`, a `>` only by `>`.
fn is_subset_match(subset: &[u8], pattern: &[u8]) -> bool {
    let mut subset_tokens = subject::tokens(subset);
    let mut pattern_tokens = subject::tokens(pattern);
    loop {
        match (pattern_tokens.next(), subset_tokens.next()) {
            (None, None) => return true,
            (Some(p), Some(_)) if p == FWC => return true,
            (Some(p), Some(s)) => {
                let covered = if s == FWC {
                    false
                } else if s == PWC {
                    p == PWC
                } else {
                    p == PWC || p == s
                };
                if !covered {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
