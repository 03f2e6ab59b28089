//! The settings layer over the realistic configs under `tests/configs/real/`: each fixture
//! applied to default options and checked field by field; malformed files and unknown or
//! unsupported keys reported at `file:line:column`; and, when a nats-server binary is at
//! hand, that nats-server accepts the same fixtures (`nats-server -t`).

use super::*;
use crate::auth::{PermissionsConfig, ResponsePermission, Secret, SubjectPermission};
use crate::conf::settings::{apply_file, SettingsErrors, Warning};
use crate::config::Options;

fn real(name: &str) -> String {
    format!("real/{name}")
}

fn apply(name: &str, env: &mut TestEnv) -> Result<(Options, Vec<Warning>), SettingsErrors> {
    let map = parse_fixture(&real(name), env);
    let mut opts = Options::default();
    apply_file(&mut opts, &map).map(|w| (opts, w))
}

fn apply_ok(name: &str, env: &mut TestEnv) -> (Options, Vec<Warning>) {
    apply(name, env).unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

fn apply_text(text: &str) -> Result<(Options, Vec<Warning>), SettingsErrors> {
    let mut opts = Options::default();
    apply_file(&mut opts, &parse_ok(text)).map(|w| (opts, w))
}

/// The errors of `text`, without the directory, one per line.
fn errors_of(text: &str) -> Vec<String> {
    match apply_text(text) {
        Ok(_) => panic!("{text:?} applied"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

fn allow(subjects: &[&str]) -> Option<Vec<String>> {
    Some(subjects.iter().map(|s| s.to_string()).collect())
}

#[test]
fn token_server() {
    let mut env = TestEnv::with_vars(&[("NATRIX_TOKEN", "t0k3n")]);
    let (o, warnings) = apply_ok("token.conf", &mut env);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
    assert_eq!(o.server_name.as_deref(), Some("token_server"));
    assert_eq!(o.limits.max_payload_bytes, 1024 * 1024);
    assert_eq!(o.limits.max_pending_bytes, 64 * 1024 * 1024);
    assert_eq!(o.auth.token, Some(Secret("t0k3n".into())));
    assert_eq!(o.auth.timeout_ms, Some(1_500));
    assert_eq!((o.auth.user.as_ref(), o.auth.users.len()), (None, 0));
}

#[test]
fn users_server_with_permissions_queues_and_responses() {
    let (o, warnings) = apply_ok("users.conf", &mut TestEnv::default());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4333));
    let a = &o.auth;
    assert_eq!(a.no_auth_user.as_deref(), Some("guest"));
    assert_eq!(
        a.default_permissions,
        Some(PermissionsConfig {
            publish: Some(SubjectPermission {
                allow: allow(&["public.>"]),
                deny: None
            }),
            subscribe: Some(SubjectPermission {
                allow: allow(&["public.>", "_INBOX.>"]),
                deny: None
            }),
            allow_responses: None,
        })
    );
    let names: Vec<&str> = a.users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(names, ["admin", "service", "guest", "replier"]);
    assert!(a.users[0].password.0.starts_with("$2a$11$"));
    assert_eq!(a.users[1].password, Secret("s3rv!ce".into()));
    assert_eq!(a.users[2].password, Secret("guest".into()));
    assert_eq!(a.users[2].permissions, None);
    let service = a.users[1].permissions.as_ref().unwrap();
    assert_eq!(
        service.publish,
        Some(SubjectPermission {
            allow: allow(&["svc.>", "_INBOX.>"]),
            deny: allow(&["svc.admin.>"]),
        })
    );
    assert_eq!(
        service.subscribe.as_ref().unwrap().allow,
        allow(&["svc.requests.*", "svc.work workers", "svc.work.> workers"])
    );
    assert_eq!(
        service.allow_responses,
        Some(ResponsePermission {
            max_msgs: 5,
            expires_ms: 30_000
        })
    );
    // allow_responses alone: the default response permission, and no other publishing.
    let replier = a.users[3].permissions.as_ref().unwrap();
    assert_eq!(replier.allow_responses, Some(ResponsePermission::default()));
    assert_eq!(replier.publish.as_ref().unwrap().allow, Some(vec![]));
}

#[test]
fn nkeys_server() {
    let (o, _) = apply_ok("nkeys.conf", &mut TestEnv::default());
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4333));
    let keys: Vec<&str> = o.auth.nkeys.iter().map(|n| n.nkey.as_str()).collect();
    assert_eq!(
        keys,
        [
            "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4",
            "UA3C5TBZYK5GJQJRWPMU6NFY5JNAEVQB2V2TUZFZDHFJFUYVKTTUOFKZ"
        ]
    );
    assert_eq!(o.auth.nkeys[0].permissions, None);
    let sub = o.auth.nkeys[1]
        .permissions
        .as_ref()
        .unwrap()
        .subscribe
        .as_ref();
    assert_eq!(sub.unwrap().deny, allow(&["secret.>"]));
    assert_eq!(o.auth.timeout_ms, Some(3_000));
}

#[test]
fn tls_server() {
    let mut env = TestEnv::with_vars(&[("APP_PASS", "pw")]);
    let (o, _) = apply_ok("tls.conf", &mut env);
    let tls = o.tls.clone().unwrap();
    assert_eq!(
        tls.cert_file,
        PathBuf::from("/etc/natrix/certs/server-cert.pem")
    );
    assert_eq!(
        tls.key_file,
        PathBuf::from("/etc/natrix/certs/server-key.pem")
    );
    assert_eq!(tls.ca_file, Some(PathBuf::from("/etc/natrix/certs/ca.pem")));
    assert!(tls.verify && tls.handshake_first);
    assert_eq!(tls.timeout_ms, 5_000);
    assert_eq!(o.auth.user.as_deref(), Some("app"));
    assert_eq!(o.auth.password, Some(Secret("pw".into())));
    // Without an authorization timeout, TLS lengthens the auth timeout by a second.
    assert_eq!(o.auth_timeout(), Duration::from_secs(6));
}

#[test]
fn monitoring_limits_and_lame_duck_server() {
    let (o, warnings) = apply_ok("monitoring.conf", &mut TestEnv::default());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(o.port, 4333);
    assert_eq!(o.monitor.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        (o.monitor.http_port, o.monitor.https_port),
        (Some(8222), None)
    );
    assert_eq!(o.server_name.as_deref(), Some("natrix-mon-1"));
    let l = &o.limits;
    assert_eq!(l.max_payload_bytes, 64 * 1024);
    assert_eq!(l.max_pending_bytes, 1024 * 1024);
    assert_eq!(l.max_control_line_bytes, 2048);
    assert_eq!(l.max_connections, 0);
    assert_eq!(l.max_subscriptions, 100);
    assert_eq!(
        (l.ping_interval_ms, l.first_ping_ms, l.ping_max),
        (30_000, 2_000, 3)
    );
    assert_eq!(l.write_deadline_ms, 2_000);
    assert_eq!(o.lame_duck_duration_ms, 120_000);
    assert_eq!(o.lame_duck_grace_period_ms, 10_000);
    assert!(o.debug && !o.trace);
    assert!(!o.logging.time);
    assert_eq!(o.logging.file, Some(PathBuf::from("/var/log/natrix.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/var/run/natrix.pid")));
}

#[test]
fn the_existing_full_config_applies() {
    let mut env = TestEnv::with_vars(&[("NATRIX_ADMIN_PASS", "s3cr3t")]);
    let map = parse_fixture("full.conf", &mut env);
    let mut o = Options::default();
    match apply_file(&mut o, &map) {
        Ok(_) => {
            assert_eq!(o.server_name.as_deref(), Some("natrix-east-1"));
            assert_eq!(o.limits.max_connections, 64_000);
            assert_eq!(o.auth.timeout_ms, Some(2_500));
        }
        // full.conf may use keys natrix refuses; they must then be named with a position.
        Err(e) => assert!(e.to_string().contains("full.conf:"), "{e}"),
    }
}

#[test]
fn unsupported_features_warn_at_their_key() {
    let (o, warnings) = apply_ok("unsupported.conf", &mut TestEnv::default());
    assert_eq!(o.port, 4333);
    // The jetstream block of this fixture is read now (it was a warning before JetStream).
    let js = o.jetstream.as_ref().expect("jetstream block");
    assert_eq!(js.max_memory_bytes, 1 << 30);
    assert_eq!(
        o.store_dir.as_deref(),
        Some(std::path::Path::new("/data/jetstream"))
    );
    let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    let file = fixture("real/unsupported.conf");
    let expect = |line: u32, key: &str| {
        format!(
            "{}:{line}:1: {key:?} is not supported by natrix yet and is ignored",
            file.display()
        )
    };
    assert_eq!(shown, [expect(7, "cluster"), expect(12, "mqtt")]);
}

#[test]
fn unknown_keys_are_errors_at_their_position_like_nats_server() {
    let map = parse_fixture("real/bad/unknown_keys.conf", &mut TestEnv::default());
    let err = apply_file(&mut Options::default(), &map).unwrap_err();
    let file = fixture("real/bad/unknown_keys.conf");
    let f = file.display();
    assert_eq!(
        err.to_string(),
        format!(
            "{f}:3:1: unknown field \"bogus\"\n{f}:4:3: unknown field \"max_payloads\"\n\
             {f}:8:3: unknown field \"colour\""
        )
    );
}

#[test]
fn wrong_types_conflicts_and_unsafe_keys_are_all_reported() {
    let map = parse_fixture("real/bad/types.conf", &mut TestEnv::default());
    let err = apply_file(&mut Options::default(), &map).unwrap_err();
    let f = fixture("real/bad/types.conf");
    let lines: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    let at = |pos: &str, msg: &str| format!("{}:{pos}: {msg}", f.display());
    assert_eq!(
        lines,
        [
            at("1:1", "error parsing port: expected an integer, got string"),
            at(
                "2:1",
                "error parsing max_payload: expected a size (an integer or a string like \
                 \"64KB\"), got boolean"
            ),
            at(
                "3:1",
                "error parsing ping_interval: invalid duration '2x': unknown unit (use ns, us, ms, s, \
                 m or h)"
            ),
            at("4:1", "invalid lame_duck_duration of 10s, minimum is 30 seconds"),
            at("5:1", "Can not have a token and a users array"),
            at(
                "9:1",
                "\"operator\" is not supported by natrix yet; remove it (natrix would \
                 otherwise run with less protection or different routing than nats-server)"
            ),
            at(
                "10:42",
                "\"min_version\" is not supported by natrix yet; remove it (natrix would \
                 otherwise run with less protection or different routing than nats-server)"
            ),
            at(
                "10:62",
                "\"verify_and_map\" is not supported by natrix yet; remove it (natrix would \
                 otherwise run with less protection or different routing than nats-server)"
            ),
        ]
    );
}

#[test]
fn keys_match_case_insensitively_with_aliases() {
    let (o, _) = apply_text(
        "PORT: 4444\nMax_Payload: 2KB\nNET: 10.0.0.1\nmax_conn: 7\nMONITOR_PORT: 8000\n\
         Authorization { USERNAME: u, PASS: p }",
    )
    .unwrap();
    assert_eq!((o.port, o.host.as_str()), (4444, "10.0.0.1"));
    assert_eq!(o.limits.max_payload_bytes, 2048);
    assert_eq!(o.limits.max_connections, 7);
    assert_eq!(o.monitor.http_port, Some(8000));
    assert_eq!(o.auth.user.as_deref(), Some("u"));
}

#[test]
fn integer_durations_are_seconds_with_nats_servers_warning() {
    let (o, warnings) = apply_text("ping_interval: 30\nwrite_deadline: 5").unwrap();
    assert_eq!(o.limits.ping_interval_ms, 30_000);
    assert_eq!(o.limits.write_deadline_ms, 5_000);
    assert_eq!(
        warnings[0].to_string(),
        "test.conf:1:1: invalid use of field \"ping_interval\": ping_interval should be \
         converted to a duration"
    );
    assert_eq!(warnings.len(), 2);
}

#[test]
fn ports_follow_nats_server() {
    let port = |text: &str| apply_text(text).unwrap().0.port;
    assert_eq!(port("port: 0"), 4222);
    assert_eq!(port("port: -1"), 0);
    assert_eq!(port("listen: 5000"), 5000);
    let (o, _) = apply_text("listen: \"[::1]:-1\"\nhttps: 8443").unwrap();
    assert_eq!((o.host.as_str(), o.port), ("::1", 0));
    assert_eq!((o.monitor.https_port, o.monitor.host), (Some(8443), None));
    assert_eq!(
        errors_of("listen: \"nohost\""),
        ["test.conf:1:1: error parsing listen: could not parse address string \"nohost\""]
    );
    assert_eq!(
        errors_of("port: 70000"),
        ["test.conf:1:1: error parsing port: invalid port 70000"]
    );
}

#[test]
fn cross_field_checks_run_after_the_file() {
    assert_eq!(
        errors_of("max_payload: 2MB\nmax_pending: 1MB"),
        ["test.conf: max_payload (2097152) cannot be higher than max_pending (1048576)"]
    );
    assert_eq!(
        errors_of("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\""),
        [
            "test.conf: lame duck grace period (40s) should be strictly lower than lame duck \
             duration (30s)"
        ]
    );
    assert_eq!(
        errors_of("no_auth_user: bob\nauthorization { users: [ {user: al, password: x} ] }"),
        [
            "test.conf: no_auth_user: \"bob\" not present as user or nkey in authorization \
             block or account configuration"
        ]
    );
    assert_eq!(
        errors_of("http_port: 8222\nhttps_port: 8443"),
        ["test.conf: can't specify both HTTP (8222) and HTTPs (8443) ports"]
    );
    assert_eq!(
        errors_of("server_name: \"a b\""),
        ["test.conf:1:1: error parsing server_name: server name cannot contain spaces"]
    );
}

#[test]
fn auth_mistakes_are_named_like_nats_server() {
    let e = |text: &str| errors_of(text).join("\n");
    assert_eq!(
        e("authorization { user: a, token: t }"),
        "test.conf:1:1: Cannot have a user/pass and token"
    );
    assert_eq!(
        e("authorization { user: a, users: [] }"),
        "test.conf:1:1: Can not have a single user/pass and a users array"
    );
    assert_eq!(
        e("authorization { users: [ {password: x} ] }"),
        "test.conf:1:26: User entry requires a user"
    );
    assert_eq!(
        e("authorization { users: [ {nkey: UBAD} ] }"),
        "test.conf:1:26: Not a valid public nkey for a user"
    );
    assert_eq!(
        e("authorization { users: [ {user: a}, {user: a} ] }"),
        "test.conf:1:1: Duplicate user \"a\" detected"
    );
    assert_eq!(
        e("authorization { users: [ {user: a, permissions: { publish: \"a..b\" }} ] }"),
        "test.conf:1:51: subject \"a..b\" is not a valid subject"
    );
    assert_eq!(
        e("authorization { permissions: { subscribe: [\"q x y\"] } }"),
        "test.conf:1:44: subject \"q x y\" is not a valid subject"
    );
    assert_eq!(
        e("authorization { permissions: { publish: { allow: \"a\", other: \"b\" } } }"),
        "test.conf:1:55: Unknown field name \"other\" parsing subject permissions, only \
         'allow' or 'deny' are permitted"
    );
    assert_eq!(
        e("authorization { permissions: { pub: \"a\", foo: 1 } }"),
        "test.conf:1:42: Unknown field \"foo\" parsing permissions"
    );
    assert_eq!(
        e("tls { cert_file: c, key_file: k, bogus: 1 }"),
        "test.conf:1:34: error parsing tls config, unknown field \"bogus\""
    );
    assert_eq!(
        e("tls { cert_file: c }"),
        "test.conf:1:1: TLS Server private key must be present and valid"
    );
    assert_eq!(
        e("authorization { auth_callout { issuer: x } }"),
        "test.conf:1:17: \"auth_callout\" is not supported by natrix yet; remove it (natrix \
         would otherwise run with less protection or different routing than nats-server)"
    );
}

#[test]
fn keys_used_as_variables_are_not_unknown() {
    let (o, _) = apply_text("PORT_NUMBER: 4999\nport: $PORT_NUMBER").unwrap();
    assert_eq!(o.port, 4999);
}

/// The fixtures nats-server must accept as they are (tls.conf names certificate files that
/// do not exist here, so nats-server cannot load it).
#[test]
fn nats_server_accepts_the_same_fixtures() {
    let server = std::env::var_os("NATRIX_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/main/.venv/bin/nats-server"));
    if !server.exists() {
        eprintln!("skipped: no nats-server at {}", server.display());
        return;
    }
    for name in [
        "token.conf",
        "users.conf",
        "nkeys.conf",
        "monitoring.conf",
        "unsupported.conf",
    ] {
        let out = std::process::Command::new(&server)
            .arg("-t")
            .arg("-c")
            .arg(fixture(&real(name)))
            .env("NATRIX_TOKEN", "t")
            .output()
            .expect("run nats-server");
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("is valid"),
            "{name}: {text}"
        );
    }
    let out = std::process::Command::new(&server)
        .arg("-t")
        .arg("-c")
        .arg(fixture("real/bad/unknown_keys.conf"))
        .output()
        .expect("run nats-server");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for expected in [
        ":3:1: unknown field \"bogus\"",
        ":8:3: unknown field \"colour\"",
    ] {
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn the_streaming_block_reads_nats_streaming_server_keys() {
    let (o, warnings) = apply_text(
        "streaming {\n  id: ticketing\n  store: file\n  dir: \"/data/stan\"\n  hb_interval: \"5s\"\n  \
         hb_fail_count: 3\n  store_limits {\n    max_channels: 7\n    max_msgs: 100\n    \
         max_bytes: 1MB\n    max_age: \"1h\"\n    channels {\n      \"orders.*\": { max_msgs: 10, \
         max_age: \"1m\" }\n      big: { max_msgs: -1 }\n    }\n  }\n}\n",
    )
    .expect("a valid streaming block");
    assert!(warnings.is_empty(), "{warnings:?}");
    let s = o.streaming.expect("streaming on");
    assert_eq!(s.cluster_id, "ticketing");
    assert!(s.file_store);
    assert_eq!(s.dir.as_deref(), Some(std::path::Path::new("/data/stan")));
    assert_eq!((s.hb_interval_ms, s.hb_fail_count), (5000, 3));
    assert_eq!(
        (s.channels_max, s.msgs_max, s.bytes_max, s.age_max_ms),
        (Some(7), Some(100), Some(1024 * 1024), Some(3_600_000))
    );
    assert_eq!(s.per_channel.len(), 2);
    assert_eq!(s.per_channel[0].0, "orders.*");
    assert_eq!(
        (s.per_channel[0].1.msgs_max, s.per_channel[0].1.age_max_ms),
        (10, 60_000)
    );
    assert_eq!(
        (s.per_channel[1].0.as_str(), s.per_channel[1].1.msgs_max),
        ("big", -1)
    );
    assert!(apply_text("streaming { store: sql }").is_err());
    assert!(apply_text("streaming { cluster { node_id: a } }").is_err());
}

#[test]
fn the_streaming_file_block_sets_the_sync_on_flush_as_nats_streaming_server_does() {
    let sync = |text: &str| {
        apply_text(text)
            .expect("valid")
            .0
            .streaming
            .expect("streaming on")
            .file_sync
    };
    assert!(sync("streaming { store: file }"), "on by default");
    assert!(!sync(
        "streaming { store: file, file: { sync_on_flush: false } }"
    ));
    assert!(!sync(
        "streaming { file_options { sync: off, buffer_size: 1024 } }"
    ));
    assert!(sync("streaming { file_options { do_sync: true } }"));
    // parseFileOptions' checkType, with the key as written.
    let errs = errors_of("streaming {\n  file {\n    Sync_On_Flush: \"false\"\n  }\n}\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].ends_with(
            ":3:5: parameter \"Sync_On_Flush\" value is expected to be bool, got string"
        ),
        "{errs:?}"
    );
    let errs = errors_of("streaming { file { sync: 1 } }");
    assert!(
        errs[0].ends_with("parameter \"sync\" value is expected to be bool, got int64"),
        "{errs:?}"
    );
}
