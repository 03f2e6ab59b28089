//! Weighted mappings ([`Mapping`], nats-server's `AddWeightedMappings`) and the table of one
//! account ([`Mappings`], its `selectMappedSubject`).
//!
//! Invariant: each destination list is ascending by cumulative weight, and ends at 100
//! unless the source itself is listed (the rest is then a deliberate loss).

use ahash::AHashMap;
use smallvec::SmallVec;

use super::{subset_match, MappingError, SubjectTransform, TokenVec, GO_SPACE};
use crate::subject;

/// One destination as configured: a subject, a weight in percent, an optional cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDest {
    pub subject: String,
    pub weight_percent: u8,
    /// Used only on a server whose cluster has this name.
    pub cluster: Option<String>,
}

impl MapDest {
    pub fn new(subject: &str, weight_percent: u8) -> MapDest {
        MapDest {
            subject: subject.to_string(),
            weight_percent,
            cluster: None,
        }
    }
}

/// A compiled destination and its cumulative weight (this one's and those before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub transform: SubjectTransform,
    pub weight_cumulative_percent: u8,
}

/// One source with its destinations, as nats-server's `AddWeightedMappings` builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    source: String,
    wildcard: bool,
    /// The unscoped destinations, ascending by cumulative weight.
    destinations: Vec<Destination>,
    /// Cluster-scoped destination lists, in first-seen order.
    cluster_destinations: Vec<(String, Vec<Destination>)>,
}

impl Mapping {
    /// `source` to `destination`, always (nats-server's `AddMapping`: weight 100).
    pub fn single(source: &str, destination: &str) -> Result<Mapping, MappingError> {
        Mapping::weighted(source, &[MapDest::new(destination, 100)])
    }

    /// `source` to weighted destinations. Where the weights of a list add up to less than 100
    /// the rest goes to the unchanged subject, unless the source is itself listed.
    pub fn weighted(source: &str, dests: &[MapDest]) -> Result<Mapping, MappingError> {
        if !is_valid_subject(source) {
            return Err(MappingError::BadSource);
        }
        let mut seen: Vec<&str> = Vec::with_capacity(dests.len());
        let mut totals: Vec<(Option<&str>, u32)> = Vec::new();
        let mut destinations = Vec::new();
        let mut cluster_destinations: Vec<(String, Vec<Destination>)> = Vec::new();
        for d in dests {
            if seen.contains(&d.subject.as_str()) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
            seen.push(&d.subject);
            if d.weight_percent > 100 {
                return Err(MappingError::WeightAbove100);
            }
            let cluster = d.cluster.as_deref();
            let total = match totals.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, t)) => t,
                None => {
                    totals.push((cluster, 0));
                    &mut totals.last_mut().expect("just pushed").1
                }
            };
            *total += u32::from(d.weight_percent);
            if *total > 100 {
                return Err(MappingError::TotalWeightAbove100);
            }
            let dest = Destination {
                transform: SubjectTransform::new(source, &d.subject)?,
                weight_cumulative_percent: d.weight_percent,
            };
            match cluster {
                None => destinations.push(dest),
                Some(c) => match cluster_destinations.iter_mut().find(|(n, _)| n == c) {
                    Some((_, list)) => list.push(dest),
                    None => cluster_destinations.push((c.to_string(), vec![dest])),
                },
            }
        }
        let source_listed = seen.contains(&source);
        let wildcard = !subject::is_literal(source.as_bytes());
        let destinations = finish_destinations(source, wildcard, source_listed, destinations)?;
        let mut scoped = Vec::with_capacity(cluster_destinations.len());
        for (c, list) in cluster_destinations {
            scoped.push((
                c,
                finish_destinations(source, wildcard, source_listed, list)?,
            ));
        }
        Ok(Mapping {
            source: source.to_string(),
            wildcard,
            destinations,
            cluster_destinations: scoped,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The destinations a server in `cluster` uses (the unscoped ones when none are scoped to
    /// it, as on a server without a cluster), ascending by cumulative weight, with the
    /// implicit remainder entry. This is also what `/accountz` shows.
    pub fn destinations(&self, cluster: Option<&str>) -> &[Destination] {
        cluster
            .and_then(|c| self.cluster_destinations.iter().find(|(n, _)| n == c))
            .map_or(&self.destinations, |(_, list)| list)
    }

    /// The cluster-scoped lists, for `/accountz`.
    pub fn cluster_destinations(&self) -> &[(String, Vec<Destination>)] {
        &self.cluster_destinations
    }

    /// The destination `rnd` picks from `destinations`, or `None` for a deliberate loss.
    /// `rnd` is read as a draw 0..100 (its top bits scaled, as nats-server's `Uint32n(100)`).
    pub fn pick(destinations: &[Destination], rnd: u32) -> Option<&SubjectTransform> {
        if let [only] = destinations {
            if only.weight_cumulative_percent == 100 {
                return Some(&only.transform);
            }
        }
        let draw = ((u64::from(rnd) * 100) >> 32) as u8;
        destinations
            .iter()
            .find(|d| draw < d.weight_cumulative_percent)
            .map(|d| &d.transform)
    }
}

/// nats-server's `processDestinations`: the remainder entry, the sort, the running sum.
fn finish_destinations(
    source: &str,
    wildcard: bool,
    source_listed: bool,
    mut list: Vec<Destination>,
) -> Result<Vec<Destination>, MappingError> {
    let total: u32 = list
        .iter()
        .map(|d| u32::from(d.weight_cumulative_percent))
        .sum();
    if total != 100 && !source_listed {
        let dest = if wildcard {
            numbered_wildcards(source)
        } else {
            source.to_string()
        };
        list.push(Destination {
            transform: SubjectTransform::new(source, &dest)?,
            weight_cumulative_percent: (100 - total) as u8,
        });
    }
    // Stable, as Go's slices.SortFunc is not guaranteed to be; equal weights keep list order.
    list.sort_by_key(|d| d.weight_cumulative_percent);
    let mut running = 0u8;
    for d in &mut list {
        running = running.saturating_add(d.weight_cumulative_percent);
        d.weight_cumulative_percent = running;
    }
    Ok(list)
}

/// `foo.*.*` as `foo.$1.$2` (nats-server's `transformTokenize`).
fn numbered_wildcards(source: &str) -> String {
    let mut n = 0;
    let tokens: Vec<String> = source
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect();
    tokens.join(".")
}

/// nats-server's `IsValidSubject`: no empty token, nothing after `>`, no whitespace.
pub fn is_valid_subject(s: &str) -> bool {
    !s.contains(GO_SPACE) && subject::is_valid_subscription_subject(s.as_bytes())
}

/// The mappings of one account, compiled for the server's cluster.
///
/// Precedence: an exact literal source first, then wildcard sources in list order. nats-server
/// keeps one list in the random order of its config map, so for overlapping sources its choice
/// varies between starts (verified 2.15.1: `pr.a` against `pr.*` went to the literal in 7 of 8
/// starts); natrix takes the order that is both the common outcome and deterministic.
#[derive(Clone, Debug, Default)]
pub struct Mappings {
    literal: AHashMap<Box<[u8]>, Compiled>,
    wildcard: Vec<Compiled>,
}

#[derive(Clone, Debug)]
struct Compiled {
    pattern: Box<[Box<[u8]>]>,
    /// The pattern ends in `>`: a subject needs at least as many tokens, not exactly as many.
    ends_in_fwc: bool,
    destinations: Vec<Destination>,
}

impl Compiled {
    /// Whether a subject of `n` tokens can match, checked before any token is compared.
    fn fits(&self, n: usize) -> bool {
        if self.ends_in_fwc {
            n >= self.pattern.len()
        } else {
            n == self.pattern.len()
        }
    }
}

impl Mappings {
    /// Compiles `mappings` for a server in `cluster`. A later mapping of the same source
    /// replaces an earlier one in its place, as nats-server's `AddWeightedMappings` does.
    pub fn new(mappings: &[Mapping], cluster: Option<&str>) -> Mappings {
        let mut table = Mappings::default();
        let mut wildcard: Vec<(&str, Compiled)> = Vec::new();
        for m in mappings {
            let compiled = Compiled {
                pattern: m.source.split('.').map(|t| t.as_bytes().into()).collect(),
                ends_in_fwc: m.source == ">" || m.source.ends_with(".>"),
                destinations: m.destinations(cluster).to_vec(),
            };
            if !m.wildcard {
                table.literal.insert(m.source.as_bytes().into(), compiled);
            } else if let Some(slot) = wildcard.iter_mut().find(|(s, _)| *s == m.source) {
                slot.1 = compiled;
            } else {
                wildcard.push((&m.source, compiled));
            }
        }
        table.wildcard = wildcard.into_iter().map(|(_, c)| c).collect();
        table
    }

    pub fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.wildcard.is_empty()
    }

    /// Maps a published subject. Returns false, leaving `out` alone, when no mapping applies;
    /// true with the new subject in `out` when one does, and true with `out` empty when the
    /// weighted pick chose the deliberate loss (the message goes nowhere). `rnd` is a uniform
    /// random number; it picks the weighted destination, and a mix of it feeds
    /// `{{random(n)}}` so that the two are not correlated.
    pub fn map(&self, subject: &[u8], rnd: u32, out: &mut Vec<u8>) -> bool {
        if self.is_empty() {
            return false;
        }
        // Tokenized once, on the stack, for every wildcard pattern; a subject of more tokens
        // than the stack holds is matched by walking it again for each pattern instead.
        let mut tokens: TokenVec = SmallVec::new();
        let mut walk = false;
        let found = match self.literal.get(subject) {
            Some(c) => Some(c),
            None if self.wildcard.is_empty() => None,
            None => {
                for t in subject::tokens(subject) {
                    if tokens.len() == tokens.inline_size() {
                        walk = true;
                        break;
                    }
                    tokens.push(t);
                }
                if walk {
                    self.wildcard
                        .iter()
                        .find(|c| subset_match(subject::tokens(subject), &c.pattern))
                } else {
                    self.wildcard.iter().find(|c| {
                        c.fits(tokens.len()) && subset_match(tokens.iter().copied(), &c.pattern)
                    })
                }
            }
        };
        let Some(c) = found else { return false };
        out.clear();
        let Some(transform) = Mapping::pick(&c.destinations, rnd) else {
            return true;
        };
        if walk || tokens.is_empty() {
            tokens.clear();
            tokens.extend(subject::tokens(subject));
        }
        transform.apply(subject, &tokens, mix32(rnd), out);
        true
    }
}

/// A bijective scramble of a u32 (murmur3's finalizer), so one random number can serve two
/// independent draws.
pub(super) fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^ (x >> 16)
}
