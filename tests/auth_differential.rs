//! Differential tests for auth and permissions: the same config file and the same raw-protocol
//! scenario against the reference nats-server and natrix; what each connection saw must be the
//! same bytes (INFO compared as its key set with values, the random nonce only as present).
//!
//! The runner and its self check (`NATRIX_DIFF_SELF_CHECK=1`) are in `tests/common/ops.rs`.
//! Scenarios pin the reference's key answers with `want`, so they cannot pass by testing
//! nothing.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::ops::{differential, Running, Transcript};
use nkeys::{KeyPair, KeyPairType};

const VIOLATION: &str = "-ERR 'Authorization Violation'\\r\\n<EOF>";

/// A quiet CONNECT with the given extra JSON fields.
fn connect(fields: &str) -> String {
    if fields.is_empty() {
        r#"{"verbose":false,"pedantic":false}"#.to_string()
    } else {
        format!(r#"{{"verbose":false,"pedantic":false,{fields}}}"#)
    }
}

/// Opens a connection, records its INFO, sends CONNECT (with `fields`) and a PING, and returns
/// the answer (for the caller to pin): `PONG`, or the error and the close.
fn try_connect(r: &Running, t: &mut Transcript, label: &str, fields: &str) -> String {
    let mut c = r.conn_info(t, label);
    let got = c.ping(format!("CONNECT {}\r\n", connect(fields)).as_bytes());
    if got.ends_with("<EOF>") || got.ends_with("PONG\\r\\n") {
        got
    } else {
        got + &c.until_closed()
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens, users, passwords.

#[test]
fn token_missing_wrong_and_right() {
    let conf = "authorization { token: \"s3cr3t\" }\n";
    differential("token", conf, false, |r, t| {
        let got = try_connect(r, t, "none", "");
        t.want("no token refused", got, VIOLATION);
        let got = try_connect(r, t, "wrong", r#""auth_token":"s3cr3""#);
        t.want("wrong token refused", got, VIOLATION);
        let got = try_connect(r, t, "user-pass", r#""user":"s3cr3t","pass":"s3cr3t""#);
        t.want("user/pass instead of the token refused", got, VIOLATION);
        let got = try_connect(r, t, "right", r#""auth_token":"s3cr3t""#);
        t.want("right token accepted", got, "PONG\\r\\n");
    });
}

#[test]
fn bcrypt_token_accepted_hash_itself_refused() {
    let hash = bcrypt::hash("s3cr3t", 4).expect("bcrypt");
    let conf = format!("authorization {{ token: \"{hash}\" }}\n");
    differential("bcrypt_token", &conf, false, |r, t| {
        let got = try_connect(r, t, "plain", r#""auth_token":"s3cr3t""#);
        t.want("the plain token matches the hash", got, "PONG\\r\\n");
        let got = try_connect(r, t, "hash", &format!(r#""auth_token":"{hash}""#));
        t.want("the hash itself is not the token", got, VIOLATION);
    });
}

#[test]
fn users_with_plain_and_bcrypt_passwords() {
    let hash = bcrypt::hash("pw-bob", 4).expect("bcrypt");
    let conf = format!(
        "authorization {{\n  users: [\n    {{user: alice, password: \"pw-alice\"}}\n    \
         {{user: bob, password: \"{hash}\"}}\n  ]\n}}\n"
    );
    differential("users", &conf, false, |r, t| {
        let got = try_connect(r, t, "alice", r#""user":"alice","pass":"pw-alice""#);
        t.want("alice, plain password", got, "PONG\\r\\n");
        let got = try_connect(r, t, "alice-wrong", r#""user":"alice","pass":"pw-bob""#);
        t.want("alice, wrong password", got, VIOLATION);
        let got = try_connect(r, t, "bob", r#""user":"bob","pass":"pw-bob""#);
        t.want("bob, bcrypt password", got, "PONG\\r\\n");
        let got = try_connect(
            r,
            t,
            "bob-hash",
            &format!(r#""user":"bob","pass":"{hash}""#),
        );
        t.want("bob, the hash as password", got, VIOLATION);
        let got = try_connect(r, t, "carol", r#""user":"carol","pass":"pw-alice""#);
        t.want("unknown user", got, VIOLATION);
        let got = try_connect(r, t, "no-pass", r#""user":"alice""#);
        t.want("user without password", got, VIOLATION);
        let got = try_connect(r, t, "token", r#""auth_token":"pw-alice""#);
        t.want("a token where users are configured", got, VIOLATION);
        let got = try_connect(r, t, "nothing", "");
        t.want("no credentials", got, VIOLATION);
    });
}

#[test]
fn single_user_in_authorization_block() {
    let conf = "authorization { user: admin, password: \"adm1n\" }\n";
    differential("single_user", conf, false, |r, t| {
        let got = try_connect(r, t, "right", r#""user":"admin","pass":"adm1n""#);
        t.want("right", got, "PONG\\r\\n");
        let got = try_connect(r, t, "wrong", r#""user":"admin","pass":"admin""#);
        t.want("wrong", got, VIOLATION);
    });
}

// ---------------------------------------------------------------------------------------------
// nkeys.

/// A fixed user key pair, so a failure reproduces with the same key.
fn user_key(seed_byte: u8) -> KeyPair {
    KeyPair::new_from_raw(KeyPairType::User, [seed_byte; 32]).expect("nkey from raw bytes")
}

fn signature(kp: &KeyPair, nonce: &str, engine: &impl Engine) -> String {
    engine.encode(kp.sign(nonce.as_bytes()).expect("sign the nonce"))
}

/// How a CONNECT signs the nonce: base64url or standard base64 with a key, or not at all.
enum Sig<'a> {
    Url(&'a KeyPair),
    Std(&'a KeyPair),
    Missing,
}

#[test]
fn nkey_user_signs_the_nonce() {
    let kp = user_key(7);
    let other = user_key(9);
    let public = kp.public_key();
    let conf = format!("authorization {{\n  users: [ {{nkey: {public}}} ]\n}}\n");
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let std = base64::engine::general_purpose::STANDARD;
    differential("nkey", &conf, false, |r, t| {
        // Each case: the signature field to send, and what the reference answers.
        let cases = [
            ("url-safe signature", Sig::Url(&kp), "PONG\\r\\n"),
            ("standard base64 signature", Sig::Std(&kp), "PONG\\r\\n"),
            ("signed by another key", Sig::Url(&other), VIOLATION),
            ("no signature", Sig::Missing, VIOLATION),
        ];
        for (label, signer, want) in cases {
            let mut c = r.conn();
            let (info, nonce) = c.info_nonce();
            t.saw(&format!("{label}: INFO"), info);
            t.check(label, nonce.is_some(), "INFO carries no nonce");
            let nonce = nonce.unwrap_or_default();
            let sig = match signer {
                Sig::Url(k) => format!(r#","sig":"{}""#, signature(k, &nonce, &url)),
                Sig::Std(k) => format!(r#","sig":"{}""#, signature(k, &nonce, &std)),
                Sig::Missing => String::new(),
            };
            let fields = format!(r#""nkey":"{public}"{sig}"#);
            let got = c.ping(format!("CONNECT {}\r\n", connect(&fields)).as_bytes());
            let got = if got.ends_with("PONG\\r\\n") || got.ends_with("<EOF>") {
                got
            } else {
                got + &c.until_closed()
            };
            t.want(label, got, want);
        }
        // Signing a nonce from another connection does not help.
        let mut first = r.conn();
        let (_, stale) = first.info_nonce();
        let mut c = r.conn();
        c.info_nonce();
        let sig = signature(&kp, &stale.unwrap_or_default(), &url);
        let fields = format!(r#""nkey":"{public}","sig":"{sig}""#);
        let got = c.ping(format!("CONNECT {}\r\n", connect(&fields)).as_bytes());
        t.want("another connection's nonce", got, VIOLATION);
    });
}

// ---------------------------------------------------------------------------------------------
// no_auth_user, ops before CONNECT, account in CONNECT, auth timeout.

#[test]
fn no_auth_user_binds_connections_without_credentials() {
    let conf = "no_auth_user: guest\nauthorization {\n  users: [\n    \
                {user: admin, password: \"adm1n\"}\n    \
                {user: guest, password: \"unused\", permissions: {publish: \"pub.>\"}}\n  ]\n}\n";
    differential("no_auth_user", conf, false, |r, t| {
        // Ops before CONNECT are allowed: the connection is already the guest.
        let mut c = r.conn_info(t, "early");
        let got = c.ping(b"");
        t.want("PING before CONNECT", got, "PONG\\r\\n");
        let mut c = r.conn_info(t, "guest");
        let got = c.ping(format!("CONNECT {}\r\n", connect("")).as_bytes());
        t.want("CONNECT without credentials", got, "PONG\\r\\n");
        let got = c.ping(b"SUB pub.> 1\r\nPUB pub.a 2\r\nhi\r\nPUB other 2\r\nhi\r\n");
        t.want(
            "the guest's permissions apply",
            got,
            "MSG pub.a 1 2\\r\\nhi\\r\\n-ERR 'Permissions Violation for Publish to \"other\"'\\r\\n\
             PONG\\r\\n",
        );
        let got = try_connect(r, t, "admin", r#""user":"admin","pass":"adm1n""#);
        t.want("credentials still bind to their user", got, "PONG\\r\\n");
        let got = try_connect(r, t, "admin-wrong", r#""user":"admin","pass":"nope""#);
        t.want(
            "wrong credentials are not downgraded to the guest",
            got,
            VIOLATION,
        );
    });
}

#[test]
fn ops_before_connect_refused_when_auth_required() {
    let conf = "authorization { token: \"s3cr3t\" }\n";
    differential("ops_before_connect", conf, false, |r, t| {
        let ops: [(&str, &[u8]); 4] = [
            ("PING", b"PING\r\n"),
            ("SUB", b"SUB foo 1\r\n"),
            ("PUB", b"PUB foo 2\r\nhi\r\n"),
            ("UNSUB", b"UNSUB 1\r\n"),
        ];
        for (label, op) in ops {
            let mut c = r.conn_info(t, label);
            c.send(op);
            t.want(
                &format!("{label} before CONNECT"),
                c.until_closed(),
                VIOLATION,
            );
        }
    });
}

#[test]
fn account_in_connect_refused() {
    let conf = "authorization { token: \"s3cr3t\" }\n";
    differential("connect_account", conf, false, |r, t| {
        let got = try_connect(r, t, "account", r#""auth_token":"s3cr3t","account":"A""#);
        t.want("account with a good token", got, VIOLATION);
        let got = try_connect(
            r,
            t,
            "new_account",
            r#""auth_token":"s3cr3t","new_account":true"#,
        );
        t.want("new_account with a good token", got, VIOLATION);
    });
}

#[test]
fn auth_timeout_from_config() {
    let conf = "authorization { token: \"s3cr3t\", timeout: 1 }\n";
    differential("auth_timeout", conf, false, |r, t| {
        let started = Instant::now();
        let mut idle = r.conn_info(t, "idle");
        // A partial CONNECT is not a CONNECT.
        let mut partial = r.conn_info(t, "partial");
        partial.send(b"CONNECT {\"auth_token\":");
        let got = idle.until_closed();
        let waited = started.elapsed();
        t.want(
            "no CONNECT",
            got,
            "-ERR 'Authentication Timeout'\\r\\n<EOF>",
        );
        let when = if (Duration::from_millis(700)..Duration::from_millis(2500)).contains(&waited) {
            "about 1 s".to_string()
        } else {
            format!("{} ms", waited.as_millis())
        };
        t.want("closed after", when, "about 1 s");
        let got = partial.until_closed();
        t.want(
            "partial CONNECT",
            got,
            "-ERR 'Authentication Timeout'\\r\\n<EOF>",
        );
        // Authenticated in time: the timer no longer applies.
        let mut ok = r.connected(t, "in time", &connect(r#""auth_token":"s3cr3t""#));
        std::thread::sleep(Duration::from_millis(1300));
        t.want("still open after the timeout", ok.ping(b""), "PONG\\r\\n");
    });
}

#[test]
fn info_keys_with_and_without_auth() {
    // One config per kind of auth; INFO is recorded by try_connect.
    let kp = user_key(11);
    let confs = [
        ("no_auth", String::new()),
        ("token_info", "authorization { token: \"t\" }\n".to_string()),
        (
            "user_info",
            "authorization { user: u, password: p }\n".to_string(),
        ),
        (
            "nkey_info",
            format!(
                "authorization {{ users: [ {{nkey: {}}} ] }}\n",
                kp.public_key()
            ),
        ),
    ];
    for (name, conf) in confs {
        differential(name, &conf, false, |r, t| {
            let mut c = r.conn();
            let (info, nonce) = c.info_nonce();
            t.saw("INFO", info);
            t.saw("nonce present", nonce.is_some().to_string());
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Permissions.

/// Users for the permission scenarios; `spy` may do anything and watches deliveries.
const PERMISSIONS_CONF: &str = r#"authorization {
  users: [
    {user: spy, password: p}
    {user: pubber, password: p, permissions: {
      publish: {allow: ["foo.*", "bar.>"], deny: ["foo.secret", "bar.hidden.>"]}
    }}
    {user: subber, password: p, permissions: {
      subscribe: {allow: ["foo.>", "q.> workers", "mix.> workers", "mix.>"], deny: ["foo.secret"]}
    }}
    {user: listed, password: p, permissions: {publish: ["one", "two.*"], subscribe: ["one"]}}
    {user: denier, password: p, permissions: {
      publish: {allow: ["x.>"], deny: ["x.>"]}
      subscribe: {allow: ["x.y", "x.z"], deny: ["x.*"]}
    }}
    {user: responder, password: p, permissions: {subscribe: "req.>", allow_responses: true}}
  ]
}
"#;

fn user(name: &str) -> String {
    connect(&format!(r#""user":"{name}","pass":"p""#))
}

fn pub_violation(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Publish to \"{subject}\"'\\r\\n")
}

fn sub_violation(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Subscription to \"{subject}\"'\\r\\n")
}

#[test]
fn publish_allow_and_deny_with_wildcards() {
    differential("publish_permissions", PERMISSIONS_CONF, false, |r, t| {
        let mut spy = r.connected(t, "spy", &user("spy"));
        spy.ping(b"SUB > 1\r\n");
        let mut p = r.connected(t, "pubber", &user("pubber"));
        let cases = [
            ("foo.a", true),
            ("foo.secret", false),
            ("foo.a.b", false),
            ("bar.x.y", true),
            ("bar.hidden.z", false),
            ("bar.hidden", true),
            ("baz", false),
        ];
        for (subject, allowed) in cases {
            let got = p.ping(format!("PUB {subject} 2\r\nhi\r\n").as_bytes());
            let want = if allowed {
                "PONG\\r\\n".to_string()
            } else {
                pub_violation(subject) + "PONG\\r\\n"
            };
            t.want(&format!("PUB {subject}"), got, &want);
        }
        // With several shards a delivery may still be on its way between shards when the
        // spy's PING arrives: wait for the last one first.
        let got = spy.until(b"MSG bar.hidden 1 2\r\nhi\r\n") + &spy.ping(b"");
        t.want(
            "the spy got only the allowed ones",
            got,
            "MSG foo.a 1 2\\r\\nhi\\r\\nMSG bar.x.y 1 2\\r\\nhi\\r\\nMSG bar.hidden 1 2\\r\\nhi\\r\\n\
             PONG\\r\\n",
        );
        // A plain list means allow only.
        let mut l = r.connected(t, "listed", &user("listed"));
        let got = l.ping(b"PUB one 0\r\n\r\nPUB two.x 0\r\n\r\nPUB three 0\r\n\r\n");
        t.want("list form", got, &(pub_violation("three") + "PONG\\r\\n"));
    });
}

#[test]
fn subscribe_allow_and_deny_with_wildcards() {
    differential("subscribe_permissions", PERMISSIONS_CONF, false, |r, t| {
        let mut s = r.connected(t, "subber", &user("subber"));
        let cases = [
            ("foo.bar", "1", true),
            ("foo.*", "2", true),
            ("foo.secret", "3", false),
            ("other", "4", false),
            (">", "5", false),
            ("foo.>", "6", true),
        ];
        for (subject, sid, allowed) in cases {
            let got = s.ping(format!("SUB {subject} {sid}\r\n").as_bytes());
            let want = if allowed {
                "PONG\\r\\n".to_string()
            } else {
                sub_violation(subject) + "PONG\\r\\n"
            };
            t.want(&format!("SUB {subject}"), got, &want);
        }
        // The wider SUBs cover foo.secret, which is filtered out at delivery.
        let mut spy = r.connected(t, "spy", &user("spy"));
        spy.ping(b"PUB foo.secret 1\r\ns\r\nPUB foo.bar 1\r\nb\r\nPUB foo.x.y 1\r\nd\r\n");
        let got = s.until(b"MSG foo.x.y 6 1\r\nd\r\n") + &s.ping(b"");
        let got = common::ops::sorted_frames(&got);
        t.want(
            "deliveries to subber",
            got,
            "MSG foo.bar 1 1\\r\\nb\\r\\nMSG foo.bar 2 1\\r\\nb\\r\\nMSG foo.bar 6 1\\r\\nb\\r\\n\
             MSG foo.x.y 6 1\\r\\nd\\r\\nPONG\\r\\n",
        );
        let mut l = r.connected(t, "listed", &user("listed"));
        let got = l.ping(b"SUB one 1\r\nSUB two 2\r\n");
        t.want("list form", got, &(sub_violation("two") + "PONG\\r\\n"));
    });
}

#[test]
fn queue_scoped_subscribe_permissions() {
    differential("queue_permissions", PERMISSIONS_CONF, false, |r, t| {
        let mut s = r.connected(t, "subber", &user("subber"));
        let cases = [
            "SUB q.x other 1",
            "SUB q.x 2",
            "SUB q.x workers 3",
            "SUB mix.x 4",
            "SUB mix.x workers 5",
            "SUB mix.x other 6",
            "SUB foo.secret workers 7",
            "SUB foo.a anyq 8",
        ];
        for op in cases {
            let got = s.ping(format!("{op}\r\n").as_bytes());
            t.saw(op, got);
        }
        let got = s.ping(b"SUB q.y other 9\r\n");
        t.want(
            "queue not listed",
            got,
            "-ERR 'Permissions Violation for Subscription to \"q.y\" using queue \"other\"'\\r\\n\
             PONG\\r\\n",
        );
        let got = s.ping(b"SUB q.y 10\r\n");
        t.want(
            "plain SUB where only a queue is listed",
            got,
            &(sub_violation("q.y") + "PONG\\r\\n"),
        );
        let got = s.ping(b"SUB q.y workers 11\r\n");
        t.want("the listed queue", got, "PONG\\r\\n");
    });
}

#[test]
fn deny_wins_over_allow() {
    differential("deny_wins", PERMISSIONS_CONF, false, |r, t| {
        let mut d = r.connected(t, "denier", &user("denier"));
        let got = d.ping(b"PUB x.y 0\r\n\r\n");
        t.want(
            "publish allowed and denied",
            got,
            &(pub_violation("x.y") + "PONG\\r\\n"),
        );
        let got = d.ping(b"SUB x.y 1\r\n");
        t.want(
            "subscribe allowed and denied",
            got,
            &(sub_violation("x.y") + "PONG\\r\\n"),
        );
        let got = d.ping(b"SUB x.z 2\r\nSUB x.* 3\r\n");
        t.saw("SUB x.z, SUB x.*", got);
    });
}

#[test]
fn allow_responses_lets_one_reply_through() {
    differential("allow_responses", PERMISSIONS_CONF, false, |r, t| {
        let mut resp = r.connected(t, "responder", &user("responder"));
        let got = resp.ping(b"SUB req.> 1\r\n");
        t.want("SUB req.>", got, "PONG\\r\\n");
        let mut spy = r.connected(t, "spy", &user("spy"));
        spy.ping(b"SUB reply.> 9\r\nPUB req.1 reply.abc 3\r\nask\r\n");
        let got = resp.ping(b"");
        t.want(
            "the request",
            got,
            "MSG req.1 1 reply.abc 3\\r\\nask\\r\\nPONG\\r\\n",
        );
        let got = resp.ping(b"PUB reply.abc 3\r\none\r\n");
        t.want("first response", got, "PONG\\r\\n");
        let got = resp.ping(b"PUB reply.abc 3\r\ntwo\r\n");
        t.want(
            "second response",
            got,
            &(pub_violation("reply.abc") + "PONG\\r\\n"),
        );
        let got = resp.ping(b"PUB reply.other 3\r\nthr\r\n");
        t.want(
            "a reply subject never received",
            got,
            &(pub_violation("reply.other") + "PONG\\r\\n"),
        );
        let got = resp.ping(b"PUB req.2 3\r\nfou\r\n");
        t.want(
            "publish allow list is empty",
            got,
            &(pub_violation("req.2") + "PONG\\r\\n"),
        );
        let got = spy.until(b"MSG reply.abc 9 3\r\none\r\n") + &spy.ping(b"");
        t.want(
            "the spy saw one reply",
            got,
            "MSG reply.abc 9 3\\r\\none\\r\\nPONG\\r\\n",
        );
    });
}

#[test]
fn violations_keep_the_connection_open() {
    differential("violations_keep_open", PERMISSIONS_CONF, false, |r, t| {
        let mut p = r.connected(t, "listed", &user("listed"));
        let mut burst = Vec::new();
        for i in 0..20 {
            burst
                .extend_from_slice(format!("PUB baz.{i} 0\r\n\r\nSUB nope.{i} {i}\r\n").as_bytes());
        }
        let got = p.ping(&burst);
        t.saw("20 publish and 20 subscribe violations", got);
        let got = p.ping(b"SUB one 1\r\nPUB one 2\r\nok\r\n");
        t.want("still working", got, "MSG one 1 2\\r\\nok\\r\\nPONG\\r\\n");
    });
}
