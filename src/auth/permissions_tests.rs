use super::*;

fn list(entries: &[&str]) -> Option<Vec<String>> {
    Some(entries.iter().map(|s| s.to_string()).collect())
}

fn publish(allow: Option<&[&str]>, deny: Option<&[&str]>) -> Permissions {
    Permissions::compile(&PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: allow.and_then(list),
            deny: deny.and_then(list),
        }),
        ..Default::default()
    })
    .unwrap()
}

fn subscribe(allow: Option<&[&str]>, deny: Option<&[&str]>) -> Permissions {
    Permissions::compile(&PermissionsConfig {
        subscribe: Some(SubjectPermission {
            allow: allow.and_then(list),
            deny: deny.and_then(list),
        }),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn no_lists_allow_everything() {
    let p = Permissions::compile(&PermissionsConfig::default()).unwrap();
    assert!(p.publish_allowed(b"anything"));
    assert!(p.subscribe_allowed(b">", None));
    assert!(p.subscribe_allowed(b"foo", Some(b"q")));
    assert!(p.delivery_allowed(b"foo", None));
    assert!(!p.restricts_publish());
    assert!(!p.filters_deliveries());
}

#[test]
fn publish_allow_list_admits_only_matching_subjects_wildcards_included() {
    let p = publish(Some(&["foo", "bar.*", "baz.>"]), None);
    assert!(p.publish_allowed(b"foo"));
    assert!(p.publish_allowed(b"bar.x"));
    assert!(p.publish_allowed(b"baz.a.b"));
    assert!(!p.publish_allowed(b"foo.x"));
    assert!(!p.publish_allowed(b"bar.x.y"));
    assert!(!p.publish_allowed(b"baz"));
    assert!(!p.publish_allowed(b"other"));
}

#[test]
fn publish_deny_wins_over_allow() {
    let p = publish(Some(&["foo.>"]), Some(&["foo.secret"]));
    assert!(p.publish_allowed(b"foo.public"));
    assert!(!p.publish_allowed(b"foo.secret"));

    let deny_only = publish(None, Some(&["admin.>"]));
    assert!(deny_only.publish_allowed(b"foo"));
    assert!(!deny_only.publish_allowed(b"admin.x"));
}

#[test]
fn empty_publish_allow_list_allows_nothing_but_empty_subscribe_allow_list_allows_all() {
    // nats-server builds the publish allow tree for any list, the subscribe one only for a
    // non-empty list.
    assert!(!publish(Some(&[]), None).publish_allowed(b"foo"));
    assert!(subscribe(Some(&[]), None).subscribe_allowed(b"foo", None));
}

#[test]
fn allow_responses_without_publish_allow_makes_publish_deny_by_default() {
    let p = Permissions::compile(&PermissionsConfig {
        allow_responses: Some(ResponsePermission::default()),
        ..Default::default()
    })
    .unwrap();
    assert!(p.restricts_publish());
    assert!(!p.publish_allowed(b"foo"));
    assert_eq!(p.responses(), Some(ResponsePermission::default()));

    // With an allow list it stays as listed.
    let p = Permissions::compile(&PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: list(&["foo"]),
            deny: None,
        }),
        allow_responses: Some(ResponsePermission::default()),
        ..Default::default()
    })
    .unwrap();
    assert!(p.publish_allowed(b"foo"));
    assert!(!p.publish_allowed(b"bar"));
}

#[test]
fn subscribe_subject_is_checked_literally_against_allow_patterns() {
    let p = subscribe(Some(&["foo.>", "bar.baz"]), None);
    assert!(p.subscribe_allowed(b"foo.bar", None));
    assert!(p.subscribe_allowed(b"foo.*", None));
    assert!(p.subscribe_allowed(b"foo.>", None));
    assert!(p.subscribe_allowed(b"bar.baz", None));
    // A wildcard SUB is not allowed because one of its subjects is.
    assert!(!p.subscribe_allowed(b"bar.*", None));
    assert!(!p.subscribe_allowed(b">", None));
    assert!(!p.subscribe_allowed(b"foo", None));
}

#[test]
fn wider_wildcard_sub_over_a_denied_subject_is_accepted_and_filtered_at_delivery() {
    let p = subscribe(None, Some(&["foo.secret"]));
    assert!(!p.subscribe_allowed(b"foo.secret", None));
    assert!(p.subscribe_allowed(b"foo.*", None));
    assert!(p.subscribe_allowed(b">", None));
    assert!(p.filters_deliveries());
    assert!(p.delivery_allowed(b"foo.public", None));
    assert!(!p.delivery_allowed(b"foo.secret", None));
    assert!(!p.delivery_allowed(b"foo.secret", Some(b"q")));
}

#[test]
fn subscribe_deny_wins_over_allow() {
    let p = subscribe(Some(&["foo.>"]), Some(&["foo.bar"]));
    assert!(p.subscribe_allowed(b"foo.baz", None));
    assert!(!p.subscribe_allowed(b"foo.bar", None));
    assert!(!p.subscribe_allowed(b"foo.bar", Some(b"q")));
}

#[test]
fn queue_entries_restrict_queue_subs_and_refuse_plain_subs() {
    // Reference §12 [verified]: allow "q.> workers".
    let p = subscribe(Some(&["q.> workers"]), None);
    assert!(p.subscribe_allowed(b"q.x", Some(b"workers")));
    assert!(!p.subscribe_allowed(b"q.x", Some(b"other")));
    assert!(!p.subscribe_allowed(b"q.x", None));
    assert!(!p.subscribe_allowed(b"r.x", Some(b"workers")));

    // A plain entry as well admits plain SUBs; queue SUBs still need a listed queue.
    let p = subscribe(Some(&["q.> workers", "q.>"]), None);
    assert!(p.subscribe_allowed(b"q.x", None));
    assert!(p.subscribe_allowed(b"q.x", Some(b"workers")));
    assert!(!p.subscribe_allowed(b"q.x", Some(b"other")));

    // Without queue entries for the subject, a plain entry admits any queue.
    let p = subscribe(Some(&["q.>"]), None);
    assert!(p.subscribe_allowed(b"q.x", Some(b"anyone")));
}

#[test]
fn queue_names_in_entries_may_be_wildcards() {
    let p = subscribe(Some(&["jobs v1.*"]), None);
    assert!(p.subscribe_allowed(b"jobs", Some(b"v1.a")));
    assert!(p.subscribe_allowed(b"jobs", Some(b"v1.*")));
    assert!(!p.subscribe_allowed(b"jobs", Some(b"v1.>")));
    assert!(!p.subscribe_allowed(b"jobs", Some(b"v2.a")));
}

#[test]
fn queue_deny_entries_refuse_only_that_queue() {
    let p = subscribe(None, Some(&["jobs blocked"]));
    assert!(p.subscribe_allowed(b"jobs", None));
    assert!(p.subscribe_allowed(b"jobs", Some(b"fine")));
    assert!(!p.subscribe_allowed(b"jobs", Some(b"blocked")));
    assert!(p.delivery_allowed(b"jobs", None));
    assert!(!p.delivery_allowed(b"jobs", Some(b"blocked")));
}

#[test]
fn invalid_entries_are_refused_at_compile_time() {
    let bad_publish = PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: list(&["foo..bar"]),
            deny: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        Permissions::compile(&bad_publish),
        Err(PermissionsError {
            list: "publish allow",
            entry: "foo..bar".into()
        })
    );
    // A queue entry is only meaningful for subscribe.
    let queue_in_publish = PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: None,
            deny: list(&["foo q"]),
        }),
        ..Default::default()
    };
    assert!(Permissions::compile(&queue_in_publish).is_err());
    for entry in ["foo.>.bar", "", "a b c", "foo. q"] {
        let config = PermissionsConfig {
            subscribe: Some(SubjectPermission {
                allow: list(&[entry]),
                deny: None,
            }),
            ..Default::default()
        };
        assert!(Permissions::compile(&config).is_err(), "{entry:?}");
    }
}

#[test]
fn permission_subjects_follow_nats_server_is_valid_subject() {
    assert!(is_valid_permission_subject(b"foo.*.>"));
    assert!(!is_valid_permission_subject(b""));
    assert!(!is_valid_permission_subject(b"foo bar"));
    assert!(!is_valid_permission_subject(b"foo.>.x"));
}

#[test]
fn subset_match_treats_wildcards_in_both() {
    assert!(is_subset_match(b"a.b", b"a.*"));
    assert!(is_subset_match(b"a.*", b"a.*"));
    assert!(is_subset_match(b"a.*", b"a.>"));
    assert!(is_subset_match(b"a.>", b"a.>"));
    assert!(!is_subset_match(b"a.>", b"a.*"));
    assert!(!is_subset_match(b"a.*", b"a.b"));
    assert!(!is_subset_match(b"a", b"a.>"));
}

#[test]
fn permissions_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Permissions>();
}
