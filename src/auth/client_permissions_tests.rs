use super::*;
use crate::auth::config::{PermissionsConfig, SubjectPermission};

fn client(config: PermissionsConfig) -> ClientPermissions {
    ClientPermissions::new(Arc::new(Permissions::compile(&config).unwrap()))
}

fn responder(max_msgs: u32, expires_ms: u64) -> ClientPermissions {
    client(PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: Some(vec!["svc.status".into()]),
            deny: None,
        }),
        allow_responses: Some(ResponsePermission {
            max_msgs,
            expires_ms,
        }),
        ..Default::default()
    })
}

#[test]
fn default_response_permit_allows_one_reply_then_refuses() {
    // Reference §12 [verified]: bob's first PUB to the reply passes, the second is refused.
    let mut bob = responder(1, 120_000);
    let t0 = Instant::now();
    assert!(!bob.can_publish(b"reply.abc", t0));
    bob.on_reply_delivered(b"reply.abc", t0);
    assert!(bob.can_publish(b"reply.abc", t0 + Duration::from_secs(1)));
    assert!(!bob.can_publish(b"reply.abc", t0 + Duration::from_secs(2)));
    assert_eq!(bob.response_permits(), 0);
}

#[test]
fn response_permit_allows_max_msgs_replies() {
    let mut c = responder(3, 60_000);
    let t0 = Instant::now();
    c.on_reply_delivered(b"_INBOX.x", t0);
    for _ in 0..3 {
        assert!(c.can_publish(b"_INBOX.x", t0));
    }
    assert!(!c.can_publish(b"_INBOX.x", t0));
}

#[test]
fn response_permit_expires() {
    let mut c = responder(5, 1_000);
    let t0 = Instant::now();
    c.on_reply_delivered(b"_INBOX.late", t0);
    c.on_reply_delivered(b"_INBOX.edge", t0);
    assert!(c.can_publish(b"_INBOX.edge", t0 + Duration::from_millis(1_000)));
    assert!(!c.can_publish(b"_INBOX.late", t0 + Duration::from_millis(1_001)));
    assert_eq!(c.response_permits(), 1);
}

#[test]
fn unlimited_response_permit_never_runs_out() {
    let mut c = responder(0, 0);
    let t0 = Instant::now();
    c.on_reply_delivered(b"_INBOX.forever", t0);
    let much_later = t0 + Duration::from_secs(86_400);
    for _ in 0..1_000 {
        assert!(c.can_publish(b"_INBOX.forever", much_later));
    }
}

#[test]
fn redelivered_reply_renews_its_permit() {
    let mut c = responder(1, 1_000);
    let t0 = Instant::now();
    c.on_reply_delivered(b"_INBOX.r", t0);
    c.on_reply_delivered(b"_INBOX.r", t0 + Duration::from_millis(900));
    assert_eq!(c.response_permits(), 1);
    assert!(c.can_publish(b"_INBOX.r", t0 + Duration::from_millis(1_500)));
}

#[test]
fn replies_the_lists_allow_need_no_permit() {
    let mut c = responder(1, 1_000);
    let t0 = Instant::now();
    c.on_reply_delivered(b"svc.status", t0);
    c.on_reply_delivered(b"", t0);
    assert_eq!(c.response_permits(), 0);
    // And the static allow is not used up.
    assert!(c.can_publish(b"svc.status", t0));
    assert!(c.can_publish(b"svc.status", t0));
}

#[test]
fn without_allow_responses_delivered_replies_grant_nothing() {
    let mut c = client(PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: Some(vec!["foo".into()]),
            deny: None,
        }),
        ..Default::default()
    });
    let t0 = Instant::now();
    c.on_reply_delivered(b"_INBOX.x", t0);
    assert!(!c.can_publish(b"_INBOX.x", t0));
    assert_eq!(c.response_permits(), 0);
}

#[test]
fn expired_permits_are_pruned_when_new_ones_are_granted() {
    let mut c = responder(1, 1_000);
    let t0 = Instant::now();
    for i in 0..100 {
        c.on_reply_delivered(format!("_INBOX.{i}").as_bytes(), t0);
    }
    assert_eq!(c.response_permits(), 100);
    c.on_reply_delivered(b"_INBOX.new", t0 + Duration::from_secs(2));
    assert_eq!(c.response_permits(), 1);
}

#[test]
fn response_permits_are_bounded_and_the_oldest_goes_first() {
    let mut c = responder(1, 0);
    let t0 = Instant::now();
    for i in 0..RESPONSE_PERMITS_MAX + 10 {
        c.on_reply_delivered(format!("_INBOX.{i}").as_bytes(), t0);
    }
    assert_eq!(c.response_permits(), RESPONSE_PERMITS_MAX);
    assert!(!c.can_publish(b"_INBOX.0", t0));
    assert!(!c.can_publish(b"_INBOX.9", t0));
    assert!(c.can_publish(b"_INBOX.10", t0));
    assert!(c.can_publish(
        format!("_INBOX.{}", RESPONSE_PERMITS_MAX + 9).as_bytes(),
        t0
    ));
}

#[test]
fn consumed_and_renewed_permits_leave_no_unbounded_bookkeeping() {
    // Each grant is consumed at once: `order` holds only stale entries and must be compacted.
    let mut c = responder(1, 0);
    let t0 = Instant::now();
    for i in 0..3 * RESPONSE_PERMITS_MAX {
        let reply = format!("_INBOX.{}", i % 7);
        c.on_reply_delivered(reply.as_bytes(), t0);
        if i % 2 == 0 {
            assert!(c.can_publish(reply.as_bytes(), t0));
        }
    }
    let permits = c.responses.as_ref().unwrap();
    assert!(permits.order.len() <= 2 * RESPONSE_PERMITS_MAX);
    assert!(permits.live.len() <= 7);
}

#[test]
fn publish_cache_stays_bounded_and_keeps_answers_right() {
    let mut c = client(PermissionsConfig {
        publish: Some(SubjectPermission {
            allow: Some(vec!["ok.>".into()]),
            deny: Some(vec!["ok.no".into()]),
        }),
        ..Default::default()
    });
    let t0 = Instant::now();
    for round in 0..2 {
        for i in 0..1_000 {
            let subject = format!("ok.{i}");
            assert!(
                c.can_publish(subject.as_bytes(), t0),
                "round {round} {subject}"
            );
            assert!(!c.can_publish(format!("nope.{i}").as_bytes(), t0));
            assert!(c.publish_cache.len() <= PUBLISH_CACHE_ENTRIES_MAX);
        }
        assert!(!c.can_publish(b"ok.no", t0));
    }
}

#[test]
fn subscribe_and_delivery_checks_follow_the_users_permissions() {
    let c = client(PermissionsConfig {
        subscribe: Some(SubjectPermission {
            allow: Some(vec!["foo.>".into()]),
            deny: Some(vec!["foo.secret".into()]),
        }),
        ..Default::default()
    });
    assert!(c.can_subscribe(b"foo.*", None));
    assert!(!c.can_subscribe(b"foo.secret", None));
    assert!(!c.can_subscribe(b"bar", None));
    assert!(c.delivery_allowed(b"foo.open", None));
    assert!(!c.delivery_allowed(b"foo.secret", None));
}

#[test]
fn client_permissions_can_move_between_threads() {
    fn movable<T: Send>() {}
    movable::<ClientPermissions>();
}
