//! Scenario tests for the sublist, plus a randomized comparison against a brute force over
//! `subject::matches`. `check_invariants` walks the private structure after the changes.

use super::*;

type Groups = Vec<(Vec<u8>, Vec<u32>)>;

fn q(name: &str) -> Bytes {
    Bytes::copy_from_slice(name.as_bytes())
}

/// Plain items sorted, queue groups sorted by name with sorted members; panics if a queue name
/// appears twice, since groups must be merged by name.
fn normalize(m: &Match<u32>) -> (Vec<u32>, Groups) {
    let mut plain = m.plain.clone();
    plain.sort_unstable();
    let mut groups: Groups = m
        .queues
        .iter()
        .map(|g| {
            let mut members = g.members.clone();
            members.sort_unstable();
            (g.name.to_vec(), members)
        })
        .collect();
    groups.sort();
    for pair in groups.windows(2) {
        assert_ne!(pair[0].0, pair[1].0, "queue group not merged by name");
    }
    for (name, members) in &groups {
        assert!(!members.is_empty(), "empty queue group {name:?} in a match");
    }
    (plain, groups)
}

fn plain(list: &mut Sublist<u32>, subject: &str) -> Vec<u32> {
    normalize(&list.match_subject(subject.as_bytes())).0
}

fn groups(list: &mut Sublist<u32>, subject: &str) -> Vec<(String, Vec<u32>)> {
    let (_, groups) = normalize(&list.match_subject(subject.as_bytes()));
    groups
        .into_iter()
        .map(|(name, members)| (String::from_utf8(name).unwrap(), members))
        .collect()
}

fn sub(list: &mut Sublist<u32>, subject: &str, item: u32) {
    list.insert(subject.as_bytes(), None, item)
        .expect("valid subject");
}

fn qsub(list: &mut Sublist<u32>, subject: &str, queue: &str, item: u32) {
    list.insert(subject.as_bytes(), Some(&q(queue)), item)
        .expect("valid subject");
}

type Stored = (Vec<u8>, Option<Bytes>, u32);

fn stored(list: &Sublist<u32>) -> Vec<Stored> {
    let mut all = Vec::new();
    list.for_each(|subject, queue, item| all.push((subject.to_vec(), queue.cloned(), item)));
    all.sort();
    all
}

/// What a match must return, computed from the stored items alone.
fn brute_force(items: &[Stored], subject: &[u8]) -> (Vec<u32>, Groups) {
    let mut plain = Vec::new();
    let mut groups: Groups = Vec::new();
    for (pattern, queue, item) in items {
        if !subject::matches(pattern, subject) {
            continue;
        }
        match queue {
            None => plain.push(*item),
            Some(name) => match groups.iter_mut().find(|(n, _)| n[..] == name[..]) {
                Some((_, members)) => members.push(*item),
                None => groups.push((name.to_vec(), vec![*item])),
            },
        }
    }
    plain.sort_unstable();
    for (_, members) in &mut groups {
        members.sort_unstable();
    }
    groups.sort();
    (plain, groups)
}

/// Walks the trie and the cache and asserts every invariant in the module docs.
fn check_invariants(list: &Sublist<u32>) {
    fn walk(level: &Level<u32>, is_root: bool) -> usize {
        if !is_root {
            assert!(
                !level.is_empty(),
                "empty level kept instead of `next: None`"
            );
        }
        assert!(!level.literal.contains_key(PWC) && !level.literal.contains_key(FWC));
        let mut items = 0;
        if let Some(fwc) = level.fwc.as_deref() {
            assert!(fwc.next.is_none(), "`>` node with a next level");
        }
        let literal = level.literal.values();
        for node in literal
            .chain(level.pwc.as_deref())
            .chain(level.fwc.as_deref())
        {
            assert!(!node.is_empty(), "empty node not pruned");
            items += node.plain.len();
            for (i, group) in node.queues.iter().enumerate() {
                assert!(!group.members.is_empty(), "empty queue group kept");
                assert!(
                    node.queues[..i].iter().all(|g| g.name != group.name),
                    "duplicate group"
                );
                items += group.members.len();
            }
            if let Some(next) = node.next.as_deref() {
                items += walk(next, false);
            }
        }
        items
    }
    assert_eq!(
        walk(&list.root, true),
        list.count,
        "count differs from stored items"
    );
    assert!(list.cache.len() <= list.cache_entries_max);
    assert!(list.empty.plain.is_empty() && list.empty.queues.is_empty());
    assert!(list.filler.is_empty());
    let items = stored(list);
    assert_eq!(items.len(), list.count);
    for (subject, cached) in &list.cache {
        assert_eq!(
            normalize(cached),
            brute_force(&items, subject),
            "stale cache entry {subject:?}"
        );
    }
}

#[test]
fn literal_subject_matches_only_itself() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.bar", 1);
    sub(&mut list, "foo.baz", 2);
    sub(&mut list, "foo", 3);
    assert_eq!(plain(&mut list, "foo.bar"), [1]);
    assert_eq!(plain(&mut list, "foo.baz"), [2]);
    assert_eq!(plain(&mut list, "foo"), [3]);
    assert!(plain(&mut list, "foo.bar.baz").is_empty());
    assert!(plain(&mut list, "bar").is_empty());
    check_invariants(&list);
}

#[test]
fn pwc_matches_exactly_one_token_at_its_position() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.*", 1);
    sub(&mut list, "*.bar", 2);
    sub(&mut list, "foo.*.baz", 3);
    assert_eq!(plain(&mut list, "foo.bar"), [1, 2]);
    assert_eq!(plain(&mut list, "foo.x"), [1]);
    assert_eq!(plain(&mut list, "x.bar"), [2]);
    assert_eq!(plain(&mut list, "foo.x.baz"), [3]);
    assert!(plain(&mut list, "foo").is_empty());
    assert!(plain(&mut list, "foo.x.y").is_empty());
    check_invariants(&list);
}

#[test]
fn fwc_matches_one_or_more_trailing_tokens_but_not_the_parent() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.>", 1);
    assert_eq!(plain(&mut list, "foo.bar"), [1]);
    assert_eq!(plain(&mut list, "foo.bar.baz.qux"), [1]);
    assert!(plain(&mut list, "foo").is_empty());
    assert!(plain(&mut list, "bar.foo").is_empty());
}

#[test]
fn fwc_alone_matches_every_subject() {
    let mut list = Sublist::new(64);
    sub(&mut list, ">", 1);
    for subject in ["a", "foo.bar", "a.b.c.d.e.f", "*", "foo*", "_INBOX.x.y"] {
        assert_eq!(plain(&mut list, subject), [1], "{subject}");
    }
}

#[test]
fn subjects_are_case_sensitive() {
    let mut list = Sublist::new(64);
    sub(&mut list, "Foo.Bar", 1);
    sub(&mut list, "foo.*", 2);
    assert_eq!(plain(&mut list, "Foo.Bar"), [1]);
    assert_eq!(plain(&mut list, "foo.bar"), [2]);
    assert!(plain(&mut list, "FOO.BAR").is_empty());
}

#[test]
fn invalid_subscription_subjects_are_rejected_and_change_nothing() {
    let mut list = Sublist::new(64);
    for bad in [
        "",
        ".",
        "foo.",
        ".foo",
        "foo..bar",
        "foo.>.bar",
        ">.foo",
        ">.>",
    ] {
        assert_eq!(
            list.insert(bad.as_bytes(), None, 1),
            Err(InvalidSubject),
            "{bad:?}"
        );
        assert_eq!(
            list.insert(bad.as_bytes(), Some(&q("g")), 1),
            Err(InvalidSubject)
        );
        assert!(!list.remove(bad.as_bytes(), None, 1));
    }
    assert_eq!(list.count(), 0);
    assert_eq!(list.stats().inserts, 0);
    assert!(list.root.is_empty());
}

#[test]
fn wildcard_characters_inside_a_token_are_literal() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo*", 1);
    sub(&mut list, "f*o.b>r", 2);
    assert_eq!(plain(&mut list, "foo*"), [1]);
    assert!(plain(&mut list, "fooX").is_empty());
    assert!(plain(&mut list, "foo").is_empty());
    assert_eq!(plain(&mut list, "f*o.b>r"), [2]);
    assert!(plain(&mut list, "fxo.bar").is_empty());
    check_invariants(&list);
}

#[test]
fn wildcard_tokens_in_a_publish_subject_match_literally() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.bar", 1);
    sub(&mut list, "foo.*", 2);
    sub(&mut list, "foo.>", 3);
    assert_eq!(plain(&mut list, "foo.*"), [2, 3]);
    assert_eq!(plain(&mut list, "foo.>"), [2, 3]);
    assert_eq!(plain(&mut list, "foo.bar"), [1, 2, 3]);
}

#[test]
fn publish_subject_with_an_empty_token_matches_nothing_and_is_not_cached() {
    let mut list = Sublist::new(64);
    sub(&mut list, ">", 1);
    sub(&mut list, "foo.*.bar", 2);
    for bad in ["", ".", "foo.", ".foo", "foo..bar"] {
        assert!(
            list.match_subject(bad.as_bytes()).plain.is_empty(),
            "{bad:?}"
        );
    }
    assert_eq!(list.stats().cache_entries, 0);
}

#[test]
fn overlapping_subscriptions_of_one_connection_each_get_an_item() {
    let mut list = Sublist::new(64);
    for pattern in ["foo.bar", "foo.*", "foo.>", ">", "*.bar", "*.*"] {
        sub(&mut list, pattern, 7);
    }
    assert_eq!(plain(&mut list, "foo.bar"), [7; 6]);
    assert_eq!(plain(&mut list, "foo.baz"), [7; 4]);
}

#[test]
fn queue_groups_are_merged_by_name_across_literal_and_wildcard_nodes() {
    let mut list = Sublist::new(64);
    qsub(&mut list, "a.b", "g", 1);
    qsub(&mut list, "a.*", "g", 2);
    qsub(&mut list, "a.>", "g", 3);
    qsub(&mut list, "a.*", "h", 4);
    sub(&mut list, "a.b", 5);
    let m = list.match_subject(b"a.b");
    assert_eq!(m.queues.len(), 2);
    assert_eq!(
        normalize(&m),
        (
            vec![5],
            vec![(b"g".to_vec(), vec![1, 2, 3]), (b"h".to_vec(), vec![4])]
        )
    );
    assert_eq!(
        groups(&mut list, "a.c"),
        [("g".into(), vec![2, 3]), ("h".into(), vec![4])]
    );
    assert_eq!(groups(&mut list, "a.c.d"), [("g".to_string(), vec![3])]);
    check_invariants(&list);
}

#[test]
fn queue_names_are_plain_strings_even_with_dots_and_wildcards() {
    let mut list = Sublist::new(64);
    qsub(&mut list, "foo", "q.*", 1);
    qsub(&mut list, "foo", "q.x", 2);
    assert_eq!(
        groups(&mut list, "foo"),
        [("q.*".into(), vec![1]), ("q.x".into(), vec![2])]
    );
    assert!(!list.remove(b"foo", Some(b"q.y"), 1));
    assert!(list.remove(b"foo", Some(b"q.*"), 1));
    assert_eq!(groups(&mut list, "foo"), [("q.x".to_string(), vec![2])]);
}

#[test]
fn items_are_a_multiset_and_each_insert_needs_its_own_remove() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.*", 1);
    sub(&mut list, "foo.*", 1);
    qsub(&mut list, "foo.*", "g", 2);
    qsub(&mut list, "foo.*", "g", 2);
    assert_eq!(list.count(), 4);
    assert_eq!(
        normalize(&list.match_subject(b"foo.x")),
        (vec![1, 1], vec![(b"g".to_vec(), vec![2, 2])])
    );

    assert!(list.remove(b"foo.*", None, 1));
    assert!(list.remove(b"foo.*", Some(b"g"), 2));
    assert_eq!(
        normalize(&list.match_subject(b"foo.x")),
        (vec![1], vec![(b"g".to_vec(), vec![2])])
    );
    check_invariants(&list);

    assert!(list.remove(b"foo.*", None, 1));
    assert!(list.remove(b"foo.*", Some(b"g"), 2));
    assert!(!list.remove(b"foo.*", None, 1));
    assert!(!list.remove(b"foo.*", Some(b"g"), 2));
    assert_eq!(list.count(), 0);
    assert!(list.match_subject(b"foo.x").plain.is_empty());
    check_invariants(&list);
}

#[test]
fn remove_of_something_not_stored_returns_false_and_keeps_the_rest() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.bar", 1);
    qsub(&mut list, "foo.bar", "g", 2);
    assert!(!list.remove(b"foo.bar", None, 2), "wrong item");
    assert!(
        !list.remove(b"foo.bar", Some(b"g"), 1),
        "plain item is not in the queue"
    );
    assert!(!list.remove(b"foo.bar", Some(b"h"), 2), "wrong queue");
    assert!(!list.remove(b"foo", None, 1), "prefix of the subject");
    assert!(
        !list.remove(b"foo.bar.baz", None, 1),
        "extension of the subject"
    );
    assert!(!list.remove(b"foo.*", None, 1), "wildcard that matches it");
    assert_eq!(list.count(), 2);
    assert_eq!(list.stats().removes, 0);
    check_invariants(&list);
}

#[test]
fn removing_everything_prunes_the_trie_back_to_an_empty_root() {
    let mut list = Sublist::new(64);
    let patterns = [
        "a.b.c",
        "a.b",
        "a.*.c",
        "a.>",
        ">",
        "*",
        "a.b.c.d.e",
        "x.*.>",
    ];
    for (i, pattern) in patterns.iter().enumerate() {
        sub(&mut list, pattern, i as u32);
        qsub(&mut list, pattern, "g", i as u32);
    }
    check_invariants(&list);
    for (i, pattern) in patterns.iter().enumerate().rev() {
        assert!(list.remove(pattern.as_bytes(), None, i as u32));
        check_invariants(&list);
        assert!(list.remove(pattern.as_bytes(), Some(b"g"), i as u32));
        check_invariants(&list);
    }
    assert!(list.root.is_empty());
}

#[test]
fn cached_match_sees_a_later_literal_insert_and_remove() {
    let mut list = Sublist::new(64);
    assert!(plain(&mut list, "foo.bar").is_empty());
    sub(&mut list, "foo.bar", 1);
    assert_eq!(plain(&mut list, "foo.bar"), [1]);
    qsub(&mut list, "foo.bar", "g", 2);
    assert_eq!(groups(&mut list, "foo.bar"), [("g".to_string(), vec![2])]);
    assert!(list.remove(b"foo.bar", None, 1));
    assert!(plain(&mut list, "foo.bar").is_empty());
    assert!(list.remove(b"foo.bar", Some(b"g"), 2));
    assert!(groups(&mut list, "foo.bar").is_empty());
    check_invariants(&list);
}

#[test]
fn cached_match_sees_a_later_wildcard_insert_and_remove() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo.bar", 1);
    assert_eq!(plain(&mut list, "foo.bar"), [1]);
    assert!(plain(&mut list, "foo.baz.qux").is_empty());
    sub(&mut list, "foo.*", 2);
    assert_eq!(plain(&mut list, "foo.bar"), [1, 2]);
    sub(&mut list, "foo.>", 3);
    assert_eq!(plain(&mut list, "foo.bar"), [1, 2, 3]);
    assert_eq!(plain(&mut list, "foo.baz.qux"), [3]);
    assert!(list.remove(b"foo.*", None, 2));
    assert_eq!(plain(&mut list, "foo.bar"), [1, 3]);
    assert!(list.remove(b"foo.>", None, 3));
    assert_eq!(plain(&mut list, "foo.bar"), [1]);
    assert!(plain(&mut list, "foo.baz.qux").is_empty());
    check_invariants(&list);
}

#[test]
fn churn_on_unrelated_subjects_keeps_the_cache_warm() {
    let mut list = Sublist::new(64);
    sub(&mut list, "orders.new", 1);
    sub(&mut list, "orders.*", 2);
    // The second match caches it.
    list.match_subject(b"orders.new");
    list.match_subject(b"orders.new");
    list.match_subject(b"_INBOX.abc.1");
    let hits = list.stats().cache_hits;
    for i in 0..100u32 {
        let inbox = format!("_INBOX.abc.{i}");
        sub(&mut list, &inbox, 100 + i);
        sub(&mut list, "_INBOX.xyz.*", 100 + i);
        assert_eq!(plain(&mut list, "orders.new"), [1, 2]);
        assert!(list.remove(inbox.as_bytes(), None, 100 + i));
        assert!(list.remove(b"_INBOX.xyz.*", None, 100 + i));
    }
    assert_eq!(
        list.stats().cache_hits,
        hits + 100,
        "every orders.new match was a hit"
    );
    check_invariants(&list);
}

#[test]
fn wildcard_change_drops_only_the_cache_entries_it_matches() {
    let mut list = Sublist::new(64);
    for subject in ["a.b", "a.c", "a.b.c", "b.b", "a"] {
        list.match_subject(subject.as_bytes());
        list.match_subject(subject.as_bytes());
    }
    assert_eq!(list.stats().cache_entries, 5);
    sub(&mut list, "a.*", 1);
    assert_eq!(list.stats().cache_entries, 3, "a.b and a.c dropped");
    sub(&mut list, "*.b", 2);
    assert_eq!(list.stats().cache_entries, 2, "b.b dropped");
    sub(&mut list, "x.>", 3);
    assert_eq!(list.stats().cache_entries, 2, "nothing cached under x");
    sub(&mut list, "a", 4);
    assert_eq!(list.stats().cache_entries, 1, "literal a dropped");
    check_invariants(&list);
}

#[test]
fn full_cache_evicts_and_stays_within_its_limit() {
    let mut list = Sublist::new(4);
    sub(&mut list, "s.>", 9);
    for i in 0..200 {
        let subject = format!("s.{i}");
        assert_eq!(plain(&mut list, &subject), [9]);
        assert!(!list.cache.contains_key(subject.as_bytes()), "seen once");
        assert_eq!(plain(&mut list, &subject), [9]);
        assert!(list.stats().cache_entries <= 4);
        assert!(
            list.stats().cache_entries >= 1,
            "the entry just matched is cached"
        );
        assert!(list.cache.contains_key(subject.as_bytes()));
        check_invariants(&list);
    }
    let mut one = Sublist::new(1);
    sub(&mut one, ">", 1);
    for subject in ["a", "b", "c", "a"] {
        assert_eq!(plain(&mut one, subject), [1]);
        assert_eq!(plain(&mut one, subject), [1]);
        assert_eq!(one.stats().cache_entries, 1);
    }
    assert_eq!(one.stats().cache_hits, 0);
}

#[test]
fn zero_cache_entries_disables_the_cache() {
    let mut list = Sublist::new(0);
    sub(&mut list, "foo", 1);
    for _ in 0..3 {
        assert_eq!(plain(&mut list, "foo"), [1]);
    }
    let stats = list.stats();
    assert_eq!(
        (stats.cache_entries, stats.cache_hits, stats.matches),
        (0, 0, 3)
    );
}

#[test]
fn repeated_match_is_a_cache_hit_sharing_the_result() {
    let mut list = Sublist::new(64);
    sub(&mut list, "foo", 1);
    let first = list.match_subject(b"foo");
    assert_eq!(
        list.stats().cache_entries,
        0,
        "a first match only notes the subject"
    );
    let second = list.match_subject(b"foo");
    let third = list.match_subject(b"foo");
    assert_eq!(first, second);
    assert!(Rc::ptr_eq(&second, &third));
    assert_eq!(list.stats().cache_hits, 1);
}

#[test]
fn subjects_without_interest_share_one_empty_result() {
    let mut list = Sublist::new(0);
    sub(&mut list, "foo.bar", 1);
    let a = list.match_subject(b"nobody");
    let b = list.match_subject(b"foo.baz");
    let c = list.match_subject(b"foo..bar");
    assert!(a.plain.is_empty() && a.queues.is_empty());
    assert!(Rc::ptr_eq(&a, &b) && Rc::ptr_eq(&a, &c));
}

#[test]
fn subjects_longer_than_the_inline_token_array_match() {
    let mut list = Sublist::new(64);
    let tokens: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    let long = tokens.join(".");
    let mut with_pwc = tokens.clone();
    with_pwc[35] = "*".into();
    let mut with_fwc = tokens[..34].to_vec();
    with_fwc.push(">".into());
    sub(&mut list, &long, 1);
    sub(&mut list, &with_pwc.join("."), 2);
    sub(&mut list, &with_fwc.join("."), 3);
    assert_eq!(plain(&mut list, &long), [1, 2, 3]);
    let mut other = tokens.clone();
    other[35] = "x".into();
    assert_eq!(plain(&mut list, &other.join(".")), [2, 3]);
    check_invariants(&list);
}

#[test]
fn many_matching_nodes_spill_past_the_inline_node_list() {
    // Every pattern of `*`/literal over four tokens matches a.b.c.d: 16 nodes, plus `>` ones.
    let mut list = Sublist::new(64);
    let mut expected = Vec::new();
    for mask in 0..16u32 {
        let pattern: Vec<&str> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, t)| if mask & (1 << i) != 0 { "*" } else { t })
            .collect();
        sub(&mut list, &pattern.join("."), mask);
        qsub(&mut list, &pattern.join("."), "g", mask);
        expected.push(mask);
    }
    for (i, pattern) in [">", "a.>", "a.b.>", "*.*.>"].iter().enumerate() {
        sub(&mut list, pattern, 100 + i as u32);
        expected.push(100 + i as u32);
    }
    let (plain, groups) = normalize(&list.match_subject(b"a.b.c.d"));
    assert_eq!(plain, expected);
    assert_eq!(groups, [(b"g".to_vec(), (0..16).collect::<Vec<u32>>())]);
}

#[test]
fn for_each_reports_every_item_with_its_subject_and_queue() {
    let mut list = Sublist::new(64);
    sub(&mut list, "a.b", 1);
    sub(&mut list, "a.b", 1);
    sub(&mut list, "a.*", 2);
    qsub(&mut list, "a.>", "g", 3);
    sub(&mut list, ">", 4);
    sub(&mut list, "foo*", 5);
    let expected: Vec<Stored> = vec![
        (b">".to_vec(), None, 4),
        (b"a.*".to_vec(), None, 2),
        (b"a.>".to_vec(), Some(q("g")), 3),
        (b"a.b".to_vec(), None, 1),
        (b"a.b".to_vec(), None, 1),
        (b"foo*".to_vec(), None, 5),
    ];
    assert_eq!(stored(&list), expected);
}

#[test]
fn stats_count_inserts_removes_matches_and_hits() {
    let mut list = Sublist::new(64);
    sub(&mut list, "a", 1);
    sub(&mut list, "b", 2);
    assert!(list.remove(b"a", None, 1));
    assert!(!list.remove(b"a", None, 1));
    list.match_subject(b"b");
    list.match_subject(b"b");
    list.match_subject(b"b");
    list.match_subject(b"c");
    list.match_subject(b"c");
    let expected = SublistStats {
        subscriptions: 1,
        cache_entries: 2,
        inserts: 2,
        removes: 1,
        matches: 5,
        cache_hits: 1,
    };
    assert_eq!(list.stats(), expected);
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

fn random_pattern(rng: &mut Rng) -> String {
    let len = 1 + rng.below(4);
    let mut tokens: Vec<&str> = (0..len)
        .map(|_| rng.pick(&["a", "b", "c", "*", "a*"]))
        .collect();
    if rng.below(5) == 0 {
        tokens[len - 1] = ">";
    }
    if rng.below(40) == 0 {
        // Invalid: an empty token or a token after `>`.
        tokens.insert(rng.below(len + 1), rng.pick(&["", ">"]));
    }
    tokens.join(".")
}

fn random_subject(rng: &mut Rng) -> String {
    let len = 1 + rng.below(5);
    let alphabet = ["a", "b", "c", "d", "a*", "a", "b", "c", "*", ">", ""];
    let tokens: Vec<&str> = (0..len)
        .map(|_| {
            if rng.below(8) == 0 {
                rng.pick(&alphabet)
            } else {
                rng.pick(&alphabet[..4])
            }
        })
        .collect();
    tokens.join(".")
}

fn run_against_brute_force(cache_entries_max: usize, seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let mut list = Sublist::new(cache_entries_max);
    let mut model: Vec<Stored> = Vec::new();
    let queues = [
        None,
        None,
        None,
        Some(q("q1")),
        Some(q("q2")),
        Some(q("g.*")),
    ];
    let mut matched = 0;
    for step in 0..steps {
        match rng.below(20) {
            0..=7 => {
                let pattern = random_pattern(&mut rng);
                let queue = queues[rng.below(queues.len())].clone();
                let item = rng.below(5) as u32;
                let result = list.insert(pattern.as_bytes(), queue.as_ref(), item);
                let valid = subject::is_valid_subscription_subject(pattern.as_bytes());
                assert_eq!(result.is_ok(), valid, "insert {pattern:?}");
                if valid {
                    model.push((pattern.into_bytes(), queue, item));
                }
            }
            8..=11 if !model.is_empty() => {
                let (pattern, queue, item) = model.swap_remove(rng.below(model.len()));
                assert!(
                    list.remove(&pattern, queue.as_deref(), item),
                    "remove stored item"
                );
            }
            12..=13 => {
                let pattern = random_pattern(&mut rng);
                let queue = queues[rng.below(queues.len())].clone();
                let item = rng.below(5) as u32;
                let at = model.iter().position(|(p, q, i)| {
                    p[..] == *pattern.as_bytes() && q == &queue && *i == item
                });
                let removed = list.remove(pattern.as_bytes(), queue.as_deref(), item);
                assert_eq!(removed, at.is_some(), "remove {pattern:?} {queue:?} {item}");
                if let Some(at) = at {
                    model.swap_remove(at);
                }
            }
            _ => {
                let subject = random_subject(&mut rng);
                let got = normalize(&list.match_subject(subject.as_bytes()));
                assert_eq!(
                    got,
                    brute_force(&model, subject.as_bytes()),
                    "match {subject:?}"
                );
                matched += usize::from(!got.0.is_empty() || !got.1.is_empty());
            }
        }
        assert_eq!(list.count(), model.len());
        if step % 25 == 0 {
            check_invariants(&list);
            let mut sorted = model.clone();
            sorted.sort();
            assert_eq!(stored(&list), sorted);
        }
    }
    assert!(
        matched > steps / 20,
        "too few non-empty matches ({matched}) to mean anything"
    );
    if cache_entries_max > 0 {
        assert!(list.stats().cache_hits > 0, "the cache was never hit");
    }
}

#[test]
fn random_operations_agree_with_brute_force_with_a_small_cache() {
    run_against_brute_force(8, 0x5eed_0001, 6000);
}

#[test]
fn random_operations_agree_with_brute_force_with_a_large_cache() {
    run_against_brute_force(4096, 0x5eed_0002, 6000);
}

#[test]
fn random_operations_agree_with_brute_force_without_a_cache() {
    run_against_brute_force(0, 0x5eed_0003, 6000);
}

#[test]
fn literal_prefix_stops_before_the_first_wildcard_token() {
    let prefix = |p: &str| String::from_utf8(literal_prefix(p.as_bytes()).to_vec()).unwrap();
    assert_eq!(prefix("a.b.*.c"), "a.b.");
    assert_eq!(prefix("_INBOX.abc.>"), "_INBOX.abc.");
    assert_eq!(prefix("a*.*"), "a*.");
    assert_eq!(prefix("*.a"), "");
    assert_eq!(prefix(">"), "");
}

#[test]
fn subjects_matched_once_are_matched_but_not_cached() {
    let mut list = Sublist::new(64);
    sub(&mut list, "$JS.ACK.>", 1);
    sub(&mut list, "$JS.ACK.S.*.>", 2);
    sub(&mut list, "_INBOX.abc.*", 4);
    for seq in 1..=1000 {
        let ack = format!("$JS.ACK.S.c.1.{seq}.{seq}.1765000000000000000.0");
        assert_eq!(plain(&mut list, &ack), [1, 2], "{ack}");
        let inbox = format!("_INBOX.abc.{seq}");
        assert_eq!(plain(&mut list, &inbox), [4], "{inbox}");
    }
    assert_eq!(list.stats().cache_entries, 0);
    // Other subjects still are, from their second match.
    sub(&mut list, "orders.*", 3);
    assert_eq!(plain(&mut list, "orders.new"), [3]);
    assert_eq!(plain(&mut list, "orders.new"), [3]);
    assert_eq!(list.stats().cache_entries, 1);
}
