//! Sublist match cost: cache hits and misses for publish subjects that reach a literal, a `*` and
//! a `>` subscription, with 10k and 100k subscriptions. Under SUB/UNSUB churn, it measures a cached
//! match while unrelated subscriptions come and go (request/reply inbox churn), and matches of a
//! hot subject that a churning subscription also matches, so every change invalidates its cache
//! entry.
//!
//! Subscriptions, for i in 0..n (shaped like a service mesh plus loggers):
//! * 90% literal `svc.{i%16}.{i/16%64}.k{i}`,
//! * 5% `svc.{i%16}.*.w{i}`, so every literal match also walks a `*` branch on its way,
//! * 5% `log.{i}.>`.
//!
//! A "miss" cycles through 8× the cache size of distinct subjects with the cache on, so it pays
//! the walk, the result, the key allocation and eviction, as a real miss does. The cache has
//! natrix's default size (`Limits::sublist_cache_entries_max`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use natrix::config::Limits;
use natrix::sublist::Sublist;

const SIZES: [(usize, &str); 2] = [(10_000, "10k"), (100_000, "100k")];

#[derive(Clone, Copy)]
enum Kind {
    Literal,
    Pwc,
    Fwc,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Literal => "literal",
            Kind::Pwc => "pwc",
            Kind::Fwc => "fwc",
        }
    }

    /// The kind of the subscription numbered `i`.
    fn of(i: usize) -> Kind {
        match i % 20 {
            0 => Kind::Pwc,
            1 => Kind::Fwc,
            _ => Kind::Literal,
        }
    }
}

fn subscription(i: usize) -> String {
    let (a, b) = (i % 16, i / 16 % 64);
    match Kind::of(i) {
        Kind::Literal => format!("svc.{a}.{b}.k{i}"),
        Kind::Pwc => format!("svc.{a}.*.w{i}"),
        Kind::Fwc => format!("log.{i}.>"),
    }
}

/// A publish subject that reaches subscription `i` (and, for `variant` > 0, differs from the
/// subjects of other variants whenever the subscription is a wildcard).
fn publish_subject(i: usize, variant: usize) -> String {
    let (a, b) = (i % 16, i / 16 % 64);
    match Kind::of(i) {
        Kind::Literal => format!("svc.{a}.{b}.k{i}"),
        Kind::Pwc => format!("svc.{a}.x{variant}.w{i}"),
        Kind::Fwc => format!("log.{i}.x{variant}.y"),
    }
}

/// The cache size a shard's sublist gets by default.
fn cache_entries_max() -> usize {
    Limits::default().sublist_cache_entries_max
}

fn populated(subscriptions: usize) -> Sublist<u32> {
    let mut list = Sublist::new(cache_entries_max());
    for i in 0..subscriptions {
        list.insert(subscription(i).as_bytes(), None, i as u32)
            .expect("valid subject");
    }
    list
}

/// `count` distinct publish subjects of one kind, spread over the subscriptions.
fn subjects(kind: Kind, subscriptions: usize, count: usize) -> Vec<Vec<u8>> {
    let targets: Vec<usize> = (0..subscriptions)
        .filter(|&i| Kind::of(i).name() == kind.name())
        .collect();
    (0..count)
        .map(|n| publish_subject(targets[n % targets.len()], n / targets.len()).into_bytes())
        .collect()
}

fn bench_match(c: &mut Criterion) {
    let mut group = c.benchmark_group("sublist_match");
    for (subscriptions, size) in SIZES {
        let mut list = populated(subscriptions);
        for kind in [Kind::Literal, Kind::Pwc, Kind::Fwc] {
            let hot = subjects(kind, subscriptions, 1).remove(0);
            assert_eq!(
                list.match_subject(&hot).plain.len(),
                1,
                "bench subject matches one sub"
            );
            group.bench_function(
                BenchmarkId::new(format!("{}_hit", kind.name()), size),
                |b| b.iter(|| black_box(list.match_subject(black_box(&hot)))),
            );

            let cold = subjects(kind, subscriptions, 8 * cache_entries_max());
            let mut next = 0;
            group.bench_function(
                BenchmarkId::new(format!("{}_miss", kind.name()), size),
                |b| {
                    b.iter(|| {
                        next = (next + 1) % cold.len();
                        black_box(list.match_subject(black_box(&cold[next])))
                    })
                },
            );
        }
    }
    group.finish();
}

/// Matches while subscriptions come and go, with a full cache. Unrelated inboxes: one SUB, one
/// cached match of a hot subject, one UNSUB per iteration. A literal inbox drops one cache key;
/// a wildcard inbox (`_INBOX.<id>.*`, new-style request/reply) scans the cache but matches none
/// of it. Then churn on the hot subject itself, which makes its matches miss.
fn bench_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("sublist_churn");
    for (subscriptions, size) in SIZES {
        let mut list = populated(subscriptions);
        let hot = warm_cache(&mut list, subscriptions);
        let literal: Vec<Vec<u8>> = (0..1024)
            .map(|k| format!("_INBOX.conn{}.{k}", k % 7).into_bytes())
            .collect();
        let wildcard: Vec<Vec<u8>> = (0..1024)
            .map(|k| format!("_INBOX.r{k}.*").into_bytes())
            .collect();
        for (name, inboxes) in [("literal_inbox", &literal), ("wildcard_inbox", &wildcard)] {
            let mut next = 0;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    next = (next + 1) % inboxes.len();
                    let inbox = &inboxes[next];
                    list.insert(inbox, None, u32::MAX).expect("valid subject");
                    black_box(list.match_subject(black_box(&hot)));
                    list.remove(inbox, None, u32::MAX)
                })
            });
        }

        // A second subscriber on the hot subject, once by the same literal (the change drops one
        // cache key) and once by a wildcard that matches only the hot subject among the cached
        // ones (the change scans the whole cache to find it). SUB, match, UNSUB, match: both
        // matches miss, and the cache stays full of other subjects.
        let hot_str = std::str::from_utf8(&hot).expect("ASCII subject");
        let (_, rest) = hot_str.split_once('.').expect("several tokens");
        let wildcard = format!("*.{rest}").into_bytes();
        for (name, pattern) in [("hot_literal", &hot), ("hot_wildcard", &wildcard)] {
            let (with, without) = churn_hot(&mut list, pattern, &hot);
            assert_eq!(
                (with, without),
                (2, 1),
                "the churning SUB matches the hot subject"
            );
            let hits = list.stats().cache_hits;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| churn_hot(&mut list, black_box(pattern), black_box(&hot)))
            });
            assert_eq!(
                list.stats().cache_hits,
                hits,
                "every match of the hot subject missed"
            );
            assert_eq!(list.stats().cache_entries, cache_entries_max());
        }
    }
    group.finish();
}

/// SUB `pattern`, match `hot`, UNSUB, match `hot` again; the plain items of both matches.
fn churn_hot(list: &mut Sublist<u32>, pattern: &[u8], hot: &[u8]) -> (usize, usize) {
    list.insert(pattern, None, u32::MAX).expect("valid subject");
    let with = list.match_subject(hot).plain.len();
    list.remove(pattern, None, u32::MAX);
    (with, list.match_subject(hot).plain.len())
}

/// Fills the cache with literal subjects and returns one of them, matched last.
fn warm_cache(list: &mut Sublist<u32>, subscriptions: usize) -> Vec<u8> {
    for subject in subjects(Kind::Literal, subscriptions, cache_entries_max()) {
        list.match_subject(&subject);
    }
    let hot = subjects(Kind::Literal, subscriptions, 1).remove(0);
    list.match_subject(&hot);
    assert_eq!(list.stats().cache_entries, cache_entries_max());
    hot
}

criterion_group!(benches, bench_match, bench_churn);
criterion_main!(benches);
